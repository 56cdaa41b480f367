/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A known pattern, for "did the data land where it should": the guest
 * writes it through the daemon, the host regenerates it and compares with
 * the backing file after the VM is gone.
 *
 *   vus_pattern gen SEED BYTES                       pattern on stdout
 *   vus_pattern write SOCKET LUN OFFSET BYTES SEED   WRITE(16) it at byte OFFSET
 *                                                    through the daemon, read it
 *                                                    back, compare
 *   vus_pattern check SOCKET LUN WHAT [ARGS]         one SCSI check against the LUN
 *                                                    (the commands fio does not
 *                                                    send); exit 0 when it holds:
 *     writesame OFFSET BYTES   pattern over [OFFSET-bs, OFFSET+BYTES+bs), WRITE
 *                              SAME(16) of a zero block (no UNMAP) over the middle,
 *                              READ: zeroes inside, the pattern still at the edges
 *     verify OFFSET BYTES      VERIFY(16) BYTCHK=0 -> GOOD
 *     sync                     SYNCHRONIZE CACHE(16) of the whole LUN -> GOOD
 *     unmap OFFSET BYTES       pattern, UNMAP, READ: zeroes required when READ
 *                              CAPACITY(16) says LBPRZ=1 (printed either way)
 *     serial SERIAL            VPD 80h holds SERIAL
 *     eui64 HEX16|none         VPD 83h has (or has no) EUI-64 designator (type 2)
 *     maxxfer BLOCKS           Block Limits VPD MAXIMUM TRANSFER LENGTH = BLOCKS
 *     pastend                  READ(16) of the block after the last -> CHECK
 *                              CONDITION, ILLEGAL REQUEST 21/00
 *
 * The generator is xorshift64* over 8-byte words: the same bytes on every
 * host, no library needed in the guest.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/vus_frontend.h"

#define CHUNK (1u << 20)

/* Byte `pos` onwards of the stream for seed; pos must be a multiple of 8. */
static void gen(uint64_t seed, uint64_t pos, uint8_t *buf, size_t len)
{
    /* Word i of the stream is a hash of (seed, i): any chunk can be made alone. */
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL + (pos + i) / 8 + 1;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x *= 0x2545f4914f6cdd1dULL;
        memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
    }
}

/* Sense key, ASC, ASCQ from fixed (70h/71h) or descriptor (72h/73h) sense data. */
static void sense_of(const struct vus_fe_cmd *c, unsigned *key, unsigned *asc, unsigned *ascq)
{
    if ((c->sense[0] & 0x7f) >= 0x72) {
        *key = c->sense[1] & 0xf;
        *asc = c->sense[2];
        *ascq = c->sense[3];
    } else {
        *key = c->sense[2] & 0xf;
        *asc = c->sense[12];
        *ascq = c->sense[13];
    }
}

/* One command; 0 when it was delivered (whatever its status), c holds the result. */
static int scsi_raw(struct vus_fe_vq *vq, unsigned lun, const uint8_t *cdb, void *out, void *in,
                    size_t len, struct vus_fe_cmd *c)
{
    struct iovec v = { out ? out : in, len };
    unsigned key, asc, ascq;
    int rc;

    memset(c, 0, sizeof(*c));
    c->lun = lun;
    memcpy(c->cdb, cdb, 16);
    if (out) {
        c->out = &v;
        c->out_cnt = 1;
    } else if (in) {
        c->in = &v;
        c->in_cnt = 1;
    }
    /* The first command of a new nexus gets the power-on unit attention: retry it. */
    for (int tries = 0; tries < 3; tries++) {
        rc = vus_fe_cmd_exec(vq, c, 60000);
        sense_of(c, &key, &asc, &ascq);
        if (rc || c->status != 2 || key != 6)
            break;
    }
    return rc;
}

static int scsi(struct vus_fe_vq *vq, unsigned lun, const uint8_t *cdb, void *out, void *in,
                size_t len, const char *what)
{
    struct vus_fe_cmd c;
    unsigned key, asc, ascq;
    int rc = scsi_raw(vq, lun, cdb, out, in, len, &c);

    if (rc || c.response != 0 || c.status != 0) {
        sense_of(&c, &key, &asc, &ascq);
        fprintf(stderr, "vus_pattern: %s: rc %d response %u status %#x sense %02x/%02x/%02x\n",
                what, rc, c.response, c.status, key, asc, ascq);
        return -1;
    }
    return 0;
}

static void rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t blocks)
{
    memset(cdb, 0, 16);
    cdb[0] = op;
    for (int i = 0; i < 8; i++)
        cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        cdb[10 + i] = (uint8_t)(blocks >> (24 - 8 * i));
}

static int do_write(const char *sock, unsigned lun, uint64_t off, uint64_t bytes, uint64_t seed)
{
    struct vus_fe_config cfg = { .socket_path = sock, .mem_size = 8 << 20, .timeout_ms = 10000 };
    uint8_t cdb[16] = { 0x9e, 0x10 }, *cap, *buf, *chk;
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
    uint32_t bs;

    if (vus_fe_connect(&cfg, &fe)) {
        fprintf(stderr, "vus_pattern: cannot connect to %s\n", sock);
        return 1;
    }
    vq = vus_fe_vq(fe, 2);
    cap = vus_fe_alloc(fe, 32, 64);
    buf = vus_fe_alloc(fe, CHUNK, 4096);
    chk = vus_fe_alloc(fe, CHUNK, 4096);
    cdb[13] = 32;
    if (!cap || !buf || !chk || scsi(vq, lun, cdb, NULL, cap, 32, "READ CAPACITY(16)"))
        return 1;
    bs = (uint32_t)cap[8] << 24 | cap[9] << 16 | cap[10] << 8 | cap[11];
    if (!bs || off % bs || bytes % bs || CHUNK % bs) {
        fprintf(stderr, "vus_pattern: offset/length not multiples of the block size %u\n", bs);
        return 1;
    }
    for (uint64_t done = 0; done < bytes; done += CHUNK) {
        uint32_t n = bytes - done < CHUNK ? (uint32_t)(bytes - done) : CHUNK;

        gen(seed, done, buf, n);
        rw16(cdb, 0x8a, (off + done) / bs, n / bs);
        if (scsi(vq, lun, cdb, buf, NULL, n, "WRITE(16)"))
            return 1;
        memset(chk, 0, n);
        rw16(cdb, 0x88, (off + done) / bs, n / bs);
        if (scsi(vq, lun, cdb, NULL, chk, n, "READ(16)"))
            return 1;
        if (memcmp(buf, chk, n) != 0) {
            fprintf(stderr, "vus_pattern: read back differs at byte %" PRIu64 "+\n", off + done);
            return 1;
        }
    }
    /* SYNCHRONIZE CACHE(10): the host reads the backing file after power-off. */
    memset(cdb, 0, 16);
    cdb[0] = 0x35;
    if (scsi(vq, lun, cdb, NULL, NULL, 0, "SYNCHRONIZE CACHE"))
        return 1;
    vus_fe_close(fe);
    printf("vus_pattern: %" PRIu64 " bytes (seed %" PRIu64 ") at %" PRIu64 " written, read back, "
           "synced (block size %u)\n",
           bytes, seed, off, bs);
    return 0;
}

/* --- vus_pattern check: one SCSI command and what it must do --- */

struct ctx {
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
    unsigned lun;
    uint32_t bs;
    uint64_t blocks; /* capacity */
    bool lbprz;
    uint8_t *buf, *chk; /* CHUNK bytes each, in guest memory */
};

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "vus_pattern: " __VA_ARGS__);                                              \
        return 1;                                                                                  \
    } while (0)

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void cdb_lba16(uint8_t *cdb, uint8_t op, uint8_t b1, uint64_t lba, uint32_t n)
{
    rw16(cdb, op, lba, n);
    cdb[1] = b1;
}

/* OFFSET and BYTES as blocks: aligned, non-empty, inside the LUN, at most max bytes. */
static int range_of(const struct ctx *x, const char *o, const char *b, uint64_t max, uint64_t *lba,
                    uint32_t *n)
{
    uint64_t off = strtoull(o, NULL, 0), bytes = strtoull(b, NULL, 0);

    if (!bytes || off % x->bs || bytes % x->bs || bytes > max ||
        off / x->bs + bytes / x->bs > x->blocks)
        FAIL("range %s+%s: not whole blocks of %u, empty, over %" PRIu64 " bytes or past the end\n",
             o, b, x->bs, max);
    *lba = off / x->bs;
    *n = (uint32_t)(bytes / x->bs);
    return 0;
}

static int rw(struct ctx *x, uint8_t op, uint64_t lba, uint32_t n, void *p)
{
    uint8_t cdb[16];

    rw16(cdb, op, lba, n);
    return scsi(x->vq, x->lun, cdb, op == 0x8a ? p : NULL, op == 0x88 ? p : NULL, (size_t)n * x->bs,
                op == 0x8a ? "WRITE(16)" : "READ(16)");
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Pattern over [lba, lba+n), checked by a read back. */
static int fill(struct ctx *x, uint64_t lba, uint32_t n, uint64_t seed)
{
    gen(seed, 0, x->buf, (size_t)n * x->bs);
    if (rw(x, 0x8a, lba, n, x->buf) || rw(x, 0x88, lba, n, x->chk))
        return 1;
    if (memcmp(x->buf, x->chk, (size_t)n * x->bs) != 0)
        FAIL("pattern at LBA %" PRIu64 " does not read back\n", lba);
    return 0;
}

static int ck_writesame(struct ctx *x, char **av)
{
    uint8_t cdb[16];
    uint64_t lba;
    uint32_t n;

    if (range_of(x, av[0], av[1], CHUNK / 2, &lba, &n))
        return 1;
    if (lba == 0 || lba + n + 1 > x->blocks)
        FAIL("writesame needs a block either side of the range\n");
    if (fill(x, lba - 1, n + 2, 0x5753))
        return 1;
    memset(x->buf, 0, x->bs);
    cdb_lba16(cdb, 0x93, 0, lba, n); /* WRITE SAME(16), UNMAP=0, NDOB=0 */
    if (scsi(x->vq, x->lun, cdb, x->buf, NULL, x->bs, "WRITE SAME(16)"))
        return 1;
    memset(x->chk, 0xa5, (size_t)(n + 2) * x->bs);
    if (rw(x, 0x88, lba - 1, n + 2, x->chk))
        return 1;
    gen(0x5753, 0, x->buf, (size_t)(n + 2) * x->bs);
    if (memcmp(x->chk, x->buf, x->bs) != 0 ||
        memcmp(x->chk + (size_t)(n + 1) * x->bs, x->buf + (size_t)(n + 1) * x->bs, x->bs) != 0)
        FAIL("WRITE SAME touched the blocks next to LBA %" PRIu64 "+%u\n", lba, n);
    if (!all_zero(x->chk + x->bs, (size_t)n * x->bs))
        FAIL("WRITE SAME of zeroes: LBA %" PRIu64 "+%u does not read back as zeroes\n", lba, n);
    printf("vus_pattern: WRITE SAME(16) of zeroes, LBA %" PRIu64 "+%u: zeroes, neighbours intact\n",
           lba, n);
    return 0;
}

static int ck_verify(struct ctx *x, char **av)
{
    uint8_t cdb[16];
    uint64_t lba;
    uint32_t n;

    if (range_of(x, av[0], av[1], 1ull << 30, &lba, &n))
        return 1;
    cdb_lba16(cdb, 0x8f, 0, lba, n); /* VERIFY(16), BYTCHK=0: a medium check */
    if (scsi(x->vq, x->lun, cdb, NULL, NULL, 0, "VERIFY(16) BYTCHK=0"))
        return 1;
    printf("vus_pattern: VERIFY(16) BYTCHK=0, LBA %" PRIu64 "+%u: GOOD\n", lba, n);
    return 0;
}

static int ck_sync(struct ctx *x, char **av)
{
    uint8_t cdb[16];

    (void)av;
    cdb_lba16(cdb, 0x91, 0, 0, 0); /* SYNCHRONIZE CACHE(16), 0 blocks: to the end */
    if (scsi(x->vq, x->lun, cdb, NULL, NULL, 0, "SYNCHRONIZE CACHE(16)"))
        return 1;
    printf("vus_pattern: SYNCHRONIZE CACHE(16): GOOD\n");
    return 0;
}

static int ck_unmap(struct ctx *x, char **av)
{
    uint8_t cdb[16] = { 0x42 }, *p = x->buf;
    uint64_t lba;
    uint32_t n;

    if (range_of(x, av[0], av[1], CHUNK / 2, &lba, &n) || fill(x, lba, n, 0x554d))
        return 1;
    memset(p, 0, 24);
    p[1] = 22; /* UNMAP DATA LENGTH */
    p[3] = 16; /* BLOCK DESCRIPTOR DATA LENGTH */
    for (int i = 0; i < 8; i++)
        p[8 + i] = (uint8_t)(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        p[16 + i] = (uint8_t)(n >> (24 - 8 * i));
    cdb[8] = 24; /* PARAMETER LIST LENGTH */
    if (scsi(x->vq, x->lun, cdb, p, NULL, 24, "UNMAP"))
        return 1;
    memset(x->chk, 0xa5, (size_t)n * x->bs);
    if (rw(x, 0x88, lba, n, x->chk))
        return 1;
    if (x->lbprz && !all_zero(x->chk, (size_t)n * x->bs))
        FAIL("UNMAP of LBA %" PRIu64 "+%u: LBPRZ=1 but it does not read back as zeroes\n", lba, n);
    printf("vus_pattern: UNMAP LBA %" PRIu64 "+%u: GOOD; LBPRZ=%d, reads back %s\n", lba, n,
           x->lbprz, all_zero(x->chk, (size_t)n * x->bs) ? "zeroes" : "data (allowed: LBPRZ=0)");
    return 0;
}

static int vpd(struct ctx *x, uint8_t page, uint8_t *out, size_t *len)
{
    uint8_t cdb[16] = { 0x12, 0x01, page, 0x01, 0x00 }; /* INQUIRY EVPD, 256 bytes */
    char what[32];

    snprintf(what, sizeof(what), "INQUIRY VPD %02xh", page);
    memset(out, 0, 256);
    if (scsi(x->vq, x->lun, cdb, NULL, out, 256, what))
        return 1;
    if (out[1] != page)
        FAIL("%s answered page %02xh\n", what, out[1]);
    *len = 4 + get_be(&out[2], 2);
    if (*len > 256)
        *len = 256;
    return 0;
}

static int ck_serial(struct ctx *x, char **av)
{
    size_t len, n;
    char got[257];

    if (vpd(x, 0x80, x->chk, &len))
        return 1;
    n = len - 4;
    memcpy(got, x->chk + 4, n);
    while (n > 0 && got[n - 1] == ' ')
        n--;
    got[n] = '\0';
    if (strcmp(got, av[0]) != 0)
        FAIL("VPD 80h serial '%s', want '%s'\n", got, av[0]);
    printf("vus_pattern: VPD 80h serial '%s'\n", got);
    return 0;
}

static int ck_eui64(struct ctx *x, char **av)
{
    bool want = strcmp(av[0], "none") != 0, found = false;
    uint64_t eui = strtoull(av[0], NULL, 16), got = 0;
    size_t len;

    if (vpd(x, 0x83, x->chk, &len))
        return 1;
    for (size_t off = 4; off + 4 <= len; off += 4 + x->chk[off + 3]) {
        const uint8_t *d = x->chk + off;

        printf("vus_pattern: VPD 83h designator type %u, association %u, %u bytes\n", d[1] & 0xf,
               (d[1] >> 4) & 3, d[3]);
        if ((d[1] & 0xf) == 2 && d[3] == 8 && off + 12 <= len) {
            found = true;
            got = get_be(d + 4, 8);
        }
    }
    if (!want && found)
        FAIL("VPD 83h has an EUI-64 designator %016" PRIx64 ", want none\n", got);
    if (want && !found)
        FAIL("VPD 83h has no 8-byte EUI-64 designator (type 2), want %016" PRIx64 "\n", eui);
    if (want && got != eui)
        FAIL("VPD 83h EUI-64 %016" PRIx64 ", want %016" PRIx64 "\n", got, eui);
    printf("vus_pattern: VPD 83h EUI-64: %s\n", av[0]);
    return 0;
}

static int ck_maxxfer(struct ctx *x, char **av)
{
    uint64_t want = strtoull(av[0], NULL, 0), got;
    size_t len;

    if (vpd(x, 0xb0, x->chk, &len))
        return 1;
    if (len < 12)
        FAIL("Block Limits VPD is %zu bytes long\n", len);
    got = get_be(&x->chk[8], 4);
    if (got != want)
        FAIL("Block Limits MAXIMUM TRANSFER LENGTH %" PRIu64 " blocks, want %" PRIu64 "\n", got,
             want);
    printf("vus_pattern: Block Limits MAXIMUM TRANSFER LENGTH %" PRIu64 " blocks of %u\n", got,
           x->bs);
    return 0;
}

static int ck_pastend(struct ctx *x, char **av)
{
    struct vus_fe_cmd c;
    unsigned key, asc, ascq;
    uint8_t cdb[16];

    (void)av;
    rw16(cdb, 0x88, x->blocks, 1);
    if (scsi_raw(x->vq, x->lun, cdb, NULL, x->chk, x->bs, &c) || c.response != 0)
        FAIL("READ(16) past the end: not delivered (response %u)\n", c.response);
    sense_of(&c, &key, &asc, &ascq);
    if (c.status != 2 || key != 5 || asc != 0x21 || ascq != 0)
        FAIL("READ(16) at LBA %" PRIu64 " (the capacity): status %#x sense %x/%02x/%02x, want "
             "CHECK CONDITION 5/21/00\n",
             x->blocks, c.status, key, asc, ascq);
    printf("vus_pattern: READ(16) at LBA %" PRIu64 ": CHECK CONDITION, ILLEGAL REQUEST 21/00\n",
           x->blocks);
    return 0;
}

static const struct {
    const char *name;
    int nargs;
    int (*fn)(struct ctx *, char **);
} checks[] = {
    { "writesame", 2, ck_writesame }, { "verify", 2, ck_verify },   { "sync", 0, ck_sync },
    { "unmap", 2, ck_unmap },         { "serial", 1, ck_serial },   { "eui64", 1, ck_eui64 },
    { "maxxfer", 1, ck_maxxfer },     { "pastend", 0, ck_pastend },
};

static int do_check(const char *sock, unsigned lun, const char *what, int argc, char **av)
{
    struct vus_fe_config cfg = { .socket_path = sock, .mem_size = 8 << 20, .timeout_ms = 10000 };
    struct ctx x = { .lun = lun };
    uint8_t cdb[16] = { 0x9e, 0x10 }, *cap;
    int rc;

    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        if (strcmp(checks[i].name, what) != 0)
            continue;
        if (argc != checks[i].nargs)
            FAIL("check %s takes %d argument(s)\n", what, checks[i].nargs);
        if (vus_fe_connect(&cfg, &x.fe))
            FAIL("cannot connect to %s\n", sock);
        x.vq = vus_fe_vq(x.fe, 2);
        cap = vus_fe_alloc(x.fe, 32, 64);
        x.buf = vus_fe_alloc(x.fe, CHUNK, 4096);
        x.chk = vus_fe_alloc(x.fe, CHUNK, 4096);
        cdb[13] = 32;
        if (!cap || !x.buf || !x.chk || scsi(x.vq, lun, cdb, NULL, cap, 32, "READ CAPACITY(16)"))
            return 1;
        x.blocks = get_be(cap, 8) + 1;
        x.bs = (uint32_t)get_be(&cap[8], 4);
        x.lbprz = cap[14] & 0x40;
        if (!x.bs || CHUNK % x.bs)
            FAIL("block size %u\n", x.bs);
        rc = checks[i].fn(&x, av);
        vus_fe_close(x.fe);
        return rc;
    }
    FAIL("no check '%s'\n", what);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0) {
        uint64_t seed = strtoull(argv[2], NULL, 0), bytes = strtoull(argv[3], NULL, 0);
        static uint8_t buf[CHUNK];

        for (uint64_t done = 0; done < bytes; done += CHUNK) {
            size_t n = bytes - done < CHUNK ? bytes - done : CHUNK;

            gen(seed, done, buf, n);
            if (fwrite(buf, 1, n, stdout) != n)
                return 1;
        }
        return 0;
    }
    if (argc == 7 && strcmp(argv[1], "write") == 0)
        return do_write(argv[2], (unsigned)strtoul(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
                        strtoull(argv[5], NULL, 0), strtoull(argv[6], NULL, 0));
    if (argc >= 5 && strcmp(argv[1], "check") == 0)
        return do_check(argv[2], (unsigned)strtoul(argv[3], NULL, 0), argv[4], argc - 5, argv + 5);
    fprintf(stderr, "usage: vus_pattern gen SEED BYTES | write SOCKET LUN OFFSET BYTES SEED | "
                    "check SOCKET LUN WHAT [ARGS]\n");
    return 2;
}
