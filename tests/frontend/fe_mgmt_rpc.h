/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the programs that test the JSON-RPC methods against the real
 * daemon (test_fe_mgmt_errors.c, test_fe_mgmt_hotplug.c,
 * test_fe_mgmt_resize_stats.c): one daemon per program, started with
 * --rpc-socket and two threads, an RPC connection renewed after every test,
 * a frontend doing verified I/O in the background, and what a frontend sees
 * of hotplug and resize (events, unit attentions, READ CAPACITY).
 * Header-only; include cmocka.h first.
 */
#ifndef VUS_TESTS_FRONTEND_FE_MGMT_RPC_H
#define VUS_TESTS_FRONTEND_FE_MGMT_RPC_H

#include <sys/stat.h>

#include "tests/frontend/fe_mgmt.h"
#include "tests/frontend/fuse_gate.h"

#define MiB (1024u * 1024u)

static struct mdaemon dmn;
static struct rpc_cl cl;
static struct fuse_gate gate;  /* a file whose I/O the test holds in flight */
static struct vus_fe *open_fe; /* closed by test_teardown when a test fails with it open */

/* The daemon and the RPC connection (test_fe_mgmt_hotplug.c starts the FUSE gate first). */
static inline int group_setup(void **state)
{
    static const char *const args[] = { "--threads", "2", NULL };

    (void)state;
    if (mgmt_init(&dmn) < 0 || mgmt_start(&dmn, false, args) < 0)
        return -1;
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    int ret;

    (void)state;
    rpc_cl_close(&cl);
    fuse_gate_release(&gate); /* the daemon's orderly exit waits for held I/O */
    ret = mgmt_stop(&dmn);
    fuse_gate_stop(&gate);
    mgmt_cleanup(&dmn);
    return ret == 0 ? 0 : -1;
}

/* The daemon is alive after every test; a test that failed mid-call gets a fresh connection. */
static inline int test_teardown(void **state)
{
    (void)state;
    rpc_cl_close(&cl);
    if (open_fe) {
        fuse_gate_release(&gate);
        vus_fe_close(open_fe);
        open_fe = NULL;
    }
    if (!mgmt_alive(&dmn)) {
        mgmt_dump_log(&dmn, "the daemon died");
        return -1;
    }
    return rpc_cl_connect(&cl, dmn.rpc, 2000) == 0 ? 0 : -1;
}

static inline const char *sock_path(const char *name)
{
    static char buf[4][160];
    static unsigned k;
    char *p = buf[k++ % 4];

    snprintf(p, 160, "%s/%s.sock", dmn.dir, name);
    return p;
}

/* ---- a frontend doing verified I/O in the background ---- */

struct io_runner {
    struct vus_fe *fe;
    pthread_t th;
    bool running;
    unsigned lun;
    atomic_bool stop;
    atomic_ulong rounds;
    atomic_uint errors;
    atomic_long max_ms;
    unsigned block_size;
    bool tolerate_ua; /* retry unit attentions and record them in uas (read after the stop) */
    struct mgmt_uas uas;
    char why[256];
};

static inline void *io_runner_main(void *arg)
{
    struct io_runner *io = arg;
    struct vus_fe_vq *vq = vus_fe_vq(io->fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *w = vus_fe_alloc(io->fe, 65536, 4096), *r = vus_fe_alloc(io->fe, 65536, 4096);

    for (unsigned i = 0; !atomic_load(&io->stop); i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        unsigned blocks = 65536 / io->block_size;
        if (mgmt_verified_io_ua(vq, 0, io->lun, (i % 32) * blocks, blocks, io->block_size, w, r, i,
                                io->why, sizeof(io->why), io->tolerate_ua ? &io->uas : NULL) < 0) {
            atomic_fetch_add(&io->errors, 1);
            break;
        }
        long ms = rpc_ms_since(&t0);
        if (ms > atomic_load(&io->max_ms))
            atomic_store(&io->max_ms, ms);
        atomic_fetch_add(&io->rounds, 1);
        usleep(500);
    }
    return NULL;
}

static inline void io_runner_start(struct io_runner *io, struct vus_fe *fe, unsigned lun,
                                   unsigned block_size, bool tolerate_ua)
{
    memset(io, 0, sizeof(*io));
    io->fe = fe;
    io->lun = lun;
    io->block_size = block_size;
    io->tolerate_ua = tolerate_ua;
    assert_int_equal(pthread_create(&io->th, NULL, io_runner_main, io), 0);
    io->running = true;
}

static inline void io_runner_stop(struct io_runner *io)
{
    if (!io->running)
        return;
    atomic_store(&io->stop, true);
    pthread_join(io->th, NULL);
    io->running = false;
}

/* At least one more round within 5 s, and no error so far. */
static inline void io_runner_progress(struct io_runner *io, const char *when)
{
    unsigned long before = atomic_load(&io->rounds);

    for (int ms = 0; ms < 5000 && atomic_load(&io->rounds) == before && !atomic_load(&io->errors);
         ms += 5)
        usleep(5000);
    if (atomic_load(&io->errors))
        fail_msg("frontend I/O failed %s: %s", when, io->why);
    if (atomic_load(&io->rounds) == before)
        fail_msg("frontend I/O stalled %s", when);
}

/* A controller with one RAM LUN at 0:0 and a connected frontend with the power-on UA cleared. */
static inline struct vus_fe *ctrl_with_frontend(const char *ctrl, const char *bdev,
                                                const char *size)
{
    struct vus_fe *fe;

    rpc_dof(&cl, "bdev_create", "{s:s, s:s, s:s}", "name", bdev, "type", "ram", "size", size);
    rpc_dof(&cl, "controller_create", "{s:s, s:s}", "name", ctrl, "socket_path", sock_path(ctrl));
    rpc_dof(&cl, "lun_attach", "{s:s, s:s, s:i, s:i}", "controller", ctrl, "bdev", bdev, "target",
            0, "lun", 0);
    assert_int_equal(mgmt_fe_open(sock_path(ctrl), 1, 4 * MiB, &fe), 0);
    clear_ua(vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST), 0, 0);
    return fe;
}

/* ---- hotplug and resize as the frontend sees them ---- */

static inline uint8_t sense_ascq(const struct vus_fe_cmd *c)
{
    return (c->sense[0] & 0x7f) >= 0x72 ? c->sense[3] : c->sense[13];
}

static inline void tur(struct vus_fe_vq *vq, unsigned target, unsigned lun, struct vus_fe_cmd *c)
{
    memset(c, 0, sizeof(*c));
    c->target = target;
    c->lun = lun;
    assert_int_equal(vus_fe_cmd_exec(vq, c, T_TIMEOUT), 0);
}

/* The next command on target:lun reports this unit attention, and the one after is GOOD. */
static inline void expect_ua_once(struct vus_fe_vq *vq, unsigned target, unsigned lun, uint8_t asc,
                                  uint8_t ascq)
{
    struct vus_fe_cmd c;
    uint8_t key, a;

    tur(vq, target, lun, &c);
    if (c.response != VIRTIO_SCSI_S_OK)
        fail_msg("%u:%u: response %u, expected a unit attention %02x/%02x", target, lun, c.response,
                 asc, ascq);
    if (c.status != 2)
        fail_msg("%u:%u: status %u, expected a unit attention %02x/%02x", target, lun, c.status,
                 asc, ascq);
    sense_key_asc(&c, &key, &a);
    if (key != 6 || a != asc || sense_ascq(&c) != ascq)
        fail_msg("%u:%u: sense %x/%02x/%02x, expected 6/%02x/%02x", target, lun, key, a,
                 sense_ascq(&c), asc, ascq);
    tur(vq, target, lun, &c);
    if (c.response != VIRTIO_SCSI_S_OK || c.status != 0) {
        sense_key_asc(&c, &key, &a);
        fail_msg("%u:%u: the unit attention %02x/%02x came again or another followed: response "
                 "%u status %u sense %x/%02x/%02x",
                 target, lun, asc, ascq, c.response, c.status, key, a, sense_ascq(&c));
    }
}

static inline void expect_event(struct vus_fe *fe, uint32_t event, uint32_t reason, unsigned target,
                                unsigned lun, const char *what)
{
    struct virtio_scsi_event ev;
    uint32_t len;
    unsigned t, l;

    if (!mgmt_wait_event(fe, &ev, &len, T_TIMEOUT))
        fail_msg("%s: no event within %d ms", what, T_TIMEOUT);
    mgmt_event_lun(&ev, &t, &l);
    if (len != sizeof(ev) || ev.event != event || ev.reason != reason || ev.lun[0] != 1 ||
        t != target || l != lun)
        fail_msg("%s: event %#x reason %#x for %u:%u (len %u), expected event %#x reason %#x for "
                 "%u:%u",
                 what, ev.event, ev.reason, t, l, len, event, reason, target, lun);
    assert_int_equal(vus_fe_event_post(fe, 1), 0); /* give the buffer back */
}

static inline void no_more_events(struct vus_fe *fe)
{
    struct virtio_scsi_event ev;
    uint32_t len;

    if (mgmt_wait_event(fe, &ev, &len, 200))
        fail_msg("an unexpected event %#x reason %#x for %u:%u", ev.event, ev.reason, ev.lun[1],
                 ev.lun[3]);
}

static inline uint64_t read_capacity_blocks(struct vus_fe *fe, unsigned target, unsigned lun,
                                            uint32_t *block_size)
{
    struct vus_fe_vq *vq = vus_fe_vq(fe, VIRTIO_SCSI_VQ_REQUEST);
    uint8_t *buf = vus_fe_alloc(fe, 32, 32);
    struct vus_fe_cmd c;
    struct iovec iov = { buf, 32 };

    memset(&c, 0, sizeof(c));
    c.target = target;
    c.lun = lun;
    c.cdb[0] = 0x9e;
    c.cdb[1] = 0x10;
    put_be32(c.cdb + 10, 32);
    c.in = &iov;
    c.in_cnt = 1;
    assert_int_equal(vus_fe_cmd_exec(vq, &c, T_TIMEOUT), 0);
    assert_int_equal(c.response, VIRTIO_SCSI_S_OK);
    assert_int_equal(c.status, 0);
    if (block_size)
        *block_size = get_be32(buf + 8);
    return get_be64(buf) + 1;
}

#endif
