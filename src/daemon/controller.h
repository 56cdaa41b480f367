/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One virtio-scsi controller: the vhost-user device state, its SCSI targets,
 * the worker threads serving its request queues, and the control and event
 * queues (served by the control thread).
 *
 * Threading: everything here runs on the control thread.
 */
#ifndef VUS_DAEMON_CONTROLLER_H
#define VUS_DAEMON_CONTROLLER_H

#include <stdbool.h>

#include "daemon/worker.h"
#include "scsi/scsi.h"
#include "vhost/vu_dev.h"
#include "virtio_scsi/vscsi.h"

#define CONTROLLER_MAX_WORKERS 64

struct controller {
    struct vu_dev dev;
    struct scsi_target_set targets; /* filled by the caller before controller_start */
    unsigned nworkers;
    struct worker *workers;      /* the shared pool: not ours */
    struct worker_group *groups; /* our share of each worker, by worker */
    unsigned first_worker;       /* request queue 0 goes there: spreads controllers */
    bool paused;
    bool detached;          /* off the workers: nothing runs any more */
    bool took_over;         /* this connection's POWER ON unit attention was withdrawn */
    bool requeue_suspended; /* a suspending pause left requests in the region */
    struct vscsi_queue reqq[VU_MAX_QUEUES]; /* by vring index; 0 and 1 unused */
    struct vscsi_queue *active_reqq[VU_MAX_QUEUES];
    struct vscsi_ctrl ctrl;
    struct vscsi_eventq evq;
};

/* The virtio and vhost-user features this device offers. */
uint64_t controller_features(void);
uint64_t controller_protocol_features(void);
/*
 * Testing (--mask-features, --mask-protocol-features): controllers started
 * from now on withhold these bits from their offer.  A mask only removes.
 */
void controller_mask_features(uint64_t features, uint64_t protocol_features);

/*
 * Serve the controller's request queues on the pool's nworkers workers
 * (started by the caller; shared with other controllers), request queue 0 on
 * worker first_worker % nworkers and the next ones round-robin.  Everything
 * starts paused.  0 or -errno.
 */
int controller_start(struct controller *c, struct worker *workers, unsigned nworkers,
                     unsigned first_worker);
/* Disconnect the frontend and take our queues off the workers (they keep running). */
void controller_detach(struct controller *c);
/*
 * controller_detach if not done, then free everything, including the
 * targets and so the backends.  A backend with completion sources in the
 * workers' loops (nvme) must only be closed once those loops are gone: stop
 * the pool between controller_detach and controller_stop.
 */
void controller_stop(struct controller *c);

/*
 * A kick on the control (0) or event (1) queue; call when its kick fd is
 * readable.  Returns true when the queue stopped at its budget: call
 * controller_serve_fixed() again soon, without waiting for a kick.
 */
bool controller_kick_fixed(struct controller *c, unsigned idx);
bool controller_serve_fixed(struct controller *c, unsigned idx);

/*
 * Stop the workers from touching the controller's queues (completing what
 * they took), and let them go again: around changes to what they read
 * without a lock, such as the LUN map.  Control thread, or whoever holds the
 * controller's lock.
 */
void controller_pause(struct controller *c);
void controller_resume(struct controller *c);

/*
 * Tell the guest through the event queue (TRANSPORT_RESET or PARAM_CHANGE),
 * when it negotiated the feature that asks for it.  A full event queue is
 * reported as EVENTS_MISSED with the next event.  Same threads as above.
 */
void controller_post_event(struct controller *c, uint32_t event, unsigned target, unsigned lun,
                           uint32_t reason);

/*
 * Answer the TMFs that are done or timed out (when c->ctrl.tmfs.notify_fd is
 * readable, or at the deadline).  Returns the milliseconds until the next
 * TMF deadline, 0 when the control queue has work left, -1 for none.
 */
int controller_poll_tmfs(struct controller *c);

#endif
