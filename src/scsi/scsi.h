/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SCSI target emulation (SPC-4 / SBC-3) over block backends.
 *
 * The transport (virtio-scsi) resolves the addressed LUN, fills a struct
 * scsi_task that it keeps preallocated per virtqueue slot, and calls
 * scsi_task_execute().  Everything about the CDB is checked here, once, before
 * dispatch; the task ends with task->status, sense and the number of bytes of
 * data-in actually produced, and task->done() is called exactly once.
 *
 * Threading: scsi_target_* / scsi_lun_create / scsi_lun_destroy run on the
 * main thread while no worker runs.  scsi_task_execute() runs on a worker
 * thread; several workers may execute tasks on the same LUN concurrently.
 * scsi_lun_reset() may be called from any thread.  done() runs on the worker
 * that executed the task.
 */
#ifndef VUS_SCSI_SCSI_H
#define VUS_SCSI_SCSI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bdev/bdev.h"
#include "io/io_loop.h"

#define SCSI_MAX_TARGETS  256   /* virtio-scsi addresses targets with one byte */
#define SCSI_MAX_LUNS     16384 /* flat space LUN: 14 bits */
#define SCSI_CDB_MAX      32    /* virtio-scsi's default cdb_size */
#define SCSI_SENSE_MAX    96    /* virtio-scsi's default sense_size */
#define SCSI_SERIAL_MAX   36
#define SCSI_LUNS_PER_TGT 256 /* LUNs we serve per target (0..255) */

/* SCSI status codes (SAM-5). */
#define SCSI_STATUS_GOOD                 0x00
#define SCSI_STATUS_CHECK_CONDITION      0x02
#define SCSI_STATUS_BUSY                 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL        0x28
#define SCSI_STATUS_TASK_ABORTED         0x40

enum scsi_data_dir {
    SCSI_DIR_NONE,
    SCSI_DIR_TO_DEV,   /* data-out: the initiator sends data (WRITE) */
    SCSI_DIR_FROM_DEV, /* data-in: the target returns data (READ, INQUIRY) */
};

/* Identity and settings of one logical unit, from --lun after parsing. */
struct scsi_lun_config {
    unsigned target;                  /* 0..255 */
    unsigned lun;                     /* 0..SCSI_LUNS_PER_TGT-1 */
    char serial[SCSI_SERIAL_MAX + 1]; /* empty: derive */
    uint64_t wwn;                     /* NAA identifier for VPD 83h; 0: derive */
    bool borrow_bdev; /* the bdev stays its owner's (a named block device): never closed here */
    unsigned stats_workers; /* > 0: keep per-LUN statistics with a slot per worker (lun_stats) */
    /*
     * Start with the write cache off (caching mode page WCE=0): every write
     * is FUA, durable before it completes.  Also the value a LUN reset
     * restores.  Without a volatile cache in the backend writes are durable
     * anyway and this changes nothing.
     */
    bool write_cache_off;
    /*
     * The I_T nexus this LUN is seen through, for reservations: the SAS
     * address of the initiator port (the controller; scsi_initiator_port).
     * 0: one derived from the target set, not stable across restarts.
     */
    uint64_t initiator_port;
    /* Where the bdev's APTPL reservation state is kept; NULL: APTPL is refused. */
    const char *pr_state_file;
    /*
     * removable=on: INQUIRY RMB=1, PREVENT ALLOW MEDIUM REMOVAL and START
     * STOP UNIT LOEJ eject and load the (emulated) medium.
     */
    bool removable;
    /* Physical block size in bytes, a power-of-two multiple of the logical one; 0: the same. */
    uint32_t physical_block_size;
    /* OPTIMAL UNMAP GRANULARITY in bytes, a multiple of the logical block size; 0: default. */
    uint32_t discard_granularity;
};

struct scsi_target;
struct lun_stats;
struct scsi_task;
struct scsi_unit;

/*
 * LBA range lock of a logical unit (scsi_range_lock.c): writes hold their range shared,
 * COMPARE AND WRITE holds it exclusive, so that no write lands between its
 * compare and its write.  Holders and waiters are tasks linked through their
 * own fields: nothing is allocated.  A task that cannot have its range waits
 * in FIFO order and is resumed on its own worker's loop.
 */
struct scsi_range_lock {
    pthread_mutex_t mu;
    struct scsi_task *held;                  /* granted ranges */
    struct scsi_task *wait_head, *wait_tail; /* FIFO of tasks waiting */
    unsigned nexcl; /* exclusive holders + waiters: 0 lets a shared request skip the scan */
    /*
     * Reads do not take a range: they count themselves in readers, and only
     * while natomic (WRITE ATOMIC holders + waiters, which exclude reads
     * too) is 0.  Otherwise they take their range shared like a write.  An
     * atomic writer waits on drain_head until the counted readers are gone.
     */
    _Atomic unsigned readers;
    _Atomic unsigned natomic;
    struct scsi_task *drain_head;
};

/* Unit attention conditions pending on a LUN (bit mask). */
#define SCSI_UA_POWER_ON_RESET   (1u << 0) /* 29h/00h */
#define SCSI_UA_CAPACITY_CHANGED (1u << 1) /* 2Ah/09h */
#define SCSI_UA_REPORTED_LUNS    (1u << 2) /* 3Fh/0Eh */
#define SCSI_UA_RES_PREEMPTED    (1u << 3) /* 2Ah/03h reservations preempted */
#define SCSI_UA_RES_RELEASED     (1u << 4) /* 2Ah/04h reservations released */
#define SCSI_UA_REG_PREEMPTED    (1u << 5) /* 2Ah/05h registrations preempted */
#define SCSI_UA_MEDIUM_CHANGED   (1u << 6) /* 28h/00h: another nexus loaded the medium */

struct scsi_lun {
    struct scsi_target *target; /* and through it the controller's set (EXTENDED COPY's CSCDs) */
    unsigned id;                /* LUN number within the target */
    struct bdev *bdev;          /* owned by the LUN unless bdev_borrowed */
    bool bdev_borrowed;
    char serial[SCSI_SERIAL_MAX + 1];
    uint64_t wwn;
    _Atomic unsigned ua_pending; /* SCSI_UA_* set by resets and events, cleared when reported */
    _Atomic unsigned inflight;   /* tasks executing on this LUN (see scsi_task_execute) */
    struct lun_stats *stats;     /* counted by the transport when set; freed with the LUN */
    /*
     * The logical unit of the bdev (scsi_unit.c), shared with every other
     * scsi_lun on it, and its LBA range lock: writes from every nexus meet
     * there.  NULL for the LUN 0 stand-in.
     */
    struct scsi_unit *unit;
    struct scsi_lun *unit_next; /* the unit's other members, under its mu */
    struct scsi_range_lock *rl;
    /*
     * Mode parameters MODE SELECT changes (scsi_mode.c), read unlocked by
     * every worker.  They belong to this scsi_lun, that is to one
     * controller, one I_T nexus: another controller on the same bdev has
     * its own.  A LUN reset restores the defaults (no saved pages).
     */
    _Atomic bool wce;     /* caching page WCE: false makes every write FUA */
    _Atomic bool d_sense; /* control page D_SENSE: descriptor-format sense */
    bool wce_default;     /* !scsi_lun_config.write_cache_off */
    /*
     * Reservations (scsi_pr.c): the state shared by every LUN on this bdev,
     * this nexus's initiator port, and what the state lets this nexus do
     * (SCSI_PR_ACCESS_*), read by every command before dispatch.
     */
    struct scsi_pr *pr;
    uint64_t pr_port;
    _Atomic unsigned pr_access;
    /* LUN options (scsi_lun_config), fixed while the LUN exists. */
    bool removable;
    uint8_t lbppb_exp;   /* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT */
    uint32_t unmap_gran; /* OPTIMAL UNMAP GRANULARITY, in logical blocks (>= 1) */
    /*
     * Removable medium (scsi_medium.c): prevent belongs to the one I_T
     * nexus this scsi_lun serves; a LUN reset clears it (SPC-4 6.13).  The
     * medium itself is the logical unit's (scsi_unit.medium_absent).
     */
    _Atomic bool prevent;
    /*
     * RECEIVE COPY RESULTS: the last EXTENDED COPY(LID1) run with LIST ID
     * USAGE 00b on this I_T nexus, packed by scsi_xcopy.c (0: none).
     */
    _Atomic uint64_t xcopy_status;
};

/*
 * A target: up to SCSI_LUNS_PER_TGT LUNs.  A target with LUNs but no LUN 0
 * still answers INQUIRY (peripheral qualifier 011b), REPORT LUNS, REQUEST
 * SENSE and TEST UNIT READY at LUN 0, so that initiators can discover the others.
 */
struct scsi_target {
    unsigned id;
    struct scsi_target_set *set; /* the controller's targets, for EXTENDED COPY's LUN lookup */
    /*
     * Published and withdrawn with atomic stores while workers run (LUN
     * hotplug); readers load them atomically.  A target without LUNs is
     * kept (freed with the set) but looks absent.
     */
    struct scsi_lun *luns[SCSI_LUNS_PER_TGT];
    _Atomic unsigned nluns;
    struct scsi_lun lun0_standin; /* bdev == NULL: the "no LUN 0" stand-in */
};

/* The targets of one controller. */
struct scsi_target_set {
    struct scsi_target *targets[SCSI_MAX_TARGETS];
    /*
     * The transport's: abort this controller's tasks on target:lun as an
     * ABORT TASK SET would (another nexus preempted this one with PREEMPT
     * AND ABORT).  Called on that command's worker with the unit's
     * reservation lock held: it may only post the request.  NULL: nothing
     * to abort.
     */
    void (*abort_task_set)(void *transport, unsigned target, unsigned lun);
    void *transport;
};

/*
 * Create a LUN on bdev (ownership of bdev passes to the LUN, also on failure)
 * and add it to the set, creating the target as needed.  Derives serial and
 * wwn when not given, deterministically from target, lun and bdev->desc.
 * Returns 0, or -EEXIST (LUN taken) / -ENOMEM with a reason in err.
 */
int scsi_lun_create(struct scsi_target_set *set, const struct scsi_lun_config *cfg,
                    struct bdev *bdev, char *err, size_t errlen);
void scsi_target_set_destroy(struct scsi_target_set *set);

/*
 * Take one LUN out of the set, while workers run: new commands no longer
 * find it.  Commands that found it before may still run (lun->inflight) and
 * the caller must not free it before a grace period (every worker went
 * through its loop once) and inflight reaching 0.  NULL when absent.
 */
struct scsi_lun *scsi_lun_unmap(struct scsi_target_set *set, unsigned target, unsigned lun);
/* Free a LUN taken out with scsi_lun_unmap (closing its bdev unless borrowed). */
void scsi_lun_free(struct scsi_lun *lun);
/* scsi_lun_unmap + scsi_lun_free, when no worker executes tasks.  0 or -ENOENT. */
int scsi_lun_remove(struct scsi_target_set *set, unsigned target, unsigned lun);

/*
 * Withdraw the unit attentions in bits from every LUN of the set (and the
 * LUN 0 stand-ins).  Caller holds what keeps LUNs from being freed (the
 * controller's lock).
 */
void scsi_target_set_clear_ua(struct scsi_target_set *set, unsigned bits);

/* The target's LUN inventory changed: REPORTED LUNS DATA HAS CHANGED on its LUNs. */
void scsi_target_luns_changed(struct scsi_target_set *set, unsigned target);

/* The lowest LUN number free on target (which may not exist yet), or -1 when all are taken. */
int scsi_target_free_lun(const struct scsi_target_set *set, unsigned target);

/*
 * Resolve a target and LUN to the unit that answers for them: the LUN itself,
 * the target's LUN 0 stand-in, or NULL when nothing answers (the transport
 * then reports a bad target).
 */
struct scsi_lun *scsi_lookup(struct scsi_target_set *set, unsigned target, unsigned lun);

/*
 * The backing store now holds bytes (a multiple of the block size): take it
 * as the capacity and tell the initiator with CAPACITY DATA HAS CHANGED.
 * Only while no worker executes tasks (they read the size unlocked).
 */
void scsi_lun_set_capacity(struct scsi_lun *lun, uint64_t bytes);

/*
 * Logical unit reset: set POWER ON, RESET OR BUS DEVICE RESET OCCURRED and
 * release a RESERVE(6/10) reservation (persistent ones stay).
 */
void scsi_lun_reset(struct scsi_lun *lun);

/*
 * The controller's connection closed: its I_T nexus is lost, which releases
 * the RESERVE(6/10) reservations it held.  Same locking as scsi_target_set_clear_ua.
 */
void scsi_target_set_nexus_loss(struct scsi_target_set *set);

/*
 * A stable initiator port for reservations from a controller's name: a
 * SAS address (NAA 5, our company ID, a hash of the name), so that APTPL
 * registrations come back to the same controller after a restart.
 */
uint64_t scsi_initiator_port(const char *name);

struct scsi_task;
typedef void (*scsi_task_done_cb)(struct scsi_task *task);

#define SCSI_XCOPY_MAX_CSCD 8 /* CSCD descriptors in one EXTENDED COPY */

/*
 * An EXTENDED COPY in progress: the LUNs its CSCD descriptors named
 * (resolved before any data moved; those other than the task's own LUN
 * counted in their inflight so that they outlive the copy), the bounce
 * buffer it holds, and where it is in the segment list kept in block_buf.
 */
struct scsi_xcopy_task {
    struct scsi_lun *cscd[SCSI_XCOPY_MAX_CSCD];
    uint8_t *buf; /* bounce buffer (scsi_xcopy.c's pool), NULL when none held */
    int slot;
    uint16_t ncscd, nseg, seg;
    uint16_t seg_off;  /* of the current segment descriptor in block_buf */
    uint64_t src, dst; /* next chunk's LBAs */
    uint32_t left;     /* blocks of the segment still to copy */
    uint32_t chunk;    /* blocks of the chunk in flight */
    bool backward;     /* overlapping copy towards higher LBAs: from the end */
    bool hold;         /* LIST ID USAGE 00b: status kept for RECEIVE COPY RESULTS */
    uint8_t list_id;
    uint64_t bytes; /* copied so far */
};

/*
 * One command.  The transport fills the "in" part; scsi_task_execute() fills
 * the "out" part; "private" is the SCSI layer's (preallocated with the task:
 * no allocation per command).
 */
struct scsi_task {
    /* in */
    struct scsi_lun *lun;
    uint8_t cdb[SCSI_CDB_MAX]; /* copied from guest memory: stable */
    unsigned cdb_len;          /* bytes of cdb[] the initiator supplied */
    enum scsi_data_dir dir;
    struct iovec *iov; /* data buffer (guest memory); only of direction dir */
    unsigned iovcnt;
    size_t iov_len;       /* total bytes of iov */
    uint64_t tag;         /* initiator's task tag: for ABORT TASK / QUERY TASK */
    struct io_loop *loop; /* the executing worker's loop, for backend I/O */
    scsi_task_done_cb done;
    void *priv;        /* transport's context */
    uint64_t start_ns; /* transport's: when the command started (for latency statistics) */

    /* out */
    uint8_t status;
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned sense_len;
    size_t data_len; /* bytes of data-in written to iov (or data-out consumed) */
    /*
     * The data buffer is too small for the transfer the CDB asks for, or has
     * the wrong direction: status is meaningless and the transport reports
     * it (virtio-scsi: VIRTIO_SCSI_S_OVERRUN).
     */
    bool overrun;

    /* private to the SCSI layer */
    struct bdev_io bio;
    struct iovec bio_iov[BDEV_MAX_IOV];
    uint64_t lba; /* progress of multi-step commands (WRITE SAME, UNMAP, VERIFY) */
    uint64_t nblocks;
    unsigned step;
    uint8_t block_buf[4096]; /* one logical block (WRITE SAME pattern, small data-out) */
    size_t buf_off;          /* bytes of iov consumed by earlier steps */
    bool (*io_next)(struct scsi_task *task, int result); /* continues a multi-step command */
    int io_result;
    bool io_submitting; /* inside bdev_submit: a completion only records its result */
    bool io_completed;  /* ... and says so here */
    bool io_in_flight;  /* bio submitted, its completion not seen yet */
    bool aborted;       /* scsi_task_abort: no further backend step */
    /* NULL: bio goes to lun->bdev; else to this one (EXTENDED COPY's other LUNs). */
    struct bdev *io_bdev;
    /* The range this task holds or waits for in rl_lun->rl (scsi_range_lock.c). */
    struct scsi_lun *rl_lun;
    uint64_t rl_lba, rl_n;
    bool rl_excl;
    uint8_t rl_mode;  /* SCSI_RL_SHARED / EXCL / ATOMIC */
    uint8_t rl_state; /* SCSI_RL_* */
    struct scsi_task *rl_prev, *rl_next, *rl_grant_next, *rl_drain_next;
    void (*rl_start)(struct scsi_task *task); /* runs when a waiting task gets its range */
    struct io_loop_op rl_op;                  /* posts that start to the task's own loop */
    struct scsi_xcopy_task xcopy;             /* EXTENDED COPY progress (scsi_xcopy.c) */
};

/* What a command does to the medium, for the transport's statistics. */
enum scsi_io_kind {
    SCSI_IO_READ,
    SCSI_IO_WRITE,        /* anything that writes the blocks it carries */
    SCSI_IO_UNMAP,        /* UNMAP, WRITE SAME with the UNMAP bit */
    SCSI_IO_WRITE_ZEROES, /* WRITE SAME without it */
    SCSI_IO_FLUSH,
    SCSI_IO_VERIFY,
    SCSI_IO_OTHER,
};

/* The kind of the command in cdb, from the command table.  Any thread. */
enum scsi_io_kind scsi_cdb_io_kind(const uint8_t *cdb);

/*
 * Run task.  Increments lun->inflight before dispatch and decrements it just
 * before task->done(), so a LUN reset can wait for it to reach zero.
 */
void scsi_task_execute(struct scsi_task *task);

/*
 * A hint, before scsi_task_execute(task) with the next request in between:
 * a read tells its backend which bytes it will want (bdev_prefetch).  Reads
 * the CDB and the LUN's size only, checks nothing for the initiator and
 * changes nothing: a bad CDB is still failed by scsi_task_execute.  Worker.
 */
void scsi_task_hint(const struct scsi_task *task);

/*
 * The transport wants task to end as soon as it can (task management): the
 * backend is asked to cancel the I/O in flight, and no further step of a
 * multi-step command is started.  done() still runs exactly once, later, on
 * the task's worker, with whatever status the interrupted step left; the
 * transport reports the task as aborted regardless.  The task's buffers may
 * be written until done() runs.  Worker thread that executes the task.
 */
void scsi_task_abort(struct scsi_task *task);

/*
 * Set CHECK CONDITION with sense data (key, asc, ascq): descriptor format
 * when the LUN's D_SENSE is set, fixed format otherwise.  The one place that
 * builds sense data for a command's status.
 */
void scsi_task_set_sense(struct scsi_task *task, uint8_t key, uint8_t asc, uint8_t ascq);

/* The sense key of sense data in either format (0 when too short to hold one). */
static inline uint8_t scsi_sense_key(const uint8_t *sense, unsigned len)
{
    if (len > 1 && (sense[0] & 0x7e) == 0x72)
        return sense[1] & 0x0f;
    return len > 2 ? sense[2] & 0x0f : 0;
}

#endif
