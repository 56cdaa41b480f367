/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon as a host's storage process: named block devices, controllers
 * (each with its socket and control thread), LUNs attaching one to the
 * other, all sharing one worker pool; and the persisted configuration.
 *
 * Threading: the functions below run on the RPC thread or, at start and
 * exit, on the main thread; m->lock serialises them.  A controller is
 * changed under its own lock (also held by its control thread while that
 * one works), and its workers are paused around anything they read without
 * a lock (the LUN map, a backend's size).  Lock order: m->lock, then
 * controllers' locks in list order.
 */
#ifndef VUS_DAEMON_MGMT_H
#define VUS_DAEMON_MGMT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bdev/bdev.h"
#include "daemon/controller.h"
#include "daemon/server.h"
#include "daemon/worker.h"

#define MGMT_NAME_MAX 64

struct mgmt_bdev {
    char name[MGMT_NAME_MAX + 1];
    struct bdev *bdev;
    const char *type; /* "ram", "file", ... */
    json_t *params;   /* bdev_create's params, for the configuration; NULL: not persisted */
    unsigned attached;
    struct mgmt_bdev *next;
};

struct mgmt_ctl {
    char name[MGMT_NAME_MAX + 1];
    char socket_path[108]; /* empty for an inherited fd */
    bool persist;          /* created by RPC: in the configuration */
    pthread_mutex_t lock;  /* see server.h */
    struct controller c;
    struct server srv;
    struct mgmt_lun *luns;    /* which named bdev each LUN is (the LUN map itself is c.targets) */
    struct mgmt_lun *zombies; /* detached, still in use by requests that never ended */
    struct mgmt_ctl *next;
};

struct mgmt_lun {
    unsigned target, lun;
    struct scsi_lun *unit; /* zombies only: the unmapped unit, freed with the controller */
    struct mgmt_bdev *bdev;
    json_t *params; /* lun_attach's, for the configuration; NULL: not persisted */
    struct mgmt_lun *next;
};

struct mgmt {
    pthread_mutex_t lock;
    struct worker *pool;
    unsigned npool;
    unsigned next_first_worker;
    struct mgmt_bdev *bdevs;
    struct mgmt_ctl *ctls;
    const char *config_path; /* NULL: nothing persisted */
    const char *state_dir;   /* APTPL reservation state, a file per bdev; NULL: APTPL refused */
    bool restoring;          /* applying the configuration: do not rewrite it */
    /*
     * Set at start: controllers created now listen but take no frontend
     * until mgmt_serve_held(), so a frontend that connects at once (QEMU
     * reconnecting to a restarted daemon) finds every LUN of the command
     * line and configuration there, none appearing a moment later.
     */
    bool hold_frontends;
};

/* Errors: -EEXIST, -ENOENT, -EBUSY, -EINVAL or another -errno, always with a reason in err. */

void mgmt_init(struct mgmt *m, struct worker *pool, unsigned npool);
/* Everything down: controllers (frontends dropped), then the pool's users, then the backends. */
void mgmt_shutdown(struct mgmt *m, void (*stop_pool)(void));

/* params: kept for the configuration (a reference is taken); NULL for command-line ones. */
int mgmt_bdev_add(struct mgmt *m, const char *name, const char *type, struct bdev *bdev,
                  json_t *params, char *err, size_t errlen);
int mgmt_bdev_delete(struct mgmt *m, const char *name, char *err, size_t errlen);
/* have_size false: re-read the backing store's size.  *bytes: the size now. */
int mgmt_bdev_resize(struct mgmt *m, const char *name, bool have_size, uint64_t size,
                     uint64_t *bytes, char *err, size_t errlen);
struct mgmt_bdev *mgmt_bdev_find(struct mgmt *m, const char *name);

/* listen_fd >= 0: serve that socket (socket_path may then be a label); else listen on socket_path.
 */
int mgmt_ctl_create(struct mgmt *m, const char *name, const char *socket_path, int listen_fd,
                    bool persist, char *err, size_t errlen);
/* Start serving the controllers created while m->hold_frontends was set, and clear it. */
int mgmt_serve_held(struct mgmt *m, char *err, size_t errlen);
int mgmt_ctl_delete(struct mgmt *m, const char *name, char *err, size_t errlen);
struct mgmt_ctl *mgmt_ctl_find(struct mgmt *m, const char *name);

struct mgmt_lun_spec {
    int target; /* -1: 0 */
    int lun;    /* -1: lowest free */
    const char *serial;
    uint64_t wwn;         /* 0: derive */
    bool write_cache_off; /* scsi_lun_config.write_cache_off */
    bool removable;       /* ... and the other LUN options */
    uint32_t physical_block_size;
    uint32_t discard_granularity;
    json_t *params; /* lun_attach's params for the configuration, or NULL */
};
int mgmt_lun_attach(struct mgmt *m, const char *ctl, const char *bdev,
                    const struct mgmt_lun_spec *spec, unsigned *target, unsigned *lun, char *err,
                    size_t errlen);
int mgmt_lun_detach(struct mgmt *m, const char *ctl, unsigned target, unsigned lun, char *err,
                    size_t errlen);

/* SIGUSR1 for every controller. */
void mgmt_request_all(struct mgmt *m, unsigned server_req);
/* SIGHUP: every block device's size read again; changes reach the LUNs as in bdev_resize. */
void mgmt_rescan(struct mgmt *m);

/* The persisted part of the state, as the configuration file holds it. */
json_t *mgmt_config(struct mgmt *m);
/* Write it to m->config_path (if any).  0 or -errno with a logged reason. */
int mgmt_save(struct mgmt *m);

#endif
