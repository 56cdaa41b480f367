/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SANITIZE (SBC-4 5.30): OVERWRITE, BLOCK ERASE and EXIT FAILURE MODE.
 * CRYPTOGRAPHIC ERASE is not offered (nothing is encrypted): the command
 * table lacks it, so it is INVALID FIELD IN CDB like any unknown action.
 *
 * A sanitize covers the whole LUN and may take long, so it runs as its own
 * state machine (struct scsi_sanitize, allocated per SANITIZE: a rare
 * command, not the I/O path) on the worker that received it, one bounded
 * backend request at a time; between two requests it goes back through the
 * worker's loop (io_loop_post), so a backend that completes inline (ram)
 * does not hold the worker for the whole disk.  With IMMED the command
 * completes at once and the sanitize goes on without the task (its slot
 * is the transport's to reuse); it then counts in lun->inflight itself so
 * the LUN cannot be freed under it.  Meanwhile every other command but
 * INQUIRY, REPORT LUNS and REQUEST SENSE is NOT READY, SANITIZE IN
 * PROGRESS with the progress indication (scsi_task_execute); a reset does
 * not stop it (SBC-4: it survives resets and I_T nexus losses).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"
#include "util/iov.h"

#define SAN_IMMED       0x80 /* CDB byte 1 */
#define SAN_INVERT      0x80 /* parameter list byte 0 */
#define SAN_TEST        0x60
#define SAN_COUNT       0x1f
#define SAN_HDR         4
#define SAN_IOV         256            /* blocks per overwrite request */
#define SAN_ERASE_PIECE (256ull << 20) /* bytes per erase request */

enum san_kind {
    SAN_K_WRITE,   /* the pattern, passes times */
    SAN_K_DISCARD, /* deallocation that reads back as zeroes */
    SAN_K_ZEROES,  /* the backend's write-zeroes */
};

struct scsi_sanitize {
    struct scsi_lun *lun;
    struct io_loop *loop;
    struct scsi_task *task; /* completed at the end (IMMED=0), or NULL */
    struct bdev_io bio;
    struct io_loop_op op; /* the next step, through the loop */
    enum san_kind kind;
    bool invert;
    bool flushed;
    unsigned passes, pass;
    uint64_t lba, blocks;
    struct iovec iov[SAN_IOV];
    uint8_t pattern[2][sizeof(((struct scsi_task *)0)->block_buf)]; /* the block, inverted */
};

int scsi_sanitize_parse(const uint8_t *p, size_t plen, uint32_t bs, struct scsi_sanitize_ow *ow,
                        unsigned *bad_byte, int *bad_bit)
{
    /* The caller checked 5 <= plen <= bs + 4 (INVALID FIELD IN CDB otherwise). */
    *bad_bit = -1;
    if (p[0] & SAN_TEST) {
        *bad_byte = 0;
        *bad_bit = 6;
        return -EINVAL;
    }
    if ((p[0] & SAN_COUNT) == 0) {
        *bad_byte = 0;
        *bad_bit = 4;
        return -EINVAL;
    }
    if (p[1] != 0) {
        *bad_byte = 1;
        return -EINVAL;
    }
    ow->ipl = get_be16(&p[2]);
    if (ow->ipl == 0 || ow->ipl > bs) {
        *bad_byte = 2;
        return -EINVAL;
    }
    if (ow->ipl > plen - SAN_HDR)
        return -EMSGSIZE; /* the pattern is cut short: PARAMETER LIST LENGTH ERROR */
    ow->invert = p[0] & SAN_INVERT;
    ow->count = p[0] & SAN_COUNT;
    return 0;
}

void scsi_sanitize_fill(uint8_t *block, uint32_t bs, const uint8_t *pat, unsigned ipl)
{
    /* The pattern repeats from the start of every block; the last copy may be cut. */
    for (uint32_t off = 0; off < bs; off += ipl)
        memcpy(block + off, pat, bs - off < ipl ? bs - off : ipl);
}

static void san_finish(struct scsi_sanitize *s, int err)
{
    struct scsi_lun *lun = s->lun;
    struct scsi_task *task = s->task;

    atomic_store(&lun->unit->sanitize_failed, err < 0);
    atomic_store(&lun->unit->sanitize_progress, 0);
    lun->unit->sanitize = NULL;
    free(s);
    atomic_store(&lun->unit->sanitizing, false);
    if (task != NULL) {
        if (err < 0)
            scsi_task_set_errno(task, err, true);
        scsi_task_complete(task);
    } else {
        atomic_fetch_sub(&lun->inflight, 1);
    }
}

static void san_step(struct scsi_sanitize *s);

static void san_io_done(struct bdev_io *io, int result)
{
    struct scsi_sanitize *s =
        (struct scsi_sanitize *)((char *)io - offsetof(struct scsi_sanitize, bio));
    uint64_t total = s->blocks * s->passes, done;

    if (result < 0) {
        san_finish(s, result);
        return;
    }
    if (io->type == BDEV_IO_FLUSH) {
        san_finish(s, 0);
        return;
    }
    s->lba += io->len / s->lun->bdev->block_size;
    if (s->lba == s->blocks && ++s->pass < s->passes)
        s->lba = 0;
    done = (uint64_t)s->pass * s->blocks + (s->pass < s->passes ? s->lba : 0);
    if (s->pass >= s->passes)
        done = total;
    atomic_store(&s->lun->unit->sanitize_progress, (uint16_t)(done * 65535 / total));
    /* Back through the loop: the worker serves its queues between two pieces. */
    if (s->loop != NULL) {
        io_loop_expect_post(s->loop);
        io_loop_post(s->loop, &s->op, 0);
    } else
        san_step(s);
}

static void san_posted(struct io_loop_op *op, int res)
{
    (void)res;
    san_step((struct scsi_sanitize *)((char *)op - offsetof(struct scsi_sanitize, op)));
}

static void san_step(struct scsi_sanitize *s)
{
    struct bdev *bdev = s->lun->bdev;
    uint32_t bs = bdev->block_size;
    uint64_t left = s->blocks - s->lba, n = 0; /* FLUSH: no range */
    int rc;

    memset(&s->bio, 0, sizeof(s->bio));
    s->bio.cb = san_io_done;
    if (s->pass >= s->passes) {
        /* Done: with a volatile cache the result must be durable before GOOD. */
        if (!bdev->volatile_cache || s->flushed) {
            san_finish(s, 0);
            return;
        }
        s->flushed = true;
        s->bio.type = BDEV_IO_FLUSH;
    } else if (s->kind == SAN_K_WRITE) {
        const uint8_t *blk = s->pattern[s->invert && (s->pass & 1)];

        n = left < SAN_IOV ? left : SAN_IOV;
        for (uint64_t i = 0; i < n; i++) {
            s->iov[i].iov_base = (void *)blk;
            s->iov[i].iov_len = bs;
        }
        s->bio.type = BDEV_IO_WRITE;
        s->bio.fua = !atomic_load(&s->lun->wce); /* write cache off: write-through */
        s->bio.iov = s->iov;
        s->bio.iovcnt = (unsigned)n;
    } else {
        uint64_t piece = SAN_ERASE_PIECE / bs;

        if (s->kind == SAN_K_DISCARD && bdev->max_discard_bytes != 0 &&
            bdev->max_discard_bytes / bs < piece)
            piece = bdev->max_discard_bytes / bs;
        if (piece == 0)
            piece = 1;
        n = left < piece ? left : piece;
        s->bio.type = s->kind == SAN_K_DISCARD ? BDEV_IO_DISCARD : BDEV_IO_WRITE_ZEROES;
    }
    if (s->bio.type != BDEV_IO_FLUSH) {
        s->bio.offset = s->lba * bs;
        s->bio.len = n * bs;
    }
    rc = bdev_submit(bdev, s->loop, &s->bio);
    if (rc < 0)
        san_finish(s, rc);
}

/* Runs once the whole LUN is held exclusively: no write in flight can land after the erase. */
static void san_start(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;
    struct scsi_sanitize *s = lun->unit->sanitize;

    if (task->cdb[1] & SAN_IMMED) {
        /* The sanitize outlives the task: it holds the LUN itself. */
        atomic_fetch_add(&lun->inflight, 1);
        s->task = NULL;
        scsi_task_complete(task);
    } else {
        s->task = task;
    }
    san_step(s);
}

void scsi_sbc_sanitize(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;
    struct bdev *bdev = lun->bdev;
    uint32_t bs = bdev->block_size;
    uint8_t sa = task->cdb[1] & 0x1f;
    size_t plen = get_be16(&task->cdb[7]);
    uint8_t hdr[SAN_HDR];
    struct scsi_sanitize_ow ow = { 0 };
    struct scsi_sanitize *s;

    /* Only OVERWRITE carries a parameter list (SBC-4 5.30.2). */
    if (sa == SCSI_SANITIZE_OVERWRITE ? (plen <= SAN_HDR || plen > bs + SAN_HDR) : plen != 0) {
        scsi_task_invalid_field(task, 7, -1);
        return;
    }
    if (sa == SCSI_SANITIZE_EXIT_FAILURE) {
        /* Nothing to redo: the medium stays as the failed sanitize left it, usable. */
        atomic_store(&lun->unit->sanitize_failed, false);
        scsi_task_complete(task);
        return;
    }
    if (bdev->readonly) {
        scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (sa == SCSI_SANITIZE_OVERWRITE) {
        unsigned bad_byte = 0;
        int bad_bit, rc;

        if (iov_to_buf(task->iov, task->iovcnt, 0, hdr, SAN_HDR) != SAN_HDR) {
            task->overrun = true;
            scsi_task_complete(task);
            return;
        }
        rc = scsi_sanitize_parse(hdr, plen, bs, &ow, &bad_byte, &bad_bit);
        if (rc == -EMSGSIZE) {
            scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
            return;
        }
        if (rc < 0) {
            scsi_task_invalid_param(task, bad_byte, bad_bit);
            return;
        }
    }
    /* Two at once on two workers: the second finds the first running. */
    if (atomic_exchange(&lun->unit->sanitizing, true)) {
        scsi_task_set_sense(task, SCSI_SK_NOT_READY, SCSI_ASC_NOT_READY,
                            SCSI_ASCQ_SANITIZE_IN_PROGRESS);
        scsi_sense_set_progress(task, atomic_load(&lun->unit->sanitize_progress));
        scsi_task_complete(task);
        return;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        atomic_store(&lun->unit->sanitizing, false);
        scsi_task_set_errno(task, -ENOMEM, true);
        scsi_task_complete(task);
        return;
    }
    s->lun = lun;
    s->loop = task->loop;
    s->op.cb = san_posted;
    s->blocks = scsi_lun_blocks(lun);
    s->passes = 1;
    if (sa == SCSI_SANITIZE_OVERWRITE) {
        uint8_t *pat = s->pattern[1]; /* staging: the inverse is computed from block 0 below */

        if (iov_to_buf(task->iov, task->iovcnt, SAN_HDR, pat, ow.ipl) != ow.ipl) {
            free(s);
            atomic_store(&lun->unit->sanitizing, false);
            task->overrun = true;
            scsi_task_complete(task);
            return;
        }
        task->data_len = plen;
        scsi_sanitize_fill(s->pattern[0], bs, pat, ow.ipl);
        for (uint32_t i = 0; i < bs; i++)
            s->pattern[1][i] = (uint8_t)~s->pattern[0][i];
        s->kind = SAN_K_WRITE;
        s->invert = ow.invert;
        s->passes = ow.count;
    } else if (bdev->can_discard && bdev->discard_zeroes) {
        /* BLOCK ERASE: deallocated blocks that read back as zeroes (LBPRZ), as GET LBA STATUS
         * shows. */
        s->kind = SAN_K_DISCARD;
    } else if (bdev->can_write_zeroes) {
        s->kind = SAN_K_ZEROES;
    } else {
        s->kind = SAN_K_WRITE; /* the zero pattern calloc left */
    }
    atomic_store(&lun->unit->sanitize_progress, 0);
    lun->unit->sanitize = s;
    if (!scsi_range_lock(task, 0, s->blocks, true, san_start))
        return;
    san_start(task);
}
