/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A listening UNIX stream socket at a path, for the controllers' sockets and
 * the RPC socket alike: a stale socket file left by a daemon that is gone
 * is replaced, a live one (another process listens) and anything that is not
 * a socket are refused and left as they are.
 *
 * Threading: any thread.  With mode != 0 the process umask is changed for
 * the instant of the bind (the socket is born with that mode, never wider):
 * call it while no other thread creates files.
 */
#ifndef VUS_UTIL_UNIX_LISTEN_H
#define VUS_UTIL_UNIX_LISTEN_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * what names the socket in messages ("socket", "rpc socket").  sock_flags:
 * extra socket(2) type flags (SOCK_NONBLOCK).  mode: 0 for the umask's, else
 * the permissions the socket file gets.  st (may be NULL): the socket file
 * as created, to recognise it later.  Returns the fd, or -errno with a
 * one-line reason naming the path in err.
 */
int unix_listen(const char *path, const char *what, int sock_flags, mode_t mode, int backlog,
                struct stat *st, char *err, size_t errlen);

#endif
