/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt mode and adaptive polling, seen from the frontend: how many kicks
 * the daemon asks for.  A QD1 stream of reads from a frontend that spins for
 * each completion resubmits a microsecond or two later.  In interrupt mode
 * (--poll-us 0) the worker sleeps after every request and wants a kick for
 * each; with polling the window covers those gaps and the worker finds the
 * next request itself, so almost no kicks are needed.  A stream whose
 * requests come 300 us apart is not worth polling for (each caught gap
 * would spin longer than the sleep it saves, which costs well under 300 us
 * even under nested virtualisation: io/poll_window.h), even with a maximum
 * of 1000 us: the worker sleeps and wants a kick for almost every request.
 * Data must come back right either way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_harness.h"

enum { WARMUP = 300, MEASURED = 3000 };

struct run {
    uint64_t kicks;
};

/* Submit, kick, and spin until the completion is on the used ring. */
static void exec_spinning(struct vus_fe_vq *rq, struct vus_fe_cmd *c, uint8_t *buf)
{
    uint8_t cdb[16];
    struct iovec iov = { buf, 4096 };
    struct timespec t0, now;

    memcpy(cdb, c->cdb, sizeof(cdb));
    memset(c, 0, sizeof(*c));
    memcpy(c->cdb, cdb, sizeof(cdb));
    c->in = &iov;
    c->in_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(rq, c), 0);
    vus_fe_vq_kick(rq);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!vus_fe_cmd_reap(rq)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > T_TIMEOUT / 1000)
            fail_msg("no completion within %d ms", T_TIMEOUT);
    }
}

/* ns of busy waiting: a guest thinking between requests. */
static void think(unsigned ns)
{
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - t0.tv_sec) * 1000000000l + (now.tv_nsec - t0.tv_nsec) < (long)ns);
}

/*
 * Write a pattern, then read it back MEASURED times at QD1, checking each
 * read, gap_ns after each completion.
 */
static void qd1_stream(const char *poll_us, unsigned gap_ns, struct run *out)
{
    const char *const args[] = { "--lun", "type=ram,size=4M", "--poll-us", poll_us, NULL };
    struct daemon d;
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    assert_int_equal(daemon_start(&d, args), 0);
    assert_int_equal(fe_open(&d, 1, &fe), 0);
    struct vus_fe_vq *rq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *pattern = vus_fe_alloc(fe, 8 * 4096, 4096);
    uint8_t *buf = vus_fe_alloc(fe, 4096, 4096);
    assert_non_null(pattern);
    assert_non_null(buf);
    clear_ua(rq, 0, 0);

    /* Made once: between requests the frontend only compares (well under a microsecond). */
    for (unsigned i = 0; i < 8; i++) {
        fill(pattern + i * 4096, 4096, i);
        cdb_rw16(cdb, true, i * 8, 8);
        assert_int_equal(scsi_exec(rq, &c, 0, cdb, 16, pattern + i * 4096, 4096, 1), 0);
        assert_int_equal(c.status, 0);
    }
    uint64_t kicks0 = 0;
    for (unsigned n = 0; n < WARMUP + MEASURED; n++) {
        unsigned blk = n % 8;
        if (n == WARMUP) {
            kicks0 = vus_fe_vq_kicks(rq);
        }
        buf[0] ^= 0xff; /* a read that moved no data cannot pass */
        think(gap_ns);
        cdb_rw16(c.cdb, false, blk * 8, 8);
        exec_spinning(rq, &c, buf);
        assert_int_equal(c.status, 0);
        if (memcmp(buf, pattern + blk * 4096, 4096) != 0)
            fail_msg("read %u of block %u returned other data", n, blk);
    }
    out->kicks = vus_fe_vq_kicks(rq) - kicks0;
    vus_fe_close(fe);
    assert_int_equal(daemon_stop(&d), 0);
}

static void test_interrupt_mode_kicks_every_request(void **state)
{
    struct run r;

    qd1_stream("0", 0, &r);
    print_message("--poll-us 0: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks >= MEASURED * 95 / 100);
}

static void test_polling_needs_almost_no_kicks(void **state)
{
    struct run r;

    qd1_stream("1000", 0, &r);
    print_message("--poll-us 1000: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks <= MEASURED / 10);
}

static void test_gaps_dearer_than_a_sleep_are_not_polled(void **state)
{
    struct run r;

    qd1_stream("1000", 300000, &r);
    print_message("--poll-us 1000, 300 us apart: %llu kicks for %u requests\n",
                  (unsigned long long)r.kicks, MEASURED);
    assert_true(r.kicks >= MEASURED * 9 / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_mode_kicks_every_request),
        cmocka_unit_test(test_polling_needs_almost_no_kicks),
        cmocka_unit_test(test_gaps_dearer_than_a_sleep_are_not_polled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
