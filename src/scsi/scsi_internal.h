/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private interface between the files of the SCSI target emulation: the
 * command table (scsi_dispatch.c), the command handlers (scsi_spc.c,
 * scsi_vpd.c, scsi_mode.c, scsi_sbc.c) and the helpers they share.
 */
#ifndef VUS_SCSI_SCSI_INTERNAL_H
#define VUS_SCSI_SCSI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "scsi/scsi.h"
#include "scsi/scsi_proto.h"

/* How the expected data transfer of a command follows from its CDB. */
enum scsi_xfer {
    SCSI_XFER_NONE,
    SCSI_XFER_IN_ALLOC,   /* data-in, at most the ALLOCATION LENGTH field; may be truncated */
    SCSI_XFER_IN_FIXED,   /* data-in of a fixed size (len_off holds it); may be truncated */
    SCSI_XFER_IN_BLOCKS,  /* data-in of TRANSFER LENGTH blocks: the buffer must hold all */
    SCSI_XFER_OUT_BLOCKS, /* data-out of TRANSFER LENGTH blocks */
    SCSI_XFER_OUT_PARAM,  /* data-out of PARAMETER LIST LENGTH bytes */
    SCSI_XFER_OUT_WSAME,  /* WRITE SAME: one block unless NDOB */
    SCSI_XFER_OUT_VERIFY, /* VERIFY: depends on BYTCHK */
    SCSI_XFER_OUT_CAW,    /* COMPARE AND WRITE: twice NUMBER OF LOGICAL BLOCKS blocks */
};

#define SCSI_CMD_UA_EXEMPT 0x01 /* runs without reporting a pending unit attention */
#define SCSI_CMD_STANDIN   0x02 /* answered by the LUN 0 stand-in */
/*
 * Every CDB bit outside the usage data (bytes 1 to the one before CONTROL) is
 * refused with INVALID FIELD IN CDB pointing at it, before the handler runs.
 */
#define SCSI_CMD_STRICT 0x04

typedef void (*scsi_handler)(struct scsi_task *task);

struct scsi_cmd {
    const char *name;
    scsi_handler handler;
    uint8_t cdb_len;
    uint8_t flags;
    uint8_t xfer;     /* enum scsi_xfer */
    uint8_t len_off;  /* CDB byte of the length field (IN_FIXED: the size) */
    uint8_t len_size; /* its width in bytes */
    bool has_sa;
    uint16_t sa;
    uint8_t usage[16]; /* CDB usage data for REPORT SUPPORTED OPERATION CODES */
};

/*
 * Command lookup.  *opcode_known tells an opcode we know with an unknown
 * service action apart from an unknown opcode.
 */
const struct scsi_cmd *scsi_cmd_find(uint8_t opcode, uint16_t sa, bool *opcode_known);
/* i-th command of the table in opcode order, NULL past the end. */
const struct scsi_cmd *scsi_cmd_at(unsigned i);
/*
 * Room for the table in REPORT SUPPORTED OPERATION CODES' full reply (each
 * command 8 bytes plus 12 of timeouts): test_scsi_dispatch checks that
 * the table stays within it.
 */
#define SCSI_MAX_COMMANDS 160

/* Finish the task: inflight accounting, then done(). */
void scsi_task_complete(struct scsi_task *task);
/* Set CHECK CONDITION and finish. */
void scsi_task_fail(struct scsi_task *task, uint8_t key, uint8_t asc, uint8_t ascq);
void scsi_task_invalid_cdb(struct scsi_task *task);
/*
 * INVALID FIELD IN CDB / IN PARAMETER LIST naming the offending byte (and bit,
 * or -1) in the sense-key specific field, as SPC-4 asks device servers to.
 */
void scsi_task_invalid_field(struct scsi_task *task, unsigned byte, int bit);
void scsi_task_invalid_param(struct scsi_task *task, unsigned byte, int bit);
/* Point the sense-key specific FIELD POINTER at byte/bit of the CDB or parameter data. */
void scsi_sense_set_field(struct scsi_task *task, bool in_cdb, unsigned byte, int bit);
/* The sense-key specific PROGRESS INDICATION (of 65536), for NOT READY while sanitizing. */
void scsi_sense_set_progress(struct scsi_task *task, uint16_t progress);
/* Record the byte count of a data-in response capped by alloc and by the buffer, and finish. */
void scsi_task_reply(struct scsi_task *task, const void *buf, size_t len, size_t alloc);
/* Fill sense from a backend errno (bdev_io result); write: the I/O modified the medium. */
void scsi_task_set_errno(struct scsi_task *task, int err, bool write);
/* Set the INFORMATION field of the sense data built by scsi_task_set_sense. */
void scsi_sense_set_info(struct scsi_task *task, uint64_t info);
/*
 * Sense data into buf (>= SCSI_SENSE_FIXED_LEN): descriptor format (desc, no
 * descriptors yet) or fixed format.  Returns its length.
 */
size_t scsi_sense_build(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq);

/*
 * Submit task->bio (prepared but for cb) and continue with next(task, result)
 * when it completes.  next returns true when it prepared another bio to
 * submit, false when it finished the task.  Inline completions do not recurse.
 */
void scsi_task_submit(struct scsi_task *task, bool (*next)(struct scsi_task *task, int result));

/* Range lock states of a task (task->rl_state). */
#define SCSI_RL_NONE    0
#define SCSI_RL_HELD    1
#define SCSI_RL_WAITING 2
#define SCSI_RL_READER  3 /* counted in rl_lun->rl->readers, no range */

/* Range lock modes (the mode argument; false/true still mean shared/exclusive). */
#define SCSI_RL_SHARED 0 /* writes */
#define SCSI_RL_EXCL   1 /* COMPARE AND WRITE, ORWRITE: no write overlaps */
#define SCSI_RL_ATOMIC 2 /* WRITE ATOMIC: no write and no read overlaps */

/*
 * Take [lba, lba + n) of task's LUN in mode.  Returns true when granted now:
 * the caller goes on.  Returns false when the task was queued: start(task)
 * runs once the range is free (and, ATOMIC, the reads in progress are
 * done), on the task's worker loop (inline when task->loop is NULL, as in
 * unit tests).  The range is released by scsi_task_complete.
 */
bool scsi_range_lock(struct scsi_task *task, uint64_t lba, uint64_t n, unsigned mode,
                     void (*start)(struct scsi_task *task));
/* The same on another LUN than task->lun (EXTENDED COPY's destination). */
bool scsi_range_lock_lun(struct scsi_task *task, struct scsi_lun *lun, uint64_t lba, uint64_t n,
                         unsigned mode, void (*start)(struct scsi_task *task));
/*
 * A read of [lba, lba + n) of lun: without a WRITE ATOMIC on the LUN it is
 * only counted (no mutex) and true is returned; otherwise it waits like
 * scsi_range_lock in shared mode.  Released by scsi_range_unlock.
 */
bool scsi_read_lock(struct scsi_task *task, struct scsi_lun *lun, uint64_t lba, uint64_t n,
                    void (*start)(struct scsi_task *task));
/* Release task's range (no-op unless held) and start the waiters it was blocking. */
void scsi_range_unlock(struct scsi_task *task);
void scsi_range_lock_init(struct scsi_range_lock *rl);
void scsi_range_lock_fini(struct scsi_range_lock *rl);

/* Blocks on the LUN. */
static inline uint64_t scsi_lun_blocks(const struct scsi_lun *lun)
{
    return lun->bdev->size / lun->bdev->block_size;
}

/* lba + n within the LUN, written so that lba + n cannot wrap. */
static inline bool scsi_lba_range_ok(const struct scsi_lun *lun, uint64_t lba, uint64_t n)
{
    uint64_t blocks = scsi_lun_blocks(lun);

    return lba <= blocks && n <= blocks - lba;
}

/* LBA and block count of a READ/WRITE/VERIFY/WRITE SAME/SYNCHRONIZE CACHE CDB. */
struct scsi_lba_range {
    uint64_t lba;
    uint32_t n;
    uint8_t n_off; /* CDB byte where the block count starts (for field pointers) */
};
struct scsi_lba_range scsi_cdb_range(const uint8_t *cdb);

/* Largest READ/WRITE/VERIFY transfer, in blocks (VPD B0h MAXIMUM TRANSFER LENGTH). */
uint32_t scsi_max_xfer_blocks(const struct bdev *bdev);
#define SCSI_MAX_WS_BLOCKS    (1u << 20)  /* MAXIMUM WRITE SAME LENGTH */
#define SCSI_MAX_UNMAP_BLOCKS 0xffffffffu /* MAXIMUM UNMAP LBA COUNT: no limit */
#define SCSI_MAX_UNMAP_DESCS  255u        /* the descriptor list must fit in task->block_buf */
#define SCSI_MAX_XFER_BYTES   (8u << 20)

/* MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h): the most its one-byte field can carry. */
#define SCSI_MAX_CAW_BLOCKS 255u

/*
 * WRITE ATOMIC limits (VPD B0h): MAXIMUM ATOMIC TRANSFER LENGTH in blocks (0:
 * the backend cannot, the command is refused) and the ATOMIC ALIGNMENT and
 * TRANSFER LENGTH GRANULARITY in blocks (0: none).
 */
uint32_t scsi_atomic_max_blocks(const struct bdev *bdev);
uint32_t scsi_atomic_gran_blocks(const struct bdev *bdev);

/*
 * task->step of READ/WRITE and the commands built on them: what the next
 * completion of scsi_rw_next() means.
 */
#define SCSI_STEP_WRITE  0x01 /* READ/WRITE phase: a write */
#define SCSI_STEP_FUA    0x02
#define SCSI_STEP_VERIFY 0x04 /* WRITE AND VERIFY: verify once the write is done */
#define SCSI_STEP_BYTCHK 0x08 /* ... by comparing with the data-out */
#define SCSI_STEP_CHECK  0x10 /* verify phase: low two bits are BYTCHK */
#define SCSI_STEP_MEDIUM 0x20 /* verify phase: a BDEV_IO_VERIFY is in flight */
#define SCSI_STEP_CAW    0x40 /* COMPARE AND WRITE: compare phase */

/* Describe the next piece of a READ/WRITE at task->lba/nblocks/buf_off; false: failed. */
bool scsi_rw_prepare(struct scsi_task *task);
/* Completion of a READ/WRITE piece (and of the verify steps that follow a WRITE AND VERIFY). */
bool scsi_rw_next(struct scsi_task *task, int result);
/* Read the next chunk at task->lba (at most task->nblocks blocks) into task->block_buf. */
bool scsi_read_chunk(struct scsi_task *task);
/*
 * Compare the chunk just read into block_buf with the data-out at base +
 * buf_off (one_block: every block against the block at base).  On a
 * difference, finish with MISCOMPARE and the offset of the first differing
 * byte in INFORMATION, and return false.
 */
bool scsi_compare_chunk(struct scsi_task *task, size_t base, bool one_block);

/* Big-endian field access into CDBs and response buffers. */
static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t get_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* Handlers. */
void scsi_spc_test_unit_ready(struct scsi_task *task);
void scsi_spc_request_sense(struct scsi_task *task);
void scsi_spc_inquiry(struct scsi_task *task);
void scsi_spc_report_luns(struct scsi_task *task);
void scsi_spc_start_stop(struct scsi_task *task);
void scsi_spc_report_opcodes(struct scsi_task *task);
void scsi_mode_sense(struct scsi_task *task);
void scsi_mode_select(struct scsi_task *task);
/* VPD page (EVPD=1) into buf (>= 256 bytes); returns its length or 0 if unsupported. */
size_t scsi_vpd_page(const struct scsi_lun *lun, uint8_t page, uint8_t *buf);
void scsi_sbc_read_capacity10(struct scsi_task *task);
void scsi_sbc_read_capacity16(struct scsi_task *task);
void scsi_sbc_get_lba_status(struct scsi_task *task);
void scsi_sbc_read_write(struct scsi_task *task);
void scsi_sbc_verify(struct scsi_task *task);
void scsi_sbc_sync_cache(struct scsi_task *task);
void scsi_sbc_unmap(struct scsi_task *task);
void scsi_sbc_write_same(struct scsi_task *task);
void scsi_sbc_write_verify(struct scsi_task *task);
void scsi_sbc_compare_and_write(struct scsi_task *task);
void scsi_sbc_orwrite(struct scsi_task *task);
void scsi_sbc_write_atomic(struct scsi_task *task);
void scsi_spc_extended_copy(struct scsi_task *task);
void scsi_spc_receive_copy_results(struct scsi_task *task);
void scsi_sbc_prefetch(struct scsi_task *task);
void scsi_sbc_read_defect_data(struct scsi_task *task);
void scsi_sbc_sanitize(struct scsi_task *task);
void scsi_medium_prevent_allow(struct scsi_task *task);

/* The command touches the medium: NOT READY, MEDIUM NOT PRESENT while it is ejected. */
bool scsi_medium_needed(const struct scsi_cmd *cmd);

/* A checked SANITIZE OVERWRITE parameter list (scsi_sanitize.c). */
struct scsi_sanitize_ow {
    bool invert;
    unsigned count; /* passes, 1..31 */
    unsigned ipl;   /* INITIALIZATION PATTERN LENGTH, 1..block size */
};
/*
 * Check the parameter list p of plen bytes (5..bs+4, checked by the
 * caller).  0; -EINVAL with the offending byte/bit (INVALID FIELD IN
 * PARAMETER LIST); -EMSGSIZE when the pattern is longer than the list.
 */
int scsi_sanitize_parse(const uint8_t *p, size_t plen, uint32_t bs, struct scsi_sanitize_ow *ow,
                        unsigned *bad_byte, int *bad_bit);
/* One block of bs bytes of the pattern pat (ipl bytes) repeated. */
void scsi_sanitize_fill(uint8_t *block, uint32_t bs, const uint8_t *pat, unsigned ipl);

/* Take the most important pending unit attention (clearing it); false if none. */
bool scsi_ua_take(struct scsi_lun *lun, uint8_t *asc, uint8_t *ascq);

#endif
