/* SPDX-License-Identifier: GPL-2.0-or-later */
/* unix_listen: what may be at the path, what is replaced, what is never touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/unix_listen.h"

static char dir[64], path[128];
static char err[512];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vus-ul.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool connects(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    bool ok;

    memcpy(sa.sun_path, path, strlen(path) + 1); /* setup keeps it well under sun_path */
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static void test_fresh_and_mode(void **state)
{
    struct stat st, now;
    int fd;

    (void)state;
    fd = unix_listen(path, "rpc socket", SOCK_NONBLOCK, 0600, 4, &st, err, sizeof(err));
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(lstat(path, &now), 0);
    assert_true(S_ISSOCK(now.st_mode));
    assert_int_equal(now.st_mode & 0777, 0600);
    assert_int_equal(st.st_ino, now.st_ino);
    assert_true(connects());
    close(fd);
}

/* A socket nobody listens on (a daemon that died) is replaced; a live one is left alone. */
static void test_stale_replaced_live_refused(void **state)
{
    int fd, fd2;

    (void)state;
    fd = unix_listen(path, "socket", 0, 0, 1, NULL, err, sizeof(err));
    assert_true(fd >= 0);
    fd2 = unix_listen(path, "socket", 0, 0, 1, NULL, err, sizeof(err));
    assert_int_equal(fd2, -EADDRINUSE);
    assert_non_null(strstr(err, "is in use by another process"));
    assert_non_null(strstr(err, path));
    assert_true(connects()); /* still the first one's */
    close(fd);
    fd2 = unix_listen(path, "socket", 0, 0, 1, NULL, err, sizeof(err));
    assert_true(fd2 >= 0);
    assert_true(connects());
    close(fd2);
}

/* Anything else at the path is a mistake of the caller's: refused, untouched. */
static void test_not_a_socket(void **state)
{
    char sub[160], longp[200];
    int fd;

    (void)state;
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_int_equal(unix_listen(path, "socket", 0, 0, 1, NULL, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "exists and is not a socket"));
    assert_int_equal(access(path, F_OK), 0);
    /* A directory that does not exist: the OS's reason, with the path. */
    snprintf(sub, sizeof(sub), "%s/no/such.sock", dir);
    assert_int_equal(unix_listen(sub, "socket", 0, 0, 1, NULL, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, sub));
    /* Too long for sun_path, and empty. */
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(unix_listen(longp, "socket", 0, 0, 1, NULL, err, sizeof(err)), -ENAMETOOLONG);
    assert_non_null(strstr(err, "too long"));
    assert_int_equal(unix_listen("", "socket", 0, 0, 1, NULL, err, sizeof(err)), -ENAMETOOLONG);
    assert_non_null(strstr(err, "empty"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_replaced_live_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_socket, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
