/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static struct scsi_task *vpd(struct env *e, uint8_t page, uint8_t *buf, uint16_t alloc)
{
    uint8_t cdb[6] = { 0x12, 0x01, page, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0 };

    memset(buf, 0xcc, 256);
    return run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, 256);
}

static void test_supported_pages(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    struct scsi_task *t = vpd(e, 0x00, buf, 255);
    const uint8_t want[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

    assert_good(t);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(get_be16(&buf[2]), sizeof(want));
    assert_memory_equal(&buf[4], want, sizeof(want));
    assert_int_equal(t->data_len, 4 + sizeof(want));
    /* Every listed page answers, with its own code and a consistent length. */
    for (size_t i = 0; i < sizeof(want); i++) {
        t = vpd(e, want[i], buf, 255);
        assert_good(t);
        assert_int_equal(buf[1], want[i]);
        assert_int_equal(t->data_len, 4 + get_be16(&buf[2]));
    }
    /* Truncation by allocation length. */
    assert_int_equal(vpd(e, 0x00, buf, 3)->data_len, 3);
    env_free(e);
}

static void test_serial_and_device_id(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    size_t sl = strlen(e->lun->serial);
    struct scsi_task *t = vpd(e, 0x80, buf, 255);

    assert_good(t);
    assert_int_equal(get_be16(&buf[2]), sl);
    assert_memory_equal(&buf[4], e->lun->serial, sl);

    t = vpd(e, 0x83, buf, 255);
    assert_good(t);
    /* NAA designator first: binary, LU association, type 3, 8 bytes. */
    assert_int_equal(buf[4], 0x01);
    assert_int_equal(buf[5], 0x03);
    assert_int_equal(buf[7], 8);
    assert_true(get_be64(&buf[8]) == e->lun->wwn);
    assert_int_equal(buf[8] >> 4, 5);
    /* T10 vendor ID: ASCII, type 1, vendor then serial. */
    assert_int_equal(buf[16], 0x02);
    assert_int_equal(buf[17], 0x01);
    assert_int_equal(buf[19], 8 + sl);
    assert_memory_equal(&buf[20], "VUSCSI  ", 8);
    assert_memory_equal(&buf[28], e->lun->serial, sl);
    assert_int_equal(get_be16(&buf[2]), 12 + 4 + 8 + sl);
    env_free(e);
}

static void test_block_limits(void **state)
{
    struct env *e = env_new(64, 4096);
    uint8_t buf[256];
    struct scsi_task *t;

    e->fb->bdev.optimal_io_blocks = 16;
    t = vpd(e, 0xb0, buf, 255);
    assert_good(t);
    assert_int_equal(get_be16(&buf[2]), 0x3c);
    assert_int_equal(buf[4] & 1, 0);               /* WSNZ: 0 blocks means to the end */
    assert_int_equal(buf[5], SCSI_MAX_CAW_BLOCKS); /* MAXIMUM COMPARE AND WRITE LENGTH */
    assert_int_equal(get_be16(&buf[6]), 16);
    assert_int_equal(get_be32(&buf[8]), (8u << 20) / 4096);
    assert_int_equal(get_be32(&buf[20]), 0); /* no discard: no unmap limits */
    assert_int_equal(get_be32(&buf[24]), 0);
    assert_true(get_be64(&buf[36]) == SCSI_MAX_WS_BLOCKS);

    e->fb->bdev.can_discard = true;
    t = vpd(e, 0xb0, buf, 255);
    assert_good(t);
    assert_int_equal(get_be32(&buf[20]), 0xffffffffu);
    assert_int_equal(get_be32(&buf[24]), SCSI_MAX_UNMAP_DESCS);
    assert_int_equal(get_be32(&buf[28]), 1);
    env_free(e);
}

static void test_characteristics_and_provisioning(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];

    assert_good(vpd(e, 0xb1, buf, 255));
    assert_int_equal(get_be16(&buf[2]), 0x3c);
    assert_int_equal(get_be16(&buf[4]), 1);

    assert_good(vpd(e, 0xb2, buf, 255));
    assert_int_equal(get_be16(&buf[2]), 4);
    assert_int_equal(buf[5], 0);
    assert_int_equal(buf[6] & 7, 0);

    e->fb->bdev.can_discard = true;
    assert_good(vpd(e, 0xb2, buf, 255));
    assert_int_equal(buf[5], 0xe0); /* LBPU, LBPWS, LBPWS10; no LBPRZ */
    assert_int_equal(buf[6] & 7, 2);

    e->fb->bdev.discard_zeroes = true;
    assert_good(vpd(e, 0xb2, buf, 255));
    assert_int_equal(buf[5], 0xe4);
    env_free(e);
}

/* A LUN on hardware with names of its own (an NVMe namespace) reports them. */
static void test_hardware_identity(void **state)
{
    struct fake_bdev *fb = fake_new(64, 512);
    const uint8_t eui[8] = { 0x00, 0x25, 0x38, 0x01, 0x02, 0x03, 0x04, 0x05 };
    const uint8_t nguid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct env *e;
    uint8_t buf[256];
    struct scsi_task *t;
    size_t off;

    snprintf(fb->bdev.hw_serial, sizeof(fb->bdev.hw_serial), "%s", "S4EWNX0R123");
    memcpy(fb->bdev.eui64, eui, sizeof(eui));
    memcpy(fb->bdev.nguid, nguid, sizeof(nguid));
    fb->bdev.max_io_bytes = 128 * 1024;
    fb->bdev.can_discard = true;
    fb->bdev.max_discard_bytes = 1 << 20;
    e = env_new_lun(0, 0, fb);
    assert_string_equal(e->lun->serial, "S4EWNX0R123");
    t = vpd(e, 0x80, buf, 255);
    assert_good(t);
    assert_memory_equal(&buf[4], "S4EWNX0R123", 11);

    t = vpd(e, 0x83, buf, 255);
    assert_good(t);
    /* After NAA (12 bytes) and T10 (4 + 8 + serial): EUI-64 8 bytes, then 16 bytes. */
    off = 4 + 12 + 4 + 8 + 11;
    assert_int_equal(buf[off], 0x01);
    assert_int_equal(buf[off + 1], 0x02);
    assert_int_equal(buf[off + 3], 8);
    assert_memory_equal(&buf[off + 4], eui, 8);
    off += 12;
    assert_int_equal(buf[off + 1], 0x02);
    assert_int_equal(buf[off + 3], 16);
    assert_memory_equal(&buf[off + 4], nguid, 16);
    assert_int_equal(get_be16(&buf[2]) + 4, off + 20);

    /* MDTS becomes MAXIMUM TRANSFER LENGTH, the DSM limit MAXIMUM UNMAP LBA COUNT. */
    t = vpd(e, 0xb0, buf, 255);
    assert_good(t);
    assert_int_equal(get_be32(&buf[8]), 128 * 1024 / 512);
    assert_int_equal(get_be32(&buf[20]), 2048);
    env_free(e);
}

/* No hardware names: no empty designators. */
static void test_no_hardware_identity(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    size_t sl = strlen(e->lun->serial);
    struct scsi_task *t = vpd(e, 0x83, buf, 255);

    assert_good(t);
    assert_int_equal(get_be16(&buf[2]), 12 + 4 + 8 + sl);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported_pages),
        cmocka_unit_test(test_hardware_identity),
        cmocka_unit_test(test_no_hardware_identity),
        cmocka_unit_test(test_serial_and_device_id),
        cmocka_unit_test(test_block_limits),
        cmocka_unit_test(test_characteristics_and_provisioning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
