/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * slowfs: one file, served through FUSE, whose every read and write takes at
 * least DELAY_US microseconds.  The guest tests put a LUN on it when they
 * need requests to be in the daemon's backend at a given moment (a live
 * migration's switch-over with inflight-migration=on): with the guest at
 * queue depth 32, some always are.
 *
 *   slowfs BACKING_FILE MOUNTPOINT DELAY_US
 *
 * MOUNTPOINT/disk then reads and writes BACKING_FILE (same size; no page
 * cache in between: direct_io, so every I/O reaches us and several daemons
 * on the same mount see the same bytes).  Runs in the foreground until
 * unmounted (fusermount3 -u, umount) or killed.  Requests are served by
 * libfuse's thread pool, so the delays overlap as they would on a device.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int backing_fd = -1;
static off_t backing_size;
static long delay_us;

static void delay(void)
{
    struct timespec ts = { .tv_sec = delay_us / 1000000, .tv_nsec = (delay_us % 1000000) * 1000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    memset(st, 0, sizeof(*st));
    if (!strcmp(path, "/")) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, "/disk"))
        return -ENOENT;
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = backing_size;
    return 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    if (strcmp(path, "/"))
        return -ENOENT;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    fill(buf, "disk", NULL, 0, 0);
    return 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/disk"))
        return -ENOENT;
    fi->direct_io = 1;
    return 0;
}

static int sf_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    delay();
    ssize_t n = pread(backing_fd, buf, len, off);
    return n < 0 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t len, off_t off,
                    struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    if (off >= backing_size)
        return -ENOSPC;
    if ((off_t)len > backing_size - off)
        len = (size_t)(backing_size - off);
    delay();
    ssize_t n = pwrite(backing_fd, buf, len, off);
    return n < 0 ? -errno : (int)n;
}

static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    (void)datasync;
    (void)fi;
    return fdatasync(backing_fd) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
    .getattr = sf_getattr,
    .readdir = sf_readdir,
    .open = sf_open,
    .read = sf_read,
    .write = sf_write,
    .fsync = sf_fsync,
};

int main(int argc, char **argv)
{
    struct stat st;
    char *end;

    if (argc != 4) {
        fprintf(stderr, "usage: slowfs BACKING_FILE MOUNTPOINT DELAY_US\n");
        return 2;
    }
    delay_us = strtol(argv[3], &end, 10);
    if (*argv[3] == '\0' || *end != '\0' || delay_us < 0 || delay_us > 10000000) {
        fprintf(stderr, "slowfs: DELAY_US must be 0..10000000, not '%s'\n", argv[3]);
        return 2;
    }
    backing_fd = open(argv[1], O_RDWR | O_CLOEXEC);
    if (backing_fd < 0 || fstat(backing_fd, &st) < 0) {
        fprintf(stderr, "slowfs: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    backing_size = st.st_size;
    /* Foreground, several threads; other users (the daemons run as root too) may look. */
    char *fargv[] = {
        argv[0], "-f", "-o", "default_permissions,max_idle_threads=64", argv[2], NULL
    };
    return fuse_main(5, fargv, &ops, NULL);
}
