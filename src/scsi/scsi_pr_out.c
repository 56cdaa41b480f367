/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PERSISTENT RESERVE OUT (SPC-4 6.15, 5.13): every service action but
 * REPLACE LOST RESERVATION (we never lose one).  The CDB and the parameter
 * list are checked whole first; then, under the state's lock, the service
 * action runs on the state, and with APTPL the new state is written to disk
 * before anything of it shows: a failure to persist puts the old state back
 * and fails the command, so an initiator told GOOD has its state durable.
 * Only then are the unit attentions for the other nexuses set and the
 * members' access recomputed.
 *
 * SPEC_I_PT is refused (SIP_C=0): registering other initiator ports on
 * their behalf is not supported.  ALL_TG_PT is accepted and recorded: an
 * initiator port reaches the logical unit through exactly one target port
 * here (its controller), so "all target ports" is that one.
 *
 * PREEMPT AND ABORT preempts as PREEMPT does, then has each preempted
 * nexus's transport abort its tasks on the logical unit as an ABORT TASK SET
 * would (scsi_target_set.abort_task_set): they end ABORTED, their backend
 * I/O cancelled where the backend can, and what they send next meets the
 * new reservation.  The command completes without waiting for them.
 */
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_unit.h"
#include "util/iov.h"

#define SCSI_ASC_INVALID_RELEASE    0x26 /* /04 invalid release of persistent reservation */
#define SCSI_ASCQ_INVALID_RELEASE   0x04
#define SCSI_ASC_INSUFFICIENT_RES   0x55 /* /04 insufficient registration resources */
#define SCSI_ASCQ_INSUFFICIENT_REGS 0x04

struct pr_req {
    uint8_t sa, type;
    uint64_t key, sa_key;
    bool aptpl, all_tg_pt, unreg;
    uint64_t dest; /* REGISTER AND MOVE: the initiator port the reservation goes to */
};

enum pr_outcome {
    PR_OK,
    PR_CONFLICT,
    PR_BAD_PARAM, /* INVALID FIELD IN PARAMETER LIST at pr_uas.byte */
    PR_BAD_RELEASE,
    PR_NO_ROOM,
};

/* Unit attentions to set once the new state stands. */
struct pr_uas {
    unsigned n;
    struct {
        uint64_t port;
        unsigned bits;
    } ua[2 * SCSI_PR_MAX_REGS];
    unsigned byte; /* PR_BAD_PARAM's field */
};

static void ua_add(struct pr_uas *u, uint64_t port, unsigned bits)
{
    if (u->n < sizeof(u->ua) / sizeof(u->ua[0])) {
        u->ua[u->n].port = port;
        u->ua[u->n].bits = bits;
        u->n++;
    }
}

/* Every registered initiator port but me gets bits. */
static void ua_others(const struct scsi_pr_state *st, uint64_t me, struct pr_uas *u, unsigned bits)
{
    for (unsigned i = 0; i < st->nregs; i++)
        if (st->regs[i].port != me)
            ua_add(u, st->regs[i].port, bits);
}

static void reg_remove(struct scsi_pr_state *st, struct scsi_pr_reg *r)
{
    *r = st->regs[--st->nregs];
}

/* Remove port's registration and what it takes with it (SPC-4 5.13.11.2.3). */
static void unregister(struct scsi_pr_state *st, uint64_t port, struct pr_uas *u)
{
    bool holder = scsi_pr_is_holder(st, port);

    reg_remove(st, scsi_pr_find(st, port));
    if (!holder)
        return;
    if (scsi_pr_type_all_reg(st->type)) {
        st->reserved = st->nregs > 0; /* the last registrant takes it along */
        return;
    }
    st->reserved = false;
    if (st->type == SCSI_PR_WE_RO || st->type == SCSI_PR_EA_RO)
        ua_others(st, port, u, SCSI_UA_RES_RELEASED);
}

static enum pr_outcome pr_register(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq,
                                   struct pr_uas *u)
{
    struct scsi_pr_reg *r = scsi_pr_find(st, me);

    if (r == NULL) {
        if (rq->sa == SCSI_PR_REGISTER && rq->key != 0)
            return PR_CONFLICT;
        if (rq->sa_key == 0)
            return PR_OK; /* nothing to register, nothing changes */
        if (st->nregs == SCSI_PR_MAX_REGS)
            return PR_NO_ROOM;
        st->regs[st->nregs++] =
            (struct scsi_pr_reg){ .port = me, .key = rq->sa_key, .all_tg_pt = rq->all_tg_pt };
    } else {
        if (rq->sa == SCSI_PR_REGISTER && rq->key != r->key)
            return PR_CONFLICT;
        if (rq->sa_key == 0)
            unregister(st, me, u);
        else
            r->key = rq->sa_key;
    }
    st->aptpl = rq->aptpl;
    st->generation++;
    return PR_OK;
}

static enum pr_outcome pr_reserve(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq)
{
    if (st->reserved)
        return scsi_pr_is_holder(st, me) && st->type == rq->type ? PR_OK : PR_CONFLICT;
    st->reserved = true;
    st->type = rq->type;
    st->holder_port = me;
    return PR_OK;
}

static enum pr_outcome pr_release(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq,
                                  struct pr_uas *u)
{
    if (!scsi_pr_is_holder(st, me))
        return PR_OK; /* no reservation, or another's: nothing to release */
    if (st->type != rq->type)
        return PR_BAD_RELEASE;
    st->reserved = false;
    if (st->type != SCSI_PR_WE && st->type != SCSI_PR_EA)
        ua_others(st, me, u, SCSI_UA_RES_RELEASED);
    return PR_OK;
}

static enum pr_outcome pr_clear(struct scsi_pr_state *st, uint64_t me, struct pr_uas *u)
{
    ua_others(st, me, u, SCSI_UA_RES_PREEMPTED);
    st->nregs = 0;
    st->reserved = false;
    st->generation++;
    return PR_OK;
}

/* Remove every registration with key but me's, each told REGISTRATIONS PREEMPTED. */
static unsigned remove_key(struct scsi_pr_state *st, uint64_t me, uint64_t key, bool any_key,
                           struct pr_uas *u)
{
    unsigned removed = 0;

    for (unsigned i = 0; i < st->nregs;) {
        if (st->regs[i].port != me && (any_key || st->regs[i].key == key)) {
            ua_add(u, st->regs[i].port, SCSI_UA_REG_PREEMPTED);
            reg_remove(st, &st->regs[i]);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

/* PREEMPT and PREEMPT AND ABORT (SPC-4 5.13.11.4). */
static enum pr_outcome pr_preempt(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq,
                                  struct pr_uas *u)
{
    const struct scsi_pr_reg *h = st->reserved ? scsi_pr_find(st, st->holder_port) : NULL;

    if (st->reserved && scsi_pr_type_all_reg(st->type) && rq->sa_key == 0) {
        /* Everyone else goes; me holds it, of the type asked. */
        remove_key(st, me, 0, true, u);
        st->type = rq->type;
        st->holder_port = me;
    } else if (st->reserved && !scsi_pr_type_all_reg(st->type) && h != NULL &&
               h->key == rq->sa_key) {
        uint8_t old_type = st->type;

        remove_key(st, me, rq->sa_key, false, u);
        st->type = rq->type;
        st->holder_port = me;
        if (old_type != rq->type)
            ua_others(st, me, u, SCSI_UA_RES_RELEASED);
    } else {
        /* Registrations only: a zero key names none (SPC-4 5.13.11.4.3). */
        if (rq->sa_key == 0) {
            u->byte = 8;
            return PR_BAD_PARAM;
        }
        if (remove_key(st, me, rq->sa_key, false, u) == 0)
            return PR_CONFLICT;
    }
    st->generation++;
    return PR_OK;
}

/* REGISTER AND MOVE (SPC-4 5.13.8): the holder hands the reservation to another port. */
static enum pr_outcome pr_move(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq,
                               struct pr_uas *u)
{
    if (!st->reserved || scsi_pr_type_all_reg(st->type) || st->holder_port != me)
        return PR_CONFLICT;
    if (rq->sa_key == 0) {
        u->byte = 8;
        return PR_BAD_PARAM;
    }
    if (rq->dest == me) {
        u->byte = 24;
        return PR_BAD_PARAM;
    }
    if (scsi_pr_find(st, rq->dest) == NULL) {
        if (st->nregs == SCSI_PR_MAX_REGS)
            return PR_NO_ROOM;
        st->regs[st->nregs++] = (struct scsi_pr_reg){ .port = rq->dest, .key = rq->sa_key };
    }
    st->holder_port = rq->dest;
    if (rq->unreg)
        reg_remove(st, scsi_pr_find(st, me));
    st->aptpl = rq->aptpl;
    st->generation++;
    return PR_OK;
}

static enum pr_outcome pr_apply(struct scsi_pr_state *st, uint64_t me, const struct pr_req *rq,
                                struct pr_uas *u)
{
    const struct scsi_pr_reg *r = scsi_pr_find(st, me);

    if (rq->sa == SCSI_PR_REGISTER || rq->sa == SCSI_PR_REGISTER_IGNORE)
        return pr_register(st, me, rq, u);
    /* Everything else needs a registered nexus that knows its key. */
    if (r == NULL || r->key != rq->key)
        return PR_CONFLICT;
    switch (rq->sa) {
    case SCSI_PR_RESERVE:
        return pr_reserve(st, me, rq);
    case SCSI_PR_RELEASE:
        return pr_release(st, me, rq, u);
    case SCSI_PR_CLEAR:
        return pr_clear(st, me, u);
    case SCSI_PR_PREEMPT:
    case SCSI_PR_PREEMPT_ABORT:
        return pr_preempt(st, me, rq, u);
    default:
        return pr_move(st, me, rq, u);
    }
}

static int highest_bit(uint8_t v)
{
    return 31 - __builtin_clz(v);
}

/*
 * The parameter list into rq.  Returns false having finished the task with
 * the error.
 */
static bool parse_params(struct scsi_task *task, const uint8_t *p, uint32_t plen, struct pr_req *rq)
{
    bool has_file = task->lun->pr->file != NULL;

    rq->key = get_be64(p);
    rq->sa_key = get_be64(&p[8]);
    if (rq->sa != SCSI_PR_REGISTER_MOVE) {
        bool reg = rq->sa == SCSI_PR_REGISTER || rq->sa == SCSI_PR_REGISTER_IGNORE;

        /* Byte 20: SPEC_I_PT, ALL_TG_PT, APTPL; the rest is reserved, as is byte 21. */
        if (p[20] & 0xf2) {
            scsi_task_invalid_param(task, 20, highest_bit(p[20] & 0xf2));
            return false;
        }
        if (p[21] != 0) {
            scsi_task_invalid_param(task, 21, highest_bit(p[21]));
            return false;
        }
        /* Not supported (SIP_C=0), and never valid but with REGISTER. */
        if (p[20] & 0x08) {
            scsi_task_invalid_param(task, 20, 3);
            return false;
        }
        /* Both bits only mean something to the registering actions; ignored elsewhere. */
        rq->all_tg_pt = reg && (p[20] & 0x04);
        rq->aptpl = reg && (p[20] & 0x01);
        if (rq->aptpl && !has_file) {
            scsi_task_invalid_param(task, 20, 0);
            return false;
        }
        return true;
    }
    /* REGISTER AND MOVE: byte 17 UNREG and APTPL, a TransportID from byte 24. */
    if (p[16] != 0 || (p[17] & 0xfc)) {
        unsigned byte = p[16] != 0 ? 16 : 17;

        scsi_task_invalid_param(task, byte, highest_bit(byte == 16 ? p[16] : p[17] & 0xfc));
        return false;
    }
    rq->unreg = p[17] & 0x02;
    rq->aptpl = p[17] & 0x01;
    if (rq->aptpl && !has_file) {
        scsi_task_invalid_param(task, 17, 0);
        return false;
    }
    /* The RELATIVE TARGET PORT IDENTIFIER is ignored: each initiator port has only one. */
    uint32_t tlen = get_be32(&p[20]);

    if (tlen > plen - SCSI_PR_OUT_LEN) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
        return false;
    }
    if (tlen != SCSI_PR_TID_LEN) {
        scsi_task_invalid_param(task, 20, -1);
        return false;
    }
    /* Only a SAS TransportID (format 00b) can name one of our initiator ports. */
    if (p[24] != SCSI_PR_PROTO_SAS) {
        scsi_task_invalid_param(task, 24, -1);
        return false;
    }
    for (unsigned i = 25; i < 24 + SCSI_PR_TID_LEN; i++) {
        if ((i < 28 || i >= 36) && p[i] != 0) {
            scsi_task_invalid_param(task, i, -1);
            return false;
        }
    }
    rq->dest = get_be64(&p[28]);
    if (rq->dest == 0) {
        scsi_task_invalid_param(task, 28, -1);
        return false;
    }
    return true;
}

/* SERVICE ACTION, SCOPE and TYPE of the CDB; false having failed the task. */
static bool check_cdb(struct scsi_task *task, struct pr_req *rq)
{
    const uint8_t *cdb = task->cdb;
    uint32_t plen = get_be32(&cdb[5]);

    rq->sa = cdb[1] & 0x1f;
    rq->type = cdb[2] & 0x0f;
    if (rq->sa > SCSI_PR_REGISTER_MOVE) {
        scsi_task_invalid_field(task, 1, 4);
        return false;
    }
    /* Scope and type matter to the actions that name a reservation; the others ignore them. */
    if (rq->sa != SCSI_PR_REGISTER && rq->sa != SCSI_PR_REGISTER_IGNORE &&
        rq->sa != SCSI_PR_CLEAR) {
        if (cdb[2] & 0xf0) {
            scsi_task_invalid_field(task, 2, 7);
            return false;
        }
        if (!scsi_pr_type_valid(rq->type)) {
            scsi_task_invalid_field(task, 2, 3);
            return false;
        }
    }
    if (rq->sa == SCSI_PR_REGISTER_MOVE ? plen < SCSI_PR_OUT_LEN || plen > sizeof(task->block_buf)
                                        : plen != SCSI_PR_OUT_LEN) {
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH, 0);
        return false;
    }
    return true;
}

void scsi_pr_out(struct scsi_task *task)
{
    struct scsi_pr *pr = task->lun->pr;
    uint64_t me = task->lun->pr_port;
    uint8_t *p = task->block_buf;
    struct scsi_pr_state old;
    struct pr_req rq = { 0 };
    struct pr_uas u = { 0 };
    enum pr_outcome res;
    uint32_t plen;
    int rc = 0;

    if (!check_cdb(task, &rq))
        return;
    plen = get_be32(&task->cdb[5]);
    memset(p, 0, plen);
    iov_to_buf(task->iov, task->iovcnt, 0, p, plen);
    if (!parse_params(task, p, plen, &rq))
        return;

    pthread_mutex_lock(&task->lun->unit->mu);
    old = pr->st;
    res = pr_apply(&pr->st, me, &rq, &u);
    /* Nobody left registered: nothing to persist, and the file goes. */
    if (pr->st.nregs == 0)
        pr->st.aptpl = false;
    if (res == PR_OK && (old.aptpl || pr->st.aptpl) && memcmp(&old, &pr->st, sizeof(old)) != 0) {
        rc = pr->st.aptpl ? scsi_pr_file_save(pr->file, &pr->st) : scsi_pr_file_remove(pr->file);
        if (rc < 0)
            pr->st = old;
    }
    if (res == PR_OK && rc == 0) {
        for (unsigned i = 0; i < u.n; i++) {
            scsi_pr_ua(pr, u.ua[i].port, u.ua[i].bits);
            if (rq.sa == SCSI_PR_PREEMPT_ABORT && (u.ua[i].bits & SCSI_UA_REG_PREEMPTED))
                scsi_pr_abort_tasks(pr, u.ua[i].port);
        }
        scsi_pr_publish(pr);
    }
    pthread_mutex_unlock(&task->lun->unit->mu);

    switch (res) {
    case PR_OK:
        if (rc < 0)
            scsi_task_fail(task, SCSI_SK_HARDWARE_ERROR, SCSI_ASC_INTERNAL_FAILURE, 0);
        else
            scsi_task_complete(task);
        break;
    case PR_CONFLICT:
        task->status = SCSI_STATUS_RESERVATION_CONFLICT;
        task->sense_len = 0;
        scsi_task_complete(task);
        break;
    case PR_BAD_PARAM:
        scsi_task_invalid_param(task, u.byte, -1);
        break;
    case PR_BAD_RELEASE:
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_RELEASE,
                       SCSI_ASCQ_INVALID_RELEASE);
        break;
    case PR_NO_ROOM:
        scsi_task_fail(task, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INSUFFICIENT_RES,
                       SCSI_ASCQ_INSUFFICIENT_REGS);
        break;
    }
}
