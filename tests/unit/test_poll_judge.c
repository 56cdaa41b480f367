/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The poll judge (io/poll_judge.c): it explores the other mode once every
 * POLL_JUDGE_EXPLORE_EVERY epochs, keeps polling while it costs about as much
 * CPU per request as interrupt mode or buys as many more requests per second
 * as it costs, turns it off otherwise, turns it back on when a later
 * exploration shows it pays, and learns nothing from an idle epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/poll_judge.h"

#define MS 1000000u

/* What a mode costs in the workload a test plays: requests and CPU in a 50 ms epoch. */
struct mode_cost {
    uint64_t requests;
    uint64_t cpu_ns;
};

/*
 * Play n epochs of a workload whose polling and interrupt-mode epochs do
 * what poll and irq say.  Returns how many of them polled.
 */
static unsigned play(struct poll_judge *j, unsigned n, struct mode_cost poll, struct mode_cost irq)
{
    unsigned polled = 0;

    for (unsigned i = 0; i < n; i++) {
        bool p = poll_judge_polling(j);
        const struct mode_cost *c = p ? &poll : &irq;
        const struct poll_judge_epoch e = { .wall_ns = 50 * MS,
                                            .cpu_ns = c->cpu_ns,
                                            .requests = c->requests };

        polled += p;
        poll_judge_epoch_end(j, &e);
    }
    return polled;
}

static void test_starts_polling_and_explores_once_per_period(void **state)
{
    struct poll_judge j;
    /* Polling is 1.8x faster at the same CPU per request: it pays. */
    const struct mode_cost poll = { 5400, 45 * MS }, irq = { 3000, 25 * MS };

    poll_judge_init(&j);
    assert_true(poll_judge_polling(&j));
    assert_int_equal(play(&j, POLL_JUDGE_EXPLORE_EVERY, poll, irq), POLL_JUDGE_EXPLORE_EVERY);
    /* The next epoch is the exploration. */
    assert_false(poll_judge_polling(&j));
    assert_int_equal(play(&j, 10 * POLL_JUDGE_EXPLORE_EVERY, poll, irq),
                     10 * POLL_JUDGE_EXPLORE_EVERY - 10);
    assert_true(j.allowed);
    assert_int_equal(j.verdicts_off, 0);
}

static void test_dearer_polling_without_more_requests_is_turned_off(void **state)
{
    struct poll_judge j;
    /* A TCG guest at QD 16: the same request rate, 1.4x the CPU per request polling. */
    const struct mode_cost poll = { 5900, 14 * MS }, irq = { 5800, 10 * MS };

    poll_judge_init(&j);
    play(&j, POLL_JUDGE_EXPLORE_EVERY + 1, poll, irq);
    assert_false(j.allowed);
    assert_int_equal(j.verdicts_off, 1);
    /* From now on it polls only to explore: one epoch in each period. */
    assert_int_equal(play(&j, 10 * POLL_JUDGE_EXPLORE_EVERY, poll, irq), 10);
    assert_int_equal(j.verdicts_off, 1);
}

static void test_cheap_enough_polling_is_kept(void **state)
{
    struct poll_judge j;
    /* No more requests, and 4 % more CPU per request: inside the slack. */
    const struct mode_cost poll = { 10000, 52 * MS / 10 }, irq = { 10000, 5 * MS };

    poll_judge_init(&j);
    /* The first exploration is the 17th epoch: three in 64. */
    assert_int_equal(play(&j, 4 * POLL_JUDGE_EXPLORE_EVERY, poll, irq),
                     4 * POLL_JUDGE_EXPLORE_EVERY - 3);
    assert_true(j.allowed);
}

static void test_faster_polling_is_kept_while_it_buys_what_it_costs(void **state)
{
    struct poll_judge j;
    /* Twice the requests for 1.11x the CPU per request: a latency-bound stream. */
    const struct mode_cost poll = { 20000, 20 * MS }, irq = { 10000, 9 * MS };

    poll_judge_init(&j);
    play(&j, 4 * POLL_JUDGE_EXPLORE_EVERY, poll, irq);
    assert_true(j.allowed);
    assert_int_equal(j.verdicts_off, 0);
}

static void test_a_little_faster_for_much_dearer_is_turned_off(void **state)
{
    struct poll_judge j;
    /* 1.1x the requests for twice the CPU per request. */
    const struct mode_cost poll = { 11000, 20 * MS }, irq = { 10000, 9 * MS };

    poll_judge_init(&j);
    play(&j, POLL_JUDGE_EXPLORE_EVERY + 1, poll, irq);
    assert_false(j.allowed);
    assert_int_equal(j.verdicts_off, 1);
}

static void test_polling_comes_back_when_it_pays_again(void **state)
{
    struct poll_judge j;
    const struct mode_cost dear = { 5900, 14 * MS }, paying = { 20000, 20 * MS };
    const struct mode_cost irq = { 5800, 10 * MS };

    poll_judge_init(&j);
    play(&j, POLL_JUDGE_EXPLORE_EVERY + 1, dear, irq);
    assert_false(j.allowed);
    /* The workload changes: polling now doubles the rate.  The next exploration sees it. */
    play(&j, POLL_JUDGE_EXPLORE_EVERY, paying, irq);
    assert_true(j.allowed);
    assert_true(poll_judge_polling(&j));
}

static void test_idle_epochs_are_not_judged(void **state)
{
    struct poll_judge j;
    const struct poll_judge_epoch idle = { .wall_ns = 50 * MS,
                                           .cpu_ns = MS,
                                           .requests = POLL_JUDGE_MIN_REQUESTS - 1 };
    const struct poll_judge_epoch stopped = { .wall_ns = 0, .cpu_ns = 0, .requests = 1000 };

    poll_judge_init(&j);
    for (unsigned i = 0; i < 10 * POLL_JUDGE_EXPLORE_EVERY; i++) {
        poll_judge_epoch_end(&j, &idle);
        poll_judge_epoch_end(&j, &stopped);
    }
    /* Neither advanced the period: still polling, no exploration due yet. */
    assert_true(poll_judge_polling(&j));
    assert_int_equal(j.to_explore, POLL_JUDGE_EXPLORE_EVERY);
    assert_false(j.have[0] || j.have[1]);
}

static void test_huge_epochs_are_compared(void **state)
{
    struct poll_judge j;
    /* An hour-long epoch of 10M requests/s against a short one of 8M/s at the same cost. */
    const struct poll_judge_epoch poll = { .wall_ns = 3600ull * 1000 * MS,
                                           .cpu_ns = 3600ull * 1000 * MS,
                                           .requests = 36000000000ull };
    const struct poll_judge_epoch irq = { .wall_ns = 50 * MS,
                                          .cpu_ns = 40 * MS,
                                          .requests = 400000 };

    poll_judge_init(&j);
    for (unsigned i = 0; i < POLL_JUDGE_EXPLORE_EVERY; i++)
        poll_judge_epoch_end(&j, &poll);
    poll_judge_epoch_end(&j, &irq);
    /* 1.25x the requests for 1.25x the CPU per request: pays. */
    assert_true(j.allowed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_polling_and_explores_once_per_period),
        cmocka_unit_test(test_dearer_polling_without_more_requests_is_turned_off),
        cmocka_unit_test(test_cheap_enough_polling_is_kept),
        cmocka_unit_test(test_faster_polling_is_kept_while_it_buys_what_it_costs),
        cmocka_unit_test(test_a_little_faster_for_much_dearer_is_turned_off),
        cmocka_unit_test(test_polling_comes_back_when_it_pays_again),
        cmocka_unit_test(test_idle_epochs_are_not_judged),
        cmocka_unit_test(test_huge_epochs_are_compared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
