/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bdev/bdev.h"

#include <errno.h>
#include <stdio.h>

#include "util/iov.h"

int bdev_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    *out = NULL;
    /*
     * The command line offers only these two, the sizes every guest driver
     * handles; an NVMe namespace and an iSCSI LUN bring their own.
     */
    if (cfg->type != BDEV_TYPE_NVME && cfg->type != BDEV_TYPE_ISCSI && cfg->block_size != 512 &&
        cfg->block_size != 4096) {
        snprintf(err, errlen, "block size %u is not supported (use 512 or 4096)",
                 (unsigned)cfg->block_size);
        return -EINVAL;
    }
    switch (cfg->type) {
    case BDEV_TYPE_RAM:
        return bdev_ram_open(cfg, out, err, errlen);
    case BDEV_TYPE_FILE:
        if (!cfg->path || !cfg->path[0]) {
            snprintf(err, errlen, "file backend needs a path");
            return -EINVAL;
        }
        return bdev_file_open(cfg, out, err, errlen);
    case BDEV_TYPE_NULL:
        return bdev_null_open(cfg, out, err, errlen);
    case BDEV_TYPE_NVME:
        if (!cfg->pci || !cfg->pci[0]) {
            snprintf(err, errlen, "nvme backend needs pci=");
            return -EINVAL;
        }
        return bdev_nvme_open(cfg, out, err, errlen);
    case BDEV_TYPE_ISCSI:
        if (!cfg->url || !cfg->url[0]) {
            snprintf(err, errlen, "iscsi backend needs url=");
            return -EINVAL;
        }
        return bdev_iscsi_open(cfg, out, err, errlen);
    case BDEV_TYPE_RBD:
        if (!cfg->pool || !cfg->pool[0] || !cfg->image || !cfg->image[0]) {
            snprintf(err, errlen, "rbd backend needs pool= and image=");
            return -EINVAL;
        }
        return bdev_rbd_open(cfg, out, err, errlen);
    }
    snprintf(err, errlen, "unknown backend type %d", (int)cfg->type);
    return -EINVAL;
}

void bdev_close(struct bdev *bdev)
{
    if (bdev)
        bdev->ops->close(bdev);
}

int bdev_io_check(const struct bdev *bdev, const struct bdev_io *io)
{
    switch (io->type) {
    case BDEV_IO_READ:
        break;
    case BDEV_IO_WRITE:
        if (bdev->readonly)
            return -EROFS;
        break;
    case BDEV_IO_FLUSH:
        /* A flush covers the whole device whatever range the initiator named. */
        return 0;
    case BDEV_IO_DISCARD:
        if (bdev->readonly)
            return -EROFS;
        if (!bdev->can_discard)
            return -EOPNOTSUPP;
        break;
    case BDEV_IO_WRITE_ZEROES:
        if (bdev->readonly)
            return -EROFS;
        if (!bdev->can_write_zeroes)
            return -EOPNOTSUPP;
        break;
    case BDEV_IO_VERIFY:
        if (!bdev->can_verify)
            return -EOPNOTSUPP;
        break;
    default:
        return -EINVAL;
    }
    if (io->offset % bdev->block_size || io->len % bdev->block_size)
        return -EINVAL;
    if (io->offset > bdev->size || io->len > bdev->size - io->offset)
        return -EINVAL;
    if (io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE) {
        if (io->iovcnt > BDEV_MAX_IOV || (io->iovcnt > 0 && !io->iov))
            return -EINVAL;
        /* Exactly: a longer vector would let readv/writev run past the range. */
        if (iov_size(io->iov, io->iovcnt) != io->len)
            return -EINVAL;
    }
    return 0;
}
