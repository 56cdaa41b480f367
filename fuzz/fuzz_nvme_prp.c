/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: nvme_prp_build over hostile iovecs.
 *
 * The guest chooses the iovecs of a request; the daemon chooses the page
 * size, the mapped regions and the PRP list room.  Addresses are numbers
 * only (never dereferenced), so any layout is cheap to try.
 *
 * Input layout (missing bytes read as zero):
 *   [0]      page size: 4 KiB << (b % 5)
 *   [1]      iovec count (1..32)
 *   [2..3]   list_max (mod 1100)
 *   [4..5]   list start, in qwords from a page boundary (mod page/8)
 *   [6]      bit 0..1: regions (1..4); bit 2: len = whole vector; bit 3: len = vector + 1
 *   [7..10]  len (when bits 2 and 3 of [6] are clear), mod the vector size + 1
 *   then per region 4 bytes: pages (le16), iova page (le16)
 *   then per iovec 9 bytes: region (u8, region count = unmapped), offset (le32), length (le32)
 *
 * Oracles: the result code equals a reference walk's; on success the PRPs,
 * read back the way a controller follows PRP2 and the list's chain
 * pointers, name exactly the reference's pages; list[] (allocated with
 * exactly list_max entries) and iov[] are never touched out of bounds (ASan).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/nvme_prp.h"
#include "../tests/unit/nvme_prp_ref.h"

#define MAX_IOV 32
#define REF_MAX 1200

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_nvme_prp: invariant broken: %s\n", what);
    __builtin_trap();
}

struct cursor {
    const uint8_t *d;
    size_t n, off;
};

static uint64_t take(struct cursor *c, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++, c->off++)
        v |= (uint64_t)(c->off < c->n ? c->d[c->off] : 0) << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t want[REF_MAX];
    struct cursor c = { data, size, 0 };
    uint64_t ps = 4096ull << (take(&c, 1) % 5);
    unsigned cnt = 1 + take(&c, 1) % MAX_IOV;
    unsigned list_max = take(&c, 2) % 1100;
    uint64_t list_iova = 0x4000000000ull + (take(&c, 2) % (ps / 8)) * 8;
    unsigned flags = (unsigned)take(&c, 1);
    uint64_t len_in = take(&c, 4);
    struct prp_ref_map m = { .n = 1 + (flags & 3) };
    struct iovec *iov;
    uint64_t *list, p1, p2, total = 0;
    size_t len;
    unsigned n = 0;
    int rc, rrc;

    for (unsigned i = 0; i < m.n; i++) {
        uint64_t pages = take(&c, 2), iova_page = take(&c, 2);
        /* Regions 4 GiB apart in va; in iova anywhere, overlapping each other or not. */
        m.r[i] = (struct prp_ref_region){ (uint64_t)(i + 1) << 32, pages * 4096, iova_page * ps };
    }
    iov = malloc(cnt * sizeof(*iov));
    list = malloc((list_max ? list_max : 1) * sizeof(*list));
    if (!iov || !list)
        abort();
    for (unsigned i = 0; i < cnt; i++) {
        unsigned reg = (unsigned)take(&c, 1) % (m.n + 1);
        uint64_t off = take(&c, 4), el = take(&c, 4);

        iov[i].iov_base = (void *)(uintptr_t)(((uint64_t)(reg + 1) << 32) + off);
        iov[i].iov_len = el;
        total += el;
    }
    if (flags & 4)
        len = total;
    else if (flags & 8)
        len = total + 1;
    else
        len = len_in % (total + 1);

    rrc = prp_ref_walk(iov, cnt, len, ps, &m, list_iova, list_max, want, REF_MAX, &n);
    rc = nvme_prp_build(iov, cnt, len, ps, prp_ref_tr, &m, &p1, &p2, list, list_iova, list_max);
    if (rc != rrc) {
        fprintf(stderr, "rc %d, reference %d\n", rc, rrc);
        fz_bug("result differs from the reference walk");
    }
    if (rc == 0) {
        uint64_t a = p2;

        /* Regions are mapped with iova == va modulo the page size, as the daemon maps them. */
        if (!nvme_prp_expressible(iov, cnt, len, ps))
            fz_bug("built but said inexpressible");
        if (n == 0 && (p1 || p2))
            fz_bug("PRPs for an empty transfer");
        if (n >= 1 && p1 != want[0])
            fz_bug("PRP1");
        if (n == 1 && p2 != 0)
            fz_bug("PRP2 set for one page");
        if (n == 2 && p2 != want[1])
            fz_bug("PRP2 is not the second page");
        if (n > 2) {
            if (p2 != list_iova)
                fz_bug("PRP2 is not the list");
            for (unsigned i = 1; i < n; i++) {
                uint64_t idx = (a - list_iova) / 8;
                if (a < list_iova || idx >= list_max)
                    fz_bug("list read beyond list_max");
                if ((a + 8) % ps == 0 && n - i > 1) {
                    a = list[idx];
                    idx = (a - list_iova) / 8;
                    if (a % ps || a < list_iova || idx >= list_max)
                        fz_bug("bad chain pointer");
                }
                if (list[idx] != want[i])
                    fz_bug("list entry differs from the reference");
                a += 8;
            }
        }
    }
    free(iov);
    free(list);
    return 0;
}
