/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON-RPC 2.0 framing and dispatch (see rpc_dispatch.h).  Everything here
 * runs on the thread that owns the stream: the server thread in the daemon.
 */
#include "rpc/rpc_dispatch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Longest client-supplied string quoted back in an error message. */
#define QUOTE_MAX 64

struct rpc_ctx {
    const char *method;
    json_t *result;
    char *message;
    int code;
    bool answered;
};

const char *rpc_ctx_method(const struct rpc_ctx *ctx)
{
    return ctx->method;
}

void rpc_result(struct rpc_ctx *ctx, json_t *result)
{
    if (ctx->answered) {
        /* A handler bug; the first answer stands and the client sees one response. */
        LOG_WARN("rpc: %s answered twice", ctx->method);
        json_decref(result);
        return;
    }
    ctx->answered = true;
    if (!result) {
        ctx->code = RPC_ERR_INTERNAL;
        ctx->message = strdup("internal error: out of memory building the result");
        return;
    }
    ctx->result = result;
}

/* Message text must be one line: a client's string must not forge more output. */
static void sanitize_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

void rpc_error(struct rpc_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    if (ctx->answered) {
        LOG_WARN("rpc: %s answered twice", ctx->method);
        return;
    }
    ctx->answered = true;
    ctx->code = code;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg)
        sanitize_line(msg);
    ctx->message = msg;
}

json_t *rpc_error_response(int code, const char *message)
{
    char *copy = strdup(message);
    json_t *msg = NULL;

    /*
     * Messages quote client bytes (jansson's parse errors do too): keep them
     * one line, and if a cut or a bad byte left invalid UTF-8, say it in ASCII.
     */
    if (copy) {
        sanitize_line(copy);
        msg = json_string(copy);
        if (!msg) {
            for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80)
                    *p = '?';
            msg = json_string(copy);
        }
        free(copy);
    }
    if (!msg)
        msg = json_string("error");
    return json_pack("{s:s, s:{s:i, s:o}, s:n}", "jsonrpc", "2.0", "error", "code", code, "message",
                     msg, "id");
}

/* The id goes back as given; NULL id (unknown) is sent as null. */
static json_t *with_id(json_t *resp, json_t *id)
{
    if (resp)
        json_object_set(resp, "id", id ? id : json_null());
    return resp;
}

static json_t *error_with_id(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *error_with_id(json_t *id, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sanitize_line(msg);
    return with_id(rpc_error_response(code, msg), id);
}

/* s for a message: at most QUOTE_MAX bytes, "..." when cut. */
static void quote(char *dst, size_t size, const char *s)
{
    size_t n = strlen(s);

    if (n > QUOTE_MAX && size > QUOTE_MAX + 4)
        snprintf(dst, size, "%.*s...", QUOTE_MAX, s);
    else
        snprintf(dst, size, "%s", s);
}

static void builtin_rpc_methods(const struct rpc_dispatcher *d, struct rpc_ctx *ctx)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < d->nmethods; i++) {
        const struct rpc_method *m = &d->methods[i];
        json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "name", m->name, "help",
                                              m->help ? m->help : "", "mutating", m->mutating));
    }
    json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "name", "rpc_methods", "help",
                                          "list the methods this daemon serves", "mutating", 0));
    rpc_result(ctx, list);
}

static const struct rpc_method *find_method(const struct rpc_dispatcher *d, const char *name)
{
    for (size_t i = 0; i < d->nmethods; i++)
        if (strcmp(d->methods[i].name, name) == 0)
            return &d->methods[i];
    return NULL;
}

/* Run a method; fills ctx.  params is an object. */
static void call(const struct rpc_dispatcher *d, const char *name, json_t *params,
                 struct rpc_ctx *ctx)
{
    const struct rpc_method *m = find_method(d, name);

    if (!m) {
        char q[QUOTE_MAX + 8];

        if (strcmp(name, "rpc_methods") == 0) {
            if (json_object_size(params))
                rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "rpc_methods takes no parameters");
            else
                builtin_rpc_methods(d, ctx);
            return;
        }
        quote(q, sizeof(q), name);
        rpc_error(ctx, RPC_ERR_METHOD_NOT_FOUND, "method '%s' not found", q);
        return;
    }
    m->fn(ctx, params, d->opaque);
    if (!ctx->answered) {
        LOG_ERR("rpc: %s returned without an answer", m->name);
        rpc_error(ctx, RPC_ERR_INTERNAL, "internal error: %s gave no answer", m->name);
    }
    if (m->mutating && ctx->result && d->after_mutation)
        d->after_mutation(d->mutation_opaque);
}

/* One element: a request or notification.  NULL: no response. */
static json_t *dispatch_one(const struct rpc_dispatcher *d, json_t *req)
{
    json_t *id, *version, *method, *params, *empty = NULL, *resp;
    struct rpc_ctx ctx = { 0 };
    const char *key;
    json_t *val;

    if (!json_is_object(req))
        return error_with_id(NULL, RPC_ERR_INVALID_REQUEST,
                             "invalid request: a request must be a JSON object");
    id = json_object_get(req, "id");
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id))
        return error_with_id(NULL, RPC_ERR_INVALID_REQUEST,
                             "invalid request: id must be a string, an integer or null");
    version = json_object_get(req, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
        return error_with_id(id, RPC_ERR_INVALID_REQUEST,
                             "invalid request: \"jsonrpc\" must be \"2.0\"");
    method = json_object_get(req, "method");
    if (!json_is_string(method))
        return error_with_id(id, RPC_ERR_INVALID_REQUEST,
                             "invalid request: \"method\" must be a string");
    /* Strict about members too: a misspelt "param" would otherwise be silently ignored. */
    json_object_foreach(req, key, val)
    {
        if (strcmp(key, "jsonrpc") && strcmp(key, "id") && strcmp(key, "method") &&
            strcmp(key, "params")) {
            char q[QUOTE_MAX + 8];
            quote(q, sizeof(q), key);
            return error_with_id(id, RPC_ERR_INVALID_REQUEST,
                                 "invalid request: unknown member '%s'", q);
        }
    }
    params = json_object_get(req, "params");
    if (json_is_array(params))
        return error_with_id(id, RPC_ERR_INVALID_PARAMS,
                             "params must be an object (parameters by name), not an array");
    if (params && !json_is_null(params) && !json_is_object(params))
        return error_with_id(id, RPC_ERR_INVALID_REQUEST,
                             "invalid request: \"params\" must be an object");
    if (!json_is_object(params)) {
        params = empty = json_object();
        if (!empty)
            return error_with_id(id, RPC_ERR_INTERNAL, "internal error: out of memory");
    }

    ctx.method = json_string_value(method);
    /* A string with a NUL inside would name a different method than the client wrote. */
    if (strlen(ctx.method) != json_string_length(method)) {
        json_decref(empty);
        return error_with_id(id, RPC_ERR_METHOD_NOT_FOUND, "method name contains a NUL character");
    }
    call(d, ctx.method, params, &ctx);
    json_decref(empty);

    if (!id) {
        /* A notification: the method ran; the client asked for no answer. */
        json_decref(ctx.result);
        free(ctx.message);
        return NULL;
    }
    if (ctx.result) {
        resp = json_pack("{s:s, s:o}", "jsonrpc", "2.0", "result", ctx.result);
    } else {
        resp = rpc_error_response(ctx.code, ctx.message ? ctx.message : "out of memory");
        free(ctx.message);
    }
    return with_id(resp, id);
}

json_t *rpc_dispatch(const struct rpc_dispatcher *d, json_t *value)
{
    json_t *out, *el;
    size_t i;

    if (!json_is_array(value))
        return dispatch_one(d, value);
    if (json_array_size(value) == 0)
        return rpc_error_response(RPC_ERR_INVALID_REQUEST, "invalid request: empty batch");
    if (json_array_size(value) > RPC_MAX_BATCH)
        return error_with_id(NULL, RPC_ERR_INVALID_REQUEST,
                             "invalid request: batch of %zu requests, at most %d",
                             json_array_size(value), RPC_MAX_BATCH);
    out = json_array();
    if (!out)
        return rpc_error_response(RPC_ERR_INTERNAL, "internal error: out of memory");
    json_array_foreach(value, i, el)
    {
        json_t *r = dispatch_one(d, el);
        if (r)
            json_array_append_new(out, r);
    }
    /* Only notifications: the spec says send nothing at all. */
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- output buffer ---- */

static int buf_reserve(struct rpc_buf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + more <= b->cap)
        return 0;
    /* Sent bytes are reclaimed before growing. */
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + more <= b->cap)
            return 0;
    }
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int rpc_buf_put_json(struct rpc_buf *b, json_t *response)
{
    size_t n;
    char *s;
    int r;

    if (!response)
        return -ENOMEM;
    /* Compact JSON has no newline of its own, so one response is one line. */
    s = json_dumps(response, JSON_COMPACT);
    json_decref(response);
    if (!s)
        return -ENOMEM;
    n = strlen(s);
    r = buf_reserve(b, n + 1);
    if (r == 0) {
        memcpy(b->data + b->len, s, n);
        b->data[b->len + n] = '\n';
        b->len += n + 1;
    }
    free(s);
    return r;
}

void rpc_buf_consume(struct rpc_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void rpc_buf_free(struct rpc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- input stream ---- */

void rpc_stream_init(struct rpc_stream *s, size_t max_request)
{
    memset(s, 0, sizeof(*s));
    s->max = max_request;
}

void rpc_stream_free(struct rpc_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->off = s->len = s->cap = 0;
}

char *rpc_stream_space(struct rpc_stream *s, size_t *room)
{
    size_t want = s->max + 1, cap;
    char *p;

    /* Consumed bytes go first: the buffer never needs to be larger than want. */
    if (s->off) {
        memmove(s->buf, s->buf + s->off, s->len - s->off);
        s->len -= s->off;
        s->scan -= s->off;
        s->start = s->started ? s->start - s->off : 0;
        s->off = 0;
    }
    if (s->len >= want) {
        *room = 0;
        return s->buf + s->len;
    }
    /* Grow in steps: most requests are small, and idle clients should cost little. */
    if (s->cap - s->len < 4096 && s->cap < want) {
        cap = s->cap ? s->cap * 2 : 4096;
        if (cap > want)
            cap = want;
        p = realloc(s->buf, cap);
        if (!p) {
            *room = 0;
            return NULL;
        }
        s->buf = p;
        s->cap = cap;
    }
    *room = (s->cap < want ? s->cap : want) - s->len;
    return s->buf + s->len;
}

void rpc_stream_commit(struct rpc_stream *s, size_t n)
{
    s->len += n;
}

size_t rpc_stream_feed(struct rpc_stream *s, const void *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t room, n;
        char *p = rpc_stream_space(s, &room);
        if (!p || room == 0)
            break;
        n = len - done < room ? len - done : room;
        memcpy(p, (const char *)data + done, n);
        rpc_stream_commit(s, n);
        done += n;
    }
    return done;
}

enum scan_result {
    SCAN_MORE,   /* no end yet */
    SCAN_END,    /* a bracketed value ends at s->scan */
    SCAN_SCALAR, /* a top-level value that is not an object or array */
    SCAN_JUNK,   /* a byte that starts no JSON value */
};

/*
 * Find where the next top-level object or array may end.  This is only a
 * bracket counter that knows strings and escapes (so "}" inside a string
 * does not count); jansson still parses and validates the value.
 */
static enum scan_result scan(struct rpc_stream *s)
{
    while (s->scan < s->len) {
        char c = s->buf[s->scan];

        if (!s->started) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                /* Whitespace between values is consumed at once: pending means begun. */
                s->off = ++s->scan;
                continue;
            }
            if (c != '{' && c != '[')
                return strchr("\"-0123456789tfn", c) && c ? SCAN_SCALAR : SCAN_JUNK;
            s->started = true;
            s->start = s->scan++;
            s->depth = 1;
            continue;
        }
        s->scan++;
        if (s->in_str) {
            if (s->esc)
                s->esc = false;
            else if (c == '\\')
                s->esc = true;
            else if (c == '"')
                s->in_str = false;
        } else if (c == '"') {
            s->in_str = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if (c == '}' || c == ']') {
            if (--s->depth == 0)
                return SCAN_END;
        }
    }
    return SCAN_MORE;
}

static void stream_reset_scan(struct rpc_stream *s)
{
    s->started = s->in_str = s->esc = false;
    s->depth = 0;
}

static enum rpc_step framing_error(struct rpc_buf *out, int code, const char *msg)
{
    rpc_buf_put_json(out, rpc_error_response(code, msg));
    return RPC_STEP_CLOSE;
}

enum rpc_step rpc_stream_process(struct rpc_stream *s, const struct rpc_dispatcher *d,
                                 struct rpc_buf *out, unsigned max_values)
{
    for (unsigned served = 0; served < max_values; served++) {
        enum scan_result r = scan(s);
        json_error_t err;
        json_t *value;
        size_t end;

        if (r == SCAN_SCALAR)
            return framing_error(out, RPC_ERR_INVALID_REQUEST,
                                 "invalid request: a request must be a JSON object or an array");
        if (r == SCAN_JUNK)
            return framing_error(out, RPC_ERR_PARSE, "parse error: not a JSON value");
        if (r == SCAN_MORE) {
            if (rpc_stream_pending(s) > s->max) {
                char msg[80];
                snprintf(msg, sizeof(msg), "request too large (more than %zu bytes)", s->max);
                return framing_error(out, RPC_ERR_INVALID_REQUEST, msg);
            }
            return RPC_STEP_IDLE;
        }
        end = s->scan;
        if (end - s->start > s->max) {
            char msg[80];
            snprintf(msg, sizeof(msg), "request too large (more than %zu bytes)", s->max);
            return framing_error(out, RPC_ERR_INVALID_REQUEST, msg);
        }
        value = json_loadb(s->buf + s->start, end - s->start, JSON_DISABLE_EOF_CHECK, &err);
        if (!value) {
            char msg[JSON_ERROR_TEXT_LENGTH + 64];
            snprintf(msg, sizeof(msg), "parse error: %s (byte %d of the request)", err.text,
                     err.position);
            return framing_error(out, RPC_ERR_PARSE, msg);
        }
        /* The scanner and jansson agree on valid JSON; if they ever did not, stop here. */
        if ((size_t)err.position != end - s->start) {
            json_decref(value);
            return framing_error(out, RPC_ERR_PARSE, "parse error: trailing bytes in a value");
        }
        s->off = end;
        stream_reset_scan(s);
        json_t *resp = rpc_dispatch(d, value);
        json_decref(value);
        if (resp && rpc_buf_put_json(out, resp) < 0)
            return RPC_STEP_CLOSE;
    }
    return RPC_STEP_AGAIN;
}
