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

#define MiB (1024u * 1024u)

static void test_open_properties(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, 64 * MiB, 4096, false);
    assert_string_equal(b->ops->name, "ram");
    assert_int_equal(b->size, 64 * MiB);
    assert_int_equal(b->block_size, 4096);
    assert_false(b->readonly);
    assert_true(b->can_discard);
    assert_true(b->discard_zeroes);
    assert_true(b->can_write_zeroes);
    assert_false(b->volatile_cache);
    assert_int_equal(b->phys_block_size,
                     (uint32_t)sysconf(_SC_PAGESIZE)); /* discards are in pages */
    assert_string_equal(b->desc, "ram 64M");
    bdev_close(b);

    b = open_sync(BDEV_TYPE_RAM, 3 * 512, 512, true);
    assert_true(b->readonly);
    assert_string_equal(b->desc, "ram 1536");
    bdev_close(b);
}

static void test_open_errors(void **state)
{
    struct bdev *b = (struct bdev *)0x1;
    char err[256];
    struct bdev_config cfg = { .type = BDEV_TYPE_RAM, .size = 0, .block_size = 512 };

    err[0] = 0;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_null(b);
    assert_non_null(strstr(err, "ram size 0"));

    cfg.size = 4096 + 512;
    cfg.block_size = 4096;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "multiple of the block size 4096"));

    cfg.size = 1 * MiB;
    cfg.block_size = 1024;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "block size 1024"));

    cfg.block_size = 512;
    cfg.type = (enum bdev_type)42;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

static void write_read_scattered(uint64_t disk)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, disk, 512, false);
    size_t len = 3 * 4096;
    uint8_t *src = malloc(len), *dst = calloc(1, len);
    fill_pattern(src, len, 3);

    /* Element boundaries that fall in the middle of blocks. */
    struct iovec wiov[3] = { { src, 1 }, { src + 1, 5000 }, { src + 5001, len - 5001 } };
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 8192, len, wiov, 3), 0);

    struct iovec riov[2] = { { dst, 777 }, { dst + 777, len - 777 } };
    assert_int_equal(sync_io(b, BDEV_IO_READ, 8192, len, riov, 2), 0);
    assert_memory_equal(src, dst, len);

    /* The blocks around it were never written. */
    uint8_t blk[512], zero[512] = { 0 };
    struct iovec one = { blk, sizeof(blk) };
    assert_int_equal(sync_io(b, BDEV_IO_READ, 8192 - 512, 512, &one, 1), 0);
    assert_memory_equal(blk, zero, 512);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 8192 + len, 512, &one, 1), 0);
    assert_memory_equal(blk, zero, 512);

    /* Last block of the disk is reachable. */
    memset(blk, 0xab, sizeof(blk));
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, disk - 512, 512, &one, 1), 0);
    memset(blk, 0, sizeof(blk));
    assert_int_equal(sync_io(b, BDEV_IO_READ, disk - 512, 512, &one, 1), 0);
    assert_int_equal(blk[0], 0xab);
    assert_int_equal(blk[511], 0xab);

    assert_int_equal(sync_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
    free(src);
    free(dst);
    bdev_close(b);
}

/* A small disk keeps plain stores; from 64 MiB on writes go around the cache (copy_nt). */
static void test_write_read_scattered(void **state)
{
    write_read_scattered(1 * MiB);
    write_read_scattered(64 * MiB);
}

static void zeroing_case(enum bdev_io_type type)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, 1 * MiB, 512, false);
    size_t len = 64 * 1024;
    uint8_t *buf = malloc(len), *chk = malloc(len);
    memset(buf, 0x5a, len);
    struct iovec iov = { buf, len };
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 0, len, &iov, 1), 0);

    /* Starts and ends mid-page: both partial-page ends and whole pages in between. */
    uint64_t zoff = 512 * 3, zlen = 4096 * 5 + 512 * 2;
    assert_int_equal(sync_io(b, type, zoff, zlen, NULL, 0), 0);

    struct iovec ciov = { chk, len };
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, len, &ciov, 1), 0);
    for (size_t i = 0; i < len; i++) {
        uint8_t want = (i >= zoff && i < zoff + zlen) ? 0 : 0x5a;
        if (chk[i] != want)
            fail_msg("byte %zu is %#x, want %#x", i, chk[i], want);
    }
    /* Writing after a discard works normally again. */
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 0, len, &iov, 1), 0);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, len, &ciov, 1), 0);
    assert_memory_equal(buf, chk, len);
    free(buf);
    free(chk);
    bdev_close(b);
}

static void test_discard_zeroes(void **state)
{
    zeroing_case(BDEV_IO_DISCARD);
}

static void test_write_zeroes(void **state)
{
    zeroing_case(BDEV_IO_WRITE_ZEROES);
}

static void test_readonly(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, 1 * MiB, 512, true);
    uint8_t blk[512];
    struct iovec iov = { blk, sizeof(blk) };

    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 0, 512, &iov, 1), -EROFS);
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 0, 512, NULL, 0), -EROFS);
    assert_int_equal(sync_io(b, BDEV_IO_WRITE_ZEROES, 0, 512, NULL, 0), -EROFS);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 512, &iov, 1), 0);
    assert_int_equal(sync_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
    bdev_close(b);
}

static void test_bad_requests(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, 1 * MiB, 4096, false);
    static uint8_t buf[8192];
    struct iovec iov = { buf, sizeof(buf) };
    struct iovec small = { buf, 4095 };

    /* Past the end, straddling the end, wrapping around 2^64. */
    assert_int_equal(sync_io(b, BDEV_IO_READ, 1 * MiB, 4096, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 1 * MiB - 4096, 8192, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, UINT64_MAX - 4095, 8192, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 4096, UINT64_MAX - 4095, NULL, 0), -EINVAL);
    /* Misaligned. */
    assert_int_equal(sync_io(b, BDEV_IO_READ, 512, 4096, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 512, &iov, 1), -EINVAL);
    /* iovec shorter or longer than len, too many elements, missing. */
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 4096, &small, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 4096, &iov, 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 4096, &iov, BDEV_MAX_IOV + 1), -EINVAL);
    assert_int_equal(sync_io(b, BDEV_IO_READ, 0, 4096, NULL, 1), -EINVAL);
    /* Unknown type. */
    assert_int_equal(sync_io(b, (enum bdev_io_type)99, 0, 4096, &iov, 1), -EINVAL);
    bdev_close(b);
}

/* One extent: state and length in blocks of 512 from blk, looking at most max blocks. */
static void assert_extent(struct bdev *b, uint64_t blk, uint64_t max, bool mapped, uint64_t n)
{
    uint64_t len = max * 512;
    bool m = !mapped;

    bdev_lba_status(b, blk * 512, &len, &m);
    assert_int_equal(m, mapped);
    assert_int_equal(len, n * 512);
}

static void test_lba_status(void **state)
{
    struct bdev *b = open_sync(BDEV_TYPE_RAM, 1 * MiB, 512, false); /* 2048 blocks */
    static uint8_t buf[512 * 200];
    struct iovec iov = { buf, sizeof(buf) };

    /* Fresh: nothing written, all deallocated (whole words skipped). */
    assert_extent(b, 0, 2048, false, 2048);
    assert_extent(b, 5, 100, false, 100);
    /* Writes map, across word boundaries. */
    assert_int_equal(sync_io(b, BDEV_IO_WRITE, 60 * 512, sizeof(buf), &iov, 1), 0);
    assert_extent(b, 0, 2048, false, 60);
    assert_extent(b, 60, 2048 - 60, true, 200);
    assert_extent(b, 100, 10, true, 10);
    assert_extent(b, 260, 2048 - 260, false, 2048 - 260);
    /* Discard deallocates; written zeroes are mapped (WRITE SAME without UNMAP). */
    assert_int_equal(sync_io(b, BDEV_IO_DISCARD, 100 * 512, 3 * 512, NULL, 0), 0);
    assert_extent(b, 60, 2048, true, 40);
    assert_extent(b, 100, 2048, false, 3);
    assert_extent(b, 103, 2048, true, 157);
    assert_int_equal(sync_io(b, BDEV_IO_WRITE_ZEROES, 1000 * 512, 1048 * 512, NULL, 0), 0);
    assert_extent(b, 1000, 1048, true, 1048);
    /* Shrunk and grown back: the blocks past the old end come back deallocated. */
    assert_int_equal(b->ops->resize(b, 512 * 1024), 0);
    b->size = 512 * 1024;
    assert_int_equal(b->ops->resize(b, 1 * MiB), 0);
    b->size = 1 * MiB;
    assert_extent(b, 1000, 1048, true, 24);
    assert_extent(b, 1024, 1024, false, 1024);
    bdev_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_properties),      cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_write_read_scattered), cmocka_unit_test(test_discard_zeroes),
        cmocka_unit_test(test_write_zeroes),         cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_bad_requests),         cmocka_unit_test(test_lba_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
