/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the bdev backend tests.  Header-only (static functions) because
 * the Makefile links each test program alone against build/libvus.a.  A test
 * includes it after <cmocka.h>.
 *
 * sync_io() and open_sync() suit only backends that complete inside submit
 * (ram, null); the file backend drives its own io_loop with struct req.
 */
#ifndef VUS_TESTS_BDEV_TEST_UTIL_H
#define VUS_TESTS_BDEV_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdev/bdev.h"

/* Counts completions so a test can tell "never called" from "called twice". */
struct req {
    struct bdev_io io;
    int calls;
    int result;
};

static inline void req_cb(struct bdev_io *io, int result)
{
    struct req *r = (struct req *)((char *)io - offsetof(struct req, io));
    r->calls++;
    r->result = result;
}

/* Submit; returns the completion result, or the submit error (then cb must not have run). */
static inline int sync_io(struct bdev *b, enum bdev_io_type type, uint64_t off, uint64_t len,
                          struct iovec *iov, unsigned cnt)
{
    struct req r = {
        .io = { .type = type, .offset = off, .len = len, .iov = iov, .iovcnt = cnt, .cb = req_cb }
    };
    int ret = bdev_submit(b, NULL, &r.io);
    if (ret) {
        assert_int_equal(r.calls, 0);
        return ret;
    }
    /* Accepted requests complete inside submit, exactly once. */
    assert_int_equal(r.calls, 1);
    return r.result;
}

static inline struct bdev *open_sync(enum bdev_type type, uint64_t size, uint32_t bs, bool ro)
{
    struct bdev_config cfg = { .type = type, .size = size, .block_size = bs, .readonly = ro };
    struct bdev *b = NULL;
    char err[256] = "";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), 0);
    assert_non_null(b);
    return b;
}

#endif
