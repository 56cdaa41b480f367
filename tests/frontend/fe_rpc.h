/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny JSON-RPC 2.0 client for the management-plane tests: connect to the
 * daemon's --rpc-socket, send one request, read one response line, all with
 * timeouts.  Written from the protocol, not from the daemon's code (src/rpc),
 * so a framing bug on either side shows.  Header-only, jansson.
 *
 * Threads: one struct rpc_cl per thread.
 */
#ifndef VUS_TESTS_FRONTEND_FE_RPC_H
#define VUS_TESTS_FRONTEND_FE_RPC_H

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* JSON-RPC error codes (standard ones, then the daemon's). */
#define RPC_E_PARSE          -32700
#define RPC_E_INVALID_REQ    -32600
#define RPC_E_NO_METHOD      -32601
#define RPC_E_INVALID_PARAMS -32602
#define RPC_E_NOT_FOUND      -32001
#define RPC_E_EXISTS         -32002
#define RPC_E_BUSY           -32003
#define RPC_E_IO             -32004

#define RPC_TIMEOUT_MS 10000

struct rpc_cl {
    int fd;
    int timeout_ms; /* for each call's send and response; 0 means RPC_TIMEOUT_MS */
    unsigned next_id;
    char *buf; /* bytes received and not yet returned as a line */
    size_t len, cap;
    char err[640]; /* why the last transport operation failed */
};

static inline long rpc_ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A connected UNIX stream socket to path, or -errno (no retry). */
static inline int rpc_unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, err;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* Connect, retrying while the socket is missing or refuses (daemon starting).  0 or -errno. */
static inline int rpc_cl_connect(struct rpc_cl *cl, const char *path, int timeout_ms)
{
    struct timespec t0;
    int fd;

    memset(cl, 0, sizeof(*cl));
    cl->fd = -1;
    cl->next_id = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        fd = rpc_unix_connect(path);
        if (fd >= 0)
            break;
        if ((fd != -ENOENT && fd != -ECONNREFUSED) || rpc_ms_since(&t0) >= timeout_ms) {
            snprintf(cl->err, sizeof(cl->err), "connect %s: %s", path, strerror(-fd));
            return fd;
        }
        usleep(10000);
    }
    cl->fd = fd;
    return 0;
}

static inline void rpc_cl_close(struct rpc_cl *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    free(cl->buf);
    cl->buf = NULL;
    cl->len = cl->cap = 0;
}

/* Write all of buf within timeout_ms.  0 or -errno. */
static inline int rpc_cl_send(struct rpc_cl *cl, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (len) {
        ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            int e = errno;
            snprintf(cl->err, sizeof(cl->err), "send: %s", strerror(e));
            return -e;
        }
        long left = timeout_ms - rpc_ms_since(&t0);
        if (left <= 0) {
            snprintf(cl->err, sizeof(cl->err), "send: timed out after %d ms", timeout_ms);
            return -ETIMEDOUT;
        }
        struct pollfd pfd = { .fd = cl->fd, .events = POLLOUT };
        poll(&pfd, 1, (int)left);
    }
    return 0;
}

/*
 * One line (a response: one compact JSON value followed by '\n'), malloc'ed
 * and NUL-terminated without the '\n'; NULL on timeout, EOF or error, with
 * the reason in cl->err (*eof set when the daemon closed the connection).
 */
static inline char *rpc_cl_recv_line(struct rpc_cl *cl, int timeout_ms, bool *eof)
{
    struct timespec t0;

    if (eof)
        *eof = false;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *nl = cl->len ? memchr(cl->buf, '\n', cl->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - cl->buf);
            char *line = malloc(n + 1);
            if (!line)
                abort();
            memcpy(line, cl->buf, n);
            line[n] = 0;
            memmove(cl->buf, nl + 1, cl->len - n - 1);
            cl->len -= n + 1;
            return line;
        }
        long left = timeout_ms - rpc_ms_since(&t0);
        if (left <= 0) {
            snprintf(cl->err, sizeof(cl->err), "no response line within %d ms (%zu bytes pending)",
                     timeout_ms, cl->len);
            return NULL;
        }
        struct pollfd pfd = { .fd = cl->fd, .events = POLLIN };
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (cl->cap - cl->len < 65536) {
            cl->cap = cl->cap ? cl->cap * 2 : 131072;
            cl->buf = realloc(cl->buf, cl->cap);
            if (!cl->buf)
                abort();
        }
        ssize_t r = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, MSG_DONTWAIT);
        if (r > 0) {
            cl->len += (size_t)r;
        } else if (r == 0) {
            snprintf(cl->err, sizeof(cl->err),
                     "the daemon closed the connection (%zu bytes pending)", cl->len);
            if (eof)
                *eof = true;
            return NULL;
        } else if (errno != EAGAIN && errno != EINTR) {
            snprintf(cl->err, sizeof(cl->err), "recv: %s", strerror(errno));
            if (eof)
                *eof = errno == ECONNRESET;
            return NULL;
        }
    }
}

/* One response value (new reference), or NULL (reason in cl->err). */
static inline json_t *rpc_cl_recv(struct rpc_cl *cl, int timeout_ms)
{
    json_error_t je;
    char *line = rpc_cl_recv_line(cl, timeout_ms, NULL);
    json_t *v;

    if (!line)
        return NULL;
    v = json_loads(line, 0, &je);
    if (!v)
        snprintf(cl->err, sizeof(cl->err), "response is not JSON (%s): %.160s", je.text, line);
    free(line);
    return v;
}

/* Whether the daemon closes the connection within timeout_ms (data it sends first is dropped). */
static inline bool rpc_cl_peer_closed(struct rpc_cl *cl, int timeout_ms)
{
    struct timespec t0;
    char tmp[4096];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = timeout_ms - rpc_ms_since(&t0);
        if (left < 0)
            return false;
        struct pollfd pfd = { .fd = cl->fd, .events = POLLIN };
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = recv(cl->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
    }
}

/* A response: either result or (code, message) is set.  rpc_reply_free releases it. */
struct rpc_reply {
    json_t *resp;          /* the whole response */
    json_t *result;        /* borrowed from resp; NULL on error */
    int code;              /* 0 on success */
    const char *message;   /* borrowed from resp; NULL on success */
    char params_text[512]; /* what was sent, for failure messages */
};

static inline void rpc_reply_free(struct rpc_reply *r)
{
    json_decref(r->resp);
    r->resp = r->result = NULL;
    r->message = NULL;
}

/*
 * Call method with params (a reference is stolen; NULL sends no params).
 * 0 with *r filled (result or error), or -1 when no well-formed response
 * with our id came (reason in cl->err).
 */
static inline int rpc_call(struct rpc_cl *cl, const char *method, json_t *params,
                           struct rpc_reply *r)
{
    unsigned id = cl->next_id++;
    json_t *req =
        json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method, "id", (json_int_t)id);
    char *text;
    int ret = -1;

    memset(r, 0, sizeof(*r));
    if (params) {
        char *pt = json_dumps(params, JSON_COMPACT);
        snprintf(r->params_text, sizeof(r->params_text), "%s", pt ? pt : "?");
        free(pt);
        json_object_set_new(req, "params", params);
    } else {
        snprintf(r->params_text, sizeof(r->params_text), "(none)");
    }
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        abort();
    size_t tl = strlen(text);
    text = realloc(text, tl + 2);
    text[tl] = '\n';
    int tmo = cl->timeout_ms ? cl->timeout_ms : RPC_TIMEOUT_MS;
    if (rpc_cl_send(cl, text, tl + 1, tmo) < 0) {
        free(text);
        return -1;
    }
    free(text);
    r->resp = rpc_cl_recv(cl, tmo);
    if (!r->resp)
        return -1;
    json_t *jid = json_object_get(r->resp, "id");
    json_t *err = json_object_get(r->resp, "error");
    if (!json_is_object(r->resp) || !json_is_integer(jid) || json_integer_value(jid) != id ||
        !json_is_string(json_object_get(r->resp, "jsonrpc"))) {
        char *t = json_dumps(r->resp, JSON_COMPACT);
        snprintf(cl->err, sizeof(cl->err), "not a response to request %u: %.180s", id, t ? t : "?");
        free(t);
        goto out;
    }
    if (err) {
        json_t *c = json_object_get(err, "code"), *m = json_object_get(err, "message");
        if (!json_is_integer(c) || !json_is_string(m) || json_object_get(r->resp, "result")) {
            snprintf(cl->err, sizeof(cl->err), "malformed error object");
            goto out;
        }
        r->code = (int)json_integer_value(c);
        r->message = json_string_value(m);
    } else {
        r->result = json_object_get(r->resp, "result");
        if (!r->result) {
            snprintf(cl->err, sizeof(cl->err), "response without result or error");
            goto out;
        }
    }
    ret = 0;
out:
    if (ret < 0)
        rpc_reply_free(r);
    return ret;
}

/* Params from JSON text ("{...}"); NULL text or "" means no params. */
static inline json_t *rpc_params_text(const char *text)
{
    json_error_t je;
    json_t *v;

    if (!text || !*text)
        return NULL;
    v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v) {
        fprintf(stderr, "test bug: bad params text %s: %s\n", text, je.text);
        abort();
    }
    return v;
}

/*
 * For cmocka tests (include cmocka.h first).  rpc_ok*: the call must
 * succeed; the result is returned as a new reference.  rpc_fail*: the call
 * must fail with code, and its message be one printable line containing
 * every string of `want` (NULL-terminated, may be empty; case-insensitive).
 */
#ifdef cmocka_unit_test

static inline json_t *rpc_ok_p(struct rpc_cl *cl, const char *method, json_t *params)
{
    struct rpc_reply r;

    if (rpc_call(cl, method, params, &r) < 0)
        fail_msg("%s: %s", method, cl->err);
    if (r.code)
        fail_msg("%s %s: error %d: %s", method, r.params_text, r.code, r.message);
    json_t *res = json_incref(r.result);
    rpc_reply_free(&r);
    return res;
}

/* params as JSON text. */
static inline json_t *rpc_ok(struct rpc_cl *cl, const char *method, const char *params)
{
    return rpc_ok_p(cl, method, rpc_params_text(params));
}

/* params as a json_pack format and its arguments. */
static inline json_t *rpc_okf(struct rpc_cl *cl, const char *method, const char *fmt, ...)
{
    json_error_t je;
    va_list ap;

    va_start(ap, fmt);
    json_t *p = json_vpack_ex(&je, 0, fmt, ap);
    va_end(ap);
    if (!p)
        fail_msg("test bug: json_pack %s: %s", fmt, je.text);
    return rpc_ok_p(cl, method, p);
}

/* The same, for calls whose result is only checked to be there. */
#define rpc_do(cl, method, params)    json_decref(rpc_ok(cl, method, params))
#define rpc_dof(cl, method, fmt, ...) json_decref(rpc_okf(cl, method, fmt, __VA_ARGS__))

static inline bool rpc_one_line(const char *m)
{
    if (!*m)
        return false;
    for (const char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Returns the message (malloc'ed) for further checks; free it. */
static inline char *rpc_fail_p(struct rpc_cl *cl, int code, const char *const *want,
                               const char *method, json_t *params)
{
    struct rpc_reply r;

    if (rpc_call(cl, method, params, &r) < 0)
        fail_msg("%s: %s", method, cl->err);
    if (r.code == 0) {
        char *t = json_dumps(r.result, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("%s %s: expected error %d, got result %s", method, r.params_text, code, t);
    }
    if (r.code != code)
        fail_msg("%s %s: expected error %d, got %d: %s", method, r.params_text, code, r.code,
                 r.message);
    if (!rpc_one_line(r.message))
        fail_msg("%s %s: message is not one printable line: '%s'", method, r.params_text,
                 r.message);
    for (unsigned i = 0; want && want[i]; i++)
        if (!strcasestr(r.message, want[i]))
            fail_msg("%s %s: error %d message '%s' does not mention '%s'", method, r.params_text,
                     code, r.message, want[i]);
    char *m = strdup(r.message);
    rpc_reply_free(&r);
    return m;
}

/* One expected substring (NULL: none). */
static inline void rpc_fail(struct rpc_cl *cl, int code, const char *want, const char *method,
                            const char *params)
{
    const char *w[2] = { want, NULL };
    free(rpc_fail_p(cl, code, w, method, rpc_params_text(params)));
}

#endif /* cmocka */

#endif
