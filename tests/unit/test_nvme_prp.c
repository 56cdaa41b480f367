/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PRP construction: the cases by hand, then random vectors checked against
 * a reference walk and a decoder that follows PRP2 and list chain pointers
 * the way a controller does.  Addresses are never dereferenced, so they are
 * plain numbers dressed as pointers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/nvme_prp.h"
#include "nvme_prp_ref.h"

#define PS 4096u

#define P(x) ((void *)(uintptr_t)(x))

/* One region at va 1 GiB mapped at iova 4 GiB. */
static struct prp_ref_map one = { { { 1ull << 30, 1ull << 30, 4ull << 30 } }, 1 };
#define VA(off)   P((1ull << 30) + (off))
#define IOVA(off) ((4ull << 30) + (off))

static uint64_t list[2048];
#define LIST_IOVA 0x7770000ull

static int build(const struct iovec *iov, unsigned cnt, size_t len, uint64_t *p1, uint64_t *p2,
                 unsigned list_max)
{
    return nvme_prp_build(iov, cnt, len, PS, prp_ref_tr, &one, p1, p2, list, LIST_IOVA, list_max);
}

static void test_single_page(void **state)
{
    struct iovec v[1] = { { VA(0x1000), 512 } };
    uint64_t p1, p2;

    (void)state;
    assert_int_equal(build(v, 1, 512, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x1000));
    assert_int_equal(p2, 0);
    /* Offset inside the page, still one page. */
    v[0] = (struct iovec){ VA(0x1200), 0xe00 };
    assert_int_equal(build(v, 1, 0xe00, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x1200));
    assert_int_equal(p2, 0);
}

static void test_two_pages_prp2_direct(void **state)
{
    struct iovec v[2] = { { VA(0x1000), 0x2000 } };
    uint64_t p1, p2;

    (void)state;
    assert_int_equal(build(v, 1, 0x2000, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x1000));
    assert_int_equal(p2, IOVA(0x2000));
    /* Offset first element crossing one boundary. */
    v[0] = (struct iovec){ VA(0x1800), 0x1000 };
    assert_int_equal(build(v, 1, 0x1000, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x1800));
    assert_int_equal(p2, IOVA(0x2000));
    /* Two elements, first ends on a boundary, second starts on one (elsewhere). */
    v[0] = (struct iovec){ VA(0x1f00), 0x100 };
    v[1] = (struct iovec){ VA(0x9000), 0x200 };
    assert_int_equal(build(v, 2, 0x300, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x1f00));
    assert_int_equal(p2, IOVA(0x9000));
}

static void test_list(void **state)
{
    struct iovec v[3] = { { VA(0x1100), 0x1f00 }, { VA(0x10000), 0x2000 }, { VA(0x4000), 8 } };
    uint64_t p1, p2;

    (void)state;
    /* 0x2f00 bytes from offset 0x100: pages 1, 2, 3, a list of 2. */
    v[0].iov_len = 0x2f00;
    assert_int_equal(build(v, 1, 0x2f00, &p1, &p2, 2), 0);
    assert_int_equal(p1, IOVA(0x1100));
    assert_int_equal(p2, LIST_IOVA);
    assert_int_equal(list[0], IOVA(0x2000));
    assert_int_equal(list[1], IOVA(0x3000));
    /* Room for one entry only. */
    assert_int_equal(build(v, 1, 0x2f00, &p1, &p2, 1), -E2BIG);
    /* Three elements, last one short. */
    v[0].iov_len = 0xf00;
    assert_int_equal(build(v, 3, 0xf00 + 0x2000 + 8, &p1, &p2, 8), 0);
    assert_int_equal(p1, IOVA(0x1100));
    assert_int_equal(p2, LIST_IOVA);
    assert_int_equal(list[0], IOVA(0x10000));
    assert_int_equal(list[1], IOVA(0x11000));
    assert_int_equal(list[2], IOVA(0x4000));
    /* len shorter than the vector: only [0, len) counts. */
    assert_int_equal(build(v, 3, 0xf00 + 0x1000, &p1, &p2, 0), 0);
    assert_int_equal(p2, IOVA(0x10000));
}

static void test_chained_lists(void **state)
{
    /* 1 + 512 + 1 pages from an offset start: 513 list entries, a chain at slot 511. */
    struct iovec v[1] = { { VA(0x100), 513 * PS } };
    uint64_t p1, p2;

    (void)state;
    assert_int_equal(nvme_prp_list_entries(0x100, 513 * PS, PS), 514);
    assert_int_equal(build(v, 1, 513 * PS, &p1, &p2, 514), 0);
    assert_int_equal(p1, IOVA(0x100));
    assert_int_equal(p2, LIST_IOVA);
    for (unsigned i = 0; i < 511; i++)
        assert_int_equal(list[i], IOVA((uint64_t)(i + 1) * PS));
    assert_int_equal(list[511], LIST_IOVA + PS);
    assert_int_equal(list[512], IOVA(512ull * PS));
    assert_int_equal(list[513], IOVA(513ull * PS));
    assert_int_equal(build(v, 1, 513 * PS, &p1, &p2, 513), -E2BIG);
    /* Exactly 512 list entries fill one list page without a chain. */
    v[0].iov_len = 512 * PS;
    assert_int_equal(build(v, 1, 512 * PS, &p1, &p2, 512), 0);
    assert_int_equal(list[511], IOVA(512ull * PS));
    /* A list starting in the last qword of a page chains at once. */
    v[0] = (struct iovec){ VA(0x1000), 3 * PS };
    assert_int_equal(
        nvme_prp_build(v, 1, 3 * PS, PS, prp_ref_tr, &one, &p1, &p2, list, LIST_IOVA + PS - 8, 3),
        0);
    assert_int_equal(p2, LIST_IOVA + PS - 8);
    assert_int_equal(list[0], LIST_IOVA + PS);
    assert_int_equal(list[1], IOVA(2ull * PS));
    assert_int_equal(list[2], IOVA(3ull * PS));
}

static void test_rejects(void **state)
{
    struct iovec v[3] = { { VA(0x1000), 0x1000 }, { VA(0x5100), 0x100 }, { VA(0x9000), 8 } };
    uint64_t p1, p2;

    (void)state;
    /* Middle element off a page boundary. */
    assert_int_equal(build(v, 3, 0x1108, &p1, &p2, 8), -EINVAL);
    /* First element ends off a boundary while more follows. */
    v[0].iov_len = 0x800;
    v[1].iov_base = VA(0x5000);
    assert_int_equal(build(v, 2, 0x900, &p1, &p2, 8), -EINVAL);
    /* ... but fine when it is the last one used. */
    assert_int_equal(build(v, 2, 0x800, &p1, &p2, 8), 0);
    /* First address not dword aligned. */
    v[0] = (struct iovec){ VA(0x1002), 0x10 };
    assert_int_equal(build(v, 1, 0x10, &p1, &p2, 8), -EINVAL);
    /* Not mapped, or straddling the end of the region. */
    v[0] = (struct iovec){ P(0x1000), 0x10 };
    assert_int_equal(build(v, 1, 0x10, &p1, &p2, 8), -EFAULT);
    v[0] = (struct iovec){ VA((1ull << 30) - PS), 2 * PS };
    assert_int_equal(build(v, 1, 2 * PS, &p1, &p2, 8), -EFAULT);
    /* Vector shorter than len. */
    v[0] = (struct iovec){ VA(0x1000), 0x10 };
    assert_int_equal(build(v, 1, 0x20, &p1, &p2, 8), -EINVAL);
    /* Bad page size, misaligned list. */
    assert_int_equal(
        nvme_prp_build(v, 1, 0x10, 2048, prp_ref_tr, &one, &p1, &p2, list, LIST_IOVA, 8), -EINVAL);
    assert_int_equal(
        nvme_prp_build(v, 1, 0x10, PS, prp_ref_tr, &one, &p1, &p2, list, LIST_IOVA + 4, 8),
        -EINVAL);
    /* Too long for the list. */
    v[0] = (struct iovec){ VA(0), 64 * PS };
    assert_int_equal(build(v, 1, 64 * PS, &p1, &p2, 62), -E2BIG);
    assert_int_equal(build(v, 1, 64 * PS, &p1, &p2, 63), 0);
}

static void test_zero_length(void **state)
{
    struct iovec v[3] = { { VA(0x1000), 0 }, { VA(0x2010), 0x10 }, { P(1), 0 } };
    uint64_t p1 = 1, p2 = 1;

    (void)state;
    assert_int_equal(build(NULL, 0, 0, &p1, &p2, 0), 0);
    assert_int_equal(p1, 0);
    assert_int_equal(p2, 0);
    /* Empty elements are skipped: the second one is the first, may be offset. */
    assert_int_equal(build(v, 3, 0x10, &p1, &p2, 0), 0);
    assert_int_equal(p1, IOVA(0x2010));
    assert_true(nvme_prp_expressible(v, 3, 0x10, PS));
}

static void test_expressible(void **state)
{
    struct iovec v[2] = { { P(0x1800), 0x800 }, { P(0x9000), 0x1234 } };

    (void)state;
    assert_true(nvme_prp_expressible(v, 2, 0x800 + 0x1234, PS));
    v[1].iov_base = P(0x9200);
    assert_false(nvme_prp_expressible(v, 2, 0x900, PS));
    assert_true(nvme_prp_expressible(v, 2, 0x800, PS));
    v[0].iov_base = P(0x1801);
    assert_false(nvme_prp_expressible(v, 1, 0x10, PS));
    assert_false(nvme_prp_expressible(v, 2, 0x10000, PS)); /* vector too short */
    assert_int_equal(nvme_prp_list_entries(0, PS, PS), 0);
    assert_int_equal(nvme_prp_list_entries(0xf00, 0x200, PS), 0);
    assert_int_equal(nvme_prp_list_entries(0, 3 * PS, PS), 2);
    assert_int_equal(nvme_prp_list_entries(0, 513 * PS, PS), 512);
    assert_int_equal(nvme_prp_list_entries(0, 514 * PS, PS), 514);
}

/* ---- randomized against a reference ---- */

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

#define REF_MAX 4096

/* Read the PRPs back as a controller would, for n pages. */
static void decode(uint64_t p1, uint64_t p2, uint64_t list_iova, unsigned list_max, size_t ps,
                   unsigned n, uint64_t *out)
{
    uint64_t a = p2;

    if (n == 0)
        return;
    out[0] = p1;
    if (n == 1) {
        assert_int_equal(p2, 0);
        return;
    }
    if (n == 2) {
        out[1] = p2;
        return;
    }
    assert_int_equal(p2, list_iova);
    for (unsigned i = 1; i < n; i++) {
        uint64_t idx = (a - list_iova) / 8;
        assert_true(a >= list_iova && idx < list_max);
        if (((a + 8) % ps) == 0 && n - i > 1) {
            a = list[idx];
            idx = (a - list_iova) / 8;
            assert_int_equal(a % ps, 0);
            assert_true(a >= list_iova && idx < list_max);
        }
        out[i] = list[idx];
        a += 8;
    }
}

static void test_random(void **state)
{
    static const size_t sizes[] = { 4096, 8192, 65536 };
    static uint64_t want[REF_MAX], got[REF_MAX];
    unsigned ok = 0, err = 0;

    (void)state;
    for (unsigned iter = 0; iter < 200000; iter++) {
        size_t ps = sizes[rnd() % 3];
        struct prp_ref_map m = { .n = 1 + rnd() % 3 };
        struct iovec v[8];
        unsigned cnt = 1 + rnd() % 8, list_max = rnd() % 40, n = 0;
        uint64_t list_iova =
            0x100000000ull + (rnd() % 4) * ps + (rnd() % 2 ? ps - 8 * (1 + rnd() % 4) : 0);
        uint64_t p1, p2;
        size_t len = 0;
        int rc, rrc;

        /* Regions 16 MiB apart in va, mapped at shuffled page-aligned iovas. */
        for (unsigned r = 0; r < m.n; r++)
            m.r[r] = (struct prp_ref_region){ (uint64_t)(r + 1) << 24, 1 << 22,
                                              ((uint64_t)(rnd() % 64) << 26) + (r << 23) };
        for (unsigned i = 0; i < cnt; i++) {
            uint64_t reg = rnd() % (m.n + 1); /* m.n: unmapped */
            uint64_t off = (rnd() % 64) * ps / 16;
            size_t el = (rnd() % 4) * ps;

            if (rnd() % 4 == 0)
                off = off / ps * ps; /* often page aligned */
            if (rnd() % 3)
                el += (rnd() % 2) ? ps - off % ps : rnd() % 100;
            if (rnd() % 5 == 0 && i > 0)
                off = (off / ps) * ps;
            v[i].iov_base = P((reg + 1) << 24 | off);
            v[i].iov_len = el;
            len += el;
        }
        if (rnd() % 4 == 0 && len)
            len -= rnd() % len;
        if (rnd() % 16 == 0)
            len += 1;
        rrc = prp_ref_walk(v, cnt, len, ps, &m, list_iova, list_max, want, REF_MAX, &n);
        memset(list, 0xa5, sizeof(list));
        rc = nvme_prp_build(v, cnt, len, ps, prp_ref_tr, &m, &p1, &p2, list, list_iova, list_max);
        assert_int_equal(rc, rrc);
        for (unsigned i = list_max; i < 2048; i++)
            assert_int_equal(list[i], 0xa5a5a5a5a5a5a5a5ull);
        if (rc != 0) {
            err++;
            continue;
        }
        ok++;
        assert_int_equal(nvme_prp_expressible(v, cnt, len, ps), true);
        decode(p1, p2, list_iova, list_max, ps, n, got);
        assert_memory_equal(got, want, n * sizeof(uint64_t));
    }
    /* Both outcomes must be common, or the generator tests nothing. */
    assert_true(ok > 20000);
    assert_true(err > 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_page), cmocka_unit_test(test_two_pages_prp2_direct),
        cmocka_unit_test(test_list),        cmocka_unit_test(test_chained_lists),
        cmocka_unit_test(test_rejects),     cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_expressible), cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
