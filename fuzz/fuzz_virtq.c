/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: split-virtqueue descriptor walking (virtq_pop, virtq_push
 * and friends) over guest memory whose every byte is fuzzed.
 *
 * Guest memory is one memfd seen as two regions, A and B, adjacent or with a
 * hole between them (fuzz_guest_mem.h).  The rings live wherever the input
 * says, in either region or nowhere.
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
#include <string.h>
#include <unistd.h>

#include "vhost/vu_inflight.h"
#include "fuzz_guest_mem.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define MAX_HELD  64
#define MAX_STEPS 512 /* pops and pushes per input, so a slow input stays slow only linearly */

static struct fz_guest guest;
static struct iovec iovs[VIRTQ_MAX_IOV];
static uint8_t inflight_buf[1 << 20] __attribute__((aligned(64)));

static bool ranges_meet(const void *a, uint64_t alen, const void *b, uint64_t blen)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

    return x < y + blen && y < x + alen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[FZ_HDR_SIZE];
    struct virtq vq;
    struct virtq_elem elem;
    uint16_t held[MAX_HELD];
    unsigned nheld = 0, steps = 0;
    bool used_private;
    struct fz_script s;

    fz_guest_load(&guest, "fuzz_virtq", data, size, hdr, 12, &s);

    fz_vq_init(&vq, &guest, false, hdr[0]);
    vq.num = (uint16_t)(1u << (hdr[1] % 16));
    virtq_set_base(&vq, (uint16_t)(hdr[8] | hdr[9] << 8));
    if (fz_vq_map(&vq, &guest, hdr[0], &hdr[2]) < 0)
        return 0;
    if (!fz_host_range_ok(vq.mem, vq.desc, vring_desc_size(vq.num)) ||
        !fz_host_range_ok(vq.mem, vq.avail, vring_avail_size(vq.num)) ||
        !fz_host_range_ok(vq.mem, vq.used, vring_used_size(vq.num)))
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
        unsigned op = hdr[12] ? fz_take8(&s) % 8 : 0;
        int ret;

        if (hdr[12] && !s.left && steps > 1)
            break;
        switch (op) {
        case 0:
        case 1:
            ret = fz_pop(&vq, &elem);
            if (ret == 0 || ret == -EIO) {
                if (!hdr[12])
                    goto drain;
                break;
            }
            if (op == 1 && nheld < MAX_HELD)
                held[nheld++] = elem.head;
            else
                virtq_push(&vq, elem.head, ret == 1 ? 1 : 0);
            break;
        case 2:
            fz_push_held(&vq, held, &nheld, &s);
            break;
        case 3:
            /* The guest may store over used->idx from now on. */
            used_private = false;
            fz_common_op(&guest, &vq, op, &s);
            break;
        case 7:
            fz_map_head(&vq, (uint16_t)fz_take16(&s), &elem);
            break;
        default:
            fz_common_op(&guest, &vq, op, &s);
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
    fz_guest_clear_calls(&guest);
    return 0;
}
