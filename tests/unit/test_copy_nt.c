/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/copy_nt.h"

enum { GUARD = 64, MAX_LEN = 65536 + 200 };

/*
 * Every destination alignment within a line and source alignment within
 * 16 bytes, at lengths around the memcpy cut-off, the 16- and 64-byte steps
 * and a page: the copy is exact and not a byte outside it is written.
 */
static void test_alignments_and_lengths(void **state)
{
    static const size_t lens[] = { 0,   1,   15,  16,   17,   63,   64,    65,        255,
                                   256, 257, 319, 4095, 4096, 4097, 65536, 65536 + 77 };
    uint8_t *src = malloc(MAX_LEN + 16);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    uint8_t *dst = aligned_alloc(64, (MAX_LEN + 2 * GUARD + 64 + 63) / 64 * 64);
    uint8_t *want = malloc(MAX_LEN + 2 * GUARD + 64);

    (void)state;
    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(want);
    for (size_t i = 0; i < MAX_LEN + 16; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        for (unsigned da = 0; da < 64; da += (lens[l] > 4096 ? 13 : 1)) {
            for (unsigned sa = 0; sa < 16; sa += (lens[l] > 4096 ? 5 : 1)) {
                size_t total = lens[l] + 2 * GUARD + 64;

                memset(dst, 0xa5, total);
                memset(want, 0xa5, total);
                memcpy(want + GUARD + da, src + sa, lens[l]);
                copy_nt(dst + GUARD + da, src + sa, lens[l]);
                copy_nt_fence();
                if (memcmp(dst, want, total) != 0)
                    fail_msg("copy_nt of %zu bytes, destination +%u, source +%u differs", lens[l],
                             da, sa);
            }
        }
    }
    free(src);
    free(dst);
    free(want);
}

/* Overwriting what is there (the RAM disk case), not only fresh memory. */
static void test_overwrite(void **state)
{
    uint8_t a[8192], b[8192] __attribute__((aligned(64)));

    (void)state;
    memset(b, 1, sizeof(b));
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (uint8_t)(i ^ 0x5a);
    copy_nt(b + 512, a, 4096);
    copy_nt_fence();
    assert_memory_equal(b + 512, a, 4096);
    for (size_t i = 0; i < 512; i++)
        assert_int_equal(b[i], 1);
    for (size_t i = 512 + 4096; i < sizeof(b); i++)
        assert_int_equal(b[i], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignments_and_lengths),
        cmocka_unit_test(test_overwrite),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
