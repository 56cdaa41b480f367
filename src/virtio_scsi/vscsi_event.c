/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event queue.  The guest posts empty device-writable buffers; they wait
 * here until something happens (a LUN appears or goes, a parameter changes).
 * An event that finds no buffer is not lost silently: the next buffer carries
 * VIRTIO_SCSI_T_EVENTS_MISSED so the guest rescans.
 *
 * Buffers can wait for hours, across memory table changes: only their heads
 * are kept, and a chain is mapped again when an event is written into it.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "util/iov.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"

/* Whether the chain of head is a usable event buffer now; its writable part in e. */
static bool map_event_buffer(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
    return virtq_map_head(vq, head, e) == 1 && e->out_num == 0 &&
           iov_size(e->iov, e->in_num) >= sizeof(struct virtio_scsi_event);
}

/* Drop the oldest held buffer from the list (it was used or given back). */
static void unhold_oldest(struct vscsi_eventq *evq)
{
    evq->nheld--;
    memmove(&evq->held[0], &evq->held[1], evq->nheld * sizeof(evq->held[0]));
}

/* Write the event into the oldest held buffer that still maps; false if none does. */
static bool deliver(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                    uint32_t reason)
{
    struct iovec iov[VSCSI_EVENT_IOV];
    struct virtq_elem e = { .iov = iov, .iov_max = VSCSI_EVENT_IOV };
    struct virtio_scsi_event ev;

    memset(&ev, 0, sizeof(ev));
    if (evq->missed)
        event |= VIRTIO_SCSI_T_EVENTS_MISSED;
    ev.event = htole32(event);
    if (event != (VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED))
        vscsi_encode_lun(ev.lun, target, lun_id);
    ev.reason = htole32(reason);
    while (evq->nheld > 0) {
        uint16_t head = evq->held[0];
        bool ok = map_event_buffer(evq->vq, head, &e);

        /* The oldest buffer is always used first; one that no longer maps goes back empty. */
        if (ok) {
            iov_from_buf(e.iov, e.in_num, 0, &ev, sizeof(ev));
            virtq_log_written(evq->vq, e.iov, e.in_num, sizeof(ev));
        }
        virtq_push(evq->vq, head, ok ? sizeof(ev) : 0);
        unhold_oldest(evq);
        virtq_notify(evq->vq);
        if (ok) {
            evq->missed = false;
            return true;
        }
    }
    return false;
}

bool vscsi_eventq_process(struct vscsi_eventq *evq)
{
    struct virtq *vq = evq->vq;
    unsigned budget = VSCSI_CTRL_BUDGET;

    for (;;) {
        virtq_disable_notify(vq);
        while (evq->nheld < VSCSI_EVENT_BUFS) {
            struct iovec iov[VSCSI_EVENT_IOV];
            struct virtq_elem e = { .iov = iov, .iov_max = VSCSI_EVENT_IOV };
            if (budget == 0)
                return true;
            int ret = virtq_pop(vq, &e);
            if (ret == 0)
                break;
            if (ret == -EIO) {
                LOG_RATELIMITED(LOG_LEVEL_ERROR, "event queue is corrupt; queue stopped");
                return false;
            }
            budget--;
            if (ret < 0 || e.out_num ||
                iov_size(e.iov + e.out_num, e.in_num) < sizeof(struct virtio_scsi_event)) {
                /* Not a usable event buffer: give it back empty. */
                virtq_push(vq, e.head, 0);
                virtq_notify(vq);
                continue;
            }
            evq->held[evq->nheld++] = e.head;
            if (evq->missed)
                deliver(evq, VIRTIO_SCSI_T_NO_EVENT, 0, 0, 0);
        }
        if (evq->nheld == VSCSI_EVENT_BUFS || !virtq_enable_notify(vq))
            return false;
    }
}

bool vscsi_eventq_post(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                       uint32_t reason)
{
    if (evq->vq && evq->nheld == 0)
        vscsi_eventq_process(evq);
    if (!evq->vq || !deliver(evq, event, target, lun_id, reason)) {
        evq->missed = true;
        return false;
    }
    return true;
}

void vscsi_eventq_stop(struct vscsi_eventq *evq)
{
    /*
     * The held buffers are the last ones taken, in order: un-take them.  (A
     * guest that mixed unusable buffers in after them gets some of those
     * offered again instead; only that guest is confused by it.)
     */
    if (evq->vq)
        virtq_unpop(evq->vq, evq->held, evq->nheld);
    evq->nheld = 0;
}
