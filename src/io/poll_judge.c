/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/poll_judge.h"

void poll_judge_init(struct poll_judge *j)
{
    /* Polling until shown otherwise: the window itself starts asleep and probes. */
    *j = (struct poll_judge){ .allowed = true, .to_explore = POLL_JUDGE_EXPLORE_EVERY };
}

/*
 * Whether polling's epoch p beat interrupt mode's epoch i by the header's
 * rule.  Cross-multiplied, no division: a rate is requests / wall, a cost
 * cpu / requests.  In 128 bits: an epoch can last as long as the worker
 * slept, and two 64-bit products of hours in nanoseconds and billions of
 * requests would not fit in 64.
 */
static bool polling_pays(const struct poll_judge_epoch *p, const struct poll_judge_epoch *i)
{
    typedef unsigned __int128 u128;

    /* p.req / p.wall >= (1 + gain) * i.req / i.wall */
    if ((u128)100 * p->requests * i->wall_ns >=
        (u128)(100 + POLL_JUDGE_RATE_GAIN_PCT) * i->requests * p->wall_ns)
        return true;
    /* p.cpu / p.req <= (1 + slack) * i.cpu / i.req */
    return (u128)100 * p->cpu_ns * i->requests <=
           (u128)(100 + POLL_JUDGE_CPU_SLACK_PCT) * i->cpu_ns * p->requests;
}

void poll_judge_epoch_end(struct poll_judge *j, const struct poll_judge_epoch *e)
{
    bool polled = poll_judge_polling(j);
    bool was_exploring = j->exploring;

    /* Too few requests, or a clock that went nowhere: the epoch tells nothing. */
    if (e->requests < POLL_JUDGE_MIN_REQUESTS || e->wall_ns == 0)
        return;
    j->last[polled] = *e;
    j->have[polled] = true;
    j->exploring = false;
    /* A verdict needs both modes, and is taken right after an exploration, the fresher of the two.
     */
    if (was_exploring && j->have[0] && j->have[1]) {
        bool pays = polling_pays(&j->last[1], &j->last[0]);

        if (j->allowed && !pays)
            j->verdicts_off++;
        j->allowed = pays;
    }
    if (--j->to_explore == 0) {
        j->to_explore = POLL_JUDGE_EXPLORE_EVERY;
        j->exploring = true;
    }
}
