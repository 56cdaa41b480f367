/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One --lun SPEC (KEY=VALUE,...) into a struct opt_lun: every key and every
 * rule between keys, with a message naming the SPEC and the key.  The same
 * grammar as QEMU's: ",," is a comma inside a value.
 */
#include "daemon/lun_spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_iscsi.h"
#include "rpc/rpc_params.h"

/*
 * Every message starts "--lun 'SPEC': " so the user sees which of several
 * --lun is wrong; a very long SPEC is shortened so the reason still fits.
 */
#define SPEC_ECHO_MAX 80
int lun_spec_error(char *err, size_t errlen, const char *spec, const char *fmt, ...)
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

bool opt_parse_uint(const char *s, unsigned long long max, unsigned long long *v)
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
        return lun_spec_error(err, errlen, spec, "%s= is longer than %zu characters", key_names[k],
                              max - 1);
    for (const char *c = val; *c; c++)
        if (*c <= ' ' || *c > '~' || *c == '/' || *c == '@')
            return lun_spec_error(
                err, errlen, spec,
                "%s= must be printable ASCII without spaces, '/' or '@', not '%s'", key_names[k],
                val);
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
            return lun_spec_error(err, errlen, spec,
                                  "type= must be ram, file, null, nvme, iscsi or rbd, not '%s'",
                                  val);
        return 0;
    case K_SIZE:
        r = parse_size(val, &l->bdev.size);
        if (r == -2)
            return lun_spec_error(err, errlen, spec, "size= '%s' does not fit in 64 bits", val);
        if (r)
            return lun_spec_error(err, errlen, spec,
                                  "size= '%s' is not a number with an optional K, M, G or T suffix",
                                  val);
        return 0;
    case K_PATH:
    case K_URL: /* the two never go together: the url lives in path's room */
        if (strlen(val) >= sizeof(l->path))
            return lun_spec_error(err, errlen, spec, "%s= is too long", key_names[k]);
        memcpy(l->path, val, strlen(val) + 1); /* length checked above */
        return 0;
    case K_TARGET:
        if (!opt_parse_uint(val, SCSI_MAX_TARGETS - 1, &n))
            return lun_spec_error(err, errlen, spec, "target= must be 0..%d, not '%s'",
                                  SCSI_MAX_TARGETS - 1, val);
        l->scsi.target = (unsigned)n;
        return 0;
    case K_LUN:
        if (!opt_parse_uint(val, SCSI_LUNS_PER_TGT - 1, &n))
            return lun_spec_error(err, errlen, spec, "lun= must be 0..%d, not '%s'",
                                  SCSI_LUNS_PER_TGT - 1, val);
        l->scsi.lun = (unsigned)n;
        l->lun_given = true;
        return 0;
    case K_BLOCK_SIZE:
        if (strcmp(val, "512") && strcmp(val, "4096"))
            return lun_spec_error(err, errlen, spec, "block-size= must be 512 or 4096, not '%s'",
                                  val);
        l->bdev.block_size = strcmp(val, "512") ? 4096 : 512;
        return 0;
    case K_READONLY:
    case K_DIRECT:
        if (!parse_on_off(val, k == K_READONLY ? &l->bdev.readonly : &l->bdev.direct))
            return lun_spec_error(err, errlen, spec, "%s= must be on or off, not '%s'",
                                  key_names[k], val);
        return 0;
    case K_WRITE_CACHE: {
        bool on;

        if (!parse_on_off(val, &on))
            return lun_spec_error(err, errlen, spec, "write-cache= must be on or off, not '%s'",
                                  val);
        l->scsi.write_cache_off = !on;
        return 0;
    }
    case K_REMOVABLE:
        if (!parse_on_off(val, &l->scsi.removable))
            return lun_spec_error(err, errlen, spec, "removable= must be on or off, not '%s'", val);
        return 0;
    case K_PHYS_BLOCK:
        /* 512 B to 32 MiB (the exponent field's 2^15 blocks); the ratio is checked at the LUN. */
        if (!opt_parse_uint(val, 1u << 25, &n) || n < 512 || (n & (n - 1)) != 0)
            return lun_spec_error(
                err, errlen, spec,
                "physical-block-size= must be a power of two 512..33554432, not '%s'", val);
        l->scsi.physical_block_size = (uint32_t)n;
        return 0;
    case K_DISCARD_GRAN:
        if (!opt_parse_uint(val, 1u << 30, &n) || n == 0 || n % 512 != 0)
            return lun_spec_error(
                err, errlen, spec,
                "discard-granularity= must be a multiple of 512 up to 1073741824, "
                "not '%s'",
                val);
        l->scsi.discard_granularity = (uint32_t)n;
        return 0;
    case K_SERIAL:
        if (!valid_serial(val))
            return lun_spec_error(err, errlen, spec,
                                  "serial= must be at most %d printable ASCII characters, no comma",
                                  SCSI_SERIAL_MAX);
        memcpy(l->scsi.serial, val, strlen(val) + 1); /* valid_serial bounds it */
        return 0;
    case K_WWN:
        if (!parse_wwn(val, &l->scsi.wwn))
            return lun_spec_error(err, errlen, spec,
                                  "wwn= must be 16 hex digits starting with NAA 5 or 6, not '%s'",
                                  val);
        return 0;
    case K_PCI:
        if (!parse_pci(val, l->pci))
            return lun_spec_error(err, errlen, spec,
                                  "pci= must be a PCI address like 0000:00:04.0, not '%s'", val);
        return 0;
    case K_NS:
        if (!opt_parse_uint(val, 0xfffffffeull, &n) || n == 0)
            return lun_spec_error(err, errlen, spec,
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
            return lun_spec_error(err, errlen, spec, "conf= is too long");
        memcpy(l->path, val, strlen(val) + 1); /* length checked above */
        return 0;
    case K_TIMEOUT:
        /* The range depends on the type (iscsi: 1..; rbd: 0..): lun_finish checks the rest. */
        if (!opt_parse_uint(val, OPT_MAX_RBD_TIMEOUT, &n))
            return lun_spec_error(err, errlen, spec, "timeout= must be 0..%d seconds, not '%s'",
                                  OPT_MAX_RBD_TIMEOUT, val);
        l->bdev.timeout_s = (unsigned)n;
        return 0;
    case K_COUNT:
        break;
    }
    return lun_spec_error(err, errlen, spec, "internal error");
}

/* Rules that involve several keys, once all of them are known. */
static int lun_finish(struct opt_lun *l, const bool *seen, const char *spec, char *err,
                      size_t errlen)
{
    if (!seen[K_TYPE])
        return lun_spec_error(err, errlen, spec, "type= is required");
    if (l->bdev.type != BDEV_TYPE_NVME && (seen[K_PCI] || seen[K_NS]))
        return lun_spec_error(err, errlen, spec, "%s= is only valid with type=nvme",
                              seen[K_PCI] ? "pci" : "ns");
    if (seen[K_URL] && l->bdev.type != BDEV_TYPE_ISCSI)
        return lun_spec_error(err, errlen, spec, "url= is only valid with type=iscsi");
    if (seen[K_TIMEOUT] && l->bdev.type != BDEV_TYPE_ISCSI && l->bdev.type != BDEV_TYPE_RBD)
        return lun_spec_error(err, errlen, spec, "timeout= is only valid with type=iscsi or rbd");
    for (size_t i = 0; i < sizeof(rbd_keys) / sizeof(rbd_keys[0]); i++)
        if (l->bdev.type != BDEV_TYPE_RBD && seen[rbd_keys[i]])
            return lun_spec_error(err, errlen, spec, "%s= is only valid with type=rbd",
                                  key_names[rbd_keys[i]]);
    if (l->bdev.type == BDEV_TYPE_ISCSI) {
        static const enum lun_key not_iscsi[] = { K_SIZE, K_PATH, K_DIRECT, K_BLOCK_SIZE };

        for (size_t i = 0; i < sizeof(not_iscsi) / sizeof(not_iscsi[0]); i++) {
            if (seen[not_iscsi[i]])
                return lun_spec_error(err, errlen, spec,
                                      "%s= is not valid with type=iscsi (the target defines it)",
                                      key_names[not_iscsi[i]]);
        }
        if (!seen[K_URL])
            return lun_spec_error(err, errlen, spec, "url= is required");
        if (seen[K_TIMEOUT] && l->bdev.timeout_s == 0)
            return lun_spec_error(err, errlen, spec,
                                  "timeout= must be 1..%d seconds with type=iscsi, not 0",
                                  BDEV_ISCSI_MAX_TIMEOUT_S);
        l->bdev.url = l->path;
        l->bdev.path = NULL;
        return 0;
    }
    for (size_t i = 0; i < sizeof(rbd_keys) / sizeof(rbd_keys[0]); i++)
        if (l->bdev.type != BDEV_TYPE_RBD && seen[rbd_keys[i]])
            return lun_spec_error(err, errlen, spec, "%s= is only valid with type=rbd",
                                  key_names[rbd_keys[i]]);
    if (l->bdev.type == BDEV_TYPE_RBD) {
        if (seen[K_SIZE] || seen[K_PATH] || seen[K_DIRECT])
            return lun_spec_error(err, errlen, spec,
                                  "%s= is not valid with type=rbd (the image has it)",
                                  seen[K_SIZE]   ? "size"
                                  : seen[K_PATH] ? "path"
                                                 : "direct");
        if (!seen[K_POOL] || !seen[K_IMAGE])
            return lun_spec_error(err, errlen, spec, "%s= is required",
                                  seen[K_POOL] ? "image" : "pool");
        if (seen[K_SNAP] && seen[K_READONLY] && !l->bdev.readonly)
            return lun_spec_error(err, errlen, spec,
                                  "snap= is read-only: readonly=off contradicts it");
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
                return lun_spec_error(err, errlen, spec,
                                      "%s= is not valid with type=nvme (the namespace defines it)",
                                      key_names[not_nvme[i]]);
        }
        if (!seen[K_PCI])
            return lun_spec_error(err, errlen, spec, "pci= is required");
        if (!seen[K_NS])
            l->bdev.nsid = 1;
        l->bdev.pci = l->pci;
        l->bdev.path = NULL;
        return 0;
    }
    if (l->bdev.type == BDEV_TYPE_RAM || l->bdev.type == BDEV_TYPE_NULL) {
        if (seen[K_PATH])
            return lun_spec_error(err, errlen, spec, "path= is only valid with type=file");
        if (seen[K_DIRECT])
            return lun_spec_error(err, errlen, spec, "direct= is only valid with type=file");
        if (!seen[K_SIZE])
            return lun_spec_error(err, errlen, spec, "size= is required");
        if (l->bdev.size == 0 || l->bdev.size % l->bdev.block_size)
            return lun_spec_error(err, errlen, spec,
                                  "size= must be a non-zero multiple of the block size %u",
                                  (unsigned)l->bdev.block_size);
        l->bdev.path = NULL;
    } else {
        if (seen[K_SIZE])
            return lun_spec_error(err, errlen, spec, "size= is only valid with type=ram or null");
        if (!seen[K_PATH])
            return lun_spec_error(err, errlen, spec, "path= is required");
        l->bdev.path = l->path;
    }
    return 0;
}

int lun_spec_parse(struct opt_lun *l, const char *spec, char *err, size_t errlen)
{
    bool seen[K_COUNT] = { false };
    char val[sizeof(l->path) + 1];
    const char *p = spec;

    memset(l, 0, sizeof(*l));
    l->bdev.block_size = 512;
    if (!*p)
        return lun_spec_error(err, errlen, spec, "empty specification");
    for (;;) {
        size_t klen = strcspn(p, "=,");
        size_t n = 0;
        int k;

        if (klen == 0)
            return lun_spec_error(err, errlen, spec, "empty key");
        for (k = 0; k < K_COUNT; k++) {
            if (strlen(key_names[k]) == klen && !strncmp(p, key_names[k], klen))
                break;
        }
        if (k == K_COUNT)
            return lun_spec_error(err, errlen, spec, "unknown key '%.*s'", (int)klen, p);
        if (seen[k])
            return lun_spec_error(err, errlen, spec, "%s= is given twice", key_names[k]);
        seen[k] = true;
        p += klen;
        if (*p != '=')
            return lun_spec_error(err, errlen, spec, "%s= needs a value", key_names[k]);
        p++;
        /* The value runs to the next single comma; ",," is a literal comma (as in QEMU). */
        while (*p && !(p[0] == ',' && p[1] != ',')) {
            if (n + 1 >= sizeof(val))
                return lun_spec_error(err, errlen, spec, "%s= is too long", key_names[k]);
            val[n++] = *p;
            p += (p[0] == ',') ? 2 : 1;
        }
        val[n] = 0;
        if (n == 0)
            return lun_spec_error(err, errlen, spec, "%s= needs a value", key_names[k]);
        if (lun_apply(l, (enum lun_key)k, val, spec, err, errlen))
            return -1;
        if (!*p)
            break;
        p++; /* the separating comma */
    }
    return lun_finish(l, seen, spec, err, errlen);
}
