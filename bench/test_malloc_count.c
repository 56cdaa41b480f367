/*
 * cmocka test of bench/malloc_count.so: the benchmark's "zero malloc per
 * request" verdict is only as good as this counter, so it must see every
 * allocation entry point and nothing else.
 *
 * The library is preloaded into a re-executed copy of this program (the
 * "child" mode below), which makes a known set of calls between two
 * snapshots of the shared counters; the parent checks the differences.
 *
 *   build/bench/test_malloc_count build/bench/malloc_count.so
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_MEMALIGN, C_FREE, C_NR };

static const char *lib_path;
static char self_path[4096];

/* open/read, not stdio: fopen would allocate between the snapshots. */
static int read_counts(const char *path, uint64_t out[C_NR])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = pread(fd, out, sizeof(uint64_t) * C_NR, 0);
    close(fd);
    return n == (ssize_t)(sizeof(uint64_t) * C_NR) ? 0 : -1;
}

/* Child: snapshot, known calls, snapshot; writes both snapshots to stdout. */
static int child_main(const char *scenario)
{
    const char *path = getenv("VUS_MALLOC_COUNT_FILE");
    uint64_t before[C_NR], after[C_NR];
    void *keep[8] = { 0 };

    if (!path || read_counts(path, before) != 0)
        return 10;
    if (strcmp(scenario, "mixed") == 0) {
        keep[0] = malloc(16);
        keep[1] = malloc(4096);
        keep[2] = malloc(1);
        keep[3] = calloc(4, 8);
        keep[4] = calloc(1, 100);
        keep[2] = realloc(keep[2], 64);
        if (posix_memalign(&keep[5], 64, 256) != 0)
            return 11;
        keep[6] = aligned_alloc(4096, 4096);
        for (int i = 0; i < 8; i++)
            free(keep[i]); /* keep[7] is NULL: not counted */
    } else if (strcmp(scenario, "none") == 0) {
        /* Plain memory work with no allocation must count nothing. */
        char buf[256];
        memset(buf, 0x5a, sizeof(buf));
        if (buf[17] != 0x5a)
            return 12;
    } else if (strcmp(scenario, "bad_align") == 0) {
        /* A refused request allocates nothing and must not be counted. */
        void *p = NULL;
        if (posix_memalign(&p, 3, 64) == 0)
            return 13;
    }
    if (read_counts(path, after) != 0)
        return 14;
    char line[256];
    int len = snprintf(
        line, sizeof(line), "%llu %llu %llu %llu %llu\n",
        (unsigned long long)(after[0] - before[0]), (unsigned long long)(after[1] - before[1]),
        (unsigned long long)(after[2] - before[2]), (unsigned long long)(after[3] - before[3]),
        (unsigned long long)(after[4] - before[4]));
    return write(1, line, (size_t)len) == len ? 0 : 15;
}

/* Runs the child with the library preloaded; returns its printed deltas. */
static void run_child(const char *scenario, uint64_t delta[C_NR])
{
    char counter[] = "/tmp/test_malloc_count.XXXXXX";
    int fd;
    int pipefd[2];
    pid_t pid;
    int status;
    char buf[256] = { 0 };
    ssize_t n;
    unsigned long long v[C_NR];

#ifdef __SANITIZE_ADDRESS__
    /* ASan must be the first malloc in the process; a preloaded one cannot
     * coexist with it, so this check only runs in the plain build. */
    skip();
#endif
    fd = mkstemp(counter);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        setenv("LD_PRELOAD", lib_path, 1);
        setenv("VUS_MALLOC_COUNT_FILE", counter, 1);
        execl(self_path, self_path, "--child", scenario, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    n = 0;
    for (;;) {
        ssize_t r = read(pipefd[0], buf + n, sizeof(buf) - 1 - (size_t)n);
        if (r <= 0)
            break;
        n += r;
    }
    close(pipefd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(counter);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(n > 0);
    assert_int_equal(sscanf(buf, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]),
                     C_NR);
    for (int i = 0; i < C_NR; i++)
        delta[i] = v[i];
}

static void test_counts_each_entry_point(void **state)
{
    uint64_t d[C_NR];

    run_child("mixed", d);
    assert_int_equal(d[C_MALLOC], 3);
    assert_int_equal(d[C_CALLOC], 2);
    assert_int_equal(d[C_REALLOC], 1);
    assert_int_equal(d[C_MEMALIGN], 2);
    assert_int_equal(d[C_FREE], 7);
}

static void test_counts_nothing_without_allocation(void **state)
{
    uint64_t d[C_NR];

    run_child("none", d);
    for (int i = 0; i < C_NR; i++)
        assert_int_equal(d[i], 0);
}

static void test_refused_alignment_not_counted(void **state)
{
    uint64_t d[C_NR];

    run_child("bad_align", d);
    assert_int_equal(d[C_MEMALIGN], 0);
    assert_int_equal(d[C_MALLOC], 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_each_entry_point),
        cmocka_unit_test(test_counts_nothing_without_allocation),
        cmocka_unit_test(test_refused_alignment_not_counted),
    };
    ssize_t n;

    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s MALLOC_COUNT.so\n", argv[0]);
        return 2;
    }
    lib_path = realpath(argv[1], NULL);
    if (!lib_path)
        return 2;
    n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n <= 0)
        return 2;
    self_path[n] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
