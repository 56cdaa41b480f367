/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The adaptive poll window (io/poll_window.c): it polls only while polling
 * pays for itself, covers the gaps it catches, probes for short gaps in
 * interrupt mode, backs off when the gaps grow, and never probes for gaps
 * longer than the maximum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/poll_window.h"

/* The worker's part: what it reports for n idle gaps of ns with the window it has. */
static unsigned gaps(struct poll_window *p, unsigned n, uint64_t ns, uint64_t wake_ns)
{
    unsigned polled = 0;

    for (unsigned i = 0; i < n; i++) {
        polled += p->cur_ns > 0;
        if (p->cur_ns >= ns)
            poll_window_caught(p, ns);
        else
            poll_window_after_sleep(p, p->cur_ns, ns - p->cur_ns + wake_ns);
    }
    return polled;
}

static void test_starts_asleep_and_probes_short_gaps(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    assert_int_equal(p.cur_ns, 0);
    /* Requests 1 us apart, each sleep 10 us long with the wakeup: a probe comes soon. */
    gaps(&p, POLL_PROBE_EVERY - 1, 1000, 9000);
    assert_int_equal(p.cur_ns, 0);
    gaps(&p, 1, 1000, 9000);
    assert_true(p.probing);
    assert_int_equal(p.cur_ns, POLL_SLEEP_COST_NS);
    /* Probes that catch go on until polling pays; then every gap is caught. */
    gaps(&p, 10, 1000, 9000);
    assert_false(p.probing);
    assert_int_equal(p.cur_ns, POLL_SLEEP_COST_NS);
    assert_int_equal(gaps(&p, 100, 1000, 9000), 100);
}

/*
 * The window is what a sleep costs (spinning longer would cost more than
 * the sleep it saves), capped at the maximum; bursts of gaps a little longer
 * than the usual one are caught too.
 */
static void test_window_is_the_sleep_cost(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    for (int i = 0; i < 100; i++) {
        gaps(&p, 3, 300, 9000);
        gaps(&p, 1, 5000, 9000);
    }
    assert_int_equal(p.cur_ns, POLL_SLEEP_COST_NS);
    assert_int_equal(gaps(&p, 4, 5000, 9000), 4);
}

static void test_never_past_the_maximum(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 2000);
    gaps(&p, 100, 1900, 9000);
    assert_int_equal(p.cur_ns, 2000);
}

/*
 * Gaps of 20 us, within the maximum: catching one would spin longer than
 * the sleep it saves.  Probes miss them, each one waiting twice as long as
 * the last: after 16, 32, ... 512 sleeps, one probe in POLL_PROBE_EVERY_MAX.
 */
static void test_gaps_dearer_than_a_sleep_are_not_polled(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 1000000);
    unsigned polled = gaps(&p, 1600, 20000, 9000);
    assert_int_equal(p.cur_ns, 0);
    assert_int_equal(polled, 6); /* after 16, 48, 112, 240, 496 and 1008 gaps */
    assert_int_equal(p.probe_every, 64 * POLL_PROBE_EVERY);
    polled = gaps(&p, 10 * POLL_PROBE_EVERY_MAX, 20000, 9000);
    assert_true(polled >= 9 && polled <= 10);
    assert_int_equal(p.probe_every, POLL_PROBE_EVERY_MAX);
}

/*
 * Probes that missed during a disturbance (the guest stalled) back off;
 * once gaps are short again, sleeps end sooner than a probe's window would
 * and probing is back at its pace at once, not after hundreds of sleeps.
 */
static void test_short_sleeps_reset_the_backoff(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 1000000);
    poll_window_wake_latency(&p, 9000); /* S = 2 x 2 us + 9 us */
    gaps(&p, 3000, 1000, 9000);
    assert_true(p.cur_ns > 0);
    /* A stall: gaps of 50 us for a while; polling stops, probes miss and back off. */
    gaps(&p, 500, 50000, 9000);
    assert_int_equal(p.cur_ns, 0);
    assert_true(p.probe_every > 4 * POLL_PROBE_EVERY);
    /* Short gaps again: each sleep lasts 10 us, less than S: polling within a probe's pace. */
    unsigned polled = gaps(&p, 2 * POLL_PROBE_EVERY, 1000, 9000);
    assert_true(polled > POLL_PROBE_EVERY);
    assert_true(p.cur_ns > 0);
}

/* A probe that catches brings probing back to its pace, and polling soon after. */
static void test_caught_probe_resets_the_backoff(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 1000000);
    gaps(&p, 5000, 20000, 9000);
    assert_int_equal(p.probe_every, POLL_PROBE_EVERY_MAX);
    /* Short gaps now: the next probe catches, within the backed-off count. */
    unsigned polled = gaps(&p, POLL_PROBE_EVERY_MAX, 1000, 9000);
    assert_true(polled > 0);
    assert_int_equal(p.probe_every, POLL_PROBE_EVERY);
    assert_true(p.cur_ns > 0);
    assert_int_equal(gaps(&p, 100, 1000, 9000), 100);
}

/*
 * A slow guest at QD 1 (a TCG guest: 140 us between requests, seen as
 * sleeps of 149 us) costs no polling.
 */
static void test_long_gaps_back_off_and_are_not_probed(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    gaps(&p, 100, 1000, 9000);
    assert_true(p.cur_ns > 0);
    unsigned polled = gaps(&p, 1000, 140000, 9000);
    assert_int_equal(p.cur_ns, 0);
    /* It stopped within a few gaps and never probed again. */
    assert_true(polled <= 10);
    /* Quick requests bring polling back, through a probe. */
    gaps(&p, 2 * POLL_PROBE_EVERY + 10, 1000, 9000);
    assert_true(p.cur_ns > 0);
}

/*
 * Three short gaps for one long one (bursts): each miss wastes a window,
 * each catch saves a sleep.  With 500 ns gaps the saving wins.  One 6 us gap
 * for each long one does not pay.
 */
static void test_mixed_gaps_poll_only_when_it_pays(void **state)
{
    struct poll_window p;
    unsigned polled = 0;

    poll_window_init(&p, 32000);
    for (int i = 0; i < 100; i++) {
        gaps(&p, 3, 500, 9000);
        gaps(&p, 1, 20000, 9000);
    }
    assert_true(p.cur_ns > 0);

    poll_window_init(&p, 32000);
    for (int i = 0; i < 200; i++) {
        polled += gaps(&p, 1, 6000, 9000);
        polled += gaps(&p, 1, 20000, 9000);
    }
    /* Probes only, and the ones that caught: a small share of 400 gaps. */
    assert_true(polled <= 400 / 4);
}

/*
 * What a sleep costs decides what is worth polling for: 15 us gaps are, on
 * a machine where a wait takes 20 us of CPU and wakes 50 us late (nested
 * virtualisation), and are not where it takes 1 us and wakes 2 us late.
 */
static void test_measured_sleep_cost_decides(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    poll_window_wake_latency(&p, 50000);
    for (int i = 0; i < 50; i++)
        poll_window_sleep_cost(&p, 20000);
    assert_true(poll_window_sleep_ns(&p) > 80000);
    gaps(&p, 200, 15000, 9000);
    assert_int_equal(p.cur_ns, 32000);

    poll_window_init(&p, 32000);
    poll_window_wake_latency(&p, 2000);
    for (int i = 0; i < 50; i++)
        poll_window_sleep_cost(&p, 1000);
    assert_true(poll_window_sleep_ns(&p) < 5000);
    assert_true(gaps(&p, 200, 15000, 9000) <= 200 / POLL_PROBE_EVERY + 1);
    assert_int_equal(p.cur_ns, 0);
    /* Absurd samples are clamped: one of them does not switch polling off. */
    poll_window_sleep_cost(&p, 0);
    poll_window_wake_latency(&p, 0);
    assert_true(poll_window_sleep_ns(&p) >= 1000);
}

/* A catch long past the window is a worker that lost its CPU: no reason to poll on. */
static void test_catch_past_the_window_is_a_miss(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    gaps(&p, POLL_PROBE_EVERY, 1000, 9000);
    assert_true(p.probing);
    for (int i = 0; i < 50; i++)
        poll_window_caught(&p, 2000000);
    assert_int_equal(p.cur_ns, 0);
    assert_false(p.probing);
    assert_int_equal(p.caught_ns, 0);
}

/* A new maximum keeps what was learnt: 0 stops polling at once, a smaller one cuts the window. */
static void test_set_max_at_run_time(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 32000);
    gaps(&p, 100, 1000, 9000);
    assert_int_equal(p.cur_ns, POLL_SLEEP_COST_NS);
    poll_window_set_max(&p, 2000);
    assert_int_equal(p.cur_ns, 2000);
    assert_int_equal(gaps(&p, 10, 1000, 9000), 10);
    poll_window_set_max(&p, 0);
    assert_int_equal(p.cur_ns, 0);
    assert_false(p.probing);
    assert_int_equal(gaps(&p, 100, 1000, 9000), 0);
    /* Back on: asleep until a probe catches, as at start; then polling again. */
    poll_window_set_max(&p, 32000);
    assert_int_equal(p.cur_ns, 0);
    gaps(&p, POLL_PROBE_EVERY + 10, 1000, 9000);
    assert_int_equal(p.cur_ns, POLL_SLEEP_COST_NS);
}

static void test_zero_maximum_never_polls(void **state)
{
    struct poll_window p;

    poll_window_init(&p, 0);
    assert_int_equal(gaps(&p, 100, 0, 100), 0);
    poll_window_after_sleep(&p, 0, 0);
    poll_window_caught(&p, 10);
    assert_int_equal(p.cur_ns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_asleep_and_probes_short_gaps),
        cmocka_unit_test(test_window_is_the_sleep_cost),
        cmocka_unit_test(test_never_past_the_maximum),
        cmocka_unit_test(test_gaps_dearer_than_a_sleep_are_not_polled),
        cmocka_unit_test(test_caught_probe_resets_the_backoff),
        cmocka_unit_test(test_short_sleeps_reset_the_backoff),
        cmocka_unit_test(test_long_gaps_back_off_and_are_not_probed),
        cmocka_unit_test(test_mixed_gaps_poll_only_when_it_pays),
        cmocka_unit_test(test_measured_sleep_cost_decides),
        cmocka_unit_test(test_catch_past_the_window_is_a_miss),
        cmocka_unit_test(test_set_max_at_run_time),
        cmocka_unit_test(test_zero_maximum_never_polls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
