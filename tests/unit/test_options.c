/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's command line (options.c): options, their combinations and
 * errors, LUN numbering and limits.  The --lun SPEC keys: test_lun_spec.c.
 */
#include "options_fixture.h"

static void test_minimal(void **state)
{
    assert_int_equal(parse_lun("type=ram,size=64M"), 0);
    assert_string_equal(opts.socket_path, "/tmp/vus.sock");
    assert_int_equal(opts.listen_fd, -1);
    assert_int_equal(opts.threads, 1);
    assert_int_equal(opts.poll_us, OPT_DEFAULT_POLL_US);
    assert_false(opts.verbose);
    assert_false(opts.print_capabilities);
    assert_int_equal(opts.nluns, 1);
    struct opt_lun *l = &opts.luns[0];
    assert_int_equal(l->bdev.type, BDEV_TYPE_RAM);
    assert_int_equal(l->bdev.size, 64ull << 20);
    assert_int_equal(l->bdev.block_size, 512);
    assert_false(l->bdev.readonly);
    assert_false(l->bdev.direct);
    assert_null(l->bdev.path);
    assert_int_equal(l->scsi.target, 0);
    assert_int_equal(l->scsi.lun, 0);
    assert_false(l->lun_given);
    assert_string_equal(l->scsi.serial, "");
    assert_int_equal(l->scsi.wwn, 0);
}

static void test_info_options(void **state)
{
    assert_int_equal(parse("--print-capabilities", NULL), 1);
    assert_string_equal(outbuf, "{\"type\": \"scsi\"}\n");
    assert_true(opts.print_capabilities);

    assert_int_equal(parse("--version", NULL), 1);
    assert_string_equal(outbuf, "vhost-user-scsi " VUS_VERSION "\n");
    assert_int_equal(parse("-V", NULL), 1);
    assert_string_equal(outbuf, "vhost-user-scsi " VUS_VERSION "\n");

    assert_int_equal(parse("--help", NULL), 1);
    static const char *const must_mention[] = {
        "--socket-path",
        "--fd",
        "--lun",
        "--threads",
        "--verbose",
        "--print-capabilities",
        "--mask-features",
        "--mask-protocol-features",
        "--help",
        "--version",
        "type=ram|file|null",
        "size=",
        "path=",
        "target=",
        "lun=",
        "block-size=512|4096",
        "readonly=on|off",
        "direct=on|off",
        "serial=",
        "wwn=",
        "write-cache=on|off",
        "vhost-user-scsi-pci",
        "-chardev socket",
    };
    for (size_t i = 0; i < sizeof(must_mention) / sizeof(must_mention[0]); i++) {
        if (!strstr(outbuf, must_mention[i]))
            fail_msg("--help does not mention %s", must_mention[i]);
    }
    char first[sizeof(outbuf)];
    snprintf(first, sizeof(first), "%s", outbuf);
    assert_int_equal(parse("-h", NULL), 1);
    assert_string_equal(outbuf, first);
    /* Help wins even without the otherwise mandatory options. */
    assert_int_equal(parse("--lun", "type=ram,size=1M", "--help", NULL), 1);
}

static void test_lun_numbering(void **state)
{
    assert_int_equal(parse("--socket-path", "s",                              /**/
                           "--lun", "type=ram,size=1M",                       /* -> 1 */
                           "--lun", "type=ram,size=1M,lun=0",                 /* 0 */
                           "--lun", "type=ram,size=1M",                       /* -> 3 */
                           "--lun", "type=ram,size=1M,target=1",              /* -> 0 */
                           "--lun", "type=ram,size=1M,lun=2",                 /* 2 */
                           "--lun", "type=file,path=/x,target=1,lun=0,lun=1", /* error */
                           NULL),
                     -1);
    assert_string_equal(err, "--lun 'type=file,path=/x,target=1,lun=0,lun=1': lun= is given twice");

    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M", "--lun",
                           "type=ram,size=1M,lun=0", "--lun", "type=ram,size=1M", "--lun",
                           "type=ram,size=1M,target=1", "--lun", "type=ram,size=1M,lun=2", NULL),
                     0);
    assert_int_equal(opts.nluns, 5);
    assert_int_equal(opts.luns[0].scsi.lun, 1);
    assert_int_equal(opts.luns[1].scsi.lun, 0);
    assert_int_equal(opts.luns[2].scsi.lun, 3);
    assert_int_equal(opts.luns[3].scsi.target, 1);
    assert_int_equal(opts.luns[3].scsi.lun, 0);
    assert_int_equal(opts.luns[4].scsi.lun, 2);

    expect_error("--lun 'type=ram,size=1M,lun=5': target 0 lun 5 is already used", "--fd", "0",
                 "--lun", "type=ram,size=1M,lun=5", "--lun", "type=ram,size=1M,lun=5", NULL);
    /* The same number on another target is a different unit. */
    assert_int_equal(parse("--fd", "0", "--lun", "type=ram,size=1M,lun=5", "--lun",
                           "type=ram,size=1M,lun=5,target=2", NULL),
                     0);
}

/* 256 LUNs fill target 0 exactly; a 257th --lun is refused. */
static void test_lun_limits(void **state)
{
    char *argv[2 + 2 + 2 * (OPT_MAX_LUNS + 1) + 1];
    static char specs[OPT_MAX_LUNS + 1][64];
    int argc = 0;
    argv[argc++] = "vhost-user-scsi";
    argv[argc++] = "--fd";
    argv[argc++] = "7";
    for (int i = 0; i < OPT_MAX_LUNS; i++) {
        if (i == 100)
            snprintf(specs[i], sizeof(specs[i]), "type=ram,size=4K,lun=0");
        else
            snprintf(specs[i], sizeof(specs[i]), "type=ram,size=4K");
        argv[argc++] = "--lun";
        argv[argc++] = specs[i];
    }
    argv[argc] = NULL;
    FILE *out = fmemopen(outbuf, sizeof(outbuf), "w");
    assert_int_equal(options_parse(argc, argv, &opts, out, err, sizeof(err)), 0);
    assert_int_equal(opts.nluns, OPT_MAX_LUNS);
    assert_int_equal(opts.luns[100].scsi.lun, 0);
    assert_int_equal(opts.luns[0].scsi.lun, 1);
    assert_int_equal(opts.luns[255].scsi.lun, 255);
    bool seen[256] = { false };
    for (int i = 0; i < OPT_MAX_LUNS; i++) {
        assert_false(seen[opts.luns[i].scsi.lun]);
        seen[opts.luns[i].scsi.lun] = true;
    }

    snprintf(specs[OPT_MAX_LUNS], sizeof(specs[0]), "type=ram,size=4K,target=1");
    argv[argc++] = "--lun";
    argv[argc++] = specs[OPT_MAX_LUNS];
    argv[argc] = NULL;
    assert_int_equal(options_parse(argc, argv, &opts, out, err, sizeof(err)), -1);
    assert_string_equal(err, "--lun 'type=ram,size=4K,target=1': too many LUNs (at most 256)");
    fclose(out);
}

static void test_command_line_errors(void **state)
{
    expect_error("at least one --lun is required", "--socket-path", "s", NULL);
    expect_error("one of --socket-path or --fd is required", "--lun", "type=ram,size=1M", NULL);
    expect_error("--socket-path and --fd cannot be used together", "--socket-path", "s", "--fd",
                 "3", "--lun", "type=ram,size=1M", NULL);
    expect_error("--socket-path is given twice", "--socket-path", "a", "--socket-path", "b", NULL);
    expect_error("--socket-path must not be empty", "--socket-path", "", NULL);
    expect_error("--fd is given twice", "--fd", "3", "--fd", "4", NULL);
    expect_error("--fd 'abc': not a file descriptor number", "--fd", "abc", NULL);
    expect_error("--fd '-1': not a file descriptor number", "--fd", "-1", NULL);
    expect_error("--fd '2147483648': not a file descriptor number", "--fd", "2147483648", NULL);
    expect_error("--fd '': not a file descriptor number", "--fd", "", NULL);
    expect_error("--threads '0': must be between 1 and 64", "--threads", "0", NULL);
    expect_error("--threads '65': must be between 1 and 64", "--threads", "65", NULL);
    expect_error("--threads 'two': must be between 1 and 64", "--threads", "two", NULL);
    expect_error("--threads is given twice", "--threads", "2", "--threads", "2", NULL);
    expect_error("--poll-us '1001': must be between 0 and 1000", "--poll-us", "1001", NULL);
    expect_error("--poll-us '-1': must be between 0 and 1000", "--poll-us", "-1", NULL);
    expect_error("--poll-us '5us': must be between 0 and 1000", "--poll-us", "5us", NULL);
    expect_error("--poll-us is given twice", "--poll-us", "2", "--poll-us", "2", NULL);
    expect_error("unknown option '--bogus'", "--bogus", NULL);
    expect_error("unknown option '-x'", "-x", NULL);
    expect_error("unknown option '-x'", "-vx", NULL);
    expect_error("option '--help' does not take a value", "--help=3", NULL);
    expect_error("option '--lun' requires an argument", "--socket-path", "s", "--lun", NULL);
    expect_error("option '--threads' requires an argument", "--threads", NULL);
    expect_error("unexpected argument 'extra'", "--socket-path", "s", "--lun", "type=ram,size=1M",
                 "extra", NULL);

    assert_int_equal(
        parse("--fd", "2147483647", "--threads", "64", "--lun", "type=ram,size=1M", NULL), 0);
    assert_int_equal(opts.listen_fd, 2147483647);
    assert_int_equal(opts.threads, 64);

    /* sun_path holds 107 bytes and the terminating NUL. */
    char longpath[200];
    memset(longpath, 'a', 107);
    longpath[107] = 0;
    assert_int_equal(parse("--socket-path", longpath, "--lun", "type=ram,size=1M", NULL), 0);
    longpath[107] = 'a';
    longpath[108] = 0;
    assert_int_equal(parse("--socket-path", longpath, "--lun", "type=ram,size=1M", NULL), -1);
    assert_non_null(strstr(err, "is too long (at most 107 bytes)"));
}

/* The testing-only feature masks: hex, offered bits only, once each. */
static void test_feature_masks(void **state)
{
    assert_int_equal(parse_lun("type=ram,size=1M"), 0);
    assert_int_equal(opts.mask_features, 0);
    assert_int_equal(opts.mask_protocol_features, 0);
    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M", "--mask-features",
                           "0x60000000", "--mask-protocol-features", "18008", NULL),
                     0);
    assert_int_equal(opts.mask_features, 0x60000000);
    assert_int_equal(opts.mask_protocol_features, 0x18008);
    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M", "--mask-features",
                           "000000000000000000020000000", NULL),
                     0);
    assert_int_equal(opts.mask_features, 0x20000000);
    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M",
                           "--mask-protocol-features", "0X8000", NULL),
                     0);
    assert_int_equal(opts.mask_protocol_features, 0x8000);

    assert_int_equal(parse("--mask-features", "0xg", NULL), -1);
    assert_non_null(strstr(err, "--mask-features '0xg': not a hexadecimal number (offered: 0x"));
    assert_int_equal(parse("--mask-features", "0x", NULL), -1);
    assert_non_null(strstr(err, "not a hexadecimal number"));
    assert_int_equal(parse("--mask-features", "", NULL), -1);
    assert_non_null(strstr(err, "not a hexadecimal number"));
    assert_int_equal(parse("--mask-features", "-1", NULL), -1);
    assert_non_null(strstr(err, "not a hexadecimal number"));
    assert_int_equal(parse("--mask-features", "10000000000000000", NULL), -1);
    assert_non_null(strstr(err, "more than 64 bits"));
    /* Bit 0 is no feature of ours: masking cannot add, and a typo must not mask nothing. */
    assert_int_equal(parse("--mask-features", "1", NULL), -1);
    assert_non_null(strstr(err, "--mask-features '1': has bits the daemon does not offer"));
    assert_int_equal(parse("--mask-protocol-features", "0x4", NULL), -1);
    assert_non_null(strstr(err, "--mask-protocol-features '0x4': has bits the daemon does not"));
    expect_error("--mask-features is given twice", "--mask-features", "0x20000000",
                 "--mask-features", "0x20000000", NULL);
    expect_error("--mask-protocol-features is given twice", "--mask-protocol-features", "8",
                 "--mask-protocol-features", "8", NULL);
    expect_error("option '--mask-features' requires an argument", "--mask-features", NULL);
}

/* A tiny error buffer truncates the message and nothing else. */
static void test_small_error_buffer(void **state)
{
    char small[9];
    char *argv[] = { "vhost-user-scsi", "--socket-path", "s", "--lun", "type=ram", NULL };
    memset(small, 'Z', sizeof(small));
    assert_int_equal(options_parse(5, argv, &opts, stdout, small, 8), -1);
    assert_string_equal(small, "--lun '");
    assert_int_equal(small[8], 'Z');
}

static void test_management_options(void **state)
{
    assert_int_equal(parse("--rpc-socket", "/run/vus/rpc.sock", NULL), 0);
    assert_string_equal(opts.rpc_socket, "/run/vus/rpc.sock");
    assert_null(opts.socket_path);
    assert_null(opts.name);
    assert_int_equal(opts.nluns, 0);
    assert_int_equal(
        parse("--rpc-socket", "r", "--config", "/etc/vus.json", "--threads", "4", NULL), 0);
    assert_string_equal(opts.config, "/etc/vus.json");
    assert_null(opts.state_dir);
    assert_int_equal(parse("--rpc-socket", "r", "--state-dir", "/var/lib/vus", NULL), 0);
    assert_string_equal(opts.state_dir, "/var/lib/vus");
    expect_error("--state-dir is given twice", "--rpc-socket", "r", "--state-dir", "a",
                 "--state-dir", "b", NULL);
    /* The command-line controller gets a name, "default" unless told. */
    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M", NULL), 0);
    assert_string_equal(opts.name, "default");
    assert_int_equal(parse("--socket-path", "s", "--name", "vm-1.a", "--rpc-socket", "r", NULL), 0);
    assert_string_equal(opts.name, "vm-1.a");
    assert_int_equal(opts.nluns, 0);

    assert_int_equal(parse("--rpc-socket", "r", "--cpus", "2-4,0,7", NULL), 0);
    assert_int_equal(opts.ncpus, 5);
    assert_int_equal(opts.cpus[0], 2);
    assert_int_equal(opts.cpus[2], 4);
    assert_int_equal(opts.cpus[3], 0);
    assert_int_equal(opts.cpus[4], 7);
    expect_error("--cpus '3-1': must be CPU numbers and ranges like 0-3,6 (each < 1024)",
                 "--rpc-socket", "r", "--cpus", "3-1", NULL);
    expect_error("--cpus '1,,2': must be CPU numbers and ranges like 0-3,6 (each < 1024)",
                 "--rpc-socket", "r", "--cpus", "1,,2", NULL);
    expect_error("--cpus '1024': must be CPU numbers and ranges like 0-3,6 (each < 1024)",
                 "--rpc-socket", "r", "--cpus", "1024", NULL);
    expect_error("--config needs --rpc-socket (the configuration is what RPC creates)",
                 "--socket-path", "s", "--lun", "type=ram,size=1M", "--config", "c", NULL);
    expect_error("--lun needs --socket-path or --fd (a controller to attach to)", "--rpc-socket",
                 "r", "--lun", "type=ram,size=1M", NULL);
    expect_error("--name names the --socket-path/--fd controller: give one", "--rpc-socket", "r",
                 "--name", "x", NULL);
    expect_error("--name 'a b': 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'",
                 "--socket-path", "s", "--name", "a b", "--lun", "type=ram,size=1M", NULL);
    expect_error("--rpc-socket is given twice", "--rpc-socket", "a", "--rpc-socket", "b", NULL);
    expect_error("--config must not be empty", "--rpc-socket", "a", "--config", "", NULL);
    expect_error("one of --socket-path or --fd is required", "--lun", "type=ram,size=1M", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_info_options),
        cmocka_unit_test(test_lun_numbering),
        cmocka_unit_test(test_lun_limits),
        cmocka_unit_test(test_command_line_errors),
        cmocka_unit_test(test_feature_masks),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_management_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
