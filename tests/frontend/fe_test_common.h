/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the VM-free functional tests (test_fe_functional.c,
 * test_fe_session.c, ...): one daemon for the group, by default with two LUNs
 * on target 0, one on target 1 and two worker threads, and a fresh connection
 * per test.
 * Header-only so every test program stays one file plus the library.
 */
#ifndef VUS_TESTS_FRONTEND_FE_TEST_COMMON_H
#define VUS_TESTS_FRONTEND_FE_TEST_COMMON_H

#include "tests/frontend/fe_harness.h"

#define LUN0_BLOCKS (16u << 20) / 512
#define LUN1_BLOCKS (8u << 20) / 4096

static struct daemon dmn;

/* A program wanting other LUNs defines FE_TEST_DAEMON_ARGS (a NULL-terminated initialiser). */
#ifndef FE_TEST_DAEMON_ARGS
#define FE_TEST_DAEMON_ARGS                                                                        \
    {                                                                                              \
        "--lun", "type=ram,size=16M", "--lun", "type=ram,size=8M,block-size=4096", "--lun",        \
            "type=ram,size=1M,target=1,lun=5,readonly=on", "--threads", "2", NULL                  \
    }
#endif

static int group_setup(void **state)
{
    static const char *const args[] = FE_TEST_DAEMON_ARGS;

    return daemon_start(&dmn, args) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    return daemon_stop(&dmn) == 0 ? 0 : -1;
}

struct ctx {
    struct vus_fe *fe;
    struct vus_fe_vq *rq;
    uint8_t *buf; /* 1 MiB of guest memory */
    uint8_t *buf2;
};

static int test_setup(void **state)
{
    static struct ctx cx;

    memset(&cx, 0, sizeof(cx));
    if (fe_open(&dmn, 2, &cx.fe) < 0)
        return -1;
    cx.rq = vus_fe_vq(cx.fe, VIRTIO_SCSI_VQ_REQUEST);
    cx.buf = vus_fe_alloc(cx.fe, 1 << 20, 4096);
    cx.buf2 = vus_fe_alloc(cx.fe, 1 << 20, 4096);
    if (!cx.buf || !cx.buf2)
        return -1;
    *state = &cx;
    return 0;
}

static int test_teardown(void **state)
{
    struct ctx *cx = *state;

    vus_fe_close(cx->fe);
    return daemon_alive(&dmn) ? 0 : -1;
}

#endif
