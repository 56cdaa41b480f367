/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One NVMe queue pair against a device played by the test itself, step by
 * step: the test reads the SQ and writes CQEs with phase bits, so wrap,
 * bogus completions and timeouts happen exactly when it says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "nvme/nvme_qpair.h"

#define N 8

static _Alignas(4096) struct nvme_sqe sq[N];
static _Alignas(4096) struct nvme_cpl cq[N];
static volatile uint32_t sq_db, cq_db;
static struct nvme_qpair qp;
static unsigned dev_sq_head, dev_cq_tail;
static uint16_t dev_phase;

struct done {
    unsigned calls;
    uint16_t status, cid;
};

static void on_done(void *ctx, const struct nvme_cpl *cpl)
{
    struct done *d = ctx;

    d->calls++;
    d->status = cpl->status >> 1;
    d->cid = cpl->cid;
}

static void dev_post_raw(uint16_t sqid, uint16_t cid, uint16_t sf, uint16_t sqhd)
{
    struct nvme_cpl *e = &cq[dev_cq_tail];

    e->dw0 = 0;
    e->sqhd = sqhd;
    e->sqid = sqid;
    e->cid = cid;
    e->status = (uint16_t)(sf << 1 | dev_phase);
    if (++dev_cq_tail == N) {
        dev_cq_tail = 0;
        dev_phase ^= 1;
    }
}

/* The device fetches the next SQE and completes it. */
static uint16_t dev_complete_next(uint16_t sf)
{
    uint16_t cid = sq[dev_sq_head].cid;

    dev_sq_head = (dev_sq_head + 1) % N;
    dev_post_raw(1, cid, sf, (uint16_t)dev_sq_head);
    return cid;
}

static int setup(void **state)
{
    (void)state;
    memset(&qp, 0, sizeof(qp));
    dev_sq_head = dev_cq_tail = 0;
    dev_phase = 1;
    sq_db = cq_db = 0;
    return nvme_qpair_init(&qp, 1, N, sq, (uintptr_t)sq, cq, (uintptr_t)cq, &sq_db, &cq_db);
}

static int teardown(void **state)
{
    (void)state;
    nvme_qpair_fini(&qp);
    return 0;
}

static void test_submit_complete(void **state)
{
    struct nvme_sqe cmd = { .opc = 0x02, .nsid = 1, .cdw10 = 42 };
    struct done d = { 0 };

    (void)state;
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    assert_int_equal(sq_db, 1);
    assert_int_equal(sq[0].cid, cmd.cid);
    assert_int_equal(sq[0].cdw10, 42);
    assert_int_equal(nvme_qpair_outstanding(&qp), 1);
    assert_int_equal(nvme_qpair_process(&qp, 0), 0); /* nothing yet */
    assert_int_equal(cq_db, 0);
    dev_complete_next(0);
    assert_int_equal(nvme_qpair_process(&qp, 0), 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.cid, cmd.cid);
    assert_int_equal(cq_db, 1);
    assert_int_equal(nvme_qpair_outstanding(&qp), 0);
}

static void test_full(void **state)
{
    struct nvme_sqe cmd = { 0 };
    struct done d = { 0 };

    (void)state;
    for (unsigned i = 0; i < N - 1; i++)
        assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), -EAGAIN);
    dev_complete_next(0);
    dev_complete_next(0);
    /* max limits the batch; the doorbell moves once per call. */
    assert_int_equal(nvme_qpair_process(&qp, 1), 1);
    assert_int_equal(cq_db, 1);
    assert_int_equal(nvme_qpair_process(&qp, 5), 1);
    assert_int_equal(cq_db, 2);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), -EAGAIN);
    assert_int_equal(nvme_qpair_outstanding(&qp), N - 1);
}

static void test_wrap(void **state)
{
    struct done d = { 0 };
    unsigned submitted = 0, completed = 0;

    (void)state;
    /* Many laps of SQ and CQ, with batches that straddle the wrap. */
    for (unsigned lap = 0; lap < 1000; lap++) {
        unsigned k = 1 + lap % (N - 1);
        for (unsigned i = 0; i < k; i++) {
            struct nvme_sqe cmd = { .cdw10 = submitted++ };
            assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
        }
        for (unsigned i = 0; i < k; i++)
            dev_complete_next(0);
        assert_int_equal(nvme_qpair_process(&qp, 0), k);
        completed += k;
        assert_int_equal(d.calls, completed);
        assert_int_equal(sq_db, submitted % N);
        assert_int_equal(cq_db, completed % N);
    }
    assert_int_equal(nvme_qpair_outstanding(&qp), 0);
}

static void test_bogus_completions(void **state)
{
    struct nvme_sqe cmd = { 0 };
    struct done d = { 0 };
    uint16_t cid;

    (void)state;
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    cid = cmd.cid;
    dev_post_raw(1, 1000, 0, 1);                /* CID out of range */
    dev_post_raw(1, (uint16_t)(cid + 1), 0, 1); /* idle CID */
    dev_post_raw(2, cid, 0, 1);                 /* another queue's SQ */
    assert_int_equal(nvme_qpair_process(&qp, 0), 3);
    assert_int_equal(d.calls, 0);
    assert_int_equal(nvme_qpair_outstanding(&qp), 1);
    /* A bad SQ head is logged, the completion itself still counts. */
    dev_post_raw(1, cid, 0, 999);
    assert_int_equal(nvme_qpair_process(&qp, 0), 1);
    assert_int_equal(d.calls, 1);
    /* The same CID again: idle now, dropped. */
    dev_post_raw(1, cid, 0, 1);
    assert_int_equal(nvme_qpair_process(&qp, 0), 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(nvme_qpair_outstanding(&qp), 0);
}

static void test_runaway_device(void **state)
{
    (void)state;
    /* A CQ full of valid-looking entries: one call stops after one queue's worth. */
    for (unsigned i = 0; i < 3 * N; i++) {
        cq[i % N].status = (uint16_t)(((i / N) % 2) ? 0 : 1);
        cq[i % N].sqid = 1;
        cq[i % N].cid = 5000;
    }
    assert_true(nvme_qpair_process(&qp, 0) <= N);
}

struct tmo {
    unsigned calls;
    uint16_t cids[N];
    void *ctxs[N];
};

static void on_timeout(struct nvme_qpair *q, uint16_t cid, void *cmd_ctx, void *arg)
{
    struct tmo *t = arg;

    assert_ptr_equal(q, &qp);
    t->ctxs[t->calls] = cmd_ctx;
    t->cids[t->calls++] = cid;
}

static void test_timeouts(void **state)
{
    struct nvme_sqe a = { 0 }, b = { 0 };
    struct done da = { 0 }, db = { 0 };
    struct tmo t = { 0 };

    (void)state;
    assert_int_equal(nvme_qpair_submit(&qp, &a, on_done, &da), 0);
    nvme_qpair_check_timeouts(&qp, 1000, 500, on_timeout, &t); /* first sight */
    assert_int_equal(nvme_qpair_submit(&qp, &b, on_done, &db), 0);
    nvme_qpair_check_timeouts(&qp, 1400, 500, on_timeout, &t);
    assert_int_equal(t.calls, 0);
    nvme_qpair_check_timeouts(&qp, 1500, 500, on_timeout, &t);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.cids[0], a.cid);
    assert_ptr_equal(t.ctxs[0], &da);
    nvme_qpair_check_timeouts(&qp, 1900, 500, on_timeout, &t);
    assert_int_equal(t.calls, 2);
    assert_int_equal(t.cids[1], b.cid);
    /* Once each, however often we look. */
    nvme_qpair_check_timeouts(&qp, 99999, 500, on_timeout, &t);
    assert_int_equal(t.calls, 2);
    /* A timed-out command still completes normally. */
    dev_complete_next(0);
    assert_int_equal(nvme_qpair_process(&qp, 0), 1);
    assert_int_equal(da.calls, 1);
    /* Its CID, reused, gets a fresh clock. */
    assert_int_equal(nvme_qpair_submit(&qp, &a, on_done, &da), 0);
    nvme_qpair_check_timeouts(&qp, 100000, 500, on_timeout, &t);
    assert_int_equal(t.calls, 2);
}

static struct nvme_qpair *resubmit_qp;
static int resubmit_rc = 1;
static void on_done_resubmit(void *ctx, const struct nvme_cpl *cpl)
{
    struct nvme_sqe cmd = { 0 };

    on_done(ctx, cpl);
    resubmit_rc = nvme_qpair_submit(resubmit_qp, &cmd, on_done, ctx);
}

static void test_fail_all(void **state)
{
    struct nvme_sqe cmd = { 0 };
    struct done d = { 0 };

    (void)state;
    resubmit_qp = &qp;
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done_resubmit, &d), 0);
    nvme_qpair_fail_all(&qp, 0x0371);
    assert_int_equal(d.calls, 3);
    assert_int_equal(d.status, 0x0371);
    assert_int_equal(resubmit_rc, -ENODEV); /* no resubmission into a failed qpair */
    assert_int_equal(nvme_qpair_outstanding(&qp), 0);
    assert_true(nvme_qpair_failed(&qp));
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), -ENODEV);
    /* A late completion from the dead device is not looked at. */
    dev_complete_next(0);
    assert_int_equal(nvme_qpair_process(&qp, 0), 0);
    assert_int_equal(d.calls, 3);

    /* Re-created: rings zeroed, phase 1, everything free. */
    nvme_qpair_reset(&qp);
    dev_sq_head = dev_cq_tail = 0;
    dev_phase = 1;
    assert_false(nvme_qpair_failed(&qp));
    for (unsigned i = 0; i < N - 1; i++)
        assert_int_equal(nvme_qpair_submit(&qp, &cmd, on_done, &d), 0);
    dev_complete_next(0);
    assert_int_equal(nvme_qpair_process(&qp, 0), 1);
    assert_int_equal(d.calls, 4);
}

static void test_init_limits(void **state)
{
    struct nvme_qpair q = { 0 };

    (void)state;
    assert_int_equal(nvme_qpair_init(&q, 1, 1, sq, 0, cq, 0, &sq_db, &cq_db), -EINVAL);
    assert_int_equal(nvme_qpair_init(&q, 1, 65537, sq, 0, cq, 0, &sq_db, &cq_db), -EINVAL);
    /* Never created: refuses without crashing. */
    assert_int_equal(nvme_qpair_process(&q, 0), 0);
    assert_int_equal(nvme_qpair_submit(&q, &(struct nvme_sqe){ 0 }, on_done, NULL), -ENODEV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bogus_completions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runaway_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_all, setup, teardown),
        cmocka_unit_test(test_init_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
