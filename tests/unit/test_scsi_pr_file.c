/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The APTPL state file: saved on every change, restored when the first LUN
 * attaches the bdev again, removed when APTPL goes off; a failure to save
 * fails the command and keeps the old state; bad files are refused.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "scsi_pr_fake.h"

static void test_aptpl_round_trip(void **state)
{
    const char *file = pr_tmp_file();
    struct pr_env *p = pr_env_new(file);
    struct stat sb;
    uint8_t buf[256];

    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0, 0xa, 0x01));
    assert_good(pr_out(p, p->b, SCSI_PR_REGISTER, 0, 0, 0xb, 0x05));
    assert_good(pr_out(p, p->b, SCSI_PR_RESERVE, SCSI_PR_EA_RO, 0xb, 0, 0));
    assert_int_equal(stat(file, &sb), 0);
    assert_good(pr_in(p, p->a, SCSI_PR_REPORT_CAPS, 64, buf));
    assert_int_equal(buf[3] & 0x01, 1); /* PTPL_A */
    pr_env_free(p);

    /* A restart: the state comes back before the LUN serves. */
    p = pr_env_new(file);
    assert_int_equal(pr_keys(p, p->a, buf), 2);
    assert_int_equal(get_be32(buf), 2);
    assert_good(pr_in(p, p->a, SCSI_PR_READ_RESERVATION, 64, buf));
    assert_int_equal(buf[21], SCSI_PR_EA_RO);
    assert_int_equal(get_be64(&buf[8]), 0xb);
    assert_good(pr_in(p, p->a, SCSI_PR_READ_FULL_STATUS, 256, buf));
    assert_int_equal(buf[8 + 12] | buf[8 + 48 + 12], 0x03); /* b's ALL_TG_PT and R_HOLDER */
    assert_good(pr_read(p, p->a)); /* registered: registrants only lets a in */
    /* Persisting fails: the command fails and the state is as before. */
    char *saved = p->a->pr->file;

    p->a->pr->file = (char *)"/nonexistent-dir/pr.json";
    assert_sense(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xaa, 0x01), SCSI_SK_HARDWARE_ERROR,
                 0x44, 0);
    p->a->pr->file = saved;
    assert_int_equal(pr_keys(p, p->a, buf), 2);
    assert_true(pr_has_key(buf, 0xa));
    /* APTPL=0 removes the file. */
    assert_good(pr_out(p, p->a, SCSI_PR_REGISTER, 0, 0xa, 0xaa, 0));
    assert_int_equal(stat(file, &sb), -1);
    pr_env_free(p);
    p = pr_env_new(file);
    assert_int_equal(pr_keys(p, p->a, buf), 0);
    pr_env_free(p);
}

static void test_bad_state_file(void **state)
{
    const char *file = pr_tmp_file();
    struct scsi_pr_state st;
    char err[256];
    FILE *f = fopen(file, "w");

    assert_non_null(f);
    fputs("{\"version\": 1, \"generation\": 3, \"aptpl\": true, \"registrations\": [],"
          " \"reservation\": {\"holder\": \"0x5\", \"type\": 1}}",
          f);
    fclose(f);
    assert_int_equal(scsi_pr_file_load(file, &st, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not registered"));
    f = fopen(file, "w");
    fputs("{\"version\": 2}", f);
    fclose(f);
    assert_int_equal(scsi_pr_file_load(file, &st, err, sizeof(err)), -EINVAL);
    f = fopen(file, "w");
    fputs("not json", f);
    fclose(f);
    assert_int_equal(scsi_pr_file_load(file, &st, err, sizeof(err)), -EINVAL);
    unlink(file);
    assert_int_equal(scsi_pr_file_load(file, &st, err, sizeof(err)), 0);
    assert_int_equal(st.nregs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aptpl_round_trip),
        cmocka_unit_test(test_bad_state_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
