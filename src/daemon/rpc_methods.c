/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods: parameters validated by table
 * (rpc_params.h), then handed to mgmt.c.  Handlers run on the RPC server's
 * thread, one at a time; mgmt.c takes the locks.
 */
#include "daemon/rpc_methods.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bdev/bdev_iscsi.h"
#include "daemon/options.h"
#include "rpc/rpc_params.h"
#include "stats/lun_stats.h"

static void reply_errno(struct rpc_ctx *ctx, int rc, const char *msg)
{
    int code = RPC_ERR_IO;

    switch (rc) {
    case -EEXIST:
        code = RPC_ERR_EXISTS;
        break;
    case -ENOENT:
        code = RPC_ERR_NOT_FOUND;
        break;
    case -EBUSY:
    case -ENOSPC:
        code = RPC_ERR_BUSY;
        break;
    case -EINVAL:
        code = RPC_ERR_INVALID_PARAMS;
        break;
    case -ENOTSUP:
        code = RPC_ERR_UNSUPPORTED;
        break;
    }
    rpc_error(ctx, code, "%s", msg);
}

static void m_version(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    (void)opaque;
    if (rpc_params_parse(ctx, params, NULL, 0, NULL))
        rpc_result(ctx, json_pack("{s:s}", "version", VUS_VERSION));
}

struct ctl_args {
    const char *name, *socket_path;
};

static const struct rpc_param ctl_create_p[] = {
    RPC_PARAM_STR(struct ctl_args, name, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_STR(struct ctl_args, socket_path, true, 1, 107, 0),
};

static const struct rpc_param name_p[] = {
    RPC_PARAM_STR(struct ctl_args, name, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
};

static void m_controller_create(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct ctl_args a = { 0 };
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, ctl_create_p, RPC_NPARAMS(ctl_create_p), &a))
        return;
    rc = mgmt_ctl_create(opaque, a.name, a.socket_path, -1, true, err, sizeof(err));
    if (rc < 0)
        /* A path that cannot be bound is the OS saying no, not a missing object of ours. */
        reply_errno(ctx, rc == -EADDRINUSE ? -EEXIST : rc == -ENOENT ? -EIO : rc, err);
    else
        rpc_result(ctx, json_true());
}

static void m_controller_delete(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct ctl_args a = { 0 };
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, name_p, RPC_NPARAMS(name_p), &a))
        return;
    rc = mgmt_ctl_delete(opaque, a.name, err, sizeof(err));
    if (rc < 0)
        reply_errno(ctx, rc, err);
    else
        rpc_result(ctx, json_true());
}

static void m_controller_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct mgmt *m = opaque;
    json_t *list;

    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    list = json_array();
    pthread_mutex_lock(&m->lock);
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next) {
        json_t *luns = json_array();

        for (struct mgmt_lun *l = c->luns; l; l = l->next)
            json_array_insert_new(luns, 0,
                                  json_pack("{s:i, s:i, s:s}", "target", l->target, "lun", l->lun,
                                            "bdev", l->bdev->name));
        json_array_insert_new(list, 0,
                              json_pack("{s:s, s:s, s:b, s:o}", "name", c->name, "socket_path",
                                        c->socket_path[0] ? c->socket_path : c->srv.name,
                                        "connected", atomic_load(&c->srv.connected), "luns", luns));
    }
    pthread_mutex_unlock(&m->lock);
    rpc_result(ctx, list);
}

struct bdev_args {
    const char *name, *path, *pci, *url;
    const char *pool, *image, *snap, *conf, *id; /* rbd */
    int type;
    uint64_t size, block_size, ns, timeout;
    bool readonly, direct;
};

static const char *const bdev_types[] = { "ram", "file", "null", "nvme", "iscsi", "rbd", NULL };
static const enum bdev_type bdev_type_of[] = { BDEV_TYPE_RAM,  BDEV_TYPE_FILE,  BDEV_TYPE_NULL,
                                               BDEV_TYPE_NVME, BDEV_TYPE_ISCSI, BDEV_TYPE_RBD };

static const struct rpc_param bdev_create_p[] = {
    RPC_PARAM_STR(struct bdev_args, name, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_ENUM(struct bdev_args, type, true, bdev_types),
    RPC_PARAM_SIZE(struct bdev_args, size, false, 512, 0, 512),
    RPC_PARAM_STR(struct bdev_args, path, false, 1, 4095, 0),
    RPC_PARAM_UINT(struct bdev_args, block_size, false, 512, 4096),
    RPC_PARAM_BOOL(struct bdev_args, readonly, false),
    RPC_PARAM_BOOL(struct bdev_args, direct, false),
    RPC_PARAM_STR(struct bdev_args, pci, false, 12, 12, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct bdev_args, ns, false, 1, 0xfffffffe),
    RPC_PARAM_STR(struct bdev_args, url, false, 8, 4095, 0),
    RPC_PARAM_STR(struct bdev_args, pool, false, 1, 127, RPC_PF_IDENT),
    RPC_PARAM_STR(struct bdev_args, image, false, 1, 127, RPC_PF_IDENT),
    RPC_PARAM_STR(struct bdev_args, snap, false, 1, 127, RPC_PF_IDENT),
    RPC_PARAM_STR(struct bdev_args, conf, false, 1, 4095, 0),
    RPC_PARAM_STR(struct bdev_args, id, false, 1, 63, RPC_PF_IDENT),
    /* iscsi: 1..; rbd: 0 waits for the OSD (bdev_keys_ok). */
    RPC_PARAM_UINT(struct bdev_args, timeout, false, 0, BDEV_ISCSI_MAX_TIMEOUT_S),
};

/* Which keys a type takes: anything else is a mistake worth naming. */
static bool bdev_keys_ok(struct rpc_ctx *ctx, json_t *params, const struct bdev_args *a)
{
    static const char *const only[][2] = {
        { "size", "ram or null" },
        { "path", "file" },
        { "direct", "file" },
        { "pci", "nvme" },
        { "ns", "nvme" },
        { "block_size", "ram, null, file or rbd" },
        { "url", "iscsi" },
        { "pool", "rbd" },
        { "image", "rbd" },
        { "snap", "rbd" },
        { "conf", "rbd" },
        { "id", "rbd" },
        { "timeout", "iscsi or rbd" },
    };
    enum bdev_type t = bdev_type_of[a->type];

    for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
        const char *key = only[i][0];
        bool ok = strstr(only[i][1], bdev_types[a->type]) != NULL;

        if (!ok && rpc_param_given(params, key)) {
            rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "%s: only for type %s", key, only[i][1]);
            return false;
        }
    }
    if ((t == BDEV_TYPE_RAM || t == BDEV_TYPE_NULL) && !rpc_param_given(params, "size")) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "size: required for type %s", bdev_types[a->type]);
        return false;
    }
    if (t == BDEV_TYPE_FILE && !a->path) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "path: required for type file");
        return false;
    }
    if (t == BDEV_TYPE_NVME && !a->pci) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "pci: required for type nvme");
        return false;
    }
    if (t == BDEV_TYPE_ISCSI && !a->url) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "url: required for type iscsi");
        return false;
    }
    if (t == BDEV_TYPE_ISCSI && rpc_param_given(params, "timeout") && a->timeout == 0) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "timeout: must be 1..%d for type iscsi",
                  BDEV_ISCSI_MAX_TIMEOUT_S);
        return false;
    }
    if (t == BDEV_TYPE_RBD && (!a->pool || !a->image)) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "%s: required for type rbd",
                  a->pool ? "image" : "pool");
        return false;
    }
    if (a->block_size != 512 && a->block_size != 4096) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "block_size: must be 512 or 4096, got %llu",
                  (unsigned long long)a->block_size);
        return false;
    }
    if ((t == BDEV_TYPE_RAM || t == BDEV_TYPE_NULL) && a->size % a->block_size) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS, "size: must be a multiple of block_size %llu",
                  (unsigned long long)a->block_size);
        return false;
    }
    return true;
}

static void m_bdev_create(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { .block_size = 512, .ns = 1 };
    struct bdev_config cfg;
    struct bdev *bdev;
    char err[1024], record[PATH_MAX];
    int rc;

    if (!rpc_params_parse(ctx, params, bdev_create_p, RPC_NPARAMS(bdev_create_p), &a) ||
        !bdev_keys_ok(ctx, params, &a))
        return;
    if (mgmt_bdev_find(opaque, a.name)) {
        rpc_error(ctx, RPC_ERR_EXISTS, "block device '%s' already exists", a.name);
        return;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.type = bdev_type_of[a.type];
    cfg.size = a.size;
    cfg.path = a.path;
    cfg.block_size = (uint32_t)a.block_size;
    cfg.readonly = a.readonly;
    cfg.direct = a.direct;
    cfg.pci = a.pci;
    cfg.nsid = (uint32_t)a.ns;
    cfg.url = a.url;
    cfg.pool = a.pool;
    cfg.image = a.image;
    cfg.snap = a.snap;
    cfg.conf = a.conf;
    cfg.client_id = a.id;
    cfg.timeout_s = (unsigned)a.timeout;
    cfg.nr_queues = ((struct mgmt *)opaque)->npool;
    if (cfg.type == BDEV_TYPE_RBD && ((struct mgmt *)opaque)->state_dir) {
        snprintf(record, sizeof(record), "%s/rbd-%s", ((struct mgmt *)opaque)->state_dir, a.name);
        cfg.lock_record = record;
    }
    rc = bdev_open(&cfg, &bdev, err, sizeof(err));
    if (rc < 0) {
        reply_errno(ctx, rc == -EINVAL ? -EINVAL : -EIO, err);
        return;
    }
    rc = mgmt_bdev_add(opaque, a.name, bdev_types[a.type], bdev, params, err, sizeof(err));
    if (rc < 0) {
        bdev_close(bdev);
        reply_errno(ctx, rc, err);
        return;
    }
    rpc_result(ctx, json_true());
}

static const struct rpc_param bdev_name_p[] = {
    RPC_PARAM_STR(struct bdev_args, name, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
};

static void m_bdev_delete(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { 0 };
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, bdev_name_p, RPC_NPARAMS(bdev_name_p), &a))
        return;
    rc = mgmt_bdev_delete(opaque, a.name, err, sizeof(err));
    if (rc < 0)
        reply_errno(ctx, rc, err);
    else
        rpc_result(ctx, json_true());
}

static const struct rpc_param bdev_resize_p[] = {
    RPC_PARAM_STR(struct bdev_args, name, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_SIZE(struct bdev_args, size, false, 512, 0, 512),
};

static void m_bdev_resize(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct bdev_args a = { 0 };
    uint64_t bytes = 0;
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, bdev_resize_p, RPC_NPARAMS(bdev_resize_p), &a))
        return;
    rc = mgmt_bdev_resize(opaque, a.name, rpc_param_given(params, "size"), a.size, &bytes, err,
                          sizeof(err));
    if (rc < 0) {
        reply_errno(ctx, rc, err);
        return;
    }
    /* A resized ram disk must come back at its new size after a restart. */
    struct mgmt_bdev *b = mgmt_bdev_find(opaque, a.name);
    if (b && b->params && json_object_get(b->params, "size"))
        json_object_set_new(b->params, "size", json_integer((json_int_t)bytes));
    rpc_result(ctx, json_pack("{s:I}", "size", (json_int_t)bytes));
}

static void m_bdev_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct mgmt *m = opaque;
    json_t *list;

    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    list = json_array();
    pthread_mutex_lock(&m->lock);
    for (struct mgmt_bdev *b = m->bdevs; b; b = b->next)
        json_array_insert_new(list, 0,
                              json_pack("{s:s, s:s, s:I, s:i, s:b, s:s, s:i}", "name", b->name,
                                        "type", b->type, "size", (json_int_t)b->bdev->size,
                                        "block_size", b->bdev->block_size, "readonly",
                                        b->bdev->readonly, "desc", b->bdev->desc, "attached",
                                        b->attached));
    pthread_mutex_unlock(&m->lock);
    rpc_result(ctx, list);
}

struct lun_args {
    const char *controller, *bdev, *serial, *wwn;
    uint64_t target, lun;
    bool write_cache;
    bool removable;
    uint64_t physical_block_size, discard_granularity;
};

static const struct rpc_param lun_attach_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_STR(struct lun_args, bdev, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, false, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, false, 0, 255),
    RPC_PARAM_STR(struct lun_args, serial, false, 1, SCSI_SERIAL_MAX, 0),
    RPC_PARAM_STR(struct lun_args, wwn, false, 16, 18, 0),
    RPC_PARAM_BOOL(struct lun_args, write_cache, false),
    RPC_PARAM_BOOL(struct lun_args, removable, false),
    /* Checked against the block device's block size by scsi_lun_create. */
    RPC_PARAM_UINT(struct lun_args, physical_block_size, false, 512, 1u << 25),
    RPC_PARAM_UINT(struct lun_args, discard_granularity, false, 512, 1u << 30),
};

/* NAA 5 or 6, 16 hex digits with an optional 0x. */
static bool parse_wwn(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) != 16)
        return false;
    for (const char *p = s; *p; p++) {
        int d = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    if ((v >> 60) != 5 && (v >> 60) != 6)
        return false;
    *out = v;
    return true;
}

static void m_lun_attach(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };
    struct mgmt_lun_spec spec = { .target = -1, .lun = -1 };
    unsigned t, l;
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, lun_attach_p, RPC_NPARAMS(lun_attach_p), &a))
        return;
    if (a.wwn && !parse_wwn(a.wwn, &spec.wwn)) {
        rpc_error(ctx, RPC_ERR_INVALID_PARAMS,
                  "wwn: must be 16 hex digits starting with NAA 5 or 6, got '%s'", a.wwn);
        return;
    }
    if (rpc_param_given(params, "target"))
        spec.target = (int)a.target;
    if (rpc_param_given(params, "lun"))
        spec.lun = (int)a.lun;
    spec.serial = a.serial;
    /* Absent means on, as on a disk fresh from the factory. */
    spec.write_cache_off = rpc_param_given(params, "write_cache") && !a.write_cache;
    spec.removable = a.removable;
    spec.physical_block_size = (uint32_t)a.physical_block_size;
    spec.discard_granularity = (uint32_t)a.discard_granularity;
    spec.params = params;
    rc = mgmt_lun_attach(opaque, a.controller, a.bdev, &spec, &t, &l, err, sizeof(err));
    if (rc < 0)
        reply_errno(ctx, rc, err);
    else
        rpc_result(ctx, json_pack("{s:i, s:i}", "target", t, "lun", l));
}

static const struct rpc_param lun_detach_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, true, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, true, 0, 255),
};

static void m_lun_detach(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };
    char err[512];
    int rc;

    if (!rpc_params_parse(ctx, params, lun_detach_p, RPC_NPARAMS(lun_detach_p), &a))
        return;
    rc = mgmt_lun_detach(opaque, a.controller, (unsigned)a.target, (unsigned)a.lun, err,
                         sizeof(err));
    if (rc < 0)
        reply_errno(ctx, rc, err);
    else
        rpc_result(ctx, json_true());
}

static const struct rpc_param lun_list_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, true, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
};

static void m_lun_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };
    struct mgmt *m = opaque;
    struct mgmt_ctl *c;
    json_t *list;

    if (!rpc_params_parse(ctx, params, lun_list_p, RPC_NPARAMS(lun_list_p), &a))
        return;
    pthread_mutex_lock(&m->lock);
    c = mgmt_ctl_find(m, a.controller);
    if (!c) {
        pthread_mutex_unlock(&m->lock);
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no controller '%s'", a.controller);
        return;
    }
    list = json_array();
    pthread_mutex_lock(&c->lock);
    for (struct mgmt_lun *l = c->luns; l; l = l->next) {
        struct scsi_lun *sl = scsi_lookup(&c->c.targets, l->target, l->lun);

        json_array_insert_new(
            list, 0,
            json_pack("{s:i, s:i, s:s, s:s, s:I, s:i}", "target", l->target, "lun", l->lun, "bdev",
                      l->bdev->name, "serial", sl ? sl->serial : "", "size",
                      (json_int_t)l->bdev->bdev->size, "block_size", l->bdev->bdev->block_size));
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&m->lock);
    rpc_result(ctx, list);
}

static const struct rpc_param stats_p[] = {
    RPC_PARAM_STR(struct lun_args, controller, false, 1, MGMT_NAME_MAX, RPC_PF_IDENT),
    RPC_PARAM_UINT(struct lun_args, target, false, 0, 255),
    RPC_PARAM_UINT(struct lun_args, lun, false, 0, 255),
};

static void m_stats(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct lun_args a = { 0 };
    struct mgmt *m = opaque;
    bool want_t, want_l;
    json_t *ctls;

    if (!rpc_params_parse(ctx, params, stats_p, RPC_NPARAMS(stats_p), &a))
        return;
    want_t = rpc_param_given(params, "target");
    want_l = rpc_param_given(params, "lun");
    pthread_mutex_lock(&m->lock);
    if (a.controller && !mgmt_ctl_find(m, a.controller)) {
        pthread_mutex_unlock(&m->lock);
        rpc_error(ctx, RPC_ERR_NOT_FOUND, "no controller '%s'", a.controller);
        return;
    }
    ctls = json_array();
    for (struct mgmt_ctl *c = m->ctls; c; c = c->next) {
        json_t *luns;

        if (a.controller && strcmp(a.controller, c->name) != 0)
            continue;
        luns = json_array();
        pthread_mutex_lock(&c->lock);
        for (struct mgmt_lun *l = c->luns; l; l = l->next) {
            struct scsi_lun *sl = scsi_lookup(&c->c.targets, l->target, l->lun);
            struct lun_stats_totals t;
            json_t *js;

            if ((want_t && l->target != a.target) || (want_l && l->lun != a.lun) || !sl ||
                !sl->stats)
                continue;
            lun_stats_read(sl->stats, &t);
            js = lun_stats_to_json(&t);
            json_object_set_new(js, "target", json_integer(l->target));
            json_object_set_new(js, "lun", json_integer(l->lun));
            json_object_set_new(js, "bdev", json_string(l->bdev->name));
            json_array_insert_new(luns, 0, js);
        }
        pthread_mutex_unlock(&c->lock);
        json_array_insert_new(ctls, 0, json_pack("{s:s, s:o}", "name", c->name, "luns", luns));
    }
    pthread_mutex_unlock(&m->lock);
    rpc_result(ctx, json_pack("{s:o}", "controllers", ctls));
}

static void m_worker_list(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct mgmt *m = opaque;
    json_t *list;

    if (!rpc_params_parse(ctx, params, NULL, 0, NULL))
        return;
    list = json_array();
    /* The pool lives as long as the daemon; its counters are atomics: no lock. */
    for (unsigned i = 0; i < m->npool; i++) {
        struct worker_poll_stats st;

        worker_poll_stats(&m->pool[i], &st);
        json_array_append_new(
            list,
            json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I}", "id", (int)m->pool[i].id,
                      "poll_max_ns", (json_int_t)st.max_ns, "poll_window_ns",
                      (json_int_t)st.window_ns, "sleep_cost_ns", (json_int_t)st.sleep_cost_ns,
                      "sleeps", (json_int_t)st.sleeps, "polls_caught", (json_int_t)st.caught,
                      "polls_missed", (json_int_t)st.missed, "polling_pays", (int)st.judged_paying,
                      "judged_not_paying", (json_int_t)st.judged_off));
    }
    rpc_result(ctx, list);
}

struct poll_args {
    uint64_t poll_us;
};

static const struct rpc_param set_poll_p[] = {
    RPC_PARAM_UINT(struct poll_args, poll_us, true, 0, OPT_MAX_POLL_US),
};

static void m_worker_set_poll(struct rpc_ctx *ctx, json_t *params, void *opaque)
{
    struct poll_args a = { 0 };
    struct mgmt *m = opaque;

    if (!rpc_params_parse(ctx, params, set_poll_p, RPC_NPARAMS(set_poll_p), &a))
        return;
    for (unsigned i = 0; i < m->npool; i++)
        worker_set_poll_max(&m->pool[i], a.poll_us * 1000);
    rpc_result(ctx, json_object());
}

static const struct rpc_method methods[] = {
    { "version", m_version, "the daemon's version", false },
    { "controller_create", m_controller_create,
      "create a controller listening on socket_path {name, socket_path}", true },
    { "controller_delete", m_controller_delete,
      "delete a controller, dropping its frontend and its LUNs {name}", true },
    { "controller_list", m_controller_list, "the controllers and their LUNs", false },
    { "bdev_create", m_bdev_create,
      "create a named block device {name, type, size|path|pci|pool+image, block_size, readonly, "
      "direct, ns, snap, conf, id, timeout}",
      true },
    { "bdev_delete", m_bdev_delete, "delete an unattached block device {name}", true },
    { "bdev_resize", m_bdev_resize,
      "resize a block device, or re-read its size; its LUNs see the change {name, size}", true },
    { "bdev_list", m_bdev_list, "the block devices", false },
    { "lun_attach", m_lun_attach,
      "attach a block device as a LUN {controller, bdev, target, lun, serial, wwn, write_cache, "
      "removable, "
      "physical_block_size, discard_granularity}",
      true },
    { "lun_detach", m_lun_detach, "detach a LUN {controller, target, lun}", true },
    { "lun_list", m_lun_list, "a controller's LUNs {controller}", false },
    { "stats", m_stats, "I/O statistics per LUN {controller, target, lun}", false },
    { "worker_list", m_worker_list,
      "the worker threads and their adaptive polling: window, what a sleep costs, sleeps, gaps "
      "caught and missed, whether polling pays by what it did",
      false },
    { "worker_set_poll", m_worker_set_poll,
      "set every worker's longest poll window, as --poll-us does at start (0: interrupt mode); "
      "not saved: a restart uses --poll-us again {poll_us}",
      false },
};

const struct rpc_method *rpc_methods_table(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
