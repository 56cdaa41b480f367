/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SANITIZE (scsi_sanitize.c): OVERWRITE parameter lists, BLOCK ERASE, EXIT
 * FAILURE MODE, unsupported actions, and the LUN while a sanitize runs.
 */
#include "scsi/scsi_unit.h"
#include "scsi_fake.h"

#define BLOCKS 600 /* more than one overwrite request (256 blocks) */

static struct scsi_task *sanitize(struct env *e, uint8_t b1, const uint8_t *param, uint16_t plen,
                                  size_t buflen)
{
    uint8_t cdb[10] = { 0x48, b1, 0, 0, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0 };
    static uint8_t buf[4100 + 16];

    if (param != NULL)
        memcpy(buf, param, buflen);
    return run(e, cdb, 10, buflen ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, buflen ? buf : NULL, buflen);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v)
            return false;
    }
    return true;
}

static void test_overwrite(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    uint8_t p[4 + 512];

    memset(e->fb->data, 'a', BLOCKS * 512);
    p[0] = 0x01; /* one pass */
    p[1] = 0;
    put_be16(&p[2], 512);
    memset(&p[4], 0xaa, 512);
    assert_good(sanitize(e, 0x01, p, sizeof(p), sizeof(p)));
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 0xaa));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 3);
    assert_int_equal(e->fb->max_iovcnt, 256);
    /* A 3-byte pattern repeats from the start of every block. */
    p[0] = 0x01;
    put_be16(&p[2], 3);
    memcpy(&p[4], "xyz", 3);
    assert_good(sanitize(e, 0x01, p, 7, 7));
    for (unsigned b = 0; b < BLOCKS; b += 97) {
        assert_memory_equal(e->fb->data + b * 512, "xyzxyz", 6);
        assert_memory_equal(e->fb->data + b * 512 + 510, "xy", 2);
    }
    /* INVERT with two passes: the second writes the inverse. */
    p[0] = 0x80 | 0x02;
    put_be16(&p[2], 4);
    memset(&p[4], 0x0f, 4);
    assert_good(sanitize(e, 0x81, p, 8, 8)); /* IMMED too */
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 0xf0));
    assert_false(atomic_load(&e->lun->unit->sanitizing));
    env_free(e);
}

static void test_overwrite_bad_lists(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    uint8_t p[4 + 512 + 8] = { 0x01, 0, 0x02, 0x00 };
    struct scsi_task *t;

    memset(e->fb->data, 'a', BLOCKS * 512);
    /* The list must hold the header and at most one block of pattern. */
    for (uint16_t len = 0; len < 5; len++) {
        t = sanitize(e, 0x01, p, len, sizeof(p));
        assert_invalid_cdb(t);
        assert_field(t, true, 7, -1);
    }
    assert_invalid_cdb(sanitize(e, 0x01, p, 512 + 5, sizeof(p)));
    /* OVERWRITE COUNT 0. */
    p[0] = 0;
    t = sanitize(e, 0x01, p, 516, 516);
    assert_sense(t, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);
    assert_field(t, false, 0, 4);
    /* TEST is vendor specific: refused. */
    p[0] = 0x21;
    assert_field(sanitize(e, 0x01, p, 516, 516), false, 0, 6);
    p[0] = 0x01;
    p[1] = 0x01;
    assert_field(sanitize(e, 0x01, p, 516, 516), false, 1, -1);
    p[1] = 0;
    /* INITIALIZATION PATTERN LENGTH 0, or more than a block. */
    put_be16(&p[2], 0);
    assert_field(sanitize(e, 0x01, p, 516, 516), false, 2, -1);
    put_be16(&p[2], 516);
    assert_field(sanitize(e, 0x01, p, 516, 516), false, 2, -1);
    /* ... or longer than the list carries. */
    put_be16(&p[2], 100);
    assert_sense(sanitize(e, 0x01, p, 50, 50), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0);
    /* Data-out shorter than the list. */
    put_be16(&p[2], 512);
    assert_true(sanitize(e, 0x01, p, 516, 100)->overrun);
    /* Nothing was written. */
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 'a'));
    env_free(e);
}

static void test_block_erase(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    uint8_t p[8] = { 0 };
    struct scsi_task *t;

    memset(e->fb->data, 'a', BLOCKS * 512);
    t = sanitize(e, 0x02, p, 8, 8);
    assert_invalid_cdb(t);
    assert_field(t, true, 7, -1);
    /* With a discard that reads back zeroes: deallocation. */
    e->fb->bdev.can_discard = true;
    e->fb->bdev.discard_zeroes = true;
    assert_good(sanitize(e, 0x02, NULL, 0, 0));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 1);
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 0));
    /* Without: write zeroes, and failing that zero blocks. */
    memset(e->fb->data, 'a', BLOCKS * 512);
    e->fb->bdev.can_discard = false;
    e->fb->bdev.can_write_zeroes = true;
    assert_good(sanitize(e, 0x82, NULL, 0, 0));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 0));
    memset(e->fb->data, 'a', BLOCKS * 512);
    e->fb->bdev.can_write_zeroes = false;
    e->fb->bdev.volatile_cache = true;
    assert_good(sanitize(e, 0x02, NULL, 0, 0));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 3);
    assert_int_equal(e->fb->count[BDEV_IO_FLUSH], 1); /* durable before GOOD */
    assert_true(all_bytes(e->fb->data, BLOCKS * 512, 0));
    env_free(e);
}

static void test_actions_refused(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    uint8_t p[8] = { 0 };
    uint8_t rsoc[12] = { 0xa3, 0x0c, 0x02, 0x48, 0, 0x03, 0, 0, 0, 64, 0, 0 };
    uint8_t buf[64];
    struct scsi_task *t;

    /* Every action but 01h, 02h and 1Fh is a bad field, CRYPTOGRAPHIC ERASE included. */
    for (uint8_t sa = 0; sa < 0x1f; sa++) {
        if (sa == 1 || sa == 2)
            continue;
        t = sanitize(e, sa, NULL, 0, 0);
        assert_invalid_cdb(t);
        assert_field(t, true, 1, 4);
    }
    /* REPORT SUPPORTED OPERATION CODES agrees. */
    assert_good(run(e, rsoc, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[1] & 0x07, 0x01);
    rsoc[5] = 0x02;
    assert_good(run(e, rsoc, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[1] & 0x07, 0x03);
    /* Reserved CDB bytes. */
    {
        uint8_t cdb[10] = { 0x48, 0x02, 0, 0, 1, 0, 0, 0, 0, 0 };

        t = run(e, cdb, 10, SCSI_DIR_NONE, NULL, 0);
        assert_invalid_cdb(t);
        assert_field(t, true, 4, 0);
    }
    /* EXIT FAILURE MODE has no parameter list. */
    assert_invalid_cdb(sanitize(e, 0x1f, p, 8, 8));
    assert_good(sanitize(e, 0x1f, NULL, 0, 0));
    /* Read-only. */
    e->fb->bdev.readonly = true;
    assert_sense(sanitize(e, 0x02, NULL, 0, 0), SCSI_SK_DATA_PROTECT, 0x27, 0);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

/* Start a command without completing the backend's deferred requests. */
static void start(struct env *e, struct scsi_task *t, const uint8_t *cdb, unsigned len)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->cdb, cdb, len);
    t->lun = e->lun;
    t->cdb_len = len;
    t->dir = SCSI_DIR_NONE;
    t->done = env_done;
    e->done = 0;
    scsi_task_execute(t);
}

static void test_in_progress(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    struct scsi_task *bg = calloc(1, sizeof(*bg));
    uint8_t erase_immed[10] = { 0x48, 0x82 }, erase[10] = { 0x48, 0x02 };
    uint8_t tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 36, 0 }, rs[6] = { 0x03, 0, 0, 0, 18, 0 };
    uint8_t buf[64];
    struct scsi_task *t;

    assert_non_null(bg);
    e->fb->deferred = true;
    e->fb->bdev.can_write_zeroes = true;
    /* IMMED: GOOD at once; the erase goes on, holding the LUN itself. */
    start(e, bg, erase_immed, 10);
    assert_int_equal(e->done, 1);
    assert_int_equal(bg->status, SCSI_STATUS_GOOD);
    assert_true(atomic_load(&e->lun->unit->sanitizing));
    assert_int_equal(atomic_load(&e->lun->inflight), 1);
    assert_int_equal(e->fb->npending, 1);
    /* Others are NOT READY, SANITIZE IN PROGRESS, with a progress indication. */
    start(e, e->task, tur, 6);
    assert_sense(e->task, SCSI_SK_NOT_READY, 0x04, 0x1b);
    assert_int_equal(e->task->sense[15], 0x80);
    start(e, e->task, erase, 10);
    assert_sense(e->task, SCSI_SK_NOT_READY, 0x04, 0x1b);
    /* ... but not INQUIRY, nor REQUEST SENSE, which reports it. */
    t = e->task;
    memset(buf, 0, sizeof(buf));
    e->iov[0] = (struct iovec){ buf, 36 };
    start(e, t, inq, 6);
    assert_int_equal(e->done, 1);
    t->iov = e->iov;
    t->iovcnt = 1;
    t->iov_len = 18;
    t->dir = SCSI_DIR_FROM_DEV;
    memcpy(t->cdb, rs, 6);
    t->cdb_len = 6;
    scsi_task_execute(t);
    assert_int_equal(t->status, SCSI_STATUS_GOOD);
    assert_int_equal(buf[2] & 0xf, SCSI_SK_NOT_READY);
    assert_int_equal(buf[12], 0x04);
    assert_int_equal(buf[13], 0x1b);
    assert_int_equal(buf[15], 0x80);
    fake_run(e->fb);
    assert_false(atomic_load(&e->lun->unit->sanitizing));
    assert_int_equal(atomic_load(&e->lun->inflight), 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    e->fb->deferred = false;
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    free(bg);
    env_free(e);
}

static void test_failure_mode(void **state)
{
    struct env *e = env_new(BLOCKS, 512);
    uint8_t rd10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, buf[512];
    uint8_t p[4 + 4] = { 0x01, 0, 0, 4, 1, 2, 3, 4 };

    e->fb->fail_type = BDEV_IO_WRITE;
    e->fb->fail_err = -EIO;
    e->fb->fail_skip = 1;
    assert_sense(sanitize(e, 0x01, p, 8, 8), SCSI_SK_MEDIUM_ERROR, 0x0c, 0);
    assert_sense(run(e, rd10, 10, SCSI_DIR_FROM_DEV, buf, 512), SCSI_SK_MEDIUM_ERROR, 0x31, 0x03);
    assert_good(sanitize(e, 0x1f, NULL, 0, 0));
    assert_good(run(e, rd10, 10, SCSI_DIR_FROM_DEV, buf, 512));
    env_free(e);
}

static void test_fill(void **state)
{
    uint8_t blk[16];

    scsi_sanitize_fill(blk, sizeof(blk), (const uint8_t *)"abcde", 5);
    assert_memory_equal(blk, "abcdeabcdeabcdea", 16);
    scsi_sanitize_fill(blk, sizeof(blk), (const uint8_t *)"0123456789abcdef", 16);
    assert_memory_equal(blk, "0123456789abcdef", 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overwrite),   cmocka_unit_test(test_overwrite_bad_lists),
        cmocka_unit_test(test_block_erase), cmocka_unit_test(test_actions_refused),
        cmocka_unit_test(test_in_progress), cmocka_unit_test(test_failure_mode),
        cmocka_unit_test(test_fill),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
