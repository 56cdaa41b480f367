/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Taking over a ring from an earlier backend through the vhost-user inflight
 * region (see virtq_recover_inflight in virtq.h and docs/architecture.md,
 * "Restart and recovery").
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>

#include "vhost/vu_inflight.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"
#include "virtq/virtq_packed.h"

void virtq_forget_resubmit(struct virtq *vq)
{
    free(vq->resubmit);
    vq->resubmit = NULL;
    vq->resubmit_num = 0;
    vq->resubmit_next = 0;
}

/* Forget every mark: the region's account of this ring cannot be true. */
static void clear_marks(struct virtq *vq, const struct vu_inflight_entry *e, int n)
{
    for (int i = 0; i < n; i++)
        vu_inflight_forget(vq->inflight, e[i].head);
}

int virtq_recover_inflight(struct virtq *vq)
{
    struct vu_inflight_entry *entries;
    uint16_t ring_used, outstanding;
    int n;

    virtq_forget_resubmit(vq);
    /* The packed layout of the region is not implemented: the frontend must not get both. */
    if (vq->packed)
        return vq->inflight ? -EOPNOTSUPP : 0;
    if (!vq->inflight || !vq->used || !vq->avail || vq->num == 0)
        return 0;

    ring_used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
    outstanding =
        (uint16_t)(le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) - ring_used);
    vu_inflight_recover(vq->inflight, vq->num, ring_used);

    entries = malloc((size_t)vq->num * sizeof(*entries));
    if (!entries)
        return -ENOMEM;
    /* One read of every slot: what the frontend writes meanwhile is not seen. */
    n = vu_inflight_collect(vq->inflight, vq->num, entries, vq->num);
    if (n <= 0) {
        free(entries);
        return n < 0 ? -EINVAL : 0;
    }
    /*
     * Every request in flight was taken off the avail ring after the ones the
     * used ring accounts for, so there cannot be more of them than the guest
     * made available beyond used->idx.
     */
    if ((unsigned)n > outstanding || outstanding > vq->num) {
        clear_marks(vq, entries, n);
        free(entries);
        return -EINVAL;
    }
    vq->resubmit = malloc((size_t)n * sizeof(*vq->resubmit));
    if (!vq->resubmit) {
        free(entries);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        vq->resubmit[i] = entries[i].head;
    vq->resubmit_num = (unsigned)n;
    vq->resubmit_next = 0;
    /* Sorted oldest first: new pops must order after the newest of them. */
    vq->inflight_counter = entries[n - 1].counter;
    vq->used_idx = ring_used;
    vq->last_avail_idx = (uint16_t)(ring_used + n);
    vq->signalled_used_valid = false;
    free(entries);
    return n;
}

void virtq_unpop(struct virtq *vq, const uint16_t *heads, unsigned n)
{
    if (vq->packed) {
        virtq_packed_unpop(vq, heads, n);
        return;
    }
    if (vq->inflight)
        for (unsigned i = 0; i < n; i++)
            if (heads[i] < vq->num)
                vu_inflight_forget(vq->inflight, heads[i]);
    vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
}
