/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VM-free functional tests, session side: task management, the event queue,
 * ring stop/restart, reconnects, connection variants, backend restarts.
 * One daemon for the group (two LUNs on target 0, one on target 1, two
 * worker threads); each test opens its own connection, which also exercises
 * the daemon's disconnect/accept cycle between tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_test_common.h"

static void test_tmf_and_an(void **state)
{
    struct ctx *cx = *state;
    uint8_t resp;
    uint32_t actual;
    struct vus_fe_cmd c;
    uint8_t key, asc;

    clear_ua(cx->rq, 0, 0);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 77, &resp, T_TIMEOUT),
                     0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 77, &resp, T_TIMEOUT),
                     0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_CLEAR_ACA, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_REJECTED);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK, 3, 0, 1, &resp, T_TIMEOUT),
                     0);
    assert_int_equal(resp, VIRTIO_SCSI_S_BAD_TARGET);

    /* LUN RESET: the next command on that LUN reports the reset, once. */
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    uint8_t tur[6] = { 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, tur, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 6);
    assert_int_equal(asc, 0x29);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, tur, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
    /* I_T NEXUS RESET reaches every LUN. */
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 1, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, tur, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 2);
    assert_int_equal(scsi_exec(cx->rq, &c, 1, tur, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 2);

    /* Asynchronous notification: none supported, LUN checked. */
    assert_int_equal(
        vus_fe_an(cx->fe, VIRTIO_SCSI_T_AN_QUERY, 0, 0, 0xff, &actual, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_OK);
    assert_int_equal(actual, 0);
    assert_int_equal(
        vus_fe_an(cx->fe, VIRTIO_SCSI_T_AN_SUBSCRIBE, 9, 0, 0xff, &actual, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_BAD_TARGET);
}

/* TMFs while commands are in flight on a request queue. */
static void test_tmf_with_io_in_flight(void **state)
{
    struct ctx *cx = *state;
    enum { N = 32 };
    static struct vus_fe_cmd cmds[N];
    static struct iovec iov[N];
    uint8_t resp;

    clear_ua(cx->rq, 0, 0);
    for (unsigned i = 0; i < N; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cdb_rw16(cmds[i].cdb, false, i * 64, 64);
        iov[i] = (struct iovec){ cx->buf + (i % 16) * 32768, 32768 };
        cmds[i].in = &iov[i];
        cmds[i].in_cnt = 1;
        cmds[i].tag = 1000 + i;
        assert_int_equal(vus_fe_cmd_submit(cx->rq, &cmds[i]), 0);
    }
    vus_fe_vq_kick(cx->rq);
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 1000 + N - 1, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* Every command completes (with a good or an aborted status), none is lost. */
    unsigned done = 0;
    while (done < N) {
        assert_int_equal(vus_fe_vq_wait(cx->rq, T_TIMEOUT), 1);
        struct vus_fe_cmd *c;
        while ((c = vus_fe_cmd_reap(cx->rq))) {
            assert_true(c->response == VIRTIO_SCSI_S_OK || c->response == VIRTIO_SCSI_S_ABORTED);
            done++;
        }
    }
}

/* Event queue: buffers are held until an event; unusable ones come back empty. */
static void test_event_queue(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_vq *evq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_EVENT);
    struct virtio_scsi_event ev;
    uint32_t len;
    uint16_t base;

    assert_int_equal(vus_fe_event_post(cx->fe, 8), 0);
    /* A read-only buffer cannot carry an event: it is returned at once, length 0. */
    uint8_t *ro = vus_fe_alloc(cx->fe, 16, 16);
    uint64_t gpa;
    assert_int_equal(vus_fe_gpa(cx->fe, ro, 16, &gpa), 0);
    struct vus_fe_seg seg = { gpa, 16, false };
    void *cookie = NULL;
    assert_true(vus_fe_vq_add(evq, &seg, 1, 0, ro) >= 0);
    vus_fe_vq_kick(evq);
    assert_int_equal(vus_fe_vq_wait(evq, T_TIMEOUT), 1);
    assert_int_equal(vus_fe_vq_reap(evq, &cookie, &len), 1);
    assert_ptr_equal(cookie, ro);
    assert_int_equal(len, 0);
    /* The good buffers stay with the device: no event has happened. */
    assert_int_equal(vus_fe_vq_wait(evq, 200), 0);
    assert_int_equal(vus_fe_event_reap(cx->fe, &ev, &len), 0);
    assert_int_equal(vus_fe_vq_inflight(evq), 8);
    /* Stopping the queue gives the held buffers back: base rewinds by 8. */
    assert_int_equal(vus_fe_vq_stop(cx->fe, VIRTIO_SCSI_VQ_EVENT, &base), 0);
    assert_int_equal(base, 9 - 8);
}

/* GET_VRING_BASE drains a request queue; the ring restarts where it stopped. */
static void test_ring_stop_restart(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];
    uint16_t base;

    clear_ua(vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_REQUEST + 1), 0, 0);
    for (unsigned i = 0; i < 5; i++) {
        cdb_rw16(cdb, false, i, 1);
        assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 512, 2), 0);
    }
    assert_int_equal(vus_fe_vq_stop(cx->fe, VIRTIO_SCSI_VQ_REQUEST, &base), 0);
    assert_int_equal(base, 5);
    assert_int_equal(vus_fe_vq_start(cx->fe, VIRTIO_SCSI_VQ_REQUEST), 0);
    fill(cx->buf, 512, 44);
    cdb_rw16(cdb, true, 7, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 512, 1), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 7, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, 512, 2), 0);
    assert_memory_equal(cx->buf, cx->buf2, 512);
}

/* GET_VRING_BASE with requests in flight: every one is on the used ring when it answers. */
static void test_ring_stop_drains_in_flight(void **state)
{
    struct ctx *cx = *state;
    enum { N = 48 };
    static struct vus_fe_cmd cmds[N];
    static struct iovec iov[N];
    uint16_t base;

    clear_ua(cx->rq, 0, 0);
    for (unsigned i = 0; i < N; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cdb_rw16(cmds[i].cdb, i % 2, i * 128, 128);
        iov[i] = (struct iovec){ cx->buf + (i % 16) * 65536, 65536 };
        cmds[i].flags = VUS_FE_CMD_INDIRECT; /* 48 chains in a ring of 128 descriptors */
        if (i % 2) {
            cmds[i].out = &iov[i];
            cmds[i].out_cnt = 1;
        } else {
            cmds[i].in = &iov[i];
            cmds[i].in_cnt = 1;
        }
        assert_int_equal(vus_fe_cmd_submit(cx->rq, &cmds[i]), 0);
    }
    vus_fe_vq_kick(cx->rq);
    assert_int_equal(vus_fe_vq_stop(cx->fe, VIRTIO_SCSI_VQ_REQUEST, &base), 0);
    /* No waiting: the answer itself promises the used ring is complete. */
    unsigned done = 0;
    struct vus_fe_cmd *c;
    while ((c = vus_fe_cmd_reap(cx->rq))) {
        assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c->status, 0);
        done++;
    }
    assert_int_equal(done, base - 1); /* the clear_ua command took one entry */
    assert_int_equal(done, N);
    /* And the ring restarts there. */
    assert_int_equal(vus_fe_vq_start(cx->fe, VIRTIO_SCSI_VQ_REQUEST), 0);
    clear_ua(cx->rq, 0, 0);
}

/* Data outlives the connection; a new frontend sees it. */
static void test_reconnect_keeps_data(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16], expect[4096];

    clear_ua(cx->rq, 0, 1);
    fill(cx->buf, 4096, 99);
    memcpy(expect, cx->buf, sizeof(expect));
    cdb_rw16(cdb, true, 17, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 1, cdb, 16, cx->buf, 4096, 1), 0);
    assert_int_equal(c.status, 0);
    for (unsigned round = 0; round < 3; round++) {
        vus_fe_close(cx->fe);
        assert_int_equal(fe_open(&dmn, 1 + round, &cx->fe), 0);
        cx->rq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_REQUEST + round);
        uint8_t *b = vus_fe_alloc(cx->fe, 4096, 4096);
        cdb_rw16(cdb, false, 17, 1);
        assert_int_equal(scsi_exec(cx->rq, &c, 1, cdb, 16, b, 4096, 2), 0);
        assert_int_equal(c.status, 0);
        assert_memory_equal(b, expect, 4096);
    }
}

/* Other setups: several memory regions, ADD_MEM_REG, no EVENT_IDX, no INDIRECT, no protocol
 * features. */
static void test_connection_variants(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_config v[] = {
        { .mem_regions = 4, .num_req_queues = 2 },
        { .add_mem_reg = true, .mem_regions = 3 },
        { .no_event_idx = true, .no_indirect = true, .queue_size = 16 },
        { .no_protocol_features = true, .queue_size = 1024, .mem_size = 32u << 20 },
    };

    vus_fe_close(cx->fe);
    cx->fe = NULL;
    for (unsigned k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        struct vus_fe *fe;
        struct vus_fe_cmd c;
        uint8_t cdb[16];
        v[k].socket_path = dmn.sock;
        v[k].timeout_ms = T_TIMEOUT;
        v[k].connect_retry_ms = 2000;
        assert_int_equal(vus_fe_connect(&v[k], &fe), 0);
        struct vus_fe_vq *vq = vus_fe_vq(fe, vus_fe_num_vqs(fe) - 1);
        unsigned last = vus_fe_num_regions(fe) - 1;
        uint8_t *b = vus_fe_alloc_in(fe, last, 8192, 4096);
        assert_non_null(b);
        clear_ua(vq, 0, 0);
        fill(b, 4096, 50 + k);
        cdb_rw16(cdb, true, 50 + k * 8, 8);
        assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, b, 4096, 1), 0);
        assert_int_equal(c.status, 0);
        cdb_rw16(cdb, false, 50 + k * 8, 8);
        assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, b + 4096, 4096, 2), 0);
        assert_int_equal(c.status, 0);
        assert_memory_equal(b, b + 4096, 4096);
        if (k == 1) {
            /* A region added while the rings run, then used for I/O. */
            int r = vus_fe_add_region(fe, 1 << 20);
            assert_true(r >= 0);
            uint8_t *nb = vus_fe_alloc_in(fe, (unsigned)r, 4096, 4096);
            assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, nb, 4096, 2), 0);
            assert_int_equal(c.status, 0);
            assert_memory_equal(b, nb, 4096);
        }
        vus_fe_close(fe);
    }
    assert_int_equal(fe_open(&dmn, 1, &cx->fe), 0);
}

/* The backend goes away: calls fail instead of hanging; a new backend serves. */
static void test_backend_restart(void **state)
{
    struct ctx *cx = *state;
    static const char *const args[] = { "--lun", "type=ram,size=4M", NULL };
    struct daemon d2;
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    uint8_t cdb[16];
    uint16_t base;

    (void)cx;
    assert_int_equal(daemon_start(&d2, args), 0);
    assert_int_equal(fe_open(&d2, 1, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *b = vus_fe_alloc(fe, 4096, 4096);
    clear_ua(vq, 0, 0);
    assert_int_equal(daemon_stop(&d2), 0);
    assert_true(vus_fe_peer_closed(fe, 1000));
    assert_true(vus_fe_vq_stop(fe, VIRTIO_SCSI_VQ_REQUEST, &base) < 0);
    cdb_rw16(cdb, false, 0, 1);
    assert_int_equal(scsi_exec_tmo(vq, &c, 0, cdb, 16, b, 512, 2, 200), -ETIMEDOUT);
    vus_fe_close(fe);

    assert_int_equal(daemon_start(&d2, args), 0);
    assert_int_equal(fe_open(&d2, 1, &fe), 0);
    vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    b = vus_fe_alloc(fe, 4096, 4096);
    clear_ua(vq, 0, 0);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, b, 512, 2), 0);
    assert_int_equal(c.status, 0);
    vus_fe_close(fe);
    assert_int_equal(daemon_stop(&d2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tmf_and_an, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_tmf_with_io_in_flight, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_event_queue, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_ring_stop_restart, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_ring_stop_drains_in_flight, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_keeps_data, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_connection_variants, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_backend_restart, test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
