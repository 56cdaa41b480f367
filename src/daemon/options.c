/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "daemon/controller.h"
#include "vhost/vu_proto.h"

enum {
    OPT_SOCKET_PATH = 256, /* above any short option character */
    OPT_FD,
    OPT_LUN,
    OPT_THREADS,
    OPT_POLL_US,
    OPT_PRINT_CAPS,
    OPT_RPC_SOCKET,
    OPT_CONFIG,
    OPT_STATE_DIR,
    OPT_NAME,
    OPT_CPUS,
    OPT_MASK_FEATURES,
    OPT_MASK_PROTOCOL_FEATURES,
};

static const struct option long_opts[] = {
    { "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
    { "fd", required_argument, NULL, OPT_FD },
    { "lun", required_argument, NULL, OPT_LUN },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "poll-us", required_argument, NULL, OPT_POLL_US },
    { "verbose", no_argument, NULL, 'v' },
    { "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
    { "rpc-socket", required_argument, NULL, OPT_RPC_SOCKET },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "state-dir", required_argument, NULL, OPT_STATE_DIR },
    { "name", required_argument, NULL, OPT_NAME },
    { "cpus", required_argument, NULL, OPT_CPUS },
    { "mask-features", required_argument, NULL, OPT_MASK_FEATURES },
    { "mask-protocol-features", required_argument, NULL, OPT_MASK_PROTOCOL_FEATURES },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static const char usage_text[] =
    "Usage: vhost-user-scsi --socket-path PATH | --fd N --lun SPEC [--lun SPEC...]\n"
    "                       [--name NAME] [--rpc-socket PATH [--config FILE]]\n"
    "                       [--state-dir DIR] [--threads N] [--cpus LIST] [--poll-us N] [-v]\n"
    "                       [--print-capabilities] [--help] [--version]\n"
    "                       [--mask-features HEX] [--mask-protocol-features HEX]\n"
    "       vhost-user-scsi --rpc-socket PATH [--config FILE] [--threads N] ...\n"
    "\n"
    "Serve a virtio-scsi controller to QEMU over the vhost-user protocol.\n"
    "\n"
    "Options:\n"
    "  --socket-path PATH    listen on a new UNIX socket at PATH for the frontend\n"
    "  --fd N                use the already listening UNIX socket on descriptor N\n"
    "                        (one of --socket-path and --fd is required, unless\n"
    "                        --rpc-socket is given: controllers then come by RPC)\n"
    "  --name NAME           name of the controller above, for RPC (default \"default\")\n"
    "  --rpc-socket PATH     serve JSON-RPC on a UNIX socket at PATH (mode 0600):\n"
    "                        controllers, block devices and LUNs are created, deleted,\n"
    "                        resized and listed there (see vhost-user-scsi-ctl(8))\n"
    "  --config FILE         keep what RPC created in FILE, rewritten atomically after\n"
    "                        every change, and restore it at start\n"
    "  --state-dir DIR       keep the persistent reservations that initiators ask to\n"
    "                        survive power loss (APTPL) in DIR, a file per block device,\n"
    "                        restored when a LUN attaches it; without it APTPL is refused;\n"
    "                        also who holds each rbd image's lock, so a restart after a\n"
    "                        crash takes it from its dead predecessor at once\n"
    "  --lun SPEC            add a logical unit (repeatable, at least one, at most 256)\n"
    "  --threads N           worker threads serving the request queues of every\n"
    "                        controller (1..64, default 1)\n"
    "  --cpus LIST           run worker i on the i-th CPU of LIST (e.g. 2-5,8), wrapping\n"
    "                        around; default: wherever the scheduler likes\n"
    "  --poll-us N           a worker polls its queues for up to N microseconds after the\n"
    "                        last request before it sleeps, while that pays for itself:\n"
    "                        requests far apart are not polled for (0..1000, default 32;\n"
    "                        0: never poll)\n"
    "  -v, --verbose         verbose (debug-level) logging\n"
    "  --print-capabilities  print the backend capabilities as JSON and exit\n"
    "  --mask-features HEX   for testing frontends: withhold these virtio feature bits\n"
    "                        (hex, e.g. 0x20000000 for EVENT_IDX, 0x400000000 for\n"
    "                        RING_PACKED; bit 30 withholds vhost-user protocol\n"
    "                        features altogether) from every controller's offer;\n"
    "                        only bits the daemon offers, never adds\n"
    "  --mask-protocol-features HEX\n"
    "                        for testing frontends: withhold these vhost-user protocol\n"
    "                        feature bits (hex, e.g. 0x8000 for CONFIGURE_MEM_SLOTS)\n"
    "  -h, --help            print this text and exit\n"
    "  -V, --version         print the version and exit\n"
    "\n"
    "SPEC is a comma-separated list of KEY=VALUE (write ,, for a comma inside a value):\n"
    "  type=ram|file|null|nvme|iscsi|rbd  backend (required); null completes I/O\n"
    "                        without storing data (reads leave the guest buffer as it was);\n"
    "                        nvme drives a local NVMe controller from userspace through\n"
    "                        VFIO, DMA going straight to guest memory (see\n"
    "                        vhost-user-scsi(8), NVME); iscsi serves a LUN of a remote iSCSI\n"
    "                        target (ISCSI); rbd serves a Ceph RBD image through librbd (RBD)\n"
    "  size=SIZE             ram, null: disk size (required), bytes with optional K, M, G or T\n"
    "                        (powers of 1024); a non-zero multiple of the block size\n"
    "  path=PATH             file: regular file or block device (required)\n"
    "  target=N              SCSI target 0..255 (default 0)\n"
    "  lun=N                 LUN 0..255 (default: lowest number unused on the target)\n"
    "  block-size=512|4096   logical block size (default 512)\n"
    "  readonly=on|off       refuse writes (default off)\n"
    "  direct=on|off         file: bypass the host page cache with O_DIRECT (default off)\n"
    "  pci=DDDD:BB:DD.F      nvme: the controller's PCI address, bound to vfio-pci (required)\n"
    "  ns=N                  nvme: namespace ID (default 1); block size and capacity come\n"
    "                        from the namespace\n"
    "  url=URL               iscsi: iscsi://[USER[%PASSWORD]@]HOST[:PORT]/TARGET-IQN/LUN\n"
    "                        (required); CHAP credentials also from LIBISCSI_CHAP_USERNAME\n"
    "                        and LIBISCSI_CHAP_PASSWORD; block size and capacity come from\n"
    "                        the target\n"
    "  pool=NAME, image=NAME rbd: the image (required); capacity comes from it\n"
    "  snap=NAME             rbd: serve this snapshot of the image, read-only\n"
    "  conf=PATH             rbd: ceph.conf (default: librados' search, $CEPH_CONF)\n"
    "  id=NAME               rbd: cephx user without \"client.\" (default admin)\n"
    "  timeout=SECONDS       iscsi: while the target is unreachable I/O is held (not failed)\n"
    "                        and reissued once it is back, for up to SECONDS, then failed\n"
    "                        with LOGICAL UNIT COMMUNICATION TIME-OUT (1..3600, default 20);\n"
    "                        rbd: fail a request an OSD has not answered after SECONDS with\n"
    "                        ABORTED COMMAND (0..3600; 0, the default, waits for the OSD)\n"
    "  serial=STR            unit serial number: up to 36 printable ASCII characters\n"
    "  wwn=HEX               NAA identifier: 16 hex digits (optional 0x), NAA 5 or 6\n"
    "  write-cache=on|off    off: start with WCE=0 in the caching mode page, every write\n"
    "                        durable before it completes (FUA); MODE SELECT can change\n"
    "                        it, a LUN reset restores it (default on)\n"
    "  removable=on|off      removable medium: PREVENT ALLOW MEDIUM REMOVAL, and START\n"
    "                        STOP UNIT ejects and loads it (default off)\n"
    "  physical-block-size=N physical block size in bytes, a power-of-two multiple of\n"
    "                        block-size (4096 on a 512-byte LUN: 512e); default the\n"
    "                        medium's (ram: a page; file: its file system block or\n"
    "                        the device's physical block; iscsi: the remote LUN's)\n"
    "  discard-granularity=N OPTIMAL UNMAP GRANULARITY in bytes, a multiple of block-size\n"
    "                        (default the physical block size)\n"
    "\n"
    "Example:\n"
    "  vhost-user-scsi --socket-path /tmp/vus.sock \\\n"
    "      --lun type=file,path=/var/lib/disk.img,serial=disk0 \\\n"
    "      --lun type=ram,size=1G,lun=1,block-size=4096\n"
    "  qemu-system-x86_64 -machine q35,memory-backend=mem \\\n"
    "      -object memory-backend-memfd,id=mem,size=2G,share=on \\\n"
    "      -chardev socket,id=vus0,path=/tmp/vus.sock \\\n"
    "      -device vhost-user-scsi-pci,chardev=vus0,num_queues=2 ...\n";

/*
 * Explicit lun= numbers are placed first so that an unnumbered --lun given
 * earlier on the command line never takes a number named later.
 */
static int assign_luns(struct options *o, char *const *specs, char *err, size_t errlen)
{
    static const unsigned bits = 8 * sizeof(uint64_t);
    uint64_t used[SCSI_MAX_TARGETS][SCSI_LUNS_PER_TGT / (8 * sizeof(uint64_t))];

    memset(used, 0, sizeof(used));
    for (unsigned i = 0; i < o->nluns; i++) {
        struct scsi_lun_config *c = &o->luns[i].scsi;
        if (!o->luns[i].lun_given)
            continue;
        if (used[c->target][c->lun / bits] & (1ull << (c->lun % bits)))
            return lun_spec_error(err, errlen, specs[i], "target %u lun %u is already used",
                                  c->target, c->lun);
        used[c->target][c->lun / bits] |= 1ull << (c->lun % bits);
    }
    for (unsigned i = 0; i < o->nluns; i++) {
        struct scsi_lun_config *c = &o->luns[i].scsi;
        unsigned lun;
        if (o->luns[i].lun_given)
            continue;
        for (lun = 0; lun < SCSI_LUNS_PER_TGT; lun++) {
            if (!(used[c->target][lun / bits] & (1ull << (lun % bits))))
                break;
        }
        if (lun == SCSI_LUNS_PER_TGT)
            return lun_spec_error(err, errlen, specs[i], "no free LUN left on target %u",
                                  c->target);
        c->lun = lun;
        used[c->target][lun / bits] |= 1ull << (lun % bits);
    }
    return 0;
}

static const char *opt_name(int val)
{
    for (const struct option *lo = long_opts; lo->name; lo++) {
        if (lo->val == val)
            return lo->name;
    }
    return "?";
}

static int bad_option(int argc, char **argv, char *err, size_t errlen)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";

    /* Long options report no optopt when unknown, and their own val when given "=value". */
    if (optopt == 0 || optopt >= OPT_SOCKET_PATH || !strncmp(arg, "--", 2)) {
        if (optopt != 0 && strchr(arg, '='))
            snprintf(err, errlen, "option '--%s' does not take a value", opt_name(optopt));
        else
            snprintf(err, errlen, "unknown option '%s'", arg);
    } else {
        snprintf(err, errlen, "unknown option '-%c'", optopt);
    }
    return -1;
}

/* "0-3,6": CPU numbers and inclusive ranges, in the order given. */
static bool parse_cpus(const char *arg, struct options *o)
{
    const char *p = arg;

    o->ncpus = 0;
    for (;;) {
        char *end;
        unsigned long lo, hi;

        if (*p < '0' || *p > '9')
            return false;
        lo = hi = strtoul(p, &end, 10);
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9')
                return false;
            hi = strtoul(p, &end, 10);
        }
        if (lo >= OPT_MAX_CPUS || hi >= OPT_MAX_CPUS || hi < lo)
            return false;
        for (unsigned long c = lo; c <= hi; c++) {
            if (o->ncpus >= OPT_MAX_CPUS)
                return false;
            o->cpus[o->ncpus++] = (unsigned short)c;
        }
        if (*end == '\0')
            return o->ncpus > 0;
        if (*end != ',')
            return false;
        p = end + 1;
    }
}

/*
 * A feature mask: hex digits with an optional 0x, every bit one the daemon
 * offers, so a typo cannot silently mask nothing.  NULL, or what is wrong.
 */
static const char *parse_mask(const char *arg, uint64_t offered, uint64_t *mask)
{
    const char *p = arg;
    uint64_t v = 0;
    unsigned digits = 0;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    if (!*p)
        return "not a hexadecimal number";
    for (; *p; p++) {
        if (!isxdigit((unsigned char)*p))
            return "not a hexadecimal number";
        if (v || *p != '0')
            digits++;
        if (digits > 16)
            return "more than 64 bits";
        v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (*p | 0x20) - 'a' + 10);
    }
    if (v & ~offered)
        return "has bits the daemon does not offer";
    *mask = v;
    return NULL;
}

/* A controller name, as RPC accepts them. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int options_parse(int argc, char **argv, struct options *o, FILE *out, char *err, size_t errlen)
{
    char *specs[OPT_MAX_LUNS];
    bool have_fd = false, have_threads = false, have_poll = false, have_mask = false,
         have_pmask = false;
    unsigned long long n;
    int c;

    memset(o, 0, sizeof(*o));
    o->listen_fd = -1;
    o->threads = 1;
    o->poll_us = OPT_DEFAULT_POLL_US;
    if (errlen)
        err[0] = 0;

    /* 0, not 1: glibc then also forgets a half-scanned "-abc" from an earlier call. */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":vhV", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_RPC_SOCKET:
        case OPT_CONFIG:
        case OPT_STATE_DIR:
        case OPT_NAME: {
            const char **dst = c == OPT_RPC_SOCKET  ? &o->rpc_socket
                               : c == OPT_CONFIG    ? &o->config
                               : c == OPT_STATE_DIR ? &o->state_dir
                                                    : &o->name;

            if (*dst) {
                snprintf(err, errlen, "--%s is given twice", opt_name(c));
                return -1;
            }
            if (!optarg[0]) {
                snprintf(err, errlen, "--%s must not be empty", opt_name(c));
                return -1;
            }
            if (c == OPT_RPC_SOCKET &&
                strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                snprintf(err, errlen, "--rpc-socket '%s' is too long (at most %zu bytes)", optarg,
                         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
                return -1;
            }
            if (c == OPT_NAME && !valid_name(optarg)) {
                snprintf(err, errlen,
                         "--name '%s': 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'",
                         optarg);
                return -1;
            }
            *dst = optarg;
            break;
        }
        case OPT_CPUS:
            if (o->ncpus) {
                snprintf(err, errlen, "--cpus is given twice");
                return -1;
            }
            if (!parse_cpus(optarg, o)) {
                snprintf(err, errlen,
                         "--cpus '%s': must be CPU numbers and ranges like 0-3,6 (each < %d)",
                         optarg, OPT_MAX_CPUS);
                return -1;
            }
            break;
        case OPT_SOCKET_PATH:
            if (o->socket_path) {
                snprintf(err, errlen, "--socket-path is given twice");
                return -1;
            }
            if (!optarg[0]) {
                snprintf(err, errlen, "--socket-path must not be empty");
                return -1;
            }
            if (strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                snprintf(err, errlen, "--socket-path '%s' is too long (at most %zu bytes)", optarg,
                         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
                return -1;
            }
            o->socket_path = optarg;
            break;
        case OPT_FD:
            if (have_fd) {
                snprintf(err, errlen, "--fd is given twice");
                return -1;
            }
            if (!opt_parse_uint(optarg, INT_MAX, &n)) {
                snprintf(err, errlen, "--fd '%s': not a file descriptor number", optarg);
                return -1;
            }
            o->listen_fd = (int)n;
            have_fd = true;
            break;
        case OPT_LUN:
            if (o->nluns == OPT_MAX_LUNS) {
                snprintf(err, errlen, "--lun '%s': too many LUNs (at most %d)", optarg,
                         OPT_MAX_LUNS);
                return -1;
            }
            if (lun_spec_parse(&o->luns[o->nluns], optarg, err, errlen))
                return -1;
            specs[o->nluns++] = optarg;
            break;
        case OPT_THREADS:
            if (have_threads) {
                snprintf(err, errlen, "--threads is given twice");
                return -1;
            }
            if (!opt_parse_uint(optarg, OPT_MAX_THREADS, &n) || n == 0) {
                snprintf(err, errlen, "--threads '%s': must be between 1 and %d", optarg,
                         OPT_MAX_THREADS);
                return -1;
            }
            o->threads = (unsigned)n;
            have_threads = true;
            break;
        case OPT_POLL_US:
            if (have_poll) {
                snprintf(err, errlen, "--poll-us is given twice");
                return -1;
            }
            if (!opt_parse_uint(optarg, OPT_MAX_POLL_US, &n)) {
                snprintf(err, errlen, "--poll-us '%s': must be between 0 and %d", optarg,
                         OPT_MAX_POLL_US);
                return -1;
            }
            o->poll_us = (unsigned)n;
            have_poll = true;
            break;
        case OPT_MASK_FEATURES:
        case OPT_MASK_PROTOCOL_FEATURES: {
            bool proto = c == OPT_MASK_PROTOCOL_FEATURES;
            bool *seen = proto ? &have_pmask : &have_mask;
            uint64_t offered =
                proto ? controller_protocol_features()
                      : controller_features() | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
            const char *why;

            if (*seen) {
                snprintf(err, errlen, "--%s is given twice", opt_name(c));
                return -1;
            }
            why =
                parse_mask(optarg, offered, proto ? &o->mask_protocol_features : &o->mask_features);
            if (why) {
                snprintf(err, errlen, "--%s '%s': %s (offered: 0x%llx)", opt_name(c), optarg, why,
                         (unsigned long long)offered);
                return -1;
            }
            *seen = true;
            break;
        }
        case 'v':
            o->verbose = true;
            break;
        case OPT_PRINT_CAPS:
            /* The vhost-user "backend program conventions" of QEMU's documentation. */
            o->print_capabilities = true;
            fputs("{\"type\": \"scsi\"}\n", out);
            return 1;
        case 'h':
            fputs(usage_text, out);
            return 1;
        case 'V':
            fputs("vhost-user-scsi " VUS_VERSION "\n", out);
            return 1;
        case ':':
            /* Only long options take arguments. */
            snprintf(err, errlen, "option '--%s' requires an argument", opt_name(optopt));
            return -1;
        default:
            return bad_option(argc, argv, err, errlen);
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->socket_path && have_fd) {
        snprintf(err, errlen, "--socket-path and --fd cannot be used together");
        return -1;
    }
    if (o->config && !o->rpc_socket) {
        snprintf(err, errlen,
                 "--config needs --rpc-socket (the configuration is what RPC creates)");
        return -1;
    }
    if (o->name && !o->socket_path && !have_fd) {
        snprintf(err, errlen, "--name names the --socket-path/--fd controller: give one");
        return -1;
    }
    if (!o->socket_path && !have_fd) {
        if (!o->rpc_socket) {
            snprintf(err, errlen, "one of --socket-path or --fd is required");
            return -1;
        }
        if (o->nluns > 0) {
            snprintf(err, errlen, "--lun needs --socket-path or --fd (a controller to attach to)");
            return -1;
        }
        return 0;
    }
    if (o->nluns == 0 && !o->rpc_socket) {
        snprintf(err, errlen, "at least one --lun is required");
        return -1;
    }
    if (!o->name)
        o->name = "default";
    return assign_luns(o, specs, err, errlen);
}
