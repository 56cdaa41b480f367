/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * type=rbd across a crash of the daemon, against a real single-node Ceph
 * cluster (tests/remote/ceph-cluster.sh), with --config and --state-dir:
 *
 * - kill -9 while the LUN holds the image's exclusive lock: the restarted
 *   daemon takes the lock from its dead predecessor at once (the cluster
 *   would keep it ~30 s, until the dead client's watch expires), the LUN is
 *   back with the data of a FUA write made before the crash, and serves
 *   verified I/O within 10 s of the kill;
 * - a stale record (the lock went to another live daemon since) breaks
 *   nothing: the restored LUN fails to open, and the other daemon keeps the
 *   lock and serves its I/O.
 *
 * The cluster: $VUS_CEPH_DIR (default build/ceph); one already running there
 * is reused, otherwise this program starts it and stops it at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/frontend/fe_ceph.h"
#include "tests/frontend/fe_mgmt_rpc.h"

static char state_dir[128];
/* Per run: a failed run leaves its image locked by a dead client for ~30 s. */
static char img_crash[64], img_stale[64];
static struct mdaemon d2 = { .pid = -1 }; /* another daemon on the same cluster */
static const char *const dmn_args[] = { "--threads", "1", "--state-dir", state_dir, NULL };

static void rbd_bdev(struct rpc_cl *c, const char *name, const char *image)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "type", "rbd", "pool", "rbd",
                          "image", image, "conf", ceph_conf);
    json_decref(rpc_ok_p(c, "bdev_create", p));
}

static int group_setup_ceph(void **state)
{
    (void)state;
    snprintf(img_crash, sizeof(img_crash), "fe-crash-%d", (int)getpid());
    snprintf(img_stale, sizeof(img_stale), "fe-stale-%d", (int)getpid());
    if (fe_ceph_start() < 0)
        return -1;
    if (mgmt_init(&dmn) < 0)
        return -1;
    snprintf(state_dir, sizeof(state_dir), "%s/state", dmn.dir);
    if (mkdir(state_dir, 0700) < 0 || mgmt_start(&dmn, true, dmn_args) < 0)
        return -1;
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static int group_teardown_ceph(void **state)
{
    char cmd[256];
    int ret;

    (void)state;
    rpc_cl_close(&cl);
    if (d2.pid > 0) {
        mgmt_kill9(&d2);
        mgmt_cleanup(&d2);
    }
    ret = mgmt_stop(&dmn);
    /* mgmt_cleanup is flat: the state directory first. */
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    sh("%s", cmd);
    mgmt_cleanup(&dmn);
    fe_ceph_stop();
    return ret == 0 ? 0 : -1;
}

/* A 64 KiB FUA write: durable in the cluster when it completes, whatever happens next. */
static void fua_write(struct vus_fe_vq *vq, uint64_t lba, uint8_t *buf)
{
    struct vus_fe_cmd c;
    struct iovec iov = { buf, 65536 };

    memset(&c, 0, sizeof(c));
    cdb_rw16(c.cdb, true, lba, 128);
    c.cdb[1] |= 0x08;
    c.out = &iov;
    c.out_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, 30000), 0);
    if (c.response != VIRTIO_SCSI_S_OK || c.status != 0)
        fail_msg("FUA write: response %u status %u", c.response, c.status);
}

static void read_back(struct vus_fe_vq *vq, uint64_t lba, uint8_t *want, uint8_t *r)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, false, lba, 128);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, r, 65536, 2), 0);
    if (c.status != 0)
        fail_msg("reading lba %llu back: status %u", (unsigned long long)lba, c.status);
    if (memcmp(want, r, 65536))
        fail_msg("lba %llu: the FUA write made before the crash is not read back",
                 (unsigned long long)lba);
}

static bool record_has(const char *bdev, const char *what)
{
    char path[256], text[1024];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/rbd-%s.json", state_dir, bdev);
    f = fopen(path, "r");
    if (!f)
        return false;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, what) != NULL;
}

static void test_crash_restart_takes_lock(void **state)
{
    char why[256];
    struct timespec t0;

    (void)state;
    fe_ceph_new_image(img_crash, 16, "");
    rbd_bdev(&cl, "rc", img_crash);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "cr", "socket_path", sock_path("cr"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"cr\",\"bdev\":\"rc\",\"target\":0,\"lun\":0}");
    struct vus_fe *fe;
    assert_int_equal(mgmt_fe_open(sock_path("cr"), 1, 4 * MiB, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    clear_ua(vq, 0, 0);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);

    fill(w, 65536, 40);
    fua_write(vq, 1024, w);
    if (!record_has("rc", img_crash) || !record_has("rc", "\"owner\""))
        fail_msg("no lock owner record for rc under %s", state_dir);

    /* A crash: the dead client keeps the lock until the cluster expires its watch. */
    vus_fe_close(fe);
    open_fe = NULL;
    rpc_cl_close(&cl);
    mgmt_kill9(&dmn);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mgmt_start(&dmn, true, dmn_args), 0);
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);
    if (mgmt_fe_open(sock_path("cr"), 1, 4 * MiB, &fe) != 0) {
        mgmt_dump_log(&dmn, "restart");
        fail_msg("controller cr is not back after the restart");
    }
    open_fe = fe;
    vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    w = vus_fe_alloc(fe, 65536, 4096);
    r = vus_fe_alloc(fe, 65536, 4096);
    clear_ua(vq, 0, 0);
    fill(w, 65536, 40);
    read_back(vq, 1024, w, r);
    if (mgmt_verified_io(vq, 0, 0, 2048, 128, w, r, 41, why, sizeof(why)) < 0) {
        mgmt_dump_log(&dmn, "restart");
        fail_msg("after the restart: %s", why);
    }
    long ms = rpc_ms_since(&t0);
    print_message("kill -9 to verified I/O on the restored RBD LUN: %ld ms\n", ms);
    if (ms >= 10000)
        fail_msg("the LUN took %ld ms to come back (the lock was waited out, not taken over)", ms);
    if (!mgmt_log_has(&dmn, (const char *const[]){ "dead predecessor", "breaking the lock", NULL }))
        fail_msg("the restart did not say it took the lock over");
    /* The restarted daemon holds the lock for good: a foreign writer is refused. */
    if (sh("rbd bench --no-progress --io-type write --io-size 4096 --io-total 4096 rbd/%s "
           ">/dev/null 2>&1",
           img_crash) == 0)
        fail_msg("rbd bench could write the image the restarted daemon serves");
    if (mgmt_verified_io(vq, 0, 0, 4096, 128, w, r, 42, why, sizeof(why)) < 0)
        fail_msg("after the foreign writer: %s", why);

    vus_fe_close(fe);
    open_fe = NULL;
    rpc_dof(&cl, "controller_delete", "{s:s}", "name", "cr");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"rc\"}");
    /* A clean release leaves no record to take over from. */
    if (record_has("rc", "owner"))
        fail_msg("bdev_delete left the lock owner record of rc behind");
    sh("rbd rm --no-progress rbd/%s >/dev/null 2>&1", img_crash);
}

/* Break the exclusive lock of image as an operator would (`rbd lock rm`, which blocklists). */
static void operator_breaks_lock(const char *image)
{
    char cmd[256], out[4096];
    json_t *locks, *l;
    json_error_t jerr;
    size_t n;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "rbd lock ls --format json rbd/%s", image);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    pclose(p);
    out[n] = '\0';
    locks = json_loads(out, 0, &jerr);
    l = json_is_array(locks) ? json_array_get(locks, 0) : NULL;
    if (!json_is_string(json_object_get(l, "id")) || !json_is_string(json_object_get(l, "locker")))
        fail_msg("rbd lock ls rbd/%s: %s", image, out);
    must_sh("rbd lock rm rbd/%s '%s' '%s' >/dev/null", image,
            json_string_value(json_object_get(l, "id")),
            json_string_value(json_object_get(l, "locker")));
    json_decref(locks);
}

static void test_stale_record_breaks_nothing(void **state)
{
    static const char *const d2_args[] = { "--threads", "1", NULL };
    char why[256], sock2[160];
    struct rpc_cl cl2;

    (void)state;
    fe_ceph_new_image(img_stale, 16, "");
    rbd_bdev(&cl, "rs", img_stale);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "st", "socket_path", sock_path("st"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"st\",\"bdev\":\"rs\",\"target\":0,\"lun\":0}");
    rpc_cl_close(&cl);
    mgmt_kill9(&dmn);
    if (!record_has("rs", img_stale))
        fail_msg("no lock owner record for rs under %s", state_dir);

    /*
     * The dead daemon's lock is broken by hand and another daemon (its own
     * state directory, none at all here) takes the image: our record is stale.
     */
    operator_breaks_lock(img_stale);
    assert_int_equal(mgmt_init(&d2), 0);
    assert_int_equal(mgmt_start(&d2, false, d2_args), 0);
    assert_int_equal(rpc_cl_connect(&cl2, d2.rpc, 2000), 0);
    rbd_bdev(&cl2, "rs", img_stale);
    snprintf(sock2, sizeof(sock2), "%s/st2.sock", d2.dir);
    rpc_dof(&cl2, "controller_create", "{s:s, s:s}", "name", "st2", "socket_path", sock2);
    rpc_do(&cl2, "lun_attach", "{\"controller\":\"st2\",\"bdev\":\"rs\",\"target\":0,\"lun\":0}");
    struct vus_fe *fe2;
    assert_int_equal(mgmt_fe_open(sock2, 1, 4 * MiB, &fe2), 0);
    struct vus_fe_vq *vq2 = vus_fe_vq(fe2, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe2, 65536, 4096), *r = vus_fe_alloc(fe2, 65536, 4096);
    clear_ua(vq2, 0, 0);
    if (mgmt_verified_io(vq2, 0, 0, 0, 128, w, r, 50, why, sizeof(why)) < 0)
        fail_msg("the second daemon, before: %s", why);

    /* Our daemon comes back: rs is not restored, and the live owner keeps its lock. */
    assert_int_equal(mgmt_start(&dmn, true, dmn_args), 0);
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    if (mgmt_find(list, "name", "rs"))
        fail_msg("rs was restored although another live daemon holds its image's lock");
    json_decref(list);
    if (!mgmt_log_has(&dmn, (const char *const[]){ "not by our predecessor", NULL }))
        fail_msg("the restart did not say why it left the lock alone");
    for (int i = 0; i < 3; i++)
        if (mgmt_verified_io(vq2, 0, 0, (uint64_t)i * 128, 128, w, r, 51 + i, why, sizeof(why)) < 0)
            fail_msg("the second daemon after ours restarted (was it blocklisted?): %s", why);

    vus_fe_close(fe2);
    rpc_cl_close(&cl2);
    assert_int_equal(mgmt_stop(&d2), 0);
    mgmt_cleanup(&d2);
    rpc_dof(&cl, "controller_delete", "{s:s}", "name", "st");
    sh("rbd rm --no-progress rbd/%s >/dev/null 2>&1", img_stale);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_crash_restart_takes_lock, test_teardown),
        cmocka_unit_test_teardown(test_stale_record_breaks_nothing, test_teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, group_setup_ceph, group_teardown_ceph);
}
