/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane (mgmt.c) on real threads, its state as a whole: the
 * configuration of what RPC created, saved and read back, and the shutdown
 * of controllers with frontends connected, LUNs and block devices of every
 * kind.  The fixture: mgmt_fixture.h.
 */
#include <fcntl.h>

#include "config/config_file.h"
#include "mgmt_fixture.h"
#include "util/log.h"

/* ---- configuration ---- */

static json_t *loads(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (!v)
        fail_msg("bad test JSON '%s': %s", text, e.text);
    return v;
}

static void assert_json_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);

        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
}

static void test_config(void **state)
{
    struct fx *f = *state;
    char cfgpath[128], sock[3][128], err[512] = "", want_text[2048];
    json_t *p_r0 = loads("{\"name\": \"r0\", \"type\": \"ram\", \"size\": \"1M\"}");
    json_t *p_r1 = loads("{\"name\": \"r1\", \"type\": \"null\", \"size\": 1048576}");
    json_t *l1 = loads("{\"controller\": \"c0\", \"bdev\": \"r0\"}");
    json_t *l2 = loads("{\"controller\": \"c0\", \"bdev\": \"r1\", \"target\": 2}");
    json_t *l3 = loads("{\"controller\": \"c0\", \"bdev\": \"r0\", \"serial\": \"S3\"}");
    json_t *l4 = loads("{\"controller\": \"c1\", \"bdev\": \"r1\", \"lun\": 4}");
    json_t *lx = loads("{\"controller\": \"c0\", \"bdev\": \"cli\"}");
    json_t *ly = loads("{\"controller\": \"cli\", \"bdev\": \"r0\"}");
    json_t *cfg, *want, *loaded;

    /* Created by RPC (params) and from the command line (none), mixed. */
    add_bdev(f, "r0", BDEV_TYPE_RAM, MiB, 512, NULL, p_r0);
    add_bdev(f, "cli", BDEV_TYPE_RAM, MiB, 512, NULL, NULL);
    add_bdev(f, "r1", BDEV_TYPE_NULL, MiB, 512, NULL, p_r1);
    add_ctl(f, "c0", true);
    add_ctl(f, "cli", false);
    add_ctl(f, "c1", true);
    attach_at(f, "c0", "r0", -1, -1, l1, 0, 0);
    attach_at(f, "c0", "r1", 2, -1, l2, 2, 0);
    attach_at(f, "c0", "cli", -1, -1, lx, 0, 1);  /* its bdev is not persisted */
    attach_at(f, "cli", "r0", -1, -1, ly, 0, 0);  /* its controller is not */
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 2); /* no params: command line */
    attach_at(f, "c0", "r0", -1, -1, l3, 0, 3);
    attach_at(f, "c1", "r1", -1, 4, l4, 0, 4);
    /* The params are referenced, not copied: the caller's are free to go. */
    assert_int_equal(p_r0->refcount, 2);

    for (unsigned i = 0; i < 3; i++) {
        static const char *const n[] = { "c0.sock", "cli.sock", "c1.sock" };
        path_in(f, n[i], sock[i], sizeof(sock[i]));
    }
    snprintf(want_text, sizeof(want_text),
             "{\"version\": 1,"
             " \"bdevs\": [{\"name\": \"r0\", \"type\": \"ram\", \"size\": \"1M\"},"
             "            {\"name\": \"r1\", \"type\": \"null\", \"size\": 1048576}],"
             " \"controllers\": [{\"name\": \"c0\", \"socket_path\": \"%s\"},"
             "                  {\"name\": \"c1\", \"socket_path\": \"%s\"}],"
             " \"luns\": [{\"controller\": \"c0\", \"bdev\": \"r0\", \"target\": 0, \"lun\": 0},"
             "           {\"controller\": \"c0\", \"bdev\": \"r1\", \"target\": 2, \"lun\": 0},"
             "           {\"controller\": \"c0\", \"bdev\": \"r0\", \"serial\": \"S3\","
             "            \"target\": 0, \"lun\": 3},"
             "           {\"controller\": \"c1\", \"bdev\": \"r1\", \"target\": 0, \"lun\": 4}]}",
             sock[0], sock[2]);
    want = loads(want_text);
    cfg = mgmt_config(&f->m);
    assert_non_null(cfg);
    assert_json_equal(cfg, want);
    assert_int_equal(config_validate(cfg, "mgmt", err, sizeof(err)), 0);
    /* The caller's params were not changed by filling in the address. */
    assert_null(json_object_get(l1, "target"));

    /* No path: nothing to save. */
    assert_int_equal(mgmt_save(&f->m), 0);

    /* Saved, and read back the same. */
    path_in(f, "config.json", cfgpath, sizeof(cfgpath));
    f->m.config_path = cfgpath;
    assert_int_equal(mgmt_save(&f->m), 0);
    loaded = config_load(cfgpath, err, sizeof(err));
    if (!loaded)
        fail_msg("config_load: %s", err);
    assert_json_equal(loaded, want);
    json_decref(loaded);

    /* While restoring, the file is left alone. */
    assert_int_equal(unlink(cfgpath), 0);
    f->m.restoring = true;
    detach(f, "c0", 2, 0);
    assert_int_equal(mgmt_save(&f->m), 0);
    assert_false(exists(cfgpath));
    f->m.restoring = false;

    /* Changes show: the detached LUN and a deleted controller's are gone. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c1", err, sizeof(err)), 0);
    assert_int_equal(mgmt_save(&f->m), 0);
    loaded = config_load(cfgpath, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_CONTROLLERS)), 1);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_LUNS)), 2);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_BDEVS)), 2);
    assert_json_equal(json_array_get(config_items(loaded, CONFIG_LUNS), 1),
                      json_array_get(config_items(want, CONFIG_LUNS), 2));
    json_decref(loaded);

    f->m.config_path = NULL;
    json_decref(cfg);
    json_decref(want);
    json_decref(p_r0);
    json_decref(p_r1);
    json_decref(l1);
    json_decref(l2);
    json_decref(l3);
    json_decref(l4);
    json_decref(lx);
    json_decref(ly);
}

/* An empty daemon's configuration is the empty one. */
static void test_config_empty(void **state)
{
    struct fx *f = *state;
    json_t *cfg, *empty = config_new();

    add_ram(f, "cli", MiB);
    add_ctl(f, "cli", false);
    attach_at(f, "cli", "cli", -1, -1, NULL, 0, 0);
    cfg = mgmt_config(&f->m);
    assert_json_equal(cfg, empty);
    json_decref(cfg);
    json_decref(empty);
}

/* ---- shutdown ---- */

static void test_shutdown_everything(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128], img[128];
    json_t *params = loads("{\"name\": \"f0\", \"type\": \"file\"}");
    struct mgmt_ctl *c0, *c1;
    int fd0, fd1, fd;

    path_in(f, "disk.img", img, sizeof(img));
    fd = open(img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MiB), 0);
    close(fd);
    add_ram(f, "r0", MiB);
    add_bdev(f, "n0", BDEV_TYPE_NULL, MiB, 4096, NULL, NULL);
    add_bdev(f, "f0", BDEV_TYPE_FILE, 0, 512, img, params);
    add_ram(f, "spare", MiB);
    c0 = add_ctl(f, "c0", true);
    c1 = add_ctl(f, "c1", false);
    attach_at(f, "c0", "r0", -1, -1, params, 0, 0);
    attach_at(f, "c0", "n0", -1, -1, NULL, 0, 1);
    attach_at(f, "c1", "f0", 1, 1, NULL, 1, 1);
    attach_at(f, "c1", "r0", -1, -1, NULL, 0, 0);
    path_in(f, "c0.sock", p0, sizeof(p0));
    path_in(f, "c1.sock", p1, sizeof(p1));
    fd0 = connect_to(p0);
    fd1 = connect_to(p1);
    assert_true(fd0 >= 0 && fd1 >= 0);
    wait_connected(c0, true);
    wait_connected(c1, true);

    mgmt_shutdown(&f->m, stop_pool);
    assert_int_equal(f->npool, 0);
    assert_null(f->m.ctls);
    assert_null(f->m.bdevs);
    assert_false(exists(p0));
    assert_false(exists(p1));
    assert_true(exists(img));
    assert_closed_by_peer(fd0);
    assert_closed_by_peer(fd1);
    close(fd0);
    close(fd1);
    /* Everything else was freed: ASan's leak check at exit says so. */
    assert_int_equal(params->refcount, 1);
    json_decref(params);
}

/* Without a pool-stopping callback (the caller stops it afterwards). */
static void test_shutdown_empty_and_twice(void **state)
{
    struct fx *f = *state;

    mgmt_shutdown(&f->m, NULL);
    mgmt_shutdown(&f->m, stop_pool);
    assert_int_equal(f->npool, 0);
    add_ram(f, "r0", MiB); /* still usable as a registry: freed by teardown's shutdown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_empty_and_twice, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
