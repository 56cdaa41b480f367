/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reservations shared by the LUNs of one backing device (a scsi_unit's):
 * what they let each member do, the conflict check every command goes through, PERSISTENT
 * RESERVE IN, and the SPC-2 RESERVE/RELEASE(6/10).  PERSISTENT RESERVE OUT
 * is scsi_pr_out.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_unit.h"

/* Same company ID as the LUN WWNs (scsi_lun.c): locally administered, ours. */
#define PR_COMPANY_ID 0x025653ull

uint64_t scsi_initiator_port(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *p = name; *p != '\0'; p++) {
        h ^= (uint8_t)*p;
        h *= 0x100000001b3ull;
    }
    return 5ull << 60 | PR_COMPANY_ID << 36 | (h & 0xfffffffffull);
}

void scsi_pr_tid(uint64_t port, uint8_t *tid)
{
    memset(tid, 0, SCSI_PR_TID_LEN);
    tid[0] = SCSI_PR_PROTO_SAS; /* FORMAT CODE 00b */
    put_be64(&tid[4], port);
}

struct scsi_pr_reg *scsi_pr_find(struct scsi_pr_state *st, uint64_t port)
{
    for (unsigned i = 0; i < st->nregs; i++)
        if (st->regs[i].port == port)
            return &st->regs[i];
    return NULL;
}

bool scsi_pr_is_holder(const struct scsi_pr_state *st, uint64_t port)
{
    bool registered = scsi_pr_find((struct scsi_pr_state *)st, port) != NULL;

    if (!st->reserved || !registered)
        return false;
    return scsi_pr_type_all_reg(st->type) || st->holder_port == port;
}

static bool type_write_excl(uint8_t type)
{
    return type == SCSI_PR_WE || type == SCSI_PR_WE_RO || type == SCSI_PR_WE_AR;
}

static unsigned access_of(const struct scsi_pr_state *st, uint64_t port)
{
    if (st->spc2_reserved && st->spc2_port != port)
        return SCSI_PR_ACCESS_SPC2;
    if (!st->reserved || scsi_pr_is_holder(st, port))
        return SCSI_PR_ACCESS_ALL;
    /* Registrants-only: a registered nexus has the holder's access (SPC-4 5.13.10). */
    if (st->type != SCSI_PR_WE && st->type != SCSI_PR_EA &&
        scsi_pr_find((struct scsi_pr_state *)st, port) != NULL)
        return SCSI_PR_ACCESS_ALL;
    return type_write_excl(st->type) ? SCSI_PR_ACCESS_WE : SCSI_PR_ACCESS_EA;
}

void scsi_pr_publish(struct scsi_pr *pr)
{
    for (struct scsi_lun *m = scsi_unit_of_pr(pr)->members; m != NULL; m = m->unit_next)
        atomic_store_explicit(&m->pr_access, access_of(&pr->st, m->pr_port), memory_order_release);
}

void scsi_pr_ua(struct scsi_pr *pr, uint64_t port, unsigned bits)
{
    for (struct scsi_lun *m = scsi_unit_of_pr(pr)->members; m != NULL; m = m->unit_next)
        if (m->pr_port == port)
            atomic_fetch_or(&m->ua_pending, bits);
}

void scsi_pr_abort_tasks(struct scsi_pr *pr, uint64_t port)
{
    for (struct scsi_lun *m = scsi_unit_of_pr(pr)->members; m != NULL; m = m->unit_next) {
        struct scsi_target_set *set = m->target->set;

        if (m->pr_port == port && set->abort_task_set != NULL)
            set->abort_task_set(set->transport, m->target->id, m->id);
    }
}

/*
 * How a command fares against a reservation its nexus does not hold
 * (SPC-4 table "SPC commands that are allowed in the presence of various
 * reservations", SBC-3's for the block commands).  Commands not listed
 * conflict: a command added later is refused until someone decides otherwise.
 */
enum { PR_ALLOWED, PR_READ, PR_WRITE };

static int pr_class(const uint8_t *cdb)
{
    switch (cdb[0]) {
    case SCSI_OP_TEST_UNIT_READY:
    case SCSI_OP_REQUEST_SENSE:
    case SCSI_OP_INQUIRY:
    case SCSI_OP_READ_CAPACITY_10:
    case SCSI_OP_REPORT_LUNS:
    case SCSI_OP_LOG_SENSE:
    case SCSI_OP_PR_IN:
    /* Their handlers apply the reservation rules themselves. */
    case SCSI_OP_PR_OUT:
    case SCSI_OP_RESERVE_6:
    case SCSI_OP_RELEASE_6:
    case SCSI_OP_RESERVE_10:
    case SCSI_OP_RELEASE_10:
        return PR_ALLOWED;
    case SCSI_OP_SERVICE_ACTION_IN:
        return (cdb[1] & 0x1f) == SCSI_SAI_READ_CAPACITY_16 ? PR_ALLOWED : PR_READ;
    case SCSI_OP_READ_6:
    case SCSI_OP_READ_10:
    case SCSI_OP_READ_12:
    case SCSI_OP_READ_16:
    case SCSI_OP_VERIFY_10:
    case SCSI_OP_VERIFY_12:
    case SCSI_OP_VERIFY_16:
    case SCSI_OP_MODE_SENSE_6:
    case SCSI_OP_MODE_SENSE_10:
    case SCSI_OP_MAINTENANCE_IN:
    case SCSI_OP_READ_DEFECT_DATA_10:
    case SCSI_OP_READ_DEFECT_DATA_12:
    case SCSI_OP_PREFETCH_10:
    case SCSI_OP_PREFETCH_16:
    case SCSI_OP_RECEIVE_COPY_RESULT:
        return PR_READ;
    default:
        return PR_WRITE;
    }
}

bool scsi_pr_conflict_slow(unsigned access, const uint8_t *cdb)
{
    switch (access) {
    case SCSI_PR_ACCESS_WE:
        return pr_class(cdb) == PR_WRITE;
    case SCSI_PR_ACCESS_EA:
        return pr_class(cdb) != PR_ALLOWED;
    case SCSI_PR_ACCESS_SPC2:
        /* SPC-2 7.21: only what discovery and the release itself need. */
        return cdb[0] != SCSI_OP_INQUIRY && cdb[0] != SCSI_OP_REPORT_LUNS &&
               cdb[0] != SCSI_OP_REQUEST_SENSE && cdb[0] != SCSI_OP_RELEASE_6 &&
               cdb[0] != SCSI_OP_RELEASE_10 && cdb[0] != SCSI_OP_PR_IN;
    default:
        return false;
    }
}

int scsi_pr_init(struct scsi_pr *pr, const char *state_file, char *err, size_t errlen)
{
    memset(pr, 0, sizeof(*pr));
    if (state_file != NULL && (pr->file = strdup(state_file)) == NULL) {
        snprintf(err, errlen, "reservations: out of memory");
        return -ENOMEM;
    }
    /* What the initiators were told is persistent comes back before the LUN serves. */
    if (pr->file != NULL) {
        int rc = scsi_pr_file_load(pr->file, &pr->st, err, errlen);

        if (rc < 0) {
            free(pr->file);
            pr->file = NULL;
            return rc;
        }
    }
    return 0;
}

void scsi_pr_fini(struct scsi_pr *pr)
{
    free(pr->file);
    pr->file = NULL;
}

void scsi_pr_member_leaving(struct scsi_pr *pr, struct scsi_lun *lun)
{
    if (pr->st.spc2_reserved && pr->st.spc2_port == lun->pr_port)
        pr->st.spc2_reserved = false;
}

void scsi_pr_release_spc2(struct scsi_lun *lun, bool any_holder)
{
    struct scsi_pr *pr = lun->pr;

    if (pr == NULL)
        return;
    pthread_mutex_lock(&scsi_unit_of_pr(pr)->mu);
    if (pr->st.spc2_reserved && (any_holder || pr->st.spc2_port == lun->pr_port)) {
        pr->st.spc2_reserved = false;
        scsi_pr_publish(pr);
    }
    pthread_mutex_unlock(&scsi_unit_of_pr(pr)->mu);
}

void scsi_target_set_nexus_loss(struct scsi_target_set *set)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = set->targets[t];

        if (tgt == NULL)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++) {
            struct scsi_lun *lun = __atomic_load_n(&tgt->luns[l], __ATOMIC_ACQUIRE);

            if (lun != NULL)
                scsi_pr_release_spc2(lun, false);
        }
    }
}

static void pr_task_conflict(struct scsi_task *task)
{
    task->status = SCSI_STATUS_RESERVATION_CONFLICT;
    task->sense_len = 0;
    scsi_task_complete(task);
}

/* READ FULL STATUS descriptor of one registration (SPC-4 6.14.5): 24 bytes + TransportID. */
static size_t full_status_desc(const struct scsi_pr_state *st, const struct scsi_pr_reg *r,
                               uint8_t *d)
{
    bool holder = scsi_pr_is_holder(st, r->port);

    memset(d, 0, 24);
    put_be64(d, r->key);
    d[12] = (uint8_t)((r->all_tg_pt ? 0x02 : 0) | (holder ? 0x01 : 0));
    d[13] = holder ? st->type : 0; /* SCOPE 0: logical unit */
    /* Each controller is the one target port its initiator reaches the LU by. */
    put_be16(&d[18], 1);
    put_be32(&d[20], SCSI_PR_TID_LEN);
    scsi_pr_tid(r->port, &d[24]);
    return 24 + SCSI_PR_TID_LEN;
}

void scsi_pr_in(struct scsi_task *task)
{
    struct scsi_pr *pr = task->lun->pr;
    struct scsi_pr_state *st = &pr->st;
    uint8_t *buf = task->block_buf;
    uint8_t sa = task->cdb[1] & 0x1f;
    size_t len = 8;

    _Static_assert(8 + SCSI_PR_MAX_REGS * (24 + SCSI_PR_TID_LEN) <=
                       sizeof(((struct scsi_task *)0)->block_buf),
                   "READ FULL STATUS fits the task's block buffer");
    if (sa > SCSI_PR_READ_FULL_STATUS) {
        scsi_task_invalid_field(task, 1, 4);
        return;
    }
    memset(buf, 0, 8);
    pthread_mutex_lock(&scsi_unit_of_pr(pr)->mu);
    switch (sa) {
    case SCSI_PR_READ_KEYS:
        put_be32(buf, st->generation);
        for (unsigned i = 0; i < st->nregs; i++, len += 8)
            put_be64(&buf[len], st->regs[i].key);
        break;
    case SCSI_PR_READ_RESERVATION:
        put_be32(buf, st->generation);
        if (st->reserved) {
            const struct scsi_pr_reg *h = scsi_pr_find(st, st->holder_port);

            memset(&buf[8], 0, 16);
            /* The all-registrants types have no one reservation key (SPC-4 6.14.3). */
            if (!scsi_pr_type_all_reg(st->type) && h != NULL)
                put_be64(&buf[8], h->key);
            buf[21] = st->type;
            len = 24;
        }
        break;
    case SCSI_PR_REPORT_CAPS:
        put_be16(buf, 8);
        /* ATP_C; PTPL_C only with somewhere to persist to.  No SIP_C, no CRH. */
        buf[2] = (uint8_t)(0x04 | (pr->file != NULL ? 0x01 : 0));
        /* TMV, ALLOW COMMANDS 001b (TEST UNIT READY passes every reservation), PTPL_A. */
        buf[3] = (uint8_t)(0x80 | 0x10 | (st->aptpl ? 0x01 : 0));
        buf[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX */
        buf[5] = 0x01;                             /* EX_AC_AR */
        break;
    case SCSI_PR_READ_FULL_STATUS:
        put_be32(buf, st->generation);
        for (unsigned i = 0; i < st->nregs; i++)
            len += full_status_desc(st, &st->regs[i], &buf[len]);
        break;
    }
    pthread_mutex_unlock(&scsi_unit_of_pr(pr)->mu);
    /* ADDITIONAL LENGTH is what there is, whatever the allocation length cuts. */
    if (sa != SCSI_PR_REPORT_CAPS)
        put_be32(&buf[4], (uint32_t)(len - 8));
    scsi_task_reply(task, buf, len, get_be16(&task->cdb[7]));
}

/*
 * RESERVE(6/10) of the whole logical unit (third-party and extent
 * reservations are refused by the CDB check).  Without CRH, any persistent
 * registration makes RESERVE and RELEASE conflict (SPC-4 5.13.3).
 */
void scsi_pr_spc2_reserve(struct scsi_task *task)
{
    struct scsi_pr *pr = task->lun->pr;
    uint64_t me = task->lun->pr_port;
    bool conflict;

    pthread_mutex_lock(&scsi_unit_of_pr(pr)->mu);
    conflict =
        pr->st.nregs > 0 || pr->st.reserved || (pr->st.spc2_reserved && pr->st.spc2_port != me);
    if (!conflict && !pr->st.spc2_reserved) {
        pr->st.spc2_reserved = true;
        pr->st.spc2_port = me;
        scsi_pr_publish(pr);
    }
    pthread_mutex_unlock(&scsi_unit_of_pr(pr)->mu);
    if (conflict)
        pr_task_conflict(task);
    else
        scsi_task_complete(task);
}

void scsi_pr_spc2_release(struct scsi_task *task)
{
    struct scsi_pr *pr = task->lun->pr;
    bool conflict;

    pthread_mutex_lock(&scsi_unit_of_pr(pr)->mu);
    conflict = pr->st.nregs > 0 || pr->st.reserved;
    /* Another nexus's reservation stays; releasing it is not an error (SPC-2 7.17). */
    if (!conflict && pr->st.spc2_reserved && pr->st.spc2_port == task->lun->pr_port) {
        pr->st.spc2_reserved = false;
        scsi_pr_publish(pr);
    }
    pthread_mutex_unlock(&scsi_unit_of_pr(pr)->mu);
    if (conflict)
        pr_task_conflict(task);
    else
        scsi_task_complete(task);
}
