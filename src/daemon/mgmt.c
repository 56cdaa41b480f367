/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/mgmt.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_file.h"
#include "util/log.h"
#include "virtio_scsi/vscsi_tmf.h"
#include "virtio_scsi/virtio_scsi_proto.h"

/* The parameter-change reason of a capacity change: ASC 2Ah, ASCQ 09h (virtio spec 5.6.6.3). */
#define PARAM_CHANGE_CAPACITY (0x2au | 0x09u << 8)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

void mgmt_init(struct mgmt *m, struct worker *pool, unsigned npool)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->pool = pool;
    m->npool = npool;
}

struct mgmt_bdev *mgmt_bdev_find(struct mgmt *m, const char *name)
{
    for (struct mgmt_bdev *b = m->bdevs; b; b = b->next)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

struct mgmt_ctl *mgmt_ctl_find(struct mgmt *m, const char *name)
{
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int mgmt_bdev_add(struct mgmt *m, const char *name, const char *type, struct bdev *bdev,
                  json_t *params, char *err, size_t errlen)
{
    struct mgmt_bdev *b;

    pthread_mutex_lock(&m->lock);
    if (mgmt_bdev_find(m, name)) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -EEXIST, "block device '%s' already exists", name);
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOMEM, "out of memory");
    }
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->bdev = bdev;
    b->type = type;
    b->params = params ? json_incref(params) : NULL;
    b->next = m->bdevs;
    m->bdevs = b;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int mgmt_bdev_delete(struct mgmt *m, const char *name, char *err, size_t errlen)
{
    struct mgmt_bdev **pp, *b;

    pthread_mutex_lock(&m->lock);
    for (pp = &m->bdevs; *pp && strcmp((*pp)->name, name) != 0; pp = &(*pp)->next)
        ;
    b = *pp;
    if (!b) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, "no block device '%s'", name);
    }
    if (b->attached) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -EBUSY, "block device '%s' is attached to %u LUN(s): detach first",
                    name, b->attached);
    }
    *pp = b->next;
    pthread_mutex_unlock(&m->lock);
    bdev_close(b->bdev);
    json_decref(b->params);
    free(b);
    return 0;
}

/* Every controller with a LUN on b, locked and paused (or unpaused and unlocked). */
static void hold_users(struct mgmt *m, struct mgmt_bdev *b, bool hold)
{
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next) {
        bool uses = false;

        for (struct mgmt_lun *l = c->luns; l && !uses; l = l->next)
            uses = l->bdev == b;
        if (!uses)
            continue;
        if (hold) {
            pthread_mutex_lock(&c->lock);
            controller_pause(&c->c);
        } else {
            controller_resume(&c->c);
            pthread_mutex_unlock(&c->lock);
        }
    }
}

/* With m->lock held. */
static int resize_locked(struct mgmt *m, struct mgmt_bdev *b, bool have_size, uint64_t size,
                         char *err, size_t errlen)
{
    uint64_t now = 0;
    int rc = 0;

    if (have_size && (size == 0 || size % b->bdev->block_size))
        return fail(err, errlen, -EINVAL, "size: must be a non-zero multiple of the block size %u",
                    b->bdev->block_size);
    if (!have_size && !b->bdev->ops->current_size)
        return fail(err, errlen, -EINVAL, "size: required for a %s block device", b->type);
    if (have_size && !b->bdev->ops->resize)
        return fail(err, errlen, -ENOTSUP,
                    "block device '%s' cannot be resized here (%s): resize it outside, then call "
                    "bdev_resize without size",
                    b->name, b->bdev->desc);
    if (!have_size) {
        rc = b->bdev->ops->current_size(b->bdev, &now);
        if (rc < 0)
            return fail(err, errlen, rc, "reading the size of %s: %s", b->bdev->desc,
                        strerror(-rc));
        if (now < b->bdev->block_size)
            return fail(err, errlen, -EINVAL, "%s is now smaller than one block", b->bdev->desc);
        if (now == b->bdev->size)
            return 0;
    }
    /* Workers of every controller using it read the size unlocked: all of them stop first. */
    hold_users(m, b, true);
    if (have_size) {
        rc = b->bdev->ops->resize(b->bdev, size);
        now = size;
        if (rc < 0)
            fail(err, errlen, rc, "resizing %s: %s", b->bdev->desc, strerror(-rc));
    }
    if (rc == 0 && now != b->bdev->size) {
        LOG_INFO("block device %s: %llu -> %llu bytes", b->name, (unsigned long long)b->bdev->size,
                 (unsigned long long)now);
        b->bdev->size = now;
        for (struct mgmt_ctl *c = m->ctls; c; c = c->next)
            for (struct mgmt_lun *l = c->luns; l; l = l->next)
                if (l->bdev == b)
                    scsi_lun_set_capacity(scsi_lookup(&c->c.targets, l->target, l->lun), now);
    } else {
        rc = rc < 0 ? rc : 1; /* nothing changed: no event */
    }
    hold_users(m, b, false);
    if (rc == 1)
        return 0;
    /* Events after the resume: the guest may ask at once. */
    if (rc == 0)
        for (struct mgmt_ctl *c = m->ctls; c; c = c->next)
            for (struct mgmt_lun *l = c->luns; l; l = l->next)
                if (l->bdev == b) {
                    pthread_mutex_lock(&c->lock);
                    controller_post_event(&c->c, VIRTIO_SCSI_T_PARAM_CHANGE, l->target, l->lun,
                                          PARAM_CHANGE_CAPACITY);
                    pthread_mutex_unlock(&c->lock);
                }
    return rc;
}

int mgmt_bdev_resize(struct mgmt *m, const char *name, bool have_size, uint64_t size,
                     uint64_t *bytes, char *err, size_t errlen)
{
    struct mgmt_bdev *b;
    int rc;

    pthread_mutex_lock(&m->lock);
    b = mgmt_bdev_find(m, name);
    if (!b) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, "no block device '%s'", name);
    }
    rc = resize_locked(m, b, have_size, size, err, errlen);
    *bytes = b->bdev->size;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void mgmt_rescan(struct mgmt *m)
{
    char err[512];

    pthread_mutex_lock(&m->lock);
    for (struct mgmt_bdev *b = m->bdevs; b; b = b->next)
        if (b->bdev->ops->current_size && resize_locked(m, b, false, 0, err, sizeof(err)) < 0)
            LOG_WARN("block device %s: %s", b->name, err);
    pthread_mutex_unlock(&m->lock);
}

int mgmt_ctl_create(struct mgmt *m, const char *name, const char *socket_path, int listen_fd,
                    bool persist, char *err, size_t errlen)
{
    struct mgmt_ctl *c;
    int rc;

    pthread_mutex_lock(&m->lock);
    if (mgmt_ctl_find(m, name)) {
        pthread_mutex_unlock(&m->lock);
        if (listen_fd >= 0)
            close(listen_fd);
        return fail(err, errlen, -EEXIST, "controller '%s' already exists", name);
    }
    for (struct mgmt_ctl *o = m->ctls; o && listen_fd < 0; o = o->next)
        if (o->socket_path[0] && strcmp(o->socket_path, socket_path) == 0) {
            pthread_mutex_unlock(&m->lock);
            return fail(err, errlen, -EEXIST, "socket %s is controller '%s''s", socket_path,
                        o->name);
        }
    c = calloc(1, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&m->lock);
        if (listen_fd >= 0)
            close(listen_fd);
        return fail(err, errlen, -ENOMEM, "out of memory");
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->socket_path, sizeof(c->socket_path), "%s", listen_fd < 0 ? socket_path : "");
    c->persist = persist;
    pthread_mutex_init(&c->lock, NULL);
    if (listen_fd < 0) {
        listen_fd = server_listen(socket_path, err, errlen);
        if (listen_fd < 0) {
            rc = listen_fd;
            goto out_free;
        }
    }
    /* Spread controllers over the pool: each starts its queues on the next worker. */
    rc = controller_start(&c->c, m->pool, m->npool, m->next_first_worker++);
    if (rc < 0) {
        fail(err, errlen, rc, "controller '%s': %s", name, strerror(-rc));
        close(listen_fd);
        goto out_unlink;
    }
    server_init(&c->srv, listen_fd, socket_path ? socket_path : name);
    /* Held: mgmt_serve_held starts it; until then server_stop only closes the socket. */
    rc = m->hold_frontends ? 0 : server_start(&c->srv, &c->c, &c->lock);
    if (rc < 0) {
        fail(err, errlen, rc, "controller '%s': cannot start its thread: %s", name, strerror(-rc));
        server_stop(&c->srv);
        controller_stop(&c->c);
        goto out_unlink;
    }
    c->next = m->ctls;
    m->ctls = c;
    pthread_mutex_unlock(&m->lock);
    LOG_INFO("controller %s: listening on %s", name, socket_path);
    return 0;

out_unlink:
    /* Only a socket we created ourselves. */
    if (c->socket_path[0])
        unlink(c->socket_path);
out_free:
    pthread_mutex_destroy(&c->lock);
    free(c);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int mgmt_serve_held(struct mgmt *m, char *err, size_t errlen)
{
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    m->hold_frontends = false;
    for (struct mgmt_ctl *c = m->ctls; c && rc == 0; c = c->next) {
        if (c->srv.running)
            continue;
        rc = server_start(&c->srv, &c->c, &c->lock);
        if (rc < 0)
            fail(err, errlen, rc, "controller '%s': cannot start its thread: %s", c->name,
                 strerror(-rc));
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Take c off the list's bookkeeping: its LUNs stop counting on their bdevs. */
static void forget_luns(struct mgmt_ctl *c)
{
    while (c->luns) {
        struct mgmt_lun *l = c->luns;

        c->luns = l->next;
        if (l->bdev)
            l->bdev->attached--;
        json_decref(l->params);
        free(l);
    }
}

/*
 * Stop c's thread, take it off the workers, free it.  The bdevs of its LUNs
 * are borrowed: they stay.  With m->lock held.
 */
static void ctl_destroy(struct mgmt_ctl *c)
{
    server_stop(&c->srv);
    controller_stop(&c->c);
    forget_luns(c);
    /* Its groups are off the workers: nothing runs a request of a detached LUN any more. */
    while (c->zombies) {
        struct mgmt_lun *l = c->zombies;

        c->zombies = l->next;
        scsi_lun_free(l->unit);
        l->bdev->attached--;
        free(l);
    }
    pthread_mutex_destroy(&c->lock);
    if (c->socket_path[0])
        unlink(c->socket_path);
    free(c);
}

int mgmt_ctl_delete(struct mgmt *m, const char *name, char *err, size_t errlen)
{
    struct mgmt_ctl **pp, *c;

    pthread_mutex_lock(&m->lock);
    for (pp = &m->ctls; *pp && strcmp((*pp)->name, name) != 0; pp = &(*pp)->next)
        ;
    c = *pp;
    if (!c) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, "no controller '%s'", name);
    }
    *pp = c->next;
    ctl_destroy(c);
    pthread_mutex_unlock(&m->lock);
    LOG_INFO("controller %s: deleted", name);
    return 0;
}

int mgmt_lun_attach(struct mgmt *m, const char *ctl, const char *bdev,
                    const struct mgmt_lun_spec *spec, unsigned *target, unsigned *lun, char *err,
                    size_t errlen)
{
    struct scsi_lun_config cfg;
    char pr_file[PATH_MAX];
    struct mgmt_ctl *c;
    struct mgmt_bdev *b;
    struct mgmt_lun *l;
    int rc;

    pthread_mutex_lock(&m->lock);
    c = mgmt_ctl_find(m, ctl);
    b = mgmt_bdev_find(m, bdev);
    if (!c || !b) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, c ? "no block device '%s'" : "no controller '%s'",
                    c ? bdev : ctl);
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = spec->target < 0 ? 0 : (unsigned)spec->target;
    cfg.wwn = spec->wwn;
    cfg.write_cache_off = spec->write_cache_off;
    cfg.removable = spec->removable;
    cfg.physical_block_size = spec->physical_block_size;
    cfg.discard_granularity = spec->discard_granularity;
    cfg.borrow_bdev = true;
    cfg.stats_workers = m->npool;
    /* Each controller is one initiator port, named after it: stable across restarts. */
    cfg.initiator_port = scsi_initiator_port(c->name);
    if (m->state_dir) {
        snprintf(pr_file, sizeof(pr_file), "%s/pr-%s.json", m->state_dir, bdev);
        cfg.pr_state_file = pr_file;
    }
    if (spec->serial)
        snprintf(cfg.serial, sizeof(cfg.serial), "%s", spec->serial);
    l = calloc(1, sizeof(*l));
    if (!l) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&c->lock);
    if (spec->lun >= 0) {
        cfg.lun = (unsigned)spec->lun;
    } else {
        int free_lun = scsi_target_free_lun(&c->c.targets, cfg.target);

        if (free_lun < 0) {
            rc = fail(err, errlen, -ENOSPC, "target %u of controller '%s' has no free LUN",
                      cfg.target, ctl);
            goto out_unlock;
        }
        cfg.lun = (unsigned)free_lun;
    }
    /* Published whole, with an atomic store: running workers find it or not, nothing between. */
    rc = scsi_lun_create(&c->c.targets, &cfg, b->bdev, err, errlen);
    if (rc < 0)
        goto out_unlock;
    scsi_target_luns_changed(&c->c.targets, cfg.target);
    /* The new unit itself starts with POWER ON; its neighbours report the new inventory. */
    atomic_fetch_and(&scsi_lookup(&c->c.targets, cfg.target, cfg.lun)->ua_pending,
                     ~SCSI_UA_REPORTED_LUNS);
    controller_post_event(&c->c, VIRTIO_SCSI_T_TRANSPORT_RESET, cfg.target, cfg.lun,
                          VIRTIO_SCSI_EVT_RESET_RESCAN);
    l->target = cfg.target;
    l->lun = cfg.lun;
    l->bdev = b;
    l->params = spec->params ? json_incref(spec->params) : NULL;
    l->next = c->luns;
    c->luns = l;
    b->attached++;
    *target = cfg.target;
    *lun = cfg.lun;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&m->lock);
    LOG_INFO("controller %s: LUN %u:%u is %s (%s)", ctl, cfg.target, cfg.lun, bdev, b->bdev->desc);
    return 0;

out_unlock:
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&m->lock);
    free(l);
    return rc;
}

#define DETACH_WAIT_MS 30000

int mgmt_lun_detach(struct mgmt *m, const char *ctl, unsigned target, unsigned lun, char *err,
                    size_t errlen)
{
    struct mgmt_ctl *c;
    struct mgmt_lun **pp, *l;
    struct scsi_lun *unit;
    bool busy = true;

    pthread_mutex_lock(&m->lock);
    c = mgmt_ctl_find(m, ctl);
    if (!c) {
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, "no controller '%s'", ctl);
    }
    pthread_mutex_lock(&c->lock);
    for (pp = &c->luns; *pp && ((*pp)->target != target || (*pp)->lun != lun); pp = &(*pp)->next)
        ;
    l = *pp;
    if (!l) {
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&m->lock);
        return fail(err, errlen, -ENOENT, "controller '%s' has no LUN %u:%u", ctl, target, lun);
    }
    /*
     * New commands stop finding the unit at once; the controller keeps
     * running (its other LUNs are not held up by this one's slow requests).
     */
    unit = scsi_lun_unmap(&c->c.targets, target, lun);
    scsi_target_luns_changed(&c->c.targets, target);
    controller_post_event(&c->c, VIRTIO_SCSI_T_TRANSPORT_RESET, target, lun,
                          VIRTIO_SCSI_EVT_RESET_REMOVED);
    *pp = l->next;
    pthread_mutex_unlock(&c->lock);

    /*
     * Commands that found it before finish first: a grace period covers
     * lookups in progress, inflight the commands started, and the TMFs that
     * name it must have answered.
     */
    if (!worker_pool_grace(m->pool, m->npool, DETACH_WAIT_MS))
        LOG_WARN("controller %s: a worker did not come round while detaching LUN %u:%u", ctl,
                 target, lun);
    for (unsigned ms = 0; ms < DETACH_WAIT_MS; ms++) {
        pthread_mutex_lock(&c->lock);
        busy = atomic_load(&unit->inflight) != 0 || vscsi_tmf_refers_to(&c->c.ctrl.tmfs, unit);
        pthread_mutex_unlock(&c->lock);
        if (!busy)
            break;
        usleep(1000);
    }
    if (busy) {
        /* Never freed under a request: kept until the controller goes (its queues drained). */
        LOG_WARN("controller %s: LUN %u:%u (%s) detached with requests still in the backend; "
                 "freed when the controller is deleted",
                 ctl, target, lun, l->bdev->name);
        json_decref(l->params);
        l->params = NULL;
        l->unit = unit;
        pthread_mutex_lock(&c->lock);
        l->next = c->zombies;
        c->zombies = l;
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&m->lock);
        return 0;
    }
    scsi_lun_free(unit);
    l->bdev->attached--;
    LOG_INFO("controller %s: LUN %u:%u (%s) detached", ctl, target, lun, l->bdev->name);
    pthread_mutex_unlock(&m->lock);
    json_decref(l->params);
    free(l);
    return 0;
}

void mgmt_request_all(struct mgmt *m, unsigned server_req)
{
    pthread_mutex_lock(&m->lock);
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next)
        server_request(&c->srv, server_req);
    pthread_mutex_unlock(&m->lock);
}

json_t *mgmt_config(struct mgmt *m)
{
    json_t *cfg = config_new();

    if (!cfg)
        return NULL;
    pthread_mutex_lock(&m->lock);
    /* Lists are newest first; the file keeps creation order. */
    for (unsigned pass = 0; pass < 3; pass++) {
        json_t *items = json_array();

        if (pass == 0) {
            for (struct mgmt_bdev *b = m->bdevs; b; b = b->next)
                if (b->params)
                    json_array_insert(items, 0, b->params);
        } else if (pass == 1) {
            for (struct mgmt_ctl *c = m->ctls; c; c = c->next)
                if (c->persist)
                    json_array_insert_new(
                        items, 0,
                        json_pack("{s:s, s:s}", "name", c->name, "socket_path", c->socket_path));
        } else {
            for (struct mgmt_ctl *c = m->ctls; c; c = c->next) {
                if (!c->persist)
                    continue;
                for (struct mgmt_lun *l = c->luns; l; l = l->next) {
                    json_t *p;

                    if (!l->params || !l->bdev->params)
                        continue;
                    /* Where it actually went, whatever defaults were asked for. */
                    p = json_deep_copy(l->params);
                    json_object_set_new(p, "target", json_integer(l->target));
                    json_object_set_new(p, "lun", json_integer(l->lun));
                    json_array_insert_new(items, 0, p);
                }
            }
        }
        for (size_t i = 0; i < json_array_size(items); i++)
            config_add(cfg,
                       pass == 0   ? CONFIG_BDEVS
                       : pass == 1 ? CONFIG_CONTROLLERS
                                   : CONFIG_LUNS,
                       json_array_get(items, i));
        json_decref(items);
    }
    pthread_mutex_unlock(&m->lock);
    return cfg;
}

int mgmt_save(struct mgmt *m)
{
    char err[512];
    json_t *cfg;
    int rc;

    if (!m->config_path || m->restoring)
        return 0;
    cfg = mgmt_config(m);
    if (!cfg) {
        LOG_ERR("config %s: out of memory; not saved", m->config_path);
        return -ENOMEM;
    }
    rc = config_save(m->config_path, cfg, err, sizeof(err));
    if (rc < 0)
        LOG_ERR("config %s: not saved: %s", m->config_path, err);
    json_decref(cfg);
    return rc;
}

void mgmt_shutdown(struct mgmt *m, void (*stop_pool)(void))
{
    pthread_mutex_lock(&m->lock);
    /* Frontends go first, and the controllers' queues come off the workers... */
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next) {
        server_stop(&c->srv);
        controller_detach(&c->c);
    }
    /* ...then the workers (NVMe completion sources live in their loops)... */
    if (stop_pool)
        stop_pool();
    /* ...and only then the controllers' LUNs and the backends. */
    while (m->ctls) {
        struct mgmt_ctl *c = m->ctls;

        m->ctls = c->next;
        ctl_destroy(c);
    }
    while (m->bdevs) {
        struct mgmt_bdev *b = m->bdevs;

        m->bdevs = b->next;
        bdev_close(b->bdev);
        json_decref(b->params);
        free(b);
    }
    pthread_mutex_unlock(&m->lock);
}
