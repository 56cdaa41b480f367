/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static struct env *thin_env(uint64_t blocks, bool zeroes)
{
    struct env *e = env_new(blocks, 512);

    e->fb->bdev.can_discard = true;
    e->fb->bdev.discard_zeroes = zeroes;
    return e;
}

/* UNMAP parameter list with n descriptors (lba, count). */
static size_t unmap_list(uint8_t *p, const uint64_t (*d)[2], unsigned n)
{
    memset(p, 0, 8 + 16 * n);
    put_be16(p, (uint16_t)(6 + 16 * n));
    put_be16(&p[2], (uint16_t)(16 * n));
    for (unsigned i = 0; i < n; i++) {
        put_be64(&p[8 + 16 * i], d[i][0]);
        put_be32(&p[8 + 16 * i + 8], (uint32_t)d[i][1]);
    }
    return 8 + 16 * n;
}

static struct scsi_task *unmap(struct env *e, uint8_t *list, size_t plen, size_t buflen)
{
    uint8_t cdb[10] = { 0x42, 0, 0, 0, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0 };

    return run(e, cdb, 10, buflen ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, buflen ? list : NULL, buflen);
}

static void test_unmap(void **state)
{
    struct env *e = thin_env(1000, true);
    const uint64_t d[3][2] = { { 10, 5 }, { 500, 0 }, { 990, 10 } };
    uint8_t list[128];
    size_t len = unmap_list(list, d, 3);

    memset(e->fb->data, 0xab, 1000 * 512);
    assert_good(unmap(e, list, len, len));
    /* Two discards: the empty descriptor is skipped. */
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 2);
    assert_true(e->fb->last.offset == 990 * 512 && e->fb->last.len == 10 * 512);
    assert_int_equal(e->fb->data[10 * 512], 0);
    assert_int_equal(e->fb->data[14 * 512 + 511], 0);
    assert_int_equal(e->fb->data[15 * 512], 0xab);
    assert_int_equal(e->fb->data[9 * 512 + 511], 0xab);
    /* The same, completing later. */
    e->fb->deferred = true;
    assert_good(unmap(e, list, len, len));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 4);
    e->fb->deferred = false;
    /* Parameter list length 0: nothing to do. */
    assert_good(unmap(e, list, 0, 0));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 4);
    /* A descriptor cut short by the parameter list length is ignored. */
    assert_good(unmap(e, list, 8 + 16 + 15, len));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 5);
    env_free(e);
}

static void test_unmap_errors(void **state)
{
    struct env *e = thin_env(1000, false);
    uint64_t d[2][2] = { { 10, 5 }, { 996, 5 } };
    uint8_t list[8 + 16 * 300];
    size_t len = unmap_list(list, (const uint64_t(*)[2])d, 2);
    uint8_t anchor[10] = { 0x42, 0x01, 0, 0, 0, 0, 0, 0, 24, 0 };

    /* One bad descriptor fails the whole command before any discard. */
    assert_sense(unmap(e, list, len, len), 0x5, 0x21, 0);
    d[1][0] = ~0ull - 1;
    len = unmap_list(list, (const uint64_t(*)[2])d, 2);
    assert_sense(unmap(e, list, len, len), 0x5, 0x21, 0);
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 0);
    /* Parameter list shorter than its header. */
    assert_sense(unmap(e, list, 7, 7), 0x5, 0x1a, 0);
    /* Buffer shorter than the parameter list length: overrun. */
    assert_true(unmap(e, list, len, len - 1)->overrun);
    /* Too many descriptors. */
    {
        uint64_t(*many)[2] = calloc(256, sizeof(*many));

        struct scsi_task *t;

        len = unmap_list(list, (const uint64_t(*)[2])many, 256);
        t = unmap(e, list, len, len);
        assert_sense(t, 0x5, 0x26, 0);
        assert_field(t, false, 2, -1);
        len = unmap_list(list, (const uint64_t(*)[2])many, 255);
        assert_good(unmap(e, list, len, len));
        free(many);
    }
    assert_invalid_cdb(run(e, anchor, 10, SCSI_DIR_TO_DEV, list, 24));
    /* Backend failure. */
    d[1][0] = 20;
    len = unmap_list(list, (const uint64_t(*)[2])d, 2);
    e->fb->fail_type = BDEV_IO_DISCARD;
    e->fb->fail_err = -EIO;
    assert_sense(unmap(e, list, len, len), 0x3, 0x0c, 0);
    e->fb->fail_type = -1;
    /* Read-only, and no discard support. */
    e->fb->bdev.readonly = true;
    assert_sense(unmap(e, list, len, len), 0x7, 0x27, 0);
    e->fb->bdev.readonly = false;
    e->fb->bdev.can_discard = false;
    assert_invalid_cdb(unmap(e, list, len, len));
    env_free(e);
}

static struct scsi_task *wsame(struct env *e, bool sixteen, uint8_t flags, uint64_t lba, uint32_t n,
                               void *block, size_t len)
{
    uint8_t cdb[16] = { 0 };

    cdb[1] = flags;
    if (sixteen) {
        cdb[0] = 0x93;
        put_be64(&cdb[2], lba);
        put_be32(&cdb[10], n);
    } else {
        cdb[0] = 0x41;
        put_be32(&cdb[2], (uint32_t)lba);
        put_be16(&cdb[7], (uint16_t)n);
    }
    return run(e, cdb, sixteen ? 16 : 10, block ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, block, len);
}

static void test_write_same_pattern(void **state)
{
    struct env *e = env_new(4000, 512);
    uint8_t block[512];
    struct scsi_task *t;

    for (int i = 0; i < 512; i++)
        block[i] = (uint8_t)(i ^ 0x5a);
    /* 3000 blocks: three requests of at most BDEV_MAX_IOV copies, completing inline. */
    t = wsame(e, true, 0, 500, 3000, block, sizeof(block));
    assert_good(t);
    assert_int_equal(t->data_len, 512);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 3);
    assert_true(e->fb->max_iovcnt == BDEV_MAX_IOV);
    for (int b = 500; b < 3500; b++)
        assert_memory_equal(e->fb->data + b * 512, block, 512);

    assert_int_equal(e->fb->data[499 * 512 + 511], 0);
    assert_int_equal(e->fb->data[3500 * 512], 0);
    /* WRITE SAME(10), completing later. */
    e->fb->deferred = true;
    block[0] = 0x11;
    assert_good(wsame(e, false, 0, 0, 1500, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 5);
    assert_int_equal(e->fb->data[1499 * 512], 0x11);
    e->fb->deferred = false;
    /* A zero pattern without deallocation: written as zeroes, or WRITE_ZEROES if possible. */
    memset(block, 0, sizeof(block));
    assert_good(wsame(e, true, 0, 0, 10, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 6);
    e->fb->bdev.can_write_zeroes = true;
    assert_good(wsame(e, true, 0, 500, 10, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    assert_int_equal(e->fb->data[505 * 512], 0);
    env_free(e);
}

/* Inline completions are continued from the submit loop, not from nested calls. */
static void test_inline_completion_does_not_recurse(void **state)
{
    struct env *e = env_new(32 * BDEV_MAX_IOV, 512);
    uint8_t block[512];

    memset(block, 0x77, sizeof(block));
    assert_good(wsame(e, true, 0, 0, 32 * BDEV_MAX_IOV, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 32);
    assert_true(e->fb->sp_hi - e->fb->sp_lo < 256);
    assert_int_equal(e->fb->data[32 * BDEV_MAX_IOV * 512 - 1], 0x77);
    env_free(e);
}

static void test_write_same_unmap(void **state)
{
    struct env *e = thin_env(1000, true);
    uint8_t block[512] = { 0 };

    memset(e->fb->data, 0xab, 1000 * 512);
    /* UNMAP with a zero block on an LBPRZ unit: deallocate. */
    assert_good(wsame(e, true, 0x08, 100, 50, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 1);
    assert_true(e->fb->last.offset == 100 * 512 && e->fb->last.len == 50 * 512);
    assert_good(wsame(e, false, 0x08, 200, 50, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 2);
    /* NDOB: no data-out buffer, zeroes. */
    assert_good(wsame(e, true, 0x09, 300, 5, NULL, 0));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 3);
    assert_int_equal(e->fb->data[304 * 512], 0);
    /* UNMAP with another pattern: still deallocated (SBC-4: the block is not what is kept). */
    block[3] = 1;
    assert_good(wsame(e, true, 0x08, 400, 5, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 4);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 0);
    assert_int_equal(e->fb->data[404 * 512 + 3], 0);
    /* Without UNMAP the pattern is written. */
    assert_good(wsame(e, true, 0, 500, 5, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 1);
    assert_int_equal(e->fb->data[504 * 512 + 3], 1);
    block[3] = 0;
    env_free(e);

    /* Discard that does not zero: WRITE_ZEROES when there is one, else a pattern write. */
    e = thin_env(1000, false);
    e->fb->bdev.can_write_zeroes = true;
    assert_good(wsame(e, true, 0x08, 0, 10, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_DISCARD], 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    e->fb->bdev.can_write_zeroes = false;
    assert_good(wsame(e, true, 0x08, 0, 10, block, sizeof(block)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 1);
    /* UNMAP without discard support (LBPWS 0) is refused. */
    e->fb->bdev.can_discard = false;
    assert_invalid_cdb(wsame(e, true, 0x08, 0, 10, block, sizeof(block)));
    assert_invalid_cdb(wsame(e, false, 0x08, 0, 10, block, sizeof(block)));
    env_free(e);
}

/* WSNZ 0: NUMBER OF LOGICAL BLOCKS 0 writes from LBA to the last block. */
static void test_write_same_to_the_end(void **state)
{
    struct env *e = env_new(4000, 512);
    uint8_t block[512];

    memset(block, 0xa5, sizeof(block));
    assert_good(wsame(e, true, 0, 3990, 0, block, sizeof(block)));
    for (unsigned i = 3990 * 512; i < 4000 * 512; i++)
        assert_int_equal(e->fb->data[i], 0xa5);
    assert_int_equal(e->fb->data[3989 * 512 + 511], 0);
    memset(block, 0x3c, sizeof(block));
    assert_good(wsame(e, false, 0, 3999, 0, block, sizeof(block)));
    assert_int_equal(e->fb->data[3999 * 512], 0x3c);
    assert_int_equal(e->fb->data[3998 * 512], 0xa5);
    /*
     * More blocks to the end than MAXIMUM WRITE SAME LENGTH: refused like an
     * explicit count that large.  Only the capacity grows (nothing is written).
     */
    e->fb->bdev.size = (uint64_t)(SCSI_MAX_WS_BLOCKS + 100) * 512;
    e->fb->calls = 0;
    assert_invalid_cdb(wsame(e, true, 0, 99, 0, block, sizeof(block)));
    assert_field(e->task, true, 10, -1);
    assert_int_equal(e->fb->calls, 0);
    e->fb->bdev.size = 4000 * 512;
    env_free(e);
}

static void test_write_same_errors(void **state)
{
    struct env *e = env_new(4000, 512);
    uint8_t block[512] = { 1 };

    /* Zero blocks from an LBA past the last: out of range, whatever it means otherwise. */
    assert_sense(wsame(e, true, 0, 4000, 0, block, sizeof(block)), 0x5, 0x21, 0);
    assert_sense(wsame(e, false, 0, 4001, 0, block, sizeof(block)), 0x5, 0x21, 0);
    assert_sense(wsame(e, true, 0, ~0ull, 0, block, sizeof(block)), 0x5, 0x21, 0);
    assert_int_equal(e->fb->calls, 0);
    /* Over MAXIMUM WRITE SAME LENGTH. */
    assert_invalid_cdb(wsame(e, true, 0, 0, SCSI_MAX_WS_BLOCKS + 1, block, sizeof(block)));
    /* WRPROTECT, ANCHOR. */
    assert_invalid_cdb(wsame(e, true, 0x20, 0, 1, block, sizeof(block)));
    assert_invalid_cdb(wsame(e, false, 0x10, 0, 1, block, sizeof(block)));
    /* Out of range, including wrap-around. */
    assert_sense(wsame(e, true, 0, 3999, 2, block, sizeof(block)), 0x5, 0x21, 0);
    assert_sense(wsame(e, true, 0, 4001, 1, block, sizeof(block)), 0x5, 0x21, 0);
    assert_sense(wsame(e, true, 0, ~0ull, 1, block, sizeof(block)), 0x5, 0x21, 0);
    assert_sense(wsame(e, true, 0, 1ull << 63, 1, block, sizeof(block)), 0x5, 0x21, 0);
    /* Not exactly one block of data: a malformed command (libiscsi InvalidDataOutSize). */
    assert_invalid_cdb(wsame(e, true, 0, 0, 1, block, 511));
    assert_invalid_cdb(wsame(e, false, 0, 0, 1, NULL, 0));
    {
        static uint8_t two[1024];

        assert_invalid_cdb(wsame(e, true, 0, 0, 1, two, sizeof(two)));
        assert_invalid_cdb(wsame(e, false, 0x08, 0, 1, two, sizeof(two)));
    }
    assert_int_equal(e->fb->calls, 0);
    /* Read-only. */
    e->fb->bdev.readonly = true;
    assert_sense(wsame(e, true, 0, 0, 1, block, sizeof(block)), 0x7, 0x27, 0);
    e->fb->bdev.readonly = false;
    /* A failure in the second request ends the command. */
    e->fb->fail_type = BDEV_IO_WRITE;
    e->fb->fail_err = -EIO;
    e->fb->fail_skip = 1;
    assert_sense(wsame(e, true, 0, 0, 3000, block, sizeof(block)), 0x3, 0x0c, 0);
    assert_int_equal(e->fb->count[BDEV_IO_WRITE], 2);
    assert_int_equal(e->fb->data[1023 * 512], 1);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmap),
        cmocka_unit_test(test_unmap_errors),
        cmocka_unit_test(test_write_same_pattern),
        cmocka_unit_test(test_inline_completion_does_not_recurse),
        cmocka_unit_test(test_write_same_unmap),
        cmocka_unit_test(test_write_same_to_the_end),
        cmocka_unit_test(test_write_same_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
