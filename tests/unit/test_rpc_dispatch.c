/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON-RPC framing and dispatch without sockets: bytes in, response lines out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_dispatch.h"

static int mutations;
static int calls;

static void m_echo(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    calls++;
    rpc_result(ctx, json_incref(params));
}

static void m_fail(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    calls++;
    rpc_error(ctx, RPC_ERR_NOT_FOUND, "no such thing: %s\nsecond line", "x");
}

static void m_silent(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    calls++;
}

static void m_twice(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    rpc_result(ctx, json_integer(1));
    rpc_result(ctx, json_integer(2));
    rpc_error(ctx, RPC_ERR_IO, "late");
}

static void m_null(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    rpc_result(ctx, NULL);
}

static void after(void *opaque)
{
    assert_ptr_equal(opaque, &mutations);
    mutations++;
}

static const struct rpc_method methods[] = {
    { "echo", m_echo, "return params", false },
    { "set", m_echo, "a mutation that succeeds", true },
    { "set_fail", m_fail, "a mutation that fails", true },
    { "fail", m_fail, "always fails", false },
    { "silent", m_silent, "forgets to answer", false },
    { "twice", m_twice, "answers twice", false },
    { "null", m_null, "result allocation failed", false },
};

static const struct rpc_dispatcher disp = {
    .methods = methods,
    .nmethods = sizeof(methods) / sizeof(methods[0]),
    .after_mutation = after,
    .mutation_opaque = &mutations,
};

/* Everything the server answers to in, one JSON value per line, as an array. */
static json_t *run_split(const char *in, size_t len, size_t chunk, size_t max, enum rpc_step *last)
{
    struct rpc_stream s;
    struct rpc_buf out = { 0 };
    enum rpc_step st = RPC_STEP_IDLE;
    json_t *all = json_array();
    size_t done = 0;

    rpc_stream_init(&s, max);
    while (done < len && st != RPC_STEP_CLOSE) {
        size_t n = len - done < chunk ? len - done : chunk;
        size_t took = rpc_stream_feed(&s, in + done, n);
        done += took;
        do
            st = rpc_stream_process(&s, &disp, &out, 2);
        while (st == RPC_STEP_AGAIN);
        if (took == 0)
            break;
    }
    *last = st;
    for (char *line = out.data, *nl; line && line < out.data + out.len; line = nl + 1) {
        json_error_t err;
        nl = memchr(line, '\n', (size_t)(out.data + out.len - line));
        assert_non_null(nl);
        json_t *v = json_loadb(line, (size_t)(nl - line), 0, &err);
        assert_non_null(v);
        json_array_append_new(all, v);
    }
    rpc_buf_free(&out);
    rpc_stream_free(&s);
    return all;
}

static json_t *run(const char *in)
{
    enum rpc_step st;
    return run_split(in, strlen(in), 4096, 1 << 20, &st);
}

static int err_code(json_t *resp)
{
    json_t *e = json_object_get(resp, "error");
    assert_non_null(e);
    return (int)json_integer_value(json_object_get(e, "code"));
}

static const char *err_msg(json_t *resp)
{
    return json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
}

static void test_call_and_result(void **state)
{
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"a\":1},\"id\":7}\n");
    assert_int_equal(json_array_size(r), 1);
    json_t *resp = json_array_get(r, 0);
    assert_string_equal(json_string_value(json_object_get(resp, "jsonrpc")), "2.0");
    assert_int_equal(json_integer_value(json_object_get(resp, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(resp, "result"), "a")), 1);
    json_decref(r);

    /* Absent and null params both reach the handler as {}; a string id comes back as given. */
    r = run("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":\"x\"}"
            "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":null,\"id\":null}");
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "id")), "x");
    assert_true(json_is_object(json_object_get(json_array_get(r, 0), "result")));
    assert_true(json_is_null(json_object_get(json_array_get(r, 1), "id")));
    json_decref(r);
}

/* Concatenated, pretty-printed, split one byte at a time: the same answers. */
static void test_framing(void **state)
{
    const char *in = "  {\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"s\":\"}]{[\\\"\"},"
                     "\"id\":1}{\"jsonrpc\" : \"2.0\",\n \"method\": \"echo\",\n \"id\": 2}\r\n"
                     "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":3}]\n\n";
    enum rpc_step st;

    for (size_t chunk = 1; chunk <= 7; chunk += 3) {
        json_t *r = run_split(in, strlen(in), chunk, 1 << 20, &st);
        assert_int_equal(st, RPC_STEP_IDLE);
        assert_int_equal(json_array_size(r), 3);
        json_t *res = json_object_get(json_array_get(r, 0), "result");
        assert_string_equal(json_string_value(json_object_get(res, "s")), "}]{[\"");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "id")), 2);
        assert_true(json_is_array(json_array_get(r, 2)));
        json_decref(r);
    }
}

static void test_batch(void **state)
{
    json_t *r = run("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1},"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":2},"
                    "5, [],"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3}]");
    assert_int_equal(json_array_size(r), 1);
    json_t *b = json_array_get(r, 0);
    /* The notification has no answer; the rest do, in order. */
    assert_int_equal(json_array_size(b), 5);
    assert_non_null(json_object_get(json_array_get(b, 0), "result"));
    assert_int_equal(err_code(json_array_get(b, 1)), RPC_ERR_NOT_FOUND);
    assert_int_equal(err_code(json_array_get(b, 2)), RPC_ERR_INVALID_REQUEST);
    assert_int_equal(err_code(json_array_get(b, 3)), RPC_ERR_INVALID_REQUEST);
    assert_int_equal(err_code(json_array_get(b, 4)), RPC_ERR_METHOD_NOT_FOUND);
    json_decref(r);

    /* An empty batch is one error object, not an array. */
    r = run("[]");
    assert_int_equal(err_code(json_array_get(r, 0)), RPC_ERR_INVALID_REQUEST);
    json_decref(r);

    /* A batch of notifications only: nothing at all. */
    calls = 0;
    r = run(
        "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},{\"jsonrpc\":\"2.0\",\"method\":\"fail\"}]");
    assert_int_equal(json_array_size(r), 0);
    assert_int_equal(calls, 2);
    json_decref(r);
}

static void test_batch_too_large(void **state)
{
    size_t n = RPC_MAX_BATCH + 1, len = n * 2 + 2;
    char *in = malloc(len + 1);
    enum rpc_step st;

    in[0] = '[';
    for (size_t i = 0; i < n; i++)
        memcpy(in + 1 + 2 * i, "1,", 2);
    in[len - 2] = '1';
    in[len - 1] = ']';
    in[len] = 0;
    json_t *r = run_split(in, len, 4096, 1 << 20, &st);
    assert_int_equal(err_code(json_array_get(r, 0)), RPC_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err_msg(json_array_get(r, 0)), "at most"));
    json_decref(r);
    free(in);
}

static void test_notification(void **state)
{
    calls = 0;
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{}}"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
    assert_int_equal(json_array_size(r), 0);
    assert_int_equal(calls, 1);
    json_decref(r);
}

static void expect_error(const char *in, int code, const char *needle)
{
    json_t *r = run(in);
    assert_int_equal(json_array_size(r), 1);
    assert_int_equal(err_code(json_array_get(r, 0)), code);
    if (needle && !strstr(err_msg(json_array_get(r, 0)), needle))
        fail_msg("'%s' not in '%s'", needle, err_msg(json_array_get(r, 0)));
    json_decref(r);
}

static void test_standard_errors(void **state)
{
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,}", RPC_ERR_PARSE, "parse");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1]", RPC_ERR_PARSE, NULL);
    expect_error("xyz", RPC_ERR_PARSE, NULL);
    expect_error("42", RPC_ERR_INVALID_REQUEST, "object");
    expect_error("\"str\"", RPC_ERR_INVALID_REQUEST, NULL);
    expect_error("{\"method\":\"echo\",\"id\":1}", RPC_ERR_INVALID_REQUEST, "jsonrpc");
    expect_error("{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}", RPC_ERR_INVALID_REQUEST,
                 "2.0");
    expect_error("{\"jsonrpc\":2,\"method\":\"echo\",\"id\":1}", RPC_ERR_INVALID_REQUEST, NULL);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}", RPC_ERR_INVALID_REQUEST,
                 "id");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1.5}", RPC_ERR_INVALID_REQUEST,
                 "id");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":true}", RPC_ERR_INVALID_REQUEST,
                 "id");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}", RPC_ERR_INVALID_REQUEST, "method");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1}", RPC_ERR_INVALID_REQUEST, "method");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"param\":{},\"id\":1}",
                 RPC_ERR_INVALID_REQUEST, "'param'");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":5,\"id\":1}",
                 RPC_ERR_INVALID_REQUEST, "params");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1}",
                 RPC_ERR_INVALID_PARAMS, "array");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}", RPC_ERR_METHOD_NOT_FOUND,
                 "'nope'");
    /* jansson refuses NUL in strings (a name with one would mean two things). */
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"ec\\u0000ho\",\"id\":1}", RPC_ERR_PARSE, NULL);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"silent\",\"id\":1}", RPC_ERR_INTERNAL, NULL);
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":1}", RPC_ERR_INTERNAL, "memory");
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"rpc_methods\",\"params\":{\"a\":1},\"id\":1}",
                 RPC_ERR_INVALID_PARAMS, NULL);
    /* Invalid UTF-8 is not JSON. */
    expect_error("{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}", RPC_ERR_PARSE, NULL);
}

/* A parse error ends the connection: what follows it is not served. */
static void test_parse_error_closes(void **state)
{
    const char *in = "{\"a\":}{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}";
    enum rpc_step st;
    json_t *r = run_split(in, strlen(in), 4096, 1 << 20, &st);

    assert_int_equal(st, RPC_STEP_CLOSE);
    assert_int_equal(json_array_size(r), 1);
    assert_true(json_is_null(json_object_get(json_array_get(r, 0), "id")));
    json_decref(r);
}

/* jansson quotes the offending byte in its message: it must not reach the client raw. */
static void test_parse_error_message_printable(void **state)
{
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\x07}");
    const char *m = err_msg(json_array_get(r, 0));

    assert_int_equal(err_code(json_array_get(r, 0)), RPC_ERR_PARSE);
    for (; *m; m++)
        assert_true((unsigned char)*m >= 0x20);
    json_decref(r);
}

static void test_long_method_name_quoted_short(void **state)
{
    char in[2048];
    char name[1200];

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    snprintf(in, sizeof(in), "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":1}", name);
    json_t *r = run(in);
    assert_true(strlen(err_msg(json_array_get(r, 0))) < 128);
    json_decref(r);
}

static void test_error_message_one_line(void **state)
{
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":1}");
    assert_string_equal(err_msg(json_array_get(r, 0)), "no such thing: x?second line");
    json_decref(r);
}

static void test_answer_twice_keeps_first(void **state)
{
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"twice\",\"id\":1}");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "result")), 1);
    json_decref(r);
}

static void test_after_mutation(void **state)
{
    mutations = 0;
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"id\":1}"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"set_fail\",\"id\":2}"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":3}"
                    "[{\"jsonrpc\":\"2.0\",\"method\":\"set\"},"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"id\":4}]");
    /* Only successful mutating calls, notifications included. */
    assert_int_equal(mutations, 3);
    json_decref(r);
}

static void test_rpc_methods(void **state)
{
    json_t *r = run("{\"jsonrpc\":\"2.0\",\"method\":\"rpc_methods\",\"id\":1}");
    json_t *list = json_object_get(json_array_get(r, 0), "result");
    assert_int_equal(json_array_size(list), disp.nmethods + 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")), "set");
    assert_true(json_is_true(json_object_get(json_array_get(list, 1), "mutating")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "help")),
                        "return params");
    json_decref(r);
}

static void test_too_large(void **state)
{
    enum rpc_step st;
    char in[300];
    json_t *r;

    /* Complete but over the limit. */
    snprintf(in, sizeof(in),
             "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"x\":\"%0200d\"},"
             "\"id\":1}",
             0);
    r = run_split(in, strlen(in), 4096, 100, &st);
    assert_int_equal(st, RPC_STEP_CLOSE);
    assert_int_equal(err_code(json_array_get(r, 0)), RPC_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err_msg(json_array_get(r, 0)), "too large"));
    json_decref(r);

    /* Incomplete and over the limit, fed in pieces. */
    r = run_split(in, 150, 7, 100, &st);
    assert_int_equal(st, RPC_STEP_CLOSE);
    assert_non_null(strstr(err_msg(json_array_get(r, 0)), "too large"));
    json_decref(r);

    /* Exactly at the limit is fine, and many small requests add up to no limit at all. */
    const char *one = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}";
    size_t n = strlen(one);
    char many[4096] = "";
    for (int i = 0; i < 50; i++)
        memcpy(many + i * n, one, n + 1); /* 50 * 41 bytes fit */
    r = run_split(many, strlen(many), 13, n, &st);
    assert_int_equal(st, RPC_STEP_IDLE);
    assert_int_equal(json_array_size(r), 50);
    json_decref(r);
}

/* A partial request stays pending: pending() is how the server times it out. */
static void test_partial_pending(void **state)
{
    struct rpc_stream s;
    struct rpc_buf out = { 0 };

    rpc_stream_init(&s, 1024);
    rpc_stream_feed(&s, "  \n ", 4);
    assert_int_equal(rpc_stream_process(&s, &disp, &out, 8), RPC_STEP_IDLE);
    assert_int_equal(rpc_stream_pending(&s), 0);
    rpc_stream_feed(&s, "{\"jsonrpc\":", 11);
    assert_int_equal(rpc_stream_process(&s, &disp, &out, 8), RPC_STEP_IDLE);
    assert_int_equal(rpc_stream_pending(&s), 11);
    assert_int_equal(rpc_buf_pending(&out), 0);
    rpc_stream_feed(&s, "\"2.0\",\"method\":\"echo\",\"id\":1}", 29);
    assert_int_equal(rpc_stream_process(&s, &disp, &out, 8), RPC_STEP_IDLE);
    assert_int_equal(rpc_stream_pending(&s), 0);
    assert_true(rpc_buf_pending(&out) > 0);
    rpc_buf_consume(&out, rpc_buf_pending(&out));
    assert_int_equal(rpc_buf_pending(&out), 0);
    rpc_buf_free(&out);
    rpc_stream_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_and_result),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_too_large),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_standard_errors),
        cmocka_unit_test(test_parse_error_closes),
        cmocka_unit_test(test_parse_error_message_printable),
        cmocka_unit_test(test_long_method_name_quoted_short),
        cmocka_unit_test(test_error_message_one_line),
        cmocka_unit_test(test_answer_twice_keeps_first),
        cmocka_unit_test(test_after_mutation),
        cmocka_unit_test(test_rpc_methods),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_partial_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
