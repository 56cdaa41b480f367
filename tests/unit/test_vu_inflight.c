/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vhost/vu_inflight.h"

#define QSZ 16

/* Exactly the bytes vu_inflight_queue_size() promises, so ASan catches overruns. */
static struct vu_inflight_split *alloc_queue(uint16_t qsz)
{
    struct vu_inflight_split *q = aligned_alloc(64, vu_inflight_queue_size(qsz));
    assert_non_null(q);
    memset(q, 0, vu_inflight_queue_size(qsz));
    return q;
}

static void test_queue_size(void **state)
{
    assert_int_equal(vu_inflight_queue_size(0), 64);
    assert_int_equal(vu_inflight_queue_size(1), 64);
    assert_int_equal(vu_inflight_queue_size(3), 64);
    assert_int_equal(vu_inflight_queue_size(4), 128);
    assert_int_equal(vu_inflight_queue_size(128), 2112);
    assert_int_equal(vu_inflight_queue_size(32768), 16 + 16 * 32768 + 48);
    for (unsigned n = 1; n <= 1024; n++) {
        size_t s = vu_inflight_queue_size((uint16_t)n);
        assert_int_equal(s % 64, 0);
        assert_true(s >= 16 + 16 * (size_t)n);
        assert_true(s < 16 + 16 * (size_t)n + 64);
    }
}

static void test_init_and_check(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);

    /* Fresh memory from the frontend is all zero: not a valid region yet. */
    assert_int_equal(vu_inflight_queue_check(q, QSZ), -EINVAL);

    memset(q, 0xff, vu_inflight_queue_size(QSZ));
    vu_inflight_queue_init(q, QSZ, 0x123456789ull);
    assert_int_equal(q->version, 1);
    assert_int_equal(q->desc_num, QSZ);
    assert_int_equal(q->features, 0x123456789ull);
    assert_int_equal(q->used_idx, 0);
    assert_int_equal(q->last_batch_head, 0);
    for (unsigned i = 0; i < QSZ; i++) {
        assert_int_equal(q->desc[i].inflight, 0);
        assert_int_equal(q->desc[i].counter, 0);
    }
    assert_int_equal(vu_inflight_queue_check(q, QSZ), 0);
    assert_int_equal(vu_inflight_queue_check(q, QSZ * 2), -EINVAL);

    q->version = 2;
    assert_int_equal(vu_inflight_queue_check(q, QSZ), -EINVAL);
    free(q);
}

static void test_pop_push_cycle(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);
    vu_inflight_queue_init(q, QSZ, 0);

    vu_inflight_mark_popped(q, 5, 42);
    assert_int_equal(q->desc[5].inflight, 1);
    assert_int_equal(q->desc[5].counter, 42);

    vu_inflight_pre_push(q, 5);
    assert_int_equal(q->last_batch_head, 5);
    assert_int_equal(q->desc[5].inflight, 1);

    vu_inflight_post_push(q, 5, 1);
    assert_int_equal(q->desc[5].inflight, 0);
    assert_int_equal(q->used_idx, 1);
    free(q);
}

static void test_collect_sorted(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);
    struct vu_inflight_entry out[QSZ];

    assert_int_equal(vu_inflight_collect(q, QSZ, out, QSZ), -EINVAL);

    vu_inflight_queue_init(q, QSZ, 0);
    assert_int_equal(vu_inflight_collect(q, QSZ, out, QSZ), 0);

    vu_inflight_mark_popped(q, 5, 3);
    vu_inflight_mark_popped(q, 2, 1);
    vu_inflight_mark_popped(q, 15, 4);
    vu_inflight_mark_popped(q, 7, 2);
    vu_inflight_mark_popped(q, 9, 5);
    vu_inflight_pre_push(q, 9);
    vu_inflight_post_push(q, 9, 1);

    assert_int_equal(vu_inflight_collect(q, QSZ, out, QSZ), 4);
    const uint16_t want[] = { 2, 7, 5, 15 };
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(out[i].head, want[i]);
        assert_int_equal(out[i].counter, i + 1);
    }
    assert_int_equal(vu_inflight_collect(q, QSZ, out, 3), -E2BIG);
    assert_int_equal(vu_inflight_collect(q, QSZ / 2, out, QSZ), -EINVAL);
    free(q);
}

static void test_recover_after_publish(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);
    struct vu_inflight_entry out[QSZ];
    vu_inflight_queue_init(q, QSZ, 0);

    vu_inflight_mark_popped(q, 3, 1);
    vu_inflight_mark_popped(q, 4, 2);
    /* Died after used->idx became 1 but before post_push recorded it. */
    vu_inflight_pre_push(q, 3);
    vu_inflight_recover(q, QSZ, 1);
    assert_int_equal(q->desc[3].inflight, 0);
    assert_int_equal(q->used_idx, 1);
    assert_int_equal(vu_inflight_collect(q, QSZ, out, QSZ), 1);
    assert_int_equal(out[0].head, 4);
    free(q);
}

static void test_recover_before_publish(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);
    struct vu_inflight_entry out[QSZ];
    vu_inflight_queue_init(q, QSZ, 0);

    vu_inflight_mark_popped(q, 3, 1);
    vu_inflight_pre_push(q, 3);
    /* Died before used->idx moved: the guest never saw it, so it stays inflight. */
    vu_inflight_recover(q, QSZ, 0);
    assert_int_equal(q->desc[3].inflight, 1);
    assert_int_equal(vu_inflight_collect(q, QSZ, out, QSZ), 1);
    assert_int_equal(out[0].head, 3);
    free(q);
}

static void test_recover_corrupt_head(void **state)
{
    struct vu_inflight_split *q = alloc_queue(QSZ);
    vu_inflight_queue_init(q, QSZ, 0);
    vu_inflight_mark_popped(q, 0, 1);

    /* A frontend-scribbled last_batch_head must not index outside the slots. */
    q->last_batch_head = 0xffff;
    q->used_idx = 7;
    vu_inflight_recover(q, QSZ, 9);
    assert_int_equal(q->used_idx, 9);
    assert_int_equal(q->desc[0].inflight, 1);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_size),
        cmocka_unit_test(test_init_and_check),
        cmocka_unit_test(test_pop_push_cycle),
        cmocka_unit_test(test_collect_sorted),
        cmocka_unit_test(test_recover_after_publish),
        cmocka_unit_test(test_recover_before_publish),
        cmocka_unit_test(test_recover_corrupt_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
