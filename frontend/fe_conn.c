/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vhost-user connection: message exchange, feature negotiation, guest
 * memory sharing, ring setup.  The order of messages follows what QEMU sends
 * when a vhost-user-scsi-pci device starts, so a backend sees a familiar
 * sequence.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend/fe_internal.h"
#include "vhost/vu_proto.h"

#define DEFAULT_MEM     (16u << 20)
#define DEFAULT_QSIZE   128
#define DEFAULT_TIMEOUT 5000
/* Gap between regions' guest-physical ranges, so off-by-one translations fault. */
#define REGION_GPA_BASE 0x100000ull
#define REGION_GPA_GAP  0x200000ull

static int send_msg(int sock, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
                    const int *fds, unsigned nfds)
{
    char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
    struct vu_msg_hdr hdr = { .request = request, .flags = flags, .size = size };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)payload, .iov_len = payload ? size : 0 },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = payload && size ? 2 : 1 };
    ssize_t n;

    if (nfds > VU_MAX_FDS)
        return -EINVAL;
    if (nfds) {
        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n != sizeof(hdr) + iov[1].iov_len)
        return -EIO;
    return 0;
}

int fe_wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;

    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static int read_full(int sock, void *buf, size_t len, int timeout_ms)
{
    size_t done = 0;

    while (done < len) {
        int r = fe_wait_readable(sock, timeout_ms);
        if (r < 0)
            return r;
        if (r == 0)
            return -ETIMEDOUT;
        ssize_t n = recv(sock, (char *)buf + done, len - done, 0);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

/* Read one reply; fds that come with it are closed unless *fd_out takes the first. */
static int recv_msg(int sock, struct vu_msg_hdr *hdr, void *payload, size_t max, int *fd_out,
                    int timeout_ms)
{
    char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
    struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(*hdr) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
    };
    char sink[64];
    ssize_t n;
    int r;

    if (fd_out)
        *fd_out = -1;
    r = fe_wait_readable(sock, timeout_ms);
    if (r < 0)
        return r;
    if (r == 0)
        return -ETIMEDOUT;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return -ECONNRESET;
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd_out && *fd_out < 0)
                *fd_out = fd;
            else
                close(fd);
        }
    }
    if ((size_t)n < sizeof(*hdr)) {
        r = read_full(sock, (char *)hdr + n, sizeof(*hdr) - (size_t)n, timeout_ms);
        if (r < 0)
            return r;
    }
    if (hdr->size > VU_PAYLOAD_MAX)
        return -EMSGSIZE;
    if (hdr->size <= max)
        return read_full(sock, payload, hdr->size, timeout_ms);
    r = read_full(sock, payload, max, timeout_ms);
    for (size_t left = hdr->size - max; r == 0 && left;) {
        size_t k = left < sizeof(sink) ? left : sizeof(sink);
        r = read_full(sock, sink, k, timeout_ms);
        left -= k;
    }
    return r;
}

static bool has_reply(const struct vus_fe *fe, uint32_t request)
{
    switch (request) {
    case VU_SET_LOG_BASE:
        /* QEMU waits for this one (with no NEED_REPLY flag) when LOG_SHMFD is on. */
        return fe->protocol_features & (1ull << VU_PROTOCOL_F_LOG_SHMFD);
    case VU_GET_FEATURES:
    case VU_GET_PROTOCOL_FEATURES:
    case VU_GET_QUEUE_NUM:
    case VU_GET_VRING_BASE:
    case VU_GET_INFLIGHT_FD:
    case VU_GET_MAX_MEM_SLOTS:
    case VU_GET_STATUS:
    case VU_GET_CONFIG:
        return true;
    }
    return false;
}

/*
 * Requests whose effect the data path depends on at once: I/O into a region
 * must not reach a worker before the region does.  Without REPLY_ACK the
 * library follows them with a GET_FEATURES and waits for its answer, which
 * a backend gives only after handling everything sent before it.
 */
static bool needs_barrier(uint32_t request)
{
    return request == VU_SET_MEM_TABLE || request == VU_ADD_MEM_REG || request == VU_REM_MEM_REG;
}

/*
 * One request and, if it has one, its reply (or its REPLY_ACK when that was
 * negotiated).  Returns 0, a positive ack value, or -errno.
 */
int fe_request(struct vus_fe *fe, uint32_t request, const void *payload, uint32_t size,
               const int *fds, unsigned nfds, void *reply, uint32_t reply_size)
{
    bool reply_expected = has_reply(fe, request);
    bool ack = !reply_expected && (fe->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK));
    uint32_t flags = VU_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0);
    struct vu_msg_hdr hdr;
    uint64_t ackval = 0;
    int r;

    pthread_mutex_lock(&fe->lock);
    r = send_msg(fe->sock, request, flags, payload, size, fds, nfds);
    if (r == 0 && (reply_expected || ack)) {
        r = recv_msg(fe->sock, &hdr, ack ? (void *)&ackval : reply, ack ? 8 : reply_size, NULL,
                     fe->timeout_ms);
        if (r == 0 && (hdr.request != request || !(hdr.flags & VU_FLAG_REPLY)))
            r = -EPROTO;
        if (r == 0 && !ack && hdr.size != reply_size)
            r = -EPROTO;
        if (r == 0 && ack)
            r = ackval ? 1 : 0;
    } else if (r == 0 && needs_barrier(request)) {
        uint64_t features;
        r = send_msg(fe->sock, VU_GET_FEATURES, VU_VERSION, NULL, 0, NULL, 0);
        if (r == 0)
            r = recv_msg(fe->sock, &hdr, &features, sizeof(features), NULL, fe->timeout_ms);
        if (r == 0 && (hdr.request != VU_GET_FEATURES || hdr.size != sizeof(features)))
            r = -EPROTO;
    }
    /* A lost or garbled reply leaves the stream out of step: later calls must fail, not misread. */
    if (r < 0)
        shutdown(fe->sock, SHUT_RDWR);
    pthread_mutex_unlock(&fe->lock);
    return r;
}

int vus_fe_send_raw(struct vus_fe *fe, uint32_t request, uint32_t flags, const void *payload,
                    uint32_t size, const int *fds, unsigned nfds)
{
    int r;

    pthread_mutex_lock(&fe->lock);
    r = send_msg(fe->sock, request, flags, payload, size, fds, nfds);
    pthread_mutex_unlock(&fe->lock);
    return r;
}

int vus_fe_recv_raw(struct vus_fe *fe, uint32_t *request, void *payload, size_t max, int timeout_ms)
{
    struct vu_msg_hdr hdr;
    int r;

    pthread_mutex_lock(&fe->lock);
    r = recv_msg(fe->sock, &hdr, payload, max, NULL, timeout_ms);
    pthread_mutex_unlock(&fe->lock);
    if (r < 0)
        return r;
    if (request)
        *request = hdr.request;
    return (int)hdr.size;
}

int vus_fe_request_ack(struct vus_fe *fe, uint32_t request, const void *payload, uint32_t size,
                       const int *fds, unsigned nfds)
{
    struct vu_msg_hdr hdr;
    uint64_t ackval = 0;
    int r;

    pthread_mutex_lock(&fe->lock);
    r = send_msg(fe->sock, request, VU_VERSION | VU_FLAG_NEED_REPLY, payload, size, fds, nfds);
    if (r == 0)
        r = recv_msg(fe->sock, &hdr, &ackval, sizeof(ackval), NULL, fe->timeout_ms);
    if (r < 0)
        shutdown(fe->sock, SHUT_RDWR);
    pthread_mutex_unlock(&fe->lock);
    if (r < 0)
        return r;
    if (hdr.request != request)
        return -EPROTO;
    return ackval ? 1 : 0;
}

int vus_fe_get_inflight_fd(struct vus_fe *fe, uint16_t num_queues, uint16_t queue_size, int *fd,
                           uint64_t *mmap_size)
{
    struct vu_inflight_msg in = { .num_queues = num_queues, .queue_size = queue_size };
    struct vu_msg_hdr hdr;
    int r;

    *fd = -1;
    pthread_mutex_lock(&fe->lock);
    r = send_msg(fe->sock, VU_GET_INFLIGHT_FD, VU_VERSION, &in, sizeof(in), NULL, 0);
    if (r == 0)
        r = recv_msg(fe->sock, &hdr, &in, sizeof(in), fd, fe->timeout_ms);
    if (r == 0 && (hdr.request != VU_GET_INFLIGHT_FD || hdr.size != sizeof(in)))
        r = -EPROTO;
    if (r < 0)
        shutdown(fe->sock, SHUT_RDWR);
    pthread_mutex_unlock(&fe->lock);
    if (r == 0 && *fd < 0)
        r = -ENOENT; /* the backend refused: mmap_size 0, no fd */
    if (r < 0 && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    if (r == 0)
        *mmap_size = in.mmap_size;
    return r;
}

bool vus_fe_peer_closed(struct vus_fe *fe, int timeout_ms)
{
    struct pollfd p = { .fd = fe->sock, .events = POLLIN };
    char c;

    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    return recv(fe->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0 || (p.revents & (POLLHUP | POLLERR));
}

/*
 * Nonblocking connect: a backend busy with another frontend leaves us in its
 * listen backlog, and a blocking connect would then wait forever.
 */
static int connect_socket(const char *path, int retry_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timespec t0, now;

    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
                close(fd);
                return -errno;
            }
            return fd;
        }
        int err = errno;
        close(fd);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= retry_ms || (err != ENOENT && err != ECONNREFUSED && err != EAGAIN))
            return -err;
        usleep(10000);
    }
}

static int region_create(struct fe_region *r, size_t size, uint64_t gpa)
{
    r->fd = memfd_create("vus-frontend-mem", MFD_CLOEXEC);
    if (r->fd < 0)
        return -errno;
    if (ftruncate(r->fd, (off_t)size) < 0)
        goto fail;
    r->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->hva == MAP_FAILED)
        goto fail;
    r->gpa = gpa;
    r->size = size;
    r->used = 0;
    return 0;
fail:;
    int err = -errno;
    close(r->fd);
    r->fd = -1;
    return err;
}

static void region_desc(const struct fe_region *r, struct vu_mem_region_desc *d)
{
    d->gpa = r->gpa;
    d->size = r->size;
    d->uva = (uint64_t)(uintptr_t)r->hva;
    d->mmap_offset = 0;
}

/* SET_MEM_TABLE of regions (the first n of ours when regions is NULL). */
static int send_mem_table(struct vus_fe *fe, const unsigned *regions, unsigned n)
{
    struct vu_mem_table_msg t = { 0 };
    int fds[VUS_FE_MAX_REGIONS];

    if (n > VUS_FE_MAX_REGIONS || n > VU_MEM_TABLE_MAX)
        return -EINVAL;
    t.nregions = n;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = regions ? regions[i] : i;
        if (k >= VUS_FE_MAX_REGIONS || fe->regions[k].fd < 0)
            return -EINVAL;
        region_desc(&fe->regions[k], &t.regions[i]);
        fds[i] = fe->regions[k].fd;
    }
    return fe_request(fe, VU_SET_MEM_TABLE, &t, sizeof(t), fds, n, NULL, 0);
}

int vus_fe_set_mem_table(struct vus_fe *fe, const unsigned *regions, unsigned n)
{
    if (n == 0)
        return send_mem_table(fe, NULL, fe->nregions);
    for (unsigned i = 0; i < n; i++)
        if (regions[i] >= fe->nregions)
            return -EINVAL;
    return send_mem_table(fe, regions, n);
}

int vus_fe_region_fd(const struct vus_fe *fe, unsigned i)
{
    return i < fe->nregions ? fe->regions[i].fd : -1;
}

static int share_memory(struct vus_fe *fe, bool add_mem_reg)
{
    /* Asked for, but a backend without memory slots only knows SET_MEM_TABLE. */
    if (add_mem_reg && (fe->protocol_features & (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))) {
        for (unsigned i = 0; i < fe->nregions; i++) {
            struct vu_mem_single_msg m = { 0 };
            region_desc(&fe->regions[i], &m.region);
            int r = fe_request(fe, VU_ADD_MEM_REG, &m, sizeof(m), &fe->regions[i].fd, 1, NULL, 0);
            if (r)
                return r < 0 ? r : -EIO;
        }
        return 0;
    }
    int r = vus_fe_set_mem_table(fe, NULL, 0);
    return r ? (r < 0 ? r : -EIO) : 0;
}

int vus_fe_add_region(struct vus_fe *fe, size_t size)
{
    struct vu_mem_single_msg m = { 0 };
    const struct fe_region *last;
    unsigned i = fe->nregions;
    int r;

    if (i >= VUS_FE_MAX_REGIONS)
        return -ENOSPC;
    last = &fe->regions[i - 1];
    size = (size + 4095) & ~(size_t)4095;
    r = region_create(&fe->regions[i], size, last->gpa + last->size + REGION_GPA_GAP);
    if (r < 0)
        return r;
    if (fe->protocol_features & (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
        region_desc(&fe->regions[i], &m.region);
        r = fe_request(fe, VU_ADD_MEM_REG, &m, sizeof(m), &fe->regions[i].fd, 1, NULL, 0);
    } else {
        /* No slots to configure: the only way is the whole table again. */
        r = send_mem_table(fe, NULL, i + 1);
    }
    if (r) {
        munmap(fe->regions[i].hva, size);
        close(fe->regions[i].fd);
        fe->regions[i].fd = -1;
        return r < 0 ? r : -EIO;
    }
    /* Release: other threads' lookups see the region whole or not at all. */
    __atomic_store_n(&fe->nregions, i + 1, __ATOMIC_RELEASE);
    return (int)i;
}

static int negotiate(struct vus_fe *fe, const struct vus_fe_config *cfg)
{
    uint64_t offered, want;
    int r;

    r = fe_request(fe, VU_GET_FEATURES, NULL, 0, NULL, 0, &offered, 8);
    if (r)
        return r < 0 ? r : -EIO;
    want = offered & ((1ull << FE_F_VERSION_1) | (1ull << VIRTIO_SCSI_F_HOTPLUG) |
                      (1ull << VIRTIO_SCSI_F_CHANGE));
    if (!cfg->no_indirect)
        want |= offered & (1ull << FE_F_INDIRECT_DESC);
    if (!cfg->no_event_idx)
        want |= offered & (1ull << FE_F_EVENT_IDX);
    if (cfg->packed)
        want |= offered & (1ull << FE_F_RING_PACKED);
    if (!cfg->no_protocol_features && (offered & (1ull << FE_F_PROTOCOL))) {
        uint64_t pf, pwant;
        want |= 1ull << FE_F_PROTOCOL;
        r = fe_request(fe, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &pf, 8);
        if (r)
            return r < 0 ? r : -EIO;
        pwant = pf & ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
                      (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
                      (1ull << VU_PROTOCOL_F_RESET_DEVICE) | (1ull << VU_PROTOCOL_F_STATUS) |
                      cfg->protocol_extra);
        /* As QEMU: whoever offers a shared-memory log gets one when a migration starts. */
        if (!cfg->no_log_shmfd)
            pwant |= pf & (1ull << VU_PROTOCOL_F_LOG_SHMFD);
        r = fe_request(fe, VU_SET_PROTOCOL_FEATURES, &pwant, 8, NULL, 0, NULL, 0);
        if (r)
            return r < 0 ? r : -EIO;
        fe->protocol_features = pwant;
        if (pwant & (1ull << VU_PROTOCOL_F_MQ)) {
            uint64_t nq;
            r = fe_request(fe, VU_GET_QUEUE_NUM, NULL, 0, NULL, 0, &nq, 8);
            if (r)
                return r < 0 ? r : -EIO;
            fe->backend_queues = nq > 0xffff ? 0xffff : (unsigned)nq;
        }
    }
    r = fe_request(fe, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
    if (r == 0)
        r = fe_request(fe, VU_SET_FEATURES, &want, 8, NULL, 0, NULL, 0);
    if (r)
        return r < 0 ? r : -EIO;
    fe->features = want;
    return 0;
}

int vus_fe_connect(const struct vus_fe_config *cfg, struct vus_fe **out)
{
    struct vus_fe *fe;
    unsigned nreg = cfg->mem_regions ? cfg->mem_regions : 1;
    size_t mem = cfg->mem_size ? cfg->mem_size : DEFAULT_MEM;
    unsigned nreq = cfg->num_req_queues ? cfg->num_req_queues : 1;
    unsigned qs = cfg->queue_size ? cfg->queue_size : DEFAULT_QSIZE;
    uint64_t gpa = REGION_GPA_BASE;
    int r;

    if (nreg > VUS_FE_MAX_REGIONS || nreq + 2 > VUS_FE_MAX_QUEUES || qs > 32768 || (qs & (qs - 1)))
        return -EINVAL;
    fe = calloc(1, sizeof(*fe));
    if (!fe)
        return -ENOMEM;
    pthread_mutex_init(&fe->lock, NULL);
    fe->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT;
    fe->nvqs = nreq + 2;
    fe->qsize = (uint16_t)qs;
    fe->backend_queues = 0;
    for (unsigned i = 0; i < VUS_FE_MAX_QUEUES; i++) {
        fe->vqs[i].kick_fd = -1;
        fe->vqs[i].call_fd = -1;
    }
    for (unsigned i = 0; i < VUS_FE_MAX_REGIONS; i++)
        fe->regions[i].fd = -1;
    fe->sock = connect_socket(cfg->socket_path,
                              cfg->connect_retry_ms ? cfg->connect_retry_ms : fe->timeout_ms);
    if (fe->sock < 0) {
        r = fe->sock;
        free(fe);
        return r;
    }
    size_t per = ((mem / nreg) + 4095) & ~(size_t)4095;
    for (unsigned i = 0; i < nreg; i++) {
        r = region_create(&fe->regions[i], per, gpa);
        if (r < 0)
            goto fail;
        fe->nregions++;
        gpa += per + REGION_GPA_GAP;
    }
    r = negotiate(fe, cfg);
    if (r < 0)
        goto fail;
    if (fe->backend_queues && fe->nvqs > fe->backend_queues) {
        r = -ERANGE;
        goto fail;
    }
    r = share_memory(fe, cfg->add_mem_reg);
    if (r < 0)
        goto fail;
    for (unsigned i = 0; i < fe->nvqs; i++) {
        r = fe_vq_init(fe, i, (uint16_t)qs);
        if (r < 0)
            goto fail;
    }
    if (!cfg->no_start) {
        for (unsigned i = 0; i < fe->nvqs; i++) {
            r = vus_fe_vq_start(fe, i);
            if (r < 0)
                goto fail;
        }
    }
    *out = fe;
    return 0;
fail:
    vus_fe_close(fe);
    return r;
}

int vus_fe_vq_start(struct vus_fe *fe, unsigned idx)
{
    struct vus_fe_vq *vq;
    struct vu_vring_state st;
    struct vu_vring_addr a;
    uint64_t u;
    int r;

    if (idx >= fe->nvqs)
        return -EINVAL;
    vq = &fe->vqs[idx];
    st = (struct vu_vring_state){ .index = idx, .num = vq->num };
    r = fe_request(fe, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, 0);
    st.num = vq->packed ? vq->packed_base : vq->avail_pub;
    if (r == 0)
        r = fe_request(fe, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, 0);
    a = fe_vring_addr(fe, vq);
    if (r == 0)
        r = fe_request(fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0);
    if (r == 0 && vq->kick_fd < 0) {
        vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vq->kick_fd < 0 || vq->call_fd < 0)
            return -errno;
    }
    u = idx;
    if (r == 0)
        r = fe_request(fe, VU_SET_VRING_CALL, &u, 8, &vq->call_fd, 1, NULL, 0);
    if (r == 0)
        r = fe_request(fe, VU_SET_VRING_KICK, &u, 8, &vq->kick_fd, 1, NULL, 0);
    if (r == 0 && (fe->features & (1ull << FE_F_PROTOCOL))) {
        st.num = 1;
        r = fe_request(fe, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, 0);
    }
    if (r)
        return r < 0 ? r : -EIO;
    vq->started = true;
    return 0;
}

int vus_fe_vq_stop(struct vus_fe *fe, unsigned idx, uint16_t *base)
{
    struct vu_vring_state st = { .index = idx };
    int r;

    if (idx >= fe->nvqs)
        return -EINVAL;
    r = fe_request(fe, VU_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &st, sizeof(st));
    if (r)
        return r < 0 ? r : -EIO;
    fe->vqs[idx].started = false;
    /* Packed: what the device says its positions are is what it starts from again. */
    fe->vqs[idx].packed_base = st.num;
    if (base)
        *base = (uint16_t)st.num;
    return 0;
}

void vus_fe_close(struct vus_fe *fe)
{
    if (!fe)
        return;
    if (fe->sock >= 0)
        close(fe->sock);
    for (unsigned i = 0; i < VUS_FE_MAX_QUEUES; i++)
        fe_vq_fini(&fe->vqs[i]);
    for (unsigned i = 0; i < fe->nregions; i++) {
        munmap(fe->regions[i].hva, fe->regions[i].size);
        close(fe->regions[i].fd);
    }
    pthread_mutex_destroy(&fe->lock);
    free(fe);
}

int vus_fe_socket(const struct vus_fe *fe)
{
    return fe->sock;
}

uint64_t vus_fe_features(const struct vus_fe *fe)
{
    return fe->features;
}

uint64_t vus_fe_protocol_features(const struct vus_fe *fe)
{
    return fe->protocol_features;
}

unsigned vus_fe_backend_queues(const struct vus_fe *fe)
{
    return fe->backend_queues;
}

unsigned vus_fe_num_vqs(const struct vus_fe *fe)
{
    return fe->nvqs;
}

struct vus_fe_vq *vus_fe_vq(struct vus_fe *fe, unsigned idx)
{
    return idx < fe->nvqs ? &fe->vqs[idx] : NULL;
}

void *vus_fe_alloc_in(struct vus_fe *fe, unsigned region, size_t size, size_t align)
{
    struct fe_region *r;
    size_t at;

    if (region >= fe->nregions || !align || (align & (align - 1)))
        return NULL;
    r = &fe->regions[region];
    at = (r->used + align - 1) & ~(align - 1);
    if (at > r->size || size > r->size - at)
        return NULL;
    r->used = at + size;
    return (char *)r->hva + at;
}

void *vus_fe_alloc(struct vus_fe *fe, size_t size, size_t align)
{
    for (; fe->alloc_region < fe->nregions; fe->alloc_region++) {
        void *p = vus_fe_alloc_in(fe, fe->alloc_region, size, align);
        if (p)
            return p;
    }
    fe->alloc_region = 0;
    return NULL;
}

int vus_fe_gpa(const struct vus_fe *fe, const void *p, size_t len, uint64_t *gpa)
{
    unsigned n = __atomic_load_n(&fe->nregions, __ATOMIC_ACQUIRE);

    for (unsigned i = 0; i < n; i++) {
        const struct fe_region *r = &fe->regions[i];
        uintptr_t off = (uintptr_t)p - (uintptr_t)r->hva;
        if ((uintptr_t)p >= (uintptr_t)r->hva && off <= r->size && len <= r->size - off) {
            *gpa = r->gpa + off;
            return 0;
        }
    }
    return -EFAULT;
}

uint64_t fe_gpa_of(const struct vus_fe *fe, const void *p)
{
    uint64_t g = 0;

    vus_fe_gpa(fe, p, 0, &g);
    return g;
}

void *fe_hva(const struct vus_fe *fe, uint64_t gpa, size_t len)
{
    unsigned n = __atomic_load_n(&fe->nregions, __ATOMIC_ACQUIRE);

    for (unsigned i = 0; i < n; i++) {
        const struct fe_region *r = &fe->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
            return (char *)r->hva + (gpa - r->gpa);
    }
    return NULL;
}

unsigned vus_fe_num_regions(const struct vus_fe *fe)
{
    return fe->nregions;
}

int vus_fe_region(const struct vus_fe *fe, unsigned i, void **hva, uint64_t *gpa, size_t *size)
{
    if (i >= fe->nregions)
        return -EINVAL;
    if (hva)
        *hva = fe->regions[i].hva;
    if (gpa)
        *gpa = fe->regions[i].gpa;
    if (size)
        *size = fe->regions[i].size;
    return 0;
}
