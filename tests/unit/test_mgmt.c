/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane (mgmt.c) on real threads, its registry: block
 * devices added, found and deleted (also while attached), controllers
 * created with their control threads listening in a temp dir, held until
 * served (at start), refused,
 * deleted with a frontend connected, and one on an inherited socket.
 * LUNs and resizes: test_mgmt_lun.c; the configuration and the shutdown:
 * test_mgmt_config.c; the fixture: mgmt_fixture.h.
 */
#include <fcntl.h>

#include "mgmt_fixture.h"
#include "util/log.h"

static bool is_socket(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- block devices ---- */

static void test_bdev_add_find_delete(void **state)
{
    struct fx *f = *state;
    struct mgmt_bdev *b;
    struct bdev *dup;
    char err[256] = "";

    b = add_ram(f, "r0", MiB);
    assert_non_null(b);
    assert_string_equal(b->name, "r0");
    assert_string_equal(b->type, "ram");
    assert_int_equal(b->bdev->size, MiB);
    assert_int_equal(b->attached, 0);
    assert_null(b->params);
    assert_null(mgmt_bdev_find(&f->m, "r1"));

    /* A second "r0" is refused; the caller still owns the backend it opened. */
    dup = open_bdev(BDEV_TYPE_NULL, MiB, 512, NULL);
    assert_int_equal(mgmt_bdev_add(&f->m, "r0", "null", dup, NULL, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "block device 'r0' already exists");
    bdev_close(dup);
    assert_ptr_equal(mgmt_bdev_find(&f->m, "r0"), b);
    assert_string_equal(mgmt_bdev_find(&f->m, "r0")->type, "ram");

    add_bdev(f, "n0", BDEV_TYPE_NULL, 2 * MiB, 4096, NULL, NULL);
    assert_int_equal(mgmt_bdev_find(&f->m, "n0")->bdev->block_size, 4096);

    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_null(mgmt_bdev_find(&f->m, "r0"));
    assert_non_null(mgmt_bdev_find(&f->m, "n0"));
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'r0'");
    assert_int_equal(mgmt_bdev_delete(&f->m, "nope", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'nope'");

    /* The name is free again. */
    add_ram(f, "r0", MiB);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "n0", err, sizeof(err)), 0);
    assert_null(f->m.bdevs);
}

static void test_bdev_delete_attached(void **state)
{
    struct fx *f = *state;
    struct mgmt_bdev *b = add_ram(f, "r0", MiB);
    char err[256] = "";

    add_ctl(f, "c0", false);
    add_ctl(f, "c1", false);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 1);
    attach_at(f, "c1", "r0", 4, 9, NULL, 4, 9);
    assert_int_equal(b->attached, 3);

    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_string_equal(err, "block device 'r0' is attached to 3 LUN(s): detach first");
    assert_ptr_equal(mgmt_bdev_find(&f->m, "r0"), b);

    detach(f, "c0", 0, 1);
    assert_int_equal(b->attached, 2);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_contains(err, "attached to 2 LUN(s)");

    /* Deleting a controller lets go of its LUNs' block devices, which stay. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), 0);
    assert_int_equal(b->attached, 1);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_contains(err, "attached to 1 LUN(s)");
    detach(f, "c1", 4, 9);
    assert_int_equal(b->attached, 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_null(mgmt_bdev_find(&f->m, "r0"));
}

/* ---- controllers ---- */

static void test_ctl_create_connect_delete(void **state)
{
    struct fx *f = *state;
    char path[128], err[256] = "";
    struct mgmt_ctl *c;
    int fd;

    path_in(f, "c0.sock", path, sizeof(path));
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", path, -1, true, err, sizeof(err)), 0);
    c = mgmt_ctl_find(&f->m, "c0");
    assert_non_null(c);
    assert_string_equal(c->name, "c0");
    assert_string_equal(c->socket_path, path);
    assert_true(c->persist);
    assert_null(c->luns);
    assert_true(is_socket(path));

    /* A frontend can connect, and the control thread takes it. */
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    /* Deleting it drops the frontend and removes the socket. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), 0);
    assert_null(mgmt_ctl_find(&f->m, "c0"));
    assert_null(f->m.ctls);
    assert_closed_by_peer(fd);
    close(fd);
    assert_false(exists(path));
    assert_int_equal(connect_to(path), -ENOENT);

    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no controller 'c0'");

    /* The name and the path can be used again. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", path, -1, false, err, sizeof(err)), 0);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(mgmt_ctl_find(&f->m, "c0"), true);
    close(fd);
    /* A frontend that hangs up: the controller listens again. */
    wait_connected(mgmt_ctl_find(&f->m, "c0"), false);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(mgmt_ctl_find(&f->m, "c0"), true);
    close(fd);
}

/*
 * With hold_frontends, a controller listens (a frontend's connect succeeds
 * and waits in the backlog) but is taken only by mgmt_serve_held; one
 * deleted while held closes its socket without ever having a thread.
 */
static void test_ctl_held_until_served(void **state)
{
    struct fx *f = *state;
    char path[128], gone[128], err[256] = "";
    struct mgmt_ctl *c;
    int fd;

    path_in(f, "c0.sock", path, sizeof(path));
    path_in(f, "gone.sock", gone, sizeof(gone));
    f->m.hold_frontends = true;
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", path, -1, false, err, sizeof(err)), 0);
    assert_int_equal(mgmt_ctl_create(&f->m, "gone", gone, -1, false, err, sizeof(err)), 0);
    c = mgmt_ctl_find(&f->m, "c0");
    assert_false(c->srv.running);
    fd = connect_to(path);
    assert_true(fd >= 0);
    sleep_ms(50);
    assert_false(atomic_load(&c->srv.connected));

    assert_int_equal(mgmt_ctl_delete(&f->m, "gone", err, sizeof(err)), 0);
    assert_false(exists(gone));

    assert_int_equal(mgmt_serve_held(&f->m, err, sizeof(err)), 0);
    assert_false(f->m.hold_frontends);
    assert_true(c->srv.running);
    wait_connected(c, true);
    assert_string_equal(c->srv.name, path);
    close(fd);
    wait_connected(c, false);

    /* Created from now on: served at once. */
    path_in(f, "c1.sock", path, sizeof(path));
    assert_int_equal(mgmt_ctl_create(&f->m, "c1", path, -1, false, err, sizeof(err)), 0);
    assert_true(mgmt_ctl_find(&f->m, "c1")->srv.running);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(mgmt_ctl_find(&f->m, "c1"), true);
    close(fd);
}

static void test_ctl_create_refused(void **state)
{
    struct fx *f = *state;
    char path[128], other[128], file[128], nodir[160], err[256] = "";
    struct mgmt_ctl *c;
    struct stat st;
    int fd;

    c = add_ctl(f, "c0", true);
    path_in(f, "c0.sock", path, sizeof(path));
    path_in(f, "other.sock", other, sizeof(other));

    /* The same name, even on another path: nothing is created there. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", other, -1, true, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "controller 'c0' already exists");
    assert_false(exists(other));

    /* The same path under another name: c0 keeps its socket. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c1", path, -1, true, err, sizeof(err)), -EEXIST);
    assert_contains(err, path);
    assert_contains(err, "'c0'");
    assert_null(mgmt_ctl_find(&f->m, "c1"));
    assert_true(is_socket(path));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);
    close(fd);

    /* A directory that does not exist: the reason, and nothing left behind. */
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/c2.sock", f->dir);
    assert_true(mgmt_ctl_create(&f->m, "c2", nodir, -1, true, err, sizeof(err)) < 0);
    assert_contains(err, nodir);
    assert_contains(err, strerror(ENOENT));
    assert_null(mgmt_ctl_find(&f->m, "c2"));

    /* A regular file at the path is not replaced. */
    path_in(f, "file", file, sizeof(file));
    fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "data", 4), 4);
    close(fd);
    assert_int_equal(mgmt_ctl_create(&f->m, "c3", file, -1, true, err, sizeof(err)), -EEXIST);
    assert_contains(err, "is not a socket");
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
    assert_null(mgmt_ctl_find(&f->m, "c3"));

    /* Only c0 is there, and the failures cost the list nothing. */
    assert_ptr_equal(f->m.ctls, c);
    assert_null(c->next);

    /* A second controller on its own path is fine, and the first keeps working. */
    add_ctl(f, "c1", true);
    assert_non_null(mgmt_ctl_find(&f->m, "c1"));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);
    close(fd);
}

/* A socket handed over (systemd): served, labelled, and never unlinked by us. */
static void test_ctl_inherited_fd(void **state)
{
    struct fx *f = *state;
    char path[128], err[256] = "";
    struct mgmt_ctl *c;
    int lfd, fd;

    path_in(f, "inherited.sock", path, sizeof(path));
    lfd = server_listen(path, err, sizeof(err));
    assert_true(lfd >= 0);
    assert_int_equal(mgmt_ctl_create(&f->m, "sd", "fd 3", lfd, false, err, sizeof(err)), 0);
    c = mgmt_ctl_find(&f->m, "sd");
    assert_non_null(c);
    assert_string_equal(c->socket_path, "");
    assert_string_equal(c->srv.name, "fd 3");
    /* Live: another listener may not take the path over. */
    assert_int_equal(server_listen(path, err, sizeof(err)), -EADDRINUSE);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    assert_int_equal(mgmt_ctl_delete(&f->m, "sd", err, sizeof(err)), 0);
    assert_closed_by_peer(fd);
    close(fd);
    assert_true(is_socket(path)); /* its owner's to remove */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bdev_add_find_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_delete_attached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_create_connect_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_held_until_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_create_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_inherited_fd, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
