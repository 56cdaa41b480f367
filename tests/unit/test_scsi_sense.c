/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>

#include "scsi_fake.h"

static void test_fixed_format(void **state)
{
    struct scsi_task t;

    memset(&t, 0xaa, sizeof(t));
    t.lun = NULL; /* no LUN, no D_SENSE: fixed format */
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

/* With D_SENSE set on the LUN: descriptor format, descriptors appended as fields are set. */
static void test_descriptor_format(void **state)
{
    struct scsi_task t;
    struct scsi_lun lun;

    memset(&lun, 0, sizeof(lun));
    atomic_store(&lun.d_sense, true);
    memset(&t, 0xaa, sizeof(t));
    t.lun = &lun;
    scsi_task_set_sense(&t, SCSI_SK_ILLEGAL_REQUEST, 0x24, 0x01);
    assert_int_equal(t.status, SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(t.sense_len, 8);
    assert_int_equal(t.sense[0], 0x72);
    assert_int_equal(t.sense[1], 0x05);
    assert_int_equal(t.sense[2], 0x24);
    assert_int_equal(t.sense[3], 0x01);
    for (int i = 4; i < 8; i++)
        assert_int_equal(t.sense[i], 0); /* additional sense length 0: no descriptor */
    assert_int_equal(scsi_sense_key(t.sense, t.sense_len), 0x05);

    /* Sense key specific descriptor: type 02h, additional length 6, SKSV/C/D/BPV, pointer. */
    scsi_sense_set_field(&t, true, 0x102, 3);
    assert_int_equal(t.sense_len, 16);
    assert_int_equal(t.sense[7], 8);
    assert_int_equal(t.sense[8], 0x02);
    assert_int_equal(t.sense[9], 0x06);
    assert_int_equal(t.sense[10], 0);
    assert_int_equal(t.sense[11], 0);
    assert_int_equal(t.sense[12], 0x80 | 0x40 | 0x08 | 3);
    assert_int_equal(get_be16(&t.sense[13]), 0x102);
    assert_int_equal(t.sense[15], 0);

    /* Information descriptor: type 00h, length 10, VALID, 8 bytes: past 2^32 too. */
    scsi_task_set_sense(&t, SCSI_SK_MISCOMPARE, 0x1d, 0);
    scsi_sense_set_info(&t, 0x0102030405060708ull);
    assert_int_equal(t.sense_len, 20);
    assert_int_equal(t.sense[7], 12);
    assert_int_equal(t.sense[8], 0x00);
    assert_int_equal(t.sense[9], 0x0a);
    assert_int_equal(t.sense[10], 0x80);
    assert_int_equal(t.sense[11], 0);
    assert_true(get_be64(&t.sense[12]) == 0x0102030405060708ull);
    assert_int_equal(scsi_sense_key(t.sense, t.sense_len), SCSI_SK_MISCOMPARE);

    /* The errno mapping goes through the same helper. */
    scsi_task_set_errno(&t, -EIO, false);
    assert_int_equal(t.sense_len, 8);
    assert_int_equal(t.sense[0], 0x72);
    assert_int_equal(t.sense[1], 0x03);
    assert_int_equal(t.sense[2], 0x11);

    /* Descriptors never run past the sense buffer: 7 x 12 bytes fit after the header, not 8. */
    scsi_task_set_sense(&t, SCSI_SK_MISCOMPARE, 0x1d, 0);
    for (int i = 0; i < 10; i++)
        scsi_sense_set_info(&t, (uint64_t)i);
    assert_true(t.sense_len <= SCSI_SENSE_MAX);
    assert_int_equal(t.sense_len, 8 + 7 * 12);
    assert_int_equal(t.sense[7], t.sense_len - 8);

    /* D_SENSE off again: fixed format, key at byte 2. */
    atomic_store(&lun.d_sense, false);
    scsi_task_set_sense(&t, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_int_equal(t.sense_len, 18);
    assert_int_equal(t.sense[0], 0x70);
    assert_int_equal(scsi_sense_key(t.sense, t.sense_len), 0x05);
    assert_int_equal(scsi_sense_key(t.sense, 2), 0);
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
        cmocka_unit_test(test_fixed_format),
        cmocka_unit_test(test_info_field),
        cmocka_unit_test(test_field_pointer),
        cmocka_unit_test(test_errno_table),
        cmocka_unit_test(test_ua_order),
        cmocka_unit_test(test_ua_reported_once_under_race),
        cmocka_unit_test(test_descriptor_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
