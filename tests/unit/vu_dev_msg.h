/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test helper: hand vu_dev_handle_msg() a message as if it had been
 * received, without the framing (vu_msg's tests cover that).  Header-only:
 * each test program links alone against build/libvus.a.
 */
#ifndef VUS_TESTS_VU_DEV_MSG_H
#define VUS_TESTS_VU_DEV_MSG_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_msg.h"

/* fd (or -1) is dup'ed, so the device may own the copy. */
static inline int vu_dev_msg_handle(struct vu_dev *dev, uint32_t req, uint32_t flags,
                                    const void *payload, uint32_t size, int fd)
{
    struct vu_msg msg;

    memset(&msg, 0, sizeof(msg));
    msg.hdr.request = req;
    msg.hdr.flags = VU_VERSION | flags;
    msg.hdr.size = size;
    if (size)
        memcpy(&msg.payload, payload, size);
    if (fd >= 0) {
        msg.fds[0] = dup(fd);
        msg.nfds = 1;
    }
    return vu_dev_handle_msg(dev, &msg);
}

/*
 * A device whose frontend is the other end of a socketpair: pair[1] reads
 * the replies the device sends on pair[0].  0, or -1 when no socketpair.
 */
static inline int vu_dev_open_pair(struct vu_dev *dev, const struct vu_dev_ops *ops,
                                   uint64_t features, uint64_t protocol_features, int pair[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
        return -1;
    vu_dev_init(dev, ops, NULL, features, protocol_features, 4);
    dev->sock = pair[0];
    return 0;
}

static inline void vu_dev_close_pair(struct vu_dev *dev, int pair[2])
{
    vu_dev_disconnect(dev);
    close(pair[0]);
    close(pair[1]);
}

#endif
