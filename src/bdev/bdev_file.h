/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File backend internals that tests (and diagnostics) may look at; the rest
 * of the daemon sees a file bdev only through bdev.h.
 */
#ifndef VUS_BDEV_BDEV_FILE_H
#define VUS_BDEV_BDEV_FILE_H

#include <stdbool.h>

#include "bdev/bdev.h"

/*
 * Take block device discards to the helper thread from now on, as after a
 * kernel refused BLOCK_URING_CMD_DISCARD: lets tests run that path on any
 * kernel.  No effect on other backends.
 */
void bdev_file_force_discard_helper(struct bdev *bdev);

/* Whether block device discards go to the helper thread (forced, or the kernel refused). */
bool bdev_file_discard_on_helper(const struct bdev *bdev);

#endif
