/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scatter-gather helpers.  Buffers from the guest come as iovec arrays whose
 * element boundaries may fall anywhere (virtio any-layout), so every parse and
 * every copy goes through these helpers rather than through iov[0].
 */
#ifndef VUS_UTIL_IOV_H
#define VUS_UTIL_IOV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Total length of an iovec array; saturates at SIZE_MAX. */
size_t iov_size(const struct iovec *iov, unsigned cnt);

/* Copy up to len bytes from iov (starting offset bytes in) into buf.  Returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t offset, void *buf, size_t len);

/*
 * iov_to_buf into memory that will not be read soon (util/copy_nt.h): call
 * copy_nt_fence() before the data is announced to another thread.
 */
size_t iov_to_buf_nt(const struct iovec *iov, unsigned cnt, size_t offset, void *buf, size_t len);

/* Copy up to len bytes from buf into iov (starting offset bytes in).  Returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t offset, const void *buf,
                    size_t len);

/* Fill len bytes of iov, from offset, with byte c.  Returns bytes written. */
size_t iov_memset(const struct iovec *iov, unsigned cnt, size_t offset, int c, size_t len);

/*
 * Describe the byte range [offset, offset + len) of src as a new iovec array
 * in dst (at most dst_max elements), without copying data.  Returns the number
 * of elements written, or -1 when the range does not fit in src or dst.
 */
int iov_slice(const struct iovec *src, unsigned src_cnt, size_t offset, size_t len,
              struct iovec *dst, unsigned dst_max);

#endif
