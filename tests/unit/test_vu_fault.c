/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shrunk guest memory files: a bus error in a registered mapping is survived and reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vhost/vu_fault.h"

#define LEN (64 * 4096)

static struct vu_fault_owner owner;

static int setup(void **state)
{
    (void)state;
    vu_fault_owner_init(&owner);
    owner.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return owner.notify_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    close(owner.notify_fd);
    return 0;
}

static uint8_t *map_memfd(int *fd, size_t len)
{
    *fd = memfd_create("vu-fault-test", MFD_CLOEXEC);
    assert_true(*fd >= 0);
    assert_int_equal(ftruncate(*fd, (off_t)len), 0);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static void test_shrunk_mapping_survives(void **state)
{
    int fd;
    uint8_t *p = map_memfd(&fd, LEN);
    uint64_t n = 0;

    (void)state;
    /* cmocka installs its own SIGBUS handler around each test: ours goes on top. */
    assert_int_equal(vu_fault_init(), 0);
    memset(p, 0xab, LEN);
    assert_int_equal(vu_fault_register(p, LEN, vu_fault_page_size(fd), &owner), 0);
    assert_false(vu_fault_owner_faulted(&owner));

    /* The frontend cuts the file to 16 pages: pages past it are gone. */
    assert_int_equal(ftruncate(fd, 16 * 4096), 0);
    assert_int_equal(p[100], 0xab);        /* still inside the file */
    assert_int_equal(p[40 * 4096 + 7], 0); /* would have been SIGBUS */
    p[50 * 4096] = 1;                      /* and a write further on */
    assert_int_equal(p[LEN - 1], 0);
    assert_true(vu_fault_owner_faulted(&owner));
    assert_int_equal((uintptr_t)atomic_load(&owner.addr), (uintptr_t)(p + 40 * 4096 + 7));
    assert_int_equal(read(owner.notify_fd, &n, sizeof(n)), sizeof(n));
    assert_int_equal(n, 1); /* one repair covered the rest of the mapping */
    /* The part before the fault is still the shared file. */
    p[4096] = 0x11;
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, 4096), 1);
    assert_int_equal(b, 0x11);

    vu_fault_owner_clear(&owner);
    assert_false(vu_fault_owner_faulted(&owner));
    assert_int_equal(atomic_load(&owner.addr), 0);
    vu_fault_unregister(p);
    munmap(p, LEN);
    close(fd);
}

struct toucher {
    volatile uint8_t *p;
    uint8_t seen;
};

static void *touch(void *arg)
{
    struct toucher *t = arg;
    t->seen = t->p[0];
    return NULL;
}

/* Workers fault too: the repair does not depend on which thread touched the page. */
static void test_fault_on_another_thread(void **state)
{
    int fd;
    uint8_t *p = map_memfd(&fd, LEN);
    struct toucher t = { .p = p + 8 * 4096, .seen = 0xff };
    pthread_t th;

    (void)state;
    assert_int_equal(vu_fault_init(), 0);
    assert_int_equal(vu_fault_register(p, LEN, 4096, &owner), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pthread_create(&th, NULL, touch, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(t.seen, 0);
    assert_true(vu_fault_owner_faulted(&owner));
    vu_fault_owner_clear(&owner);
    vu_fault_unregister(p);
    munmap(p, LEN);
    close(fd);
}

/* Outside every registered mapping a bus error is a real bug: the process dies of it. */
static void test_unregistered_fault_is_fatal(void **state)
{
    int fd, status;
    uint8_t *p = map_memfd(&fd, LEN);
    pid_t pid;

    (void)state;
    assert_int_equal(vu_fault_register(p, LEN, 4096, &owner), 0);
    vu_fault_unregister(p);
    assert_int_equal(ftruncate(fd, 0), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Behind our handler, the process's own (here: the default) action. */
        signal(SIGBUS, SIG_DFL);
        if (vu_fault_init() < 0)
            _exit(2);
        volatile uint8_t v = p[4096];
        (void)v;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGBUS);
    assert_false(vu_fault_owner_faulted(&owner));
    munmap(p, LEN);
    close(fd);
}

static void test_registry_slots_are_reused(void **state)
{
    uint8_t page[1];

    (void)state;
    /* Far more registrations than slots, each undone: none may leak a slot. */
    for (unsigned i = 0; i < 10000; i++) {
        assert_int_equal(vu_fault_register(page, 1, 4096, &owner), 0);
        vu_fault_unregister(page);
    }
    vu_fault_unregister(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrunk_mapping_survives),
        cmocka_unit_test(test_fault_on_another_thread),
        cmocka_unit_test(test_unregistered_fault_is_fatal),
        cmocka_unit_test(test_registry_slots_are_reused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
