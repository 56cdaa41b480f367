/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_inflight.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t vu_inflight_queue_size(uint16_t queue_size)
{
    size_t bytes = sizeof(struct vu_inflight_split) +
                   (size_t)queue_size * sizeof(struct vu_inflight_desc_split);
    return (bytes + VU_INFLIGHT_ALIGN - 1) & ~(size_t)(VU_INFLIGHT_ALIGN - 1);
}

void vu_inflight_queue_init(struct vu_inflight_split *q, uint16_t queue_size, uint64_t features)
{
    memset(q, 0, vu_inflight_queue_size(queue_size));
    q->features = htole64(features);
    q->desc_num = htole16(queue_size);
    q->used_idx = 0;
    /* Published last: a region with a version is a complete one. */
    __atomic_store_n(&q->version, htole16(VU_INFLIGHT_VERSION), __ATOMIC_RELEASE);
}

int vu_inflight_queue_check(const struct vu_inflight_split *q, uint16_t queue_size)
{
    if (le16toh(__atomic_load_n(&q->version, __ATOMIC_ACQUIRE)) != VU_INFLIGHT_VERSION)
        return -EINVAL;
    if (le16toh(__atomic_load_n(&q->desc_num, __ATOMIC_RELAXED)) != queue_size)
        return -EINVAL;
    return 0;
}

void vu_inflight_mark_popped(struct vu_inflight_split *q, uint16_t head, uint64_t counter)
{
    struct vu_inflight_desc_split *d = &q->desc[head];
    __atomic_store_n(&d->counter, htole64(counter), __ATOMIC_RELAXED);
    /* The counter must be in place before the slot reads as inflight. */
    __atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

void vu_inflight_forget(struct vu_inflight_split *q, uint16_t head)
{
    __atomic_store_n(&q->desc[head].inflight, 0, __ATOMIC_RELEASE);
}

void vu_inflight_pre_push(struct vu_inflight_split *q, uint16_t head)
{
    /* Must be visible before used->idx moves (the caller's store-release). */
    __atomic_store_n(&q->last_batch_head, htole16(head), __ATOMIC_RELEASE);
}

void vu_inflight_post_push(struct vu_inflight_split *q, uint16_t head, uint16_t used_idx)
{
    /*
     * The slot is cleared only now that the guest can see the completion:
     * clearing it earlier would lose the request if we died before used->idx
     * moved.  Dying between the two stores below leaves used_idx stale, which
     * vu_inflight_recover() notices and repairs.
     */
    __atomic_store_n(&q->desc[head].inflight, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&q->used_idx, htole16(used_idx), __ATOMIC_RELEASE);
}

void vu_inflight_recover(struct vu_inflight_split *q, uint16_t queue_size, uint16_t ring_used_idx)
{
    if (le16toh(__atomic_load_n(&q->used_idx, __ATOMIC_ACQUIRE)) == ring_used_idx)
        return;
    uint16_t head = le16toh(__atomic_load_n(&q->last_batch_head, __ATOMIC_RELAXED));
    if (head < queue_size)
        __atomic_store_n(&q->desc[head].inflight, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&q->used_idx, htole16(ring_used_idx), __ATOMIC_RELEASE);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct vu_inflight_entry *x = a, *y = b;
    if (x->counter != y->counter)
        return x->counter < y->counter ? -1 : 1;
    return (int)x->head - (int)y->head;
}

int vu_inflight_collect(const struct vu_inflight_split *q, uint16_t queue_size,
                        struct vu_inflight_entry *out, unsigned max)
{
    unsigned n = 0;

    if (vu_inflight_queue_check(q, queue_size) < 0)
        return -EINVAL;
    for (unsigned i = 0; i < queue_size; i++) {
        const struct vu_inflight_desc_split *d = &q->desc[i];
        if (!__atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE))
            continue;
        if (n >= max)
            return -E2BIG;
        out[n].head = (uint16_t)i;
        out[n].counter = le64toh(__atomic_load_n(&d->counter, __ATOMIC_RELAXED));
        n++;
    }
    qsort(out, n, sizeof(out[0]), entry_cmp);
    return (int)n;
}
