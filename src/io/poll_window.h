/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Adaptive polling: how long a worker keeps looking at its rings and its
 * io_uring after the last work it found before it goes to sleep.
 *
 * Sleeping costs a kick from the guest (an exit to the frontend's eventfd
 * write) and a wakeup here, several microseconds each way; polling costs the
 * CPU it spins on.  Polling pays when the next request comes within a short
 * time, which is the case while a guest keeps a queue busy and not while it
 * is idle.  The window therefore follows what the sleeps showed: a sleep
 * that a longer window (up to the maximum) would have covered grows it, a
 * sleep longer than the maximum shrinks it, so an idle device drops to pure
 * interrupt mode and a busy one stops taking interrupts.
 *
 * Pure arithmetic, no clock: the worker measures and reports.
 */
#ifndef VUS_IO_POLL_WINDOW_H
#define VUS_IO_POLL_WINDOW_H

#include <stdint.h>

/* The first window after an idle period, and the smallest kept. */
#define POLL_WINDOW_MIN_NS 1000u

struct poll_window {
    uint64_t max_ns; /* 0: never poll */
    uint64_t cur_ns; /* poll this long before sleeping; 0 = sleep at once */
};

void poll_window_init(struct poll_window *p, uint64_t max_ns);

/*
 * The worker polled for polled_ns without finding work, then slept for
 * slept_ns until work (a kick or an I/O completion) woke it.
 */
void poll_window_after_sleep(struct poll_window *p, uint64_t polled_ns, uint64_t slept_ns);

#endif
