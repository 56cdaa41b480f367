/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>

#include "scsi_fake.h"

static void test_fixed_format(void **state)
{
    struct scsi_task t;

    memset(&t, 0xaa, sizeof(t));
    scsi_task_set_sense(&t, SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x01);
    assert_int_equal(t.status, SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(t.sense_len, 18);
    assert_int_equal(t.sense[0], 0x70);
    assert_int_equal(t.sense[1], 0);
    assert_int_equal(t.sense[2], 0x05);
    assert_int_equal(t.sense[7], 10);
    assert_int_equal(t.sense[12], 0x24);
    assert_int_equal(t.sense[13], 0x01);
    for (int i = 3; i < 7; i++)
        assert_int_equal(t.sense[i], 0);
    for (int i = 14; i < 18; i++)
        assert_int_equal(t.sense[i], 0);
}

static void test_field_pointer(void **state)
{
    struct scsi_task t;

    memset(&t, 0, sizeof(t));
    scsi_task_set_sense(&t, SCSI_SK_ILLEGAL_REQUEST, 0x24, 0);
    assert_int_equal(t.sense[15], 0);
    scsi_sense_set_field(&t, true, 2, 5);
    assert_int_equal(t.sense[15], 0x80 | 0x40 | 0x08 | 5);
    assert_int_equal(t.sense[16], 0);
    assert_int_equal(t.sense[17], 2);
    scsi_sense_set_field(&t, false, 0x123, -1);
    assert_int_equal(t.sense[15], 0x80);
    assert_int_equal(t.sense[16], 0x01);
    assert_int_equal(t.sense[17], 0x23);
}

static void test_info_field(void **state)
{
    struct scsi_task t;

    memset(&t, 0, sizeof(t));
    scsi_task_set_sense(&t, SCSI_SK_MISCOMPARE, 0x1d, 0);
    scsi_sense_set_info(&t, 0x01020304);
    assert_int_equal(t.sense[0], 0xf0);
    assert_int_equal(t.sense[3], 1);
    assert_int_equal(t.sense[6], 4);
    /* Too large for 4 bytes: left invalid rather than truncated. */
    scsi_task_set_sense(&t, SCSI_SK_MISCOMPARE, 0x1d, 0);
    scsi_sense_set_info(&t, 1ull << 32);
    assert_int_equal(t.sense[0], 0x70);
}

struct errcase {
    int err;
    bool write;
    uint8_t status, key, asc, ascq;
};

static void test_errno_table(void **state)
{
    static const struct errcase cases[] = {
        { -EIO, false, 2, 0x3, 0x11, 0 },       { -EIO, true, 2, 0x3, 0x0c, 0 },
        { -ENOSPC, true, 2, 0x7, 0x27, 7 },     { -EROFS, true, 2, 0x7, 0x27, 0 },
        { -EPERM, true, 2, 0x7, 0x27, 0 },      { -EACCES, false, 2, 0x7, 0x27, 0 },
        { -EOPNOTSUPP, true, 2, 0x5, 0x24, 0 }, { -ENOMEM, true, 8, 0, 0, 0 },
        { -EAGAIN, false, 8, 0, 0, 0 },         { -EINVAL, false, 2, 0x4, 0x44, 0 },
        { -ENODEV, true, 2, 0x4, 0x44, 0 },     { EIO, false, 2, 0x3, 0x11, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct scsi_task t;

        memset(&t, 0, sizeof(t));
        t.sense_len = 99;
        scsi_task_set_errno(&t, cases[i].err, cases[i].write);
        assert_int_equal(t.status, cases[i].status);
        if (cases[i].status == SCSI_STATUS_BUSY) {
            assert_int_equal(t.sense_len, 0);
            continue;
        }
        assert_int_equal(t.sense_len, 18);
        assert_int_equal(t.sense[2], cases[i].key);
        assert_int_equal(t.sense[12], cases[i].asc);
        assert_int_equal(t.sense[13], cases[i].ascq);
    }
}

static void test_ua_order(void **state)
{
    struct scsi_lun lun;
    uint8_t asc = 0, ascq = 0;

    memset(&lun, 0, sizeof(lun));
    atomic_store(&lun.ua_pending,
                 SCSI_UA_REPORTED_LUNS | SCSI_UA_CAPACITY_CHANGED | SCSI_UA_POWER_ON_RESET);
    assert_true(scsi_ua_take(&lun, &asc, &ascq));
    assert_int_equal(asc, 0x29);
    assert_int_equal(ascq, 0);
    assert_true(scsi_ua_take(&lun, &asc, &ascq));
    assert_int_equal(asc, 0x2a);
    assert_int_equal(ascq, 0x09);
    assert_true(scsi_ua_take(&lun, &asc, &ascq));
    assert_int_equal(asc, 0x3f);
    assert_int_equal(ascq, 0x0e);
    assert_false(scsi_ua_take(&lun, &asc, &ascq));
    /* Unknown bits are dropped, not reported and not left to spin on. */
    atomic_store(&lun.ua_pending, 1u << 20);
    assert_false(scsi_ua_take(&lun, &asc, &ascq));
    assert_int_equal(atomic_load(&lun.ua_pending), 0);
}

static struct scsi_lun race_lun;
static _Atomic int race_taken;

static void *race_thread(void *arg)
{
    uint8_t asc, ascq;

    for (int i = 0; i < 20000; i++) {
        if (scsi_ua_take(&race_lun, &asc, &ascq))
            atomic_fetch_add(&race_taken, 1);
    }
    return NULL;
}

static void test_ua_reported_once_under_race(void **state)
{
    pthread_t th[2];

    for (int round = 0; round < 50; round++) {
        atomic_store(&race_taken, 0);
        atomic_store(&race_lun.ua_pending, SCSI_UA_POWER_ON_RESET | SCSI_UA_CAPACITY_CHANGED);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&th[i], NULL, race_thread, NULL), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(atomic_load(&race_taken), 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_format),  cmocka_unit_test(test_info_field),
        cmocka_unit_test(test_field_pointer), cmocka_unit_test(test_errno_table),
        cmocka_unit_test(test_ua_order),      cmocka_unit_test(test_ua_reported_once_under_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
