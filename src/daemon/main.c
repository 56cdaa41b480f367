/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-scsi: serve a virtio-scsi controller to a vhost-user frontend.
 *
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM) or an informational
 * option, 1 when set-up fails (a backing file cannot be opened, the socket
 * cannot be bound), 2 for a bad command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "daemon/controller.h"
#include "daemon/options.h"
#include "daemon/server.h"
#include "scsi/scsi.h"
#include "util/log.h"

static struct options opts;
static struct controller ctl;

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

static void pool_stop(void)
{
    while (npool > 0)
        worker_stop(&pool[--npool]);
}

static int open_luns(struct controller *c, const struct options *o)
{
    char err[1024];

    for (unsigned i = 0; i < o->nluns; i++) {
        const struct opt_lun *l = &o->luns[i];
        struct bdev_config cfg = l->bdev;
        struct bdev *bdev;
        int ret;

        /* A backend with queues of its own (nvme) gives each worker one. */
        cfg.nr_queues = o->threads;
        ret = bdev_open(&cfg, &bdev, err, sizeof(err));

        if (ret < 0) {
            fprintf(stderr, "vhost-user-scsi: --lun %u:%u: %s\n", l->scsi.target, l->scsi.lun, err);
            return ret;
        }
        ret = scsi_lun_create(&c->targets, &l->scsi, bdev, err, sizeof(err));
        if (ret < 0) {
            fprintf(stderr, "vhost-user-scsi: --lun %u:%u: %s\n", l->scsi.target, l->scsi.lun, err);
            return ret;
        }
        LOG_INFO("LUN %u:%u: %s, %llu blocks of %u bytes%s", l->scsi.target, l->scsi.lun,
                 bdev->desc, (unsigned long long)(bdev->size / bdev->block_size), bdev->block_size,
                 bdev->readonly ? ", read-only" : "");
    }
    return 0;
}

static bool is_listening_socket(int fd)
{
    int val = 0;
    socklen_t len = sizeof(val);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) == 0 && val;
}

int main(int argc, char **argv)
{
    char err[512];
    int listen_fd = -1, ret;

    ret = options_parse(argc, argv, &opts, stdout, err, sizeof(err));
    if (ret < 0) {
        /* One line: scripts and service managers show the last line of stderr. */
        fprintf(stderr, "vhost-user-scsi: %s (see --help)\n", err);
        return 2;
    }
    if (ret > 0)
        return 0;
    log_set_level(opts.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

    if (opts.listen_fd >= 0) {
        if (!is_listening_socket(opts.listen_fd)) {
            fprintf(stderr, "vhost-user-scsi: --fd %d is not a listening socket\n", opts.listen_fd);
            return 2;
        }
        listen_fd = opts.listen_fd;
    }

    if (open_luns(&ctl, &opts) < 0) {
        scsi_target_set_destroy(&ctl.targets);
        return 1;
    }
    ret = pool_start(opts.threads, (uint64_t)opts.poll_us * 1000);
    if (ret == 0)
        ret = controller_start(&ctl, pool, npool, 0);
    if (ret < 0) {
        fprintf(stderr, "vhost-user-scsi: cannot start %u worker threads: %s\n", opts.threads,
                strerror(-ret));
        scsi_target_set_destroy(&ctl.targets);
        pool_stop();
        return 1;
    }
    if (opts.listen_fd < 0) {
        listen_fd = server_listen(opts.socket_path, err, sizeof(err));
        if (listen_fd < 0) {
            fprintf(stderr, "vhost-user-scsi: %s\n", err);
            controller_detach(&ctl);
            pool_stop();
            controller_stop(&ctl);
            return 1;
        }
        LOG_INFO("listening on %s", opts.socket_path);
    }

    char name[32];
    snprintf(name, sizeof(name), "fd %d", listen_fd);
    ret = server_run(&ctl, listen_fd, opts.socket_path ? opts.socket_path : name);
    /* The workers go before the backends: an NVMe LUN's queues are sources in their loops. */
    controller_detach(&ctl);
    pool_stop();
    controller_stop(&ctl);
    close(listen_fd);
    if (opts.socket_path)
        unlink(opts.socket_path);
    return ret < 0 ? 1 : 0;
}
