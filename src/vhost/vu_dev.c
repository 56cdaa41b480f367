/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_eventfd.h"
#include "vhost/vu_inflight.h"
#include "vhost/vu_msg.h"
#include "virtq/virtio_ring.h"

static void vring_reset(struct vu_vring *vr)
{
    if (vr->kick_fd >= 0)
        close(vr->kick_fd);
    if (vr->vq.call_fd >= 0)
        close(vr->vq.call_fd);
    if (vr->err_fd >= 0)
        close(vr->err_fd);
    virtq_release(&vr->vq);
    memset(vr, 0, sizeof(*vr));
    vr->kick_fd = -1;
    vr->vq.call_fd = -1;
    vr->err_fd = -1;
}

void vu_dev_init(struct vu_dev *dev, const struct vu_dev_ops *ops, void *opaque, uint64_t features,
                 uint64_t protocol_features, unsigned max_queues)
{
    memset(dev, 0, sizeof(*dev));
    dev->ops = ops;
    dev->opaque = opaque;
    dev->sock = -1;
    dev->offered_features = features | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
    dev->offered_protocol_features = protocol_features;
    dev->max_queues = max_queues < VU_MAX_QUEUES ? max_queues : VU_MAX_QUEUES;
    vu_fault_owner_init(&dev->fault);
    dev->mem.owner = &dev->fault;
    vu_log_init(&dev->log);
    for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
        dev->vrings[i].kick_fd = -1;
        dev->vrings[i].vq.call_fd = -1;
        dev->vrings[i].err_fd = -1;
    }
}

bool vu_vring_ready(const struct vu_dev *dev, unsigned idx)
{
    const struct vu_vring *vr;

    if (idx >= dev->max_queues)
        return false;
    vr = &dev->vrings[idx];
    return vr->started && vr->enabled && vr->addr_ok && vr->vq.num && !vr->vq.broken &&
           vr->kick_fd >= 0;
}

/* Translate ring addresses again: the memory table changed under them. */
static void vring_translate(struct vu_dev *dev, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];

    vr->addr_ok = false;
    if (!vr->addr_set || !vr->vq.num || !dev->mem.nregions) {
        virtq_forget_rings(&vr->vq);
        return;
    }
    int ret = virtq_set_addr(&vr->vq, &dev->mem, vr->desc_uva, vr->avail_uva, vr->used_uva);
    if (ret == -EINVAL) {
        LOG_WARN("vring %u: size %u, base 0x%x or the alignment of the ring addresses "
                 "is invalid",
                 idx, vr->vq.num, virtq_get_base(&vr->vq));
        return;
    }
    if (ret < 0) {
        LOG_WARN("vring %u: ring addresses are not in guest memory", idx);
        return;
    }
    vr->addr_ok = true;
}

static void translate_all(struct vu_dev *dev)
{
    for (unsigned i = 0; i < dev->max_queues; i++)
        vring_translate(dev, i);
}

/*
 * Attach the inflight region to vring idx when both exist and agree.  The
 * region only has the split layout: a packed ring is never tracked in it and
 * completes what it holds when stopped instead (docs/architecture.md).
 */
static void vring_attach_inflight(struct vu_dev *dev, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];
    struct vu_inflight_split *q;

    vr->vq.inflight = NULL;
    if (!dev->inflight_base || idx >= dev->inflight_num_queues || !vr->vq.num || vr->vq.packed)
        return;
    /*
     * Sized by our own numbers only: the header's desc_num is the frontend's
     * to write, and a region declared for smaller queues but claiming our
     * ring size in its header would have every pop write past the queue.
     */
    if (vu_inflight_queue_size(vr->vq.num) > dev->inflight_queue_len) {
        LOG_WARN("vring %u: inflight region has room for smaller queues than %u entries; "
                 "not tracking this ring",
                 idx, vr->vq.num);
        return;
    }
    q = (struct vu_inflight_split *)((char *)dev->inflight_base + idx * dev->inflight_queue_len);
    if (vu_inflight_queue_check(q, vr->vq.num) < 0)
        vu_inflight_queue_init(q, vr->vq.num, dev->features);
    vr->vq.inflight = q;
}

/*
 * A ring starts: requests an earlier backend left in flight are resubmitted
 * before new ones (virtq_recover_inflight).
 */
static void recover_inflight(struct vu_dev *dev, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];
    int n;

    if (!vr->vq.inflight || !vr->addr_ok)
        return;
    n = virtq_recover_inflight(&vr->vq);
    if (n > 0)
        LOG_INFO("vring %u: resubmitting %d request%s left in flight by an earlier backend "
                 "(avail base %u)",
                 idx, n, n == 1 ? "" : "s", vr->vq.last_avail_idx);
    else if (n == -EINVAL)
        LOG_WARN("vring %u: the inflight region claims more requests in flight than the guest "
                 "made available; ignoring it",
                 idx);
    else if (n < 0)
        LOG_ERR("vring %u: cannot resubmit requests left in flight: %s", idx, strerror(-n));
}

/* Whether the guest driver used this ring before this backend saw it. */
static bool ring_in_use(const struct vu_vring *vr)
{
    const struct virtq *vq = &vr->vq;

    /* A fresh packed ring starts at position 0 of a lap whose wrap counters are 1. */
    if (vq->packed)
        return virtq_get_base(vq) != VIRTQ_PACKED_BASE_FRESH;
    return vq->last_avail_idx != 0 || vq->resubmit_num != 0 ||
           (vq->used && le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) != 0);
}

static void stop_vring(struct vu_dev *dev, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];

    if (vr->started && dev->ops->queue_stop)
        dev->ops->queue_stop(dev, idx);
    /* Heads not handed out yet stay marked in the region for the next start. */
    virtq_forget_resubmit(&vr->vq);
    vr->started = false;
}

static void inflight_unmap(struct vu_dev *dev)
{
    if (dev->inflight_base) {
        vu_fault_unregister(dev->inflight_base);
        munmap(dev->inflight_base, dev->inflight_map_len);
    }
    dev->inflight_base = NULL;
    dev->inflight_len = 0;
    dev->inflight_map_len = 0;
    dev->inflight_num_queues = 0;
    dev->inflight_queue_len = 0;
    for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
        dev->vrings[i].vq.inflight = NULL;
}

/* Back to the state of a new connection, keeping only what reset must keep. */
static void reset_vrings(struct vu_dev *dev)
{
    for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
        stop_vring(dev, i);
        vring_reset(&dev->vrings[i]);
    }
}

void vu_dev_disconnect(struct vu_dev *dev)
{
    dev->ops->pause(dev);
    reset_vrings(dev);
    vu_mem_table_clear(&dev->mem);
    inflight_unmap(dev);
    vu_log_disconnect(dev);
    /* Nothing of that connection is mapped any more. */
    vu_fault_owner_clear(&dev->fault);
    dev->features = 0;
    dev->protocol_features = 0;
    dev->status = 0;
    dev->continued = false;
    dev->ops->resume(dev);
}

/* Why vu_mem_add_region / vu_mem_check_fd refused an fd, for the log. */
static const char *refusal(int err)
{
    if (err == -EPERM)
        return "its fd is on a FUSE filesystem, whose page faults could stall us";
    return strerror(-err);
}

static int handle_mem_table(struct vu_dev *dev, struct vu_msg *msg)
{
    const struct vu_mem_table_msg *m = &msg->payload.mem;
    int ret = 0;

    vu_mem_table_clear(&dev->mem);
    for (unsigned i = 0; i < m->nregions; i++) {
        const struct vu_mem_region_desc *r = &m->regions[i];
        int fd = msg->fds[i];
        msg->fds[i] = -1; /* vu_mem_add_region owns it now */
        if (ret < 0) {
            close(fd);
            continue;
        }
        ret = vu_mem_add_region(&dev->mem, r->gpa, r->size, r->uva, r->mmap_offset, fd);
        if (ret < 0)
            LOG_ERR("SET_MEM_TABLE: region %u (gpa 0x%llx size 0x%llx) refused: %s", i,
                    (unsigned long long)r->gpa, (unsigned long long)r->size, refusal(ret));
    }
    if (ret < 0)
        vu_mem_table_clear(&dev->mem);
    translate_all(dev);
    return ret;
}

static int handle_add_mem_reg(struct vu_dev *dev, struct vu_msg *msg)
{
    const struct vu_mem_region_desc *r = &msg->payload.mem_single.region;
    int fd = msg->fds[0];
    int ret;

    msg->fds[0] = -1;
    ret = vu_mem_add_region(&dev->mem, r->gpa, r->size, r->uva, r->mmap_offset, fd);
    if (ret < 0)
        LOG_ERR("ADD_MEM_REG: region gpa 0x%llx size 0x%llx refused: %s",
                (unsigned long long)r->gpa, (unsigned long long)r->size, refusal(ret));
    translate_all(dev);
    return ret;
}

static int handle_rem_mem_reg(struct vu_dev *dev, struct vu_msg *msg)
{
    const struct vu_mem_region_desc *r = &msg->payload.mem_single.region;
    int ret = vu_mem_remove_region(&dev->mem, r->gpa, r->size, r->uva);

    if (ret < 0)
        LOG_WARN("REM_MEM_REG: no region at gpa 0x%llx", (unsigned long long)r->gpa);
    translate_all(dev);
    return ret;
}

/* Inflight regions end in a guard page, like every region whose layout the frontend decides. */
static void *inflight_map(struct vu_dev *dev, int fd, size_t len, off_t offset, size_t *map_len)
{
    return vu_mem_map_guarded(fd, len, offset, &dev->fault, map_len);
}

static int handle_get_inflight(struct vu_dev *dev, struct vu_msg *msg, int *reply_fd)
{
    struct vu_inflight_msg *in = &msg->payload.inflight;
    size_t qlen, len, map_len;
    void *base;
    int fd;

    /*
     * No packed layout: a region of size 0 is the protocol's "none", which
     * QEMU takes as such (it then sends no SET_INFLIGHT_FD) rather than as
     * a failure to start the device.
     */
    if (vu_has_feature(dev, VIRTIO_F_RING_PACKED)) {
        in->mmap_size = 0;
        in->mmap_offset = 0;
        return 0;
    }
    if (in->num_queues == 0 || in->num_queues > dev->max_queues || in->queue_size == 0 ||
        in->queue_size > VIRTQ_MAX_SIZE)
        return -EINVAL;
    qlen = vu_inflight_queue_size(in->queue_size);
    len = qlen * in->num_queues;
    fd = memfd_create("vhost-user-scsi-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    /* The frontend keeps this fd: sealed, it cannot shrink it under our mapping. */
    if (ftruncate(fd, (off_t)len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    base = inflight_map(dev, fd, len, 0, &map_len);
    if (base == MAP_FAILED) {
        int err = -errno;
        close(fd);
        return err;
    }
    for (unsigned i = 0; i < in->num_queues; i++)
        vu_inflight_queue_init((struct vu_inflight_split *)((char *)base + i * qlen),
                               in->queue_size, dev->features);
    inflight_unmap(dev);
    dev->inflight_base = base;
    dev->inflight_len = len;
    dev->inflight_map_len = map_len;
    dev->inflight_queue_len = qlen;
    dev->inflight_num_queues = in->num_queues;
    for (unsigned i = 0; i < dev->max_queues; i++)
        vring_attach_inflight(dev, i);
    in->mmap_size = len;
    in->mmap_offset = 0;
    *reply_fd = fd;
    return 0;
}

static int handle_set_inflight(struct vu_dev *dev, struct vu_msg *msg)
{
    const struct vu_inflight_msg *in = &msg->payload.inflight;
    size_t qlen, map_len;
    void *base;
    int fd = msg->fds[0];

    if (in->num_queues == 0 || in->num_queues > dev->max_queues || in->queue_size == 0 ||
        in->queue_size > VIRTQ_MAX_SIZE)
        return -EINVAL;
    qlen = vu_inflight_queue_size(in->queue_size);
    if (in->mmap_size < (uint64_t)qlen * in->num_queues || in->mmap_size > (1ULL << 32) ||
        (in->mmap_offset & 4095))
        return -EINVAL;
    if (in->mmap_offset > INT64_MAX - in->mmap_size)
        return -EINVAL;
    /* As for memory regions: the fd must hold what will be mapped, and not be on FUSE. */
    int ret = vu_mem_check_fd(fd, in->mmap_offset + in->mmap_size);
    if (ret < 0) {
        LOG_ERR("SET_INFLIGHT_FD refused: %s", refusal(ret));
        return ret;
    }
    base = inflight_map(dev, fd, in->mmap_size, (off_t)in->mmap_offset, &map_len);
    if (base == MAP_FAILED)
        return -errno;
    inflight_unmap(dev);
    dev->inflight_base = base;
    dev->inflight_len = in->mmap_size;
    dev->inflight_map_len = map_len;
    dev->inflight_queue_len = qlen;
    dev->inflight_num_queues = in->num_queues;
    for (unsigned i = 0; i < dev->max_queues; i++)
        vring_attach_inflight(dev, i);
    return 0;
}

/*
 * The ring layout follows the negotiated features.  A ring that changes
 * layout (a guest rebooted into a driver without packed rings, say) starts
 * over at the fresh base of its new layout; the frontend sets its own base
 * and addresses after SET_FEATURES anyway.
 */
static void set_layout(struct vu_dev *dev, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];
    bool packed = vu_has_feature(dev, VIRTIO_F_RING_PACKED);

    if (vr->vq.packed == packed)
        return;
    stop_vring(dev, idx);
    vr->vq.packed = packed;
    /* Translation fills in only the new layout's pointers: none of the old may stay. */
    virtq_forget_rings(&vr->vq);
    virtq_set_base(&vr->vq, packed ? VIRTQ_PACKED_BASE_FRESH : 0);
    /* Split rings are powers of two: a packed size that is not must be set again. */
    if (!packed && (vr->vq.num & (vr->vq.num - 1)))
        vr->vq.num = 0;
    vring_translate(dev, idx);
    vring_attach_inflight(dev, idx);
}

/* Handlers of vring messages; idx already range-checked. */
static int handle_vring(struct vu_dev *dev, struct vu_msg *msg, unsigned idx)
{
    struct vu_vring *vr = &dev->vrings[idx];
    const union vu_payload *p = &msg->payload;
    int fd = msg->nfds ? msg->fds[0] : -1;

    /* Only KICK, CALL and ERR carry an fd. */
    if (fd >= 0) {
        int ret = vu_eventfd_adopt(fd);
        if (ret < 0) {
            LOG_WARN("vring %u: %s: %s; refused", idx, vu_request_name(msg->hdr.request),
                     ret == -EINVAL ? "the fd is not an eventfd" : strerror(-ret));
            return ret;
        }
    }

    switch (msg->hdr.request) {
    case VU_SET_VRING_NUM:
        /* Packed rings may have any size (virtio 1.1, 2.8). */
        if (p->state.num == 0 || p->state.num > VIRTQ_MAX_SIZE ||
            (!vr->vq.packed && (p->state.num & (p->state.num - 1))))
            return -EINVAL;
        /*
         * A running ring redefined under us: what the device holds from it
         * (event buffers) refers to the old ring.  QEMU never does this; it
         * stops rings with GET_VRING_BASE first.
         */
        stop_vring(dev, idx);
        vr->vq.num = (uint16_t)p->state.num;
        vring_translate(dev, idx);
        vring_attach_inflight(dev, idx);
        return 0;
    case VU_SET_VRING_ADDR:
        vr->desc_uva = p->addr.desc_uva;
        vr->avail_uva = p->addr.avail_uva;
        vr->used_uva = p->addr.used_uva;
        vr->addr_set = true;
        vr->vq.log_used = p->addr.flags & (1u << VHOST_VRING_F_LOG);
        vr->vq.log_used_gpa = p->addr.log_gpa;
        vring_translate(dev, idx);
        return vr->addr_ok || !dev->mem.nregions ? 0 : -EFAULT;
    case VU_SET_VRING_BASE:
        /* Packed: both positions and their wrap counters (virtq_set_base). */
        if (!vr->vq.packed && p->state.num > 0xffff)
            return -EINVAL;
        /* As for SET_VRING_NUM: the held buffers' indexes mean nothing from the new base. */
        stop_vring(dev, idx);
        virtq_set_base(&vr->vq, p->state.num);
        /* A packed ring maps only with positions inside it: check them against the ring now. */
        if (vr->vq.packed)
            vring_translate(dev, idx);
        return 0;
    case VU_SET_VRING_KICK:
        if (vr->kick_fd >= 0)
            close(vr->kick_fd);
        vr->kick_fd = fd;
        msg->fds[0] = -1;
        vring_attach_inflight(dev, idx);
        if (fd < 0)
            LOG_WARN("vring %u: polling mode (no kick fd) is not supported", idx);
        if (!vr->started)
            recover_inflight(dev, idx);
        if (ring_in_use(vr))
            dev->continued = true;
        vr->started = true;
        /* Without protocol features a ring is enabled as soon as it starts. */
        if (!vu_has_feature(dev, VHOST_USER_F_PROTOCOL_FEATURES))
            vr->enabled = true;
        vr->vq.event_idx = vu_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);
        vr->vq.indirect = vu_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC);
        vr->vq.broken = false;
        return 0;
    case VU_SET_VRING_CALL:
        if (vr->vq.call_fd >= 0)
            close(vr->vq.call_fd);
        vr->vq.call_fd = fd;
        msg->fds[0] = -1;
        /*
         * QEMU may enable a ring before it hands over the call fd (and
         * swaps it later when the guest masks vectors).  A completion made
         * meanwhile had no one to signal: signal once now.  A spurious
         * interrupt costs the guest a look at its used ring; a lost one
         * hangs the request forever.
         */
        if (fd >= 0 && vr->started && (vr->vq.used || vr->vq.pdesc)) {
            uint64_t one = 1;
            if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                LOG_WARN("vring %u: call fd: %s", idx, strerror(errno));
        }
        return 0;
    case VU_SET_VRING_ERR:
        if (vr->err_fd >= 0)
            close(vr->err_fd);
        vr->err_fd = fd;
        msg->fds[0] = -1;
        return 0;
    case VU_SET_VRING_ENABLE:
        if (p->state.num > 1)
            return -EINVAL;
        vr->enabled = p->state.num;
        return 0;
    }
    return -EINVAL;
}

static unsigned vring_index(const struct vu_msg *msg)
{
    switch (msg->hdr.request) {
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR:
        return (unsigned)(msg->payload.u64 & VU_VRING_IDX_MASK);
    default:
        return msg->payload.state.index;
    }
}

static bool changes_rings(uint32_t request)
{
    switch (request) {
    case VU_SET_FEATURES:
    case VU_RESET_OWNER:
    case VU_RESET_DEVICE:
    case VU_SET_MEM_TABLE:
    case VU_ADD_MEM_REG:
    case VU_REM_MEM_REG:
    case VU_SET_VRING_NUM:
    case VU_SET_VRING_ADDR:
    case VU_SET_VRING_BASE:
    case VU_GET_VRING_BASE:
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR:
    case VU_SET_VRING_ENABLE:
    case VU_GET_INFLIGHT_FD:
    case VU_SET_INFLIGHT_FD:
    case VU_SET_LOG_BASE:
        return true;
    }
    return false;
}

/*
 * Execute a well-formed request.  Fills reply/reply_size/reply_fd for
 * requests that answer; returns 0 or -errno (reported through REPLY_ACK).
 */
static int dispatch(struct vu_dev *dev, struct vu_msg *msg, union vu_payload *reply,
                    size_t *reply_size, int *reply_fd)
{
    union vu_payload *p = &msg->payload;
    uint32_t req = msg->hdr.request;
    unsigned idx;

    switch (req) {
    case VU_GET_FEATURES:
        reply->u64 = dev->offered_features;
        *reply_size = 8;
        return 0;
    case VU_SET_FEATURES:
        if (p->u64 & ~dev->offered_features) {
            LOG_WARN("SET_FEATURES: 0x%llx has bits we did not offer (0x%llx)",
                     (unsigned long long)p->u64, (unsigned long long)dev->offered_features);
            return -EINVAL;
        }
        dev->features = p->u64;
        for (unsigned i = 0; i < dev->max_queues; i++) {
            dev->vrings[i].vq.event_idx = vu_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);
            dev->vrings[i].vq.indirect = vu_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC);
            set_layout(dev, i);
        }
        return 0;
    case VU_GET_PROTOCOL_FEATURES:
        reply->u64 = dev->offered_protocol_features;
        *reply_size = 8;
        return 0;
    case VU_SET_PROTOCOL_FEATURES:
        if (p->u64 & ~dev->offered_protocol_features)
            return -EINVAL;
        dev->protocol_features = p->u64;
        return 0;
    case VU_SET_OWNER:
        return 0;
    case VU_RESET_OWNER:
    case VU_RESET_DEVICE:
        reset_vrings(dev);
        dev->status = 0;
        if (req == VU_RESET_OWNER)
            dev->features = 0;
        return 0;
    case VU_GET_QUEUE_NUM:
        reply->u64 = dev->max_queues;
        *reply_size = 8;
        return 0;
    case VU_GET_MAX_MEM_SLOTS:
        reply->u64 = VU_MEM_MAX_REGIONS;
        *reply_size = 8;
        return 0;
    case VU_SET_MEM_TABLE:
        return handle_mem_table(dev, msg);
    case VU_ADD_MEM_REG:
        return handle_add_mem_reg(dev, msg);
    case VU_REM_MEM_REG:
        return handle_rem_mem_reg(dev, msg);
    case VU_GET_INFLIGHT_FD: {
        int ret = handle_get_inflight(dev, msg, reply_fd);
        reply->inflight = p->inflight;
        *reply_size = sizeof(reply->inflight);
        if (ret < 0) {
            reply->inflight.mmap_size = 0;
            LOG_ERR("GET_INFLIGHT_FD: %s", strerror(-ret));
        }
        return ret;
    }
    case VU_SET_INFLIGHT_FD:
        return handle_set_inflight(dev, msg);
    case VU_SET_LOG_BASE: {
        int ret = vu_log_set_base(dev, msg);
        /* With LOG_SHMFD the frontend waits for a reply, refused or not: u64 0 or 1. */
        if (dev->protocol_features & (1ULL << VU_PROTOCOL_F_LOG_SHMFD)) {
            reply->u64 = ret < 0;
            *reply_size = 8;
        }
        return ret;
    }
    case VU_SET_LOG_FD:
        return vu_log_set_fd(dev, msg);
    case VU_SET_STATUS:
        if (p->u64 > 0xff)
            return -EINVAL;
        dev->status = (uint8_t)p->u64;
        return 0;
    case VU_GET_STATUS:
        reply->u64 = dev->status;
        *reply_size = 8;
        return 0;
    }

    idx = vring_index(msg);
    if (idx >= dev->max_queues)
        return -ERANGE;
    if (req == VU_GET_VRING_BASE) {
        stop_vring(dev, idx);
        if (dev->vrings[idx].kick_fd >= 0)
            close(dev->vrings[idx].kick_fd);
        dev->vrings[idx].kick_fd = -1;
        reply->state.index = idx;
        reply->state.num = virtq_get_base(&dev->vrings[idx].vq);
        *reply_size = sizeof(reply->state);
        return 0;
    }
    return handle_vring(dev, msg, idx);
}

/*
 * Whether this GET_VRING_BASE (or disable) may leave requests in flight: the frontend
 * asked for it and will hand the region on, and every started ring records
 * what it takes there (a ring without a region would lose its requests).
 */
static bool stop_suspends(const struct vu_dev *dev, const struct vu_msg *msg)
{
    /* QEMU disables every ring before it stops them: that is the first stop. */
    bool stops = msg->hdr.request == VU_GET_VRING_BASE ||
                 (msg->hdr.request == VU_SET_VRING_ENABLE && msg->payload.state.num == 0);

    if (!stops || !(dev->protocol_features & (1ULL << VU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT)) ||
        !dev->inflight_base)
        return false;
    for (unsigned i = 0; i < dev->max_queues; i++)
        if (dev->vrings[i].started && !dev->vrings[i].vq.inflight)
            return false;
    return true;
}

int vu_dev_handle_msg(struct vu_dev *dev, struct vu_msg *msg)
{
    union vu_payload reply;
    size_t reply_size = 0;
    int reply_fd = -1;
    const char *bad;
    int ret;

    bad = vu_msg_check(msg);
    if (bad) {
        LOG_ERR("vhost-user %s (%u): %s; dropping the connection",
                vu_request_name(msg->hdr.request), msg->hdr.request, bad);
        vu_msg_close_fds(msg);
        return -EPROTO;
    }
    LOG_DEBUG("vhost-user %s", vu_request_name(msg->hdr.request));

    memset(&reply, 0, sizeof(reply));
    if (changes_rings(msg->hdr.request)) {
        dev->pause_suspends = stop_suspends(dev, msg);
        dev->ops->pause(dev);
        ret = dispatch(dev, msg, &reply, &reply_size, &reply_fd);
        vu_log_attach_vrings(dev);
        dev->ops->resume(dev);
        dev->pause_suspends = false;
    } else {
        ret = dispatch(dev, msg, &reply, &reply_size, &reply_fd);
    }
    vu_msg_close_fds(msg);
    if (ret < 0)
        LOG_WARN("vhost-user %s failed: %s", vu_request_name(msg->hdr.request), strerror(-ret));

    if (reply_size) {
        ret = vu_msg_send_reply(dev->sock, msg, &reply, reply_size, reply_fd);
        if (reply_fd >= 0)
            close(reply_fd);
        return ret;
    }
    if ((msg->hdr.flags & VU_FLAG_NEED_REPLY) &&
        (dev->protocol_features & (1ULL << VU_PROTOCOL_F_REPLY_ACK))) {
        uint64_t ack = ret < 0;
        return vu_msg_send_reply(dev->sock, msg, &ack, sizeof(ack), -1);
    }
    return 0;
}

void vu_dev_log_state(const struct vu_dev *dev)
{
    for (unsigned i = 0; i < dev->max_queues; i++) {
        const struct vu_vring *vr = &dev->vrings[i];
        const struct virtq *vq = &vr->vq;

        if (!vr->started && !vr->enabled)
            continue;
        /* Debug aid only: the guest may be changing these as we read them. */
        LOG_INFO("vring %u: num %u started %d enabled %d ready %d broken %d last_avail %u used %u "
                 "signalled %u/%d | guest: avail idx %d flags %d used_event %d, used idx %d "
                 "avail_event %d",
                 i, vq->num, vr->started, vr->enabled, vu_vring_ready(dev, i), vq->broken,
                 vq->last_avail_idx, vq->used_idx, vq->signalled_used, vq->signalled_used_valid,
                 vq->avail ? le16toh(vq->avail->idx) : -1,
                 vq->avail ? le16toh(vq->avail->flags) : -1,
                 vq->avail ? le16toh(*vring_used_event(vq->avail, vq->num)) : -1,
                 vq->used ? le16toh(vq->used->idx) : -1,
                 vq->used ? le16toh(*vring_avail_event(vq->used, vq->num)) : -1);
    }
}
