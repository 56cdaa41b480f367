/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/dma_registry.h"
#include "vhost/vu_fault.h"

/* [a, a + alen) and [b, b + blen) intersect; both ranges are known not to wrap. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int vu_mem_check_fd(int fd, uint64_t need)
{
    struct statfs sfs;
    struct stat st;

    if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
        return -errno;
    /*
     * Touching a mapping beyond the end of a file raises SIGBUS, so a
     * frontend that announces more than its fd holds is refused here rather
     * than left to the fault recovery.
     */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < need)
        return -EINVAL;
    /*
     * Page faults on a FUSE file wait for its server, which the frontend
     * may be: a worker touching guest memory would wait for ever.
     */
    if ((unsigned long)sfs.f_type == FUSE_SUPER_MAGIC)
        return -EPERM;
    return 0;
}

int vu_mem_add_region(struct vu_mem_table *t, uint64_t gpa, uint64_t size, uint64_t uva,
                      uint64_t mmap_offset, int fd)
{
    int rc = 0;

    if (fd < 0)
        return -EBADF;
    if (t->nregions >= VU_MEM_MAX_REGIONS) {
        rc = -ENOSPC;
        goto out_close;
    }
    /*
     * A region ending exactly at 2^64 is rejected too: it keeps every
     * "start + len" computation below free of wrap-around.
     */
    if (size == 0 || gpa + size <= gpa || uva + size <= uva || mmap_offset + size <= mmap_offset ||
        mmap_offset + size > SIZE_MAX) {
        rc = -EINVAL;
        goto out_close;
    }
    for (unsigned i = 0; i < t->nregions; i++) {
        const struct vu_mem_region *r = &t->regions[i];
        if (ranges_overlap(gpa, size, r->gpa, r->size) ||
            ranges_overlap(uva, size, r->uva, r->size)) {
            rc = -EEXIST;
            goto out_close;
        }
    }

    rc = vu_mem_check_fd(fd, mmap_offset + size);
    if (rc < 0)
        goto out_close;

    size_t len = (size_t)(mmap_offset + size);
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        goto out_close;
    }

    rc = vu_fault_register(base, len, vu_fault_page_size(fd), t->owner);
    if (rc < 0) {
        munmap(base, len);
        goto out_close;
    }

    struct vu_mem_region *r = &t->regions[t->nregions++];
    r->gpa = gpa;
    r->size = size;
    r->uva = uva;
    r->mmap_offset = mmap_offset;
    r->mmap_base = base;
    r->mmap_len = len;
    r->host = (char *)base + mmap_offset;
    /* Devices (an NVMe through VFIO) may now DMA straight into this region. */
    dma_registry_add_region(r->host, (size_t)size);

out_close:
    close(fd);
    return rc;
}

int vu_mem_remove_region(struct vu_mem_table *t, uint64_t gpa, uint64_t size, uint64_t uva)
{
    for (unsigned i = 0; i < t->nregions; i++) {
        struct vu_mem_region *r = &t->regions[i];
        if (r->gpa != gpa || r->size != size || r->uva != uva)
            continue;
        dma_registry_remove_region(r->host, (size_t)r->size);
        vu_fault_unregister(r->mmap_base);
        munmap(r->mmap_base, r->mmap_len);
        memmove(r, r + 1, (t->nregions - i - 1) * sizeof(*r));
        t->nregions--;
        memset(&t->regions[t->nregions], 0, sizeof(t->regions[0]));
        return 0;
    }
    return -ENOENT;
}

void vu_mem_table_clear(struct vu_mem_table *t)
{
    struct vu_fault_owner *owner = t->owner;

    for (unsigned i = 0; i < t->nregions; i++) {
        dma_registry_remove_region(t->regions[i].host, (size_t)t->regions[i].size);
        vu_fault_unregister(t->regions[i].mmap_base);
        munmap(t->regions[i].mmap_base, t->regions[i].mmap_len);
    }
    memset(t, 0, sizeof(*t));
    t->owner = owner;
}

/*
 * Host pointer for [addr, addr + len) when that range lies inside one region;
 * by_uva selects which address space addr is in.  len 0 still requires addr
 * to be inside a region, so a zero-sized lookup cannot produce a wild pointer.
 */
static void *lookup(const struct vu_mem_table *t, uint64_t addr, uint64_t len, bool by_uva,
                    const struct vu_mem_region **out)
{
    for (unsigned i = 0; i < t->nregions; i++) {
        const struct vu_mem_region *r = &t->regions[i];
        uint64_t start = by_uva ? r->uva : r->gpa;
        if (addr < start)
            continue;
        uint64_t off = addr - start;
        if (off >= r->size || len > r->size - off)
            continue;
        if (out)
            *out = r;
        return (char *)r->host + off;
    }
    return NULL;
}

void *vu_mem_gpa_to_host(const struct vu_mem_table *t, uint64_t gpa, uint64_t len)
{
    return lookup(t, gpa, len, false, NULL);
}

void *vu_mem_uva_to_host(const struct vu_mem_table *t, uint64_t uva, uint64_t len)
{
    return lookup(t, uva, len, true, NULL);
}

int vu_mem_host_to_gpa(const struct vu_mem_table *t, const void *host, uint64_t len, uint64_t *gpa)
{
    uintptr_t h = (uintptr_t)host;

    for (unsigned i = 0; i < t->nregions; i++) {
        const struct vu_mem_region *r = &t->regions[i];
        uintptr_t start = (uintptr_t)r->host;
        if (h < start)
            continue;
        uint64_t off = h - start;
        if (off >= r->size || len > r->size - off)
            continue;
        *gpa = r->gpa + off;
        return 0;
    }
    return -EFAULT;
}

void *vu_mem_map_guarded(int fd, size_t len, off_t offset, struct vu_fault_owner *owner,
                         size_t *map_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t fd_page = vu_fault_page_size(fd);
    size_t body = (len + fd_page - 1) / fd_page * fd_page;
    /* A huge-page mapping would need a huge-page-aligned hole: it goes without a guard. */
    size_t guard = fd_page == page ? page : 0;
    void *base;

    if (len == 0 || body < len || body > SIZE_MAX - guard) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    if (guard) {
        void *resv =
            mmap(NULL, body + guard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (resv == MAP_FAILED)
            return MAP_FAILED;
        base = mmap(resv, body, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset);
        if (base == MAP_FAILED) {
            int err = errno;
            munmap(resv, body + guard);
            errno = err;
            return MAP_FAILED;
        }
    } else {
        base = mmap(NULL, body, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
        if (base == MAP_FAILED)
            return MAP_FAILED;
    }
    if (vu_fault_register(base, body, fd_page, owner) < 0) {
        munmap(base, body + guard);
        errno = ENOSPC;
        return MAP_FAILED;
    }
    *map_len = body + guard;
    return base;
}

void vu_mem_unmap_guarded(void *base, size_t map_len)
{
    if (!base)
        return;
    vu_fault_unregister(base);
    munmap(base, map_len);
}

int vu_mem_gpa_to_iov(const struct vu_mem_table *t, uint64_t gpa, uint64_t len, struct iovec *iov,
                      unsigned *cnt, unsigned max)
{
    unsigned n = *cnt;

    if (gpa + len < gpa)
        return -EFAULT;
    while (len > 0) {
        const struct vu_mem_region *r = NULL;
        /* The first byte must be mapped; the piece runs to the end of its region. */
        char *host = lookup(t, gpa, 1, false, &r);
        if (!host)
            return -EFAULT;
        uint64_t piece = r->size - (gpa - r->gpa);
        if (piece > len)
            piece = len;
        if (n >= max)
            return -E2BIG;
        iov[n].iov_base = host;
        iov[n].iov_len = (size_t)piece;
        n++;
        gpa += piece;
        len -= piece;
    }
    /* Only a fully translated range is published, so a failure leaves *cnt alone. */
    *cnt = n;
    return 0;
}
