/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Vital product data pages (INQUIRY with EVPD=1).  Every limit reported here
 * is one the command handlers enforce: initiators (Linux sd, libiscsi) size
 * their requests from these pages.
 */
#include <string.h>

#include "scsi/scsi_internal.h"

static const uint8_t disk_pages[] = {
    SCSI_VPD_SUPPORTED,    SCSI_VPD_SERIAL,    SCSI_VPD_DEVICE_ID,
    SCSI_VPD_BLOCK_LIMITS, SCSI_VPD_BLOCK_DEV, SCSI_VPD_LB_PROVISION,
};

static size_t vpd_supported(const struct scsi_lun *lun, uint8_t *buf)
{
    /* The stand-in has no unit behind it: it only lists this page. */
    size_t n = lun->bdev != NULL ? sizeof(disk_pages) : 1;

    memcpy(&buf[4], disk_pages, n);
    return 4 + n;
}

static size_t vpd_serial(const struct scsi_lun *lun, uint8_t *buf)
{
    size_t n = strnlen(lun->serial, SCSI_SERIAL_MAX);

    memcpy(&buf[4], lun->serial, n);
    return 4 + n;
}

/* An EUI-64 based designator (8 or 16 bytes); nothing for an all-zero identifier. */
static size_t eui_designator(uint8_t *p, const uint8_t *id, size_t len)
{
    size_t i;

    for (i = 0; i < len && id[i] == 0; i++)
        ;
    if (i == len)
        return 0;
    p[0] = SCSI_CODESET_BINARY;
    p[1] = SCSI_DESIG_EUI64;
    p[2] = 0;
    p[3] = (uint8_t)len;
    memcpy(&p[4], id, len);
    return 4 + len;
}

static size_t vpd_device_id(const struct scsi_lun *lun, uint8_t *buf)
{
    size_t n = strnlen(lun->serial, SCSI_SERIAL_MAX), off = 4;

    /* NAA designator, associated with the logical unit. */
    buf[off++] = SCSI_CODESET_BINARY;
    buf[off++] = SCSI_DESIG_NAA;
    buf[off++] = 0;
    buf[off++] = 8;
    put_be64(&buf[off], lun->wwn);
    off += 8;

    /* T10 vendor ID designator: vendor identification, then the serial to make it unique. */
    buf[off++] = SCSI_CODESET_ASCII;
    buf[off++] = SCSI_DESIG_T10;
    buf[off++] = 0;
    buf[off++] = (uint8_t)(8 + n);
    memcpy(&buf[off], "VUSCSI  ", 8);
    memcpy(&buf[off + 8], lun->serial, n);
    off += 8 + n;

    /* The hardware's own names (NVMe EUI64 and NGUID), so that multipath tools can match them. */
    off += eui_designator(&buf[off], lun->bdev->eui64, sizeof(lun->bdev->eui64));
    off += eui_designator(&buf[off], lun->bdev->nguid, sizeof(lun->bdev->nguid));
    return off;
}

static size_t vpd_block_limits(const struct scsi_lun *lun, uint8_t *buf)
{
    const struct bdev *bdev = lun->bdev;
    uint32_t gran = bdev->optimal_io_blocks;

    /* A 512e LUN wants whole physical blocks: the backend's own granularity if coarser. */
    if (gran < (1u << lun->lbppb_exp))
        gran = 1u << lun->lbppb_exp;

    memset(&buf[4], 0, 0x3c);
    /* WSNZ 0: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 writes to the end of the medium. */
    buf[4] = 0x00;
    buf[5] = SCSI_MAX_CAW_BLOCKS; /* MAXIMUM COMPARE AND WRITE LENGTH */
    put_be16(&buf[6], (uint16_t)(gran > 0xffff ? 0xffff : gran));
    put_be32(&buf[8], scsi_max_xfer_blocks(bdev));
    /*
     * A backend with a transfer size of its own (an NVMe controller's MDTS)
     * gets requests of that size at most from a well-behaved initiator; bigger
     * ones are still taken, and split.
     */
    if (bdev->max_io_bytes >= bdev->block_size &&
        bdev->max_io_bytes / bdev->block_size < scsi_max_xfer_blocks(bdev))
        put_be32(&buf[8], bdev->max_io_bytes / bdev->block_size);
    if (bdev->can_discard) {
        uint64_t unmap_max = SCSI_MAX_UNMAP_BLOCKS;

        if (bdev->max_discard_bytes != 0 && bdev->max_discard_bytes / bdev->block_size < unmap_max)
            unmap_max = bdev->max_discard_bytes / bdev->block_size;
        put_be32(&buf[20], (uint32_t)unmap_max);
        put_be32(&buf[24], SCSI_MAX_UNMAP_DESCS);
        /* OPTIMAL UNMAP GRANULARITY; alignment 0 (UGAVALID): pieces start at LBA 0. */
        put_be32(&buf[28], lun->unmap_gran > 0 ? lun->unmap_gran : 1);
        if (lun->unmap_gran > 1)
            buf[32] = 0x80;
    }
    put_be64(&buf[36], SCSI_MAX_WS_BLOCKS);
    /* WRITE ATOMIC: no ATOMIC BOUNDARY support, so the two boundary fields stay 0. */
    put_be32(&buf[44], scsi_atomic_max_blocks(bdev));
    put_be32(&buf[48], scsi_atomic_gran_blocks(bdev));
    put_be32(&buf[52], scsi_atomic_gran_blocks(bdev));
    return 4 + 0x3c;
}

static size_t vpd_block_dev(const struct scsi_lun *lun, uint8_t *buf)
{
    memset(&buf[4], 0, 0x3c);
    put_be16(&buf[4], 1); /* MEDIUM ROTATION RATE: non-rotating */
    /*
     * WABEREQ 01b: after SANITIZE BLOCK ERASE reads succeed (they return
     * zeroes, or the overwrite pattern).  WACEREQ 00b: no CRYPTOGRAPHIC ERASE.
     */
    buf[7] = 0x40;
    return 4 + 0x3c;
}

static size_t vpd_provisioning(const struct scsi_lun *lun, uint8_t *buf)
{
    const struct bdev *bdev = lun->bdev;

    memset(&buf[4], 0, 4);
    if (bdev->can_discard) {
        buf[5] = 0x80 | 0x40 | 0x20; /* LBPU, LBPWS, LBPWS10 */
        if (bdev->discard_zeroes)
            buf[5] |= 0x04; /* LBPRZ */
        buf[6] = 0x02;      /* PROVISIONING TYPE: thin */
    }
    return 8;
}

size_t scsi_vpd_page(const struct scsi_lun *lun, uint8_t page, uint8_t *buf)
{
    size_t len;

    if (lun->bdev == NULL && page != SCSI_VPD_SUPPORTED)
        return 0;
    switch (page) {
    case SCSI_VPD_SUPPORTED:
        len = vpd_supported(lun, buf);
        break;
    case SCSI_VPD_SERIAL:
        len = vpd_serial(lun, buf);
        break;
    case SCSI_VPD_DEVICE_ID:
        len = vpd_device_id(lun, buf);
        break;
    case SCSI_VPD_BLOCK_LIMITS:
        len = vpd_block_limits(lun, buf);
        break;
    case SCSI_VPD_BLOCK_DEV:
        len = vpd_block_dev(lun, buf);
        break;
    case SCSI_VPD_LB_PROVISION:
        len = vpd_provisioning(lun, buf);
        break;
    default:
        return 0;
    }
    buf[0] = lun->bdev != NULL ? SCSI_TYPE_DISK : (SCSI_PQ_NOT_CAPABLE | SCSI_TYPE_UNKNOWN);
    buf[1] = page;
    put_be16(&buf[2], (uint16_t)(len - 4));
    return len;
}
