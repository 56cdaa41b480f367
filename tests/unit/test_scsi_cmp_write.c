/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * COMPARE AND WRITE and ORWRITE(16): compare (or OR) then write, MISCOMPARE,
 * CDB checks, atomicity against other writes.  WRITE ATOMIC(16): its limits,
 * and atomicity against reads too.
 */
#include "scsi_fake.h"

static unsigned caw_cdb(uint8_t *cdb, uint64_t lba, uint8_t n, uint8_t byte1)
{
    memset(cdb, 0, 16);
    cdb[0] = 0x89;
    cdb[1] = byte1;
    put_be64(&cdb[2], lba);
    cdb[13] = n;
    return 16;
}

/* A data-out of n blocks to compare (what the medium holds at lba) then n blocks to write. */
static uint8_t *caw_buf(struct env *e, uint64_t lba, unsigned n, uint8_t seed)
{
    uint32_t bs = e->fb->bdev.block_size;
    uint8_t *buf = malloc(2 * n * bs);

    memcpy(buf, e->fb->data + lba * bs, n * bs);
    for (size_t i = 0; i < n * bs; i++)
        buf[n * bs + i] = (uint8_t)(i * 11 + seed);
    return buf;
}

static void fill(struct env *e)
{
    for (size_t i = 0; i < e->fb->bdev.size; i++)
        e->fb->data[i] = (uint8_t)(i * 3 + i / 512);
}

static void test_compare_and_write(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16], *buf;
    struct scsi_task *t;

    fill(e);
    buf = caw_buf(e, 10, 1, 1);
    t = run(e, cdb, caw_cdb(cdb, 10, 1, 0), SCSI_DIR_TO_DEV, buf, 1024);
    assert_good(t);
    assert_int_equal(t->data_len, 1024);
    assert_memory_equal(e->fb->data + 10 * 512, buf + 512, 512);
    assert_false(e->fb->last.fua);
    /* The same again no longer matches: the medium now holds the written half. */
    t = run(e, cdb, caw_cdb(cdb, 10, 1, 0), SCSI_DIR_TO_DEV, buf, 1024);
    assert_sense(t, 0xe, 0x1d, 0);
    free(buf);

    /* Many blocks, more than one read chunk, with FUA. */
    buf = caw_buf(e, 100, 20, 2);
    t = run(e, cdb, caw_cdb(cdb, 100, 20, 0x08), SCSI_DIR_TO_DEV, buf, 40 * 512);
    assert_good(t);
    assert_int_equal(t->data_len, 40 * 512);
    assert_memory_equal(e->fb->data + 100 * 512, buf + 20 * 512, 20 * 512);
    assert_true(e->fb->last.type == BDEV_IO_WRITE && e->fb->last.fua);
    free(buf);
    env_free(e);
}

static void test_miscompare(void **state)
{
    static const size_t where[] = { 0, 511, 512, 4095, 4096, 20 * 512 - 1 };
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16], *buf, *before = malloc(20 * 512);

    fill(e);
    for (size_t w = 0; w < 6; w++) {
        struct scsi_task *t;

        e->fb->deferred = w % 2;
        buf = caw_buf(e, 200, 20, 3);
        buf[where[w]] ^= 0x40;
        memcpy(before, e->fb->data + 200 * 512, 20 * 512);
        t = run(e, cdb, caw_cdb(cdb, 200, 20, 0), SCSI_DIR_TO_DEV, buf, 40 * 512);
        assert_sense(t, 0xe, 0x1d, 0);
        /* VALID, and INFORMATION: the offset in the data-out of the first differing byte. */
        assert_int_equal(t->sense[0] & 0x80, 0x80);
        assert_int_equal(get_be32(&t->sense[3]), where[w]);
        /* Nothing was written. */
        assert_memory_equal(e->fb->data + 200 * 512, before, 20 * 512);
        free(buf);
    }
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    free(before);
    env_free(e);
}

static void test_boundaries(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16], *buf;

    fill(e);
    /* The last block, and the longest compare (255 blocks) ending at the last block. */
    buf = caw_buf(e, 999, 1, 4);
    assert_good(run(e, cdb, caw_cdb(cdb, 999, 1, 0), SCSI_DIR_TO_DEV, buf, 1024));
    free(buf);
    buf = caw_buf(e, 1000 - 255, 255, 5);
    assert_good(run(e, cdb, caw_cdb(cdb, 1000 - 255, 255, 0), SCSI_DIR_TO_DEV, buf, 510 * 512));
    assert_memory_equal(e->fb->data + (1000 - 255) * 512, buf + 255 * 512, 255 * 512);
    free(buf);
    buf = calloc(4, 512);
    assert_sense(run(e, cdb, caw_cdb(cdb, 999, 2, 0), SCSI_DIR_TO_DEV, buf, 2048), 0x5, 0x21, 0);
    assert_sense(run(e, cdb, caw_cdb(cdb, 1000, 1, 0), SCSI_DIR_TO_DEV, buf, 1024), 0x5, 0x21, 0);
    assert_sense(run(e, cdb, caw_cdb(cdb, ~0ull, 1, 0), SCSI_DIR_TO_DEV, buf, 1024), 0x5, 0x21, 0);
    /* Zero blocks: nothing to transfer, no error, no I/O; the LBA must still exist. */
    e->fb->calls = 0;
    assert_good(run(e, cdb, caw_cdb(cdb, 1000, 0, 0), SCSI_DIR_NONE, NULL, 0));
    assert_sense(run(e, cdb, caw_cdb(cdb, 1001, 0, 0), SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    assert_int_equal(e->fb->calls, 0);
    free(buf);
    env_free(e);
}

static void test_cdb_checks(void **state)
{
    struct env *e = env_new(1000, 4096);
    uint8_t cdb[16], *buf = calloc(2, 4096);
    struct scsi_task *t;

    /* WRPROTECT, the reserved bit 2, the obsolete bits 1-0. */
    for (int bit = 0; bit < 8; bit++) {
        if (bit == 3 || bit == 4) /* FUA, DPO */
            continue;
        t = run(e, cdb, caw_cdb(cdb, 0, 1, (uint8_t)(1u << bit)), SCSI_DIR_TO_DEV, buf, 8192);
        assert_invalid_cdb(t);
        assert_field(t, true, 1, bit);
    }
    /* Reserved bytes 10-12, and byte 14 above GROUP NUMBER. */
    for (unsigned byte = 10; byte <= 12; byte++) {
        caw_cdb(cdb, 0, 1, 0);
        cdb[byte] = 0x81;
        t = run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 8192);
        assert_field(t, true, byte, 7);
    }
    caw_cdb(cdb, 0, 1, 0x10);
    cdb[14] = 0x1f;
    assert_good(run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 8192));
    cdb[14] = 0x20;
    assert_field(run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 8192), true, 14, 5);
    /* Linked commands. */
    caw_cdb(cdb, 0, 1, 0);
    cdb[15] = 0x04;
    assert_field(run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 8192), true, 15, 2);
    /* The buffer must hold both halves, in the data-out direction. */
    assert_true(run(e, cdb, caw_cdb(cdb, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 4096)->overrun);
    assert_true(run(e, cdb, caw_cdb(cdb, 0, 1, 0), SCSI_DIR_FROM_DEV, buf, 8192)->overrun);
    /* A short CDB. */
    assert_invalid_cdb(run(e, cdb, 10, SCSI_DIR_TO_DEV, buf, 8192));
    /* Read-only. */
    e->fb->bdev.readonly = true;
    assert_sense(run(e, cdb, caw_cdb(cdb, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 8192), 0x7, 0x27, 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 1);
    free(buf);
    env_free(e);
}

static void test_backend_errors(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t cdb[16], *buf;

    fill(e);
    buf = caw_buf(e, 5, 10, 6);
    e->fb->fail_err = -EIO;
    e->fb->fail_type = BDEV_IO_READ;
    e->fb->fail_skip = 1; /* the second read chunk fails */
    assert_sense(run(e, cdb, caw_cdb(cdb, 5, 10, 0), SCSI_DIR_TO_DEV, buf, 20 * 512), 0x3, 0x11, 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    e->fb->fail_type = BDEV_IO_WRITE;
    e->fb->deferred = true;
    assert_sense(run(e, cdb, caw_cdb(cdb, 5, 10, 0), SCSI_DIR_TO_DEV, buf, 20 * 512), 0x3, 0x0c, 0);
    /* The range was released on failure: a write to it goes through at once. */
    e->fb->fail_type = -1;
    e->fb->deferred = false;
    assert_good(run(e, cdb, caw_cdb(cdb, 5, 10, 0), SCSI_DIR_TO_DEV, buf, 20 * 512));
    assert_null(e->lun->rl->held);
    free(buf);
    env_free(e);
}

/* Start cdb on task without waiting (the fake completes later, from fake_run). */
static void start(struct env *e, struct scsi_task *t, struct iovec *iov, const uint8_t *cdb,
                  void *buf, size_t len)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->cdb, cdb, 16);
    t->cdb_len = 16;
    t->lun = e->lun;
    t->dir = cdb[0] == 0x88 ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
    iov->iov_base = buf;
    iov->iov_len = len;
    t->iov = iov;
    t->iovcnt = 1;
    t->iov_len = len;
    t->done = env_done;
    scsi_task_execute(t);
}

/* A WRITE(16) CDB. */
static void w16(uint8_t *cdb, uint64_t lba, uint32_t n)
{
    memset(cdb, 0, 16);
    cdb[0] = 0x8a;
    put_be64(&cdb[2], lba);
    put_be32(&cdb[10], n);
}

static void test_atomic_against_writes(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t2 = calloc(1, sizeof(*t2)), *t3 = calloc(1, sizeof(*t3));
    struct iovec iov1, iov2, iov3;
    uint8_t cdb[16], *caw, *wr = malloc(4 * 512), *wr2 = malloc(512);

    fill(e);
    memset(wr, 0x5a, 4 * 512);
    memset(wr2, 0x6b, 512);
    e->fb->deferred = true;
    e->done = 0;

    /* COMPARE AND WRITE first: a WRITE overlapping it waits, one beside it does not. */
    caw = caw_buf(e, 10, 2, 7);
    start(e, e->task, &iov1, (caw_cdb(cdb, 10, 2, 0), cdb), caw, 4 * 512);
    assert_int_equal(e->fb->npending, 1); /* its first read */
    w16(cdb, 11, 4);
    start(e, t2, &iov2, cdb, wr, 4 * 512);
    assert_int_equal(e->fb->npending, 1);
    assert_int_equal(t2->rl_state, SCSI_RL_WAITING);
    w16(cdb, 12, 1);
    start(e, t3, &iov3, cdb, wr2, 512);
    /* Beside the COMPARE AND WRITE, and sharing with the waiting write: it goes on. */
    assert_int_equal(t3->rl_state, SCSI_RL_HELD);
    assert_int_equal(e->fb->npending, 2);
    fake_run(e->fb);
    assert_int_equal(e->done, 3);
    assert_good(e->task);
    assert_good(t2);
    assert_good(t3);
    /* The write that waited went last over blocks 11-14: its data is what the medium holds. */
    assert_memory_equal(e->fb->data + 10 * 512, caw + 2 * 512, 512);
    assert_int_equal(e->fb->data[11 * 512], 0x5a);
    assert_int_equal(e->fb->data[12 * 512], 0x5a);
    free(caw);

    /* A WRITE in flight first: COMPARE AND WRITE waits for it, then compares with its data. */
    e->done = 0;
    w16(cdb, 50, 4);
    start(e, t2, &iov2, cdb, wr, 4 * 512);
    assert_int_equal(e->fb->npending, 1);
    caw = malloc(2 * 512);
    memset(caw, 0x5a, 512); /* what the write will have left at block 53 */
    memset(caw + 512, 0x77, 512);
    start(e, e->task, &iov1, (caw_cdb(cdb, 53, 1, 0), cdb), caw, 1024);
    assert_int_equal(e->task->rl_state, SCSI_RL_WAITING);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_good(t2);
    assert_good(e->task);
    assert_int_equal(e->fb->data[53 * 512], 0x77);
    assert_int_equal(e->fb->data[52 * 512], 0x5a);
    assert_null(e->lun->rl->held);
    assert_int_equal(atomic_load(&e->lun->inflight), 0);
    free(caw);

    /* WRITE SAME over the range, and UNMAP anywhere, wait for COMPARE AND WRITE too. */
    e->done = 0;
    e->fb->bdev.can_discard = true;
    caw = caw_buf(e, 70, 1, 8);
    start(e, e->task, &iov1, (caw_cdb(cdb, 70, 1, 0), cdb), caw, 1024);
    memset(cdb, 0, 16);
    cdb[0] = 0x93;
    put_be64(&cdb[2], 60);
    put_be32(&cdb[10], 11);
    start(e, t2, &iov2, cdb, wr2, 512);
    assert_int_equal(t2->rl_state, SCSI_RL_WAITING);
    memset(cdb, 0, 16);
    cdb[0] = 0x42;
    cdb[8] = 24;
    memset(wr, 0, 24);
    put_be16(&wr[2], 16);
    put_be64(&wr[8], 0);
    put_be32(&wr[16], 1);
    start(e, t3, &iov3, cdb, wr, 24);
    assert_int_equal(t3->rl_state, SCSI_RL_WAITING);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 3);
    assert_good(e->task);
    assert_good(t2);
    assert_good(t3);
    /* WRITE SAME came after the compare and write. */
    assert_int_equal(e->fb->data[70 * 512], 0x6b);
    assert_null(e->lun->rl->held);
    free(caw);
    free(wr);
    free(wr2);
    free(t2);
    free(t3);
    env_free(e);
}

/* A write that waited continues on its own worker's loop, not inside the holder's completion. */
static void test_waiter_resumes_on_its_loop(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t2 = calloc(1, sizeof(*t2));
    struct iovec iov1, iov2;
    uint8_t cdb[16], *caw, *wr = malloc(512);
    struct io_loop loop;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    fill(e);
    memset(wr, 0x3c, 512);
    e->fb->deferred = true;
    e->done = 0;
    caw = caw_buf(e, 20, 1, 9);
    start(e, e->task, &iov1, (caw_cdb(cdb, 20, 1, 0), cdb), caw, 1024);
    w16(cdb, 20, 1);
    memset(t2, 0, sizeof(*t2));
    t2->loop = &loop;
    memcpy(t2->cdb, cdb, 16);
    t2->cdb_len = 16;
    t2->lun = e->lun;
    t2->dir = SCSI_DIR_TO_DEV;
    iov2 = (struct iovec){ wr, 512 };
    t2->iov = &iov2;
    t2->iovcnt = 1;
    t2->iov_len = 512;
    t2->done = env_done;
    scsi_task_execute(t2);
    assert_int_equal(t2->rl_state, SCSI_RL_WAITING);
    fake_run(e->fb);
    /* COMPARE AND WRITE is done; the write has its range but has not started. */
    assert_int_equal(e->done, 1);
    assert_good(e->task);
    assert_int_equal(t2->rl_state, SCSI_RL_HELD);
    assert_int_equal(e->fb->npending, 0);
    assert_int_equal(io_loop_run_once(&loop, true), 1);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_good(t2);
    assert_int_equal(e->fb->data[20 * 512], 0x3c);
    io_loop_fini(&loop);
    free(caw);
    free(wr);
    free(t2);
    env_free(e);
}

static unsigned or_cdb(uint8_t *cdb, uint64_t lba, uint32_t n, uint8_t byte1)
{
    memset(cdb, 0, 16);
    cdb[0] = 0x8b;
    cdb[1] = byte1;
    put_be64(&cdb[2], lba);
    put_be32(&cdb[10], n);
    return 16;
}

static void test_orwrite(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16], *buf = malloc(20 * 512), *want = malloc(20 * 512);
    struct scsi_task *t;

    fill(e);
    for (unsigned deferred = 0; deferred < 2; deferred++) {
        uint64_t lba = 100 + 50 * deferred;

        e->fb->deferred = deferred;
        for (size_t i = 0; i < 20 * 512; i++) {
            buf[i] = (uint8_t)(1u << (i % 8));
            want[i] = e->fb->data[lba * 512 + i] | buf[i];
        }
        /* 20 blocks: three 4 KiB read-OR-write rounds. */
        t = run(e, cdb, or_cdb(cdb, lba, 20, 0x08), SCSI_DIR_TO_DEV, buf, 20 * 512);
        assert_good(t);
        assert_int_equal(t->data_len, 20 * 512);
        assert_memory_equal(e->fb->data + lba * 512, want, 20 * 512);
        assert_true(e->fb->last.type == BDEV_IO_WRITE && e->fb->last.fua);
    }
    e->fb->deferred = false;
    assert_int_equal(e->fb->count[BDEV_IO_READ], 6);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 6);

    /* Boundaries, zero blocks, CDB checks, short buffer, read-only. */
    assert_good(run(e, cdb, or_cdb(cdb, 999, 1, 0), SCSI_DIR_TO_DEV, buf, 512));
    assert_sense(run(e, cdb, or_cdb(cdb, 999, 2, 0), SCSI_DIR_TO_DEV, buf, 1024), 0x5, 0x21, 0);
    assert_sense(run(e, cdb, or_cdb(cdb, ~0ull, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x5, 0x21, 0);
    assert_good(run(e, cdb, or_cdb(cdb, 1000, 0, 0), SCSI_DIR_NONE, NULL, 0));
    t = run(e, cdb, or_cdb(cdb, 0, 1, 0x20), SCSI_DIR_TO_DEV, buf, 512);
    assert_field(t, true, 1, 5);
    t = run(e, cdb, or_cdb(cdb, 0, 1, 0x04), SCSI_DIR_TO_DEV, buf, 512);
    assert_field(t, true, 1, 2);
    or_cdb(cdb, 0, 1, 0);
    cdb[14] = 0x40;
    assert_field(run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 512), true, 14, 6);
    assert_true(run(e, cdb, or_cdb(cdb, 0, 2, 0), SCSI_DIR_TO_DEV, buf, 512)->overrun);
    t = run(e, cdb, or_cdb(cdb, 0, 16385, 0), SCSI_DIR_TO_DEV, NULL, 0);
    assert_true(t->overrun);

    /* Errors: a failed read writes nothing; a failed write is a write error. */
    e->fb->fail_err = -EIO;
    e->fb->fail_type = BDEV_IO_READ;
    e->fb->fail_skip = 1;
    assert_sense(run(e, cdb, or_cdb(cdb, 0, 20, 0), SCSI_DIR_TO_DEV, buf, 20 * 512), 0x3, 0x11, 0);
    e->fb->fail_type = BDEV_IO_WRITE;
    e->fb->fail_skip = 0;
    assert_sense(run(e, cdb, or_cdb(cdb, 0, 20, 0), SCSI_DIR_TO_DEV, buf, 20 * 512), 0x3, 0x0c, 0);
    e->fb->fail_type = -1;
    assert_null(e->lun->rl->held);
    e->fb->bdev.readonly = true;
    assert_sense(run(e, cdb, or_cdb(cdb, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x7, 0x27, 0);
    free(buf);
    free(want);
    env_free(e);
}

/* ORWRITE's read-modify-write is exclusive: a WRITE to its range waits, and lands after it. */
static void test_orwrite_atomic(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t2 = calloc(1, sizeof(*t2));
    struct iovec iov1, iov2;
    uint8_t cdb[16], *orb = calloc(1, 512), *wr = malloc(512);

    memset(wr, 0x81, 512);
    orb[0] = 0x02;
    e->fb->deferred = true;
    e->done = 0;
    start(e, e->task, &iov1, (or_cdb(cdb, 30, 1, 0), cdb), orb, 512);
    w16(cdb, 30, 1);
    start(e, t2, &iov2, cdb, wr, 512);
    assert_int_equal(t2->rl_state, SCSI_RL_WAITING);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_good(e->task);
    assert_good(t2);
    assert_int_equal(e->fb->data[30 * 512], 0x81);
    free(orb);
    free(wr);
    free(t2);
    env_free(e);
}

/* With the write cache off (WCE=0) the write halves are write-through, as WRITE's are. */
static void test_write_cache_off(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t cdb[16], *buf;

    fill(e);
    atomic_store(&e->lun->wce, false);
    buf = caw_buf(e, 3, 1, 1);
    assert_good(run(e, cdb, caw_cdb(cdb, 3, 1, 0), SCSI_DIR_TO_DEV, buf, 1024));
    assert_true(e->fb->last.type == BDEV_IO_WRITE && e->fb->last.fua);
    assert_good(run(e, cdb, or_cdb(cdb, 3, 1, 0), SCSI_DIR_TO_DEV, buf, 512));
    assert_true(e->fb->last.type == BDEV_IO_WRITE && e->fb->last.fua);
    atomic_store(&e->lun->wce, true);
    assert_good(run(e, cdb, or_cdb(cdb, 3, 1, 0), SCSI_DIR_TO_DEV, buf, 512));
    assert_false(e->fb->last.fua);
    free(buf);
    env_free(e);
}

static unsigned wa_cdb(uint8_t *cdb, uint64_t lba, uint16_t n, uint8_t byte1)
{
    memset(cdb, 0, 16);
    cdb[0] = 0x9c;
    cdb[1] = byte1;
    put_be64(&cdb[2], lba);
    put_be16(&cdb[12], n);
    return 16;
}

static void test_write_atomic_limits(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16], vpd[256], *buf = calloc(1, 80 * 512);

    /* A backend that promises nothing: the command is not supported, the VPD says 0. */
    assert_sense(run(e, cdb, wa_cdb(cdb, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512),
                 SCSI_SK_ILLEGAL_REQUEST, 0x20, 0);
    assert_int_equal(scsi_vpd_page(e->lun, 0xb0, vpd), 64);
    assert_int_equal(get_be32(&vpd[44]), 0);
    assert_int_equal(get_be32(&vpd[48]), 0);
    assert_int_equal(get_be32(&vpd[52]), 0);

    e->fb->bdev.atomic_max_bytes = 64 * 512;
    e->fb->bdev.atomic_gran_bytes = 4 * 512;
    scsi_vpd_page(e->lun, 0xb0, vpd);
    assert_int_equal(get_be32(&vpd[44]), 64);
    assert_int_equal(get_be32(&vpd[48]), 4);
    assert_int_equal(get_be32(&vpd[52]), 4);
    assert_int_equal(get_be32(&vpd[56]) + get_be32(&vpd[60]), 0); /* no boundary support */

    memset(buf, 0x3c, 80 * 512);
    assert_good(run(e, cdb, wa_cdb(cdb, 8, 4, 0x18), SCSI_DIR_TO_DEV, buf, 4 * 512));
    assert_memory_equal(e->fb->data + 8 * 512, buf, 4 * 512);
    assert_true(e->fb->last.fua);
    assert_good(run(e, cdb, wa_cdb(cdb, 996, 4, 0), SCSI_DIR_TO_DEV, buf, 4 * 512));
    assert_good(run(e, cdb, wa_cdb(cdb, 0, 0, 0), SCSI_DIR_NONE, NULL, 0));
    /* Longer than MAXIMUM ATOMIC TRANSFER LENGTH, misaligned, not a granule multiple. */
    assert_invalid_cdb(run(e, cdb, wa_cdb(cdb, 0, 68, 0), SCSI_DIR_TO_DEV, buf, 68 * 512));
    assert_field(e->task, true, 12, -1);
    assert_invalid_cdb(run(e, cdb, wa_cdb(cdb, 2, 4, 0), SCSI_DIR_TO_DEV, buf, 4 * 512));
    assert_field(e->task, true, 2, -1);
    assert_invalid_cdb(run(e, cdb, wa_cdb(cdb, 0, 2, 0), SCSI_DIR_TO_DEV, buf, 2 * 512));
    assert_field(e->task, true, 12, -1);
    /* WRPROTECT, ATOMIC BOUNDARY, GROUP NUMBER. */
    assert_invalid_cdb(run(e, cdb, wa_cdb(cdb, 0, 4, 0x20), SCSI_DIR_TO_DEV, buf, 4 * 512));
    assert_field(e->task, true, 1, 5);
    wa_cdb(cdb, 0, 4, 0);
    cdb[11] = 1;
    assert_invalid_cdb(run(e, cdb, 16, SCSI_DIR_TO_DEV, buf, 4 * 512));
    assert_field(e->task, true, 11, 0);
    /* Past the end, zero blocks included. */
    assert_sense(run(e, cdb, wa_cdb(cdb, 1000, 4, 0), SCSI_DIR_TO_DEV, buf, 4 * 512),
                 SCSI_SK_ILLEGAL_REQUEST, 0x21, 0);
    assert_sense(run(e, cdb, wa_cdb(cdb, 1004, 0, 0), SCSI_DIR_NONE, NULL, 0),
                 SCSI_SK_ILLEGAL_REQUEST, 0x21, 0);
    assert_sense(run(e, cdb, wa_cdb(cdb, UINT64_MAX - 3, 4, 0), SCSI_DIR_TO_DEV, buf, 4 * 512),
                 SCSI_SK_ILLEGAL_REQUEST, 0x21, 0);
    e->fb->bdev.readonly = true;
    assert_sense(run(e, cdb, wa_cdb(cdb, 0, 4, 0), SCSI_DIR_TO_DEV, buf, 4 * 512),
                 SCSI_SK_DATA_PROTECT, 0x27, 0);
    free(buf);
    env_free(e);
}

/* A READ(16) CDB. */
static void r16(uint8_t *cdb, uint64_t lba, uint32_t n)
{
    w16(cdb, lba, n);
    cdb[0] = 0x88;
}

static void test_write_atomic_against_reads(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t2 = calloc(1, sizeof(*t2));
    struct iovec iov1, iov2;
    uint8_t cdb[16], *wr = malloc(8 * 512), *rd = malloc(8 * 512);

    e->fb->bdev.atomic_max_bytes = 64 * 512;
    fill(e);
    memset(wr, 0x77, 8 * 512);
    e->fb->deferred = true;
    e->done = 0;

    /* A read in progress: the atomic write waits for it before its write goes out. */
    r16(cdb, 0, 8);
    start(e, e->task, &iov1, cdb, rd, 8 * 512);
    assert_int_equal(e->fb->npending, 1);
    wa_cdb(cdb, 4, 8, 0);
    start(e, t2, &iov2, cdb, wr, 8 * 512);
    assert_int_equal(e->fb->npending, 1);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 1);
    assert_int_not_equal(rd[4 * 512], 0x77); /* the read saw the old data, whole */

    /* An atomic write in progress: an overlapping read waits, a disjoint one does not. */
    e->done = 0;
    memset(wr, 0x88, 8 * 512);
    wa_cdb(cdb, 4, 8, 0);
    start(e, t2, &iov2, cdb, wr, 8 * 512);
    assert_int_equal(e->fb->npending, 1);
    r16(cdb, 10, 4);
    start(e, e->task, &iov1, cdb, rd, 4 * 512);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_int_equal(rd[0], 0x88); /* read after the write, all of it */
    r16(cdb, 50, 4);
    start(e, e->task, &iov1, cdb, rd, 4 * 512);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);

    /*
     * VERIFY with BYTCHK reads too: it waits for the atomic write and
     * compares against all of the new data, never half of it.
     */
    e->done = 0;
    memset(wr, 0x99, 8 * 512);
    wa_cdb(cdb, 4, 8, 0);
    start(e, t2, &iov2, cdb, wr, 8 * 512);
    memset(cdb, 0, 16);
    cdb[0] = 0x8f;
    cdb[1] = 0x02; /* BYTCHK 01b */
    put_be64(&cdb[2], 8);
    put_be32(&cdb[10], 2);
    memset(rd, 0x99, 2 * 512);
    start(e, e->task, &iov1, cdb, rd, 2 * 512);
    assert_int_equal(e->fb->npending, 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 2);
    assert_good(e->task);
    assert_int_equal(atomic_load(&e->lun->rl->readers), 0);
    assert_int_equal(atomic_load(&e->lun->rl->natomic), 0);
    free(wr);
    free(rd);
    free(t2);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_and_write),
        cmocka_unit_test(test_miscompare),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_cdb_checks),
        cmocka_unit_test(test_backend_errors),
        cmocka_unit_test(test_atomic_against_writes),
        cmocka_unit_test(test_waiter_resumes_on_its_loop),
        cmocka_unit_test(test_orwrite),
        cmocka_unit_test(test_orwrite_atomic),
        cmocka_unit_test(test_write_cache_off),
        cmocka_unit_test(test_write_atomic_limits),
        cmocka_unit_test(test_write_atomic_against_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
