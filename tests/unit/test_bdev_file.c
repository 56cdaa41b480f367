/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/fs.h>
#include <linux/loop.h>

#include "bdev/bdev_file.h"
#include "bdev_file_test_util.h"

static void test_open_errors(void **state)
{
    struct bdev_config cfg = { .type = BDEV_TYPE_FILE, .block_size = 512 };
    struct bdev *b = (struct bdev *)0x1;
    char err[256] = "", path[64];

    cfg.path = "/nonexistent-dir/disk.img";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -ENOENT);
    assert_null(b);
    assert_string_equal(err, "cannot open /nonexistent-dir/disk.img: No such file or directory");

    cfg.path = "/tmp";
    cfg.readonly = true;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "cannot use /tmp: not a regular file or block device");

    cfg.readonly = false;
    make_file(path, sizeof(path), "/tmp", 0, 0);
    cfg.path = path;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "smaller than one 512-byte block"));
    assert_non_null(strstr(err, path));
    unlink(path);

    make_file(path, sizeof(path), "/tmp", 4095, 1);
    cfg.block_size = 4096;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "smaller than one 4096-byte block"));
    unlink(path);

    cfg.path = "";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
}

static void test_size_and_properties(void **state)
{
    char path[64];
    struct stat st;

    make_file(path, sizeof(path), "/tmp", 10000, 0);
    struct bdev *b = open_file(path, 4096, false, false);
    assert_int_equal(stat(path, &st), 0);
    assert_string_equal(b->ops->name, "file");
    assert_int_equal(b->size, 8192); /* rounded down to whole blocks */
    assert_int_equal(b->block_size, 4096);
    assert_true(b->volatile_cache);
    assert_true(b->discard_zeroes);
    assert_true(b->can_discard); /* /tmp is ext4, tmpfs, xfs or btrfs in CI */
    assert_true(b->can_write_zeroes);
    assert_int_equal(b->optimal_io_blocks, st.st_blksize / 4096);
    /* A filesystem block, at most a page: what a smaller write reads around. */
    assert_int_equal(b->phys_block_size,
                     st.st_blksize < sysconf(_SC_PAGESIZE) ? st.st_blksize : sysconf(_SC_PAGESIZE));
    assert_non_null(strstr(b->desc, path));
    bdev_close(b);

    b = open_file(path, 512, false, false);
    assert_int_equal(b->size, 9728);
    assert_int_equal(b->optimal_io_blocks, st.st_blksize / 512);
    /* Resized under us: the current size is read again, in whole blocks; b->size stays. */
    uint64_t now = 0;
    assert_int_equal(truncate(path, 20000), 0);
    assert_int_equal(b->ops->current_size(b, &now), 0);
    assert_int_equal(now, 19968);
    assert_int_equal(b->size, 9728);
    bdev_close(b);
    unlink(path);
}

static void test_write_read(void **state)
{
    char path[64];
    make_file(path, sizeof(path), "/tmp", 1 * MiB, 0);
    struct bdev *b = open_file(path, 512, false, false);
    size_t len = 40 * KiB;
    uint8_t *src = malloc(len), *dst = calloc(1, len), *chk = malloc(len);
    fill_pattern(src, len, 1);

    struct iovec wiov[3] = { { src, 100 }, { src + 100, 20000 }, { src + 20100, len - 20100 } };
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 512 * 7, len, wiov, 3, false), 0);
    read_back(path, 512 * 7, chk, len);
    assert_memory_equal(src, chk, len);

    struct iovec riov[2] = { { dst, 3333 }, { dst + 3333, len - 3333 } };
    assert_int_equal(do_io(b, BDEV_IO_READ, 512 * 7, len, riov, 2, false), 0);
    assert_memory_equal(src, dst, len);
    /* The caller's vector is left as it was given. */
    assert_ptr_equal(riov[1].iov_base, dst + 3333);
    assert_int_equal(riov[1].iov_len, len - 3333);

    /* FUA write, then a flush. */
    fill_pattern(src, len, 9);
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 0, len, wiov, 3, true), 0);
    read_back(path, 0, chk, len);
    assert_memory_equal(src, chk, len);
    assert_int_equal(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0, false), 0);

    /* Out of range and misaligned requests are refused before any I/O. */
    assert_int_equal(do_io(b, BDEV_IO_READ, 1 * MiB, 512, riov, 1, false), -EINVAL);
    struct iovec one = { dst, 512 };
    assert_int_equal(do_io(b, BDEV_IO_READ, 100, 512, &one, 1, false), -EINVAL);
    struct iovec big = { dst, 1024 };
    assert_int_equal(do_io(b, BDEV_IO_READ, 0, 512, &big, 1, false), -EINVAL);
    /* No loop: the file backend cannot do anything. */
    struct req r = {
        .io = { .type = BDEV_IO_READ, .len = 512, .iov = &one, .iovcnt = 1, .cb = req_cb }
    };
    assert_int_equal(bdev_submit(b, NULL, &r.io), -EINVAL);
    assert_int_equal(r.calls, 0);

    free(src);
    free(dst);
    free(chk);
    bdev_close(b);
    unlink(path);
}

/* More requests in flight than the ring has entries. */
static void test_many_in_flight(void **state)
{
    enum { N = 40, BS = 4096 };
    char path[64];
    make_file(path, sizeof(path), "/tmp", N * BS, 0);
    struct bdev *b = open_file(path, BS, false, false);
    static uint8_t bufs[N][BS];
    static struct iovec iov[N];
    static struct req reqs[N];

    for (int i = 0; i < N; i++) {
        memset(bufs[i], 'A' + i % 26, BS);
        iov[i] = (struct iovec){ bufs[i], BS };
        reqs[i] = (struct req){ .io = { .type = BDEV_IO_WRITE,
                                        .offset = (uint64_t)i * BS,
                                        .len = BS,
                                        .iov = &iov[i],
                                        .iovcnt = 1,
                                        .cb = req_cb } };
        assert_int_equal(bdev_submit(b, &loop, &reqs[i].io), 0);
    }
    while (loop.pending)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(reqs[i].calls, 1);
        assert_int_equal(reqs[i].result, 0);
        uint8_t chk[BS];
        read_back(path, (uint64_t)i * BS, chk, BS);
        assert_memory_equal(chk, bufs[i], BS);
    }
    bdev_close(b);
    unlink(path);
}

static void discard_case(const char *dir)
{
    char path[64];
    make_file(path, sizeof(path), dir, 2 * MiB, 0x77);
    struct bdev *b = open_file(path, 4096, false, false);
    assert_true(b->can_discard);
    blkcnt_t before = blocks_of(path);

    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 256 * KiB, 1 * MiB, NULL, 0, false), 0);
    blkcnt_t after = blocks_of(path);
    /* 1 MiB is 2048 512-byte units; allow for filesystem metadata. */
    if (after > before - 1800)
        fail_msg("%s: st_blocks %lld -> %lld, hole not punched", dir, (long long)before,
                 (long long)after);
    assert_int_equal(b->size, 2 * MiB);
    check_zeroed(b, 2 * MiB, 256 * KiB, 1 * MiB, 0x77);
    bdev_close(b);
    unlink(path);
}

static void test_discard_tmp(void **state)
{
    discard_case("/tmp");
}

static void test_discard_shm(void **state)
{
    discard_case("/dev/shm");
}

static void write_zeroes_case(const char *dir)
{
    char path[64];
    make_file(path, sizeof(path), dir, 1 * MiB, 0x31);
    struct bdev *b = open_file(path, 512, false, false);
    assert_true(b->can_write_zeroes);

    assert_int_equal(do_io(b, BDEV_IO_WRITE_ZEROES, 512 * 3, 64 * KiB + 512, NULL, 0, false), 0);
    check_zeroed(b, 1 * MiB, 512 * 3, 64 * KiB + 512, 0x31);
    /* Again: on tmpfs this now goes straight to the punch fallback. */
    assert_int_equal(do_io(b, BDEV_IO_WRITE_ZEROES, 512 * 3, 64 * KiB + 512, NULL, 0, false), 0);
    check_zeroed(b, 1 * MiB, 512 * 3, 64 * KiB + 512, 0x31);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1 * MiB);
    bdev_close(b);
    unlink(path);
}

static void test_write_zeroes_tmp(void **state)
{
    write_zeroes_case("/tmp");
}

static void test_write_zeroes_shm(void **state)
{
    write_zeroes_case("/dev/shm");
}

/*
 * The file shrinks after open: the first readv comes back short, the rest
 * is resubmitted from the middle of an iovec element, hits EOF, and reads
 * as zeroes.
 */
static void test_short_file(void **state)
{
    char path[64];
    make_file(path, sizeof(path), "/tmp", 64 * KiB, 0x42);
    struct bdev *b = open_file(path, 4096, false, false);
    assert_int_equal(b->size, 64 * KiB);
    assert_int_equal(truncate(path, 6000), 0);

    size_t len = 16 * KiB;
    uint8_t *buf = malloc(len);
    memset(buf, 0xee, len);
    struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, len - 1000 } };
    assert_int_equal(do_io(b, BDEV_IO_READ, 0, len, iov, 2, false), 0);
    for (size_t i = 0; i < len; i++) {
        int want = i < 6000 ? 0x42 : 0;
        if (buf[i] != want)
            fail_msg("byte %zu is %#x, want %#x", i, buf[i], want);
    }
    assert_ptr_equal(iov[1].iov_base, buf + 1000);
    assert_int_equal(iov[1].iov_len, len - 1000);

    /* Entirely past the new end of file. */
    memset(buf, 0xee, len);
    assert_int_equal(do_io(b, BDEV_IO_READ, 32 * KiB, len, iov, 2, false), 0);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], 0);
    free(buf);
    bdev_close(b);
    unlink(path);
}

static void test_direct(void **state)
{
    char path[64];
    make_file(path, sizeof(path), "/tmp", 1 * MiB, 0);
    struct bdev *b = open_file(path, 4096, false, true);
    size_t len = 64 * KiB;
    uint8_t *src = NULL, *dst = NULL, *chk = malloc(len);
    assert_int_equal(posix_memalign((void **)&src, 4096, len), 0);
    assert_int_equal(posix_memalign((void **)&dst, 4096, len + 4096), 0);

    fill_pattern(src, len, 5);
    struct iovec wiov = { src, len };
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 128 * KiB, len, &wiov, 1, true), 0);
    read_back(path, 128 * KiB, chk, len);
    assert_memory_equal(src, chk, len);

    struct iovec riov = { dst, len };
    assert_int_equal(do_io(b, BDEV_IO_READ, 128 * KiB, len, &riov, 1, false), 0);
    assert_memory_equal(src, dst, len);

    /* A buffer O_DIRECT would refuse still works (through the cached descriptor). */
    struct iovec odd = { dst + 1, len };
    memset(dst, 0, len + 4096);
    assert_int_equal(do_io(b, BDEV_IO_READ, 128 * KiB, len, &odd, 1, false), 0);
    assert_memory_equal(src, dst + 1, len);
    fill_pattern(dst + 1, len, 77);
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 0, len, &odd, 1, false), 0);
    assert_int_equal(do_io(b, BDEV_IO_READ, 0, len, &riov, 1, false), 0);
    fill_pattern(chk, len, 77);
    assert_memory_equal(chk, dst, len);

    free(src);
    free(dst);
    free(chk);
    bdev_close(b);
    unlink(path);
}

static void test_readonly(void **state)
{
    char path[64];
    make_file(path, sizeof(path), "/tmp", 64 * KiB, 0x11);
    struct bdev *b = open_file(path, 512, true, false);
    uint8_t blk[512];
    struct iovec iov = { blk, sizeof(blk) };

    assert_true(b->readonly);
    assert_false(b->can_discard);
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 0, 512, &iov, 1, false), -EROFS);
    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 0, 512, NULL, 0, false), -EROFS);
    assert_int_equal(do_io(b, BDEV_IO_WRITE_ZEROES, 0, 512, NULL, 0, false), -EROFS);
    assert_int_equal(do_io(b, BDEV_IO_READ, 512, 512, &iov, 1, false), 0);
    assert_int_equal(blk[0], 0x11);

    /*
     * Even if a write slipped past the read-only check, the O_RDONLY
     * descriptor's EBADF reaches the guest as EROFS.
     */
    struct req r = {
        .io = { .type = BDEV_IO_WRITE, .len = 512, .iov = &iov, .iovcnt = 1, .cb = req_cb }
    };
    b->readonly = false;
    int ret = bdev_submit(b, &loop, &r.io);
    assert_int_equal(ret, 0);
    b->readonly = true; /* as it really is, when the completion is mapped */
    while (!r.calls)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    assert_int_equal(r.result, -EROFS);
    bdev_close(b);

    /* A file we may only read cannot be opened read-write, with the reason given. */
    assert_int_equal(chmod(path, 0400), 0);
    if (geteuid() != 0) {
        struct bdev_config cfg = { .type = BDEV_TYPE_FILE, .path = path, .block_size = 512 };
        char err[256];
        assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EACCES);
        assert_non_null(strstr(err, "Permission denied"));
    }
    unlink(path);
}

/* Block device path, through a loop device when the environment allows one. */
static char loop_dev[64], loop_file[64];

static int loop_teardown(void **state)
{
    char cmd[128];
    if (loop_dev[0]) {
        snprintf(cmd, sizeof(cmd), "losetup -d %s", loop_dev);
        if (system(cmd) != 0)
            return -1;
        loop_dev[0] = 0;
    }
    if (loop_file[0])
        unlink(loop_file);
    return 0;
}

static void test_block_device(void **state)
{
    char *path = loop_file, *dev = loop_dev;
    make_file(path, sizeof(loop_file), "/tmp", 4 * MiB, 0x5c);
    if (!attach_loop(path, "--sector-size 4096", dev, sizeof(loop_dev)))
        skip();

    struct bdev_config cfg = { .type = BDEV_TYPE_FILE, .path = dev, .block_size = 512 };
    struct bdev *b = NULL;
    char err[256] = "";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "logical block size 4096"));
    assert_non_null(strstr(err, dev));

    b = open_file(dev, 4096, false, false);
    assert_int_equal(b->size, 4 * MiB);
    assert_int_equal(b->phys_block_size, 4096); /* BLKPBSZGET of the 4Kn loop device */
    assert_false(b->discard_zeroes);
    assert_true(b->can_write_zeroes);
    uint8_t buf[8192];
    memset(buf, 0xa1, sizeof(buf));
    struct iovec iov = { buf, sizeof(buf) };
    assert_int_equal(do_io(b, BDEV_IO_WRITE, 8192, sizeof(buf), &iov, 1, true), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(do_io(b, BDEV_IO_READ, 8192, sizeof(buf), &iov, 1, false), 0);
    assert_int_equal(buf[0], 0xa1);
    assert_int_equal(buf[8191], 0xa1);
    assert_int_equal(do_io(b, BDEV_IO_WRITE_ZEROES, 8192, 4096, NULL, 0, false), 0);
    assert_int_equal(do_io(b, BDEV_IO_READ, 8192, sizeof(buf), &iov, 1, false), 0);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[4095], 0);
    assert_int_equal(buf[4096], 0xa1);
    if (b->can_discard)
        assert_int_equal(do_io(b, BDEV_IO_DISCARD, 0, 1 * MiB, NULL, 0, false), 0);
    else
        assert_int_equal(do_io(b, BDEV_IO_DISCARD, 0, 1 * MiB, NULL, 0, false), -EOPNOTSUPP);
    assert_int_equal(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0, false), 0);
    bdev_close(b);
}

/*
 * Several discards in flight at once: none completes inside submit (the
 * worker never waits for one), each completes exactly once, and the
 * ranges are deallocated and read back as zeroes.
 */
static void blkdev_discard_case(struct bdev *b)
{
    enum { N = 4 };
    struct req r[N];
    blkcnt_t before = blocks_of(dloop_file);

    for (int i = 0; i < N; i++) {
        r[i] = (struct req){ .io = { .type = BDEV_IO_DISCARD,
                                     .offset = (uint64_t)(2 * i + 1) * MiB,
                                     .len = 1 * MiB,
                                     .cb = req_cb } };
        assert_int_equal(bdev_submit(b, &loop, &r[i].io), 0);
        assert_int_equal(r[i].calls, 0);
    }
    assert_int_equal(loop.pending, N);
    while (loop.pending)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].result, 0);
    }
    blkcnt_t after = blocks_of(dloop_file);
    if (after > before - N * 1800)
        fail_msg("st_blocks %lld -> %lld: not deallocated", (long long)before, (long long)after);
    uint8_t *buf = malloc(8 * MiB);
    struct iovec iov = { buf, 8 * MiB };
    assert_int_equal(do_io(b, BDEV_IO_READ, 0, 8 * MiB, &iov, 1, false), 0);
    for (uint64_t i = 0; i < 8 * MiB; i++) {
        uint64_t m = i / MiB;
        int want = (m % 2 == 1) ? 0 : 0x3c;
        if (buf[i] != want)
            fail_msg("byte %llu is %#x, want %#x", (unsigned long long)i, buf[i], want);
    }
    free(buf);
}

static void test_blkdev_discard_uring(void **state)
{
    struct bdev *b = dloop_open(8 * MiB);

    blkdev_discard_case(b);
    fprintf(stderr, "block device discard went %s\n",
            bdev_file_discard_on_helper(b) ? "to the helper thread (no io_uring discard)"
                                           : "through io_uring (BLOCK_URING_CMD_DISCARD)");
    if (kernel_has_uring_discard())
        assert_false(bdev_file_discard_on_helper(b));
    bdev_close(b);
}

static void test_blkdev_discard_helper(void **state)
{
    struct bdev *b = dloop_open(8 * MiB);

    bdev_file_force_discard_helper(b);
    assert_true(bdev_file_discard_on_helper(b));
    blkdev_discard_case(b);
    /* The helper's errors reach the caller too: a read-only device refuses with EPERM. */
    int fd = open(dloop_dev, O_RDONLY), one = 1, zero = 0;
    assert_true(fd >= 0);
    assert_int_equal(ioctl(fd, BLKROSET, &one), 0);
    int ret = do_io(b, BDEV_IO_DISCARD, 0, 1 * MiB, NULL, 0, false);
    assert_int_equal(ioctl(fd, BLKROSET, &zero), 0);
    close(fd);
    assert_int_equal(ret, -EPERM);
    assert_int_equal(loop.pending, 0);
    bdev_close(b);
}

/*
 * The device shrinks under the bdev, so the kernel refuses a discard past its
 * new end with EINVAL.  Before any io_uring discard has worked, that is what
 * a kernel without the command says too: the bdev moves to the helper, which
 * gets the same EINVAL from the ioctl.  After one has worked, the error is
 * the request's own and the bdev stays on io_uring.
 */
static void shrink_loop(void)
{
    int fd = open(dloop_dev, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(truncate(dloop_file, 4 * MiB), 0);
    assert_int_equal(ioctl(fd, LOOP_SET_CAPACITY, 0), 0);
    close(fd);
}

static void test_blkdev_discard_refused_first(void **state)
{
    struct bdev *b = dloop_open(8 * MiB);

    shrink_loop();
    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 6 * MiB, 1 * MiB, NULL, 0, false), -EINVAL);
    assert_true(bdev_file_discard_on_helper(b));
    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 1 * MiB, 1 * MiB, NULL, 0, false), 0);
    bdev_close(b);
}

static void test_blkdev_discard_refused_later(void **state)
{
    struct bdev *b = dloop_open(8 * MiB);

    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 1 * MiB, 1 * MiB, NULL, 0, false), 0);
    bool on_helper = bdev_file_discard_on_helper(b);
    shrink_loop();
    assert_int_equal(do_io(b, BDEV_IO_DISCARD, 6 * MiB, 1 * MiB, NULL, 0, false), -EINVAL);
    assert_int_equal(bdev_file_discard_on_helper(b), on_helper);
    bdev_close(b);
}

/* --- bdev_cancel --- */

/* Hand what submit queued to the kernel and wait until its CQE is there, unreaped. */
static void kernel_completes(void)
{
    assert_true(io_uring_submit(&loop.ring) >= 0);
    for (int i = 0; i < 1000 && !io_uring_cq_ready(&loop.ring); i++)
        usleep(1000);
    assert_true(io_uring_cq_ready(&loop.ring) > 0);
}

static void run_idle(void)
{
    while (loop.pending)
        assert_true(io_loop_run_once(&loop, true) >= 0);
}

/*
 * The read's CQE has arrived, short (the file shrank), when the cancel
 * comes: the kernel has nothing left to cancel, and the backend must not
 * resubmit the rest.  Without the cancel the rest would be read (as zeroes
 * past EOF, see test_short_file); with it, the bytes past the short part are
 * untouched and the io ends with -ECANCELED, once.
 */
static void test_cancel_stops_resubmission(void **state)
{
    char path[64];
    make_file(path, sizeof(path), "/tmp", 64 * KiB, 0x42);
    struct bdev *b = open_file(path, 4096, false, false);
    assert_int_equal(truncate(path, 6000), 0);
    size_t len = 16 * KiB;
    uint8_t *buf = malloc(len);
    memset(buf, 0xee, len);
    struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, len - 1000 } };
    struct req r = {
        .io = { .type = BDEV_IO_READ, .len = len, .iov = iov, .iovcnt = 2, .cb = req_cb }
    };

    assert_int_equal(bdev_submit(b, &loop, &r.io), 0);
    kernel_completes();
    assert_int_equal(bdev_cancel(b, &r.io), 0);
    assert_int_equal(r.calls, 0); /* never inside bdev_cancel */
    run_idle();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, -ECANCELED);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], i < 6000 ? 0x42 : 0xee);
    assert_ptr_equal(iov[1].iov_base, buf + 1000);
    assert_int_equal(iov[1].iov_len, len - 1000);

    /* A full read whose CQE is in: the cancel is too late, the data is all there. */
    assert_int_equal(truncate(path, 64 * KiB), 0);
    r = (struct req){
        .io = { .type = BDEV_IO_READ, .len = 4096, .iov = iov, .iovcnt = 1, .cb = req_cb }
    };
    iov[0] = (struct iovec){ buf, 4096 };
    memset(buf, 0, 4096);
    assert_int_equal(bdev_submit(b, &loop, &r.io), 0);
    kernel_completes();
    assert_int_equal(bdev_cancel(b, &r.io), 0);
    run_idle();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, 0);
    assert_int_equal(buf[4095], 0x42);
    free(buf);
    bdev_close(b);
    unlink(path);
}

/*
 * tmpfs refuses FALLOC_FL_ZERO_RANGE; the backend would then punch instead.
 * After a cancel it must not: the io ends with -ECANCELED and the data is
 * as it was.  (The latch is still taken: that is about the filesystem.)
 */
static void test_cancel_stops_zero_range_fallback(void **state)
{
    char path[64], probe[64];
    make_file(probe, sizeof(probe), "/dev/shm", 4096, 0);
    int fd = open(probe, O_RDWR);
    assert_true(fd >= 0);
    bool has_zero_range = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    close(fd);
    unlink(probe);
    if (has_zero_range) {
        fprintf(stderr, "skipped: tmpfs zeroes ranges itself here, no fallback to stop\n");
        skip();
    }
    make_file(path, sizeof(path), "/dev/shm", 1 * MiB, 0x31);
    struct bdev *b = open_file(path, 512, false, false);
    struct req r = {
        .io = { .type = BDEV_IO_WRITE_ZEROES, .offset = 512 * 3, .len = 64 * KiB, .cb = req_cb }
    };

    assert_int_equal(bdev_submit(b, &loop, &r.io), 0);
    assert_int_equal(bdev_cancel(b, &r.io), 0);
    run_idle();
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, -ECANCELED);
    check_zeroed(b, 1 * MiB, 0, 0, 0x31);
    /* Not cancelled: straight to the punch, as test_write_zeroes_shm shows. */
    assert_int_equal(do_io(b, BDEV_IO_WRITE_ZEROES, 512 * 3, 64 * KiB, NULL, 0, false), 0);
    check_zeroed(b, 1 * MiB, 512 * 3, 64 * KiB, 0x31);
    bdev_close(b);
    unlink(path);
}

/*
 * Cancelled before the loop ever ran: the op's SQE and the cancel's go to
 * the kernel together, in that order.  The kernel may run the op first
 * (success) or cancel it (-ECANCELED); either way cb runs exactly once.
 * Several in flight, every other one cancelled; each io is then reused.
 */
static void test_cancel_before_submission(void **state)
{
    enum { N = 6, ROUNDS = 20, BS = 4096 };
    static const enum bdev_io_type types[3] = { BDEV_IO_READ, BDEV_IO_WRITE, BDEV_IO_FLUSH };
    static uint8_t bufs[N][BS];
    char path[64];
    make_file(path, sizeof(path), "/tmp", N * BS, 0x17);
    struct bdev *b = open_file(path, 512, false, false);
    struct iovec iov[N];
    struct req r[N];
    unsigned cancelled = 0, completed = 0;

    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            enum bdev_io_type t = types[(round + i) % 3];
            memset(bufs[i], t == BDEV_IO_WRITE ? 0x17 : 0, BS);
            iov[i] = (struct iovec){ bufs[i], BS };
            r[i] = (struct req){ .io = { .type = t,
                                         .offset = (uint64_t)i * BS,
                                         .len = t == BDEV_IO_FLUSH ? 0 : BS,
                                         .iov = t == BDEV_IO_FLUSH ? NULL : &iov[i],
                                         .iovcnt = t == BDEV_IO_FLUSH ? 0 : 1,
                                         .cb = req_cb } };
            assert_int_equal(bdev_submit(b, &loop, &r[i].io), 0);
        }
        for (int i = 1; i < N; i += 2) {
            assert_int_equal(bdev_cancel(b, &r[i].io), 0);
            assert_int_equal(r[i].calls, 0);
        }
        run_idle();
        for (int i = 0; i < N; i++) {
            assert_int_equal(r[i].calls, 1);
            if (i % 2 == 0 || r[i].result == 0) {
                assert_int_equal(r[i].result, 0);
                completed += i % 2;
                if (r[i].io.type == BDEV_IO_READ)
                    assert_int_equal(bufs[i][BS - 1], 0x17);
            } else {
                assert_int_equal(r[i].result, -ECANCELED);
                cancelled++;
            }
        }
    }
    fprintf(stderr, "cancel before submission: %u cancelled, %u completed anyway\n", cancelled,
            completed);
    bdev_close(b);
    unlink(path);
}

/* A discard through io_uring: the block layer has it at once, so it completes anyway. */
static void test_cancel_discard_uring(void **state)
{
    struct bdev *b = dloop_open(8 * MiB);
    struct req r = {
        .io = { .type = BDEV_IO_DISCARD, .offset = 1 * MiB, .len = 1 * MiB, .cb = req_cb }
    };

    assert_int_equal(bdev_submit(b, &loop, &r.io), 0);
    assert_int_equal(bdev_cancel(b, &r.io), bdev_file_discard_on_helper(b) ? -EALREADY : 0);
    run_idle();
    assert_int_equal(r.calls, 1);
    fprintf(stderr, "cancelled discard (%s) completed with %d\n",
            bdev_file_discard_on_helper(b) ? "helper" : "io_uring", r.result);
    assert_true(r.result == 0 || r.result == -ECANCELED);
    bdev_close(b);
}

/*
 * Helper path: a discard still queued for the helper is taken off the queue
 * and ends with -ECANCELED, its range untouched; one already in the ioctl
 * cannot be stopped (-EALREADY) and succeeds.
 */
static void test_cancel_discard_helper(void **state)
{
    enum { N = 16, LEN = 4 * MiB };
    struct bdev *b = dloop_open((uint64_t)N * LEN);
    struct req r[N];
    int cret[N];
    unsigned dropped = 0;

    bdev_file_force_discard_helper(b);
    for (int i = 0; i < N; i++) {
        r[i] = (struct req){
            .io = { .type = BDEV_IO_DISCARD, .offset = (uint64_t)i * LEN, .len = LEN, .cb = req_cb }
        };
        assert_int_equal(bdev_submit(b, &loop, &r[i].io), 0);
    }
    /* The last ones wait behind 14 discards of 4 MiB: practically always still queued. */
    for (int i = 0; i < N; i++) {
        cret[i] = i == 0 || i >= N - 2 ? bdev_cancel(b, &r[i].io) : 1;
        assert_int_equal(r[i].calls, 0);
    }
    run_idle();
    uint8_t *buf = malloc(LEN);
    struct iovec iov = { buf, LEN };
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        if (cret[i] == 0) {
            assert_int_equal(r[i].result, -ECANCELED);
            assert_int_equal(do_io(b, BDEV_IO_READ, (uint64_t)i * LEN, LEN, &iov, 1, false), 0);
            assert_int_equal(buf[0], 0x3c);
            assert_int_equal(buf[LEN - 1], 0x3c);
            dropped++;
        } else {
            assert_true(cret[i] == 1 || cret[i] == -EALREADY);
            assert_int_equal(r[i].result, 0);
        }
    }
    free(buf);
    fprintf(stderr, "helper: %u of 3 cancelled discards dropped from the queue\n", dropped);
    assert_int_equal(loop.pending, 0);
    bdev_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_size_and_properties),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_many_in_flight),
        cmocka_unit_test(test_discard_tmp),
        cmocka_unit_test(test_discard_shm),
        cmocka_unit_test(test_write_zeroes_tmp),
        cmocka_unit_test(test_write_zeroes_shm),
        cmocka_unit_test(test_short_file),
        cmocka_unit_test(test_direct),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test_teardown(test_block_device, loop_teardown),
        cmocka_unit_test_teardown(test_blkdev_discard_uring, dloop_teardown),
        cmocka_unit_test_teardown(test_blkdev_discard_helper, dloop_teardown),
        cmocka_unit_test_teardown(test_blkdev_discard_refused_first, dloop_teardown),
        cmocka_unit_test_teardown(test_blkdev_discard_refused_later, dloop_teardown),
        cmocka_unit_test(test_cancel_stops_resubmission),
        cmocka_unit_test(test_cancel_stops_zero_range_fallback),
        cmocka_unit_test(test_cancel_before_submission),
        cmocka_unit_test_teardown(test_cancel_discard_uring, dloop_teardown),
        cmocka_unit_test_teardown(test_cancel_discard_helper, dloop_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
