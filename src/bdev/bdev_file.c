/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File backend: a regular file or a block device, with all data transfers
 * going through the submitting worker's io_uring.
 *
 * Per-request state lives in the caller's struct bdev_io (done, trim_*,
 * attempt, loop), so any number of workers can share one open file.  The
 * shared mutable state is a few one-way latches (atomics) and the discard
 * helper's queue (under its mutex).
 *
 * Block device discard is IORING_OP_URING_CMD / BLOCK_URING_CMD_DISCARD
 * (Linux 6.12).  Older kernels refuse that command; the bdev then latches
 * to a helper thread of its own that runs the BLKDISCARD ioctl and posts
 * each completion back to the submitting worker's loop, so no worker ever
 * waits for a discard.
 */
#include "bdev/bdev_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/iov.h"
#include "util/log.h"

#if defined(__has_include)
#if __has_include(<linux/blkdev.h>)
#include <linux/blkdev.h>
#endif
#endif
#ifndef BLOCK_URING_CMD_DISCARD
/* From Linux 6.12's uapi <linux/blkdev.h>, which older headers (Debian 12's) lack. */
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

/* Kernel returns EAGAIN/EINTR only in corner cases; retry a few times, not forever. */
#define FILE_MAX_RETRIES 8

/* Block device discards the kernel cannot take through io_uring, run one at a time. */
struct discard_helper {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct bdev_io *head, *tail; /* waiting discards, in submission order */
    pthread_t thread;
    bool running; /* thread started (lazily: new kernels never need it) */
    bool stop;
};

struct bdev_file {
    struct bdev bdev;
    int fd;
    /*
     * With direct=on, a second descriptor without O_DIRECT: virtio buffers
     * may start or end anywhere in guest memory, and O_DIRECT refuses those
     * with EINVAL.  The kernel keeps the page cache coherent with direct
     * I/O on the same file, so such requests simply take the cached path.
     * Equal to fd when direct=off.
     */
    int fd_buffered;
    uint32_t dio_mem_align;    /* buffer address and length alignment O_DIRECT needs */
    uint32_t dio_offset_align; /* file offset alignment O_DIRECT needs */
    bool is_blkdev;
    atomic_bool no_zero_range;    /* filesystem refused FALLOC_FL_ZERO_RANGE once: punch instead */
    atomic_bool uring_discard_ok; /* the kernel has done a discard through io_uring */
    atomic_bool discard_helper;   /* ...or refused one: discard on the helper from now on */
    struct discard_helper helper;
};

static struct bdev_file *to_file(struct bdev *bdev)
{
    return (struct bdev_file *)((char *)bdev - offsetof(struct bdev_file, bdev));
}

static struct bdev_io *op_to_io(struct io_loop_op *op)
{
    return (struct bdev_io *)((char *)op - offsetof(struct bdev_io, op));
}

static void file_untrim(struct bdev_io *io)
{
    if (io->trimmed) {
        io->iov[io->trim_idx] = io->trim_saved;
        io->trimmed = false;
    }
}

static void file_finish(struct bdev_io *io, int res)
{
    struct bdev_file *f = to_file(io->bdev);

    file_untrim(io);
    /* A descriptor opened O_RDONLY answers writes with EBADF; the guest should see "protected". */
    if (res == -EBADF && f->bdev.readonly)
        res = -EROFS;
    io->cb(io, res > 0 ? 0 : res);
}

static bool file_aligned(const struct bdev_file *f, uint64_t offset, const struct iovec *iov,
                         unsigned cnt)
{
    if (offset % f->dio_offset_align)
        return false;
    for (unsigned i = 0; i < cnt; i++) {
        if ((uintptr_t)iov[i].iov_base % f->dio_mem_align || iov[i].iov_len % f->dio_mem_align)
            return false;
    }
    return true;
}

/*
 * Queue the part of a READ/WRITE not yet transferred.  The iovec is the
 * caller's; to resume inside an element without a private copy of the whole
 * vector, that one element is trimmed in place and restored on completion.
 */
static int file_queue_rw(struct bdev_file *f, struct bdev_io *io)
{
    uint64_t skip = io->done;
    unsigned i = 0;
    struct io_uring_sqe *sqe;
    struct iovec *iov;
    unsigned cnt;
    int fd;

    while (i < io->iovcnt && skip >= io->iov[i].iov_len) {
        skip -= io->iov[i].iov_len;
        i++;
    }
    if (i == io->iovcnt)
        return -EIO; /* cannot happen: bdev_io_check matched the vector to len */
    if (skip) {
        io->trim_idx = i;
        io->trim_saved = io->iov[i];
        io->iov[i].iov_base = (char *)io->iov[i].iov_base + skip;
        io->iov[i].iov_len -= skip;
        io->trimmed = true;
    }
    iov = io->iov + i;
    cnt = io->iovcnt - i;
    fd = f->fd;
    if (fd != f->fd_buffered && !file_aligned(f, io->offset + io->done, iov, cnt))
        fd = f->fd_buffered;

    sqe = io_loop_get_sqe(io->loop, &io->op);
    if (!sqe) {
        file_untrim(io);
        return -EAGAIN;
    }
    if (io->type == BDEV_IO_READ)
        io_uring_prep_readv(sqe, fd, iov, cnt, io->offset + io->done);
    else
        io_uring_prep_writev2(sqe, fd, iov, cnt, io->offset + io->done, io->fua ? RWF_DSYNC : 0);
    return 0;
}

static int file_queue_fallocate(struct bdev_file *f, struct bdev_io *io, int mode)
{
    struct io_uring_sqe *sqe = io_loop_get_sqe(io->loop, &io->op);

    if (!sqe)
        return -EAGAIN;
    io_uring_prep_fallocate(sqe, f->fd, mode, (off_t)io->offset, (off_t)io->len);
    return 0;
}

static int zero_mode(struct bdev_file *f)
{
    if (!f->is_blkdev && atomic_load_explicit(&f->no_zero_range, memory_order_relaxed))
        return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

/* EAGAIN/EINTR: worth another go (the callers say -ECANCELED instead after bdev_cancel). */
static bool file_retry(struct bdev_io *io, int res)
{
    return (res == -EAGAIN || res == -EINTR) && io->attempt < FILE_MAX_RETRIES;
}

static void file_rw_done(struct bdev_file *f, struct bdev_io *io, int res)
{
    int ret;

    if (file_retry(io, res)) {
        if (io->cancelled) {
            file_finish(io, -ECANCELED);
            return;
        }
        io->attempt++;
        res = 0;
    } else if (res < 0) {
        file_finish(io, res);
        return;
    } else if (res == 0) {
        if (io->type == BDEV_IO_WRITE) {
            file_finish(io, -EIO);
            return;
        }
        /* End of a regular file that shrank under us: the rest reads as zeroes. */
        iov_memset(io->iov, io->iovcnt, io->done, 0, io->len - io->done);
        file_finish(io, 0);
        return;
    }
    io->done += (uint64_t)res;
    if (io->done >= io->len) {
        file_finish(io, 0);
        return;
    }
    /* Part of the data moved: the initiator gets no partial success, only "aborted". */
    if (io->cancelled) {
        file_finish(io, -ECANCELED);
        return;
    }
    ret = file_queue_rw(f, io);
    if (ret)
        file_finish(io, ret);
}

static void *helper_main(void *arg)
{
    struct bdev_file *f = arg;
    struct discard_helper *h = &f->helper;

    pthread_mutex_lock(&h->lock);
    for (;;) {
        struct bdev_io *io = h->head;
        struct io_loop *loop;
        uint64_t range[2];
        int res = 0;

        if (!io) {
            if (h->stop)
                break;
            pthread_cond_wait(&h->cond, &h->lock);
            continue;
        }
        h->head = io->offload_next;
        if (!h->head)
            h->tail = NULL;
        range[0] = io->offset;
        range[1] = io->len;
        loop = io->loop;
        pthread_mutex_unlock(&h->lock);

        /* The one blocking call this helper exists for. */
        if (ioctl(f->fd, BLKDISCARD, range) < 0)
            res = -errno;
        io_loop_post(loop, &io->op, res);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Worker thread: the helper finished (or dropped) a discard. */
static void helper_done(struct io_loop_op *op, int res)
{
    struct bdev_io *io = op_to_io(op);

    io->offloaded = false;
    file_finish(io, res);
}

/* Called with h->lock held.  Signals are for the control thread, as on workers. */
static int helper_start(struct bdev_file *f)
{
    sigset_t all, old;
    int ret;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    ret = pthread_create(&f->helper.thread, NULL, helper_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret)
        return -ret;
    f->helper.running = true;
    return 0;
}

/* Hand a block device discard to the helper thread; its completion comes back by post. */
static int helper_submit(struct bdev_file *f, struct bdev_io *io)
{
    struct discard_helper *h = &f->helper;
    int ret = 0;

    pthread_mutex_lock(&h->lock);
    if (!h->running)
        ret = helper_start(f);
    if (ret == 0) {
        /* Announced before the helper can see it, so it cannot be posted unannounced. */
        io_loop_expect_post(io->loop);
        io->op.cb = helper_done;
        io->offloaded = true;
        io->offload_next = NULL;
        if (h->tail)
            h->tail->offload_next = io;
        else
            h->head = io;
        h->tail = io;
        pthread_cond_signal(&h->cond);
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

static void helper_stop(struct bdev_file *f)
{
    struct discard_helper *h = &f->helper;

    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->running)
        pthread_join(h->thread, NULL);
    h->running = false;
}

/*
 * A discard still waiting for the helper is taken off its queue and
 * completed through the loop (never inline: cb must run later).  One in the
 * ioctl cannot be interrupted; one already posted is as good as done.
 */
static int helper_cancel(struct bdev_file *f, struct bdev_io *io)
{
    struct discard_helper *h = &f->helper;
    struct bdev_io *prev = NULL, *it;

    pthread_mutex_lock(&h->lock);
    for (it = h->head; it && it != io; it = it->offload_next)
        prev = it;
    if (it) {
        if (prev)
            prev->offload_next = io->offload_next;
        else
            h->head = io->offload_next;
        if (h->tail == io)
            h->tail = prev;
    }
    pthread_mutex_unlock(&h->lock);
    if (!it)
        return -EALREADY;
    /* Already announced by helper_submit. */
    io_loop_post(io->loop, &io->op, -ECANCELED);
    return 0;
}

static int file_queue_blkdiscard(struct bdev_file *f, struct bdev_io *io)
{
    struct io_uring_sqe *sqe;

    if (atomic_load_explicit(&f->discard_helper, memory_order_relaxed))
        return helper_submit(f, io);
    sqe = io_loop_get_sqe(io->loop, &io->op);
    if (!sqe)
        return -EAGAIN;
    /* liburing 2.3 has no prep helper; the kernel refuses the command if unused fields are set. */
    memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = f->fd;
    sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
    sqe->addr = io->offset;
    sqe->addr3 = io->len;
    io_uring_sqe_set_data(sqe, &io->op);
    return 0;
}

static void file_blkdiscard_done(struct bdev_file *f, struct bdev_io *io, int res)
{
    int ret;

    if (res == 0) {
        atomic_store_explicit(&f->uring_discard_ok, true, memory_order_relaxed);
        file_finish(io, 0);
        return;
    }
    /*
     * Before 6.12 a block device has no uring_cmd handler (EOPNOTSUPP);
     * before 5.19 the opcode itself is unknown (EINVAL).  Once the kernel
     * has done one discard this way, these errors are about the request (a
     * device that shrank, or lost discard support) and go to the initiator.
     */
    if ((res == -EOPNOTSUPP || res == -EINVAL) &&
        !atomic_load_explicit(&f->uring_discard_ok, memory_order_relaxed)) {
        /* What we learnt about the kernel holds even for a cancelled request. */
        if (!atomic_exchange_explicit(&f->discard_helper, true, memory_order_relaxed))
            LOG_INFO(
                "%s: the kernel refused an io_uring discard (%s): discarding on a helper thread",
                f->bdev.desc, strerror(-res));
        ret = io->cancelled ? -ECANCELED : helper_submit(f, io);
        if (ret)
            file_finish(io, ret);
        return;
    }
    if (file_retry(io, res)) {
        if (io->cancelled) {
            file_finish(io, -ECANCELED);
            return;
        }
        io->attempt++;
        ret = file_queue_blkdiscard(f, io);
        if (ret)
            file_finish(io, ret);
        return;
    }
    file_finish(io, res);
}

static void file_complete(struct io_loop_op *op, int res)
{
    struct bdev_io *io = op_to_io(op);
    struct bdev_file *f = to_file(io->bdev);
    int ret;

    file_untrim(io);
    switch (io->type) {
    case BDEV_IO_READ:
    case BDEV_IO_WRITE:
        file_rw_done(f, io, res);
        return;
    case BDEV_IO_WRITE_ZEROES:
        /* tmpfs and some other filesystems can punch but not zero a range. */
        if (res == -EOPNOTSUPP && !f->is_blkdev && io->attempt == 0 && f->bdev.can_discard) {
            atomic_store_explicit(&f->no_zero_range, true, memory_order_relaxed);
            if (io->cancelled) {
                file_finish(io, -ECANCELED);
                return;
            }
            io->attempt = 1;
            ret = file_queue_fallocate(f, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
            if (ret)
                file_finish(io, ret);
            return;
        }
        file_finish(io, res);
        return;
    case BDEV_IO_DISCARD:
        if (f->is_blkdev) {
            file_blkdiscard_done(f, io, res);
            return;
        }
        file_finish(io, res);
        return;
    case BDEV_IO_FLUSH:
        file_finish(io, res);
        return;
    case BDEV_IO_VERIFY:
        break; /* never queued: can_verify is false */
    }
    file_finish(io, -EIO);
}

static int file_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    struct bdev_file *f = to_file(bdev);
    struct io_uring_sqe *sqe;
    int ret = bdev_io_check(bdev, io);

    if (ret)
        return ret;
    if (!loop)
        return -EINVAL;
    io->loop = loop;
    io->done = 0;
    io->trimmed = false;
    io->attempt = 0;
    io->offloaded = false;
    io->op.cb = file_complete;

    if (io->len == 0 && io->type != BDEV_IO_FLUSH) {
        io->cb(io, 0);
        return 0;
    }
    switch (io->type) {
    case BDEV_IO_READ:
    case BDEV_IO_WRITE:
        return file_queue_rw(f, io);
    case BDEV_IO_FLUSH:
        sqe = io_loop_get_sqe(loop, &io->op);
        if (!sqe)
            return -EAGAIN;
        /* On a block device this also flushes the device's volatile write cache. */
        io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
        return 0;
    case BDEV_IO_DISCARD:
        if (f->is_blkdev)
            return file_queue_blkdiscard(f, io);
        return file_queue_fallocate(f, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
    case BDEV_IO_WRITE_ZEROES:
        /*
         * On a block device, fallocate(ZERO_RANGE) is BLKZEROOUT (write-zeroes
         * command, or zero pages written by the kernel) but asynchronous.
         */
        return file_queue_fallocate(f, io, zero_mode(f));
    case BDEV_IO_VERIFY:
        break; /* not offered: bdev_io_check refused it */
    }
    return -EINVAL;
}

/*
 * The op is in the ring (queued or in the kernel): ASYNC_CANCEL, queued
 * behind it, so the kernel sees the op first.  Whatever happens, the op
 * gets exactly one CQE: -ECANCELED if it had not started, its own result
 * if it ran (an interrupted one may say EINTR).  The cancel's own answer
 * (0, ENOENT, EALREADY) tells nothing the op's CQE does not.  The flag
 * keeps the completion path from starting anything new for this io, so
 * even a cancel that comes too late for the kernel still ends it.
 */
static int file_cancel(struct bdev *bdev, struct bdev_io *io)
{
    struct io_uring_sqe *sqe;

    io->cancelled = true;
    if (io->offloaded)
        return helper_cancel(to_file(bdev), io);
    /* The cancel's own completion needs no callback. */
    sqe = io_loop_get_sqe(io->loop, NULL);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_cancel(sqe, &io->op, 0);
    return 0;
}

static void file_close(struct bdev *bdev)
{
    struct bdev_file *f = to_file(bdev);

    /* No request is in flight by now (workers have stopped), so the helper's queue is empty. */
    helper_stop(f);
    pthread_mutex_destroy(&f->helper.lock);
    pthread_cond_destroy(&f->helper.cond);
    if (f->fd_buffered != f->fd)
        close(f->fd_buffered);
    close(f->fd);
    free(f);
}

static int file_current_size(struct bdev *bdev, uint64_t *bytes)
{
    struct bdev_file *f = to_file(bdev);
    struct stat st;
    uint64_t size;

    if (fstat(f->fd, &st) < 0)
        return -errno;
    if (f->is_blkdev) {
        if (ioctl(f->fd, BLKGETSIZE64, &size) < 0)
            return -errno;
    } else {
        size = (uint64_t)st.st_size;
    }
    *bytes = size - size % bdev->block_size;
    return 0;
}

/* Regular files only: a block device's size is its administrator's (lvextend), then re-read. */
static int file_resize(struct bdev *bdev, uint64_t bytes)
{
    struct bdev_file *f = to_file(bdev);

    if (f->is_blkdev)
        return -ENOTSUP;
    if (bytes > INT64_MAX)
        return -EINVAL;
    return ftruncate(f->fd, (off_t)bytes) < 0 ? -errno : 0;
}

static int file_lba_status(struct bdev *bdev, uint64_t offset, uint64_t *len, bool *mapped)
{
    return bdev_seek_lba_status(to_file(bdev)->fd, offset, len, mapped);
}

static const struct bdev_ops file_ops = {
    .name = "file",
    .submit = file_submit,
    .close = file_close,
    .cancel = file_cancel,
    .current_size = file_current_size,
    .resize = file_resize,
    .lba_status = file_lba_status,
};

static bool blkdev_can_discard(const struct stat *st)
{
    char path[64];
    unsigned long long max = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/discard_max_bytes", major(st->st_rdev),
             minor(st->st_rdev));
    fp = fopen(path, "re");
    if (!fp)
        return false;
    if (fscanf(fp, "%llu", &max) != 1)
        max = 0;
    fclose(fp);
    return max > 0;
}

/* A write smaller than a file system block, or a page in the page cache, reads the rest first. */
static uint32_t file_phys_block_size(const struct stat *st)
{
    uint64_t b = st->st_blksize > 0 ? (uint64_t)st->st_blksize : 0;
    long page = sysconf(_SC_PAGESIZE);

    return (uint32_t)(page > 0 && b > (uint64_t)page ? (uint64_t)page : b);
}

/*
 * Punch a hole past the end of the file: it deallocates nothing the guest
 * can see, but fails with EOPNOTSUPP exactly when the filesystem cannot
 * punch.  Other failures leave us guessing from the filesystem type.
 */
static bool file_can_punch(int fd, const struct stat *st, uint32_t block_size)
{
    uint64_t end = ((uint64_t)st->st_size + block_size - 1) / block_size * block_size;
    struct statfs sfs;

    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)end, block_size) == 0)
        return true;
    if (errno == EOPNOTSUPP)
        return false;
    if (fstatfs(fd, &sfs) < 0)
        return false;
    switch ((unsigned long)sfs.f_type) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case BTRFS_SUPER_MAGIC:
        return true;
    default:
        return false;
    }
}

static void file_dio_align(struct bdev_file *f, uint32_t lbs)
{
    /* Without better knowledge, a page is aligned enough for any device we meet. */
    f->dio_mem_align = 4096;
    f->dio_offset_align = 4096;
    if (f->is_blkdev) {
        f->dio_mem_align = lbs;
        f->dio_offset_align = lbs;
        return;
    }
#ifdef STATX_DIOALIGN
    struct statx stx;
    if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align != 0) {
        f->dio_mem_align = stx.stx_dio_mem_align ? stx.stx_dio_mem_align : 1;
        f->dio_offset_align = stx.stx_dio_offset_align;
    }
#endif
}

/* Everything after open(2): size, limits and capabilities.  Returns 0 or -errno. */
static int file_probe(struct bdev_file *f, const struct bdev_config *cfg, char *err, size_t errlen)
{
    struct stat st;
    uint64_t size;
    uint32_t lbs = 512;

    if (fstat(f->fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot stat %s: %s", cfg->path, strerror(e));
        return -e;
    }
    if (S_ISBLK(st.st_mode)) {
        int ssz = 0;
        unsigned int opt = 0;
        f->is_blkdev = true;
        if (ioctl(f->fd, BLKGETSIZE64, &size) < 0 || ioctl(f->fd, BLKSSZGET, &ssz) < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot get the size of %s: %s", cfg->path, strerror(e));
            return -e;
        }
        if (ssz > 0)
            lbs = (uint32_t)ssz;
        if (cfg->block_size < lbs) {
            snprintf(err, errlen,
                     "cannot use %s: block size %u is smaller than its logical block size %u",
                     cfg->path, (unsigned)cfg->block_size, (unsigned)lbs);
            return -EINVAL;
        }
        if (ioctl(f->fd, BLKIOOPT, &opt) == 0)
            f->bdev.optimal_io_blocks = opt / cfg->block_size;
        if (ioctl(f->fd, BLKPBSZGET, &opt) == 0)
            f->bdev.phys_block_size = opt;
        f->bdev.can_discard = !cfg->readonly && blkdev_can_discard(&st);
        /* Discard on a block device may leave old data readable. */
        f->bdev.discard_zeroes = false;
        f->bdev.can_write_zeroes = !cfg->readonly;
    } else if (S_ISREG(st.st_mode)) {
        size = (uint64_t)st.st_size;
        if (st.st_blksize > 0)
            f->bdev.optimal_io_blocks = (uint32_t)((uint64_t)st.st_blksize / cfg->block_size);
        f->bdev.phys_block_size = file_phys_block_size(&st);
        f->bdev.can_discard = !cfg->readonly && file_can_punch(f->fd, &st, cfg->block_size);
        /* A punched hole in a file always reads back as zeroes. */
        f->bdev.discard_zeroes = true;
        /* ZERO_RANGE, or punching when the filesystem lacks it. */
        f->bdev.can_write_zeroes = f->bdev.can_discard;
    } else {
        snprintf(err, errlen, "cannot use %s: not a regular file or block device", cfg->path);
        return -EINVAL;
    }

    size -= size % cfg->block_size;
    if (size == 0) {
        snprintf(err, errlen, "cannot use %s: smaller than one %u-byte block", cfg->path,
                 (unsigned)cfg->block_size);
        return -EINVAL;
    }
    f->bdev.size = size;
    if (cfg->direct)
        file_dio_align(f, lbs);
    return 0;
}

int bdev_file_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    int flags = (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    struct bdev_file *f;
    int ret;

    f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", cfg->path, strerror(ENOMEM));
        return -ENOMEM;
    }
    f->fd = open(cfg->path, flags | (cfg->direct ? O_DIRECT : 0));
    if (f->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s%s: %s", cfg->path,
                 cfg->direct && e == EINVAL ? " with direct=on" : "", strerror(e));
        free(f);
        return -e;
    }
    f->fd_buffered = f->fd;
    f->bdev.ops = &file_ops;
    f->bdev.block_size = cfg->block_size;
    f->bdev.readonly = cfg->readonly;
    /* The page cache, or the device's own cache behind O_DIRECT. */
    f->bdev.volatile_cache = true;
    atomic_init(&f->no_zero_range, false);
    atomic_init(&f->uring_discard_ok, false);
    atomic_init(&f->discard_helper, false);

    ret = file_probe(f, cfg, err, errlen);
    if (ret)
        goto fail;
    if (cfg->direct) {
        f->fd_buffered = open(cfg->path, flags);
        if (f->fd_buffered < 0) {
            ret = -errno;
            snprintf(err, errlen, "cannot open %s: %s", cfg->path, strerror(-ret));
            f->fd_buffered = f->fd;
            goto fail;
        }
    }
    snprintf(f->bdev.desc, sizeof(f->bdev.desc), "file %s", cfg->path);
    pthread_mutex_init(&f->helper.lock, NULL);
    pthread_cond_init(&f->helper.cond, NULL);
    *out = &f->bdev;
    return 0;

fail:
    close(f->fd);
    free(f);
    return ret;
}

void bdev_file_force_discard_helper(struct bdev *bdev)
{
    if (bdev->ops == &file_ops)
        atomic_store(&to_file(bdev)->discard_helper, true);
}

bool bdev_file_discard_on_helper(const struct bdev *bdev)
{
    if (bdev->ops != &file_ops)
        return false;
    return atomic_load(
        &((const struct bdev_file *)((const char *)bdev - offsetof(struct bdev_file, bdev)))
             ->discard_helper);
}
