/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "io/io_loop.h"

#include <errno.h>
#include <string.h>

int io_loop_init(struct io_loop *loop, unsigned entries)
{
    int ret;

    if (entries < 8 || (entries & (entries - 1)) != 0)
        return -EINVAL;
    memset(loop, 0, sizeof(*loop));
    ret = io_uring_queue_init(entries, &loop->ring, 0);
    if (ret < 0)
        return ret;
    loop->pending = 0;
    return 0;
}

void io_loop_fini(struct io_loop *loop)
{
    io_uring_queue_exit(&loop->ring);
    loop->pending = 0;
}

/*
 * A signal landing in io_uring_enter only means "try again": nothing queued
 * was lost, so hide EINTR from the callers.
 */
static int submit_retry(struct io_loop *loop)
{
    int ret;

    do {
        ret = io_uring_submit(&loop->ring);
    } while (ret == -EINTR);
    return ret;
}

struct io_uring_sqe *io_loop_get_sqe(struct io_loop *loop, struct io_loop_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

    if (!sqe) {
        /*
         * The SQ ring is full of SQEs prepared but not yet handed to the
         * kernel; handing them over frees the slots.  With IORING_FEAT_NODROP
         * (every kernel we support) the kernel accepts them even when the CQ
         * ring is momentarily full, so this does not depend on reaping.
         */
        if (submit_retry(loop) < 0)
            return NULL;
        sqe = io_uring_get_sqe(&loop->ring);
        if (!sqe)
            return NULL;
    }
    /* Callers use io_uring_prep_*(), which leave user_data alone. */
    io_uring_sqe_set_data(sqe, op);
    loop->pending++;
    return sqe;
}

int io_loop_run_once(struct io_loop *loop, bool wait)
{
    struct io_uring_cqe *cqe;
    unsigned limit = loop->ring.cq.ring_entries;
    int ran = 0;
    int ret;

    if (wait && loop->pending > 0) {
        ret = io_uring_submit_and_wait(&loop->ring, 1);
    } else {
        ret = io_uring_submit(&loop->ring);
    }
    /*
     * EINTR: a signal; the caller gets control back to look at its flags.
     * EBUSY/EAGAIN: the kernel has a backlog of completions and wants them
     * reaped before it takes more submissions, which is what happens next.
     */
    if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
        return ret;

    /*
     * Bounded so that callbacks which keep producing instantly completing
     * work cannot keep the caller from its other duties forever.
     */
    while ((unsigned)ran < limit && io_uring_peek_cqe(&loop->ring, &cqe) == 0) {
        struct io_loop_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;

        /*
         * Consume the CQE before the callback runs: the callback may queue
         * new work, or even run the loop again, and must not see it twice.
         */
        io_uring_cqe_seen(&loop->ring, cqe);
        if (!more && loop->pending > 0)
            loop->pending--;
        if (op && op->cb)
            op->cb(op, res);
        ran++;
    }
    return ran;
}
