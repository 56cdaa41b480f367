/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vhost/vu_log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_eventfd.h"
#include "vhost/vu_fault.h"
#include "vhost/vu_msg.h"

void vu_log_init(struct vu_log *log)
{
    log->bitmap = NULL;
    log->size = 0;
    log->map_len = 0;
    log->call_fd = -1;
    atomic_init(&log->dropped, 0);
    atomic_init(&log->warned, false);
}

int vu_log_map(struct vu_log *log, int fd, uint64_t size, uint64_t offset,
               struct vu_fault_owner *owner)
{
    uint64_t fd_page;
    size_t map_len;
    void *base;
    int ret;

    if (fd < 0)
        return -EBADF;
    if (size == 0 || size > VU_LOG_MAX_SIZE)
        return -EINVAL;
    /* mmap wants an aligned offset, and off_t is signed. */
    fd_page = vu_fault_page_size(fd);
    if (offset % fd_page || offset > (uint64_t)INT64_MAX - size)
        return -EINVAL;
    ret = vu_mem_check_fd(fd, offset + size);
    if (ret < 0)
        return ret;
    base = vu_mem_map_guarded(fd, (size_t)size, (off_t)offset, owner, &map_len);
    if (base == MAP_FAILED)
        return -errno;
    vu_log_unmap(log);
    log->bitmap = base;
    log->size = size;
    log->map_len = map_len;
    atomic_store_explicit(&log->dropped, 0, memory_order_relaxed);
    atomic_store_explicit(&log->warned, false, memory_order_relaxed);
    return 0;
}

void vu_log_unmap(struct vu_log *log)
{
    uint64_t dropped = atomic_load_explicit(&log->dropped, memory_order_relaxed);

    if (!log->bitmap)
        return;
    if (dropped)
        LOG_WARN("dirty log: %llu page marks could not be made while this log was in use",
                 (unsigned long long)dropped);
    vu_mem_unmap_guarded(log->bitmap, log->map_len);
    log->bitmap = NULL;
    log->size = 0;
    log->map_len = 0;
}

bool vu_log_covers(const struct vu_log *log, uint64_t end)
{
    if (!log->bitmap)
        return false;
    /* Pages [0, size * 8): compare in pages, which cannot overflow (size <= 2^30). */
    return end == 0 || (end - 1) / VU_LOG_PAGE < log->size * 8;
}

/*
 * Called by whichever thread could not log a write.  The first one per log
 * says so (a migration that misses pages gives the guest stale memory on the
 * destination: an operator must hear of it); the count comes at unmap.
 */
static void dropped(struct vu_log *log, uint64_t gpa, uint64_t pages, const char *why)
{
    atomic_fetch_add_explicit(&log->dropped, pages, memory_order_relaxed);
    if (!atomic_exchange_explicit(&log->warned, true, memory_order_relaxed))
        LOG_WARN("dirty log: a write at guest address 0x%llx cannot be logged (%s; the log "
                 "covers guest addresses below 0x%llx); a migration now may leave the "
                 "destination with stale memory.  Reported once per log",
                 (unsigned long long)gpa, why, (unsigned long long)(log->size * 8 * VU_LOG_PAGE));
}

void vu_log_mark(struct vu_log *log, uint64_t gpa, uint64_t len)
{
    uint64_t first, last, limit;

    if (len == 0)
        return;
    if (gpa + len - 1 < gpa) {
        dropped(log, gpa, 1, "the range wraps around");
        return;
    }
    first = gpa / VU_LOG_PAGE;
    last = (gpa + len - 1) / VU_LOG_PAGE;
    limit = log->size * 8; /* pages with a bit */
    if (last >= limit) {
        dropped(log, first >= limit ? gpa : limit * VU_LOG_PAGE,
                last - (first > limit ? first : limit) + 1, "beyond the end of the log");
        if (first >= limit)
            return;
        last = limit - 1;
    }
    /*
     * Our writes to these pages must be visible before we look at their bits:
     * a bit found set may be the frontend's to clear next, and it copies the
     * page after clearing it.  One fence makes the plain load below safe, and
     * spares the locked OR on bits already set (the used ring's page, hit by
     * every completion).
     */
    atomic_thread_fence(memory_order_seq_cst);
    for (uint64_t p = first; p <= last;) {
        uint8_t *byte = &log->bitmap[p / 8];
        unsigned bit = (unsigned)(p % 8);
        uint64_t n = last - p + 1 < 8 - bit ? last - p + 1 : 8 - bit;
        uint8_t mask = (uint8_t)(((1u << n) - 1) << bit);

        if ((__atomic_load_n(byte, __ATOMIC_RELAXED) & mask) != mask)
            __atomic_fetch_or(byte, mask, __ATOMIC_RELAXED);
        p += n;
    }
}

void vu_log_mark_iov(struct vu_log *log, const struct vu_mem_table *mem, const struct iovec *iov,
                     unsigned cnt, uint64_t len)
{
    for (unsigned i = 0; i < cnt && len > 0; i++) {
        uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        uint64_t gpa;

        if (n == 0)
            continue;
        if (!mem || vu_mem_host_to_gpa(mem, iov[i].iov_base, n, &gpa) < 0)
            dropped(log, 0, (n + VU_LOG_PAGE - 1) / VU_LOG_PAGE,
                    "its buffer is not in guest memory any more");
        else
            vu_log_mark(log, gpa, n);
        len -= n;
    }
}

/* The end of guest-physical memory as the memory table describes it. */
static uint64_t mem_end(const struct vu_mem_table *t)
{
    uint64_t end = 0;

    for (unsigned i = 0; i < t->nregions; i++)
        if (t->regions[i].gpa + t->regions[i].size > end)
            end = t->regions[i].gpa + t->regions[i].size;
    return end;
}

int vu_log_set_base(struct vu_dev *dev, struct vu_msg *msg)
{
    const struct vu_log_msg *m = &msg->payload.log;
    int fd = msg->nfds ? msg->fds[0] : -1;
    int ret;

    /*
     * Without LOG_SHMFD the frontend means a log in its own address space
     * (the kernel vhost interface), which we cannot reach.
     */
    if (!(dev->protocol_features & (1ULL << VU_PROTOCOL_F_LOG_SHMFD))) {
        LOG_ERR("SET_LOG_BASE refused: only a shared-memory log (LOG_SHMFD) is supported");
        return -ENOTSUP;
    }
    ret = vu_log_map(&dev->log, fd, m->mmap_size, m->mmap_offset, &dev->fault);
    if (ret < 0) {
        /* The previous log, if any, stays: it still covers what it did. */
        LOG_ERR("SET_LOG_BASE (size %llu, offset %llu%s) refused: %s",
                (unsigned long long)m->mmap_size, (unsigned long long)m->mmap_offset,
                fd < 0 ? ", no fd" : "", ret == -EPERM ? "the fd is on FUSE" : strerror(-ret));
        return ret;
    }
    /*
     * Accepted even so: QEMU sends the memory table and the log in either
     * order (a log grows before the table does), so only a write can tell
     * that it fell outside; and a small log still records what it covers.
     */
    if (!vu_log_covers(&dev->log, mem_end(&dev->mem)))
        LOG_WARN("SET_LOG_BASE: the log (%llu bytes) does not cover guest memory up to 0x%llx; "
                 "writes beyond it will not be logged",
                 (unsigned long long)m->mmap_size, (unsigned long long)mem_end(&dev->mem));
    LOG_DEBUG("dirty log: %llu bytes at offset %llu", (unsigned long long)m->mmap_size,
              (unsigned long long)m->mmap_offset);
    return 0;
}

int vu_log_set_fd(struct vu_dev *dev, struct vu_msg *msg)
{
    int fd = msg->fds[0];
    int ret = vu_eventfd_adopt(fd);

    if (ret < 0) {
        LOG_WARN("SET_LOG_FD: %s; refused", ret == -EINVAL ? "not an eventfd" : strerror(-ret));
        return ret;
    }
    /*
     * Kept for the connection's life but never written: the frontend reads
     * the bitmap when it syncs, and QEMU does not send this message at all.
     */
    if (dev->log.call_fd >= 0)
        close(dev->log.call_fd);
    dev->log.call_fd = fd;
    msg->fds[0] = -1;
    return 0;
}

void vu_log_attach_vrings(struct vu_dev *dev)
{
    struct vu_log *log = vu_has_feature(dev, VHOST_F_LOG_ALL) && dev->log.bitmap ? &dev->log : NULL;

    for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
        dev->vrings[i].vq.log = log;
}

void vu_log_disconnect(struct vu_dev *dev)
{
    vu_log_unmap(&dev->log);
    if (dev->log.call_fd >= 0)
        close(dev->log.call_fd);
    dev->log.call_fd = -1;
    vu_log_attach_vrings(dev);
}
