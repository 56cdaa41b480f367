/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarative parameter validation, so that every method checks its params
 * the same way and says what is wrong in the same words.
 *
 * A method describes its parameters in a table and gets a filled struct or a
 * -32602 error naming the parameter:
 *
 *     struct bdev_create_args { const char *name; int type; uint64_t size; bool ro; };
 *     static const char *const types[] = { "ram", "file", "null", NULL };
 *     static const struct rpc_param bdev_create_params[] = {
 *         RPC_PARAM_STR(struct bdev_create_args, name, true, 1, 64, RPC_PF_IDENT),
 *         RPC_PARAM_ENUM(struct bdev_create_args, type, true, types),
 *         RPC_PARAM_SIZE(struct bdev_create_args, size, false, 512, 0, 512),
 *         RPC_PARAM_BOOL_AS(struct bdev_create_args, ro, "readonly", false),
 *     };
 *     struct bdev_create_args a = { .size = 0 };   // defaults for absent params
 *     if (!rpc_params_parse(ctx, params, bdev_create_params, RPC_NPARAMS(bdev_create_params), &a))
 *         return;                                  // -32602 already answered
 *
 * Types and what they accept:
 *   string  a JSON string without NUL characters, length in [min, max]
 *           (max 0: no limit); -> const char * borrowed from params (valid
 *           for the handler call)
 *   uint    a non-negative JSON integer in [min, max] (max 0: no limit) -> uint64_t
 *   bool    JSON true or false -> bool
 *   size    a JSON integer, or a string of digits with an optional K, M, G
 *           or T suffix (powers of 1024, either case): "64M", "1073741824";
 *           in [min, max] (max 0: no limit) and a multiple of `multiple`
 *           (0: any) -> uint64_t
 *   enum    a JSON string, one of values (NULL-terminated) -> int (its index)
 *
 * Params must be an object (by name); an array is refused.  Unknown names
 * are errors (a misspelt optional parameter must not be silently ignored).
 * An absent optional parameter leaves its field untouched.
 *
 * Threads: pure functions; any thread.
 */
#ifndef VUS_RPC_RPC_PARAMS_H
#define VUS_RPC_RPC_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc_server.h"

enum rpc_param_type {
    RPC_PARAM_STRING,
    RPC_PARAM_UINT,
    RPC_PARAM_BOOL,
    RPC_PARAM_SIZE,
    RPC_PARAM_ENUM,
};

/* string: only letters, digits and . _ - : (names that are safe in logs, paths and tables) */
#define RPC_PF_IDENT 0x1u

struct rpc_param {
    const char *name;
    enum rpc_param_type type;
    bool required;
    size_t offset;             /* of the field in the output struct */
    uint64_t min, max;         /* uint, size: value; string: length.  max 0: unbounded */
    uint64_t multiple;         /* size: must be a multiple of this (0: any) */
    const char *const *values; /* enum: NULL-terminated */
    unsigned flags;            /* RPC_PF_* */
};

#define RPC_NPARAMS(table) (sizeof(table) / sizeof((table)[0]))

#define RPC_PARAM_STR_AS(st, field, pname, req, minlen, maxlen, fl)                                \
    {                                                                                              \
        .name = (pname), .type = RPC_PARAM_STRING, .required = (req),                              \
        .offset = offsetof(st, field), .min = (minlen), .max = (maxlen), .flags = (fl)             \
    }
#define RPC_PARAM_UINT_AS(st, field, pname, req, lo, hi)                                           \
    {                                                                                              \
        .name = (pname), .type = RPC_PARAM_UINT, .required = (req), .offset = offsetof(st, field), \
        .min = (lo), .max = (hi)                                                                   \
    }
#define RPC_PARAM_BOOL_AS(st, field, pname, req)                                                   \
    {                                                                                              \
        .name = (pname), .type = RPC_PARAM_BOOL, .required = (req), .offset = offsetof(st, field)  \
    }
#define RPC_PARAM_SIZE_AS(st, field, pname, req, lo, hi, mult)                                     \
    {                                                                                              \
        .name = (pname), .type = RPC_PARAM_SIZE, .required = (req), .offset = offsetof(st, field), \
        .min = (lo), .max = (hi), .multiple = (mult)                                               \
    }
#define RPC_PARAM_ENUM_AS(st, field, pname, req, vals)                                             \
    {                                                                                              \
        .name = (pname), .type = RPC_PARAM_ENUM, .required = (req), .offset = offsetof(st, field), \
        .values = (vals)                                                                           \
    }

/* The same, named like the field. */
#define RPC_PARAM_STR(st, f, req, lo, hi, fl) RPC_PARAM_STR_AS(st, f, #f, req, lo, hi, fl)
#define RPC_PARAM_UINT(st, f, req, lo, hi)    RPC_PARAM_UINT_AS(st, f, #f, req, lo, hi)
#define RPC_PARAM_BOOL(st, f, req)            RPC_PARAM_BOOL_AS(st, f, #f, req)
#define RPC_PARAM_SIZE(st, f, req, lo, hi, m) RPC_PARAM_SIZE_AS(st, f, #f, req, lo, hi, m)
#define RPC_PARAM_ENUM(st, f, req, vals)      RPC_PARAM_ENUM_AS(st, f, #f, req, vals)

/*
 * Validate params (an object, or NULL for none) against table and fill out.
 * 0 on success; -1 with one line in err ("size: must be a positive multiple
 * of 512, got 1000", "unknown parameter 'sise'", "name: required").
 */
int rpc_params_check(json_t *params, const struct rpc_param *table, size_t n, void *out, char *err,
                     size_t errlen);

/* rpc_params_check(), answering -32602 on ctx when it fails.  true: params are good. */
bool rpc_params_parse(struct rpc_ctx *ctx, json_t *params, const struct rpc_param *table, size_t n,
                      void *out);

/* Whether params names this parameter (to tell an absent optional one from its default). */
bool rpc_param_given(json_t *params, const char *name);

/* Parse a size: digits with an optional K/M/G/T suffix.  0, -EINVAL, or -ERANGE. */
int rpc_parse_size(const char *s, uint64_t *v);

#endif
