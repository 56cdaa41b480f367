/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * type=rbd against a real single-node Ceph cluster (tests/remote/ceph-cluster.sh),
 * created through bdev_create and driven over vhost-user:
 *
 * - read/write with verification (also through `rbd export`: the data is in
 *   the cluster), FUA, SYNCHRONIZE CACHE, UNMAP, WRITE SAME(UNMAP) zeroes;
 * - resize through bdev_resize and by another client (`rbd resize`): both
 *   reach the guest as CAPACITY DATA HAS CHANGED;
 * - the exclusive lock: a second open of the image and a foreign writer are
 *   refused; a snapshot is served read-only;
 * - the OSD stopped during a write: the write waits, a RAM LUN on the same
 *   worker keeps answering, and the write completes once the OSD is back;
 *   with timeout=, it fails with ABORTED COMMAND instead;
 * - --config: the daemon stopped and started again brings the LUN back,
 *   lock and data included.
 *
 * The cluster: $VUS_CEPH_DIR (default build/ceph); one already running there
 * is reused (make check-remote starts one for all RBD tests), otherwise this
 * program starts it and stops it at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_ceph.h"
#include "tests/frontend/fe_mgmt_rpc.h"

static void rbd_bdev(const char *name, const char *image, const char *more)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "type", "rbd", "pool", "rbd",
                          "image", image, "conf", ceph_conf);
    if (more) {
        json_t *m = rpc_params_text(more);
        json_object_update(p, m);
        json_decref(m);
    }
    json_decref(rpc_ok_p(&cl, "bdev_create", p));
}

static int rbd_group_setup(void **state)
{
    static const char *const args[] = { "--threads", "1", NULL };

    (void)state;
    if (fe_ceph_start() < 0)
        return -1;
    if (mgmt_init(&dmn) < 0 || mgmt_start(&dmn, false, args) < 0)
        return -1;
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static int rbd_group_teardown(void **state)
{
    int ret = group_teardown(state);

    fe_ceph_stop();
    return ret;
}

static void exec_ok(struct vus_fe_vq *vq, struct vus_fe_cmd *c, const char *what)
{
    uint8_t key = 0, asc = 0;

    assert_int_equal(vus_fe_cmd_exec(vq, c, 30000), 0);
    if (c->status == 2)
        sense_key_asc(c, &key, &asc);
    if (c->response != VIRTIO_SCSI_S_OK || c->status != 0)
        fail_msg("%s: response %u status %u sense %x/%02x", what, c->response, c->status, key, asc);
}

static void rw(struct vus_fe_vq *vq, unsigned lun, bool write, uint64_t lba, void *buf,
               unsigned blocks, bool fua, const char *what)
{
    struct vus_fe_cmd c;
    struct iovec iov = { buf, (size_t)blocks * 512 };

    memset(&c, 0, sizeof(c));
    c.lun = lun;
    cdb_rw16(c.cdb, write, lba, blocks);
    if (fua)
        c.cdb[1] |= 0x08;
    if (write) {
        c.out = &iov;
        c.out_cnt = 1;
    } else {
        c.in = &iov;
        c.in_cnt = 1;
    }
    exec_ok(vq, &c, what);
}

static struct vus_fe *attach(const char *ctrl, const char *bdev0, const char *bdev1)
{
    struct vus_fe *fe;

    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", ctrl, "socket_path", sock_path(ctrl));
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", ctrl, "bdev", bdev0, "target",
            0, "lun", 0);
    if (bdev1)
        rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", ctrl, "bdev", bdev1,
                "target", 0, "lun", 1);
    assert_int_equal(mgmt_fe_open(sock_path(ctrl), 1, 4 * MiB, &fe), 0);
    open_fe = fe;
    clear_ua(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0);
    if (bdev1)
        clear_ua(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 1);
    return fe;
}

static void detach(struct vus_fe *fe, const char *ctrl)
{
    vus_fe_close(fe);
    open_fe = NULL;
    rpc_dof(&cl, "controller_delete", "{s:s}", "name", ctrl);
}

static void test_rbd_io(void **state)
{
    char path[700], why[256];

    (void)state;
    fe_ceph_new_image("fe-io", 64, "");
    rbd_bdev("r0", "fe-io", NULL);
    struct vus_fe *fe = attach("io", "r0", NULL);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 1 << 20, 4096), *r = vus_fe_alloc(fe, 1 << 20, 4096);
    struct vus_fe_cmd c;

    assert_int_equal(read_capacity_blocks(fe, 0, 0, NULL), 64 * MiB / 512);
    if (mgmt_verified_io(vq, 0, 0, 0, 128, w, r, 1, why, sizeof(why)) < 0)
        fail_msg("first 64 KiB: %s", why);
    if (mgmt_verified_io(vq, 0, 0, 64 * MiB / 512 - 128, 128, w, r, 2, why, sizeof(why)) < 0)
        fail_msg("last 64 KiB: %s", why);

    /* 1 MiB across an object boundary (4 MiB objects), in three guest buffers, with FUA. */
    fill(w, 1 << 20, 3);
    struct iovec wv[3] = { { w, 4096 }, { w + 4096, 512 * 9 }, { w + 8704, (1 << 20) - 8704 } };
    memset(&c, 0, sizeof(c));
    cdb_rw16(c.cdb, true, 4 * MiB / 512 - 1024, 2048);
    c.cdb[1] |= 0x08;
    c.out = wv;
    c.out_cnt = 3;
    exec_ok(vq, &c, "FUA write of 1 MiB in 3 buffers");
    memset(r, 0, 1 << 20);
    rw(vq, 0, false, 4 * MiB / 512 - 1024, r, 2048, false, "read back the FUA write");
    assert_memory_equal(w, r, 1 << 20);

    /* SYNCHRONIZE CACHE(10): then another client reads the same bytes from the cluster. */
    memset(&c, 0, sizeof(c));
    c.cdb[0] = 0x35;
    exec_ok(vq, &c, "SYNCHRONIZE CACHE");
    mgmt_path(&dmn, path, sizeof(path), "fe-io.export");
    must_sh("rbd export --no-progress rbd/fe-io %s >/dev/null 2>&1", path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 4 * MiB - 512 * 1024, SEEK_SET), 0);
    assert_int_equal(fread(r, 1, 1 << 20, f), 1 << 20);
    fclose(f);
    unlink(path);
    assert_memory_equal(w, r, 1 << 20);

    /* WRITE SAME(16) with UNMAP and a zero block: reads back zeroes (rbd_aio_write_zeroes). */
    memset(w, 0, 512);
    struct iovec zv = { w, 512 };
    memset(&c, 0, sizeof(c));
    c.cdb[0] = 0x93;
    c.cdb[1] = 0x08;
    put_be64(c.cdb + 2, 4 * MiB / 512 - 256);
    put_be32(c.cdb + 10, 512);
    c.out = &zv;
    c.out_cnt = 1;
    exec_ok(vq, &c, "WRITE SAME(16) UNMAP");
    memset(r, 0xaa, 512 * 512);
    rw(vq, 0, false, 4 * MiB / 512 - 256, r, 512, false, "read the zeroed range");
    for (unsigned i = 0; i < 512 * 512; i++)
        if (r[i])
            fail_msg("byte %u of the WRITE SAME range is %#x, not 0", i, r[i]);

    /* UNMAP of a whole object: GOOD (it may read back old data or zeroes: LBPRZ is 0). */
    uint8_t *pl = vus_fe_alloc(fe, 24, 8);
    memset(pl, 0, 24);
    put_be16(pl, 22);
    put_be16(pl + 2, 16);
    put_be64(pl + 8, 8 * MiB / 512);
    put_be32(pl + 16, 4 * MiB / 512);
    struct iovec uv = { pl, 24 };
    memset(&c, 0, sizeof(c));
    c.cdb[0] = 0x42;
    put_be16(c.cdb + 7, 24);
    c.out = &uv;
    c.out_cnt = 1;
    exec_ok(vq, &c, "UNMAP");
    if (mgmt_verified_io(vq, 0, 0, 8 * MiB / 512, 128, w, r, 4, why, sizeof(why)) < 0)
        fail_msg("after UNMAP: %s", why);

    detach(fe, "io");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r0\"}");
}

static bool wait_capacity_event(struct vus_fe *fe, int ms)
{
    struct virtio_scsi_event ev;
    uint32_t len;

    if (!mgmt_wait_event(fe, &ev, &len, ms))
        return false;
    assert_int_equal(vus_fe_event_post(fe, 1), 0);
    return ev.event == VIRTIO_SCSI_T_PARAM_CHANGE && ev.reason == (0x2a | 0x09 << 8);
}

static void test_rbd_resize(void **state)
{
    char out[4096];

    (void)state;
    fe_ceph_new_image("fe-rs", 32, "");
    rbd_bdev("r1", "fe-rs", NULL);
    struct vus_fe *fe = attach("rs", "r1", NULL);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);

    assert_int_equal(vus_fe_event_post(fe, 8), 0);
    json_t *res = rpc_ok(&cl, "bdev_resize", "{\"name\":\"r1\",\"size\":\"48M\"}");
    assert_int_equal(mgmt_int(res, "size"), 48 * MiB);
    json_decref(res);
    if (!wait_capacity_event(fe, 10000))
        fail_msg("bdev_resize to 48M: no PARAM_CHANGE capacity event");
    expect_ua_once(vq, 0, 0, 0x2a, 0x09);
    assert_int_equal(read_capacity_blocks(fe, 0, 0, NULL), 48 * MiB / 512);
    /* The image itself grew. */
    FILE *p = popen("rbd info --format json rbd/fe-rs", "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    pclose(p);
    if (!strstr(out, "\"size\":50331648"))
        fail_msg("rbd info after bdev_resize 48M: %s", out);

    /*
     * Another client resizes it (librbd forwards the request to us, the lock
     * owner); the header watch makes the daemon re-read the size.
     */
    must_sh("rbd resize --no-progress --size 80M rbd/fe-rs >/dev/null");
    if (!wait_capacity_event(fe, 20000))
        fail_msg("rbd resize to 80M: no PARAM_CHANGE capacity event within 20 s");
    expect_ua_once(vq, 0, 0, 0x2a, 0x09);
    assert_int_equal(read_capacity_blocks(fe, 0, 0, NULL), 80 * MiB / 512);
    char why[256];
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    if (mgmt_verified_io(vq, 0, 0, 80 * MiB / 512 - 128, 128, w, r, 5, why, sizeof(why)) < 0)
        fail_msg("the last 64 KiB after growing: %s", why);

    detach(fe, "rs");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r1\"}");
}

static void test_rbd_exclusive_and_snap(void **state)
{
    (void)state;
    fe_ceph_new_image("fe-lk", 16, "");
    rbd_bdev("r2", "fe-lk", NULL);
    struct vus_fe *fe = attach("lk", "r2", NULL);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    struct vus_fe_cmd c;
    uint8_t key, asc;

    fill(w, 65536, 6);
    rw(vq, 0, true, 0, w, 128, true, "write before the snapshot");

    /* A second opener (another daemon would be the same) is refused, naming the lock. */
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "r2b", "type", "rbd", "pool", "rbd",
                          "image", "fe-lk", "conf", ceph_conf);
    char *msg =
        rpc_fail_p(&cl, -32004, (const char *const[]){ "exclusive lock", NULL }, "bdev_create", p);
    free(msg);
    /* A foreign writer fails; our LUN keeps its data. */
    if (sh("rbd bench --no-progress --io-type write --io-size 4096 --io-total 4096 rbd/fe-lk "
           ">/dev/null 2>&1") == 0)
        fail_msg("rbd bench could write an image the daemon holds");
    rw(vq, 0, false, 0, r, 128, false, "read after the foreign writer");
    assert_memory_equal(w, r, 65536);

    /* snap=: the snapshot's data, read-only, next to the live image. */
    must_sh("rbd snap create --no-progress rbd/fe-lk@s1 >/dev/null");
    rbd_bdev("r2s", "fe-lk", "{\"snap\":\"s1\"}");
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", "lk", "bdev", "r2s", "target",
            0, "lun", 1);
    clear_ua(vq, 0, 0); /* REPORTED LUNS DATA HAS CHANGED */
    clear_ua(vq, 0, 1);
    fill(w, 65536, 7);
    rw(vq, 0, true, 0, w, 128, false, "write after the snapshot");
    rw(vq, 1, false, 0, r, 128, false, "read the snapshot");
    fill(w, 65536, 6);
    assert_memory_equal(w, r, 65536);
    memset(&c, 0, sizeof(c));
    c.lun = 1;
    cdb_rw16(c.cdb, true, 0, 1);
    struct iovec iov = { w, 512 };
    c.out = &iov;
    c.out_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 7); /* DATA PROTECT */
    assert_int_equal(asc, 0x27);

    detach(fe, "lk");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r2s\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r2\"}");
}

struct bg_cmd {
    struct vus_fe_vq *vq;
    struct vus_fe_cmd c;
    struct iovec iov;
    int rc;
    atomic_bool done;
};

static void *bg_main(void *arg)
{
    struct bg_cmd *b = arg;

    b->rc = vus_fe_cmd_exec(b->vq, &b->c, 120000);
    atomic_store(&b->done, true);
    return NULL;
}

/* Submit a 64 KiB write on a second request queue: the first stays free for the test. */
static void bg_write(struct bg_cmd *b, struct vus_fe *fe, uint8_t *buf, uint64_t lba, pthread_t *th)
{
    memset(b, 0, sizeof(*b));
    b->vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + 1);
    cdb_rw16(b->c.cdb, true, lba, 128);
    b->iov.iov_base = buf;
    b->iov.iov_len = 65536;
    b->c.out = &b->iov;
    b->c.out_cnt = 1;
    assert_int_equal(pthread_create(th, NULL, bg_main, b), 0);
}

static void test_rbd_osd_outage(void **state)
{
    struct vus_fe *fe;
    struct bg_cmd b;
    pthread_t th;
    char why[256];

    (void)state;
    fe_ceph_new_image("fe-osd", 16, "");
    rbd_bdev("r3", "fe-osd", NULL);
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "m3", "type", "ram", "size", "4M");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "os", "socket_path", sock_path("os"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"os\",\"bdev\":\"r3\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"os\",\"bdev\":\"m3\",\"target\":0,\"lun\":1}");
    /* Two request queues, one worker (--threads 1): both LUNs share its loop. */
    assert_int_equal(mgmt_fe_open(sock_path("os"), 2, 4 * MiB, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    for (unsigned l = 0; l < 2; l++)
        clear_ua(vq, 0, l);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    uint8_t *bw = vus_fe_alloc(fe, 65536, 4096);
    fill(bw, 65536, 8);

    must_sh(FE_CEPH_CLUSTER " osd-stop %s", ceph_dir);
    bg_write(&b, fe, bw, 256, &th);
    sleep(3);
    if (atomic_load(&b.done))
        fail_msg("a write completed while the only OSD was down (rc %d status %u)", b.rc,
                 b.c.status);
    /* The worker is not stuck: the RAM LUN on it answers at once. */
    for (int i = 0; i < 5; i++)
        if (mgmt_verified_io(vq, 0, 1, (uint64_t)i * 128, 128, w, r, 9 + i, why, sizeof(why)) < 0)
            fail_msg("RAM LUN while the OSD is down: %s", why);
    must_sh(FE_CEPH_CLUSTER " osd-start %s", ceph_dir);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, 0);
    if (b.c.response != VIRTIO_SCSI_S_OK || b.c.status != 0)
        fail_msg("the write held over the outage: response %u status %u", b.c.response, b.c.status);
    rw(vq, 0, false, 256, r, 128, false, "read the write held over the outage");
    assert_memory_equal(bw, r, 65536);
    if (mgmt_verified_io(vq, 0, 0, 0, 128, w, r, 15, why, sizeof(why)) < 0)
        fail_msg("after the OSD came back: %s", why);

    detach(fe, "os");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r3\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"m3\"}");
}

/* timeout=2: a request the OSD does not answer fails with ABORTED COMMAND, then I/O resumes. */
static void test_rbd_timeout(void **state)
{
    struct vus_fe *fe;
    struct bg_cmd b;
    pthread_t th;
    char why[256];
    uint8_t key, asc;

    (void)state;
    fe_ceph_new_image("fe-to", 16, "");
    rbd_bdev("r4", "fe-to", "{\"timeout\":2}");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "to", "socket_path", sock_path("to"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"to\",\"bdev\":\"r4\",\"target\":0,\"lun\":0}");
    assert_int_equal(mgmt_fe_open(sock_path("to"), 2, 4 * MiB, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    clear_ua(vq, 0, 0);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);

    /* The lock is taken at open; write once so the OSD has seen this client. */
    if (mgmt_verified_io(vq, 0, 0, 0, 128, w, r, 20, why, sizeof(why)) < 0)
        fail_msg("before the outage: %s", why);
    must_sh(FE_CEPH_CLUSTER " osd-stop %s", ceph_dir);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bg_write(&b, fe, w, 512, &th);
    pthread_join(th, NULL);
    long ms = rpc_ms_since(&t0);
    must_sh(FE_CEPH_CLUSTER " osd-start %s", ceph_dir);
    assert_int_equal(b.rc, 0);
    assert_int_equal(b.c.response, VIRTIO_SCSI_S_OK);
    if (b.c.status != 2)
        fail_msg("a write with the OSD down and timeout=2: status %u after %ld ms", b.c.status, ms);
    sense_key_asc(&b.c, &key, &asc);
    assert_int_equal(key, 0x0b); /* ABORTED COMMAND */
    assert_int_equal(asc, 0x2e);
    assert_int_equal(sense_ascq(&b.c), 0x02);
    if (ms < 1500 || ms > 30000)
        fail_msg("the timed-out write took %ld ms (timeout=2)", ms);
    if (mgmt_verified_io(vq, 0, 0, 512, 128, w, r, 21, why, sizeof(why)) < 0)
        fail_msg("after the OSD came back: %s", why);

    detach(fe, "to");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r4\"}");
}

/*
 * The group's daemon runs without --config: this test, last, restarts it
 * with one.  The image's data goes from the first daemon (its orderly exit
 * flushes librbd's cache and releases the lock) to the second, which must
 * take the exclusive lock again on its own.
 */
static void test_rbd_config_restart(void **state)
{
    static const char *const args[] = { "--threads", "1", NULL };
    char why[256];
    uint8_t cdb[16];
    struct vus_fe_cmd c;

    (void)state;
    rpc_cl_close(&cl);
    assert_int_equal(mgmt_stop(&dmn), 0);
    assert_int_equal(mgmt_start(&dmn, true, args), 0);
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);
    fe_ceph_new_image("fe-cfg", 16, "");
    rbd_bdev("r5", "fe-cfg", "{\"id\":\"admin\",\"timeout\":60}");
    struct vus_fe *fe = attach("cfg", "r5", NULL);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    if (mgmt_verified_io(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0, 2048, 128, w, r, 30, why,
                         sizeof(why)) < 0)
        fail_msg("before the restart: %s", why);
    vus_fe_close(fe);
    open_fe = NULL;

    rpc_cl_close(&cl);
    assert_int_equal(mgmt_stop(&dmn), 0);
    assert_int_equal(mgmt_start(&dmn, true, args), 0);
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);

    assert_int_equal(mgmt_fe_open(sock_path("cfg"), 1, 4 * MiB, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    clear_ua(vq, 0, 0);
    assert_int_equal(read_capacity_blocks(fe, 0, 0, NULL), 16 * MiB / 512);
    w = vus_fe_alloc(fe, 65536, 4096);
    r = vus_fe_alloc(fe, 65536, 4096);
    fill(w, 65536, 30);
    cdb_rw16(cdb, false, 2048, 128);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, r, 65536, 2), 0);
    assert_int_equal(c.status, 0);
    if (memcmp(w, r, 65536))
        fail_msg("the data written before the restart is not read back after it");
    /* The restored LUN holds the lock again: a foreign writer is refused. */
    if (sh("rbd bench --no-progress --io-type write --io-size 4096 --io-total 4096 rbd/fe-cfg "
           ">/dev/null 2>&1") == 0)
        fail_msg("rbd bench could write the image the restarted daemon serves");
    if (mgmt_verified_io(vq, 0, 0, 4096, 128, w, r, 31, why, sizeof(why)) < 0)
        fail_msg("after the restart: %s", why);

    detach(fe, "cfg");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"r5\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rbd_io, test_teardown),
        cmocka_unit_test_teardown(test_rbd_resize, test_teardown),
        cmocka_unit_test_teardown(test_rbd_exclusive_and_snap, test_teardown),
        cmocka_unit_test_teardown(test_rbd_osd_outage, test_teardown),
        cmocka_unit_test_teardown(test_rbd_timeout, test_teardown),
        cmocka_unit_test_teardown(test_rbd_config_restart, test_teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, rbd_group_setup, rbd_group_teardown);
}
