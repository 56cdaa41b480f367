/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iSCSI data path: one session per (LUN, worker), driven by the worker's
 * io_uring.  See bdev_iscsi.h for the threading.
 *
 * Two SQEs of ours may be in the worker's ring per session: rd_op, a POLLIN
 * poll on the socket with a linked 1 s timeout (libiscsi times its commands
 * out only when iscsi_service runs, so it must run even when nothing
 * arrives), or a plain timer while there is no session; and wr_op, a POLLOUT
 * poll while libiscsi has PDUs queued.  They are armed only while the worker
 * has requests on the LUN, so an idle LUN costs nothing and a drained one
 * can be closed; the NOP-In of an idle target therefore waits for the next
 * request, and a session it dropped meanwhile is noticed then.
 *
 * Nothing is torn down from inside a libiscsi callback: a callback only
 * marks the session broken, and drive() ends it once libiscsi returned.
 */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bdev/bdev_iscsi.h"
#include "util/log.h"

#define TICK_NS          1000000000ull
#define RETRY_NS         1000000000ull /* between failed logins */
#define CONNECT_LIMIT_NS 10000000000ull
#define CLOSE_WAIT_MS    2000

/* WRITE SAME's single block of zeroes: the largest block size we serve. */
static unsigned char zero_block[4096];

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct iscsi_wctx *wctx_of(struct bdev_io *io)
{
    struct bdev_iscsi *b = (struct bdev_iscsi *)io->bdev;

    return &b->w[io->loop->index];
}

void bdev_iscsi_hold(struct iscsi_wctx *w, struct bdev_io *io, uint64_t now)
{
    /* The clock starts at the first loss: a request lost twice is not held twice as long. */
    if (io->deadline_ns == 0)
        io->deadline_ns = now + (uint64_t)w->b->timeout_s * 1000000000ull;
    io->offload_next = NULL;
    if (w->held_tail)
        w->held_tail->offload_next = io;
    else
        w->held_head = io;
    w->held_tail = io;
}

struct bdev_io *bdev_iscsi_unhold(struct iscsi_wctx *w)
{
    struct bdev_io *io = w->held_head;

    if (io) {
        w->held_head = io->offload_next;
        if (!w->held_head)
            w->held_tail = NULL;
        io->offload_next = NULL;
    }
    return io;
}

bool bdev_iscsi_unhold_io(struct iscsi_wctx *w, struct bdev_io *io)
{
    struct bdev_io *prev = NULL;

    for (struct bdev_io *cur = w->held_head; cur; prev = cur, cur = cur->offload_next) {
        if (cur != io)
            continue;
        if (prev)
            prev->offload_next = cur->offload_next;
        else
            w->held_head = cur->offload_next;
        if (w->held_tail == cur)
            w->held_tail = prev;
        cur->offload_next = NULL;
        return true;
    }
    return false;
}

struct bdev_io *bdev_iscsi_expired(struct iscsi_wctx *w, uint64_t now)
{
    struct bdev_io *out = NULL, **outp = &out;
    struct bdev_io *keep = NULL, *keep_tail = NULL;
    struct bdev_io *io;

    while ((io = bdev_iscsi_unhold(w))) {
        if (io->deadline_ns <= now) {
            *outp = io;
            outp = &io->offload_next;
            continue;
        }
        if (keep_tail)
            keep_tail->offload_next = io;
        else
            keep = io;
        keep_tail = io;
    }
    w->held_head = keep;
    w->held_tail = keep_tail;
    return out;
}

static void arm(struct iscsi_wctx *w);

static void complete(struct bdev_io *io, int res)
{
    io->backend_ctx = NULL;
    io->cb(io, res);
}

static void task_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data);

/* Hand io's next piece to libiscsi.  false: libiscsi refused it (no memory, session unusable). */
static bool issue(struct iscsi_wctx *w, struct bdev_io *io)
{
    struct bdev_iscsi *b = w->b;
    uint32_t bs = b->bdev.block_size;
    uint64_t lba = (io->offset + io->done) / bs;
    uint64_t left = (io->len - io->done) / bs;
    int lun = b->t.lun;
    struct scsi_task *t = NULL;
    uint32_t limit;

    switch (io->type) {
    case BDEV_IO_READ:
        t = iscsi_read16_iov_task(w->iscsi, lun, lba, (uint32_t)io->len, (int)bs, 0, 0, 0, 0, 0,
                                  task_cb, io, (struct scsi_iovec *)io->iov, (int)io->iovcnt);
        io->chunk = (uint32_t)left;
        break;
    case BDEV_IO_WRITE:
        t = iscsi_write16_iov_task(w->iscsi, lun, lba, NULL, (uint32_t)io->len, (int)bs, 0, 0,
                                   io->fua, 0, 0, task_cb, io, (struct scsi_iovec *)io->iov,
                                   (int)io->iovcnt);
        io->chunk = (uint32_t)left;
        break;
    case BDEV_IO_FLUSH:
        t = iscsi_synchronizecache16_task(w->iscsi, lun, 0, 0, 0, 0, task_cb, io);
        io->chunk = 0;
        break;
    case BDEV_IO_DISCARD:
    case BDEV_IO_WRITE_ZEROES:
        /* io->chunk counts blocks here: a piece may be past 4 GiB. */
        limit =
            io->type == BDEV_IO_DISCARD && b->use_unmap ? b->max_unmap_blocks : b->max_ws_blocks;
        if (limit == 0)
            limit = UINT32_MAX;
        io->chunk = (uint32_t)(left < limit ? left : limit);
        if (io->type == BDEV_IO_DISCARD && b->use_unmap) {
            struct unmap_list l = { .lba = lba, .num = io->chunk };

            t = iscsi_unmap_task(w->iscsi, lun, 0, 0, &l, 1, task_cb, io);
        } else {
            t = iscsi_writesame16_task(w->iscsi, lun, lba, zero_block, bs, io->chunk, 0,
                                       io->type == BDEV_IO_DISCARD, 0, 0, task_cb, io);
        }
        break;
    default:
        break;
    }
    if (!t)
        return false;
    io->backend_ctx = t;
    w->inflight++;
    return true;
}

/* Issue io now if the session can take it, else hold it for the next one. */
static void dispatch(struct iscsi_wctx *w, struct bdev_io *io)
{
    if (w->state == ISCSI_W_UP && !w->broken) {
        if (issue(w, io))
            return;
        LOG_RATELIMITED(LOG_LEVEL_WARN, "iscsi %s: cannot queue a command: %s", w->b->t.iqn,
                        iscsi_get_error(w->iscsi));
        w->broken = true;
    }
    bdev_iscsi_hold(w, io, now_ns());
}

static void task_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
    struct scsi_task *t = command_data;
    struct bdev_io *io = private_data;
    struct iscsi_wctx *w = wctx_of(io);
    int key = 0, ascq = 0, res;
    uint32_t sense;

    (void)ctx;
    if (t && status == SCSI_STATUS_CHECK_CONDITION) {
        key = t->sense.key;
        ascq = t->sense.ascq;
    }
    if (t)
        scsi_free_scsi_task(t);
    io->backend_ctx = NULL;
    w->inflight--;
    switch (bdev_iscsi_verdict(status, key, ascq, io->attempt, &res, &sense)) {
    case ISCSI_V_DONE:
        if (res == 0 && io->chunk &&
            (io->type == BDEV_IO_DISCARD || io->type == BDEV_IO_WRITE_ZEROES)) {
            io->done += (uint64_t)io->chunk * w->b->bdev.block_size;
            if (io->done < io->len) {
                dispatch(w, io);
                return;
            }
        }
        io->sense = sense;
        complete(io, res);
        return;
    case ISCSI_V_RETRY:
        io->attempt++;
        dispatch(w, io);
        return;
    case ISCSI_V_LOST:
        /* During our own teardown the cancellation is expected; otherwise it is the news. */
        if (w->iscsi == ctx)
            w->broken = true;
        bdev_iscsi_hold(w, io, now_ns());
        return;
    }
}

static void connect_cb(struct iscsi_context *ctx, int status, void *command_data,
                       void *private_data)
{
    struct iscsi_wctx *w = private_data;

    (void)command_data;
    if (w->iscsi != ctx)
        return;
    /* Called again, with an error, when an established session fails later. */
    if (status == SCSI_STATUS_GOOD && w->state == ISCSI_W_CONNECTING) {
        if (w->lost)
            LOG_INFO("iscsi %s: logged in again (worker %u); reissuing the held requests",
                     w->b->t.iqn, w->loop->index);
        w->lost = false;
        w->state = ISCSI_W_UP;
        w->failures = 0;
        return;
    }
    w->broken = true;
}

static int service(struct iscsi_wctx *w, int revents)
{
    int r;

    w->in_lib = true;
    r = iscsi_service(w->iscsi, revents);
    w->in_lib = false;
    if (r < 0)
        w->broken = true;
    return r;
}

/* End the session; its commands come back cancelled and join the held list. */
static void teardown(struct iscsi_wctx *w, uint64_t now)
{
    struct iscsi_context *ctx = w->iscsi;
    bool was_up = w->state == ISCSI_W_UP;

    if (ctx) {
        int fd = iscsi_get_fd(ctx);

        /* A poll in the ring holds the file open: only this makes it complete. */
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
        char why[160];

        /* libiscsi's messages may end in a newline. */
        snprintf(why, sizeof(why), "%s", iscsi_get_error(ctx));
        why[strcspn(why, "\n")] = 0;
        if (was_up)
            LOG_WARN("iscsi %s: session lost (worker %u: %s); holding I/O up to %u s", w->b->t.iqn,
                     w->loop->index, why, w->b->timeout_s);
        else if (w->failures % 10 == 0)
            LOG_WARN("iscsi %s: login failed (worker %u: %s); retrying", w->b->t.iqn,
                     w->loop->index, why);
        w->iscsi = NULL;
        w->in_lib = true;
        iscsi_destroy_context(ctx);
        w->in_lib = false;
    }
    w->gen++;
    w->state = ISCSI_W_DOWN;
    w->broken = false;
    if (was_up) {
        w->lost = true;
        w->retry_at_ns = now;
    } else {
        w->failures++;
        w->retry_at_ns = now + RETRY_NS;
    }
}

static void start_connect(struct iscsi_wctx *w, uint64_t now)
{
    struct bdev_iscsi *b = w->b;
    struct iscsi_context *ctx = bdev_iscsi_new_context(b);

    w->retry_at_ns = now + RETRY_NS;
    if (!ctx)
        return;
    w->iscsi = ctx;
    w->gen++;
    w->state = ISCSI_W_CONNECTING;
    w->connect_started = now;
    w->in_lib = true;
    if (iscsi_full_connect_async(ctx, b->t.portal, b->t.lun, connect_cb, w) < 0)
        w->broken = true;
    w->in_lib = false;
}

/* After every event: end a broken session, log in again, fail what waited too long, re-arm. */
static void drive(struct iscsi_wctx *w)
{
    uint64_t now = now_ns();
    struct bdev_io *io, *next;

    if (w->state == ISCSI_W_CONNECTING && now - w->connect_started > CONNECT_LIMIT_NS)
        w->broken = true;
    if (w->broken)
        teardown(w, now);
    for (io = bdev_iscsi_expired(w, now); io; io = next) {
        next = io->offload_next;
        io->offload_next = NULL;
        io->sense = BDEV_ISCSI_SENSE_UNREACHABLE;
        complete(io, -EREMOTEIO);
    }
    if (w->state == ISCSI_W_DOWN && w->held_head && now >= w->retry_at_ns)
        start_connect(w, now);
    if (w->state == ISCSI_W_UP && !w->broken && w->held_head) {
        /* Detached first: one that fails again is held anew, not retried in a loop. */
        io = w->held_head;
        w->held_head = w->held_tail = NULL;
        for (; io; io = next) {
            next = io->offload_next;
            io->offload_next = NULL;
            dispatch(w, io);
        }
    }
    arm(w);
}

static void rd_done(struct io_loop_op *op, int res)
{
    struct iscsi_wctx *w = (struct iscsi_wctx *)((char *)op - offsetof(struct iscsi_wctx, rd_op));

    w->rd_armed = false;
    if (w->iscsi && w->rd_gen == w->gen) {
        /* -ECANCELED: the linked timeout fired; libiscsi still scans for timed-out commands. */
        if (res >= 0 || res == -ECANCELED)
            service(w, res > 0 ? res : 0);
        else
            w->broken = true;
    }
    drive(w);
    /* Last: once it reads 0, close may free w. */
    atomic_fetch_sub_explicit(&w->armed, 1, memory_order_release);
}

static void wr_done(struct io_loop_op *op, int res)
{
    struct iscsi_wctx *w = (struct iscsi_wctx *)((char *)op - offsetof(struct iscsi_wctx, wr_op));

    w->wr_armed = false;
    if (w->iscsi && w->wr_gen == w->gen) {
        if (res >= 0)
            service(w, res);
        else
            w->broken = true;
    }
    drive(w);
    atomic_fetch_sub_explicit(&w->armed, 1, memory_order_release);
}

static void set_ts(struct iscsi_wctx *w, uint64_t ns)
{
    w->ts.tv_sec = (long long)(ns / 1000000000ull);
    w->ts.tv_nsec = (long long)(ns % 1000000000ull);
}

static void arm_rd(struct iscsi_wctx *w)
{
    struct io_loop *loop = w->loop;
    struct io_uring_sqe *sqe;

    w->rd_op.cb = rd_done;
    if (w->iscsi && w->state != ISCSI_W_DOWN) {
        /* The poll and its timeout must reach the kernel in the same submission. */
        if (io_uring_sq_space_left(&loop->ring) < 2)
            io_uring_submit(&loop->ring);
        sqe = io_loop_get_sqe(loop, &w->rd_op);
        if (!sqe)
            return;
        io_uring_prep_poll_add(sqe, iscsi_get_fd(w->iscsi), POLLIN);
        sqe->flags |= IOSQE_IO_LINK;
        set_ts(w, TICK_NS);
        sqe = io_loop_get_sqe(loop, NULL);
        if (sqe) {
            io_uring_prep_link_timeout(sqe, &w->ts, 0);
            io_uring_sqe_set_data(sqe, NULL);
        }
    } else {
        uint64_t now = now_ns(), wake = now + TICK_NS;

        if (w->retry_at_ns > now && w->retry_at_ns < wake)
            wake = w->retry_at_ns;
        for (struct bdev_io *io = w->held_head; io; io = io->offload_next)
            if (io->deadline_ns < wake)
                wake = io->deadline_ns;
        sqe = io_loop_get_sqe(loop, &w->rd_op);
        if (!sqe)
            return;
        set_ts(w, wake > now + 1000000 ? wake - now : 1000000);
        io_uring_prep_timeout(sqe, &w->ts, 0, 0);
    }
    w->rd_gen = w->gen;
    w->rd_armed = true;
    atomic_fetch_add_explicit(&w->armed, 1, memory_order_relaxed);
}

static void arm(struct iscsi_wctx *w)
{
    if (!w->held_head && w->inflight == 0)
        return;
    if (!w->rd_armed)
        arm_rd(w);
    if (!w->wr_armed && w->iscsi && w->state != ISCSI_W_DOWN &&
        (iscsi_which_events(w->iscsi) & POLLOUT)) {
        struct io_uring_sqe *sqe = io_loop_get_sqe(w->loop, &w->wr_op);

        if (!sqe)
            return;
        w->wr_op.cb = wr_done;
        io_uring_prep_poll_add(sqe, iscsi_get_fd(w->iscsi), POLLOUT);
        w->wr_gen = w->gen;
        w->wr_armed = true;
        atomic_fetch_add_explicit(&w->armed, 1, memory_order_relaxed);
    }
}

int bdev_iscsi_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct bdev_iscsi *b = (struct bdev_iscsi *)bdev;
    struct iscsi_wctx *w;
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    if (loop->index >= b->nw || io->len > UINT32_MAX)
        return -EINVAL;
    w = &b->w[loop->index];
    w->loop = loop;
    io->loop = loop;
    io->done = 0;
    io->chunk = 0;
    io->attempt = 0;
    io->deadline_ns = 0;
    io->backend_ctx = NULL;
    io->offload_next = NULL;
    if (io->len == 0 && io->type != BDEV_IO_FLUSH) {
        io->cb(io, 0);
        return 0;
    }
    if (w->state == ISCSI_W_UP && !w->broken) {
        dispatch(w, io);
    } else {
        uint64_t now = now_ns();

        bdev_iscsi_hold(w, io, now);
        /* Inside libiscsi (a completion submitting more) drive() follows anyway. */
        if (w->state == ISCSI_W_DOWN && !w->in_lib && now >= w->retry_at_ns)
            start_connect(w, now);
    }
    arm(w);
    return 0;
}

static void cancelled(struct io_loop_op *op, int res)
{
    struct bdev_io *io = (struct bdev_io *)((char *)op - offsetof(struct bdev_io, op));

    complete(io, res);
}

int bdev_iscsi_cancel(struct bdev *bdev, struct bdev_io *io)
{
    struct iscsi_wctx *w;

    (void)bdev;
    if (!io->loop)
        return -EINVAL;
    w = wctx_of(io);
    /*
     * A command the target has is left to finish: aborting it there would
     * need a task management round trip for little gain.  One still held
     * here has not reached the target and can go at once.
     */
    if (!bdev_iscsi_unhold_io(w, io))
        return -EALREADY;
    io->op.cb = cancelled;
    io_loop_expect_post(io->loop);
    io_loop_post(io->loop, &io->op, -ECANCELED);
    return 0;
}

bool bdev_iscsi_wctx_close(struct iscsi_wctx *w)
{
    if (w->iscsi) {
        int fd = iscsi_get_fd(w->iscsi);

        if (fd >= 0 && atomic_load(&w->armed))
            shutdown(fd, SHUT_RDWR);
    }
    for (unsigned ms = 0; atomic_load_explicit(&w->armed, memory_order_acquire); ms++) {
        if (ms >= CLOSE_WAIT_MS)
            return false;
        usleep(1000);
    }
    if (w->iscsi) {
        struct iscsi_context *ctx = w->iscsi;

        /* No logout: it would block the control thread on a target that may be gone. */
        w->iscsi = NULL;
        iscsi_destroy_context(ctx);
    }
    return true;
}
