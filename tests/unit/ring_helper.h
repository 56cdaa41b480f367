/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test helper: play the guest driver of split virtqueues.
 *
 * Header-only (static functions) because the Makefile links each test
 * program alone against build/libvus.a.  A test includes it after <cmocka.h>.
 *
 * Guest memory is one memfd-backed region of a vu_mem_table at gpa 0; a bump
 * allocator hands out guest buffers from it (never gpa 0, so a forgotten
 * address shows up as a fault rather than as the ring).  Anything at or past
 * the region's end is unmapped: tests use it to build bad descriptors.
 *
 * It also has a fake block backend (struct fake_bdev, at the end) whose
 * completions the test controls.
 */
#ifndef VUS_TESTS_RING_HELPER_H
#define VUS_TESTS_RING_HELPER_H

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "io/io_loop.h"
#include "vhost/vu_mem.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define RH_UVA      0x7f0000000000ull /* the frontend's view of gpa 0 */
#define RH_MAX_NUM  256               /* largest ring the helper builds */
#define RH_MAX_SEGS 64

struct rh_mem {
    struct vu_mem_table table;
    uint64_t size;
    uint64_t next; /* bump pointer (gpa) */
};

/* One buffer of a request chain, in guest memory. */
struct rh_seg {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

struct rh_ring {
    struct rh_mem *m;
    struct virtq vq; /* the device side under test */
    uint16_t num;
    struct vring_desc_le *desc;
    struct vring_avail_le *avail;
    struct vring_used_le *used;
    uint16_t avail_idx; /* the driver's shadow of avail->idx */
    uint16_t used_seen; /* used entries the driver has consumed */
    bool desc_busy[RH_MAX_NUM];
    uint16_t chain_len[RH_MAX_NUM]; /* ring descriptors of the chain at each head */
    uint16_t chain_desc[RH_MAX_NUM][RH_MAX_SEGS];
    int call_fd; /* also vq.call_fd; nonblocking */
    int kick_fd; /* nonblocking; written by rh_kick */
};

static inline int rh_mem_init(struct rh_mem *m, uint64_t size)
{
    int fd = memfd_create("ring_helper", MFD_CLOEXEC);

    memset(m, 0, sizeof(*m));
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return -errno;
    }
    m->size = size;
    m->next = 0x1000;
    return vu_mem_add_region(&m->table, 0, size, RH_UVA, 0, fd);
}

static inline void rh_mem_fini(struct rh_mem *m)
{
    vu_mem_table_clear(&m->table);
}

static inline void *rh_host(struct rh_mem *m, uint64_t gpa)
{
    return vu_mem_gpa_to_host(&m->table, gpa, 1);
}

/* Guest buffer of len bytes (zeroed), aligned to align (a power of two). 0 when full. */
static inline uint64_t rh_alloc(struct rh_mem *m, uint64_t len, uint64_t align)
{
    uint64_t gpa = (m->next + align - 1) & ~(align - 1);

    if (len == 0)
        len = 1;
    if (gpa + len > m->size)
        return 0;
    m->next = gpa + len;
    memset(rh_host(m, gpa), 0, len);
    return gpa;
}

static inline void rh_write(struct rh_mem *m, uint64_t gpa, const void *buf, size_t len)
{
    memcpy(rh_host(m, gpa), buf, len);
}

static inline void rh_read(struct rh_mem *m, uint64_t gpa, void *buf, size_t len)
{
    memcpy(buf, rh_host(m, gpa), len);
}

/* Allocate a buffer holding a copy of buf; returns its gpa. */
static inline uint64_t rh_alloc_copy(struct rh_mem *m, const void *buf, size_t len, uint64_t align)
{
    uint64_t gpa = rh_alloc(m, len, align);

    if (gpa && len)
        rh_write(m, gpa, buf, len);
    return gpa;
}

/*
 * Rings of num entries (a power of two <= RH_MAX_NUM) in fresh guest memory,
 * with call and kick eventfds.  event_idx/indirect: the negotiated features.
 */
static inline int rh_ring_init(struct rh_ring *r, struct rh_mem *m, uint16_t num, bool event_idx,
                               bool indirect)
{
    uint64_t d, a, u;
    int ret;

    memset(r, 0, sizeof(*r));
    if (num == 0 || num > RH_MAX_NUM || (num & (num - 1)))
        return -EINVAL;
    r->m = m;
    r->num = num;
    d = rh_alloc(m, vring_desc_size(num), VRING_DESC_ALIGN);
    a = rh_alloc(m, vring_avail_size(num), VRING_AVAIL_ALIGN);
    u = rh_alloc(m, vring_used_size(num), VRING_USED_ALIGN);
    if (!d || !a || !u)
        return -ENOMEM;
    r->desc = rh_host(m, d);
    r->avail = rh_host(m, a);
    r->used = rh_host(m, u);
    r->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->call_fd < 0 || r->kick_fd < 0)
        return -errno;
    r->vq.num = num;
    r->vq.event_idx = event_idx;
    r->vq.indirect = indirect;
    r->vq.call_fd = r->call_fd;
    ret = virtq_set_addr(&r->vq, &m->table, RH_UVA + d, RH_UVA + a, RH_UVA + u);
    if (ret < 0)
        return ret;
    virtq_set_base(&r->vq, 0);
    return 0;
}

static inline void rh_ring_fini(struct rh_ring *r)
{
    if (r->call_fd >= 0)
        close(r->call_fd);
    if (r->kick_fd >= 0)
        close(r->kick_fd);
    r->call_fd = r->kick_fd = -1;
}

static inline void rh_set_desc(struct vring_desc_le *table, unsigned i, uint64_t addr, uint32_t len,
                               uint16_t flags, uint16_t next)
{
    table[i].addr = htole64(addr);
    table[i].len = htole32(len);
    table[i].flags = htole16(flags);
    table[i].next = htole16(next);
}

/* Make head available to the device (does not kick). */
static inline void rh_publish(struct rh_ring *r, uint16_t head)
{
    r->avail->ring[r->avail_idx & (r->num - 1)] = htole16(head);
    r->avail_idx++;
    __atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

/* Take n free ring descriptors (lowest first); false if there are not enough. */
static inline bool rh_take_descs(struct rh_ring *r, unsigned n, uint16_t *out)
{
    unsigned got = 0;

    for (unsigned i = 0; i < r->num && got < n; i++)
        if (!r->desc_busy[i])
            out[got++] = (uint16_t)i;
    if (got < n)
        return false;
    for (unsigned i = 0; i < n; i++)
        r->desc_busy[out[i]] = true;
    return true;
}

/*
 * Post a request made of segs (readable ones first, as the spec requires;
 * the helper does not reorder, so tests can also build bad orders) and
 * publish it.  indirect: one ring descriptor pointing at a table in guest
 * memory.  Returns the head, or -1 when descriptors or memory ran out.
 */
static inline int rh_post(struct rh_ring *r, const struct rh_seg *segs, unsigned nsegs,
                          bool indirect)
{
    uint16_t ids[RH_MAX_SEGS];
    unsigned nring = indirect ? 1 : nsegs;

    if (nsegs == 0 || nsegs > RH_MAX_SEGS || !rh_take_descs(r, nring, ids))
        return -1;
    if (indirect) {
        uint64_t tgpa = rh_alloc(r->m, 16ull * nsegs, VRING_DESC_ALIGN);
        struct vring_desc_le *t;

        if (!tgpa) {
            r->desc_busy[ids[0]] = false;
            return -1;
        }
        t = rh_host(r->m, tgpa);
        for (unsigned i = 0; i < nsegs; i++)
            rh_set_desc(t, i, segs[i].gpa, segs[i].len,
                        (uint16_t)((segs[i].writable ? VRING_DESC_F_WRITE : 0) |
                                   (i + 1 < nsegs ? VRING_DESC_F_NEXT : 0)),
                        (uint16_t)(i + 1 < nsegs ? i + 1 : 0));
        rh_set_desc(r->desc, ids[0], tgpa, (uint32_t)(16 * nsegs), VRING_DESC_F_INDIRECT, 0);
    } else {
        for (unsigned i = 0; i < nsegs; i++)
            rh_set_desc(r->desc, ids[i], segs[i].gpa, segs[i].len,
                        (uint16_t)((segs[i].writable ? VRING_DESC_F_WRITE : 0) |
                                   (i + 1 < nsegs ? VRING_DESC_F_NEXT : 0)),
                        i + 1 < nsegs ? ids[i + 1] : 0);
    }
    r->chain_len[ids[0]] = (uint16_t)nring;
    memcpy(r->chain_desc[ids[0]], ids, nring * sizeof(ids[0]));
    rh_publish(r, ids[0]);
    return ids[0];
}

/*
 * Post a chain whose descriptors the test fills itself (rh_set_desc on
 * r->desc with the returned indices), e.g. a malformed one.  Takes n ring
 * descriptors, records them as one chain at ids[0]; publish with rh_publish.
 */
static inline bool rh_reserve_chain(struct rh_ring *r, unsigned n, uint16_t *ids)
{
    if (n == 0 || n > RH_MAX_SEGS || !rh_take_descs(r, n, ids))
        return false;
    r->chain_len[ids[0]] = (uint16_t)n;
    memcpy(r->chain_desc[ids[0]], ids, n * sizeof(ids[0]));
    return true;
}

/* Used entries the device published that the driver has not read yet. */
static inline unsigned rh_used_pending(struct rh_ring *r)
{
    uint16_t idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));

    return (uint16_t)(idx - r->used_seen);
}

/*
 * Read the next used entry and free its chain's descriptors.  false when
 * there is none.  A head the driver never posted is reported as is (the
 * test asserts on it) and frees nothing.
 */
static inline bool rh_get_used(struct rh_ring *r, uint32_t *head, uint32_t *len)
{
    struct vring_used_elem_le *e;
    uint32_t h;

    if (rh_used_pending(r) == 0)
        return false;
    e = &r->used->ring[r->used_seen & (r->num - 1)];
    h = le32toh(__atomic_load_n(&e->id, __ATOMIC_RELAXED));
    *len = le32toh(__atomic_load_n(&e->len, __ATOMIC_RELAXED));
    *head = h;
    r->used_seen++;
    if (h < r->num && r->chain_len[h]) {
        for (unsigned i = 0; i < r->chain_len[h]; i++)
            r->desc_busy[r->chain_desc[h][i]] = false;
        r->chain_len[h] = 0;
    }
    return true;
}

/* Read and reset the call eventfd's counter: signals since the last call (0: none). */
static inline uint64_t rh_calls(struct rh_ring *r)
{
    uint64_t v = 0;

    if (read(r->call_fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static inline void rh_kick(struct rh_ring *r)
{
    const uint64_t one = 1;
    ssize_t n = write(r->kick_fd, &one, sizeof(one));

    (void)n;
}

/*
 * A fake in-memory block backend, for tests that need SCSI tasks to reach a
 * bdev and to control when they complete:
 *   FB_INLINE: complete inside submit (like the ram backend);
 *   FB_HOLD:   park the request until the test calls fb_complete_held (same
 *              thread as the submitter);
 *   FB_GATE:   complete on the submitting worker's io_loop once the test
 *              writes the gate eventfd (semaphore: one write per request).
 * The data moves when the request completes.
 */
enum fb_mode { FB_INLINE, FB_HOLD, FB_GATE };

#define FB_MAX_HELD   64
#define FB_MAX_EVENTS 64
#define FB_HINT       (1ull << 63) /* in events: a bdev_prefetch, not a submission */

struct fake_bdev {
    struct bdev b;
    enum fb_mode mode;
    uint8_t *data;
    int result; /* what completions report when the transfer itself succeeds */
    _Atomic unsigned submitted;
    _Atomic unsigned completed;
    struct bdev_io *held[FB_MAX_HELD];
    unsigned nheld;
    bool no_cancel;     /* behave like a backend that cannot cancel */
    unsigned cancelled; /* bdev_cancel calls accepted */
    /* Called after each completion: lets a test play a guest that reacts at once. */
    void (*on_complete)(void *arg);
    void *on_complete_arg;
    int gate_fd;
    uint64_t gate_sink; /* read target of gate reads; the value is never used */
    /* Hints and submissions, in order: the offset, with FB_HINT for a hint. */
    uint64_t events[FB_MAX_EVENTS];
    unsigned nevents;
};

static inline void fb_event(struct fake_bdev *f, uint64_t ev)
{
    if (f->nevents < FB_MAX_EVENTS)
        f->events[f->nevents++] = ev;
}

static inline void fb_prefetch(struct bdev *bdev, uint64_t offset, uint64_t len)
{
    (void)len;
    fb_event((struct fake_bdev *)bdev, offset | FB_HINT);
}

static inline int fb_transfer(struct fake_bdev *f, struct bdev_io *io)
{
    uint64_t off = io->offset;

    switch (io->type) {
    case BDEV_IO_READ:
    case BDEV_IO_WRITE:
        for (unsigned i = 0; i < io->iovcnt; i++) {
            if (io->type == BDEV_IO_READ)
                memcpy(io->iov[i].iov_base, f->data + off, io->iov[i].iov_len);
            else
                memcpy(f->data + off, io->iov[i].iov_base, io->iov[i].iov_len);
            off += io->iov[i].iov_len;
        }
        break;
    case BDEV_IO_DISCARD:
    case BDEV_IO_WRITE_ZEROES:
        memset(f->data + io->offset, 0, io->len);
        break;
    case BDEV_IO_VERIFY:
    case BDEV_IO_FLUSH:
        break;
    }
    return f->result;
}

static inline void fb_finish(struct fake_bdev *f, struct bdev_io *io)
{
    /* A cancelled request ends without moving data, as io_uring reports one it caught in time. */
    int res = io->cancelled ? -ECANCELED : fb_transfer(f, io);

    atomic_fetch_add(&f->completed, 1);
    io->cb(io, res);
    if (f->on_complete)
        f->on_complete(f->on_complete_arg);
}

static inline void fb_gate_cb(struct io_loop_op *op, int res)
{
    struct bdev_io *io = (struct bdev_io *)((char *)op - offsetof(struct bdev_io, op));

    fb_finish((struct fake_bdev *)io->bdev, io);
}

static inline int fb_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct fake_bdev *f = (struct fake_bdev *)bdev;
    int ret = bdev_io_check(bdev, io);
    struct io_uring_sqe *sqe;

    if (ret < 0)
        return ret;
    atomic_fetch_add(&f->submitted, 1);
    fb_event(f, io->offset);
    switch (f->mode) {
    case FB_INLINE:
        fb_finish(f, io);
        return 0;
    case FB_HOLD:
        if (f->nheld == FB_MAX_HELD)
            return -EAGAIN;
        f->held[f->nheld++] = io;
        return 0;
    case FB_GATE:
        io->op.cb = fb_gate_cb;
        sqe = io_loop_get_sqe(loop, &io->op);
        if (!sqe)
            return -EAGAIN;
        io_uring_prep_read(sqe, f->gate_fd, &f->gate_sink, sizeof(f->gate_sink), 0);
        return 0;
    }
    return -EINVAL;
}

/* FB_HOLD requests can be cancelled; they still complete only when the test says so. */
static inline int fb_cancel(struct bdev *bdev, struct bdev_io *io)
{
    struct fake_bdev *f = (struct fake_bdev *)bdev;

    if (f->no_cancel || f->mode != FB_HOLD)
        return -ENOTSUP;
    io->cancelled = true;
    f->cancelled++;
    return 0;
}

/* Complete the oldest held request; false if none is held. */
static inline bool fb_complete_held(struct fake_bdev *f)
{
    struct bdev_io *io;

    if (f->nheld == 0)
        return false;
    io = f->held[0];
    f->nheld--;
    memmove(&f->held[0], &f->held[1], f->nheld * sizeof(f->held[0]));
    fb_finish(f, io);
    return true;
}

/* Let n FB_GATE requests complete. */
static inline void fb_open_gate(struct fake_bdev *f, uint64_t n)
{
    ssize_t r = write(f->gate_fd, &n, sizeof(n));

    (void)r;
}

static inline void fb_close(struct bdev *bdev)
{
    struct fake_bdev *f = (struct fake_bdev *)bdev;

    if (f->gate_fd >= 0)
        close(f->gate_fd);
    free(f->data);
    free(f);
}

static const struct bdev_ops fb_ops = {
    .name = "fake",
    .submit = fb_submit,
    .cancel = fb_cancel,
    .close = fb_close,
    .prefetch = fb_prefetch,
};

/* size bytes of zeroes in blocks of block_size.  NULL on allocation failure. */
static inline struct fake_bdev *fb_new(uint64_t size, uint32_t block_size, enum fb_mode mode)
{
    struct fake_bdev *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->data = calloc(1, size);
    f->gate_fd = mode == FB_GATE ? eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE) : -1;
    if (!f->data || (mode == FB_GATE && f->gate_fd < 0)) {
        fb_close(&f->b);
        return NULL;
    }
    f->b.ops = &fb_ops;
    f->b.size = size;
    f->b.block_size = block_size;
    f->mode = mode;
    snprintf(f->b.desc, sizeof(f->b.desc), "fake %llu", (unsigned long long)size);
    return f;
}

#endif
