/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: packed-virtqueue descriptor walking (virtq_pop, virtq_push
 * and friends with vq->packed set) over guest memory whose every byte is
 * fuzzed, the guest rewriting it between the device's steps.
 *
 * Guest memory as in fuzz_virtq.c: one memfd seen as regions A (gpa 0) and
 * B, adjacent or with a hole between them.
 *
 * Input layout (missing bytes read as zero):
 *   [0]      bit 0 hole between A and B, 1 EVENT_IDX, 2 INDIRECT_DESC
 *   [1..2]   le16 ring size, mod 1024, plus 1 (any size, not only powers of two)
 *   [3..8]   descriptor ring, driver area, device area: le16 offsets into
 *            the 16 KiB of guest memory (past it: unmapped)
 *   [9..12]  le32 base (SET_VRING_BASE layout for packed rings)
 *   [13..14] capacity of the iovec array (1..1024)
 *   [15]     length of the operation script that follows the header
 *   [16..]   script, then the initial contents of guest memory
 *
 * Oracles: every iovec lies inside one mapped region and the counts respect
 * the capacity, IDs are in range, -EIO only with a broken queue, the ring
 * positions stay inside the ring, and the IDs in flight are exactly those the
 * script holds.
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

#include "vhost/vu_mem.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"
#include "virtq/virtq_packed.h"

#define REG_SIZE  0x2000ull
#define MEM_SIZE  (2 * REG_SIZE)
#define UVA_A     0x7f0000000000ull
#define UVA_B     0x7f1000000000ull
#define HOLE_GPA  0x100000ull
#define HDR_SIZE  16
#define MAX_HELD  64
#define MAX_STEPS 512

static struct vu_mem_table tables[2];
static uint8_t *image;
static int call_fd = -1;
static struct iovec iovs[VIRTQ_MAX_IOV];

static void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_virtq_packed: invariant broken: %s\n", what);
    __builtin_trap();
}

static void fz_init(void)
{
    int fd = memfd_create("fuzz_virtq_packed", MFD_CLOEXEC);

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

static uint64_t off_to_uva(uint16_t off)
{
    if (off < REG_SIZE)
        return UVA_A + off;
    return UVA_B + (off - REG_SIZE);
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
        fz_bug("ID out of range");
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

static void check_state(const struct virtq *vq, const uint16_t *held, unsigned nheld)
{
    unsigned busy = 0;

    if (vq->last_avail_idx >= vq->num || vq->used_idx >= vq->num)
        fz_bug("ring position outside the ring");
    for (unsigned i = 0; i < vq->num; i++)
        busy += vq->bufs[i].busy;
    if (busy != nheld)
        fz_bug("IDs in flight differ from the ones held");
    for (unsigned i = 0; i < nheld; i++)
        if (!vq->bufs[held[i]].busy)
            fz_bug("a held ID is not in flight");
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
    bool last_pop_held = false;
    struct script s;
    uint64_t sink;

    if (!inited) {
        fz_init();
        inited = true;
    }
    memcpy(hdr, data, size < HDR_SIZE ? size : HDR_SIZE);
    s.p = data + (size < HDR_SIZE ? size : HDR_SIZE);
    s.left = size > HDR_SIZE ? size - HDR_SIZE : 0;
    if (s.left > hdr[15])
        s.left = hdr[15];
    {
        size_t img_off = HDR_SIZE + s.left, n = size > img_off ? size - img_off : 0;
        memset(image, 0, MEM_SIZE);
        memcpy(image, data + img_off, n < MEM_SIZE ? n : MEM_SIZE);
    }

    memset(&vq, 0, sizeof(vq));
    vq.packed = true;
    vq.num = (uint16_t)((hdr[1] | hdr[2] << 8) % 1024 + 1);
    vq.event_idx = hdr[0] & 2;
    vq.indirect = hdr[0] & 4;
    vq.call_fd = call_fd;
    virtq_set_base(&vq, (uint32_t)hdr[9] | (uint32_t)hdr[10] << 8 | (uint32_t)hdr[11] << 16 |
                            (uint32_t)hdr[12] << 24);
    if (virtq_set_addr(&vq, &tables[hdr[0] & 1], off_to_uva((uint16_t)(hdr[3] | hdr[4] << 8)),
                       off_to_uva((uint16_t)(hdr[5] | hdr[6] << 8)),
                       off_to_uva((uint16_t)(hdr[7] | hdr[8] << 8))) < 0) {
        virtq_release(&vq);
        return 0;
    }
    if (!host_range_ok(vq.mem, vq.pdesc, 16ull * vq.num) ||
        !host_range_ok(vq.mem, vq.driver_event, sizeof(*vq.driver_event)) ||
        !host_range_ok(vq.mem, vq.device_event, sizeof(*vq.device_event)))
        fz_bug("ring outside guest memory");
    elem.iov = iovs;
    elem.iov_max = (unsigned)(hdr[13] | hdr[14] << 8) % VIRTQ_MAX_IOV + 1;

    while (steps++ < MAX_STEPS) {
        /* Without a script: pop and complete until the ring is empty. */
        unsigned op = hdr[15] ? take8(&s) % 9 : 0;
        int ret;

        if (hdr[15] && !s.left && steps > 1)
            break;
        switch (op) {
        case 0:
        case 1:
            ret = virtq_pop(&vq, &elem);
            last_pop_held = false;
            if (ret == -EIO && !vq.broken)
                fz_bug("-EIO without a broken queue");
            if (ret == 0 || ret == -EIO) {
                if (!hdr[15])
                    goto drain;
                break;
            }
            if (ret != 1 && ret != -EBADMSG)
                fz_bug("unexpected virtq_pop result");
            check_elem(&vq, &elem, ret);
            if (op == 1 && nheld < MAX_HELD) {
                held[nheld++] = elem.head;
                last_pop_held = true;
            } else {
                virtq_push(&vq, elem.head, ret == 1 ? 1 : 0);
            }
            break;
        case 2:
            if (nheld) {
                unsigned i = take8(&s) % nheld;
                virtq_push(&vq, held[i], take16(&s));
                held[i] = held[--nheld];
                last_pop_held = false;
            }
            break;
        case 3: {
            /* A guest store while we run: two bytes anywhere in its memory. */
            unsigned off = take16(&s) % (unsigned)MEM_SIZE;
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
            ret = virtq_map_head(
                &vq, nheld && (take8(&s) & 1) ? held[take8(&s) % nheld] : (uint16_t)take16(&s),
                &elem);
            if (ret == 1 || ret == -EBADMSG)
                check_elem(&vq, &elem, ret);
            else if (ret != -EIO)
                fz_bug("unexpected virtq_map_head result");
            break;
        case 8:
            /* Hand back the most recent pop, as the event queue does when its ring stops. */
            if (last_pop_held) {
                virtq_unpop(&vq, &held[nheld - 1], 1);
                nheld--;
                last_pop_held = false;
            }
            break;
        }
        check_state(&vq, held, nheld);
    }
drain:
    while (nheld)
        virtq_push(&vq, held[--nheld], 0);
    check_state(&vq, held, 0);
    virtq_release(&vq);
    if (read(call_fd, &sink, sizeof(sink)) < 0) {
        /* EAGAIN: nothing was signalled. */
    }
    return 0;
}
