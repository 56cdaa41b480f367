/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static struct scsi_task *ms6(struct env *e, uint8_t b1, uint8_t b2, uint8_t sub, uint8_t alloc,
                             uint8_t *buf)
{
    uint8_t cdb[6] = { 0x1a, b1, b2, sub, alloc, 0 };

    memset(buf, 0xcc, 256);
    return run(e, cdb, 6, SCSI_DIR_FROM_DEV, buf, 256);
}

static struct scsi_task *ms10(struct env *e, uint8_t b1, uint8_t b2, uint16_t alloc, uint8_t *buf)
{
    uint8_t cdb[10] = { 0x5a, b1, b2, 0, 0, 0, 0, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0 };

    memset(buf, 0xcc, 256);
    return run(e, cdb, 10, SCSI_DIR_FROM_DEV, buf, 256);
}

static void test_mode_sense6_all(void **state)
{
    struct env *e = env_new(1000, 512);
    uint8_t buf[256];
    struct scsi_task *t = ms6(e, 0, 0x3f, 0, 255, buf);

    assert_good(t);
    /* Header, 8-byte block descriptor, caching (20) and control (12) pages. */
    assert_int_equal(t->data_len, 4 + 8 + 20 + 12);
    assert_int_equal(buf[0], t->data_len - 1);
    assert_int_equal(buf[2], 0x10); /* DPOFUA, not write protected */
    assert_int_equal(buf[3], 8);
    assert_int_equal(get_be32(&buf[4]), 1000);
    assert_int_equal(get_be24(&buf[9]), 512);
    assert_int_equal(buf[12], 0x08);
    assert_int_equal(buf[13], 0x12);
    assert_int_equal(buf[14] & 0x04, 0); /* no volatile cache: WCE 0 */
    assert_int_equal(buf[32], 0x0a);
    assert_int_equal(buf[33], 0x0a);
    assert_int_equal(buf[34] & 0x04, 0); /* D_SENSE 0: fixed format */
    assert_int_equal(buf[t->data_len], 0xcc);
    /* Truncated by allocation length; MODE DATA LENGTH unchanged. */
    t = ms6(e, 0, 0x3f, 0, 6, buf);
    assert_int_equal(t->data_len, 6);
    assert_int_equal(buf[0], 4 + 8 + 20 + 12 - 1);
    /* Subpage FFh of all pages is the same set. */
    assert_int_equal(ms6(e, 0, 0x3f, 0xff, 255, buf)->data_len, 44);
    env_free(e);
}

static void test_mode_sense6_pages(void **state)
{
    struct env *e = env_new(64, 4096);
    uint8_t buf[256];
    struct scsi_task *t;

    e->fb->bdev.volatile_cache = true;
    e->fb->bdev.readonly = true;
    /* DBD: no block descriptor. */
    t = ms6(e, 0x08, 0x08, 0, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 4 + 20);
    assert_int_equal(buf[2], 0x90); /* WP, DPOFUA */
    assert_int_equal(buf[3], 0);
    assert_int_equal(buf[4], 0x08);
    assert_int_equal(buf[6] & 0x04, 0x04); /* WCE */
    t = ms6(e, 0, 0x0a, 0, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 4 + 8 + 12);
    assert_int_equal(get_be24(&buf[9]), 4096);
    assert_int_equal(buf[12], 0x0a);
    /* Changeable values: WCE, there being a volatile cache to turn off. */
    t = ms6(e, 0x08, 0x40 | 0x08, 0, 255, buf);
    assert_good(t);
    assert_int_equal(buf[6], 0x04);
    for (int i = 7; i < 24; i++)
        assert_int_equal(buf[i], 0);
    /* Saved values: not supported. */
    assert_sense(ms6(e, 0, 0xc0 | 0x08, 0, 255, buf), 0x5, 0x39, 0);
    /* Default values are accepted. */
    assert_good(ms6(e, 0, 0x80 | 0x08, 0, 255, buf));
    /* Unknown page, unknown subpage. */
    t = ms6(e, 0, 0x01, 0, 255, buf);
    assert_invalid_cdb(t);
    assert_field(t, true, 2, 5);
    assert_invalid_cdb(ms6(e, 0, 0x1c, 0, 255, buf));
    assert_invalid_cdb(ms6(e, 0, 0x08, 0x01, 255, buf));
    env_free(e);
}

static void test_mode_sense10(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[256];
    struct scsi_task *t = ms10(e, 0, 0x3f, 255, buf);

    assert_good(t);
    assert_int_equal(t->data_len, 8 + 8 + 20 + 12);
    assert_int_equal(get_be16(&buf[0]), t->data_len - 2);
    assert_int_equal(buf[3], 0x10);
    assert_int_equal(buf[4] & 1, 0); /* LONGLBA */
    assert_int_equal(get_be16(&buf[6]), 8);
    assert_int_equal(get_be32(&buf[8]), 64);
    assert_int_equal(buf[16], 0x08);
    /* LLBAA is accepted, the short descriptor is still used. */
    t = ms10(e, 0x10, 0x3f, 255, buf);
    assert_good(t);
    assert_int_equal(get_be16(&buf[6]), 8);
    t = ms10(e, 0x08, 0x0a, 255, buf);
    assert_good(t);
    assert_int_equal(t->data_len, 8 + 12);
    assert_int_equal(get_be16(&buf[6]), 0);
    assert_int_equal(ms10(e, 0, 0x3f, 10, buf)->data_len, 10);
    env_free(e);
}

static void test_block_count_saturates(void **state)
{
    struct env *e = env_new(1ull << 33, 512); /* 4 TiB: no backing memory, no I/O */
    uint8_t buf[256];

    assert_good(ms6(e, 0, 0x08, 0, 255, buf));
    assert_int_equal(get_be32(&buf[4]), 0xffffffffu);
    env_free(e);
}

/* MODE SELECT(6) of a parameter list (plen bytes of pl, in a buffer of buflen). */
static struct scsi_task *sel6(struct env *e, uint8_t b1, const uint8_t *pl, uint8_t plen,
                              size_t buflen)
{
    uint8_t cdb[6] = { 0x15, b1, 0, 0, plen, 0 };
    static uint8_t buf[8192];

    memset(buf, 0, sizeof(buf));
    memcpy(buf, pl, plen);
    return run(e, cdb, 6, buflen ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, buflen ? buf : NULL, buflen);
}

static struct scsi_task *sel10(struct env *e, uint8_t b1, const uint8_t *pl, uint16_t plen)
{
    uint8_t cdb[10] = { 0x55, b1, 0, 0, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0 };
    static uint8_t buf[8192];

    memset(buf, 0, sizeof(buf));
    memcpy(buf, pl, plen < 64 ? plen : 64);
    return run(e, cdb, 10, plen ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, plen ? buf : NULL, plen);
}

/* A MODE SELECT(6) list: 4-byte header, no block descriptor, the caching page with wce. */
static size_t caching_list(uint8_t *pl, bool wce)
{
    memset(pl, 0, 24);
    pl[4] = 0x08;
    pl[5] = 0x12;
    pl[6] = wce ? 0x04 : 0;
    return 24;
}

/* ... the control page with d_sense (QAM 1, as MODE SENSE reports it). */
static size_t control_list(uint8_t *pl, bool d_sense)
{
    memset(pl, 0, 16);
    pl[4] = 0x0a;
    pl[5] = 0x0a;
    pl[6] = d_sense ? 0x04 : 0;
    pl[7] = 0x10;
    return 16;
}

static void write10(struct env *e, bool fua)
{
    uint8_t cdb[10] = { 0x2a, fua ? 0x08 : 0, 0, 0, 0, 1, 0, 0, 1, 0 };
    uint8_t data[512] = { 0 };

    assert_good(run(e, cdb, 10, SCSI_DIR_TO_DEV, data, sizeof(data)));
    assert_int_equal(e->fb->last.type, BDEV_IO_WRITE);
}

static void test_select_wce(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t pl[64], buf[256];
    uint8_t ws16[16] = { 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0 };
    uint8_t blk[512];
    struct scsi_task *t;

    e->fb->bdev.volatile_cache = true;
    /* Write cache on (the default): writes are FUA only when asked. */
    write10(e, false);
    assert_false(e->fb->last.fua);
    write10(e, true);
    assert_true(e->fb->last.fua);
    /* Off: current value 0, default still 1, every write FUA (write-through). */
    assert_good(sel6(e, 0x10, pl, (uint8_t)caching_list(pl, false), 24));
    t = ms6(e, 0x08, 0x08, 0, 255, buf);
    assert_good(t);
    assert_int_equal(buf[6] & 0x04, 0);
    assert_good(ms6(e, 0x08, 0x80 | 0x08, 0, 255, buf));
    assert_int_equal(buf[6] & 0x04, 0x04);
    write10(e, false);
    assert_true(e->fb->last.fua);
    memset(blk, 0x5a, sizeof(blk));
    assert_good(run(e, ws16, 16, SCSI_DIR_TO_DEV, blk, sizeof(blk)));
    assert_int_equal(e->fb->last.type, BDEV_IO_WRITE);
    assert_true(e->fb->last.fua);
    /* Zeroes by WRITE_ZEROES (no FUA there) are followed by a flush. */
    e->fb->bdev.can_write_zeroes = true;
    memset(blk, 0, sizeof(blk));
    assert_good(run(e, ws16, 16, SCSI_DIR_TO_DEV, blk, sizeof(blk)));
    assert_int_equal(e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    assert_int_equal(e->fb->last.type, BDEV_IO_FLUSH);
    /* On again (PF=0 is accepted too). */
    assert_good(sel6(e, 0, pl, (uint8_t)caching_list(pl, true), 24));
    write10(e, false);
    assert_false(e->fb->last.fua);
    assert_good(run(e, ws16, 16, SCSI_DIR_TO_DEV, blk, sizeof(blk)));
    assert_int_equal(e->fb->last.type, BDEV_IO_WRITE_ZEROES); /* no flush with the cache on */
    memset(blk, 0x5a, sizeof(blk));
    assert_good(run(e, ws16, 16, SCSI_DIR_TO_DEV, blk, sizeof(blk)));
    assert_false(e->fb->last.fua);
    /* A LUN reset restores the default: no saved pages. */
    assert_good(sel6(e, 0x10, pl, (uint8_t)caching_list(pl, false), 24));
    scsi_lun_reset(e->lun);
    atomic_store(&e->lun->ua_pending, 0);
    assert_good(ms6(e, 0x08, 0x08, 0, 255, buf));
    assert_int_equal(buf[6] & 0x04, 0x04);
    env_free(e);
}

static void test_write_cache_off_config(void **state)
{
    struct env *e = env_new(64, 512);
    struct scsi_lun_config cfg = { .target = 1, .lun = 0, .write_cache_off = true };
    struct fake_bdev *fb = fake_new(64, 512);
    struct scsi_lun *lun;
    uint8_t buf[256], data[512] = { 0 };
    uint8_t ms[6] = { 0x1a, 0x08, 0x08, 0, 255, 0 };
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
    char err[128];

    fb->bdev.volatile_cache = true;
    assert_int_equal(scsi_lun_create(&e->set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    lun = scsi_lookup(&e->set, 1, 0);
    atomic_store(&lun->ua_pending, 0);
    assert_good(run_on(e, lun, ms, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[6] & 0x04, 0);
    ms[2] = 0x80 | 0x08; /* default values: off too, and a reset comes back to it */
    assert_good(run_on(e, lun, ms, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_int_equal(buf[6] & 0x04, 0);
    assert_good(run_on(e, lun, w10, 10, SCSI_DIR_TO_DEV, data, sizeof(data)));
    assert_true(fb->last.fua);
    atomic_store(&lun->wce, true);
    scsi_lun_reset(lun);
    assert_false(atomic_load(&lun->wce));
    assert_int_equal(scsi_lun_remove(&e->set, 1, 0), 0);
    fake_free(fb);
    env_free(e);
}

static void assert_desc_sense(const struct scsi_task *t, uint8_t key, uint8_t asc)
{
    assert_int_equal(t->status, SCSI_STATUS_CHECK_CONDITION);
    assert_int_equal(t->sense[0], 0x72);
    assert_int_equal(t->sense[1], key);
    assert_int_equal(t->sense[2], asc);
}

static void test_select_d_sense(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t pl[64], buf[256], pl10[64];
    uint8_t bad_page[6] = { 0x1a, 0, 0x01, 0, 255, 0 };
    uint8_t rs[6] = { 0x03, 0, 0, 0, 32, 0 };
    struct scsi_task *t;

    /* Changeable: D_SENSE in the control page; no WCE without a volatile cache. */
    assert_good(ms6(e, 0x08, 0x40 | 0x3f, 0, 255, buf));
    assert_int_equal(buf[6], 0);
    assert_int_equal(buf[4 + 20 + 2], 0x04);
    assert_int_equal(buf[4 + 20 + 3], 0);
    /* MODE SELECT(10) with an 8-byte header sets it. */
    memset(pl10, 0, sizeof(pl10));
    control_list(pl, true);
    memcpy(&pl10[8], &pl[4], 12);
    assert_good(sel10(e, 0x10, pl10, 20));
    assert_good(ms6(e, 0x08, 0x0a, 0, 255, buf));
    assert_int_equal(buf[6], 0x04);
    assert_int_equal(buf[7], 0x10);
    /* Errors now come in descriptor format, with the field pointer as a descriptor. */
    t = run(e, bad_page, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_desc_sense(t, 0x05, 0x24);
    assert_int_equal(t->sense_len, 16);
    assert_int_equal(t->sense[8], 0x02);
    assert_int_equal(t->sense[12], 0x80 | 0x40 | 0x08 | 5);
    assert_int_equal(get_be16(&t->sense[13]), 2);
    /* REQUEST SENSE follows its DESC bit, not D_SENSE. */
    assert_good(run(e, rs, 6, SCSI_DIR_FROM_DEV, buf, 32));
    assert_int_equal(buf[0], 0x70);
    /* Back to fixed by MODE SELECT, and by a LUN reset. */
    assert_good(sel6(e, 0x10, pl, (uint8_t)control_list(pl, false), 16));
    assert_invalid_cdb(run(e, bad_page, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_good(sel6(e, 0x10, pl, (uint8_t)control_list(pl, true), 16));
    scsi_lun_reset(e->lun);
    atomic_store(&e->lun->ua_pending, 0);
    assert_invalid_cdb(run(e, bad_page, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    env_free(e);
}

#define assert_param(t, byte, bit)                                                                 \
    do {                                                                                           \
        struct scsi_task *t_ = (t);                                                                \
        assert_sense(t_, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0);                                        \
        assert_field(t_, false, (byte), (bit));                                                    \
    } while (0)
#define assert_length_error(t) assert_sense((t), SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0)

static void test_select_bad(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t pl[96], pl10[64];
    uint8_t cdb10[10] = { 0x55, 0x10, 0, 0, 0, 0, 0, 0x13, 0x88, 0 };
    struct scsi_task *t;

    /* SP=1: nothing can be saved. */
    t = sel6(e, 0x11, pl, (uint8_t)control_list(pl, true), 16);
    assert_invalid_cdb(t);
    assert_field(t, true, 1, 0);
    assert_invalid_cdb(sel10(e, 0x01, pl10, 8));
    /* No data: not an error, nothing changes. */
    assert_good(sel6(e, 0x10, pl, 0, 0));
    assert_good(sel10(e, 0x10, pl10, 0));
    /* A list longer than any we could take. */
    t = run(e, cdb10, 10, SCSI_DIR_TO_DEV, pl, sizeof(pl));
    assert_true(t->overrun); /* the buffer is too small for it */
    {
        static uint8_t big[5000];

        t = run(e, cdb10, 10, SCSI_DIR_TO_DEV, big, sizeof(big));
        assert_invalid_cdb(t);
        assert_field(t, true, 7, -1);
    }
    /* Truncated header. */
    assert_length_error(sel6(e, 0x10, pl, 3, 3));
    assert_length_error(sel10(e, 0x10, pl10, 7));
    /* Data-out shorter than the parameter list: the transport's overrun. */
    assert_true(sel6(e, 0x10, pl, 16, 10)->overrun);
    /* Medium type. */
    control_list(pl, true);
    pl[1] = 1;
    assert_param(sel6(e, 0x10, pl, 16, 16), 1, -1);
    /* Block descriptor length neither 0 nor 8. */
    control_list(pl, true);
    pl[3] = 4;
    assert_param(sel6(e, 0x10, pl, 16, 16), 3, -1);
    /* A block descriptor past the end of the list. */
    memset(pl, 0, sizeof(pl));
    pl[3] = 8;
    assert_length_error(sel6(e, 0x10, pl, 8, 8));
    /* Block descriptor: block size 512, number of blocks 0 or 64: good; others not. */
    memset(pl, 0, sizeof(pl));
    pl[3] = 8;
    put_be32(&pl[4], 64);
    pl[10] = 0x02;
    assert_good(sel6(e, 0x10, pl, 12, 12));
    put_be32(&pl[4], 0);
    assert_good(sel6(e, 0x10, pl, 12, 12));
    put_be32(&pl[4], 65);
    assert_param(sel6(e, 0x10, pl, 12, 12), 4, -1);
    put_be32(&pl[4], 0);
    pl[10] = 0x10; /* 4096 */
    assert_param(sel6(e, 0x10, pl, 12, 12), 9, -1);
    pl[10] = 0x02;
    pl[8] = 1; /* density code / reserved */
    assert_param(sel6(e, 0x10, pl, 12, 12), 8, -1);
    /* MODE SELECT(10): a long LBA descriptor of 16 bytes, then a page. */
    memset(pl10, 0, sizeof(pl10));
    pl10[4] = 0x01;
    pl10[7] = 16;
    put_be64(&pl10[8], 64);
    put_be32(&pl10[20], 512);
    pl10[24] = 0x0a;
    pl10[25] = 0x0a;
    pl10[27] = 0x10;
    assert_good(sel10(e, 0x10, pl10, 36));
    pl10[7] = 8; /* LONGLBA with a short length */
    assert_param(sel10(e, 0x10, pl10, 36), 6, -1);
    pl10[7] = 16;
    put_be32(&pl10[20], 4096);
    assert_param(sel10(e, 0x10, pl10, 36), 20, -1);
    /* Unknown page, subpage format. */
    control_list(pl, true);
    pl[4] = 0x01;
    assert_param(sel6(e, 0x10, pl, 16, 16), 4, 5);
    control_list(pl, true);
    pl[4] = 0x40 | 0x0a;
    assert_param(sel6(e, 0x10, pl, 16, 16), 4, 6);
    /* Page length not the page's. */
    control_list(pl, true);
    pl[5] = 0x08;
    assert_param(sel6(e, 0x10, pl, 16, 16), 5, -1);
    /* Truncated page; a lone byte after the last page. */
    assert_length_error(sel6(e, 0x10, pl, (uint8_t)control_list(pl, true) - 1, 16));
    control_list(pl, false);
    assert_length_error(sel6(e, 0x10, pl, 17, 17));
    /* Unchangeable fields: QAM in the control page, RCD in the caching page, WCE without a cache.
     */
    control_list(pl, true);
    pl[7] = 0;
    assert_param(sel6(e, 0x10, pl, 16, 16), 7, 4);
    caching_list(pl, false);
    pl[6] = 0x01;
    assert_param(sel6(e, 0x10, pl, 24, 24), 6, 0);
    assert_param(sel6(e, 0x10, pl, (uint8_t)caching_list(pl, true), 24), 6, 2);
    caching_list(pl, false);
    pl[23] = 0x80;
    assert_param(sel6(e, 0x10, pl, 24, 24), 23, 7);
    /* PS (reserved in MODE SELECT) is ignored: an echo of MODE SENSE data is fine. */
    control_list(pl, false);
    pl[4] |= 0x80;
    pl[2] = 0x90; /* device-specific parameter: WP, DPOFUA */
    assert_good(sel6(e, 0x10, pl, 16, 16));
    /* All or nothing: a good control page and a bad caching page change nothing. */
    control_list(pl, true);
    caching_list(&pl[12], false);
    pl[12 + 6] = 0x01;
    assert_param(sel6(e, 0x10, pl, 36, 36), 12 + 6, 0);
    assert_false(atomic_load(&e->lun->d_sense));
    /* ... and two good pages change both. */
    pl[12 + 6] = 0;
    assert_good(sel6(e, 0x10, pl, 36, 36));
    assert_true(atomic_load(&e->lun->d_sense));
    /* No bdev I/O for any of it. */
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_wce),      cmocka_unit_test(test_write_cache_off_config),
        cmocka_unit_test(test_select_d_sense),  cmocka_unit_test(test_select_bad),
        cmocka_unit_test(test_mode_sense6_all), cmocka_unit_test(test_mode_sense6_pages),
        cmocka_unit_test(test_mode_sense10),    cmocka_unit_test(test_block_count_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
