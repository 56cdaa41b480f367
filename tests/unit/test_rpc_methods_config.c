/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods (rpc_methods.c) through rpc_dispatch(), no
 * socket: the configuration saved after each mutation (and only then), and
 * replayed into a fresh state as the daemon does at start, giving the same
 * configuration and the same LUNs.  The fixture: rpc_methods_fixture.h.
 */
#include "rpc_methods_fixture.h"
#include "util/log.h"

/* ---- the configuration: saved after each mutation, replayed at start ---- */

static void test_config_saved_and_replayed(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128], img[128], text[2048];
    json_t *cfg, *before;
    struct config_iter it;
    unsigned saves;

    path_in(f, "disk.img", img, sizeof(img));
    make_file(img, MiB);
    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "'1M'");
    ok_true(f, "bdev_create", "{'name': 'f0', 'type': 'file', 'path': '%s', 'readonly': true}",
            img);
    ctl(f, "c1", p1, sizeof(p1));
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 4}", 4, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 4, 'lun': 9}", 4, 9);
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 4, 'lun': 0}");
    attach(f, "{'controller': 'c0', 'bdev': 'f0'}", 0, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'f0', 'serial': 'S1'}", 0, 0);
    json_decref(ok(f, "bdev_resize", "{'name': 'r0', 'size': '2M'}"));
    /* Created outside RPC (the command line): not saved. */
    {
        struct bdev_config bc = { .type = BDEV_TYPE_RAM, .size = MiB, .block_size = 512 };
        struct mgmt_lun_spec spec = { .target = -1, .lun = -1 };
        struct bdev *b;
        char err[256];
        unsigned t, l;

        assert_int_equal(bdev_open(&bc, &b, err, sizeof(err)), 0);
        assert_int_equal(mgmt_bdev_add(&f->m, "cli", "ram", b, NULL, err, sizeof(err)), 0);
        assert_int_equal(mgmt_lun_attach(&f->m, "c0", "cli", &spec, &t, &l, err, sizeof(err)), 0);
        assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), 0);
    }
    /* Any mutation saves all of it (a failed one saves nothing). */
    saves = f->saves;
    fails(f, -32002, NULL, "bdev_create", "{'name': 'r0', 'type': 'ram', 'size': 512}");
    assert_int_equal(f->saves, saves);
    ok_true(f, "bdev_create", "{'name': 'spare', 'type': 'null', 'size': 512}");
    assert_int_equal(f->saves, saves + 1);

    snprintf(text, sizeof(text),
             "{'version': 1,"
             " 'bdevs': [{'name': 'r0', 'type': 'ram', 'size': 2097152},"
             "           {'name': 'f0', 'type': 'file', 'path': '%s', 'readonly': true},"
             "           {'name': 'spare', 'type': 'null', 'size': 512}],"
             " 'controllers': [{'name': 'c0', 'socket_path': '%s'},"
             "                 {'name': 'c1', 'socket_path': '%s'}],"
             " 'luns': [{'controller': 'c0', 'bdev': 'r0', 'target': 4, 'lun': 9},"
             "          {'controller': 'c0', 'bdev': 'f0', 'target': 0, 'lun': 0},"
             "          {'controller': 'c1', 'bdev': 'f0', 'serial': 'S1', 'target': 0,"
             "           'lun': 0}]}",
             img, p0, p1);
    cfg = saved(f);
    assert_json_text(cfg, "%s", text);
    before = mgmt_config(&f->m);
    assert_json_equal(before, cfg);

    /* A restart: everything down, then the file replayed as the daemon does. */
    mgmt_shutdown(&f->m, stop_pool);
    assert_false(exists(p0));
    mgmt_up(f);
    f->m.restoring = true;
    saves = f->saves;
    config_iter_init(&it, cfg);
    while (config_iter_next(&it)) {
        static const char *const method[] = { [CONFIG_BDEVS] = "bdev_create",
                                              [CONFIG_CONTROLLERS] = "controller_create",
                                              [CONFIG_LUNS] = "lun_attach" };
        json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id", 1, "method",
                                method[it.section], "params", it.params);
        json_t *resp = rpc_dispatch(&f->d, req);

        if (!json_object_get(resp, "result")) {
            char *s = dump(resp);

            fail_msg("replaying %s: %s", method[it.section], s);
        }
        json_decref(resp);
        json_decref(req);
    }
    f->m.restoring = false;
    /* The hook ran, the file was not rewritten while restoring. */
    assert_int_equal(f->saves, saves + 8);
    json_decref(cfg);
    cfg = saved(f);
    assert_json_equal(cfg, before);
    json_decref(cfg);
    cfg = mgmt_config(&f->m);
    assert_json_equal(cfg, before);
    json_decref(cfg);
    assert_true(exists(p0) && exists(p1));
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->bdev->size, 2 * MiB);
    assert_string_equal(scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 0)->serial, "S1");
    assert_non_null(scsi_lookup(&mgmt_ctl_find(&f->m, "c0")->c.targets, 4, 9));
    json_decref(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_saved_and_replayed, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
