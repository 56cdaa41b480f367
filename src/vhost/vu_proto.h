/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst), backend side.
 * Only what a SCSI backend receives is described; sizes are asserted so the
 * structures cannot drift from the protocol.
 */
#ifndef VUS_VHOST_VU_PROTO_H
#define VUS_VHOST_VU_PROTO_H

#include <stdint.h>

enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SET_BACKEND_REQ_FD = 21,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_GET_INFLIGHT_FD = 31,
    VU_SET_INFLIGHT_FD = 32,
    VU_RESET_DEVICE = 34,
    VU_GET_MAX_MEM_SLOTS = 36,
    VU_ADD_MEM_REG = 37,
    VU_REM_MEM_REG = 38,
    VU_SET_STATUS = 39,
    VU_GET_STATUS = 40,
    VU_REQUEST_MAX = 41,
};

/* Header flags. */
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_VERSION           0x1u
#define VU_FLAG_REPLY        (1u << 2)
#define VU_FLAG_NEED_REPLY   (1u << 3)

/* Feature bit that enables protocol features (in GET/SET_FEATURES). */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
/* The backend marks every guest page it writes in the dirty log (live migration). */
#define VHOST_F_LOG_ALL 26

/* SET_VRING_ADDR flags: log writes to this ring's used ring at log_gpa. */
#define VHOST_VRING_F_LOG 0

/* Protocol feature bits. */
#define VU_PROTOCOL_F_MQ                  0
#define VU_PROTOCOL_F_LOG_SHMFD           1
#define VU_PROTOCOL_F_REPLY_ACK           3
#define VU_PROTOCOL_F_CONFIG              9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD      12
#define VU_PROTOCOL_F_RESET_DEVICE        13
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VU_PROTOCOL_F_STATUS              16
/*
 * GET_VRING_BASE suspends requests in flight instead of completing them:
 * they stay recorded in the inflight region, for whoever starts the ring
 * next (the migration destination) to resubmit.  Needs INFLIGHT_SHMFD.
 */
#define VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT 20

/* Payload of SET_VRING_KICK/CALL/ERR: bits 0-7 index, bit 8 "no fd". */
#define VU_VRING_IDX_MASK  0xffu
#define VU_VRING_NOFD_MASK (1u << 8)

/* The fixed memory table message carries at most this many regions. */
#define VU_MEM_TABLE_MAX 8
#define VU_MAX_FDS       8

struct vu_msg_hdr {
    uint32_t request;
    uint32_t flags;
    uint32_t size; /* payload bytes that follow */
} __attribute__((packed));
_Static_assert(sizeof(struct vu_msg_hdr) == 12, "vhost-user header");

struct vu_vring_state {
    uint32_t index;
    uint32_t num;
};
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state");

struct vu_vring_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc_uva;
    uint64_t used_uva;
    uint64_t avail_uva;
    uint64_t log_gpa;
};
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr");

struct vu_mem_region_desc {
    uint64_t gpa;
    uint64_t size;
    uint64_t uva;
    uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vu_mem_region_desc) == 32, "memory region");

struct vu_mem_table_msg {
    uint32_t nregions;
    uint32_t padding;
    struct vu_mem_region_desc regions[VU_MEM_TABLE_MAX];
};
_Static_assert(sizeof(struct vu_mem_table_msg) == 8 + 32 * VU_MEM_TABLE_MAX, "memory table");

struct vu_mem_single_msg {
    uint64_t padding;
    struct vu_mem_region_desc region;
};
_Static_assert(sizeof(struct vu_mem_single_msg) == 40, "single memory region");

/* Not packed on the wire: QEMU sends the naturally aligned 24-byte struct. */
struct vu_inflight_msg {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
    uint32_t padding;
};
_Static_assert(sizeof(struct vu_inflight_msg) == 24, "inflight description");

/* SET_LOG_BASE with LOG_SHMFD: the log is mmap_size bytes of the fd from mmap_offset. */
struct vu_log_msg {
    uint64_t mmap_size;
    uint64_t mmap_offset;
};
_Static_assert(sizeof(struct vu_log_msg) == 16, "log description");

/* The largest payload we accept; anything larger is a broken frontend. */
#define VU_PAYLOAD_MAX 512

union vu_payload {
    uint64_t u64;
    struct vu_vring_state state;
    struct vu_vring_addr addr;
    struct vu_mem_table_msg mem;
    struct vu_mem_single_msg mem_single;
    struct vu_inflight_msg inflight;
    struct vu_log_msg log;
    uint8_t raw[VU_PAYLOAD_MAX];
};

struct vu_msg {
    struct vu_msg_hdr hdr;
    union vu_payload payload;
    int fds[VU_MAX_FDS];
    unsigned nfds;
};

#endif
