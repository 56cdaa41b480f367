/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backend side of one vhost-user connection: negotiated features, the
 * memory table, the vrings' configuration, the inflight region.
 *
 * Like libvhost-user, this layer owns no event loop and no thread: the
 * control thread feeds it messages (vu_dev_handle_msg) and it calls back into
 * the device (struct vu_dev_ops) around every change that workers must not
 * see half-done.
 *
 * Threading: all functions run on the control thread.  Workers read vrings
 * and the memory table only between ops->resume() and the next ops->pause().
 */
#ifndef VUS_VHOST_VU_DEV_H
#define VUS_VHOST_VU_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost/vu_fault.h"
#include "vhost/vu_log.h"
#include "vhost/vu_mem.h"
#include "vhost/vu_proto.h"
#include "virtq/virtq.h"

#define VU_MAX_QUEUES 130 /* virtio-scsi: control + event + up to 128 request queues */

struct vu_vring {
    struct virtq vq;
    uint64_t desc_uva, avail_uva, used_uva;
    bool addr_set; /* SET_VRING_ADDR received */
    bool addr_ok;  /* ...and it translates through the current memory table */
    int kick_fd;   /* -1: none */
    int err_fd;
    bool enabled; /* SET_VRING_ENABLE 1, or implied without protocol features */
    bool started; /* SET_VRING_KICK received, not stopped since */
};

struct vu_dev;

struct vu_dev_ops {
    /*
     * Stop every worker from touching rings and guest memory and wait until
     * it has: in-flight requests are completed first.  Called before any
     * change to vrings or the memory table; nests are not used.
     */
    void (*pause)(struct vu_dev *dev);
    /* (pause_suspends in struct vu_dev says whether in-flight requests are completed or kept.) */
    /* Let workers run again; they re-read which vrings are ready. */
    void (*resume)(struct vu_dev *dev);
    /*
     * Vring idx stops (GET_VRING_BASE, reset, disconnect), while paused.  The
     * device gives back buffers it holds without having used them (rewinding
     * last_avail_idx), so that the reported base accounts for every request.
     */
    void (*queue_stop)(struct vu_dev *dev, unsigned idx);
};

struct vu_dev {
    const struct vu_dev_ops *ops;
    void *opaque;
    int sock;

    uint64_t offered_features;
    uint64_t features;
    uint64_t offered_protocol_features;
    uint64_t protocol_features;
    unsigned max_queues; /* reported by GET_QUEUE_NUM; vrings beyond it are refused */
    uint8_t status;

    struct vu_mem_table mem;
    struct vu_vring vrings[VU_MAX_QUEUES];

    void *inflight_base;
    size_t inflight_len;     /* what the frontend declared (mmap_size) */
    size_t inflight_map_len; /* what we mapped: rounded up, plus a guard page */
    size_t inflight_queue_len;
    uint16_t inflight_num_queues;

    /*
     * A ring this connection started was already in use (a non-zero index or
     * requests left in flight): the guest driver was running on an earlier
     * backend (this daemon before a restart, or a migration source).  Set
     * before the ring is served; cleared with the connection.
     */
    bool continued;

    /*
     * Set around the pause of a GET_VRING_BASE (or SET_VRING_ENABLE 0) that
     * suspends rather than drains (VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT negotiated and every
     * started ring tracked in the inflight region): the device leaves
     * requests in flight recorded there instead of completing them.
     */
    bool pause_suspends;

    /* The dirty log (SET_LOG_BASE), attached to the vrings while LOG_ALL is negotiated. */
    struct vu_log log;

    /* Guest memory or inflight files shrunk under us (see vu_fault.h). */
    struct vu_fault_owner fault;
};

void vu_dev_init(struct vu_dev *dev, const struct vu_dev_ops *ops, void *opaque, uint64_t features,
                 uint64_t protocol_features, unsigned max_queues);

/*
 * Handle one received message, replying when the request (or REPLY_ACK)
 * requires it.  Takes ownership of the message's fds.  Returns 0, or -errno
 * when the connection must be dropped (malformed message, failed reply).
 */
int vu_dev_handle_msg(struct vu_dev *dev, struct vu_msg *msg);

/* The frontend went away: stop all vrings, unmap memory, forget the negotiation. */
void vu_dev_disconnect(struct vu_dev *dev);

/* Log every started vring's indexes (SIGUSR1 and debug shutdown; racy by nature). */
void vu_dev_log_state(const struct vu_dev *dev);

/* Whether workers may serve vring idx now. */
bool vu_vring_ready(const struct vu_dev *dev, unsigned idx);

static inline bool vu_has_feature(const struct vu_dev *dev, unsigned bit)
{
    return dev->features & (1ULL << bit);
}

#endif
