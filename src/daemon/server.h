/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control thread's loop: accept one frontend at a time on the listening
 * socket, feed its vhost-user messages to the controller, serve the control
 * and event queues' kicks, and go back to listening when it hangs up.
 */
#ifndef VUS_DAEMON_SERVER_H
#define VUS_DAEMON_SERVER_H

#include "daemon/controller.h"

/* Create, bind and listen on a UNIX socket at path (replacing a stale socket file). -errno. */
int server_listen(const char *path, char *err, size_t errlen);

/*
 * Serve until SIGINT/SIGTERM.  name (the socket path, or "fd N") is for log
 * lines.  Returns 0 on a clean stop, -errno if the listening socket fails.
 */
int server_run(struct controller *c, int listen_fd, const char *name);

#endif
