/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iSCSI backend's open path without a target: the url= parser, what a
 * finished libiscsi task means for the request (sense passed on, UNIT
 * ATTENTION retried, a lost session held), and a portal nobody listens on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "bdev/bdev_iscsi.h"

static void test_parse_url(void **state)
{
    struct bdev_iscsi_target t;
    char err[256];

    (void)state;
    assert_int_equal(bdev_iscsi_parse_url("iscsi://127.0.0.1:3261/iqn.2024-01.org.x:disk/1", &t,
                                          err, sizeof(err)),
                     0);
    assert_string_equal(t.portal, "127.0.0.1:3261");
    assert_string_equal(t.iqn, "iqn.2024-01.org.x:disk");
    assert_int_equal(t.lun, 1);
    assert_string_equal(t.user, "");

    /* CHAP from the URL, and the target name's %-escapes decoded. */
    assert_int_equal(
        bdev_iscsi_parse_url("iscsi://alice%secret@host/iqn.x%3Ay/7", &t, err, sizeof(err)), 0);
    assert_string_equal(t.user, "alice");
    assert_string_equal(t.password, "secret");
    assert_string_equal(t.portal, "host");
    assert_string_equal(t.iqn, "iqn.x:y");
    assert_int_equal(t.lun, 7);
}

static void test_parse_url_bad(void **state)
{
    static const char *const bad[] = {
        "", "http://host/iqn/1", "iscsi://host", "iscsi://host/iqn", "iscsi://host/iqn/x", NULL,
    };
    struct bdev_iscsi_target t;
    char err[256];

    (void)state;
    for (unsigned i = 0; bad[i]; i++) {
        err[0] = 0;
        assert_int_equal(bdev_iscsi_parse_url(bad[i], &t, err, sizeof(err)), -EINVAL);
        assert_true(err[0] != 0);
    }
    assert_int_equal(bdev_iscsi_parse_url(NULL, &t, err, sizeof(err)), -EINVAL);
}

static void test_verdict(void **state)
{
    uint32_t sense;
    int res;

    (void)state;
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_GOOD, 0, 0, 0, &res, &sense), ISCSI_V_DONE);
    assert_int_equal(res, 0);
    assert_int_equal(sense, 0);

    /* The target's own sense goes to the guest unchanged. */
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MEDIUM_ERROR,
                                        0x1100, 0, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(res, -EREMOTEIO);
    assert_int_equal(sense, BDEV_SENSE(0x03, 0x11, 0x00));
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST,
                                        0x2100, 0, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(sense, BDEV_SENSE(0x05, 0x21, 0x00));

    /* CHECK CONDITION without sense is still an error. */
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, 0, 0, 0, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(res, -EREMOTEIO);
    assert_int_equal(sense >> 16, 0x04);

    /* A new session's UNIT ATTENTION is retried, a bounded number of times. */
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION,
                                        0x2900, 0, &res, &sense),
                     ISCSI_V_RETRY);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION,
                                        0x2907, BDEV_ISCSI_UA_RETRIES - 1, &res, &sense),
                     ISCSI_V_RETRY);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION,
                                        0x2900, BDEV_ISCSI_UA_RETRIES, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(res, -EREMOTEIO);
    assert_int_equal(sense, BDEV_SENSE(0x06, 0x29, 0x00));

    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_BUSY, 0, 0, 0, &res, &sense), ISCSI_V_DONE);
    assert_int_equal(res, -EAGAIN);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_TASK_SET_FULL, 0, 0, 0, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(res, -EAGAIN);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0, &res, &sense),
                     ISCSI_V_DONE);
    assert_int_equal(res, -EIO);

    /* Whatever the session did to the command, it is held and reissued, not failed. */
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_CANCELLED, 0, 0, 0, &res, &sense),
                     ISCSI_V_LOST);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_ERROR, 0, 0, 0, &res, &sense), ISCSI_V_LOST);
    assert_int_equal(bdev_iscsi_verdict(SCSI_STATUS_TIMEOUT, 0, 0, 0, &res, &sense), ISCSI_V_LOST);
}

static void test_open_errors(void **state)
{
    struct bdev_config cfg = { .type = BDEV_TYPE_ISCSI, .nr_queues = 1 };
    struct bdev *b = (struct bdev *)1;
    char err[512] = "";

    (void)state;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_null(b);
    assert_string_equal(err, "iscsi backend needs url=");

    cfg.url = "iscsi://127.0.0.1/iqn/0";
    cfg.timeout_s = BDEV_ISCSI_MAX_TIMEOUT_S + 1;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);

    cfg.url = "iscsi://127.0.0.1/iqn";
    cfg.timeout_s = 0;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bad iSCSI url"));

    /* Port 1 on loopback: refused at once, and open says whom it tried. */
    cfg.url = "iscsi://127.0.0.1:1/iqn.2024-01.org.x:none/0";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "127.0.0.1:1"));
    assert_non_null(strstr(err, "iqn.2024-01.org.x:none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_parse_url_bad),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
