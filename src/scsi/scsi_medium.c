/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Removable medium (--lun removable=on): PREVENT ALLOW MEDIUM REMOVAL and
 * START STOP UNIT with LOEJ.  The "medium" is the backend itself; ejecting
 * it only hides it, so every command that touches it is NOT READY, MEDIUM
 * NOT PRESENT until a load brings it back unchanged.
 *
 * State is per scsi_lun, that is per controller, which is one I_T nexus:
 * the prevention of one initiator does not lock out another controller
 * sharing the bdev, and a LUN reset clears it (SPC-4 6.13: a reset or an
 * I_T nexus loss ends every prevention).
 */
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"

#define SSU_IMMED    0x01 /* byte 1 */
#define SSU_START    0x01 /* byte 4 */
#define SSU_LOEJ     0x02
#define SSU_NO_FLUSH 0x04
#define PA_PREVENT   0x03 /* byte 4: 00b allow, 01b prevent; 1xb is for changers */

bool scsi_medium_needed(const struct scsi_cmd *cmd)
{
    switch (cmd->usage[0]) {
    case SCSI_OP_START_STOP_UNIT:
    case SCSI_OP_PREVENT_ALLOW:
    case SCSI_OP_MODE_SENSE_6:
    case SCSI_OP_MODE_SENSE_10:
    case SCSI_OP_MODE_SELECT_6:
    case SCSI_OP_MODE_SELECT_10:
    case SCSI_OP_MAINTENANCE_IN:
        return false;
    default:
        /* INQUIRY, REPORT LUNS and REQUEST SENSE describe the unit, not its medium. */
        return !(cmd->flags & SCSI_CMD_UA_EXEMPT);
    }
}

void scsi_medium_prevent_allow(struct scsi_task *task)
{
    uint8_t prevent = task->cdb[4] & PA_PREVENT;

    /* 1xb locks a medium changer's magazine: there is none. */
    if (prevent > 1) {
        scsi_task_invalid_field(task, 4, 1);
        return;
    }
    /* A fixed disk has nothing to lock: accepting keeps initiators quiet, as SBC-3 allows. */
    if (task->lun->removable)
        atomic_store(&task->lun->prevent, prevent == 1);
    scsi_task_complete(task);
}

/*
 * Removal is prevented while any nexus on the unit prevents it (SPC-4 6.13),
 * not only the one asking: the unit's members, walked under its lock.
 */
static bool removal_prevented(const struct scsi_lun *lun)
{
    struct scsi_unit *u = lun->unit;
    bool prevented = false;

    if (u == NULL)
        return atomic_load(&lun->prevent);
    pthread_mutex_lock(&u->mu);
    for (const struct scsi_lun *m = u->members; m != NULL && !prevented; m = m->unit_next)
        prevented = atomic_load(&m->prevent);
    pthread_mutex_unlock(&u->mu);
    return prevented;
}

/* The medium is back: the other nexuses learn it from a unit attention (28h/00h). */
static void medium_loaded(struct scsi_lun *lun)
{
    struct scsi_unit *u = lun->unit;

    atomic_store(&u->medium_absent, false);
    pthread_mutex_lock(&u->mu);
    for (struct scsi_lun *m = u->members; m != NULL; m = m->unit_next)
        if (m != lun)
            atomic_fetch_or(&m->ua_pending, SCSI_UA_MEDIUM_CHANGED);
    pthread_mutex_unlock(&u->mu);
}

static bool eject_after_flush(struct scsi_task *task, int result)
{
    if (result < 0) {
        scsi_task_set_errno(task, result, true);
    } else {
        atomic_store(&task->lun->unit->medium_absent, true);
    }
    scsi_task_complete(task);
    return false;
}

void scsi_spc_start_stop(struct scsi_task *task)
{
    struct scsi_lun *lun = task->lun;
    const uint8_t *cdb = task->cdb;

    /*
     * A POWER CONDITION other than START_VALID(0h) makes START and LOEJ
     * ignored (SBC-3 5.25); there are no power states to emulate, so it is
     * accepted as done.  START alone spins nothing up or down.
     */
    if ((cdb[4] >> 4) != 0 || !(cdb[4] & SSU_LOEJ) || !lun->removable) {
        scsi_task_complete(task);
        return;
    }
    /* Loading is refused too while prevented, as libiscsi PreventAllow.Eject expects. */
    if (removal_prevented(lun)) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_REMOVAL_PREVENTED,
                       SCSI_ASCQ_REMOVAL_PREVENTED);
        return;
    }
    if (cdb[4] & SSU_START) {
        /*
         * The medium comes back as it left.  No NOT READY TO READY CHANGE
         * for this nexus, which asked for the load itself (libiscsi's
         * StartStopUnit.Simple expects GOOD at once); the others get one.
         */
        medium_loaded(lun);
        scsi_task_complete(task);
        return;
    }
    /* An eject without NO_FLUSH first makes what the cache holds durable (SBC-3 5.25). */
    if (!(cdb[4] & SSU_NO_FLUSH) && lun->bdev->volatile_cache &&
        !atomic_load(&lun->unit->medium_absent)) {
        memset(&task->bio, 0, sizeof(task->bio));
        task->bio.type = BDEV_IO_FLUSH;
        scsi_task_submit(task, eject_after_flush);
        return;
    }
    atomic_store(&lun->unit->medium_absent, true);
    scsi_task_complete(task);
}
