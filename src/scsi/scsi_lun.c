/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Targets and logical units: creation, lookup, reset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_unit.h"
#include "stats/lun_stats.h"

/*
 * NAA 5 needs a 24-bit IEEE company ID.  We own none, so a fixed value with
 * the locally-administered bit pattern of a MAC address is used: it cannot
 * collide with a real vendor's assignment.
 */
#define SCSI_WWN_COMPANY_ID 0x025653u

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Same backend and address give the same identity across restarts: guests key on it. */
static uint64_t lun_hash(unsigned target, unsigned lun, const char *desc)
{
    uint8_t addr[4] = { (uint8_t)target, (uint8_t)(lun >> 8), (uint8_t)lun, 0 };
    uint64_t h = 0xcbf29ce484222325ull;

    h = fnv1a(h, addr, sizeof(addr));
    return fnv1a(h, desc, strnlen(desc, sizeof(((struct bdev *)0)->desc)));
}

static bool pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/*
 * Unless the user says, a LUN's physical block is its medium's (a 512-byte
 * LUN on a page, a filesystem block or a 4Kn disk is 512e), so guests align
 * their writes to it and the backend does no read-modify-write.  A size the
 * exponent cannot express is ignored.
 */
static uint8_t medium_lbppb_exp(const struct bdev *bdev)
{
    uint32_t pbs = bdev->phys_block_size;

    if (pbs <= bdev->block_size || pbs % bdev->block_size != 0 || !pow2(pbs / bdev->block_size) ||
        pbs / bdev->block_size > (1u << 15))
        return 0;
    return (uint8_t)__builtin_ctz(pbs / bdev->block_size);
}

static bool serial_ok(const char *s)
{
    size_t n = strnlen(s, SCSI_SERIAL_MAX + 1);

    if (n == 0 || n > SCSI_SERIAL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    }
    return true;
}

/* On failure the bdev goes back to whoever owns it: closed unless borrowed. */
static void release_bdev(const struct scsi_lun_config *cfg, struct bdev *bdev)
{
    if (!cfg->borrow_bdev)
        bdev_close(bdev);
}

/*
 * Without a configured initiator port, each target set (controller) is its
 * own nexus for as long as it exists: fine for tests, not for APTPL.
 */
static uint64_t scsi_initiator_port_of_set(const struct scsi_target_set *set)
{
    char name[32];

    snprintf(name, sizeof(name), "set@%p", (const void *)set);
    return scsi_initiator_port(name);
}

int scsi_lun_create(struct scsi_target_set *set, const struct scsi_lun_config *cfg,
                    struct bdev *bdev, char *err, size_t errlen)
{
    struct scsi_target *tgt;
    struct scsi_lun *lun;
    uint64_t h;

    if (cfg->target >= SCSI_MAX_TARGETS || cfg->lun >= SCSI_LUNS_PER_TGT) {
        snprintf(err, errlen, "LUN %u:%u out of range (target < %u, lun < %u)", cfg->target,
                 cfg->lun, SCSI_MAX_TARGETS, SCSI_LUNS_PER_TGT);
        release_bdev(cfg, bdev);
        return -EINVAL;
    }
    /* The emulation stages one block in task->block_buf (WRITE SAME, VERIFY, UNMAP). */
    if (bdev->block_size < 512 || bdev->block_size > sizeof(((struct scsi_task *)0)->block_buf) ||
        (bdev->block_size & (bdev->block_size - 1)) != 0 || bdev->size < bdev->block_size ||
        bdev->size % bdev->block_size != 0) {
        snprintf(err, errlen, "LUN %u:%u: unsupported geometry (block size %u, size %llu)",
                 cfg->target, cfg->lun, bdev->block_size, (unsigned long long)bdev->size);
        release_bdev(cfg, bdev);
        return -EINVAL;
    }
    if (cfg->serial[0] != '\0' && !serial_ok(cfg->serial)) {
        snprintf(err, errlen, "LUN %u:%u: serial must be 1-%u printable characters", cfg->target,
                 cfg->lun, SCSI_SERIAL_MAX);
        release_bdev(cfg, bdev);
        return -EINVAL;
    }
    /*
     * The exponent field has 4 bits; Linux takes the physical block size as
     * the I/O alignment, so it must be a power-of-two number of blocks.
     */
    if (cfg->physical_block_size != 0 &&
        (cfg->physical_block_size < bdev->block_size ||
         cfg->physical_block_size % bdev->block_size != 0 ||
         !pow2(cfg->physical_block_size / bdev->block_size) ||
         cfg->physical_block_size / bdev->block_size > (1u << 15))) {
        snprintf(err, errlen,
                 "LUN %u:%u: physical-block-size %u is not a power-of-two multiple (at most "
                 "2^15) of the logical block size %u",
                 cfg->target, cfg->lun, cfg->physical_block_size, bdev->block_size);
        release_bdev(cfg, bdev);
        return -EINVAL;
    }
    if (cfg->discard_granularity != 0 && cfg->discard_granularity % bdev->block_size != 0) {
        snprintf(err, errlen,
                 "LUN %u:%u: discard-granularity %u is not a multiple of the block size %u",
                 cfg->target, cfg->lun, cfg->discard_granularity, bdev->block_size);
        release_bdev(cfg, bdev);
        return -EINVAL;
    }
    tgt = set->targets[cfg->target];
    if (tgt != NULL && tgt->luns[cfg->lun] != NULL) {
        snprintf(err, errlen, "LUN %u:%u already exists", cfg->target, cfg->lun);
        release_bdev(cfg, bdev);
        return -EEXIST;
    }
    lun = calloc(1, sizeof(*lun));
    if (lun == NULL) {
        snprintf(err, errlen, "LUN %u:%u: out of memory", cfg->target, cfg->lun);
        release_bdev(cfg, bdev);
        return -ENOMEM;
    }
    if (tgt == NULL) {
        tgt = calloc(1, sizeof(*tgt));
        if (tgt == NULL) {
            snprintf(err, errlen, "target %u: out of memory", cfg->target);
            free(lun);
            release_bdev(cfg, bdev);
            return -ENOMEM;
        }
        tgt->id = cfg->target;
        tgt->set = set;
        tgt->lun0_standin.target = tgt;
        tgt->lun0_standin.id = 0;
        __atomic_store_n(&set->targets[cfg->target], tgt, __ATOMIC_RELEASE);
    }

    h = lun_hash(cfg->target, cfg->lun, bdev->desc);
    lun->target = tgt;
    lun->id = cfg->lun;
    lun->bdev = bdev;
    lun->bdev_borrowed = cfg->borrow_bdev;
    lun->wce_default = !cfg->write_cache_off;
    atomic_store(&lun->wce, lun->wce_default);
    lun->removable = cfg->removable;
    if (cfg->physical_block_size != 0)
        lun->lbppb_exp = (uint8_t)__builtin_ctz(cfg->physical_block_size / bdev->block_size);
    else
        lun->lbppb_exp = medium_lbppb_exp(bdev);
    /* Unmapping less than a physical block frees nothing: its size is the natural default. */
    if (cfg->discard_granularity != 0)
        lun->unmap_gran = cfg->discard_granularity / bdev->block_size;
    else
        lun->unmap_gran = 1u << lun->lbppb_exp;
    if (cfg->stats_workers > 0)
        lun->stats = lun_stats_new(cfg->stats_workers); /* statistics are optional: NULL is fine */
    if (cfg->serial[0] != '\0')
        memcpy(lun->serial, cfg->serial, strnlen(cfg->serial, SCSI_SERIAL_MAX));
    else if (bdev->hw_serial[0] != '\0')
        /* The device's own serial: what the guest would see with the disk passed through. */
        memcpy(lun->serial, bdev->hw_serial, strnlen(bdev->hw_serial, sizeof(bdev->hw_serial)));
    else
        snprintf(lun->serial, sizeof(lun->serial), "VUS%02X%02X%016llX", cfg->target & 0xff,
                 cfg->lun & 0xff, (unsigned long long)h);
    if (cfg->wwn != 0)
        lun->wwn = cfg->wwn;
    else
        lun->wwn = 5ull << 60 | (uint64_t)SCSI_WWN_COMPANY_ID << 36 | (h & 0xfffffffffull);
    lun->pr_port = cfg->initiator_port;
    if (lun->pr_port == 0)
        lun->pr_port = scsi_initiator_port_of_set(set);
    int rc = scsi_unit_attach(lun, cfg->pr_state_file, err, errlen);

    if (rc < 0) {
        lun_stats_free(lun->stats);
        free(lun);
        release_bdev(cfg, bdev);
        return rc;
    }
    /* A new unit reports its power-on like a real disk does. */
    atomic_init(&lun->ua_pending, SCSI_UA_POWER_ON_RESET);
    atomic_init(&lun->inflight, 0);
    /* Workers may be looking: publish the finished unit, then count it. */
    __atomic_store_n(&tgt->luns[cfg->lun], lun, __ATOMIC_RELEASE);
    atomic_fetch_add(&tgt->nluns, 1);
    return 0;
}

void scsi_target_set_destroy(struct scsi_target_set *set)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = set->targets[t];

        if (tgt == NULL)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++) {
            if (tgt->luns[l] == NULL)
                continue;
            scsi_unit_detach(tgt->luns[l]);
            if (!tgt->luns[l]->bdev_borrowed)
                bdev_close(tgt->luns[l]->bdev);
            lun_stats_free(tgt->luns[l]->stats);
            free(tgt->luns[l]);
        }
        free(tgt);
        set->targets[t] = NULL;
    }
}

struct scsi_lun *scsi_lun_unmap(struct scsi_target_set *set, unsigned target, unsigned lun)
{
    struct scsi_target *tgt = target < SCSI_MAX_TARGETS ? set->targets[target] : NULL;
    struct scsi_lun *l;

    if (tgt == NULL || lun >= SCSI_LUNS_PER_TGT || tgt->luns[lun] == NULL)
        return NULL;
    l = tgt->luns[lun];
    __atomic_store_n(&tgt->luns[lun], NULL, __ATOMIC_RELEASE);
    atomic_fetch_sub(&tgt->nluns, 1);
    return l;
}

void scsi_lun_free(struct scsi_lun *l)
{
    if (!l)
        return;
    scsi_unit_detach(l);
    if (!l->bdev_borrowed)
        bdev_close(l->bdev);
    lun_stats_free(l->stats);
    free(l);
}

int scsi_lun_remove(struct scsi_target_set *set, unsigned target, unsigned lun)
{
    struct scsi_lun *l = scsi_lun_unmap(set, target, lun);

    if (!l)
        return -ENOENT;
    scsi_lun_free(l);
    return 0;
}

void scsi_target_luns_changed(struct scsi_target_set *set, unsigned target)
{
    struct scsi_target *tgt = target < SCSI_MAX_TARGETS ? set->targets[target] : NULL;

    if (tgt == NULL)
        return;
    for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
        if (tgt->luns[l])
            atomic_fetch_or(&tgt->luns[l]->ua_pending, SCSI_UA_REPORTED_LUNS);
    atomic_fetch_or(&tgt->lun0_standin.ua_pending, SCSI_UA_REPORTED_LUNS);
}

int scsi_target_free_lun(const struct scsi_target_set *set, unsigned target)
{
    const struct scsi_target *tgt = target < SCSI_MAX_TARGETS ? set->targets[target] : NULL;

    for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++)
        if (tgt == NULL || tgt->luns[l] == NULL)
            return (int)l;
    return -1;
}

struct scsi_lun *scsi_lookup(struct scsi_target_set *set, unsigned target, unsigned lun)
{
    struct scsi_target *tgt;

    struct scsi_lun *l;

    if (set == NULL || target >= SCSI_MAX_TARGETS)
        return NULL;
    tgt = __atomic_load_n(&set->targets[target], __ATOMIC_ACQUIRE);
    if (tgt == NULL || atomic_load_explicit(&tgt->nluns, memory_order_relaxed) == 0)
        return NULL;
    l = lun < SCSI_LUNS_PER_TGT ? __atomic_load_n(&tgt->luns[lun], __ATOMIC_ACQUIRE) : NULL;
    if (l != NULL)
        return l;
    if (lun == 0)
        return &tgt->lun0_standin;
    return NULL;
}

void scsi_target_set_clear_ua(struct scsi_target_set *set, unsigned bits)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++) {
        struct scsi_target *tgt = set->targets[t];

        if (!tgt)
            continue;
        for (unsigned l = 0; l < SCSI_LUNS_PER_TGT; l++) {
            struct scsi_lun *lun = __atomic_load_n(&tgt->luns[l], __ATOMIC_ACQUIRE);
            if (lun)
                atomic_fetch_and(&lun->ua_pending, ~bits);
        }
        atomic_fetch_and(&tgt->lun0_standin.ua_pending, ~bits);
    }
}

void scsi_lun_set_capacity(struct scsi_lun *lun, uint64_t bytes)
{
    lun->bdev->size = bytes;
    atomic_fetch_or(&lun->ua_pending, SCSI_UA_CAPACITY_CHANGED);
}

void scsi_lun_reset(struct scsi_lun *lun)
{
    /*
     * Mode pages revert to their saved values after a reset, and having no
     * saved pages we revert to the defaults (SPC-4 6.11/6.12).
     */
    atomic_store(&lun->wce, lun->wce_default);
    atomic_store(&lun->d_sense, false);
    /* A reset ends an SPC-2 reservation, whoever holds it; persistent ones stay. */
    scsi_pr_release_spc2(lun, true);
    /* Prevention ends with a reset (SPC-4 6.13); the medium stays where it is. */
    atomic_store(&lun->prevent, false);
    /* Held copy status goes with the reset (a copy still running stops updating it). */
    atomic_store(&lun->xcopy_status, 0);
    atomic_fetch_or(&lun->ua_pending, SCSI_UA_POWER_ON_RESET);
}
