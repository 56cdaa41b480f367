/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt mode and adaptive polling, seen from the frontend: how many kicks
 * the daemon asks for.  A QD1 stream of reads from a frontend that spins for
 * each completion resubmits a microsecond or two later.  In interrupt mode
 * (--poll-us 0) the worker sleeps after every request and wants a kick for
 * each; with polling the window covers those gaps and the worker finds the
 * next request itself, so almost no kicks are needed.  A stream whose
 * requests come further apart than a sleep costs is not worth polling for
 * (each caught gap would spin longer than the sleep it saves), even with a
 * maximum of 1000 us: the worker sleeps and wants a kick for almost every
 * request.  What a sleep costs is the worker's own measurement (its CPU, the
 * guest's kick, its wakeup latency: io/poll_window.h), tens of microseconds
 * here, but hundreds on a loaded machine or under ASan: the test reads it
 * from the worker_list RPC while the stream runs and spaces requests well
 * beyond it.  Data must come back right either way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_harness.h"
#include "tests/frontend/fe_rpc.h"

enum { WARMUP = 300, MEASURED = 3000, SAMPLE_EVERY = 100 };
/* qd1_stream's gap: three times what the worker values a sleep at after the warm-up. */
#define GAP_3X_SLEEP UINT64_MAX
/* ...whose warm-up spaces requests this far. */
#define WARMUP_GAP_NS 300000u

struct run {
    uint64_t gap_ns;
    uint64_t kicks;
    uint64_t max_sleep_cost_ns; /* the most the worker valued a sleep at during the stream */
    uint64_t caught, missed;    /* the worker's polled gaps over the whole stream */
};

/* Submit, kick, and spin until the completion is on the used ring. */
static void exec_spinning(struct vus_fe_vq *rq, struct vus_fe_cmd *c, uint8_t *buf)
{
    uint8_t cdb[16];
    struct iovec iov = { buf, 4096 };
    struct timespec t0, now;

    memcpy(cdb, c->cdb, sizeof(cdb));
    memset(c, 0, sizeof(*c));
    memcpy(c->cdb, cdb, sizeof(cdb));
    c->in = &iov;
    c->in_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(rq, c), 0);
    vus_fe_vq_kick(rq);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!vus_fe_cmd_reap(rq)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > T_TIMEOUT / 1000)
            fail_msg("no completion within %d ms", T_TIMEOUT);
    }
}

/* ns of busy waiting: a guest thinking between requests. */
static void think(unsigned ns)
{
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - t0.tv_sec) * 1000000000l + (now.tv_nsec - t0.tv_nsec) < (long)ns);
}

/* The (only) worker's polling, as the worker_list RPC reports it. */
static void worker_poll(struct rpc_cl *cl, uint64_t *sleep_cost_ns, uint64_t *caught,
                        uint64_t *missed)
{
    json_t *list = rpc_ok(cl, "worker_list", NULL);
    json_t *w = json_array_get(list, 0);

    assert_int_equal(json_array_size(list), 1);
    *sleep_cost_ns = (uint64_t)json_integer_value(json_object_get(w, "sleep_cost_ns"));
    *caught = (uint64_t)json_integer_value(json_object_get(w, "polls_caught"));
    *missed = (uint64_t)json_integer_value(json_object_get(w, "polls_missed"));
    assert_true(*sleep_cost_ns > 0);
    json_decref(list);
}

/* A daemon with one ram LUN, its RPC socket, and a frontend on it. */
struct env {
    char rpc_path[64];
    struct daemon d;
    struct rpc_cl cl;
    struct vus_fe *fe;
    struct vus_fe_vq *rq;
    uint8_t *pattern, *buf;
    int switch_to; /* >= 0: worker_set_poll this many us in the middle of the next stream */
};

/* Start it, and write a pattern the streams read back. */
static void env_open(struct env *e, const char *poll_us)
{
    const char *const args[] = { "--lun",        "type=ram,size=4M", "--poll-us", poll_us,
                                 "--rpc-socket", e->rpc_path,        NULL };
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    e->switch_to = -1;
    snprintf(e->rpc_path, sizeof(e->rpc_path), "/tmp/vusfe-poll.%d.rpc", (int)getpid());
    assert_int_equal(daemon_start(&e->d, args), 0);
    assert_int_equal(rpc_cl_connect(&e->cl, e->rpc_path, T_TIMEOUT), 0);
    assert_int_equal(fe_open(&e->d, 1, &e->fe), 0);
    e->rq = vus_fe_vq(e->fe, VIRTIO_SCSI_VQ_REQUEST);
    e->pattern = vus_fe_alloc(e->fe, 8 * 4096, 4096);
    e->buf = vus_fe_alloc(e->fe, 4096, 4096);
    assert_non_null(e->pattern);
    assert_non_null(e->buf);
    clear_ua(e->rq, 0, 0);
    /* Made once: between requests the frontend only compares (well under a microsecond). */
    for (unsigned i = 0; i < 8; i++) {
        fill(e->pattern + i * 4096, 4096, i);
        cdb_rw16(cdb, true, i * 8, 8);
        assert_int_equal(scsi_exec(e->rq, &c, 0, cdb, 16, e->pattern + i * 4096, 4096, 1), 0);
        assert_int_equal(c.status, 0);
    }
}

static void env_close(struct env *e)
{
    rpc_cl_close(&e->cl);
    vus_fe_close(e->fe);
    assert_int_equal(daemon_stop(&e->d), 0);
    unlink(e->rpc_path);
}

/*
 * Read the pattern back MEASURED times at QD1 (after WARMUP reads), checking
 * each read, gap_ns after each completion (or GAP_3X_SLEEP).  Every
 * SAMPLE_EVERY requests the gap is partly spent asking the worker what it
 * values a sleep at.
 */
static void stream(struct env *e, uint64_t gap_ns, struct run *out)
{
    uint64_t cost, caught0 = 0, missed0 = 0, kicks0 = 0;
    bool adapt = gap_ns == GAP_3X_SLEEP;
    struct vus_fe_cmd c;

    if (adapt)
        gap_ns = WARMUP_GAP_NS;
    memset(out, 0, sizeof(*out));
    for (unsigned n = 0; n < WARMUP + MEASURED; n++) {
        unsigned blk = n % 8;
        struct timespec t0, t1;
        uint64_t spent = 0;

        if (n == WARMUP) {
            kicks0 = vus_fe_vq_kicks(e->rq);
            worker_poll(&e->cl, &cost, &caught0, &missed0);
            if (adapt)
                gap_ns = 3 * cost;
        }
        if (n >= WARMUP && n % SAMPLE_EVERY == 0) {
            uint64_t caught, missed;

            clock_gettime(CLOCK_MONOTONIC, &t0);
            worker_poll(&e->cl, &cost, &caught, &missed);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            spent = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000l + (t1.tv_nsec - t0.tv_nsec));
            if (cost > out->max_sleep_cost_ns)
                out->max_sleep_cost_ns = cost;
        }
        if (e->switch_to >= 0 && n == WARMUP + MEASURED / 2) {
            /* No waiting for it: the next request goes out while the worker applies it. */
            json_decref(rpc_okf(&e->cl, "worker_set_poll", "{s:i}", "poll_us", e->switch_to));
            e->switch_to = -1;
        }
        e->buf[0] ^= 0xff; /* a read that moved no data cannot pass */
        think(spent < gap_ns ? (unsigned)(gap_ns - spent) : 0);
        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, false, blk * 8, 8);
        exec_spinning(e->rq, &c, e->buf);
        assert_int_equal(c.status, 0);
        if (memcmp(e->buf, e->pattern + blk * 4096, 4096) != 0)
            fail_msg("read %u of block %u returned other data", n, blk);
    }
    out->kicks = vus_fe_vq_kicks(e->rq) - kicks0;
    out->gap_ns = gap_ns;
    worker_poll(&e->cl, &cost, &out->caught, &out->missed);
    out->caught -= caught0;
    out->missed -= missed0;
    if (cost > out->max_sleep_cost_ns)
        out->max_sleep_cost_ns = cost;
}

/* One daemon, one stream. */
static void qd1_stream(const char *poll_us, uint64_t gap_ns, struct run *out)
{
    struct env e;

    env_open(&e, poll_us);
    stream(&e, gap_ns, out);
    env_close(&e);
}

static void test_interrupt_mode_kicks_every_request(void **state)
{
    struct run r;

    qd1_stream("0", 0, &r);
    print_message("--poll-us 0: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks >= MEASURED * 95 / 100);
}

static void test_polling_needs_almost_no_kicks(void **state)
{
    struct run r;

    qd1_stream("1000", 0, &r);
    print_message("--poll-us 1000: %llu kicks for %u requests; %llu gaps polled and caught, %llu "
                  "missed\n",
                  (unsigned long long)r.kicks, MEASURED, (unsigned long long)r.caught,
                  (unsigned long long)r.missed);
    assert_true(r.kicks <= MEASURED / 10);
    assert_true(r.caught >= MEASURED * 8 / 10); /* what worker_list says agrees */
}

/*
 * Gaps three times what the worker valued a sleep at after the warm-up.  The
 * verdict needs them to have stayed well above that value all along (below
 * 2/3 of the gap at every sample): when the valuation rose close to the gap
 * during the stream (the machine got busy), polling those gaps may have
 * been the right call and the run says nothing.  It is repeated; after RUNS
 * such runs the test is skipped as unmeasurable here, not passed.
 */
static void test_gaps_dearer_than_a_sleep_are_not_polled(void **state)
{
    enum { RUNS = 3 };
    struct run r;

    for (unsigned i = 0; i < RUNS; i++) {
        qd1_stream("1000", GAP_3X_SLEEP, &r);
        print_message("--poll-us 1000, %llu us apart: %llu kicks for %u requests; a sleep valued "
                      "at up to %llu us; %llu gaps polled and caught, %llu missed\n",
                      (unsigned long long)r.gap_ns / 1000, (unsigned long long)r.kicks, MEASURED,
                      (unsigned long long)r.max_sleep_cost_ns / 1000, (unsigned long long)r.caught,
                      (unsigned long long)r.missed);
        if (r.max_sleep_cost_ns * 3 > r.gap_ns * 2)
            continue;
        assert_true(r.kicks >= MEASURED * 9 / 10);
        /* Probes that keep missing back off: a handful in the whole stream. */
        assert_true(r.caught + r.missed <= MEASURED / 100);
        return;
    }
    skip();
}

/* worker_set_poll, then wait until the worker says it applied it. */
static void set_poll(struct env *e, unsigned poll_us)
{
    json_decref(rpc_okf(&e->cl, "worker_set_poll", "{s:i}", "poll_us", (int)poll_us));
    for (unsigned i = 0;; i++) {
        json_t *l = rpc_ok(&e->cl, "worker_list", NULL);
        json_int_t max = json_integer_value(json_object_get(json_array_get(l, 0), "poll_max_ns"));

        json_decref(l);
        if (max == (json_int_t)poll_us * 1000)
            return;
        if (i >= T_TIMEOUT)
            fail_msg("worker_set_poll %u: the worker still says %lld ns", poll_us, (long long)max);
        usleep(1000);
    }
}

/*
 * worker_set_poll switches a running daemon between interrupt mode and
 * polling, both ways, as --poll-us would at start; started in interrupt
 * mode, the worker first measures what a sleep costs.
 */
static void test_polling_switched_at_run_time(void **state)
{
    struct env e;
    struct run r;

    env_open(&e, "0");
    stream(&e, 0, &r);
    print_message("--poll-us 0: %llu kicks for %u requests\n", (unsigned long long)r.kicks,
                  MEASURED);
    assert_true(r.kicks >= MEASURED * 95 / 100);
    set_poll(&e, 1000);
    stream(&e, 0, &r);
    print_message("then worker_set_poll 1000: %llu kicks\n", (unsigned long long)r.kicks);
    assert_true(r.kicks <= MEASURED / 10);
    set_poll(&e, 0);
    stream(&e, 0, &r);
    print_message("then worker_set_poll 0: %llu kicks\n", (unsigned long long)r.kicks);
    assert_true(r.kicks >= MEASURED * 95 / 100);
    assert_int_equal(r.caught + r.missed, 0);
    /*
     * Switched while requests keep coming, both ways, ten times: the worker
     * turns kicks back on as it stops polling, or a request would wait for
     * a kick the guest was told not to send.
     */
    for (unsigned i = 0; i < 10; i++) {
        e.switch_to = i % 2 ? 0 : 1000;
        stream(&e, 0, &r);
    }
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_mode_kicks_every_request),
        cmocka_unit_test(test_polling_needs_almost_no_kicks),
        cmocka_unit_test(test_gaps_dearer_than_a_sleep_are_not_polled),
        cmocka_unit_test(test_polling_switched_at_run_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
