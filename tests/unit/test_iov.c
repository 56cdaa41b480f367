/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iovec helpers: guest buffers split at arbitrary byte boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/copy_nt.h"
#include "util/iov.h"

static char a[3], b[1], c[5];
static struct iovec v[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };

static void test_size(void **state)
{
    struct iovec huge[2] = { { NULL, SIZE_MAX }, { NULL, 2 } };

    (void)state;
    assert_int_equal(iov_size(v, 3), 9);
    assert_int_equal(iov_size(v, 0), 0);
    assert_int_equal(iov_size(huge, 2), SIZE_MAX); /* saturates, never wraps */
}

static void test_from_to_buf(void **state)
{
    char out[9];

    (void)state;
    memset(a, 0, 3);
    memset(b, 0, 1);
    memset(c, 0, 5);
    /* Write across every element boundary, starting mid-element. */
    assert_int_equal(iov_from_buf(v, 3, 2, "wxyz", 4), 4);
    assert_int_equal(a[2], 'w');
    assert_int_equal(b[0], 'x');
    assert_memory_equal(c, "yz", 2);
    assert_int_equal(iov_to_buf(v, 3, 2, out, 4), 4);
    assert_memory_equal(out, "wxyz", 4);
    /* Clipped at the end of the vector. */
    assert_int_equal(iov_from_buf(v, 3, 7, "0123", 4), 2);
    assert_int_equal(iov_to_buf(v, 3, 100, out, 4), 0);
    assert_int_equal(iov_memset(v, 3, 1, 'q', 100), 8);
    assert_int_equal(a[0], 0);
    assert_int_equal(c[4], 'q');
}

/*
 * The non-temporal variant gathers the same bytes as iov_to_buf from
 * elements of odd sizes into a destination whose pieces start unaligned.
 */
static void test_to_buf_nt(void **state)
{
    static uint8_t e0[300], e1[1], e2[4097], e3[700];
    struct iovec ev[] = {
        { e0, sizeof(e0) }, { e1, sizeof(e1) }, { e2, sizeof(e2) }, { e3, sizeof(e3) }
    };
    static uint8_t got[6000], want[6000];
    size_t total = sizeof(e0) + sizeof(e1) + sizeof(e2) + sizeof(e3);

    (void)state;
    for (unsigned i = 0; i < 4; i++)
        for (size_t j = 0; j < ev[i].iov_len; j++)
            ((uint8_t *)ev[i].iov_base)[j] = (uint8_t)(j * 13 + i);
    for (size_t off = 0; off < 320; off += 7) {
        memset(got, 0, sizeof(got));
        memset(want, 0, sizeof(want));
        assert_int_equal(iov_to_buf(ev, 4, off, want + 3, total), total - off);
        assert_int_equal(iov_to_buf_nt(ev, 4, off, got + 3, total), total - off);
        copy_nt_fence();
        assert_memory_equal(got, want, sizeof(got));
    }
}

static void test_slice(void **state)
{
    struct iovec d[3];

    (void)state;
    assert_int_equal(iov_slice(v, 3, 2, 4, d, 3), 3);
    assert_ptr_equal(d[0].iov_base, a + 2);
    assert_int_equal(d[0].iov_len, 1);
    assert_int_equal(d[1].iov_len, 1);
    assert_ptr_equal(d[2].iov_base, c);
    assert_int_equal(d[2].iov_len, 2);
    /* Range beyond the source, or more pieces than dst holds: refused. */
    assert_int_equal(iov_slice(v, 3, 5, 5, d, 3), -1);
    assert_int_equal(iov_slice(v, 3, 0, 9, d, 2), -1);
    assert_int_equal(iov_slice(v, 3, 9, 0, d, 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_from_to_buf),
        cmocka_unit_test(test_to_buf_nt),
        cmocka_unit_test(test_slice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
