/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/vfio without a device: BDF syntax, the sysfs checks on a fake sysfs
 * tree, the DMA space on a fake IOMMU (records before the space exists,
 * IOVA ranges, pinned bytes, the registry hook), the lock-free translate
 * table under concurrent readers, and the memlock policy.  The real
 * ioctls run in the NVMe guest test (tests/guest/test-nvme.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dma_registry.h"
#include "vfio/vfio.h"
#include "vfio/vfio_internal.h"

/* ------------------------------------------------------------ BDF syntax */

static void test_parse_bdf(void **state)
{
    char out[13];

    (void)state;
    assert_int_equal(vfio_parse_bdf("0000:00:04.0", out), 0);
    assert_string_equal(out, "0000:00:04.0");
    assert_int_equal(vfio_parse_bdf("ABCD:EF:1F.7", out), 0);
    assert_string_equal(out, "abcd:ef:1f.7"); /* sysfs spells it lower case */
    const char *bad[] = {
        "",
        "00:04.0",
        "0000:00:04",
        "0000:00:04.0 ",
        " 0000:00:04.0",
        "0000-00:04.0",
        "0000:00:04:0",
        "0000:00:20.0", /* device > 0x1f */
        "0000:00:04.8", /* function > 7 */
        "000g:00:04.0",
        "0000:00:04.00",
        "0000:0:004.0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vfio_parse_bdf(bad[i], out), -EINVAL);
    assert_int_equal(vfio_parse_bdf(NULL, out), -EINVAL);
}

/* ----------------------------------------------------------- fake sysfs */

static char root[256];

static void mkdirs(const char *rel)
{
    char p[PATH_MAX + 64], *s;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static void symlink_rel(const char *target, const char *rel)
{
    char p[PATH_MAX + 64];

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    unlink(p);
    assert_int_equal(symlink(target, p), 0);
}

static int sysfs_setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_vfio.XXXXXX");
    assert_non_null(mkdtemp(root));
    mkdirs("sys/bus/pci/devices/0000:00:04.0");
    mkdirs("dev");
    {
        char s[PATH_MAX + 8], d[PATH_MAX + 8];

        snprintf(s, sizeof(s), "%s/sys", root);
        snprintf(d, sizeof(d), "%s/dev", root);
        vfio_set_sysfs_root(s);
        vfio_set_dev_root(d);
    }
    return 0;
}

static int sysfs_teardown(void **state)
{
    char cmd[PATH_MAX + 16];

    (void)state;
    vfio_set_sysfs_root(NULL);
    vfio_set_dev_root(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_sysfs_checks(void **state)
{
    char err[1024];
    int group = -1;
    const char *dev = "sys/bus/pci/devices/0000:00:04.0";
    char rel[256];

    (void)state;
    /* No such device. */
    assert_int_equal(vfio_sysfs_check("0000:00:05.0", &group, err, sizeof(err)), -ENODEV);
    assert_non_null(strstr(err, "no PCI device 0000:00:05.0"));

    /* Not bound at all: the commands, without the unbind step. */
    assert_int_equal(vfio_sysfs_check("0000:00:04.0", &group, err, sizeof(err)), -ENODEV);
    assert_non_null(strstr(err, "not bound to any driver"));
    assert_null(strstr(err, "unbind"));

    /* Bound to nvme: exactly what to run. */
    snprintf(rel, sizeof(rel), "%s/driver", dev);
    symlink_rel("../../../../bus/pci/drivers/nvme", rel);
    assert_int_equal(vfio_sysfs_check("0000:00:04.0", &group, err, sizeof(err)), -EBUSY);
    assert_string_equal(err, "0000:00:04.0 is bound to nvme, not vfio-pci: run modprobe vfio-pci; "
                             "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override; "
                             "echo 0000:00:04.0 > /sys/bus/pci/devices/0000:00:04.0/driver/unbind; "
                             "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe");

    /* vfio-pci but no IOMMU group: the IOMMU is off. */
    symlink_rel("../../../../bus/pci/drivers/vfio-pci", rel);
    assert_int_equal(vfio_sysfs_check("0000:00:04.0", &group, err, sizeof(err)), -ENODEV);
    assert_non_null(strstr(err, "no IOMMU group"));
    assert_non_null(strstr(err, "intel_iommu=on"));

    /* All there. */
    snprintf(rel, sizeof(rel), "%s/iommu_group", dev);
    symlink_rel("../../../../kernel/iommu_groups/7", rel);
    assert_int_equal(vfio_sysfs_check("0000:00:04.0", &group, err, sizeof(err)), 0);
    assert_int_equal(group, 7);
}

static void test_open_errors(void **state)
{
    struct vfio_dev *d = NULL;
    char err[1024];

    (void)state;
    assert_int_equal(vfio_dev_open("0:0:4.0", &d, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bad PCI address '0:0:4.0'"));
    /* Bound and grouped (previous test), but no /dev/vfio/7: says which file. */
    setenv("VUS_VFIO_API", "type1", 1);
    assert_true(vfio_dev_open("0000:00:04.0", &d, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/dev/vfio/7"));
    assert_null(d);
    unsetenv("VUS_VFIO_API");
}

/* ------------------------------------------------------ fake IOMMU space */

static unsigned f_maps, f_unmaps;
static int f_map_err;
static uint64_t f_mapped_bytes;

static int f_map(uint64_t iova, void *vaddr, size_t len)
{
    assert_int_equal(iova, (uintptr_t)vaddr); /* IOVA = vaddr, always */
    if (f_map_err)
        return f_map_err;
    f_maps++;
    f_mapped_bytes += len;
    return 0;
}

static int f_unmap(uint64_t iova, size_t len)
{
    f_unmaps++;
    f_mapped_bytes -= len;
    return 0;
}

static const struct vfio_space_ops fake_ops = { .map = f_map, .unmap = f_unmap, .name = "fake" };
static const struct vfio_range all = { 0, UINT64_MAX };

static void fake_reset(void)
{
    f_maps = f_unmaps = 0;
    f_map_err = 0;
    f_mapped_bytes = 0;
}

static void test_iova_ranges(void **state)
{
    const struct vfio_range r[2] = { { 0, 0xfedfffff }, { 0xfef00000, (1ULL << 39) - 1 } };

    (void)state;
    assert_true(vfio_iova_in_ranges(r, 2, 0x1000, 4096));
    assert_true(vfio_iova_in_ranges(r, 2, 0xfef00000, 4096));
    assert_false(vfio_iova_in_ranges(r, 2, 0xfee00000, 4096));        /* the MSI window */
    assert_false(vfio_iova_in_ranges(r, 2, 0xfedff000, 0x2000));      /* straddles two ranges */
    assert_false(vfio_iova_in_ranges(r, 2, 0x7f0000000000ULL, 4096)); /* 39-bit IOMMU */
    assert_true(vfio_iova_in_ranges(r, 0, 0x7f0000000000ULL, 4096));  /* no information */
    assert_false(vfio_iova_in_ranges(r, 2, UINT64_MAX - 10, 4096));   /* wraps */
}

static void test_map_before_and_after_space(void **state)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = 4 * pg;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t iova;

    (void)state;
    fake_reset();
    /* Before any device: recorded, not mapped, not translatable. */
    assert_int_equal(vfio_dma_map(p + 10, len - 20), 0); /* rounded outward to the pages */
    assert_false(vfio_dma_translate(p, 1, &iova));
    assert_int_equal(vfio_dma_pinned_bytes(), 0);
    assert_int_equal(vfio_dma_map(p + pg, 1), -EEXIST);
    /* The space comes up: the record is mapped. */
    vfio_dma_space_up(&fake_ops, &all, 1);
    assert_int_equal(f_maps, 1);
    assert_int_equal(vfio_dma_pinned_bytes(), len);
    assert_true(vfio_dma_translate(p + 100, pg, &iova));
    assert_int_equal(iova, (uintptr_t)(p + 100));
    assert_false(vfio_dma_translate(p + len - 1, 2, &iova)); /* runs past the end */
    /* Down: unmapped, still recorded; up again: mapped again. */
    vfio_dma_space_down();
    assert_int_equal(f_unmaps, 1);
    assert_int_equal(vfio_dma_pinned_bytes(), 0);
    assert_false(vfio_dma_translate(p, 1, &iova));
    vfio_dma_space_up(&fake_ops, &all, 1);
    assert_int_equal(f_maps, 2);
    /* Unmap needs the range as mapped. */
    assert_int_equal(vfio_dma_unmap(p, pg), -ENOENT);
    assert_int_equal(vfio_dma_unmap(p + 10, len - 20), 0);
    assert_int_equal(f_mapped_bytes, 0);
    assert_false(vfio_dma_translate(p, 1, &iova));
    assert_int_equal(vfio_dma_unmap(p, len), -ENOENT);
    /* A failing IOMMU map: not recorded, not translatable. */
    f_map_err = -EIO;
    assert_int_equal(vfio_dma_map(p, len), -EIO);
    assert_false(vfio_dma_translate(p, 1, &iova));
    f_map_err = 0;
    assert_int_equal(vfio_dma_map(p, len), 0);
    assert_int_equal(vfio_dma_unmap(p, len), 0);
    vfio_dma_space_down();
    munmap(p, len);
}

static void test_iova_out_of_range(void **state)
{
    const struct vfio_range narrow = { 0, (1ULL << 39) - 1 }; /* intel-iommu without aw-bits=48 */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    (void)state;
    fake_reset();
    if ((uintptr_t)p < (1ULL << 39)) { /* mappings low in memory: nothing to show */
        munmap(p, pg);
        skip();
    }
    vfio_dma_space_up(&fake_ops, &narrow, 1);
    assert_int_equal(vfio_dma_map(p, pg), -ERANGE); /* the log names aw-bits */
    assert_int_equal(f_maps, 0);
    vfio_dma_space_down();
    /* A record made before the space came up stays unmapped, with a warning. */
    assert_int_equal(vfio_dma_map(p, pg), 0);
    vfio_dma_space_up(&fake_ops, &narrow, 1);
    assert_int_equal(vfio_dma_pinned_bytes(), 0);
    vfio_dma_space_down();
    assert_int_equal(vfio_dma_unmap(p, pg), 0);
    munmap(p, pg);
}

static void test_alloc_free(void **state)
{
    void *p;
    uint64_t iova, got;

    (void)state;
    fake_reset();
    vfio_dma_space_up(&fake_ops, &all, 1);
    assert_int_equal(vfio_dma_alloc(100, &p, &iova), 0);
    assert_int_equal(iova, (uintptr_t)p);
    assert_int_equal((uintptr_t)p % sysconf(_SC_PAGESIZE), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(((char *)p)[i], 0);
    assert_true(vfio_dma_translate(p, 100, &got));
    assert_int_equal(vfio_dma_pinned_bytes(), sysconf(_SC_PAGESIZE));
    vfio_dma_free(p, 100);
    assert_int_equal(vfio_dma_pinned_bytes(), 0);
    assert_int_equal(f_mapped_bytes, 0);
    vfio_dma_space_down();
}

static void test_registry_hook(void **state)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *a = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *b = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t iova;

    (void)state;
    fake_reset();
    /* Guest memory that exists before the first device is mapped on attach. */
    assert_int_equal(dma_registry_add_region(a, 2 * pg), 0);
    vfio_dma_space_up(&fake_ops, &all, 1);
    vfio_dma_listener_attach();
    assert_true(vfio_dma_translate(a + pg, pg, &iova));
    /* A region the IOMMU refuses: warned about, not mapped, never unmapped. */
    f_map_err = -EFAULT;
    assert_int_equal(dma_registry_add_region(b, pg), 0);
    f_map_err = 0;
    assert_false(vfio_dma_translate(b, 1, &iova));
    dma_registry_remove_region(b, pg);
    assert_int_equal(f_unmaps, 0);
    /* Removing guest memory unmaps it. */
    dma_registry_remove_region(a, 2 * pg);
    assert_int_equal(f_unmaps, 1);
    assert_false(vfio_dma_translate(a, 1, &iova));
    /* Detach (last device closing) unmaps what the registry still has. */
    assert_int_equal(dma_registry_add_region(a, 2 * pg), 0);
    vfio_dma_listener_detach();
    assert_int_equal(f_mapped_bytes, 0);
    vfio_dma_space_down();
    dma_registry_remove_region(a, 2 * pg);
    munmap(a, 2 * pg);
    munmap(b, pg);
}

/* -------------------------------------------------------- translate table */

static void test_xlate_table(void **state)
{
    uint64_t iova;

    (void)state;
    assert_int_equal(vfio_xlate_insert(0x10000, 0x20000), 0);
    assert_int_equal(vfio_xlate_insert(0x30000, 0x40000), 0);
    assert_int_equal(vfio_xlate_insert(0x20000, 0x30000), 0); /* adjacent both sides: fine */
    assert_int_equal(vfio_xlate_insert(0x1f000, 0x21000), -EEXIST);
    assert_int_equal(vfio_xlate_insert(0x0f000, 0x10001), -EEXIST);
    assert_int_equal(vfio_xlate_insert(0x3ffff, 0x50000), -EEXIST);
    assert_int_equal(vfio_xlate_insert(0x5000, 0x5000), -EINVAL);
    /* ONE range: a buffer spanning two adjacent ranges is not translatable. */
    assert_true(vfio_dma_translate((void *)0x1f000, 0x1000, &iova));
    assert_false(vfio_dma_translate((void *)0x1f000, 0x2000, &iova));
    assert_false(vfio_dma_translate((void *)0x40000, 1, &iova));
    assert_false(vfio_dma_translate((void *)0xffff, 1, &iova));
    assert_true(vfio_dma_translate((void *)0x3ffff, 1, &iova));
    assert_false(vfio_dma_translate((void *)UINTPTR_MAX, 2, &iova)); /* wraps */
    assert_int_equal(vfio_xlate_remove(0x20001), -ENOENT);
    assert_int_equal(vfio_xlate_remove(0x20000), 0);
    assert_false(vfio_dma_translate((void *)0x20000, 1, &iova));
    assert_int_equal(vfio_xlate_remove(0x10000), 0);
    assert_int_equal(vfio_xlate_remove(0x30000), 0);
    /* Full table. */
    for (uintptr_t i = 0; i < VFIO_XLATE_MAX; i++)
        assert_int_equal(vfio_xlate_insert(0x100000 + i * 0x2000, 0x101000 + i * 0x2000), 0);
    assert_int_equal(vfio_xlate_insert(0x10000, 0x11000), -ENOSPC);
    assert_true(vfio_dma_translate((void *)(0x100000 + 4095 * 0x2000), 4096, &iova));
    for (uintptr_t i = 0; i < VFIO_XLATE_MAX; i++)
        assert_int_equal(vfio_xlate_remove(0x100000 + i * 0x2000), 0);
}

static volatile int stop_readers;
static unsigned long reader_errors;

/* Readers: the stable range must always hit, the never-mapped one never. */
static void *reader(void *arg)
{
    uint64_t iova;
    unsigned long errs = 0;

    (void)arg;
    while (!stop_readers) {
        if (!vfio_dma_translate((void *)0x5000000, 0x1000, &iova) || iova != 0x5000000)
            errs++;
        if (vfio_dma_translate((void *)0x4fff000, 0x1000, &iova))
            errs++;
        vfio_dma_translate((void *)0x1000000, 1, &iova); /* churned: either answer */
    }
    __atomic_add_fetch(&reader_errors, errs, __ATOMIC_RELAXED);
    return NULL;
}

static void test_xlate_concurrent(void **state)
{
    pthread_t t[3];

    (void)state;
    assert_int_equal(vfio_xlate_insert(0x5000000, 0x5100000), 0);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    /* The writer shifts entries around the stable one, below and above it. */
    for (int n = 0; n < 20000; n++) {
        uintptr_t lo = 0x1000000 + (uintptr_t)(n % 64) * 0x10000;
        uintptr_t hi = 0x6000000 + (uintptr_t)(n % 64) * 0x10000;

        assert_int_equal(vfio_xlate_insert(lo, lo + 0x1000), 0);
        assert_int_equal(vfio_xlate_insert(hi, hi + 0x1000), 0);
        assert_int_equal(vfio_xlate_remove(lo), 0);
        assert_int_equal(vfio_xlate_remove(hi), 0);
    }
    stop_readers = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(reader_errors, 0);
    assert_int_equal(vfio_xlate_remove(0x5000000), 0);
}

/* ----------------------------------------------------------------- memlock */

static void test_memlock_plan(void **state)
{
    uint64_t s;

    (void)state;
    /* Fits under the soft limit: nothing to change. */
    assert_int_equal(vfio_memlock_plan(0, 4096, 65536, 65536, false, &s), 0);
    assert_int_equal(s, 65536);
    /* Needs more than soft, less than hard: soft goes to hard. */
    assert_int_equal(vfio_memlock_plan(60000, 8192, 65536, 1 << 20, false, &s), 0);
    assert_int_equal(s, 1 << 20);
    assert_int_equal(vfio_memlock_plan(60000, 8192, 65536, RLIM_INFINITY, false, &s), 0);
    assert_int_equal(s, RLIM_INFINITY);
    /* More than hard: the caller explains what to raise. */
    assert_int_equal(vfio_memlock_plan(60000, 8192, 65536, 65536, false, &s), -ENOMEM);
    /* CAP_IPC_LOCK or no limit: the kernel does not count. */
    assert_int_equal(vfio_memlock_plan(60000, 1ULL << 40, 65536, 65536, true, &s), 0);
    assert_int_equal(vfio_memlock_plan(60000, 1ULL << 40, RLIM_INFINITY, RLIM_INFINITY, false, &s),
                     0);
    /* Overflow saturates instead of wrapping to "fits". */
    assert_int_equal(vfio_memlock_plan(UINT64_MAX - 1, 4096, 1 << 20, 1 << 30, false, &s), -ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bdf),
        cmocka_unit_test_setup_teardown(test_sysfs_checks, sysfs_setup, NULL),
        cmocka_unit_test_setup_teardown(test_open_errors, NULL, sysfs_teardown),
        cmocka_unit_test(test_iova_ranges),
        cmocka_unit_test(test_map_before_and_after_space),
        cmocka_unit_test(test_iova_out_of_range),
        cmocka_unit_test(test_alloc_free),
        cmocka_unit_test(test_registry_hook),
        cmocka_unit_test(test_xlate_table),
        cmocka_unit_test(test_xlate_concurrent),
        cmocka_unit_test(test_memlock_plan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
