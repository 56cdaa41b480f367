/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Request queues and task management, scheduling: tasks found and marked
 * for the control thread, aborted tasks answered ABORTED, the budget a queue
 * takes per call, and a draining queue taking nothing.
 */
#include "vscsi_req_fixture.h"

static void test_find_task(void **state)
{
    struct fx *f = *state;
    struct scsi_lun *lun0 = scsi_lookup(&f->set, 0, 0);
    struct scsi_lun *lun3 = scsi_lookup(&f->set, 1, 3);
    struct preq p;

    f->disk->mode = FB_HOLD;
    post_read(f, &p, 0, 0xabcdef0123ull);
    run(f);
    assert_int_equal(f->disk->nheld, 1);
    assert_true(vscsi_queue_find_task(&f->q, lun0, 0xabcdef0123ull, false));
    assert_false(vscsi_queue_find_task(&f->q, lun0, 0xabcdef0124ull, false));
    assert_false(vscsi_queue_find_task(&f->q, lun3, 0xabcdef0123ull, false));
    assert_int_equal(atomic_load(&lun0->inflight), 1);

    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(take_used(f, p.head), RESP_LEN + BS);
    assert_false(vscsi_queue_find_task(&f->q, lun0, 0xabcdef0123ull, false));
    assert_int_equal(atomic_load(&lun0->inflight), 0);

    /* A request that failed before reaching the SCSI layer was never findable. */
    const uint8_t tur[6] = { 0 };
    const uint8_t no_target[8] = { 1, 9, 0x40, 0, 0, 0, 0, 0 };
    struct virtio_scsi_cmd_resp resp;
    do_cmd(f, no_target, tur, 6, NULL, 0, 0, &resp, NULL);
    for (unsigned i = 0; i < f->q.nreqs; i++)
        assert_false(atomic_load(&f->q.reqs[i].state) & VSCSI_SLOT_ACTIVE);
}

/* A queue that does not accept (its worker drains for a pause) takes nothing. */
static void test_not_accepting(void **state)
{
    struct fx *f = *state;
    struct preq p;

    post_read(f, &p, 0, 1);
    vscsi_queue_set_accepting(&f->q, false);
    run(f);
    assert_false(vscsi_queue_poll(&f->q));
    assert_int_equal(rh_used_pending(&f->r), 0);
    assert_int_equal(f->q.inflight, 0);
    vscsi_queue_set_accepting(&f->q, true);
    run(f);
    assert_int_equal(take_used(f, p.head), RESP_LEN + BS);
}

struct republish {
    struct fx *f;
    uint16_t head;
    unsigned n;
};

/* The guest offers the same request again the moment one completes. */
static void republish_head(void *arg)
{
    struct republish *rp = arg;

    rp->n++;
    rh_publish(&rp->f->r, rp->head);
}

/*
 * A guest that refills the ring as fast as inline completions empty it: one
 * call takes at most VSCSI_TAKE_BUDGET requests, and says there is more.
 */
static void test_take_budget(void **state)
{
    struct fx *f = *state;
    struct republish rp = { .f = f };
    struct preq p;

    post_read(f, &p, 0, 1);
    rp.head = (uint16_t)p.head;
    f->disk->on_complete = republish_head;
    f->disk->on_complete_arg = &rp;
    vscsi_queue_process(&f->q);
    assert_int_equal(rp.n, VSCSI_TAKE_BUDGET);
    assert_true(f->q.more);
    vscsi_queue_process(&f->q);
    assert_int_equal(rp.n, 2 * VSCSI_TAKE_BUDGET);
    assert_true(f->q.more);
    /* The guest stops: the next call finds the one left and ends with more cleared. */
    f->disk->on_complete = NULL;
    vscsi_queue_process(&f->q);
    assert_false(f->q.more);
    assert_int_equal(f->q.inflight, 0);
}

/*
 * A task a TMF marked is told to abort (its I/O cancelled) and answers
 * ABORTED, without data; the TMF's count reaches zero only after that.
 */
static void test_abort_marked_task(void **state)
{
    struct fx *f = *state;
    struct vscsi_tmf_set tmfs = { .notify_fd = -1 };
    struct scsi_lun *lun0 = scsi_lookup(&f->set, 0, 0);
    struct virtio_scsi_cmd_resp resp;
    struct preq p;

    f->q.tmfs = &tmfs;
    f->disk->mode = FB_HOLD;
    post_read(f, &p, 0, 7);
    run(f);
    atomic_store(&tmfs.tmf[3].remaining, 1);
    assert_int_equal(vscsi_queue_mark_tasks(&f->q, lun0, 8, false, 3, &tmfs.tmf[3]), 0);
    assert_int_equal(vscsi_queue_mark_tasks(&f->q, lun0, 7, false, 3, &tmfs.tmf[3]), 1);
    assert_int_equal(atomic_load(&tmfs.tmf[3].remaining), 2);
    /* Marking again is harmless: the same bit, and it is not counted twice. */
    vscsi_queue_abort_marked(&f->q);
    vscsi_queue_abort_marked(&f->q);
    assert_int_equal(f->disk->cancelled, 1);
    assert_true(fb_complete_held(f->disk));
    vscsi_queue_flush(&f->q);
    assert_int_equal(take_used(f, p.head), RESP_LEN);
    read_resp(f, &p, &resp);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_ABORTED);
    assert_int_equal(resp.status, 0);
    assert_int_equal(atomic_load(&tmfs.tmf[3].remaining), 1);
    /* A completed task cannot be marked any more. */
    assert_int_equal(vscsi_queue_mark_tasks(&f->q, NULL, 0, true, 4, &tmfs.tmf[4]), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_find_task),
        T(test_not_accepting),
        T(test_take_budget),
        T(test_abort_marked_task),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
