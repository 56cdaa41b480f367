/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logical block provisioning: UNMAP, WRITE SAME(10)/(16) and GET LBA STATUS.
 *
 * Both are multi-step: UNMAP issues one DISCARD per descriptor, WRITE SAME
 * without deallocation writes its one-block pattern BDEV_MAX_IOV blocks at a
 * time.  The data they act on is copied into task->block_buf first, so the
 * guest cannot change it between validation and use.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "util/iov.h"

#define UNMAP_HDR  8
#define UNMAP_DESC 16

_Static_assert(UNMAP_HDR + UNMAP_DESC * SCSI_MAX_UNMAP_DESCS <=
                   sizeof(((struct scsi_task *)0)->block_buf),
               "UNMAP descriptor list must fit in block_buf");

static bool finish_errno(struct scsi_task *task, int err)
{
    scsi_task_set_errno(task, err, true);
    scsi_task_complete(task);
    return false;
}

/* Next descriptor with blocks to discard, from task->step on; false when none is left. */
static bool unmap_prepare(struct scsi_task *task)
{
    uint32_t bs = task->lun->bdev->block_size;

    for (; task->step < task->nblocks; task->step++) {
        const uint8_t *d = &task->block_buf[UNMAP_HDR + UNMAP_DESC * task->step];
        uint32_t n = get_be32(&d[8]);

        if (n == 0)
            continue;
        memset(&task->bio, 0, sizeof(task->bio));
        task->bio.type = BDEV_IO_DISCARD;
        task->bio.offset = get_be64(d) * bs;
        task->bio.len = (uint64_t)n * bs;
        task->step++;
        return true;
    }
    return false;
}

static bool unmap_next(struct scsi_task *task, int result)
{
    if (result < 0)
        return finish_errno(task, result);
    if (unmap_prepare(task))
        return true;
    scsi_task_complete(task);
    return false;
}

static void unmap_start(struct scsi_task *task)
{
    if (unmap_prepare(task))
        scsi_task_submit(task, unmap_next);
    else
        scsi_task_complete(task);
}

void scsi_sbc_unmap(struct scsi_task *task)
{
    const struct bdev *bdev = task->lun->bdev;
    size_t plen = get_be16(&task->cdb[7]), bddl, ndesc, copy;

    /* ANCHOR needs anchored-state support (ANC_SUP), which we do not report. */
    if (task->cdb[1] & 0x01) {
        scsi_task_invalid_field(task, 1, 0);
        return;
    }
    if (!bdev->can_discard) {
        scsi_task_invalid_cdb(task);
        return;
    }
    if (bdev->readonly) {
        scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (plen == 0) {
        scsi_task_complete(task);
        return;
    }
    if (plen < UNMAP_HDR) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
        return;
    }
    if (iov_to_buf(task->iov, task->iovcnt, 0, task->block_buf, UNMAP_HDR) != UNMAP_HDR) {
        task->overrun = true;
        scsi_task_complete(task);
        return;
    }
    /* A descriptor cut short by either length is ignored, as SBC-3 allows. */
    bddl = get_be16(&task->block_buf[2]);
    if (bddl > plen - UNMAP_HDR)
        bddl = plen - UNMAP_HDR;
    ndesc = bddl / UNMAP_DESC;
    if (ndesc > SCSI_MAX_UNMAP_DESCS) {
        scsi_task_invalid_param(task, 2, -1); /* UNMAP BLOCK DESCRIPTOR DATA LENGTH */
        return;
    }
    /* The whole list fits in block_buf: a stable copy the guest cannot change. */
    copy = UNMAP_HDR + UNMAP_DESC * ndesc;
    if (iov_to_buf(task->iov, task->iovcnt, 0, task->block_buf, copy) != copy) {
        task->overrun = true;
        scsi_task_complete(task);
        return;
    }
    task->data_len = plen;
    /* All descriptors are checked before any is acted on: the command fails whole. */
    for (size_t i = 0; i < ndesc; i++) {
        const uint8_t *d = &task->block_buf[UNMAP_HDR + UNMAP_DESC * i];
        uint32_t n = get_be32(&d[8]);

        if (n > SCSI_MAX_UNMAP_BLOCKS) {
            scsi_task_invalid_param(task, (unsigned)(UNMAP_HDR + UNMAP_DESC * i + 8), -1);
            return;
        }
        if (!scsi_lba_range_ok(task->lun, get_be64(d), n)) {
            scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
            return;
        }
    }
    task->step = 0;
    task->nblocks = ndesc;
    /*
     * UNMAP changes what reads return, so COMPARE AND WRITE must not straddle
     * it either.  Its descriptors may lie anywhere: it holds the whole LUN,
     * shared, which costs nothing against writes and only orders it against
     * COMPARE AND WRITE.
     */
    if (!scsi_range_lock(task, 0, scsi_lun_blocks(task->lun), false, unmap_start))
        return;
    unmap_start(task);
}

/* The pattern write of WRITE SAME: up to BDEV_MAX_IOV copies of block_buf per request. */
static bool ws_prepare(struct scsi_task *task)
{
    uint32_t bs = task->lun->bdev->block_size;
    uint64_t n = task->nblocks < BDEV_MAX_IOV ? task->nblocks : BDEV_MAX_IOV;

    memset(&task->bio, 0, sizeof(task->bio));
    task->bio.type = BDEV_IO_WRITE;
    task->bio.fua = !atomic_load(&task->lun->wce); /* write cache off: write-through */
    task->bio.offset = task->lba * bs;
    task->bio.len = n * bs;
    task->bio.iov = task->bio_iov;
    task->bio.iovcnt = (unsigned)n;
    return true;
}

static bool ws_next(struct scsi_task *task, int result)
{
    uint32_t bs = task->lun->bdev->block_size;

    if (result < 0)
        return finish_errno(task, result);
    task->lba += task->bio.len / bs;
    task->nblocks -= task->bio.len / bs;
    if (task->nblocks == 0) {
        scsi_task_complete(task);
        return false;
    }
    return ws_prepare(task);
}

static bool ws_single_done(struct scsi_task *task, int result)
{
    if (result < 0)
        return finish_errno(task, result);
    /*
     * With the write cache off the medium must hold the zeroes before
     * completion, and DISCARD / WRITE_ZEROES have no FUA: a flush does it.
     */
    if (task->bio.type != BDEV_IO_FLUSH && !atomic_load(&task->lun->wce) &&
        task->lun->bdev->volatile_cache) {
        memset(&task->bio, 0, sizeof(task->bio));
        task->bio.type = BDEV_IO_FLUSH;
        return true;
    }
    scsi_task_complete(task);
    return false;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

#define WS_UNMAP 0x1 /* task->step of WRITE SAME: the UNMAP bit */

/* WRITE SAME with its range held: the pattern is in block_buf, the range in lba/nblocks. */
static void ws_start(struct scsi_task *task)
{
    const struct bdev *bdev = task->lun->bdev;
    uint32_t bs = bdev->block_size;
    bool zero = all_zero(task->block_buf, bs);

    memset(&task->bio, 0, sizeof(task->bio));
    task->bio.offset = task->lba * bs;
    task->bio.len = task->nblocks * bs;
    /*
     * UNMAP set: SBC-4 has the device server of a thin provisioned unit
     * deallocate every LBA (or write the block: either is allowed), whatever
     * the block holds; deallocated blocks then read as zeroes (LBPRZ=1), so
     * only a backend whose discard zeroes may take that path.  Otherwise
     * zeroes go through WRITE_ZEROES when the backend has it, and any other
     * pattern is written.
     */
    if ((task->step & WS_UNMAP) && bdev->discard_zeroes) {
        task->bio.type = BDEV_IO_DISCARD;
        scsi_task_submit(task, ws_single_done);
        return;
    }
    if (zero && bdev->can_write_zeroes) {
        task->bio.type = BDEV_IO_WRITE_ZEROES;
        scsi_task_submit(task, ws_single_done);
        return;
    }
    for (unsigned i = 0; i < BDEV_MAX_IOV && i < task->nblocks; i++) {
        task->bio_iov[i].iov_base = task->block_buf;
        task->bio_iov[i].iov_len = bs;
    }
    ws_prepare(task);
    scsi_task_submit(task, ws_next);
}

void scsi_sbc_write_same(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct bdev *bdev = task->lun->bdev;
    struct scsi_lba_range r = scsi_cdb_range(cdb);
    bool ndob = cdb[0] == SCSI_OP_WRITE_SAME_16 && (cdb[1] & SCSI_WS_NDOB);
    bool unmap = cdb[1] & SCSI_WS_UNMAP;
    uint32_t bs = bdev->block_size;

    /*
     * UNMAP is refused when LBPWS is not reported, as SBC-3 lets initiators
     * rely on the VPD page.
     */
    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (cdb[1] & SCSI_WS_ANCHOR) {
        scsi_task_invalid_field(task, 1, 4);
        return;
    }
    if (unmap && !bdev->can_discard) {
        scsi_task_invalid_field(task, 1, 3);
        return;
    }
    /*
     * WSNZ is 0: NUMBER OF LOGICAL BLOCKS 0 means from LBA to the end of the
     * medium (SBC-3 5.42), within MAXIMUM WRITE SAME LENGTH like any other.
     * A starting LBA past the last one is out of range whatever the count.
     */
    if (r.n == 0) {
        uint64_t blocks = scsi_lun_blocks(task->lun);

        if (r.lba >= blocks) {
            scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
            return;
        }
        if (blocks - r.lba > SCSI_MAX_WS_BLOCKS) {
            scsi_task_invalid_field(task, r.n_off, -1);
            return;
        }
        r.n = (uint32_t)(blocks - r.lba);
    }
    if (r.n > SCSI_MAX_WS_BLOCKS) {
        scsi_task_invalid_field(task, r.n_off, -1);
        return;
    }
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n)) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    if (bdev->readonly) {
        scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (bs > sizeof(task->block_buf)) {
        finish_errno(task, -EINVAL);
        return;
    }
    if (ndob) {
        memset(task->block_buf, 0, bs);
    } else {
        /*
         * The data-out is one logical block, exactly: more or less is a
         * malformed command (ILLEGAL REQUEST, as libiscsi's
         * WriteSame*.InvalidDataOutSize expect), not a transport overrun.
         */
        if (task->dir != SCSI_DIR_TO_DEV || task->iov_len != bs) {
            scsi_task_invalid_cdb(task);
            return;
        }
        if (iov_to_buf(task->iov, task->iovcnt, 0, task->block_buf, bs) != bs) {
            task->overrun = true;
            scsi_task_complete(task);
            return;
        }
        task->data_len = bs;
    }
    task->lba = r.lba;
    task->nblocks = r.n;
    task->step = unmap ? WS_UNMAP : 0;
    /* WRITE SAME writes: it holds its range shared, like WRITE (COMPARE AND WRITE's atomicity). */
    if (!scsi_range_lock(task, r.lba, r.n, false, ws_start))
        return;
    ws_start(task);
}

/* LBA status descriptors per GET LBA STATUS: each may cost the backend a pair of lseeks. */
#define LBAS_MAX_DESCS 32

void scsi_sbc_get_lba_status(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;
    struct bdev *bdev = lun->bdev;
    uint64_t lba = get_be64(&task->cdb[2]), blocks = scsi_lun_blocks(lun), bs = bdev->block_size;
    uint32_t alloc = get_be32(&task->cdb[10]);
    uint8_t buf[8 + 16 * LBAS_MAX_DESCS];
    unsigned n = 0, max;

    if (lba >= blocks) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    /* As many descriptors as the allocation length holds (at least one, cut by the reply). */
    max = alloc >= 24 ? (alloc - 8) / 16 : 1;
    if (max > LBAS_MAX_DESCS)
        max = LBAS_MAX_DESCS;
    memset(buf, 0, sizeof(buf));
    while (n < max && lba < blocks) {
        uint64_t len = (blocks - lba) * bs, nb;
        bool mapped;
        uint8_t *d;

        bdev_lba_status(bdev, lba * bs, &len, &mapped);
        /*
         * A hole need not end on a block boundary (a file system block
         * smaller than ours): a block partly holding data counts as mapped.
         */
        nb = mapped ? (len + bs - 1) / bs : len / bs;
        if (nb == 0) {
            nb = 1;
            mapped = true;
        }
        if (nb > blocks - lba)
            nb = blocks - lba;
        if (nb > UINT32_MAX)
            nb = UINT32_MAX;
        d = n > 0 ? &buf[8 + 16 * (n - 1)] : NULL;
        /* A backend may answer in pieces: one state, one descriptor. */
        if (d != NULL && d[12] == (mapped ? 0 : 1) && get_be32(&d[8]) + nb <= UINT32_MAX) {
            put_be32(&d[8], (uint32_t)(get_be32(&d[8]) + nb));
        } else {
            d = &buf[8 + 16 * n++];
            put_be64(d, lba);
            put_be32(&d[8], (uint32_t)nb);
            d[12] = mapped ? 0 : 1; /* PROVISIONING STATUS: mapped, deallocated */
        }
        lba += nb;
    }
    put_be32(buf, 4 + 16 * n);
    scsi_task_reply(task, buf, 8 + 16 * n, alloc);
}
