/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The floor under a RAM LUN's reads and writes: the copies alone, outside the
 * daemon.  A disk-sized anonymous mapping (with and without transparent huge
 * pages; the ram backend asks for them) and SLOTS buffers standing for the
 * guest's (a shared memfd, as guest RAM is), reused round-robin as fio reuses
 * its iodepth buffers.
 *
 *   build/bench/copy_floor SIZE_MIB [COPIES]
 *       4 KiB copies from random blocks into 32 buffers, both page kinds:
 *       copy_floor pages=4k|thp size=BYTES ns_per_copy=N
 *
 *   build/bench/copy_floor --seq BS SLOTS SIZE_MIB [COPIES]
 *       BS-byte copies at consecutive offsets (wrapping), huge pages only, in
 *       both directions (from the disk as a read does, to it as a write does),
 *       writes both with memcpy and with the non-temporal stores the ram
 *       backend writes a disk of 64 MiB or more with (util/copy_nt.c):
 *       copy_floor pages=thp size=BYTES bs=BS order=seq dir=read|write
 *                  copy=memcpy|nt ns_per_copy=N us_per_mib=N
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/copy_nt.h"

struct floor_run {
    size_t size;  /* the disk */
    size_t bs;    /* one copy */
    size_t slots; /* guest buffers */
    long copies;
    int huge;
    int seq;     /* consecutive offsets, else random blocks */
    int to_disk; /* a write's direction */
    int nt;      /* written with copy_nt, as the ram backend does */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64: cheap, and the compiler cannot predict the addresses. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int measure(const struct floor_run *r, double *ns)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t blocks = r->size / r->bs;
    uint8_t *disk = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* Guest memory is a shared memfd, as QEMU's memory-backend-memfd and our
     * frontend give it: shmem with small pages, not anonymous THP. */
    int fd = memfd_create("copy_floor-guest", MFD_CLOEXEC);
    uint8_t *guest = MAP_FAILED;

    if (fd >= 0 && ftruncate(fd, (off_t)(r->slots * r->bs)) == 0)
        guest = mmap(NULL, r->slots * r->bs, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0)
        close(fd);
    if (disk == MAP_FAILED || guest == MAP_FAILED)
        return -1;
    madvise(disk, r->size, r->huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    /* Written through, as the benchmark prefills the RAM disk. */
    memset(disk, 0x5a, r->size);
    memset(guest, 0xa5, r->slots * r->bs);
    double t0 = now_s();
    for (long i = 0; i < r->copies; i++) {
        size_t b = r->seq ? (size_t)i % blocks : (size_t)(next_rand(&seed) % blocks);
        uint8_t *g = guest + (size_t)i % r->slots * r->bs;

        if (r->to_disk && r->nt) {
            copy_nt(disk + b * r->bs, g, r->bs);
            copy_nt_fence(); /* the daemon fences each write before completing it */
        } else if (r->to_disk) {
            memcpy(disk + b * r->bs, g, r->bs);
        } else
            memcpy(g, disk + b * r->bs, r->bs);
        /* Keep the copies observable so they are not optimised away. */
        __asm__ __volatile__("" : : "r"(g), "r"(disk) : "memory");
    }
    *ns = (now_s() - t0) * 1e9 / (double)r->copies;
    munmap(disk, r->size);
    munmap(guest, r->slots * r->bs);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: copy_floor SIZE_MIB [COPIES]\n"
                    "       copy_floor --seq BS SLOTS SIZE_MIB [COPIES]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct floor_run r = { .bs = 4096, .slots = 32, .copies = 2000000 };
    int a = 1;
    double ns;

    if (argc > 1 && strcmp(argv[1], "--seq") == 0) {
        if (argc < 5)
            return usage();
        r.seq = 1;
        r.bs = strtoul(argv[2], NULL, 10);
        r.slots = strtoul(argv[3], NULL, 10);
        a = 4;
    }
    long mib = argc > a ? strtol(argv[a], NULL, 10) : 1024;
    if (argc > a + 1)
        r.copies = strtol(argv[a + 1], NULL, 10);
    else if (r.seq)
        r.copies = (long)((8ull << 30) / (r.bs ? r.bs : 1)); /* 8 GiB copied */
    r.size = (size_t)(mib > 0 ? mib : 0) << 20;
    if (mib <= 0 || r.copies <= 0 || r.bs == 0 || r.bs > r.size || r.slots == 0)
        return usage();

    if (!r.seq) {
        for (r.huge = 0; r.huge < 2; r.huge++) {
            if (measure(&r, &ns) < 0) {
                perror("copy_floor: mmap");
                return 1;
            }
            printf("copy_floor pages=%s size=%zu ns_per_copy=%.1f\n", r.huge ? "thp" : "4k", r.size,
                   ns);
        }
        return 0;
    }
    r.huge = 1;
    /* Reads with memcpy, writes with memcpy and with non-temporal stores. */
    for (int kind = 0; kind < 3; kind++) {
        r.to_disk = kind > 0;
        r.nt = kind == 2;
        if (measure(&r, &ns) < 0) {
            perror("copy_floor: mmap");
            return 1;
        }
        printf("copy_floor pages=thp size=%zu bs=%zu order=seq dir=%s copy=%s ns_per_copy=%.1f "
               "us_per_mib=%.2f\n",
               r.size, r.bs, r.to_disk ? "write" : "read", r.nt ? "nt" : "memcpy", ns,
               ns / 1000.0 * (double)(1u << 20) / (double)r.bs);
    }
    return 0;
}
