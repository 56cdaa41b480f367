/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The held-I/O fixture (fuse_gate.h) works, and the kernel does what the
 * daemon's task management will have to live with.  What this kernel (6.18)
 * showed, asserted below (times from cancel submission, on the 2-CPU CI
 * machine):
 *
 * - Reads and writes on the gate's file (direct_io, with or without
 *   O_DIRECT) are issued inline by io_uring_submit() and become async FUSE
 *   requests (FUSE_CAP_ASYNC_DIO, libfuse's default): no thread waits, no
 *   io-wq worker exists.  IORING_OP_ASYNC_CANCEL finds nothing: -ENOENT
 *   within 0.01 ms (0 cancelled with IORING_ASYNC_CANCEL_ALL), no interrupt
 *   reaches the gate, and the I/O completes in full when the gate answers.
 *   The daemon's READ/WRITE go this way, so an abort cannot shorten them.
 * - IORING_OP_FSYNC (the daemon's SYNCHRONIZE CACHE) always waits in an
 *   io-wq worker.  Cancelling it answers -EALREADY within 0.01 ms; the
 *   worker is signalled, the kernel sends FUSE_INTERRUPT, the gate answers
 *   -EINTR and the fsync's CQE is -EINTR 0.03-0.15 ms after the cancel.
 * - Without async DIO (FUSE_GATE_SYNC_DIO) a read with IOSQE_ASYNC waits in
 *   io-wq the same way: cancel -EALREADY, read -EINTR, one interrupt.
 *   Without IOSQE_ASYNC it would block io_uring_submit() itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <liburing.h>

#include "tests/frontend/fuse_gate.h"
#include "tests/frontend/fe_harness.h"

#define GATE_SIZE (8u << 20)
#define QUIET_MS  300 /* how long a held I/O must stay without a completion */

static struct fuse_gate gate;
static struct io_uring ring;
static bool ring_up;
static struct daemon dmn;
static struct vus_fe *fe;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool gate_mounted(const char *dir)
{
    char line[512];
    FILE *f = fopen("/proc/self/mounts", "r");
    bool found = false;

    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, dir) != NULL;
    if (f)
        fclose(f);
    return found;
}

static int setup(void **state)
{
    memset(&dmn, 0, sizeof(dmn));
    dmn.pid = -1;
    if (fuse_gate_start(&gate, GATE_SIZE) < 0)
        return -1;
    ring_up = io_uring_queue_init(64, &ring, 0) == 0;
    if (!ring_up)
        fuse_gate_stop(&gate); /* cmocka skips the teardown of a failed setup */
    return ring_up ? 0 : -1;
}

/* Also after a failed test: release first, as the daemon's orderly exit waits for its I/O. */
static int teardown(void **state)
{
    char dir[sizeof(gate.dir)];

    fuse_gate_release(&gate);
    vus_fe_close(fe);
    fe = NULL;
    if (dmn.pid > 0)
        daemon_stop(&dmn);
    memcpy(dir, gate.dir, sizeof(dir));
    fuse_gate_stop(&gate);
    fuse_gate_stop(&gate); /* idempotent */
    if (ring_up)
        io_uring_queue_exit(&ring);
    ring_up = false;
    if (dir[0] && gate_mounted(dir)) {
        fprintf(stderr, "%s is still mounted\n", dir);
        return -1;
    }
    return 0;
}

static void submit_rw(int fd, bool write, void *buf, size_t len, off_t off, uint64_t ud,
                      unsigned sqe_flags)
{
    /* The kernel has its own copy once submit returns (IORING_FEAT_SUBMIT_STABLE). */
    static struct iovec iov;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

    assert_non_null(sqe);
    iov = (struct iovec){ buf, len };
    if (write)
        io_uring_prep_writev(sqe, fd, &iov, 1, (uint64_t)off);
    else
        io_uring_prep_readv(sqe, fd, &iov, 1, (uint64_t)off);
    sqe->user_data = ud;
    sqe->flags |= sqe_flags;
    double t0 = now_ms();
    assert_int_equal(io_uring_submit(&ring), 1);
    /* The submitter must never wait for the gate: the daemon's workers submit the same way. */
    assert_true(now_ms() - t0 < 100);
}

static void submit_cancel(uint64_t target, unsigned flags, uint64_t ud)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

    assert_non_null(sqe);
    io_uring_prep_cancel64(sqe, target, (int)flags);
    sqe->user_data = ud;
    assert_int_equal(io_uring_submit(&ring), 1);
}

/* One completion within ms: 0 with its user_data and result, or -ETIME. */
static int cqe_wait(int ms, uint64_t *ud, int *res)
{
    struct __kernel_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000LL };
    struct io_uring_cqe *cqe;
    int r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);

    if (r < 0)
        return r;
    *ud = cqe->user_data;
    *res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    return 0;
}

static void expect_cqe(uint64_t ud, int res)
{
    uint64_t got_ud;
    int got_res;

    assert_int_equal(cqe_wait(T_TIMEOUT, &got_ud, &got_res), 0);
    assert_int_equal(got_ud, ud);
    assert_int_equal(got_res, res);
}

static int gate_open(int flags)
{
    int fd = open(gate.path, O_RDWR | O_CLOEXEC | flags);

    assert_true(fd >= 0);
    return fd;
}

/* a. Plain I/O through the mount, each request reaching the gate. */
static void test_plain_io(void **state)
{
    static uint8_t w[65536], r[65536];
    int fd = gate_open(0);
    struct stat st;

    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, GATE_SIZE);
    fill(w, sizeof(w), 1);
    unsigned writes = gate.writes, reads = gate.reads;
    /* Unaligned on purpose: direct_io passes any offset and length through. */
    assert_int_equal(pwrite(fd, w, sizeof(w), 12345), sizeof(w));
    assert_int_equal(pread(fd, r, sizeof(r), 12345), sizeof(r));
    assert_memory_equal(w, r, sizeof(w));
    assert_memory_equal(gate.mem + 12345, w, sizeof(w));
    /* Twice: no page cache in between. */
    assert_int_equal(pread(fd, r, sizeof(r), 12345), sizeof(r));
    assert_true(gate.writes > writes);
    assert_true(gate.reads >= reads + 2);
    assert_int_equal(pread(fd, r, 100, GATE_SIZE - 40), 40);
    assert_int_equal(pread(fd, r, 100, GATE_SIZE), 0);
    unsigned fsyncs = gate.fsyncs;
    assert_int_equal(fsync(fd), 0);
    assert_int_equal(gate.fsyncs, fsyncs + 1);
    assert_int_equal(close(fd), 0);
}

/* b. A held io_uring read has no CQE until release, then all its data. */
static void held_read(int oflags)
{
    enum { N = 32, LEN = 65536 };
    uint8_t *buf = aligned_alloc(4096, N * LEN), *expect = aligned_alloc(4096, LEN);
    int fd = gate_open(oflags);
    uint64_t ud;
    int res;

    assert_non_null(buf);
    assert_non_null(expect);
    fill(expect, LEN, 7);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(pwrite(fd, expect, LEN, (off_t)i * LEN), LEN);
    memset(buf, 0, N * LEN);

    fuse_gate_hold(&gate, FUSE_GATE_READ);
    submit_rw(fd, false, buf, LEN, 0, 1, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    assert_int_equal(cqe_wait(QUIET_MS, &ud, &res), -ETIME);
    assert_int_equal(fuse_gate_held(&gate), 1);
    fuse_gate_release(&gate);
    expect_cqe(1, LEN);
    assert_memory_equal(buf, expect, LEN);
    assert_int_equal(fuse_gate_held(&gate), 0);

    /* A queue's worth at once: every one reaches the gate (max_background raised). */
    memset(buf, 0, N * LEN);
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    for (unsigned i = 0; i < N; i++)
        submit_rw(fd, false, buf + (size_t)i * LEN, LEN, (off_t)i * LEN, 100 + i, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, N, T_TIMEOUT), 0);
    assert_int_equal(cqe_wait(QUIET_MS, &ud, &res), -ETIME);
    fuse_gate_release(&gate);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(cqe_wait(T_TIMEOUT, &ud, &res), 0);
        assert_true(ud >= 100 && ud < 100 + N);
        assert_int_equal(res, LEN);
    }
    for (unsigned i = 0; i < N; i++)
        assert_memory_equal(buf + (size_t)i * LEN, expect, LEN);
    close(fd);
    free(buf);
    free(expect);
}

static void test_held_read(void **state)
{
    held_read(0);
}

static void test_held_read_o_direct(void **state)
{
    held_read(O_DIRECT);
}

/* b, writes: the memory changes only when the held write is answered. */
static void test_held_write(void **state)
{
    enum { N = 8, LEN = 65536 };
    static const uint8_t zero[N * LEN];
    uint8_t *buf = aligned_alloc(4096, N * LEN);
    int fd = gate_open(0);
    uint64_t ud;
    int res;

    assert_non_null(buf);
    for (unsigned i = 0; i < N; i++)
        fill(buf + (size_t)i * LEN, LEN, 20 + i);
    fuse_gate_hold(&gate, FUSE_GATE_WRITE);
    /* Several at once: async writes do not keep the inode locked while in flight. */
    for (unsigned i = 0; i < N; i++)
        submit_rw(fd, true, buf + (size_t)i * LEN, LEN, (off_t)(i + 1) * LEN, 1 + i, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, N, T_TIMEOUT), 0);
    assert_int_equal(cqe_wait(QUIET_MS, &ud, &res), -ETIME);
    assert_memory_equal(gate.mem + LEN, zero, sizeof(zero));
    fuse_gate_release(&gate);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(cqe_wait(T_TIMEOUT, &ud, &res), 0);
        assert_int_equal(res, LEN);
    }
    assert_memory_equal(gate.mem + LEN, buf, (size_t)N * LEN);
    close(fd);
    free(buf);
}

/* c. Cancelling a held read: the async FUSE request is out of io_uring's reach. */
static void cancel_async_read(int oflags)
{
    enum { LEN = 65536 };
    uint8_t *buf = aligned_alloc(4096, LEN), *expect = aligned_alloc(4096, LEN);
    int fd = gate_open(oflags);
    uint64_t ud;
    int res;

    assert_non_null(buf);
    assert_non_null(expect);
    fill(expect, LEN, 9);
    assert_int_equal(pwrite(fd, expect, LEN, 8192), LEN);
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    submit_rw(fd, false, buf, LEN, 8192, 1, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);

    double t0 = now_ms();
    submit_cancel(1, 0, 2);
    expect_cqe(2, -ENOENT);
    double t_cancel = now_ms() - t0;
    submit_cancel(1, IORING_ASYNC_CANCEL_ALL, 3);
    expect_cqe(3, 0); /* none cancelled */
    assert_int_equal(cqe_wait(QUIET_MS, &ud, &res), -ETIME);
    assert_int_equal(gate.interrupted, 0);
    assert_int_equal(fuse_gate_held(&gate), 1);
    fuse_gate_release(&gate);
    expect_cqe(1, LEN);
    assert_memory_equal(buf, expect, LEN);
    print_message("async read%s: cancel -ENOENT after %.3f ms, CANCEL_ALL 0, no interrupt, "
                  "read %d bytes after release\n",
                  oflags ? " (O_DIRECT)" : "", t_cancel, LEN);
    close(fd);
    free(buf);
    free(expect);
}

static void test_cancel_async_read(void **state)
{
    cancel_async_read(0);
}

static void test_cancel_async_read_o_direct(void **state)
{
    cancel_async_read(O_DIRECT);
}

/* Cancel a held request that waits in io-wq: the interrupt reaches the gate. */
static void cancel_in_io_wq(int fd, bool fsync_op)
{
    static uint8_t buf[65536];
    unsigned before = gate.interrupted;

    fuse_gate_hold(&gate, fsync_op ? FUSE_GATE_FSYNC : FUSE_GATE_READ);
    if (fsync_op) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        sqe->user_data = 1;
        assert_int_equal(io_uring_submit(&ring), 1);
    } else {
        submit_rw(fd, false, buf, sizeof(buf), 0, 1, IOSQE_ASYNC);
    }
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);

    double t0 = now_ms();
    submit_cancel(1, 0, 2);
    expect_cqe(2, -EALREADY);
    double t_cancel = now_ms() - t0;
    expect_cqe(1, -EINTR);
    double t_op = now_ms() - t0;
    assert_int_equal(gate.interrupted, before + 1);
    assert_int_equal(fuse_gate_held(&gate), 0);
    print_message("%s in io-wq: cancel -EALREADY after %.3f ms, op -EINTR after %.3f ms, "
                  "interrupt seen by the gate\n",
                  fsync_op ? "fsync" : "read (sync DIO, IOSQE_ASYNC)", t_cancel, t_op);
    fuse_gate_release(&gate);
}

static void test_cancel_fsync(void **state)
{
    int fd = gate_open(0);

    cancel_in_io_wq(fd, true);
    /* The gate goes on as before. */
    fuse_gate_hold(&gate, FUSE_GATE_FSYNC);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_fsync(sqe, fd, 0);
    sqe->user_data = 5;
    assert_int_equal(io_uring_submit(&ring), 1);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    fuse_gate_release(&gate);
    expect_cqe(5, 0);
    close(fd);
}

static void test_cancel_sync_dio_read(void **state)
{
    fuse_gate_stop(&gate);
    assert_int_equal(fuse_gate_start_flags(&gate, GATE_SIZE, FUSE_GATE_SYNC_DIO), 0);
    int fd = gate_open(0);
    cancel_in_io_wq(fd, false);
    close(fd);
}

/* Release and interrupt racing for the same request: exactly one answer each time. */
static void test_release_interrupt_race(void **state)
{
    int fd = gate_open(0);
    unsigned eintr = 0, before = gate.interrupted;
    uint64_t ud;
    int res;

    for (unsigned i = 0; i < 200; i++) {
        fuse_gate_hold(&gate, FUSE_GATE_FSYNC);
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_fsync(sqe, fd, 0);
        sqe->user_data = 1;
        assert_int_equal(io_uring_submit(&ring), 1);
        assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
        submit_cancel(1, 0, 2);
        if (i % 2)
            usleep(i % 7 * 10);
        fuse_gate_release(&gate);
        for (unsigned k = 0; k < 2; k++) {
            assert_int_equal(cqe_wait(T_TIMEOUT, &ud, &res), 0);
            if (ud == 1) {
                assert_true(res == 0 || res == -EINTR);
                eintr += res == -EINTR;
            }
        }
    }
    assert_int_equal(gate.interrupted - before, eintr);
    print_message("release/interrupt race: %u of 200 interrupted\n", eintr);
    assert_int_equal(fuse_gate_held(&gate), 0);
    close(fd);
}

/* d. The daemon's io_uring path on the gate's file, without and with O_DIRECT. */
static void test_daemon_held_io(void **state)
{
    char lun0[160], lun1[160];
    const char *args[] = { "--lun", lun0, "--lun", lun1, NULL };
    struct vus_fe_cmd c, *done;

    snprintf(lun0, sizeof(lun0), "type=file,path=%s", gate.path);
    snprintf(lun1, sizeof(lun1), "type=file,path=%s,direct=on", gate.path);
    fill(gate.mem, GATE_SIZE, 3); /* nobody else touches it yet */
    assert_int_equal(daemon_start(&dmn, args), 0);
    assert_int_equal(fe_open(&dmn, 1, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *data = vus_fe_alloc(fe, 65536, 4096);
    assert_non_null(data);
    struct iovec iov = { data, 32768 };

    for (unsigned lun = 0; lun < 2; lun++) {
        uint64_t lba = 16 + lun * 256;
        clear_ua(vq, 0, lun);

        /* READ(16) held at the gate: no completion until release, then the data. */
        unsigned reads = gate.reads;
        memset(&c, 0, sizeof(c));
        c.lun = lun;
        cdb_rw16(c.cdb, false, lba, 64);
        c.in = &iov;
        c.in_cnt = 1;
        memset(data, 0, 32768);
        fuse_gate_hold(&gate, FUSE_GATE_READ);
        assert_int_equal(vus_fe_cmd_submit(vq, &c), 0);
        vus_fe_vq_kick(vq);
        assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
        assert_int_equal(vus_fe_vq_wait(vq, QUIET_MS), 0);
        assert_null(vus_fe_cmd_reap(vq));
        assert_int_equal(fuse_gate_held(&gate), 1);
        fuse_gate_release(&gate);
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        done = vus_fe_cmd_reap(vq);
        assert_ptr_equal(done, &c);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c.status, 0);
        assert_memory_equal(data, gate.mem + lba * 512, 32768);
        assert_true(gate.reads > reads);

        /* WRITE(16) held: the file changes only on release. */
        fill(data, 32768, 40 + lun);
        memset(&c, 0, sizeof(c));
        c.lun = lun;
        cdb_rw16(c.cdb, true, lba, 64);
        c.out = &iov;
        c.out_cnt = 1;
        fuse_gate_hold(&gate, FUSE_GATE_WRITE);
        assert_int_equal(vus_fe_cmd_submit(vq, &c), 0);
        vus_fe_vq_kick(vq);
        assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
        assert_int_equal(vus_fe_vq_wait(vq, QUIET_MS), 0);
        assert_memory_not_equal(gate.mem + lba * 512, data, 32768);
        fuse_gate_release(&gate);
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        assert_ptr_equal(vus_fe_cmd_reap(vq), &c);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c.status, 0);
        assert_memory_equal(gate.mem + lba * 512, data, 32768);
    }
    vus_fe_close(fe);
    fe = NULL;
    assert_int_equal(daemon_stop(&dmn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_read_o_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_async_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_async_read_o_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_sync_dio_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_interrupt_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_held_io, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
