/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Removable medium (scsi_medium.c): PREVENT ALLOW MEDIUM REMOVAL, START STOP
 * UNIT eject and load, NOT READY while ejected; and the other LUN options
 * (physical-block-size, discard-granularity) as scsi_lun_create checks and
 * reports them.
 */
#include "scsi_fake.h"

static const uint8_t tur[6] = { 0x00 };

static struct scsi_task *prevent(struct env *e, uint8_t v)
{
    uint8_t cdb[6] = { 0x1e, 0, 0, 0, v, 0 };

    return run(e, cdb, 6, SCSI_DIR_NONE, NULL, 0);
}

static struct scsi_task *ssu(struct env *e, uint8_t b1, uint8_t b4)
{
    uint8_t cdb[6] = { 0x1b, b1, 0, 0, b4, 0 };

    return run(e, cdb, 6, SCSI_DIR_NONE, NULL, 0);
}

#define EJECT 0x02
#define LOAD  0x03

static void test_fixed_disk(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 }, buf[96];

    assert_good(run(e, inq, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[1] & 0x80, 0);
    /* Nothing to lock or eject: accepted, and the disk stays. */
    assert_good(prevent(e, 1));
    assert_good(ssu(e, 0, EJECT));
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    env_free(e);
}

static void test_eject_load(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 }, buf[512];
    uint8_t rd10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    uint8_t rc10[10] = { 0x25 };
    uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
    uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255, 0 };

    e->lun->removable = true;
    assert_good(run(e, inq, 6, SCSI_DIR_FROM_DEV, buf, 96));
    assert_int_equal(buf[1] & 0x80, 0x80);
    assert_good(prevent(e, 1));
    assert_sense(ssu(e, 0, EJECT), SCSI_SK_ILLEGAL_REQUEST, 0x53, 0x02);
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(prevent(e, 0));
    assert_good(ssu(e, 0, EJECT));
    assert_sense(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_NOT_READY, 0x3a, 0);
    assert_sense(run(e, rd10, 10, SCSI_DIR_FROM_DEV, buf, 512), SCSI_SK_NOT_READY, 0x3a, 0);
    assert_sense(run(e, rc10, 10, SCSI_DIR_FROM_DEV, buf, 8), SCSI_SK_NOT_READY, 0x3a, 0);
    assert_int_equal(e->fb->calls, 0);
    /* What describes the unit rather than the medium still works. */
    assert_good(run(e, inq, 6, SCSI_DIR_FROM_DEV, buf, 96));
    assert_good(run(e, ms6, 6, SCSI_DIR_FROM_DEV, buf, 255));
    assert_good(run(e, rs, 6, SCSI_DIR_FROM_DEV, buf, 18));
    assert_int_equal(buf[2] & 0xf, SCSI_SK_NOT_READY);
    assert_int_equal(buf[12], 0x3a);
    /* Loading is refused while prevented, too. */
    assert_good(prevent(e, 1));
    assert_sense(ssu(e, 0, LOAD), SCSI_SK_ILLEGAL_REQUEST, 0x53, 0x02);
    assert_good(prevent(e, 0));
    assert_good(ssu(e, 0x01, LOAD)); /* IMMED: the same, there is nothing to wait for */
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(run(e, rd10, 10, SCSI_DIR_FROM_DEV, buf, 512));
    env_free(e);
}

static void test_ssu_fields(void **state)
{
    struct env *e = env_new(64, 512);

    e->lun->removable = true;
    /* A POWER CONDITION makes LOEJ and START ignored. */
    for (unsigned pc = 1; pc < 16; pc++)
        assert_good(ssu(e, 0, (uint8_t)(pc << 4 | EJECT)));
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    /* Without LOEJ, START alone changes nothing. */
    assert_good(ssu(e, 0, 0));
    assert_good(ssu(e, 0, 1));
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    /* An eject first flushes a volatile cache, unless NO_FLUSH. */
    e->fb->bdev.volatile_cache = true;
    assert_good(ssu(e, 0, EJECT));
    assert_int_equal(e->fb->count[BDEV_IO_FLUSH], 1);
    assert_good(ssu(e, 0, LOAD));
    assert_good(ssu(e, 0, EJECT | 0x04));
    assert_int_equal(e->fb->count[BDEV_IO_FLUSH], 1);
    assert_good(ssu(e, 0, LOAD));
    /* A flush that fails leaves the medium in. */
    e->fb->fail_type = BDEV_IO_FLUSH;
    e->fb->fail_err = -EIO;
    assert_int_equal(ssu(e, 0, EJECT)->status, SCSI_STATUS_CHECK_CONDITION);
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    env_free(e);
}

static void test_prevent_fields_and_reset(void **state)
{
    struct env *e = env_new(64, 512);
    struct scsi_task *t;
    uint8_t bad[6] = { 0x1e, 0x01, 0, 0, 1, 0 };

    e->lun->removable = true;
    /* 1xb is for medium changers. */
    t = prevent(e, 2);
    assert_invalid_cdb(t);
    assert_field(t, true, 4, 1);
    assert_invalid_cdb(prevent(e, 3));
    /* Reserved bits are refused (SCSI_CMD_STRICT). */
    t = run(e, bad, 6, SCSI_DIR_NONE, NULL, 0);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 0);
    /* A LUN reset ends the prevention (SPC-4 6.13). */
    assert_good(prevent(e, 1));
    scsi_lun_reset(e->lun);
    atomic_store(&e->lun->ua_pending, 0);
    assert_good(ssu(e, 0, EJECT));
    assert_sense(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_NOT_READY, 0x3a, 0);
    env_free(e);
}

/* scsi_lun_create with LUN options, on a fresh fake bdev of 64 blocks of bs. */
static int create(struct scsi_target_set *set, uint32_t bs, uint32_t pbs, uint32_t gran,
                  struct fake_bdev **fb)
{
    struct scsi_lun_config cfg = { .physical_block_size = pbs, .discard_granularity = gran };
    char err[256];
    int rc;

    *fb = fake_new(64, bs);
    rc = scsi_lun_create(set, &cfg, &(*fb)->bdev, err, sizeof(err));
    if (rc < 0)
        assert_true(strstr(err, pbs ? "physical-block-size" : "discard-granularity") != NULL);
    return rc;
}

static void test_lun_options_checked(void **state)
{
    struct scsi_target_set set = { 0 };
    struct fake_bdev *fb;

    /* Not a power-of-two multiple of the logical block, or beyond the 4-bit exponent. */
    assert_int_equal(create(&set, 512, 1536, 0, &fb), -EINVAL);
    fake_free(fb);
    assert_int_equal(create(&set, 4096, 512, 0, &fb), -EINVAL);
    fake_free(fb);
    assert_int_equal(create(&set, 512, 512u << 16, 0, &fb), -EINVAL);
    fake_free(fb);
    assert_int_equal(create(&set, 4096, 0, 6144, &fb), -EINVAL);
    fake_free(fb);
    assert_int_equal(create(&set, 512, 0, 1000, &fb), -EINVAL);
    fake_free(fb);
    assert_int_equal(create(&set, 512, 512u << 15, 0, &fb), 0);
    scsi_target_set_destroy(&set);
    fake_free(fb);
}

static void test_512e_reported(void **state)
{
    struct env *e = env_new_lun(0, 0, fake_new(64, 512));
    struct scsi_target_set set = { 0 };
    struct fake_bdev *fb;
    uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
    uint8_t vpd[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 };
    uint8_t buf[64];
    struct scsi_lun *lun;

    e->fb->bdev.can_discard = true;
    /* Default: one logical block per physical block, unmap granularity 1. */
    assert_good(run(e, rc16, 16, SCSI_DIR_FROM_DEV, buf, 32));
    assert_int_equal(buf[13] & 0x0f, 0);
    assert_good(run(e, vpd, 6, SCSI_DIR_FROM_DEV, buf, 64));
    assert_int_equal(get_be16(&buf[6]), 1);
    assert_int_equal(get_be32(&buf[28]), 1);
    assert_int_equal(buf[32] & 0x80, 0);

    /* 512e: exponent 3, transfers and unmaps in 8-block granules. */
    assert_int_equal(create(&set, 512, 4096, 0, &fb), 0);
    lun = scsi_lookup(&set, 0, 0);
    atomic_store(&lun->ua_pending, 0);
    fb->bdev.can_discard = true;
    assert_good(run_on(e, lun, rc16, 16, SCSI_DIR_FROM_DEV, buf, 32));
    assert_int_equal(buf[13] & 0x0f, 3);
    assert_int_equal(get_be16(&buf[14]) & 0x3fff, 0); /* LOWEST ALIGNED LBA */
    assert_good(run_on(e, lun, vpd, 6, SCSI_DIR_FROM_DEV, buf, 64));
    assert_int_equal(get_be16(&buf[6]), 8);
    assert_int_equal(get_be32(&buf[28]), 8);
    assert_int_equal(buf[32] & 0x80, 0x80); /* UGAVALID, alignment 0 */
    scsi_target_set_destroy(&set);
    fake_free(fb);

    /* discard-granularity overrides the unmap granularity only. */
    assert_int_equal(create(&set, 512, 4096, 65536, &fb), 0);
    lun = scsi_lookup(&set, 0, 0);
    atomic_store(&lun->ua_pending, 0);
    fb->bdev.can_discard = true;
    assert_good(run_on(e, lun, vpd, 6, SCSI_DIR_FROM_DEV, buf, 64));
    assert_int_equal(get_be16(&buf[6]), 8);
    assert_int_equal(get_be32(&buf[28]), 128);
    scsi_target_set_destroy(&set);
    fake_free(fb);
    env_free(e);
}

/* The exponent a LUN gets on a medium of physical block pbs, given cfg_pbs (0: none). */
static uint8_t exp_on_medium(uint32_t bs, uint32_t pbs, uint32_t cfg_pbs)
{
    struct scsi_target_set set = { 0 };
    struct scsi_lun_config cfg = { .physical_block_size = cfg_pbs };
    struct fake_bdev *fb = fake_new(64, bs);
    char err[256];
    uint8_t exp;

    fb->bdev.phys_block_size = pbs;
    assert_int_equal(scsi_lun_create(&set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    exp = scsi_lookup(&set, 0, 0)->lbppb_exp;
    scsi_target_set_destroy(&set);
    fake_free(fb);
    return exp;
}

static void test_medium_physical_block_default(void **state)
{
    /* A 512-byte LUN on a page, filesystem block or 4Kn disk is 512e unless told. */
    assert_int_equal(exp_on_medium(512, 4096, 0), 3);
    assert_int_equal(exp_on_medium(512, 4096, 512), 0);
    assert_int_equal(exp_on_medium(512, 4096, 65536), 7);
    assert_int_equal(exp_on_medium(4096, 4096, 0), 0);
    assert_int_equal(exp_on_medium(512, 0, 0), 0);
    /* What the exponent cannot say is not guessed at. */
    assert_int_equal(exp_on_medium(4096, 512, 0), 0);
    assert_int_equal(exp_on_medium(512, 1536, 0), 0);
    assert_int_equal(exp_on_medium(512, 512u << 16, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_disk),
        cmocka_unit_test(test_eject_load),
        cmocka_unit_test(test_ssu_fields),
        cmocka_unit_test(test_prevent_fields_and_reset),
        cmocka_unit_test(test_lun_options_checked),
        cmocka_unit_test(test_512e_reported),
        cmocka_unit_test(test_medium_physical_block_default),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
