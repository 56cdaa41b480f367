/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>

#include "scsi_fake.h"

static int create(struct scsi_target_set *set, unsigned tgt, unsigned lun, struct fake_bdev *fb,
                  const char *serial, uint64_t wwn)
{
    struct scsi_lun_config cfg = { .target = tgt, .lun = lun, .wwn = wwn };
    char err[128] = "";
    int rc;

    if (serial != NULL)
        snprintf(cfg.serial, sizeof(cfg.serial), "%s", serial);
    rc = scsi_lun_create(set, &cfg, &fb->bdev, err, sizeof(err));
    if (rc != 0)
        assert_true(strlen(err) > 0);
    return rc;
}

static void test_derived_identity(void **state)
{
    struct scsi_target_set *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct fake_bdev *f1 = fake_new(8, 512), *f2 = fake_new(8, 512), *f3 = fake_new(8, 512);
    struct scsi_lun *l1, *l2, *l3;

    assert_int_equal(create(a, 1, 2, f1, NULL, 0), 0);
    assert_int_equal(create(b, 1, 2, f2, NULL, 0), 0);
    assert_int_equal(create(b, 1, 3, f3, NULL, 0), 0);
    l1 = scsi_lookup(a, 1, 2);
    l2 = scsi_lookup(b, 1, 2);
    l3 = scsi_lookup(b, 1, 3);
    /* Same address and backend: same identity; another LUN: another one. */
    assert_string_equal(l1->serial, l2->serial);
    assert_true(l1->wwn == l2->wwn);
    assert_string_not_equal(l1->serial, l3->serial);
    assert_true(l1->wwn != l3->wwn);
    assert_int_equal(l1->wwn >> 60, 5);
    assert_true(strlen(l1->serial) > 0 && strlen(l1->serial) <= SCSI_SERIAL_MAX);
    for (const char *p = l1->serial; *p; p++)
        assert_true(isprint((unsigned char)*p) && *p != ' ');
    assert_ptr_equal(l1->bdev, &f1->bdev);
    assert_int_equal(l1->id, 2);
    assert_int_equal(l1->target->id, 1);
    /* A fresh unit has its power-on to report. */
    assert_true(atomic_load(&l1->ua_pending) & SCSI_UA_POWER_ON_RESET);
    scsi_target_set_destroy(a);
    scsi_target_set_destroy(b);
    assert_int_equal(f1->closed + f2->closed + f3->closed, 3);
    fake_free(f1);
    fake_free(f2);
    fake_free(f3);
    free(a);
    free(b);
}

static void test_explicit_identity(void **state)
{
    struct scsi_target_set *s = calloc(1, sizeof(*s));
    struct fake_bdev *f = fake_new(8, 512);

    assert_int_equal(create(s, 0, 0, f, "MYSERIAL-1", 0x5001122334455667ull), 0);
    assert_string_equal(scsi_lookup(s, 0, 0)->serial, "MYSERIAL-1");
    assert_true(scsi_lookup(s, 0, 0)->wwn == 0x5001122334455667ull);
    scsi_target_set_destroy(s);
    fake_free(f);
    free(s);
}

static void test_errors_close_bdev(void **state)
{
    struct scsi_target_set *s = calloc(1, sizeof(*s));
    struct fake_bdev *f1 = fake_new(8, 512), *f2 = fake_new(8, 512), *f3 = fake_new(8, 512),
                     *f4 = fake_new(8, 512);

    assert_int_equal(create(s, 3, 4, f1, NULL, 0), 0);
    assert_int_equal(create(s, 3, 4, f2, NULL, 0), -EEXIST);
    assert_int_equal(f2->closed, 1);
    assert_int_equal(create(s, 256, 0, f3, NULL, 0), -EINVAL);
    assert_int_equal(f3->closed, 1);
    assert_int_equal(create(s, 0, 256, f4, NULL, 0), -EINVAL);
    assert_int_equal(f4->closed, 1);
    assert_ptr_equal(scsi_lookup(s, 3, 4)->bdev, &f1->bdev);
    {
        struct fake_bdev *g1 = fake_new(8, 8192), *g2 = fake_new(0, 512), *g3 = fake_new(8, 512);

        g3->bdev.size += 100;
        assert_int_equal(create(s, 3, 5, g1, NULL, 0), -EINVAL);
        assert_int_equal(create(s, 3, 6, g2, NULL, 0), -EINVAL);
        assert_int_equal(create(s, 3, 7, g3, NULL, 0), -EINVAL);
        assert_int_equal(g1->closed + g2->closed + g3->closed, 3);
        assert_null(scsi_lookup(s, 3, 5));
        fake_free(g1);
        fake_free(g2);
        fake_free(g3);
    }
    /* A serial with a space or too long is refused. */
    {
        struct fake_bdev *g = fake_new(8, 512);

        assert_int_equal(create(s, 3, 8, g, "A B", 0), -EINVAL);
        assert_int_equal(g->closed, 1);
        fake_free(g);
    }
    scsi_target_set_destroy(s);
    assert_int_equal(f1->closed, 1);
    for (unsigned i = 0; i < SCSI_MAX_TARGETS; i++)
        assert_null(s->targets[i]);
    fake_free(f1);
    fake_free(f2);
    fake_free(f3);
    fake_free(f4);
    free(s);
}

static void test_lookup(void **state)
{
    struct scsi_target_set *s = calloc(1, sizeof(*s));
    struct fake_bdev *f = fake_new(8, 512), *g = fake_new(8, 512);
    struct scsi_lun *standin;

    assert_int_equal(create(s, 5, 7, f, NULL, 0), 0);
    assert_int_equal(create(s, 6, 0, g, NULL, 0), 0);
    assert_null(scsi_lookup(s, 4, 0));   /* unknown target */
    assert_null(scsi_lookup(s, 999, 0)); /* out of range */
    assert_null(scsi_lookup(NULL, 5, 7));
    assert_null(scsi_lookup(s, 5, 8));     /* missing LUN other than 0 */
    assert_null(scsi_lookup(s, 5, 16383)); /* beyond what we serve */
    assert_ptr_equal(scsi_lookup(s, 5, 7)->bdev, &f->bdev);
    standin = scsi_lookup(s, 5, 0);
    assert_non_null(standin);
    assert_null(standin->bdev);
    assert_ptr_equal(standin, &s->targets[5]->lun0_standin);
    assert_ptr_equal(standin->target, s->targets[5]);
    /* A real LUN 0 is not hidden by the stand-in. */
    assert_ptr_equal(scsi_lookup(s, 6, 0)->bdev, &g->bdev);
    scsi_target_set_destroy(s);
    fake_free(f);
    fake_free(g);
    free(s);
}

static void test_reset_sets_ua(void **state)
{
    struct scsi_lun lun;

    memset(&lun, 0, sizeof(lun));
    atomic_store(&lun.ua_pending, SCSI_UA_CAPACITY_CHANGED);
    scsi_lun_reset(&lun);
    assert_int_equal(atomic_load(&lun.ua_pending),
                     SCSI_UA_CAPACITY_CHANGED | SCSI_UA_POWER_ON_RESET);
}

static void test_set_capacity(void **state)
{
    struct bdev b = { .size = 4096, .block_size = 512 };
    struct scsi_lun lun;

    memset(&lun, 0, sizeof(lun));
    lun.bdev = &b;
    scsi_lun_set_capacity(&lun, 8192);
    assert_int_equal(b.size, 8192);
    assert_int_equal(atomic_load(&lun.ua_pending), SCSI_UA_CAPACITY_CHANGED);
}

/*
 * Hotplug: units come and go while the set is in use.  Withdrawn units are
 * freed by the caller after its grace period; a target without units looks
 * absent; borrowed backends are never closed here; REPORTED LUNS DATA HAS
 * CHANGED goes to the target's units and stand-in; the lowest free number.
 */
static void test_unmap_and_borrow(void **state)
{
    struct scsi_target_set *s = calloc(1, sizeof(*s));
    struct fake_bdev *f = fake_new(8, 512), *g = fake_new(8, 512);
    struct scsi_lun_config cfg = { .target = 2, .lun = 0, .borrow_bdev = true, .stats_workers = 2 };
    struct scsi_lun *u;
    char err[128];

    assert_int_equal(scsi_target_free_lun(s, 2), 0);
    assert_int_equal(scsi_lun_create(s, &cfg, &f->bdev, err, sizeof(err)), 0);
    assert_non_null(scsi_lookup(s, 2, 0)->stats);
    cfg.lun = 1;
    assert_int_equal(scsi_lun_create(s, &cfg, &g->bdev, err, sizeof(err)), 0);
    assert_int_equal(scsi_target_free_lun(s, 2), 2);
    assert_int_equal(atomic_load(&s->targets[2]->nluns), 2);

    atomic_store(&scsi_lookup(s, 2, 1)->ua_pending, 0);
    u = scsi_lun_unmap(s, 2, 0);
    assert_non_null(u);
    assert_ptr_equal(u->bdev, &f->bdev);
    assert_null(scsi_lun_unmap(s, 2, 0)); /* already out */
    /* LUN 0 is gone: the stand-in answers there; number 0 is free again. */
    assert_null(scsi_lookup(s, 2, 0)->bdev);
    assert_int_equal(scsi_target_free_lun(s, 2), 0);
    scsi_target_luns_changed(s, 2);
    assert_true(atomic_load(&scsi_lookup(s, 2, 1)->ua_pending) & SCSI_UA_REPORTED_LUNS);
    assert_true(atomic_load(&s->targets[2]->lun0_standin.ua_pending) & SCSI_UA_REPORTED_LUNS);
    /* Borrowed: freeing the unit leaves the backend to its owner. */
    scsi_lun_free(u);
    assert_int_equal(f->closed, 0);

    /* The last unit: the target looks absent, LUN 0 included. */
    assert_int_equal(scsi_lun_remove(s, 2, 1), 0);
    assert_int_equal(g->closed, 0);
    assert_null(scsi_lookup(s, 2, 0));
    assert_null(scsi_lookup(s, 2, 1));
    assert_int_equal(scsi_lun_remove(s, 2, 1), -ENOENT);
    /* And comes back with a new unit. */
    cfg.lun = 3;
    assert_int_equal(scsi_lun_create(s, &cfg, &g->bdev, err, sizeof(err)), 0);
    assert_ptr_equal(scsi_lookup(s, 2, 3)->bdev, &g->bdev);
    assert_non_null(scsi_lookup(s, 2, 0)); /* the stand-in again */
    scsi_target_set_destroy(s);
    assert_int_equal(g->closed, 0);
    fake_free(f);
    fake_free(g);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derived_identity),  cmocka_unit_test(test_explicit_identity),
        cmocka_unit_test(test_errors_close_bdev), cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_reset_sets_ua),     cmocka_unit_test(test_set_capacity),
        cmocka_unit_test(test_unmap_and_borrow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
