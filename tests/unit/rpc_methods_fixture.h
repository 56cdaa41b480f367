/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the JSON-RPC method tests (test_rpc_methods.c: version,
 * controllers and block devices; test_rpc_methods_lun.c: LUNs, busy objects
 * and stats; test_rpc_methods_config.c: the configuration saved and
 * replayed): rpc_dispatch() over a real struct mgmt with a two-worker pool
 * and controllers listening in a temp dir, the configuration saved after
 * each mutation as the daemon does, and the calls that must succeed or fail.
 */
#ifndef VUS_TESTS_UNIT_RPC_METHODS_FIXTURE_H
#define VUS_TESTS_UNIT_RPC_METHODS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config_file.h"
#include "daemon/mgmt.h"
#include "tmp_dir.h"
#include "daemon/rpc_methods.h"
#include "rpc/rpc_dispatch.h"

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

static inline void stop_pool(void)
{
    while (cur->npool > 0)
        worker_stop(&cur->pool[--cur->npool]);
}

/* What the daemon does after each successful mutating call. */
static inline void save_after_rpc(void *opaque)
{
    assert_ptr_equal(opaque, &cur->m);
    cur->saves++;
    assert_int_equal(mgmt_save(opaque), 0);
}

static inline void mgmt_up(struct fx *f)
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

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
    struct fx *f = *state;

    mgmt_shutdown(&f->m, stop_pool);
    stop_pool();
    tmp_dir_remove(f->dir);
    cur = NULL;
    free(f);
    return 0;
}

/* ---- calling ---- */

static inline json_t *loads(const char *text)
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
static inline json_t *vcall(struct fx *f, const char *method, const char *fmt, va_list ap)
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

static inline char *dump(json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* The result of a call that must succeed (a new reference). */
static inline json_t *ok(struct fx *f, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline json_t *ok(struct fx *f, const char *method, const char *fmt, ...)
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
static inline void ok_true(struct fx *f, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void ok_true(struct fx *f, const char *method, const char *fmt, ...)
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
static inline void fails(struct fx *f, int code, const char *want, const char *method,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void fails(struct fx *f, int code, const char *want, const char *method,
                         const char *fmt, ...)
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

static inline void assert_json_equal(json_t *got, json_t *want)
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
static inline void assert_json_text(json_t *got, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void assert_json_text(json_t *got, const char *fmt, ...)
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
static inline void assert_keys(json_t *obj, const char *const *keys)
{
    size_t n = 0;

    assert_true(json_is_object(obj));
    for (; keys[n]; n++)
        if (!json_object_get(obj, keys[n]))
            fail_msg("key '%s' missing", keys[n]);
    assert_int_equal(json_object_size(obj), n);
}

static inline void path_in(const struct fx *f, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < len);
}

static inline bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static inline void make_file(const char *path, off_t size)
{
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* A controller NAME on DIR/NAME.sock; its path in path. */
static inline void ctl(struct fx *f, const char *name, char *path, size_t len)
{
    char file[80];

    snprintf(file, sizeof(file), "%s.sock", name);
    path_in(f, file, path, len);
    ok_true(f, "controller_create", "{'name': '%s', 'socket_path': '%s'}", name, path);
}

static inline void ram(struct fx *f, const char *name, const char *size)
{
    ok_true(f, "bdev_create", "{'name': '%s', 'type': 'ram', 'size': %s}", name, size);
}

/* lun_attach's result must be {target, lun}. */
static inline void attach(struct fx *f, const char *params, unsigned t, unsigned l)
{
    json_t *r = ok(f, "lun_attach", "%s", params);

    assert_json_text(r, "{'target': %u, 'lun': %u}", t, l);
    json_decref(r);
}

/* The saved configuration file, loaded. */
static inline json_t *saved(struct fx *f)
{
    char err[512] = "";
    json_t *c = config_load(f->cfgpath, err, sizeof(err));

    if (!c)
        fail_msg("config_load: %s", err);
    return c;
}

#endif
