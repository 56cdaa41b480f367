/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the request-queue unit tests (test_vscsi_req.c: the data path;
 * test_vscsi_req_tmf.c: task management and scheduling): the test plays the
 * guest on a real ring, the real SCSI layer executes the commands, and a fake
 * backend stores the data.
 */
#ifndef VUS_TESTS_UNIT_VSCSI_REQ_FIXTURE_H
#define VUS_TESTS_UNIT_VSCSI_REQ_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ring_helper.h"
#include "scsi/scsi_proto.h"
#include "virtio_scsi/vscsi.h"

#define NUM       16
#define BS        512
#define DISK_SIZE (1024 * 1024)
#define REQ_LEN   sizeof(struct virtio_scsi_cmd_req)
#define RESP_LEN  sizeof(struct virtio_scsi_cmd_resp)
#define UNTOUCHED 0xee /* what writable buffers hold before the device writes */

struct fx {
    struct rh_mem m;
    struct rh_ring r;
    struct scsi_target_set set;
    struct vscsi_queue q;
    struct fake_bdev *disk;  /* target 0, LUN 0 */
    struct fake_bdev *disk3; /* target 1, LUN 3; target 1 has no LUN 0 */
};

/* A request being built: its segments, in chain order. */
struct preq {
    struct rh_seg segs[RH_MAX_SEGS];
    unsigned nsegs;
    int head;
};

static const uint8_t LUN_0_0[8] = { 1, 0, 0x40, 0, 0, 0, 0, 0 };
static const uint8_t LUN_1_3[8] = { 1, 1, 0x40, 3, 0, 0, 0, 0 };
static const uint8_t LUN_1_0[8] = { 1, 1, 0x40, 0, 0, 0, 0, 0 };

static inline struct fake_bdev *add_lun(struct fx *f, unsigned target, unsigned lun,
                                        enum fb_mode mode)
{
    struct scsi_lun_config cfg = { .target = target, .lun = lun };
    struct fake_bdev *b = fb_new(DISK_SIZE, BS, mode);
    char err[128];

    assert_non_null(b);
    assert_int_equal(scsi_lun_create(&f->set, &cfg, &b->b, err, sizeof(err)), 0);
    return b;
}

/* Forget the power-on unit attention so commands see GOOD status. */
static inline void clear_ua(struct fx *f, unsigned target, unsigned lun)
{
    atomic_store(&scsi_lookup(&f->set, target, lun)->ua_pending, 0);
}

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(rh_mem_init(&f->m, 4 << 20), 0);
    assert_int_equal(rh_ring_init(&f->r, &f->m, NUM, false, true), 0);
    f->disk = add_lun(f, 0, 0, FB_INLINE);
    f->disk3 = add_lun(f, 1, 3, FB_INLINE);
    clear_ua(f, 0, 0);
    clear_ua(f, 1, 3);
    f->q.vq = &f->r.vq;
    f->q.index = 2;
    f->q.targets = &f->set;
    assert_int_equal(vscsi_queue_alloc(&f->q, NUM), 0);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;

    vscsi_queue_free(&f->q);
    scsi_target_set_destroy(&f->set);
    rh_ring_fini(&f->r);
    rh_mem_fini(&f->m);
    free(f);
    return 0;
}

/* Append a buffer at an odd guest address: nothing may assume alignment. */
static inline void preq_add(struct fx *f, struct preq *p, const void *buf, size_t len,
                            bool writable)
{
    uint64_t gpa = rh_alloc(&f->m, len + 1, 8);

    assert_true(gpa != 0);
    assert_true(p->nsegs < RH_MAX_SEGS);
    gpa += 1;
    if (writable)
        memset(rh_host(&f->m, gpa), UNTOUCHED, len);
    else if (len)
        rh_write(&f->m, gpa, buf, len);
    p->segs[p->nsegs++] = (struct rh_seg){ .gpa = gpa, .len = (uint32_t)len, .writable = writable };
}

/* Append buf as pieces of the given sizes; the last piece takes the rest. */
static inline void preq_add_split(struct fx *f, struct preq *p, const void *buf, size_t len,
                                  bool writable, const size_t *sizes, unsigned n)
{
    size_t off = 0;

    for (unsigned i = 0; i < n && off < len; i++) {
        size_t piece = i + 1 == n || sizes[i] > len - off ? len - off : sizes[i];
        preq_add(f, p, buf ? (const uint8_t *)buf + off : NULL, piece, writable);
        off += piece;
    }
}

/* Concatenate the request's writable segments into buf. */
static inline void preq_gather(struct fx *f, const struct preq *p, void *buf, size_t len)
{
    size_t off = 0;

    for (unsigned i = 0; i < p->nsegs && off < len; i++) {
        if (!p->segs[i].writable)
            continue;
        size_t n = p->segs[i].len < len - off ? p->segs[i].len : len - off;
        rh_read(&f->m, p->segs[i].gpa, (uint8_t *)buf + off, n);
        off += n;
    }
    assert_int_equal(off, len);
}

static inline void preq_post(struct fx *f, struct preq *p, bool indirect)
{
    p->head = rh_post(&f->r, p->segs, p->nsegs, indirect);
    assert_true(p->head >= 0);
}

static inline void hdr_init(struct virtio_scsi_cmd_req *h, const uint8_t lun[8], uint64_t tag,
                            const uint8_t *cdb, size_t cdb_len)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->lun, lun, 8);
    h->tag = htole64(tag);
    memcpy(h->cdb, cdb, cdb_len);
}

/* The common layout: header, data-out, response, data-in, one descriptor each. */
static inline void preq_cmd(struct fx *f, struct preq *p, const uint8_t lun[8], uint64_t tag,
                            const uint8_t *cdb, size_t cdb_len, const void *dout, size_t dout_len,
                            size_t din_len)
{
    struct virtio_scsi_cmd_req h;

    hdr_init(&h, lun, tag, cdb, cdb_len);
    memset(p, 0, sizeof(*p));
    preq_add(f, p, &h, sizeof(h), false);
    if (dout_len)
        preq_add(f, p, dout, dout_len, false);
    preq_add(f, p, NULL, RESP_LEN, true);
    if (din_len)
        preq_add(f, p, NULL, din_len, true);
}

static inline void run(struct fx *f)
{
    vscsi_queue_process(&f->q);
    vscsi_queue_flush(&f->q);
}

/* The next used entry must be head's; returns its length. */
static inline uint32_t take_used(struct fx *f, int head)
{
    uint32_t h = 0, len = 0;

    assert_true(rh_get_used(&f->r, &h, &len));
    assert_int_equal(h, head);
    return len;
}

/* Response header of a completed request (the start of its writable part). */
static inline void read_resp(struct fx *f, const struct preq *p, struct virtio_scsi_cmd_resp *resp)
{
    preq_gather(f, p, resp, sizeof(*resp));
}

/* Data-in of a completed request: what follows the response. */
static inline void read_din(struct fx *f, const struct preq *p, void *buf, size_t len)
{
    uint8_t all[RESP_LEN + 8192];

    assert_true(len <= 8192);
    preq_gather(f, p, all, RESP_LEN + len);
    memcpy(buf, all + RESP_LEN, len);
}

/* Run one command in the common layout; returns the used length. */
static inline uint32_t do_cmd(struct fx *f, const uint8_t lun[8], const uint8_t *cdb,
                              size_t cdb_len, const void *dout, size_t dout_len, size_t din_len,
                              struct virtio_scsi_cmd_resp *resp, void *din)
{
    struct preq p;
    uint32_t len;

    preq_cmd(f, &p, lun, 0x100, cdb, cdb_len, dout, dout_len, din_len);
    preq_post(f, &p, false);
    run(f);
    len = take_used(f, p.head);
    assert_int_equal(rh_used_pending(&f->r), 0);
    read_resp(f, &p, resp);
    if (din && din_len)
        read_din(f, &p, din, din_len);
    return len;
}

static inline void cdb_rw10(uint8_t cdb[10], uint8_t op, uint32_t lba, uint16_t n)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(n >> 8);
    cdb[8] = (uint8_t)n;
}

static inline void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7);
}

static inline void post_read(struct fx *f, struct preq *p, uint32_t lba, uint64_t tag)
{
    uint8_t cdb[10];

    cdb_rw10(cdb, 0x28, lba, 1);
    preq_cmd(f, p, LUN_0_0, tag, cdb, 10, NULL, 0, BS);
    preq_post(f, p, false);
}

#endif
