/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NVMe controller bring-up and admin commands (see nvme_ctrlr.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nvme/nvme_ctrlr.h"
#include "util/log.h"

#define AQ_ENTRIES       32
#define PAGE             4096u
#define ADMIN_POLL_NS    20000 /* between looks at the admin CQ */
#define REG_POLL_NS      200000
#define DEFAULT_ADMIN_MS 5000
#define SHUTDOWN_MIN_MS  1000
#define SHUTDOWN_MAX_MS  30000

static uint32_t rd32(const struct nvme_ctrlr *c, size_t off)
{
    return *(const volatile uint32_t *)(c->bar + off);
}

static void wr32(struct nvme_ctrlr *c, size_t off, uint32_t v)
{
    *(volatile uint32_t *)(c->bar + off) = v;
}

/* 64-bit registers as two dword accesses, low first: not every device takes 8-byte MMIO. */
static uint64_t rd64(const struct nvme_ctrlr *c, size_t off)
{
    uint64_t lo = rd32(c, off);

    return lo | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr64(struct nvme_ctrlr *c, size_t off, uint64_t v)
{
    wr32(c, off, (uint32_t)v);
    wr32(c, off + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_ns(long ns)
{
    struct timespec ts = { 0, ns };

    nanosleep(&ts, NULL);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static unsigned ready_timeout_ms(const struct nvme_ctrlr *c)
{
    unsigned to = NVME_CAP_TO(c->info.cap);

    return (to ? to : 1) * NVME_CAP_TO_UNIT_MS;
}

/* Wait until CSTS & mask == want.  -ENODEV: all-ones or CFS; -ETIMEDOUT. */
static int wait_csts(struct nvme_ctrlr *c, uint32_t mask, uint32_t want, unsigned timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

    for (;;) {
        uint32_t csts = rd32(c, NVME_REG_CSTS);

        if (csts == UINT32_MAX || (csts & NVME_CSTS_CFS))
            return -ENODEV;
        if ((csts & mask) == want)
            return 0;
        if (now_ns() > deadline)
            return -ETIMEDOUT;
        pause_ns(REG_POLL_NS);
    }
}

/* finish_enable: first let an enable in progress complete (clearing EN during one is undefined). */
static int disable(struct nvme_ctrlr *c, bool finish_enable, char *err, size_t errlen)
{
    uint32_t cc = rd32(c, NVME_REG_CC);
    uint32_t csts = rd32(c, NVME_REG_CSTS);
    uint64_t deadline;

    if (cc == UINT32_MAX && csts == UINT32_MAX) {
        seterr(err, errlen, "controller registers read all-ones: device gone");
        return -ENODEV;
    }
    if (finish_enable && (cc & NVME_CC_EN) && !(csts & NVME_CSTS_RDY) && !(csts & NVME_CSTS_CFS))
        (void)wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY, ready_timeout_ms(c));
    wr32(c, NVME_REG_CC, cc & ~(NVME_CC_EN | NVME_CC_SHN_MASK));
    /* A controller with CFS set must still go through !RDY: CFS is not an answer here. */
    deadline = now_ns() + (uint64_t)ready_timeout_ms(c) * 1000000;
    for (;;) {
        csts = rd32(c, NVME_REG_CSTS);
        if (csts == UINT32_MAX) {
            seterr(err, errlen, "controller registers read all-ones: device gone");
            return -ENODEV;
        }
        if (!(csts & NVME_CSTS_RDY))
            return 0;
        if (now_ns() > deadline) {
            seterr(err, errlen,
                   "controller did not become not-ready within %u ms of disabling (CAP.TO)",
                   ready_timeout_ms(c));
            return -ETIMEDOUT;
        }
        pause_ns(REG_POLL_NS);
    }
}

static int enable(struct nvme_ctrlr *c, char *err, size_t errlen)
{
    int rc;

    wr32(c, NVME_REG_AQA, NVME_AQA(AQ_ENTRIES, AQ_ENTRIES));
    wr64(c, NVME_REG_ASQ, c->aq_iova);
    wr64(c, NVME_REG_ACQ, c->aq_iova + PAGE);
    wr32(c, NVME_REG_CC, c->cc);
    wr32(c, NVME_REG_CC, c->cc | NVME_CC_EN);
    rc = wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY, ready_timeout_ms(c));
    if (rc == -ETIMEDOUT)
        seterr(err, errlen, "controller did not become ready within %u ms of enabling (CAP.TO)",
               ready_timeout_ms(c));
    else if (rc)
        seterr(err, errlen, "controller failed while enabling (CSTS %#x)", rd32(c, NVME_REG_CSTS));
    return rc;
}

static void admin_done(void *ctx, const struct nvme_cpl *cpl)
{
    struct nvme_ctrlr *c = ctx;

    /* A late answer to a command we gave up on has another CID: ignore it. */
    if (cpl->cid != c->wait_cid || c->wait_done) {
        LOG_DEBUG("nvme: late admin completion for CID %u dropped", cpl->cid);
        return;
    }
    c->wait_cpl = *cpl;
    c->wait_done = true;
}

/* Caller holds admin_lock. */
static int admin_locked(struct nvme_ctrlr *c, struct nvme_sqe *cmd, struct nvme_cpl *cpl)
{
    uint64_t deadline;
    int rc;

    if (!c->ready)
        return -ENODEV;
    c->wait_done = false;
    rc = nvme_qpair_submit(&c->admin, cmd, admin_done, c);
    if (rc == -EAGAIN)
        return -EBUSY; /* every slot taken by commands that timed out: reset */
    if (rc)
        return rc;
    c->wait_cid = cmd->cid;
    deadline = now_ns() + (uint64_t)c->admin_timeout_ms * 1000000;
    for (;;) {
        nvme_qpair_process(&c->admin, 0);
        if (c->wait_done)
            break;
        if (nvme_ctrlr_is_fatal(c))
            return -ENODEV;
        if (now_ns() > deadline) {
            LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme: admin opcode %#x timed out after %u ms",
                            cmd->opc, c->admin_timeout_ms);
            return -ETIMEDOUT;
        }
        pause_ns(ADMIN_POLL_NS);
    }
    if (cpl)
        *cpl = c->wait_cpl;
    return NVME_SF_CODE(NVME_CPL_SF(c->wait_cpl.status)) == 0 ? 0 : -EIO;
}

int nvme_ctrlr_admin(struct nvme_ctrlr *c, struct nvme_sqe *cmd, struct nvme_cpl *cpl)
{
    int rc;

    pthread_mutex_lock(&c->admin_lock);
    rc = admin_locked(c, cmd, cpl);
    pthread_mutex_unlock(&c->admin_lock);
    return rc;
}

bool nvme_ctrlr_is_fatal(struct nvme_ctrlr *c)
{
    uint32_t csts = rd32(c, NVME_REG_CSTS);

    return csts == UINT32_MAX || (csts & NVME_CSTS_CFS);
}

/* Device strings: fixed width, space padded, and not to be trusted to be printable. */
static void copy_str(char *dst, const char *src, size_t n)
{
    size_t len = n;

    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0'))
        len--;
    for (size_t i = 0; i < len; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[len] = '\0';
}

static int identify(struct nvme_ctrlr *c, uint8_t cns, uint8_t csi, uint32_t nsid,
                    struct nvme_cpl *cpl)
{
    struct nvme_sqe cmd = { .opc = NVME_ADM_IDENTIFY, .nsid = nsid };

    memset(c->scratch, 0, NVME_IDENTIFY_LEN);
    cmd.prp1 = c->scratch_iova;
    cmd.cdw10 = cns;
    cmd.cdw11 = (uint32_t)csi << 24;
    return nvme_ctrlr_admin(c, &cmd, cpl);
}

static int identify_ctrlr(struct nvme_ctrlr *c, char *err, size_t errlen)
{
    const struct nvme_id_ctrl *id = c->scratch;
    struct nvme_ctrlr_info *in = &c->info;
    struct nvme_cpl cpl = { 0 };
    unsigned shift;
    int rc;

    rc = identify(c, NVME_CNS_CTRL, 0, 0, &cpl);
    if (rc) {
        seterr(err, errlen, "Identify Controller failed (%d, status %#x)", rc,
               NVME_CPL_SF(cpl.status));
        return rc;
    }
    copy_str(in->serial, id->sn, sizeof(id->sn));
    copy_str(in->model, id->mn, sizeof(id->mn));
    copy_str(in->firmware, id->fr, sizeof(id->fr));
    in->vid = id->vid;
    in->cntlid = id->cntlid;
    /* MDTS counts CAP.MPSMIN pages; beyond 2^62 it is as good as unlimited. */
    shift = id->mdts + 12 + NVME_CAP_MPSMIN(in->cap);
    in->mdts_bytes = (id->mdts && shift < 63) ? 1ull << shift : 0;
    in->vwc = id->vwc & NVME_VWC_PRESENT;
    in->oncs = id->oncs;
    in->write_zeroes = id->oncs & NVME_ONCS_WRITE_ZEROES;
    in->dsm = id->oncs & NVME_ONCS_DSM;
    in->verify = id->oncs & NVME_ONCS_VERIFY;
    in->compare = id->oncs & NVME_ONCS_COMPARE;
    in->sgls = id->sgls & NVME_SGLS_SUPPORT_MASK;
    in->abort_limit = id->acl + 1u;
    in->nn = id->nn;
    if ((id->sqes & 0xf) > NVME_SQES_LOG2 || (id->cqes & 0xf) > NVME_CQES_LOG2 ||
        ((id->sqes >> 4) && (id->sqes >> 4) < NVME_SQES_LOG2) ||
        ((id->cqes >> 4) && (id->cqes >> 4) < NVME_CQES_LOG2)) {
        seterr(err, errlen, "controller needs queue entries of other sizes (SQES %#x CQES %#x)",
               id->sqes, id->cqes);
        return -ENOTSUP;
    }

    /* CNS 06h exists from NVMe 2.0 (and where I/O command sets are reported). */
    if (in->version >= NVME_VS(2, 0, 0) || (NVME_CAP_CSS(in->cap) & NVME_CAP_CSS_IOCS)) {
        const struct nvme_id_ctrl_nvm *nvm = c->scratch;

        if (identify(c, NVME_CNS_CS_CTRL, NVME_CSI_NVM, 0, NULL) == 0) {
            in->have_nvm_limits = true;
            in->dmrl = nvm->dmrl;
            in->dmrsl = nvm->dmrsl;
            in->dmsl = nvm->dmsl;
            in->wzsl = nvm->wzsl;
        } else {
            LOG_DEBUG("nvme: no NVM command set Identify Controller (CNS 06h)");
        }
    }
    return 0;
}

static void free_admin(struct nvme_ctrlr *c)
{
    if (c->admin.slots)
        nvme_qpair_fini(&c->admin);
    if (c->aq_mem)
        c->dma->free(c->dma_opaque, c->aq_mem, c->aq_len);
    if (c->scratch)
        c->dma->free(c->dma_opaque, c->scratch, PAGE);
    c->aq_mem = NULL;
    c->scratch = NULL;
}

int nvme_ctrlr_init(struct nvme_ctrlr *c, const struct nvme_ctrlr_config *cfg, char *err,
                    size_t errlen)
{
    uint32_t css, dstrd;
    uint64_t cap;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!cfg->bar0 || cfg->bar0_len < NVME_REG_DBS + 8 || !cfg->dma) {
        seterr(err, errlen, "BAR0 missing or smaller than %u bytes", NVME_REG_DBS + 8);
        return -EINVAL;
    }
    c->bar = (volatile uint8_t *)cfg->bar0;
    c->bar_len = cfg->bar0_len;
    c->dma = cfg->dma;
    c->dma_opaque = cfg->dma_opaque;
    c->admin_timeout_ms = cfg->admin_timeout_ms ? cfg->admin_timeout_ms : DEFAULT_ADMIN_MS;
    pthread_mutex_init(&c->admin_lock, NULL);

    cap = rd64(c, NVME_REG_CAP);
    c->info.cap = cap;
    c->info.version = rd32(c, NVME_REG_VS);
    if (cap == UINT64_MAX) {
        seterr(err, errlen, "controller registers read all-ones: device gone");
        rc = -ENODEV;
        goto fail;
    }
    dstrd = NVME_CAP_DSTRD(cap);
    c->dstrd = dstrd;
    c->info.max_queue_entries = NVME_CAP_MQES(cap) + 1;
    c->info.page_size = PAGE;
    if (NVME_CAP_MPSMIN(cap) > 0) {
        seterr(err, errlen, "controller pages are at least %u bytes; only 4096 is supported",
               PAGE << NVME_CAP_MPSMIN(cap));
        rc = -ENOTSUP;
        goto fail;
    }
    if (NVME_CAP_CSS(cap) & NVME_CAP_CSS_IOCS)
        css = NVME_CC_CSS_CSI;
    else if (NVME_CAP_CSS(cap) & NVME_CAP_CSS_NVM)
        css = NVME_CC_CSS_NVM;
    else {
        seterr(err, errlen, "controller does not support the NVM command set (CAP.CSS %#x)",
               NVME_CAP_CSS(cap));
        rc = -ENOTSUP;
        goto fail;
    }
    if (c->info.max_queue_entries < 2) {
        seterr(err, errlen, "controller reports queues of %u entries", c->info.max_queue_entries);
        rc = -ENOTSUP;
        goto fail;
    }
    if (nvme_doorbell_offset(1, 1, dstrd) + 4 > c->bar_len) {
        seterr(err, errlen, "BAR0 of %zu bytes too small for doorbell stride %u", c->bar_len,
               4u << dstrd);
        rc = -ENOTSUP;
        goto fail;
    }
    c->cc = css | (0u << NVME_CC_MPS_SHIFT) | ((uint32_t)NVME_SQES_LOG2 << NVME_CC_IOSQES_SHIFT) |
            ((uint32_t)NVME_CQES_LOG2 << NVME_CC_IOCQES_SHIFT);

    rc = disable(c, true, err, errlen);
    if (rc)
        goto fail;

    c->aq_len = 2 * PAGE; /* SQ page, CQ page */
    rc = c->dma->alloc(c->dma_opaque, c->aq_len, &c->aq_mem, &c->aq_iova);
    if (rc) {
        c->aq_mem = NULL;
        seterr(err, errlen, "no DMA memory for the admin queue (%d)", rc);
        goto fail;
    }
    rc = c->dma->alloc(c->dma_opaque, PAGE, &c->scratch, &c->scratch_iova);
    if (rc) {
        c->scratch = NULL;
        seterr(err, errlen, "no DMA memory for Identify (%d)", rc);
        goto fail;
    }
    rc = nvme_qpair_init(&c->admin, 0, AQ_ENTRIES, c->aq_mem, c->aq_iova,
                         (uint8_t *)c->aq_mem + PAGE, c->aq_iova + PAGE,
                         (volatile uint32_t *)(c->bar + nvme_doorbell_offset(0, 0, dstrd)),
                         (volatile uint32_t *)(c->bar + nvme_doorbell_offset(0, 1, dstrd)));
    if (rc) {
        seterr(err, errlen, "admin queue setup failed (%d)", rc);
        goto fail;
    }
    rc = enable(c, err, errlen);
    if (rc)
        goto fail;
    c->ready = true;
    rc = identify_ctrlr(c, err, errlen);
    if (rc)
        goto fail;
    return 0;

fail:
    /* After a failed enable we already waited CAP.TO for RDY: do not wait again. */
    if (c->ready || (rd32(c, NVME_REG_CC) & NVME_CC_EN))
        (void)disable(c, false, NULL, 0);
    c->ready = false;
    free_admin(c);
    pthread_mutex_destroy(&c->admin_lock);
    c->bar = NULL;
    return rc;
}

int nvme_ctrlr_identify_ns(struct nvme_ctrlr *c, uint32_t nsid, struct nvme_ns_info *out, char *err,
                           size_t errlen)
{
    struct nvme_cpl cpl = { 0 };
    struct nvme_id_ns id;
    const struct nvme_lbaf *f;
    unsigned idx;
    int rc;

    if (nsid == 0 || nsid == UINT32_MAX || (c->info.nn && nsid > c->info.nn)) {
        seterr(err, errlen, "namespace %u does not exist (the controller has %u)", nsid,
               c->info.nn);
        return -ENOENT;
    }
    /* scratch is shared: copy it out under the lock the command ran under. */
    pthread_mutex_lock(&c->admin_lock);
    {
        struct nvme_sqe cmd = { .opc = NVME_ADM_IDENTIFY, .nsid = nsid };

        memset(c->scratch, 0, NVME_IDENTIFY_LEN);
        cmd.prp1 = c->scratch_iova;
        cmd.cdw10 = NVME_CNS_NS;
        rc = admin_locked(c, &cmd, &cpl);
        memcpy(&id, c->scratch, sizeof(id));
    }
    pthread_mutex_unlock(&c->admin_lock);
    if (rc == -EIO && NVME_SF_CODE(NVME_CPL_SF(cpl.status)) ==
                          NVME_SF(NVME_SCT_GENERIC, NVME_SC_INVALID_NS_OR_FORMAT)) {
        seterr(err, errlen, "namespace %u does not exist", nsid);
        return -ENOENT;
    }
    if (rc) {
        seterr(err, errlen, "Identify Namespace %u failed (%d, status %#x)", nsid, rc,
               NVME_CPL_SF(cpl.status));
        return rc;
    }
    if (id.nsze == 0) {
        seterr(err, errlen, "namespace %u is not active (not attached to this controller)", nsid);
        return -ENOENT;
    }
    idx = nvme_flbas_index(id.flbas, id.nlbaf);
    if (idx > id.nlbaf || idx >= 64) {
        seterr(err, errlen, "namespace %u: LBA format %u beyond the %u it has", nsid, idx,
               id.nlbaf + 1u);
        return -ENOTSUP;
    }
    f = &id.lbaf[idx];
    if (f->ms != 0) {
        seterr(err, errlen,
               "namespace %u uses LBA format %u with %u bytes of metadata per block; only "
               "formats without metadata are supported (reformat the namespace)",
               nsid, idx, f->ms);
        return -ENOTSUP;
    }
    if (f->lbads < 9 || f->lbads > 16) {
        seterr(err, errlen, "namespace %u: unsupported block size 2^%u", nsid, f->lbads);
        return -ENOTSUP;
    }
    memset(out, 0, sizeof(*out));
    out->nsid = nsid;
    out->nsze = id.nsze;
    out->ncap = id.ncap;
    out->block_size = 1u << f->lbads;
    out->lbaf = (uint8_t)idx;
    out->dlfeat = id.dlfeat;
    out->dealloc_reads_zeroes = (id.dlfeat & NVME_DLFEAT_READ_MASK) == NVME_DLFEAT_READ_ZEROES;
    out->wz_deallocates = id.dlfeat & NVME_DLFEAT_WZ_DEAC;
    out->thin = id.nsfeat & NVME_NSFEAT_THINP;
    memcpy(out->eui64, id.eui64, sizeof(out->eui64));
    memcpy(out->nguid, id.nguid, sizeof(out->nguid));
    for (unsigned i = 0; i < sizeof(id.eui64); i++)
        out->has_eui64 |= id.eui64[i] != 0;
    for (unsigned i = 0; i < sizeof(id.nguid); i++)
        out->has_nguid |= id.nguid[i] != 0;
    return 0;
}

int nvme_ctrlr_set_num_io_queues(struct nvme_ctrlr *c, unsigned want, unsigned *granted)
{
    struct nvme_sqe cmd = { .opc = NVME_ADM_SET_FEATURES };
    struct nvme_cpl cpl = { 0 };
    unsigned nsq, ncq;
    int rc;

    if (want == 0 || want > 65535)
        return -EINVAL;
    cmd.cdw10 = NVME_FEAT_NUM_QUEUES;
    cmd.cdw11 = (want - 1) | (want - 1) << 16;
    rc = nvme_ctrlr_admin(c, &cmd, &cpl);
    if (rc)
        return rc;
    nsq = (cpl.dw0 & 0xffff) + 1;
    ncq = (cpl.dw0 >> 16) + 1;
    *granted = want < nsq ? want : nsq;
    if (ncq < *granted)
        *granted = ncq;
    return 0;
}

static size_t round_page(size_t n)
{
    return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static void free_io_mem(struct nvme_ctrlr *c, struct nvme_qpair *qp)
{
    if (qp->slots)
        nvme_qpair_fini(qp);
    if (qp->sq)
        c->dma->free(c->dma_opaque, qp->sq, qp->sq_len);
    if (qp->cq)
        c->dma->free(c->dma_opaque, (void *)qp->cq, qp->cq_len);
    memset(qp, 0, sizeof(*qp));
}

static int delete_queue(struct nvme_ctrlr *c, uint8_t opc, uint16_t qid)
{
    struct nvme_sqe cmd = { .opc = opc, .cdw10 = qid };
    struct nvme_cpl cpl = { 0 };
    int rc = nvme_ctrlr_admin(c, &cmd, &cpl);

    /* Already gone is what we wanted. */
    if (rc == -EIO &&
        NVME_SF_CODE(NVME_CPL_SF(cpl.status)) == NVME_SF(NVME_SCT_CMD, NVME_SC_INVALID_QID))
        return 0;
    return rc;
}

int nvme_ctrlr_create_io_qpair(struct nvme_ctrlr *c, struct nvme_qpair *qp, uint16_t qid,
                               uint32_t entries, int msix_vector)
{
    struct nvme_sqe cmd;
    void *sq, *cq;
    uint64_t sq_iova, cq_iova;
    int rc;

    if (!c->ready)
        return -ENODEV;
    if (qid == 0 || qid == UINT16_MAX || entries < 2 || entries > c->info.max_queue_entries ||
        msix_vector > 2047 || nvme_doorbell_offset(qid, 1, c->dstrd) + 4 > c->bar_len)
        return -EINVAL;
    if (qp->slots && qp->live && qp->ctrlr_gen == c->gen)
        return -EBUSY;
    if (qp->slots && (qp->entries != entries || qp->qid != qid))
        free_io_mem(c, qp);

    if (qp->slots) {
        nvme_qpair_reset(qp); /* re-creation after a reset: same memory */
    } else {
        size_t sq_len = round_page((size_t)entries * sizeof(struct nvme_sqe));
        size_t cq_len = round_page((size_t)entries * sizeof(struct nvme_cpl));

        memset(qp, 0, sizeof(*qp));
        rc = c->dma->alloc(c->dma_opaque, sq_len, &sq, &sq_iova);
        if (rc)
            return rc;
        rc = c->dma->alloc(c->dma_opaque, cq_len, &cq, &cq_iova);
        if (rc) {
            c->dma->free(c->dma_opaque, sq, sq_len);
            return rc;
        }
        rc =
            nvme_qpair_init(qp, qid, entries, sq, sq_iova, cq, cq_iova,
                            (volatile uint32_t *)(c->bar + nvme_doorbell_offset(qid, 0, c->dstrd)),
                            (volatile uint32_t *)(c->bar + nvme_doorbell_offset(qid, 1, c->dstrd)));
        qp->sq_len = sq_len;
        qp->cq_len = cq_len;
        if (rc) {
            c->dma->free(c->dma_opaque, sq, sq_len);
            c->dma->free(c->dma_opaque, cq, cq_len);
            memset(qp, 0, sizeof(*qp));
            return rc;
        }
    }
    qp->msix_vector = msix_vector;
    qp->live = false;

    cmd = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_CQ, .prp1 = qp->cq_iova };
    cmd.cdw10 = (entries - 1) << 16 | qid;
    cmd.cdw11 = NVME_QUEUE_PC;
    if (msix_vector >= 0)
        cmd.cdw11 |= NVME_CQ_IEN | (uint32_t)msix_vector << 16;
    rc = nvme_ctrlr_admin(c, &cmd, NULL);
    if (rc)
        goto fail;
    cmd = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_SQ, .prp1 = qp->sq_iova };
    cmd.cdw10 = (entries - 1) << 16 | qid;
    cmd.cdw11 = NVME_QUEUE_PC | (uint32_t)qid << 16;
    rc = nvme_ctrlr_admin(c, &cmd, NULL);
    if (rc) {
        (void)delete_queue(c, NVME_ADM_DELETE_CQ, qid);
        goto fail;
    }
    qp->live = true;
    qp->ctrlr_gen = c->gen;
    return 0;

fail:
    LOG_WARN("nvme: creating I/O queue %u (%u entries) failed: %d", qid, entries, rc);
    free_io_mem(c, qp);
    return rc;
}

int nvme_ctrlr_delete_io_qpair(struct nvme_ctrlr *c, struct nvme_qpair *qp)
{
    int rc;

    if (!qp->slots)
        return 0;
    if (qp->live && qp->ctrlr_gen == c->gen && c->ready && !nvme_ctrlr_is_fatal(c)) {
        rc = delete_queue(c, NVME_ADM_DELETE_SQ, qp->qid);
        if (rc == 0)
            rc = delete_queue(c, NVME_ADM_DELETE_CQ, qp->qid);
        if (rc && !nvme_ctrlr_is_fatal(c))
            return rc;
    }
    if (qp->outstanding)
        nvme_qpair_fail_all(qp, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
    free_io_mem(c, qp);
    return 0;
}

int nvme_ctrlr_abort(struct nvme_ctrlr *c, uint16_t sqid, uint16_t cid)
{
    struct nvme_sqe cmd = { .opc = NVME_ADM_ABORT };
    struct nvme_cpl cpl = { 0 };
    int rc;

    cmd.cdw10 = sqid | (uint32_t)cid << 16;
    rc = nvme_ctrlr_admin(c, &cmd, &cpl);
    if (rc)
        return rc;
    return (cpl.dw0 & 1) ? -ENOENT : 0;
}

int nvme_ctrlr_reset(struct nvme_ctrlr *c, char *err, size_t errlen)
{
    int rc;

    if (!c->bar || !c->aq_mem) {
        seterr(err, errlen, "controller not initialised");
        return -EINVAL;
    }
    pthread_mutex_lock(&c->admin_lock);
    c->ready = false;
    c->gen++;
    rc = disable(c, true, err, errlen);
    if (rc == 0) {
        nvme_qpair_reset(&c->admin);
        rc = enable(c, err, errlen);
    }
    c->ready = rc == 0;
    pthread_mutex_unlock(&c->admin_lock);
    return rc;
}

void nvme_ctrlr_shutdown(struct nvme_ctrlr *c)
{
    uint32_t cc;

    if (!c->bar)
        return;
    pthread_mutex_lock(&c->admin_lock);
    cc = rd32(c, NVME_REG_CC);
    if (c->ready && !nvme_ctrlr_is_fatal(c) && (cc & NVME_CC_EN)) {
        /* RTD3E would be the device's own figure; a bounded guess serves as well. */
        unsigned ms = ready_timeout_ms(c);
        if (ms < SHUTDOWN_MIN_MS)
            ms = SHUTDOWN_MIN_MS;
        if (ms > SHUTDOWN_MAX_MS)
            ms = SHUTDOWN_MAX_MS;
        wr32(c, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
        if (wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE, ms))
            LOG_WARN("nvme: controller %s did not complete its shutdown within %u ms",
                     c->info.serial, ms);
    }
    c->ready = false;
    if (rd32(c, NVME_REG_CSTS) != UINT32_MAX)
        (void)disable(c, true, NULL, 0);
    c->gen++;
    if (c->admin.outstanding)
        nvme_qpair_fail_all(&c->admin, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
    free_admin(c);
    pthread_mutex_unlock(&c->admin_lock);
    pthread_mutex_destroy(&c->admin_lock);
    c->bar = NULL;
}
