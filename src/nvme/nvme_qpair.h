/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One NVMe submission/completion queue pair (SQ n with its own CQ n).
 *
 * Threading: a qpair belongs to ONE thread, which alone calls submit,
 * process, outstanding, check_timeouts and fail_all; there are no locks.
 * nvme_ctrlr creates, re-creates and deletes it while that thread leaves it
 * alone (the admin qpair is used under the controller's admin mutex).
 *
 * The device is untrusted: a completion with an unknown or idle CID, another
 * queue's SQ id or an out-of-range SQ head is logged (rate-limited) and
 * dropped, never acted on.  Submit and complete never allocate.
 */
#ifndef VUS_NVME_NVME_QPAIR_H
#define VUS_NVME_NVME_QPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/nvme_spec.h"

/*
 * Runs on the qpair's thread, from nvme_qpair_process (device completion)
 * or nvme_qpair_fail_all (synthetic completion: phase 0, sqhd 0, dw0 0).
 * cpl is valid during the call only.  The command's CID is free again, so
 * the callback may submit; it must not call nvme_qpair_process.
 */
typedef void (*nvme_cpl_cb)(void *ctx, const struct nvme_cpl *cpl);

struct nvme_qpair_slot {
    nvme_cpl_cb cb;
    void *ctx;
    uint64_t first_seen_ns; /* 0: no timeout check has seen it yet */
    uint16_t next_free;
    uint8_t busy;
    uint8_t timed_out;
};

/* Fields private to nvme_qpair.c and nvme_ctrlr.c; embed, do not touch. */
struct nvme_qpair {
    uint16_t qid;
    uint32_t entries; /* SQ and CQ size */
    struct nvme_sqe *sq;
    volatile struct nvme_cpl *cq;
    uint64_t sq_iova, cq_iova;
    volatile uint32_t *sq_tdbl, *cq_hdbl;
    uint32_t sq_tail, sq_head, cq_head;
    uint16_t phase;
    uint16_t free_head;
    bool failed;
    unsigned outstanding;
    unsigned nslots; /* entries - 1: a full SQ keeps one slot empty */
    struct nvme_qpair_slot *slots;
    /* Owned by nvme_ctrlr: */
    size_t sq_len, cq_len;
    uint64_t ctrlr_gen; /* controller generation the queues were created in */
    int msix_vector;
    bool live; /* created on the controller (in generation ctrlr_gen) */
};

/* 0; -EAGAIN: no free CID (retry after a process); -ENODEV: failed or not created. Sets cmd->cid.
 */
int nvme_qpair_submit(struct nvme_qpair *qp, struct nvme_sqe *cmd, nvme_cpl_cb cb, void *ctx);

/*
 * Reap up to max completions (0: up to one queue's worth, so a device
 * rewriting CQEs cannot keep us here), run their callbacks, then ring the
 * CQ head doorbell once.  Returns the number of CQEs consumed, bogus ones
 * included.
 */
unsigned nvme_qpair_process(struct nvme_qpair *qp, unsigned max);

unsigned nvme_qpair_outstanding(const struct nvme_qpair *qp);

/*
 * Report commands outstanding longer than timeout_ns, once each.  Commands
 * carry no submission time (a clock read per I/O costs a syscall on some
 * hosts): a command's age counts from the first check that saw it, so a
 * caller checking every P ns learns of a timeout between timeout_ns and
 * timeout_ns + P after submission.  on_timeout may submit on other qpairs,
 * call nvme_ctrlr_abort, or nvme_qpair_fail_all on this one.
 */
void nvme_qpair_check_timeouts(struct nvme_qpair *qp, uint64_t now_ns, uint64_t timeout_ns,
                               void (*on_timeout)(struct nvme_qpair *qp, uint16_t cid,
                                                  void *cmd_ctx, void *arg),
                               void *arg);

/*
 * The controller is dead or being reset: complete every outstanding command
 * with status (a status field, NVME_SF(sct, sc) [| NVME_SF_DNR]) and refuse
 * new ones until the qpair is reset or re-created.  Callbacks that submit get
 * -ENODEV.
 */
void nvme_qpair_fail_all(struct nvme_qpair *qp, uint16_t status);

bool nvme_qpair_failed(const struct nvme_qpair *qp);

/* For nvme_ctrlr (control thread, qpair idle): */

/* Attach queue memory and doorbells; allocates the CID table.  0 or -errno. */
int nvme_qpair_init(struct nvme_qpair *qp, uint16_t qid, uint32_t entries, void *sq,
                    uint64_t sq_iova, void *cq, uint64_t cq_iova, volatile uint32_t *sq_tdbl,
                    volatile uint32_t *cq_hdbl);
/* Back to the freshly created state (rings zeroed, phase 1); fails outstanding commands first. */
void nvme_qpair_reset(struct nvme_qpair *qp);
/* Free the CID table; queue memory is the caller's. */
void nvme_qpair_fini(struct nvme_qpair *qp);

#endif
