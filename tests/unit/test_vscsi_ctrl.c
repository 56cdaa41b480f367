/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control queue: task management and asynchronous notification requests
 * through a real ring, with a request queue next to it whose tasks the
 * backend holds until the test lets them complete.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ring_helper.h"
#include "scsi/scsi_proto.h"
#include "virtio_scsi/vscsi.h"

#define NUM       16
#define BS        512
#define DISK_SIZE (256 * 1024)
#define REQ_LEN   sizeof(struct virtio_scsi_cmd_req)
#define RESP_LEN  sizeof(struct virtio_scsi_cmd_resp)
#define UNTOUCHED 0xee

struct fx {
    struct rh_mem m;
    struct rh_ring ctrl_ring;
    struct rh_ring req_ring;
    struct scsi_target_set set;
    struct vscsi_queue q;
    struct vscsi_queue *qs[1];
    struct vscsi_ctrl ctrl;
    struct fake_bdev *disk;  /* target 0, LUN 0; holds requests */
    struct fake_bdev *disk1; /* target 0, LUN 1 */
    struct scsi_lun *lun0, *lun1;
};

static const uint8_t LUN_0_0[8] = { 1, 0, 0x40, 0, 0, 0, 0, 0 };
static const uint8_t LUN_0_1[8] = { 1, 0, 0x40, 1, 0, 0, 0, 0 };

static struct fake_bdev *add_lun(struct fx *f, unsigned lun, enum fb_mode mode)
{
    struct scsi_lun_config cfg = { .target = 0, .lun = lun };
    struct fake_bdev *b = fb_new(DISK_SIZE, BS, mode);
    char err[128];

    assert_non_null(b);
    assert_int_equal(scsi_lun_create(&f->set, &cfg, &b->b, err, sizeof(err)), 0);
    atomic_store(&scsi_lookup(&f->set, 0, lun)->ua_pending, 0);
    return b;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 2 << 20), 0);
    assert_int_equal(rh_ring_init(&f->ctrl_ring, &f->m, NUM, false, true), 0);
    assert_int_equal(rh_ring_init(&f->req_ring, &f->m, NUM, false, true), 0);
    f->disk = add_lun(f, 0, FB_HOLD);
    f->disk1 = add_lun(f, 1, FB_INLINE);
    f->lun0 = scsi_lookup(&f->set, 0, 0);
    f->lun1 = scsi_lookup(&f->set, 0, 1);
    f->q.vq = &f->req_ring.vq;
    f->q.index = 2;
    f->q.targets = &f->set;
    assert_int_equal(vscsi_queue_alloc(&f->q, NUM), 0);
    f->qs[0] = &f->q;
    f->ctrl.vq = &f->ctrl_ring.vq;
    f->ctrl.targets = &f->set;
    f->ctrl.reqqs = f->qs;
    f->ctrl.nreqqs = 1;
    f->ctrl.tmf_timeout_ms = 2000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    /* Let anything still held finish so that no task outlives its queue. */
    f->disk->mode = FB_INLINE;
    while (fb_complete_held(f->disk))
        ;
    vscsi_queue_free(&f->q);
    scsi_target_set_destroy(&f->set);
    rh_ring_fini(&f->ctrl_ring);
    rh_ring_fini(&f->req_ring);
    rh_mem_fini(&f->m);
    free(f);
    return 0;
}

static uint64_t buf_in(struct fx *f, size_t len)
{
    uint64_t gpa = rh_alloc(&f->m, len ? len : 1, 8);

    assert_true(gpa != 0);
    memset(rh_host(&f->m, gpa), UNTOUCHED, len);
    return gpa;
}

/*
 * Send one control request of out_len bytes of req with a resp_len-byte
 * response buffer; returns the used length, the response in resp.
 */
static uint32_t ctrl_req(struct fx *f, const void *req, size_t out_len, size_t resp_len, void *resp)
{
    struct rh_seg segs[2];
    unsigned n = 0;
    uint32_t head = 0, len = 0;
    uint64_t rgpa = buf_in(f, resp_len);
    int posted;

    if (out_len)
        segs[n++] =
            (struct rh_seg){ rh_alloc_copy(&f->m, req, out_len, 1), (uint32_t)out_len, false };
    if (resp_len)
        segs[n++] = (struct rh_seg){ rgpa, (uint32_t)resp_len, true };
    posted = rh_post(&f->ctrl_ring, segs, n, false);
    assert_true(posted >= 0);
    vscsi_ctrl_process(&f->ctrl);
    assert_true(rh_get_used(&f->ctrl_ring, &head, &len));
    assert_int_equal(head, posted);
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    assert_true(rh_calls(&f->ctrl_ring) >= 1);
    if (resp_len)
        rh_read(&f->m, rgpa, resp, resp_len);
    return len;
}

/* A TMF with full-size buffers; returns its response code. */
static uint8_t tmf(struct fx *f, uint32_t subtype, const uint8_t lun[8], uint64_t tag)
{
    struct virtio_scsi_ctrl_tmf_req req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                            .subtype = htole32(subtype),
                                            .tag = htole64(tag) };
    struct virtio_scsi_ctrl_tmf_resp resp;

    memcpy(req.lun, lun, 8);
    assert_int_equal(ctrl_req(f, &req, sizeof(req), sizeof(resp), &resp), sizeof(resp));
    return resp.response;
}

/* Start a one-block READ(10) on the request queue; the backend holds it. */
static int start_read(struct fx *f, const uint8_t lun[8], uint64_t tag)
{
    struct virtio_scsi_cmd_req h;
    struct rh_seg segs[3];
    int head;

    memset(&h, 0, sizeof(h));
    memcpy(h.lun, lun, 8);
    h.tag = htole64(tag);
    h.cdb[0] = 0x28;
    h.cdb[8] = 1;
    segs[0] = (struct rh_seg){ rh_alloc_copy(&f->m, &h, sizeof(h), 1), REQ_LEN, false };
    segs[1] = (struct rh_seg){ buf_in(f, RESP_LEN), RESP_LEN, true };
    segs[2] = (struct rh_seg){ buf_in(f, BS), BS, true };
    head = rh_post(&f->req_ring, segs, 3, false);
    assert_true(head >= 0);
    vscsi_queue_process(&f->q);
    vscsi_queue_flush(&f->q);
    return head;
}

/* The next used entry of the request queue; returns its length. */
static uint32_t req_used(struct fx *f, int head)
{
    uint32_t h = 0, len = 0;

    assert_true(rh_get_used(&f->req_ring, &h, &len));
    assert_int_equal(h, head);
    return len;
}

/* Run TEST UNIT READY on lun; returns the sense key (0 when GOOD). */
static unsigned tur_sense_key(struct fx *f, const uint8_t lun[8], uint8_t *asc)
{
    struct virtio_scsi_cmd_req h;
    struct virtio_scsi_cmd_resp resp;
    struct rh_seg segs[2];
    uint64_t rgpa = buf_in(f, RESP_LEN);
    int head;

    memset(&h, 0, sizeof(h));
    memcpy(h.lun, lun, 8);
    segs[0] = (struct rh_seg){ rh_alloc_copy(&f->m, &h, sizeof(h), 1), REQ_LEN, false };
    segs[1] = (struct rh_seg){ rgpa, RESP_LEN, true };
    head = rh_post(&f->req_ring, segs, 2, false);
    assert_true(head >= 0);
    vscsi_queue_process(&f->q);
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_used(f, head), RESP_LEN);
    rh_read(&f->m, rgpa, &resp, sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    if (resp.status == SCSI_STATUS_GOOD)
        return 0;
    assert_int_equal(resp.status, SCSI_STATUS_CHECK_CONDITION);
    *asc = resp.sense[12];
    return resp.sense[2] & 0xf;
}

static void test_lun_reset(void **state)
{
    struct fx *f = *state;
    uint8_t asc = 0;

    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tur_sense_key(f, LUN_0_1, &asc), SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(asc, SCSI_ASC_POWER_ON_RESET);
    /* Reported once; and the other LUN was not reset. */
    assert_int_equal(tur_sense_key(f, LUN_0_1, &asc), 0);
    f->disk->mode = FB_INLINE;
    assert_int_equal(tur_sense_key(f, LUN_0_0, &asc), 0);
}

/* Plays the worker: completes the held request a little later. */
static void *late_completion(void *arg)
{
    struct fx *f = arg;
    const struct timespec t = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };

    nanosleep(&t, NULL);
    fb_complete_held(f->disk);
    vscsi_queue_flush(&f->q);
    return NULL;
}

static void test_lun_reset_waits_for_task(void **state)
{
    struct fx *f = *state;
    pthread_t th;
    uint8_t asc = 0;
    int head = start_read(f, LUN_0_0, 77);

    assert_int_equal(f->disk->nheld, 1);
    assert_int_equal(pthread_create(&th, NULL, late_completion, f), 0);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* The task left the task set before the reset answered. */
    assert_int_equal(rh_used_pending(&f->req_ring), 1);
    pthread_join(th, NULL);
    assert_int_equal(req_used(f, head), RESP_LEN + BS);
    f->disk->mode = FB_INLINE;
    assert_int_equal(tur_sense_key(f, LUN_0_0, &asc), SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(asc, SCSI_ASC_POWER_ON_RESET);
}

static void test_reset_timeout(void **state)
{
    struct fx *f = *state;
    struct timespec t0, t1;
    uint8_t asc = 0;

    f->ctrl.tmf_timeout_ms = 20;
    start_read(f, LUN_0_0, 5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 5), VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, LUN_0_0, 0), VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, LUN_0_1, 0), VIRTIO_SCSI_S_FAILURE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    /* A failed reset reset nothing. */
    assert_int_equal(tur_sense_key(f, LUN_0_1, &asc), 0);
    assert_int_equal(atomic_load(&f->lun0->ua_pending), 0);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
}

/*
 * The window between the SCSI layer dropping lun->inflight and the response
 * reaching the used ring: the slot still holds the task, and a reset must
 * wait for it (the guest expects affected requests completed first).
 */
static void test_reset_waits_for_slot(void **state)
{
    struct fx *f = *state;

    f->ctrl.tmf_timeout_ms = 10;
    atomic_store(&f->q.reqs[3].active_tag, 9);
    atomic_store(&f->q.reqs[3].active_lun, f->lun0);
    assert_int_equal(atomic_load(&f->lun0->inflight), 0);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, LUN_0_0, 0), VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 9), VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, LUN_0_1, 0), VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    /* Another LUN's reset does not wait for it. */
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);

    atomic_store(&f->q.reqs[3].active_lun, NULL);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

static void test_abort_and_query_task(void **state)
{
    struct fx *f = *state;
    int head;

    /* Unknown tags: nothing to abort, nothing found. */
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 1234),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, LUN_0_0, 1234),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);

    head = start_read(f, LUN_0_0, 42);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, LUN_0_0, 42),
                     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    /* Same tag on another LUN, another tag on this one: not that task. */
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, LUN_0_1, 42),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, LUN_0_0, 43),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 43),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* Query does not wait: the task is still running. */
    assert_int_equal(rh_used_pending(&f->req_ring), 0);

    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_used(f, head), RESP_LEN + BS);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, LUN_0_0, 42),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 42),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

static void test_i_t_nexus_reset(void **state)
{
    struct fx *f = *state;
    uint8_t asc = 0;

    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* Every LUN of the nexus reports the reset. */
    assert_int_equal(tur_sense_key(f, LUN_0_1, &asc), SCSI_SK_UNIT_ATTENTION);
    f->disk->mode = FB_INLINE;
    assert_int_equal(tur_sense_key(f, LUN_0_0, &asc), SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(asc, SCSI_ASC_POWER_ON_RESET);
}

static void test_bad_lun_and_rejected(void **state)
{
    struct fx *f = *state;
    const uint8_t no_target[8] = { 1, 4, 0x40, 0, 0, 0, 0, 0 };
    const uint8_t no_lun[8] = { 1, 0, 0x40, 9, 0, 0, 0, 0 };
    const uint8_t malformed[8] = { 1, 0, 0x80, 0, 0, 0, 0, 0 };

    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, no_target, 0),
                     VIRTIO_SCSI_S_BAD_TARGET);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, no_lun, 0), VIRTIO_SCSI_S_BAD_TARGET);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK, malformed, 0), VIRTIO_SCSI_S_BAD_TARGET);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_CLEAR_ACA, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_REJECTED);
    assert_int_equal(tmf(f, 99, LUN_0_0, 0), VIRTIO_SCSI_S_FUNCTION_REJECTED);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

static void test_an(void **state)
{
    struct fx *f = *state;
    const uint8_t no_target[8] = { 1, 4, 0x40, 0, 0, 0, 0, 0 };
    struct virtio_scsi_ctrl_an_req req = { .type = htole32(VIRTIO_SCSI_T_AN_QUERY),
                                           .event_requested = htole32(0xffffffffu) };
    struct virtio_scsi_ctrl_an_resp resp;

    memcpy(req.lun, LUN_0_0, 8);
    assert_int_equal(ctrl_req(f, &req, sizeof(req), sizeof(resp), &resp), sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.event_actual, 0);

    req.type = htole32(VIRTIO_SCSI_T_AN_SUBSCRIBE);
    assert_int_equal(ctrl_req(f, &req, sizeof(req), sizeof(resp), &resp), sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.event_actual, 0);

    memcpy(req.lun, no_target, 8);
    assert_int_equal(ctrl_req(f, &req, sizeof(req), sizeof(resp), &resp), sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_BAD_TARGET);
}

static void assert_untouched(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], UNTOUCHED);
}

static void test_unusable_requests(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_ctrl_tmf_req tmf_req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                                .subtype =
                                                    htole32(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET) };
    struct virtio_scsi_ctrl_an_req an_req = { .type = htole32(VIRTIO_SCSI_T_AN_QUERY) };
    uint32_t unknown = htole32(7);
    uint8_t resp[16];

    memcpy(tmf_req.lun, LUN_0_1, 8);
    memcpy(an_req.lun, LUN_0_1, 8);

    /* Unknown request type. */
    assert_int_equal(ctrl_req(f, &unknown, sizeof(unknown), sizeof(resp), resp), 0);
    assert_untouched(resp, sizeof(resp));
    /* Not even a type. */
    assert_int_equal(ctrl_req(f, &tmf_req, 3, sizeof(resp), resp), 0);
    assert_untouched(resp, sizeof(resp));
    /* Truncated requests, missing or short responses. */
    assert_int_equal(ctrl_req(f, &tmf_req, sizeof(tmf_req) - 1, sizeof(resp), resp), 0);
    assert_untouched(resp, sizeof(resp));
    assert_int_equal(ctrl_req(f, &tmf_req, sizeof(tmf_req), 0, NULL), 0);
    assert_int_equal(ctrl_req(f, &an_req, sizeof(an_req) - 1, sizeof(resp), resp), 0);
    assert_untouched(resp, sizeof(resp));
    assert_int_equal(ctrl_req(f, &an_req, sizeof(an_req), 4, resp), 0);
    assert_untouched(resp, 4);
    /* None of them reset anything. */
    assert_int_equal(atomic_load(&f->lun1->ua_pending), 0);

    /* A malformed chain: the response buffer lies outside guest memory. */
    uint16_t ids[2] = { 0, 0 };
    uint32_t head = 0, len = 1;
    assert_true(rh_reserve_chain(&f->ctrl_ring, 2, ids));
    rh_set_desc(f->ctrl_ring.desc, ids[0], rh_alloc_copy(&f->m, &tmf_req, sizeof(tmf_req), 1),
                sizeof(tmf_req), VRING_DESC_F_NEXT, ids[1]);
    rh_set_desc(f->ctrl_ring.desc, ids[1], f->m.size - 0x10, 0x20, VRING_DESC_F_WRITE, 0);
    rh_publish(&f->ctrl_ring, ids[0]);
    vscsi_ctrl_process(&f->ctrl);
    assert_true(rh_get_used(&f->ctrl_ring, &head, &len));
    assert_int_equal(head, ids[0]);
    assert_int_equal(len, 0);
    assert_int_equal(atomic_load(&f->lun1->ua_pending), 0);

    /* The queue still serves good requests. */
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

static void test_batch(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_ctrl_tmf_req req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                            .subtype = htole32(VIRTIO_SCSI_T_TMF_QUERY_TASK) };
    uint64_t resp_gpa[3];
    int heads[3];

    memcpy(req.lun, LUN_0_0, 8);
    for (unsigned i = 0; i < 3; i++) {
        struct rh_seg segs[2] = {
            { rh_alloc_copy(&f->m, &req, sizeof(req), 1), sizeof(req), false },
            { resp_gpa[i] = buf_in(f, 1), 1, true },
        };
        heads[i] = rh_post(&f->ctrl_ring, segs, 2, false);
        assert_true(heads[i] >= 0);
    }
    vscsi_ctrl_process(&f->ctrl);
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 3);
    assert_int_equal(rh_calls(&f->ctrl_ring), 1);
    for (unsigned i = 0; i < 3; i++) {
        uint32_t head = 0, len = 0;
        uint8_t r = 0;
        assert_true(rh_get_used(&f->ctrl_ring, &head, &len));
        assert_int_equal(head, heads[i]);
        assert_int_equal(len, 1);
        rh_read(&f->m, resp_gpa[i], &r, 1);
        assert_int_equal(r, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    }
    /* An empty queue: no interrupt. */
    vscsi_ctrl_process(&f->ctrl);
    assert_int_equal(rh_calls(&f->ctrl_ring), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_lun_reset),
        T(test_lun_reset_waits_for_task),
        T(test_reset_timeout),
        T(test_reset_waits_for_slot),
        T(test_abort_and_query_task),
        T(test_i_t_nexus_reset),
        T(test_bad_lun_and_rejected),
        T(test_an),
        T(test_unusable_requests),
        T(test_batch),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
