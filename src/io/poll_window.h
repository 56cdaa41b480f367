/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Adaptive polling: how long a worker keeps looking at its rings and its
 * io_uring after the last work it found before it goes to sleep.
 *
 * A sleep costs a wakeup here and a kick from the guest (an eventfd write,
 * in a VM an exit): S for both together.  Polling costs the CPU it spins on.
 * A window of W pays for itself when the idle gaps it catches (a share f of
 * the gaps, a long on average) save more sleeps than the gaps it misses
 * waste spinning:
 *
 *     f * (S - a)  >  (1 - f) * W
 *
 * S is measured: the worker times the CPU its own waits take now and then
 * (poll_window_sleep_cost) and counts the guest's kick as costing as much,
 * and adds how late it wakes from a short sleep (poll_window_wake_latency,
 * measured when it starts): the latency a sleep adds to the request that
 * ends it, valued like CPU time.  S differs a lot between machines: a few
 * microseconds on bare metal; on the nested-virtualisation machines this
 * was tuned on a wait takes 17-20 us of CPU and wakes ~50 us late.
 *
 * f and a are running averages over the gaps the worker polled: each one it
 * caught (with its length) and each one it missed.  While the inequality
 * holds the window is S, capped at the maximum: spinning at most as long as
 * a sleep costs never spends more than twice what the best choice for that
 * gap would have (the ski-rental bound), and a window as short as the
 * typical gap would miss every slightly longer one and pay for a sleep on
 * top.  Once the inequality fails the window is 0 (interrupt mode).  A sleep says little about the
 * gap before it (the wakeup's own latency is in what the worker measures), so in interrupt mode the
 * worker probes: every POLL_PROBE_EVERY sleeps no longer than the maximum, it polls one gap with
 * that window, and keeps probing while probes catch.  A probe that misses doubles the sleeps to
 * the next one, up to POLL_PROBE_EVERY_MAX: a steady stream of gaps a little dearer than a sleep
 * would otherwise pay a wasted window every POLL_PROBE_EVERY requests, a CPU cost interrupt mode
 * does not have.  Any catch brings the probes back to POLL_PROBE_EVERY, and so does a sleep shorter
 * than the window a probe would poll (that gap a probe would have caught: the misses were a passing
 * disturbance, a guest vCPU preempted for a while, not the gaps growing).  Sleeps longer than the
 * maximum plus
 * POLL_WAKE_SLACK_NS (an idle guest, a slow TCG guest at queue depth 1) are
 * never probed for.
 *
 * Pure arithmetic, no clock: the worker measures and reports.
 */
#ifndef VUS_IO_POLL_WINDOW_H
#define VUS_IO_POLL_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

/* What a sleep costs (both sides' CPU, wakeup latency) until measured. */
#define POLL_SLEEP_COST_NS 8000u
/* In interrupt mode, probe one gap in this many short sleeps... */
#define POLL_PROBE_EVERY 16u
/* ...doubled by each probe that misses, up to this many. */
#define POLL_PROBE_EVERY_MAX 1024u
/* A sleep is short when no longer than the maximum plus this (a slow wakeup). */
#define POLL_WAKE_SLACK_NS 64000u
/* f is kept in units of 1/POLL_FRAC_ONE. */
#define POLL_FRAC_ONE 4096u

struct poll_window {
    uint64_t max_ns;      /* 0: never poll */
    uint64_t cur_ns;      /* poll this long before sleeping; 0 = sleep at once */
    uint32_t caught_frac; /* f: running share of polled gaps caught */
    uint64_t caught_ns;   /* a: running mean length of caught gaps; 0 = none yet */
    unsigned sleeps_to_probe;
    unsigned probe_every; /* sleeps between probes now */
    bool probing;         /* cur_ns is a probe, not a window that pays */
    uint64_t cpu_ns;      /* running mean CPU of the worker's waits */
    uint64_t wake_ns;     /* wakeup latency */
};

/* S, the cost of a sleep: both sides' CPU (the guest's kick costs about our wakeup) and latency. */
static inline uint64_t poll_window_sleep_ns(const struct poll_window *p)
{
    return 2 * p->cpu_ns + p->wake_ns;
}

void poll_window_init(struct poll_window *p, uint64_t max_ns);

/*
 * A new maximum (0: interrupt mode from now on), keeping what was measured
 * and learnt.  A window in use is cut to it; a worker that did not poll
 * starts polling through probes, as at start.
 */
void poll_window_set_max(struct poll_window *p, uint64_t max_ns);

/*
 * Polling found work polled_ns after its first look came up empty.  Past the
 * window (the thread was descheduled) it counts as a miss.
 */
void poll_window_caught(struct poll_window *p, uint64_t polled_ns);

/* A wait of the worker took wait_cpu_ns of its CPU (see io_loop.measure_wait). */
void poll_window_sleep_cost(struct poll_window *p, uint64_t wait_cpu_ns);
/* The worker wakes this late from a sleep. */
void poll_window_wake_latency(struct poll_window *p, uint64_t late_ns);

/*
 * The worker polled for polled_ns without finding work (0 when it did not
 * poll), then slept for slept_ns until work (a kick or a completion) woke it.
 */
void poll_window_after_sleep(struct poll_window *p, uint64_t polled_ns, uint64_t slept_ns);

#endif
