/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse_gate: backend I/O that stays in flight for as long as a test wants.
 *
 * A file LUN's I/O goes from the daemon's io_uring into the kernel, where a
 * test cannot stop it.  So the test serves the file itself: fuse_gate_start()
 * mounts a one-file FUSE filesystem (libfuse3, low-level API) on a fresh
 * temporary directory, and g->path names that file, "disk", whose bytes live
 * in g's memory.  Every open is answered with direct_io, so each read and
 * write reaches the gate instead of the page cache.
 *
 * fuse_gate_hold() parks matching requests unanswered; fuse_gate_release()
 * answers them, doing the read or write on the memory only then.  When the
 * kernel interrupts a parked request (its task got a signal: an io_uring
 * cancel of an io-wq worker, a killed process), the gate answers -EINTR at
 * once and counts it in g->interrupted.  Each request is answered exactly
 * once, whichever of release and interrupt comes first.
 *
 * What the kernel (6.18) does with it, checked by test_fe_fuse_gate.c:
 * io_uring reads and writes, with or without O_DIRECT, become async FUSE
 * requests (libfuse's default FUSE_CAP_ASYNC_DIO): no task waits for them,
 * so an async cancel does not find them (-ENOENT) and nothing interrupts
 * them; they end when the gate answers.  IORING_OP_FSYNC waits in an io-wq
 * worker, which a cancel interrupts.  FUSE_GATE_SYNC_DIO makes reads and
 * writes wait like fsync, in io_uring_submit() itself unless IOSQE_ASYNC
 * sends them to io-wq; writes then also take turns (the kernel keeps the
 * inode locked, libfuse 3.14 cannot grant FOPEN_PARALLEL_DIRECT_WRITES).
 *
 * Threading: fuse_gate_start() starts one session thread, which reads
 * /dev/fuse and runs every FUSE callback, interrupts included.  One thread is
 * enough because no callback blocks (a held request is parked and the thread
 * goes on), and it is needed: libfuse's interrupt callback races with
 * fuse_req_interrupt_func() on a freed request unless both run on one thread.
 * hold, release, held and wait_held may be called from any other thread;
 * start and stop from the test's main thread.  The counters are atomics.
 *
 * Stopping: release before stopping a daemon that has I/O held, as its
 * orderly exit waits for that I/O.  fuse_gate_stop() answers what is held,
 * unmounts and removes the directory; it is idempotent and safe on a zeroed
 * struct or after a failed start, so teardowns can always call it.
 *
 * A test killed midway: the first fuse_gate_start() of a still
 * single-threaded process moves it into a private mount namespace (the
 * daemon it forks inherits it), so no dead mount stays behind, and a
 * watchdog child keeps the dying process from hanging on its own mount.
 */
#ifndef VUS_TESTS_FRONTEND_FUSE_GATE_H
#define VUS_TESTS_FRONTEND_FUSE_GATE_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What fuse_gate_hold() parks. */
enum {
    FUSE_GATE_READ = 1u << 0,
    FUSE_GATE_WRITE = 1u << 1,
    FUSE_GATE_FSYNC = 1u << 2,
};

/* fuse_gate_start_flags(). */
enum {
    /*
     * Refuse FUSE_CAP_ASYNC_DIO: an io_uring read or write then waits for
     * its answer in the task that issues it, so a held one blocks the
     * submitter inside io_uring_enter() (inline issue), or an io-wq worker
     * with IOSQE_ASYNC, which an async cancel interrupts.
     */
    FUSE_GATE_SYNC_DIO = 1u << 0,
};

#define FUSE_GATE_INO 2 /* the file; the root directory is 1 */

struct fuse_gate_req {
    struct fuse_gate_req *next;
    fuse_req_t req;
    unsigned kind; /* FUSE_GATE_* */
    bool parked;   /* false while its interrupt callback is being registered */
    bool gone;     /* the interrupt callback answered it before it was parked */
    off_t off;
    size_t len;
    uint8_t data[]; /* a write's data: the session reuses its buffer for the next request */
};

struct fuse_gate {
    char dir[64];  /* the mount point */
    char path[80]; /* the file */
    uint64_t size;
    uint8_t *mem;                      /* the file's bytes: touch only with no request in flight */
    atomic_uint interrupted;           /* parked requests answered -EINTR on an interrupt */
    atomic_uint reads, writes, fsyncs; /* requests that reached the gate, held or not */

    /* Private. */
    unsigned flags;
    bool inited, running;
    atomic_int tid; /* the session thread's */
    pid_t watchdog; /* aborts the connection if the session thread dies */
    struct fuse_session *se;
    pthread_t thread;
    int stop_fd;
    pthread_mutex_t lock; /* everything below, and mem */
    pthread_cond_t cond;
    unsigned mask;                /* kinds to hold */
    unsigned held;                /* parked entries */
    struct fuse_gate_req *parked; /* oldest first, with those being parked */
};

static inline size_t fg_clip(const struct fuse_gate *g, off_t off, size_t len)
{
    if (off < 0 || (uint64_t)off >= g->size)
        return 0;
    return len < g->size - (uint64_t)off ? len : (size_t)(g->size - (uint64_t)off);
}

/* Answer as if nothing had been held; frees r. */
static inline void fg_answer(struct fuse_gate *g, struct fuse_gate_req *r)
{
    size_t n = fg_clip(g, r->off, r->len);
    uint8_t *tmp;

    switch (r->kind) {
    case FUSE_GATE_READ:
        /* A copy: no lock is held while the kernel takes the reply. */
        tmp = malloc(n ? n : 1);
        if (!tmp) {
            fuse_reply_err(r->req, ENOMEM);
            break;
        }
        pthread_mutex_lock(&g->lock);
        if (n)
            memcpy(tmp, g->mem + r->off, n);
        pthread_mutex_unlock(&g->lock);
        fuse_reply_buf(r->req, (const char *)tmp, n);
        free(tmp);
        break;
    case FUSE_GATE_WRITE:
        if (n == 0 && r->len) {
            fuse_reply_err(r->req, ENOSPC);
            break;
        }
        pthread_mutex_lock(&g->lock);
        memcpy(g->mem + r->off, r->data, n);
        pthread_mutex_unlock(&g->lock);
        fuse_reply_write(r->req, n);
        break;
    default:
        fuse_reply_err(r->req, 0);
        break;
    }
    free(r);
}

static inline void fg_unlink(struct fuse_gate *g, struct fuse_gate_req *r)
{
    for (struct fuse_gate_req **pp = &g->parked; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

/* Session thread, or inside fuse_req_interrupt_func() when the interrupt came first. */
static inline void fg_interrupt(fuse_req_t req, void *data)
{
    struct fuse_gate *g = data;
    struct fuse_gate_req *r = NULL;
    bool parked = false;

    pthread_mutex_lock(&g->lock);
    for (r = g->parked; r && r->req != req; r = r->next)
        ;
    if (r) {
        fg_unlink(g, r);
        parked = r->parked;
        if (parked)
            g->held--;
        else
            r->gone = true; /* its parking code frees it */
        /* Counted before the answer: whoever sees the I/O fail sees the count. */
        atomic_fetch_add(&g->interrupted, 1);
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
    if (!r)
        return; /* fuse_gate_release() took it first and answers it normally */
    fuse_reply_err(req, EINTR);
    if (parked)
        free(r);
}

static inline void fg_submit(struct fuse_gate *g, struct fuse_gate_req *r)
{
    struct fuse_gate_req **pp;

    pthread_mutex_lock(&g->lock);
    if (!(g->mask & r->kind)) {
        pthread_mutex_unlock(&g->lock);
        fg_answer(g, r);
        return;
    }
    for (pp = &g->parked; *pp; pp = &(*pp)->next)
        ;
    *pp = r;
    pthread_mutex_unlock(&g->lock);
    /*
     * Registered without the lock, as it may call fg_interrupt() at once.
     * Until r is marked parked, release leaves it alone: a reply there
     * would free the request under fuse_req_interrupt_func().
     */
    fuse_req_interrupt_func(r->req, fg_interrupt, g);
    pthread_mutex_lock(&g->lock);
    if (r->gone) {
        pthread_mutex_unlock(&g->lock);
        free(r);
        return;
    }
    if (g->mask & r->kind) {
        r->parked = true;
        g->held++;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
        return;
    }
    fg_unlink(g, r); /* released while it was being parked */
    pthread_mutex_unlock(&g->lock);
    fg_answer(g, r);
}

static inline struct fuse_gate_req *fg_req_new(fuse_req_t req, unsigned kind, off_t off, size_t len,
                                               const void *data)
{
    struct fuse_gate_req *r = calloc(1, sizeof(*r) + (data ? len : 0));

    if (!r) {
        fuse_reply_err(req, ENOMEM);
        return NULL;
    }
    r->req = req;
    r->kind = kind;
    r->off = off;
    r->len = len;
    if (data)
        memcpy(r->data, data, len);
    return r;
}

static inline void fg_stat(const struct fuse_gate *g, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    if (ino == FUSE_ROOT_ID) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
    } else {
        st->st_mode = S_IFREG | 0600;
        st->st_nlink = 1;
        st->st_size = (off_t)g->size;
        st->st_blksize = 4096;
        st->st_blocks = (blkcnt_t)((g->size + 511) / 512);
    }
}

static inline void fg_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_gate *g = fuse_req_userdata(req);
    struct fuse_entry_param e;

    if (parent != FUSE_ROOT_ID || strcmp(name, "disk") != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    memset(&e, 0, sizeof(e));
    e.ino = FUSE_GATE_INO;
    e.generation = 1;
    e.attr_timeout = 1.0;
    e.entry_timeout = 1.0;
    fg_stat(g, FUSE_GATE_INO, &e.attr);
    fuse_reply_entry(req, &e);
}

static inline void fg_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;

    if (ino != FUSE_ROOT_ID && ino != FUSE_GATE_INO) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fg_stat(fuse_req_userdata(req), ino, &st);
    fuse_reply_attr(req, &st, 1.0);
}

static inline void fg_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (ino != FUSE_GATE_INO) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    /* Without the page cache every read and write is a request the gate can hold. */
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
}

static inline void fg_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fuse_reply_err(req, 0);
}

static inline void fg_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    struct fuse_gate *g = fuse_req_userdata(req);
    struct fuse_gate_req *r = fg_req_new(req, FUSE_GATE_READ, off, size, NULL);

    atomic_fetch_add(&g->reads, 1);
    if (r)
        fg_submit(g, r);
}

static inline void fg_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                            struct fuse_file_info *fi)
{
    struct fuse_gate *g = fuse_req_userdata(req);
    struct fuse_gate_req *r = fg_req_new(req, FUSE_GATE_WRITE, off, size, buf);

    atomic_fetch_add(&g->writes, 1);
    if (r)
        fg_submit(g, r);
}

static inline void fg_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    struct fuse_gate *g = fuse_req_userdata(req);
    struct fuse_gate_req *r = fg_req_new(req, FUSE_GATE_FSYNC, 0, 0, NULL);

    atomic_fetch_add(&g->fsyncs, 1);
    if (r)
        fg_submit(g, r);
}

/* The daemon probes discard with a punch; "not supported" is a clean answer. */
static inline void fg_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
                                off_t length, struct fuse_file_info *fi)
{
    fuse_reply_err(req, EOPNOTSUPP);
}

static inline void fg_init(void *userdata, struct fuse_conn_info *conn)
{
    struct fuse_gate *g = userdata;

    /*
     * Each held I/O of an async io_uring submitter is a FUSE background
     * request; past max_background (12 by default) the next submitter
     * sleeps in the kernel, inside io_uring_enter.
     */
    conn->max_background = 1024;
    conn->congestion_threshold = 1024;
    if (g->flags & FUSE_GATE_SYNC_DIO)
        conn->want &= ~FUSE_CAP_ASYNC_DIO;
}

static inline void *fg_loop(void *arg)
{
    struct fuse_gate *g = arg;
    struct fuse_buf buf = { .mem = NULL };
    struct pollfd pfd[2] = { { .fd = fuse_session_fd(g->se), .events = POLLIN },
                             { .fd = g->stop_fd, .events = POLLIN } };

    atomic_store(&g->tid, (int)gettid());
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
            break; /* the connection was aborted */
        int r = fuse_session_receive_buf(g->se, &buf);
        if (r == -EINTR || r == -EAGAIN)
            continue;
        if (r <= 0)
            break;
        fuse_session_process_buf(g->se, &buf);
    }
    free(buf.mem);
    return NULL;
}

static inline unsigned fg_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    unsigned n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/*
 * Once per process, while it has one thread (the namespace is per thread):
 * mounts then die with the process and its children, however it ends.
 * Private propagation keeps them from leaking back into the parent namespace.
 * Returns whether the process has its own mount namespace.
 */
static inline bool fg_private_mounts(void)
{
    static int state; /* 0 not tried, 1 private, -1 shared */

    if (state)
        return state > 0;
    state = -1;
    if (fg_thread_count() != 1) {
        fprintf(stderr, "fuse_gate: started with threads: mounts stay shared\n");
        return false;
    }
    if (unshare(CLONE_NEWNS) < 0) {
        fprintf(stderr, "fuse_gate: no private mount namespace: %s\n", strerror(errno));
        return false;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "fuse_gate: mounts stay shared: %s\n", strerror(errno));
        return false;
    }
    state = 1;
    return true;
}

/* The connection's abort file in fusectl, or -1. */
static inline int fg_abort_fd(const struct fuse_gate *g, bool private_ns)
{
    char path[128], ctl[64];
    struct stat st;
    int fd;

    if (stat(g->dir, &st) < 0)
        return -1;
    /* fusectl names a connection by the kernel's dev_t of its superblock. */
    unsigned id = major(st.st_dev) << 20 | minor(st.st_dev);
    snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", id);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || !private_ns)
        return fd;
    /* Not mounted: a mount of our own, in our namespace only, gone once the file is open. */
    snprintf(ctl, sizeof(ctl), "/tmp/fuse-gate-ctl.XXXXXX");
    if (!mkdtemp(ctl))
        return -1;
    if (mount("fusectl", ctl, "fusectl", 0, NULL) == 0) {
        snprintf(path, sizeof(path), "%s/%u/abort", ctl, id);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        umount2(ctl, MNT_DETACH);
    }
    rmdir(ctl);
    return fd;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9; older headers lack it */
#endif

/*
 * A process that serves its own FUSE mount cannot die while it has the file
 * open or an io_uring request on it: exit kills the session thread first,
 * then flushes the file and waits for the requests, in a sleep no signal
 * ends.  A test killed by a timeout would hang its runner for good.  So a
 * child watches the session thread and, should it end without
 * fuse_gate_stop(), aborts the connection: every waiter fails with ENOTCONN.
 */
static inline void fg_watchdog_start(struct fuse_gate *g, bool private_ns)
{
    static const int ignore[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE };
    char dir[sizeof(g->dir)];
    int abort_fd = fg_abort_fd(g, private_ns);
    int pidfd = abort_fd >= 0 ? pidfd_open(atomic_load(&g->tid), PIDFD_THREAD) : -1;
    pid_t pid = -1;

    memcpy(dir, g->dir, sizeof(dir));
    if (pidfd >= 0)
        pid = fork();
    if (pid == 0) {
        /* The parent has threads: only async-signal-safe calls from here on. */
        struct sigaction sa = { .sa_handler = SIG_IGN };
        struct pollfd pfd = { .fd = 0, .events = POLLIN };
        for (unsigned i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
            sigaction(ignore[i], &sa, NULL);
        /* Keep nothing else: an inherited socket or /dev/fuse would outlive the parent. */
        if (dup2(pidfd, 0) < 0 || dup2(abort_fd, 1) < 0)
            _exit(1);
        close_range(2, ~0u, 0);
        while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
            ;
        if (write(1, "1", 1) != 1)
            _exit(1);
        /* Nobody else will clean up. */
        umount2(dir, MNT_DETACH);
        rmdir(dir);
        _exit(0);
    }
    if (pid < 0)
        fprintf(stderr, "fuse_gate: no watchdog (%s): a test killed midway may hang\n",
                strerror(errno));
    if (pidfd >= 0)
        close(pidfd);
    if (abort_fd >= 0)
        close(abort_fd);
    g->watchdog = pid > 0 ? pid : 0;
}

/* Answer every parked request and hold nothing from now on. */
static inline void fuse_gate_release(struct fuse_gate *g)
{
    struct fuse_gate_req *list = NULL, **tail = &list, **pp, *r;

    if (!g->inited)
        return;
    pthread_mutex_lock(&g->lock);
    g->mask = 0;
    for (pp = &g->parked; (r = *pp);) {
        if (r->parked) {
            *pp = r->next;
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        } else {
            pp = &r->next; /* still being parked: it sees the mask and answers itself */
        }
    }
    g->held = 0;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    while ((r = list)) {
        list = r->next;
        fg_answer(g, r);
    }
}

/* Answer the oldest parked request only, holding on as before; false if none is parked. */
static inline bool fuse_gate_release_one(struct fuse_gate *g)
{
    struct fuse_gate_req **pp, *r;

    if (!g->inited)
        return false;
    pthread_mutex_lock(&g->lock);
    for (pp = &g->parked; (r = *pp) && !r->parked; pp = &r->next)
        ;
    if (r) {
        *pp = r->next;
        r->next = NULL;
        g->held--;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
    if (r)
        fg_answer(g, r);
    return r != NULL;
}

/* From now on park requests of the kinds in mask (FUSE_GATE_*); 0 parks no new ones. */
static inline void fuse_gate_hold(struct fuse_gate *g, unsigned mask)
{
    if (!g->inited)
        return;
    pthread_mutex_lock(&g->lock);
    g->mask = mask;
    pthread_mutex_unlock(&g->lock);
}

static inline unsigned fuse_gate_held(struct fuse_gate *g)
{
    if (!g->inited)
        return 0;
    pthread_mutex_lock(&g->lock);
    unsigned n = g->held;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* 0 once at least n requests are parked, -ETIMEDOUT after timeout_ms. */
static inline int fuse_gate_wait_held(struct fuse_gate *g, unsigned n, int timeout_ms)
{
    struct timespec end;
    int ret = 0;

    if (!g->inited)
        return -ENODEV;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (end.tv_nsec >= 1000000000) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&g->lock);
    while (g->held < n && ret == 0)
        ret = pthread_cond_timedwait(&g->cond, &g->lock, &end);
    ret = g->held >= n ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&g->lock);
    return ret;
}

/* Answer everything, unmount, join, remove the directory; idempotent. */
static inline void fuse_gate_stop(struct fuse_gate *g)
{
    if (!g->inited)
        return;
    if (g->watchdog > 0) {
        kill(g->watchdog, SIGKILL);
        waitpid(g->watchdog, NULL, 0);
        g->watchdog = 0;
    }
    fuse_gate_release(g);
    if (g->running) {
        uint64_t one = 1;
        if (write(g->stop_fd, &one, sizeof(one)) != sizeof(one))
            fprintf(stderr, "fuse_gate: cannot stop the session thread: %s\n", strerror(errno));
        pthread_join(g->thread, NULL);
        g->running = false;
    }
    if (g->se) {
        /*
         * Closes /dev/fuse (anything still in flight fails: the connection
         * is aborted) and detaches the mount even if the daemon keeps the
         * file open.
         */
        fuse_session_unmount(g->se);
        fuse_session_destroy(g->se);
        g->se = NULL;
    }
    if (g->stop_fd >= 0)
        close(g->stop_fd);
    g->stop_fd = -1;
    if (g->dir[0])
        rmdir(g->dir);
    g->dir[0] = g->path[0] = '\0';
    free(g->mem);
    g->mem = NULL;
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    g->inited = false;
}

/*
 * g: zeroed or stopped.  size: the file's bytes, all zero at first.
 * flags: FUSE_GATE_SYNC_DIO or 0.  0, or -errno with nothing left behind.
 */
static inline int fuse_gate_start_flags(struct fuse_gate *g, uint64_t size, unsigned flags)
{
    static const struct fuse_lowlevel_ops ops = {
        .init = fg_init,
        .lookup = fg_lookup,
        .getattr = fg_getattr,
        .open = fg_open,
        .read = fg_read,
        .write = fg_write,
        .release = fg_release,
        .fsync = fg_fsync,
        .fallocate = fg_fallocate,
    };
    char *argv[] = { "fuse_gate", "-o", "fsname=fuse_gate", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    pthread_condattr_t ca;
    struct stat st;
    int ret;

    memset(g, 0, sizeof(*g));
    g->stop_fd = -1;
    g->size = size;
    g->flags = flags;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    g->inited = true;
    bool private_ns = fg_private_mounts();

    g->mem = calloc(1, size ? size : 1);
    snprintf(g->dir, sizeof(g->dir), "/tmp/fuse-gate.XXXXXX");
    if (!g->mem || !mkdtemp(g->dir)) {
        ret = g->mem ? -errno : -ENOMEM;
        g->dir[0] = '\0';
        goto fail;
    }
    snprintf(g->path, sizeof(g->path), "%s/disk", g->dir);
    g->se = fuse_session_new(&args, &ops, sizeof(ops), g);
    fuse_opt_free_args(&args);
    if (!g->se) {
        ret = -EIO;
        goto fail;
    }
    if (fuse_session_mount(g->se, g->dir) != 0) {
        fuse_session_destroy(g->se);
        g->se = NULL;
        ret = -EIO;
        goto fail;
    }
    /* The thread polls; a read must never block it away from the stop eventfd. */
    ret = fuse_session_fd(g->se);
    if (fcntl(ret, F_SETFL, fcntl(ret, F_GETFL) | O_NONBLOCK) < 0) {
        ret = -errno;
        goto fail;
    }
    g->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (g->stop_fd < 0) {
        ret = -errno;
        goto fail;
    }
    ret = -pthread_create(&g->thread, NULL, fg_loop, g);
    if (ret)
        goto fail;
    g->running = true;
    /* The first access waits for FUSE_INIT: the gate answers before start returns. */
    if (stat(g->path, &st) < 0) {
        ret = -errno;
        goto fail;
    }
    if ((uint64_t)st.st_size != size) {
        ret = -EIO;
        goto fail;
    }
    /*
     * The gate has no flush: answering the first FLUSH with ENOSYS makes
     * the kernel send none again, so no close can wait for the gate (an
     * exiting process closes its files after its session thread is gone).
     */
    ret = open(g->path, O_RDWR | O_CLOEXEC);
    if (ret < 0 || close(ret) < 0) {
        ret = -errno;
        goto fail;
    }
    fg_watchdog_start(g, private_ns);
    return 0;

fail:
    fuse_gate_stop(g);
    return ret;
}

static inline int fuse_gate_start(struct fuse_gate *g, uint64_t size)
{
    return fuse_gate_start_flags(g, size, 0);
}

#endif
