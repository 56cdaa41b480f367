/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NVMe controller driver against the software controller of
 * nvme_double.c: bring-up, Identify, I/O through real PRPs, abort,
 * timeouts, a dead or vanished device, reset and re-creation, shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nvme/nvme_ctrlr.h"
#include "nvme/nvme_prp.h"
#include "nvme_double.c"

static struct nvme_double dev;
static struct nvme_ctrlr ctrlr;
static char err[256];

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int init(unsigned admin_ms)
{
    struct nvme_ctrlr_config cfg = { dev.bar, ND_BAR_LEN, &nd_dma_ops, NULL, admin_ms };

    err[0] = '\0';
    return nvme_ctrlr_init(&ctrlr, &cfg, err, sizeof(err));
}

static int setup(void **state)
{
    (void)state;
    nvme_double_start(&dev, 2, 64);
    if (init(2000) != 0) {
        fprintf(stderr, "init: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nvme_ctrlr_shutdown(&ctrlr);
    nvme_double_stop(&dev);
    assert_int_equal(nd_dma_live, 0);
    return 0;
}

static void test_bringup(void **state)
{
    const struct nvme_ctrlr_info *in = &ctrlr.info;

    (void)state;
    assert_string_equal(in->serial, "ND-0001");
    assert_string_equal(in->model, "vus nvme double?"); /* control byte sanitised */
    assert_string_equal(in->firmware, "1.0");
    assert_int_equal(in->vid, 0x1b36);
    assert_int_equal(in->mdts_bytes, 128 * 1024);
    assert_int_equal(in->page_size, 4096);
    assert_int_equal(in->max_queue_entries, 64);
    assert_true(in->vwc);
    assert_true(in->write_zeroes && in->dsm && in->verify && in->compare);
    assert_int_equal(in->sgls, 0);
    assert_int_equal(in->nn, 4);
    assert_int_equal(in->abort_limit, 4);
    assert_true(in->have_nvm_limits);
    assert_int_equal(in->dmrl, 64);
    assert_int_equal(in->dmrsl, 1u << 16);
    /* What the device was told: 4 KiB pages, 64/16-byte entries, NVM, 32-entry admin queue. */
    assert_int_equal(NVME_CC_MPS(dev.bar[NVME_REG_CC / 4]), 0);
    assert_int_equal(NVME_CC_IOSQES(dev.bar[NVME_REG_CC / 4]), 6);
    assert_int_equal(NVME_CC_IOCQES(dev.bar[NVME_REG_CC / 4]), 4);
    assert_int_equal(NVME_CC_CSS(dev.bar[NVME_REG_CC / 4]), 0);
    assert_int_equal(dev.bar[NVME_REG_AQA / 4], 0x001f001f);
    assert_false(nvme_ctrlr_is_fatal(&ctrlr));
}

static void test_no_cns6(void **state)
{
    (void)state;
    nvme_ctrlr_shutdown(&ctrlr);
    dev.no_cns6 = true;
    assert_int_equal(init(2000), 0);
    assert_false(ctrlr.info.have_nvm_limits);
    assert_int_equal(ctrlr.info.dmrl, 0);
}

static void test_identify_ns(void **state)
{
    struct nvme_ns_info ns;

    (void)state;
    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 1, &ns, err, sizeof(err)), 0);
    assert_int_equal(ns.nsze, 2048);
    assert_int_equal(ns.block_size, 512);
    assert_true(ns.has_eui64);
    assert_int_equal(ns.eui64[0], 0x10);
    assert_int_equal(ns.eui64[7], 0x17);
    assert_true(ns.has_nguid);
    assert_int_equal(ns.nguid[15], 0xab);
    assert_true(ns.dealloc_reads_zeroes);
    assert_true(ns.wz_deallocates);
    assert_true(ns.thin);
    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 4, &ns, err, sizeof(err)), 0);
    assert_int_equal(ns.block_size, 4096);
    assert_false(ns.has_nguid);

    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 2, &ns, err, sizeof(err)), -ENOTSUP);
    assert_non_null(strstr(err, "8 bytes of metadata"));
    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 3, &ns, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "not active"));
    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 5, &ns, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(nvme_ctrlr_identify_ns(&ctrlr, 0, &ns, err, sizeof(err)), -ENOENT);
}

/* ---- I/O helpers ---- */

static bool tr_identity(void *opaque, const void *vaddr, size_t len, uint64_t *iova)
{
    (void)opaque;
    (void)len;
    *iova = (uint64_t)(uintptr_t)vaddr;
    return true;
}

struct io_done {
    unsigned calls;
    uint16_t sf;
};

static void io_cb(void *ctx, const struct nvme_cpl *cpl)
{
    struct io_done *d = ctx;

    d->calls++;
    d->sf = NVME_CPL_SF(cpl->status);
}

static _Alignas(4096) uint64_t prp_list[512];

static void rw_cmd(struct nvme_sqe *cmd, uint8_t opc, uint64_t slba, uint32_t nlb, void *buf,
                   size_t len)
{
    struct iovec v = { buf, len };

    *cmd = (struct nvme_sqe){ .opc = opc, .nsid = 1 };
    cmd->cdw10 = (uint32_t)slba;
    cmd->cdw11 = (uint32_t)(slba >> 32);
    cmd->cdw12 = nlb - 1;
    if (len)
        assert_int_equal(nvme_prp_build(&v, 1, len, 4096, tr_identity, NULL, &cmd->prp1, &cmd->prp2,
                                        prp_list, (uintptr_t)prp_list, 512),
                         0);
}

/* Submit, then poll until done (bounded). */
static uint16_t run(struct nvme_qpair *qp, struct nvme_sqe *cmd)
{
    struct io_done d = { 0 };
    uint64_t end = mono_ms() + 2000;

    assert_int_equal(nvme_qpair_submit(qp, cmd, io_cb, &d), 0);
    while (d.calls == 0 && mono_ms() < end)
        nvme_qpair_process(qp, 0);
    assert_int_equal(d.calls, 1);
    return d.sf;
}

static void test_io(void **state)
{
    static _Alignas(4096) uint8_t wbuf[64 * 1024 + 512], rbuf[sizeof(wbuf)];
    struct nvme_qpair qp = { 0 };
    struct nvme_sqe cmd;
    struct nvme_dsm_range *r = (struct nvme_dsm_range *)wbuf;
    unsigned granted = 0;

    (void)state;
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 4, &granted), 0);
    assert_int_equal(granted, 4);
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 100, &granted), 0);
    assert_int_equal(granted, 8);
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 16, -1), 0);
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 16, -1), -EBUSY);

    /* 64 KiB from an offset buffer: a PRP list of 16 entries. */
    for (size_t i = 0; i < sizeof(wbuf); i++)
        wbuf[i] = (uint8_t)(i * 7 + 3 + i / 512);
    rw_cmd(&cmd, NVME_CMD_WRITE, 100, 128, wbuf + 512, 64 * 1024);
    assert_int_equal(run(&qp, &cmd), 0);
    assert_memory_equal(nvme_double_ns_data(&dev, 1) + 100 * 512, wbuf + 512, 64 * 1024);
    rw_cmd(&cmd, NVME_CMD_READ, 100, 128, rbuf, 64 * 1024);
    assert_int_equal(run(&qp, &cmd), 0);
    assert_memory_equal(rbuf, wbuf + 512, 64 * 1024);
    rw_cmd(&cmd, NVME_CMD_COMPARE, 100, 1, wbuf + 512, 512);
    assert_int_equal(run(&qp, &cmd), 0);
    rw_cmd(&cmd, NVME_CMD_COMPARE, 100, 1, wbuf, 512);
    assert_int_equal(run(&qp, &cmd), NVME_SF(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILURE));
    rw_cmd(&cmd, NVME_CMD_READ, 2047, 2, rbuf, 1024);
    assert_int_equal(run(&qp, &cmd), NVME_SF(NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE));
    rw_cmd(&cmd, NVME_CMD_FLUSH, 0, 1, NULL, 0);
    assert_int_equal(run(&qp, &cmd), 0);
    assert_int_equal(dev.flushes, 1);
    rw_cmd(&cmd, NVME_CMD_VERIFY, 0, 16, NULL, 0);
    assert_int_equal(run(&qp, &cmd), 0);
    rw_cmd(&cmd, NVME_CMD_WRITE_ZEROES, 100, 2, NULL, 0);
    assert_int_equal(run(&qp, &cmd), 0);
    assert_int_equal(nvme_double_ns_data(&dev, 1)[100 * 512 + 700], 0);
    assert_int_equal(nvme_double_ns_data(&dev, 1)[102 * 512], wbuf[512 + 1024]);
    /* Deallocate blocks 110..111 and 120. */
    r[0] = (struct nvme_dsm_range){ 0, 2, 110 };
    r[1] = (struct nvme_dsm_range){ 0, 1, 120 };
    rw_cmd(&cmd, NVME_CMD_DSM, 0, 1, wbuf, 32);
    cmd.cdw10 = 1;
    cmd.cdw11 = NVME_DSM_AD;
    cmd.cdw12 = 0;
    assert_int_equal(run(&qp, &cmd), 0);
    assert_int_equal(nvme_double_ns_data(&dev, 1)[111 * 512 + 5], 0);
    assert_int_equal(nvme_double_ns_data(&dev, 1)[112 * 512], wbuf[512 + 12 * 512]);

    /* Many laps of a 16-entry queue, up to 15 in flight. */
    for (unsigned lap = 0; lap < 40; lap++) {
        struct io_done d = { 0 };
        unsigned k = 1 + lap % 15;
        uint64_t end = mono_ms() + 2000;

        for (unsigned i = 0; i < k; i++) {
            rw_cmd(&cmd, NVME_CMD_READ, i, 1, rbuf + 512 * i, 512);
            assert_int_equal(nvme_qpair_submit(&qp, &cmd, io_cb, &d), 0);
        }
        while (d.calls < k && mono_ms() < end)
            nvme_qpair_process(&qp, 0);
        assert_int_equal(d.calls, k);
        assert_int_equal(d.sf, 0);
    }
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
    assert_false(dev.sq[1].live || dev.cq[1].live);
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0); /* idempotent */
    /* Refused shapes. */
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 0, 16, -1), -EINVAL);
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 65, -1), -EINVAL);
    /* Refused by the device (queue id beyond what it has): nothing leaks. */
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, ND_NQ, 16, -1), -EIO);
    assert_null(qp.slots);
}

static void test_fault_injection(void **state)
{
    static _Alignas(4096) uint8_t buf[4096];
    struct nvme_qpair qp = { 0 };
    struct nvme_sqe cmd;

    (void)state;
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 2, 8, 3), 0);
    dev.fail_status = NVME_SF(NVME_SCT_MEDIA, NVME_SC_UNRECOVERED_READ) | NVME_SF_DNR;
    dev.fail_next = 1;
    rw_cmd(&cmd, NVME_CMD_READ, 0, 1, buf, 512);
    assert_int_equal(run(&qp, &cmd),
                     NVME_SF(NVME_SCT_MEDIA, NVME_SC_UNRECOVERED_READ) | NVME_SF_DNR);
    assert_int_equal(run(&qp, &cmd), 0);
    /* A CQE for a CID nobody uses arrives first: dropped, the real one completes. */
    dev.bogus_cid = 6;
    assert_int_equal(run(&qp, &cmd), 0);
    assert_int_equal(nvme_qpair_outstanding(&qp), 0);
    /* Slow device. */
    dev.delay_us = 2000;
    assert_int_equal(run(&qp, &cmd), 0);
    dev.delay_us = 0;
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
}

struct tmo_ctx {
    unsigned calls;
    int abort_rc;
};

static void on_timeout(struct nvme_qpair *qp, uint16_t cid, void *cmd_ctx, void *arg)
{
    struct tmo_ctx *t = arg;

    (void)cmd_ctx;
    t->calls++;
    t->abort_rc = nvme_ctrlr_abort(&ctrlr, qp->qid, cid);
}

static void test_timeout_abort(void **state)
{
    static _Alignas(4096) uint8_t buf[4096];
    struct nvme_qpair qp = { 0 };
    struct nvme_sqe cmd;
    struct io_done d = { 0 };
    struct tmo_ctx t = { 0, 1 };
    uint64_t end;

    (void)state;
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 8, -1), 0);
    dev.hold = ND_HOLD_IO;
    rw_cmd(&cmd, NVME_CMD_READ, 0, 1, buf, 512);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, io_cb, &d), 0);
    end = mono_ms() + 2000;
    while (dev.held_count == 0 && mono_ms() < end)
        nd_sleep_us(100);
    assert_int_equal(dev.held_count, 1);
    nvme_qpair_check_timeouts(&qp, 1000000000, 5000000000ull, on_timeout, &t);
    nvme_qpair_check_timeouts(&qp, 6000000000ull, 5000000000ull, on_timeout, &t);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.abort_rc, 0);
    assert_int_equal(dev.aborts_done, 1);
    end = mono_ms() + 2000;
    while (d.calls == 0 && mono_ms() < end)
        nvme_qpair_process(&qp, 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.sf, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_REQUESTED));
    /* Nothing left to abort. */
    assert_int_equal(nvme_ctrlr_abort(&ctrlr, 1, cmd.cid), -ENOENT);

    /* Deleting a queue with a held command completes it as SQ deletion. */
    d.calls = 0;
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, io_cb, &d), 0);
    end = mono_ms() + 2000;
    while (dev.held_count == 0 && mono_ms() < end)
        nd_sleep_us(100);
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.sf, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
    dev.hold = 0;
}

static void test_admin_timeout_then_reset(void **state)
{
    static _Alignas(4096) uint8_t buf[4096];
    struct nvme_qpair qp = { 0 };
    struct nvme_sqe cmd;
    struct io_done d = { 0 };
    unsigned granted, enables;
    uint64_t t0;

    (void)state;
    nvme_ctrlr_shutdown(&ctrlr);
    assert_int_equal(init(100), 0);
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 8, -1), 0);
    dev.hold = ND_HOLD_ADMIN | ND_HOLD_IO;
    rw_cmd(&cmd, NVME_CMD_READ, 0, 1, buf, 512);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, io_cb, &d), 0);
    t0 = mono_ms();
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 2, &granted), -ETIMEDOUT);
    assert_true(mono_ms() - t0 < 1000);

    /* Reset: the queues are gone from the device; the caller fails and re-creates them. */
    enables = dev.enables;
    dev.hold = 0;
    assert_int_equal(nvme_ctrlr_reset(&ctrlr, err, sizeof(err)), 0);
    assert_int_equal(dev.enables, enables + 1);
    nvme_qpair_fail_all(&qp, NVME_SF(NVME_SCT_GENERIC, NVME_SC_ABORT_SQ_DELETION));
    assert_int_equal(d.calls, 1);
    assert_int_equal(nvme_qpair_submit(&qp, &cmd, io_cb, &d), -ENODEV);
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 2, &granted), 0);
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 8, -1), 0);
    memset(nvme_double_ns_data(&dev, 1), 0x5a, 512);
    rw_cmd(&cmd, NVME_CMD_READ, 0, 1, buf, 512);
    assert_int_equal(run(&qp, &cmd), 0);
    assert_int_equal(buf[511], 0x5a);
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
}

static void test_fatal(void **state)
{
    struct nvme_qpair qp = { 0 };
    unsigned granted;
    uint64_t end;

    (void)state;
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 8, -1), 0);
    dev.cfs = true;
    end = mono_ms() + 2000;
    while (!nvme_ctrlr_is_fatal(&ctrlr) && mono_ms() < end)
        nd_sleep_us(100);
    assert_true(nvme_ctrlr_is_fatal(&ctrlr));
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 2, &granted), -ENODEV);
    /* Deleting against a dead controller frees without asking it. */
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
    /* Reset brings it back once the fault clears. */
    dev.cfs = false;
    assert_int_equal(nvme_ctrlr_reset(&ctrlr, err, sizeof(err)), 0);
    assert_false(nvme_ctrlr_is_fatal(&ctrlr));
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 2, &granted), 0);
}

static void test_surprise_removal(void **state)
{
    struct nvme_qpair qp = { 0 };
    unsigned granted;
    uint64_t end;

    (void)state;
    assert_int_equal(nvme_ctrlr_create_io_qpair(&ctrlr, &qp, 1, 8, -1), 0);
    dev.gone = true;
    end = mono_ms() + 2000;
    while (!nvme_ctrlr_is_fatal(&ctrlr) && mono_ms() < end)
        nd_sleep_us(100);
    assert_true(nvme_ctrlr_is_fatal(&ctrlr));
    assert_int_equal(nvme_ctrlr_set_num_io_queues(&ctrlr, 2, &granted), -ENODEV);
    assert_int_equal(nvme_ctrlr_reset(&ctrlr, err, sizeof(err)), -ENODEV);
    assert_non_null(strstr(err, "all-ones"));
    assert_int_equal(nvme_ctrlr_delete_io_qpair(&ctrlr, &qp), 0);
    /* teardown's shutdown must not hang on a device that is gone. */
}

static void test_never_ready(void **state)
{
    uint64_t t0;

    (void)state;
    nvme_double_start(&dev, 1, 64); /* CAP.TO = 500 ms */
    dev.never_ready = true;
    t0 = mono_ms();
    assert_int_equal(init(1000), -ETIMEDOUT);
    /* 500 ms, plus slack for a loaded machine; not twice CAP.TO. */
    assert_true(mono_ms() - t0 >= 500);
    assert_true(mono_ms() - t0 < 1000);
    assert_non_null(strstr(err, "did not become ready within 500 ms"));
    assert_int_equal(nd_dma_live, 0);
    nvme_double_stop(&dev);
}

static void test_gone_at_init(void **state)
{
    (void)state;
    nvme_double_start(&dev, 1, 64);
    dev.gone = true;
    nd_sleep_us(5000);
    assert_int_equal(init(1000), -ENODEV);
    assert_non_null(strstr(err, "all-ones"));
    nvme_double_stop(&dev);
    assert_int_equal(nd_dma_live, 0);
}

static void test_shutdown(void **state)
{
    uint64_t t0;

    (void)state;
    nvme_double_start(&dev, 1, 64);
    assert_int_equal(init(1000), 0);
    nvme_ctrlr_shutdown(&ctrlr);
    assert_int_equal(dev.bar[NVME_REG_CC / 4] & NVME_CC_EN, 0);
    assert_int_equal(NVME_CC_SHN_NORMAL, NVME_CC_SHN_NORMAL);
    assert_int_equal(nd_dma_live, 0);
    nvme_ctrlr_shutdown(&ctrlr); /* twice is harmless */
    /* A device that never reports shutdown complete: bounded. */
    assert_int_equal(init(1000), 0);
    dev.ignore_shn = true;
    t0 = mono_ms();
    nvme_ctrlr_shutdown(&ctrlr);
    assert_true(mono_ms() - t0 < 3000);
    assert_int_equal(nd_dma_live, 0);
    nvme_double_stop(&dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bringup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cns6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identify_ns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_timeout_then_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surprise_removal, setup, teardown),
        cmocka_unit_test(test_never_ready),
        cmocka_unit_test(test_gone_at_init),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
