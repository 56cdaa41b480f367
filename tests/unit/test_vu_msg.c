/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user message framing and shape checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vu_msg.h"

static int pair[2];

static int setup(void **state)
{
    (void)state;
    return socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
}

static int teardown(void **state)
{
    (void)state;
    close(pair[0]);
    close(pair[1]);
    return 0;
}

static void send_raw(const void *buf, size_t len, const int *fds, unsigned nfds)
{
    char control[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (nfds) {
        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    assert_int_equal(sendmsg(pair[1], &mh, 0), (ssize_t)len);
}

static void send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds)
{
    char buf[12 + 512];
    struct vu_msg_hdr hdr = { .request = req, .flags = flags, .size = size };
    memcpy(buf, &hdr, sizeof(hdr));
    memcpy(buf + sizeof(hdr), payload, size);
    send_raw(buf, sizeof(hdr) + size, fds, nfds);
}

static void test_recv_simple(void **state)
{
    struct vu_msg msg;
    uint64_t feat = 0x1234;

    (void)state;
    send_msg(VU_SET_FEATURES, VU_VERSION, &feat, 8, NULL, 0);
    assert_int_equal(vu_msg_recv(pair[0], &msg), 1);
    assert_int_equal(msg.hdr.request, VU_SET_FEATURES);
    assert_int_equal(msg.payload.u64, 0x1234);
    assert_int_equal(msg.nfds, 0);
    assert_null(vu_msg_check(&msg));
}

static void test_recv_with_fd(void **state)
{
    struct vu_msg msg;
    uint64_t idx = 3;
    int efd = eventfd(0, 0);

    (void)state;
    send_msg(VU_SET_VRING_KICK, VU_VERSION, &idx, 8, &efd, 1);
    close(efd);
    assert_int_equal(vu_msg_recv(pair[0], &msg), 1);
    assert_int_equal(msg.nfds, 1);
    assert_null(vu_msg_check(&msg));
    vu_msg_close_fds(&msg);
    assert_int_equal(msg.nfds, 0);
}

static void test_bad_version(void **state)
{
    struct vu_msg msg;
    uint64_t v = 0;

    (void)state;
    send_msg(VU_GET_FEATURES, 2, &v, 0, NULL, 0);
    assert_int_equal(vu_msg_recv(pair[0], &msg), -EPROTO);
}

static void test_huge_size(void **state)
{
    struct vu_msg msg;
    struct vu_msg_hdr hdr = { .request = VU_SET_MEM_TABLE, .flags = VU_VERSION, .size = 1u << 30 };

    (void)state;
    send_raw(&hdr, sizeof(hdr), NULL, 0);
    assert_int_equal(vu_msg_recv(pair[0], &msg), -EMSGSIZE);
}

static void test_truncated_payload(void **state)
{
    struct vu_msg msg;
    struct vu_msg_hdr hdr = { .request = VU_SET_FEATURES, .flags = VU_VERSION, .size = 8 };

    (void)state;
    send_raw(&hdr, sizeof(hdr), NULL, 0);
    send_raw("abc", 3, NULL, 0);
    shutdown(pair[1], SHUT_WR);
    assert_int_equal(vu_msg_recv(pair[0], &msg), -ECONNRESET);
}

static void test_eof(void **state)
{
    struct vu_msg msg;

    (void)state;
    shutdown(pair[1], SHUT_WR);
    assert_int_equal(vu_msg_recv(pair[0], &msg), 0);
}

static void test_check_shapes(void **state)
{
    struct vu_msg msg;

    (void)state;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.request = VU_SET_FEATURES;
    msg.hdr.size = 4;
    assert_string_equal(vu_msg_check(&msg), "wrong payload size");

    msg.hdr.request = 9999;
    assert_string_equal(vu_msg_check(&msg), "unsupported request");
    msg.hdr.request = VU_SET_BACKEND_REQ_FD;
    assert_string_equal(vu_msg_check(&msg), "unsupported request");
    /* The log description is 16 bytes; 8 is the kernel's log address, meaningless here. */
    msg.hdr.request = VU_SET_LOG_BASE;
    msg.hdr.size = 8;
    assert_string_equal(vu_msg_check(&msg), "wrong payload size");
    msg.hdr.size = sizeof(struct vu_log_msg);
    msg.nfds = 2;
    assert_string_equal(vu_msg_check(&msg), "too many fds");
    msg.nfds = 0;
    assert_null(vu_msg_check(&msg));
    msg.hdr.request = VU_SET_LOG_FD;
    msg.hdr.size = 0;
    assert_string_equal(vu_msg_check(&msg), "fd missing");

    /* Kick without an fd and without the no-fd flag. */
    msg.hdr.request = VU_SET_VRING_KICK;
    msg.hdr.size = 8;
    msg.payload.u64 = 0;
    msg.nfds = 0;
    assert_string_equal(vu_msg_check(&msg), "fd missing");
    msg.payload.u64 = VU_VRING_NOFD_MASK;
    assert_null(vu_msg_check(&msg));

    /* A memory table whose fd count does not match its regions. */
    msg.hdr.request = VU_SET_MEM_TABLE;
    msg.hdr.size = sizeof(struct vu_mem_table_msg);
    msg.payload.mem.nregions = 2;
    msg.nfds = 1;
    assert_string_equal(vu_msg_check(&msg), "number of fds does not match the number of regions");
    msg.payload.mem.nregions = 9;
    assert_string_equal(vu_msg_check(&msg), "bad number of regions");
    msg.payload.mem.nregions = 1;
    msg.hdr.size = 8 + 16;
    assert_string_equal(vu_msg_check(&msg), "payload size does not match the number of regions");

    /* GET_FEATURES with a stray fd. */
    msg.hdr.request = VU_GET_FEATURES;
    msg.hdr.size = 0;
    msg.nfds = 1;
    assert_string_equal(vu_msg_check(&msg), "unexpected fd");
}

static void test_reply(void **state)
{
    struct vu_msg req, got;
    uint64_t v = 0xabcdef;

    (void)state;
    memset(&req, 0, sizeof(req));
    req.hdr.request = VU_GET_FEATURES;
    assert_int_equal(vu_msg_send_reply(pair[0], &req, &v, sizeof(v), -1), 0);
    /* Read it back as the frontend would; the reply flag makes vu_msg_recv accept it. */
    assert_int_equal(vu_msg_recv(pair[1], &got), 1);
    assert_int_equal(got.hdr.request, VU_GET_FEATURES);
    assert_true(got.hdr.flags & VU_FLAG_REPLY);
    assert_int_equal(got.payload.u64, 0xabcdef);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(vu_request_name(VU_GET_VRING_BASE), "GET_VRING_BASE");
    assert_string_equal(vu_request_name(12345), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recv_simple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_with_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
        cmocka_unit_test(test_check_shapes),
        cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
