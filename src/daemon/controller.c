/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/controller.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_proto.h"
#include "virtq/virtio_ring.h"

#define TMF_TIMEOUT_MS 30000

uint64_t controller_features(void)
{
    return (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
           (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_SCSI_F_HOTPLUG) |
           /*
            * Parameter-change events go through the event queue like hotplug
            * ones.  QEMU up to at least 10.2 also sets this bit without
            * asking, so a backend that does not offer it cannot start.
            */
           (1ULL << VIRTIO_SCSI_F_CHANGE) |
           /* Without an inflight region: vhost/vu_dev.c answers GET_INFLIGHT_FD with none. */
           (1ULL << VIRTIO_F_RING_PACKED) |
           /* Live migration: every page we write is logged (vhost/vu_log.h). */
           (1ULL << VHOST_F_LOG_ALL);
}

uint64_t controller_protocol_features(void)
{
    return (1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |
           (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD) | (1ULL << VU_PROTOCOL_F_RESET_DEVICE) |
           (1ULL << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ULL << VU_PROTOCOL_F_STATUS) |
           (1ULL << VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT) | (1ULL << VU_PROTOCOL_F_LOG_SHMFD);
}

/* Set once by main before any controller starts; read by each controller_start. */
static uint64_t masked_features, masked_protocol_features;

void controller_mask_features(uint64_t features, uint64_t protocol_features)
{
    masked_features = features;
    masked_protocol_features = protocol_features;
}

static struct controller *to_ctl(struct vu_dev *dev)
{
    return dev->opaque;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ctl_pause(struct vu_dev *dev)
{
    struct controller *c = to_ctl(dev);

    if (c->paused)
        return;
    /*
     * A suspending stop: what the workers still have in the backend is
     * waited for (a write must not land after the next backend took over)
     * but not reported; the inflight region keeps it for resubmission.
     */
    if (dev->pause_suspends)
        for (unsigned i = 0; i < c->ctrl.nreqqs; i++)
            atomic_store_explicit(&c->ctrl.reqqs[i]->suspending, true, memory_order_relaxed);
    for (unsigned i = 0; i < c->nworkers; i++)
        worker_group_pause(&c->groups[i]);
    c->paused = true;
    if (dev->pause_suspends) {
        for (unsigned i = 0; i < c->ctrl.nreqqs; i++)
            atomic_store_explicit(&c->ctrl.reqqs[i]->suspending, false, memory_order_relaxed);
        c->requeue_suspended = true;
    }
    /*
     * Every request the workers had is complete now, aborted ones included:
     * answer the TMFs that waited for them before rings or memory change.
     */
    if (c->ctrl.vq)
        vscsi_ctrl_poll_tmfs(&c->ctrl, now_ns());
}

/* A TMF marked tasks: every worker looks for them (any may serve the queues). */
static void ctl_request_aborts(void *opaque)
{
    struct controller *c = opaque;

    for (unsigned i = 0; i < c->nworkers; i++)
        worker_request_aborts(&c->workers[i]);
}

/*
 * PREEMPT AND ABORT from another controller's nexus (a worker, with the
 * unit's reservation lock held): this control thread aborts the tasks.
 */
static void ctl_abort_task_set(void *transport, unsigned target, unsigned lun)
{
    struct controller *c = transport;

    if (!vscsi_tmf_request_abort(&c->ctrl.tmfs, target, lun))
        LOG_RATELIMITED(LOG_LEVEL_WARN,
                        "LUN %u:%u: too many aborts for other nexuses pending; "
                        "its tasks run to completion",
                        target, lun);
}

/* Give ready request queues to workers; stopped ones lose their slots. */
static void assign_queues(struct controller *c)
{
    unsigned nactive = 0;

    for (unsigned i = 0; i < c->nworkers; i++)
        c->groups[i].nqueues = 0;
    for (unsigned idx = VIRTIO_SCSI_VQ_REQUEST; idx < c->dev.max_queues; idx++) {
        struct vu_vring *vr = &c->dev.vrings[idx];
        struct vscsi_queue *q = &c->reqq[idx];

        if (!vu_vring_ready(&c->dev, idx)) {
            if (q->reqs)
                vscsi_queue_free(q);
            continue;
        }
        if (q->reqs && q->nreqs != vr->vq.num)
            vscsi_queue_free(q);
        if (!q->reqs && vscsi_queue_alloc(q, vr->vq.num) < 0) {
            LOG_ERR("queue %u: out of memory for %u request slots", idx, vr->vq.num);
            continue;
        }
        q->vq = &vr->vq;
        q->index = idx;
        q->targets = &c->targets;
        q->tmfs = &c->ctrl.tmfs;

        struct worker_group *g =
            &c->groups[(idx - VIRTIO_SCSI_VQ_REQUEST + c->first_worker) % c->nworkers];
        struct worker_queue *wq = &g->queues[g->nqueues++];
        memset(wq, 0, sizeof(*wq));
        wq->q = q;
        wq->kick_fd = vr->kick_fd;
        c->active_reqq[nactive++] = q;
    }
    c->ctrl.reqqs = c->active_reqq;
    c->ctrl.nreqqs = nactive;
}

static void ctl_resume(struct vu_dev *dev)
{
    struct controller *c = to_ctl(dev);

    if (!c->paused)
        return;
    /*
     * A guest whose driver was already running on this device (we restarted,
     * or it migrated here) did not see the device power on: the data, and
     * everything else a LUN keeps, is what it was.  Only a new guest gets
     * POWER ON OCCURRED.
     */
    if (dev->continued && !c->took_over)
        scsi_target_set_clear_ua(&c->targets, SCSI_UA_POWER_ON_RESET);
    c->took_over = dev->continued;
    /*
     * QEMU disables and stops rings one by one, and the first of those
     * suspended the requests of every ring.  Rings not stopped get theirs
     * back (as after a restart): a running one may finish them before its
     * own stop, a disabled one when it is enabled again.  Request queues
     * only: held event buffers are marked in the region too, but the event
     * queue still holds them.
     */
    if (c->requeue_suspended) {
        c->requeue_suspended = false;
        for (unsigned idx = VIRTIO_SCSI_VQ_REQUEST; idx < dev->max_queues; idx++)
            if (dev->vrings[idx].started && dev->vrings[idx].addr_ok)
                virtq_recover_inflight(&dev->vrings[idx].vq);
    }
    assign_queues(c);
    c->ctrl.vq = &dev->vrings[VIRTIO_SCSI_VQ_CONTROL].vq;
    c->evq.vq =
        vu_vring_ready(dev, VIRTIO_SCSI_VQ_EVENT) ? &dev->vrings[VIRTIO_SCSI_VQ_EVENT].vq : NULL;
    for (unsigned i = 0; i < c->nworkers; i++)
        if (c->groups[i].nqueues)
            worker_group_resume(&c->groups[i]);
    c->paused = false;
}

static void ctl_queue_stop(struct vu_dev *dev, unsigned idx)
{
    struct controller *c = to_ctl(dev);

    if (idx == VIRTIO_SCSI_VQ_EVENT) {
        c->evq.vq = &dev->vrings[idx].vq;
        vscsi_eventq_stop(&c->evq);
        c->evq.vq = NULL;
    }
    /* Request queues are drained by the pause that precedes this. */
}

static const struct vu_dev_ops controller_ops = {
    .pause = ctl_pause,
    .resume = ctl_resume,
    .queue_stop = ctl_queue_stop,
};

int controller_start(struct controller *c, struct worker *workers, unsigned nworkers,
                     unsigned first_worker)
{
    int ret;

    if (nworkers == 0 || nworkers > CONTROLLER_MAX_WORKERS)
        return -EINVAL;
    vu_dev_init(&c->dev, &controller_ops, c, controller_features(), controller_protocol_features(),
                VU_MAX_QUEUES);
    /* After vu_dev_init, which adds the protocol-features bit: that one can be masked too. */
    c->dev.offered_features &= ~masked_features;
    c->dev.offered_protocol_features &= ~masked_protocol_features;
    ret = vu_fault_init();
    if (ret < 0)
        return ret;
    c->dev.fault.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->dev.fault.notify_fd < 0)
        return -errno;
    vscsi_ctrl_init(&c->ctrl);
    c->ctrl.targets = &c->targets;
    c->ctrl.tmf_timeout_ms = TMF_TIMEOUT_MS;
    c->ctrl.request_aborts = ctl_request_aborts;
    c->ctrl.opaque = c;
    c->ctrl.tmfs.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->ctrl.tmfs.notify_fd < 0) {
        ret = -errno;
        controller_stop(c);
        return ret;
    }
    c->targets.abort_task_set = ctl_abort_task_set;
    c->targets.transport = c;
    c->groups = calloc(nworkers, sizeof(*c->groups));
    if (!c->groups) {
        controller_stop(c);
        return -ENOMEM;
    }
    c->workers = workers;
    c->nworkers = nworkers;
    c->first_worker = first_worker % nworkers;
    for (unsigned i = 0; i < nworkers; i++)
        worker_group_attach(&workers[i], &c->groups[i]);
    c->paused = true; /* groups start paused */
    return 0;
}

void controller_detach(struct controller *c)
{
    if (c->detached)
        return;
    c->detached = true;
    if (c->dev.ops && c->groups)
        vu_dev_disconnect(&c->dev);
    /* Detaching pauses first: nothing of ours is in flight on any worker afterwards. */
    for (unsigned i = 0; c->groups && i < c->nworkers; i++)
        worker_group_detach(&c->groups[i]);
}

void controller_stop(struct controller *c)
{
    controller_detach(c);
    for (unsigned idx = 0; idx < VU_MAX_QUEUES; idx++)
        if (c->reqq[idx].reqs)
            vscsi_queue_free(&c->reqq[idx]);
    free(c->groups);
    c->groups = NULL;
    c->workers = NULL;
    c->nworkers = 0;
    /*
     * The LUNs leave their units first: until then another controller's
     * PREEMPT AND ABORT may post to tmfs.notify_fd (ctl_abort_task_set).
     */
    scsi_target_set_destroy(&c->targets);
    if (c->dev.fault.notify_fd >= 0)
        close(c->dev.fault.notify_fd);
    c->dev.fault.notify_fd = -1;
    if (c->ctrl.tmfs.notify_fd >= 0)
        close(c->ctrl.tmfs.notify_fd);
    c->ctrl.tmfs.notify_fd = -1;
}

void controller_pause(struct controller *c)
{
    ctl_pause(&c->dev);
}

void controller_resume(struct controller *c)
{
    ctl_resume(&c->dev);
}

void controller_post_event(struct controller *c, uint32_t event, unsigned target, unsigned lun,
                           uint32_t reason)
{
    unsigned feature =
        event == VIRTIO_SCSI_T_PARAM_CHANGE ? VIRTIO_SCSI_F_CHANGE : VIRTIO_SCSI_F_HOTPLUG;

    if (c->detached || !vu_has_feature(&c->dev, feature))
        return;
    vscsi_eventq_post(&c->evq, event, target, lun, reason);
}

bool controller_kick_fixed(struct controller *c, unsigned idx)
{
    struct vu_vring *vr = &c->dev.vrings[idx];
    uint64_t v;

    if (read(vr->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        LOG_WARN("queue %u: kick read failed: %s", idx, strerror(errno));
    return controller_serve_fixed(c, idx);
}

bool controller_serve_fixed(struct controller *c, unsigned idx)
{
    struct vu_vring *vr = &c->dev.vrings[idx];

    if (!vu_vring_ready(&c->dev, idx))
        return false;
    if (idx == VIRTIO_SCSI_VQ_CONTROL)
        return vscsi_ctrl_process(&c->ctrl);
    c->evq.vq = &vr->vq;
    return vscsi_eventq_process(&c->evq);
}

int controller_poll_tmfs(struct controller *c)
{
    int next = vscsi_ctrl_poll_tmfs(&c->ctrl, now_ns());

    /* A TMF that ended frees a slot: requests left on the control ring can go on. */
    if (controller_serve_fixed(c, VIRTIO_SCSI_VQ_CONTROL))
        return 0;
    return next;
}
