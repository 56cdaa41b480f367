/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations through scsi_task_execute: two controllers (target sets)
 * attach one bdev, each LUN an I_T nexus with its own initiator port.
 * PERSISTENT RESERVE IN, RESERVE/RELEASE(6/10) and the conflict check.
 */
#include "scsi_pr_fake.h"

static void test_report_caps(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    assert_good(pr_in(p, p->a, SCSI_PR_REPORT_CAPS, 64, buf));
    assert_int_equal(p->e->task->data_len, 8);
    assert_int_equal(get_be16(buf), 8);
    assert_int_equal(buf[2], 0x04); /* ATP_C; no PTPL_C without a state file */
    assert_int_equal(buf[3], 0x90); /* TMV, ALLOW COMMANDS 1, PTPL_A 0 */
    assert_int_equal(buf[4], 0xea);
    assert_int_equal(buf[5], 0x01);
    pr_env_free(p);

    p = pr_env_new(pr_tmp_file());
    assert_good(pr_in(p, p->a, SCSI_PR_REPORT_CAPS, 64, buf));
    assert_int_equal(buf[2], 0x05);
    pr_env_free(p);
}

static void test_read_full_status(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[512];
    uint8_t tid[SCSI_PR_TID_LEN];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0x04));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_RESERVE, SCSI_PR_WE, 0xb, 0, 0));
    assert_good(pr_in(p, p->a, SCSI_PR_READ_FULL_STATUS, 512, buf));
    assert_int_equal(get_be32(&buf[4]), 2 * 48);
    for (unsigned i = 0; i < 2; i++) {
        const uint8_t *d = &buf[8 + 48 * i];
        bool is_a = get_be64(d) == 0xa;

        assert_int_equal(d[12], is_a ? 0x02 : 0x01);
        assert_int_equal(d[13], is_a ? 0 : SCSI_PR_WE);
        assert_int_equal(get_be32(&d[20]), 24);
        scsi_pr_tid(is_a ? PORT_A : PORT_B, tid);
        assert_memory_equal(&d[24], tid, sizeof(tid));
    }
    pr_env_free(p);
}

static void test_spc2_reserve(void **state)
{
    struct pr_env *p = pr_env_new(NULL);

    assert_good(pr_simple(p, p->a, SCSI_OP_RESERVE_6));
    assert_good(pr_simple(p, p->a, SCSI_OP_RESERVE_6));
    assert_conflict(pr_read(p, p->b));
    assert_conflict(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY));
    assert_conflict(pr_simple(p, p->b, SCSI_OP_RESERVE_6));
    assert_conflict(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_simple(p, p->b, SCSI_OP_INQUIRY));
    /* Another's RELEASE is GOOD and releases nothing. */
    assert_good(pr_simple(p, p->b, SCSI_OP_RELEASE_6));
    assert_conflict(pr_write(p, p->b));
    assert_good(pr_write(p, p->a));
    assert_good(pr_simple(p, p->a, SCSI_OP_RELEASE_10));
    assert_good(pr_write(p, p->b));
    /* RESERVE(10) by b; a LUN reset from a ends it. */
    assert_good(pr_simple(p, p->b, SCSI_OP_RESERVE_10));
    assert_conflict(pr_write(p, p->a));
    scsi_lun_reset(p->a);
    atomic_store(&p->a->ua_pending, 0);
    assert_good(pr_write(p, p->a));
    /* b reserves again and loses its nexus. */
    assert_good(pr_simple(p, p->b, SCSI_OP_RESERVE_6));
    scsi_target_set_nexus_loss(&p->e->set); /* a's: nothing of a's to drop */
    assert_conflict(pr_write(p, p->a));
    scsi_target_set_nexus_loss(p->set_b);
    assert_good(pr_write(p, p->a));
    /* Registrations make RESERVE and RELEASE conflict (no CRH). */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_conflict(pr_simple(p, p->b, SCSI_OP_RESERVE_6));
    assert_conflict(pr_simple(p, p->a, SCSI_OP_RELEASE_6));
    /* Third-party reservations are refused. */
    uint8_t cdb[6] = { 0x16, 0x10, 0, 0, 0, 0 };

    assert_cdb_field(run_on(p->e, p->b, cdb, 6, SCSI_DIR_NONE, NULL, 0), 1, 4);
    pr_env_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_caps),
        cmocka_unit_test(test_read_full_status),
        cmocka_unit_test(test_spc2_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
