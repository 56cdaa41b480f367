/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/worker.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define WORKER_RING_ENTRIES 256

static void arm_kick(struct worker_queue *wq)
{
    struct io_uring_sqe *sqe = io_loop_get_sqe(&wq->w->loop, &wq->kick_op);

    if (!sqe) {
        LOG_ERR("worker %u: cannot queue a kick read", wq->w->id);
        return;
    }
    io_uring_prep_read(sqe, wq->kick_fd, &wq->kick_buf, sizeof(wq->kick_buf), 0);
    wq->armed = true;
}

static void on_kick(struct io_loop_op *op, int res)
{
    struct worker_queue *wq =
        (struct worker_queue *)((char *)op - offsetof(struct worker_queue, kick_op));
    struct worker *w = wq->w;

    wq->armed = false;
    if (res == -ECANCELED)
        return;
    if (res < 0 && res != -EAGAIN && res != -EINTR) {
        LOG_ERR("worker %u: kick fd of queue %u failed: %s", w->id, wq->q->index, strerror(-res));
        return;
    }
    /*
     * A polling worker keeps kicks off until it goes to sleep (enable_kicks);
     * turning them on here would make the guest kick for every request.
     */
    if (w->poll.max_ns)
        vscsi_queue_poll(wq->q);
    else
        vscsi_queue_process(wq->q);
    /* A pause in progress cancels reads; do not start a new one behind its back. */
    if (wq->g->serving)
        arm_kick(wq);
}

static void arm_wake(struct worker *w)
{
    struct io_uring_sqe *sqe = io_loop_get_sqe(&w->loop, &w->wake_op);

    if (!sqe)
        return;
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_buf, sizeof(w->wake_buf), 0);
    w->wake_armed = true;
}

static void on_wake(struct io_loop_op *op, int res)
{
    struct worker *w = (struct worker *)((char *)op - offsetof(struct worker, wake_op));

    w->wake_armed = false;
    (void)res;
    if (atomic_exchange_explicit(&w->abort_check, false, memory_order_acq_rel))
        for (struct worker_group *g = w->groups; g; g = g->next) {
            if (!g->serving && !g->parking)
                continue;
            for (unsigned i = 0; i < g->nqueues; i++)
                vscsi_queue_abort_marked(g->queues[i].q);
        }
}

static void wake(struct worker *w)
{
    const uint64_t one = 1;

    /* EAGAIN: the counter is saturated, a wakeup is coming anyway. */
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        LOG_WARN("worker %u: wakeup failed: %s", w->id, strerror(errno));
}

bool worker_pool_grace(struct worker *pool, unsigned n, unsigned timeout_ms)
{
    uint64_t seen[64];
    bool ok = true;

    for (unsigned i = 0; i < n && i < 64; i++) {
        seen[i] = atomic_load_explicit(&pool[i].epoch, memory_order_acquire);
        wake(&pool[i]);
    }
    for (unsigned i = 0; i < n && i < 64; i++) {
        const struct timespec step = { .tv_sec = 0, .tv_nsec = 100 * 1000 };
        unsigned waited_us = 0;

        while (atomic_load_explicit(&pool[i].epoch, memory_order_acquire) == seen[i]) {
            if (waited_us / 1000 >= timeout_ms) {
                ok = false;
                break;
            }
            nanosleep(&step, NULL);
            waited_us += 100;
        }
    }
    return ok;
}

void worker_request_aborts(struct worker *w)
{
    atomic_store_explicit(&w->abort_check, true, memory_order_release);
    wake(w);
}

/* Used rings of the queues we touch (serving or draining) are published and signalled. */
static void flush_queues(struct worker *w)
{
    for (struct worker_group *g = w->groups; g; g = g->next) {
        if (!g->serving && !g->parking)
            continue;
        for (unsigned i = 0; i < g->nqueues; i++)
            vscsi_queue_flush(g->queues[i].q);
    }
}

static bool group_busy(const struct worker_group *g)
{
    for (unsigned i = 0; i < g->nqueues; i++)
        if (g->queues[i].armed || g->queues[i].q->inflight)
            return true;
    return false;
}

/* While parking: queue a cancellation for every kick read of g still outstanding. */
static void cancel_kick_reads(struct worker *w, struct worker_group *g)
{
    for (unsigned i = 0; i < g->nqueues; i++) {
        struct worker_queue *wq = &g->queues[i];
        if (!wq->armed || wq->cancel_queued)
            continue;
        struct io_uring_sqe *sqe = io_loop_get_sqe(&w->loop, NULL);
        if (!sqe)
            return; /* the kernel refuses submissions for now: retried next turn */
        io_uring_prep_cancel(sqe, &wq->kick_op, 0);
        /* The cancel's own completion needs no callback. */
        io_uring_sqe_set_data(sqe, NULL);
        wq->cancel_queued = true;
    }
}

/*
 * Stop taking requests from g; its started requests complete as the loop
 * runs.  The controller may unmap guest memory and free request slots as
 * soon as g is PAUSED, so nothing of g may still be owned by the kernel
 * then: an io_uring error only delays the drain.
 */
static void start_parking(struct worker *w, struct worker_group *g)
{
    /*
     * What the guest made available before the pause was asked for is
     * taken first (one budget at most, so the pause still wins): a kick
     * whose completion is still on its way would otherwise be cancelled,
     * leaving requests that were sent before the stop for after it.
     */
    for (unsigned i = 0; i < g->nqueues; i++)
        vscsi_queue_poll(g->queues[i].q);
    g->serving = false;
    g->parking = true;
    w->nparking++;
    for (unsigned i = 0; i < g->nqueues; i++) {
        g->queues[i].cancel_queued = false;
        vscsi_queue_set_accepting(g->queues[i].q, false);
    }
    cancel_kick_reads(w, g);
}

/* g resumes: serve what its list says now. */
static void start_serving(struct worker *w, struct worker_group *g)
{
    g->serving = true;
    for (unsigned i = 0; i < g->nqueues; i++) {
        struct worker_queue *wq = &g->queues[i];
        wq->w = w;
        wq->g = g;
        wq->kick_op.cb = on_kick;
        wq->armed = false;
        wq->q->loop = &w->loop;
        vscsi_queue_set_accepting(wq->q, true);
        arm_kick(wq);
        /* Requests that came while we were parked may have had their kick consumed. */
        vscsi_queue_process(wq->q);
    }
    /*
     * Requests that completed inline just now (RAM LUNs) are on the used
     * ring; signal them before the loop goes back to sleep, or a guest
     * waiting for them waits until some unrelated event wakes us.
     */
    for (unsigned i = 0; i < g->nqueues; i++)
        vscsi_queue_flush(g->queues[i].q);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A counter only this thread writes: no locked instruction needed. */
static void view_add(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void publish_poll(struct worker *w)
{
    atomic_store_explicit(&w->poll_view.max_ns, w->poll.max_ns, memory_order_relaxed);
    atomic_store_explicit(&w->poll_view.window_ns, w->poll.cur_ns, memory_order_relaxed);
    atomic_store_explicit(&w->poll_view.sleep_cost_ns, poll_window_sleep_ns(&w->poll),
                          memory_order_relaxed);
}

/*
 * How late this thread wakes from a short sleep (median of a few): the
 * latency a sleeping worker adds to the request that wakes it, which the
 * poll window counts in the cost of a sleep.  About 5 us on bare metal,
 * tens of microseconds under nested virtualisation.
 */
static uint64_t wake_latency_ns(void)
{
    enum { SAMPLES = 5, NAP_NS = 20000 };
    const struct timespec nap = { .tv_sec = 0, .tv_nsec = NAP_NS };
    uint64_t late[SAMPLES];

    for (unsigned i = 0; i < SAMPLES; i++) {
        uint64_t t0 = now_ns(), t;

        nanosleep(&nap, NULL);
        t = now_ns() - t0;
        late[i] = t > NAP_NS ? t - NAP_NS : 0;
        /* Insertion sort: five numbers. */
        for (unsigned j = i; j > 0 && late[j - 1] > late[j]; j--) {
            uint64_t x = late[j];

            late[j] = late[j - 1];
            late[j - 1] = x;
        }
    }
    return late[SAMPLES / 2];
}

/* Before sleeping: ask the guest to kick again, taking what came meanwhile. */
static void enable_kicks(struct worker *w)
{
    for (struct worker_group *g = w->groups; g; g = g->next) {
        if (!g->serving)
            continue;
        for (unsigned i = 0; i < g->nqueues; i++)
            vscsi_queue_process(g->queues[i].q);
    }
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A fresh judge, its first epoch starting now. */
static void judge_restart(struct worker *w)
{
    uint64_t off = w->judge.verdicts_off; /* the view counts over the worker's life */

    poll_judge_init(&w->judge);
    w->judge.verdicts_off = off;
    w->judge_from_ns = now_ns();
    w->judge_cpu_ns = thread_cpu_ns();
    w->judge_requests = w->loop.requests;
    atomic_store_explicit(&w->poll_view.judged_paying, w->poll.max_ns != 0, memory_order_relaxed);
}

/*
 * Once per turn: when the judge's epoch is over, tell it what the epoch did
 * (poll_judge.h).  The loop's clock, not a clock read: a turn that took
 * requests or completions refreshed it, and an epoch ends at most one batch
 * late.  Not in interrupt mode, where there is nothing to judge.
 */
static void judge_turn(struct worker *w)
{
    uint64_t now = io_loop_clock(&w->loop);

    /* Long enough, and with requests enough to tell the two modes' figures from noise. */
    if (!w->poll.max_ns || now < w->judge_from_ns || now - w->judge_from_ns < POLL_JUDGE_EPOCH_NS ||
        w->loop.requests - w->judge_requests < POLL_JUDGE_MIN_REQUESTS)
        return;
    uint64_t cpu = thread_cpu_ns();
    const struct poll_judge_epoch e = { .wall_ns = now - w->judge_from_ns,
                                        .cpu_ns = cpu - w->judge_cpu_ns,
                                        .requests = w->loop.requests - w->judge_requests };

    poll_judge_epoch_end(&w->judge, &e);
    w->judge_from_ns = now;
    w->judge_cpu_ns = cpu;
    w->judge_requests = w->loop.requests;
    atomic_store_explicit(&w->poll_view.judged_paying, w->judge.allowed, memory_order_relaxed);
    atomic_store_explicit(&w->poll_view.judged_off, w->judge.verdicts_off, memory_order_relaxed);
}

#define POLL_MAX_NONE UINT64_MAX

/* A maximum asked for by worker_set_poll_max (it raises group_requests to get here). */
static void apply_poll_max(struct worker *w)
{
    uint64_t max = atomic_exchange_explicit(&w->poll_max_req, POLL_MAX_NONE, memory_order_relaxed);

    if (max == POLL_MAX_NONE)
        return;
    /* Started in interrupt mode: what a sleep costs here was never measured. */
    if (max && !w->wake_measured) {
        poll_window_wake_latency(&w->poll, wake_latency_ns());
        w->wake_measured = true;
    }
    /*
     * A polling worker leaves kicks off while it finds work: in interrupt
     * mode nothing would turn them back on, and the next request would
     * wait for a kick the guest was told not to send.
     */
    if (max == 0 && w->poll.max_ns) {
        enable_kicks(w);
        flush_queues(w);
    }
    poll_window_set_max(&w->poll, max);
    judge_restart(w);
    publish_poll(w);
}

/*
 * Apply what the control threads asked of our groups, and finish the pauses
 * whose drain is over.  Returns false when the worker must exit.
 */
static bool handle_groups(struct worker *w)
{
    bool asked = atomic_exchange_explicit(&w->group_requests, false, memory_order_acq_rel);
    bool changed = false, exiting;

    if (asked)
        apply_poll_max(w);

    if (w->nparking) {
        for (struct worker_group *g = w->groups; g; g = g->next)
            if (g->parking)
                cancel_kick_reads(w, g);
        flush_queues(w);
    }
    if (!asked && w->nparking == 0)
        return true;
    pthread_mutex_lock(&w->lock);
    while (w->attaching) {
        struct worker_group *g = w->attaching;

        w->attaching = g->pending_next;
        g->next = w->groups;
        w->groups = g;
        g->serving = g->parking = false;
        g->state = GROUP_PAUSED;
        changed = true;
    }
    for (struct worker_group **pp = &w->groups; *pp;) {
        struct worker_group *g = *pp;

        switch (g->state) {
        case GROUP_PAUSE_REQUESTED:
            if (!g->parking)
                start_parking(w, g);
            if (!group_busy(g)) {
                g->parking = false;
                w->nparking--;
                g->state = GROUP_PAUSED;
                changed = true;
            }
            break;
        case GROUP_RESUME_REQUESTED:
            start_serving(w, g);
            g->state = GROUP_RUNNING;
            changed = true;
            break;
        case GROUP_DETACH_REQUESTED:
            *pp = g->next;
            g->next = NULL;
            g->state = GROUP_DETACHED;
            changed = true;
            continue;
        default:
            break;
        }
        pp = &g->next;
    }
    exiting = w->exit;
    if (changed)
        pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return !exiting;
}

/* Control thread: move g to want, through the worker, and wait until it got there. */
static void group_request(struct worker_group *g, enum worker_group_state req,
                          enum worker_group_state want)
{
    struct worker *w = g->w;

    g->state = req;
    atomic_store_explicit(&w->group_requests, true, memory_order_release);
    wake(w);
    while (g->state != want)
        pthread_cond_wait(&w->cond, &w->lock);
}

void worker_group_attach(struct worker *w, struct worker_group *g)
{
    pthread_mutex_lock(&w->lock);
    g->w = w;
    g->pending_next = w->attaching;
    w->attaching = g;
    group_request(g, GROUP_ATTACH_REQUESTED, GROUP_PAUSED);
    pthread_mutex_unlock(&w->lock);
}

void worker_group_detach(struct worker_group *g)
{
    struct worker *w = g->w;

    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    if (g->state != GROUP_PAUSED && g->state != GROUP_DETACHED) {
        pthread_mutex_unlock(&w->lock);
        worker_group_pause(g);
        pthread_mutex_lock(&w->lock);
    }
    if (g->state == GROUP_PAUSED)
        group_request(g, GROUP_DETACH_REQUESTED, GROUP_DETACHED);
    pthread_mutex_unlock(&w->lock);
    g->w = NULL;
}

void worker_group_pause(struct worker_group *g)
{
    struct worker *w = g->w;

    if (!w)
        return; /* detached */
    pthread_mutex_lock(&w->lock);
    if (g->state == GROUP_RUNNING)
        group_request(g, GROUP_PAUSE_REQUESTED, GROUP_PAUSED);
    pthread_mutex_unlock(&w->lock);
}

void worker_group_resume(struct worker_group *g)
{
    struct worker *w = g->w;

    if (!w)
        return; /* detached */
    pthread_mutex_lock(&w->lock);
    if (g->state == GROUP_PAUSED)
        group_request(g, GROUP_RESUME_REQUESTED, GROUP_RUNNING);
    pthread_mutex_unlock(&w->lock);
}

/*
 * Queues that stopped at their budget (VSCSI_TAKE_BUDGET) with requests
 * maybe left: take the next share.  Returns whether there were any; the
 * loop then does not sleep.
 */
static bool take_leftovers(struct worker *w)
{
    bool any = false;

    for (struct worker_group *g = w->groups; g; g = g->next) {
        if (!g->serving)
            continue;
        for (unsigned i = 0; i < g->nqueues; i++) {
            struct vscsi_queue *q = g->queues[i].q;
            if (!q->more)
                continue;
            any = true;
            if (w->poll.max_ns) {
                if (!vscsi_queue_poll(q))
                    q->more = false;
            } else
                vscsi_queue_process(q);
        }
    }
    return any;
}

static bool any_leftovers(struct worker *w)
{
    for (struct worker_group *g = w->groups; g; g = g->next) {
        if (!g->serving)
            continue;
        for (unsigned i = 0; i < g->nqueues; i++)
            if (g->queues[i].q->more)
                return true;
    }
    return false;
}

static bool serving_any(const struct worker *w)
{
    for (const struct worker_group *g = w->groups; g; g = g->next)
        if (g->serving && g->nqueues)
            return true;
    return false;
}

/* What a spinning CPU does between looks: let a hyperthread sibling run, save power. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Something for the loop to do: requests taken, completions or submissions waiting. */
static bool look_for_work(struct worker *w)
{
    bool found = false;

    if (io_uring_cq_ready(&w->loop.ring) || io_uring_sq_ready(&w->loop.ring))
        return true;
    /* Backends with their own completion rings (NVMe) complete requests right here. */
    if (w->loop.sources && io_loop_poll_sources(&w->loop))
        return true;
    for (struct worker_group *g = w->groups; g; g = g->next) {
        if (!g->serving)
            continue;
        for (unsigned i = 0; i < g->nqueues; i++)
            found |= vscsi_queue_poll(g->queues[i].q);
    }
    return found;
}

/* One sleep in this many has its CPU cost measured (two more syscalls). */
#define POLL_MEASURE_EVERY 8u
/*
 * Between two looks of a polling worker at the rings.  Every look reads the
 * avail index the guest writes; looking back to back keeps that cache line
 * bouncing between the two CPUs while the guest writes it.  A request
 * found up to a microsecond later costs nothing measurable here.
 */
#define POLL_LOOK_EVERY_NS 1000u
/* Between two sched_yield() calls of a polling worker. */
#define POLL_YIELD_EVERY_NS 1000u

/*
 * Spin on the rings and the io_uring for up to the poll window, and tell the
 * window what came of it.  Returns true when there is something for the loop
 * to do; false when the window ran out (or is 0), with *polled_ns the time
 * spent.  Every POLL_YIELD_EVERY_NS the CPU goes to any thread that wants it
 * (the guest's vCPU, a frontend on the same CPU, say): polling must not
 * delay the very work it waits for.  Not at every turn of the spin (tens of
 * nanoseconds): a syscall each time would be most of the spinning.
 */
static bool poll_for_work(struct worker *w, uint64_t *polled_ns)
{
    uint64_t start, now, yielded, looked;

    *polled_ns = 0;
    if (w->poll.cur_ns == 0 || !poll_judge_polling(&w->judge) || !serving_any(w))
        return false;
    /* Work at the first look is no idle gap: the window learns nothing from it. */
    if (look_for_work(w))
        return true;
    start = yielded = looked = now_ns();
    for (;;) {
        /* Between looks only the clock is read: no cache line the guest writes. */
        do {
            cpu_relax();
            now = now_ns();
        } while (now - looked < POLL_LOOK_EVERY_NS);
        looked = now;
        bool found = look_for_work(w);

        now = now_ns();
        if (found) {
            poll_window_caught(&w->poll, now - start);
            view_add(&w->poll_view.caught);
            publish_poll(w);
            return true;
        }
        if (now - start >= w->poll.cur_ns) {
            *polled_ns = now - start;
            return false;
        }
        if (now - yielded >= POLL_YIELD_EVERY_NS) {
            sched_yield();
            yielded = now;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    if (w->poll.max_ns) {
        poll_window_wake_latency(&w->poll, wake_latency_ns());
        w->wake_measured = true;
    }
    publish_poll(w);
    judge_restart(w);
    for (;;) {
        uint64_t polled_ns = 0, slept_from = 0;
        bool work;

        /* Nothing looked up in the previous turn is still being looked at. */
        atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
        if (!w->wake_armed)
            arm_wake(w);
        work = take_leftovers(w);
        if (!work)
            work = poll_for_work(w, &polled_ns);
        if (!work && w->poll.max_ns) {
            enable_kicks(w);
            flush_queues(w);
            work = any_leftovers(w);
            if (!work)
                slept_from = now_ns();
        }
        /* A group asked for in the meantime must not wait for unrelated work. */
        if (atomic_load_explicit(&w->group_requests, memory_order_acquire))
            work = true;
        /* Now and then, what the wait costs this CPU: the poll window weighs polling by it. */
        bool measure = false;
        if (slept_from) {
            view_add(&w->poll_view.sleeps);
            measure = atomic_load_explicit(&w->poll_view.sleeps, memory_order_relaxed) %
                          POLL_MEASURE_EVERY ==
                      0;
        }
        w->loop.measure_wait = measure;
        /* io_loop_run_once reports errors as its return value, not in errno. */
        int ret = io_loop_run_once(&w->loop, !work);
        if (measure && !w->loop.measure_wait)
            poll_window_sleep_cost(&w->poll, w->loop.wait_cpu_ns);
        w->loop.measure_wait = false;
        if (ret < 0 && ret != -EINTR) {
            LOG_RATELIMITED(LOG_LEVEL_WARN, "worker %u: io_uring wait failed: %s", w->id,
                            strerror(-ret));
            /* Draining groups retry; without a pause the error would be spun on. */
            if (w->nparking) {
                const struct timespec backoff = { .tv_sec = 0, .tv_nsec = 1000 * 1000 };

                nanosleep(&backoff, NULL);
            }
        }
        if (slept_from) {
            poll_window_after_sleep(&w->poll, polled_ns, now_ns() - slept_from);
            if (polled_ns)
                view_add(&w->poll_view.missed);
            publish_poll(w);
        }
        flush_queues(w);
        judge_turn(w);
        /*
         * Group requests are looked at after the ring's completions ran: a
         * kick that came before a pause request is served before the pause
         * stops taking requests.
         */
        if (!handle_groups(w))
            return NULL;
    }
}

int worker_start(struct worker *w, unsigned id, uint64_t poll_max_ns)
{
    sigset_t all, old;
    int ret;

    memset(w, 0, sizeof(*w));
    w->id = id;
    atomic_init(&w->abort_check, false);
    atomic_init(&w->group_requests, false);
    atomic_init(&w->poll_max_req, POLL_MAX_NONE);
    poll_window_init(&w->poll, poll_max_ns);
    publish_poll(w); /* worker_list shows the start values until the thread measures */
    w->wake_op.cb = on_wake;
    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0)
        return -errno;
    ret = io_loop_init(&w->loop, WORKER_RING_ENTRIES);
    if (ret < 0) {
        close(w->wake_fd);
        return ret;
    }
    w->loop.index = id;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);

    /*
     * Signals are for the control thread; but a bus error in guest memory
     * (vu_fault.h) is raised on the thread that touched it, and a blocked
     * synchronous signal kills the process instead of reaching the handler.
     */
    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    ret = -pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret < 0) {
        io_loop_fini(&w->loop);
        close(w->wake_fd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        return ret;
    }
    return 0;
}

void worker_stop(struct worker *w)
{
    /* Groups still attached are the callers' to detach; pausing them keeps this safe anyway. */
    pthread_mutex_lock(&w->lock);
    w->exit = true;
    atomic_store_explicit(&w->group_requests, true, memory_order_release);
    pthread_mutex_unlock(&w->lock);
    wake(w);
    pthread_join(w->thread, NULL);
    io_loop_fini(&w->loop);
    close(w->wake_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}

void worker_set_poll_max(struct worker *w, uint64_t max_ns)
{
    atomic_store_explicit(&w->poll_max_req, max_ns, memory_order_relaxed);
    /* The release orders the store above before the flag the worker exchanges with acquire. */
    atomic_store_explicit(&w->group_requests, true, memory_order_release);
    wake(w);
}

void worker_poll_stats(const struct worker *w, struct worker_poll_stats *out)
{
    const struct worker_poll_view *v = &w->poll_view;

    *out = (struct worker_poll_stats){
        .max_ns = atomic_load_explicit(&v->max_ns, memory_order_relaxed),
        .window_ns = atomic_load_explicit(&v->window_ns, memory_order_relaxed),
        .sleep_cost_ns = atomic_load_explicit(&v->sleep_cost_ns, memory_order_relaxed),
        .sleeps = atomic_load_explicit(&v->sleeps, memory_order_relaxed),
        .caught = atomic_load_explicit(&v->caught, memory_order_relaxed),
        .missed = atomic_load_explicit(&v->missed, memory_order_relaxed),
        .judged_off = atomic_load_explicit(&v->judged_off, memory_order_relaxed),
        .judged_paying = atomic_load_explicit(&v->judged_paying, memory_order_relaxed),
    };
}
