/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

/*
 * Enough for many controllers: each maps at most 32 memory regions plus one
 * inflight region.
 */
#define VU_FAULT_SLOTS 2048

/*
 * A slot is read by the signal handler without a lock, so it is a seqlock:
 * seq is odd while a control thread rewrites the slot, and a reader that
 * sees seq change under it ignores what it read.
 */
struct fault_slot {
    atomic_uint seq;
    _Atomic uintptr_t base; /* 0: free */
    _Atomic size_t len;
    _Atomic size_t page;
    _Atomic(struct vu_fault_owner *) owner;
};

static struct fault_slot slots[VU_FAULT_SLOTS];
static struct sigaction previous;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void slot_write(struct fault_slot *s, uintptr_t base, size_t len, size_t page,
                       struct vu_fault_owner *owner)
{
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
    atomic_store_explicit(&s->len, len, memory_order_relaxed);
    atomic_store_explicit(&s->page, page, memory_order_relaxed);
    atomic_store_explicit(&s->owner, owner, memory_order_relaxed);
    atomic_store_explicit(&s->base, base, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

/* The registered mapping containing addr, copied out consistently; false if none. */
static bool slot_find(uintptr_t addr, uintptr_t *base, size_t *len, size_t *page,
                      struct vu_fault_owner **owner)
{
    for (unsigned i = 0; i < VU_FAULT_SLOTS; i++) {
        struct fault_slot *s = &slots[i];
        unsigned seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq & 1)
            continue;
        uintptr_t b = atomic_load_explicit(&s->base, memory_order_relaxed);
        size_t l = atomic_load_explicit(&s->len, memory_order_relaxed);
        size_t p = atomic_load_explicit(&s->page, memory_order_relaxed);
        struct vu_fault_owner *o = atomic_load_explicit(&s->owner, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
            continue;
        if (b && addr >= b && addr - b < l) {
            *base = b;
            *len = l;
            *page = p;
            *owner = o;
            return true;
        }
    }
    return false;
}

static void pass_on(int sig, siginfo_t *info, void *uctx)
{
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* Returning re-executes the access, which now faults with the default action. */
    signal(sig, SIG_DFL);
}

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)info->si_addr, base;
    size_t len, page;
    struct vu_fault_owner *owner;

    if (!slot_find(addr, &base, &len, &page, &owner)) {
        pass_on(sig, info, uctx);
        errno = saved_errno;
        return;
    }
    uintptr_t from = base + (addr - base) / page * page;
    void *p = mmap((void *)from, base + len - from, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
        /* Nothing left to recover with: die as we would have without this handler. */
        signal(sig, SIG_DFL);
        errno = saved_errno;
        return;
    }
    if (owner) {
        uintptr_t none = 0;
        atomic_compare_exchange_strong(&owner->addr, &none, addr);
        atomic_store_explicit(&owner->faulted, true, memory_order_release);
        if (owner->notify_fd >= 0) {
            uint64_t one = 1;
            ssize_t r = write(owner->notify_fd, &one, sizeof(one));
            (void)r;
        }
    }
    errno = saved_errno;
}

int vu_fault_init(void)
{
    struct sigaction sa, cur;
    int ret = 0;

    pthread_mutex_lock(&install_lock);
    /*
     * Installed once per process, but again if someone replaced it since
     * (test frameworks do): whatever was there is what a fault outside our
     * mappings goes to.
     */
    if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigbus)
        goto out;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) < 0)
        ret = -errno;
out:
    pthread_mutex_unlock(&install_lock);
    return ret;
}

void vu_fault_owner_init(struct vu_fault_owner *o)
{
    atomic_init(&o->faulted, false);
    atomic_init(&o->addr, 0);
    o->notify_fd = -1;
}

void vu_fault_owner_clear(struct vu_fault_owner *o)
{
    uint64_t v;

    if (o->notify_fd >= 0) {
        ssize_t r = read(o->notify_fd, &v, sizeof(v));
        (void)r;
    }
    atomic_store(&o->addr, 0);
    atomic_store(&o->faulted, false);
}

int vu_fault_register(void *base, size_t len, size_t page, struct vu_fault_owner *owner)
{
    for (unsigned i = 0; i < VU_FAULT_SLOTS; i++) {
        struct fault_slot *s = &slots[i];
        unsigned seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        /* Claim a free slot by making its sequence odd; several control threads may race. */
        if ((seq & 1) || atomic_load_explicit(&s->base, memory_order_relaxed))
            continue;
        if (!atomic_compare_exchange_strong(&s->seq, &seq, seq + 1))
            continue;
        if (atomic_load_explicit(&s->base, memory_order_relaxed)) {
            atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
            continue;
        }
        atomic_store_explicit(&s->len, len, memory_order_relaxed);
        atomic_store_explicit(&s->page, page ? page : 4096, memory_order_relaxed);
        atomic_store_explicit(&s->owner, owner, memory_order_relaxed);
        atomic_store_explicit(&s->base, (uintptr_t)base, memory_order_relaxed);
        atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
        return 0;
    }
    return -ENOSPC;
}

void vu_fault_unregister(void *base)
{
    for (unsigned i = 0; i < VU_FAULT_SLOTS; i++) {
        struct fault_slot *s = &slots[i];
        if (atomic_load_explicit(&s->base, memory_order_relaxed) != (uintptr_t)base || !base)
            continue;
        slot_write(s, 0, 0, 0, NULL);
        return;
    }
}

size_t vu_fault_page_size(int fd)
{
    long sys = sysconf(_SC_PAGESIZE);
    size_t page = sys > 0 ? (size_t)sys : 4096;
    struct statfs sfs;

    /* A hugetlbfs mapping can only be split at huge page boundaries; f_bsize is that size. */
    if (fstatfs(fd, &sfs) == 0 && (unsigned long)sfs.f_type == HUGETLBFS_MAGIC &&
        (size_t)sfs.f_bsize > page)
        page = (size_t)sfs.f_bsize;
    return page;
}
