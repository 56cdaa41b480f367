/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NVMe data path: struct bdev_io -> NVMe commands on the submitting
 * worker's own queue pair, completions -> bdev_io callbacks.
 *
 * Threading: everything here runs on the worker that owns the queue pair
 * (bdev_nvme_submit and bdev_nvme_cancel are called there, the source's poll
 * runs there), so nothing is locked.  The one exception is the admin Abort of
 * a timed-out or cancelled command, which goes through the controller's
 * admin queue under its mutex.
 *
 * A request larger than one command allows (MDTS, our PRP list page, the
 * 16-bit block count of Write Zeroes and Verify, 256 DSM ranges) is issued
 * as consecutive pieces, one at a time; io->done counts the bytes finished.
 * A request that finds no free command slot or bounce buffer waits in the
 * queue's FIFO and is started by the next completion.
 */
#include "bdev/bdev_nvme.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "nvme/nvme_prp.h"
#include "nvme/nvme_spec.h"
#include "nvme/nvme_status.h"
#include "scsi/scsi_proto.h"
#include "util/iov.h"
#include "util/log.h"

#define NVME_NLB16_MAX 65536u /* Write Zeroes and Verify count blocks in 16 bits */

static inline struct bdev_nvme *to_nvme(struct bdev *bdev)
{
    return (struct bdev_nvme *)((char *)bdev - offsetof(struct bdev_nvme, bdev));
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The queue pair of the calling worker; attached to its loop the first time. */
static struct nvme_ioq *ioq_of(struct bdev_nvme *b, struct io_loop *loop)
{
    struct nvme_ioq *q;

    if (loop->index >= b->ctl->nq)
        return NULL;
    q = &b->ctl->q[loop->index];
    if (!q->loop) {
        q->loop = loop;
        q->src.fd = q->irq_fd;
        q->src.poll = bdev_nvme_ioq_poll;
        io_loop_add_source(loop, &q->src);
    } else if (q->loop != loop) {
        return NULL;
    }
    return q;
}

static struct nvme_cmd *cmd_get(struct nvme_ioq *q)
{
    struct nvme_cmd *cmd;

    if (q->free_head >= q->ncmds)
        return NULL;
    cmd = &q->cmds[q->free_head];
    q->free_head = cmd->next_free;
    cmd->io = NULL;
    cmd->bounce = NULL;
    cmd->abort_ns = 0;
    return cmd;
}

static void cmd_put(struct nvme_ioq *q, struct nvme_cmd *cmd)
{
    if (cmd->bounce) {
        unsigned i = (unsigned)(((char *)cmd->bounce - (char *)q->bounce_mem) / NVME_MAX_CHUNK);

        q->bounce_free |= 1u << i;
        cmd->bounce = NULL;
    }
    cmd->io = NULL;
    cmd->next_free = q->free_head;
    q->free_head = (unsigned)(cmd - q->cmds);
}

static bool bounce_get(struct nvme_ioq *q, struct nvme_cmd *cmd, uint32_t len)
{
    unsigned i;

    if (q->bounce_free == 0)
        return false;
    i = (unsigned)__builtin_ctz(q->bounce_free);
    q->bounce_free &= ~(1u << i);
    cmd->bounce = (char *)q->bounce_mem + (size_t)i * NVME_MAX_CHUNK;
    cmd->bounce_iova = q->bounce_iova + (uint64_t)i * NVME_MAX_CHUNK;
    cmd->bounce_len = len;
    return true;
}

static void wait_push(struct nvme_ioq *q, struct bdev_io *io)
{
    io->offload_next = NULL;
    io->offloaded = true; /* on the wait list */
    if (q->wait_tail)
        q->wait_tail->offload_next = io;
    else
        q->wait_head = io;
    q->wait_tail = io;
}

/* A command taken back for resubmission goes ahead of requests that never started. */
static void wait_push_front(struct nvme_ioq *q, struct bdev_io *io)
{
    io->offloaded = true;
    io->offload_next = q->wait_head;
    q->wait_head = io;
    if (!q->wait_tail)
        q->wait_tail = io;
}

static bool wait_remove(struct nvme_ioq *q, struct bdev_io *io)
{
    struct bdev_io **pp = &q->wait_head, *prev = NULL;

    while (*pp && *pp != io) {
        prev = *pp;
        pp = &(*pp)->offload_next;
    }
    if (!*pp)
        return false;
    *pp = io->offload_next;
    if (q->wait_tail == io)
        q->wait_tail = prev;
    io->offloaded = false;
    io->offload_next = NULL;
    return true;
}

static bool iova_of(void *opaque, const void *vaddr, size_t len, uint64_t *iova)
{
    const struct nvme_shared *ctl = opaque;

    return ctl->tp->translate(vaddr, len, iova);
}

/* Fill the data pointer for bytes [io->done, io->done + len) of io's vector. */
static int map_data(struct nvme_ioq *q, struct nvme_cmd *cmd, struct bdev_io *io, uint32_t len,
                    struct nvme_sqe *sqe)
{
    struct nvme_shared *ctl = q->ctl;
    size_t page = ctl->ctrlr.info.page_size;
    uint64_t skip = io->done;
    unsigned k = 0;
    struct iovec saved;
    int rc;

    while (k < io->iovcnt && skip >= io->iov[k].iov_len) {
        skip -= io->iov[k].iov_len;
        k++;
    }
    if (k == io->iovcnt)
        return -EINVAL;
    /* Built synchronously, so trimming the first element in place is undone at once. */
    saved = io->iov[k];
    io->iov[k].iov_base = (char *)saved.iov_base + skip;
    io->iov[k].iov_len = saved.iov_len - skip;
    rc = nvme_prp_build(&io->iov[k], io->iovcnt - k, len, page, iova_of, ctl, &sqe->prp1,
                        &sqe->prp2, cmd->page, cmd->page_iova, (unsigned)(page / 8));
    io->iov[k] = saved;
    if (rc == 0)
        return 0;
    if (rc != -EINVAL && rc != -EFAULT && rc != -E2BIG)
        return rc;
    /*
     * PRPs cannot point at these buffers (a segment off a page boundary, or
     * memory the IOMMU could not map): copy through a buffer of our own.
     */
    if (!bounce_get(q, cmd, len))
        return -EAGAIN;
    if (!atomic_exchange(&ctl->fallback_logged, true))
        LOG_WARN("nvme %s: a request's buffers cannot be used for DMA directly (%s); copying "
                 "through a bounce buffer (counted in bytes copied; logged once)",
                 ctl->bdf, rc == -EFAULT ? "not in DMA-mapped memory" : "not PRP-aligned");
    if (io->type == BDEV_IO_WRITE) {
        iov_to_buf(io->iov, io->iovcnt, io->done, cmd->bounce, len);
        atomic_fetch_add_explicit(&ctl->bytes_copied, len, memory_order_relaxed);
    }
    {
        struct iovec one = { .iov_base = cmd->bounce, .iov_len = len };

        rc = nvme_prp_build(&one, 1, len, page, iova_of, ctl, &sqe->prp1, &sqe->prp2, cmd->page,
                            cmd->page_iova, (unsigned)(page / 8));
    }
    return rc;
}

/* DSM deallocate: ranges written into the command's page. */
static uint64_t fill_dsm(struct bdev_nvme *b, struct nvme_cmd *cmd, struct bdev_io *io,
                         struct nvme_sqe *sqe)
{
    struct nvme_dsm_range *r = cmd->page;
    uint64_t lba = (io->offset + io->done) >> b->lba_shift;
    uint64_t left = (io->len - io->done) >> b->lba_shift, covered = 0;
    uint64_t per_range = b->ctl->ctrlr.info.dmrsl ? b->ctl->ctrlr.info.dmrsl : UINT32_MAX;
    unsigned n = 0, max = b->ctl->ctrlr.info.dmrl ? b->ctl->ctrlr.info.dmrl : NVME_DSM_MAX_RANGES;

    if (max > NVME_DSM_MAX_RANGES)
        max = NVME_DSM_MAX_RANGES;
    memset(r, 0, NVME_DSM_MAX_RANGES * sizeof(*r));
    /* DMSL caps the blocks of one command; what is left goes in the next piece. */
    if (b->ctl->ctrlr.info.dmsl && left > b->ctl->ctrlr.info.dmsl)
        left = b->ctl->ctrlr.info.dmsl;
    while (left > 0 && n < max) {
        uint64_t nlb = left < per_range ? left : per_range;

        r[n].nlb = (uint32_t)nlb;
        r[n].slba = lba;
        lba += nlb;
        left -= nlb;
        covered += nlb;
        n++;
    }
    sqe->opc = NVME_CMD_DSM;
    sqe->prp1 = cmd->page_iova;
    sqe->cdw10 = n - 1;
    sqe->cdw11 = NVME_DSM_AD;
    return covered << b->lba_shift;
}

static void cmd_done(void *ctx, const struct nvme_cpl *cpl);

/*
 * Issue the next piece of io.  Returns 0 when a command went out, -EAGAIN
 * when io must wait for resources (the caller queues it), or another -errno
 * when io failed (io->sense may say more).
 */
static int issue(struct bdev_nvme *b, struct nvme_ioq *q, struct bdev_io *io)
{
    struct nvme_cmd *cmd;
    struct nvme_sqe sqe;
    uint64_t left = io->len - io->done;
    uint64_t piece = left, lba = (io->offset + io->done) >> b->lba_shift;
    int rc;

    if (q->dead) {
        io->sense = BDEV_SENSE(SCSI_SK_HARDWARE_ERROR, 0x3e, 0x01); /* LOGICAL UNIT FAILURE */
        return -EREMOTEIO;
    }
    if (q->quiesced)
        return -EAGAIN; /* the controller is being reset: wait for it */
    cmd = cmd_get(q);
    if (!cmd)
        return -EAGAIN;
    memset(&sqe, 0, sizeof(sqe));
    sqe.nsid = b->nsid;
    switch (io->type) {
    case BDEV_IO_READ:
    case BDEV_IO_WRITE: {
        uint64_t max =
            q->ctl->ctrlr.info.mdts_bytes ? q->ctl->ctrlr.info.mdts_bytes : NVME_MAX_CHUNK;

        if (max > NVME_MAX_CHUNK)
            max = NVME_MAX_CHUNK;
        if (piece > max)
            piece = max;
        rc = map_data(q, cmd, io, (uint32_t)piece, &sqe);
        if (rc < 0) {
            cmd_put(q, cmd);
            return rc;
        }
        sqe.opc = io->type == BDEV_IO_READ ? NVME_CMD_READ : NVME_CMD_WRITE;
        sqe.cdw10 = (uint32_t)lba;
        sqe.cdw11 = (uint32_t)(lba >> 32);
        sqe.cdw12 = (uint32_t)((piece >> b->lba_shift) - 1);
        if (io->type == BDEV_IO_WRITE && io->fua)
            sqe.cdw12 |= NVME_RW_FUA;
        break;
    }
    case BDEV_IO_VERIFY:
        if (!q->ctl->ctrlr.info.verify) {
            /*
             * No Verify command: reading the blocks checks the medium just
             * as well.  The data lands in a bounce buffer of ours and goes
             * nowhere; no guest byte is copied.
             */
            if (piece > NVME_MAX_CHUNK)
                piece = NVME_MAX_CHUNK;
            if ((q->ctl->ctrlr.info.mdts_bytes && piece > q->ctl->ctrlr.info.mdts_bytes))
                piece = q->ctl->ctrlr.info.mdts_bytes;
            if (!bounce_get(q, cmd, (uint32_t)piece)) {
                cmd_put(q, cmd);
                return -EAGAIN;
            }
            {
                struct iovec one = { .iov_base = cmd->bounce, .iov_len = piece };

                rc = nvme_prp_build(&one, 1, piece, q->ctl->ctrlr.info.page_size, iova_of, q->ctl,
                                    &sqe.prp1, &sqe.prp2, cmd->page, cmd->page_iova,
                                    (unsigned)(q->ctl->ctrlr.info.page_size / 8));
            }
            if (rc < 0) {
                cmd_put(q, cmd);
                return rc;
            }
            sqe.opc = NVME_CMD_READ;
            sqe.cdw10 = (uint32_t)lba;
            sqe.cdw11 = (uint32_t)(lba >> 32);
            sqe.cdw12 = (uint32_t)((piece >> b->lba_shift) - 1);
            break;
        }
        /* fall through */
    case BDEV_IO_WRITE_ZEROES:
        if ((piece >> b->lba_shift) > NVME_NLB16_MAX)
            piece = (uint64_t)NVME_NLB16_MAX << b->lba_shift;
        sqe.opc = io->type == BDEV_IO_VERIFY ? NVME_CMD_VERIFY : NVME_CMD_WRITE_ZEROES;
        sqe.cdw10 = (uint32_t)lba;
        sqe.cdw11 = (uint32_t)(lba >> 32);
        sqe.cdw12 = (uint32_t)((piece >> b->lba_shift) - 1);
        break;
    case BDEV_IO_DISCARD:
        piece = fill_dsm(b, cmd, io, &sqe);
        break;
    case BDEV_IO_FLUSH:
        sqe.opc = NVME_CMD_FLUSH;
        piece = left;
        break;
    default:
        cmd_put(q, cmd);
        return -EINVAL;
    }
    cmd->io = io;
    cmd->q = q;
    rc = nvme_qpair_submit(&q->qp, &sqe, cmd_done, cmd);
    if (rc < 0) {
        cmd_put(q, cmd);
        return rc == -EAGAIN ? -EAGAIN : -EIO;
    }
    cmd->cid = sqe.cid;
    io->chunk = (uint32_t)piece;
    io->backend_ctx = cmd;
    io_loop_hold(q->loop);
    atomic_fetch_add_explicit(&q->ctl->commands, 1, memory_order_relaxed);
    return 0;
}

/* Issue io, or queue it when resources are short.  false: io failed with *err. */
static bool start(struct bdev_nvme *b, struct nvme_ioq *q, struct bdev_io *io, int *err)
{
    int rc;

    /* Requests already waiting go first: no overtaking on the queue. */
    if (q->wait_head) {
        wait_push(q, io);
        return true;
    }
    rc = issue(b, q, io);
    if (rc == -EAGAIN) {
        wait_push(q, io);
        return true;
    }
    *err = rc;
    return rc == 0;
}

static void finish(struct bdev_io *io, int result)
{
    io->backend_ctx = NULL;
    io->cb(io, result);
}

/* Start waiting requests while there are resources. */
static void run_waiters(struct nvme_ioq *q)
{
    while (q->wait_head) {
        struct bdev_io *io = q->wait_head;
        int rc = issue(to_nvme(io->bdev), q, io);

        if (rc == -EAGAIN)
            return;
        q->wait_head = io->offload_next;
        if (!q->wait_head)
            q->wait_tail = NULL;
        io->offloaded = false;
        io->offload_next = NULL;
        if (rc < 0)
            finish(io, rc);
    }
}

static void cmd_done(void *ctx, const struct nvme_cpl *cpl)
{
    struct nvme_cmd *cmd = ctx;
    struct nvme_ioq *q = cmd->q;
    struct bdev_io *io = cmd->io;
    uint16_t sf = NVME_CPL_SF(cpl->status); /* with CRD, M, DNR */
    uint16_t status = NVME_SF_CODE(sf);
    int result = 0;

    io_loop_release(q->loop);
    if (q->harvesting) {
        /*
         * The controller is about to be reset: this command never completed
         * and will be sent again, its piece from the start (io->done is
         * untouched).  Taken back in reverse order, so pushing each to the
         * front keeps their order.
         */
        cmd_put(q, cmd);
        io->backend_ctx = NULL;
        wait_push_front(q, io);
        return;
    }
    if (status != 0) {
        struct nvme_sense s;

        if (q->dead) {
            io->sense = BDEV_SENSE(SCSI_SK_HARDWARE_ERROR, 0x3e, 0x01);
        } else {
            nvme_status_to_sense(sf, &s);
            io->sense = BDEV_SENSE(s.key, s.asc, s.ascq);
        }
        result = io->cancelled && status == NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_REQUESTED)
                     ? -ECANCELED
                     : -EREMOTEIO;
    } else if (io->type == BDEV_IO_READ && cmd->bounce) {
        /* (A VERIFY read into a bounce buffer has nowhere to go: nothing to copy.) */
        iov_from_buf(io->iov, io->iovcnt, io->done, cmd->bounce, io->chunk);
        atomic_fetch_add_explicit(&q->ctl->bytes_copied, io->chunk, memory_order_relaxed);
    }
    cmd_put(q, cmd);
    io->backend_ctx = NULL;
    if (result == 0) {
        io->done += io->chunk;
        if (io->type != BDEV_IO_FLUSH && io->done < io->len) {
            if (io->cancelled) {
                result = -ECANCELED;
            } else if (start(to_nvme(io->bdev), q, io, &result)) {
                run_waiters(q);
                return;
            }
        }
    }
    finish(io, result);
    run_waiters(q);
}

struct timeout_scan {
    struct nvme_ioq *q;
    uint64_t now;
};

static void on_timeout(struct nvme_qpair *qp, uint16_t cid, void *cmd_ctx, void *arg)
{
    struct timeout_scan *ts = arg;
    struct nvme_cmd *cmd = cmd_ctx;
    int rc = nvme_ctrlr_abort(&ts->q->ctl->ctrlr, qp->qid, cid);

    cmd->abort_ns = ts->now;
    LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme %s: command %u on queue %u timed out; abort %s",
                    ts->q->ctl->bdf, cid, qp->qid, rc == 0 ? "done" : strerror(-rc));
}

/* A dead controller: fail everything in flight and waiting, and what comes later. */
static void fail_queue(struct nvme_ioq *q)
{
    q->dead = true;
    if (!atomic_exchange(&q->ctl->dead_logged, true))
        LOG_ERR("nvme %s: the controller failed or was removed; its LUNs fail every request",
                q->ctl->bdf);
    nvme_qpair_fail_all(&q->qp, NVME_SF(NVME_SCT_GENERIC, NVME_SC_INTERNAL) | NVME_SF_DNR);
    while (q->wait_head) {
        struct bdev_io *io = q->wait_head;

        wait_remove(q, io);
        io->sense = BDEV_SENSE(SCSI_SK_HARDWARE_ERROR, 0x3e, 0x01);
        finish(io, -EREMOTEIO);
    }
}

/*
 * The controller reset protocol, worker side.  Returns true while this
 * queue must not touch its queue pair.
 */
static bool recovery_step(struct nvme_ioq *q)
{
    struct nvme_shared *ctl = q->ctl;
    unsigned gen = atomic_load(&ctl->recovery_gen);

    if (gen != atomic_load(&ctl->recovery_done)) {
        if (q->seen_gen != gen) {
            /* Take every command back; the device forgets them when it is disabled. */
            q->harvesting = true;
            nvme_qpair_fail_all(&q->qp, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
            q->harvesting = false;
            q->seen_gen = gen;
            if (!q->quiesced) {
                /* Keeps the worker asleep-but-waiting instead of idle until the reset ends. */
                io_loop_hold(q->loop);
                q->quiesced = true;
            }
            atomic_store(&q->acked_gen, gen);
        }
        return true;
    }
    if (q->quiesced) {
        q->quiesced = false;
        io_loop_release(q->loop);
        if (atomic_load(&ctl->dead)) {
            fail_queue(q);
            return true;
        }
        run_waiters(q);
    }
    return false;
}

/* Commands an Abort did not end within another timeout: the controller must be reset. */
static bool abort_overdue(struct nvme_ioq *q, uint64_t now)
{
    for (unsigned i = 0; i < q->ncmds; i++) {
        const struct nvme_cmd *cmd = &q->cmds[i];

        if (cmd->io && cmd->abort_ns && now - cmd->abort_ns >= q->ctl->cmd_timeout_ns)
            return true;
    }
    return false;
}

unsigned bdev_nvme_ioq_poll(struct io_loop_source *src)
{
    struct nvme_ioq *q = (struct nvme_ioq *)((char *)src - offsetof(struct nvme_ioq, src));
    unsigned n;

    if (q->dead || recovery_step(q))
        return 0;
    n = nvme_qpair_process(&q->qp, 0);
    if (nvme_qpair_outstanding(&q->qp) > 0 || q->wait_head) {
        uint64_t now = mono_ns();

        if (now >= q->next_timeout_check_ns) {
            struct timeout_scan ts = { q, now };
            uint64_t step = q->ctl->cmd_timeout_ns / 4;

            q->next_timeout_check_ns = now + (step < 1000000000ull ? step : 1000000000ull);
            if (nvme_ctrlr_is_fatal(&q->ctl->ctrlr) || atomic_load(&q->ctl->dead)) {
                fail_queue(q);
                return n;
            }
            nvme_qpair_check_timeouts(&q->qp, now, q->ctl->cmd_timeout_ns, on_timeout, &ts);
            if (abort_overdue(q, now))
                bdev_nvme_start_recovery(q->ctl);
        }
    }
    return n;
}

int bdev_nvme_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct bdev_nvme *b = to_nvme(bdev);
    struct nvme_ioq *q;
    int rc = bdev_io_check(bdev, io);

    if (rc < 0)
        return rc;
    q = ioq_of(b, loop);
    if (!q)
        return -EIO;
    io->loop = loop;
    io->done = 0;
    io->chunk = 0;
    io->offloaded = false;
    io->backend_ctx = NULL;
    /* Without a volatile write cache every completed write is already durable. */
    if (io->type == BDEV_IO_FLUSH && !bdev->volatile_cache) {
        io->cb(io, 0);
        return 0;
    }
    if (io->len == 0 && io->type != BDEV_IO_FLUSH) {
        io->cb(io, 0);
        return 0;
    }
    if (!q->dead)
        recovery_step(q);
    if (!start(b, q, io, &rc)) {
        io->backend_ctx = NULL;
        return rc;
    }
    return 0;
}

static void cancelled_cb(struct io_loop_op *op, int res)
{
    struct bdev_io *io = (struct bdev_io *)((char *)op - offsetof(struct bdev_io, op));

    finish(io, res);
}

int bdev_nvme_cancel(struct bdev *bdev, struct bdev_io *io)
{
    struct bdev_nvme *b = to_nvme(bdev);
    struct nvme_ioq *q =
        io->loop && io->loop->index < b->ctl->nq ? &b->ctl->q[io->loop->index] : NULL;
    struct nvme_cmd *cmd = io->backend_ctx;

    if (!q)
        return -EINVAL;
    io->cancelled = true;
    if (io->offloaded && wait_remove(q, io)) {
        /* Never called back from inside bdev_cancel: the loop runs it next. */
        io->op.cb = cancelled_cb;
        io_loop_expect_post(q->loop);
        io_loop_post(q->loop, &io->op, -ECANCELED);
        return 0;
    }
    if (!cmd)
        return -EALREADY;
    return nvme_ctrlr_abort(&b->ctl->ctrlr, q->qp.qid, cmd->cid);
}
