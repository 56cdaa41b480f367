/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty-page logging through the real daemon (issue 11), driven as QEMU
 * drives it during a live migration: a shared-memory log (LOG_SHMFD), then
 * VHOST_F_LOG_ALL and VHOST_VRING_F_LOG on every ring.  After each command
 * exactly the pages the daemon wrote must be marked (data-in that was
 * transferred, responses, TMF answers, event buffers, used rings) and no page
 * it only read; with logging off nothing is.  Then hostile logs: too small,
 * past the end of their fd, shrunk under the daemon, sent without LOG_SHMFD,
 * replaced while requests run.  None may kill the daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "tests/frontend/fe_harness.h"
#include "vhost/vu_proto.h"
#include "virtq/virtio_ring.h"

#define MiB  (1024u * 1024u)
#define PAGE 4096u
#define REQ0 VIRTIO_SCSI_VQ_REQUEST

struct ctx {
    struct daemon d;
    char path[64];
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
    int logfd;
    uint8_t *log;
    size_t loglen;
    uint8_t *allowed; /* per page of guest-physical space: the daemon may write it */
    size_t npages;
};

static int connect_fe(struct ctx *cx, bool no_log_shmfd)
{
    struct vus_fe_config cfg = { .socket_path = cx->d.sock,
                                 .num_req_queues = 1,
                                 .no_log_shmfd = no_log_shmfd,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    int r = vus_fe_connect(&cfg, &cx->fe);

    if (r == 0)
        cx->vq = vus_fe_vq(cx->fe, REQ0);
    return r;
}

static int setup(void **state)
{
    static struct ctx cx;
    char lun[128];

    memset(&cx, 0, sizeof(cx));
    cx.logfd = -1;
    /* A file LUN: its I/O completes asynchronously, and a resize makes an event. */
    if (fe_file_lun(cx.path, sizeof(cx.path), "log", lun, sizeof(lun)) < 0)
        return -1;
    const char *const args[] = { "--lun", lun, NULL };
    if (daemon_start(&cx.d, args) < 0 || connect_fe(&cx, false) < 0)
        return -1;
    *state = &cx;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *cx = *state;
    int ret;

    vus_fe_close(cx->fe);
    if (cx->log)
        munmap(cx->log, cx->loglen);
    if (cx->logfd >= 0)
        close(cx->logfd);
    free(cx->allowed);
    ret = daemon_stop(&cx->d);
    unlink(cx->path);
    return ret == 0 ? 0 : -1;
}

/* The end of guest-physical memory: the log must cover [0, end). */
static uint64_t mem_end(struct vus_fe *fe)
{
    uint64_t end = 0, gpa;
    size_t size;

    for (unsigned i = 0; i < vus_fe_num_regions(fe); i++) {
        assert_int_equal(vus_fe_region(fe, i, NULL, &gpa, &size), 0);
        if (gpa + size > end)
            end = gpa + size;
    }
    return end;
}

/* A fresh memfd of len bytes, mapped for the test to read; sealed only if asked. */
static void make_log(struct ctx *cx, size_t len)
{
    cx->logfd = memfd_create("vusfe-dirty-log", MFD_CLOEXEC);
    assert_true(cx->logfd >= 0);
    assert_int_equal(ftruncate(cx->logfd, (off_t)len), 0);
    cx->loglen = len;
    cx->log = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, cx->logfd, 0);
    assert_true(cx->log != MAP_FAILED);
}

static void allow(struct ctx *cx, uint64_t gpa, uint64_t len)
{
    for (uint64_t p = gpa / PAGE; len && p <= (gpa + len - 1) / PAGE; p++)
        if (p < cx->npages)
            cx->allowed[p] = 1;
}

/*
 * Pages the daemon writes for any command: the response halves of every
 * queue's header slots (the request halves share their pages) and every used
 * ring.  Data-in buffers are added per command.
 */
static void allow_rings(struct ctx *cx)
{
    for (unsigned q = 0; q < vus_fe_num_vqs(cx->fe); q++) {
        struct vus_fe_vq *vq = vus_fe_vq(cx->fe, q);
        uint64_t gpa;
        size_t len;

        vus_fe_vq_used_area(vq, &gpa, &len);
        allow(cx, gpa, len);
        for (unsigned h = 0; h < vus_fe_vq_size(vq); h++) {
            void *slot = vus_fe_vq_hdr_slot(vq, (uint16_t)h, &len);
            assert_int_equal(vus_fe_gpa(cx->fe, slot, len, &gpa), 0);
            allow(cx, gpa, len);
        }
    }
}

static bool marked(const struct ctx *cx, uint64_t gpa)
{
    uint64_t p = gpa / PAGE;
    return __atomic_load_n(&cx->log[p / 8], __ATOMIC_ACQUIRE) & (1u << (p % 8));
}

static void log_clear(struct ctx *cx)
{
    memset(cx->allowed, 0, cx->npages);
    allow_rings(cx);
    for (size_t i = 0; i < cx->loglen; i++)
        __atomic_store_n(&cx->log[i], 0, __ATOMIC_RELEASE);
}

/* Nothing outside the allowed pages is marked, and the used ring of vq was (it completed). */
static void expect_only_allowed(struct ctx *cx, struct vus_fe_vq *vq)
{
    uint64_t used;
    size_t len;

    for (uint64_t p = 0; p < cx->npages; p++)
        if (marked(cx, p * PAGE) && !cx->allowed[p])
            fail_msg("page 0x%llx is marked, but the daemon had no business writing it",
                     (unsigned long long)(p * PAGE));
    vus_fe_vq_used_area(vq, &used, &len);
    assert_true(marked(cx, used + offsetof(struct vring_used_le, idx)));
}

static uint64_t gpa_of(struct ctx *cx, const void *p)
{
    uint64_t g = 0;
    assert_int_equal(vus_fe_gpa(cx->fe, p, 1, &g), 0);
    return g;
}

/* Whether any page of [p, p + len) is marked. */
static bool any_marked(struct ctx *cx, const void *p, size_t len)
{
    uint64_t g = gpa_of(cx, p);
    for (uint64_t a = g & ~(uint64_t)(PAGE - 1); a < g + len; a += PAGE)
        if (marked(cx, a))
            return true;
    return false;
}

/* A log covering all guest memory, handed over and switched on as QEMU does. */
static void start_logging(struct ctx *cx)
{
    uint64_t end = mem_end(cx->fe);

    cx->npages = (size_t)((end + PAGE - 1) / PAGE);
    cx->allowed = calloc(cx->npages, 1);
    assert_non_null(cx->allowed);
    make_log(cx, (cx->npages + 63) / 64 * 8);
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, cx->loglen, 0), 0);
    assert_int_equal(vus_fe_set_log(cx->fe, true), 0);
}

static void rw(struct ctx *cx, bool write, void *buf, size_t len, uint32_t blocks)
{
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, write, 16, blocks);
    assert_int_equal(scsi_exec(cx->vq, &c, 0, cdb, 16, buf, len, write ? 1 : 2), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
}

static void test_written_pages_are_marked(void **state)
{
    struct ctx *cx = *state;
    uint8_t *out = vus_fe_alloc(cx->fe, 4 * PAGE, PAGE);
    uint8_t *in = vus_fe_alloc(cx->fe, 4 * PAGE, PAGE);
    uint8_t resp;

    assert_non_null(out);
    assert_non_null(in);
    clear_ua(cx->vq, 0, 0);
    start_logging(cx);

    /* A WRITE: the daemon reads the data and writes only the response and the used ring. */
    fill(out, 4 * PAGE, 1);
    log_clear(cx);
    rw(cx, true, out, 2 * PAGE, 16);
    expect_only_allowed(cx, cx->vq);
    assert_false(any_marked(cx, out, 4 * PAGE));

    /* A READ of one page into a three-page buffer: that page, not the two it left alone. */
    log_clear(cx);
    allow(cx, gpa_of(cx, in), PAGE);
    rw(cx, false, in, 3 * PAGE, 8);
    expect_only_allowed(cx, cx->vq);
    assert_true(marked(cx, gpa_of(cx, in)));
    assert_false(any_marked(cx, in + PAGE, 3 * PAGE));
    assert_memory_equal(in, out, PAGE);

    /* Across a page boundary, starting mid-page: both pages. */
    log_clear(cx);
    allow(cx, gpa_of(cx, in + 2048), 2 * PAGE);
    rw(cx, false, in + 2048, 2 * PAGE, 16);
    expect_only_allowed(cx, cx->vq);
    assert_true(marked(cx, gpa_of(cx, in)) && marked(cx, gpa_of(cx, in + PAGE)) &&
                marked(cx, gpa_of(cx, in + 2 * PAGE)));

    /* TMFs: the answer on the control queue, whether given at once or through the TMF path. */
    struct vus_fe_vq *ctrl = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_CONTROL);
    log_clear(cx);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 77, &resp, T_TIMEOUT),
                     0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    expect_only_allowed(cx, ctrl);
    log_clear(cx);
    assert_int_equal(vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 77, &resp, T_TIMEOUT),
                     0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    expect_only_allowed(cx, ctrl);
    log_clear(cx);
    assert_int_equal(
        vus_fe_tmf(cx->fe, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0, &resp, T_TIMEOUT), 0);
    assert_int_equal(resp, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    expect_only_allowed(cx, ctrl);

    /* An event: the buffer it was written into and the event queue's used ring. */
    struct vus_fe_vq *evq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_EVENT);
    struct virtio_scsi_event ev;
    uint32_t len = 0;
    assert_int_equal(vus_fe_event_post(cx->fe, 2), 0);
    log_clear(cx);
    assert_int_equal(truncate(cx->path, 16 * MiB), 0);
    assert_int_equal(kill(cx->d.pid, SIGHUP), 0);
    int got = 0;
    for (int i = 0; i < 500 && got != 1; i++) {
        got = vus_fe_event_reap(cx->fe, &ev, &len);
        if (got != 1)
            usleep(10000);
    }
    assert_int_equal(got, 1);
    assert_int_equal(len, sizeof(ev));
    expect_only_allowed(cx, evq);

    /* Logging off: nothing is marked any more. */
    assert_int_equal(vus_fe_set_log(cx->fe, false), 0);
    log_clear(cx);
    clear_ua(cx->vq, 0, 0);
    rw(cx, false, in, PAGE, 8);
    for (size_t i = 0; i < cx->loglen; i++)
        assert_int_equal(cx->log[i], 0);
}

/* How many lines of the daemon's log contain s. */
static unsigned log_lines(struct ctx *cx, const char *s)
{
    char line[512];
    unsigned n = 0;
    FILE *f = fopen(cx->d.log, "r");

    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return n;
}

/*
 * A log of 32 bytes covers guest-physical memory up to 1 MiB, where our
 * guest memory starts: accepted (QEMU may grow the table later), nothing can
 * be logged, and the daemon says so once, however many writes miss.
 */
static void test_log_too_small(void **state)
{
    struct ctx *cx = *state;
    uint8_t *in = vus_fe_alloc(cx->fe, PAGE, PAGE);

    clear_ua(cx->vq, 0, 0);
    make_log(cx, 32);
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 32, 0), 0);
    assert_int_equal(vus_fe_set_log(cx->fe, true), 0);
    for (int i = 0; i < 20; i++)
        rw(cx, false, in, PAGE, 8);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(cx->log[i], 0);
    assert_true(daemon_alive(&cx->d));
    assert_int_equal(log_lines(cx, "does not cover guest memory"), 1);
    assert_int_equal(log_lines(cx, "cannot be logged"), 1);
}

/* Logs the daemon must refuse, each answered 1 on a connection that keeps working. */
static void test_bad_logs_refused(void **state)
{
    struct ctx *cx = *state;
    uint8_t *in = vus_fe_alloc(cx->fe, PAGE, PAGE);

    clear_ua(cx->vq, 0, 0);
    make_log(cx, 4096);
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 4096, 1 * MiB), 1); /* past the end */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 8192, 0), 1);       /* bigger than fd */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 16, 100), 1);       /* unaligned */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 1ull << 40, 0), 1); /* absurd */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 4096, ~0ull << 12), 1); /* wraps */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 0, 0), 1);              /* empty */
    assert_int_equal(vus_fe_set_log_base(cx->fe, -1, 4096, 0), 1);                  /* no fd */
    /* SET_LOG_FD takes an eventfd only. */
    int p[2], efd = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_LOG_FD, NULL, 0, &p[1], 1), 1);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_LOG_FD, NULL, 0, &efd, 1), 0);
    close(p[0]);
    close(p[1]);
    close(efd);
    /* LOG_ALL without a log: nothing to write into, and nothing breaks. */
    assert_int_equal(vus_fe_set_log(cx->fe, true), 0);
    rw(cx, false, in, PAGE, 8);
    assert_true(daemon_alive(&cx->d));
}

/*
 * The frontend cuts the log file to nothing after handing it over: the next
 * mark faults, the daemon drops that connection and serves the next one.
 */
static void test_shrunk_log(void **state)
{
    struct ctx *cx = *state;
    uint8_t *in = vus_fe_alloc(cx->fe, PAGE, PAGE);
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    clear_ua(cx->vq, 0, 0);
    start_logging(cx);
    rw(cx, false, in, PAGE, 8);
    assert_int_equal(ftruncate(cx->logfd, 0), 0);
    cdb_rw16(cdb, false, 0, 8);
    scsi_exec_tmo(cx->vq, &c, 0, cdb, 16, in, PAGE, 2, 1000); /* may or may not complete */
    assert_true(vus_fe_peer_closed(cx->fe, T_TIMEOUT));
    assert_true(daemon_alive(&cx->d));
    vus_fe_close(cx->fe);
    cx->fe = NULL;
    assert_int_equal(connect_fe(cx, false), 0);
    in = vus_fe_alloc(cx->fe, PAGE, PAGE);
    clear_ua(cx->vq, 0, 0);
    rw(cx, false, in, PAGE, 8);
}

/* Without LOG_SHMFD there is no log the daemon could reach: refused, and no reply is owed. */
static void test_set_log_base_without_shmfd(void **state)
{
    struct ctx *cx = *state;
    struct vu_log_msg m = { .mmap_size = 4096 };
    uint8_t *in;

    vus_fe_close(cx->fe);
    assert_int_equal(connect_fe(cx, true), 0);
    assert_false(vus_fe_protocol_features(cx->fe) & (1ull << VU_PROTOCOL_F_LOG_SHMFD));
    in = vus_fe_alloc(cx->fe, PAGE, PAGE);
    clear_ua(cx->vq, 0, 0);
    make_log(cx, 4096);
    /* REPLY_ACK is negotiated: the library asks for the ack, which says no. */
    assert_int_equal(vus_fe_set_log_base(cx->fe, cx->logfd, 4096, 0), 1);
    /* Without NEED_REPLY nothing comes back, and the connection goes on. */
    assert_int_equal(
        vus_fe_send_raw(cx->fe, VU_SET_LOG_BASE, VU_VERSION, &m, sizeof(m), &cx->logfd, 1), 0);
    assert_int_equal(vus_fe_set_log(cx->fe, true), 0);
    rw(cx, false, in, PAGE, 8);
    assert_int_equal(cx->log[0], 0);
    assert_true(daemon_alive(&cx->d));
}

struct reader {
    struct ctx *cx;
    uint8_t *buf;
    atomic_bool stop;
    atomic_uint done, bad;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct vus_fe_cmd c;
    uint8_t cdb[16];

    cdb_rw16(cdb, false, 0, 8);
    while (!atomic_load(&r->stop)) {
        if (scsi_exec(r->cx->vq, &c, 0, cdb, 16, r->buf, PAGE, 2) < 0 ||
            c.response != VIRTIO_SCSI_S_OK)
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->done, 1);
    }
    return NULL;
}

/* New logs while requests run: the workers are paused around each swap, never mark a gone one. */
static void test_log_replaced_under_io(void **state)
{
    struct ctx *cx = *state;
    struct reader r = { .cx = cx };
    pthread_t th;
    int fds[2];

    clear_ua(cx->vq, 0, 0);
    start_logging(cx);
    for (int i = 0; i < 2; i++) {
        fds[i] = memfd_create("vusfe-log-swap", MFD_CLOEXEC);
        assert_int_equal(ftruncate(fds[i], (off_t)cx->loglen), 0);
    }
    r.buf = vus_fe_alloc(cx->fe, PAGE, PAGE);
    atomic_init(&r.stop, false);
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    for (int i = 0; i < 60; i++) {
        assert_int_equal(vus_fe_set_log_base(cx->fe, fds[i % 2], cx->loglen, 0), 0);
        if (i % 10 == 9)
            assert_int_equal(vus_fe_set_log(cx->fe, i % 20 != 9), 0);
        usleep(2000);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_true(atomic_load(&r.done) > 0);
    assert_int_equal(atomic_load(&r.bad), 0);
    rw(cx, false, r.buf, PAGE, 8);
    /* The last log is fds[1]: the reader's pages went there. */
    uint8_t *last = mmap(NULL, cx->loglen, PROT_READ, MAP_SHARED, fds[1], 0);
    assert_true(last != MAP_FAILED);
    uint64_t p = gpa_of(cx, r.buf) / PAGE;
    assert_true(last[p / 8] & (1u << (p % 8)));
    munmap(last, cx->loglen);
    close(fds[0]);
    close(fds[1]);
    assert_true(daemon_alive(&cx->d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_written_pages_are_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_too_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_logs_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrunk_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_log_base_without_shmfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_replaced_under_io, setup, teardown),
    };

    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
