/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in daemon for the CLI test: the real RPC server library with the
 * management methods stubbed.  Every method validates its params the way
 * the daemon's will (rpc_params) and answers canned data, so the test sees
 * both what the CLI sends and how it prints.  A little state (the bdev
 * names) lets "not found" and "exists" errors be tested.
 *
 *   stub_server SOCKET_PATH      serves until SIGTERM/SIGINT
 *
 * Threads: main waits for a signal; handlers run on the RPC server thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_params.h"
#include "stats/lun_stats.h"
#include "rpc/rpc_server.h"

#define MAX_BDEVS 16

static char bdevs[MAX_BDEVS][65] = { "disk0" };

static int find_bdev(const char *name)
{
    for (int i = 0; i < MAX_BDEVS; i++)
        if (bdevs[i][0] && !strcmp(bdevs[i], name))
            return i;
    return -1;
}

static void m_version(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    if (rpc_params_parse(ctx, params, NULL, 0, NULL))
        rpc_result(ctx,
                   json_pack("{s:s, s:s}", "version", "0.1.0-stub", "name", "vhost-user-scsi"));
}

struct ctrl_args {
    const char *name, *socket_path;
};

static const struct rpc_param ctrl_create_p[] = {
    RPC_PARAM_STR(struct ctrl_args, name, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_STR(struct ctrl_args, socket_path, true, 1, 107, 0),
};

static void m_controller_create(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct ctrl_args a = { 0 };

    if (!rpc_params_parse(ctx, params, ctrl_create_p, RPC_NPARAMS(ctrl_create_p), &a))
        return;
    if (!strcmp(a.name, "vm0")) {
        rpc_error(ctx, RPC_ERR_EXISTS, "controller vm0 already exists");
        return;
    }
    rpc_result(ctx, json_true());
}

static const struct rpc_param name_p[] = {
    RPC_PARAM_STR(struct ctrl_args, name, true, 1, 64, RPC_PF_IDENT),
};

static void m_controller_delete(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct ctrl_args a = { 0 };

    if (!rpc_params_parse(ctx, params, name_p, RPC_NPARAMS(name_p), &a))
        return;
    if (strcmp(a.name, "vm0")) {
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no controller named %s", a.name);
        return;
    }
    rpc_result(ctx, json_true());
}

static void m_controller_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    rpc_result(ctx, json_pack("[{s:s, s:s, s:b, s:[{s:i, s:i, s:s}, {s:i, s:i, s:s}]},"
                              " {s:s, s:s, s:b, s:[]}]",
                              "name", "vm0", "socket_path", "/run/vus/vm0.sock", "connected", 1,
                              "luns", "target", 0, "lun", 0, "bdev", "disk0", "target", 0, "lun", 1,
                              "bdev", "scratch", "name", "vm-long-name", "socket_path",
                              "/run/vus/vm-long-name.sock", "connected", 0, "luns"));
}

struct bdev_args {
    const char *name, *path, *pci;
    int type;
    uint64_t size, block_size, ns;
    bool readonly, direct;
};

static const char *const bdev_types[] = { "ram", "file", "null", "nvme", NULL };

static const struct rpc_param bdev_create_p[] = {
    RPC_PARAM_STR(struct bdev_args, name, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_ENUM(struct bdev_args, type, true, bdev_types),
    RPC_PARAM_SIZE(struct bdev_args, size, false, 512, 0, 512),
    RPC_PARAM_STR(struct bdev_args, path, false, 1, 4095, 0),
    RPC_PARAM_UINT(struct bdev_args, block_size, false, 512, 4096),
    RPC_PARAM_BOOL(struct bdev_args, readonly, false),
    RPC_PARAM_BOOL(struct bdev_args, direct, false),
    RPC_PARAM_STR(struct bdev_args, pci, false, 1, 32, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct bdev_args, ns, false, 1, 0xffffffff),
};

static void m_bdev_create(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { 0 };

    if (!rpc_params_parse(ctx, params, bdev_create_p, RPC_NPARAMS(bdev_create_p), &a))
        return;
    if (find_bdev(a.name) >= 0) {
        rpc_error(ctx, RPC_ERR_EXISTS, "bdev %s already exists", a.name);
        return;
    }
    if ((a.type == 0 || a.type == 2) && !rpc_param_given(params, "size")) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "size: required for type %s", bdev_types[a.type]);
        return;
    }
    for (int i = 0; i < MAX_BDEVS; i++) {
        if (!bdevs[i][0]) {
            snprintf(bdevs[i], sizeof(bdevs[i]), "%s", a.name);
            rpc_result(ctx, json_true());
            return;
        }
    }
    rpc_error(ctx, RPC_ERR_BUSY, "too many bdevs");
}

static void m_bdev_delete(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { 0 };
    int i;

    if (!rpc_params_parse(ctx, params, bdev_create_p, 1, &a))
        return;
    i = find_bdev(a.name);
    if (i < 0) {
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no bdev named %s", a.name);
        return;
    }
    if (i == 0) {
        rpc_error(ctx, RPC_ERR_BUSY, "bdev disk0 is attached to 1 LUN; detach it first");
        return;
    }
    bdevs[i][0] = 0;
    rpc_result(ctx, json_true());
}

static const struct rpc_param bdev_resize_p[] = {
    RPC_PARAM_STR(struct bdev_args, name, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_SIZE(struct bdev_args, size, false, 512, 0, 512),
};

static void m_bdev_resize(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { 0 };

    if (!rpc_params_parse(ctx, params, bdev_resize_p, RPC_NPARAMS(bdev_resize_p), &a))
        return;
    if (find_bdev(a.name) < 0)
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no bdev named %s", a.name);
    else
        rpc_result(ctx, json_true());
}

static void m_bdev_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    rpc_result(ctx, json_pack("[{s:s, s:s, s:I, s:i, s:b, s:s, s:i},"
                              " {s:s, s:s, s:I, s:i, s:b, s:s, s:i}]",
                              "name", "disk0", "type", "file", "size", (json_int_t)1610612736,
                              "block_size", 512, "readonly", 0, "desc", "/var/lib/img/vm0.img",
                              "attached", 1, "name", "scratch", "type", "ram", "size",
                              (json_int_t)67108864, "block_size", 4096, "readonly", 1, "desc",
                              "64 MiB of RAM", "attached", 0));
}

struct lun_args {
    const char *controller, *bdev, *serial, *wwn;
    uint64_t target, lun;
};

static const struct rpc_param lun_attach_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_STR(struct lun_args, bdev, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, false, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, false, 0, 255),
    RPC_PARAM_STR(struct lun_args, serial, false, 1, 36, 0),
    RPC_PARAM_STR(struct lun_args, wwn, false, 16, 16, 0),
};

static void m_lun_attach(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { .lun = 2 };

    if (!rpc_params_parse(ctx, params, lun_attach_p, RPC_NPARAMS(lun_attach_p), &a))
        return;
    if (find_bdev(a.bdev) < 0) {
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no bdev named %s", a.bdev);
        return;
    }
    rpc_result(ctx,
               json_pack("{s:I, s:I}", "target", (json_int_t)a.target, "lun", (json_int_t)a.lun));
}

static const struct rpc_param lun_detach_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, true, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, true, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, true, 0, 255),
};

static void m_lun_detach(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };

    if (rpc_params_parse(ctx, params, lun_detach_p, RPC_NPARAMS(lun_detach_p), &a))
        rpc_result(ctx, json_true());
}

static void m_lun_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };

    if (!rpc_params_parse(ctx, params, lun_attach_p, 1, &a))
        return;
    rpc_result(ctx, json_pack("[{s:i, s:i, s:s}, {s:i, s:i, s:s}]", "target", 0, "lun", 0, "bdev",
                              "disk0", "target", 0, "lun", 1, "bdev", "scratch"));
}

static const struct rpc_param stats_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, false, 1, 64, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, false, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, false, 0, 255),
};

/* One LUN's statistics as the daemon produces them (src/stats), from known commands. */
static json_t *lun_json(unsigned t, unsigned l, const char *bdev, bool busy)
{
    struct lun_stats *st = lun_stats_new(1);
    struct lun_stats_totals tot;
    json_t *j;

    if (busy) {
        /* Reads: 48 at 50us, 45 at 100us, 5 at 900us, 2 medium errors. */
        for (unsigned i = 0; i < 100; i++) {
            uint64_t us = i < 48 ? 50 : i < 93 ? 100 : i < 98 ? 900 : 50;
            bool bad = i >= 98;

            lun_stats_complete(st, 0, LUN_OP_READ, bad ? 0 : 4096, us * 1000,
                               bad ? LUN_STATUS_CHECK_CONDITION : LUN_STATUS_GOOD, bad ? 3 : 0);
        }
        /* Writes: 100 of 1 MiB at 1.5ms, 1 that took 20 s (the overflow bucket). */
        for (unsigned i = 0; i < 101; i++)
            lun_stats_complete(st, 0, LUN_OP_WRITE, i < 100 ? 1 << 20 : 0,
                               i < 100 ? 1500000ull : 20000000000ull, LUN_STATUS_GOOD, 0);
        for (unsigned i = 0; i < 3; i++)
            lun_stats_complete(st, 0, LUN_OP_UNMAP, 0, 10000, LUN_STATUS_GOOD, 0);
        for (unsigned i = 0; i < 7; i++)
            lun_stats_complete(st, 0, LUN_OP_FLUSH, 0, 10000, LUN_STATUS_GOOD, 0);
        lun_stats_tmf(st, lun_stats_control_slot(st), LUN_TMF_ABORT_TASK);
    }
    lun_stats_read(st, &tot);
    lun_stats_free(st);
    j = lun_stats_to_json(&tot);
    json_object_set_new(j, "target", json_integer(t));
    json_object_set_new(j, "lun", json_integer(l));
    json_object_set_new(j, "bdev", json_string(bdev));
    return j;
}

static void m_stats(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };

    if (!rpc_params_parse(ctx, params, stats_p, RPC_NPARAMS(stats_p), &a))
        return;
    rpc_result(ctx, json_pack("{s:[{s:s, s:[o, o]}]}", "controllers", "name", "vm0", "luns",
                              lun_json(0, 0, "disk0", true), lun_json(0, 1, "scratch", false)));
}

static void m_worker_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    (void)opaque;
    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    rpc_result(ctx,
               json_pack("[{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, {s:i, s:i, s:i, s:i, s:i, "
                         "s:i, s:i}]",
                         "id", 0, "poll_max_ns", 32000, "poll_window_ns", 32000, "sleep_cost_ns",
                         102750, "sleeps", 12, "polls_caught", 3456, "polls_missed", 7, "id", 1,
                         "poll_max_ns", 32000, "poll_window_ns", 0, "sleep_cost_ns", 98400,
                         "sleeps", 5000, "polls_caught", 0, "polls_missed", 40));
}

struct poll_args {
    uint64_t poll_us;
};

static const struct rpc_param set_poll_p[] = {
    RPC_PARAM_UINT(struct poll_args, poll_us, true, 0, 1000),
};

static void m_worker_set_poll(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct poll_args a = { 0 };

    (void)opaque;
    if (rpc_params_parse(ctx, params, set_poll_p, RPC_NPARAMS(set_poll_p), &a))
        rpc_result(ctx, json_object());
}

static const struct rpc_method methods[] = {
    { "version", m_version, "the daemon's version", false },
    { "controller_create", m_controller_create, "create a controller", true },
    { "controller_delete", m_controller_delete, "delete a controller", true },
    { "controller_list", m_controller_list, "list controllers", false },
    { "bdev_create", m_bdev_create, "create a block device", true },
    { "bdev_delete", m_bdev_delete, "delete a block device", true },
    { "bdev_resize", m_bdev_resize, "resize a block device", true },
    { "bdev_list", m_bdev_list, "list block devices", false },
    { "lun_attach", m_lun_attach, "attach a bdev as a LUN", true },
    { "lun_detach", m_lun_detach, "detach a LUN", true },
    { "lun_list", m_lun_list, "list a controller's LUNs", false },
    { "stats", m_stats, "I/O statistics", false },
    { "worker_list", m_worker_list, "the workers", false },
    { "worker_set_poll", m_worker_set_poll, "set the poll window", false },
};

int main(int argc, char **argv)
{
    struct rpc_server_opts o = {
        .methods = methods,
        .nmethods = sizeof(methods) / sizeof(methods[0]),
    };
    struct rpc_server *s;
    char err[256];
    sigset_t set;
    int sig;

    if (argc != 2) {
        fprintf(stderr, "usage: stub_server SOCKET_PATH\n");
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    s = rpc_server_create(argv[1], &o, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "stub_server: %s\n", err);
        return 1;
    }
    if (rpc_server_start(s) < 0) {
        fprintf(stderr, "stub_server: cannot start the server thread\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    sigwait(&set, &sig);
    rpc_server_destroy(s);
    return 0;
}
