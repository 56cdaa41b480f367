/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The LUN options, GET LBA STATUS and SANITIZE through the real daemon and
 * socket (the unit tests cover the corner cases; these show the wiring from
 * --lun to the guest): a removable 512e RAM LUN is locked, ejected and
 * loaded; its provisioning follows writes and UNMAP; SANITIZE overwrites
 * and block-erases it, IMMED or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define FE_TEST_DAEMON_ARGS                                                                        \
    {                                                                                              \
        "--lun",                                                                                   \
            "type=ram,size=4M,removable=on,physical-block-size=4096,discard-granularity=8192",     \
            NULL                                                                                   \
    }
#include "tests/frontend/fe_test_common.h"

#define BS     512
#define BLOCKS ((4u << 20) / BS)

/* The common connection, with the LUN's power-on unit attention already taken. */
static int lunopts_setup(void **state)
{
    int rc = test_setup(state);

    if (rc == 0)
        clear_ua(((struct ctx *)*state)->rq, 0, 0);
    return rc;
}

static void expect(const struct vus_fe_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
    assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
    if (key == 0) {
        assert_int_equal(c->status, 0);
        return;
    }
    assert_int_equal(c->status, 2);
    assert_int_equal(c->sense[2] & 0x0f, key);
    assert_int_equal(c->sense[12], asc);
    assert_int_equal(c->sense[13], ascq);
}

static void exec(struct ctx *cx, struct vus_fe_cmd *c, const uint8_t *cdb, unsigned len, size_t n,
                 int dir)
{
    assert_int_equal(scsi_exec(cx->rq, c, 0, cdb, len, n ? cx->buf : NULL, n, dir), 0);
}

static void test_removable_512e(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 };
    uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
    uint8_t vpd[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 };
    uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1, 0 }, allow[6] = { 0x1e };
    uint8_t eject[6] = { 0x1b, 0, 0, 0, 0x02, 0 }, load[6] = { 0x1b, 0, 0, 0, 0x03, 0 };
    uint8_t rd[16];

    exec(cx, &c, inq, 6, 36, 2);
    expect(&c, 0, 0, 0);
    assert_int_equal(cx->buf[1] & 0x80, 0x80);
    exec(cx, &c, rc16, 16, 32, 2);
    expect(&c, 0, 0, 0);
    assert_int_equal(cx->buf[13] & 0x0f, 3);
    exec(cx, &c, vpd, 6, 64, 2);
    expect(&c, 0, 0, 0);
    assert_int_equal(cx->buf[6] << 8 | cx->buf[7], 8);
    assert_int_equal(get_be32(cx->buf + 28), 16);

    exec(cx, &c, prevent, 6, 0, 0);
    expect(&c, 0, 0, 0);
    exec(cx, &c, eject, 6, 0, 0);
    expect(&c, 0x05, 0x53, 0x02);
    exec(cx, &c, allow, 6, 0, 0);
    expect(&c, 0, 0, 0);
    exec(cx, &c, eject, 6, 0, 0);
    expect(&c, 0, 0, 0);
    exec(cx, &c, tur, 6, 0, 0);
    expect(&c, 0x02, 0x3a, 0);
    cdb_rw16(rd, false, 0, 1);
    exec(cx, &c, rd, 16, BS, 2);
    expect(&c, 0x02, 0x3a, 0);
    exec(cx, &c, load, 6, 0, 0);
    expect(&c, 0, 0, 0);
    exec(cx, &c, tur, 6, 0, 0);
    expect(&c, 0, 0, 0);
}

/* GET LBA STATUS at lba: the first descriptor's count and provisioning status. */
static void lba_status(struct ctx *cx, uint64_t lba, uint32_t *n, uint8_t *st)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16] = { 0x9e, 0x12 };

    put_be64(cdb + 2, lba);
    put_be32(cdb + 10, 24);
    exec(cx, &c, cdb, 16, 24, 2);
    expect(&c, 0, 0, 0);
    assert_int_equal(get_be64(cx->buf + 8), lba);
    *n = get_be32(cx->buf + 16);
    *st = cx->buf[20] & 0x0f;
}

static void test_lba_status_and_sanitize(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t wr[16], rd[16], unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
    uint8_t ow[10] = { 0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0 }, erase[10] = { 0x48, 0x82 };
    uint8_t crypto[10] = { 0x48, 0x03 }, tur[6] = { 0 };
    uint32_t n;
    uint8_t st;

    /* A fresh RAM LUN is all deallocated; a write maps what it wrote. */
    lba_status(cx, 0, &n, &st);
    assert_int_equal(st, 1);
    memset(cx->buf, 0x5a, 16 * BS);
    cdb_rw16(wr, true, 64, 16);
    exec(cx, &c, wr, 16, 16 * BS, 1);
    expect(&c, 0, 0, 0);
    lba_status(cx, 0, &n, &st);
    assert_int_equal(st, 1);
    assert_int_equal(n, 64);
    lba_status(cx, 64, &n, &st);
    assert_int_equal(st, 0);
    assert_int_equal(n, 16);
    /* UNMAP deallocates again. */
    memset(cx->buf, 0, 24);
    put_be16(cx->buf, 22);
    put_be16(cx->buf + 2, 16);
    put_be64(cx->buf + 8, 64);
    put_be32(cx->buf + 16, 8);
    exec(cx, &c, unmap, 10, 24, 1);
    expect(&c, 0, 0, 0);
    lba_status(cx, 64, &n, &st);
    assert_int_equal(st, 1);
    assert_int_equal(n, 8);

    /* OVERWRITE with a 4-byte pattern, then read it back anywhere. */
    memcpy(cx->buf,
           "\x01\x00\x00\x04"
           "abcd",
           8);
    exec(cx, &c, ow, 10, 8, 1);
    expect(&c, 0, 0, 0);
    cdb_rw16(rd, false, BLOCKS - 1, 1);
    exec(cx, &c, rd, 16, BS, 2);
    expect(&c, 0, 0, 0);
    assert_memory_equal(cx->buf, "abcdabcd", 8);
    lba_status(cx, 0, &n, &st);
    assert_int_equal(st, 0);
    assert_int_equal(n, BLOCKS);

    /* BLOCK ERASE with IMMED: GOOD at once; TEST UNIT READY is NOT READY until it ends. */
    exec(cx, &c, erase, 10, 0, 0);
    expect(&c, 0, 0, 0);
    for (int i = 0; i < 1000; i++) {
        exec(cx, &c, tur, 6, 0, 0);
        if (c.status == 0)
            break;
        expect(&c, 0x02, 0x04, 0x1b);
        usleep(1000);
    }
    expect(&c, 0, 0, 0);
    lba_status(cx, 0, &n, &st);
    assert_int_equal(st, 1);
    assert_int_equal(n, BLOCKS);
    exec(cx, &c, rd, 16, BS, 2);
    expect(&c, 0, 0, 0);
    assert_int_equal(cx->buf[0], 0);
    /* No CRYPTOGRAPHIC ERASE. */
    exec(cx, &c, crypto, 10, 0, 0);
    expect(&c, 0x05, 0x24, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, lunopts_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_removable_512e),
        T(test_lba_status_and_sanitize),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
