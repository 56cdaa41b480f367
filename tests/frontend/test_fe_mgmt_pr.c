/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations through the real daemon (issue 12): two controllers attach
 * one named block device, so each frontend is one I_T nexus to the same
 * logical unit.  PERSISTENT RESERVE OUT/IN from both, a write from the
 * nexus without the reservation refused with RESERVATION CONFLICT, PREEMPT
 * and its unit attention, APTPL state written under --state-dir and
 * restored when the bdev is attached again, RESERVE(6) released when its
 * holder's connection closes; PREEMPT AND ABORT ending the preempted
 * nexus's READ held in the backend (a file on the FUSE gate) as ABORTED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/frontend/fe_mgmt_rpc.h"

#define RES_CONFLICT 0x18 /* status RESERVATION CONFLICT */

static char state_dir[128];
static bool have_gate;

static int pr_group_setup(void **state)
{
    static const char *args[] = { "--threads", "2", "--state-dir", state_dir, NULL };

    (void)state;
    /* Before the daemon is forked: it must see the FUSE mount (private mount namespace). */
    have_gate = fuse_gate_start(&gate, 8 * 1024 * 1024) == 0;
    if (!have_gate)
        fprintf(stderr, "no FUSE: test_preempt_and_abort will be skipped\n");
    if (mgmt_init(&dmn) < 0)
        return -1;
    snprintf(state_dir, sizeof(state_dir), "%s/state", dmn.dir);
    if (mkdir(state_dir, 0700) < 0 || mgmt_start(&dmn, false, args) < 0)
        return -1;
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

/* One command on 0:0 with an optional data buffer (dir_in: data-in). */
static struct vus_fe_cmd run(struct vus_fe *fe, const uint8_t *cdb, unsigned cdb_len, void *buf,
                             size_t len, bool dir_in)
{
    struct vus_fe_cmd c;
    struct iovec iov = { buf, len };

    memset(&c, 0, sizeof(c));
    memcpy(c.cdb, cdb, cdb_len);
    if (len > 0 && dir_in) {
        c.in = &iov;
        c.in_cnt = 1;
    } else if (len > 0) {
        c.out = &iov;
        c.out_cnt = 1;
    }
    assert_int_equal(vus_fe_cmd_exec(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    return c;
}

static uint8_t pr_out(struct vus_fe *fe, uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key,
                      uint8_t flags)
{
    uint8_t cdb[10] = { 0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0 };
    uint8_t *pl = vus_fe_alloc(fe, 24, 8);

    memset(pl, 0, 24);
    put_be64(pl, key);
    put_be64(pl + 8, sa_key);
    pl[20] = flags;
    return run(fe, cdb, 10, pl, 24, false).status;
}

/* PERSISTENT RESERVE IN into buf (256 bytes of guest memory); returns the status. */
static uint8_t pr_in(struct vus_fe *fe, uint8_t sa, uint8_t *buf)
{
    uint8_t cdb[10] = { 0x5e, sa, 0, 0, 0, 0, 0, 1, 0, 0 };

    memset(buf, 0, 256);
    return run(fe, cdb, 10, buf, 256, true).status;
}

static uint8_t rw(struct vus_fe *fe, bool write, uint8_t *buf)
{
    uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 };

    return run(fe, cdb, 10, buf, 512, !write).status;
}

static uint8_t simple(struct vus_fe *fe, uint8_t op)
{
    uint8_t cdb[6] = { op };

    return run(fe, cdb, 6, NULL, 0, false).status;
}

static void attach_bdev(const char *ctrl, const char *bdev)
{
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", ctrl, "socket_path", sock_path(ctrl));
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", ctrl, "bdev", bdev, "target",
            0, "lun", 0);
}

static void attach_shared(const char *ctrl)
{
    attach_bdev(ctrl, "shared");
}

static struct vus_fe *open_ctrl(const char *ctrl)
{
    struct vus_fe *fe;

    assert_int_equal(mgmt_fe_open(sock_path(ctrl), 1, 4 * MiB, &fe), 0);
    clear_ua(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0);
    return fe;
}

static void test_pr_two_controllers(void **state)
{
    (void)state;
    rpc_do(&cl, "bdev_create", "{\"name\":\"shared\",\"type\":\"ram\",\"size\":\"4M\"}");
    attach_shared("pa");
    attach_shared("pb");
    struct vus_fe *a = open_ctrl("pa"), *b = open_ctrl("pb");
    uint8_t *buf = vus_fe_alloc(a, 4096, 4096), *bbuf = vus_fe_alloc(b, 4096, 4096);

    /* Both register; b reads both keys and generation 2. */
    assert_int_equal(pr_out(a, 0x00, 0, 0, 0xa, 0), 0);
    assert_int_equal(pr_out(b, 0x06, 0, 0, 0xb, 0), 0);
    assert_int_equal(pr_in(b, 0x00, bbuf), 0);
    assert_int_equal(get_be32(bbuf), 2);
    assert_int_equal(get_be32(bbuf + 4), 16);

    /* a reserves Write Exclusive: b reads but cannot write. */
    assert_int_equal(pr_out(a, 0x01, 0x1, 0xa, 0, 0), 0);
    assert_int_equal(rw(b, true, bbuf), RES_CONFLICT);
    assert_int_equal(rw(b, false, bbuf), 0);
    assert_int_equal(rw(a, true, buf), 0);
    assert_int_equal(pr_in(b, 0x01, bbuf), 0);
    assert_int_equal(get_be64(bbuf + 8), 0xa);
    assert_int_equal(bbuf[21], 0x1);

    /* Two different SAS TransportIDs, the holder's marked. */
    assert_int_equal(pr_in(a, 0x03, buf), 0);
    assert_int_equal(get_be32(buf + 4), 96);
    assert_int_equal(buf[8 + 24], 0x06);
    assert_int_equal(buf[8 + 48 + 24], 0x06);
    assert_true(get_be64(buf + 8 + 28) != get_be64(buf + 8 + 48 + 28));
    assert_int_equal((buf[8 + 12] | buf[8 + 48 + 12]) & 1, 1);

    /* b preempts a as Exclusive Access: a hears REGISTRATIONS PREEMPTED, then conflicts. */
    assert_int_equal(pr_out(b, 0x04, 0x3, 0xb, 0xa, 0), 0);
    expect_ua_once(vus_fe_vq(a, VIRTIO_SCSI_VQ_REQUEST), 0, 0, 0x2a, 0x05);
    assert_int_equal(rw(a, false, buf), RES_CONFLICT);
    assert_int_equal(rw(b, true, bbuf), 0);

    /* APTPL: a registers again asking for persistence; the file appears. */
    char path[256];
    struct stat sb;

    snprintf(path, sizeof(path), "%s/pr-shared.json", state_dir);
    assert_int_equal(pr_out(a, 0x00, 0, 0, 0xa2, 0x01), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(pr_in(a, 0x02, buf), 0);
    assert_int_equal(buf[2] & 0x01, 1); /* PTPL_C */
    assert_int_equal(buf[3] & 0x01, 1); /* PTPL_A */

    /* Both LUNs detached: the state goes; attached again, it comes back from the file. */
    vus_fe_close(a);
    vus_fe_close(b);
    rpc_do(&cl, "lun_detach", "{\"controller\":\"pa\",\"target\":0,\"lun\":0}");
    rpc_do(&cl, "lun_detach", "{\"controller\":\"pb\",\"target\":0,\"lun\":0}");
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", "pb", "bdev", "shared",
            "target", 0, "lun", 0);
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", "pa", "bdev", "shared",
            "target", 0, "lun", 0);
    a = open_ctrl("pa");
    b = open_ctrl("pb");
    buf = vus_fe_alloc(a, 4096, 4096);
    bbuf = vus_fe_alloc(b, 4096, 4096);
    assert_int_equal(pr_in(a, 0x00, buf), 0);
    assert_int_equal(get_be32(buf + 4), 16);
    assert_int_equal(pr_in(a, 0x01, buf), 0);
    assert_int_equal(get_be64(buf + 8), 0xb);
    assert_int_equal(buf[21], 0x3);
    assert_int_equal(rw(a, false, buf), RES_CONFLICT);

    /* CLEAR from b: everything goes, a hears RESERVATIONS PREEMPTED; APTPL off removes the file. */
    assert_int_equal(pr_out(b, 0x03, 0, 0xb, 0, 0), 0);
    expect_ua_once(vus_fe_vq(a, VIRTIO_SCSI_VQ_REQUEST), 0, 0, 0x2a, 0x03);
    assert_int_equal(rw(a, true, buf), 0);
    assert_int_equal(pr_out(a, 0x00, 0, 0, 0xa3, 0), 0);
    assert_int_equal(stat(path, &sb), -1);
    assert_int_equal(pr_out(a, 0x00, 0, 0xa3, 0, 0), 0);

    /* RESERVE(6) by a, b conflicts until a's connection closes. */
    assert_int_equal(simple(a, 0x16), 0);
    assert_int_equal(simple(b, 0x00), RES_CONFLICT);
    assert_int_equal(rw(b, false, bbuf), RES_CONFLICT);
    vus_fe_close(a);
    struct timespec t0;
    uint8_t st = 0xff;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((st = simple(b, 0x00)) != 0 && rpc_ms_since(&t0) < 5000)
        usleep(10000);
    assert_int_equal(st, 0);
    vus_fe_close(b);
    rpc_do(&cl, "controller_delete", "{\"name\":\"pa\"}");
    rpc_do(&cl, "controller_delete", "{\"name\":\"pb\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"shared\"}");
}

/*
 * b's READ is in the backend (held by the gate) when a preempts b's
 * registration.  With PREEMPT it finishes GOOD; with PREEMPT AND ABORT it
 * ends ABORTED once the backend lets it go, and b's next WRITE meets a's
 * reservation.  a's own commands are untouched.
 */
static uint8_t held_read_after(struct vus_fe *a, struct vus_fe *b, uint8_t sa, long *logpos)
{
    struct vus_fe_vq *bq = vus_fe_vq(b, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *bbuf = vus_fe_alloc(b, 4096, 4096);
    struct iovec iov = { bbuf, 512 };
    struct vus_fe_cmd c, *done = NULL;
    const char *want[] = { "PREEMPT AND ABORT", NULL };

    memset(&c, 0, sizeof(c));
    cdb_rw16(c.cdb, false, 8, 1);
    c.in = &iov;
    c.in_cnt = 1;
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    assert_int_equal(vus_fe_cmd_submit(bq, &c), 0);
    vus_fe_vq_kick(bq);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    *logpos = mgmt_log_size(&dmn);
    assert_int_equal(pr_out(a, sa, 0x1, 0xa, 0xb, 0), 0);
    /* The abort is the other controller's to start: its log line says it marked the READ. */
    if (sa == 0x05 && !mgmt_log_wait(&dmn, *logpos, want, 5000))
        fail_msg("controller pb did not start aborting its tasks within 5 s");
    fuse_gate_release(&gate);
    for (int t = 0; t < T_TIMEOUT / 10 && !done; t++) {
        done = vus_fe_cmd_reap(bq);
        if (!done)
            vus_fe_vq_wait(bq, 10);
    }
    assert_ptr_equal(done, &c);
    if (c.response == VIRTIO_SCSI_S_OK)
        assert_int_equal(c.status, 0);
    return c.response;
}

static void test_preempt_and_abort(void **state)
{
    long logpos = 0;

    (void)state;
    if (!have_gate)
        skip();
    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", "gated", "type", "file", "path",
            gate.path);
    attach_bdev("ga", "gated");
    attach_bdev("gb", "gated");
    struct vus_fe *a = open_ctrl("ga"), *b = open_ctrl("gb");
    uint8_t *abuf = vus_fe_alloc(a, 4096, 4096), *bbuf = vus_fe_alloc(b, 4096, 4096);

    /* a holds Write Exclusive; b is registered. */
    assert_int_equal(pr_out(a, 0x00, 0, 0, 0xa, 0), 0);
    assert_int_equal(pr_out(b, 0x00, 0, 0, 0xb, 0), 0);
    assert_int_equal(pr_out(a, 0x01, 0x1, 0xa, 0, 0), 0);

    assert_int_equal(held_read_after(a, b, 0x04, &logpos), VIRTIO_SCSI_S_OK);
    expect_ua_once(vus_fe_vq(b, VIRTIO_SCSI_VQ_REQUEST), 0, 0, 0x2a, 0x05);
    assert_int_equal(pr_out(b, 0x00, 0, 0, 0xb, 0), 0);

    assert_int_equal(held_read_after(a, b, 0x05, &logpos), VIRTIO_SCSI_S_ABORTED);
    expect_ua_once(vus_fe_vq(b, VIRTIO_SCSI_VQ_REQUEST), 0, 0, 0x2a, 0x05);
    assert_int_equal(rw(b, true, bbuf), RES_CONFLICT);
    assert_int_equal(rw(b, false, bbuf), 0);
    assert_int_equal(rw(a, true, abuf), 0);

    assert_int_equal(pr_out(a, 0x03, 0, 0xa, 0, 0), 0);
    vus_fe_close(a);
    vus_fe_close(b);
    rpc_do(&cl, "controller_delete", "{\"name\":\"ga\"}");
    rpc_do(&cl, "controller_delete", "{\"name\":\"gb\"}");
    rpc_do(&cl, "bdev_delete", "{\"name\":\"gated\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pr_two_controllers, test_teardown),
        cmocka_unit_test_teardown(test_preempt_and_abort, test_teardown),
    };
    return cmocka_run_group_tests(tests, pr_group_setup, group_teardown);
}
