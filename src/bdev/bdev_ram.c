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

#include "util/copy_nt.h"
#include "util/iov.h"

struct bdev_ram {
    struct bdev bdev;
    uint8_t *mem;
    size_t page_size;
    /*
     * Provisioning map for GET LBA STATUS: one bit per block, set when the
     * block was written since it was last discarded (a fresh disk is all
     * deallocated).  Workers update disjoint or guest-ordered ranges, but
     * neighbouring blocks share words: atomic or/and.  Anonymous memory, so
     * a large disk pays only for the words touched.
     */
    uint64_t *map;
    size_t map_bytes;
};

/*
 * From this size on a RAM disk is taken to outgrow the CPU's caches, so
 * that a block written is not read back from them: a smaller disk keeps
 * plain stores, which leave the block cached for the next read.
 */
#define RAM_NT_WRITES_MIN (64ull << 20)

static size_t map_bytes_for(uint64_t blocks)
{
    return (size_t)((blocks + 63) / 64) * sizeof(uint64_t);
}

/* Mark blocks [blk, blk + n) mapped or deallocated. */
static void map_set(uint64_t *map, uint64_t blk, uint64_t n, bool mapped)
{
    while (n > 0) {
        unsigned bit = (unsigned)(blk % 64);
        uint64_t take = 64 - bit < n ? 64 - bit : n;
        uint64_t mask = (take == 64 ? ~0ull : ((1ull << take) - 1)) << bit;
        uint64_t *w = &map[blk / 64];
        uint64_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);

        /* Rewriting mapped blocks is the common case: no locked instruction then. */
        if (mapped && (cur & mask) != mask)
            __atomic_fetch_or(w, mask, __ATOMIC_RELAXED);
        else if (!mapped && (cur & mask) != 0)
            __atomic_fetch_and(w, ~mask, __ATOMIC_RELAXED);
        blk += take;
        n -= take;
    }
}

static bool map_get(const uint64_t *map, uint64_t blk)
{
    return (__atomic_load_n(&map[blk / 64], __ATOMIC_RELAXED) >> (blk % 64)) & 1;
}

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

/*
 * A 4 KiB read of a large disk is a copy from memory no cache holds: the
 * first lines' misses are most of its time, and the hardware prefetcher only
 * starts after them.  Asking for the lines while the previous request is
 * being copied overlaps the two.  Only the first lines: once a read has
 * started, the hardware prefetcher streams the rest, and every further hint
 * competes with the copy in progress for the core's outstanding misses (64k
 * and 256k sequential reads went 10 % faster with 4 KiB than with 16 KiB,
 * and 4 % faster again with 2 KiB; docs/benchmarks-ab.md).
 */
#define RAM_PREFETCH_MAX (2u << 10)

static void ram_prefetch(struct bdev *bdev, uint64_t offset, uint64_t len)
{
    const uint8_t *p = to_ram(bdev)->mem + offset;

    if (len > RAM_PREFETCH_MAX)
        len = RAM_PREFETCH_MAX;
    for (uint64_t i = 0; i < len; i += 64)
        __builtin_prefetch(p + i, 0, 3);
}

static int ram_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct bdev_ram *r = to_ram(bdev);
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    if (io->type == BDEV_IO_WRITE || io->type == BDEV_IO_WRITE_ZEROES ||
        io->type == BDEV_IO_DISCARD)
        map_set(r->map, io->offset / bdev->block_size, io->len / bdev->block_size,
                io->type != BDEV_IO_DISCARD);
    switch (io->type) {
    case BDEV_IO_READ:
        iov_from_buf(io->iov, io->iovcnt, 0, r->mem + io->offset, io->len);
        break;
    case BDEV_IO_WRITE:
        /* Read from the size each time: a resize may carry the disk across the line. */
        if (bdev->size >= RAM_NT_WRITES_MIN) {
            iov_to_buf_nt(io->iov, io->iovcnt, 0, r->mem + io->offset, io->len);
            /* Another queue's worker may read the block once the guest hears it is written. */
            copy_nt_fence();
        } else {
            iov_to_buf(io->iov, io->iovcnt, 0, r->mem + io->offset, io->len);
        }
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

/*
 * Written zeroes count as mapped, as SBC-3 wants of WRITE SAME without
 * UNMAP, even though the memory went back to the kernel.
 */
static int ram_lba_status(struct bdev *bdev, uint64_t offset, uint64_t *len, bool *mapped)
{
    struct bdev_ram *r = to_ram(bdev);
    uint64_t bs = bdev->block_size, blk = offset / bs, end = blk + *len / bs, i = blk;
    bool state = map_get(r->map, blk);
    uint64_t same = state ? ~0ull : 0;

    /* Whole words of one state are skipped at once: a 1 TiB disk is 32 Mi words. */
    while (i < end) {
        if (i % 64 == 0 && end - i >= 64 &&
            __atomic_load_n(&r->map[i / 64], __ATOMIC_RELAXED) == same) {
            i += 64;
            continue;
        }
        if (map_get(r->map, i) != state)
            break;
        i++;
    }
    *mapped = state;
    *len = (i - blk) * bs;
    return 0;
}

static void ram_close(struct bdev *bdev)
{
    struct bdev_ram *r = to_ram(bdev);

    munmap(r->map, r->map_bytes);
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
    size_t nmap = map_bytes_for(bytes / bdev->block_size);
    uint64_t old_blocks = bdev->size / bdev->block_size, new_blocks = bytes / bdev->block_size;
    void *map = r->map;

    /* Blocks past a shrunk end come back deallocated (zeroes) if the disk grows again. */
    if (new_blocks < old_blocks)
        map_set(r->map, new_blocks, old_blocks - new_blocks, false);
    if (nmap != r->map_bytes) {
        map = mremap(r->map, r->map_bytes, nmap, MREMAP_MAYMOVE);
        if (map == MAP_FAILED)
            return -errno;
        r->map = map;
        r->map_bytes = nmap;
    }
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
    .lba_status = ram_lba_status,
    .prefetch = ram_prefetch,
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
    r->map_bytes = map_bytes_for(cfg->size / cfg->block_size);
    r->map = mmap(NULL, r->map_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->map == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "cannot allocate the map of ram disk of %s: %s", sz, strerror(e));
        munmap(mem, (size_t)cfg->size);
        free(r);
        return -e;
    }
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
    /* The map and discards work in pages: a smaller UNMAP frees nothing. */
    r->bdev.phys_block_size = (uint32_t)r->page_size;
    /*
     * There is no power loss to survive; against other commands a WRITE
     * ATOMIC is made all-or-nothing by the SCSI layer's range lock.
     */
    r->bdev.atomic_max_bytes = UINT32_MAX;
    snprintf(r->bdev.desc, sizeof(r->bdev.desc), "ram %s", sz);
    *out = &r->bdev;
    return 0;
}
