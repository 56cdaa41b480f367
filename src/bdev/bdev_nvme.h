/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NVMe backend: a namespace of a local NVMe controller, driven from
 * userspace through VFIO.  Shared between bdev_nvme.c (the controller:
 * opening, queues, closing) and bdev_nvme_io.c (the data path).
 *
 * One controller (struct nvme_shared) serves every LUN on its namespaces.
 * Each worker has a queue pair of its own (struct nvme_ioq, found by the
 * worker's io_loop index), so the data path takes no lock.  The data buffers
 * of a request are guest memory, which the VFIO layer has mapped into the
 * device's IOMMU domain (IOVA = our virtual address): a READ or WRITE becomes
 * a command whose PRPs point at the guest's own pages.  What PRPs cannot
 * express, or memory the IOMMU could not map, goes through a bounce buffer;
 * every byte copied that way is counted (bytes_copied) and the first such
 * request is logged.
 */
#ifndef VUS_BDEV_BDEV_NVME_H
#define VUS_BDEV_BDEV_NVME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bdev/bdev.h"
#include "io/io_loop.h"
#include "nvme/nvme_ctrlr.h"
#include "nvme/nvme_qpair.h"

#define NVME_MAX_IOQ        64         /* one per worker: CONTROLLER_MAX_WORKERS */
#define NVME_IOQ_ENTRIES    256        /* per queue pair, if the controller allows */
#define NVME_MAX_CHUNK      (1u << 20) /* bytes per READ/WRITE command: one PRP list page */
#define NVME_BOUNCE_BUFS    4          /* per queue pair, NVME_MAX_CHUNK each */
#define NVME_CMD_TIMEOUT_NS (30ull * 1000 * 1000 * 1000)

struct nvme_shared;

/* One command in flight; also owns one page for its PRP list or DSM ranges. */
struct nvme_cmd {
    struct bdev_io *io;
    struct nvme_ioq *q;
    uint16_t cid;
    void *page; /* NVME page size, DMA-able */
    uint64_t page_iova;
    void *bounce; /* a bounce buffer while the command uses one */
    uint64_t bounce_iova;
    uint32_t bounce_len;
    unsigned next_free;
};

struct nvme_ioq {
    struct nvme_shared *ctl;
    unsigned index;
    struct nvme_qpair qp;
    int irq_fd; /* MSI-X vector index + 1 signals here */
    struct io_loop_source src;
    struct io_loop *loop; /* attached by the first submission from its worker */
    struct nvme_cmd *cmds;
    unsigned ncmds;
    unsigned free_head; /* ncmds: none free */
    void *pages;        /* ncmds pages, one per nvme_cmd */
    size_t pages_len;
    void *bounce_mem; /* NVME_BOUNCE_BUFS buffers of NVME_MAX_CHUNK */
    uint64_t bounce_iova;
    unsigned bounce_free;                  /* bit mask of free buffers */
    struct bdev_io *wait_head, *wait_tail; /* requests waiting for a command or bounce buffer */
    uint64_t next_timeout_check_ns;
    bool dead; /* the controller failed: every request fails at once */
};

struct nvme_shared {
    char bdf[13];
    unsigned refs; /* LUNs open on it */
    struct vfio_dev *vdev;
    struct nvme_ctrlr ctrlr;
    unsigned nq;
    struct nvme_ioq q[NVME_MAX_IOQ];
    _Atomic uint64_t bytes_copied; /* through bounce buffers */
    _Atomic uint64_t commands;
    atomic_bool fallback_logged;
    atomic_bool dead_logged;
    struct nvme_shared *next;
};

struct bdev_nvme {
    struct bdev bdev;
    struct nvme_shared *ctl;
    uint32_t nsid;
    unsigned lba_shift;
};

/* bdev_nvme_io.c */
int bdev_nvme_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io);
int bdev_nvme_cancel(struct bdev *bdev, struct bdev_io *io);
unsigned bdev_nvme_ioq_poll(struct io_loop_source *src);

#endif
