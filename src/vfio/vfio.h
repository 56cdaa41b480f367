/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Userspace access to PCI functions through VFIO, and the one DMA address
 * space all of them share.
 *
 * A device is a PCI function bound to vfio-pci.  It is opened through the
 * iommufd/cdev API (/dev/iommu + /dev/vfio/devices/vfioN) where the kernel
 * has it, else through the type1 container/group API; either way every
 * device of the process sits in ONE DMA address space (one IOAS, or one
 * container), so a region mapped once is reachable by every device.
 *
 * DMA addresses: IOVA = the daemon's virtual address.  Guest memory regions
 * of many VMs, and the driver's own queues, then never collide, and a data
 * pointer becomes a DMA address without a lookup table per domain.  The
 * price: the IOMMU must cover user addresses (47 bits on x86-64), which some
 * IOMMUs (or QEMU's intel-iommu without aw-bits=48) do not.
 *
 * Threading: open/close/map_bar/reset/set_msix are control-path calls, any
 * thread, serialised internally.  vfio_dma_map/unmap/alloc/free: any
 * thread, serialised internally.  vfio_dma_translate: the hot path, any
 * thread, lock-free (a sequence counter; it never blocks writers).
 */
#ifndef VUS_VFIO_VFIO_H
#define VUS_VFIO_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfio_dev;

/*
 * bdf: "0000:00:04.0" exactly (domain:bus:device.function, hex).  Finds the
 * IOMMU group via sysfs, checks the function is bound to vfio-pci (else the
 * error says what to run), opens it, brings the DMA space up if this is the
 * first device, enables memory space and bus mastering.  0 or -errno with a
 * one-line reason in err.
 */
int vfio_dev_open(const char *bdf, struct vfio_dev **out, char *err, size_t errlen);
/* Disables MSI-X, unmaps BARs, closes; the last device tears the DMA space down. */
void vfio_dev_close(struct vfio_dev *d);
/* mmap BAR `bar` (whole BAR; areas the kernel will not let us map stay PROT_NONE). */
int vfio_dev_map_bar(struct vfio_dev *d, unsigned bar, volatile void **addr, size_t *len, char *err,
                     size_t errlen);
/* VFIO_DEVICE_RESET when the device supports it; -ENOTSUP otherwise. */
int vfio_dev_reset(struct vfio_dev *d);
unsigned vfio_dev_msix_count(const struct vfio_dev *d);
/* Vector i -> eventfds[i] (-1 = none); n = 0 disables MSI-X. */
int vfio_dev_set_msix(struct vfio_dev *d, const int *eventfds, unsigned n);
const char *vfio_dev_bdf(const struct vfio_dev *d);

/*
 * The process-wide DMA space, IOVA = vaddr.  Regions may be requested before
 * any device exists: they are recorded and mapped when the space comes up
 * (and unmapped, but still recorded, when the last device closes).
 * Ranges are rounded outward to pages; overlapping an existing range is
 * -EEXIST; unmap must name a mapped range (as rounded) exactly, else -ENOENT.
 * -ERANGE: outside the IOMMU's usable IOVA ranges (the log says why);
 * -ENOMEM: RLIMIT_MEMLOCK too low (the log says what to raise).
 */
int vfio_dma_map(void *vaddr, size_t len);
int vfio_dma_unmap(void *vaddr, size_t len);
/* Hot path: is [vaddr, vaddr+len) inside ONE range mapped in the IOMMU now?  Sets *iova. */
bool vfio_dma_translate(const void *vaddr, size_t len, uint64_t *iova);
/*
 * Anonymous, page-aligned, zeroed memory, pinned by the IOMMU mapping (not
 * mlock()ed: both would count against RLIMIT_MEMLOCK).  *iova is valid once a
 * device is open (it is the address itself).
 */
int vfio_dma_alloc(size_t len, void **vaddr, uint64_t *iova);
void vfio_dma_free(void *vaddr, size_t len);
/* Bytes mapped in the IOMMU now (what the kernel charges to RLIMIT_MEMLOCK). */
uint64_t vfio_dma_pinned_bytes(void);

#endif
