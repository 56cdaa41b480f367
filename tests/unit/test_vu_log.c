/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dirty log: which bit a guest-physical address lands on, the ends of
 * the bitmap, concurrent marking, hostile log regions, the vhost-user
 * messages that set it up, and the used ring's writes through virtq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_dev_msg.h"
#include "ring_helper.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"
#include "vhost/vu_msg.h"

#define PAGE 4096ull

static struct vu_fault_owner owner;

/* A memfd of len bytes as a log, mapped; the fd stays open in *fd. */
static void log_from_memfd(struct vu_log *log, int *fd, uint64_t len)
{
    *fd = memfd_create("vu-log-test", MFD_CLOEXEC);
    assert_true(*fd >= 0);
    assert_int_equal(ftruncate(*fd, (off_t)len), 0);
    vu_log_init(log);
    assert_int_equal(vu_log_map(log, *fd, len, 0, &owner), 0);
}

static void log_done(struct vu_log *log, int fd)
{
    vu_log_unmap(log);
    close(fd);
}

static void test_bit_math(void **state)
{
    struct vu_log log;
    int fd;

    (void)state;
    log_from_memfd(&log, &fd, 64);
    vu_log_mark(&log, 0, 1);
    assert_int_equal(log.bitmap[0], 0x01);
    /* Two bytes astride a page boundary: both pages. */
    vu_log_mark(&log, 4095, 2);
    assert_int_equal(log.bitmap[0], 0x03);
    /* Page 29 = byte 3, bit 5. */
    vu_log_mark(&log, 29 * PAGE + 100, 8);
    assert_int_equal(log.bitmap[3], 0x20);
    /* Pages 46..57 cross two byte boundaries: bits 6-7 of byte 5, all of 6, bits 0-1 of 7. */
    vu_log_mark(&log, 46 * PAGE, 12 * PAGE);
    assert_int_equal(log.bitmap[5], 0xc0);
    assert_int_equal(log.bitmap[6], 0xff);
    assert_int_equal(log.bitmap[7], 0x03);
    assert_int_equal(log.bitmap[8], 0);
    /* A length ending exactly on a page boundary does not touch the next page. */
    vu_log_mark(&log, 80 * PAGE, PAGE);
    assert_int_equal(log.bitmap[10], 0x01);
    /* Zero bytes mark nothing; bits set by others stay set. */
    log.bitmap[12] = 0x5a;
    vu_log_mark(&log, 96 * PAGE, 0);
    vu_log_mark(&log, 96 * PAGE, 1);
    assert_int_equal(log.bitmap[12], 0x5b);
    assert_int_equal(atomic_load(&log.dropped), 0);
    log_done(&log, fd);
}

static void test_boundaries(void **state)
{
    struct vu_log log;
    int fd;

    (void)state;
    log_from_memfd(&log, &fd, 2); /* pages 0..15 */
    assert_true(vu_log_covers(&log, 16 * PAGE));
    assert_false(vu_log_covers(&log, 16 * PAGE + 1));
    vu_log_mark(&log, 15 * PAGE, PAGE);
    assert_int_equal(log.bitmap[1], 0x80);
    /* Straddling the end: the part inside is marked, the rest counted. */
    vu_log_mark(&log, 14 * PAGE, 7 * PAGE);
    assert_int_equal(log.bitmap[1], 0xc0);
    assert_int_equal(atomic_load(&log.dropped), 5);
    assert_true(atomic_load(&log.warned));
    /* Wholly outside, far outside, wrapping: counted, nothing written. */
    vu_log_mark(&log, 16 * PAGE, 1);
    vu_log_mark(&log, 1ull << 62, 8);
    vu_log_mark(&log, UINT64_MAX - 10, 100);
    vu_log_mark(&log, UINT64_MAX, 1);
    assert_int_equal(atomic_load(&log.dropped), 9);
    assert_int_equal(log.bitmap[0], 0);
    /* The byte after the bitmap is ours to map but not the log's: untouched. */
    assert_int_equal(log.bitmap[2], 0);
    log_done(&log, fd);
}

struct marker {
    struct vu_log *log;
    unsigned id, n;
};

/*
 * Each thread marks its own pages, which share bytes with every other
 * thread's: a plain read-modify-write would lose some of them.
 */
static void *mark_thread(void *arg)
{
    struct marker *m = arg;

    for (unsigned round = 0; round < 200; round++)
        for (uint64_t p = m->id; p < 8 * 512; p += m->n)
            vu_log_mark(m->log, p * PAGE + round % PAGE, 1);
    return NULL;
}

static void test_concurrent_marks_lose_nothing(void **state)
{
    struct marker m[4];
    pthread_t th[4];
    struct vu_log log;
    int fd;

    (void)state;
    log_from_memfd(&log, &fd, 512);
    for (unsigned i = 0; i < 4; i++) {
        m[i] = (struct marker){ &log, i, 4 };
        assert_int_equal(pthread_create(&th[i], NULL, mark_thread, &m[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(log.bitmap[i], 0xff);
    log_done(&log, fd);
}

static void test_bad_regions(void **state)
{
    struct vu_log log;
    int fd = memfd_create("vu-log-bad", MFD_CLOEXEC), p[2];

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 2 * PAGE), 0);
    vu_log_init(&log);
    assert_int_equal(vu_log_map(&log, -1, 16, 0, &owner), -EBADF);
    assert_int_equal(vu_log_map(&log, fd, 0, 0, &owner), -EINVAL);
    assert_int_equal(vu_log_map(&log, fd, VU_LOG_MAX_SIZE + 1, 0, &owner), -EINVAL);
    assert_int_equal(vu_log_map(&log, fd, 16, 100, &owner), -EINVAL); /* unaligned */
    assert_int_equal(vu_log_map(&log, fd, 16, UINT64_MAX & ~4095ull, &owner), -EINVAL); /* wraps */
    assert_int_equal(vu_log_map(&log, fd, 16, 1ull << 63, &owner), -EINVAL); /* off_t < 0 */
    assert_int_equal(vu_log_map(&log, fd, 3 * PAGE, 0, &owner), -EINVAL);    /* fd too short */
    assert_int_equal(vu_log_map(&log, fd, 16, 2 * PAGE, &owner), -EINVAL);   /* past the end */
    assert_int_equal(vu_log_map(&log, fd, PAGE + 1, PAGE, &owner), -EINVAL); /* runs past it */
    assert_int_equal(pipe(p), 0);
    assert_true(vu_log_map(&log, p[0], 16, 0, &owner) < 0); /* nothing to map */
    close(p[0]);
    close(p[1]);
    assert_null(log.bitmap);

    /* A good one, then a bad one: the good one stays. */
    assert_int_equal(vu_log_map(&log, fd, PAGE, PAGE, &owner), 0);
    uint8_t *good = log.bitmap;
    assert_int_equal(log.map_len, 2 * PAGE); /* one page of bitmap, one of guard */
    unsigned char vec;
    assert_int_equal(mincore(good + PAGE, PAGE, &vec), 0); /* the guard is reserved */
    assert_int_equal(vu_log_map(&log, fd, 16, 8 * PAGE, &owner), -EINVAL);
    assert_ptr_equal(log.bitmap, good);
    vu_log_mark(&log, 0, 1);
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, PAGE), 1); /* mmap_offset counts from the fd's start */
    assert_int_equal(b, 1);
    vu_log_unmap(&log);
    vu_log_unmap(&log); /* idempotent */
    close(fd);
}

/* A frontend that cuts the log file under us costs its connection, not the process. */
static void test_shrunk_log(void **state)
{
    struct vu_log log;
    uint64_t n;
    int fd;

    (void)state;
    vu_fault_owner_init(&owner);
    owner.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_int_equal(vu_fault_init(), 0);
    log_from_memfd(&log, &fd, 2 * PAGE);
    vu_log_mark(&log, 0, 1);
    assert_int_equal(ftruncate(fd, 0), 0);
    vu_log_mark(&log, PAGE * 8 * PAGE, 1); /* bit in the bitmap's second page: gone */
    assert_true(vu_fault_owner_faulted(&owner));
    assert_int_equal(read(owner.notify_fd, &n, sizeof(n)), sizeof(n));
    log_done(&log, fd);
    vu_fault_owner_clear(&owner);
    close(owner.notify_fd);
    vu_fault_owner_init(&owner);
}

/* Host iovecs back to guest-physical pages, through the memory table. */
static void test_mark_iov(void **state)
{
    struct vu_mem_table t = { .owner = &owner };
    struct vu_log log;
    struct iovec iov[3];
    int fd, mfd[2];

    (void)state;
    for (unsigned i = 0; i < 2; i++) {
        mfd[i] = memfd_create("vu-log-mem", MFD_CLOEXEC);
        assert_int_equal(ftruncate(mfd[i], 64 * PAGE), 0);
    }
    /* Region 0: gpa 0..256 KiB; region 1: gpa 1 MiB..1.25 MiB, from 8 pages into its fd. */
    assert_int_equal(vu_mem_add_region(&t, 0, 64 * PAGE, 0x10000000, 0, mfd[0]), 0);
    assert_int_equal(vu_mem_add_region(&t, 256 * PAGE, 56 * PAGE, 0x20000000, 8 * PAGE, mfd[1]), 0);
    log_from_memfd(&log, &fd, 64);
    iov[0] = (struct iovec){ vu_mem_gpa_to_host(&t, 3 * PAGE + 10, 1), 100 };
    iov[1] = (struct iovec){ vu_mem_gpa_to_host(&t, 260 * PAGE, 1), 3 * PAGE };
    iov[2] = (struct iovec){ vu_mem_gpa_to_host(&t, 300 * PAGE, 1), PAGE };
    /* Only the first len bytes: iov[1] up to one byte into its second page, none of iov[2]. */
    vu_log_mark_iov(&log, &t, iov, 3, 100 + PAGE + 1);
    assert_int_equal(log.bitmap[0], 0x08);
    assert_int_equal(log.bitmap[260 / 8], 0x30); /* pages 260, 261 */
    assert_int_equal(log.bitmap[300 / 8], 0);
    assert_int_equal(atomic_load(&log.dropped), 0);

    /* Memory that is not in the table any more: counted, not marked. */
    char local[64];
    iov[0] = (struct iovec){ local, sizeof(local) };
    vu_log_mark_iov(&log, &t, iov, 1, UINT64_MAX);
    assert_int_equal(atomic_load(&log.dropped), 1);
    vu_log_mark_iov(&log, NULL, &iov[2], 1, UINT64_MAX);
    assert_int_equal(atomic_load(&log.dropped), 2);
    log_done(&log, fd);
    vu_mem_table_clear(&t);
}

/* The used ring through virtq: every store to it, at the log address of the ring. */
static void test_used_ring_logged(void **state)
{
    struct rh_mem m;
    struct rh_ring r;
    struct vu_log log;
    uint64_t used_gpa, buf = 0;
    uint32_t head, len;
    int fd;

    (void)state;
    assert_int_equal(rh_mem_init(&m, 64 * PAGE), 0);
    assert_int_equal(rh_ring_init(&r, &m, 256, true, false), 0);
    assert_int_equal(vu_mem_host_to_gpa(&m.table, r.used, 1, &used_gpa), 0);
    log_from_memfd(&log, &fd, 64);
    buf = rh_alloc(&m, 100, PAGE); /* a page of its own */
    struct rh_seg seg = { buf, 100, true };
    assert_true(rh_post(&r, &seg, 1, NULL) >= 0);

    /* No log attached: nothing is marked. */
    struct iovec iov[4];
    struct virtq_elem e = { .iov = iov, .iov_max = 4 };
    assert_int_equal(virtq_pop(&r.vq, &e), 1);
    virtq_push(&r.vq, e.head, 0);
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(log.bitmap[i], 0);

    /*
     * Logged at log_used_gpa, which need not be where the ring is: put it
     * 1 MiB higher.  The 256-entry used ring spans two pages; element 1 is
     * on the first, avail_event on the second.
     */
    uint64_t lg = used_gpa + 256 * PAGE;
    r.vq.log = &log;
    r.vq.log_used = true;
    r.vq.log_used_gpa = lg;
    assert_true(rh_post(&r, &seg, 1, NULL) >= 0);
    assert_int_equal(virtq_pop(&r.vq, &e), 1);
    virtq_log_written(&r.vq, e.iov + e.out_num, e.in_num, 10);
    virtq_push(&r.vq, e.head, 10);
    assert_true(rh_get_used(&r, &head, &len));
    uint64_t pg = (lg + 2) / PAGE; /* used->idx */
    assert_true(log.bitmap[pg / 8] & (1u << pg % 8));
    assert_true(log.bitmap[(buf / PAGE) / 8] & (1u << (buf / PAGE) % 8));
    uint64_t ev = (lg + 4 + 8 * 256) / PAGE;
    assert_false(ev != pg && (log.bitmap[ev / 8] & (1u << ev % 8)));
    assert_false(virtq_enable_notify(&r.vq));
    assert_true(log.bitmap[ev / 8] & (1u << ev % 8));
    /* Not at the ring's real address, which is another page. */
    uint64_t real = used_gpa / PAGE;
    assert_true(real != pg);
    assert_false(log.bitmap[real / 8] & (1u << real % 8));

    /* Without VHOST_VRING_F_LOG the used ring is not logged, the buffers still are. */
    memset(log.bitmap, 0, 64);
    r.vq.log_used = false;
    assert_true(rh_post(&r, &seg, 1, NULL) >= 0);
    assert_int_equal(virtq_pop(&r.vq, &e), 1);
    virtq_log_written(&r.vq, e.iov + e.out_num, e.in_num, 10);
    virtq_push(&r.vq, e.head, 10);
    assert_false(log.bitmap[pg / 8] & (1u << pg % 8));
    assert_true(log.bitmap[(buf / PAGE) / 8] & (1u << (buf / PAGE) % 8));

    /* A log address near the top of the address space: counted, never a wild write. */
    r.vq.log_used = true;
    r.vq.log_used_gpa = UINT64_MAX - 4;
    virtq_push(&r.vq, 0, 0);
    assert_true(atomic_load(&log.dropped) > 0);
    log_done(&log, fd);
    rh_ring_fini(&r);
    rh_mem_fini(&m);
}

/* --- the messages, through vu_dev --- */

static int pair[2];
static struct vu_dev dev;

static void op_nop(struct vu_dev *d)
{
    (void)d;
}

static const struct vu_dev_ops ops = { .pause = op_nop, .resume = op_nop };

static int dev_setup(void **state)
{
    (void)state;
    return vu_dev_open_pair(&dev, &ops, 1ULL << VHOST_F_LOG_ALL,
                            (1ULL << VU_PROTOCOL_F_REPLY_ACK) | (1ULL << VU_PROTOCOL_F_LOG_SHMFD),
                            pair);
}

static int dev_teardown(void **state)
{
    (void)state;
    vu_dev_close_pair(&dev, pair);
    return 0;
}

static int handle(uint32_t req, uint32_t flags, const void *payload, uint32_t size, int fd)
{
    return vu_dev_msg_handle(&dev, req, flags, payload, size, fd);
}

/* The next reply's u64, or -1 when there is none. */
static int64_t reply_u64(uint32_t expect_req)
{
    struct vu_msg r;
    int avail = 0;

    if (recv(pair[1], &avail, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
        return -1;
    assert_int_equal(vu_msg_recv(pair[1], &r), 1);
    assert_int_equal(r.hdr.request, expect_req);
    assert_int_equal(r.hdr.size, 8);
    return (int64_t)r.payload.u64;
}

static void set_u64(uint32_t req, uint64_t v)
{
    assert_int_equal(handle(req, 0, &v, 8, -1), 0);
}

static void test_set_log_base(void **state)
{
    struct vu_log_msg lm = { .mmap_size = 4096 };
    int fd = memfd_create("log", MFD_CLOEXEC);

    (void)state;
    assert_int_equal(ftruncate(fd, 8192), 0);
    /* Without LOG_SHMFD: refused; no reply unless REPLY_ACK asks for one. */
    set_u64(VU_SET_PROTOCOL_FEATURES, 1ULL << VU_PROTOCOL_F_REPLY_ACK);
    assert_int_equal(handle(VU_SET_LOG_BASE, 0, &lm, sizeof(lm), fd), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), -1);
    assert_int_equal(handle(VU_SET_LOG_BASE, VU_FLAG_NEED_REPLY, &lm, sizeof(lm), fd), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), 1);
    assert_null(dev.log.bitmap);

    /* With it: always one reply, 0 or 1, also when REPLY_ACK was asked for too. */
    set_u64(VU_SET_PROTOCOL_FEATURES,
            (1ULL << VU_PROTOCOL_F_REPLY_ACK) | (1ULL << VU_PROTOCOL_F_LOG_SHMFD));
    assert_int_equal(handle(VU_SET_LOG_BASE, VU_FLAG_NEED_REPLY, &lm, sizeof(lm), fd), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), -1);
    assert_non_null(dev.log.bitmap);
    uint8_t *first = dev.log.bitmap;
    lm.mmap_offset = 8192; /* past the end */
    assert_int_equal(handle(VU_SET_LOG_BASE, 0, &lm, sizeof(lm), fd), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), 1);
    assert_ptr_equal(dev.log.bitmap, first);
    lm.mmap_offset = 0;
    assert_int_equal(handle(VU_SET_LOG_BASE, 0, &lm, sizeof(lm), -1), 0); /* no fd */
    assert_int_equal(reply_u64(VU_SET_LOG_BASE), 1);

    /* Attached to the vrings only while LOG_ALL is negotiated. */
    assert_null(dev.vrings[2].vq.log);
    set_u64(VU_SET_FEATURES, 1ULL << VHOST_F_LOG_ALL);
    assert_ptr_equal(dev.vrings[2].vq.log, &dev.log);
    assert_ptr_equal(dev.vrings[0].vq.log, &dev.log);
    struct vu_vring_addr a = { .index = 2, .flags = 1u << VHOST_VRING_F_LOG, .log_gpa = 0x5000 };
    assert_int_equal(handle(VU_SET_VRING_ADDR, 0, &a, sizeof(a), -1), 0);
    assert_true(dev.vrings[2].vq.log_used);
    assert_int_equal(dev.vrings[2].vq.log_used_gpa, 0x5000);
    set_u64(VU_SET_FEATURES, 0);
    assert_null(dev.vrings[2].vq.log);
    set_u64(VU_SET_FEATURES, 1ULL << VHOST_F_LOG_ALL);
    vu_dev_disconnect(&dev);
    assert_null(dev.log.bitmap);
    assert_null(dev.vrings[2].vq.log);
    close(fd);
}

static void test_set_log_fd(void **state)
{
    int efd = eventfd(0, 0), efd2 = eventfd(0, 0), p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    set_u64(VU_SET_PROTOCOL_FEATURES, 1ULL << VU_PROTOCOL_F_REPLY_ACK);
    assert_int_equal(handle(VU_SET_LOG_FD, VU_FLAG_NEED_REPLY, NULL, 0, p[0]), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_FD), 1);
    assert_int_equal(dev.log.call_fd, -1);
    assert_int_equal(handle(VU_SET_LOG_FD, VU_FLAG_NEED_REPLY, NULL, 0, efd), 0);
    assert_int_equal(reply_u64(VU_SET_LOG_FD), 0);
    int kept = dev.log.call_fd;
    assert_true(kept >= 0);
    assert_true(fcntl(kept, F_GETFL) & O_NONBLOCK);
    /* A second one replaces the first, which is closed. */
    assert_int_equal(handle(VU_SET_LOG_FD, 0, NULL, 0, efd2), 0);
    assert_true(dev.log.call_fd >= 0);
    vu_dev_disconnect(&dev);
    assert_int_equal(dev.log.call_fd, -1);
    close(efd);
    close(efd2);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_math),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_concurrent_marks_lose_nothing),
        cmocka_unit_test(test_bad_regions),
        cmocka_unit_test(test_shrunk_log),
        cmocka_unit_test(test_mark_iov),
        cmocka_unit_test(test_used_ring_logged),
        cmocka_unit_test_setup_teardown(test_set_log_base, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_set_log_fd, dev_setup, dev_teardown),
    };

    vu_fault_owner_init(&owner);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
