/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-LUN statistics, always on.
 *
 * Workers count every completed command of a LUN: per operation, bytes, errors
 * by sense key and status, task management functions, and a latency histogram
 * per operation class.  The data path takes no lock and does no atomic
 * read-modify-write on shared memory: a LUN's stats object holds one slot per
 * worker (plus one for the control thread), each on its own cache lines, and
 * a slot is only ever written by the thread that owns it.  Readers (the RPC
 * thread) sum the slots.
 *
 * Torn values: every counter is a uint64_t written with a relaxed atomic
 * store (its single writer loads it, adds, stores: two plain instructions on
 * 64-bit machines, no lock prefix) and read with a relaxed atomic load.  A
 * relaxed atomic access is single-copy atomic, so a reader never sees half of
 * an update on any platform where 64-bit atomics are lock-free (checked at
 * compile time; i386 and armv7 qualify).  Per-location coherence means two
 * successive reads of one counter never go backwards, so neither does a sum
 * of slots.  What a reader may see is a command counted in `ops` but not yet
 * in its histogram bucket: totals are consistent per counter, not across
 * counters.  A per-slot seqcount would give whole-slot snapshots but costs the
 * writer two more ordered stores per command and the reader retries; nobody
 * needs statistics that are exact across counters at an instant.
 *
 * Threads: lun_stats_new/free by the owner of the LUN (control thread), with
 * no writer running; lun_stats_complete/lun_stats_tmf by the one thread that
 * owns slot w at the time (slot ownership may move between threads only
 * across a synchronising operation such as a worker pause); lun_stats_read and
 * everything on struct lun_stats_totals by any thread.
 */
#ifndef VUS_STATS_LUN_STATS_H
#define VUS_STATS_LUN_STATS_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* Workers a stats object can have slots for (plus the control slot). */
#define LUN_STATS_MAX_WORKERS 64

/* Completed commands, by what they did to the medium. */
enum lun_op {
    LUN_OP_READ,         /* READ(6/10/12/16) */
    LUN_OP_WRITE,        /* WRITE(6/10/12/16) */
    LUN_OP_UNMAP,        /* UNMAP, WRITE SAME with the UNMAP bit */
    LUN_OP_WRITE_ZEROES, /* WRITE SAME of zeroes without UNMAP */
    LUN_OP_FLUSH,        /* SYNCHRONIZE CACHE */
    LUN_OP_VERIFY,       /* VERIFY */
    LUN_OP_OTHER,        /* everything else: INQUIRY, TEST UNIT READY, ... */
    LUN_OP_COUNT
};

/*
 * Latency classes, one histogram each.  Write zeroes goes with unmap (both
 * are provisioning commands whose time is the backend's discard or zeroing
 * path, not data through guest buffers), verify with other.
 */
enum lun_lat_class {
    LUN_LAT_READ,
    LUN_LAT_WRITE,
    LUN_LAT_FLUSH,
    LUN_LAT_UNMAP,
    LUN_LAT_OTHER,
    LUN_LAT_COUNT
};

/*
 * Task management functions, in the order of the virtio-scsi TMF subtypes
 * (VIRTIO_SCSI_T_TMF_ABORT_TASK = 0 ... QUERY_TASK_SET = 7), so a known
 * subtype converts by a cast; anything else is LUN_TMF_OTHER.
 */
enum lun_tmf {
    LUN_TMF_ABORT_TASK,
    LUN_TMF_ABORT_TASK_SET,
    LUN_TMF_CLEAR_ACA,
    LUN_TMF_CLEAR_TASK_SET,
    LUN_TMF_I_T_NEXUS_RESET,
    LUN_TMF_LUN_RESET,
    LUN_TMF_QUERY_TASK,
    LUN_TMF_QUERY_TASK_SET,
    LUN_TMF_OTHER,
    LUN_TMF_COUNT
};

/* SCSI status bytes (SAM-5) the statistics tell apart. */
#define LUN_STATUS_GOOD                 0x00
#define LUN_STATUS_CHECK_CONDITION      0x02
#define LUN_STATUS_CONDITION_MET        0x04
#define LUN_STATUS_BUSY                 0x08
#define LUN_STATUS_RESERVATION_CONFLICT 0x18
#define LUN_STATUS_TASK_SET_FULL        0x28
#define LUN_STATUS_TASK_ABORTED         0x40

/*
 * Error classes: CHECK CONDITION by sense key (0..15), then the other
 * statuses that are not GOOD or CONDITION MET.  A task answered
 * VIRTIO_SCSI_S_ABORTED (or any other transport failure that reached a LUN)
 * is passed as LUN_STATUS_TASK_ABORTED.
 */
enum lun_err {
    LUN_ERR_SENSE_KEY_0 = 0, /* ... LUN_ERR_SENSE_KEY_0 + 15 */
    LUN_ERR_BUSY = 16,
    LUN_ERR_TASK_SET_FULL,
    LUN_ERR_RESERVATION_CONFLICT,
    LUN_ERR_TASK_ABORTED,
    LUN_ERR_OTHER_STATUS,
    LUN_ERR_COUNT
};

/*
 * Latency buckets: bucket 0 holds [0, 2^10) ns, bucket i (1..24) holds
 * [2^(9+i), 2^(10+i)) ns, so the last finite one ends at 2^34 ns (17.2 s);
 * bucket 25 holds everything slower.  Powers of two make the bucket one
 * count-leading-zeros away from the latency.
 */
#define LUN_LAT_MIN_SHIFT 10
#define LUN_LAT_MAX_SHIFT 34
#define LUN_LAT_BUCKETS   (LUN_LAT_MAX_SHIFT - LUN_LAT_MIN_SHIFT + 2)

/* A sum of all slots; plain numbers, owned by whoever made it. */
struct lun_stats_totals {
    uint64_t ops[LUN_OP_COUNT];
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t errors[LUN_ERR_COUNT];
    uint64_t tmf[LUN_TMF_COUNT];
    uint64_t lat[LUN_LAT_COUNT][LUN_LAT_BUCKETS];
};

struct lun_stats;

/*
 * A stats object with slots 0..nworkers-1 for the workers and slot nworkers
 * (LUN_STATS_CONTROL_SLOT) for the control thread.  nworkers is 1..64;
 * returns NULL (errno EINVAL or ENOMEM) otherwise.  Control thread.
 */
struct lun_stats *lun_stats_new(unsigned nworkers);
/* No writer may be running.  Control thread.  NULL is fine. */
void lun_stats_free(struct lun_stats *s);
/* The slot the control thread writes (TMFs, commands it completes). */
unsigned lun_stats_control_slot(const struct lun_stats *s);

/*
 * One completed command, counted in slot w: op, bytes moved (read for
 * LUN_OP_READ, written for LUN_OP_WRITE; ignored for the others, which move
 * no guest data to or from the medium), latency from submission to
 * completion in ns, SCSI status, and the sense key (only looked at with
 * CHECK CONDITION).  Failed commands count in ops and latency too.  The
 * thread owning slot w; w out of range is ignored rather than trusted.
 */
void lun_stats_complete(struct lun_stats *s, unsigned w, enum lun_op op, uint64_t bytes,
                        uint64_t lat_ns, uint8_t status, uint8_t sense_key);
/* One TMF received for this LUN, counted in slot w.  The thread owning w. */
void lun_stats_tmf(struct lun_stats *s, unsigned w, enum lun_tmf kind);

/* Sum of all slots into *out (overwritten).  Any thread. */
void lun_stats_read(const struct lun_stats *s, struct lun_stats_totals *out);
/* dst += src, for per-controller totals.  Any thread. */
void lun_stats_totals_add(struct lun_stats_totals *dst, const struct lun_stats_totals *src);

/* The latency class of an operation.  Any thread. */
enum lun_lat_class lun_stats_lat_class(enum lun_op op);
/* The bucket a latency falls into (0..LUN_LAT_BUCKETS-1).  Any thread. */
unsigned lun_stats_bucket(uint64_t lat_ns);
/* Upper bound of a bucket in ns (exclusive); UINT64_MAX for the last. */
uint64_t lun_stats_bucket_upper_ns(unsigned bucket);
/*
 * The p-th percentile (0 < p <= 100) of a histogram in ns, interpolated
 * linearly inside the bucket holding it; a percentile in the overflow bucket
 * reports its lower bound (2^34 ns).  -1 when the histogram is empty.  Any
 * thread.
 */
double lun_stats_percentile_ns(const uint64_t hist[LUN_LAT_BUCKETS], double p);

/* Names used in the JSON: "read", "abort_task", "illegal_request", ... */
const char *lun_stats_op_name(enum lun_op op);
const char *lun_stats_lat_name(enum lun_lat_class c);
const char *lun_stats_tmf_name(enum lun_tmf t);
const char *lun_stats_err_name(enum lun_err e);

/*
 * The totals as a new JSON object (NULL on allocation failure).  Any thread.
 * Every key is always present, so a script sees the same shape for an idle
 * LUN as for a busy one:
 *
 *   {"ops": {"read": N, "write": N, "unmap": N, "write_zeroes": N,
 *            "flush": N, "verify": N, "other": N},
 *    "bytes_read": N, "bytes_written": N,
 *    "errors": {"total": N,
 *               "sense_key": {"no_sense": N, "recovered_error": N,
 *                             "not_ready": N, "medium_error": N,
 *                             "hardware_error": N, "illegal_request": N,
 *                             "unit_attention": N, "data_protect": N,
 *                             "blank_check": N, "vendor_specific": N,
 *                             "copy_aborted": N, "aborted_command": N,
 *                             "reserved_0c": N, "volume_overflow": N,
 *                             "miscompare": N, "completed": N},
 *               "busy": N, "task_set_full": N, "reservation_conflict": N,
 *               "task_aborted": N, "other_status": N},
 *    "tmf": {"abort_task": N, "abort_task_set": N, "clear_aca": N,
 *            "clear_task_set": N, "i_t_nexus_reset": N, "lun_reset": N,
 *            "query_task": N, "query_task_set": N, "other": N},
 *    "latency": {"read": {"count": N, "p50_us": X, "p90_us": X, "p99_us": X,
 *                         "buckets": [[UPPER_US, N], ..., [null, N]]},
 *                "write": ..., "flush": ..., "unmap": ..., "other": ...}}
 *
 * N are integers.  X are microseconds (reals, ns resolution), null when the
 * class has no samples.  "buckets" lists all 26 buckets in order; UPPER_US is
 * the exclusive upper bound 2^k ns in microseconds (1.024, 2.048, ...,
 * 17179869.184), null for the overflow bucket.
 */
json_t *lun_stats_to_json(const struct lun_stats_totals *t);

/*
 * The clock for latencies: CLOCK_MONOTONIC in ns.  Through the vDSO this is
 * about 20 ns (docs/testing.md has the measured cost), ~40 ns here.  The
 * daemon's workers read it once per batch (io_loop_clock), not per
 * request; this is for callers without a loop.  Any thread.
 */
static inline uint64_t lun_stats_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
