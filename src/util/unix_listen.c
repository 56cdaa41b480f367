/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/unix_listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

int unix_listen(const char *path, const char *what, int sock_flags, mode_t mode, int backlog,
                struct stat *st, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat cur;
    mode_t old = 0;
    int fd, r;

    if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s path %s: %s", what, path, path[0] ? "too long" : "empty");
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* Only ever remove a socket: never a file someone named by mistake. */
    if (lstat(path, &cur) == 0) {
        if (!S_ISSOCK(cur.st_mode)) {
            snprintf(err, errlen, "%s %s exists and is not a socket", what, path);
            return -EEXIST;
        }
        /* Taking over a live daemon's socket would cut it off from new clients. */
        if (socket_in_use(&sa)) {
            snprintf(err, errlen, "%s %s is in use by another process", what, path);
            return -EADDRINUSE;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
    if (fd < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", what, strerror(-r));
        return r;
    }
    /* Born with its mode: a chmod after bind would leave a moment when anyone could connect. */
    if (mode)
        old = umask((mode_t)(~mode & 0777));
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (mode)
        umask(old);
    if (r < 0 || listen(fd, backlog) < 0 || (st && lstat(path, st) < 0)) {
        r = -errno;
        snprintf(err, errlen, "cannot listen on %s %s: %s", what, path, strerror(-r));
        close(fd);
        return r;
    }
    return fd;
}
