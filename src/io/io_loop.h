/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A per-thread event loop built on one io_uring.
 *
 * Every asynchronous operation of a worker (a kick eventfd becoming readable,
 * a backend read or write, a mailbox wakeup) is an SQE whose user_data points
 * at a struct io_loop_op embedded in the caller's own context; the loop calls
 * op->cb with the CQE result.  Nothing here allocates per operation.
 *
 * Work done by another thread (a helper thread blocked in a syscall, a
 * library's callback thread) completes through the same callbacks:
 * io_loop_post() queues the op with its result and wakes the loop, whose
 * thread then runs op->cb.  For this the loop keeps a read on its own eventfd
 * armed in the ring at all times; that read is not counted in pending.
 *
 * Threading: an io_loop belongs to the thread that created it.  All functions
 * except io_loop_post() must be called from that thread; every callback runs
 * on it.  io_loop_post() may be called from any thread, including the loop's
 * own (the callback then still runs later, from io_loop_run_once, never
 * inside io_loop_post).
 */
#ifndef VUS_IO_IO_LOOP_H
#define VUS_IO_IO_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct io_loop_op;
typedef void (*io_loop_cb)(struct io_loop_op *op, int res);

struct io_loop_op {
    io_loop_cb cb;
    /* Owned by the loop from io_loop_post() until cb runs: */
    struct io_loop_op *post_next;
    int post_res;
};

/*
 * A completion source of a backend that does not complete through io_uring
 * CQEs: an NVMe queue pair, whose device signals completions on an eventfd
 * (an MSI-X vector) and whose completion ring can also be polled.  The loop
 * keeps a read armed on fd (not counted in pending) and calls poll() after
 * every signal; a polling worker calls poll() through io_loop_poll_sources()
 * too.  The backend counts the requests it has outstanding through the
 * source with io_loop_hold()/io_loop_release(), so that "pending == 0" still
 * means "nothing in flight" and a waiting loop sleeps until the signal.
 */
#define IO_LOOP_TICK_NS 1000000000ll

struct io_loop_source {
    int fd; /* blocking eventfd, owned by the backend */
    /* Run completions; returns how many.  Loop thread. */
    unsigned (*poll)(struct io_loop_source *src);
    /* Owned by the loop: */
    struct io_loop_op op;
    uint64_t buf;
    bool armed;
    struct io_loop_source *next;
};

struct io_loop {
    struct io_uring ring;
    unsigned index; /* which worker owns the loop (0..n-1): backends keep per-worker state by it */
    struct io_loop_source *sources;
    /*
     * While requests are outstanding on sources, a timeout wakes the loop
     * every IO_LOOP_TICK_NS to poll them even without a signal: a device
     * that stopped signalling still gets its commands timed out.
     */
    struct io_loop_op tick_op;
    struct __kernel_timespec tick_ts;
    bool tick_armed;
    /*
     * SQEs submitted or queued whose CQE has not been seen, plus ops
     * announced with io_loop_expect_post() whose callback has not run.
     * Callers wait for it to reach 0 to know nothing is in flight.
     */
    unsigned pending;
    unsigned expected; /* the io_loop_expect_post() part of pending */
    int post_fd;       /* eventfd: io_loop_post() queued something */
    struct io_loop_op post_op;
    uint64_t post_buf;
    bool post_armed;           /* a read on post_fd is in the ring */
    pthread_mutex_t post_lock; /* guards the list below, the only state shared across threads */
    struct io_loop_op *post_head, *post_tail;
    /*
     * Set by the owner: the next io_loop_run_once() that waits measures the
     * CPU time the wait itself took (the syscall, going to sleep, waking
     * up) into wait_cpu_ns and clears the flag.  The adaptive poll window
     * weighs polling against this cost.
     */
    bool measure_wait;
    uint64_t wait_cpu_ns;
    /*
     * CLOCK_MONOTONIC as of the start of the loop's current batch (see
     * io_loop_clock_refresh).  Request latencies are taken from it rather
     * than from the clock: two clock reads per request were 8 % of the CPU
     * of a 4 KiB request in interrupt mode, for a figure that only goes
     * into power-of-two histogram buckets.
     */
    uint64_t clock_ns;
    /*
     * Requests taken by the queues the loop serves (the virtio-scsi layer
     * counts them): what the owner's poll judge divides its CPU by.
     */
    uint64_t requests;
};

/* entries: SQ size (power of two, >= 8).  Returns 0 or -errno. */
int io_loop_init(struct io_loop *loop, unsigned entries);
/* Nothing may be pending, and no other thread may still post to loop. */
void io_loop_fini(struct io_loop *loop);

/*
 * Get an SQE bound to op (user_data set, pending counted).  When the SQ is
 * full, queued SQEs are submitted first, so this only fails (NULL) if the
 * kernel refuses the submission.
 */
struct io_uring_sqe *io_loop_get_sqe(struct io_loop *loop, struct io_loop_op *op);

/*
 * Submit what is queued, wait for at least one completion if wait is true
 * (and something is pending), then run the callbacks of all available CQEs
 * and of posted ops.  Returns the number of callbacks run, or -errno when
 * the submission failed unexpectedly (the completions that were there
 * have run all the same; nothing queued was lost).
 */
int io_loop_run_once(struct io_loop *loop, bool wait);

/*
 * Loop thread: one op is about to be handed to another thread, which will
 * complete it with io_loop_post().  Counts it in pending from now until its
 * callback runs, so that io_loop_run_once(loop, true) sleeps until the post
 * arrives and "wait until pending is 0" covers it.  Every io_loop_post()
 * must be announced this way, and announced before it can happen.
 */
void io_loop_expect_post(struct io_loop *loop);

/*
 * Any thread: complete op with res on the loop's thread.  op must not be in
 * the ring or posted already; the loop owns it until op->cb(op, res) runs.
 * Takes a mutex and writes an eventfd; never blocks for long and never runs
 * a callback itself.
 */
void io_loop_post(struct io_loop *loop, struct io_loop_op *op, int res);

/*
 * Loop thread: start watching src (see struct io_loop_source).  It stays
 * until io_loop_fini, which must run before the backend closes src->fd.
 */
void io_loop_add_source(struct io_loop *loop, struct io_loop_source *src);
/* Loop thread: poll every source once.  Returns the completions run. */
unsigned io_loop_poll_sources(struct io_loop *loop);
/*
 * Loop thread: read the clock into loop->clock_ns.  Called where a batch
 * of work starts (completions reaped, requests taken from a ring, sources
 * polled), so that a time read from io_loop_clock() is at most one batch
 * old: latencies come out to within a batch's length, and work done inline
 * within one batch (a RAM LUN) takes 0.
 */
void io_loop_clock_refresh(struct io_loop *loop);
/* Loop thread: the time the current batch started, in ns (CLOCK_MONOTONIC). */
static inline uint64_t io_loop_clock(const struct io_loop *loop)
{
    return loop->clock_ns;
}
/* Loop thread: one more (one fewer) request is outstanding on a source. */
static inline void io_loop_hold(struct io_loop *loop)
{
    loop->pending++;
}
static inline void io_loop_release(struct io_loop *loop)
{
    if (loop->pending > 0)
        loop->pending--;
}

#endif
