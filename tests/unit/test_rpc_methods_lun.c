/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods (rpc_methods.c) through rpc_dispatch(), no
 * socket: lun_attach, lun_list and lun_detach with their results and
 * errors, busy block devices and full targets, and stats with every
 * per-LUN key, filtered by controller and address.  The fixture:
 * rpc_methods_fixture.h.
 */
#include "rpc_methods_fixture.h"
#include "util/log.h"

/* ---- LUNs ---- */

static void test_lun_attach_list_detach(void **state)
{
    struct fx *f = *state;
    static const char *const keys[] = { "target",     "lun",  "serial", "size",
                                        "block_size", "bdev", NULL };
    struct mgmt_ctl *c;
    char p0[128], p1[128];
    json_t *r;

    ctl(f, "c0", p0, sizeof(p0));
    ctl(f, "c1", p1, sizeof(p1));
    c = mgmt_ctl_find(&f->m, "c0");
    ram(f, "r0", "'1M'");
    ok_true(f, "bdev_create", "{'name': 'n0', 'type': 'null', 'size': '2M', 'block_size': 4096}");

    /* Default target 0, lowest free LUN; explicit addresses; serial and wwn. */
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'n0'}", 0, 1);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 255, 'lun': 255}", 255, 255);
    attach(f, "{'controller': 'c0', 'bdev': 'n0', 'target': 2}", 2, 0);
    attach(f,
           "{'controller': 'c0', 'bdev': 'r0', 'lun': 7, 'serial': 'MY-SERIAL',"
           " 'wwn': '0x6001122334455667'}",
           0, 7);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'wwn': '5001122334455667'}", 0, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'n0', 'write_cache': false}", 0, 1);
    attach(f, "{'controller': 'c1', 'bdev': 'n0', 'write_cache': true}", 0, 2);
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->attached, 4);
    /* The newest unit has POWER ON only; the earlier ones of its target heard of it. */
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 7)->ua_pending),
                     SCSI_UA_POWER_ON_RESET);
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 1)->ua_pending),
                     SCSI_UA_POWER_ON_RESET | SCSI_UA_REPORTED_LUNS);
    assert_string_equal(scsi_lookup(&c->c.targets, 0, 7)->serial, "MY-SERIAL");
    assert_int_equal(scsi_lookup(&c->c.targets, 0, 7)->wwn, 0x6001122334455667ull);
    assert_int_equal(scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 0)->wwn,
                     0x5001122334455667ull);
    /* write_cache: absent or true is on, false starts the LUN write-through. */
    assert_true(atomic_load(&scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 0)->wce));
    assert_false(atomic_load(&scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 1)->wce));
    assert_false(scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 1)->wce_default);
    assert_true(atomic_load(&scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 2)->wce));
    ok_true(f, "lun_detach", "{'controller': 'c1', 'target': 0, 'lun': 1}");
    ok_true(f, "lun_detach", "{'controller': 'c1', 'target': 0, 'lun': 2}");
    /* The other LUN options reach the unit; a physical block size the bdev cannot have fails. */
    attach(f,
           "{'controller': 'c1', 'bdev': 'r0', 'lun': 3, 'removable': true,"
           " 'physical_block_size': 4096, 'discard_granularity': 65536}",
           0, 3);
    {
        struct scsi_lun *u = scsi_lookup(&mgmt_ctl_find(&f->m, "c1")->c.targets, 0, 3);

        assert_true(u->removable);
        assert_int_equal(u->lbppb_exp, 3);
        assert_int_equal(u->unmap_gran, 128);
    }
    fails(f, 0, "physical-block-size", "lun_attach",
          "{'controller': 'c1', 'bdev': 'n0', 'lun': 4, 'physical_block_size': 2048}");
    fails(f, 0, NULL, "lun_attach",
          "{'controller': 'c1', 'bdev': 'r0', 'lun': 4, 'physical_block_size': 100}");
    ok_true(f, "lun_detach", "{'controller': 'c1', 'target': 0, 'lun': 3}");

    /* lun_list: in attach order, with the unit's serial and the bdev's geometry. */
    r = ok(f, "lun_list", "{'controller': 'c0'}");
    assert_int_equal(json_array_size(r), 5);
    for (size_t i = 0; i < 5; i++)
        assert_keys(json_array_get(r, i), keys);
    assert_json_text(json_array_get(r, 1),
                     "{'target': 0, 'lun': 1, 'bdev': 'n0', 'serial': '%s', 'size': 2097152,"
                     " 'block_size': 4096}",
                     scsi_lookup(&c->c.targets, 0, 1)->serial);
    assert_json_text(json_array_get(r, 4),
                     "{'target': 0, 'lun': 7, 'bdev': 'r0', 'serial': 'MY-SERIAL',"
                     " 'size': 1048576, 'block_size': 512}");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 2), "target")), 255);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 3), "target")), 2);
    json_decref(r);
    /* controller_list shows them too. */
    r = ok(f, "controller_list", NULL);
    assert_json_text(json_object_get(json_array_get(r, 1), "luns"),
                     "[{'target': 0, 'lun': 0, 'bdev': 'r0'}]");
    assert_int_equal(json_array_size(json_object_get(json_array_get(r, 0), "luns")), 5);
    json_decref(r);
    /* bdev_list counts attachments. */
    r = ok(f, "bdev_list", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "attached")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "attached")), 2);
    json_decref(r);

    /* Taken, unknown. */
    fails(f, -32002, "0:1", "lun_attach", "{'controller': 'c0', 'bdev': 'r0', 'lun': 1}");
    fails(f, -32002, "255:255", "lun_attach",
          "{'controller': 'c0', 'bdev': 'r0', 'target': 255, 'lun': 255}");
    fails(f, -32001, "no controller 'zz'", "lun_attach", "{'controller': 'zz', 'bdev': 'r0'}");
    fails(f, -32001, "no block device 'zz'", "lun_attach", "{'controller': 'c0', 'bdev': 'zz'}");
    fails(f, -32001, "no controller 'zz'", "lun_list", "{'controller': 'zz'}");

    /* Wrong params. */
    const char *m = "lun_attach";
    fails(f, -32602, "controller: required", m, "{'bdev': 'r0'}");
    fails(f, -32602, "bdev: required", m, "{'controller': 'c0'}");
    fails(f, -32602, "controller: must be a string", m, "{'controller': 0, 'bdev': 'r0'}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': 256}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': -1}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': '1'}");
    fails(f, -32602, "target", m, "{'controller': 'c0', 'bdev': 'r0', 'target': 1.5}");
    fails(f, -32602, "lun", m, "{'controller': 'c0', 'bdev': 'r0', 'lun': 256}");
    fails(f, -32602, "serial", m, "{'controller': 'c0', 'bdev': 'r0', 'serial': '%037d'}", 0);
    fails(f, -32602, "serial", m, "{'controller': 'c0', 'bdev': 'r0', 'serial': ''}");
    fails(f, -32602, "serial must be 1-36 printable characters", m,
          "{'controller': 'c0', 'bdev': 'r0', 'serial': 'a\\tb'}");
    fails(f, -32602, "wwn: must be 16 hex digits starting with NAA 5 or 6, got '7001122334455667'",
          m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '7001122334455667'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '500112233445566'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '500112233445566g'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '0x500112233445566'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': '50011223344556677'}");
    fails(f, -32602, "wwn", m, "{'controller': 'c0', 'bdev': 'r0', 'wwn': 5}");
    fails(f, -32602, "unknown parameter 'id'", m, "{'controller': 'c0', 'bdev': 'r0', 'id': 1}");
    fails(f, -32602, "controller: required", "lun_list", "{}");
    assert_int_equal(mgmt_bdev_find(&f->m, "r0")->attached, 4);

    /* Detach. */
    unsigned saves = f->saves;
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 0, 'lun': 1}");
    assert_int_equal(f->saves, saves + 1);
    assert_null(scsi_lookup(&c->c.targets, 0, 1));
    assert_int_equal(atomic_load(&scsi_lookup(&c->c.targets, 0, 0)->ua_pending) &
                         SCSI_UA_REPORTED_LUNS,
                     SCSI_UA_REPORTED_LUNS);
    fails(f, -32001, "controller 'c0' has no LUN 0:1", "lun_detach",
          "{'controller': 'c0', 'target': 0, 'lun': 1}");
    fails(f, -32001, "no controller 'zz'", "lun_detach",
          "{'controller': 'zz', 'target': 0, 'lun': 0}");
    fails(f, -32602, "lun: required", "lun_detach", "{'controller': 'c0', 'target': 0}");
    fails(f, -32602, "target: required", "lun_detach", "{'controller': 'c0', 'lun': 0}");
    fails(f, -32602, "controller: required", "lun_detach", "{'target': 0, 'lun': 0}");
    fails(f, -32602, "target", "lun_detach", "{'controller': 'c0', 'target': 256, 'lun': 0}");
    fails(f, -32602, "lun", "lun_detach", "{'controller': 'c0', 'target': 0, 'lun': 'x'}");
    fails(f, -32602, "unknown parameter 'bdev'", "lun_detach",
          "{'controller': 'c0', 'target': 0, 'lun': 0, 'bdev': 'r0'}");
    assert_int_equal(f->saves, saves + 1);
    /* The freed number is the default again. */
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 1);
    r = ok(f, "lun_list", "{'controller': 'c0'}");
    assert_int_equal(json_array_size(r), 5);
    json_decref(r);
}

/* Busy: an attached bdev, a full target. */
static void test_busy(void **state)
{
    struct fx *f = *state;
    char p0[128];
    json_t *r;

    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "4096");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1}", 1, 0);
    fails(f, -32003, "attached to 2 LUN(s)", "bdev_delete", "{'name': 'r0'}");
    ok_true(f, "lun_detach", "{'controller': 'c0', 'target': 1, 'lun': 0}");
    fails(f, -32003, "attached to 1 LUN(s)", "bdev_delete", "{'name': 'r0'}");

    /* Deleting the controller drops its LUNs: the bdev is free. */
    ok_true(f, "controller_delete", "{'name': 'c0'}");
    assert_false(exists(p0));
    fails(f, -32001, "no controller 'c0'", "controller_delete", "{'name': 'c0'}");
    fails(f, -32602, "name: required", "controller_delete", "{}");
    fails(f, -32602, "unknown parameter 'force'", "controller_delete",
          "{'name': 'c0', 'force': true}");
    r = ok(f, "controller_list", NULL);
    assert_json_text(r, "[]");
    json_decref(r);
    ok_true(f, "bdev_delete", "{'name': 'r0'}");

    /* 256 LUNs on target 3: the 257th has nowhere to go.  (Not saved 256 times: fsync is slow.) */
    f->m.config_path = NULL;
    ctl(f, "c0", p0, sizeof(p0));
    ram(f, "r0", "4096");
    for (unsigned l = 0; l < 256; l++)
        attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 3}", 3, l);
    fails(f, -32003, "target 3 of controller 'c0' has no free LUN", "lun_attach",
          "{'controller': 'c0', 'bdev': 'r0', 'target': 3}");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    fails(f, -32003, "attached to 257 LUN(s)", "bdev_delete", "{'name': 'r0'}");
}

/* ---- stats ---- */

static void assert_lun_stats_shape(json_t *s)
{
    static const char *const top[] = { "ops",     "bytes_read", "bytes_written", "errors", "tmf",
                                       "latency", "target",     "lun",           "bdev",   NULL };
    static const char *const ops[] = { "read",  "write",  "unmap", "write_zeroes",
                                       "flush", "verify", "other", NULL };
    static const char *const lat[] = { "read", "write", "flush", "unmap", "other", NULL };
    static const char *const tmf[] = {
        "abort_task", "abort_task_set", "clear_aca",      "clear_task_set", "i_t_nexus_reset",
        "lun_reset",  "query_task",     "query_task_set", "other",          NULL
    };
    static const char *const errs[] = {
        "total",        "sense_key",    "busy", "task_set_full", "reservation_conflict",
        "task_aborted", "other_status", NULL
    };
    static const char *const hist[] = { "count", "p50_us", "p90_us", "p99_us", "buckets", NULL };

    assert_keys(s, top);
    assert_keys(json_object_get(s, "ops"), ops);
    for (size_t i = 0; ops[i]; i++)
        assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "ops"), ops[i])), 0);
    assert_true(json_is_integer(json_object_get(s, "bytes_read")));
    assert_true(json_is_integer(json_object_get(s, "bytes_written")));
    assert_keys(json_object_get(s, "tmf"), tmf);
    assert_keys(json_object_get(s, "errors"), errs);
    assert_int_equal(json_object_size(json_object_get(json_object_get(s, "errors"), "sense_key")),
                     16);
    assert_keys(json_object_get(s, "latency"), lat);
    for (size_t i = 0; lat[i]; i++) {
        json_t *h = json_object_get(json_object_get(s, "latency"), lat[i]);

        assert_keys(h, hist);
        assert_true(json_is_null(json_object_get(h, "p50_us")));
        assert_int_equal(json_array_size(json_object_get(h, "buckets")), 26);
    }
}

static void test_stats(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128];
    json_t *r, *c0, *luns;

    ctl(f, "c0", p0, sizeof(p0));
    ctl(f, "c1", p1, sizeof(p1));
    ctl(f, "c2", p1, sizeof(p1));
    ram(f, "r0", "'1M'");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1, 'lun': 2}", 1, 2);
    attach(f, "{'controller': 'c0', 'bdev': 'r0', 'target': 1}", 1, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'r0'}", 0, 0);

    r = ok(f, "stats", NULL);
    assert_keys(r, (const char *const[]){ "controllers", NULL });
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    c0 = json_array_get(json_object_get(r, "controllers"), 0);
    assert_keys(c0, (const char *const[]){ "name", "luns", NULL });
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "c0");
    luns = json_object_get(c0, "luns");
    assert_int_equal(json_array_size(luns), 3);
    for (size_t i = 0; i < 3; i++)
        assert_lun_stats_shape(json_array_get(luns, i));
    assert_string_equal(json_string_value(json_object_get(json_array_get(luns, 1), "bdev")), "r0");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "target")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "lun")), 2);
    assert_json_text(json_object_get(json_array_get(json_object_get(r, "controllers"), 2), "luns"),
                     "[]");
    json_decref(r);

    /* Filters by address (every controller is listed, with what matches). */
    r = ok(f, "stats", "{'target': 1}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "lun")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 1), "lun")), 0);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 1), "luns");
    assert_int_equal(json_array_size(luns), 0);
    json_decref(r);
    r = ok(f, "stats", "{'target': 1, 'lun': 0}");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "target")), 1);
    json_decref(r);
    r = ok(f, "stats", "{'lun': 0}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 3);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 1), "luns");
    assert_int_equal(json_array_size(luns), 1);
    json_decref(r);

    fails(f, -32001, "no controller 'zz'", "stats", "{'controller': 'zz'}");
    fails(f, -32602, "target", "stats", "{'target': 256}");
    fails(f, -32602, "lun", "stats", "{'lun': -1}");
    fails(f, -32602, "controller: must be a string", "stats", "{'controller': 1}");
    fails(f, -32602, "unknown parameter 'bdev'", "stats", "{'bdev': 'r0'}");
    /* Reading is not a mutation. */
    unsigned saves = f->saves;
    r = ok(f, "stats", NULL);
    json_decref(r);
    assert_int_equal(f->saves, saves);
}

/* stats for one controller while others exist: only that one, nothing leaked (ASan). */
static void test_stats_by_controller(void **state)
{
    struct fx *f = *state;
    char p[128];
    json_t *r, *luns;

    ctl(f, "c0", p, sizeof(p));
    ctl(f, "c1", p, sizeof(p));
    ctl(f, "c2", p, sizeof(p));
    ram(f, "r0", "'1M'");
    attach(f, "{'controller': 'c0', 'bdev': 'r0'}", 0, 0);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'target': 1, 'lun': 2}", 1, 2);
    attach(f, "{'controller': 'c1', 'bdev': 'r0', 'target': 1}", 1, 0);

    r = ok(f, "stats", "{'controller': 'c1'}");
    assert_int_equal(json_array_size(json_object_get(r, "controllers")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "controllers"), 0), "name")),
                        "c1");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 2);
    json_decref(r);
    r = ok(f, "stats", "{'controller': 'c1', 'target': 1, 'lun': 0}");
    luns = json_object_get(json_array_get(json_object_get(r, "controllers"), 0), "luns");
    assert_int_equal(json_array_size(luns), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(luns, 0), "lun")), 0);
    json_decref(r);
    r = ok(f, "stats", "{'controller': 'c2'}");
    assert_json_text(r, "{'controllers': [{'name': 'c2', 'luns': []}]}");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lun_attach_list_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_by_controller, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
