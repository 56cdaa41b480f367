/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane (mgmt.c) on real threads, LUNs and resizes: LUNs
 * attached at default and explicit addresses and detached, with the unit
 * attentions each change raises; ram and file block devices resized under
 * their LUNs, and SIGHUP's rescan.  The fixture: mgmt_fixture.h.
 */
#include <fcntl.h>

#include "mgmt_fixture.h"
#include "util/log.h"

static unsigned ua(struct mgmt_ctl *c, unsigned t, unsigned l)
{
    struct scsi_lun *sl = scsi_lookup(&c->c.targets, t, l);

    assert_non_null(sl);
    return atomic_load(&sl->ua_pending);
}

static void clear_ua(struct mgmt_ctl *c)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = c->c.targets.targets[t];

        if (!tgt)
            continue;
        atomic_store(&tgt->lun0_standin.ua_pending, 0);
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
            if (tgt->luns[l])
                atomic_store(&tgt->luns[l]->ua_pending, 0);
    }
}

/* The bookkeeping entry of LUN t:l, or NULL. */
static struct mgmt_lun *lun_entry(struct mgmt_ctl *c, unsigned t, unsigned l)
{
    for (struct mgmt_lun *x = c->luns; x; x = x->next)
        if (x->target == t && x->lun == l)
            return x;
    return NULL;
}

struct sync_req {
    struct bdev_io io;
    int result, calls;
};

static void sync_cb(struct bdev_io *io, int result)
{
    struct sync_req *r = (struct sync_req *)((char *)io - offsetof(struct sync_req, io));

    r->calls++;
    r->result = result;
}

/* I/O on a ram device, which completes inside submit. */
static void ram_rw(struct bdev *b, enum bdev_io_type type, uint64_t off, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct sync_req r = {
        .io = { .type = type, .offset = off, .len = len, .iov = &iov, .iovcnt = 1, .cb = sync_cb }
    };

    assert_int_equal(bdev_submit(b, NULL, &r.io), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, 0);
}

/* ---- LUNs ---- */

static void test_lun_attach_addresses_and_ua(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB), *r1 = add_ram(f, "r1", MiB);
    struct mgmt_lun_spec spec = { .target = -1, .lun = -1 };
    struct scsi_lun *sl;
    unsigned t, l;
    char path[128], err[256] = "";
    int fd;

    /* With a frontend connected: the workers are paused around every change. */
    path_in(f, "c0.sock", path, sizeof(path));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    /* Defaults: target 0, lowest free LUN. */
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    sl = scsi_lookup(&c->c.targets, 0, 0);
    assert_non_null(sl);
    assert_ptr_equal(sl->bdev, r0->bdev);
    assert_true(sl->bdev_borrowed);
    assert_non_null(sl->stats);
    /* A new unit: POWER ON, and not REPORTED LUNS (it has nothing to report as changed). */
    assert_int_equal(ua(c, 0, 0), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(r0->attached, 1);
    assert_non_null(lun_entry(c, 0, 0));
    assert_ptr_equal(lun_entry(c, 0, 0)->bdev, r0);

    clear_ua(c);
    attach_at(f, "c0", "r1", 0, -1, NULL, 0, 1);
    assert_int_equal(ua(c, 0, 1), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(r1->attached, 1);

    /* Explicit address on another target: target 0's LUNs hear nothing. */
    clear_ua(c);
    attach_at(f, "c0", "r0", 3, 7, NULL, 3, 7);
    assert_int_equal(ua(c, 3, 7), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 0, 0), 0);
    assert_int_equal(ua(c, 0, 1), 0);
    assert_int_equal(r0->attached, 2);
    /* Target 3 has no LUN 0: its stand-in answers there. */
    sl = scsi_lookup(&c->c.targets, 3, 0);
    assert_non_null(sl);
    assert_null(sl->bdev);
    assert_null(scsi_lookup(&c->c.targets, 3, 6));
    /* Default LUN on target 3: the lowest free is 0. */
    clear_ua(c);
    attach_at(f, "c0", "r1", 3, -1, NULL, 3, 0);
    assert_int_equal(ua(c, 3, 0), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 3, 7), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 0), 0);

    /* Occupied: -EEXIST, and nothing changes. */
    clear_ua(c);
    spec = (struct mgmt_lun_spec){ .target = 0, .lun = 1 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EEXIST);
    assert_contains(err, "0:1");
    assert_int_equal(r0->attached, 2);
    assert_ptr_equal(scsi_lookup(&c->c.targets, 0, 1)->bdev, r1->bdev);
    assert_int_equal(ua(c, 0, 0), 0);
    assert_int_equal(ua(c, 0, 1), 0);

    /* Unknown controller or bdev. */
    spec = (struct mgmt_lun_spec){ .target = -1, .lun = -1 };
    assert_int_equal(mgmt_lun_attach(&f->m, "nope", "r0", &spec, &t, &l, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "no controller 'nope'");
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "nope", &spec, &t, &l, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "no block device 'nope'");
    assert_int_equal(r0->attached, 2);

    /* Out of range (the RPC layer stops these; mgmt must not index past the map either). */
    spec = (struct mgmt_lun_spec){ .target = 256, .lun = 0 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EINVAL);
    assert_contains(err, "out of range");
    spec = (struct mgmt_lun_spec){ .target = 256, .lun = -1 };
    assert_true(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)) < 0);
    spec = (struct mgmt_lun_spec){ .target = 0, .lun = 256 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(r0->attached, 2);

    /* Serial and WWN given by the caller. */
    spec = (struct mgmt_lun_spec){
        .target = 1, .lun = 2, .serial = "SERIAL-1", .wwn = 0x5001122334455667ull
    };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), 0);
    sl = scsi_lookup(&c->c.targets, 1, 2);
    assert_non_null(sl);
    assert_string_equal(sl->serial, "SERIAL-1");
    assert_int_equal(sl->wwn, 0x5001122334455667ull);
    assert_int_equal(r0->attached, 3);
    assert_true(atomic_load(&c->srv.connected));
    close(fd);
}

static void test_lun_detach(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false), *c1 = add_ctl(f, "c1", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB), *r1 = add_ram(f, "r1", MiB);
    char err[256] = "";

    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c0", "r1", -1, -1, NULL, 0, 1);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 2);
    attach_at(f, "c0", "r1", 5, 5, NULL, 5, 5);
    attach_at(f, "c1", "r0", -1, -1, NULL, 0, 0);
    assert_int_equal(r0->attached, 3);
    assert_int_equal(r1->attached, 2);
    clear_ua(c);
    clear_ua(c1);

    detach(f, "c0", 0, 1);
    assert_null(scsi_lookup(&c->c.targets, 0, 1));
    assert_null(lun_entry(c, 0, 1));
    assert_int_equal(r1->attached, 1);
    /* The rest of the target hears about it; other targets and controllers do not. */
    assert_int_equal(ua(c, 0, 0), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 2), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 5, 5), 0);
    assert_int_equal(ua(c1, 0, 0), 0);

    /* The freed number is the lowest free one again. */
    attach_at(f, "c0", "r1", 0, -1, NULL, 0, 1);
    assert_int_equal(r1->attached, 2);

    /* LUN 0 goes: the stand-in answers at 0 for the others. */
    clear_ua(c);
    detach(f, "c0", 0, 0);
    assert_int_equal(r0->attached, 2);
    assert_null(scsi_lookup(&c->c.targets, 0, 0)->bdev);
    assert_int_equal(ua(c, 0, 1), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 2), SCSI_UA_REPORTED_LUNS);

    /*
     * The last LUN of target 5: the target looks absent (workers may still
     * hold it, so it stays allocated until the set goes).
     */
    detach(f, "c0", 5, 5);
    assert_int_equal(atomic_load(&c->c.targets.targets[5]->nluns), 0);
    assert_null(scsi_lookup(&c->c.targets, 5, 0));
    assert_null(scsi_lookup(&c->c.targets, 5, 5));
    assert_int_equal(r1->attached, 1);

    /* Unknown LUN and controller. */
    assert_int_equal(mgmt_lun_detach(&f->m, "c0", 5, 5, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "controller 'c0' has no LUN 5:5");
    assert_int_equal(mgmt_lun_detach(&f->m, "c0", 0, 0, err, sizeof(err)), -ENOENT);
    assert_int_equal(mgmt_lun_detach(&f->m, "nope", 0, 0, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no controller 'nope'");
    assert_int_equal(r0->attached, 2);

    detach(f, "c0", 0, 1);
    detach(f, "c0", 0, 2);
    detach(f, "c1", 0, 0);
    assert_null(c->luns);
    assert_null(c1->luns);
    assert_null(scsi_lookup(&c->c.targets, 0, 0));
    assert_int_equal(r0->attached, 0);
    assert_int_equal(r1->attached, 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r1", err, sizeof(err)), 0);
}

/* ---- resize ---- */

static void test_resize_ram(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c0 = add_ctl(f, "c0", false), *c1 = add_ctl(f, "c1", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB);
    uint8_t blk[512], back[512];
    uint64_t bytes = 0;
    char err[256] = "";

    add_ram(f, "r1", MiB);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c1", "r0", 2, 3, NULL, 2, 3);
    attach_at(f, "c1", "r1", 2, -1, NULL, 2, 0);
    clear_ua(c0);
    clear_ua(c1);

    memset(blk, 0xa5, sizeof(blk));
    ram_rw(r0->bdev, BDEV_IO_WRITE, 0, blk, sizeof(blk));

    /* Grow: the size, both LUNs on r0, and only them. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 4 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(r0->bdev->size, 4 * MiB);
    assert_ptr_equal(scsi_lookup(&c0->c.targets, 0, 0)->bdev, r0->bdev);
    assert_int_equal(ua(c0, 0, 0), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 3), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 0), 0);
    /* The new end is usable and reads zeroes; the old data stays. */
    ram_rw(r0->bdev, BDEV_IO_READ, 4 * MiB - 512, back, sizeof(back));
    for (size_t i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], 0);
    ram_rw(r0->bdev, BDEV_IO_WRITE, 4 * MiB - 512, blk, sizeof(blk));
    ram_rw(r0->bdev, BDEV_IO_READ, 0, back, sizeof(back));
    assert_memory_equal(back, blk, sizeof(blk));

    /* Shrink. */
    clear_ua(c0);
    clear_ua(c1);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 512 * 1024, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(r0->bdev->size, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 3), SCSI_UA_CAPACITY_CHANGED);
    ram_rw(r0->bdev, BDEV_IO_READ, 0, back, sizeof(back));
    assert_memory_equal(back, blk, sizeof(blk));

    /* The same size again: nothing to tell anyone. */
    clear_ua(c0);
    clear_ua(c1);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 512 * 1024, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), 0);

    /* Not a multiple of the block size, or zero: refused, size unchanged. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, MiB + 100, &bytes, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "size: must be a non-zero multiple of the block size 512");
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_int_equal(r0->bdev->size, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), 0);

    /* A ram disk has no outside size to re-read. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "size: required for a ram block device");
    assert_int_equal(bytes, 512 * 1024);

    assert_int_equal(mgmt_bdev_resize(&f->m, "nope", true, MiB, &bytes, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'nope'");

    /* 4 KiB blocks: 512-byte multiples are not enough. */
    add_bdev(f, "r4k", BDEV_TYPE_RAM, MiB, 4096, NULL, NULL);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r4k", true, MiB + 512, &bytes, err, sizeof(err)),
                     -EINVAL);
    assert_contains(err, "block size 4096");
    assert_int_equal(mgmt_bdev_resize(&f->m, "r4k", true, MiB + 4096, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, MiB + 4096);

    /* An unattached null device resizes too. */
    add_bdev(f, "n0", BDEV_TYPE_NULL, MiB, 512, NULL, NULL);
    assert_int_equal(mgmt_bdev_resize(&f->m, "n0", true, 8 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_find(&f->m, "n0")->bdev->size, 8 * MiB);
    assert_int_equal(mgmt_bdev_resize(&f->m, "n0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "size: required for a null block device");
}

static void test_resize_file(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false);
    struct mgmt_bdev *b;
    char path[128], err[256] = "";
    uint64_t bytes = 0;
    struct stat st;
    int fd;

    path_in(f, "disk.img", path, sizeof(path));
    fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MiB), 0);
    close(fd);
    b = add_bdev(f, "f0", BDEV_TYPE_FILE, 0, 512, path, NULL);
    assert_int_equal(b->bdev->size, MiB);
    attach_at(f, "c0", "f0", -1, -1, NULL, 0, 0);
    clear_ua(c);

    /* Grown outside, then re-read. */
    assert_int_equal(truncate(path, 3 * MiB), 0);
    assert_int_equal(b->bdev->size, MiB);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 3 * MiB);
    assert_int_equal(b->bdev->size, 3 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);

    /* A partial block at the end does not count: nothing changed. */
    clear_ua(c);
    assert_int_equal(truncate(path, 3 * MiB + 100), 0);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 3 * MiB);
    assert_int_equal(ua(c, 0, 0), 0);

    /* Resized by us: the file follows. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", true, 4 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);

    /* Cut below one block outside: refused, the old size kept. */
    clear_ua(c);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_contains(err, "smaller than one block");
    assert_contains(err, path);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(b->bdev->size, 4 * MiB);
    assert_int_equal(ua(c, 0, 0), 0);

    /* SIGHUP's rescan does the same for every device. */
    assert_int_equal(truncate(path, 2 * MiB), 0);
    mgmt_rescan(&f->m);
    assert_int_equal(b->bdev->size, 2 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lun_attach_addresses_and_ua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lun_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_file, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
