/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: split-virtqueue descriptor walking (virtq_pop, virtq_push
 * and friends) over guest memory whose every byte is fuzzed.
 *
 * Guest memory is one memfd seen as two regions of a vu_mem_table, A at gpa
 * 0 and B either right after it or far away (a hole in between), as in
 * tests/unit/test_virtq.c.  The rings live wherever the input says, in
 * either region or nowhere.
 *
 * Input layout (missing bytes read as zero):
 *   [0]      bit 0 hole between A and B, 1 EVENT_IDX, 2 INDIRECT_DESC,
 *            3 inflight tracking
 *   [1]      log2 of the ring size (mod 16)
 *   [2..7]   desc, avail, used: le16 offsets into the 16 KiB of guest memory
 *            (past it: unmapped)
 *   [8..9]   starting avail index (SET_VRING_BASE)
 *   [10..11] capacity of the iovec array (1..1024)
 *   [12]     length of the operation script that follows the header
 *   [16..]   script, then the initial contents of guest memory
 *
 * Oracles: every iovec a pop returns lies inside one mapped region, the
 * counts respect the capacity, heads are in range, used->idx in guest memory
 * is what we last published, and the inflight region stays consistent.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost/vu_inflight.h"
#include "vhost/vu_mem.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define REG_SIZE  0x2000ull
#define MEM_SIZE  (2 * REG_SIZE)
#define UVA_A     0x7f0000000000ull
#define UVA_B     0x7f1000000000ull
#define HOLE_GPA  0x100000ull
#define HDR_SIZE  16
#define MAX_HELD  64
#define MAX_STEPS 512 /* pops and pushes per input, so a slow input stays slow only linearly */

static struct vu_mem_table tables[2]; /* [0]: A and B adjacent, [1]: a hole between them */
static uint8_t *image;                /* host view of all guest memory */
static int call_fd = -1;
static struct iovec iovs[VIRTQ_MAX_IOV];
static uint8_t inflight_buf[1 << 20] __attribute__((aligned(64)));

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_virtq: invariant broken: %s\n", what);
    __builtin_trap();
}

static void fz_init(void)
{
    int fd = memfd_create("fuzz_virtq", MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, (off_t)MEM_SIZE) < 0)
        fz_bug("memfd");
    for (int t = 0; t < 2; t++) {
        uint64_t gpa_b = t ? HOLE_GPA : REG_SIZE;
        if (vu_mem_add_region(&tables[t], 0, REG_SIZE, UVA_A, 0, dup(fd)) < 0 ||
            vu_mem_add_region(&tables[t], gpa_b, REG_SIZE, UVA_B, REG_SIZE, dup(fd)) < 0)
            fz_bug("memory table");
    }
    image = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (image == MAP_FAILED)
        fz_bug("mmap");
    close(fd);
    call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (call_fd < 0)
        fz_bug("eventfd");
}

/* Offset into guest memory as the frontend's address of that byte. */
static uint64_t off_to_uva(uint16_t off)
{
    if (off < REG_SIZE)
        return UVA_A + off;
    return UVA_B + (off - REG_SIZE); /* past B's end: unmapped, set_addr must refuse */
}

static bool host_range_ok(const struct vu_mem_table *t, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;

    for (unsigned i = 0; i < t->nregions; i++) {
        uintptr_t h = (uintptr_t)t->regions[i].host;
        if (a >= h && len <= t->regions[i].size && a - h <= t->regions[i].size - len)
            return true;
    }
    return false;
}

static void check_elem(const struct virtq *vq, const struct virtq_elem *e, int ret)
{
    if (e->head >= vq->num)
        fz_bug("head out of range");
    if (ret < 0) {
        if (e->out_num || e->in_num)
            fz_bug("a failed chain still reports buffers");
        return;
    }
    if ((size_t)e->out_num + e->in_num > e->iov_max)
        fz_bug("more iovecs than the capacity");
    for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
        if (e->iov[i].iov_len == 0)
            fz_bug("empty iovec");
        if (!host_range_ok(vq->mem, e->iov[i].iov_base, e->iov[i].iov_len))
            fz_bug("iovec outside guest memory");
    }
}

static bool ranges_meet(const void *a, uint64_t alen, const void *b, uint64_t blen)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

    return x < y + blen && y < x + alen;
}

struct script {
    const uint8_t *p;
    size_t left;
};

static unsigned take8(struct script *s)
{
    if (!s->left)
        return 0;
    s->left--;
    return *s->p++;
}

static unsigned take16(struct script *s)
{
    unsigned lo = take8(s);
    return lo | take8(s) << 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    uint8_t hdr[HDR_SIZE] = { 0 };
    struct virtq vq;
    struct virtq_elem elem;
    uint16_t held[MAX_HELD];
    unsigned nheld = 0, steps = 0;
    bool used_private;
    struct script s;
    uint64_t sink;

    if (!inited) {
        fz_init();
        inited = true;
    }
    memcpy(hdr, data, size < HDR_SIZE ? size : HDR_SIZE);
    s.p = data + (size < HDR_SIZE ? size : HDR_SIZE);
    s.left = size > HDR_SIZE ? size - HDR_SIZE : 0;
    if (s.left > hdr[12])
        s.left = hdr[12];
    {
        size_t img_off = HDR_SIZE + s.left, n = size > img_off ? size - img_off : 0;
        memset(image, 0, MEM_SIZE);
        memcpy(image, data + img_off, n < MEM_SIZE ? n : MEM_SIZE);
    }

    memset(&vq, 0, sizeof(vq));
    vq.num = (uint16_t)(1u << (hdr[1] % 16));
    vq.event_idx = hdr[0] & 2;
    vq.indirect = hdr[0] & 4;
    vq.call_fd = call_fd;
    virtq_set_base(&vq, (uint16_t)(hdr[8] | hdr[9] << 8));
    if (virtq_set_addr(&vq, &tables[hdr[0] & 1], off_to_uva((uint16_t)(hdr[2] | hdr[3] << 8)),
                       off_to_uva((uint16_t)(hdr[4] | hdr[5] << 8)),
                       off_to_uva((uint16_t)(hdr[6] | hdr[7] << 8))) < 0)
        return 0;
    if (!host_range_ok(vq.mem, vq.desc, vring_desc_size(vq.num)) ||
        !host_range_ok(vq.mem, vq.avail, vring_avail_size(vq.num)) ||
        !host_range_ok(vq.mem, vq.used, vring_used_size(vq.num)))
        fz_bug("ring outside guest memory");
    if ((hdr[0] & 8) && vu_inflight_queue_size(vq.num) <= sizeof(inflight_buf)) {
        vq.inflight = (struct vu_inflight_split *)inflight_buf;
        vu_inflight_queue_init(vq.inflight, vq.num, 0);
    }
    /* Only the device writes used->idx, unless the guest scribbles on it or the rings overlap. */
    used_private =
        !ranges_meet(vq.used, vring_used_size(vq.num), vq.desc, vring_desc_size(vq.num)) &&
        !ranges_meet(vq.used, vring_used_size(vq.num), vq.avail, vring_avail_size(vq.num));
    elem.iov = iovs;
    elem.iov_max = (unsigned)(hdr[10] | hdr[11] << 8) % VIRTQ_MAX_IOV + 1;

    /*
     * The script plays the guest and the device's completion order: pops,
     * deferred pushes and guest stores between them (the guest may rewrite
     * anything at any time).  Without a script: pop and complete everything.
     */
    while (steps++ < MAX_STEPS) {
        /* Without a script: pop and complete until the ring is empty. */
        unsigned op = hdr[12] ? take8(&s) % 8 : 0;
        int ret;

        if (hdr[12] && !s.left && steps > 1)
            break;
        switch (op) {
        case 0:
        case 1:
            ret = virtq_pop(&vq, &elem);
            if (ret == -EIO && !vq.broken)
                fz_bug("-EIO without a broken queue");
            if (ret == 0 || ret == -EIO) {
                if (!hdr[12])
                    goto drain;
                break;
            }
            if (ret != 1 && ret != -EBADMSG)
                fz_bug("unexpected virtq_pop result");
            check_elem(&vq, &elem, ret);
            if (op == 1 && nheld < MAX_HELD)
                held[nheld++] = elem.head;
            else
                virtq_push(&vq, elem.head, ret == 1 ? 1 : 0);
            break;
        case 2:
            if (nheld) {
                unsigned i = take8(&s) % nheld;
                virtq_push(&vq, held[i], take16(&s));
                held[i] = held[--nheld];
            }
            break;
        case 3: {
            /* A guest store while we run: two bytes anywhere in its memory. */
            unsigned off = take16(&s) % (unsigned)MEM_SIZE;
            used_private = false;
            image[off] = (uint8_t)take8(&s);
            if (off + 1 < MEM_SIZE)
                image[off + 1] = (uint8_t)take8(&s);
            break;
        }
        case 4:
            virtq_notify(&vq);
            break;
        case 5:
            virtq_enable_notify(&vq);
            break;
        case 6:
            virtq_disable_notify(&vq);
            break;
        case 7:
            ret = virtq_map_head(&vq, (uint16_t)take16(&s), &elem);
            if (ret == 1 || ret == -EBADMSG)
                check_elem(&vq, &elem, ret);
            else if (ret != -EIO)
                fz_bug("unexpected virtq_map_head result");
            break;
        }
        if (used_private &&
            le16toh(__atomic_load_n(&vq.used->idx, __ATOMIC_RELAXED)) != vq.used_idx)
            fz_bug("used->idx differs from what was published");
    }
drain:
    while (nheld)
        virtq_push(&vq, held[--nheld], 0);
    if (vq.inflight) {
        struct vu_inflight_entry left[4];
        int n = vu_inflight_collect(vq.inflight, vq.num, left, 4);
        /* Everything popped was pushed, so nothing may be left to resubmit. */
        if (n != 0)
            fz_bug("inflight region reports requests that were completed");
    }
    if (read(call_fd, &sink, sizeof(sink)) < 0) {
        /* EAGAIN: nothing was signalled. */
    }
    return 0;
}
