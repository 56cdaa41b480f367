/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket-free half of the JSON-RPC server: bytes in, responses out.
 *
 * struct rpc_stream frames a client's byte stream into JSON values (one per
 * line or concatenated), rpc_dispatch() turns one value (a request or a
 * batch) into its response, and struct rpc_buf collects the response lines.
 * rpc_server.c owns the sockets and calls these; the fuzz target and the
 * unit tests call them directly.
 *
 * Threads: none of this is shared; each stream and buffer belongs to the
 * thread that drives it (the server thread), and the dispatcher's table is
 * read-only after set-up.
 */
#ifndef VUS_RPC_RPC_DISPATCH_H
#define VUS_RPC_RPC_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc_server.h"

/* More requests than this in one batch: -32600 (a batch is served in one go). */
#define RPC_MAX_BATCH 1024

struct rpc_dispatcher {
    const struct rpc_method *methods;
    size_t nmethods;
    void *opaque;
    void (*after_mutation)(void *opaque);
    void *mutation_opaque;
};

/*
 * Serve one parsed value: a request object, a batch array, or anything else
 * (answered -32600).  Returns the response (object or array) or NULL when
 * nothing is to be sent (notifications only).  Borrows value.
 */
json_t *rpc_dispatch(const struct rpc_dispatcher *d, json_t *value);

/* An error response with id null, for framing errors found outside a request. */
json_t *rpc_error_response(int code, const char *message);

/* A growable output buffer: bytes [off, len) are still to be sent. */
struct rpc_buf {
    char *data;
    size_t off, len, cap;
};

static inline size_t rpc_buf_pending(const struct rpc_buf *b)
{
    return b->len - b->off;
}

/* Append response as one line of compact JSON (and consume the reference).  -ENOMEM. */
int rpc_buf_put_json(struct rpc_buf *b, json_t *response);
/* Mark n bytes sent. */
void rpc_buf_consume(struct rpc_buf *b, size_t n);
void rpc_buf_free(struct rpc_buf *b);

/*
 * A client's input.  Bytes [off, len) of buf are unconsumed; a small scanner
 * (brackets and strings only, no JSON grammar) walks them once to find where
 * a top-level value may end, and only then is jansson asked to parse it: a
 * client sending a big request one byte at a time costs O(n), not O(n^2)
 * reparses.
 */
struct rpc_stream {
    char *buf;
    size_t off, len, cap;
    size_t max;     /* the largest request accepted */
    size_t scan;    /* buf index the scanner has reached */
    size_t start;   /* buf index where the current value begins (started only) */
    uint64_t depth; /* open brackets */
    bool started, in_str, esc;
};

void rpc_stream_init(struct rpc_stream *s, size_t max_request);
void rpc_stream_free(struct rpc_stream *s);

/* Unconsumed bytes: nonzero after rpc_stream_process() means a request has begun. */
static inline size_t rpc_stream_pending(const struct rpc_stream *s)
{
    return s->len - s->off;
}

/*
 * Where to read into, and how much fits (*room).  The buffer holds at most
 * max + 1 unconsumed bytes, the one extra byte being how an oversized
 * request is recognised; *room is 0 when it is full.  NULL with *room 0 on
 * allocation failure.
 */
char *rpc_stream_space(struct rpc_stream *s, size_t *room);
/* n bytes were written at rpc_stream_space(). */
void rpc_stream_commit(struct rpc_stream *s, size_t n);
/* Copy in what fits; returns the bytes taken (tests, fuzzing). */
size_t rpc_stream_feed(struct rpc_stream *s, const void *data, size_t len);

enum rpc_step {
    RPC_STEP_IDLE,  /* no complete value left (a partial one may be pending) */
    RPC_STEP_AGAIN, /* served max_values; more may be ready */
    RPC_STEP_CLOSE, /* a framing error was answered: send out, then close */
};

/* Serve up to max_values complete values, appending their responses to out. */
enum rpc_step rpc_stream_process(struct rpc_stream *s, const struct rpc_dispatcher *d,
                                 struct rpc_buf *out, unsigned max_values);

#endif
