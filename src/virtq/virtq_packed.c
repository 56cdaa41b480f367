/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Packed virtqueues, device side (virtio 1.1+, 2.8).
 *
 * The driver and the device share one descriptor ring.  We take chains in
 * ring order from last_avail_idx and write each completion as one used
 * descriptor at used_idx, which then skips as many positions as the chain it
 * completes took, whatever chain's slots those were: completions may come in
 * any order, so a slot of a request still in flight can be overwritten by
 * another's used descriptor and then reused by the driver.  That is why
 * nothing of a chain is read from the ring after it was popped (see
 * virtq_packed_map_head).
 *
 * Every descriptor is copied out of the ring once before use, as in virtq.c.
 * A chain whose extent cannot be known (longer than the ring, or running
 * into a slot that is not available) or whose buffer ID cannot be answered
 * (out of range, or already in flight) breaks the ring; anything else wrong
 * with a chain fails that request only.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtq/virtq_packed.h"

#define POS_MASK 0x7fffu /* ring position bits of a wrap-tagged index */

/* The driver made a descriptor available in the lap whose wrap counter is wrap. */
static inline bool is_avail(uint16_t flags, bool wrap)
{
    bool avail = flags & VRING_PACKED_DESC_F_AVAIL;
    bool used = flags & VRING_PACKED_DESC_F_USED;

    return avail == wrap && used != wrap;
}

/*
 * Position as a count modulo twice the ring size, so that positions of two
 * consecutive laps compare: the lap starts with the wrap counter at 1.
 */
static inline uint32_t lap_pos(const struct virtq *vq, uint16_t pos, bool wrap)
{
    return wrap ? pos : (uint32_t)pos + vq->num;
}

/* Bytes we wrote into the ring or the device area, when the frontend logs the used ring. */
static inline void log_ring(const struct virtq *vq, uint64_t gpa, uint64_t len)
{
    if (__builtin_expect(vq->log != NULL, 0) && vq->log_used && gpa != UINT64_MAX)
        vu_log_mark(vq->log, gpa, len);
}

static uint64_t gpa_of(const struct vu_mem_table *mem, const void *host, uint64_t len)
{
    uint64_t gpa;

    return vu_mem_host_to_gpa(mem, host, len, &gpa) == 0 ? gpa : UINT64_MAX;
}

int virtq_packed_set_addr(struct virtq *vq, const struct vu_mem_table *mem, uint64_t desc_uva,
                          uint64_t driver_uva, uint64_t device_uva)
{
    unsigned num = vq->num;
    int err = 0;

    /* Unlike split rings, packed ones need not be a power of two in size. */
    if (num == 0 || num > VIRTQ_MAX_SIZE || vq->last_avail_idx >= num || vq->used_idx >= num)
        return -EINVAL;
    void *desc = virtq_map_part(mem, desc_uva, 16ull * num, VRING_DESC_ALIGN, &err);
    void *drv = desc ? virtq_map_part(mem, driver_uva, sizeof(struct vring_packed_event_le),
                                      VRING_PACKED_EVENT_ALIGN, &err)
                     : NULL;
    void *dev = drv ? virtq_map_part(mem, device_uva, sizeof(struct vring_packed_event_le),
                                     VRING_PACKED_EVENT_ALIGN, &err)
                    : NULL;
    if (dev && (!vq->bufs || vq->bufs_num != num)) {
        struct virtq_packed_buf *bufs = calloc(num, sizeof(*bufs));
        if (!bufs) {
            dev = NULL;
            err = -ENOMEM;
        } else {
            free(vq->bufs);
            vq->bufs = bufs;
            vq->bufs_num = (uint16_t)num;
        }
    }
    if (!dev) {
        vq->mem = NULL;
        virtq_forget_rings(vq);
        return err;
    }
    /* Called again on a memory table change: the ring state and the IDs in flight stand. */
    vq->mem = mem;
    vq->pdesc = desc;
    vq->driver_event = drv;
    vq->device_event = dev;
    vq->pdesc_gpa = gpa_of(mem, desc, 16ull * num);
    vq->device_event_gpa = gpa_of(mem, dev, sizeof(struct vring_packed_event_le));
    return 0;
}

void virtq_packed_set_base(struct virtq *vq, uint32_t base)
{
    vq->last_avail_idx = (uint16_t)(base & POS_MASK);
    vq->avail_wrap = (base >> 15) & 1;
    vq->used_idx = (uint16_t)((base >> 16) & POS_MASK);
    vq->used_wrap = (base >> 31) & 1;
    vq->used_since_signal = 0;
    if (vq->bufs)
        memset(vq->bufs, 0, (size_t)vq->bufs_num * sizeof(*vq->bufs));
}

uint32_t virtq_packed_get_base(const struct virtq *vq)
{
    return (uint32_t)vq->last_avail_idx | (uint32_t)vq->avail_wrap << 15 |
           (uint32_t)vq->used_idx << 16 | (uint32_t)vq->used_wrap << 31;
}

/* Copy a descriptor out of guest memory, once (see read_desc in virtq.c). */
static void read_desc(const struct vring_packed_desc_le *src, struct vring_packed_desc_le *dst)
{
    memcpy(dst, src, sizeof(*dst));
    __asm__ volatile("" : "+m"(*dst));
    dst->addr = le64toh(dst->addr);
    dst->len = le32toh(dst->len);
    dst->id = le16toh(dst->id);
    dst->flags = le16toh(dst->flags);
}

/*
 * An indirect table: consecutive descriptors, as many as its length says;
 * only their WRITE flag means anything (the spec reserves the others).
 */
static int walk_indirect(const struct virtq *vq, struct virtq_walk *w, uint64_t addr, uint32_t len)
{
    const struct vring_packed_desc_le *table = virtq_indirect_table(vq, addr, len);

    if (!table)
        return -EBADMSG;
    for (uint32_t i = 0; i < len / sizeof(*table); i++) {
        struct vring_packed_desc_le d;
        read_desc(&table[i], &d);
        int ret = virtq_walk_add(vq, w, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Descriptor number idx of a chain; an indirect one must be the chain's only one. */
static int add_desc(const struct virtq *vq, struct virtq_walk *w,
                    const struct vring_packed_desc_le *d, unsigned idx)
{
    if (d->flags & VRING_DESC_F_INDIRECT) {
        /* Its own WRITE flag means nothing: only the table's entries count. */
        if (idx > 0 || (d->flags & VRING_DESC_F_NEXT))
            return -EBADMSG;
        return walk_indirect(vq, w, d->addr, d->len);
    }
    return virtq_walk_add(vq, w, d->addr, d->len, d->flags & VRING_DESC_F_WRITE);
}

static int break_ring(struct virtq *vq)
{
    vq->broken = true;
    return -EIO;
}

int virtq_packed_pop(struct virtq *vq, struct virtq_elem *elem)
{
    struct vring_packed_desc_le keep[VIRTQ_PACKED_KEEP];
    struct vring_packed_desc_le d;
    struct virtq_walk w;
    uint16_t pos = vq->last_avail_idx;
    bool wrap = vq->avail_wrap;
    unsigned count = 0;
    int bad = 0;

    if (vq->broken)
        return -EIO;
    if (!vq->pdesc)
        return 0;
    /* Acquire: the chain behind the head was written before the head's flags. */
    if (!is_avail(le16toh(__atomic_load_n(&vq->pdesc[pos].flags, __ATOMIC_ACQUIRE)), wrap))
        return 0;

    virtq_walk_start(&w, elem);
    for (;;) {
        read_desc(&vq->pdesc[pos], &d);
        /*
         * The driver makes every descriptor of a chain available before the
         * first: one that is not means we cannot tell where the chain ends.
         * (The head itself rewritten since the load above is the same.)
         */
        if (!is_avail(d.flags, wrap))
            return break_ring(vq);
        if (count < VIRTQ_PACKED_KEEP)
            keep[count] = d;
        if (bad == 0)
            bad = add_desc(vq, &w, &d, count);
        count++;
        if (++pos == vq->num) {
            pos = 0;
            wrap = !wrap;
        }
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        /* A chain cannot be longer than the ring: past that it would run into itself. */
        if (count == vq->num)
            return break_ring(vq);
    }

    /* The ID is the last descriptor's: the used descriptor must carry it back. */
    uint16_t id = d.id;
    if (id >= vq->num || vq->bufs[id].busy)
        return break_ring(vq);
    struct virtq_packed_buf *b = &vq->bufs[id];
    b->busy = true;
    b->pos = vq->last_avail_idx;
    b->wrap = vq->avail_wrap;
    b->ndesc = (uint16_t)count;
    b->nkeep = count <= VIRTQ_PACKED_KEEP ? (uint8_t)count : 0;
    memcpy(b->keep, keep, b->nkeep * sizeof(keep[0]));
    vq->last_avail_idx = pos;
    vq->avail_wrap = wrap;
    elem->head = id;
    if (bad < 0)
        return virtq_elem_bad(elem);
    return 1;
}

int virtq_packed_map_head(const struct virtq *vq, uint16_t id, struct virtq_elem *elem)
{
    struct virtq_walk w;

    if (vq->broken || !vq->pdesc || id >= vq->num || !vq->bufs[id].busy)
        return -EIO;
    const struct virtq_packed_buf *b = &vq->bufs[id];
    elem->head = id;
    virtq_walk_start(&w, elem);
    int ret = b->nkeep == 0 ? -EBADMSG : 0;
    for (unsigned i = 0; ret == 0 && i < b->nkeep; i++)
        ret = add_desc(vq, &w, &b->keep[i], i);
    if (ret < 0)
        return virtq_elem_bad(elem);
    return 1;
}

void virtq_packed_push(struct virtq *vq, uint16_t id, uint32_t len)
{
    /* id comes from our own pop; one not in flight is a caller bug, not guest input. */
    if (!vq->pdesc || id >= vq->num || !vq->bufs[id].busy)
        return;

    struct virtq_packed_buf *b = &vq->bufs[id];
    struct vring_packed_desc_le *d = &vq->pdesc[vq->used_idx];
    uint16_t flags = vq->used_wrap ? VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0;

    /* WRITE tells the driver that len counts bytes we wrote. */
    if (len)
        flags |= VRING_DESC_F_WRITE;
    GUEST_STORE(&d->id, htole16(id));
    GUEST_STORE(&d->len, htole32(len));
    /* The flags hand the descriptor over: ID and length must be visible first. */
    __atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
    if (vq->pdesc_gpa != UINT64_MAX)
        log_ring(vq, vq->pdesc_gpa + 16ull * vq->used_idx, sizeof(*d));

    b->busy = false;
    unsigned next = (unsigned)vq->used_idx + b->ndesc;
    if (next >= vq->num) {
        next -= vq->num;
        vq->used_wrap = !vq->used_wrap;
    }
    vq->used_idx = (uint16_t)next;
    vq->used_since_signal += b->ndesc;
}

/* Whether the guest wants an interrupt for what was pushed since the last call. */
static bool need_signal(struct virtq *vq)
{
    uint32_t since = vq->used_since_signal;

    /* Our used descriptors must be visible before we read the guest's wishes (see virtq.c). */
    atomic_thread_fence(memory_order_seq_cst);
    vq->used_since_signal = 0;
    uint16_t flags = le16toh(GUEST_LOAD(&vq->driver_event->flags)) & VRING_PACKED_EVENT_MASK;
    if (flags == VRING_PACKED_EVENT_DISABLE)
        return false;
    /* ENABLE, and what we cannot interpret (DESC without EVENT_IDX, reserved 3): signal. */
    if (flags != VRING_PACKED_EVENT_DESC || !vq->event_idx)
        return true;
    if (since == 0)
        return false;
    /* A window of a whole ring or more passed every position, whatever the event says. */
    if (since >= vq->num)
        return true;
    uint16_t off_wrap = le16toh(GUEST_LOAD(&vq->driver_event->off_wrap));
    uint16_t off = off_wrap & POS_MASK;
    if (off >= vq->num)
        return true;
    /*
     * Signal if the event position is among the since positions that our
     * used descriptors took (or skipped) since the last call, counted across
     * the lap boundary.
     */
    uint32_t ring = 2u * vq->num;
    uint32_t now = lap_pos(vq, vq->used_idx, vq->used_wrap);
    uint32_t event = lap_pos(vq, off, off_wrap & VRING_PACKED_EVENT_WRAP);
    return (now + 2 * ring - 1 - event) % ring < since;
}

void virtq_packed_notify(struct virtq *vq)
{
    if (!vq->pdesc || vq->call_fd < 0)
        return;
    if (!need_signal(vq))
        return;
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the guest will be woken anyway. */
    ssize_t r = write(vq->call_fd, &one, sizeof(one));
    (void)r;
}

bool virtq_packed_avail_pending(const struct virtq *vq)
{
    if (!vq->pdesc || vq->broken)
        return false;
    return is_avail(
        le16toh(__atomic_load_n(&vq->pdesc[vq->last_avail_idx].flags, __ATOMIC_ACQUIRE)),
        vq->avail_wrap);
}

bool virtq_packed_enable_notify(struct virtq *vq)
{
    if (!vq->pdesc || vq->broken)
        return false;
    if (vq->event_idx) {
        /* A kick for the next descriptor we will take, not for each one. */
        uint16_t off_wrap =
            (uint16_t)(vq->last_avail_idx | (vq->avail_wrap ? VRING_PACKED_EVENT_WRAP : 0));
        GUEST_STORE(&vq->device_event->off_wrap, htole16(off_wrap));
        GUEST_STORE(&vq->device_event->flags, htole16(VRING_PACKED_EVENT_DESC));
    } else {
        GUEST_STORE(&vq->device_event->flags, htole16(VRING_PACKED_EVENT_ENABLE));
    }
    log_ring(vq, vq->device_event_gpa, sizeof(*vq->device_event));
    /* As in virtq.c: our wish must be visible before we look at the ring again. */
    atomic_thread_fence(memory_order_seq_cst);
    return virtq_packed_avail_pending(vq);
}

void virtq_packed_disable_notify(struct virtq *vq)
{
    /* With EVENT_IDX the event position, once passed, already keeps the driver quiet. */
    if (!vq->device_event || vq->event_idx)
        return;
    GUEST_STORE(&vq->device_event->flags, htole16(VRING_PACKED_EVENT_DISABLE));
    log_ring(vq, vq->device_event_gpa, sizeof(*vq->device_event));
}

void virtq_packed_unpop(struct virtq *vq, const uint16_t *ids, unsigned n)
{
    uint32_t ring = 2u * vq->num, taken = 0;

    if (n == 0 || !vq->pdesc)
        return;
    for (unsigned i = 0; i < n; i++) {
        if (ids[i] >= vq->num || !vq->bufs[ids[i]].busy)
            return;
        taken += vq->bufs[ids[i]].ndesc;
    }
    /*
     * The slots can be offered again only if they still hold the driver's
     * descriptors: the heads must be the last ones taken, and no used
     * descriptor may have been written over the oldest of them since.
     */
    const struct virtq_packed_buf *oldest = &vq->bufs[ids[0]];
    uint32_t used = lap_pos(vq, vq->used_idx, vq->used_wrap);
    uint32_t from = lap_pos(vq, oldest->pos, oldest->wrap);
    uint32_t avail = lap_pos(vq, vq->last_avail_idx, vq->avail_wrap);
    if ((avail + ring - from) % ring == taken &&
        (from + ring - used) % ring <= (avail + ring - used) % ring) {
        vq->last_avail_idx = oldest->pos;
        vq->avail_wrap = oldest->wrap;
        for (unsigned i = 0; i < n; i++)
            vq->bufs[ids[i]].busy = false;
        return;
    }
    /* Otherwise give them back the only way left: used, with nothing written. */
    for (unsigned i = 0; i < n; i++)
        virtq_packed_push(vq, ids[i], 0);
    virtq_packed_notify(vq);
}
