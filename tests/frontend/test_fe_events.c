/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event queue through the real daemon: a LUN whose backing file is
 * resized (then SIGHUP, what `systemctl reload` sends) produces a
 * parameter-change event in a buffer the guest posted before the memory
 * table changed (issue #8 item 7: held buffers must not keep host pointers
 * into unmapped memory), a CAPACITY DATA HAS CHANGED unit attention and the
 * new capacity; and SET_VRING_BASE on a running event ring makes the daemon
 * forget its held buffers instead of rewinding a stale count later.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <endian.h>

#include "tests/frontend/fe_harness.h"
#include "vhost/vu_proto.h"

#define MiB (1024u * 1024u)

struct ctx {
    struct daemon d;
    char path[64];
    struct vus_fe *fe;
    struct vus_fe_vq *vq;
};

static int setup(void **state)
{
    static struct ctx cx;
    struct vus_fe_config cfg = {
        .num_req_queues = 1, .mem_regions = 2, .timeout_ms = T_TIMEOUT, .connect_retry_ms = 2000
    };
    char lun[128];

    memset(&cx, 0, sizeof(cx));
    if (fe_file_lun(cx.path, sizeof(cx.path), "events", lun, sizeof(lun)) < 0)
        return -1;
    const char *const args[] = { "--lun", lun, NULL };
    if (daemon_start(&cx.d, args) < 0)
        return -1;
    cfg.socket_path = cx.d.sock;
    if (vus_fe_connect(&cfg, &cx.fe) < 0)
        return -1;
    cx.vq = vus_fe_vq(cx.fe, VIRTIO_SCSI_VQ_REQUEST);
    *state = &cx;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *cx = *state;

    return fe_stop_file_lun(cx->fe, &cx->d, cx->path);
}

/* Wait up to timeout_ms for one event. */
static bool wait_event(struct ctx *cx, struct virtio_scsi_event *ev, uint32_t *len, int timeout_ms)
{
    struct vus_fe_vq *evq = vus_fe_vq(cx->fe, VIRTIO_SCSI_VQ_EVENT);

    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (vus_fe_event_reap(cx->fe, ev, len) == 1)
            return true;
        vus_fe_vq_wait(evq, 10);
    }
    return false;
}

static void resize_and_reload(struct ctx *cx, uint64_t bytes)
{
    assert_int_equal(truncate(cx->path, (off_t)bytes), 0);
    assert_int_equal(kill(cx->d.pid, SIGHUP), 0);
}

static void test_capacity_change_reaches_the_guest(void **state)
{
    struct ctx *cx = *state;
    const unsigned order[2] = { 1, 0 };
    uint8_t *buf = vus_fe_alloc(cx->fe, 512, 512);
    struct virtio_scsi_event ev;
    struct vus_fe_cmd c;
    uint8_t cdb[16], key, asc;
    uint32_t len;

    assert_non_null(buf);
    clear_ua(cx->vq, 0, 0);
    assert_int_equal(vus_fe_event_post(cx->fe, 4), 0);
    /*
     * Memory moves while the daemon holds the buffers: the table is sent
     * again with its regions swapped, so the daemon unmaps both and maps
     * them anew, each most likely where the other one was.
     */
    assert_int_equal(vus_fe_set_mem_table(cx->fe, order, 2), 0);
    assert_int_equal(vus_fe_set_mem_table(cx->fe, NULL, 0), 0);
    assert_int_equal(vus_fe_set_mem_table(cx->fe, order, 2), 0);

    resize_and_reload(cx, 16 * MiB);
    assert_true(wait_event(cx, &ev, &len, T_TIMEOUT));
    assert_int_equal(len, sizeof(ev));
    assert_int_equal(ev.event, VIRTIO_SCSI_T_PARAM_CHANGE);
    assert_int_equal(ev.lun[0], 1);
    assert_int_equal(ev.lun[1], 0);
    assert_int_equal(ev.reason, 0x2a | 0x09 << 8);

    /* The next command reports the change, once; then the capacity is the new one. */
    memset(cdb, 0, sizeof(cdb));
    assert_int_equal(scsi_exec(cx->vq, &c, 0, cdb, 6, NULL, 0, 0), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 6);
    assert_int_equal(asc, 0x2a);
    assert_int_equal(c.sense[13], 0x09);
    cdb[0] = 0x9e;
    cdb[1] = 0x10;
    put_be32(cdb + 10, 32);
    assert_int_equal(scsi_exec(cx->vq, &c, 0, cdb, 16, buf, 32, 2), 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(get_be64(buf) + 1, 16 * MiB / 512);

    /* Shrunk again: blocks past the new end are out of range. */
    resize_and_reload(cx, 4 * MiB);
    assert_true(wait_event(cx, &ev, &len, T_TIMEOUT));
    assert_int_equal(ev.event, VIRTIO_SCSI_T_PARAM_CHANGE);
    clear_ua(cx->vq, 0, 0);
    cdb_rw16(cdb, false, 4 * MiB / 512, 1);
    assert_int_equal(scsi_exec(cx->vq, &c, 0, cdb, 16, buf, 512, 2), 0);
    assert_int_equal(c.status, 2);
    sense_key_asc(&c, &key, &asc);
    assert_int_equal(key, 5);
    assert_int_equal(asc, 0x21);

    /* Nothing changed: no event, and a signal that changes nothing is harmless. */
    assert_int_equal(kill(cx->d.pid, SIGHUP), 0);
    assert_false(wait_event(cx, &ev, &len, 300));
}

/*
 * SET_VRING_BASE on a running event ring (no GET_VRING_BASE first): the
 * daemon must forget the buffers it held, not rewind the new base by their
 * count when the ring stops later.
 */
static void test_set_base_forgets_held_buffers(void **state)
{
    struct ctx *cx = *state;
    struct vu_vring_state st;
    uint16_t base;

    assert_int_equal(vus_fe_event_post(cx->fe, 8), 0);
    usleep(100000); /* let the daemon take them */
    st = (struct vu_vring_state){ .index = VIRTIO_SCSI_VQ_EVENT, .num = 8 };
    assert_int_equal(vus_fe_request_ack(cx->fe, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
    assert_int_equal(vus_fe_vq_stop(cx->fe, VIRTIO_SCSI_VQ_EVENT, &base), 0);
    assert_int_equal(base, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capacity_change_reaches_the_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_base_forgets_held_buffers, setup, teardown),
    };
    fe_apply_test_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
