/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The logical unit behind a bdev: every scsi_lun attached to one bdev (one
 * per controller, I_T nexus) shares its range lock and its reservations;
 * another bdev has its own; the last detach frees it.
 */
#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"
#include "scsi_pr_fake.h"

static unsigned started;

/* How many scsi_luns are attached to u. */
static unsigned members(const struct scsi_unit *u)
{
    unsigned n = 0;

    for (const struct scsi_lun *m = u->members; m != NULL; m = m->unit_next)
        n++;
    return n;
}

static void start_cb(struct scsi_task *task)
{
    (void)task;
    started++;
}

static void test_one_unit_per_bdev(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    struct env *other = env_new(64, 512);

    assert_non_null(p->a->unit);
    assert_ptr_equal(p->a->unit, p->b->unit);
    assert_ptr_equal(p->a->rl, p->b->rl);
    assert_ptr_equal(p->a->rl, &p->a->unit->rlock);
    assert_ptr_equal(p->a->pr, &p->a->unit->pr);
    assert_int_equal(members(p->a->unit), 2);
    assert_ptr_not_equal(other->lun->unit, p->a->unit);
    assert_int_equal(members(other->lun->unit), 1);
    /* The LUN 0 stand-in answers without a medium: no unit. */
    assert_null(scsi_lookup(&other->set, 0, 0)->target->lun0_standin.unit);
    env_free(other);
    pr_env_free(p);
}

/*
 * COMPARE AND WRITE's exclusive range, taken through one controller, holds
 * off a write through the other: atomicity is the logical unit's.
 */
static void test_range_lock_across_nexuses(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    struct scsi_task *ta = calloc(1, sizeof(*ta)), *tb = calloc(1, sizeof(*tb));

    assert_non_null(ta);
    assert_non_null(tb);
    ta->lun = p->a;
    tb->lun = p->b;
    started = 0;
    assert_true(scsi_range_lock(ta, 10, 1, SCSI_RL_EXCL, start_cb));
    assert_false(scsi_range_lock(tb, 10, 4, SCSI_RL_SHARED, start_cb));
    assert_int_equal(tb->rl_state, SCSI_RL_WAITING);
    scsi_range_unlock(ta);
    assert_int_equal(started, 1);
    assert_int_equal(tb->rl_state, SCSI_RL_HELD);
    scsi_range_unlock(tb);
    assert_null(p->a->rl->held);
    assert_null(p->a->rl->wait_head);
    free(ta);
    free(tb);
    pr_env_free(p);
}

/* SANITIZE erases the logical unit: every nexus is NOT READY while it runs, not only its own. */
static void test_sanitize_across_nexuses(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    const uint8_t erase_immed[10] = { 0x48, 0x82 }, tur[6] = { 0 };
    struct scsi_task *bg = calloc(1, sizeof(*bg));

    assert_non_null(bg);
    p->e->fb->deferred = true;
    p->e->fb->bdev.can_write_zeroes = true;
    /* IMMED: GOOD at once, the erase goes on (its I/O held by the fake). */
    memcpy(bg->cdb, erase_immed, sizeof(erase_immed));
    bg->cdb_len = 10;
    bg->lun = p->a;
    bg->dir = SCSI_DIR_NONE;
    bg->done = env_done;
    p->e->done = 0;
    scsi_task_execute(bg);
    assert_int_equal(p->e->done, 1);
    assert_good(bg);
    assert_true(scsi_unit_sanitizing(p->b));
    assert_sense(run_on(p->e, p->b, tur, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_NOT_READY, 0x04, 0x1b);
    fake_run(p->e->fb);
    assert_false(scsi_unit_sanitizing(p->a));
    assert_good(run_on(p->e, p->b, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_int_equal(p->e->fb->count[BDEV_IO_WRITE_ZEROES], 1);
    p->e->fb->deferred = false;
    free(bg);
    pr_env_free(p);
}

/*
 * A removable medium is the unit's: ejected through one controller it is
 * gone for the other; removal is prevented while either prevents it; a load
 * through one tells the other with 28h/00h.
 */
static void test_removable_medium_across_nexuses(void **state)
{
    struct env *e = env_new(64, 512);
    struct scsi_target_set *set_b = calloc(1, sizeof(*set_b));
    struct scsi_lun_config cb = { .removable = true, .borrow_bdev = true };
    struct scsi_lun *a, *b;
    const uint8_t tur[6] = { 0 }, prevent[6] = { 0x1e, 0, 0, 0, 1, 0 };
    const uint8_t allow[6] = { 0x1e }, eject[6] = { 0x1b, 0, 0, 0, 0x02, 0 };
    const uint8_t load[6] = { 0x1b, 0, 0, 0, 0x03, 0 };
    char err[256];

    assert_non_null(set_b);
    /* e's LUN was made fixed: make a removable twin of it on the same set first. */
    assert_int_equal(scsi_lun_remove(&e->set, 0, 0), 0);
    assert_int_equal(scsi_lun_create(&e->set, &cb, &e->fb->bdev, err, sizeof(err)), 0);
    assert_int_equal(scsi_lun_create(set_b, &cb, &e->fb->bdev, err, sizeof(err)), 0);
    a = scsi_lookup(&e->set, 0, 0);
    b = scsi_lookup(set_b, 0, 0);
    atomic_store(&a->ua_pending, 0);
    atomic_store(&b->ua_pending, 0);

    assert_good(run_on(e, a, prevent, 6, SCSI_DIR_NONE, NULL, 0));
    assert_sense(run_on(e, b, eject, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_ILLEGAL_REQUEST, 0x53,
                 0x02);
    assert_good(run_on(e, a, allow, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(run_on(e, b, eject, 6, SCSI_DIR_NONE, NULL, 0));
    assert_sense(run_on(e, a, tur, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_NOT_READY, 0x3a, 0);
    assert_good(run_on(e, a, load, 6, SCSI_DIR_NONE, NULL, 0));
    assert_good(run_on(e, a, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_sense(run_on(e, b, tur, 6, SCSI_DIR_NONE, NULL, 0), SCSI_SK_UNIT_ATTENTION, 0x28, 0);
    assert_good(run_on(e, b, tur, 6, SCSI_DIR_NONE, NULL, 0));
    scsi_target_set_destroy(set_b);
    free(set_b);
    scsi_target_set_destroy(&e->set);
    fake_free(e->fb);
    free(e->task);
    free(e);
    g_env = NULL;
}

/* Detaching one nexus leaves the unit to the other; a fresh attach after the last starts anew. */
static void test_last_detach_frees(void **state)
{
    struct pr_env *p = pr_env_new(NULL);
    struct fake_bdev *fb = p->e->fb;
    struct scsi_lun_config cfg = { .initiator_port = PORT_A, .borrow_bdev = true };
    struct scsi_target_set *set = calloc(1, sizeof(*set));
    char err[256];

    assert_non_null(set);
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0));
    assert_int_equal(p->a->pr->st.nregs, 1);
    scsi_target_set_destroy(p->set_b);
    assert_int_equal(members(p->a->unit), 1);
    assert_int_equal(p->a->pr->st.nregs, 1);
    assert_int_equal(scsi_lun_remove(&p->e->set, 0, 0), 0);
    /* No LUN on the bdev: its registrations went with its unit (no APTPL). */
    assert_int_equal(scsi_lun_create(set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    assert_int_equal(members(scsi_lookup(set, 0, 0)->unit), 1);
    assert_int_equal(scsi_lookup(set, 0, 0)->pr->st.nregs, 0);
    scsi_target_set_destroy(set);
    free(set);
    scsi_target_set_destroy(&p->e->set);
    fake_free(fb);
    free(p->e->task);
    free(p->e);
    free(p->set_b);
    free(p);
    g_env = NULL;
}

/* A state file that cannot be read fails the attach and leaves no unit behind. */
static void test_attach_failure(void **state)
{
    const char *path = pr_tmp_file();
    struct fake_bdev *fb = fake_new(64, 512);
    struct scsi_target_set *set = calloc(1, sizeof(*set));
    struct scsi_lun_config cfg = { .pr_state_file = path, .borrow_bdev = true };
    char err[256] = "";
    FILE *f = fopen(path, "w");

    assert_non_null(set);
    assert_non_null(f);
    fputs("{ not json", f);
    fclose(f);
    assert_true(scsi_lun_create(set, &cfg, &fb->bdev, err, sizeof(err)) < 0);
    assert_true(err[0] != '\0');
    assert_null(scsi_lookup(set, 0, 0));
    cfg.pr_state_file = NULL;
    assert_int_equal(scsi_lun_create(set, &cfg, &fb->bdev, err, sizeof(err)), 0);
    assert_int_equal(members(scsi_lookup(set, 0, 0)->unit), 1);
    scsi_target_set_destroy(set);
    free(set);
    fake_free(fb);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_unit_per_bdev),
        cmocka_unit_test(test_range_lock_across_nexuses),
        cmocka_unit_test(test_sanitize_across_nexuses),
        cmocka_unit_test(test_removable_medium_across_nexuses),
        cmocka_unit_test(test_last_detach_frees),
        cmocka_unit_test(test_attach_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
