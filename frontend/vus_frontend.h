/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A vhost-user-scsi frontend: plays QEMU's part of the vhost-user protocol
 * against any vhost-user-scsi backend, without a VM.
 *
 * The library owns a "guest memory" made of memfd regions that it shares with
 * the backend.  Everything the backend must see (rings, request headers, data
 * buffers) lives there; vus_fe_alloc() hands it out.  Descriptor addresses are
 * guest-physical addresses of that memory, exactly as a guest would use.
 *
 * Threading: one thread per virtqueue; the control connection is serialised
 * by the library, so different threads may own different request queues.
 *
 * Besides the well-behaved API, there is a deliberate-misbehaviour API (raw
 * messages, raw descriptors, avail index jumps) for testing backends.
 */
#ifndef VUS_FRONTEND_H
#define VUS_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio_scsi/virtio_scsi_proto.h"

#define VUS_FE_MAX_QUEUES  66 /* control + event + 64 request queues */
#define VUS_FE_MAX_REGIONS 8
#define VUS_FE_MAX_SEGS    192 /* descriptors in one direct chain built by the library */
#define VUS_FE_MAX_INDIR   64  /* entries of one indirect table built by the library */

struct vus_fe;
struct vus_fe_vq;

struct vus_fe_config {
    const char *socket_path;
    unsigned num_req_queues; /* 0 means 1 */
    unsigned queue_size;     /* power of two; 0 means 128 */
    size_t mem_size;         /* guest memory bytes; 0 means 16 MiB */
    unsigned mem_regions;    /* memfd regions the memory is cut into; 0 means 1 */
    bool no_indirect;        /* do not negotiate VIRTIO_RING_F_INDIRECT_DESC */
    bool no_event_idx;       /* do not negotiate VIRTIO_RING_F_EVENT_IDX */
    bool packed;             /* negotiate VIRTIO_F_RING_PACKED when offered: packed rings */
    bool no_protocol_features;
    bool no_log_shmfd;       /* do not negotiate LOG_SHMFD (the shared-memory dirty log) */
    bool add_mem_reg;        /* share memory with ADD_MEM_REG instead of SET_MEM_TABLE, when the
                                backend offers CONFIGURE_MEM_SLOTS */
    bool no_start;           /* negotiate and share memory, but leave the rings to the caller */
    uint64_t protocol_extra; /* more protocol features to negotiate when offered */
    int timeout_ms;          /* replies and connect; 0 means 5000 */
    int connect_retry_ms;    /* keep trying to connect this long (backend starting or busy);
                                0 means timeout_ms */
};

/* Connection and setup: every ring started and enabled unless cfg->no_start. */
int vus_fe_connect(const struct vus_fe_config *cfg, struct vus_fe **out);
void vus_fe_close(struct vus_fe *fe);
int vus_fe_socket(const struct vus_fe *fe);
uint64_t vus_fe_features(const struct vus_fe *fe);
uint64_t vus_fe_protocol_features(const struct vus_fe *fe);
unsigned vus_fe_backend_queues(const struct vus_fe *fe); /* GET_QUEUE_NUM answer */
unsigned vus_fe_num_vqs(const struct vus_fe *fe);        /* control + event + request */
struct vus_fe_vq *vus_fe_vq(struct vus_fe *fe, unsigned idx);

/* Start one ring (NUM, BASE, ADDR, KICK, CALL, ENABLE) / stop it (GET_VRING_BASE). */
int vus_fe_vq_start(struct vus_fe *fe, unsigned idx);
int vus_fe_vq_stop(struct vus_fe *fe, unsigned idx, uint16_t *base);

/* Guest memory. */
void *vus_fe_alloc(struct vus_fe *fe, size_t size, size_t align);
void *vus_fe_alloc_in(struct vus_fe *fe, unsigned region, size_t size, size_t align);
int vus_fe_gpa(const struct vus_fe *fe, const void *p, size_t len, uint64_t *gpa);
unsigned vus_fe_num_regions(const struct vus_fe *fe);
/* Region i: host address, guest-physical address, size. */
int vus_fe_region(const struct vus_fe *fe, unsigned i, void **hva, uint64_t *gpa, size_t *size);
/*
 * A new memfd region of size bytes, announced with ADD_MEM_REG when
 * CONFIGURE_MEM_SLOTS was negotiated, else with a SET_MEM_TABLE of every
 * region (the backend remaps them all, as on a guest's memory hotplug; at
 * most VUS_FE_MAX_REGIONS either way).  Returns its index, or -errno.
 */
int vus_fe_add_region(struct vus_fe *fe, size_t size);
/* The memfd behind region i (still owned by the library). */
int vus_fe_region_fd(const struct vus_fe *fe, unsigned i);
/*
 * SET_MEM_TABLE with the listed regions only (all when n is 0), in that
 * order: tables that shrink under running queues, and back.  0, ack value, -errno.
 */
int vus_fe_set_mem_table(struct vus_fe *fe, const unsigned *regions, unsigned n);

/* Virtqueues, driver side. */
struct vus_fe_seg {
    uint64_t gpa;
    uint32_t len;
    bool write; /* device-writable */
};

enum {
    VUS_FE_INDIRECT = 1u << 0, /* one descriptor pointing to an indirect table */
};

int vus_fe_vq_add(struct vus_fe_vq *vq, const struct vus_fe_seg *segs, unsigned n, unsigned flags,
                  void *cookie);
/* Publish what was added; kicks when the device wants a notification. */
void vus_fe_vq_kick(struct vus_fe_vq *vq);
/*
 * One completion: 1 and its cookie/length, 0 when none is there.  Reaping
 * does not ask the device for an interrupt; vus_fe_vq_wait does, as Linux's
 * driver only re-enables callbacks once it has drained the ring.
 */
int vus_fe_vq_reap(struct vus_fe_vq *vq, void **cookie, uint32_t *len);
/*
 * Wait for a completion (asking for a call first): 1, 0 on timeout, -errno.
 * With EVENT_IDX the request is used_event; without it, the call is asked
 * for by clearing VRING_AVAIL_F_NO_INTERRUPT, which is set again on return.
 */
int vus_fe_vq_wait(struct vus_fe_vq *vq, int timeout_ms);
unsigned vus_fe_vq_free_descs(const struct vus_fe_vq *vq);
unsigned vus_fe_vq_size(const struct vus_fe_vq *vq);
unsigned vus_fe_vq_inflight(const struct vus_fe_vq *vq);
/* Number of call-eventfd signals seen so far. */
uint64_t vus_fe_vq_calls(const struct vus_fe_vq *vq);
/* Kicks sent so far (avail_event / NO_NOTIFY honoured: only those the device wanted). */
uint64_t vus_fe_vq_kicks(const struct vus_fe_vq *vq);

/* virtio-scsi. */
enum {
    VUS_FE_CMD_INDIRECT = 1u << 0, /* whole chain through an indirect table */
    VUS_FE_CMD_SPLIT_HDR = 1u << 1 /* headers cut into one descriptor per hdr_piece bytes */
};

struct vus_fe_cmd {
    /* in */
    unsigned target, lun;
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE];
    uint64_t tag;
    uint8_t task_attr;
    const struct iovec *out; /* data-out, in guest memory */
    unsigned out_cnt;
    const struct iovec *in; /* data-in, in guest memory */
    unsigned in_cnt;
    unsigned flags;     /* VUS_FE_CMD_* */
    unsigned hdr_piece; /* with VUS_FE_CMD_SPLIT_HDR; 0 means 1 byte */
    void *priv;
    /* out */
    uint32_t used_len; /* what the device reported on the used ring */
    uint8_t response, status;
    uint32_t resid, sense_len;
    uint8_t sense[VIRTIO_SCSI_SENSE_SIZE];
};

void vus_fe_lun_encode(uint8_t lun[8], unsigned target, unsigned lun_id);
int vus_fe_cmd_submit(struct vus_fe_vq *vq, struct vus_fe_cmd *cmd);
/* A completed command with its results filled in, or NULL. */
struct vus_fe_cmd *vus_fe_cmd_reap(struct vus_fe_vq *vq);
/* Submit, kick, and wait (the queue must have nothing else in flight). */
int vus_fe_cmd_exec(struct vus_fe_vq *vq, struct vus_fe_cmd *cmd, int timeout_ms);

/* Task management on the control queue; *response is VIRTIO_SCSI_S_*. */
int vus_fe_tmf(struct vus_fe *fe, uint32_t subtype, unsigned target, unsigned lun, uint64_t tag,
               uint8_t *response, int timeout_ms);
int vus_fe_an(struct vus_fe *fe, uint32_t type, unsigned target, unsigned lun, uint32_t requested,
              uint32_t *actual, uint8_t *response, int timeout_ms);

/* Event queue: post n empty event buffers; reap one filled event (1), or 0. */
int vus_fe_event_post(struct vus_fe *fe, unsigned n);
int vus_fe_event_reap(struct vus_fe *fe, struct virtio_scsi_event *ev, uint32_t *len);

/* Dirty-page logging, as QEMU drives it during a live migration. */

/*
 * SET_LOG_BASE: log into size bytes of fd from offset (fd -1: no fd sent).
 * With LOG_SHMFD negotiated the backend's reply is awaited: 0 accepted, 1
 * refused; without it, the REPLY_ACK value when negotiated, else 0.  -errno
 * when the connection broke.
 */
int vus_fe_set_log_base(struct vus_fe *fe, int fd, uint64_t size, uint64_t offset);
/*
 * Start or stop logging: SET_FEATURES with or without VHOST_F_LOG_ALL, then
 * SET_VRING_ADDR of every started ring with or without VHOST_VRING_F_LOG (at
 * the used ring's guest-physical address).  0, an ack value, or -errno.
 */
int vus_fe_set_log(struct vus_fe *fe, bool on);
/* Guest-physical address and size of a ring's used ring (what it logs as). */
void vus_fe_vq_used_area(const struct vus_fe_vq *vq, uint64_t *gpa, size_t *len);

/* --- Deliberate misbehaviour, for testing backends --- */

/* Send any message; fds are passed as given.  Reads no reply. */
int vus_fe_send_raw(struct vus_fe *fe, uint32_t request, uint32_t flags, const void *payload,
                    uint32_t size, const int *fds, unsigned nfds);
/* Read one reply (any request): payload bytes copied, size returned, -errno. */
int vus_fe_recv_raw(struct vus_fe *fe, uint32_t *request, void *payload, size_t max,
                    int timeout_ms);
/* A well-formed request with NEED_REPLY and the backend's ack (0 ok, >0 failed), or -errno. */
int vus_fe_request_ack(struct vus_fe *fe, uint32_t request, const void *payload, uint32_t size,
                       const int *fds, unsigned nfds);
/*
 * GET_INFLIGHT_FD: the backend's inflight region for num_queues queues of
 * queue_size entries.  0 with *fd (the caller's to close) and *mmap_size,
 * -ENOENT when the backend answered without a region, or -errno.
 */
int vus_fe_get_inflight_fd(struct vus_fe *fe, uint16_t num_queues, uint16_t queue_size, int *fd,
                           uint64_t *mmap_size);
/* Whether the backend closed the connection (waits up to timeout_ms). */
bool vus_fe_peer_closed(struct vus_fe *fe, int timeout_ms);

/*
 * Raw descriptors (split rings only: on a packed ring they return -ENOTSUP
 * or do nothing): take n free descriptor ids (freed again when the head
 * given to vus_fe_vq_publish_raw completes), write any table entry, publish
 * any head.  The ids are the caller's to link as it likes, loops included.
 */
int vus_fe_vq_take_ids(struct vus_fe_vq *vq, unsigned n, uint16_t *ids);
void vus_fe_vq_write_desc(struct vus_fe_vq *vq, uint16_t id, uint64_t addr, uint32_t len,
                          uint16_t flags, uint16_t next);
int vus_fe_vq_publish_raw(struct vus_fe_vq *vq, uint16_t head, const uint16_t *ids, unsigned n,
                          void *cookie);
/* Move the published avail index by delta without adding entries, and kick (split only). */
void vus_fe_vq_avail_jump(struct vus_fe_vq *vq, uint16_t delta);
/* The same without the kick: a device that is looking anyway sees it at once. */
void vus_fe_vq_avail_move(struct vus_fe_vq *vq, uint16_t delta);
/* The device's used index as it is now, without reaping anything. */
uint16_t vus_fe_vq_used_idx(const struct vus_fe_vq *vq);
/* The request header/response slots the library uses for head id (guest memory). */
void *vus_fe_vq_hdr_slot(struct vus_fe_vq *vq, uint16_t head, size_t *len);

#endif
