/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The RBD backend without a cluster: what librbd's errors become for the
 * initiator, and that a LUN that cannot reach its cluster fails to open
 * with a reason instead of hanging or crashing.  I/O against a real
 * cluster: tests/frontend/test_fe_rbd.c and tests/guest/test-rbd.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bdev/bdev_rbd.h"
#include "scsi/scsi_proto.h"

static void test_error_mapping(void **state)
{
    uint32_t sense = 0xdead;

    (void)state;
    /* An OSD that did not answer within timeout=: retryable, with its own sense. */
    assert_int_equal(bdev_rbd_map_error(-ETIMEDOUT, &sense), -EREMOTEIO);
    assert_int_equal(sense, BDEV_SENSE(SCSI_SK_ABORTED_COMMAND, 0x2e, 0x02));
    /* Fenced by the cluster: LOGICAL UNIT FAILURE. */
    assert_int_equal(bdev_rbd_map_error(-ESHUTDOWN, &sense), -EREMOTEIO);
    assert_int_equal(sense, BDEV_SENSE(SCSI_SK_HARDWARE_ERROR, 0x3e, 0x01));
    /* Quota or full cluster: out of space; another lock owner: write protected. */
    assert_int_equal(bdev_rbd_map_error(-EDQUOT, &sense), -ENOSPC);
    assert_int_equal(sense, 0);
    assert_int_equal(bdev_rbd_map_error(-EBUSY, &sense), -EROFS);
    assert_int_equal(sense, 0);
    /* What the SCSI layer already maps passes through. */
    assert_int_equal(bdev_rbd_map_error(-EIO, &sense), -EIO);
    assert_int_equal(bdev_rbd_map_error(-EROFS, &sense), -EROFS);
    assert_int_equal(bdev_rbd_map_error(-ENOSPC, &sense), -ENOSPC);
    assert_int_equal(bdev_rbd_map_error(-ENOMEM, &sense), -ENOMEM);
    assert_int_equal(sense, 0);
    /* Never success for a failure, whatever librbd returned. */
    assert_int_equal(bdev_rbd_map_error(0, &sense), -EIO);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    assert_int_equal(bdev_rbd_connect_timeout(0), 30);
    assert_int_equal(bdev_rbd_connect_timeout(5), 5);
    assert_int_equal(bdev_rbd_connect_timeout(3600), 3600);
}

static int open_rbd(struct bdev_config *cfg, char *err, size_t errlen)
{
    struct bdev *b = NULL;
    int rc = bdev_open(cfg, &b, err, errlen);

    assert_null(b);
    return rc;
}

static void test_open_errors(void **state)
{
    struct bdev_config cfg = { .type = BDEV_TYPE_RBD, .block_size = 512, .pool = "rbd" };
    char err[256];

    (void)state;
    /* Missing names are refused before librados is touched. */
    assert_int_equal(open_rbd(&cfg, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "rbd backend needs pool= and image=");
    cfg.image = "";
    assert_int_equal(open_rbd(&cfg, err, sizeof(err)), -EINVAL);

    /* A conf= that does not exist fails at once, naming it. */
    cfg.image = "vm1";
    cfg.conf = "/nonexistent/ceph.conf";
    assert_true(open_rbd(&cfg, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/ceph.conf"));
}

/* No monitor listening: the open ends within timeout= with an error, not a hang. */
static void test_open_no_cluster(void **state)
{
    static const char conf[] = "/tmp/vus-rbd-unit.conf";
    struct bdev_config cfg = { .type = BDEV_TYPE_RBD,
                               .block_size = 512,
                               .pool = "rbd",
                               .image = "vm1",
                               .conf = conf,
                               .timeout_s = 2 };
    struct timespec t0, t1;
    char err[256];
    FILE *f = fopen(conf, "w");

    (void)state;
    assert_non_null(f);
    /* Port 9 (discard) on loopback: nothing answers; no keyring, no auth needed to fail. */
    fprintf(f, "[global]\nmon host = v1:127.0.0.1:9\nauth client required = none\n"
               "log to stderr = false\nerr to stderr = false\nadmin socket =\n"
               "log file = /dev/null\n");
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(open_rbd(&cfg, err, sizeof(err)) < 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    remove(conf);
    assert_non_null(strstr(err, "connecting to the cluster"));
    assert_true(t1.tv_sec - t0.tv_sec < 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_no_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
