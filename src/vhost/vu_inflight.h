/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inflight I/O tracking for split virtqueues (vhost-user.rst, "Inflight I/O
 * tracking"; protocol feature INFLIGHT_SHMFD).
 *
 * The backend keeps, in a shared memory region that the frontend holds on to
 * across backend restarts, which heads it has taken off each ring and not yet
 * completed.  A restarted backend uses it to resubmit exactly the requests
 * the guest is still waiting for, in their original order.
 *
 * The frontend can write to this region at any time, so nothing read from it
 * is trusted: indexes are range-checked before use.
 */
#ifndef VUS_VHOST_VU_INFLIGHT_H
#define VUS_VHOST_VU_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#define VU_INFLIGHT_VERSION 1
#define VU_INFLIGHT_ALIGN   64 /* each queue's region starts on this boundary */

/* State of one descriptor slot (only head slots are used). */
struct vu_inflight_desc_split {
    uint8_t inflight; /* 1: popped, not yet completed */
    uint8_t padding[5];
    uint16_t next;    /* le16: batching link (we complete one at a time: unused) */
    uint64_t counter; /* le64: pop order, for resubmission */
};

/* Per-queue region, followed by desc_num slots. */
struct vu_inflight_split {
    uint64_t features;        /* le64: virtio features of the device */
    uint16_t version;         /* le16: VU_INFLIGHT_VERSION once initialised */
    uint16_t desc_num;        /* le16: ring size */
    uint16_t last_batch_head; /* le16: head of the last completion started */
    uint16_t used_idx;        /* le16: used->idx once that completion was published */
    struct vu_inflight_desc_split desc[];
};

_Static_assert(sizeof(struct vu_inflight_desc_split) == 16, "slot is 16 bytes");
_Static_assert(sizeof(struct vu_inflight_split) == 16, "queue header is 16 bytes");

/* A head still inflight, with its pop order. */
struct vu_inflight_entry {
    uint16_t head;
    uint64_t counter;
};

/* Bytes one queue of queue_size entries needs (header + slots, rounded up to 64). */
size_t vu_inflight_queue_size(uint16_t queue_size);

/* Start a fresh queue region: nothing inflight, version 1, desc_num = queue_size. */
void vu_inflight_queue_init(struct vu_inflight_split *q, uint16_t queue_size, uint64_t features);

/*
 * 0 if q is an initialised region for a ring of queue_size entries, -EINVAL
 * otherwise (fresh zeroed memory, or a frontend-corrupted header).
 */
int vu_inflight_queue_check(const struct vu_inflight_split *q, uint16_t queue_size);

/* Record that head was taken off the avail ring as the counter-th request. */
void vu_inflight_mark_popped(struct vu_inflight_split *q, uint16_t head, uint64_t counter);

/* Head is no longer in flight and was not completed (handed back unused). */
void vu_inflight_forget(struct vu_inflight_split *q, uint16_t head);

/*
 * Completion of head, around the store of used->idx: pre before it, post
 * after it with the new used->idx.  A restart in between is detected by
 * vu_inflight_recover().
 */
void vu_inflight_pre_push(struct vu_inflight_split *q, uint16_t head);
void vu_inflight_post_push(struct vu_inflight_split *q, uint16_t head, uint16_t used_idx);

/*
 * After a restart: if the backend died between publishing a completion
 * (used->idx == ring_used_idx) and recording it, finish recording it.
 * queue_size bounds last_batch_head.
 */
void vu_inflight_recover(struct vu_inflight_split *q, uint16_t queue_size, uint16_t ring_used_idx);

/*
 * Heads still marked inflight among the first queue_size slots, oldest pop
 * first.  Returns how many were stored in out (at most max), or -E2BIG if
 * there are more than max, or -EINVAL if q fails vu_inflight_queue_check().
 */
int vu_inflight_collect(const struct vu_inflight_split *q, uint16_t queue_size,
                        struct vu_inflight_entry *out, unsigned max);

#endif
