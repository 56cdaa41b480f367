/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-scsi wire structures (virtio 1.2, section 5.6), little-endian.
 * The CDB and sense sizes are the device defaults that QEMU's vhost-user-scsi
 * configuration space reports and does not let the guest change.
 */
#ifndef VUS_VIRTIO_SCSI_VIRTIO_SCSI_PROTO_H
#define VUS_VIRTIO_SCSI_VIRTIO_SCSI_PROTO_H

#include <stdint.h>

#define VIRTIO_SCSI_CDB_SIZE   32
#define VIRTIO_SCSI_SENSE_SIZE 96

/* Feature bits. */
#define VIRTIO_SCSI_F_INOUT   0
#define VIRTIO_SCSI_F_HOTPLUG 1
#define VIRTIO_SCSI_F_CHANGE  2
#define VIRTIO_SCSI_F_T10_PI  3

/* Fixed virtqueues; request queues follow. */
#define VIRTIO_SCSI_VQ_CONTROL 0
#define VIRTIO_SCSI_VQ_EVENT   1
#define VIRTIO_SCSI_VQ_REQUEST 2

/* Response codes (the transport's verdict, distinct from SCSI status). */
#define VIRTIO_SCSI_S_OK                 0
#define VIRTIO_SCSI_S_FUNCTION_COMPLETE  0
#define VIRTIO_SCSI_S_OVERRUN            1
#define VIRTIO_SCSI_S_ABORTED            2
#define VIRTIO_SCSI_S_BAD_TARGET         3
#define VIRTIO_SCSI_S_RESET              4
#define VIRTIO_SCSI_S_BUSY               5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE  6
#define VIRTIO_SCSI_S_TARGET_FAILURE     7
#define VIRTIO_SCSI_S_NEXUS_FAILURE      8
#define VIRTIO_SCSI_S_FAILURE            9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED  11
#define VIRTIO_SCSI_S_INCORRECT_LUN      12

/* Control queue request types. */
#define VIRTIO_SCSI_T_TMF          0
#define VIRTIO_SCSI_T_AN_QUERY     1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE 2

/* Task management subtypes. */
#define VIRTIO_SCSI_T_TMF_ABORT_TASK         0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK_SET     1
#define VIRTIO_SCSI_T_TMF_CLEAR_ACA          2
#define VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET     3
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET    4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET 5
#define VIRTIO_SCSI_T_TMF_QUERY_TASK         6
#define VIRTIO_SCSI_T_TMF_QUERY_TASK_SET     7

/* Events. */
#define VIRTIO_SCSI_T_NO_EVENT        0
#define VIRTIO_SCSI_T_TRANSPORT_RESET 1
#define VIRTIO_SCSI_T_ASYNC_NOTIFY    2
#define VIRTIO_SCSI_T_PARAM_CHANGE    3
#define VIRTIO_SCSI_T_EVENTS_MISSED   0x80000000u
#define VIRTIO_SCSI_EVT_RESET_RESCAN  1
#define VIRTIO_SCSI_EVT_RESET_REMOVED 2

struct virtio_scsi_cmd_req {
    uint8_t lun[8];
    uint64_t tag;
    uint8_t task_attr;
    uint8_t prio;
    uint8_t crn;
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_cmd_req) == 51, "virtio-scsi request header");

struct virtio_scsi_cmd_resp {
    uint32_t sense_len;
    uint32_t resid;
    uint16_t status_qualifier;
    uint8_t status;
    uint8_t response;
    uint8_t sense[VIRTIO_SCSI_SENSE_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_cmd_resp) == 108, "virtio-scsi response header");

struct virtio_scsi_ctrl_tmf_req {
    uint32_t type;
    uint32_t subtype;
    uint8_t lun[8];
    uint64_t tag;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_ctrl_tmf_req) == 24, "TMF request");

struct virtio_scsi_ctrl_tmf_resp {
    uint8_t response;
} __attribute__((packed));

struct virtio_scsi_ctrl_an_req {
    uint32_t type;
    uint8_t lun[8];
    uint32_t event_requested;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_ctrl_an_req) == 16, "AN request");

struct virtio_scsi_ctrl_an_resp {
    uint32_t event_actual;
    uint8_t response;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_ctrl_an_resp) == 5, "AN response");

struct virtio_scsi_event {
    uint32_t event;
    uint8_t lun[8];
    uint32_t reason;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_scsi_event) == 16, "event");

#endif
