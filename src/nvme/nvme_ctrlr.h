/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An NVMe controller: bring-up, Identify, I/O queue pairs, Abort, reset and
 * shutdown, over a BAR0 mapping and DMA memory that the caller provides (the
 * VFIO layer in the daemon, plain memory in the unit tests).
 *
 * Threading: init, identify_ns, set_num_io_queues, create/delete_io_qpair,
 * reset and shutdown belong to the control thread, with the affected I/O
 * qpairs idle.  nvme_ctrlr_abort, nvme_ctrlr_admin and nvme_ctrlr_is_fatal
 * may be called from any thread.  Admin commands are synchronous and
 * serialised by a mutex; they poll the admin CQ (no interrupts), sleeping a
 * few microseconds between looks, for at most admin_timeout_ms.
 *
 * The device is untrusted: registers and Identify data are range-checked,
 * strings sanitised, a device that reads all-ones or reports CFS is "fatal".
 */
#ifndef VUS_NVME_NVME_CTRLR_H
#define VUS_NVME_NVME_CTRLR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/nvme_qpair.h"
#include "nvme/nvme_spec.h"

struct nvme_dma_ops {
    /*
     * Zeroed memory the device may DMA to/from, aligned to 4 KiB (the
     * controller page size); *iova is the address the device uses.
     * 0 or -errno.  Control thread.
     */
    int (*alloc)(void *opaque, size_t len, void **vaddr, uint64_t *iova);
    void (*free)(void *opaque, void *vaddr, size_t len);
};

struct nvme_ctrlr_config {
    volatile void *bar0;
    size_t bar0_len;
    const struct nvme_dma_ops *dma;
    void *dma_opaque;
    unsigned admin_timeout_ms; /* 0: 5000 */
};

/* What the controller said about itself, readable by anyone after init. */
struct nvme_ctrlr_info {
    char serial[21]; /* trimmed, printable ASCII */
    char model[41];
    char firmware[9];
    uint16_t vid;
    uint16_t cntlid;
    uint32_t version;                        /* VS register, NVME_VS(major, minor, tertiary) */
    uint64_t mdts_bytes;                     /* largest transfer; 0 = no limit */
    uint32_t page_size;                      /* CC.MPS: PRP page size */
    bool vwc;                                /* a volatile write cache: Flush is meaningful */
    uint16_t oncs;                           /* NVME_ONCS_* */
    bool write_zeroes, dsm, verify, compare; /* from oncs */
    uint8_t sgls;               /* SGLS bits 1:0: 0 none, 1 any alignment, 2 dword aligned */
    uint32_t max_queue_entries; /* CAP.MQES + 1 */
    unsigned abort_limit;       /* ACL + 1 */
    bool have_nvm_limits;       /* CNS 06h answered: the three below are the device's */
    uint8_t dmrl;               /* DSM ranges per command, 0 = not reported */
    uint32_t dmrsl;             /* DSM blocks per range, 0 = not reported */
    uint64_t dmsl;              /* DSM blocks per command, 0 = not reported */
    uint8_t wzsl;               /* Write Zeroes size limit (MDTS units), 0 = none */
    uint32_t nn;                /* highest namespace id */
    uint64_t cap;               /* CAP register */
};

struct nvme_ns_info {
    uint32_t nsid;
    uint64_t nsze; /* size in blocks */
    uint64_t ncap;
    uint32_t block_size; /* from the FLBAS LBA format */
    uint8_t lbaf;        /* format index in use */
    uint8_t dlfeat;
    bool dealloc_reads_zeroes; /* DLFEAT: deallocated blocks read as zeroes */
    bool wz_deallocates;       /* DLFEAT: Write Zeroes may deallocate */
    bool thin;                 /* NSFEAT: thin provisioned */
    bool has_eui64, has_nguid;
    uint8_t eui64[8];
    uint8_t nguid[16];
};

/* Private; embed and leave alone. */
struct nvme_ctrlr {
    volatile uint8_t *bar;
    size_t bar_len;
    const struct nvme_dma_ops *dma;
    void *dma_opaque;
    unsigned admin_timeout_ms;
    unsigned dstrd;
    uint32_t cc; /* what we wrote, minus EN/SHN */
    pthread_mutex_t admin_lock;
    struct nvme_qpair admin;
    void *aq_mem;
    uint64_t aq_iova;
    size_t aq_len;
    void *scratch; /* one page for Identify and friends */
    uint64_t scratch_iova;
    uint64_t gen; /* bumped by every disable: I/O queues of older generations are gone */
    uint16_t wait_cid;
    bool wait_done;
    struct nvme_cpl wait_cpl;
    bool ready;
    struct nvme_ctrlr_info info;
};

/*
 * Disable (waiting for !RDY, bounded by CAP.TO), set up the admin queue,
 * enable with 4 KiB pages, 64-byte SQEs and 16-byte CQEs, wait for RDY,
 * Identify the controller (and CNS 06h where supported).  On failure err
 * says why, everything is released, and -errno is returned (-ENODEV: device
 * gone or failed, -ETIMEDOUT: never ready, -ENOTSUP: a controller we cannot
 * drive).
 */
int nvme_ctrlr_init(struct nvme_ctrlr *c, const struct nvme_ctrlr_config *cfg, char *err,
                    size_t errlen);

/* Identify a namespace; refuses inactive ones and formats with metadata, saying so in err. */
int nvme_ctrlr_identify_ns(struct nvme_ctrlr *c, uint32_t nsid, struct nvme_ns_info *out, char *err,
                           size_t errlen);

/* Set Features Number of Queues: ask for want SQ/CQ pairs; *granted is min(SQs, CQs) given. */
int nvme_ctrlr_set_num_io_queues(struct nvme_ctrlr *c, unsigned want, unsigned *granted);

/*
 * Create I/O CQ qid then SQ qid (physically contiguous, entries each).
 * msix_vector -1: no interrupts.  qp must be zeroed before its first
 * creation; after nvme_ctrlr_reset (or fail_all) the same qp is re-created
 * in place, reusing its memory when entries is unchanged.  0 or -errno.
 */
int nvme_ctrlr_create_io_qpair(struct nvme_ctrlr *c, struct nvme_qpair *qp, uint16_t qid,
                               uint32_t entries, int msix_vector);

/*
 * Delete SQ then CQ (skipped when the controller was reset since or is
 * dead), fail what is still outstanding with ABORT_SQ_DELETION, free the
 * memory.  If the live controller refuses the deletion the queues stay
 * allocated (the device may still write there) and -errno is returned:
 * reset the controller, then delete again.
 */
int nvme_ctrlr_delete_io_qpair(struct nvme_ctrlr *c, struct nvme_qpair *qp);

/* Abort command cid of SQ sqid: 0 aborted, -ENOENT not aborted, else -errno. Any thread. */
int nvme_ctrlr_abort(struct nvme_ctrlr *c, uint16_t sqid, uint16_t cid);

/*
 * Any synchronous admin command (cmd->cid is set).  0 on success status,
 * -EIO with *cpl holding the status, -ETIMEDOUT, -ENODEV.  Any thread.
 */
int nvme_ctrlr_admin(struct nvme_ctrlr *c, struct nvme_sqe *cmd, struct nvme_cpl *cpl);

/* CSTS.CFS set, or CSTS reads all-ones (surprise removal).  Any thread. */
bool nvme_ctrlr_is_fatal(struct nvme_ctrlr *c);

/*
 * Disable and re-initialise the admin queue; every I/O queue is gone from
 * the controller: fail_all and re-create the qpairs (and ask for the number
 * of queues again).  Admin commands that were outstanding complete with
 * ABORT_SQ_DELETION.
 */
int nvme_ctrlr_reset(struct nvme_ctrlr *c, char *err, size_t errlen);

/* CC.SHN normal, wait for SHST complete (bounded), disable, free admin memory. Delete I/O qpairs
 * first. */
void nvme_ctrlr_shutdown(struct nvme_ctrlr *c);

#endif
