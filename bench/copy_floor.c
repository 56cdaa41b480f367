/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The floor under a RAM LUN's 4 KiB random read: copy 4 KiB from a random
 * block of a disk-sized anonymous mapping into one of 32 small buffers (the
 * guest's, which stay in cache), with and without transparent huge pages,
 * as the ram backend maps its disk.  Prints one line per page kind:
 *
 *   copy_floor pages=4k|thp size=BYTES ns_per_copy=N
 *
 *   build/bench/copy_floor SIZE_MIB [COPIES]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK 4096u
#define SLOTS 32u

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

static int measure(size_t size, long copies, int huge, double *ns)
{
    static uint8_t dst[SLOTS][BLOCK];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t blocks = size / BLOCK;
    uint8_t *disk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (disk == MAP_FAILED)
        return -1;
    madvise(disk, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    /* Written through, as the benchmark prefills the RAM disk. */
    memset(disk, 0x5a, size);
    double t0 = now_s();
    for (long i = 0; i < copies; i++) {
        size_t b = (size_t)(next_rand(&seed) % blocks);
        memcpy(dst[i % SLOTS], disk + b * BLOCK, BLOCK);
        /* Keep the copies observable so they are not optimised away. */
        __asm__ __volatile__("" : : "r"(dst[i % SLOTS]) : "memory");
    }
    *ns = (now_s() - t0) * 1e9 / (double)copies;
    munmap(disk, size);
    return 0;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 1024;
    long copies = argc > 2 ? strtol(argv[2], NULL, 10) : 2000000;
    double ns;

    if (mib <= 0 || copies <= 0) {
        fprintf(stderr, "usage: copy_floor SIZE_MIB [COPIES]\n");
        return 2;
    }
    for (int huge = 0; huge < 2; huge++) {
        if (measure((size_t)mib << 20, copies, huge, &ns) < 0) {
            perror("copy_floor: mmap");
            return 1;
        }
        printf("copy_floor pages=%s size=%zu ns_per_copy=%.1f\n", huge ? "thp" : "4k",
               (size_t)mib << 20, ns);
    }
    return 0;
}
