/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tests play the guest: they build rings and buffers in a memfd-backed
 * memory table (two adjacent regions, then a hole) and check what the device
 * side makes of them.
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

#define NUM       8
#define AVAIL_GPA 0x1000
#define USED_GPA  0x2000

struct fx {
    struct vu_mem_table mem;
    struct virtq vq;
    struct vring_desc_le *desc;
    struct vring_avail_le *avail;
    struct vring_used_le *used;
    uint16_t avail_idx; /* the guest's shadow */
    struct iovec iov[64];
    struct virtq_elem elem;
};

static void *g(struct fx *f, uint64_t gpa)
{
    return vqfx_host(&f->mem, gpa);
}

static void set_desc(struct vring_desc_le *table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    table[i].addr = htole64(addr);
    table[i].len = htole32(len);
    table[i].flags = htole16(flags);
    table[i].next = htole16(next);
}

static void publish(struct fx *f, uint16_t head)
{
    f->avail->ring[f->avail_idx % NUM] = htole16(head);
    f->avail_idx++;
    __atomic_store_n(&f->avail->idx, htole16(f->avail_idx), __ATOMIC_RELEASE);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    vqfx_mem_init(&f->mem, "virtq_test");

    f->desc = g(f, DESC_GPA);
    f->avail = g(f, AVAIL_GPA);
    f->used = g(f, USED_GPA);
    f->vq.num = NUM;
    f->vq.call_fd = -1;
    f->vq.indirect = true;
    assert_int_equal(
        virtq_set_addr(&f->vq, &f->mem, UVA_A + DESC_GPA, UVA_A + AVAIL_GPA, UVA_A + USED_GPA), 0);
    virtq_set_base(&f->vq, 0);
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

/* A well-formed one-in one-out request at head; used to show the queue still works. */
static void assert_good_request_works(struct fx *f, uint16_t head)
{
    set_desc(f->desc, head, DATA_GPA, 16, VRING_DESC_F_NEXT, (head + 1) % NUM);
    set_desc(f->desc, (head + 1) % NUM, DATA_GPA + 0x100, 32, VRING_DESC_F_WRITE, 0);
    publish(f, head);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, head);
    assert_int_equal(f->elem.out_num, 1);
    assert_int_equal(f->elem.in_num, 1);
    virtq_push(&f->vq, head, 32);
}

/* Publish a chain at head and expect this request, and only it, to fail. */
static void assert_bad_request(struct fx *f, uint16_t head)
{
    uint16_t before = f->vq.last_avail_idx;
    publish(f, head);
    f->elem.out_num = 99;
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EBADMSG);
    assert_int_equal(f->elem.head, head);
    assert_int_equal(f->elem.out_num, 0);
    assert_int_equal(f->elem.in_num, 0);
    assert_int_equal(f->vq.last_avail_idx, (uint16_t)(before + 1));
    assert_false(f->vq.broken);
    virtq_push(&f->vq, head, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
}

static void test_set_addr_checks(void **state)
{
    struct fx *f = *state;
    struct virtq vq = { .num = NUM, .call_fd = -1 };
    const uint64_t d = UVA_A + DESC_GPA, a = UVA_A + AVAIL_GPA, u = UVA_A + USED_GPA;

    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), 0);
    vq.num = 6;
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), -EINVAL);
    vq.num = 0;
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), -EINVAL);
    vq.num = NUM;
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d + 8, a, u), -EINVAL);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a + 1, u), -EINVAL);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u + 2), -EINVAL);
    /* Guest physical addresses are not frontend virtual addresses. */
    assert_int_equal(virtq_set_addr(&vq, &f->mem, DESC_GPA, a, u), -EFAULT);
    /* Each part must fit whole, event fields included, inside one region. */
    assert_int_equal(virtq_set_addr(&vq, &f->mem, UVA_A + A_SIZE - 16 * NUM + 16, a, u), -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, UVA_A + A_SIZE - 16 * NUM, a, u), 0);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, UVA_A + A_SIZE - (6 + 2 * NUM) + 2, u),
                     -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, UVA_A + A_SIZE - 64), -EFAULT);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, UVA_B + B_SIZE), -EFAULT);

    /*
     * Restart with requests still inflight: the frontend's avail base (10) is
     * ahead of used->idx (5), and completions must resume at the latter.
     */
    f->used->idx = htole16(5);
    virtq_set_base(&vq, 10);
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, u), 0);
    assert_int_equal(vq.used_idx, 5);
    assert_int_equal(vq.last_avail_idx, 10);

    /* A failed translation leaves no stale ring pointers behind. */
    assert_int_equal(virtq_set_addr(&vq, &f->mem, d, a, UVA_B + B_SIZE), -EFAULT);
    assert_null(vq.desc);
    assert_null(vq.avail);
    assert_null(vq.used);
    assert_int_equal(virtq_pop(&vq, &f->elem), 0);
    virtq_push(&vq, 0, 0);
    virtq_notify(&vq);
    assert_false(virtq_enable_notify(&vq));
    virtq_disable_notify(&vq);
    assert_int_equal(le16toh(f->used->idx), 5);
}

/*
 * Dropping the rings leaves no pointer of either layout, so a ring that
 * changes layout keeps none of the old one; mem stays for the dirty log.
 */
static void test_forget_rings(void **state)
{
    struct fx *f = *state;
    int dummy;

    f->vq.pdesc = (void *)&dummy;
    f->vq.driver_event = (void *)&dummy;
    f->vq.device_event = (void *)&dummy;
    virtq_forget_rings(&f->vq);
    assert_null(f->vq.desc);
    assert_null(f->vq.avail);
    assert_null(f->vq.used);
    assert_null(f->vq.pdesc);
    assert_null(f->vq.driver_event);
    assert_null(f->vq.device_event);
    assert_ptr_equal(f->vq.mem, &f->mem);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
    assert_false(virtq_avail_pending(&f->vq));
}

static void test_empty_and_simple_chain(void **state)
{
    struct fx *f = *state;
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);

    set_desc(f->desc, 2, DATA_GPA, 16, VRING_DESC_F_NEXT, 5);
    set_desc(f->desc, 5, DATA_GPA + 0x100, 32, VRING_DESC_F_NEXT, 0);
    set_desc(f->desc, 0, DATA_GPA + 0x1000, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 7);
    set_desc(f->desc, 7, DATA_GPA + 0x2000, 8, VRING_DESC_F_WRITE, 3);
    publish(f, 2);

    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 2);
    assert_int_equal(f->elem.out_num, 2);
    assert_int_equal(f->elem.in_num, 2);
    assert_ptr_equal(f->iov[0].iov_base, g(f, DATA_GPA));
    assert_int_equal(f->iov[0].iov_len, 16);
    assert_ptr_equal(f->iov[1].iov_base, g(f, DATA_GPA + 0x100));
    assert_int_equal(f->iov[1].iov_len, 32);
    assert_ptr_equal(f->iov[2].iov_base, g(f, DATA_GPA + 0x1000));
    assert_int_equal(f->iov[2].iov_len, 512);
    assert_ptr_equal(f->iov[3].iov_base, g(f, DATA_GPA + 0x2000));
    assert_int_equal(f->vq.last_avail_idx, 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);

    virtq_push(&f->vq, 2, 520);
    assert_int_equal(le32toh(f->used->ring[0].id), 2);
    assert_int_equal(le32toh(f->used->ring[0].len), 520);
    assert_int_equal(le16toh(f->used->idx), 1);
    assert_int_equal(f->vq.used_idx, 1);
}

static void test_index_wraparound(void **state)
{
    struct fx *f = *state;
    /* Start just below 2^16 so both the avail and used indexes wrap. */
    f->avail_idx = 65533;
    f->avail->idx = htole16(65533);
    f->used->idx = htole16(65533);
    virtq_set_base(&f->vq, 65533);
    assert_int_equal(f->vq.used_idx, 65533);

    for (unsigned i = 0; i < 6; i++) {
        uint16_t head = (uint16_t)(i % NUM);
        set_desc(f->desc, head, DATA_GPA + i * 64, 64, VRING_DESC_F_WRITE, 0);
        publish(f, head);
    }
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
        assert_int_equal(f->elem.head, i % NUM);
        assert_int_equal(f->elem.in_num, 1);
        virtq_push(&f->vq, f->elem.head, 10 + i);
    }
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
    assert_int_equal(le16toh(f->used->idx), 3);
    for (unsigned i = 0; i < 6; i++) {
        unsigned slot = (65533 + i) % NUM;
        assert_int_equal(le32toh(f->used->ring[slot].id), i % NUM);
        assert_int_equal(le32toh(f->used->ring[slot].len), 10 + i);
    }
}

static void test_full_ring_is_not_broken(void **state)
{
    struct fx *f = *state;
    for (unsigned i = 0; i < NUM; i++) {
        set_desc(f->desc, i, DATA_GPA, 8, 0, 0);
        publish(f, (uint16_t)i);
    }
    for (unsigned i = 0; i < NUM; i++)
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
}

static void test_any_layout_split_across_regions(void **state)
{
    struct fx *f = *state;
    /* One buffer straddling the A/B boundary becomes two iovecs. */
    set_desc(f->desc, 0, A_SIZE - 100, 300, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.in_num, 2);
    assert_ptr_equal(f->iov[0].iov_base, g(f, A_SIZE - 100));
    assert_int_equal(f->iov[0].iov_len, 100);
    assert_ptr_equal(f->iov[1].iov_base, g(f, A_SIZE));
    assert_int_equal(f->iov[1].iov_len, 200);
}

static void test_zero_length_descriptors(void **state)
{
    struct fx *f = *state;
    set_desc(f->desc, 0, DATA_GPA, 0, VRING_DESC_F_NEXT, 1);
    set_desc(f->desc, 1, DATA_GPA, 16, VRING_DESC_F_NEXT, 2);
    /* Even an unmapped address is fine when nothing is to be transferred. */
    set_desc(f->desc, 2, HOLE_GPA, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
    set_desc(f->desc, 3, DATA_GPA + 64, 4, VRING_DESC_F_WRITE, 0);
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, 1);
    assert_int_equal(f->elem.in_num, 1);
    assert_int_equal(f->iov[0].iov_len, 16);
    assert_int_equal(f->iov[1].iov_len, 4);
}

static void test_indirect(void **state)
{
    struct fx *f = *state;
    struct vring_desc_le *t = g(f, TABLE_GPA);

    /* Entries out of order in the table: 0 -> 2 -> 1. */
    set_desc(t, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 2);
    set_desc(t, 2, DATA_GPA + 0x100, 0, VRING_DESC_F_NEXT, 1);
    set_desc(t, 1, DATA_GPA + 0x200, 96, VRING_DESC_F_WRITE, 0);
    /* WRITE on the indirect descriptor itself means nothing. */
    set_desc(f->desc, 4, TABLE_GPA, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
    publish(f, 4);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, 4);
    assert_int_equal(f->elem.out_num, 1);
    assert_int_equal(f->elem.in_num, 1);
    assert_ptr_equal(f->iov[0].iov_base, g(f, DATA_GPA));
    assert_ptr_equal(f->iov[1].iov_base, g(f, DATA_GPA + 0x200));
    assert_int_equal(f->iov[1].iov_len, 96);

    /* Direct descriptors followed by an indirect one (the spec allows it). */
    set_desc(f->desc, 6, DATA_GPA + 0x300, 8, VRING_DESC_F_NEXT, 1);
    set_desc(f->desc, 1, TABLE_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
    publish(f, 6);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, 2);
    assert_int_equal(f->elem.in_num, 1);
    assert_ptr_equal(f->iov[0].iov_base, g(f, DATA_GPA + 0x300));
    assert_ptr_equal(f->iov[1].iov_base, g(f, DATA_GPA));

    /* A table larger than the ring is fine when it is one chain. */
    for (unsigned i = 0; i < 20; i++)
        set_desc(t, i, DATA_GPA + i * 16, 16, i < 19 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    set_desc(f->desc, 3, TABLE_GPA, 20 * 16, VRING_DESC_F_INDIRECT, 0);
    publish(f, 3);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, 20);
}

static void test_bad_direct_chains(void **state)
{
    struct fx *f = *state;

    /* Two-descriptor loop. */
    set_desc(f->desc, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
    set_desc(f->desc, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 0);
    assert_bad_request(f, 0);
    /* Self loop of zero-length descriptors (no iovec limit to stop it). */
    set_desc(f->desc, 2, DATA_GPA, 0, VRING_DESC_F_NEXT, 2);
    assert_bad_request(f, 2);
    /* A chain through every descriptor that then loops back. */
    for (unsigned i = 0; i < NUM; i++)
        set_desc(f->desc, i, DATA_GPA, 0, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % NUM));
    assert_bad_request(f, 0);
    /* next out of range. */
    set_desc(f->desc, 3, DATA_GPA, 8, VRING_DESC_F_NEXT, NUM);
    assert_bad_request(f, 3);
    set_desc(f->desc, 3, DATA_GPA, 8, VRING_DESC_F_NEXT, 0xffff);
    assert_bad_request(f, 3);
    /* Readable after writable. */
    set_desc(f->desc, 4, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
    set_desc(f->desc, 5, DATA_GPA, 8, 0, 0);
    assert_bad_request(f, 4);
    /* Data outside guest memory: in the hole, straddling into it, wrapping 2^64. */
    set_desc(f->desc, 6, HOLE_GPA, 8, 0, 0);
    assert_bad_request(f, 6);
    set_desc(f->desc, 6, HOLE_GPA - 4, 8, VRING_DESC_F_WRITE, 0);
    assert_bad_request(f, 6);
    set_desc(f->desc, 6, UINT64_MAX - 10, 100, 0, 0);
    assert_bad_request(f, 6);
    set_desc(f->desc, 6, DATA_GPA, 8, VRING_DESC_F_NEXT, 7);
    set_desc(f->desc, 7, 0xfffffffffffff000ull, 0xffffffff, VRING_DESC_F_WRITE, 0);
    assert_bad_request(f, 6);

    assert_good_request_works(f, 0);
}

static void test_too_many_iovecs(void **state)
{
    struct fx *f = *state;
    f->elem.iov_max = 2;
    set_desc(f->desc, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
    set_desc(f->desc, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
    set_desc(f->desc, 2, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
    assert_bad_request(f, 0);
    /* Two descriptors, but one splits across regions into two iovecs. */
    set_desc(f->desc, 3, DATA_GPA, 8, VRING_DESC_F_NEXT, 4);
    set_desc(f->desc, 4, A_SIZE - 4, 8, VRING_DESC_F_WRITE, 0);
    assert_bad_request(f, 3);
    /* Exactly two fits. */
    set_desc(f->desc, 5, A_SIZE - 4, 8, VRING_DESC_F_WRITE, 0);
    publish(f, 5);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.in_num, 2);
}

static void test_bad_indirect(void **state)
{
    struct fx *f = *state;
    struct vring_desc_le *t = g(f, TABLE_GPA);
    set_desc(t, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
    set_desc(t, 1, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);

    /* Nested indirect. */
    set_desc(t, 2, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
    set_desc(f->desc, 0, TABLE_GPA + 32, 16, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    /* INDIRECT together with NEXT. */
    set_desc(f->desc, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    assert_bad_request(f, 0);
    /* Table length zero, or not a multiple of a descriptor. */
    set_desc(f->desc, 0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    set_desc(f->desc, 0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    /* Table not in guest memory, or not inside one region. */
    set_desc(f->desc, 0, HOLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    set_desc(f->desc, 0, A_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    set_desc(f->desc, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    /* Loop inside the table. */
    set_desc(t, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 0);
    set_desc(f->desc, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);
    /* next beyond the table (but inside the ring size). */
    set_desc(t, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
    assert_bad_request(f, 0);
    /* Writable direct descriptor, then a readable one in the table. */
    set_desc(t, 1, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
    set_desc(f->desc, 5, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
    assert_bad_request(f, 5);
    /* Huge table. */
    set_desc(f->desc, 0, TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT, 0);
    assert_bad_request(f, 0);

    /* Same good table, but the feature was not negotiated. */
    set_desc(f->desc, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
    f->vq.indirect = false;
    assert_bad_request(f, 0);
    f->vq.indirect = true;
    publish(f, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.out_num, 1);
    assert_int_equal(f->elem.in_num, 1);
}

static void test_broken_ring(void **state)
{
    struct fx *f = *state;
    /* The guest claims more new entries than the ring holds. */
    f->avail->idx = htole16(NUM + 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EIO);
    assert_true(f->vq.broken);
    f->avail->idx = htole16(1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EIO);
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(f->used->idx), 0);

    /* Restarting the queue clears it; then a head beyond the ring breaks it again. */
    f->avail->idx = 0;
    f->avail_idx = 0;
    virtq_set_base(&f->vq, 0);
    assert_false(f->vq.broken);
    publish(f, NUM);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EIO);
    assert_true(f->vq.broken);
    assert_int_equal(f->vq.last_avail_idx, 0);
}

static uint64_t read_calls(int fd)
{
    uint64_t v = 0;
    if (read(fd, &v, sizeof(v)) != sizeof(v)) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return v;
}

static void push_n(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        set_desc(f->desc, 0, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
        publish(f, 0);
        assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
        virtq_push(&f->vq, 0, 8);
    }
}

static void test_notify_flags(void **state)
{
    struct fx *f = *state;
    f->vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->vq.call_fd >= 0);

    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);

    f->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 0);
}

static void test_notify_event_idx(void **state)
{
    struct fx *f = *state;
    uint16_t *used_event = vring_used_event(f->avail, NUM);
    f->vq.event_idx = true;
    f->vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->vq.call_fd >= 0);
    /* Ignored with EVENT_IDX. */
    f->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);

    /* First decision has nothing to compare with: always signal. */
    *used_event = htole16(100);
    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);

    /* used 1 -> 2 crosses used_event 1. */
    *used_event = htole16(1);
    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);
    /* 2 -> 3 does not cross it again. */
    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 0);
    /* Nothing pushed: nothing to signal. */
    *used_event = htole16(3);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 0);
    /* A batch 3 -> 6 whose middle crosses used_event 4. */
    *used_event = htole16(4);
    push_n(f, 3);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);
    /* used_event just beyond the batch: 6 -> 8 with event 8. */
    *used_event = htole16(8);
    push_n(f, 2);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 0);
    push_n(f, 1);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);
    assert_int_equal(f->vq.used_idx, 9);
}

static void test_notify_event_idx_wrap(void **state)
{
    struct fx *f = *state;
    f->vq.event_idx = true;
    f->vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->vq.call_fd >= 0);
    f->avail_idx = 65534;
    f->avail->idx = htole16(65534);
    f->used->idx = htole16(65534);
    virtq_set_base(&f->vq, 65534);
    f->vq.signalled_used = 65534;
    f->vq.signalled_used_valid = true;

    /* 65534 -> 1 crosses event 65535 and 0 across the wrap. */
    *vring_used_event(f->avail, NUM) = htole16(0);
    push_n(f, 3);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 1);
    *vring_used_event(f->avail, NUM) = htole16(65534);
    push_n(f, 2);
    virtq_notify(&f->vq);
    assert_int_equal(read_calls(f->vq.call_fd), 0);
}

static void test_enable_disable_notify(void **state)
{
    struct fx *f = *state;

    virtq_disable_notify(&f->vq);
    assert_int_equal(le16toh(f->used->flags), VRING_USED_F_NO_NOTIFY);
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(f->used->flags), 0);
    set_desc(f->desc, 0, DATA_GPA, 8, 0, 0);
    publish(f, 0);
    assert_true(virtq_enable_notify(&f->vq));
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_false(virtq_enable_notify(&f->vq));

    f->vq.event_idx = true;
    uint16_t *avail_event = vring_avail_event(f->used, NUM);
    *avail_event = htole16(0x5555);
    f->used->flags = 0;
    virtq_disable_notify(&f->vq);
    assert_int_equal(le16toh(*avail_event), 0x5555);
    assert_int_equal(f->used->flags, 0);
    assert_false(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(*avail_event), 1);
    publish(f, 0);
    publish(f, 0);
    assert_true(virtq_enable_notify(&f->vq));
    assert_int_equal(le16toh(*avail_event), 3);
}

static void test_avail_pending(void **state)
{
    struct fx *f = *state;

    assert_false(virtq_avail_pending(&f->vq));
    set_desc(f->desc, 0, DATA_GPA, 8, 0, 0);
    publish(f, 0);
    /* Looking changes nothing: not the index, not the guest's notification state. */
    f->used->flags = 0;
    assert_true(virtq_avail_pending(&f->vq));
    assert_true(virtq_avail_pending(&f->vq));
    assert_int_equal(f->used->flags, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_false(virtq_avail_pending(&f->vq));
    /* A broken ring has nothing to offer, whatever its index says. */
    publish(f, 0);
    f->vq.broken = true;
    assert_false(virtq_avail_pending(&f->vq));
}

static void test_inflight_tracking(void **state)
{
    struct fx *f = *state;
    struct vu_inflight_split *q = aligned_alloc(64, vu_inflight_queue_size(NUM));
    assert_non_null(q);
    vu_inflight_queue_init(q, NUM, 0);
    f->vq.inflight = q;

    set_desc(f->desc, 1, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
    set_desc(f->desc, 6, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
    set_desc(f->desc, 2, HOLE_GPA, 8, 0, 0); /* bad */
    publish(f, 6);
    publish(f, 1);
    publish(f, 2);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), -EBADMSG);
    assert_int_equal(q->desc[6].inflight, 1);
    assert_int_equal(q->desc[1].inflight, 1);
    assert_int_equal(q->desc[2].inflight, 1);
    assert_int_equal(q->desc[0].inflight, 0);
    assert_true(q->desc[6].counter < q->desc[1].counter);
    assert_true(q->desc[1].counter < q->desc[2].counter);

    virtq_push(&f->vq, 2, 0);
    assert_int_equal(q->desc[2].inflight, 0);
    assert_int_equal(q->last_batch_head, 2);
    assert_int_equal(q->used_idx, 1);
    assert_int_equal(le16toh(f->used->idx), 1);

    struct vu_inflight_entry out[NUM];
    assert_int_equal(vu_inflight_collect(q, NUM, out, NUM), 2);
    assert_int_equal(out[0].head, 6);
    assert_int_equal(out[1].head, 1);

    /* Resubmission re-reads a collected head without consuming the avail ring. */
    uint16_t last = f->vq.last_avail_idx;
    assert_int_equal(virtq_map_head(&f->vq, 6, &f->elem), 1);
    assert_int_equal(f->elem.head, 6);
    assert_int_equal(f->elem.in_num, 1);
    assert_int_equal(f->vq.last_avail_idx, last);
    assert_int_equal(virtq_map_head(&f->vq, 2, &f->elem), -EBADMSG);
    assert_int_equal(virtq_map_head(&f->vq, NUM, &f->elem), -EIO);

    virtq_push(&f->vq, 6, 8);
    virtq_push(&f->vq, 1, 8);
    assert_int_equal(vu_inflight_collect(q, NUM, out, NUM), 0);
    assert_int_equal(q->used_idx, 3);
    assert_int_equal(q->last_batch_head, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_set_addr_checks),
        T(test_forget_rings),
        T(test_empty_and_simple_chain),
        T(test_index_wraparound),
        T(test_full_ring_is_not_broken),
        T(test_any_layout_split_across_regions),
        T(test_zero_length_descriptors),
        T(test_indirect),
        T(test_bad_direct_chains),
        T(test_too_many_iovecs),
        T(test_bad_indirect),
        T(test_broken_ring),
        T(test_notify_flags),
        T(test_notify_event_idx),
        T(test_notify_event_idx_wrap),
        T(test_enable_disable_notify),
        T(test_avail_pending),
        T(test_inflight_tracking),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
