/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static void test_tur_and_start_stop(void **state)
{
    struct env *e = env_new(64, 512);
    const uint8_t tur[6] = { 0 };
    const uint8_t ssu[6] = { 0x1b, 0, 0, 0, 0x01, 0 };
    const uint8_t ssu_stop[6] = { 0x1b, 1, 0, 0, 0x00, 0 };

    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(run(e, ssu, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(run(e, ssu_stop, 6, SCSI_DIR_NONE, NULL, 0));
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_inquiry_standard(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    uint8_t cdb[6] = { 0x12, 0, 0, 0, 255, 0 };
    struct scsi_task *t;

    memset(buf, 0xcc, sizeof(buf));
    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, buf[4] + 5);
    assert_true(t->data_len >= 36);
    assert_int_equal(buf[0], 0x00);        /* connected direct-access block device */
    assert_int_equal(buf[1], 0);           /* not removable */
    assert_int_equal(buf[2], 0x06);        /* SPC-4 */
    assert_int_equal(buf[3], 0x12);        /* HiSup, response data format 2 */
    assert_int_equal(buf[7] & 0x02, 0x02); /* CmdQue */
    assert_memory_equal(&buf[8], "VUSCSI  ", 8);
    assert_memory_equal(&buf[16], "vhost-user-scsi ", 16);
    assert_memory_equal(&buf[32], "0.1 ", 4);
    assert_int_equal(get_be16(&buf[58]), 0x00a0);
    assert_int_equal(get_be16(&buf[60]), 0x0460);
    assert_int_equal(get_be16(&buf[62]), 0x04c0);
    assert_int_equal(buf[t->data_len], 0xcc); /* nothing written past the data */

    /* Allocation length truncates, in the 16-bit field. */
    cdb[3] = 0;
    cdb[4] = 5;
    assert_int_equal(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 5);
    cdb[4] = 0;
    assert_int_equal(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 0);
    cdb[3] = 1;
    assert_int_equal(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, buf[4] + 5);

    /* CmdDt, and a page code without EVPD, are invalid fields. */
    cdb[1] = 0x02;
    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 1);
    cdb[1] = 0;
    cdb[2] = 0x80;
    assert_invalid_cdb(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    /* EVPD with an unknown page. */
    cdb[1] = 1;
    cdb[2] = 0xc5;
    assert_invalid_cdb(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    env_free(e);
}

static void add_lun(struct env *e, unsigned tgt, unsigned lun, struct fake_bdev **out)
{
    struct scsi_lun_config cfg = { .target = tgt, .lun = lun };
    char err[128];

    *out = fake_new(8, 512);
    assert_int_equal(scsi_lun_create(&e->set, &cfg, &(*out)->bdev, err, sizeof(err)), 0);
}

static void test_report_luns(void **state)
{
    struct env *e = env_new_lun(1, 0, fake_new(64, 512));
    struct fake_bdev *f3, *f255, *fother;
    uint8_t buf[64];
    uint8_t cdb[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
    struct scsi_task *t;

    add_lun(e, 1, 3, &f3);
    add_lun(e, 1, 255, &f255);
    add_lun(e, 2, 7, &fother); /* another target: not listed */
    memset(buf, 0xcc, sizeof(buf));
    t = run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 32);
    assert_int_equal(get_be32(buf), 24);
    assert_int_equal(get_be32(&buf[4]), 0);
    {
        const uint8_t want[24] = { 0, 0, 0, 0, 0, 0,   0, 0, 0, 3, 0, 0,
                                   0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0 };

        assert_memory_equal(&buf[8], want, 24);
    }
    /* Truncated by allocation length, LUN LIST LENGTH still the full one. */
    cdb[9] = 16;
    t = run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 16);
    assert_int_equal(get_be32(buf), 24);
    /* Allocation length below 16. */
    cdb[9] = 15;
    assert_invalid_cdb(run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    cdb[9] = 64;
    /* SELECT REPORT 2: same list; 1: well-known only (none); others invalid. */
    cdb[2] = 2;
    assert_int_equal(run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 32);
    cdb[2] = 1;
    t = run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 8);
    assert_int_equal(get_be32(buf), 0);
    cdb[2] = 3;
    assert_invalid_cdb(run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    cdb[2] = 0x10;
    assert_invalid_cdb(run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    scsi_target_set_destroy(&e->set);
    assert_int_equal(f3->closed + f255->closed + fother->closed, 3);
    fake_free(f3);
    fake_free(f255);
    fake_free(fother);
    env_free(e);
}

static void test_request_sense(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[32];
    uint8_t cdb[6] = { 0x03, 0, 0, 0, 32, 0 };
    struct scsi_task *t;

    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 18);
    assert_int_equal(buf[0], 0x70);
    assert_int_equal(buf[2], 0);
    assert_int_equal(buf[7], 10);
    cdb[4] = 8;
    assert_int_equal(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 8);
    /* DESC=1: descriptor format, whatever D_SENSE says, and the reverse. */
    cdb[1] = 1;
    cdb[4] = 32;
    atomic_store(&e->lun->ua_pending, SCSI_UA_POWER_ON_RESET);
    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 8);
    assert_int_equal(buf[0], 0x72);
    assert_int_equal(buf[1], SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(buf[2], 0x29);
    assert_int_equal(buf[7], 0);
    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 8);
    assert_int_equal(buf[1], SCSI_SK_NO_SENSE);
    atomic_store(&e->lun->d_sense, true);
    cdb[1] = 0;
    t = run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 18);
    assert_int_equal(buf[0], 0x70);
    env_free(e);
}

static struct scsi_task *rsoc(struct env *e, uint8_t opts, uint8_t op, uint16_t sa, uint8_t *buf,
                              uint32_t len)
{
    uint8_t cdb[12] = { 0xa3, 0x0c, opts, op, (uint8_t)(sa >> 8), (uint8_t)sa, 0, 0, 0, 0, 0, 0 };

    put_be32(&cdb[6], len);
    return run(e, cdb, 12, SCSI_DIR_FROM_DEV, buf, len);
}

static void test_report_opcodes_all(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t *buf = calloc(1, 4096), one[64];
    struct scsi_task *t;
    uint32_t len, n = 0;
    bool seen_read16 = false, seen_rc16 = false;

    t = rsoc(e, 0, 0, 0, buf, 4096);
    assert_good(t);
    len = get_be32(buf);
    assert_int_equal(t->data_len, len + 4);
    assert_int_equal(len % 8, 0);
    for (uint32_t off = 4; off < len + 4; off += 8, n++) {
        const uint8_t *d = &buf[off];
        bool servactv = d[5] & 1;

        assert_int_equal(d[5] & 0x02, 0); /* no CTDP without RCTD */
        seen_read16 |= d[0] == 0x88;
        seen_rc16 |= d[0] == 0x9e && get_be16(&d[2]) == 0x10 && servactv;
        /* Each entry agrees with the one-command form. */
        t = rsoc(e, servactv ? 2 : 1, d[0], get_be16(&d[2]), one, sizeof(one));
        assert_good(t);
        assert_int_equal(one[1] & 0x07, 0x03);
        assert_int_equal(get_be16(&one[2]), get_be16(&d[6]));
        assert_int_equal(one[4], d[0]);
        if (servactv)
            assert_int_equal(one[5] & 0x1f, get_be16(&d[2]));
        assert_int_equal(t->data_len, 4 + get_be16(&d[6]));
    }
    assert_true(n >= 25);
    assert_true(seen_read16 && seen_rc16);

    /* RCTD: each descriptor gains a 12-byte timeouts descriptor. */
    t = rsoc(e, 0x80, 0, 0, buf, 4096);
    assert_good(t);
    assert_int_equal(get_be32(buf), 20 * n);
    assert_int_equal(buf[4 + 5] & 0x02, 0x02);
    assert_int_equal(get_be16(&buf[4 + 8]), 0x0a);
    free(buf);
    env_free(e);
}

/* WRITE ATOMIC(16) is reported only by a LUN whose backend can make a write atomic. */
static bool lists_opcode(struct env *e, uint8_t op)
{
    uint8_t *buf = calloc(1, 4096);
    bool seen = false;

    assert_non_null(buf);
    assert_good(rsoc(e, 0, 0, 0, buf, 4096));
    for (uint32_t off = 4; off < get_be32(buf) + 4; off += 8)
        seen |= buf[off] == op;
    free(buf);
    return seen;
}

static void test_report_opcodes_per_backend(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t one[64];

    assert_false(lists_opcode(e, 0x9c));
    assert_good(rsoc(e, 1, 0x9c, 0, one, sizeof(one)));
    assert_int_equal(one[1] & 7, 0x01);
    e->fb->bdev.atomic_max_bytes = 4096;
    assert_true(lists_opcode(e, 0x9c));
    assert_good(rsoc(e, 1, 0x9c, 0, one, sizeof(one)));
    assert_int_equal(one[1] & 7, 0x03);
    assert_int_equal(one[4], 0x9c);
    env_free(e);
}

static void test_report_opcodes_one(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[64];
    struct scsi_task *t;

    /* INQUIRY, reporting option 1. */
    t = rsoc(e, 1, 0x12, 0, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[1], 0x03);
    assert_int_equal(get_be16(&buf[2]), 6);
    assert_int_equal(buf[4], 0x12);
    assert_int_equal(buf[5], 0x01);
    /* An opcode we lack: SUPPORT 001b. */
    t = rsoc(e, 1, 0xc8, 0, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[1] & 7, 0x01);
    assert_int_equal(t->data_len, 4);
    /* Service action opcodes need option 2 (or 3); plain ones need 1 (or 3). */
    t = rsoc(e, 1, 0x9e, 0x10, buf, sizeof(buf));
    assert_invalid_cdb(t);
    /* The field pointer tells initiators the command exists but this field is wrong. */
    assert_field(t, true, 2, 2);
    assert_invalid_cdb(rsoc(e, 2, 0x28, 0, buf, sizeof(buf)));
    t = rsoc(e, 2, 0x9e, 0x10, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(get_be16(&buf[2]), 16);
    assert_int_equal(buf[4], 0x9e);
    assert_int_equal(buf[5], 0x10);
    t = rsoc(e, 2, 0x9e, 0x11, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[1] & 7, 0x01);
    assert_good(rsoc(e, 3, 0x28, 0, buf, sizeof(buf)));
    assert_int_equal(buf[1] & 7, 0x03);
    assert_good(rsoc(e, 3, 0xa3, 0x0c, buf, sizeof(buf)));
    assert_int_equal(buf[1] & 7, 0x03);
    /* The SBC commands of issue 12, each with the CDB usage data its checks enforce. */
    t = rsoc(e, 1, 0x89, 0, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[1] & 7, 0x03);
    assert_int_equal(get_be16(&buf[2]), 16);
    assert_int_equal(buf[4 + 13], 0xff);
    for (unsigned i = 0; i < 7; i++) {
        static const uint8_t ops[] = { 0x2e, 0xae, 0x8e, 0x34, 0x90, 0x37, 0x8b };

        assert_good(rsoc(e, 1, ops[i], 0, buf, sizeof(buf)));
        assert_int_equal(buf[1] & 7, 0x03);
    }
    assert_good(rsoc(e, 1, 0xb7, 0, buf, sizeof(buf)));
    assert_int_equal(get_be16(&buf[2]), 12);
    /* RCTD in the one-command form. */
    t = rsoc(e, 0x81, 0x28, 0, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[1], 0x83);
    assert_int_equal(t->data_len, 4 + 10 + 12);
    /* Reporting options beyond 3. */
    assert_invalid_cdb(rsoc(e, 4, 0x28, 0, buf, sizeof(buf)));
    assert_invalid_cdb(rsoc(e, 7, 0x28, 0, buf, sizeof(buf)));
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tur_and_start_stop),
        cmocka_unit_test(test_inquiry_standard),
        cmocka_unit_test(test_report_luns),
        cmocka_unit_test(test_request_sense),
        cmocka_unit_test(test_report_opcodes_all),
        cmocka_unit_test(test_report_opcodes_one),
        cmocka_unit_test(test_report_opcodes_per_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
