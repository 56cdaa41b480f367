/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PERSISTENT RESERVE OUT through scsi_task_execute, from two I_T nexuses on
 * one bdev: every service action, every type against the conflict table,
 * the generation, the unit attentions, and bad CDBs and parameter lists.
 */
#include "scsi_pr_fake.h"

static void test_register_and_keys(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    assert_int_equal(pr_keys(p, p->a, buf), 0);
    assert_int_equal(get_be32(buf), 0);
    /* Not registered, RESERVATION KEY given: conflict, and SA key 0 registers nothing. */
    assert_conflict(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 5, 0x11, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0, 0));
    assert_int_equal(get_be32(buf), 0);
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0x11, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER_IGNORE, 0, 0x99, 0x22, 0));
    assert_int_equal(pr_keys(p, p->b, buf), 2);
    assert_int_equal(get_be32(buf), 2);
    assert_true(pr_has_key(buf, 0x11) && pr_has_key(buf, 0x22));
    /* Re-registering with the wrong key conflicts; with the right one changes it. */
    assert_conflict(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0x12, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0x11, 0x12, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER_IGNORE, 0, 0, 0x13, 0));
    assert_int_equal(pr_keys(p, p->a, buf), 2);
    assert_int_equal(get_be32(buf), 4);
    assert_true(pr_has_key(buf, 0x13));
    /* Truncated: ADDITIONAL LENGTH still says 16, no key returned. */
    assert_good(pr_in(p, p->a, SCSI_PR_READ_KEYS, 8, buf));
    assert_int_equal(p->e->task->data_len, 8);
    assert_int_equal(get_be32(&buf[4]), 16);
    /* Unregister. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0x13, 0, 0));
    assert_int_equal(pr_keys(p, p->a, buf), 1);
    assert_int_equal(get_be32(buf), 5);
    pr_env_free(p);
}

/* Registered, reserved by a as type, is b (registered or not) kept from reading or writing? */
static void check_access(uint8_t type, bool b_registered)
{
    struct pr_env *p = pr_env_new(NULL);
    bool ro_ar = type != SCSI_PR_WE && type != SCSI_PR_EA;
    bool we = type == SCSI_PR_WE || type == SCSI_PR_WE_RO || type == SCSI_PR_WE_AR;
    bool b_free = ro_ar && b_registered;
    uint8_t buf[256];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    if (b_registered)
        assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, type, 0xa, 0, 0));
    /* The generation does not move for RESERVE. */
    pr_keys(p, p->a, buf);
    assert_int_equal(get_be32(buf), b_registered ? 2 : 1);
    assert_good(pr_in(p, p->b, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be32(&buf[4]), 16);
    assert_int_equal(buf[21], type);
    assert_int_equal(get_be64(&buf[8]), scsi_pr_type_all_reg(type) ? 0 : 0xa);
    /* The holder does anything. */
    assert_good(pr_write(p, p->a));
    assert_good(pr_read(p, p->a));
    if (b_free) {
        assert_good(pr_write(p, p->b));
        assert_good(pr_read(p, p->b));
    } else {
        assert_conflict(pr_write(p, p->b));
        if (we)
            assert_good(pr_read(p, p->b));
        else
            assert_conflict(pr_read(p, p->b));
    }
    /* Allowed through every reservation. */
    assert_good(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY));
    assert_good(pr_simple(p, p->b, SCSI_OP_INQUIRY));
    /* RESERVE from the holder again: same type fine, another type conflicts. */
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, type, 0xa, 0, 0));
    assert_conflict(
        pr_out(p, p->a, SCSI_PR_RESERVE, type == SCSI_PR_WE ? SCSI_PR_EA : SCSI_PR_WE, 0xa, 0, 0));
    if (b_registered && !scsi_pr_type_all_reg(type))
        assert_conflict(pr_out(p, p->b, SCSI_PR_RESERVE, type, 0xb, 0, 0));
    /* RELEASE with another type: INVALID RELEASE OF PERSISTENT RESERVATION. */
    assert_sense(
        pr_out(p, p->a, SCSI_PR_RELEASE, type == SCSI_PR_WE ? SCSI_PR_EA : SCSI_PR_WE, 0xa, 0, 0),
        SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x04);
    assert_good(pr_out(p, p->a, SCSI_PR_RELEASE, type, 0xa, 0, 0));
    /* Registrants of a registrants-only/all-registrants reservation hear of its release. */
    if (ro_ar && b_registered)
        assert_ua(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x04);
    assert_good(pr_write(p, p->b));
    assert_good(pr_in(p, p->b, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be32(&buf[4]), 0);
    assert_int_equal(p->e->task->data_len, 8);
    pr_env_free(p);
}

static void test_types_and_conflicts(void **state)
{
    static const uint8_t types[] = { SCSI_PR_WE,    SCSI_PR_EA,    SCSI_PR_WE_RO,
                                     SCSI_PR_EA_RO, SCSI_PR_WE_AR, SCSI_PR_EA_AR };

    for (size_t i = 0; i < sizeof(types); i++) {
        check_access(types[i], false);
        check_access(types[i], true);
    }
}

static void test_unregister_holder(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    /* All registrants: the reservation lasts while anyone is registered. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_EA_AR, 0xa, 0, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0, 0));
    assert_conflict(pr_read(p, p->a));
    assert_good(pr_read(p, p->b));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0xb, 0, 0));
    assert_good(pr_read(p, p->a));
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be32(&buf[4]), 0);
    /* Registrants only: the holder leaving releases it, the others are told. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_WE_RO, 0xa, 0, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0, 0));
    assert_ua(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x04);
    assert_good(pr_write(p, p->a));
    pr_env_free(p);
}

static void test_clear(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_EA, 0xa, 0, 0));
    assert_conflict(pr_out(p, p->b, SCSI_PR_CLEAR, 0, 0xc, 0, 0));
    assert_conflict(pr_read(p, p->b));
    assert_good(pr_out(p, p->b, SCSI_PR_CLEAR, 0, 0xb, 0, 0));
    assert_ua(pr_simple(p, p->a, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x03);
    assert_int_equal(pr_keys(p, p->a, buf), 0);
    assert_int_equal(get_be32(buf), 3);
    assert_good(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY));
    assert_good(pr_read(p, p->b));
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be32(&buf[4]), 0);
    /* Nobody registered: CLEAR from anyone conflicts. */
    assert_conflict(pr_out(p, p->a, SCSI_PR_CLEAR, 0, 0, 0, 0));
    pr_env_free(p);
}

static void test_preempt(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    /* No reservation: registrations only; key 0 names none, an unknown key conflicts. */
    assert_param(pr_out(p, p->b, SCSI_PR_PREEMPT, SCSI_PR_WE, 0xb, 0, 0), 8, -1);
    assert_conflict(pr_out(p, p->b, SCSI_PR_PREEMPT, SCSI_PR_WE, 0xb, 0x77, 0));
    /* a holds WE; b takes it as EA, a's registration goes. */
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_WE, 0xa, 0, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_PREEMPT_ABORT, SCSI_PR_EA, 0xb, 0xa, 0));
    assert_ua(pr_simple(p, p->a, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x05);
    assert_conflict(pr_read(p, p->a));
    assert_int_equal(pr_keys(p, p->a, buf), 1);
    assert_int_equal(get_be32(buf), 3);
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be64(&buf[8]), 0xb);
    assert_int_equal(buf[21], SCSI_PR_EA);
    /* a, no longer registered, cannot preempt back. */
    assert_conflict(pr_out(p, p->a, SCSI_PR_PREEMPT, SCSI_PR_EA, 0xa, 0xb, 0));
    /* All registrants, SA key 0: everyone else is removed, the preemptor holds it. */
    assert_good(pr_out(p, p->b, SCSI_PR_RELEASE, SCSI_PR_EA, 0xb, 0, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_RESERVE, SCSI_PR_WE_AR, 0xb, 0, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_PREEMPT, SCSI_PR_WE, 0xa, 0, 0));
    assert_ua(pr_simple(p, p->b, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x05);
    assert_int_equal(pr_keys(p, p->a, buf), 1);
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be64(&buf[8]), 0xa);
    assert_int_equal(buf[21], SCSI_PR_WE);
    assert_conflict(pr_write(p, p->b));
    assert_good(pr_read(p, p->b));
    pr_env_free(p);
}

/* What the transport was asked to abort (scsi_target_set.abort_task_set). */
struct abort_log {
    unsigned calls, target, lun;
};

static void log_abort(void *transport, unsigned target, unsigned lun)
{
    struct abort_log *l = transport;

    l->calls++;
    l->target = target;
    l->lun = lun;
}

/*
 * PREEMPT AND ABORT has the preempted nexus's transport abort its tasks on
 * the LUN; PREEMPT does not, and neither touches the preemptor's.
 */
static void test_preempt_and_abort_aborts(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    struct abort_log la = { 0 }, lb = { 0 };

    p->e->set.abort_task_set = log_abort;
    p->e->set.transport = &la;
    p->set_b->abort_task_set = log_abort;
    p->set_b->transport = &lb;
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_WE, 0xa, 0, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_PREEMPT, SCSI_PR_WE, 0xb, 0xa, 0));
    assert_int_equal(la.calls + lb.calls, 0);
    assert_ua(pr_simple(p, p->a, SCSI_OP_TEST_UNIT_READY), 0x2a, 0x05);
    /* a registers again; b preempts it and aborts: a's tasks on 0:0 go, b's stay. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_good(pr_out(p, p->b, SCSI_PR_PREEMPT_ABORT, SCSI_PR_EA, 0xb, 0xa, 0));
    assert_int_equal(la.calls, 1);
    assert_int_equal(la.target, 0);
    assert_int_equal(la.lun, 0);
    assert_int_equal(lb.calls, 0);
    /* A key nobody has: conflict, nothing aborted. */
    assert_conflict(pr_out(p, p->b, SCSI_PR_PREEMPT_ABORT, SCSI_PR_EA, 0xb, 0x77, 0));
    assert_int_equal(la.calls, 1);
    pr_env_free(p);
}

static void test_register_and_move(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    /* Not the holder. */
    assert_conflict(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_B, 0, 24));
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_EA, 0xa, 0, 0));
    /* Bad lists: short, a TransportID of another protocol, to itself, a zero key. */
    assert_sense(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_B, 0, 16), SCSI_SK_ILLEGAL_REQUEST,
                 0x1a, 0);
    assert_param(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_B, 0x100, 24), 24, -1);
    assert_param(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_A, 0, 24), 24, -1);
    assert_param(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0, PORT_B, 0, 24), 8, -1);
    assert_param(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_B, 0x80, 24), 17, 7);
    /* Move to b, a stays registered. */
    assert_good(pr_move(p, p->a, SCSI_PR_EA, 0xa, 0xb, PORT_B, 0, 24));
    assert_conflict(pr_read(p, p->a));
    assert_good(pr_read(p, p->b));
    assert_int_equal(pr_keys(p, p->a, buf), 2);
    /* And back, b unregistering itself (UNREG). */
    assert_good(pr_move(p, p->b, SCSI_PR_EA, 0xb, 0xc, PORT_A, 0x02, 24));
    assert_int_equal(pr_keys(p, p->a, buf), 1);
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(get_be64(&buf[8]), 0xa); /* a's registration was kept as it was */
    pr_env_free(p);
}

static void test_bad_cdbs_and_lists(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    uint8_t buf[256];

    /* PR IN: service actions 4..1Fh are a bad field, not a bad opcode. */
    for (uint8_t sa = 4; sa < 0x20; sa++)
        assert_cdb_field(pr_in(p, p->a, sa, 64, buf), 1, 4);
    assert_cdb_field(pr_out(p, p->a, SCSI_PR_REPLACE_LOST, SCSI_PR_WE, 0, 0, 0), 1, 4);
    assert_cdb_field(pr_out(p, p->a, 0x1f, SCSI_PR_WE, 0, 0, 0), 1, 4);
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    /* Unknown type, a scope other than LU_SCOPE. */
    assert_cdb_field(pr_out(p, p->a, SCSI_PR_RESERVE, 0x2, 0xa, 0, 0), 2, 3);
    assert_cdb_field(pr_out(p, p->a, SCSI_PR_RESERVE, 0x0, 0xa, 0, 0), 2, 3);
    assert_cdb_field(pr_out(p, p->a, SCSI_PR_RESERVE, 0x21, 0xa, 0, 0), 2, 7);
    /* REGISTER ignores the type. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0x2, 0xa, 0xa, 0));
    /* PARAMETER LIST LENGTH must be 24. */
    assert_sense(pr_out_len(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0, 23), SCSI_SK_ILLEGAL_REQUEST,
                 0x1a, 0);
    assert_sense(pr_out_len(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0, 0), SCSI_SK_ILLEGAL_REQUEST,
                 0x1a, 0);
    assert_sense(pr_out_len(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0, 28), SCSI_SK_ILLEGAL_REQUEST,
                 0x1a, 0);
    /* Reserved bits of byte 20, byte 21; SPEC_I_PT; APTPL without a state directory. */
    assert_param(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0x80), 20, 7);
    assert_param(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0x02), 20, 1);
    assert_param(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0x100), 21, 0);
    assert_param(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0x08), 20, 3);
    assert_param(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_WE, 0xa, 0, 0x08), 20, 3);
    assert_param(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xb, 0x01), 20, 0);
    /* ... which the other service actions ignore. */
    assert_good(pr_out(p, p->a, SCSI_PR_RESERVE, SCSI_PR_WE, 0xa, 0, 0x01));
    /* Key mismatch. */
    assert_conflict(pr_out(p, p->a, SCSI_PR_RELEASE, SCSI_PR_WE, 0xb, 0, 0));
    assert_good(pr_out(p, p->a, SCSI_PR_RELEASE, SCSI_PR_WE, 0xa, 0, 0));
    /* Reserved CDB bytes (STRICT). */
    uint8_t cdb[10] = { 0x5e, 0, 0x01, 0, 0, 0, 0, 0, 64, 0 };

    assert_cdb_field(run_on(p->e, p->a, cdb, 10, SCSI_DIR_FROM_DEV, buf, 64), 2, 0);
    /* Nothing above changed the registrations but the one REGISTER. */
    assert_int_equal(pr_keys(p, p->a, buf), 1);
    pr_env_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_keys), cmocka_unit_test(test_types_and_conflicts),
        cmocka_unit_test(test_unregister_holder), cmocka_unit_test(test_clear),
        cmocka_unit_test(test_preempt),           cmocka_unit_test(test_preempt_and_abort_aborts),
        cmocka_unit_test(test_register_and_move), cmocka_unit_test(test_bad_cdbs_and_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
