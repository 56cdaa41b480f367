/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Provisioning status of a file from its holes (SEEK_DATA / SEEK_HOLE), for
 * GET LBA STATUS on file backends.  The file systems that punch holes for
 * DISCARD (FALLOC_FL_PUNCH_HOLE) report them here, so what the guest
 * unmapped reads back as deallocated.
 */
#include <errno.h>
#include <unistd.h>

#include "bdev/bdev.h"

int bdev_seek_lba_status(int fd, uint64_t offset, uint64_t *len, bool *mapped)
{
    off_t data, hole;

    if (offset > INT64_MAX || *len == 0)
        return -EINVAL;
    data = lseek(fd, (off_t)offset, SEEK_DATA);
    if (data < 0) {
        /* ENXIO: no data from offset to the end of the file, all a hole. */
        if (errno != ENXIO)
            return -errno;
        *mapped = false;
        return 0;
    }
    if ((uint64_t)data > offset) {
        *mapped = false;
        if ((uint64_t)data - offset < *len)
            *len = (uint64_t)data - offset;
        return 0;
    }
    /* Data at offset: up to the next hole (the end of the file at worst). */
    hole = lseek(fd, (off_t)offset, SEEK_HOLE);
    if (hole < 0)
        return -errno;
    *mapped = true;
    if ((uint64_t)hole > offset && (uint64_t)hole - offset < *len)
        *len = (uint64_t)hole - offset;
    return 0;
}
