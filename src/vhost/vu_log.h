/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty-page logging for live migration (vhost-user.rst, "Migration";
 * VHOST_F_LOG_ALL with the LOG_SHMFD protocol feature).
 *
 * While a migration copies guest memory, the frontend must learn of every
 * page the daemon writes behind the guest's back: used rings, data-in
 * buffers, responses, sense data, event buffers.  It hands us a bitmap in
 * shared memory (SET_LOG_BASE), one bit per 4 KiB of guest-physical address
 * space, bit (gpa / 4096) % 8 of byte gpa / 32768; we set the bit of each
 * page after writing to it, with an atomic OR because the frontend reads and
 * clears the bitmap concurrently.
 *
 * Order, per completion: the data and the response are written, their pages
 * marked, the used element written and marked, used->idx stored (the guest
 * may now see the completion) and its page marked.  Marking a page before
 * writing it would be wrong: the frontend could fetch-and-clear the bit and
 * copy the page in between, and our write would never be sent.  Marking
 * buffers before publishing the used index means a completion the guest can
 * see always has its pages marked, so once GET_VRING_BASE has drained the
 * queues (every request completed, see vu_dev.h) the frontend's final sync
 * finds every page.
 *
 * The bitmap is the frontend's memory: it is validated like any other input
 * (size, offset, the fd holds it), mapped with a guard page and registered
 * with vu_fault, so a frontend that shrinks it drops its own connection
 * rather than the process.  A write beyond the bitmap's end (a bitmap too
 * small for guest memory, a used ring logged at a bad address) cannot be
 * logged: it is counted and reported once per log, never fatal.
 *
 * Threading: vu_log_mark* run on any thread that writes guest memory (workers,
 * the control thread) while a log is attached to their virtqueue; everything
 * else runs on the control thread, and replaces or unmaps a log only while
 * the workers are paused (SET_LOG_BASE is handled between pause and resume).
 */
#ifndef VUS_VHOST_VU_LOG_H
#define VUS_VHOST_VU_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vhost/vu_mem.h"

#define VU_LOG_PAGE 4096ull
/* 1 GiB of bitmap covers 32 TiB of guest-physical space; more is a broken frontend. */
#define VU_LOG_MAX_SIZE (1ull << 30)

struct vu_log {
    uint8_t *bitmap;          /* NULL: no log */
    uint64_t size;            /* bytes: pages [0, size * 8) can be marked */
    size_t map_len;           /* our mapping: bitmap rounded up to pages, plus a guard page */
    int call_fd;              /* SET_LOG_FD's eventfd (kept, never written; -1: none) */
    _Atomic uint64_t dropped; /* page marks that found no bit */
    atomic_bool warned;       /* the first one was reported */
};

struct vu_dev;
struct vu_msg;
struct vu_fault_owner;

/* No log, no fd. */
void vu_log_init(struct vu_log *log);

/*
 * Validate and map size bytes of fd from offset as the new bitmap, replacing
 * (and unmapping) the current one only on success.  Refused: size 0 or over
 * VU_LOG_MAX_SIZE, an offset not aligned to the fd's pages, a range that
 * overflows, an fd that does not hold offset + size bytes or lives on FUSE
 * (vu_mem_check_fd).  Returns 0 or -errno; the fd stays the caller's.
 */
int vu_log_map(struct vu_log *log, int fd, uint64_t size, uint64_t offset,
               struct vu_fault_owner *owner);

/* Unmap the bitmap (reporting how many marks were dropped); the call fd stays. */
void vu_log_unmap(struct vu_log *log);

/* Whether the bitmap has a bit for every page of [0, end). */
bool vu_log_covers(const struct vu_log *log, uint64_t end);

/* Mark the pages of guest-physical [gpa, gpa + len) dirty (after writing them). */
void vu_log_mark(struct vu_log *log, uint64_t gpa, uint64_t len);

/*
 * Mark the pages under the first len bytes of iov (host addresses inside
 * mem's regions, translated back to guest-physical ones).  A piece that is
 * not inside one region counts as dropped.
 */
void vu_log_mark_iov(struct vu_log *log, const struct vu_mem_table *mem, const struct iovec *iov,
                     unsigned cnt, uint64_t len);

/*
 * The vhost-user side, called by vu_dev.c on the control thread.
 * SET_LOG_BASE (workers paused): 0 or -errno; the caller replies with
 * LOG_SHMFD.  SET_LOG_FD: takes the fd when it is an eventfd.
 */
int vu_log_set_base(struct vu_dev *dev, struct vu_msg *msg);
int vu_log_set_fd(struct vu_dev *dev, struct vu_msg *msg);
/*
 * Point every vring at the log when VHOST_F_LOG_ALL is negotiated and a
 * bitmap is mapped, else at nothing (no cost on the data path).  After any
 * message that may change either, while the workers are paused.
 */
void vu_log_attach_vrings(struct vu_dev *dev);
/* The connection is gone: unmap, close the call fd. */
void vu_log_disconnect(struct vu_dev *dev);

#endif
