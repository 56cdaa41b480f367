/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line of the daemon:
 *
 *   vhost-user-scsi --socket-path PATH | --fd N  --lun SPEC [--lun SPEC...]
 *                   [--name NAME] [--rpc-socket PATH [--config FILE]] [--state-dir DIR]
 *                   [--threads N] [--poll-us N] [-v] [--print-capabilities]
 *                   [--mask-features HEX] [--mask-protocol-features HEX]
 *                   [--help] [--version]
 *   vhost-user-scsi --rpc-socket PATH [--config FILE] [--threads N] ...
 *
 * Parsing is pure: nothing is opened or allocated, so every mistake is found
 * before the daemon touches a file or a socket.
 */
#ifndef VUS_DAEMON_OPTIONS_H
#define VUS_DAEMON_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/lun_spec.h"

#ifndef VUS_VERSION
#define VUS_VERSION "0.1.0"
#endif

#define OPT_MAX_LUNS    256
#define OPT_MAX_THREADS 64
#define OPT_MAX_POLL_US 1000
#define OPT_MAX_CPUS    1024
/* QEMU's iothreads poll for at most 32 us by default; the same trade-off. */
#define OPT_DEFAULT_POLL_US 32
struct options {
    const char *socket_path; /* points into argv */
    int listen_fd;           /* -1 when --socket-path is used */
    unsigned threads;        /* default 1, 1..OPT_MAX_THREADS */
    unsigned poll_us;        /* longest poll window, 0..OPT_MAX_POLL_US */
    const char *name;        /* the --socket-path/--fd controller's; NULL without one */
    unsigned ncpus;          /* --cpus: worker i runs on cpus[i % ncpus]; 0: anywhere */
    unsigned short cpus[OPT_MAX_CPUS];
    const char *rpc_socket; /* NULL: no RPC */
    const char *config;     /* NULL: nothing persisted */
    const char *state_dir;  /* APTPL reservation state; NULL: APTPL refused */
    bool verbose;
    bool print_capabilities;
    /* Testing: offered bits every controller withholds (only ever removed, never added). */
    uint64_t mask_features, mask_protocol_features;
    unsigned nluns;
    struct opt_lun luns[OPT_MAX_LUNS];
};

/*
 * Returns 0: run; 1: --help/--version/--print-capabilities was printed to out,
 * exit 0; -1: error, one line in err (naming the bad option or key, e.g.
 * "--lun 'type=ram': size= is required"), exit 2.  o is large (about 1 MiB):
 * allocate it statically or on the heap.
 */
int options_parse(int argc, char **argv, struct options *o, FILE *out, char *err, size_t errlen);

#endif
