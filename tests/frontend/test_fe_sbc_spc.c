/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The commands issue 12 added, through the real daemon and socket (the unit
 * tests cover their corner cases; these show the wiring): MODE SELECT(6/10)
 * switching descriptor-format sense, COMPARE AND WRITE with a match and a
 * miscompare, WRITE AND VERIFY(10/12/16) with a byte compare, ORWRITE(16),
 * PRE-FETCH(10/16) and READ DEFECT DATA(10/12).  test_fe_functional checks
 * that every command REPORT SUPPORTED OPERATION CODES lists is exercised by
 * a frontend test; these are the ones for the commands above.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_test_common.h"

#define BS 512 /* LUN 0: ram, 16 MiB, 512-byte blocks */

static void expect_good(const struct vus_fe_cmd *c)
{
    assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c->status, 0);
}

/* CHECK CONDITION with this sense key and ASC, in either sense format. */
static void expect_sense(const struct vus_fe_cmd *c, uint8_t key, uint8_t asc)
{
    assert_int_equal(c->status, 2);
    if ((c->sense[0] & 0x7f) >= 0x72) {
        assert_int_equal(c->sense[1] & 0x0f, key);
        assert_int_equal(c->sense[2], asc);
    } else {
        assert_int_equal(c->sense[2] & 0x0f, key);
        assert_int_equal(c->sense[12], asc);
    }
}

static void write16(struct ctx *cx, uint64_t lba, uint8_t fill, unsigned blocks)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    memset(cx->buf2, fill, blocks * BS);
    cdb_rw16(cdb, true, lba, blocks);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, blocks * BS, 1), 0);
    expect_good(&c);
}

/* The first byte of block lba. */
static uint8_t read_byte(struct ctx *cx, uint64_t lba)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, false, lba, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, BS, 2), 0);
    expect_good(&c);
    return cx->buf2[0];
}

/* D_SENSE on by MODE SELECT(6), off again by MODE SELECT(10); a bad READ shows the format. */
static void test_mode_select_d_sense(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    clear_ua(cx->rq, 0, 0);
    /* MODE SENSE(6), DBD, control page: header 4 + page 12. */
    uint8_t ms6[6] = { 0x1a, 0x08, 0x0a, 0, 255, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, ms6, 6, cx->buf, 255, 2), 0);
    expect_good(&c);
    unsigned len = cx->buf[0] + 1u;
    assert_true(len >= 4 + 12);
    cx->buf[0] = 0;         /* mode data length: reserved in MODE SELECT */
    cx->buf[4 + 2] |= 0x04; /* D_SENSE */
    uint8_t sel6[6] = { 0x15, 0x10, 0, 0, (uint8_t)len, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, sel6, 6, cx->buf, len, 1), 0);
    expect_good(&c);

    cdb_rw16(cdb, false, (16u << 20) / BS, 1); /* one past the end */
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, BS, 2), 0);
    assert_int_equal(c.sense[0] & 0x7f, 0x72);
    expect_sense(&c, 0x05, 0x21);

    /* MODE SENSE(10) / MODE SELECT(10): back to fixed format. */
    uint8_t ms10[10] = { 0x5a, 0x08, 0x0a, 0, 0, 0, 0, 1, 0, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, ms10, 10, cx->buf, 256, 2), 0);
    expect_good(&c);
    len = (unsigned)(cx->buf[0] << 8 | cx->buf[1]) + 2u;
    assert_true(len >= 8 + 12);
    cx->buf[0] = cx->buf[1] = 0;
    cx->buf[8 + 2] &= (uint8_t)~0x04;
    uint8_t sel10[10] = { 0x55, 0x10, 0, 0, 0, 0, 0, 0, (uint8_t)len, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, sel10, 10, cx->buf, len, 1), 0);
    expect_good(&c);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, BS, 2), 0);
    assert_int_equal(c.sense[0] & 0x7f, 0x70);
    expect_sense(&c, 0x05, 0x21);
}

static void test_compare_and_write(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16] = { 0x89 };

    clear_ua(cx->rq, 0, 0);
    write16(cx, 100, 0xaa, 1);
    put_be64(cdb + 2, 100);
    cdb[13] = 1;
    /* Verify data (what is there), then write data. */
    memset(cx->buf, 0xaa, BS);
    memset(cx->buf + BS, 0xbb, BS);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 2 * BS, 1), 0);
    expect_good(&c);
    assert_int_equal(read_byte(cx, 100), 0xbb);

    /* The medium no longer holds 0xaa: MISCOMPARE, nothing written. */
    memset(cx->buf + BS, 0xcc, BS);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 2 * BS, 1), 0);
    expect_sense(&c, 0x0e, 0x1d);
    assert_int_equal(read_byte(cx, 100), 0xbb);
}

static void test_write_and_verify(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb10[10] = { 0x2e, 0x02 }, cdb12[12] = { 0xae, 0x02 }, cdb16[16] = { 0x8e, 0x02 };

    clear_ua(cx->rq, 0, 0);
    memset(cx->buf, 0x11, 2 * BS);
    put_be32(cdb10 + 2, 200);
    put_be16(cdb10 + 7, 2);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb10, 10, cx->buf, 2 * BS, 1), 0);
    expect_good(&c);
    assert_int_equal(read_byte(cx, 201), 0x11);

    memset(cx->buf, 0x22, BS);
    put_be32(cdb12 + 2, 202);
    put_be32(cdb12 + 6, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb12, 12, cx->buf, BS, 1), 0);
    expect_good(&c);
    assert_int_equal(read_byte(cx, 202), 0x22);

    memset(cx->buf, 0x33, BS);
    put_be64(cdb16 + 2, 203);
    put_be32(cdb16 + 10, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb16, 16, cx->buf, BS, 1), 0);
    expect_good(&c);
    assert_int_equal(read_byte(cx, 203), 0x33);
}

static void test_orwrite(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16] = { 0x8b };

    clear_ua(cx->rq, 0, 0);
    write16(cx, 300, 0x0f, 1);
    memset(cx->buf, 0xf0, BS);
    put_be64(cdb + 2, 300);
    put_be32(cdb + 10, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, BS, 1), 0);
    expect_good(&c);
    assert_int_equal(read_byte(cx, 300), 0xff);
}

static void test_pre_fetch_and_defects(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t pf10[10] = { 0x34 }, pf16[16] = { 0x90 };
    uint8_t rdd10[10] = { 0x37, 0, 0x18 }, rdd12[12] = { 0xb7, 0x18 };

    clear_ua(cx->rq, 0, 0);
    put_be32(pf10 + 2, 10);
    put_be16(pf10 + 7, 8);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, pf10, 10, NULL, 0, 0), 0);
    expect_good(&c);
    put_be64(pf16 + 2, (16u << 20) / BS); /* past the end */
    put_be32(pf16 + 10, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, pf16, 16, NULL, 0, 0), 0);
    expect_sense(&c, 0x05, 0x21);

    put_be16(rdd10 + 7, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rdd10, 10, cx->buf, 64, 2), 0);
    expect_good(&c);
    assert_int_equal(cx->buf[2] << 8 | cx->buf[3], 0); /* an empty list */
    put_be32(rdd12 + 6, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rdd12, 12, cx->buf, 64, 2), 0);
    expect_good(&c);
    assert_int_equal(get_be32(cx->buf + 4), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_mode_select_d_sense),   T(test_compare_and_write),
        T(test_write_and_verify),      T(test_orwrite),
        T(test_pre_fetch_and_defects),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
