/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * librados and librbd on first use (rbd_lib.h).
 */
#include "bdev/rbd_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rbd_lib lib_table;
static bool lib_loaded;
/* Kept across a failed attempt: a retry reuses them instead of stacking references. */
static void *rados_handle, *rbd_handle;

void *rbd_lib_open(const char *soname, const char *package, char *err, size_t errlen)
{
    /*
     * RTLD_NOW: a library that does not match its headers fails here, not
     * on a worker in the middle of I/O.  RTLD_LOCAL: Ceph's many symbols
     * stay out of the global scope, where they could bind another library.
     */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        const char *why = dlerror();

        snprintf(err, errlen, "rbd: cannot load %s (%s): install the Debian package %s", soname,
                 why ? why : "unknown error", package);
    }
    return h;
}

int rbd_lib_resolve(struct rbd_lib *lib, void *rados, void *rbd, char *err, size_t errlen)
{
    void *p;

#define RBD_LIB_RESOLVE_(handle, soname, f)                                                        \
    p = dlsym(handle, #f);                                                                         \
    if (!p) {                                                                                      \
        snprintf(err, errlen, "rbd: %s has no %s: the installed library is too old", soname, #f);  \
        return -ELIBACC;                                                                           \
    }                                                                                              \
    lib->f = (__typeof__(lib->f))p;
#define RBD_LIB_RADOS_(f) RBD_LIB_RESOLVE_(rados, RBD_LIB_RADOS_SONAME, f)
#define RBD_LIB_RBD_(f)   RBD_LIB_RESOLVE_(rbd, RBD_LIB_RBD_SONAME, f)
    RBD_LIB_RADOS_FUNCS(RBD_LIB_RADOS_)
    RBD_LIB_RBD_FUNCS(RBD_LIB_RBD_)
#undef RBD_LIB_RBD_
#undef RBD_LIB_RADOS_
#undef RBD_LIB_RESOLVE_
    return 0;
}

/* Under lib_lock. */
static int load(char *err, size_t errlen)
{
    struct rbd_lib t;

    /* librados first: librbd needs it, and its own message names the right package. */
    if (!rados_handle)
        rados_handle = rbd_lib_open(RBD_LIB_RADOS_SONAME, RBD_LIB_RADOS_PACKAGE, err, errlen);
    if (!rados_handle)
        return -ELIBACC;
    if (!rbd_handle)
        rbd_handle = rbd_lib_open(RBD_LIB_RBD_SONAME, RBD_LIB_RBD_PACKAGE, err, errlen);
    if (!rbd_handle)
        return -ELIBACC;
    if (rbd_lib_resolve(&t, rados_handle, rbd_handle, err, errlen) < 0)
        return -ELIBACC;
    lib_table = t;
    return 0;
}

const struct rbd_lib *rbd_lib_get(char *err, size_t errlen)
{
    const struct rbd_lib *lib = &lib_table;

    pthread_mutex_lock(&lib_lock);
    if (!lib_loaded) {
        if (load(err, errlen) == 0) {
            lib_loaded = true;
            LOG_DEBUG("rbd: loaded %s and %s", RBD_LIB_RADOS_SONAME, RBD_LIB_RBD_SONAME);
        } else {
            LOG_ERR("%s", err);
            lib = NULL;
        }
    }
    pthread_mutex_unlock(&lib_lock);
    return lib;
}
