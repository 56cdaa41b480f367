/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_msg.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t dump_requested;
static volatile sig_atomic_t rescan_requested;
/*
 * The signals below are blocked and read from here, inside the control
 * thread's poll: a signal that arrives while the thread is busy (a message,
 * a pause) is not lost until the next unrelated wakeup, as a flag set by a
 * handler between the check and the poll would be.
 */
static int signal_fd = -1;

/* Read what arrived on signal_fd and turn it into requests. */
static void read_signals(void)
{
    struct signalfd_siginfo si;

    while (signal_fd >= 0 && read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            dump_requested = 1;
        else if (si.ssi_signo == SIGHUP)
            rescan_requested = 1;
        else
            stop_requested = 1;
    }
}

/* What the signals asked for, on the control thread. */
static void handle_requests(struct controller *c)
{
    read_signals();
    if (dump_requested) {
        dump_requested = 0;
        vu_dev_log_state(&c->dev);
    }
    if (rescan_requested) {
        rescan_requested = 0;
        controller_rescan(c);
    }
}

/*
 * Whether a process listens on the socket at sa.  A refused connection means
 * the file is left over from a daemon that is gone.  Nonblocking: a listener
 * whose backlog is full (EAGAIN) is alive too, and must not hang us.
 */
static bool socket_in_use(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool in_use;

    if (fd < 0)
        return false;
    in_use = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN ||
             errno == EINPROGRESS;
    close(fd);
    return in_use;
}

int server_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* Only ever remove a socket: never a file someone named by mistake. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -EEXIST;
        }
        /* Taking over a live daemon's socket would cut it off from new frontends. */
        if (socket_in_use(&sa)) {
            snprintf(err, errlen, "%s is in use by another process", path);
            return -EADDRINUSE;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

static void install_signals(void)
{
    struct sigaction sa;
    sigset_t set;

    /*
     * SIGINT/SIGTERM: stop.  SIGUSR1: log the rings' indexes, for
     * diagnosing a stuck guest.  SIGHUP: the administrator resized a backing
     * file or volume (systemctl reload).  Worker threads block them all.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    if (signal_fd < 0) {
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0)
            LOG_ERR("signalfd: %s; signals will stop the daemon without cleanup", strerror(errno));
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
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
                    "(one controller per process)",
                    name);
    close(extra);
}

enum conn_fd { FD_CONN, FD_LISTEN, FD_FAULT, FD_TMF, FD_SIGNAL, FD_KICK0, FD_KICK1, FD_MAX };

/* Serve one connection until it ends or a stop is requested. */
static void serve_connection(struct controller *c, int conn, int listen_fd, const char *name)
{
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
    while (!stop_requested) {
        struct pollfd pfd[FD_MAX];
        int ret;

        for (unsigned i = 0; i < FD_MAX; i++)
            pfd[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
        pfd[FD_CONN].fd = conn;
        pfd[FD_CONN].events = POLLIN | POLLRDHUP;
        pfd[FD_LISTEN].fd = listen_fd;
        pfd[FD_FAULT].fd = c->dev.fault.notify_fd;
        pfd[FD_TMF].fd = c->ctrl.tmfs.notify_fd;
        pfd[FD_SIGNAL].fd = signal_fd;
        for (unsigned idx = 0; idx < 2; idx++)
            if (vu_vring_ready(&c->dev, idx))
                pfd[FD_KICK0 + idx].fd = c->dev.vrings[idx].kick_fd;
        ret = poll(pfd, FD_MAX, more[0] || more[1] ? 0 : timeout);
        int err = errno;
        handle_requests(c);
        if (ret < 0) {
            if (err == EINTR)
                continue;
            LOG_ERR("poll: %s", strerror(err));
            break;
        }
        if (vu_fault_owner_faulted(&c->dev.fault)) {
            LOG_ERR("%s: the frontend shrank a guest memory or inflight file under us (bus error "
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
                LOG_INFO("frontend disconnected");
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
    c->dev.sock = -1;
    close(conn);
}

int server_run(struct controller *c, int listen_fd, const char *name)
{
    install_signals();
    while (!stop_requested) {
        struct pollfd pfd[2] = { { .fd = listen_fd, .events = POLLIN },
                                 { .fd = signal_fd, .events = POLLIN } };
        int conn;

        int ret = poll(pfd, 2, -1), err = errno;
        handle_requests(c);
        if (ret < 0) {
            if (err == EINTR)
                continue;
            return -err;
        }
        if (stop_requested || !(pfd[0].revents & POLLIN))
            continue;
        conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            LOG_ERR("accept: %s", strerror(errno));
            return -errno;
        }
        LOG_INFO("frontend connected");
        serve_connection(c, conn, listen_fd, name);
    }
    LOG_INFO("stopping");
    return 0;
}
