/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * librados and librbd, loaded with dlopen() when the first RBD block device
 * opens.  Linked at start-up they map libceph-common and its dependencies
 * into every daemon, about 20 MiB of RSS, even when no LUN is an RBD image.
 *
 * The headers still give the types and prototypes: each member is declared
 * with the type of the function it stands for, so a call through the table
 * is checked like a direct call would be.  Once loaded, the libraries stay
 * for the life of the process (librados keeps threads that dlclose would
 * pull the code from under).
 */
#ifndef VUS_BDEV_RBD_LIB_H
#define VUS_BDEV_RBD_LIB_H

#include <stddef.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#define RBD_LIB_RADOS_SONAME  "librados.so.2"
#define RBD_LIB_RADOS_PACKAGE "librados2"
#define RBD_LIB_RBD_SONAME    "librbd.so.1"
#define RBD_LIB_RBD_PACKAGE   "librbd1"

/* Every function bdev_rbd.c calls: X(name) for each, per library. */
#define RBD_LIB_RADOS_FUNCS(X)                                                                     \
    X(rados_create)                                                                                \
    X(rados_conf_read_file)                                                                        \
    X(rados_conf_parse_env)                                                                        \
    X(rados_conf_set)                                                                              \
    X(rados_connect)                                                                               \
    X(rados_cluster_fsid)                                                                          \
    X(rados_ioctx_create)                                                                          \
    X(rados_ioctx_destroy)                                                                         \
    X(rados_shutdown)

#define RBD_LIB_RBD_FUNCS(X)                                                                       \
    X(rbd_open)                                                                                    \
    X(rbd_open_read_only)                                                                          \
    X(rbd_close)                                                                                   \
    X(rbd_stat)                                                                                    \
    X(rbd_get_size)                                                                                \
    X(rbd_get_features)                                                                            \
    X(rbd_resize)                                                                                  \
    X(rbd_update_watch)                                                                            \
    X(rbd_update_unwatch)                                                                          \
    X(rbd_lock_acquire)                                                                            \
    X(rbd_lock_break)                                                                              \
    X(rbd_lock_get_owners)                                                                         \
    X(rbd_lock_get_owners_cleanup)                                                                 \
    X(rbd_aio_create_completion)                                                                   \
    X(rbd_aio_get_return_value)                                                                    \
    X(rbd_aio_release)                                                                             \
    X(rbd_aio_readv)                                                                               \
    X(rbd_aio_writev)                                                                              \
    X(rbd_aio_discard)                                                                             \
    X(rbd_aio_write_zeroes)                                                                        \
    X(rbd_aio_flush)

#define RBD_LIB_MEMBER_(f) __typeof__(f) *f;
struct rbd_lib {
    RBD_LIB_RADOS_FUNCS(RBD_LIB_MEMBER_)
    RBD_LIB_RBD_FUNCS(RBD_LIB_MEMBER_)
};
#undef RBD_LIB_MEMBER_

/*
 * The table, loading both libraries on the first call.  Thread-safe.  NULL
 * when they cannot be loaded: err names the library and the Debian package
 * that provides it, and the reason is logged.  A failed load is tried again
 * on the next call, so installing the package needs no restart.
 */
const struct rbd_lib *rbd_lib_get(char *err, size_t errlen);

/*
 * The steps of rbd_lib_get, for the unit test.  rbd_lib_open: dlopen(soname)
 * or NULL with err naming soname and package.  rbd_lib_resolve: fill lib
 * from the two handles; 0, or -ELIBACC with err naming the missing symbol.
 */
void *rbd_lib_open(const char *soname, const char *package, char *err, size_t errlen);
int rbd_lib_resolve(struct rbd_lib *lib, void *rados, void *rbd, char *err, size_t errlen);

#endif
