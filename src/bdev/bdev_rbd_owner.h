/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who held an RBD image's exclusive lock for one block device of this
 * daemon, kept under --state-dir so that a daemon restarted after a crash
 * can take the lock from its dead predecessor at once instead of waiting
 * for the cluster to notice the death (the watch timeout, ~30 s, longer
 * than a guest waits for a SCSI command).
 *
 * Two files per block device, PREFIX = STATE_DIR/rbd-NAME:
 *   PREFIX.lock  empty; flock'ed by the process serving the block device for
 *                as long as it does.  Getting the flock proves that whoever
 *                wrote PREFIX.json is gone (the kernel drops a dead
 *                process's flocks): another live daemon on the same state
 *                directory keeps it, and its lock is then never broken.
 *   PREFIX.json  this machine (hostname and machine-id: the flock proves
 *                nothing about a copy made elsewhere), the image (cluster
 *                fsid, pool, name) and the lock owner
 *                string librbd reported for us once we held the lock.  The
 *                owner string is the client's address, ip:port/nonce, the
 *                nonce drawn at random per client instance: equal strings
 *                mean the very client that died.
 *                Written to PREFIX.json.tmp, fsync'ed, renamed, the
 *                directory fsync'ed (as the APTPL state is).
 *
 * Control thread only, like bdev_open/bdev_close.
 */
#ifndef VUS_BDEV_BDEV_RBD_OWNER_H
#define VUS_BDEV_BDEV_RBD_OWNER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Longer than any owner string librbd prints (an entity address). */
#define RBD_OWNER_MAX 256

struct rbd_owner_rec {
    int lock_fd; /* PREFIX.lock, flock'ed by us; -1: not claimed */
    char prefix[PATH_MAX - 16];
};

/* Which image a record is about. */
struct rbd_owner_image {
    const char *fsid;
    const char *pool;
    const char *image;
};

/*
 * Claim PREFIX for this process.  1: claimed (rec->lock_fd >= 0); 0: a
 * live process holds it (nothing may be broken on its behalf); -errno: the
 * state directory is unusable (err says why).
 */
int rbd_owner_claim(struct rbd_owner_rec *rec, const char *prefix, char *err, size_t errlen);

/*
 * The owner our dead predecessor recorded for img: 1 and owner filled; 0
 * when there is no record or it is about another image; -EINVAL for a
 * record that cannot be read (err says why; it is then ignored, never
 * trusted).  Only on a claimed rec.
 */
int rbd_owner_predecessor(const struct rbd_owner_rec *rec, const struct rbd_owner_image *img,
                          char *owner, size_t ownerlen, char *err, size_t errlen);

/* Record owner as ours for img.  0 or -errno.  Only on a claimed rec. */
int rbd_owner_save(const struct rbd_owner_rec *rec, const struct rbd_owner_image *img,
                   const char *owner);

/*
 * Let go of the claim.  keep_record: the image lock may still be ours (its
 * release failed), so the record stays for the next process to take it
 * over; otherwise both files go.  Harmless on an unclaimed rec.
 */
void rbd_owner_release(struct rbd_owner_rec *rec, bool keep_record);

#endif
