/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iSCSI backend: a LUN of a remote target, through libiscsi's asynchronous
 * API.  bdev_iscsi.c opens (a synchronous probe on the control thread: size,
 * block size, what the target supports) and closes; bdev_iscsi_conn.c is the
 * data path.
 *
 * Threading: each worker gets a session of its own (struct iscsi_wctx, one
 * per (LUN, worker)), created on its first request and only ever touched by
 * that worker's thread, so no lock is needed.  Its socket is watched by the
 * worker's io_uring (poll SQEs), never by a thread of ours.  Requests are
 * never failed because the connection dropped: they are held on the worker's
 * list while it logs in again, reissued once it is back, and failed with
 * sense data only when the target stayed away longer than timeout_s.
 */
#ifndef VUS_BDEV_BDEV_ISCSI_H
#define VUS_BDEV_BDEV_ISCSI_H

#include <linux/time_types.h>
#include <stdatomic.h>

#include "bdev/bdev.h"

#define BDEV_ISCSI_DEFAULT_TIMEOUT_S 20 /* below the 30 s a Linux guest gives a command */
#define BDEV_ISCSI_MAX_TIMEOUT_S     3600
#define BDEV_ISCSI_INITIATOR         "iqn.2024-01.org.vhost-user-scsi:initiator"
#define BDEV_ISCSI_UA_RETRIES        8 /* a fresh session reports its UNIT ATTENTIONs once each */
#define BDEV_ISCSI_STR_MAX           256

/* What a url= names, once libiscsi has parsed it. */
struct bdev_iscsi_target {
    char portal[BDEV_ISCSI_STR_MAX]; /* host[:port] */
    char iqn[BDEV_ISCSI_STR_MAX];
    char user[BDEV_ISCSI_STR_MAX]; /* CHAP; empty: none */
    char password[BDEV_ISCSI_STR_MAX];
    int lun;
};

/* Parse url (no network).  0, or -EINVAL with a reason in err. */
int bdev_iscsi_parse_url(const char *url, struct bdev_iscsi_target *t, char *err, size_t errlen);

/* What a finished libiscsi task means for the request behind it. */
enum bdev_iscsi_verdict {
    ISCSI_V_DONE,  /* complete with *res (and *sense when -EREMOTEIO) */
    ISCSI_V_RETRY, /* issue it again on the same session (a UNIT ATTENTION) */
    ISCSI_V_LOST,  /* the session failed under it: hold it and log in again */
};

/*
 * status: the libiscsi task status; key/ascq: its sense (key, ASC << 8 |
 * ASCQ) with CHECK CONDITION; attempt: retries already taken.
 */
enum bdev_iscsi_verdict bdev_iscsi_verdict(int status, int key, int ascq, unsigned attempt,
                                           int *res, uint32_t *sense);

/* The sense requests get when the target stayed away past the timeout. */
#define BDEV_ISCSI_SENSE_UNREACHABLE BDEV_SENSE(0x0b, 0x08, 0x01) /* LU COMMUNICATION TIME-OUT */

struct iscsi_context;
struct bdev_iscsi;

enum iscsi_wstate {
    ISCSI_W_DOWN,       /* no session; the next login is due at retry_at_ns */
    ISCSI_W_CONNECTING, /* TCP connect and login in progress */
    ISCSI_W_UP,
};

/* One worker's session to the LUN.  Worker thread only, except armed (see close). */
struct iscsi_wctx {
    struct bdev_iscsi *b;
    struct io_loop *loop;
    struct iscsi_context *iscsi;
    enum iscsi_wstate state;
    unsigned gen;             /* bumped for every new session: polls of an older one are stale */
    bool broken;              /* the session failed inside a libiscsi call: torn down after it */
    bool in_lib;              /* inside iscsi_service or iscsi_destroy_context */
    bool lost;                /* a session was up and failed: the next login is worth a log line */
    uint64_t retry_at_ns;     /* DOWN: next login attempt */
    uint64_t connect_started; /* CONNECTING: since when */
    unsigned failures;        /* logins failed in a row */
    struct bdev_io *held_head, *held_tail; /* waiting for a session, oldest first */
    unsigned inflight;                     /* tasks libiscsi has */
    struct io_loop_op rd_op, wr_op;        /* POLLIN (or a timer when DOWN) and POLLOUT */
    unsigned rd_gen, wr_gen;
    bool rd_armed, wr_armed;
    atomic_uint armed; /* SQEs of ours in the ring: close waits for 0 */
    struct __kernel_timespec ts;
};

struct bdev_iscsi {
    struct bdev bdev;
    struct bdev_iscsi_target t;
    unsigned timeout_s;
    bool use_unmap;            /* DISCARD as UNMAP; else WRITE SAME(16) with UNMAP */
    uint32_t max_unmap_blocks; /* per command; 0: no limit */
    uint32_t max_ws_blocks;    /* per WRITE SAME; 0: no limit */
    unsigned nw;
    struct iscsi_wctx *w; /* [nw], one per worker */
};

/* Data path (bdev_iscsi_conn.c). */
int bdev_iscsi_submit(struct bdev *bdev, struct io_loop *loop, struct bdev_io *io);
int bdev_iscsi_cancel(struct bdev *bdev, struct bdev_io *io);
/* Control thread, workers no longer submitting: end w's session.  false: w must be leaked. */
bool bdev_iscsi_wctx_close(struct iscsi_wctx *w);
/* Configure a new libiscsi context for b's target (initiator, target name, CHAP, timeouts). */
struct iscsi_context *bdev_iscsi_new_context(const struct bdev_iscsi *b);

/* The held list, oldest first (exposed for the unit test). */
void bdev_iscsi_hold(struct iscsi_wctx *w, struct bdev_io *io, uint64_t now_ns);
struct bdev_io *bdev_iscsi_unhold(struct iscsi_wctx *w);
bool bdev_iscsi_unhold_io(struct iscsi_wctx *w, struct bdev_io *io);
/* Take the held requests whose deadline passed; returns them as a list (offload_next). */
struct bdev_io *bdev_iscsi_expired(struct iscsi_wctx *w, uint64_t now_ns);

#endif
