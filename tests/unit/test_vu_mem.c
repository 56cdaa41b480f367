/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vhost/vu_mem.h"

#define PG 4096ull

static int make_memfd(size_t size)
{
    int fd = memfd_create("vu_mem_test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static bool fd_is_closed(int fd)
{
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int setup(void **state)
{
    static struct vu_mem_table t;
    memset(&t, 0, sizeof(t));
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    vu_mem_table_clear(*state);
    return 0;
}

static void test_translate_basic(void **state)
{
    struct vu_mem_table *t = *state;
    int fd = make_memfd(4 * PG);
    int keep = dup(fd);

    assert_int_equal(vu_mem_add_region(t, 0x100000, 4 * PG, 0x7f0000000000, 0, fd), 0);
    assert_true(fd_is_closed(fd));
    assert_int_equal(t->nregions, 1);

    char *h = vu_mem_gpa_to_host(t, 0x100000, 4 * PG);
    assert_non_null(h);
    assert_ptr_equal(vu_mem_gpa_to_host(t, 0x100010, 16), h + 0x10);
    assert_ptr_equal(vu_mem_gpa_to_host(t, 0x100000 + 4 * PG - 1, 1), h + 4 * PG - 1);
    assert_null(vu_mem_gpa_to_host(t, 0x100000 + 4 * PG - 1, 2));
    assert_null(vu_mem_gpa_to_host(t, 0x100000 + 4 * PG, 0));
    assert_null(vu_mem_gpa_to_host(t, 0xfffff, 1));
    assert_null(vu_mem_gpa_to_host(t, 0x100000, UINT64_MAX));
    assert_null(vu_mem_gpa_to_host(t, UINT64_MAX, 2));

    assert_ptr_equal(vu_mem_uva_to_host(t, 0x7f0000000000 + 8, 8), h + 8);
    assert_null(vu_mem_uva_to_host(t, 0x100000, 8));
    assert_null(vu_mem_uva_to_host(t, 0x7f0000000000 + 4 * PG - 4, 8));

    /* The mapping is shared: what we write lands in the file. */
    memcpy(h + 100, "hello", 5);
    char buf[5];
    assert_int_equal(pread(keep, buf, 5, 100), 5);
    assert_memory_equal(buf, "hello", 5);
    close(keep);
}

static void test_mmap_offset(void **state)
{
    struct vu_mem_table *t = *state;
    int fd = make_memfd(3 * PG);
    assert_int_equal(pwrite(fd, "XYZ", 3, 2 * PG), 3);

    assert_int_equal(vu_mem_add_region(t, 0, PG, 0x1000, 2 * PG, fd), 0);
    assert_int_equal(t->regions[0].mmap_len, 3 * PG);
    char *h = vu_mem_gpa_to_host(t, 0, 3);
    assert_non_null(h);
    assert_memory_equal(h, "XYZ", 3);
    assert_null(vu_mem_gpa_to_host(t, PG, 1));
}

static void test_reject_bad_regions(void **state)
{
    struct vu_mem_table *t = *state;
    int fd;

    assert_int_equal(vu_mem_add_region(t, 0, PG, 0, 0, -1), -EBADF);

    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 0, 0, 0, 0, fd), -EINVAL);
    assert_true(fd_is_closed(fd));

    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, UINT64_MAX - 100, PG, 0, 0, fd), -EINVAL);
    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 0, PG, UINT64_MAX - PG + 1, 0, fd), -EINVAL);
    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 0, PG, 0, UINT64_MAX - 10, fd), -EINVAL);
    assert_true(fd_is_closed(fd));

    /* The frontend claims more than the file holds: touching it would SIGBUS. */
    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 0, 2 * PG, 0, 0, fd), -EINVAL);
    fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 0, PG, 0, PG, fd), -EINVAL);

    assert_int_equal(t->nregions, 0);
}

static void test_reject_overlap(void **state)
{
    struct vu_mem_table *t = *state;

    assert_int_equal(vu_mem_add_region(t, 0x10000, 2 * PG, 0x50000, 0, make_memfd(2 * PG)), 0);
    /* gpa overlap at either end. */
    assert_int_equal(vu_mem_add_region(t, 0x10000 + PG, 2 * PG, 0x90000, 0, make_memfd(2 * PG)),
                     -EEXIST);
    assert_int_equal(vu_mem_add_region(t, 0x10000 - PG, 2 * PG, 0x90000, 0, make_memfd(2 * PG)),
                     -EEXIST);
    /* uva overlap with disjoint gpa. */
    assert_int_equal(vu_mem_add_region(t, 0x80000, PG, 0x50000 + PG, 0, make_memfd(PG)), -EEXIST);
    /* Exactly adjacent in both spaces is fine. */
    assert_int_equal(
        vu_mem_add_region(t, 0x10000 + 2 * PG, PG, 0x50000 + 2 * PG, 0, make_memfd(PG)), 0);
    assert_int_equal(t->nregions, 2);
}

static void test_table_full(void **state)
{
    struct vu_mem_table *t = *state;
    for (unsigned i = 0; i < VU_MEM_MAX_REGIONS; i++)
        assert_int_equal(vu_mem_add_region(t, i * 2 * PG, PG, i * 2 * PG, 0, make_memfd(PG)), 0);
    int fd = make_memfd(PG);
    assert_int_equal(vu_mem_add_region(t, 1ull << 40, PG, 1ull << 40, 0, fd), -ENOSPC);
    assert_true(fd_is_closed(fd));
    assert_int_equal(t->nregions, VU_MEM_MAX_REGIONS);
    vu_mem_table_clear(t);
    assert_int_equal(t->nregions, 0);
    assert_null(vu_mem_gpa_to_host(t, 0, 1));
}

static void test_remove(void **state)
{
    struct vu_mem_table *t = *state;
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(vu_mem_add_region(t, i * PG, PG, 0x100000 + i * PG, 0, make_memfd(PG)), 0);
    char *h2 = vu_mem_gpa_to_host(t, 2 * PG, 1);
    assert_non_null(h2);

    assert_int_equal(vu_mem_remove_region(t, PG, PG, 0x100000), -ENOENT);
    assert_int_equal(vu_mem_remove_region(t, PG, 2 * PG, 0x100000 + PG), -ENOENT);
    assert_int_equal(vu_mem_remove_region(t, PG, PG, 0x100000 + PG), 0);
    assert_int_equal(t->nregions, 2);
    assert_null(vu_mem_gpa_to_host(t, PG, 1));
    assert_non_null(vu_mem_gpa_to_host(t, 0, PG));
    assert_ptr_equal(vu_mem_gpa_to_host(t, 2 * PG, 1), h2);
    assert_int_equal(vu_mem_remove_region(t, PG, PG, 0x100000 + PG), -ENOENT);
}

static void test_gpa_to_iov(void **state)
{
    struct vu_mem_table *t = *state;
    /* [0, 2PG) and [2PG, 3PG) adjacent; [4PG, 5PG) after a hole. */
    assert_int_equal(vu_mem_add_region(t, 0, 2 * PG, 0x10000, 0, make_memfd(2 * PG)), 0);
    assert_int_equal(vu_mem_add_region(t, 2 * PG, PG, 0x80000, 0, make_memfd(PG)), 0);
    assert_int_equal(vu_mem_add_region(t, 4 * PG, PG, 0x90000, 0, make_memfd(PG)), 0);
    char *a = vu_mem_gpa_to_host(t, 0, 1);
    char *b = vu_mem_gpa_to_host(t, 2 * PG, 1);

    struct iovec iov[4];
    unsigned cnt = 0;
    assert_int_equal(vu_mem_gpa_to_iov(t, 100, 200, iov, &cnt, 4), 0);
    assert_int_equal(cnt, 1);
    assert_ptr_equal(iov[0].iov_base, a + 100);
    assert_int_equal(iov[0].iov_len, 200);

    /* Spans the two adjacent regions: split at the boundary. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 2 * PG - 10, 30, iov, &cnt, 4), 0);
    assert_int_equal(cnt, 3);
    assert_ptr_equal(iov[1].iov_base, a + 2 * PG - 10);
    assert_int_equal(iov[1].iov_len, 10);
    assert_ptr_equal(iov[2].iov_base, b);
    assert_int_equal(iov[2].iov_len, 20);

    /* Runs into the hole: nothing is appended. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 3 * PG - 4, 8, iov, &cnt, 4), -EFAULT);
    assert_int_equal(cnt, 3);
    assert_int_equal(vu_mem_gpa_to_iov(t, 3 * PG, 1, iov, &cnt, 4), -EFAULT);
    /* Needs two more elements, only one left. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 2 * PG - 1, 2, iov, &cnt, 4), -E2BIG);
    assert_int_equal(cnt, 3);
    /* Wraps the address space. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 4 * PG, UINT64_MAX, iov, &cnt, 4), -EFAULT);
    assert_int_equal(vu_mem_gpa_to_iov(t, UINT64_MAX, 1, iov, &cnt, 4), -EFAULT);
    /* Zero length adds nothing, even at an unmapped address. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 3 * PG, 0, iov, &cnt, 4), 0);
    assert_int_equal(cnt, 3);
    /* Exactly fills the last slot. */
    assert_int_equal(vu_mem_gpa_to_iov(t, 4 * PG, PG, iov, &cnt, 4), 0);
    assert_int_equal(cnt, 4);
    assert_int_equal(iov[3].iov_len, PG);
}

/* The way back: host ranges to guest-physical ones, only inside one region's mapping. */
static void test_host_to_gpa(void **state)
{
    struct vu_mem_table *t = *state;
    uint64_t gpa = 0;

    assert_int_equal(vu_mem_add_region(t, 0x100000, 4 * PG, 0x7f0000000000, 0, make_memfd(4 * PG)),
                     0);
    assert_int_equal(
        vu_mem_add_region(t, 0x800000, 2 * PG, 0x7f1000000000, 2 * PG, make_memfd(4 * PG)), 0);
    char *a = vu_mem_gpa_to_host(t, 0x100000, 1), *b = vu_mem_gpa_to_host(t, 0x800000, 1);
    assert_int_equal(vu_mem_host_to_gpa(t, a + 10, 5, &gpa), 0);
    assert_int_equal(gpa, 0x10000a);
    assert_int_equal(vu_mem_host_to_gpa(t, b + PG, PG, &gpa), 0);
    assert_int_equal(gpa, 0x801000);
    /* Past a region's end, before its start (the fd's part before mmap_offset), elsewhere. */
    assert_int_equal(vu_mem_host_to_gpa(t, b + PG, PG + 1, &gpa), -EFAULT);
    assert_int_equal(vu_mem_host_to_gpa(t, b - 1, 1, &gpa), -EFAULT);
    assert_int_equal(vu_mem_host_to_gpa(t, &gpa, 1, &gpa), -EFAULT);
    assert_int_equal(vu_mem_host_to_gpa(t, (void *)UINTPTR_MAX, 1, &gpa), -EFAULT);
}

/* Mappings with a guard page: the body is the fd's, the page after it faults. */
static void test_map_guarded(void **state)
{
    int fd = make_memfd(4 * PG);
    size_t len = 0;
    unsigned char vec;

    (void)state;
    char *p = vu_mem_map_guarded(fd, 100, (off_t)PG, NULL, &len);
    assert_true(p != MAP_FAILED);
    assert_int_equal(len, 2 * PG);
    p[0] = 7;
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, PG), 1);
    assert_int_equal(b, 7);
    assert_int_equal(mincore(p + PG, PG, &vec), 0); /* reserved, PROT_NONE */
    vu_mem_unmap_guarded(p, len);
    vu_mem_unmap_guarded(NULL, 0);
    assert_true(vu_mem_map_guarded(fd, 0, 0, NULL, &len) == MAP_FAILED);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_translate_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_bad_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpa_to_iov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_to_gpa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_guarded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
