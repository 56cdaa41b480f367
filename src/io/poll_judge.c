/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/poll_judge.h"

void poll_judge_init(struct poll_judge *j)
{
    /* Polling until shown otherwise: the window itself starts asleep and probes. */
    *j = (struct poll_judge){ .allowed = true, .to_explore = POLL_JUDGE_EXPLORE_EVERY };
}

/*
 * Whether polling's epoch p beat interrupt mode's epoch i by the header's
 * rule.  In double: ratios of counts, where a few significant digits are
 * all that matters, and products of them would not fit in 128 bits.
 */
static bool polling_pays(const struct poll_judge_epoch *p, const struct poll_judge_epoch *i)
{
    double rate =
        ((double)p->requests / (double)p->wall_ns) / ((double)i->requests / (double)i->wall_ns);
    double cost = ((double)p->cpu_ns / (double)p->requests) /
                  ((double)(i->cpu_ns ? i->cpu_ns : 1) / (double)i->requests);

    return cost <= 1.0 + POLL_JUDGE_CPU_SLACK_PCT / 100.0 || rate >= cost;
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
