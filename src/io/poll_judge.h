/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether polling pays, judged by what it did, not by a model of it.
 *
 * The poll window (poll_window.h) values a sleep by what the worker measures
 * a wait to cost.  On a machine where that measure runs high (nested
 * virtualisation: a pinned worker at 10k requests/s measured 110-190 us for
 * a wait while interrupt mode's whole request cost 16 us) the window polls
 * through gaps it cannot pay for.  The judge compares outcomes instead:
 * time is cut into epochs of about POLL_JUDGE_EPOCH_NS; every
 * POLL_JUDGE_EXPLORE_EVERY epochs one runs in the other mode (interrupt
 * mode while polling is allowed, polling while it is not), and the two
 * latest epochs of each mode are compared.  Polling stays allowed while it
 * costs at most POLL_JUDGE_CPU_SLACK_PCT more CPU per request than interrupt
 * mode, or buys at least as much as it costs: its requests per second over
 * interrupt mode's at least its CPU per request over interrupt mode's (1.7x
 * the requests for 1.2x the CPU pays; 1.08x for 1.25x does not).  Otherwise
 * the worker runs in interrupt mode until a later
 * exploration says polling pays again.  The worker ends an epoch once it has
 * lasted POLL_JUDGE_EPOCH_NS and seen POLL_JUDGE_MIN_REQUESTS requests: at
 * 10k requests/s (a TCG guest) 50 ms hold 500, and epochs that short differ
 * by more than the 5 % the rule looks at, so a verdict would be a coin toss
 * that lets polling win on either of its two chances.  An epoch with fewer
 * requests is not judged.
 *
 * Pure arithmetic, no clock: the worker measures and reports.
 */
#ifndef VUS_IO_POLL_JUDGE_H
#define VUS_IO_POLL_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#define POLL_JUDGE_EPOCH_NS (50u * 1000 * 1000)
/* One epoch in this many runs the mode not in use: what exploring costs at most. */
#define POLL_JUDGE_EXPLORE_EVERY 16u
/* Fewer requests than this in an epoch: nothing to judge by. */
#define POLL_JUDGE_MIN_REQUESTS  1024u
#define POLL_JUDGE_CPU_SLACK_PCT 5u

/* What one epoch did. */
struct poll_judge_epoch {
    uint64_t wall_ns;
    uint64_t cpu_ns;
    uint64_t requests;
};

struct poll_judge {
    bool allowed;        /* the verdict: polling pays (the mode between explorations) */
    bool exploring;      /* this epoch runs the other mode */
    unsigned to_explore; /* epochs until the next exploration */
    bool have[2];        /* [polling]: an epoch of that mode was measured */
    struct poll_judge_epoch last[2];
    uint64_t verdicts_off; /* times polling was judged not to pay */
};

void poll_judge_init(struct poll_judge *j);

/* Whether the worker may poll in the current epoch. */
static inline bool poll_judge_polling(const struct poll_judge *j)
{
    return j->allowed != j->exploring;
}

/* The current epoch is over; it did e.  Picks the next epoch's mode. */
void poll_judge_epoch_end(struct poll_judge *j, const struct poll_judge_epoch *e);

#endif
