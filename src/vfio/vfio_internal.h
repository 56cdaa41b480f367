/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between vfio.c (devices, the IOMMU backends) and vfio_dma.c (the DMA
 * space's bookkeeping), and the seams the unit tests use to run without a
 * device: a fake sysfs root, a fake IOMMU behind the DMA space.
 */
#ifndef VUS_VFIO_VFIO_INTERNAL_H
#define VUS_VFIO_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio/vfio.h"

/* Inclusive, like the kernel's. */
struct vfio_range {
    uint64_t start, last;
};

#define VFIO_MAX_IOVA_RANGES 16

/* What the DMA space needs from an IOMMU backend (type1 container or IOAS). */
struct vfio_space_ops {
    int (*map)(uint64_t iova, void *vaddr, size_t len); /* 0 or -errno */
    int (*unmap)(uint64_t iova, size_t len);            /* 0 or -errno */
    const char *name;                                   /* for messages */
};

/*
 * The space comes up with a backend and its usable IOVA ranges (n = 0: no
 * information, anything goes); every recorded region is mapped then, a
 * failure logged and the region left unmapped.  Down unmaps everything and
 * forgets the backend; records stay.  Callers serialise up/down.
 */
void vfio_dma_space_up(const struct vfio_space_ops *ops, const struct vfio_range *r, unsigned n);
void vfio_dma_space_down(void);
/* Registry listener: on while at least one device is open.  Not under any vfio lock. */
void vfio_dma_listener_attach(void);
void vfio_dma_listener_detach(void);

/* Parse "DDDD:BB:DD.F" (hex, either case) into lower-case canonical form. */
int vfio_parse_bdf(const char *s, char out[13]);
/* Tests point sysfs and /dev elsewhere (NULL restores /sys, /dev). */
void vfio_set_sysfs_root(const char *root);
void vfio_set_dev_root(const char *root);
/*
 * sysfs facts about a canonical bdf: its driver (empty if none) and IOMMU
 * group.  Fails with the message a user needs: no such device, no IOMMU
 * group, not bound to vfio-pci (with the commands to run).
 */
int vfio_sysfs_check(const char *bdf, int *group, char *err, size_t errlen);

/* Does [iova, iova+len) lie inside one of the ranges?  n = 0: yes. */
bool vfio_iova_in_ranges(const struct vfio_range *r, unsigned n, uint64_t iova, size_t len);
/*
 * Memlock policy: pinning `add` more bytes on top of `pinned` under a limit
 * of soft/hard (RLIM_INFINITY allowed).  0 when it fits (then *new_soft is
 * the soft limit to set, maybe unchanged); -ENOMEM when even the hard limit
 * is too low.  exempt: CAP_IPC_LOCK, the kernel does not count.
 */
int vfio_memlock_plan(uint64_t pinned, uint64_t add, uint64_t soft, uint64_t hard, bool exempt,
                      uint64_t *new_soft);

/* The translate table (vfio_dma.c), exposed for its unit test. */
#define VFIO_XLATE_MAX 4096
int vfio_xlate_insert(uintptr_t start, uintptr_t end); /* [start, end); -EEXIST, -ENOSPC */
int vfio_xlate_remove(uintptr_t start);                /* -ENOENT */

#endif
