/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane's JSON-RPC methods against the real daemon (issue
 * #10), started with --rpc-socket only:
 *
 * - bdev_resize of a RAM and a file bdev -> PARAM_CHANGE event, CAPACITY
 *   DATA HAS CHANGED once, READ CAPACITY(16) shows the new size;
 * - stats counts exactly the commands and bytes the test sent;
 * - the CLI against the same daemon: a daemon error exits 1 with one line.
 *
 * Wrong params and bad clients: test_fe_mgmt_errors.c; hotplug:
 * test_fe_mgmt_hotplug.c; the fixture: fe_mgmt_rpc.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_mgmt_rpc.h"

/* ---- resize as the frontend sees it ---- */

static void test_resize(void **state)
{
    char img[160], why[256];
    struct stat st;

    (void)state;
    struct vus_fe *fe = ctrl_with_frontend("rs", "rs0", "4M");
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);

    assert_true(vus_fe_features(fe) & (1ull << VIRTIO_SCSI_F_CHANGE));
    assert_int_equal(vus_fe_event_post(fe, 8), 0);
    if (mgmt_verified_io(vq, 0, 0, 0, 128, w, r, 3, why, sizeof(why)) < 0)
        fail_msg("before the resize: %s", why);

    /* RAM: grow. */
    json_t *res = rpc_ok(&cl, "bdev_resize", "{\"name\":\"rs0\",\"size\":\"8M\"}");
    assert_int_equal(mgmt_int(res, "size"), 8 * MiB);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0, 0, "resize rs0 to 8M");
    expect_ua_once(vq, 0, 0, 0x2a, 0x09);
    assert_int_equal(read_capacity_blocks(fe, 0, 0, NULL), 8 * MiB / 512);
    /* The old data is still there, and the new end is usable. */
    uint8_t cdb[16];
    struct vus_fe_cmd c;
    cdb_rw16(cdb, false, 0, 128);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, r, 65536, 2), 0);
    assert_int_equal(c.status, 0);
    fill(w, 65536, 3);
    assert_memory_equal(w, r, 65536);
    if (mgmt_verified_io(vq, 0, 0, 8 * MiB / 512 - 128, 128, w, r, 4, why, sizeof(why)) < 0)
        fail_msg("the last 64 KiB after growing: %s", why);
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(mgmt_int(mgmt_find(list, "name", "rs0"), "size"), 8 * MiB);
    json_decref(list);
    list = rpc_ok(&cl, "lun_list", "{\"controller\":\"rs\"}");
    assert_int_equal(mgmt_int(json_array_get(list, 0), "size"), 8 * MiB);
    json_decref(list);
    no_more_events(fe);

    /* A file bdev at 0:1: resized to a given size (the file follows), then re-read. */
    mgmt_path(&dmn, img, sizeof(img), "rs1.img");
    int fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4 * MiB), 0);
    close(fd);
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "rs1", "type", "file", "path", img);
    rpc_do(&cl, "lun_attach", "{\"controller\":\"rs\",\"bdev\":\"rs1\",\"target\":0,\"lun\":1}");
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 0, 1,
                 "attach rs1");
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    clear_ua(vq, 0, 1);
    assert_int_equal(read_capacity_blocks(fe, 0, 1, NULL), 4 * MiB / 512);

    res = rpc_ok(&cl, "bdev_resize", "{\"name\":\"rs1\",\"size\":\"6M\"}");
    assert_int_equal(mgmt_int(res, "size"), 6 * MiB);
    json_decref(res);
    assert_int_equal(stat(img, &st), 0);
    if (st.st_size != 6 * MiB)
        fail_msg("bdev_resize rs1 to 6M: the file is %lld bytes", (long long)st.st_size);
    expect_event(fe, VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0, 1, "resize rs1 to 6M");
    expect_ua_once(vq, 0, 1, 0x2a, 0x09);
    assert_int_equal(read_capacity_blocks(fe, 0, 1, NULL), 6 * MiB / 512);
    if (mgmt_verified_io(vq, 0, 1, 6 * MiB / 512 - 128, 128, w, r, 5, why, sizeof(why)) < 0)
        fail_msg("the last 64 KiB of rs1 after growing: %s", why);

    /* Someone else grows the file; bdev_resize without size re-reads it. */
    assert_int_equal(truncate(img, 10 * MiB), 0);
    res = rpc_ok(&cl, "bdev_resize", "{\"name\":\"rs1\"}");
    assert_int_equal(mgmt_int(res, "size"), 10 * MiB);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0, 1, "rs1 re-read at 10M");
    expect_ua_once(vq, 0, 1, 0x2a, 0x09);
    assert_int_equal(read_capacity_blocks(fe, 0, 1, NULL), 10 * MiB / 512);
    /* The RAM LUN saw nothing of it. */
    tur(vq, 0, 0, &c);
    assert_int_equal(c.status, 0);

    /* Shrink: blocks past the new end are out of range. */
    res = rpc_ok(&cl, "bdev_resize", "{\"name\":\"rs1\",\"size\":\"2M\"}");
    assert_int_equal(mgmt_int(res, "size"), 2 * MiB);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0, 1, "rs1 shrunk to 2M");
    expect_ua_once(vq, 0, 1, 0x2a, 0x09);
    memset(&c, 0, sizeof(c));
    c.lun = 1;
    cdb_rw16(c.cdb, false, 2 * MiB / 512, 1);
    struct iovec iov = { r, 512 };
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 2);
    uint8_t key, asc;
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    assert_int_equal(asc, 0x21);
    no_more_events(fe);

    vus_fe_close(fe);
    rpc_do(&cl, "controller_delete", "{\"name\":\"rs\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"rs0\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"rs1\"}");
}

/* ---- statistics ---- */

/*
 * The stats of one LUN (new reference): lun_stats_to_json's object
 * (src/stats/lun_stats.h) with target, lun and bdev added.
 */
static json_t *lun_stats(const char *ctrl, unsigned target, unsigned lun)
{
    json_t *s =
        rpc_okf(&cl, "stats", "{s:s, s:i, s:i}", "controller", ctrl, "target", target, "lun", lun);
    json_t *ctrls = json_object_get(s, "controllers");
    char *t = json_dumps(s, JSON_COMPACT);

    if (json_array_size(ctrls) != 1)
        fail_msg("stats for %s %u:%u: expected one controller: %.500s", ctrl, target, lun, t);
    json_t *c0 = json_array_get(ctrls, 0);
    assert_string_equal(mgmt_str(c0, "name"), ctrl);
    json_t *luns = json_object_get(c0, "luns");
    if (json_array_size(luns) != 1)
        fail_msg("stats for %s %u:%u: expected one LUN: %.500s", ctrl, target, lun, t);
    json_t *e = json_array_get(luns, 0);
    assert_int_equal(mgmt_int(e, "target"), target);
    assert_int_equal(mgmt_int(e, "lun"), lun);
    static const char *const keys[] = { "ops",    "bytes_read", "bytes_written",
                                        "errors", "tmf",        "latency" };
    for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!json_object_get(e, keys[i]))
            fail_msg("stats: the LUN entry has no '%s' (lun_stats_to_json's keys): %.700s", keys[i],
                     t);
    free(t);
    json_incref(e);
    json_decref(s);
    return e;
}

/* An integer at a dotted path ("errors.sense_key.illegal_request"); fails when absent. */
static json_int_t stat_at(json_t *e, const char *path)
{
    char buf[128];
    json_t *v = e;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    if (!json_is_integer(v)) {
        char *t = json_dumps(e, JSON_COMPACT);
        fail_msg("stats: no integer at %s in %.700s", path, t);
    }
    return json_integer_value(v);
}

/* Sum of an object's integer members (the TMF kinds). */
static json_int_t sum_ints(json_t *v)
{
    json_int_t n = 0;
    const char *k;
    json_t *x;

    json_object_foreach(v, k, x)
    {
        n += json_integer_value(x);
    }
    return n;
}

struct lun_counts {
    json_int_t reads, writes, unmaps, flushes, read_bytes, write_bytes, errors, tmfs, lat_read,
        lat_write, illegal_request, unit_attention;
};

static void counts_of(json_t *e, struct lun_counts *c)
{
    c->reads = stat_at(e, "ops.read");
    c->writes = stat_at(e, "ops.write");
    c->unmaps = stat_at(e, "ops.unmap");
    c->flushes = stat_at(e, "ops.flush");
    c->read_bytes = stat_at(e, "bytes_read");
    c->write_bytes = stat_at(e, "bytes_written");
    c->errors = stat_at(e, "errors.total");
    c->tmfs = sum_ints(json_object_get(e, "tmf"));
    c->lat_read = stat_at(e, "latency.read.count");
    c->lat_write = stat_at(e, "latency.write.count");
    c->illegal_request = stat_at(e, "errors.sense_key.illegal_request");
    c->unit_attention = stat_at(e, "errors.sense_key.unit_attention");
}

/* The counters reach exactly these values (workers count at completion: allow 1 s). */
static void expect_stats(const char *ctrl, unsigned target, unsigned lun, const char *bdev,
                         const struct lun_counts *want)
{
    struct lun_counts got;
    json_t *e = NULL;

    for (int tries = 0; tries < 50; tries++) {
        json_decref(e);
        e = lun_stats(ctrl, target, lun);
        counts_of(e, &got);
        if (!memcmp(&got, want, sizeof(got)))
            break;
        usleep(20000);
    }
    if (memcmp(&got, want, sizeof(got))) {
        char *t = json_dumps(e, JSON_COMPACT);
        fail_msg("stats %s %u:%u: got ops.read %lld ops.write %lld ops.unmap %lld ops.flush %lld "
                 "bytes_read %lld bytes_written %lld errors.total %lld tmf %lld latency.read.count "
                 "%lld latency.write.count %lld illegal_request %lld unit_attention %lld; expected "
                 "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld (%.900s)",
                 ctrl, target, lun, (long long)got.reads, (long long)got.writes,
                 (long long)got.unmaps, (long long)got.flushes, (long long)got.read_bytes,
                 (long long)got.write_bytes, (long long)got.errors, (long long)got.tmfs,
                 (long long)got.lat_read, (long long)got.lat_write, (long long)got.illegal_request,
                 (long long)got.unit_attention, (long long)want->reads, (long long)want->writes,
                 (long long)want->unmaps, (long long)want->flushes, (long long)want->read_bytes,
                 (long long)want->write_bytes, (long long)want->errors, (long long)want->tmfs,
                 (long long)want->lat_read, (long long)want->lat_write,
                 (long long)want->illegal_request, (long long)want->unit_attention, t);
    }
    assert_string_equal(mgmt_str(e, "bdev"), bdev);
    json_decref(e);
}

static void test_stats_exact(void **state)
{
    uint8_t key, asc;
    static char out[256 * 1024];

    (void)state;
    /* Fresh LUN: all zero (the UA's TEST UNIT READY not yet sent). */
    rpc_do(&cl, "bdev_create", "{\"name\":\"st0\",\"type\":\"ram\",\"size\":\"4M\"}");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "st", "socket_path", sock_path("st"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"st\",\"bdev\":\"st0\"}");
    static const struct lun_counts zero = { 0 };
    expect_stats("st", 0, 0, "st0", &zero);

    struct vus_fe *fe;
    assert_int_equal(mgmt_fe_open(sock_path("st"), 1, 4 * MiB, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 65536, 4096);
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    /* A TUR that may get the new LUN's unit attention (other, unit_attention), 1 good TUR. */
    json_int_t ua = 0;
    tur(vq, 0, 0, &c);
    if (c.status == 2) {
        sense_key_asc(&c, &key, &asc);
        assert_int_equal(key, 6);
        ua = 1;
        tur(vq, 0, 0, &c);
    }
    assert_int_equal(c.status, 0);
    /* 5 writes of 8 blocks, 7 reads of 4 blocks. */
    for (unsigned i = 0; i < 5; i++) {
        fill(buf, 4096, i);
        cdb_rw16(cdb, true, i * 8, 8);
        assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, buf, 4096, 1), 0);
        assert_int_equal(c.status, 0);
    }
    for (unsigned i = 0; i < 7; i++) {
        cdb_rw16(cdb, false, i * 4, 4);
        assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, buf, 2048, 2), 0);
        assert_int_equal(c.status, 0);
    }
    /* 1 SYNCHRONIZE CACHE(10), 1 read past the end (illegal request, counted as a read). */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x35;
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 10, NULL, 0, 0), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 4 * MiB / 512, 1);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, buf, 512, 2), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    /* 1 LOGICAL UNIT RESET. */
    uint8_t resp = 0xff;
    assert_int_equal(
        vus_fe_tmf(fe, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);

    const struct lun_counts after = {
        .reads = 8,
        .writes = 5,
        .flushes = 1,
        .read_bytes = 7 * 2048,
        .write_bytes = 5 * 4096,
        .errors = 1 + ua, /* the read past the end, and the unit attention if there was one */
        .tmfs = 1,
        .lat_read = 8,
        .lat_write = 5,
        .illegal_request = 1,
        .unit_attention = ua,
    };
    expect_stats("st", 0, 0, "st0", &after);

    /* Without a LUN filter: this controller's only LUN; with none at all: every controller. */
    json_t *s = rpc_ok(&cl, "stats", "{\"controller\":\"st\"}");
    json_t *ctrls = json_object_get(s, "controllers");
    assert_int_equal(json_array_size(ctrls), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ctrls, 0), "luns")), 1);
    json_decref(s);
    s = rpc_ok(&cl, "stats", NULL);
    assert_non_null(mgmt_find(json_object_get(s, "controllers"), "name", "st"));
    json_decref(s);

    /* The CLI shows them, and says which controller is unknown with exit status 1, one line. */
    mgmt_ctl_ok(&dmn, out, "stats", "controller=st");
    char *row = strstr(out, "\n  0:0 ");
    char tok[6][32] = { { 0 } };
    if (!row ||
        sscanf(row, " %31s %31s %31s %31s %31s %31s", tok[0], tok[1], tok[2], tok[3], tok[4],
               tok[5]) != 6 ||
        strcmp(tok[1], "st0") || strcmp(tok[2], "8") || strcmp(tok[3], "5") ||
        strcmp(tok[4], "0") || strcmp(tok[5], "1"))
        fail_msg("vhost-user-scsi-ctl stats controller=st: expected a row '0:0 st0 8 5 0 1 ...' "
                 "(T:L BDEV READS WRITES UNMAPS FLUSHES), got:\n%s",
                 out);
    mgmt_ctl_ok(&dmn, out, "--json", "stats", "controller=st", "target=0", "lun=0");
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        fail_msg("vhost-user-scsi-ctl --json stats: not JSON: %s", out);
    json_decref(j);

    /* The workers that served it: they slept between the requests; the CLI has a row for each. */
    json_t *wl = rpc_ok(&cl, "worker_list", NULL);
    json_int_t sleeps = 0;
    size_t wi;
    json_t *w;
    assert_true(json_array_size(wl) >= 1);
    json_array_foreach(wl, wi, w)
    {
        assert_int_equal(mgmt_int(w, "id"), (json_int_t)wi);
        assert_true(mgmt_int(w, "poll_max_ns") >= mgmt_int(w, "poll_window_ns"));
        assert_true(mgmt_int(w, "sleep_cost_ns") > 0);
        assert_true(mgmt_int(w, "polls_caught") >= 0 && mgmt_int(w, "polls_missed") >= 0);
        sleeps += mgmt_int(w, "sleeps");
    }
    assert_true(sleeps > 0);
    mgmt_ctl_ok(&dmn, out, "worker", "list");
    unsigned lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    if (strncmp(out, "ID", 2) != 0 || !strstr(out, "SLEEP-COST-US") ||
        lines != json_array_size(wl) + 1)
        fail_msg("vhost-user-scsi-ctl worker list: expected a header and %zu rows, got:\n%s",
                 json_array_size(wl), out);
    json_decref(wl);
    int rc = mgmt_ctl(&dmn, out, sizeof(out), "stats", "controller=nope", NULL);
    if (rc != 1 || !strstr(out, "nope") || strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("vhost-user-scsi-ctl stats controller=nope: exit %d, output '%s'", rc, out);
    rc =
        mgmt_ctl(&dmn, out, sizeof(out), "bdev", "create", "name=x", "type=ram", "size=1000", NULL);
    if (rc != 1 || !strstr(out, "size") || strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("vhost-user-scsi-ctl bdev create size=1000: exit %d, output '%s'", rc, out);

    vus_fe_close(fe);
    /* Statistics belong to the LUN: detached and attached again, it starts from zero. */
    rpc_do(&cl, "lun_detach", "{\"controller\":\"st\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"st\",\"bdev\":\"st0\"}");
    expect_stats("st", 0, 0, "st0", &zero);
    rpc_do(&cl, "controller_delete", "{\"name\":\"st\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"st0\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_resize, test_teardown),
        cmocka_unit_test_teardown(test_stats_exact, test_teardown),
    };
    fe_apply_test_filter();
    mgmt_raise_nofile();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
