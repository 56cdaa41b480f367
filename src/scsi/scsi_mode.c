/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MODE SENSE(6)/(10) and MODE SELECT(6)/(10): the caching page (08h) and the
 * control page (0Ah).
 *
 * Changeable: WCE in the caching page, when the backend has a volatile
 * cache to turn off (without one every write is durable already, WCE is 0
 * and stays 0), and D_SENSE in the control page.  Nothing can be saved: SP=1
 * and the saved-values page control are refused.
 *
 * The values live in the scsi_lun, and a scsi_lun belongs to one
 * controller, which is one I_T nexus (virtio-scsi has one initiator port per
 * controller).  A LUN shared by two controllers is two scsi_luns on one
 * bdev, each with its own mode pages: the "per I_T nexus" mode page policy
 * of SPC-4.  So a MODE SELECT changes nothing that applies to another I_T
 * nexus, and the MODE PARAMETERS CHANGED unit attention that SPC-4 asks for
 * on the other nexuses has no one to go to: none is raised.
 */
#include <string.h>

#include "scsi/scsi_internal.h"
#include "util/iov.h"

#define CACHING_LEN  20
#define CONTROL_LEN  12
#define CACHING_WCE  0x04 /* byte 2 */
#define CONTROL_DSNS 0x04 /* byte 2: D_SENSE */
#define CONTROL_QAM1 0x10 /* byte 3: QUEUE ALGORITHM MODIFIER 1 */

static size_t page_caching(const struct scsi_lun *lun, unsigned pc, uint8_t *p)
{
    bool cache = lun->bdev->volatile_cache;

    memset(p, 0, CACHING_LEN);
    p[0] = SCSI_MP_CACHING;
    p[1] = CACHING_LEN - 2;
    /* WCE: the initiator then knows to send SYNCHRONIZE CACHE. */
    switch (pc) {
    case SCSI_MODE_PC_CHANGEABLE:
        p[2] = cache ? CACHING_WCE : 0;
        break;
    case SCSI_MODE_PC_DEFAULT:
        p[2] = cache && lun->wce_default ? CACHING_WCE : 0;
        break;
    default:
        p[2] = cache && atomic_load(&lun->wce) ? CACHING_WCE : 0;
        break;
    }
    return CACHING_LEN;
}

static size_t page_control(const struct scsi_lun *lun, unsigned pc, uint8_t *p)
{
    memset(p, 0, CONTROL_LEN);
    p[0] = SCSI_MP_CONTROL;
    p[1] = CONTROL_LEN - 2;
    if (pc == SCSI_MODE_PC_CHANGEABLE) {
        p[2] = CONTROL_DSNS;
        return CONTROL_LEN;
    }
    if (pc == SCSI_MODE_PC_CURRENT && atomic_load(&lun->d_sense))
        p[2] = CONTROL_DSNS;
    /*
     * QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering): tasks on
     * different workers do complete out of order.
     */
    p[3] = CONTROL_QAM1;
    return CONTROL_LEN;
}

void scsi_mode_sense(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct scsi_lun *lun = task->lun;
    const struct bdev *bdev = lun->bdev;
    bool ten = cdb[0] == SCSI_OP_MODE_SENSE_10;
    bool dbd = cdb[1] & 0x08;
    unsigned pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
    size_t hdr = ten ? 8 : 4, len, alloc = ten ? get_be16(&cdb[7]) : cdb[4];
    uint64_t blocks = scsi_lun_blocks(lun);
    uint8_t buf[128];

    if (pc == SCSI_MODE_PC_SAVED) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_SAVING_NOT_SUPPORTED, 0);
        return;
    }
    /* No page has subpages: only subpage 0 and "all subpages" (FFh) name anything. */
    if (subpage != 0 && subpage != SCSI_MP_SUB_ALL) {
        scsi_task_invalid_field(task, 3, -1);
        return;
    }

    memset(buf, 0, hdr);
    len = hdr;
    /* LLBAA is ignored: the short descriptor is always used, with LONGLBA 0. */
    if (!dbd) {
        uint8_t *d = &buf[len];

        memset(d, 0, 8);
        put_be32(d, blocks > 0xffffffffull ? 0xffffffffu : (uint32_t)blocks);
        d[5] = (uint8_t)(bdev->block_size >> 16);
        d[6] = (uint8_t)(bdev->block_size >> 8);
        d[7] = (uint8_t)bdev->block_size;
        len += 8;
    }
    switch (page) {
    case SCSI_MP_CACHING:
        len += page_caching(lun, pc, &buf[len]);
        break;
    case SCSI_MP_CONTROL:
        len += page_control(lun, pc, &buf[len]);
        break;
    case SCSI_MP_ALL:
        len += page_caching(lun, pc, &buf[len]);
        len += page_control(lun, pc, &buf[len]);
        break;
    default:
        scsi_task_invalid_field(task, 2, 5);
        return;
    }

    if (ten) {
        put_be16(&buf[0], (uint16_t)(len - 2));
        buf[3] = (uint8_t)((bdev->readonly ? SCSI_MODE_DSP_WP : 0) | SCSI_MODE_DSP_DPOFUA);
        put_be16(&buf[6], dbd ? 0 : 8);
    } else {
        buf[0] = (uint8_t)(len - 1);
        buf[2] = (uint8_t)((bdev->readonly ? SCSI_MODE_DSP_WP : 0) | SCSI_MODE_DSP_DPOFUA);
        buf[3] = dbd ? 0 : 8;
    }
    scsi_task_reply(task, buf, len, alloc);
}

static void param_length_error(struct scsi_task *task)
{
    scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
}

/* The highest bit set in a nonzero byte, for the sense data's BIT POINTER. */
static int top_bit(uint8_t v)
{
    int b = 7;

    while (b > 0 && !(v & (1u << b)))
        b--;
    return b;
}

/*
 * A block descriptor may only restate what the LUN is: the block size
 * cannot change, and NUMBER OF LOGICAL BLOCKS is 0 (no change) or the
 * capacity MODE SENSE reports.  Returns the offending byte within d, or -1.
 */
static int check_block_desc(const struct scsi_lun *lun, const uint8_t *d, bool longlba)
{
    uint64_t blocks = scsi_lun_blocks(lun), n;
    uint32_t bs;
    size_t i, bs_off = longlba ? 12 : 5, end = longlba ? 12 : 5;

    if (longlba) {
        n = get_be64(d);
        bs = get_be32(&d[12]);
    } else {
        n = get_be32(d);
        bs = get_be24(&d[5]);
        if (blocks > 0xffffffffull)
            blocks = 0xffffffffull;
    }
    if (n != 0 && n != blocks)
        return 0;
    for (i = longlba ? 8 : 4; i < end; i++) {
        if (d[i] != 0)
            return (int)i;
    }
    if (bs != lun->bdev->block_size)
        return (int)bs_off;
    return -1;
}

void scsi_mode_select(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    struct scsi_lun *lun = task->lun;
    bool ten = cdb[0] == SCSI_OP_MODE_SELECT_10;
    size_t plen = ten ? get_be16(&cdb[7]) : cdb[4], hdr = ten ? 8 : 4, bdl, off;
    uint8_t *p = task->block_buf;
    bool longlba = false, wce = atomic_load(&lun->wce), d_sense = atomic_load(&lun->d_sense);
    int bad;

    /*
     * PF=0 would make the pages vendor specific; ours would be the standard
     * ones anyway, so PF is not checked.
     */
    if (cdb[1] & 0x01) {
        scsi_task_invalid_field(task, 1, 0); /* SP: nothing can be saved */
        return;
    }
    if (plen == 0) {
        scsi_task_complete(task); /* no data: not an error (SPC-4) */
        return;
    }
    /* Header, one long block descriptor and both pages fit many times over. */
    if (plen > sizeof(task->block_buf)) {
        scsi_task_invalid_field(task, ten ? 7 : 4, -1);
        return;
    }
    /* The guest's buffer: copy it once, then it cannot change under the checks. */
    if (iov_to_buf(task->iov, task->iovcnt, 0, p, plen) != plen || plen < hdr) {
        param_length_error(task);
        return;
    }
    task->data_len = plen;
    /*
     * The header's MODE DATA LENGTH is reserved in MODE SELECT, and so are
     * WP and DPOFUA in the device-specific parameter for a disk (SBC-3):
     * an initiator echoing its MODE SENSE data sends them, so they are
     * ignored.  The medium type must be 0.
     */
    if (p[ten ? 2 : 1] != 0) {
        scsi_task_invalid_param(task, ten ? 2 : 1, -1);
        return;
    }
    if (ten) {
        longlba = p[4] & 0x01;
        bdl = get_be16(&p[6]);
    } else {
        bdl = p[3];
    }
    if (bdl != 0 && bdl != (longlba ? 16u : 8u)) {
        scsi_task_invalid_param(task, ten ? 6 : 3, -1);
        return;
    }
    if (bdl > plen - hdr) {
        param_length_error(task);
        return;
    }
    if (bdl != 0 && (bad = check_block_desc(lun, &p[hdr], longlba)) >= 0) {
        scsi_task_invalid_param(task, (unsigned)(hdr + (size_t)bad), -1);
        return;
    }

    /* Check every page before changing anything: all or nothing. */
    for (off = hdr + bdl; off < plen;) {
        uint8_t cur[CACHING_LEN], mask[CACHING_LEN];
        size_t len, i;

        if (plen - off < 2) {
            param_length_error(task);
            return;
        }
        if (p[off] & 0x40) {
            scsi_task_invalid_param(task, (unsigned)off, 6); /* SPF: no subpages */
            return;
        }
        switch (p[off] & 0x3f) {
        case SCSI_MP_CACHING:
            len = page_caching(lun, SCSI_MODE_PC_CURRENT, cur);
            page_caching(lun, SCSI_MODE_PC_CHANGEABLE, mask);
            break;
        case SCSI_MP_CONTROL:
            len = page_control(lun, SCSI_MODE_PC_CURRENT, cur);
            page_control(lun, SCSI_MODE_PC_CHANGEABLE, mask);
            break;
        default:
            scsi_task_invalid_param(task, (unsigned)off, 5);
            return;
        }
        if ((size_t)p[off + 1] + 2 != len) {
            scsi_task_invalid_param(task, (unsigned)off + 1, -1);
            return;
        }
        if (len > plen - off) {
            param_length_error(task);
            return;
        }
        /* Byte 0 and 1 were checked (PS, bit 7, is reserved here: ignored). */
        for (i = 2; i < len; i++) {
            uint8_t diff = (uint8_t)((p[off + i] ^ cur[i]) & ~mask[i]);

            if (diff != 0) {
                scsi_task_invalid_param(task, (unsigned)(off + i), top_bit(diff));
                return;
            }
        }
        if (cur[0] == SCSI_MP_CACHING)
            wce = p[off + 2] & CACHING_WCE;
        else
            d_sense = p[off + 2] & CONTROL_DSNS;
        off += len;
    }
    /*
     * Only WCE changes with a volatile cache (the mask said so); without one
     * lun->wce keeps its value and the LUN reports WCE 0 regardless.
     */
    atomic_store(&lun->wce, wce);
    atomic_store(&lun->d_sense, d_sense);
    scsi_task_complete(task);
}
