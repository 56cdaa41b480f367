/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NVMe backend: opening a controller through VFIO, its queues, and closing
 * it.  The data path is in bdev_nvme_io.c; the layout in bdev_nvme.h.
 *
 * Threading: open and close run on the main (control) thread while no
 * worker uses the controller; the registry of open controllers is guarded by
 * a mutex all the same, for the management plane to come.
 */
#include "bdev/bdev_nvme.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nvme/nvme_spec.h"
#include "util/log.h"
#include "vfio/vfio.h"

#define NVME_ADMIN_TIMEOUT_MS 5000

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvme_shared *registry;

static int dma_alloc(void *opaque, size_t len, void **vaddr, uint64_t *iova)
{
    (void)opaque;
    return vfio_dma_alloc(len, vaddr, iova);
}

static void dma_free(void *opaque, void *vaddr, size_t len)
{
    (void)opaque;
    vfio_dma_free(vaddr, len);
}

static const struct nvme_dma_ops vfio_dma_ops = {
    .alloc = dma_alloc,
    .free = dma_free,
};

static void ioq_destroy(struct nvme_shared *ctl, struct nvme_ioq *q, bool delete_on_device)
{
    if (delete_on_device)
        nvme_ctrlr_delete_io_qpair(&ctl->ctrlr, &q->qp);
    if (q->pages)
        vfio_dma_free(q->pages, q->pages_len);
    if (q->bounce_mem)
        vfio_dma_free(q->bounce_mem, (size_t)NVME_BOUNCE_BUFS * NVME_MAX_CHUNK);
    free(q->cmds);
    if (q->irq_fd >= 0)
        close(q->irq_fd);
    memset(q, 0, sizeof(*q));
    q->irq_fd = -1;
}

static int ioq_create(struct nvme_shared *ctl, struct nvme_ioq *q, unsigned index, char *err,
                      size_t errlen)
{
    size_t page = ctl->ctrlr.info.page_size;
    uint32_t entries = NVME_IOQ_ENTRIES;
    uint64_t pages_iova;
    int rc;

    if (entries > ctl->ctrlr.info.max_queue_entries)
        entries = ctl->ctrlr.info.max_queue_entries;
    q->ctl = ctl;
    q->index = index;
    q->ncmds = entries - 1; /* a full queue keeps one slot empty */
    q->cmds = calloc(q->ncmds, sizeof(*q->cmds));
    if (!q->cmds) {
        snprintf(err, errlen, "out of memory for queue %u", index + 1);
        return -ENOMEM;
    }
    q->pages_len = q->ncmds * page;
    rc = vfio_dma_alloc(q->pages_len, &q->pages, &pages_iova);
    if (rc == 0)
        rc = vfio_dma_alloc((size_t)NVME_BOUNCE_BUFS * NVME_MAX_CHUNK, &q->bounce_mem,
                            &q->bounce_iova);
    if (rc < 0) {
        snprintf(err, errlen, "cannot allocate DMA memory for queue %u: %s", index + 1,
                 strerror(-rc));
        return rc;
    }
    for (unsigned i = 0; i < q->ncmds; i++) {
        q->cmds[i].page = (char *)q->pages + i * page;
        q->cmds[i].page_iova = pages_iova + i * page;
        q->cmds[i].next_free = i + 1;
    }
    q->free_head = 0;
    q->bounce_free = (1u << NVME_BOUNCE_BUFS) - 1;
    rc = nvme_ctrlr_create_io_qpair(&ctl->ctrlr, &q->qp, (uint16_t)(index + 1), entries,
                                    (int)index + 1);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create I/O queue %u: %s", index + 1, strerror(-rc));
        return rc;
    }
    return 0;
}

static void shared_destroy(struct nvme_shared *ctl, bool live)
{
    for (unsigned i = 0; i < ctl->nq; i++)
        ioq_destroy(ctl, &ctl->q[i], live);
    if (ctl->vdev) {
        vfio_dev_set_msix(ctl->vdev, NULL, 0);
        if (live)
            nvme_ctrlr_shutdown(&ctl->ctrlr);
        vfio_dev_close(ctl->vdev);
    }
    free(ctl);
}

static int shared_open(const struct bdev_config *cfg, struct nvme_shared **out, char *err,
                       size_t errlen)
{
    struct nvme_shared *ctl = calloc(1, sizeof(*ctl));
    struct nvme_ctrlr_config cc;
    int efds[NVME_MAX_IOQ + 1];
    volatile void *bar;
    size_t bar_len;
    unsigned want = cfg->nr_queues ? cfg->nr_queues : 1, granted = 0;
    char why[512];
    int rc;

    if (!ctl) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < NVME_MAX_IOQ; i++)
        ctl->q[i].irq_fd = -1;
    snprintf(ctl->bdf, sizeof(ctl->bdf), "%s", cfg->pci);
    if (want > NVME_MAX_IOQ)
        want = NVME_MAX_IOQ;
    rc = vfio_dev_open(cfg->pci, &ctl->vdev, why, sizeof(why));
    if (rc == 0)
        rc = vfio_dev_map_bar(ctl->vdev, 0, &bar, &bar_len, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "nvme %s: %s", cfg->pci, why);
        goto fail;
    }
    memset(&cc, 0, sizeof(cc));
    cc.bar0 = bar;
    cc.bar0_len = bar_len;
    cc.dma = &vfio_dma_ops;
    cc.admin_timeout_ms = NVME_ADMIN_TIMEOUT_MS;
    rc = nvme_ctrlr_init(&ctl->ctrlr, &cc, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "nvme %s: %s", cfg->pci, why);
        goto fail_closed;
    }
    rc = nvme_ctrlr_set_num_io_queues(&ctl->ctrlr, want, &granted);
    if (rc == 0 && granted < want)
        rc = -ENOSPC;
    if (rc < 0) {
        snprintf(err, errlen,
                 "nvme %s: %u I/O queue pairs wanted (one per worker thread), the "
                 "controller grants %u: lower --threads",
                 cfg->pci, want, granted);
        goto fail_live;
    }
    /* Vector 0 would be the admin queue's, which is polled; each worker's queue has its own. */
    if (vfio_dev_msix_count(ctl->vdev) < want + 1) {
        rc = -ENOSPC;
        snprintf(err, errlen,
                 "nvme %s: %u MSI-X vectors needed (one per worker thread plus "
                 "one), the device has %u: lower --threads",
                 cfg->pci, want + 1, vfio_dev_msix_count(ctl->vdev));
        goto fail_live;
    }
    efds[0] = -1;
    for (unsigned i = 0; i < want; i++) {
        /* Blocking: io_uring then waits for the interrupt instead of failing the read. */
        ctl->q[i].irq_fd = eventfd(0, EFD_CLOEXEC);
        if (ctl->q[i].irq_fd < 0) {
            rc = -errno;
            snprintf(err, errlen, "nvme %s: eventfd: %s", cfg->pci, strerror(errno));
            goto fail_live;
        }
        efds[i + 1] = ctl->q[i].irq_fd;
    }
    rc = vfio_dev_set_msix(ctl->vdev, efds, want + 1);
    if (rc < 0) {
        snprintf(err, errlen, "nvme %s: cannot route MSI-X interrupts to eventfds: %s", cfg->pci,
                 strerror(-rc));
        goto fail_live;
    }
    for (unsigned i = 0; i < want; i++) {
        ctl->nq = i + 1;
        rc = ioq_create(ctl, &ctl->q[i], i, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, errlen, "nvme %s: %s", cfg->pci, why);
            goto fail_live;
        }
    }
    LOG_INFO("nvme %s: %s (firmware %s, serial %s), %u I/O queue pairs, MDTS %llu KiB%s", cfg->pci,
             ctl->ctrlr.info.model, ctl->ctrlr.info.firmware, ctl->ctrlr.info.serial, ctl->nq,
             (unsigned long long)(ctl->ctrlr.info.mdts_bytes >> 10),
             ctl->ctrlr.info.vwc ? ", volatile write cache" : "");
    *out = ctl;
    return 0;

fail_live:
    shared_destroy(ctl, true);
    return rc;
fail_closed:
    /* The controller never came up: there is nothing to shut down. */
    shared_destroy(ctl, false);
    return rc;
fail:
    shared_destroy(ctl, false);
    return rc;
}

static void bdev_nvme_close(struct bdev *bdev)
{
    struct bdev_nvme *b = (struct bdev_nvme *)((char *)bdev - offsetof(struct bdev_nvme, bdev));
    struct nvme_shared *ctl = b->ctl, **pp;

    pthread_mutex_lock(&registry_lock);
    if (--ctl->refs == 0) {
        for (pp = &registry; *pp && *pp != ctl; pp = &(*pp)->next)
            ;
        if (*pp)
            *pp = ctl->next;
        /* The figure that shows the data path copied nothing (see docs/testing.md). */
        LOG_INFO("nvme %s: %llu commands, %llu bytes copied through bounce buffers", ctl->bdf,
                 (unsigned long long)atomic_load(&ctl->commands),
                 (unsigned long long)atomic_load(&ctl->bytes_copied));
        shared_destroy(ctl, true);
    }
    pthread_mutex_unlock(&registry_lock);
    free(b);
}

static const struct bdev_ops nvme_ops = {
    .name = "nvme",
    .submit = bdev_nvme_submit,
    .close = bdev_nvme_close,
    .cancel = bdev_nvme_cancel,
};

static void trim_copy(char *dst, size_t dstlen, const char *src)
{
    size_t n = strnlen(src, dstlen - 1);

    while (n > 0 && src[n - 1] == ' ')
        n--;
    /* Identify strings are space-padded ASCII; VPD pages must stay printable whatever comes. */
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] > 0x20 && src[i] < 0x7f && src[i] != ',' ? src[i] : '_';
    dst[n] = '\0';
}

int bdev_nvme_open(const struct bdev_config *cfg, struct bdev **out, char *err, size_t errlen)
{
    struct bdev_nvme *b;
    struct nvme_shared *ctl;
    struct nvme_ns_info ns;
    char why[512];
    int rc = 0;

    b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_lock(&registry_lock);
    for (ctl = registry; ctl && strcmp(ctl->bdf, cfg->pci) != 0; ctl = ctl->next)
        ;
    if (!ctl) {
        rc = shared_open(cfg, &ctl, err, errlen);
        if (rc == 0) {
            ctl->next = registry;
            registry = ctl;
        }
    }
    if (rc == 0)
        ctl->refs++;
    pthread_mutex_unlock(&registry_lock);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->ctl = ctl;
    b->nsid = cfg->nsid ? cfg->nsid : 1;
    b->bdev.ops = &nvme_ops;
    rc = nvme_ctrlr_identify_ns(&ctl->ctrlr, b->nsid, &ns, why, sizeof(why));
    if (rc == 0 && (ns.block_size < 512 || ns.block_size > 4096 ||
                    (ns.block_size & (ns.block_size - 1)) != 0)) {
        snprintf(why, sizeof(why), "namespace %u has %u-byte blocks; 512 to 4096 are supported",
                 b->nsid, ns.block_size);
        rc = -EINVAL;
    }
    if (rc < 0) {
        snprintf(err, errlen, "nvme %s: %s", cfg->pci, why);
        bdev_nvme_close(&b->bdev);
        return rc;
    }
    b->lba_shift = (unsigned)__builtin_ctz(ns.block_size);
    b->bdev.block_size = ns.block_size;
    b->bdev.size = ns.nsze << b->lba_shift;
    b->bdev.readonly = cfg->readonly;
    b->bdev.can_discard = ctl->ctrlr.info.dsm;
    b->bdev.discard_zeroes = b->bdev.can_discard && ns.dealloc_reads_zeroes;
    b->bdev.can_write_zeroes = ctl->ctrlr.info.write_zeroes;
    b->bdev.can_verify = ctl->ctrlr.info.verify;
    b->bdev.volatile_cache = ctl->ctrlr.info.vwc;
    b->bdev.max_io_bytes = ctl->ctrlr.info.mdts_bytes && ctl->ctrlr.info.mdts_bytes < NVME_MAX_CHUNK
                               ? (uint32_t)ctl->ctrlr.info.mdts_bytes
                               : NVME_MAX_CHUNK;
    if (ctl->ctrlr.info.dmrsl)
        b->bdev.max_discard_bytes =
            (uint64_t)ctl->ctrlr.info.dmrsl * (ctl->ctrlr.info.dmrl ? ctl->ctrlr.info.dmrl : 256)
            << b->lba_shift;
    /* Namespaces of one controller share its serial; each LUN needs its own. */
    trim_copy(b->bdev.hw_serial, 21, ctl->ctrlr.info.serial);
    if (b->nsid != 1) {
        size_t n = strlen(b->bdev.hw_serial);

        snprintf(b->bdev.hw_serial + n, sizeof(b->bdev.hw_serial) - n, "-n%u", b->nsid);
    }
    memcpy(b->bdev.eui64, ns.eui64, sizeof(b->bdev.eui64));
    memcpy(b->bdev.nguid, ns.nguid, sizeof(b->bdev.nguid));
    snprintf(b->bdev.desc, sizeof(b->bdev.desc), "nvme %s ns %u", ctl->bdf, b->nsid);
    *out = &b->bdev;
    return 0;
}
