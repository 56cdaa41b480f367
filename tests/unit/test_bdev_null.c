/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bdev/bdev.h"
#include "bdev_test_util.h"

#define MiB (1024ull * 1024ull)

static void test_open_properties(void **state)
{
    /* 1 TiB: nothing is allocated per byte, so any size the command line accepts works. */
    struct bdev *b = open_sync(BDEV_TYPE_NULL, 1024 * 1024 * MiB, 4096, false);
    assert_string_equal(b->ops->name, "null");
    assert_int_equal(b->size, 1024 * 1024 * MiB);
    assert_int_equal(b->block_size, 4096);
    assert_false(b->readonly);
    assert_true(b->can_discard);
    /* Reads do not produce zeroes, so neither may be advertised. */
    assert_false(b->discard_zeroes);
    assert_false(b->can_write_zeroes);
    assert_false(b->volatile_cache);
    assert_string_equal(b->desc, "null 1T");
    bdev_close(b);

    b = open_sync(BDEV_TYPE_NULL, 3 * 512, 512, true);
    assert_true(b->readonly);
    assert_int_equal(b->size, 1536);
    assert_string_equal(b->desc, "null 1536");
    bdev_close(b);

    /* Whole units are named by the largest one that divides the size. */
    b = open_sync(BDEV_TYPE_NULL, 3 * MiB / 2, 512, false);
    assert_string_equal(b->desc, "null 1536K");
    bdev_close(b);
    b = open_sync(BDEV_TYPE_NULL, 4096ull * 1024 * MiB * 1024, 4096, false);
    assert_string_equal(b->desc, "null 4096T");
    bdev_close(b);
}

static void test_open_errors(void **state)
{
    struct bdev *b = (struct bdev *)0x1;
    char err[256] = "";
    struct bdev_config cfg = { .type = BDEV_TYPE_NULL, .size = 0, .block_size = 512 };

    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_null(b);
    assert_non_null(strstr(err, "null size 0"));

    cfg.size = 4096 + 512;
    cfg.block_size = 4096;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "multiple of the block size 4096"));

    cfg.size = MiB;
    cfg.block_size = 1024;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "block size 1024"));
}

/* Reads complete successfully and leave the guest's buffer exactly as it was. */
static void test_read_leaves_buffer(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_NULL, MiB, 512, false);
    uint8_t buf[4096];
    struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, 3096 } };

    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 4096, iov, 2), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0xa5);

    /* A write of other data does not show up in a later read either. */
    uint8_t src[512];
    struct iovec wiov = { src, sizeof(src) };
    memset(src, 0x11, sizeof(src));
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 512, 512, &wiov, 1), 0);
    struct iovec riov = { buf, 512 };
    assert_int_equal(sync_io(b, BDEV_IO_READ, 512, 512, &riov, 1), 0);
    assert_int_equal(buf[0], 0xa5);
    assert_int_equal(buf[511], 0xa5);
    /* The source of a write is not touched either. */
    assert_int_equal(src[0], 0x11);
    bdev_close(b);
}

static void test_every_type_completes(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_NULL, MiB, 512, false);
    uint8_t buf[512];
    struct iovec iov = { buf, sizeof(buf) };

    assert_int_equal(sync_io(b, BDEV_IO_WRITE, MiB - 512, 512, &iov, 1), 0);
    assert_int_equal(sync_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 0, MiB, NULL, 0), 0);
    /* Not advertised, so refused like on any backend without it. */
    assert_int_equal(sync_io(b, BDEV_IO_WRITE_ZEROES, 0, 512, NULL, 0), -EOPNOTSUPP);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 0, NULL, 0), 0);
    bdev_close(b);
}

/* The common checks still apply: a null LUN must not hide SCSI-layer range bugs. */
static void test_checks(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_NULL, MiB, 512, false);
    uint8_t buf[1024];
    struct iovec iov = { buf, 512 };
    struct iovec big = { buf, 1024 };

    assert_int_equal(sync_io(b, BDEV_IO_READ, MiB, 512, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, MiB - 512, 1024, &big, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, UINT64_MAX - 511, 512, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 100, 512, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 0, 512, &big, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 0, 2 * MiB, NULL, 0), -EINVAL);
    assert_int_equal(sync_io(b, (enum bdev_io_type)99, 0, 512, &iov, 1), -EINVAL);
    bdev_close(b);

    b = open_sync(BDEV_TYPE_NULL, MiB, 512, true);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 512, &iov, 1), 0);
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 0, 512, &iov, 1), -EROFS);
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 0, 512, NULL, 0), -EROFS);
    assert_int_equal(sync_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
    bdev_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_properties),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_read_leaves_buffer),
        cmocka_unit_test(test_every_type_completes),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
