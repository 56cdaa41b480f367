/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "virtio_scsi/vscsi.h"

int vscsi_parse_lun(const uint8_t lun[8], unsigned *target, unsigned *lun_id)
{
    unsigned method = lun[2] >> 6;

    if (lun[0] != 1)
        return -1;
    /* Only single-level LUNs: the rest of the address must be zero. */
    if (lun[4] | lun[5] | lun[6] | lun[7])
        return -1;
    if (method == 0) {
        /* Peripheral device addressing: bus 0 only, LUN in byte 3. */
        if (lun[2] & 0x3f)
            return -1;
    } else if (method != 1) {
        return -1;
    }
    *target = lun[1];
    *lun_id = ((unsigned)(lun[2] & 0x3f) << 8) | lun[3];
    return 0;
}

void vscsi_encode_lun(uint8_t out[8], unsigned target, unsigned lun_id)
{
    out[0] = 1;
    out[1] = (uint8_t)target;
    /*
     * Peripheral addressing below 256, flat space above, as REPORT LUNS
     * says: Linux's virtio_scsi reads an event's LUN as lun[2] << 8 | lun[3]
     * without masking the method bits, so a flat-space LUN 1 became 16385
     * and a hotplugged disk appeared at the wrong address.
     */
    out[2] = lun_id >= 256 ? (uint8_t)(0x40 | ((lun_id >> 8) & 0x3f)) : 0;
    out[3] = (uint8_t)lun_id;
    out[4] = out[5] = out[6] = out[7] = 0;
}
