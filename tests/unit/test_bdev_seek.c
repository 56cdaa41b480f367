/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bdev_seek_lba_status: provisioning from the holes of a sparse file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bdev/bdev.h"

#define KiB 1024ull

static int sparse_file(void)
{
    char path[] = "/tmp/vus-seek-XXXXXX";
    static uint8_t data[64 * KiB];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    memset(data, 'd', sizeof(data));
    /* data [0, 64K), hole [64K, 1M), data [1M, 1M + 64K), hole to 2M. */
    assert_int_equal(pwrite(fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    assert_int_equal(pwrite(fd, data, sizeof(data), 1024 * KiB), (ssize_t)sizeof(data));
    assert_int_equal(ftruncate(fd, 2048 * KiB), 0);
    return fd;
}

static void test_sparse(void **state)
{
    int fd = sparse_file();
    uint64_t len;
    bool mapped;

    /* A file system without holes reports all data: nothing to check then. */
    if (lseek(fd, 0, SEEK_HOLE) == 2048 * (off_t)KiB) {
        close(fd);
        skip();
    }
    len = 2048 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 0, &len, &mapped), 0);
    assert_true(mapped);
    assert_int_equal(len, 64 * KiB);
    len = 2048 * KiB - 64 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 64 * KiB, &len, &mapped), 0);
    assert_false(mapped);
    assert_int_equal(len, 960 * KiB);
    /* Capped by what was asked. */
    len = 4 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 512 * KiB, &len, &mapped), 0);
    assert_false(mapped);
    assert_int_equal(len, 4 * KiB);
    len = 4 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 1024 * KiB, &len, &mapped), 0);
    assert_true(mapped);
    assert_int_equal(len, 4 * KiB);
    /* The tail hole, up to the end of the file (ENXIO from SEEK_DATA). */
    len = 960 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 1088 * KiB, &len, &mapped), 0);
    assert_false(mapped);
    assert_int_equal(len, 960 * KiB);
    /* A punched range reads as a hole. */
    assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 64 * KiB), 0);
    len = 2048 * KiB;
    assert_int_equal(bdev_seek_lba_status(fd, 0, &len, &mapped), 0);
    assert_false(mapped);
    assert_int_equal(len, 1024 * KiB);
    close(fd);
}

static void test_errors(void **state)
{
    uint64_t len = 4096;
    bool mapped;

    assert_int_equal(bdev_seek_lba_status(-1, 0, &len, &mapped), -EBADF);
    len = 0;
    assert_int_equal(bdev_seek_lba_status(0, 0, &len, &mapped), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
