/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A large discard on a block-device LUN does not stall the worker.
 *
 * The daemon runs one worker with two LUNs: a loop device over a fully
 * written 256 MiB tmpfs file, and a RAM LUN.  An UNMAP of the whole loop LUN
 * and then a READ of the RAM LUN go into the same request queue with one
 * kick, so the worker takes them in one batch.  A worker that discards with
 * a synchronous ioctl finishes the UNMAP before it even looks at the READ;
 * one that hands the discard to the kernel (or to a helper thread) answers
 * the READ first.  The used ring order tells which.  The backing file's
 * st_blocks shows the discard really reached the storage.
 *
 * Needs root and a free loop device; skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <cmocka.h>
#include <linux/loop.h>

#include "tests/frontend/fe_harness.h"

#define DISK_BYTES (256u << 20)
#define RAM_LUN    1
#define LOOP_LUN   0

static struct daemon dmn = { .pid = -1 };
static struct vus_fe *fe;
static char backing[64], loopdev[64];
static int backing_fd = -1, loop_fd = -1;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Everything the test set up goes away, whether it passed, failed or skipped. */
static int cleanup(void **state)
{
    char cmd[128];
    int ret = 0;

    if (fe) {
        vus_fe_close(fe);
        fe = NULL;
    }
    if (dmn.pid > 0 && daemon_stop(&dmn) != 0)
        ret = -1;
    if (loop_fd >= 0) {
        /*
         * Detached through our own descriptor: by name, after autoclear, the
         * number could already belong to someone else's device.  With the
         * device still open, the kernel detaches it at the last close.
         */
        if (ioctl(loop_fd, LOOP_CLR_FD, 0) != 0)
            fprintf(stderr, "note: LOOP_CLR_FD on %s: %s\n", loopdev, strerror(errno));
        close(loop_fd);
        loop_fd = -1;
    } else if (loopdev[0]) {
        snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
        if (system(cmd) != 0)
            fprintf(stderr, "note: %s failed\n", cmd);
    }
    loopdev[0] = 0;
    if (backing_fd >= 0) {
        close(backing_fd);
        backing_fd = -1;
    }
    if (backing[0]) {
        unlink(backing);
        backing[0] = 0;
    }
    return ret;
}

/*
 * A loop device over a tmpfs file full of data.  The file is unlinked at
 * once (the loop device and backing_fd keep it), and the device is set to
 * detach itself when its last user closes it, so even a killed test leaks
 * neither.  Returns false when no loop device can be had.
 */
static bool make_loop_device(void)
{
    static uint8_t chunk[1 << 20];
    char cmd[160];
    FILE *p;

    snprintf(backing, sizeof(backing), "/dev/shm/vus-discard-XXXXXX");
    backing_fd = mkstemp(backing);
    assert_true(backing_fd >= 0);
    memset(chunk, 0xa5, sizeof(chunk));
    for (size_t off = 0; off < DISK_BYTES; off += sizeof(chunk))
        assert_int_equal(pwrite(backing_fd, chunk, sizeof(chunk), (off_t)off),
                         (ssize_t)sizeof(chunk));
    snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", backing);
    p = popen(cmd, "r");
    if (p) {
        if (!fgets(loopdev, sizeof(loopdev), p))
            loopdev[0] = 0;
        pclose(p);
    }
    loopdev[strcspn(loopdev, "\n")] = 0;
    unlink(backing);
    backing[0] = 0;
    if (!loopdev[0])
        return false;
    loop_fd = open(loopdev, O_RDONLY | O_CLOEXEC);
    assert_true(loop_fd >= 0);
    struct loop_info64 info;
    if (ioctl(loop_fd, LOOP_GET_STATUS64, &info) == 0) {
        info.lo_flags |= LO_FLAGS_AUTOCLEAR;
        if (ioctl(loop_fd, LOOP_SET_STATUS64, &info) != 0)
            fprintf(stderr, "note: cannot set autoclear on %s: %s\n", loopdev, strerror(errno));
    }
    return true;
}

static void unmap_param(uint8_t *param, uint64_t lba, uint32_t blocks)
{
    memset(param, 0, 24);
    put_be16(param, 22);
    put_be16(param + 2, 16);
    put_be64(param + 8, lba);
    put_be32(param + 16, blocks);
}

static void test_discard_does_not_block_worker(void **state)
{
    char lunspec[128];
    struct vus_fe_cmd unmap, rd, c, *first = NULL, *done;
    struct iovec piov, riov;
    struct stat st;
    uint8_t cdb[16];

    if (geteuid() != 0) {
        fprintf(stderr, "skipped: a loop device needs root\n");
        skip();
    }
    if (!make_loop_device()) {
        fprintf(stderr, "skipped: no loop device (losetup -f failed)\n");
        skip();
    }
    snprintf(lunspec, sizeof(lunspec), "type=file,path=%s", loopdev);
    const char *args[] = { "--lun", lunspec, "--lun", "type=ram,size=16M", "--threads", "1", NULL };
    assert_int_equal(daemon_start(&dmn, args), 0);
    assert_int_equal(fe_open(&dmn, 1, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *param = vus_fe_alloc(fe, 4096, 4096), *buf = vus_fe_alloc(fe, 65536, 4096);
    assert_non_null(param);
    assert_non_null(buf);
    clear_ua(vq, 0, LOOP_LUN);
    clear_ua(vq, 0, RAM_LUN);

    /* Something to read back on the RAM LUN. */
    fill(buf, 4096, 5);
    cdb_rw16(cdb, true, 0, 8);
    assert_int_equal(scsi_exec(vq, &c, RAM_LUN, cdb, 16, buf, 4096, 1), 0);
    assert_int_equal(c.status, 0);

    assert_int_equal(fstat(backing_fd, &st), 0);
    blkcnt_t before = st.st_blocks;
    assert_true(before >= (blkcnt_t)(DISK_BYTES / 512));

    /* UNMAP of the whole loop LUN, then a READ of the RAM LUN: one batch. */
    unmap_param(param, 0, DISK_BYTES / 512);
    memset(&unmap, 0, sizeof(unmap));
    unmap.lun = LOOP_LUN;
    unmap.cdb[0] = 0x42;
    put_be16(unmap.cdb + 7, 24);
    piov = (struct iovec){ param, 24 };
    unmap.out = &piov;
    unmap.out_cnt = 1;
    memset(&rd, 0, sizeof(rd));
    rd.lun = RAM_LUN;
    cdb_rw16(rd.cdb, false, 0, 8);
    memset(buf + 8192, 0, 4096);
    riov = (struct iovec){ buf + 8192, 4096 };
    rd.in = &riov;
    rd.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq, &unmap), 0);
    assert_int_equal(vus_fe_cmd_submit(vq, &rd), 0);
    double t0 = now_ms(), t_read = 0, t_unmap = 0;
    vus_fe_vq_kick(vq);

    for (unsigned n = 0; n < 2;) {
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        while ((done = vus_fe_cmd_reap(vq))) {
            if (!first)
                first = done;
            if (done == &rd)
                t_read = now_ms() - t0;
            else
                t_unmap = now_ms() - t0;
            n++;
        }
    }
    fprintf(stderr, "READ (RAM LUN) done after %.2f ms, UNMAP of %u MiB after %.2f ms; %s first\n",
            t_read, DISK_BYTES >> 20, t_unmap, first == &rd ? "READ" : "UNMAP");
    assert_int_equal(unmap.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(unmap.status, 0);
    assert_int_equal(rd.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(rd.status, 0);
    assert_memory_equal(buf, buf + 8192, 4096);
    if (first != &rd)
        fail_msg("the UNMAP completed before the READ queued behind it: "
                 "the worker blocked in the discard");

    /* The discard reached the storage: the loop device punched the tmpfs file. */
    assert_int_equal(fstat(backing_fd, &st), 0);
    fprintf(stderr, "backing file: %lld -> %lld 512-byte blocks\n", (long long)before,
            (long long)st.st_blocks);
    assert_true(st.st_blocks < before / 16);
    /* And the loop device reads the holes back as zeroes. */
    memset(buf, 0xee, 65536);
    cdb_rw16(cdb, false, 1000, 128);
    assert_int_equal(scsi_exec(vq, &c, LOOP_LUN, cdb, 16, buf, 65536, 2), 0);
    assert_int_equal(c.status, 0);
    for (unsigned i = 0; i < 65536; i++)
        assert_int_equal(buf[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_discard_does_not_block_worker, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
