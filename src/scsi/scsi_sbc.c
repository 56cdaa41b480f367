/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block commands (SBC-3): capacity, READ/WRITE, WRITE AND VERIFY, VERIFY,
 * SYNCHRONIZE CACHE, PRE-FETCH, READ DEFECT DATA, GET LBA STATUS.
 *
 * Multi-step commands keep their progress in the task (lba, nblocks,
 * buf_off, step) and advance from the bdev completion through
 * scsi_task_submit(), which also absorbs inline completions without recursing.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "util/iov.h"

struct scsi_lba_range scsi_cdb_range(const uint8_t *cdb)
{
    struct scsi_lba_range r;

    switch (cdb[0] >> 5) { /* group code gives the CDB layout */
    case 0:                /* 6-byte */
        r.lba = get_be24(&cdb[1]) & 0x1fffff;
        r.n = cdb[4] != 0 ? cdb[4] : 256;
        r.n_off = 4;
        break;
    case 1: /* 10-byte */
    case 2:
        r.lba = get_be32(&cdb[2]);
        r.n = get_be16(&cdb[7]);
        r.n_off = 7;
        break;
    case 5: /* 12-byte */
        r.lba = get_be32(&cdb[2]);
        r.n = get_be32(&cdb[6]);
        r.n_off = 6;
        break;
    default: /* 16-byte */
        r.lba = get_be64(&cdb[2]);
        r.n = get_be32(&cdb[10]);
        r.n_off = 10;
        break;
    }
    return r;
}

static void fail_lba_range(struct scsi_task *task)
{
    scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
}

static void fail_write_protect(struct scsi_task *task)
{
    scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
}

static bool verify_prepare(struct scsi_task *task);
static bool verify_next(struct scsi_task *task, int result);
static bool medium_verify_done(struct scsi_task *task, int result);

static bool fail_errno(struct scsi_task *task, int err, bool write)
{
    scsi_task_set_errno(task, err, write);
    scsi_task_complete(task);
    return false;
}

void scsi_sbc_read_capacity10(struct scsi_task *task)
{
    uint64_t last = scsi_lun_blocks(task->lun) - 1;
    uint8_t buf[8];

    /* Without PMI the LBA field must be zero (SBC-3 5.15). */
    if (!(task->cdb[8] & 0x01) && get_be32(&task->cdb[2]) != 0) {
        scsi_task_invalid_field(task, 2, -1);
        return;
    }
    /* FFFFFFFFh tells the initiator to use READ CAPACITY(16). */
    put_be32(buf, last >= 0xffffffffull ? 0xffffffffu : (uint32_t)last);
    put_be32(&buf[4], task->lun->bdev->block_size);
    scsi_task_reply(task, buf, sizeof(buf), sizeof(buf));
}

void scsi_sbc_read_capacity16(struct scsi_task *task)
{
    const struct bdev *bdev = task->lun->bdev;
    uint8_t buf[32];

    if (!(task->cdb[14] & 0x01) && get_be64(&task->cdb[2]) != 0) {
        scsi_task_invalid_field(task, 2, -1);
        return;
    }
    memset(buf, 0, sizeof(buf));
    put_be64(buf, scsi_lun_blocks(task->lun) - 1);
    put_be32(&buf[8], bdev->block_size);
    buf[13] = task->lun->lbppb_exp & 0x0f; /* LOWEST ALIGNED LOGICAL BLOCK ADDRESS stays 0 */
    if (bdev->can_discard)
        buf[14] = 0x80 | (bdev->discard_zeroes ? 0x40 : 0); /* LBPME, LBPRZ */
    scsi_task_reply(task, buf, sizeof(buf), get_be32(&task->cdb[10]));
}

/* Bytes of iov, from offset, that max_elems elements describe (as iov_slice counts them). */
static size_t iov_span(const struct iovec *iov, unsigned cnt, size_t offset, unsigned max_elems)
{
    size_t total = 0;
    unsigned used = 0;

    for (unsigned i = 0; i < cnt && used < max_elems; i++) {
        size_t l = iov[i].iov_len;

        if (offset >= l) {
            offset -= l;
            continue;
        }
        total += l - offset;
        offset = 0;
        used++;
    }
    return total;
}

/*
 * Describe the next piece of a READ/WRITE.  A guest buffer with more than
 * BDEV_MAX_IOV elements is split; one so fragmented that BDEV_MAX_IOV
 * elements do not cover a block cannot be served.
 */
bool scsi_rw_prepare(struct scsi_task *task)
{
    uint32_t bs = task->lun->bdev->block_size;
    uint64_t bytes = task->nblocks * bs;
    size_t span = iov_span(task->iov, task->iovcnt, task->buf_off, BDEV_MAX_IOV);
    int cnt;

    if (span < bytes)
        bytes = span - span % bs;
    cnt = bytes == 0 ? -1
                     : iov_slice(task->iov, task->iovcnt, task->buf_off, bytes, task->bio_iov,
                                 BDEV_MAX_IOV);
    if (cnt < 0)
        return fail_errno(task, -EINVAL, task->step & SCSI_STEP_WRITE);
    task->bio.type = (task->step & SCSI_STEP_WRITE) ? BDEV_IO_WRITE : BDEV_IO_READ;
    task->bio.fua = task->step & SCSI_STEP_FUA;
    task->bio.offset = task->lba * bs;
    task->bio.len = bytes;
    task->bio.iov = task->bio_iov;
    task->bio.iovcnt = (unsigned)cnt;
    return true;
}

/*
 * WRITE AND VERIFY: the write is done; verify the blocks it wrote, with the
 * VERIFY command's own steps (compare for BYTCHK 1, a medium check for 0).
 */
static bool write_then_verify(struct scsi_task *task)
{
    const struct bdev *bdev = task->lun->bdev;
    uint64_t n = task->buf_off / bdev->block_size;

    if (task->step & SCSI_STEP_BYTCHK) {
        task->lba -= n;
        task->nblocks = n;
        task->buf_off = 0;
        task->step = SCSI_STEP_CHECK | 1;
        return verify_prepare(task);
    }
    if (!bdev->can_verify) {
        scsi_task_complete(task);
        return false;
    }
    memset(&task->bio, 0, sizeof(task->bio));
    task->bio.type = BDEV_IO_VERIFY;
    task->bio.offset = (task->lba - n) * bdev->block_size;
    task->bio.len = n * bdev->block_size;
    task->step = SCSI_STEP_CHECK | SCSI_STEP_MEDIUM;
    return true;
}

bool scsi_rw_next(struct scsi_task *task, int result)
{
    uint32_t bs = task->lun->bdev->block_size;

    if (task->step & SCSI_STEP_CHECK) {
        if (task->step & SCSI_STEP_MEDIUM)
            return medium_verify_done(task, result);
        return verify_next(task, result);
    }
    if (result < 0)
        return fail_errno(task, result, task->step & SCSI_STEP_WRITE);
    task->lba += task->bio.len / bs;
    task->nblocks -= task->bio.len / bs;
    task->buf_off += task->bio.len;
    task->data_len = task->buf_off;
    if (task->nblocks == 0) {
        if (task->step & SCSI_STEP_VERIFY)
            return write_then_verify(task);
        scsi_task_complete(task);
        return false;
    }
    return scsi_rw_prepare(task);
}

/* Runs when the task has its LBA range (at once, or when a conflicting holder released it). */
static void rw_start(struct scsi_task *task)
{
    if (scsi_rw_prepare(task))
        scsi_task_submit(task, scsi_rw_next);
}

void scsi_sbc_read_write(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    struct scsi_lba_range r = scsi_cdb_range(cdb);
    bool write = cdb[0] == SCSI_OP_WRITE_6 || cdb[0] == SCSI_OP_WRITE_10 ||
                 cdb[0] == SCSI_OP_WRITE_12 || cdb[0] == SCSI_OP_WRITE_16;
    bool six = cdb[0] == SCSI_OP_READ_6 || cdb[0] == SCSI_OP_WRITE_6;

    /* No protection information: RDPROTECT/WRPROTECT must be zero. */
    if (!six && (cdb[1] & SCSI_CDB_PROTECT)) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (r.n > scsi_max_xfer_blocks(task->lun->bdev)) {
        scsi_task_invalid_field(task, r.n_off, -1);
        return;
    }
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n)) {
        fail_lba_range(task);
        return;
    }
    if (write && task->lun->bdev->readonly) {
        fail_write_protect(task);
        return;
    }
    if (r.n == 0) {
        scsi_task_complete(task);
        return;
    }
    task->lba = r.lba;
    task->nblocks = r.n;
    task->buf_off = 0;
    /* With the write cache off (WCE=0, MODE SELECT or write-cache=off) every write is FUA. */
    task->step = (write ? SCSI_STEP_WRITE : 0) |
                 (!six && (cdb[1] & SCSI_CDB_FUA) ? SCSI_STEP_FUA : 0) |
                 (write && !atomic_load(&task->lun->wce) ? SCSI_STEP_FUA : 0);
    /*
     * Writes hold their range shared, so that COMPARE AND WRITE is atomic
     * against them; reads are only counted unless a WRITE ATOMIC is about.
     */
    if (write ? !scsi_range_lock(task, r.lba, r.n, SCSI_RL_SHARED, rw_start)
              : !scsi_read_lock(task, task->lun, r.lba, r.n, rw_start))
        return;
    rw_start(task);
}

void scsi_task_hint(const struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    struct bdev *bdev = task->lun->bdev;
    struct scsi_lba_range r;

    if (cdb[0] != SCSI_OP_READ_6 && cdb[0] != SCSI_OP_READ_10 && cdb[0] != SCSI_OP_READ_12 &&
        cdb[0] != SCSI_OP_READ_16)
        return;
    if (bdev == NULL)
        return;
    r = scsi_cdb_range(cdb);
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n))
        return;
    bdev_prefetch(bdev, r.lba * bdev->block_size, (uint64_t)r.n * bdev->block_size);
}

void scsi_sbc_write_verify(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    struct scsi_lba_range r = scsi_cdb_range(cdb);
    unsigned bytchk = (cdb[1] >> 1) & 3;

    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    /* 10b and 11b are reserved for WRITE AND VERIFY. */
    if (bytchk > 1) {
        scsi_task_invalid_field(task, 1, 2);
        return;
    }
    if (r.n > scsi_max_xfer_blocks(task->lun->bdev)) {
        scsi_task_invalid_field(task, r.n_off, -1);
        return;
    }
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n)) {
        fail_lba_range(task);
        return;
    }
    if (task->lun->bdev->readonly) {
        fail_write_protect(task);
        return;
    }
    if (r.n == 0) {
        scsi_task_complete(task);
        return;
    }
    if (bytchk && task->lun->bdev->block_size > sizeof(task->block_buf)) {
        fail_errno(task, -EINVAL, false);
        return;
    }
    task->lba = r.lba;
    task->nblocks = r.n;
    task->buf_off = 0;
    /*
     * FUA: the verify that follows must read what the medium holds, not a
     * volatile cache's copy.  The range stays held through the verify.
     */
    task->step =
        SCSI_STEP_WRITE | SCSI_STEP_FUA | SCSI_STEP_VERIFY | (bytchk ? SCSI_STEP_BYTCHK : 0);
    if (!scsi_range_lock(task, r.lba, r.n, false, rw_start))
        return;
    rw_start(task);
}

static bool flush_done(struct scsi_task *task, int result)
{
    if (result < 0)
        return fail_errno(task, result, true);
    scsi_task_complete(task);
    return false;
}

void scsi_sbc_sync_cache(struct scsi_task *task)
{
    struct scsi_lba_range r = scsi_cdb_range(task->cdb);

    /* NUMBER OF BLOCKS 0 means "to the end": still the start must exist. */
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n)) {
        fail_lba_range(task);
        return;
    }
    memset(&task->bio, 0, sizeof(task->bio));
    task->bio.type = BDEV_IO_FLUSH;
    scsi_task_submit(task, flush_done);
}

/* VERIFY with BYTCHK: read a chunk into block_buf, compare with the data-out buffer. */
static bool verify_prepare(struct scsi_task *task)
{
    return scsi_read_chunk(task);
}

bool scsi_read_chunk(struct scsi_task *task)
{
    uint32_t bs = task->lun->bdev->block_size;
    uint64_t per = sizeof(task->block_buf) / bs;
    uint64_t n = task->nblocks < per ? task->nblocks : per;

    memset(&task->bio, 0, sizeof(task->bio));
    task->bio.type = BDEV_IO_READ;
    task->bio.offset = task->lba * bs;
    task->bio.len = n * bs;
    task->bio_iov[0].iov_base = task->block_buf;
    task->bio_iov[0].iov_len = n * bs;
    task->bio.iov = task->bio_iov;
    task->bio.iovcnt = 1;
    return true;
}

bool scsi_compare_chunk(struct scsi_task *task, size_t base, bool one_block)
{
    uint32_t bs = task->lun->bdev->block_size;
    size_t len = task->bio.len;
    uint8_t cmp[sizeof(task->block_buf)];

    for (size_t off = 0; off < len; off += bs) {
        size_t src = one_block ? base : base + task->buf_off + off;

        if (iov_to_buf(task->iov, task->iovcnt, src, cmp, bs) != bs)
            return fail_errno(task, -EINVAL, false);
        for (size_t i = 0; i < bs; i++) {
            if (cmp[i] != task->block_buf[off + i]) {
                scsi_task_set_sense(task, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE, 0);
                scsi_sense_set_info(task, task->buf_off + off + i);
                scsi_task_complete(task);
                return false;
            }
        }
    }
    return true;
}

static bool verify_next(struct scsi_task *task, int result)
{
    uint32_t bs = task->lun->bdev->block_size;
    size_t len = task->bio.len;
    /* BYTCHK 11b: one block of data-out stands for every block. */
    bool one = (task->step & 3) == 3;

    if (result < 0)
        return fail_errno(task, result, false);
    if (!scsi_compare_chunk(task, 0, one))
        return false;
    task->lba += len / bs;
    task->nblocks -= len / bs;
    task->buf_off += len;
    if (task->nblocks == 0) {
        task->data_len = one ? bs : task->buf_off;
        scsi_task_complete(task);
        return false;
    }
    return verify_prepare(task);
}

static bool medium_verify_done(struct scsi_task *task, int result)
{
    if (result < 0)
        return fail_errno(task, result, false);
    scsi_task_complete(task);
    return false;
}

static void verify_start(struct scsi_task *task)
{
    if (verify_prepare(task))
        scsi_task_submit(task, verify_next);
}

void scsi_sbc_verify(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    struct scsi_lba_range r = scsi_cdb_range(cdb);
    unsigned bytchk = (cdb[1] >> 1) & 3;

    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (bytchk == 2) {
        scsi_task_invalid_field(task, 1, 2);
        return;
    }
    if (bytchk != 0 && r.n > scsi_max_xfer_blocks(task->lun->bdev)) {
        scsi_task_invalid_field(task, r.n_off, -1);
        return;
    }
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n)) {
        fail_lba_range(task);
        return;
    }
    if (r.n == 0) {
        scsi_task_complete(task);
        return;
    }
    /*
     * BYTCHK 0 is a medium check: a backend whose device can verify by itself
     * does it; for the others every readable block verifies, so it is a no-op.
     */
    if (bytchk == 0) {
        if (!task->lun->bdev->can_verify) {
            scsi_task_complete(task);
            return;
        }
        task->bio.type = BDEV_IO_VERIFY;
        task->bio.offset = r.lba * task->lun->bdev->block_size;
        task->bio.len = r.n * (uint64_t)task->lun->bdev->block_size;
        task->bio.iov = NULL;
        task->bio.iovcnt = 0;
        task->bio.fua = false;
        scsi_task_submit(task, medium_verify_done);
        return;
    }
    if (task->lun->bdev->block_size > sizeof(task->block_buf)) {
        fail_errno(task, -EINVAL, false);
        return;
    }
    task->lba = r.lba;
    task->nblocks = r.n;
    task->buf_off = 0;
    task->step = SCSI_STEP_CHECK | bytchk;
    /* Its reads must not see half of a WRITE ATOMIC (a false MISCOMPARE): counted like READ's. */
    if (!scsi_read_lock(task, task->lun, r.lba, r.n, verify_start))
        return;
    verify_start(task);
}

/*
 * PRE-FETCH (10/16).  The daemon keeps no cache of its own to load, so no
 * block is ever "transferred to the cache": SBC answers GOOD rather than
 * CONDITION MET in that case, with IMMED or without.  Only the range is checked.
 */
void scsi_sbc_prefetch(struct scsi_task *task)
{
    struct scsi_lba_range r = scsi_cdb_range(task->cdb);

    /* PREFETCH LENGTH 0 runs to the last block: the first one must exist. */
    if (!scsi_lba_range_ok(task->lun, r.lba, r.n) ||
        (r.n == 0 && r.lba >= scsi_lun_blocks(task->lun))) {
        fail_lba_range(task);
        return;
    }
    scsi_task_complete(task);
}

/*
 * READ DEFECT DATA (10/12): a virtual disk has no defects.  The header says
 * the requested lists (PLISTV/GLISTV follow REQ_PLIST/REQ_GLIST) are valid
 * and empty, in the requested format: with no descriptor any format is exact.
 */
void scsi_sbc_read_defect_data(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    bool twelve = cdb[0] == SCSI_OP_READ_DEFECT_DATA_12;
    uint8_t flags = twelve ? cdb[1] : cdb[2];
    uint8_t buf[8];

    /* Format 111b is reserved. */
    if ((flags & 0x07) == 0x07) {
        scsi_task_invalid_field(task, twelve ? 1 : 2, 2);
        return;
    }
    memset(buf, 0, sizeof(buf));
    buf[1] = flags & 0x1f;
    /* DEFECT LIST LENGTH stays 0: bytes 2-3 in the (10) header, 4-7 in the (12) one. */
    scsi_task_reply(task, buf, twelve ? 8 : 4, twelve ? get_be32(&cdb[6]) : get_be16(&cdb[7]));
}
