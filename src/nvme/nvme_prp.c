/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PRP construction from guest iovecs (see nvme_prp.h). */
#include <errno.h>
#include <limits.h>

#include "nvme/nvme_prp.h"

static bool page_size_ok(size_t page_size)
{
    /* MPS is 4 bits above 4 KiB: 4 KiB .. 128 MiB, powers of two. */
    return page_size >= 4096 && page_size <= ((size_t)4096 << 15) &&
           (page_size & (page_size - 1)) == 0;
}

/* The list under construction: slots written so far and where they live. */
struct prp_list {
    uint64_t *list;
    unsigned max;
    unsigned used;
    uint64_t iova;
    uint64_t page_mask;
};

/*
 * Append one entry.  The last qword of a list page becomes a chain pointer
 * only when an entry follows it, which is not known when that slot is
 * filled: so the slot takes the entry, and is turned into a pointer (its
 * entry moving to the next page) when another one comes.
 */
static int list_put(struct prp_list *l, uint64_t entry)
{
    if (l->used > 0 && ((l->iova + 8 * (uint64_t)l->used) & l->page_mask) == 0) {
        if (l->used >= l->max)
            return -E2BIG;
        l->list[l->used] = l->list[l->used - 1];
        l->list[l->used - 1] = l->iova + 8 * (uint64_t)l->used;
        l->used++;
    }
    if (l->used >= l->max)
        return -E2BIG;
    l->list[l->used++] = entry;
    return 0;
}

int nvme_prp_build(const struct iovec *iov, unsigned iovcnt, size_t len, size_t page_size,
                   nvme_iova_fn tr, void *opaque, uint64_t *prp1, uint64_t *prp2, uint64_t *list,
                   uint64_t list_iova, unsigned list_max)
{
    const uint64_t mask = (uint64_t)page_size - 1;
    struct prp_list l = { list, list_max, 0, list_iova, 0 };
    uint64_t second = 0;
    size_t left = len, total = 0;
    unsigned n = 0; /* entries so far, PRP1 included */
    bool first = true;
    int rc;

    *prp1 = 0;
    *prp2 = 0;
    if (!page_size_ok(page_size) || (list_iova & 7))
        return -EINVAL;
    l.page_mask = mask;
    for (unsigned i = 0; i < iovcnt && total < len; i++) {
        size_t el = iov[i].iov_len;
        if (el > len - total)
            el = len - total;
        total += el;
    }
    if (total < len)
        return -EINVAL;

    for (unsigned i = 0; left > 0; i++) {
        size_t el = iov[i].iov_len < left ? iov[i].iov_len : left;
        uint64_t a, end, page;

        if (el == 0)
            continue;
        if (!tr(opaque, iov[i].iov_base, el, &a))
            return -EFAULT;
        if (a + el < a)
            return -EINVAL;
        end = a + el;
        if (first ? (a & 3) != 0 : (a & mask) != 0)
            return -EINVAL;
        left -= el;
        if (left > 0 && (end & mask) != 0)
            return -EINVAL;

        for (page = a; page < end; page = (page & ~mask) + page_size) {
            if (n == 0) {
                *prp1 = page;
            } else if (n == 1) {
                second = page;
            } else {
                if (n == 2 && (rc = list_put(&l, second)) != 0)
                    return rc;
                if ((rc = list_put(&l, page)) != 0)
                    return rc;
            }
            n++;
            if ((page & ~mask) + page_size < page) /* last page of the address space */
                break;
        }
        first = false;
    }
    if (n == 2)
        *prp2 = second;
    else if (n > 2)
        *prp2 = list_iova;
    return 0;
}

bool nvme_prp_expressible(const struct iovec *iov, unsigned iovcnt, size_t len, size_t page_size)
{
    const uintptr_t mask = page_size - 1;
    size_t left = len;
    bool first = true;

    if (!page_size_ok(page_size))
        return false;
    for (unsigned i = 0; i < iovcnt && left > 0; i++) {
        size_t el = iov[i].iov_len < left ? iov[i].iov_len : left;
        uintptr_t a = (uintptr_t)iov[i].iov_base;

        if (el == 0)
            continue;
        if (a + el < a)
            return false;
        if (first ? (a & 3) != 0 : (a & mask) != 0)
            return false;
        left -= el;
        if (left > 0 && ((a + el) & mask) != 0)
            return false;
        first = false;
    }
    return left == 0;
}

unsigned nvme_prp_list_entries(size_t off, size_t len, size_t page_size)
{
    size_t per_page = page_size / 8, pages, data;

    if (!page_size_ok(page_size) || len == 0)
        return 0;
    if (len > SIZE_MAX / 2)
        return UINT_MAX;
    off &= page_size - 1;
    pages = (off + len + page_size - 1) / page_size;
    if (pages <= 2)
        return 0;
    data = pages - 1;
    if (data <= per_page)
        return data > UINT_MAX ? UINT_MAX : (unsigned)data;
    /* Every list page but the last gives up one slot to the chain pointer. */
    data += (data - per_page + per_page - 2) / (per_page - 1);
    return data > UINT_MAX ? UINT_MAX : (unsigned)data;
}
