/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Task management, pauses and drains with backend I/O held in flight for as
 * long as the test wants (fuse_gate.h: the LUN is a file on a FUSE mount
 * served by this process).  Regression tests for the hardening issue (#8):
 *   item 4: TMFs never hold the control thread, abort for real (what
 *           io_uring can cancel is cancelled, the rest answers ABORTED when
 *           it ends) and answer after their victims;
 *   item 5: a worker draining for a pause takes no new requests, however
 *           full the guest keeps its ring;
 *   item 6: a worker never parks with I/O in flight, even when io_uring
 *           fails under it (errors injected into io_uring_enter with strace);
 * and guest memory on a FUSE file is refused (item 2's "no frontend fd can
 * block a thread", for page faults).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>
#include <pthread.h>

#include "tests/frontend/fe_harness.h"
#include "tests/frontend/fuse_gate.h"
#include "vhost/vu_proto.h"

#define GATE_SIZE (8u << 20)
#define REQ0      VIRTIO_SCSI_VQ_REQUEST

static struct fuse_gate gate;
static struct daemon dmn;

struct ctx {
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
    uint8_t *buf; /* 1 MiB of guest memory */
};

static int group_setup(void **state)
{
    static char lun[160];

    /* First, while the process is single-threaded (fuse_gate.h). */
    if (fuse_gate_start(&gate, GATE_SIZE) < 0)
        return -1;
    snprintf(lun, sizeof(lun), "type=file,path=%s", gate.path);
    const char *const args[] = { "--lun", lun, "--lun", "type=ram,size=8M", NULL };
    return daemon_start(&dmn, args) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    int ret;

    /* The daemon's orderly exit waits for held I/O. */
    fuse_gate_release(&gate);
    ret = daemon_stop(&dmn);
    fuse_gate_stop(&gate);
    return ret == 0 ? 0 : -1;
}

static int setup(void **state)
{
    static struct ctx cx;

    memset(&cx, 0, sizeof(cx));
    if (fe_open(&dmn, 2, &cx.fe) < 0)
        return -1;
    cx.vq = vus_fe_vq(cx.fe, REQ0);
    cx.buf = vus_fe_alloc(cx.fe, 1 << 20, 4096);
    *state = &cx;
    if (!cx.buf)
        return -1;
    clear_ua(cx.vq, 0, 0);
    clear_ua(cx.vq, 0, 1);
    return 0;
}

static int teardown(void **state)
{
    struct ctx *cx = *state;

    fuse_gate_release(&gate);
    vus_fe_close(cx->fe);
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Submit (and kick) a one-block READ(16) of LUN 0 with this tag into buf. */
static void submit_read(struct vus_fe_vq *vq, struct vus_fe_cmd *c, struct iovec *iov, uint8_t *buf,
                        uint64_t tag, unsigned flags)
{
    memset(c, 0, sizeof(*c));
    cdb_rw16(c->cdb, false, tag % 64, 1);
    c->tag = tag;
    c->flags = flags;
    *iov = (struct iovec){ buf, 512 };
    c->in = iov;
    c->in_cnt = 1;
    assert_int_equal(vus_fe_cmd_submit(vq, c), 0);
    vus_fe_vq_kick(vq);
}

/* Wait for the next completion on vq; it must be c. */
static void wait_cmd(struct vus_fe_vq *vq, struct vus_fe_cmd *c, int timeout_ms)
{
    struct vus_fe_cmd *done = NULL;

    for (int t = 0; t < timeout_ms / 10 && !done; t++) {
        done = vus_fe_cmd_reap(vq);
        if (!done)
            vus_fe_vq_wait(vq, 10);
    }
    assert_ptr_equal(done, c);
}

/* A TMF on the control queue from its own thread: vus_fe_tmf waits for the answer. */
struct tmf_call {
    struct vus_fe *fe;
    struct vus_fe_vq *watch; /* request queue whose used index is read at the answer */
    uint32_t subtype;
    unsigned lun;
    uint64_t tag;
    int ret;
    uint8_t response;
    uint16_t used_at_answer;
    pthread_t th;
};

static void *tmf_main(void *arg)
{
    struct tmf_call *t = arg;

    t->ret = vus_fe_tmf(t->fe, t->subtype, 0, t->lun, t->tag, &t->response, 45000);
    t->used_at_answer = vus_fe_vq_used_idx(t->watch);
    return NULL;
}

static void tmf_start(struct tmf_call *t, struct ctx *cx, uint32_t subtype, uint64_t tag)
{
    memset(t, 0, sizeof(*t));
    t->fe = cx->fe;
    t->watch = cx->vq;
    t->subtype = subtype;
    t->tag = tag;
    assert_int_equal(pthread_create(&t->th, NULL, tmf_main, t), 0);
}

/* Every vhost-user answer within 500 ms: the control thread is not waiting for anything. */
static void assert_socket_served(struct ctx *cx)
{
    for (int i = 0; i < 10; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = vus_fe_request_ack(cx->fe, VU_GET_FEATURES, NULL, 0, NULL, 0);
        long ms = ms_since(&t0);
        if (r < 0 || ms > 500)
            fail_msg("GET_FEATURES answered %d after %ld ms while a TMF waits", r, ms);
    }
}

/*
 * ABORT TASK on a READ that io_uring cannot cancel (a FUSE read is an async
 * request nobody waits for): the control thread keeps serving the socket
 * while the TMF waits; when the read ends it answers ABORTED, and the TMF
 * answers after it.
 */
static void test_abort_task_never_holds_the_control_thread(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    struct iovec iov;
    struct tmf_call t;

    fuse_gate_hold(&gate, FUSE_GATE_READ);
    submit_read(cx->vq, &c, &iov, cx->buf, 100, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    uint16_t used_before = vus_fe_vq_used_idx(cx->vq);

    tmf_start(&t, cx, VIRTIO_SCSI_T_TMF_ABORT_TASK, 100);
    usleep(100000);
    assert_socket_served(cx);
    fuse_gate_release(&gate);
    wait_cmd(cx->vq, &c, T_TIMEOUT);
    assert_int_equal(c.response, VIRTIO_SCSI_S_ABORTED);
    pthread_join(t.th, NULL);
    assert_int_equal(t.ret, 0);
    assert_int_equal(t.response, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    /* The victim's response was on its used ring when the TMF answered. */
    assert_int_equal((uint16_t)(t.used_at_answer - used_before), 1);
}

/*
 * A task that can neither be cancelled nor finishes: after 30 s the TMF
 * answers FAILURE (the guest escalates) rather than never; the task still
 * answers ABORTED when it ends.  Takes 30 s.
 */
static void test_tmf_deadline(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_cmd c;
    struct iovec iov;
    struct tmf_call t;
    struct timespec t0;

    fuse_gate_hold(&gate, FUSE_GATE_READ);
    submit_read(cx->vq, &c, &iov, cx->buf, 500, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tmf_start(&t, cx, VIRTIO_SCSI_T_TMF_ABORT_TASK, 500);
    pthread_join(t.th, NULL);
    long ms = ms_since(&t0);
    assert_int_equal(t.ret, 0);
    assert_int_equal(t.response, VIRTIO_SCSI_S_FAILURE);
    if (ms < 29000 || ms > 35000)
        fail_msg("the TMF answered after %ld ms, not 30 s", ms);
    fuse_gate_release(&gate);
    wait_cmd(cx->vq, &c, T_TIMEOUT);
    assert_int_equal(c.response, VIRTIO_SCSI_S_ABORTED);
    assert_socket_served(cx);
}

/*
 * N TMFs against a LUN kept busy: with the old waits each held the control
 * thread for up to 30 s, and QEMU's synchronous messages with it.
 */
static void test_tmfs_on_a_busy_lun(void **state)
{
    struct ctx *cx = *state;
    struct vus_fe_vq *ctl = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_CONTROL);
    struct vus_fe_cmd c[4];
    struct iovec iov[4];
    uint8_t *tmfbuf = cx->buf + 65536;
    const unsigned ntmf = 8;

    fuse_gate_hold(&gate, FUSE_GATE_READ);
    for (unsigned i = 0; i < 4; i++)
        submit_read(cx->vq, &c[i], &iov[i], cx->buf + i * 512, 200 + i, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 4, T_TIMEOUT), 0);
    for (unsigned i = 0; i < ntmf; i++) {
        struct virtio_scsi_ctrl_tmf_req req = {
            .type = htole32(VIRTIO_SCSI_T_TMF),
            .subtype = htole32(i % 2 ? VIRTIO_SCSI_T_TMF_ABORT_TASK_SET
                                     : VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET),
        };
        uint64_t rq, rs;
        vus_fe_lun_encode(req.lun, 0, 0);
        memcpy(tmfbuf + i * 64, &req, sizeof(req));
        tmfbuf[i * 64 + 32] = 0xee;
        assert_int_equal(vus_fe_gpa(cx->fe, tmfbuf + i * 64, sizeof(req), &rq), 0);
        assert_int_equal(vus_fe_gpa(cx->fe, tmfbuf + i * 64 + 32, 1, &rs), 0);
        struct vus_fe_seg segs[2] = { { rq, sizeof(req), false }, { rs, 1, true } };
        assert_true(vus_fe_vq_add(ctl, segs, 2, 0, NULL) >= 0);
    }
    vus_fe_vq_kick(ctl);
    usleep(100000);
    assert_socket_served(cx);
    /* None answered yet: they wait for the reads. */
    assert_int_equal(vus_fe_vq_used_idx(ctl), 0);
    fuse_gate_release(&gate);
    for (unsigned i = 0; i < 4; i++) {
        wait_cmd(cx->vq, &c[i], T_TIMEOUT);
        assert_int_equal(c[i].response, VIRTIO_SCSI_S_ABORTED);
    }
    for (int t = 0; t < 500 && vus_fe_vq_used_idx(ctl) != ntmf; t++)
        usleep(10000);
    assert_int_equal(vus_fe_vq_used_idx(ctl), ntmf);
    for (unsigned i = 0; i < ntmf; i++)
        assert_int_equal(tmfbuf[i * 64 + 32], VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}

/*
 * What io_uring can cancel is cancelled: a SYNCHRONIZE CACHE waiting in an
 * io-wq worker is interrupted by the LOGICAL UNIT RESET, answers ABORTED,
 * and the reset completes without the test releasing anything.
 */
static void test_reset_cancels_a_flush(void **state)
{
    struct ctx *cx = *state;
    unsigned interrupted = atomic_load(&gate.interrupted);
    struct vus_fe_cmd c;
    struct tmf_call t;
    uint8_t key, asc;

    fuse_gate_hold(&gate, FUSE_GATE_FSYNC);
    memset(&c, 0, sizeof(c));
    c.cdb[0] = 0x35; /* SYNCHRONIZE CACHE(10) */
    c.tag = 300;
    assert_int_equal(vus_fe_cmd_submit(cx->vq, &c), 0);
    vus_fe_vq_kick(cx->vq);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);

    tmf_start(&t, cx, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0);
    wait_cmd(cx->vq, &c, T_TIMEOUT);
    assert_int_equal(c.response, VIRTIO_SCSI_S_ABORTED);
    pthread_join(t.th, NULL);
    assert_int_equal(t.ret, 0);
    assert_int_equal(t.response, VIRTIO_SCSI_S_FUNCTION_COMPLETE);
    assert_int_equal(atomic_load(&gate.interrupted), interrupted + 1);
    fuse_gate_hold(&gate, 0);
    /* The reset is reported, once. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(vus_fe_cmd_exec(cx->vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 6);
    assert_int_equal(asc, 0x29);
}

/*
 * Item 5.  Every slot of the ring holds a read the backend is slow to
 * finish, and the guest re-offers each one the moment it completes.  A
 * worker draining for a pause used to refill the slots it freed from that
 * ring, so the drain never ended while the backend kept completing.
 */
struct releaser {
    atomic_bool stop;
    pthread_t th;
};

static void *releaser_main(void *arg)
{
    struct releaser *r = arg;

    /* One at a time: each completion frees one slot, which a draining worker must leave free. */
    while (!atomic_load(&r->stop)) {
        usleep(2000);
        fuse_gate_release_one(&gate);
    }
    return NULL;
}

static void test_pause_drains_without_taking_more(void **state)
{
    struct ctx *cx = *state;
    static struct vus_fe_cmd c[128];
    struct iovec iov[128];
    const unsigned num = vus_fe_vq_size(cx->vq);
    struct releaser rel;
    struct fe_refill fill;
    struct vu_vring_state st = { .index = REQ0 };
    struct timespec t0;
    uint32_t req;

    assert_true(num <= 128);
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    /* One ring descriptor per command (indirect), so the whole avail ring holds real heads. */
    for (unsigned i = 0; i < num; i++)
        submit_read(cx->vq, &c[i], &iov[i], cx->buf + i * 512, 1000 + i, VUS_FE_CMD_INDIRECT);
    assert_int_equal(fuse_gate_wait_held(&gate, num, T_TIMEOUT), 0);
    atomic_init(&rel.stop, false);
    assert_int_equal(fe_refill_start(&fill, cx->vq, (uint16_t)num), 0);
    assert_int_equal(pthread_create(&rel.th, NULL, releaser_main, &rel), 0);
    usleep(100000);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        vus_fe_send_raw(cx->fe, VU_GET_VRING_BASE, VU_VERSION, &st, sizeof(st), NULL, 0), 0);
    int r = vus_fe_recv_raw(cx->fe, &req, &st, sizeof(st), 3000);
    long ms = ms_since(&t0);
    atomic_store(&rel.stop, true);
    pthread_join(rel.th, NULL);
    fe_refill_stop(&fill);
    fuse_gate_hold(&gate, 0);
    fuse_gate_release(&gate);
    if (r != (int)sizeof(st))
        fail_msg("GET_VRING_BASE not answered in %ld ms (%d): the drain kept taking requests", ms,
                 r);
    assert_int_equal(req, VU_GET_VRING_BASE);
    /* Everything taken off the ring is on the used ring. */
    assert_int_equal((uint16_t)st.num, vus_fe_vq_used_idx(cx->vq));
}

/*
 * Item 6.  io_uring_enter fails (strace injects EIO into every call) while
 * a read is in flight and a pause is requested: the worker must keep
 * draining, not park with the read still owned by the kernel.
 * GET_VRING_BASE may only be answered once the read has completed.
 */
static pid_t inject_io_uring_errors(pid_t pid)
{
    char p[16];
    pid_t s;

    snprintf(p, sizeof(p), "%d", (int)pid);
    s = fork();
    if (s == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("strace", "strace", "-f", "-qq", "-e", "trace=io_uring_enter", "-e",
               "inject=io_uring_enter:error=EIO", "-o", "/dev/null", "-p", p, (char *)NULL);
        _exit(127);
    }
    return s;
}

/* Whether every thread of pid is traced. */
static bool all_traced(pid_t pid)
{
    char path[320], line[256];
    struct dirent *de;
    DIR *d;
    bool all = true;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return false;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
        FILE *f = fopen(path, "r");
        bool traced = false;
        while (f && fgets(line, sizeof(line), f))
            if (!strncmp(line, "TracerPid:", 10))
                traced = strtol(line + 10, NULL, 10) != 0;
        if (f)
            fclose(f);
        all = all && traced;
    }
    closedir(d);
    return all;
}

static void test_park_never_abandons_io(void **state)
{
    struct ctx *cx = *state;
    struct vu_vring_state st = { .index = REQ0 };
    struct vus_fe_cmd c;
    struct iovec iov;
    pid_t tracer;
    uint32_t req;
    int status;

    if (system("command -v strace >/dev/null 2>&1") != 0)
        skip();
    fuse_gate_hold(&gate, FUSE_GATE_READ);
    submit_read(cx->vq, &c, &iov, cx->buf, 400, 0);
    assert_int_equal(fuse_gate_wait_held(&gate, 1, T_TIMEOUT), 0);

    tracer = inject_io_uring_errors(dmn.pid);
    assert_true(tracer > 0);
    for (int i = 0; i < 500 && !all_traced(dmn.pid); i++)
        usleep(10000);
    assert_true(all_traced(dmn.pid));
    usleep(100000); /* the worker's wait is restarted, fails, and fails again */

    assert_int_equal(
        vus_fe_send_raw(cx->fe, VU_GET_VRING_BASE, VU_VERSION, &st, sizeof(st), NULL, 0), 0);
    int early = vus_fe_recv_raw(cx->fe, &req, &st, sizeof(st), 1000);

    kill(tracer, SIGTERM); /* strace detaches: io_uring_enter works again */
    waitpid(tracer, &status, 0);
    fuse_gate_hold(&gate, 0);
    fuse_gate_release(&gate);
    if (early == (int)sizeof(st))
        fail_msg("GET_VRING_BASE answered (base %u) with a read still in flight", st.num);
    assert_int_equal(early, -ETIMEDOUT);
    assert_int_equal(vus_fe_recv_raw(cx->fe, &req, &st, sizeof(st), T_TIMEOUT), (int)sizeof(st));
    assert_int_equal(req, VU_GET_VRING_BASE);
    wait_cmd(cx->vq, &c, T_TIMEOUT);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    assert_int_equal((uint16_t)st.num, vus_fe_vq_used_idx(cx->vq));
}

/*
 * Guest memory or an inflight region on a FUSE file: page faults on it wait
 * for the FUSE server, which a frontend may control, so a worker touching
 * guest memory could wait for ever.  Refused, the connection kept.
 */
static void test_memory_on_fuse_refused(void **state)
{
    struct ctx *cx = *state;
    struct vu_mem_single_msg one = { .region = { 0x40000000, 1 << 20, 0x7e0000000000ull, 0 } };
    struct vu_inflight_msg inf = { .mmap_size = 4 * 2112, .num_queues = 4, .queue_size = 128 };
    struct vus_fe_cmd c;
    int fd = open(gate.path, O_RDWR | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_ADD_MEM_REG, &one, sizeof(one), &fd, 1), 1);
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_INFLIGHT_FD, &inf, sizeof(inf), &fd, 1), 1);
    close(fd);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vus_fe_cmd_exec(cx->vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.status, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_abort_task_never_holds_the_control_thread),
        T(test_tmfs_on_a_busy_lun),
        T(test_reset_cancels_a_flush),
        T(test_pause_drains_without_taking_more),
        T(test_park_never_abandons_io),
        T(test_memory_on_fuse_refused),
        T(test_tmf_deadline),
    };
#undef T
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
