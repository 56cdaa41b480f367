/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small state files that must survive a crash or a power cut whole: either
 * the old contents or the new, never a mix and never an empty file
 * (reservations with APTPL, the RBD lock owner record).  Any thread; they
 * block in fsync, so not for a worker's hot path.
 */
#ifndef VUS_UTIL_ATOMIC_FILE_H
#define VUS_UTIL_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace path with len bytes of data: written to path.tmp (mode), fsync'ed,
 * renamed over path, and the directory fsync'ed, so the rename itself is
 * durable when this returns 0.  -errno on failure, with path untouched and
 * no path.tmp left behind.
 */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode);

/* Remove path durably (its directory fsync'ed).  0 also when it did not exist; -errno. */
int atomic_file_remove(const char *path);

/* fsync the directory that holds path, so that a rename or unlink in it is durable.  0 or -errno.
 */
int fsync_parent_dir(const char *path);

#endif
