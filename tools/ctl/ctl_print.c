/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-scsi-ctl's printers (see ctl_print.h).  Single-threaded. */
#include "ctl_print.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 16

/* A table: rows of strings, printed with columns aligned. */
struct table {
    unsigned ncols, nrows, cap;
    char **cells; /* nrows * ncols */
};

static void table_init(struct table *t, unsigned ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

/* Add a row of ncols strings (copied). */
static void table_row(struct table *t, const char *const *cols)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, sizeof(char *) * t->cap * t->ncols);
        if (!t->cells) {
            fprintf(stderr, "vhost-user-scsi-ctl: out of memory\n");
            exit(1);
        }
    }
    for (unsigned i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = strdup(cols[i] ? cols[i] : "-");
    t->nrows++;
}

static void table_print(struct table *t, const char *indent)
{
    size_t w[MAX_COLS] = { 0 };

    for (unsigned r = 0; r < t->nrows; r++)
        for (unsigned c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (unsigned r = 0; r < t->nrows; r++) {
        fputs(indent, stdout);
        for (unsigned c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            /* The last column is not padded: no trailing blanks. */
            if (c + 1 == t->ncols)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)w[c], s);
        }
    }
    for (unsigned i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* A field as text: strings as they are, numbers in decimal, booleans yes/no, else "-". */
static void text(char *dst, size_t size, json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(dst, size, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(dst, size, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(dst, size, "-");
}

static void field(char *dst, size_t size, json_t *obj, const char *key)
{
    text(dst, size, json_object_get(obj, key));
}

/* Bytes for people: 1073741824 -> 1G, 1610612736 -> 1.5G, 1000 -> 1000. */
static void human_bytes(char *dst, size_t size, json_t *v)
{
    static const char units[] = "KMGTPE";
    double x;
    int u = -1;

    if (!json_is_integer(v) || json_integer_value(v) < 1024) {
        text(dst, size, v);
        return;
    }
    x = (double)json_integer_value(v);
    while (x >= 1024 && u < 5) {
        x /= 1024;
        u++;
    }
    if (x == floor(x))
        snprintf(dst, size, "%.0f%c", x, units[u]);
    else
        snprintf(dst, size, "%.1f%c", x, units[u]);
}

void print_json(json_t *result)
{
    char *s = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);

    if (s)
        puts(s);
    free(s);
}

void print_nothing(json_t *result)
{
    (void)result;
}

void print_version(json_t *result)
{
    const char *key;
    json_t *v;
    char buf[256];

    if (!json_is_object(result)) {
        text(buf, sizeof(buf), result);
        puts(buf);
        return;
    }
    json_object_foreach(result, key, v)
    {
        if (json_is_object(v) || json_is_array(v)) {
            char *s = json_dumps(v, JSON_COMPACT);
            printf("%s: %s\n", key, s ? s : "-");
            free(s);
        } else {
            text(buf, sizeof(buf), v);
            printf("%s: %s\n", key, buf);
        }
    }
}

void print_methods(json_t *result)
{
    struct table t;
    size_t i;
    json_t *m;

    table_init(&t, 2);
    json_array_foreach(result, i, m)
    {
        char name[128], help[512];
        field(name, sizeof(name), m, "name");
        field(help, sizeof(help), m, "help");
        table_row(&t, (const char *const[]){ name, help });
    }
    table_print(&t, "");
}

void print_controller_list(json_t *result)
{
    struct table t;
    size_t i;
    json_t *c;

    table_init(&t, 4);
    table_row(&t, (const char *const[]){ "NAME", "SOCKET", "CONNECTED", "LUNS" });
    json_array_foreach(result, i, c)
    {
        char name[256], sock[512], conn[16], luns[1024] = "";
        size_t used = 0, j;
        json_t *l;

        field(name, sizeof(name), c, "name");
        field(sock, sizeof(sock), c, "socket_path");
        field(conn, sizeof(conn), c, "connected");
        /* target:lun=bdev, the way an operator thinks of a LUN map. */
        json_array_foreach(json_object_get(c, "luns"), j, l)
        {
            char tg[32], ln[32], bd[256];
            field(tg, sizeof(tg), l, "target");
            field(ln, sizeof(ln), l, "lun");
            field(bd, sizeof(bd), l, "bdev");
            if (used < sizeof(luns))
                used += (size_t)snprintf(luns + used, sizeof(luns) - used, "%s%s:%s=%s",
                                         used ? "," : "", tg, ln, bd);
        }
        table_row(&t, (const char *const[]){ name, sock, conn, used ? luns : "-" });
    }
    table_print(&t, "");
}

void print_bdev_list(json_t *result)
{
    struct table t;
    size_t i;
    json_t *b;

    table_init(&t, 7);
    table_row(&t, (const char *const[]){ "NAME", "TYPE", "SIZE", "BLOCK", "RO", "LUNS", "DESC" });
    json_array_foreach(result, i, b)
    {
        char name[256], type[32], size[32], bs[32], ro[16], att[32], desc[512];
        field(name, sizeof(name), b, "name");
        field(type, sizeof(type), b, "type");
        human_bytes(size, sizeof(size), json_object_get(b, "size"));
        field(bs, sizeof(bs), b, "block_size");
        field(ro, sizeof(ro), b, "readonly");
        field(att, sizeof(att), b, "attached");
        field(desc, sizeof(desc), b, "desc");
        table_row(&t, (const char *const[]){ name, type, size, bs, ro, att, desc });
    }
    table_print(&t, "");
}

/* Nanoseconds as microseconds with one decimal: windows and sleep costs are a few to hundreds. */
static void micros(char *buf, size_t n, json_t *ns)
{
    json_int_t v = json_integer_value(ns);

    snprintf(buf, n, "%lld.%lld", (long long)(v / 1000), (long long)(v % 1000 / 100));
}

void print_worker_list(json_t *result)
{
    struct table t;
    size_t i;
    json_t *w;

    table_init(&t, 7);
    table_row(&t, (const char *const[]){ "ID", "POLL-MAX-US", "WINDOW-US", "SLEEP-COST-US",
                                         "SLEEPS", "CAUGHT", "MISSED" });
    json_array_foreach(result, i, w)
    {
        char id[32], max[32], win[32], cost[32], sleeps[32], caught[32], missed[32];
        micros(max, sizeof(max), json_object_get(w, "poll_max_ns"));
        micros(win, sizeof(win), json_object_get(w, "poll_window_ns"));
        micros(cost, sizeof(cost), json_object_get(w, "sleep_cost_ns"));
        field(id, sizeof(id), w, "id");
        field(sleeps, sizeof(sleeps), w, "sleeps");
        field(caught, sizeof(caught), w, "polls_caught");
        field(missed, sizeof(missed), w, "polls_missed");
        table_row(&t, (const char *const[]){ id, max, win, cost, sleeps, caught, missed });
    }
    table_print(&t, "");
}

void print_lun_attach(json_t *result)
{
    char tg[32], ln[32];

    field(tg, sizeof(tg), result, "target");
    field(ln, sizeof(ln), result, "lun");
    printf("attached as target %s lun %s\n", tg, ln);
}

void print_lun_list(json_t *result)
{
    struct table t;
    size_t i;
    json_t *l;

    table_init(&t, 3);
    table_row(&t, (const char *const[]){ "TARGET", "LUN", "BDEV" });
    json_array_foreach(result, i, l)
    {
        char tg[32], ln[32], bd[256];
        field(tg, sizeof(tg), l, "target");
        field(ln, sizeof(ln), l, "lun");
        field(bd, sizeof(bd), l, "bdev");
        table_row(&t, (const char *const[]){ tg, ln, bd });
    }
    table_print(&t, "");
}

double ctl_percentile(json_t *buckets, double q)
{
    uint64_t total = 0, seen = 0, rank;
    size_t i;
    json_t *b;

    json_array_foreach(buckets, i, b)
    {
        json_int_t n = json_integer_value(json_array_get(b, 1));
        if (n > 0)
            total += (uint64_t)n;
    }
    if (total == 0)
        return -1;
    /* The sample of rank ceil(q * total), counting from 1. */
    rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    json_array_foreach(buckets, i, b)
    {
        json_int_t n = json_integer_value(json_array_get(b, 1));
        if (n > 0)
            seen += (uint64_t)n;
        if (seen >= rank) {
            json_t *up = json_array_get(b, 0);
            return json_is_number(up) ? json_number_value(up) : -2;
        }
    }
    return -2;
}

/* A percentile for a table cell: 96us, 1.2ms, 3.0s; "-" without samples. */
/* A percentile the daemon computed (microseconds, or null for none). */
static void latency_text(char *dst, size_t size, json_t *lat, const char *op, const char *which)
{
    json_t *v = json_object_get(json_object_get(lat, op), which);
    double us;

    if (!json_is_number(v)) {
        snprintf(dst, size, "-");
        return;
    }
    us = json_number_value(v);
    if (us < 1000)
        snprintf(dst, size, "%.0fus", us);
    else if (us < 1e6)
        snprintf(dst, size, "%.1fms", us / 1e3);
    else
        snprintf(dst, size, "%.1fs", us / 1e6);
}

/* The sum of an object's integer members (TMFs of every kind). */
static void sum_text(char *dst, size_t size, json_t *obj)
{
    uint64_t sum = 0;
    const char *key;
    json_t *v;

    if (!json_is_object(obj)) {
        snprintf(dst, size, "-");
        return;
    }
    json_object_foreach(obj, key, v)
    {
        if (json_integer_value(v) > 0)
            sum += (uint64_t)json_integer_value(v);
    }
    snprintf(dst, size, "%" PRIu64, sum);
}

/* An integer member of a member, or "-". */
static void sub_field(char *dst, size_t size, json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(obj, a), b);

    if (json_is_integer(v))
        snprintf(dst, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(dst, size, "-");
}

/* Errors worth a line: every non-zero counter but the total, sense keys by name. */
static size_t error_details(char *line, size_t size, json_t *errors)
{
    size_t used = 0;
    const char *key;
    json_t *v;

    json_object_foreach(errors, key, v)
    {
        if (json_is_object(v)) {
            used += error_details(line + used, size - used, v);
            continue;
        }
        if (strcmp(key, "total") == 0 || json_integer_value(v) <= 0 || used >= size)
            continue;
        used += (size_t)snprintf(line + used, size - used, " %s=%" JSON_INTEGER_FORMAT, key,
                                 json_integer_value(v));
    }
    return used < size ? used : size - 1;
}

#define NSTATCOLS 14

void print_stats(json_t *result)
{
    static const char *const head[NSTATCOLS] = {
        "T:L",     "BDEV",   "READS", "WRITES", "UNMAPS", "FLUSHES", "READ",
        "WRITTEN", "ERRORS", "TMFS",  "RD-P50", "RD-P99", "WR-P50",  "WR-P99",
    };
    json_t *ctrls = json_object_get(result, "controllers"), *c;
    size_t i;

    json_array_foreach(ctrls, i, c)
    {
        char name[256];
        struct table t;
        size_t j;
        json_t *l;

        field(name, sizeof(name), c, "name");
        printf("%scontroller %s\n", i ? "\n" : "", name);
        table_init(&t, NSTATCOLS);
        table_row(&t, head);
        json_array_foreach(json_object_get(c, "luns"), j, l)
        {
            char v[NSTATCOLS][64], tg[32], ln[32];
            const char *row[NSTATCOLS];
            json_t *lat = json_object_get(l, "latency");
            json_t *ops = json_object_get(l, "ops");
            uint64_t unmaps = (uint64_t)json_integer_value(json_object_get(ops, "unmap")) +
                              (uint64_t)json_integer_value(json_object_get(ops, "write_zeroes"));

            field(tg, sizeof(tg), l, "target");
            field(ln, sizeof(ln), l, "lun");
            snprintf(v[0], sizeof(v[0]), "%s:%s", tg, ln);
            field(v[1], sizeof(v[1]), l, "bdev");
            sub_field(v[2], sizeof(v[2]), l, "ops", "read");
            sub_field(v[3], sizeof(v[3]), l, "ops", "write");
            snprintf(v[4], sizeof(v[4]), "%" PRIu64, unmaps);
            sub_field(v[5], sizeof(v[5]), l, "ops", "flush");
            human_bytes(v[6], sizeof(v[6]), json_object_get(l, "bytes_read"));
            human_bytes(v[7], sizeof(v[7]), json_object_get(l, "bytes_written"));
            sub_field(v[8], sizeof(v[8]), l, "errors", "total");
            sum_text(v[9], sizeof(v[9]), json_object_get(l, "tmf"));
            latency_text(v[10], sizeof(v[10]), lat, "read", "p50_us");
            latency_text(v[11], sizeof(v[11]), lat, "read", "p99_us");
            latency_text(v[12], sizeof(v[12]), lat, "write", "p50_us");
            latency_text(v[13], sizeof(v[13]), lat, "write", "p99_us");
            for (int k = 0; k < NSTATCOLS; k++)
                row[k] = v[k];
            table_row(&t, row);
        }
        table_print(&t, "  ");
        /* Which errors, under the table: a column per sense key would mostly be zeros. */
        json_array_foreach(json_object_get(c, "luns"), j, l)
        {
            char tg[32], ln[32], line[1024];
            size_t used = error_details(line, sizeof(line), json_object_get(l, "errors"));

            field(tg, sizeof(tg), l, "target");
            field(ln, sizeof(ln), l, "lun");
            if (used)
                printf("  errors on %s:%s:%s\n", tg, ln, line);
        }
    }
}
