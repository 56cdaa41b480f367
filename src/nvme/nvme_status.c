/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NVMe status -> SCSI sense table.
 *
 * Choices that are not obvious:
 *  - Aborts (requested, SQ deletion, fused, preempt, interrupted, path
 *    errors) are ABORTED COMMAND 00/00 with retry: the command never ran to
 *    an answer, and initiators retry ABORTED COMMAND.
 *  - Our own driver bugs as the device reports them (bad PRP/SGL, CID
 *    conflict, command sequence) are HARDWARE ERROR 44/00: the guest's CDB
 *    was fine, the target failed.
 *  - Protection information check failures follow SBC-3: ABORTED COMMAND
 *    10/01 (guard), 10/02 (application tag), 10/03 (reference tag), not
 *    retried (Linux does not retry them either).
 *  - Capacity Exceeded is a thin-provisioned namespace out of space: DATA
 *    PROTECT 27/07, SPACE ALLOCATION FAILED WRITE PROTECT, as SBC-3 says.
 */
#include <stdio.h>

#include "nvme/nvme_spec.h"
#include "nvme/nvme_status.h"
#include "scsi/scsi_proto.h"

struct status_map {
    uint16_t code; /* NVME_SF(sct, sc) */
    uint8_t key, asc, ascq;
    bool retry;
    const char *name;
};

#define G(sc) NVME_SF(NVME_SCT_GENERIC, NVME_SC_##sc)
#define C(sc) NVME_SF(NVME_SCT_CMD, NVME_SC_##sc)
#define M(sc) NVME_SF(NVME_SCT_MEDIA, NVME_SC_##sc)
#define P(sc) NVME_SF(NVME_SCT_PATH, NVME_SC_##sc)
#define NR    SCSI_SK_NOT_READY
#define ME    SCSI_SK_MEDIUM_ERROR
#define HE    SCSI_SK_HARDWARE_ERROR
#define IR    SCSI_SK_ILLEGAL_REQUEST
#define DP    SCSI_SK_DATA_PROTECT
#define AC    SCSI_SK_ABORTED_COMMAND
#define MC    SCSI_SK_MISCOMPARE

static const struct status_map map[] = {
    { G(SUCCESS), SCSI_SK_NO_SENSE, 0x00, 0x00, false, "success" },
    { G(INVALID_OPCODE), IR, 0x20, 0x00, false, "invalid command opcode" },
    { G(INVALID_FIELD), IR, 0x24, 0x00, false, "invalid field in command" },
    { G(CID_CONFLICT), HE, 0x44, 0x00, false, "command id conflict" },
    /* A transfer over PCIe failed: the medium is fine, another try may work. */
    { G(DATA_XFER_ERROR), AC, 0x4b, 0x00, true, "data transfer error" },
    /* 0B/08 WARNING - POWER LOSS EXPECTED */
    { G(POWER_LOSS_ABORT), AC, 0x0b, 0x08, true, "aborted: power loss notification" },
    { G(INTERNAL), HE, 0x44, 0x00, true, "internal error" },
    { G(ABORT_REQUESTED), AC, 0x00, 0x00, true, "aborted: requested" },
    { G(ABORT_SQ_DELETION), AC, 0x00, 0x00, true, "aborted: SQ deletion" },
    { G(ABORT_FUSED_FAIL), AC, 0x00, 0x00, true, "aborted: failed fused command" },
    { G(ABORT_FUSED_MISSING), AC, 0x00, 0x00, true, "aborted: missing fused command" },
    /* 25/00 LOGICAL UNIT NOT SUPPORTED: the namespace went away under the LUN. */
    { G(INVALID_NS_OR_FORMAT), IR, 0x25, 0x00, false, "invalid namespace or format" },
    { G(CMD_SEQ_ERROR), HE, 0x44, 0x00, false, "command sequence error" },
    { G(INVALID_SGL_SEG_DESC), HE, 0x44, 0x00, false, "invalid SGL segment descriptor" },
    { G(INVALID_NUM_SGL_DESC), HE, 0x44, 0x00, false, "invalid number of SGL descriptors" },
    { G(DATA_SGL_LEN_INVALID), HE, 0x44, 0x00, false, "data SGL length invalid" },
    { G(MD_SGL_LEN_INVALID), HE, 0x44, 0x00, false, "metadata SGL length invalid" },
    { G(SGL_DESC_TYPE_INVALID), HE, 0x44, 0x00, false, "SGL descriptor type invalid" },
    { G(INVALID_CMB_USE), HE, 0x44, 0x00, false, "invalid use of controller memory buffer" },
    { G(PRP_OFFSET_INVALID), HE, 0x44, 0x00, false, "PRP offset invalid" },
    { G(ATOMIC_WU_EXCEEDED), IR, 0x24, 0x00, false, "atomic write unit exceeded" },
    /* 20/02 ACCESS DENIED - NO ACCESS RIGHTS */
    { G(OPERATION_DENIED), DP, 0x20, 0x02, false, "operation denied" },
    { G(SGL_OFFSET_INVALID), HE, 0x44, 0x00, false, "SGL offset invalid" },
    { G(KA_EXPIRED), AC, 0x00, 0x00, true, "keep alive timer expired" },
    { G(ABORT_PREEMPT), AC, 0x00, 0x00, true, "aborted: preempt and abort" },
    /* 31/03 SANITIZE COMMAND FAILED */
    { G(SANITIZE_FAILED), ME, 0x31, 0x03, false, "sanitize failed" },
    /* 04/1B LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS */
    { G(SANITIZE_IN_PROGRESS), NR, 0x04, 0x1b, true, "sanitize in progress" },
    { G(SGL_DATA_BLK_GRAN), HE, 0x44, 0x00, false, "SGL data block granularity invalid" },
    /* 27/00 WRITE PROTECTED */
    { G(NS_WRITE_PROTECTED), DP, 0x27, 0x00, false, "namespace is write protected" },
    { G(CMD_INTERRUPTED), AC, 0x00, 0x00, true, "command interrupted" },
    { G(TRANSIENT_TRANSPORT), AC, 0x00, 0x00, true, "transient transport error" },
    { G(PROHIBITED_LOCKDOWN), IR, 0x20, 0x00, false, "prohibited by command lockdown" },
    /* 04/00 LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE */
    { G(ADMIN_MEDIA_NOT_READY), NR, 0x04, 0x00, true, "admin command media not ready" },
    { G(LBA_OUT_OF_RANGE), IR, 0x21, 0x00, false, "LBA out of range" },
    { G(CAPACITY_EXCEEDED), DP, 0x27, 0x07, false, "capacity exceeded" },
    /* 04/01 LOGICAL UNIT IS IN PROCESS OF BECOMING READY */
    { G(NS_NOT_READY), NR, 0x04, 0x01, true, "namespace not ready" },
    /* Sense only for callers that ignore nvme_status_is_reservation_conflict(). */
    { G(RESERVATION_CONFLICT), DP, 0x20, 0x02, false, "reservation conflict" },
    /* 04/04 LOGICAL UNIT NOT READY, FORMAT IN PROGRESS */
    { G(FORMAT_IN_PROGRESS), NR, 0x04, 0x04, true, "format in progress" },

    { C(CONFLICTING_ATTRS), IR, 0x24, 0x00, false, "conflicting attributes" },
    { C(INVALID_PI), IR, 0x24, 0x00, false, "invalid protection information" },
    { C(WRITE_TO_RO_RANGE), DP, 0x27, 0x00, false, "write to read only range" },
    { C(CMD_SIZE_LIMIT), IR, 0x24, 0x00, false, "command size limit exceeded" },

    /* 0C/00 WRITE ERROR */
    { M(WRITE_FAULT), ME, 0x0c, 0x00, false, "write fault" },
    /* 11/00 UNRECOVERED READ ERROR */
    { M(UNRECOVERED_READ), ME, 0x11, 0x00, false, "unrecovered read error" },
    { M(GUARD_CHECK), AC, 0x10, 0x01, false, "end-to-end guard check error" },
    { M(APPTAG_CHECK), AC, 0x10, 0x02, false, "end-to-end application tag check error" },
    { M(REFTAG_CHECK), AC, 0x10, 0x03, false, "end-to-end reference tag check error" },
    /* 1D/00 MISCOMPARE DURING VERIFY OPERATION */
    { M(COMPARE_FAILURE), MC, 0x1d, 0x00, false, "compare failure" },
    { M(ACCESS_DENIED), DP, 0x20, 0x02, false, "access denied" },
    /* Only with DULBE enabled, which we never set: reads as an unreadable block. */
    { M(DEALLOCATED_BLOCK), ME, 0x11, 0x00, false, "deallocated or unwritten logical block" },

    { P(INTERNAL_PATH_ERROR), AC, 0x00, 0x00, true, "internal path error" },
    /* 04/0C LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE */
    { P(ANA_PERSISTENT_LOSS), NR, 0x04, 0x0c, false, "ANA persistent loss" },
    /* 04/0B LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE */
    { P(ANA_INACCESSIBLE), NR, 0x04, 0x0b, true, "ANA inaccessible" },
    /* 04/0A LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION */
    { P(ANA_TRANSITION), NR, 0x04, 0x0a, true, "ANA transition" },
    { P(CTRL_PATH_ERROR), AC, 0x00, 0x00, true, "controller pathing error" },
    { P(HOST_PATH_ERROR), AC, 0x00, 0x00, true, "host pathing error" },
    { P(HOST_ABORTED), AC, 0x00, 0x00, true, "command aborted by host" },
};

static const struct status_map *lookup(uint16_t status_field)
{
    uint16_t code = NVME_SF_CODE(status_field);

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].code == code)
            return &map[i];
    return NULL;
}

void nvme_status_to_sense(uint16_t status_field, struct nvme_sense *out)
{
    const struct status_map *m = lookup(status_field);

    if (!m) {
        *out = (struct nvme_sense){ HE, 0x44, 0x00, false };
        return;
    }
    *out = (struct nvme_sense){ m->key, m->asc, m->ascq, m->retry };
    if (status_field & NVME_SF_DNR)
        out->retry = false;
}

bool nvme_status_is_reservation_conflict(uint16_t status_field)
{
    return NVME_SF_CODE(status_field) == G(RESERVATION_CONFLICT);
}

const char *nvme_status_str(uint16_t status_field, char *buf, unsigned len)
{
    const struct status_map *m = lookup(status_field);

    snprintf(buf, len, "SCT %xh SC %02xh (%s%s)", NVME_SF_SCT(status_field),
             NVME_SF_SC(status_field), m ? m->name : "unknown",
             (status_field & NVME_SF_DNR) ? ", do not retry" : "");
    return buf;
}

unsigned nvme_status_table_size(void)
{
    return sizeof(map) / sizeof(map[0]);
}
