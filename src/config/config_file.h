/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The persisted configuration (--config FILE): block devices, controllers
 * and LUN attachments as JSON, so a restarted daemon comes back as it was.
 *
 *   {"version": 1,
 *    "bdevs":       [{"name": "disk1", "type": "file", "path": "...", ...}],
 *    "controllers": [{"name": "vm1", "socket_path": "/run/vus/vm1.sock"}],
 *    "luns":        [{"controller": "vm1", "bdev": "disk1", "target": 0, "lun": 0}]}
 *
 * Each item is exactly the params object of the RPC method that created it
 * (bdev_create, controller_create, lun_attach), so restoring is replaying
 * them in that order.  This module knows only what it needs for that: the
 * required keys below, their types, unique names and LUN addresses, and that
 * every LUN names a controller and a bdev of the file.  Any other key is
 * kept as it is and left to the RPC method to judge when replayed; unknown
 * top-level keys are refused (a typo there would silently drop a section).
 *
 *   bdevs[i]:       name (non-empty string), type (non-empty string)
 *   controllers[i]: name (non-empty string), socket_path (non-empty string)
 *   luns[i]:        controller, bdev (strings naming items of the file),
 *                   target, lun (integers 0..255)
 *
 * Two kinds of failure, handled differently.  A file this daemon would never
 * have written (bad JSON, wrong shape, a LUN naming a missing bdev) is
 * refused as a whole by config_load with the place and the reason: nothing
 * is applied, the operator fixes the file.  An item that is fine but cannot
 * be applied now (its image is gone, its socket path is taken) fails alone;
 * the daemon reports it with config_item_error and brings up the rest.
 *
 * Crash safety: config_save writes FILE.tmp.XXXXXX in FILE's directory,
 * fsyncs it, renames it over FILE and fsyncs the directory, so FILE is
 * always either the old or the new configuration, whole.  A writer killed
 * mid-way leaves its temporary file behind; config_remove_stale, called by
 * the daemon at start-up before it saves anything, removes those.  Loading
 * does not remove them: a reader (a second process looking at the file) must
 * not delete the temporary file of a save in progress.
 *
 * Threads: all functions may be called from any thread; a json_t config
 * must not be used by two threads at once (jansson objects are not locked),
 * and saves of one FILE should come from one thread so that the last rename
 * is the newest configuration.  If FILE is a symbolic link, the link is
 * replaced by a regular file.  A save beyond RLIMIT_FSIZE raises SIGXFSZ,
 * which kills a process that does not ignore it: the daemon should.
 */
#ifndef VUS_CONFIG_CONFIG_FILE_H
#define VUS_CONFIG_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CONFIG_VERSION 1

/* The sections, in the order they are applied. */
enum config_section { CONFIG_BDEVS, CONFIG_CONTROLLERS, CONFIG_LUNS, CONFIG_SECTIONS };

/* "bdevs", "controllers", "luns". */
const char *config_section_name(enum config_section s);

/* A new empty configuration: version 1 and three empty arrays. */
json_t *config_new(void);

/*
 * Checks a configuration against the rules above.  0, or -EINVAL with
 * "WHAT: luns[2]: controller: must be a string" in err (WHAT is a file name
 * or any prefix the caller likes).
 */
int config_validate(json_t *config, const char *what, char *err, size_t errlen);

/*
 * Reads and validates FILE.  A missing FILE is an empty configuration (a
 * first start); every section is present in what is returned, even if the
 * file left it out.  NULL on error, with "FILE: line 3 column 5: ..." for
 * bad JSON (duplicate keys included), "FILE: luns[2]: ..." for a bad shape,
 * "FILE: Permission denied" and the like for the file itself.
 */
json_t *config_load(const char *path, char *err, size_t errlen);

/*
 * Validates config and writes it to FILE atomically (see above), mode 0600.
 * 0, or -errno with the reason in err; FILE is then untouched and the
 * temporary file removed.  The one exception: if the final fsync of the
 * directory fails, FILE already holds the new configuration but may not
 * survive a power cut; that is reported as an error too ("saved, but ...").
 */
int config_save(const char *path, json_t *config, char *err, size_t errlen);

/*
 * Removes the temporary files config_save of FILE left behind when its
 * process died (FILE.tmp.XXXXXX, X from mkstemp's alphabet).  The number
 * removed, or -errno with the reason in err.  Only while no save of FILE is
 * in progress: at daemon start-up, before the RPC server runs.
 */
int config_remove_stale(const char *path, char *err, size_t errlen);

/* The items of one section (borrowed; never NULL for a validated config). */
json_t *config_items(json_t *config, enum config_section s);

/*
 * Walks the items in the order to apply them: bdevs, controllers, luns.
 *
 *   struct config_iter it;
 *   config_iter_init(&it, config);
 *   while (config_iter_next(&it))
 *       if (apply(it.section, it.params, reason) < 0) {
 *           config_item_error(msg, sizeof(msg), path, &it, reason);
 *           LOG_ERR("%s", msg);
 *       }
 */
struct config_iter {
    json_t *config;
    enum config_section section; /* of the current item */
    size_t index;                /* in its section */
    json_t *params;              /* the current item (borrowed) */
    size_t next_;                /* private */
};
void config_iter_init(struct config_iter *it, json_t *config);
bool config_iter_next(struct config_iter *it);

/*
 * A person's name for an item: "bdevs[0] (disk1)", "controllers[1] (vm1)",
 * "luns[2] (vm1 0:1 -> disk1)".  Returns what snprintf returns.
 */
int config_item_label(char *buf, size_t len, enum config_section s, size_t index, json_t *params);
/* "config FILE: luns[2] (vm1 0:1 -> disk1): REASON". */
void config_item_error(char *buf, size_t len, const char *path, const struct config_iter *it,
                       const char *reason);

/*
 * Editing a configuration as RPCs succeed.  config_add appends a deep copy of
 * params (0, -EINVAL for a bad section or a non-object, -ENOMEM); config_find_*
 * return the item (borrowed, may be changed in place, e.g. a bdev's size
 * after a resize) and its index, or NULL; config_remove drops item index of
 * a section (0, or -ENOENT).  Nothing here re-validates: config_save does.
 */
int config_add(json_t *config, enum config_section s, json_t *params);
json_t *config_find_bdev(json_t *config, const char *name, size_t *index);
json_t *config_find_controller(json_t *config, const char *name, size_t *index);
json_t *config_find_lun(json_t *config, const char *controller, int target, int lun, size_t *index);
int config_remove(json_t *config, enum config_section s, size_t index);

#endif
