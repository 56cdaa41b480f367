/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * COMPARE AND WRITE (SBC-3): the data-out holds NUMBER OF LOGICAL BLOCKS
 * blocks to compare with the medium, then as many to write there if all of
 * them matched.  Its range is held exclusive in the LUN's range lock from
 * before the first read until the write completed, and every write command
 * holds its range shared, so no other write can land between compare and
 * write, whatever queue or worker it comes from.
 *
 * The compare reads a chunk at a time into task->block_buf (no allocation);
 * the write is an ordinary WRITE of the second half of the buffer.
 *
 * ORWRITE(16) is the other read-modify-write command: each chunk is read,
 * ORed with the data-out and written back, under the same exclusive range.
 *
 * WRITE ATOMIC(16) shares their checks and takes its range in the mode that
 * also keeps reads out (SCSI_RL_ATOMIC), for backends that promise atomicity.
 */
#include <errno.h>
#include <string.h>

#include "util/iov.h"

#include "scsi/scsi_internal.h"

static bool caw_next(struct scsi_task *task, int result)
{
    uint32_t bs = task->lun->bdev->block_size;
    uint64_t n;

    if (!(task->step & SCSI_STEP_CAW))
        return scsi_rw_next(task, result);
    if (result < 0) {
        scsi_task_set_errno(task, result, false);
        scsi_task_complete(task);
        return false;
    }
    if (!scsi_compare_chunk(task, 0, false))
        return false; /* MISCOMPARE: nothing was written */
    task->lba += task->bio.len / bs;
    task->nblocks -= task->bio.len / bs;
    task->buf_off += task->bio.len;
    if (task->nblocks > 0)
        return scsi_read_chunk(task);

    /* All equal: write the second half of the data-out over the same blocks. */
    n = task->buf_off / bs;
    task->lba -= n;
    task->nblocks = n;
    task->step &= ~(unsigned)SCSI_STEP_CAW;
    task->step |= SCSI_STEP_WRITE;
    return scsi_rw_prepare(task);
}

/*
 * The checks and set-up COMPARE AND WRITE and ORWRITE share once their own
 * CDB fields passed: the range, a writable LUN, room for a block in
 * block_buf, and the write's FUA (asked, or the write cache off: WCE=0).
 * False when the task already ended (zero blocks: nothing read, compared or
 * written, and that is no error).
 */
static bool rmw_begin(struct scsi_task *task, uint64_t lba, uint32_t n)
{
    const struct bdev *bdev = task->lun->bdev;

    if (!scsi_lba_range_ok(task->lun, lba, n)) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
        return false;
    }
    if (bdev->readonly) {
        scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return false;
    }
    if (n == 0) {
        scsi_task_complete(task);
        return false;
    }
    if (bdev->block_size > sizeof(task->block_buf)) {
        scsi_task_set_errno(task, -EINVAL, false);
        scsi_task_complete(task);
        return false;
    }
    task->lba = lba;
    task->nblocks = n;
    task->buf_off = 0;
    task->step = (task->cdb[1] & SCSI_CDB_FUA) || !atomic_load(&task->lun->wce) ? SCSI_STEP_FUA : 0;
    return true;
}

/* Runs once the range is held exclusive. */
static void caw_start(struct scsi_task *task)
{
    if (scsi_read_chunk(task))
        scsi_task_submit(task, caw_next);
}

void scsi_sbc_compare_and_write(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    uint64_t lba = get_be64(&cdb[2]);
    uint32_t n = cdb[13];

    /* No protection information: WRPROTECT must be zero (also refused as unused bits). */
    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (n > SCSI_MAX_CAW_BLOCKS) {
        scsi_task_invalid_field(task, 13, -1);
        return;
    }
    if (!rmw_begin(task, lba, n))
        return;
    task->step |= SCSI_STEP_CAW;
    if (!scsi_range_lock(task, lba, n, true, caw_start))
        return;
    caw_start(task);
}

#define OR_WRITING 0x80 /* task->step of ORWRITE: the chunk in block_buf is being written */

static bool orwrite_next(struct scsi_task *task, int result)
{
    uint32_t bs = task->lun->bdev->block_size;
    size_t len = task->bio.len;
    uint8_t in[sizeof(task->block_buf)];

    if (result < 0) {
        scsi_task_set_errno(task, result, task->step & OR_WRITING);
        scsi_task_complete(task);
        return false;
    }
    if (!(task->step & OR_WRITING)) {
        /* The chunk read: OR the data-out into it and write it back in place. */
        if (iov_to_buf(task->iov, task->iovcnt, task->buf_off, in, len) != len) {
            scsi_task_set_errno(task, -EINVAL, false);
            scsi_task_complete(task);
            return false;
        }
        for (size_t i = 0; i < len; i++)
            task->block_buf[i] |= in[i];
        task->bio.type = BDEV_IO_WRITE;
        task->bio.fua = task->step & SCSI_STEP_FUA;
        task->step |= OR_WRITING;
        return true;
    }
    task->step &= ~(unsigned)OR_WRITING;
    task->lba += len / bs;
    task->nblocks -= len / bs;
    task->buf_off += len;
    task->data_len = task->buf_off;
    if (task->nblocks == 0) {
        scsi_task_complete(task);
        return false;
    }
    return scsi_read_chunk(task);
}

static void orwrite_start(struct scsi_task *task)
{
    if (scsi_read_chunk(task))
        scsi_task_submit(task, orwrite_next);
}

void scsi_sbc_orwrite(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct bdev *bdev = task->lun->bdev;
    struct scsi_lba_range r = scsi_cdb_range(cdb);

    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (r.n > scsi_max_xfer_blocks(bdev)) {
        scsi_task_invalid_field(task, r.n_off, -1);
        return;
    }
    if (!rmw_begin(task, r.lba, r.n))
        return;
    /* Read, OR, write: no other write may come between, so the range is exclusive. */
    if (!scsi_range_lock(task, r.lba, r.n, true, orwrite_start))
        return;
    orwrite_start(task);
}

uint32_t scsi_atomic_max_blocks(const struct bdev *bdev)
{
    uint64_t max = bdev->atomic_max_bytes / bdev->block_size;

    /* Never past MAXIMUM TRANSFER LENGTH (SBC-4 requires it, and it is what we take). */
    return max < scsi_max_xfer_blocks(bdev) ? (uint32_t)max : scsi_max_xfer_blocks(bdev);
}

uint32_t scsi_atomic_gran_blocks(const struct bdev *bdev)
{
    uint32_t g = bdev->atomic_gran_bytes / bdev->block_size;

    return scsi_atomic_max_blocks(bdev) != 0 && g > 1 ? g : 0;
}

static void atomic_start(struct scsi_task *task)
{
    if (scsi_rw_prepare(task))
        scsi_task_submit(task, scsi_rw_next);
}

/*
 * WRITE ATOMIC(16) (SBC-4): an ordinary write, under an exclusive range that
 * also waits out and holds off reads (SCSI_RL_ATOMIC), so that no other
 * command sees part of it; the backend's atomic_max_bytes is its promise
 * about a power loss.  The ATOMIC BOUNDARY field is outside the usage data
 * (no boundary support): the dispatcher refuses it non-zero.
 */
void scsi_sbc_write_atomic(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct bdev *bdev = task->lun->bdev;
    uint64_t lba = get_be64(&cdb[2]);
    uint32_t n = get_be16(&cdb[12]), max = scsi_atomic_max_blocks(bdev);
    uint32_t gran = scsi_atomic_gran_blocks(bdev);

    /* SBC-4: a LUN whose MAXIMUM ATOMIC TRANSFER LENGTH is 0 does not support the command. */
    if (max == 0) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE, 0);
        return;
    }
    if (cdb[1] & SCSI_CDB_PROTECT) {
        scsi_task_invalid_field(task, 1, 7);
        return;
    }
    if (n > max) {
        scsi_task_invalid_field(task, 12, -1);
        return;
    }
    if (gran > 1 && lba % gran != 0) {
        scsi_task_invalid_field(task, 2, -1);
        return;
    }
    if (gran > 1 && n % gran != 0) {
        scsi_task_invalid_field(task, 12, -1);
        return;
    }
    if (!rmw_begin(task, lba, n))
        return;
    task->step |= SCSI_STEP_WRITE;
    if (!scsi_range_lock(task, lba, n, SCSI_RL_ATOMIC, atomic_start))
        return;
    atomic_start(task);
}
