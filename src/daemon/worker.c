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
    if (!w->parking)
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
        for (unsigned i = 0; i < w->nqueues; i++)
            vscsi_queue_abort_marked(w->queues[i].q);
}

void worker_request_aborts(struct worker *w)
{
    const uint64_t one = 1;

    atomic_store_explicit(&w->abort_check, true, memory_order_release);
    /* EAGAIN: the counter is saturated, a wakeup is coming anyway. */
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        LOG_WARN("worker %u: wakeup failed: %s", w->id, strerror(errno));
}

static void flush_queues(struct worker *w)
{
    for (unsigned i = 0; i < w->nqueues; i++)
        vscsi_queue_flush(w->queues[i].q);
}

static bool busy(struct worker *w)
{
    for (unsigned i = 0; i < w->nqueues; i++)
        if (w->queues[i].armed || w->queues[i].q->inflight)
            return true;
    return false;
}

/* While parking: queue a cancellation for every kick read still outstanding. */
static void cancel_kick_reads(struct worker *w)
{
    for (unsigned i = 0; i < w->nqueues; i++) {
        struct worker_queue *wq = &w->queues[i];
        if (!wq->armed || wq->cancel_queued)
            continue;
        struct io_uring_sqe *sqe = io_loop_get_sqe(&w->loop, NULL);
        if (!sqe)
            return; /* the kernel refuses submissions for now: the drain loop retries */
        io_uring_prep_cancel(sqe, &wq->kick_op, 0);
        /* The cancel's own completion needs no callback. */
        io_uring_sqe_set_data(sqe, NULL);
        wq->cancel_queued = true;
    }
}

/*
 * Stop taking requests, finish the started ones, and park until resumed.
 * The control thread may unmap guest memory and free request slots as soon
 * as we are parked, so parking with anything still owned by the kernel is
 * never an option: an io_uring error only delays the drain.
 */
static bool park(struct worker *w)
{
    const struct timespec backoff = { .tv_sec = 0, .tv_nsec = 1000 * 1000 };

    w->parking = true;
    for (unsigned i = 0; i < w->nqueues; i++) {
        w->queues[i].cancel_queued = false;
        vscsi_queue_set_accepting(w->queues[i].q, false);
    }
    for (;;) {
        cancel_kick_reads(w);
        if (!busy(w))
            break;
        int ret = io_loop_run_once(&w->loop, true);
        if (ret < 0 && ret != -EINTR) {
            LOG_RATELIMITED(LOG_LEVEL_ERROR,
                            "worker %u: io_uring failed while draining for a pause: %s; retrying",
                            w->id, strerror(-ret));
            nanosleep(&backoff, NULL);
        }
        flush_queues(w);
    }

    pthread_mutex_lock(&w->lock);
    w->state = WORKER_PAUSED;
    pthread_cond_broadcast(&w->cond);
    while (w->state == WORKER_PAUSED)
        pthread_cond_wait(&w->cond, &w->lock);
    bool exiting = w->state == WORKER_EXIT;
    if (!exiting)
        w->state = WORKER_RUNNING;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (exiting)
        return false;

    w->parking = false;
    /* The queue list may have changed: serve what it says now. */
    for (unsigned i = 0; i < w->nqueues; i++) {
        struct worker_queue *wq = &w->queues[i];
        wq->w = w;
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
    flush_queues(w);
    return true;
}

/*
 * Queues that stopped at their budget (VSCSI_TAKE_BUDGET) with requests
 * maybe left: take the next share.  Returns whether there were any; the
 * loop then does not sleep.
 */
static bool take_leftovers(struct worker *w)
{
    bool any = false;

    for (unsigned i = 0; i < w->nqueues; i++) {
        struct vscsi_queue *q = w->queues[i].q;
        if (!q->more)
            continue;
        any = true;
        if (w->poll.max_ns) {
            if (!vscsi_queue_poll(q))
                q->more = false;
        } else
            vscsi_queue_process(q);
    }
    return any;
}

static bool any_leftovers(struct worker *w)
{
    for (unsigned i = 0; i < w->nqueues; i++)
        if (w->queues[i].q->more)
            return true;
    return false;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Spin on the rings and the io_uring for up to the poll window.  Returns true
 * when there is something for the loop to do (requests were taken, a
 * completion or a control-thread wakeup is waiting, submissions are queued);
 * false when the window ran out, with *polled_ns the time spent.
 */
static bool poll_for_work(struct worker *w, uint64_t *polled_ns)
{
    uint64_t start, now;

    *polled_ns = 0;
    if (w->poll.cur_ns == 0 || w->nqueues == 0)
        return false;
    start = now_ns();
    for (;;) {
        bool found = false;

        if (io_uring_cq_ready(&w->loop.ring) || io_uring_sq_ready(&w->loop.ring))
            return true;
        /* Backends with their own completion rings (NVMe) complete requests right here. */
        if (w->loop.sources && io_loop_poll_sources(&w->loop))
            return true;
        for (unsigned i = 0; i < w->nqueues; i++)
            found |= vscsi_queue_poll(w->queues[i].q);
        if (found)
            return true;
        now = now_ns();
        if (now - start >= w->poll.cur_ns) {
            *polled_ns = now - start;
            return false;
        }
        /*
         * Spin only on an otherwise idle CPU: a thread that could run here
         * (the guest's vCPU, say) goes first, so polling never delays the
         * very work it waits for.
         */
        sched_yield();
    }
}

/* Before sleeping: ask the guest to kick again, taking what came meanwhile. */
static void enable_kicks(struct worker *w)
{
    for (unsigned i = 0; i < w->nqueues; i++)
        vscsi_queue_process(w->queues[i].q);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    if (!park(w))
        return NULL;
    for (;;) {
        enum worker_state st;
        uint64_t polled_ns = 0, slept_from = 0;
        bool work;

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
        /* io_loop_run_once reports errors as its return value, not in errno. */
        int ret = io_loop_run_once(&w->loop, !work);
        if (ret < 0 && ret != -EINTR)
            LOG_RATELIMITED(LOG_LEVEL_WARN, "worker %u: io_uring wait failed: %s", w->id,
                            strerror(-ret));
        if (slept_from)
            poll_window_after_sleep(&w->poll, polled_ns, now_ns() - slept_from);
        flush_queues(w);

        pthread_mutex_lock(&w->lock);
        st = w->state;
        pthread_mutex_unlock(&w->lock);
        if (st == WORKER_PAUSE_REQUESTED || st == WORKER_EXIT) {
            if (!park(w))
                return NULL;
        }
    }
}

int worker_start(struct worker *w, unsigned id, uint64_t poll_max_ns)
{
    sigset_t all, old;
    int ret;

    memset(w, 0, sizeof(*w));
    w->id = id;
    atomic_init(&w->abort_check, false);
    poll_window_init(&w->poll, poll_max_ns);
    w->wake_op.cb = on_wake;
    w->state = WORKER_PAUSE_REQUESTED;
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
        return ret;
    }
    /* Wait until it is parked, so that the control thread owns its queue list. */
    pthread_mutex_lock(&w->lock);
    while (w->state != WORKER_PAUSED)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void worker_pause(struct worker *w)
{
    const uint64_t one = 1;

    pthread_mutex_lock(&w->lock);
    if (w->state == WORKER_RUNNING) {
        w->state = WORKER_PAUSE_REQUESTED;
        if (write(w->wake_fd, &one, sizeof(one)) < 0)
            LOG_WARN("worker %u: wakeup failed: %s", w->id, strerror(errno));
    }
    while (w->state != WORKER_PAUSED)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void worker_resume(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->state == WORKER_PAUSED) {
        w->state = WORKER_RESUME_REQUESTED;
        pthread_cond_broadcast(&w->cond);
        /* Wait for the handover, so a following pause cannot be missed. */
        while (w->state == WORKER_RESUME_REQUESTED)
            pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}

void worker_stop(struct worker *w)
{
    worker_pause(w);
    pthread_mutex_lock(&w->lock);
    w->state = WORKER_EXIT;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    io_loop_fini(&w->loop);
    close(w->wake_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}
