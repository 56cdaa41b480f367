/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the two virtqueue targets (fuzz_virtq.c, fuzz_virtq_packed.c) share,
 * so that both fuzz the same guest: one memfd seen as two regions of a
 * vu_mem_table, A at gpa 0 and B either right after it or far away (a hole
 * in between), as in tests/unit/test_virtq.c; the input split into header,
 * operation script and initial guest memory; and the oracle on what a pop
 * returns.
 */
#ifndef VUS_FUZZ_GUEST_MEM_H
#define VUS_FUZZ_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost/vu_mem.h"
#include "virtq/virtq.h"

#define FZ_REG_SIZE 0x2000ull
#define FZ_MEM_SIZE (2 * FZ_REG_SIZE)
#define FZ_UVA_A    0x7f0000000000ull
#define FZ_UVA_B    0x7f1000000000ull
#define FZ_HOLE_GPA 0x100000ull
#define FZ_HDR_SIZE 16

struct fz_guest {
    struct vu_mem_table tables[2]; /* [0]: A and B adjacent, [1]: a hole between them */
    uint8_t *image;                /* host view of all guest memory */
    int call_fd;
};

/* The operations that follow the header: missing bytes read as zero. */
struct fz_script {
    const uint8_t *p;
    size_t left;
};

/* Report a broken invariant as a crash, which is what libFuzzer keeps. */
_Noreturn void fz_bug(const char *what);

/*
 * Split an input: FZ_HDR_SIZE header bytes into hdr (zero-filled), then a
 * script of at most hdr[script_len_at] bytes, then the initial contents of
 * guest memory (the rest zeroed).  The first call sets the guest up; name
 * is the target's, for fz_bug's messages and the memfd.
 */
void fz_guest_load(struct fz_guest *g, const char *name, const uint8_t *data, size_t size,
                   uint8_t hdr[FZ_HDR_SIZE], unsigned script_len_at, struct fz_script *s);

/*
 * A fresh queue of the given layout on g, its features from header byte 0:
 * bit 1 EVENT_IDX, bit 2 INDIRECT_DESC.  The target then sets num and the
 * base, and maps it with fz_vq_map.
 */
void fz_vq_init(struct virtq *vq, const struct fz_guest *g, bool packed, uint8_t hdr0);

/*
 * virtq_set_addr on the table header byte 0's bit 0 picks (a hole between A
 * and B or not), the three ring parts at the le16 offsets in offs[0..5].
 */
int fz_vq_map(struct virtq *vq, const struct fz_guest *g, uint8_t hdr0, const uint8_t *offs);

/* Offset into guest memory as the frontend's address of that byte; past B's end: unmapped. */
uint64_t fz_off_to_uva(uint16_t off);

/* [p, p + len) lies inside one region of t. */
bool fz_host_range_ok(const struct vu_mem_table *t, const void *p, size_t len);

/*
 * What a pop or virtq_map_head returned (ret 1 or -EBADMSG): the head in
 * range, no buffers for a failed chain, and otherwise no more iovecs than
 * the capacity, each non-empty and inside one region.
 */
void fz_check_elem(const struct virtq *vq, const struct virtq_elem *e, int ret);

/*
 * One pop, held to the oracle: 1 or -EBADMSG with elem checked, 0 for an
 * empty ring, -EIO only from a broken one.
 */
int fz_pop(struct virtq *vq, struct virtq_elem *elem);

/* virtq_map_head held to the same oracle; -EIO is the answer for a head not in flight. */
void fz_map_head(const struct virtq *vq, uint16_t head, struct virtq_elem *elem);

/* Complete one of the nheld heads the script holds, as it says; false if none is held. */
bool fz_push_held(struct virtq *vq, uint16_t *held, unsigned *nheld, struct fz_script *s);

/*
 * The script's operations that mean the same on both layouts: 3 a guest
 * store while we run (two bytes anywhere in its memory), 4 notify, 5 and 6
 * enable and disable notifications.  Others are left to the target.
 */
void fz_common_op(struct fz_guest *g, struct virtq *vq, unsigned op, struct fz_script *s);

/* Consume the interrupts of an input, so that the next one starts with none. */
void fz_guest_clear_calls(struct fz_guest *g);

unsigned fz_take8(struct fz_script *s);
unsigned fz_take16(struct fz_script *s);

#endif
