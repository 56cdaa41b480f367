/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading and writing vhost-user messages on the connection socket, and the
 * one place where a message's shape (payload size, number of fds) is checked
 * against what its request type requires.
 *
 * Threading: control thread only.
 */
#ifndef VUS_VHOST_VU_MSG_H
#define VUS_VHOST_VU_MSG_H

#include <stddef.h>

#include "vhost/vu_proto.h"

/*
 * Receive one message (blocking).  Returns 1 on a message, 0 when the peer
 * closed the connection cleanly between messages, -errno on error or on a
 * malformed frame (bad version, payload larger than VU_PAYLOAD_MAX, truncated
 * payload, too many fds).  fds received with a failed frame are closed.
 */
int vu_msg_recv(int sock, struct vu_msg *msg);

/* Send a reply: sets the reply flag and version, copies size bytes of payload. */
int vu_msg_send_reply(int sock, const struct vu_msg *req, const void *payload, size_t size, int fd);

/*
 * Check the payload size and the number of fds against what the request
 * needs.  Returns NULL when the message is well formed, else a reason.
 */
const char *vu_msg_check(const struct vu_msg *msg);

/* Close every fd the message still holds (sets them to -1). */
void vu_msg_close_fds(struct vu_msg *msg);

/* Name of a request, for logs. */
const char *vu_request_name(uint32_t request);

#endif
