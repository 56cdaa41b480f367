/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --lun SPEC (lun_spec.c): every key of every backend type, values good and
 * bad, escapes, and the one-line errors naming the SPEC and the key.
 */
#include "options_fixture.h"

static void test_all_keys(void **state)
{
    assert_int_equal(parse("--fd", "3", "--threads", "4", "--poll-us", "0", "-v", "--lun",
                           "type=file,path=/dev/sdb,target=3,lun=7,block-size=4096,readonly=on,"
                           "direct=on,serial=ABC-123 x,wwn=0x5001405abcdef012,write-cache=off",
                           NULL),
                     0);
    assert_null(opts.socket_path);
    assert_int_equal(opts.listen_fd, 3);
    assert_int_equal(opts.threads, 4);
    assert_int_equal(opts.poll_us, 0);
    assert_true(opts.verbose);
    struct opt_lun *l = &opts.luns[0];
    assert_int_equal(l->bdev.type, BDEV_TYPE_FILE);
    assert_string_equal(l->path, "/dev/sdb");
    assert_ptr_equal(l->bdev.path, l->path);
    assert_int_equal(l->scsi.target, 3);
    assert_int_equal(l->scsi.lun, 7);
    assert_true(l->lun_given);
    assert_int_equal(l->bdev.block_size, 4096);
    assert_true(l->bdev.readonly);
    assert_true(l->bdev.direct);
    assert_string_equal(l->scsi.serial, "ABC-123 x");
    assert_int_equal(l->scsi.wwn, 0x5001405abcdef012ull);
    assert_true(l->scsi.write_cache_off);

    assert_int_equal(parse_lun("type=file,path=/x,readonly=off,direct=off,wwn=6001405ABCDEF012"),
                     0);
    assert_false(opts.luns[0].bdev.readonly);
    assert_false(opts.luns[0].bdev.direct);
    assert_int_equal(opts.luns[0].scsi.wwn, 0x6001405abcdef012ull);
    assert_false(opts.luns[0].scsi.write_cache_off); /* default on */
    assert_int_equal(parse_lun("type=ram,size=1M,write-cache=on"), 0);
    assert_false(opts.luns[0].scsi.write_cache_off);
    assert_false(opts.luns[0].scsi.removable); /* default off, the sizes default to 0 */
    assert_int_equal(opts.luns[0].scsi.physical_block_size, 0);
    assert_int_equal(opts.luns[0].scsi.discard_granularity, 0);
    assert_int_equal(parse_lun("type=ram,size=1M,removable=on,physical-block-size=4096,"
                               "discard-granularity=1536"),
                     0);
    assert_true(opts.luns[0].scsi.removable);
    assert_int_equal(opts.luns[0].scsi.physical_block_size, 4096);
    assert_int_equal(opts.luns[0].scsi.discard_granularity, 1536);
    assert_int_equal(parse("--socket-path", "s", "--verbose", "--lun", "type=ram,size=1M", NULL),
                     0);
    assert_true(opts.verbose);
    assert_int_equal(parse("--socket-path=s", "--lun=type=ram,size=1M", NULL), 0);
    assert_string_equal(opts.socket_path, "s");
}

static void test_sizes(void **state)
{
    static const struct {
        const char *size;
        uint64_t want;
    } ok[] = {
        { "512", 512 },
        { "1K", 1024 },
        { "1k", 1024 },
        { "2M", 2ull << 20 },
        { "3g", 3ull << 30 },
        { "1T", 1ull << 40 },
        { "16777215T", 16777215ull << 40 },
        { "18446744073709551104", 18446744073709551104ull }, /* 2^64 - 512 */
    };
    char spec[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(spec, sizeof(spec), "type=ram,size=%s", ok[i].size);
        if (parse_lun(spec) != 0)
            fail_msg("%s: %s", spec, err);
        assert_int_equal(opts.luns[0].bdev.size, ok[i].want);
    }

    static const char *const overflow[] = { "16777216T", "17179869184G", "18446744073709551616",
                                            "99999999999999999999999" };
    for (size_t i = 0; i < sizeof(overflow) / sizeof(overflow[0]); i++) {
        char what[128];
        snprintf(spec, sizeof(spec), "type=ram,size=%s", overflow[i]);
        snprintf(what, sizeof(what), "size= '%s' does not fit in 64 bits", overflow[i]);
        expect_lun_error(spec, what);
    }

    static const char *const junk[] = { "K", "-1", " 1", "+1", "1KB", "0x10", "1.5G", "1P", "1 " };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        char what[128];
        snprintf(spec, sizeof(spec), "type=ram,size=%s", junk[i]);
        snprintf(what, sizeof(what),
                 "size= '%s' is not a number with an optional K, M, G or T suffix", junk[i]);
        expect_lun_error(spec, what);
    }

    expect_lun_error("type=ram,size=0", "size= must be a non-zero multiple of the block size 512");
    expect_lun_error("type=ram,size=1000",
                     "size= must be a non-zero multiple of the block size 512");
    expect_lun_error("type=ram,size=18446744073709551615",
                     "size= must be a non-zero multiple of the block size 512");
    /* The block size may come after the size. */
    expect_lun_error("type=ram,size=6K,block-size=4096",
                     "size= must be a non-zero multiple of the block size 4096");
    assert_int_equal(parse_lun("type=ram,size=8K,block-size=4096"), 0);
    assert_int_equal(opts.luns[0].bdev.block_size, 4096);
    assert_int_equal(parse_lun("type=ram,block-size=512,size=1536"), 0);
}

static void test_lun_spec_errors(void **state)
{
    expect_lun_error("type=ram", "size= is required");
    expect_lun_error("size=1M", "type= is required");
    expect_lun_error("type=file", "path= is required");
    expect_lun_error("type=file,path=/x,size=1M", "size= is only valid with type=ram or null");
    expect_lun_error("type=ram,size=1M,path=/x", "path= is only valid with type=file");
    expect_lun_error("type=ram,size=1M,direct=on", "direct= is only valid with type=file");
    expect_lun_error("type=ram,size=1M,color=red", "unknown key 'color'");
    expect_lun_error("type=ram,size=1M,Type=ram", "unknown key 'Type'");
    expect_lun_error("type=ram,size=1M,size=2M", "size= is given twice");
    expect_lun_error("type=ram,type=file,size=1M", "type= is given twice");
    expect_lun_error("type=ram,size", "size= needs a value");
    expect_lun_error("type=ram,size=", "size= needs a value");
    expect_lun_error("type=ram,size=,lun=1", "size= needs a value");
    expect_lun_error("type=disk", "type= must be ram, file, null, nvme, iscsi or rbd, not 'disk'");
    expect_lun_error("type=ram,size=1M,", "empty key");
    expect_lun_error(",type=ram,size=1M", "empty key");
    expect_lun_error("=ram", "empty key");
    expect_lun_error("", "empty specification");
    expect_lun_error("type=ram,size=1M,target=256", "target= must be 0..255, not '256'");
    expect_lun_error("type=ram,size=1M,target=-1", "target= must be 0..255, not '-1'");
    expect_lun_error("type=ram,size=1M,target=1a", "target= must be 0..255, not '1a'");
    expect_lun_error("type=ram,size=1M,target=0x1", "target= must be 0..255, not '0x1'");
    expect_lun_error("type=ram,size=1M,lun=256", "lun= must be 0..255, not '256'");
    expect_lun_error("type=ram,size=1M,lun=99999999999999999999999",
                     "lun= must be 0..255, not '99999999999999999999999'");
    expect_lun_error("type=ram,size=1M,block-size=1024",
                     "block-size= must be 512 or 4096, not '1024'");
    expect_lun_error("type=ram,size=1M,readonly=yes", "readonly= must be on or off, not 'yes'");
    expect_lun_error("type=ram,size=1M,write-cache=0", "write-cache= must be on or off, not '0'");
    expect_lun_error("type=ram,size=1M,removable=1", "removable= must be on or off, not '1'");
    expect_lun_error("type=ram,size=1M,physical-block-size=3000",
                     "physical-block-size= must be a power of two 512..33554432, not '3000'");
    expect_lun_error("type=ram,size=1M,physical-block-size=256",
                     "physical-block-size= must be a power of two 512..33554432, not '256'");
    expect_lun_error("type=ram,size=1M,physical-block-size=67108864",
                     "physical-block-size= must be a power of two 512..33554432, not '67108864'");
    expect_lun_error("type=ram,size=1M,discard-granularity=1000",
                     "discard-granularity= must be a multiple of 512 up to 1073741824, not '1000'");
    expect_lun_error("type=ram,size=1M,discard-granularity=0",
                     "discard-granularity= must be a multiple of 512 up to 1073741824, not '0'");
    expect_lun_error("type=file,path=/x,direct=1", "direct= must be on or off, not '1'");

    assert_int_equal(parse_lun("type=ram,size=1M,target=255,lun=255"), 0);
    assert_int_equal(opts.luns[0].scsi.target, 255);
    assert_int_equal(opts.luns[0].scsi.lun, 255);
}

/* type=null takes a size exactly like ram, and nothing that only a file has. */
static void test_null_lun(void **state)
{
    assert_int_equal(parse_lun("type=null,size=1G"), 0);
    assert_int_equal(opts.nluns, 1);
    assert_int_equal(opts.luns[0].bdev.type, BDEV_TYPE_NULL);
    assert_int_equal(opts.luns[0].bdev.size, 1ull << 30);
    assert_int_equal(opts.luns[0].bdev.block_size, 512);
    assert_null(opts.luns[0].bdev.path);

    assert_int_equal(parse_lun("type=null,size=64K,block-size=4096,readonly=on,lun=7"), 0);
    assert_int_equal(opts.luns[0].bdev.type, BDEV_TYPE_NULL);
    assert_int_equal(opts.luns[0].bdev.size, 64 * 1024);
    assert_int_equal(opts.luns[0].bdev.block_size, 4096);
    assert_true(opts.luns[0].bdev.readonly);
    assert_int_equal(opts.luns[0].scsi.lun, 7);

    expect_lun_error("type=null", "size= is required");
    expect_lun_error("type=null,size=0", "size= must be a non-zero multiple of the block size 512");
    expect_lun_error("type=null,size=6K,block-size=4096",
                     "size= must be a non-zero multiple of the block size 4096");
    expect_lun_error("type=null,size=1M,path=/x", "path= is only valid with type=file");
    expect_lun_error("type=null,size=1M,direct=on", "direct= is only valid with type=file");
    expect_lun_error("type=Null,size=1M",
                     "type= must be ram, file, null, nvme, iscsi or rbd, not 'Null'");

    /* Mixed with the other types, numbered in command-line order. */
    assert_int_equal(parse("--socket-path", "s", "--lun", "type=ram,size=1M", "--lun",
                           "type=null,size=1T", "--lun", "type=file,path=/x", NULL),
                     0);
    assert_int_equal(opts.nluns, 3);
    assert_int_equal(opts.luns[1].bdev.type, BDEV_TYPE_NULL);
    assert_int_equal(opts.luns[1].scsi.lun, 1);
    assert_int_equal(opts.luns[1].bdev.size, 1ull << 40);
    assert_int_equal(opts.luns[2].bdev.type, BDEV_TYPE_FILE);
}

/* type=rbd: the image names its size; only rbd takes the Ceph keys. */
static void test_rbd_lun(void **state)
{
    const struct bdev_config *b = &opts.luns[0].bdev;

    assert_int_equal(parse_lun("type=rbd,pool=rbd,image=vm1"), 0);
    assert_int_equal(b->type, BDEV_TYPE_RBD);
    assert_string_equal(b->pool, "rbd");
    assert_string_equal(b->image, "vm1");
    assert_null(b->snap);
    assert_null(b->conf);
    assert_null(b->client_id);
    assert_null(b->path);
    assert_int_equal(b->timeout_s, 0);
    assert_false(b->readonly);

    assert_int_equal(parse_lun("type=rbd,pool=p.1,image=img_2,conf=/etc/ceph/a,,b.conf,id=libvirt,"
                               "timeout=30,block-size=4096,serial=r1"),
                     0);
    assert_string_equal(b->conf, "/etc/ceph/a,b.conf");
    assert_string_equal(b->client_id, "libvirt");
    assert_int_equal(b->timeout_s, 30);
    assert_int_equal(b->block_size, 4096);

    /* A snapshot is read-only whether or not readonly= says so. */
    assert_int_equal(parse_lun("type=rbd,pool=rbd,image=vm1,snap=base"), 0);
    assert_string_equal(b->snap, "base");
    assert_true(b->readonly);
    assert_int_equal(parse_lun("type=rbd,pool=rbd,image=vm1,snap=base,readonly=on"), 0);
    expect_lun_error("type=rbd,pool=rbd,image=vm1,snap=base,readonly=off",
                     "snap= is read-only: readonly=off contradicts it");

    expect_lun_error("type=rbd,image=vm1", "pool= is required");
    expect_lun_error("type=rbd,pool=rbd", "image= is required");
    expect_lun_error("type=rbd,pool=rbd,image=vm1,size=1G",
                     "size= is not valid with type=rbd (the image has it)");
    expect_lun_error("type=rbd,pool=rbd,image=vm1,path=/x",
                     "path= is not valid with type=rbd (the image has it)");
    expect_lun_error("type=rbd,pool=rbd,image=vm1,direct=on",
                     "direct= is not valid with type=rbd (the image has it)");
    expect_lun_error("type=rbd,pool=rbd,image=a/b",
                     "image= must be printable ASCII without spaces, '/' or '@', not 'a/b'");
    expect_lun_error("type=rbd,pool=rbd,image=a@s",
                     "image= must be printable ASCII without spaces, '/' or '@', not 'a@s'");
    expect_lun_error("type=rbd,pool=my pool,image=a",
                     "pool= must be printable ASCII without spaces, '/' or '@', not 'my pool'");
    expect_lun_error("type=rbd,pool=rbd,image=a,timeout=-1",
                     "timeout= must be 0..3600 seconds, not '-1'");
    expect_lun_error("type=rbd,pool=rbd,image=a,timeout=3601",
                     "timeout= must be 0..3600 seconds, not '3601'");
    expect_lun_error("type=ram,size=1M,pool=rbd", "pool= is only valid with type=rbd");
    expect_lun_error("type=file,path=/x,timeout=5",
                     "timeout= is only valid with type=iscsi or rbd");
    expect_lun_error("type=null,size=1M,conf=/x", "conf= is only valid with type=rbd");

    char spec[300];
    snprintf(spec, sizeof(spec), "type=rbd,pool=rbd,image=%0128d", 0);
    assert_int_equal(parse_lun(spec), -1);
    assert_non_null(strstr(err, "image= is longer than 127 characters"));
}

static void test_serial_and_wwn(void **state)
{
    const char *serial_msg = "serial= must be at most 36 printable ASCII characters, no comma";
    assert_int_equal(parse_lun("type=ram,size=1M,serial=123456789012345678901234567890123456"), 0);
    assert_string_equal(opts.luns[0].scsi.serial, "123456789012345678901234567890123456");
    expect_lun_error("type=ram,size=1M,serial=1234567890123456789012345678901234567", serial_msg);
    expect_lun_error("type=ram,size=1M,serial=a\tb", serial_msg);
    expect_lun_error("type=ram,size=1M,serial=caf\xc3\xa9", serial_msg);
    expect_lun_error("type=ram,size=1M,serial=a,,b", serial_msg);

    const char *wwn_fmt = "wwn= must be 16 hex digits starting with NAA 5 or 6, not '%s'";
    static const char *const bad[] = { "0x4001405abcdef012", "7001405abcdef012",  "5001405abcdef01",
                                       "5001405abcdef0123",  "5001405abcdef01g",  "0x",
                                       "x5001405abcdef012",  "0x 001405abcdef012" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char spec[128], what[160];
        snprintf(spec, sizeof(spec), "type=ram,size=1M,wwn=%s", bad[i]);
        snprintf(what, sizeof(what), wwn_fmt, bad[i]);
        expect_lun_error(spec, what);
    }
}

static void test_path_escapes_and_length(void **state)
{
    assert_int_equal(parse_lun("type=file,path=/a,,b/c,,,readonly=on"), 0);
    assert_string_equal(opts.luns[0].path, "/a,b/c,");
    assert_true(opts.luns[0].bdev.readonly);

    static char spec[5000], path[4200];
    memset(path, 'p', 4095);
    path[0] = '/';
    path[4095] = 0;
    snprintf(spec, sizeof(spec), "type=file,path=%s", path);
    assert_int_equal(parse_lun(spec), 0);
    assert_int_equal(strlen(opts.luns[0].path), 4095);

    memset(path, 'p', 4096);
    path[0] = '/';
    path[4096] = 0;
    snprintf(spec, sizeof(spec), "type=file,path=%s", path);
    assert_int_equal(parse_lun(spec), -1);
    /* The echoed SPEC is cut to 77 characters and "..." so that the reason fits. */
    char want[200];
    snprintf(want, sizeof(want), "--lun '%.77s...': path= is too long", spec);
    assert_string_equal(err, want);
}

static void test_nvme_lun(void **state)
{
    assert_int_equal(parse("--socket-path", "s", "--threads", "2", "--lun",
                           "type=nvme,pci=0000:00:04.0", "--lun",
                           "type=nvme,pci=3B:1f.7,ns=2,lun=5", NULL),
                     0);
    assert_int_equal(opts.luns[0].bdev.type, BDEV_TYPE_NVME);
    assert_string_equal(opts.luns[0].bdev.pci, "0000:00:04.0");
    assert_int_equal(opts.luns[0].bdev.nsid, 1);
    assert_null(opts.luns[0].bdev.path);
    /* The domain is added and the hex digits normalised: sysfs spells them that way. */
    assert_string_equal(opts.luns[1].bdev.pci, "0000:3b:1f.7");
    assert_int_equal(opts.luns[1].bdev.nsid, 2);

    expect_lun_error("type=nvme", "pci= is required");
    expect_lun_error("type=nvme,pci=00:04",
                     "pci= must be a PCI address like 0000:00:04.0, not '00:04'");
    expect_lun_error("type=nvme,pci=0000:00:20.0",
                     "pci= must be a PCI address like 0000:00:04.0, not '0000:00:20.0'");
    expect_lun_error("type=nvme,pci=0000:00:04.8",
                     "pci= must be a PCI address like 0000:00:04.0, not '0000:00:04.8'");
    expect_lun_error("type=nvme,pci= 0000:00:04.0",
                     "pci= must be a PCI address like 0000:00:04.0, not ' 0000:00:04.0'");
    expect_lun_error("type=nvme,pci=00000:00:04.0",
                     "pci= must be a PCI address like 0000:00:04.0, not '00000:00:04.0'");
    expect_lun_error("type=nvme,pci=0000:00:04.0,ns=0",
                     "ns= must be a namespace ID 1..4294967294, not '0'");
    expect_lun_error("type=nvme,pci=0000:00:04.0,ns=4294967295",
                     "ns= must be a namespace ID 1..4294967294, not '4294967295'");
    expect_lun_error("type=nvme,pci=0000:00:04.0,size=1G",
                     "size= is not valid with type=nvme (the namespace defines it)");
    expect_lun_error("type=nvme,pci=0000:00:04.0,block-size=4096",
                     "block-size= is not valid with type=nvme (the namespace defines it)");
    expect_lun_error("type=nvme,pci=0000:00:04.0,path=/dev/nvme0n1",
                     "path= is not valid with type=nvme (the namespace defines it)");
    expect_lun_error("type=ram,size=1M,pci=0000:00:04.0", "pci= is only valid with type=nvme");
    expect_lun_error("type=file,path=/x,ns=1", "ns= is only valid with type=nvme");
    expect_lun_error("type=disk", "type= must be ram, file, null, nvme, iscsi or rbd, not 'disk'");
}

static void test_iscsi_lun(void **state)
{
    assert_int_equal(parse("--socket-path", "s", "--lun",
                           "type=iscsi,url=iscsi://127.0.0.1:3260/iqn.2024-01.x:t/1", "--lun",
                           "type=iscsi,url=iscsi://u%p@h/iqn.x,,y/0,timeout=5,lun=3", NULL),
                     0);
    assert_int_equal(opts.luns[0].bdev.type, BDEV_TYPE_ISCSI);
    assert_string_equal(opts.luns[0].bdev.url, "iscsi://127.0.0.1:3260/iqn.2024-01.x:t/1");
    assert_null(opts.luns[0].bdev.path);
    assert_int_equal(opts.luns[0].bdev.timeout_s, 0); /* the backend's default */
    /* ",," is a comma inside the value, as for every key. */
    assert_string_equal(opts.luns[1].bdev.url, "iscsi://u%p@h/iqn.x,y/0");
    assert_int_equal(opts.luns[1].bdev.timeout_s, 5);

    expect_lun_error("type=iscsi", "url= is required");
    expect_lun_error("type=iscsi,url=iscsi://h/i/0,timeout=0",
                     "timeout= must be 1..3600 seconds with type=iscsi, not 0");
    expect_lun_error("type=iscsi,url=iscsi://h/i/0,timeout=3601",
                     "timeout= must be 0..3600 seconds, not '3601'");
    expect_lun_error("type=iscsi,url=iscsi://h/i/0,size=1M",
                     "size= is not valid with type=iscsi (the target defines it)");
    expect_lun_error("type=iscsi,url=iscsi://h/i/0,block-size=4096",
                     "block-size= is not valid with type=iscsi (the target defines it)");
    expect_lun_error("type=ram,size=1M,url=iscsi://h/i/0", "url= is only valid with type=iscsi");
    expect_lun_error("type=file,path=/x,timeout=3",
                     "timeout= is only valid with type=iscsi or rbd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_lun_spec_errors),
        cmocka_unit_test(test_null_lun),
        cmocka_unit_test(test_rbd_lun),
        cmocka_unit_test(test_serial_and_wwn),
        cmocka_unit_test(test_path_escapes_and_length),
        cmocka_unit_test(test_nvme_lun),
        cmocka_unit_test(test_iscsi_lun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
