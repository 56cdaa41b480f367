/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kick, call and error fds arrive from the frontend (SET_VRING_KICK / CALL /
 * ERR).  Whatever file they really are, the daemon must never block on them:
 * a worker writing to a call fd that a frontend never drains, or the control
 * thread reading a kick fd that the frontend drained first, would stall every
 * queue that thread serves and make the process deaf to SIGTERM.
 *
 * Threading: control thread, while handling the message that carries the fd.
 */
#ifndef VUS_VHOST_VU_EVENTFD_H
#define VUS_VHOST_VU_EVENTFD_H

/*
 * Accept fd as a ring notification fd: it must be an eventfd (a pipe, socket
 * or file could block or fill up regardless of flags), and is switched to
 * O_NONBLOCK (the flag lives in the open file description the frontend shares
 * with us; QEMU creates its eventfds non-blocking anyway).  Returns 0, or
 * -EINVAL when fd is not an eventfd, or -errno.
 */
int vu_eventfd_adopt(int fd);

#endif
