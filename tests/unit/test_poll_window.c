/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/poll_window.h"

static void test_starts_asleep_and_grows_to_cover_gaps(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    assert_int_equal(p.cur_ns, 0);
    /* Requests 3 us apart: one sleep is enough to cover them. */
    poll_window_after_sleep(&p, 0, 3000);
    assert_true(p.cur_ns >= 3000);
    assert_true(p.cur_ns <= 32000);
    /* A short gap after a window that did not cover it grows it again. */
    uint64_t before = p.cur_ns;
    poll_window_after_sleep(&p, before, 5000);
    assert_true(p.cur_ns >= before + 5000);
    assert_true(p.cur_ns <= 32000);
}

static void test_never_past_the_maximum(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 10000);
    for (int i = 0; i < 20; i++)
        poll_window_after_sleep(&p, p.cur_ns, 10000 - p.cur_ns);
    assert_int_equal(p.cur_ns, 10000);
}

static void test_long_gaps_back_off_to_interrupt_mode(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    poll_window_after_sleep(&p, 0, 20000);
    assert_int_equal(p.cur_ns, 32000);
    /* An idle guest: every sleep is far longer than we would spin. */
    poll_window_after_sleep(&p, p.cur_ns, 1000000);
    assert_int_equal(p.cur_ns, 16000);
    for (int i = 0; i < 10; i++)
        poll_window_after_sleep(&p, p.cur_ns, 1000000);
    assert_int_equal(p.cur_ns, 0);
    /* And one quick request brings polling back. */
    poll_window_after_sleep(&p, 0, 500);
    assert_int_equal(p.cur_ns, POLL_WINDOW_MIN_NS);
}

static void test_zero_maximum_never_polls(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 0);
    poll_window_after_sleep(&p, 0, 100);
    poll_window_after_sleep(&p, 0, 0);
    assert_int_equal(p.cur_ns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_asleep_and_grows_to_cover_gaps),
        cmocka_unit_test(test_never_past_the_maximum),
        cmocka_unit_test(test_long_gaps_back_off_to_interrupt_mode),
        cmocka_unit_test(test_zero_maximum_never_polls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
