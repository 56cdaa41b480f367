/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The --lun SPEC of the command line (lun_spec.c): KEY=VALUE pairs separated
 * by commas, ",," standing for a comma inside a value.  Parsing is pure:
 * nothing is opened, so a mistake is found before the daemon touches a file.
 */
#ifndef VUS_DAEMON_LUN_SPEC_H
#define VUS_DAEMON_LUN_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "bdev/bdev.h"
#include "scsi/scsi.h"

/* rbd timeout=: an hour is already far past any initiator's patience. */
#define OPT_MAX_RBD_TIMEOUT 3600

struct opt_lun {
    struct bdev_config bdev; /* bdev.path points into path */
    struct scsi_lun_config scsi;
    char path[4096];
    char pci[13]; /* nvme: "DDDD:BB:DD.F", domain added when omitted */
    char rbd_pool[128], rbd_image[128], rbd_snap[128], rbd_id[64]; /* rbd: pool= ... id= */
    bool lun_given; /* lun= was explicit; otherwise the next free number was chosen */
};

/*
 * SPEC into l (zeroed first).  0, or -1 with one line in err: "--lun 'SPEC':
 * REASON", naming the key.  lun= is left for the caller to place when absent
 * (l->lun_given).
 */
int lun_spec_parse(struct opt_lun *l, const char *spec, char *err, size_t errlen);

/* The "--lun 'SPEC': " message of any later check on a parsed SPEC; returns -1. */
int lun_spec_error(char *err, size_t errlen, const char *spec, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* All of s as a decimal number <= max: no sign, no spaces, no other base. */
bool opt_parse_uint(const char *s, unsigned long long max, unsigned long long *v);

#endif
