/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal to src/virtq: the packed-ring halves of the virtq.h functions,
 * which dispatch to them when vq->packed is set, and the helpers both ring
 * layouts share.
 */
#ifndef VUS_VIRTQ_VIRTQ_PACKED_H
#define VUS_VIRTQ_VIRTQ_PACKED_H

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
