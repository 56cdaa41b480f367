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

#endif
