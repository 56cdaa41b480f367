/* SPDX-License-Identifier: GPL-2.0-or-later */
/* server_listen: what may be at the socket path, and what is never removed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/server.h"

struct fx {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/vus_server_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[192];
    const char *names[] = { "sock", "file", "link", "sub" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
        if (unlink(p) < 0)
            rmdir(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static bool is_socket(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Connect to path; returns the fd or -errno. */
static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* The listener accepts a client that connects to path. */
static void assert_listening(int lfd, const char *path)
{
    int c = connect_to(path);
    int a;

    assert_true(c >= 0);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(a >= 0);
    assert_int_equal(write(c, "x", 1), 1);
    char ch = 0;
    assert_int_equal(read(a, &ch, 1), 1);
    assert_int_equal(ch, 'x');
    close(a);
    close(c);
}

static void test_new_path(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    int fd = server_listen(f->path, err, sizeof(err));

    assert_true(fd >= 0);
    assert_true(is_socket(f->path));
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_listening(fd, f->path);
    close(fd);
}

static void test_refuses_regular_file(void **state)
{
    struct fx *f = *state;
    char file[192], err[256] = "";
    struct stat st;
    int fd;

    snprintf(file, sizeof(file), "%s/file", f->dir);
    fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "data", 4), 4);
    close(fd);

    assert_int_equal(server_listen(file, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, file));
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
}

static void test_refuses_directory_and_symlink(void **state)
{
    struct fx *f = *state;
    char sub[192], link[192], err[256] = "";
    int lfd;

    snprintf(sub, sizeof(sub), "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(server_listen(sub, err, sizeof(err)), -EEXIST);
    struct stat st;
    assert_int_equal(lstat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* A symlink is not a socket, even one pointing at a socket: left alone. */
    lfd = server_listen(f->path, err, sizeof(err));
    assert_true(lfd >= 0);
    snprintf(link, sizeof(link), "%s/link", f->dir);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(server_listen(link, err, sizeof(err)), -EEXIST);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_listening(lfd, f->path);
    close(lfd);
}

static void test_replaces_stale_socket(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    int old, fd;

    /* A daemon that died without removing its socket. */
    old = server_listen(f->path, err, sizeof(err));
    assert_true(old >= 0);
    close(old);
    assert_true(is_socket(f->path));
    assert_int_equal(connect_to(f->path), -ECONNREFUSED);

    fd = server_listen(f->path, err, sizeof(err));
    assert_true(fd >= 0);
    assert_listening(fd, f->path);
    close(fd);
}

static void test_refuses_live_socket(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    int live = server_listen(f->path, err, sizeof(err));

    assert_true(live >= 0);
    /* Another daemon is listening there: do not cut it off. */
    assert_int_equal(server_listen(f->path, err, sizeof(err)), -EADDRINUSE);
    assert_non_null(strstr(err, f->path));
    /* Its probe connection sits in the backlog; drain it, then the socket still works. */
    int probe = accept4(live, NULL, NULL, SOCK_CLOEXEC);
    assert_true(probe >= 0);
    char ch;
    assert_int_equal(read(probe, &ch, 1), 0);
    close(probe);
    assert_listening(live, f->path);

    /* Even with a full backlog, the check does not block. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fill[4];
    assert_true(strlen(f->path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    for (unsigned i = 0; i < 4; i++) {
        fill[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fill[i] >= 0);
        (void)!connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    assert_int_equal(server_listen(f->path, err, sizeof(err)), -EADDRINUSE);
    for (unsigned i = 0; i < 4; i++)
        close(fill[i]);
    close(live);
}

static void test_long_path(void **state)
{
    struct fx *f = *state;
    struct sockaddr_un sa;
    char path[sizeof(sa.sun_path) + 16], err[512] = "";
    size_t n = sizeof(sa.sun_path); /* no room left for the terminating NUL */

    memset(path, 'a', sizeof(path));
    memcpy(path, f->dir, strlen(f->dir));
    path[strlen(f->dir)] = '/';
    path[n] = '\0';
    assert_int_equal(server_listen(path, err, sizeof(err)), -ENAMETOOLONG);
    assert_non_null(strstr(err, "too long"));
    assert_int_equal(access(path, F_OK), -1);

    /* One byte shorter fits. */
    path[n - 1] = '\0';
    int fd = server_listen(path, err, sizeof(err));
    assert_true(fd >= 0);
    assert_true(is_socket(path));
    close(fd);
    unlink(path);
}

static void test_missing_directory(void **state)
{
    struct fx *f = *state;
    char path[192], err[256] = "";

    snprintf(path, sizeof(path), "%s/nonexistent/sock", f->dir);
    assert_int_equal(server_listen(path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, path));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_new_path),
        T(test_refuses_regular_file),
        T(test_refuses_directory_and_symlink),
        T(test_replaces_stale_socket),
        T(test_refuses_live_socket),
        T(test_long_path),
        T(test_missing_directory),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
