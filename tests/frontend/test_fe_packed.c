/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Packed virtqueues (VIRTIO_F_RING_PACKED) through the real daemon, driven
 * by libvusfe's packed driver (issue 14): verified I/O on several request
 * queues at once with queue depths up to the ring size, direct and indirect
 * chains, many laps of every ring (both wrap counters flip), with and
 * without EVENT_IDX; TMFs on a packed control queue; an event on a packed
 * event queue; a ring stopped and started again from the 32-bit base
 * GET_VRING_BASE reports; no inflight region for packed rings (there is no
 * packed layout of it: GET_INFLIGHT_FD answers "none", as QEMU expects);
 * and a daemon that withholds the feature serving the same frontend over
 * split rings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>
#include <pthread.h>
#include <sys/mman.h>

#include "tests/frontend/fe_harness.h"
#include "vhost/vu_proto.h"
#include "virtq/virtio_ring.h"

#define MiB         (1024u * 1024u)
#define NREQ        3
#define QSIZE       32 /* small, so that every test goes round each ring many times */
#define BLK         4096u
#define PACKED      (1ull << VIRTIO_F_RING_PACKED)
#define F_INDIRECT  28 /* VIRTIO_RING_F_INDIRECT_DESC */
#define F_EVENT_IDX 29 /* VIRTIO_RING_F_EVENT_IDX */
#define REQ0        VIRTIO_SCSI_VQ_REQUEST
#define LUN_RAM     0

struct ctx {
    struct daemon d;
    char path[64];
    struct vus_fe *fe;
    uint8_t *buf; /* guest memory: NREQ * QSIZE blocks */
};

static int start(struct ctx *cx, const char *mask, bool no_event_idx)
{
    struct vus_fe_config cfg = { .num_req_queues = NREQ,
                                 .queue_size = QSIZE,
                                 .mem_size = 16 * MiB,
                                 .packed = true,
                                 .no_event_idx = no_event_idx,
                                 /* With these a split ring would leave requests in flight. */
                                 .protocol_extra = 1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD |
                                                   1ull << VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    char lun[128];

    if (fe_file_lun(cx->path, sizeof(cx->path), "packed", lun, sizeof(lun)) < 0)
        return -1;
    const char *const args[] = {
        "--lun", "type=ram,size=16M", "--lun", lun, mask ? "--mask-features" : NULL, mask, NULL
    };
    if (daemon_start(&cx->d, args) < 0)
        return -1;
    cfg.socket_path = cx->d.sock;
    if (vus_fe_connect(&cfg, &cx->fe) < 0)
        return -1;
    cx->buf = vus_fe_alloc(cx->fe, (size_t)NREQ * QSIZE * BLK, 4096);
    if (!cx->buf)
        return -1;
    for (unsigned q = 0; q < NREQ; q++) {
        clear_ua(vus_fe_vq(cx->fe, REQ0 + q), 0, 0);
        clear_ua(vus_fe_vq(cx->fe, REQ0 + q), 0, 1);
    }
    return 0;
}

static struct ctx the_ctx;

static int setup(void **state)
{
    memset(&the_ctx, 0, sizeof(the_ctx));
    *state = &the_ctx;
    return start(&the_ctx, NULL, false);
}

static int setup_no_event_idx(void **state)
{
    memset(&the_ctx, 0, sizeof(the_ctx));
    *state = &the_ctx;
    return start(&the_ctx, NULL, true);
}

/* The daemon withholds packed rings: the same frontend asks for them and gets split ones. */
static int setup_withheld(void **state)
{
    memset(&the_ctx, 0, sizeof(the_ctx));
    *state = &the_ctx;
    return start(&the_ctx, "0x400000000", false);
}

static int teardown(void **state)
{
    struct ctx *cx = *state;

    return fe_stop_file_lun(cx->fe, &cx->d, cx->path);
}

/* Block i of queue q's share of the RAM LUN, and its own buffer. */
static uint64_t lba_of(unsigned q, unsigned i)
{
    return ((uint64_t)q * QSIZE + i) * (BLK / 512);
}

/*
 * One batch of depth commands on a queue: writes of a pattern that names the
 * round, or reads of it back, checked.  Indirect chains take one ring slot
 * each, so depth can be the ring size; direct ones take three (header,
 * data, response) and fit a third as many.
 */
static void batch(struct vus_fe_vq *vq, uint8_t *bufs, unsigned q, unsigned depth, bool write,
                  bool indirect, unsigned round)
{
    static __thread struct vus_fe_cmd cmds[QSIZE];
    static __thread struct iovec iov[QSIZE];

    for (unsigned i = 0; i < depth; i++) {
        uint8_t *b = bufs + (size_t)i * BLK;
        struct vus_fe_cmd *c = &cmds[i];

        memset(c, 0, sizeof(*c));
        c->lun = LUN_RAM;
        cdb_rw16(c->cdb, write, lba_of(q, i), BLK / 512);
        c->tag = (uint64_t)round << 16 | i;
        c->flags = indirect ? VUS_FE_CMD_INDIRECT : 0;
        iov[i] = (struct iovec){ b, BLK };
        if (write) {
            fill(b, BLK, round * 131 + q * 17 + i);
            c->out = &iov[i];
            c->out_cnt = 1;
        } else {
            memset(b, 0xee, BLK);
            c->in = &iov[i];
            c->in_cnt = 1;
        }
        assert_int_equal(vus_fe_cmd_submit(vq, c), 0);
    }
    fe_reap_good(vq, depth);
    assert_int_equal(vus_fe_vq_inflight(vq), 0);
    if (write)
        return;
    for (unsigned i = 0; i < depth; i++) {
        uint8_t want[BLK];
        fill(want, BLK, round * 131 + q * 17 + i);
        assert_memory_equal(bufs + (size_t)i * BLK, want, BLK);
    }
}

struct worker {
    struct ctx *cx;
    unsigned q;
    unsigned rounds;
    pthread_t th;
};

/* Rounds of write then read-back: full-ring indirect batches, then direct ones of odd depth. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct vus_fe_vq *vq = vus_fe_vq(w->cx->fe, REQ0 + w->q);
    uint8_t *bufs = w->cx->buf + (size_t)w->q * QSIZE * BLK;
    bool ind = vus_fe_features(w->cx->fe) & (1ull << F_INDIRECT);

    for (unsigned r = 0; r < w->rounds; r++) {
        batch(vq, bufs, w->q, ind ? QSIZE : QSIZE / 3, true, ind, r);
        batch(vq, bufs, w->q, ind ? QSIZE : QSIZE / 3, false, ind, r);
        /* Three slots per command: 7 of them end each batch mid-lap, at another place each time. */
        batch(vq, bufs, w->q, 7, true, false, r + 1000);
        batch(vq, bufs, w->q, 7, false, false, r + 1000);
    }
    return NULL;
}

static void verified_io(struct ctx *cx, unsigned rounds)
{
    struct worker w[NREQ];

    for (unsigned q = 0; q < NREQ; q++) {
        w[q] = (struct worker){ .cx = cx, .q = q, .rounds = rounds };
        assert_int_equal(pthread_create(&w[q].th, NULL, worker_main, &w[q]), 0);
    }
    for (unsigned q = 0; q < NREQ; q++)
        pthread_join(w[q].th, NULL);
}

static void test_packed_negotiated_and_verified_io(void **state)
{
    struct ctx *cx = *state;

    assert_true(vus_fe_features(cx->fe) & PACKED);
    verified_io(cx, 12);
    assert_true(daemon_alive(&cx->d));
}

static void test_packed_without_event_idx(void **state)
{
    struct ctx *cx = *state;

    assert_true(vus_fe_features(cx->fe) & PACKED);
    assert_false(vus_fe_features(cx->fe) & (1ull << F_EVENT_IDX));
    verified_io(cx, 6);
}

static void test_withheld_gives_split_rings(void **state)
{
    struct ctx *cx = *state;

    assert_false(vus_fe_features(cx->fe) & PACKED);
    verified_io(cx, 4);
}

/* Many more TMFs than the control ring has slots: two per TMF, so the ring wraps again and again.
 */
static void test_tmf_on_packed_control_queue(void **state)
{
    struct ctx *cx = *state;
    uint8_t resp;

    assert_true(vus_fe_features(cx->fe) & PACKED);

    for (unsigned i = 0; i < 4 * QSIZE; i++) {
        uint32_t sub = i % 2 ? VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET : VIRTIO_SCSI_T_TMF_ABORT_TASK;
        resp = 0xff;
        assert_int_equal(vus_fe_tmf(cx->fe, sub, 0, LUN_RAM, 1000 + i, &resp, T_TIMEOUT), 0);
        assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    }
    /* The LUN resets left a unit attention; I/O goes on after it. */
    clear_ua(vus_fe_vq(cx->fe, REQ0), 0, LUN_RAM);
    verified_io(cx, 1);
}

static bool wait_event(struct ctx *cx, struct virtio_scsi_event *ev, uint32_t *len)
{
    struct vus_fe_vq *evq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_EVENT);

    for (int waited = 0; waited <= T_TIMEOUT; waited += 10) {
        if (vus_fe_event_reap(cx->fe, ev, len) == 1)
            return true;
        vus_fe_vq_wait(evq, 10);
    }
    return false;
}

/*
 * Capacity changes of the file LUN, one event each, until the event ring went
 * round twice; in between, a stop and start of the event ring.
 */
static void test_events_on_packed_event_queue(void **state)
{
    struct ctx *cx = *state;
    struct virtio_scsi_event ev;
    uint32_t len;

    assert_true(vus_fe_features(cx->fe) & PACKED);

    assert_int_equal(vus_fe_event_post(cx->fe, 4), 0);
    for (unsigned i = 0; i < 2 * QSIZE + 3; i++) {
        /*
         * Once, the event ring stops while the daemon holds the four buffers:
         * it hands them back by rewinding its position (virtq_unpop), the
         * base says so, and after the restart it takes them again.
         */
        if (i == QSIZE) {
            uint16_t base16;
            assert_int_equal(vus_fe_vq_stop(cx->fe, VIRTIO_SCSI_VQ_EVENT, &base16), 0);
            assert_int_equal(vus_fe_vq_start(cx->fe, VIRTIO_SCSI_VQ_EVENT), 0);
        }
        assert_int_equal(truncate(cx->path, (off_t)(8 + i + 1) * MiB), 0);
        assert_int_equal(kill(cx->d.pid, SIGHUP), 0);
        assert_true(wait_event(cx, &ev, &len));
        assert_int_equal(len, sizeof(ev));
        assert_int_equal(ev.event, VIRTIO_SCSI_T_PARAM_CHANGE);
        assert_int_equal(ev.lun[0], 1);
        assert_int_equal(ev.lun[3], 1);
        assert_int_equal(vus_fe_event_post(cx->fe, 1), 0);
    }
}

/*
 * GET_VRING_BASE reports both positions and wrap counters (32 bits), and a
 * ring started again from that base goes on where it was.  Stopped with
 * nothing in flight, the used position is the avail position.
 */
static void test_stop_and_restart_from_the_32_bit_base(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_vq *vq = vus_fe_vq(cx->fe, REQ0);
    uint16_t base16;

    assert_true(vus_fe_features(cx->fe) & PACKED);

    for (unsigned r = 0; r < 5; r++) {
        /* 3 slots per command, 10 commands: 30 of the 32 slots, so each stop is elsewhere. */
        batch(vq, cx->buf, 0, 10, true, false, 2000 + r);
        assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base16), 0);
        assert_int_equal(vus_fe_vq_start(cx->fe, REQ0), 0);
        batch(vq, cx->buf, 0, 10, false, false, 2000 + r);
    }
    assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base16), 0);
    assert_true((base16 & 0x7fff) < QSIZE);
    assert_int_equal(vus_fe_vq_start(cx->fe, REQ0), 0);
    verified_io(cx, 1);
}

/*
 * No packed layout of the inflight region: GET_INFLIGHT_FD answers with
 * none (what QEMU then runs without), a region set anyway is not used for
 * packed rings, and a ring stopped with requests in flight completes them
 * first, as a ring without a region does.
 */
static void test_no_inflight_region_for_packed_rings(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_vq *vq = vus_fe_vq(cx->fe, REQ0);
    struct vu_inflight_msg in = { .num_queues = NREQ + 2, .queue_size = QSIZE };
    uint64_t size = 0;
    int fd = -1;

    assert_true(vus_fe_features(cx->fe) & PACKED);

    assert_true(vus_fe_protocol_features(cx->fe) & (1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD));
    assert_int_equal(vus_fe_get_inflight_fd(cx->fe, NREQ + 2, QSIZE, &fd, &size), -ENOENT);

    fd = memfd_create("inflight", MFD_CLOEXEC);
    assert_true(fd >= 0);
    in.mmap_size = 1 << 20;
    assert_int_equal(ftruncate(fd, (off_t)in.mmap_size), 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1), 0);
    close(fd);

    /* Requests in flight when the ring stops: all completed by the time the base comes back. */
    struct vus_fe_cmd cmds[8];
    struct iovec iov[8];
    uint16_t base16;
    for (unsigned i = 0; i < 8; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cdb_rw16(cmds[i].cdb, false, lba_of(0, i), BLK / 512);
        iov[i] = (struct iovec){ cx->buf + (size_t)i * BLK, BLK };
        cmds[i].in = &iov[i];
        cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq, &cmds[i]), 0);
    }
    vus_fe_vq_kick(vq);
    assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base16), 0);
    for (unsigned i = 0; i < 8; i++) {
        struct vus_fe_cmd *c = vus_fe_cmd_reap(vq);
        assert_non_null(c);
        assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
    }
    assert_int_equal(vus_fe_vq_start(cx->fe, REQ0), 0);
    verified_io(cx, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_packed_negotiated_and_verified_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_without_event_idx, setup_no_event_idx,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_withheld_gives_split_rings, setup_withheld, teardown),
        cmocka_unit_test_setup_teardown(test_tmf_on_packed_control_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_on_packed_event_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_restart_from_the_32_bit_base, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_inflight_region_for_packed_rings, setup, teardown),
    };

    fe_apply_test_filter();
    return cmocka_run_group_tests_name("frontend_packed", tests, NULL, NULL);
}
