/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The RBD lock owner record: a record is trusted only when its writer is
 * gone (the flock is free), it was written on this machine, and it names
 * the same image; a clean release removes it, a failed one keeps it; bad
 * records are refused.  The take-over against a real cluster:
 * tests/frontend/test_fe_rbd_restart.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bdev/bdev_rbd_owner.h"

static char dir[64], prefix[128];

static const struct rbd_owner_image img = { .fsid = "f00d", .pool = "rbd", .image = "vm1" };

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/rbdowner.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(prefix, sizeof(prefix), "%s/rbd-disk1", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *suffix)
{
    char path[256];
    struct stat sb;

    snprintf(path, sizeof(path), "%s%s", prefix, suffix);
    return stat(path, &sb) == 0;
}

static int predecessor(struct rbd_owner_rec *rec, const struct rbd_owner_image *im, char *owner)
{
    char err[512];

    return rbd_owner_predecessor(rec, im, owner, RBD_OWNER_MAX, err, sizeof(err));
}

static void test_crash_then_restart(void **state)
{
    struct rbd_owner_rec a, b;
    char err[512], owner[RBD_OWNER_MAX];

    (void)state;
    assert_int_equal(rbd_owner_claim(&a, prefix, err, sizeof(err)), 1);
    /* Nothing recorded yet: nobody to take over from. */
    assert_int_equal(predecessor(&a, &img, owner), 0);
    assert_int_equal(rbd_owner_save(&a, &img, "127.0.0.1:0/1111"), 0);
    assert_true(exists(".json"));
    assert_false(exists(".json.tmp"));

    /* A second daemon on the same state directory while the first lives: not proven dead. */
    assert_int_equal(rbd_owner_claim(&b, prefix, err, sizeof(err)), 0);
    assert_int_equal(b.lock_fd, -1);
    assert_int_equal(predecessor(&b, &img, owner), 0);

    /* The first dies holding the lock (its fd goes away, the record stays). */
    close(a.lock_fd);
    assert_int_equal(rbd_owner_claim(&b, prefix, err, sizeof(err)), 1);
    assert_int_equal(predecessor(&b, &img, owner), 1);
    assert_string_equal(owner, "127.0.0.1:0/1111");
    /* Another image under the same block device name: not its predecessor. */
    struct rbd_owner_image other = img;
    other.image = "vm2";
    assert_int_equal(predecessor(&b, &other, owner), 0);
    other = img;
    other.fsid = "beef";
    assert_int_equal(predecessor(&b, &other, owner), 0);

    /* b takes over and records itself; a clean release removes everything. */
    assert_int_equal(rbd_owner_save(&b, &img, "127.0.0.1:0/2222"), 0);
    rbd_owner_release(&b, false);
    assert_int_equal(b.lock_fd, -1);
    assert_false(exists(".json"));
    assert_false(exists(".lock"));
    rbd_owner_release(&b, false); /* twice: harmless */
}

static void test_failed_release_keeps_record(void **state)
{
    struct rbd_owner_rec a;
    char err[512], owner[RBD_OWNER_MAX];

    (void)state;
    assert_int_equal(rbd_owner_claim(&a, prefix, err, sizeof(err)), 1);
    assert_int_equal(rbd_owner_save(&a, &img, "127.0.0.1:0/3333"), 0);
    rbd_owner_release(&a, true);
    assert_true(exists(".json"));
    assert_int_equal(rbd_owner_claim(&a, prefix, err, sizeof(err)), 1);
    assert_int_equal(predecessor(&a, &img, owner), 1);
    assert_string_equal(owner, "127.0.0.1:0/3333");
    rbd_owner_release(&a, false);
}

/* Unclaimed: never a predecessor, never a record. */
static void test_unclaimed(void **state)
{
    struct rbd_owner_rec a = { .lock_fd = -1 };
    char owner[RBD_OWNER_MAX];

    (void)state;
    assert_int_equal(predecessor(&a, &img, owner), 0);
    assert_int_equal(rbd_owner_save(&a, &img, "x"), -EBADF);
    rbd_owner_release(&a, false);
}

static void write_record(const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s.json", prefix);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_records(void **state)
{
    static const char *const bad[] = {
        "not json",
        "{\"version\":2,\"host\":\"h\",\"fsid\":\"f00d\",\"pool\":\"rbd\",\"image\":\"vm1\","
        "\"owner\":\"o\"}",
        "{\"version\":1,\"fsid\":\"f00d\",\"pool\":\"rbd\",\"image\":\"vm1\",\"owner\":\"o\"}",
        "{\"version\":1,\"host\":\"h\",\"fsid\":\"f00d\",\"pool\":\"rbd\",\"image\":\"vm1\","
        "\"owner\":\"\"}",
        "{\"version\":1,\"host\":\"h\",\"fsid\":\"f00d\",\"pool\":\"rbd\",\"image\":\"vm1\","
        "\"owner\":7}",
    };
    struct rbd_owner_rec a;
    char err[512], owner[RBD_OWNER_MAX];

    (void)state;
    assert_int_equal(rbd_owner_claim(&a, prefix, err, sizeof(err)), 1);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_record(bad[i]);
        err[0] = '\0';
        assert_int_equal(rbd_owner_predecessor(&a, &img, owner, sizeof(owner), err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "rbd-disk1.json"));
    }
    /* Well-formed, but written on another machine (a copied state directory). */
    write_record("{\"version\":1,\"host\":\"elsewhere 0123\",\"fsid\":\"f00d\",\"pool\":\"rbd\","
                 "\"image\":\"vm1\",\"owner\":\"127.0.0.1:0/4444\"}");
    assert_int_equal(predecessor(&a, &img, owner), 0);
    /* An owner string too long for the caller's buffer is refused, not cut. */
    assert_int_equal(rbd_owner_save(&a, &img, "127.0.0.1:0/55555"), 0);
    assert_int_equal(rbd_owner_predecessor(&a, &img, owner, 8, err, sizeof(err)), -EINVAL);
    rbd_owner_release(&a, false);
}

static void test_unusable_dir(void **state)
{
    struct rbd_owner_rec a;
    char err[512], longp[PATH_MAX];

    (void)state;
    assert_int_equal(rbd_owner_claim(&a, "/nonexistent-dir/rbd-x", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent-dir/rbd-x.lock"));
    assert_int_equal(a.lock_fd, -1);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(rbd_owner_claim(&a, longp, err, sizeof(err)), -ENAMETOOLONG);
    assert_int_equal(a.lock_fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_then_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_release_keeps_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
