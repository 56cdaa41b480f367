/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the VM-free tests: run the daemon (env VUS_DAEMON, default
 * build/vhost-user-scsi) on a socket in a fresh temporary directory, and a
 * few SCSI helpers on top of the frontend library.  Header-only so every test
 * program stays one file plus the library.
 */
#ifndef VUS_TESTS_FRONTEND_FE_HARNESS_H
#define VUS_TESTS_FRONTEND_FE_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend/vus_frontend.h"

#define T_TIMEOUT 5000

struct daemon {
    pid_t pid;
    char dir[64];
    char sock[128];
    char log[128];
};

/*
 * Run bin with argv (NULL-terminated, argv[0] included), stdout and stderr
 * into log.  The child's pid, or -errno.
 */
static inline pid_t fe_spawn(const char *bin, const char *const *argv, const char *log)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    return pid;
}

static inline bool fe_child_alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/*
 * SIGTERM, SIGKILL after 5 s; *pid becomes -1.  The exit status (0 for a
 * clean exit, 128 + signal when killed), -1 if it was gone already.
 */
static inline int fe_child_stop(pid_t *pid)
{
    int status = 0, ret = -1;

    if (*pid > 0 && waitpid(*pid, &status, WNOHANG) == 0) {
        kill(*pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
            if (waitpid(*pid, &status, WNOHANG) == *pid) {
                ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            usleep(10000);
        }
        if (ret == -1) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &status, 0);
            ret = 137;
        }
    }
    *pid = -1;
    return ret;
}

/* Copy a child's log to stderr, framed, saying why. */
static inline void fe_dump_log(const char *log, const char *why)
{
    char line[1024];
    FILE *f = fopen(log, "r");

    fprintf(stderr, "--- daemon log (%s, %s) ---\n", log, why);
    while (f && fgets(line, sizeof(line), f))
        fputs(line, stderr);
    if (f)
        fclose(f);
    fprintf(stderr, "--- end of daemon log ---\n");
}

/* argv_extra: NULL-terminated extra arguments (LUNs, --threads). */
static inline int daemon_start(struct daemon *d, const char *const *argv_extra)
{
    const char *bin = getenv("VUS_DAEMON");
    const char *argv[32];
    unsigned n = 0;

    if (!bin || !*bin)
        bin = "build/vhost-user-scsi";
    snprintf(d->dir, sizeof(d->dir), "/tmp/vusfe.XXXXXX");
    if (!mkdtemp(d->dir))
        return -errno;
    snprintf(d->sock, sizeof(d->sock), "%s/vus.sock", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
    argv[n++] = bin;
    argv[n++] = "--socket-path";
    argv[n++] = d->sock;
    for (unsigned i = 0; argv_extra && argv_extra[i] && n < 30; i++)
        argv[n++] = argv_extra[i];
    argv[n] = NULL;
    d->pid = fe_spawn(bin, argv, d->log);
    if (d->pid < 0)
        return d->pid;
    /* The socket appears once the daemon listens; connects retry until then. */
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (stat(d->sock, &st) == 0)
            return 0;
        if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
            d->pid = -1;
            return -ECHILD;
        }
        usleep(10000);
    }
    return -ETIMEDOUT;
}

static inline bool daemon_alive(struct daemon *d)
{
    return fe_child_alive(d->pid);
}

/* Stop it; returns its exit status (0 for a clean SIGTERM exit), -1 if it was already gone. */
static inline int daemon_stop(struct daemon *d)
{
    int ret = fe_child_stop(&d->pid);

    if (ret != 0 || getenv("VUS_FE_SHOWLOG")) {
        char why[32];

        snprintf(why, sizeof(why), "exit %d", ret);
        fe_dump_log(d->log, why);
    }
    unlink(d->log);
    unlink(d->sock);
    rmdir(d->dir);
    return ret;
}

static inline int fe_open(struct daemon *d, unsigned nreq, struct vus_fe **fe)
{
    struct vus_fe_config cfg = { .socket_path = d->sock,
                                 .num_req_queues = nreq,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 2000 };
    return vus_fe_connect(&cfg, fe);
}

/*
 * A file LUN for tests that resize it (capacity changes, events): an 8 MiB
 * file /dev/shm/vusfe-TAG.XXXXXX named in path, and the daemon's --lun
 * argument for it in arg.  0, or -1 when the file cannot be made.
 */
static inline int fe_file_lun(char *path, size_t path_size, const char *tag, char *arg,
                              size_t arg_size)
{
    int fd;

    snprintf(path, path_size, "/dev/shm/vusfe-%s.XXXXXX", tag);
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, 8 << 20) < 0) {
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    snprintf(arg, arg_size, "type=file,path=%s", path);
    return 0;
}

/* A test's end with a file LUN: 0 when the daemon exited cleanly, else -1 (cmocka's teardown). */
static inline int fe_stop_file_lun(struct vus_fe *fe, struct daemon *d, const char *path)
{
    int ret;

    vus_fe_close(fe);
    ret = daemon_stop(d);
    unlink(path);
    return ret == 0 ? 0 : -1;
}

/* Kick vq and reap n commands submitted on it, each of which must complete GOOD. */
static inline void fe_reap_good(struct vus_fe_vq *vq, unsigned n)
{
    unsigned done = 0;

    vus_fe_vq_kick(vq);
    while (done < n) {
        struct vus_fe_cmd *c = vus_fe_cmd_reap(vq);

        if (!c) {
            assert_int_equal(vus_fe_vq_wait(vq, T_TIMEOUT), 1);
            continue;
        }
        assert_int_equal(c->response, VIRTIO_SCSI_S_OK);
        assert_int_equal(c->status, 0);
        done++;
    }
}

/* CDB builders; cdb holds at least 16 bytes. */
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void cdb_rw16(uint8_t *cdb, bool write, uint64_t lba, uint32_t blocks)
{
    memset(cdb, 0, 16);
    cdb[0] = write ? 0x8a : 0x88;
    put_be64(cdb + 2, lba);
    put_be32(cdb + 10, blocks);
}

/*
 * A command with one data buffer (in guest memory); dir: 0 none, 1 out, 2 in.
 * The iovec may live on the stack: submission turns it into descriptors.
 */
static inline int scsi_exec_tmo(struct vus_fe_vq *vq, struct vus_fe_cmd *c, unsigned lun,
                                const uint8_t *cdb, unsigned cdb_len, void *buf, size_t len,
                                int dir, int timeout_ms)
{
    struct iovec iov;

    memset(c, 0, sizeof(*c));
    c->lun = lun;
    memcpy(c->cdb, cdb, cdb_len);
    iov.iov_base = buf;
    iov.iov_len = len;
    if (dir == 1) {
        c->out = &iov;
        c->out_cnt = 1;
    } else if (dir == 2) {
        c->in = &iov;
        c->in_cnt = 1;
    }
    int r = vus_fe_cmd_exec(vq, c, timeout_ms);
    c->out = c->in = NULL;
    return r;
}

static inline int scsi_exec(struct vus_fe_vq *vq, struct vus_fe_cmd *c, unsigned lun,
                            const uint8_t *cdb, unsigned cdb_len, void *buf, size_t len, int dir)
{
    return scsi_exec_tmo(vq, c, lun, cdb, cdb_len, buf, len, dir, T_TIMEOUT);
}

/* Sense key and ASC of fixed or descriptor sense. */
static inline void sense_key_asc(const struct vus_fe_cmd *c, uint8_t *key, uint8_t *asc)
{
    if ((c->sense[0] & 0x7f) >= 0x72) {
        *key = c->sense[1] & 0xf;
        *asc = c->sense[2];
    } else {
        *key = c->sense[2] & 0xf;
        *asc = c->sense[12];
    }
}

/* Absorb the power-on unit attention of a fresh LUN so a test sees its own results. */
static inline void clear_ua(struct vus_fe_vq *vq, unsigned target, unsigned lun)
{
    struct vus_fe_cmd c;

    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        c.target = target;
        c.lun = lun;
        assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
        assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
        if (c.status == 0)
            return;
    }
    fail_msg("TEST UNIT READY keeps failing on %u:%u", target, lun);
}

/*
 * A guest that keeps its ring full for ever: a thread that offers the same
 * requests again the moment the device completes them (the avail index is
 * moved; the ring entries, whose heads are all real requests, stay as they
 * are), without kicking: a device busy taking requests looks anyway, and a
 * syscall would let it catch up.  The caller fills the ring first and says
 * what it published (avail, counted like the avail index).
 */
struct fe_refill {
    struct vus_fe_vq *vq;
    uint16_t avail;
    atomic_bool stop;
    atomic_ulong refills;
    pthread_t th;
};

static inline void *fe_refill_main(void *arg)
{
    struct fe_refill *r = arg;
    const uint16_t num = (uint16_t)vus_fe_vq_size(r->vq);

    while (!atomic_load(&r->stop)) {
        uint16_t want = (uint16_t)(vus_fe_vq_used_idx(r->vq) + num);
        if (want != r->avail) {
            vus_fe_vq_avail_move(r->vq, (uint16_t)(want - r->avail));
            r->avail = want;
            atomic_fetch_add(&r->refills, 1);
        } else {
            sched_yield();
        }
    }
    return NULL;
}

static inline int fe_refill_start(struct fe_refill *r, struct vus_fe_vq *vq, uint16_t avail)
{
    r->vq = vq;
    r->avail = avail;
    atomic_init(&r->stop, false);
    atomic_init(&r->refills, 0);
    return -pthread_create(&r->th, NULL, fe_refill_main, r);
}

static inline void fe_refill_stop(struct fe_refill *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
}

/* VUS_TEST_FILTER=PATTERN runs only the tests whose names match (cmocka's * and ? wildcards). */
static inline void fe_apply_test_filter(void)
{
    const char *f = getenv("VUS_TEST_FILTER");

    if (f && *f)
        cmocka_set_test_filter(f);
}

static inline void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

#endif
