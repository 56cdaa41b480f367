/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static struct scsi_task *ms6(struct env *e, uint8_t b1, uint8_t b2, uint8_t sub, uint8_t alloc,
                             uint8_t *buf)
{
    uint8_t cdb[6] = { 0x1a, b1, b2, sub, alloc, 0 };

    memset(buf, 0xcc, 256);
    return run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, 256);
}

static struct scsi_task *ms10(struct env *e, uint8_t b1, uint8_t b2, uint16_t alloc, uint8_t *buf)
{
    uint8_t cdb[10] = { 0x5a, b1, b2, 0, 0, 0, 0, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0 };

    memset(buf, 0xcc, 256);
    return run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, 256);
}

static void test_mode_sense6_all(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t buf[256];
    struct scsi_task *t = ms6(e, 0, 0x3f, 0, 255, buf);

    assert_good(t);
    /* Header, 8-byte block descriptor, caching (20) and control (12) pages. */
    assert_int_equal(t->data_len, 4 + 8 + 20 + 12);
    assert_int_equal(buf[0], t->data_len - 1);
    assert_int_equal(buf[2], 0x10); /* DPOFUA, not write protected */
    assert_int_equal(buf[3], 8);
    assert_int_equal(get_be32(&buf[4]), 1000);
    assert_int_equal(get_be24(&buf[9]), 512);
    assert_int_equal(buf[12], 0x08);
    assert_int_equal(buf[13], 0x12);
    assert_int_equal(buf[14] & 0x04, 0); /* no volatile cache: WCE 0 */
    assert_int_equal(buf[32], 0x0a);
    assert_int_equal(buf[33], 0x0a);
    assert_int_equal(buf[34] & 0x04, 0); /* D_SENSE 0: fixed format */
    assert_int_equal(buf[t->data_len], 0xcc);
    /* Truncated by allocation length; MODE DATA LENGTH unchanged. */
    t = ms6(e, 0, 0x3f, 0, 6, buf);
    assert_int_equal(t->data_len, 6);
    assert_int_equal(buf[0], 4 + 8 + 20 + 12 - 1);
    /* Subpage FFh of all pages is the same set. */
    assert_int_equal(ms6(e, 0, 0x3f, 0xff, 255, buf)->data_len, 44);
    env_free(e);
}

static void test_mode_sense6_pages(void **state)
{
    struct env *e = env_new(64, 4096);
    uint8_t buf[256];
    struct scsi_task *t;

    e->fb->bdev.volatile_cache = true;
    e->fb->bdev.readonly = true;
    /* DBD: no block descriptor. */
    t = ms6(e, 0x08, 0x08, 0, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 4 + 20);
    assert_int_equal(buf[2], 0x90); /* WP, DPOFUA */
    assert_int_equal(buf[3], 0);
    assert_int_equal(buf[4], 0x08);
    assert_int_equal(buf[6] & 0x04, 0x04); /* WCE */
    t = ms6(e, 0, 0x0a, 0, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 4 + 8 + 12);
    assert_int_equal(get_be24(&buf[9]), 4096);
    assert_int_equal(buf[12], 0x0a);
    /* Changeable values: nothing can be changed. */
    t = ms6(e, 0x08, 0x40 | 0x08, 0, 255, buf);
    assert_good(t);
    assert_int_equal(buf[6], 0);
    /* Saved values: not supported. */
    assert_sense(ms6(e, 0, 0xc0 | 0x08, 0, 255, buf), 0x5, 0x39, 0);
    /* Default values are accepted. */
    assert_good(ms6(e, 0, 0x80 | 0x08, 0, 255, buf));
    /* Unknown page, unknown subpage. */
    t = ms6(e, 0, 0x01, 0, 255, buf);
    assert_invalid_cdb(t);
    assert_field(t, true, 2, 5);
    assert_invalid_cdb(ms6(e, 0, 0x1c, 0, 255, buf));
    assert_invalid_cdb(ms6(e, 0, 0x08, 0x01, 255, buf));
    env_free(e);
}

static void test_mode_sense10(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    struct scsi_task *t = ms10(e, 0, 0x3f, 255, buf);

    assert_good(t);
    assert_int_equal(t->data_len, 8 + 8 + 20 + 12);
    assert_int_equal(get_be16(&buf[0]), t->data_len - 2);
    assert_int_equal(buf[3], 0x10);
    assert_int_equal(buf[4] & 1, 0); /* LONGLBA */
    assert_int_equal(get_be16(&buf[6]), 8);
    assert_int_equal(get_be32(&buf[8]), 64);
    assert_int_equal(buf[16], 0x08);
    /* LLBAA is accepted, the short descriptor is still used. */
    t = ms10(e, 0x10, 0x3f, 255, buf);
    assert_good(t);
    assert_int_equal(get_be16(&buf[6]), 8);
    t = ms10(e, 0x08, 0x0a, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 8 + 12);
    assert_int_equal(get_be16(&buf[6]), 0);
    assert_int_equal(ms10(e, 0, 0x3f, 10, buf)->data_len, 10);
    env_free(e);
}

static void test_block_count_saturates(void **state)
{
    struct env *e = env_new(1ull << 33, 512); /* 4 TiB: no backing memory, no I/O */
    uint8_t buf[256];

    assert_good(ms6(e, 0, 0x08, 0, 255, buf));
    assert_int_equal(get_be32(&buf[4]), 0xffffffffu);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_sense6_all),
        cmocka_unit_test(test_mode_sense6_pages),
        cmocka_unit_test(test_mode_sense10),
        cmocka_unit_test(test_block_count_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
