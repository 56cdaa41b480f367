/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtqueue targets' guest memory, input split and pop oracle (see fuzz_guest_mem.h). */
#include "fuzz_guest_mem.h"

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

void fz_guest_init(struct fz_guest *g, const char *name)
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

void fz_guest_load(struct fz_guest *g, const uint8_t *data, size_t size, uint8_t hdr[FZ_HDR_SIZE],
                   unsigned script_len_at, struct fz_script *s)
{
    size_t hdr_len = size < FZ_HDR_SIZE ? size : FZ_HDR_SIZE;

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
