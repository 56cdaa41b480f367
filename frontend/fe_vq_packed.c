/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Packed virtqueues, driver side (virtio 1.1+, 2.8).  A request takes one
 * buffer ID (its head, as the library's per-head slots and cookies are
 * indexed) and as many consecutive ring slots as its chain has descriptors;
 * the device answers with one used descriptor carrying the ID, after which
 * the driver's used position moves on by that many slots, whichever slots
 * the device wrote it in.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/fe_internal.h"

/* Flags that make a descriptor available in the driver's current lap. */
static uint16_t avail_bits(bool wrap)
{
    return wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

int fe_vq_packed_init(struct vus_fe_vq *vq)
{
    struct vus_fe *fe = vq->fe;

    vq->packed = true;
    vq->pdesc = vus_fe_alloc(fe, sizeof(*vq->pdesc) * vq->num, 4096);
    vq->drv_event = vus_fe_alloc(fe, sizeof(*vq->drv_event), VRING_PACKED_EVENT_ALIGN);
    vq->dev_event = vus_fe_alloc(fe, sizeof(*vq->dev_event), VRING_PACKED_EVENT_ALIGN);
    if (!vq->pdesc || !vq->drv_event || !vq->dev_event)
        return -ENOMEM;
    /* Both laps start with wrap counters at 1 (virtio 1.1, 2.8.1). */
    vq->avail_wrap = vq->used_wrap = true;
    vq->slots_free = vq->num;
    vq->packed_base = 0x80008000u;
    return 0;
}

static void next_slot(struct vus_fe_vq *vq)
{
    if (++vq->next_avail == vq->num) {
        vq->next_avail = 0;
        vq->avail_wrap = !vq->avail_wrap;
    }
}

int fe_vq_packed_add(struct vus_fe_vq *vq, const struct vus_fe_seg *segs, unsigned n, bool indirect,
                     void *cookie)
{
    unsigned need = indirect ? 1 : n;
    uint16_t id, head_pos, head_flags = 0;

    if (need > vq->slots_free || vq->nfree == 0)
        return -ENOSPC;
    id = vq->free_ids[--vq->nfree];
    head_pos = vq->next_avail;
    if (indirect) {
        /* Packed indirect tables hold packed descriptors, in order; NEXT means nothing there. */
        struct vring_packed_desc_le *t =
            (struct vring_packed_desc_le *)&vq->indir[(size_t)id * FE_INDIR_ENTRIES];
        for (unsigned i = 0; i < n; i++) {
            t[i].addr = htole64(segs[i].gpa);
            t[i].len = htole32(segs[i].len);
            t[i].id = 0;
            t[i].flags = htole16(segs[i].write ? VRING_DESC_F_WRITE : 0);
        }
        vq->pdesc[head_pos].addr = htole64(fe_gpa_of(vq->fe, t));
        vq->pdesc[head_pos].len = htole32(n * (uint32_t)sizeof(*t));
        vq->pdesc[head_pos].id = htole16(id);
        head_flags = (uint16_t)(VRING_DESC_F_INDIRECT | avail_bits(vq->avail_wrap));
        next_slot(vq);
    } else {
        for (unsigned i = 0; i < n; i++) {
            struct vring_packed_desc_le *d = &vq->pdesc[vq->next_avail];
            uint16_t f =
                (uint16_t)((segs[i].write ? VRING_DESC_F_WRITE : 0) |
                           (i + 1 < n ? VRING_DESC_F_NEXT : 0) | avail_bits(vq->avail_wrap));
            d->addr = htole64(segs[i].gpa);
            d->len = htole32(segs[i].len);
            d->id = htole16(id);
            /* The head's flags go last: until then the device sees none of the chain. */
            if (i == 0)
                head_flags = f;
            else
                d->flags = htole16(f);
            next_slot(vq);
        }
    }
    vq->slots_free -= need;
    vq->heads[id] = (struct fe_head){ .cookie = cookie, .ndesc = (uint16_t)need, .busy = true };
    vq->added = (uint16_t)(vq->added + need);
    vq->inflight++;
    atomic_store_explicit((_Atomic uint16_t *)&vq->pdesc[head_pos].flags, htole16(head_flags),
                          memory_order_release);
    return id;
}

void fe_vq_packed_kick(struct vus_fe_vq *vq)
{
    struct vring_packed_event_le ev;
    uint16_t flags, event, now, old;
    bool need;

    if (vq->added == 0)
        return;
    /* Our descriptors before the device's wishes, as with split rings' avail index. */
    atomic_thread_fence(memory_order_seq_cst);
    ev.off_wrap = le16toh(__atomic_load_n(&vq->dev_event->off_wrap, __ATOMIC_RELAXED));
    ev.flags = le16toh(__atomic_load_n(&vq->dev_event->flags, __ATOMIC_RELAXED));
    flags = ev.flags & VRING_PACKED_EVENT_MASK;
    if (flags != VRING_PACKED_EVENT_DESC) {
        need = flags != VRING_PACKED_EVENT_DISABLE;
    } else {
        /*
         * Positions as offsets from the start of our current lap, modulo
         * 2^16: one in the previous lap is negative.  The device wants a
         * kick if it waits at a slot we made available since the last one.
         */
        now = vq->next_avail;
        old = (uint16_t)(now - vq->added);
        event = ev.off_wrap & 0x7fff;
        if (!!(ev.off_wrap & VRING_PACKED_EVENT_WRAP) != vq->avail_wrap)
            event = (uint16_t)(event - vq->num);
        need = vring_need_event(event, now, old);
    }
    vq->added = 0;
    if (need && vq->kick_fd >= 0) {
        uint64_t one = 1;
        vq->kicks++;
        ssize_t w = write(vq->kick_fd, &one, sizeof(one));
        (void)w; /* a saturated eventfd still wakes the device */
    }
}

/* Whether the descriptor at our used position carries the device's mark for this lap. */
bool fe_vq_packed_has_used(const struct vus_fe_vq *vq)
{
    uint16_t f;

    if (!vq->pdesc)
        return false;
    f = le16toh(atomic_load_explicit((_Atomic uint16_t *)&vq->pdesc[vq->next_used].flags,
                                     memory_order_acquire));
    return !!(f & VRING_PACKED_DESC_F_AVAIL) == vq->used_wrap &&
           !!(f & VRING_PACKED_DESC_F_USED) == vq->used_wrap;
}

int fe_vq_packed_reap_head(struct vus_fe_vq *vq, uint16_t *head, uint32_t *len)
{
    const struct vring_packed_desc_le *d;
    struct fe_head *h;
    uint16_t id;

    if (!fe_vq_packed_has_used(vq))
        return 0;
    d = &vq->pdesc[vq->next_used];
    id = le16toh(d->id);
    if (id >= vq->num || !vq->heads[id].busy)
        return -EIO;
    h = &vq->heads[id];
    *len = le32toh(d->len);
    *head = id;
    vq->next_used = (uint16_t)(vq->next_used + h->ndesc);
    if (vq->next_used >= vq->num) {
        vq->next_used = (uint16_t)(vq->next_used - vq->num);
        vq->used_wrap = !vq->used_wrap;
    }
    vq->slots_free += h->ndesc;
    vq->free_ids[vq->nfree++] = id;
    h->busy = false;
    vq->inflight--;
    return 1;
}

/*
 * Ask for a call at the next used descriptor (on) or for none (off).  With
 * EVENT_IDX the wish names that descriptor's position and lap, as Linux's
 * driver does; without it, ENABLE asks for a call at every completion.
 */
void fe_vq_packed_want_calls(struct vus_fe_vq *vq, bool on)
{
    uint16_t flags = VRING_PACKED_EVENT_DISABLE;

    if (on && (vq->fe->features & (1ull << FE_F_EVENT_IDX))) {
        uint16_t off = (uint16_t)(vq->next_used | (vq->used_wrap ? VRING_PACKED_EVENT_WRAP : 0));
        __atomic_store_n(&vq->drv_event->off_wrap, htole16(off), __ATOMIC_RELAXED);
        flags = VRING_PACKED_EVENT_DESC;
    } else if (on) {
        flags = VRING_PACKED_EVENT_ENABLE;
    }
    /* off_wrap before the flags that make the device look at it. */
    __atomic_store_n(&vq->drv_event->flags, htole16(flags), __ATOMIC_RELEASE);
}
