/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtqueue targets' guest memory, input split and pop oracle (see fuzz_guest_mem.h). */
#include "fuzz_guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *fz_name = "fuzz";

void fz_bug(const char *what)
{
    fprintf(stderr, "%s: invariant broken: %s\n", fz_name, what);
    __builtin_trap();
}

static void fz_guest_init(struct fz_guest *g, const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    fz_name = name;
    if (fd < 0 || ftruncate(fd, (off_t)FZ_MEM_SIZE) < 0)
        fz_bug("memfd");
    for (int t = 0; t < 2; t++) {
        uint64_t gpa_b = t ? FZ_HOLE_GPA : FZ_REG_SIZE;
        if (vu_mem_add_region(&g->tables[t], 0, FZ_REG_SIZE, FZ_UVA_A, 0, dup(fd)) < 0 ||
            vu_mem_add_region(&g->tables[t], gpa_b, FZ_REG_SIZE, FZ_UVA_B, FZ_REG_SIZE, dup(fd)) <
                0)
            fz_bug("memory table");
    }
    g->image = mmap(NULL, FZ_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (g->image == MAP_FAILED)
        fz_bug("mmap");
    close(fd);
    g->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->call_fd < 0)
        fz_bug("eventfd");
}

void fz_guest_load(struct fz_guest *g, const char *name, const uint8_t *data, size_t size,
                   uint8_t hdr[FZ_HDR_SIZE], unsigned script_len_at, struct fz_script *s)
{
    size_t hdr_len = size < FZ_HDR_SIZE ? size : FZ_HDR_SIZE;

    if (!g->image)
        fz_guest_init(g, name);

    memset(hdr, 0, FZ_HDR_SIZE);
    memcpy(hdr, data, hdr_len);
    s->p = data + hdr_len;
    s->left = size - hdr_len;
    if (s->left > hdr[script_len_at])
        s->left = hdr[script_len_at];

    size_t img_off = FZ_HDR_SIZE + s->left, n = size > img_off ? size - img_off : 0;
    memset(g->image, 0, FZ_MEM_SIZE);
    memcpy(g->image, data + img_off, n < FZ_MEM_SIZE ? n : FZ_MEM_SIZE);
}

void fz_vq_init(struct virtq *vq, const struct fz_guest *g, bool packed, uint8_t hdr0)
{
    memset(vq, 0, sizeof(*vq));
    vq->packed = packed;
    vq->event_idx = hdr0 & 2;
    vq->indirect = hdr0 & 4;
    vq->call_fd = g->call_fd;
}

int fz_vq_map(struct virtq *vq, const struct fz_guest *g, uint8_t hdr0, const uint8_t *offs)
{
    return virtq_set_addr(vq, &g->tables[hdr0 & 1],
                          fz_off_to_uva((uint16_t)(offs[0] | offs[1] << 8)),
                          fz_off_to_uva((uint16_t)(offs[2] | offs[3] << 8)),
                          fz_off_to_uva((uint16_t)(offs[4] | offs[5] << 8)));
}

uint64_t fz_off_to_uva(uint16_t off)
{
    if (off < FZ_REG_SIZE)
        return FZ_UVA_A + off;
    return FZ_UVA_B + (off - FZ_REG_SIZE);
}

bool fz_host_range_ok(const struct vu_mem_table *t, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;

    for (unsigned i = 0; i < t->nregions; i++) {
        uintptr_t h = (uintptr_t)t->regions[i].host;
        if (a >= h && len <= t->regions[i].size && a - h <= t->regions[i].size - len)
            return true;
    }
    return false;
}

void fz_check_elem(const struct virtq *vq, const struct virtq_elem *e, int ret)
{
    if (e->head >= vq->num)
        fz_bug("head out of range");
    if (ret < 0) {
        if (e->out_num || e->in_num)
            fz_bug("a failed chain still reports buffers");
        return;
    }
    if ((size_t)e->out_num + e->in_num > e->iov_max)
        fz_bug("more iovecs than the capacity");
    for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
        if (e->iov[i].iov_len == 0)
            fz_bug("empty iovec");
        if (!fz_host_range_ok(vq->mem, e->iov[i].iov_base, e->iov[i].iov_len))
            fz_bug("iovec outside guest memory");
    }
}

int fz_pop(struct virtq *vq, struct virtq_elem *elem)
{
    int ret = virtq_pop(vq, elem);

    if (ret == -EIO && !vq->broken)
        fz_bug("-EIO without a broken queue");
    if (ret == 0 || ret == -EIO)
        return ret;
    if (ret != 1 && ret != -EBADMSG)
        fz_bug("unexpected virtq_pop result");
    fz_check_elem(vq, elem, ret);
    return ret;
}

void fz_map_head(const struct virtq *vq, uint16_t head, struct virtq_elem *elem)
{
    int ret = virtq_map_head(vq, head, elem);

    if (ret == 1 || ret == -EBADMSG)
        fz_check_elem(vq, elem, ret);
    else if (ret != -EIO)
        fz_bug("unexpected virtq_map_head result");
}

bool fz_push_held(struct virtq *vq, uint16_t *held, unsigned *nheld, struct fz_script *s)
{
    if (!*nheld)
        return false;
    unsigned i = fz_take8(s) % *nheld;
    virtq_push(vq, held[i], fz_take16(s));
    held[i] = held[--*nheld];
    return true;
}

void fz_common_op(struct fz_guest *g, struct virtq *vq, unsigned op, struct fz_script *s)
{
    switch (op) {
    case 3: {
        unsigned off = fz_take16(s) % (unsigned)FZ_MEM_SIZE;
        g->image[off] = (uint8_t)fz_take8(s);
        if (off + 1 < FZ_MEM_SIZE)
            g->image[off + 1] = (uint8_t)fz_take8(s);
        break;
    }
    case 4:
        virtq_notify(vq);
        break;
    case 5:
        virtq_enable_notify(vq);
        break;
    case 6:
        virtq_disable_notify(vq);
        break;
    }
}

void fz_guest_clear_calls(struct fz_guest *g)
{
    uint64_t sink;

    if (read(g->call_fd, &sink, sizeof(sink)) < 0) {
        /* EAGAIN: nothing was signalled. */
    }
}

unsigned fz_take8(struct fz_script *s)
{
    if (!s->left)
        return 0;
    s->left--;
    return *s->p++;
}

unsigned fz_take16(struct fz_script *s)
{
    unsigned lo = fz_take8(s);
    return lo | fz_take8(s) << 8;
}
