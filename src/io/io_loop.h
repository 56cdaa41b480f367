/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A per-thread event loop built on one io_uring.
 *
 * Every asynchronous operation of a worker (a kick eventfd becoming readable,
 * a backend read or write, a mailbox wakeup) is an SQE whose user_data points
 * at a struct io_loop_op embedded in the caller's own context; the loop calls
 * op->cb with the CQE result.  Nothing here allocates per operation.
 *
 * Threading: an io_loop belongs to the thread that created it.  All functions
 * must be called from that thread; callbacks run on it.
 */
#ifndef VUS_IO_IO_LOOP_H
#define VUS_IO_IO_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct io_loop_op;
typedef void (*io_loop_cb)(struct io_loop_op *op, int res);

struct io_loop_op {
    io_loop_cb cb;
};

struct io_loop {
    struct io_uring ring;
    unsigned pending; /* SQEs submitted or queued whose CQE has not been seen */
};

/* entries: SQ size (power of two, >= 8).  Returns 0 or -errno. */
int io_loop_init(struct io_loop *loop, unsigned entries);
void io_loop_fini(struct io_loop *loop);

/*
 * Get an SQE bound to op (user_data set, pending counted).  When the SQ is
 * full, queued SQEs are submitted first, so this only fails (NULL) if the
 * kernel refuses the submission.
 */
struct io_uring_sqe *io_loop_get_sqe(struct io_loop *loop, struct io_loop_op *op);

/*
 * Submit what is queued, wait for at least one completion if wait is true
 * (and something is pending), then run the callbacks of all available CQEs.
 * Returns the number of callbacks run, or -errno.
 */
int io_loop_run_once(struct io_loop *loop, bool wait);

#endif
