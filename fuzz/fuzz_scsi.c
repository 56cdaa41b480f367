/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the SCSI CDB dispatcher (scsi_task_execute) with every
 * transport-controlled input fuzzed: the CDB and its length, the data
 * direction, the buffer size and how it is split into iovecs, the addressed
 * LUN (including the LUN 0 stand-in of a target without LUN 0), pending unit
 * attentions, and failures of the backend.
 *
 * Input layout (missing bytes read as zero):
 *   [0]     LUN selector
 *   [1]     bits 0-1 direction, 2-4 unit attentions pending, 5 large buffer,
 *           6 D_SENSE set (descriptor-format sense), 7 write cache off (WCE 0)
 *   [2]     CDB length (mod 33)
 *   [3..4]  buffer size (le16; <<4 with the large-buffer bit)
 *   [5]     number of iovecs (255: more than a backend takes)
 *   [6..7]  seed of the iovec split
 *   [8]     backend: bits 0-2 which request fails, 3-4 how (0: none); bit 5
 *           completes requests after submit returns (as io_uring backends
 *           do) rather than inline
 *   [9..40] CDB
 *   [41..]  data-out contents (the rest of the buffer is zero)
 *
 * Oracles: done() runs exactly once, and never while a request of the task
 * is still with the backend (one at a time), the LUN's inflight count returns
 * to zero, no LBA range stays held or queued in the LUN's range lock (writes,
 * COMPARE AND WRITE, WRITE AND VERIFY take one), data_len and sense_len stay
 * inside their buffers, and every request that reaches a backend passes
 * bdev_io_check: the SCSI layer promises range-checked requests, so a refusal
 * there is a bug above.
 * Descriptor-format sense has an additional sense length that matches its
 * descriptors; a MODE SELECT (its parameter list is the data-out) that does
 * not end GOOD leaves the mode parameters as they were (all or nothing), and
 * with the write cache off every data write reaches the backend as FUA.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "scsi/scsi.h"
#include "scsi/scsi_proto.h"
#include "scsi/scsi_unit.h"
#include "util/iov.h"
#include "util/log.h"

#define FZ_MAX_BUF (1u << 20)
#define FZ_MAX_IOV 1100 /* a little more than BDEV_MAX_IOV: the transport allows 1024 */

struct mem_bdev {
    struct bdev b;
    uint8_t *data;
};

/*
 * How the backends behave for the current input.  kind: 0 no fault, 1 -EIO
 * at completion, 2 -ENOSPC at completion, 3 -EAGAIN from submit.
 */
static struct {
    unsigned nreq;  /* requests seen so far */
    unsigned which; /* request index that fails */
    unsigned kind;
    bool deferred; /* complete from the main loop, after submit returned */
} fault;

/*
 * Which backing devices had WCE 0 on their LUN when the input started: a
 * write must be FUA there.  Per device, not per task: EXTENDED COPY writes
 * to another LUN, whose cache setting is its own (it keeps what an earlier
 * input left; only the addressed LUN's is set per input, and only a MODE
 * SELECT, which writes nothing, changes it mid-command).
 */
static const struct bdev *write_through[8];
static unsigned nwrite_through;

static bool is_write_through(const struct bdev *b)
{
    for (unsigned i = 0; i < nwrite_through; i++)
        if (write_through[i] == b)
            return true;
    return false;
}

/* The request a deferred completion is owed to: a task has at most one outstanding. */
static struct {
    struct bdev_io *io;
    int res;
} held;

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_scsi: invariant broken: %s\n", what);
    __builtin_trap();
}

static int fault_for_request(bool *at_submit)
{
    unsigned n = fault.nreq++;

    *at_submit = false;
    if (fault.kind == 0 || n != fault.which)
        return 0;
    switch (fault.kind) {
    case 1:
        return -EIO;
    case 2:
        return -ENOSPC;
    default:
        *at_submit = true;
        return -EAGAIN;
    }
}

/* Complete now, or hold the request until the main loop completes it. */
static int finish(struct bdev_io *io, int res)
{
    if (!fault.deferred) {
        io->cb(io, res);
        return 0;
    }
    if (held.io)
        fz_bug("a task has two requests with the backend");
    held.io = io;
    held.res = res;
    return 0;
}

static int mem_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct mem_bdev *m = (struct mem_bdev *)bdev;
    bool at_submit;
    int res;

    if (bdev_io_check(bdev, io) != 0)
        fz_bug("the SCSI layer submitted a request the backend must refuse");
    if (io->type == BDEV_IO_WRITE && !io->fua && is_write_through(bdev))
        fz_bug("a write without FUA while the write cache is off");
    res = fault_for_request(&at_submit);
    if (at_submit)
        return res;
    if (res == 0) {
        switch (io->type) {
        case BDEV_IO_READ:
            iov_from_buf(io->iov, io->iovcnt, 0, m->data + io->offset, io->len);
            break;
        case BDEV_IO_WRITE:
            iov_to_buf(io->iov, io->iovcnt, 0, m->data + io->offset, io->len);
            break;
        case BDEV_IO_DISCARD:
            memset(m->data + io->offset, bdev->discard_zeroes ? 0 : 0xdd, io->len);
            break;
        case BDEV_IO_WRITE_ZEROES:
            memset(m->data + io->offset, 0, io->len);
            break;
        case BDEV_IO_VERIFY:
        case BDEV_IO_FLUSH:
            break;
        }
    }
    return finish(io, res);
}

static void mem_close(struct bdev *bdev)
{
    struct mem_bdev *m = (struct mem_bdev *)bdev;

    free(m->data);
    free(m);
}

static const struct bdev_ops mem_ops = {
    .name = "fuzzmem",
    .submit = mem_submit,
    .close = mem_close,
};

/* The real null backend, wrapped so that its requests are checked and faulted too. */
static const struct bdev_ops *null_real_ops;
static struct bdev_ops null_wrap_ops;

static int null_wrap_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    bool at_submit;
    int res;

    if (bdev_io_check(bdev, io) != 0)
        fz_bug("the SCSI layer submitted a request the null backend must refuse");
    res = fault_for_request(&at_submit);
    if (at_submit)
        return res;
    if (res != 0 || fault.deferred)
        return finish(io, res);
    return null_real_ops->submit(bdev, loop, io);
}

struct lun_def {
    unsigned target, lun;
    uint32_t block_size;
    uint64_t size;
    bool readonly, can_discard, discard_zeroes, can_write_zeroes, volatile_cache;
    bool null; /* the real null backend (no data storage: any size) */
};

#define FZ_WWN(i) (0x5025653000000000ull + (i))

static const struct lun_def lun_defs[] = {
    { 0, 0, 512, 64 * 1024, false, true, true, true, true, false },
    { 0, 1, 4096, 64 * 1024, true, false, false, false, false, false },
    { 0, 2, 512, 1ull << 40, false, true, false, false, false, true },
    { 0, 3, 4096, 4096, false, true, false, false, false, false },
    { 1, 5, 512, 32 * 1024, false, false, false, true, false, false },
};
#define NLUN_DEFS (sizeof(lun_defs) / sizeof(lun_defs[0]))
_Static_assert(NLUN_DEFS <= sizeof(write_through) / sizeof(write_through[0]), "a slot per LUN");

/* Addresses the selector byte picks from: real LUNs, a stand-in and nothing. */
static const unsigned addrs[8][2] = { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 0, 3 },
                                      { 1, 5 }, { 1, 0 }, { 2, 0 }, { 0, 9 } };

static struct scsi_target_set targets;
static struct mem_bdev *mems[NLUN_DEFS];
static struct scsi_task task;
static struct iovec iov[FZ_MAX_IOV];
static unsigned done_calls;

static void fz_init(void)
{
    char err[256];

    /* Guest-triggered errors are logged; the fuzzer would only drown in them. */
    log_set_level(LOG_LEVEL_ERROR);
    for (unsigned i = 0; i < NLUN_DEFS; i++) {
        const struct lun_def *d = &lun_defs[i];
        /* Fixed NAA names, so that EXTENDED COPY seeds can address the LUNs. */
        struct scsi_lun_config cfg = { .target = d->target, .lun = d->lun, .wwn = FZ_WWN(i) };
        struct bdev *b;

        if (d->null) {
            struct bdev_config bc = { .type = BDEV_TYPE_NULL,
                                      .size = d->size,
                                      .block_size = d->block_size };
            if (bdev_open(&bc, &b, err, sizeof(err)) != 0)
                fz_bug(err);
            null_real_ops = b->ops;
            null_wrap_ops = *b->ops;
            null_wrap_ops.submit = null_wrap_submit;
            b->ops = &null_wrap_ops;
        } else {
            struct mem_bdev *m = calloc(1, sizeof(*m));
            if (!m || !(m->data = calloc(1, d->size)))
                fz_bug("out of memory");
            m->b.ops = &mem_ops;
            m->b.size = d->size;
            m->b.block_size = d->block_size;
            snprintf(m->b.desc, sizeof(m->b.desc), "fuzzmem %u", i);
            mems[i] = m;
            b = &m->b;
        }
        b->readonly = d->readonly;
        b->can_discard = d->can_discard;
        b->discard_zeroes = d->discard_zeroes;
        b->can_write_zeroes = d->can_write_zeroes;
        b->volatile_cache = d->volatile_cache;
        /* WRITE ATOMIC on LUN 0 (no alignment) and 1:5 (4-block granules), refused elsewhere. */
        b->atomic_max_bytes = i == 0 ? 32 * 1024 : i == 4 ? 16 * 1024 : 0;
        b->atomic_gran_bytes = i == 4 ? 4 * 512 : 0;
        if (scsi_lun_create(&targets, &cfg, b, err, sizeof(err)) != 0)
            fz_bug(err);
    }
}

static void task_done(struct scsi_task *t)
{
    done_calls++;
}

/* xorshift: the iovec split only needs to be varied and reproducible. */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Split len bytes of buf into cnt elements of pseudo-random sizes (some empty). */
static unsigned split_buffer(uint8_t *buf, size_t len, unsigned cnt, uint32_t seed)
{
    size_t off = 0;

    for (unsigned i = 0; i < cnt; i++) {
        size_t left = len - off;
        size_t piece;

        if (i + 1 == cnt) {
            piece = left;
        } else {
            uint32_t r = next_rand(&seed);
            /* Mostly small pieces, so that many of them fit; sometimes a big one. */
            piece = (r & 3) == 0 ? 0 : (r & 4) ? (r >> 8) % 1024 : (r >> 8) % 8192;
            if (piece > left)
                piece = left;
        }
        iov[i].iov_base = buf + off;
        iov[i].iov_len = piece;
        off += piece;
    }
    return cnt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    uint8_t hdr[41] = { 0 };
    struct scsi_lun *lun;
    uint8_t *buf;
    size_t buf_len;
    unsigned niov;
    bool wce_before, d_sense_before, mode_select;

    if (!inited) {
        fz_init();
        inited = true;
    }
    memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
    lun = scsi_lookup(&targets, addrs[hdr[0] % 8][0], addrs[hdr[0] % 8][1]);
    if (!lun)
        return 0;
    /*
     * SANITIZE covers the whole LUN: on the 1 TiB null LUN that is millions
     * of requests per pass, which only slows the fuzzer; the other LUNs
     * reach the same code.
     */
    if (hdr[9] == SCSI_OP_SANITIZE && lun->bdev != NULL && lun->bdev->size > (64ull << 20))
        return 0;

    buf_len = (size_t)hdr[3] | (size_t)hdr[4] << 8;
    if (hdr[1] & 0x20)
        buf_len <<= 4;
    if (buf_len > FZ_MAX_BUF)
        buf_len = FZ_MAX_BUF;
    /* Exactly the announced size: ASan then catches any write past the buffer's end. */
    buf = malloc(buf_len ? buf_len : 1);
    if (!buf)
        return 0;
    memset(buf, 0, buf_len);
    if (size > sizeof(hdr)) {
        size_t n = size - sizeof(hdr);
        memcpy(buf, data + sizeof(hdr), n < buf_len ? n : buf_len);
    }
    niov = hdr[5] == 255 ? FZ_MAX_IOV : (unsigned)hdr[5] % 64 + 1;
    niov = split_buffer(buf, buf_len, niov, (uint32_t)hdr[6] | (uint32_t)hdr[7] << 8);

    /* Fresh per-input state of the LUNs, so an input replays the same way. */
    for (unsigned i = 0; i < NLUN_DEFS; i++)
        if (mems[i])
            memset(mems[i]->data, 0, lun_defs[i].size);
    atomic_store(&lun->ua_pending, (unsigned)(hdr[1] >> 2) & 7u);
    /* Mode parameters too: a MODE SELECT of an earlier input must not leak into this one. */
    if (lun->bdev != NULL) { /* the LUN 0 stand-in has no mode pages */
        atomic_store(&lun->d_sense, (hdr[1] & 0x40) != 0);
        atomic_store(&lun->wce, (hdr[1] & 0x80) == 0);
    }
    wce_before = atomic_load(&lun->wce);
    d_sense_before = atomic_load(&lun->d_sense);
    nwrite_through = 0;
    for (unsigned i = 0; i < NLUN_DEFS; i++) {
        struct scsi_lun *l = scsi_lookup(&targets, lun_defs[i].target, lun_defs[i].lun);

        if (l != NULL && l->bdev != NULL && !atomic_load(&l->wce))
            write_through[nwrite_through++] = l->bdev;
    }
    fault.nreq = 0;
    fault.which = hdr[8] & 7u;
    fault.kind = (hdr[8] >> 3) & 3u;
    fault.deferred = hdr[8] & 0x20;
    held.io = NULL;

    /* What vscsi_req does: the "in" part is rebuilt, the private part is reused. */
    memset(&task, 0, offsetof(struct scsi_task, bio));
    task.lun = lun;
    memcpy(task.cdb, hdr + 9, SCSI_CDB_MAX);
    task.cdb_len = hdr[2] % (SCSI_CDB_MAX + 1);
    task.dir = (enum scsi_data_dir)(hdr[1] & 3u) % 3;
    if (task.dir == SCSI_DIR_NONE) {
        task.iov = NULL;
        task.iovcnt = 0;
        task.iov_len = 0;
    } else {
        task.iov = iov;
        task.iovcnt = niov;
        task.iov_len = buf_len;
    }
    task.tag = 0x1234;
    task.done = task_done;
    done_calls = 0;

    scsi_task_execute(&task);
    /* The worker's event loop: each completion may submit the task's next step. */
    for (unsigned long n = 0; held.io; n++) {
        struct bdev_io *io = held.io;

        /* A SANITIZE with IMMED ended its task and goes on alone (scsi_sanitize.c). */
        if (done_calls != 0 && !atomic_load(&lun->unit->sanitizing))
            fz_bug("done() ran while a request of the task was outstanding");
        if (n > (1ul << 24))
            fz_bug("a command that never ends");
        held.io = NULL;
        io->cb(io, held.res);
    }

    if (done_calls != 1)
        fz_bug("done() did not run exactly once");
    if (atomic_load(&lun->inflight) != 0)
        fz_bug("LUN inflight count not back to zero");
    /* EXTENDED COPY reaches other LUNs: none may keep a count, a range or a reader. */
    for (unsigned i = 0; i < NLUN_DEFS; i++) {
        struct scsi_lun *l = scsi_lookup(&targets, lun_defs[i].target, lun_defs[i].lun);

        if (atomic_load(&l->inflight) != 0)
            fz_bug("LUN inflight count not back to zero");
        if (l->rl->held != NULL || l->rl->wait_head != NULL || l->rl->nexcl != 0 ||
            l->rl->drain_head != NULL || atomic_load(&l->rl->readers) != 0 ||
            atomic_load(&l->rl->natomic) != 0)
            fz_bug("an LBA range left held or queued after the command ended");
    }
    if (task.sense_len > SCSI_SENSE_MAX)
        fz_bug("sense_len larger than the sense buffer");
    if (!task.overrun && task.data_len > task.iov_len)
        fz_bug("data_len larger than the data buffer");
    if (task.status == SCSI_STATUS_CHECK_CONDITION && !task.overrun && task.sense_len < 8)
        fz_bug("CHECK CONDITION without sense data");
    if (task.status == SCSI_STATUS_GOOD && task.sense_len != 0)
        fz_bug("GOOD status with sense data");
    if (task.sense_len >= 8 && (task.sense[0] & 0x7f) == 0x72 &&
        (unsigned)task.sense[7] + 8 != task.sense_len)
        fz_bug("descriptor-format sense whose additional length does not add up");
    mode_select = task.cdb_len > 0 && (task.cdb[0] == 0x15 || task.cdb[0] == 0x55);
    if ((!mode_select || task.status != SCSI_STATUS_GOOD || task.overrun) &&
        (atomic_load(&lun->wce) != wce_before || atomic_load(&lun->d_sense) != d_sense_before))
        fz_bug("mode parameters changed by a command that did not succeed as MODE SELECT");
    free(buf);
    return 0;
}
