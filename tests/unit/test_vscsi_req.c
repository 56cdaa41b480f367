/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Request queues end to end, the data path: headers in any layout, data in
 * and out, transport errors, batching and signalling (vscsi_req_fixture.h).
 */
#include "vscsi_req_fixture.h"

static void test_unit_attention_then_tur(void **state)
{
    struct fx *f = *state;
    const uint8_t tur[6] = { 0 };
    struct virtio_scsi_cmd_resp resp;

    atomic_store(&scsi_lookup(&f->set, 0, 0)->ua_pending, SCSI_UA_POWER_ON_RESET);
    assert_int_equal(do_cmd(f, LUN_0_0, tur, 6, NULL, 0, 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_CHECK_CONDITION);
    assert_true(le32toh(resp.sense_len) >= 14);
    assert_int_equal(resp.sense[2] & 0xf, SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(resp.sense[12], SCSI_ASC_POWER_ON_RESET);

    assert_int_equal(do_cmd(f, LUN_0_0, tur, 6, NULL, 0, 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.sense_len), 0);
    assert_int_equal(le32toh(resp.resid), 0);
}

static void test_inquiry(void **state)
{
    struct fx *f = *state;
    const uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
    struct virtio_scsi_cmd_resp resp;
    uint8_t din[96];
    uint32_t len = do_cmd(f, LUN_0_0, inq, 6, NULL, 0, sizeof(din), &resp, din);
    unsigned inq_len = din[4] + 5u;

    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(din[0], 0); /* direct access block device */
    assert_true(inq_len >= 36);
    if (inq_len > sizeof(din))
        inq_len = sizeof(din);
    /* Used length counts the response header and the data-in actually written. */
    assert_int_equal(len, RESP_LEN + inq_len);
    assert_int_equal(le32toh(resp.resid), sizeof(din) - inq_len);
    assert_memory_equal(din + 8, "VUS", 3);
}

static void test_write_read_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t cdb[10], out[2 * BS], in[2 * BS];
    struct virtio_scsi_cmd_resp resp;

    fill_pattern(out, sizeof(out), 3);
    cdb_rw10(cdb, 0x2a, 2, 2);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, out, sizeof(out), 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), 0);
    assert_memory_equal(f->disk->data + 2 * BS, out, sizeof(out));
    assert_int_equal(f->disk->data[2 * BS - 1], 0);
    assert_int_equal(f->disk->data[4 * BS], 0);

    cdb_rw10(cdb, 0x28, 2, 2);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, NULL, 0, sizeof(in), &resp, in),
                     RESP_LEN + sizeof(in));
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), 0);
    assert_memory_equal(in, out, sizeof(in));

    /* The other LUN is another disk. */
    cdb_rw10(cdb, 0x28, 2, 1);
    assert_int_equal(do_cmd(f, LUN_1_3, cdb, 10, NULL, 0, BS, &resp, in), RESP_LEN + BS);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(in[0] | in[1] | in[BS - 1], 0);
}

/* The same round trip through indirect tables, headers and data in odd pieces. */
static void round_trip_split(struct fx *f, bool indirect)
{
    static const size_t out_cuts[] = { 1, 10, 17, 30, 100 }; /* 30 straddles header and data */
    static const size_t in_cuts[] = { 3, 50, 60, 1 };        /* 60 straddles response and data */
    uint8_t cdb[10], buf[REQ_LEN + BS], back[RESP_LEN + BS];
    struct virtio_scsi_cmd_req h;
    struct virtio_scsi_cmd_resp resp;
    struct preq p;

    /* WRITE(10) of one block, LBA 7: header and data are one byte stream. */
    cdb_rw10(cdb, 0x2a, 7, 1);
    hdr_init(&h, LUN_0_0, 1, cdb, 10);
    memcpy(buf, &h, REQ_LEN);
    fill_pattern(buf + REQ_LEN, BS, indirect ? 11 : 5);
    memset(&p, 0, sizeof(p));
    preq_add_split(f, &p, buf, sizeof(buf), false, out_cuts, 5);
    preq_add_split(f, &p, NULL, RESP_LEN, true, in_cuts, 3);
    assert_int_equal(p.nsegs, 8);
    preq_post(f, &p, indirect);
    run(f);
    assert_int_equal(take_used(f, p.head), RESP_LEN);
    read_resp(f, &p, &resp);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_memory_equal(f->disk->data + 7 * BS, buf + REQ_LEN, BS);

    /* READ(10) back: response first in the writable part, data right after it. */
    cdb_rw10(cdb, 0x28, 7, 1);
    hdr_init(&h, LUN_0_0, 2, cdb, 10);
    memset(&p, 0, sizeof(p));
    preq_add_split(f, &p, &h, REQ_LEN, false, out_cuts, 4);
    preq_add_split(f, &p, NULL, RESP_LEN + BS, true, in_cuts, 4);
    preq_post(f, &p, indirect);
    run(f);
    assert_int_equal(take_used(f, p.head), RESP_LEN + BS);
    preq_gather(f, &p, back, sizeof(back));
    memcpy(&resp, back, RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), 0);
    assert_memory_equal(back + RESP_LEN, buf + REQ_LEN, BS);
}

static void test_split_headers_direct(void **state)
{
    round_trip_split(*state, false);
}

static void test_split_headers_indirect(void **state)
{
    round_trip_split(*state, true);
}

static void test_resid(void **state)
{
    struct fx *f = *state;
    uint8_t cdb[10], buf[2 * BS];
    struct virtio_scsi_cmd_resp resp;

    /* READ of one block into a two-block buffer: half is left over. */
    fill_pattern(f->disk->data, BS, 9);
    cdb_rw10(cdb, 0x28, 0, 1);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, NULL, 0, sizeof(buf), &resp, buf), RESP_LEN + BS);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), BS);
    assert_memory_equal(buf, f->disk->data, BS);
    assert_int_equal(buf[BS], UNTOUCHED);

    /* WRITE of one block from a two-block buffer: the rest is not consumed. */
    cdb_rw10(cdb, 0x2a, 1, 1);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, buf, sizeof(buf), 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), BS);

    /* No data for TEST UNIT READY: the whole data-in buffer is residual. */
    const uint8_t tur[6] = { 0 };
    assert_int_equal(do_cmd(f, LUN_0_0, tur, 6, NULL, 0, 64, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(le32toh(resp.resid), 64);
}

static void test_bad_target(void **state)
{
    struct fx *f = *state;
    const uint8_t tur[6] = { 0 };
    const uint8_t no_target[8] = { 1, 9, 0x40, 0, 0, 0, 0, 0 };
    const uint8_t no_lun[8] = { 1, 0, 0x40, 5, 0, 0, 0, 0 };
    const uint8_t malformed[8] = { 2, 0, 0x40, 0, 0, 0, 0, 0 };
    const uint8_t two_level[8] = { 1, 0, 0x40, 0, 0x40, 1, 0, 0 };
    const uint8_t *bad[] = { no_target, no_lun, malformed, two_level };
    struct virtio_scsi_cmd_resp resp;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(do_cmd(f, bad[i], tur, 6, NULL, 0, 0, &resp, NULL), RESP_LEN);
        assert_int_equal(resp.response, VIRTIO_SCSI_S_BAD_TARGET);
        assert_int_equal(resp.status, 0);
        assert_int_equal(le32toh(resp.sense_len), 0);
    }
    assert_int_equal(atomic_load(&f->disk->submitted), 0);

    /* Target 1 has no LUN 0, but LUN 0 answers discovery there (SPC-4). */
    const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
    uint8_t din[36];
    do_cmd(f, LUN_1_0, inq, 6, NULL, 0, sizeof(din), &resp, din);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(din[0], 0x7f); /* qualifier 011b, type 1Fh: no unit here */
}

static void test_short_header_fails(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_cmd_req h;
    struct virtio_scsi_cmd_resp resp;
    const uint8_t tur[6] = { 0 };
    struct preq p;

    hdr_init(&h, LUN_0_0, 1, tur, 6);
    memset(&p, 0, sizeof(p));
    preq_add(f, &p, &h, REQ_LEN - 1, false);
    preq_add(f, &p, NULL, RESP_LEN, true);
    preq_post(f, &p, false);
    run(f);
    assert_int_equal(take_used(f, p.head), RESP_LEN);
    read_resp(f, &p, &resp);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_FAILURE);

    /* No readable part at all. */
    memset(&p, 0, sizeof(p));
    preq_add(f, &p, NULL, RESP_LEN, true);
    preq_post(f, &p, false);
    run(f);
    assert_int_equal(take_used(f, p.head), RESP_LEN);
    read_resp(f, &p, &resp);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_FAILURE);
}

static void test_bidirectional_fails(void **state)
{
    struct fx *f = *state;
    uint8_t cdb[10], out[BS];
    struct virtio_scsi_cmd_resp resp;

    memset(out, 0x5a, sizeof(out));
    cdb_rw10(cdb, 0x2a, 0, 1);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, out, sizeof(out), BS, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_FAILURE);
    assert_int_equal(atomic_load(&f->disk->submitted), 0);
    assert_int_equal(f->disk->data[0], 0);
}

static void test_no_room_for_response(void **state)
{
    struct fx *f = *state;
    struct virtio_scsi_cmd_req h;
    const uint8_t tur[6] = { 0 };
    uint8_t back[RESP_LEN - 1];
    struct preq p;

    hdr_init(&h, LUN_0_0, 1, tur, 6);
    memset(&p, 0, sizeof(p));
    preq_add(f, &p, &h, REQ_LEN, false);
    preq_add(f, &p, NULL, RESP_LEN - 1, true);
    preq_post(f, &p, false);
    run(f);
    assert_int_equal(take_used(f, p.head), 0);
    preq_gather(f, &p, back, sizeof(back));
    for (size_t i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], UNTOUCHED);

    /* Nothing writable at all. */
    memset(&p, 0, sizeof(p));
    preq_add(f, &p, &h, REQ_LEN, false);
    preq_post(f, &p, false);
    run(f);
    assert_int_equal(take_used(f, p.head), 0);
}

static void test_overrun(void **state)
{
    struct fx *f = *state;
    uint8_t cdb[10], buf[BS];
    struct virtio_scsi_cmd_resp resp;

    /* READ of two blocks into one block of buffer. */
    cdb_rw10(cdb, 0x28, 0, 2);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, NULL, 0, BS, &resp, buf), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OVERRUN);
    assert_int_equal(buf[0], UNTOUCHED);

    /* WRITE with a data-in buffer: wrong direction. */
    cdb_rw10(cdb, 0x2a, 0, 1);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, NULL, 0, BS, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OVERRUN);

    /* WRITE of two blocks with one block of data-out. */
    memset(buf, 0x77, sizeof(buf));
    cdb_rw10(cdb, 0x2a, 0, 2);
    assert_int_equal(do_cmd(f, LUN_0_0, cdb, 10, buf, BS, 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OVERRUN);
    assert_int_equal(atomic_load(&f->disk->submitted), 0);
    assert_int_equal(f->disk->data[0], 0);
}

static void assert_tur_works(struct fx *f)
{
    const uint8_t tur[6] = { 0 };
    struct virtio_scsi_cmd_resp resp;

    assert_int_equal(do_cmd(f, LUN_0_0, tur, 6, NULL, 0, 0, &resp, NULL), RESP_LEN);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
}

static void test_malformed_chain(void **state)
{
    struct fx *f = *state;
    uint64_t resp_gpa = rh_alloc(&f->m, RESP_LEN, 8);
    uint64_t hdr_gpa = rh_alloc(&f->m, REQ_LEN, 8);
    uint16_t ids[2] = { 0, 0 };

    /* A readable buffer outside guest memory. */
    assert_true(rh_reserve_chain(&f->r, 2, ids));
    rh_set_desc(f->r.desc, ids[0], f->m.size, REQ_LEN, VRING_DESC_F_NEXT, ids[1]);
    rh_set_desc(f->r.desc, ids[1], resp_gpa, RESP_LEN, VRING_DESC_F_WRITE, 0);
    rh_publish(&f->r, ids[0]);
    run(f);
    assert_int_equal(take_used(f, ids[0]), 0);
    assert_int_equal(f->q.inflight, 0);
    assert_false(f->r.vq.broken);
    assert_tur_works(f);

    /* A readable buffer after a writable one. */
    assert_true(rh_reserve_chain(&f->r, 2, ids));
    rh_set_desc(f->r.desc, ids[0], resp_gpa, RESP_LEN, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                ids[1]);
    rh_set_desc(f->r.desc, ids[1], hdr_gpa, REQ_LEN, 0, 0);
    rh_publish(&f->r, ids[0]);
    run(f);
    assert_int_equal(take_used(f, ids[0]), 0);
    assert_tur_works(f);
}

/* Post a one-block READ(10) of lba in the common layout. */

static void test_starvation_and_flush(void **state)
{
    struct fx *f = *state;
    struct preq p[4];
    uint8_t buf[BS];

    /* Two slots for four requests; the backend completes when told to. */
    vscsi_queue_free(&f->q);
    assert_int_equal(vscsi_queue_alloc(&f->q, 2), 0);
    f->disk->mode = FB_HOLD;
    for (unsigned i = 0; i < 4; i++) {
        memset(f->disk->data + i * BS, 0x10 + i, BS);
        post_read(f, &p[i], i, i);
    }
    run(f);
    assert_int_equal(f->q.inflight, 2);
    assert_true(f->q.starved);
    assert_int_equal(f->disk->nheld, 2);
    assert_int_equal(rh_used_pending(&f->r), 0);
    assert_int_equal(rh_calls(&f->r), 0);

    /* One completion: its slot takes the third request at the end of the batch. */
    assert_true(fb_complete_held(f->disk));
    assert_int_equal(rh_used_pending(&f->r), 1);
    vscsi_queue_flush(&f->q);
    assert_int_equal(rh_calls(&f->r), 1);
    assert_int_equal(f->disk->nheld, 2);
    assert_int_equal(f->q.inflight, 2);
    assert_int_equal(take_used(f, p[0].head), RESP_LEN + BS);

    /* The rest, in order; nothing is lost or answered twice. */
    for (unsigned i = 1; i < 4; i++) {
        assert_true(fb_complete_held(f->disk));
        vscsi_queue_flush(&f->q);
        assert_int_equal(rh_calls(&f->r), 1);
        assert_int_equal(take_used(f, p[i].head), RESP_LEN + BS);
        read_din(f, &p[i], buf, BS);
        assert_int_equal(buf[0], 0x10 + i);
        assert_int_equal(buf[BS - 1], 0x10 + i);
    }
    assert_false(fb_complete_held(f->disk));
    assert_int_equal(f->q.inflight, 0);
    assert_false(f->q.starved);
    assert_int_equal(rh_used_pending(&f->r), 0);

    /* The queue keeps working with its two slots. */
    f->disk->mode = FB_INLINE;
    assert_tur_works(f);
}

static void test_one_call_per_batch(void **state)
{
    struct fx *f = *state;
    const uint8_t tur[6] = { 0 };
    struct preq p[3];

    for (unsigned i = 0; i < 3; i++) {
        preq_cmd(f, &p[i], LUN_0_0, i, tur, 6, NULL, 0, 0);
        preq_post(f, &p[i], false);
    }
    run(f);
    assert_int_equal(rh_used_pending(&f->r), 3);
    assert_int_equal(rh_calls(&f->r), 1);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(take_used(f, p[i].head), RESP_LEN);

    /* Nothing new: no interrupt. */
    run(f);
    assert_int_equal(rh_calls(&f->r), 0);

    /* The guest asked for no interrupts. */
    f->r.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
    preq_cmd(f, &p[0], LUN_0_0, 9, tur, 6, NULL, 0, 0);
    preq_post(f, &p[0], false);
    run(f);
    assert_int_equal(take_used(f, p[0].head), RESP_LEN);
    assert_int_equal(rh_calls(&f->r), 0);
}

/* Replace the fixture's ring and slots by bigger ones. */
static void regrow(struct fx *f, uint16_t num, bool event_idx)
{
    vscsi_queue_free(&f->q);
    rh_ring_fini(&f->r);
    assert_int_equal(rh_ring_init(&f->r, &f->m, num, event_idx, true), 0);
    f->q.vq = &f->r.vq;
    assert_int_equal(vscsi_queue_alloc(&f->q, num), 0);
}

/*
 * A long batch of inline completions is signalled as it goes, every
 * VSCSI_SIGNAL_BATCH requests, not only at its end: the guest can reap the
 * first ones while the rest are still being copied.
 */
static void test_long_batch_signalled_as_it_goes(void **state)
{
    enum { N = 2 * VSCSI_SIGNAL_BATCH + 3 };
    struct fx *f = *state;
    const uint8_t tur[6] = { 0 };
    static struct preq p[N];

    regrow(f, 128, false);
    for (unsigned i = 0; i < N; i++) {
        preq_cmd(f, &p[i], LUN_0_0, i, tur, 6, NULL, 0, 0);
        preq_post(f, &p[i], false);
    }
    vscsi_queue_process(&f->q);
    assert_int_equal(rh_used_pending(&f->r), N);
    assert_int_equal(rh_calls(&f->r), 2);
    vscsi_queue_flush(&f->q);
    assert_int_equal(rh_calls(&f->r), 1);
    vscsi_queue_flush(&f->q);
    assert_int_equal(rh_calls(&f->r), 0);
}

/*
 * Polling takes requests with kicks left off (both notification styles);
 * vscsi_queue_process, before the worker sleeps, turns them back on.
 */
static void test_poll_keeps_kicks_off(void **state)
{
    struct fx *f = *state;
    const uint8_t tur[6] = { 0 };
    struct preq p;

    for (int event_idx = 0; event_idx < 2; event_idx++) {
        regrow(f, 16, event_idx);
        vscsi_queue_process(&f->q);
        assert_false(vscsi_queue_poll(&f->q));
        for (unsigned i = 0; i < 3; i++) {
            preq_cmd(f, &p, LUN_0_0, i, tur, 6, NULL, 0, 0);
            preq_post(f, &p, false);
            assert_true(vscsi_queue_poll(&f->q));
            assert_int_equal(take_used(f, p.head), RESP_LEN);
            if (event_idx)
                assert_int_equal(le16toh(*vring_avail_event(f->r.used, 16)), 0);
            else
                assert_int_equal(le16toh(f->r.used->flags), VRING_USED_F_NO_NOTIFY);
        }
        assert_false(vscsi_queue_poll(&f->q));
        vscsi_queue_process(&f->q);
        if (event_idx)
            assert_int_equal(le16toh(*vring_avail_event(f->r.used, 16)), 3);
        else
            assert_int_equal(le16toh(f->r.used->flags), 0);
    }
}

/*
 * A batch of reads: each one's data is asked for (bdev_prefetch) before the
 * request ahead of it runs, and they still run in ring order.  A write asks
 * for nothing.
 */
static void test_reads_hinted_one_ahead(void **state)
{
    struct fx *f = *state;
    struct preq p[4];
    uint8_t cdb[10], out[BS];

    for (unsigned i = 0; i < 3; i++)
        post_read(f, &p[i], 10 + i, i + 1);
    fill_pattern(out, sizeof(out), 1);
    cdb_rw10(cdb, 0x2a, 20, 1);
    preq_cmd(f, &p[3], LUN_0_0, 4, cdb, 10, out, sizeof(out), 0);
    preq_post(f, &p[3], false);
    run(f);
    for (unsigned i = 0; i < 4; i++)
        take_used(f, p[i].head);

    const uint64_t want[] = { FB_HINT | 10 * BS, FB_HINT | 11 * BS, 10 * BS, FB_HINT | 12 * BS,
                              11 * BS,           12 * BS,           20 * BS };
    assert_int_equal(f->disk->nevents, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_true(f->disk->events[i] == want[i]);
}

/* A read taken just before a corrupt ring entry still runs and is answered. */
static void test_read_before_corrupt_entry_runs(void **state)
{
    struct fx *f = *state;
    struct preq p;
    struct virtio_scsi_cmd_resp resp;

    post_read(f, &p, 5, 1);
    rh_publish(&f->r, NUM); /* a head past the ring */
    run(f);
    assert_true(f->r.vq.broken);
    assert_int_equal(take_used(f, p.head), RESP_LEN + BS);
    read_resp(f, &p, &resp);
    assert_int_equal(resp.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(resp.status, SCSI_STATUS_GOOD);
    assert_int_equal(f->q.inflight, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_unit_attention_then_tur),
        T(test_inquiry),
        T(test_write_read_round_trip),
        T(test_split_headers_direct),
        T(test_split_headers_indirect),
        T(test_resid),
        T(test_bad_target),
        T(test_short_header_fails),
        T(test_bidirectional_fails),
        T(test_no_room_for_response),
        T(test_overrun),
        T(test_malformed_chain),
        T(test_reads_hinted_one_ahead),
        T(test_read_before_corrupt_entry_runs),
        T(test_starvation_and_flush),
        T(test_one_call_per_batch),
        T(test_long_batch_signalled_as_it_goes),
        T(test_poll_keeps_kicks_off),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
