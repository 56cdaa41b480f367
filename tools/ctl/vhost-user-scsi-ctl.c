/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-scsi-ctl: the command line client of the daemon's JSON-RPC
 * socket (--rpc-socket).  One request per run: the subcommand and its
 * key=value arguments become a method call with parameters by name, and the
 * result is printed as aligned tables (or raw with --json).
 *
 * Exit status: 0 success, 1 the call failed (connection, timeout, or an
 * error from the daemon, printed as one line), 2 usage error (nothing was
 * sent).  Single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_print.h"

#define PROG            "vhost-user-scsi-ctl"
#define DEFAULT_SOCKET  "/run/vhost-user-scsi/rpc.sock"
#define DEFAULT_TIMEOUT 30
/* A response larger than this is not from our daemon. */
#define MAX_RESPONSE (64u << 20)

enum key_type { K_STR, K_UINT, K_BOOL, K_SIZE };

struct key {
    const char *cli;  /* as typed: block-size */
    const char *json; /* as sent: block_size */
    enum key_type type;
    bool required;
};

struct command {
    const char *group; /* "bdev", or NULL for a one-word command */
    const char *verb;
    const char *method;
    const struct key *keys; /* terminated by { NULL } */
    void (*print)(json_t *result);
    const char *synopsis;
};

/*
 * What is in flight when die() exits: held here, reachable, so that exiting
 * from deep inside a call is not a leak to the sanitizers (the OS frees it).
 */
static struct {
    json_t *params, *resp;
    char *text, *buf;
} inflight;

static const struct key k_none[] = { { NULL } };
static const struct key k_ctrl_create[] = {
    { "name", "name", K_STR, true },
    { "socket", "socket_path", K_STR, true },
    { NULL },
};
static const struct key k_name[] = { { "name", "name", K_STR, true }, { NULL } };
static const struct key k_bdev_create[] = {
    { "name", "name", K_STR, true },
    { "type", "type", K_STR, true },
    { "size", "size", K_SIZE, false },
    { "path", "path", K_STR, false },
    { "block-size", "block_size", K_UINT, false },
    { "readonly", "readonly", K_BOOL, false },
    { "direct", "direct", K_BOOL, false },
    { "pci", "pci", K_STR, false },
    { "ns", "ns", K_UINT, false },
    { "url", "url", K_STR, false },
    { "pool", "pool", K_STR, false },
    { "image", "image", K_STR, false },
    { "snap", "snap", K_STR, false },
    { "conf", "conf", K_STR, false },
    { "id", "id", K_STR, false },
    { "timeout", "timeout", K_UINT, false },
    { NULL },
};
static const struct key k_bdev_resize[] = {
    { "name", "name", K_STR, true },
    { "size", "size", K_SIZE, false },
    { NULL },
};
static const struct key k_lun_attach[] = {
    { "controller", "controller", K_STR, true },
    { "bdev", "bdev", K_STR, true },
    { "target", "target", K_UINT, false },
    { "lun", "lun", K_UINT, false },
    { "serial", "serial", K_STR, false },
    { "wwn", "wwn", K_STR, false },
    { "write-cache", "write_cache", K_BOOL, false },
    { "removable", "removable", K_BOOL, false },
    { "physical-block-size", "physical_block_size", K_UINT, false },
    { "discard-granularity", "discard_granularity", K_UINT, false },
    { NULL },
};
static const struct key k_lun_detach[] = {
    { "controller", "controller", K_STR, true },
    { "target", "target", K_UINT, true },
    { "lun", "lun", K_UINT, true },
    { NULL },
};
static const struct key k_controller[] = { { "controller", "controller", K_STR, true }, { NULL } };
static const struct key k_stats[] = {
    { "controller", "controller", K_STR, false },
    { "target", "target", K_UINT, false },
    { "lun", "lun", K_UINT, false },
    { NULL },
};

static const struct key k_set_poll[] = { { "poll-us", "poll_us", K_UINT, true }, { NULL } };

static const struct command commands[] = {
    { NULL, "version", "version", k_none, print_version, "version" },
    { NULL, "methods", "rpc_methods", k_none, print_methods, "methods" },
    { "controller", "create", "controller_create", k_ctrl_create, print_nothing,
      "controller create name=NAME socket=PATH" },
    { "controller", "delete", "controller_delete", k_name, print_nothing,
      "controller delete name=NAME" },
    { "controller", "list", "controller_list", k_none, print_controller_list, "controller list" },
    { "bdev", "create", "bdev_create", k_bdev_create, print_nothing,
      "bdev create name=NAME type=ram|file|null|nvme|iscsi|rbd [size=SIZE] [path=PATH] "
      "[block-size=512|4096]\n"
      "              [readonly=on|off] [direct=on|off] [pci=DDDD:BB:DD.F] [ns=N]\n"
      "              [url=iscsi://HOST[:PORT]/IQN/LUN] [pool=P image=I [snap=S] [conf=PATH] "
      "[id=USER]]\n"
      "              [timeout=SECONDS]" },
    { "bdev", "delete", "bdev_delete", k_name, print_nothing, "bdev delete name=NAME" },
    { "bdev", "resize", "bdev_resize", k_bdev_resize, print_nothing,
      "bdev resize name=NAME [size=SIZE]" },
    { "bdev", "list", "bdev_list", k_none, print_bdev_list, "bdev list" },
    { "lun", "attach", "lun_attach", k_lun_attach, print_lun_attach,
      "lun attach controller=NAME bdev=NAME [target=T] [lun=L] [serial=S] [wwn=HEX16]\n"
      "              [write-cache=on|off] [removable=on|off] [physical-block-size=N]\n"
      "              [discard-granularity=N]" },
    { "lun", "detach", "lun_detach", k_lun_detach, print_nothing,
      "lun detach controller=NAME target=T lun=L" },
    { "lun", "list", "lun_list", k_controller, print_lun_list, "lun list controller=NAME" },
    { NULL, "stats", "stats", k_stats, print_stats, "stats [controller=NAME] [target=T lun=L]" },
    { "worker", "list", "worker_list", k_none, print_worker_list, "worker list" },
    { "worker", "set-poll", "worker_set_poll", k_set_poll, print_nothing,
      "worker set-poll poll-us=N" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [-s RPC_SOCKET] [--json] [--timeout SEC] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s\n", commands[i].synopsis);
    fprintf(f, "  call METHOD [JSON-PARAMS]\n\n"
               "The socket defaults to $VUS_RPC_SOCKET, else " DEFAULT_SOCKET ".\n"
               "Sizes take a K, M, G or T suffix; on/off values also take true/false, yes/no, "
               "1/0.\n");
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see " PROG " --help)\n");
    exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static json_t *convert(const struct key *k, const char *val)
{
    switch (k->type) {
    case K_STR:
        return json_string(val);
    case K_UINT:
        /* 19 digits always fit in json_int_t; more is out of any range we have. */
        if (!all_digits(val) || strlen(val) > 18)
            usage_error("%s: '%s' is not a number", k->cli, val);
        return json_integer(strtoll(val, NULL, 10));
    case K_BOOL:
        if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1"))
            return json_true();
        if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0"))
            return json_false();
        usage_error("%s: '%s' is not on or off", k->cli, val);
    case K_SIZE:
        /* Plain bytes go as a number; "64M" stays a string, which the daemon also accepts. */
        if (all_digits(val) && strlen(val) <= 18)
            return json_integer(strtoll(val, NULL, 10));
        return json_string(val);
    }
    return NULL;
}

/* key=value arguments -> params object, checked against the command's keys. */
static json_t *build_params(const struct command *c, int argc, char **argv)
{
    json_t *params = inflight.params = json_object();

    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const struct key *k;
        char name[64];
        json_t *v;

        if (!eq || eq == argv[i])
            usage_error("%s: expected key=value", argv[i]);
        if ((size_t)(eq - argv[i]) >= sizeof(name))
            usage_error("%.*s...: unknown key", 20, argv[i]);
        memcpy(name, argv[i], (size_t)(eq - argv[i]));
        name[eq - argv[i]] = 0;
        for (k = c->keys; k->cli && strcmp(k->cli, name); k++)
            ;
        if (!k->cli)
            usage_error("%s%s%s: unknown key '%s'", c->group ? c->group : "", c->group ? " " : "",
                        c->verb, name);
        if (json_object_get(params, k->json))
            usage_error("%s given twice", name);
        v = convert(k, eq + 1);
        if (!v)
            die("out of memory");
        json_object_set_new(params, k->json, v);
    }
    for (const struct key *k = c->keys; k->cli; k++)
        if (k->required && !json_object_get(params, k->json))
            usage_error("%s%s%s: %s= is required", c->group ? c->group : "", c->group ? " " : "",
                        c->verb, k->cli);
    return params;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd until the deadline; dies on timeout. */
static void wait_fd(int fd, short ev, int64_t deadline, const char *path)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = ev };
        int64_t left = deadline - now_ms();
        int r;

        if (left <= 0)
            die("no answer from %s within the timeout", path);
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return;
        if (r < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
    }
}

/* Send the request, return the response (one line of JSON). */
static json_t *rpc_call(const char *path, const char *method, json_t *params, int timeout_s)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    json_t *req = json_pack("{s:s, s:s, s:O, s:i}", "jsonrpc", "2.0", "method", method, "params",
                            params, "id", 1);
    char *text;
    size_t len, cap = 0, got = 0, sent = 0;
    json_error_t err;
    json_t *resp;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        die("socket path too long: %s", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    text = inflight.text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        die("out of memory");
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (e == EAGAIN) {
            /* The daemon's backlog is full: it is busy, not absent. */
            die("cannot connect to %s: the daemon is not accepting connections", path);
        }
        die("cannot connect to %s: %s%s", path, strerror(e),
            e == ENOENT || e == ECONNREFUSED ? " (is the daemon running with --rpc-socket?)"
            : e == EACCES                    ? " (the socket is for root only)"
                                             : "");
    }
    len = strlen(text);
    text[len++] = '\n'; /* replaces the NUL: the request is one line */
    while (sent < len) {
        ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            wait_fd(fd, POLLOUT, deadline, path);
            continue;
        }
        if (n < 0)
            break; /* the daemon may have answered and closed: read what it said */
        sent += (size_t)n;
    }
    free(text);
    inflight.text = NULL;
    for (;;) {
        ssize_t n;

        if (got == cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > MAX_RESPONSE)
                die("the answer from %s is too large", path);
            inflight.buf = realloc(inflight.buf, cap);
            if (!inflight.buf)
                die("out of memory");
        }
        n = recv(fd, inflight.buf + got, cap - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            wait_fd(fd, POLLIN, deadline, path);
            continue;
        }
        if (n < 0)
            die("reading from %s: %s", path, strerror(errno));
        if (n == 0)
            die("the daemon closed the connection without answering");
        got += (size_t)n;
        if (inflight.buf[got - 1] == '\n')
            break;
    }
    close(fd);
    resp = json_loadb(inflight.buf, got, 0, &err);
    free(inflight.buf);
    inflight.buf = NULL;
    if (!json_is_object(resp))
        die("the daemon's answer is not a JSON-RPC response: %s",
            resp ? "not an object" : err.text);
    return resp;
}

/* The result, or exit 1 with the daemon's message. */
static json_t *take_result(json_t *resp)
{
    json_t *e = json_object_get(resp, "error");
    json_t *r = json_object_get(resp, "result");

    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        die("%s", m ? m : "the daemon reported an error without a message");
    }
    if (!r)
        die("the daemon's answer has neither a result nor an error");
    return json_incref(r);
}

static const struct command *find_command(int argc, char **argv, int *used)
{
    bool group_known = false;

    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *c = &commands[i];
        if (!c->group && !strcmp(c->verb, argv[0])) {
            *used = 1;
            return c;
        }
        if (c->group && !strcmp(c->group, argv[0])) {
            group_known = true;
            if (argc > 1 && !strcmp(c->verb, argv[1])) {
                *used = 2;
                return c;
            }
        }
    }
    if (group_known) {
        if (argc < 2)
            usage_error("%s: missing subcommand", argv[0]);
        usage_error("%s: unknown subcommand '%s'", argv[0], argv[1]);
    }
    usage_error("unknown command '%s'", argv[0]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = getenv("VUS_RPC_SOCKET");
    const char *method;
    bool raw = false;
    int timeout = DEFAULT_TIMEOUT, opt, used;
    json_t *params, *resp, *result;
    void (*print)(json_t *) = print_json;

    if (!path || !*path)
        path = DEFAULT_SOCKET;
    opterr = 0;
    /* '+': options end at the command, so "bdev create name=-x" is never an option. */
    while ((opt = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            path = optarg;
            break;
        case 'j':
            raw = true;
            break;
        case 't':
            if (!all_digits(optarg) || strlen(optarg) > 6 || strtol(optarg, NULL, 10) == 0)
                usage_error("--timeout: '%s' is not a number of seconds (1..999999)", optarg);
            timeout = (int)strtol(optarg, NULL, 10); /* 1..999999: checked above */
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (optopt)
                usage_error("option -%c: unknown, or missing its argument", optopt);
            usage_error("option %s: unknown, or missing its argument", argv[optind - 1]);
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        usage_error("missing command");

    if (!strcmp(argv[0], "call")) {
        json_error_t err;
        if (argc < 2 || argc > 3)
            usage_error("call: expected METHOD [JSON-PARAMS]");
        method = argv[1];
        params = inflight.params = argc == 3 ? json_loads(argv[2], 0, &err) : json_object();
        if (!json_is_object(params))
            usage_error("call: params must be a JSON object%s%s", params ? "" : ": ",
                        params ? "" : err.text);
    } else {
        const struct command *c = find_command(argc, argv, &used);
        method = c->method;
        params = inflight.params = build_params(c, argc - used, argv + used);
        print = c->print;
    }
    resp = inflight.resp = rpc_call(path, method, params, timeout);
    json_decref(params);
    inflight.params = NULL;
    result = take_result(resp);
    json_decref(resp);
    (raw ? print_json : print)(result);
    json_decref(result);
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing the output: %s", strerror(errno));
    return 0;
}
