/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods (rpc_methods.c) through rpc_dispatch(), no
 * socket: version, the controllers and the block devices, every method's
 * result and its shape, and the errors a client sees (code and the
 * parameter named) for wrong params, missing and existing objects.  LUNs,
 * busy objects and stats: test_rpc_methods_lun.c; the configuration saved
 * and replayed: test_rpc_methods_config.c; the fixture:
 * rpc_methods_fixture.h.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "daemon/options.h"
#include "rpc_methods_fixture.h"
#include "util/log.h"

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void sleep_ms(unsigned ms)
{
    const struct timespec t = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };

    nanosleep(&t, NULL);
}

/* ---- version ---- */

static void test_version(void **state)
{
    struct fx *f = *state;
    json_t *r = ok(f, "version", NULL);

    assert_json_text(r, "{'version': '%s'}", VUS_VERSION);
    json_decref(r);
    r = ok(f, "version", "{}");
    assert_json_text(r, "{'version': '%s'}", VUS_VERSION);
    json_decref(r);
    fails(f, -32602, "unknown parameter 'verbose'", "version", "{'verbose': true}");
    fails(f, -32602, "params must be an object", "version", "[1]");
    /* Not a mutation: nothing saved. */
    assert_int_equal(f->saves, 0);
    assert_false(exists(f->cfgpath));
}

/* ---- workers ---- */

/* The fixture's pool runs in interrupt mode: never a window, the sleep cost not yet measured. */
static void test_worker_list(void **state)
{
    struct fx *f = *state;
    json_t *r = ok(f, "worker_list", NULL), *w;
    size_t i;

    assert_int_equal(json_array_size(r), NPOOL);
    json_array_foreach(r, i, w)
    {
        char want[256];

        snprintf(want, sizeof(want),
                 "{'id': %zu, 'poll_max_ns': 0, 'poll_window_ns': 0, 'sleep_cost_ns': %u, "
                 "'sleeps': 0, 'polls_caught': 0, 'polls_missed': 0, 'polling_pays': false, "
                 "'judged_not_paying': 0}",
                 i, POLL_SLEEP_COST_NS);
        assert_json_text(w, "%s", want);
    }
    json_decref(r);
    fails(f, -32602, "unknown parameter 'id'", "worker_list", "{'id': 0}");
    assert_int_equal(f->saves, 0);
}

/* worker_set_poll reaches every worker, which applies it on its own thread; never saved. */
static void test_worker_set_poll(void **state)
{
    struct fx *f = *state;
    json_t *r = ok(f, "worker_set_poll", "{'poll_us': 50}");

    assert_json_text(r, "{}");
    json_decref(r);
    for (unsigned i = 0; i < NPOOL; i++) {
        struct worker_poll_stats st;
        unsigned tries = 0;

        do {
            worker_poll_stats(&f->pool[i], &st);
        } while (st.max_ns != 50000 && ++tries < 5000 && (sleep_ms(1), true));
        assert_int_equal(st.max_ns, 50000);
    }
    fails(f, -32602, "poll_us", "worker_set_poll", "{'poll_us': 1001}");
    fails(f, -32602, "poll_us", "worker_set_poll", "{'poll_us': -1}");
    fails(f, -32602, "poll_us", "worker_set_poll", "{}");
    fails(f, -32602, "poll_us", "worker_set_poll", "{'poll_us': '5'}");
    assert_int_equal(f->saves, 0);
}

/* ---- controllers ---- */

static void test_controllers(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128], nodir[192], file[128];
    json_t *r;
    int fd;

    ctl(f, "c0", p0, sizeof(p0));
    ctl(f, "c1", p1, sizeof(p1));
    assert_true(exists(p0) && exists(p1));
    assert_int_equal(f->saves, 2);

    r = ok(f, "controller_list", NULL);
    assert_json_text(r,
                     "[{'name': 'c0', 'socket_path': '%s', 'connected': false, 'luns': []},"
                     " {'name': 'c1', 'socket_path': '%s', 'connected': false, 'luns': []}]",
                     p0, p1);
    json_decref(r);

    /* A frontend shows as connected. */
    fd = connect_to(p1);
    for (unsigned i = 0; i < 500 && !atomic_load(&mgmt_ctl_find(&f->m, "c1")->srv.connected); i++)
        sleep_ms(10);
    r = ok(f, "controller_list", "{}");
    assert_true(json_is_false(json_object_get(json_array_get(r, 0), "connected")));
    assert_true(json_is_true(json_object_get(json_array_get(r, 1), "connected")));
    json_decref(r);

    /* Taken names and paths. */
    fails(f, -32002, "controller 'c0' already exists", "controller_create",
          "{'name': 'c0', 'socket_path': '%s/x.sock'}", f->dir);
    fails(f, -32002, p0, "controller_create", "{'name': 'c2', 'socket_path': '%s'}", p0);
    /* The same socket spelt differently: found in use, not taken over. */
    fails(f, -32002, "in use", "controller_create", "{'name': 'c2', 'socket_path': '%s/./c0.sock'}",
          f->dir);
    assert_true(exists(p0));
    path_in(f, "file", file, sizeof(file));
    make_file(file, 10);
    fails(f, -32002, "is not a socket", "controller_create", "{'name': 'c2', 'socket_path': '%s'}",
          file);
    /* The OS says no. */
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir.sock", f->dir);
    fails(f, -32004, "No such file or directory", "controller_create",
          "{'name': 'c2', 'socket_path': '%s'}", nodir);

    /* Wrong params. */
    fails(f, -32602, "name: required", "controller_create", "{'socket_path': '%s/x.sock'}", f->dir);
    fails(f, -32602, "socket_path: required", "controller_create", "{'name': 'c2'}");
    fails(f, -32602, "name: must be a string", "controller_create",
          "{'name': 5, 'socket_path': '%s/x.sock'}", f->dir);
    fails(f, -32602, "name", "controller_create", "{'name': 'a b', 'socket_path': '%s/x.sock'}",
          f->dir);
    fails(f, -32602, "name", "controller_create", "{'name': '', 'socket_path': '%s/x.sock'}",
          f->dir);
    fails(f, -32602, "socket_path: must be 1 to 107 characters", "controller_create",
          "{'name': 'c2', 'socket_path': '%0108d'}", 0);
    fails(f, -32602, "unknown parameter 'path'", "controller_create",
          "{'name': 'c2', 'socket_path': '%s/x.sock', 'path': 'x'}", f->dir);
    fails(f, -32602, "unknown parameter 'x'", "controller_list", "{'x': 1}");
    assert_null(mgmt_ctl_find(&f->m, "c2"));
    close(fd);
}

/* ---- block devices ---- */

static void test_bdev_create_list_delete(void **state)
{
    struct fx *f = *state;
    static const char *const keys[] = { "name",     "type", "size",     "block_size",
                                        "readonly", "desc", "attached", NULL };
    char img[128];
    json_t *r;

    path_in(f, "disk.img", img, sizeof(img));
    make_file(img, 3 * MiB);
    ram(f, "r0", "'1M'");
    ok_true(f, "bdev_create",
            "{'name': 'n0', 'type': 'null', 'size': 8388608, 'block_size': 4096}");
    ok_true(f, "bdev_create", "{'name': 'f0', 'type': 'file', 'path': '%s', 'readonly': true}",
            img);
    ok_true(f, "bdev_create", "{'name': 'f1', 'type': 'file', 'path': '%s', 'direct': false}", img);
    assert_int_equal(f->saves, 4);

    r = ok(f, "bdev_list", NULL);
    assert_int_equal(json_array_size(r), 4);
    for (size_t i = 0; i < 4; i++)
        assert_keys(json_array_get(r, i), keys);
    /* In creation order; desc is the backend's own, checked for its kind only. */
    for (size_t i = 0; i < 4; i++)
        json_object_del(json_array_get(r, i), "desc");
    assert_json_text(r, "[{'name': 'r0', 'type': 'ram', 'size': 1048576, 'block_size': 512,"
                        "  'readonly': false, 'attached': 0},"
                        " {'name': 'n0', 'type': 'null', 'size': 8388608, 'block_size': 4096,"
                        "  'readonly': false, 'attached': 0},"
                        " {'name': 'f0', 'type': 'file', 'size': 3145728, 'block_size': 512,"
                        "  'readonly': true, 'attached': 0},"
                        " {'name': 'f1', 'type': 'file', 'size': 3145728, 'block_size': 512,"
                        "  'readonly': false, 'attached': 0}]");
    json_decref(r);
    r = ok(f, "bdev_list", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(r, 2), "desc")), img));
    json_decref(r);

    /* Taken name: refused before anything is opened. */
    fails(f, -32002, "block device 'r0' already exists", "bdev_create",
          "{'name': 'r0', 'type': 'file', 'path': '%s/none'}", f->dir);
    /* The OS says no. */
    fails(f, -32004, "/no/such/file", "bdev_create",
          "{'name': 'f2', 'type': 'file', 'path': '/no/such/file'}");
    /* No VFIO here: refused cleanly, naming the device. */
    fails(f, -32004, "0000:00:04.0", "bdev_create",
          "{'name': 'nv', 'type': 'nvme', 'pci': '0000:00:04.0'}");
    fails(f, -32004, "0000:ff:1f.7", "bdev_create",
          "{'name': 'nv', 'type': 'nvme', 'pci': '0000:ff:1f.7', 'ns': 2}");
    assert_null(mgmt_bdev_find(&f->m, "nv"));
    assert_int_equal(f->saves, 4);

    ok_true(f, "bdev_delete", "{'name': 'f1'}");
    assert_null(mgmt_bdev_find(&f->m, "f1"));
    fails(f, -32001, "no block device 'f1'", "bdev_delete", "{'name': 'f1'}");
    assert_int_equal(f->saves, 5);
    r = ok(f, "bdev_list", NULL);
    assert_int_equal(json_array_size(r), 3);
    json_decref(r);
    fails(f, -32602, "name: required", "bdev_delete", "{}");
    fails(f, -32602, "name: must be a string", "bdev_delete", "{'name': true}");
    fails(f, -32602, "unknown parameter 'force'", "bdev_delete", "{'name': 'r0', 'force': true}");
    fails(f, -32602, "unknown parameter 'type'", "bdev_list", "{'type': 'ram'}");
}

static void test_bdev_create_params(void **state)
{
    struct fx *f = *state;
    const char *m = "bdev_create";

    fails(f, -32602, "name: required", m, "{'type': 'ram', 'size': 4096}");
    fails(f, -32602, "type: required", m, "{'name': 'x', 'size': 4096}");
    fails(f, -32602, "name: must be a string", m, "{'name': 1, 'type': 'ram', 'size': 4096}");
    fails(f, -32602, "name", m, "{'name': 'x/y', 'type': 'ram', 'size': 4096}");
    fails(f, -32602, "name", m, "{'name': '%065d', 'type': 'ram', 'size': 4096}", 0);
    fails(f, -32602, "type: must be one of", m, "{'name': 'x', 'type': 'disk', 'size': 4096}");
    fails(f, -32602, "type", m, "{'name': 'x', 'type': 1, 'size': 4096}");
    fails(f, -32602, "unknown parameter 'sise'", m, "{'name': 'x', 'type': 'ram', 'sise': 4096}");
    fails(f, -32602, "size: required for type ram", m, "{'name': 'x', 'type': 'ram'}");
    fails(f, -32602, "size: required for type null", m, "{'name': 'x', 'type': 'null'}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': 1000}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': '1000'}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': 0}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': -512}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': true}");
    fails(f, -32602, "size", m, "{'name': 'x', 'type': 'ram', 'size': '64Q'}");
    fails(f, -32602, "size: must be a multiple of block_size 4096", m,
          "{'name': 'x', 'type': 'ram', 'size': 4608, 'block_size': 4096}");
    fails(f, -32602, "block_size: must be 512 or 4096, got 1000", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'block_size': 1000}");
    fails(f, -32602, "block_size", m,
          "{'name': 'x', 'type': 'ram', 'size': 8192, 'block_size': 8192}");
    fails(f, -32602, "block_size", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'block_size': '512'}");
    fails(f, -32602, "readonly: must be true or false", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'readonly': 1}");
    /* Keys of other types, named. */
    fails(f, -32602, "size: only for type ram or null", m,
          "{'name': 'x', 'type': 'file', 'path': '/dev/null', 'size': 4096}");
    fails(f, -32602, "path: only for type file", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'path': '/tmp/x'}");
    fails(f, -32602, "pci: only for type nvme", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'pci': '0000:00:04.0'}");
    fails(f, -32602, "ns: only for type nvme", m,
          "{'name': 'x', 'type': 'null', 'size': 4096, 'ns': 1}");
    fails(f, -32602, "direct: only for type file", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'direct': true}");
    fails(f, -32602, "block_size: only for type ram, null, file or rbd", m,
          "{'name': 'x', 'type': 'nvme', 'pci': '0000:00:04.0', 'block_size': 512}");
    fails(f, -32602, "size: only for type ram or null", m,
          "{'name': 'x', 'type': 'nvme', 'pci': '0000:00:04.0', 'size': 4096}");
    fails(f, -32602, "path: required for type file", m, "{'name': 'x', 'type': 'file'}");
    fails(f, -32602, "path", m, "{'name': 'x', 'type': 'file', 'path': ''}");
    fails(f, -32602, "pci: required for type nvme", m, "{'name': 'x', 'type': 'nvme'}");
    fails(f, -32602, "pci", m, "{'name': 'x', 'type': 'nvme', 'pci': '00:04.0'}");
    fails(f, -32602, "pci", m, "{'name': 'x', 'type': 'nvme', 'pci': '0000:00:04/0'}");
    fails(f, -32602, "ns", m, "{'name': 'x', 'type': 'nvme', 'pci': '0000:00:04.0', 'ns': 0}");
    fails(f, -32602, "ns", m,
          "{'name': 'x', 'type': 'nvme', 'pci': '0000:00:04.0', 'ns': 4294967295}");
    fails(f, -32602, "url: only for type iscsi", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'url': 'iscsi://h/i/0'}");
    fails(f, -32602, "timeout: only for type iscsi or rbd", m,
          "{'name': 'x', 'type': 'file', 'path': '/dev/null', 'timeout': 5}");
    fails(f, -32602, "url: required for type iscsi", m, "{'name': 'x', 'type': 'iscsi'}");
    fails(f, -32602, "timeout", m,
          "{'name': 'x', 'type': 'iscsi', 'url': 'iscsi://h/i/0', 'timeout': 0}");
    fails(f, -32602, "block_size: only for type ram, null, file or rbd", m,
          "{'name': 'x', 'type': 'iscsi', 'url': 'iscsi://h/i/0', 'block_size': 512}");
    fails(f, -32602, "pool: required for type rbd", m, "{'name': 'x', 'type': 'rbd'}");
    fails(f, -32602, "image: required for type rbd", m,
          "{'name': 'x', 'type': 'rbd', 'pool': 'rbd'}");
    fails(f, -32602, "pool: only for type rbd", m,
          "{'name': 'x', 'type': 'ram', 'size': 4096, 'pool': 'rbd'}");
    fails(f, -32602, "timeout: only for type iscsi or rbd", m,
          "{'name': 'x', 'type': 'file', 'path': '/x', 'timeout': 5}");
    fails(f, -32602, "image", m, "{'name': 'x', 'type': 'rbd', 'pool': 'rbd', 'image': 'a/b'}");
    fails(f, -32602, "timeout", m,
          "{'name': 'x', 'type': 'rbd', 'pool': 'rbd', 'image': 'a', 'timeout': 3601}");
    fails(f, -32602, "size: only for type ram or null", m,
          "{'name': 'x', 'type': 'rbd', 'pool': 'rbd', 'image': 'a', 'size': 4096}");
    fails(f, -32602, "params must be an object", m, "['x', 'ram']");
    assert_null(f->m.bdevs);
    assert_int_equal(f->saves, 0);

    /* The limits themselves are fine. */
    ok_true(f, m, "{'name': '%064d', 'type': 'ram', 'size': 512}", 0);
    ok_true(f, m, "{'name': 'a.b_c-d:e', 'type': 'ram', 'size': '4k', 'block_size': 4096}");
    assert_int_equal(mgmt_bdev_find(&f->m, "a.b_c-d:e")->bdev->size, 4096);
}

static void test_bdev_resize(void **state)
{
    struct fx *f = *state;
    char p0[128], img[128];
    json_t *r, *cfg;

    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "'1M'");
    path_in(f, "disk.img", img, sizeof(img));
    make_file(img, MiB);
    ok_true(f, "bdev_create", "{'name': 'f0', 'type': 'file', 'path': '%s'}", img);
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'f0'}", 0, 1);

    r = ok(f, "bdev_resize", "{'name': 'r0', 'size': '4M'}");
    assert_json_text(r, "{'size': 4194304}");
    json_decref(r);
    assert_true(
        atomic_load(&scsi_lookup(&mgmt_ctl_find(&f->m, "c0")->c.targets, 0, 0)->ua_pending) &
        SCSI_UA_CAPACITY_CHANGED);
    r = ok(f, "bdev_resize", "{'name': 'r0', 'size': 2097152}");
    assert_json_text(r, "{'size': 2097152}");
    json_decref(r);
    /* The persisted ram disk comes back at its new size. */
    cfg = saved(f);
    assert_json_text(json_array_get(config_items(cfg, CONFIG_BDEVS), 0),
                     "{'name': 'r0', 'type': 'ram', 'size': 2097152}");
    json_decref(cfg);
    r = ok(f, "lun_list", "{'controller': 'c0'}");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "size")), 2 * MiB);
    json_decref(r);

    /* A file grown outside: re-read. */
    assert_int_equal(truncate(img, 5 * MiB), 0);
    r = ok(f, "bdev_resize", "{'name': 'f0'}");
    assert_json_text(r, "{'size': 5242880}");
    json_decref(r);
    /* ...or resized by us. */
    r = ok(f, "bdev_resize", "{'name': 'f0', 'size': '6M'}");
    assert_json_text(r, "{'size': 6291456}");
    json_decref(r);
    cfg = saved(f);
    assert_json_text(json_array_get(config_items(cfg, CONFIG_BDEVS), 1),
                     "{'name': 'f0', 'type': 'file', 'path': '%s'}", img);
    json_decref(cfg);

    fails(f, -32602, "size: required for a ram block device", "bdev_resize", "{'name': 'r0'}");
    fails(f, -32602, "size", "bdev_resize", "{'name': 'r0', 'size': 1000}");
    fails(f, -32602, "size", "bdev_resize", "{'name': 'r0', 'size': 0}");
    fails(f, -32602, "size", "bdev_resize", "{'name': 'r0', 'size': 'big'}");
    fails(f, -32602, "name: required", "bdev_resize", "{'size': 4096}");
    fails(f, -32602, "unknown parameter 'bytes'", "bdev_resize", "{'name': 'r0', 'bytes': 4096}");
    fails(f, -32001, "no block device 'zz'", "bdev_resize", "{'name': 'zz', 'size': 4096}");
    ok_true(f, "bdev_create", "{'name': 'r4k', 'type': 'ram', 'size': 8192, 'block_size': 4096}");
    fails(f, -32602, "block size 4096", "bdev_resize", "{'name': 'r4k', 'size': 4608}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_set_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controllers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_create_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_create_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_resize, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
