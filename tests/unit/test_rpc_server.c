/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON-RPC server over a real socket in a temporary directory: calls,
 * batches, notifications, errors, oversized requests, clients that never
 * read or stall half-way (short timeouts here), the client limit, many
 * clients at once, and the socket file's life.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc/rpc_server.h"

static char dir[64], path[128];
static _Atomic int mutations;

static void m_echo(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    rpc_result(ctx, json_incref(params));
}

/* A result of n KiB, for filling a client's socket buffer. */
static void m_big(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    size_t n = (size_t)json_integer_value(json_object_get(params, "kib")) * 1024;
    char *s = malloc(n + 1);

    memset(s, 'x', n);
    s[n] = 0;
    rpc_result(ctx, json_string(s));
    free(s);
}

static void m_fail(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    rpc_error(ctx, RPC_ERR_EXISTS, "already there");
}

static void after(void *opaque)
{
    mutations++;
}

static const struct rpc_method methods[] = {
    { "echo", m_echo, "echo params", false },
    { "big", m_big, "a big result", false },
    { "set", m_echo, "mutates", true },
    { "fail", m_fail, "fails", true },
};

static struct rpc_server *start(unsigned write_ms, unsigned idle_ms)
{
    struct rpc_server_opts o = {
        .methods = methods,
        .nmethods = sizeof(methods) / sizeof(methods[0]),
        .after_mutation = after,
        .write_timeout_ms = write_ms,
        .idle_timeout_ms = idle_ms,
    };
    char err[256];
    struct rpc_server *s = rpc_server_create(path, &o, err, sizeof(err));

    if (!s)
        fail_msg("%s", err);
    assert_int_equal(rpc_server_start(s), 0);
    return s;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "%s", "/tmp/test_rpc_server.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/rpc.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    rmdir(dir);
    return 0;
}

static int connect_to(const char *p)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 5 };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(strlen(p) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, p, strlen(p) + 1);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may have closed already: the reply says why */
        s += n;
        len -= (size_t)n;
    }
}

/* One response line, parsed; NULL on EOF or timeout. */
static json_t *read_line(int fd)
{
    char buf[1 << 16];
    size_t len = 0;

    while (len < sizeof(buf)) {
        ssize_t n = recv(fd, buf + len, 1, 0);
        if (n <= 0)
            return NULL;
        if (buf[len] == '\n')
            return json_loadb(buf, len, 0, NULL);
        len++;
    }
    return NULL;
}

static json_t *call(int fd, const char *req)
{
    send_all(fd, req, strlen(req));
    return read_line(fd);
}

static int code_of(json_t *r)
{
    return (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}

/* Whether the server closed fd (EOF within 5 s). */
static bool closed_by_server(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) <= 0;
}

static void wait_clients(struct rpc_server *s, unsigned n)
{
    for (int i = 0; i < 500 && rpc_server_client_count(s) != n; i++)
        usleep(10000);
    assert_int_equal(rpc_server_client_count(s), n);
}

static void test_calls(void **state)
{
    struct rpc_server *s = start(0, 0);
    int fd = connect_to(path);
    json_t *r;
    struct stat st;

    /* Born 0600. */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    r = call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"a\":1},\"id\":1}\n");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"), "a")), 1);
    json_decref(r);

    /* A notification gets nothing: the next line is the next call's. */
    mutations = 0;
    r = call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"set\"}{\"jsonrpc\":\"2.0\",\"method\":\"echo\","
                 "\"id\":\"two\"}");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "two");
    assert_int_equal(mutations, 1);
    json_decref(r);

    r = call(fd, "[{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"id\":1},"
                 "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":2}]\n");
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(code_of(json_array_get(r, 1)), RPC_ERR_EXISTS);
    assert_int_equal(mutations, 2);
    json_decref(r);

    r = call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"rpc_methods\",\"id\":3}");
    assert_int_equal(json_array_size(json_object_get(r, "result")), 5);
    json_decref(r);
    close(fd);
    rpc_server_destroy(s);
    /* The socket file goes with the server. */
    assert_int_equal(access(path, F_OK), -1);
}

static void test_errors(void **state)
{
    static const struct {
        const char *req;
        int code;
        bool closes;
    } cases[] = {
        { "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}", RPC_ERR_METHOD_NOT_FOUND, false },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[],\"id\":1}",
          RPC_ERR_INVALID_PARAMS, false },
        { "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}", RPC_ERR_INVALID_REQUEST, false },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":[]}", RPC_ERR_INVALID_REQUEST, false },
        { "{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}", RPC_ERR_INVALID_REQUEST, false },
        { "[]", RPC_ERR_INVALID_REQUEST, false },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":1}", RPC_ERR_EXISTS, false },
        { "{\"jsonrpc\":\"2.0\" \"method\":1}", RPC_ERR_PARSE, true },
        { "hello\n", RPC_ERR_PARSE, true },
        { "17\n", RPC_ERR_INVALID_REQUEST, true },
    };
    struct rpc_server *s = start(0, 0);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = connect_to(path);
        json_t *r = call(fd, cases[i].req);

        assert_non_null(r);
        assert_int_equal(code_of(r), cases[i].code);
        assert_non_null(json_string_value(json_object_get(json_object_get(r, "error"), "message")));
        json_decref(r);
        if (cases[i].closes) {
            assert_true(closed_by_server(fd));
        } else {
            r = call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":9}");
            assert_int_equal(json_integer_value(json_object_get(r, "id")), 9);
            json_decref(r);
        }
        close(fd);
    }
    rpc_server_destroy(s);
}

static void test_too_large(void **state)
{
    struct rpc_server *s = start(0, 0);
    size_t n = RPC_DEFAULT_MAX_REQUEST + 4096;
    char *req = malloc(n + 100);
    int fd = connect_to(path), fd2 = connect_to(path);
    json_t *r;

    /* Exactly the limit is served... */
    int head = snprintf(req, 100,
                        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,\"params\":{\"x\":\"");
    size_t fill = RPC_DEFAULT_MAX_REQUEST - (size_t)head - 3;
    memset(req + head, 'a', fill);
    memcpy(req + head + fill, "\"}}", 4);
    assert_int_equal(strlen(req), RPC_DEFAULT_MAX_REQUEST);
    send_all(fd2, req, strlen(req));
    char *line = malloc(2 * n);
    size_t got = 0;
    while (got < 2 * n) {
        ssize_t k = recv(fd2, line + got, 2 * n - got, 0);
        assert_true(k > 0);
        got += (size_t)k;
        if (line[got - 1] == '\n')
            break;
    }
    r = json_loadb(line, got, 0, NULL);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    free(line);

    /* ...one byte more is not. */
    memset(req + head, 'a', n - (size_t)head);
    send_all(fd, req, n);
    r = read_line(fd);
    assert_int_equal(code_of(r), RPC_ERR_INVALID_REQUEST);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "too large"));
    json_decref(r);
    assert_true(closed_by_server(fd));
    close(fd);
    close(fd2);
    free(req);
    rpc_server_destroy(s);
}

/* A client that sends requests and never reads is dropped; others are served meanwhile. */
static void test_never_reads(void **state)
{
    struct rpc_server *s = start(300, 0);
    int bad = connect_to(path), good = connect_to(path);
    const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"big\",\"params\":{\"kib\":256},\"id\":1}";
    int64_t t0;
    struct timespec ts;
    json_t *r;

    for (int i = 0; i < 64; i++)
        send_all(bad, req, strlen(req));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    r = call(good, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":5}");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 5);
    json_decref(r);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Not held up by the stuck one. */
    assert_true(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0 < 250);
    wait_clients(s, 1);
    r = call(good, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":6}");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 6);
    json_decref(r);
    close(bad);
    close(good);
    rpc_server_destroy(s);
}

/* Half a request, then nothing: dropped after the idle timeout. */
static void test_half_open(void **state)
{
    struct rpc_server *s = start(0, 200);
    int fd = connect_to(path), idle = connect_to(path);

    send_all(fd, "{\"jsonrpc\":\"2.0\",", 17);
    wait_clients(s, 2);
    assert_true(closed_by_server(fd));
    /* A client that has begun nothing is not a stall. */
    usleep(300000);
    assert_int_equal(rpc_server_client_count(s), 1);
    json_t *r = call(idle, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    close(fd);
    close(idle);
    rpc_server_destroy(s);
}

static void test_client_limit(void **state)
{
    struct rpc_server *s = start(0, 0);
    int fds[RPC_DEFAULT_MAX_CLIENTS], extra;
    json_t *r;

    for (int i = 0; i < RPC_DEFAULT_MAX_CLIENTS; i++) {
        fds[i] = connect_to(path);
        assert_true(fds[i] >= 0);
    }
    wait_clients(s, RPC_DEFAULT_MAX_CLIENTS);
    extra = connect_to(path);
    r = read_line(extra);
    assert_int_equal(code_of(r), RPC_ERR_BUSY);
    json_decref(r);
    assert_true(closed_by_server(extra));
    close(extra);
    /* The 64 still work, and a freed slot takes a new client. */
    r = call(fds[63], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    close(fds[0]);
    wait_clients(s, RPC_DEFAULT_MAX_CLIENTS - 1);
    fds[0] = connect_to(path);
    r = call(fds[0], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    for (int i = 0; i < RPC_DEFAULT_MAX_CLIENTS; i++)
        close(fds[i]);
    rpc_server_destroy(s);
}

static void *client_thread(void *arg)
{
    int fd = connect_to(path), bad = 0;
    long me = (long)(intptr_t)arg;

    for (int i = 0; i < 200; i++) {
        char req[128];
        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"t\":%ld},\"id\":%d}\n", me,
                 i);
        json_t *r = call(fd, req);
        if (json_integer_value(json_object_get(r, "id")) != i ||
            json_integer_value(json_object_get(json_object_get(r, "result"), "t")) != me)
            bad++;
        json_decref(r);
    }
    close(fd);
    return (void *)(intptr_t)bad;
}

static void test_concurrent(void **state)
{
    struct rpc_server *s = start(0, 0);
    pthread_t t[8];

    for (long i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, client_thread, (void *)(intptr_t)i);
    for (int i = 0; i < 8; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    rpc_server_destroy(s);
}

static void test_socket_file(void **state)
{
    struct rpc_server_opts o = { .methods = methods, .nmethods = 1 };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct rpc_server *s, *s2;
    char err[256];
    int fd;

    /* A stale socket (nobody listening) is replaced. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    s = rpc_server_create(path, &o, err, sizeof(err));
    assert_non_null(s);
    /* A live one is not. */
    s2 = rpc_server_create(path, &o, err, sizeof(err));
    assert_null(s2);
    assert_non_null(strstr(err, "in use"));
    rpc_server_destroy(s);

    /* Any other file is refused and left alone. */
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    close(fd);
    assert_null(rpc_server_create(path, &o, err, sizeof(err)));
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);

    /* A directory that does not exist: the error names the path. */
    assert_null(rpc_server_create("/nonexistent-dir/x.sock", &o, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/x.sock"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
