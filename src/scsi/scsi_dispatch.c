/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command table and scsi_task_execute(): every check that does not need
 * the command's own semantics (CDB length, unit attention, the LUN 0
 * stand-in, the data buffer against the transfer the CDB announces) happens
 * here, once, before a handler runs.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"
#include "scsi/scsi_pr.h"
#include "util/iov.h"

/*
 * The one table of commands: handler, CDB size, flags, how the expected
 * transfer follows from the CDB (kind, length field offset and width), and
 * the CDB usage data that REPORT SUPPORTED OPERATION CODES returns.  Opcodes
 * with service actions point at a sub-table.  Anything absent is INVALID
 * COMMAND OPERATION CODE.
 */
/* clang-format off */
#define U4   0xff, 0xff, 0xff, 0xff
#define U8   U4, U4
#define DISC (SCSI_CMD_UA_EXEMPT | SCSI_CMD_STANDIN) /* discovery commands */
#define STRICT SCSI_CMD_STRICT
#define CMD(name, fn, len, flags, xfer, off, width, ...) \
    { name, fn, len, flags, SCSI_XFER_##xfer, off, width, false, 0, { __VA_ARGS__ } }
#define SACMD(name, fn, len, flags, xfer, off, width, sa, ...) \
    { name, fn, len, flags, SCSI_XFER_##xfer, off, width, true, sa, { __VA_ARGS__ } }

static const struct scsi_cmd cmds_9e[] = {
    SACMD("READ CAPACITY(16)", scsi_sbc_read_capacity16, 16, 0, IN_ALLOC, 10, 4,
          SCSI_SAI_READ_CAPACITY_16, 0x9e, 0x10, U8, U4, 0x01, 0),
    SACMD("GET LBA STATUS", scsi_sbc_get_lba_status, 16, 0, IN_ALLOC, 10, 4,
          SCSI_SAI_GET_LBA_STATUS, 0x9e, 0x12, U8, U4, 0, 0),
};

/* CRYPTOGRAPHIC ERASE (03h) is absent: nothing is encrypted to forget. */
static const struct scsi_cmd cmds_48[] = {
    SACMD("SANITIZE OVERWRITE", scsi_sbc_sanitize, 10, STRICT, OUT_PARAM, 7, 2,
          SCSI_SANITIZE_OVERWRITE, 0x48, 0xa1, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
    SACMD("SANITIZE BLOCK ERASE", scsi_sbc_sanitize, 10, STRICT, OUT_PARAM, 7, 2,
          SCSI_SANITIZE_BLOCK_ERASE, 0x48, 0xa2, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
    SACMD("SANITIZE EXIT FAILURE MODE", scsi_sbc_sanitize, 10, STRICT, OUT_PARAM, 7, 2,
          SCSI_SANITIZE_EXIT_FAILURE, 0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
};

static const struct scsi_cmd cmds_a3[] = {
    SACMD("REPORT SUPPORTED OPERATION CODES", scsi_spc_report_opcodes, 12, 0, IN_ALLOC, 6, 4,
          SCSI_MI_REPORT_OPCODES, 0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, U4, 0, 0),
};

/* EXTENDED COPY: the LID1 form only (LID4, SA 01h, is not implemented). */
static const struct scsi_cmd cmds_83[] = {
    SACMD("EXTENDED COPY(LID1)", scsi_spc_extended_copy, 16, STRICT, OUT_PARAM, 10, 4,
          SCSI_XCOPY_LID1, 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, U4, 0, 0),
};

static const struct scsi_cmd cmds_84[] = {
    SACMD("RECEIVE COPY STATUS(LID1)", scsi_spc_receive_copy_results, 16, STRICT, IN_ALLOC, 10,
          4, SCSI_RCR_COPY_STATUS, 0x84, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, U4, 0, 0),
    SACMD("RECEIVE COPY OPERATING PARAMETERS", scsi_spc_receive_copy_results, 16, STRICT,
          IN_ALLOC, 10, 4, SCSI_RCR_OP_PARAMS, 0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, U4, 0, 0),
};

struct scsi_opcode {
    const struct scsi_cmd *cmds;
    unsigned ncmds;
};

#define ONE(...) { (const struct scsi_cmd[]){ CMD(__VA_ARGS__) }, 1 }
#define SA(tbl)  { tbl, sizeof(tbl) / sizeof(tbl[0]) }

static const struct scsi_opcode opcodes[256] = {
    [SCSI_OP_TEST_UNIT_READY] = ONE("TEST UNIT READY", scsi_spc_test_unit_ready, 6,
                                    SCSI_CMD_STANDIN, NONE, 0, 0, 0x00, 0, 0, 0, 0, 0),
    [SCSI_OP_REQUEST_SENSE] = ONE("REQUEST SENSE", scsi_spc_request_sense, 6, DISC,
                                  IN_ALLOC, 4, 1, 0x03, 0x01, 0, 0, 0xff, 0),
    [SCSI_OP_READ_6] = ONE("READ(6)", scsi_sbc_read_write, 6, 0, IN_BLOCKS, 4, 1,
                           0x08, 0x1f, 0xff, 0xff, 0xff, 0),
    [SCSI_OP_WRITE_6] = ONE("WRITE(6)", scsi_sbc_read_write, 6, 0, OUT_BLOCKS, 4, 1,
                            0x0a, 0x1f, 0xff, 0xff, 0xff, 0),
    [SCSI_OP_INQUIRY] = ONE("INQUIRY", scsi_spc_inquiry, 6, DISC, IN_ALLOC, 3, 2,
                            0x12, 0x01, 0xff, 0xff, 0xff, 0),
    [SCSI_OP_MODE_SELECT_6] = ONE("MODE SELECT(6)", scsi_mode_select, 6, 0, OUT_PARAM, 4, 1,
                                  0x15, 0x11, 0, 0, 0xff, 0),
    /* RESERVE/RELEASE(6/10): the logical unit only; third-party and extents are refused. */
    [SCSI_OP_RESERVE_6] = ONE("RESERVE(6)", scsi_pr_spc2_reserve, 6, STRICT, NONE, 0, 0,
                              0x16, 0, 0, 0, 0, 0),
    [SCSI_OP_RELEASE_6] = ONE("RELEASE(6)", scsi_pr_spc2_release, 6, STRICT, NONE, 0, 0,
                              0x17, 0, 0, 0, 0, 0),
    [SCSI_OP_MODE_SENSE_6] = ONE("MODE SENSE(6)", scsi_mode_sense, 6, 0, IN_ALLOC, 4, 1,
                                 0x1a, 0x08, 0xff, 0xff, 0xff, 0),
    [SCSI_OP_START_STOP_UNIT] = ONE("START STOP UNIT", scsi_spc_start_stop, 6, 0, NONE, 0, 0,
                                    0x1b, 0x01, 0, 0x0f, 0xf7, 0),
    [SCSI_OP_PREVENT_ALLOW] = ONE("PREVENT ALLOW MEDIUM REMOVAL", scsi_medium_prevent_allow, 6,
                                  STRICT, NONE, 0, 0, 0x1e, 0, 0, 0, 0x03, 0),
    /* IN_FIXED: the length is the response size, 8 bytes. */
    [SCSI_OP_READ_CAPACITY_10] = ONE("READ CAPACITY(10)", scsi_sbc_read_capacity10, 10, 0,
                                     IN_FIXED, 8, 0, 0x25, 0, U4, 0, 0, 0x01, 0),
    [SCSI_OP_READ_10] = ONE("READ(10)", scsi_sbc_read_write, 10, 0, IN_BLOCKS, 7, 2,
                            0x28, 0x18, U4, 0, 0xff, 0xff, 0),
    [SCSI_OP_WRITE_10] = ONE("WRITE(10)", scsi_sbc_read_write, 10, 0, OUT_BLOCKS, 7, 2,
                             0x2a, 0x18, U4, 0, 0xff, 0xff, 0),
    [SCSI_OP_WRITE_VERIFY_10] = ONE("WRITE AND VERIFY(10)", scsi_sbc_write_verify, 10, STRICT,
                                    OUT_BLOCKS, 7, 2, 0x2e, 0x16, U4, 0x1f, 0xff, 0xff, 0),
    [SCSI_OP_VERIFY_10] = ONE("VERIFY(10)", scsi_sbc_verify, 10, 0, OUT_VERIFY, 7, 2,
                              0x2f, 0x16, U4, 0, 0xff, 0xff, 0),
    [SCSI_OP_PREFETCH_10] = ONE("PRE-FETCH(10)", scsi_sbc_prefetch, 10, STRICT, NONE, 0, 0,
                                0x34, 0x02, U4, 0x1f, 0xff, 0xff, 0),
    [SCSI_OP_SYNC_CACHE_10] = ONE("SYNCHRONIZE CACHE(10)", scsi_sbc_sync_cache, 10, 0, NONE,
                                  0, 0, 0x35, 0x02, U4, 0, 0xff, 0xff, 0),
    [SCSI_OP_READ_DEFECT_DATA_10] = ONE("READ DEFECT DATA(10)", scsi_sbc_read_defect_data, 10,
                                        STRICT, IN_ALLOC, 7, 2,
                                        0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0),
    [SCSI_OP_WRITE_SAME_10] = ONE("WRITE SAME(10)", scsi_sbc_write_same, 10, 0, OUT_WSAME,
                                  7, 2, 0x41, 0x08, U4, 0, 0xff, 0xff, 0),
    [SCSI_OP_SANITIZE] = SA(cmds_48),
    [SCSI_OP_UNMAP] = ONE("UNMAP", scsi_sbc_unmap, 10, 0, OUT_PARAM, 7, 2,
                          0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
    [SCSI_OP_MODE_SELECT_10] = ONE("MODE SELECT(10)", scsi_mode_select, 10, 0, OUT_PARAM,
                                   7, 2, 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
    [SCSI_OP_RESERVE_10] = ONE("RESERVE(10)", scsi_pr_spc2_reserve, 10, STRICT, NONE, 0, 0,
                               0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    [SCSI_OP_RELEASE_10] = ONE("RELEASE(10)", scsi_pr_spc2_release, 10, STRICT, NONE, 0, 0,
                               0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    [SCSI_OP_MODE_SENSE_10] = ONE("MODE SENSE(10)", scsi_mode_sense, 10, 0, IN_ALLOC, 7, 2,
                                  0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0),
    /* The service action is checked by the handlers: an unknown one is a bad field, not opcode. */
    [SCSI_OP_PR_IN] = ONE("PERSISTENT RESERVE IN", scsi_pr_in, 10, STRICT, IN_ALLOC, 7, 2,
                          0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
    [SCSI_OP_PR_OUT] = ONE("PERSISTENT RESERVE OUT", scsi_pr_out, 10, STRICT, OUT_PARAM, 5, 4,
                           0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0),
    [SCSI_OP_EXTENDED_COPY] = SA(cmds_83),
    [SCSI_OP_RECEIVE_COPY_RESULT] = SA(cmds_84),
    [SCSI_OP_READ_16] = ONE("READ(16)", scsi_sbc_read_write, 16, 0, IN_BLOCKS, 10, 4,
                            0x88, 0x18, U8, U4, 0, 0),
    /* OUT_CAW: the data-out is twice NUMBER OF LOGICAL BLOCKS (byte 13) blocks. */
    [SCSI_OP_COMPARE_AND_WRITE] = ONE("COMPARE AND WRITE", scsi_sbc_compare_and_write, 16,
                                      STRICT, OUT_CAW, 13, 1,
                                      0x89, 0x18, U8, 0, 0, 0, 0xff, 0x1f, 0),
    [SCSI_OP_WRITE_16] = ONE("WRITE(16)", scsi_sbc_read_write, 16, 0, OUT_BLOCKS, 10, 4,
                             0x8a, 0x18, U8, U4, 0, 0),
    [SCSI_OP_ORWRITE_16] = ONE("ORWRITE(16)", scsi_sbc_orwrite, 16, STRICT, OUT_BLOCKS, 10, 4,
                               0x8b, 0x18, U8, U4, 0x1f, 0),
    [SCSI_OP_WRITE_VERIFY_16] = ONE("WRITE AND VERIFY(16)", scsi_sbc_write_verify, 16, STRICT,
                                    OUT_BLOCKS, 10, 4, 0x8e, 0x16, U8, U4, 0x1f, 0),
    [SCSI_OP_VERIFY_16] = ONE("VERIFY(16)", scsi_sbc_verify, 16, 0, OUT_VERIFY, 10, 4,
                              0x8f, 0x16, U8, U4, 0, 0),
    [SCSI_OP_PREFETCH_16] = ONE("PRE-FETCH(16)", scsi_sbc_prefetch, 16, STRICT, NONE, 0, 0,
                                0x90, 0x02, U8, U4, 0x1f, 0),
    [SCSI_OP_SYNC_CACHE_16] = ONE("SYNCHRONIZE CACHE(16)", scsi_sbc_sync_cache, 16, 0, NONE,
                                  0, 0, 0x91, 0x02, U8, U4, 0, 0),
    [SCSI_OP_WRITE_SAME_16] = ONE("WRITE SAME(16)", scsi_sbc_write_same, 16, 0, OUT_WSAME,
                                  10, 4, 0x93, 0x09, U8, U4, 0, 0),
    /* ATOMIC BOUNDARY (bytes 10-11) and GROUP NUMBER are not supported: refused non-zero. */
    [SCSI_OP_WRITE_ATOMIC_16] = ONE("WRITE ATOMIC(16)", scsi_sbc_write_atomic, 16, STRICT,
                                    OUT_BLOCKS, 12, 2, 0x9c, 0x18, U8, 0, 0, 0xff, 0xff, 0, 0),
    [SCSI_OP_SERVICE_ACTION_IN] = SA(cmds_9e),
    [SCSI_OP_REPORT_LUNS] = ONE("REPORT LUNS", scsi_spc_report_luns, 12, DISC, IN_ALLOC, 6, 4,
                                0xa0, 0, 0xff, 0, 0, 0, U4, 0, 0),
    [SCSI_OP_MAINTENANCE_IN] = SA(cmds_a3),
    [SCSI_OP_READ_12] = ONE("READ(12)", scsi_sbc_read_write, 12, 0, IN_BLOCKS, 6, 4,
                            0xa8, 0x18, U4, U4, 0, 0),
    [SCSI_OP_WRITE_12] = ONE("WRITE(12)", scsi_sbc_read_write, 12, 0, OUT_BLOCKS, 6, 4,
                             0xaa, 0x18, U4, U4, 0, 0),
    [SCSI_OP_WRITE_VERIFY_12] = ONE("WRITE AND VERIFY(12)", scsi_sbc_write_verify, 12, STRICT,
                                    OUT_BLOCKS, 6, 4, 0xae, 0x16, U4, U4, 0x1f, 0),
    [SCSI_OP_VERIFY_12] = ONE("VERIFY(12)", scsi_sbc_verify, 12, 0, OUT_VERIFY, 6, 4,
                              0xaf, 0x16, U4, U4, 0, 0),
    /* The ADDRESS DESCRIPTOR INDEX is taken as is: an empty list has no descriptor to skip. */
    [SCSI_OP_READ_DEFECT_DATA_12] = ONE("READ DEFECT DATA(12)", scsi_sbc_read_defect_data, 12,
                                        STRICT, IN_ALLOC, 6, 4, 0xb7, 0x1f, U4, U4, 0, 0),
};
/* clang-format on */

const struct scsi_cmd *scsi_cmd_find(uint8_t opcode, uint16_t sa, bool *opcode_known)
{
    const struct scsi_opcode *op = &opcodes[opcode];

    *opcode_known = op->ncmds != 0;
    for (unsigned i = 0; i < op->ncmds; i++) {
        if (!op->cmds[i].has_sa || op->cmds[i].sa == sa)
            return &op->cmds[i];
    }
    return NULL;
}

const struct scsi_cmd *scsi_cmd_at(unsigned idx)
{
    for (unsigned op = 0; op < 256; op++) {
        if (idx < opcodes[op].ncmds)
            return &opcodes[op].cmds[idx];
        idx -= opcodes[op].ncmds;
    }
    return NULL;
}

enum scsi_io_kind scsi_cdb_io_kind(const uint8_t *cdb)
{
    bool known;
    const struct scsi_cmd *cmd = scsi_cmd_find(cdb[0], cdb[1] & 0x1f, &known);

    if (cmd == NULL)
        return SCSI_IO_OTHER;
    /* How the data moves says most of it; the two commands without data that count, by name. */
    switch (cmd->xfer) {
    case SCSI_XFER_IN_BLOCKS:
        return SCSI_IO_READ;
    case SCSI_XFER_OUT_BLOCKS:
    case SCSI_XFER_OUT_CAW: /* counted with its whole data-out */
        return SCSI_IO_WRITE;
    case SCSI_XFER_OUT_WSAME:
        return (cdb[1] & SCSI_WS_UNMAP) ? SCSI_IO_UNMAP : SCSI_IO_WRITE_ZEROES;
    case SCSI_XFER_OUT_VERIFY:
        return SCSI_IO_VERIFY;
    default:
        if (cmd->handler == scsi_sbc_unmap)
            return SCSI_IO_UNMAP;
        if (cmd->handler == scsi_sbc_sync_cache)
            return SCSI_IO_FLUSH;
        return SCSI_IO_OTHER;
    }
}

uint32_t scsi_max_xfer_blocks(const struct bdev *bdev)
{
    return SCSI_MAX_XFER_BYTES / bdev->block_size;
}

void scsi_task_complete(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;

    /*
     * The transport's callback still reads the LUN (statistics): only then
     * does the task stop counting, so a LUN being detached outlives it.
     * The range goes first: once done() ran the slot may carry a new task.
     */
    scsi_range_unlock(task);
    task->done(task);
    atomic_fetch_sub(&lun->inflight, 1);
}

void scsi_task_fail(struct scsi_task *task, uint8_t key, uint8_t asc, uint8_t ascq)
{
    scsi_task_set_sense(task, key, asc, ascq);
    scsi_task_complete(task);
}

void scsi_task_invalid_cdb(struct scsi_task *task)
{
    scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
}

void scsi_task_invalid_field(struct scsi_task *task, unsigned byte, int bit)
{
    scsi_task_set_sense(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
    scsi_sense_set_field(task, true, byte, bit);
    scsi_task_complete(task);
}

void scsi_task_invalid_param(struct scsi_task *task, unsigned byte, int bit)
{
    scsi_task_set_sense(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM, 0);
    scsi_sense_set_field(task, false, byte, bit);
    scsi_task_complete(task);
}

void scsi_task_reply(struct scsi_task *task, const void *buf, size_t len, size_t alloc)
{
    size_t n = len < alloc ? len : alloc;

    if (task->dir != SCSI_DIR_FROM_DEV)
        n = 0;
    if (n > task->iov_len)
        n = task->iov_len;
    task->data_len = iov_from_buf(task->iov, task->iovcnt, 0, buf, n);
    task->status = SCSI_STATUS_GOOD;
    scsi_task_complete(task);
}

static void scsi_bio_cb(struct bdev_io *io, int result)
{
    struct scsi_task *task = (struct scsi_task *)((char *)io - offsetof(struct scsi_task, bio));

    if (task->io_submitting) {
        /* Inline completion: the submit loop below carries on without recursing. */
        task->io_result = result;
        task->io_completed = true;
        return;
    }
    task->io_in_flight = false;
    if (task->io_next(task, result))
        scsi_task_submit(task, task->io_next);
}

void scsi_task_submit(struct scsi_task *task, bool (*next)(struct scsi_task *task, int result))
{
    for (;;) {
        int rc;

        /* An aborted multi-step command stops here: the step it prepared fails instead. */
        if (task->aborted) {
            if (!next(task, -ECANCELED))
                return;
            continue;
        }
        task->io_next = next;
        task->io_completed = false;
        task->io_submitting = true;
        task->bio.cb = scsi_bio_cb;
        rc = bdev_submit(task->io_bdev != NULL ? task->io_bdev : task->lun->bdev, task->loop,
                         &task->bio);
        task->io_submitting = false;
        if (rc == 0 && !task->io_completed) {
            task->io_in_flight = true;
            return; /* scsi_bio_cb continues later, on this thread */
        }
        if (!next(task, rc < 0 ? rc : task->io_result))
            return;
    }
}

void scsi_task_abort(struct scsi_task *task)
{
    task->aborted = true;
    if (task->io_in_flight)
        bdev_cancel(task->io_bdev != NULL ? task->io_bdev : task->lun->bdev, &task->bio);
}

/* The transfer the CDB announces, in bytes; exact: the buffer must hold all of it. */
static uint64_t expected_xfer(const struct scsi_task *task, const struct scsi_cmd *cmd,
                              enum scsi_data_dir *dir, bool *exact)
{
    const uint8_t *cdb = task->cdb;
    uint64_t field = 0, bs = task->lun->bdev != NULL ? task->lun->bdev->block_size : 0;

    switch (cmd->len_size) {
    case 1:
        field = cdb[cmd->len_off];
        break;
    case 2:
        field = get_be16(&cdb[cmd->len_off]);
        break;
    case 4:
        field = get_be32(&cdb[cmd->len_off]);
        break;
    }
    *exact = true;
    switch (cmd->xfer) {
    case SCSI_XFER_IN_ALLOC:
        *dir = SCSI_DIR_FROM_DEV;
        *exact = false;
        return field;
    case SCSI_XFER_IN_FIXED:
        *dir = SCSI_DIR_FROM_DEV;
        *exact = false;
        return cmd->len_off;
    case SCSI_XFER_IN_BLOCKS:
    case SCSI_XFER_OUT_BLOCKS:
        *dir = cmd->xfer == SCSI_XFER_IN_BLOCKS ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
        if (cmd->len_size == 1 && field == 0)
            field = 256; /* READ(6)/WRITE(6) */
        return field * bs;
    case SCSI_XFER_OUT_CAW:
        *dir = SCSI_DIR_TO_DEV;
        return 2 * field * bs;
    case SCSI_XFER_OUT_PARAM:
        *dir = SCSI_DIR_TO_DEV;
        return field;
    case SCSI_XFER_OUT_WSAME:
        *dir = SCSI_DIR_TO_DEV;
        *exact = false; /* any other size is refused by the handler, as a bad request */
        if (cdb[0] == SCSI_OP_WRITE_SAME_16 && (cdb[1] & SCSI_WS_NDOB))
            return 0;
        return bs;
    case SCSI_XFER_OUT_VERIFY:
        *dir = SCSI_DIR_TO_DEV;
        switch ((cdb[1] >> 1) & 3) {
        case 1:
            return field * bs;
        case 3:
            return field != 0 ? bs : 0;
        default:
            return 0;
        }
    default:
        *dir = SCSI_DIR_NONE;
        return 0;
    }
}

/*
 * SCSI_CMD_STRICT: a bit set outside the usage data (between the operation
 * code and CONTROL) is a field we do not implement.  Returns the CDB byte, and
 * the highest such bit in *bit, or -1 when there is none.
 */
static int unused_bits(const struct scsi_task *task, const struct scsi_cmd *cmd, int *bit)
{
    for (unsigned i = 1; i + 1 < cmd->cdb_len; i++) {
        uint8_t bad = task->cdb[i] & (uint8_t)~cmd->usage[i];

        if (bad != 0) {
            *bit = 31 - __builtin_clz(bad);
            return (int)i;
        }
    }
    return -1;
}

static bool buffer_fits(const struct scsi_task *task, const struct scsi_cmd *cmd)
{
    enum scsi_data_dir dir;
    bool exact;
    uint64_t need = expected_xfer(task, cmd, &dir, &exact);

    if (need == 0)
        return true;
    if (task->iov_len > 0 && task->dir != dir)
        return false;
    return !exact || (task->dir == dir && task->iov_len >= need);
}

void scsi_task_execute(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;
    const struct scsi_cmd *cmd;
    bool opcode_known;
    uint8_t asc, ascq;
    unsigned cdb_len = task->cdb_len < SCSI_CDB_MAX ? task->cdb_len : SCSI_CDB_MAX;

    atomic_fetch_add(&lun->inflight, 1);
    task->status = SCSI_STATUS_GOOD;
    task->sense_len = 0;
    task->data_len = 0;
    task->overrun = false;
    task->io_submitting = false;
    task->io_in_flight = false;
    task->aborted = false;
    task->rl_state = SCSI_RL_NONE;
    task->io_bdev = NULL;

    if (cdb_len == 0) {
        scsi_task_invalid_cdb(task);
        return;
    }
    cmd = scsi_cmd_find(task->cdb[0], task->cdb[1] & 0x1f, &opcode_known);
    if (cmd != NULL && cdb_len < cmd->cdb_len) {
        scsi_task_invalid_cdb(task);
        return;
    }
    if ((cmd == NULL || !(cmd->flags & SCSI_CMD_UA_EXEMPT)) && scsi_ua_take(lun, &asc, &ascq)) {
        scsi_task_fail(task, SCSI_SK_UNIT_ATTENTION, asc, ascq);
        return;
    }
    if (lun->bdev == NULL && (cmd == NULL || !(cmd->flags & SCSI_CMD_STANDIN))) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, 0);
        return;
    }
    if (cmd == NULL) {
        /* SBC-4 5.30: an unsupported SANITIZE service action is a field of a known command. */
        if (opcode_known && task->cdb[0] == SCSI_OP_SANITIZE)
            scsi_task_invalid_field(task, 1, 4);
        else
            scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE, 0);
        return;
    }
    if (!(cmd->flags & SCSI_CMD_UA_EXEMPT) && scsi_unit_sanitizing(lun)) {
        scsi_task_set_sense(task, SCSI_SK_NOT_READY, SCSI_ASC_NOT_READY,
                            SCSI_ASCQ_SANITIZE_IN_PROGRESS);
        scsi_sense_set_progress(task, atomic_load(&lun->unit->sanitize_progress));
        scsi_task_complete(task);
        return;
    }
    if (scsi_unit_medium_absent(lun) && scsi_medium_needed(cmd)) {
        scsi_task_fail(task, SCSI_SK_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT, 0);
        return;
    }
    /* A failed sanitize leaves the medium unusable until EXIT FAILURE MODE or a new one. */
    if (lun->unit != NULL && atomic_load(&lun->unit->sanitize_failed) && scsi_medium_needed(cmd) &&
        cmd->usage[0] != SCSI_OP_SANITIZE) {
        scsi_task_fail(task, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_MEDIUM_FORMAT_CORRUPT,
                       SCSI_ASCQ_SANITIZE_FAILED);
        return;
    }
    /* Linked commands and ACA are not supported (SAM-5 5.10). */
    if (task->cdb[cmd->cdb_len - 1] & SCSI_CDB_NACA) {
        scsi_task_invalid_field(task, cmd->cdb_len - 1u, 2);
        return;
    }
    if (cmd->flags & SCSI_CMD_STRICT) {
        int bit, byte = unused_bits(task, cmd, &bit);

        if (byte >= 0) {
            scsi_task_invalid_field(task, (unsigned)byte, bit);
            return;
        }
    }
    /* One atomic load unless a reservation restricts this I_T nexus. */
    if (scsi_pr_conflict(task)) {
        task->status = SCSI_STATUS_RESERVATION_CONFLICT;
        scsi_task_complete(task);
        return;
    }
    if (!buffer_fits(task, cmd)) {
        task->overrun = true;
        scsi_task_complete(task);
        return;
    }
    cmd->handler(task);
}
