/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/iov.h"

#include <string.h>

#include "util/copy_nt.h"

size_t iov_size(const struct iovec *iov, unsigned cnt)
{
    size_t total = 0;
    for (unsigned i = 0; i < cnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - total)
            return SIZE_MAX;
        total += iov[i].iov_len;
    }
    return total;
}

/* Walk the iovec, calling op on each piece of [offset, offset + len). */
static size_t iov_walk(const struct iovec *iov, unsigned cnt, size_t offset, size_t len,
                       void (*op)(void *iov_base, size_t done, size_t n, void *arg), void *arg)
{
    size_t done = 0;
    for (unsigned i = 0; i < cnt && done < len; i++) {
        size_t l = iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = l - offset;
        if (n > len - done)
            n = len - done;
        op((char *)iov[i].iov_base + offset, done, n, arg);
        done += n;
        offset = 0;
    }
    return done;
}

static void op_to_buf(void *base, size_t done, size_t n, void *arg)
{
    memcpy((char *)arg + done, base, n);
}

static void op_to_buf_nt(void *base, size_t done, size_t n, void *arg)
{
    copy_nt((char *)arg + done, base, n);
}

static void op_from_buf(void *base, size_t done, size_t n, void *arg)
{
    memcpy(base, (const char *)arg + done, n);
}

static void op_memset(void *base, size_t done, size_t n, void *arg)
{
    (void)done;
    memset(base, *(int *)arg, n);
}

size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t offset, void *buf, size_t len)
{
    return iov_walk(iov, cnt, offset, len, op_to_buf, buf);
}

size_t iov_to_buf_nt(const struct iovec *iov, unsigned cnt, size_t offset, void *buf, size_t len)
{
    return iov_walk(iov, cnt, offset, len, op_to_buf_nt, buf);
}

size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t offset, const void *buf,
                    size_t len)
{
    return iov_walk(iov, cnt, offset, len, op_from_buf, (void *)buf);
}

size_t iov_memset(const struct iovec *iov, unsigned cnt, size_t offset, int c, size_t len)
{
    return iov_walk(iov, cnt, offset, len, op_memset, &c);
}

int iov_slice(const struct iovec *src, unsigned src_cnt, size_t offset, size_t len,
              struct iovec *dst, unsigned dst_max)
{
    unsigned n = 0;
    size_t done = 0;

    for (unsigned i = 0; i < src_cnt && done < len; i++) {
        size_t l = src[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t take = l - offset;
        if (take > len - done)
            take = len - done;
        if (n == dst_max)
            return -1;
        dst[n].iov_base = (char *)src[i].iov_base + offset;
        dst[n].iov_len = take;
        n++;
        done += take;
        offset = 0;
    }
    return done == len ? (int)n : -1;
}
