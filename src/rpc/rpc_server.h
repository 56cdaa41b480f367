/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane's JSON-RPC 2.0 server.
 *
 * One thread of its own polls a UNIX stream socket and up to max_clients
 * connections.  A client sends JSON-RPC 2.0 requests (objects) or batches
 * (arrays), one JSON value per line or simply concatenated; each response is
 * one line of compact JSON.  Handlers run on the server thread, one at a
 * time, so a handler never races another handler; it takes the daemon's own
 * locks for anything the rest of the daemon shares.
 *
 * Every client is untrusted: malformed JSON, oversized requests, clients
 * that never read or that stall mid-request are answered with an error
 * and/or dropped, and none of it blocks the server thread for longer than
 * one poll round.  Nothing here touches the data path.
 *
 * Framing is not recoverable after a syntax error (the next value's start is
 * unknown), so a parse error is answered (-32700, id null) and the
 * connection is closed once the answer is written.
 */
#ifndef VUS_RPC_RPC_SERVER_H
#define VUS_RPC_RPC_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Standard JSON-RPC 2.0 error codes. */
#define RPC_ERR_PARSE            -32700 /* not JSON */
#define RPC_ERR_INVALID_REQUEST  -32600 /* JSON, but not a request */
#define RPC_ERR_METHOD_NOT_FOUND -32601
#define RPC_ERR_INVALID_PARAMS   -32602
#define RPC_ERR_INTERNAL         -32603

/* Application errors (-32000..-32099). */
#define RPC_ERR_NOT_FOUND   -32001 /* no such controller/bdev/LUN */
#define RPC_ERR_EXISTS      -32002 /* name or address already taken */
#define RPC_ERR_BUSY        -32003 /* in use (attached bdev, too many clients, ...) */
#define RPC_ERR_IO          -32004 /* the OS said no: open, bind, resize, ... */
#define RPC_ERR_UNSUPPORTED -32005 /* valid, but not possible with this backend or build */

/* Per request: what a handler answers through.  Valid only during the call. */
struct rpc_ctx;

typedef void (*rpc_handler)(struct rpc_ctx *ctx, json_t *params, void *opaque);

/*
 * One method.  params is always an object (an absent or null "params" reaches
 * the handler as {}); the handler owns nothing of it and must call exactly
 * one of rpc_result() or rpc_error() before it returns.  mutating: after a
 * successful call the server's after_mutation hook runs (before the response
 * is sent, so a client that sees success knows the hook has run).
 */
struct rpc_method {
    const char *name;
    rpc_handler fn;
    const char *help; /* one line, shown by rpc_methods */
    bool mutating;
};

/* Answer with result (a reference is stolen; NULL means out of memory -> -32603).  Handler thread.
 */
void rpc_result(struct rpc_ctx *ctx, json_t *result);

/*
 * Answer with an error: code and one human-readable line (control characters
 * are replaced, so a client-supplied string cannot break the line).  Handler thread.
 */
void rpc_error(struct rpc_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The method being served (for log lines).  Handler thread. */
const char *rpc_ctx_method(const struct rpc_ctx *ctx);

/* Limits; a zero field takes the default. */
#define RPC_DEFAULT_MAX_CLIENTS      64
#define RPC_DEFAULT_MAX_REQUEST      (1024 * 1024)
#define RPC_DEFAULT_WRITE_TIMEOUT_MS 5000  /* responses pending, none read: drop */
#define RPC_DEFAULT_IDLE_TIMEOUT_MS  30000 /* a request begun and not complete: drop */

struct rpc_server_opts {
    /* The method table; it and its strings must outlive the server.  rpc_methods is built in. */
    const struct rpc_method *methods;
    size_t nmethods;
    void *opaque; /* passed to every handler */
    /* Runs on the server thread after each successful mutating call (may be NULL). */
    void (*after_mutation)(void *opaque);
    void *mutation_opaque;
    unsigned max_clients;
    size_t max_request; /* bytes of one request (object or whole batch) */
    unsigned write_timeout_ms;
    unsigned idle_timeout_ms;
};

struct rpc_server;

/*
 * Create the socket at path (mode 0600; a stale socket is replaced; any other
 * file, or a socket another process listens on, is refused) and the server.
 * Nothing runs until rpc_server_start().  NULL on failure, with err set to
 * one line naming the path and the reason.  Any thread (the daemon's main).
 */
struct rpc_server *rpc_server_create(const char *path, const struct rpc_server_opts *opts,
                                     char *err, size_t errlen);

/* Start the server thread.  0 or -errno.  Caller's thread. */
int rpc_server_start(struct rpc_server *s);

/*
 * Stop the thread (if started; a handler in progress finishes first), close
 * every client and the socket, remove the socket file if it is still ours,
 * free everything.  Any thread but the server's.  NULL is a no-op.
 */
void rpc_server_destroy(struct rpc_server *s);

/* Number of connected clients (tests, diagnostics).  Any thread. */
unsigned rpc_server_client_count(struct rpc_server *s);

#endif
