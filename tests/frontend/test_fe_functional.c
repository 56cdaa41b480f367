/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VM-free functional tests: the frontend library against the real daemon.
 * One daemon for the group (two LUNs on target 0, one on target 1, two
 * worker threads); each test opens its own connection, which also exercises
 * the daemon's disconnect/accept cycle between tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_test_common.h"

static void test_negotiation(void **state)
{
    struct ctx *cx = *state;
    uint64_t f = vus_fe_features(cx->fe);

    assert_true(f & (1ull << 32)); /* VERSION_1 */
    assert_true(f & (1ull << 28)); /* INDIRECT_DESC */
    assert_true(f & (1ull << 29)); /* EVENT_IDX */
    assert_true(f & (1ull << 30)); /* PROTOCOL_FEATURES */
    assert_true(f & (1ull << VIRTIO_SCSI_F_HOTPLUG));
    assert_true(vus_fe_protocol_features(cx->fe) & (1ull << 3)); /* REPLY_ACK */
    assert_true(vus_fe_backend_queues(cx->fe) >= 4);
}

static void test_inquiry_and_vpd(void **state)
{
    struct ctx *cx = *state;
    uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 };
    struct vus_fe_cmd c;

    memset(cx->buf, 0xee, 256);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 6, cx->buf, 96, 2), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    assert_int_equal(cx->buf[0] & 0x1f, 0); /* direct-access block device */
    assert_true(cx->buf[4] + 5 >= 36);
    assert_int_equal(c.used_len, sizeof(struct virtio_scsi_cmd_resp) + 96 - c.resid);

    /* Supported VPD pages, then each of them answers with its own page code. */
    uint8_t vpd[6] = { 0x12, 1, 0, 0, 255, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, vpd, 6, cx->buf, 255, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(cx->buf[1], 0);
    unsigned npages = cx->buf[3];
    assert_true(npages >= 3);
    uint8_t pages[32];
    memcpy(pages, cx->buf + 4, npages < 32 ? npages : 32);
    for (unsigned i = 0; i < npages && i < 32; i++) {
        vpd[2] = pages[i];
        assert_int_equal(scsi_exec(cx->rq, &c, 0, vpd, 6, cx->buf2, 255, 2), 0);
        assert_int_equal(c.status, 0);
        assert_int_equal(cx->buf2[1], pages[i]);
    }
    /* A page nobody has: ILLEGAL REQUEST, INVALID FIELD IN CDB. */
    vpd[2] = 0x7e;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, vpd, 6, cx->buf2, 255, 2), 0);
    assert_int_equal(c.status, 2);
    uint8_t key, asc;
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    assert_int_equal(asc, 0x24);
}

static void test_report_luns_and_addressing(void **state)
{
    struct ctx *cx = *state;
    uint8_t cdb[12] = { 0xa0 };
    struct vus_fe_cmd c;

    put_be32(cdb + 6, 4096);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 12, cx->buf, 4096, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(get_be32(cx->buf), 16); /* two LUNs on target 0 */

    /* A LUN on another target, and a LUN nobody configured. */
    memset(&c, 0, sizeof(c));
    c.target = 1;
    c.lun = 5;
    c.cdb[0] = 0x12;
    c.cdb[4] = 36;
    struct iovec iov = { cx->buf, 36 };
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(cx->rq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    c.target = 7;
    assert_int_equal(vus_fe_cmd_exec(cx->rq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_BAD_TARGET);
}

static void test_capacity_and_mode_sense(void **state)
{
    struct ctx *cx = *state;
    uint8_t rc10[10] = { 0x25 };
    uint8_t rc16[16] = { 0x9e, 0x10 };
    uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255, 0 };
    uint8_t ms10[10] = { 0x5a, 0, 0x3f };
    struct vus_fe_cmd c;

    clear_ua(cx->rq, 0, 0);
    clear_ua(cx->rq, 0, 1);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rc10, 10, cx->buf, 8, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(get_be32(cx->buf), LUN0_BLOCKS - 1);
    assert_int_equal(get_be32(cx->buf + 4), 512);
    put_be32(rc16 + 10, 32);
    assert_int_equal(scsi_exec(cx->rq, &c, 1, rc16, 16, cx->buf, 32, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(get_be64(cx->buf), LUN1_BLOCKS - 1);
    assert_int_equal(get_be32(cx->buf + 8), 4096);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, ms6, 6, cx->buf, 255, 2), 0);
    assert_int_equal(c.status, 0);
    assert_true(cx->buf[0] >= 3);
    put_be16(ms10 + 7, 512);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, ms10, 10, cx->buf, 512, 2), 0);
    assert_int_equal(c.status, 0);
}

static void test_read_write_all_sizes(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    clear_ua(cx->rq, 0, 0);
    /* WRITE(6/10/12/16) then READ(6/10/12/16) of the same blocks. */
    static const uint8_t wops[4] = { 0x0a, 0x2a, 0xaa, 0x8a };
    static const uint8_t rops[4] = { 0x08, 0x28, 0xa8, 0x88 };
    for (unsigned k = 0; k < 4; k++) {
        uint32_t lba = 100 + k * 16, n = 8;
        fill(cx->buf, n * 512, k + 1);
        for (unsigned pass = 0; pass < 2; pass++) {
            uint8_t op = pass ? rops[k] : wops[k];
            unsigned len = op < 0x20 ? 6 : op < 0x80 ? 10 : op < 0xa0 ? 16 : 12;
            memset(cdb, 0, sizeof(cdb));
            cdb[0] = op;
            if (len == 6) {
                cdb[2] = (uint8_t)(lba >> 8);
                cdb[3] = (uint8_t)lba;
                cdb[4] = (uint8_t)n;
            } else if (len == 10) {
                put_be32(cdb + 2, lba);
                put_be16(cdb + 7, (uint16_t)n);
            } else if (len == 12) {
                put_be32(cdb + 2, lba);
                put_be32(cdb + 6, n);
            } else {
                put_be64(cdb + 2, lba);
                put_be32(cdb + 10, n);
            }
            if (pass)
                memset(cx->buf2, 0, n * 512);
            assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, len, pass ? cx->buf2 : cx->buf, n * 512,
                                       pass ? 2 : 1),
                             0);
            assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
            assert_int_equal(c.status, 0);
            assert_int_equal(c.resid, 0);
        }
        assert_memory_equal(cx->buf, cx->buf2, n * 512);
    }
}

static void test_errors_and_sense(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16], key, asc;

    clear_ua(cx->rq, 0, 0);
    /* Unknown opcode. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xd7;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, NULL, 0, 0), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 2);
    assert_true(c.sense_len >= 14);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    assert_int_equal(asc, 0x20);
    /* LBA past the end. */
    cdb_rw16(cdb, false, LUN0_BLOCKS - 1, 2);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 1024, 2), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    assert_int_equal(asc, 0x21);
    /* Write to a read-only LUN: DATA PROTECT. */
    memset(&c, 0, sizeof(c));
    clear_ua(cx->rq, 1, 5);
    c.target = 1;
    c.lun = 5;
    cdb_rw16(c.cdb, true, 0, 1);
    struct iovec iov = { cx->buf, 512 };
    c.out = &iov;
    c.out_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(cx->rq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 7);
    /* Data buffer smaller than the transfer: the transport says OVERRUN. */
    cdb_rw16(cdb, false, 0, 4);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 1024, 2), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OVERRUN);
    /* A larger buffer than needed leaves a residual. */
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, inq, 6, cx->buf, 100, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.resid, 64);
    /* REQUEST SENSE with nothing pending: NO SENSE. */
    uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, rs, 6, cx->buf, 18, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(cx->buf[2] & 0xf, 0);
}

static void test_sync_verify_unmap_write_same(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    clear_ua(cx->rq, 0, 0);
    fill(cx->buf, 64 * 512, 9);
    cdb_rw16(cdb, true, 1000, 64);
    cdb[1] = 0x08; /* FUA */
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 64 * 512, 1), 0);
    assert_int_equal(c.status, 0);
    /* SYNCHRONIZE CACHE (10) and (16). */
    memset(cdb, 0, 16);
    cdb[0] = 0x35;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 10, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
    cdb[0] = 0x91;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
    /* VERIFY(16) with BYTCHK=1: same data is good, different data a MISCOMPARE. */
    memset(cdb, 0, 16);
    cdb[0] = 0x8f;
    cdb[1] = 0x02;
    put_be64(cdb + 2, 1000);
    put_be32(cdb + 10, 8);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 8 * 512, 1), 0);
    assert_int_equal(c.status, 0);
    cx->buf[100] ^= 0xff;
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 8 * 512, 1), 0);
    assert_int_equal(c.status, 2);
    uint8_t key, asc;
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 0xe);
    /* UNMAP blocks 1000..1015; they read back as zeros. */
    uint8_t *param = cx->buf2;
    memset(param, 0, 24);
    put_be16(param, 22);
    put_be16(param + 2, 16);
    put_be64(param + 8, 1000);
    put_be32(param + 16, 16);
    memset(cdb, 0, 16);
    cdb[0] = 0x42;
    put_be16(cdb + 7, 24);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 10, param, 24, 1), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 1000, 16);
    memset(cx->buf, 0x5a, 16 * 512);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 16 * 512, 2), 0);
    assert_int_equal(c.status, 0);
    for (unsigned i = 0; i < 16 * 512; i++)
        assert_int_equal(cx->buf[i], 0);
    /* WRITE SAME(16) of one pattern block over 8 blocks. */
    fill(cx->buf2, 512, 3);
    memset(cdb, 0, 16);
    cdb[0] = 0x93;
    put_be64(cdb + 2, 2000);
    put_be32(cdb + 10, 8);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf2, 512, 1), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 2000, 8);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 8 * 512, 2), 0);
    for (unsigned b = 0; b < 8; b++)
        assert_memory_equal(cx->buf + b * 512, cx->buf2, 512);
    /* START STOP UNIT is accepted. */
    uint8_t ssu[6] = { 0x1b, 0, 0, 0, 1, 0 };
    assert_int_equal(scsi_exec(cx->rq, &c, 0, ssu, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
}

static void test_report_opcodes(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[12] = { 0xa3, 0x0c };

    put_be32(cdb + 6, 4096);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 12, cx->buf, 4096, 2), 0);
    assert_int_equal(c.status, 0);
    uint32_t len = get_be32(cx->buf);
    assert_true(len >= 8 * 20);
    assert_int_equal(len % 8, 0);
}

/* Descriptor layouts: indirect, header split into pieces, data in many pieces. */
static void test_layouts(void **state)
{
    struct ctx *cx = *state;
    static const unsigned layouts[][2] = {
        { 0, 0 },
        { VUS_FE_CMD_INDIRECT, 0 },
        { VUS_FE_CMD_SPLIT_HDR, 7 },
        { VUS_FE_CMD_SPLIT_HDR | VUS_FE_CMD_INDIRECT, 5 },
        { VUS_FE_CMD_SPLIT_HDR, 51 },
    };
    struct iovec iov[8];
    struct vus_fe_cmd c;

    clear_ua(cx->rq, 0, 0);
    for (unsigned k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
        fill(cx->buf, 8 * 512, 20 + k);
        /* 8 pieces of odd sizes summing to 4096 bytes. */
        size_t off = 0;
        for (unsigned i = 0; i < 8; i++) {
            size_t l = i < 7 ? 300 + i * 17 : 4096 - off;
            iov[i] = (struct iovec){ cx->buf + off, l };
            off += l;
        }
        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, true, 3000 + k * 8, 8);
        c.out = iov;
        c.out_cnt = 8;
        c.flags = layouts[k][0];
        c.hdr_piece = layouts[k][1];
        assert_int_equal(vus_fe_cmd_exec(cx->rq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c.status, 0);
        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, false, 3000 + k * 8, 8);
        memset(cx->buf2, 0, 4096);
        for (unsigned i = 0; i < 8; i++)
            iov[i].iov_base = cx->buf2 + ((uint8_t *)iov[i].iov_base - cx->buf);
        c.in = iov;
        c.in_cnt = 8;
        c.flags = layouts[k][0];
        c.hdr_piece = layouts[k][1];
        assert_int_equal(vus_fe_cmd_exec(cx->rq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.status, 0);
        assert_int_equal(c.used_len, 108 + 4096);
        assert_memory_equal(cx->buf, cx->buf2, 4096);
    }
}

/* Queue depth up to the ring size on two request queues, interleaved. */
static void test_multiqueue_qd(void **state)
{
    struct ctx *cx = *state;
    enum { QD = 64, BS = 4096 };
    static struct vus_fe_cmd cmds[2][QD];
    static struct iovec iovs[2][QD];
    uint8_t *data = vus_fe_alloc(cx->fe, 2 * QD * BS, 4096);

    assert_non_null(data);
    clear_ua(cx->rq, 0, 0);
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned q = 0; q < 2; q++) {
            struct vus_fe_vq *vq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_REQUEST + q);
            for (unsigned i = 0; i < QD; i++) {
                struct vus_fe_cmd *c = &cmds[q][i];
                uint8_t *p = data + (q * QD + i) * BS;
                memset(c, 0, sizeof(*c));
                if (pass == 0)
                    fill(p, BS, q * QD + i);
                else
                    memset(p, 0, BS);
                cdb_rw16(c->cdb, pass == 0, 8192 + (q * QD + i) * 8, 8);
                iovs[q][i] = (struct iovec){ p, BS };
                if (pass == 0) {
                    c->out = &iovs[q][i];
                    c->out_cnt = 1;
                } else {
                    c->in = &iovs[q][i];
                    c->in_cnt = 1;
                }
                c->tag = i;
                c->flags = i % 2 ? VUS_FE_CMD_INDIRECT : 0;
                assert_int_equal(vus_fe_cmd_submit(vq, c), 0);
                if (i % 16 == 15)
                    vus_fe_vq_kick(vq);
            }
        }
        for (unsigned q = 0; q < 2; q++) {
            struct vus_fe_vq *vq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_REQUEST + q);
            unsigned done = 0;
            while (done < QD) {
                assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
                struct vus_fe_cmd *c;
                while ((c = vus_fe_cmd_reap(vq))) {
                    assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
                    assert_int_equal(c->status, 0);
                    done++;
                }
            }
            assert_int_equal(vus_fe_vq_inflight(vq), 0);
            assert_int_equal(vus_fe_vq_free_descs(vq), vus_fe_vq_size(vq));
        }
    }
    for (unsigned i = 0; i < 2 * QD; i++) {
        uint8_t expect[BS];
        fill(expect, BS, i);
        assert_memory_equal(data + i * BS, expect, BS);
    }
}

/* VERIFY(10/12), WRITE SAME(10), GET LBA STATUS: the rest of the SBC paths. */
static void test_remaining_sbc_commands(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    clear_ua(cx->rq, 0, 0);
    fill(cx->buf, 4 * 512, 61);
    cdb_rw16(cdb, true, 5000, 4);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 4 * 512, 1), 0);
    assert_int_equal(c.status, 0);
    /* VERIFY(10) medium only, then VERIFY(12) comparing the data. */
    memset(cdb, 0, 16);
    cdb[0] = 0x2f;
    put_be32(cdb + 2, 5000);
    put_be16(cdb + 7, 4);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 10, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
    memset(cdb, 0, 16);
    cdb[0] = 0xaf;
    cdb[1] = 0x02;
    put_be32(cdb + 2, 5000);
    put_be32(cdb + 6, 4);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 12, cx->buf, 4 * 512, 1), 0);
    assert_int_equal(c.status, 0);
    /* WRITE SAME(10) with UNMAP: the blocks read back as zeros. */
    memset(cx->buf2, 0, 512);
    memset(cdb, 0, 16);
    cdb[0] = 0x41;
    cdb[1] = 0x08;
    put_be32(cdb + 2, 5000);
    put_be16(cdb + 7, 4);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 10, cx->buf2, 512, 1), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 5000, 4);
    memset(cx->buf, 0x77, 4 * 512);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 4 * 512, 2), 0);
    for (unsigned i = 0; i < 4 * 512; i++)
        assert_int_equal(cx->buf[i], 0);
    /* GET LBA STATUS answers with at least one descriptor starting at the LBA asked. */
    memset(cdb, 0, 16);
    cdb[0] = 0x9e;
    cdb[1] = 0x12;
    put_be64(cdb + 2, 5000);
    put_be32(cdb + 10, 64);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 16, cx->buf, 64, 2), 0);
    assert_int_equal(c.status, 0);
    assert_true(get_be32(cx->buf) >= 4 + 16);
    assert_int_equal(get_be64(cx->buf + 8), 5000);
}

/*
 * Every command the daemon reports in REPORT SUPPORTED OPERATION CODES is
 * exercised by a frontend test (these, and test_fe_sbc_spc.c for MODE
 * SELECT and the issue-12 SBC commands): a new command without one fails here.
 */
static void test_every_reported_command_is_covered(void **state)
{
    static const uint16_t covered[][2] = {
        { 0x00, 0 },
        { 0x03, 0 },
        /* test_fe_sbc_spc.c: MODE SELECT(6/10), WRITE AND VERIFY(10/12/16), PRE-FETCH(10/16),
           READ DEFECT DATA(10/12), COMPARE AND WRITE, ORWRITE(16) */
        { 0x15, 0 },
        { 0x55, 0 },
        { 0x2e, 0 },
        { 0xae, 0 },
        { 0x8e, 0 },
        { 0x34, 0 },
        { 0x90, 0 },
        { 0x37, 0 },
        { 0xb7, 0 },
        { 0x89, 0 },
        { 0x8b, 0 },
        /* test_fe_mgmt_pr.c: PERSISTENT RESERVE IN/OUT, RESERVE/RELEASE(6/10) */
        { 0x5e, 0 },
        { 0x5f, 0 },
        { 0x16, 0 },
        { 0x17, 0 },
        { 0x56, 0 },
        { 0x57, 0 },
        /* test_fe_lunopts.c: PREVENT ALLOW MEDIUM REMOVAL, SANITIZE */
        { 0x1e, 0 },
        { 0x48, 0x01 | 0x100 },
        { 0x48, 0x02 | 0x100 },
        { 0x48, 0x1f | 0x100 },
        /* test_fe_xcopy.c: WRITE ATOMIC(16), EXTENDED COPY(LID1), RECEIVE COPY RESULTS */
        { 0x9c, 0 },
        { 0x83, 0x00 | 0x100 },
        { 0x84, 0x00 | 0x100 },
        { 0x84, 0x03 | 0x100 },
        { 0x08, 0 },
        { 0x0a, 0 },
        { 0x12, 0 },
        { 0x1a, 0 },
        { 0x1b, 0 },
        { 0x25, 0 },
        { 0x28, 0 },
        { 0x2a, 0 },
        { 0x2f, 0 },
        { 0x35, 0 },
        { 0x41, 0 },
        { 0x42, 0 },
        { 0x5a, 0 },
        { 0x88, 0 },
        { 0x8a, 0 },
        { 0x8f, 0 },
        { 0x91, 0 },
        { 0x93, 0 },
        { 0xa0, 0 },
        { 0xa8, 0 },
        { 0xaa, 0 },
        { 0xaf, 0 },
        { 0x9e, 0x10 | 0x100 },
        { 0x9e, 0x12 | 0x100 },
        { 0xa3, 0x0c | 0x100 },
    };
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    uint8_t cdb[12] = { 0xa3, 0x0c };

    put_be32(cdb + 6, 4096);
    assert_int_equal(scsi_exec(cx->rq, &c, 0, cdb, 12, cx->buf, 4096, 2), 0);
    assert_int_equal(c.status, 0);
    uint32_t len = get_be32(cx->buf);
    assert_true(len <= 4092);
    for (uint32_t off = 4; off + 8 <= 4 + len;) {
        const uint8_t *d = cx->buf + off;
        uint16_t op = d[0], sa = (uint16_t)(d[2] << 8 | d[3]);
        bool sa_valid = d[5] & 1, found = false;
        for (unsigned i = 0; i < sizeof(covered) / sizeof(covered[0]); i++)
            found |=
                covered[i][0] == op && covered[i][1] == (sa_valid ? (uint16_t)(sa | 0x100) : 0);
        if (!found)
            fail_msg("opcode 0x%02x service action 0x%x has no frontend test", op, sa);
        off += (d[5] & 2) ? 20 : 8;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_negotiation, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inquiry_and_vpd, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_report_luns_and_addressing, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_capacity_and_mode_sense, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_read_write_all_sizes, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_sense, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_sync_verify_unmap_write_same, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_report_opcodes, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_layouts, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_multiqueue_qd, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_remaining_sbc_commands, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_every_reported_command_is_covered, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
