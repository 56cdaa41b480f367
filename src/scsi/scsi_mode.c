/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MODE SENSE(6)/(10).  No mode page is changeable and none can be saved, so
 * MODE SELECT is not implemented and the changeable values are all zero.
 */
#include <string.h>

#include "scsi/scsi_internal.h"

#define CACHING_LEN 20
#define CONTROL_LEN 12

static size_t page_caching(const struct bdev *bdev, unsigned pc, uint8_t *p)
{
    memset(p, 0, CACHING_LEN);
    p[0] = SCSI_MP_CACHING;
    p[1] = CACHING_LEN - 2;
    /* WCE mirrors the backend: the initiator then knows to send SYNCHRONIZE CACHE. */
    if (pc != SCSI_MODE_PC_CHANGEABLE && bdev->volatile_cache)
        p[2] = 0x04;
    return CACHING_LEN;
}

static size_t page_control(unsigned pc, uint8_t *p)
{
    memset(p, 0, CONTROL_LEN);
    p[0] = SCSI_MP_CONTROL;
    p[1] = CONTROL_LEN - 2;
    /*
     * QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering): tasks on
     * different workers do complete out of order.  D_SENSE stays 0: we
     * only produce fixed-format sense.
     */
    if (pc != SCSI_MODE_PC_CHANGEABLE)
        p[3] = 0x10;
    return CONTROL_LEN;
}

void scsi_mode_sense(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct bdev *bdev = task->lun->bdev;
    bool ten = cdb[0] == SCSI_OP_MODE_SENSE_10;
    bool dbd = cdb[1] & 0x08;
    unsigned pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
    size_t hdr = ten ? 8 : 4, len, alloc = ten ? get_be16(&cdb[7]) : cdb[4];
    uint64_t blocks = scsi_lun_blocks(task->lun);
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
        len += page_caching(bdev, pc, &buf[len]);
        break;
    case SCSI_MP_CONTROL:
        len += page_control(pc, &buf[len]);
        break;
    case SCSI_MP_ALL:
        len += page_caching(bdev, pc, &buf[len]);
        len += page_control(pc, &buf[len]);
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
