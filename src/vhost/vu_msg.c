/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const request_names[VU_REQUEST_MAX] = {
    [VU_GET_FEATURES] = "GET_FEATURES",
    [VU_SET_FEATURES] = "SET_FEATURES",
    [VU_SET_OWNER] = "SET_OWNER",
    [VU_RESET_OWNER] = "RESET_OWNER",
    [VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VU_SET_LOG_BASE] = "SET_LOG_BASE",
    [VU_SET_LOG_FD] = "SET_LOG_FD",
    [VU_SET_VRING_NUM] = "SET_VRING_NUM",
    [VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VU_SET_VRING_BASE] = "SET_VRING_BASE",
    [VU_GET_VRING_BASE] = "GET_VRING_BASE",
    [VU_SET_VRING_KICK] = "SET_VRING_KICK",
    [VU_SET_VRING_CALL] = "SET_VRING_CALL",
    [VU_SET_VRING_ERR] = "SET_VRING_ERR",
    [VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VU_GET_CONFIG] = "GET_CONFIG",
    [VU_SET_CONFIG] = "SET_CONFIG",
    [VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VU_RESET_DEVICE] = "RESET_DEVICE",
    [VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VU_ADD_MEM_REG] = "ADD_MEM_REG",
    [VU_REM_MEM_REG] = "REM_MEM_REG",
    [VU_SET_STATUS] = "SET_STATUS",
    [VU_GET_STATUS] = "GET_STATUS",
};

const char *vu_request_name(uint32_t request)
{
    if (request < VU_REQUEST_MAX && request_names[request])
        return request_names[request];
    return "unknown";
}

/*
 * What each request carries.  size: exact payload size (SIZE_VAR: checked by
 * the handler's own rule below); fds: exact count, or FDS_OPT for "0 or 1"
 * (the vring fds, whose absence is flagged in the payload).
 */
#define SIZE_VAR 0xffffffffu
#define FDS_OPT  0xffu
#define FDS_VAR  0xfeu

struct msg_shape {
    bool known;
    uint32_t size;
    uint8_t fds;
};

static const struct msg_shape shapes[VU_REQUEST_MAX] = {
    [VU_GET_FEATURES] = { true, 0, 0 },
    [VU_SET_FEATURES] = { true, 8, 0 },
    [VU_SET_OWNER] = { true, 0, 0 },
    [VU_RESET_OWNER] = { true, 0, 0 },
    [VU_SET_MEM_TABLE] = { true, SIZE_VAR, FDS_VAR },
    /* The fd is missing without LOG_SHMFD (or from a broken frontend): the handler says so. */
    [VU_SET_LOG_BASE] = { true, sizeof(struct vu_log_msg), FDS_VAR },
    [VU_SET_LOG_FD] = { true, 0, 1 },
    [VU_SET_VRING_NUM] = { true, sizeof(struct vu_vring_state), 0 },
    [VU_SET_VRING_ADDR] = { true, sizeof(struct vu_vring_addr), 0 },
    [VU_SET_VRING_BASE] = { true, sizeof(struct vu_vring_state), 0 },
    [VU_GET_VRING_BASE] = { true, sizeof(struct vu_vring_state), 0 },
    [VU_SET_VRING_KICK] = { true, 8, FDS_OPT },
    [VU_SET_VRING_CALL] = { true, 8, FDS_OPT },
    [VU_SET_VRING_ERR] = { true, 8, FDS_OPT },
    [VU_GET_PROTOCOL_FEATURES] = { true, 0, 0 },
    [VU_SET_PROTOCOL_FEATURES] = { true, 8, 0 },
    [VU_GET_QUEUE_NUM] = { true, 0, 0 },
    [VU_SET_VRING_ENABLE] = { true, sizeof(struct vu_vring_state), 0 },
    [VU_GET_INFLIGHT_FD] = { true, sizeof(struct vu_inflight_msg), 0 },
    [VU_SET_INFLIGHT_FD] = { true, sizeof(struct vu_inflight_msg), 1 },
    [VU_RESET_DEVICE] = { true, 0, 0 },
    [VU_GET_MAX_MEM_SLOTS] = { true, 0, 0 },
    [VU_ADD_MEM_REG] = { true, sizeof(struct vu_mem_single_msg), 1 },
    [VU_REM_MEM_REG] = { true, sizeof(struct vu_mem_single_msg), FDS_VAR },
    [VU_SET_STATUS] = { true, 8, 0 },
    [VU_GET_STATUS] = { true, 0, 0 },
};

const char *vu_msg_check(const struct vu_msg *msg)
{
    uint32_t req = msg->hdr.request;
    const struct msg_shape *s;

    if (req >= VU_REQUEST_MAX || !shapes[req].known)
        return "unsupported request";
    s = &shapes[req];
    if (req == VU_SET_MEM_TABLE) {
        uint32_t n = msg->payload.mem.nregions;
        if (msg->hdr.size < 8)
            return "payload too short";
        if (n == 0 || n > VU_MEM_TABLE_MAX)
            return "bad number of regions";
        /* QEMU sends the whole fixed-size array; accept a table cut after its regions too. */
        if (msg->hdr.size < 8 + n * sizeof(struct vu_mem_region_desc) ||
            msg->hdr.size > sizeof(struct vu_mem_table_msg))
            return "payload size does not match the number of regions";
        if (msg->nfds != n)
            return "number of fds does not match the number of regions";
        return NULL;
    }
    if (s->size != SIZE_VAR && msg->hdr.size != s->size)
        return "wrong payload size";
    switch (s->fds) {
    case FDS_OPT:
        if (msg->nfds > 1)
            return "too many fds";
        if (!(msg->payload.u64 & VU_VRING_NOFD_MASK) && msg->nfds != 1)
            return "fd missing";
        if ((msg->payload.u64 & VU_VRING_NOFD_MASK) && msg->nfds != 0)
            return "fd given with the no-fd flag";
        break;
    case FDS_VAR:
        /* REM_MEM_REG: QEMU sends the region's fd, which we do not need; SET_LOG_BASE: 0 or 1. */
        if (msg->nfds > 1)
            return "too many fds";
        break;
    default:
        if (msg->nfds != s->fds)
            return s->fds ? "fd missing" : "unexpected fd";
    }
    return NULL;
}

void vu_msg_close_fds(struct vu_msg *msg)
{
    for (unsigned i = 0; i < msg->nfds; i++) {
        if (msg->fds[i] >= 0)
            close(msg->fds[i]);
        msg->fds[i] = -1;
    }
    msg->nfds = 0;
}

static int read_full(int sock, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(sock, (char *)buf + done, len - done);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

int vu_msg_recv(int sock, struct vu_msg *msg)
{
    char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
    struct iovec iov = { .iov_base = &msg->hdr, .iov_len = sizeof(msg->hdr) };
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg;
    ssize_t n;
    int ret;

    msg->nfds = 0;
    memset(&msg->payload, 0, sizeof(msg->payload));
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        return -errno;

    for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
            if (msg->nfds < VU_MAX_FDS)
                msg->fds[msg->nfds++] = fd;
            else
                close(fd);
        }
    }
    if (mh.msg_flags & MSG_CTRUNC) {
        ret = -EMSGSIZE;
        goto fail;
    }
    if ((size_t)n < sizeof(msg->hdr)) {
        ret = read_full(sock, (char *)&msg->hdr + n, sizeof(msg->hdr) - (size_t)n);
        if (ret < 0)
            goto fail;
    }
    if ((msg->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION) {
        ret = -EPROTO;
        goto fail;
    }
    if (msg->hdr.size > VU_PAYLOAD_MAX) {
        ret = -EMSGSIZE;
        goto fail;
    }
    ret = read_full(sock, &msg->payload, msg->hdr.size);
    if (ret < 0)
        goto fail;
    return 1;

fail:
    vu_msg_close_fds(msg);
    return ret;
}

int vu_msg_send_reply(int sock, const struct vu_msg *req, const void *payload, size_t size, int fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct vu_msg_hdr hdr = {
        .request = req->hdr.request,
        .flags = VU_VERSION | VU_FLAG_REPLY,
        .size = (uint32_t)size,
    };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)payload, .iov_len = size },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
    ssize_t n;

    if (fd >= 0) {
        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = sizeof(control);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n != sizeof(hdr) + size)
        return -EIO;
    return 0;
}
