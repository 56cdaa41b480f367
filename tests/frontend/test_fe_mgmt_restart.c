/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The persisted configuration (--config, issue #10) through the real
 * daemon:
 *
 * - bdevs (ram, file, null), controllers and LUNs created by RPC and by the
 *   CLI, some created and deleted again; data written through a file LUN;
 *   kill -9; a restart with the same --config brings back exactly the same
 *   controller_list, bdev_list and lun_list, the controller sockets answer
 *   (stale socket files of the killed daemon replaced), and a frontend reads
 *   the data back from the file LUN (and its serial from VPD page 80h);
 * - a second frontend on a socket that already has one is refused at once,
 *   with a log line, the first one unaffected;
 * - a config whose file bdev's image has gone and one of whose controller
 *   sockets is taken by another process comes up with everything else, and
 *   the log names exactly the items that failed (config FILE: ITEM: reason);
 *   once the image is back and the socket free, the next start restores
 *   everything (a failed item is not dropped from the file by a start);
 * - a frontend connecting the moment the daemon's socket appears finds
 *   every LUN of the configuration there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sys/stat.h>

#include "tests/frontend/fe_mgmt.h"

#define MiB (1024u * 1024u)

static struct mdaemon dmn;
static struct rpc_cl cl;
static const char *const args[] = { "--threads", "2", NULL };

static int test_setup(void **state)
{
    (void)state;
    memset(&cl, 0, sizeof(cl));
    cl.fd = -1;
    return mgmt_init(&dmn) == 0 ? 0 : -1;
}

static int test_teardown(void **state)
{
    (void)state;
    rpc_cl_close(&cl);
    if (dmn.pid > 0)
        mgmt_stop(&dmn);
    mgmt_cleanup(&dmn);
    return 0;
}

static void start_and_connect(void)
{
    rpc_cl_close(&cl);
    assert_int_equal(mgmt_start(&dmn, true, args), 0);
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);
}

/* A path in the test directory, in one of 8 rotating buffers: copy what must last. */
static const char *dpath(const char *name)
{
    static char buf[8][160];
    static unsigned k;
    char *p = buf[k++ % 8];

    return mgmt_path(&dmn, p, 160, name);
}

static void make_image(const char *path, uint64_t size)
{
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

/* Everything the daemon reports about its configuration, as one object (new reference). */
static json_t *snapshot(void)
{
    json_t *ctrls = rpc_ok(&cl, "controller_list", NULL);
    json_t *all = json_pack("{s:o, s:o, s:{}}", "controllers", json_incref(ctrls), "bdevs",
                            rpc_ok(&cl, "bdev_list", NULL), "luns");
    size_t i;
    json_t *c;

    json_array_foreach(ctrls, i, c)
    {
        const char *name = mgmt_str(c, "name");
        json_object_set_new(json_object_get(all, "luns"), name,
                            rpc_okf(&cl, "lun_list", "{s:s}", "controller", name));
    }
    json_decref(ctrls);
    return all;
}

/* Wait until controller_list says name has no frontend. */
static void wait_disconnected(const char *name)
{
    for (int i = 0; i < 100; i++) {
        json_t *l = rpc_ok(&cl, "controller_list", NULL);
        json_t *e = mgmt_find(l, "name", name);
        bool conn = e && json_is_true(json_object_get(e, "connected"));
        json_decref(l);
        if (!conn)
            return;
        usleep(20000);
    }
    fail_msg("%s still reported connected 2 s after its frontend closed", name);
}

static void read_vpd80(struct vus_fe *fe, unsigned target, unsigned lun, char *serial, size_t len)
{
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 256, 64);
    struct vus_fe_cmd c;
    struct iovec iov = { buf, 255 };

    memset(&c, 0, sizeof(c));
    c.target = target;
    c.lun = lun;
    c.cdb[0] = 0x12;
    c.cdb[1] = 1;
    c.cdb[2] = 0x80;
    c.cdb[4] = 255;
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(buf[1], 0x80);
    size_t n = (size_t)buf[2] << 8 | buf[3];
    if (n >= len)
        n = len - 1;
    memcpy(serial, buf + 4, n);
    serial[n] = 0;
    while (n && serial[n - 1] == ' ')
        serial[--n] = 0;
}

static void test_restore_after_kill9(void **state)
{
    char out[8192], why[256];
    char img[160], s1[160], s2[160];
    struct vus_fe *fe, *fe2;
    struct stat st;

    (void)state;
    mgmt_path(&dmn, img, sizeof(img), "f0.img");
    mgmt_path(&dmn, s1, sizeof(s1), "vm1.sock");
    mgmt_path(&dmn, s2, sizeof(s2), "vm2.sock");
    make_image(img, 8 * MiB);
    start_and_connect();

    /* Some of it through the CLI, some through RPC. */
    mgmt_ctl_ok(&dmn, out, "bdev", "create", "name=r0", "type=ram", "size=4M", "block-size=4096");
    char kv[256];
    snprintf(kv, sizeof(kv), "path=%s", img);
    mgmt_ctl_ok(&dmn, out, "bdev", "create", "name=f0", "type=file", kv);
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s, s:b}", "name", "n0", "type", "null", "size", "1G",
            "readonly", 1);
    rpc_do(&cl, "bdev_create", "{\"name\":\"gone\",\"type\":\"ram\",\"size\":\"1M\"}");
    snprintf(kv, sizeof(kv), "socket=%s", s1);
    mgmt_ctl_ok(&dmn, out, "controller", "create", "name=vm1", kv);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "vm2", "socket_path", s2);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "gonec", "socket_path",
            dpath("gonec.sock"));
    rpc_do(&cl, "lun_attach",
           "{\"controller\":\"vm1\",\"bdev\":\"f0\",\"target\":0,\"lun\":0,"
           "\"serial\":\"f0-serial\",\"wwn\":\"5000000000000001\"}");
    mgmt_ctl_ok(&dmn, out, "lun", "attach", "controller=vm1", "bdev=r0", "lun=1");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm2\",\"bdev\":\"r0\",\"target\":1,\"lun\":3}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm2\",\"bdev\":\"n0\"}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm2\",\"bdev\":\"gone\",\"target\":2}");
    rpc_do(&cl, "lun_detach", "{\"controller\":\"vm2\",\"target\":2,\"lun\":0}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gone\"}");
    rpc_do(&cl, "controller_delete", "{\"name\":\"gonec\"}");

    /* Data through the file LUN. */
    assert_int_equal(mgmt_fe_open(s1, 1, 4 * MiB, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, MiB, 4096), *r = vus_fe_alloc(fe, MiB, 4096);
    clear_ua(vq, 0, 0);
    if (mgmt_verified_io(vq, 0, 0, 1000, 2048, w, r, 42, why, sizeof(why)) < 0)
        fail_msg("writing through f0: %s", why);
    vus_fe_close(fe);
    wait_disconnected("vm1");

    json_t *before = snapshot();
    assert_int_equal(json_array_size(json_object_get(before, "controllers")), 2);
    assert_int_equal(json_array_size(json_object_get(before, "bdevs")), 3);

    /* The file itself: 0600, the three sections, nothing that was deleted. */
    assert_int_equal(stat(dmn.config, &st), 0);
    if ((st.st_mode & 0777) != 0600)
        fail_msg("%s has mode %o, not 600", dmn.config, st.st_mode & 0777);
    json_t *cfg = json_load_file(dmn.config, 0, NULL);
    assert_non_null(cfg);
    assert_int_equal(json_array_size(json_object_get(cfg, "bdevs")), 3);
    assert_int_equal(json_array_size(json_object_get(cfg, "controllers")), 2);
    assert_int_equal(json_array_size(json_object_get(cfg, "luns")), 4);
    json_decref(cfg);

    mgmt_kill9(&dmn);
    /* The killed daemon's sockets are still there, stale. */
    assert_int_equal(stat(s1, &st), 0);
    start_and_connect();

    json_t *after = snapshot();
    mgmt_assert_json_equal(before, after, "the configuration after kill -9 and restart");
    json_decref(before);
    json_decref(after);

    /* The restored controller serves the data written before the kill. */
    assert_int_equal(mgmt_fe_open(s1, 1, 4 * MiB, &fe), 0);
    vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    w = vus_fe_alloc(fe, MiB, 4096);
    r = vus_fe_alloc(fe, MiB, 4096);
    clear_ua(vq, 0, 0);
    fill(w, MiB, 42);
    uint8_t cdb[16];
    struct vus_fe_cmd c;
    cdb_rw16(cdb, false, 1000, 2048);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, r, MiB, 2), 0);
    assert_int_equal(c.status, 0);
    if (memcmp(w, r, MiB))
        fail_msg("the data written through f0 before the kill is not read back after restart");
    char serial[64];
    read_vpd80(fe, 0, 0, serial, sizeof(serial));
    assert_string_equal(serial, "f0-serial");

    /* The other controller too, with its LUN on target 1. */
    assert_int_equal(mgmt_fe_open(s2, 1, MiB, &fe2), 0);
    clear_ua(vus_fe_vq(fe2, VIRTIO_SCSI_VQ_REQUEST), 1, 3);

    /* A second frontend on vm1 is refused at once; vm1's own and vm2's are unaffected. */
    struct vus_fe_config cfg2 = { .socket_path = s1,
                                  .timeout_ms = T_TIMEOUT,
                                  .connect_retry_ms = 1 };
    struct vus_fe *fe3 = NULL;
    struct timespec t0;
    long logpos = mgmt_log_size(&dmn);
    for (int i = 0; i < 3; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (vus_fe_connect(&cfg2, &fe3) == 0)
            fail_msg("a second frontend on vm1 was accepted");
        long ms = rpc_ms_since(&t0);
        if (ms > 1000)
            fail_msg("the second frontend on vm1 waited %ld ms to be refused", ms);
    }
    /* A raw connection is closed too, not left in the backlog. */
    int fd = rpc_unix_connect(s1);
    assert_true(fd >= 0);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (poll(&pfd, 1, 1000) != 1)
        fail_msg("a second connection to vm1 was not closed within 1 s");
    char b;
    assert_true(recv(fd, &b, 1, MSG_DONTWAIT) <= 0);
    close(fd);
    const char *w1[] = { "vm1", NULL }, *w2[] = { s1, NULL };
    if (!mgmt_log_wait(&dmn, logpos, w1, 1000) && !mgmt_log_wait(&dmn, logpos, w2, 10))
        fail_msg("no new log line names vm1 or %s after a second frontend was refused", s1);
    if (mgmt_verified_io(vq, 0, 0, 5000, 64, w, r, 7, why, sizeof(why)) < 0)
        fail_msg("vm1's frontend after the second one was refused: %s", why);
    json_t *l = rpc_ok(&cl, "controller_list", NULL);
    assert_true(json_is_true(json_object_get(mgmt_find(l, "name", "vm1"), "connected")));
    assert_true(json_is_true(json_object_get(mgmt_find(l, "name", "vm2"), "connected")));
    json_decref(l);
    vus_fe_close(fe2);
    vus_fe_close(fe);

    /* Restored items are persisted like the others: a change after restart is saved. */
    rpc_do(&cl, "lun_detach", "{\"controller\":\"vm2\",\"target\":1,\"lun\":3}");
    cfg = json_load_file(dmn.config, 0, NULL);
    assert_non_null(cfg);
    assert_int_equal(json_array_size(json_object_get(cfg, "luns")), 3);
    assert_int_equal(json_array_size(json_object_get(cfg, "bdevs")), 3);
    json_decref(cfg);
    assert_int_equal(mgmt_stop(&dmn), 0);
}

/* The items of the standard config used below, in their order in the file. */
static void build_config_for_failures(const char *img0, const char *img1)
{
    make_image(img0, 4 * MiB);
    make_image(img1, 4 * MiB);
    start_and_connect();
    rpc_do(&cl, "bdev_create", "{\"name\":\"r0\",\"type\":\"ram\",\"size\":\"4M\"}");
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "f0", "type", "file", "path", img0);
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "f1", "type", "file", "path", img1);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "vm1", "socket_path",
            dpath("vm1.sock"));
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "vm2", "socket_path",
            dpath("vm2.sock"));
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "vm3", "socket_path",
            dpath("vm3.sock"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm1\",\"bdev\":\"f0\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm1\",\"bdev\":\"r0\",\"target\":0,\"lun\":1}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm2\",\"bdev\":\"f1\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"vm3\",\"bdev\":\"f1\",\"target\":0,\"lun\":0}");
}

static bool log_line_with(const char *a, const char *b, const char *c)
{
    const char *w[] = { a, b, c, NULL };
    return mgmt_log_has(&dmn, w);
}

/*
 * f0's image removed and vm2's socket path held by another listener: the
 * daemon comes up with r0, f1, vm1 (LUN 0:1 only), vm3, and the log names
 * bdevs[1] (f0), controllers[1] (vm2), and the LUNs that depended on them.
 */
static void test_missing_image_and_taken_socket(void **state)
{
    char img0[160], img1[160], s2[160], prefix[256];

    (void)state;
    mgmt_path(&dmn, img0, sizeof(img0), "f0.img");
    mgmt_path(&dmn, img1, sizeof(img1), "f1.img");
    mgmt_path(&dmn, s2, sizeof(s2), "vm2.sock");
    build_config_for_failures(img0, img1);
    json_t *full = snapshot();
    rpc_cl_close(&cl);
    assert_int_equal(mgmt_stop(&dmn), 0);

    assert_int_equal(unlink(img0), 0);
    unlink(s2); /* the daemon may have left it; someone else takes the path now */
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(s2) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, s2, strlen(s2) + 1);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);

    start_and_connect();
    json_t *bdevs = rpc_ok(&cl, "bdev_list", NULL);
    assert_non_null(mgmt_find(bdevs, "name", "r0"));
    assert_non_null(mgmt_find(bdevs, "name", "f1"));
    assert_null(mgmt_find(bdevs, "name", "f0"));
    assert_int_equal(json_array_size(bdevs), 2);
    json_decref(bdevs);
    json_t *ctrls = rpc_ok(&cl, "controller_list", NULL);
    assert_non_null(mgmt_find(ctrls, "name", "vm1"));
    assert_non_null(mgmt_find(ctrls, "name", "vm3"));
    assert_null(mgmt_find(ctrls, "name", "vm2"));
    assert_int_equal(json_array_size(ctrls), 2);
    json_decref(ctrls);
    json_t *luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"vm1\"}");
    assert_int_equal(json_array_size(luns), 1);
    assert_int_equal(mgmt_int(json_array_get(luns, 0), "lun"), 1);
    assert_string_equal(mgmt_str(json_array_get(luns, 0), "bdev"), "r0");
    json_decref(luns);
    luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"vm3\"}");
    assert_int_equal(json_array_size(luns), 1);
    json_decref(luns);

    /* The other process's socket was left alone. */
    int fd = rpc_unix_connect(s2);
    if (fd < 0)
        fail_msg("the daemon took %s from the process listening on it: %s", s2, strerror(-fd));
    close(fd);

    /* The log names exactly the failed items, in config_item_error's form. */
    snprintf(prefix, sizeof(prefix), "config %s: ", dmn.config);
    if (!log_line_with(prefix, "bdevs[1] (f0): ", img0))
        fail_msg("no log line '%sbdevs[1] (f0): ...' naming %s", prefix, img0);
    if (!log_line_with(prefix, "controllers[1] (vm2): ", s2))
        fail_msg("no log line '%scontrollers[1] (vm2): ...' naming %s", prefix, s2);
    if (!log_line_with(prefix, "luns[0] (vm1 0:0 -> f0)", NULL))
        fail_msg("no log line '%sluns[0] (vm1 0:0 -> f0): ...'", prefix);
    if (!log_line_with(prefix, "luns[2] (vm2 0:0 -> f1)", NULL))
        fail_msg("no log line '%sluns[2] (vm2 0:0 -> f1): ...'", prefix);
    static const char *const fine[] = { "bdevs[0]",       "bdevs[2]", "controllers[0]",
                                        "controllers[2]", "luns[1]",  "luns[3]" };
    for (unsigned i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        if (log_line_with(prefix, fine[i], NULL))
            fail_msg("the log reports %s as failed, but it was restored", fine[i]);

    /* What did come up works. */
    struct vus_fe *fe;
    assert_int_equal(mgmt_fe_open(dpath("vm1.sock"), 1, MiB, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    char why[256];
    clear_ua(vq, 0, 1);
    if (mgmt_verified_io(vq, 0, 1, 0, 128, w, r, 9, why, sizeof(why)) < 0)
        fail_msg("vm1 0:1 after a partial restore: %s", why);
    vus_fe_close(fe);

    /*
     * Image back, socket free, daemon restarted without any change made in
     * between: everything is back (a start does not drop what it could not apply).
     */
    rpc_cl_close(&cl);
    assert_int_equal(mgmt_stop(&dmn), 0);
    close(lfd);
    unlink(s2);
    make_image(img0, 4 * MiB);
    start_and_connect();
    json_t *again = snapshot();
    mgmt_assert_json_equal(full, again,
                           "the configuration once the image is back and the socket free");
    json_decref(again);
    json_decref(full);
    assert_int_equal(mgmt_stop(&dmn), 0);
}

/*
 * A frontend that connects the moment the socket appears (QEMU reconnecting
 * to a restarted daemon) finds every LUN of the configuration: the first
 * REPORT LUNS lists all of them, and none carries REPORTED LUNS DATA HAS
 * CHANGED (it would, had any been attached after the frontend came).
 */
static void test_frontend_at_start_finds_every_lun(void **state)
{
    enum { NLUNS = 256 };
    char sock[160];

    (void)state;
    mgmt_path(&dmn, sock, sizeof(sock), "vm1.sock");
    start_and_connect();
    rpc_do(&cl, "bdev_create", "{\"name\":\"r0\",\"type\":\"ram\",\"size\":\"1M\"}");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "vm1", "socket_path", sock);
    /* Target 0's LUNs come last in the configuration: the others make the restore take time. */
    for (int t = 3; t >= 0; t--)
        for (int i = 0; i < NLUNS; i++)
            rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", "vm1", "bdev", "r0",
                    "target", t, "lun", i);
    rpc_cl_close(&cl);
    assert_int_equal(mgmt_stop(&dmn), 0);
    unlink(sock);

    /* Not mgmt_start: it waits for the RPC socket, which comes after the restore. */
    const char *argv[] = {
        mgmt_daemon_bin(), "--rpc-socket", dmn.rpc, "--config", dmn.config, NULL
    };
    snprintf(dmn.log, sizeof(dmn.log), "%s/daemon.%u.log", dmn.dir, dmn.starts++);
    dmn.pid = fe_spawn(argv[0], argv, dmn.log);
    assert_true(dmn.pid > 0);
    /* Connect at once: mgmt_fe_open's retries sleep 10 ms, long enough for a whole restore. */
    struct timespec t0;
    struct stat st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (stat(sock, &st) < 0 && rpc_ms_since(&t0) < 10000)
        ;
    struct vus_fe *fe;
    assert_int_equal(mgmt_fe_open(sock, 1, MiB, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 8 + 8 * NLUNS, 4096);
    struct iovec iov = { buf, 8 + 8 * NLUNS };
    struct vus_fe_cmd c;

    memset(&c, 0, sizeof(c));
    c.cdb[0] = 0xa0; /* REPORT LUNS */
    put_be32(c.cdb + 6, (uint32_t)iov.iov_len);
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    if (get_be32(buf) != 8 * NLUNS)
        fail_msg("the first REPORT LUNS lists %u LUNs of %u", get_be32(buf) / 8, NLUNS);
    for (unsigned lun = 0; lun < NLUNS; lun += NLUNS - 1) {
        uint8_t key, asc;

        memset(&c, 0, sizeof(c));
        c.lun = lun; /* TEST UNIT READY */
        assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        sense_key_asc(&c, &key, &asc);
        if (c.status != 0 && asc == 0x3f)
            fail_msg("LUN %u reports its neighbours' arrival (sense %x/%02x/%02x)", lun, key, asc,
                     c.sense[13]);
    }
    vus_fe_close(fe);
    assert_int_equal(mgmt_stop(&dmn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_after_kill9, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_missing_image_and_taken_socket, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_frontend_at_start_finds_every_lun, test_setup,
                                        test_teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
