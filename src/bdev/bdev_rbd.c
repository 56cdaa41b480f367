/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ceph RBD backend: one image through librbd's asynchronous C API.
 *
 * Each LUN has its own rados cluster handle, I/O context and image handle,
 * opened on the control thread.  The libraries themselves are loaded by the
 * first open (rbd_lib.h), so a daemon without RBD LUNs never maps them.  Workers start requests
 * with rbd_aio_*() straight from guest memory (readv/writev take the iovec as it is) and never
 * wait: librbd finishes every request on one of its own threads, whose callback only posts the
 * result to the submitting worker's loop (io_loop_post, an eventfd that loop's io_uring watches).
 * Everything else (FUA's follow-up flush, error mapping, the bdev_io callback) runs on the worker.
 *
 * An OSD that stops answering holds that LUN's requests inside librbd, which
 * resends them when the OSD map changes; workers keep serving other LUNs.
 * With timeout=T (rados_osd_op_timeout) such a request fails after T
 * seconds with ABORTED COMMAND, which initiators retry.
 *
 * A writable image is opened with its exclusive lock taken in exclusive
 * mode: librbd then refuses to hand the lock to another client, so a second
 * daemon (or `rbd` writing the image) gets an error instead of interleaving
 * its writes with ours; readonly=on and snap= take no lock.
 *
 * A crashed owner keeps the lock until the cluster expires its watch
 * (~30 s), longer than a guest waits for a command.  With --state-dir the
 * daemon records the owner librbd reports for each block device
 * (bdev_rbd_owner.h); a restarted daemon that finds the lock held by
 * exactly that client of its dead predecessor breaks it, which blocklists
 * the old client first, so nothing it had in flight can land afterwards.
 */
#include "bdev/bdev_rbd.h"
#include "bdev/bdev_rbd_owner.h"
#include "bdev/rbd_lib.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_proto.h"
#include "util/log.h"

/* Connecting must not wait librados' default 300 s when the monitor is gone. */
#define RBD_DEFAULT_CONNECT_TIMEOUT 30

struct bdev_rbd {
    struct bdev bdev;
    const struct rbd_lib *lib;
    rados_t cluster;
    rados_ioctx_t ioctx;
    rbd_image_t image;
    uint64_t watch;
    bool watching;
    bool lock_held;             /* we took the exclusive lock */
    struct rbd_owner_rec owner; /* under --state-dir; lock_fd -1: none */
};

static struct bdev_rbd *to_rbd(struct bdev *bdev)
{
    return (struct bdev_rbd *)((char *)bdev - offsetof(struct bdev_rbd, bdev));
}

static struct bdev_io *op_to_io(struct io_loop_op *op)
{
    return (struct bdev_io *)((char *)op - offsetof(struct bdev_io, op));
}

int bdev_rbd_map_error(int r, uint32_t *sense)
{
    *sense = 0;
    switch (-r) {
    case ETIMEDOUT:
        /*
         * rados_osd_op_timeout expired: the OSD may come back, so the
         * initiator should try again (Linux retries ABORTED COMMAND).
         * COMMAND TIMEOUT DURING PROCESSING.
         */
        *sense = BDEV_SENSE(SCSI_SK_ABORTED_COMMAND, 0x2e, 0x02);
        return -EREMOTEIO;
    case EDQUOT:
        /* Pool quota or a full cluster: out of space, as a thin device says. */
        return -ENOSPC;
    case EBUSY:
        /* Another client owns the exclusive lock: our writes are refused. */
        return -EROFS;
    case ESHUTDOWN:
        /*
         * EBLOCKLISTED: the cluster fenced this client, nothing will succeed
         * until the image is opened again.  LOGICAL UNIT FAILURE.
         */
        *sense = BDEV_SENSE(SCSI_SK_HARDWARE_ERROR, 0x3e, 0x01);
        return -EREMOTEIO;
    default:
        return r < 0 ? r : -EIO;
    }
}

unsigned bdev_rbd_connect_timeout(unsigned timeout)
{
    return timeout ? timeout : RBD_DEFAULT_CONNECT_TIMEOUT;
}

/* A librbd thread: only hand the result to the worker that submitted. */
static void rbd_aio_cb(rbd_completion_t c, void *arg)
{
    struct bdev_io *io = arg;
    const struct rbd_lib *lib = to_rbd(io->bdev)->lib;
    int r = (int)lib->rbd_aio_get_return_value(c);

    lib->rbd_aio_release(c);
    io_loop_post(io->loop, &io->op, r);
}

/*
 * Worker thread.  Starts the librbd request for io's current phase.  The
 * result always comes back through the loop (never inline), so the caller
 * returns 0 whatever happens here.
 */
static void rbd_start(struct bdev_rbd *r, struct bdev_io *io, bool flush)
{
    rbd_completion_t c;
    int ret;

    /* Before librbd can run the callback on its thread. */
    io_loop_expect_post(io->loop);
    ret = r->lib->rbd_aio_create_completion(io, rbd_aio_cb, &c);
    if (ret < 0) {
        io_loop_post(io->loop, &io->op, ret);
        return;
    }
    if (flush) {
        ret = r->lib->rbd_aio_flush(r->image, c);
    } else {
        switch (io->type) {
        case BDEV_IO_READ:
            ret = r->lib->rbd_aio_readv(r->image, io->iov, (int)io->iovcnt, io->offset, c);
            break;
        case BDEV_IO_WRITE:
            ret = r->lib->rbd_aio_writev(r->image, io->iov, (int)io->iovcnt, io->offset, c);
            break;
        case BDEV_IO_DISCARD:
            ret = r->lib->rbd_aio_discard(r->image, io->offset, io->len, c);
            break;
        case BDEV_IO_WRITE_ZEROES:
            ret = r->lib->rbd_aio_write_zeroes(r->image, io->offset, io->len, c, 0, 0);
            break;
        case BDEV_IO_FLUSH:
            ret = r->lib->rbd_aio_flush(r->image, c);
            break;
        default:
            ret = -EINVAL;
            break;
        }
    }
    if (ret < 0) {
        /* Refused before it started: librbd will not call back. */
        r->lib->rbd_aio_release(c);
        io_loop_post(io->loop, &io->op, ret);
    }
}

/* Worker thread: one librbd request finished (or was refused). */
static void rbd_complete(struct io_loop_op *op, int res)
{
    struct bdev_io *io = op_to_io(op);
    struct bdev_rbd *r = to_rbd(io->bdev);
    uint32_t sense;

    /* A read completes with its byte count, everything else with 0. */
    if (res >= 0 && io->type == BDEV_IO_WRITE && io->fua && io->attempt == 0) {
        /* Written but not yet durable: an aborted FUA write must not report success. */
        if (io->cancelled) {
            io->cb(io, -ECANCELED);
            return;
        }
        /* librbd has no FUA write: the data is durable once a flush after it completes. */
        io->attempt = 1;
        rbd_start(r, io, true);
        return;
    }
    if (res >= 0) {
        io->cb(io, 0);
        return;
    }
    res = bdev_rbd_map_error(res, &sense);
    io->sense = sense;
    io->cb(io, res);
}

static int rbd_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    if (!loop)
        return -EINVAL;
    io->loop = loop;
    io->attempt = 0;
    io->op.cb = rbd_complete;
    if (io->len == 0 && io->type != BDEV_IO_FLUSH) {
        io->cb(io, 0);
        return 0;
    }
    rbd_start(to_rbd(bdev), io, false);
    return 0;
}

/*
 * librbd cannot take back a request it has sent to an OSD.  The one thing
 * left to stop is FUA's flush, which rbd_complete skips once this is set.
 */
static int rbd_cancel(struct bdev *bdev, struct bdev_io *io)
{
    io->cancelled = true;
    return -EALREADY;
}

static int rbd_current_size(struct bdev *bdev, uint64_t *bytes)
{
    struct bdev_rbd *r = to_rbd(bdev);
    uint64_t size;
    int ret = r->lib->rbd_get_size(r->image, &size);

    if (ret < 0)
        return ret;
    *bytes = size - size % bdev->block_size;
    return 0;
}

static int rbd_do_resize(struct bdev *bdev, uint64_t bytes)
{
    struct bdev_rbd *r = to_rbd(bdev);

    return r->lib->rbd_resize(r->image, bytes);
}

static void rbd_teardown(struct bdev_rbd *r)
{
    bool released = false;

    if (r->watching)
        r->lib->rbd_update_unwatch(r->image, r->watch);
    if (r->image) {
        /* Flushes librbd's cache and releases the exclusive lock. */
        int ret = r->lib->rbd_close(r->image);

        if (ret < 0)
            LOG_WARN("%s: closing the image: %s", r->bdev.desc, strerror(-ret));
        released = ret == 0 && r->lock_held;
    }
    /*
     * A lock we may still hold, or one we never got (a predecessor's we
     * could not take over), keeps its record: the next process may need it.
     */
    rbd_owner_release(&r->owner, !released);
    if (r->ioctx)
        r->lib->rados_ioctx_destroy(r->ioctx);
    if (r->cluster)
        r->lib->rados_shutdown(r->cluster);
    free(r);
}

static void rbd_bdev_close(struct bdev *bdev)
{
    rbd_teardown(to_rbd(bdev));
}

static const struct bdev_ops rbd_ops = {
    .name = "rbd",
    .submit = rbd_submit,
    .close = rbd_bdev_close,
    .cancel = rbd_cancel,
    .current_size = rbd_current_size,
    .resize = rbd_do_resize,
};

/*
 * A librbd thread: the image header changed (a resize, a snapshot, a lock
 * owner).  SIGHUP is the management plane's thread-safe "sizes may have
 * changed": the main thread re-reads every size and raises CAPACITY DATA
 * HAS CHANGED where one did.
 */
static void rbd_header_changed(void *arg)
{
    (void)arg;
    kill(getpid(), SIGHUP);
}

static int rbd_conf(struct bdev_rbd *r, const char *key, unsigned val, char *err, size_t errlen)
{
    char buf[16];
    int ret;

    snprintf(buf, sizeof(buf), "%u", val);
    ret = r->lib->rados_conf_set(r->cluster, key, buf);
    if (ret < 0)
        snprintf(err, errlen, "rbd: setting %s: %s", key, strerror(-ret));
    return ret;
}

static int rbd_connect(struct bdev_rbd *r, const struct bdev_config *cfg, char *err, size_t errlen)
{
    unsigned connect_to = bdev_rbd_connect_timeout(cfg->timeout_s);
    int ret;

    ret = r->lib->rados_create(&r->cluster, cfg->client_id);
    if (ret < 0) {
        snprintf(err, errlen, "rbd: creating a cluster handle for client %s: %s",
                 cfg->client_id ? cfg->client_id : "admin", strerror(-ret));
        return ret;
    }
    /* An explicit conf= must exist; without one, librados' default search path. */
    ret = r->lib->rados_conf_read_file(r->cluster, cfg->conf);
    if (ret < 0) {
        snprintf(err, errlen, "rbd: reading %s: %s", cfg->conf ? cfg->conf : "the ceph.conf",
                 strerror(-ret));
        return ret;
    }
    /* CEPH_ARGS, as the ceph tools honour it. */
    r->lib->rados_conf_parse_env(r->cluster, NULL);
    if (rbd_conf(r, "rados_osd_op_timeout", cfg->timeout_s, err, errlen) < 0 ||
        rbd_conf(r, "rados_mon_op_timeout", connect_to, err, errlen) < 0 ||
        rbd_conf(r, "client_mount_timeout", connect_to, err, errlen) < 0)
        return -EINVAL;
    ret = r->lib->rados_connect(r->cluster);
    if (ret < 0) {
        snprintf(err, errlen, "rbd: connecting to the cluster: %s", strerror(-ret));
        return ret;
    }
    ret = r->lib->rados_ioctx_create(r->cluster, cfg->pool, &r->ioctx);
    if (ret < 0) {
        snprintf(err, errlen, "rbd: pool %s: %s", cfg->pool, strerror(-ret));
        return ret;
    }
    return 0;
}

/* The one exclusive-lock owner librbd reports: 1 and owner filled, 0 none, -errno. */
static int rbd_owner_now(struct bdev_rbd *r, char *owner, size_t len)
{
    char *owners[4];
    size_t n = 4;
    rbd_lock_mode_t mode;
    int ret = r->lib->rbd_lock_get_owners(r->image, &mode, owners, &n);

    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return ret;
    ret = n == 1 && mode == RBD_LOCK_MODE_EXCLUSIVE && strlen(owners[0]) < len ? 1 : -EBUSY;
    if (ret == 1)
        snprintf(owner, len, "%s", owners[0]);
    r->lib->rbd_lock_get_owners_cleanup(owners, n);
    return ret;
}

/*
 * Before taking the lock: claim this block device's owner record, and if
 * the lock is still held by the client our dead predecessor recorded,
 * break it.  Anything less than that proof leaves the lock alone, and
 * taking it then fails as it would without a record.
 */
static void rbd_take_over(struct bdev_rbd *r, const struct bdev_config *cfg,
                          const struct rbd_owner_image *img)
{
    char recorded[RBD_OWNER_MAX], now[RBD_OWNER_MAX], err[PATH_MAX + 128];
    int ret = rbd_owner_claim(&r->owner, cfg->lock_record, err, sizeof(err));

    if (ret < 0) {
        LOG_WARN("%s: %s: after a crash, a restart will wait for the lock to expire", r->bdev.desc,
                 err);
        return;
    }
    if (ret == 0) {
        LOG_WARN("%s: %s.lock is held by another live process: its lock is not ours to break",
                 r->bdev.desc, cfg->lock_record);
        return;
    }
    ret = rbd_owner_predecessor(&r->owner, img, recorded, sizeof(recorded), err, sizeof(err));
    if (ret < 0)
        LOG_WARN("%s: %s: ignored", r->bdev.desc, err);
    if (ret <= 0)
        return;
    ret = rbd_owner_now(r, now, sizeof(now));
    if (ret <= 0)
        return;
    if (strcmp(now, recorded) != 0) {
        LOG_INFO("%s: the exclusive lock is held by %s, not by our predecessor %s: left alone",
                 r->bdev.desc, now, recorded);
        return;
    }
    LOG_WARN("%s: the exclusive lock is still held by %s, the client of this daemon's dead "
             "predecessor: blocklisting it and breaking the lock",
             r->bdev.desc, recorded);
    ret = r->lib->rbd_lock_break(r->image, RBD_LOCK_MODE_EXCLUSIVE, recorded);
    /* -ENOENT: it expired meanwhile; -EBUSY: someone else took it since, leave it. */
    if (ret < 0 && ret != -ENOENT)
        LOG_WARN("%s: breaking the lock of %s: %s", r->bdev.desc, recorded, strerror(-ret));
}

/* Once we hold the lock: the record a restart after a crash will look for. */
static void rbd_record_owner(struct bdev_rbd *r, const struct rbd_owner_image *img)
{
    char me[RBD_OWNER_MAX];
    int ret;

    if (r->owner.lock_fd < 0)
        return;
    ret = rbd_owner_now(r, me, sizeof(me));
    if (ret == 0)
        ret = -ENOENT;
    if (ret > 0)
        ret = rbd_owner_save(&r->owner, img, me);
    if (ret < 0)
        LOG_WARN("%s: recording the lock owner in %s.json: %s: after a crash, a restart will "
                 "wait for the lock to expire",
                 r->bdev.desc, r->owner.prefix, strerror(-ret));
}

/* Writable images: keep every other client from writing while we serve the LUN. */
static int rbd_lock(struct bdev_rbd *r, const struct bdev_config *cfg, char *err, size_t errlen)
{
    char fsid[64] = "";
    struct rbd_owner_image img = { .fsid = fsid, .pool = cfg->pool, .image = cfg->image };
    uint64_t features = 0;
    int ret = r->lib->rbd_get_features(r->image, &features);

    if (ret < 0) {
        snprintf(err, errlen, "rbd: %s/%s: reading features: %s", cfg->pool, cfg->image,
                 strerror(-ret));
        return ret;
    }
    if (!(features & RBD_FEATURE_EXCLUSIVE_LOCK)) {
        LOG_WARN("rbd %s/%s has no exclusive-lock feature: nothing stops another client from "
                 "writing it too",
                 cfg->pool, cfg->image);
        return 0;
    }
    if (cfg->lock_record && r->lib->rados_cluster_fsid(r->cluster, fsid, sizeof(fsid)) >= 0)
        rbd_take_over(r, cfg, &img);
    ret = r->lib->rbd_lock_acquire(r->image, RBD_LOCK_MODE_EXCLUSIVE);
    if (ret < 0) {
        snprintf(err, errlen, "rbd: %s/%s: taking the exclusive lock: %s%s", cfg->pool, cfg->image,
                 strerror(-ret),
                 ret == -EROFS || ret == -EBUSY ? " (another client has the image open)" : "");
        return ret;
    }
    r->lock_held = true;
    rbd_record_owner(r, &img);
    return 0;
}

static int rbd_probe(struct bdev_rbd *r, const struct bdev_config *cfg, char *err, size_t errlen)
{
    rbd_image_info_t info;
    sigset_t mask;
    int ret = r->lib->rbd_stat(r->image, &info, sizeof(info));

    if (ret < 0) {
        snprintf(err, errlen, "rbd: %s/%s: %s", cfg->pool, cfg->image, strerror(-ret));
        return ret;
    }
    r->bdev.size = info.size - info.size % cfg->block_size;
    if (r->bdev.size == 0) {
        snprintf(err, errlen, "rbd: %s/%s: smaller than one %u-byte block", cfg->pool, cfg->image,
                 (unsigned)cfg->block_size);
        return -EINVAL;
    }
    if (info.obj_size >= cfg->block_size && info.obj_size / cfg->block_size <= UINT32_MAX)
        r->bdev.optimal_io_blocks = (uint32_t)(info.obj_size / cfg->block_size);
    /*
     * The watch may only raise SIGHUP where it cannot kill us: librbd's
     * threads inherit this thread's mask, and the daemon blocks SIGHUP
     * everywhere to read it from a signalfd.  Elsewhere (a test program),
     * sizes are picked up by bdev_resize/SIGHUP alone.
     */
    if (pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 && sigismember(&mask, SIGHUP) == 1 &&
        r->lib->rbd_update_watch(r->image, &r->watch, rbd_header_changed, r) == 0)
        r->watching = true;
    return 0;
}

int bdev_rbd_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    bool ro = cfg->readonly || cfg->snap;
    const struct rbd_lib *lib = rbd_lib_get(err, errlen);
    struct bdev_rbd *r;
    int ret;

    if (!lib)
        return -ELIBACC;
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "rbd: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    r->owner.lock_fd = -1;
    r->lib = lib;
    r->bdev.ops = &rbd_ops;
    r->bdev.block_size = cfg->block_size;
    r->bdev.readonly = ro;
    snprintf(r->bdev.desc, sizeof(r->bdev.desc), "rbd %s/%s%s%s", cfg->pool, cfg->image,
             cfg->snap ? "@" : "", cfg->snap ? cfg->snap : "");
    ret = rbd_connect(r, cfg, err, errlen);
    if (ret < 0)
        goto fail;
    if (ro)
        ret = r->lib->rbd_open_read_only(r->ioctx, cfg->image, &r->image, cfg->snap);
    else
        ret = r->lib->rbd_open(r->ioctx, cfg->image, &r->image, NULL);
    if (ret < 0) {
        r->image = NULL;
        snprintf(err, errlen, "rbd: opening %s/%s%s%s: %s", cfg->pool, cfg->image,
                 cfg->snap ? "@" : "", cfg->snap ? cfg->snap : "", strerror(-ret));
        goto fail;
    }
    if (!ro) {
        ret = rbd_lock(r, cfg, err, errlen);
        if (ret < 0)
            goto fail;
    }
    ret = rbd_probe(r, cfg, err, errlen);
    if (ret < 0)
        goto fail;
    /* librbd's writeback cache holds writes until a flush (rbd_cache, on by default). */
    r->bdev.volatile_cache = true;
    r->bdev.can_discard = !ro;
    /* Partial-object discards may be skipped (rbd_skip_partial_discard): not zeroes. */
    r->bdev.discard_zeroes = false;
    r->bdev.can_write_zeroes = !ro;
    *out = &r->bdev;
    return 0;

fail:
    rbd_teardown(r);
    return ret;
}
