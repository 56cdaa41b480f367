/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iSCSI backend: URL, probing the LUN at open, closing.  See bdev_iscsi.h.
 */
#include "bdev/bdev_iscsi.h"

#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Guest iovecs go to libiscsi as they are: the two layouts must agree. */
_Static_assert(sizeof(struct scsi_iovec) == sizeof(struct iovec), "scsi_iovec layout");
_Static_assert(offsetof(struct scsi_iovec, iov_len) == offsetof(struct iovec, iov_len),
               "scsi_iovec layout");

#define PROBE_TIMEOUT_S 10 /* the control thread must not wait forever for a dead portal */
/* Logins tried at open (backing off from 0.2 s) before the LUN is refused. */
#define PROBE_LOGINS 5

static void copy_str(char *dst, const char *src)
{
    snprintf(dst, BDEV_ISCSI_STR_MAX, "%s", src);
}

int bdev_iscsi_parse_url(const char *url, struct bdev_iscsi_target *t, char *err, size_t errlen)
{
    struct iscsi_context *ctx;
    struct iscsi_url *u;

    memset(t, 0, sizeof(*t));
    if (!url || strncmp(url, "iscsi://", 8) != 0) {
        snprintf(err, errlen, "url= must look like iscsi://[user[%%password]@]host[:port]/iqn/lun");
        return -EINVAL;
    }
    /* libiscsi's parser wants a context for its error string; nothing connects. */
    ctx = iscsi_create_context(BDEV_ISCSI_INITIATOR);
    if (!ctx) {
        snprintf(err, errlen, "cannot create an iSCSI context");
        return -ENOMEM;
    }
    u = iscsi_parse_full_url(ctx, url);
    if (!u) {
        snprintf(err, errlen, "bad iSCSI url: %s", iscsi_get_error(ctx));
        iscsi_destroy_context(ctx);
        return -EINVAL;
    }
    if (strlen(u->portal) >= BDEV_ISCSI_STR_MAX || strlen(u->target) >= BDEV_ISCSI_STR_MAX ||
        strlen(u->user) >= BDEV_ISCSI_STR_MAX || strlen(u->passwd) >= BDEV_ISCSI_STR_MAX) {
        snprintf(err, errlen, "bad iSCSI url: a part is longer than %d bytes",
                 BDEV_ISCSI_STR_MAX - 1);
        iscsi_destroy_url(u);
        iscsi_destroy_context(ctx);
        return -EINVAL;
    }
    if (!u->target[0] || u->lun < 0 || u->lun > 16383) {
        snprintf(err, errlen, "bad iSCSI url: it must name a target and a LUN 0..16383");
        iscsi_destroy_url(u);
        iscsi_destroy_context(ctx);
        return -EINVAL;
    }
    copy_str(t->portal, u->portal);
    copy_str(t->iqn, u->target);
    copy_str(t->user, u->user);
    copy_str(t->password, u->passwd);
    t->lun = u->lun;
    iscsi_destroy_url(u);
    iscsi_destroy_context(ctx);
    return 0;
}

enum bdev_iscsi_verdict bdev_iscsi_verdict(int status, int key, int ascq, unsigned attempt,
                                           int *res, uint32_t *sense)
{
    *res = 0;
    *sense = 0;
    switch (status) {
    case SCSI_STATUS_GOOD:
    case SCSI_STATUS_CONDITION_MET:
        return ISCSI_V_DONE;
    case SCSI_STATUS_CHECK_CONDITION:
        /*
         * A new session (ours after a reconnect, or the target restarted)
         * brings POWER ON / I_T NEXUS LOSS and similar UNIT ATTENTIONs: they
         * are about the iSCSI session, not about the guest's LUN, whose own
         * UNIT ATTENTIONs the SCSI layer raises.  Bounded, in case the target
         * keeps reporting one.
         */
        if (key == SCSI_SENSE_UNIT_ATTENTION && attempt < BDEV_ISCSI_UA_RETRIES)
            return ISCSI_V_RETRY;
        *sense = BDEV_SENSE(key & 0xf, (ascq >> 8) & 0xff, ascq & 0xff);
        /* CHECK CONDITION without sense data: still an error, not a success. */
        if (*sense == 0)
            *sense = BDEV_SENSE(SCSI_SENSE_HARDWARE_ERROR, 0x44, 0x00);
        *res = -EREMOTEIO;
        return ISCSI_V_DONE;
    case SCSI_STATUS_BUSY:
    case SCSI_STATUS_TASK_SET_FULL:
        /* The guest sees BUSY and retries later, as it would have with the target. */
        *res = -EAGAIN;
        return ISCSI_V_DONE;
    case SCSI_STATUS_CANCELLED:
    case SCSI_STATUS_ERROR:
    case SCSI_STATUS_TIMEOUT:
        return ISCSI_V_LOST;
    default:
        /* RESERVATION CONFLICT, TASK ABORTED, ...: nothing the guest could act on. */
        *res = -EIO;
        return ISCSI_V_DONE;
    }
}

struct iscsi_context *bdev_iscsi_new_context(const struct bdev_iscsi *b)
{
    struct iscsi_context *ctx = iscsi_create_context(BDEV_ISCSI_INITIATOR);

    if (!ctx)
        return NULL;
    if (iscsi_set_targetname(ctx, b->t.iqn) < 0 ||
        iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL) < 0 ||
        iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C) < 0 ||
        (b->t.user[0] && iscsi_set_initiator_username_pwd(ctx, b->t.user, b->t.password) < 0)) {
        iscsi_destroy_context(ctx);
        return NULL;
    }
    /* We log in again ourselves, from the worker's loop, holding the requests meanwhile. */
    iscsi_set_noautoreconnect(ctx, 1);
    /* A target that stops answering (not just closing) is noticed too. */
    iscsi_set_timeout(ctx, (int)b->timeout_s);
    return ctx;
}

/* A VPD page, unmarshalled; NULL when the target has not got it.  Free with the task. */
static void *vpd(struct iscsi_context *ctx, int lun, int page, struct scsi_task **task)
{
    *task = iscsi_inquiry_sync(ctx, lun, 1, page, 255);
    if (!*task)
        return NULL;
    if ((*task)->status != SCSI_STATUS_GOOD) {
        scsi_free_scsi_task(*task);
        *task = NULL;
        return NULL;
    }
    return scsi_datain_unmarshall(*task);
}

/*
 * A logged-in session for probing, or NULL with the reason in err.  A login
 * is tried again on a fresh context: a target may drop a connection during
 * login (tgt did, under the ASan daemon in CI, after the unit attention a
 * new I_T nexus gets), and a LUN refused at open is gone for good, while a
 * worker's session logs in again by itself.
 */
static struct iscsi_context *probe_login(const struct bdev_iscsi *b, char *err, size_t errlen)
{
    for (unsigned attempt = 1;; attempt++) {
        struct iscsi_context *ctx = bdev_iscsi_new_context(b);

        if (!ctx) {
            snprintf(err, errlen, "cannot create an iSCSI context");
            return NULL;
        }
        iscsi_set_timeout(ctx, PROBE_TIMEOUT_S);
        if (iscsi_full_connect_sync(ctx, b->t.portal, b->t.lun) == 0)
            return ctx;
        snprintf(err, errlen, "iSCSI login to %s %s LUN %d failed: %s", b->t.portal, b->t.iqn,
                 b->t.lun, iscsi_get_error(ctx));
        err[strcspn(err, "\n")] = 0;
        iscsi_destroy_context(ctx);
        if (attempt == PROBE_LOGINS)
            return NULL;
        LOG_WARN("%s; trying again", err);
        usleep(100000u << attempt);
    }
}

/* Size, block size and what the target supports, over a session of the control thread's own. */
static int probe(struct bdev_iscsi *b, char *err, size_t errlen)
{
    struct iscsi_context *ctx = probe_login(b, err, errlen);
    struct scsi_readcapacity16 *rc16;
    struct scsi_inquiry_block_limits *bl;
    struct scsi_inquiry_logical_block_provisioning *lbp;
    struct scsi_inquiry_unit_serial_number *usn;
    struct scsi_task *task;
    int lun = b->t.lun;
    int ret = -EIO;

    if (!ctx)
        return -EIO;
    task = iscsi_readcapacity16_sync(ctx, lun);
    rc16 = task && task->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(task) : NULL;
    if (!rc16) {
        snprintf(err, errlen, "READ CAPACITY(16) of %s LUN %d failed: %s", b->t.iqn, lun,
                 iscsi_get_error(ctx));
        if (task)
            scsi_free_scsi_task(task);
        goto out;
    }
    b->bdev.block_size = rc16->block_length;
    if (rc16->lbppbe < 16)
        b->bdev.phys_block_size = rc16->block_length << rc16->lbppbe;
    b->bdev.size = (rc16->returned_lba + 1) * rc16->block_length;
    scsi_free_scsi_task(task);
    if (b->bdev.block_size != 512 && b->bdev.block_size != 4096) {
        snprintf(err, errlen, "%s LUN %d has %u-byte blocks (only 512 and 4096 are served)",
                 b->t.iqn, lun, (unsigned)b->bdev.block_size);
        ret = -EINVAL;
        goto out;
    }
    /*
     * UNMAP and WRITE SAME are passed on only when the target says it has
     * them: otherwise the LUN reports no provisioning, and the SCSI layer
     * refuses them (or writes zeroes itself) as for any backend without.
     */
    bl = vpd(ctx, lun, SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, &task);
    if (bl) {
        if (bl->max_xfer_len && (uint64_t)bl->max_xfer_len * b->bdev.block_size <= UINT32_MAX)
            b->bdev.max_io_bytes = bl->max_xfer_len * b->bdev.block_size;
        b->bdev.optimal_io_blocks = bl->opt_xfer_len;
        b->max_unmap_blocks = bl->max_unmap == 0xffffffffu ? 0 : bl->max_unmap;
        b->max_ws_blocks = bl->max_ws_len > 0xffffffffu ? 0 : (uint32_t)bl->max_ws_len;
        b->bdev.can_write_zeroes = bl->max_ws_len != 0;
        scsi_free_scsi_task(task);
    }
    lbp = vpd(ctx, lun, SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, &task);
    if (lbp) {
        b->use_unmap = lbp->lbpu && b->max_unmap_blocks != 0;
        b->bdev.can_discard = b->use_unmap || lbp->lbpws;
        b->bdev.discard_zeroes = b->bdev.can_discard && lbp->lbprz;
        scsi_free_scsi_task(task);
    }
    if (b->bdev.can_discard && !b->use_unmap)
        b->bdev.can_write_zeroes = true; /* WRITE SAME(16) exists if LBPWS says so */
    if (b->max_unmap_blocks)
        b->bdev.max_discard_bytes = (uint64_t)b->max_unmap_blocks * b->bdev.block_size;
    usn = vpd(ctx, lun, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, &task);
    if (usn) {
        if (usn->usn && strlen(usn->usn) < sizeof(b->bdev.hw_serial))
            snprintf(b->bdev.hw_serial, sizeof(b->bdev.hw_serial), "%s", usn->usn);
        scsi_free_scsi_task(task);
    }
    iscsi_logout_sync(ctx);
    ret = 0;
out:
    iscsi_destroy_context(ctx);
    return ret;
}

static void iscsi_close(struct bdev *bdev)
{
    struct bdev_iscsi *b = (struct bdev_iscsi *)bdev;
    bool leak = false;

    for (unsigned i = 0; i < b->nw; i++)
        if (!bdev_iscsi_wctx_close(&b->w[i]))
            leak = true;
    /* A poll of a worker that never came back still points here: keep the memory. */
    if (leak) {
        LOG_WARN("iscsi %s: a worker still watches the session; its memory is not freed", b->t.iqn);
        return;
    }
    free(b->w);
    free(b);
}

static const struct bdev_ops iscsi_ops = {
    .name = "iscsi",
    .submit = bdev_iscsi_submit,
    .cancel = bdev_iscsi_cancel,
    .close = iscsi_close,
};

int bdev_iscsi_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    struct bdev_iscsi *b;
    int ret;

    if (cfg->timeout_s > BDEV_ISCSI_MAX_TIMEOUT_S) {
        snprintf(err, errlen, "iscsi timeout %u is above %d seconds", cfg->timeout_s,
                 BDEV_ISCSI_MAX_TIMEOUT_S);
        return -EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ret = bdev_iscsi_parse_url(cfg->url, &b->t, err, errlen);
    if (ret < 0) {
        free(b);
        return ret;
    }
    b->timeout_s = cfg->timeout_s ? cfg->timeout_s : BDEV_ISCSI_DEFAULT_TIMEOUT_S;
    b->nw = cfg->nr_queues ? cfg->nr_queues : 1;
    b->w = calloc(b->nw, sizeof(*b->w));
    if (!b->w) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < b->nw; i++) {
        b->w[i].b = b;
        atomic_init(&b->w[i].armed, 0);
    }
    b->bdev.ops = &iscsi_ops;
    b->bdev.readonly = cfg->readonly;
    /* The target's cache is behind ours: SYNCHRONIZE CACHE is always passed on. */
    b->bdev.volatile_cache = true;
    ret = probe(b, err, errlen);
    if (ret < 0) {
        free(b->w);
        free(b);
        return ret;
    }
    snprintf(b->bdev.desc, sizeof(b->bdev.desc), "iscsi %.40s/%.60s/%d", b->t.portal, b->t.iqn,
             b->t.lun);
    *out = &b->bdev;
    return 0;
}
