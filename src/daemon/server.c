/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_listen.h"
#include "vhost/vu_msg.h"

/* What the management plane or a signal asked for, on the control thread. */
static void handle_requests(struct server *s)
{
    unsigned req = atomic_exchange(&s->requests, 0);

    if (req & SERVER_REQ_DUMP)
        vu_dev_log_state(&s->c->dev);
}

static void drain_wake(struct server *s)
{
    uint64_t v;

    if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        LOG_WARN("%s: wakeup read failed: %s", s->name, strerror(errno));
}

int server_listen(const char *path, char *err, size_t errlen)
{
    /* Backlog 1: a second frontend is turned away at once anyway (refuse_second_frontend). */
    return unix_listen(path, "socket", 0, 0, 1, NULL, err, errlen);
}

int server_block_signals(void)
{
    struct sigaction sa;
    sigset_t set;
    int fd;

    /*
     * SIGINT/SIGTERM: stop.  SIGUSR1: log the rings' indexes, for
     * diagnosing a stuck guest.  SIGHUP: the administrator resized a backing
     * file or volume (systemctl reload).  Read from a signalfd in the main
     * thread's poll, so one that arrives while it is busy is never lost.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        LOG_ERR("signalfd: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A config save beyond RLIMIT_FSIZE must fail with EFBIG, not kill us. */
    sigaction(SIGXFSZ, &sa, NULL);
    return fd;
}

/*
 * A frontend that connects while another is being served would otherwise sit
 * in the listen backlog, its first message unanswered, and QEMU hangs in
 * device realize.  Until one process serves several controllers, turn it
 * away at once: it sees the connection close and can report the error.
 */
static void refuse_second_frontend(int listen_fd, const char *name)
{
    int extra = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (extra < 0)
        return;
    LOG_RATELIMITED(LOG_LEVEL_WARN,
                    "%s: a second frontend connected while one is being served; closed it "
                    "(one frontend per controller)",
                    name);
    close(extra);
}

enum conn_fd { FD_CONN, FD_LISTEN, FD_FAULT, FD_TMF, FD_WAKE, FD_KICK0, FD_KICK1, FD_MAX };

/* Serve one connection until it ends or a stop is requested.  Called and returns with the lock. */
static void serve_connection(struct server *s, int conn)
{
    struct controller *c = s->c;
    int listen_fd = s->listen_fd;
    const char *name = s->name;
    struct vu_msg msg;

    /*
     * Messages are read only once poll says data is there, and replies are
     * a few bytes: a frontend that stalls in the middle of a message, or
     * stops reading our replies, must not hold the daemon forever.
     */
    struct timeval tmo = { .tv_sec = 5, .tv_usec = 0 };
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
    setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
    c->dev.sock = conn;
    /* Milliseconds poll may sleep: -1, or sooner when a TMF deadline or unfinished work waits. */
    int timeout = -1;
    bool more[2] = { false, false };
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd[FD_MAX];
        int ret;

        for (unsigned i = 0; i < FD_MAX; i++)
            pfd[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
        pfd[FD_CONN].fd = conn;
        pfd[FD_CONN].events = POLLIN | POLLRDHUP;
        pfd[FD_LISTEN].fd = listen_fd;
        pfd[FD_FAULT].fd = c->dev.fault.notify_fd;
        pfd[FD_TMF].fd = c->ctrl.tmfs.notify_fd;
        pfd[FD_WAKE].fd = s->wake_fd;
        for (unsigned idx = 0; idx < 2; idx++)
            if (vu_vring_ready(&c->dev, idx))
                pfd[FD_KICK0 + idx].fd = c->dev.vrings[idx].kick_fd;
        pthread_mutex_unlock(s->lock);
        ret = poll(pfd, FD_MAX, more[0] || more[1] ? 0 : timeout);
        int err = errno;
        pthread_mutex_lock(s->lock);
        if (ret > 0 && (pfd[FD_WAKE].revents & POLLIN))
            drain_wake(s);
        handle_requests(s);
        if (ret < 0) {
            if (err == EINTR)
                continue;
            LOG_ERR("poll: %s", strerror(err));
            break;
        }
        if (vu_fault_owner_faulted(&c->dev.fault)) {
            LOG_ERR("%s: the frontend shrank a guest memory, inflight or dirty log file under us "
                    "(bus error "
                    "at %#lx); dropping the connection",
                    name, (unsigned long)atomic_load(&c->dev.fault.addr));
            break;
        }
        /*
         * A frontend that hung up and at once reconnected (QEMU restarting,
         * a test) is not a second one: its old connection is on its way
         * out (remaining messages, then EOF) and the new one waits in the
         * backlog until then.
         */
        if ((pfd[FD_LISTEN].revents & POLLIN) &&
            !(pfd[FD_CONN].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            refuse_second_frontend(listen_fd, name);
        /*
         * The control and event queues get a bounded share per turn, so the
         * socket below is served however busy a guest keeps them.
         */
        bool ctrl_served = false;
        for (unsigned idx = 0; idx < 2; idx++) {
            if (pfd[FD_KICK0 + idx].revents & POLLIN)
                more[idx] = controller_kick_fixed(c, idx);
            else if (more[idx])
                more[idx] = controller_serve_fixed(c, idx);
            else
                continue;
            ctrl_served |= idx == VIRTIO_SCSI_VQ_CONTROL;
        }
        /*
         * TMFs whose victims completed, or whose time may be up; and after
         * the control queue ran, the deadline of any TMF it started.
         */
        if ((pfd[FD_TMF].revents & POLLIN) || timeout >= 0 || ctrl_served)
            timeout = controller_poll_tmfs(c);
        if (pfd[FD_CONN].revents & (POLLIN | POLLHUP | POLLERR)) {
            ret = vu_msg_recv(conn, &msg);
            if (ret == 0) {
                LOG_INFO("%s: frontend disconnected", name);
                break;
            }
            if (ret < 0) {
                LOG_ERR("vhost-user connection: %s; dropping it", strerror(-ret));
                break;
            }
            if (vu_dev_handle_msg(&c->dev, &msg) < 0)
                break;
        }
    }
    if (log_enabled(LOG_LEVEL_DEBUG))
        vu_dev_log_state(&c->dev);
    vu_dev_disconnect(&c->dev);
    /* The I_T nexus is gone with the connection: so are its RESERVE(6/10) reservations. */
    scsi_target_set_nexus_loss(&c->targets);
    c->dev.sock = -1;
    close(conn);
}

static void *server_main(void *arg)
{
    struct server *s = arg;

    pthread_mutex_lock(s->lock);
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd[2] = { { .fd = s->listen_fd, .events = POLLIN },
                                 { .fd = s->wake_fd, .events = POLLIN } };
        int conn;

        pthread_mutex_unlock(s->lock);
        int ret = poll(pfd, 2, -1), err = errno;
        pthread_mutex_lock(s->lock);
        if (ret > 0 && (pfd[1].revents & POLLIN))
            drain_wake(s);
        handle_requests(s);
        if (ret < 0) {
            if (err == EINTR)
                continue;
            LOG_ERR("%s: poll: %s", s->name, strerror(err));
            break;
        }
        if (atomic_load(&s->stop) || !(pfd[0].revents & POLLIN))
            continue;
        conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            LOG_ERR("%s: accept: %s", s->name, strerror(errno));
            /* A broken listening socket must not spin: wait for the stop. */
            pthread_mutex_unlock(s->lock);
            while (!atomic_load(&s->stop)) {
                struct pollfd w = { .fd = s->wake_fd, .events = POLLIN };

                if (poll(&w, 1, -1) > 0)
                    drain_wake(s);
            }
            pthread_mutex_lock(s->lock);
            break;
        }
        LOG_INFO("%s: frontend connected", s->name);
        atomic_store(&s->connected, true);
        serve_connection(s, conn);
        atomic_store(&s->connected, false);
    }
    pthread_mutex_unlock(s->lock);
    return NULL;
}

void server_init(struct server *s, int listen_fd, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = listen_fd;
    s->wake_fd = -1;
    snprintf(s->name, sizeof(s->name), "%s", name);
}

int server_start(struct server *s, struct controller *c, pthread_mutex_t *lock)
{
    sigset_t all, old;
    int ret;

    s->c = c;
    s->lock = lock;
    atomic_init(&s->stop, false);
    atomic_init(&s->requests, 0);
    atomic_init(&s->connected, false);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0)
        return -errno;
    /* Signals are the main thread's (server_block_signals). */
    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    ret = -pthread_create(&s->thread, NULL, server_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret < 0) {
        close(s->wake_fd);
        s->wake_fd = -1;
        return ret;
    }
    s->running = true;
    return 0;
}

static void wake(struct server *s)
{
    const uint64_t one = 1;

    if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        LOG_WARN("%s: wakeup failed: %s", s->name, strerror(errno));
}

void server_request(struct server *s, unsigned req)
{
    if (!s->running)
        return;
    atomic_fetch_or(&s->requests, req);
    wake(s);
}

void server_stop(struct server *s)
{
    if (s->running) {
        atomic_store(&s->stop, true);
        wake(s);
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->wake_fd = -1;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
}
