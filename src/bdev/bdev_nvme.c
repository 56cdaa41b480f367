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

static int vfio_tp_open(const char *bdf, void **dev, volatile void **bar0, size_t *bar0_len,
                        char *err, size_t errlen)
{
    struct vfio_dev *d;
    int rc = vfio_dev_open(bdf, &d, err, errlen);

    if (rc < 0)
        return rc;
    rc = vfio_dev_map_bar(d, 0, bar0, bar0_len, err, errlen);
    if (rc < 0) {
        vfio_dev_close(d);
        return rc;
    }
    *dev = d;
    return 0;
}

static void vfio_tp_close(void *dev)
{
    vfio_dev_close(dev);
}

static unsigned vfio_tp_msix_count(void *dev)
{
    return vfio_dev_msix_count(dev);
}

static int vfio_tp_set_msix(void *dev, const int *eventfds, unsigned n)
{
    return vfio_dev_set_msix(dev, eventfds, n);
}

static const struct bdev_nvme_transport vfio_transport = {
    .open = vfio_tp_open,
    .close = vfio_tp_close,
    .msix_count = vfio_tp_msix_count,
    .set_msix = vfio_tp_set_msix,
    .dma = &vfio_dma_ops,
    .translate = vfio_dma_translate,
};

static const struct bdev_nvme_transport *transport = &vfio_transport;

void bdev_nvme_set_transport(const struct bdev_nvme_transport *t)
{
    transport = t ? t : &vfio_transport;
}

static void ioq_destroy(struct nvme_shared *ctl, struct nvme_ioq *q, bool delete_on_device)
{
    if (delete_on_device)
        nvme_ctrlr_delete_io_qpair(&ctl->ctrlr, &q->qp);
    if (q->pages)
        ctl->tp->dma->free(NULL, q->pages, q->pages_len);
    if (q->bounce_mem)
        ctl->tp->dma->free(NULL, q->bounce_mem, (size_t)NVME_BOUNCE_BUFS * NVME_MAX_CHUNK);
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
    rc = ctl->tp->dma->alloc(NULL, q->pages_len, &q->pages, &pages_iova);
    if (rc == 0)
        rc = ctl->tp->dma->alloc(NULL, (size_t)NVME_BOUNCE_BUFS * NVME_MAX_CHUNK, &q->bounce_mem,
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

/* Wake a worker's loop: its source then polls, and sees the recovery state. */
static void kick_queue(struct nvme_ioq *q)
{
    const uint64_t one = 1;

    if (q->irq_fd >= 0 && write(q->irq_fd, &one, sizeof(one)) < 0)
        LOG_RATELIMITED(LOG_LEVEL_WARN, "nvme: waking a worker failed: %s", strerror(errno));
}

/* Every queue a worker uses has taken its commands back for generation gen. */
static bool all_acked(struct nvme_shared *ctl, unsigned gen)
{
    for (unsigned i = 0; i < ctl->nq; i++) {
        if (atomic_load(&ctl->q[i].acked_gen) != gen && ctl->q[i].loop)
            return false;
    }
    return true;
}

static int recover(struct nvme_shared *ctl, unsigned gen, char *why, size_t whylen)
{
    unsigned granted = 0;
    int rc;

    /* Bounded: a worker that never comes back (wedged elsewhere) must not hang this forever. */
    for (unsigned ms = 0; !all_acked(ctl, gen); ms++) {
        if (ms % 100 == 0)
            for (unsigned i = 0; i < ctl->nq; i++)
                kick_queue(&ctl->q[i]);
        if (ms > 60000 || atomic_load(&ctl->stopping)) {
            snprintf(why, whylen, "workers did not stop using the controller");
            return -ETIMEDOUT;
        }
        usleep(1000);
    }
    /* Disabling the controller ends every DMA it still had in mind. */
    rc = nvme_ctrlr_reset(&ctl->ctrlr, why, whylen);
    if (rc < 0)
        return rc;
    rc = nvme_ctrlr_set_num_io_queues(&ctl->ctrlr, ctl->nq, &granted);
    if (rc == 0 && granted < ctl->nq)
        rc = -ENOSPC;
    if (rc < 0) {
        snprintf(why, whylen, "the controller no longer grants %u I/O queues", ctl->nq);
        return rc;
    }
    for (unsigned i = 0; i < ctl->nq; i++) {
        struct nvme_ioq *q = &ctl->q[i];

        rc = nvme_ctrlr_create_io_qpair(&ctl->ctrlr, &q->qp, (uint16_t)(i + 1), q->ncmds + 1,
                                        (int)i + 1);
        if (rc < 0) {
            snprintf(why, whylen, "re-creating I/O queue %u: %s", i + 1, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static void *recovery_main(void *arg)
{
    struct nvme_shared *ctl = arg;
    unsigned gen = atomic_load(&ctl->recovery_gen);
    char why[256] = "";
    int rc;

    LOG_WARN("nvme %s: a command neither completed nor aborted: resetting the controller",
             ctl->bdf);
    rc = recover(ctl, gen, why, sizeof(why));
    if (rc < 0) {
        LOG_ERR("nvme %s: controller reset failed (%s); its LUNs fail every request", ctl->bdf,
                why);
        atomic_store(&ctl->dead, true);
    } else {
        atomic_fetch_add(&ctl->resets, 1);
        LOG_WARN("nvme %s: controller reset; resubmitting the commands it held", ctl->bdf);
    }
    atomic_store(&ctl->recovery_done, gen);
    for (unsigned i = 0; i < ctl->nq; i++)
        kick_queue(&ctl->q[i]);
    return NULL;
}

void bdev_nvme_start_recovery(struct nvme_shared *ctl)
{
    pthread_mutex_lock(&ctl->recovery_lock);
    if (!atomic_load(&ctl->dead) &&
        atomic_load(&ctl->recovery_gen) == atomic_load(&ctl->recovery_done)) {
        /* The previous recovery's thread is done (recovery_done was its last word). */
        if (ctl->recovery_thread_live)
            pthread_join(ctl->recovery_thread, NULL);
        ctl->recovery_thread_live = false;
        atomic_fetch_add(&ctl->recovery_gen, 1);
        if (pthread_create(&ctl->recovery_thread, NULL, recovery_main, ctl) == 0) {
            ctl->recovery_thread_live = true;
        } else {
            LOG_ERR("nvme %s: cannot start the reset thread; its LUNs fail every request",
                    ctl->bdf);
            atomic_store(&ctl->dead, true);
            atomic_store(&ctl->recovery_done, atomic_load(&ctl->recovery_gen));
        }
    }
    pthread_mutex_unlock(&ctl->recovery_lock);
}

static void shared_destroy(struct nvme_shared *ctl, bool live)
{
    if (ctl->recovery_thread_live)
        pthread_join(ctl->recovery_thread, NULL);
    live = live && !atomic_load(&ctl->dead);
    for (unsigned i = 0; i < ctl->nq; i++)
        ioq_destroy(ctl, &ctl->q[i], live);
    if (ctl->dev) {
        ctl->tp->set_msix(ctl->dev, NULL, 0);
        if (live)
            nvme_ctrlr_shutdown(&ctl->ctrlr);
        ctl->tp->close(ctl->dev);
    }
    pthread_mutex_destroy(&ctl->recovery_lock);
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
    pthread_mutex_init(&ctl->recovery_lock, NULL);
    ctl->tp = transport;
    ctl->cmd_timeout_ns = NVME_CMD_TIMEOUT_NS;
    snprintf(ctl->bdf, sizeof(ctl->bdf), "%s", cfg->pci);
    if (want > NVME_MAX_IOQ)
        want = NVME_MAX_IOQ;
    rc = ctl->tp->open(cfg->pci, &ctl->dev, &bar, &bar_len, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "nvme %s: %s", cfg->pci, why);
        goto fail;
    }
    memset(&cc, 0, sizeof(cc));
    cc.bar0 = bar;
    cc.bar0_len = bar_len;
    cc.dma = ctl->tp->dma;
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
    if (ctl->tp->msix_count(ctl->dev) < want + 1) {
        rc = -ENOSPC;
        snprintf(err, errlen,
                 "nvme %s: %u MSI-X vectors needed (one per worker thread plus one), the device "
                 "has %u: lower --threads",
                 cfg->pci, want + 1, ctl->tp->msix_count(ctl->dev));
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
    rc = ctl->tp->set_msix(ctl->dev, efds, want + 1);
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
        /* A reset in progress finishes first: it owns the queues until it is done. */
        atomic_store(&ctl->stopping, true);
        pthread_mutex_lock(&ctl->recovery_lock);
        if (ctl->recovery_thread_live)
            pthread_join(ctl->recovery_thread, NULL);
        ctl->recovery_thread_live = false;
        pthread_mutex_unlock(&ctl->recovery_lock);
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

static struct bdev_nvme *to_nvme(struct bdev *bdev)
{
    return (struct bdev_nvme *)((char *)bdev - offsetof(struct bdev_nvme, bdev));
}

void bdev_nvme_set_timeout(struct bdev *bdev, uint64_t ns)
{
    to_nvme(bdev)->ctl->cmd_timeout_ns = ns;
}

uint64_t bdev_nvme_bytes_copied(struct bdev *bdev)
{
    return atomic_load(&to_nvme(bdev)->ctl->bytes_copied);
}

unsigned bdev_nvme_resets(struct bdev *bdev)
{
    return atomic_load(&to_nvme(bdev)->ctl->resets);
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
    /* Without a Verify command, reading the blocks checks them (bdev_nvme_io.c). */
    b->bdev.can_verify = true;
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
