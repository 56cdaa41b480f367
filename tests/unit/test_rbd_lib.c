/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * librados/librbd loaded on first use: nothing of Ceph is mapped before,
 * every function the backend calls resolves against the installed
 * libraries, concurrent first users share one load, and a library or
 * symbol that is missing is an error that names what to install.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bdev/rbd_lib.h"

static int mapped(const char *lib)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, lib) != NULL;
    fclose(f);
    return n;
}

/* First: the program links neither library, so only rbd_lib_get may bring them in. */
static void test_not_mapped_before_use(void **state)
{
    (void)state;
    assert_int_equal(mapped("librados.so"), 0);
    assert_int_equal(mapped("librbd.so"), 0);
    assert_int_equal(mapped("libceph-common.so"), 0);
}

static void *get_in_thread(void *arg)
{
    char err[256];

    (void)arg;
    return (void *)rbd_lib_get(err, sizeof(err));
}

static void test_concurrent_first_load(void **state)
{
    pthread_t t[4];
    void *got[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, get_in_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
        assert_non_null(got[i]);
        assert_ptr_equal(got[i], got[0]);
    }
    assert_true(mapped("librados.so") > 0);
    assert_true(mapped("librbd.so") > 0);
}

static void test_every_symbol(void **state)
{
    char err[256] = "";
    const struct rbd_lib *lib = rbd_lib_get(err, sizeof(err));

    (void)state;
    assert_non_null(lib);
    assert_string_equal(err, "");
#define CHECK_(f) assert_non_null(lib->f);
    RBD_LIB_RADOS_FUNCS(CHECK_)
    RBD_LIB_RBD_FUNCS(CHECK_)
#undef CHECK_
    assert_ptr_equal(rbd_lib_get(err, sizeof(err)), lib);
}

/* The table points into the libraries themselves, not into some other copy. */
static void test_resolve_real_handles(void **state)
{
    char err[256];
    struct rbd_lib t;
    const struct rbd_lib *lib = rbd_lib_get(err, sizeof(err));
    void *rados = rbd_lib_open(RBD_LIB_RADOS_SONAME, RBD_LIB_RADOS_PACKAGE, err, sizeof(err));
    void *rbd = rbd_lib_open(RBD_LIB_RBD_SONAME, RBD_LIB_RBD_PACKAGE, err, sizeof(err));

    (void)state;
    assert_non_null(lib);
    assert_non_null(rados);
    assert_non_null(rbd);
    memset(&t, 0, sizeof(t));
    assert_int_equal(rbd_lib_resolve(&t, rados, rbd, err, sizeof(err)), 0);
    assert_memory_equal(&t, lib, sizeof(t));
    /* Only references taken here go: the libraries stay loaded. */
    dlclose(rbd);
    dlclose(rados);
}

static void test_missing_library(void **state)
{
    char err[256] = "";

    (void)state;
    assert_null(rbd_lib_open("libvus-no-such-lib.so.9", "vus-no-such-pkg", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot load libvus-no-such-lib.so.9"));
    assert_non_null(strstr(err, "install the Debian package vus-no-such-pkg"));
}

/* A library without the functions (libc stands in for an old librados). */
static void test_missing_symbol(void **state)
{
    char err[256] = "";
    struct rbd_lib t;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_LOCAL);

    (void)state;
    assert_non_null(libc);
    assert_int_equal(rbd_lib_resolve(&t, libc, libc, err, sizeof(err)), -ELIBACC);
    assert_non_null(strstr(err, "librados.so.2 has no rados_create"));
    dlclose(libc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_mapped_before_use), cmocka_unit_test(test_concurrent_first_load),
        cmocka_unit_test(test_every_symbol),          cmocka_unit_test(test_resolve_real_handles),
        cmocka_unit_test(test_missing_library),       cmocka_unit_test(test_missing_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
