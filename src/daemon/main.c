/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-scsi: options, the worker pool, the command-line controller,
 * the configuration and the RPC socket; then the main thread only waits for
 * signals.  Each controller runs on a control thread of its own (server.c),
 * RPC on the RPC server's thread, I/O on the workers.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "config/config_file.h"
#include "daemon/controller.h"
#include "daemon/mgmt.h"
#include "daemon/options.h"
#include "daemon/rpc_methods.h"
#include "daemon/server.h"
#include "rpc/rpc_dispatch.h"
#include "rpc/rpc_server.h"
#include "util/log.h"

static struct options opts;
static struct mgmt mgmt;
static struct worker pool[OPT_MAX_THREADS];
static unsigned npool;

/* The shared worker pool: every controller's request queues are served here. */
static int pool_start(unsigned n, uint64_t poll_max_ns)
{
    for (npool = 0; npool < n; npool++) {
        int ret = worker_start(&pool[npool], npool, poll_max_ns);

        if (ret < 0)
            return ret;
    }
    return 0;
}

/* --cpus: worker i on the i-th listed CPU, wrapping around. */
static void pool_pin(const struct options *o)
{
    for (unsigned i = 0; o->ncpus && i < npool; i++) {
        cpu_set_t set;
        int rc;

        CPU_ZERO(&set);
        CPU_SET(o->cpus[i % o->ncpus], &set);
        rc = pthread_setaffinity_np(pool[i].thread, sizeof(set), &set);
        if (rc)
            LOG_WARN("worker %u: cannot run it on CPU %u: %s", i, o->cpus[i % o->ncpus],
                     strerror(rc));
    }
}

static void pool_stop(void)
{
    while (npool > 0)
        worker_stop(&pool[--npool]);
}

static bool is_listening_socket(int fd)
{
    int val = 0;
    socklen_t len = sizeof(val);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) == 0 && val;
}

/* The name of the block device of --lun l ("NAME.target.lun"). */
static void cli_bdev_name(const struct options *o, const struct opt_lun *l, char *buf, size_t len)
{
    snprintf(buf, len, "%.40s.%u.%u", o->name, l->scsi.target, l->scsi.lun);
}

/*
 * The --socket-path/--fd controller and its --lun LUNs.  Not part of the
 * configuration.  Every block device is opened first (a remote one logs in
 * and probes, which takes a while): a bad --lun fails before anything
 * listens.  The controller takes its first frontend only once every LUN is
 * attached (mgmt.hold_frontends).
 */
static int start_cli_controller(const struct options *o)
{
    static const char *const type_names[] = {
        [BDEV_TYPE_RAM] = "ram",   [BDEV_TYPE_FILE] = "file",   [BDEV_TYPE_NULL] = "null",
        [BDEV_TYPE_NVME] = "nvme", [BDEV_TYPE_ISCSI] = "iscsi", [BDEV_TYPE_RBD] = "rbd"
    };
    char err[1024], label[32], bname[MGMT_NAME_MAX + 1], record[PATH_MAX];
    int ret;

    for (unsigned i = 0; i < o->nluns; i++) {
        const struct opt_lun *l = &o->luns[i];
        struct bdev_config cfg = l->bdev;
        struct bdev *bdev = NULL;

        /* A backend with queues (nvme) or sessions (iscsi) of its own gives each worker one. */
        cfg.nr_queues = o->threads;
        cli_bdev_name(o, l, bname, sizeof(bname));
        if (cfg.type == BDEV_TYPE_RBD && o->state_dir) {
            snprintf(record, sizeof(record), "%s/rbd-%s", o->state_dir, bname);
            cfg.lock_record = record;
        }
        ret = bdev_open(&cfg, &bdev, err, sizeof(err));
        if (ret == 0) {
            ret = mgmt_bdev_add(&mgmt, bname, type_names[cfg.type], bdev, NULL, err, sizeof(err));
            if (ret < 0)
                bdev_close(bdev);
        }
        if (ret < 0) {
            fprintf(stderr, "vhost-user-scsi: --lun %u:%u: %s\n", l->scsi.target, l->scsi.lun, err);
            return ret;
        }
    }
    snprintf(label, sizeof(label), "fd %d", o->listen_fd);
    ret = mgmt_ctl_create(&mgmt, o->name, o->socket_path ? o->socket_path : label, o->listen_fd,
                          false, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "vhost-user-scsi: %s\n", err);
        return ret;
    }
    for (unsigned i = 0; i < o->nluns; i++) {
        const struct opt_lun *l = &o->luns[i];
        struct mgmt_lun_spec spec = { .target = (int)l->scsi.target,
                                      .lun = (int)l->scsi.lun,
                                      .serial = l->scsi.serial[0] ? l->scsi.serial : NULL,
                                      .wwn = l->scsi.wwn,
                                      .write_cache_off = l->scsi.write_cache_off,
                                      .removable = l->scsi.removable,
                                      .physical_block_size = l->scsi.physical_block_size,
                                      .discard_granularity = l->scsi.discard_granularity };
        const struct bdev *bdev;
        unsigned t, n;

        cli_bdev_name(o, l, bname, sizeof(bname));
        ret = mgmt_lun_attach(&mgmt, o->name, bname, &spec, &t, &n, err, sizeof(err));
        if (ret < 0) {
            fprintf(stderr, "vhost-user-scsi: --lun %u:%u: %s\n", l->scsi.target, l->scsi.lun, err);
            return ret;
        }
        bdev = mgmt_bdev_find(&mgmt, bname)->bdev;
        LOG_INFO("LUN %u:%u: %s, %llu blocks of %u bytes%s", t, n, bdev->desc,
                 (unsigned long long)(bdev->size / bdev->block_size), bdev->block_size,
                 bdev->readonly ? ", read-only" : "");
    }
    return 0;
}

/*
 * Bring back what the configuration file holds, each item through the same
 * RPC method that created it; one that fails is reported and skipped, the
 * rest comes up.  Returns -1 only when the file itself cannot be used.
 */
static int restore_config(const char *path, const struct rpc_dispatcher *d)
{
    static const char *const method[] = { [CONFIG_BDEVS] = "bdev_create",
                                          [CONFIG_CONTROLLERS] = "controller_create",
                                          [CONFIG_LUNS] = "lun_attach" };
    struct config_iter it;
    char err[1024];
    unsigned ok = 0, failed = 0;
    json_t *cfg;

    if (config_remove_stale(path, err, sizeof(err)) < 0)
        LOG_WARN("config %s: %s", path, err);
    cfg = config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "vhost-user-scsi: %s\n", err);
        return -1;
    }
    mgmt.restoring = true;
    config_iter_init(&it, cfg);
    while (config_iter_next(&it)) {
        json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id", 1, "method",
                                method[it.section], "params", it.params);
        json_t *resp = req ? rpc_dispatch(d, req) : NULL;
        json_t *error = resp ? json_object_get(resp, "error") : NULL;

        if (!resp || error) {
            const char *msg = json_string_value(json_object_get(error, "message"));

            config_item_error(err, sizeof(err), path, &it, msg ? msg : "out of memory");
            LOG_ERR("%s", err);
            failed++;
        } else {
            ok++;
        }
        json_decref(resp);
        json_decref(req);
    }
    mgmt.restoring = false;
    json_decref(cfg);
    LOG_INFO("config %s: %u item(s) restored, %u failed", path, ok, failed);
    return 0;
}

static void save_after_rpc(void *opaque)
{
    mgmt_save(opaque);
}

/* The main thread's whole job once everything is up. */
static void wait_for_signals(int signal_fd)
{
    for (;;) {
        struct pollfd pfd = { .fd = signal_fd, .events = POLLIN };
        struct signalfd_siginfo si;

        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return;
        while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo == SIGHUP) {
                mgmt_rescan(&mgmt);
            } else if (si.ssi_signo == SIGUSR1) {
                mgmt_request_all(&mgmt, SERVER_REQ_DUMP);
            } else {
                LOG_INFO("stopping");
                return;
            }
        }
    }
}

int main(int argc, char **argv)
{
    const struct rpc_method *methods;
    struct rpc_server *rpc = NULL;
    struct rpc_dispatcher d;
    char err[1024];
    size_t nmethods;
    int signal_fd, ret;

    ret = options_parse(argc, argv, &opts, stdout, err, sizeof(err));
    if (ret < 0) {
        /* One line: scripts and service managers show the last line of stderr. */
        fprintf(stderr, "vhost-user-scsi: %s (see --help)\n", err);
        return 2;
    }
    if (ret > 0)
        return 0;
    log_set_level(opts.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    if (opts.mask_features || opts.mask_protocol_features) {
        LOG_WARN("testing: features 0x%llx and protocol features 0x%llx are withheld",
                 (unsigned long long)opts.mask_features,
                 (unsigned long long)opts.mask_protocol_features);
        controller_mask_features(opts.mask_features, opts.mask_protocol_features);
    }
    if (opts.listen_fd >= 0 && !is_listening_socket(opts.listen_fd)) {
        fprintf(stderr, "vhost-user-scsi: --fd %d is not a listening socket\n", opts.listen_fd);
        return 2;
    }
    if (opts.state_dir) {
        struct stat sb;

        if (stat(opts.state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "vhost-user-scsi: --state-dir %s is not a directory\n", opts.state_dir);
            return 2;
        }
    }

    /* Before any thread: they all inherit the blocked signals. */
    signal_fd = server_block_signals();
    if (signal_fd < 0)
        return 1;
    ret = pool_start(opts.threads, (uint64_t)opts.poll_us * 1000);
    if (ret < 0) {
        fprintf(stderr, "vhost-user-scsi: cannot start %u worker threads: %s\n", opts.threads,
                strerror(-ret));
        pool_stop();
        return 1;
    }
    pool_pin(&opts);
    mgmt_init(&mgmt, pool, npool);
    mgmt.config_path = opts.config;
    mgmt.state_dir = opts.state_dir;
    mgmt.hold_frontends = true;
    methods = rpc_methods_table(&nmethods);
    d = (struct rpc_dispatcher){ .methods = methods, .nmethods = nmethods, .opaque = &mgmt };

    if ((opts.socket_path || opts.listen_fd >= 0) && start_cli_controller(&opts) < 0) {
        mgmt_shutdown(&mgmt, pool_stop);
        return 1;
    }
    if (opts.config && restore_config(opts.config, &d) < 0) {
        mgmt_shutdown(&mgmt, pool_stop);
        return 1;
    }
    if (mgmt_serve_held(&mgmt, err, sizeof(err)) < 0) {
        fprintf(stderr, "vhost-user-scsi: %s\n", err);
        mgmt_shutdown(&mgmt, pool_stop);
        return 1;
    }
    if (opts.rpc_socket) {
        struct rpc_server_opts ro = { .methods = methods,
                                      .nmethods = nmethods,
                                      .opaque = &mgmt,
                                      .after_mutation = save_after_rpc,
                                      .mutation_opaque = &mgmt };

        rpc = rpc_server_create(opts.rpc_socket, &ro, err, sizeof(err));
        if (!rpc || rpc_server_start(rpc) < 0) {
            fprintf(stderr, "vhost-user-scsi: --rpc-socket: %s\n",
                    rpc ? "cannot start its thread" : err);
            rpc_server_destroy(rpc);
            mgmt_shutdown(&mgmt, pool_stop);
            return 1;
        }
        LOG_INFO("RPC on %s", opts.rpc_socket);
    }

    wait_for_signals(signal_fd);
    rpc_server_destroy(rpc);
    mgmt_shutdown(&mgmt, pool_stop);
    close(signal_fd);
    return 0;
}
