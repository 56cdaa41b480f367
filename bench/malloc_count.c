/*
 * LD_PRELOAD allocation counter for the "zero malloc per request" check.
 *
 * The counters live in a shared file mapping (VUS_MALLOC_COUNT_FILE) so the
 * benchmark script can read them at any moment from outside, without a signal
 * handler that could collide with the daemon's own and without stopping it.
 * glibc's __libc_* entry points are called directly: going through
 * dlsym(RTLD_NEXT) would itself allocate before the pointer is known.
 *
 *   LD_PRELOAD=build/bench/malloc_count.so VUS_MALLOC_COUNT_FILE=/tmp/c daemon ...
 *   od -An -t u8 -w8 /tmp/c    -> malloc, calloc, realloc, memalign, free
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_MEMALIGN, C_FREE, C_NR };

/* Until the constructor has run (or when no file is given), count here. */
static uint64_t local_counts[C_NR];
static uint64_t *counts = local_counts;

__attribute__((constructor)) static void malloc_count_init(void)
{
    const char *path = getenv("VUS_MALLOC_COUNT_FILE");
    int fd;
    void *m;

    if (!path)
        return;
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof(local_counts)) == 0) {
        m = mmap(NULL, sizeof(local_counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            uint64_t *shared = m;
            for (int i = 0; i < C_NR; i++)
                shared[i] = __atomic_load_n(&local_counts[i], __ATOMIC_RELAXED);
            __atomic_store_n(&counts, shared, __ATOMIC_RELEASE);
        }
    }
    close(fd);
}

static void bump(int which)
{
    uint64_t *c = __atomic_load_n(&counts, __ATOMIC_ACQUIRE);

    __atomic_fetch_add(&c[which], 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    bump(C_MALLOC);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    bump(C_CALLOC);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    bump(C_REALLOC);
    return __libc_realloc(p, size);
}

void *memalign(size_t align, size_t size)
{
    bump(C_MEMALIGN);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    bump(C_MEMALIGN);
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return 22; /* EINVAL, without pulling errno.h's macro into the count */
    bump(C_MEMALIGN);
    p = __libc_memalign(align, size);
    if (!p && size)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void free(void *p)
{
    if (p)
        bump(C_FREE);
    __libc_free(p);
}
