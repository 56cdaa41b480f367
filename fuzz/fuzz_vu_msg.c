/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the vhost-user control plane.  Fuzzed bytes, and fuzzed
 * numbers of dummy fds (memfds of a few sizes, eventfds), go through a
 * socketpair into vu_msg_recv() + vu_dev_handle_msg() exactly as the
 * server's loop feeds them; a stub vu_dev_ops plays the controller and, like
 * a worker after each resume, pops and completes whatever the ready rings
 * hold.  Packed rings are offered too, so the rings may have either layout
 * and switch between them with SET_FEATURES.
 *
 * Input layout:
 *   [0]  max_queues selector
 *   then records:
 *     [0] bit 7 clear: stream data; bits 0-6: number of fds to attach (mod 11:
 *         more than a message may carry).  Bit 7 set: a guest write
 *     [1] stream data: fd kinds (bits 0-1 memfd size, 2-7 which fds are
 *         eventfds); guest write: memory region index
 *     [2..3] le16 length of the bytes that follow
 *     bytes: stream data is sent with one sendmsg() (vhost-user headers and
 *         payloads, or garbage); a guest write is [le32 offset][bytes] stored
 *         into the region, and kicks the rings
 *
 * Oracles: pause/resume strictly alternate, queue_stop only while paused,
 * ready rings point into mapped memory, and after the disconnect every fd is
 * closed again (no fd leaks); ASan/UBSan do the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_msg.h"
#include "virtio_scsi/virtio_scsi_proto.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define MAX_SENT   (48 * 1024) /* stays below the socket buffer: sends never block */
#define FD_SLOTS   10          /* > VU_MAX_FDS: exercises the truncated-control path */
#define POP_BUDGET 4           /* requests a "worker" takes per ring per message */

static const uint64_t memfd_sizes[4] = { 1 << 20, 64 << 10, 4 << 10, 0 };

static struct vu_dev dev;
static bool paused;
static struct iovec iovs[VIRTQ_MAX_IOV];

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_vu_msg: invariant broken: %s\n", what);
    __builtin_trap();
}

static void op_pause(struct vu_dev *d)
{
    if (paused)
        fz_bug("pause while paused");
    paused = true;
}

static void op_resume(struct vu_dev *d)
{
    if (!paused)
        fz_bug("resume while running");
    paused = false;
}

static void op_queue_stop(struct vu_dev *d, unsigned idx)
{
    if (!paused)
        fz_bug("queue_stop while workers run");
    if (idx >= d->max_queues)
        fz_bug("queue_stop of a queue beyond max_queues");
}

static const struct vu_dev_ops ops = {
    .pause = op_pause,
    .resume = op_resume,
    .queue_stop = op_queue_stop,
};

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    unsigned n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        n++;
    closedir(d);
    return n;
}

static int make_fd(unsigned i, uint8_t kinds)
{
    if ((kinds >> (2 + i % 6)) & 1)
        return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int fd = memfd_create("fuzz_vu_msg", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, (off_t)memfd_sizes[kinds & 3]) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One record: data with nfds fresh descriptors.  false when the socket is full. */
static bool send_record(int sock, const uint8_t *p, size_t len, unsigned nfds, uint8_t kinds)
{
    char control[CMSG_SPACE(FD_SLOTS * sizeof(int))];
    int fds[FD_SLOTS];
    struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    unsigned n = 0;
    ssize_t r;

    for (unsigned i = 0; i < nfds; i++) {
        int fd = make_fd(i, kinds);
        if (fd >= 0)
            fds[n++] = fd;
    }
    if (n) {
        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    }
    r = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    /* Our copies: the receiver has its own (or none, when the send failed). */
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
    return r == (ssize_t)len;
}

/* Read and drop replies, closing any fd they carry (GET_INFLIGHT_FD). */
static void drain_replies(int sock)
{
    char buf[4096];
    char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];

    for (;;) {
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = sizeof(control) };
        ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r <= 0)
            return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
    }
}

/*
 * What a worker does between resume and the next pause: serve the ready
 * rings.  Use-after-unmap of a ring or of guest memory shows up here.
 */
static void run_workers(void)
{
    for (unsigned i = 0; i < dev.max_queues; i++) {
        struct virtq *vq = &dev.vrings[i].vq;
        struct virtq_elem elem = { .iov = iovs, .iov_max = VIRTQ_MAX_IOV };

        if (!vu_vring_ready(&dev, i))
            continue;
        if (vq->packed) {
            /* One ring that both sides write, and the two event structures. */
            if (!vq->pdesc || !vq->driver_event || !vq->device_event || vq->mem != &dev.mem ||
                vq->last_avail_idx >= vq->num || vq->used_idx >= vq->num)
                fz_bug("a ready packed ring without translated addresses or inside positions");
            if (!vu_mem_uva_to_host(&dev.mem, dev.vrings[i].desc_uva, 16ull * vq->num))
                fz_bug("a ready packed ring that is not in the memory table");
        } else {
            if (!vq->desc || !vq->avail || !vq->used || vq->mem != &dev.mem)
                fz_bug("a ready ring without translated addresses");
            if (!vu_mem_uva_to_host(&dev.mem, dev.vrings[i].used_uva, vring_used_size(vq->num)))
                fz_bug("a ready ring whose used ring is not in the memory table");
        }
        for (unsigned n = 0; n < POP_BUDGET; n++) {
            int ret = virtq_pop(vq, &elem);
            if (ret == 0 || ret == -EIO)
                break;
            virtq_push(vq, elem.head, 0);
        }
        virtq_enable_notify(vq);
        virtq_notify(vq);
    }
}

/* Handle one message; false when the connection is over (EOF, bad frame, refused message). */
static bool serve_one(int sock, int peer)
{
    struct vu_msg msg;
    int ret = vu_msg_recv(sock, &msg);

    if (ret < 0 && msg.nfds != 0)
        fz_bug("vu_msg_recv failed but kept fds");
    if (ret <= 0)
        return false;
    ret = vu_dev_handle_msg(&dev, &msg);
    if (msg.nfds != 0)
        fz_bug("vu_dev_handle_msg left fds in the message");
    if (paused)
        fz_bug("message handled but workers left paused");
    drain_replies(peer);
    if (ret < 0)
        return false;
    run_workers();
    return true;
}

/*
 * Whether vu_msg_recv() can run without blocking: a whole frame is queued,
 * or a header it rejects by itself.  A header split by an fd boundary reads
 * as not ready; it is handled after the peer's EOF.
 */
static bool message_ready(int sock)
{
    struct vu_msg_hdr h;
    int avail;

    if (ioctl(sock, FIONREAD, &avail) < 0 || avail < (int)sizeof(h))
        return false;
    if (recv(sock, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) != (ssize_t)sizeof(h))
        return false;
    if ((h.flags & VU_FLAG_VERSION_MASK) != VU_VERSION || h.size > VU_PAYLOAD_MAX)
        return true;
    return (size_t)avail >= sizeof(h) + h.size;
}

/* The guest stores into its memory: [le32 offset][bytes] into region sel. */
static void guest_write(uint8_t sel, const uint8_t *p, size_t len)
{
    const struct vu_mem_region *r;
    uint32_t off;

    if (!dev.mem.nregions || len < 4)
        return;
    r = &dev.mem.regions[sel % dev.mem.nregions];
    off = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 4;
    len -= 4;
    if (off >= r->size)
        return;
    if (len > r->size - off)
        len = (size_t)(r->size - off);
    memcpy((char *)r->host + off, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    unsigned fds_at_start;
    unsigned max_queues;
    size_t off = 1, sent = 0;
    bool over = false;
    int sv[2];

    if (!inited) {
        /*
         * Every malformed message is logged as an error, thousands a second,
         * which would bury the fuzzer's own output: a level below ERROR turns
         * logging off (fz_bug and sanitizer reports still reach stderr).
         */
        log_set_level((enum log_level)(-1));
        inited = true;
    }
    if (size < 1)
        return 0;
    /* Mostly small (fast, and what a frontend with few queues uses), sometimes the maximum. */
    max_queues = data[0] >= 0xf0 ? VU_MAX_QUEUES : data[0] % 8u + 1;
    /* Counted per input: libFuzzer itself opens files between inputs. */
    fds_at_start = count_fds();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;

    vu_dev_init(&dev, &ops, NULL,
                (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                    (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_SCSI_F_HOTPLUG) |
                    (1ULL << VIRTIO_SCSI_F_CHANGE) | (1ULL << VIRTIO_F_RING_PACKED),
                (1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |
                    (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD) | (1ULL << VU_PROTOCOL_F_RESET_DEVICE) |
                    (1ULL << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | (1ULL << VU_PROTOCOL_F_STATUS),
                max_queues);
    dev.sock = sv[0];
    paused = false;

    /*
     * Messages are handled as soon as they are whole, so that guest writes
     * land between the messages they follow; what is left once the peer
     * stops writing (a truncated frame) is then read to its EOF.
     */
    while (!over && off + 4 <= size) {
        uint8_t kind = data[off];
        uint8_t arg = data[off + 1];
        size_t len = (size_t)data[off + 2] | (size_t)data[off + 3] << 8;

        off += 4;
        if (len > size - off)
            len = size - off;
        if (kind & 0x80) {
            guest_write(arg, data + off, len);
            run_workers();
        } else {
            if (len == 0 || sent + len > MAX_SENT)
                break;
            if (!send_record(sv[1], data + off, len, (kind & 0x7f) % (FD_SLOTS + 1), arg))
                break;
            sent += len;
        }
        off += len;
        while (!over && message_ready(sv[0]))
            over = !serve_one(sv[0], sv[1]);
    }
    shutdown(sv[1], SHUT_WR);
    while (!over)
        over = !serve_one(sv[0], sv[1]);
    vu_dev_disconnect(&dev);
    if (paused)
        fz_bug("disconnect left workers paused");
    for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
        if (dev.vrings[i].kick_fd >= 0 || dev.vrings[i].vq.call_fd >= 0 ||
            dev.vrings[i].err_fd >= 0)
            fz_bug("disconnect kept a vring fd");
    if (dev.mem.nregions || dev.inflight_base)
        fz_bug("disconnect kept memory mapped");
    close(sv[0]);
    close(sv[1]);
    if (count_fds() != fds_at_start)
        fz_bug("fd leak");
    return 0;
}
