/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The controller: which worker serves which request queue, queue slots
 * following the rings, the control and event queues on the control thread.
 *
 * The vrings are configured directly (as the vhost-user layer would leave
 * them) with rings built by the test in its own guest memory; the device's
 * pause/resume hooks are called as vu_dev does around ring changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/controller.h"
#include "ring_helper.h"

#define NUM       16
#define BS        512
#define DISK_SIZE (64 * 1024)
#define REQ_LEN   sizeof(struct virtio_scsi_cmd_req)
#define RESP_LEN  sizeof(struct virtio_scsi_cmd_resp)
#define NRINGS    8 /* control, event, 6 request queues */

struct fx {
    struct rh_mem m;
    struct rh_ring r[NRINGS];
    struct controller *c;
    struct worker pool[4]; /* shared with any other controller the test starts */
    unsigned npool;
};

static const uint8_t LUN_0_0[8] = { 1, 0, 0x40, 0, 0, 0, 0, 0 };

static void sleep_ms(unsigned ms)
{
    const struct timespec t = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };

    nanosleep(&t, NULL);
}

static int setup_n(void **state, unsigned nworkers)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct scsi_lun_config cfg = { .target = 0, .lun = 0 };
    struct fake_bdev *disk;
    char err[128];

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 2 << 20), 0);
    for (unsigned i = 0; i < NRINGS; i++)
        assert_int_equal(rh_ring_init(&f->r[i], &f->m, NUM, false, true), 0);
    f->c = calloc(1, sizeof(*f->c));
    assert_non_null(f->c);
    for (f->npool = 0; f->npool < nworkers; f->npool++)
        assert_int_equal(worker_start(&f->pool[f->npool], f->npool, 0), 0);
    assert_int_equal(controller_start(f->c, f->pool, nworkers, 0), 0);
    disk = fb_new(DISK_SIZE, BS, FB_INLINE);
    assert_non_null(disk);
    assert_int_equal(scsi_lun_create(&f->c->targets, &cfg, &disk->b, err, sizeof(err)), 0);
    atomic_store(&scsi_lookup(&f->c->targets, 0, 0)->ua_pending, 0);
    *state = f;
    return 0;
}

static int setup2(void **state)
{
    return setup_n(state, 2);
}

static int setup1(void **state)
{
    return setup_n(state, 1);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    controller_stop(f->c);
    free(f->c);
    while (f->npool > 0)
        worker_stop(&f->pool[--f->npool]);
    for (unsigned i = 0; i < NRINGS; i++)
        rh_ring_fini(&f->r[i]);
    rh_mem_fini(&f->m);
    free(f);
    return 0;
}

/*
 * Make vring idx ready over the test's ring idx, as SET_VRING_* would.  The
 * device gets its own copies of the fds: it closes them on disconnect.
 */
static void ring_up(struct fx *f, unsigned idx)
{
    struct vu_vring *vr = &f->c->dev.vrings[idx];

    vr->vq = f->r[idx].vq;
    vr->vq.call_fd = dup(f->r[idx].call_fd);
    vr->kick_fd = dup(f->r[idx].kick_fd);
    vr->addr_set = vr->addr_ok = vr->enabled = vr->started = true;
}

static void ring_down(struct fx *f, unsigned idx)
{
    struct vu_vring *vr = &f->c->dev.vrings[idx];

    vr->started = false;
}

static void pause_dev(struct fx *f)
{
    f->c->dev.ops->pause(&f->c->dev);
    assert_true(f->c->paused);
}

static void resume_dev(struct fx *f)
{
    f->c->dev.ops->resume(&f->c->dev);
    assert_false(f->c->paused);
}

/* Which worker serves the queue at vring idx (-1: none), checking it is listed once. */
static int owner(struct fx *f, unsigned idx)
{
    int found = -1;

    for (unsigned w = 0; w < f->c->nworkers; w++) {
        struct worker_group *wk = &f->c->groups[w];
        assert_ptr_equal(wk->w, &f->pool[w]);
        for (unsigned i = 0; i < wk->nqueues; i++) {
            if (wk->queues[i].q == &f->c->reqq[idx]) {
                assert_int_equal(found, -1);
                found = (int)w;
                assert_int_equal(wk->queues[i].kick_fd, f->c->dev.vrings[idx].kick_fd);
            }
        }
    }
    return found;
}

static bool ctrl_lists(struct fx *f, unsigned idx)
{
    for (unsigned i = 0; i < f->c->ctrl.nreqqs; i++)
        if (f->c->ctrl.reqqs[i] == &f->c->reqq[idx])
            return true;
    return false;
}

/* Send TEST UNIT READY on vring idx, kick, and wait (bounded) for the answer. */
static void assert_served(struct fx *f, unsigned idx)
{
    struct rh_ring *r = &f->r[idx];
    struct virtio_scsi_cmd_req h;
    struct virtio_scsi_cmd_resp resp;
    struct rh_seg segs[2];
    uint32_t head = 0, len = 0;
    int posted;

    memset(&h, 0, sizeof(h));
    memcpy(h.lun, LUN_0_0, 8);
    segs[0] = (struct rh_seg){ rh_alloc_copy(&f->m, &h, sizeof(h), 1), REQ_LEN, false };
    segs[1] = (struct rh_seg){ rh_alloc(&f->m, RESP_LEN, 8), RESP_LEN, true };
    posted = rh_post(r, segs, 2, false);
    assert_true(posted >= 0);
    rh_kick(r);
    for (unsigned i = 0; i < 1000 && rh_used_pending(r) == 0; i++)
        sleep_ms(1);
    assert_true(rh_get_used(r, &head, &len));
    assert_int_equal(head, posted);
    assert_int_equal(len, RESP_LEN);
    rh_read(&f->m, segs[1].gpa, &resp, sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, 0);
}

static void test_features(void **state)
{
    uint64_t feat = controller_features();

    assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
    assert_true(feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
    assert_true(feat & (1ull << VIRTIO_RING_F_EVENT_IDX));
    assert_true(feat & (1ull << VIRTIO_SCSI_F_HOTPLUG));
    /* Bidirectional commands are refused by the request queues: not offered. */
    assert_false(feat & (1ull << VIRTIO_SCSI_F_INOUT));
    assert_true(controller_protocol_features() & (1ull << VU_PROTOCOL_F_MQ));
}

/* --mask-features: a controller started afterwards withholds the bits, and only those. */
static void test_feature_mask(void **state)
{
    struct controller *c = calloc(1, sizeof(*c));
    struct worker w;
    uint64_t pmask = (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ull << VU_PROTOCOL_F_STATUS);

    assert_non_null(c);
    assert_int_equal(worker_start(&w, 0, 0), 0);
    controller_mask_features((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << 30), pmask);
    assert_int_equal(controller_start(c, &w, 1, 0), 0);
    controller_mask_features(0, 0);
    assert_int_equal(c->dev.offered_features,
                     controller_features() & ~(1ull << VIRTIO_RING_F_EVENT_IDX));
    assert_int_equal(c->dev.offered_protocol_features, controller_protocol_features() & ~pmask);
    controller_stop(c);
    free(c);
    worker_stop(&w);
}

static void test_start_arguments(void **state)
{
    struct controller *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    assert_int_equal(controller_start(c, NULL, 0, 0), -EINVAL);
    assert_int_equal(controller_start(c, NULL, CONTROLLER_MAX_WORKERS + 1, 0), -EINVAL);
    free(c);
}

static void test_round_robin(void **state)
{
    struct fx *f = *state;

    assert_int_equal(f->c->nworkers, 2);
    assert_true(f->c->paused);
    pause_dev(f);
    for (unsigned idx = 2; idx < NRINGS; idx++)
        ring_up(f, idx);
    resume_dev(f);

    /* Request queue k (vring k + 2) goes to worker k mod 2. */
    for (unsigned idx = 2; idx < NRINGS; idx++) {
        assert_int_equal(owner(f, idx), (int)((idx - 2) % 2));
        assert_non_null(f->c->reqq[idx].reqs);
        assert_int_equal(f->c->reqq[idx].nreqs, NUM);
        assert_int_equal(f->c->reqq[idx].index, idx);
        assert_ptr_equal(f->c->reqq[idx].vq, &f->c->dev.vrings[idx].vq);
        assert_true(ctrl_lists(f, idx));
    }
    assert_int_equal(f->c->groups[0].nqueues, 3);
    assert_int_equal(f->c->groups[1].nqueues, 3);
    assert_int_equal(f->c->ctrl.nreqqs, NRINGS - 2);
    for (unsigned idx = 2; idx < NRINGS; idx++)
        assert_served(f, idx);
}

static void test_queue_changes(void **state)
{
    struct fx *f = *state;

    pause_dev(f);
    ring_up(f, 2);
    ring_up(f, 4);
    resume_dev(f);
    /* Vring 3 is not ready: vring 4 still goes by its index, to worker 0. */
    assert_int_equal(owner(f, 2), 0);
    assert_int_equal(owner(f, 3), -1);
    assert_int_equal(owner(f, 4), 0);
    assert_int_equal(f->c->groups[1].nqueues, 0);
    assert_null(f->c->reqq[3].reqs);
    assert_int_equal(f->c->ctrl.nreqqs, 2);
    assert_served(f, 2);
    assert_served(f, 4);

    /* A stopped ring loses its slots and its worker. */
    pause_dev(f);
    ring_down(f, 2);
    resume_dev(f);
    assert_int_equal(owner(f, 2), -1);
    assert_null(f->c->reqq[2].reqs);
    assert_false(ctrl_lists(f, 2));
    assert_int_equal(f->c->ctrl.nreqqs, 1);
    assert_served(f, 4);

    /* A resized ring gets as many slots as entries. */
    pause_dev(f);
    f->c->dev.vrings[4].vq.num = NUM / 2;
    resume_dev(f);
    assert_int_equal(f->c->reqq[4].nreqs, NUM / 2);
    pause_dev(f);
    f->c->dev.vrings[4].vq.num = NUM;
    resume_dev(f);
    assert_int_equal(f->c->reqq[4].nreqs, NUM);
    assert_served(f, 4);

    /* A broken ring is not served. */
    pause_dev(f);
    f->c->dev.vrings[4].vq.broken = true;
    resume_dev(f);
    assert_int_equal(owner(f, 4), -1);
    assert_int_equal(f->c->ctrl.nreqqs, 0);
}

static void test_one_worker_serves_all(void **state)
{
    struct fx *f = *state;

    pause_dev(f);
    for (unsigned idx = 2; idx < NRINGS; idx++)
        ring_up(f, idx);
    resume_dev(f);
    for (unsigned idx = 2; idx < NRINGS; idx++) {
        assert_int_equal(owner(f, idx), 0);
        assert_served(f, idx);
    }
}

static void test_control_and_event_queues(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_ctrl_tmf_req req = { .type = htole32(VIRTIO_SCSI_T_TMF),
                                            .subtype = htole32(VIRTIO_SCSI_T_TMF_QUERY_TASK) };
    uint32_t head = 0, len = 0;
    uint8_t resp = 0xee;
    int posted;

    pause_dev(f);
    ring_up(f, VIRTIO_SCSI_VQ_CONTROL);
    ring_up(f, VIRTIO_SCSI_VQ_EVENT);
    ring_up(f, 2);
    resume_dev(f);
    assert_non_null(f->c->evq.vq);
    assert_int_equal(f->c->ctrl.tmf_timeout_ms, 30000);

    /* Control queue. */
    memcpy(req.lun, LUN_0_0, 8);
    struct rh_seg segs[2] = { { rh_alloc_copy(&f->m, &req, sizeof(req), 1), sizeof(req), false },
                              { rh_alloc(&f->m, 1, 1), 1, true } };
    posted = rh_post(&f->r[0], segs, 2, false);
    assert_true(posted >= 0);
    rh_kick(&f->r[0]);
    controller_kick_fixed(f->c, VIRTIO_SCSI_VQ_CONTROL);
    assert_true(rh_get_used(&f->r[0], &head, &len));
    assert_int_equal(head, posted);
    assert_int_equal(len, 1);
    rh_read(&f->m, segs[1].gpa, &resp, 1);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* The kick was consumed. */
    uint64_t v;
    assert_true(read(f->c->dev.vrings[0].kick_fd, &v, sizeof(v)) < 0);

    /* Event queue: buffers are held until an event. */
    struct rh_seg ev = { rh_alloc(&f->m, 16, 4), 16, true };
    posted = rh_post(&f->r[1], &ev, 1, false);
    assert_true(posted >= 0);
    rh_kick(&f->r[1]);
    controller_kick_fixed(f->c, VIRTIO_SCSI_VQ_EVENT);
    assert_int_equal(f->c->evq.nheld, 1);
    assert_int_equal(rh_used_pending(&f->r[1]), 0);
    assert_true(vscsi_eventq_post(&f->c->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0,
                                  VIRTIO_SCSI_EVT_RESET_RESCAN));
    assert_true(rh_get_used(&f->r[1], &head, &len));
    assert_int_equal(head, posted);
    assert_int_equal(len, 16);

    /* Stopping the event ring gives held buffers back. */
    posted = rh_post(&f->r[1], &ev, 1, false);
    rh_kick(&f->r[1]);
    controller_kick_fixed(f->c, VIRTIO_SCSI_VQ_EVENT);
    assert_int_equal(f->c->evq.nheld, 1);
    assert_int_equal(f->c->dev.vrings[1].vq.last_avail_idx, 2);
    pause_dev(f);
    f->c->dev.ops->queue_stop(&f->c->dev, VIRTIO_SCSI_VQ_EVENT);
    ring_down(f, VIRTIO_SCSI_VQ_EVENT);
    resume_dev(f);
    assert_int_equal(f->c->evq.nheld, 0);
    assert_int_equal(f->c->dev.vrings[1].vq.last_avail_idx, 1);
    assert_null(f->c->evq.vq);

    /* A kick on a ring that is not ready is drained and ignored. */
    rh_kick(&f->r[1]);
    controller_kick_fixed(f->c, VIRTIO_SCSI_VQ_EVENT);
    assert_int_equal(f->c->evq.nheld, 0);
    assert_served(f, 2);
}

static void test_disconnect(void **state)
{
    struct fx *f = *state;

    pause_dev(f);
    for (unsigned idx = 0; idx < NRINGS; idx++)
        ring_up(f, idx);
    resume_dev(f);
    assert_served(f, 3);
    vu_dev_disconnect(&f->c->dev);
    assert_false(f->c->paused);
    for (unsigned w = 0; w < f->c->nworkers; w++)
        assert_int_equal(f->c->groups[w].nqueues, 0);
    for (unsigned idx = 2; idx < NRINGS; idx++)
        assert_null(f->c->reqq[idx].reqs);
    assert_int_equal(f->c->ctrl.nreqqs, 0);
    assert_null(f->c->evq.vq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_start_arguments),
        cmocka_unit_test(test_feature_mask),
        cmocka_unit_test_setup_teardown(test_round_robin, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_queue_changes, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_one_worker_serves_all, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_control_and_event_queues, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect, setup2, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
