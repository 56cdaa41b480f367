/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "bdev/bdev_iscsi.h"
#include "rpc/rpc_params.h"

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
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static const char usage_text[] =
    "Usage: vhost-user-scsi --socket-path PATH | --fd N --lun SPEC [--lun SPEC...]\n"
    "                       [--name NAME] [--rpc-socket PATH [--config FILE]]\n"
    "                       [--state-dir DIR] [--threads N] [--cpus LIST] [--poll-us N] [-v]\n"
    "                       [--print-capabilities] [--help] [--version]\n"
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
    "                        restored when a LUN attaches it; without it APTPL is refused\n"
    "  --lun SPEC            add a logical unit (repeatable, at least one, at most 256)\n"
    "  --threads N           worker threads serving the request queues of every\n"
    "                        controller (1..64, default 1)\n"
    "  --cpus LIST           run worker i on the i-th CPU of LIST (e.g. 2-5,8), wrapping\n"
    "                        around; default: wherever the scheduler likes\n"
    "  --poll-us N           a worker polls its queues for up to N microseconds after the\n"
    "                        last request before it sleeps; the window adapts to the load,\n"
    "                        an idle device is not polled (0..1000, default 32; 0: never poll)\n"
    "  -v, --verbose         verbose (debug-level) logging\n"
    "  --print-capabilities  print the backend capabilities as JSON and exit\n"
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
    "                        block-size (4096 on a 512-byte LUN: 512e); default block-size\n"
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
 * Every message starts "--lun 'SPEC': " so the user sees which of several
 * --lun is wrong; a very long SPEC is shortened so the reason still fits.
 */
#define SPEC_ECHO_MAX 80
static int lun_error(char *err, size_t errlen, const char *spec, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int lun_error(char *err, size_t errlen, const char *spec, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (strlen(spec) > SPEC_ECHO_MAX)
        n = snprintf(err, errlen, "--lun '%.*s...': ", SPEC_ECHO_MAX - 3, spec);
    else
        n = snprintf(err, errlen, "--lun '%s': ", spec);

    if (n >= 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* All of s as a decimal number <= max: no sign, no spaces, no other base. */
static bool parse_uint(const char *s, unsigned long long max, unsigned long long *v)
{
    unsigned long long x;
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return false;
    *v = x;
    return true;
}

/* 0: ok; -1: not a size; -2: does not fit in 64 bits.  The same grammar as RPC's size params. */
static int parse_size(const char *s, uint64_t *v)
{
    int rc = rpc_parse_size(s, v);

    return rc == 0 ? 0 : rc == -ERANGE ? -2 : -1;
}

static bool parse_on_off(const char *s, bool *v)
{
    if (!strcmp(s, "on")) {
        *v = true;
        return true;
    }
    if (!strcmp(s, "off")) {
        *v = false;
        return true;
    }
    return false;
}

/* NAA 5 (IEEE registered) and 6 (registered extended) are the 8-byte forms VPD 83h can carry. */
static bool parse_wwn(const char *s, uint64_t *v)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) != 16)
        return false;
    for (int i = 0; i < 16; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
    }
    if (s[0] != '5' && s[0] != '6')
        return false;
    *v = strtoull(s, NULL, 16);
    return true;
}

static bool valid_serial(const char *s)
{
    size_t n = strlen(s);

    if (n > SCSI_SERIAL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ',')
            return false;
    }
    return true;
}

enum lun_key {
    K_TYPE,
    K_SIZE,
    K_PATH,
    K_TARGET,
    K_LUN,
    K_BLOCK_SIZE,
    K_READONLY,
    K_DIRECT,
    K_SERIAL,
    K_WWN,
    K_PCI,
    K_NS,
    K_WRITE_CACHE,
    K_URL,
    K_TIMEOUT,
    K_REMOVABLE,
    K_PHYS_BLOCK,
    K_DISCARD_GRAN,
    K_POOL,
    K_IMAGE,
    K_SNAP,
    K_CONF,
    K_ID,
    K_COUNT,
};

static const char *const key_names[K_COUNT] = {
    [K_TYPE] = "type",
    [K_SIZE] = "size",
    [K_PATH] = "path",
    [K_TARGET] = "target",
    [K_LUN] = "lun",
    [K_BLOCK_SIZE] = "block-size",
    [K_READONLY] = "readonly",
    [K_DIRECT] = "direct",
    [K_SERIAL] = "serial",
    [K_WWN] = "wwn",
    [K_PCI] = "pci",
    [K_NS] = "ns",
    [K_WRITE_CACHE] = "write-cache",
    [K_URL] = "url",
    [K_TIMEOUT] = "timeout",
    [K_REMOVABLE] = "removable",
    [K_PHYS_BLOCK] = "physical-block-size",
    [K_DISCARD_GRAN] = "discard-granularity",
    [K_POOL] = "pool",
    [K_IMAGE] = "image",
    [K_SNAP] = "snap",
    [K_CONF] = "conf",
    [K_ID] = "id",
};

/* The keys only type=rbd takes. */
static const enum lun_key rbd_keys[] = { K_POOL, K_IMAGE, K_SNAP, K_CONF, K_ID };

/*
 * A PCI address as sysfs names it: DDDD:BB:DD.F (hex, device 0..1f, function
 * 0..7); BB:DD.F means domain 0000.  Written normalised to out.
 */
static bool parse_pci(const char *val, char out[13])
{
    unsigned dom = 0, bus, dev, fn;
    int used = 0;

    if (strspn(val, "0123456789abcdefABCDEF:.") != strlen(val))
        return false;
    if (sscanf(val, "%4x:%2x:%2x.%1u%n", &dom, &bus, &dev, &fn, &used) == 4 &&
        (size_t)used == strlen(val) && strlen(val) == 12)
        ;
    else if (sscanf(val, "%2x:%2x.%1u%n", &bus, &dev, &fn, &used) == 3 &&
             (size_t)used == strlen(val) && strlen(val) == 7)
        dom = 0;
    else
        return false;
    if (dev > 0x1f || fn > 7)
        return false;
    snprintf(out, 13, "%04x:%02x:%02x.%u", dom, bus, dev, fn);
    return true;
}

/*
 * pool=, image=, snap=, id=: Ceph names, kept to printable ASCII without
 * '/' or '@' (which separate them in "pool/image@snap").
 */
static int rbd_name(struct opt_lun *l, enum lun_key k, const char *val, const char *spec, char *err,
                    size_t errlen)
{
    char *dst = k == K_POOL    ? l->rbd_pool
                : k == K_IMAGE ? l->rbd_image
                : k == K_SNAP  ? l->rbd_snap
                               : l->rbd_id;
    size_t max = k == K_ID ? sizeof(l->rbd_id) : sizeof(l->rbd_pool);

    if (strlen(val) >= max)
        return lun_error(err, errlen, spec, "%s= is longer than %zu characters", key_names[k],
                         max - 1);
    for (const char *c = val; *c; c++)
        if (*c <= ' ' || *c > '~' || *c == '/' || *c == '@')
            return lun_error(err, errlen, spec,
                             "%s= must be printable ASCII without spaces, '/' or '@', not '%s'",
                             key_names[k], val);
    memcpy(dst, val, strlen(val) + 1); /* length checked above */
    return 0;
}

/* Apply one key=value to l; checks that need other keys wait for lun_finish(). */
static int lun_apply(struct opt_lun *l, enum lun_key k, const char *val, const char *spec,
                     char *err, size_t errlen)
{
    unsigned long long n;
    int r;

    switch (k) {
    case K_TYPE:
        if (!strcmp(val, "ram"))
            l->bdev.type = BDEV_TYPE_RAM;
        else if (!strcmp(val, "file"))
            l->bdev.type = BDEV_TYPE_FILE;
        else if (!strcmp(val, "null"))
            l->bdev.type = BDEV_TYPE_NULL;
        else if (!strcmp(val, "nvme"))
            l->bdev.type = BDEV_TYPE_NVME;
        else if (!strcmp(val, "iscsi"))
            l->bdev.type = BDEV_TYPE_ISCSI;
        else if (!strcmp(val, "rbd"))
            l->bdev.type = BDEV_TYPE_RBD;
        else
            return lun_error(err, errlen, spec,
                             "type= must be ram, file, null, nvme, iscsi or rbd, not '%s'", val);
        return 0;
    case K_SIZE:
        r = parse_size(val, &l->bdev.size);
        if (r == -2)
            return lun_error(err, errlen, spec, "size= '%s' does not fit in 64 bits", val);
        if (r)
            return lun_error(err, errlen, spec,
                             "size= '%s' is not a number with an optional K, M, G or T suffix",
                             val);
        return 0;
    case K_PATH:
    case K_URL: /* the two never go together: the url lives in path's room */
        if (strlen(val) >= sizeof(l->path))
            return lun_error(err, errlen, spec, "%s= is too long", key_names[k]);
        memcpy(l->path, val, strlen(val) + 1); /* length checked above */
        return 0;
    case K_TARGET:
        if (!parse_uint(val, SCSI_MAX_TARGETS - 1, &n))
            return lun_error(err, errlen, spec, "target= must be 0..%d, not '%s'",
                             SCSI_MAX_TARGETS - 1, val);
        l->scsi.target = (unsigned)n;
        return 0;
    case K_LUN:
        if (!parse_uint(val, SCSI_LUNS_PER_TGT - 1, &n))
            return lun_error(err, errlen, spec, "lun= must be 0..%d, not '%s'",
                             SCSI_LUNS_PER_TGT - 1, val);
        l->scsi.lun = (unsigned)n;
        l->lun_given = true;
        return 0;
    case K_BLOCK_SIZE:
        if (strcmp(val, "512") && strcmp(val, "4096"))
            return lun_error(err, errlen, spec, "block-size= must be 512 or 4096, not '%s'", val);
        l->bdev.block_size = strcmp(val, "512") ? 4096 : 512;
        return 0;
    case K_READONLY:
    case K_DIRECT:
        if (!parse_on_off(val, k == K_READONLY ? &l->bdev.readonly : &l->bdev.direct))
            return lun_error(err, errlen, spec, "%s= must be on or off, not '%s'", key_names[k],
                             val);
        return 0;
    case K_WRITE_CACHE: {
        bool on;

        if (!parse_on_off(val, &on))
            return lun_error(err, errlen, spec, "write-cache= must be on or off, not '%s'", val);
        l->scsi.write_cache_off = !on;
        return 0;
    }
    case K_REMOVABLE:
        if (!parse_on_off(val, &l->scsi.removable))
            return lun_error(err, errlen, spec, "removable= must be on or off, not '%s'", val);
        return 0;
    case K_PHYS_BLOCK:
        /* 512 B to 32 MiB (the exponent field's 2^15 blocks); the ratio is checked at the LUN. */
        if (!parse_uint(val, 1u << 25, &n) || n < 512 || (n & (n - 1)) != 0)
            return lun_error(err, errlen, spec,
                             "physical-block-size= must be a power of two 512..33554432, not '%s'",
                             val);
        l->scsi.physical_block_size = (uint32_t)n;
        return 0;
    case K_DISCARD_GRAN:
        if (!parse_uint(val, 1u << 30, &n) || n == 0 || n % 512 != 0)
            return lun_error(err, errlen, spec,
                             "discard-granularity= must be a multiple of 512 up to 1073741824, "
                             "not '%s'",
                             val);
        l->scsi.discard_granularity = (uint32_t)n;
        return 0;
    case K_SERIAL:
        if (!valid_serial(val))
            return lun_error(err, errlen, spec,
                             "serial= must be at most %d printable ASCII characters, no comma",
                             SCSI_SERIAL_MAX);
        memcpy(l->scsi.serial, val, strlen(val) + 1); /* valid_serial bounds it */
        return 0;
    case K_WWN:
        if (!parse_wwn(val, &l->scsi.wwn))
            return lun_error(err, errlen, spec,
                             "wwn= must be 16 hex digits starting with NAA 5 or 6, not '%s'", val);
        return 0;
    case K_PCI:
        if (!parse_pci(val, l->pci))
            return lun_error(err, errlen, spec,
                             "pci= must be a PCI address like 0000:00:04.0, not '%s'", val);
        return 0;
    case K_NS:
        if (!parse_uint(val, 0xfffffffeull, &n) || n == 0)
            return lun_error(err, errlen, spec,
                             "ns= must be a namespace ID 1..4294967294, not '%s'", val);
        l->bdev.nsid = (uint32_t)n;
        return 0;
    case K_POOL:
    case K_IMAGE:
    case K_SNAP:
    case K_ID:
        return rbd_name(l, k, val, spec, err, errlen);
    case K_CONF:
        /* type=rbd takes no path=, so the buffer holds the ceph.conf path. */
        if (strlen(val) >= sizeof(l->path))
            return lun_error(err, errlen, spec, "conf= is too long");
        memcpy(l->path, val, strlen(val) + 1); /* length checked above */
        return 0;
    case K_TIMEOUT:
        /* The range depends on the type (iscsi: 1..; rbd: 0..): lun_finish checks the rest. */
        if (!parse_uint(val, OPT_MAX_RBD_TIMEOUT, &n))
            return lun_error(err, errlen, spec, "timeout= must be 0..%d seconds, not '%s'",
                             OPT_MAX_RBD_TIMEOUT, val);
        l->bdev.timeout_s = (unsigned)n;
        return 0;
    case K_COUNT:
        break;
    }
    return lun_error(err, errlen, spec, "internal error");
}

/* Rules that involve several keys, once all of them are known. */
static int lun_finish(struct opt_lun *l, const bool *seen, const char *spec, char *err,
                      size_t errlen)
{
    if (!seen[K_TYPE])
        return lun_error(err, errlen, spec, "type= is required");
    if (l->bdev.type != BDEV_TYPE_NVME && (seen[K_PCI] || seen[K_NS]))
        return lun_error(err, errlen, spec, "%s= is only valid with type=nvme",
                         seen[K_PCI] ? "pci" : "ns");
    if (seen[K_URL] && l->bdev.type != BDEV_TYPE_ISCSI)
        return lun_error(err, errlen, spec, "url= is only valid with type=iscsi");
    if (seen[K_TIMEOUT] && l->bdev.type != BDEV_TYPE_ISCSI && l->bdev.type != BDEV_TYPE_RBD)
        return lun_error(err, errlen, spec, "timeout= is only valid with type=iscsi or rbd");
    for (size_t i = 0; i < sizeof(rbd_keys) / sizeof(rbd_keys[0]); i++)
        if (l->bdev.type != BDEV_TYPE_RBD && seen[rbd_keys[i]])
            return lun_error(err, errlen, spec, "%s= is only valid with type=rbd",
                             key_names[rbd_keys[i]]);
    if (l->bdev.type == BDEV_TYPE_ISCSI) {
        static const enum lun_key not_iscsi[] = { K_SIZE, K_PATH, K_DIRECT, K_BLOCK_SIZE };

        for (size_t i = 0; i < sizeof(not_iscsi) / sizeof(not_iscsi[0]); i++) {
            if (seen[not_iscsi[i]])
                return lun_error(err, errlen, spec,
                                 "%s= is not valid with type=iscsi (the target defines it)",
                                 key_names[not_iscsi[i]]);
        }
        if (!seen[K_URL])
            return lun_error(err, errlen, spec, "url= is required");
        if (seen[K_TIMEOUT] && l->bdev.timeout_s == 0)
            return lun_error(err, errlen, spec,
                             "timeout= must be 1..%d seconds with type=iscsi, not 0",
                             BDEV_ISCSI_MAX_TIMEOUT_S);
        l->bdev.url = l->path;
        l->bdev.path = NULL;
        return 0;
    }
    for (size_t i = 0; i < sizeof(rbd_keys) / sizeof(rbd_keys[0]); i++)
        if (l->bdev.type != BDEV_TYPE_RBD && seen[rbd_keys[i]])
            return lun_error(err, errlen, spec, "%s= is only valid with type=rbd",
                             key_names[rbd_keys[i]]);
    if (l->bdev.type == BDEV_TYPE_RBD) {
        if (seen[K_SIZE] || seen[K_PATH] || seen[K_DIRECT])
            return lun_error(err, errlen, spec, "%s= is not valid with type=rbd (the image has it)",
                             seen[K_SIZE]   ? "size"
                             : seen[K_PATH] ? "path"
                                            : "direct");
        if (!seen[K_POOL] || !seen[K_IMAGE])
            return lun_error(err, errlen, spec, "%s= is required", seen[K_POOL] ? "image" : "pool");
        if (seen[K_SNAP] && seen[K_READONLY] && !l->bdev.readonly)
            return lun_error(err, errlen, spec, "snap= is read-only: readonly=off contradicts it");
        l->bdev.pool = l->rbd_pool;
        l->bdev.image = l->rbd_image;
        l->bdev.snap = seen[K_SNAP] ? l->rbd_snap : NULL;
        l->bdev.client_id = seen[K_ID] ? l->rbd_id : NULL;
        l->bdev.conf = seen[K_CONF] ? l->path : NULL;
        l->bdev.readonly = l->bdev.readonly || seen[K_SNAP];
        l->bdev.path = NULL;
        return 0;
    }
    if (l->bdev.type == BDEV_TYPE_NVME) {
        static const enum lun_key not_nvme[] = { K_SIZE, K_PATH, K_DIRECT, K_BLOCK_SIZE };

        for (size_t i = 0; i < sizeof(not_nvme) / sizeof(not_nvme[0]); i++) {
            if (seen[not_nvme[i]])
                return lun_error(err, errlen, spec,
                                 "%s= is not valid with type=nvme (the namespace defines it)",
                                 key_names[not_nvme[i]]);
        }
        if (!seen[K_PCI])
            return lun_error(err, errlen, spec, "pci= is required");
        if (!seen[K_NS])
            l->bdev.nsid = 1;
        l->bdev.pci = l->pci;
        l->bdev.path = NULL;
        return 0;
    }
    if (l->bdev.type == BDEV_TYPE_RAM || l->bdev.type == BDEV_TYPE_NULL) {
        if (seen[K_PATH])
            return lun_error(err, errlen, spec, "path= is only valid with type=file");
        if (seen[K_DIRECT])
            return lun_error(err, errlen, spec, "direct= is only valid with type=file");
        if (!seen[K_SIZE])
            return lun_error(err, errlen, spec, "size= is required");
        if (l->bdev.size == 0 || l->bdev.size % l->bdev.block_size)
            return lun_error(err, errlen, spec,
                             "size= must be a non-zero multiple of the block size %u",
                             (unsigned)l->bdev.block_size);
        l->bdev.path = NULL;
    } else {
        if (seen[K_SIZE])
            return lun_error(err, errlen, spec, "size= is only valid with type=ram or null");
        if (!seen[K_PATH])
            return lun_error(err, errlen, spec, "path= is required");
        l->bdev.path = l->path;
    }
    return 0;
}

static int parse_lun(struct opt_lun *l, const char *spec, char *err, size_t errlen)
{
    bool seen[K_COUNT] = { false };
    char val[sizeof(l->path) + 1];
    const char *p = spec;

    memset(l, 0, sizeof(*l));
    l->bdev.block_size = 512;
    if (!*p)
        return lun_error(err, errlen, spec, "empty specification");
    for (;;) {
        size_t klen = strcspn(p, "=,");
        size_t n = 0;
        int k;

        if (klen == 0)
            return lun_error(err, errlen, spec, "empty key");
        for (k = 0; k < K_COUNT; k++) {
            if (strlen(key_names[k]) == klen && !strncmp(p, key_names[k], klen))
                break;
        }
        if (k == K_COUNT)
            return lun_error(err, errlen, spec, "unknown key '%.*s'", (int)klen, p);
        if (seen[k])
            return lun_error(err, errlen, spec, "%s= is given twice", key_names[k]);
        seen[k] = true;
        p += klen;
        if (*p != '=')
            return lun_error(err, errlen, spec, "%s= needs a value", key_names[k]);
        p++;
        /* The value runs to the next single comma; ",," is a literal comma (as in QEMU). */
        while (*p && !(p[0] == ',' && p[1] != ',')) {
            if (n + 1 >= sizeof(val))
                return lun_error(err, errlen, spec, "%s= is too long", key_names[k]);
            val[n++] = *p;
            p += (p[0] == ',') ? 2 : 1;
        }
        val[n] = 0;
        if (n == 0)
            return lun_error(err, errlen, spec, "%s= needs a value", key_names[k]);
        if (lun_apply(l, (enum lun_key)k, val, spec, err, errlen))
            return -1;
        if (!*p)
            break;
        p++; /* the separating comma */
    }
    return lun_finish(l, seen, spec, err, errlen);
}

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
            return lun_error(err, errlen, specs[i], "target %u lun %u is already used", c->target,
                             c->lun);
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
            return lun_error(err, errlen, specs[i], "no free LUN left on target %u", c->target);
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
    bool have_fd = false, have_threads = false, have_poll = false;
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
            if (!parse_uint(optarg, INT_MAX, &n)) {
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
            if (parse_lun(&o->luns[o->nluns], optarg, err, errlen))
                return -1;
            specs[o->nluns++] = optarg;
            break;
        case OPT_THREADS:
            if (have_threads) {
                snprintf(err, errlen, "--threads is given twice");
                return -1;
            }
            if (!parse_uint(optarg, OPT_MAX_THREADS, &n) || n == 0) {
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
            if (!parse_uint(optarg, OPT_MAX_POLL_US, &n)) {
                snprintf(err, errlen, "--poll-us '%s': must be between 0 and %d", optarg,
                         OPT_MAX_POLL_US);
                return -1;
            }
            o->poll_us = (unsigned)n;
            have_poll = true;
            break;
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
