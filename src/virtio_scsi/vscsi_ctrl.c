/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control queue: task management functions and asynchronous
 * notification queries.
 *
 * Queries answer at once.  Aborts and resets may have to wait for tasks the
 * workers are running; they are handed to vscsi_tmf.c and answered later,
 * so the control thread, which also serves the vhost-user socket, never
 * waits.  The work done per call is bounded, and requests stay on the ring
 * while every TMF slot is taken, so a guest flooding this queue delays only
 * its own control requests.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "stats/lun_stats.h"
#include "util/iov.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"
#include "virtio_scsi/vscsi_tmf_internal.h"

void vscsi_ctrl_init(struct vscsi_ctrl *c)
{
    memset(&c->tmfs, 0, sizeof(c->tmfs));
    c->tmfs.notify_fd = -1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool task_present(struct vscsi_ctrl *c, const struct scsi_lun *lun, uint64_t tag,
                         bool any_tag)
{
    for (unsigned i = 0; i < c->nreqqs; i++)
        if (c->reqqs[i] && vscsi_queue_find_task(c->reqqs[i], lun, tag, any_tag))
            return true;
    return false;
}

/*
 * A TMF request: answered here (returns the response code) or, for aborts
 * and resets, handed to vscsi_tmf_start (returns -1: it answers, maybe
 * already did).
 */
static int do_tmf(struct vscsi_ctrl *c, uint16_t head, const struct virtio_scsi_ctrl_tmf_req *req)
{
    uint32_t subtype = le32toh(req->subtype);
    uint64_t tag = le64toh(req->tag);
    unsigned target, lun_id;
    struct scsi_lun *lun;

    if (vscsi_parse_lun(req->lun, &target, &lun_id) < 0 ||
        !(lun = scsi_lookup(c->targets, target, lun_id)))
        return VIRTIO_SCSI_S_BAD_TARGET;
    /* The stand-in for a missing LUN 0 has no statistics. */
    if (lun->stats)
        lun_stats_tmf(lun->stats, lun_stats_control_slot(lun->stats),
                      subtype < LUN_TMF_OTHER ? (enum lun_tmf)subtype : LUN_TMF_OTHER);

    switch (subtype) {
    case VIRTIO_SCSI_T_TMF_ABORT_TASK:
    case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
    case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
    case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
    case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
        /* -EBUSY cannot happen: the caller checked for a free slot. */
        return vscsi_tmf_start(c, head, subtype, lun, tag, now_ns()) < 0 ? VIRTIO_SCSI_S_BUSY : -1;
    case VIRTIO_SCSI_T_TMF_QUERY_TASK:
        return task_present(c, lun, tag, false) ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED
                                                : VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
        return task_present(c, lun, 0, true) ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED
                                             : VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    default:
        /* CLEAR ACA: we never establish ACA (NACA is refused). */
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    }
}

/* Handle one control request; returns the used length, or -1 when it is answered later. */
static int64_t ctrl_one(struct vscsi_ctrl *c)
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
        int r = do_tmf(c, e->head, &req);
        if (r < 0)
            return -1;
        resp.response = (uint8_t)r;
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

bool vscsi_ctrl_process(struct vscsi_ctrl *c)
{
    struct virtq *vq = c->vq;
    unsigned budget = VSCSI_CTRL_BUDGET;
    bool pushed = false, more = false;

    c->elem.iov = c->iov;
    c->elem.iov_max = sizeof(c->iov) / sizeof(c->iov[0]);
    for (;;) {
        int ret = 0;
        virtq_disable_notify(vq);
        /*
         * Any request may be a TMF that needs a slot: with none free, leave
         * them all on the ring until one ends (poll_tmfs frees it).
         */
        while (budget > 0 && vscsi_tmf_slot_free(c) && (ret = virtq_pop(vq, &c->elem)) != 0) {
            budget--;
            if (ret == -EIO) {
                LOG_RATELIMITED(LOG_LEVEL_ERROR, "control queue is corrupt; queue stopped");
                goto out;
            }
            int64_t len = ret < 0 ? 0 : ctrl_one(c);
            if (len >= 0) {
                virtq_log_written(vq, c->elem.iov + c->elem.out_num, c->elem.in_num, (uint64_t)len);
                virtq_push(vq, c->elem.head, (uint32_t)len);
            }
            /* A TMF without victims was answered already; one with victims pushed nothing yet. */
            pushed = true;
        }
        if (budget == 0 || !vscsi_tmf_slot_free(c)) {
            /* Kicks stay off: the caller comes back (budget) or poll_tmfs does (slots). */
            more = budget == 0;
            break;
        }
        if (!virtq_enable_notify(vq))
            break;
    }
out:
    if (pushed)
        virtq_notify(vq);
    return more;
}
