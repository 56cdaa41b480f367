/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/io_loop.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/*
 * A signal landing in io_uring_enter only means "try again": nothing queued
 * was lost, so hide EINTR from the callers.
 */
static int submit_retry(struct io_loop *loop)
{
    int ret;

    do {
        ret = io_uring_submit(&loop->ring);
    } while (ret == -EINTR);
    return ret;
}

static struct io_uring_sqe *get_sqe_raw(struct io_loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

    if (!sqe) {
        /*
         * The SQ ring is full of SQEs prepared but not yet handed to the
         * kernel; handing them over frees the slots.  With IORING_FEAT_NODROP
         * (every kernel we support) the kernel accepts them even when the CQ
         * ring is momentarily full, so this does not depend on reaping.
         */
        if (submit_retry(loop) < 0)
            return NULL;
        sqe = io_uring_get_sqe(&loop->ring);
    }
    return sqe;
}

/* Not counted in pending: it is always there, and "pending == 0" must mean idle. */
static void arm_post(struct io_loop *loop)
{
    struct io_uring_sqe *sqe = get_sqe_raw(loop);

    if (!sqe)
        return; /* retried at the next io_loop_run_once */
    io_uring_prep_read(sqe, loop->post_fd, &loop->post_buf, sizeof(loop->post_buf), 0);
    io_uring_sqe_set_data(sqe, &loop->post_op);
    loop->post_armed = true;
}

/* Not counted in pending either: the requests behind it are, through io_loop_hold. */
static void arm_source(struct io_loop *loop, struct io_loop_source *src)
{
    struct io_uring_sqe *sqe = get_sqe_raw(loop);

    if (!sqe)
        return; /* retried at the next io_loop_run_once */
    io_uring_prep_read(sqe, src->fd, &src->buf, sizeof(src->buf), 0);
    io_uring_sqe_set_data(sqe, &src->op);
    src->armed = true;
}

static void source_signalled(struct io_loop_op *op, int res)
{
    struct io_loop_source *src =
        (struct io_loop_source *)((char *)op - offsetof(struct io_loop_source, op));

    src->armed = false;
    (void)res; /* an error only means "look anyway"; the read is re-armed by run_once */
    src->poll(src);
}

void io_loop_add_source(struct io_loop *loop, struct io_loop_source *src)
{
    src->op.cb = source_signalled;
    src->armed = false;
    src->next = loop->sources;
    loop->sources = src;
    arm_source(loop, src);
}

void io_loop_clock_refresh(struct io_loop *loop)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->clock_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned io_loop_poll_sources(struct io_loop *loop)
{
    unsigned n = 0;

    /* Sources complete requests here, from their own rings: no CQE reads the clock for them. */
    io_loop_clock_refresh(loop);

    for (struct io_loop_source *src = loop->sources; src; src = src->next)
        n += src->poll(src);
    return n;
}

static void tick_done(struct io_loop_op *op, int res)
{
    struct io_loop *loop = (struct io_loop *)((char *)op - offsetof(struct io_loop, tick_op));

    (void)res; /* -ETIME: the tick itself */
    loop->tick_armed = false;
    io_loop_poll_sources(loop);
}

/* Not counted in pending: parking must not wait a tick for it. */
static void arm_tick(struct io_loop *loop)
{
    struct io_uring_sqe *sqe = get_sqe_raw(loop);

    if (!sqe)
        return;
    loop->tick_ts.tv_sec = IO_LOOP_TICK_NS / 1000000000ll;
    loop->tick_ts.tv_nsec = IO_LOOP_TICK_NS % 1000000000ll;
    io_uring_prep_timeout(sqe, &loop->tick_ts, 0, 0);
    io_uring_sqe_set_data(sqe, &loop->tick_op);
    loop->tick_op.cb = tick_done;
    loop->tick_armed = true;
}

static void arm_sources(struct io_loop *loop)
{
    if (loop->sources && !loop->tick_armed && loop->pending > loop->expected)
        arm_tick(loop);
    for (struct io_loop_source *src = loop->sources; src; src = src->next) {
        if (!src->armed)
            arm_source(loop, src);
    }
}

int io_loop_init(struct io_loop *loop, unsigned entries)
{
    int ret;

    if (entries < 8 || (entries & (entries - 1)) != 0)
        return -EINVAL;
    memset(loop, 0, sizeof(*loop));
    /* Blocking, so that io_uring waits for a write rather than failing the read with EAGAIN. */
    loop->post_fd = eventfd(0, EFD_CLOEXEC);
    if (loop->post_fd < 0)
        return -errno;
    ret = io_uring_queue_init(entries, &loop->ring, 0);
    if (ret < 0) {
        close(loop->post_fd);
        return ret;
    }
    pthread_mutex_init(&loop->post_lock, NULL);
    arm_post(loop);
    io_loop_clock_refresh(loop);
    return 0;
}

void io_loop_fini(struct io_loop *loop)
{
    /* Tearing the ring down cancels the read on post_fd; it copies nothing after that. */
    io_uring_queue_exit(&loop->ring);
    close(loop->post_fd);
    pthread_mutex_destroy(&loop->post_lock);
    loop->pending = 0;
    loop->expected = 0;
}

struct io_uring_sqe *io_loop_get_sqe(struct io_loop *loop, struct io_loop_op *op)
{
    struct io_uring_sqe *sqe = get_sqe_raw(loop);

    if (!sqe)
        return NULL;
    /* Callers use io_uring_prep_*(), which leave user_data alone. */
    io_uring_sqe_set_data(sqe, op);
    loop->pending++;
    return sqe;
}

void io_loop_expect_post(struct io_loop *loop)
{
    loop->expected++;
    loop->pending++;
}

void io_loop_post(struct io_loop *loop, struct io_loop_op *op, int res)
{
    const uint64_t one = 1;
    ssize_t n;

    op->post_res = res;
    op->post_next = NULL;
    pthread_mutex_lock(&loop->post_lock);
    if (loop->post_tail)
        loop->post_tail->post_next = op;
    else
        loop->post_head = op;
    loop->post_tail = op;
    pthread_mutex_unlock(&loop->post_lock);
    /*
     * Written after the op is on the list: the loop looks at the list only
     * once its read has seen a write, so it cannot miss this op.  The write
     * cannot fail short of the 2^64 - 2 counter limit.
     */
    do {
        n = write(loop->post_fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

/* The read on post_fd completed: run everything posted so far, in posting order. */
static int run_posted(struct io_loop *loop)
{
    struct io_loop_op *op;
    int ran = 0;

    pthread_mutex_lock(&loop->post_lock);
    op = loop->post_head;
    loop->post_head = NULL;
    loop->post_tail = NULL;
    pthread_mutex_unlock(&loop->post_lock);
    while (op) {
        /* The callback may reuse op at once (post it again, say): read it first. */
        struct io_loop_op *next = op->post_next;
        int res = op->post_res;

        op->post_next = NULL;
        if (loop->expected > 0) {
            loop->expected--;
            loop->pending--;
        }
        if (op->cb)
            op->cb(op, res);
        ran++;
        op = next;
    }
    return ran;
}

int io_loop_run_once(struct io_loop *loop, bool wait)
{
    struct io_uring_cqe *cqe;
    unsigned limit = loop->ring.cq.ring_entries;
    int ran = 0;
    int ret;

    if (!loop->post_armed)
        arm_post(loop);
    arm_sources(loop);
    /* Without the read, a post could not wake us: only a CQE may end the wait. */
    if (!loop->post_armed && loop->pending == loop->expected)
        wait = false;
    if (wait && loop->pending > 0) {
        struct timespec t0, t1;

        if (loop->measure_wait)
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        ret = io_uring_submit_and_wait(&loop->ring, 1);
        if (loop->measure_wait) {
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            loop->wait_cpu_ns = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 +
                                           (t1.tv_nsec - t0.tv_nsec));
            loop->measure_wait = false;
        }
    } else {
        ret = io_uring_submit(&loop->ring);
    }
    /*
     * EINTR: a signal; the caller gets control back to look at its flags.
     * EBUSY/EAGAIN: the kernel has a backlog of completions and wants them
     * reaped before it takes more submissions, which is what happens next.
     */
    /*
     * Anything else is unexpected.  Completions already in the CQ ring are
     * run anyway: a caller draining its I/O before it parks must see every
     * one it can, even while the kernel refuses submissions.
     */
    int err = ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN ? ret : 0;

    if (io_uring_cq_ready(&loop->ring))
        io_loop_clock_refresh(loop);

    /*
     * Bounded so that callbacks which keep producing instantly completing
     * work cannot keep the caller from its other duties forever.
     */
    while ((unsigned)ran < limit && io_uring_peek_cqe(&loop->ring, &cqe) == 0) {
        struct io_loop_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;

        /*
         * Consume the CQE before the callback runs: the callback may queue
         * new work, or even run the loop again, and must not see it twice.
         */
        io_uring_cqe_seen(&loop->ring, cqe);
        if (op == &loop->post_op) {
            /* Re-armed first, so that a post made by one of these callbacks wakes us too. */
            loop->post_armed = false;
            arm_post(loop);
            ran += run_posted(loop);
            continue;
        }
        if (op && (op->cb == source_signalled || op == &loop->tick_op)) {
            op->cb(op, res);
            ran++;
            continue;
        }
        if (!more && loop->pending > 0)
            loop->pending--;
        if (op && op->cb)
            op->cb(op, res);
        ran++;
    }
    return err ? err : ran;
}
