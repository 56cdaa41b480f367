/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Task management functions (see vscsi_tmf.h for the protocol with the
 * workers).  An abort or reset marks its victims, asks the workers to cancel
 * their backend I/O, and answers once the last victim's ABORTED response is
 * on its used ring; nothing waits meanwhile.  Resets raise their unit
 * attention only then, so no command of the old task set can see it.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/iov.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"
#include "virtio_scsi/vscsi_tmf_internal.h"

void vscsi_tmf_victims_done(struct vscsi_tmf_set *set, uint32_t bits)
{
    while (bits) {
        unsigned id = (unsigned)__builtin_ctz(bits);
        bits &= bits - 1;
        if (atomic_fetch_sub_explicit(&set->tmf[id].remaining, 1, memory_order_acq_rel) == 1 &&
            set->notify_fd >= 0) {
            uint64_t one = 1;
            /* EAGAIN: the counter is saturated, the control thread will look anyway. */
            ssize_t w = write(set->notify_fd, &one, sizeof(one));
            (void)w;
        }
    }
}

bool vscsi_tmf_slot_free(const struct vscsi_ctrl *c)
{
    for (unsigned i = 0; i < VSCSI_TMF_MAX; i++)
        if (!c->tmfs.tmf[i].busy)
            return true;
    return false;
}

bool vscsi_ctrl_tmfs_pending(const struct vscsi_ctrl *c)
{
    for (unsigned i = 0; i < VSCSI_TMF_MAX; i++)
        if (c->tmfs.tmf[i].busy && !c->tmfs.tmf[i].answered)
            return true;
    return false;
}

/*
 * Write a TMF response into the control request head and return it.  The
 * chain is mapped now, not when it was taken: memory may have changed since.
 */
void vscsi_ctrl_answer(struct vscsi_ctrl *c, uint16_t head, uint8_t response)
{
    struct virtq_elem e = { .iov = c->iov, .iov_max = sizeof(c->iov) / sizeof(c->iov[0]) };
    struct virtio_scsi_ctrl_tmf_resp resp = { .response = response };
    uint32_t len = 0;

    if (virtq_map_head(c->vq, head, &e) == 1 &&
        iov_size(e.iov + e.out_num, e.in_num) >= sizeof(resp)) {
        iov_from_buf(e.iov + e.out_num, e.in_num, 0, &resp, sizeof(resp));
        len = sizeof(resp);
        virtq_log_written(c->vq, e.iov + e.out_num, e.in_num, len);
    }
    virtq_push(c->vq, head, len);
}

bool vscsi_tmf_request_abort(struct vscsi_tmf_set *set, unsigned target, unsigned lun)
{
    uint32_t want = (target << 16 | lun) + 1;

    for (unsigned i = 0; i < VSCSI_ABORT_REQS; i++) {
        uint32_t cur = atomic_load_explicit(&set->abort_req[i], memory_order_relaxed);

        /* One request per LUN is enough: it aborts whatever is in flight when it starts. */
        if (cur == want || (cur == 0 && atomic_compare_exchange_strong_explicit(
                                            &set->abort_req[i], &cur, want, memory_order_release,
                                            memory_order_relaxed))) {
            uint64_t one = 1;
            ssize_t w = set->notify_fd >= 0 ? write(set->notify_fd, &one, sizeof(one)) : 0;
            (void)w;
            return true;
        }
    }
    return false;
}

/* Start the requested aborts that still have their LUN, while TMF slots are free. */
static void start_requested_aborts(struct vscsi_ctrl *c, uint64_t now_ns)
{
    for (unsigned i = 0; i < VSCSI_ABORT_REQS && vscsi_tmf_slot_free(c); i++) {
        uint32_t req = atomic_exchange_explicit(&c->tmfs.abort_req[i], 0, memory_order_acquire);
        struct scsi_lun *lun;

        if (req == 0)
            continue;
        req--;
        lun = scsi_lookup(c->targets, req >> 16, req & 0xffff);
        /* Detached since (or only the LUN 0 stand-in left): nothing of it runs here. */
        if (lun == NULL || lun->bdev == NULL)
            continue;
        vscsi_tmf_start(c, VSCSI_HEAD_NONE, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, lun, 0, now_ns);
        /* After marking: the tasks running now end ABORTED. */
        LOG_RATELIMITED(LOG_LEVEL_INFO,
                        "LUN %u:%u: another initiator preempted this one (PREEMPT AND ABORT): "
                        "its tasks are aborted",
                        lun->target->id, lun->id);
    }
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

/* Every victim is gone: apply the TMF's own effect and answer it. */
static void tmf_complete(struct vscsi_ctrl *c, struct vscsi_tmf *t)
{
    if (t->subtype == VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET && t->lun->bdev)
        scsi_lun_reset(t->lun);
    else if (t->subtype == VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET)
        reset_all_luns(c->targets);
    if (t->head != VSCSI_HEAD_NONE)
        vscsi_ctrl_answer(c, t->head, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    t->answered = true;
}

int vscsi_tmf_start(struct vscsi_ctrl *c, uint16_t head, uint32_t subtype, struct scsi_lun *lun,
                    uint64_t tag, uint64_t now_ns)
{
    const struct scsi_lun *scope = subtype == VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET ? NULL : lun;
    bool any_tag = subtype != VIRTIO_SCSI_T_TMF_ABORT_TASK;
    struct vscsi_tmf *t = NULL;
    unsigned id, victims = 0;

    for (id = 0; id < VSCSI_TMF_MAX; id++) {
        if (!c->tmfs.tmf[id].busy) {
            t = &c->tmfs.tmf[id];
            break;
        }
    }
    if (!t)
        return -EBUSY; /* the caller checked vscsi_tmf_slot_free() */
    t->busy = true;
    t->answered = false;
    t->head = head;
    t->subtype = subtype;
    t->lun = lun;
    t->deadline_ns = now_ns + (uint64_t)c->tmf_timeout_ms * 1000000u;
    /* Our own reference while marking: no victim can bring it to zero before we are done. */
    atomic_store_explicit(&t->remaining, 1, memory_order_relaxed);
    for (unsigned i = 0; i < c->nreqqs; i++)
        if (c->reqqs[i])
            victims += vscsi_queue_mark_tasks(c->reqqs[i], scope, tag, any_tag, id, t);
    if (victims && c->request_aborts)
        c->request_aborts(c->opaque);
    if (atomic_fetch_sub_explicit(&t->remaining, 1, memory_order_acq_rel) == 1) {
        tmf_complete(c, t);
        t->busy = false;
        return 1;
    }
    return 0;
}

int vscsi_ctrl_poll_tmfs(struct vscsi_ctrl *c, uint64_t now_ns)
{
    uint64_t next = UINT64_MAX;
    bool pushed = false;

    if (c->tmfs.notify_fd >= 0) {
        uint64_t v;
        ssize_t r = read(c->tmfs.notify_fd, &v, sizeof(v));
        (void)r;
    }
    start_requested_aborts(c, now_ns);
    for (unsigned id = 0; id < VSCSI_TMF_MAX; id++) {
        struct vscsi_tmf *t = &c->tmfs.tmf[id];

        if (!t->busy)
            continue;
        if (atomic_load_explicit(&t->remaining, memory_order_acquire) == 0) {
            if (!t->answered) {
                tmf_complete(c, t);
                pushed |= t->head != VSCSI_HEAD_NONE;
            }
            t->busy = false;
            continue;
        }
        if (t->answered)
            continue;
        if (now_ns >= t->deadline_ns) {
            /*
             * A backend that cannot cancel and does not finish: let the
             * guest escalate instead of waiting forever.  The slot stays
             * busy until the victims are gone, since they still report to it;
             * a failed reset resets nothing.
             */
            LOG_RATELIMITED(LOG_LEVEL_WARN,
                            "task management function %u: tasks still running after %u ms; "
                            "answering FAILURE",
                            t->subtype, c->tmf_timeout_ms);
            if (t->head != VSCSI_HEAD_NONE) {
                vscsi_ctrl_answer(c, t->head, VIRTIO_SCSI_S_FAILURE);
                pushed = true;
            }
            t->answered = true;
        } else if (t->deadline_ns < next) {
            next = t->deadline_ns;
        }
    }
    if (pushed)
        virtq_notify(c->vq);
    if (next == UINT64_MAX)
        return -1;
    return (int)((next - now_ns + 999999) / 1000000);
}

bool vscsi_tmf_refers_to(const struct vscsi_tmf_set *set, const struct scsi_lun *lun)
{
    for (unsigned i = 0; i < VSCSI_TMF_MAX; i++)
        if (set->tmf[i].busy && set->tmf[i].lun == lun)
            return true;
    return false;
}
