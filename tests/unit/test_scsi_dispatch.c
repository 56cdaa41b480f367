/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scsi_fake.h"

static const uint8_t tur[6] = { 0x00 };
static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 96, 0 };
static const uint8_t report_luns[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
static const uint8_t request_sense[6] = { 0x03, 0, 0, 0, 18, 0 };
static const uint8_t read10_2[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0 };
static const uint8_t write10_1[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

static void test_unknown_opcode_and_sa(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[64];
    const uint8_t bogus[16] = { 0xc7 };
    const uint8_t sai_bad[16] = { 0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
    const uint8_t mi_bad[12] = { 0xa3, 0x05, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
    const uint8_t send_diag[6] = { 0x1d };

    assert_sense(run(e, bogus, 16, SCSI_DIR_NONE, NULL, 0), 0x5, 0x20, 0);
    assert_sense(run(e, sai_bad, 16, SCSI_DIR_FROM_DEV, buf, 32), 0x5, 0x20, 0);
    assert_sense(run(e, mi_bad, 12, SCSI_DIR_FROM_DEV, buf, 32), 0x5, 0x20, 0);
    assert_sense(run(e, send_diag, 6, SCSI_DIR_NONE, NULL, 0), 0x5, 0x20, 0);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_cdb_length_and_naca(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[1024];
    uint8_t naca[6] = { 0x00, 0, 0, 0, 0, 0x04 };

    /* READ(10) needs 10 CDB bytes. */
    assert_invalid_cdb(run(e, read10_2, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_invalid_cdb(run(e, read10_2, 0, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_invalid_cdb(run(e, naca, 6, SCSI_DIR_NONE, NULL, 0));
    assert_int_equal(e->fb->calls, 0);
    /* A longer buffer than the CDB needs is fine (virtio-scsi always passes 32). */
    {
        uint8_t cdb32[32] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0 };

        assert_good(run(e, cdb32, 32, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    }
    env_free(e);
}

static void test_unit_attention_once(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[96];
    struct scsi_task *t;

    scsi_lun_reset(e->lun);
    /* Discovery commands do not consume it. */
    assert_good(run(e, inquiry, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_good(run(e, report_luns, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));
    assert_sense(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0), 0x6, 0x29, 0);
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));

    /* Reported before the command is even looked at. */
    scsi_lun_reset(e->lun);
    {
        const uint8_t bogus[6] = { 0xc0 };

        assert_sense(run(e, bogus, 6, SCSI_DIR_NONE, NULL, 0), 0x6, 0x29, 0);
        assert_sense(run(e, bogus, 6, SCSI_DIR_NONE, NULL, 0), 0x5, 0x20, 0);
    }

    /* REQUEST SENSE hands it over as data and clears it. */
    scsi_lun_reset(e->lun);
    t = run(e, request_sense, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 18);
    assert_int_equal(buf[0], 0x70);
    assert_int_equal(buf[2], 0x6);
    assert_int_equal(buf[12], 0x29);
    assert_good(run(e, tur, 6, SCSI_DIR_NONE, NULL, 0));
    t = run(e, request_sense, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[2], 0);
    assert_int_equal(buf[12], 0);
    env_free(e);
}

static void test_lun0_standin(void **state)
{
    struct env *e = env_new_lun(2, 1, fake_new(64, 512));
    struct scsi_lun *s = scsi_lookup(&e->set, 2, 0);
    uint8_t buf[256];
    struct scsi_task *t;
    const uint8_t vpd0[6] = { 0x12, 1, 0, 0, 255, 0 };
    const uint8_t vpd80[6] = { 0x12, 1, 0x80, 0, 255, 0 };
    const uint8_t bogus[6] = { 0xc0 };

    assert_non_null(s);
    assert_null(s->bdev);
    t = run_on(e, s, inquiry, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[0], 0x7f);
    assert_true(t->data_len >= 36);
    t = run_on(e, s, vpd0, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[0], 0x7f);
    assert_invalid_cdb(run_on(e, s, vpd80, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf)));

    memset(buf, 0xff, sizeof(buf));
    t = run_on(e, s, report_luns, 12, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 16);
    assert_int_equal(get_be32(buf), 8);
    assert_int_equal(buf[8], 0);
    assert_int_equal(buf[9], 1);

    t = run_on(e, s, request_sense, 6, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(buf[2], 0x5);
    assert_int_equal(buf[12], 0x25);

    assert_good(run_on(e, s, tur, 6, SCSI_DIR_NONE, NULL, 0));
    assert_sense(run_on(e, s, read10_2, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)), 0x5, 0x25, 0);
    assert_sense(run_on(e, s, bogus, 6, SCSI_DIR_NONE, NULL, 0), 0x5, 0x25, 0);
    assert_int_equal(e->fb->calls, 0);
    env_free(e);
}

static void test_overrun(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[2048];
    struct scsi_task *t;

    /* READ of 2 blocks into 1 block of buffer. */
    t = run(e, read10_2, 10, SCSI_DIR_FROM_DEV, buf, 1023);
    assert_true(t->overrun);
    assert_int_equal(t->data_len, 0);
    /* No buffer at all. */
    assert_true(run(e, read10_2, 10, SCSI_DIR_NONE, NULL, 0)->overrun);
    /* WRITE given a data-in buffer; READ given a data-out buffer. */
    assert_true(run(e, write10_1, 10, SCSI_DIR_FROM_DEV, buf, 512)->overrun);
    assert_true(run(e, read10_2, 10, SCSI_DIR_TO_DEV, buf, 1024)->overrun);
    /* INQUIRY with a data-out buffer. */
    assert_true(run(e, inquiry, 6, SCSI_DIR_TO_DEV, buf, 96)->overrun);
    assert_int_equal(e->fb->calls, 0);

    /* Data-in with allocation length: a short buffer truncates, it is no overrun. */
    t = run(e, inquiry, 6, SCSI_DIR_FROM_DEV, buf, 10);
    assert_good(t);
    assert_int_equal(t->data_len, 10);
    /* A bigger buffer than the transfer is fine. */
    t = run(e, read10_2, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_good(t);
    assert_int_equal(t->data_len, 1024);
    /* A command without data ignores whatever buffer comes with it. */
    assert_good(run(e, tur, 6, SCSI_DIR_FROM_DEV, buf, 100));
    env_free(e);
}

static void test_deferred_completion(void **state)
{
    struct env *e = env_new(64, 512);
    struct scsi_task *t = e->task;
    uint8_t buf[1024];
    struct iovec iov = { buf, sizeof(buf) };

    e->fb->deferred = true;
    memset(t, 0, sizeof(*t));
    memcpy(t->cdb, read10_2, 10);
    t->cdb_len = 10;
    t->lun = e->lun;
    t->dir = SCSI_DIR_FROM_DEV;
    t->iov = &iov;
    t->iovcnt = 1;
    t->iov_len = sizeof(buf);
    t->done = env_done;
    memset(e->fb->data, 0x5a, 1024);
    scsi_task_execute(t);
    assert_int_equal(e->done, 0);
    assert_int_equal(atomic_load(&e->lun->inflight), 1);
    fake_run(e->fb);
    assert_int_equal(e->done, 1);
    assert_int_equal(atomic_load(&e->lun->inflight), 0);
    assert_good(t);
    assert_int_equal(t->data_len, 1024);
    assert_int_equal(buf[1023], 0x5a);
    env_free(e);
}

static void test_submit_errors(void **state)
{
    struct env *e = env_new(64, 512);
    uint8_t buf[1024];
    struct scsi_task *t;

    e->fb->submit_err = -EAGAIN;
    t = run(e, read10_2, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf));
    assert_int_equal(t->status, SCSI_STATUS_BUSY);
    e->fb->submit_err = -EIO;
    assert_sense(run(e, write10_1, 10, SCSI_DIR_TO_DEV, buf, 512), 0x3, 0x0c, 0);
    e->fb->submit_err = 0;
    e->fb->fail_type = BDEV_IO_READ;
    e->fb->fail_err = -EIO;
    assert_sense(run(e, read10_2, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf)), 0x3, 0x11, 0);
    e->fb->deferred = true;
    e->fb->fail_err = -ENOMEM;
    assert_int_equal(run(e, read10_2, 10, SCSI_DIR_FROM_DEV, buf, sizeof(buf))->status,
                     SCSI_STATUS_BUSY);
    env_free(e);
}

/* A guest buffer in more pieces than one bdev request takes is split, inline, without recursion. */
static void test_fragmented_buffer(void **state)
{
    enum { N = 2600 };
    struct env *e = env_new(4096, 512);
    struct scsi_task *t = e->task;
    struct iovec *iov = calloc(N, sizeof(*iov));
    uint8_t *buf = malloc(N * 512), *pat = malloc(N * 512);
    uint8_t cdb[10] = { 0x2a, 0, 0, 0, 0, 16, 0, N >> 8, N & 0xff, 0 };

    for (size_t i = 0; i < (size_t)N * 512; i++)
        pat[i] = (uint8_t)(i * 7 + i / 512);
    memcpy(buf, pat, N * 512);
    for (int i = 0; i < N; i++)
        iov[i] = (struct iovec){ buf + 512 * i, 512 };
    for (int pass = 0; pass < 2; pass++) {
        memset(t, 0, sizeof(*t));
        memcpy(t->cdb, cdb, 10);
        t->cdb_len = 10;
        t->lun = e->lun;
        t->dir = pass == 0 ? SCSI_DIR_TO_DEV : SCSI_DIR_FROM_DEV;
        t->iov = iov;
        t->iovcnt = N;
        t->iov_len = N * 512;
        t->done = env_done;
        e->done = 0;
        e->fb->calls = 0;
        scsi_task_execute(t);
        assert_int_equal(e->done, 1);
        assert_good(t);
        assert_int_equal(t->data_len, N * 512);
        assert_int_equal(e->fb->calls, 3);
        assert_true(e->fb->max_iovcnt <= BDEV_MAX_IOV);
        if (pass == 0) {
            cdb[0] = 0x28;
            memset(buf, 0, N * 512);
        }
    }
    assert_memory_equal(buf, pat, N * 512);
    assert_memory_equal(e->fb->data + 16 * 512, pat, N * 512);
    free(iov);
    free(buf);
    free(pat);
    env_free(e);
}

/* REPORT SUPPORTED OPERATION CODES' reply buffer holds the whole table, timeouts included. */
static void test_table_fits_report(void **state)
{
    unsigned n = 0;

    while (scsi_cmd_at(n) != NULL)
        n++;
    assert_true(n > 40);
    assert_true(n <= SCSI_MAX_COMMANDS);
}

/* The statistics kind of every command that moves or drops blocks, from the table. */
static void test_io_kind(void **state)
{
    static const struct {
        uint8_t op, b1;
        enum scsi_io_kind kind;
    } cases[] = {
        { 0x08, 0, SCSI_IO_READ },         { 0x28, 0, SCSI_IO_READ },
        { 0xa8, 0, SCSI_IO_READ },         { 0x88, 0, SCSI_IO_READ },
        { 0x0a, 0, SCSI_IO_WRITE },        { 0x2a, 0, SCSI_IO_WRITE },
        { 0xaa, 0, SCSI_IO_WRITE },        { 0x8a, 0, SCSI_IO_WRITE },
        { 0x2e, 0, SCSI_IO_WRITE },        { 0x8e, 0, SCSI_IO_WRITE },
        { 0x89, 0, SCSI_IO_WRITE },        { 0x8b, 0, SCSI_IO_WRITE },
        { 0x9c, 0, SCSI_IO_WRITE },        { 0x42, 0, SCSI_IO_UNMAP },
        { 0x41, 0x08, SCSI_IO_UNMAP },     { 0x93, 0x08, SCSI_IO_UNMAP },
        { 0x41, 0, SCSI_IO_WRITE_ZEROES }, { 0x93, 0, SCSI_IO_WRITE_ZEROES },
        { 0x35, 0, SCSI_IO_FLUSH },        { 0x91, 0, SCSI_IO_FLUSH },
        { 0x2f, 0, SCSI_IO_VERIFY },       { 0xaf, 0, SCSI_IO_VERIFY },
        { 0x8f, 0, SCSI_IO_VERIFY },       { 0x12, 0, SCSI_IO_OTHER },
        { 0x00, 0, SCSI_IO_OTHER },        { 0x9e, 0x10, SCSI_IO_OTHER },
        { 0x15, 0, SCSI_IO_OTHER },        { 0xc7, 0, SCSI_IO_OTHER },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t cdb[16] = { cases[i].op, cases[i].b1 };

        assert_int_equal(scsi_cdb_io_kind(cdb), cases[i].kind);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_opcode_and_sa),
        cmocka_unit_test(test_cdb_length_and_naca),
        cmocka_unit_test(test_unit_attention_once),
        cmocka_unit_test(test_lun0_standin),
        cmocka_unit_test(test_overrun),
        cmocka_unit_test(test_deferred_completion),
        cmocka_unit_test(test_submit_errors),
        cmocka_unit_test(test_fragmented_buffer),
        cmocka_unit_test(test_table_fits_report),
        cmocka_unit_test(test_io_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
