/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-LUN LBA range lock: conflicts, FIFO order, resumption on the
 * waiter's own loop, and the reader/WRITE ATOMIC handshake.
 */
#include <pthread.h>

#include "scsi_fake.h"

static unsigned started[8];

static void start_cb(struct scsi_task *t)
{
    started[t->tag]++;
}

static struct scsi_task *tasks_new(struct env *e, unsigned n)
{
    struct scsi_task *t = calloc(n, sizeof(*t));

    assert_non_null(t);
    for (unsigned i = 0; i < n; i++) {
        t[i].lun = e->lun;
        t[i].tag = i;
    }
    memset(started, 0, sizeof(started));
    return t;
}

static void test_shared_and_exclusive(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 5);

    /* Overlapping writes share. */
    assert_true(scsi_range_lock(&t[0], 0, 10, false, start_cb));
    assert_true(scsi_range_lock(&t[1], 5, 10, false, start_cb));
    /* An exclusive range overlapping either waits for both. */
    assert_false(scsi_range_lock(&t[2], 9, 1, true, start_cb));
    assert_int_equal(t[2].rl_state, SCSI_RL_WAITING);
    /* Adjacent is not overlapping: granted, exclusive or not. */
    assert_true(scsi_range_lock(&t[3], 15, 5, true, start_cb));
    assert_true(scsi_range_lock(&t[4], 20, 80, true, start_cb));
    scsi_range_unlock(&t[0]);
    assert_int_equal(started[2], 0);
    scsi_range_unlock(&t[1]);
    assert_int_equal(started[2], 1);
    assert_int_equal(t[2].rl_state, SCSI_RL_HELD);
    for (unsigned i = 2; i < 5; i++)
        scsi_range_unlock(&t[i]);
    /* Unlocking what is not held is a no-op. */
    scsi_range_unlock(&t[0]);
    assert_null(e->lun->rl->held);
    assert_null(e->lun->rl->wait_head);
    assert_int_equal(e->lun->rl->nexcl, 0);
    free(t);
    env_free(e);
}

static void test_fifo_no_starvation(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 6);

    assert_true(scsi_range_lock(&t[0], 0, 10, false, start_cb));
    assert_false(scsi_range_lock(&t[1], 5, 5, true, start_cb));
    /* A write behind the waiting COMPARE AND WRITE queues too, though it only shares with t0. */
    assert_false(scsi_range_lock(&t[2], 8, 1, false, start_cb));
    /* One that conflicts with nobody goes on. */
    assert_true(scsi_range_lock(&t[3], 50, 1, false, start_cb));
    /* Two exclusive waiters on disjoint ranges, behind t1 and t0. */
    assert_false(scsi_range_lock(&t[4], 0, 1, true, start_cb));
    assert_false(scsi_range_lock(&t[5], 8, 3, true, start_cb));

    scsi_range_unlock(&t[0]);
    /* t1 and t4 get theirs; t2 and t5 still conflict with t1. */
    assert_int_equal(started[1], 1);
    assert_int_equal(started[4], 1);
    assert_int_equal(started[2] + started[5], 0);
    scsi_range_unlock(&t[1]);
    /* t2 is granted; t5 overlaps t2 (waiting earlier, and now holding). */
    assert_int_equal(started[2], 1);
    assert_int_equal(started[5], 0);
    scsi_range_unlock(&t[2]);
    assert_int_equal(started[5], 1);
    scsi_range_unlock(&t[3]);
    scsi_range_unlock(&t[4]);
    scsi_range_unlock(&t[5]);
    assert_int_equal(e->lun->rl->nexcl, 0);
    assert_null(e->lun->rl->held);
    free(t);
    env_free(e);
}

static void test_resume_on_own_loop(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 3);
    struct io_loop loop;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    t[1].loop = &loop;
    t[2].loop = &loop;
    assert_true(scsi_range_lock(&t[0], 0, 100, true, start_cb));
    assert_false(scsi_range_lock(&t[1], 0, 1, false, start_cb));
    assert_false(scsi_range_lock(&t[2], 99, 1, false, start_cb));
    scsi_range_unlock(&t[0]);
    /* Granted, but they continue from their loop, not inside the holder's release. */
    assert_int_equal(t[1].rl_state, SCSI_RL_HELD);
    assert_int_equal(started[1] + started[2], 0);
    while (started[1] + started[2] < 2)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    assert_int_equal(started[1], 1);
    assert_int_equal(started[2], 1);
    scsi_range_unlock(&t[1]);
    scsi_range_unlock(&t[2]);
    io_loop_fini(&loop);
    free(t);
    env_free(e);
}

/* Threads, each with its own loop, take one block exclusive or shared against each other. */
#define ROUNDS 20000

struct worker {
    struct scsi_lun *lun;
    struct scsi_task task;
    struct io_loop loop;
    bool excl;
    bool reader;   /* takes scsi_read_lock */
    unsigned mode; /* the mode of an exclusive one: SCSI_RL_EXCL or SCSI_RL_ATOMIC */
    bool granted;
};

static _Atomic int inside_excl, inside_shared;

static void worker_granted(struct scsi_task *t)
{
    struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, task));

    w->granted = true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int bad = 0;

    for (unsigned i = 0; i < ROUNDS; i++) {
        if (w->reader)
            w->granted = scsi_read_lock(&w->task, w->lun, i % 2, 2, worker_granted);
        else
            w->granted = scsi_range_lock(&w->task, i % 2, 2, w->excl ? w->mode : 0, worker_granted);
        while (!w->granted)
            io_loop_run_once(&w->loop, true);
        /* Under an exclusive range nobody else may be inside an overlapping one. */
        if (w->excl) {
            bad |= atomic_fetch_add(&inside_excl, 1) != 0;
            bad |= atomic_load(&inside_shared) != 0;
            atomic_fetch_sub(&inside_excl, 1);
        } else {
            atomic_fetch_add(&inside_shared, 1);
            bad |= atomic_load(&inside_excl) != 0;
            atomic_fetch_sub(&inside_shared, 1);
        }
        scsi_range_unlock(&w->task);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void **state)
{
    struct env *e = env_new(4, 512);
    struct worker w[4];
    pthread_t th[4];

    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < 4; i++) {
        w[i].lun = e->lun;
        w[i].task.lun = e->lun;
        w[i].task.loop = &w[i].loop;
        w[i].excl = i < 2;
        w[i].mode = SCSI_RL_EXCL;
        assert_int_equal(io_loop_init(&w[i].loop, 8), 0);
    }
    /* Ranges [0, 2) and [1, 3) always overlap: every exclusive one conflicts with all. */
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (unsigned i = 0; i < 4; i++) {
        void *ret;

        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
        io_loop_fini(&w[i].loop);
    }
    assert_int_equal(e->lun->rl->nexcl, 0);
    assert_null(e->lun->rl->held);
    env_free(e);
}

static void test_reader_fast_path(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 2);
    struct scsi_range_lock *rl = e->lun->rl;

    /* Without WRITE ATOMIC a read is only counted: no list, no mutex, even under CAW. */
    assert_true(scsi_range_lock(&t[1], 0, 10, SCSI_RL_EXCL, start_cb));
    assert_true(scsi_read_lock(&t[0], e->lun, 0, 10, start_cb));
    assert_int_equal(t[0].rl_state, SCSI_RL_READER);
    assert_int_equal(atomic_load(&rl->readers), 1);
    assert_ptr_equal(rl->held, &t[1]);
    scsi_range_unlock(&t[0]);
    assert_int_equal(t[0].rl_state, SCSI_RL_NONE);
    assert_int_equal(atomic_load(&rl->readers), 0);
    scsi_range_unlock(&t[1]);
    free(t);
    env_free(e);
}

static void test_atomic_drains_readers(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 5);
    struct scsi_range_lock *rl = e->lun->rl;

    assert_true(scsi_read_lock(&t[0], e->lun, 50, 10, start_cb));
    /* The atomic writer gets its range but parks until the counted read is gone. */
    assert_false(scsi_range_lock(&t[1], 0, 10, SCSI_RL_ATOMIC, start_cb));
    assert_int_equal(t[1].rl_state, SCSI_RL_HELD);
    assert_ptr_equal(rl->drain_head, &t[1]);
    /* Later reads take the slow path: overlapping waits, disjoint is granted. */
    assert_false(scsi_read_lock(&t[2], e->lun, 5, 1, start_cb));
    assert_int_equal(t[2].rl_state, SCSI_RL_WAITING);
    assert_true(scsi_read_lock(&t[3], e->lun, 20, 1, start_cb));
    assert_int_equal(t[3].rl_state, SCSI_RL_HELD);
    assert_int_equal(atomic_load(&rl->readers), 1);
    scsi_range_unlock(&t[3]);
    assert_int_equal(started[1], 0);
    /* The last counted reader starts the writer. */
    scsi_range_unlock(&t[0]);
    assert_int_equal(started[1], 1);
    assert_null(rl->drain_head);
    assert_int_equal(started[2], 0);
    /* A second atomic writer waits in line behind the read it overlaps. */
    assert_false(scsi_range_lock(&t[4], 5, 1, SCSI_RL_ATOMIC, start_cb));
    scsi_range_unlock(&t[1]);
    assert_int_equal(started[2], 1); /* FIFO: the read was first */
    assert_int_equal(started[4], 0);
    scsi_range_unlock(&t[2]);
    assert_int_equal(started[4], 1);
    scsi_range_unlock(&t[4]);
    assert_int_equal(atomic_load(&rl->natomic), 0);
    assert_int_equal(rl->nexcl, 0);
    /* Back to the fast path. */
    assert_true(scsi_read_lock(&t[0], e->lun, 0, 1, start_cb));
    assert_int_equal(t[0].rl_state, SCSI_RL_READER);
    scsi_range_unlock(&t[0]);
    free(t);
    env_free(e);
}

/* A counted reader still in when the writer is granted from the wait list: parked there too. */
static void test_atomic_granted_then_drained(void **state)
{
    struct env *e = env_new(100, 512);
    struct scsi_task *t = tasks_new(e, 3);
    struct io_loop loop;

    assert_int_equal(io_loop_init(&loop, 8), 0);
    t[1].loop = &loop;
    assert_true(scsi_range_lock(&t[0], 0, 10, SCSI_RL_SHARED, start_cb));
    assert_false(scsi_range_lock(&t[1], 0, 10, SCSI_RL_ATOMIC, start_cb));
    /* natomic is up: this read backs out of the count and waits behind the writer. */
    assert_false(scsi_read_lock(&t[2], e->lun, 0, 1, start_cb));
    assert_int_equal(atomic_load(&e->lun->rl->readers), 0);
    scsi_range_unlock(&t[0]);
    assert_int_equal(t[1].rl_state, SCSI_RL_HELD);
    while (started[1] == 0)
        assert_true(io_loop_run_once(&loop, true) >= 0);
    scsi_range_unlock(&t[1]);
    assert_int_equal(started[2], 1);
    scsi_range_unlock(&t[2]);
    io_loop_fini(&loop);
    free(t);
    env_free(e);
}

/* Readers on the fast path and atomic writers on other threads never overlap in time. */
static void test_atomic_reader_threads(void **state)
{
    struct env *e = env_new(4, 512);
    struct worker w[4];
    pthread_t th[4];

    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < 4; i++) {
        w[i].lun = e->lun;
        w[i].task.lun = e->lun;
        w[i].task.loop = &w[i].loop;
        w[i].excl = i < 2;
        w[i].reader = i >= 2;
        w[i].mode = SCSI_RL_ATOMIC;
        assert_int_equal(io_loop_init(&w[i].loop, 8), 0);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (unsigned i = 0; i < 4; i++) {
        void *ret;

        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
        io_loop_fini(&w[i].loop);
    }
    assert_int_equal(atomic_load(&e->lun->rl->natomic), 0);
    assert_int_equal(atomic_load(&e->lun->rl->readers), 0);
    assert_null(e->lun->rl->held);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_and_exclusive),
        cmocka_unit_test(test_fifo_no_starvation),
        cmocka_unit_test(test_resume_on_own_loop),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_reader_fast_path),
        cmocka_unit_test(test_atomic_drains_readers),
        cmocka_unit_test(test_atomic_granted_then_drained),
        cmocka_unit_test(test_atomic_reader_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
