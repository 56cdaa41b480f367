/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by test_options.c and test_lun_spec.c: options_parse on an argument
 * list, and the expected one-line errors.  Header-only; one per program.
 */
#ifndef VUS_TESTS_OPTIONS_FIXTURE_H
#define VUS_TESTS_OPTIONS_FIXTURE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/options.h"

__attribute__((unused)) static struct options opts; /* about 1 MiB: not on the stack */
__attribute__((unused)) static char err[512];
__attribute__((unused)) static char outbuf[8192];

/* Parse a NULL-terminated list of arguments (argv[0] is supplied). */
__attribute__((unused)) static int parse_v(const char *first, va_list ap)
{
    char *argv[600];
    int argc = 0;
    argv[argc++] = "vhost-user-scsi";
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 599);
        argv[argc++] = (char *)a;
    }
    argv[argc] = NULL;

    memset(outbuf, 0, sizeof(outbuf));
    FILE *out = fmemopen(outbuf, sizeof(outbuf) - 1, "w");
    assert_non_null(out);
    memset(err, 'X', sizeof(err));
    int rc = options_parse(argc, argv, &opts, out, err, sizeof(err));
    fclose(out);
    if (rc != -1)
        assert_string_equal(err, "");
    return rc;
}

__attribute__((unused)) static int parse(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = parse_v(first, ap);
    va_end(ap);
    return rc;
}

/* Expect failure with exactly this message. */
__attribute__((unused)) static void expect_error(const char *msg, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = parse_v(first, ap);
    va_end(ap);
    if (rc != -1)
        fail_msg("expected error '%s', got rc %d", msg, rc);
    assert_string_equal(err, msg);
}

/* One --lun SPEC on a socket path: the common frame of most LUN tests. */
__attribute__((unused)) static int parse_lun(const char *spec)
{
    return parse("--socket-path", "/tmp/vus.sock", "--lun", spec, NULL);
}

__attribute__((unused)) static void expect_lun_error(const char *spec, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "--lun '%s': %s", spec, what);
    expect_error(msg, "--socket-path", "/tmp/vus.sock", "--lun", spec, NULL);
}

#endif
