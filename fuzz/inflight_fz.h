/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_inflight's shared state and helpers (fuzz/inflight_fz.c): the model
 * of the frontend, its guest memory and its inflight files, the oracles
 * that compare the daemon's writes with it, and message sending.  The
 * operations and the libFuzzer entry point are in fuzz_inflight.c.
 */
#ifndef VUS_FUZZ_INFLIGHT_FZ_H
#define VUS_FUZZ_INFLIGHT_FZ_H

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_inflight.h"
#include "vhost/vu_msg.h"
#include "virtio_scsi/virtio_scsi_proto.h"
#include "virtq/virtio_ring.h"
#include "virtq/virtq.h"

#define GMEM_SIZE  (2u << 20) /* guest memory: one memfd, gpa 0 */
#define GMEM_UVA   0x7f0000000000ull
#define PAGE       4096u
#define MAX_OPS    256
#define MAX_STEPS  4096 /* pops + pushes per input: a slow input stays slow only linearly */
#define MAX_HELD   32
#define MAX_FQ     8                         /* max_queues */
#define SHADOW_MAX (MAX_FQ * 524352u + PAGE) /* 8 queues of 32768 entries, rounded up */
/*
 * Regions up to this size are compared byte for byte after every step.
 * Larger ones (up to 4 MiB) page by page where the file has pages, and only
 * once per operation: reading a hole of a memfd allocates a page, and
 * comparing megabytes after each pop would make them the whole run.
 */
#define BIG_VIEW (64u << 10)

struct script {
    const uint8_t *p;
    size_t left;
};

/*
 * The frontend's inflight file: its fd, its own mapping of the whole file,
 * and how it described the region in its last accepted SET_INFLIGHT_FD (or
 * what GET_INFLIGHT_FD answered).  shadow holds what the frontend expects
 * [off, off + view_len) of the file to contain; it is compared whenever the
 * daemon has that region mapped.
 */
struct fe_region {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint64_t file_size;
    uint64_t off, size;
    uint16_t nq, qs;
};

#define FD_SET_MAX 1024
struct fd_set_snap {
    uint64_t bits[FD_SET_MAX / 64];
    unsigned high; /* open fds >= FD_SET_MAX */
};

/* One input's world; inflight_fz.c defines them. */
extern struct vu_dev dev;
extern bool paused;
extern int sv[2];
extern int gmem_fd, kick_efd, call_efd;
extern uint8_t *gmem; /* the guest's (and frontend's) view of guest memory */
extern uint64_t dirty[GMEM_SIZE / PAGE / 64];
extern unsigned max_q;
extern unsigned steps;
extern uint8_t hdr_bits;
extern struct iovec iovs[VIRTQ_MAX_IOV];
extern struct vu_inflight_entry entries[VIRTQ_MAX_SIZE];
extern uint16_t held[MAX_FQ][MAX_HELD];
extern unsigned nheld[MAX_FQ];
extern struct fe_region cur;
extern void *cur_base;
extern size_t view_len;
extern uint8_t *shadow, *shadow_next;
extern bool trace;
extern unsigned npops, npushes;

/* Everything below is inflight_fz.c's; the operations in fuzz_inflight.c use it. */
void fz_bug(const char *what) __attribute__((noreturn));
void op_pause(struct vu_dev *d);
void op_resume(struct vu_dev *d);
void op_queue_stop(struct vu_dev *d, unsigned idx);
unsigned take8(struct script *s);
unsigned take16(struct script *s);
unsigned take_queue(struct script *s);
unsigned take_size(struct script *s);
unsigned take_nq(struct script *s);
void fd_snapshot(struct fd_set_snap *fs);
void fd_compare(const struct fd_set_snap *before, const struct fd_set_snap *after);
size_t page_up(uint64_t v);
void fz_init(void);
void mark_dirty(uint64_t off, uint64_t len);
void clear_dirty(void);
void fe_close(struct fe_region *r);
bool fe_map(struct fe_region *r);
size_t queue_len(uint16_t qs);
void check_layout_upto(unsigned n);
void check_layout(void);
bool view_active(void);
bool view_pages(const uint8_t *view, size_t len);
bool range_same(const uint8_t *view, size_t lo, size_t hi, bool sparse);
void range_take(const uint8_t *view, size_t lo, size_t hi, bool sparse);
void snapshot(uint8_t *dst, const uint8_t *src, size_t len);
void check_region(int only);
void check_step(unsigned idx);
void fe_write(const struct fe_region *r, uint64_t file_off, const void *p, size_t len);
void fe_write16(const struct fe_region *r, uint64_t file_off, uint16_t v);
void adopt_view(void);
void msg_init(struct vu_msg *m, uint32_t req, const void *payload, uint32_t size);
void handle(uint32_t req, const void *payload, uint32_t size, int fd);
void recv_reply(struct vu_msg *r, uint32_t req);
void send_u64(uint32_t req, uint64_t v);
void send_state(uint32_t req, unsigned idx, unsigned num);
uint64_t features_from(unsigned bits);
void send_mem_table(uint64_t size);
void connect_dev(void);
void disconnect_dev(void);
void after_msg(void);

#endif
