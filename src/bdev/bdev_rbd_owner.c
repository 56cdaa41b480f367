/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The exclusive-lock owner record of an RBD block device (bdev_rbd_owner.h).
 */
#include "bdev/bdev_rbd_owner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/atomic_file.h"

#define OWNER_FILE_VERSION 1

/*
 * This machine: the flock proves a writer dead only on the machine that
 * holds it, so a record that came from elsewhere (a copied state
 * directory) is never trusted.
 */
static void host_id(char *buf, size_t len)
{
    char host[256] = "", mid[64] = "";
    FILE *f = fopen("/etc/machine-id", "r");

    if (f) {
        if (!fgets(mid, sizeof(mid), f))
            mid[0] = '\0';
        mid[strcspn(mid, "\n")] = '\0';
        fclose(f);
    }
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    snprintf(buf, len, "%s %s", host, mid);
}

static void path_of(const struct rbd_owner_rec *rec, const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", rec->prefix, suffix);
}

int rbd_owner_claim(struct rbd_owner_rec *rec, const char *prefix, char *err, size_t errlen)
{
    char path[PATH_MAX];

    rec->lock_fd = -1;
    if (snprintf(rec->prefix, sizeof(rec->prefix), "%s", prefix) >= (int)sizeof(rec->prefix)) {
        snprintf(err, errlen, "lock owner record %s: path too long", prefix);
        return -ENAMETOOLONG;
    }
    path_of(rec, ".lock", path, sizeof(path));
    /*
     * A process letting go unlinks the file before it drops the flock; one
     * that opened it just before then holds a flock on a file nobody else
     * will look at, so it checks that the name still leads to its file.
     */
    for (int attempt = 0; attempt < 3; attempt++) {
        struct stat held, named;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

        if (fd < 0) {
            int e = errno;

            snprintf(err, errlen, "lock owner record %s: %s", path, strerror(e));
            return -e;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;

            close(fd);
            if (e == EWOULDBLOCK)
                return 0;
            snprintf(err, errlen, "lock owner record %s: flock: %s", path, strerror(e));
            return -e;
        }
        if (fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            rec->lock_fd = fd;
            return 1;
        }
        close(fd);
    }
    /* Another process keeps creating and removing it: it is alive. */
    return 0;
}

int rbd_owner_predecessor(const struct rbd_owner_rec *rec, const struct rbd_owner_image *img,
                          char *owner, size_t ownerlen, char *err, size_t errlen)
{
    const char *fsid, *pool, *image, *who, *host;
    char path[PATH_MAX], here[384];
    json_int_t version;
    json_error_t jerr;
    json_t *root;
    int rc = 0;

    if (rec->lock_fd < 0)
        return 0;
    path_of(rec, ".json", path, sizeof(path));
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0;
    host_id(here, sizeof(here));
    root = json_load_file(path, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "lock owner record %s: %s", path, jerr.text);
        return -EINVAL;
    }
    if (json_unpack(root, "{s:I, s:s, s:s, s:s, s:s, s:s}", "version", &version, "host", &host,
                    "fsid", &fsid, "pool", &pool, "image", &image, "owner", &who) != 0 ||
        version != OWNER_FILE_VERSION || *who == '\0' || strlen(who) >= ownerlen) {
        snprintf(err, errlen, "lock owner record %s: not a version %d record", path,
                 OWNER_FILE_VERSION);
        rc = -EINVAL;
    } else if (strcmp(host, here) == 0 && strcmp(fsid, img->fsid) == 0 &&
               strcmp(pool, img->pool) == 0 && strcmp(image, img->image) == 0) {
        /* Written on this machine, and the block device's name still leads to this image. */
        snprintf(owner, ownerlen, "%s", who);
        rc = 1;
    }
    json_decref(root);
    return rc;
}

int rbd_owner_save(const struct rbd_owner_rec *rec, const struct rbd_owner_image *img,
                   const char *owner)
{
    char path[PATH_MAX], here[384];
    json_t *root;
    char *text;
    int rc;

    if (rec->lock_fd < 0)
        return -EBADF;
    host_id(here, sizeof(here));
    root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "version", OWNER_FILE_VERSION, "host", here,
                     "fsid", img->fsid, "pool", img->pool, "image", img->image, "owner", owner);
    text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!text)
        return -ENOMEM;
    path_of(rec, ".json", path, sizeof(path));
    /* Once we serve I/O, a crash must leave this record behind, not the old one. */
    rc = atomic_file_write(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

void rbd_owner_release(struct rbd_owner_rec *rec, bool keep_record)
{
    char path[PATH_MAX];

    if (rec->lock_fd < 0)
        return;
    if (!keep_record) {
        path_of(rec, ".json", path, sizeof(path));
        unlink(path);
        /* Unlinked while still flock'ed: see rbd_owner_claim. */
        path_of(rec, ".lock", path, sizeof(path));
        unlink(path);
    }
    close(rec->lock_fd);
    rec->lock_fd = -1;
}
