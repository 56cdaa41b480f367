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
#define CTRL_NUM  128 /* room for more TMFs than VSCSI_TMF_MAX at once */
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

/* Plays the worker's side of worker_request_aborts (same thread here). */
static void ask_worker_to_abort(void *opaque)
{
    struct fx *f = opaque;

    vscsi_queue_abort_marked(&f->q);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 2 << 20), 0);
    assert_int_equal(rh_ring_init(&f->ctrl_ring, &f->m, CTRL_NUM, false, true), 0);
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
    f->q.tmfs = &f->ctrl.tmfs;
    vscsi_ctrl_init(&f->ctrl);
    f->ctrl.vq = &f->ctrl_ring.vq;
    f->ctrl.targets = &f->set;
    f->ctrl.reqqs = f->qs;
    f->ctrl.nreqqs = 1;
    f->ctrl.tmf_timeout_ms = 2000;
    f->ctrl.request_aborts = ask_worker_to_abort;
    f->ctrl.opaque = f;
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

/*
 * Start a one-block READ(10) on the request queue; the backend holds it.
 * *resp_gpa: where its response header goes.
 */
static int start_read_resp(struct fx *f, const uint8_t lun[8], uint64_t tag, uint64_t *resp_gpa)
{
    struct virtio_scsi_cmd_req h;
    struct rh_seg segs[3];
    int head;

    memset(&h, 0, sizeof(h));
    memcpy(h.lun, lun, 8);
    h.tag = htole64(tag);
    h.cdb[0] = 0x28;
    h.cdb[8] = 1;
    *resp_gpa = buf_in(f, RESP_LEN);
    segs[0] = (struct rh_seg){ rh_alloc_copy(&f->m, &h, sizeof(h), 1), REQ_LEN, false };
    segs[1] = (struct rh_seg){ *resp_gpa, RESP_LEN, true };
    segs[2] = (struct rh_seg){ buf_in(f, BS), BS, true };
    head = rh_post(&f->req_ring, segs, 3, false);
    assert_true(head >= 0);
    vscsi_queue_process(&f->q);
    vscsi_queue_flush(&f->q);
    return head;
}

static int start_read(struct fx *f, const uint8_t lun[8], uint64_t tag)
{
    uint64_t resp_gpa;

    return start_read_resp(f, lun, tag, &resp_gpa);
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

/* Post a TMF whose answer may come later; returns its head and response buffer. */
static int post_tmf(struct fx *f, uint32_t subtype, const uint8_t lun[8], uint64_t tag,
                    uint64_t *resp_gpa)
{
    struct virtio_scsi_ctrl_tmf_req req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                            .subtype = htole32(subtype),
                                            .tag = htole64(tag) };
    struct rh_seg segs[2];
    int head;

    memcpy(req.lun, lun, 8);
    *resp_gpa = buf_in(f, 1);
    segs[0] = (struct rh_seg){ rh_alloc_copy(&f->m, &req, sizeof(req), 1), sizeof(req), false };
    segs[1] = (struct rh_seg){ *resp_gpa, 1, true };
    head = rh_post(&f->ctrl_ring, segs, 2, false);
    assert_true(head >= 0);
    return head;
}

/* The next answered control request must be head; returns its response code. */
static uint8_t ctrl_answer(struct fx *f, int head, uint64_t resp_gpa)
{
    uint32_t h = 0, len = 0;
    uint8_t r = 0xff;

    assert_true(rh_get_used(&f->ctrl_ring, &h, &len));
    assert_int_equal(h, head);
    assert_int_equal(len, 1);
    rh_read(&f->m, resp_gpa, &r, 1);
    return r;
}

/* The response code of the request queue's completed command head. */
static uint8_t req_response(struct fx *f, int head, uint64_t resp_gpa)
{
    struct virtio_scsi_cmd_resp resp;

    assert_int_equal(req_used(f, head), RESP_LEN);
    rh_read(&f->m, resp_gpa, &resp, sizeof(resp));
    return resp.response;
}

/*
 * A reset with a task in flight: the task is told to abort (its backend I/O
 * cancelled), answers ABORTED, and only then does the reset answer and
 * raise its unit attention.  Nobody waited meanwhile.
 */
static void test_lun_reset_aborts_task(void **state)
{
    struct fx *f = *state;
    uint64_t resp_gpa, read_resp;
    uint8_t asc = 0;
    int head = start_read_resp(f, LUN_0_0, 77, &read_resp);
    int tmf_head;

    assert_int_equal(f->disk->nheld, 1);
    tmf_head = post_tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0, &resp_gpa);
    assert_false(vscsi_ctrl_process(&f->ctrl));
    /* Not answered: its victim is still running; but its I/O was cancelled. */
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    assert_true(vscsi_ctrl_tmfs_pending(&f->ctrl));
    assert_int_equal(f->disk->cancelled, 1);
    assert_true(vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns()) > 0);
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);

    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_response(f, head, read_resp), VIRTIO_SCSI_S_ABORTED);
    assert_int_equal(vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns()), -1);
    assert_int_equal(ctrl_answer(f, tmf_head, resp_gpa), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_false(vscsi_ctrl_tmfs_pending(&f->ctrl));
    f->disk->mode = FB_INLINE;
    assert_int_equal(tur_sense_key(f, LUN_0_0, &asc), SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(asc, SCSI_ASC_POWER_ON_RESET);
}

/* Tasks that start after a TMF are not its victims: a busy LUN cannot hold it forever. */
static void test_tmf_waits_only_for_tasks_it_found(void **state)
{
    struct fx *f = *state;
    uint64_t resp_gpa, r1, r2;
    int h1 = start_read_resp(f, LUN_0_0, 1, &r1);
    int tmf_head = post_tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, LUN_0_0, 0, &resp_gpa);

    vscsi_ctrl_process(&f->ctrl);
    int h2 = start_read_resp(f, LUN_0_0, 2, &r2);
    assert_int_equal(f->disk->nheld, 2);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_response(f, h1, r1), VIRTIO_SCSI_S_ABORTED);
    vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns());
    assert_int_equal(ctrl_answer(f, tmf_head, resp_gpa), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* The later task runs to its normal end. */
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_used(f, h2), RESP_LEN + BS);
    (void)r2;
}

/*
 * An ABORT TASK SET another nexus asked for (PREEMPT AND ABORT): the next
 * poll starts it, its victim answers ABORTED, and nothing appears on the
 * control ring; a request for a LUN that is gone is dropped, and a full
 * request table says so.
 */
static void test_requested_abort(void **state)
{
    struct fx *f = *state;
    uint64_t r0, r1;
    int h0 = start_read_resp(f, LUN_0_0, 11, &r0);

    assert_true(vscsi_tmf_request_abort(&f->ctrl.tmfs, 0, 0));
    assert_true(vscsi_tmf_request_abort(&f->ctrl.tmfs, 0, 0)); /* coalesced */
    assert_true(vscsi_tmf_request_abort(&f->ctrl.tmfs, 5, 9)); /* no such LUN */
    assert_true(vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns()) > 0);
    assert_int_equal(f->disk->cancelled, 1);
    for (unsigned i = 0; i < VSCSI_ABORT_REQS; i++)
        assert_int_equal(atomic_load(&f->ctrl.tmfs.abort_req[i]), 0);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_response(f, h0, r0), VIRTIO_SCSI_S_ABORTED);
    assert_int_equal(vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns()), -1);
    assert_false(vscsi_ctrl_tmfs_pending(&f->ctrl));
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    /* Tasks after it run normally; the LUN has no unit attention from it. */
    int h1 = start_read_resp(f, LUN_0_0, 12, &r1);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_used(f, h1), RESP_LEN + BS);
    assert_int_equal(atomic_load(&f->lun0->ua_pending), 0);
    /* Full: distinct LUNs beyond the table are refused. */
    for (unsigned i = 0; i < VSCSI_ABORT_REQS; i++)
        assert_true(vscsi_tmf_request_abort(&f->ctrl.tmfs, 1, i));
    assert_false(vscsi_tmf_request_abort(&f->ctrl.tmfs, 2, 0));
    vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns());
    assert_true(vscsi_tmf_request_abort(&f->ctrl.tmfs, 2, 0));
    vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns());
}

/*
 * A backend that cannot cancel and does not finish: the TMF answers FAILURE
 * at its deadline (the guest escalates), resets nothing, and its slot stays
 * taken until the task is gone, which still answers ABORTED.
 */
static void test_tmf_deadline(void **state)
{
    struct fx *f = *state;
    uint64_t resp_gpa, read_resp;
    uint8_t asc = 0;
    int head, tmf_head;

    f->disk->no_cancel = true;
    head = start_read_resp(f, LUN_0_0, 5, &read_resp);
    tmf_head = post_tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0, &resp_gpa);
    vscsi_ctrl_process(&f->ctrl);
    assert_int_equal(f->disk->cancelled, 0);
    uint64_t late = now_ns() + 3000ull * 1000 * 1000;
    assert_int_equal(vscsi_ctrl_poll_tmfs(&f->ctrl, late), -1);
    assert_int_equal(ctrl_answer(f, tmf_head, resp_gpa), VIRTIO_SCSI_S_FAILURE);
    assert_false(vscsi_ctrl_tmfs_pending(&f->ctrl));
    assert_true(f->ctrl.tmfs.tmf[0].busy);
    assert_int_equal(atomic_load(&f->lun0->ua_pending), 0);

    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_response(f, head, read_resp), VIRTIO_SCSI_S_ABORTED);
    vscsi_ctrl_poll_tmfs(&f->ctrl, late);
    assert_false(f->ctrl.tmfs.tmf[0].busy);
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    /* A failed reset reset nothing. */
    f->disk->mode = FB_INLINE;
    assert_int_equal(tur_sense_key(f, LUN_0_0, &asc), 0);
}

/*
 * More TMFs than slots: the extra requests stay on the ring (nothing is
 * popped that could not be handled) until a slot frees.
 */
static void test_tmf_slots_exhausted(void **state)
{
    struct fx *f = *state;
    uint64_t resp_gpa[VSCSI_TMF_MAX + 1], read_resp;
    int heads[VSCSI_TMF_MAX + 1];
    int head = start_read_resp(f, LUN_0_0, 9, &read_resp);

    for (unsigned i = 0; i <= VSCSI_TMF_MAX; i++) {
        heads[i] = post_tmf(f, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN_0_0, 9, &resp_gpa[i]);
        vscsi_ctrl_process(&f->ctrl);
    }
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    assert_int_equal(f->ctrl_ring.vq.last_avail_idx, VSCSI_TMF_MAX);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(req_response(f, head, read_resp), VIRTIO_SCSI_S_ABORTED);
    vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns());
    for (unsigned i = 0; i < VSCSI_TMF_MAX; i++)
        assert_int_equal(ctrl_answer(f, heads[i], resp_gpa[i]), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* The one left on the ring runs now; its task is gone, so it answers at once. */
    vscsi_ctrl_process(&f->ctrl);
    assert_int_equal(ctrl_answer(f, heads[VSCSI_TMF_MAX], resp_gpa[VSCSI_TMF_MAX]),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

/*
 * The window between the SCSI layer dropping lun->inflight and the response
 * reaching the used ring: the slot still holds the task, and a reset must
 * wait for it (the guest expects affected requests completed first).
 */
static void test_reset_waits_for_slot(void **state)
{
    struct fx *f = *state;
    struct vscsi_req *r = &f->q.reqs[3];
    uint64_t resp_gpa;

    atomic_store(&r->active_tag, 9);
    atomic_store(&r->active_lun, f->lun0);
    vscsi_slot_activate(&r->state);
    assert_int_equal(atomic_load(&f->lun0->inflight), 0);
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, LUN_0_0, 0),
                     VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
    /* Another LUN's reset does not wait for it. */
    assert_int_equal(tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_1, 0),
                     VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    int tmf_head = post_tmf(f, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN_0_0, 0, &resp_gpa);
    vscsi_ctrl_process(&f->ctrl);
    assert_int_equal(rh_used_pending(&f->ctrl_ring), 0);
    /* The worker completes it: the bits it takes are the reset's. */
    uint32_t bits = vscsi_slot_release(&r->state);
    assert_int_equal(bits, 1u << 0);
    vscsi_tmf_victims_done(&f->ctrl.tmfs, bits);
    vscsi_ctrl_poll_tmfs(&f->ctrl, now_ns());
    assert_int_equal(ctrl_answer(f, tmf_head, resp_gpa), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
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
        T(test_lun_reset_aborts_task),
        T(test_tmf_waits_only_for_tasks_it_found),
        T(test_requested_abort),
        T(test_tmf_deadline),
        T(test_tmf_slots_exhausted),
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
