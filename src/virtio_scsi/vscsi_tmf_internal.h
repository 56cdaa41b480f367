/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the control queue (vscsi_ctrl.c) and task management (vscsi_tmf.c); control thread. */
#ifndef VUS_VIRTIO_SCSI_VSCSI_TMF_INTERNAL_H
#define VUS_VIRTIO_SCSI_VSCSI_TMF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_scsi/vscsi.h"

/* The head of a TMF nobody asked for on the control queue: it is not answered. */
#define VSCSI_HEAD_NONE UINT16_MAX

/* Whether a TMF that waits for victims could start now. */
bool vscsi_tmf_slot_free(const struct vscsi_ctrl *c);

/*
 * Start an abort or reset (ABORT TASK, ABORT TASK SET, CLEAR TASK SET,
 * LOGICAL UNIT RESET, I_T NEXUS RESET) for the control request head: mark
 * its victims and answer at once if there are none (returns 1: pushed),
 * otherwise when vscsi_ctrl_poll_tmfs() finds them gone (returns 0).
 * -EBUSY without a free slot.
 */
int vscsi_tmf_start(struct vscsi_ctrl *c, uint16_t head, uint32_t subtype, struct scsi_lun *lun,
                    uint64_t tag, uint64_t now_ns);

/* Write a one-byte TMF response into head (mapped now) and push it; no signal. */
void vscsi_ctrl_answer(struct vscsi_ctrl *c, uint16_t head, uint8_t response);

#endif
