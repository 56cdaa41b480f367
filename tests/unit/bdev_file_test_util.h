/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file backend tests' plumbing: one io_loop that the tests drive, files
 * of known contents, request helpers, and loop devices for the block device
 * paths.  Header-only (static functions),
 * like bdev_test_util.h, so test_bdev_file.c stays one program of readable
 * size.  Included after <cmocka.h>.
 */
#ifndef VUS_TESTS_BDEV_FILE_TEST_UTIL_H
#define VUS_TESTS_BDEV_FILE_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "bdev_test_util.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

static struct io_loop loop;

static inline int setup(void **state)
{
    return io_loop_init(&loop, 8);
}

static inline int teardown(void **state)
{
    io_loop_fini(&loop);
    return 0;
}

static inline int run_req(struct bdev *b, struct req *r)
{
    int ret = bdev_submit(b, &loop, &r->io);
    if (ret) {
        assert_int_equal(r->calls, 0);
        return ret;
    }
    while (r->calls == 0) {
        int n = io_loop_run_once(&loop, true);
        assert_true(n >= 0);
    }
    assert_int_equal(r->calls, 1);
    return r->result;
}

static inline int do_io(struct bdev *b, enum bdev_io_type type, uint64_t off, uint64_t len,
                        struct iovec *iov, unsigned cnt, bool fua)
{
    struct req r = { .io = { .type = type,
                             .offset = off,
                             .len = len,
                             .iov = iov,
                             .iovcnt = cnt,
                             .fua = fua,
                             .cb = req_cb } };
    return run_req(b, &r);
}

/* A file of size bytes filled with byte c, under dir; the path is written to path. */
static inline void make_file(char *path, size_t pathlen, const char *dir, uint64_t size, int c)
{
    snprintf(path, pathlen, "%s/vus-bdev-XXXXXX", dir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (size) {
        static uint8_t buf[64 * KiB];
        memset(buf, c, sizeof(buf));
        for (uint64_t done = 0; done < size;) {
            size_t n = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
            assert_int_equal(pwrite(fd, buf, n, (off_t)done), (ssize_t)n);
            done += n;
        }
        assert_int_equal(fsync(fd), 0);
    }
    close(fd);
}

static struct bdev *open_file(const char *path, uint32_t bs, bool ro, bool direct)
{
    struct bdev_config cfg = {
        .type = BDEV_TYPE_FILE, .path = path, .block_size = bs, .readonly = ro, .direct = direct
    };
    struct bdev *b = NULL;
    char err[256] = "";
    int ret = bdev_open(&cfg, &b, err, sizeof(err));
    if (ret)
        fail_msg("bdev_open(%s): %d %s", path, ret, err);
    return b;
}

static inline void read_back(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13 + seed + (i >> 10));
}

static inline blkcnt_t blocks_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_blocks;
}

static inline void check_zeroed(struct bdev *b, uint64_t size, uint64_t zoff, uint64_t zlen,
                                int fill)
{
    uint8_t *buf = malloc(size);
    struct iovec iov = { buf, size };
    assert_int_equal(do_io(b, BDEV_IO_READ, 0, size, &iov, 1, false), 0);
    for (uint64_t i = 0; i < size; i++) {
        int want = (i >= zoff && i < zoff + zlen) ? 0 : fill;
        if (buf[i] != want)
            fail_msg("byte %llu is %#x, want %#x", (unsigned long long)i, buf[i], want);
    }
    free(buf);
}

/* Kernels from 6.12 take BLOCK_URING_CMD_DISCARD; older ones send us to the helper. */
static inline bool kernel_has_uring_discard(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 12);
}

/*
 * Attach a loop device to file (losetup options in opts) and write its name
 * to dev; false when none can be had (not root, no loop devices).
 */
static inline bool attach_loop(const char *file, const char *opts, char *dev, size_t devlen)
{
    char cmd[256];
    FILE *p;

    dev[0] = 0;
    if (geteuid() != 0)
        return false;
    snprintf(cmd, sizeof(cmd), "losetup -f --show %s %s 2>/dev/null", opts, file);
    p = popen(cmd, "r");
    if (p) {
        if (!fgets(dev, (int)devlen, p))
            dev[0] = 0;
        pclose(p);
    }
    dev[strcspn(dev, "\n")] = 0;
    return dev[0] != 0;
}

/*
 * Block device discard, on a loop device over a tmpfs file: the loop driver
 * punches the file, so st_blocks shows what was deallocated.
 */
static char dloop_dev[64], dloop_file[64];

static inline int dloop_teardown(void **state)
{
    char cmd[128];
    int ret = 0;

    if (dloop_dev[0]) {
        snprintf(cmd, sizeof(cmd), "losetup -d %s", dloop_dev);
        if (system(cmd) != 0)
            ret = -1;
        dloop_dev[0] = 0;
    }
    if (dloop_file[0])
        unlink(dloop_file);
    dloop_file[0] = 0;
    return ret;
}

/* A loop device over size bytes of 0x3c; skips the test when none can be had. */
static inline struct bdev *dloop_open(uint64_t size)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipped: a loop device needs root\n");
        skip();
    }
    make_file(dloop_file, sizeof(dloop_file), "/dev/shm", size, 0x3c);
    if (!attach_loop(dloop_file, "", dloop_dev, sizeof(dloop_dev))) {
        fprintf(stderr, "skipped: no loop device (losetup -f failed)\n");
        skip();
    }
    struct bdev *b = open_file(dloop_dev, 512, false, false);
    assert_true(b->can_discard); /* loop over tmpfs: the file can be punched */
    return b;
}

#endif
