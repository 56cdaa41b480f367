/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which host memory devices may DMA into: every guest memory region the
 * daemon has mapped (all frontends), told to every DMA domain (a VFIO
 * container or IOAS) that wants to know.
 *
 * The vhost layer adds a region right after mapping it and removes it right
 * before unmapping it; at both points no worker uses the region.  A domain
 * that registers late is told about the regions that already exist.  A domain
 * that fails to map a region logs why and keeps going: requests that touch
 * such a region take the domain's copy fallback, they do not fail.
 *
 * Threading: any thread; calls are serialised by one mutex, and the
 * listeners' callbacks run under it (they must not call back in here).
 */
#ifndef VUS_UTIL_DMA_REGISTRY_H
#define VUS_UTIL_DMA_REGISTRY_H

#include <stddef.h>

struct dma_listener {
    /* Make [vaddr, vaddr + len) reachable by the domain's devices.  0 or -errno. */
    int (*map)(struct dma_listener *l, void *vaddr, size_t len);
    /* Undo a map that returned 0.  Must not fail: the memory is about to go away. */
    void (*unmap)(struct dma_listener *l, void *vaddr, size_t len);
    /* Owned by the registry: */
    struct dma_listener *next;
};

/* A region became guest memory.  Returns 0; map failures are the listeners' to report. */
int dma_registry_add_region(void *vaddr, size_t len);
/* The region [vaddr, vaddr + len), added before, is about to be unmapped. */
void dma_registry_remove_region(void *vaddr, size_t len);

/* Start telling l about regions, the existing ones first. */
void dma_registry_add_listener(struct dma_listener *l);
/* Stop; every region l mapped is unmapped through l first. */
void dma_registry_remove_listener(struct dma_listener *l);

/* Regions known now (tests, statistics). */
unsigned dma_registry_region_count(void);

#endif
