/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET_VRING_BASE with VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT (issue
 * #11, live migration with requests in flight): the stop leaves a request
 * whose backend I/O is still running in the inflight region instead of
 * completing it, the base counts it, and the next start of the ring (here:
 * the same connection, as on a migration that fails back, or a destination
 * handed the region) resubmits it and completes it exactly once.  Without
 * the feature the stop completes the request first, as before.
 *
 * The request is a READ of a file LUN on a FUSE mount that parks it
 * (fuse_gate.h), so it is certainly in the backend when the stop arrives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>
#include <pthread.h>
#include <sys/mman.h>

#include "tests/frontend/fe_harness.h"
#include "tests/frontend/fuse_gate.h"
#include "vhost/vu_inflight.h"
#include "vhost/vu_proto.h"

#define GATE_SIZE (8u << 20)
#define REQ0      VIRTIO_SCSI_VQ_REQUEST
#define QSIZE     128

static struct fuse_gate gate;
static struct daemon dmn;

struct ctx {
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
    uint8_t *buf;
    int inflight_fd;
    uint64_t inflight_size;
    uint8_t *region; /* the frontend's view of the inflight region */
};

static int group_setup(void **state)
{
    static char lun[160];

    if (fuse_gate_start(&gate, GATE_SIZE) < 0)
        return -1;
    snprintf(lun, sizeof(lun), "type=file,path=%s", gate.path);
    const char *const args[] = { "--lun", lun, NULL };
    return daemon_start(&dmn, args) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    int ret;

    fuse_gate_release(&gate);
    ret = daemon_stop(&dmn);
    fuse_gate_stop(&gate);
    return ret == 0 ? 0 : -1;
}

/* Connect as QEMU does with an inflight region: GET then SET_INFLIGHT_FD, then the rings. */
static void open_fe(struct ctx *cx, bool suspend)
{
    struct vus_fe_config cfg = {
        .socket_path = dmn.sock,
        .num_req_queues = 1,
        .queue_size = QSIZE,
        .timeout_ms = T_TIMEOUT,
        .connect_retry_ms = 2000,
        .no_start = true,
        .protocol_extra = (1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD) |
                          (suspend ? 1ull << VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT : 0),
    };
    struct vu_inflight_msg in = { .num_queues = 3, .queue_size = QSIZE };

    memset(cx, 0, sizeof(*cx));
    assert_int_equal(vus_fe_connect(&cfg, &cx->fe), 0);
    assert_int_equal(
        !!(vus_fe_protocol_features(cx->fe) & (1ull << VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT)),
        suspend);
    assert_int_equal(vus_fe_get_inflight_fd(cx->fe, 3, QSIZE, &cx->inflight_fd, &cx->inflight_size),
                     0);
    cx->region =
        mmap(NULL, cx->inflight_size, PROT_READ | PROT_WRITE, MAP_SHARED, cx->inflight_fd, 0);
    assert_true(cx->region != MAP_FAILED);
    in.mmap_size = cx->inflight_size;
    assert_int_equal(
        vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &in, sizeof(in), &cx->inflight_fd, 1), 0);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(vus_fe_vq_start(cx->fe, i), 0);
    cx->vq = vus_fe_vq(cx->fe, REQ0);
    cx->buf = vus_fe_alloc(cx->fe, 1 << 16, 4096);
    assert_non_null(cx->buf);
    clear_ua(cx->vq, 0, 0);
}

static void close_fe(struct ctx *cx)
{
    fuse_gate_release(&gate);
    vus_fe_close(cx->fe);
    munmap(cx->region, cx->inflight_size);
    close(cx->inflight_fd);
}

/* The request queue's part of the region: marked heads. */
static unsigned marked(const struct ctx *cx)
{
    /* vhost-user.rst's layout: each queue's part is header + slots, 64-byte aligned. */
    size_t qlen = (sizeof(struct vu_inflight_split) +
                   QSIZE * sizeof(struct vu_inflight_desc_split) + VU_INFLIGHT_ALIGN - 1) &
                  ~(size_t)(VU_INFLIGHT_ALIGN - 1);
    const struct vu_inflight_split *q = (const void *)(cx->region + REQ0 * qlen);
    unsigned n = 0;

    for (unsigned i = 0; i < QSIZE; i++)
        n += __atomic_load_n(&q->desc[i].inflight, __ATOMIC_ACQUIRE) != 0;
    return n;
}

/* The next completed command on vq, waiting up to timeout_ms; NULL if none. */
static struct vus_fe_cmd *reap_within(struct vus_fe_vq *vq, int timeout_ms)
{
    struct vus_fe_cmd *done = NULL;

    for (int t = 0; t < timeout_ms / 10 && !done; t++) {
        done = vus_fe_cmd_reap(vq);
        if (!done)
            vus_fe_vq_wait(vq, 10);
    }
    return done;
}

static void *release_later(void *arg)
{
    usleep(200 * 1000);
    fuse_gate_release(&gate);
    return arg;
}

struct stop_call {
    struct vus_fe *fe;
    unsigned idx;
    uint16_t base;
    int ret;
    pthread_t th;
};

static void *stop_main(void *arg)
{
    struct stop_call *s = arg;

    s->ret = vus_fe_vq_stop(s->fe, s->idx, &s->base);
    return NULL;
}

/* Submit a held READ and stop ring s->idx while the READ's I/O is in the backend. */
static void stop_with_read_held(struct ctx *cx, struct vus_fe_cmd *c, struct iovec *iov,
                                struct stop_call *s)
{
    memset(c, 0, sizeof(*c));
    cdb_rw16(c->cdb, false, 8, 1);
    c->tag = 77;
    *iov = (struct iovec){ cx->buf, 512 };
    c->in = iov;
    c->in_cnt = 1;
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    assert_int_equal(vus_fe_cmd_submit(cx->vq, c), 0);
    vus_fe_vq_kick(cx->vq);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    assert_int_equal(marked(cx), 1);

    s->fe = cx->fe;
    assert_int_equal(pthread_create(&s->th, NULL, stop_main, s), 0);
    /* The stop waits for the backend: a write must not land after a takeover. */
    usleep(200 * 1000);
    fuse_gate_hold(&gate, 0);
    fuse_gate_release(&gate);
    pthread_join(s->th, NULL);
    assert_int_equal(s->ret, 0);
}

static void test_suspend_then_resubmit(void **state)
{
    struct ctx cx;
    struct vus_fe_cmd c, *done;
    struct iovec iov;
    struct stop_call s = { .idx = REQ0 };

    open_fe(&cx, true);
    uint16_t used0 = vus_fe_vq_used_idx(cx.vq);
    stop_with_read_held(&cx, &c, &iov, &s);

    /* Counted as taken, not completed, still recorded. */
    assert_int_equal(s.base, (uint16_t)(used0 + 1));
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), used0);
    assert_int_equal(marked(&cx), 1);
    assert_null(vus_fe_cmd_reap(cx.vq));

    /* The next start takes it over: completed once, with its data. */
    assert_int_equal(vus_fe_vq_start(cx.fe, REQ0), 0);
    done = reap_within(cx.vq, T_TIMEOUT);
    assert_ptr_equal(done, &c);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), (uint16_t)(used0 + 1));
    assert_int_equal(marked(&cx), 0);
    usleep(100 * 1000);
    assert_null(vus_fe_cmd_reap(cx.vq)); /* and not twice */
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), (uint16_t)(used0 + 1));

    /* The ring serves new requests after the takeover. */
    uint8_t cdb[16];
    cdb_rw16(cdb, false, 0, 1);
    assert_int_equal(scsi_exec(cx.vq, &c, 0, cdb, 16, cx.buf, 512, 2), 0);
    assert_int_equal(c.status, 0);
    close_fe(&cx);
}

/* Without the feature, the stop completes what is in flight first: the old contract. */
static void test_drain_without_feature(void **state)
{
    struct ctx cx;
    struct vus_fe_cmd c;
    struct iovec iov;
    struct stop_call s = { .idx = REQ0 };

    open_fe(&cx, false);
    uint16_t used0 = vus_fe_vq_used_idx(cx.vq);
    stop_with_read_held(&cx, &c, &iov, &s);
    assert_int_equal(s.base, (uint16_t)(used0 + 1));
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), (uint16_t)(used0 + 1));
    assert_int_equal(marked(&cx), 0);
    assert_ptr_equal(vus_fe_cmd_reap(cx.vq), &c);
    close_fe(&cx);
}

/*
 * QEMU stops the rings one by one, the control queue first, and a stop
 * suspends every request queue: one that keeps running gets its suspended
 * requests back and completes them, once, without a restart.
 */
static void test_running_ring_gets_them_back(void **state)
{
    struct ctx cx;
    struct vus_fe_cmd c, *done;
    struct iovec iov;
    struct stop_call s = { .idx = VIRTIO_SCSI_VQ_CONTROL };

    open_fe(&cx, true);
    uint16_t used0 = vus_fe_vq_used_idx(cx.vq);
    stop_with_read_held(&cx, &c, &iov, &s);
    done = reap_within(cx.vq, T_TIMEOUT);
    assert_ptr_equal(done, &c);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    usleep(100 * 1000);
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), (uint16_t)(used0 + 1));
    assert_null(vus_fe_cmd_reap(cx.vq));
    assert_int_equal(marked(&cx), 0);
    close_fe(&cx);
}

/*
 * QEMU disables every ring before it stops them: a disable suspends too, and
 * the request comes back when the ring is enabled again.
 */
static void test_disable_suspends(void **state)
{
    struct ctx cx;
    struct vus_fe_cmd c, *done;
    struct iovec iov;
    struct vu_vring_state st = { .index = REQ0, .num = 0 };

    open_fe(&cx, true);
    uint16_t used0 = vus_fe_vq_used_idx(cx.vq);
    memset(&c, 0, sizeof(c));
    cdb_rw16(c.cdb, false, 8, 1);
    iov = (struct iovec){ cx.buf, 512 };
    c.in = &iov;
    c.in_cnt = 1;
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    assert_int_equal(vus_fe_cmd_submit(cx.vq, &c), 0);
    vus_fe_vq_kick(cx.vq);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    fuse_gate_hold(&gate, 0);
    /* The disable waits for the backend: release the gate from here after a while. */
    pthread_t rel;
    assert_int_equal(pthread_create(&rel, NULL, release_later, NULL), 0);
    assert_int_equal(vus_fe_request_ack(cx.fe, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
    pthread_join(rel, NULL);
    usleep(100 * 1000);
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), used0);
    assert_int_equal(marked(&cx), 1);

    st.num = 1;
    assert_int_equal(vus_fe_request_ack(cx.fe, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
    vus_fe_vq_kick(cx.vq);
    done = reap_within(cx.vq, T_TIMEOUT);
    assert_ptr_equal(done, &c);
    assert_int_equal(c.status, 0);
    usleep(100 * 1000);
    assert_int_equal(vus_fe_vq_used_idx(cx.vq), (uint16_t)(used0 + 1));
    assert_int_equal(marked(&cx), 0);
    close_fe(&cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suspend_then_resubmit),
        cmocka_unit_test(test_drain_without_feature),
        cmocka_unit_test(test_running_ring_gets_them_back),
        cmocka_unit_test(test_disable_suspends),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
