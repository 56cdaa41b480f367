/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Primary commands (SPC-4): TEST UNIT READY, REQUEST SENSE, INQUIRY, REPORT
 * LUNS, START STOP UNIT, REPORT SUPPORTED OPERATION CODES.
 */
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"

#ifndef VUS_VERSION
#define VUS_VERSION "0.1"
#endif

#define INQ_VENDOR  "VUSCSI  "
#define INQ_PRODUCT "vhost-user-scsi "

void scsi_spc_test_unit_ready(struct scsi_task *task)
{
    /*
     * Ready unless ejected or sanitizing, which scsi_task_execute reports
     * before any handler runs, like a UA.
     */
    scsi_task_complete(task);
}

void scsi_spc_request_sense(struct scsi_task *task)
{
    uint8_t buf[SCSI_SENSE_FIXED_LEN];
    uint8_t asc, ascq;
    size_t len;
    /*
     * The DESC bit, not D_SENSE, chooses the format of the parameter data
     * (SPC-4 6.39): D_SENSE is for sense data returned with CHECK CONDITION.
     */
    bool desc = task->cdb[1] & 0x01;

    if (task->lun->bdev == NULL) {
        len = scsi_sense_build(buf, desc, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, 0);
    } else if (scsi_ua_take(task->lun, &asc, &ascq)) {
        len = scsi_sense_build(buf, desc, SCSI_SK_UNIT_ATTENTION, asc, ascq);
    } else if (scsi_unit_sanitizing(task->lun)) {
        /* The one way to follow a sanitize: its progress in the sense-key specific field. */
        uint8_t *sks = desc ? &buf[SCSI_SENSE_DESC_LEN + 4] : &buf[15];

        len = scsi_sense_build(buf, desc, SCSI_SK_NOT_READY, SCSI_ASC_NOT_READY,
                               SCSI_ASCQ_SANITIZE_IN_PROGRESS);
        if (desc) {
            memset(&buf[len], 0, 8);
            buf[len] = SCSI_SENSE_DESC_SKS;
            buf[len + 1] = 6;
            len += 8;
            buf[7] = (uint8_t)(len - 8);
        }
        sks[0] = 0x80; /* SKSV */
        put_be16(&sks[1], atomic_load(&task->lun->unit->sanitize_progress));
    } else if (scsi_unit_medium_absent(task->lun)) {
        len = scsi_sense_build(buf, desc, SCSI_SK_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT, 0);
    } else {
        len = scsi_sense_build(buf, desc, SCSI_SK_NO_SENSE, 0, 0);
    }
    scsi_task_reply(task, buf, len, task->cdb[4]);
}

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
    size_t l = strnlen(src, n);

    memset(dst, ' ', n);
    memcpy(dst, src, l);
}

static size_t inquiry_standard(const struct scsi_lun *lun, uint8_t *buf)
{
    static const uint16_t versions[] = { SCSI_VD_SAM5, SCSI_VD_SPC4, SCSI_VD_SBC3 };

    memset(buf, 0, SCSI_INQ_STD_LEN);
    buf[0] = lun->bdev != NULL ? SCSI_TYPE_DISK : (SCSI_PQ_NOT_CAPABLE | SCSI_TYPE_UNKNOWN);
    if (lun->removable)
        buf[1] = SCSI_INQ_RMB;
    buf[2] = SCSI_VERSION_SPC4;
    buf[3] = SCSI_INQ_HISUP | SCSI_INQ_RDF_2;
    buf[4] = SCSI_INQ_STD_LEN - 5;
    if (lun->bdev != NULL)
        buf[5] = SCSI_INQ_3PC; /* the LUN is a copy manager: EXTENDED COPY */
    buf[7] = SCSI_INQ_CMDQUE;
    pad_copy(&buf[8], INQ_VENDOR, 8);
    pad_copy(&buf[16], INQ_PRODUCT, 16);
    pad_copy(&buf[32], VUS_VERSION, 4);
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        put_be16(&buf[58 + 2 * i], versions[i]);
    return SCSI_INQ_STD_LEN;
}

void scsi_spc_inquiry(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    uint8_t buf[256];
    size_t len;

    /* CmdDt is obsolete (SPC-4): reject it rather than guess. */
    if (cdb[1] & 0x02) {
        scsi_task_invalid_field(task, 1, 1);
        return;
    }
    if (!(cdb[1] & 0x01)) {
        if (cdb[2] != 0) {
            scsi_task_invalid_field(task, 2, -1);
            return;
        }
        len = inquiry_standard(task->lun, buf);
    } else {
        len = scsi_vpd_page(task->lun, cdb[2], buf);
        if (len == 0) {
            scsi_task_invalid_field(task, 2, -1);
            return;
        }
    }
    scsi_task_reply(task, buf, len, get_be16(&cdb[3]));
}

void scsi_spc_report_luns(struct scsi_task *task)
{
    const struct scsi_target *tgt = task->lun->target;
    uint8_t buf[8 + 8 * SCSI_LUNS_PER_TGT];
    uint32_t alloc = get_be32(&task->cdb[6]);
    size_t n = 0;

    /* SPC-4 6.33: an allocation length under 16 is an error, not a truncation. */
    if (alloc < 16) {
        scsi_task_invalid_field(task, 6, -1);
        return;
    }
    switch (task->cdb[2]) {
    case 0x00: /* all logical units */
    case 0x02: /* all, including well-known ones: we have none */
        for (unsigned i = 0; i < SCSI_LUNS_PER_TGT; i++) {
            uint8_t *e;

            if (__atomic_load_n(&tgt->luns[i], __ATOMIC_ACQUIRE) == NULL)
                continue;
            e = &buf[8 + 8 * n++];
            memset(e, 0, 8);
            if (i < 256) {
                e[1] = (uint8_t)i; /* peripheral device addressing, bus 0 */
            } else {
                e[0] = (uint8_t)(0x40 | ((i >> 8) & 0x3f)); /* flat space addressing */
                e[1] = (uint8_t)i;
            }
        }
        break;
    case 0x01: /* well-known logical units only */
        break;
    default:
        scsi_task_invalid_field(task, 2, -1);
        return;
    }
    memset(buf, 0, 8);
    put_be32(buf, (uint32_t)(8 * n));
    scsi_task_reply(task, buf, 8 + 8 * n, alloc);
}

/* Command timeouts descriptor (SPC-4 6.35.4): we give no timeout advice. */
static size_t put_timeouts(uint8_t *p)
{
    memset(p, 0, 12);
    put_be16(p, 0x0a);
    return 12;
}

/*
 * Commands in the table that this LUN's backend cannot serve, and that the
 * handler refuses as INVALID COMMAND OPERATION CODE: not reported either.
 */
static bool lun_has_command(const struct scsi_lun *lun, const struct scsi_cmd *cmd)
{
    if (cmd->usage[0] == SCSI_OP_WRITE_ATOMIC_16)
        return lun->bdev != NULL && scsi_atomic_max_blocks(lun->bdev) != 0;
    return true;
}

static size_t put_one_command(uint8_t *p, const struct scsi_cmd *cmd, bool rctd)
{
    size_t len = 4;

    memset(p, 0, 4);
    if (cmd == NULL) {
        p[1] = 0x01; /* SUPPORT: not supported */
        return len;
    }
    p[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03); /* CTDP, SUPPORT: supported per standard */
    put_be16(&p[2], cmd->cdb_len);
    memcpy(&p[4], cmd->usage, cmd->cdb_len);
    len += cmd->cdb_len;
    if (rctd)
        len += put_timeouts(&p[len]);
    return len;
}

void scsi_spc_report_opcodes(struct scsi_task *task)
{
    const uint8_t *cdb = task->cdb;
    const struct scsi_cmd *cmd;
    bool rctd = cdb[2] & 0x80, known;
    unsigned options = cdb[2] & 0x07;
    uint16_t sa = get_be16(&cdb[4]);
    uint8_t buf[4 + SCSI_MAX_COMMANDS * 20];
    size_t len = 0;

    switch (options) {
    case 0: /* all commands */
        len = 4;
        for (unsigned i = 0; (cmd = scsi_cmd_at(i)) != NULL; i++) {
            uint8_t *d = &buf[len];

            if (!lun_has_command(task->lun, cmd))
                continue;

            /* Cannot happen while the table fits SCSI_MAX_COMMANDS (test_scsi_dispatch). */
            if (len + 8 + 12 > sizeof(buf))
                break;

            memset(d, 0, 8);
            d[0] = cmd->usage[0];
            if (cmd->has_sa) {
                put_be16(&d[2], cmd->sa);
                d[5] = 0x01; /* SERVACTV */
            }
            if (rctd)
                d[5] |= 0x02; /* CTDP */
            put_be16(&d[6], cmd->cdb_len);
            len += 8;
            if (rctd)
                len += put_timeouts(&buf[len]);
        }
        put_be32(buf, (uint32_t)(len - 4));
        break;
    case 1: /* one opcode without service action */
    case 2: /* one opcode and service action */
    case 3: /* one opcode, with service action if it has them */
        cmd = scsi_cmd_find(cdb[3], sa, &known);
        if (cmd != NULL && !lun_has_command(task->lun, cmd)) {
            cmd = NULL;
            known = false;
        }
        if (known) {
            /* A known opcode without a match only has service actions. */
            bool has_sa = cmd == NULL || cmd->has_sa;

            if ((options == 1 && has_sa) || (options == 2 && !has_sa)) {
                scsi_task_invalid_field(task, 2, 2);
                return;
            }
        }
        len = put_one_command(buf, cmd, rctd);
        break;
    default:
        scsi_task_invalid_field(task, 2, 2);
        return;
    }
    scsi_task_reply(task, buf, len, get_be32(&cdb[6]));
}
