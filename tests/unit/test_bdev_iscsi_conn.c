/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iSCSI data path without a target: the held list (order, removal,
 * deadlines), and, through a real io_loop, requests submitted while the
 * portal refuses connections: held and retried, cancellable while held, and
 * failed with LOGICAL UNIT COMMUNICATION TIME-OUT once timeout_s passed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bdev/bdev_iscsi.h"
#include "bdev_test_util.h"

/* The data path alone: the real open would want a target to probe. */
static const struct bdev_ops conn_ops = {
    .name = "iscsi",
    .submit = bdev_iscsi_submit,
    .cancel = bdev_iscsi_cancel,
};

static struct bdev_iscsi *fake_lun(unsigned timeout_s)
{
    struct bdev_iscsi *b = calloc(1, sizeof(*b));

    assert_non_null(b);
    b->bdev.ops = &conn_ops;
    b->bdev.size = 1 << 20;
    b->bdev.block_size = 512;
    /* Nobody listens on port 1 of loopback: every login is refused at once. */
    snprintf(b->t.portal, sizeof(b->t.portal), "%s", "127.0.0.1:1");
    snprintf(b->t.iqn, sizeof(b->t.iqn), "%s", "iqn.2024-01.org.x:none");
    b->timeout_s = timeout_s;
    b->nw = 1;
    b->w = calloc(1, sizeof(*b->w));
    assert_non_null(b->w);
    b->w->b = b;
    return b;
}

static void free_lun(struct bdev_iscsi *b)
{
    assert_true(bdev_iscsi_wctx_close(b->w));
    free(b->w);
    free(b);
}

static void test_held_list(void **state)
{
    struct bdev_iscsi *b = fake_lun(10);
    struct iscsi_wctx *w = b->w;
    struct bdev_io io[4];
    struct bdev_io *out;

    (void)state;
    memset(io, 0, sizeof(io));
    for (unsigned i = 0; i < 4; i++)
        bdev_iscsi_hold(w, &io[i], 1000);
    /* The deadline counts from the first loss only. */
    assert_int_equal(io[0].deadline_ns, 1000 + 10000000000ull);
    io[1].deadline_ns = 0;
    bdev_iscsi_unhold_io(w, &io[1]);
    bdev_iscsi_hold(w, &io[1], 5000);
    assert_int_equal(io[1].deadline_ns, 5000 + 10000000000ull);
    bdev_iscsi_unhold_io(w, &io[1]);
    bdev_iscsi_hold(w, &io[1], 9000);
    assert_int_equal(io[1].deadline_ns, 5000 + 10000000000ull);

    /* Removing from the middle, the head and the tail keeps the rest in order. */
    assert_true(bdev_iscsi_unhold_io(w, &io[2]));
    assert_false(bdev_iscsi_unhold_io(w, &io[2]));
    assert_ptr_equal(w->held_head, &io[0]);
    assert_ptr_equal(w->held_tail, &io[1]);
    assert_ptr_equal(io[0].offload_next, &io[3]);

    /* Expiry takes exactly the ones past their deadline, oldest first. */
    io[0].deadline_ns = 10;
    io[3].deadline_ns = 20;
    io[1].deadline_ns = 100;
    out = bdev_iscsi_expired(w, 20);
    assert_ptr_equal(out, &io[0]);
    assert_ptr_equal(io[0].offload_next, &io[3]);
    assert_null(io[3].offload_next);
    assert_ptr_equal(w->held_head, &io[1]);
    assert_ptr_equal(w->held_tail, &io[1]);
    assert_null(bdev_iscsi_expired(w, 99));
    assert_ptr_equal(bdev_iscsi_unhold(w), &io[1]);
    assert_null(bdev_iscsi_unhold(w));
    assert_null(w->held_tail);
    free_lun(b);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop until every request completed or limit_ms passed. */
static void run_until(struct io_loop *loop, struct req *r, unsigned n, unsigned limit_ms)
{
    uint64_t end = mono_ms() + limit_ms;

    for (;;) {
        unsigned done = 0;

        for (unsigned i = 0; i < n; i++)
            done += r[i].calls != 0;
        if (done == n || mono_ms() > end)
            return;
        assert_true(io_loop_run_once(loop, true) >= 0);
    }
}

static void test_unreachable_times_out(void **state)
{
    struct bdev_iscsi *b = fake_lun(1);
    struct io_loop loop;
    char buf[512];
    struct iovec iov = { buf, sizeof(buf) };
    struct req r[2];
    uint64_t start;

    (void)state;
    assert_int_equal(io_loop_init(&loop, 64), 0);
    memset(r, 0, sizeof(r));
    r[0].io = (struct bdev_io){
        .type = BDEV_IO_READ, .len = 512, .iov = &iov, .iovcnt = 1, .cb = req_cb
    };
    r[1].io = (struct bdev_io){ .type = BDEV_IO_FLUSH, .cb = req_cb };
    start = mono_ms();
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r[0].io), 0);
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r[1].io), 0);
    /* Held, not failed: nothing completes inside submit. */
    assert_int_equal(r[0].calls + r[1].calls, 0);
    run_until(&loop, r, 2, 10000);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].result, -EREMOTEIO);
        assert_int_equal(r[i].io.sense, BDEV_ISCSI_SENSE_UNREACHABLE);
    }
    /* Failed after timeout_s, not before; and logins were retried meanwhile. */
    assert_true(mono_ms() - start >= 900);
    assert_true(b->w->failures >= 1);
    /* Idle again: nothing of ours is left in the ring. */
    while (loop.pending)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    assert_int_equal(atomic_load(&b->w->armed), 0);
    free_lun(b);
    io_loop_fini(&loop);
}

static void test_cancel_held(void **state)
{
    struct bdev_iscsi *b = fake_lun(30);
    struct io_loop loop;
    char buf[512];
    struct iovec iov = { buf, sizeof(buf) };
    struct req r[2];

    (void)state;
    assert_int_equal(io_loop_init(&loop, 64), 0);
    memset(r, 0, sizeof(r));
    r[0].io = (struct bdev_io){
        .type = BDEV_IO_WRITE, .len = 512, .iov = &iov, .iovcnt = 1, .cb = req_cb
    };
    r[1].io = r[0].io;
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r[0].io), 0);
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r[1].io), 0);
    assert_int_equal(bdev_cancel(&b->bdev, &r[1].io), 0);
    /* Later, never inside bdev_cancel. */
    assert_int_equal(r[1].calls, 0);
    run_until(&loop, &r[1], 1, 5000);
    assert_int_equal(r[1].calls, 1);
    assert_int_equal(r[1].result, -ECANCELED);
    assert_int_equal(r[0].calls, 0);
    assert_int_equal(bdev_cancel(&b->bdev, &r[0].io), 0);
    assert_int_equal(bdev_cancel(&b->bdev, &r[1].io), -EALREADY);
    run_until(&loop, r, 2, 5000);
    assert_int_equal(r[0].result, -ECANCELED);
    while (loop.pending)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    free_lun(b);
    io_loop_fini(&loop);
}

static void test_submit_checks(void **state)
{
    struct bdev_iscsi *b = fake_lun(30);
    struct io_loop loop;
    struct req r;

    (void)state;
    assert_int_equal(io_loop_init(&loop, 64), 0);
    memset(&r, 0, sizeof(r));
    /* Past the end, and a worker the LUN has no session slot for. */
    r.io = (struct bdev_io){ .type = BDEV_IO_FLUSH, .cb = req_cb };
    r.io.type = BDEV_IO_DISCARD;
    r.io.offset = 0;
    r.io.len = 512;
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r.io), -EOPNOTSUPP);
    r.io.type = BDEV_IO_WRITE_ZEROES;
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r.io), -EOPNOTSUPP);
    r.io.type = BDEV_IO_FLUSH;
    loop.index = 1;
    assert_int_equal(bdev_submit(&b->bdev, &loop, &r.io), -EINVAL);
    assert_int_equal(r.calls, 0);
    loop.index = 0;
    free_lun(b);
    io_loop_fini(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_list),
        cmocka_unit_test(test_unreachable_times_out),
        cmocka_unit_test(test_cancel_held),
        cmocka_unit_test(test_submit_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
