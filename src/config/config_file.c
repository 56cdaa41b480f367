/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The persisted configuration: validation, atomic save, load, editing. */
#include "config/config_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const section_names[CONFIG_SECTIONS] = {
    [CONFIG_BDEVS] = "bdevs",
    [CONFIG_CONTROLLERS] = "controllers",
    [CONFIG_LUNS] = "luns",
};

/* mkstemp replaces these six characters. */
#define TMP_SUFFIX    ".tmp."
#define TMP_RANDOM    6
#define TMP_XS        "XXXXXX"
#define TMP_ALPHABET  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define MAX_LUN_INDEX 255

/* Any thread. */
const char *config_section_name(enum config_section s)
{
    return (unsigned)s < CONFIG_SECTIONS ? section_names[s] : "?";
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Any thread. */
json_t *config_new(void)
{
    return json_pack("{s:i,s:[],s:[],s:[]}", "version", CONFIG_VERSION, "bdevs", "controllers",
                     "luns");
}

/* ---- validation ---- */

/* A required non-empty string member; NULL with err set otherwise. */
static const char *need_string(json_t *item, const char *key, const char *what, const char *where,
                               char *err, size_t errlen)
{
    json_t *v = json_object_get(item, key);

    if (!v) {
        errf(err, errlen, "%s: %s: %s: missing", what, where, key);
        return NULL;
    }
    if (!json_is_string(v)) {
        errf(err, errlen, "%s: %s: %s: must be a string", what, where, key);
        return NULL;
    }
    if (json_string_length(v) == 0) {
        errf(err, errlen, "%s: %s: %s: must not be empty", what, where, key);
        return NULL;
    }
    /* Names are compared as C strings: "a\u0000b" and "a" would be one name. */
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        errf(err, errlen, "%s: %s: %s: must not contain NUL characters", what, where, key);
        return NULL;
    }
    return json_string_value(v);
}

/* A required integer member in 0..MAX_LUN_INDEX; -1 with err set otherwise. */
static int need_index(json_t *item, const char *key, const char *what, const char *where, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(item, key);

    if (!v) {
        errf(err, errlen, "%s: %s: %s: missing", what, where, key);
        return -1;
    }
    if (!json_is_integer(v)) {
        errf(err, errlen, "%s: %s: %s: must be an integer", what, where, key);
        return -1;
    }
    if (json_integer_value(v) < 0 || json_integer_value(v) > MAX_LUN_INDEX) {
        errf(err, errlen, "%s: %s: %s: %" JSON_INTEGER_FORMAT " is out of range 0..%d", what, where,
             key, json_integer_value(v), MAX_LUN_INDEX);
        return -1;
    }
    return (int)json_integer_value(v);
}

/*
 * Records key -> index in seen (a JSON object used as a hash set); if key is
 * there already, returns the earlier index.  -1: new.  -2: out of memory.
 */
static long remember(json_t *seen, const char *key, size_t index)
{
    json_t *prev = json_object_get(seen, key);

    if (prev)
        return (long)json_integer_value(prev);
    if (json_object_set_new(seen, key, json_integer((json_int_t)index)) != 0)
        return -2;
    return -1;
}

static int check_section(json_t *config, enum config_section s, json_t *seen[CONFIG_SECTIONS],
                         const char *what, char *err, size_t errlen)
{
    const char *sname = section_names[s];
    json_t *arr = json_object_get(config, sname), *item;
    size_t i;

    if (!arr)
        return 0;
    if (!json_is_array(arr)) {
        errf(err, errlen, "%s: %s: must be an array", what, sname);
        return -EINVAL;
    }
    json_array_foreach(arr, i, item)
    {
        char where[64], key[32];
        const char *name, *ctrl = NULL, *bdev = NULL;
        int target = 0, lun = 0;
        long prev;

        snprintf(where, sizeof(where), "%s[%zu]", sname, i);
        if (!json_is_object(item)) {
            errf(err, errlen, "%s: %s: must be an object", what, where);
            return -EINVAL;
        }
        switch (s) {
        case CONFIG_BDEVS:
        case CONFIG_CONTROLLERS:
            if (!(name = need_string(item, "name", what, where, err, errlen)))
                return -EINVAL;
            if (!need_string(item, s == CONFIG_BDEVS ? "type" : "socket_path", what, where, err,
                             errlen))
                return -EINVAL;
            prev = remember(seen[s], name, i);
            if (prev >= 0) {
                errf(err, errlen, "%s: %s: name: \"%s\" is already %s[%ld]", what, where, name,
                     sname, prev);
                return -EINVAL;
            }
            break;
        default:
            if (!(ctrl = need_string(item, "controller", what, where, err, errlen)) ||
                !(bdev = need_string(item, "bdev", what, where, err, errlen)) ||
                (target = need_index(item, "target", what, where, err, errlen)) < 0 ||
                (lun = need_index(item, "lun", what, where, err, errlen)) < 0)
                return -EINVAL;
            if (!json_object_get(seen[CONFIG_CONTROLLERS], ctrl)) {
                errf(err, errlen, "%s: %s: controller: no controller named \"%s\" in controllers",
                     what, where, ctrl);
                return -EINVAL;
            }
            if (!json_object_get(seen[CONFIG_BDEVS], bdev)) {
                errf(err, errlen, "%s: %s: bdev: no bdev named \"%s\" in bdevs", what, where, bdev);
                return -EINVAL;
            }
            /* The numbers first: they end at the second colon, whatever the name holds. */
            snprintf(key, sizeof(key), "%d:%d:", target, lun);
            json_t *k = json_sprintf("%s%s", key, ctrl);
            prev = k ? remember(seen[s], json_string_value(k), i) : -2;
            json_decref(k);
            if (prev >= 0) {
                errf(err, errlen, "%s: %s: %s %d:%d is already %s[%ld]", what, where, ctrl, target,
                     lun, sname, prev);
                return -EINVAL;
            }
            break;
        }
        if (prev == -2) {
            errf(err, errlen, "%s: out of memory", what);
            return -ENOMEM;
        }
    }
    return 0;
}

/* Any thread (config not shared). */
int config_validate(json_t *config, const char *what, char *err, size_t errlen)
{
    json_t *seen[CONFIG_SECTIONS] = { NULL }, *v;
    const char *key;
    int rc = -EINVAL;

    if (!json_is_object(config)) {
        errf(err, errlen, "%s: the top level must be an object", what);
        return -EINVAL;
    }
    v = json_object_get(config, "version");
    if (!v) {
        errf(err, errlen, "%s: version: missing", what);
        return -EINVAL;
    }
    if (!json_is_integer(v)) {
        errf(err, errlen, "%s: version: must be an integer", what);
        return -EINVAL;
    }
    if (json_integer_value(v) != CONFIG_VERSION) {
        errf(err, errlen,
             "%s: version: %" JSON_INTEGER_FORMAT
             " is not supported (this daemon reads version %d)",
             what, json_integer_value(v), CONFIG_VERSION);
        return -EINVAL;
    }
    json_object_foreach(config, key, v)
    {
        bool known = strcmp(key, "version") == 0;

        for (unsigned s = 0; s < CONFIG_SECTIONS; s++)
            known = known || strcmp(key, section_names[s]) == 0;
        if (!known) {
            errf(err, errlen, "%s: %s: unknown key (expected version, bdevs, controllers, luns)",
                 what, key);
            return -EINVAL;
        }
    }
    for (unsigned s = 0; s < CONFIG_SECTIONS; s++) {
        seen[s] = json_object();
        if (!seen[s]) {
            errf(err, errlen, "%s: out of memory", what);
            rc = -ENOMEM;
            goto out;
        }
    }
    /* In apply order, so a LUN's references are known when it is checked. */
    for (unsigned s = 0; s < CONFIG_SECTIONS; s++) {
        rc = check_section(config, (enum config_section)s, seen, what, err, errlen);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    for (unsigned s = 0; s < CONFIG_SECTIONS; s++)
        json_decref(seen[s]);
    return rc;
}

/* ---- load ---- */

/*
 * Larger than any configuration we write (a few hundred bytes per item), so
 * a wrong path (a disk image) is refused instead of read into memory.
 */
#define MAX_FILE_SIZE (64 << 20)

/*
 * The whole file in one buffer: json_loadfd reads one byte per read() call,
 * 300 ms of syscalls for a 360 KB configuration.
 */
static char *read_whole(int fd, size_t size, size_t *len)
{
    char *buf = malloc(size + 1);
    size_t n = 0;

    if (!buf)
        return NULL;
    for (;;) {
        ssize_t r = read(fd, buf + n, size + 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)r;
        if (r == 0 || n == size + 1)
            break;
    }
    /* Grown since fstat: the next save replaces it, and then it is whole. */
    if (n > size) {
        free(buf);
        errno = EAGAIN;
        return NULL;
    }
    *len = n;
    return buf;
}

/* Any thread. */
json_t *config_load(const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    struct stat st;
    json_t *config;
    size_t len;
    char *text;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return config_new();
    if (fd < 0) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size > MAX_FILE_SIZE) {
        errf(err, errlen, "%s: %lld bytes, larger than any configuration (%d MiB at most)", path,
             (long long)st.st_size, MAX_FILE_SIZE >> 20);
        close(fd);
        return NULL;
    }
    text = read_whole(fd, (size_t)st.st_size, &len);
    if (!text) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    close(fd);
    config = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!config) {
        errf(err, errlen, "%s: line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (config_validate(config, path, err, errlen) < 0) {
        json_decref(config);
        return NULL;
    }
    /* Callers may take every section for granted. */
    for (unsigned s = 0; s < CONFIG_SECTIONS; s++) {
        if (!json_object_get(config, section_names[s]) &&
            json_object_set_new(config, section_names[s], json_array()) != 0) {
            errf(err, errlen, "%s: out of memory", path);
            json_decref(config);
            return NULL;
        }
    }
    return config;
}

/* ---- save ---- */

/*
 * json_dump_callback's output is gathered in a buffer and written in large
 * pieces: no second copy of a whole (possibly large) configuration in memory,
 * and few syscalls.
 */
#define WRITE_CHUNK (64 * 1024)

struct writer {
    int fd;
    int error; /* errno of the first failed write */
    size_t used;
    char buf[WRITE_CHUNK];
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int writer_flush(struct writer *w)
{
    int rc = 0;

    if (!w->error && w->used > 0)
        rc = write_all(w->fd, w->buf, w->used);
    if (rc < 0)
        w->error = -rc;
    w->used = 0;
    return w->error ? -1 : 0;
}

static int writer_cb(const char *data, size_t size, void *arg)
{
    struct writer *w = arg;

    while (size > 0) {
        size_t n = WRITE_CHUNK - w->used;

        if (n > size)
            n = size;
        memcpy(w->buf + w->used, data, n);
        w->used += n;
        data += n;
        size -= n;
        if (w->used == WRITE_CHUNK && writer_flush(w) < 0)
            return -1;
    }
    return 0;
}

/* "dir/name" -> "dir", "name" -> "."; NULL on allocation failure. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Writes config into fd; 0 or -errno. */
static int dump_to(int fd, json_t *config)
{
    struct writer *w = malloc(sizeof(*w));
    int rc;

    if (!w)
        return -ENOMEM;
    w->fd = fd;
    w->error = 0;
    w->used = 0;
    rc = json_dump_callback(config, writer_cb, w, JSON_INDENT(2));
    if (rc == 0)
        rc = writer_cb("\n", 1, w);
    if (rc == 0)
        rc = writer_flush(w);
    rc = rc == 0 ? 0 : w->error ? -w->error : -ENOMEM;
    free(w);
    return rc;
}

/* Any thread; one thread per FILE (see the header). */
int config_save(const char *path, json_t *config, char *err, size_t errlen)
{
    char *tmp = NULL, *dir = NULL, verr[512];
    int fd = -1, dfd, rc;

    rc = config_validate(config, "", verr, sizeof(verr));
    if (rc < 0) {
        errf(err, errlen, "%s: not saved%s", path, verr);
        return rc;
    }
    dir = dir_of(path);
    if (!dir || asprintf(&tmp, "%s" TMP_SUFFIX TMP_XS, path) < 0) {
        tmp = NULL;
        rc = -ENOMEM;
        errf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        errf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir, strerror(-rc));
        goto out;
    }
    rc = dump_to(fd, config);
    if (rc < 0) {
        errf(err, errlen, "%s: writing %s: %s", path, tmp, strerror(-rc));
        goto out_unlink;
    }
    /* The data must be on disk before the rename makes it FILE. */
    if (fsync(fd) != 0) {
        rc = -errno;
        errf(err, errlen, "%s: fsync of %s: %s", path, tmp, strerror(-rc));
        goto out_unlink;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        rc = -errno;
        errf(err, errlen, "%s: closing %s: %s", path, tmp, strerror(-rc));
        goto out_unlink;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        errf(err, errlen, "%s: renaming %s over it: %s", path, tmp, strerror(-rc));
        goto out_unlink;
    }
    /* And the rename itself on disk, or a power cut may bring the old FILE back. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        rc = -errno;
        errf(err, errlen, "%s: saved, but the fsync of directory %s failed: %s", path, dir,
             strerror(-rc));
    }
    if (dfd >= 0)
        close(dfd);
    goto out;

out_unlink:
    if (fd >= 0)
        close(fd);
    fd = -1;
    unlink(tmp);
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(dir);
    return rc;
}

/* Whether name is base + ".tmp." + six characters mkstemp would choose. */
static bool is_our_tmp(const char *name, const char *base)
{
    size_t bl = strlen(base), sl = strlen(TMP_SUFFIX);

    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, TMP_SUFFIX, sl) != 0)
        return false;
    name += bl + sl;
    return strlen(name) == TMP_RANDOM && strspn(name, TMP_ALPHABET) == TMP_RANDOM;
}

/* Any thread, while no save of path runs. */
int config_remove_stale(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char *dir = dir_of(path);
    struct dirent *de;
    int removed = 0, rc = 0;
    DIR *d;

    if (!dir) {
        errf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    d = opendir(dir);
    if (!d) {
        rc = -errno;
        errf(err, errlen, "%s: reading directory %s: %s", path, dir, strerror(-rc));
        free(dir);
        return rc;
    }
    while ((de = readdir(d))) {
        if (!is_our_tmp(de->d_name, base))
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
            rc = -errno;
            errf(err, errlen, "%s: removing %s/%s: %s", path, dir, de->d_name, strerror(-rc));
            break;
        }
        removed++;
    }
    closedir(d);
    free(dir);
    return rc < 0 ? rc : removed;
}

/* ---- applying and editing ---- */

/* Any thread (config not shared). */
json_t *config_items(json_t *config, enum config_section s)
{
    if ((unsigned)s >= CONFIG_SECTIONS)
        return NULL;
    return json_object_get(config, section_names[s]);
}

/* Any thread (config not shared). */
void config_iter_init(struct config_iter *it, json_t *config)
{
    memset(it, 0, sizeof(*it));
    it->config = config;
    it->section = CONFIG_BDEVS;
}

/* Any thread (config not shared). */
bool config_iter_next(struct config_iter *it)
{
    while ((unsigned)it->section < CONFIG_SECTIONS) {
        json_t *arr = config_items(it->config, it->section);

        if (it->next_ < json_array_size(arr)) {
            it->index = it->next_++;
            it->params = json_array_get(arr, it->index);
            return true;
        }
        it->section++;
        it->next_ = 0;
    }
    it->params = NULL;
    return false;
}

static const char *str_or(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "?";
}

/* Any thread (params not shared). */
int config_item_label(char *buf, size_t len, enum config_section s, size_t index, json_t *params)
{
    const char *sname = config_section_name(s);

    switch (s) {
    case CONFIG_BDEVS:
    case CONFIG_CONTROLLERS:
        return snprintf(buf, len, "%s[%zu] (%s)", sname, index, str_or(params, "name"));
    case CONFIG_LUNS:
        return snprintf(buf, len,
                        "%s[%zu] (%s %" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT " -> %s)",
                        sname, index, str_or(params, "controller"),
                        json_integer_value(json_object_get(params, "target")),
                        json_integer_value(json_object_get(params, "lun")), str_or(params, "bdev"));
    default:
        return snprintf(buf, len, "%s[%zu]", sname, index);
    }
}

/* Any thread (it not shared). */
void config_item_error(char *buf, size_t len, const char *path, const struct config_iter *it,
                       const char *reason)
{
    char label[320];

    config_item_label(label, sizeof(label), it->section, it->index, it->params);
    snprintf(buf, len, "config %s: %s: %s", path, label, reason);
}

/* Any thread (config not shared). */
int config_add(json_t *config, enum config_section s, json_t *params)
{
    json_t *arr = config_items(config, s);

    if (!json_is_array(arr) || !json_is_object(params))
        return -EINVAL;
    if (json_array_append_new(arr, json_deep_copy(params)) != 0)
        return -ENOMEM;
    return 0;
}

static json_t *find_named(json_t *config, enum config_section s, const char *name, size_t *index)
{
    json_t *item;
    size_t i;

    json_array_foreach(config_items(config, s), i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));

        if (n && strcmp(n, name) == 0) {
            if (index)
                *index = i;
            return item;
        }
    }
    return NULL;
}

/* Any thread (config not shared). */
json_t *config_find_bdev(json_t *config, const char *name, size_t *index)
{
    return find_named(config, CONFIG_BDEVS, name, index);
}

/* Any thread (config not shared). */
json_t *config_find_controller(json_t *config, const char *name, size_t *index)
{
    return find_named(config, CONFIG_CONTROLLERS, name, index);
}

/* Any thread (config not shared). */
json_t *config_find_lun(json_t *config, const char *controller, int target, int lun, size_t *index)
{
    json_t *item;
    size_t i;

    json_array_foreach(config_items(config, CONFIG_LUNS), i, item)
    {
        const char *c = json_string_value(json_object_get(item, "controller"));

        if (c && strcmp(c, controller) == 0 &&
            json_integer_value(json_object_get(item, "target")) == target &&
            json_integer_value(json_object_get(item, "lun")) == lun) {
            if (index)
                *index = i;
            return item;
        }
    }
    return NULL;
}

/* Any thread (config not shared). */
int config_remove(json_t *config, enum config_section s, size_t index)
{
    json_t *arr = config_items(config, s);

    if (!arr || json_array_remove(arr, index) != 0)
        return -ENOENT;
    return 0;
}
