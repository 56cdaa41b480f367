/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueues, driver side (packed ones: fe_vq_packed.c).  Each head remembers the descriptor
 * ids it owns, so a completion frees exactly those even when the chain was built deliberately
 * broken (loops, bad next fields): the table is never walked.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/fe_internal.h"

#define INDIR_ENTRIES FE_INDIR_ENTRIES

int fe_vq_init(struct vus_fe *fe, unsigned idx, uint16_t num)
{
    struct vus_fe_vq *vq = &fe->vqs[idx];

    vq->fe = fe;
    vq->idx = idx;
    vq->num = num;
    if (fe->features & (1ull << FE_F_RING_PACKED)) {
        if (fe_vq_packed_init(vq) < 0)
            return -ENOMEM;
    } else {
        vq->desc = vus_fe_alloc(fe, vring_desc_size(num), 4096);
        vq->avail = vus_fe_alloc(fe, vring_avail_size(num), 4096);
        vq->used = vus_fe_alloc(fe, vring_used_size(num), 4096);
        if (!vq->desc || !vq->avail || !vq->used)
            return -ENOMEM;
    }
    vq->slots = vus_fe_alloc(fe, (size_t)num * FE_SLOT_SIZE, 64);
    vq->indir = fe->features & (1ull << FE_F_INDIRECT_DESC)
                    ? vus_fe_alloc(fe, (size_t)num * INDIR_ENTRIES * 16, 16)
                    : NULL;
    if (!vq->slots)
        return -ENOMEM;
    vq->free_ids = calloc(num, sizeof(*vq->free_ids));
    vq->heads = calloc(num, sizeof(*vq->heads));
    vq->cmd_of = calloc(num, sizeof(*vq->cmd_of));
    if (!vq->free_ids || !vq->heads || !vq->cmd_of)
        return -ENOMEM;
    /* Stack popped from the top: ids come out 0, 1, 2, ... on a fresh ring. */
    for (unsigned i = 0; i < num; i++)
        vq->free_ids[i] = (uint16_t)(num - 1 - i);
    vq->nfree = num;
    return 0;
}

void fe_vq_fini(struct vus_fe_vq *vq)
{
    if (vq->kick_fd >= 0)
        close(vq->kick_fd);
    if (vq->call_fd >= 0)
        close(vq->call_fd);
    vq->kick_fd = vq->call_fd = -1;
    free(vq->free_ids);
    free(vq->heads);
    free(vq->cmd_of);
    vq->free_ids = NULL;
    vq->heads = NULL;
    vq->cmd_of = NULL;
}

static bool has_event_idx(const struct vus_fe_vq *vq)
{
    return vq->fe->features & (1ull << FE_F_EVENT_IDX);
}

int vus_fe_vq_take_ids(struct vus_fe_vq *vq, unsigned n, uint16_t *ids)
{
    /* Raw descriptors are split-ring descriptors. */
    if (vq->packed)
        return -ENOTSUP;
    if (n == 0 || n > vq->nfree || n > VUS_FE_MAX_SEGS + 2)
        return -ENOSPC;
    for (unsigned i = 0; i < n; i++)
        ids[i] = vq->free_ids[--vq->nfree];
    return 0;
}

void vus_fe_vq_write_desc(struct vus_fe_vq *vq, uint16_t id, uint64_t addr, uint32_t len,
                          uint16_t flags, uint16_t next)
{
    struct vring_desc_le *d;

    if (vq->packed)
        return;
    d = &vq->desc[id % vq->num];
    d->addr = htole64(addr);
    d->len = htole32(len);
    d->flags = htole16(flags);
    d->next = htole16(next);
}

static void put_avail(struct vus_fe_vq *vq, uint16_t head)
{
    vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
    vq->avail_idx++;
    vq->inflight++;
}

int vus_fe_vq_publish_raw(struct vus_fe_vq *vq, uint16_t head, const uint16_t *ids, unsigned n,
                          void *cookie)
{
    struct fe_head *h;

    if (vq->packed)
        return -ENOTSUP;
    if (n > VUS_FE_MAX_SEGS + 2)
        return -EINVAL;
    /* Heads beyond the table are the caller's lie; nothing of ours to track. */
    if (head < vq->num) {
        h = &vq->heads[head];
        if (h->busy)
            return -EBUSY;
        h->busy = true;
        h->cookie = cookie;
        h->ndesc = (uint16_t)n;
        memcpy(h->ids, ids, n * sizeof(*ids));
    }
    put_avail(vq, head);
    return 0;
}

int vus_fe_vq_add(struct vus_fe_vq *vq, const struct vus_fe_seg *segs, unsigned n, unsigned flags,
                  void *cookie)
{
    bool indirect = flags & VUS_FE_INDIRECT;
    uint16_t ids[VUS_FE_MAX_SEGS + 2];
    unsigned need = indirect ? 1 : n;
    int r;

    if (n == 0 || n > VUS_FE_MAX_SEGS)
        return -EINVAL;
    if (indirect && !vq->indir)
        return -ENOTSUP;
    if (indirect && n > VUS_FE_MAX_INDIR)
        return -E2BIG;
    if (vq->packed)
        return fe_vq_packed_add(vq, segs, n, indirect, cookie);
    r = vus_fe_vq_take_ids(vq, need, ids);
    if (r < 0)
        return r;
    if (indirect) {
        struct vring_desc_le *t = &vq->indir[(size_t)ids[0] * INDIR_ENTRIES];
        for (unsigned i = 0; i < n; i++) {
            t[i].addr = htole64(segs[i].gpa);
            t[i].len = htole32(segs[i].len);
            t[i].flags = htole16((segs[i].write ? VRING_DESC_F_WRITE : 0) |
                                 (i + 1 < n ? VRING_DESC_F_NEXT : 0));
            t[i].next = htole16((uint16_t)(i + 1 < n ? i + 1 : 0));
        }
        vus_fe_vq_write_desc(vq, ids[0], fe_gpa_of(vq->fe, t), n * 16, VRING_DESC_F_INDIRECT, 0);
    } else {
        for (unsigned i = 0; i < n; i++)
            vus_fe_vq_write_desc(vq, ids[i], segs[i].gpa, segs[i].len,
                                 (uint16_t)((segs[i].write ? VRING_DESC_F_WRITE : 0) |
                                            (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
                                 i + 1 < n ? ids[i + 1] : 0);
    }
    r = vus_fe_vq_publish_raw(vq, ids[0], ids, need, cookie);
    return r < 0 ? r : ids[0];
}

void vus_fe_vq_kick(struct vus_fe_vq *vq)
{
    uint16_t old = vq->avail_pub, now = vq->avail_idx;
    bool need;

    if (vq->packed) {
        fe_vq_packed_kick(vq);
        return;
    }
    if (old == now)
        return;
    atomic_store_explicit((_Atomic uint16_t *)&vq->avail->idx, htole16(now), memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (has_event_idx(vq))
        need = vring_need_event(le16toh(*vring_avail_event(vq->used, vq->num)), now, old);
    else
        need = !(le16toh(vq->used->flags) & VRING_USED_F_NO_NOTIFY);
    vq->avail_pub = now;
    if (need && vq->kick_fd >= 0) {
        uint64_t one = 1;
        vq->kicks++;
        ssize_t w = write(vq->kick_fd, &one, sizeof(one));
        (void)w; /* a saturated eventfd still wakes the device */
    }
}

void vus_fe_vq_avail_move(struct vus_fe_vq *vq, uint16_t delta)
{
    /* No avail index in a packed ring. */
    if (vq->packed)
        return;
    vq->avail_idx = (uint16_t)(vq->avail_idx + delta);
    vq->avail_pub = vq->avail_idx;
    atomic_store_explicit((_Atomic uint16_t *)&vq->avail->idx, htole16(vq->avail_idx),
                          memory_order_release);
}

void vus_fe_vq_avail_jump(struct vus_fe_vq *vq, uint16_t delta)
{
    uint64_t one = 1;
    ssize_t w;

    if (vq->packed)
        return;
    vus_fe_vq_avail_move(vq, delta);
    w = write(vq->kick_fd, &one, sizeof(one));
    (void)w;
}

static uint16_t used_idx(const struct vus_fe_vq *vq)
{
    return le16toh(atomic_load_explicit((_Atomic uint16_t *)&vq->used->idx, memory_order_acquire));
}

/* 1 with the head and length of the next completion, 0 if none, -EIO for a device lie. */
int fe_vq_reap_head(struct vus_fe_vq *vq, uint16_t *head, uint32_t *len)
{
    struct vring_used_elem_le *e;
    struct fe_head *h;
    uint32_t id;

    if (vq->packed)
        return fe_vq_packed_reap_head(vq, head, len);
    if (!vq->used || used_idx(vq) == vq->last_used)
        return 0;
    e = &vq->used->ring[vq->last_used % vq->num];
    id = le32toh(e->id);
    if (id >= vq->num || !vq->heads[id].busy)
        return -EIO;
    h = &vq->heads[id];
    for (unsigned i = 0; i < h->ndesc; i++)
        vq->free_ids[vq->nfree++] = h->ids[i];
    h->busy = false;
    vq->last_used++;
    vq->inflight--;
    *head = (uint16_t)id;
    *len = le32toh(e->len);
    return 1;
}

uint16_t vus_fe_vq_used_idx(const struct vus_fe_vq *vq)
{
    return vq->used ? used_idx(vq) : 0;
}

int vus_fe_vq_reap(struct vus_fe_vq *vq, void **cookie, uint32_t *len)
{
    uint16_t head;
    int r = fe_vq_reap_head(vq, &head, len);

    if (r == 1 && cookie)
        *cookie = vq->heads[head].cookie;
    return r;
}

/*
 * Ask the device for a call at the next completion (on) or for none (off).
 * With EVENT_IDX a used_event left behind already stops calls, so only
 * asking needs a store; without it the flag is all the device looks at.
 */
static void want_calls(struct vus_fe_vq *vq, bool on)
{
    if (vq->packed) {
        fe_vq_packed_want_calls(vq, on);
        return;
    }
    if (has_event_idx(vq)) {
        if (on)
            *vring_used_event(vq->avail, vq->num) = htole16(vq->last_used);
        return;
    }
    __atomic_store_n(&vq->avail->flags, htole16(on ? 0 : VRING_AVAIL_F_NO_INTERRUPT),
                     __ATOMIC_RELAXED);
}

/* Whether a completion waits to be reaped. */
static bool has_used(const struct vus_fe_vq *vq)
{
    return vq->packed ? fe_vq_packed_has_used(vq) : used_idx(vq) != vq->last_used;
}

static int wait_call(struct vus_fe_vq *vq, int timeout_ms)
{
    uint64_t v;

    for (;;) {
        if (has_used(vq))
            return 1;
        want_calls(vq, true);
        atomic_thread_fence(memory_order_seq_cst);
        if (has_used(vq))
            return 1;
        int r = fe_wait_readable(vq->call_fd, timeout_ms);
        if (r < 0)
            return r;
        if (r == 0)
            return has_used(vq);
        if (read(vq->call_fd, &v, sizeof(v)) == sizeof(v))
            vq->calls += v;
    }
}

int vus_fe_vq_wait(struct vus_fe_vq *vq, int timeout_ms)
{
    int r = wait_call(vq, timeout_ms);

    /* Awake again: completions are reaped without calls until the next wait. */
    want_calls(vq, false);
    return r;
}

unsigned vus_fe_vq_free_descs(const struct vus_fe_vq *vq)
{
    /* Packed: ring slots; there are as many buffer IDs as slots, and a request takes one ID. */
    return vq->packed ? vq->slots_free : vq->nfree;
}

unsigned vus_fe_vq_size(const struct vus_fe_vq *vq)
{
    return vq->num;
}

unsigned vus_fe_vq_inflight(const struct vus_fe_vq *vq)
{
    return vq->inflight;
}

uint64_t vus_fe_vq_calls(const struct vus_fe_vq *vq)
{
    return vq->calls;
}

uint64_t vus_fe_vq_kicks(const struct vus_fe_vq *vq)
{
    return vq->kicks;
}

void *vus_fe_vq_hdr_slot(struct vus_fe_vq *vq, uint16_t head, size_t *len)
{
    if (head >= vq->num)
        return NULL;
    if (len)
        *len = FE_SLOT_SIZE;
    return vq->slots + (size_t)head * FE_SLOT_SIZE;
}
