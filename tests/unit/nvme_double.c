/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The software NVMe controller (see nvme_double.h).  Included by the test
 * programs that need it (#include "nvme_double.c"): it is no program itself.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvme_double.h"

_Atomic int nd_dma_live;

static int nd_alloc(void *opaque, size_t len, void **vaddr, uint64_t *iova)
{
    void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

    (void)opaque;
    if (!p)
        return -ENOMEM;
    memset(p, 0, len);
    *vaddr = p;
    *iova = (uint64_t)(uintptr_t)p;
    nd_dma_live++;
    return 0;
}

static void nd_free(void *opaque, void *vaddr, size_t len)
{
    (void)opaque;
    (void)len;
    free(vaddr);
    nd_dma_live--;
}

const struct nvme_dma_ops nd_dma_ops = { nd_alloc, nd_free };

static uint32_t reg_rd(struct nvme_double *d, size_t off)
{
    return __atomic_load_n(&d->bar[off / 4], __ATOMIC_ACQUIRE);
}

static void reg_wr(struct nvme_double *d, size_t off, uint32_t v)
{
    __atomic_store_n(&d->bar[off / 4], v, __ATOMIC_RELEASE);
}

static uint64_t reg_rd64(struct nvme_double *d, size_t off)
{
    return reg_rd(d, off) | (uint64_t)reg_rd(d, off + 4) << 32;
}

static void nd_sleep_us(unsigned us)
{
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

    nanosleep(&ts, NULL);
}

/* Device-side PRP walk: move len bytes between buf and host memory. */
static void move(uint64_t addr, uint8_t *buf, size_t n, bool to_host)
{
    if (to_host)
        memcpy((void *)(uintptr_t)addr, buf, n);
    else
        memcpy(buf, (void *)(uintptr_t)addr, n);
}

static bool prp_xfer(uint64_t prp1, uint64_t prp2, size_t len, uint8_t *buf, bool to_host)
{
    const uint64_t ps = 4096;
    size_t chunk, rem;
    uint64_t addr;

    if (len == 0)
        return true;
    if (prp1 & 3)
        return false;
    chunk = ps - (prp1 & (ps - 1));
    if (chunk > len)
        chunk = len;
    move(prp1, buf, chunk, to_host);
    buf += chunk;
    rem = len - chunk;
    if (rem == 0)
        return true;
    if (rem <= ps) { /* PRP2 is the second page itself */
        if (prp2 & (ps - 1))
            return false;
        move(prp2, buf, rem, to_host);
        return true;
    }
    addr = prp2;
    if (addr == 0 || (addr & 7))
        return false;
    while (rem > 0) {
        uint64_t page;

        /* Last qword of a list page while more than one entry is to come: a chain. */
        if (((addr + 8) & (ps - 1)) == 0 && rem > ps) {
            addr = *(uint64_t *)(uintptr_t)addr;
            if (addr == 0 || (addr & (ps - 1)))
                return false;
        }
        page = *(uint64_t *)(uintptr_t)addr;
        addr += 8;
        if (page == 0 || (page & (ps - 1)))
            return false;
        chunk = rem < ps ? rem : ps;
        move(page, buf, chunk, to_host);
        buf += chunk;
        rem -= chunk;
    }
    return true;
}

static void post(struct nvme_double *d, uint16_t sqid, uint16_t cid, uint16_t sf, uint32_t dw0)
{
    struct nd_queue *sq = &d->sq[sqid], *cq = &d->cq[sq->cqid];
    volatile struct nvme_cpl *e;
    int bogus = atomic_exchange(&d->bogus_cid, -1);

    if (bogus >= 0 && sqid != 0) {
        e = (volatile struct nvme_cpl *)(uintptr_t)(cq->base + 16ull * cq->tail);
        e->dw0 = 0;
        e->sqhd = (uint16_t)sq->head;
        e->sqid = sqid;
        e->cid = (uint16_t)bogus;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        e->status = cq->phase;
        if (++cq->tail == cq->size) {
            cq->tail = 0;
            cq->phase ^= 1;
        }
    }
    e = (volatile struct nvme_cpl *)(uintptr_t)(cq->base + 16ull * cq->tail);
    e->dw0 = dw0;
    e->dw1 = 0;
    e->sqhd = (uint16_t)sq->head;
    e->sqid = sqid;
    e->cid = cid;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    e->status = (uint16_t)(sf << 1 | cq->phase);
    if (++cq->tail == cq->size) {
        cq->tail = 0;
        cq->phase ^= 1;
    }
}

static void fill_id_ctrl(struct nvme_double *d, struct nvme_id_ctrl *id)
{
    memset(id, 0, sizeof(*id));
    id->vid = 0x1b36;
    memcpy(id->sn, "ND-0001             ", 20);
    memcpy(id->mn, "vus nvme double\x01                        ", 40);
    memcpy(id->fr, "1.0     ", 8);
    id->mdts = ND_MDTS;
    id->ver = NVME_VS(2, 0, 0);
    id->acl = 3;
    id->sqes = 0x66;
    id->cqes = 0x44;
    id->nn = ND_NS;
    id->oncs = NVME_ONCS_COMPARE | NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES;
    if (!d->no_verify)
        id->oncs |= NVME_ONCS_VERIFY;
    id->vwc = NVME_VWC_PRESENT;
}

static void fill_id_ns(const struct nd_ns *ns, uint32_t nsid, struct nvme_id_ns *id)
{
    memset(id, 0, sizeof(*id));
    if (!ns->active)
        return;
    id->nsze = id->ncap = id->nuse = ns->nsze;
    id->nlbaf = 1;
    id->flbas = ns->ms ? 1 : 0;
    id->lbaf[0] = (struct nvme_lbaf){ 0, ns->lbads, 0 };
    id->lbaf[1] = (struct nvme_lbaf){ 8, 9, 0 };
    id->dlfeat = NVME_DLFEAT_READ_ZEROES | NVME_DLFEAT_WZ_DEAC;
    id->nsfeat = NVME_NSFEAT_THINP;
    for (unsigned i = 0; i < 8; i++)
        id->eui64[i] = (uint8_t)(0x10 * nsid + i);
    if (nsid == 1)
        memset(id->nguid, 0xab, sizeof(id->nguid));
}

#define SF_G(sc) NVME_SF(NVME_SCT_GENERIC, sc)
#define SF_C(sc) NVME_SF(NVME_SCT_CMD, sc)

static uint16_t admin(struct nvme_double *d, const struct nvme_sqe *c, uint32_t *dw0)
{
    static uint8_t buf[4096];
    uint16_t qid = c->cdw10 & 0xffff;
    uint32_t qsize = (c->cdw10 >> 16) + 1;

    switch (c->opc) {
    case NVME_ADM_IDENTIFY:
        switch (c->cdw10 & 0xff) {
        case NVME_CNS_CTRL:
            fill_id_ctrl(d, (struct nvme_id_ctrl *)buf);
            break;
        case NVME_CNS_NS:
            if (c->nsid == 0 || c->nsid > ND_NS)
                return SF_G(NVME_SC_INVALID_NS_OR_FORMAT);
            fill_id_ns(&d->ns[c->nsid - 1], c->nsid, (struct nvme_id_ns *)buf);
            break;
        case NVME_CNS_CS_CTRL: {
            struct nvme_id_ctrl_nvm *n = (struct nvme_id_ctrl_nvm *)buf;
            if (d->no_cns6 || (c->cdw11 >> 24) != NVME_CSI_NVM)
                return SF_G(NVME_SC_INVALID_FIELD);
            memset(n, 0, sizeof(*n));
            n->dmrl = 64;
            n->dmrsl = 1u << 16;
            n->dmsl = 1u << 20;
            break;
        }
        default:
            return SF_G(NVME_SC_INVALID_FIELD);
        }
        return prp_xfer(c->prp1, c->prp2, 4096, buf, true) ? 0 : SF_G(NVME_SC_DATA_XFER_ERROR);
    case NVME_ADM_CREATE_CQ:
        if (qid == 0 || qid >= ND_NQ || d->cq[qid].live)
            return SF_C(NVME_SC_INVALID_QID);
        if (qsize < 2 || qsize > NVME_CAP_MQES(reg_rd64(d, NVME_REG_CAP)) + 1)
            return SF_C(NVME_SC_INVALID_QSIZE);
        if (!(c->cdw11 & NVME_QUEUE_PC) || (c->prp1 & 4095))
            return SF_G(NVME_SC_INVALID_FIELD);
        d->cq[qid] = (struct nd_queue){ true, c->prp1, qsize, 0, 0, 0, 1 };
        return 0;
    case NVME_ADM_CREATE_SQ:
        if (qid == 0 || qid >= ND_NQ || d->sq[qid].live)
            return SF_C(NVME_SC_INVALID_QID);
        if (qsize < 2 || qsize > NVME_CAP_MQES(reg_rd64(d, NVME_REG_CAP)) + 1)
            return SF_C(NVME_SC_INVALID_QSIZE);
        if ((c->cdw11 >> 16) >= ND_NQ || !d->cq[c->cdw11 >> 16].live)
            return SF_C(NVME_SC_CQ_INVALID);
        d->sq[qid] = (struct nd_queue){ true, c->prp1, qsize, 0, 0, (uint16_t)(c->cdw11 >> 16), 0 };
        return 0;
    case NVME_ADM_DELETE_SQ:
        if (qid == 0 || qid >= ND_NQ || !d->sq[qid].live)
            return SF_C(NVME_SC_INVALID_QID);
        for (unsigned i = 0; i < d->nheld;) {
            if (d->held[i].sqid == qid) {
                post(d, qid, d->held[i].sqe.cid, SF_G(NVME_SC_ABORT_SQ_DELETION), 0);
                d->held[i] = d->held[--d->nheld];
            } else {
                i++;
            }
        }
        d->held_count = d->nheld;
        d->sq[qid].live = false;
        return 0;
    case NVME_ADM_DELETE_CQ:
        if (qid == 0 || qid >= ND_NQ || !d->cq[qid].live)
            return SF_C(NVME_SC_INVALID_QID);
        for (unsigned i = 1; i < ND_NQ; i++)
            if (d->sq[i].live && d->sq[i].cqid == qid)
                return SF_C(NVME_SC_INVALID_QUEUE_DELETION);
        d->cq[qid].live = false;
        return 0;
    case NVME_ADM_SET_FEATURES:
        if ((c->cdw10 & 0xff) == NVME_FEAT_NUM_QUEUES) {
            unsigned n = (c->cdw11 & 0xffff) + 1;
            if (n > d->max_ioq)
                n = d->max_ioq;
            *dw0 = (n - 1) | (n - 1) << 16;
        }
        return 0;
    case NVME_ADM_GET_FEATURES:
        return 0;
    case NVME_ADM_ABORT:
        *dw0 = 1;
        for (unsigned i = 0; i < d->nheld && !d->ignore_abort; i++) {
            if (d->held[i].sqid == qid && d->held[i].sqe.cid == c->cdw10 >> 16) {
                post(d, qid, d->held[i].sqe.cid, SF_G(NVME_SC_ABORT_REQUESTED), 0);
                d->held[i] = d->held[--d->nheld];
                d->held_count = d->nheld;
                d->aborts_done++;
                *dw0 = 0;
                break;
            }
        }
        return 0;
    default:
        return SF_G(NVME_SC_INVALID_OPCODE);
    }
}

static uint16_t io(struct nvme_double *d, const struct nvme_sqe *c)
{
    static uint8_t buf[(4096u << ND_MDTS) + 4096], cmp[sizeof(buf)];
    uint64_t slba = c->cdw10 | (uint64_t)c->cdw11 << 32;
    uint32_t nlb = (c->cdw12 & NVME_RW_NLB_MASK) + 1;
    struct nd_ns *ns;
    size_t bytes;

    if (c->nsid == 0 || c->nsid > ND_NS || !d->ns[c->nsid - 1].active)
        return SF_G(NVME_SC_INVALID_NS_OR_FORMAT);
    ns = &d->ns[c->nsid - 1];
    if ((c->flags & NVME_SQE_PSDT_MASK) != NVME_SQE_PSDT_PRP)
        return SF_G(NVME_SC_INVALID_FIELD);
    d->io_cmds++;
    bytes = (size_t)nlb << ns->lbads;
    switch (c->opc) {
    case NVME_CMD_FLUSH:
        d->flushes++;
        return 0;
    case NVME_CMD_READ:
    case NVME_CMD_WRITE:
    case NVME_CMD_COMPARE:
    case NVME_CMD_WRITE_ZEROES:
    case NVME_CMD_VERIFY:
        if (slba >= ns->nsze || nlb > ns->nsze - slba)
            return SF_G(NVME_SC_LBA_OUT_OF_RANGE);
        if (c->opc == NVME_CMD_WRITE_ZEROES) {
            memset(ns->data + (slba << ns->lbads), 0, bytes);
            return 0;
        }
        if (c->opc == NVME_CMD_VERIFY)
            return 0;
        if (bytes > (4096u << ND_MDTS))
            return SF_G(NVME_SC_INVALID_FIELD);
        if (c->opc == NVME_CMD_READ)
            return prp_xfer(c->prp1, c->prp2, bytes, ns->data + (slba << ns->lbads), true)
                       ? 0
                       : SF_G(NVME_SC_DATA_XFER_ERROR);
        if (!prp_xfer(c->prp1, c->prp2, bytes, buf, false))
            return SF_G(NVME_SC_DATA_XFER_ERROR);
        if (c->opc == NVME_CMD_COMPARE) {
            memcpy(cmp, ns->data + (slba << ns->lbads), bytes);
            return memcmp(buf, cmp, bytes) ? NVME_SF(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILURE) : 0;
        }
        memcpy(ns->data + (slba << ns->lbads), buf, bytes);
        return 0;
    case NVME_CMD_DSM: {
        unsigned nr = (c->cdw10 & 0xff) + 1;
        struct nvme_dsm_range r[NVME_DSM_MAX_RANGES];

        if (!prp_xfer(c->prp1, c->prp2, nr * sizeof(r[0]), (uint8_t *)r, false))
            return SF_G(NVME_SC_DATA_XFER_ERROR);
        for (unsigned i = 0; i < nr; i++)
            if (r[i].slba >= ns->nsze || r[i].nlb > ns->nsze - r[i].slba)
                return SF_G(NVME_SC_LBA_OUT_OF_RANGE);
        if (c->cdw11 & NVME_DSM_AD)
            for (unsigned i = 0; i < nr; i++)
                memset(ns->data + (r[i].slba << ns->lbads), 0, (size_t)r[i].nlb << ns->lbads);
        return 0;
    }
    default:
        return SF_G(NVME_SC_INVALID_OPCODE);
    }
}

static void execute(struct nvme_double *d, uint16_t sqid, const struct nvme_sqe *c)
{
    uint32_t dw0 = 0;
    uint16_t sf;
    unsigned delay = d->delay_us;

    if (delay)
        nd_sleep_us(delay);
    if (d->fail_next > 0) {
        d->fail_next--;
        sf = d->fail_status;
    } else {
        sf = sqid == 0 ? admin(d, c, &dw0) : io(d, c);
    }
    d->cmds++;
    post(d, sqid, c->cid, sf, dw0);
}

static void reset_queues(struct nvme_double *d)
{
    memset(d->sq, 0, sizeof(d->sq));
    memset(d->cq, 0, sizeof(d->cq));
    d->nheld = 0;
    d->held_count = 0;
    /* Doorbells read zero after a controller reset. */
    for (size_t off = NVME_REG_DBS; off < ND_BAR_LEN; off += 4)
        reg_wr(d, off, 0);
}

static void poll_queues(struct nvme_double *d)
{
    if (d->release_held) {
        struct nd_held h[ND_MAX_HELD];
        unsigned n = d->nheld;

        memcpy(h, d->held, sizeof(h));
        d->nheld = 0;
        d->held_count = 0;
        d->release_held = false;
        for (unsigned i = 0; i < n; i++)
            if (d->sq[h[i].sqid].live)
                execute(d, h[i].sqid, &h[i].sqe);
    }
    for (unsigned q = 0; q < ND_NQ; q++) {
        struct nd_queue *sq = &d->sq[q];
        uint32_t tail;

        if (!sq->live)
            continue;
        tail = reg_rd(d, nvme_doorbell_offset((uint16_t)q, 0, 0));
        if (tail >= sq->size)
            continue; /* a real device would post an async event */
        while (sq->head != tail) {
            struct nvme_sqe c;

            memcpy(&c, (void *)(uintptr_t)(sq->base + 64ull * sq->head), sizeof(c));
            if (++sq->head == sq->size)
                sq->head = 0;
            if ((d->hold & (q == 0 ? ND_HOLD_ADMIN : ND_HOLD_IO)) && d->nheld < ND_MAX_HELD) {
                d->held[d->nheld++] = (struct nd_held){ (uint16_t)q, c };
                d->held_count = d->nheld;
                continue;
            }
            execute(d, (uint16_t)q, &c);
        }
    }
}

static void *nd_thread(void *arg)
{
    struct nvme_double *d = arg;

    while (!d->stop) {
        uint32_t cc, csts;

        nd_sleep_us(20);
        if (d->gone) {
            memset(d->bar, 0xff, sizeof(d->bar));
            continue;
        }
        cc = reg_rd(d, NVME_REG_CC);
        csts = reg_rd(d, NVME_REG_CSTS);
        /* CSTS.CFS follows the knob, so a test never writes the BAR under the thread. */
        if (!!d->cfs != !!(csts & NVME_CSTS_CFS)) {
            csts ^= NVME_CSTS_CFS;
            reg_wr(d, NVME_REG_CSTS, csts);
        }
        if (!(cc & NVME_CC_EN)) {
            if (d->enabled || (csts & (NVME_CSTS_RDY | NVME_CSTS_SHST_MASK))) {
                nd_sleep_us(200);
                reset_queues(d);
                d->enabled = false;
                reg_wr(d, NVME_REG_CSTS, csts & NVME_CSTS_CFS);
            }
            continue;
        }
        if (!d->enabled) {
            uint32_t aqa = reg_rd(d, NVME_REG_AQA);

            if (d->never_ready || d->cfs)
                continue;
            nd_sleep_us(200);
            reset_queues(d);
            d->sq[0] =
                (struct nd_queue){ true, reg_rd64(d, NVME_REG_ASQ), (aqa & 0xfff) + 1, 0, 0, 0, 0 };
            d->cq[0] = (struct nd_queue){
                true, reg_rd64(d, NVME_REG_ACQ), ((aqa >> 16) & 0xfff) + 1, 0, 0, 0, 1
            };
            d->enabled = true;
            d->enables++;
            reg_wr(d, NVME_REG_CSTS, NVME_CSTS_RDY);
            continue;
        }
        if ((cc & NVME_CC_SHN_MASK) && !d->ignore_shn &&
            (csts & NVME_CSTS_SHST_MASK) != NVME_CSTS_SHST_COMPLETE) {
            nd_sleep_us(200);
            reg_wr(d, NVME_REG_CSTS, (csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_COMPLETE);
            continue;
        }
        if (!d->cfs)
            poll_queues(d);
    }
    return NULL;
}

void nvme_double_start(struct nvme_double *d, unsigned to_500ms, uint32_t mqes_entries)
{
    uint64_t cap = (uint64_t)(mqes_entries - 1) | NVME_CAP_CQR(1) << 16 | (uint64_t)to_500ms << 24 |
                   (uint64_t)NVME_CAP_CSS_NVM << 37;

    memset(d, 0, sizeof(*d));
    d->bogus_cid = -1;
    d->max_ioq = 8;
    d->bar[0] = (uint32_t)cap;
    d->bar[1] = (uint32_t)(cap >> 32);
    d->bar[NVME_REG_VS / 4] = NVME_VS(2, 0, 0);
    d->ns[0] = (struct nd_ns){ true, 2048, 9, 0, calloc(2048, 512) };
    d->ns[1] = (struct nd_ns){ true, 2048, 9, 8, calloc(2048, 512) };
    d->ns[2] = (struct nd_ns){ false, 0, 9, 0, NULL };
    d->ns[3] = (struct nd_ns){ true, 256, 12, 0, calloc(256, 4096) };
    pthread_create(&d->thread, NULL, nd_thread, d);
}

void nvme_double_stop(struct nvme_double *d)
{
    d->stop = true;
    pthread_join(d->thread, NULL);
    for (unsigned i = 0; i < ND_NS; i++)
        free(d->ns[i].data);
}

uint8_t *nvme_double_ns_data(struct nvme_double *d, uint32_t nsid)
{
    return d->ns[nsid - 1].data;
}
