/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/poll_window.h"

/* The running averages weigh the newest gap 1/8: they follow about the last 8. */
#define AVG_DIV 8

void poll_window_init(struct poll_window *p, uint64_t max_ns)
{
    *p = (struct poll_window){ .max_ns = max_ns,
                               .sleeps_to_probe = POLL_PROBE_EVERY,
                               .probe_every = POLL_PROBE_EVERY,
                               .cpu_ns = POLL_SLEEP_COST_NS / 4,
                               .wake_ns = POLL_SLEEP_COST_NS / 2 };
    /* cur_ns 0: start asleep; a device that never gets busy never burns a cycle. */
}

/* The window polling uses, and probes: S capped at the maximum (the header says why). */
static uint64_t full_window(const struct poll_window *p)
{
    uint64_t s = poll_window_sleep_ns(p);

    return s < p->max_ns ? s : p->max_ns;
}

/* The full window if it pays for itself, else 0. */
static uint64_t paying_window(const struct poll_window *p)
{
    uint64_t a = p->caught_ns, s = poll_window_sleep_ns(p), w = full_window(p);

    if (a == 0 || a >= s)
        return 0; /* nothing caught yet, or a caught gap spins longer than a sleep costs */
    /* S and max_ns are far below 2^51: 4096 times either fits. */
    uint64_t gain = (uint64_t)p->caught_frac * (s - a);
    uint64_t loss = (uint64_t)(POLL_FRAC_ONE - p->caught_frac) * w;

    return gain > loss ? w : 0;
}

void poll_window_set_max(struct poll_window *p, uint64_t max_ns)
{
    p->max_ns = max_ns;
    if (p->cur_ns > full_window(p))
        p->cur_ns = full_window(p);
    if (p->cur_ns == 0)
        p->probing = false;
    p->sleeps_to_probe = p->probe_every = POLL_PROBE_EVERY;
}

void poll_window_caught(struct poll_window *p, uint64_t polled_ns)
{
    if (p->max_ns == 0)
        return;
    if (polled_ns > p->cur_ns) {
        /* Past the window: the worker lost its CPU meanwhile.  No catch to learn from. */
        poll_window_after_sleep(p, polled_ns, 0);
        return;
    }
    p->probe_every = POLL_PROBE_EVERY;
    p->caught_frac += (POLL_FRAC_ONE - p->caught_frac) / AVG_DIV;
    if (p->caught_ns == 0)
        p->caught_ns = polled_ns ? polled_ns : 1;
    else
        p->caught_ns = (uint64_t)((int64_t)p->caught_ns +
                                  ((int64_t)polled_ns - (int64_t)p->caught_ns) / AVG_DIV);
    p->cur_ns = paying_window(p);
    /* Not paying yet, but probes catch: keep probing until it pays or one misses. */
    p->probing = p->cur_ns == 0;
    if (p->probing)
        p->cur_ns = full_window(p);
}

/* Measurements are kept between these: one odd sample must not turn polling off or on. */
#define COST_MIN_NS 500u
#define COST_MAX_NS 500000u

static uint64_t clamp_cost(uint64_t ns)
{
    return ns < COST_MIN_NS ? COST_MIN_NS : ns > COST_MAX_NS ? COST_MAX_NS : ns;
}

void poll_window_sleep_cost(struct poll_window *p, uint64_t wait_cpu_ns)
{
    int64_t ns = (int64_t)clamp_cost(wait_cpu_ns);

    p->cpu_ns = (uint64_t)((int64_t)p->cpu_ns + (ns - (int64_t)p->cpu_ns) / AVG_DIV);
}

void poll_window_wake_latency(struct poll_window *p, uint64_t late_ns)
{
    p->wake_ns = clamp_cost(late_ns);
}

void poll_window_after_sleep(struct poll_window *p, uint64_t polled_ns, uint64_t slept_ns)
{
    if (p->max_ns == 0)
        return;
    if (polled_ns > 0) {
        /* A gap the window (or a probe) missed. */
        if (p->probing && p->probe_every < POLL_PROBE_EVERY_MAX)
            p->probe_every *= 2;
        p->caught_frac -= p->caught_frac / AVG_DIV;
        p->cur_ns = paying_window(p);
        p->probing = false;
        p->sleeps_to_probe = p->probe_every;
        return;
    }
    /* Interrupt mode.  A long sleep is an idle guest: nothing to probe for. */
    if (slept_ns > p->max_ns + POLL_WAKE_SLACK_NS)
        return;
    /*
     * Woken sooner than a probe would have polled: a probe would have
     * caught that gap.  Whatever made the last probes miss (the guest's
     * vCPU preempted a while, say) is over: probe at the usual pace again.
     */
    if (slept_ns < full_window(p)) {
        p->probe_every = POLL_PROBE_EVERY;
        if (p->sleeps_to_probe > POLL_PROBE_EVERY)
            p->sleeps_to_probe = POLL_PROBE_EVERY;
    }
    if (--p->sleeps_to_probe == 0) {
        p->sleeps_to_probe = p->probe_every;
        p->cur_ns = full_window(p);
        p->probing = true;
    }
}
