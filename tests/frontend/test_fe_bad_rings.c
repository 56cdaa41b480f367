/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Malicious frontend, ring level: broken descriptor chains, addresses and
 * lengths, headers in pieces, nested indirect tables, avail index jumps.
 * A bad chain must come back on the used ring with length 0 and nothing
 * written; a corrupt ring stops only itself; another queue of the same
 * connection, a second controller (the bystander) and the next connection
 * keep working.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_bystander.h"
#include "virtq/virtio_ring.h"

#define QSIZE 256

static int test_setup(void **state)
{
    return abuse_test_setup(state, QSIZE);
}

/* A good READ on vq: the queue still serves. */
static void queue_serves(struct vus_fe_vq *vq, uint8_t *buf)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, false, 10, 2);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, buf, 1024, 2), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.used_len, 108 + 1024);
}

/* Valid virtio-scsi READ(16) header in head's slot; returns the slot's gpas. */
static void prepare_slot(struct abuse_ctx *cx, uint16_t head, uint64_t *req_gpa, uint64_t *resp_gpa,
                         uint8_t **resp)
{
    uint8_t *slot = vus_fe_vq_hdr_slot(cx->vq, head, NULL);
    struct virtio_scsi_cmd_req *req = (void *)slot;

    memset(req, 0, sizeof(*req));
    vus_fe_lun_encode(req->lun, 0, 0);
    cdb_rw16(req->cdb, false, 0, 1);
    *resp = slot + 64;
    memset(*resp, 0xff, 108);
    assert_int_equal(vus_fe_gpa(cx->fe, slot, 51, req_gpa), 0);
    assert_int_equal(vus_fe_gpa(cx->fe, *resp, 108, resp_gpa), 0);
}

/* Publish a raw chain, expect it back with length 0 and an untouched response. */
static void expect_rejected(struct abuse_ctx *cx, uint16_t head, const uint16_t *ids, unsigned n,
                            const uint8_t *resp)
{
    void *cookie = NULL;
    uint32_t len = 1234;

    assert_int_equal(vus_fe_vq_publish_raw(cx->vq, head, ids, n, (void *)cx), 0);
    vus_fe_vq_kick(cx->vq);
    assert_int_equal(vus_fe_vq_wait(cx->vq, T_TIMEOUT), 1);
    assert_int_equal(vus_fe_vq_reap(cx->vq, &cookie, &len), 1);
    assert_ptr_equal(cookie, cx);
    assert_int_equal(len, 0);
    for (unsigned i = 0; i < 108; i++)
        assert_int_equal(resp[i], 0xff);
    queue_serves(cx->vq, cx->data);
}

static void test_descriptor_loops(void **state)
{
    struct abuse_ctx *cx = *state;
    uint64_t rq, rs, dg;
    uint8_t *resp;
    uint16_t ids[3];

    assert_int_equal(vus_fe_gpa(cx->fe, cx->data, 512, &dg), 0);
    /* req -> resp -> data -> back to req. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 3, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[1]);
    vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, ids[2]);
    vus_fe_vq_write_desc(cx->vq, ids[2], dg, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, ids[0]);
    expect_rejected(cx, ids[0], ids, 3, resp);
    /* A descriptor that is its own next. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 1, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[0]);
    expect_rejected(cx, ids[0], ids, 1, resp);
    /* next beyond the table. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 1, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, QSIZE + 7);
    expect_rejected(cx, ids[0], ids, 1, resp);
    abuse_done(cx);
}

static void test_addresses_outside_memory(void **state)
{
    struct abuse_ctx *cx = *state;
    static const uint64_t bad[] = { 0, 0x1000, 0xfffffffffffff000ull, 1ull << 52 };
    uint64_t rq, rs;
    uint8_t *resp;
    uint16_t ids[3];
    void *r0;
    uint64_t g0, g1;
    size_t s0;

    assert_int_equal(vus_fe_region(cx->fe, 0, &r0, &g0, &s0), 0);
    assert_int_equal(vus_fe_region(cx->fe, 1, NULL, &g1, NULL), 0);
    for (unsigned k = 0; k < 6; k++) {
        /* The gap between the two regions, and the byte after the first. */
        uint64_t addr = k < 4 ? bad[k] : k == 4 ? g0 + s0 + 0x1000 : g0 + s0;
        assert_int_equal(vus_fe_vq_take_ids(cx->vq, 3, ids), 0);
        prepare_slot(cx, ids[0], &rq, &rs, &resp);
        vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[1]);
        vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
                             ids[2]);
        vus_fe_vq_write_desc(cx->vq, ids[2], addr, 512, VRING_DESC_F_WRITE, 0);
        expect_rejected(cx, ids[0], ids, 3, resp);
    }
    (void)g1;
    /* A header whose own address is outside memory. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 2, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], 0xdead0000ull, 51, VRING_DESC_F_NEXT, ids[1]);
    vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_WRITE, 0);
    expect_rejected(cx, ids[0], ids, 2, resp);
    abuse_done(cx);
}

static void test_lengths_that_overflow(void **state)
{
    struct abuse_ctx *cx = *state;
    uint64_t rq, rs, dg;
    uint8_t *resp;
    uint16_t ids[4];
    void *r1;
    uint64_t g1;
    size_t s1;

    assert_int_equal(vus_fe_region(cx->fe, 1, &r1, &g1, &s1), 0);
    assert_int_equal(vus_fe_gpa(cx->fe, cx->data, 512, &dg), 0);
    /* Start inside, run far past the end; wrap around 2^64; sum over 4 GiB. */
    const uint64_t addrs[3] = { g1 + s1 - 16, 0xfffffffffffffff0ull, dg };
    for (unsigned k = 0; k < 3; k++) {
        unsigned n = k == 2 ? 4 : 3;
        assert_int_equal(vus_fe_vq_take_ids(cx->vq, n, ids), 0);
        prepare_slot(cx, ids[0], &rq, &rs, &resp);
        vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[1]);
        vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
                             ids[2]);
        vus_fe_vq_write_desc(cx->vq, ids[2], addrs[k], 0xffffffffu,
                             VRING_DESC_F_WRITE | (n == 4 ? VRING_DESC_F_NEXT : 0), ids[3 % n]);
        if (n == 4)
            vus_fe_vq_write_desc(cx->vq, ids[3], dg, 0xffffffffu, VRING_DESC_F_WRITE, 0);
        expect_rejected(cx, ids[0], ids, n, resp);
    }
    abuse_done(cx);
}

/* Any layout is legal: headers in 1-byte descriptors work, directly and indirectly. */
static void test_header_split_across_descriptors(void **state)
{
    struct abuse_ctx *cx = *state;
    struct iovec iov = { cx->data, 4096 };
    struct vus_fe_cmd c;

    for (unsigned i = 0; i < 4096; i++)
        cx->data[i] = (uint8_t)(i * 3);
    static const unsigned variants[][2] = {
        { VUS_FE_CMD_SPLIT_HDR, 1 },
        { VUS_FE_CMD_SPLIT_HDR | VUS_FE_CMD_INDIRECT, 4 },
        { VUS_FE_CMD_SPLIT_HDR, 50 },
    };
    for (unsigned k = 0; k < 3; k++) {
        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, true, 64 + k * 8, 8);
        c.out = &iov;
        c.out_cnt = 1;
        c.flags = variants[k][0];
        c.hdr_piece = variants[k][1];
        assert_int_equal(vus_fe_cmd_exec(cx->vq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c.status, 0);
        struct iovec in = { cx->data + 8192, 4096 };
        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, false, 64 + k * 8, 8);
        c.in = &in;
        c.in_cnt = 1;
        c.flags = variants[k][0];
        c.hdr_piece = variants[k][1];
        assert_int_equal(vus_fe_cmd_exec(cx->vq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.status, 0);
        assert_memory_equal(cx->data, cx->data + 8192, 4096);
    }
}

static void test_indirect_abuse(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vring_desc_le *t1 = vus_fe_alloc(cx->fe, 4 * 16, 16);
    struct vring_desc_le *t2 = vus_fe_alloc(cx->fe, 4 * 16, 16);
    uint64_t rq, rs, g1, g2;
    uint8_t *resp;
    uint16_t ids[2];

    assert_int_equal(vus_fe_gpa(cx->fe, t1, 64, &g1), 0);
    assert_int_equal(vus_fe_gpa(cx->fe, t2, 64, &g2), 0);
    for (unsigned k = 0; k < 5; k++) {
        assert_int_equal(vus_fe_vq_take_ids(cx->vq, 1, ids), 0);
        prepare_slot(cx, ids[0], &rq, &rs, &resp);
        /* t2: a valid request chain. */
        t2[0] = (struct vring_desc_le){ htole64(rq), htole32(51), htole16(VRING_DESC_F_NEXT),
                                        htole16(1) };
        t2[1] = (struct vring_desc_le){ htole64(rs), htole32(108), htole16(VRING_DESC_F_WRITE), 0 };
        uint32_t tlen = 16;
        uint64_t taddr = g1;
        if (k == 0) {
            /* t1's only entry is itself indirect. */
            t1[0] = (struct vring_desc_le){ htole64(g2), htole32(32),
                                            htole16(VRING_DESC_F_INDIRECT), 0 };
        } else if (k == 1) {
            /* An indirect table pointing to itself. */
            t1[0] = (struct vring_desc_le){ htole64(g1), htole32(16),
                                            htole16(VRING_DESC_F_INDIRECT), 0 };
        } else if (k == 2) {
            taddr = g2;
            tlen = 0; /* empty table */
        } else if (k == 3) {
            taddr = g2;
            tlen = 33; /* not a whole number of entries */
        } else {
            /* A loop inside the table. */
            taddr = g2;
            tlen = 32;
            t2[1].flags = htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
            t2[1].next = htole16(0);
        }
        vus_fe_vq_write_desc(cx->vq, ids[0], taddr, tlen, VRING_DESC_F_INDIRECT, 0);
        expect_rejected(cx, ids[0], ids, 1, resp);
    }
    abuse_done(cx);
}

/* Headers too short, readable after writable, both directions. */
static void test_bad_request_shapes(void **state)
{
    struct abuse_ctx *cx = *state;
    uint64_t rq, rs, dg;
    uint8_t *resp;
    uint16_t ids[3];
    void *cookie;
    uint32_t len;

    assert_int_equal(vus_fe_gpa(cx->fe, cx->data, 512, &dg), 0);
    /* A readable descriptor after a writable one. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 3, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[1]);
    vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, ids[2]);
    vus_fe_vq_write_desc(cx->vq, ids[2], dg, 512, 0, 0);
    expect_rejected(cx, ids[0], ids, 3, resp);
    /* No room for a response: back untouched. */
    assert_int_equal(vus_fe_vq_take_ids(cx->vq, 2, ids), 0);
    prepare_slot(cx, ids[0], &rq, &rs, &resp);
    vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51, VRING_DESC_F_NEXT, ids[1]);
    vus_fe_vq_write_desc(cx->vq, ids[1], rs, 107, VRING_DESC_F_WRITE, 0);
    expect_rejected(cx, ids[0], ids, 2, resp);
    /* A request header cut short, and data in both directions: FAILURE. */
    for (unsigned k = 0; k < 2; k++) {
        unsigned n = k ? 3 : 2;
        assert_int_equal(vus_fe_vq_take_ids(cx->vq, n, ids), 0);
        prepare_slot(cx, ids[0], &rq, &rs, &resp);
        if (k == 0) {
            vus_fe_vq_write_desc(cx->vq, ids[0], rq, 50, VRING_DESC_F_NEXT, ids[1]);
            vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108 + 512, VRING_DESC_F_WRITE, 0);
        } else {
            vus_fe_vq_write_desc(cx->vq, ids[0], rq, 51 + 8, VRING_DESC_F_NEXT, ids[1]);
            vus_fe_vq_write_desc(cx->vq, ids[1], rs, 108, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                                 ids[2]);
            vus_fe_vq_write_desc(cx->vq, ids[2], dg, 512, VRING_DESC_F_WRITE, 0);
        }
        assert_int_equal(vus_fe_vq_publish_raw(cx->vq, ids[0], ids, n, NULL), 0);
        vus_fe_vq_kick(cx->vq);
        assert_int_equal(vus_fe_vq_wait(cx->vq, T_TIMEOUT), 1);
        assert_int_equal(vus_fe_vq_reap(cx->vq, &cookie, &len), 1);
        assert_int_equal(len, 108);
        assert_int_equal(resp[offsetof(struct virtio_scsi_cmd_resp, response)],
                         VIRTIO_SCSI_S_FAILURE);
    }
    queue_serves(cx->vq, cx->data);
}

/* The avail index moves by more than the ring: that ring stops, nothing else does. */
static void test_avail_index_jump(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    vus_fe_vq_avail_jump(cx->vq, QSIZE + 9);
    usleep(50000);
    queue_serves(cx->other, cx->data);
    /* The jumped ring takes nothing more. */
    cdb_rw16(cdb, false, 0, 1);
    memset(&c, 0, sizeof(c));
    memcpy(c.cdb, cdb, 16);
    assert_int_equal(vus_fe_cmd_submit(cx->vq, &c), 0);
    vus_fe_vq_kick(cx->vq);
    assert_int_equal(vus_fe_vq_wait(cx->vq, 300), 0);
    queue_serves(cx->other, cx->data);
    abuse_done(cx);
}

/* A head beyond the descriptor table. */
static void test_head_out_of_range(void **state)
{
    struct abuse_ctx *cx = *state;
    uint16_t none = 0;

    assert_int_equal(vus_fe_vq_publish_raw(cx->vq, QSIZE + 3, &none, 0, NULL), 0);
    vus_fe_vq_kick(cx->vq);
    assert_int_equal(vus_fe_vq_wait(cx->vq, 300), 0);
    queue_serves(cx->other, cx->data);
    abuse_done(cx);
}

/* The control and event queues get the same treatment. */
static void test_control_and_event_queue_abuse(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vus_fe_vq *ctl = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_CONTROL);
    struct vus_fe_vq *evq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_EVENT);
    uint8_t *req = vus_fe_alloc(cx->fe, 64, 16), *resp = req + 32;
    uint64_t g;
    uint16_t ids[2];
    void *cookie;
    uint32_t len, type;
    uint8_t r;

    assert_int_equal(vus_fe_gpa(cx->fe, req, 64, &g), 0);
    /* Unknown control type, and a TMF cut to its type field. */
    for (unsigned k = 0; k < 2; k++) {
        type = htole32(k ? VIRTIO_SCSI_T_TMF : 77);
        memcpy(req, &type, 4);
        memset(resp, 0xff, 8);
        assert_int_equal(vus_fe_vq_take_ids(ctl, 2, ids), 0);
        vus_fe_vq_write_desc(ctl, ids[0], g, k ? 4 : 24, VRING_DESC_F_NEXT, ids[1]);
        vus_fe_vq_write_desc(ctl, ids[1], g + 32, 8, VRING_DESC_F_WRITE, 0);
        assert_int_equal(vus_fe_vq_publish_raw(ctl, ids[0], ids, 2, NULL), 0);
        vus_fe_vq_kick(ctl);
        assert_int_equal(vus_fe_vq_wait(ctl, T_TIMEOUT), 1);
        assert_int_equal(vus_fe_vq_reap(ctl, &cookie, &len), 1);
        assert_int_equal(len, 0);
    }
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 0, 0, &r, T_TIMEOUT),
                     0);
    assert_int_equal(r, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* Control queue's avail index jumps: TMFs stop, I/O goes on. */
    vus_fe_vq_avail_jump(ctl, QSIZE * 2 + 1);
    vus_fe_vq_avail_jump(evq, QSIZE + 1);
    usleep(50000);
    queue_serves(cx->vq, cx->data);
    queue_serves(cx->other, cx->data);
    abuse_done(cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor_loops, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_addresses_outside_memory, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_lengths_that_overflow, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_header_split_across_descriptors, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_abuse, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_request_shapes, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_avail_index_jump, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_head_out_of_range, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_control_and_event_queue_abuse, test_setup,
                                        abuse_test_teardown),
    };
    return cmocka_run_group_tests(tests, abuse_group_setup, abuse_group_teardown);
}
