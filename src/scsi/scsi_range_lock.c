/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-LUN LBA range lock.  COMPARE AND WRITE must be atomic against every
 * other write to its range, from any queue and any worker thread: it takes
 * its range exclusive, the writes take theirs shared.  Shared ranges never
 * conflict with each other (two overlapping SIMPLE writes have no order in
 * SAM either), so while no exclusive request exists a write only links
 * itself into the held list.
 *
 * A conflicting request does not block its worker: it is queued (through
 * links in its own task, so nothing is allocated) and the release that
 * clears the way posts it to its own worker's loop, which runs its start
 * function.  Waiters are granted in arrival order where they overlap: a
 * request also waits behind an earlier waiter it conflicts with, so a stream
 * of writes cannot starve a COMPARE AND WRITE.
 *
 * The mutex is held for a list walk at most (held + waiting tasks of one
 * LUN, bounded by the queue depths), never across I/O.
 *
 * WRITE ATOMIC must also be atomic against reads, which take no range for
 * speed.  A Dekker-style handshake keeps the read path free of the mutex
 * while no atomic writer exists: a read increments rl->readers, then looks
 * at rl->natomic; an atomic writer increments natomic, then looks at
 * readers (both sequentially consistent, so at least one of them sees the
 * other).  A read that sees natomic != 0 backs out and takes its range
 * shared the ordinary way, so it waits for any overlapping atomic writer.
 * An atomic writer that sees counted readers keeps its range (held) and
 * parks on drain_head; whoever brings readers to 0 while natomic != 0 wakes
 * it, through the same post to its own loop that granted waiters get.
 */
#include <stddef.h>

#include "scsi/scsi_internal.h"

static bool conflicts(const struct scsi_task *a, const struct scsi_task *b)
{
    if (!a->rl_excl && !b->rl_excl)
        return false;
    return a->rl_lba < b->rl_lba + b->rl_n && b->rl_lba < a->rl_lba + a->rl_n;
}

static void held_insert(struct scsi_range_lock *rl, struct scsi_task *t)
{
    t->rl_prev = NULL;
    t->rl_next = rl->held;
    if (rl->held != NULL)
        rl->held->rl_prev = t;
    rl->held = t;
    t->rl_state = SCSI_RL_HELD;
}

static void held_remove(struct scsi_range_lock *rl, struct scsi_task *t)
{
    if (t->rl_prev != NULL)
        t->rl_prev->rl_next = t->rl_next;
    else
        rl->held = t->rl_next;
    if (t->rl_next != NULL)
        t->rl_next->rl_prev = t->rl_prev;
}

static void wait_remove(struct scsi_range_lock *rl, struct scsi_task *t)
{
    if (t->rl_prev != NULL)
        t->rl_prev->rl_next = t->rl_next;
    else
        rl->wait_head = t->rl_next;
    if (t->rl_next != NULL)
        t->rl_next->rl_prev = t->rl_prev;
    else
        rl->wait_tail = t->rl_prev;
}

/* t conflicts with a holder, or with a waiter queued before stop (NULL: any waiter). */
static bool must_wait(const struct scsi_range_lock *rl, const struct scsi_task *t,
                      const struct scsi_task *stop)
{
    for (const struct scsi_task *h = rl->held; h != NULL; h = h->rl_next) {
        if (conflicts(h, t))
            return true;
    }
    for (const struct scsi_task *w = rl->wait_head; w != NULL && w != stop; w = w->rl_next) {
        if (conflicts(w, t))
            return true;
    }
    return false;
}

static void resume_cb(struct io_loop_op *op, int res)
{
    struct scsi_task *task = (struct scsi_task *)((char *)op - offsetof(struct scsi_task, rl_op));

    (void)res;
    task->rl_start(task);
}

/* Continue t on its own worker (inline without a loop: unit tests). Lock dropped. */
static void resume(struct scsi_task *t)
{
    if (t->loop != NULL) {
        t->rl_op.cb = resume_cb;
        io_loop_post(t->loop, &t->rl_op, 0);
    } else {
        t->rl_start(t);
    }
}

/*
 * An atomic writer that has its range: true when no counted reader is left,
 * else it is parked on drain_head.  With rl->mu held, after natomic was
 * raised: the reader that drops readers to 0 then takes the mutex and sees it.
 */
static bool drained(struct scsi_range_lock *rl, struct scsi_task *t)
{
    if (t->rl_mode != SCSI_RL_ATOMIC || atomic_load(&rl->readers) == 0)
        return true;
    t->rl_drain_next = rl->drain_head;
    rl->drain_head = t;
    return false;
}

/* Counted readers may be gone: start the parked atomic writers if so. */
static void drain_kick(struct scsi_range_lock *rl)
{
    struct scsi_task *go = NULL;

    pthread_mutex_lock(&rl->mu);
    if (atomic_load(&rl->readers) == 0) {
        go = rl->drain_head;
        rl->drain_head = NULL;
    }
    pthread_mutex_unlock(&rl->mu);
    while (go != NULL) {
        struct scsi_task *t = go;

        go = t->rl_drain_next;
        resume(t);
    }
}

bool scsi_range_lock(struct scsi_task *task, uint64_t lba, uint64_t n, unsigned mode,
                     void (*start)(struct scsi_task *task))
{
    return scsi_range_lock_lun(task, task->lun, lba, n, mode, start);
}

bool scsi_range_lock_lun(struct scsi_task *task, struct scsi_lun *lun, uint64_t lba, uint64_t n,
                         unsigned mode, void (*start)(struct scsi_task *task))
{
    struct scsi_range_lock *rl = lun->rl;
    bool excl = mode != SCSI_RL_SHARED, wait;

    task->rl_lun = lun;
    task->rl_lba = lba;
    task->rl_n = n;
    task->rl_excl = excl;
    task->rl_mode = (uint8_t)mode;
    task->rl_start = start;
    pthread_mutex_lock(&rl->mu);
    if (mode == SCSI_RL_ATOMIC)
        atomic_fetch_add(&rl->natomic, 1); /* before looking at readers (drained) */
    wait = (excl || rl->nexcl != 0) && must_wait(rl, task, NULL);
    if (excl)
        rl->nexcl++;
    if (!wait) {
        held_insert(rl, task);
        if (!drained(rl, task)) {
            if (task->loop != NULL)
                io_loop_expect_post(task->loop);
            wait = true;
        }
    } else {
        /* The release that grants us posts to our loop: announce it while we still own it. */
        if (task->loop != NULL)
            io_loop_expect_post(task->loop);
        task->rl_state = SCSI_RL_WAITING;
        task->rl_next = NULL;
        task->rl_prev = rl->wait_tail;
        if (rl->wait_tail != NULL)
            rl->wait_tail->rl_next = task;
        else
            rl->wait_head = task;
        rl->wait_tail = task;
    }
    pthread_mutex_unlock(&rl->mu);
    return !wait;
}

bool scsi_read_lock(struct scsi_task *task, struct scsi_lun *lun, uint64_t lba, uint64_t n,
                    void (*start)(struct scsi_task *task))
{
    struct scsi_range_lock *rl = lun->rl;

    atomic_fetch_add(&rl->readers, 1);
    if (atomic_load(&rl->natomic) == 0) {
        task->rl_lun = lun;
        task->rl_state = SCSI_RL_READER;
        return true;
    }
    /* An atomic writer exists: back out (waking it if we were the last) and queue like a write. */
    if (atomic_fetch_sub(&rl->readers, 1) == 1)
        drain_kick(rl);
    return scsi_range_lock_lun(task, lun, lba, n, SCSI_RL_SHARED, start);
}

void scsi_range_unlock(struct scsi_task *task)
{
    struct scsi_range_lock *rl;
    struct scsi_task *grant = NULL, **tail = &grant;

    if (task->rl_state == SCSI_RL_READER) {
        rl = task->rl_lun->rl;
        task->rl_state = SCSI_RL_NONE;
        if (atomic_fetch_sub(&rl->readers, 1) == 1 && atomic_load(&rl->natomic) != 0)
            drain_kick(rl);
        return;
    }
    if (task->rl_state != SCSI_RL_HELD)
        return;
    rl = task->rl_lun->rl;
    pthread_mutex_lock(&rl->mu);
    held_remove(rl, task);
    task->rl_state = SCSI_RL_NONE;
    if (task->rl_excl)
        rl->nexcl--;
    if (task->rl_mode == SCSI_RL_ATOMIC)
        atomic_fetch_sub(&rl->natomic, 1);
    for (struct scsi_task *w = rl->wait_head, *next; w != NULL; w = next) {
        next = w->rl_next;
        if (must_wait(rl, w, w))
            continue;
        wait_remove(rl, w);
        held_insert(rl, w);
        if (!drained(rl, w))
            continue; /* holds its range; the last counted reader starts it */
        w->rl_grant_next = NULL;
        *tail = w;
        tail = &w->rl_grant_next;
    }
    pthread_mutex_unlock(&rl->mu);

    /*
     * Each granted task continues on its own worker.  Without a loop (unit
     * tests drive tasks by hand) it continues here, after the lock is dropped.
     */
    while (grant != NULL) {
        struct scsi_task *t = grant;

        grant = t->rl_grant_next;
        resume(t);
    }
}

void scsi_range_lock_init(struct scsi_range_lock *rl)
{
    pthread_mutex_init(&rl->mu, NULL);
    rl->held = rl->wait_head = rl->wait_tail = NULL;
    rl->nexcl = 0;
    atomic_init(&rl->readers, 0);
    atomic_init(&rl->natomic, 0);
    rl->drain_head = NULL;
}

void scsi_range_lock_fini(struct scsi_range_lock *rl)
{
    pthread_mutex_destroy(&rl->mu);
}
