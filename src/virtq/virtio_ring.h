/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueue ring layouts as the guest sees them (virtio 1.x, 2.7).
 *
 * Every multi-byte field is little-endian in guest memory whatever the host
 * is; convert with le16toh()/htole16() and friends from <endian.h> on each
 * access so the code states the wire format even where it compiles to nothing.
 */
#ifndef VUS_VIRTQ_VIRTIO_RING_H
#define VUS_VIRTQ_VIRTIO_RING_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>

/* Descriptor flags. */
#define VRING_DESC_F_NEXT     1 /* chain continues at .next */
#define VRING_DESC_F_WRITE    2 /* device writes this buffer (else it reads it) */
#define VRING_DESC_F_INDIRECT 4 /* buffer is a table of descriptors */

/* avail->flags: the driver does not want an interrupt (only without EVENT_IDX). */
#define VRING_AVAIL_F_NO_INTERRUPT 1
/* used->flags: the device does not want a kick (only without EVENT_IDX). */
#define VRING_USED_F_NO_NOTIFY 1

/* Alignment the spec requires of each part (and that our atomics rely on). */
#define VRING_DESC_ALIGN  16
#define VRING_AVAIL_ALIGN 2
#define VRING_USED_ALIGN  4

struct vring_desc_le {
    uint64_t addr;  /* le64: guest physical address */
    uint32_t len;   /* le32 */
    uint16_t flags; /* le16: VRING_DESC_F_* */
    uint16_t next;  /* le16: next descriptor when VRING_DESC_F_NEXT */
};

/* Followed by le16 used_event at ring[num] (meaningful with EVENT_IDX). */
struct vring_avail_le {
    uint16_t flags; /* le16 */
    uint16_t idx;   /* le16: where the driver will put the next entry */
    uint16_t ring[];
};

struct vring_used_elem_le {
    uint32_t id;  /* le32: head of the completed chain */
    uint32_t len; /* le32: bytes written into the chain's writable buffers */
};

/* Followed by le16 avail_event after ring[num] (meaningful with EVENT_IDX). */
struct vring_used_le {
    uint16_t flags; /* le16 */
    uint16_t idx;   /* le16 */
    struct vring_used_elem_le ring[];
};

_Static_assert(sizeof(struct vring_desc_le) == 16, "descriptor is 16 bytes");
_Static_assert(offsetof(struct vring_desc_le, next) == 14, "descriptor layout");
_Static_assert(sizeof(struct vring_avail_le) == 4, "avail header is 4 bytes");
_Static_assert(sizeof(struct vring_used_elem_le) == 8, "used element is 8 bytes");
_Static_assert(sizeof(struct vring_used_le) == 4, "used header is 4 bytes");
_Static_assert(offsetof(struct vring_used_le, ring) == 4, "used ring follows idx");

/* Bytes each part occupies for a ring of num entries, event fields included. */
static inline uint64_t vring_desc_size(unsigned num)
{
    return 16ull * num;
}

static inline uint64_t vring_avail_size(unsigned num)
{
    return 6ull + 2ull * num;
}

static inline uint64_t vring_used_size(unsigned num)
{
    return 6ull + 8ull * num;
}

/* The driver's used_event lives just past the avail ring. */
static inline uint16_t *vring_used_event(struct vring_avail_le *avail, unsigned num)
{
    return &avail->ring[num];
}

/* The device's avail_event lives just past the used ring. */
static inline uint16_t *vring_avail_event(struct vring_used_le *used, unsigned num)
{
    return (uint16_t *)&used->ring[num];
}

/*
 * With EVENT_IDX, the other side wants a notification when its event index
 * lies in the window of entries published since the last check, (old, new].
 * All arithmetic is mod 2^16.
 */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/*
 * Packed virtqueues (virtio 1.1+, 2.8), VIRTIO_F_RING_PACKED.  One ring of
 * descriptors that both sides write: the driver makes a descriptor available
 * by setting AVAIL to its wrap counter and USED to the inverse, the device
 * marks it used by setting both to its own wrap counter.
 */
#define VIRTIO_F_RING_PACKED 34

#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED  (1u << 15)

/* pvirtq_event_suppress.flags: what the other side wants to be told about. */
#define VRING_PACKED_EVENT_ENABLE  0x0
#define VRING_PACKED_EVENT_DISABLE 0x1
#define VRING_PACKED_EVENT_DESC    0x2 /* only at off_wrap (EVENT_IDX negotiated) */
#define VRING_PACKED_EVENT_MASK    0x3
#define VRING_PACKED_EVENT_WRAP    (1u << 15) /* wrap counter bit of off_wrap */

#define VRING_PACKED_EVENT_ALIGN 4

struct vring_packed_desc_le {
    uint64_t addr;  /* le64: guest physical address */
    uint32_t len;   /* le32: buffer length; in a used descriptor, bytes written */
    uint16_t id;    /* le16: buffer ID, meaningful in the last descriptor of a chain */
    uint16_t flags; /* le16: VRING_DESC_F_* and the AVAIL/USED bits */
};

struct vring_packed_event_le {
    uint16_t off_wrap; /* le16: ring offset (bits 0-14) and wrap counter (bit 15) */
    uint16_t flags;    /* le16: VRING_PACKED_EVENT_* */
};

_Static_assert(sizeof(struct vring_packed_desc_le) == 16, "packed descriptor is 16 bytes");
_Static_assert(offsetof(struct vring_packed_desc_le, id) == 12, "packed descriptor layout");
_Static_assert(offsetof(struct vring_packed_desc_le, flags) == 14, "packed descriptor layout");
_Static_assert(sizeof(struct vring_packed_event_le) == 4, "event suppression is 4 bytes");

#endif
