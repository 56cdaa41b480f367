/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reference model of nvme_prp_build shared by its unit test and its
 * fuzzer: a map of guest regions (addresses are numbers, never
 * dereferenced) and the rules of nvme_prp.h written the slow and obvious
 * way.  Header-only.
 */
#ifndef VUS_TESTS_NVME_PRP_REF_H
#define VUS_TESTS_NVME_PRP_REF_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PRP_REF_REGIONS 4

struct prp_ref_region {
    uint64_t va, len, iova;
};

struct prp_ref_map {
    struct prp_ref_region r[PRP_REF_REGIONS];
    unsigned n;
};

/* The translate callback of nvme_prp_build over a prp_ref_map. */
static inline bool prp_ref_tr(void *opaque, const void *vaddr, size_t len, uint64_t *iova)
{
    const struct prp_ref_map *m = opaque;
    uint64_t v = (uint64_t)(uintptr_t)vaddr;

    for (unsigned i = 0; i < m->n; i++) {
        const struct prp_ref_region *r = &m->r[i];
        if (v >= r->va && v - r->va <= r->len && len <= r->len - (v - r->va)) {
            *iova = r->iova + (v - r->va);
            return true;
        }
    }
    return false;
}

/* Slots a list of d entries takes when it starts at list_iova (chain pointers included). */
static inline unsigned prp_ref_slots(unsigned d, uint64_t list_iova, uint64_t ps)
{
    unsigned s = 0;

    for (unsigned j = 0; j < d; j++) {
        if (s > 0 && ((list_iova + 8ull * s) % ps) == 0)
            s++;
        s++;
    }
    return s;
}

/*
 * The pages the PRPs must name, into pages[] (room for max), or the error
 * nvme_prp_build must return, checked in the order it checks them.
 */
static inline int prp_ref_walk(const struct iovec *iov, unsigned cnt, size_t len, uint64_t ps,
                               struct prp_ref_map *m, uint64_t list_iova, unsigned list_max,
                               uint64_t *pages, unsigned max, unsigned *np)
{
    unsigned __int128 total = 0;
    size_t left = len;
    unsigned n = 0;
    bool first = true;

    for (unsigned i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    if (total < len)
        return -EINVAL;
    for (unsigned i = 0; left > 0; i++) {
        size_t el = iov[i].iov_len < left ? iov[i].iov_len : left;
        uint64_t a;

        if (el == 0)
            continue;
        if (!prp_ref_tr(m, iov[i].iov_base, el, &a))
            return -EFAULT;
        if ((unsigned __int128)a + el > UINT64_MAX)
            return -EINVAL;
        if (first ? a % 4 : a % ps)
            return -EINVAL;
        left -= el;
        if (left && (a + el) % ps)
            return -EINVAL;
        for (uint64_t p = a; p < a + el; p = p / ps * ps + ps) {
            if (n == max)
                return -E2BIG;
            pages[n++] = p;
            if (n > 2 && prp_ref_slots(n - 1, list_iova, ps) > list_max)
                return -E2BIG;
        }
        first = false;
    }
    *np = n;
    return 0;
}

#endif
