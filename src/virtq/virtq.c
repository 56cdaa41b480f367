/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "virtq/virtq.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhost/vu_inflight.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq_packed.h"

/*
 * Mark bytes [off, off + len) of the used ring dirty, after writing them,
 * when the frontend asked for the used ring to be logged (VHOST_VRING_F_LOG).
 */
static inline void log_used(const struct virtq *vq, uint64_t off, uint64_t len)
{
    if (__builtin_expect(vq->log != NULL, 0) && vq->log_used)
        vu_log_mark(vq->log, vq->log_used_gpa + off, len);
}

static bool is_aligned(uint64_t v, uint64_t align)
{
    return (v & (align - 1)) == 0;
}

/*
 * Translate one ring part and check its alignment both as the frontend gave
 * it and as we map it (our atomics need the latter).
 */
void *virtq_map_part(const struct vu_mem_table *mem, uint64_t uva, uint64_t size, uint64_t align,
                     int *err)
{
    if (!is_aligned(uva, align)) {
        *err = -EINVAL;
        return NULL;
    }
    void *host = vu_mem_uva_to_host(mem, uva, size);
    if (!host) {
        *err = -EFAULT;
        return NULL;
    }
    if (!is_aligned((uintptr_t)host, align)) {
        *err = -EINVAL;
        return NULL;
    }
    return host;
}

int virtq_set_addr(struct virtq *vq, const struct vu_mem_table *mem, uint64_t desc_uva,
                   uint64_t avail_uva, uint64_t used_uva)
{
    unsigned num = vq->num;
    int err = 0;

    if (vq->packed)
        return virtq_packed_set_addr(vq, mem, desc_uva, avail_uva, used_uva);
    if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)) != 0)
        return -EINVAL;
    void *desc = virtq_map_part(mem, desc_uva, vring_desc_size(num), VRING_DESC_ALIGN, &err);
    void *avail =
        desc ? virtq_map_part(mem, avail_uva, vring_avail_size(num), VRING_AVAIL_ALIGN, &err)
             : NULL;
    void *used =
        avail ? virtq_map_part(mem, used_uva, vring_used_size(num), VRING_USED_ALIGN, &err) : NULL;
    if (!used) {
        /* Never leave pointers into a mapping that may be about to go away. */
        vq->mem = NULL;
        virtq_forget_rings(vq);
        return err;
    }

    vq->mem = mem;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    /*
     * Resume completions where the ring says they are: after a backend
     * restart the avail base from the frontend can be ahead of used->idx
     * (requests that were inflight), and nothing else records it.  Called
     * again on a memory table change, this reads back what we wrote.
     */
    vq->used_idx = le16toh(GUEST_LOAD(&vq->used->idx));
    vq->signalled_used_valid = false;
    return 0;
}

void virtq_forget_rings(struct virtq *vq)
{
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
    vq->pdesc = NULL;
    vq->driver_event = NULL;
    vq->device_event = NULL;
}

void virtq_set_base(struct virtq *vq, uint32_t base)
{
    uint16_t last_avail_idx = (uint16_t)base;

    /*
     * Guest memory is not read here: the rings may not be mapped (or may be
     * stale) yet.  virtq_set_addr(), which the frontend sends after this,
     * corrects used_idx from the ring.
     */
    virtq_forget_resubmit(vq);
    vq->signalled_used_valid = false;
    vq->broken = false;
    if (vq->packed) {
        virtq_packed_set_base(vq, base);
        return;
    }
    vq->last_avail_idx = last_avail_idx;
    vq->used_idx = last_avail_idx;
}

uint32_t virtq_get_base(const struct virtq *vq)
{
    return vq->packed ? virtq_packed_get_base(vq) : vq->last_avail_idx;
}

void virtq_release(struct virtq *vq)
{
    virtq_forget_resubmit(vq);
    free(vq->bufs);
    vq->bufs = NULL;
    vq->bufs_num = 0;
}

/*
 * Copy one descriptor out of guest memory.  The empty asm claims to rewrite
 * the copy, so the compiler can neither drop it nor go back to guest memory
 * for a field later: each descriptor is fetched exactly once.
 */
static void read_desc(const struct vring_desc_le *src, struct vring_desc_le *dst)
{
    memcpy(dst, src, sizeof(*dst));
    __asm__ volatile("" : "+m"(*dst));
    dst->addr = le64toh(dst->addr);
    dst->len = le32toh(dst->len);
    dst->flags = le16toh(dst->flags);
    dst->next = le16toh(dst->next);
}

/*
 * Walk the chain starting at head into elem.  0, or -EBADMSG for anything the
 * spec forbids or we cannot map.  The walk is bounded by the size of whichever
 * table it is in, so a loop ends as soon as it revisits more entries than the
 * table has.
 */
static int walk_chain(const struct virtq *vq, uint16_t head, struct virtq_elem *elem)
{
    const struct vring_desc_le *table = vq->desc;
    uint32_t table_size = vq->num;
    uint32_t idx = head;
    uint32_t walked = 0;
    bool in_indirect = false;
    struct virtq_walk w;

    virtq_walk_start(&w, elem);
    for (;;) {
        struct vring_desc_le d;

        if (idx >= table_size)
            return -EBADMSG;
        read_desc(&table[idx], &d);
        walked++;

        if (d.flags & VRING_DESC_F_INDIRECT) {
            /* Its WRITE flag means nothing (spec): only the table's entries count. */
            if (in_indirect || (d.flags & VRING_DESC_F_NEXT))
                return -EBADMSG;
            table = virtq_indirect_table(vq, d.addr, d.len);
            if (!table)
                return -EBADMSG;
            table_size = d.len / sizeof(struct vring_desc_le);
            in_indirect = true;
            idx = 0;
            walked = 0;
            continue;
        }

        int ret = virtq_walk_add(vq, &w, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;

        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        /* Another hop after visiting every entry of the table means a cycle. */
        if (walked >= table_size)
            return -EBADMSG;
        idx = d.next;
    }
}

/*
 * The next head an earlier backend left in flight.  It is still marked in the
 * inflight region with its original counter, and stays so until completed.
 */
static int pop_resubmitted(struct virtq *vq, struct virtq_elem *elem)
{
    uint16_t head = vq->resubmit[vq->resubmit_next++];

    elem->head = head;
    if (!vq->desc || walk_chain(vq, head, elem) < 0)
        return virtq_elem_bad(elem);
    return 1;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
    if (vq->packed)
        return virtq_packed_pop(vq, elem);
    if (vq->broken)
        return -EIO;
    if (!vq->avail)
        return 0;

    if (vq->resubmit_next < vq->resubmit_num)
        return pop_resubmitted(vq, elem);

    uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
    if (pending == 0)
        return 0;
    if (pending > vq->num) {
        vq->broken = true;
        return -EIO;
    }

    uint16_t slot = vq->last_avail_idx & (vq->num - 1);
    uint16_t head = le16toh(GUEST_LOAD(&vq->avail->ring[slot]));
    if (head >= vq->num) {
        vq->broken = true;
        return -EIO;
    }
    vq->last_avail_idx++;
    elem->head = head;

    /* Even a malformed chain is completed through virtq_push(), which clears this. */
    if (vq->inflight)
        vu_inflight_mark_popped(vq->inflight, head, ++vq->inflight_counter);

    if (walk_chain(vq, head, elem) < 0)
        return virtq_elem_bad(elem);
    return 1;
}

int virtq_map_head(const struct virtq *vq, uint16_t head, struct virtq_elem *elem)
{
    if (vq->packed)
        return virtq_packed_map_head(vq, head, elem);
    if (vq->broken || !vq->desc || head >= vq->num)
        return -EIO;
    elem->head = head;
    if (walk_chain(vq, head, elem) < 0)
        return virtq_elem_bad(elem);
    return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
    if (vq->packed) {
        virtq_packed_push(vq, head, len);
        return;
    }
    /* head comes from our own pop; an out-of-range one is a caller bug, not guest input. */
    if (!vq->used || head >= vq->num)
        return;

    struct vring_used_elem_le *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
    GUEST_STORE(&e->id, htole32(head));
    GUEST_STORE(&e->len, htole32(len));
    log_used(vq, (uint64_t)((char *)e - (char *)vq->used), sizeof(*e));
    if (vq->inflight)
        vu_inflight_pre_push(vq->inflight, head);

    vq->used_idx++;
    /* The element must be visible before the index that hands it to the guest. */
    __atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
    /* After the store, never before: see vu_log.h. */
    log_used(vq, offsetof(struct vring_used_le, idx), sizeof(vq->used->idx));

    if (vq->inflight)
        vu_inflight_post_push(vq->inflight, head, vq->used_idx);
}

/* Whether the guest wants an interrupt for what was pushed since the last call. */
static bool need_signal(struct virtq *vq)
{
    /*
     * Our used->idx store must be globally visible before we read the
     * guest's suppression state, or we could miss its request for an
     * interrupt and it would wait forever.
     */
    atomic_thread_fence(memory_order_seq_cst);

    if (!vq->event_idx) {
        uint16_t flags = le16toh(GUEST_LOAD(&vq->avail->flags));
        return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
    }

    uint16_t old = vq->signalled_used;
    bool valid = vq->signalled_used_valid;
    uint16_t event = le16toh(GUEST_LOAD(vring_used_event(vq->avail, vq->num)));
    vq->signalled_used = vq->used_idx;
    vq->signalled_used_valid = true;
    /* Without a previous signal to measure from, the window is unknown: signal. */
    return !valid || vring_need_event(event, vq->used_idx, old);
}

void virtq_notify(struct virtq *vq)
{
    if (vq->packed) {
        virtq_packed_notify(vq);
        return;
    }
    if (!vq->avail || vq->call_fd < 0)
        return;
    if (!need_signal(vq))
        return;
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the guest will be woken anyway. */
    ssize_t r = write(vq->call_fd, &one, sizeof(one));
    (void)r;
}

bool virtq_enable_notify(struct virtq *vq)
{
    if (vq->packed)
        return virtq_packed_enable_notify(vq);
    if (!vq->avail || vq->broken)
        return false;
    if (vq->resubmit_next < vq->resubmit_num)
        return true;
    if (vq->event_idx) {
        uint16_t avail_idx = le16toh(GUEST_LOAD(&vq->avail->idx));
        GUEST_STORE(vring_avail_event(vq->used, vq->num), htole16(avail_idx));
        log_used(vq, offsetof(struct vring_used_le, ring) + 8ull * vq->num, sizeof(uint16_t));
    } else {
        GUEST_STORE(&vq->used->flags, htole16(0));
        log_used(vq, offsetof(struct vring_used_le, flags), sizeof(vq->used->flags));
    }
    /*
     * The store above must be visible before we look at avail->idx again;
     * otherwise the guest may have added a request, not seen our request for
     * a kick, and skipped it: the request would sit there unnoticed.
     */
    atomic_thread_fence(memory_order_seq_cst);
    return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) != vq->last_avail_idx;
}

bool virtq_avail_pending(const struct virtq *vq)
{
    if (vq->packed)
        return virtq_packed_avail_pending(vq);
    if (!vq->avail || vq->broken)
        return false;
    if (vq->resubmit_next < vq->resubmit_num)
        return true;
    return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) != vq->last_avail_idx;
}

void virtq_disable_notify(struct virtq *vq)
{
    if (vq->packed) {
        virtq_packed_disable_notify(vq);
        return;
    }
    /* With EVENT_IDX a stale avail_event already suppresses kicks. */
    if (!vq->used || vq->event_idx)
        return;
    GUEST_STORE(&vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
    log_used(vq, offsetof(struct vring_used_le, flags), sizeof(vq->used->flags));
}
