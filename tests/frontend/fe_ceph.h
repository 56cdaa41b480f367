/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The single-node Ceph cluster the RBD programs (test_fe_rbd.c,
 * test_fe_rbd_restart.c) run against: $VUS_CEPH_DIR (default build/ceph,
 * relative to the working directory); one already running there is reused
 * (make check starts one for all RBD tests of the run), otherwise
 * fe_ceph_start() starts it and fe_ceph_stop() stops it again.  CEPH_CONF
 * is set for the rbd/ceph commands the tests run through sh().
 * Header-only; include cmocka.h first.
 */
#ifndef VUS_TESTS_FRONTEND_FE_CEPH_H
#define VUS_TESTS_FRONTEND_FE_CEPH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FE_CEPH_CLUSTER "tests/remote/ceph-cluster.sh"

static char ceph_dir[512], ceph_conf[600];
static bool ceph_started; /* by this program, which stops it too */

/* Run the shell command fmt/ap (kept in cmd); its exit status, 128 when it did not exit. */
static inline int vsh(char *cmd, size_t len, const char *fmt, va_list ap)
{
    int rc;

    vsnprintf(cmd, len, fmt, ap);
    rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* A shell command (printf format); its exit status. */
__attribute__((format(printf, 1, 2))) static inline int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vsh(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return rc;
}

/* The same, failing the test unless it exits 0. */
__attribute__((format(printf, 1, 2))) static inline void must_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vsh(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (rc != 0)
        fail_msg("'%s' exited %d", cmd, rc);
}

/* Find or start the cluster.  0, or -1 having said why. */
static inline int fe_ceph_start(void)
{
    const char *d = getenv("VUS_CEPH_DIR");
    char cwd[256];

    if (d && *d) {
        snprintf(ceph_dir, sizeof(ceph_dir), "%s", d);
    } else {
        if (!getcwd(cwd, sizeof(cwd)))
            return -1;
        snprintf(ceph_dir, sizeof(ceph_dir), "%s/build/ceph", cwd);
    }
    snprintf(ceph_conf, sizeof(ceph_conf), "%s/ceph.conf", ceph_dir);
    setenv("CEPH_CONF", ceph_conf, 1);
    if (sh(FE_CEPH_CLUSTER " status %s", ceph_dir) != 0) {
        if (sh(FE_CEPH_CLUSTER " start %s", ceph_dir) != 0) {
            fprintf(stderr, "could not start the Ceph cluster in %s\n", ceph_dir);
            return -1;
        }
        ceph_started = true;
    }
    return 0;
}

/* Stop what fe_ceph_start started; a reused cluster gets back an OSD a failed test left stopped. */
static inline void fe_ceph_stop(void)
{
    if (ceph_started)
        sh(FE_CEPH_CLUSTER " stop %s", ceph_dir);
    else
        sh(FE_CEPH_CLUSTER " osd-start %s", ceph_dir);
}

/* A fresh image of mib MiB named name (`rbd create` options in extra), its snapshots gone. */
static inline void fe_ceph_new_image(const char *name, unsigned mib, const char *extra)
{
    sh("(rbd snap purge --no-progress rbd/%s; rbd rm --no-progress rbd/%s) >/dev/null 2>&1", name,
       name);
    must_sh("rbd create --size %uM %s rbd/%s", mib, extra, name);
}

#endif
