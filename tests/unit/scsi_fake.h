/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the SCSI unit tests: an in-memory bdev whose completions can be
 * inline or deferred and whose results can be forced, and helpers to run one
 * CDB through scsi_task_execute() and check the outcome.
 */
#ifndef VUS_TESTS_SCSI_FAKE_H
#define VUS_TESTS_SCSI_FAKE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scsi/scsi.h"
#include "scsi/scsi_internal.h"
#include "util/iov.h"

#define FAKE_MAX_PENDING 8

struct fake_bdev {
    struct bdev bdev;
    uint8_t *data;
    bool deferred;       /* complete from fake_run() instead of inside submit */
    int submit_err;      /* returned by submit (cb then never runs) */
    int fail_err;        /* completion result for requests of fail_type */
    uint32_t fail_sense; /* io->sense set with fail_err (a device's own error) */
    int fail_type;       /* -1: none */
    unsigned fail_skip;  /* requests of fail_type to let through before failing */
    unsigned count[6];   /* requests seen, by type */
    unsigned calls;
    struct bdev_io last; /* copy of the last request */
    unsigned max_iovcnt;
    uintptr_t sp_lo, sp_hi; /* stack addresses seen in submit: recursion shows as a spread */
    struct bdev_io *pending[FAKE_MAX_PENDING];
    int pending_res[FAKE_MAX_PENDING];
    unsigned npending;
    int closed;
    unsigned hints;                 /* bdev_prefetch calls... */
    uint64_t hint_offset, hint_len; /* ...and the last one's range */
};

static int fake_submit(struct bdev *b, struct io_loop *loop, struct bdev_io *io)
{
    struct fake_bdev *f = (struct fake_bdev *)b;
    int res = 0;
    bool fail;

    uintptr_t sp = (uintptr_t)&res;

    if (f->sp_lo == 0 || sp < f->sp_lo)
        f->sp_lo = sp;
    if (sp > f->sp_hi)
        f->sp_hi = sp;
    if (f->submit_err)
        return f->submit_err;
    /* The SCSI layer promises range-checked, block-aligned requests. */
    assert_true(io->offset % b->block_size == 0 && io->len % b->block_size == 0);
    assert_true(io->offset <= b->size && io->len <= b->size - io->offset);
    f->calls++;
    f->count[io->type]++;
    f->last = *io;
    if (io->iovcnt > f->max_iovcnt)
        f->max_iovcnt = io->iovcnt;
    fail = f->fail_type == (int)io->type;
    if (fail && f->fail_skip > 0) {
        f->fail_skip--;
        fail = false;
    }
    if (fail) {
        res = f->fail_err;
        io->sense = f->fail_sense;
    } else {
        switch (io->type) {
        case BDEV_IO_READ:
            assert_true(io->iovcnt <= BDEV_MAX_IOV);
            assert_int_equal(iov_size(io->iov, io->iovcnt), io->len);
            iov_from_buf(io->iov, io->iovcnt, 0, f->data + io->offset, io->len);
            break;
        case BDEV_IO_WRITE:
            assert_true(io->iovcnt <= BDEV_MAX_IOV);
            assert_int_equal(iov_size(io->iov, io->iovcnt), io->len);
            iov_to_buf(io->iov, io->iovcnt, 0, f->data + io->offset, io->len);
            break;
        case BDEV_IO_DISCARD:
            memset(f->data + io->offset, b->discard_zeroes ? 0 : 0xdd, io->len);
            break;
        case BDEV_IO_WRITE_ZEROES:
            memset(f->data + io->offset, 0, io->len);
            break;
        case BDEV_IO_VERIFY:
        case BDEV_IO_FLUSH:
            break;
        }
    }
    if (f->deferred) {
        assert_true(f->npending < FAKE_MAX_PENDING);
        f->pending[f->npending] = io;
        f->pending_res[f->npending++] = res;
        return 0;
    }
    io->cb(io, res);
    return 0;
}

static void fake_close(struct bdev *b)
{
    struct fake_bdev *f = (struct fake_bdev *)b;

    f->closed++;
}

static void fake_prefetch(struct bdev *b, uint64_t offset, uint64_t len)
{
    struct fake_bdev *f = (struct fake_bdev *)b;

    /* Only ranges inside the disk may be hinted. */
    assert_true(offset <= b->size && len <= b->size - offset);
    f->hints++;
    f->hint_offset = offset;
    f->hint_len = len;
}

static const struct bdev_ops fake_ops = {
    .name = "fake", .submit = fake_submit, .close = fake_close, .prefetch = fake_prefetch
};

/* The SCSI layer closes the bdevs it owns through this; the real one is not linked. */
void bdev_close(struct bdev *bdev)
{
    bdev->ops->close(bdev);
}

__attribute__((unused)) static struct fake_bdev *fake_new(uint64_t blocks, uint32_t bs)
{
    struct fake_bdev *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->bdev.ops = &fake_ops;
    f->bdev.block_size = bs;
    f->bdev.size = blocks * bs;
    f->fail_type = -1;
    snprintf(f->bdev.desc, sizeof(f->bdev.desc), "fake %llu", (unsigned long long)blocks);
    if (f->bdev.size <= (256u << 20)) {
        f->data = calloc(1, f->bdev.size);
        assert_non_null(f->data);
    }
    return f;
}

__attribute__((unused)) static void fake_free(struct fake_bdev *f)
{
    free(f->data);
    free(f);
}

/* Complete deferred requests (in submission order) until none is left. */
__attribute__((unused)) static void fake_run(struct fake_bdev *f)
{
    while (f->npending > 0) {
        struct bdev_io *io = f->pending[0];
        int res = f->pending_res[0];

        f->npending--;
        memmove(&f->pending[0], &f->pending[1], f->npending * sizeof(f->pending[0]));
        memmove(&f->pending_res[0], &f->pending_res[1], f->npending * sizeof(f->pending_res[0]));
        io->cb(io, res);
    }
}

/* One target set with one LUN on a fake bdev; task is preallocated like the transport does. */
struct env {
    struct scsi_target_set set;
    struct fake_bdev *fb;
    struct scsi_lun *lun;
    struct scsi_task *task;
    struct iovec iov[4];
    int done;
};

static struct env *g_env;

static void env_done(struct scsi_task *task)
{
    g_env->done++;
}

__attribute__((unused)) static struct env *env_new_lun(unsigned target, unsigned lun,
                                                       struct fake_bdev *fb)
{
    struct env *e = calloc(1, sizeof(*e));
    struct scsi_lun_config cfg = { .target = target, .lun = lun };
    char err[128];

    assert_non_null(e);
    e->fb = fb;
    assert_int_equal(scsi_lun_create(&e->set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    e->lun = scsi_lookup(&e->set, target, lun);
    assert_non_null(e->lun);
    /* Tests start from a quiet unit; UA tests set what they need. */
    atomic_store(&e->lun->ua_pending, 0);
    e->task = calloc(1, sizeof(*e->task));
    assert_non_null(e->task);
    g_env = e;
    return e;
}

__attribute__((unused)) static struct env *env_new(uint64_t blocks, uint32_t bs)
{
    return env_new_lun(0, 0, fake_new(blocks, bs));
}

__attribute__((unused)) static void env_free(struct env *e)
{
    struct fake_bdev *fb = e->fb;

    scsi_target_set_destroy(&e->set);
    assert_int_equal(fb->closed, 1);
    fake_free(fb);
    free(e->task);
    free(e);
    g_env = NULL;
}

/*
 * Run cdb on lun with buffer buf (split in up to 3 pieces at odd offsets to
 * exercise any-layout) and wait for done.  Returns the task.
 */
__attribute__((unused)) static struct scsi_task *run_on(struct env *e, struct scsi_lun *lun,
                                                        const uint8_t *cdb, unsigned cdb_len,
                                                        enum scsi_data_dir dir, void *buf,
                                                        size_t len)
{
    struct scsi_task *t = e->task;
    size_t a = len / 3, b = len / 2;

    memset(t->cdb, 0, sizeof(t->cdb));
    memcpy(t->cdb, cdb, cdb_len);
    memset(t->sense, 0xee, sizeof(t->sense));
    t->lun = lun;
    t->cdb_len = cdb_len;
    t->dir = dir;
    e->iov[0] = (struct iovec){ buf, a };
    e->iov[1] = (struct iovec){ (char *)buf + a, b - a };
    e->iov[2] = (struct iovec){ (char *)buf + b, len - b };
    t->iov = e->iov;
    t->iovcnt = buf != NULL ? 3 : 0;
    t->iov_len = buf != NULL ? len : 0;
    t->done = env_done;
    t->status = 0xff;
    t->data_len = 12345;
    e->done = 0;
    scsi_task_execute(t);
    fake_run(e->fb);
    assert_int_equal(e->done, 1);
    assert_int_equal(atomic_load(&lun->inflight), 0);
    return t;
}

__attribute__((unused)) static struct scsi_task *run(struct env *e, const uint8_t *cdb,
                                                     unsigned cdb_len, enum scsi_data_dir dir,
                                                     void *buf, size_t len)
{
    return run_on(e, e->lun, cdb, cdb_len, dir, buf, len);
}

/* Functions, not macros: the task argument is often a run() call that must run once. */
__attribute__((unused)) static void check_good(const struct scsi_task *t, int line)
{
    if (t->overrun || t->status != SCSI_STATUS_GOOD)
        fail_msg("line %d: overrun %d status 0x%x sense %x/%02x/%02x", line, t->overrun, t->status,
                 t->sense[2] & 0xf, t->sense[12], t->sense[13]);
}

__attribute__((unused)) static void check_sense(const struct scsi_task *t, int key, int asc,
                                                int ascq, int line)
{
    if (t->overrun || t->status != SCSI_STATUS_CHECK_CONDITION || t->sense_len != 18 ||
        (t->sense[0] & 0x7f) != 0x70 || (t->sense[2] & 0xf) != key || t->sense[12] != asc ||
        t->sense[13] != ascq)
        fail_msg("line %d: overrun %d status 0x%x sense_len %u sense %x/%02x/%02x, want "
                 "%x/%02x/%02x",
                 line, t->overrun, t->status, t->sense_len, t->sense[2] & 0xf, t->sense[12],
                 t->sense[13], key, asc, ascq);
}

#define assert_good(t)                  check_good((t), __LINE__)
#define assert_sense(t, key, asc, ascq) check_sense((t), (key), (asc), (ascq), __LINE__)
/* Sense-key specific field pointer: in_cdb (C/D), byte, bit (-1: no bit pointer). */
__attribute__((unused)) static void check_field(const struct scsi_task *t, bool in_cdb,
                                                unsigned byte, int bit, int line)
{
    uint8_t want = (uint8_t)(0x80 | (in_cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | bit : 0));

    if (t->sense[15] != want || get_be16(&t->sense[16]) != byte)
        fail_msg("line %d: sense key specific %02x %04x, want %02x %04x", line, t->sense[15],
                 get_be16(&t->sense[16]), want, byte);
}

#define assert_field(t, in_cdb, byte, bit) check_field((t), (in_cdb), (byte), (bit), __LINE__)

#define assert_invalid_cdb(t) assert_sense((t), SCSI_SK_ILLEGAL_REQUEST, 0x24, 0)

#endif
