/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Taking over a ring after a backend restart (virtq_recover_inflight): the
 * tests play the guest and the frontend, build what a killed backend leaves
 * behind (rings in a memfd, an inflight region) and check what a fresh
 * struct virtq makes of it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vhost/vu_inflight.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define NUM       8
#define MEM_SIZE  0x40000ull
#define UVA       0x7f0000000000ull
#define DESC_GPA  0x0
#define AVAIL_GPA 0x1000
#define USED_GPA  0x2000
#define DATA_GPA  0x10000

struct fx {
    struct vu_mem_table mem;
    struct virtq vq;
    struct vring_desc_le *desc;
    struct vring_avail_le *avail;
    struct vring_used_le *used;
    struct vu_inflight_split *region; /* the frontend's: survives the backend */
    uint16_t avail_idx;
    struct iovec iov[16];
    struct virtq_elem elem;
};

static void *g(struct fx *f, uint64_t gpa)
{
    void *p = vu_mem_gpa_to_host(&f->mem, gpa, 1);
    assert_non_null(p);
    return p;
}

/* Every head gets a good one-descriptor writable chain of its own. */
static void good_chains(struct fx *f)
{
    for (unsigned i = 0; i < NUM; i++) {
        f->desc[i].addr = htole64(DATA_GPA + i * 0x100);
        f->desc[i].len = htole32(64);
        f->desc[i].flags = htole16(VRING_DESC_F_WRITE);
        f->desc[i].next = 0;
    }
}

static void publish(struct fx *f, uint16_t head)
{
    f->avail->ring[f->avail_idx % NUM] = htole16(head);
    f->avail_idx++;
    __atomic_store_n(&f->avail->idx, htole16(f->avail_idx), __ATOMIC_RELEASE);
}

/* A backend (re)starts on the rings: what SET_VRING_ADDR/BASE/INFLIGHT/KICK do. */
static void backend_start(struct fx *f, uint16_t base)
{
    virtq_forget_resubmit(&f->vq);
    memset(&f->vq, 0, sizeof(f->vq));
    f->vq.num = NUM;
    f->vq.call_fd = -1;
    virtq_set_base(&f->vq, base);
    assert_int_equal(
        virtq_set_addr(&f->vq, &f->mem, UVA + DESC_GPA, UVA + AVAIL_GPA, UVA + USED_GPA), 0);
    f->vq.inflight = f->region;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int fd = memfd_create("virtq_recover_test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MEM_SIZE), 0);
    assert_int_equal(vu_mem_add_region(&f->mem, 0, MEM_SIZE, UVA, 0, fd), 0);
    f->desc = g(f, DESC_GPA);
    f->avail = g(f, AVAIL_GPA);
    f->used = g(f, USED_GPA);
    f->region = aligned_alloc(64, vu_inflight_queue_size(NUM));
    assert_non_null(f->region);
    vu_inflight_queue_init(f->region, NUM, 0);
    good_chains(f);
    backend_start(f, 0);
    f->elem.iov = f->iov;
    f->elem.iov_max = 16;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    virtq_forget_resubmit(&f->vq);
    free(f->region);
    vu_mem_table_clear(&f->mem);
    free(f);
    return 0;
}

static void pop_expect(struct fx *f, uint16_t head)
{
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 1);
    assert_int_equal(f->elem.head, head);
}

static void test_no_region(void **state)
{
    struct fx *f = *state;

    f->vq.inflight = NULL;
    publish(f, 3);
    assert_int_equal(virtq_recover_inflight(&f->vq), 0);
    assert_int_equal(f->vq.last_avail_idx, 0);
    pop_expect(f, 3);
}

/*
 * Killed with three requests taken and one of them completed: the two others
 * come back first, oldest first, then new requests, whose counters continue
 * past the old ones.  The frontend's base (used->idx, as QEMU restores it
 * after a backend dies) is corrected to count the resubmitted ones.
 */
static void test_resubmit_in_order(void **state)
{
    struct fx *f = *state;

    publish(f, 6);
    publish(f, 1);
    publish(f, 2);
    pop_expect(f, 6);
    pop_expect(f, 1);
    pop_expect(f, 2);
    virtq_push(&f->vq, 1, 64);
    uint64_t newest = le64toh(f->region->desc[2].counter);
    publish(f, 5); /* made available while the backend was down */

    backend_start(f, le16toh(f->used->idx));
    assert_int_equal(virtq_recover_inflight(&f->vq), 2);
    assert_int_equal(f->vq.last_avail_idx, 3);
    assert_true(virtq_avail_pending(&f->vq));
    pop_expect(f, 6);
    pop_expect(f, 2);
    pop_expect(f, 5);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
    assert_true(le64toh(f->region->desc[5].counter) > newest);

    /* Resubmitted requests stay marked until completed, and complete normally. */
    assert_int_equal(f->region->desc[6].inflight, 1);
    virtq_push(&f->vq, 2, 64);
    virtq_push(&f->vq, 6, 64);
    virtq_push(&f->vq, 5, 64);
    struct vu_inflight_entry out[NUM];
    assert_int_equal(vu_inflight_collect(f->region, NUM, out, NUM), 0);
    assert_int_equal(le16toh(f->used->idx), 4);
}

/* Killed after used->idx moved but before the region recorded it: completed once, not twice. */
static void test_published_not_recorded(void **state)
{
    struct fx *f = *state;

    publish(f, 4);
    publish(f, 7);
    pop_expect(f, 4);
    pop_expect(f, 7);
    /* virtq_push's steps up to the used index, then death. */
    f->used->ring[0].id = htole32(7);
    f->used->ring[0].len = htole32(64);
    vu_inflight_pre_push(f->region, 7);
    __atomic_store_n(&f->used->idx, htole16(1), __ATOMIC_RELEASE);

    backend_start(f, 1);
    assert_int_equal(virtq_recover_inflight(&f->vq), 1);
    pop_expect(f, 4);
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
    assert_int_equal(f->region->desc[7].inflight, 0);
    assert_int_equal(le16toh(f->region->used_idx), 1);
}

/* Killed before used->idx moved: the request was not completed and comes back. */
static void test_push_not_published(void **state)
{
    struct fx *f = *state;

    publish(f, 3);
    pop_expect(f, 3);
    vu_inflight_pre_push(f->region, 3);

    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), 1);
    pop_expect(f, 3);
}

/* More requests in flight than the guest made available: not believed. */
static void test_region_claims_too_much(void **state)
{
    struct fx *f = *state;

    publish(f, 0);
    pop_expect(f, 0);
    vu_inflight_mark_popped(f->region, 5, 99); /* never made available */

    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), -EINVAL);
    assert_int_equal(f->vq.last_avail_idx, 0); /* the frontend's base stands */
    assert_int_equal(f->region->desc[5].inflight, 0);
    assert_int_equal(f->region->desc[0].inflight, 0);
    pop_expect(f, 0);
}

/* A corrupt header (wrong version or size) means nothing to resubmit, and no crash. */
static void test_bad_header(void **state)
{
    struct fx *f = *state;

    publish(f, 2);
    pop_expect(f, 2);
    f->region->desc_num = htole16(NUM * 2);
    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), -EINVAL);
    assert_int_equal(f->vq.last_avail_idx, 0);
    pop_expect(f, 2);
}

/*
 * A full ring of hostile entries: every head marked, counters arbitrary
 * (equal, the largest possible), chains broken.  Each comes back once, bad
 * chains as -EBADMSG with their head so the device can complete them.
 */
static void test_hostile_entries(void **state)
{
    struct fx *f = *state;
    static const uint64_t counters[NUM] = { 5, 5, UINT64_MAX, 0, 1, 5, 2, 3 };
    bool seen[NUM] = { false };

    for (unsigned i = 0; i < NUM; i++)
        publish(f, (uint16_t)i);
    for (unsigned i = 0; i < NUM; i++)
        vu_inflight_mark_popped(f->region, (uint16_t)i, counters[i]);
    f->desc[3].addr = htole64(MEM_SIZE * 4); /* outside guest memory */
    f->desc[6].flags = htole16(VRING_DESC_F_NEXT);
    f->desc[6].next = htole16(6); /* a loop */

    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), NUM);
    assert_int_equal(f->vq.last_avail_idx, NUM);
    uint64_t prev = 0;
    for (unsigned i = 0; i < NUM; i++) {
        int ret = virtq_pop(&f->vq, &f->elem);
        uint16_t h = f->elem.head;
        assert_true(h < NUM);
        assert_false(seen[h]);
        seen[h] = true;
        assert_true(counters[h] >= prev);
        prev = counters[h];
        assert_int_equal(ret, h == 3 || h == 6 ? -EBADMSG : 1);
    }
    assert_int_equal(virtq_pop(&f->vq, &f->elem), 0);
}

struct flipper {
    struct vu_inflight_split *region;
    atomic_bool stop;
};

/* The frontend rewriting the region while the backend reads it. */
static void *flip(void *arg)
{
    struct flipper *fl = arg;
    unsigned x = 1;

    while (!atomic_load(&fl->stop)) {
        x = x * 1103515245u + 12345u;
        unsigned i = (x >> 8) % NUM;
        __atomic_store_n(&fl->region->desc[i].inflight, (uint8_t)(x >> 20) & 1, __ATOMIC_RELAXED);
        __atomic_store_n(&fl->region->desc[i].counter, (uint64_t)x, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_region_changes_while_read(void **state)
{
    struct fx *f = *state;
    struct flipper fl = { .region = f->region };
    pthread_t t;

    for (unsigned i = 0; i < NUM; i++)
        publish(f, (uint16_t)i);
    assert_int_equal(pthread_create(&t, NULL, flip, &fl), 0);
    for (unsigned round = 0; round < 2000; round++) {
        bool seen[NUM] = { false };

        backend_start(f, 0);
        int n = virtq_recover_inflight(&f->vq);
        assert_true(n >= -EINVAL && n <= NUM);
        if (n <= 0)
            continue;
        assert_int_equal(f->vq.last_avail_idx, (uint16_t)n);
        for (int i = 0; i < n; i++) {
            int ret = virtq_pop(&f->vq, &f->elem);
            assert_true(ret == 1);
            assert_false(seen[f->elem.head]);
            seen[f->elem.head] = true;
        }
    }
    atomic_store(&fl.stop, true);
    pthread_join(t, NULL);
}

/* Buffers handed back unused (event buffers at a ring stop) are not resubmitted later. */
static void test_unpop(void **state)
{
    struct fx *f = *state;
    uint16_t held[2] = { 1, 4 };

    publish(f, 1);
    publish(f, 4);
    pop_expect(f, 1);
    pop_expect(f, 4);
    virtq_unpop(&f->vq, held, 2);
    assert_int_equal(f->vq.last_avail_idx, 0);
    assert_int_equal(f->region->desc[1].inflight, 0);
    assert_int_equal(f->region->desc[4].inflight, 0);

    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), 0);
    pop_expect(f, 1);
    pop_expect(f, 4);
}

/* A stop before every resubmitted request was taken keeps the rest marked for next time. */
static void test_forget_keeps_marks(void **state)
{
    struct fx *f = *state;

    publish(f, 2);
    publish(f, 3);
    pop_expect(f, 2);
    pop_expect(f, 3);
    backend_start(f, 0);
    assert_int_equal(virtq_recover_inflight(&f->vq), 2);
    pop_expect(f, 2);
    virtq_forget_resubmit(&f->vq);
    assert_false(virtq_avail_pending(&f->vq));
    assert_int_equal(f->region->desc[3].inflight, 1);
    backend_start(f, 2);
    assert_int_equal(virtq_recover_inflight(&f->vq), 2);
    pop_expect(f, 2);
    pop_expect(f, 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_region),
        T(test_resubmit_in_order),
        T(test_published_not_recorded),
        T(test_push_not_published),
        T(test_region_claims_too_much),
        T(test_bad_header),
        T(test_hostile_entries),
        T(test_region_changes_while_read),
        T(test_unpop),
        T(test_forget_keeps_marks),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
