/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the management-plane tests (test_fe_mgmt_*.c): a daemon started
 * with --rpc-socket (and optionally --config) in a temporary directory that
 * survives restarts, the CLI (vhost-user-scsi-ctl) run as a child, frontends
 * on any controller socket, and a few checks on lists and fds.
 * Header-only; include cmocka.h first.
 */
#ifndef VUS_TESTS_FRONTEND_FE_MGMT_H
#define VUS_TESTS_FRONTEND_FE_MGMT_H

#include <dirent.h>
#include <libgen.h>
#include <sys/resource.h>

#include "tests/frontend/fe_harness.h"
#include "tests/frontend/fe_rpc.h"

struct mdaemon {
    pid_t pid;
    unsigned starts; /* each start logs to its own file: daemon.N.log */
    char dir[64];
    char rpc[128];
    char config[128];
    char log[128];
};

static inline const char *mgmt_daemon_bin(void)
{
    const char *bin = getenv("VUS_DAEMON");

    return bin && *bin ? bin : "build/vhost-user-scsi";
}

/* VUS_CTL, or vhost-user-scsi-ctl next to the daemon (build/ or build/asan/). */
static inline const char *mgmt_ctl_bin(void)
{
    static char path[512];
    const char *ctl = getenv("VUS_CTL");
    char tmp[512];

    if (ctl && *ctl)
        return ctl;
    snprintf(tmp, sizeof(tmp), "%s", mgmt_daemon_bin());
    snprintf(path, sizeof(path), "%s/vhost-user-scsi-ctl", dirname(tmp));
    return path;
}

/* A fresh temporary directory for d (sockets, config, images, logs). */
static inline int mgmt_init(struct mdaemon *d)
{
    memset(d, 0, sizeof(*d));
    d->pid = -1;
    snprintf(d->dir, sizeof(d->dir), "/tmp/vusmgmt.XXXXXX");
    if (!mkdtemp(d->dir))
        return -errno;
    snprintf(d->rpc, sizeof(d->rpc), "%s/rpc.sock", d->dir);
    snprintf(d->config, sizeof(d->config), "%s/config.json", d->dir);
    return 0;
}

/* A path in d's directory. */
static inline const char *mgmt_path(const struct mdaemon *d, char *buf, size_t len,
                                    const char *name)
{
    snprintf(buf, len, "%s/%s", d->dir, name);
    return buf;
}

static inline void mgmt_dump_log(const struct mdaemon *d, const char *why)
{
    fe_dump_log(d->log, why);
}

/*
 * Start the daemon: --rpc-socket DIR/rpc.sock, --config DIR/config.json when
 * with_config, then extra (NULL-terminated).  Ready when a version call is
 * answered on the RPC socket (a stale socket of a killed daemon is not
 * enough).  0, or -errno (the log is printed).
 */
static inline int mgmt_start(struct mdaemon *d, bool with_config, const char *const *extra)
{
    const char *bin = mgmt_daemon_bin();
    const char *argv[48];
    unsigned n = 0;
    struct rpc_cl cl;
    struct timespec t0;

    snprintf(d->log, sizeof(d->log), "%s/daemon.%u.log", d->dir, d->starts++);
    argv[n++] = bin;
    argv[n++] = "--rpc-socket";
    argv[n++] = d->rpc;
    if (with_config) {
        argv[n++] = "--config";
        argv[n++] = d->config;
    }
    for (unsigned i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    d->pid = fe_spawn(bin, argv, d->log);
    if (d->pid < 0)
        return d->pid;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rpc_ms_since(&t0) < 10000) {
        if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
            d->pid = -1;
            mgmt_dump_log(d, "exited at start");
            return -ECHILD;
        }
        if (rpc_cl_connect(&cl, d->rpc, 0) == 0) {
            struct rpc_reply r;
            int ok = rpc_call(&cl, "version", NULL, &r) == 0 && r.code == 0;
            if (ok)
                rpc_reply_free(&r);
            rpc_cl_close(&cl);
            if (ok)
                return 0;
        }
        usleep(20000);
    }
    mgmt_dump_log(d, "no answer on the RPC socket within 10 s");
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = -1;
    return -ETIMEDOUT;
}

static inline bool mgmt_alive(struct mdaemon *d)
{
    return fe_child_alive(d->pid);
}

/* SIGTERM (SIGKILL after 5 s); exit status (0 = clean), -1 if it was gone already. */
static inline int mgmt_stop(struct mdaemon *d)
{
    int ret = fe_child_stop(&d->pid);

    if (ret != 0 || getenv("VUS_FE_SHOWLOG")) {
        char why[64];
        snprintf(why, sizeof(why), "exit %d", ret);
        mgmt_dump_log(d, why);
    }
    return ret;
}

/* kill -9, as a crash or an OOM kill would. */
static inline void mgmt_kill9(struct mdaemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    d->pid = -1;
}

/* Remove the directory and everything in it (flat: the tests make no subdirectories). */
static inline void mgmt_cleanup(struct mdaemon *d)
{
    char p[512];
    struct dirent *de;
    DIR *dir = opendir(d->dir);

    while (dir && (de = readdir(dir)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlink(mgmt_path(d, p, sizeof(p), de->d_name));
    if (dir)
        closedir(dir);
    rmdir(d->dir);
}

/* Bytes in the current log (an offset for mgmt_log_has_since). */
static inline long mgmt_log_size(const struct mdaemon *d)
{
    struct stat st;

    return stat(d->log, &st) == 0 ? (long)st.st_size : 0;
}

/*
 * Whether the current log holds, from byte offset since on, a line
 * containing every string of want (NULL-terminated).
 */
static inline bool mgmt_log_has_since(const struct mdaemon *d, long since, const char *const *want)
{
    char line[2048];
    bool found = false;
    FILE *f = fopen(d->log, "r");

    if (f && since > 0)
        fseek(f, since, SEEK_SET);
    while (f && !found && fgets(line, sizeof(line), f)) {
        found = true;
        for (unsigned i = 0; want[i]; i++)
            found = found && strstr(line, want[i]);
    }
    if (f)
        fclose(f);
    return found;
}

static inline bool mgmt_log_has(const struct mdaemon *d, const char *const *want)
{
    return mgmt_log_has_since(d, 0, want);
}

/* Wait up to timeout_ms for such a line after offset since. */
static inline bool mgmt_log_wait(const struct mdaemon *d, long since, const char *const *want,
                                 int timeout_ms)
{
    for (int t = 0; t <= timeout_ms; t += 20) {
        if (mgmt_log_has_since(d, since, want))
            return true;
        usleep(20000);
    }
    return false;
}

/* Open fds of a process, or -1. */
static inline int mgmt_count_fds(pid_t pid)
{
    char path[64];
    struct dirent *de;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    while ((de = readdir(dir)))
        if (de->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* What a process's fds point at, one per line on stderr (for leak reports). */
static inline void mgmt_print_fds(pid_t pid)
{
    char path[64], p[320], target[256];
    struct dirent *de;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = 0;
        fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
    }
    if (dir)
        closedir(dir);
}

/*
 * Run the CLI: vhost-user-scsi-ctl -s RPC ARGS... (NULL-terminated); its
 * stdout and stderr together in out.  Returns its exit status (-1 if it
 * did not exit normally).
 */
static inline int mgmt_ctl(const struct mdaemon *d, char *out, size_t outlen, ...)
{
    const char *argv[32];
    unsigned n = 0;
    int pfd[2], status;
    size_t used = 0;
    va_list ap;

    argv[n++] = mgmt_ctl_bin();
    argv[n++] = "-s";
    argv[n++] = d->rpc;
    va_start(ap, outlen);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        char tmp[4096];
        ssize_t r = read(pfd[0], tmp, sizeof(tmp));
        if (r <= 0)
            break;
        size_t k = (size_t)r < outlen - 1 - used ? (size_t)r : outlen - 1 - used;
        memcpy(out + used, tmp, k);
        used += k;
    }
    out[used] = 0;
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The CLI must succeed; its output is returned in out. */
#define mgmt_ctl_ok(d, out, ...)                                                                   \
    do {                                                                                           \
        int rc_ = mgmt_ctl(d, out, sizeof(out), __VA_ARGS__, NULL);                                \
        if (rc_ != 0)                                                                              \
            fail_msg("vhost-user-scsi-ctl exited %d: %s", rc_, out);                               \
    } while (0)

/* A frontend on any socket; small memory so that dozens fit. */
static inline int mgmt_fe_open(const char *sock, unsigned nreq, size_t mem, struct vus_fe **fe)
{
    struct vus_fe_config cfg = { .socket_path = sock,
                                 .num_req_queues = nreq,
                                 .queue_size = 64,
                                 .mem_size = mem,
                                 .timeout_ms = T_TIMEOUT,
                                 .connect_retry_ms = 3000 };
    return vus_fe_connect(&cfg, fe);
}

/* Wait up to timeout_ms for one event on fe's event queue. */
static inline bool mgmt_wait_event(struct vus_fe *fe, struct virtio_scsi_event *ev, uint32_t *len,
                                   int timeout_ms)
{
    struct vus_fe_vq *evq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_EVENT);

    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (vus_fe_event_reap(fe, ev, len) == 1)
            return true;
        vus_fe_vq_wait(evq, 10);
    }
    return false;
}

/* Target and LUN of an event's 8-byte LUN field (flat space addressing). */
static inline void mgmt_event_lun(const struct virtio_scsi_event *ev, unsigned *target,
                                  unsigned *lun)
{
    *target = ev->lun[1];
    *lun = (unsigned)(ev->lun[2] & 0x3f) << 8 | ev->lun[3];
}

/*
 * Verified I/O: write `blocks` blocks of a pattern (seed) at lba, read them
 * back into another buffer and compare.  w and r each hold blocks *
 * block_size bytes of guest memory (mgmt_verified_io: 512-byte blocks).
 * 0, or a short reason in why.
 *
 * uas: NULL makes any unit attention an error.  Otherwise a command answered
 * with a unit attention is retried (as a guest would), up to 4 times, and
 * each one is recorded in uas->seen[] as ASC << 8 | ASCQ.
 */
struct mgmt_uas {
    unsigned n;
    uint16_t seen[8];
};

static inline int mgmt_verified_io_ua(struct vus_fe_vq *vq, unsigned target, unsigned lun,
                                      uint64_t lba, unsigned blocks, unsigned block_size,
                                      uint8_t *w, uint8_t *r, unsigned seed, char *why,
                                      size_t whylen, struct mgmt_uas *uas)
{
    struct vus_fe_cmd c;
    struct iovec iov;
    size_t len = (size_t)blocks * block_size;

    fill(w, len, seed);
    for (int pass = 0; pass < 2; pass++) {
        for (int attempt = 0;; attempt++) {
            memset(&c, 0, sizeof(c));
            c.target = target;
            c.lun = lun;
            cdb_rw16(c.cdb, pass == 0, lba, blocks);
            iov.iov_base = pass == 0 ? w : r;
            iov.iov_len = len;
            if (pass == 0) {
                c.out = &iov;
                c.out_cnt = 1;
            } else {
                memset(r, 0, len);
                c.in = &iov;
                c.in_cnt = 1;
            }
            int e = vus_fe_cmd_exec(vq, &c, T_TIMEOUT);
            uint8_t key = 0, asc = 0;
            if (e == 0 && c.response == VIRTIO_SCSI_S_OK && c.status == 0)
                break;
            if (c.status == 2)
                sense_key_asc(&c, &key, &asc);
            if (e == 0 && c.response == VIRTIO_SCSI_S_OK && c.status == 2 && key == 6 && uas &&
                attempt < 4) {
                uint8_t ascq = (c.sense[0] & 0x7f) >= 0x72 ? c.sense[3] : c.sense[13];
                if (uas->n < 8)
                    uas->seen[uas->n] = (uint16_t)(asc << 8 | ascq);
                uas->n++;
                continue;
            }
            snprintf(why, whylen, "%s lba %llu: exec %d response %u status %u sense %x/%02x",
                     pass ? "read" : "write", (unsigned long long)lba, e, c.response, c.status, key,
                     asc);
            return -1;
        }
    }
    if (memcmp(w, r, len)) {
        snprintf(why, whylen, "lba %llu: data read back differs", (unsigned long long)lba);
        return -1;
    }
    return 0;
}

static inline int mgmt_verified_io(struct vus_fe_vq *vq, unsigned target, unsigned lun,
                                   uint64_t lba, unsigned blocks, uint8_t *w, uint8_t *r,
                                   unsigned seed, char *why, size_t whylen)
{
    return mgmt_verified_io_ua(vq, target, lun, lba, blocks, 512, w, r, seed, why, whylen, NULL);
}

/* The element of a JSON array whose key is the string val (borrowed), or NULL. */
static inline json_t *mgmt_find(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(json_object_get(e, key));
        if (s && !strcmp(s, val))
            return e;
    }
    return NULL;
}

/* An integer member, failing the test when it is missing or not an integer. */
static inline json_int_t mgmt_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v)) {
        char *t = json_dumps(obj, JSON_COMPACT);
        fail_msg("no integer '%s' in %s", key, t);
    }
    return json_integer_value(v);
}

static inline const char *mgmt_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        char *t = json_dumps(obj, JSON_COMPACT);
        fail_msg("no string '%s' in %s", key, t);
    }
    return json_string_value(v);
}

/* Fails with both values printed unless a and b are equal JSON. */
static inline void mgmt_assert_json_equal(json_t *a, json_t *b, const char *what)
{
    if (!json_equal(a, b)) {
        char *ta = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        char *tb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("%s differs:\n  before: %s\n  after:  %s", what, ta, tb);
    }
}

/* The test program may hold hundreds of fds (64 frontends): raise its own soft limit. */
static inline void mgmt_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

#endif
