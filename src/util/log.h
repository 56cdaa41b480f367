/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging.  One line per event on stderr, prefixed with the level.
 *
 * Thread-safe: any thread may log.  The data path must not log per request
 * except at debug level (off by default): a guest can trigger errors at will,
 * and an error log line per bad request would let it flood the host.  Use
 * LOG_RATELIMITED for guest-triggered errors.
 */
#ifndef VUS_UTIL_LOG_H
#define VUS_UTIL_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...)  log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

/*
 * Log at most one message per second from this call site; the rest are
 * counted and reported with the next message that gets through.
 */
bool log_ratelimit_pass(unsigned *suppressed, long *last_sec);
#define LOG_RATELIMITED(level, ...)                                                                \
    do {                                                                                           \
        static unsigned log_rl_suppressed_;                                                        \
        static long log_rl_last_;                                                                  \
        if (log_ratelimit_pass(&log_rl_suppressed_, &log_rl_last_))                                \
            log_msg(level, __VA_ARGS__);                                                           \
    } while (0)

#endif
