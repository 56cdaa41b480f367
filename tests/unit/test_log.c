/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Log levels and the rate limit that keeps a guest from flooding the host log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Capture stderr into a pipe for the duration of fn. */
static size_t capture(void (*fn)(void), char *buf, size_t len)
{
    int p[2], saved = dup(2);
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    fflush(stderr);
    dup2(p[1], 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    n = read(p[0], buf, len - 1);
    close(p[0]);
    buf[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

static void log_levels(void)
{
    log_set_level(LOG_LEVEL_WARN);
    LOG_ERR("e%d", 1);
    LOG_INFO("hidden");
    LOG_DEBUG("hidden too");
    log_set_level(LOG_LEVEL_DEBUG);
    LOG_DEBUG("d%d", 2);
    log_set_level(LOG_LEVEL_INFO);
}

static void test_levels(void **state)
{
    char out[512];

    (void)state;
    capture(log_levels, out, sizeof(out));
    assert_non_null(strstr(out, "vhost-user-scsi: error: e1\n"));
    assert_non_null(strstr(out, "vhost-user-scsi: debug: d2\n"));
    assert_null(strstr(out, "hidden"));
}

static void log_flood(void)
{
    for (int i = 0; i < 1000; i++)
        LOG_RATELIMITED(LOG_LEVEL_WARN, "bad request %d", i);
}

static void test_ratelimit(void **state)
{
    char out[4096];
    unsigned lines = 0;

    (void)state;
    capture(log_flood, out, sizeof(out));
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    /* 1000 calls within (at most) a second boundary or two: a line or two, not 1000. */
    assert_in_range(lines, 1, 3);
    assert_non_null(strstr(out, "bad request 0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_ratelimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
