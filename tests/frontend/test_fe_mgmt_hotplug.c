/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane's JSON-RPC methods against the real daemon (issue
 * #10), started with --rpc-socket only: hotplug as a frontend sees it.
 *
 * - hotplug as a frontend sees it: attach -> TRANSPORT_RESET/RESCAN event,
 *   REPORTED LUNS DATA HAS CHANGED once on the target's other LUNs, REPORT
 *   LUNS lists the new LUN; detach (also under I/O) -> TRANSPORT_RESET/
 *   REMOVED, the LUN answers BAD_TARGET;
 * - lun_detach of a LUN whose reads are held in the backend (a FUSE file,
 *   fuse_gate.h): the detach waits for them, and the controller's other LUN
 *   and another controller are served meanwhile.
 *
 * Wrong params and bad clients: test_fe_mgmt_errors.c; resize and stats:
 * test_fe_mgmt_resize_stats.c; the fixture: fe_mgmt_rpc.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/frontend/fe_mgmt_rpc.h"

static bool have_gate;

/* The fixture's group setup, the FUSE gate started first. */
static int group_setup_gate(void **state)
{
    /* Before the daemon is forked: it must see the FUSE mount (private mount namespace). */
    have_gate = fuse_gate_start(&gate, 8 * 1024 * 1024) == 0;
    if (!have_gate)
        fprintf(stderr, "no FUSE: test_detach_waits_for_held_io will be skipped\n");
    return group_setup(state);
}

/* ---- hotplug as the frontend sees it ---- */

/* The LUN is gone: BAD_TARGET (or, on a target that still exists, LOGICAL UNIT NOT SUPPORTED). */
static void expect_no_lun(struct vus_fe_vq *vq, unsigned target, unsigned lun)
{
    struct vus_fe_cmd c;
    uint8_t key = 0, asc = 0;

    tur(vq, target, lun, &c);
    if (c.response == VIRTIO_SCSI_S_BAD_TARGET)
        return;
    if (c.response == VIRTIO_SCSI_S_OK && c.status == 2) {
        sense_key_asc(&c, &key, &asc);
        if (key == 5 && asc == 0x25)
            return;
    }
    fail_msg("%u:%u was detached but answers response %u status %u sense %x/%02x", target, lun,
             c.response, c.status, key, asc);
}

/* REPORT LUNS on target:lun, compared with the expected list of LUN numbers. */
static void expect_report_luns(struct vus_fe *fe, unsigned target, unsigned lun,
                               const unsigned *want, unsigned n)
{
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 4096, 4096);
    uint8_t cdb[12] = { 0xa0 };
    struct vus_fe_cmd c;

    put_be32(cdb + 6, 4096);
    memset(&c, 0, sizeof(c));
    struct iovec iov = { buf, 4096 };
    c.target = target;
    c.lun = lun;
    memcpy(c.cdb, cdb, sizeof(cdb));
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    unsigned got = get_be32(buf) / 8;
    bool same = got == n;
    for (unsigned i = 0; same && i < n; i++)
        same = (((unsigned)buf[8 + 8 * i] & 0x3f) << 8 | buf[9 + 8 * i]) == want[i];
    if (!same) {
        char s[256];
        size_t o = 0;
        for (unsigned i = 0; i < got && i < 16; i++)
            o += (size_t)snprintf(s + o, sizeof(s) - o, " %u",
                                  ((unsigned)buf[8 + 8 * i] & 0x3f) << 8 | buf[9 + 8 * i]);
        s[o] = 0;
        fail_msg("REPORT LUNS on target %u lists %u LUNs:%s; expected %u", target, got, s, n);
    }
}

/* Reads in flight across a detach: 3 descriptors each on a 64-entry ring. */
#define NFLIGHT 16u

static void test_hotplug_attach_detach(void **state)
{
    static struct io_runner io;
    char why[256];

    (void)state;
    struct vus_fe *fe = ctrl_with_frontend("hp", "hp0", "4M");
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);

    assert_true(vus_fe_features(fe) & (1ull << VIRTIO_SCSI_F_HOTPLUG));
    assert_int_equal(vus_fe_event_post(fe, 8), 0);
    rpc_do(&cl, "bdev_create", "{\"name\":\"hp1\",\"type\":\"ram\",\"size\":\"2M\"}");
    rpc_do(&cl, "bdev_create",
           "{\"name\":\"hp2\",\"type\":\"ram\",\"size\":\"8M\",\"block_size\":4096}");

    /* Attach at 0:1 while the frontend runs. */
    json_t *res = rpc_ok(&cl, "lun_attach",
                         "{\"controller\":\"hp\",\"bdev\":\"hp1\",\"target\":0,\"lun\":1,"
                         "\"serial\":\"hotplug-1\"}");
    assert_int_equal(mgmt_int(res, "target"), 0);
    assert_int_equal(mgmt_int(res, "lun"), 1);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 0, 1,
                 "attach 0:1");
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    const unsigned l01[] = { 0, 1 };
    expect_report_luns(fe, 0, 0, l01, 2);
    clear_ua(vq, 0, 1);
    assert_int_equal(read_capacity_blocks(fe, 0, 1, NULL), 2 * MiB / 512);
    if (mgmt_verified_io(vq, 0, 1, 100, 128, w, r, 1, why, sizeof(why)) < 0)
        fail_msg("the hotplugged LUN 0:1: %s", why);

    /* The default address: the lowest free LUN of target 0. */
    res = rpc_ok(&cl, "lun_attach", "{\"controller\":\"hp\",\"bdev\":\"hp2\"}");
    assert_int_equal(mgmt_int(res, "target"), 0);
    assert_int_equal(mgmt_int(res, "lun"), 2);
    json_decref(res);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 0, 2,
                 "attach 0:2");
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    expect_ua_once(vq, 0, 1, 0x3f, 0x0e);
    clear_ua(vq, 0, 2);
    uint32_t bs;
    assert_int_equal(read_capacity_blocks(fe, 0, 2, &bs), 8 * MiB / 4096);
    assert_int_equal(bs, 4096);

    json_t *luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"hp\"}");
    assert_int_equal(json_array_size(luns), 3);
    for (unsigned i = 0; i < 3; i++) {
        static const char *const bd[] = { "hp0", "hp1", "hp2" };
        static const json_int_t sz[] = { 4 * MiB, 2 * MiB, 8 * MiB };
        json_t *e = NULL, *x;
        size_t k;
        json_array_foreach(luns, k, x)
        {
            if (mgmt_int(x, "lun") == i)
                e = x;
        }
        assert_non_null(e);
        assert_int_equal(mgmt_int(e, "target"), 0);
        assert_string_equal(mgmt_str(e, "bdev"), bd[i]);
        assert_int_equal(mgmt_int(e, "size"), sz[i]);
        assert_int_equal(mgmt_int(e, "block_size"), i == 2 ? 4096 : 512);
        if (i == 1)
            assert_string_equal(mgmt_str(e, "serial"), "hotplug-1");
    }
    json_decref(luns);
    no_more_events(fe);

    /* Detach 0:1. */
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":1}");
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 1,
                 "detach 0:1");
    expect_no_lun(vq, 0, 1);
    expect_ua_once(vq, 0, 0, 0x3f, 0x0e);
    expect_ua_once(vq, 0, 2, 0x3f, 0x0e);
    const unsigned l02[] = { 0, 2 };
    expect_report_luns(fe, 0, 0, l02, 2);
    json_t *list = rpc_ok(&cl, "bdev_list", NULL);
    assert_int_equal(mgmt_int(mgmt_find(list, "name", "hp1"), "attached"), 0);
    json_decref(list);

    /* Detach 0:0 while another thread keeps doing verified I/O to 0:2 (this thread: RPC only). */
    io_runner_start(&io, fe, 2, 4096, true);
    io_runner_progress(&io, "on 0:2 before detaching 0:0");
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":0}");
    io_runner_progress(&io, "on 0:2 after detaching 0:0");
    io_runner_stop(&io);
    if (atomic_load(&io.errors))
        fail_msg("I/O to 0:2 while 0:0 was detached: %s", io.why);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 0,
                 "detach 0:0");
    /* The I/O thread met the REPORTED LUNS DATA HAS CHANGED of 0:2, once, and retried. */
    if (io.uas.n != 1 || io.uas.seen[0] != 0x3f0e)
        fail_msg("the I/O to 0:2 across the detach of 0:0 saw %u unit attentions (first "
                 "%04x), expected exactly one 3F/0E",
                 io.uas.n, io.uas.n ? io.uas.seen[0] : 0);
    struct vus_fe_cmd c;
    tur(vq, 0, 2, &c);
    assert_int_equal(c.status, 0);
    const unsigned l2[] = { 2 };
    expect_report_luns(fe, 0, 2, l2, 1);

    /* Detach 0:2 with reads in flight: every one completes, GOOD or BAD_TARGET, none hangs. */
    struct vus_fe_cmd cmds[NFLIGHT];
    struct iovec iovs[NFLIGHT];
    uint8_t *big = vus_fe_alloc(fe, NFLIGHT * 65536, 4096);
    assert_non_null(big);
    for (unsigned i = 0; i < NFLIGHT; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cmds[i].lun = 2;
        cdb_rw16(cmds[i].cdb, false, i * 16, 16);
        iovs[i] = (struct iovec){ big + i * 65536, 65536 };
        cmds[i].in = &iovs[i];
        cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq, &cmds[i]), 0);
    }
    vus_fe_vq_kick(vq);
    rpc_do(&cl, "lun_detach", "{\"controller\":\"hp\",\"target\":0,\"lun\":2}");
    unsigned done = 0, good = 0;
    for (int waited = 0; done < NFLIGHT && waited < T_TIMEOUT; waited += 10) {
        struct vus_fe_cmd *d;
        while ((d = vus_fe_cmd_reap(vq))) {
            done++;
            if (d->response == VIRTIO_SCSI_S_OK && d->status == 0)
                good++;
            else if (d->response != VIRTIO_SCSI_S_BAD_TARGET)
                fail_msg("a read in flight across lun_detach: response %u status %u", d->response,
                         d->status);
        }
        if (done < NFLIGHT)
            vus_fe_vq_wait(vq, 10);
    }
    if (done < NFLIGHT)
        fail_msg("%u of %u reads in flight across lun_detach never completed", NFLIGHT - done,
                 NFLIGHT);
    fprintf(stderr, "reads across lun_detach: %u good, %u BAD_TARGET\n", good, NFLIGHT - good);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 2,
                 "detach 0:2");
    /* The target has no LUN left. */
    expect_no_lun(vq, 0, 2);
    expect_no_lun(vq, 0, 0);
    luns = rpc_ok(&cl, "lun_list", "{\"controller\":\"hp\"}");
    assert_int_equal(json_array_size(luns), 0);
    json_decref(luns);
    json_t *cl_list = rpc_ok(&cl, "controller_list", NULL);
    json_t *hp = mgmt_find(cl_list, "name", "hp");
    assert_true(json_is_true(json_object_get(hp, "connected")));
    assert_int_equal(json_array_size(json_object_get(hp, "luns")), 0);
    json_decref(cl_list);

    /* Attach again on a new target: the frontend, still connected, sees it. */
    rpc_do(&cl, "lun_attach", "{\"controller\":\"hp\",\"bdev\":\"hp1\",\"target\":5,\"lun\":3}");
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 5, 3,
                 "attach 5:3");
    clear_ua(vq, 5, 3);
    /* hp1 kept the data written through 0:1. */
    memset(&c, 0, sizeof(c));
    c.target = 5;
    c.lun = 3;
    cdb_rw16(c.cdb, false, 100, 128);
    struct iovec iov = { r, 65536 };
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    fill(w, 65536, 1);
    assert_memory_equal(w, r, 65536);

    vus_fe_close(fe);
    rpc_do(&cl, "controller_delete", "{\"name\":\"hp\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp0\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp1\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"hp2\"}");
}

/* A lun_detach on its own connection and thread: it may wait for the LUN's I/O. */
struct detach_call {
    pthread_t th;
    const char *rpc;
    atomic_int state; /* 0 running, 1 answered true, -1 failed */
    char why[700];
};

static void *detach_main(void *arg)
{
    struct detach_call *d = arg;
    struct rpc_cl c2;
    struct rpc_reply r;

    if (rpc_cl_connect(&c2, d->rpc, 1000) < 0 ||
        rpc_call(&c2, "lun_detach",
                 json_pack("{s:s, s:i, s:i}", "controller", "gd", "target", 0, "lun", 0), &r) < 0) {
        snprintf(d->why, sizeof(d->why), "%s", c2.err);
        atomic_store(&d->state, -1);
    } else {
        if (r.code)
            snprintf(d->why, sizeof(d->why), "error %d %s", r.code, r.message);
        atomic_store(&d->state, r.code == 0 && json_is_true(r.result) ? 1 : -1);
        rpc_reply_free(&r);
    }
    rpc_cl_close(&c2);
    return NULL;
}

/*
 * lun_detach while the LUN's reads are held in the backend (a FUSE file):
 * the detach waits for them, the reads complete with their data once
 * released, I/O to another LUN of the controller goes on meanwhile, and the
 * LUN is gone afterwards.  With the ASan daemon this is also the
 * use-after-free check of a detach under I/O.
 */
static void test_detach_waits_for_held_io(void **state)
{
    static struct detach_call dc;
    struct timespec t0;
    char why[256];

    (void)state;
    if (!have_gate)
        skip();
    /* A known pattern in the gated file, written through the gate before holding. */
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "gdb", "type", "file", "path",
            gate.path);
    rpc_do(&cl, "bdev_create", "{\"name\":\"gdr\",\"type\":\"ram\",\"size\":\"4M\"}");
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "gd", "socket_path", sock_path("gd"));
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", "gdx", "socket_path", sock_path("gdx"));
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gdx\",\"bdev\":\"gdr\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gd\",\"bdev\":\"gdb\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_attach", "{\"controller\":\"gd\",\"bdev\":\"gdr\",\"target\":0,\"lun\":1}");
    struct vus_fe *fe;
    struct vus_fe_config cfg = { .socket_path = sock_path("gd"),
                                 .num_req_queues = 2,
                                 .mem_size = 8 * MiB,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    assert_int_equal(vus_fe_connect(&cfg, &fe), 0);
    open_fe = fe;
    struct vus_fe_vq *vq0 = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    struct vus_fe_vq *vq1 = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST + 1);
    uint8_t *w = vus_fe_alloc(fe, 65536, 4096), *r = vus_fe_alloc(fe, 65536, 4096);
    clear_ua(vq0, 0, 0);
    clear_ua(vq1, 0, 1);
    assert_int_equal(vus_fe_event_post(fe, 4), 0);
    if (mgmt_verified_io(vq0, 0, 0, 0, 128, w, r, 11, why, sizeof(why)) < 0)
        fail_msg("gated LUN before holding: %s", why);

    /* Four reads of that pattern, held in the backend. */
    enum { NR = 4 };
    struct vus_fe_cmd cmds[NR];
    struct iovec iovs[NR];
    uint8_t *bufs = vus_fe_alloc(fe, NR * 65536, 4096);
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    for (unsigned i = 0; i < NR; i++) {
        memset(&cmds[i], 0, sizeof(cmds[i]));
        cdb_rw16(cmds[i].cdb, false, 0, 128);
        memset(bufs + i * 65536, 0xee, 65536);
        iovs[i] = (struct iovec){ bufs + i * 65536, 65536 };
        cmds[i].in = &iovs[i];
        cmds[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq0, &cmds[i]), 0);
    }
    vus_fe_vq_kick(vq0);
    if (fuse_gate_wait_held(&gate, 1, T_TIMEOUT) < 0)
        fail_msg("no read reached the gate");

    /* Detach from another connection; it must not finish while the reads are held. */
    memset(&dc, 0, sizeof(dc));
    dc.rpc = dmn.rpc;
    assert_int_equal(pthread_create(&dc.th, NULL, detach_main, &dc), 0);
    usleep(300000);
    int early = atomic_load(&dc.state);
    /*
     * The other LUN of the controller is served meanwhile, on both queues (on
     * queue 0 behind the held reads: commands on one queue are independent).
     * Each queue is on its own worker of the two, so whichever the daemon
     * stops first, a stop of the whole controller shows.
     */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /*
     * The detach is announced to the target's other LUNs at once with
     * REPORTED LUNS DATA HAS CHANGED: retried like a guest would, and that
     * is the only unit attention allowed.
     */
    struct mgmt_uas uas = { 0 };
    int other = mgmt_verified_io_ua(vq1, 0, 1, 0, 128, 512, w, r, 12, why, sizeof(why), &uas);
    long other_ms = rpc_ms_since(&t0);
    for (unsigned i = 0; i < uas.n && i < 8; i++)
        if (uas.seen[i] != (0x3f << 8 | 0x0e))
            fail_msg("unit attention %02x/%02x on the other LUN during the detach (only 3F/0E "
                     "is expected)",
                     uas.seen[i] >> 8, uas.seen[i] & 0xff);
    struct vus_fe_cmd oc;
    struct iovec oiov = { w, 4096 };
    memset(&oc, 0, sizeof(oc));
    oc.lun = 1;
    cdb_rw16(oc.cdb, true, 512, 8);
    oc.out = &oiov;
    oc.out_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq0, &oc), 0);
    vus_fe_vq_kick(vq0);
    struct vus_fe_cmd *got = NULL;
    for (int waited = 0; !got && waited < 2000; waited += 10) {
        got = vus_fe_cmd_reap(vq0);
        if (!got)
            vus_fe_vq_wait(vq0, 10);
    }
    /* Served is served: GOOD, or the REPORTED LUNS DATA HAS CHANGED of the detach. */
    uint8_t okey = 0, oasc = 0;
    if (got == &oc && oc.status == 2)
        sense_key_asc(&oc, &okey, &oasc);
    bool other_q0 = got == &oc && oc.response == 0 &&
                    (oc.status == 0 || (oc.status == 2 && okey == 6 && oasc == 0x3f));
    /* Another controller on the same two workers is not held up at all. */
    struct vus_fe *bfe;
    assert_int_equal(mgmt_fe_open(sock_path("gdx"), 2, MiB, &bfe), 0);
    uint8_t *bw = vus_fe_alloc(bfe, 65536, 4096), *br = vus_fe_alloc(bfe, 65536, 4096);
    char bwhy[256] = "";
    int by = 0;
    for (unsigned q = 0; q < 2 && by == 0; q++) {
        struct vus_fe_vq *bq = vus_fe_vq(bfe, VIRTIO_SCSI_VQ_REQUEST + q);
        clear_ua(bq, 0, 0);
        by = mgmt_verified_io(bq, 0, 0, q * 128, 128, bw, br, 13 + q, bwhy, sizeof(bwhy));
    }
    vus_fe_close(bfe);
    /* And is the RPC server answering others meanwhile?  Reported, not required. */
    struct rpc_cl c3;
    struct rpc_reply rr;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool rpc_ok_during = rpc_cl_connect(&c3, dmn.rpc, 500) == 0;
    c3.timeout_ms = 1000;
    rpc_ok_during = rpc_ok_during && rpc_call(&c3, "version", NULL, &rr) == 0;
    long rpc_ms = rpc_ms_since(&t0);
    if (rpc_ok_during)
        rpc_reply_free(&rr);
    rpc_cl_close(&c3);
    fprintf(stderr,
            "during a detach waiting for held I/O: another LUN's I/O %s (%ld ms), a version "
            "call %s after %ld ms\n",
            other == 0 ? "ok" : why, other_ms, rpc_ok_during ? "answered" : "not answered", rpc_ms);

    fuse_gate_release(&gate);
    fuse_gate_hold(&gate, 0);
    unsigned done = 0; /* held reads */
    bool oc_done = got == &oc;
    if (got && got != &oc)
        fail_msg("a held read completed before it was released");
    for (int waited = 0; (done < NR || !oc_done) && waited < T_TIMEOUT; waited += 10) {
        struct vus_fe_cmd *d;
        while ((d = vus_fe_cmd_reap(vq0))) {
            if (d == &oc) {
                oc_done = true; /* the write to 0:1 on this queue, late */
                continue;
            }
            done++;
            if (d->response != VIRTIO_SCSI_S_OK || d->status != 0) {
                uint8_t key = 0, asc = 0;
                if (d->status == 2)
                    sense_key_asc(d, &key, &asc);
                fail_msg("a read held across lun_detach: response %u status %u sense %x/%02x/%02x "
                         "(expected GOOD: the detach waits for it)",
                         d->response, d->status, key, asc,
                         (d->sense[0] & 0x7f) >= 0x72 ? d->sense[3] : d->sense[13]);
            }
        }
        if (done < NR || !oc_done)
            vus_fe_vq_wait(vq0, 10);
    }
    if (done < NR)
        fail_msg("%u of %u held reads never completed after release", NR - done, NR);
    fill(w, 65536, 11);
    for (unsigned i = 0; i < NR; i++)
        if (memcmp(bufs + i * 65536, w, 65536))
            fail_msg("held read %u completed GOOD with wrong data", i);
    for (int i = 0; i < 500 && atomic_load(&dc.state) == 0; i++)
        usleep(10000);
    pthread_join(dc.th, NULL);
    if (atomic_load(&dc.state) != 1)
        fail_msg("lun_detach with held reads: %s", dc.why[0] ? dc.why : "no answer in 5 s");
    if (early != 0)
        fail_msg("lun_detach answered while the LUN's reads were still held in the backend");
    if (by != 0)
        fail_msg("another controller's I/O while gd 0:0 was being detached: %s", bwhy);
    if (other != 0)
        fail_msg("I/O to the other LUN (0:1, queue 1) while 0:0 was being detached: %s", why);
    if (!other_q0)
        fail_msg("a write to the other LUN (0:1) on queue 0 was not served while 0:0 was being "
                 "detached (%s)",
                 got ? "failed" : "no completion in 2 s");
    if (other_ms > 2000)
        fail_msg("I/O to the other LUN took %ld ms while 0:0 was being detached", other_ms);
    expect_event(fe, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 0, 0,
                 "detach of the gated LUN");
    struct vus_fe_cmd c;
    tur(vq0, 0, 0, &c);
    /* LUN 0 of a target that still has LUN 1: the stand-in answers, not the detached LUN. */
    if (c.response == VIRTIO_SCSI_S_OK && c.status == 0)
        fail_msg("0:0 answers TEST UNIT READY with GOOD after its detach");
    vus_fe_close(fe);
    open_fe = NULL;
    rpc_do(&cl, "controller_delete", "{\"name\":\"gd\"}");
    rpc_do(&cl, "controller_delete", "{\"name\":\"gdx\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gdb\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gdr\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hotplug_attach_detach, test_teardown),
        cmocka_unit_test_teardown(test_detach_waits_for_held_io, test_teardown),
    };
    fe_apply_test_filter();
    mgmt_raise_nofile();
    return cmocka_run_group_tests(tests, group_setup_gate, group_teardown);
}
