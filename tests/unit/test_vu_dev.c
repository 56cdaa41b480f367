/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vhost-user device state machine, driven message by message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_dev_msg.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_inflight.h"
#include "vhost/vu_msg.h"
#include "virtq/virtio_ring.h"

static int pair[2];
static struct vu_dev dev;
static unsigned npause, nresume, nstop;
static int paused;

static void op_pause(struct vu_dev *d)
{
    (void)d;
    assert_false(paused);
    paused = 1;
    npause++;
}

static void op_resume(struct vu_dev *d)
{
    (void)d;
    assert_true(paused);
    paused = 0;
    nresume++;
}

static void op_queue_stop(struct vu_dev *d, unsigned idx)
{
    (void)d;
    (void)idx;
    assert_true(paused);
    nstop++;
}

static const struct vu_dev_ops ops = {
    .pause = op_pause,
    .resume = op_resume,
    .queue_stop = op_queue_stop,
};

#define FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX))
#define PROTO                                                                                      \
    ((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |                              \
     (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD))

static int setup(void **state)
{
    (void)state;
    npause = nresume = nstop = 0;
    paused = 0;
    return vu_dev_open_pair(&dev, &ops, FEATURES, PROTO, pair);
}

static int teardown(void **state)
{
    (void)state;
    vu_dev_close_pair(&dev, pair);
    return 0;
}

static int handle(uint32_t req, uint32_t flags, const void *payload, uint32_t size, int fd)
{
    return vu_dev_msg_handle(&dev, req, flags, payload, size, fd);
}

static uint64_t read_reply_u64(uint32_t expect_req)
{
    struct vu_msg r;
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.hdr.request, expect_req);
    assert_true(r.hdr.flags & VU_FLAG_REPLY);
    vu_msg_close_fds(&r);
    return r.payload.u64;
}

static void test_features(void **state)
{
    uint64_t f;

    (void)state;
    assert_int_equal(handle(VU_GET_FEATURES, 0, NULL, 0, -1), 0);
    f = read_reply_u64(VU_GET_FEATURES);
    assert_int_equal(f, FEATURES | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));

    assert_int_equal(handle(VU_GET_PROTOCOL_FEATURES, 0, NULL, 0, -1), 0);
    assert_int_equal(read_reply_u64(VU_GET_PROTOCOL_FEATURES), PROTO);

    f = PROTO;
    assert_int_equal(handle(VU_SET_PROTOCOL_FEATURES, 0, &f, 8, -1), 0);
    f = FEATURES;
    assert_int_equal(handle(VU_SET_FEATURES, 0, &f, 8, -1), 0);
    assert_int_equal(dev.features, FEATURES);

    /* A feature we did not offer: refused, and REPLY_ACK says so. */
    f = 1ULL << 40;
    assert_int_equal(handle(VU_SET_FEATURES, VU_FLAG_NEED_REPLY, &f, 8, -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_FEATURES), 1);
    assert_int_equal(dev.features, FEATURES);

    assert_int_equal(handle(VU_GET_QUEUE_NUM, 0, NULL, 0, -1), 0);
    assert_int_equal(read_reply_u64(VU_GET_QUEUE_NUM), 4);
}

static void test_malformed_drops(void **state)
{
    uint32_t small = 1;

    (void)state;
    assert_int_equal(handle(VU_SET_FEATURES, 0, &small, 4, -1), -EPROTO);
    assert_int_equal(handle(VU_SET_LOG_BASE, 0, NULL, 0, -1), -EPROTO);
}

static void test_vring_out_of_range(void **state)
{
    struct vu_vring_state st = { .index = 4, .num = 128 };
    uint64_t f = PROTO;

    (void)state;
    handle(VU_SET_PROTOCOL_FEATURES, 0, &f, 8, -1);
    assert_int_equal(handle(VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_NUM), 1);
    st.index = 0;
    st.num = 100; /* not a power of two */
    assert_int_equal(handle(VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_NUM), 1);
    st.num = 128;
    assert_int_equal(handle(VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_NUM), 0);
}

/* What QEMU negotiates: PROTO, then features with VHOST_USER_F_PROTOCOL_FEATURES. */
static void negotiate(uint64_t features)
{
    uint64_t f = PROTO;

    assert_int_equal(handle(VU_SET_PROTOCOL_FEATURES, 0, &f, 8, -1), 0);
    f = features | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
    assert_int_equal(handle(VU_SET_FEATURES, 0, &f, 8, -1), 0);
}

/*
 * 1 MiB of guest memory at gpa 0 and frontend address 0x7f0000000000.  mt is
 * left as sent and the memfd returned, for tests that send them again.
 */
static int set_guest_memory(struct vu_mem_table_msg *mt)
{
    const size_t memsz = 1 << 20;
    int memfd = memfd_create("guest", 0);

    assert_true(memfd >= 0);
    assert_int_equal(ftruncate(memfd, memsz), 0);
    memset(mt, 0, sizeof(*mt));
    mt->nregions = 1;
    mt->regions[0] =
        (struct vu_mem_region_desc){ .gpa = 0, .size = memsz, .uva = 0x7f0000000000ULL };
    assert_int_equal(handle(VU_SET_MEM_TABLE, 0, mt, sizeof(*mt), memfd), 0);
    assert_int_equal(dev.mem.nregions, 1);
    return memfd;
}

/* A full ring set-up: memory, addresses, base, kick, enable; then stop. */
static void test_ring_lifecycle(void **state)
{
    int memfd;
    int kick = eventfd(0, 0);
    struct vu_mem_table_msg mt;
    struct vu_vring_state st;
    struct vu_vring_addr addr;
    struct vu_msg r;

    (void)state;
    negotiate(FEATURES);

    memfd = set_guest_memory(&mt);

    st = (struct vu_vring_state){ .index = 2, .num = 64 };
    handle(VU_SET_VRING_NUM, 0, &st, sizeof(st), -1);
    addr = (struct vu_vring_addr){ .index = 2,
                                   .desc_uva = 0x7f0000000000ULL,
                                   .avail_uva = 0x7f0000001000ULL,
                                   .used_uva = 0x7f0000002000ULL };
    handle(VU_SET_VRING_ADDR, 0, &addr, sizeof(addr), -1);
    assert_true(dev.vrings[2].addr_ok);
    st = (struct vu_vring_state){ .index = 2, .num = 7 };
    handle(VU_SET_VRING_BASE, 0, &st, sizeof(st), -1);
    uint64_t idx = 2;
    handle(VU_SET_VRING_KICK, 0, &idx, 8, kick);
    /* Protocol features negotiated: the ring waits for SET_VRING_ENABLE. */
    assert_false(vu_vring_ready(&dev, 2));
    st = (struct vu_vring_state){ .index = 2, .num = 1 };
    handle(VU_SET_VRING_ENABLE, 0, &st, sizeof(st), -1);
    assert_true(vu_vring_ready(&dev, 2));

    /* Moving the memory so the rings fall outside it makes the ring not ready. */
    mt.regions[0].uva = 0x100000000000ULL;
    assert_int_equal(handle(VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), memfd), 0);
    assert_false(vu_vring_ready(&dev, 2));
    mt.regions[0].uva = 0x7f0000000000ULL;
    assert_int_equal(handle(VU_SET_MEM_TABLE, 0, &mt, sizeof(mt), memfd), 0);
    assert_true(vu_vring_ready(&dev, 2));

    /*
     * Regression: a call fd that arrives after the ring started is signalled
     * once, for completions made while there was none (QEMU enables rings
     * before it sends their call fds).
     */
    int call = eventfd(0, EFD_NONBLOCK);
    uint64_t cnt = 0;
    handle(VU_SET_VRING_CALL, 0, &idx, 8, call);
    assert_int_equal(read(call, &cnt, sizeof(cnt)), sizeof(cnt));
    assert_int_equal(cnt, 1);
    close(call);

    st = (struct vu_vring_state){ .index = 2 };
    assert_int_equal(handle(VU_GET_VRING_BASE, 0, &st, sizeof(st), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.payload.state.index, 2);
    assert_int_equal(r.payload.state.num, 7);
    assert_false(vu_vring_ready(&dev, 2));
    assert_int_equal(nstop, 1);
    /* Every change ran between a pause and a resume. */
    assert_int_equal(npause, nresume);
    assert_true(npause >= 8);
    close(memfd);
    close(kick);
}

static void test_inflight(void **state)
{
    struct vu_inflight_msg in = { .num_queues = 4, .queue_size = 128 };
    struct vu_msg r;

    (void)state;
    assert_int_equal(handle(VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.nfds, 1);
    assert_true(r.payload.inflight.mmap_size >= 4 * (16 + 16 * 128));
    /* Hand the same region back, as a frontend does after a backend restart. */
    in = r.payload.inflight;
    assert_int_equal(handle(VU_SET_INFLIGHT_FD, 0, &in, sizeof(in), r.fds[0]), 0);
    assert_non_null(dev.inflight_base);
    vu_msg_close_fds(&r);

    /* Regression (fuzzer): an fd too short for the claimed range is refused, not mapped. */
    int small = memfd_create("short", 0);
    assert_int_equal(ftruncate(small, 65536), 0);
    in = (struct vu_inflight_msg){
        .mmap_size = 65536, .mmap_offset = 0x41000000, .num_queues = 4, .queue_size = 128
    };
    void *before = dev.inflight_base;
    uint64_t pf = PROTO;
    handle(VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, -1);
    assert_int_equal(handle(VU_SET_INFLIGHT_FD, VU_FLAG_NEED_REPLY, &in, sizeof(in), small), 0);
    assert_int_equal(read_reply_u64(VU_SET_INFLIGHT_FD), 1); /* REPLY_ACK: failed */
    assert_ptr_equal(dev.inflight_base, before);
    close(small);

    /* Too many queues is refused. */
    in.num_queues = 200;
    assert_int_equal(handle(VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.nfds, 0);
    assert_int_equal(r.payload.inflight.mmap_size, 0);
}

/*
 * An inflight region sized for 4-entry queues whose header claims the ring's
 * 64 entries is not attached: the header is the frontend's to write, only
 * the declared queue size sizes the region.
 */
static void test_inflight_header_cannot_enlarge_queue(void **state)
{
    struct vu_inflight_msg in = { .mmap_size = 4096, .num_queues = 4, .queue_size = 4 };
    struct vu_vring_state st = { .index = 2, .num = 64 };
    int fd = memfd_create("lying", 0);
    size_t qlen = vu_inflight_queue_size(4);

    (void)state;
    assert_int_equal(ftruncate(fd, 4096), 0);
    uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    for (unsigned q = 0; q < 4; q++)
        vu_inflight_queue_init((struct vu_inflight_split *)(m + q * qlen), 64, 0);
    assert_int_equal(handle(VU_SET_INFLIGHT_FD, 0, &in, sizeof(in), fd), 0);
    assert_non_null(dev.inflight_base);
    assert_int_equal(handle(VU_SET_VRING_NUM, 0, &st, sizeof(st), -1), 0);
    assert_null(dev.vrings[2].vq.inflight);
    /* A ring that fits is tracked. */
    st.num = 4;
    assert_int_equal(handle(VU_SET_VRING_NUM, 0, &st, sizeof(st), -1), 0);
    assert_non_null(dev.vrings[2].vq.inflight);
    munmap(m, 4096);
    close(fd);
}

/* Our own region is sealed against shrinking, and followed by a guard page. */
static void test_inflight_region_sealed_and_guarded(void **state)
{
    struct vu_inflight_msg in = { .num_queues = 2, .queue_size = 128 };
    struct vu_msg r;

    (void)state;
    assert_int_equal(handle(VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.nfds, 1);
    assert_int_equal(ftruncate(r.fds[0], 0), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(dev.inflight_map_len,
                     (dev.inflight_len + 4095) / 4096 * 4096 + (size_t)sysconf(_SC_PAGESIZE));
    /* The guard page is mapped, but not accessible. */
    unsigned char vec;
    char *guard = (char *)dev.inflight_base + dev.inflight_map_len - 4096;
    assert_int_equal(mincore(guard, 4096, &vec), 0);
    vu_msg_close_fds(&r);
}

/* Only eventfds are taken as notification fds, and made non-blocking. */
static void test_notification_fds(void **state)
{
    uint64_t idx = 2;
    int p[2], efd = eventfd(0, 0);

    (void)state;
    assert_int_equal(pipe(p), 0);
    uint64_t f = PROTO;
    handle(VU_SET_PROTOCOL_FEATURES, 0, &f, 8, -1);
    assert_int_equal(handle(VU_SET_VRING_CALL, VU_FLAG_NEED_REPLY, &idx, 8, p[1]), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_CALL), 1);
    assert_int_equal(dev.vrings[2].vq.call_fd, -1);
    assert_int_equal(handle(VU_SET_VRING_KICK, VU_FLAG_NEED_REPLY, &idx, 8, p[0]), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_KICK), 1);
    assert_false(dev.vrings[2].started);
    assert_int_equal(handle(VU_SET_VRING_ERR, VU_FLAG_NEED_REPLY, &idx, 8, p[0]), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_ERR), 1);

    assert_int_equal(handle(VU_SET_VRING_CALL, VU_FLAG_NEED_REPLY, &idx, 8, efd), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_CALL), 0);
    assert_true(fcntl(dev.vrings[2].vq.call_fd, F_GETFL) & O_NONBLOCK);
    close(p[0]);
    close(p[1]);
    close(efd);
}

/* Redefining a started ring stops it first, so that the device forgets what it held. */
static void test_base_on_started_ring_stops_it(void **state)
{
    struct vu_vring_state st = { .index = 1, .num = 5 };
    uint64_t idx = 1;
    int kick = eventfd(0, 0);

    (void)state;
    handle(VU_SET_VRING_KICK, 0, &idx, 8, kick);
    assert_true(dev.vrings[1].started);
    assert_int_equal(nstop, 0);
    assert_int_equal(handle(VU_SET_VRING_BASE, 0, &st, sizeof(st), -1), 0);
    assert_int_equal(nstop, 1);
    assert_false(dev.vrings[1].started);
    handle(VU_SET_VRING_KICK, 0, &idx, 8, kick);
    st.num = 64;
    assert_int_equal(handle(VU_SET_VRING_NUM, 0, &st, sizeof(st), -1), 0);
    assert_int_equal(nstop, 2);
    close(kick);
}

static void test_status_and_slots(void **state)
{
    uint64_t s = 0x0f;

    (void)state;
    assert_int_equal(handle(VU_SET_STATUS, 0, &s, 8, -1), 0);
    assert_int_equal(handle(VU_GET_STATUS, 0, NULL, 0, -1), 0);
    assert_int_equal(read_reply_u64(VU_GET_STATUS), 0x0f);
    assert_int_equal(handle(VU_GET_MAX_MEM_SLOTS, 0, NULL, 0, -1), 0);
    assert_int_equal(read_reply_u64(VU_GET_MAX_MEM_SLOTS), VU_MEM_MAX_REGIONS);
}

static int setup_packed(void **state)
{
    (void)state;
    npause = nresume = nstop = 0;
    paused = 0;
    return vu_dev_open_pair(&dev, &ops, FEATURES | (1ULL << VIRTIO_F_RING_PACKED), PROTO, pair);
}

/*
 * Negotiated packed rings: any ring size, the 32-bit base both ways, no
 * inflight region (GET_INFLIGHT_FD answers with none, a region set anyway is
 * not attached), and back to split rings when the features say so.
 */
static void test_packed_layout(void **state)
{
    int memfd;
    uint64_t f;
    struct vu_inflight_msg in = { .num_queues = 4, .queue_size = 48 };
    struct vu_mem_table_msg mt;
    struct vu_vring_state st;
    struct vu_vring_addr addr;
    struct vu_msg r;

    (void)state;
    negotiate(FEATURES | (1ULL << VIRTIO_F_RING_PACKED));
    assert_true(dev.vrings[2].vq.packed);

    assert_int_equal(handle(VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.nfds, 0);
    assert_int_equal(r.payload.inflight.mmap_size, 0);

    memfd = set_guest_memory(&mt);
    st = (struct vu_vring_state){ .index = 2, .num = 48 };
    assert_int_equal(handle(VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_NUM), 0);
    addr = (struct vu_vring_addr){ .index = 2,
                                   .desc_uva = 0x7f0000000000ULL,
                                   .avail_uva = 0x7f0000001000ULL,
                                   .used_uva = 0x7f0000001004ULL };
    handle(VU_SET_VRING_ADDR, 0, &addr, sizeof(addr), -1);
    assert_true(dev.vrings[2].addr_ok);
    /* Next descriptor 3 in a lap with wrap counter 0, next used position 47 with 1. */
    st = (struct vu_vring_state){ .index = 2, .num = 3u | 47u << 16 | 1u << 31 };
    assert_int_equal(handle(VU_SET_VRING_BASE, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_BASE), 0);
    assert_true(dev.vrings[2].addr_ok);

    int region = memfd_create("inflight", 0);
    assert_int_equal(ftruncate(region, 65536), 0);
    in = (struct vu_inflight_msg){ .mmap_size = 65536, .num_queues = 4, .queue_size = 48 };
    assert_int_equal(handle(VU_SET_INFLIGHT_FD, 0, &in, sizeof(in), region), 0);
    assert_non_null(dev.inflight_base);
    assert_null(dev.vrings[2].vq.inflight);
    close(region);

    st = (struct vu_vring_state){ .index = 2 };
    assert_int_equal(handle(VU_GET_VRING_BASE, 0, &st, sizeof(st), -1), 0);
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.payload.state.num, 3u | 47u << 16 | 1u << 31);

    /* A position outside the ring: the ring is not served. */
    st = (struct vu_vring_state){ .index = 2, .num = 48u | 1u << 15 };
    handle(VU_SET_VRING_BASE, 0, &st, sizeof(st), -1);
    assert_false(dev.vrings[2].addr_ok);
    st = (struct vu_vring_state){ .index = 2, .num = VIRTQ_PACKED_BASE_FRESH };
    handle(VU_SET_VRING_BASE, 0, &st, sizeof(st), -1);
    assert_true(dev.vrings[2].addr_ok);
    assert_non_null(dev.vrings[2].vq.pdesc);

    /* Split again: 48 entries are no split ring, and the base starts over. */
    f = FEATURES | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
    assert_int_equal(handle(VU_SET_FEATURES, 0, &f, 8, -1), 0);
    assert_false(dev.vrings[2].vq.packed);
    assert_null(dev.vrings[2].vq.pdesc);
    assert_int_equal(dev.vrings[2].vq.num, 0);
    assert_int_equal(virtq_get_base(&dev.vrings[2].vq), 0);
    st = (struct vu_vring_state){ .index = 2, .num = 48 };
    assert_int_equal(handle(VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &st, sizeof(st), -1), 0);
    assert_int_equal(read_reply_u64(VU_SET_VRING_NUM), 1);
    close(memfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_features, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vring_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflight_header_cannot_enlarge_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflight_region_sealed_and_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notification_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_on_started_ring_stops_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_layout, setup_packed, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
