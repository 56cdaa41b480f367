/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sense data and the mapping from backend errors to SCSI status.
 *
 * Fixed format (response code 70h) unless the initiator set D_SENSE in the
 * control mode page, then descriptor format (72h, SPC-4 4.5.2): a header
 * with key/ASC/ASCQ and the INFORMATION and sense-key specific fields as
 * descriptors appended when a command sets them.  Descriptor format is the
 * only one that can carry a 64-bit INFORMATION (an LBA past 2^32).  Cutting
 * the data to the transport's sense buffer is the transport's job.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"

size_t scsi_sense_build(uint8_t *buf, bool desc, uint8_t key, uint8_t asc, uint8_t ascq)
{
    if (desc) {
        memset(buf, 0, SCSI_SENSE_DESC_LEN);
        buf[0] = SCSI_SENSE_DESC_CURRENT;
        buf[1] = key & 0x0f;
        buf[2] = asc;
        buf[3] = ascq;
        /* buf[7], the additional sense length, grows with each descriptor. */
        return SCSI_SENSE_DESC_LEN;
    }
    memset(buf, 0, SCSI_SENSE_FIXED_LEN);
    buf[0] = SCSI_SENSE_FIXED_CURRENT;
    buf[2] = key & 0x0f;
    buf[7] = SCSI_SENSE_FIXED_LEN - 8; /* additional sense length */
    buf[12] = asc;
    buf[13] = ascq;
    return SCSI_SENSE_FIXED_LEN;
}

void scsi_task_set_sense(struct scsi_task *task, uint8_t key, uint8_t asc, uint8_t ascq)
{
    /* The LUN 0 stand-in has no mode pages: its d_sense stays false. */
    bool desc = task->lun != NULL && atomic_load(&task->lun->d_sense);

    task->status = SCSI_STATUS_CHECK_CONDITION;
    task->sense_len = (unsigned)scsi_sense_build(task->sense, desc, key, asc, ascq);
}

static bool sense_is_desc(const struct scsi_task *task)
{
    return task->sense_len >= SCSI_SENSE_DESC_LEN &&
           (task->sense[0] & 0x7f) == SCSI_SENSE_DESC_CURRENT;
}

/* Room for a descriptor of len bytes after the ones already there, or NULL. */
static uint8_t *sense_desc_add(struct scsi_task *task, uint8_t type, unsigned len)
{
    uint8_t *d;

    if (task->sense_len + len > SCSI_SENSE_MAX)
        return NULL;
    d = &task->sense[task->sense_len];
    memset(d, 0, len);
    d[0] = type;
    d[1] = (uint8_t)(len - 2); /* additional length */
    task->sense_len += len;
    task->sense[7] = (uint8_t)(task->sense_len - 8);
    return d;
}

void scsi_sense_set_info(struct scsi_task *task, uint64_t info)
{
    if (sense_is_desc(task)) {
        uint8_t *d = sense_desc_add(task, SCSI_SENSE_DESC_INFO, 12);

        if (d != NULL) {
            d[2] = SCSI_SENSE_VALID;
            put_be64(&d[4], info);
        }
        return;
    }
    /* The fixed format has 4 bytes of INFORMATION: larger values cannot be reported. */
    if (task->sense_len < SCSI_SENSE_FIXED_LEN || info > UINT32_MAX)
        return;
    task->sense[0] |= SCSI_SENSE_VALID;
    put_be32(&task->sense[3], (uint32_t)info);
}

/*
 * The three bytes of SENSE KEY SPECIFIC (SPC-4 4.5.2.4): a descriptor of
 * their own in descriptor format, bytes 15..17 in fixed format.  NULL when
 * the sense data has no room.
 */
static uint8_t *sense_key_specific(struct scsi_task *task)
{
    if (sense_is_desc(task)) {
        uint8_t *d = sense_desc_add(task, SCSI_SENSE_DESC_SKS, 8);

        return d != NULL ? &d[4] : NULL;
    }
    return task->sense_len >= SCSI_SENSE_FIXED_LEN ? &task->sense[15] : NULL;
}

void scsi_sense_set_field(struct scsi_task *task, bool in_cdb, unsigned byte, int bit)
{
    /* SKSV, C/D, BPV + BIT POINTER, then FIELD POINTER (SPC-4 4.5.2.4.2). */
    uint8_t sks = (uint8_t)(0x80 | (in_cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | (bit & 7) : 0));
    uint8_t *p = sense_key_specific(task);

    if (p == NULL)
        return;
    p[0] = sks;
    put_be16(&p[1], (uint16_t)byte);
}

void scsi_sense_set_progress(struct scsi_task *task, uint16_t progress)
{
    uint8_t *p = sense_key_specific(task);

    if (p == NULL)
        return;
    p[0] = 0x80; /* SKSV; PROGRESS INDICATION (SPC-4 4.5.2.4.4) */
    put_be16(&p[1], progress);
}

/*
 * The one place that decides what a backend failure looks like to the
 * initiator.  Transient resource shortage is BUSY so that the initiator
 * retries instead of failing the I/O up to the file system.
 */
static const struct {
    int err;
    uint8_t status; /* BUSY, or CHECK CONDITION with the sense below */
    uint8_t key;
    uint8_t asc_read, ascq_read;
    uint8_t asc_write, ascq_write;
} errno_sense[] = {
    { EIO, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ, 0,
      SCSI_ASC_WRITE_ERROR, 0 },
    { ENOSPC, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED,
      SCSI_ASCQ_SPACE_ALLOC_FAILED, SCSI_ASC_WRITE_PROTECTED, SCSI_ASCQ_SPACE_ALLOC_FAILED },
    { EROFS, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0,
      SCSI_ASC_WRITE_PROTECTED, 0 },
    { EPERM, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0,
      SCSI_ASC_WRITE_PROTECTED, 0 },
    { EACCES, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0,
      SCSI_ASC_WRITE_PROTECTED, 0 },
    { EOPNOTSUPP, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_ILLEGAL_REQUEST,
      SCSI_ASC_INVALID_FIELD_IN_CDB, 0, SCSI_ASC_INVALID_FIELD_IN_CDB, 0 },
    { ENOMEM, SCSI_STATUS_BUSY, 0, 0, 0, 0, 0 },
    { EAGAIN, SCSI_STATUS_BUSY, 0, 0, 0, 0, 0 },
    /* Anything else is our failure, not the medium's: internal target failure. */
    { 0, SCSI_STATUS_CHECK_CONDITION, SCSI_SK_HARDWARE_ERROR, SCSI_ASC_INTERNAL_FAILURE, 0,
      SCSI_ASC_INTERNAL_FAILURE, 0 },
};

void scsi_task_set_errno(struct scsi_task *task, int err, bool write)
{
    size_t i, last = sizeof(errno_sense) / sizeof(errno_sense[0]) - 1;

    if (err < 0)
        err = -err;
    /* A device that reported its own error knows best what the initiator should see. */
    if (err == EREMOTEIO && task->bio.sense != 0) {
        scsi_task_set_sense(task, (uint8_t)(task->bio.sense >> 16), (uint8_t)(task->bio.sense >> 8),
                            (uint8_t)task->bio.sense);
        return;
    }
    for (i = 0; i < last; i++) {
        if (errno_sense[i].err == err)
            break;
    }
    if (errno_sense[i].status == SCSI_STATUS_BUSY) {
        task->status = SCSI_STATUS_BUSY;
        task->sense_len = 0;
        return;
    }
    if (write)
        scsi_task_set_sense(task, errno_sense[i].key, errno_sense[i].asc_write,
                            errno_sense[i].ascq_write);
    else
        scsi_task_set_sense(task, errno_sense[i].key, errno_sense[i].asc_read,
                            errno_sense[i].ascq_read);
}

/* In the order they are reported when several are pending. */
static const struct {
    unsigned bit;
    uint8_t asc, ascq;
} ua_sense[] = {
    { SCSI_UA_POWER_ON_RESET, SCSI_ASC_POWER_ON_RESET, 0 },
    { SCSI_UA_CAPACITY_CHANGED, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_CAPACITY_CHANGED },
    { SCSI_UA_REPORTED_LUNS, SCSI_ASC_TARGET_CHANGED, SCSI_ASCQ_REPORTED_LUNS },
    { SCSI_UA_REG_PREEMPTED, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_REG_PREEMPTED },
    { SCSI_UA_RES_PREEMPTED, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_RES_PREEMPTED },
    { SCSI_UA_RES_RELEASED, SCSI_ASC_PARAMETERS_CHANGED, SCSI_ASCQ_RES_RELEASED },
    { SCSI_UA_MEDIUM_CHANGED, SCSI_ASC_MEDIUM_CHANGED, 0 },
};

bool scsi_ua_take(struct scsi_lun *lun, uint8_t *asc, uint8_t *ascq)
{
    unsigned cur = atomic_load(&lun->ua_pending);

    /*
     * Several workers may race for the same condition; the compare-exchange
     * makes exactly one of them report it.
     */
    for (;;) {
        size_t i;

        for (i = 0; i < sizeof(ua_sense) / sizeof(ua_sense[0]); i++) {
            if (cur & ua_sense[i].bit)
                break;
        }
        if (i == sizeof(ua_sense) / sizeof(ua_sense[0])) {
            /* Unknown bits cannot be reported: drop them rather than loop. */
            if (cur != 0 && !atomic_compare_exchange_weak(&lun->ua_pending, &cur, 0))
                continue;
            return false;
        }
        if (atomic_compare_exchange_weak(&lun->ua_pending, &cur, cur & ~ua_sense[i].bit)) {
            *asc = ua_sense[i].asc;
            *ascq = ua_sense[i].ascq;
            return true;
        }
    }
}
