/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Declarative parameter validation (see rpc_params.h).  Pure functions: any thread. */
#include "rpc/rpc_params.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Longest client-supplied text quoted back in a message. */
#define QUOTE_MAX 64

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return json_integer_value(v) < 0 ? "a negative number" : "an integer";
    case JSON_REAL:
        return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

int rpc_parse_size(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -ERANGE;
        x = x * 10 + d;
    }
    if (*p) {
        switch (*p) {
        case 'K':
        case 'k':
            shift = 10;
            break;
        case 'M':
        case 'm':
            shift = 20;
            break;
        case 'G':
        case 'g':
            shift = 30;
            break;
        case 'T':
        case 't':
            shift = 40;
            break;
        default:
            return -EINVAL;
        }
        if (p[1])
            return -EINVAL;
    }
    if (shift && x > (UINT64_MAX >> shift))
        return -ERANGE;
    *v = x << shift;
    return 0;
}

/* s for a message: printable ASCII only, at most QUOTE_MAX bytes. */
static void quote(char *dst, size_t size, const char *s)
{
    size_t i = 0;

    for (; *s && i + 4 < size; s++) {
        if (i == QUOTE_MAX) {
            memcpy(dst + i, "...", 3);
            i += 3;
            break;
        }
        dst[i++] = isprint((unsigned char)*s) ? *s : '?';
    }
    dst[i] = 0;
}

static bool ident_ok(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-:", *s))
            return false;
    return true;
}

/* "between 0 and 255", "at least 1", for range messages. */
static void range_text(char *dst, size_t size, const struct rpc_param *p)
{
    if (p->max)
        snprintf(dst, size, "between %" PRIu64 " and %" PRIu64, p->min, p->max);
    else
        snprintf(dst, size, "at least %" PRIu64, p->min);
}

static int check_string(const struct rpc_param *p, json_t *v, char *err, size_t errlen,
                        const char **out)
{
    const char *s;
    size_t len;
    char q[QUOTE_MAX + 8];

    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: must be a string, got %s", p->name, type_name(v));
        return -1;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (strlen(s) != len) {
        snprintf(err, errlen, "%s: must not contain NUL characters", p->name);
        return -1;
    }
    if (len < p->min || (p->max && len > p->max)) {
        if (p->max)
            snprintf(err, errlen, "%s: must be %" PRIu64 " to %" PRIu64 " characters, got %zu",
                     p->name, p->min, p->max, len);
        else
            snprintf(err, errlen, "%s: must be at least %" PRIu64 " characters, got %zu", p->name,
                     p->min, len);
        return -1;
    }
    if ((p->flags & RPC_PF_IDENT) && !ident_ok(s)) {
        quote(q, sizeof(q), s);
        snprintf(err, errlen,
                 "%s: may contain only letters, digits, '.', '_', '-' and ':', got '%s'", p->name,
                 q);
        return -1;
    }
    *out = s;
    return 0;
}

static int check_number(const struct rpc_param *p, json_t *v, char *err, size_t errlen,
                        uint64_t *out)
{
    char q[QUOTE_MAX + 8], range[64];
    uint64_t x;

    if (p->type == RPC_PARAM_SIZE && json_is_string(v)) {
        int r = rpc_parse_size(json_string_value(v), &x);
        if (r < 0 || strlen(json_string_value(v)) != json_string_length(v)) {
            quote(q, sizeof(q), json_string_value(v));
            if (r == -ERANGE)
                snprintf(err, errlen, "%s: '%s' does not fit in 64 bits", p->name, q);
            else
                snprintf(err, errlen,
                         "%s: '%s' is not a number with an optional K, M, G or T suffix", p->name,
                         q);
            return -1;
        }
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        x = (uint64_t)json_integer_value(v);
    } else {
        if (p->type == RPC_PARAM_SIZE)
            snprintf(err, errlen,
                     "%s: must be a number of bytes or a string such as \"64M\", got %s", p->name,
                     type_name(v));
        else
            snprintf(err, errlen, "%s: must be a non-negative integer, got %s", p->name,
                     type_name(v));
        return -1;
    }
    if (p->multiple && (x % p->multiple || x < p->min || (p->max && x > p->max))) {
        /* The commonest size rule, said in one phrase. */
        if (p->min <= p->multiple && !p->max)
            snprintf(err, errlen, "%s: must be a %smultiple of %" PRIu64 ", got %" PRIu64, p->name,
                     p->min ? "positive " : "", p->multiple, x);
        else {
            range_text(range, sizeof(range), p);
            snprintf(err, errlen, "%s: must be a multiple of %" PRIu64 " %s, got %" PRIu64, p->name,
                     p->multiple, range, x);
        }
        return -1;
    }
    if (x < p->min || (p->max && x > p->max)) {
        range_text(range, sizeof(range), p);
        snprintf(err, errlen, "%s: must be %s, got %" PRIu64, p->name, range, x);
        return -1;
    }
    *out = x;
    return 0;
}

static int check_enum(const struct rpc_param *p, json_t *v, char *err, size_t errlen, int *out)
{
    char q[QUOTE_MAX + 8], list[256] = "";
    size_t used = 0;

    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
        for (int i = 0; p->values[i]; i++) {
            if (strcmp(p->values[i], json_string_value(v)) == 0) {
                *out = i;
                return 0;
            }
        }
    }
    for (int i = 0; p->values[i] && used < sizeof(list); i++)
        used +=
            (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", p->values[i]);
    if (json_is_string(v)) {
        quote(q, sizeof(q), json_string_value(v));
        snprintf(err, errlen, "%s: must be one of %s, got '%s'", p->name, list, q);
    } else {
        snprintf(err, errlen, "%s: must be one of %s, got %s", p->name, list, type_name(v));
    }
    return -1;
}

static int check_one(const struct rpc_param *p, json_t *v, char *err, size_t errlen, char *base)
{
    switch (p->type) {
    case RPC_PARAM_STRING: {
        const char *s;
        if (check_string(p, v, err, errlen, &s) < 0)
            return -1;
        memcpy(base + p->offset, &s, sizeof(s));
        return 0;
    }
    case RPC_PARAM_UINT:
    case RPC_PARAM_SIZE: {
        uint64_t x;
        if (check_number(p, v, err, errlen, &x) < 0)
            return -1;
        memcpy(base + p->offset, &x, sizeof(x));
        return 0;
    }
    case RPC_PARAM_BOOL: {
        bool b;
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "%s: must be true or false, got %s", p->name, type_name(v));
            return -1;
        }
        b = json_is_true(v);
        memcpy(base + p->offset, &b, sizeof(b));
        return 0;
    }
    case RPC_PARAM_ENUM: {
        int i;
        if (check_enum(p, v, err, errlen, &i) < 0)
            return -1;
        memcpy(base + p->offset, &i, sizeof(i));
        return 0;
    }
    }
    snprintf(err, errlen, "%s: internal error: unknown parameter type", p->name);
    return -1;
}

int rpc_params_check(json_t *params, const struct rpc_param *table, size_t n, void *out, char *err,
                     size_t errlen)
{
    const char *key;
    json_t *v;

    if (params && json_is_array(params)) {
        snprintf(err, errlen, "params must be an object (parameters by name), not an array");
        return -1;
    }
    if (params && !json_is_null(params) && !json_is_object(params)) {
        snprintf(err, errlen, "params must be an object, got %s", type_name(params));
        return -1;
    }
    /* Unknown names first: "sise" is the real mistake, not the missing "size". */
    json_object_foreach(params, key, v)
    {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(table[i].name, key) == 0)
                break;
        if (i == n) {
            char q[QUOTE_MAX + 8];
            quote(q, sizeof(q), key);
            snprintf(err, errlen, "unknown parameter '%s'", q);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        v = params ? json_object_get(params, table[i].name) : NULL;
        if (!v) {
            if (table[i].required) {
                snprintf(err, errlen, "%s: required", table[i].name);
                return -1;
            }
            continue;
        }
        if (check_one(&table[i], v, err, errlen, out) < 0)
            return -1;
    }
    return 0;
}

bool rpc_params_parse(struct rpc_ctx *ctx, json_t *params, const struct rpc_param *table, size_t n,
                      void *out)
{
    char err[512];

    if (rpc_params_check(params, table, n, out, err, sizeof(err)) == 0)
        return true;
    rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "%s", err);
    return false;
}

bool rpc_param_given(json_t *params, const char *name)
{
    return json_is_object(params) && json_object_get(params, name) != NULL;
}
