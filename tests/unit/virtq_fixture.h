/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the virtqueue unit tests of both ring layouts (test_virtq.c,
 * test_virtq_packed.c), so that they build the same guest: a memfd seen as
 * region A at gpa 0 and region B right after it, then unmapped; rings and
 * buffers at the same places.  A test includes it after <cmocka.h>.
 */
#ifndef VUS_TESTS_UNIT_VIRTQ_FIXTURE_H
#define VUS_TESTS_UNIT_VIRTQ_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost/vu_mem.h"
#include "virtq/virtq.h"

#define A_SIZE    0x40000ull /* region A: gpa [0, A_SIZE) */
#define B_SIZE    0x10000ull /* region B: right after A; then unmapped */
#define HOLE_GPA  (A_SIZE + B_SIZE)
#define UVA_A     0x7f0000000000ull
#define UVA_B     0x7f1000000000ull
#define DESC_GPA  0x0
#define TABLE_GPA 0x3000 /* an indirect table */
#define DATA_GPA  0x10000

static inline void vqfx_mem_init(struct vu_mem_table *mem, const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, A_SIZE + B_SIZE), 0);
    assert_int_equal(vu_mem_add_region(mem, 0, A_SIZE, UVA_A, 0, dup(fd)), 0);
    assert_int_equal(vu_mem_add_region(mem, A_SIZE, B_SIZE, UVA_B, A_SIZE, fd), 0);
}

/* The host address of guest-physical gpa, which must be mapped. */
static inline void *vqfx_host(const struct vu_mem_table *mem, uint64_t gpa)
{
    void *p = vu_mem_gpa_to_host(mem, gpa, 1);

    assert_non_null(p);
    return p;
}

/* What a test's queue may hold when it ends, whatever the layout. */
static inline void vqfx_release(struct virtq *vq, struct vu_mem_table *mem)
{
    if (vq->call_fd >= 0)
        close(vq->call_fd);
    free(vq->inflight);
    virtq_release(vq);
    vu_mem_table_clear(mem);
}

#endif
