/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Task management between the control thread and the workers, without
 * either waiting for the other.
 *
 * Every request slot publishes a state word: whether it holds a task, a
 * generation that changes with every task, and one bit per task management
 * function (TMF) that aborts that task.  The control thread marks a victim
 * with a compare-and-swap on the word it read, so a slot that moved on to
 * another task in the meantime cannot be marked by mistake.  The worker
 * takes the bits when the task completes, answers it ABORTED if any was set,
 * and only after the response is on the used ring counts each TMF's victims
 * down.  The control thread answers a TMF when its count reaches zero: the
 * spec wants every affected task's response out before the TMF's.
 *
 * Threading: vscsi_tmf_start / vscsi_tmf_poll and the tmf[] bookkeeping are
 * the control thread's; vscsi_slot_* and vscsi_tmf_victims_done run on the
 * worker that owns the slot.  remaining and the state words are the only
 * shared fields.
 */
#ifndef VUS_VIRTIO_SCSI_VSCSI_TMF_H
#define VUS_VIRTIO_SCSI_VSCSI_TMF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi/scsi.h"

/* TMFs that can wait for victims at once; more stay on the control ring until one ends. */
#define VSCSI_TMF_MAX 32

/* Slot state word. */
#define VSCSI_SLOT_ACTIVE    (1ull << 63)
#define VSCSI_SLOT_GEN_SHIFT 32
#define VSCSI_SLOT_GEN_MASK  0x7fffffffull
#define VSCSI_SLOT_TMF_MASK  0xffffffffull

_Static_assert(VSCSI_TMF_MAX <= 32, "one state bit per TMF");

struct vscsi_tmf {
    /* Victims whose response is not on the used ring yet (+1 while marking). */
    atomic_uint remaining;
    /* Control thread only: */
    bool busy;     /* in use until remaining reaches 0, even once answered */
    bool answered; /* response pushed: done, or given up on at the deadline */
    uint16_t head; /* the control queue request to answer */
    uint32_t subtype;
    struct scsi_lun *lun;
    uint64_t deadline_ns;
};

/* ABORT TASK SETs another nexus asked for that can wait to start at once. */
#define VSCSI_ABORT_REQS 8

struct vscsi_tmf_set {
    struct vscsi_tmf tmf[VSCSI_TMF_MAX];
    int notify_fd; /* eventfd: a TMF's last victim completed; -1 in tests that poll */
    /*
     * ABORT TASK SET for a LUN on behalf of another nexus (PREEMPT AND
     * ABORT), with no control request to answer: (target << 16 | lun) + 1,
     * 0 when free.  By number, not pointer: the LUN may be detached before
     * the control thread gets to it.  vscsi_tmf_request_abort fills one
     * from any thread; vscsi_ctrl_poll_tmfs empties them.
     */
    _Atomic uint32_t abort_req[VSCSI_ABORT_REQS];
};

/* Worker: the slot now holds a new task (its lun and tag are published before). */
static inline void vscsi_slot_activate(_Atomic uint64_t *state)
{
    uint64_t s = atomic_load_explicit(state, memory_order_relaxed);

    atomic_store_explicit(state, VSCSI_SLOT_ACTIVE | (s & (VSCSI_SLOT_GEN_MASK << 32)),
                          memory_order_release);
}

/*
 * Worker: the slot's task completes.  Returns the TMF bits that aborted it
 * (0: none); no TMF can mark the slot after this.
 */
static inline uint32_t vscsi_slot_release(_Atomic uint64_t *state)
{
    uint64_t s = atomic_load_explicit(state, memory_order_relaxed);
    uint64_t gen = ((s >> VSCSI_SLOT_GEN_SHIFT) + 1) & VSCSI_SLOT_GEN_MASK;

    s = atomic_exchange_explicit(state, gen << VSCSI_SLOT_GEN_SHIFT, memory_order_acq_rel);
    return (uint32_t)(s & VSCSI_SLOT_TMF_MASK);
}

/*
 * Worker, after the aborted task's response is on the used ring: count the
 * TMFs in bits down, waking the control thread for each that has no victim
 * left.
 */
void vscsi_tmf_victims_done(struct vscsi_tmf_set *set, uint32_t bits);

/*
 * Any thread: abort the tasks of this controller on LUN target:lun as an
 * ABORT TASK SET would, without a control request (another nexus preempted
 * this one with PREEMPT AND ABORT).  Only records the request and wakes the
 * control thread through notify_fd.  False when every request slot is taken.
 */
bool vscsi_tmf_request_abort(struct vscsi_tmf_set *set, unsigned target, unsigned lun);

/* Control thread: whether a TMF in progress still refers to lun. */
bool vscsi_tmf_refers_to(const struct vscsi_tmf_set *set, const struct scsi_lun *lun);

#endif
