/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event queue: held buffers, delivery order, missed events, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ring_helper.h"
#include "virtio_scsi/vscsi.h"

#define NUM    128
#define EV_LEN sizeof(struct virtio_scsi_event)

struct fx {
    struct rh_mem m;
    struct rh_ring r;
    struct vscsi_eventq evq;
    uint64_t buf_gpa[NUM]; /* by head */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 1 << 20), 0);
    assert_int_equal(rh_ring_init(&f->r, &f->m, NUM, false, true), 0);
    f->evq.vq = &f->r.vq;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rh_ring_fini(&f->r);
    rh_mem_fini(&f->m);
    free(f);
    return 0;
}

/* Post one buffer of len bytes (writable or not); returns its head. */
static int post_buf(struct fx *f, uint32_t len, bool writable)
{
    uint64_t gpa = rh_alloc(&f->m, len, 4);
    struct rh_seg seg = { gpa, len, writable };
    int head;

    memset(rh_host(&f->m, gpa), 0xee, len);
    head = rh_post(&f->r, &seg, 1, false);
    assert_true(head >= 0);
    f->buf_gpa[head] = gpa;
    return head;
}

/* The next used entry must be head's with a full event; returns the event. */
static struct virtio_scsi_event take_event(struct fx *f, int head)
{
    struct virtio_scsi_event ev;
    uint32_t h = 0, len = 0;

    assert_true(rh_get_used(&f->r, &h, &len));
    assert_int_equal(h, head);
    assert_int_equal(len, EV_LEN);
    rh_read(&f->m, f->buf_gpa[head], &ev, sizeof(ev));
    return ev;
}

static void test_held_then_delivered_in_order(void **state)
{
    struct fx *f = *state;
    int heads[3];
    struct virtio_scsi_event ev;
    const uint8_t lun_2_123[8] = { 1, 2, 0x41, 0x23, 0, 0, 0, 0 };
    const uint8_t lun_0_0[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }; /* peripheral addressing */

    for (unsigned i = 0; i < 3; i++)
        heads[i] = post_buf(f, EV_LEN, true);
    vscsi_eventq_process(&f->evq);
    /* Held, not used: the guest gets them back only with an event. */
    assert_int_equal(f->evq.nheld, 3);
    assert_int_equal(rh_used_pending(&f->r), 0);
    assert_int_equal(rh_calls(&f->r), 0);

    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 2, 0x123,
                                  VIRTIO_SCSI_EVT_RESET_RESCAN));
    assert_int_equal(rh_calls(&f->r), 1);
    ev = take_event(f, heads[0]);
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_TRANSPORT_RESET);
    assert_memory_equal(ev.lun, lun_2_123, 8);
    assert_int_equal(le32toh(ev.reason), VIRTIO_SCSI_EVT_RESET_RESCAN);

    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_PARAM_CHANGE, 0, 0, 0x2a09));
    ev = take_event(f, heads[1]);
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_PARAM_CHANGE);
    assert_memory_equal(ev.lun, lun_0_0, 8);
    assert_int_equal(le32toh(ev.reason), 0x2a09);

    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0,
                                  VIRTIO_SCSI_EVT_RESET_REMOVED));
    ev = take_event(f, heads[2]);
    assert_int_equal(le32toh(ev.reason), VIRTIO_SCSI_EVT_RESET_REMOVED);
    assert_int_equal(f->evq.nheld, 0);
    assert_int_equal(rh_used_pending(&f->r), 0);
}

static void test_buffer_taken_at_post_time(void **state)
{
    struct fx *f = *state;
    int head = post_buf(f, EV_LEN + 16, true);

    /* No kick was seen: posting the event looks at the ring itself. */
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 1, 2,
                                  VIRTIO_SCSI_EVT_RESET_RESCAN));
    struct virtio_scsi_event ev = take_event(f, head);
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_TRANSPORT_RESET);
    assert_int_equal(ev.lun[1], 1);
    assert_int_equal(ev.lun[3], 2);
}

static void test_events_missed(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_event ev;
    const uint8_t zero[8] = { 0 };
    int head;

    assert_false(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 1,
                                   VIRTIO_SCSI_EVT_RESET_RESCAN));
    assert_true(f->evq.missed);
    assert_int_equal(rh_used_pending(&f->r), 0);

    /* The next buffer reports the loss at once, without a LUN. */
    head = post_buf(f, EV_LEN, true);
    vscsi_eventq_process(&f->evq);
    ev = take_event(f, head);
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED);
    assert_memory_equal(ev.lun, zero, 8);
    assert_false(f->evq.missed);
    assert_int_equal(f->evq.nheld, 0);

    /* Back to normal: the next event carries no missed flag. */
    head = post_buf(f, EV_LEN, true);
    vscsi_eventq_process(&f->evq);
    assert_int_equal(f->evq.nheld, 1);
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 1,
                                  VIRTIO_SCSI_EVT_RESET_RESCAN));
    ev = take_event(f, head);
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_TRANSPORT_RESET);

    /* Without a ring at all, events are remembered as missed too. */
    f->evq.vq = NULL;
    assert_false(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 1, 0));
    assert_true(f->evq.missed);
}

static void test_unusable_buffers(void **state)
{
    struct fx *f = *state;
    uint32_t h = 0, len = 1;
    int readable = post_buf(f, EV_LEN, false);
    int small = post_buf(f, EV_LEN - 1, true);
    uint64_t gpa_out = rh_alloc(&f->m, 4, 4), gpa_in = rh_alloc(&f->m, EV_LEN, 4);
    struct rh_seg mixed[2] = { { gpa_out, 4, false }, { gpa_in, EV_LEN, true } };
    int mixed_head = rh_post(&f->r, mixed, 2, false);
    uint16_t bad[1] = { 0 };
    int good;

    assert_true(mixed_head >= 0);
    /* Outside guest memory: a malformed chain. */
    assert_true(rh_reserve_chain(&f->r, 1, bad));
    rh_set_desc(f->r.desc, bad[0], f->m.size, EV_LEN, VRING_DESC_F_WRITE, 0);
    rh_publish(&f->r, bad[0]);
    good = post_buf(f, EV_LEN, true);

    vscsi_eventq_process(&f->evq);
    const int unusable[] = { readable, small, mixed_head, bad[0] };
    for (unsigned i = 0; i < 4; i++) {
        assert_true(rh_get_used(&f->r, &h, &len));
        assert_int_equal(h, unusable[i]);
        assert_int_equal(len, 0);
    }
    assert_true(rh_calls(&f->r) >= 1);
    assert_int_equal(rh_used_pending(&f->r), 0);
    /* Untouched, and the good one is held. */
    assert_int_equal(*(uint8_t *)rh_host(&f->m, f->buf_gpa[small]), 0xee);
    assert_int_equal(f->evq.nheld, 1);
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, 0));
    take_event(f, good);
}

static void test_stop_rewinds(void **state)
{
    struct fx *f = *state;
    int heads[3];

    for (unsigned i = 0; i < 3; i++)
        heads[i] = post_buf(f, EV_LEN, true);
    vscsi_eventq_process(&f->evq);
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, 0));
    take_event(f, heads[0]);
    assert_int_equal(f->r.vq.last_avail_idx, 3);
    assert_int_equal(f->evq.nheld, 2);

    vscsi_eventq_stop(&f->evq);
    /* The base now accounts for the two unused buffers as not taken. */
    assert_int_equal(f->r.vq.last_avail_idx, 1);
    assert_int_equal(f->evq.nheld, 0);
    assert_int_equal(rh_used_pending(&f->r), 0);

    /* Started again, the device finds the same buffers in the same order. */
    vscsi_eventq_process(&f->evq);
    assert_int_equal(f->evq.nheld, 2);
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, 0));
    take_event(f, heads[1]);
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, 0));
    take_event(f, heads[2]);
}

static void test_hold_limit(void **state)
{
    struct fx *f = *state;
    int heads[VSCSI_EVENT_BUFS + 6];

    for (unsigned i = 0; i < VSCSI_EVENT_BUFS + 6; i++)
        heads[i] = post_buf(f, EV_LEN, true);
    vscsi_eventq_process(&f->evq);
    assert_int_equal(f->evq.nheld, VSCSI_EVENT_BUFS);
    assert_int_equal(f->r.vq.last_avail_idx, VSCSI_EVENT_BUFS);

    /* The rest wait on the ring until a held one is used. */
    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0, 0));
    take_event(f, heads[0]);
    vscsi_eventq_process(&f->evq);
    assert_int_equal(f->evq.nheld, VSCSI_EVENT_BUFS);
    assert_int_equal(f->r.vq.last_avail_idx, VSCSI_EVENT_BUFS + 1);
    for (unsigned i = 1; i <= VSCSI_EVENT_BUFS; i++) {
        assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, i, 0));
        struct virtio_scsi_event ev = take_event(f, heads[i]);
        assert_int_equal(ev.lun[3], i);
    }
}

/*
 * Held buffers are mapped when an event is written, not when they were
 * taken: a descriptor the guest pointed elsewhere meanwhile (or memory that
 * moved) is followed to where it points now, and one that no longer maps is
 * given back empty while the event goes to the next buffer.
 */
static void test_held_buffers_mapped_at_delivery(void **state)
{
    struct fx *f = *state;
    int h0 = post_buf(f, EV_LEN, true);
    int h1 = post_buf(f, EV_LEN, true);
    int h2 = post_buf(f, EV_LEN, true);
    uint64_t moved = rh_alloc(&f->m, EV_LEN, 4);
    struct virtio_scsi_event ev;
    uint32_t head = 0, len = 1;

    vscsi_eventq_process(&f->evq);
    assert_int_equal(f->evq.nheld, 3);
    /* h0 now points outside guest memory; h1 somewhere new. */
    f->r.desc[h0].addr = htole64(f->m.size + 4096);
    f->r.desc[h1].addr = htole64(moved);
    memset(rh_host(&f->m, moved), 0xee, EV_LEN);

    assert_true(vscsi_eventq_post(&f->evq, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 2, 1));
    assert_true(rh_get_used(&f->r, &head, &len));
    assert_int_equal(head, h0);
    assert_int_equal(len, 0);
    assert_true(rh_get_used(&f->r, &head, &len));
    assert_int_equal(head, h1);
    assert_int_equal(len, EV_LEN);
    rh_read(&f->m, moved, &ev, sizeof(ev));
    assert_int_equal(le32toh(ev.event), VIRTIO_SCSI_T_TRANSPORT_RESET);
    assert_int_equal(ev.lun[3], 2);
    assert_int_equal(f->evq.nheld, 1);
    (void)h2;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_held_then_delivered_in_order),
        T(test_buffer_taken_at_post_time),
        T(test_events_missed),
        T(test_unusable_buffers),
        T(test_stop_rewinds),
        T(test_hold_limit),
        T(test_held_buffers_mapped_at_delivery),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
