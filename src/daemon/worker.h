/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Worker threads: a shared pool, each worker serving request queues of any
 * number of controllers with one io_uring loop that waits for kicks (reads on
 * the kick eventfds) and backend I/O alike.
 *
 * A controller's queues on one worker form a group (struct worker_group).
 * A controller changes its rings and guest memory only while its groups are
 * paused: worker_group_pause() asks the worker to stop taking requests from
 * that group's queues, waits until the worker has cancelled their kick reads
 * and completed every request it had started from them, and returns.  The
 * worker keeps serving its other groups meanwhile, so one controller's pause
 * (a memory-table change, a frontend going away) never stalls another's
 * queues.  Between worker_group_pause() and worker_group_resume() the
 * controller owns the group's queue list and everything it points to; after
 * resume the worker serves whatever the list then says.
 *
 * Threading: worker_start/worker_stop on the main thread; the group
 * functions on the owning controller's control thread (any thread, but one
 * at a time per group); worker_request_aborts from any thread.
 */
#ifndef VUS_DAEMON_WORKER_H
#define VUS_DAEMON_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/io_loop.h"
#include "io/poll_judge.h"
#include "io/poll_window.h"
#include "vhost/vu_dev.h"
#include "virtio_scsi/vscsi.h"

struct worker;
struct worker_group;

struct worker_queue {
    struct worker *w;
    struct worker_group *g;
    struct vscsi_queue *q;
    int kick_fd;
    struct io_loop_op kick_op;
    uint64_t kick_buf;
    bool armed;         /* a read on kick_fd is outstanding */
    bool cancel_queued; /* ...and, while parking, its cancellation is queued */
};

enum worker_group_state {
    GROUP_DETACHED,         /* not in the worker's list: the worker never looks at it */
    GROUP_ATTACH_REQUESTED, /* the worker adds it to its list, paused */
    GROUP_RUNNING,
    GROUP_PAUSE_REQUESTED,
    GROUP_PAUSED,
    GROUP_RESUME_REQUESTED,
    GROUP_DETACH_REQUESTED, /* paused; the worker drops it from its list */
};

struct worker_group {
    struct worker *w;
    enum worker_group_state state; /* under w->lock */
    /* Worker thread only: */
    bool serving; /* taking requests from its queues */
    bool parking; /* between a pause request and PAUSED: completing, not taking */
    struct worker_group *next;
    struct worker_group *pending_next; /* w->attaching, under w->lock */
    /* The controller's, while the group is paused or detached; the worker's otherwise: */
    unsigned nqueues;
    struct worker_queue queues[VU_MAX_QUEUES];
};

/*
 * What the worker's adaptive polling is doing, for the worker_list RPC:
 * written by the worker (relaxed stores, at most once per loop turn), read
 * by any thread.  Each field is exact; together they are a snapshot only up
 * to a loop turn.
 */
struct worker_poll_view {
    _Atomic uint64_t max_ns;        /* --poll-us, or what worker_set_poll_max set */
    _Atomic uint64_t window_ns;     /* polls this long before sleeping now; 0 = interrupt mode */
    _Atomic uint64_t sleep_cost_ns; /* S of poll_window.h: what it values a sleep at */
    _Atomic uint64_t sleeps;        /* times it slept waiting for work */
    _Atomic uint64_t caught;     /* idle gaps polling caught (work found before the window end) */
    _Atomic uint64_t missed;     /* gaps it polled through and then slept */
    _Atomic bool judged_paying;  /* poll_judge's verdict now: polling pays */
    _Atomic uint64_t judged_off; /* times it judged polling not to pay */
};

struct worker {
    unsigned id;
    pthread_t thread;
    struct io_loop loop;
    int wake_fd; /* eventfd: a control thread wants attention */
    struct io_loop_op wake_op;
    uint64_t wake_buf;
    bool wake_armed;
    atomic_bool abort_check;    /* a TMF marked tasks: look for them on the next wakeup */
    atomic_bool group_requests; /* a group changed state: look at the groups */
    _Atomic uint64_t epoch;     /* loop turns: see worker_pool_grace */
    struct poll_window poll;    /* worker thread only */
    struct poll_judge judge;    /* worker thread only; with the epoch it measures: */
    uint64_t judge_from_ns, judge_cpu_ns, judge_requests;
    bool wake_measured;            /* worker thread only: poll.wake_ns is this thread's own */
    _Atomic uint64_t poll_max_req; /* a new maximum asked for (POLL_MAX_NONE: none) */
    struct worker_poll_view poll_view;
    struct worker_group *groups; /* worker thread only: the attached groups */
    unsigned nparking;           /* worker thread only: groups draining for a pause */
    pthread_mutex_t lock;
    struct worker_group *attaching; /* under lock: groups to add to the list */
    pthread_cond_t cond;
    bool exit; /* under lock */
};

/*
 * Start the thread, serving nothing until groups are attached.  It polls its
 * queues for up to poll_max_ns after the last work it found (adaptively, see
 * poll_window.h; 0 = sleep at once, pure interrupt mode).  0 or -errno.
 */
int worker_start(struct worker *w, unsigned id, uint64_t poll_max_ns);
/* End the thread (every group detached first) and free its resources. */
void worker_stop(struct worker *w);

/* Hand g (zeroed by the caller, no queues yet) to w; it starts paused. */
void worker_group_attach(struct worker *w, struct worker_group *g);
/* g paused: the worker forgets it; the caller may free it afterwards. */
void worker_group_detach(struct worker_group *g);
void worker_group_pause(struct worker_group *g);
void worker_group_resume(struct worker_group *g);

/*
 * A grace period: returns once every worker of the pool has gone through
 * the top of its loop, so no lookup of something just unpublished (a LUN
 * detached) is still in progress on any of them.  Any thread but a worker.
 * false if a worker did not come round within timeout_ms.
 */
bool worker_pool_grace(struct worker *pool, unsigned n, unsigned timeout_ms);

/*
 * A TMF marked tasks this worker may be running: make it tell them to abort
 * (vscsi_queue_abort_marked), soon and on its own thread.  Does not wait.
 */
void worker_request_aborts(struct worker *w);

/*
 * Change the worker's maximum poll window (0: interrupt mode), as --poll-us
 * does at start; the worker applies it at its next loop turn, woken for it.
 * Does not wait.  Any thread.
 */
void worker_set_poll_max(struct worker *w, uint64_t max_ns);

/* The worker's polling as worker_poll_view says it, read now.  Any thread. */
struct worker_poll_stats {
    uint64_t max_ns, window_ns, sleep_cost_ns, sleeps, caught, missed, judged_off;
    bool judged_paying;
};
void worker_poll_stats(const struct worker *w, struct worker_poll_stats *out);

#endif
