/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_eventfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Whether fd is an eventfd.  /proc names the file's type exactly.  Without
 * /proc (an unusual chroot), fall back to what fstat can tell: every eventfd
 * shares one anonymous inode; so do epoll, timerfd and signalfd fds, none of
 * which can block a non-blocking read or write either.
 */
static int is_eventfd(int fd)
{
    static const char want[] = "anon_inode:[eventfd]";
    char path[64], link[sizeof(want) + 1];
    struct stat st, ref;
    ssize_t n;
    int probe, ret;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link));
    if (n >= 0)
        return (size_t)n == sizeof(want) - 1 && memcmp(link, want, sizeof(want) - 1) == 0;
    if (fstat(fd, &st) < 0)
        return -errno;
    probe = eventfd(0, EFD_CLOEXEC);
    if (probe < 0)
        return -errno;
    ret = fstat(probe, &ref) < 0 ? -errno : st.st_dev == ref.st_dev && st.st_ino == ref.st_ino;
    close(probe);
    return ret;
}

int vu_eventfd_adopt(int fd)
{
    int flags, ret;

    if (fd < 0)
        return -EBADF;
    ret = is_eventfd(fd);
    if (ret < 0)
        return ret;
    if (!ret)
        return -EINVAL;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}
