/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    n = snprintf(line, sizeof(line), "vhost-user-scsi: %s: ", level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from different threads whole. */
    fprintf(stderr, "%s\n", line);
}

bool log_ratelimit_pass(unsigned *suppressed, long *last_sec)
{
    /*
     * Races between threads only make the limit approximate, which is fine:
     * the point is to bound the volume, not to count exactly.
     */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec == *last_sec) {
        (*suppressed)++;
        return false;
    }
    if (*suppressed)
        log_msg(LOG_LEVEL_WARN, "%u similar messages suppressed", *suppressed);
    *suppressed = 0;
    *last_sec = now.tv_sec;
    return true;
}
