/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NVMe status -> SCSI sense: every table entry, written out again here from
 * the specifications so a typo in either place shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nvme/nvme_spec.h"
#include "nvme/nvme_status.h"

struct want {
    uint8_t sct, sc, key, asc, ascq;
    bool retry;
};

static const struct want wants[] = {
    { 0, 0x00, 0x0, 0x00, 0x00, false }, { 0, 0x01, 0x5, 0x20, 0x00, false },
    { 0, 0x02, 0x5, 0x24, 0x00, false }, { 0, 0x03, 0x4, 0x44, 0x00, false },
    { 0, 0x04, 0xb, 0x4b, 0x00, true },  { 0, 0x05, 0xb, 0x0b, 0x08, true },
    { 0, 0x06, 0x4, 0x44, 0x00, true },  { 0, 0x07, 0xb, 0x00, 0x00, true },
    { 0, 0x08, 0xb, 0x00, 0x00, true },  { 0, 0x09, 0xb, 0x00, 0x00, true },
    { 0, 0x0a, 0xb, 0x00, 0x00, true },  { 0, 0x0b, 0x5, 0x25, 0x00, false },
    { 0, 0x0c, 0x4, 0x44, 0x00, false }, { 0, 0x0d, 0x4, 0x44, 0x00, false },
    { 0, 0x0e, 0x4, 0x44, 0x00, false }, { 0, 0x0f, 0x4, 0x44, 0x00, false },
    { 0, 0x10, 0x4, 0x44, 0x00, false }, { 0, 0x11, 0x4, 0x44, 0x00, false },
    { 0, 0x12, 0x4, 0x44, 0x00, false }, { 0, 0x13, 0x4, 0x44, 0x00, false },
    { 0, 0x14, 0x5, 0x24, 0x00, false }, { 0, 0x15, 0x7, 0x20, 0x02, false },
    { 0, 0x16, 0x4, 0x44, 0x00, false }, { 0, 0x19, 0xb, 0x00, 0x00, true },
    { 0, 0x1b, 0xb, 0x00, 0x00, true },  { 0, 0x1c, 0x3, 0x31, 0x03, false },
    { 0, 0x1d, 0x2, 0x04, 0x1b, true },  { 0, 0x1e, 0x4, 0x44, 0x00, false },
    { 0, 0x20, 0x7, 0x27, 0x00, false }, { 0, 0x21, 0xb, 0x00, 0x00, true },
    { 0, 0x22, 0xb, 0x00, 0x00, true },  { 0, 0x23, 0x5, 0x20, 0x00, false },
    { 0, 0x24, 0x2, 0x04, 0x00, true },  { 0, 0x80, 0x5, 0x21, 0x00, false },
    { 0, 0x81, 0x7, 0x27, 0x07, false }, { 0, 0x82, 0x2, 0x04, 0x01, true },
    { 0, 0x83, 0x7, 0x20, 0x02, false }, { 0, 0x84, 0x2, 0x04, 0x04, true },
    { 1, 0x80, 0x5, 0x24, 0x00, false }, { 1, 0x81, 0x5, 0x24, 0x00, false },
    { 1, 0x82, 0x7, 0x27, 0x00, false }, { 1, 0x83, 0x5, 0x24, 0x00, false },
    { 2, 0x80, 0x3, 0x0c, 0x00, false }, { 2, 0x81, 0x3, 0x11, 0x00, false },
    { 2, 0x82, 0xb, 0x10, 0x01, false }, { 2, 0x83, 0xb, 0x10, 0x02, false },
    { 2, 0x84, 0xb, 0x10, 0x03, false }, { 2, 0x85, 0xe, 0x1d, 0x00, false },
    { 2, 0x86, 0x7, 0x20, 0x02, false }, { 2, 0x87, 0x3, 0x11, 0x00, false },
    { 3, 0x00, 0xb, 0x00, 0x00, true },  { 3, 0x01, 0x2, 0x04, 0x0c, false },
    { 3, 0x02, 0x2, 0x04, 0x0b, true },  { 3, 0x03, 0x2, 0x04, 0x0a, true },
    { 3, 0x60, 0xb, 0x00, 0x00, true },  { 3, 0x70, 0xb, 0x00, 0x00, true },
    { 3, 0x71, 0xb, 0x00, 0x00, true },
};

static void test_every_entry(void **state)
{
    const unsigned n = sizeof(wants) / sizeof(wants[0]);

    (void)state;
    assert_int_equal(n, nvme_status_table_size());
    for (unsigned i = 0; i < n; i++) {
        const struct want *w = &wants[i];
        uint16_t sf = NVME_SF(w->sct, w->sc);
        struct nvme_sense s;
        char name[96];

        nvme_status_to_sense(sf, &s);
        if (s.key != w->key || s.asc != w->asc || s.ascq != w->ascq || s.retry != w->retry)
            fail_msg("SCT %u SC %02x: got %x %02x/%02x retry %d", w->sct, w->sc, s.key, s.asc,
                     s.ascq, s.retry);
        /* Every entry has its own name, and DNR always stops a retry. */
        assert_null(strstr(nvme_status_str(sf, name, sizeof(name)), "unknown"));
        nvme_status_to_sense(sf | NVME_SF_DNR | NVME_SF_MORE | (3u << 11), &s);
        assert_int_equal(s.key, w->key);
        assert_int_equal(s.asc, w->asc);
        assert_false(s.retry);
    }
}

static void test_unknown(void **state)
{
    static const uint16_t unknown[] = { NVME_SF(0, 0x17), NVME_SF(0, 0xff), NVME_SF(1, 0x01),
                                        NVME_SF(2, 0x00), NVME_SF(7, 0x01), NVME_SF(4, 0x00) };
    char buf[96];

    (void)state;
    for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        struct nvme_sense s = { 9, 9, 9, true };
        nvme_status_to_sense(unknown[i], &s);
        assert_int_equal(s.key, 0x4);
        assert_int_equal(s.asc, 0x44);
        assert_int_equal(s.ascq, 0);
        assert_false(s.retry);
    }
    assert_string_equal(nvme_status_str(NVME_SF(7, 0x01) | NVME_SF_DNR, buf, sizeof(buf)),
                        "SCT 7h SC 01h (unknown, do not retry)");
    assert_string_equal(nvme_status_str(NVME_SF(2, 0x81), buf, sizeof(buf)),
                        "SCT 2h SC 81h (unrecovered read error)");
}

static void test_reservation_conflict(void **state)
{
    (void)state;
    assert_true(nvme_status_is_reservation_conflict(NVME_SF(0, 0x83)));
    assert_true(nvme_status_is_reservation_conflict(NVME_SF(0, 0x83) | NVME_SF_DNR));
    assert_false(nvme_status_is_reservation_conflict(NVME_SF(1, 0x83)));
    assert_false(nvme_status_is_reservation_conflict(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_reservation_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
