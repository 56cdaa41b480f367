/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the JSON-RPC server's bytes-in, responses-out path
 * (rpc_stream framing, rpc_dispatch, rpc_params) with a stub method table
 * that uses every parameter type.
 *
 * Input layout:
 *   [0]    chunk size for feeding the stream: 1 + b (so byte-at-a-time
 *          arrival and whole-buffer arrival are both tried)
 *   [1]    bit 0..3: values served per process call (1..16);
 *          bit 4..7: request size limit, 64 << (b % 12) bytes
 *   [2..]  what the client sends
 *
 * Oracles: every output is whole lines, each a JSON object or array of
 * objects with "jsonrpc": "2.0" and either a result or an error with an
 * integer code and a string message without control characters; the
 * stream's pending bytes never exceed its limit + 1; a framing error stops
 * the stream (RPC_STEP_CLOSE) and nothing more is served; no leaks (ASan).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_dispatch.h"
#include "rpc/rpc_params.h"

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_rpc: invariant broken: %s\n", what);
    __builtin_trap();
}

struct all_args {
    const char *name;
    const char *path;
    uint64_t count;
    uint64_t size;
    bool flag;
    int kind;
};

static const char *const kinds[] = { "ram", "file", "null", "nvme", NULL };

static const struct rpc_param all_params[] = {
    RPC_PARAM_STR(struct all_args, name, true, 1, 32, RPC_PF_IDENT),
    RPC_PARAM_STR(struct all_args, path, false, 1, 0, 0),
    RPC_PARAM_UINT(struct all_args, count, false, 0, 255),
    RPC_PARAM_SIZE(struct all_args, size, false, 512, 0, 512),
    RPC_PARAM_BOOL(struct all_args, flag, false),
    RPC_PARAM_ENUM(struct all_args, kind, false, kinds),
};

static void m_all(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct all_args a = { .kind = -1 };

    if (!rpc_params_parse(ctx, params, all_params, RPC_NPARAMS(all_params), &a))
        return;
    /* Echo what was parsed, so the result path is exercised with the parsed values. */
    rpc_result(ctx, json_pack("{s:s, s:s?, s:I, s:I, s:b, s:i}", "name", a.name, "path", a.path,
                              "count", (json_int_t)a.count, "size", (json_int_t)a.size, "flag",
                              a.flag, "kind", a.kind));
}

static void m_none(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    if (rpc_params_parse(ctx, params, NULL, 0, NULL))
        rpc_result(ctx, json_string("ok"));
}

static void m_fail(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    const char *s = json_string_value(json_object_get(params, "why"));

    /* A client's string inside an error message must come out as one line. */
    rpc_error(ctx, RPC_ERR_NOT_FOUND, "no: %s", s ? s : "(none)");
}

static unsigned mutations;

static void after(void *opaque)
{
    mutations++;
}

static const struct rpc_method methods[] = {
    { "all", m_all, "every parameter type", true },
    { "none", m_none, "no parameters", false },
    { "fail", m_fail, "an application error", false },
};

static const struct rpc_dispatcher disp = {
    .methods = methods,
    .nmethods = sizeof(methods) / sizeof(methods[0]),
    .after_mutation = after,
};

static void check_response(json_t *r)
{
    json_t *e;

    if (!json_is_object(r))
        fz_bug("a response that is not an object");
    if (!json_is_string(json_object_get(r, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(r, "jsonrpc")), "2.0") != 0)
        fz_bug("a response without jsonrpc 2.0");
    if (!json_object_get(r, "id"))
        fz_bug("a response without an id");
    e = json_object_get(r, "error");
    if (!e == !json_object_get(r, "result"))
        fz_bug("a response with neither or both of result and error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        if (!json_is_integer(json_object_get(e, "code")) || !m)
            fz_bug("an error without code or message");
        for (; *m; m++)
            if ((unsigned char)*m < 0x20)
                fz_bug("a control character in an error message");
    }
}

static void check_output(struct rpc_buf *out)
{
    if (!out->data)
        return; /* nothing written yet */
    const char *p = out->data + out->off, *end = out->data + out->len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t err;
        json_t *v;

        if (!nl)
            fz_bug("output that does not end with a newline");
        v = json_loadb(p, (size_t)(nl - p), 0, &err);
        if (!v)
            fz_bug("output that is not JSON");
        if (json_is_array(v)) {
            size_t i;
            json_t *el;
            if (json_array_size(v) == 0)
                fz_bug("an empty batch response");
            json_array_foreach(v, i, el)
            {
                check_response(el);
            }
        } else {
            check_response(v);
        }
        json_decref(v);
        p = nl + 1;
    }
    rpc_buf_consume(out, out->len - out->off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_stream s;
    struct rpc_buf out = { 0 };
    size_t chunk, max, done = 0;
    unsigned per_call;
    bool closed = false;

    if (size < 2)
        return 0;
    chunk = 1 + data[0];
    per_call = 1 + (data[1] & 15);
    max = (size_t)64 << ((data[1] >> 4) % 12);
    data += 2;
    size -= 2;

    rpc_stream_init(&s, max);
    while (done < size && !closed) {
        size_t n = size - done < chunk ? size - done : chunk;
        size_t took = rpc_stream_feed(&s, data + done, n);
        enum rpc_step st;

        done += took;
        do {
            st = rpc_stream_process(&s, &disp, &out, per_call);
            check_output(&out);
        } while (st == RPC_STEP_AGAIN);
        if (rpc_stream_pending(&s) > max + 1)
            fz_bug("more pending than the limit allows");
        if (st == RPC_STEP_CLOSE)
            closed = true;
        else if (took == 0)
            fz_bug("a full stream that was neither served nor refused");
    }
    rpc_buf_free(&out);
    rpc_stream_free(&s);
    return 0;
}
