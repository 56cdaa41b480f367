/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The management plane (mgmt.c) on real threads: a two-worker pool,
 * controllers with their control threads listening in a temp dir, ram, null
 * and file block devices, LUNs attached and detached, resizes, the persisted
 * configuration and the shutdown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "config/config_file.h"
#include "daemon/mgmt.h"
#include "util/log.h"

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

static void stop_pool(void)
{
    while (cur->npool > 0)
        worker_stop(&cur->pool[--cur->npool]);
}

static int setup(void **state)
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

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *e;
    char p[384];

    /* Whatever a test left up (a failed assertion): down, and the pool with it. */
    mgmt_shutdown(&f->m, stop_pool);
    stop_pool();
    d = opendir(f->dir);
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    cur = NULL;
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void path_in(const struct fx *f, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < len);
}

static bool is_socket(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* Connect to path; the fd or -errno. */
static int connect_to(const char *path)
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

static void sleep_ms(unsigned ms)
{
    const struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&t, NULL);
}

/* The controller's thread took the connection (so it serves it until it is dropped). */
static void wait_connected(struct mgmt_ctl *c, bool want)
{
    for (unsigned i = 0; i < 500 && atomic_load(&c->srv.connected) != want; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&c->srv.connected), want);
}

/* The peer closed the connection: EOF (or a reset) within 5 s. */
static void assert_closed_by_peer(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char ch;
    ssize_t n;

    assert_int_equal(poll(&p, 1, 5000), 1);
    n = read(fd, &ch, 1);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static struct bdev *open_bdev(enum bdev_type type, uint64_t size, uint32_t bs, const char *path)
{
    struct bdev_config cfg = { .type = type, .size = size, .block_size = bs, .path = path };
    struct bdev *b = NULL;
    char err[256] = "";

    if (bdev_open(&cfg, &b, err, sizeof(err)) != 0)
        fail_msg("bdev_open: %s", err);
    return b;
}

/* A named block device; params (may be NULL) as for mgmt_bdev_add. */
static struct mgmt_bdev *add_bdev(struct fx *f, const char *name, enum bdev_type type,
                                  uint64_t size, uint32_t bs, const char *path, json_t *params)
{
    static const char *const types[] = { "ram", "file", "null", "nvme" };
    struct bdev *b = open_bdev(type, size, bs, path);
    char err[256] = "";

    if (mgmt_bdev_add(&f->m, name, types[type], b, params, err, sizeof(err)) != 0)
        fail_msg("mgmt_bdev_add %s: %s", name, err);
    return mgmt_bdev_find(&f->m, name);
}

static struct mgmt_bdev *add_ram(struct fx *f, const char *name, uint64_t size)
{
    return add_bdev(f, name, BDEV_TYPE_RAM, size, 512, NULL, NULL);
}

/* A controller listening on DIR/NAME.sock. */
static struct mgmt_ctl *add_ctl(struct fx *f, const char *name, bool persist)
{
    char path[128], file[80], err[256] = "";

    snprintf(file, sizeof(file), "%s.sock", name);
    path_in(f, file, path, sizeof(path));
    if (mgmt_ctl_create(&f->m, name, path, -1, persist, err, sizeof(err)) != 0)
        fail_msg("mgmt_ctl_create %s: %s", name, err);
    return mgmt_ctl_find(&f->m, name);
}

static void attach_at(struct fx *f, const char *ctl, const char *bdev, int target, int lun,
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

static void detach(struct fx *f, const char *ctl, unsigned t, unsigned l)
{
    char err[256] = "";

    if (mgmt_lun_detach(&f->m, ctl, t, l, err, sizeof(err)) != 0)
        fail_msg("mgmt_lun_detach %s %u:%u: %s", ctl, t, l, err);
}

static unsigned ua(struct mgmt_ctl *c, unsigned t, unsigned l)
{
    struct scsi_lun *sl = scsi_lookup(&c->c.targets, t, l);

    assert_non_null(sl);
    return atomic_load(&sl->ua_pending);
}

static void clear_ua(struct mgmt_ctl *c)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = c->c.targets.targets[t];

        if (!tgt)
            continue;
        atomic_store(&tgt->lun0_standin.ua_pending, 0);
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
            if (tgt->luns[l])
                atomic_store(&tgt->luns[l]->ua_pending, 0);
    }
}

/* The bookkeeping entry of LUN t:l, or NULL. */
static struct mgmt_lun *lun_entry(struct mgmt_ctl *c, unsigned t, unsigned l)
{
    for (struct mgmt_lun *x = c->luns; x; x = x->next)
        if (x->target == t && x->lun == l)
            return x;
    return NULL;
}

static void assert_contains(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' does not contain '%s'", s, needle);
}

struct sync_req {
    struct bdev_io io;
    int result, calls;
};

static void sync_cb(struct bdev_io *io, int result)
{
    struct sync_req *r = (struct sync_req *)((char *)io - offsetof(struct sync_req, io));

    r->calls++;
    r->result = result;
}

/* I/O on a ram device, which completes inside submit. */
static void ram_rw(struct bdev *b, enum bdev_io_type type, uint64_t off, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct sync_req r = {
        .io = { .type = type, .offset = off, .len = len, .iov = &iov, .iovcnt = 1, .cb = sync_cb }
    };

    assert_int_equal(bdev_submit(b, NULL, &r.io), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, 0);
}

/* ---- block devices ---- */

static void test_bdev_add_find_delete(void **state)
{
    struct fx *f = *state;
    struct mgmt_bdev *b;
    struct bdev *dup;
    char err[256] = "";

    b = add_ram(f, "r0", MiB);
    assert_non_null(b);
    assert_string_equal(b->name, "r0");
    assert_string_equal(b->type, "ram");
    assert_int_equal(b->bdev->size, MiB);
    assert_int_equal(b->attached, 0);
    assert_null(b->params);
    assert_null(mgmt_bdev_find(&f->m, "r1"));

    /* A second "r0" is refused; the caller still owns the backend it opened. */
    dup = open_bdev(BDEV_TYPE_NULL, MiB, 512, NULL);
    assert_int_equal(mgmt_bdev_add(&f->m, "r0", "null", dup, NULL, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "block device 'r0' already exists");
    bdev_close(dup);
    assert_ptr_equal(mgmt_bdev_find(&f->m, "r0"), b);
    assert_string_equal(mgmt_bdev_find(&f->m, "r0")->type, "ram");

    add_bdev(f, "n0", BDEV_TYPE_NULL, 2 * MiB, 4096, NULL, NULL);
    assert_int_equal(mgmt_bdev_find(&f->m, "n0")->bdev->block_size, 4096);

    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_null(mgmt_bdev_find(&f->m, "r0"));
    assert_non_null(mgmt_bdev_find(&f->m, "n0"));
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'r0'");
    assert_int_equal(mgmt_bdev_delete(&f->m, "nope", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'nope'");

    /* The name is free again. */
    add_ram(f, "r0", MiB);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "n0", err, sizeof(err)), 0);
    assert_null(f->m.bdevs);
}

static void test_bdev_delete_attached(void **state)
{
    struct fx *f = *state;
    struct mgmt_bdev *b = add_ram(f, "r0", MiB);
    char err[256] = "";

    add_ctl(f, "c0", false);
    add_ctl(f, "c1", false);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 1);
    attach_at(f, "c1", "r0", 4, 9, NULL, 4, 9);
    assert_int_equal(b->attached, 3);

    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_string_equal(err, "block device 'r0' is attached to 3 LUN(s): detach first");
    assert_ptr_equal(mgmt_bdev_find(&f->m, "r0"), b);

    detach(f, "c0", 0, 1);
    assert_int_equal(b->attached, 2);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_contains(err, "attached to 2 LUN(s)");

    /* Deleting a controller lets go of its LUNs' block devices, which stay. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), 0);
    assert_int_equal(b->attached, 1);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), -EBUSY);
    assert_contains(err, "attached to 1 LUN(s)");
    detach(f, "c1", 4, 9);
    assert_int_equal(b->attached, 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_null(mgmt_bdev_find(&f->m, "r0"));
}

/* ---- controllers ---- */

static void test_ctl_create_connect_delete(void **state)
{
    struct fx *f = *state;
    char path[128], err[256] = "";
    struct mgmt_ctl *c;
    int fd;

    path_in(f, "c0.sock", path, sizeof(path));
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", path, -1, true, err, sizeof(err)), 0);
    c = mgmt_ctl_find(&f->m, "c0");
    assert_non_null(c);
    assert_string_equal(c->name, "c0");
    assert_string_equal(c->socket_path, path);
    assert_true(c->persist);
    assert_null(c->luns);
    assert_true(is_socket(path));

    /* A frontend can connect, and the control thread takes it. */
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    /* Deleting it drops the frontend and removes the socket. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), 0);
    assert_null(mgmt_ctl_find(&f->m, "c0"));
    assert_null(f->m.ctls);
    assert_closed_by_peer(fd);
    close(fd);
    assert_false(exists(path));
    assert_int_equal(connect_to(path), -ENOENT);

    assert_int_equal(mgmt_ctl_delete(&f->m, "c0", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no controller 'c0'");

    /* The name and the path can be used again. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", path, -1, false, err, sizeof(err)), 0);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(mgmt_ctl_find(&f->m, "c0"), true);
    close(fd);
    /* A frontend that hangs up: the controller listens again. */
    wait_connected(mgmt_ctl_find(&f->m, "c0"), false);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(mgmt_ctl_find(&f->m, "c0"), true);
    close(fd);
}

static void test_ctl_create_refused(void **state)
{
    struct fx *f = *state;
    char path[128], other[128], file[128], nodir[160], err[256] = "";
    struct mgmt_ctl *c;
    struct stat st;
    int fd;

    c = add_ctl(f, "c0", true);
    path_in(f, "c0.sock", path, sizeof(path));
    path_in(f, "other.sock", other, sizeof(other));

    /* The same name, even on another path: nothing is created there. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c0", other, -1, true, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "controller 'c0' already exists");
    assert_false(exists(other));

    /* The same path under another name: c0 keeps its socket. */
    assert_int_equal(mgmt_ctl_create(&f->m, "c1", path, -1, true, err, sizeof(err)), -EEXIST);
    assert_contains(err, path);
    assert_contains(err, "'c0'");
    assert_null(mgmt_ctl_find(&f->m, "c1"));
    assert_true(is_socket(path));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);
    close(fd);

    /* A directory that does not exist: the reason, and nothing left behind. */
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/c2.sock", f->dir);
    assert_true(mgmt_ctl_create(&f->m, "c2", nodir, -1, true, err, sizeof(err)) < 0);
    assert_contains(err, nodir);
    assert_contains(err, strerror(ENOENT));
    assert_null(mgmt_ctl_find(&f->m, "c2"));

    /* A regular file at the path is not replaced. */
    path_in(f, "file", file, sizeof(file));
    fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "data", 4), 4);
    close(fd);
    assert_int_equal(mgmt_ctl_create(&f->m, "c3", file, -1, true, err, sizeof(err)), -EEXIST);
    assert_contains(err, "is not a socket");
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
    assert_null(mgmt_ctl_find(&f->m, "c3"));

    /* Only c0 is there, and the failures cost the list nothing. */
    assert_ptr_equal(f->m.ctls, c);
    assert_null(c->next);

    /* A second controller on its own path is fine, and the first keeps working. */
    add_ctl(f, "c1", true);
    assert_non_null(mgmt_ctl_find(&f->m, "c1"));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);
    close(fd);
}

/* A socket handed over (systemd): served, labelled, and never unlinked by us. */
static void test_ctl_inherited_fd(void **state)
{
    struct fx *f = *state;
    char path[128], err[256] = "";
    struct mgmt_ctl *c;
    int lfd, fd;

    path_in(f, "inherited.sock", path, sizeof(path));
    lfd = server_listen(path, err, sizeof(err));
    assert_true(lfd >= 0);
    assert_int_equal(mgmt_ctl_create(&f->m, "sd", "fd 3", lfd, false, err, sizeof(err)), 0);
    c = mgmt_ctl_find(&f->m, "sd");
    assert_non_null(c);
    assert_string_equal(c->socket_path, "");
    assert_string_equal(c->srv.name, "fd 3");
    /* Live: another listener may not take the path over. */
    assert_int_equal(server_listen(path, err, sizeof(err)), -EADDRINUSE);
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    assert_int_equal(mgmt_ctl_delete(&f->m, "sd", err, sizeof(err)), 0);
    assert_closed_by_peer(fd);
    close(fd);
    assert_true(is_socket(path)); /* its owner's to remove */
}

/* ---- LUNs ---- */

static void test_lun_attach_addresses_and_ua(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB), *r1 = add_ram(f, "r1", MiB);
    struct mgmt_lun_spec spec = { .target = -1, .lun = -1 };
    struct scsi_lun *sl;
    unsigned t, l;
    char path[128], err[256] = "";
    int fd;

    /* With a frontend connected: the workers are paused around every change. */
    path_in(f, "c0.sock", path, sizeof(path));
    fd = connect_to(path);
    assert_true(fd >= 0);
    wait_connected(c, true);

    /* Defaults: target 0, lowest free LUN. */
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    sl = scsi_lookup(&c->c.targets, 0, 0);
    assert_non_null(sl);
    assert_ptr_equal(sl->bdev, r0->bdev);
    assert_true(sl->bdev_borrowed);
    assert_non_null(sl->stats);
    /* A new unit: POWER ON, and not REPORTED LUNS (it has nothing to report as changed). */
    assert_int_equal(ua(c, 0, 0), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(r0->attached, 1);
    assert_non_null(lun_entry(c, 0, 0));
    assert_ptr_equal(lun_entry(c, 0, 0)->bdev, r0);

    clear_ua(c);
    attach_at(f, "c0", "r1", 0, -1, NULL, 0, 1);
    assert_int_equal(ua(c, 0, 1), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(r1->attached, 1);

    /* Explicit address on another target: target 0's LUNs hear nothing. */
    clear_ua(c);
    attach_at(f, "c0", "r0", 3, 7, NULL, 3, 7);
    assert_int_equal(ua(c, 3, 7), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 0, 0), 0);
    assert_int_equal(ua(c, 0, 1), 0);
    assert_int_equal(r0->attached, 2);
    /* Target 3 has no LUN 0: its stand-in answers there. */
    sl = scsi_lookup(&c->c.targets, 3, 0);
    assert_non_null(sl);
    assert_null(sl->bdev);
    assert_null(scsi_lookup(&c->c.targets, 3, 6));
    /* Default LUN on target 3: the lowest free is 0. */
    clear_ua(c);
    attach_at(f, "c0", "r1", 3, -1, NULL, 3, 0);
    assert_int_equal(ua(c, 3, 0), SCSI_UA_POWER_ON_RESET);
    assert_int_equal(ua(c, 3, 7), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 0), 0);

    /* Occupied: -EEXIST, and nothing changes. */
    clear_ua(c);
    spec = (struct mgmt_lun_spec){ .target = 0, .lun = 1 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EEXIST);
    assert_contains(err, "0:1");
    assert_int_equal(r0->attached, 2);
    assert_ptr_equal(scsi_lookup(&c->c.targets, 0, 1)->bdev, r1->bdev);
    assert_int_equal(ua(c, 0, 0), 0);
    assert_int_equal(ua(c, 0, 1), 0);

    /* Unknown controller or bdev. */
    spec = (struct mgmt_lun_spec){ .target = -1, .lun = -1 };
    assert_int_equal(mgmt_lun_attach(&f->m, "nope", "r0", &spec, &t, &l, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "no controller 'nope'");
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "nope", &spec, &t, &l, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "no block device 'nope'");
    assert_int_equal(r0->attached, 2);

    /* Out of range (the RPC layer stops these; mgmt must not index past the map either). */
    spec = (struct mgmt_lun_spec){ .target = 256, .lun = 0 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EINVAL);
    assert_contains(err, "out of range");
    spec = (struct mgmt_lun_spec){ .target = 256, .lun = -1 };
    assert_true(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)) < 0);
    spec = (struct mgmt_lun_spec){ .target = 0, .lun = 256 };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(r0->attached, 2);

    /* Serial and WWN given by the caller. */
    spec = (struct mgmt_lun_spec){
        .target = 1, .lun = 2, .serial = "SERIAL-1", .wwn = 0x5001122334455667ull
    };
    assert_int_equal(mgmt_lun_attach(&f->m, "c0", "r0", &spec, &t, &l, err, sizeof(err)), 0);
    sl = scsi_lookup(&c->c.targets, 1, 2);
    assert_non_null(sl);
    assert_string_equal(sl->serial, "SERIAL-1");
    assert_int_equal(sl->wwn, 0x5001122334455667ull);
    assert_int_equal(r0->attached, 3);
    assert_true(atomic_load(&c->srv.connected));
    close(fd);
}

static void test_lun_detach(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false), *c1 = add_ctl(f, "c1", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB), *r1 = add_ram(f, "r1", MiB);
    char err[256] = "";

    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c0", "r1", -1, -1, NULL, 0, 1);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 2);
    attach_at(f, "c0", "r1", 5, 5, NULL, 5, 5);
    attach_at(f, "c1", "r0", -1, -1, NULL, 0, 0);
    assert_int_equal(r0->attached, 3);
    assert_int_equal(r1->attached, 2);
    clear_ua(c);
    clear_ua(c1);

    detach(f, "c0", 0, 1);
    assert_null(scsi_lookup(&c->c.targets, 0, 1));
    assert_null(lun_entry(c, 0, 1));
    assert_int_equal(r1->attached, 1);
    /* The rest of the target hears about it; other targets and controllers do not. */
    assert_int_equal(ua(c, 0, 0), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 2), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 5, 5), 0);
    assert_int_equal(ua(c1, 0, 0), 0);

    /* The freed number is the lowest free one again. */
    attach_at(f, "c0", "r1", 0, -1, NULL, 0, 1);
    assert_int_equal(r1->attached, 2);

    /* LUN 0 goes: the stand-in answers at 0 for the others. */
    clear_ua(c);
    detach(f, "c0", 0, 0);
    assert_int_equal(r0->attached, 2);
    assert_null(scsi_lookup(&c->c.targets, 0, 0)->bdev);
    assert_int_equal(ua(c, 0, 1), SCSI_UA_REPORTED_LUNS);
    assert_int_equal(ua(c, 0, 2), SCSI_UA_REPORTED_LUNS);

    /*
     * The last LUN of target 5: the target looks absent (workers may still
     * hold it, so it stays allocated until the set goes).
     */
    detach(f, "c0", 5, 5);
    assert_int_equal(atomic_load(&c->c.targets.targets[5]->nluns), 0);
    assert_null(scsi_lookup(&c->c.targets, 5, 0));
    assert_null(scsi_lookup(&c->c.targets, 5, 5));
    assert_int_equal(r1->attached, 1);

    /* Unknown LUN and controller. */
    assert_int_equal(mgmt_lun_detach(&f->m, "c0", 5, 5, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "controller 'c0' has no LUN 5:5");
    assert_int_equal(mgmt_lun_detach(&f->m, "c0", 0, 0, err, sizeof(err)), -ENOENT);
    assert_int_equal(mgmt_lun_detach(&f->m, "nope", 0, 0, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no controller 'nope'");
    assert_int_equal(r0->attached, 2);

    detach(f, "c0", 0, 1);
    detach(f, "c0", 0, 2);
    detach(f, "c1", 0, 0);
    assert_null(c->luns);
    assert_null(c1->luns);
    assert_null(scsi_lookup(&c->c.targets, 0, 0));
    assert_int_equal(r0->attached, 0);
    assert_int_equal(r1->attached, 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r0", err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_delete(&f->m, "r1", err, sizeof(err)), 0);
}

/* ---- resize ---- */

static void test_resize_ram(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c0 = add_ctl(f, "c0", false), *c1 = add_ctl(f, "c1", false);
    struct mgmt_bdev *r0 = add_ram(f, "r0", MiB);
    uint8_t blk[512], back[512];
    uint64_t bytes = 0;
    char err[256] = "";

    add_ram(f, "r1", MiB);
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 0);
    attach_at(f, "c1", "r0", 2, 3, NULL, 2, 3);
    attach_at(f, "c1", "r1", 2, -1, NULL, 2, 0);
    clear_ua(c0);
    clear_ua(c1);

    memset(blk, 0xa5, sizeof(blk));
    ram_rw(r0->bdev, BDEV_IO_WRITE, 0, blk, sizeof(blk));

    /* Grow: the size, both LUNs on r0, and only them. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 4 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(r0->bdev->size, 4 * MiB);
    assert_ptr_equal(scsi_lookup(&c0->c.targets, 0, 0)->bdev, r0->bdev);
    assert_int_equal(ua(c0, 0, 0), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 3), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 0), 0);
    /* The new end is usable and reads zeroes; the old data stays. */
    ram_rw(r0->bdev, BDEV_IO_READ, 4 * MiB - 512, back, sizeof(back));
    for (size_t i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], 0);
    ram_rw(r0->bdev, BDEV_IO_WRITE, 4 * MiB - 512, blk, sizeof(blk));
    ram_rw(r0->bdev, BDEV_IO_READ, 0, back, sizeof(back));
    assert_memory_equal(back, blk, sizeof(blk));

    /* Shrink. */
    clear_ua(c0);
    clear_ua(c1);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 512 * 1024, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(r0->bdev->size, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), SCSI_UA_CAPACITY_CHANGED);
    assert_int_equal(ua(c1, 2, 3), SCSI_UA_CAPACITY_CHANGED);
    ram_rw(r0->bdev, BDEV_IO_READ, 0, back, sizeof(back));
    assert_memory_equal(back, blk, sizeof(blk));

    /* The same size again: nothing to tell anyone. */
    clear_ua(c0);
    clear_ua(c1);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 512 * 1024, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), 0);

    /* Not a multiple of the block size, or zero: refused, size unchanged. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, MiB + 100, &bytes, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "size: must be a non-zero multiple of the block size 512");
    assert_int_equal(bytes, 512 * 1024);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", true, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_int_equal(r0->bdev->size, 512 * 1024);
    assert_int_equal(ua(c0, 0, 0), 0);

    /* A ram disk has no outside size to re-read. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "r0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "size: required for a ram block device");
    assert_int_equal(bytes, 512 * 1024);

    assert_int_equal(mgmt_bdev_resize(&f->m, "nope", true, MiB, &bytes, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no block device 'nope'");

    /* 4 KiB blocks: 512-byte multiples are not enough. */
    add_bdev(f, "r4k", BDEV_TYPE_RAM, MiB, 4096, NULL, NULL);
    assert_int_equal(mgmt_bdev_resize(&f->m, "r4k", true, MiB + 512, &bytes, err, sizeof(err)),
                     -EINVAL);
    assert_contains(err, "block size 4096");
    assert_int_equal(mgmt_bdev_resize(&f->m, "r4k", true, MiB + 4096, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, MiB + 4096);

    /* An unattached null device resizes too. */
    add_bdev(f, "n0", BDEV_TYPE_NULL, MiB, 512, NULL, NULL);
    assert_int_equal(mgmt_bdev_resize(&f->m, "n0", true, 8 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(mgmt_bdev_find(&f->m, "n0")->bdev->size, 8 * MiB);
    assert_int_equal(mgmt_bdev_resize(&f->m, "n0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "size: required for a null block device");
}

static void test_resize_file(void **state)
{
    struct fx *f = *state;
    struct mgmt_ctl *c = add_ctl(f, "c0", false);
    struct mgmt_bdev *b;
    char path[128], err[256] = "";
    uint64_t bytes = 0;
    struct stat st;
    int fd;

    path_in(f, "disk.img", path, sizeof(path));
    fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MiB), 0);
    close(fd);
    b = add_bdev(f, "f0", BDEV_TYPE_FILE, 0, 512, path, NULL);
    assert_int_equal(b->bdev->size, MiB);
    attach_at(f, "c0", "f0", -1, -1, NULL, 0, 0);
    clear_ua(c);

    /* Grown outside, then re-read. */
    assert_int_equal(truncate(path, 3 * MiB), 0);
    assert_int_equal(b->bdev->size, MiB);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 3 * MiB);
    assert_int_equal(b->bdev->size, 3 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);

    /* A partial block at the end does not count: nothing changed. */
    clear_ua(c);
    assert_int_equal(truncate(path, 3 * MiB + 100), 0);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 3 * MiB);
    assert_int_equal(ua(c, 0, 0), 0);

    /* Resized by us: the file follows. */
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", true, 4 * MiB, &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);

    /* Cut below one block outside: refused, the old size kept. */
    clear_ua(c);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(mgmt_bdev_resize(&f->m, "f0", false, 0, &bytes, err, sizeof(err)), -EINVAL);
    assert_contains(err, "smaller than one block");
    assert_contains(err, path);
    assert_int_equal(bytes, 4 * MiB);
    assert_int_equal(b->bdev->size, 4 * MiB);
    assert_int_equal(ua(c, 0, 0), 0);

    /* SIGHUP's rescan does the same for every device. */
    assert_int_equal(truncate(path, 2 * MiB), 0);
    mgmt_rescan(&f->m);
    assert_int_equal(b->bdev->size, 2 * MiB);
    assert_int_equal(ua(c, 0, 0), SCSI_UA_CAPACITY_CHANGED);
}

/* ---- configuration ---- */

static json_t *loads(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (!v)
        fail_msg("bad test JSON '%s': %s", text, e.text);
    return v;
}

static void assert_json_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);

        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
}

static void test_config(void **state)
{
    struct fx *f = *state;
    char cfgpath[128], sock[3][128], err[512] = "", want_text[2048];
    json_t *p_r0 = loads("{\"name\": \"r0\", \"type\": \"ram\", \"size\": \"1M\"}");
    json_t *p_r1 = loads("{\"name\": \"r1\", \"type\": \"null\", \"size\": 1048576}");
    json_t *l1 = loads("{\"controller\": \"c0\", \"bdev\": \"r0\"}");
    json_t *l2 = loads("{\"controller\": \"c0\", \"bdev\": \"r1\", \"target\": 2}");
    json_t *l3 = loads("{\"controller\": \"c0\", \"bdev\": \"r0\", \"serial\": \"S3\"}");
    json_t *l4 = loads("{\"controller\": \"c1\", \"bdev\": \"r1\", \"lun\": 4}");
    json_t *lx = loads("{\"controller\": \"c0\", \"bdev\": \"cli\"}");
    json_t *ly = loads("{\"controller\": \"cli\", \"bdev\": \"r0\"}");
    json_t *cfg, *want, *loaded;

    /* Created by RPC (params) and from the command line (none), mixed. */
    add_bdev(f, "r0", BDEV_TYPE_RAM, MiB, 512, NULL, p_r0);
    add_bdev(f, "cli", BDEV_TYPE_RAM, MiB, 512, NULL, NULL);
    add_bdev(f, "r1", BDEV_TYPE_NULL, MiB, 512, NULL, p_r1);
    add_ctl(f, "c0", true);
    add_ctl(f, "cli", false);
    add_ctl(f, "c1", true);
    attach_at(f, "c0", "r0", -1, -1, l1, 0, 0);
    attach_at(f, "c0", "r1", 2, -1, l2, 2, 0);
    attach_at(f, "c0", "cli", -1, -1, lx, 0, 1);  /* its bdev is not persisted */
    attach_at(f, "cli", "r0", -1, -1, ly, 0, 0);  /* its controller is not */
    attach_at(f, "c0", "r0", -1, -1, NULL, 0, 2); /* no params: command line */
    attach_at(f, "c0", "r0", -1, -1, l3, 0, 3);
    attach_at(f, "c1", "r1", -1, 4, l4, 0, 4);
    /* The params are referenced, not copied: the caller's are free to go. */
    assert_int_equal(p_r0->refcount, 2);

    for (unsigned i = 0; i < 3; i++) {
        static const char *const n[] = { "c0.sock", "cli.sock", "c1.sock" };
        path_in(f, n[i], sock[i], sizeof(sock[i]));
    }
    snprintf(want_text, sizeof(want_text),
             "{\"version\": 1,"
             " \"bdevs\": [{\"name\": \"r0\", \"type\": \"ram\", \"size\": \"1M\"},"
             "            {\"name\": \"r1\", \"type\": \"null\", \"size\": 1048576}],"
             " \"controllers\": [{\"name\": \"c0\", \"socket_path\": \"%s\"},"
             "                  {\"name\": \"c1\", \"socket_path\": \"%s\"}],"
             " \"luns\": [{\"controller\": \"c0\", \"bdev\": \"r0\", \"target\": 0, \"lun\": 0},"
             "           {\"controller\": \"c0\", \"bdev\": \"r1\", \"target\": 2, \"lun\": 0},"
             "           {\"controller\": \"c0\", \"bdev\": \"r0\", \"serial\": \"S3\","
             "            \"target\": 0, \"lun\": 3},"
             "           {\"controller\": \"c1\", \"bdev\": \"r1\", \"target\": 0, \"lun\": 4}]}",
             sock[0], sock[2]);
    want = loads(want_text);
    cfg = mgmt_config(&f->m);
    assert_non_null(cfg);
    assert_json_equal(cfg, want);
    assert_int_equal(config_validate(cfg, "mgmt", err, sizeof(err)), 0);
    /* The caller's params were not changed by filling in the address. */
    assert_null(json_object_get(l1, "target"));

    /* No path: nothing to save. */
    assert_int_equal(mgmt_save(&f->m), 0);

    /* Saved, and read back the same. */
    path_in(f, "config.json", cfgpath, sizeof(cfgpath));
    f->m.config_path = cfgpath;
    assert_int_equal(mgmt_save(&f->m), 0);
    loaded = config_load(cfgpath, err, sizeof(err));
    if (!loaded)
        fail_msg("config_load: %s", err);
    assert_json_equal(loaded, want);
    json_decref(loaded);

    /* While restoring, the file is left alone. */
    assert_int_equal(unlink(cfgpath), 0);
    f->m.restoring = true;
    detach(f, "c0", 2, 0);
    assert_int_equal(mgmt_save(&f->m), 0);
    assert_false(exists(cfgpath));
    f->m.restoring = false;

    /* Changes show: the detached LUN and a deleted controller's are gone. */
    assert_int_equal(mgmt_ctl_delete(&f->m, "c1", err, sizeof(err)), 0);
    assert_int_equal(mgmt_save(&f->m), 0);
    loaded = config_load(cfgpath, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_CONTROLLERS)), 1);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_LUNS)), 2);
    assert_int_equal(json_array_size(config_items(loaded, CONFIG_BDEVS)), 2);
    assert_json_equal(json_array_get(config_items(loaded, CONFIG_LUNS), 1),
                      json_array_get(config_items(want, CONFIG_LUNS), 2));
    json_decref(loaded);

    f->m.config_path = NULL;
    json_decref(cfg);
    json_decref(want);
    json_decref(p_r0);
    json_decref(p_r1);
    json_decref(l1);
    json_decref(l2);
    json_decref(l3);
    json_decref(l4);
    json_decref(lx);
    json_decref(ly);
}

/* An empty daemon's configuration is the empty one. */
static void test_config_empty(void **state)
{
    struct fx *f = *state;
    json_t *cfg, *empty = config_new();

    add_ram(f, "cli", MiB);
    add_ctl(f, "cli", false);
    attach_at(f, "cli", "cli", -1, -1, NULL, 0, 0);
    cfg = mgmt_config(&f->m);
    assert_json_equal(cfg, empty);
    json_decref(cfg);
    json_decref(empty);
}

/* ---- shutdown ---- */

static void test_shutdown_everything(void **state)
{
    struct fx *f = *state;
    char p0[128], p1[128], img[128];
    json_t *params = loads("{\"name\": \"f0\", \"type\": \"file\"}");
    struct mgmt_ctl *c0, *c1;
    int fd0, fd1, fd;

    path_in(f, "disk.img", img, sizeof(img));
    fd = open(img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MiB), 0);
    close(fd);
    add_ram(f, "r0", MiB);
    add_bdev(f, "n0", BDEV_TYPE_NULL, MiB, 4096, NULL, NULL);
    add_bdev(f, "f0", BDEV_TYPE_FILE, 0, 512, img, params);
    add_ram(f, "spare", MiB);
    c0 = add_ctl(f, "c0", true);
    c1 = add_ctl(f, "c1", false);
    attach_at(f, "c0", "r0", -1, -1, params, 0, 0);
    attach_at(f, "c0", "n0", -1, -1, NULL, 0, 1);
    attach_at(f, "c1", "f0", 1, 1, NULL, 1, 1);
    attach_at(f, "c1", "r0", -1, -1, NULL, 0, 0);
    path_in(f, "c0.sock", p0, sizeof(p0));
    path_in(f, "c1.sock", p1, sizeof(p1));
    fd0 = connect_to(p0);
    fd1 = connect_to(p1);
    assert_true(fd0 >= 0 && fd1 >= 0);
    wait_connected(c0, true);
    wait_connected(c1, true);

    mgmt_shutdown(&f->m, stop_pool);
    assert_int_equal(f->npool, 0);
    assert_null(f->m.ctls);
    assert_null(f->m.bdevs);
    assert_false(exists(p0));
    assert_false(exists(p1));
    assert_true(exists(img));
    assert_closed_by_peer(fd0);
    assert_closed_by_peer(fd1);
    close(fd0);
    close(fd1);
    /* Everything else was freed: ASan's leak check at exit says so. */
    assert_int_equal(params->refcount, 1);
    json_decref(params);
}

/* Without a pool-stopping callback (the caller stops it afterwards). */
static void test_shutdown_empty_and_twice(void **state)
{
    struct fx *f = *state;

    mgmt_shutdown(&f->m, NULL);
    mgmt_shutdown(&f->m, stop_pool);
    assert_int_equal(f->npool, 0);
    add_ram(f, "r0", MiB); /* still usable as a registry: freed by teardown's shutdown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bdev_add_find_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bdev_delete_attached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_create_connect_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_create_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_inherited_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lun_attach_addresses_and_ua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lun_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_empty_and_twice, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
