/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * atomic_file: a write replaces the file whole with the mode asked for and
 * leaves no temporary file; a failed one (no directory, a directory in the
 * way, a full file system through RLIMIT_FSIZE) leaves the old contents and
 * no temporary file; removal of a missing file is not an error.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/atomic_file.h"

static char dir[64], path[128], tmp[160];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/vus-atomic.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/state.json", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    return 0;
}

static int teardown(void **state)
{
    unlink(tmp);
    unlink(path);
    rmdir(path); /* when a test put a directory there */
    rmdir(dir);
    return 0;
}

/* The file's contents, NUL-terminated, into buf; its length or -1. */
static long slurp(char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return (long)n;
}

static void test_write_and_replace(void **state)
{
    char buf[64];
    struct stat st;

    assert_int_equal(atomic_file_write(path, "first", 5, 0600), 0);
    assert_int_equal(slurp(buf, sizeof(buf)), 5);
    assert_string_equal(buf, "first");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(atomic_file_write(path, "2nd", 3, 0600), 0);
    assert_int_equal(slurp(buf, sizeof(buf)), 3);
    assert_string_equal(buf, "2nd");
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(atomic_file_write(path, "", 0, 0600), 0);
    assert_int_equal(slurp(buf, sizeof(buf)), 0);
}

static void test_failures_keep_the_old_file(void **state)
{
    char buf[64], nodir[160];
    struct rlimit old, small;

    snprintf(nodir, sizeof(nodir), "%s/missing/state.json", dir);
    assert_int_equal(atomic_file_write(nodir, "x", 1, 0600), -ENOENT);
    assert_int_equal(atomic_file_write(path, "keep", 4, 0600), 0);
    /* The file system refuses the data (RLIMIT_FSIZE as a full disk): old contents stay. */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = (struct rlimit){ 4, old.rlim_max }; /* the soft limit only: it can go back up */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    assert_int_equal(atomic_file_write(path, "much longer", 11, 0600), -EFBIG);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(slurp(buf, sizeof(buf)), 4);
    assert_string_equal(buf, "keep");
    assert_int_equal(access(tmp, F_OK), -1);
    /* A directory where the temporary file goes. */
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_true(atomic_file_write(path, "y", 1, 0600) < 0);
    assert_int_equal(rmdir(tmp), 0);
    assert_int_equal(slurp(buf, sizeof(buf)), 4);
}

static void test_remove(void **state)
{
    assert_int_equal(atomic_file_write(path, "x", 1, 0600), 0);
    assert_int_equal(atomic_file_remove(path), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(atomic_file_remove(path), 0); /* already gone */
    assert_int_equal(fsync_parent_dir(path), 0);
    assert_int_equal(fsync_parent_dir("/nonexistent-vus-dir/x"), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_keep_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
