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

/*
 * How the backend reaches a controller and its DMA space: VFIO in the
 * daemon, a software controller in the unit tests.  Control thread, except
 * translate (any worker, lock-free).
 */
struct bdev_nvme_transport {
    /* Open the PCI function and map BAR0.  0 or -errno with a reason in err. */
    int (*open)(const char *bdf, void **dev, volatile void **bar0, size_t *bar0_len, char *err,
                size_t errlen);
    void (*close)(void *dev);
    unsigned (*msix_count)(void *dev);
    /* Vector i signals eventfds[i] (-1: none); n = 0 disables. */
    int (*set_msix)(void *dev, const int *eventfds, unsigned n);
    const struct nvme_dma_ops *dma;
    /* Is [vaddr, vaddr + len) device-reachable, and at which address? */
    bool (*translate)(const void *vaddr, size_t len, uint64_t *iova);
};

/* For unit tests: use t instead of VFIO for controllers opened from now on. */
void bdev_nvme_set_transport(const struct bdev_nvme_transport *t);
/* For unit tests: the command timeout of the controller under bdev. */
void bdev_nvme_set_timeout(struct bdev *bdev, uint64_t ns);
/* Bytes copied through bounce buffers on the controller under bdev. */
uint64_t bdev_nvme_bytes_copied(struct bdev *bdev);
/* Controller resets done for the controller under bdev. */
unsigned bdev_nvme_resets(struct bdev *bdev);

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
    uint64_t abort_ns; /* when an Abort was sent for it (timed out), else 0 */
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
    bool dead;                  /* the controller failed: every request fails at once */
    bool harvesting;            /* completions are being taken back for resubmission */
    bool quiesced;              /* stopped for a controller reset; holds the loop awake */
    unsigned seen_gen;          /* the recovery generation this queue stopped for */
    _Atomic unsigned acked_gen; /* published to the recovery thread */
};

struct nvme_shared {
    char bdf[13];
    unsigned refs; /* LUNs open on it */
    struct nvme_ctrlr ctrlr;
    unsigned nq;
    struct nvme_ioq q[NVME_MAX_IOQ];
    const struct bdev_nvme_transport *tp;
    void *dev; /* the transport's handle */
    uint64_t cmd_timeout_ns;
    _Atomic uint64_t bytes_copied; /* through bounce buffers */
    _Atomic uint64_t commands;
    atomic_bool fallback_logged;
    atomic_bool dead_logged;
    /*
     * Controller reset (a command that neither completes nor aborts): a
     * worker bumps recovery_gen and starts the recovery thread; every queue
     * takes its commands back and acknowledges; the thread resets the
     * controller, re-creates the queues and sets recovery_done = gen; the
     * workers resubmit.  Odd moments are excluded by recovery_lock.
     */
    pthread_mutex_t recovery_lock;
    _Atomic unsigned recovery_gen, recovery_done;
    _Atomic unsigned resets;
    atomic_bool dead;
    atomic_bool stopping;      /* closing: a reset in progress gives up waiting for workers */
    bool recovery_thread_live; /* under recovery_lock */
    pthread_t recovery_thread;
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

/* bdev_nvme.c: reset the controller on a thread of its own (any worker may ask). */
void bdev_nvme_start_recovery(struct nvme_shared *ctl);

#endif
