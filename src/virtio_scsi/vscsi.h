/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-scsi device emulation over split virtqueues: request queues, the
 * control queue (task management, async notification) and the event queue.
 *
 * Threading: a request queue (struct vscsi_queue) is served by one worker
 * thread: vscsi_queue_process/flush run there, and completions run there.
 * vscsi_queue_alloc/free run on the control thread while that worker is
 * paused.  The control and event queues are served by the control thread;
 * it may look into request queues' in-flight tasks concurrently
 * (vscsi_queue_find_task), which only reads atomics.
 */
#ifndef VUS_VIRTIO_SCSI_VSCSI_H
#define VUS_VIRTIO_SCSI_VSCSI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/io_loop.h"
#include "scsi/scsi.h"
#include "virtio_scsi/virtio_scsi_proto.h"
#include "virtio_scsi/vscsi_tmf.h"
#include "virtq/virtq.h"

struct vscsi_queue;

/*
 * While taking a batch of requests, signal the completed ones every this many
 * (4 KiB QD32 on RAM LUNs: 8 and 16 were best, 16 when fio and the daemon
 * share CPUs; end-of-batch only was 2.5x slower; see docs/benchmarks.md).
 */
#define VSCSI_SIGNAL_BATCH 16

/*
 * Requests a queue takes per call before it lets its worker look at other
 * queues and at pause requests.  A guest that refills its ring as fast as
 * inline-completing LUNs (ram, null) empty it would otherwise keep the
 * worker in one loop forever, and a pause (memory table change,
 * GET_VRING_BASE, disconnect) would wait as long.
 */
#define VSCSI_TAKE_BUDGET 256

/* One request slot: preallocated, reused for every request. */
struct vscsi_req {
    struct vscsi_queue *q;
    struct vscsi_req *next_free;
    struct virtq_elem elem;
    struct iovec iov[VIRTQ_MAX_IOV];      /* the whole chain: readable, then writable */
    struct iovec data_iov[VIRTQ_MAX_IOV]; /* the data part, past the headers */
    struct scsi_task task;
    /* Published for task management (vscsi_tmf.h): lun and tag, then state. */
    _Atomic(struct scsi_lun *) active_lun;
    _Atomic uint64_t active_tag;
    _Atomic uint64_t state;
    bool cancel_sent; /* worker only: the task was told to abort */
};

struct vscsi_queue {
    struct virtq *vq;
    unsigned index; /* vring index, for logs */
    struct scsi_target_set *targets;
    struct io_loop *loop; /* the serving worker's loop */
    struct vscsi_req *reqs;
    unsigned nreqs;
    struct vscsi_req *free_list;
    unsigned inflight;
    struct vscsi_tmf_set *tmfs; /* where aborted tasks report (the control queue's) */
    bool need_notify;           /* pushed since the last virtq_notify */
    bool starved;               /* stopped taking requests for lack of free slots */
    bool more;                  /* stopped taking requests at the budget: come back */
    bool accepting;             /* false while the worker drains for a pause */
    /*
     * Set by the control thread around a suspending pause: completions are
     * not reported to the guest, the requests stay marked in the inflight
     * region for the next backend to resubmit.
     */
    atomic_bool suspending;
};

/* Allocate nreqs slots (one per ring entry).  Control thread.  0 or -ENOMEM. */
int vscsi_queue_alloc(struct vscsi_queue *q, unsigned nreqs);
void vscsi_queue_free(struct vscsi_queue *q);

/*
 * Take and start available requests, up to VSCSI_TAKE_BUDGET, and ask the
 * guest to kick for the next one (worker; before it sleeps).  When the
 * budget ran out, q->more is set and kicks stay off: call again soon.
 */
void vscsi_queue_process(struct vscsi_queue *q);

/*
 * Polling (worker): if requests are available, take them and leave the
 * guest's kicks off; vscsi_queue_process turns them back on.  Returns whether
 * there was anything to take.
 */
bool vscsi_queue_poll(struct vscsi_queue *q);

/*
 * End of a batch of completions (worker): signal the guest once if anything
 * was pushed, and resume taking requests if slots were short.
 */
void vscsi_queue_flush(struct vscsi_queue *q);

/*
 * Stop taking requests (before a pause: the worker drains what it started)
 * or start again.  Worker thread.
 */
void vscsi_queue_set_accepting(struct vscsi_queue *q, bool accepting);

/*
 * Tell every task that a TMF marked to end as soon as it can (its backend
 * I/O is cancelled where the backend allows).  Worker thread, when the
 * control thread asked (worker_request_aborts).
 */
void vscsi_queue_abort_marked(struct vscsi_queue *q);

/*
 * Whether a task on lun (with this tag, unless any_tag) is in flight on q.
 * Control thread; reads only what slots publish.
 */
bool vscsi_queue_find_task(struct vscsi_queue *q, const struct scsi_lun *lun, uint64_t tag,
                           bool any_tag);

/*
 * Mark every task of q that matches (lun NULL: any LUN; any_tag: any tag)
 * as aborted by TMF id; returns how many were marked, each counted in the
 * TMF's remaining.  Control thread.
 */
unsigned vscsi_queue_mark_tasks(struct vscsi_queue *q, const struct scsi_lun *lun, uint64_t tag,
                                bool any_tag, unsigned id, struct vscsi_tmf *tmf);

/*
 * virtio-scsi LUN addressing: lun[0] = 1, lun[1] = target, lun[2..3] = LUN
 * (flat space 01b or peripheral 00b addressing), lun[4..7] = 0.
 * Returns 0, or -1 when the address is malformed.
 */
int vscsi_parse_lun(const uint8_t lun[8], unsigned *target, unsigned *lun_id);
void vscsi_encode_lun(uint8_t out[8], unsigned target, unsigned lun_id);

/* Control requests served per call before the control thread looks at its other duties. */
#define VSCSI_CTRL_BUDGET 64

/* The control queue's view of the device. */
struct vscsi_ctrl {
    struct virtq *vq;
    struct scsi_target_set *targets;
    struct vscsi_queue **reqqs; /* request queues that may hold tasks */
    unsigned nreqqs;
    unsigned tmf_timeout_ms; /* a TMF whose victims take longer answers FAILURE */
    struct vscsi_tmf_set tmfs;
    /* Ask the workers to abort what a TMF just marked (vscsi_queue_abort_marked). */
    void (*request_aborts)(void *opaque);
    void *opaque;
    struct virtq_elem elem;
    struct iovec iov[64]; /* control requests are a few bytes: short chains */
};

/* Before use: no TMF pending, no notify fd. */
void vscsi_ctrl_init(struct vscsi_ctrl *ctrl);

/*
 * Serve available control requests, at most VSCSI_CTRL_BUDGET, and while a
 * TMF slot is free (control thread).  Returns true when requests may be left
 * that it did not get to: call again without waiting for a kick.
 */
bool vscsi_ctrl_process(struct vscsi_ctrl *ctrl);

/*
 * Answer the TMFs whose victims have all completed, and answer FAILURE for
 * those past their deadline (control thread; after ctrl->tmfs.notify_fd
 * fired, after a pause, or at the deadline).  Returns the milliseconds until
 * the next deadline, or -1 when no TMF is waiting.
 */
int vscsi_ctrl_poll_tmfs(struct vscsi_ctrl *ctrl, uint64_t now_ns);

/* Whether a TMF still waits for victims. */
bool vscsi_ctrl_tmfs_pending(const struct vscsi_ctrl *ctrl);

#define VSCSI_EVENT_BUFS 64
#define VSCSI_EVENT_IOV  4 /* an event is 16 bytes */

/*
 * The event queue: buffers wait here until an event happens.  Only their
 * heads are kept; a buffer is mapped when an event is written into it, so
 * that memory table changes in between cannot leave stale host pointers.
 */
struct vscsi_eventq {
    struct virtq *vq;
    unsigned nheld;
    uint16_t held[VSCSI_EVENT_BUFS]; /* heads, in the order they were taken */
    bool missed; /* an event found no buffer: report EVENTS_MISSED with the next one */
};

/*
 * Take the guest's event buffers (control thread), at most
 * VSCSI_CTRL_BUDGET per call.  Returns true when it stopped at the budget.
 */
bool vscsi_eventq_process(struct vscsi_eventq *evq);

/* Deliver an event, or remember that one was missed.  Returns true if delivered. */
bool vscsi_eventq_post(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                       uint32_t reason);

/* The ring stops: give the held buffers back by rewinding the avail index. */
void vscsi_eventq_stop(struct vscsi_eventq *evq);

#endif
