/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logical unit behind one backing device.  Several controllers may
 * attach the same struct bdev (a named block device), each through its own
 * struct scsi_lun: each controller is one I_T nexus, and they all address
 * one logical unit.  What must hold across nexuses lives here, found by bdev
 * in a small registry and counted by the scsi_luns attached to it:
 *
 *   - the LBA range lock, so that COMPARE AND WRITE and WRITE ATOMIC are
 *     atomic against writes from every nexus, not only from their own;
 *   - the reservations (scsi_pr.h);
 *   - SANITIZE, which erases the medium for every nexus, and makes every
 *     nexus's commands NOT READY while it runs.
 *
 * Threading: attach and detach run on the main thread (or a controller's
 * teardown) while the LUN is not published; the registry has its own lock.
 */
#ifndef VUS_SCSI_SCSI_UNIT_H
#define VUS_SCSI_SCSI_UNIT_H

#include <stddef.h>

#include "scsi/scsi.h"
#include "scsi/scsi_pr.h"

struct scsi_sanitize;

struct scsi_unit {
    struct scsi_unit *next; /* registry */
    const struct bdev *bdev;
    /*
     * Guards the members and the reservation state: both change rarely
     * (attach, detach, PR commands), and what walks the members (unit
     * attentions for other nexuses, removal prevention) is as rare.
     */
    pthread_mutex_t mu;
    /* Every scsi_lun attached, through lun->unit_next; changes under the registry's lock too. */
    struct scsi_lun *members;
    struct scsi_range_lock rlock;
    struct scsi_pr pr;
    /*
     * SANITIZE (scsi_sanitize.c): while sanitizing, commands other than
     * INQUIRY, REPORT LUNS and REQUEST SENSE are NOT READY, SANITIZE IN
     * PROGRESS, with sanitize_progress (of 65536) in the sense data.  A
     * failed sanitize leaves the unit in failure mode until EXIT FAILURE
     * MODE or a successful one.  Read by every worker without a lock.
     */
    _Atomic bool sanitizing;
    _Atomic uint16_t sanitize_progress;
    _Atomic bool sanitize_failed;
    struct scsi_sanitize *sanitize; /* the one running, owned by it */
    /*
     * Removable LUNs (scsi_medium.c): ejected through any nexus, the medium
     * is gone for all of them; every medium access is NOT READY until a load.
     */
    _Atomic bool medium_absent;
};

/* The unit whose reservations pr are. */
static inline struct scsi_unit *scsi_unit_of_pr(struct scsi_pr *pr)
{
    return (struct scsi_unit *)((char *)pr - offsetof(struct scsi_unit, pr));
}

/* lun is removable and its unit's medium is out. */
static inline bool scsi_unit_medium_absent(const struct scsi_lun *lun)
{
    return lun->removable && lun->unit != NULL && atomic_load(&lun->unit->medium_absent);
}

/* lun's unit is sanitizing (false for the LUN 0 stand-in, which has none). */
static inline bool scsi_unit_sanitizing(const struct scsi_lun *lun)
{
    return lun->unit != NULL && atomic_load(&lun->unit->sanitizing);
}

/*
 * Join lun (lun->bdev set) to the unit of its bdev, creating it on the
 * first attach (and restoring its APTPL reservations from state_file, NULL
 * for none): sets lun->unit, lun->rl and lun->pr.  0 or -errno with a
 * reason in err; on failure lun is left unattached.
 */
int scsi_unit_attach(struct scsi_lun *lun, const char *state_file, char *err, size_t errlen);
/* Leave it; the last scsi_lun to leave frees it.  A no-op for an unattached lun. */
void scsi_unit_detach(struct scsi_lun *lun);

#endif
