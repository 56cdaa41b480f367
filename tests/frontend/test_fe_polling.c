/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt mode and adaptive polling, seen from the frontend: how many kicks
 * the daemon asks for.  A QD1 stream of reads resubmits a few microseconds
 * after each completion.  In interrupt mode (--poll-us 0) the worker sleeps
 * after every request and wants a kick for each; with polling the window
 * grows to cover those gaps and the worker finds the next request itself, so
 * almost no kicks are needed.  Data must come back right either way.
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

/* Write a pattern, then read it back MEASURED times at QD1, checking each read. */
static void qd1_stream(const char *poll_us, struct run *out)
{
    const char *const args[] = { "--lun", "type=ram,size=4M", "--poll-us", poll_us, NULL };
    struct daemon d;
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    assert_int_equal(daemon_start(&d, args), 0);
    assert_int_equal(fe_open(&d, 1, &fe), 0);
    struct vus_fe_vq *rq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *pattern = vus_fe_alloc(fe, 4096, 4096);
    uint8_t *buf = vus_fe_alloc(fe, 4096, 4096);
    assert_non_null(pattern);
    assert_non_null(buf);
    clear_ua(rq, 0, 0);

    for (unsigned i = 0; i < 8; i++) {
        fill(pattern, 4096, i);
        cdb_rw16(cdb, true, i * 8, 8);
        assert_int_equal(scsi_exec(rq, &c, 0, cdb, 16, pattern, 4096, 1), 0);
        assert_int_equal(c.status, 0);
    }
    uint64_t kicks0 = 0;
    for (unsigned n = 0; n < WARMUP + MEASURED; n++) {
        unsigned blk = n % 8;
        if (n == WARMUP) {
            kicks0 = vus_fe_vq_kicks(rq);
        }
        memset(buf, 0, 4096);
        cdb_rw16(cdb, false, blk * 8, 8);
        assert_int_equal(scsi_exec(rq, &c, 0, cdb, 16, buf, 4096, 2), 0);
        assert_int_equal(c.status, 0);
        fill(pattern, 4096, blk);
        assert_memory_equal(buf, pattern, 4096);
    }
    out->kicks = vus_fe_vq_kicks(rq) - kicks0;
    vus_fe_close(fe);
    assert_int_equal(daemon_stop(&d), 0);
}

static void test_interrupt_mode_kicks_every_request(void **state)
{
    struct run r;

    qd1_stream("0", &r);
    print_message("--poll-us 0: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks >= MEASURED * 95 / 100);
}

static void test_polling_needs_almost_no_kicks(void **state)
{
    struct run r;

    qd1_stream("1000", &r);
    print_message("--poll-us 1000: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks <= MEASURED / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_mode_kicks_every_request),
        cmocka_unit_test(test_polling_needs_almost_no_kicks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
