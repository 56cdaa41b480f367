/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Library-internal state shared by the frontend's source files. */
#ifndef VUS_FRONTEND_FE_INTERNAL_H
#define VUS_FRONTEND_FE_INTERNAL_H

#include <pthread.h>

#include "frontend/vus_frontend.h"
#include "vhost/vu_proto.h"
#include "virtq/virtio_ring.h"

/* Feature bits the library knows (values from the virtio spec). */
#define FE_F_INDIRECT_DESC 28
#define FE_F_EVENT_IDX     29
#define FE_F_VERSION_1     32
#define FE_F_PROTOCOL      30
#define FE_F_RING_PACKED   34

/* Per-head slot: the request header and the response header of one command. */
#define FE_SLOT_REQ_OFF  0
#define FE_SLOT_RESP_OFF 64
#define FE_SLOT_SIZE     192

/* Entries of one head's indirect table (either layout: both descriptors are 16 bytes). */
#define FE_INDIR_ENTRIES (VUS_FE_MAX_INDIR + 2)

struct fe_region {
    int fd;
    void *hva;
    uint64_t gpa;
    size_t size;
    size_t used; /* bump allocator */
};

struct fe_head {
    void *cookie;
    uint16_t ndesc;
    bool busy;
    uint16_t ids[VUS_FE_MAX_SEGS + 2]; /* descriptors this head owns, to free without walking */
};

struct vus_fe_vq {
    struct vus_fe *fe;
    unsigned idx;
    uint16_t num;
    bool started;
    struct vring_desc_le *desc;
    struct vring_avail_le *avail;
    struct vring_used_le *used;
    uint16_t *free_ids; /* stack of free descriptor ids */
    unsigned nfree;
    uint16_t avail_idx; /* next entry we write */
    uint16_t avail_pub; /* what the device has seen */
    uint16_t last_used;
    unsigned inflight;
    int kick_fd, call_fd;
    uint64_t calls;
    uint64_t kicks; /* eventfd writes: the device asked for them */
    struct fe_head *heads;
    uint8_t *slots;              /* num * FE_SLOT_SIZE, guest memory */
    struct vring_desc_le *indir; /* num tables of VUS_FE_MAX_INDIR + 2, guest memory */
    struct vus_fe_cmd **cmd_of;  /* by head, for vus_fe_cmd_reap */

    /*
     * Packed ring (fe_vq_packed.c): heads are buffer IDs from free_ids, one
     * per request, and ring slots are counted apart in slots_free; desc,
     * avail and used stay NULL.
     */
    bool packed;
    struct vring_packed_desc_le *pdesc;
    struct vring_packed_event_le *drv_event; /* ours: which completions we want calls for */
    struct vring_packed_event_le *dev_event; /* the device's: which additions it wants kicks for */
    uint16_t next_avail, next_used;          /* ring positions, with their wrap counters */
    bool avail_wrap, used_wrap;
    unsigned slots_free;
    uint16_t added;       /* slots made available since the last kick */
    uint32_t packed_base; /* SET_VRING_BASE's value: fresh, or the last GET_VRING_BASE answer */
};

struct vus_fe {
    int sock;
    int timeout_ms;
    pthread_mutex_t lock; /* the control connection */
    uint64_t features, protocol_features;
    unsigned backend_queues;
    unsigned nvqs;
    struct fe_region regions[VUS_FE_MAX_REGIONS];
    unsigned nregions;
    unsigned alloc_region; /* vus_fe_alloc's current region */
    struct vus_fe_vq vqs[VUS_FE_MAX_QUEUES];
    uint16_t qsize;
    bool log_on; /* VHOST_F_LOG_ALL negotiated: rings are set up with VHOST_VRING_F_LOG */
};

/* fe_conn.c */
int fe_request(struct vus_fe *fe, uint32_t request, const void *payload, uint32_t size,
               const int *fds, unsigned nfds, void *reply, uint32_t reply_size);
void *fe_hva(const struct vus_fe *fe, uint64_t gpa, size_t len);
uint64_t fe_gpa_of(const struct vus_fe *fe, const void *p);
/* Wait for POLLIN, retrying interrupted polls: 1 readable, 0 timed out, or -errno. */
int fe_wait_readable(int fd, int timeout_ms);

/* fe_log.c */
/* SET_VRING_ADDR's payload for vq, with the log flag and address while logging. */
struct vu_vring_addr fe_vring_addr(const struct vus_fe *fe, const struct vus_fe_vq *vq);

/* fe_vq.c */
int fe_vq_init(struct vus_fe *fe, unsigned idx, uint16_t num);
void fe_vq_fini(struct vus_fe_vq *vq);
int fe_vq_reap_head(struct vus_fe_vq *vq, uint16_t *head, uint32_t *len);

/* fe_vq_packed.c: the packed-ring halves of fe_vq.c, which calls them when vq->packed. */
int fe_vq_packed_init(struct vus_fe_vq *vq);
int fe_vq_packed_add(struct vus_fe_vq *vq, const struct vus_fe_seg *segs, unsigned n, bool indirect,
                     void *cookie);
void fe_vq_packed_kick(struct vus_fe_vq *vq);
int fe_vq_packed_reap_head(struct vus_fe_vq *vq, uint16_t *head, uint32_t *len);
bool fe_vq_packed_has_used(const struct vus_fe_vq *vq);
void fe_vq_packed_want_calls(struct vus_fe_vq *vq, bool on);

#endif
