/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NVMe backend (bdev_nvme.c, bdev_nvme_io.c) against the software
 * controller of nvme_double.c, through a test transport in place of VFIO:
 * zero-copy PRPs from guest-like iovecs, the bounce fallback and its count,
 * splitting at MDTS, more requests than queue slots, every command type,
 * device status as sense data, timeouts, Abort, controller reset with
 * resubmission, a controller that disappears, cancellation.
 *
 * The double raises no interrupts: the test drives the worker's loop by
 * polling its sources, as a polling worker does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdev/bdev.h"
#include "bdev/bdev_nvme.h"
#include "io/io_loop.h"
#include "nvme_double.c"

static struct nvme_double dev;
static struct io_loop loop;
static struct bdev *bdev;

/* Memory the "IOMMU" could not map: PRPs must not point there. */
static const uint8_t *unmapped_lo, *unmapped_hi;

static int tp_open(const char *bdf, void **d, volatile void **bar0, size_t *len, char *err,
                   size_t errlen)
{
    (void)bdf;
    (void)err;
    (void)errlen;
    *d = &dev;
    *bar0 = dev.bar;
    *len = ND_BAR_LEN;
    return 0;
}

static void tp_close(void *d)
{
    (void)d;
}

static unsigned tp_msix_count(void *d)
{
    (void)d;
    return 65;
}

static int tp_set_msix(void *d, const int *efds, unsigned n)
{
    (void)d;
    (void)efds;
    (void)n;
    return 0;
}

static bool tp_translate(const void *vaddr, size_t len, uint64_t *iova)
{
    const uint8_t *p = vaddr;

    if (p < unmapped_hi && p + len > unmapped_lo)
        return false;
    *iova = (uint64_t)(uintptr_t)vaddr;
    return true;
}

static const struct bdev_nvme_transport test_tp = {
    .open = tp_open,
    .close = tp_close,
    .msix_count = tp_msix_count,
    .set_msix = tp_set_msix,
    .dma = &nd_dma_ops,
    .translate = tp_translate,
};

struct req {
    struct bdev_io io;
    struct iovec iov[8];
    int result;
    int calls;
};

static void req_cb(struct bdev_io *io, int result)
{
    struct req *r = (struct req *)((char *)io - offsetof(struct req, io));

    r->result = result;
    r->calls++;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the worker's loop until every request in rs has completed (or ms pass). */
static bool drive(struct req **rs, unsigned n, unsigned ms)
{
    uint64_t end = now_ms() + ms;

    for (;;) {
        unsigned done = 0;

        io_loop_poll_sources(&loop);
        io_loop_run_once(&loop, false);
        for (unsigned i = 0; i < n; i++)
            done += rs[i]->calls > 0;
        if (done == n)
            return true;
        if (now_ms() > end)
            return false;
        usleep(200);
    }
}

static int submit(struct req *r, enum bdev_io_type type, uint64_t off, uint64_t len)
{
    r->io.type = type;
    r->io.offset = off;
    r->io.len = len;
    r->io.iov = r->iov;
    r->io.cb = req_cb;
    r->calls = 0;
    r->result = 1;
    return bdev_submit(bdev, &loop, &r->io);
}

static int run1(struct req *r, enum bdev_io_type type, uint64_t off, uint64_t len)
{
    struct req *rs[1] = { r };
    int rc = submit(r, type, off, len);

    if (rc < 0)
        return rc;
    assert_true(drive(rs, 1, 10000));
    assert_int_equal(r->calls, 1);
    return r->result;
}

static void *page_alloc(size_t len)
{
    void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

    assert_non_null(p);
    return p;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static int open_with(uint32_t mqes_entries, bool no_verify)
{
    struct bdev_config cfg = {
        .type = BDEV_TYPE_NVME, .pci = "0000:00:04.0", .nsid = 1, .nr_queues = 1
    };
    char err[512];
    int rc;

    unmapped_lo = unmapped_hi = NULL;
    nvme_double_start(&dev, 2, mqes_entries);
    dev.no_verify = no_verify;
    bdev_nvme_set_transport(&test_tp);
    if (io_loop_init(&loop, 64) != 0)
        return -1;
    rc = bdev_open(&cfg, &bdev, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "bdev_open: %s\n", err);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    return open_with(64, false);
}

static int setup_small_queue(void **state)
{
    (void)state;
    /* 8 entries: 7 commands at once, so most requests wait for a slot. */
    return open_with(8, false);
}

static int teardown(void **state)
{
    (void)state;
    bdev_close(bdev);
    io_loop_fini(&loop);
    nvme_double_stop(&dev);
    bdev_nvme_set_transport(NULL);
    assert_int_equal(nd_dma_live, 0);
    return 0;
}

static void test_open_takes_the_namespace(void **state)
{
    (void)state;
    assert_int_equal(bdev->block_size, 512);
    assert_int_equal(bdev->size, 2048 * 512);
    assert_string_equal(bdev->hw_serial, "ND-0001");
    assert_true(bdev->can_discard && bdev->discard_zeroes);
    assert_true(bdev->can_write_zeroes && bdev->can_verify && bdev->volatile_cache);
    assert_int_equal(bdev->max_io_bytes, 128 * 1024); /* MDTS 2^5 pages */
    assert_int_equal(bdev->eui64[0], 0x10);
    assert_int_equal(bdev->nguid[15], 0xab);
    assert_string_equal(bdev->desc, "nvme 0000:00:04.0 ns 1");
}

/*
 * Guest-like buffers: the first element starts mid-page, the others are
 * whole pages, the last ends mid-page.  PRPs express that: no copy.
 */
static void test_write_read_zero_copy(void **state)
{
    uint8_t *a = page_alloc(8192), *b = page_alloc(32768), *c = page_alloc(4096);
    uint8_t *want = malloc(40960), *back = page_alloc(40960);
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    fill(want, 40960, 1);
    memcpy(a + 4096 + 512, want, 3584);
    memcpy(b, want + 3584, 32768);
    memcpy(c, want + 3584 + 32768, 4608 - 512);
    r.iov[0] = (struct iovec){ a + 4096 + 512, 3584 };
    r.iov[1] = (struct iovec){ b, 32768 };
    r.iov[2] = (struct iovec){ c, 4096 };
    r.io.iovcnt = 3;
    assert_int_equal(run1(&r, BDEV_IO_WRITE, 100 * 512, 3584 + 32768 + 4096), 0);
    assert_memory_equal(nvme_double_ns_data(&dev, 1) + 100 * 512, want, 40448);

    r.iov[0] = (struct iovec){ back, 40448 };
    r.io.iovcnt = 1;
    assert_int_equal(run1(&r, BDEV_IO_READ, 100 * 512, 40448), 0);
    assert_memory_equal(back, want, 40448);
    assert_int_equal(bdev_nvme_bytes_copied(bdev), 0);
    free(a);
    free(b);
    free(c);
    free(want);
    free(back);
}

/* 512 KiB against a 128 KiB MDTS: four commands, in order, one request. */
static void test_split_at_mdts(void **state)
{
    uint8_t *buf = page_alloc(512 * 1024), *back = page_alloc(512 * 1024);
    unsigned before = dev.io_cmds;
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    fill(buf, 512 * 1024, 2);
    r.iov[0] = (struct iovec){ buf, 512 * 1024 };
    r.io.iovcnt = 1;
    assert_int_equal(run1(&r, BDEV_IO_WRITE, 1024 * 512, 512 * 1024), 0);
    assert_int_equal(dev.io_cmds - before, 4);
    r.iov[0] = (struct iovec){ back, 512 * 1024 };
    assert_int_equal(run1(&r, BDEV_IO_READ, 1024 * 512, 512 * 1024), 0);
    assert_memory_equal(back, buf, 512 * 1024);
    assert_int_equal(bdev_nvme_bytes_copied(bdev), 0);
    free(buf);
    free(back);
}

/*
 * What PRPs cannot express (a middle element off a page boundary), and memory
 * the IOMMU did not map, still work, through a bounce buffer, and every byte
 * copied is counted.
 */
static void test_bounce_fallback_is_counted(void **state)
{
    uint8_t *buf = page_alloc(16384), *back = page_alloc(16384), *want = malloc(8192);
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    fill(want, 8192, 3);
    memcpy(buf, want, 1000);
    memcpy(buf + 4096 + 24, want + 1000, 7192);
    r.iov[0] = (struct iovec){ buf, 1000 };
    r.iov[1] = (struct iovec){ buf + 4096 + 24, 7192 };
    r.io.iovcnt = 2;
    assert_int_equal(run1(&r, BDEV_IO_WRITE, 8 * 512, 8192), 0);
    assert_memory_equal(nvme_double_ns_data(&dev, 1) + 8 * 512, want, 8192);
    assert_int_equal(bdev_nvme_bytes_copied(bdev), 8192);

    /* Aligned, but in memory the IOMMU could not map: copied too. */
    unmapped_lo = back;
    unmapped_hi = back + 16384;
    r.iov[0] = (struct iovec){ back, 8192 };
    r.io.iovcnt = 1;
    assert_int_equal(run1(&r, BDEV_IO_READ, 8 * 512, 8192), 0);
    assert_memory_equal(back, want, 8192);
    assert_int_equal(bdev_nvme_bytes_copied(bdev), 16384);
    free(buf);
    free(back);
    free(want);
}

/* Far more requests than command slots: the rest wait and all complete, in wraps. */
static void test_more_requests_than_slots(void **state)
{
    enum { N = 48, ROUNDS = 5 };
    static struct req rq[N];
    struct req *rs[N];
    uint8_t *buf = page_alloc((size_t)N * 4096);

    (void)state;
    for (unsigned round = 0; round < ROUNDS; round++) {
        fill(buf, (size_t)N * 4096, 10 + round);
        for (unsigned i = 0; i < N; i++) {
            memset(&rq[i], 0, sizeof(rq[i]));
            rq[i].iov[0] = (struct iovec){ buf + (size_t)i * 4096, 4096 };
            rq[i].io.iovcnt = 1;
            rs[i] = &rq[i];
            assert_int_equal(submit(&rq[i], BDEV_IO_WRITE, (uint64_t)i * 4096, 4096), 0);
        }
        assert_true(drive(rs, N, 10000));
        for (unsigned i = 0; i < N; i++) {
            assert_int_equal(rq[i].calls, 1);
            assert_int_equal(rq[i].result, 0);
        }
        assert_memory_equal(nvme_double_ns_data(&dev, 1), buf, (size_t)N * 4096);
    }
    assert_int_equal(loop.pending, 0);
    free(buf);
}

static void test_other_commands(void **state)
{
    uint8_t *data = nvme_double_ns_data(&dev, 1);
    unsigned flushes = dev.flushes;
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(data + 200 * 512, 0x77, 100 * 512);
    assert_int_equal(run1(&r, BDEV_IO_WRITE_ZEROES, 200 * 512, 40 * 512), 0);
    assert_int_equal(data[200 * 512], 0);
    assert_int_equal(data[239 * 512 + 511], 0);
    assert_int_equal(data[240 * 512], 0x77);
    assert_int_equal(run1(&r, BDEV_IO_DISCARD, 240 * 512, 60 * 512), 0);
    assert_int_equal(data[299 * 512 + 511], 0);
    assert_int_equal(run1(&r, BDEV_IO_VERIFY, 0, 2048 * 512), 0);
    assert_int_equal(run1(&r, BDEV_IO_FLUSH, 0, 0), 0);
    assert_int_equal(dev.flushes - flushes, 1);
    /* Write Zeroes counts blocks in 16 bits: a whole-device request is split, not refused. */
    assert_int_equal(run1(&r, BDEV_IO_WRITE_ZEROES, 0, 2048 * 512), 0);
    assert_int_equal(data[2047 * 512], 0);
}

/* The device's own status reaches the SCSI layer as sense data. */
static void test_device_status_becomes_sense(void **state)
{
    uint8_t *buf = page_alloc(4096);
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.iov[0] = (struct iovec){ buf, 4096 };
    r.io.iovcnt = 1;
    dev.fail_status = NVME_SF(NVME_SCT_MEDIA, NVME_SC_UNRECOVERED_READ);
    dev.fail_next = 1;
    assert_int_equal(run1(&r, BDEV_IO_READ, 0, 4096), -EREMOTEIO);
    assert_int_equal(r.io.sense, BDEV_SENSE(0x3, 0x11, 0x00));
    dev.fail_status = NVME_SF(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
    dev.fail_next = 1;
    assert_int_equal(run1(&r, BDEV_IO_WRITE, 0, 4096), -EREMOTEIO);
    assert_int_equal(r.io.sense >> 16, 0x7); /* DATA PROTECT */
    /* And the next request is fine again. */
    assert_int_equal(run1(&r, BDEV_IO_READ, 0, 4096), 0);
    free(buf);
}

/* A command that does not complete is aborted after the timeout. */
static void test_timeout_aborts(void **state)
{
    uint8_t *buf = page_alloc(4096);
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    bdev_nvme_set_timeout(bdev, 200 * 1000 * 1000ull);
    r.iov[0] = (struct iovec){ buf, 4096 };
    r.io.iovcnt = 1;
    dev.hold = ND_HOLD_IO;
    assert_int_equal(run1(&r, BDEV_IO_READ, 0, 4096), -EREMOTEIO);
    dev.hold = 0;
    assert_int_equal(dev.aborts_done, 1);
    assert_int_equal(r.io.sense >> 16, 0xb); /* ABORTED COMMAND: the initiator retries */
    assert_int_equal(bdev_nvme_resets(bdev), 0);
    free(buf);
}

/*
 * A command that neither completes nor aborts: the controller is reset and
 * the command sent again; the request succeeds, the guest sees nothing.
 */
static void test_reset_resubmits(void **state)
{
    uint8_t *buf = page_alloc(8192), *back = page_alloc(8192);
    unsigned enables = dev.enables;
    struct req r, w;
    struct req *rs[1] = { &r };

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    bdev_nvme_set_timeout(bdev, 150 * 1000 * 1000ull);
    fill(buf, 8192, 5);
    w.iov[0] = (struct iovec){ buf, 8192 };
    w.io.iovcnt = 1;
    assert_int_equal(run1(&w, BDEV_IO_WRITE, 64 * 512, 8192), 0);

    dev.ignore_abort = true;
    dev.hold = ND_HOLD_IO;
    r.iov[0] = (struct iovec){ back, 8192 };
    r.io.iovcnt = 1;
    assert_int_equal(submit(&r, BDEV_IO_READ, 64 * 512, 8192), 0);
    for (uint64_t end = now_ms() + 5000; dev.held_count == 0 && now_ms() < end;)
        io_loop_poll_sources(&loop);
    assert_int_equal(dev.held_count, 1);
    /* Only that command hangs; what is sent after the reset runs. */
    dev.hold = 0;
    assert_true(drive(rs, 1, 10000));
    assert_int_equal(r.result, 0);
    assert_memory_equal(back, buf, 8192);
    assert_int_equal(bdev_nvme_resets(bdev), 1);
    assert_true(dev.enables > enables);
    dev.ignore_abort = false;
    /* The queue works after the reset. */
    assert_int_equal(run1(&w, BDEV_IO_READ, 64 * 512, 8192), 0);
    assert_int_equal(loop.pending, 0);
    free(buf);
    free(back);
}

/* A controller that disappears fails its requests with sense data, now and later. */
static void test_surprise_removal(void **state)
{
    uint8_t *buf = page_alloc(4096);
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    bdev_nvme_set_timeout(bdev, 200 * 1000 * 1000ull);
    r.iov[0] = (struct iovec){ buf, 4096 };
    r.io.iovcnt = 1;
    dev.hold = ND_HOLD_IO;
    assert_int_equal(submit(&r, BDEV_IO_READ, 0, 4096), 0);
    for (uint64_t end = now_ms() + 5000; dev.held_count == 0 && now_ms() < end;)
        io_loop_poll_sources(&loop);
    dev.gone = true;
    {
        struct req *rs[1] = { &r };

        assert_true(drive(rs, 1, 10000));
    }
    assert_int_equal(r.result, -EREMOTEIO);
    assert_int_equal(r.io.sense, BDEV_SENSE(0x4, 0x3e, 0x01));
    /* Later requests fail at once, without touching the device. */
    assert_int_equal(submit(&r, BDEV_IO_READ, 0, 4096), -EREMOTEIO);
    assert_int_equal(r.io.sense, BDEV_SENSE(0x4, 0x3e, 0x01));
    free(buf);
}

/* bdev_cancel: an outstanding command is aborted and completes with -ECANCELED. */
static void test_cancel(void **state)
{
    uint8_t *buf = page_alloc(4096);
    struct req r;
    struct req *rs[1] = { &r };

    (void)state;
    memset(&r, 0, sizeof(r));
    r.iov[0] = (struct iovec){ buf, 4096 };
    r.io.iovcnt = 1;
    dev.hold = ND_HOLD_IO;
    assert_int_equal(submit(&r, BDEV_IO_READ, 0, 4096), 0);
    for (uint64_t end = now_ms() + 5000; dev.held_count == 0 && now_ms() < end;)
        io_loop_poll_sources(&loop);
    assert_int_equal(bdev_cancel(bdev, &r.io), 0);
    assert_int_equal(r.calls, 0); /* never from inside bdev_cancel */
    assert_true(drive(rs, 1, 5000));
    assert_int_equal(r.result, -ECANCELED);
    dev.hold = 0;
    free(buf);
}

/* bdev_cancel of a request still waiting for a command slot: it never reaches the device. */
static void test_cancel_waiting(void **state)
{
    enum { N = 10 };
    static struct req rq[N];
    struct req *rs[N];
    uint8_t *buf = page_alloc(4096);
    unsigned before = dev.io_cmds;

    (void)state;
    dev.hold = ND_HOLD_IO;
    for (unsigned i = 0; i < N; i++) {
        memset(&rq[i], 0, sizeof(rq[i]));
        rq[i].iov[0] = (struct iovec){ buf, 4096 };
        rq[i].io.iovcnt = 1;
        rs[i] = &rq[i];
        assert_int_equal(submit(&rq[i], BDEV_IO_READ, 0, 4096), 0);
    }
    /* 7 slots: requests 7..9 wait.  Cancel the last one, then let the device go. */
    assert_int_equal(bdev_cancel(bdev, &rq[N - 1].io), 0);
    dev.release_held = true;
    dev.hold = 0;
    assert_true(drive(rs, N, 10000));
    assert_int_equal(rq[N - 1].result, -ECANCELED);
    for (unsigned i = 0; i < N - 1; i++)
        assert_int_equal(rq[i].result, 0);
    assert_int_equal(dev.io_cmds - before, N - 1);
    free(buf);
}

/*
 * Several LUNs on one controller: another namespace (4 KiB blocks), and the
 * same namespace again (a LUN shared by two VMs).  One controller, one set of
 * queues; each LUN addresses its own namespace.
 */
static void test_namespaces_share_the_controller(void **state)
{
    struct bdev_config cfg = {
        .type = BDEV_TYPE_NVME, .pci = "0000:00:04.0", .nsid = 4, .nr_queues = 1
    };
    uint8_t *buf = page_alloc(8192), *back = page_alloc(8192);
    unsigned enables = dev.enables;
    struct bdev *ns4, *again, *keep = bdev;
    char err[512];
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(bdev_open(&cfg, &ns4, err, sizeof(err)), 0);
    cfg.nsid = 1;
    assert_int_equal(bdev_open(&cfg, &again, err, sizeof(err)), 0);
    assert_int_equal(dev.enables, enables); /* not brought up again */
    assert_int_equal(ns4->block_size, 4096);
    assert_string_equal(ns4->hw_serial, "ND-0001-n4");
    assert_string_equal(ns4->desc, "nvme 0000:00:04.0 ns 4");

    fill(buf, 8192, 7);
    r.iov[0] = (struct iovec){ buf, 8192 };
    r.io.iovcnt = 1;
    bdev = ns4;
    assert_int_equal(run1(&r, BDEV_IO_WRITE, 2 * 4096, 8192), 0);
    assert_memory_equal(nvme_double_ns_data(&dev, 4) + 2 * 4096, buf, 8192);
    /* Namespace 1 did not see it; the second LUN on namespace 1 reads what the first wrote. */
    bdev = keep;
    memset(nvme_double_ns_data(&dev, 1) + 2 * 4096, 0x11, 8192);
    bdev = again;
    r.iov[0] = (struct iovec){ back, 8192 };
    assert_int_equal(run1(&r, BDEV_IO_READ, 2 * 4096, 8192), 0);
    assert_int_equal(back[0], 0x11);
    assert_int_equal(back[8191], 0x11);
    bdev = keep;
    bdev_close(again);
    bdev_close(ns4);
    /* The controller stays up for the LUN still open. */
    r.iov[0] = (struct iovec){ back, 8192 };
    assert_int_equal(run1(&r, BDEV_IO_READ, 0, 8192), 0);
    free(buf);
    free(back);
}

/* Namespaces the backend cannot serve are refused with the reason. */
static void test_bad_namespaces_refused(void **state)
{
    struct bdev_config cfg = {
        .type = BDEV_TYPE_NVME, .pci = "0000:00:04.0", .nsid = 2, .nr_queues = 1
    };
    struct bdev *b = NULL;
    char err[512] = "";

    (void)state;
    assert_true(bdev_open(&cfg, &b, err, sizeof(err)) < 0);
    assert_null(b);
    assert_non_null(strstr(err, "metadata"));
    cfg.nsid = 3;
    assert_true(bdev_open(&cfg, &b, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "nvme 0000:00:04.0"));
    /* The controller survives refused opens: the LUN already open still works. */
    {
        struct req r;
        uint8_t *buf = page_alloc(4096);

        memset(&r, 0, sizeof(r));
        r.iov[0] = (struct iovec){ buf, 4096 };
        r.io.iovcnt = 1;
        assert_int_equal(run1(&r, BDEV_IO_READ, 0, 4096), 0);
        free(buf);
    }
}

/* A controller without Verify: VERIFY reads the blocks instead, and copies nothing. */
static void test_verify_without_the_command(void **state)
{
    unsigned before = dev.io_cmds;
    struct req r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_true(bdev->can_verify);
    assert_int_equal(run1(&r, BDEV_IO_VERIFY, 0, 2048 * 512), 0);
    /* 1 MiB in 128 KiB reads (MDTS). */
    assert_int_equal(dev.io_cmds - before, 8);
    assert_int_equal(bdev_nvme_bytes_copied(bdev), 0);
    /* A medium error on the way is reported like one on a READ. */
    dev.fail_status = NVME_SF(NVME_SCT_MEDIA, NVME_SC_UNRECOVERED_READ);
    dev.fail_next = 1;
    assert_int_equal(run1(&r, BDEV_IO_VERIFY, 0, 4096), -EREMOTEIO);
    assert_int_equal(r.io.sense, BDEV_SENSE(0x3, 0x11, 0x00));
}

static int setup_no_verify(void **state)
{
    (void)state;
    return open_with(64, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_takes_the_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read_zero_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_at_mdts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounce_fallback_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_requests_than_slots, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_status_becomes_sense, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_resubmits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surprise_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_waiting, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_namespaces_share_the_controller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_namespaces_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_without_the_command, setup_no_verify, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
