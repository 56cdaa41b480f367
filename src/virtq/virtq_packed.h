/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal to src/virtq: the packed-ring halves of the virtq.h functions,
 * which dispatch to them when vq->packed is set, and the helpers both ring
 * layouts share.
 */
#ifndef VUS_VIRTQ_VIRTQ_PACKED_H
#define VUS_VIRTQ_VIRTQ_PACKED_H

#include <errno.h>

#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

/*
 * Longest indirect table we walk.  The spec bounds a chain by the queue size,
 * which is at most VIRTQ_MAX_SIZE; a longer table can only be a guest trying
 * to make us spin over zero-length descriptors.
 */
#define VIRTQ_MAX_INDIRECT VIRTQ_MAX_SIZE

/* Relaxed loads/stores of guest-shared fields: each one happens exactly once. */
#define GUEST_LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define GUEST_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* One buffer ID of a packed ring. */
struct virtq_packed_buf {
    bool busy;      /* popped and not pushed yet */
    bool wrap;      /* avail wrap counter at pos */
    uint8_t nkeep;  /* descriptors in keep; 0: the chain was too long to keep */
    uint16_t ndesc; /* ring descriptors the chain took: how far its used entry advances */
    uint16_t pos;   /* ring position of its first descriptor */
    struct vring_packed_desc_le keep[VIRTQ_PACKED_KEEP]; /* host-endian copies */
};

/* An indirect table is read as whole descriptors of either layout. */
_Static_assert(sizeof(struct vring_desc_le) == 16 && sizeof(struct vring_packed_desc_le) == 16,
               "both descriptor layouts are 16 bytes");

/*
 * Mapping a chain into elem, one buffer at a time.  Both layouts go through
 * these, so that neither accepts a buffer the other refuses.
 */
struct virtq_walk {
    struct virtq_elem *elem;
    unsigned iov_max;
    unsigned n;
    bool seen_write;
};

static inline void virtq_walk_start(struct virtq_walk *w, struct virtq_elem *elem)
{
    w->elem = elem;
    w->iov_max = elem->iov_max < VIRTQ_MAX_IOV ? elem->iov_max : VIRTQ_MAX_IOV;
    w->n = 0;
    w->seen_write = false;
    elem->out_num = 0;
    elem->in_num = 0;
}

/* One buffer element: device-readable ones must all come first. */
static inline int virtq_walk_add(const struct virtq *vq, struct virtq_walk *w, uint64_t addr,
                                 uint32_t len, bool is_write)
{
    if (is_write)
        w->seen_write = true;
    else if (w->seen_write)
        return -EBADMSG;
    if (len == 0)
        return 0;
    unsigned before = w->n;
    if (vu_mem_gpa_to_iov(vq->mem, addr, len, w->elem->iov, &w->n, w->iov_max) < 0)
        return -EBADMSG;
    if (is_write)
        w->elem->in_num += w->n - before;
    else
        w->elem->out_num += w->n - before;
    return 0;
}

/*
 * The indirect table of len bytes at gpa addr, len / 16 descriptors; NULL
 * when indirect descriptors were not negotiated or the table is empty, not
 * whole descriptors, longer than we walk or not in guest memory.
 */
static inline const void *virtq_indirect_table(const struct virtq *vq, uint64_t addr, uint32_t len)
{
    if (!vq->indirect || len == 0 || len % sizeof(struct vring_desc_le) != 0 ||
        len / sizeof(struct vring_desc_le) > VIRTQ_MAX_INDIRECT)
        return NULL;
    return vu_mem_gpa_to_host(vq->mem, addr, len);
}

/* A chain that cannot be served carries no buffers: the caller completes it empty. */
static inline int virtq_elem_bad(struct virtq_elem *elem)
{
    elem->out_num = 0;
    elem->in_num = 0;
    return -EBADMSG;
}

/* Translate and align-check one ring part (virtq.c). */
void *virtq_map_part(const struct vu_mem_table *mem, uint64_t uva, uint64_t size, uint64_t align,
                     int *err);

int virtq_packed_set_addr(struct virtq *vq, const struct vu_mem_table *mem, uint64_t desc_uva,
                          uint64_t driver_uva, uint64_t device_uva);
void virtq_packed_set_base(struct virtq *vq, uint32_t base);
uint32_t virtq_packed_get_base(const struct virtq *vq);
int virtq_packed_pop(struct virtq *vq, struct virtq_elem *elem);
int virtq_packed_map_head(const struct virtq *vq, uint16_t id, struct virtq_elem *elem);
void virtq_packed_push(struct virtq *vq, uint16_t id, uint32_t len);
void virtq_packed_notify(struct virtq *vq);
bool virtq_packed_enable_notify(struct virtq *vq);
void virtq_packed_disable_notify(struct virtq *vq);
bool virtq_packed_avail_pending(const struct virtq *vq);
void virtq_packed_unpop(struct virtq *vq, const uint16_t *ids, unsigned n);

#endif
