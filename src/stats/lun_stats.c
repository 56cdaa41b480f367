/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-LUN statistics: per-worker slots written without locks, summed on read. */
#include "stats/lun_stats.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*
 * A reader on a 32-bit machine must not see half of a 64-bit store: require
 * 64-bit atomics that are real instructions, not libatomic's locks (which
 * would put a lock on the hot path).
 */
_Static_assert(__GCC_ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/*
 * Two cache lines, not one: Intel's adjacent-line prefetcher pulls lines in
 * pairs, so slots sharing a 128-byte pair still bounce between cores.
 */
#define SLOT_ALIGN 128

/* The totals are read and summed as an array of words. */
#define TOTAL_WORDS (sizeof(struct lun_stats_totals) / sizeof(uint64_t))
_Static_assert(sizeof(struct lun_stats_totals) % sizeof(uint64_t) == 0, "totals are all words");

struct lun_stats_slot {
    struct lun_stats_totals c;
} __attribute__((aligned(SLOT_ALIGN)));

struct lun_stats {
    unsigned nslots; /* workers + the control slot */
    struct lun_stats_slot slot[];
};

/* Latency class of each op; see the header for why these pairings. */
static const unsigned char lat_class_of[LUN_OP_COUNT] = {
    [LUN_OP_READ] = LUN_LAT_READ,   [LUN_OP_WRITE] = LUN_LAT_WRITE,
    [LUN_OP_UNMAP] = LUN_LAT_UNMAP, [LUN_OP_WRITE_ZEROES] = LUN_LAT_UNMAP,
    [LUN_OP_FLUSH] = LUN_LAT_FLUSH, [LUN_OP_VERIFY] = LUN_LAT_OTHER,
    [LUN_OP_OTHER] = LUN_LAT_OTHER,
};

static const char *const op_names[LUN_OP_COUNT] = {
    [LUN_OP_READ] = "read",   [LUN_OP_WRITE] = "write",
    [LUN_OP_UNMAP] = "unmap", [LUN_OP_WRITE_ZEROES] = "write_zeroes",
    [LUN_OP_FLUSH] = "flush", [LUN_OP_VERIFY] = "verify",
    [LUN_OP_OTHER] = "other",
};

static const char *const lat_names[LUN_LAT_COUNT] = {
    [LUN_LAT_READ] = "read",   [LUN_LAT_WRITE] = "write", [LUN_LAT_FLUSH] = "flush",
    [LUN_LAT_UNMAP] = "unmap", [LUN_LAT_OTHER] = "other",
};

static const char *const tmf_names[LUN_TMF_COUNT] = {
    [LUN_TMF_ABORT_TASK] = "abort_task",
    [LUN_TMF_ABORT_TASK_SET] = "abort_task_set",
    [LUN_TMF_CLEAR_ACA] = "clear_aca",
    [LUN_TMF_CLEAR_TASK_SET] = "clear_task_set",
    [LUN_TMF_I_T_NEXUS_RESET] = "i_t_nexus_reset",
    [LUN_TMF_LUN_RESET] = "lun_reset",
    [LUN_TMF_QUERY_TASK] = "query_task",
    [LUN_TMF_QUERY_TASK_SET] = "query_task_set",
    [LUN_TMF_OTHER] = "other",
};

/* Sense keys as SPC-4 names them; 0Ch is reserved (it was EQUAL). */
static const char *const err_names[LUN_ERR_COUNT] = {
    "no_sense",
    "recovered_error",
    "not_ready",
    "medium_error",
    "hardware_error",
    "illegal_request",
    "unit_attention",
    "data_protect",
    "blank_check",
    "vendor_specific",
    "copy_aborted",
    "aborted_command",
    "reserved_0c",
    "volume_overflow",
    "miscompare",
    "completed",
    [LUN_ERR_BUSY] = "busy",
    [LUN_ERR_TASK_SET_FULL] = "task_set_full",
    [LUN_ERR_RESERVATION_CONFLICT] = "reservation_conflict",
    [LUN_ERR_TASK_ABORTED] = "task_aborted",
    [LUN_ERR_OTHER_STATUS] = "other_status",
};

/*
 * Single-writer increment.  Not an atomic RMW (no lock prefix, no LL/SC
 * loop): only the slot's owner writes it; the atomic store only keeps the
 * value whole for concurrent readers.
 */
static inline void bump(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Control thread. */
struct lun_stats *lun_stats_new(unsigned nworkers)
{
    struct lun_stats *s;
    size_t size;

    if (nworkers == 0 || nworkers > LUN_STATS_MAX_WORKERS) {
        errno = EINVAL;
        return NULL;
    }
    size = sizeof(*s) + (size_t)(nworkers + 1) * sizeof(struct lun_stats_slot);
    if (posix_memalign((void **)&s, SLOT_ALIGN, size) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    memset(s, 0, size);
    s->nslots = nworkers + 1;
    return s;
}

/* Control thread, no writer running. */
void lun_stats_free(struct lun_stats *s)
{
    free(s);
}

/* Any thread: nslots never changes. */
unsigned lun_stats_control_slot(const struct lun_stats *s)
{
    return s->nslots - 1;
}

/* Any thread. */
enum lun_lat_class lun_stats_lat_class(enum lun_op op)
{
    return op < LUN_OP_COUNT ? (enum lun_lat_class)lat_class_of[op] : LUN_LAT_OTHER;
}

/* Any thread. */
unsigned lun_stats_bucket(uint64_t lat_ns)
{
    unsigned bits;

    if (lat_ns < (1ull << LUN_LAT_MIN_SHIFT))
        return 0;
    /* lat_ns has `bits` significant bits: it lies in [2^(bits-1), 2^bits). */
    bits = 64 - (unsigned)__builtin_clzll(lat_ns);
    if (bits > LUN_LAT_MAX_SHIFT)
        return LUN_LAT_BUCKETS - 1;
    return bits - LUN_LAT_MIN_SHIFT;
}

/* Any thread. */
uint64_t lun_stats_bucket_upper_ns(unsigned bucket)
{
    if (bucket >= LUN_LAT_BUCKETS - 1)
        return UINT64_MAX;
    return 1ull << (LUN_LAT_MIN_SHIFT + bucket);
}

static uint64_t bucket_lower_ns(unsigned bucket)
{
    return bucket == 0 ? 0 : 1ull << (LUN_LAT_MIN_SHIFT + bucket - 1);
}

/* The error class of a status, or -1 for a success. */
static int err_class(uint8_t status, uint8_t sense_key)
{
    switch (status) {
    case LUN_STATUS_GOOD:
    case LUN_STATUS_CONDITION_MET:
        return -1;
    case LUN_STATUS_CHECK_CONDITION:
        return LUN_ERR_SENSE_KEY_0 + (sense_key & 0xf);
    case LUN_STATUS_BUSY:
        return LUN_ERR_BUSY;
    case LUN_STATUS_TASK_SET_FULL:
        return LUN_ERR_TASK_SET_FULL;
    case LUN_STATUS_RESERVATION_CONFLICT:
        return LUN_ERR_RESERVATION_CONFLICT;
    case LUN_STATUS_TASK_ABORTED:
        return LUN_ERR_TASK_ABORTED;
    default:
        return LUN_ERR_OTHER_STATUS;
    }
}

/* The thread owning slot w. */
void lun_stats_complete(struct lun_stats *s, unsigned w, enum lun_op op, uint64_t bytes,
                        uint64_t lat_ns, uint8_t status, uint8_t sense_key)
{
    struct lun_stats_totals *c;
    int e;

    if (w >= s->nslots || (unsigned)op >= LUN_OP_COUNT)
        return;
    c = &s->slot[w].c;
    bump(&c->ops[op], 1);
    if (op == LUN_OP_READ)
        bump(&c->bytes_read, bytes);
    else if (op == LUN_OP_WRITE)
        bump(&c->bytes_written, bytes);
    bump(&c->lat[lat_class_of[op]][lun_stats_bucket(lat_ns)], 1);
    e = err_class(status, sense_key);
    if (e >= 0)
        bump(&c->errors[e], 1);
}

/* The thread owning slot w. */
void lun_stats_tmf(struct lun_stats *s, unsigned w, enum lun_tmf kind)
{
    if (w >= s->nslots)
        return;
    if ((unsigned)kind >= LUN_TMF_COUNT)
        kind = LUN_TMF_OTHER;
    bump(&s->slot[w].c.tmf[kind], 1);
}

/* Any thread: relaxed loads, each one whole (see the header). */
void lun_stats_read(const struct lun_stats *s, struct lun_stats_totals *out)
{
    uint64_t *o = (uint64_t *)out;

    memset(out, 0, sizeof(*out));
    for (unsigned w = 0; w < s->nslots; w++) {
        const uint64_t *in = (const uint64_t *)&s->slot[w].c;

        for (size_t i = 0; i < TOTAL_WORDS; i++)
            o[i] += __atomic_load_n(&in[i], __ATOMIC_RELAXED);
    }
}

/* Any thread. */
void lun_stats_totals_add(struct lun_stats_totals *dst, const struct lun_stats_totals *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *in = (const uint64_t *)src;

    for (size_t i = 0; i < TOTAL_WORDS; i++)
        d[i] += in[i];
}

/* Any thread. */
double lun_stats_percentile_ns(const uint64_t hist[LUN_LAT_BUCKETS], double p)
{
    uint64_t total = 0, cum = 0;
    double rank;

    for (unsigned i = 0; i < LUN_LAT_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return -1;
    if (p > 100)
        p = 100;
    if (p < 0)
        p = 0;
    /* The sample of this rank (1-based, fractional) is the one we report. */
    rank = p / 100.0 * (double)total;
    for (unsigned i = 0; i < LUN_LAT_BUCKETS; i++) {
        double lo, hi;

        if (hist[i] == 0 || (double)(cum + hist[i]) < rank) {
            cum += hist[i];
            continue;
        }
        lo = (double)bucket_lower_ns(i);
        if (i == LUN_LAT_BUCKETS - 1)
            return lo;
        hi = (double)lun_stats_bucket_upper_ns(i);
        return lo + (hi - lo) * ((rank - (double)cum) / (double)hist[i]);
    }
    return -1; /* not reached: rank <= total */
}

/* Any thread. */
const char *lun_stats_op_name(enum lun_op op)
{
    return (unsigned)op < LUN_OP_COUNT ? op_names[op] : "?";
}

/* Any thread. */
const char *lun_stats_lat_name(enum lun_lat_class c)
{
    return (unsigned)c < LUN_LAT_COUNT ? lat_names[c] : "?";
}

/* Any thread. */
const char *lun_stats_tmf_name(enum lun_tmf t)
{
    return (unsigned)t < LUN_TMF_COUNT ? tmf_names[t] : "?";
}

/* Any thread. */
const char *lun_stats_err_name(enum lun_err e)
{
    return (unsigned)e < LUN_ERR_COUNT ? err_names[e] : "?";
}

/*
 * Adds key = value to obj, remembering a failure.  json_object_set_new
 * takes the value even when it fails, so nothing leaks.
 */
static void set(json_t *obj, const char *key, json_t *value, int *failed)
{
    if (!value || json_object_set_new(obj, key, value) != 0)
        *failed = 1;
}

/* Microseconds with ns resolution, or null for "none". */
static json_t *us_or_null(double ns)
{
    if (ns < 0)
        return json_null();
    /* Rounded to whole ns without libm: the daemon does not link it. */
    return json_real((double)(uint64_t)(ns + 0.5) / 1000.0);
}

static json_t *latency_json(const uint64_t hist[LUN_LAT_BUCKETS], int *failed)
{
    json_t *o = json_object(), *buckets = json_array();
    uint64_t count = 0;

    if (!o || !buckets) {
        json_decref(o);
        json_decref(buckets);
        *failed = 1;
        return NULL;
    }
    for (unsigned i = 0; i < LUN_LAT_BUCKETS; i++) {
        uint64_t up = lun_stats_bucket_upper_ns(i);
        json_t *pair = json_pack("[o,I]", up == UINT64_MAX ? json_null() : json_real(up / 1000.0),
                                 (json_int_t)hist[i]);

        if (!pair || json_array_append_new(buckets, pair) != 0)
            *failed = 1;
        count += hist[i];
    }
    set(o, "count", json_integer((json_int_t)count), failed);
    set(o, "p50_us", us_or_null(lun_stats_percentile_ns(hist, 50)), failed);
    set(o, "p90_us", us_or_null(lun_stats_percentile_ns(hist, 90)), failed);
    set(o, "p99_us", us_or_null(lun_stats_percentile_ns(hist, 99)), failed);
    set(o, "buckets", buckets, failed);
    return o;
}

/* Any thread. */
json_t *lun_stats_to_json(const struct lun_stats_totals *t)
{
    json_t *root = json_object(), *ops = json_object(), *errors = json_object();
    json_t *sense = json_object(), *tmf = json_object(), *lat = json_object();
    uint64_t nerr = 0;
    int failed = 0;

    if (!root || !ops || !errors || !sense || !tmf || !lat) {
        json_decref(root);
        json_decref(ops);
        json_decref(errors);
        json_decref(sense);
        json_decref(tmf);
        json_decref(lat);
        return NULL;
    }
    for (unsigned i = 0; i < LUN_OP_COUNT; i++)
        set(ops, op_names[i], json_integer((json_int_t)t->ops[i]), &failed);
    set(root, "ops", ops, &failed);
    set(root, "bytes_read", json_integer((json_int_t)t->bytes_read), &failed);
    set(root, "bytes_written", json_integer((json_int_t)t->bytes_written), &failed);

    for (unsigned i = 0; i < LUN_ERR_COUNT; i++)
        nerr += t->errors[i];
    set(errors, "total", json_integer((json_int_t)nerr), &failed);
    for (unsigned i = 0; i < 16; i++)
        set(sense, err_names[i], json_integer((json_int_t)t->errors[i]), &failed);
    set(errors, "sense_key", sense, &failed);
    for (unsigned i = LUN_ERR_BUSY; i < LUN_ERR_COUNT; i++)
        set(errors, err_names[i], json_integer((json_int_t)t->errors[i]), &failed);
    set(root, "errors", errors, &failed);

    for (unsigned i = 0; i < LUN_TMF_COUNT; i++)
        set(tmf, tmf_names[i], json_integer((json_int_t)t->tmf[i]), &failed);
    set(root, "tmf", tmf, &failed);

    for (unsigned i = 0; i < LUN_LAT_COUNT; i++)
        set(lat, lat_names[i], latency_json(t->lat[i], &failed), &failed);
    set(root, "latency", lat, &failed);

    if (failed) {
        json_decref(root);
        return NULL;
    }
    return root;
}
