/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ceph RBD backend internals that the unit test checks without a cluster;
 * the rest of the daemon sees an RBD bdev only through bdev.h.
 */
#ifndef VUS_BDEV_BDEV_RBD_H
#define VUS_BDEV_BDEV_RBD_H

#include <stdbool.h>
#include <stdint.h>

#include "bdev/bdev.h"

/*
 * What the initiator should see for a librbd result r (< 0).  Returns the
 * -errno to complete the bdev_io with; when that is -EREMOTEIO, *sense holds
 * the sense data (BDEV_SENSE) to report instead.
 */
int bdev_rbd_map_error(int r, uint32_t *sense);

/*
 * The seconds a client waits for an OSD or monitor when the user gave
 * timeout=T: T itself for I/O (0: librbd retries until the OSD returns), and
 * for connecting, which must end even with timeout=0, T or a default.
 */
unsigned bdev_rbd_connect_timeout(unsigned timeout);

#endif
