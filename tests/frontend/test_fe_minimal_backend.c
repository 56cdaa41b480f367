/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The frontend library against backends that offer less than ours: the real
 * daemon with features withheld (--mask-features, --mask-protocol-features),
 * as SPDK withholds CONFIGURE_MEM_SLOTS and EVENT_IDX.  Each test runs
 * verified I/O at queue depth on two request queues and checks that nothing
 * withheld was negotiated: memory goes out in SET_MEM_TABLE (a region added
 * later too, under running queues), interrupts are suppressed with the
 * avail ring's NO_INTERRUPT flag, and no REPLY_ACK is awaited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_harness.h"
#include "vhost/vu_proto.h"

#define NQ      2
#define QD      32
#define IO_SIZE 4096

#define F_INDIRECT  (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_PROTOCOL  (1ull << 30)
#define PF(bit)     (1ull << VU_PROTOCOL_F_##bit)

struct minimal {
    struct daemon d;
    struct vus_fe *fe;
    struct vus_fe_cmd cmds[QD];
    struct iovec iov[QD];
};

/* A daemon withholding these bits (hex strings, NULL for none) and a connection to it. */
static struct minimal *start(const char *mask, const char *pmask, bool add_mem_reg)
{
    static struct minimal m;
    const char *args[12] = { "--lun", "type=ram,size=16M", "--threads", "2" };
    unsigned n = 4;
    struct vus_fe_config cfg = { .num_req_queues = NQ,
                                 .mem_regions = 2,
                                 .add_mem_reg = add_mem_reg,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };

    memset(&m, 0, sizeof(m));
    if (mask) {
        args[n++] = "--mask-features";
        args[n++] = mask;
    }
    if (pmask) {
        args[n++] = "--mask-protocol-features";
        args[n++] = pmask;
    }
    args[n] = NULL;
    assert_int_equal(daemon_start(&m.d, args), 0);
    cfg.socket_path = m.d.sock;
    assert_int_equal(vus_fe_connect(&cfg, &m.fe), 0);
    clear_ua(vus_fe_vq(m.fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0);
    return &m;
}

static void stop(struct minimal *m)
{
    vus_fe_close(m->fe);
    assert_int_equal(daemon_stop(&m->d), 0);
}

/* QD commands of IO_SIZE at lba (512-byte blocks) from buf, in flight at once, all GOOD. */
static void qd_batch(struct minimal *m, struct vus_fe_vq *vq, bool write, uint64_t lba,
                     uint8_t *buf)
{
    bool indirect = vus_fe_features(m->fe) & F_INDIRECT;

    for (unsigned i = 0; i < QD; i++) {
        struct vus_fe_cmd *c = &m->cmds[i];

        memset(c, 0, sizeof(*c));
        cdb_rw16(c->cdb, write, lba + i * (IO_SIZE / 512), IO_SIZE / 512);
        m->iov[i] = (struct iovec){ buf + (size_t)i * IO_SIZE, IO_SIZE };
        if (write) {
            c->out = &m->iov[i];
            c->out_cnt = 1;
        } else {
            c->in = &m->iov[i];
            c->in_cnt = 1;
        }
        c->flags = indirect && (i & 1) ? VUS_FE_CMD_INDIRECT : 0;
        assert_int_equal(vus_fe_cmd_submit(vq, c), 0);
    }
    fe_reap_good(vq, QD);
}

/* Write patterns through every request queue at QD, read them back, compare. */
static void verified_io(struct minimal *m, uint8_t *buf, unsigned seed)
{
    size_t span = (size_t)QD * IO_SIZE;

    for (unsigned q = 0; q < NQ; q++) {
        struct vus_fe_vq *vq = vus_fe_vq(m->fe, VIRTIO_SCSI_VQ_REQUEST + q);
        uint64_t lba = (uint64_t)(q + seed * NQ) * (span / 512) % ((16u << 20) / 512);

        fill(buf, span, seed * 31 + q);
        qd_batch(m, vq, true, lba, buf);
        memset(buf + span, 0, span);
        qd_batch(m, vq, false, lba, buf + span);
        assert_memory_equal(buf, buf + span, span);
    }
}

/*
 * Completions reaped without waiting raise no call: the driver keeps
 * interrupts off between waits (NO_INTERRUPT without EVENT_IDX, a stale
 * used_event with it), as Linux's does while it polls its used ring.
 */
static void quiet_reaping(struct minimal *m, uint8_t *buf)
{
    struct vus_fe_vq *vq = vus_fe_vq(m->fe, VIRTIO_SCSI_VQ_REQUEST);
    unsigned done = 0;
    uint64_t calls;

    /* A call raced with the last wait's return may still be on its way: take it now. */
    assert_int_equal(vus_fe_vq_wait(vq, 20), 0);
    calls = vus_fe_vq_calls(vq);
    for (unsigned i = 0; i < QD; i++) {
        memset(&m->cmds[i], 0, sizeof(m->cmds[i]));
        cdb_rw16(m->cmds[i].cdb, false, i * 8, 8);
        m->iov[i] = (struct iovec){ buf + (size_t)i * IO_SIZE, IO_SIZE };
        m->cmds[i].in = &m->iov[i];
        m->cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq, &m->cmds[i]), 0);
    }
    vus_fe_vq_kick(vq);
    for (int spins = 0; done < QD && spins < 500000; spins++) {
        struct vus_fe_cmd *c = vus_fe_cmd_reap(vq);

        if (!c) {
            usleep(10);
            continue;
        }
        assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c->status, 0);
        done++;
    }
    assert_int_equal(done, QD);
    assert_int_equal(vus_fe_vq_wait(vq, 20), 0);
    assert_int_equal(vus_fe_vq_calls(vq), calls);
}

/* A region added under running queues, and I/O through it. */
static void added_region_io(struct minimal *m, unsigned seed)
{
    size_t size = 2 * (size_t)QD * IO_SIZE;
    void *hva;
    int r = vus_fe_add_region(m->fe, size);

    assert_true(r >= 2);
    assert_int_equal(vus_fe_region(m->fe, (unsigned)r, &hva, NULL, NULL), 0);
    verified_io(m, hva, seed);
}

/* (a) No CONFIGURE_MEM_SLOTS: SET_MEM_TABLE even when ADD_MEM_REG was asked for. */
static void test_no_mem_slots(void **state)
{
    struct minimal *m = start(NULL, "0x8000", true);
    uint8_t *buf = vus_fe_alloc(m->fe, 2 * (size_t)QD * IO_SIZE, 4096);

    assert_non_null(buf);
    assert_false(vus_fe_protocol_features(m->fe) & PF(CONFIGURE_MEM_SLOTS));
    assert_true(vus_fe_protocol_features(m->fe) & PF(REPLY_ACK));
    verified_io(m, buf, 1);
    added_region_io(m, 2);
    added_region_io(m, 3);
    verified_io(m, buf, 4); /* the first regions survive the new tables */
    stop(m);
}

/* (b) No EVENT_IDX: kicks and calls suppressed by the rings' flags. */
static void test_no_event_idx(void **state)
{
    struct minimal *m = start("0x20000000", NULL, false);
    uint8_t *buf = vus_fe_alloc(m->fe, 2 * (size_t)QD * IO_SIZE, 4096);

    assert_non_null(buf);
    assert_false(vus_fe_features(m->fe) & F_EVENT_IDX);
    verified_io(m, buf, 1);
    quiet_reaping(m, buf);
    verified_io(m, buf, 2);
    stop(m);
}

/* (c) No REPLY_ACK, INFLIGHT_SHMFD or STATUS: nothing awaited, rings stop and restart. */
static void test_no_ack_inflight_status(void **state)
{
    struct minimal *m = start(NULL, "0x11008", false);
    uint8_t *buf = vus_fe_alloc(m->fe, 2 * (size_t)QD * IO_SIZE, 4096);
    uint64_t pf = vus_fe_protocol_features(m->fe);
    uint16_t base;

    assert_non_null(buf);
    assert_false(pf & (PF(REPLY_ACK) | PF(INFLIGHT_SHMFD) | PF(STATUS)));
    assert_true(pf & PF(CONFIGURE_MEM_SLOTS));
    verified_io(m, buf, 1);
    assert_int_equal(vus_fe_vq_stop(m->fe, VIRTIO_SCSI_VQ_REQUEST, &base), 0);
    assert_int_equal(vus_fe_vq_start(m->fe, VIRTIO_SCSI_VQ_REQUEST), 0);
    added_region_io(m, 2);
    stop(m);
}

/* (d) Everything (a) to (c) withhold, at once. */
static void test_all_withheld(void **state)
{
    struct minimal *m = start("0x20000000", "0x19008", true);
    uint8_t *buf = vus_fe_alloc(m->fe, 2 * (size_t)QD * IO_SIZE, 4096);
    uint64_t pf = vus_fe_protocol_features(m->fe);

    assert_non_null(buf);
    assert_false(vus_fe_features(m->fe) & F_EVENT_IDX);
    assert_false(pf & (PF(CONFIGURE_MEM_SLOTS) | PF(REPLY_ACK) | PF(INFLIGHT_SHMFD) | PF(STATUS)));
    assert_true(pf & PF(MQ));
    verified_io(m, buf, 1);
    quiet_reaping(m, buf);
    added_region_io(m, 2);
    verified_io(m, buf, 3);
    stop(m);
}

/* The barest backend: no protocol features at all, no EVENT_IDX, no indirect descriptors. */
static void test_no_protocol_features(void **state)
{
    struct minimal *m = start("0x70000000", NULL, true);
    uint8_t *buf = vus_fe_alloc(m->fe, 2 * (size_t)QD * IO_SIZE, 4096);
    struct vus_fe_cmd c = { .flags = VUS_FE_CMD_INDIRECT };

    assert_non_null(buf);
    assert_false(vus_fe_features(m->fe) & (F_PROTOCOL | F_EVENT_IDX | F_INDIRECT));
    assert_int_equal(vus_fe_protocol_features(m->fe), 0);
    assert_int_equal(vus_fe_backend_queues(m->fe), 0);
    /* Nothing to put an indirect table through. */
    assert_int_equal(vus_fe_cmd_submit(vus_fe_vq(m->fe, VIRTIO_SCSI_VQ_REQUEST), &c), -ENOTSUP);
    verified_io(m, buf, 1);
    quiet_reaping(m, buf);
    added_region_io(m, 2);
    stop(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_mem_slots),           cmocka_unit_test(test_no_event_idx),
        cmocka_unit_test(test_no_ack_inflight_status), cmocka_unit_test(test_all_withheld),
        cmocka_unit_test(test_no_protocol_features),
    };

    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
