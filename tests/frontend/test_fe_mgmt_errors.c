/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane's JSON-RPC methods against the real daemon (issue
 * #10), started with --rpc-socket only, and the errors a client sees:
 *
 * - every method with wrong params (missing, wrong type, unknown key, out of
 *   range, bad enum, sizes that are not multiples of 512, names with bad
 *   characters): -32602 with one line naming the parameter, and nothing
 *   created; then the errors of state: duplicate names and socket paths
 *   (-32002), unknown controllers/bdevs/LUNs (-32001), a bdev deleted while
 *   attached (-32003), an occupied target/LUN (-32002), a path that cannot
 *   be used (-32004);
 * - malformed JSON, binary garbage, an oversized and a half-written request,
 *   each on its own connection, while a frontend does verified I/O on a
 *   controller: its I/O never fails or stalls, and other clients are served.
 *
 * Hotplug: test_fe_mgmt_hotplug.c; resize and stats:
 * test_fe_mgmt_resize_stats.c; the fixture: fe_mgmt_rpc.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_mgmt_rpc.h"

/* ---- wrong params ---- */

struct bad_call {
    const char *method;
    const char *params; /* JSON text; %S is replaced by a fresh socket path */
    int code;
    const char *want; /* the message must contain this (case-insensitive) */
};

/* Runs every row and reports every mismatch (not only the first), then fails if any. */
static void run_bad_calls(const struct bad_call *t, size_t n)
{
    unsigned bad = 0;

    for (size_t i = 0; i < n; i++) {
        char params[1024];
        const char *s = t[i].params;
        size_t o = 0;
        /* %S: a socket path in our directory. */
        for (; s && *s && o < sizeof(params) - 200; s++) {
            if (s[0] == '%' && s[1] == 'S') {
                o += (size_t)snprintf(params + o, sizeof(params) - o, "%s", sock_path("bad"));
                s++;
            } else {
                params[o++] = *s;
            }
        }
        params[o] = 0;
        struct rpc_reply r;
        if (rpc_call(&cl, t[i].method, rpc_params_text(t[i].params ? params : NULL), &r) < 0)
            fail_msg("%s %s: %s", t[i].method, params, cl.err);
        const char *why = NULL;
        if (r.code != t[i].code)
            why = "wrong code";
        else if (!rpc_one_line(r.message))
            why = "message not one printable line";
        else if (t[i].want && !strcasestr(r.message, t[i].want))
            why = "message does not name the parameter";
        if (why) {
            char *res = r.result ? json_dumps(r.result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            fprintf(stderr, "MISMATCH %s %s: expected %d naming '%s'; got %d %s (%s)\n",
                    t[i].method, params, t[i].code, t[i].want ? t[i].want : "", r.code,
                    r.code ? r.message : res, why);
            free(res);
            bad++;
        }
        rpc_reply_free(&r);
    }
    if (bad)
        fail_msg("%u of %zu calls with wrong params were not answered as expected (MISMATCH lines)",
                 bad, n);
}

#define P RPC_E_INVALID_PARAMS

static void test_socket_mode_and_version(void **state)
{
    struct stat st;

    (void)state;
    assert_int_equal(stat(dmn.rpc, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    if ((st.st_mode & 0777) != 0600)
        fail_msg("the RPC socket has mode %o, not 600", st.st_mode & 0777);
    json_t *v = rpc_ok(&cl, "version", NULL);
    assert_true(strlen(mgmt_str(v, "version")) > 0);
    json_decref(v);
    v = rpc_ok(&cl, "version", "{}");
    json_decref(v);
    static const struct bad_call bad[] = {
        { "version", "{\"x\":1}", P, "x" },
        { "no_such_method", "{}", RPC_E_NO_METHOD, "no_such_method" },
    };
    run_bad_calls(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_bad_params_controllers(void **state)
{
    static const struct bad_call bad[] = {
        { "controller_create", "{}", P, "name" },
        { "controller_create", "{\"name\":\"cc\"}", P, "socket_path" },
        { "controller_create", "{\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":7,\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":null,\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":\"cc\",\"socket_path\":7}", P, "socket_path" },
        { "controller_create", "{\"name\":\"cc\",\"socket_path\":[\"%S\"]}", P, "socket_path" },
        { "controller_create", "{\"name\":\"cc\",\"socket_path\":\"\"}", P, "socket_path" },
        { "controller_create", "{\"name\":\"a b\",\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":\"a/b\",\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":\"a\\nb\",\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":\"caf\\u00e9\",\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create", "{\"name\":\"\",\"socket_path\":\"%S\"}", P, "name" },
        { "controller_create",
          "{\"name\":"
          "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxx\",\"socket_path\":\"%S\"}",
          P, "name" },
        { "controller_create", "{\"name\":\"cc\",\"socket_path\":\"%S\",\"sockt\":1}", P, "sockt" },
        { "controller_create", "[\"cc\",\"%S\"]", P, "object" },
        { "controller_create", "{\"name\":\"cc\",\"socket_path\":\"/nonexistent-vus-dir/x.sock\"}",
          RPC_E_IO, "/nonexistent-vus-dir/x.sock" },
        { "controller_delete", "{}", P, "name" },
        { "controller_delete", "{\"name\":1}", P, "name" },
        { "controller_delete", "{\"name\":\"cc\",\"force\":true}", P, "force" },
        { "controller_delete", "{\"name\":\"nope\"}", RPC_E_NOT_FOUND, "nope" },
        { "controller_list", "{\"x\":1}", P, "x" },
    };
    struct stat st;

    (void)state;
    run_bad_calls(bad, sizeof(bad) / sizeof(bad[0]));
    /* Nothing was created, and no socket file was left behind. */
    json_t *list = rpc_ok(&cl, "controller_list", NULL);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    if (stat(sock_path("bad"), &st) == 0)
        fail_msg("a refused controller_create left %s behind", sock_path("bad"));

    /* A path longer than a UNIX socket address: refused, one way or the other, not truncated. */
    char longpath[200];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    memcpy(longpath, dmn.dir, strlen(dmn.dir));
    longpath[strlen(dmn.dir)] = '/';
    struct rpc_reply r;
    assert_int_equal(rpc_call(&cl, "controller_create",
                              json_pack("{s:s, s:s}", "name", "cc", "socket_path", longpath), &r),
                     0);
    if (r.code != P && r.code != RPC_E_IO)
        fail_msg(
            "controller_create with a %zu-byte socket path: expected -32602 or -32004, got %d %s",
            strlen(longpath), r.code, r.message ? r.message : "(success)");
    if (!strcasestr(r.message, "socket_path") && !strstr(r.message, longpath))
        fail_msg("controller_create with a too long path: '%s' names neither socket_path nor "
                 "the path",
                 r.message);
    rpc_reply_free(&r);
}

static void test_bad_params_bdevs(void **state)
{
    static const struct bad_call bad[] = {
        { "bdev_create", "{}", P, "name" },
        { "bdev_create", "{\"name\":\"b\"}", P, "type" },
        { "bdev_create", "{\"type\":\"ram\",\"size\":\"1M\"}", P, "name" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"disk\",\"size\":\"1M\"}", P, "type" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"RAM\",\"size\":\"1M\"}", P, "type" },
        { "bdev_create", "{\"name\":\"b\",\"type\":1,\"size\":\"1M\"}", P, "type" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"null\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":1000}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1000\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"null\",\"size\":513}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":0}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":-512}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":1048576.5}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1Q\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1.5M\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"-1M\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"99999999999T\"}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":true}", P, "size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"block_size\":1024}", P,
          "block_size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"block_size\":0}", P,
          "block_size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"block_size\":\"512\"}",
          P, "block_size" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"readonly\":\"yes\"}",
          P, "readonly" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"readonly\":1}", P,
          "readonly" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"direct\":\"on\"}", P,
          "direct" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"ram\",\"size\":\"1M\",\"sise\":1}", P,
          "sise" },
        { "bdev_create", "{\"name\":\"b c\",\"type\":\"ram\",\"size\":\"1M\"}", P, "name" },
        { "bdev_create", "{\"name\":\"b;rm\",\"type\":\"ram\",\"size\":\"1M\"}", P, "name" },
        { "bdev_create", "{\"name\":\"../b\",\"type\":\"ram\",\"size\":\"1M\"}", P, "name" },
        { "bdev_create", "{\"name\":\"\",\"type\":\"ram\",\"size\":\"1M\"}", P, "name" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"file\"}", P, "path" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"file\",\"path\":5}", P, "path" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"file\",\"path\":\"/nonexistent-vus/img\"}",
          RPC_E_IO, "/nonexistent-vus/img" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"nvme\",\"pci\":\"zz\"}", P, "pci" },
        { "bdev_create", "{\"name\":\"b\",\"type\":\"nvme\",\"pci\":\"0000:03:00.0\",\"ns\":\"1\"}",
          P, "ns" },
        { "bdev_delete", "{}", P, "name" },
        { "bdev_delete", "{\"name\":7}", P, "name" },
        { "bdev_delete", "{\"name\":\"nope\"}", RPC_E_NOT_FOUND, "nope" },
        { "bdev_resize", "{}", P, "name" },
        { "bdev_resize", "{\"name\":\"nope\",\"size\":\"1M\"}", RPC_E_NOT_FOUND, "nope" },
        { "bdev_resize", "{\"name\":\"br\"}", P, "size" },
        { "bdev_resize", "{\"name\":\"br\",\"size\":1000}", P, "size" },
        { "bdev_resize", "{\"name\":\"br\",\"size\":\"x\"}", P, "size" },
        { "bdev_resize", "{\"name\":\"br\",\"size\":\"2M\",\"extra\":1}", P, "extra" },
        { "bdev_list", "{\"a\":1}", P, "a" },
    };

    (void)state;
    /* One real bdev, for the resize errors. */
    rpc_do(&cl, "bdev_create", "{\"name\":\"br\",\"type\":\"ram\",\"size\":\"1M\"}");
    run_bad_calls(bad, sizeof(bad) / sizeof(bad[0]));
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    if (json_array_size(list) != 1) {
        char *t = json_dumps(list, JSON_COMPACT);
        fail_msg("refused calls created bdevs: %s", t);
    }
    json_t *e = mgmt_find(list, "name", "br");
    assert_non_null(e);
    assert_int_equal(mgmt_int(e, "size"), MiB); /* refused resizes changed nothing */
    assert_int_equal(mgmt_int(e, "block_size"), 512);
    assert_string_equal(mgmt_str(e, "type"), "ram");
    assert_true(json_is_false(json_object_get(e, "readonly")));
    assert_int_equal(mgmt_int(e, "attached"), 0);
    json_decref(list);
    rpc_do(&cl, "bdev_delete", "{\"name\":\"br\"}");
}

static void test_bad_params_luns_and_stats(void **state)
{
    static const struct bad_call bad[] = {
        { "lun_attach", "{}", P, "controller" },
        { "lun_attach", "{\"controller\":\"lc\"}", P, "bdev" },
        { "lun_attach", "{\"bdev\":\"lb\"}", P, "controller" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"target\":256}", P, "target" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"target\":-1}", P, "target" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"target\":\"0\"}", P, "target" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"target\":1.5}", P, "target" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"lun\":256}", P, "lun" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"lun\":false}", P, "lun" },
        { "lun_attach",
          "{\"controller\":\"lc\",\"bdev\":\"lb\",\"serial\":"
          "\"0123456789012345678901234567890123456\"}",
          P, "serial" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"serial\":\"a\\u0001b\"}", P,
          "serial" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"serial\":5}", P, "serial" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"wwn\":\"xyz\"}", P, "wwn" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"wwn\":\"0123456789abcdef\"}", P,
          "wwn" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"wwn\":\"5123456789abcde\"}", P,
          "wwn" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"wwn\":6000000000000001}", P,
          "wwn" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"lb\",\"lunn\":0}", P, "lunn" },
        { "lun_attach", "{\"controller\":\"nope\",\"bdev\":\"lb\"}", RPC_E_NOT_FOUND, "nope" },
        { "lun_attach", "{\"controller\":\"lc\",\"bdev\":\"nope\"}", RPC_E_NOT_FOUND, "nope" },
        { "lun_detach", "{}", P, "controller" },
        { "lun_detach", "{\"controller\":\"lc\",\"lun\":0}", P, "target" },
        { "lun_detach", "{\"controller\":\"lc\",\"target\":0}", P, "lun" },
        { "lun_detach", "{\"controller\":\"lc\",\"target\":300,\"lun\":0}", P, "target" },
        { "lun_detach", "{\"controller\":\"lc\",\"target\":0,\"lun\":\"0\"}", P, "lun" },
        { "lun_detach", "{\"controller\":\"nope\",\"target\":0,\"lun\":0}", RPC_E_NOT_FOUND,
          "nope" },
        { "lun_detach", "{\"controller\":\"lc\",\"target\":0,\"lun\":9}", RPC_E_NOT_FOUND, "lc" },
        { "lun_list", "{}", P, "controller" },
        { "lun_list", "{\"controller\":3}", P, "controller" },
        { "lun_list", "{\"controller\":\"nope\"}", RPC_E_NOT_FOUND, "nope" },
        { "stats", "{\"controller\":5}", P, "controller" },
        { "stats", "{\"target\":300}", P, "target" },
        { "stats", "{\"bogus\":1}", P, "bogus" },
        { "stats", "{\"controller\":\"nope\"}", RPC_E_NOT_FOUND, "nope" },
        { "worker_list", "{\"bogus\":1}", P, "bogus" },
    };

    (void)state;
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "lc", "socket_path", sock_path("lc"));
    rpc_do(&cl, "bdev_create", "{\"name\":\"lb\",\"type\":\"ram\",\"size\":\"1M\"}");
    run_bad_calls(bad, sizeof(bad) / sizeof(bad[0]));
    json_t *luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"lc\"}");
    if (json_array_size(luns) != 0) {
        char *t = json_dumps(luns, JSON_COMPACT);
        fail_msg("refused lun_attach calls attached something: %s", t);
    }
    json_decref(luns);
    rpc_do(&cl, "controller_delete", "{\"name\":\"lc\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"lb\"}");
}

/* Duplicates, unknown names, busy bdevs, occupied addresses, used paths. */
static void test_state_errors(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    const char *s1 = sock_path("dup1"), *s2 = sock_path("dup2"), *s3 = sock_path("dup3");

    (void)state;
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "dupc", "socket_path", s1);
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "dupb", "type", "ram", "size", "1M");
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "dupb2", "type", "null", "size", "1M");

    /* Same name, new path: refused, and the new path is not created. */
    const char *w1[] = { "dupc", NULL };
    free(rpc_fail_p(&cl, RPC_E_EXISTS, w1, "controller_create",
                    json_pack("{s:s, s:s}", "name", "dupc", "socket_path", s2)));
    if (stat(s2, &st) == 0)
        fail_msg("a refused controller_create (duplicate name) created %s", s2);
    /* New name, same path. */
    const char *w2[] = { s1, NULL };
    free(rpc_fail_p(&cl, RPC_E_EXISTS, w2, "controller_create",
                    json_pack("{s:s, s:s}", "name", "dupc2", "socket_path", s1)));
    /* The first controller's socket still works: a frontend connects. */
    struct vus_fe *fe;
    assert_int_equal(mgmt_fe_open(s1, 1, MiB, &fe), 0);
    vus_fe_close(fe);

    /* A path another process listens on: refused, and that socket left alone. */
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(strlen(s3) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, s3, strlen(s3) + 1);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    struct rpc_reply r;
    assert_int_equal(rpc_call(&cl, "controller_create",
                              json_pack("{s:s, s:s}", "name", "dupc3", "socket_path", s3), &r),
                     0);
    if (r.code != RPC_E_EXISTS && r.code != RPC_E_IO)
        fail_msg("controller_create on a path another process listens on: expected -32002 or "
                 "-32004, got %d %s",
                 r.code, r.message ? r.message : "(success)");
    if (!strstr(r.message, s3))
        fail_msg("controller_create on a live socket: '%s' does not name %s", r.message, s3);
    rpc_reply_free(&r);
    int cfd = rpc_unix_connect(s3);
    if (cfd < 0)
        fail_msg("the daemon took %s from its owner: connect: %s", s3, strerror(-cfd));
    close(cfd);
    close(lfd);
    unlink(s3);

    /* Bdevs. */
    const char *w3[] = { "dupb", NULL };
    free(rpc_fail_p(&cl, RPC_E_EXISTS, w3, "bdev_create",
                    json_pack("{s:s, s:s, s:s}", "name", "dupb", "type", "ram", "size", "2M")));
    json_t *res = rpc_ok(&cl, "lun_attach", "{\"controller\":\"dupc\",\"bdev\":\"dupb\"}");
    assert_int_equal(mgmt_int(res, "target"), 0);
    assert_int_equal(mgmt_int(res, "lun"), 0);
    json_decref(res);
    free(rpc_fail_p(&cl, RPC_E_BUSY, w3, "bdev_delete", json_pack("{s:s}", "name", "dupb")));
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    json_t *e = mgmt_find(list, "name", "dupb");
    assert_non_null(e);
    assert_int_equal(mgmt_int(e, "attached"), 1);
    assert_int_equal(mgmt_int(e, "size"), MiB); /* the refused duplicate changed nothing */
    json_decref(list);

    /* An occupied address. */
    const char *w4[] = { "lun", NULL };
    char *m = rpc_fail_p(&cl, RPC_E_EXISTS, w4, "lun_attach",
                         json_pack("{s:s, s:s, s:i, s:i}", "controller", "dupc", "bdev", "dupb2",
                                   "target", 0, "lun", 0));
    free(m);
    /* The same bdev twice on one controller is allowed at another address (shared LUN). */
    res = rpc_ok(&cl, "lun_attach",
                 "{\"controller\":\"dupc\",\"bdev\":\"dupb2\",\"target\":3,\"lun\":7}");
    assert_int_equal(mgmt_int(res, "target"), 3);
    assert_int_equal(mgmt_int(res, "lun"), 7);
    json_decref(res);
    /* The default LUN is the lowest free one on the target. */
    res = rpc_ok(&cl, "lun_attach", "{\"controller\":\"dupc\",\"bdev\":\"dupb2\",\"target\":3}");
    assert_int_equal(mgmt_int(res, "lun"), 0);
    json_decref(res);
    list = rpc_ok(&cl, "lun_list", "{\"controller\":\"dupc\"}");
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(mgmt_int(mgmt_find(list, "name", "dupb2"), "attached"), 2);
    json_decref(list);

    /* Detach, then the bdev can go; deleting the controller detaches the rest. */
    rpc_do(&cl, "lun_detach", "{\"controller\":\"dupc\",\"target\":0,\"lun\":0}");
    const char *w5[] = { "dupc", NULL };
    free(rpc_fail_p(&cl, RPC_E_NOT_FOUND, w5, "lun_detach",
                    json_pack("{s:s, s:i, s:i}", "controller", "dupc", "target", 0, "lun", 0)));
    rpc_do(&cl, "bdev_delete", "{\"name\":\"dupb\"}");
    free(rpc_fail_p(&cl, RPC_E_NOT_FOUND, w3, "bdev_delete", json_pack("{s:s}", "name", "dupb")));
    rpc_do(&cl, "controller_delete", "{\"name\":\"dupc\"}");
    free(rpc_fail_p(&cl, RPC_E_NOT_FOUND, w1, "controller_delete",
                    json_pack("{s:s}", "name", "dupc")));
    list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(mgmt_int(mgmt_find(list, "name", "dupb2"), "attached"), 0);
    json_decref(list);
    rpc_do(&cl, "bdev_delete", "{\"name\":\"dupb2\"}");
    /* The name and the path can be used again. */
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "dupc", "socket_path", s1);
    rpc_do(&cl, "controller_delete", "{\"name\":\"dupc\"}");
}

static void test_bad_clients_do_not_disturb_io(void **state)
{
    static struct io_runner io;
    struct rpc_cl bad, half, big, ok;
    struct timespec t0;
    bool eof;

    (void)state;
    struct vus_fe *fe = ctrl_with_frontend("bc", "bcb", "16M");
    io_runner_start(&io, fe, 0, 512, false);
    io_runner_progress(&io, "before any bad client");

    /* Half a request, left hanging for the whole test. */
    static const char half1[] = "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"vers";
    static const char half2[] = "ion\"}\n";
    assert_int_equal(rpc_cl_connect(&half, dmn.rpc, 1000), 0);
    assert_int_equal(rpc_cl_send(&half, half1, strlen(half1), 1000), 0);

    /* Malformed JSON: -32700, then the connection is closed. */
    assert_int_equal(rpc_cl_connect(&bad, dmn.rpc, 1000), 0);
    /* (A value must be complete to be judged: "{not json" without '}' is a half request.) */
    assert_int_equal(rpc_cl_send(&bad, "{not json}\n", 11, 1000), 0);
    json_t *resp = rpc_cl_recv(&bad, 2000);
    if (!resp)
        fail_msg("malformed JSON: %s", bad.err);
    assert_int_equal(mgmt_int(json_object_get(resp, "error"), "code"), RPC_E_PARSE);
    json_decref(resp);
    if (!rpc_cl_peer_closed(&bad, 2000))
        fail_msg("the connection stays open after a parse error");
    rpc_cl_close(&bad);
    io_runner_progress(&io, "after malformed JSON");

    /* Binary garbage, NULs included. */
    static const char garbage[] = "\x00\xff\xfe{\x01\x02]]]\x00\n";
    assert_int_equal(rpc_cl_connect(&bad, dmn.rpc, 1000), 0);
    assert_int_equal(rpc_cl_send(&bad, garbage, sizeof(garbage), 1000), 0);
    if (!rpc_cl_peer_closed(&bad, 2000))
        fail_msg("the connection stays open after binary garbage");
    rpc_cl_close(&bad);

    /* A request of 2 MiB that never ends: refused and dropped, not buffered for ever. */
    assert_int_equal(rpc_cl_connect(&big, dmn.rpc, 1000), 0);
    static const char head[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"version\",\"params\":{\"x\":\"";
    size_t blen = 2 * MiB;
    char *blob = malloc(blen);
    memset(blob, 'A', blen);
    memcpy(blob, head, strlen(head));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rpc_cl_send(&big, blob, blen, 5000); /* may fail: the daemon may hang up half-way */
    free(blob);
    char *line = rpc_cl_recv_line(&big, 5000, &eof);
    if (line) {
        resp = json_loads(line, 0, NULL);
        if (!resp || !json_object_get(resp, "error"))
            fail_msg("an oversized request was answered without an error: %.200s", line);
        json_decref(resp);
        free(line);
        if (!rpc_cl_peer_closed(&big, 2000))
            fail_msg("the connection stays open after an oversized request");
    } else if (!eof) {
        fail_msg("an oversized request: neither answered nor dropped in 5 s: %s", big.err);
    }
    rpc_cl_close(&big);
    io_runner_progress(&io, "after an oversized request");

    /* Errors that keep the connection: unknown method, array params, then a good call. */
    assert_int_equal(rpc_cl_connect(&ok, dmn.rpc, 1000), 0);
    struct rpc_reply r;
    assert_int_equal(rpc_call(&ok, "frobnicate", NULL, &r), 0);
    assert_int_equal(r.code, RPC_E_NO_METHOD);
    rpc_reply_free(&r);
    assert_int_equal(rpc_call(&ok, "controller_list", json_pack("[i]", 1), &r), 0);
    assert_int_equal(r.code, RPC_E_INVALID_PARAMS);
    rpc_reply_free(&r);
    /* With the half request still pending elsewhere, a call is answered at once. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *v = rpc_ok(&ok, "controller_list", NULL);
    long ms = rpc_ms_since(&t0);
    if (ms > 500)
        fail_msg("controller_list took %ld ms while a half request was pending", ms);
    assert_non_null(mgmt_find(v, "name", "bc"));
    json_decref(v);
    rpc_cl_close(&ok);

    /* The half request, completed seconds later, is answered. */
    assert_int_equal(rpc_cl_send(&half, half2, strlen(half2), 1000), 0);
    resp = rpc_cl_recv(&half, 2000);
    if (!resp)
        fail_msg("the completed half request: %s", half.err);
    assert_int_equal(mgmt_int(resp, "id"), 77);
    assert_non_null(json_object_get(json_object_get(resp, "result"), "version"));
    json_decref(resp);
    rpc_cl_close(&half);

    io_runner_progress(&io, "after the bad clients");
    io_runner_stop(&io);
    assert_int_equal(atomic_load(&io.errors), 0);
    if (atomic_load(&io.max_ms) > 2000)
        fail_msg("a 64 KiB write+read round took %ld ms during the bad clients",
                 atomic_load(&io.max_ms));
    fprintf(stderr, "I/O rounds during the bad clients: %lu, slowest %ld ms\n",
            atomic_load(&io.rounds), atomic_load(&io.max_ms));
    vus_fe_close(fe);
    rpc_do(&cl, "controller_delete", "{\"name\":\"bc\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"bcb\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_socket_mode_and_version, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_controllers, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_bdevs, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_luns_and_stats, test_teardown),
        cmocka_unit_test_teardown(test_state_errors, test_teardown),
        cmocka_unit_test_teardown(test_bad_clients_do_not_disturb_io, test_teardown),
    };
    fe_apply_test_filter();
    mgmt_raise_nofile();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
