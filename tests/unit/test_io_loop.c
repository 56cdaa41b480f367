/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
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

/*
 * measure_wait: the next wait that really waits records its CPU time (a
 * small, nonzero figure) and clears the flag; a run that does not wait
 * leaves both alone.
 */
static void *write_later(void *arg)
{
    const uint64_t one = 1;
    const struct timespec ms = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };

    nanosleep(&ms, NULL);
    if (write(*(int *)arg, &one, sizeof(one)) != (ssize_t)sizeof(one))
        return arg;
    return NULL;
}

static void test_measure_wait(void **state)
{
    struct io_loop loop;
    struct counted_op c = { .op.cb = counted_cb };
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_t th;
    void *ret;

    assert_true(efd >= 0);
    assert_int_equal(io_loop_init(&loop, 8), 0);
    io_uring_prep_poll_add(io_loop_get_sqe(&loop, &c.op), efd, POLLIN);
    loop.measure_wait = true;
    loop.wait_cpu_ns = 12345;
    assert_int_equal(io_loop_run_once(&loop, false), 0);
    assert_true(loop.measure_wait);
    assert_int_equal(loop.wait_cpu_ns, 12345);

    assert_int_equal(pthread_create(&th, NULL, write_later, &efd), 0);
    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_null(ret);
    assert_false(loop.measure_wait);
    /* Asleep for 20 ms, yet only the syscall's own CPU counts: well under 20 ms. */
    assert_true(loop.wait_cpu_ns < 10 * 1000 * 1000);
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

/* --- io_loop_post: completions made by other threads --- */

struct posted_op {
    struct io_loop_op op;
    int calls;
    int res;
    pthread_t ran_on;
    int order; /* position among all callbacks run */
};

static int posted_seq;

static void posted_cb(struct io_loop_op *op, int res)
{
    struct posted_op *p = (struct posted_op *)((char *)op - offsetof(struct posted_op, op));
    p->calls++;
    p->res = res;
    p->ran_on = pthread_self();
    p->order = posted_seq++;
}

struct poster {
    struct io_loop *loop;
    struct posted_op *ops;
    unsigned n;
    unsigned delay_ms;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    if (p->delay_ms) {
        struct timespec t = { 0, (long)p->delay_ms * 1000000L };
        nanosleep(&t, NULL);
    }
    for (unsigned i = 0; i < p->n; i++)
        io_loop_post(p->loop, &p->ops[i].op, (int)i + 1);
    return NULL;
}

/*
 * An announced post keeps a waiting loop asleep until it arrives, counts as
 * pending until then, and its callback runs on the loop's thread.
 */
static void test_post_from_other_thread(void **state)
{
    struct io_loop loop;
    struct posted_op op = { .op.cb = posted_cb };
    struct poster p = { .loop = &loop, .ops = &op, .n = 1, .delay_ms = 50 };
    pthread_t t;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    io_loop_expect_post(&loop);
    assert_int_equal(loop.pending, 1);
    assert_int_equal(pthread_create(&t, NULL, poster_main, &p), 0);
    /* Nothing has been posted yet: the waiting call sleeps until the post wakes it. */
    int rounds = 0;
    while (op.calls == 0) {
        assert_true(io_loop_run_once(&loop, true) >= 0);
        rounds++;
    }
    pthread_join(t, NULL);
    /* One wait, not a spin over 50 ms (a signal could add a round, nothing more). */
    assert_true(rounds <= 2);
    assert_int_equal(op.calls, 1);
    assert_int_equal(op.res, 1);
    assert_true(pthread_equal(op.ran_on, pthread_self()));
    assert_int_equal(loop.pending, 0);
    assert_int_equal(io_loop_run_once(&loop, true), 0); /* idle again: does not block */
    io_loop_fini(&loop);
}

/* Posted from the loop's own thread: never run inside io_loop_post, then in posting order. */
static void test_post_same_thread_in_order(void **state)
{
    struct io_loop loop;
    struct posted_op ops[5];
    struct counted_op nop = { .op.cb = counted_cb };

    assert_int_equal(io_loop_init(&loop, 8), 0);
    posted_seq = 0;
    for (int i = 0; i < 5; i++) {
        ops[i] = (struct posted_op){ .op.cb = posted_cb };
        io_loop_expect_post(&loop);
        io_loop_post(&loop, &ops[i].op, -i);
        assert_int_equal(ops[i].calls, 0);
    }
    /* An SQE completing in the same round does not disturb the count. */
    io_uring_prep_nop(io_loop_get_sqe(&loop, &nop.op));
    assert_int_equal(loop.pending, 6);
    while (loop.pending > 0)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    assert_int_equal(nop.calls, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ops[i].calls, 1);
        assert_int_equal(ops[i].res, -i);
    }
    for (int i = 1; i < 5; i++)
        assert_true(ops[i].order > ops[i - 1].order);
    io_loop_fini(&loop);
}

/* A callback posting its own op again: the re-armed read wakes the loop for it. */
struct repost_op {
    struct io_loop_op op;
    struct io_loop *loop;
    int remaining;
    int calls;
};

static void repost_cb(struct io_loop_op *op, int res)
{
    struct repost_op *r = (struct repost_op *)((char *)op - offsetof(struct repost_op, op));
    r->calls++;
    if (--r->remaining > 0) {
        io_loop_expect_post(r->loop);
        io_loop_post(r->loop, &r->op, res + 1);
    }
}

static void test_post_from_callback(void **state)
{
    struct io_loop loop;
    struct repost_op r = { .op.cb = repost_cb, .loop = &loop, .remaining = 10 };

    assert_int_equal(io_loop_init(&loop, 8), 0);
    io_loop_expect_post(&loop);
    io_loop_post(&loop, &r.op, 0);
    while (loop.pending > 0)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    assert_int_equal(r.calls, 10);
    io_loop_fini(&loop);
}

/* Many threads posting at once: every op runs exactly once, none is lost. */
#define POSTERS    4
#define PER_POSTER 2000

static void test_post_many_threads(void **state)
{
    static struct posted_op ops[POSTERS][PER_POSTER];
    struct poster p[POSTERS];
    pthread_t t[POSTERS];
    struct io_loop loop;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    for (int k = 0; k < POSTERS; k++) {
        for (int i = 0; i < PER_POSTER; i++) {
            ops[k][i] = (struct posted_op){ .op.cb = posted_cb };
            io_loop_expect_post(&loop);
        }
        p[k] = (struct poster){ .loop = &loop, .ops = ops[k], .n = PER_POSTER };
    }
    for (int k = 0; k < POSTERS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, poster_main, &p[k]), 0);
    while (loop.pending > 0)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    for (int k = 0; k < POSTERS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < POSTERS; k++) {
        for (int i = 0; i < PER_POSTER; i++) {
            assert_int_equal(ops[k][i].calls, 1);
            assert_int_equal(ops[k][i].res, i + 1);
        }
    }
    assert_int_equal(loop.expected, 0);
    io_loop_fini(&loop);
}

struct test_source {
    struct io_loop_source src;
    struct io_loop *loop;
    int polls;
    unsigned held; /* completions the "device" has ready */
};

static unsigned test_source_poll(struct io_loop_source *src)
{
    struct test_source *t = (struct test_source *)((char *)src - offsetof(struct test_source, src));
    unsigned n = t->held;

    t->polls++;
    for (unsigned i = 0; i < n; i++)
        io_loop_release(t->loop);
    t->held = 0;
    return n;
}

/*
 * A backend with its own completion ring: the loop sleeps on the source's
 * eventfd while requests are held, and "pending == 0" still means idle.
 */
static void test_source_wakes_waiting_loop(void **state)
{
    struct io_loop loop;
    struct test_source t = { .src.poll = test_source_poll, .loop = &loop };
    const uint64_t one = 1;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    t.src.fd = eventfd(0, EFD_CLOEXEC);
    assert_true(t.src.fd >= 0);
    io_loop_add_source(&loop, &t.src);
    /* Nothing held: the armed read is not pending work. */
    assert_int_equal(loop.pending, 0);
    assert_int_equal(io_loop_run_once(&loop, true), 0);

    io_loop_hold(&loop);
    io_loop_hold(&loop);
    t.held = 2;
    assert_int_equal(write(t.src.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    assert_int_equal(run_until_idle(&loop), 1);
    assert_int_equal(t.polls, 1);
    assert_int_equal(loop.pending, 0);

    /* Polled without a signal (a polling worker): completions run, the read stays armed. */
    io_loop_hold(&loop);
    t.held = 1;
    assert_int_equal(io_loop_poll_sources(&loop), 1);
    assert_int_equal(loop.pending, 0);
    /* A later signal still reaches the source. */
    io_loop_hold(&loop);
    t.held = 1;
    assert_int_equal(write(t.src.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    assert_int_equal(run_until_idle(&loop), 1);
    assert_int_equal(t.polls, 3);
    io_loop_fini(&loop);
    close(t.src.fd);
}

/* A device that never signals: the tick still polls it, about once a second. */
static void test_source_polled_without_signal(void **state)
{
    struct io_loop loop;
    struct test_source t = { .src.poll = test_source_poll, .loop = &loop };
    struct timespec a, b;
    double secs;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    t.src.fd = eventfd(0, EFD_CLOEXEC);
    assert_true(t.src.fd >= 0);
    io_loop_add_source(&loop, &t.src);
    io_loop_hold(&loop);
    t.held = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_true(run_until_idle(&loop) >= 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_int_equal(t.polls, 1);
    assert_int_equal(loop.pending, 0);
    assert_true(secs > 0.5 && secs < 5.0);
    io_loop_fini(&loop);
    close(t.src.fd);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The loop's clock moves only where a batch starts: when completions are
 * there to run, and when sources are polled; a turn that finds nothing
 * leaves it, so an idle loop costs no clock reads.
 */
static void test_clock_per_batch(void **state)
{
    const struct timespec nap = { .tv_sec = 0, .tv_nsec = 2000000 };
    struct io_loop loop;
    struct counted_op c = { .op.cb = counted_cb };
    struct test_source t = { .src.poll = test_source_poll, .loop = &loop };
    uint64_t before = mono_ns(), seen;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    assert_true(io_loop_clock(&loop) >= before);
    assert_true(io_loop_clock(&loop) <= mono_ns());

    seen = io_loop_clock(&loop);
    nanosleep(&nap, NULL);
    assert_int_equal(io_loop_run_once(&loop, false), 0);
    assert_true(io_loop_clock(&loop) == seen);

    before = mono_ns();
    io_uring_prep_nop(io_loop_get_sqe(&loop, &c.op));
    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_true(io_loop_clock(&loop) >= before);

    seen = io_loop_clock(&loop);
    nanosleep(&nap, NULL);
    t.src.fd = eventfd(0, EFD_CLOEXEC);
    assert_true(t.src.fd >= 0);
    io_loop_add_source(&loop, &t.src);
    before = mono_ns();
    io_loop_poll_sources(&loop);
    assert_true(io_loop_clock(&loop) >= before);
    assert_true(io_loop_clock(&loop) >= seen + 2000000);
    io_loop_fini(&loop);
    close(t.src.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_per_batch),
        cmocka_unit_test(test_init_rejects_bad_sizes),
        cmocka_unit_test(test_nop),
        cmocka_unit_test(test_source_wakes_waiting_loop),
        cmocka_unit_test(test_source_polled_without_signal),
        cmocka_unit_test(test_poll_eventfd),
        cmocka_unit_test(test_measure_wait),
        cmocka_unit_test(test_sq_full),
        cmocka_unit_test(test_requeue_from_callback),
        cmocka_unit_test(test_error_result_passed_through),
        cmocka_unit_test(test_null_op),
        cmocka_unit_test(test_post_from_other_thread),
        cmocka_unit_test(test_post_same_thread_in_order),
        cmocka_unit_test(test_post_from_callback),
        cmocka_unit_test(test_post_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
