/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-scsi LUN addresses: what a guest may send, and what we send back in events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_scsi/vscsi.h"

/* Parse lun and expect failure, with the outputs left untouched. */
static void assert_malformed(const uint8_t lun[8])
{
    unsigned target = 0xdead, lun_id = 0xbeef;

    assert_int_equal(vscsi_parse_lun(lun, &target, &lun_id), -1);
    assert_int_equal(target, 0xdead);
    assert_int_equal(lun_id, 0xbeef);
}

static void test_flat_space(void **state)
{
    /* What Linux sends: flat space addressing (01b) even for small LUNs. */
    const uint8_t a[8] = { 1, 3, 0x40, 0x05, 0, 0, 0, 0 };
    const uint8_t b[8] = { 1, 255, 0x7f, 0xff, 0, 0, 0, 0 };
    const uint8_t c[8] = { 1, 0, 0x52, 0x34, 0, 0, 0, 0 };
    unsigned target, lun_id;

    assert_int_equal(vscsi_parse_lun(a, &target, &lun_id), 0);
    assert_int_equal(target, 3);
    assert_int_equal(lun_id, 5);
    assert_int_equal(vscsi_parse_lun(b, &target, &lun_id), 0);
    assert_int_equal(target, 255);
    assert_int_equal(lun_id, 0x3fff);
    assert_int_equal(vscsi_parse_lun(c, &target, &lun_id), 0);
    assert_int_equal(target, 0);
    assert_int_equal(lun_id, 0x1234);
}

static void test_peripheral(void **state)
{
    /* Peripheral device addressing (00b), bus 0: the LUN is byte 3. */
    const uint8_t a[8] = { 1, 7, 0x00, 0x00, 0, 0, 0, 0 };
    const uint8_t b[8] = { 1, 2, 0x00, 0xff, 0, 0, 0, 0 };
    unsigned target, lun_id;

    assert_int_equal(vscsi_parse_lun(a, &target, &lun_id), 0);
    assert_int_equal(target, 7);
    assert_int_equal(lun_id, 0);
    assert_int_equal(vscsi_parse_lun(b, &target, &lun_id), 0);
    assert_int_equal(target, 2);
    assert_int_equal(lun_id, 255);
}

static void test_malformed(void **state)
{
    /* First byte must be 1. */
    const uint8_t first0[8] = { 0, 0, 0x40, 0, 0, 0, 0, 0 };
    const uint8_t first2[8] = { 2, 0, 0x40, 0, 0, 0, 0, 0 };
    const uint8_t first_ff[8] = { 0xff, 0, 0x40, 0, 0, 0, 0, 0 };
    /* Peripheral addressing on a bus other than 0. */
    const uint8_t bus1[8] = { 1, 0, 0x01, 0, 0, 0, 0, 0 };
    const uint8_t bus3f[8] = { 1, 0, 0x3f, 0x10, 0, 0, 0, 0 };
    /* Logical unit addressing (10b) and extended addressing (11b). */
    const uint8_t logical[8] = { 1, 0, 0x80, 0, 0, 0, 0, 0 };
    const uint8_t extended[8] = { 1, 0, 0xc0, 0, 0, 0, 0, 0 };
    const uint8_t extended_ff[8] = { 1, 0, 0xff, 0xff, 0, 0, 0, 0 };
    const uint8_t all_ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    assert_malformed(first0);
    assert_malformed(first2);
    assert_malformed(first_ff);
    assert_malformed(bus1);
    assert_malformed(bus3f);
    assert_malformed(logical);
    assert_malformed(extended);
    assert_malformed(extended_ff);
    assert_malformed(all_ff);

    /* A second level, each trailing byte alone, with both addressing methods. */
    for (unsigned i = 4; i < 8; i++) {
        uint8_t flat[8] = { 1, 0, 0x40, 1, 0, 0, 0, 0 };
        uint8_t periph[8] = { 1, 0, 0x00, 1, 0, 0, 0, 0 };
        flat[i] = 0x01;
        periph[i] = 0x80;
        assert_malformed(flat);
        assert_malformed(periph);
    }
}

static void test_all_zero_is_malformed(void **state)
{
    const uint8_t zero[8] = { 0 };

    assert_malformed(zero);
}

static void test_encode(void **state)
{
    uint8_t out[8];

    memset(out, 0xaa, sizeof(out));
    vscsi_encode_lun(out, 2, 9);
    /* Below 256: peripheral addressing, what Linux expects in events. */
    const uint8_t want[8] = { 1, 2, 0, 9, 0, 0, 0, 0 };
    assert_memory_equal(out, want, 8);

    memset(out, 0xaa, sizeof(out));
    vscsi_encode_lun(out, 1, 255);
    const uint8_t want_255[8] = { 1, 1, 0, 0xff, 0, 0, 0, 0 };
    assert_memory_equal(out, want_255, 8);

    memset(out, 0xaa, sizeof(out));
    vscsi_encode_lun(out, 1, 256);
    const uint8_t want_256[8] = { 1, 1, 0x41, 0, 0, 0, 0, 0 };
    assert_memory_equal(out, want_256, 8);

    memset(out, 0xaa, sizeof(out));
    vscsi_encode_lun(out, 255, 0x3fff);
    const uint8_t want_max[8] = { 1, 255, 0x7f, 0xff, 0, 0, 0, 0 };
    assert_memory_equal(out, want_max, 8);
}

static void test_round_trip(void **state)
{
    static const unsigned luns[] = { 0, 1, 0xff, 0x100, 0x1234, 0x3ffe, 0x3fff };

    for (unsigned t = 0; t < 256; t++) {
        for (size_t i = 0; i < sizeof(luns) / sizeof(luns[0]); i++) {
            uint8_t enc[8];
            unsigned target = ~0u, lun_id = ~0u;

            vscsi_encode_lun(enc, t, luns[i]);
            assert_int_equal(vscsi_parse_lun(enc, &target, &lun_id), 0);
            assert_int_equal(target, t);
            assert_int_equal(lun_id, luns[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_space), cmocka_unit_test(test_peripheral),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_all_zero_is_malformed),
        cmocka_unit_test(test_encode),     cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
