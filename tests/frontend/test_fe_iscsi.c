/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iSCSI LUNs through the real daemon and a real tgt on 127.0.0.1
 * (tests/remote/tgt.sh starts, kills and restarts it).
 *
 * LUN 0 and LUN 2 are the same tgt LUN, held up to 30 s and 2 s while the
 * target is away; LUN 1 is a RAM LUN on the same (single) worker, the
 * bystander that must keep being served while the target is gone.
 *
 * Skipped when tgtd is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/frontend/fe_harness.h"

#define LUN_HELD  0
#define LUN_RAM   1
#define LUN_SHORT 2
#define IMG_MB    64
#define IQN       "iqn.2024-01.org.vhost-user-scsi:fe-test"

static struct daemon dmn = { .pid = -1 };
static struct vus_fe *fe;
static struct vus_fe_vq *vq;
static char tdir[64];
static unsigned port;
static uint8_t *buf, *buf2;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int tgt(const char *op)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "TGT_IQN=%s tests/remote/tgt.sh %s %s %u %u", IQN, op, tdir, port,
             IMG_MB);
    return system(cmd);
}

/* The port tgt.sh started tgtd on: the one asked for unless another process had it. */
static int read_port(void)
{
    char path[sizeof(tdir) + 8];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/port", tdir);
    f = fopen(path, "r");
    if (!f)
        return -1;
    ok = fscanf(f, "%u", &port) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

static int setup(void **state)
{
    char url[160], l0[200], l2[200];

    (void)state;
    if (system("command -v tgtd >/dev/null 2>&1") != 0)
        return 0; /* the tests skip */
    snprintf(tdir, sizeof(tdir), "/tmp/vusfe-tgt.XXXXXX");
    if (!mkdtemp(tdir))
        return -1;
    /* A port of our own: other runs (benchmarks, a parallel check) may have a tgtd too. */
    port = 20000 + (unsigned)getpid() % 12000; /* tgt.sh: at most 32767 */
    if (tgt("start") != 0 || read_port() < 0)
        return -1;
    snprintf(url, sizeof(url), "iscsi://127.0.0.1:%u/%s/1", port, IQN);
    snprintf(l0, sizeof(l0), "type=iscsi,url=%s,lun=%d,timeout=30", url, LUN_HELD);
    snprintf(l2, sizeof(l2), "type=iscsi,url=%s,lun=%d,timeout=2", url, LUN_SHORT);
    const char *args[] = { "--lun",     l0,  "--lun", "type=ram,size=16M,lun=1", "--lun", l2,
                           "--threads", "1", NULL };
    if (daemon_start(&dmn, args) != 0 || fe_open(&dmn, 1, &fe) != 0)
        return -1;
    vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    buf = vus_fe_alloc(fe, 1 << 20, 4096);
    buf2 = vus_fe_alloc(fe, 1 << 20, 4096);
    return buf && buf2 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    int ret = 0;

    (void)state;
    if (fe)
        vus_fe_close(fe);
    if (dmn.pid > 0 && daemon_stop(&dmn) != 0)
        ret = -1;
    if (tdir[0]) {
        /* The daemon failed: the target's side of the story too. */
        if (ret < 0) {
            snprintf(cmd, sizeof(cmd), "echo '--- %s/tgtd.log ---'; tail -20 %s/tgtd.log", tdir,
                     tdir);
            if (system(cmd) != 0)
                fprintf(stderr, "no tgtd.log in %s\n", tdir);
        }
        tgt("stop");
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tdir);
        if (system(cmd) != 0)
            ret = -1;
    }
    return ret;
}

static void need_tgt(void)
{
    if (!fe) {
        fprintf(stderr, "skipped: tgtd is not installed\n");
        skip();
    }
}

static void rw(unsigned lun, bool write, uint64_t lba, uint32_t blocks, uint8_t *p, bool fua)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, write, lba, blocks);
    if (fua)
        cdb[1] |= 0x08;
    assert_int_equal(scsi_exec(vq, &c, lun, cdb, 16, p, blocks * 512u, write ? 1 : 2), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    if (c.status != 0)
        fail_msg("%s of %u blocks at %llu on LUN %u: status %#x sense %02x/%02x/%02x",
                 write ? "WRITE" : "READ", blocks, (unsigned long long)lba, lun, c.status,
                 c.sense[2] & 0xf, c.sense[12], c.sense[13]);
}

/* What tgt's backing file holds: the data really went over iSCSI. */
static void read_image(uint64_t off, void *p, size_t len)
{
    char path[96];
    int fd;

    snprintf(path, sizeof(path), "%s/lun.img", tdir);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, p, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void test_capacity_and_rw(void **state)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16], *cap = buf2;
    static uint8_t img[1 << 20];

    (void)state;
    need_tgt();
    clear_ua(vq, 0, LUN_HELD);
    clear_ua(vq, 0, LUN_RAM);
    clear_ua(vq, 0, LUN_SHORT);
    /* READ CAPACITY(16): the target's size and block size. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x9e;
    cdb[1] = 0x10;
    put_be32(cdb + 10, 32);
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 16, cap, 32, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(get_be64(cap) + 1, (uint64_t)IMG_MB << 11);
    assert_int_equal(get_be32(cap + 8), 512);

    /* Plain and FUA writes, read back through the daemon and straight from tgt's file. */
    fill(buf, 1 << 20, 1);
    rw(LUN_HELD, true, 0, 2048, buf, false);
    fill(buf, 65536, 2);
    rw(LUN_HELD, true, 4096, 128, buf, true);
    fill(buf, 4096, 3);
    rw(LUN_HELD, true, ((uint64_t)IMG_MB << 11) - 8, 8, buf, true);
    memset(buf2, 0, 1 << 20);
    rw(LUN_HELD, false, 0, 2048, buf2, false);
    fill(buf, 1 << 20, 1);
    assert_memory_equal(buf, buf2, 1 << 20);
    rw(LUN_SHORT, false, 4096, 128, buf2, false);
    fill(buf, 65536, 2);
    assert_memory_equal(buf, buf2, 65536);
    read_image(4096 * 512, img, 65536);
    assert_memory_equal(buf, img, 65536);
    rw(LUN_HELD, false, ((uint64_t)IMG_MB << 11) - 8, 8, buf2, false);
    fill(buf, 4096, 3);
    assert_memory_equal(buf, buf2, 4096);

    /* Past the end: refused by our SCSI layer, the target never sees it. */
    cdb_rw16(cdb, false, (uint64_t)IMG_MB << 11, 1);
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 16, buf2, 512, 2), 0);
    assert_int_equal(c.status, 2);
    assert_int_equal(c.sense[2] & 0xf, 0x05);
    assert_int_equal(c.sense[12], 0x21);
}

static void test_flush(void **state)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16] = { 0x91 }; /* SYNCHRONIZE CACHE(16), whole medium */

    (void)state;
    need_tgt();
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 16, NULL, 0, 0), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    cdb[0] = 0x35; /* SYNCHRONIZE CACHE(10) */
    assert_int_equal(scsi_exec(vq, &c, LUN_SHORT, cdb, 10, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
}

static void test_unmap_and_zeroes(void **state)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16], *vpd = buf2, param[24];
    bool lbpu;
    (void)state;
    need_tgt();
    /* What the target offers is what the LUN reports (tgt: thin provisioning on). */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x12;
    cdb[1] = 1;
    cdb[2] = 0xb2;
    put_be16(cdb + 3, 64);
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 6, vpd, 64, 2), 0);
    assert_int_equal(c.status, 0);
    lbpu = vpd[5] & 0x80;
    fprintf(stderr, "target provisioning: LBPU %d LBPWS %d LBPRZ %d\n", !!(vpd[5] & 0x80),
            !!(vpd[5] & 0x40), !!(vpd[5] & 0x04));

    fill(buf, 65536, 9);
    rw(LUN_HELD, true, 8192, 128, buf, false);
    memset(&c, 0, sizeof(c));
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x42; /* UNMAP */
    put_be16(cdb + 7, sizeof(param));
    memset(param, 0, sizeof(param));
    put_be16(param, 22);
    put_be16(param + 2, 16);
    put_be64(param + 8, 8192);
    put_be32(param + 16, 128);
    uint8_t *p = vus_fe_alloc(fe, sizeof(param), 64);
    memcpy(p, param, sizeof(param));
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 10, p, sizeof(param), 1), 0);
    if (lbpu) {
        bool lbprz = vpd[5] & 0x04;

        assert_int_equal(c.status, 0);
        if (lbprz) {
            memset(buf2, 0xee, 65536);
            rw(LUN_HELD, false, 8192, 128, buf2, false);
            memset(buf, 0, 65536);
            assert_memory_equal(buf, buf2, 65536);
        }
    } else {
        /* No UNMAP at the target: refused here, as for any backend without discard. */
        assert_int_equal(c.status, 2);
        assert_int_equal(c.sense[2] & 0xf, 0x05);
    }

    /* WRITE SAME(16) of zeroes: zeroes read back, through the daemon and in tgt's file. */
    fill(buf, 65536, 10);
    rw(LUN_HELD, true, 16384, 128, buf, false);
    memset(buf, 0, 512);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x93;
    put_be64(cdb + 2, 16384);
    put_be32(cdb + 10, 128);
    assert_int_equal(scsi_exec(vq, &c, LUN_HELD, cdb, 16, buf, 512, 1), 0);
    assert_int_equal(c.status, 0);
    memset(buf2, 0xee, 65536);
    rw(LUN_HELD, false, 16384, 128, buf2, false);
    memset(buf, 0, 65536);
    assert_memory_equal(buf, buf2, 65536);
    read_image(16384 * 512, buf2, 65536);
    assert_memory_equal(buf, buf2, 65536);
}

#define NCMD 16

/*
 * tgt is killed with writes in flight and started again 2 s later: every
 * write completes without error once it is back, and reads back.  Meanwhile
 * the RAM LUN on the same worker answers at once, and LUN 2 (timeout=2)
 * fails with LOGICAL UNIT COMMUNICATION TIME-OUT.
 */
static void test_target_restart(void **state)
{
    static struct vus_fe_cmd w[NCMD];
    static struct iovec iov[NCMD];
    struct vus_fe_cmd c, shortc;
    struct iovec siov;
    uint8_t cdb[16];
    double t0;
    unsigned done = 0;

    (void)state;
    need_tgt();
    for (unsigned i = 0; i < NCMD; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].lun = LUN_HELD;
        cdb_rw16(w[i].cdb, true, 32768 + i * 128, 128);
        fill(buf + i * 65536, 65536, 100 + i);
        iov[i] = (struct iovec){ buf + i * 65536, 65536 };
        w[i].out = &iov[i];
        w[i].out_cnt = 1;
    }
    assert_int_equal(tgt("kill"), 0);
    for (unsigned i = 0; i < NCMD; i++)
        assert_int_equal(vus_fe_cmd_submit(vq, &w[i]), 0);
    memset(&shortc, 0, sizeof(shortc));
    shortc.lun = LUN_SHORT;
    cdb_rw16(shortc.cdb, false, 0, 8);
    siov = (struct iovec){ buf2 + 65536, 4096 };
    shortc.in = &siov;
    shortc.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq, &shortc), 0);
    vus_fe_vq_kick(vq);
    t0 = now_ms();

    /* The worker is not stuck: the RAM LUN answers on a second queue slot at once. */
    usleep(300 * 1000);
    cdb_rw16(cdb, false, 0, 8);
    struct vus_fe_cmd *r;
    memset(&c, 0, sizeof(c));
    c.lun = LUN_RAM;
    memcpy(c.cdb, cdb, 16);
    struct iovec riov = { buf2, 4096 };
    c.in = &riov;
    c.in_cnt = 1;
    double tr = now_ms();
    assert_int_equal(vus_fe_cmd_submit(vq, &c), 0);
    vus_fe_vq_kick(vq);
    bool ram_done = false, short_done = false;
    while (!ram_done) {
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        while ((r = vus_fe_cmd_reap(vq))) {
            if (r == &c)
                ram_done = true;
            else if (r == &shortc)
                short_done = true;
            else
                fail_msg("a held write completed while the target was down");
        }
    }
    fprintf(stderr, "RAM LUN read while the target is down: %.1f ms\n", now_ms() - tr);
    assert_int_equal(c.status, 0);
    assert_true(now_ms() - tr < 1000);

    /* LUN 2 gives up after its 2 s. */
    while (!short_done) {
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        while ((r = vus_fe_cmd_reap(vq))) {
            if (r == &shortc)
                short_done = true;
            else
                fail_msg("a held write completed while the target was down");
        }
    }
    fprintf(stderr, "LUN 2 failed after %.1f ms: sense %02x/%02x/%02x\n", now_ms() - t0,
            shortc.sense[2] & 0xf, shortc.sense[12], shortc.sense[13]);
    assert_true(now_ms() - t0 >= 1500);
    assert_int_equal(shortc.status, 2);
    assert_int_equal(shortc.sense[2] & 0xf, 0x0b);
    assert_int_equal(shortc.sense[12], 0x08);
    assert_int_equal(shortc.sense[13], 0x01);

    /* The target comes back: the held writes go through, none fails. */
    assert_int_equal(tgt("restart"), 0);
    while (done < NCMD) {
        assert_int_equal(vus_fe_vq_wait(vq, 20000), 1);
        while ((r = vus_fe_cmd_reap(vq))) {
            assert_int_equal(r->response, VIRTIO_SCSI_S_OK);
            if (r->status != 0)
                fail_msg("held write failed: status %#x sense %02x/%02x/%02x", r->status,
                         r->sense[2] & 0xf, r->sense[12], r->sense[13]);
            done++;
        }
    }
    fprintf(stderr, "held writes completed %.1f ms after the kill\n", now_ms() - t0);
    for (unsigned i = 0; i < NCMD; i++) {
        rw(LUN_HELD, false, 32768 + i * 128, 128, buf2, false);
        fill(buf, 65536, 100 + i);
        assert_memory_equal(buf, buf2, 65536);
    }
    /* LUN 2 works again too. */
    rw(LUN_SHORT, false, 32768, 128, buf2, false);
    fill(buf, 65536, 100);
    assert_memory_equal(buf, buf2, 65536);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_and_rw),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_unmap_and_zeroes),
        cmocka_unit_test(test_target_restart),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, setup, teardown);
}
