/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Request queues: take a chain off the ring, find the headers in it (any
 * layout: they may be split across descriptors), hand the command to the SCSI
 * layer, and write the response when it completes.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/iov.h"
#include "stats/lun_stats.h"
#include "util/log.h"
#include "virtio_scsi/vscsi.h"

int vscsi_queue_alloc(struct vscsi_queue *q, unsigned nreqs)
{
    /* calloc: the large per-slot arrays stay untouched (unbacked) until used. */
    q->reqs = calloc(nreqs, sizeof(*q->reqs));
    if (!q->reqs)
        return -ENOMEM;
    q->nreqs = nreqs;
    q->free_list = NULL;
    for (unsigned i = nreqs; i-- > 0;) {
        struct vscsi_req *r = &q->reqs[i];
        r->q = q;
        r->elem.iov = r->iov;
        r->elem.iov_max = VIRTQ_MAX_IOV;
        atomic_init(&r->active_lun, NULL);
        atomic_init(&r->active_tag, 0);
        atomic_init(&r->state, 0);
        r->next_free = q->free_list;
        q->free_list = r;
    }
    q->inflight = 0;
    atomic_init(&q->suspending, false);
    q->need_notify = false;
    q->starved = false;
    q->more = false;
    q->accepting = true;
    return 0;
}

void vscsi_queue_free(struct vscsi_queue *q)
{
    free(q->reqs);
    q->reqs = NULL;
    q->nreqs = 0;
    q->free_list = NULL;
    q->inflight = 0;
}

static void req_release(struct vscsi_req *r)
{
    struct vscsi_queue *q = r->q;

    r->next_free = q->free_list;
    q->free_list = r;
    q->inflight--;
}

static struct iovec *in_iov(struct vscsi_req *r)
{
    return r->elem.iov + r->elem.out_num;
}

/* Return the chain with len bytes written and free the slot. */
static void req_finish(struct vscsi_req *r, uint32_t len)
{
    struct vscsi_queue *q = r->q;

    virtq_log_written(q->vq, in_iov(r), r->elem.in_num, len);
    virtq_push(q->vq, r->elem.head, len);
    q->need_notify = true;
    req_release(r);
}

/* Tell the guest about what was pushed since the last time, if anything. */
static void signal_pushed(struct vscsi_queue *q)
{
    if (q->need_notify) {
        q->need_notify = false;
        virtq_notify(q->vq);
    }
}

/* Answer with only a transport response code (no SCSI status). */
static void req_fail(struct vscsi_req *r, uint8_t response)
{
    struct virtio_scsi_cmd_resp resp;

    memset(&resp, 0, sizeof(resp));
    resp.response = response;
    iov_from_buf(in_iov(r), r->elem.in_num, 0, &resp, sizeof(resp));
    req_finish(r, sizeof(resp));
}

/* Which statistics line a command belongs on: the SCSI layer's kind of it. */
static enum lun_op op_of(const struct scsi_task *task)
{
    static const enum lun_op by_kind[] = {
        [SCSI_IO_READ] = LUN_OP_READ,   [SCSI_IO_WRITE] = LUN_OP_WRITE,
        [SCSI_IO_UNMAP] = LUN_OP_UNMAP, [SCSI_IO_WRITE_ZEROES] = LUN_OP_WRITE_ZEROES,
        [SCSI_IO_FLUSH] = LUN_OP_FLUSH, [SCSI_IO_VERIFY] = LUN_OP_VERIFY,
        [SCSI_IO_OTHER] = LUN_OP_OTHER,
    };

    return by_kind[scsi_cdb_io_kind(task->cdb)];
}

/*
 * The time latencies are measured with: the loop's, read once per batch
 * (io_loop_clock_refresh); a queue without a loop (unit tests) reads the
 * clock itself.
 */
static uint64_t stats_clock(const struct vscsi_queue *q)
{
    return q->loop ? io_loop_clock(q->loop) : lun_stats_now_ns();
}

static void count(const struct vscsi_queue *q, const struct scsi_task *task, bool aborted,
                  uint64_t moved)
{
    struct lun_stats *st = task->lun->stats;
    uint8_t status = aborted ? LUN_STATUS_TASK_ABORTED : task->status;
    uint8_t key = scsi_sense_key(task->sense, task->sense_len);
    uint64_t end = stats_clock(q);

    /* A request started by another thread (start-up, resubmission) may carry a later time. */
    lun_stats_complete(st, q->loop ? q->loop->index : 0, op_of(task), moved,
                       end > task->start_ns ? end - task->start_ns : 0, status, key);
}

static void req_done(struct scsi_task *task)
{
    struct vscsi_req *r = task->priv;
    struct vscsi_queue *q = r->q;
    struct virtio_scsi_cmd_resp resp;
    uint32_t len = sizeof(resp);
    /* From here on no TMF can mark the task: whoever marked it is counted in aborted. */
    uint32_t aborted = vscsi_slot_release(&r->state);

    if (atomic_load_explicit(&q->suspending, memory_order_relaxed)) {
        /* Its inflight mark stays: whoever serves the ring next runs it again. */
        if (aborted)
            vscsi_tmf_victims_done(q->tmfs, aborted);
        req_release(r);
        return;
    }
    memset(&resp, 0, sizeof(resp));
    if (aborted) {
        /* No status, no data: the initiator asked for the task to go away. */
        resp.response = VIRTIO_SCSI_S_ABORTED;
    } else if (task->overrun) {
        resp.response = VIRTIO_SCSI_S_OVERRUN;
    } else {
        size_t moved = task->data_len < task->iov_len ? task->data_len : task->iov_len;
        unsigned sense_len = task->sense_len;

        if (sense_len > VIRTIO_SCSI_SENSE_SIZE)
            sense_len = VIRTIO_SCSI_SENSE_SIZE;
        resp.response = VIRTIO_SCSI_S_OK;
        resp.status = task->status;
        resp.sense_len = htole32(sense_len);
        memcpy(resp.sense, task->sense, sense_len);
        /* A buffer can exceed 4 GiB; a residual that does not fit saturates rather than wraps. */
        uint64_t resid = task->iov_len - moved;
        resp.resid = htole32(resid > UINT32_MAX ? UINT32_MAX : (uint32_t)resid);
        if (task->dir == SCSI_DIR_FROM_DEV)
            len += (uint32_t)moved;
    }
    if (task->lun->stats)
        count(q, task, aborted != 0,
              aborted || task->overrun
                  ? 0
                  : (task->data_len < task->iov_len ? task->data_len : task->iov_len));
    iov_from_buf(in_iov(r), r->elem.in_num, 0, &resp, sizeof(resp));
    /*
     * What the used length counts is what was written, except when the data
     * phase did not end normally: an aborted, overrun or failed read may have
     * filled any part of its buffer before it ended, so all of it is logged.
     */
    virtq_log_written(q->vq, in_iov(r), r->elem.in_num,
                      task->dir == SCSI_DIR_FROM_DEV && (aborted || task->overrun || task->status)
                          ? UINT64_MAX
                          : len);
    virtq_push(q->vq, r->elem.head, len);
    q->need_notify = true;
    /* Only now that the guest can see the response may the TMFs that wait for it answer. */
    if (aborted)
        vscsi_tmf_victims_done(q->tmfs, aborted);
    req_release(r);
}

/*
 * Make a task of the request whose chain was taken off the ring into r.
 * True when it is ready for scsi_task_execute; false when it was answered
 * here already (a malformed request, an unknown LUN).
 */
static bool req_prepare(struct vscsi_queue *q, struct vscsi_req *r)
{
    const size_t req_len = sizeof(struct virtio_scsi_cmd_req);
    const size_t resp_len = sizeof(struct virtio_scsi_cmd_resp);
    struct virtio_scsi_cmd_req hdr;
    struct scsi_task *task = &r->task;
    unsigned out_num = r->elem.out_num, in_num = r->elem.in_num;
    size_t out_len = iov_size(r->elem.iov, out_num);
    size_t in_len = iov_size(in_iov(r), in_num);
    unsigned target, lun_id;
    struct scsi_lun *lun;
    int n;

    if (in_len < resp_len) {
        /* Nowhere to put a response: hand the chain back untouched. */
        LOG_RATELIMITED(LOG_LEVEL_WARN, "queue %u: request without room for a response", q->index);
        req_finish(r, 0);
        return false;
    }
    if (out_len < req_len) {
        req_fail(r, VIRTIO_SCSI_S_FAILURE);
        return false;
    }
    iov_to_buf(r->elem.iov, out_num, 0, &hdr, req_len);
    if (vscsi_parse_lun(hdr.lun, &target, &lun_id) < 0 ||
        !(lun = scsi_lookup(q->targets, target, lun_id))) {
        req_fail(r, VIRTIO_SCSI_S_BAD_TARGET);
        return false;
    }

    memset(task, 0, offsetof(struct scsi_task, bio));
    if (out_len > req_len && in_len > resp_len) {
        /* Bidirectional commands need VIRTIO_SCSI_F_INOUT, which we do not offer. */
        req_fail(r, VIRTIO_SCSI_S_FAILURE);
        return false;
    } else if (out_len > req_len) {
        task->dir = SCSI_DIR_TO_DEV;
        n = iov_slice(r->elem.iov, out_num, req_len, out_len - req_len, r->data_iov, VIRTQ_MAX_IOV);
        task->iov_len = out_len - req_len;
    } else if (in_len > resp_len) {
        task->dir = SCSI_DIR_FROM_DEV;
        n = iov_slice(in_iov(r), in_num, resp_len, in_len - resp_len, r->data_iov, VIRTQ_MAX_IOV);
        task->iov_len = in_len - resp_len;
    } else {
        task->dir = SCSI_DIR_NONE;
        n = 0;
    }
    if (n < 0) {
        req_fail(r, VIRTIO_SCSI_S_FAILURE);
        return false;
    }
    task->lun = lun;
    memcpy(task->cdb, hdr.cdb, sizeof(hdr.cdb));
    task->cdb_len = sizeof(hdr.cdb);
    task->iov = r->data_iov;
    task->iovcnt = (unsigned)n;
    task->tag = le64toh(hdr.tag);
    task->loop = q->loop;
    task->done = req_done;
    task->priv = r;
    if (lun->stats)
        task->start_ns = stats_clock(q);

    r->cancel_sent = false;
    atomic_store_explicit(&r->active_tag, task->tag, memory_order_relaxed);
    atomic_store_explicit(&r->active_lun, lun, memory_order_relaxed);
    vscsi_slot_activate(&r->state);
    return true;
}

/*
 * Take and start available requests while slots and budget last.  Returns
 * false when the ring turned out corrupt and the queue stopped.
 */
static bool take_requests(struct vscsi_queue *q, unsigned *budget)
{
    struct virtq *vq = q->vq;
    unsigned taken = 0;
    /*
     * Each request runs once the next one is taken and its data asked for
     * (scsi_task_hint): a RAM LUN's copy then overlaps the next copy's
     * cache misses.  Still in ring order.
     */
    struct vscsi_req *ready = NULL;
    bool corrupt = false;

    while (q->free_list && *budget > 0) {
        struct vscsi_req *r = q->free_list;
        int ret = virtq_pop(vq, &r->elem);

        if (ret == 0)
            break;
        if (ret == -EIO) {
            LOG_RATELIMITED(LOG_LEVEL_ERROR, "queue %u: ring is corrupt; queue stopped", q->index);
            corrupt = true;
            break;
        }
        /* Once per batch, and only when there is a request: see io_loop_clock_refresh. */
        if (taken++ == 0 && q->loop)
            io_loop_clock_refresh(q->loop);
        (*budget)--;
        q->free_list = r->next_free;
        q->inflight++;
        if (ret < 0) {
            LOG_RATELIMITED(LOG_LEVEL_WARN, "queue %u: malformed descriptor chain (head %u)",
                            q->index, r->elem.head);
            req_finish(r, 0);
            continue;
        }
        if (req_prepare(q, r)) {
            scsi_task_hint(&r->task);
            if (ready)
                scsi_task_execute(&ready->task);
            ready = r;
        }
        /*
         * Requests that completed inline (RAM LUNs) would otherwise wait for
         * the whole batch before the guest hears of them, with the guest idle
         * meanwhile: tell it every so often.  Not after each one: a signal
         * costs a syscall here and a wakeup there.
         */
        if (taken % VSCSI_SIGNAL_BATCH == 0)
            signal_pushed(q);
    }
    if (q->loop)
        q->loop->requests += taken;
    /* What came before a corrupt entry was well formed: it runs. */
    if (ready)
        scsi_task_execute(&ready->task);
    if (corrupt)
        return false;
    /* Completions free slots; vscsi_queue_flush comes back here. */
    q->starved = !q->free_list;
    /* Out of budget with slots left: there may be more, and nobody will kick for it. */
    q->more = *budget == 0 && q->free_list;
    return true;
}

void vscsi_queue_process(struct vscsi_queue *q)
{
    struct virtq *vq = q->vq;
    unsigned budget = VSCSI_TAKE_BUDGET;

    q->more = false;
    if (!q->accepting)
        return;
    for (;;) {
        virtq_disable_notify(vq);
        if (!take_requests(q, &budget) || q->starved || q->more)
            return;
        if (!virtq_enable_notify(vq))
            return;
    }
}

bool vscsi_queue_poll(struct vscsi_queue *q)
{
    unsigned budget = VSCSI_TAKE_BUDGET;

    if (q->starved || !q->accepting || !virtq_avail_pending(q->vq))
        return false;
    /* While we look for ourselves, a kick would only cost the guest an exit. */
    virtq_disable_notify(q->vq);
    take_requests(q, &budget);
    return true;
}

void vscsi_queue_flush(struct vscsi_queue *q)
{
    if (q->starved && q->free_list)
        vscsi_queue_process(q);
    signal_pushed(q);
}

void vscsi_queue_set_accepting(struct vscsi_queue *q, bool accepting)
{
    q->accepting = accepting;
    if (!accepting)
        q->more = false;
}

void vscsi_queue_abort_marked(struct vscsi_queue *q)
{
    for (unsigned i = 0; i < q->nreqs; i++) {
        struct vscsi_req *r = &q->reqs[i];
        uint64_t st = atomic_load_explicit(&r->state, memory_order_acquire);

        if ((st & VSCSI_SLOT_ACTIVE) && (st & VSCSI_SLOT_TMF_MASK) && !r->cancel_sent) {
            r->cancel_sent = true;
            scsi_task_abort(&r->task);
        }
    }
}

/*
 * The task a slot holds, read consistently: its state word, then what was
 * published before it.  False when the slot is idle.
 */
static bool slot_task(struct vscsi_req *r, uint64_t *state, struct scsi_lun **lun, uint64_t *tag)
{
    *state = atomic_load_explicit(&r->state, memory_order_acquire);
    if (!(*state & VSCSI_SLOT_ACTIVE))
        return false;
    *lun = atomic_load_explicit(&r->active_lun, memory_order_relaxed);
    *tag = atomic_load_explicit(&r->active_tag, memory_order_relaxed);
    return true;
}

static bool task_matches(struct scsi_lun *l, uint64_t t, const struct scsi_lun *lun, uint64_t tag,
                         bool any_tag)
{
    return (!lun || l == lun) && (any_tag || t == tag);
}

bool vscsi_queue_find_task(struct vscsi_queue *q, const struct scsi_lun *lun, uint64_t tag,
                           bool any_tag)
{
    for (unsigned i = 0; i < q->nreqs; i++) {
        struct scsi_lun *l;
        uint64_t st, t;

        if (slot_task(&q->reqs[i], &st, &l, &t) && task_matches(l, t, lun, tag, any_tag))
            return true;
    }
    return false;
}

unsigned vscsi_queue_mark_tasks(struct vscsi_queue *q, const struct scsi_lun *lun, uint64_t tag,
                                bool any_tag, unsigned id, struct vscsi_tmf *tmf)
{
    unsigned marked = 0;

    for (unsigned i = 0; i < q->nreqs; i++) {
        struct vscsi_req *r = &q->reqs[i];
        struct scsi_lun *l;
        uint64_t st, t;

        if (!slot_task(r, &st, &l, &t) || !task_matches(l, t, lun, tag, any_tag))
            continue;
        /* Counted first: the worker may complete it the moment the bit lands. */
        atomic_fetch_add_explicit(&tmf->remaining, 1, memory_order_relaxed);
        for (;;) {
            uint64_t seen = st;
            if (atomic_compare_exchange_strong_explicit(&r->state, &seen, st | (1ull << id),
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                marked++;
                break;
            }
            /*
             * Another TMF marked it meanwhile: try again.  Anything else
             * means the task completed (and maybe another one started,
             * which arrived after this TMF and is not its victim).
             */
            if ((seen & ~VSCSI_SLOT_TMF_MASK) != (st & ~VSCSI_SLOT_TMF_MASK)) {
                atomic_fetch_sub_explicit(&tmf->remaining, 1, memory_order_relaxed);
                break;
            }
            st = seen;
        }
    }
    return marked;
}
