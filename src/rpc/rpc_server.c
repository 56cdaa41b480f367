/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON-RPC server's socket side (see rpc_server.h): one thread, one
 * poll(2) over an eventfd (stop), the listening socket and the clients.
 * All client sockets are non-blocking, and every per-round amount of work is
 * bounded: one read per client, at most VALUES_PER_ROUND requests (or
 * batches) served per client, writes until the kernel says EAGAIN.
 */
#include "rpc/rpc_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc/rpc_dispatch.h"
#include "util/log.h"
#include "util/unix_listen.h"

/* Served per client per poll round: a client with many queued requests cannot starve the rest. */
#define VALUES_PER_ROUND 16
/* Responses queued and unread beyond this: serve no more of that client's requests until it reads.
 */
#define OUT_HIGH (1024 * 1024)
/* New connections taken per round; the rest wait in the backlog for the next one. */
#define ACCEPTS_PER_ROUND 16
/* accept() failing for lack of fds: leave the listen socket alone this long (else poll spins). */
#define ACCEPT_PAUSE_MS 100

struct client {
    int fd;
    struct rpc_stream in;
    struct rpc_buf out;
    int64_t write_since;   /* ms: responses pending and not being read since; 0: none pending */
    int64_t partial_since; /* ms: a request began then; 0: none begun */
    bool eof;              /* the client shut down its sending side */
    bool closing;          /* a framing error was answered: flush, then close */
    bool ready;            /* complete requests may still be waiting (served the round's quota) */
};

struct rpc_server {
    int listen_fd;
    int wake_fd;
    char *path;
    dev_t dev;
    ino_t ino;
    struct rpc_dispatcher d;
    unsigned max_clients;
    size_t max_request;
    unsigned write_timeout_ms, idle_timeout_ms;
    struct client **slots; /* max_clients entries, NULL = free */
    _Atomic unsigned nclients;
    int64_t accept_paused_until;
    pthread_t thread;
    bool started;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether someone listens at sa: then the socket file is not stale.  Caller's thread. */
static int listen_at(struct rpc_server *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    /* 0600; umask is process-wide, so this runs at start-up, before threads create files. */
    int fd = unix_listen(path, "rpc socket", SOCK_NONBLOCK, 0600, 16, &st, err, errlen);

    if (fd < 0)
        return fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    return fd;
}

struct rpc_server *rpc_server_create(const char *path, const struct rpc_server_opts *opts,
                                     char *err, size_t errlen)
{
    struct rpc_server *s = calloc(1, sizeof(*s));

    if (!s) {
        snprintf(err, errlen, "rpc server: out of memory");
        return NULL;
    }
    s->d.methods = opts->methods;
    s->d.nmethods = opts->nmethods;
    s->d.opaque = opts->opaque;
    s->d.after_mutation = opts->after_mutation;
    s->d.mutation_opaque = opts->mutation_opaque;
    s->max_clients = opts->max_clients ? opts->max_clients : RPC_DEFAULT_MAX_CLIENTS;
    s->max_request = opts->max_request ? opts->max_request : RPC_DEFAULT_MAX_REQUEST;
    s->write_timeout_ms =
        opts->write_timeout_ms ? opts->write_timeout_ms : RPC_DEFAULT_WRITE_TIMEOUT_MS;
    s->idle_timeout_ms =
        opts->idle_timeout_ms ? opts->idle_timeout_ms : RPC_DEFAULT_IDLE_TIMEOUT_MS;
    s->listen_fd = s->wake_fd = -1;
    s->slots = calloc(s->max_clients, sizeof(*s->slots));
    s->path = strdup(path);
    if (!s->slots || !s->path) {
        snprintf(err, errlen, "rpc server: out of memory");
        goto fail;
    }
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        snprintf(err, errlen, "rpc server: eventfd: %s", strerror(errno));
        goto fail;
    }
    s->listen_fd = listen_at(s, path, err, errlen);
    if (s->listen_fd < 0)
        goto fail;
    return s;
fail:
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s->slots);
    free(s->path);
    free(s);
    return NULL;
}

static void client_close(struct rpc_server *s, unsigned slot, const char *why)
{
    struct client *c = s->slots[slot];

    if (why)
        LOG_RATELIMITED(LOG_LEVEL_INFO, "rpc: dropping client: %s", why);
    close(c->fd);
    rpc_stream_free(&c->in);
    rpc_buf_free(&c->out);
    free(c);
    s->slots[slot] = NULL;
    atomic_fetch_sub(&s->nclients, 1);
}

/* Refuse a connection beyond max_clients with an error object it can read.  Server thread. */
static void refuse(struct rpc_server *s, int fd)
{
    char line[160];
    int n = snprintf(line, sizeof(line),
                     "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"too many "
                     "clients (at most %u)\"},\"id\":null}\n",
                     RPC_ERR_BUSY, s->max_clients);

    /* Best effort: a fresh socket's buffer takes one line; if not, closing says enough. */
    if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        LOG_DEBUG("rpc: refusing client: %s", strerror(errno));
    close(fd);
    LOG_RATELIMITED(LOG_LEVEL_WARN, "rpc: refused a client: already %u", s->max_clients);
}

static void accept_clients(struct rpc_server *s, int64_t now)
{
    for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct client *c;
        unsigned slot;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                LOG_RATELIMITED(LOG_LEVEL_WARN, "rpc: accept: %s", strerror(errno));
                s->accept_paused_until = now + ACCEPT_PAUSE_MS;
            }
            return;
        }
        for (slot = 0; slot < s->max_clients && s->slots[slot]; slot++)
            ;
        c = slot < s->max_clients ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            refuse(s, fd);
            continue;
        }
        c->fd = fd;
        rpc_stream_init(&c->in, s->max_request);
        s->slots[slot] = c;
        atomic_fetch_add(&s->nclients, 1);
    }
}

/* Write what the kernel takes.  false: the client is gone.  Server thread. */
static bool client_flush(struct client *c, int64_t now)
{
    bool progress = false;

    while (rpc_buf_pending(&c->out)) {
        ssize_t n = send(c->fd, c->out.data + c->out.off, rpc_buf_pending(&c->out),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return false;
        }
        rpc_buf_consume(&c->out, (size_t)n);
        progress = true;
    }
    if (!rpc_buf_pending(&c->out))
        c->write_since = 0;
    else if (progress || !c->write_since)
        c->write_since = now;
    return true;
}

/* Whether the client's input may be read this round. */
static bool wants_input(const struct client *c)
{
    return !c->eof && !c->closing && rpc_buf_pending(&c->out) < OUT_HIGH &&
           c->in.len - c->in.off <= c->in.max;
}

/* One client's round.  false: drop it (why set).  Server thread. */
static bool client_serve(struct rpc_server *s, struct client *c, short revents, bool polled_in,
                         int64_t now, const char **why)
{
    if (revents & POLLNVAL) {
        *why = "socket error";
        return false;
    }
    if (polled_in && (revents & (POLLIN | POLLHUP | POLLERR))) {
        size_t room;
        char *p = rpc_stream_space(&c->in, &room);
        ssize_t n = p && room ? read(c->fd, p, room) : -2;

        if (n > 0) {
            rpc_stream_commit(&c->in, (size_t)n);
        } else if (n == 0) {
            c->eof = true;
        } else if (n == -2) {
            /* Out of memory (space is only ever 0 here on failure: wants_input checked). */
            *why = "out of memory";
            return false;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            *why = "read error";
            return false;
        }
    }
    if (!c->closing && rpc_buf_pending(&c->out) < OUT_HIGH) {
        enum rpc_step st = rpc_stream_process(&c->in, &s->d, &c->out, VALUES_PER_ROUND);
        c->closing = st == RPC_STEP_CLOSE;
        c->ready = st == RPC_STEP_AGAIN;
    }
    if (!rpc_stream_pending(&c->in))
        c->partial_since = 0;
    else if (!c->partial_since)
        c->partial_since = now;

    if (!client_flush(c, now)) {
        *why = "write error";
        return false;
    }
    if (!rpc_buf_pending(&c->out) && (c->closing || (c->eof && !c->ready))) {
        *why = NULL; /* an ordinary end */
        return false;
    }
    if (c->write_since && now - c->write_since >= s->write_timeout_ms) {
        *why = "it does not read its responses";
        return false;
    }
    /* A request must arrive whole within the idle timeout of its first byte. */
    if (c->partial_since && !c->ready && now - c->partial_since >= s->idle_timeout_ms) {
        *why = "incomplete request timed out";
        return false;
    }
    return true;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

static void *server_thread(void *arg)
{
    struct rpc_server *s = arg;
    struct pollfd *pfd = calloc(s->max_clients + 2, sizeof(*pfd));
    unsigned *slot_of = calloc(s->max_clients + 2, sizeof(*slot_of));

    if (!pfd || !slot_of) {
        LOG_ERR("rpc: out of memory; the rpc server is not running");
        free(pfd);
        free(slot_of);
        return NULL;
    }
    for (;;) {
        int64_t now = now_ms(), deadline = -1;
        unsigned n = 0;
        int timeout;

        pfd[n++] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
        if (now >= s->accept_paused_until)
            pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
        else
            deadline = s->accept_paused_until;
        for (unsigned i = 0; i < s->max_clients; i++) {
            struct client *c = s->slots[i];
            short ev = 0;

            if (!c)
                continue;
            if (wants_input(c))
                ev |= POLLIN;
            if (rpc_buf_pending(&c->out)) {
                ev |= POLLOUT;
                deadline = min_deadline(deadline, c->write_since + s->write_timeout_ms);
            }
            if (c->ready && rpc_buf_pending(&c->out) < OUT_HIGH)
                deadline = now;
            else if (c->partial_since)
                deadline = min_deadline(deadline, c->partial_since + s->idle_timeout_ms);
            slot_of[n] = i;
            pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
        }
        timeout = deadline < 0 ? -1 : deadline <= now ? 0 : (int)(deadline - now);
        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            LOG_ERR("rpc: poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents)
            break;
        now = now_ms();
        unsigned first = 1;
        if (n > 1 && pfd[1].fd == s->listen_fd) {
            first = 2;
            if (pfd[1].revents & POLLIN)
                accept_clients(s, now);
        }
        /* Only clients polled this round: ones accepted just now wait for the next. */
        for (unsigned k = first; k < n; k++) {
            struct client *c = s->slots[slot_of[k]];
            const char *why = NULL;

            if (!client_serve(s, c, pfd[k].revents, pfd[k].events & POLLIN, now, &why))
                client_close(s, slot_of[k], why);
        }
    }
    free(pfd);
    free(slot_of);
    return NULL;
}

int rpc_server_start(struct rpc_server *s)
{
    sigset_t all, old;
    int r;

    /* Signals are the main thread's business: the server thread takes none. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&s->thread, NULL, server_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    pthread_setname_np(s->thread, "vus-rpc");
    s->started = true;
    return 0;
}

void rpc_server_destroy(struct rpc_server *s)
{
    struct stat st;

    if (!s)
        return;
    if (s->started) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            LOG_ERR("rpc: cannot wake the server thread: %s", strerror(errno));
        pthread_join(s->thread, NULL);
    }
    for (unsigned i = 0; i < s->max_clients; i++)
        if (s->slots[i])
            client_close(s, i, NULL);
    close(s->listen_fd);
    close(s->wake_fd);
    /* Someone may have replaced the socket meanwhile (a second daemon): leave theirs alone. */
    if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    free(s->slots);
    free(s->path);
    free(s);
}

unsigned rpc_server_client_count(struct rpc_server *s)
{
    return atomic_load(&s->nclients);
}
