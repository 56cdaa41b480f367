/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Worker threads and their groups (a controller's share of a worker):
 * attach, pause, resume, detach and stop, idle and while serving a real
 * ring, and two groups on one worker, one pausing with a request in flight
 * while the other keeps being served.  The backend completes on the
 * worker's own io_loop when the test opens its gate, so "in flight" is under
 * the test's control.  Waits are bounded polls (1 ms steps, 1 s at most).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/worker.h"
#include "ring_helper.h"

#define NUM       16
#define BS        512
#define DISK_SIZE (64 * 1024)
#define REQ_LEN   sizeof(struct virtio_scsi_cmd_req)
#define RESP_LEN  sizeof(struct virtio_scsi_cmd_resp)
#define POLL_MS   1000

struct fx {
    struct rh_mem m;
    struct rh_ring r;
    struct scsi_target_set set;
    struct vscsi_queue q;
    struct fake_bdev *disk;
    struct worker *w;
    struct worker_group g;
    uint64_t resp_gpa[NUM]; /* by head */
    uint64_t din_gpa[NUM];
};

static const uint8_t LUN_0_0[8] = { 1, 0, 0x40, 0, 0, 0, 0, 0 };

static void sleep_ms(unsigned ms)
{
    const struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&t, NULL);
}

static enum worker_group_state state_of(struct worker_group *g)
{
    enum worker_group_state st;

    pthread_mutex_lock(&g->w->lock);
    st = g->state;
    pthread_mutex_unlock(&g->w->lock);
    return st;
}

static int setup_with(void **state, uint64_t poll_max_ns)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct scsi_lun_config cfg = { .target = 0, .lun = 0 };
    char err[128];

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 1 << 20), 0);
    assert_int_equal(rh_ring_init(&f->r, &f->m, NUM, false, true), 0);
    f->disk = fb_new(DISK_SIZE, BS, FB_GATE);
    assert_non_null(f->disk);
    assert_int_equal(scsi_lun_create(&f->set, &cfg, &f->disk->b, err, sizeof(err)), 0);
    atomic_store(&scsi_lookup(&f->set, 0, 0)->ua_pending, 0);
    f->q.vq = &f->r.vq;
    f->q.index = 2;
    f->q.targets = &f->set;
    assert_int_equal(vscsi_queue_alloc(&f->q, NUM), 0);
    f->w = calloc(1, sizeof(*f->w));
    assert_non_null(f->w);
    assert_int_equal(worker_start(f->w, 3, poll_max_ns), 0);
    worker_group_attach(f->w, &f->g);
    *state = f;
    return 0;
}

/* Interrupt mode: the worker sleeps as soon as it runs out of work. */
static int setup(void **state)
{
    return setup_with(state, 0);
}

/* Adaptive polling with a generous window: the same behaviour is expected. */
static int setup_polling(void **state)
{
    return setup_with(state, 5 * 1000 * 1000);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    worker_group_detach(&f->g);
    worker_stop(f->w);
    free(f->w);
    vscsi_queue_free(&f->q);
    scsi_target_set_destroy(&f->set);
    rh_ring_fini(&f->r);
    rh_mem_fini(&f->m);
    free(f);
    return 0;
}

/* Give the (paused) group our queue. */
static void attach_queue(struct fx *f)
{
    assert_int_equal(state_of(&f->g), GROUP_PAUSED);
    memset(&f->g.queues[0], 0, sizeof(f->g.queues[0]));
    f->g.queues[0].q = &f->q;
    f->g.queues[0].kick_fd = f->r.kick_fd;
    f->g.nqueues = 1;
}

/* Post a one-block READ(10) of lba, or TEST UNIT READY if lba < 0; returns the head. */
static int post_cmd(struct fx *f, int lba)
{
    struct virtio_scsi_cmd_req h;
    struct rh_seg segs[3];
    unsigned n = 0;
    int head;

    memset(&h, 0, sizeof(h));
    memcpy(h.lun, LUN_0_0, 8);
    if (lba >= 0) {
        h.cdb[0] = 0x28;
        h.cdb[5] = (uint8_t)lba;
        h.cdb[8] = 1;
    }
    segs[n++] = (struct rh_seg){ rh_alloc_copy(&f->m, &h, sizeof(h), 1), REQ_LEN, false };
    segs[n++] = (struct rh_seg){ rh_alloc(&f->m, RESP_LEN, 8), RESP_LEN, true };
    if (lba >= 0)
        segs[n++] = (struct rh_seg){ rh_alloc(&f->m, BS, 8), BS, true };
    head = rh_post(&f->r, segs, n, false);
    assert_true(head >= 0);
    f->resp_gpa[head] = segs[1].gpa;
    f->din_gpa[head] = lba >= 0 ? segs[2].gpa : 0;
    return head;
}

/* Poll until the guest sees n used entries; false after POLL_MS. */
static bool wait_used(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < POLL_MS; i++) {
        if (rh_used_pending(&f->r) >= n)
            return true;
        sleep_ms(1);
    }
    return rh_used_pending(&f->r) >= n;
}

static bool wait_submitted(struct fx *f, unsigned n)
{
    for (unsigned i = 0; i < POLL_MS; i++) {
        if (atomic_load(&f->disk->submitted) >= n)
            return true;
        sleep_ms(1);
    }
    return false;
}

/* The next used entry is head's, with GOOD status; returns its length. */
static uint32_t take_good(struct fx *f, int head)
{
    struct virtio_scsi_cmd_resp resp;
    uint32_t h = 0, len = 0;

    assert_true(rh_get_used(&f->r, &h, &len));
    assert_int_equal(h, head);
    rh_read(&f->m, f->resp_gpa[head], &resp, sizeof(resp));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, 0);
    return len;
}

/* Wait for at least one call eventfd signal. */
static bool wait_call(struct fx *f)
{
    for (unsigned i = 0; i < POLL_MS; i++) {
        if (rh_calls(&f->r) > 0)
            return true;
        sleep_ms(1);
    }
    return false;
}

static void test_idle_lifecycle(void **state)
{
    struct fx *f = *state;

    /* Attached paused, with nothing to serve. */
    assert_int_equal(state_of(&f->g), GROUP_PAUSED);
    assert_int_equal(f->g.nqueues, 0);
    worker_group_resume(&f->g);
    assert_int_equal(state_of(&f->g), GROUP_RUNNING);
    worker_group_pause(&f->g);
    assert_int_equal(state_of(&f->g), GROUP_PAUSED);
    /* Pause and resume are idempotent. */
    worker_group_pause(&f->g);
    assert_int_equal(state_of(&f->g), GROUP_PAUSED);
    worker_group_resume(&f->g);
    worker_group_resume(&f->g);
    assert_int_equal(state_of(&f->g), GROUP_RUNNING);
    for (unsigned i = 0; i < 20; i++) {
        worker_group_pause(&f->g);
        worker_group_resume(&f->g);
    }
    assert_int_equal(state_of(&f->g), GROUP_RUNNING);
    /* teardown detaches it while running (detach pauses first). */
}

static void test_stop_without_groups(void **state)
{
    struct fx *f = *state;
    struct worker *w2 = calloc(1, sizeof(*w2));

    assert_non_null(w2);
    assert_int_equal(worker_start(w2, 7, 0), 0);
    assert_int_equal(w2->id, 7);
    assert_int_equal(w2->loop.index, 7);
    worker_stop(w2);
    free(w2);
    (void)f;
}

static void test_serves_a_queue(void **state)
{
    struct fx *f = *state;
    int head;

    attach_queue(f);
    worker_group_resume(&f->g);

    head = post_cmd(f, -1);
    rh_kick(&f->r);
    assert_true(wait_used(f, 1));
    /* Set by the worker before it served (the used index orders it for us). */
    assert_ptr_equal(f->q.loop, &f->w->loop);
    assert_int_equal(take_good(f, head), RESP_LEN);
    assert_true(wait_call(f));

    /* A READ completes on the worker's loop once the backend is let go. */
    memset(f->disk->data + 3 * BS, 0x3c, BS);
    head = post_cmd(f, 3);
    rh_kick(&f->r);
    assert_true(wait_submitted(f, 1));
    fb_open_gate(f->disk, 1);
    assert_true(wait_used(f, 1));
    assert_int_equal(take_good(f, head), RESP_LEN + BS);
    assert_int_equal(*(uint8_t *)rh_host(&f->m, f->din_gpa[head]), 0x3c);
    assert_true(wait_call(f));

    /* Several at once, one kick. */
    int heads[4];
    for (unsigned i = 0; i < 4; i++)
        heads[i] = post_cmd(f, -1);
    rh_kick(&f->r);
    assert_true(wait_used(f, 4));
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(take_good(f, heads[i]), RESP_LEN);
}

struct pauser {
    struct worker_group *g;
    bool detach; /* worker_group_detach instead of worker_group_pause */
    _Atomic bool done;
};

static void *do_pause(void *arg)
{
    struct pauser *p = arg;

    if (p->detach)
        worker_group_detach(p->g);
    else
        worker_group_pause(p->g);
    atomic_store(&p->done, true);
    return NULL;
}

static void test_pause_waits_for_inflight(void **state)
{
    struct fx *f = *state;
    struct pauser p = { .g = &f->g };
    pthread_t th;
    int head;

    attach_queue(f);
    worker_group_resume(&f->g);
    head = post_cmd(f, 1);
    rh_kick(&f->r);
    assert_true(wait_submitted(f, 1));

    assert_int_equal(pthread_create(&th, NULL, do_pause, &p), 0);
    /* The request is still with the backend: the pause cannot finish. */
    sleep_ms(50);
    assert_false(atomic_load(&p.done));
    assert_int_equal(rh_used_pending(&f->r), 0);

    fb_open_gate(f->disk, 1);
    pthread_join(th, NULL);
    assert_true(atomic_load(&p.done));
    /* Paused means completed: the response is on the ring and signalled. */
    assert_int_equal(state_of(&f->g), GROUP_PAUSED);
    assert_int_equal(f->q.inflight, 0);
    assert_int_equal(rh_used_pending(&f->r), 1);
    assert_int_equal(take_good(f, head), RESP_LEN + BS);
    assert_true(rh_calls(&f->r) > 0);
    assert_false(f->g.queues[0].armed);

    /* While paused, kicks are not served... */
    head = post_cmd(f, -1);
    rh_kick(&f->r);
    sleep_ms(20);
    assert_int_equal(rh_used_pending(&f->r), 0);
    /* ...and resuming serves what came meanwhile. */
    worker_group_resume(&f->g);
    assert_true(wait_used(f, 1));
    assert_int_equal(take_good(f, head), RESP_LEN);
}

static void test_requests_without_kick_after_resume(void **state)
{
    struct fx *f = *state;
    int head;

    /* The guest queued a request but its kick went to a previous owner. */
    attach_queue(f);
    head = post_cmd(f, -1);
    worker_group_resume(&f->g);
    assert_true(wait_used(f, 1));
    assert_int_equal(take_good(f, head), RESP_LEN);
    /*
     * Regression: the request completed inline while resuming; the guest
     * must get its interrupt then, not when something else wakes the worker.
     */
    assert_true(wait_call(f));

    /* Taking the queue away: the worker serves nothing afterwards. */
    worker_group_pause(&f->g);
    f->g.nqueues = 0;
    worker_group_resume(&f->g);
    head = post_cmd(f, -1);
    rh_kick(&f->r);
    sleep_ms(20);
    assert_int_equal(rh_used_pending(&f->r), 0);
    /* Give it back: the pending kick and request are served. */
    worker_group_pause(&f->g);
    attach_queue(f);
    worker_group_resume(&f->g);
    assert_true(wait_used(f, 1));
    assert_int_equal(take_good(f, head), RESP_LEN);
}

static void test_detach_with_inflight(void **state)
{
    struct fx *f = *state;
    struct pauser p = { .g = &f->g, .detach = true };
    pthread_t th;
    int head;

    attach_queue(f);
    worker_group_resume(&f->g);
    head = post_cmd(f, 2);
    rh_kick(&f->r);
    assert_true(wait_submitted(f, 1));
    /* Detaching drains like pausing. */
    assert_int_equal(pthread_create(&th, NULL, do_pause, &p), 0);
    sleep_ms(20);
    assert_false(atomic_load(&p.done));
    fb_open_gate(f->disk, 1);
    pthread_join(th, NULL);
    assert_int_equal(take_good(f, head), RESP_LEN + BS);
    assert_int_equal(f->g.state, GROUP_DETACHED);
    /* Attached again (teardown detaches it), it serves again. */
    memset(&f->g, 0, sizeof(f->g));
    worker_group_attach(f->w, &f->g);
    attach_queue(f);
    worker_group_resume(&f->g);
    head = post_cmd(f, -1);
    rh_kick(&f->r);
    assert_true(wait_used(f, 1));
    assert_int_equal(take_good(f, head), RESP_LEN);
}

/*
 * Two controllers share the worker.  One pauses (a memory-table change, say)
 * while a request of its own is stuck in the backend: the other's queue is
 * still served, and its guest never notices.
 */
static void test_other_group_served_during_a_pause(void **state)
{
    struct fx *f = *state;
    struct pauser p = { .g = &f->g };
    struct fx *b = calloc(1, sizeof(*b));
    struct worker_group gb;
    struct scsi_lun_config cfg = { .target = 0, .lun = 0 };
    char err[128];
    pthread_t th;
    int head;

    /* Controller B: its own memory, ring, LUN (completing inline) and group. */
    assert_non_null(b);
    assert_int_equal(rh_mem_init(&b->m, 1 << 20), 0);
    assert_int_equal(rh_ring_init(&b->r, &b->m, NUM, false, true), 0);
    b->disk = fb_new(DISK_SIZE, BS, FB_INLINE);
    assert_non_null(b->disk);
    assert_int_equal(scsi_lun_create(&b->set, &cfg, &b->disk->b, err, sizeof(err)), 0);
    atomic_store(&scsi_lookup(&b->set, 0, 0)->ua_pending, 0);
    b->q.vq = &b->r.vq;
    b->q.index = 2;
    b->q.targets = &b->set;
    assert_int_equal(vscsi_queue_alloc(&b->q, NUM), 0);
    memset(&gb, 0, sizeof(gb));
    worker_group_attach(f->w, &gb);
    gb.queues[0].q = &b->q;
    gb.queues[0].kick_fd = b->r.kick_fd;
    gb.nqueues = 1;
    worker_group_resume(&gb);

    attach_queue(f);
    worker_group_resume(&f->g);
    head = post_cmd(f, 1);
    rh_kick(&f->r);
    assert_true(wait_submitted(f, 1));
    assert_int_equal(pthread_create(&th, NULL, do_pause, &p), 0);
    sleep_ms(20);
    assert_false(atomic_load(&p.done));

    /* A's pause is stuck behind its request; B is served all the while. */
    for (unsigned i = 0; i < 20; i++) {
        int hb = post_cmd(b, 5);

        rh_kick(&b->r);
        assert_true(wait_used(b, 1));
        assert_int_equal(take_good(b, hb), RESP_LEN + BS);
    }
    assert_false(atomic_load(&p.done));
    /* And B can pause and resume itself meanwhile. */
    worker_group_pause(&gb);
    worker_group_resume(&gb);

    fb_open_gate(f->disk, 1);
    pthread_join(th, NULL);
    assert_int_equal(take_good(f, head), RESP_LEN + BS);
    worker_group_detach(&gb);
    vscsi_queue_free(&b->q);
    scsi_target_set_destroy(&b->set);
    rh_ring_fini(&b->r);
    rh_mem_fini(&b->m);
    free(b);
}

/* A grace period: every worker, busy or asleep, comes round its loop. */
static void test_grace_period(void **state)
{
    struct fx *f = *state;
    struct worker w2;

    assert_int_equal(worker_start(&w2, 4, 0), 0);
    /* An idle, sleeping worker is woken for it. */
    assert_true(worker_pool_grace(f->w, 1, 1000));
    assert_true(worker_pool_grace(&w2, 1, 1000));
    /* And one serving a queue. */
    attach_queue(f);
    worker_group_resume(&f->g);
    for (unsigned i = 0; i < 5; i++) {
        int head = post_cmd(f, -1);

        rh_kick(&f->r);
        assert_true(worker_pool_grace(f->w, 1, 1000));
        assert_true(wait_used(f, 1));
        assert_int_equal(take_good(f, head), RESP_LEN);
    }
    worker_stop(&w2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define P(fn) cmocka_unit_test_setup_teardown(fn, setup_polling, teardown)
    const struct CMUnitTest tests[] = {
        T(test_idle_lifecycle),
        T(test_stop_without_groups),
        T(test_serves_a_queue),
        T(test_pause_waits_for_inflight),
        T(test_requests_without_kick_after_resume),
        T(test_detach_with_inflight),
        T(test_other_group_served_during_a_pause),
        T(test_grace_period),
        P(test_serves_a_queue),
        P(test_pause_waits_for_inflight),
        P(test_requests_without_kick_after_resume),
        P(test_detach_with_inflight),
        P(test_other_group_served_during_a_pause),
    };
#undef T
#undef P
    return cmocka_run_group_tests(tests, NULL, NULL);
}
