/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EXTENDED COPY, RECEIVE COPY RESULTS and WRITE ATOMIC(16) through the real
 * daemon and socket: a copy between two LUNs of one controller, named by the
 * NAA designators their VPD page 83h reports, checked by READ; the held copy
 * status and the operating parameters; a copy to a read-only LUN and to an
 * unknown one; WRITE ATOMIC on a RAM LUN with the limits of VPD B0h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* Three LUNs of one controller: copies between them, one read-only destination. */
#define FE_TEST_DAEMON_ARGS                                                                        \
    {                                                                                              \
        "--lun", "type=ram,size=16M", "--lun", "type=ram,size=4M,lun=1", "--lun",                  \
            "type=ram,size=1M,lun=2,readonly=on", "--threads", "2", NULL                           \
    }
#include "tests/frontend/fe_test_common.h"

#define BS 512

/* Each test starts with the LUNs' unit attentions cleared. */
static int xcopy_setup(void **state)
{
    struct ctx *cx;

    if (test_setup(state) < 0)
        return -1;
    cx = *state;
    for (unsigned l = 0; l < 3; l++)
        clear_ua(cx->rq, 0, l);
    return 0;
}

static void expect_good(const struct vus_fe_cmd *c)
{
    assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c->status, 0);
}

static void expect_sense(const struct vus_fe_cmd *c, uint8_t key, uint8_t asc)
{
    uint8_t k, a;

    assert_int_equal(c->status, 2);
    sense_key_asc(c, &k, &a);
    assert_int_equal(k, key);
    assert_int_equal(a, asc);
}

/* The NAA designator VPD page 83h reports for lun (the first designator). */
static uint64_t naa_of(struct ctx *cx, unsigned lun)
{
    struct vus_fe_cmd c;
    uint8_t cdb[6] = { 0x12, 0x01, 0x83, 0, 255, 0 };

    assert_int_equal(scsi_exec(cx->rq, &c, lun, cdb, 6, cx->buf2, 255, 2), 0);
    expect_good(&c);
    assert_int_equal(cx->buf2[5] & 0x0f, 3);
    assert_int_equal(cx->buf2[7], 8);
    return get_be64(cx->buf2 + 8);
}

static void cscd(uint8_t *d, uint64_t naa)
{
    memset(d, 0, 32);
    d[0] = 0xe4;
    d[4] = 0x01;
    d[5] = 0x03;
    d[7] = 8;
    put_be64(d + 8, naa);
    d[30] = BS >> 8;
}

static void seg(uint8_t *d, unsigned si, unsigned di, unsigned n, uint64_t src, uint64_t dst)
{
    memset(d, 0, 28);
    d[0] = 0x02;
    d[3] = 0x18;
    d[5] = (uint8_t)si;
    d[7] = (uint8_t)di;
    d[10] = (uint8_t)(n >> 8);
    d[11] = (uint8_t)n;
    put_be64(d + 12, src);
    put_be64(d + 20, dst);
}

/* EXTENDED COPY sent to lun: one segment from (naa_src, src) to (naa_dst, dst), list id 5 held. */
static void xcopy(struct ctx *cx, struct vus_fe_cmd *c, unsigned lun, uint64_t naa_src,
                  uint64_t naa_dst, unsigned n, uint64_t src, uint64_t dst)
{
    uint8_t cdb[16] = { 0x83 }, *p = cx->buf;

    memset(p, 0, 16);
    p[0] = 5;
    p[3] = 64;
    p[11] = 28;
    cscd(p + 16, naa_src);
    cscd(p + 48, naa_dst);
    seg(p + 80, 0, 1, n, src, dst);
    put_be32(cdb + 10, 108);
    assert_int_equal(scsi_exec(cx->rq, c, lun, cdb, 16, p, 108, 1), 0);
    assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
}

static void test_copy_between_luns(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];
    uint64_t naa0 = naa_of(cx, 0), naa1 = naa_of(cx, 1), naa2 = naa_of(cx, 2);

    /* 64 blocks of a pattern on LUN 0, copied by a command sent to LUN 1. */
    for (unsigned i = 0; i < 64 * BS; i++)
        cx->buf2[i] = (uint8_t)(i * 13 + i / BS);
    cdb_rw16(cdb, true, 100, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, 64 * BS, 1), 0);
    expect_good(&c);
    xcopy(cx, &c, 1, naa0, naa1, 64, 100, 8000);
    expect_good(&c);
    memset(cx->buf, 0, 64 * BS);
    cdb_rw16(cdb, false, 8000, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 1, cdb, 16, cx->buf, 64 * BS, 2), 0);
    expect_good(&c);
    assert_memory_equal(cx->buf, cx->buf2, 64 * BS);

    /* RECEIVE COPY RESULTS: the held status of list 5, then the operating parameters. */
    uint8_t rcr[16] = { 0x84, 0x00, 5 };
    put_be32(rcr + 10, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 1, rcr, 16, cx->buf, 64, 2), 0);
    expect_good(&c);
    assert_int_equal(cx->buf[4], 0x01);
    assert_int_equal((cx->buf[5] << 8 | cx->buf[6]), 1);
    assert_int_equal(get_be32(cx->buf + 8), 64 * BS);
    /* Held per I_T nexus and LUN: LUN 0 has none. */
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rcr, 16, cx->buf, 64, 2), 0);
    expect_sense(&c, 0x05, 0x24);
    rcr[1] = 0x03;
    rcr[2] = 0;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rcr, 16, cx->buf, 64, 2), 0);
    expect_good(&c);
    assert_int_equal((cx->buf[8] << 8 | cx->buf[9]), 8);
    assert_int_equal(cx->buf[43], 2);

    /* To the read-only LUN: DATA PROTECT; to a LUN no controller serves: COPY ABORTED. */
    xcopy(cx, &c, 0, naa0, naa2, 8, 0, 0);
    expect_sense(&c, 0x07, 0x27);
    xcopy(cx, &c, 0, naa0, naa1 ^ 0xff, 8, 0, 0);
    expect_sense(&c, 0x0a, 0x0d);
    /* From the read-only LUN is fine (it reads zeroes). */
    xcopy(cx, &c, 2, naa2, naa0, 8, 0, 100);
    expect_good(&c);
    cdb_rw16(cdb, false, 100, 8);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 8 * BS, 2), 0);
    expect_good(&c);
    for (unsigned i = 0; i < 8 * BS; i++)
        assert_int_equal(cx->buf[i], 0);
}

static void test_write_atomic(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t inq[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 }, cdb[16];

    assert_int_equal(scsi_exec(cx->rq, &c, 0, inq, 6, cx->buf, 64, 2), 0);
    expect_good(&c);
    /* MAXIMUM ATOMIC TRANSFER LENGTH: up to MAXIMUM TRANSFER LENGTH on RAM. */
    assert_true(get_be32(cx->buf + 44) > 0);
    assert_true(get_be32(cx->buf + 44) <= get_be32(cx->buf + 8));

    memset(cdb, 0, 16);
    cdb[0] = 0x9c;
    cdb[1] = 0x08; /* FUA */
    put_be64(cdb + 2, 40);
    put_be16(cdb + 12, 16);
    memset(cx->buf2, 0xa7, 16 * BS);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, 16 * BS, 1), 0);
    expect_good(&c);
    cdb_rw16(cdb, false, 40, 16);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 16 * BS, 2), 0);
    expect_good(&c);
    assert_memory_equal(cx->buf, cx->buf2, 16 * BS);

    /* WRPROTECT: no protection information. */
    memset(cdb, 0, 16);
    cdb[0] = 0x9c;
    cdb[1] = 0x20;
    put_be16(cdb + 12, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, BS, 1), 0);
    expect_sense(&c, 0x05, 0x24);
    /* A read-only LUN refuses it. */
    cdb[1] = 0;
    assert_int_equal(scsi_exec(cx->rq, &c, 2, cdb, 16, cx->buf2, BS, 1), 0);
    expect_sense(&c, 0x07, 0x27);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, xcopy_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_copy_between_luns),
        T(test_write_atomic),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
