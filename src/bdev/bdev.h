/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block backends.  A backend is a table of operations (struct bdev_ops) and a
 * struct bdev that it embeds in its own state.  The SCSI layer sees only this
 * header: it turns CDBs into byte-addressed struct bdev_io requests.
 *
 * Threading: bdev_open/bdev_close run on the main thread before workers start
 * or after they stopped.  submit() runs on a worker thread, with that
 * worker's io_loop; the completion callback runs on the same worker.  Several
 * workers may submit to the same bdev concurrently: backends keep no
 * per-request state outside the bdev_io.  A backend may finish work on a
 * thread of its own (a blocking syscall, a library's callback thread); it
 * then hands the completion back with io_loop_post(), so cb still runs on
 * the submitting worker.  The worker never blocks in a syscall for a request.
 */
#ifndef VUS_BDEV_BDEV_H
#define VUS_BDEV_BDEV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "io/io_loop.h"

enum bdev_io_type {
    BDEV_IO_READ,
    BDEV_IO_WRITE,
    BDEV_IO_FLUSH,        /* make all completed writes durable */
    BDEV_IO_DISCARD,      /* deallocate; reads may then return zeroes or old data */
    BDEV_IO_WRITE_ZEROES, /* reads of the range return zeroes afterwards */
    BDEV_IO_VERIFY,       /* check that the range reads back without error; no data moves */
};

struct bdev_io;
/*
 * result: 0 on success, or a negative errno (mapped to sense data by the SCSI
 * layer).  A backend that knows better than an errno (a device that reported
 * its own error) sets io->sense and completes with -EREMOTEIO.
 */
typedef void (*bdev_io_cb)(struct bdev_io *io, int result);

/*
 * One request.  Owned by the caller (embedded in its per-slot context) and
 * untouched by the caller until cb runs.  offset and len are in bytes and are
 * multiples of the bdev's block size; the SCSI layer has range-checked them.
 */
struct bdev_io {
    enum bdev_io_type type;
    uint64_t offset;
    uint64_t len;
    struct iovec *iov; /* READ/WRITE: exactly len bytes in guest memory */
    unsigned iovcnt;   /* <= BDEV_MAX_IOV */
    bool fua;          /* WRITE: durable before cb runs */
    bdev_io_cb cb;
    /* Set by the backend with -EREMOTEIO: BDEV_SENSE(key, asc, ascq); 0 otherwise. */
    uint32_t sense;
    /* Backend private: */
    struct io_loop_op op;
    struct bdev *bdev;
    struct io_loop *loop;    /* the submitting worker's loop, for resubmissions */
    uint64_t done;           /* bytes transferred so far; a short transfer resumes here */
    unsigned trim_idx;       /* iov element trimmed in place for a resubmission... */
    struct iovec trim_saved; /* ...and its original value, restored before cb runs */
    bool trimmed;            /* trim_idx/trim_saved are live */
    uint8_t attempt;         /* retries or fallbacks taken (EAGAIN, no ZERO_RANGE) */
    bool cancelled;          /* bdev_cancel asked: no retry, fallback or resubmission */
    bool offloaded;          /* with a backend thread, which completes it via io_loop_post */
    struct bdev_io
        *offload_next; /* that thread's queue, under its lock; or the backend's wait list */
    uint32_t chunk;    /* bytes of the piece in flight, for backends that split */
    void *backend_ctx; /* the backend's handle on the piece in flight (nvme: the command) */
    uint64_t
        deadline_ns; /* held by a backend whose store is unreachable: fail it then (monotonic) */
};

#define BDEV_SENSE(key, asc, ascq) ((uint32_t)(key) << 16 | (uint32_t)(asc) << 8 | (uint32_t)(ascq))

#define BDEV_MAX_IOV 1024 /* IOV_MAX: the longest vector a single readv/writev takes */

struct bdev;

struct bdev_ops {
    const char *name;
    /*
     * Start the request.  Returns 0 when accepted: cb will then run exactly
     * once, possibly before submit returns (synchronous backends such as ram
     * complete inline).  Returns -errno when not accepted; cb does not run.
     */
    int (*submit)(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io);
    void (*close)(struct bdev *bdev);
    /* Optional; see bdev_cancel().  NULL: the backend never has anything in flight. */
    int (*cancel)(struct bdev *bdev, struct bdev_io *io);
    /*
     * Optional: the size the backing store has now, in whole blocks (a file
     * or volume resized by its administrator).  Does not change bdev->size;
     * the caller applies it while no worker runs.  Control thread.  0 or
     * -errno.  NULL: the size never changes (ram, null).
     */
    int (*current_size)(struct bdev *bdev, uint64_t *bytes);
    /*
     * Optional: make the backing store bytes long (a multiple of the block
     * size): ram reallocates, a regular file is truncated or extended.  Does
     * not change bdev->size; the caller applies it while no worker runs.
     * Control thread.  0 or -errno.  NULL: the size is set outside the
     * daemon (block devices) or cannot change.
     */
    int (*resize)(struct bdev *bdev, uint64_t bytes);
    /*
     * Optional: provisioning of the bytes from offset (block aligned):
     * whether they are mapped (hold data) or deallocated (read as zeroes
     * without taking space), and in *len, given as the most to look at,
     * how many bytes from offset share that state (> 0).  Runs on a worker
     * (GET LBA STATUS): must be quick and bounded, at most a pair of
     * syscalls.  0 or -errno.  NULL: everything is mapped.
     */
    int (*lba_status)(struct bdev *bdev, uint64_t offset, uint64_t *len, bool *mapped);
    /*
     * Optional: a read of these bytes (checked against the size) is coming
     * soon, a request or so from now.  A hint only: it must not block, fail
     * or change anything visible.  Worker.  NULL: nothing to gain (the
     * backend does not copy from memory of its own).
     */
    void (*prefetch)(struct bdev *bdev, uint64_t offset, uint64_t len);
};

struct bdev {
    const struct bdev_ops *ops;
    uint64_t size;       /* bytes, a multiple of block_size */
    uint32_t block_size; /* 512 or 4096 */
    bool readonly;
    bool can_discard;           /* DISCARD is supported (and deallocates) */
    bool discard_zeroes;        /* after DISCARD, reads return zeroes */
    bool can_write_zeroes;      /* WRITE_ZEROES is supported */
    bool volatile_cache;        /* writes may be lost on power failure until FLUSH */
    uint32_t optimal_io_blocks; /* preferred transfer granularity in blocks (0: none) */
    /*
     * The smallest write the medium takes without reading around it (a
     * page, a filesystem block, a 4Kn disk's sector): what a LUN reports as
     * its physical block unless told otherwise.  0: block_size.
     */
    uint32_t phys_block_size;
    bool can_verify;            /* VERIFY is checked by the medium itself (else it is a no-op) */
    uint32_t max_io_bytes;      /* largest READ/WRITE worth sending at once (0: no preference) */
    uint64_t max_discard_bytes; /* largest DISCARD the backend takes in one request (0: any) */
    /*
     * Largest WRITE that lands all or nothing, also across a power loss (0:
     * none, WRITE ATOMIC is refused).  Atomicity against other commands is
     * the SCSI layer's (an exclusive range that also holds reads off).
     */
    uint32_t atomic_max_bytes;
    uint32_t atomic_gran_bytes; /* an atomic write's offset and length are multiples (0: a block) */
    /* Identity of the hardware behind the LUN, used for VPD pages when the user gave none. */
    char hw_serial[37]; /* empty: none (at most SCSI_SERIAL_MAX characters) */
    uint8_t eui64[8];   /* all zero: none */
    uint8_t nguid[16];  /* all zero: none */
    char desc[128];     /* human-readable "ram 64M" / "file /path" for logs */
};

/* What --lun asks for, after parsing. */
enum bdev_type {
    BDEV_TYPE_RAM,
    BDEV_TYPE_FILE,
    BDEV_TYPE_NULL,  /* completes every request without moving data */
    BDEV_TYPE_NVME,  /* a namespace of a PCI NVMe controller, driven through VFIO */
    BDEV_TYPE_ISCSI, /* a LUN of a remote iSCSI target, through libiscsi */
    BDEV_TYPE_RBD,   /* a Ceph RBD image through librbd */
};

struct bdev_config {
    enum bdev_type type;
    uint64_t size;       /* ram, null: bytes (a multiple of block_size); file: unused */
    const char *path;    /* file: regular file or block device */
    uint32_t block_size; /* 512 or 4096 */
    bool readonly;
    bool direct;           /* file: O_DIRECT */
    const char *pci;       /* nvme: PCI address of the controller, "0000:00:04.0" */
    uint32_t nsid;         /* nvme: namespace (default 1) */
    unsigned nr_queues;    /* nvme: I/O queue pairs wanted; iscsi: sessions (one per worker) */
    const char *url;       /* iscsi: iscsi://[user[%password]@]host[:port]/target-iqn/lun */
    const char *pool;      /* rbd: pool name */
    const char *image;     /* rbd: image name */
    const char *snap;      /* rbd: snapshot to serve read-only; NULL: the image itself */
    const char *conf;      /* rbd: ceph.conf; NULL: librados' default search */
    const char *client_id; /* rbd: cephx user without "client." (NULL: admin) */
    /*
     * rbd: PREFIX of the lock owner record under --state-dir
     * (bdev_rbd_owner.h), which lets a restart after a crash take the
     * exclusive lock from its dead predecessor; NULL: none.
     */
    const char *lock_record;
    /*
     * iscsi: seconds I/O is held while the target is unreachable (0: the
     * default, 20); rbd: seconds before an OSD request fails (0: wait for the OSD).
     */
    unsigned timeout_s;
};

/*
 * Open a backend.  On error returns -errno and writes a one-line reason
 * (naming the path or size) into err.
 */
int bdev_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
void bdev_close(struct bdev *bdev);

/* Backend constructors, called by bdev_open() once cfg is validated. */
int bdev_ram_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
int bdev_file_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
int bdev_null_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
int bdev_nvme_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
int bdev_iscsi_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);
int bdev_rbd_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen);

/*
 * Defensive checks every backend runs at submit: type, read-only, range and
 * alignment, and that the iovec holds len bytes.  Returns 0 or the -errno that
 * submit should return.
 */
int bdev_io_check(const struct bdev *bdev, const struct bdev_io *io);

/* Helpers for backends. */
static inline int bdev_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io)
{
    io->bdev = bdev;
    io->cancelled = false;
    io->sense = 0;
    return bdev->ops->submit(bdev, loop, io);
}

/* bdev_ops.prefetch, when the backend has one. */
static inline void bdev_prefetch(struct bdev *bdev, uint64_t offset, uint64_t len)
{
    if (bdev->ops->prefetch)
        bdev->ops->prefetch(bdev, offset, len);
}

/* The backend's lba_status, or "mapped" for the whole of *len when it has none or fails. */
static inline void bdev_lba_status(struct bdev *bdev, uint64_t offset, uint64_t *len, bool *mapped)
{
    uint64_t want = *len;

    *mapped = true;
    if (bdev->ops->lba_status == NULL || bdev->ops->lba_status(bdev, offset, len, mapped) < 0 ||
        *len == 0 || *len > want) {
        *mapped = true;
        *len = want;
    }
}

/*
 * lba_status of a file by SEEK_DATA/SEEK_HOLE on fd (bdev_seek.c): one
 * lseek, two when the range starts with data.  Holes are deallocated; a
 * file system without hole tracking reports all data, and so do block
 * devices.  The lseeks may block on a slow file system (NFS asks the
 * server): GET LBA STATUS is rare and bounded to one pair per descriptor.
 */
int bdev_seek_lba_status(int fd, uint64_t offset, uint64_t *len, bool *mapped);

/*
 * Ask the backend to finish io as soon as it can (task management aborting
 * a command).  Call on the thread that submitted io, while io is in flight:
 * submit returned 0 and cb has not run yet.
 *
 * cb still runs exactly once, later (never inside bdev_cancel), on that
 * thread: with -ECANCELED, with whatever error the interrupted operation
 * returned, or with success if it completed anyway.  Until cb runs, the
 * backend may still read or write io's buffers.
 *
 * Returns 0 when a cancellation was requested; -EALREADY when io is past the
 * point where it can be stopped (a discard already in the helper's ioctl);
 * -ENOTSUP when the backend cannot cancel at all (ram and null complete
 * inside submit, so they never have anything in flight); another -errno
 * when the request could not be made.  In every case cb runs as promised.
 */
static inline int bdev_cancel(struct bdev *bdev, struct bdev_io *io)
{
    if (!bdev->ops->cancel)
        return -ENOTSUP;
    return bdev->ops->cancel(bdev, io);
}

#endif
