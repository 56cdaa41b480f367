/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/poll_window.h"

void poll_window_init(struct poll_window *p, uint64_t max_ns)
{
    p->max_ns = max_ns;
    /* Start asleep: a device that never gets busy never burns a cycle. */
    p->cur_ns = 0;
}

void poll_window_after_sleep(struct poll_window *p, uint64_t polled_ns, uint64_t slept_ns)
{
    uint64_t idle = polled_ns + slept_ns;

    if (p->max_ns == 0)
        return;
    if (idle <= p->max_ns) {
        /* A window this long would have caught the work without a sleep. */
        uint64_t next = p->cur_ns ? p->cur_ns * 2 : POLL_WINDOW_MIN_NS;
        while (next < idle && next < p->max_ns)
            next *= 2;
        p->cur_ns = next < p->max_ns ? next : p->max_ns;
        return;
    }
    /* The gaps are longer than we are willing to spin: back off. */
    p->cur_ns /= 2;
    if (p->cur_ns < POLL_WINDOW_MIN_NS)
        p->cur_ns = 0;
}
