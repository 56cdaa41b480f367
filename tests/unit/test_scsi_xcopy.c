/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: parameter list checks before
 * any data moves, copies within and between LUNs of one controller (inline
 * and deferred completions, overlapping ranges), failures, held status.
 */
#include "scsi_fake.h"

#define BS 512

static uint8_t list[1200];

/* A parameter list header: list id, LIST ID USAGE, CSCD and segment list lengths. */
static void hdr(uint8_t id, unsigned usage, unsigned tdl, unsigned sdl)
{
    memset(list, 0, 16);
    list[0] = id;
    list[1] = (uint8_t)(usage << 3);
    put_be16(&list[2], (uint16_t)tdl);
    put_be32(&list[8], sdl);
}

/* An identification CSCD descriptor naming wwn at list[off]. */
static void cscd(unsigned off, uint64_t wwn)
{
    uint8_t *d = &list[off];

    memset(d, 0, 32);
    d[0] = 0xe4;
    d[4] = 0x01; /* binary */
    d[5] = 0x03; /* NAA, logical unit */
    d[7] = 8;
    put_be64(&d[8], wwn);
    d[29] = 0;
    d[30] = BS >> 8;
    d[31] = 0;
}

/* A block-to-block segment descriptor at list[off]. */
static void seg(unsigned off, unsigned si, unsigned di, unsigned n, uint64_t src, uint64_t dst)
{
    uint8_t *d = &list[off];

    memset(d, 0, 28);
    d[0] = 0x02;
    put_be16(&d[2], 0x18);
    put_be16(&d[4], (uint16_t)si);
    put_be16(&d[6], (uint16_t)di);
    put_be16(&d[10], (uint16_t)n);
    put_be64(&d[12], src);
    put_be64(&d[20], dst);
}

static struct scsi_task *xcopy_on(struct env *e, struct scsi_lun *lun, size_t len)
{
    uint8_t cdb[16] = { 0x83 };

    put_be32(&cdb[10], (uint32_t)len);
    return run_on(e, lun, cdb, 16, len ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, len ? list : NULL, len);
}

static struct scsi_task *xcopy(struct env *e, size_t len)
{
    return xcopy_on(e, e->lun, len);
}

/* One CSCD (the LUN itself) and one segment: the common case. */
static size_t simple(struct env *e, uint8_t id, unsigned usage, unsigned n, uint64_t src,
                     uint64_t dst)
{
    hdr(id, usage, 32, 28);
    cscd(16, e->lun->wwn);
    seg(48, 0, 0, n, src, dst);
    return 76;
}

static struct scsi_task *rcr(struct env *e, uint8_t sa, uint8_t id, uint8_t *buf, size_t len)
{
    uint8_t cdb[16] = { 0x84, sa, id };

    put_be32(&cdb[10], (uint32_t)len);
    return run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, len);
}

static void fill(struct fake_bdev *f, uint64_t lba, unsigned n, uint8_t seed)
{
    for (size_t i = 0; i < (size_t)n * BS; i++)
        f->data[lba * BS + i] = (uint8_t)(seed + i * 7 + i / BS);
}

static struct scsi_lun *add_lun(struct env *e, unsigned id, struct fake_bdev *fb)
{
    struct scsi_lun_config cfg = { .target = 0, .lun = id };
    struct scsi_lun *l;
    char err[128];

    assert_int_equal(scsi_lun_create(&e->set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    l = scsi_lookup(&e->set, 0, id);
    atomic_store(&l->ua_pending, 0);
    return l;
}

static void test_op_params(void **state)
{
    struct env *e = env_new(1000, BS);
    uint8_t buf[64];
    struct scsi_task *t = rcr(e, 0x03, 0, buf, sizeof(buf));

    assert_good(t);
    assert_int_equal(t->data_len, 46);
    assert_int_equal(get_be32(buf), 42);
    assert_int_equal(get_be16(&buf[8]), SCSI_XCOPY_MAX_CSCD);
    assert_int_equal(get_be16(&buf[10]), 16);
    assert_int_equal(get_be32(&buf[12]), 1024);
    assert_int_equal(get_be32(&buf[16]), 16u << 20);
    assert_int_equal(get_be32(&buf[20]), 0); /* no inline data */
    assert_int_equal(buf[36], 8);
    assert_int_equal(buf[37], 9);
    assert_int_equal(buf[43], 2);
    assert_int_equal(buf[44], 0x02);
    assert_int_equal(buf[45], 0xe4);
    /* The list identifier is not a field of this service action. */
    assert_invalid_cdb(rcr(e, 0x03, 1, buf, sizeof(buf)));
    assert_field(e->task, true, 2, 0);
    env_free(e);
}

static void test_copy_within_lun(void **state)
{
    struct env *e = env_new(1000, BS);

    fill(e->fb, 10, 20, 1);
    e->fb->deferred = true; /* completions come later, from the "backend" */
    assert_good(xcopy(e, simple(e, 0, 2, 20, 10, 500)));
    assert_memory_equal(&e->fb->data[500 * BS], &e->fb->data[10 * BS], 20 * BS);
    assert_int_equal(e->fb->count[BDEV_IO_READ], 1);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 1);
    /* Zero blocks moves nothing and is no error; nor is an empty parameter list. */
    assert_good(xcopy(e, simple(e, 0, 2, 0, 10, 500)));
    assert_good(xcopy(e, 0));
    assert_int_equal(e->fb->calls, 2);
    env_free(e);
}

/* Overlapping towards higher LBAs over several bounce-buffer chunks: memmove semantics. */
static void test_copy_overlapping(void **state)
{
    struct env *e = env_new(8192, BS);
    uint8_t *want = malloc(4096 * BS);

    assert_non_null(want);
    fill(e->fb, 0, 4200, 3);
    memcpy(want, e->fb->data, 4096 * BS);
    assert_good(xcopy(e, simple(e, 0, 2, 4096, 0, 100)));
    assert_memory_equal(&e->fb->data[100 * BS], want, 4096 * BS);
    assert_true(e->fb->count[BDEV_IO_READ] >= 2); /* more than one chunk */
    /* And towards lower LBAs, forward. */
    memcpy(want, &e->fb->data[100 * BS], 4096 * BS);
    assert_good(xcopy(e, simple(e, 0, 2, 4096, 100, 50)));
    assert_memory_equal(&e->fb->data[50 * BS], want, 4096 * BS);
    free(want);
    env_free(e);
}

static void test_copy_between_luns(void **state)
{
    struct env *e = env_new(1000, BS);
    struct fake_bdev *f2 = fake_new(2000, BS);
    struct scsi_lun *l2 = add_lun(e, 1, f2);

    fill(e->fb, 0, 16, 9);
    fill(f2, 100, 8, 77);
    /* Two segments: LUN 0 -> LUN 1, then LUN 1 -> LUN 0; sent to LUN 1. */
    hdr(0, 3, 64, 56);
    cscd(16, e->lun->wwn);
    cscd(48, l2->wwn);
    seg(80, 0, 1, 16, 0, 1990 - 16);
    seg(108, 1, 0, 8, 100, 900);
    assert_good(xcopy_on(e, l2, 136));
    assert_memory_equal(&f2->data[(1990 - 16) * BS], e->fb->data, 16 * BS);
    assert_memory_equal(&e->fb->data[900 * BS], &f2->data[100 * BS], 8 * BS);
    /* The other LUN was counted for the copy's duration only. */
    assert_int_equal(atomic_load(&e->lun->inflight), 0);
    assert_int_equal(atomic_load(&l2->inflight), 0);
    env_free(e);
    fake_free(f2);
}

/* The header and list lengths. */
static void test_param_lengths(void **state)
{
    struct env *e = env_new(1000, BS);
    size_t len = simple(e, 1, 0, 8, 0, 100);

    assert_sense(xcopy(e, 15), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    /* Truncating the CSCD or the segment descriptor. */
    assert_sense(xcopy(e, 47), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    assert_sense(xcopy(e, len - 1), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    /* Longer than the lists. */
    assert_sense(xcopy(e, len + 4), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    /* Lists longer than MAXIMUM DESCRIPTOR LIST LENGTH. */
    hdr(1, 0, 32, 1024 - 32 + 28);
    assert_sense(xcopy(e, 16 + 1024 + 28), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    /* A segment list ending inside a descriptor header. */
    simple(e, 1, 0, 8, 0, 100);
    put_be32(&list[8], 30);
    list[76] = 0x02;
    assert_sense(xcopy(e, 78), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

/* Reserved and unsupported fields, each refused with a pointer at it. */
static void test_invalid_fields(void **state)
{
    struct env *e = env_new(1000, BS);
    static const struct {
        unsigned byte, bit;
        uint8_t val;
        int ptr_bit;
    } bad[] = {
        { 1, 7, 0x80, 7 },    /* reserved header bits */
        { 1, 3, 0x08, 4 },    /* LIST ID USAGE 01b */
        { 4, 0, 0x01, -1 },   /* reserved */
        { 12 + 3, 0, 1, -1 }, /* inline data (the pointer names its field's start) */
        { 17, 5, 0x20, 5 },   /* NUL */
        { 17, 0, 0x05, 4 },   /* not a disk */
        { 22, 0, 0x01, -1 },  /* reserved in the designation descriptor */
        { 44, 0, 0x01, 7 },   /* reserved bits before PAD */
        { 49, 0, 0x01, 2 },   /* DC/CAT reserved neighbours */
        { 56, 0, 0x01, -1 },  /* reserved segment bytes */
    };

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct scsi_task *t;
        unsigned want = bad[i].byte;

        simple(e, 1, 0, 8, 0, 100);
        if (bad[i].byte == 44)
            list[44] = 0x80;
        else if (bad[i].byte == 49)
            list[49] = 0x04;
        else
            list[bad[i].byte] |= bad[i].val;
        if (bad[i].byte == 15)
            want = 12;
        t = xcopy(e, 76);
        assert_sense(t, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
        assert_field(t, false, want, bad[i].ptr_bit);
    }
    /* LIST ID USAGE 11b takes no list identifier. */
    simple(e, 1, 3, 8, 0, 100);
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_field(e->task, false, 0, -1);
    /* DISK BLOCK LENGTH must be the LUN's. */
    simple(e, 1, 0, 8, 0, 100);
    list[46] = 0x10;
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_field(e->task, false, 45, -1);
    /* A segment DESCRIPTOR LENGTH other than 18h. */
    simple(e, 1, 0, 8, 0, 100);
    list[51] = 0x14;
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_field(e->task, false, 50, -1);
    /* More than MAXIMUM SEGMENT LENGTH. */
    simple(e, 1, 0, 0xffff, 0, 100);
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_field(e->task, false, 58, -1);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_descriptor_types_and_counts(void **state)
{
    struct env *e = env_new(1000, BS);
    unsigned off = 16;

    /* Fibre Channel N_Port_Name CSCD: not supported. */
    simple(e, 1, 0, 8, 0, 100);
    list[16] = 0xe0;
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x07);
    assert_field(e->task, false, 16, -1);
    /* Stream-to-stream segment. */
    simple(e, 1, 0, 8, 0, 100);
    list[48] = 0x03;
    assert_sense(xcopy(e, 76), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x09);
    /* One CSCD too many. */
    hdr(1, 0, 32 * (SCSI_XCOPY_MAX_CSCD + 1), 28);
    for (unsigned i = 0; i <= SCSI_XCOPY_MAX_CSCD; i++, off += 32)
        cscd(off, e->lun->wwn);
    seg(off, 0, 0, 8, 0, 100);
    assert_sense(xcopy(e, off + 28), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x06);
    /* One segment too many (the maximum is fine). */
    hdr(1, 0, 32, 28 * 16);
    cscd(16, e->lun->wwn);
    for (unsigned i = 0; i < 16; i++)
        seg(48 + 28 * i, 0, 0, 1, i, 100 + i);
    assert_good(xcopy(e, 48 + 28 * 16));
    hdr(1, 0, 32, 28 * 17);
    seg(48 + 28 * 16, 0, 0, 1, 0, 200);
    assert_sense(xcopy(e, 48 + 28 * 17), SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x08);
    env_free(e);
}

static void test_copy_aborted(void **state)
{
    struct env *e = env_new(1000, BS);

    /* A CSCD that is no LUN of this controller. */
    simple(e, 1, 0, 8, 0, 100);
    put_be64(&list[24], e->lun->wwn ^ 1);
    assert_sense(xcopy(e, 76), SCSI_SK_COPY_ABORTED, 0x0d, 0x02);
    /* A segment naming a CSCD that is not in the list. */
    simple(e, 1, 0, 8, 0, 100);
    list[55] = 1;
    assert_sense(xcopy(e, 76), SCSI_SK_COPY_ABORTED, 0x0d, 0x02);
    assert_field(e->task, false, 54, -1);
    /* Past the end of the destination, and of the source. */
    assert_sense(xcopy(e, simple(e, 1, 0, 8, 0, 993)), SCSI_SK_COPY_ABORTED, 0, 0);
    assert_field(e->task, false, 68, -1);
    assert_sense(xcopy(e, simple(e, 1, 0, 8, UINT64_MAX - 2, 0)), SCSI_SK_COPY_ABORTED, 0, 0);
    assert_field(e->task, false, 60, -1);
    assert_good(xcopy(e, simple(e, 1, 0, 8, 0, 992)));
    assert_int_equal(e->fb->calls, 2);
    /* A backend error while copying. */
    e->fb->fail_type = BDEV_IO_WRITE;
    e->fb->fail_err = -EIO;
    assert_sense(xcopy(e, simple(e, 7, 0, 8, 0, 100)), SCSI_SK_COPY_ABORTED, 0x0d, 0x01);
    env_free(e);
}

static void test_readonly_destination(void **state)
{
    struct env *e = env_new(1000, BS);

    e->fb->bdev.readonly = true;
    assert_sense(xcopy(e, simple(e, 1, 0, 8, 0, 100)), SCSI_SK_DATA_PROTECT, 0x27, 0);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_copy_status(void **state)
{
    struct env *e = env_new(1000, BS);
    uint8_t buf[32];

    /* Nothing held: the list identifier is not known. */
    assert_invalid_cdb(rcr(e, 0, 1, buf, sizeof(buf)));
    assert_field(e->task, true, 2, -1);
    assert_good(xcopy(e, simple(e, 1, 0, 8, 0, 100)));
    assert_good(rcr(e, 0, 1, buf, sizeof(buf)));
    assert_int_equal(e->task->data_len, 12);
    assert_int_equal(get_be32(buf), 8);
    assert_int_equal(buf[4], 0x01); /* completed, good */
    assert_int_equal(get_be16(&buf[5]), 1);
    assert_int_equal(buf[7], 0);
    assert_int_equal(get_be32(&buf[8]), 8 * BS);
    assert_invalid_cdb(rcr(e, 0, 2, buf, sizeof(buf)));
    /* Not held without LIST ID USAGE 00b. */
    assert_good(xcopy(e, simple(e, 2, 2, 8, 0, 100)));
    assert_invalid_cdb(rcr(e, 0, 2, buf, sizeof(buf)));
    /* A failed copy is held as such. */
    e->fb->fail_type = BDEV_IO_READ;
    e->fb->fail_err = -EIO;
    assert_sense(xcopy(e, simple(e, 3, 0, 8, 0, 100)), SCSI_SK_COPY_ABORTED, 0x0d, 0x01);
    assert_good(rcr(e, 0, 3, buf, sizeof(buf)));
    assert_int_equal(buf[4], 0x02);
    assert_int_equal(get_be16(&buf[5]), 0);
    e->fb->fail_type = -1;
    /* A new list with the same identifier drops what was held, even refused. */
    assert_good(xcopy(e, simple(e, 1, 0, 8, 0, 100)));
    simple(e, 1, 0, 8, 0, 100);
    list[55] = 5;
    assert_sense(xcopy(e, 76), SCSI_SK_COPY_ABORTED, 0x0d, 0x02);
    assert_invalid_cdb(rcr(e, 0, 1, buf, sizeof(buf)));
    /* A LUN reset drops it too. */
    assert_good(xcopy(e, simple(e, 1, 0, 8, 0, 100)));
    scsi_lun_reset(e->lun);
    atomic_store(&e->lun->ua_pending, 0);
    assert_invalid_cdb(rcr(e, 0, 1, buf, sizeof(buf)));
    env_free(e);
}

/* While a held copy runs, its status says so and its list identifier is taken. */
static void test_status_while_running(void **state)
{
    struct env *e = env_new(1000, BS);
    struct scsi_task *t = e->task, *t2 = calloc(1, sizeof(*t2));
    uint8_t cdb[16] = { 0x83 };
    struct iovec iov = { list, 76 };

    assert_non_null(t2);
    e->fb->deferred = true;
    simple(e, 4, 0, 8, 0, 100);
    memcpy(t->cdb, cdb, 16);
    put_be32(&t->cdb[10], 76);
    t->lun = e->lun;
    t->cdb_len = 16;
    t->dir = SCSI_DIR_TO_DEV;
    t->iov = &iov;
    t->iovcnt = 1;
    t->iov_len = 76;
    t->done = env_done;
    e->done = 0;
    scsi_task_execute(t);
    assert_int_equal(e->done, 0);
    assert_int_equal(atomic_load(&e->lun->xcopy_status) >> 56 & 0x7f, 0); /* running */
    /* The same identifier again: OPERATION IN PROGRESS. */
    *t2 = *t;
    scsi_task_execute(t2);
    assert_int_equal(e->done, 1);
    assert_int_equal(t2->status, SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(t2->sense[12], 0x00);
    assert_int_equal(t2->sense[13], 0x16);
    /* An abort stops it after the piece in flight; the buffer goes back to the pool. */
    scsi_task_abort(t);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    assert_int_equal(atomic_load(&e->lun->xcopy_status) >> 56 & 0x7f, 2);
    free(t2);
    e->fb->deferred = false;
    /* Every pool slot came back: more copies than slots in a row still run. */
    for (unsigned i = 0; i < 10; i++)
        assert_good(xcopy(e, simple(e, 0, 3, 1, i, 200 + i)));
    env_free(e);
}

static void test_lid4_and_bad_cdb(void **state)
{
    struct env *e = env_new(1000, BS);
    uint8_t cdb[16] = { 0x83, 0x01 };

    assert_sense(run(e, cdb, 16, SCSI_DIR_NONE, NULL, 0), SCSI_SK_ILLEGAL_REQUEST, 0x20, 0);
    cdb[1] = 0;
    cdb[5] = 1;
    assert_invalid_cdb(run(e, cdb, 16, SCSI_DIR_NONE, NULL, 0));
    assert_field(e->task, true, 5, 0);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_params),
        cmocka_unit_test(test_copy_within_lun),
        cmocka_unit_test(test_copy_overlapping),
        cmocka_unit_test(test_copy_between_luns),
        cmocka_unit_test(test_param_lengths),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_descriptor_types_and_counts),
        cmocka_unit_test(test_copy_aborted),
        cmocka_unit_test(test_readonly_destination),
        cmocka_unit_test(test_copy_status),
        cmocka_unit_test(test_status_while_running),
        cmocka_unit_test(test_lid4_and_bad_cdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
