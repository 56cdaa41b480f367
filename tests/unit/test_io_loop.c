/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/io_loop.h"

struct counted_op {
    struct io_loop_op op;
    int calls;
    int last_res;
};

static void counted_cb(struct io_loop_op *op, int res)
{
    struct counted_op *c = (struct counted_op *)((char *)op - offsetof(struct counted_op, op));
    c->calls++;
    c->last_res = res;
}

static int run_until_idle(struct io_loop *loop)
{
    int total = 0;
    while (loop->pending > 0) {
        int n = io_loop_run_once(loop, true);
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}

static void test_init_rejects_bad_sizes(void **state)
{
    struct io_loop loop;
    assert_int_equal(io_loop_init(&loop, 0), -EINVAL);
    assert_int_equal(io_loop_init(&loop, 4), -EINVAL);
    assert_int_equal(io_loop_init(&loop, 12), -EINVAL);
    assert_int_equal(io_loop_init(&loop, 8), 0);
    assert_int_equal(loop.pending, 0);
    io_loop_fini(&loop);
}

static void test_nop(void **state)
{
    struct io_loop loop;
    struct counted_op c = { .op.cb = counted_cb, .last_res = -12345 };

    assert_int_equal(io_loop_init(&loop, 8), 0);
    struct io_uring_sqe *sqe = io_loop_get_sqe(&loop, &c.op);
    assert_non_null(sqe);
    io_uring_prep_nop(sqe);
    assert_int_equal(loop.pending, 1);
    assert_int_equal(c.calls, 0);

    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last_res, 0);
    assert_int_equal(loop.pending, 0);

    /* Nothing pending: a waiting call must not block, and runs nothing. */
    assert_int_equal(io_loop_run_once(&loop, true), 0);
    assert_int_equal(io_loop_run_once(&loop, false), 0);
    assert_int_equal(c.calls, 1);
    io_loop_fini(&loop);
}

static void test_poll_eventfd(void **state)
{
    struct io_loop loop;
    struct counted_op c = { .op.cb = counted_cb };
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);

    assert_int_equal(io_loop_init(&loop, 8), 0);
    struct io_uring_sqe *sqe = io_loop_get_sqe(&loop, &c.op);
    assert_non_null(sqe);
    io_uring_prep_poll_add(sqe, efd, POLLIN);

    /* Not readable yet: a non-waiting run submits but completes nothing. */
    assert_int_equal(io_loop_run_once(&loop, false), 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(loop.pending, 1);

    uint64_t one = 1;
    assert_int_equal(write(efd, &one, sizeof(one)), (int)sizeof(one));
    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_int_equal(c.calls, 1);
    assert_true(c.last_res & POLLIN);
    assert_int_equal(loop.pending, 0);

    io_loop_fini(&loop);
    close(efd);
}

#define MANY 100

static void test_sq_full(void **state)
{
    struct io_loop loop;
    struct counted_op ops[MANY];

    assert_int_equal(io_loop_init(&loop, 8), 0);
    for (int i = 0; i < MANY; i++) {
        ops[i] = (struct counted_op){ .op.cb = counted_cb, .last_res = -1 };
        struct io_uring_sqe *sqe = io_loop_get_sqe(&loop, &ops[i].op);
        assert_non_null(sqe);
        io_uring_prep_nop(sqe);
    }
    /* Callbacks only ever run from io_loop_run_once, never from get_sqe. */
    for (int i = 0; i < MANY; i++)
        assert_int_equal(ops[i].calls, 0);
    assert_int_equal(loop.pending, MANY);

    assert_int_equal(run_until_idle(&loop), MANY);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(ops[i].calls, 1);
        assert_int_equal(ops[i].last_res, 0);
    }
    assert_int_equal(loop.pending, 0);
    io_loop_fini(&loop);
}

/* A callback that queues its successor, as a backend resubmitting a short read does. */
struct chain_op {
    struct io_loop_op op;
    struct io_loop *loop;
    int remaining;
    int calls;
};

static void chain_cb(struct io_loop_op *op, int res)
{
    struct chain_op *c = (struct chain_op *)((char *)op - offsetof(struct chain_op, op));
    c->calls++;
    if (--c->remaining > 0) {
        struct io_uring_sqe *sqe = io_loop_get_sqe(c->loop, &c->op);
        if (sqe)
            io_uring_prep_nop(sqe);
    }
}

static void test_requeue_from_callback(void **state)
{
    struct io_loop loop;
    struct chain_op c = { .op.cb = chain_cb, .loop = &loop, .remaining = 5 };

    assert_int_equal(io_loop_init(&loop, 8), 0);
    io_uring_prep_nop(io_loop_get_sqe(&loop, &c.op));
    assert_int_equal(run_until_idle(&loop), 5);
    assert_int_equal(c.calls, 5);
    assert_int_equal(c.remaining, 0);
    io_loop_fini(&loop);
}

static void test_error_result_passed_through(void **state)
{
    struct io_loop loop;
    struct counted_op c = { .op.cb = counted_cb };
    char buf[8];

    assert_int_equal(io_loop_init(&loop, 8), 0);
    struct io_uring_sqe *sqe = io_loop_get_sqe(&loop, &c.op);
    assert_non_null(sqe);
    io_uring_prep_read(sqe, 1000000, buf, sizeof(buf), 0); /* not an open fd */
    assert_int_equal(run_until_idle(&loop), 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last_res, -EBADF);
    io_loop_fini(&loop);
}

/* An operation nobody waits for (e.g. a cancel) is counted and reaped without a callback. */
static void test_null_op(void **state)
{
    struct io_loop loop;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    struct io_uring_sqe *sqe = io_loop_get_sqe(&loop, NULL);
    assert_non_null(sqe);
    io_uring_prep_nop(sqe);
    assert_int_equal(loop.pending, 1);
    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_int_equal(loop.pending, 0);
    io_loop_fini(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_sizes),
        cmocka_unit_test(test_nop),
        cmocka_unit_test(test_poll_eventfd),
        cmocka_unit_test(test_sq_full),
        cmocka_unit_test(test_requeue_from_callback),
        cmocka_unit_test(test_error_result_passed_through),
        cmocka_unit_test(test_null_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
