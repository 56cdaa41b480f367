/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: packed-virtqueue descriptor walking (virtq_pop, virtq_push
 * and friends with vq->packed set) over guest memory whose every byte is
 * fuzzed, the guest rewriting it between the device's steps.
 *
 * Guest memory as in fuzz_virtq.c (fuzz_guest_mem.h): one memfd seen as
 * regions A (gpa 0) and B, adjacent or with a hole between them.
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
#include <string.h>
#include <unistd.h>

#include "fuzz_guest_mem.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"
#include "virtq/virtq_packed.h"

#define MAX_HELD  64
#define MAX_STEPS 512

static struct fz_guest guest;
static struct iovec iovs[VIRTQ_MAX_IOV];

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[FZ_HDR_SIZE];
    struct virtq vq;
    struct virtq_elem elem;
    uint16_t held[MAX_HELD];
    unsigned nheld = 0, steps = 0;
    bool last_pop_held = false;
    struct fz_script s;

    fz_guest_load(&guest, "fuzz_virtq_packed", data, size, hdr, 15, &s);

    fz_vq_init(&vq, &guest, true, hdr[0]);
    vq.num = (uint16_t)((hdr[1] | hdr[2] << 8) % 1024 + 1);
    virtq_set_base(&vq, (uint32_t)hdr[9] | (uint32_t)hdr[10] << 8 | (uint32_t)hdr[11] << 16 |
                            (uint32_t)hdr[12] << 24);
    if (fz_vq_map(&vq, &guest, hdr[0], &hdr[3]) < 0) {
        virtq_release(&vq);
        return 0;
    }
    if (!fz_host_range_ok(vq.mem, vq.pdesc, 16ull * vq.num) ||
        !fz_host_range_ok(vq.mem, vq.driver_event, sizeof(*vq.driver_event)) ||
        !fz_host_range_ok(vq.mem, vq.device_event, sizeof(*vq.device_event)))
        fz_bug("ring outside guest memory");
    elem.iov = iovs;
    elem.iov_max = (unsigned)(hdr[13] | hdr[14] << 8) % VIRTQ_MAX_IOV + 1;

    while (steps++ < MAX_STEPS) {
        /* Without a script: pop and complete until the ring is empty. */
        unsigned op = hdr[15] ? fz_take8(&s) % 9 : 0;
        int ret;

        if (hdr[15] && !s.left && steps > 1)
            break;
        switch (op) {
        case 0:
        case 1:
            ret = fz_pop(&vq, &elem);
            last_pop_held = false;
            if (ret == 0 || ret == -EIO) {
                if (!hdr[15])
                    goto drain;
                break;
            }
            if (op == 1 && nheld < MAX_HELD) {
                held[nheld++] = elem.head;
                last_pop_held = true;
            } else {
                virtq_push(&vq, elem.head, ret == 1 ? 1 : 0);
            }
            break;
        case 2:
            /* The held array reorders: the last pop is no longer last. */
            if (fz_push_held(&vq, held, &nheld, &s))
                last_pop_held = false;
            break;
        case 7:
            fz_map_head(&vq,
                        nheld && (fz_take8(&s) & 1) ? held[fz_take8(&s) % nheld]
                                                    : (uint16_t)fz_take16(&s),
                        &elem);
            break;
        case 8:
            /* Hand back the most recent pop, as the event queue does when its ring stops. */
            if (last_pop_held) {
                virtq_unpop(&vq, &held[nheld - 1], 1);
                nheld--;
                last_pop_held = false;
            }
            break;
        default:
            fz_common_op(&guest, &vq, op, &s);
            break;
        }
        check_state(&vq, held, nheld);
    }
drain:
    while (nheld)
        virtq_push(&vq, held[--nheld], 0);
    check_state(&vq, held, 0);
    virtq_release(&vq);
    fz_guest_clear_calls(&guest);
    return 0;
}
