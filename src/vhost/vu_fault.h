/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Surviving a frontend that shrinks guest memory under us.
 *
 * Guest memory regions and the inflight region are files the frontend keeps
 * open.  It can ftruncate them after we mapped them, and the next access to
 * a page past the new end raises SIGBUS, which would kill the daemon and
 * every other VM it serves.  Sealing (F_SEAL_SHRINK) would prevent it, but
 * only for memfds: hugetlbfs and tmpfs files, which users share guest memory
 * through every day, cannot be sealed.
 *
 * So every mapping that a frontend's fd backs is registered here.  A SIGBUS
 * whose address lies inside one is repaired: the rest of that mapping, from
 * the faulting page on, is replaced by private zero pages (a shrink removes
 * everything past the new end), so the interrupted access and every later
 * one complete harmlessly.  The mapping's owner is flagged and its eventfd
 * written; its control thread then drops the connection.  Requests that
 * touched the lost pages saw zeroes; nothing outside that connection is
 * affected.  A SIGBUS anywhere else is a genuine fault: the default action
 * (core dump) runs.
 *
 * Threading: register/unregister run on control threads, only while no
 * thread can touch the mapping (workers paused).  The handler runs on
 * whichever thread faulted and uses only async-signal-safe calls.
 */
#ifndef VUS_VHOST_VU_FAULT_H
#define VUS_VHOST_VU_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One vhost-user connection's view of faults in the memory it mapped. */
struct vu_fault_owner {
    atomic_bool faulted;
    _Atomic uintptr_t addr; /* where the first fault hit, for the log */
    int notify_fd;          /* eventfd written on a fault; -1: none */
};

/* Install the SIGBUS handler (idempotent; the one before it gets faults not ours).  0 or -errno. */
int vu_fault_init(void);

/* notify_fd = -1, nothing faulted. */
void vu_fault_owner_init(struct vu_fault_owner *o);
/* Forget a fault once the connection that caused it is gone (drains notify_fd). */
void vu_fault_owner_clear(struct vu_fault_owner *o);
static inline bool vu_fault_owner_faulted(struct vu_fault_owner *o)
{
    return atomic_load_explicit(&o->faulted, memory_order_acquire);
}

/*
 * Register [base, base + len), mapped from a frontend's fd with pages of
 * page bytes (the fd's own page size: hugetlbfs mappings can only be
 * replaced in whole huge pages).  Returns 0, or -ENOSPC when the registry is
 * full (the caller refuses the mapping: an unregistered one would be fatal).
 */
int vu_fault_register(void *base, size_t len, size_t page, struct vu_fault_owner *owner);
/* Before munmap(base).  Unknown bases are ignored. */
void vu_fault_unregister(void *base);

/* The page size to register a mapping of fd with (st_blksize of hugetlbfs, else the system's). */
size_t vu_fault_page_size(int fd);

#endif
