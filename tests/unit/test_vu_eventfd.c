/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ring notification fds: only eventfds, and never blocking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vu_eventfd.h"

static void test_blocking_eventfd_becomes_nonblocking(void **state)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    uint64_t v = 0xfffffffffffffffeull;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(vu_eventfd_adopt(fd), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    /* A saturated counter: the write that would have blocked forever fails at once. */
    assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
    v = 1;
    assert_int_equal(write(fd, &v, sizeof(v)), -1);
    assert_int_equal(errno, EAGAIN);
    /* An empty counter: the read that would have blocked fails at once too. */
    assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(read(fd, &v, sizeof(v)), -1);
    assert_int_equal(errno, EAGAIN);
    close(fd);
}

static void test_nonblocking_eventfd_accepted(void **state)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    (void)state;
    assert_int_equal(vu_eventfd_adopt(fd), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);
}

static void test_other_files_refused(void **state)
{
    int p[2], sv[2];
    int memfd = memfd_create("not-an-eventfd", MFD_CLOEXEC);

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vu_eventfd_adopt(p[0]), -EINVAL);
    assert_int_equal(vu_eventfd_adopt(p[1]), -EINVAL);
    assert_int_equal(vu_eventfd_adopt(sv[0]), -EINVAL);
    assert_int_equal(vu_eventfd_adopt(memfd), -EINVAL);
    /* A refused fd is left as the frontend made it. */
    assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    assert_int_equal(vu_eventfd_adopt(-1), -EBADF);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    close(memfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_eventfd_becomes_nonblocking),
        cmocka_unit_test(test_nonblocking_eventfd_accepted),
        cmocka_unit_test(test_other_files_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
