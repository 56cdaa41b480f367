/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Packed virtqueues (src/virtq/virtq_packed.c) through the virtq.h
 * interface.  The tests play the driver, as the spec's example driver does:
 * descriptors written in ring order with the wrap counter in AVAIL/USED, the
 * head's flags last; used descriptors read back in order, skipping as many
 * slots as the buffer's chain took.  Memory: region A at gpa 0, region B
 * right after it, then unmapped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vhost/vu_inflight.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"
#include "virtq_fixture.h"

#define NUM     8
#define DRV_GPA 0x1000 /* driver event suppression */
#define DEV_GPA 0x1010 /* device event suppression */

#define F_AVAIL VRING_PACKED_DESC_F_AVAIL
#define F_USED  VRING_PACKED_DESC_F_USED

struct seg {
    uint64_t gpa;
    uint32_t len;
    uint16_t flags; /* VRING_DESC_F_WRITE / _INDIRECT; NEXT is added */
};

struct fx {
    struct vu_mem_table mem;
    struct virtq vq;
    struct vring_packed_desc_le *desc;
    struct vring_packed_event_le *drv, *dev;
    /* The driver's state. */
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint16_t ndesc[NUM]; /* descriptors each outstanding ID took */
    struct iovec iov[64];
    struct virtq_elem elem;
};

static void *g(struct fx *f, uint64_t gpa)
{
    return vqfx_host(&f->mem, gpa);
}

/* (Re)start the ring of size num with the given features, both wrap counters at 1. */
static void start_ring(struct fx *f, uint16_t num, bool event_idx, bool indirect)
{
    if (f->vq.call_fd >= 0)
        close(f->vq.call_fd);
    virtq_release(&f->vq);
    memset(&f->vq, 0, sizeof(f->vq));
    memset(f->desc, 0, 16 * NUM);
    memset(f->drv, 0, 4);
    memset(f->dev, 0, 4);
    f->vq.packed = true;
    f->vq.num = num;
    f->vq.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->vq.event_idx = event_idx;
    f->vq.indirect = indirect;
    virtq_set_base(&f->vq, 1u << 15 | 1u << 31);
    assert_int_equal(
        virtq_set_addr(&f->vq, &f->mem, UVA_A + DESC_GPA, UVA_A + DRV_GPA, UVA_A + DEV_GPA), 0);
    f->next_avail = f->next_used = 0;
    f->avail_wrap = f->used_wrap = true;
    memset(f->ndesc, 0, sizeof(f->ndesc));
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    vqfx_mem_init(&f->mem, "virtq_packed_test");
    f->desc = g(f, DESC_GPA);
    f->drv = g(f, DRV_GPA);
    f->dev = g(f, DEV_GPA);
    f->vq.call_fd = -1;
    start_ring(f, NUM, false, true);
    f->elem.iov = f->iov;
    f->elem.iov_max = 64;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vqfx_release(&f->vq, &f->mem);
    free(f);
    return 0;
}

static uint16_t avail_flags(bool wrap)
{
    return wrap ? F_AVAIL : F_USED;
}

/*
 * Make segs available as one buffer with ID id (flags_or: extra flags on
 * every descriptor, for malformed chains).  Returns the head's position.
 */
static uint16_t post_flags(struct fx *f, const struct seg *segs, unsigned n, uint16_t id,
                           uint16_t next_mask)
{
    uint16_t head = f->next_avail, head_flags = 0;

    for (unsigned i = 0; i < n; i++) {
        struct vring_packed_desc_le *d = &f->desc[f->next_avail];
        uint16_t fl = (uint16_t)(segs[i].flags | avail_flags(f->avail_wrap) |
                                 (i + 1 < n ? VRING_DESC_F_NEXT : next_mask));
        d->addr = htole64(segs[i].gpa);
        d->len = htole32(segs[i].len);
        d->id = htole16(i + 1 == n ? id : 0xdead);
        if (i == 0)
            head_flags = fl;
        else
            d->flags = htole16(fl);
        if (++f->next_avail == f->vq.num) {
            f->next_avail = 0;
            f->avail_wrap = !f->avail_wrap;
        }
    }
    if (id < NUM)
        f->ndesc[id] = (uint16_t)n;
    __atomic_store_n(&f->desc[head].flags, htole16(head_flags), __ATOMIC_RELEASE);
    return head;
}

static uint16_t post(struct fx *f, const struct seg *segs, unsigned n, uint16_t id)
{
    return post_flags(f, segs, n, id, 0);
}

/* Read the next used descriptor as the driver does; false if there is none. */
static bool get_used(struct fx *f, uint16_t *id, uint32_t *len, uint16_t *flags)
{
    struct vring_packed_desc_le *d = &f->desc[f->next_used];
    uint16_t fl = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));

    if (!!(fl & F_USED) != f->used_wrap || !!(fl & F_AVAIL) != f->used_wrap)
        return false;
    *id = le16toh(d->id);
    *len = le32toh(d->len);
    *flags = fl;
    assert_true(*id < NUM);
    assert_true(f->ndesc[*id] > 0);
    f->next_used = (uint16_t)(f->next_used + f->ndesc[*id]);
    f->ndesc[*id] = 0;
    if (f->next_used >= f->vq.num) {
        f->next_used = (uint16_t)(f->next_used - f->vq.num);
        f->used_wrap = !f->used_wrap;
    }
    return true;
}

static void expect_used(struct fx *f, uint16_t want_id, uint32_t want_len)
{
    uint16_t id, flags;
    uint32_t len;

    assert_true(get_used(f, &id, &len, &flags));
    assert_int_equal(id, want_id);
    assert_int_equal(len, want_len);
    assert_int_equal(!!(flags & VRING_DESC_F_WRITE), want_len > 0);
}

/* segs as buffer id fail that request only: no buffers, and it is completed empty. */
static void expect_bad(struct fx *f, const struct seg *segs, unsigned n, uint16_t id)
{
    post(f, segs, n, id);
    f->elem.out_num = 99;
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EBADMSG);
    assert_int_equal(f->elem.head, id);
    assert_int_equal(f->elem.out_num + f->elem.in_num, 0);
    assert_false(f->vq.broken);
    virtq_push(&f->vq, id, 0);
    expect_used(f, id, 0);
}

static uint64_t calls(struct fx *f)
{
    uint64_t v = 0;
    if (read(f->vq.call_fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static void test_set_addr_checks(void **state)
{
    struct fx *f = *state;
    struct virtq vq = { .packed = true, .num = 6, .call_fd = -1 };
    const uint64_t d = UVA_A + DESC_GPA, a = UVA_A + DRV_GPA, u = UVA_A + DEV_GPA;

    /* Packed rings need not be a power of two. */
    virtq_set_base(&vq, 1u << 15 | 1u << 31);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), 0);
    assert_null(vq.desc);
    assert_non_null(vq.pdesc);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d + 8, a, u), -EINVAL);
    assert_null(vq.pdesc);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a + 2, u), -EINVAL);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u + 2), -EINVAL);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, DESC_GPA, a, u), -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, UVA_A + A_SIZE - 16 * 6 + 16, a, u), -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, UVA_B + B_SIZE), -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, UVA_B + B_SIZE - 4, u), 0);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, UVA_B + B_SIZE - 2), -EINVAL);
    /* Nothing happens on an unmapped ring. */
    assert_int_equal(virtq_pop(&vq, &f->elem), 0);
    assert_false(virtq_enable_notify(&vq));
    assert_false(virtq_avail_pending(&vq));
    virtq_push(&vq, 0, 0);
    virtq_notify(&vq);
    virtq_disable_notify(&vq);
    /* A base outside the ring is refused where the ring is mapped. */
    virtq_set_base(&vq, 6u | 1u << 31);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), -EINVAL);
    virtq_set_base(&vq, 5u | 1u << 15 | 6u << 16);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), -EINVAL);
    virtq_set_base(&vq, 5u | 3u << 16 | 1u << 31);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), 0);
    assert_int_equal(virtq_get_base(&vq), 5u | 3u << 16 | 1u << 31);
    vq.num = 0;
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), -EINVAL);
    virtq_release(&vq);
}

static void test_simple_chain(void **state)
{
    struct fx *f = *state;
    const struct seg segs[] = {
        { DATA_GPA, 16, 0 },
        { DATA_GPA + 0x100, 32, 0 },
        { DATA_GPA + 0x1000, 512, VRING_DESC_F_WRITE },
    };

    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
    assert_false(virtq_avail_pending(&f->vq));
    post(f, segs, 3, 5);
    assert_true(virtq_avail_pending(&f->vq));
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 5);
    assert_int_equal(f->elem.out_num, 2);
    assert_int_equal(f->elem.in_num, 1);
    assert_ptr_equal(f->iov[0].iov_base, g(f, DATA_GPA));
    assert_int_equal(f->iov[1].iov_len, 32);
    assert_ptr_equal(f->iov[2].iov_base, g(f, DATA_GPA + 0x1000));
    assert_int_equal(f->iov[2].iov_len, 512);
    assert_int_equal(f->vq.last_avail_idx, 3);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);

    virtq_push(&f->vq, 5, 512);
    expect_used(f, 5, 512);
    assert_int_equal(f->vq.used_idx, 3);
    /* Pushing an ID that is not in flight writes nothing. */
    virtq_push(&f->vq, 5, 1);
    virtq_push(&f->vq, NUM, 1);
    uint16_t id, fl;
    uint32_t len;
    assert_false(get_used(f, &id, &len, &fl));

    /* A buffer crossing into region B is two iovecs; a zero-length one none. */
    const struct seg across[] = { { A_SIZE - 8, 16, 0 }, { DATA_GPA, 0, VRING_DESC_F_WRITE } };
    post(f, across, 2, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, 2);
    assert_int_equal(f->elem.in_num, 0);
    virtq_push(&f->vq, 0, 0);
    expect_used(f, 0, 0);
}

/*
 * Many laps of the ring with chains of 1-maxlen descriptors, three in flight
 * and completed out of order: the driver must find each used descriptor where
 * it looks, and the base must carry both wrap counters.
 */
static void run_laps(struct fx *f, unsigned maxlen)
{
    uint16_t inflight[3];
    unsigned seq = 0;

    for (unsigned round = 0; round < 30; round++) {
        unsigned n = 0;
        for (uint16_t k = 0; k < 3; k++) {
            struct seg s[3];
            unsigned len = 1 + (seq + k) % maxlen;
            for (unsigned i = 0; i < len; i++)
                s[i] = (struct seg){ DATA_GPA + 64 * i, 8,
                                     (uint16_t)(i + 1 == len ? VRING_DESC_F_WRITE : 0) };
            post(f, s, len, (uint16_t)((round + k) % f->vq.num));
        }
        seq++;
        while (n < 3) {
            assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
            assert_int_equal(f->elem.in_num, 1);
            inflight[n++] = f->elem.head;
        }
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
        /* Complete in reverse: the used descriptors overwrite other chains' slots. */
        for (int i = 2; i >= 0; i--)
            virtq_push(&f->vq, inflight[i], 100 + inflight[i]);
        for (int i = 2; i >= 0; i--)
            expect_used(f, inflight[i], 100 + inflight[i]);
        assert_int_equal(f->vq.used_idx, f->next_used);
        assert_int_equal(f->vq.used_wrap, f->used_wrap);
        assert_int_equal(f->vq.last_avail_idx, f->next_avail);
        assert_int_equal(f->vq.avail_wrap, f->avail_wrap);
    }
    assert_int_equal(virtq_get_base(&f->vq), (uint32_t)f->next_avail | f->avail_wrap << 15 |
                                                 (uint32_t)f->next_used << 16 |
                                                 (uint32_t)f->used_wrap << 31);
}

static void test_wraparound(void **state)
{
    struct fx *f = *state;

    run_laps(f, 3);
    /* 30 rounds of 6 descriptors on 8 slots: 22 laps and a half. */
    assert_true(f->vq.avail_wrap);
    assert_int_equal(f->vq.last_avail_idx, 4);
    /* A ring of 5: three chains of 1-2 descriptors fit in it. */
    start_ring(f, 5, false, true);
    run_laps(f, 2);
    /* A restart at the reported base resumes where the driver is. */
    uint32_t base = virtq_get_base(&f->vq);
    f->vq.packed = true;
    virtq_set_base(&f->vq, base);
    assert_int_equal(
        virtq_set_addr(&f->vq, &f->mem, UVA_A + DESC_GPA, UVA_A + DRV_GPA, UVA_A + DEV_GPA), 0);
    run_laps(f, 2);
}

static void test_indirect(void **state)
{
    struct fx *f = *state;
    struct vring_packed_desc_le *t = g(f, TABLE_GPA);

    t[0] = (struct vring_packed_desc_le){ htole64(DATA_GPA), htole32(16), 0, 0 };
    /* Flags other than WRITE in a table are reserved and ignored (NEXT, INDIRECT). */
    t[1] = (struct vring_packed_desc_le){ htole64(DATA_GPA + 0x100), htole32(32), 0,
                                          htole16(VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT) };
    t[2] = (struct vring_packed_desc_le){ htole64(DATA_GPA + 0x200), htole32(64), htole16(9),
                                          htole16(VRING_DESC_F_WRITE) };
    const struct seg ind = { TABLE_GPA, 48, VRING_DESC_F_INDIRECT };
    post(f, &ind, 1, 3);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 3);
    assert_int_equal(f->elem.out_num, 2);
    assert_int_equal(f->elem.in_num, 1);
    assert_ptr_equal(f->iov[2].iov_base, g(f, DATA_GPA + 0x200));
    virtq_push(&f->vq, 3, 64);
    expect_used(f, 3, 64);

    /* Bad tables fail their request only. */
    const struct seg bad[] = {
        { TABLE_GPA, 0, VRING_DESC_F_INDIRECT },             /* empty */
        { TABLE_GPA, 40, VRING_DESC_F_INDIRECT },            /* not whole descriptors */
        { HOLE_GPA, 16, VRING_DESC_F_INDIRECT },             /* outside memory */
        { A_SIZE + B_SIZE - 16, 32, VRING_DESC_F_INDIRECT }, /* runs off the end */
        { TABLE_GPA, 16u * (VIRTQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT }, /* too long */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, &bad[i], 1, 1);
    /* A table entry outside memory, or a readable one after a writable one. */
    t[0].addr = htole64(HOLE_GPA);
    expect_bad(f, &ind, 1, 2);
    t[0].addr = htole64(DATA_GPA);
    t[0].flags = htole16(VRING_DESC_F_WRITE);
    expect_bad(f, &ind, 1, 2);
    t[0].flags = 0;

    /* An indirect descriptor in a chain: the chain is still delimited and skipped whole. */
    const struct seg chained[] = { { DATA_GPA, 8, 0 }, { TABLE_GPA, 48, VRING_DESC_F_INDIRECT } };
    expect_bad(f, chained, 2, 4);
    const struct seg first[] = { { TABLE_GPA, 48, VRING_DESC_F_INDIRECT }, { DATA_GPA, 8, 0 } };
    expect_bad(f, first, 2, 4);

    /* Without the feature an indirect descriptor is a bad request. */
    start_ring(f, NUM, false, false);
    expect_bad(f, &ind, 1, 0);
    const struct seg ok = { DATA_GPA, 8, VRING_DESC_F_WRITE };
    post(f, &ok, 1, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
}

static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    const struct seg bad[][2] = {
        { { HOLE_GPA, 8, 0 }, { DATA_GPA, 8, VRING_DESC_F_WRITE } },            /* unmapped */
        { { A_SIZE + B_SIZE - 4, 8, 0 }, { DATA_GPA, 8, VRING_DESC_F_WRITE } }, /* off the end */
        { { UINT64_MAX - 3, 8, 0 }, { DATA_GPA, 8, VRING_DESC_F_WRITE } },      /* wraps */
        { { DATA_GPA, 0xffffffffu, 0 }, { DATA_GPA, 8, VRING_DESC_F_WRITE } },  /* too long */
        { { DATA_GPA, 8, VRING_DESC_F_WRITE }, { DATA_GPA, 8, 0 } }, /* read after write */
    };
    const struct seg ok[] = { { DATA_GPA, 8, 0 }, { DATA_GPA + 8, 8, VRING_DESC_F_WRITE } };

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_bad(f, bad[i], 2, 6);
        post(f, ok, 2, 7);
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
        virtq_push(&f->vq, 7, 8);
        expect_used(f, 7, 8);
    }

    /* More iovecs than the caller has room for. */
    struct seg many[8];
    for (unsigned i = 0; i < 8; i++)
        many[i] = (struct seg){ DATA_GPA + 16 * i, 8, 0 };
    f->elem.iov_max = 7;
    expect_bad(f, many, 8, 2);
    f->elem.iov_max = 64;
}

/* A structural violation: the ring stops, nothing is taken, and it stays stopped. */
static void assert_broken(struct fx *f, uint16_t last_avail)
{
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EIO);
    assert_true(f->vq.broken);
    assert_int_equal(f->vq.last_avail_idx, last_avail);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EIO);
    assert_false(virtq_avail_pending(&f->vq));
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(virtq_map_head(&f->vq, 0, &f->elem), -EIO);
}

static void test_broken_ring(void **state)
{
    struct fx *f = *state;
    struct seg s[NUM];

    for (unsigned i = 0; i < NUM; i++)
        s[i] = (struct seg){ DATA_GPA, 8, 0 };
    /* Every slot available and chained: a chain longer than the ring (a loop). */
    post_flags(f, s, NUM, 0, VRING_DESC_F_NEXT);
    assert_broken(f, 0);

    /* A chain running into a slot the driver has not made available. */
    start_ring(f, NUM, false, true);
    post_flags(f, s, 2, 0, VRING_DESC_F_NEXT);
    assert_broken(f, 0);

    /* Buffer IDs the device cannot answer: out of range, or already in flight. */
    start_ring(f, NUM, false, true);
    post(f, s, 1, NUM);
    assert_broken(f, 0);
    start_ring(f, NUM, false, true);
    post(f, s, 1, 3);
    post(f, s, 2, 3);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_broken(f, 1);

    /* The reset of a restart clears it. */
    start_ring(f, NUM, false, true);
    post(f, s, NUM, 7);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, NUM);
    virtq_push(&f->vq, 7, 0);
    expect_used(f, 7, 0);
    assert_false(f->vq.used_wrap);
}

/*
 * Chains still in flight are mapped again from what was kept at pop time:
 * by then the driver may have reused their slots.
 */
static void test_map_head(void **state)
{
    struct fx *f = *state;
    const struct seg tmf[] = { { DATA_GPA, 16, 0 }, { DATA_GPA + 0x100, 32, VRING_DESC_F_WRITE } };
    const struct seg one = { DATA_GPA + 0x200, 8, VRING_DESC_F_WRITE };
    struct seg five[5];

    for (unsigned i = 0; i < 5; i++)
        five[i] = (struct seg){ DATA_GPA + 16 * i, 8, 0 };
    post(f, tmf, 2, 1);
    post(f, five, 5, 2);
    post(f, &one, 1, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    /* ID 3 completes first: its used descriptor lands on ID 1's first slot. */
    virtq_push(&f->vq, 3, 8);
    expect_used(f, 3, 8);
    /* The driver reuses that slot for a new buffer. */
    post(f, &one, 1, 4);
    assert_int_equal(le64toh(f->desc[0].addr), DATA_GPA + 0x200);

    assert_int_equal(virtq_map_head(&f->vq, 1, &f->elem), 1);
    assert_int_equal(f->elem.head, 1);
    assert_int_equal(f->elem.out_num, 1);
    assert_int_equal(f->elem.in_num, 1);
    assert_ptr_equal(f->iov[1].iov_base, g(f, DATA_GPA + 0x100));
    /* Longer than what is kept: refused, but still completes. */
    assert_int_equal(virtq_map_head(&f->vq, 2, &f->elem), -EBADMSG);
    assert_int_equal(f->elem.out_num + f->elem.in_num, 0);
    /* Not in flight. */
    assert_int_equal(virtq_map_head(&f->vq, 3, &f->elem), -EIO);
    assert_int_equal(virtq_map_head(&f->vq, NUM, &f->elem), -EIO);

    virtq_push(&f->vq, 1, 32);
    virtq_push(&f->vq, 2, 0);
    expect_used(f, 1, 32);
    expect_used(f, 2, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 4);
}

static void set_driver_event(struct fx *f, uint16_t flags, uint16_t off, bool wrap)
{
    f->drv->off_wrap = htole16((uint16_t)(off | (wrap ? VRING_PACKED_EVENT_WRAP : 0)));
    f->drv->flags = htole16(flags);
}

/* Post, pop and push one one-descriptor buffer. */
static void cycle(struct fx *f)
{
    const struct seg s = { DATA_GPA, 8, VRING_DESC_F_WRITE };
    uint16_t id, fl;
    uint32_t len;

    post(f, &s, 1, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    virtq_push(&f->vq, 0, 8);
    assert_true(get_used(f, &id, &len, &fl));
}

/* One cycle, then the notification: want_calls interrupts, 0 or 1. */
static void cycle_notify(struct fx *f, uint64_t want_calls)
{
    cycle(f);
    virtq_notify(&f->vq);
    assert_int_equal(calls(f), want_calls);
}

static void test_driver_event_suppression(void **state)
{
    struct fx *f = *state;

    /* Without EVENT_IDX: ENABLE and DISABLE; DESC is not the driver's to use, so signal. */
    cycle_notify(f, 1);
    set_driver_event(f, VRING_PACKED_EVENT_DISABLE, 0, true);
    cycle_notify(f, 0);
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 7, false);
    cycle_notify(f, 1);

    /*
     * EVENT_IDX: signal when a used descriptor is written at (or skips over)
     * the position the driver names, in the lap its wrap counter names.
     */
    start_ring(f, NUM, true, true);
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 2, true);
    cycle_notify(f, 0); /* position 0 */
    cycle_notify(f, 0); /* 1 */
    cycle_notify(f, 1); /* 2: the event */
    /* Nothing new pushed: no signal, even with the event still at 2. */
    virtq_notify(&f->vq);
    assert_int_equal(calls(f), 0);

    /* An event in the next lap (wrap 0) at position 1: crossed only after wrapping. */
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 1, false);
    for (unsigned i = 3; i < NUM; i++)
        cycle_notify(f, 0);
    cycle_notify(f, 0); /* position 0 of lap 2 */
    cycle_notify(f, 1); /* position 1 of lap 2 */

    /* Several pushes in one batch: the event inside the window signals once. */
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 3, false);
    cycle(f);           /* 2 */
    cycle(f);           /* 3 */
    cycle_notify(f, 1); /* 4 */
    /* A chain that skips over the event position signals too. */
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 6, false);
    const struct seg three[] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };
    post(f, three, 3, 1); /* 5, 6, 7 */
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    virtq_push(&f->vq, 1, 0);
    virtq_notify(&f->vq);
    assert_int_equal(calls(f), 1);
    /* An event already passed (previous lap) does not signal; an offset past the ring does. */
    set_driver_event(f, VRING_PACKED_EVENT_DESC, 4, false);
    cycle_notify(f, 0);
    set_driver_event(f, VRING_PACKED_EVENT_DESC, NUM, true);
    cycle_notify(f, 1);
    /* ENABLE and DISABLE still mean what they say with EVENT_IDX. */
    set_driver_event(f, VRING_PACKED_EVENT_ENABLE, 0, true);
    virtq_notify(&f->vq);
    assert_int_equal(calls(f), 1);
    set_driver_event(f, VRING_PACKED_EVENT_DISABLE, 0, true);
    cycle_notify(f, 0);
}

static void test_device_event_suppression(void **state)
{
    struct fx *f = *state;
    const struct seg s = { DATA_GPA, 8, VRING_DESC_F_WRITE };

    virtq_disable_notify(&f->vq);
    assert_int_equal(le16toh(f->dev->flags), VRING_PACKED_EVENT_DISABLE);
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(f->dev->flags), VRING_PACKED_EVENT_ENABLE);
    /* A request that arrived while kicks were off is reported. */
    virtq_disable_notify(&f->vq);
    post(f, &s, 1, 0);
    assert_true(virtq_enable_notify(&f->vq));

    /* EVENT_IDX: a kick for the next descriptor to take, in its lap. */
    start_ring(f, NUM, true, true);
    for (unsigned i = 0; i < NUM + 2; i++)
        cycle(f);
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(f->dev->flags), VRING_PACKED_EVENT_DESC);
    assert_int_equal(le16toh(f->dev->off_wrap), 2); /* position 2, wrap 0 */
    virtq_disable_notify(&f->vq);                   /* leaves the event where it is */
    assert_int_equal(le16toh(f->dev->flags), VRING_PACKED_EVENT_DESC);
    post(f, &s, 1, 0);
    assert_true(virtq_enable_notify(&f->vq));
    assert_true(virtq_avail_pending(&f->vq));
}

static void test_unpop(void **state)
{
    struct fx *f = *state;
    const struct seg ev = { DATA_GPA, 8, VRING_DESC_F_WRITE };
    uint16_t ids[2];

    /* Held buffers, nothing completed since: taken again from the ring later. */
    post(f, &ev, 1, 4);
    post(f, &ev, 1, 5);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
        ids[i] = f->elem.head;
    }
    virtq_unpop(&f->vq, ids, 2);
    assert_int_equal(f->vq.last_avail_idx, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 4);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 5);

    /*
     * One of them completed: its used descriptor went over the other's slot,
     * which can no longer be offered again; it is completed empty instead.
     */
    virtq_push(&f->vq, 5, 8);
    virtq_unpop(&f->vq, &ids[0], 1);
    assert_int_equal(f->vq.last_avail_idx, 2);
    expect_used(f, 5, 8);
    expect_used(f, 4, 0);
    assert_int_equal(calls(f), 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
}

static void test_no_inflight(void **state)
{
    struct fx *f = *state;

    assert_int_equal(virtq_recover_inflight(&f->vq), 0);
    f->vq.inflight = calloc(1, vu_inflight_queue_size(NUM));
    assert_non_null(f->vq.inflight);
    assert_int_equal(virtq_recover_inflight(&f->vq), -EOPNOTSUPP);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_set_addr_checks),
        T(test_simple_chain),
        T(test_wraparound),
        T(test_indirect),
        T(test_bad_requests),
        T(test_broken_ring),
        T(test_map_head),
        T(test_driver_event_suppression),
        T(test_device_event_suppression),
        T(test_unpop),
        T(test_no_inflight),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
