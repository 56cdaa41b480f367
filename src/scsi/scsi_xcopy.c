/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4): the subset that
 * VMware's VAAI XCOPY, Linux and libiscsi use.  Copy source and destination
 * are named by identification CSCD descriptors (E4h) carrying the NAA
 * designator of VPD page 83h, and must be LUNs of the same controller as the
 * command's own LUN; data moves by block-to-block segment descriptors (02h).
 *
 * The parameter list is copied once into task->block_buf and checked whole
 * before any data moves: every reserved field, length, type code, index and
 * LBA range.  A list refused there leaves nothing behind.  The copy then runs
 * on the worker, a chunk at a time: the source chunk is read into a bounce
 * buffer as a READ would (counted, or waiting for a WRITE ATOMIC in its way),
 * then written holding the destination range shared as a WRITE does.  Bounce
 * buffers come from a small process-wide pool, allocated on first use and
 * kept: memory stays bounded however many copies the guests send, and a copy
 * that finds the pool empty is refused (MAXIMUM CONCURRENT COPIES).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "util/iov.h"

#define XC_HDR_LEN       16
#define XC_CSCD_LEN      32
#define XC_CSCD_IDENT    0xe4
#define XC_SEG_B2B       0x02
#define XC_SEG_B2B_LEN   28
#define XC_MAX_SEGS      16
#define XC_MAX_DESC_LIST 1024
#define XC_MAX_SEG_BYTES (16u << 20)
#define XC_SLOTS         8
#define XC_SLOT_BYTES    (1u << 20)

#define XC_USAGE_HOLD   0 /* LIST ID USAGE 00b: keep status for RECEIVE COPY RESULTS */
#define XC_USAGE_RSVD   1
#define XC_USAGE_NOLIST 3 /* 11b: no list identifier (it must be 0) */

/* COPY MANAGER STATUS of COPY STATUS. */
#define XC_ST_RUNNING 0x00
#define XC_ST_GOOD    0x01
#define XC_ST_ERROR   0x02

/* task->step of a copy: which half of the chunk is in flight. */
#define XC_READING 1
#define XC_WRITING 2

/* The whole list (header and descriptors, no inline data) fits in block_buf. */
_Static_assert(XC_HDR_LEN + XC_MAX_DESC_LIST <= sizeof(((struct scsi_task *)0)->block_buf),
               "the EXTENDED COPY parameter list is kept in block_buf");
/* One more descriptor than allowed must still fit the list (libiscsi's limit tests). */
_Static_assert((SCSI_XCOPY_MAX_CSCD + 1) * XC_CSCD_LEN + XC_SEG_B2B_LEN <= XC_MAX_DESC_LIST &&
                   XC_CSCD_LEN + (XC_MAX_SEGS + 1) * XC_SEG_B2B_LEN <= XC_MAX_DESC_LIST,
               "too many descriptors must be told apart from too long a list");
_Static_assert(XC_SLOTS <= 32, "slots are bits of one word");

/* Bounce buffer pool: bit i of pool_busy owns pool_buf[i]. */
static _Atomic unsigned pool_busy;
static uint8_t *pool_buf[XC_SLOTS];

static int pool_get(uint8_t **buf)
{
    unsigned cur = atomic_load(&pool_busy);

    while (cur != (1u << XC_SLOTS) - 1) {
        int i = __builtin_ctz(~cur);

        if (!atomic_compare_exchange_weak(&pool_busy, &cur, cur | 1u << i))
            continue;
        /* Only the owner of bit i touches pool_buf[i]; the bit's atomics order the handover. */
        if (pool_buf[i] == NULL)
            pool_buf[i] = aligned_alloc(4096, XC_SLOT_BYTES);
        if (pool_buf[i] == NULL) {
            atomic_fetch_and(&pool_busy, ~(1u << i));
            return -1;
        }
        *buf = pool_buf[i];
        return i;
    }
    return -1;
}

static void pool_put(int slot)
{
    atomic_fetch_and(&pool_busy, ~(1u << slot));
}

/*
 * lun->xcopy_status: bit 63 valid, 62-56 COPY MANAGER STATUS, 55-48 LIST
 * IDENTIFIER, 47-32 SEGMENTS PROCESSED, 31-0 TRANSFER COUNT in bytes (a
 * copy moves at most XC_MAX_SEGS * XC_MAX_SEG_BYTES).
 */
_Static_assert((uint64_t)XC_MAX_SEGS *XC_MAX_SEG_BYTES <= UINT32_MAX, "byte count fits");

static uint64_t st_pack(uint8_t id, uint8_t status, uint16_t segs, uint32_t bytes)
{
    return 1ull << 63 | (uint64_t)status << 56 | (uint64_t)id << 48 | (uint64_t)segs << 32 | bytes;
}
static bool st_valid(uint64_t s)
{
    return s >> 63;
}
static uint8_t st_status(uint64_t s)
{
    return (s >> 56) & 0x7f;
}
static uint8_t st_id(uint64_t s)
{
    return (uint8_t)(s >> 48);
}

/* Publish this copy's progress, unless a later copy on the nexus took the slot. */
static void st_update(struct scsi_task *task, uint8_t status)
{
    struct scsi_xcopy_task *xc = &task->xcopy;
    uint64_t cur = atomic_load(&task->lun->xcopy_status);

    if (!xc->hold)
        return;
    while (st_valid(cur) && st_id(cur) == xc->list_id && st_status(cur) == XC_ST_RUNNING) {
        if (atomic_compare_exchange_weak(
                &task->lun->xcopy_status, &cur,
                st_pack(xc->list_id, status, xc->seg, (uint32_t)xc->bytes)))
            return;
    }
}

static void fail_len(struct scsi_task *task)
{
    scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
}

/* COPY ABORTED with the parameter list byte at fault (SD=0: from the list's start). */
static void fail_copy(struct scsi_task *task, uint8_t asc, uint8_t ascq, unsigned byte)
{
    scsi_task_set_sense(task, SCSI_SK_COPY_ABORTED, asc, ascq);
    scsi_sense_set_field(task, false, byte, -1);
    scsi_task_complete(task);
}

static void fail_param(struct scsi_task *task, uint8_t ascq, unsigned byte)
{
    scsi_task_set_sense(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM, ascq);
    scsi_sense_set_field(task, false, byte, -1);
    scsi_task_complete(task);
}

/* Highest set bit of a non-zero byte, for bit pointers. */
static int top_bit(uint8_t v)
{
    return 31 - __builtin_clz(v);
}

/*
 * The LUN of this controller whose NAA designator is naa.  Called on the
 * worker inside the command: a LUN unmapped concurrently is freed only after
 * every worker came round and its inflight is 0, and the caller counts
 * itself in inflight before it yields.
 */
static struct scsi_lun *find_lun(struct scsi_lun *self, uint64_t naa)
{
    struct scsi_target_set *set = self->target != NULL ? self->target->set : NULL;

    if (self->wwn == naa)
        return self;
    if (set == NULL)
        return NULL;
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = __atomic_load_n(&set->targets[t], __ATOMIC_ACQUIRE);

        if (tgt == NULL || atomic_load_explicit(&tgt->nluns, memory_order_relaxed) == 0)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++) {
            struct scsi_lun *lun = __atomic_load_n(&tgt->luns[l], __ATOMIC_ACQUIRE);

            if (lun != NULL && lun->bdev != NULL && lun->wwn == naa)
                return lun;
        }
    }
    return NULL;
}

/* One identification CSCD descriptor at p[off]; false when the task ended. */
static bool parse_cscd(struct scsi_task *task, const uint8_t *p, unsigned off,
                       struct scsi_lun **out)
{
    const uint8_t *d = &p[off];
    unsigned len = d[7];

    if (d[0] != XC_CSCD_IDENT) {
        fail_param(task, SCSI_ASCQ_UNSUPP_TARGET_TYPE, off);
        return false;
    }
    /* LU ID TYPE and RELATIVE INITIATOR PORT IDENTIFIER are ignored (SPC-4); NUL is obsolete. */
    if (d[1] & 0x20) {
        scsi_task_invalid_param(task, off + 1, 5);
        return false;
    }
    if ((d[1] & 0x1f) != SCSI_TYPE_DISK) {
        scsi_task_invalid_param(task, off + 1, 4);
        return false;
    }
    /* The designation descriptor: at most 20 bytes of designator, the rest zero. */
    if (d[6] != 0 || len > 20) {
        scsi_task_invalid_param(task, off + (d[6] != 0 ? 6 : 7), -1);
        return false;
    }
    for (unsigned i = 8 + len; i < 28; i++) {
        if (d[i] != 0) {
            scsi_task_invalid_param(task, off + i, -1);
            return false;
        }
    }
    /* Block device parameters: PAD (only meaningful for streams) and DISK BLOCK LENGTH. */
    if (d[28] & ~0x04) {
        scsi_task_invalid_param(task, off + 28, top_bit(d[28] & ~0x04));
        return false;
    }
    /* Only our own names can match: binary NAA, 8 bytes, of a logical unit. */
    *out = NULL;
    if ((d[4] & 0x0f) == SCSI_CODESET_BINARY && (d[5] & 0x30) == 0 &&
        (d[5] & 0x0f) == SCSI_DESIG_NAA && len == 8)
        *out = find_lun(task->lun, get_be64(&d[8]));
    if (*out == NULL) {
        fail_copy(task, SCSI_ASC_COPY_TARGET, SCSI_ASCQ_TARGET_UNREACHABLE, off + 4);
        return false;
    }
    if (get_be24(&d[29]) != (*out)->bdev->block_size) {
        scsi_task_invalid_param(task, off + 29, -1);
        return false;
    }
    return true;
}

/* One block-to-block segment descriptor at p[off] (its length already checked). */
static bool parse_b2b(struct scsi_task *task, const uint8_t *p, unsigned off)
{
    const struct scsi_xcopy_task *xc = &task->xcopy;
    const uint8_t *d = &p[off];
    unsigned si = get_be16(&d[4]), di = get_be16(&d[6]);
    uint32_t n = get_be16(&d[10]);
    const struct scsi_lun *src, *dst;

    /* DC and CAT only matter between different block sizes, which are refused below. */
    if (d[1] & 0xfc) {
        scsi_task_invalid_param(task, off + 1, top_bit(d[1] & 0xfc));
        return false;
    }
    if (d[8] != 0 || d[9] != 0) {
        scsi_task_invalid_param(task, off + (d[8] != 0 ? 8 : 9), -1);
        return false;
    }
    if (si >= xc->ncscd || di >= xc->ncscd) {
        fail_copy(task, SCSI_ASC_COPY_TARGET, SCSI_ASCQ_TARGET_UNREACHABLE,
                  off + (si >= xc->ncscd ? 4 : 6));
        return false;
    }
    src = xc->cscd[si];
    dst = xc->cscd[di];
    if (src->bdev->block_size != dst->bdev->block_size) {
        fail_copy(task, SCSI_ASC_COPY_TARGET, SCSI_ASCQ_TARGET_WRONG_TYPE, off + 6);
        return false;
    }
    if ((uint64_t)n * src->bdev->block_size > XC_MAX_SEG_BYTES) {
        scsi_task_invalid_param(task, off + 10, -1);
        return false;
    }
    /*
     * Past the end of a copy target: COPY ABORTED, and the segment pointer
     * names the LBA field (libiscsi, like LIO, expects no more specific ASC).
     */
    if (!scsi_lba_range_ok(src, get_be64(&d[12]), n)) {
        fail_copy(task, SCSI_ASC_NONE, 0, off + 12);
        return false;
    }
    if (!scsi_lba_range_ok(dst, get_be64(&d[20]), n)) {
        fail_copy(task, SCSI_ASC_NONE, 0, off + 20);
        return false;
    }
    if (dst->bdev->readonly) {
        scsi_task_fail(task, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return false;
    }
    return true;
}

/* The descriptor lists of the list in block_buf (plen bytes); false when the task ended. */
static bool parse_lists(struct scsi_task *task, unsigned tdl, unsigned sdl)
{
    struct scsi_xcopy_task *xc = &task->xcopy;
    const uint8_t *p = task->block_buf;
    unsigned off = XC_HDR_LEN, end = XC_HDR_LEN + tdl;

    xc->ncscd = 0;
    for (; off < end; off += XC_CSCD_LEN) {
        if (xc->ncscd == SCSI_XCOPY_MAX_CSCD) {
            fail_param(task, SCSI_ASCQ_TOO_MANY_TARGETS, off);
            return false;
        }
        if (end - off < XC_CSCD_LEN) {
            fail_len(task);
            return false;
        }
        if (!parse_cscd(task, p, off, &xc->cscd[xc->ncscd]))
            return false;
        xc->ncscd++;
    }
    xc->nseg = 0;
    for (end += sdl; off < end; xc->nseg++) {
        unsigned dl;

        if (xc->nseg == XC_MAX_SEGS) {
            fail_param(task, SCSI_ASCQ_TOO_MANY_SEGMENTS, off);
            return false;
        }
        if (end - off < 4) {
            fail_len(task);
            return false;
        }
        if (p[off] != XC_SEG_B2B) {
            fail_param(task, SCSI_ASCQ_UNSUPP_SEGMENT_TYPE, off);
            return false;
        }
        dl = get_be16(&p[off + 2]);
        if (dl != XC_SEG_B2B_LEN - 4) {
            scsi_task_invalid_param(task, off + 2, -1);
            return false;
        }
        if (end - off < XC_SEG_B2B_LEN) {
            fail_len(task);
            return false;
        }
        if (!parse_b2b(task, p, off))
            return false;
        off += XC_SEG_B2B_LEN;
    }
    return true;
}

static void hold_luns(struct scsi_task *task, bool take)
{
    const struct scsi_xcopy_task *xc = &task->xcopy;

    for (unsigned i = 0; i < xc->ncscd; i++) {
        if (xc->cscd[i] == task->lun)
            continue;
        if (take)
            atomic_fetch_add(&xc->cscd[i]->inflight, 1);
        else
            atomic_fetch_sub(&xc->cscd[i]->inflight, 1);
    }
}

/* The end of a copy that started moving data: sense (if any) is set. */
static void xc_finish(struct scsi_task *task)
{
    struct scsi_xcopy_task *xc = &task->xcopy;

    /* Whatever range it holds is another LUN's, maybe: let go before the LUN may go. */
    scsi_range_unlock(task);
    pool_put(xc->slot);
    xc->buf = NULL;
    hold_luns(task, false);
    task->io_bdev = NULL;
    st_update(task, task->status == SCSI_STATUS_GOOD ? XC_ST_GOOD : XC_ST_ERROR);
    scsi_task_complete(task);
}

static const uint8_t *cur_seg(const struct scsi_task *task)
{
    return &task->block_buf[task->xcopy.seg_off];
}

/* LBA of the chunk at base (the segment's SOURCE or DESTINATION LOGICAL BLOCK ADDRESS). */
static uint64_t chunk_lba(const struct scsi_task *task, unsigned field)
{
    const struct scsi_xcopy_task *xc = &task->xcopy;
    uint64_t base = get_be64(&cur_seg(task)[field]), n = get_be16(&cur_seg(task)[10]);
    uint64_t done = n - xc->left;

    /* Backward, the chunk is the last xc->chunk blocks of what is left. */
    return xc->backward ? base + xc->left - xc->chunk : base + done;
}

static bool prep_io(struct scsi_task *task, bool write)
{
    struct scsi_xcopy_task *xc = &task->xcopy;
    const uint8_t *d = cur_seg(task);
    struct scsi_lun *lun = xc->cscd[get_be16(&d[write ? 6 : 4])];
    uint32_t bs = lun->bdev->block_size;

    task->io_bdev = lun->bdev;
    task->bio.type = write ? BDEV_IO_WRITE : BDEV_IO_READ;
    task->bio.fua = write && !atomic_load(&lun->wce);
    task->bio.offset = chunk_lba(task, write ? 20 : 12) * bs;
    task->bio.len = (uint64_t)xc->chunk * bs;
    task->bio_iov[0].iov_base = xc->buf;
    task->bio_iov[0].iov_len = task->bio.len;
    task->bio.iov = task->bio_iov;
    task->bio.iovcnt = 1;
    task->step = write ? XC_WRITING : XC_READING;
    return true;
}

static bool xc_next(struct scsi_task *task, int result);

static void read_resume(struct scsi_task *task)
{
    if (prep_io(task, false))
        scsi_task_submit(task, xc_next);
}

static void write_resume(struct scsi_task *task)
{
    if (prep_io(task, true))
        scsi_task_submit(task, xc_next);
}

/* Start the next chunk (of this segment or the next non-empty one); true: a bio is ready. */
static bool xc_advance(struct scsi_task *task)
{
    struct scsi_xcopy_task *xc = &task->xcopy;

    while (xc->left == 0) {
        const uint8_t *d;
        uint64_t src, dst;

        if (xc->seg == xc->nseg) {
            xc_finish(task);
            return false;
        }
        d = cur_seg(task);
        xc->left = get_be16(&d[10]);
        if (xc->left == 0) {
            xc->seg++;
            xc->seg_off += XC_SEG_B2B_LEN;
            continue;
        }
        src = get_be64(&d[12]);
        dst = get_be64(&d[20]);
        /* Overlapping on one medium towards higher LBAs: copy from the end, as memmove does. */
        xc->backward = xc->cscd[get_be16(&d[4])]->bdev == xc->cscd[get_be16(&d[6])]->bdev &&
                       dst > src && dst - src < xc->left;
    }
    {
        const uint8_t *d = cur_seg(task);
        struct scsi_lun *src = xc->cscd[get_be16(&d[4])];
        uint32_t max = XC_SLOT_BYTES / src->bdev->block_size;

        xc->chunk = xc->left < max ? xc->left : max;
        if (!scsi_read_lock(task, src, chunk_lba(task, 12), xc->chunk, read_resume))
            return false;
    }
    return prep_io(task, false);
}

static bool xc_next(struct scsi_task *task, int result)
{
    struct scsi_xcopy_task *xc = &task->xcopy;
    const uint8_t *d = cur_seg(task);

    if (result < 0) {
        /* The copy target's own error is not ours to report as if the command failed. */
        scsi_task_set_sense(task, SCSI_SK_COPY_ABORTED, SCSI_ASC_COPY_TARGET,
                            SCSI_ASCQ_THIRD_PARTY_FAILURE);
        scsi_sense_set_field(task, false, xc->seg_off, -1);
        xc_finish(task);
        return false;
    }
    scsi_range_unlock(task);
    if (task->step == XC_READING) {
        struct scsi_lun *dst = xc->cscd[get_be16(&d[6])];

        if (!scsi_range_lock_lun(task, dst, chunk_lba(task, 20), xc->chunk, SCSI_RL_SHARED,
                                 write_resume))
            return false;
        return prep_io(task, true);
    }
    xc->left -= xc->chunk;
    xc->bytes += task->bio.len;
    if (xc->left == 0) {
        xc->seg++;
        xc->seg_off += XC_SEG_B2B_LEN;
    }
    st_update(task, XC_ST_RUNNING);
    return xc_advance(task);
}

void scsi_spc_extended_copy(struct scsi_task *task)
{
    struct scsi_xcopy_task *xc = &task->xcopy;
    uint32_t plen = get_be32(&task->cdb[10]);
    uint8_t *p = task->block_buf;
    unsigned usage, tdl;
    uint32_t sdl, inl;
    uint64_t cur;

    /* No parameter list: nothing to copy, and that is no error (SPC-4). */
    if (plen == 0) {
        scsi_task_complete(task);
        return;
    }
    if (plen < XC_HDR_LEN || iov_to_buf(task->iov, task->iovcnt, 0, p, XC_HDR_LEN) != XC_HDR_LEN) {
        fail_len(task);
        return;
    }
    usage = (p[1] >> 3) & 3;
    tdl = get_be16(&p[2]);
    sdl = get_be32(&p[8]);
    inl = get_be32(&p[12]);
    if (p[1] & 0xc0) {
        scsi_task_invalid_param(task, 1, top_bit(p[1] & 0xc0));
        return;
    }
    if (usage == XC_USAGE_RSVD) {
        scsi_task_invalid_param(task, 1, 4);
        return;
    }
    if (usage == XC_USAGE_NOLIST && p[0] != 0) {
        scsi_task_invalid_param(task, 0, -1);
        return;
    }
    for (unsigned i = 4; i < 8; i++) {
        if (p[i] != 0) {
            scsi_task_invalid_param(task, i, -1);
            return;
        }
    }
    xc->hold = usage == XC_USAGE_HOLD;
    xc->list_id = p[0];
    if (xc->hold) {
        /*
         * A new list with the same identifier replaces what was held for
         * the old one, whatever becomes of it; a running one is refused.
         */
        cur = atomic_load(&task->lun->xcopy_status);
        do {
            if (!st_valid(cur) || st_id(cur) != xc->list_id)
                break;
            if (st_status(cur) == XC_ST_RUNNING) {
                scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_NONE,
                               SCSI_ASCQ_OP_IN_PROGRESS);
                return;
            }
        } while (!atomic_compare_exchange_weak(&task->lun->xcopy_status, &cur, 0));
    }
    /* No inline data is taken (MAXIMUM INLINE DATA LENGTH 0). */
    if (inl != 0) {
        scsi_task_invalid_param(task, 12, -1);
        return;
    }
    if ((uint64_t)tdl + sdl > XC_MAX_DESC_LIST || plen != XC_HDR_LEN + tdl + sdl) {
        fail_len(task);
        return;
    }
    if (iov_to_buf(task->iov, task->iovcnt, 0, p, plen) != plen) {
        fail_len(task);
        return;
    }
    if (!parse_lists(task, tdl, sdl))
        return;

    /* Everything checked: from here on the copy holds buffers, LUNs and status. */
    xc->slot = pool_get(&xc->buf);
    if (xc->slot < 0) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INSUFFICIENT_RESOURCES,
                       SCSI_ASCQ_INSUFFICIENT_RES);
        return;
    }
    if (xc->hold) {
        cur = atomic_load(&task->lun->xcopy_status);
        do {
            if (st_valid(cur) && st_id(cur) == xc->list_id && st_status(cur) == XC_ST_RUNNING) {
                pool_put(xc->slot);
                scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_NONE,
                               SCSI_ASCQ_OP_IN_PROGRESS);
                return;
            }
        } while (!atomic_compare_exchange_weak(&task->lun->xcopy_status, &cur,
                                               st_pack(xc->list_id, XC_ST_RUNNING, 0, 0)));
    }
    hold_luns(task, true);
    xc->seg = 0;
    xc->seg_off = (uint16_t)(XC_HDR_LEN + tdl);
    xc->left = 0;
    xc->bytes = 0;
    if (xc_advance(task))
        scsi_task_submit(task, xc_next);
}

static void copy_status(struct scsi_task *task, uint32_t alloc)
{
    uint64_t st = atomic_load(&task->lun->xcopy_status);
    uint8_t buf[12];

    if (!st_valid(st) || st_id(st) != task->cdb[2]) {
        scsi_task_invalid_field(task, 2, -1);
        return;
    }
    memset(buf, 0, sizeof(buf));
    put_be32(buf, sizeof(buf) - 4);
    buf[4] = st_status(st); /* HDD 0: no held data is ever discarded (none is kept) */
    put_be16(&buf[5], (uint16_t)(st >> 32));
    buf[7] = 0; /* TRANSFER COUNT UNITS: bytes */
    put_be32(&buf[8], (uint32_t)st);
    scsi_task_reply(task, buf, sizeof(buf), alloc);
}

static void op_params(struct scsi_task *task, uint32_t alloc)
{
    uint8_t buf[46];

    memset(buf, 0, sizeof(buf));
    put_be32(buf, sizeof(buf) - 4);
    buf[4] = 0x01; /* SNLID: LIST ID USAGE 11b is supported */
    put_be16(&buf[8], SCSI_XCOPY_MAX_CSCD);
    put_be16(&buf[10], XC_MAX_SEGS);
    put_be32(&buf[12], XC_MAX_DESC_LIST);
    put_be32(&buf[16], XC_MAX_SEG_BYTES);
    /* MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, stream transfer size: 0. */
    put_be16(&buf[34], XC_SLOTS);                                  /* TOTAL CONCURRENT COPIES */
    buf[36] = XC_SLOTS;                                            /* MAXIMUM CONCURRENT COPIES */
    buf[37] = (uint8_t)__builtin_ctz(task->lun->bdev->block_size); /* DATA SEGMENT GRANULARITY */
    buf[43] = 2; /* implemented descriptor type codes: */
    buf[44] = XC_SEG_B2B;
    buf[45] = XC_CSCD_IDENT;
    scsi_task_reply(task, buf, sizeof(buf), alloc);
}

void scsi_spc_receive_copy_results(struct scsi_task *task)
{
    uint32_t alloc = get_be32(&task->cdb[10]);

    /* The dispatcher only routes the two service actions of its table here. */
    if ((task->cdb[1] & 0x1f) == SCSI_RCR_COPY_STATUS)
        copy_status(task, alloc);
    else
        op_params(task, alloc);
}
