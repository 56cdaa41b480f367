/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Malicious frontend, protocol level: messages of the wrong size, missing or
 * extra fds, unknown requests, and memory tables that overlap, lie about
 * their fds, or shrink under running queues.  A broken message must end the
 * connection; a well-formed but unacceptable one must be refused through
 * REPLY_ACK with the connection kept.  After each, the victim daemon serves a
 * new connection, holds no leaked fd, and the bystander controller never
 * noticed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "tests/frontend/fe_bystander.h"
#include "vhost/vu_proto.h"

static int test_setup(void **state)
{
    return abuse_test_setup(state, 0);
}

/* READ of 1 block into buf on vq: 0 done (response in *c), or -ETIMEDOUT. */
static int read_block(struct vus_fe_vq *vq, uint8_t *buf, struct vus_fe_cmd *c, int timeout_ms)
{
    uint8_t cdb[16];

    cdb_rw16(cdb, false, 3, 1);
    return scsi_exec_tmo(vq, c, 0, cdb, 16, buf, 512, 2, timeout_ms);
}

/* One broken message on a running connection: the daemon hangs up. */
static void expect_dropped(uint32_t request, uint32_t flags, const void *payload, uint32_t size,
                           const int *fds, unsigned nfds)
{
    struct abuse_ctx *cx;
    struct vus_fe_cmd c;

    assert_int_equal(test_setup((void **)&cx), 0);
    assert_int_equal(vus_fe_send_raw(cx->fe, request, flags, payload, size, fds, nfds), 0);
    assert_true(vus_fe_peer_closed(cx->fe, T_TIMEOUT));
    /* The rings of the dropped connection are no longer served. */
    assert_true(read_block(cx->vq, cx->data, &c, 100) < 0);
    abuse_done(cx);
}

static void test_wrong_message_sizes(void **state)
{
    uint8_t big[600] = { 0 };
    uint64_t v = 1ull << 32;

    (void)state;
    expect_dropped(VU_SET_FEATURES, VU_VERSION, &v, 4, NULL, 0);
    expect_dropped(VU_SET_FEATURES, VU_VERSION, big, 16, NULL, 0);
    expect_dropped(VU_SET_VRING_NUM, VU_VERSION, big, 4, NULL, 0);
    expect_dropped(VU_SET_VRING_ADDR, VU_VERSION, big, 39, NULL, 0);
    expect_dropped(VU_GET_FEATURES, VU_VERSION, big, 8, NULL, 0);
    expect_dropped(VU_SET_MEM_TABLE, VU_VERSION, big, 4, NULL, 0);
    expect_dropped(VU_SET_OWNER, VU_VERSION, big, sizeof(big), NULL, 0); /* over the limit */
}

static void test_unknown_requests_and_versions(void **state)
{
    uint64_t v = 0;

    (void)state;
    expect_dropped(99, VU_VERSION, &v, 8, NULL, 0);
    expect_dropped(0, VU_VERSION, NULL, 0, NULL, 0);
    expect_dropped(VU_SET_BACKEND_REQ_FD, VU_VERSION, NULL, 0, NULL, 0); /* not offered */
    expect_dropped(VU_SET_LOG_BASE, VU_VERSION, &v, 8, NULL, 0); /* the kernel's 8-byte form */
    expect_dropped(VU_GET_FEATURES, 0, NULL, 0, NULL, 0);
    expect_dropped(VU_GET_FEATURES, 2, NULL, 0, NULL, 0);
}

static void test_missing_fds(void **state)
{
    struct vu_mem_table_msg t = { .nregions = 2 };
    struct vu_mem_single_msg one = { 0 };
    struct vu_inflight_msg inf = { .mmap_size = 4096, .num_queues = 1, .queue_size = 128 };
    uint64_t idx = 2; /* vring 2, fd expected */
    int efd = eventfd(0, EFD_CLOEXEC);

    (void)state;
    t.regions[0] = (struct vu_mem_region_desc){ 0x100000, 1 << 20, 0x7f0000000000ull, 0 };
    t.regions[1] = (struct vu_mem_region_desc){ 0x400000, 1 << 20, 0x7f1000000000ull, 0 };
    one.region = t.regions[0];
    expect_dropped(VU_SET_VRING_KICK, VU_VERSION, &idx, 8, NULL, 0);
    expect_dropped(VU_SET_VRING_CALL, VU_VERSION, &idx, 8, NULL, 0);
    expect_dropped(VU_SET_MEM_TABLE, VU_VERSION, &t, sizeof(t), &efd, 1);
    expect_dropped(VU_ADD_MEM_REG, VU_VERSION, &one, sizeof(one), NULL, 0);
    expect_dropped(VU_SET_INFLIGHT_FD, VU_VERSION, &inf, sizeof(inf), NULL, 0);
    close(efd);
}

static void test_extra_fds(void **state)
{
    int fds[8];
    uint64_t v = 1ull << 32, nofd = 2 | VU_VRING_NOFD_MASK;
    struct vu_mem_single_msg one = { 0 };

    (void)state;
    for (int i = 0; i < 8; i++)
        fds[i] = eventfd(0, EFD_CLOEXEC);
    one.region = (struct vu_mem_region_desc){ 0x100000, 4096, 0x7f0000000000ull, 0 };
    expect_dropped(VU_SET_FEATURES, VU_VERSION, &v, 8, fds, 1);
    expect_dropped(VU_GET_FEATURES, VU_VERSION, NULL, 0, fds, 8);
    expect_dropped(VU_SET_VRING_CALL, VU_VERSION, &nofd, 8, fds, 1);
    expect_dropped(VU_SET_VRING_KICK, VU_VERSION, &v, 8, fds, 2);
    expect_dropped(VU_ADD_MEM_REG, VU_VERSION, &one, sizeof(one), fds, 2);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

static void test_bad_region_counts(void **state)
{
    struct vu_mem_table_msg t = { .nregions = 0 };
    int fds[8];

    (void)state;
    for (int i = 0; i < 8; i++)
        fds[i] = eventfd(0, EFD_CLOEXEC);
    expect_dropped(VU_SET_MEM_TABLE, VU_VERSION, &t, sizeof(t), NULL, 0);
    t.nregions = 9;
    expect_dropped(VU_SET_MEM_TABLE, VU_VERSION, &t, sizeof(t), fds, 8);
    t.nregions = 3;
    expect_dropped(VU_SET_MEM_TABLE, VU_VERSION, &t, 8 + 2 * 32, fds, 3); /* cut short */
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

/* A message cut in the middle, then the socket closes. */
static void test_truncated_message(void **state)
{
    struct abuse_ctx *cx;
    struct vu_msg_hdr h = { VU_SET_VRING_NUM, VU_VERSION, 8 };

    (void)state;
    assert_int_equal(test_setup((void **)&cx), 0);
    assert_int_equal(write(vus_fe_socket(cx->fe), &h, sizeof(h)), (ssize_t)sizeof(h));
    assert_int_equal(write(vus_fe_socket(cx->fe), &h, 3), 3);
    abuse_done(cx);
}

/* Well-formed vring messages with values out of range: refused, connection kept. */
static void test_bad_vring_values(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vu_vring_state st;
    struct vu_vring_addr a = {
        .index = 2, .desc_uva = 0x1000, .avail_uva = 0x2000, .used_uva = 0x3000
    };
    struct vus_fe_cmd c;

    st = (struct vu_vring_state){ 200, 128 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 1);
    st = (struct vu_vring_state){ 3, 100 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 1);
    st = (struct vu_vring_state){ 3, 65536 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 1);
    st = (struct vu_vring_state){ 3, 1 << 20 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 1);
    st = (struct vu_vring_state){ 3, 5 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 1);
    a.index = 3;
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 1);
    uint64_t bad = ~0ull;
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_FEATURES, &bad, 8, NULL, 0), 1);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_PROTOCOL_FEATURES, &bad, 8, NULL, 0), 1);
    struct vu_inflight_msg inf = { .num_queues = 0, .queue_size = 128 };
    assert_int_equal(
        vus_fe_send_raw(cx->fe, VU_GET_INFLIGHT_FD, VU_VERSION, &inf, sizeof(inf), NULL, 0), 0);
    uint32_t req;
    assert_int_equal(vus_fe_recv_raw(cx->fe, &req, &inf, sizeof(inf), T_TIMEOUT), (int)sizeof(inf));
    assert_int_equal(req, VU_GET_INFLIGHT_FD);
    assert_int_equal(inf.mmap_size, 0);
    /* The untouched queue 2 still serves. */
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    abuse_done(cx);
}

/* Regions that overlap, whose fd is too small, of size 0, or wrapping: refused. */
static void test_bad_memory_tables(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vu_mem_table_msg t = { .nregions = 2 };
    struct vus_fe_cmd c;
    void *h0, *h1;
    uint64_t g0, g1;
    size_t s0, s1;
    int fds[2] = { vus_fe_region_fd(cx->fe, 0), vus_fe_region_fd(cx->fe, 1) };

    assert_int_equal(vus_fe_region(cx->fe, 0, &h0, &g0, &s0), 0);
    assert_int_equal(vus_fe_region(cx->fe, 1, &h1, &g1, &s1), 0);
    for (unsigned k = 0; k < 5; k++) {
        t.nregions = 2;
        t.regions[0] = (struct vu_mem_region_desc){ g0, s0, (uintptr_t)h0, 0 };
        t.regions[1] = (struct vu_mem_region_desc){ g1, s1, (uintptr_t)h1, 0 };
        if (k == 0)
            t.regions[1].gpa = g0 + 4096; /* guest ranges overlap */
        else if (k == 1)
            t.regions[1].uva = (uintptr_t)h0 + 4096; /* user ranges overlap */
        else if (k == 2)
            t.regions[1].size = s1 * 4; /* larger than its fd */
        else if (k == 3)
            t.regions[1].size = 0;
        else
            t.regions[1].gpa = ~0ull - 4095; /* gpa + size wraps */
        assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_MEM_TABLE, &t, sizeof(t), fds, 2), 1);
        /* Restore the good table; I/O works again on the same connection. */
        assert_int_equal(vus_fe_set_mem_table(cx->fe, NULL, 0), 0);
        assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
        assert_int_equal(c.status, 0);
    }
    /* The same region added twice. */
    struct vu_mem_single_msg one = { .region = t.regions[0] };
    one.region = (struct vu_mem_region_desc){ g0, s0, (uintptr_t)h0, 0 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_ADD_MEM_REG, &one, sizeof(one), fds, 1), 1);
    /* Removing a region that is not there. */
    one.region.gpa = 0x10;
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_REM_MEM_REG, &one, sizeof(one), NULL, 0), 1);
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    abuse_done(cx);
}

/* The table shrinks under running queues, then grows back. */
static void test_memory_shrinks_under_queues(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vus_fe_cmd c;
    const unsigned only0 = 0, only1 = 1;
    struct vu_mem_single_msg one = { 0 };
    void *h1;
    uint64_t g1;
    size_t s1;

    /* The data region goes away: a request into it fails alone. */
    assert_int_equal(vus_fe_set_mem_table(cx->fe, &only0, 1), 0);
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.used_len, 0);
    assert_int_equal(c.response, 0xff);
    assert_int_equal(vus_fe_set_mem_table(cx->fe, NULL, 0), 0);
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.used_len, 108 + 512);

    /* The rings' region goes away: nothing is served, and nothing is lost. */
    assert_int_equal(vus_fe_set_mem_table(cx->fe, &only1, 1), 0);
    assert_int_equal(read_block(cx->vq, cx->data, &c, 200), -ETIMEDOUT);
    assert_int_equal(vus_fe_set_mem_table(cx->fe, NULL, 0), 0);
    assert_int_equal(vus_fe_vq_wait(cx->vq, T_TIMEOUT), 1);
    assert_ptr_equal(vus_fe_cmd_reap(cx->vq), &c);
    assert_int_equal(c.status, 0);

    /* REM_MEM_REG / ADD_MEM_REG of the data region while queues run. */
    assert_int_equal(vus_fe_region(cx->fe, 1, &h1, &g1, &s1), 0);
    one.region = (struct vu_mem_region_desc){ g1, s1, (uintptr_t)h1, 0 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_REM_MEM_REG, &one, sizeof(one), NULL, 0), 0);
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.used_len, 0);
    int fd1 = vus_fe_region_fd(cx->fe, 1);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_ADD_MEM_REG, &one, sizeof(one), &fd1, 1), 0);
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    abuse_done(cx);
}

struct flipper {
    struct vus_fe_vq *vq;
    uint8_t *data;
    atomic_bool stop;
    unsigned ok, failed, bad;
};

static void *io_under_flips(void *arg)
{
    struct flipper *f = arg;
    struct vus_fe_cmd c;

    while (!atomic_load(&f->stop)) {
        int r = read_block(f->vq, f->data, &c, T_TIMEOUT);
        if (r == 0 && c.used_len == 0 && c.response == 0xff)
            f->failed++;
        else if (r == 0 && c.response == 0 && c.status == 0 && c.used_len == 108 + 512)
            f->ok++;
        else
            f->bad++;
    }
    return NULL;
}

/* I/O streams on one queue while the table flips between full and shrunk. */
static void test_memory_flips_during_io(void **state)
{
    struct abuse_ctx *cx = *state;
    struct flipper f = { .vq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_REQUEST + 1), .data = cx->data };
    const unsigned only0 = 0;
    pthread_t th;

    atomic_init(&f.stop, false);
    assert_int_equal(pthread_create(&th, NULL, io_under_flips, &f), 0);
    for (unsigned i = 0; i < 40; i++) {
        assert_int_equal(vus_fe_set_mem_table(cx->fe, i % 2 ? NULL : &only0, i % 2 ? 0 : 1), 0);
        usleep(2000);
    }
    assert_int_equal(vus_fe_set_mem_table(cx->fe, NULL, 0), 0);
    usleep(20000);
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(f.bad, 0);
    assert_true(f.ok > 0);
    abuse_done(cx);
}

/*
 * An inflight region whose fd is shorter than the size claimed: the daemon
 * must refuse it (touching the missing pages would be SIGBUS).
 */
static void test_inflight_fd_shorter_than_claimed(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vu_inflight_msg inf = {
        .mmap_size = 1 << 20, .mmap_offset = 0, .num_queues = 4, .queue_size = 128
    };
    struct vus_fe_cmd c;
    int fd = memfd_create("short-inflight", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &inf, sizeof(inf), &fd, 1), 1);
    close(fd);
    assert_true(daemon_alive(&victim));
    assert_int_equal(read_block(cx->vq, cx->data, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
    abuse_done(cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_message_sizes),
        cmocka_unit_test(test_unknown_requests_and_versions),
        cmocka_unit_test(test_missing_fds),
        cmocka_unit_test(test_extra_fds),
        cmocka_unit_test(test_bad_region_counts),
        cmocka_unit_test(test_truncated_message),
        cmocka_unit_test_setup_teardown(test_bad_vring_values, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_memory_tables, test_setup, abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_memory_shrinks_under_queues, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_memory_flips_during_io, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_inflight_fd_shorter_than_claimed, test_setup,
                                        abuse_test_teardown),
    };
    return cmocka_run_group_tests(tests, abuse_group_setup, abuse_group_teardown);
}
