/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event queue.  The guest posts empty device-writable buffers; they wait
 * here until something happens (a LUN appears or goes, a parameter changes).
 * An event that finds no buffer is not lost silently: the next buffer carries
 * VIRTIO_SCSI_T_EVENTS_MISSED so the guest rescans.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "util/iov.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"

static void deliver(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                    uint32_t reason)
{
    struct virtio_scsi_event ev;
    unsigned slot = 0;

    memset(&ev, 0, sizeof(ev));
    if (evq->missed)
        event |= VIRTIO_SCSI_T_EVENTS_MISSED;
    evq->missed = false;
    ev.event = htole32(event);
    if (event != (VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED))
        vscsi_encode_lun(ev.lun, target, lun_id);
    ev.reason = htole32(reason);
    iov_from_buf(evq->held_iov[slot], evq->held_niov[slot], 0, &ev, sizeof(ev));
    virtq_push(evq->vq, evq->held[slot], sizeof(ev));
    /* Keep the rest in order: the oldest buffer is always used first. */
    evq->nheld--;
    memmove(&evq->held[0], &evq->held[1], evq->nheld * sizeof(evq->held[0]));
    memmove(&evq->held_iov[0], &evq->held_iov[1], evq->nheld * sizeof(evq->held_iov[0]));
    memmove(&evq->held_niov[0], &evq->held_niov[1], evq->nheld * sizeof(evq->held_niov[0]));
    virtq_notify(evq->vq);
}

void vscsi_eventq_process(struct vscsi_eventq *evq)
{
    struct virtq *vq = evq->vq;

    for (;;) {
        virtq_disable_notify(vq);
        while (evq->nheld < VSCSI_EVENT_BUFS) {
            unsigned slot = evq->nheld;
            struct virtq_elem e = { .iov = evq->held_iov[slot], .iov_max = VSCSI_EVENT_IOV };
            int ret = virtq_pop(vq, &e);
            if (ret == 0)
                break;
            if (ret == -EIO) {
                LOG_RATELIMITED(LOG_LEVEL_ERROR, "event queue is corrupt; queue stopped");
                return;
            }
            if (ret < 0 || e.out_num ||
                iov_size(e.iov + e.out_num, e.in_num) < sizeof(struct virtio_scsi_event)) {
                /* Not a usable event buffer: give it back empty. */
                virtq_push(vq, e.head, 0);
                virtq_notify(vq);
                continue;
            }
            evq->held[slot] = e.head;
            evq->held_niov[slot] = e.in_num;
            evq->nheld++;
            if (evq->missed)
                deliver(evq, VIRTIO_SCSI_T_NO_EVENT, 0, 0, 0);
        }
        if (evq->nheld == VSCSI_EVENT_BUFS || !virtq_enable_notify(vq))
            return;
    }
}

bool vscsi_eventq_post(struct vscsi_eventq *evq, uint32_t event, unsigned target, unsigned lun_id,
                       uint32_t reason)
{
    if (evq->vq && evq->nheld == 0)
        vscsi_eventq_process(evq);
    if (!evq->vq || evq->nheld == 0) {
        evq->missed = true;
        return false;
    }
    deliver(evq, event, target, lun_id, reason);
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
        evq->vq->last_avail_idx = (uint16_t)(evq->vq->last_avail_idx - evq->nheld);
    evq->nheld = 0;
}
