/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A software NVMe controller for unit tests: a 16 KiB "BAR0" in ordinary
 * memory and a thread that plays the device.  It watches CC (enable,
 * disable, shutdown -> CSTS after a short delay) and the doorbells, runs
 * admin commands (Identify controller/namespace/CNS 06h, create/delete I/O
 * queues, Number of Queues, Abort) and NVM commands (read, write, compare,
 * flush, write zeroes, dataset management, verify) against RAM namespaces,
 * walking PRP1/PRP2/PRP lists the way a device does.  IOVAs are host
 * pointers: the tests' DMA ops return iova = vaddr.
 *
 * Namespaces: 1 is active, 512-byte blocks, 2048 blocks; 2 is formatted
 * with 8 bytes of metadata per block; 3 is inactive; 4 has 4096-byte blocks.
 *
 * Knobs (any thread): fail the next N commands with a status, hold
 * commands (they stay outstanding until released or aborted), set CFS, read
 * all-ones (surprise removal), never become ready, a per-command delay, a
 * CQE with a bogus CID.
 */
#ifndef VUS_TESTS_NVME_DOUBLE_H
#define VUS_TESTS_NVME_DOUBLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvme/nvme_ctrlr.h"
#include "nvme/nvme_spec.h"

#define ND_BAR_LEN  16384
#define ND_NQ       16 /* queue ids 0..15 */
#define ND_MAX_HELD 64
#define ND_NS       4
#define ND_MDTS     5 /* 2^5 pages = 128 KiB */

#define ND_HOLD_ADMIN 1u
#define ND_HOLD_IO    2u

struct nd_queue {
    bool live;
    uint64_t base;
    uint32_t size;
    uint32_t head, tail; /* SQ: head is ours; CQ: tail is ours */
    uint16_t cqid;
    uint16_t phase;
};

struct nd_ns {
    bool active;
    uint64_t nsze;
    uint8_t lbads;
    uint16_t ms;
    uint8_t *data;
};

struct nd_held {
    uint16_t sqid;
    struct nvme_sqe sqe;
};

struct nvme_double {
    _Alignas(4096) uint32_t bar[ND_BAR_LEN / 4];
    pthread_t thread;
    /* Knobs. */
    _Atomic bool stop;
    _Atomic unsigned fail_next;
    _Atomic uint16_t fail_status; /* status field */
    _Atomic unsigned hold;        /* ND_HOLD_* */
    _Atomic bool release_held;
    _Atomic bool never_ready;
    _Atomic bool gone; /* BAR reads all-ones */
    _Atomic bool cfs;
    _Atomic unsigned delay_us;
    _Atomic int bogus_cid;     /* >= 0: next completion is preceded by a CQE with this CID */
    _Atomic bool no_cns6;      /* CNS 06h answered Invalid Field */
    _Atomic bool no_verify;    /* ONCS without Verify (set before the controller is identified) */
    _Atomic bool ignore_shn;   /* never report shutdown complete */
    _Atomic bool ignore_abort; /* Abort answers "not aborted" and the command stays held */
    /* Counters. */
    _Atomic unsigned cmds, io_cmds, flushes, aborts_done, enables;
    _Atomic unsigned held_count;
    /* Device state (thread only). */
    bool enabled;
    struct nd_queue sq[ND_NQ], cq[ND_NQ];
    struct nd_held held[ND_MAX_HELD];
    unsigned nheld;
    struct nd_ns ns[ND_NS];
    unsigned max_ioq;
};

/* Start the device thread with CAP.TO = to_500ms and MQES + 1 = mqes_entries. */
void nvme_double_start(struct nvme_double *d, unsigned to_500ms, uint32_t mqes_entries);
void nvme_double_stop(struct nvme_double *d);

/* Namespace 1's RAM image (2048 * 512 bytes). */
uint8_t *nvme_double_ns_data(struct nvme_double *d, uint32_t nsid);

/* DMA ops over aligned_alloc, iova = vaddr; counts live allocations. */
extern const struct nvme_dma_ops nd_dma_ops;
extern _Atomic int nd_dma_live;

#endif
