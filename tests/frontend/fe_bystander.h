/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For the malicious-frontend tests: a victim daemon that the tests abuse, and
 * a bystander daemon (a second controller) that a well-behaved frontend
 * thread keeps writing and verifying for the whole run.  The bystander must
 * see no error and make progress; the victim must stay up, keep its fds
 * balanced and serve a fresh, well-behaved connection after each abuse.
 */
#ifndef VUS_TESTS_FRONTEND_FE_BYSTANDER_H
#define VUS_TESTS_FRONTEND_FE_BYSTANDER_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tests/frontend/fe_harness.h"

static struct daemon victim, bystander;
static pthread_t by_thread;
static atomic_bool by_stop;
static atomic_uint by_rounds, by_errors;
static int victim_fds;

static void *bystander_main(void *arg)
{
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    (void)arg;
    if (fe_open(&bystander, 2, &fe) < 0) {
        atomic_fetch_add(&by_errors, 1);
        return NULL;
    }
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    for (unsigned q = 0; q < 2; q++) {
        memset(&c, 0, sizeof(c));
        vus_fe_cmd_exec(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + q), &c, T_TIMEOUT); /* the UA */
    }
    for (unsigned i = 0; !atomic_load(&by_stop); i++) {
        struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + i % 2);
        uint64_t lba = (i % 64) * 128;
        for (unsigned k = 0; k < 65536; k++)
            w[k] = (uint8_t)(k + i * 31);
        cdb_rw16(cdb, true, lba, 128);
        int e1 = scsi_exec(vq, &c, 0, cdb, 16, w, 65536, 1);
        bool ok = e1 == 0 && c.response == 0 && c.status == 0;
        cdb_rw16(cdb, false, lba, 128);
        memset(r, 0, 65536);
        int e2 = scsi_exec(vq, &c, 0, cdb, 16, r, 65536, 2);
        ok = ok && e2 == 0 && c.response == 0 && c.status == 0 && !memcmp(w, r, 65536);
        if (!ok) {
            fprintf(stderr, "bystander: round %u failed (%d %d resp %u status %u)\n", i, e1, e2,
                    c.response, c.status);
            atomic_fetch_add(&by_errors, 1);
            break;
        }
        atomic_fetch_add(&by_rounds, 1);
        usleep(2000);
    }
    vus_fe_close(fe);
    return NULL;
}

static int count_fds(pid_t pid)
{
    char path[64];
    struct dirent *de;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The victim, idle between connections, holds exactly its baseline of fds. */
static bool victim_fds_balanced(void)
{
    int n = -1;

    for (int i = 0; i < 200; i++) {
        n = count_fds(victim.pid);
        if (n == victim_fds)
            return true;
        usleep(10000);
    }
    fprintf(stderr, "victim holds %d fds, %d when idle before\n", n, victim_fds);
    return false;
}

/* A fresh, well-behaved connection to the victim writes and reads back data. */
static void victim_serves(unsigned nreq)
{
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    assert_true(daemon_alive(&victim));
    assert_int_equal(fe_open(&victim, nreq, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + nreq - 1);
    uint8_t *b = vus_fe_alloc(fe, 8192, 4096);
    for (unsigned i = 0; i < 2048; i++)
        b[i] = (uint8_t)(i ^ 0x5a);
    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
        if (c.status == 0)
            break;
    }
    cdb_rw16(cdb, true, 4000, 4);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, b, 2048, 1), 0);
    assert_int_equal(c.status, 0);
    cdb_rw16(cdb, false, 4000, 4);
    assert_int_equal(scsi_exec(vq, &c, 0, cdb, 16, b + 4096, 2048, 2), 0);
    assert_int_equal(c.status, 0);
    assert_memory_equal(b, b + 4096, 2048);
    vus_fe_close(fe);
}

static int abuse_group_setup(void **state)
{
    static const char *const vargs[] = { "--lun", "type=ram,size=16M", "--threads", "2", NULL };
    static const char *const bargs[] = { "--lun", "type=ram,size=8M", "--threads", "2", NULL };

    if (daemon_start(&victim, vargs) < 0 || daemon_start(&bystander, bargs) < 0)
        return -1;
    /* One clean cycle first: the idle fd count is taken after the first connection. */
    struct vus_fe *fe;
    if (fe_open(&victim, 1, &fe) < 0)
        return -1;
    vus_fe_close(fe);
    usleep(100000);
    victim_fds = count_fds(victim.pid);
    atomic_store(&by_stop, false);
    return pthread_create(&by_thread, NULL, bystander_main, NULL) == 0 ? 0 : -1;
}

static int abuse_group_teardown(void **state)
{
    int ret = 0;

    atomic_store(&by_stop, true);
    pthread_join(by_thread, NULL);
    if (atomic_load(&by_errors) || atomic_load(&by_rounds) == 0) {
        fprintf(stderr, "bystander: %u rounds, %u errors\n", atomic_load(&by_rounds),
                atomic_load(&by_errors));
        ret = -1;
    }
    if (daemon_stop(&victim) != 0)
        ret = -1;
    if (daemon_stop(&bystander) != 0)
        ret = -1;
    return ret;
}

/* After each abuse: victim alive, fds back to idle, serves anew; bystander fine. */
static void after_abuse(void)
{
    unsigned before = atomic_load(&by_rounds);

    assert_true(daemon_alive(&victim));
    assert_true(victim_fds_balanced());
    victim_serves(2);
    assert_int_equal(atomic_load(&by_errors), 0);
    for (int i = 0; i < 200 && atomic_load(&by_rounds) == before; i++)
        usleep(5000);
    assert_true(atomic_load(&by_rounds) > before);
}

/* One test's connection to the victim. */
struct abuse_ctx {
    struct vus_fe *fe;
    struct vus_fe_vq *vq, *other; /* request queues 0 and 1 */
    uint8_t *data;                /* 1 MiB in memory region 1 */
};

/* queue_size 0: the library's default. */
static int abuse_test_setup(void **state, unsigned queue_size)
{
    static struct abuse_ctx cx;
    struct vus_fe_config cfg = { .socket_path = victim.sock,
                                 .num_req_queues = 2,
                                 .queue_size = queue_size,
                                 .mem_regions = 2,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    struct vus_fe_cmd c;

    /* A failed test leaves its connection open: close it, or the daemon stays busy with it. */
    vus_fe_close(cx.fe);
    memset(&cx, 0, sizeof(cx));
    if (vus_fe_connect(&cfg, &cx.fe) < 0)
        return -1;
    cx.vq = vus_fe_vq(cx.fe, VIRTIO_SCSI_VQ_REQUEST);
    cx.other = vus_fe_vq(cx.fe, VIRTIO_SCSI_VQ_REQUEST + 1);
    cx.data = vus_fe_alloc_in(cx.fe, 1, 1 << 20, 4096);
    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        if (vus_fe_cmd_exec(cx.vq, &c, T_TIMEOUT) < 0)
            return -1;
        if (c.status == 0)
            break;
    }
    *state = &cx;
    return cx.data ? 0 : -1;
}

static int abuse_test_teardown(void **state)
{
    struct abuse_ctx *cx = *state;

    vus_fe_close(cx->fe);
    cx->fe = NULL;
    return 0;
}

/* End of an abusive test: drop its connection, then check victim and bystander. */
static void abuse_done(struct abuse_ctx *cx)
{
    vus_fe_close(cx->fe);
    cx->fe = NULL;
    after_abuse();
}

#endif
