/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One daemon, many controllers (issue #10): a daemon started with only
 * --rpc-socket and --threads 2 gets 64 RAM bdevs, 64 controllers and one
 * LUN on each, all by JSON-RPC; 64 frontends (threads of this program)
 * connect at once and each writes and reads back its own pattern.  Then the
 * controllers are deleted one by one, each with its frontend still
 * connected, while every remaining frontend keeps doing verified I/O: no
 * survivor may see an error, each must keep making progress, the deleted
 * one's connection is closed, controller_list shrinks by one each time, the
 * bdevs stay (detached), and once everything is deleted the daemon holds
 * exactly the fds it held at start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_mgmt.h"

#define NCTRL  64
#define BLOCKS 32 /* 16 KiB per write and read */

struct fe_thread {
    unsigned idx;
    char name[16];
    char sock[128];
    pthread_t th;
    struct vus_fe *fe;
    atomic_bool stop;
    atomic_int phase1; /* 0 running, 1 connected and verified, -1 failed */
    atomic_ulong rounds;
    atomic_uint errors;
    char why[256];
};

static struct mdaemon dmn;
static struct fe_thread fts[NCTRL];
static pthread_barrier_t start_barrier;

static void *fe_thread_main(void *arg)
{
    struct fe_thread *t = arg;
    struct vus_fe_cmd c;

    pthread_barrier_wait(&start_barrier); /* all 64 connect at once */
    int r = mgmt_fe_open(t->sock, 1, 1 << 20, &t->fe);
    if (r < 0) {
        snprintf(t->why, sizeof(t->why), "connect: %s", strerror(-r));
        atomic_store(&t->phase1, -1);
        return NULL;
    }
    struct vus_fe_vq *vq = vus_fe_vq(t->fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(t->fe, BLOCKS * 512, 4096);
    uint8_t *rd = vus_fe_alloc(t->fe, BLOCKS * 512, 4096);
    /* The power-on unit attention of the new LUN. */
    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        if (vus_fe_cmd_exec(vq, &c, T_TIMEOUT) == 0 && c.response == 0 && c.status == 0)
            break;
    }
    if (!w || !rd ||
        mgmt_verified_io(vq, 0, 0, 0, BLOCKS, w, rd, t->idx, t->why, sizeof(t->why)) < 0) {
        atomic_store(&t->phase1, -1);
        return NULL;
    }
    atomic_store(&t->phase1, 1);
    for (unsigned i = 0; !atomic_load(&t->stop); i++) {
        uint64_t lba = (uint64_t)(i % 16) * BLOCKS;
        if (mgmt_verified_io(vq, 0, 0, lba, BLOCKS, w, rd, t->idx * 7919 + i, t->why,
                             sizeof(t->why)) < 0) {
            atomic_fetch_add(&t->errors, 1);
            fprintf(stderr, "%s: round %u: %s\n", t->name, i, t->why);
            break;
        }
        atomic_fetch_add(&t->rounds, 1);
        usleep(1000);
    }
    return NULL; /* the connection stays open: the controller is deleted under it */
}

static unsigned survivor_errors(unsigned from)
{
    unsigned n = 0;

    for (unsigned i = from; i < NCTRL; i++)
        n += atomic_load(&fts[i].errors);
    return n;
}

/* Every frontend from `from` on completes at least one more round within 10 s. */
static void survivors_progress(unsigned from)
{
    unsigned long before[NCTRL];

    for (unsigned i = from; i < NCTRL; i++)
        before[i] = atomic_load(&fts[i].rounds);
    for (unsigned i = from; i < NCTRL; i++) {
        int ms = 0;
        while (atomic_load(&fts[i].rounds) == before[i] && !atomic_load(&fts[i].errors) &&
               ms < 10000) {
            usleep(10000);
            ms += 10;
        }
        if (atomic_load(&fts[i].errors))
            fail_msg("%s: I/O error: %s", fts[i].name, fts[i].why);
        if (atomic_load(&fts[i].rounds) == before[i])
            fail_msg("%s made no progress in 10 s", fts[i].name);
    }
}

static void test_64_controllers(void **state)
{
    static const char *const args[] = { "--threads", "2", NULL };
    struct rpc_cl cl;
    char bname[16];
    struct timespec t0;

    (void)state;
    assert_int_equal(mgmt_init(&dmn), 0);
    assert_int_equal(mgmt_start(&dmn, false, args), 0);
    mgmt_raise_nofile(); /* ours, after the fork: the daemon keeps the limit it was given */
    assert_int_equal(rpc_cl_connect(&cl, dmn.rpc, 2000), 0);

    /* The idle daemon's fds (with this RPC connection, which stays open to the end). */
    usleep(200000);
    int fds0 = mgmt_count_fds(dmn.pid);
    assert_true(fds0 > 0);

    json_t *list = rpc_ok(&cl, "controller_list", NULL);
    assert_int_equal(json_array_size(list), 0); /* no --socket-path: no controller */
    json_decref(list);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < NCTRL; i++) {
        struct fe_thread *t = &fts[i];
        t->idx = i;
        snprintf(t->name, sizeof(t->name), "c%02u", i);
        snprintf(bname, sizeof(bname), "r%02u", i);
        mgmt_path(&dmn, t->sock, sizeof(t->sock), t->name);
        snprintf(t->sock + strlen(t->sock), sizeof(t->sock) - strlen(t->sock), ".sock");
        rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", bname, "type", "ram", "size", "1M");
        rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", t->name, "socket_path", t->sock);
        json_t *res =
            rpc_okf(&cl, "lun_attach", "{s:s, s:s}", "controller", t->name, "bdev", bname);
        assert_int_equal(mgmt_int(res, "target"), 0);
        assert_int_equal(mgmt_int(res, "lun"), 0);
        json_decref(res);
    }
    fprintf(stderr, "64 bdevs, controllers and LUNs created in %ld ms\n", rpc_ms_since(&t0));

    list = rpc_ok(&cl, "controller_list", NULL);
    assert_int_equal(json_array_size(list), NCTRL);
    for (unsigned i = 0; i < NCTRL; i++) {
        json_t *e = mgmt_find(list, "name", fts[i].name);
        assert_non_null(e);
        assert_string_equal(mgmt_str(e, "socket_path"), fts[i].sock);
        assert_true(json_is_false(json_object_get(e, "connected")));
        json_t *luns = json_object_get(e, "luns");
        assert_int_equal(json_array_size(luns), 1);
        snprintf(bname, sizeof(bname), "r%02u", i);
        assert_string_equal(mgmt_str(json_array_get(luns, 0), "bdev"), bname);
    }
    json_decref(list);

    /* 64 frontends at once, each verifying its own pattern. */
    pthread_barrier_init(&start_barrier, NULL, NCTRL + 1);
    for (unsigned i = 0; i < NCTRL; i++)
        assert_int_equal(pthread_create(&fts[i].th, NULL, fe_thread_main, &fts[i]), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_barrier_wait(&start_barrier);
    for (unsigned i = 0; i < NCTRL; i++) {
        while (atomic_load(&fts[i].phase1) == 0 && rpc_ms_since(&t0) < 30000)
            usleep(10000);
        if (atomic_load(&fts[i].phase1) != 1)
            fail_msg("%s: %s", fts[i].name,
                     atomic_load(&fts[i].phase1) ? fts[i].why : "not done after 30 s");
    }
    fprintf(stderr, "64 frontends connected and verified in %ld ms\n", rpc_ms_since(&t0));

    list = rpc_ok(&cl, "controller_list", NULL);
    for (unsigned i = 0; i < NCTRL; i++) {
        json_t *e = mgmt_find(list, "name", fts[i].name);
        assert_non_null(e);
        if (!json_is_true(json_object_get(e, "connected")))
            fail_msg("%s: controller_list says not connected while its frontend is", fts[i].name);
    }
    json_decref(list);
    survivors_progress(0);

    /* Delete them one by one, each with its frontend connected; the others keep going. */
    unsigned long rounds0 = 0, rounds1 = 0;
    for (unsigned i = 0; i < NCTRL; i++)
        rounds0 += atomic_load(&fts[i].rounds);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < NCTRL; i++) {
        struct fe_thread *t = &fts[i];
        struct timespec t1;

        atomic_store(&t->stop, true);
        pthread_join(t->th, NULL);
        t->th = 0;
        if (atomic_load(&t->errors))
            fail_msg("%s: I/O error before its deletion: %s", t->name, t->why);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        rpc_dof(&cl, "controller_delete", "{s:s}", "name", t->name);
        long ms = rpc_ms_since(&t1);
        if (ms > 2000)
            fail_msg("controller_delete %s took %ld ms", t->name, ms);
        if (!vus_fe_peer_closed(t->fe, 2000))
            fail_msg("%s: deleted, but its frontend's connection is still open", t->name);
        vus_fe_close(t->fe);
        t->fe = NULL;
        if (survivor_errors(i + 1))
            for (unsigned k = i + 1; k < NCTRL; k++)
                if (atomic_load(&fts[k].errors))
                    fail_msg("%s: I/O error after %s was deleted: %s", fts[k].name, t->name,
                             fts[k].why);

        list = rpc_ok(&cl, "controller_list", NULL);
        assert_int_equal(json_array_size(list), NCTRL - 1 - i);
        assert_null(mgmt_find(list, "name", t->name));
        json_decref(list);
        /* A new frontend on the deleted controller's path finds nobody. */
        struct vus_fe_config cfg = { .socket_path = t->sock,
                                     .timeout_ms = 1000,
                                     .connect_retry_ms = 1 };
        struct vus_fe *fe2;
        if (vus_fe_connect(&cfg, &fe2) == 0)
            fail_msg("%s: a frontend could connect after controller_delete", t->name);
        if (i % 16 == 15 && i + 1 < NCTRL)
            survivors_progress(i + 1);
    }
    for (unsigned i = 0; i < NCTRL; i++)
        rounds1 += atomic_load(&fts[i].rounds);
    fprintf(stderr,
            "64 controllers deleted in %ld ms; meanwhile the others did %lu verified 16 KiB "
            "write+read rounds\n",
            rpc_ms_since(&t0), rounds1 - rounds0);

    /* The bdevs stay, detached; then they go too. */
    list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(json_array_size(list), NCTRL);
    for (unsigned i = 0; i < NCTRL; i++) {
        snprintf(bname, sizeof(bname), "r%02u", i);
        json_t *e = mgmt_find(list, "name", bname);
        assert_non_null(e);
        assert_int_equal(mgmt_int(e, "attached"), 0);
        assert_int_equal(mgmt_int(e, "size"), 1 << 20);
    }
    json_decref(list);
    for (unsigned i = 0; i < NCTRL; i++) {
        snprintf(bname, sizeof(bname), "r%02u", i);
        rpc_dof(&cl, "bdev_delete", "{s:s}", "name", bname);
    }
    list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    /* No fd left behind. */
    int fds = -1;
    for (int k = 0; k < 200; k++) {
        fds = mgmt_count_fds(dmn.pid);
        if (fds == fds0)
            break;
        usleep(10000);
    }
    fprintf(stderr, "daemon fds: %d at start, %d at the end\n", fds0, fds);
    if (fds != fds0) {
        fprintf(stderr, "daemon fds now:\n");
        mgmt_print_fds(dmn.pid);
        fail_msg("the daemon holds %d fds after everything was deleted, %d at start", fds, fds0);
    }
    rpc_cl_close(&cl);
    assert_true(mgmt_alive(&dmn));
    assert_int_equal(mgmt_stop(&dmn), 0);
    mgmt_cleanup(&dmn);
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NCTRL; i++) {
        if (fts[i].th) {
            atomic_store(&fts[i].stop, true);
            pthread_join(fts[i].th, NULL);
            fts[i].th = 0;
        }
        if (fts[i].fe)
            vus_fe_close(fts[i].fe);
        fts[i].fe = NULL;
    }
    if (dmn.pid > 0)
        mgmt_stop(&dmn);
    if (dmn.dir[0])
        mgmt_cleanup(&dmn);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_64_controllers, teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
