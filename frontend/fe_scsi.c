/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-scsi on top of the virtqueues: commands, task management, events.
 * Headers live in per-head slots of guest memory; the response slot is
 * filled with 0xff before submission so a caller can tell "the device wrote
 * nothing" from a real answer.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "frontend/fe_internal.h"

#define UNTOUCHED 0xff

void vus_fe_lun_encode(uint8_t lun[8], unsigned target, unsigned lun_id)
{
    memset(lun, 0, 8);
    lun[0] = 1;
    lun[1] = (uint8_t)target;
    lun[2] = (uint8_t)(0x40 | ((lun_id >> 8) & 0x3f));
    lun[3] = (uint8_t)lun_id;
}

/* Append [p, p+len) as segments, cut every piece bytes when piece is not 0. */
static int add_segs(const struct vus_fe *fe, struct vus_fe_seg *segs, unsigned *n, const void *p,
                    size_t len, bool write, size_t piece)
{
    uint64_t gpa;

    if (len == 0)
        return 0;
    if (vus_fe_gpa(fe, p, len, &gpa) < 0)
        return -EFAULT;
    if (!piece)
        piece = len;
    for (size_t off = 0; off < len; off += piece) {
        if (*n >= VUS_FE_MAX_SEGS)
            return -E2BIG;
        size_t k = len - off < piece ? len - off : piece;
        segs[(*n)++] = (struct vus_fe_seg){ .gpa = gpa + off, .len = (uint32_t)k, .write = write };
    }
    return 0;
}

int vus_fe_cmd_submit(struct vus_fe_vq *vq, struct vus_fe_cmd *cmd)
{
    struct vus_fe_seg segs[VUS_FE_MAX_SEGS];
    struct virtio_scsi_cmd_req *req;
    uint8_t *resp;
    size_t piece = 0;
    unsigned n = 0;
    int r;

    if (vq->nfree == 0)
        return -ENOSPC;
    /* The head is the id on top of the free stack, whichever layout follows. */
    uint16_t head = vq->free_ids[vq->nfree - 1];
    req = (void *)(vq->slots + (size_t)head * FE_SLOT_SIZE + FE_SLOT_REQ_OFF);
    resp = vq->slots + (size_t)head * FE_SLOT_SIZE + FE_SLOT_RESP_OFF;
    memset(req, 0, sizeof(*req));
    vus_fe_lun_encode(req->lun, cmd->target, cmd->lun);
    req->tag = htole64(cmd->tag);
    req->task_attr = cmd->task_attr;
    memcpy(req->cdb, cmd->cdb, sizeof(req->cdb));
    memset(resp, UNTOUCHED, sizeof(struct virtio_scsi_cmd_resp));

    if (cmd->flags & VUS_FE_CMD_SPLIT_HDR)
        piece = cmd->hdr_piece ? cmd->hdr_piece : 1;
    r = add_segs(vq->fe, segs, &n, req, sizeof(*req), false, piece);
    for (unsigned i = 0; r == 0 && i < cmd->out_cnt; i++)
        r = add_segs(vq->fe, segs, &n, cmd->out[i].iov_base, cmd->out[i].iov_len, false, 0);
    if (r == 0)
        r = add_segs(vq->fe, segs, &n, resp, sizeof(struct virtio_scsi_cmd_resp), true, piece);
    for (unsigned i = 0; r == 0 && i < cmd->in_cnt; i++)
        r = add_segs(vq->fe, segs, &n, cmd->in[i].iov_base, cmd->in[i].iov_len, true, 0);
    if (r < 0)
        return r;
    if (!(cmd->flags & VUS_FE_CMD_INDIRECT) && n > vq->nfree)
        return -ENOSPC;
    r = vus_fe_vq_add(vq, segs, n, (cmd->flags & VUS_FE_CMD_INDIRECT) ? VUS_FE_INDIRECT : 0, cmd);
    if (r < 0)
        return r;
    vq->cmd_of[head] = cmd;
    return 0;
}

struct vus_fe_cmd *vus_fe_cmd_reap(struct vus_fe_vq *vq)
{
    struct virtio_scsi_cmd_resp resp;
    struct vus_fe_cmd *cmd;
    uint16_t head;
    uint32_t len;

    if (fe_vq_reap_head(vq, &head, &len) != 1)
        return NULL;
    cmd = vq->cmd_of[head];
    vq->cmd_of[head] = NULL;
    if (!cmd)
        return NULL;
    memcpy(&resp, vq->slots + (size_t)head * FE_SLOT_SIZE + FE_SLOT_RESP_OFF, sizeof(resp));
    cmd->used_len = len;
    cmd->response = resp.response;
    cmd->status = resp.status;
    cmd->resid = le32toh(resp.resid);
    cmd->sense_len = le32toh(resp.sense_len);
    memcpy(cmd->sense, resp.sense, sizeof(cmd->sense));
    return cmd;
}

int vus_fe_cmd_exec(struct vus_fe_vq *vq, struct vus_fe_cmd *cmd, int timeout_ms)
{
    int r = vus_fe_cmd_submit(vq, cmd);

    if (r < 0)
        return r;
    vus_fe_vq_kick(vq);
    r = vus_fe_vq_wait(vq, timeout_ms);
    if (r <= 0)
        return r < 0 ? r : -ETIMEDOUT;
    return vus_fe_cmd_reap(vq) == cmd ? 0 : -EIO;
}

/* One request/response pair on the control queue, synchronously. */
static int ctrl_exchange(struct vus_fe *fe, const void *req, size_t req_len, void *resp,
                         size_t resp_len, int timeout_ms)
{
    struct vus_fe_vq *vq = &fe->vqs[VIRTIO_SCSI_VQ_CONTROL];
    struct vus_fe_seg segs[2];
    uint16_t head;
    uint32_t len;
    int r;

    if (vq->nfree == 0)
        return -ENOSPC;
    head = vq->free_ids[vq->nfree - 1];
    uint8_t *slot = vq->slots + (size_t)head * FE_SLOT_SIZE;
    memcpy(slot + FE_SLOT_REQ_OFF, req, req_len);
    memset(slot + FE_SLOT_RESP_OFF, UNTOUCHED, resp_len);
    segs[0] =
        (struct vus_fe_seg){ fe_gpa_of(fe, slot + FE_SLOT_REQ_OFF), (uint32_t)req_len, false };
    segs[1] =
        (struct vus_fe_seg){ fe_gpa_of(fe, slot + FE_SLOT_RESP_OFF), (uint32_t)resp_len, true };
    r = vus_fe_vq_add(vq, segs, 2, 0, NULL);
    if (r < 0)
        return r;
    vus_fe_vq_kick(vq);
    r = vus_fe_vq_wait(vq, timeout_ms);
    if (r <= 0)
        return r < 0 ? r : -ETIMEDOUT;
    r = fe_vq_reap_head(vq, &head, &len);
    if (r != 1)
        return r < 0 ? r : -EIO;
    memcpy(resp, vq->slots + (size_t)head * FE_SLOT_SIZE + FE_SLOT_RESP_OFF, resp_len);
    return (int)len;
}

int vus_fe_tmf(struct vus_fe *fe, uint32_t subtype, unsigned target, unsigned lun, uint64_t tag,
               uint8_t *response, int timeout_ms)
{
    struct virtio_scsi_ctrl_tmf_req req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                            .subtype = htole32(subtype),
                                            .tag = htole64(tag) };
    struct virtio_scsi_ctrl_tmf_resp resp;
    int r;

    vus_fe_lun_encode(req.lun, target, lun);
    r = ctrl_exchange(fe, &req, sizeof(req), &resp, sizeof(resp), timeout_ms);
    if (r < 0)
        return r;
    *response = resp.response;
    return 0;
}

int vus_fe_an(struct vus_fe *fe, uint32_t type, unsigned target, unsigned lun, uint32_t requested,
              uint32_t *actual, uint8_t *response, int timeout_ms)
{
    struct virtio_scsi_ctrl_an_req req = { .type = htole32(type),
                                           .event_requested = htole32(requested) };
    struct virtio_scsi_ctrl_an_resp resp;
    int r;

    vus_fe_lun_encode(req.lun, target, lun);
    r = ctrl_exchange(fe, &req, sizeof(req), &resp, sizeof(resp), timeout_ms);
    if (r < 0)
        return r;
    *actual = le32toh(resp.event_actual);
    *response = resp.response;
    return 0;
}

int vus_fe_event_post(struct vus_fe *fe, unsigned n)
{
    struct vus_fe_vq *vq = &fe->vqs[VIRTIO_SCSI_VQ_EVENT];

    for (unsigned i = 0; i < n; i++) {
        if (vq->nfree == 0)
            return -ENOSPC;
        uint16_t head = vq->free_ids[vq->nfree - 1];
        uint8_t *slot = vq->slots + (size_t)head * FE_SLOT_SIZE;
        struct vus_fe_seg seg = { fe_gpa_of(fe, slot), sizeof(struct virtio_scsi_event), true };
        memset(slot, UNTOUCHED, sizeof(struct virtio_scsi_event));
        int r = vus_fe_vq_add(vq, &seg, 1, 0, NULL);
        if (r < 0)
            return r;
    }
    vus_fe_vq_kick(vq);
    return 0;
}

int vus_fe_event_reap(struct vus_fe *fe, struct virtio_scsi_event *ev, uint32_t *len)
{
    struct vus_fe_vq *vq = &fe->vqs[VIRTIO_SCSI_VQ_EVENT];
    uint16_t head;
    int r = fe_vq_reap_head(vq, &head, len);

    if (r != 1)
        return r;
    memcpy(ev, vq->slots + (size_t)head * FE_SLOT_SIZE, sizeof(*ev));
    ev->event = le32toh(ev->event);
    ev->reason = le32toh(ev->reason);
    return 1;
}
