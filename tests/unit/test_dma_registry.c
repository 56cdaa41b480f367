/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest-memory registry: replay, unmap-all, failed maps never unmapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/dma_registry.h"

#define MAXR 16

/* A listener that records what it holds and can refuse one address. */
struct fake {
    struct dma_listener l;
    void *held[MAXR];
    size_t held_len[MAXR];
    unsigned nheld, maps, unmaps;
    void *refuse; /* map of this address fails */
};

static int fake_map(struct dma_listener *l, void *vaddr, size_t len)
{
    struct fake *f = (struct fake *)l;

    f->maps++;
    if (vaddr == f->refuse)
        return -EINVAL;
    assert_true(f->nheld < MAXR);
    f->held[f->nheld] = vaddr;
    f->held_len[f->nheld++] = len;
    return 0;
}

static void fake_unmap(struct dma_listener *l, void *vaddr, size_t len)
{
    struct fake *f = (struct fake *)l;

    f->unmaps++;
    for (unsigned i = 0; i < f->nheld; i++) {
        if (f->held[i] == vaddr) {
            assert_int_equal(f->held_len[i], len);
            f->held[i] = f->held[--f->nheld];
            f->held_len[i] = f->held_len[f->nheld];
            return;
        }
    }
    fail_msg("unmap of %p, which this listener does not hold", vaddr);
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->l.map = fake_map;
    f->l.unmap = fake_unmap;
}

static char mem[4][4096];

static void test_replay_and_unmap_all(void **state)
{
    struct fake f;

    (void)state;
    fake_init(&f);
    assert_int_equal(dma_registry_add_region(mem[0], 4096), 0);
    assert_int_equal(dma_registry_add_region(mem[1], 2048), 0);
    assert_int_equal(dma_registry_region_count(), 2);
    /* A late listener is told about the regions that already exist. */
    dma_registry_add_listener(&f.l);
    assert_int_equal(f.nheld, 2);
    /* New regions reach it as they come. */
    assert_int_equal(dma_registry_add_region(mem[2], 4096), 0);
    assert_int_equal(f.nheld, 3);
    dma_registry_remove_region(mem[1], 2048);
    assert_int_equal(f.nheld, 2);
    assert_int_equal(dma_registry_region_count(), 2);
    /* Removing the listener unmaps all it holds; the regions stay. */
    dma_registry_remove_listener(&f.l);
    assert_int_equal(f.nheld, 0);
    assert_int_equal(dma_registry_region_count(), 2);
    /* Gone listeners hear nothing more. */
    assert_int_equal(dma_registry_add_region(mem[3], 4096), 0);
    assert_int_equal(f.maps, 3);
    dma_registry_remove_region(mem[0], 4096);
    dma_registry_remove_region(mem[2], 4096);
    dma_registry_remove_region(mem[3], 4096);
    assert_int_equal(dma_registry_region_count(), 0);
    assert_int_equal(f.unmaps, 3);
}

static void test_failed_map_never_unmapped(void **state)
{
    struct fake a, b;

    (void)state;
    fake_init(&a);
    fake_init(&b);
    b.refuse = mem[1];
    dma_registry_add_listener(&a.l);
    dma_registry_add_listener(&b.l);
    assert_int_equal(dma_registry_add_region(mem[0], 4096), 0);
    /* One domain refusing does not fail the region (copy fallback). */
    assert_int_equal(dma_registry_add_region(mem[1], 4096), 0);
    assert_int_equal(a.nheld, 2);
    assert_int_equal(b.nheld, 1);
    /* fake_unmap fails the test on an unmap of something not held. */
    dma_registry_remove_region(mem[1], 4096);
    assert_int_equal(b.unmaps, 0);
    assert_int_equal(a.unmaps, 1);
    dma_registry_remove_listener(&b.l);
    dma_registry_remove_listener(&a.l);
    assert_int_equal(a.nheld + b.nheld, 0);
    dma_registry_remove_region(mem[0], 4096);
    assert_int_equal(dma_registry_region_count(), 0);
}

static void test_unknown_region_is_harmless(void **state)
{
    (void)state;
    dma_registry_remove_region(mem[2], 1); /* logs, does nothing */
    assert_int_equal(dma_registry_region_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_and_unmap_all),
        cmocka_unit_test(test_failed_map_never_unmapped),
        cmocka_unit_test(test_unknown_region_is_harmless),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
