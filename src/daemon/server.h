/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A controller's control thread: accept one frontend at a time on the
 * controller's listening socket, feed its vhost-user messages to the
 * controller, serve the control and event queues' kicks, and go back to
 * listening when it hangs up.
 *
 * Each controller has a thread of its own, so a frontend that stalls in the
 * middle of a message (up to the 5 s socket timeout) stalls only its own
 * controller.  The thread holds the controller's lock while it works and
 * drops it while it waits: the management plane takes the same lock to
 * change the controller's LUNs.
 */
#ifndef VUS_DAEMON_SERVER_H
#define VUS_DAEMON_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/controller.h"

#define SERVER_REQ_DUMP 1u /* log the rings' indexes (SIGUSR1) */

struct server {
    struct controller *c;
    int listen_fd;
    char name[128]; /* the socket path, or "fd N": for log lines */
    pthread_mutex_t *lock;
    int wake_fd; /* eventfd: stop or requests */
    atomic_bool stop;
    atomic_uint requests; /* SERVER_REQ_* */
    atomic_bool connected;
    pthread_t thread;
    bool running;
};

/* Create, bind and listen on a UNIX socket at path (replacing a stale socket file). -errno. */
int server_listen(const char *path, char *err, size_t errlen);

/*
 * Take over listen_fd (closed by server_stop) under name (the socket path or
 * a label, for log lines), with no thread yet: frontends that connect wait
 * in the backlog until server_start.
 */
void server_init(struct server *s, int listen_fd, const char *name);
/*
 * Start the control thread for c on the socket server_init gave.  lock is
 * held by the thread while it works.  0 or -errno.
 */
int server_start(struct server *s, struct controller *c, pthread_mutex_t *lock);
/* Any thread: ask for SERVER_REQ_* work, done soon on the control thread. */
void server_request(struct server *s, unsigned req);
/* Stop the thread (dropping a connected frontend) and close the socket.  Not with s->lock held. */
void server_stop(struct server *s);

/*
 * The process's signals, for the main thread: they are blocked in every
 * thread created afterwards and read from the returned signalfd (-1 on
 * failure).  Call before any thread starts.
 */
int server_block_signals(void);

#endif
