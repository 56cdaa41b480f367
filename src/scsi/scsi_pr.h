/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations (SPC-4 5.13 persistent reservations, and the SPC-2 RESERVE /
 * RELEASE kind) private to the SCSI layer.
 *
 * A reservation belongs to a logical unit, that is to the backing device:
 * several controllers may attach the same struct bdev, each through its own
 * struct scsi_lun, and each controller is one I_T nexus.  So the state lives
 * in the struct scsi_unit of the bdev (scsi_unit.h), and every scsi_lun
 * attached to it is a member.
 *
 * Every change happens under the unit's mu (PR commands are rare).  The result
 * for the data path is published per member as lun->pr_access, which
 * scsi_task_execute reads with one atomic load: SCSI_PR_ACCESS_ALL, the usual
 * case, costs nothing more.
 *
 * Registrations are keyed by the initiator port (lun->pr_port, the SAS
 * address of the controller's TransportID), not by the scsi_lun: they
 * survive the loss of the I_T nexus and, with APTPL, a restart of the daemon.
 */
#ifndef VUS_SCSI_SCSI_PR_H
#define VUS_SCSI_SCSI_PR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi/scsi.h"

/* What lun->pr_access lets that I_T nexus do (computed under the unit's mu). */
#define SCSI_PR_ACCESS_ALL  0 /* no reservation restricts it */
#define SCSI_PR_ACCESS_WE   1 /* a write exclusive reservation it does not hold: no writes */
#define SCSI_PR_ACCESS_EA   2 /* an exclusive access reservation it does not hold */
#define SCSI_PR_ACCESS_SPC2 3 /* RESERVE(6/10) held by another I_T nexus */

/* PERSISTENT RESERVE OUT service actions. */
#define SCSI_PR_REGISTER        0x00
#define SCSI_PR_RESERVE         0x01
#define SCSI_PR_RELEASE         0x02
#define SCSI_PR_CLEAR           0x03
#define SCSI_PR_PREEMPT         0x04
#define SCSI_PR_PREEMPT_ABORT   0x05
#define SCSI_PR_REGISTER_IGNORE 0x06
#define SCSI_PR_REGISTER_MOVE   0x07
#define SCSI_PR_REPLACE_LOST    0x08
/* PERSISTENT RESERVE IN service actions. */
#define SCSI_PR_READ_KEYS        0x00
#define SCSI_PR_READ_RESERVATION 0x01
#define SCSI_PR_REPORT_CAPS      0x02
#define SCSI_PR_READ_FULL_STATUS 0x03

/* Reservation types. */
#define SCSI_PR_WE    0x1
#define SCSI_PR_EA    0x3
#define SCSI_PR_WE_RO 0x5
#define SCSI_PR_EA_RO 0x6
#define SCSI_PR_WE_AR 0x7
#define SCSI_PR_EA_AR 0x8

/* The parameter list of every service action but REGISTER AND MOVE (SPC-4 6.15.3). */
#define SCSI_PR_OUT_LEN 24
/* A SAS TransportID (SPC-4 7.6.4.7): the only kind a nexus of ours has. */
#define SCSI_PR_TID_LEN   24
#define SCSI_PR_PROTO_SAS 0x6

/*
 * Registrations one logical unit keeps: every controller attaching the
 * device is one, and the state is copied whole around each PR OUT (to undo
 * it when persisting fails), so a small fixed array.
 */
#define SCSI_PR_MAX_REGS 32

struct scsi_pr_reg {
    uint64_t port; /* initiator port (SAS address) */
    uint64_t key;
    bool all_tg_pt;
};

/* Everything a PR OUT changes, and what APTPL persists. */
struct scsi_pr_state {
    uint32_t generation;
    unsigned nregs;
    struct scsi_pr_reg regs[SCSI_PR_MAX_REGS];
    bool reserved;
    uint8_t type;         /* SCSI_PR_* while reserved */
    uint64_t holder_port; /* while reserved, but for the all-registrants types */
    bool aptpl;           /* persist through power loss (the last REGISTER's APTPL) */
    bool spc2_reserved;   /* RESERVE(6/10), never persisted */
    uint64_t spc2_port;
};

/* Part of a struct scsi_unit, whose mu guards it and whose members it applies to. */
struct scsi_pr {
    char *file; /* APTPL state file; NULL: APTPL=1 is refused */
    struct scsi_pr_state st;
};

/* The slow path of the conflict check: lun's access forbids this command? */
bool scsi_pr_conflict_slow(unsigned access, const uint8_t *cdb);

/* RESERVATION CONFLICT for task's command from its I_T nexus (checked before dispatch). */
static inline bool scsi_pr_conflict(const struct scsi_task *task)
{
    unsigned access = atomic_load_explicit(&task->lun->pr_access, memory_order_acquire);

    return access != SCSI_PR_ACCESS_ALL && scsi_pr_conflict_slow(access, task->cdb);
}

/*
 * The reservations of a new logical unit (scsi_unit.c), restoring its APTPL
 * state from state_file (NULL: APTPL is refused).  0 or -errno with a reason.
 */
int scsi_pr_init(struct scsi_pr *pr, const char *state_file, char *err, size_t errlen);
void scsi_pr_fini(struct scsi_pr *pr);
/*
 * lun's nexus is leaving the unit (with the unit's mu held, before it is
 * unlinked): an SPC-2 reservation it holds does not outlive it.
 */
void scsi_pr_member_leaving(struct scsi_pr *pr, struct scsi_lun *lun);

/*
 * Drop the RESERVE(6/10) reservation: the one lun's nexus holds (I_T nexus
 * loss), or whoever holds it (any_holder: logical unit reset).
 */
void scsi_pr_release_spc2(struct scsi_lun *lun, bool any_holder);

/* Recompute every member's pr_access from pr->st.  With the unit's mu held. */
void scsi_pr_publish(struct scsi_pr *pr);
/* Set unit attention bits on every member whose initiator port is port.  Unit's mu held. */
void scsi_pr_ua(struct scsi_pr *pr, uint64_t port, unsigned bits);
/* Have the transport abort the tasks of every member whose port is port.  Unit's mu held. */
void scsi_pr_abort_tasks(struct scsi_pr *pr, uint64_t port);
/* The registration of port, or NULL. */
struct scsi_pr_reg *scsi_pr_find(struct scsi_pr_state *st, uint64_t port);
/* port holds the persistent reservation (any registrant for the all-registrants types). */
bool scsi_pr_is_holder(const struct scsi_pr_state *st, uint64_t port);
static inline bool scsi_pr_type_all_reg(uint8_t type)
{
    return type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
}
static inline bool scsi_pr_type_valid(uint8_t type)
{
    return type == SCSI_PR_WE || type == SCSI_PR_EA || type == SCSI_PR_WE_RO ||
           type == SCSI_PR_EA_RO || type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
}
/* The SAS TransportID of port into tid (SCSI_PR_TID_LEN bytes). */
void scsi_pr_tid(uint64_t port, uint8_t *tid);

/* APTPL state file (scsi_pr_file.c): written atomically; 0 or -errno. */
int scsi_pr_file_save(const char *path, const struct scsi_pr_state *st);
/* Remove it (APTPL turned off); a missing file is fine. */
int scsi_pr_file_remove(const char *path);
/* Load into st (zeroed first); a missing file is an empty state.  0 or -errno with a reason. */
int scsi_pr_file_load(const char *path, struct scsi_pr_state *st, char *err, size_t errlen);

/* Handlers. */
void scsi_pr_in(struct scsi_task *task);
void scsi_pr_out(struct scsi_task *task);
void scsi_pr_spc2_reserve(struct scsi_task *task);
void scsi_pr_spc2_release(struct scsi_task *task);

#endif
