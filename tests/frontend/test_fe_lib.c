/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the frontend library against a scripted fake backend (a
 * thread on a UNIX socket): the message sequence and flags of the handshake,
 * failure paths, and the driver side of the rings, with the test playing the
 * device by reading and writing ring memory itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "frontend/fe_internal.h"
#include "tests/frontend/fe_harness.h"
#include "vhost/vu_proto.h"

#define MAX_LOG 256

struct fake {
    char dir[64], path[128];
    int listen_fd;
    pthread_t th;
    /* script */
    uint64_t features, protocol_features, queue_num;
    uint32_t nack_request; /* answer this request's REPLY_ACK with failure */
    uint32_t mute_request; /* never answer this request */
    /* log */
    uint32_t req[MAX_LOG], flags[MAX_LOG], size[MAX_LOG];
    unsigned nfds[MAX_LOG], n;
    uint64_t set_features, set_protocol_features;
    int kick_fd[8];
};

static void send_reply(int s, uint32_t req, const void *p, uint32_t size)
{
    struct vu_msg_hdr h = { req, VU_VERSION | VU_FLAG_REPLY, size };
    char buf[sizeof(h) + 64];

    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), p, size);
    assert_int_equal(write(s, buf, sizeof(h) + size), (ssize_t)(sizeof(h) + size));
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int s = accept(f->listen_fd, NULL, NULL);

    while (s >= 0) {
        struct vu_msg_hdr h;
        uint8_t payload[VU_PAYLOAD_MAX];
        char control[CMSG_SPACE(8 * sizeof(int))];
        struct iovec iov = { &h, sizeof(h) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = sizeof(control) };
        unsigned nfds = 0;
        int fds[8];

        if (recvmsg(s, &mh, 0) != (ssize_t)sizeof(h))
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            nfds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
        }
        if (h.size && read(s, payload, h.size) != (ssize_t)h.size)
            break;
        if (f->n < MAX_LOG) {
            f->req[f->n] = h.request;
            f->flags[f->n] = h.flags;
            f->size[f->n] = h.size;
            f->nfds[f->n] = nfds;
            f->n++;
        }
        uint64_t v;
        if (h.request == f->mute_request)
            continue;
        switch (h.request) {
        case VU_GET_FEATURES:
            send_reply(s, h.request, &f->features, 8);
            break;
        case VU_GET_PROTOCOL_FEATURES:
            send_reply(s, h.request, &f->protocol_features, 8);
            break;
        case VU_GET_QUEUE_NUM:
            send_reply(s, h.request, &f->queue_num, 8);
            break;
        case VU_SET_FEATURES:
            memcpy(&f->set_features, payload, 8);
            break;
        case VU_SET_PROTOCOL_FEATURES:
            memcpy(&f->set_protocol_features, payload, 8);
            break;
        case VU_SET_VRING_KICK:
            memcpy(&v, payload, 8);
            if ((v & 0xff) < 8 && nfds == 1) {
                f->kick_fd[v & 0xff] = fds[0];
                nfds = 0;
            }
            break;
        }
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        if (h.flags & VU_FLAG_NEED_REPLY) {
            v = h.request == f->nack_request;
            send_reply(s, h.request, &v, 8);
        }
    }
    if (s >= 0)
        close(s);
    return NULL;
}

static struct fake *fake_start(void)
{
    static struct fake f;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    memset(&f, 0, sizeof(f));
    f.features = (1ull << FE_F_VERSION_1) | (1ull << FE_F_INDIRECT_DESC) |
                 (1ull << FE_F_EVENT_IDX) | (1ull << FE_F_PROTOCOL) | (1ull << 2) | (1ull << 40);
    f.protocol_features = (1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
                          (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ull << 5);
    f.queue_num = 8;
    snprintf(f.dir, sizeof(f.dir), "/tmp/vusfe-lib.XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof(f.path), "%s/s", f.dir);
    memcpy(sa.sun_path, f.path, strlen(f.path) + 1);
    f.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f.listen_fd, 1), 0);
    assert_int_equal(pthread_create(&f.th, NULL, fake_main, &f), 0);
    return &f;
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->listen_fd);
    for (unsigned i = 0; i < 8; i++)
        if (f->kick_fd[i] > 0)
            close(f->kick_fd[i]);
    unlink(f->path);
    rmdir(f->dir);
}

static struct vus_fe *connect_fake(struct fake *f, unsigned nreq, int expect)
{
    struct vus_fe_config cfg = { .socket_path = f->path,
                                 .num_req_queues = nreq,
                                 .queue_size = 8,
                                 .mem_regions = 2,
                                 .mem_size = 1 << 20,
                                 .timeout_ms = 2000 };
    struct vus_fe *fe = NULL;

    assert_int_equal(vus_fe_connect(&cfg, &fe), expect);
    return fe;
}

static void test_handshake_sequence(void **state)
{
    struct fake *f = fake_start();
    struct vus_fe *fe = connect_fake(f, 1, 0);
    static const uint32_t head[] = {
        VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM,
        VU_SET_OWNER,    VU_SET_FEATURES,          VU_SET_MEM_TABLE
    };
    static const uint32_t ring[] = { VU_SET_VRING_NUM,  VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
                                     VU_SET_VRING_CALL, VU_SET_VRING_KICK, VU_SET_VRING_ENABLE };

    vus_fe_close(fe);
    fake_stop(f);
    assert_int_equal(f->n, 7 + 3 * 6);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(f->req[i], head[i]);
    for (unsigned i = 7; i < f->n; i++)
        assert_int_equal(f->req[i], ring[(i - 7) % 6]);
    /* Nothing the backend did not offer, nothing the library does not know. */
    assert_int_equal(f->set_features, (1ull << FE_F_VERSION_1) | (1ull << FE_F_INDIRECT_DESC) |
                                          (1ull << FE_F_EVENT_IDX) | (1ull << FE_F_PROTOCOL) |
                                          (1ull << 2));
    assert_int_equal(f->set_protocol_features, (1ull << VU_PROTOCOL_F_MQ) |
                                                   (1ull << VU_PROTOCOL_F_REPLY_ACK) |
                                                   (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
    /* REPLY_ACK asked for only once negotiated, never on requests that answer. */
    for (unsigned i = 0; i < f->n; i++) {
        bool acked = f->flags[i] & VU_FLAG_NEED_REPLY;
        assert_int_equal(f->flags[i] & VU_FLAG_VERSION_MASK, VU_VERSION);
        assert_int_equal(acked, i >= 4 && f->req[i] != VU_GET_QUEUE_NUM);
    }
    /* The memory table carries one fd per region; kick and call one each. */
    assert_int_equal(f->nfds[6], 2);
    assert_int_equal(f->size[6], sizeof(struct vu_mem_table_msg));
    for (unsigned i = 7; i < f->n; i++)
        assert_int_equal(f->nfds[i],
                         f->req[i] == VU_SET_VRING_CALL || f->req[i] == VU_SET_VRING_KICK);
}

static void test_refusals(void **state)
{
    struct fake *f = fake_start();

    f->nack_request = VU_SET_MEM_TABLE;
    assert_null(connect_fake(f, 1, -EIO));
    fake_stop(f);
    f = fake_start();
    f->queue_num = 3; /* control + event + 1 */
    assert_null(connect_fake(f, 2, -ERANGE));
    fake_stop(f);
    f = fake_start();
    f->features = 1ull << FE_F_VERSION_1; /* no protocol features at all */
    struct vus_fe *fe = connect_fake(f, 1, 0);
    assert_int_equal(vus_fe_protocol_features(fe), 0);
    /* No memory slots: a new region goes out in a whole new table. */
    assert_int_equal(vus_fe_add_region(fe, 4096), 2);
    assert_int_equal(vus_fe_num_regions(fe), 3);
    vus_fe_close(fe);
    fake_stop(f);
    assert_int_equal(f->req[f->n - 2], VU_SET_MEM_TABLE);
    assert_int_equal(f->nfds[f->n - 2], 3);
    /* No REPLY_ACK: a GET_FEATURES round trip says the backend has the table before I/O uses it. */
    assert_int_equal(f->req[f->n - 1], VU_GET_FEATURES);
    for (unsigned i = 0; i < f->n; i++)
        if (f->req[i] == VU_SET_MEM_TABLE)
            assert_int_equal(f->req[i + 1], VU_GET_FEATURES);
    for (unsigned i = 0; i < f->n; i++)
        assert_int_not_equal(f->req[i], VU_SET_VRING_ENABLE);
    /* A backend that never answers: a timeout, and the connection is not reused. */
    f = fake_start();
    f->mute_request = VU_GET_PROTOCOL_FEATURES;
    struct vus_fe_config quick = { .socket_path = f->path, .timeout_ms = 200 };
    assert_int_equal(vus_fe_connect(&quick, &fe), -ETIMEDOUT);
    fake_stop(f);
    assert_int_equal(f->req[f->n - 1], VU_GET_PROTOCOL_FEATURES);
    /* No backend at all. */
    struct vus_fe_config cfg = { .socket_path = "/nonexistent/vus.sock", .connect_retry_ms = 1 };
    assert_int_equal(vus_fe_connect(&cfg, &fe), -ENOENT);
}

static uint64_t read_kicks(int fd)
{
    uint64_t v = 0;
    struct timeval tv = { 0, 1000 };
    fd_set s;

    FD_ZERO(&s);
    FD_SET(fd, &s);
    if (select(fd + 1, &s, NULL, NULL, &tv) == 1 && read(fd, &v, 8) != 8)
        v = 0;
    return v;
}

/* The test plays the device: complete head with len. */
static void device_push(struct vus_fe_vq *vq, uint16_t head, uint32_t len)
{
    uint16_t u = le16toh(vq->used->idx);

    vq->used->ring[u % vq->num].id = htole32(head);
    vq->used->ring[u % vq->num].len = htole32(len);
    __atomic_store_n(&vq->used->idx, htole16((uint16_t)(u + 1)), __ATOMIC_RELEASE);
}

static void test_ring_driver_side(void **state)
{
    struct fake *f = fake_start();
    struct vus_fe *fe = connect_fake(f, 1, 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, 2);
    uint8_t *buf = vus_fe_alloc_in(fe, 1, 4096, 4096);
    uint64_t g;
    void *cookie;
    uint32_t len;

    assert_non_null(buf);
    assert_int_equal(vus_fe_gpa(fe, buf, 4096, &g), 0);
    struct vus_fe_seg segs[3] = { { g, 100, false }, { g + 100, 200, true }, { g + 300, 5, true } };

    /* Direct chain: three linked descriptors, flags as asked. */
    int head = vus_fe_vq_add(vq, segs, 3, 0, buf);
    assert_true(head >= 0);
    assert_int_equal(vus_fe_vq_free_descs(vq), 8 - 3);
    struct vring_desc_le *d = &vq->desc[head];
    assert_int_equal(le64toh(d->addr), g);
    assert_int_equal(le16toh(d->flags), VRING_DESC_F_NEXT);
    d = &vq->desc[le16toh(d->next)];
    assert_int_equal(le16toh(d->flags), VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
    d = &vq->desc[le16toh(d->next)];
    assert_int_equal(le32toh(d->len), 5);
    assert_int_equal(le16toh(d->flags), VRING_DESC_F_WRITE);
    /* Not visible before the kick; the kick signals (EVENT_IDX, avail_event 0). */
    assert_int_equal(le16toh(vq->avail->idx), 0);
    vus_fe_vq_kick(vq);
    assert_int_equal(le16toh(vq->avail->idx), 1);
    assert_int_equal(le16toh(vq->avail->ring[0]), head);
    assert_int_equal(read_kicks(f->kick_fd[2]), 1);

    /* Indirect: one descriptor, table in guest memory. */
    int h2 = vus_fe_vq_add(vq, segs, 3, VUS_FE_INDIRECT, NULL);
    assert_true(h2 >= 0);
    d = &vq->desc[h2];
    assert_int_equal(le16toh(d->flags), VRING_DESC_F_INDIRECT);
    assert_int_equal(le32toh(d->len), 3 * 16);
    struct vring_desc_le *t = fe_hva(fe, le64toh(d->addr), 48);
    assert_non_null(t);
    assert_int_equal(le16toh(t[0].next), 1);
    assert_int_equal(le16toh(t[2].flags), VRING_DESC_F_WRITE);
    /* The device asked to be kicked only past entry 5: no kick now. */
    *vring_avail_event(vq->used, vq->num) = htole16(5);
    vus_fe_vq_kick(vq);
    assert_int_equal(read_kicks(f->kick_fd[2]), 0);

    /* Completions, in any order, free exactly their descriptors. */
    assert_int_equal(vus_fe_vq_reap(vq, &cookie, &len), 0);
    device_push(vq, (uint16_t)h2, 7);
    device_push(vq, (uint16_t)head, 300);
    assert_int_equal(vus_fe_vq_wait(vq, 0), 1);
    assert_int_equal(vus_fe_vq_reap(vq, &cookie, &len), 1);
    assert_null(cookie);
    assert_int_equal(len, 7);
    assert_int_equal(vus_fe_vq_reap(vq, &cookie, &len), 1);
    assert_ptr_equal(cookie, buf);
    assert_int_equal(vus_fe_vq_free_descs(vq), 8);
    assert_int_equal(vus_fe_vq_inflight(vq), 0);
    /*
     * Like Linux's driver, reaping leaves interrupts off; only going to sleep
     * asks for one, at the next completion.
     */
    assert_int_equal(le16toh(*vring_used_event(vq->avail, vq->num)), 0);
    assert_int_equal(vus_fe_vq_wait(vq, 0), 0);
    assert_int_equal(le16toh(*vring_used_event(vq->avail, vq->num)), 2);

    /* A device that completes a head it was never given is caught. */
    device_push(vq, 3, 0);
    assert_int_equal(vus_fe_vq_reap(vq, &cookie, &len), -EIO);
    /* Too many segments for the ring. */
    struct vus_fe_seg many[9];
    for (unsigned i = 0; i < 9; i++)
        many[i] = segs[0];
    assert_int_equal(vus_fe_vq_add(vq, many, 9, 0, NULL), -ENOSPC);
    assert_int_equal(vus_fe_vq_add(vq, many, 0, 0, NULL), -EINVAL);
    vus_fe_close(fe);
    fake_stop(f);
}

static void test_scsi_commands_in_ring(void **state)
{
    struct fake *f = fake_start();
    struct vus_fe *fe = connect_fake(f, 1, 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, 2);
    uint8_t *buf = vus_fe_alloc(fe, 512, 512);
    struct iovec iov = { buf, 512 };
    struct vus_fe_cmd c = { .target = 3, .lun = 300, .tag = 0x1122334455667788ull };

    c.cdb[0] = 0x28;
    c.in = &iov;
    c.in_cnt = 1;
    c.flags = VUS_FE_CMD_SPLIT_HDR;
    c.hdr_piece = 20; /* 51 -> 3 pieces, 108 -> 6 pieces, + data = 10 */
    assert_int_equal(vus_fe_cmd_submit(vq, &c), -ENOSPC); /* ring of 8 */
    c.flags = 0;
    assert_int_equal(vus_fe_cmd_submit(vq, &c), 0);
    uint16_t head = le16toh(vq->avail->ring[0]);
    struct vring_desc_le *d = &vq->desc[head];
    struct virtio_scsi_cmd_req *req = fe_hva(fe, le64toh(d->addr), 51);
    assert_int_equal(le32toh(d->len), 51);
    assert_int_equal(req->lun[0], 1);
    assert_int_equal(req->lun[1], 3);
    assert_int_equal(req->lun[2], 0x40 | 1);
    assert_int_equal(req->lun[3], 300 & 0xff);
    assert_int_equal(le64toh(req->tag), c.tag);
    assert_int_equal(req->cdb[0], 0x28);
    /* The device answers CHECK CONDITION with 18 bytes of sense. */
    d = &vq->desc[le16toh(d->next)];
    struct virtio_scsi_cmd_resp *resp = fe_hva(fe, le64toh(d->addr), 108);
    assert_int_equal(resp->response, 0xff); /* pre-filled: "nothing written" */
    memset(resp, 0, sizeof(*resp));
    resp->status = 2;
    resp->sense_len = htole32(18);
    resp->resid = htole32(512);
    resp->sense[2] = 5;
    device_push(vq, head, 108);
    assert_ptr_equal(vus_fe_cmd_reap(vq), &c);
    assert_int_equal(c.status, 2);
    assert_int_equal(c.response, 0);
    assert_int_equal(c.sense_len, 18);
    assert_int_equal(c.resid, 512);
    assert_int_equal(c.sense[2], 5);
    assert_int_equal(c.used_len, 108);
    /* Buffers outside guest memory are refused before touching the ring. */
    uint8_t outside[16];
    struct iovec bad = { outside, 16 };
    c.in = &bad;
    assert_int_equal(vus_fe_cmd_submit(vq, &c), -EFAULT);
    assert_int_equal(vus_fe_vq_free_descs(vq), 8);
    vus_fe_close(fe);
    fake_stop(f);
}

static void test_memory_helpers(void **state)
{
    struct fake *f = fake_start();
    struct vus_fe *fe = connect_fake(f, 1, 0);
    void *h0, *h1;
    uint64_t g0, g1, g;
    size_t s0, s1;

    assert_int_equal(vus_fe_num_regions(fe), 2);
    assert_int_equal(vus_fe_region(fe, 0, &h0, &g0, &s0), 0);
    assert_int_equal(vus_fe_region(fe, 1, &h1, &g1, &s1), 0);
    assert_int_equal(vus_fe_region(fe, 2, NULL, NULL, NULL), -EINVAL);
    assert_true(g1 > g0 + s0); /* a gap between regions */
    assert_int_equal(vus_fe_gpa(fe, (uint8_t *)h1 + 10, 10, &g), 0);
    assert_int_equal(g, g1 + 10);
    assert_int_equal(vus_fe_gpa(fe, (uint8_t *)h0 + s0 - 4, 8, &g), -EFAULT);
    assert_ptr_equal(fe_hva(fe, g1 + 16, 16), (uint8_t *)h1 + 16);
    assert_null(fe_hva(fe, g0 + s0, 1));
    assert_null(vus_fe_alloc_in(fe, 1, s1 + 1, 1));
    assert_null(vus_fe_alloc_in(fe, 1, 16, 3)); /* alignment not a power of two */
    uint8_t *a = vus_fe_alloc_in(fe, 1, 100, 64), *b = vus_fe_alloc_in(fe, 1, 100, 64);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_true(b >= a + 100);
    int r = vus_fe_add_region(fe, 5000);
    assert_int_equal(r, 2);
    assert_int_equal(vus_fe_region(fe, 2, NULL, &g, &s1), 0);
    assert_int_equal(s1, 8192);
    assert_true(g > g1);
    vus_fe_close(fe);
    fake_stop(f);
    assert_int_equal(f->req[f->n - 1], VU_ADD_MEM_REG);
    assert_int_equal(f->nfds[f->n - 1], 1);
}

struct late_device {
    struct vus_fe_vq *vq;
    uint16_t flags_seen;
};

/* Completes head 0 while the driver sleeps, noting what the driver asked for. */
static void *late_device_main(void *arg)
{
    struct late_device *d = arg;
    uint64_t one = 1;

    usleep(100 * 1000);
    d->flags_seen = le16toh(__atomic_load_n(&d->vq->avail->flags, __ATOMIC_RELAXED));
    device_push(d->vq, 0, 0);
    assert_int_equal(write(d->vq->call_fd, &one, 8), 8);
    return NULL;
}

/* Without EVENT_IDX: the avail and used flags carry the suppression both ways. */
static void test_plain_notification(void **state)
{
    struct fake *f = fake_start();
    f->features &= ~(1ull << FE_F_EVENT_IDX);
    struct vus_fe *fe = connect_fake(f, 1, 0);
    struct vus_fe_vq *vq = vus_fe_vq(fe, 2);
    uint8_t *buf = vus_fe_alloc_in(fe, 1, 64, 64);
    struct late_device d = { .vq = vq, .flags_seen = 0xffff };
    pthread_t th;
    uint64_t g;

    assert_false(vus_fe_features(fe) & (1ull << FE_F_EVENT_IDX));
    assert_int_equal(vus_fe_gpa(fe, buf, 64, &g), 0);
    struct vus_fe_seg seg = { g, 64, true };
    /* A device that wants no kicks gets none; one that does, one per kick. */
    vq->used->flags = htole16(VRING_USED_F_NO_NOTIFY);
    assert_int_equal(vus_fe_vq_add(vq, &seg, 1, 0, NULL), 0);
    vus_fe_vq_kick(vq);
    assert_int_equal(read_kicks(f->kick_fd[2]), 0);
    vq->used->flags = 0;
    assert_int_equal(vus_fe_vq_add(vq, &seg, 1, 0, NULL), 1);
    vus_fe_vq_kick(vq);
    assert_int_equal(read_kicks(f->kick_fd[2]), 1);
    /* Interrupts are on while the driver sleeps, off once it is awake. */
    assert_int_equal(le16toh(vq->avail->flags), 0);
    assert_int_equal(pthread_create(&th, NULL, late_device_main, &d), 0);
    assert_int_equal(vus_fe_vq_wait(vq, 2000), 1);
    pthread_join(th, NULL);
    assert_int_equal(d.flags_seen, 0);
    assert_int_equal(le16toh(vq->avail->flags), VRING_AVAIL_F_NO_INTERRUPT);
    assert_int_equal(vus_fe_vq_calls(vq), 1);
    void *cookie;
    uint32_t len;
    assert_int_equal(vus_fe_vq_reap(vq, &cookie, &len), 1);
    assert_int_equal(le16toh(vq->avail->flags), VRING_AVAIL_F_NO_INTERRUPT);
    /* A wait that times out leaves them off as well; the used_event slot is never touched. */
    assert_int_equal(vus_fe_vq_wait(vq, 0), 0);
    assert_int_equal(le16toh(vq->avail->flags), VRING_AVAIL_F_NO_INTERRUPT);
    assert_int_equal(le16toh(*vring_used_event(vq->avail, vq->num)), 0);
    vus_fe_close(fe);
    fake_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_sequence), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ring_driver_side),   cmocka_unit_test(test_scsi_commands_in_ring),
        cmocka_unit_test(test_memory_helpers),     cmocka_unit_test(test_plain_notification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
