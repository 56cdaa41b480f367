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
#include "virtq/virtq.h"

struct vscsi_queue;

/*
 * While taking a batch of requests, signal the completed ones every this many
 * (4 KiB QD32 on RAM LUNs: 8 and 16 were best, 16 when fio and the daemon
 * share CPUs; end-of-batch only was 2.5x slower; see docs/benchmarks.md).
 */
#define VSCSI_SIGNAL_BATCH 16

/* One request slot: preallocated, reused for every request. */
struct vscsi_req {
    struct vscsi_queue *q;
    struct vscsi_req *next_free;
    struct virtq_elem elem;
    struct iovec iov[VIRTQ_MAX_IOV];      /* the whole chain: readable, then writable */
    struct iovec data_iov[VIRTQ_MAX_IOV]; /* the data part, past the headers */
    struct scsi_task task;
    /* Published for task management lookups from the control thread. */
    _Atomic(struct scsi_lun *) active_lun; /* NULL when the slot is free */
    _Atomic uint64_t active_tag;
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
    bool need_notify; /* pushed since the last virtq_notify */
    bool starved;     /* stopped taking requests for lack of free slots */
};

/* Allocate nreqs slots (one per ring entry).  Control thread.  0 or -ENOMEM. */
int vscsi_queue_alloc(struct vscsi_queue *q, unsigned nreqs);
void vscsi_queue_free(struct vscsi_queue *q);

/*
 * Take and start every available request and ask the guest to kick for the
 * next one (worker; before it sleeps).
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

/* Whether a task with this LUN and tag is in flight on q (any thread). */
bool vscsi_queue_find_task(struct vscsi_queue *q, const struct scsi_lun *lun, uint64_t tag);

/*
 * virtio-scsi LUN addressing: lun[0] = 1, lun[1] = target, lun[2..3] = LUN
 * (flat space 01b or peripheral 00b addressing), lun[4..7] = 0.
 * Returns 0, or -1 when the address is malformed.
 */
int vscsi_parse_lun(const uint8_t lun[8], unsigned *target, unsigned *lun_id);
void vscsi_encode_lun(uint8_t out[8], unsigned target, unsigned lun_id);

/* The control queue's view of the device. */
struct vscsi_ctrl {
    struct virtq *vq;
    struct scsi_target_set *targets;
    struct vscsi_queue **reqqs; /* request queues that may hold tasks */
    unsigned nreqqs;
    unsigned tmf_timeout_ms; /* how long a reset may wait for in-flight tasks */
    struct virtq_elem elem;
    struct iovec iov[64]; /* control requests are a few bytes: short chains */
};

/* Serve every available control request (control thread). */
void vscsi_ctrl_process(struct vscsi_ctrl *ctrl);

#define VSCSI_EVENT_BUFS 64
#define VSCSI_EVENT_IOV  4 /* an event is 16 bytes */

/* The event queue: buffers wait here until an event happens. */
struct vscsi_eventq {
    struct virtq *vq;
    unsigned nheld;
    uint16_t held[VSCSI_EVENT_BUFS]; /* heads, in the order they were taken */
    struct iovec held_iov[VSCSI_EVENT_BUFS][VSCSI_EVENT_IOV];
    unsigned held_niov[VSCSI_EVENT_BUFS];
    bool missed; /* an event found no buffer: report EVENTS_MISSED with the next one */
};

/* Take the guest's event buffers (control thread). */
void vscsi_eventq_process(struct vscsi_eventq *evq);

/* Deliver an event, or remember that one was missed.  Returns true if delivered. */
bool vscsi_eventq_post(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                       uint32_t reason);

/* The ring stops: give the held buffers back by rewinding the avail index. */
void vscsi_eventq_stop(struct vscsi_eventq *evq);

#endif
