/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the reservation unit tests: one fake bdev attached by two
 * controllers (target sets), LUN a with initiator port PORT_A, LUN b with
 * PORT_B, and helpers to send PERSISTENT RESERVE IN/OUT and friends.
 */
#ifndef VUS_TESTS_SCSI_PR_FAKE_H
#define VUS_TESTS_SCSI_PR_FAKE_H

#include <unistd.h>

#include "scsi/scsi_pr.h"
#include "scsi_fake.h"

#define PORT_A 0x5025653000000aaaull
#define PORT_B 0x5025653000000bbbull

struct pr_env {
    struct env *e;
    struct scsi_target_set *set_b;
    struct scsi_lun *a, *b;
};

__attribute__((unused)) static const char *pr_tmp_file(void)
{
    static char path[64];

    snprintf(path, sizeof(path), "/tmp/vus-test-pr.%d.json", (int)getpid());
    unlink(path);
    return path;
}

__attribute__((unused)) static struct pr_env *pr_env_new(const char *file)
{
    struct pr_env *p = calloc(1, sizeof(*p));
    struct env *e = calloc(1, sizeof(*e));
    struct fake_bdev *fb = fake_new(1024, 512);
    struct scsi_lun_config ca = { .initiator_port = PORT_A, .pr_state_file = file };
    struct scsi_lun_config cb = { .initiator_port = PORT_B,
                                  .pr_state_file = file,
                                  .borrow_bdev = true };
    char err[256];

    assert_non_null(p);
    assert_non_null(e);
    p->set_b = calloc(1, sizeof(*p->set_b));
    assert_non_null(p->set_b);
    e->fb = fb;
    assert_int_equal(scsi_lun_create(&e->set, &ca, &fb->bdev, err, sizeof(err)), 0);
    assert_int_equal(scsi_lun_create(p->set_b, &cb, &fb->bdev, err, sizeof(err)), 0);
    e->lun = scsi_lookup(&e->set, 0, 0);
    e->task = calloc(1, sizeof(*e->task));
    assert_non_null(e->task);
    g_env = e;
    p->e = e;
    p->a = e->lun;
    p->b = scsi_lookup(p->set_b, 0, 0);
    assert_ptr_equal(p->a->pr, p->b->pr);
    atomic_store(&p->a->ua_pending, 0);
    atomic_store(&p->b->ua_pending, 0);
    return p;
}

__attribute__((unused)) static void pr_env_free(struct pr_env *p)
{
    scsi_target_set_destroy(p->set_b);
    free(p->set_b);
    env_free(p->e);
    free(p);
}

__attribute__((unused)) static struct scsi_task *pr_in(struct pr_env *p, struct scsi_lun *lun,
                                                       uint8_t sa, uint16_t alloc, uint8_t *buf)
{
    uint8_t cdb[10] = { 0x5e, sa, 0, 0, 0, 0, 0, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0 };

    memset(buf, 0xcc, alloc);
    return run_on(p->e, lun, cdb, 10, SCSI_DIR_FROM_DEV, buf, alloc);
}

/* PR OUT with a basic parameter list: flags is byte 20, flags >> 8 byte 21. */
__attribute__((unused)) static struct scsi_task *pr_out_len(struct pr_env *p, struct scsi_lun *lun,
                                                            uint8_t sa, uint8_t scope_type,
                                                            uint64_t key, uint64_t sa_key,
                                                            unsigned flags, uint32_t plen)
{
    static uint8_t pl[64];
    uint8_t cdb[10] = { 0x5f, sa, scope_type, 0, 0, 0, 0, 0, 0, 0 };

    memset(pl, 0, sizeof(pl));
    put_be64(pl, key);
    put_be64(&pl[8], sa_key);
    pl[20] = (uint8_t)flags;
    pl[21] = (uint8_t)(flags >> 8);
    put_be32(&cdb[5], plen);
    return run_on(p->e, lun, cdb, 10, plen ? SCSI_DIR_TO_DEV : SCSI_DIR_NONE, plen ? pl : NULL,
                  plen);
}

__attribute__((unused)) static struct scsi_task *pr_out(struct pr_env *p, struct scsi_lun *lun,
                                                        uint8_t sa, uint8_t scope_type,
                                                        uint64_t key, uint64_t sa_key,
                                                        unsigned flags)
{
    return pr_out_len(p, lun, sa, scope_type, key, sa_key, flags, SCSI_PR_OUT_LEN);
}

/*
 * REGISTER AND MOVE to dest's SAS TransportID: flags is byte 17, 0x100 makes
 * the TransportID another protocol's; tid_sent bytes of it are sent.
 */
__attribute__((unused)) static struct scsi_task *pr_move(struct pr_env *p, struct scsi_lun *lun,
                                                         uint8_t type, uint64_t key,
                                                         uint64_t sa_key, uint64_t dest,
                                                         unsigned flags, uint32_t tid_sent)
{
    static uint8_t pl[64];
    uint8_t cdb[10] = { 0x5f, SCSI_PR_REGISTER_MOVE, type, 0, 0, 0, 0, 0, 0, 0 };

    memset(pl, 0, sizeof(pl));
    put_be64(pl, key);
    put_be64(&pl[8], sa_key);
    pl[17] = (uint8_t)flags;
    put_be32(&pl[20], SCSI_PR_TID_LEN);
    scsi_pr_tid(dest, &pl[24]);
    if (flags & 0x100)
        pl[24] = 0x01;
    put_be32(&cdb[5], 24 + tid_sent);
    return run_on(p->e, lun, cdb, 10, SCSI_DIR_TO_DEV, pl, 24 + tid_sent);
}

/* READ KEYS: how many keys (buf holds the response). */
__attribute__((unused)) static unsigned pr_keys(struct pr_env *p, struct scsi_lun *lun,
                                                uint8_t *buf)
{
    assert_good(pr_in(p, lun, SCSI_PR_READ_KEYS, 256, buf));
    return get_be32(&buf[4]) / 8;
}

__attribute__((unused)) static bool pr_has_key(const uint8_t *buf, uint64_t key)
{
    for (unsigned i = 0; i < get_be32(&buf[4]) / 8; i++)
        if (get_be64(&buf[8 + 8 * i]) == key)
            return true;
    return false;
}

__attribute__((unused)) static struct scsi_task *pr_read(struct pr_env *p, struct scsi_lun *lun)
{
    static uint8_t buf[512];
    uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

    return run_on(p->e, lun, cdb, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
}

__attribute__((unused)) static struct scsi_task *pr_write(struct pr_env *p, struct scsi_lun *lun)
{
    static uint8_t buf[512];
    uint8_t cdb[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

    return run_on(p->e, lun, cdb, 10, SCSI_DIR_TO_DEV, buf, sizeof(buf));
}

/* A command without data (INQUIRY: 96 bytes in). */
__attribute__((unused)) static struct scsi_task *pr_simple(struct pr_env *p, struct scsi_lun *lun,
                                                           uint8_t op)
{
    static uint8_t buf[96];
    uint8_t cdb[10] = { op };
    unsigned len = op == SCSI_OP_RESERVE_10 || op == SCSI_OP_RELEASE_10 ? 10 : 6;

    if (op == SCSI_OP_INQUIRY) {
        cdb[4] = sizeof(buf);
        return run_on(p->e, lun, cdb, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    }
    return run_on(p->e, lun, cdb, len, SCSI_DIR_NONE, NULL, 0);
}

__attribute__((unused)) static void check_conflict(const struct scsi_task *t, int line)
{
    if (t->overrun || t->status != SCSI_STATUS_RESERVATION_CONFLICT || t->sense_len != 0)
        fail_msg("line %d: overrun %d status 0x%x sense_len %u, want RESERVATION CONFLICT", line,
                 t->overrun, t->status, t->sense_len);
}

__attribute__((unused)) static void check_param(const struct scsi_task *t, unsigned byte, int bit,
                                                bool in_cdb, int line)
{
    check_sense(t, SCSI_SK_ILLEGAL_REQUEST, in_cdb ? 0x24 : 0x26, 0, line);
    check_field(t, in_cdb, byte, bit, line);
}

#define assert_conflict(t)             check_conflict((t), __LINE__)
#define assert_ua(t, asc, ascq)        check_sense((t), SCSI_SK_UNIT_ATTENTION, (asc), (ascq), __LINE__)
#define assert_param(t, byte, bit)     check_param((t), (byte), (bit), false, __LINE__)
#define assert_cdb_field(t, byte, bit) check_param((t), (byte), (bit), true, __LINE__)

#endif
