/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A rig check for the NVMe guest test, not a driver: proves that src/vfio
 * gives a working device in this guest (BAR0, DMA in both directions,
 * MSI-X through eventfds) before anything bigger is blamed.
 *
 *   vfio_smoke BDF [SERIAL]
 *
 * Takes an NVMe function bound to vfio-pci, resets and enables it by hand
 * (admin queues in vfio_dma_alloc memory), checks Identify Controller's
 * serial against SERIAL, creates one I/O queue pair whose CQ interrupts on
 * MSI-X vector 1, writes 8 KiB from a separate memfd region registered with
 * vfio_dma_map (as guest memory will be) at LBA 0 and reads it back into
 * another part of it.  Prints "vfio_smoke: PASS" and exits 0, or says what
 * failed and exits 1.  It overwrites the first 8 KiB of namespace 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vfio/vfio.h"

#define QD       16 /* entries per queue: plenty for one command at a time */
#define IOLEN    8192
#define REG_CAP  0x00
#define REG_VS   0x08
#define REG_CC   0x14
#define REG_CSTS 0x1c
#define REG_AQA  0x24
#define REG_ASQ  0x28
#define REG_ACQ  0x30

struct sqe {
    uint8_t opc, flags;
    uint16_t cid;
    uint32_t nsid;
    uint64_t rsvd, mptr, prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
struct cqe {
    uint32_t dw0, dw1;
    uint16_t sqhd, sqid, cid, status;
};
_Static_assert(sizeof(struct sqe) == 64, "NVMe SQE is 64 bytes");
_Static_assert(sizeof(struct cqe) == 16, "NVMe CQE is 16 bytes");

struct queue {
    unsigned qid, tail, head, phase;
    struct sqe *sq;
    struct cqe *cq;
    uint64_t sq_iova, cq_iova;
    int efd; /* the CQ's MSI-X eventfd */
};

static volatile uint8_t *bar;
static unsigned dstrd; /* doorbell stride: 4 << CAP.DSTRD bytes */
static uint16_t next_cid;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "vfio_smoke: FAIL: " __VA_ARGS__);                                         \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static uint32_t rd32(unsigned off)
{
    return *(volatile uint32_t *)(bar + off);
}

static uint64_t rd64(unsigned off)
{
    return rd32(off) | (uint64_t)rd32(off + 4) << 32;
}

static void wr32(unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(bar + off) = v;
}

/* Two 32-bit halves: not every emulation takes 64-bit MMIO. */
static void wr64(unsigned off, uint64_t v)
{
    wr32(off, (uint32_t)v);
    wr32(off + 4, (uint32_t)(v >> 32));
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wait_rdy(unsigned want, double timeout_s)
{
    double t0 = now();

    while (((rd32(REG_CSTS) & 1) != want)) {
        if (rd32(REG_CSTS) & 2)
            FAIL("controller fatal status (CSTS.CFS) waiting for RDY=%u", want);
        if (now() - t0 > timeout_s)
            FAIL("CSTS.RDY did not become %u within %.0f s (CSTS=%#x)", want, timeout_s,
                 rd32(REG_CSTS));
        usleep(1000);
    }
}

static void queue_alloc(struct queue *q, unsigned qid, int efd)
{
    void *p;

    memset(q, 0, sizeof(*q));
    q->qid = qid;
    q->phase = 1;
    q->efd = efd;
    if (vfio_dma_alloc(QD * sizeof(struct sqe), &p, &q->sq_iova))
        FAIL("vfio_dma_alloc (SQ %u)", qid);
    q->sq = p;
    if (vfio_dma_alloc(QD * sizeof(struct cqe), &p, &q->cq_iova))
        FAIL("vfio_dma_alloc (CQ %u)", qid);
    q->cq = p;
}

/* Submit one command and wait for its completion through the CQ's eventfd. */
static struct cqe submit_wait(struct queue *q, struct sqe cmd, const char *what)
{
    struct pollfd pfd = { .fd = q->efd, .events = POLLIN };
    double t0 = now();
    struct cqe c;
    uint64_t n;

    cmd.cid = next_cid++;
    q->sq[q->tail] = cmd;
    q->tail = (q->tail + 1) % QD;
    /* The entry must be in memory before the device hears of it. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr32(0x1000 + (2 * q->qid) * dstrd, q->tail);
    for (;;) {
        c = *(volatile struct cqe *)&q->cq[q->head];
        if ((c.status & 1) == q->phase)
            break;
        /* Interrupt-driven on purpose: the point is to see MSI-X work. */
        int rc = poll(&pfd, 1, 10000);

        if (rc == 0)
            FAIL("%s: no interrupt on the eventfd of queue %u within 10 s (CSTS=%#x)", what, q->qid,
                 rd32(REG_CSTS));
        if (rc > 0 && read(q->efd, &n, sizeof(n)) != sizeof(n))
            FAIL("%s: eventfd read", what);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    q->head = (q->head + 1) % QD;
    if (q->head == 0)
        q->phase ^= 1;
    wr32(0x1000 + (2 * q->qid + 1) * dstrd, q->head);
    if (c.cid != cmd.cid)
        FAIL("%s: completion for cid %u, expected %u", what, c.cid, cmd.cid);
    if (c.status >> 1)
        FAIL("%s: NVMe status %#x (SCT %u SC %#x)", what, c.status >> 1, (c.status >> 9) & 7,
             (c.status >> 1) & 0xff);
    printf("vfio_smoke: %s ok (%.1f ms)\n", what, (now() - t0) * 1e3);
    return c;
}

static void trim(char *s)
{
    for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
        s[n - 1] = '\0';
}

int main(int argc, char **argv)
{
    struct vfio_dev *d;
    char err[512], sn[21];
    volatile void *b0;
    size_t b0len;
    struct queue aq, ioq;
    void *idbuf;
    uint64_t idiova, cap, iova;
    unsigned lbads;
    int efd[2];
    double t0 = now();

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: vfio_smoke BDF [SERIAL]\n");
        return 2;
    }
    if (vfio_dev_open(argv[1], &d, err, sizeof(err)))
        FAIL("open: %s", err);
    if (vfio_dev_map_bar(d, 0, &b0, &b0len, err, sizeof(err)))
        FAIL("BAR0: %s", err);
    bar = (volatile uint8_t *)b0;
    cap = rd64(REG_CAP);
    dstrd = 4u << ((cap >> 32) & 0xf);
    printf("vfio_smoke: %s BAR0 %zu KiB, CAP %#" PRIx64 " (MQES %u, DSTRD %u, TO %u ms), "
           "VS %#x, CSTS %#x, %u MSI-X vectors, reset %s\n",
           vfio_dev_bdf(d), b0len >> 10, cap, (unsigned)(cap & 0xffff) + 1, dstrd,
           (unsigned)((cap >> 24) & 0xff) * 500, rd32(REG_VS), rd32(REG_CSTS),
           vfio_dev_msix_count(d), vfio_dev_reset(d) == 0 ? "ok" : "not supported");
    if (vfio_dev_msix_count(d) < 2)
        FAIL("need 2 MSI-X vectors, the device has %u", vfio_dev_msix_count(d));

    efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd[0] < 0 || efd[1] < 0 || vfio_dev_set_msix(d, efd, 2))
        FAIL("MSI-X to eventfds: %s", strerror(errno));

    /* Disable, program the admin queues, enable (NVMe 1.4 section 7.6.1). */
    wr32(REG_CC, 0);
    wait_rdy(0, 30);
    queue_alloc(&aq, 0, efd[0]);
    wr32(REG_AQA, (QD - 1) << 16 | (QD - 1));
    wr64(REG_ASQ, aq.sq_iova);
    wr64(REG_ACQ, aq.cq_iova);
    wr32(REG_CC, 4u << 20 | 6u << 16 | 1); /* IOCQES 16 B, IOSQES 64 B, 4 KiB pages, EN */
    wait_rdy(1, 30);

    if (vfio_dma_alloc(4096, &idbuf, &idiova))
        FAIL("vfio_dma_alloc (identify)");
    submit_wait(&aq, (struct sqe){ .opc = 0x06, .prp1 = idiova, .cdw10 = 1 },
                "identify controller");
    memcpy(sn, (char *)idbuf + 4, 20);
    sn[20] = '\0';
    trim(sn);
    printf("vfio_smoke: serial '%s', model '%.40s'\n", sn, (char *)idbuf + 24);
    if (argc == 3 && strcmp(sn, argv[2]) != 0)
        FAIL("serial '%s', the host gave '%s'", sn, argv[2]);
    submit_wait(&aq, (struct sqe){ .opc = 0x06, .nsid = 1, .prp1 = idiova, .cdw10 = 0 },
                "identify namespace 1");
    {
        uint8_t flbas = ((uint8_t *)idbuf)[26] & 0xf;
        uint32_t lbaf = *(uint32_t *)((uint8_t *)idbuf + 128 + 4 * flbas);

        lbads = (lbaf >> 16) & 0xff;
        printf("vfio_smoke: namespace 1: %" PRIu64 " blocks of %u bytes\n", *(uint64_t *)idbuf,
               1u << lbads);
        if (lbads < 9 || lbads > 12)
            FAIL("unexpected LBA size 2^%u", lbads);
    }
    submit_wait(&aq, (struct sqe){ .opc = 0x09, .cdw10 = 0x07, .cdw11 = 0 }, "set 1+1 I/O queues");

    /* One I/O queue pair; its CQ interrupts on vector 1. */
    queue_alloc(&ioq, 1, efd[1]);
    submit_wait(&aq,
                (struct sqe){ .opc = 0x05,
                              .prp1 = ioq.cq_iova,
                              .cdw10 = (QD - 1) << 16 | 1,
                              .cdw11 = 1u << 16 | 2 | 1 },
                "create I/O CQ 1 (MSI-X vector 1)");
    submit_wait(
        &aq,
        (struct sqe){
            .opc = 0x01, .prp1 = ioq.sq_iova, .cdw10 = (QD - 1) << 16 | 1, .cdw11 = 1u << 16 | 1 },
        "create I/O SQ 1");

    /* "Guest memory": a shared memfd mapping, registered like vu_mem will register it. */
    size_t glen = 1 << 20;
    int mfd = memfd_create("vfio-smoke-guest", MFD_CLOEXEC);
    uint8_t *g;

    if (mfd < 0 || ftruncate(mfd, (off_t)glen))
        FAIL("memfd: %s", strerror(errno));
    g = mmap(NULL, glen, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (g == MAP_FAILED)
        FAIL("mmap memfd: %s", strerror(errno));
    if (vfio_dma_map(g, glen))
        FAIL("vfio_dma_map of the memfd region");
    if (!vfio_dma_translate(g + 4096, IOLEN, &iova) || iova != (uintptr_t)(g + 4096))
        FAIL("vfio_dma_translate does not find the memfd region");
    if (vfio_dma_translate(g + glen - 4096, 8192, &iova))
        FAIL("vfio_dma_translate accepted a range running past the region");
    for (unsigned i = 0; i < IOLEN; i++)
        g[4096 + i] = (uint8_t)(i * 7 + 3 + (i >> 9));
    memset(g + 65536, 0, IOLEN);
    uint32_t nlb = IOLEN / (1u << lbads) - 1;

    /* Two pages, page-aligned: PRP1 the first, PRP2 the second (no list needed). */
    submit_wait(&ioq,
                (struct sqe){ .opc = 0x01,
                              .nsid = 1,
                              .prp1 = (uintptr_t)(g + 4096),
                              .prp2 = (uintptr_t)(g + 8192),
                              .cdw10 = 0,
                              .cdw12 = nlb },
                "write 8 KiB from the memfd region");
    submit_wait(&ioq,
                (struct sqe){ .opc = 0x02,
                              .nsid = 1,
                              .prp1 = (uintptr_t)(g + 65536),
                              .prp2 = (uintptr_t)(g + 65536 + 4096),
                              .cdw10 = 0,
                              .cdw12 = nlb },
                "read 8 KiB into the memfd region");
    if (memcmp(g + 4096, g + 65536, IOLEN) != 0)
        FAIL("data read back differs from data written");
    printf("vfio_smoke: data read back matches; %" PRIu64 " KiB pinned\n",
           vfio_dma_pinned_bytes() >> 10);

    /* Tear down in order: queues, controller, DMA, device. */
    submit_wait(&aq, (struct sqe){ .opc = 0x00, .cdw10 = 1 }, "delete I/O SQ 1");
    submit_wait(&aq, (struct sqe){ .opc = 0x04, .cdw10 = 1 }, "delete I/O CQ 1");
    wr32(REG_CC, 0);
    wait_rdy(0, 30);
    if (vfio_dma_unmap(g, glen))
        FAIL("vfio_dma_unmap of the memfd region");
    vfio_dev_close(d);
    if (vfio_dma_pinned_bytes() != 0)
        FAIL("%" PRIu64 " bytes still pinned after the last close", vfio_dma_pinned_bytes());
    printf("vfio_smoke: PASS (%.2f s)\n", now() - t0);
    return 0;
}
