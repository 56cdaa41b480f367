/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static void test_read_capacity10(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t buf[16];
    uint8_t cdb[10] = { 0x25 };
    struct scsi_task *t = run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));

    assert_good(t);
    assert_int_equal(t->data_len, 8);
    assert_int_equal(get_be32(buf), 999);
    assert_int_equal(get_be32(&buf[4]), 512);
    /* Short buffer: truncated. */
    assert_int_equal(run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, 4)->data_len, 4);
    /* LBA without PMI is invalid; with PMI accepted. */
    cdb[5] = 1;
    assert_invalid_cdb(run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    cdb[8] = 1;
    assert_good(run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    env_free(e);

    /* Last LBA FFFFFFFFh or more: the "use READ CAPACITY(16)" value. */
    e = env_new(1ull << 32, 512);
    cdb[5] = cdb[8] = 0;
    assert_good(run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(get_be32(buf), 0xffffffffu);
    env_free(e);
    e = env_new(0xffffffffull, 512);
    assert_good(run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(get_be32(buf), 0xfffffffeu);
    env_free(e);
}

static void test_read_capacity16(void **state)
{
    struct env *e = env_new(1ull << 35, 4096);
    uint8_t buf[64];
    uint8_t cdb[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
    struct scsi_task *t;

    memset(buf, 0xcc, sizeof(buf));
    t = run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 32);
    assert_true(get_be64(buf) == (1ull << 35) - 1);
    assert_int_equal(get_be32(&buf[8]), 4096);
    assert_int_equal(buf[12], 0);
    assert_int_equal(buf[13], 0); /* one logical block per physical block */
    assert_int_equal(buf[14], 0); /* no LBPME without discard */
    assert_int_equal(buf[32], 0xcc);
    e->fb->bdev.can_discard = true;
    assert_good(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[14], 0x80);
    e->fb->bdev.discard_zeroes = true;
    assert_good(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[14], 0xc0);
    cdb[13] = 12;
    assert_int_equal(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 12);
    cdb[9] = 1;
    assert_invalid_cdb(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    env_free(e);
}

static void test_get_lba_status(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t buf[64];
    uint8_t cdb[16] = { 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 64, 0, 0 };
    struct scsi_task *t = run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf));

    assert_good(t);
    assert_int_equal(t->data_len, 24);
    assert_int_equal(get_be32(buf), 20);
    assert_true(get_be64(&buf[8]) == 10);
    assert_int_equal(get_be32(&buf[16]), 90);
    assert_int_equal(buf[20] & 0x0f, 0); /* mapped */
    cdb[9] = 100;
    assert_sense(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf)), 0x5, 0x21, 0);
    memset(&cdb[2], 0xff, 8);
    assert_sense(run(e, cdb, 16, SCSI_DIR_FROM_DEV, buf, sizeof(buf)), 0x5, 0x21, 0);
    env_free(e);
}

/* Build a READ/WRITE CDB of the given size. */
static unsigned rw_cdb(uint8_t *cdb, bool write, unsigned size, uint64_t lba, uint32_t n,
                       uint8_t flags)
{
    memset(cdb, 0, 16);
    switch (size) {
    case 6:
        cdb[0] = write ? 0x0a : 0x08;
        cdb[1] = (uint8_t)(lba >> 16) & 0x1f;
        cdb[2] = (uint8_t)(lba >> 8);
        cdb[3] = (uint8_t)lba;
        cdb[4] = (uint8_t)n;
        break;
    case 10:
        cdb[0] = write ? 0x2a : 0x28;
        put_be32(&cdb[2], (uint32_t)lba);
        put_be16(&cdb[7], (uint16_t)n);
        break;
    case 12:
        cdb[0] = write ? 0xaa : 0xa8;
        put_be32(&cdb[2], (uint32_t)lba);
        put_be32(&cdb[6], n);
        break;
    default:
        cdb[0] = write ? 0x8a : 0x88;
        put_be64(&cdb[2], lba);
        put_be32(&cdb[10], n);
        break;
    }
    if (size != 6)
        cdb[1] = flags;
    return size;
}

static void test_write_then_read(void **state)
{
    static const unsigned sizes[] = { 6, 10, 12, 16 };
    struct env *e = env_new(1024, 512);
    uint8_t *out = malloc(8 * 512), *in = malloc(8 * 512), cdb[16];

    for (size_t s = 0; s < 4; s++) {
        uint64_t lba = 100 + 50 * s;
        struct scsi_task *t;

        for (size_t i = 0; i < 8 * 512; i++)
            out[i] = (uint8_t)(i * 13 + s);
        t = run(e, cdb, rw_cdb(cdb, true, sizes[s], lba, 8, 0), SCSI_DIR_TO_DEV, out, 8 * 512);
        assert_good(t);
        assert_int_equal(t->data_len, 8 * 512);
        assert_false(e->fb->last.fua);
        assert_memory_equal(e->fb->data + lba * 512, out, 8 * 512);
        memset(in, 0, 8 * 512);
        t = run(e, cdb, rw_cdb(cdb, false, sizes[s], lba, 8, 0), SCSI_DIR_FROM_DEV, in, 8 * 512);
        assert_good(t);
        assert_int_equal(t->data_len, 8 * 512);
        assert_memory_equal(in, out, 8 * 512);
        assert_true(e->fb->last.offset == lba * 512);
    }
    free(out);
    free(in);
    env_free(e);
}

static void test_read6_zero_means_256(void **state)
{
    struct env *e = env_new(1024, 512);
    uint8_t *buf = malloc(256 * 512), cdb[16];
    struct scsi_task *t =
        run(e, cdb, rw_cdb(cdb, false, 6, 0, 0, 0), SCSI_DIR_FROM_DEV, buf, 256 * 512);

    assert_good(t);
    assert_int_equal(t->data_len, 256 * 512);
    assert_true(e->fb->last.len == 256 * 512);
    /* ... so a 255-block buffer is an overrun. */
    assert_true(run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, 255 * 512)->overrun);
    free(buf);
    env_free(e);
}

static void test_range_checks(void **state)
{
    static const unsigned sizes[] = { 10, 12, 16 };
    struct env *e = env_new(100, 512);
    uint8_t buf[4096], cdb[16];

    for (size_t s = 0; s < 3; s++) {
        bool w = s == 1;
        enum scsi_data_dir dir = w ? SCSI_DIR_TO_DEV : SCSI_DIR_FROM_DEV;

        /* Last block: fine; one past: out of range. */
        assert_good(run(e, cdb, rw_cdb(cdb, w, sizes[s], 99, 1, 0), dir, buf, 512));
        assert_sense(run(e, cdb, rw_cdb(cdb, w, sizes[s], 99, 2, 0), dir, buf, 1024), 0x5, 0x21, 0);
        assert_sense(run(e, cdb, rw_cdb(cdb, w, sizes[s], 100, 1, 0), dir, buf, 512), 0x5, 0x21, 0);
        /* Zero blocks: GOOD with no I/O, even at the end; beyond it still out of range. */
        e->fb->calls = 0;
        assert_good(run(e, cdb, rw_cdb(cdb, w, sizes[s], 100, 0, 0), dir, NULL, 0));
        assert_int_equal(e->fb->calls, 0);
        assert_sense(run(e, cdb, rw_cdb(cdb, w, sizes[s], 101, 0, 0), dir, NULL, 0), 0x5, 0x21, 0);
        assert_sense(run(e, cdb, rw_cdb(cdb, w, sizes[s], 0xffffffffu, 1, 0), dir, buf, 512), 0x5,
                     0x21, 0);
    }
    /* lba + n wrapping 2^64. */
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 16, ~0ull, 2, 0), SCSI_DIR_FROM_DEV, buf, 1024),
                 0x5, 0x21, 0);
    assert_sense(run(e, cdb, rw_cdb(cdb, true, 16, ~0ull - 1, 4, 0), SCSI_DIR_TO_DEV, buf, 2048),
                 0x5, 0x21, 0);
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 16, 1ull << 63, 1, 0), SCSI_DIR_FROM_DEV, buf, 512),
                 0x5, 0x21, 0);
    /* READ(6) beyond the end. */
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 6, 98, 3, 0), SCSI_DIR_FROM_DEV, buf, 1536), 0x5,
                 0x21, 0);
    env_free(e);
}

static void test_flags(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t buf[512], cdb[16];

    assert_good(run(e, cdb, rw_cdb(cdb, true, 10, 1, 1, 0x08), SCSI_DIR_TO_DEV, buf, 512));
    assert_true(e->fb->last.fua);
    assert_int_equal(e->fb->last.type, BDEV_IO_WRITE);
    assert_good(run(e, cdb, rw_cdb(cdb, true, 16, 1, 1, 0x10), SCSI_DIR_TO_DEV, buf, 512));
    assert_false(e->fb->last.fua);
    assert_good(run(e, cdb, rw_cdb(cdb, true, 12, 1, 1, 0x08), SCSI_DIR_TO_DEV, buf, 512));
    assert_true(e->fb->last.fua);
    assert_good(run(e, cdb, rw_cdb(cdb, false, 10, 1, 1, 0x18), SCSI_DIR_FROM_DEV, buf, 512));
    /* RDPROTECT / WRPROTECT: no protection information. */
    for (uint8_t p = 1; p < 8; p++) {
        struct scsi_task *t =
            run(e, cdb, rw_cdb(cdb, false, 10, 1, 1, p << 5), SCSI_DIR_FROM_DEV, buf, 512);

        assert_invalid_cdb(t);
        assert_field(t, true, 1, 7);
        assert_invalid_cdb(
            run(e, cdb, rw_cdb(cdb, true, 16, 1, 1, p << 5), SCSI_DIR_TO_DEV, buf, 512));
    }
    env_free(e);
}

static void test_max_transfer(void **state)
{
    struct env *e = env_new(1ull << 20, 4096); /* 4 GiB: no backing memory */
    uint8_t cdb[16];
    uint32_t max = (8u << 20) / 4096;
    static uint8_t big[(8u << 20) + 4096];
    struct scsi_task *t =
        run(e, cdb, rw_cdb(cdb, false, 16, 0, max + 1, 0), SCSI_DIR_FROM_DEV, big, sizeof(big));

    assert_invalid_cdb(t);
    assert_field(t, true, 10, -1);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_readonly(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t buf[512], cdb[16];

    e->fb->bdev.readonly = true;
    assert_sense(run(e, cdb, rw_cdb(cdb, true, 10, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x7, 0x27,
                 0);
    assert_sense(run(e, cdb, rw_cdb(cdb, true, 6, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x7, 0x27,
                 0);
    assert_good(run(e, cdb, rw_cdb(cdb, false, 10, 0, 1, 0), SCSI_DIR_FROM_DEV, buf, 512));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    env_free(e);
}

static void test_backend_errors(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t buf[512], cdb[16];

    e->fb->fail_err = -EIO;
    e->fb->fail_type = BDEV_IO_WRITE;
    assert_sense(run(e, cdb, rw_cdb(cdb, true, 10, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x3, 0x0c,
                 0);
    e->fb->fail_type = BDEV_IO_READ;
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 10, 0, 1, 0), SCSI_DIR_FROM_DEV, buf, 512), 0x3,
                 0x11, 0);
    e->fb->fail_err = -ENOSPC;
    e->fb->fail_type = BDEV_IO_WRITE;
    assert_sense(run(e, cdb, rw_cdb(cdb, true, 16, 0, 1, 0), SCSI_DIR_TO_DEV, buf, 512), 0x7, 0x27,
                 0x07);
    /* A device that reported its own error (NVMe status) is passed through as it said. */
    e->fb->fail_err = -EREMOTEIO;
    e->fb->fail_sense = BDEV_SENSE(0x3, 0x10, 0x01);
    e->fb->fail_type = BDEV_IO_READ;
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 16, 0, 1, 0), SCSI_DIR_FROM_DEV, buf, 512), 0x3,
                 0x10, 0x01);
    /* Without sense data -EREMOTEIO is just an error of ours. */
    e->fb->fail_sense = 0;
    assert_sense(run(e, cdb, rw_cdb(cdb, false, 16, 0, 1, 0), SCSI_DIR_FROM_DEV, buf, 512), 0x4,
                 0x44, 0);
    env_free(e);
}

static struct scsi_task *verify(struct env *e, unsigned size, uint8_t bytchk, uint64_t lba,
                                uint32_t n, void *buf, size_t len)
{
    uint8_t cdb[16] = { 0 };

    cdb[1] = (uint8_t)(bytchk << 1);
    if (size == 10) {
        cdb[0] = 0x2f;
        put_be32(&cdb[2], (uint32_t)lba);
        put_be16(&cdb[7], (uint16_t)n);
    } else if (size == 12) {
        cdb[0] = 0xaf;
        put_be32(&cdb[2], (uint32_t)lba);
        put_be32(&cdb[6], n);
    } else {
        cdb[0] = 0x8f;
        put_be64(&cdb[2], lba);
        put_be32(&cdb[10], n);
    }
    return run(e, cdb, size, buf != NULL ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, buf, len);
}

/* BYTCHK 0 goes to a backend whose device verifies by itself (NVMe Verify). */
static void test_verify_offloaded(void **state)
{
    struct env *e = env_new(100, 512);

    e->fb->bdev.can_verify = true;
    assert_good(verify(e, 16, 0, 10, 20, NULL, 0));
    assert_int_equal(e->fb->count[BDEV_IO_VERIFY], 1);
    assert_int_equal(e->fb->last.offset, 10 * 512);
    assert_int_equal(e->fb->last.len, 20 * 512);
    /* Zero blocks and out-of-range requests never reach it. */
    assert_good(verify(e, 10, 0, 10, 0, NULL, 0));
    assert_sense(verify(e, 16, 0, 90, 11, NULL, 0), 0x5, 0x21, 0);
    assert_int_equal(e->fb->count[BDEV_IO_VERIFY], 1);
    e->fb->fail_type = BDEV_IO_VERIFY;
    e->fb->fail_err = -EREMOTEIO;
    e->fb->fail_sense = BDEV_SENSE(0x3, 0x11, 0);
    assert_sense(verify(e, 12, 0, 0, 1, NULL, 0), 0x3, 0x11, 0);
    env_free(e);
}

static void test_verify(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t *buf = malloc(20 * 512);
    struct scsi_task *t;

    for (size_t i = 0; i < 100 * 512; i++)
        e->fb->data[i] = (uint8_t)(i * 31 + 7);
    memcpy(buf, e->fb->data + 10 * 512, 20 * 512);
    /* BYTCHK 0: range check only. */
    assert_good(verify(e, 10, 0, 10, 20, NULL, 0));
    assert_int_equal(e->fb->calls, 0);
    assert_sense(verify(e, 16, 0, 90, 11, NULL, 0), 0x5, 0x21, 0);
    assert_sense(verify(e, 12, 0, ~0u, 2, NULL, 0), 0x5, 0x21, 0);
    /* BYTCHK 1: several chunks compared. */
    for (unsigned size = 10; size <= 16; size += (size == 10 ? 2 : 4)) {
        t = verify(e, size, 1, 10, 20, buf, 20 * 512);
        assert_good(t);
        assert_int_equal(t->data_len, 20 * 512);
    }
    assert_true(e->fb->count[BDEV_IO_READ] >= 3 * 3);
    /* A difference in the 13th block: MISCOMPARE, INFORMATION = offset. */
    buf[12 * 512 + 5] ^= 1;
    t = verify(e, 16, 1, 10, 20, buf, 20 * 512);
    assert_sense(t, 0xe, 0x1d, 0);
    assert_int_equal(t->sense[0], 0xf0);
    assert_int_equal(get_be32(&t->sense[3]), 12 * 512 + 5);
    /* BYTCHK 11b: one block of data compared with each block. */
    memset(e->fb->data + 50 * 512, 0x3c, 9 * 512);
    memset(buf, 0x3c, 512);
    assert_good(verify(e, 10, 3, 50, 9, buf, 512));
    e->fb->data[57 * 512 + 1] = 0;
    t = verify(e, 10, 3, 50, 9, buf, 512);
    assert_sense(t, 0xe, 0x1d, 0);
    /* BYTCHK 10b is reserved; VRPROTECT unsupported. */
    assert_invalid_cdb(verify(e, 10, 2, 0, 1, NULL, 0));
    {
        uint8_t cdb[10] = { 0x2f, 0x20, 0, 0, 0, 0, 0, 0, 1, 0 };

        assert_invalid_cdb(run(e, cdb, 10, SCSI_DIR_NONE, NULL, 0));
    }
    /* Read error while verifying. */
    e->fb->fail_type = BDEV_IO_READ;
    e->fb->fail_err = -EIO;
    assert_sense(verify(e, 10, 1, 10, 1, buf, 512), 0x3, 0x11, 0);
    free(buf);
    env_free(e);
}

static void test_sync_cache(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t c10[10] = { 0x35, 0, 0, 0, 0, 5, 0, 0, 10, 0 };
    uint8_t c16[16] = { 0x91 };

    assert_good(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0));
    assert_good(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0));
    assert_int_equal(e->fb->count[BDEV_IO_FLUSH], 2);
    c10[5] = 99;
    assert_sense(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    put_be64(&c16[2], 101);
    assert_sense(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    c16[9] = 0;
    e->fb->fail_type = BDEV_IO_FLUSH;
    e->fb->fail_err = -EIO;
    e->fb->deferred = true;
    assert_sense(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0), 0x3, 0x0c, 0);
    env_free(e);
}

/* WRITE AND VERIFY CDB of the given size. */
static unsigned wav_cdb(uint8_t *cdb, unsigned size, uint64_t lba, uint32_t n, uint8_t byte1)
{
    unsigned len = rw_cdb(cdb, true, size, lba, n, 0);

    cdb[0] = size == 10 ? 0x2e : size == 12 ? 0xae : 0x8e;
    cdb[1] = byte1;
    return len;
}

static void test_write_verify(void **state)
{
    static const unsigned sizes[] = { 10, 12, 16 };
    struct env *e = env_new(1000, 512);
    uint8_t *out = malloc(16 * 512), cdb[16];
    struct scsi_task *t;

    for (size_t s = 0; s < 3; s++) {
        for (unsigned bytchk = 0; bytchk < 2; bytchk++) {
            uint64_t lba = 10 + 100 * s + 40 * bytchk;
            unsigned reads = e->fb->count[BDEV_IO_READ];

            for (size_t i = 0; i < 16 * 512; i++)
                out[i] = (uint8_t)(i * 7 + s + bytchk);
            t = run(e, cdb, wav_cdb(cdb, sizes[s], lba, 16, (uint8_t)(bytchk << 1)),
                    SCSI_DIR_TO_DEV, out, 16 * 512);
            assert_good(t);
            assert_int_equal(t->data_len, 16 * 512);
            assert_memory_equal(e->fb->data + lba * 512, out, 16 * 512);
            /* BYTCHK 1 reads the blocks back (4 KiB at a time); 0 does not without can_verify. */
            assert_int_equal(e->fb->count[BDEV_IO_READ] - reads, bytchk ? 2 : 0);
        }
    }
    /* The write is FUA, so that the verify sees the medium. */
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 6);
    t = run(e, cdb, wav_cdb(cdb, 16, 0, 1, 0), SCSI_DIR_TO_DEV, out, 512);
    assert_good(t);
    assert_true(e->fb->last.type == BDEV_IO_WRITE && e->fb->last.fua);

    /* BYTCHK 0 on a backend that verifies by itself: a VERIFY of the written range follows. */
    e->fb->bdev.can_verify = true;
    e->fb->deferred = true;
    assert_good(run(e, cdb, wav_cdb(cdb, 10, 500, 8, 0), SCSI_DIR_TO_DEV, out, 8 * 512));
    assert_int_equal(e->fb->count[BDEV_IO_VERIFY], 1);
    assert_true(e->fb->last.offset == 500 * 512 && e->fb->last.len == 8 * 512);
    e->fb->fail_type = BDEV_IO_VERIFY;
    e->fb->fail_err = -EIO;
    assert_sense(run(e, cdb, wav_cdb(cdb, 10, 500, 8, 0), SCSI_DIR_TO_DEV, out, 8 * 512), 0x3, 0x11,
                 0);
    /* A read-back error on BYTCHK 1 is a medium error too. */
    e->fb->fail_type = BDEV_IO_READ;
    assert_sense(run(e, cdb, wav_cdb(cdb, 16, 500, 8, 2), SCSI_DIR_TO_DEV, out, 8 * 512), 0x3, 0x11,
                 0);
    e->fb->fail_type = BDEV_IO_WRITE;
    assert_sense(run(e, cdb, wav_cdb(cdb, 16, 500, 8, 2), SCSI_DIR_TO_DEV, out, 8 * 512), 0x3, 0x0c,
                 0);
    e->fb->fail_type = -1;
    e->fb->deferred = false;

    /* Boundaries: the last block is fine, one past it is not; zero blocks do nothing. */
    assert_good(run(e, cdb, wav_cdb(cdb, 16, 999, 1, 2), SCSI_DIR_TO_DEV, out, 512));
    assert_sense(run(e, cdb, wav_cdb(cdb, 16, 999, 2, 2), SCSI_DIR_TO_DEV, out, 1024), 0x5, 0x21,
                 0);
    assert_sense(run(e, cdb, wav_cdb(cdb, 16, ~0ull, 1, 0), SCSI_DIR_TO_DEV, out, 512), 0x5, 0x21,
                 0);
    assert_sense(run(e, cdb, wav_cdb(cdb, 12, 1000, 1, 0), SCSI_DIR_TO_DEV, out, 512), 0x5, 0x21,
                 0);
    assert_good(run(e, cdb, wav_cdb(cdb, 10, 1000, 0, 0), SCSI_DIR_NONE, NULL, 0));

    /* BYTCHK 10b/11b are reserved; WRPROTECT; reserved bits; too long; short buffer. */
    t = run(e, cdb, wav_cdb(cdb, 10, 0, 1, 4), SCSI_DIR_TO_DEV, out, 512);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 2);
    t = run(e, cdb, wav_cdb(cdb, 10, 0, 1, 6), SCSI_DIR_TO_DEV, out, 512);
    assert_invalid_cdb(t);
    t = run(e, cdb, wav_cdb(cdb, 16, 0, 1, 0x20), SCSI_DIR_TO_DEV, out, 512);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 5); /* the highest bit set, where it is */
    t = run(e, cdb, wav_cdb(cdb, 10, 0, 1, 0x08), SCSI_DIR_TO_DEV, out, 512);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 3);
    t = run(e, cdb, wav_cdb(cdb, 10, 0, 1, 0x01), SCSI_DIR_TO_DEV, out, 512);
    assert_field(t, true, 1, 0);
    wav_cdb(cdb, 10, 0, 1, 0);
    cdb[6] = 0x20; /* above GROUP NUMBER */
    t = run(e, cdb, 10, SCSI_DIR_TO_DEV, out, 512);
    assert_field(t, true, 6, 5);
    cdb[6] = 0x1f;
    assert_good(run(e, cdb, 10, SCSI_DIR_TO_DEV, out, 512));
    t = run(e, cdb, wav_cdb(cdb, 16, 0, 2, 0), SCSI_DIR_TO_DEV, out, 512);
    assert_true(t->overrun);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 13);
    free(out);
    env_free(e);

    e = env_new(100000, 512);
    out = malloc(512);
    t = run(e, cdb, wav_cdb(cdb, 16, 0, 16385, 0), SCSI_DIR_TO_DEV, NULL, 0);
    assert_true(t->overrun);
    e->fb->bdev.readonly = true;
    assert_sense(run(e, cdb, wav_cdb(cdb, 10, 0, 1, 0), SCSI_DIR_TO_DEV, out, 512), 0x7, 0x27, 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    free(out);
    env_free(e);
}

static void test_write_verify_max_transfer(void **state)
{
    struct env *e = env_new(100000, 512);
    uint32_t max = (8u << 20) / 512;
    uint8_t *out = calloc(max + 1, 512), cdb[16];
    struct scsi_task *t;

    assert_good(run(e, cdb, wav_cdb(cdb, 16, 0, max, 0), SCSI_DIR_TO_DEV, out, max * 512ull));
    t = run(e, cdb, wav_cdb(cdb, 16, 0, max + 1, 0), SCSI_DIR_TO_DEV, out, (max + 1) * 512ull);
    assert_invalid_cdb(t);
    assert_field(t, true, 10, -1);
    free(out);
    env_free(e);
}

static void test_prefetch(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t c10[10] = { 0x34, 0, 0, 0, 0, 90, 0, 0, 10, 0 };
    uint8_t c16[16] = { 0x90 };
    struct scsi_task *t;

    /* No cache of ours to fill: GOOD (never CONDITION MET), IMMED or not, and no I/O. */
    assert_good(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0));
    c10[1] = 0x02;
    assert_good(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0));
    c10[8] = 11;
    assert_sense(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    c10[8] = 0;
    c10[5] = 99; /* PREFETCH LENGTH 0: from the LBA to the last block */
    assert_good(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0));
    c10[5] = 100; /* ...which must exist */
    assert_sense(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    c10[5] = 101;
    assert_sense(run(e, c10, 10, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    c10[5] = 0;
    c10[1] = 0x01; /* obsolete bit */
    t = run(e, c10, 10, SCSI_DIR_NONE, NULL, 0);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 0);
    put_be64(&c16[2], 99);
    put_be32(&c16[10], 1);
    c16[14] = 0x1f;
    assert_good(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0));
    put_be32(&c16[10], 2);
    assert_sense(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    put_be64(&c16[2], ~0ull);
    put_be32(&c16[10], 0xffffffffu);
    assert_sense(run(e, c16, 16, SCSI_DIR_NONE, NULL, 0), 0x5, 0x21, 0);
    c16[14] = 0x80;
    t = run(e, c16, 16, SCSI_DIR_NONE, NULL, 0);
    assert_field(t, true, 14, 7);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_read_defect_data(void **state)
{
    struct env *e = env_new(100, 512);
    uint8_t c10[10] = { 0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 64, 0 };
    uint8_t c12[12] = { 0xb7, 0x10 | 0x03, 0, 0, 0, 9, 0, 0, 0, 64, 0, 0 };
    uint8_t buf[64];
    struct scsi_task *t;

    memset(buf, 0xcc, sizeof(buf));
    t = run(e, c10, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 4);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0x1d); /* PLISTV, GLISTV, format 101b */
    assert_int_equal(get_be16(&buf[2]), 0);
    assert_int_equal(buf[4], 0xcc);
    c10[8] = 2;
    assert_int_equal(run(e, c10, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->data_len, 2);
    c10[8] = 0;
    assert_int_equal(run(e, c10, 10, SCSI_DIR_FROM_DEV, NULL, 0)->data_len, 0);
    c10[2] = 0x07;
    t = run(e, c10, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 2, 2);
    c10[2] = 0x20;
    t = run(e, c10, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 2, 5);
    c10[2] = 0;
    c10[1] = 0x01;
    t = run(e, c10, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 1, 0);

    memset(buf, 0xcc, sizeof(buf));
    t = run(e, c12, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 8);
    assert_int_equal(buf[1], 0x13); /* PLISTV, format 011b */
    assert_int_equal(get_be32(&buf[4]), 0);
    assert_int_equal(buf[8], 0xcc);
    c12[1] = 0x0f;
    t = run(e, c12, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 1, 2);
    c12[1] = 0x40;
    t = run(e, c12, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 1, 6);
    c12[1] = 0;
    c12[10] = 1;
    t = run(e, c12, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_field(t, true, 10, 0);
    env_free(e);
}

/* scsi_task_hint: the bytes a READ will copy, asked for before it runs; nothing else. */
static void hint(struct env *e, const uint8_t *cdb, unsigned len)
{
    struct scsi_task *t = e->task;

    memset(t->cdb, 0, sizeof(t->cdb));
    memcpy(t->cdb, cdb, len);
    t->cdb_len = len;
    t->lun = e->lun;
    t->status = 0xff;
    scsi_task_hint(t);
    /* A hint is not a request: no I/O, no status, no count. */
    assert_int_equal(e->fb->calls, 0);
    assert_int_equal(t->status, 0xff);
    assert_int_equal(atomic_load(&e->lun->inflight), 0);
}

static void test_read_hint(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t cdb[16];

    hint(e, cdb, rw_cdb(cdb, false, 10, 10, 4, 0));
    assert_int_equal(e->fb->hints, 1);
    assert_true(e->fb->hint_offset == 10 * 512 && e->fb->hint_len == 4 * 512);
    hint(e, cdb, rw_cdb(cdb, false, 16, 996, 4, 0));
    assert_int_equal(e->fb->hints, 2);
    assert_true(e->fb->hint_offset == 996 * 512 && e->fb->hint_len == 4 * 512);
    hint(e, cdb, rw_cdb(cdb, false, 12, 1, 2, 0));
    assert_int_equal(e->fb->hints, 3);
    hint(e, cdb, rw_cdb(cdb, false, 6, 0, 0, 0)); /* 0 blocks in READ(6): 256 */
    assert_int_equal(e->fb->hints, 4);
    assert_true(e->fb->hint_offset == 0 && e->fb->hint_len == 256 * 512);

    /* Past the end, wrapping, writes and other commands: no hint, and no failure either. */
    hint(e, cdb, rw_cdb(cdb, false, 16, 997, 4, 0));
    hint(e, cdb, rw_cdb(cdb, false, 16, ~0ull, 2, 0));
    hint(e, cdb, rw_cdb(cdb, true, 10, 10, 4, 0));
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x25; /* READ CAPACITY(10) */
    hint(e, cdb, 10);
    assert_int_equal(e->fb->hints, 4);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_capacity10),  cmocka_unit_test(test_read_hint),
        cmocka_unit_test(test_read_capacity16),  cmocka_unit_test(test_get_lba_status),
        cmocka_unit_test(test_write_then_read),  cmocka_unit_test(test_read6_zero_means_256),
        cmocka_unit_test(test_range_checks),     cmocka_unit_test(test_flags),
        cmocka_unit_test(test_max_transfer),     cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_backend_errors),   cmocka_unit_test(test_verify),
        cmocka_unit_test(test_verify_offloaded), cmocka_unit_test(test_sync_cache),
        cmocka_unit_test(test_write_verify),     cmocka_unit_test(test_write_verify_max_transfer),
        cmocka_unit_test(test_prefetch),         cmocka_unit_test(test_read_defect_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
