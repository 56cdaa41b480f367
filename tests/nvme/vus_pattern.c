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
 *
 * The generator is xorshift64* over 8-byte words: the same bytes on every
 * host, no library needed in the guest.
 */
#include <inttypes.h>
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

static int scsi(struct vus_fe_vq *vq, unsigned lun, const uint8_t *cdb, void *out, void *in,
                size_t len, const char *what)
{
    struct vus_fe_cmd c = { .lun = lun };
    struct iovec v = { out ? out : in, len };
    int rc;

    memcpy(c.cdb, cdb, 16);
    if (out) {
        c.out = &v;
        c.out_cnt = 1;
    } else if (in) {
        c.in = &v;
        c.in_cnt = 1;
    }
    /* The first command of a new nexus gets the power-on unit attention: retry it. */
    for (int tries = 0; tries < 3; tries++) {
        rc = vus_fe_cmd_exec(vq, &c, 60000);
        if (rc || c.status != 2 || (c.sense[2] & 0xf) != 6)
            break;
    }
    if (rc || c.response != 0 || c.status != 0) {
        fprintf(stderr, "vus_pattern: %s: rc %d response %u status %#x sense %02x/%02x/%02x\n",
                what, rc, c.response, c.status, c.sense[2] & 0xf, c.sense[12], c.sense[13]);
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
    fprintf(stderr, "usage: vus_pattern gen SEED BYTES | write SOCKET LUN OFFSET BYTES SEED\n");
    return 2;
}
