/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The declarative parameter validator: every type, every message, and the -32602 wrapper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rpc/rpc_dispatch.h"
#include "rpc/rpc_params.h"

struct args {
    const char *name;
    const char *path;
    int type;
    uint64_t size;
    uint64_t target;
    bool ro;
};

static const char *const types[] = { "ram", "file", "null", NULL };

static const struct rpc_param table[] = {
    RPC_PARAM_STR(struct args, name, true, 1, 16, RPC_PF_IDENT),
    RPC_PARAM_STR(struct args, path, false, 0, 0, 0),
    RPC_PARAM_ENUM(struct args, type, true, types),
    RPC_PARAM_SIZE(struct args, size, false, 512, 0, 512),
    RPC_PARAM_UINT(struct args, target, false, 0, 255),
    RPC_PARAM_BOOL_AS(struct args, ro, "readonly", false),
};

static char err[512];
/* The last params parsed: strings in struct args are borrowed from it. */
static json_t *p;

static int check(const char *json, struct args *a)
{
    json_error_t e;
    int r;

    json_decref(p);
    p = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(p);
    memset(a, 0, sizeof(*a));
    a->target = 99; /* a default the caller chose */
    err[0] = 0;
    r = rpc_params_check(p, table, RPC_NPARAMS(table), a, err, sizeof(err));
    return r;
}

static void expect_err(const char *json, const char *msg)
{
    struct args a;

    assert_int_equal(check(json, &a), -1);
    assert_string_equal(err, msg);
}

static void test_good(void **state)
{
    struct args a;

    assert_int_equal(
        check("{\"name\":\"disk1\",\"type\":\"file\",\"size\":\"64M\",\"readonly\":true,"
              "\"path\":\"/x y\"}",
              &a),
        0);
    assert_string_equal(a.name, "disk1");
    assert_int_equal(a.type, 1);
    assert_int_equal(a.size, 64 << 20);
    assert_true(a.ro);
    /* Absent optional params leave the caller's default. */
    assert_int_equal(a.target, 99);

    assert_int_equal(
        check("{\"name\":\"a.b_c-d:0\",\"type\":\"null\",\"size\":1024,\"target\":255}", &a), 0);
    assert_int_equal(a.type, 2);
    assert_int_equal(a.size, 1024);
    assert_int_equal(a.target, 255);
    assert_false(a.ro);
}

static void test_required_and_unknown(void **state)
{
    expect_err("{\"type\":\"ram\"}", "name: required");
    expect_err("{}", "name: required");
    /* The misspelling is named, not the missing parameter it was meant to be. */
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"sise\":\"1G\"}", "unknown parameter 'sise'");
    expect_err("[1,2]", "params must be an object (parameters by name), not an array");
    expect_err("5", "params must be an object, got an integer");
}

static void test_size(void **state)
{
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":1000}",
               "size: must be a positive multiple of 512, got 1000");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":0}",
               "size: must be a positive multiple of 512, got 0");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":\"1X\"}",
               "size: '1X' is not a number with an optional K, M, G or T suffix");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":\"\"}",
               "size: '' is not a number with an optional K, M, G or T suffix");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":\"1MB\"}",
               "size: '1MB' is not a number with an optional K, M, G or T suffix");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":\"99999999999T\"}",
               "size: '99999999999T' does not fit in 64 bits");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":-512}",
               "size: must be a number of bytes or a string such as \"64M\", got a negative "
               "number");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"size\":1.5}",
               "size: must be a number of bytes or a string such as \"64M\", got a fractional "
               "number");
}

static void test_parse_size(void **state)
{
    uint64_t v;

    assert_int_equal(rpc_parse_size("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(rpc_parse_size("2k", &v), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(rpc_parse_size("3G", &v), 0);
    assert_int_equal(v, 3ull << 30);
    assert_int_equal(rpc_parse_size("16777215T", &v), 0);
    assert_int_equal(v, 16777215ull << 40);
    assert_int_equal(rpc_parse_size("16777216T", &v), -ERANGE);
    assert_int_equal(rpc_parse_size("18446744073709551615", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(rpc_parse_size("18446744073709551616", &v), -ERANGE);
    assert_int_equal(rpc_parse_size("-1", &v), -EINVAL);
    assert_int_equal(rpc_parse_size(" 1", &v), -EINVAL);
    assert_int_equal(rpc_parse_size("1 ", &v), -EINVAL);
    assert_int_equal(rpc_parse_size("0x10", &v), -EINVAL);
}

static void test_uint_bool_string_enum(void **state)
{
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"target\":256}",
               "target: must be between 0 and 255, got 256");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"target\":\"1\"}",
               "target: must be a non-negative integer, got a string");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"target\":-1}",
               "target: must be a non-negative integer, got a negative number");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"readonly\":\"on\"}",
               "readonly: must be true or false, got a string");
    expect_err("{\"name\":\"d\",\"type\":\"ram\",\"readonly\":null}",
               "readonly: must be true or false, got null");
    expect_err("{\"name\":\"\",\"type\":\"ram\"}", "name: must be 1 to 16 characters, got 0");
    expect_err("{\"name\":\"12345678901234567\",\"type\":\"ram\"}",
               "name: must be 1 to 16 characters, got 17");
    expect_err("{\"name\":\"a/b\",\"type\":\"ram\"}",
               "name: may contain only letters, digits, '.', '_', '-' and ':', got 'a/b'");
    expect_err("{\"name\":\"a\\nb\",\"type\":\"ram\"}",
               "name: may contain only letters, digits, '.', '_', '-' and ':', got 'a?b'");
    expect_err("{\"name\":5,\"type\":\"ram\"}", "name: must be a string, got an integer");
    expect_err("{\"name\":\"d\",\"type\":\"disk\"}",
               "type: must be one of ram, file, null, got 'disk'");
    expect_err("{\"name\":\"d\",\"type\":[]}",
               "type: must be one of ram, file, null, got an array");
    expect_err("{\"name\":\"d\",\"type\":{}}",
               "type: must be one of ram, file, null, got an object");
}

/* Client text quoted back is cut short and printable. */
static void test_quotes_are_short(void **state)
{
    char json[600], key[300];
    struct args a;

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    snprintf(json, sizeof(json), "{\"%s\":1}", key);
    assert_int_equal(check(json, &a), -1);
    assert_true(strlen(err) < 100);
    assert_non_null(strstr(err, "..."));
}

static void test_no_params(void **state)
{
    static const struct rpc_param opt[] = {
        RPC_PARAM_BOOL_AS(struct args, ro, "readonly", false),
    };
    struct args a = { 0 };

    assert_int_equal(rpc_params_check(NULL, opt, 1, &a, err, sizeof(err)), 0);
    assert_int_equal(rpc_params_check(json_null(), opt, 1, &a, err, sizeof(err)), 0);
}

/* rpc_params_parse answers -32602 through the dispatcher. */
static void m_create(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct args a = { 0 };

    if (!rpc_params_parse(ctx, params, table, RPC_NPARAMS(table), &a))
        return;
    assert_true(rpc_param_given(params, "name"));
    assert_false(rpc_param_given(params, "path"));
    rpc_result(ctx, json_string(a.name));
}

static void test_parse_through_dispatch(void **state)
{
    static const struct rpc_method m[] = { { "create", m_create, "", true } };
    struct rpc_dispatcher d = { .methods = m, .nmethods = 1 };
    json_t *req = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"create\",\"id\":1,"
                             "\"params\":{\"name\":\"d\",\"type\":\"ram\",\"size\":1000}}",
                             0, NULL);
    json_t *resp = rpc_dispatch(&d, req);
    json_t *e = json_object_get(resp, "error");

    assert_int_equal(json_integer_value(json_object_get(e, "code")), RPC_ERR_INVALID_PARAMS);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "size: must be a positive multiple of 512, got 1000");
    json_decref(resp);
    json_object_set_new(json_object_get(req, "params"), "size", json_integer(4096));
    resp = rpc_dispatch(&d, req);
    assert_string_equal(json_string_value(json_object_get(resp, "result")), "d");
    json_decref(resp);
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_required_and_unknown),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_uint_bool_string_enum),
        cmocka_unit_test(test_quotes_are_short),
        cmocka_unit_test(test_no_params),
        cmocka_unit_test(test_parse_through_dispatch),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(p);
    return r;
}
