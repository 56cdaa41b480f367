/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane's JSON-RPC methods against the real daemon (issue
 * #10), started with --rpc-socket only:
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
 *   controller: its I/O never fails or stalls, and other clients are served;
 * - hotplug as a frontend sees it: attach -> TRANSPORT_RESET/RESCAN event,
 *   REPORTED LUNS DATA HAS CHANGED once on the target's other LUNs, REPORT
 *   LUNS lists the new LUN; detach (also under I/O) -> TRANSPORT_RESET/
 *   REMOVED, the LUN answers BAD_TARGET;
 * - bdev_resize of a RAM and a file bdev -> PARAM_CHANGE event, CAPACITY
 *   DATA HAS CHANGED once, READ CAPACITY(16) shows the new size;
 * - stats counts exactly the commands and bytes the test sent;
 * - the CLI against the same daemon: a daemon error exits 1 with one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sys/stat.h>

#include "tests/frontend/fe_mgmt.h"
#include "tests/frontend/fuse_gate.h"

#define MiB (1024u * 1024u)

static struct mdaemon dmn;
static struct rpc_cl cl;
static struct fuse_gate gate; /* a file whose I/O the test holds in flight */
static bool have_gate;
static struct vus_fe *open_fe; /* closed by test_teardown when a test fails with it open */

static int group_setup(void **state)
{
    static const char *const args[] = { "--threads", "2", NULL };

    (void)state;
    /* Before the daemon is forked: it must see the FUSE mount (private mount namespace). */
    have_gate = fuse_gate_start(&gate, 8 * 1024 * 1024) == 0;
    if (!have_gate)
        fprintf(stderr, "no FUSE: test_detach_waits_for_held_io will be skipped\n");
    if (mgmt_init(&dmn) < 0 || mgmt_start(&dmn, false, args) < 0)
        return -1;
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    int ret;

    (void)state;
    rpc_cl_close(&cl);
    fuse_gate_release(&gate); /* the daemon's orderly exit waits for held I/O */
    ret = mgmt_stop(&dmn);
    fuse_gate_stop(&gate);
    mgmt_cleanup(&dmn);
    return ret == 0 ? 0 : -1;
}

/* The daemon is alive after every test; a test that failed mid-call gets a fresh connection. */
static int test_teardown(void **state)
{
    (void)state;
    rpc_cl_close(&cl);
    if (open_fe) {
        fuse_gate_release(&gate);
        vus_fe_close(open_fe);
        open_fe = NULL;
    }
    if (!mgmt_alive(&dmn)) {
        mgmt_dump_log(&dmn, "the daemon died");
        return -1;
    }
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static const char *sock_path(const char *name)
{
    static char buf[4][160];
    static unsigned k;
    char *p = buf[k++ % 4];

    snprintf(p, 160, "%s/%s.sock", dmn.dir, name);
    return p;
}

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
    strcpy(sa.sun_path, s3);
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

/* ---- a frontend doing verified I/O in the background ---- */

struct io_runner {
    struct vus_fe *fe;
    pthread_t th;
    bool running;
    unsigned lun;
    atomic_bool stop;
    atomic_ulong rounds;
    atomic_uint errors;
    atomic_long max_ms;
    unsigned block_size;
    bool tolerate_ua; /* retry unit attentions and record them in uas (read after the stop) */
    struct mgmt_uas uas;
    char why[256];
};

static void *io_runner_main(void *arg)
{
    struct io_runner *io = arg;
    struct vus_fe_vq *vq = vus_fe_vq(io->fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(io->fe, 65536, 4096), *r = vus_fe_alloc(io->fe, 65536, 4096);

    for (unsigned i = 0; !atomic_load(&io->stop); i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        unsigned blocks = 65536 / io->block_size;
        if (mgmt_verified_io_ua(vq, 0, io->lun, (i % 32) * blocks, blocks, io->block_size, w, r, i,
                                io->why, sizeof(io->why), io->tolerate_ua ? &io->uas : NULL) < 0) {
            atomic_fetch_add(&io->errors, 1);
            break;
        }
        long ms = rpc_ms_since(&t0);
        if (ms > atomic_load(&io->max_ms))
            atomic_store(&io->max_ms, ms);
        atomic_fetch_add(&io->rounds, 1);
        usleep(500);
    }
    return NULL;
}

static void io_runner_start(struct io_runner *io, struct vus_fe *fe, unsigned lun,
                            unsigned block_size, bool tolerate_ua)
{
    memset(io, 0, sizeof(*io));
    io->fe = fe;
    io->lun = lun;
    io->block_size = block_size;
    io->tolerate_ua = tolerate_ua;
    assert_int_equal(pthread_create(&io->th, NULL, io_runner_main, io), 0);
    io->running = true;
}

static void io_runner_stop(struct io_runner *io)
{
    if (!io->running)
        return;
    atomic_store(&io->stop, true);
    pthread_join(io->th, NULL);
    io->running = false;
}

/* At least one more round within 5 s, and no error so far. */
static void io_runner_progress(struct io_runner *io, const char *when)
{
    unsigned long before = atomic_load(&io->rounds);

    for (int ms = 0; ms < 5000 && atomic_load(&io->rounds) == before && !atomic_load(&io->errors);
         ms += 5)
        usleep(5000);
    if (atomic_load(&io->errors))
        fail_msg("frontend I/O failed %s: %s", when, io->why);
    if (atomic_load(&io->rounds) == before)
        fail_msg("frontend I/O stalled %s", when);
}

/* A controller with one RAM LUN at 0:0 and a connected frontend with the power-on UA cleared. */
static struct vus_fe *ctrl_with_frontend(const char *ctrl, const char *bdev, const char *size)
{
    struct vus_fe *fe;

    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", bdev, "type", "ram", "size", size);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", ctrl, "socket_path", sock_path(ctrl));
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", ctrl, "bdev", bdev, "target",
            0, "lun", 0);
    assert_int_equal(mgmt_fe_open(sock_path(ctrl), 1, 4 * MiB, &fe), 0);
    clear_ua(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0);
    return fe;
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

/* ---- hotplug and resize as the frontend sees them ---- */

static uint8_t sense_ascq(const struct vus_fe_cmd *c)
{
    return (c->sense[0] & 0x7f) >= 0x72 ? c->sense[3] : c->sense[13];
}

static void tur(struct vus_fe_vq *vq, unsigned target, unsigned lun, struct vus_fe_cmd *c)
{
    memset(c, 0, sizeof(*c));
    c->target = target;
    c->lun = lun;
    assert_int_equal(vus_fe_cmd_exec(vq, c, T_TIMEOUT), 0);
}

/* The next command on target:lun reports this unit attention, and the one after is GOOD. */
static void expect_ua_once(struct vus_fe_vq *vq, unsigned target, unsigned lun, uint8_t asc,
                           uint8_t ascq)
{
    struct vus_fe_cmd c;
    uint8_t key, a;

    tur(vq, target, lun, &c);
    if (c.response != VIRTIO_SCSI_S_OK)
        fail_msg("%u:%u: response %u, expected a unit attention %02x/%02x", target, lun, c.response,
                 asc, ascq);
    if (c.status != 2)
        fail_msg("%u:%u: status %u, expected a unit attention %02x/%02x", target, lun, c.status,
                 asc, ascq);
    sense_key_asc(&c, &key, &a);
    if (key != 6 || a != asc || sense_ascq(&c) != ascq)
        fail_msg("%u:%u: sense %x/%02x/%02x, expected 6/%02x/%02x", target, lun, key, a,
                 sense_ascq(&c), asc, ascq);
    tur(vq, target, lun, &c);
    if (c.response != VIRTIO_SCSI_S_OK || c.status != 0) {
        sense_key_asc(&c, &key, &a);
        fail_msg("%u:%u: the unit attention %02x/%02x came again or another followed: response "
                 "%u status %u sense %x/%02x/%02x",
                 target, lun, asc, ascq, c.response, c.status, key, a, sense_ascq(&c));
    }
}

/* The LUN is gone: BAD_TARGET (or, on a target that still exists, LOGICAL UNIT NOT SUPPORTED). */
static void expect_no_lun(struct vus_fe_vq *vq, unsigned target, unsigned lun)
{
    struct vus_fe_cmd c;
    uint8_t key = 0, asc = 0;

    tur(vq, target, lun, &c);
    if (c.response == VIRTIO_SCSI_S_BAD_TARGET)
        return;
    if (c.response == VIRTIO_SCSI_S_OK && c.status == 2) {
        sense_key_asc(&c, &key, &asc);
        if (key == 5 && asc == 0x25)
            return;
    }
    fail_msg("%u:%u was detached but answers response %u status %u sense %x/%02x", target, lun,
             c.response, c.status, key, asc);
}

static void expect_event(struct vus_fe *fe, uint32_t event, uint32_t reason, unsigned target,
                         unsigned lun, const char *what)
{
    struct virtio_scsi_event ev;
    uint32_t len;
    unsigned t, l;

    if (!mgmt_wait_event(fe, &ev, &len, T_TIMEOUT))
        fail_msg("%s: no event within %d ms", what, T_TIMEOUT);
    mgmt_event_lun(&ev, &t, &l);
    if (len != sizeof(ev) || ev.event != event || ev.reason != reason || ev.lun[0] != 1 ||
        t != target || l != lun)
        fail_msg("%s: event %#x reason %#x for %u:%u (len %u), expected event %#x reason %#x for "
                 "%u:%u",
                 what, ev.event, ev.reason, t, l, len, event, reason, target, lun);
    assert_int_equal(vus_fe_event_post(fe, 1), 0); /* give the buffer back */
}

static void no_more_events(struct vus_fe *fe)
{
    struct virtio_scsi_event ev;
    uint32_t len;

    if (mgmt_wait_event(fe, &ev, &len, 200))
        fail_msg("an unexpected event %#x reason %#x for %u:%u", ev.event, ev.reason, ev.lun[1],
                 ev.lun[3]);
}

/* REPORT LUNS on target:lun, compared with the expected list of LUN numbers. */
static void expect_report_luns(struct vus_fe *fe, unsigned target, unsigned lun,
                               const unsigned *want, unsigned n)
{
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 4096, 4096);
    uint8_t cdb[12] = { 0xa0 };
    struct vus_fe_cmd c;

    put_be32(cdb + 6, 4096);
    memset(&c, 0, sizeof(c));
    struct iovec iov = { buf, 4096 };
    c.target = target;
    c.lun = lun;
    memcpy(c.cdb, cdb, sizeof(cdb));
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    unsigned got = get_be32(buf) / 8;
    bool same = got == n;
    for (unsigned i = 0; same && i < n; i++)
        same = (((unsigned)buf[8 + 8 * i] & 0x3f) << 8 | buf[9 + 8 * i]) == want[i];
    if (!same) {
        char s[256];
        size_t o = 0;
        for (unsigned i = 0; i < got && i < 16; i++)
            o += (size_t)snprintf(s + o, sizeof(s) - o, " %u",
                                  ((unsigned)buf[8 + 8 * i] & 0x3f) << 8 | buf[9 + 8 * i]);
        s[o] = 0;
        fail_msg("REPORT LUNS on target %u lists %u LUNs:%s; expected %u", target, got, s, n);
    }
}

static uint64_t read_capacity_blocks(struct vus_fe *fe, unsigned target, unsigned lun,
                                     uint32_t *block_size)
{
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 32, 32);
    struct vus_fe_cmd c;
    struct iovec iov = { buf, 32 };

    memset(&c, 0, sizeof(c));
    c.target = target;
    c.lun = lun;
    c.cdb[0] = 0x9e;
    c.cdb[1] = 0x10;
    put_be32(c.cdb + 10, 32);
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    if (block_size)
        *block_size = get_be32(buf + 8);
    return get_be64(buf) + 1;
}

/* Reads in flight across a detach: 3 descriptors each on a 64-entry ring. */
#define NFLIGHT 16u

static void test_hotplug_attach_detach(void **state)
{
    static struct io_runner io;
    char why[256];

    (void)state;
    struct vus_fe *fe = ctrl_with_frontend("hp", "hp0", "4M");
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);

    assert_true(vus_fe_features(fe) & (1ull << VIRTIO_SCSI_F_HOTPLUG));
    assert_int_equal(vus_fe_event_post(fe, 8), 0);
    rpc_do(&cl, "bdev_create", "{\"name\":\"hp1\",\"type\":\"ram\",\"size\":\"2M\"}");
    rpc_do(&cl, "bdev_create",
           "{\"name\":\"hp2\",\"type\":\"ram\",\"size\":\"8M\",\"block_size\":4096}");

    /* Attach at 0:1 while the frontend runs. */
    json_t *res = rpc_ok(&cl, "lun_attach",
                         "{\"controller\":\"hp\",\"bdev\":\"hp1\",\"target\":0,\"lun\":1,"
                         "\"serial\":\"hotplug-1\"}");
    assert_int_equal(mgmt_int(res, "target"), 0);
    assert_int_equal(mgmt_int(res, "lun"), 1);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 0, 1,
                 "attach 0:1");
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    const unsigned l01[] = { 0, 1 };
    expect_report_luns(fe, 0, 0, l01, 2);
    clear_ua(vq, 0, 1);
    assert_int_equal(read_capacity_blocks(fe, 0, 1, NULL), 2 * MiB / 512);
    if (mgmt_verified_io(vq, 0, 1, 100, 128, w, r, 1, why, sizeof(why)) < 0)
        fail_msg("the hotplugged LUN 0:1: %s", why);

    /* The default address: the lowest free LUN of target 0. */
    res = rpc_ok(&cl, "lun_attach", "{\"controller\":\"hp\",\"bdev\":\"hp2\"}");
    assert_int_equal(mgmt_int(res, "target"), 0);
    assert_int_equal(mgmt_int(res, "lun"), 2);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 0, 2,
                 "attach 0:2");
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    expect_ua_once(vq, 0, 1, 0x3f, 0x0e);
    clear_ua(vq, 0, 2);
    uint32_t bs;
    assert_int_equal(read_capacity_blocks(fe, 0, 2, &bs), 8 * MiB / 4096);
    assert_int_equal(bs, 4096);

    json_t *luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"hp\"}");
    assert_int_equal(json_array_size(luns), 3);
    for (unsigned i = 0; i < 3; i++) {
        static const char *const bd[] = { "hp0", "hp1", "hp2" };
        static const json_int_t sz[] = { 4 * MiB, 2 * MiB, 8 * MiB };
        json_t *e = NULL, *x;
        size_t k;
        json_array_foreach(luns, k, x)
        {
            if (mgmt_int(x, "lun") == i)
                e = x;
        }
        assert_non_null(e);
        assert_int_equal(mgmt_int(e, "target"), 0);
        assert_string_equal(mgmt_str(e, "bdev"), bd[i]);
        assert_int_equal(mgmt_int(e, "size"), sz[i]);
        assert_int_equal(mgmt_int(e, "block_size"), i == 2 ? 4096 : 512);
        if (i == 1)
            assert_string_equal(mgmt_str(e, "serial"), "hotplug-1");
    }
    json_decref(luns);
    no_more_events(fe);

    /* Detach 0:1. */
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":1}");
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 1,
                 "detach 0:1");
    expect_no_lun(vq, 0, 1);
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    expect_ua_once(vq, 0, 2, 0x3f, 0x0e);
    const unsigned l02[] = { 0, 2 };
    expect_report_luns(fe, 0, 0, l02, 2);
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(mgmt_int(mgmt_find(list, "name", "hp1"), "attached"), 0);
    json_decref(list);

    /* Detach 0:0 while another thread keeps doing verified I/O to 0:2 (this thread: RPC only). */
    io_runner_start(&io, fe, 2, 4096, true);
    io_runner_progress(&io, "on 0:2 before detaching 0:0");
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":0}");
    io_runner_progress(&io, "on 0:2 after detaching 0:0");
    io_runner_stop(&io);
    if (atomic_load(&io.errors))
        fail_msg("I/O to 0:2 while 0:0 was detached: %s", io.why);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 0,
                 "detach 0:0");
    /* The I/O thread met the REPORTED LUNS DATA HAS CHANGED of 0:2, once, and retried. */
    if (io.uas.n != 1 || io.uas.seen[0] != 0x3f0e)
        fail_msg("the I/O to 0:2 across the detach of 0:0 saw %u unit attentions (first "
                 "%04x), expected exactly one 3F/0E",
                 io.uas.n, io.uas.n ? io.uas.seen[0] : 0);
    struct vus_fe_cmd c;
    tur(vq, 0, 2, &c);
    assert_int_equal(c.status, 0);
    const unsigned l2[] = { 2 };
    expect_report_luns(fe, 0, 2, l2, 1);

    /* Detach 0:2 with reads in flight: every one completes, GOOD or BAD_TARGET, none hangs. */
    struct vus_fe_cmd cmds[NFLIGHT];
    struct iovec iovs[NFLIGHT];
    uint8_t *big = vus_fe_alloc(fe, NFLIGHT * 65536, 4096);
    assert_non_null(big);
    for (unsigned i = 0; i < NFLIGHT; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cmds[i].lun = 2;
        cdb_rw16(cmds[i].cdb, false, i * 16, 16);
        iovs[i] = (struct iovec){ big + i * 65536, 65536 };
        cmds[i].in = &iovs[i];
        cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq, &cmds[i]), 0);
    }
    vus_fe_vq_kick(vq);
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":2}");
    unsigned done = 0, good = 0;
    for (int waited = 0; done < NFLIGHT && waited < T_TIMEOUT; waited += 10) {
        struct vus_fe_cmd *d;
        while ((d = vus_fe_cmd_reap(vq))) {
            done++;
            if (d->response == VIRTIO_SCSI_S_OK && d->status == 0)
                good++;
            else if (d->response != VIRTIO_SCSI_S_BAD_TARGET)
                fail_msg("a read in flight across lun_detach: response %u status %u", d->response,
                         d->status);
        }
        if (done < NFLIGHT)
            vus_fe_vq_wait(vq, 10);
    }
    if (done < NFLIGHT)
        fail_msg("%u of %u reads in flight across lun_detach never completed", NFLIGHT - done,
                 NFLIGHT);
    fprintf(stderr, "reads across lun_detach: %u good, %u BAD_TARGET\n", good, NFLIGHT - good);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 2,
                 "detach 0:2");
    /* The target has no LUN left. */
    expect_no_lun(vq, 0, 2);
    expect_no_lun(vq, 0, 0);
    luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"hp\"}");
    assert_int_equal(json_array_size(luns), 0);
    json_decref(luns);
    json_t *cl_list = rpc_ok(&cl, "controller_list", NULL);
    json_t *hp = mgmt_find(cl_list, "name", "hp");
    assert_true(json_is_true(json_object_get(hp, "connected")));
    assert_int_equal(json_array_size(json_object_get(hp, "luns")), 0);
    json_decref(cl_list);

    /* Attach again on a new target: the frontend, still connected, sees it. */
    rpc_do(&cl, "lun_attach", "{\"controller\":\"hp\",\"bdev\":\"hp1\",\"target\":5,\"lun\":3}");
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 5, 3,
                 "attach 5:3");
    clear_ua(vq, 5, 3);
    /* hp1 kept the data written through 0:1. */
    memset(&c, 0, sizeof(c));
    c.target = 5;
    c.lun = 3;
    cdb_rw16(c.cdb, false, 100, 128);
    struct iovec iov = { r, 65536 };
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    fill(w, 65536, 1);
    assert_memory_equal(w, r, 65536);

    vus_fe_close(fe);
    rpc_do(&cl, "controller_delete", "{\"name\":\"hp\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp0\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp1\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp2\"}");
}

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

/* A lun_detach on its own connection and thread: it may wait for the LUN's I/O. */
struct detach_call {
    pthread_t th;
    const char *rpc;
    atomic_int state; /* 0 running, 1 answered true, -1 failed */
    char why[700];
};

static void *detach_main(void *arg)
{
    struct detach_call *d = arg;
    struct rpc_cl c2;
    struct rpc_reply r;

    if (rpc_cl_connect(&c2, d->rpc, 1000) < 0 ||
        rpc_call(&c2, "lun_detach",
                 json_pack("{s:s, s:i, s:i}", "controller", "gd", "target", 0, "lun", 0), &r) < 0) {
        snprintf(d->why, sizeof(d->why), "%s", c2.err);
        atomic_store(&d->state, -1);
    } else {
        if (r.code)
            snprintf(d->why, sizeof(d->why), "error %d %s", r.code, r.message);
        atomic_store(&d->state, r.code == 0 && json_is_true(r.result) ? 1 : -1);
        rpc_reply_free(&r);
    }
    rpc_cl_close(&c2);
    return NULL;
}

/*
 * lun_detach while the LUN's reads are held in the backend (a FUSE file):
 * the detach waits for them, the reads complete with their data once
 * released, I/O to another LUN of the controller goes on meanwhile, and the
 * LUN is gone afterwards.  With the ASan daemon this is also the
 * use-after-free check of a detach under I/O.
 */
static void test_detach_waits_for_held_io(void **state)
{
    static struct detach_call dc;
    struct timespec t0;
    char why[256];

    (void)state;
    if (!have_gate)
        skip();
    /* A known pattern in the gated file, written through the gate before holding. */
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "gdb", "type", "file", "path",
            gate.path);
    rpc_do(&cl, "bdev_create", "{\"name\":\"gdr\",\"type\":\"ram\",\"size\":\"4M\"}");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "gd", "socket_path", sock_path("gd"));
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "gdx", "socket_path", sock_path("gdx"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gdx\",\"bdev\":\"gdr\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gd\",\"bdev\":\"gdb\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gd\",\"bdev\":\"gdr\",\"target\":0,\"lun\":1}");
    struct vus_fe *fe;
    struct vus_fe_config cfg = { .socket_path = sock_path("gd"),
                                 .num_req_queues = 2,
                                 .mem_size = 8 * MiB,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    assert_int_equal(vus_fe_connect(&cfg, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq0 = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    struct vus_fe_vq *vq1 = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + 1);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    clear_ua(vq0, 0, 0);
    clear_ua(vq1, 0, 1);
    assert_int_equal(vus_fe_event_post(fe, 4), 0);
    if (mgmt_verified_io(vq0, 0, 0, 0, 128, w, r, 11, why, sizeof(why)) < 0)
        fail_msg("gated LUN before holding: %s", why);

    /* Four reads of that pattern, held in the backend. */
    enum { NR = 4 };
    struct vus_fe_cmd cmds[NR];
    struct iovec iovs[NR];
    uint8_t *bufs = vus_fe_alloc(fe, NR * 65536, 4096);
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    for (unsigned i = 0; i < NR; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cdb_rw16(cmds[i].cdb, false, 0, 128);
        memset(bufs + i * 65536, 0xee, 65536);
        iovs[i] = (struct iovec){ bufs + i * 65536, 65536 };
        cmds[i].in = &iovs[i];
        cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq0, &cmds[i]), 0);
    }
    vus_fe_vq_kick(vq0);
    if (fuse_gate_wait_held(&gate, 1, T_TIMEOUT) < 0)
        fail_msg("no read reached the gate");

    /* Detach from another connection; it must not finish while the reads are held. */
    memset(&dc, 0, sizeof(dc));
    dc.rpc = dmn.rpc;
    assert_int_equal(pthread_create(&dc.th, NULL, detach_main, &dc), 0);
    usleep(300000);
    int early = atomic_load(&dc.state);
    /*
     * The other LUN of the controller is served meanwhile, on both queues (on
     * queue 0 behind the held reads: commands on one queue are independent).
     * Each queue is on its own worker of the two, so whichever the daemon
     * stops first, a stop of the whole controller shows.
     */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /*
     * The detach is announced to the target's other LUNs at once with
     * REPORTED LUNS DATA HAS CHANGED: retried like a guest would, and that
     * is the only unit attention allowed.
     */
    struct mgmt_uas uas = { 0 };
    int other = mgmt_verified_io_ua(vq1, 0, 1, 0, 128, 512, w, r, 12, why, sizeof(why), &uas);
    long other_ms = rpc_ms_since(&t0);
    for (unsigned i = 0; i < uas.n && i < 8; i++)
        if (uas.seen[i] != (0x3f << 8 | 0x0e))
            fail_msg("unit attention %02x/%02x on the other LUN during the detach (only 3F/0E "
                     "is expected)",
                     uas.seen[i] >> 8, uas.seen[i] & 0xff);
    struct vus_fe_cmd oc;
    struct iovec oiov = { w, 4096 };
    memset(&oc, 0, sizeof(oc));
    oc.lun = 1;
    cdb_rw16(oc.cdb, true, 512, 8);
    oc.out = &oiov;
    oc.out_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq0, &oc), 0);
    vus_fe_vq_kick(vq0);
    struct vus_fe_cmd *got = NULL;
    for (int waited = 0; !got && waited < 2000; waited += 10) {
        got = vus_fe_cmd_reap(vq0);
        if (!got)
            vus_fe_vq_wait(vq0, 10);
    }
    /* Served is served: GOOD, or the REPORTED LUNS DATA HAS CHANGED of the detach. */
    uint8_t okey = 0, oasc = 0;
    if (got == &oc && oc.status == 2)
        sense_key_asc(&oc, &okey, &oasc);
    bool other_q0 = got == &oc && oc.response == 0 &&
                    (oc.status == 0 || (oc.status == 2 && okey == 6 && oasc == 0x3f));
    /* Another controller on the same two workers is not held up at all. */
    struct vus_fe *bfe;
    assert_int_equal(mgmt_fe_open(sock_path("gdx"), 2, MiB, &bfe), 0);
    uint8_t *bw = vus_fe_alloc(bfe, 65536, 4096), *br = vus_fe_alloc(bfe, 65536, 4096);
    char bwhy[256] = "";
    int by = 0;
    for (unsigned q = 0; q < 2 && by == 0; q++) {
        struct vus_fe_vq *bq = vus_fe_vq(bfe, VIRTIO_SCSI_VQ_REQUEST + q);
        clear_ua(bq, 0, 0);
        by = mgmt_verified_io(bq, 0, 0, q * 128, 128, bw, br, 13 + q, bwhy, sizeof(bwhy));
    }
    vus_fe_close(bfe);
    /* And is the RPC server answering others meanwhile?  Reported, not required. */
    struct rpc_cl c3;
    struct rpc_reply rr;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool rpc_ok_during = rpc_cl_connect(&c3, dmn.rpc, 500) == 0;
    c3.timeout_ms = 1000;
    rpc_ok_during = rpc_ok_during && rpc_call(&c3, "version", NULL, &rr) == 0;
    long rpc_ms = rpc_ms_since(&t0);
    if (rpc_ok_during)
        rpc_reply_free(&rr);
    rpc_cl_close(&c3);
    fprintf(stderr,
            "during a detach waiting for held I/O: another LUN's I/O %s (%ld ms), a version "
            "call %s after %ld ms\n",
            other == 0 ? "ok" : why, other_ms, rpc_ok_during ? "answered" : "not answered", rpc_ms);

    fuse_gate_release(&gate);
    fuse_gate_hold(&gate, 0);
    unsigned done = 0; /* held reads */
    bool oc_done = got == &oc;
    if (got && got != &oc)
        fail_msg("a held read completed before it was released");
    for (int waited = 0; (done < NR || !oc_done) && waited < T_TIMEOUT; waited += 10) {
        struct vus_fe_cmd *d;
        while ((d = vus_fe_cmd_reap(vq0))) {
            if (d == &oc) {
                oc_done = true; /* the write to 0:1 on this queue, late */
                continue;
            }
            done++;
            if (d->response != VIRTIO_SCSI_S_OK || d->status != 0) {
                uint8_t key = 0, asc = 0;
                if (d->status == 2)
                    sense_key_asc(d, &key, &asc);
                fail_msg("a read held across lun_detach: response %u status %u sense %x/%02x/%02x "
                         "(expected GOOD: the detach waits for it)",
                         d->response, d->status, key, asc,
                         (d->sense[0] & 0x7f) >= 0x72 ? d->sense[3] : d->sense[13]);
            }
        }
        if (done < NR || !oc_done)
            vus_fe_vq_wait(vq0, 10);
    }
    if (done < NR)
        fail_msg("%u of %u held reads never completed after release", NR - done, NR);
    fill(w, 65536, 11);
    for (unsigned i = 0; i < NR; i++)
        if (memcmp(bufs + i * 65536, w, 65536))
            fail_msg("held read %u completed GOOD with wrong data", i);
    for (int i = 0; i < 500 && atomic_load(&dc.state) == 0; i++)
        usleep(10000);
    pthread_join(dc.th, NULL);
    if (atomic_load(&dc.state) != 1)
        fail_msg("lun_detach with held reads: %s", dc.why[0] ? dc.why : "no answer in 5 s");
    if (early != 0)
        fail_msg("lun_detach answered while the LUN's reads were still held in the backend");
    if (by != 0)
        fail_msg("another controller's I/O while gd 0:0 was being detached: %s", bwhy);
    if (other != 0)
        fail_msg("I/O to the other LUN (0:1, queue 1) while 0:0 was being detached: %s", why);
    if (!other_q0)
        fail_msg("a write to the other LUN (0:1) on queue 0 was not served while 0:0 was being "
                 "detached (%s)",
                 got ? "failed" : "no completion in 2 s");
    if (other_ms > 2000)
        fail_msg("I/O to the other LUN took %ld ms while 0:0 was being detached", other_ms);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 0,
                 "detach of the gated LUN");
    struct vus_fe_cmd c;
    tur(vq0, 0, 0, &c);
    /* LUN 0 of a target that still has LUN 1: the stand-in answers, not the detached LUN. */
    if (c.response == VIRTIO_SCSI_S_OK && c.status == 0)
        fail_msg("0:0 answers TEST UNIT READY with GOOD after its detach");
    vus_fe_close(fe);
    open_fe = NULL;
    rpc_do(&cl, "controller_delete", "{\"name\":\"gd\"}");
    rpc_do(&cl, "controller_delete", "{\"name\":\"gdx\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gdb\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gdr\"}");
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
        cmocka_unit_test_teardown(test_socket_mode_and_version, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_controllers, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_bdevs, test_teardown),
        cmocka_unit_test_teardown(test_bad_params_luns_and_stats, test_teardown),
        cmocka_unit_test_teardown(test_state_errors, test_teardown),
        cmocka_unit_test_teardown(test_bad_clients_do_not_disturb_io, test_teardown),
        cmocka_unit_test_teardown(test_hotplug_attach_detach, test_teardown),
        cmocka_unit_test_teardown(test_detach_waits_for_held_io, test_teardown),
        cmocka_unit_test_teardown(test_resize, test_teardown),
        cmocka_unit_test_teardown(test_stats_exact, test_teardown),
    };
    fe_apply_test_filter();
    mgmt_raise_nofile();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
