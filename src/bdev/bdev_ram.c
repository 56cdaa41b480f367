/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RAM backend: the disk is anonymous memory, so every request completes
 * inline on the submitting worker.  Concurrent requests from several workers
 * touch disjoint or guest-ordered ranges; the guest owns the ordering of
 * overlapping requests, exactly as with a real disk.
 */
#include "bdev/bdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/iov.h"

struct bdev_ram {
    struct bdev bdev;
    uint8_t *mem;
    size_t page_size;
};

static struct bdev_ram *to_ram(struct bdev *bdev)
{
    return (struct bdev_ram *)((char *)bdev - offsetof(struct bdev_ram, bdev));
}

/*
 * Whole pages inside the range are given back to the kernel rather than
 * cleared, so a guest discarding a large disk returns the host memory; the
 * private anonymous mapping reads back as zeroes afterwards.  The partial
 * pages at both ends hold other blocks and are cleared by hand.
 */
static void ram_zero(struct bdev_ram *r, uint64_t offset, uint64_t len)
{
    uint64_t mask = r->page_size - 1;
    uint64_t start = (offset + mask) & ~mask;
    uint64_t end = (offset + len) & ~mask;

    if (start < end && madvise(r->mem + start, end - start, MADV_DONTNEED) == 0) {
        memset(r->mem + offset, 0, start - offset);
        memset(r->mem + end, 0, offset + len - end);
        return;
    }
    memset(r->mem + offset, 0, len);
}

static int ram_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct bdev_ram *r = to_ram(bdev);
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    switch (io->type) {
    case BDEV_IO_READ:
        iov_from_buf(io->iov, io->iovcnt, 0, r->mem + io->offset, io->len);
        break;
    case BDEV_IO_WRITE:
        iov_to_buf(io->iov, io->iovcnt, 0, r->mem + io->offset, io->len);
        break;
    case BDEV_IO_FLUSH:
        /* Nothing is cached between the guest and this memory. */
        break;
    case BDEV_IO_DISCARD:
    case BDEV_IO_WRITE_ZEROES:
        ram_zero(r, io->offset, io->len);
        break;
    case BDEV_IO_VERIFY:
        /* Not offered (can_verify is false): bdev_io_check refused it. */
        break;
    }
    io->cb(io, 0);
    return 0;
}

static void ram_close(struct bdev *bdev)
{
    struct bdev_ram *r = to_ram(bdev);

    munmap(r->mem, (size_t)bdev->size);
    free(r);
}

/* Grown pages read as zeroes, like a sparse file extended; shrunk ones go back to the kernel. */
static int ram_resize(struct bdev *bdev, uint64_t bytes)
{
    struct bdev_ram *r = to_ram(bdev);
    void *mem;

    if (bytes == 0 || bytes > SIZE_MAX)
        return -EINVAL;
    mem = mremap(r->mem, (size_t)bdev->size, (size_t)bytes, MREMAP_MAYMOVE);
    if (mem == MAP_FAILED)
        return -errno;
    r->mem = mem;
    return 0;
}

static const struct bdev_ops ram_ops = {
    .name = "ram",
    .submit = ram_submit,
    .close = ram_close,
    .resize = ram_resize,
};

static void format_size(char *buf, size_t len, uint64_t size)
{
    static const char units[] = "KMGT";
    unsigned u = 0;

    if (size == 0 || size % 1024) {
        snprintf(buf, len, "%llu", (unsigned long long)size);
        return;
    }
    size /= 1024;
    while (u + 1 < sizeof(units) - 1 && size % 1024 == 0) {
        size /= 1024;
        u++;
    }
    snprintf(buf, len, "%llu%c", (unsigned long long)size, units[u]);
}

int bdev_ram_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    struct bdev_ram *r;
    char sz[32];
    void *mem;

    format_size(sz, sizeof(sz), cfg->size);
    if (cfg->size == 0 || cfg->size % cfg->block_size) {
        snprintf(err, errlen, "ram size %s is not a non-zero multiple of the block size %u", sz,
                 (unsigned)cfg->block_size);
        return -EINVAL;
    }
    if (cfg->size > SIZE_MAX) {
        snprintf(err, errlen, "ram size %s does not fit in the address space", sz);
        return -ENOMEM;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "cannot allocate ram disk of %s: %s", sz, strerror(ENOMEM));
        return -ENOMEM;
    }
    /*
     * NORESERVE: a large, mostly unused disk should cost only the pages the
     * guest actually writes, as with a sparse file.
     */
    mem = mmap(NULL, (size_t)cfg->size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "cannot allocate ram disk of %s: %s", sz, strerror(e));
        free(r);
        return -e;
    }
    /*
     * Requests land at random places of a disk far bigger than any cache:
     * with 4 KiB pages each one also misses the TLB.  Transparent huge pages
     * made a random 4 KiB copy out of 1 GiB 20% cheaper (bench/copy_floor).
     * Only a hint: without THP the disk works the same.
     */
    madvise(mem, (size_t)cfg->size, MADV_HUGEPAGE);
    long page = sysconf(_SC_PAGESIZE);
    r->page_size = page > 0 ? (size_t)page : 4096;
    r->mem = mem;
    r->bdev.ops = &ram_ops;
    r->bdev.size = cfg->size;
    r->bdev.block_size = cfg->block_size;
    r->bdev.readonly = cfg->readonly;
    r->bdev.can_discard = true;
    r->bdev.discard_zeroes = true;
    r->bdev.can_write_zeroes = true;
    r->bdev.volatile_cache = false;
    r->bdev.optimal_io_blocks = 0;
    /*
     * There is no power loss to survive; against other commands a WRITE
     * ATOMIC is made all-or-nothing by the SCSI layer's range lock.
     */
    r->bdev.atomic_max_bytes = UINT32_MAX;
    snprintf(r->bdev.desc, sizeof(r->bdev.desc), "ram %s", sz);
    *out = &r->bdev;
    return 0;
}
