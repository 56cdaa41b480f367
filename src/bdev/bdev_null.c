/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Null backend: every request that passes the common checks completes at
 * once, successfully, and no data moves (as SPDK's null bdev).  It measures
 * the cost of the transport and the SCSI layer without any storage behind.
 *
 * Reads leave the guest's buffer untouched: the guest sees whatever its own
 * buffer held before, never host memory, so nothing can leak from here.
 * Because of that the backend does not claim that discarded or zeroed blocks
 * read back as zeroes.
 */
#include "bdev/bdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int null_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    io->cb(io, 0);
    return 0;
}

static void null_close(struct bdev *bdev)
{
    free(bdev);
}

/* "1G" rather than "1073741824" in logs, when the size is a whole number of a unit. */
static void size_text(char *buf, size_t len, uint64_t size)
{
    static const char suffix[] = { 0, 'K', 'M', 'G', 'T' };
    unsigned i = 0;

    while (i + 1 < sizeof(suffix) && size >= 1024 && size % 1024 == 0) {
        size /= 1024;
        i++;
    }
    if (suffix[i])
        snprintf(buf, len, "%llu%c", (unsigned long long)size, suffix[i]);
    else
        snprintf(buf, len, "%llu", (unsigned long long)size);
}

/* Nothing is stored: any size will do. */
static int null_resize(struct bdev *bdev, uint64_t bytes)
{
    (void)bdev;
    return bytes == 0 ? -EINVAL : 0;
}

static const struct bdev_ops null_ops = {
    .resize = null_resize,
    .name = "null",
    .submit = null_submit,
    .close = null_close,
};

int bdev_null_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    struct bdev *b;
    char sz[32];

    size_text(sz, sizeof(sz), cfg->size);
    if (cfg->size == 0 || cfg->size % cfg->block_size) {
        snprintf(err, errlen, "null size %s is not a non-zero multiple of the block size %u", sz,
                 (unsigned)cfg->block_size);
        return -EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "cannot allocate null disk: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    b->ops = &null_ops;
    b->size = cfg->size;
    b->block_size = cfg->block_size;
    b->readonly = cfg->readonly;
    /* UNMAP is accepted (and ignored); reads after it are not zeroes, so LBPRZ stays 0. */
    b->can_discard = true;
    b->discard_zeroes = false;
    /* WRITE SAME of zeroes then goes through plain writes, which are accepted too. */
    b->can_write_zeroes = false;
    b->volatile_cache = false;
    b->optimal_io_blocks = 0;
    snprintf(b->desc, sizeof(b->desc), "null %s", sz);
    *out = b;
    return 0;
}
