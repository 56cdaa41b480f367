/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Worker threads: each serves a set of request queues with one io_uring loop
 * that waits for kicks (reads on the kick eventfds) and backend I/O alike.
 *
 * The control thread changes rings and guest memory only while every worker
 * is paused: worker_pause() asks the worker to stop taking requests, waits
 * until the worker has cancelled its kick reads and completed every request
 * it had started, and returns.  Between worker_pause() and worker_resume()
 * the control thread owns the worker's queue list and everything it points
 * to; after resume the worker serves whatever the list then says.
 */
#ifndef VUS_DAEMON_WORKER_H
#define VUS_DAEMON_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/io_loop.h"
#include "io/poll_window.h"
#include "vhost/vu_dev.h"
#include "virtio_scsi/vscsi.h"

struct worker;

struct worker_queue {
    struct worker *w;
    struct vscsi_queue *q;
    int kick_fd;
    struct io_loop_op kick_op;
    uint64_t kick_buf;
    bool armed;         /* a read on kick_fd is outstanding */
    bool cancel_queued; /* ...and, while parking, its cancellation is queued */
};

enum worker_state {
    WORKER_RUNNING,
    WORKER_PAUSE_REQUESTED,
    WORKER_PAUSED,
    WORKER_RESUME_REQUESTED,
    WORKER_EXIT,
};

struct worker {
    unsigned id;
    pthread_t thread;
    struct io_loop loop;
    int wake_fd; /* eventfd: the control thread wants attention */
    struct io_loop_op wake_op;
    uint64_t wake_buf;
    bool wake_armed;
    atomic_bool abort_check; /* a TMF marked tasks: look for them on the next wakeup */
    bool parking;            /* worker thread only: between a pause request and the resume */
    struct poll_window poll; /* worker thread only */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum worker_state state; /* under lock */
    unsigned nqueues;
    struct worker_queue queues[VU_MAX_QUEUES];
};

/*
 * Start the thread; it begins paused with no queues (the control thread
 * resumes it once it has something to serve).  It polls its queues for up to
 * poll_max_ns after the last work it found (adaptively, see poll_window.h;
 * 0 = sleep at once, pure interrupt mode).  0 or -errno.
 */
int worker_start(struct worker *w, unsigned id, uint64_t poll_max_ns);
void worker_pause(struct worker *w);
void worker_resume(struct worker *w);
/*
 * A TMF marked tasks this worker may be running: make it tell them to abort
 * (vscsi_queue_abort_marked), soon and on its own thread.  Control thread;
 * does not wait.
 */
void worker_request_aborts(struct worker *w);
/* End the thread (from any state) and free its resources. */
void worker_stop(struct worker *w);

#endif
