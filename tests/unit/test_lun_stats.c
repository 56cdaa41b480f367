/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-LUN statistics: exact sums after concurrent writers, monotonic reads
 * while they run, bucket boundaries, percentiles, the JSON shape, and the
 * cost per counted command (printed, not asserted: the machine is shared).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/lun_stats.h"

static void test_new_checks_worker_count(void **state)
{
    struct lun_stats *s;

    errno = 0;
    assert_null(lun_stats_new(0));
    assert_int_equal(errno, EINVAL);
    assert_null(lun_stats_new(LUN_STATS_MAX_WORKERS + 1));
    s = lun_stats_new(LUN_STATS_MAX_WORKERS);
    assert_non_null(s);
    assert_int_equal(lun_stats_control_slot(s), LUN_STATS_MAX_WORKERS);
    lun_stats_free(s);
    s = lun_stats_new(3);
    assert_int_equal(lun_stats_control_slot(s), 3);
    lun_stats_free(s);
    lun_stats_free(NULL);
}

static void test_counts_ops_bytes_errors_tmfs(void **state)
{
    struct lun_stats *s = lun_stats_new(2);
    struct lun_stats_totals t;
    unsigned ctl = lun_stats_control_slot(s);

    lun_stats_complete(s, 0, LUN_OP_READ, 4096, 1500, LUN_STATUS_GOOD, 0);
    lun_stats_complete(s, 1, LUN_OP_READ, 512, 100, LUN_STATUS_GOOD, 0);
    lun_stats_complete(s, 1, LUN_OP_WRITE, 8192, 3000, LUN_STATUS_GOOD, 0);
    /* Bytes count only for reads and writes. */
    lun_stats_complete(s, 0, LUN_OP_UNMAP, 1 << 20, 100, LUN_STATUS_GOOD, 0);
    lun_stats_complete(s, 0, LUN_OP_WRITE_ZEROES, 1 << 20, 100, LUN_STATUS_GOOD, 0);
    lun_stats_complete(s, 0, LUN_OP_VERIFY, 4096, 100, LUN_STATUS_CONDITION_MET, 0);
    lun_stats_complete(s, 0, LUN_OP_FLUSH, 0, 5000000, LUN_STATUS_CHECK_CONDITION, 0x3);
    lun_stats_complete(s, 1, LUN_OP_OTHER, 0, 10, LUN_STATUS_CHECK_CONDITION, 0x5);
    /* The sense key only counts with CHECK CONDITION; high bits ignored. */
    lun_stats_complete(s, 1, LUN_OP_OTHER, 0, 10, LUN_STATUS_CHECK_CONDITION, 0xf6);
    lun_stats_complete(s, 1, LUN_OP_WRITE, 0, 10, LUN_STATUS_BUSY, 0x5);
    lun_stats_complete(s, 1, LUN_OP_WRITE, 0, 10, LUN_STATUS_TASK_SET_FULL, 0);
    lun_stats_complete(s, 1, LUN_OP_WRITE, 0, 10, LUN_STATUS_RESERVATION_CONFLICT, 0);
    lun_stats_complete(s, ctl, LUN_OP_READ, 0, 10, LUN_STATUS_TASK_ABORTED, 0);
    lun_stats_complete(s, 0, LUN_OP_READ, 0, 10, 0x30 /* ACA ACTIVE */, 0);
    lun_stats_tmf(s, ctl, LUN_TMF_ABORT_TASK);
    lun_stats_tmf(s, ctl, LUN_TMF_LUN_RESET);
    lun_stats_tmf(s, 0, LUN_TMF_LUN_RESET);
    lun_stats_tmf(s, ctl, (enum lun_tmf)42);
    /* Out-of-range slots and ops are dropped, not written out of bounds. */
    lun_stats_complete(s, ctl + 1, LUN_OP_READ, 1, 1, 0, 0);
    lun_stats_complete(s, 0, LUN_OP_COUNT, 1, 1, 0, 0);
    lun_stats_tmf(s, ctl + 1, LUN_TMF_ABORT_TASK);

    lun_stats_read(s, &t);
    assert_int_equal(t.ops[LUN_OP_READ], 4);
    assert_int_equal(t.ops[LUN_OP_WRITE], 4);
    assert_int_equal(t.ops[LUN_OP_UNMAP], 1);
    assert_int_equal(t.ops[LUN_OP_WRITE_ZEROES], 1);
    assert_int_equal(t.ops[LUN_OP_FLUSH], 1);
    assert_int_equal(t.ops[LUN_OP_VERIFY], 1);
    assert_int_equal(t.ops[LUN_OP_OTHER], 2);
    assert_int_equal(t.bytes_read, 4608);
    assert_int_equal(t.bytes_written, 8192);
    assert_int_equal(t.errors[LUN_ERR_SENSE_KEY_0 + 3], 1);
    assert_int_equal(t.errors[LUN_ERR_SENSE_KEY_0 + 5], 1);
    assert_int_equal(t.errors[LUN_ERR_SENSE_KEY_0 + 6], 1);
    assert_int_equal(t.errors[LUN_ERR_BUSY], 1);
    assert_int_equal(t.errors[LUN_ERR_TASK_SET_FULL], 1);
    assert_int_equal(t.errors[LUN_ERR_RESERVATION_CONFLICT], 1);
    assert_int_equal(t.errors[LUN_ERR_TASK_ABORTED], 1);
    assert_int_equal(t.errors[LUN_ERR_OTHER_STATUS], 1);
    uint64_t nerr = 0;
    for (unsigned i = 0; i < LUN_ERR_COUNT; i++)
        nerr += t.errors[i];
    assert_int_equal(nerr, 8);
    assert_int_equal(t.tmf[LUN_TMF_ABORT_TASK], 1);
    assert_int_equal(t.tmf[LUN_TMF_LUN_RESET], 2);
    assert_int_equal(t.tmf[LUN_TMF_OTHER], 1);
    /* Latency classes: write zeroes with unmap, verify with other. */
    assert_int_equal(t.lat[LUN_LAT_READ][0], 3);
    assert_int_equal(t.lat[LUN_LAT_READ][1], 1); /* 1500 ns */
    assert_int_equal(t.lat[LUN_LAT_UNMAP][0], 2);
    assert_int_equal(t.lat[LUN_LAT_OTHER][0], 3);
    assert_int_equal(t.lat[LUN_LAT_FLUSH][lun_stats_bucket(5000000)], 1);
    assert_int_equal(t.lat[LUN_LAT_WRITE][2], 1); /* 3000 ns */
    assert_int_equal(t.lat[LUN_LAT_WRITE][0], 3);
    lun_stats_free(s);
}

static void test_bucket_boundaries(void **state)
{
    assert_int_equal(LUN_LAT_BUCKETS, 26);
    assert_int_equal(lun_stats_bucket(0), 0);
    assert_int_equal(lun_stats_bucket(1023), 0);
    assert_int_equal(lun_stats_bucket(1024), 1);
    assert_int_equal(lun_stats_bucket(2047), 1);
    assert_int_equal(lun_stats_bucket(2048), 2);
    /* Every finite bucket i holds [upper(i-1), upper(i)). */
    for (unsigned i = 1; i < LUN_LAT_BUCKETS - 1; i++) {
        uint64_t lo = lun_stats_bucket_upper_ns(i - 1), hi = lun_stats_bucket_upper_ns(i);

        assert_int_equal(hi, 2 * lo);
        assert_int_equal(lun_stats_bucket(lo - 1), i - 1);
        assert_int_equal(lun_stats_bucket(lo), i);
        assert_int_equal(lun_stats_bucket(hi - 1), i);
        assert_int_equal(lun_stats_bucket(hi), i + 1);
    }
    assert_int_equal(lun_stats_bucket_upper_ns(0), 1024);
    assert_int_equal(lun_stats_bucket_upper_ns(24), 1ull << 34);
    assert_int_equal(lun_stats_bucket_upper_ns(25), UINT64_MAX);
    assert_int_equal(lun_stats_bucket((1ull << 34) - 1), 24);
    assert_int_equal(lun_stats_bucket(1ull << 34), 25);
    assert_int_equal(lun_stats_bucket(UINT64_MAX), 25);
}

static void test_percentiles(void **state)
{
    uint64_t h[LUN_LAT_BUCKETS] = { 0 };

    assert_true(lun_stats_percentile_ns(h, 50) < 0);
    /* One sample in [1024, 2048): the median is the middle of the bucket. */
    h[1] = 1;
    assert_true(lun_stats_percentile_ns(h, 50) == 1536.0);
    assert_true(lun_stats_percentile_ns(h, 100) == 2048.0);
    /* 90 fast, 10 slow: p50 and p90 in the fast bucket, p99 in the slow. */
    memset(h, 0, sizeof(h));
    h[1] = 90;
    h[10] = 10; /* [2^19, 2^20) */
    assert_true(lun_stats_percentile_ns(h, 50) == 1024.0 + 1024.0 * 50 / 90);
    assert_true(lun_stats_percentile_ns(h, 90) == 2048.0);
    assert_true(lun_stats_percentile_ns(h, 99) == 524288.0 + 524288.0 * 0.9);
    /* Empty buckets between are skipped, bucket 0 starts at 0. */
    memset(h, 0, sizeof(h));
    h[0] = 4;
    assert_true(lun_stats_percentile_ns(h, 25) == 256.0);
    /* The overflow bucket reports its lower bound: there is no upper one. */
    memset(h, 0, sizeof(h));
    h[LUN_LAT_BUCKETS - 1] = 3;
    assert_true(lun_stats_percentile_ns(h, 99) == (double)(1ull << 34));
}

static void test_totals_add(void **state)
{
    struct lun_stats *a = lun_stats_new(1), *b = lun_stats_new(4);
    struct lun_stats_totals ta, tb;

    lun_stats_complete(a, 0, LUN_OP_READ, 100, 5000, 0, 0);
    lun_stats_complete(b, 3, LUN_OP_READ, 50, 5000, LUN_STATUS_CHECK_CONDITION, 3);
    lun_stats_tmf(b, 4, LUN_TMF_QUERY_TASK);
    lun_stats_read(a, &ta);
    lun_stats_read(b, &tb);
    lun_stats_totals_add(&ta, &tb);
    assert_int_equal(ta.ops[LUN_OP_READ], 2);
    assert_int_equal(ta.bytes_read, 150);
    assert_int_equal(ta.errors[3], 1);
    assert_int_equal(ta.tmf[LUN_TMF_QUERY_TASK], 1);
    assert_int_equal(ta.lat[LUN_LAT_READ][lun_stats_bucket(5000)], 2);
    lun_stats_free(a);
    lun_stats_free(b);
}

/* ---- concurrency ---- */

#define WRITERS    4
#define PER_WRITER 200000

struct writer {
    struct lun_stats *s;
    unsigned slot;
    pthread_barrier_t *start;
};

/* Each writer's command i is a function of i alone, so sums are known. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;

    pthread_barrier_wait(w->start);
    for (uint64_t i = 0; i < PER_WRITER; i++) {
        enum lun_op op = (enum lun_op)(i % LUN_OP_COUNT);

        lun_stats_complete(w->s, w->slot, op, 512, i * 7919 % (1u << 22),
                           i % 5 == 0 ? LUN_STATUS_CHECK_CONDITION : 0, (uint8_t)(i % 16));
        if (i % 100 == 0)
            lun_stats_tmf(w->s, w->slot, (enum lun_tmf)(i / 100 % LUN_TMF_COUNT));
    }
    return NULL;
}

struct reader {
    struct lun_stats *s;
    volatile int *stop;
    unsigned long reads, decreases;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    static struct lun_stats_totals prev, cur;
    const uint64_t *p = (const uint64_t *)&prev, *c = (const uint64_t *)&cur;

    memset(&prev, 0, sizeof(prev));
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        lun_stats_read(r->s, &cur);
        for (size_t i = 0; i < sizeof(cur) / sizeof(uint64_t); i++)
            if (c[i] < p[i])
                r->decreases++;
        prev = cur;
        r->reads++;
    }
    return NULL;
}

static void test_concurrent_writers_sum_exactly_and_readers_never_go_back(void **state)
{
    struct lun_stats *s = lun_stats_new(WRITERS - 1); /* the last writer uses the control slot */
    pthread_barrier_t start;
    pthread_t wt[WRITERS], rt;
    struct writer w[WRITERS];
    volatile int stop = 0;
    struct reader r = { .s = s, .stop = &stop };
    struct lun_stats_totals t, expect;

    pthread_barrier_init(&start, NULL, WRITERS + 1);
    assert_int_equal(pthread_create(&rt, NULL, reader_main, &r), 0);
    for (unsigned i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){ .s = s, .slot = i, .start = &start };
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &w[i]), 0);
    }
    pthread_barrier_wait(&start);
    for (unsigned i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(rt, NULL);
    pthread_barrier_destroy(&start);

    /* The same commands counted by one thread into a fresh object. */
    struct lun_stats *ref = lun_stats_new(1);
    for (unsigned k = 0; k < WRITERS; k++) {
        struct writer one = { .s = ref, .slot = 0 };
        pthread_barrier_t b;

        pthread_barrier_init(&b, NULL, 1);
        one.start = &b;
        writer_main(&one);
        pthread_barrier_destroy(&b);
    }
    lun_stats_read(s, &t);
    lun_stats_read(ref, &expect);
    assert_memory_equal(&t, &expect, sizeof(t));
    assert_int_equal(t.bytes_read, (uint64_t)WRITERS * 512 * ((PER_WRITER + 6) / 7));
    uint64_t all = 0;
    for (unsigned i = 0; i < LUN_OP_COUNT; i++)
        all += t.ops[i];
    assert_int_equal(all, (uint64_t)WRITERS * PER_WRITER);
    printf("    reader: %lu sums taken while %d writers ran, 0 decreases expected, %lu seen\n",
           r.reads, WRITERS, r.decreases);
    assert_int_equal(r.decreases, 0);
    assert_true(r.reads > 0);
    lun_stats_free(s);
    lun_stats_free(ref);
}

/* ---- JSON ---- */

static void test_json_shape(void **state)
{
    struct lun_stats *s = lun_stats_new(1);
    struct lun_stats_totals t;
    json_t *j, *lat, *b;

    lun_stats_complete(s, 0, LUN_OP_READ, 4096, 1500, 0, 0);
    lun_stats_complete(s, 0, LUN_OP_WRITE, 512, 1ull << 40, LUN_STATUS_CHECK_CONDITION, 0xb);
    lun_stats_tmf(s, 1, LUN_TMF_I_T_NEXUS_RESET);
    lun_stats_read(s, &t);
    j = lun_stats_to_json(&t);
    assert_non_null(j);

    assert_int_equal(json_object_size(json_object_get(j, "ops")), LUN_OP_COUNT);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "ops"), "read")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "ops"), "write_zeroes")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_read")), 4096);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_written")), 512);
    json_t *err = json_object_get(j, "errors");
    assert_int_equal(json_integer_value(json_object_get(err, "total")), 1);
    json_t *sk = json_object_get(err, "sense_key");
    assert_int_equal(json_object_size(sk), 16);
    assert_int_equal(json_integer_value(json_object_get(sk, "aborted_command")), 1);
    assert_int_equal(json_integer_value(json_object_get(sk, "illegal_request")), 0);
    assert_non_null(json_object_get(sk, "completed"));
    for (const char *const *k =
             (const char *const[]){ "busy", "task_set_full", "reservation_conflict", "task_aborted",
                                    "other_status", NULL };
         *k; k++)
        assert_true(json_is_integer(json_object_get(err, *k)));
    json_t *tmf = json_object_get(j, "tmf");
    assert_int_equal(json_object_size(tmf), LUN_TMF_COUNT);
    assert_int_equal(json_integer_value(json_object_get(tmf, "i_t_nexus_reset")), 1);
    assert_int_equal(json_integer_value(json_object_get(tmf, "lun_reset")), 0);

    lat = json_object_get(j, "latency");
    assert_int_equal(json_object_size(lat), LUN_LAT_COUNT);
    for (unsigned c = 0; c < LUN_LAT_COUNT; c++) {
        json_t *one = json_object_get(lat, lun_stats_lat_name(c));

        assert_non_null(one);
        b = json_object_get(one, "buckets");
        assert_int_equal(json_array_size(b), LUN_LAT_BUCKETS);
        assert_true(json_real_value(json_array_get(json_array_get(b, 0), 0)) == 1.024);
        assert_true(json_real_value(json_array_get(json_array_get(b, 24), 0)) == 17179869.184);
        assert_true(json_is_null(json_array_get(json_array_get(b, 25), 0)));
    }
    json_t *rd = json_object_get(lat, "read");
    assert_int_equal(json_integer_value(json_object_get(rd, "count")), 1);
    assert_true(json_real_value(json_object_get(rd, "p50_us")) == 1.536);
    assert_int_equal(
        json_integer_value(json_array_get(json_array_get(json_object_get(rd, "buckets"), 1), 1)),
        1);
    json_t *wr = json_object_get(lat, "write");
    assert_true(json_real_value(json_object_get(wr, "p99_us")) == 17179869.184);
    assert_int_equal(
        json_integer_value(json_array_get(json_array_get(json_object_get(wr, "buckets"), 25), 1)),
        1);
    json_t *fl = json_object_get(lat, "flush");
    assert_int_equal(json_integer_value(json_object_get(fl, "count")), 0);
    assert_true(json_is_null(json_object_get(fl, "p50_us")));
    assert_true(json_is_null(json_object_get(fl, "p99_us")));

    /* It serialises (no NaN or infinity slipped in). */
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"p50_us\":1.536"));
    free(text);
    json_decref(j);
    lun_stats_free(s);
}

/* ---- cost ---- */

/*
 * Each measurement runs for a fixed wall time, so two threads overlap for
 * most of it (with a fixed count, a thread could finish inside one time
 * slice before the other starts).  Cost = the thread's CPU time / calls: the
 * machine is shared, and wall time would count the slices other processes
 * took; stalls on cache lines other cores own still count.
 */
#define BENCH_NS    250000000ull
#define BENCH_CHUNK 4096u

struct bench {
    struct lun_stats *s; /* NULL: the shared atomic counter instead */
    unsigned slot;
    pthread_barrier_t *start;
    volatile int *stop;
    double ns_per_call;
};

static double cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* What the design avoids: one counter all workers add to atomically. */
static uint64_t shared_counter;

static void *bench_main(void *arg)
{
    struct bench *b = arg;
    uint64_t calls = 0;
    double t0;

    pthread_barrier_wait(b->start);
    t0 = cpu_ns();
    while (!__atomic_load_n(b->stop, __ATOMIC_RELAXED)) {
        if (b->s) {
            for (unsigned i = 0; i < BENCH_CHUNK; i++)
                lun_stats_complete(b->s, b->slot, (enum lun_op)(i & 1), 4096, 20000 + (i & 0xfff),
                                   0, 0);
        } else {
            for (unsigned i = 0; i < BENCH_CHUNK; i++)
                __atomic_fetch_add(&shared_counter, 1, __ATOMIC_RELAXED);
        }
        calls += BENCH_CHUNK;
    }
    b->ns_per_call = (cpu_ns() - t0) / (double)calls;
    return NULL;
}

/* n threads (1 or 2) on the given stats objects and slots; mean ns/call. */
static double bench_run(unsigned n, struct lun_stats *s0, unsigned slot0, struct lun_stats *s1,
                        unsigned slot1)
{
    pthread_barrier_t start;
    volatile int stop = 0;
    struct bench b[2] = { { .s = s0, .slot = slot0, .start = &start, .stop = &stop },
                          { .s = s1, .slot = slot1, .start = &start, .stop = &stop } };
    pthread_t t[2];
    struct timespec wait = { .tv_sec = 0, .tv_nsec = BENCH_NS };
    double sum = 0;

    pthread_barrier_init(&start, NULL, n + 1);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bench_main, &b[i]), 0);
    pthread_barrier_wait(&start);
    nanosleep(&wait, NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        sum += b[i].ns_per_call;
    }
    pthread_barrier_destroy(&start);
    return sum / n;
}

static double bench_clock(clockid_t id)
{
    struct timespec ts;
    double t0 = cpu_ns();

    for (unsigned i = 0; i < 1000000; i++)
        clock_gettime(id, &ts);
    return (cpu_ns() - t0) / 1000000;
}

static void test_cost_per_command(void **state)
{
    struct lun_stats *a = lun_stats_new(2), *b = lun_stats_new(2);
    double single = bench_run(1, a, 0, NULL, 0);
    double diff_luns = bench_run(2, a, 0, b, 0);
    double same_lun = bench_run(2, a, 0, a, 1);
    double shared = bench_run(2, NULL, 0, NULL, 0);

    printf("    lun_stats_complete: %.1f ns/call (1 thread), %.1f (2 threads, 2 LUNs), "
           "%.1f (2 threads, 1 LUN)\n",
           single, diff_luns, same_lun);
    printf("    for comparison: one shared counter with atomic add, 2 threads: %.1f ns/add\n",
           shared);
    printf("    clock_gettime: CLOCK_MONOTONIC %.1f ns, CLOCK_MONOTONIC_COARSE %.1f ns\n",
           bench_clock(CLOCK_MONOTONIC), bench_clock(CLOCK_MONOTONIC_COARSE));
    lun_stats_free(a);
    lun_stats_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_checks_worker_count),
        cmocka_unit_test(test_counts_ops_bytes_errors_tmfs),
        cmocka_unit_test(test_bucket_boundaries),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_totals_add),
        cmocka_unit_test(test_concurrent_writers_sum_exactly_and_readers_never_go_back),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_cost_per_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
