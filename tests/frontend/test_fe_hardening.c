/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Frontend attacks that once corrupted, killed or stalled the daemon (the
 * hardening issue, items 1, 2, 3, 9 and 10), each replayed through the real
 * socket against the real daemon: an inflight region whose header claims a
 * bigger queue than it was sized for, call and kick fds that would block,
 * guest memory and inflight files shrunk under the daemon's mappings, a data
 * buffer over 4 GiB, and a second frontend on a busy socket.  After each,
 * the victim daemon serves a fresh connection and the bystander controller
 * never noticed (fe_bystander.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "tests/frontend/fe_bystander.h"
#include "vhost/vu_proto.h"

#define REQ0 VIRTIO_SCSI_VQ_REQUEST

static int test_setup(void **state)
{
    return abuse_test_setup(state, 0);
}

/* n READs of one block each on vq, all in one batch; every one must complete. */
static void read_batch(struct vus_fe_vq *vq, uint8_t *buf, unsigned n)
{
    struct vus_fe_cmd c[32];
    struct iovec iov[32];

    assert_true(n <= 32);
    for (unsigned i = 0; i < n; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        cdb_rw16(c[i].cdb, false, i, 1);
        iov[i] = (struct iovec){ buf + i * 512, 512 };
        c[i].in = &iov[i];
        c[i].in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(vq, &c[i]), 0);
    }
    vus_fe_vq_kick(vq);
    for (unsigned done = 0; done < n;) {
        assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
        struct vus_fe_cmd *r;
        while ((r = vus_fe_cmd_reap(vq))) {
            assert_int_equal(r->response, VIRTIO_SCSI_S_OK);
            assert_int_equal(r->status, 0);
            done++;
        }
    }
}

/* Everything outside [keep, keep + keep_len) of a and b is equal. */
static void assert_equal_outside(const uint8_t *a, const uint8_t *b, size_t len, size_t keep,
                                 size_t keep_len)
{
    for (size_t i = 0; i < len; i++) {
        if (i >= keep && i < keep + keep_len)
            continue;
        if (a[i] != b[i])
            fail_msg("byte %zu of the inflight region changed (%#x -> %#x) outside the queue's "
                     "own part [%zu, %zu)",
                     i, a[i], b[i], keep, keep + keep_len);
    }
}

/* Header of one queue's inflight region (vhost-user.rst): le64 features, le16 version, desc_num. */
static void write_inflight_header(uint8_t *q, uint16_t version, uint16_t desc_num)
{
    uint16_t v = htole16(version), d = htole16(desc_num);

    memcpy(q + 8, &v, 2);
    memcpy(q + 10, &d, 2);
}

/*
 * Item 1.  A region declared for 4-entry queues (128 bytes each) whose
 * headers claim 128 entries, the ring's real size: recording a pop of head h
 * at 16 + 16 h bytes into the queue's part would land in other queues' parts
 * and past the region.  Nothing outside vring 2's part may change.
 */
static void test_inflight_header_claims_bigger_queue(void **state)
{
    struct abuse_ctx *cx = *state;
    const unsigned nq = 4, qlen = 128;
    const size_t len = 65536;
    struct vu_inflight_msg inf = { .mmap_size = len, .num_queues = nq, .queue_size = 4 };
    int fd = memfd_create("lying-inflight", MFD_CLOEXEC);
    uint8_t *m, *before = malloc(len);

    assert_true(fd >= 0 && before);
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    for (unsigned q = 0; q < nq; q++)
        write_inflight_header(m + q * qlen, 1, 128);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &inf, sizeof(inf), &fd, 1), 0);
    memcpy(before, m, len);

    for (unsigned round = 0; round < 4; round++)
        read_batch(cx->vq, cx->data, 32);
    assert_equal_outside(before, m, len, REQ0 * qlen, qlen);

    munmap(m, len);
    close(fd);
    free(before);
    abuse_done(cx);
}

/*
 * Item 1 again, through GET_INFLIGHT_FD: the daemon's own region, sized for
 * 4-entry queues, whose header the frontend then edits to claim 128 entries
 * before restarting the ring.  Item 3: that region is sealed, so the
 * frontend cannot shrink it either.
 */
static void test_inflight_region_edited_after_get(void **state)
{
    struct abuse_ctx *cx = *state;
    const unsigned nq = 4, qlen = 128;
    uint64_t size = 0;
    uint8_t *m, before[4096];
    uint16_t base;
    int fd;

    assert_int_equal(vus_fe_get_inflight_fd(cx->fe, nq, 4, &fd, &size), 0);
    assert_int_equal(size, nq * qlen);
    /* The whole page: bytes past the region's end are shared with the daemon's mapping too. */
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    write_inflight_header(m + REQ0 * qlen, 1, 128);
    memcpy(before, m, sizeof(before));

    assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base), 0);
    assert_int_equal(vus_fe_vq_start(cx->fe, REQ0), 0);
    for (unsigned round = 0; round < 4; round++)
        read_batch(cx->vq, cx->data, 32);
    assert_equal_outside(before, m, sizeof(before), REQ0 * qlen, qlen);
    assert_int_equal(ftruncate(fd, 0), -1);
    assert_int_equal(errno, EPERM);

    munmap(m, 4096);
    close(fd);
    abuse_done(cx);
}

/* Item 2.  Pipes could fill up or stay empty whatever their flags: refused as call and kick fds. */
static void test_pipes_refused_as_notify_fds(void **state)
{
    struct abuse_ctx *cx = *state;
    uint64_t idx = REQ0;
    int p[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_CALL, &idx, 8, &p[1], 1), 1);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_KICK, &idx, 8, &p[0], 1), 1);
    close(p[0]);
    close(p[1]);
    read_batch(cx->vq, cx->data, 8); /* the ring kept its good fds */
    abuse_done(cx);
}

/*
 * Item 2.  A blocking eventfd whose counter is one short of its maximum, as
 * call fd: every signal would block the worker for good.  Requests must keep
 * completing (reaped from the used ring, as no signal can get through), and
 * the ring must stop promptly.
 */
static void test_call_fd_that_would_block(void **state)
{
    struct abuse_ctx *cx = *state;
    uint64_t idx = REQ0, full = 0xfffffffffffffffeull;
    int efd = eventfd(0, EFD_CLOEXEC);
    uint16_t base;

    assert_true(efd >= 0);
    assert_int_equal(write(efd, &full, sizeof(full)), sizeof(full));
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_CALL, &idx, 8, &efd, 1), 0);
    for (unsigned i = 0; i < 200; i++) {
        struct vus_fe_cmd c;
        struct iovec iov = { cx->data, 512 };
        bool done = false;

        memset(&c, 0, sizeof(c));
        cdb_rw16(c.cdb, false, i, 1);
        c.in = &iov;
        c.in_cnt = 1;
        assert_int_equal(vus_fe_cmd_submit(cx->vq, &c), 0);
        vus_fe_vq_kick(cx->vq);
        for (int t = 0; t < T_TIMEOUT && !done; t++) {
            if (vus_fe_cmd_reap(cx->vq))
                done = true;
            else
                usleep(1000);
        }
        if (!done)
            fail_msg("request %u never completed: a worker is stuck signalling", i);
        assert_int_equal(c.status, 0);
    }
    assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base), 0);
    close(efd);
    abuse_done(cx);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

#define VIRTQ_FLOOD_MAX 512

/*
 * Fill vq's whole ring (nothing may be in flight on it) with requests of two
 * descriptors each, and keep it full from a thread.
 */
static void flood_start(struct fe_refill *fl, struct vus_fe *fe, struct vus_fe_vq *vq, bool control,
                        uint8_t *buf)
{
    static struct vus_fe_cmd tur[VIRTQ_FLOOD_MAX];
    unsigned n = vus_fe_vq_size(vq) / 2;
    uint16_t avail = (uint16_t)(vus_fe_vq_used_idx(vq) + 2 * n);

    for (unsigned i = 0; i < n; i++) {
        uint64_t req, resp;
        if (control) {
            /* AN queries: answered at once, like inline I/O. */
            struct virtio_scsi_ctrl_an_req an = { .type = htole32(VIRTIO_SCSI_T_AN_QUERY) };
            vus_fe_lun_encode(an.lun, 0, 0);
            memcpy(buf + i * 64, &an, sizeof(an));
            assert_int_equal(vus_fe_gpa(fe, buf + i * 64, 16, &req), 0);
            assert_int_equal(vus_fe_gpa(fe, buf + i * 64 + 32, 8, &resp), 0);
            struct vus_fe_seg segs[2] = { { req, sizeof(an), false }, { resp, 8, true } };
            assert_true(vus_fe_vq_add(vq, segs, 2, 0, NULL) >= 0);
        } else {
            /* TEST UNIT READY: no data, answered inline. */
            assert_true(i < VIRTQ_FLOOD_MAX);
            memset(&tur[i], 0, sizeof(tur[i]));
            assert_int_equal(vus_fe_cmd_submit(vq, &tur[i]), 0);
        }
    }
    /* The other half of the avail ring: the same heads again, offered at once. */
    vus_fe_vq_avail_jump(vq, (uint16_t)n);
    assert_int_equal(fe_refill_start(fl, vq, avail), 0);
}

/*
 * Item 5.  A request queue kept full for ever by its guest: stopping the ring
 * (GET_VRING_BASE, which pauses the workers) must win within a bounded time.
 */
static void test_full_request_ring_cannot_postpone_a_pause(void **state)
{
    struct abuse_ctx *cx = *state;
    struct fe_refill fl;
    struct timespec t0;
    uint16_t base;

    flood_start(&fl, cx->fe, cx->vq, false, cx->data);
    usleep(200000);
    assert_true(atomic_load(&fl.refills) > 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = vus_fe_vq_stop(cx->fe, REQ0, &base);
    long ms = ms_since(&t0);
    fe_refill_stop(&fl);
    if (getenv("VUS_FE_VERBOSE"))
        fprintf(stderr, "flood: %lu refills, GET_VRING_BASE after %ld ms\n",
                atomic_load(&fl.refills), ms);
    assert_int_equal(r, 0);
    if (ms > 2000)
        fail_msg("GET_VRING_BASE took %ld ms under a flood", ms);
    abuse_done(cx);
}

/* Item 5.  The control queue kept full for ever: the vhost-user socket is still served. */
static void test_full_control_ring_cannot_starve_the_socket(void **state)
{
    struct abuse_ctx *cx = *state;
    struct fe_refill fl;
    struct timespec t0;

    flood_start(&fl, cx->fe, vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_CONTROL), true, cx->data);
    usleep(200000);
    assert_true(atomic_load(&fl.refills) > 0);
    for (int i = 0; i < 20; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* The reply is the feature word; any answer in time will do. */
        int r = vus_fe_request_ack(cx->fe, VU_GET_FEATURES, NULL, 0, NULL, 0);
        long ms = ms_since(&t0);
        if (r < 0 || ms > 1000) {
            fe_refill_stop(&fl);
            fail_msg("GET_FEATURES: %d after %ld ms under a control-queue flood", r, ms);
        }
    }
    fe_refill_stop(&fl);
    abuse_done(cx);
}

/* A WRITE of 8 blocks from buf, submitted and kicked; nothing waited for. */
static void write_no_wait(struct vus_fe_vq *vq, struct vus_fe_cmd *c, struct iovec *iov,
                          uint8_t *buf)
{
    memset(c, 0, sizeof(*c));
    cdb_rw16(c->cdb, true, 0, 8);
    *iov = (struct iovec){ buf, 4096 };
    c->out = iov;
    c->out_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq, c), 0);
    vus_fe_vq_kick(vq);
}

/*
 * Item 3.  The data region's file shrinks to nothing, then a WRITE takes its
 * data from it: the worker's copy would be SIGBUS.  The daemon must live on
 * and drop only this connection.
 */
static void test_guest_memory_file_shrunk(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vus_fe_cmd c;
    struct iovec iov;

    assert_int_equal(ftruncate(vus_fe_region_fd(cx->fe, 1), 0), 0);
    write_no_wait(cx->vq, &c, &iov, cx->data);
    assert_true(vus_fe_peer_closed(cx->fe, T_TIMEOUT));
    assert_true(daemon_alive(&victim));
    abuse_done(cx);
}

/* The region holding the rings shrinks; the control thread is the one to touch it first. */
static void test_ring_memory_file_shrunk(void **state)
{
    struct abuse_ctx *cx = *state;
    uint16_t base;

    assert_int_equal(vus_fe_vq_stop(cx->fe, REQ0, &base), 0);
    assert_int_equal(ftruncate(vus_fe_region_fd(cx->fe, 0), 0), 0);
    /* SET_VRING_ADDR makes the daemon read the used index out of the shrunk region. */
    vus_fe_vq_start(cx->fe, REQ0);
    assert_true(vus_fe_peer_closed(cx->fe, T_TIMEOUT));
    assert_true(daemon_alive(&victim));
    abuse_done(cx);
}

/* A frontend-provided inflight region shrinks; the next pop records itself there. */
static void test_inflight_file_shrunk(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vu_inflight_msg inf = { .mmap_size = 4 * 2112, .num_queues = 4, .queue_size = 128 };
    int fd = memfd_create("shrinking-inflight", MFD_CLOEXEC);
    struct vus_fe_cmd c;
    struct iovec iov;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 3 * 4096), 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &inf, sizeof(inf), &fd, 1), 0);
    read_batch(cx->vq, cx->data, 4); /* tracked normally */
    assert_int_equal(ftruncate(fd, 0), 0);
    write_no_wait(cx->vq, &c, &iov, cx->data);
    assert_true(vus_fe_peer_closed(cx->fe, T_TIMEOUT));
    assert_true(daemon_alive(&victim));
    close(fd);
    abuse_done(cx);
}

/*
 * Item 9.  A READ of one block into a data-in buffer of 4 GiB + 4 KiB (two
 * descriptors over a sparse 5 GiB region): the residual does not fit the
 * 32-bit field and must saturate, not wrap to a small number.
 */
static void test_resid_of_buffer_over_4gib(void **state)
{
    const uint64_t big = (4ull << 30) + 4096;
    struct vus_fe_config cfg = { .socket_path = victim.sock,
                                 .mem_size = 10ull << 30,
                                 .mem_regions = 2,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    struct vus_fe *fe;
    struct vus_fe_cmd c;
    struct iovec iov[2];

    (void)state;
    assert_int_equal(vus_fe_connect(&cfg, &fe), 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, REQ0);
    uint8_t *buf = vus_fe_alloc_in(fe, 1, big, 4096);
    assert_non_null(buf);
    clear_ua(vq, 0, 0);
    iov[0] = (struct iovec){ buf, 0xfffff000u };
    iov[1] = (struct iovec){ buf + 0xfffff000u, big - 0xfffff000u };
    memset(&c, 0, sizeof(c));
    cdb_rw16(c.cdb, false, 0, 1);
    c.in = iov;
    c.in_cnt = 2;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.resid, 0xffffffffu);
    assert_int_equal(c.used_len, sizeof(struct virtio_scsi_cmd_resp) + 512);
    vus_fe_close(fe);
    after_abuse();
}

/*
 * Item 10.  A second frontend on the socket of a busy daemon is turned away
 * at once (its first request fails), instead of waiting in the listen
 * backlog for a reply that never comes; the first frontend is unaffected.
 */
static void test_second_frontend_turned_away(void **state)
{
    struct abuse_ctx *cx = *state;
    struct vus_fe_config cfg = { .socket_path = victim.sock, .timeout_ms = T_TIMEOUT };
    struct vus_fe *fe2 = NULL;
    struct vus_fe_cmd c;
    struct timespec t0;
    uint8_t cdb[16];

    for (int i = 0; i < 3; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_true(vus_fe_connect(&cfg, &fe2) < 0);
        long ms = ms_since(&t0);
        if (ms > 1000)
            fail_msg("the second frontend waited %ld ms for an answer", ms);
    }
    cdb_rw16(cdb, false, 3, 1);
    assert_int_equal(scsi_exec(cx->vq, &c, 0, cdb, 16, cx->data, 512, 2), 0);
    assert_int_equal(c.status, 0);
    abuse_done(cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inflight_header_claims_bigger_queue, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_inflight_region_edited_after_get, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_pipes_refused_as_notify_fds, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_call_fd_that_would_block, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_full_request_ring_cannot_postpone_a_pause, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_full_control_ring_cannot_starve_the_socket, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_guest_memory_file_shrunk, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_ring_memory_file_shrunk, test_setup,
                                        abuse_test_teardown),
        cmocka_unit_test_setup_teardown(test_inflight_file_shrunk, test_setup, abuse_test_teardown),
        cmocka_unit_test(test_resid_of_buffer_over_4gib),
        cmocka_unit_test_setup_teardown(test_second_frontend_turned_away, test_setup,
                                        abuse_test_teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, abuse_group_setup, abuse_group_teardown);
}
