/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest memory table (vhost-user SET_MEM_TABLE / ADD_MEM_REG / REM_MEM_REG).
 *
 * Each region arrives as an fd + offset; it is mapped once, MAP_SHARED.  Every
 * guest address used by the data path is translated here, with bounds checks:
 * a range that is not entirely inside mapped regions translates to nothing.
 *
 * Threading: tables are built and freed by the control thread.  Workers only
 * read a table, and only one that the control thread published to them while
 * they were paused; a table is freed only after no worker can use it.
 */
#ifndef VUS_VHOST_VU_MEM_H
#define VUS_VHOST_VU_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VU_MEM_MAX_REGIONS 32 /* what we report in GET_MAX_MEM_SLOTS */

struct vu_mem_region {
    uint64_t gpa;         /* guest physical address */
    uint64_t size;        /* bytes */
    uint64_t uva;         /* frontend's virtual address (used in ring addresses) */
    uint64_t mmap_offset; /* offset of the region within the fd */
    void *mmap_base;      /* our mapping of [0, mmap_offset + size) of the fd */
    size_t mmap_len;
    void *host; /* mmap_base + mmap_offset: host address of gpa */
};

struct vu_fault_owner;

struct vu_mem_table {
    unsigned nregions;
    struct vu_mem_region regions[VU_MEM_MAX_REGIONS];
    /* Told when the frontend shrinks a region's file under us (see vu_fault.h); may be NULL. */
    struct vu_fault_owner *owner;
};

/*
 * Whether fd may back guest memory (or an inflight region) of which need
 * bytes will be mapped: a regular file must be at least that long, and no
 * file on FUSE is taken.  0, -EINVAL (too short), -EPERM (FUSE) or -errno.
 */
int vu_mem_check_fd(int fd, uint64_t need);

/*
 * Map fd and add a region.  Takes ownership of fd (closed here in all cases:
 * a mapping does not need it).  Rejects zero sizes, overflowing ranges,
 * overlap with an existing region (in gpa or uva space), a full table, and
 * an fd vu_mem_check_fd() refuses.  The mapping is registered with vu_fault so
 * that a later shrink of the fd cannot kill the process.
 * Returns 0 or -errno.
 */
int vu_mem_add_region(struct vu_mem_table *t, uint64_t gpa, uint64_t size, uint64_t uva,
                      uint64_t mmap_offset, int fd);

/* Unmap and remove the region with exactly this gpa, size and uva.  0 or -ENOENT. */
int vu_mem_remove_region(struct vu_mem_table *t, uint64_t gpa, uint64_t size, uint64_t uva);

/* Unmap everything; the table is empty afterwards (its owner stays). */
void vu_mem_table_clear(struct vu_mem_table *t);

/* Host pointer for [gpa, gpa + len) if it lies inside one region, else NULL. */
void *vu_mem_gpa_to_host(const struct vu_mem_table *t, uint64_t gpa, uint64_t len);

/* Host pointer for frontend virtual range [uva, uva + len) inside one region, else NULL. */
void *vu_mem_uva_to_host(const struct vu_mem_table *t, uint64_t uva, uint64_t len);

/*
 * The way back, for the dirty log: the guest-physical address of host range
 * [host, host + len) if it lies inside one region's mapping, else -EFAULT.
 * Unique, as every region has a mapping of its own.  A scan of the table:
 * only the logging path (live migration) calls it.
 */
int vu_mem_host_to_gpa(const struct vu_mem_table *t, const void *host, uint64_t len, uint64_t *gpa);

/*
 * Map len bytes of a frontend's fd from offset (MAP_SHARED), followed by an
 * inaccessible guard page: regions whose layout is the frontend's word (the
 * inflight region, the dirty log) fault on an indexing mistake rather than
 * write into whatever mapping comes next.  Registered with vu_fault for
 * owner: the frontend can shrink the fd later.  Returns the mapping (its
 * whole length, to unmap, in *map_len) or MAP_FAILED with errno.  Control
 * thread, while no worker can touch the mapping being replaced.
 */
void *vu_mem_map_guarded(int fd, size_t len, off_t offset, struct vu_fault_owner *owner,
                         size_t *map_len);
/* Undo vu_mem_map_guarded (NULL: nothing). */
void vu_mem_unmap_guarded(void *base, size_t map_len);

/*
 * Append [gpa, gpa + len) to iov as host ranges; the range may span adjacent
 * regions.  *cnt is the number of elements used so far and is advanced.
 * Returns 0, -EFAULT (not all mapped, or wraps) or -E2BIG (more than max elements).
 */
int vu_mem_gpa_to_iov(const struct vu_mem_table *t, uint64_t gpa, uint64_t len, struct iovec *iov,
                      unsigned *cnt, unsigned max);

#endif
