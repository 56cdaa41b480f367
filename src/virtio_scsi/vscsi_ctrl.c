/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control queue: task management functions and asynchronous
 * notification queries.
 *
 * TMFs act on tasks that workers are executing.  Backend I/O cannot be
 * recalled once the kernel has it, so an abort or reset completes when the
 * affected tasks have left the task set (they finish normally, before the TMF
 * answers); resets then raise a unit attention.  The control thread waits for
 * that in short sleeps, bounded by tmf_timeout_ms: a backend that hangs makes
 * the TMF fail rather than the daemon.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "util/iov.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"

static bool task_present(struct vscsi_ctrl *c, const struct scsi_lun *lun, uint64_t tag)
{
    for (unsigned i = 0; i < c->nreqqs; i++)
        if (c->reqqs[i] && vscsi_queue_find_task(c->reqqs[i], lun, tag))
            return true;
    return false;
}

/*
 * Whether a request slot still holds a task on lun (any LUN when lun is
 * NULL).  lun->inflight alone is not enough: the SCSI layer drops it just
 * before the completion callback, so a reset could answer before the task's
 * response is on the used ring, and the spec wants it there first.  A slot is
 * released only after its push.
 */
static bool slot_busy(struct vscsi_ctrl *c, const struct scsi_lun *lun)
{
    for (unsigned i = 0; i < c->nreqqs; i++) {
        struct vscsi_queue *q = c->reqqs[i];
        if (!q)
            continue;
        for (unsigned j = 0; j < q->nreqs; j++) {
            struct scsi_lun *l = atomic_load_explicit(&q->reqs[j].active_lun, memory_order_acquire);
            if (l && (!lun || l == lun))
                return true;
        }
    }
    return false;
}

static bool lun_busy(struct vscsi_ctrl *c, const struct scsi_lun *lun)
{
    return atomic_load(&((struct scsi_lun *)lun)->inflight) > 0 || slot_busy(c, lun);
}

static bool any_lun_busy(struct vscsi_ctrl *c, struct scsi_target_set *set)
{
    if (slot_busy(c, NULL))
        return true;
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = set->targets[t];
        if (!tgt)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
            if (tgt->luns[l] && atomic_load(&tgt->luns[l]->inflight) > 0)
                return true;
    }
    return false;
}

static void reset_all_luns(struct scsi_target_set *set)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = set->targets[t];
        if (!tgt)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
            if (tgt->luns[l])
                scsi_lun_reset(tgt->luns[l]);
    }
}

enum wait_kind { WAIT_TASK, WAIT_LUN, WAIT_ALL };

/* Wait until the condition clears; false on timeout. */
static bool wait_idle(struct vscsi_ctrl *c, enum wait_kind kind, const struct scsi_lun *lun,
                      uint64_t tag)
{
    const struct timespec nap = { .tv_sec = 0, .tv_nsec = 100 * 1000 };
    unsigned long budget_naps = (unsigned long)c->tmf_timeout_ms * 10;

    for (unsigned long i = 0;; i++) {
        bool busy;
        switch (kind) {
        case WAIT_TASK:
            busy = task_present(c, lun, tag);
            break;
        case WAIT_LUN:
            busy = lun_busy(c, lun);
            break;
        default:
            busy = any_lun_busy(c, c->targets);
        }
        if (!busy)
            return true;
        if (i >= budget_naps)
            return false;
        nanosleep(&nap, NULL);
    }
}

static uint8_t do_tmf(struct vscsi_ctrl *c, const struct virtio_scsi_ctrl_tmf_req *req)
{
    unsigned target, lun_id;
    struct scsi_lun *lun;
    uint64_t tag = le64toh(req->tag);

    if (vscsi_parse_lun(req->lun, &target, &lun_id) < 0 ||
        !(lun = scsi_lookup(c->targets, target, lun_id)))
        return VIRTIO_SCSI_S_BAD_TARGET;

    switch (le32toh(req->subtype)) {
    case VIRTIO_SCSI_T_TMF_ABORT_TASK:
        return wait_idle(c, WAIT_TASK, lun, tag) ? VIRTIO_SCSI_S_FUNCTION_COMPLETE
                                                 : VIRTIO_SCSI_S_FAILURE;
    case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
    case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
        return wait_idle(c, WAIT_LUN, lun, 0) ? VIRTIO_SCSI_S_FUNCTION_COMPLETE
                                              : VIRTIO_SCSI_S_FAILURE;
    case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
        if (!wait_idle(c, WAIT_LUN, lun, 0))
            return VIRTIO_SCSI_S_FAILURE;
        if (lun->bdev)
            scsi_lun_reset(lun);
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
        if (!wait_idle(c, WAIT_ALL, NULL, 0))
            return VIRTIO_SCSI_S_FAILURE;
        reset_all_luns(c->targets);
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case VIRTIO_SCSI_T_TMF_QUERY_TASK:
        return task_present(c, lun, tag) ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED
                                         : VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
        return lun_busy(c, lun) ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED
                                : VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    default:
        /* CLEAR ACA: we never establish ACA (NACA is refused). */
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    }
}

/* Handle one control request; returns the used length. */
static uint32_t ctrl_one(struct vscsi_ctrl *c)
{
    struct virtq_elem *e = &c->elem;
    const struct iovec *in = e->iov + e->out_num;
    size_t out_len = iov_size(e->iov, e->out_num);
    size_t in_len = iov_size(in, e->in_num);
    uint32_t type;

    if (out_len < sizeof(type))
        return 0;
    iov_to_buf(e->iov, e->out_num, 0, &type, sizeof(type));
    switch (le32toh(type)) {
    case VIRTIO_SCSI_T_TMF: {
        struct virtio_scsi_ctrl_tmf_req req;
        struct virtio_scsi_ctrl_tmf_resp resp;
        if (out_len < sizeof(req) || in_len < sizeof(resp))
            return 0;
        iov_to_buf(e->iov, e->out_num, 0, &req, sizeof(req));
        resp.response = do_tmf(c, &req);
        iov_from_buf(in, e->in_num, 0, &resp, sizeof(resp));
        return sizeof(resp);
    }
    case VIRTIO_SCSI_T_AN_QUERY:
    case VIRTIO_SCSI_T_AN_SUBSCRIBE: {
        struct virtio_scsi_ctrl_an_req req;
        struct virtio_scsi_ctrl_an_resp resp;
        unsigned target, lun_id;
        if (out_len < sizeof(req) || in_len < sizeof(resp))
            return 0;
        iov_to_buf(e->iov, e->out_num, 0, &req, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        /* No asynchronous notification class is supported: event_actual stays 0. */
        if (vscsi_parse_lun(req.lun, &target, &lun_id) < 0 ||
            !scsi_lookup(c->targets, target, lun_id))
            resp.response = VIRTIO_SCSI_S_BAD_TARGET;
        else
            resp.response = VIRTIO_SCSI_S_OK;
        iov_from_buf(in, e->in_num, 0, &resp, sizeof(resp));
        return sizeof(resp);
    }
    default:
        return 0;
    }
}

void vscsi_ctrl_process(struct vscsi_ctrl *c)
{
    struct virtq *vq = c->vq;
    bool pushed = false;

    c->elem.iov = c->iov;
    c->elem.iov_max = sizeof(c->iov) / sizeof(c->iov[0]);
    for (;;) {
        int ret;
        virtq_disable_notify(vq);
        while ((ret = virtq_pop(vq, &c->elem)) != 0) {
            if (ret == -EIO) {
                LOG_RATELIMITED(LOG_LEVEL_ERROR, "control queue is corrupt; queue stopped");
                goto out;
            }
            virtq_push(vq, c->elem.head, ret < 0 ? 0 : ctrl_one(c));
            pushed = true;
        }
        if (!virtq_enable_notify(vq))
            break;
    }
out:
    if (pushed)
        virtq_notify(vq);
}
