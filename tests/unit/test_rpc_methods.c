/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods (rpc_methods.c) through rpc_dispatch(), no
 * socket: every method's result and its shape, and the errors a client sees
 * (code and the parameter named) for wrong params, missing, existing and
 * busy objects.  Behind them a real struct mgmt with a two-worker pool and
 * controllers listening in a temp dir; after each mutation the
 * configuration is saved as the daemon does, and replayed into a new one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config_file.h"
#include "daemon/mgmt.h"
#include "daemon/options.h"
#include "daemon/rpc_methods.h"
#include "rpc/rpc_dispatch.h"
#include "util/log.h"

#define NPOOL 2
#define MiB   (1024u * 1024u)

struct fx {
    char dir[64];
    char cfgpath[128];
    struct worker pool[NPOOL];
    unsigned npool;
    struct mgmt m;
    struct rpc_dispatcher d;
    unsigned saves;
};

static struct fx *cur;

static void stop_pool(void)
{
    while (cur->npool > 0)
        worker_stop(&cur->pool[--cur->npool]);
}

/* What the daemon does after each successful mutating call. */
static void save_after_rpc(void *opaque)
{
    assert_ptr_equal(opaque, &cur->m);
    cur->saves++;
    assert_int_equal(mgmt_save(opaque), 0);
}

static void mgmt_up(struct fx *f)
{
    size_t n;

    for (f->npool = 0; f->npool < NPOOL; f->npool++)
        assert_int_equal(worker_start(&f->pool[f->npool], f->npool, 0), 0);
    mgmt_init(&f->m, f->pool, f->npool);
    f->m.config_path = f->cfgpath;
    f->d = (struct rpc_dispatcher){ .methods = rpc_methods_table(&n),
                                    .opaque = &f->m,
                                    .after_mutation = save_after_rpc,
                                    .mutation_opaque = &f->m };
    f->d.nmethods = n;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/vus_rpcm_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cfgpath, sizeof(f->cfgpath), "%s/config.json", f->dir);
    cur = f;
    mgmt_up(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *e;
    char p[384];

    mgmt_shutdown(&f->m, stop_pool);
    stop_pool();
    d = opendir(f->dir);
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    cur = NULL;
    free(f);
    return 0;
}

/* ---- calling ---- */

static json_t *loads(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (!v)
        fail_msg("bad test JSON '%s': %s", text, e.text);
    return v;
}

/*
 * The response to method with params, given as printf-style JSON in which '
 * stands for " (NULL: no params member).
 */
static json_t *vcall(struct fx *f, const char *method, const char *fmt, va_list ap)
{
    char text[4096];
    json_t *req, *resp;
    int n;

    req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 7, "method", method);
    assert_non_null(req);
    if (fmt) {
        n = vsnprintf(text, sizeof(text), fmt, ap);
        assert_true(n > 0 && (size_t)n < sizeof(text));
        for (char *p = text; *p; p++)
            if (*p == '\'')
                *p = '"';
        json_object_set_new(req, "params", loads(text));
    }
    resp = rpc_dispatch(&f->d, req);
    json_decref(req);
    assert_non_null(resp);
    assert_int_equal(json_integer_value(json_object_get(resp, "id")), 7);
    return resp;
}

static char *dump(json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* The result of a call that must succeed (a new reference). */
static json_t *ok(struct fx *f, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *ok(struct fx *f, const char *method, const char *fmt, ...)
{
    va_list ap;
    json_t *resp, *res;

    va_start(ap, fmt);
    resp = vcall(f, method, fmt, ap);
    va_end(ap);
    res = json_object_get(resp, "result");
    if (!res) {
        char *s = dump(resp);

        print_error("%s: %s\n", method, s);
        free(s);
        fail();
    }
    json_incref(res);
    json_decref(resp);
    return res;
}

/* A call that must succeed with true. */
static void ok_true(struct fx *f, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ok_true(struct fx *f, const char *method, const char *fmt, ...)
{
    va_list ap;
    json_t *resp, *res;

    va_start(ap, fmt);
    resp = vcall(f, method, fmt, ap);
    va_end(ap);
    res = json_object_get(resp, "result");
    if (!json_is_true(res)) {
        char *s = dump(resp);

        print_error("%s: %s\n", method, s);
        free(s);
        fail();
    }
    json_decref(resp);
}

/* A call that must fail with code (0: any) and a message containing want (NULL: any). */
static void fails(struct fx *f, int code, const char *want, const char *method, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
static void fails(struct fx *f, int code, const char *want, const char *method, const char *fmt,
                  ...)
{
    va_list ap;
    json_t *resp, *e;
    const char *msg;

    va_start(ap, fmt);
    resp = vcall(f, method, fmt, ap);
    va_end(ap);
    e = json_object_get(resp, "error");
    msg = json_string_value(json_object_get(e, "message"));
    if (!e || (code && json_integer_value(json_object_get(e, "code")) != code) || !msg ||
        (want && !strstr(msg, want))) {
        char *s = dump(resp);

        print_error("%s %s: want %d '%s', got %s\n", method, fmt ? fmt : "", code, want ? want : "",
                    s);
        free(s);
        fail();
    }
    assert_null(json_object_get(resp, "result"));
    json_decref(resp);
}

static void assert_json_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = dump(got), *w = dump(want);

        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
}

/* got equals the JSON text want (with ' for "), printf-style. */
static void assert_json_text(json_t *got, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void assert_json_text(json_t *got, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    json_t *want;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    want = loads(text);
    assert_json_equal(got, want);
    json_decref(want);
}

/* The object has exactly these keys (NULL-terminated). */
static void assert_keys(json_t *obj, const char *const *keys)
{
    size_t n = 0;

    assert_true(json_is_object(obj));
    for (; keys[n]; n++)
        if (!json_object_get(obj, keys[n]))
            fail_msg("key '%s' missing", keys[n]);
    assert_int_equal(json_object_size(obj), n);
}

static void path_in(const struct fx *f, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < len);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static void make_file(const char *path, off_t size)
{
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

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

/* A controller NAME on DIR/NAME.sock; its path in path. */
static void ctl(struct fx *f, const char *name, char *path, size_t len)
{
    char file[80];

    snprintf(file, sizeof(file), "%s.sock", name);
    path_in(f, file, path, len);
    ok_true(f, "controller_create", "{'name': '%s', 'socket_path': '%s'}", name, path);
}

static void ram(struct fx *f, const char *name, const char *size)
{
    ok_true(f, "bdev_create", "{'name': '%s', 'type': 'ram', 'size': %s}", name, size);
}

/* lun_attach's result must be {target, lun}. */
static void attach(struct fx *f, const char *params, unsigned t, unsigned l)
{
    json_t *r = ok(f, "lun_attach", "%s", params);

    assert_json_text(r, "{'target': %u, 'lun': %u}", t, l);
    json_decref(r);
}

/* The saved configuration file, loaded. */
static json_t *saved(struct fx *f)
{
    char err[512] = "";
    json_t *c = config_load(f->cfgpath, err, sizeof(err));

    if (!c)
        fail_msg("config_load: %s", err);
    return c;
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
    fails(f, -32602, "block_size: only for type ram, null or file", m,
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

/* ---- LUNs ---- */

static void test_lun_attach_list_detach(void **state)
{
    struct fx *f = *state;
    static const char *const keys[] = { "target",     "lun",  "serial", "size",
                                        "block_size", "bdev", NULL };
    struct mgmt_ctl *c;
    char p0[128], p1[128];
    json_t *r;

    ctl(f, "c0", p0, sizeof(p0));
    ctl(f, "c1", p1, sizeof(p1));
    c = mgmt_ctl_find(&f->m, "c0");
    ram(f, "r0", "'1M'");
    ok_true(f, "bdev_create", "{'name': 'n0', 'type': 'null', 'size': '2M', 'block_size': 4096}");

    /* Default target 0, lowest free LUN; explicit addresses; serial and wwn. */
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'n0'}", 0, 1);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 255, 'lun': 255}", 255, 255);
    attach(f, "{'controller': 'c0', 'bdev': 'n0', 'target': 2}", 2, 0);
    attach(f,
           "{'controller': 'c0', 'bdev': 'r0', 'lun': 7, 'serial': 'MY-SERIAL',"
           " 'wwn': '0x6001122334455667'}",
           0, 7);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'wwn': '5001122334455667'}", 0, 0);
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->attached, 4);
    /* The newest unit has POWER ON only; the earlier ones of its target heard of it. */
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 7)->ua_pending),
                     SCSI_UA_POWER_ON_RESET);
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 1)->ua_pending),
                     SCSI_UA_POWER_ON_RESET | SCSI_UA_REPORTED_LUNS);
    assert_string_equal(scsi_lookup(&c->c.targets, 0, 7)->serial, "MY-SERIAL");
    assert_int_equal(scsi_lookup(&c->c.targets, 0, 7)->wwn, 0x6001122334455667ull);
    assert_int_equal(scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 0)->wwn,
                     0x5001122334455667ull);

    /* lun_list: in attach order, with the unit's serial and the bdev's geometry. */
    r = ok(f, "lun_list", "{'controller': 'c0'}");
    assert_int_equal(json_array_size(r), 5);
    for (size_t i = 0; i < 5; i++)
        assert_keys(json_array_get(r, i), keys);
    assert_json_text(json_array_get(r, 1),
                     "{'target': 0, 'lun': 1, 'bdev': 'n0', 'serial': '%s', 'size': 2097152,"
                     " 'block_size': 4096}",
                     scsi_lookup(&c->c.targets, 0, 1)->serial);
    assert_json_text(json_array_get(r, 4),
                     "{'target': 0, 'lun': 7, 'bdev': 'r0', 'serial': 'MY-SERIAL',"
                     " 'size': 1048576, 'block_size': 512}");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 2), "target")), 255);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 3), "target")), 2);
    json_decref(r);
    /* controller_list shows them too. */
    r = ok(f, "controller_list", NULL);
    assert_json_text(json_object_get(json_array_get(r, 1), "luns"),
                     "[{'target': 0, 'lun': 0, 'bdev': 'r0'}]");
    assert_int_equal(json_array_size(json_object_get(json_array_get(r, 0), "luns")), 5);
    json_decref(r);
    /* bdev_list counts attachments. */
    r = ok(f, "bdev_list", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "attached")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "attached")), 2);
    json_decref(r);

    /* Taken, unknown. */
    fails(f, -32002, "0:1", "lun_attach", "{'controller': 'c0', 'bdev': 'r0', 'lun': 1}");
    fails(f, -32002, "255:255", "lun_attach",
          "{'controller': 'c0', 'bdev': 'r0', 'target': 255, 'lun': 255}");
    fails(f, -32001, "no controller 'zz'", "lun_attach", "{'controller': 'zz', 'bdev': 'r0'}");
    fails(f, -32001, "no block device 'zz'", "lun_attach", "{'controller': 'c0', 'bdev': 'zz'}");
    fails(f, -32001, "no controller 'zz'", "lun_list", "{'controller': 'zz'}");

    /* Wrong params. */
    const char *m = "lun_attach";
    fails(f, -32602, "controller: required", m, "{'bdev': 'r0'}");
    fails(f, -32602, "bdev: required", m, "{'controller': 'c0'}");
    fails(f, -32602, "controller: must be a string", m, "{'controller': 0, 'bdev': 'r0'}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': 256}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': -1}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': '1'}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': 1.5}");
    fails(f, -32602, "lun", m, "{'controller': 'c0', 'bdev': 'r0', 'lun': 256}");
    fails(f, -32602, "serial", m, "{'controller': 'c0', 'bdev': 'r0', 'serial': '%037d'}", 0);
    fails(f, -32602, "serial", m, "{'controller': 'c0', 'bdev': 'r0', 'serial': ''}");
    fails(f, -32602, "serial must be 1-36 printable characters", m,
          "{'controller': 'c0', 'bdev': 'r0', 'serial': 'a\\tb'}");
    fails(f, -32602, "wwn: must be 16 hex digits starting with NAA 5 or 6, got '7001122334455667'",
          m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '7001122334455667'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '500112233445566'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '500112233445566g'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '0x500112233445566'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '50011223344556677'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': 5}");
    fails(f, -32602, "unknown parameter 'id'", m, "{'controller': 'c0', 'bdev': 'r0', 'id': 1}");
    fails(f, -32602, "controller: required", "lun_list", "{}");
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->attached, 4);

    /* Detach. */
    unsigned saves = f->saves;
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 0, 'lun': 1}");
    assert_int_equal(f->saves, saves + 1);
    assert_null(scsi_lookup(&c->c.targets, 0, 1));
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 0)->ua_pending) &
                         SCSI_UA_REPORTED_LUNS,
                     SCSI_UA_REPORTED_LUNS);
    fails(f, -32001, "controller 'c0' has no LUN 0:1", "lun_detach",
          "{'controller': 'c0', 'target': 0, 'lun': 1}");
    fails(f, -32001, "no controller 'zz'", "lun_detach",
          "{'controller': 'zz', 'target': 0, 'lun': 0}");
    fails(f, -32602, "lun: required", "lun_detach", "{'controller': 'c0', 'target': 0}");
    fails(f, -32602, "target: required", "lun_detach", "{'controller': 'c0', 'lun': 0}");
    fails(f, -32602, "controller: required", "lun_detach", "{'target': 0, 'lun': 0}");
    fails(f, -32602, "target", "lun_detach", "{'controller': 'c0', 'target': 256, 'lun': 0}");
    fails(f, -32602, "lun", "lun_detach", "{'controller': 'c0', 'target': 0, 'lun': 'x'}");
    fails(f, -32602, "unknown parameter 'bdev'", "lun_detach",
          "{'controller': 'c0', 'target': 0, 'lun': 0, 'bdev': 'r0'}");
    assert_int_equal(f->saves, saves + 1);
    /* The freed number is the default again. */
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 1);
    r = ok(f, "lun_list", "{'controller': 'c0'}");
    assert_int_equal(json_array_size(r), 5);
    json_decref(r);
}

/* Busy: an attached bdev, a full target. */
static void test_busy(void **state)
{
    struct fx *f = *state;
    char p0[128];
    json_t *r;

    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "4096");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1}", 1, 0);
    fails(f, -32003, "attached to 2 LUN(s)", "bdev_delete", "{'name': 'r0'}");
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 1, 'lun': 0}");
    fails(f, -32003, "attached to 1 LUN(s)", "bdev_delete", "{'name': 'r0'}");

    /* Deleting the controller drops its LUNs: the bdev is free. */
    ok_true(f, "controller_delete", "{'name': 'c0'}");
    assert_false(exists(p0));
    fails(f, -32001, "no controller 'c0'", "controller_delete", "{'name': 'c0'}");
    fails(f, -32602, "name: required", "controller_delete", "{}");
    fails(f, -32602, "unknown parameter 'force'", "controller_delete",
          "{'name': 'c0', 'force': true}");
    r = ok(f, "controller_list", NULL);
    assert_json_text(r, "[]");
    json_decref(r);
    ok_true(f, "bdev_delete", "{'name': 'r0'}");

    /* 256 LUNs on target 3: the 257th has nowhere to go.  (Not saved 256 times: fsync is slow.) */
    f->m.config_path = NULL;
    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "4096");
    for (unsigned l = 0; l < 256; l++)
        attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 3}", 3, l);
    fails(f, -32003, "target 3 of controller 'c0' has no free LUN", "lun_attach",
          "{'controller': 'c0', 'bdev': 'r0', 'target': 3}");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    fails(f, -32003, "attached to 257 LUN(s)", "bdev_delete", "{'name': 'r0'}");
}

/* ---- stats ---- */

static void assert_lun_stats_shape(json_t *s)
{
    static const char *const top[] = { "ops",     "bytes_read", "bytes_written", "errors", "tmf",
                                       "latency", "target",     "lun",           "bdev",   NULL };
    static const char *const ops[] = { "read",  "write",  "unmap", "write_zeroes",
                                       "flush", "verify", "other", NULL };
    static const char *const lat[] = { "read", "write", "flush", "unmap", "other", NULL };
    static const char *const tmf[] = {
        "abort_task", "abort_task_set", "clear_aca",      "clear_task_set", "i_t_nexus_reset",
        "lun_reset",  "query_task",     "query_task_set", "other",          NULL
    };
    static const char *const errs[] = {
        "total",        "sense_key",    "busy", "task_set_full", "reservation_conflict",
        "task_aborted", "other_status", NULL
    };
    static const char *const hist[] = { "count", "p50_us", "p90_us", "p99_us", "buckets", NULL };

    assert_keys(s, top);
    assert_keys(json_object_get(s, "ops"), ops);
    for (size_t i = 0; ops[i]; i++)
        assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "ops"), ops[i])), 0);
    assert_true(json_is_integer(json_object_get(s, "bytes_read")));
    assert_true(json_is_integer(json_object_get(s, "bytes_written")));
    assert_keys(json_object_get(s, "tmf"), tmf);
    assert_keys(json_object_get(s, "errors"), errs);
    assert_int_equal(json_object_size(json_object_get(json_object_get(s, "errors"), "sense_key")),
                     16);
    assert_keys(json_object_get(s, "latency"), lat);
    for (size_t i = 0; lat[i]; i++) {
        json_t *h = json_object_get(json_object_get(s, "latency"), lat[i]);

        assert_keys(h, hist);
        assert_true(json_is_null(json_object_get(h, "p50_us")));
        assert_int_equal(json_array_size(json_object_get(h, "buckets")), 26);
    }
}

static void test_stats(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128];
    json_t *r, *c0, *luns;

    ctl(f, "c0", p0, sizeof(p0));
    ctl(f, "c1", p1, sizeof(p1));
    ctl(f, "c2", p1, sizeof(p1));
    ram(f, "r0", "'1M'");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1, 'lun': 2}", 1, 2);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1}", 1, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'r0'}", 0, 0);

    r = ok(f, "stats", NULL);
    assert_keys(r, (const char *const[]){ "controllers", NULL });
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    c0 = json_array_get(json_object_get(r, "controllers"), 0);
    assert_keys(c0, (const char *const[]){ "name", "luns", NULL });
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "c0");
    luns = json_object_get(c0, "luns");
    assert_int_equal(json_array_size(luns), 3);
    for (size_t i = 0; i < 3; i++)
        assert_lun_stats_shape(json_array_get(luns, i));
    assert_string_equal(json_string_value(json_object_get(json_array_get(luns, 1), "bdev")), "r0");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "target")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "lun")), 2);
    assert_json_text(json_object_get(json_array_get(json_object_get(r, "controllers"), 2), "luns"),
                     "[]");
    json_decref(r);

    /* Filters by address (every controller is listed, with what matches). */
    r = ok(f, "stats", "{'target': 1}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "lun")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "lun")), 0);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 1), "luns");
    assert_int_equal(json_array_size(luns), 0);
    json_decref(r);
    r = ok(f, "stats", "{'target': 1, 'lun': 0}");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "target")), 1);
    json_decref(r);
    r = ok(f, "stats", "{'lun': 0}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 1), "luns");
    assert_int_equal(json_array_size(luns), 1);
    json_decref(r);

    fails(f, -32001, "no controller 'zz'", "stats", "{'controller': 'zz'}");
    fails(f, -32602, "target", "stats", "{'target': 256}");
    fails(f, -32602, "lun", "stats", "{'lun': -1}");
    fails(f, -32602, "controller: must be a string", "stats", "{'controller': 1}");
    fails(f, -32602, "unknown parameter 'bdev'", "stats", "{'bdev': 'r0'}");
    /* Reading is not a mutation. */
    unsigned saves = f->saves;
    r = ok(f, "stats", NULL);
    json_decref(r);
    assert_int_equal(f->saves, saves);
}

/* stats for one controller while others exist: only that one, nothing leaked (ASan). */
static void test_stats_by_controller(void **state)
{
    struct fx *f = *state;
    char p[128];
    json_t *r, *luns;

    ctl(f, "c0", p, sizeof(p));
    ctl(f, "c1", p, sizeof(p));
    ctl(f, "c2", p, sizeof(p));
    ram(f, "r0", "'1M'");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'target': 1, 'lun': 2}", 1, 2);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'target': 1}", 1, 0);

    r = ok(f, "stats", "{'controller': 'c1'}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "controllers"), 0), "name")),
                        "c1");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    json_decref(r);
    r = ok(f, "stats", "{'controller': 'c1', 'target': 1, 'lun': 0}");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "lun")), 0);
    json_decref(r);
    r = ok(f, "stats", "{'controller': 'c2'}");
    assert_json_text(r, "{'controllers': [{'name': 'c2', 'luns': []}]}");
    json_decref(r);
}

/* ---- the configuration: saved after each mutation, replayed at start ---- */

static void test_config_saved_and_replayed(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128], img[128], text[2048];
    json_t *cfg, *before;
    struct config_iter it;
    unsigned saves;

    path_in(f, "disk.img", img, sizeof(img));
    make_file(img, MiB);
    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "'1M'");
    ok_true(f, "bdev_create", "{'name': 'f0', 'type': 'file', 'path': '%s', 'readonly': true}",
            img);
    ctl(f, "c1", p1, sizeof(p1));
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 4}", 4, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 4, 'lun': 9}", 4, 9);
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 4, 'lun': 0}");
    attach(f, "{'controller': 'c0', 'bdev': 'f0'}", 0, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'f0', 'serial': 'S1'}", 0, 0);
    json_decref(ok(f, "bdev_resize", "{'name': 'r0', 'size': '2M'}"));
    /* Created outside RPC (the command line): not saved. */
    {
        struct bdev_config bc = { .type = BDEV_TYPE_RAM, .size = MiB, .block_size = 512 };
        struct mgmt_lun_spec spec = { .target = -1, .lun = -1 };
        struct bdev *b;
        char err[256];
        unsigned t, l;

        assert_int_equal(bdev_open(&bc, &b, err, sizeof(err)), 0);
        assert_int_equal(mgmt_bdev_add(&f->m, "cli", "ram", b, NULL, err, sizeof(err)), 0);
        assert_int_equal(mgmt_lun_attach(&f->m, "c0", "cli", &spec, &t, &l, err, sizeof(err)), 0);
        assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), 0);
    }
    /* Any mutation saves all of it (a failed one saves nothing). */
    saves = f->saves;
    fails(f, -32002, NULL, "bdev_create", "{'name': 'r0', 'type': 'ram', 'size': 512}");
    assert_int_equal(f->saves, saves);
    ok_true(f, "bdev_create", "{'name': 'spare', 'type': 'null', 'size': 512}");
    assert_int_equal(f->saves, saves + 1);

    snprintf(text, sizeof(text),
             "{'version': 1,"
             " 'bdevs': [{'name': 'r0', 'type': 'ram', 'size': 2097152},"
             "           {'name': 'f0', 'type': 'file', 'path': '%s', 'readonly': true},"
             "           {'name': 'spare', 'type': 'null', 'size': 512}],"
             " 'controllers': [{'name': 'c0', 'socket_path': '%s'},"
             "                 {'name': 'c1', 'socket_path': '%s'}],"
             " 'luns': [{'controller': 'c0', 'bdev': 'r0', 'target': 4, 'lun': 9},"
             "          {'controller': 'c0', 'bdev': 'f0', 'target': 0, 'lun': 0},"
             "          {'controller': 'c1', 'bdev': 'f0', 'serial': 'S1', 'target': 0,"
             "           'lun': 0}]}",
             img, p0, p1);
    cfg = saved(f);
    assert_json_text(cfg, "%s", text);
    before = mgmt_config(&f->m);
    assert_json_equal(before, cfg);

    /* A restart: everything down, then the file replayed as the daemon does. */
    mgmt_shutdown(&f->m, stop_pool);
    assert_false(exists(p0));
    mgmt_up(f);
    f->m.restoring = true;
    saves = f->saves;
    config_iter_init(&it, cfg);
    while (config_iter_next(&it)) {
        static const char *const method[] = { [CONFIG_BDEVS] = "bdev_create",
                                              [CONFIG_CONTROLLERS] = "controller_create",
                                              [CONFIG_LUNS] = "lun_attach" };
        json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id", 1, "method",
                                method[it.section], "params", it.params);
        json_t *resp = rpc_dispatch(&f->d, req);

        if (!json_object_get(resp, "result")) {
            char *s = dump(resp);

            fail_msg("replaying %s: %s", method[it.section], s);
        }
        json_decref(resp);
        json_decref(req);
    }
    f->m.restoring = false;
    /* The hook ran, the file was not rewritten while restoring. */
    assert_int_equal(f->saves, saves + 8);
    json_decref(cfg);
    cfg = saved(f);
    assert_json_equal(cfg, before);
    json_decref(cfg);
    cfg = mgmt_config(&f->m);
    assert_json_equal(cfg, before);
    json_decref(cfg);
    assert_true(exists(p0) && exists(p1));
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->bdev->size, 2 * MiB);
    assert_string_equal(scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 0)->serial, "S1");
    assert_non_null(scsi_lookup(&mgmt_ctl_find(&f->m, "c0")->c.targets, 4, 9));
    json_decref(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controllers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_create_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_create_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_resize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lun_attach_list_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_by_controller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_saved_and_replayed, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
