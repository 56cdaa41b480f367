/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NVMe completion status -> SCSI sense, in one table (nvme_status.c), so a
 * guest sees the same sense for the same device condition wherever the
 * NVMe backend reports it.  Pure functions, any thread.
 */
#ifndef VUS_NVME_NVME_STATUS_H
#define VUS_NVME_NVME_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct nvme_sense {
    uint8_t key, asc, ascq;
    /*
     * The condition may be transient: resubmitting the command may succeed.
     * Always false when the device set DNR (do not retry).
     */
    bool retry;
};

/*
 * status_field: CQE DW3 bits 31:17 (nvme_cpl.status >> 1): SCT << 8 | SC,
 * with CRD, M and DNR above.  Success gives key 0 (NO SENSE) 00/00.  An
 * unknown code gives HARDWARE ERROR, INTERNAL TARGET FAILURE.
 */
void nvme_status_to_sense(uint16_t status_field, struct nvme_sense *out);

/*
 * Reservation Conflict is not sense data but SCSI status RESERVATION
 * CONFLICT (18h); callers check this first.
 */
bool nvme_status_is_reservation_conflict(uint16_t status_field);

/* "SCT 2h SC 81h (unrecovered read error)": for log lines.  Returns buf. */
const char *nvme_status_str(uint16_t status_field, char *buf, unsigned len);

/* Entries in the table, so the unit test can prove it checked every one. */
unsigned nvme_status_table_size(void);

#endif
