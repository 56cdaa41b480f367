/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Virtqueues, device side: split rings (virtio 1.x, section 2.7) and packed
 * rings (virtio 1.1+, 2.8; virtq_packed.c) behind one interface.
 *
 * Everything the guest wrote is untrusted and may change while we read it:
 * each descriptor is read once into a local copy and validated before use.
 * A malformed chain fails that request only (virtq_pop() returns
 * -EBADMSG with the head, which the caller returns with used len 0); a broken
 * ring (avail index jump beyond the ring size, head out of range) marks the
 * queue broken and stops it, without touching anything outside the rings.
 *
 * Threading: a struct virtq is used by one thread at a time (its worker, or
 * the control thread while the worker is paused).
 */
#ifndef VUS_VIRTQ_VIRTQ_H
#define VUS_VIRTQ_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vhost/vu_log.h"
#include "vhost/vu_mem.h"

#define VIRTQ_MAX_SIZE 32768 /* largest ring the spec allows */
#define VIRTQ_MAX_IOV  1024  /* iovecs one request may carry (readable + writable) */

/* VIRTIO feature bits the ring code cares about. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

struct vring_desc_le;
struct vring_avail_le;
struct vring_used_le;
struct vu_inflight_split; /* vhost-user inflight region of one queue: see vu_inflight.h */
struct vu_log;            /* the dirty log: see vu_log.h */
struct vring_packed_desc_le;
struct vring_packed_event_le;
struct virtq_packed_buf; /* what a packed ring keeps per buffer ID: virtq_packed.c */

struct virtq {
    /* Set up by the control plane (vhost-user messages). */
    uint16_t num; /* ring size, a power of two <= VIRTQ_MAX_SIZE */
    struct vring_desc_le *desc;
    struct vring_avail_le *avail;
    struct vring_used_le *used;
    const struct vu_mem_table *mem;
    bool event_idx;                     /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool indirect;                      /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    int call_fd;                        /* -1: none */
    struct vu_inflight_split *inflight; /* NULL: no inflight tracking */
    struct vu_log *log;                 /* NULL: writes are not logged (no migration) */
    bool log_used;                      /* ...and the used ring's, at log_used_gpa */
    uint64_t log_used_gpa;              /* SET_VRING_ADDR's log address of the used ring */

    /* Ring state. */
    uint16_t last_avail_idx; /* next avail entry to take */
    uint16_t used_idx;       /* our copy of used->idx */
    uint16_t signalled_used; /* used_idx when we last signalled (EVENT_IDX) */
    bool signalled_used_valid;
    bool broken;               /* the ring itself is corrupt: stop serving it */
    uint64_t inflight_counter; /* orders inflight entries for resubmission */

    /*
     * Heads an earlier backend left in flight (virtq_recover_inflight), oldest
     * first: virtq_pop hands them out before anything new on the avail ring.
     */
    uint16_t *resubmit;
    unsigned resubmit_num;
    unsigned resubmit_next;

    /*
     * Packed ring (VIRTIO_F_RING_PACKED): set packed before virtq_set_addr,
     * which then maps these instead of desc/avail/used (those stay NULL).
     * last_avail_idx and used_idx are ring positions below num, each with
     * its wrap counter.  Not used with an inflight region (no resubmission).
     */
    bool packed;
    bool avail_wrap;
    bool used_wrap;
    struct vring_packed_desc_le *pdesc;
    struct vring_packed_event_le *driver_event; /* the guest's wishes for interrupts */
    struct vring_packed_event_le *device_event; /* ours for kicks */
    uint64_t pdesc_gpa;                         /* for the dirty log; UINT64_MAX: unknown */
    uint64_t device_event_gpa;
    uint32_t used_since_signal;    /* ring positions used since the last virtq_notify */
    struct virtq_packed_buf *bufs; /* num entries, by buffer ID */
    uint16_t bufs_num;
};

/* One request taken off the ring.  The caller owns iov (per-slot preallocated). */
struct virtq_elem {
    uint16_t head;
    unsigned out_num; /* device-readable iovecs, first in iov */
    unsigned in_num;  /* device-writable iovecs, after them */
    struct iovec *iov;
    unsigned iov_max; /* capacity of iov, <= VIRTQ_MAX_IOV */
};

/*
 * Point the queue at its rings.  desc/avail/used are frontend virtual
 * addresses (SET_VRING_ADDR); they are translated through mem and checked
 * for size and alignment.  Returns 0 or -EFAULT / -EINVAL.
 */
int virtq_set_addr(struct virtq *vq, const struct vu_mem_table *mem, uint64_t desc_uva,
                   uint64_t avail_uva, uint64_t used_uva);

/*
 * Drop the pointers into the rings of both layouts, so that none is left
 * into a memory table that may be unmapped next (mem stays: see
 * virtq_log_written).
 */
void virtq_forget_rings(struct virtq *vq);

/*
 * Reset ring state to a start index (SET_VRING_BASE).  Split: the avail
 * index (low 16 bits).  Packed: bits 0-14 the next descriptor to take, 15
 * its wrap counter, 16-30 the next used position, 31 its wrap counter (what
 * vhost-user's GET_VRING_BASE reports for packed rings); virtq_set_addr
 * refuses positions outside the ring.
 */
void virtq_set_base(struct virtq *vq, uint32_t base);

/* A packed ring nobody used yet: both positions 0, both wrap counters 1 (virtio 1.1, 2.8.1). */
#define VIRTQ_PACKED_BASE_FRESH 0x80008000u

/* The state virtq_set_base takes, for GET_VRING_BASE. */
uint32_t virtq_get_base(const struct virtq *vq);

/* Free what the queue allocated (resubmission list, packed ring state).  Control thread. */
void virtq_release(struct virtq *vq);

/*
 * Take the next available request.
 * Returns 1 (elem filled), 0 (ring empty), -EBADMSG (bad chain: elem->head is
 * valid and must be completed with virtq_push(vq, head, 0)), or -EIO (queue
 * broken: vq->broken set; nothing to complete).
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);

/*
 * Map the chain of a head that is already off the avail ring (inflight
 * resubmission after a reconnect): like virtq_pop() but without touching the
 * avail index or the inflight region.  1, -EBADMSG (bad chain) or -EIO (head
 * out of range or queue not ready).
 */
int virtq_map_head(const struct virtq *vq, uint16_t head, struct virtq_elem *elem);

/*
 * Before a ring starts (control thread, workers paused): take over what the
 * inflight region says an earlier backend (crashed, killed, upgraded, or the
 * migration source) took off the ring and never completed.  A completion
 * that reached the used ring but not the region is finished first; the
 * requests still in flight are queued for virtq_pop in the order they were
 * taken, the avail index moves past them (used->idx + their number) and the
 * pop counter continues after the largest one found.
 *
 * The region is the frontend's memory: each slot is read once, only heads
 * below the ring size are taken, and a region that claims more requests than
 * the guest ever made available is not believed (its marks are cleared and
 * the frontend's base stands).  Returns how many requests will be
 * resubmitted, 0 without a region, -EINVAL for an unbelievable region,
 * -ENOMEM.
 */
int virtq_recover_inflight(struct virtq *vq);

/* Drop what virtq_recover_inflight queued (ring reset or stopped).  Control thread. */
void virtq_forget_resubmit(struct virtq *vq);

/*
 * Hand back the n most recently popped heads unused (a ring stopping while
 * the device holds buffers, like event buffers waiting for an event): the
 * avail index goes back by n and their inflight marks are cleared, so a
 * later backend takes them again from the avail ring and only from there.
 */
void virtq_unpop(struct virtq *vq, const uint16_t *heads, unsigned n);

/*
 * Put a completed request on the used ring (store-release of used->idx).
 * With a dirty log, the device-writable buffers must have been logged
 * already (virtq_log_written): the guest may see the completion once this
 * returns.
 */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * While migrating: mark the pages under the first len bytes of a request's
 * device-writable iovecs dirty, after writing them and before virtq_push.
 * One predictable branch when no log is attached.
 */
static inline void virtq_log_written(const struct virtq *vq, const struct iovec *in,
                                     unsigned in_num, uint64_t len)
{
    if (__builtin_expect(vq->log != NULL, 0))
        vu_log_mark_iov(vq->log, vq->mem, in, in_num, len);
}

/*
 * Signal the call eventfd if the guest wants an interrupt for what was pushed
 * since the last signal (vring_need_event with EVENT_IDX, else
 * VRING_AVAIL_F_NO_INTERRUPT).  Call once per batch.
 */
void virtq_notify(struct virtq *vq);

/*
 * Ask the guest to kick (or not) on new requests.  virtq_enable_notify
 * returns true if requests arrived meanwhile: the caller must pop again, or
 * the kick for them is lost.
 */
bool virtq_enable_notify(struct virtq *vq);
void virtq_disable_notify(struct virtq *vq);

/*
 * Whether the guest has made requests available that were not popped yet.
 * One load of the avail index, no side effects: what a polling worker spins on.
 */
bool virtq_avail_pending(const struct virtq *vq);

/*
 * Packed rings differ where the layout shows through (virtq_packed.c):
 * - elem->head is the buffer ID the driver chose; one that is >= num or
 *   already in flight breaks the ring, as does a chain that is longer than
 *   the ring or runs into a descriptor that is not available (its end, and
 *   so its ID, cannot be known).
 * - The ring slots of a request in flight can be reused by the driver once
 *   other requests complete, so virtq_map_head works from copies taken at
 *   pop time: of chains of up to VIRTQ_PACKED_KEEP ring descriptors (or one
 *   indirect descriptor, whose table is walked again).  It returns -EBADMSG
 *   for longer chains (the TMF and event buffers that use it have 1 or 2).
 * - virtq_unpop can only rewind while no used descriptor has overwritten the
 *   rewound slots; otherwise it completes the heads with length 0.
 * - virtq_recover_inflight returns -EOPNOTSUPP when a region is attached.
 */
#define VIRTQ_PACKED_KEEP 4

/* Number of requests popped but not yet pushed is tracked by the caller. */

#endif
