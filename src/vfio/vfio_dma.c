/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process-wide DMA space: which ranges are mapped in the IOMMU, with
 * IOVA = virtual address.
 *
 * Two structures:
 *   - the records (g_recs, under g_lock): every range anyone asked for, mapped
 *     or not, so that ranges requested before the first device exists, or
 *     across a close of the last device, get mapped when the space comes up;
 *   - the translate table (g_x): the ranges mapped right now, sorted, read by
 *     the data path without a lock under a sequence counter.  Writers are
 *     rare (memory-table changes, device open/close) and bounded, so readers
 *     retrying on a concurrent write cost nothing in practice, and a reader
 *     never makes a writer wait.
 *
 * Memory accounting: the kernel charges every pinned page to the process's
 * RLIMIT_MEMLOCK (unless it has CAP_IPC_LOCK).  We count what we pin, raise
 * the soft limit to the hard one when needed, and say which limit to raise
 * when even that is not enough.  Our count can be lower than the kernel's
 * (other mlock()s of the process count too); an ENOMEM from the map ioctl
 * gets the same explanation.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/dma_registry.h"
#include "util/log.h"
#include "vfio/vfio_internal.h"

/* ---------------------------------------------------------- translate table */

struct xent {
    uintptr_t start, end; /* [start, end) */
};

static struct xent g_x[VFIO_XLATE_MAX];
static unsigned g_xn;   /* entries in use; read racily by readers, clamped */
static unsigned g_xseq; /* odd while a writer is changing g_x */
static pthread_mutex_t g_xlock = PTHREAD_MUTEX_INITIALIZER;

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif
#define LD(p)    __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

static void xwrite_begin(void)
{
    ST(g_xseq, LD(g_xseq) + 1);
    /* The odd count must be visible before any entry changes. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void xwrite_end(void)
{
    __atomic_store_n(&g_xseq, LD(g_xseq) + 1, __ATOMIC_RELEASE);
}

/* Index of the first entry with start > a (0..n); relaxed loads, may see garbage. */
static unsigned xupper(uintptr_t a, unsigned n)
{
    unsigned lo = 0, hi = n;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;

        if (LD(g_x[mid].start) <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int vfio_xlate_insert(uintptr_t start, uintptr_t end)
{
    unsigned n, i;

    if (end <= start)
        return -EINVAL;
    pthread_mutex_lock(&g_xlock);
    n = g_xn;
    i = xupper(start, n);
    /* Neighbours: the one before must end by start, the one after begin at end or later. */
    if ((i > 0 && g_x[i - 1].end > start) || (i < n && g_x[i].start < end)) {
        pthread_mutex_unlock(&g_xlock);
        return -EEXIST;
    }
    if (n == VFIO_XLATE_MAX) {
        pthread_mutex_unlock(&g_xlock);
        return -ENOSPC;
    }
    xwrite_begin();
    for (unsigned j = n; j > i; j--) {
        ST(g_x[j].start, g_x[j - 1].start);
        ST(g_x[j].end, g_x[j - 1].end);
    }
    ST(g_x[i].start, start);
    ST(g_x[i].end, end);
    ST(g_xn, n + 1);
    xwrite_end();
    pthread_mutex_unlock(&g_xlock);
    return 0;
}

int vfio_xlate_remove(uintptr_t start)
{
    unsigned n, i;

    pthread_mutex_lock(&g_xlock);
    n = g_xn;
    i = xupper(start, n);
    if (i == 0 || g_x[i - 1].start != start) {
        pthread_mutex_unlock(&g_xlock);
        return -ENOENT;
    }
    i--;
    xwrite_begin();
    for (unsigned j = i; j + 1 < n; j++) {
        ST(g_x[j].start, g_x[j + 1].start);
        ST(g_x[j].end, g_x[j + 1].end);
    }
    ST(g_xn, n - 1);
    xwrite_end();
    pthread_mutex_unlock(&g_xlock);
    return 0;
}

bool vfio_dma_translate(const void *vaddr, size_t len, uint64_t *iova)
{
    uintptr_t a = (uintptr_t)vaddr, last;
    bool hit;

    if (len == 0)
        len = 1; /* a zero-length buffer still has to point somewhere mapped */
    if (__builtin_add_overflow(a, len - 1, &last))
        return false;
    for (;;) {
        unsigned s = __atomic_load_n(&g_xseq, __ATOMIC_ACQUIRE);
        unsigned n, i;

        if (s & 1) {
            CPU_RELAX();
            continue;
        }
        n = LD(g_xn);
        if (n > VFIO_XLATE_MAX)
            n = VFIO_XLATE_MAX;
        i = xupper(a, n);
        hit = i > 0 && last < LD(g_x[i - 1].end);
        /* The reads above must complete before the re-check of the counter. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (LD(g_xseq) == s)
            break;
    }
    if (hit)
        *iova = a;
    return hit;
}

/* ------------------------------------------------------------ the records */

struct rec {
    uintptr_t start, end;
    bool mapped;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *g_recs;
static unsigned g_nrecs, g_caprecs;
static const struct vfio_space_ops *g_ops; /* NULL while the space is down */
static struct vfio_range g_ranges[VFIO_MAX_IOVA_RANGES];
static unsigned g_nranges;
static uint64_t g_pinned;

bool vfio_iova_in_ranges(const struct vfio_range *r, unsigned n, uint64_t iova, size_t len)
{
    uint64_t last;

    if (n == 0)
        return true;
    if (len == 0 || __builtin_add_overflow(iova, len - 1, &last))
        return false;
    for (unsigned i = 0; i < n; i++)
        if (iova >= r[i].start && last <= r[i].last)
            return true;
    return false;
}

int vfio_memlock_plan(uint64_t pinned, uint64_t add, uint64_t soft, uint64_t hard, bool exempt,
                      uint64_t *new_soft)
{
    uint64_t need;

    *new_soft = soft;
    if (exempt || soft == RLIM_INFINITY)
        return 0;
    if (__builtin_add_overflow(pinned, add, &need))
        need = UINT64_MAX;
    if (need <= soft)
        return 0;
    if (hard == RLIM_INFINITY || need <= hard) {
        *new_soft = hard; /* all we may have; saves raising it again for each region */
        return 0;
    }
    return -ENOMEM;
}

/* CAP_IPC_LOCK in the effective set: the kernel then does not charge pins. */
static bool have_ipc_lock(void)
{
    char line[256];
    unsigned long long caps = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            break;
    fclose(f);
    return caps & (1ULL << 14); /* CAP_IPC_LOCK */
}

static void memlock_advice(char *why, size_t n, uint64_t add, uint64_t limit)
{
    snprintf(why, n,
             "pinning %" PRIu64 " KiB more for DMA (%" PRIu64 " KiB pinned now) exceeds "
             "RLIMIT_MEMLOCK (%" PRIu64 " KiB): raise it, e.g. LimitMEMLOCK=infinity in the "
             "systemd unit or `ulimit -l unlimited` before starting the daemon",
             add >> 10, g_pinned >> 10, limit == RLIM_INFINITY ? UINT64_MAX >> 10 : limit >> 10);
}

/* Under g_lock with the space up: map r into the IOMMU.  *why explains a failure. */
static int map_rec(struct rec *r, char *why, size_t whylen)
{
    size_t len = r->end - r->start;
    struct rlimit rl;
    uint64_t soft;
    int rc;

    if (!vfio_iova_in_ranges(g_ranges, g_nranges, r->start, len)) {
        snprintf(why, whylen,
                 "IOVA %#" PRIxPTR "-%#" PRIxPTR " (IOVA = the virtual address) is outside the "
                 "IOMMU's usable IOVA ranges (first: %#" PRIx64 "-%#" PRIx64 ", %u in all): the "
                 "IOMMU must cover 48-bit user addresses (QEMU: -device intel-iommu,aw-bits=48)",
                 r->start, r->end - 1, g_ranges[0].start, g_ranges[0].last, g_nranges);
        return -ERANGE;
    }
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        if (vfio_memlock_plan(g_pinned, len, rl.rlim_cur, rl.rlim_max, have_ipc_lock(), &soft)) {
            memlock_advice(why, whylen, len, rl.rlim_max);
            return -ENOMEM;
        }
        if (soft != rl.rlim_cur) {
            rl.rlim_cur = soft;
            if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
                LOG_INFO("vfio: raised RLIMIT_MEMLOCK to %" PRIu64 " KiB for DMA", soft >> 10);
        }
    }
    rc = g_ops->map(r->start, (void *)r->start, len);
    if (rc == -ENOMEM) {
        memlock_advice(why, whylen, len, getrlimit(RLIMIT_MEMLOCK, &rl) ? 0 : rl.rlim_cur);
        return rc;
    }
    if (rc) {
        snprintf(why, whylen, "%s map of %#" PRIxPTR "+%zu: %s", g_ops->name, r->start, len,
                 strerror(-rc));
        return rc;
    }
    rc = vfio_xlate_insert(r->start, r->end);
    if (rc) {
        g_ops->unmap(r->start, len);
        snprintf(why, whylen, "more than %u DMA ranges", VFIO_XLATE_MAX);
        return rc;
    }
    g_pinned += len;
    r->mapped = true;
    return 0;
}

/* Under g_lock: undo map_rec.  The translate entry goes first: no new users. */
static void unmap_rec(struct rec *r)
{
    int rc;

    if (!r->mapped)
        return;
    vfio_xlate_remove(r->start);
    rc = g_ops->unmap(r->start, r->end - r->start);
    if (rc)
        LOG_WARN("vfio: %s unmap of %#" PRIxPTR "+%zu: %s", g_ops->name, r->start,
                 (size_t)(r->end - r->start), strerror(-rc));
    g_pinned -= r->end - r->start;
    r->mapped = false;
}

static int round_range(const void *vaddr, size_t len, uintptr_t *start, uintptr_t *end)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)vaddr, e;

    if (len == 0 || __builtin_add_overflow(a, len, &e) || e > UINTPTR_MAX - pg)
        return -EINVAL;
    *start = a & ~(pg - 1);
    *end = (e + pg - 1) & ~(pg - 1);
    return 0;
}

static int find_rec(uintptr_t start, uintptr_t end)
{
    for (unsigned i = 0; i < g_nrecs; i++)
        if (g_recs[i].start == start && g_recs[i].end == end)
            return (int)i;
    return -1;
}

/* Record and, with the space up, map.  0 or -errno with *why set. */
static int dma_map(void *vaddr, size_t len, char *why, size_t whylen)
{
    uintptr_t start, end;
    int rc = round_range(vaddr, len, &start, &end);

    if (rc) {
        snprintf(why, whylen, "empty or wrapping range");
        return rc;
    }
    pthread_mutex_lock(&g_lock);
    for (unsigned i = 0; i < g_nrecs; i++) {
        if (g_recs[i].start < end && start < g_recs[i].end) {
            pthread_mutex_unlock(&g_lock);
            snprintf(why, whylen, "overlaps %#" PRIxPTR "-%#" PRIxPTR " mapped before",
                     g_recs[i].start, g_recs[i].end);
            return -EEXIST;
        }
    }
    if (g_nrecs == g_caprecs) {
        unsigned cap = g_caprecs ? g_caprecs * 2 : 16;
        struct rec *n = realloc(g_recs, cap * sizeof(*n));

        if (!n) {
            pthread_mutex_unlock(&g_lock);
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        g_recs = n;
        g_caprecs = cap;
    }
    g_recs[g_nrecs] = (struct rec){ .start = start, .end = end };
    if (g_ops) {
        rc = map_rec(&g_recs[g_nrecs], why, whylen);
        if (rc) {
            pthread_mutex_unlock(&g_lock);
            return rc;
        }
    }
    g_nrecs++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int vfio_dma_map(void *vaddr, size_t len)
{
    char why[400];
    int rc = dma_map(vaddr, len, why, sizeof(why));

    if (rc)
        LOG_ERR("vfio: DMA map of %p+%zu: %s", vaddr, len, why);
    return rc;
}

int vfio_dma_unmap(void *vaddr, size_t len)
{
    uintptr_t start, end;
    int i;

    if (round_range(vaddr, len, &start, &end))
        return -EINVAL;
    pthread_mutex_lock(&g_lock);
    i = find_rec(start, end);
    if (i < 0) {
        pthread_mutex_unlock(&g_lock);
        return -ENOENT;
    }
    unmap_rec(&g_recs[i]);
    g_recs[i] = g_recs[--g_nrecs];
    pthread_mutex_unlock(&g_lock);
    return 0;
}

uint64_t vfio_dma_pinned_bytes(void)
{
    uint64_t n;

    pthread_mutex_lock(&g_lock);
    n = g_pinned;
    pthread_mutex_unlock(&g_lock);
    return n;
}

int vfio_dma_alloc(size_t len, void **vaddr, uint64_t *iova)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    void *p;
    int rc;

    if (len == 0 || len > SIZE_MAX - pg)
        return -EINVAL;
    len = (len + pg - 1) & ~(pg - 1);
    /* Anonymous memory is zeroed; MAP_POPULATE saves the IOMMU pin from faulting it in. */
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    /* A fork() must not give the child copy-on-write views of DMA pages. */
    madvise(p, len, MADV_DONTFORK);
    rc = vfio_dma_map(p, len);
    if (rc) {
        munmap(p, len);
        return rc;
    }
    *vaddr = p;
    *iova = (uintptr_t)p;
    return 0;
}

void vfio_dma_free(void *vaddr, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);

    if (!vaddr)
        return;
    len = (len + pg - 1) & ~(pg - 1);
    vfio_dma_unmap(vaddr, len);
    munmap(vaddr, len);
}

/* ------------------------------------------------------- space up and down */

void vfio_dma_space_up(const struct vfio_space_ops *ops, const struct vfio_range *r, unsigned n)
{
    char why[400];

    pthread_mutex_lock(&g_lock);
    g_ops = ops;
    g_nranges = n < VFIO_MAX_IOVA_RANGES ? n : VFIO_MAX_IOVA_RANGES;
    memcpy(g_ranges, r, g_nranges * sizeof(*r));
    for (unsigned i = 0; i < g_nrecs; i++)
        if (map_rec(&g_recs[i], why, sizeof(why)))
            LOG_WARN("vfio: DMA range %#" PRIxPTR "+%zu stays unmapped: %s", g_recs[i].start,
                     (size_t)(g_recs[i].end - g_recs[i].start), why);
    pthread_mutex_unlock(&g_lock);
}

void vfio_dma_space_down(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_ops)
        for (unsigned i = 0; i < g_nrecs; i++)
            unmap_rec(&g_recs[i]);
    g_ops = NULL;
    g_nranges = 0;
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------- the guest-memory listener */

/*
 * Guest memory that cannot be mapped is not fatal (the NVMe path copies
 * through a bounce buffer for it), but it must never be silent: one warning
 * per region, saying which and why.  The registry calls map once per region
 * per attach, so logging here is "once per region".
 */
static int lst_map(struct dma_listener *l, void *vaddr, size_t len)
{
    char why[400];
    int rc = dma_map(vaddr, len, why, sizeof(why));

    if (rc)
        LOG_WARN("vfio: guest memory region %p+%zu not mapped for DMA (requests touching it "
                 "are copied): %s",
                 vaddr, len, why);
    return rc;
}

static void lst_unmap(struct dma_listener *l, void *vaddr, size_t len)
{
    vfio_dma_unmap(vaddr, len);
}

static struct dma_listener g_listener = { .map = lst_map, .unmap = lst_unmap };
static bool g_attached;

void vfio_dma_listener_attach(void)
{
    if (!g_attached)
        dma_registry_add_listener(&g_listener);
    g_attached = true;
}

void vfio_dma_listener_detach(void)
{
    if (g_attached)
        dma_registry_remove_listener(&g_listener);
    g_attached = false;
}
