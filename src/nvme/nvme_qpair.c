/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One NVMe SQ/CQ pair (see nvme_qpair.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/nvme_qpair.h"
#include "util/log.h"

#define NO_SLOT 0xffffu

/*
 * The SQE must be in memory before the device sees the new tail, and a
 * CQE's body must be read after its phase bit.  On x86 stores are not
 * reordered with the uncached doorbell store and loads not with loads, so
 * the compiler is all we must stop; arm64 needs barriers towards the
 * outer-shareable domain the device lives in.
 */
static inline void dma_wmb(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("dmb oshst" ::: "memory");
#else
    __sync_synchronize();
#endif
}

static inline void dma_rmb(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("dmb oshld" ::: "memory");
#else
    __sync_synchronize();
#endif
}

static void build_free_list(struct nvme_qpair *qp)
{
    for (unsigned i = 0; i < qp->nslots; i++) {
        qp->slots[i] = (struct nvme_qpair_slot){ 0 };
        qp->slots[i].next_free = i + 1 < qp->nslots ? (uint16_t)(i + 1) : NO_SLOT;
    }
    qp->free_head = qp->nslots ? 0 : NO_SLOT;
    qp->outstanding = 0;
}

int nvme_qpair_init(struct nvme_qpair *qp, uint16_t qid, uint32_t entries, void *sq,
                    uint64_t sq_iova, void *cq, uint64_t cq_iova, volatile uint32_t *sq_tdbl,
                    volatile uint32_t *cq_hdbl)
{
    /* CIDs 0..65534: NO_SLOT must never be a CID. */
    if (entries < 2 || entries > 65536)
        return -EINVAL;
    qp->slots = calloc(entries - 1, sizeof(*qp->slots));
    if (!qp->slots)
        return -ENOMEM;
    qp->qid = qid;
    qp->entries = entries;
    qp->nslots = entries - 1;
    qp->sq = sq;
    qp->cq = cq;
    qp->sq_iova = sq_iova;
    qp->cq_iova = cq_iova;
    qp->sq_tdbl = sq_tdbl;
    qp->cq_hdbl = cq_hdbl;
    qp->outstanding = 0;
    nvme_qpair_reset(qp);
    return 0;
}

void nvme_qpair_reset(struct nvme_qpair *qp)
{
    if (qp->outstanding)
        nvme_qpair_fail_all(qp, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
    memset(qp->sq, 0, (size_t)qp->entries * sizeof(struct nvme_sqe));
    memset((void *)qp->cq, 0, (size_t)qp->entries * sizeof(struct nvme_cpl));
    qp->sq_tail = qp->sq_head = qp->cq_head = 0;
    qp->phase = 1;
    qp->failed = false;
    build_free_list(qp);
}

void nvme_qpair_fini(struct nvme_qpair *qp)
{
    free(qp->slots);
    qp->slots = NULL;
    qp->nslots = 0;
    qp->free_head = NO_SLOT;
    qp->outstanding = 0;
    qp->failed = true;
}

int nvme_qpair_submit(struct nvme_qpair *qp, struct nvme_sqe *cmd, nvme_cpl_cb cb, void *ctx)
{
    struct nvme_qpair_slot *s;
    uint16_t cid;

    if (qp->failed || !qp->slots)
        return -ENODEV;
    if (qp->free_head == NO_SLOT)
        return -EAGAIN;
    cid = qp->free_head;
    s = &qp->slots[cid];
    qp->free_head = s->next_free;
    s->cb = cb;
    s->ctx = ctx;
    s->first_seen_ns = 0;
    s->busy = 1;
    s->timed_out = 0;
    qp->outstanding++;

    /*
     * At most entries - 1 commands are outstanding and each has left the SQ
     * once it completes, so the slot at the tail is free whatever SQ head
     * the device reports.
     */
    cmd->cid = cid;
    memcpy(&qp->sq[qp->sq_tail], cmd, sizeof(*cmd));
    if (++qp->sq_tail == qp->entries)
        qp->sq_tail = 0;
    dma_wmb();
    *qp->sq_tdbl = qp->sq_tail;
    return 0;
}

static void release(struct nvme_qpair *qp, uint16_t cid)
{
    struct nvme_qpair_slot *s = &qp->slots[cid];

    s->busy = 0;
    s->cb = NULL;
    s->ctx = NULL;
    s->next_free = qp->free_head;
    qp->free_head = cid;
    qp->outstanding--;
}

static void complete(struct nvme_qpair *qp, const struct nvme_cpl *cpl)
{
    nvme_cpl_cb cb;
    void *ctx;

    if (cpl->sqid != qp->qid) {
        LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme: CQ %u: completion names SQ %u, dropped", qp->qid,
                        cpl->sqid);
        return;
    }
    if (cpl->sqhd < qp->entries)
        qp->sq_head = cpl->sqhd;
    else
        LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme: CQ %u: SQ head %u beyond %u entries", qp->qid,
                        cpl->sqhd, qp->entries);
    if (cpl->cid >= qp->nslots || !qp->slots[cpl->cid].busy) {
        LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme: CQ %u: completion for idle CID %u, dropped", qp->qid,
                        cpl->cid);
        return;
    }
    cb = qp->slots[cpl->cid].cb;
    ctx = qp->slots[cpl->cid].ctx;
    release(qp, cpl->cid);
    if (cb)
        cb(ctx, cpl);
}

unsigned nvme_qpair_process(struct nvme_qpair *qp, unsigned max)
{
    unsigned n = 0;

    if (!qp->slots || qp->failed)
        return 0;
    if (max == 0 || max > qp->entries)
        max = qp->entries;
    while (n < max) {
        volatile struct nvme_cpl *e = &qp->cq[qp->cq_head];
        struct nvme_cpl cpl;

        if ((e->status & NVME_CPL_PHASE) != qp->phase)
            break;
        dma_rmb();
        /* One read of each field: the device may rewrite the entry under us. */
        cpl.dw0 = e->dw0;
        cpl.dw1 = e->dw1;
        cpl.sqhd = e->sqhd;
        cpl.sqid = e->sqid;
        cpl.cid = e->cid;
        cpl.status = e->status;
        if (++qp->cq_head == qp->entries) {
            qp->cq_head = 0;
            qp->phase ^= 1;
        }
        n++;
        complete(qp, &cpl);
        /* A callback may have failed the qpair (fail_all): stop touching the ring. */
        if (qp->failed)
            break;
    }
    if (n && !qp->failed)
        *qp->cq_hdbl = qp->cq_head;
    return n;
}

unsigned nvme_qpair_outstanding(const struct nvme_qpair *qp)
{
    return qp->outstanding;
}

bool nvme_qpair_failed(const struct nvme_qpair *qp)
{
    return qp->failed || !qp->slots;
}

void nvme_qpair_check_timeouts(struct nvme_qpair *qp, uint64_t now_ns, uint64_t timeout_ns,
                               void (*on_timeout)(struct nvme_qpair *qp, uint16_t cid,
                                                  void *cmd_ctx, void *arg),
                               void *arg)
{
    if (now_ns == 0)
        now_ns = 1; /* 0 means "not seen yet" */
    for (unsigned i = 0; i < qp->nslots && qp->outstanding; i++) {
        struct nvme_qpair_slot *s = &qp->slots[i];

        if (!s->busy || s->timed_out)
            continue;
        if (s->first_seen_ns == 0 || s->first_seen_ns > now_ns) {
            s->first_seen_ns = now_ns;
            continue;
        }
        if (now_ns - s->first_seen_ns >= timeout_ns) {
            s->timed_out = 1;
            on_timeout(qp, (uint16_t)i, s->ctx, arg);
        }
    }
}

void nvme_qpair_fail_all(struct nvme_qpair *qp, uint16_t status)
{
    qp->failed = true;
    for (unsigned i = 0; i < qp->nslots && qp->outstanding; i++) {
        struct nvme_qpair_slot *s = &qp->slots[i];
        struct nvme_cpl cpl = { 0 };
        nvme_cpl_cb cb;
        void *ctx;

        if (!s->busy)
            continue;
        cb = s->cb;
        ctx = s->ctx;
        release(qp, (uint16_t)i);
        cpl.sqid = qp->qid;
        cpl.cid = (uint16_t)i;
        cpl.status = (uint16_t)(status << 1);
        if (cb)
            cb(ctx, &cpl);
    }
}
