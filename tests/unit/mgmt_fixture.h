/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the management-plane unit tests (test_mgmt.c: block devices and
 * controllers; test_mgmt_lun.c: LUNs and resizes; test_mgmt_config.c: the
 * persisted configuration and the shutdown): mgmt.c on real threads, a
 * two-worker pool, controllers with their control threads listening in a
 * temp dir, and the helpers that add block devices, controllers and LUNs.
 */
#ifndef VUS_TESTS_UNIT_MGMT_FIXTURE_H
#define VUS_TESTS_UNIT_MGMT_FIXTURE_H

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/mgmt.h"
#include "tmp_dir.h"

#define NPOOL 2
#define MiB   (1024u * 1024u)

struct fx {
    char dir[64];
    struct worker pool[NPOOL];
    unsigned npool;
    struct mgmt m;
};

/* mgmt_shutdown's stop_pool takes no argument: the running test's pool. */
static struct fx *cur;

static inline void stop_pool(void)
{
    while (cur->npool > 0)
        worker_stop(&cur->pool[--cur->npool]);
}

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/vus_mgmt_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    for (f->npool = 0; f->npool < NPOOL; f->npool++)
        assert_int_equal(worker_start(&f->pool[f->npool], f->npool, 0), 0);
    mgmt_init(&f->m, f->pool, f->npool);
    cur = f;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;

    /* Whatever a test left up (a failed assertion): down, and the pool with it. */
    mgmt_shutdown(&f->m, stop_pool);
    stop_pool();
    tmp_dir_remove(f->dir);
    cur = NULL;
    free(f);
    return 0;
}

/* ---- helpers ---- */

static inline void path_in(const struct fx *f, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < len);
}

static inline bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* Connect to path; the fd or -errno. */
static inline int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    return fd;
}

static inline void sleep_ms(unsigned ms)
{
    const struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&t, NULL);
}

/* The controller's thread took the connection (so it serves it until it is dropped). */
static inline void wait_connected(struct mgmt_ctl *c, bool want)
{
    for (unsigned i = 0; i < 500 && atomic_load(&c->srv.connected) != want; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&c->srv.connected), want);
}

/* The peer closed the connection: EOF (or a reset) within 5 s. */
static inline void assert_closed_by_peer(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char ch;
    ssize_t n;

    assert_int_equal(poll(&p, 1, 5000), 1);
    n = read(fd, &ch, 1);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static inline struct bdev *open_bdev(enum bdev_type type, uint64_t size, uint32_t bs,
                                     const char *path)
{
    struct bdev_config cfg = { .type = type, .size = size, .block_size = bs, .path = path };
    struct bdev *b = NULL;
    char err[256] = "";

    if (bdev_open(&cfg, &b, err, sizeof(err)) != 0)
        fail_msg("bdev_open: %s", err);
    return b;
}

/* A named block device; params (may be NULL) as for mgmt_bdev_add. */
static inline struct mgmt_bdev *add_bdev(struct fx *f, const char *name, enum bdev_type type,
                                         uint64_t size, uint32_t bs, const char *path,
                                         json_t *params)
{
    static const char *const types[] = { "ram", "file", "null", "nvme" };
    struct bdev *b = open_bdev(type, size, bs, path);
    char err[256] = "";

    if (mgmt_bdev_add(&f->m, name, types[type], b, params, err, sizeof(err)) != 0)
        fail_msg("mgmt_bdev_add %s: %s", name, err);
    return mgmt_bdev_find(&f->m, name);
}

static inline struct mgmt_bdev *add_ram(struct fx *f, const char *name, uint64_t size)
{
    return add_bdev(f, name, BDEV_TYPE_RAM, size, 512, NULL, NULL);
}

/* A controller listening on DIR/NAME.sock. */
static inline struct mgmt_ctl *add_ctl(struct fx *f, const char *name, bool persist)
{
    char path[128], file[80], err[256] = "";

    snprintf(file, sizeof(file), "%s.sock", name);
    path_in(f, file, path, sizeof(path));
    if (mgmt_ctl_create(&f->m, name, path, -1, persist, err, sizeof(err)) != 0)
        fail_msg("mgmt_ctl_create %s: %s", name, err);
    return mgmt_ctl_find(&f->m, name);
}

static inline void attach_at(struct fx *f, const char *ctl, const char *bdev, int target, int lun,
                             json_t *params, unsigned want_t, unsigned want_l)
{
    struct mgmt_lun_spec spec = { .target = target, .lun = lun, .params = params };
    unsigned t = 999, l = 999;
    char err[256] = "";

    if (mgmt_lun_attach(&f->m, ctl, bdev, &spec, &t, &l, err, sizeof(err)) != 0)
        fail_msg("mgmt_lun_attach %s %s: %s", ctl, bdev, err);
    assert_int_equal(t, want_t);
    assert_int_equal(l, want_l);
}

static inline void detach(struct fx *f, const char *ctl, unsigned t, unsigned l)
{
    char err[256] = "";

    if (mgmt_lun_detach(&f->m, ctl, t, l, err, sizeof(err)) != 0)
        fail_msg("mgmt_lun_detach %s %u:%u: %s", ctl, t, l, err);
}

static inline void assert_contains(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' does not contain '%s'", s, needle);
}

#endif
