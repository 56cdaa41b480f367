/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bdev_open's dispatch and the request check every backend relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "bdev/bdev.h"

static void test_open_errors(void **state)
{
    struct bdev_config cfg = { .type = BDEV_TYPE_RAM, .size = 1 << 20, .block_size = 1000 };
    struct bdev *b = (struct bdev *)1;
    char err[128];

    (void)state;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_null(b);
    assert_non_null(strstr(err, "block size 1000"));

    cfg.block_size = 512;
    cfg.type = BDEV_TYPE_FILE;
    cfg.path = "";
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "needs a path"));

    cfg.type = (enum bdev_type)99;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "unknown backend type"));

    cfg.type = BDEV_TYPE_RAM;
    assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), 0);
    assert_non_null(b);
    assert_int_equal(b->size, 1 << 20);
    bdev_close(b);
    bdev_close(NULL);
}

static void test_io_check(void **state)
{
    char buf[1024];
    struct iovec iov = { buf, 1024 };
    struct bdev b = { .size = 4096, .block_size = 512, .can_discard = true };
    struct bdev_io io = {
        .type = BDEV_IO_READ, .offset = 0, .len = 1024, .iov = &iov, .iovcnt = 1
    };

    (void)state;
    assert_int_equal(bdev_io_check(&b, &io), 0);
    io.offset = 3584; /* ends past the device */
    assert_int_equal(bdev_io_check(&b, &io), -EINVAL);
    io.offset = UINT64_MAX - 511; /* offset + len wraps */
    assert_int_equal(bdev_io_check(&b, &io), -EINVAL);
    io.offset = 100; /* not block aligned */
    assert_int_equal(bdev_io_check(&b, &io), -EINVAL);
    io.offset = 0;
    io.len = 512; /* vector longer than the range */
    assert_int_equal(bdev_io_check(&b, &io), -EINVAL);

    io.type = BDEV_IO_DISCARD;
    assert_int_equal(bdev_io_check(&b, &io), 0);
    b.can_discard = false;
    assert_int_equal(bdev_io_check(&b, &io), -EOPNOTSUPP);
    io.type = BDEV_IO_WRITE_ZEROES;
    assert_int_equal(bdev_io_check(&b, &io), -EOPNOTSUPP);

    b.readonly = true;
    io.type = BDEV_IO_WRITE;
    io.len = 1024;
    assert_int_equal(bdev_io_check(&b, &io), -EROFS);
    io.type = BDEV_IO_FLUSH;
    assert_int_equal(bdev_io_check(&b, &io), 0);
}

/* Inline backends complete inside submit: there is never anything to cancel. */
static void test_cancel_inline_backends(void **state)
{
    static const enum bdev_type types[] = { BDEV_TYPE_RAM, BDEV_TYPE_NULL };
    char err[128];

    (void)state;
    for (unsigned i = 0; i < 2; i++) {
        struct bdev_config cfg = { .type = types[i], .size = 1 << 20, .block_size = 512 };
        struct bdev *b = NULL;
        struct bdev_io io = { .type = BDEV_IO_FLUSH };

        assert_int_equal(bdev_open(&cfg, &b, err, sizeof(err)), 0);
        assert_null(b->ops->cancel);
        assert_int_equal(bdev_cancel(b, &io), -ENOTSUP);
        bdev_close(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_io_check),
        cmocka_unit_test(test_cancel_inline_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
