/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VFIO devices: finding a PCI function's IOMMU group in sysfs, opening it
 * through the type1 container/group API or the iommufd/cdev API, BARs,
 * MSI-X to eventfds, reset.  The DMA space's bookkeeping is in vfio_dma.c;
 * this file brings it up with the first device and down with the last.
 *
 * Written from the kernel's uapi headers and Documentation/driver-api/
 * vfio.rst and iommufd.rst.
 *
 * Threading: every entry point here takes g_devlock, so open/close/BAR/
 * MSI-X/reset calls may come from any thread.  Lock order:
 * g_devlock -> the DMA registry's lock -> vfio_dma.c's locks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "util/log.h"
#include "vfio/vfio_internal.h"
#include "vfio/vfio_iommufd.h"

struct group {
    int num, fd, refs;
    struct group *next;
};

struct vfio_dev {
    char bdf[13];
    int fd;
    struct group *grp; /* type1 only */
    uint32_t flags;    /* VFIO_DEVICE_FLAGS_* */
    unsigned msix_count, msix_on;
    struct {
        void *addr;
        size_t len;
    } bar[VFIO_PCI_ROM_REGION_INDEX];
};

enum api { API_NONE, API_TYPE1, API_IOMMUFD };

static pthread_mutex_t g_devlock = PTHREAD_MUTEX_INITIALIZER;
/* Short enough that every path built from them fits PATH_MAX (and gcc can tell). */
static char g_sysfs[256] = "/sys";
static char g_devroot[256] = "/dev";
static unsigned g_ndevs;
static enum api g_api;
static int g_container = -1;
static struct group *g_groups;

void vfio_set_sysfs_root(const char *root)
{
    snprintf(g_sysfs, sizeof(g_sysfs), "%s", root ? root : "/sys");
}

void vfio_set_dev_root(const char *root)
{
    snprintf(g_devroot, sizeof(g_devroot), "%s", root ? root : "/dev");
}

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ------------------------------------------------------------------ sysfs */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vfio_parse_bdf(const char *s, char out[13])
{
    /* "DDDD:BB:DD.F": positions of the separators, everything else hex. */
    static const char shape[] = "hhhh:hh:hh.h";
    int dev, fn;

    if (!s || strlen(s) != sizeof(shape) - 1)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'h' ? hexval(s[i]) < 0 : s[i] != shape[i])
            return -EINVAL;
        out[i] = shape[i] == 'h' && s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i];
    }
    out[12] = '\0';
    dev = hexval(s[8]) * 16 + hexval(s[9]);
    fn = hexval(s[11]);
    return dev <= 0x1f && fn <= 7 ? 0 : -EINVAL;
}

/* strlcpy: truncating copy that says nothing (names here are short). */
static void copy_str(char *out, size_t outlen, const char *in)
{
    size_t n = strlen(in);

    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

/* Last path component of the symlink at path, or "" (no link). */
static void link_base(const char *path, char *out, size_t outlen)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    const char *b;

    out[0] = '\0';
    if (n <= 0)
        return;
    buf[n] = '\0';
    b = strrchr(buf, '/');
    copy_str(out, outlen, b ? b + 1 : buf);
}

int vfio_sysfs_check(const char *bdf, int *group, char *err, size_t errlen)
{
    char path[PATH_MAX], drv[64], grp[32], *end;
    struct stat st;
    long g;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", g_sysfs, bdf);
    if (stat(path, &st) != 0)
        return errf(err, errlen, -ENODEV, "no PCI device %s (%s missing)", bdf, path);
    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", g_sysfs, bdf);
    link_base(path, drv, sizeof(drv));
    if (strcmp(drv, "vfio-pci") != 0) {
        char unbind[PATH_MAX + 64] = "";

        if (drv[0])
            snprintf(unbind, sizeof(unbind), " echo %s > /sys/bus/pci/devices/%s/driver/unbind;",
                     bdf, bdf);
        return errf(err, errlen, drv[0] ? -EBUSY : -ENODEV,
                    "%s is %s%s, not vfio-pci: run modprobe vfio-pci; echo vfio-pci > "
                    "/sys/bus/pci/devices/%s/driver_override;%s echo %s > "
                    "/sys/bus/pci/drivers_probe",
                    bdf, drv[0] ? "bound to " : "not bound to any driver", drv, bdf, unbind, bdf);
    }
    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", g_sysfs, bdf);
    link_base(path, grp, sizeof(grp));
    g = strtol(grp, &end, 10);
    if (!grp[0] || *end || g < 0 || g > INT_MAX)
        return errf(err, errlen, -ENODEV,
                    "%s has no IOMMU group: is the IOMMU on (intel_iommu=on / amd_iommu=on on "
                    "the kernel command line, VT-d/AMD-Vi in the firmware)?",
                    bdf);
    *group = (int)g;
    return 0;
}

/* The cdev name (vfioN) under the device's vfio-dev directory, if the kernel has cdevs. */
static bool cdev_name(const char *bdf, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    struct dirent *e;
    bool ok = false;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s/vfio-dev", g_sysfs, bdf);
    d = opendir(dir);
    if (!d)
        return false;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "vfio", 4) == 0) {
            copy_str(out, outlen, e->d_name);
            ok = true;
            break;
        }
    }
    closedir(d);
    return ok;
}

/* --------------------------------------------------------- type1 backend */

static int t1_map(uint64_t iova, void *vaddr, size_t len)
{
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)vaddr,
        .iova = iova,
        .size = len,
    };

    return ioctl(g_container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static int t1_unmap(uint64_t iova, size_t len)
{
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = len };

    return ioctl(g_container, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : 0;
}

static const struct vfio_space_ops t1_ops = { .map = t1_map,
                                              .unmap = t1_unmap,
                                              .name = "VFIO_IOMMU_MAP_DMA" };

/* The container's usable IOVA ranges (the IOVA_RANGE capability); n = 0 if not reported. */
static unsigned t1_ranges(struct vfio_range *r, unsigned max)
{
    struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) };
    struct vfio_iommu_type1_info *info;
    unsigned n = 0;

    if (ioctl(g_container, VFIO_IOMMU_GET_INFO, &probe) || probe.argsz <= sizeof(probe))
        return 0;
    info = calloc(1, probe.argsz);
    if (!info)
        return 0;
    info->argsz = probe.argsz;
    if (ioctl(g_container, VFIO_IOMMU_GET_INFO, info) == 0 &&
        (info->flags & VFIO_IOMMU_INFO_CAPS)) {
        uint32_t off = info->cap_offset;

        /*
         * A chain of headers, offsets from the start of info; bound every
         * step.  Capabilities are only 4-byte aligned (6.1 puts a 12-byte
         * one first), so each is copied out rather than dereferenced.
         */
        while (off && off + sizeof(struct vfio_info_cap_header) <= info->argsz) {
            struct vfio_info_cap_header h;

            memcpy(&h, (char *)info + off, sizeof(h));
            if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
                off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= info->argsz) {
                struct vfio_iommu_type1_info_cap_iova_range c;
                struct vfio_iova_range ir;

                memcpy(&c, (char *)info + off, sizeof(c));
                for (uint32_t i = 0; i < c.nr_iovas && n < max &&
                                     off + sizeof(c) + (i + 1) * sizeof(ir) <= info->argsz;
                     i++) {
                    memcpy(&ir, (char *)info + off + sizeof(c) + i * sizeof(ir), sizeof(ir));
                    r[n++] = (struct vfio_range){ ir.start, ir.end };
                }
                break;
            }
            if (h.next <= off)
                break; /* a loop or a step backwards: stop */
            off = h.next;
        }
    }
    free(info);
    return n;
}

static void t1_put_group(struct group *g)
{
    if (--g->refs > 0)
        return;
    for (struct group **pp = &g_groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
    close(g->fd);
    free(g);
}

/* Open (or reuse) group `num`, attach it to the container, creating that first. */
static int t1_get_group(int num, struct group **out, char *err, size_t errlen)
{
    struct vfio_group_status st = { .argsz = sizeof(st) };
    char path[PATH_MAX];
    struct group *g;
    int fd, rc;

    for (g = g_groups; g; g = g->next) {
        if (g->num == num) {
            g->refs++;
            *out = g;
            return 0;
        }
    }
    snprintf(path, sizeof(path), "%s/vfio/%d", g_devroot, num);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errf(err, errlen, -errno, "open %s: %s (is vfio-pci loaded, and are we root?)", path,
                    strerror(errno));
    if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        close(fd);
        return errf(err, errlen, -EBUSY,
                    "IOMMU group %d is not viable: every device in it must be bound to "
                    "vfio-pci (see /sys/kernel/iommu_groups/%d/devices)",
                    num, num);
    }
    if (g_container < 0) {
        snprintf(path, sizeof(path), "%s/vfio/vfio", g_devroot);
        g_container = open(path, O_RDWR | O_CLOEXEC);
        if (g_container < 0) {
            rc = errf(err, errlen, -errno, "open %s: %s", path, strerror(errno));
            goto fail;
        }
        if (ioctl(g_container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
            ioctl(g_container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
            rc = errf(err, errlen, -ENOTSUP, "the kernel's VFIO has no type1v2 IOMMU");
            goto fail;
        }
    }
    if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &g_container)) {
        rc = errf(err, errlen, -errno, "VFIO_GROUP_SET_CONTAINER (group %d): %s", num,
                  strerror(errno));
        goto fail;
    }
    /* The IOMMU model is chosen once, after the first group joined the container. */
    if (!g_groups && ioctl(g_container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
        rc = errf(err, errlen, -errno, "VFIO_SET_IOMMU type1v2: %s", strerror(errno));
        ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
        goto fail;
    }
    g = calloc(1, sizeof(*g));
    if (!g) {
        rc = errf(err, errlen, -ENOMEM, "out of memory");
        ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
        goto fail;
    }
    *g = (struct group){ .num = num, .fd = fd, .refs = 1, .next = g_groups };
    g_groups = g;
    *out = g;
    return 0;
fail:
    close(fd);
    if (!g_groups && g_container >= 0) {
        close(g_container);
        g_container = -1;
    }
    return rc;
}

/* ---------------------------------------------------------------- devices */

static int region_info(int fd, unsigned index, struct vfio_region_info **out)
{
    struct vfio_region_info probe = { .argsz = sizeof(probe), .index = index };
    struct vfio_region_info *ri;

    if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &probe))
        return -errno;
    /* argsz grows when the region has capabilities (sparse mmap areas...). */
    ri = calloc(1, probe.argsz > sizeof(probe) ? probe.argsz : sizeof(probe));
    if (!ri)
        return -ENOMEM;
    ri->argsz = probe.argsz > sizeof(probe) ? probe.argsz : sizeof(probe);
    ri->index = index;
    if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri)) {
        free(ri);
        return -errno;
    }
    *out = ri;
    return 0;
}

/* Memory space + bus master in the command register: the device may decode and DMA. */
static int enable_device(struct vfio_dev *d, char *err, size_t errlen)
{
    struct vfio_region_info *ri;
    uint16_t cmd;
    int rc = region_info(d->fd, VFIO_PCI_CONFIG_REGION_INDEX, &ri);

    if (rc)
        return errf(err, errlen, rc, "%s: config space info: %s", d->bdf, strerror(-rc));
    if (pread(d->fd, &cmd, 2, (off_t)ri->offset + 4) != 2) {
        rc = errf(err, errlen, -EIO, "%s: reading the command register failed", d->bdf);
    } else {
        cmd |= 0x2 | 0x4; /* PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER */
        if (pwrite(d->fd, &cmd, 2, (off_t)ri->offset + 4) != 2)
            rc = errf(err, errlen, -EIO, "%s: writing the command register failed", d->bdf);
    }
    free(ri);
    return rc;
}

static int device_setup(struct vfio_dev *d, char *err, size_t errlen)
{
    struct vfio_device_info info = { .argsz = sizeof(info) };
    struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX };

    if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info))
        return errf(err, errlen, -errno, "%s: VFIO_DEVICE_GET_INFO: %s", d->bdf, strerror(errno));
    if (!(info.flags & VFIO_DEVICE_FLAGS_PCI))
        return errf(err, errlen, -ENODEV, "%s: not a PCI device", d->bdf);
    d->flags = info.flags;
    if (info.num_irqs > VFIO_PCI_MSIX_IRQ_INDEX &&
        ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0)
        d->msix_count = irq.count;
    return enable_device(d, err, errlen);
}

/* Open through group + container; the first device brings the space up. */
static int open_type1(struct vfio_dev *d, int group, char *err, size_t errlen)
{
    struct vfio_range r[VFIO_MAX_IOVA_RANGES];
    bool first = !g_groups;
    int rc = t1_get_group(group, &d->grp, err, errlen);

    if (rc)
        return rc;
    d->fd = ioctl(d->grp->fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
    if (d->fd < 0) {
        rc = errf(err, errlen, -errno, "VFIO_GROUP_GET_DEVICE_FD %s: %s", d->bdf, strerror(errno));
        t1_put_group(d->grp);
        d->grp = NULL;
        if (!g_groups) {
            close(g_container);
            g_container = -1;
        }
        return rc;
    }
    if (first)
        vfio_dma_space_up(&t1_ops, r, t1_ranges(r, VFIO_MAX_IOVA_RANGES));
    return 0;
}

/* VUS_VFIO_API=type1|iommufd forces one (tests, kernels with broken cdev support). */
static enum api choose_api(const char *bdf, char *cdev, size_t cdevlen)
{
    const char *force = getenv("VUS_VFIO_API");
    char path[PATH_MAX];
    bool have_cdev = cdev_name(bdf, cdev, cdevlen);

    if (g_api != API_NONE)
        return g_api; /* one DMA space: every device uses the API of the first */
    if (force && strcmp(force, "type1") == 0)
        return API_TYPE1;
    if (force && strcmp(force, "iommufd") == 0)
        return API_IOMMUFD;
    snprintf(path, sizeof(path), "%s/iommu", g_devroot);
    return have_cdev && access(path, R_OK | W_OK) == 0 ? API_IOMMUFD : API_TYPE1;
}

int vfio_dev_open(const char *bdf, struct vfio_dev **out, char *err, size_t errlen)
{
    char cdev[64] = "";
    struct vfio_dev *d;
    enum api api;
    int group, rc;

    d = calloc(1, sizeof(*d));
    if (!d)
        return errf(err, errlen, -ENOMEM, "out of memory");
    d->fd = -1;
    if (vfio_parse_bdf(bdf, d->bdf)) {
        free(d);
        return errf(err, errlen, -EINVAL,
                    "bad PCI address '%s': want domain:bus:device.function, e.g. 0000:00:04.0",
                    bdf ? bdf : "");
    }
    pthread_mutex_lock(&g_devlock);
    rc = vfio_sysfs_check(d->bdf, &group, err, errlen);
    if (rc)
        goto fail;
    api = choose_api(d->bdf, cdev, sizeof(cdev));
    if (api == API_IOMMUFD) {
        if (!cdev[0]) {
            rc = errf(err, errlen, -ENOTSUP,
                      "%s: iommufd in use but the kernel has no VFIO device cdev for it", d->bdf);
            goto fail;
        }
        rc = vfio_iommufd_open(d->bdf, cdev, g_devroot, &d->fd, err, errlen);
    } else {
        rc = open_type1(d, group, err, errlen);
    }
    if (rc)
        goto fail;
    g_api = api;
    g_ndevs++;
    rc = device_setup(d, err, errlen);
    if (rc) {
        pthread_mutex_unlock(&g_devlock);
        vfio_dev_close(d);
        return rc;
    }
    /* Guest memory follows the space from now on (a no-op after the first device). */
    vfio_dma_listener_attach();
    pthread_mutex_unlock(&g_devlock);
    LOG_INFO("vfio: %s open (IOMMU group %d, %s, %u MSI-X vectors)", d->bdf, group,
             api == API_IOMMUFD ? "iommufd" : "type1 container", d->msix_count);
    *out = d;
    return 0;
fail:
    pthread_mutex_unlock(&g_devlock);
    free(d);
    return rc;
}

static int set_irqs(struct vfio_dev *d, const int *fds, unsigned n)
{
    size_t sz = sizeof(struct vfio_irq_set) + n * sizeof(int32_t);
    struct vfio_irq_set *s = calloc(1, sz);
    int rc = 0;

    if (!s)
        return -ENOMEM;
    s->argsz = (uint32_t)sz;
    s->flags =
        (n ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER;
    s->index = VFIO_PCI_MSIX_IRQ_INDEX;
    s->start = 0;
    s->count = n;
    for (unsigned i = 0; i < n; i++)
        ((int32_t *)s->data)[i] = fds[i];
    if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s))
        rc = -errno;
    free(s);
    return rc;
}

int vfio_dev_set_msix(struct vfio_dev *d, const int *eventfds, unsigned n)
{
    int rc = 0;

    if (n > d->msix_count)
        return -EINVAL;
    pthread_mutex_lock(&g_devlock);
    /* The kernel sizes the vector table when MSI-X is enabled: another count needs a disable first.
     */
    if (d->msix_on && d->msix_on != n) {
        rc = set_irqs(d, NULL, 0);
        if (rc == 0)
            d->msix_on = 0;
    }
    if (rc == 0 && n)
        rc = set_irqs(d, eventfds, n);
    if (rc == 0)
        d->msix_on = n;
    pthread_mutex_unlock(&g_devlock);
    return rc;
}

unsigned vfio_dev_msix_count(const struct vfio_dev *d)
{
    return d->msix_count;
}

const char *vfio_dev_bdf(const struct vfio_dev *d)
{
    return d->bdf;
}

int vfio_dev_reset(struct vfio_dev *d)
{
    int rc;

    if (!(d->flags & VFIO_DEVICE_FLAGS_RESET))
        return -ENOTSUP;
    pthread_mutex_lock(&g_devlock);
    rc = ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
    pthread_mutex_unlock(&g_devlock);
    return rc;
}

#define VFIO_MAX_SPARSE_AREAS 16

/*
 * The sparse-mmap capability, if the region has one (areas the kernel lets
 * us map): copied into areas (capabilities are only 4-byte aligned).
 * Returns the number of areas, 0 for none, -1 for a capability we cannot use.
 */
static int sparse_areas(const struct vfio_region_info *ri,
                        struct vfio_region_sparse_mmap_area *areas)
{
    uint32_t off;

    if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
        return 0;
    off = ri->cap_offset;
    while (off && off + sizeof(struct vfio_info_cap_header) <= ri->argsz) {
        struct vfio_info_cap_header h;

        memcpy(&h, (const char *)ri + off, sizeof(h));
        if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
            off + sizeof(struct vfio_region_info_cap_sparse_mmap) <= ri->argsz) {
            struct vfio_region_info_cap_sparse_mmap s;

            memcpy(&s, (const char *)ri + off, sizeof(s));
            if (s.nr_areas > VFIO_MAX_SPARSE_AREAS ||
                off + sizeof(s) + s.nr_areas * sizeof(areas[0]) > ri->argsz)
                return -1;
            memcpy(areas, (const char *)ri + off + sizeof(s), s.nr_areas * sizeof(areas[0]));
            return s.nr_areas ? (int)s.nr_areas : -1;
        }
        if (h.next <= off)
            break;
        off = h.next;
    }
    return 0;
}

static int map_bar_locked(struct vfio_dev *d, unsigned bar, char *err, size_t errlen)
{
    struct vfio_region_sparse_mmap_area areas[VFIO_MAX_SPARSE_AREAS];
    struct vfio_region_info *ri;
    void *base;
    int nareas;
    int rc = region_info(d->fd, bar, &ri);

    if (rc)
        return errf(err, errlen, rc, "%s: BAR%u info: %s", d->bdf, bar, strerror(-rc));
    if (ri->size == 0) {
        rc = errf(err, errlen, -ENOENT, "%s: BAR%u is not implemented", d->bdf, bar);
        goto out;
    }
    if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        rc =
            errf(err, errlen, -ENOTSUP, "%s: BAR%u cannot be mmapped (I/O port BAR?)", d->bdf, bar);
        goto out;
    }
    nareas = sparse_areas(ri, areas);
    if (nareas < 0) {
        rc = errf(err, errlen, -ENOTSUP, "%s: BAR%u: a sparse-mmap layout we cannot use", d->bdf,
                  bar);
        goto out;
    }
    if (nareas == 0) {
        base = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)ri->offset);
    } else {
        /*
         * Only some areas may be mapped (e.g. not the MSI-X table): reserve
         * the whole BAR inaccessible, then map the allowed areas over it, so
         * register offsets stay offsets from one base.
         */
        base = mmap(NULL, ri->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (int i = 0; base != MAP_FAILED && i < nareas; i++) {
            if (!areas[i].size)
                continue;
            if (areas[i].offset > ri->size || areas[i].size > ri->size - areas[i].offset ||
                mmap((char *)base + areas[i].offset, areas[i].size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED, d->fd,
                     (off_t)(ri->offset + areas[i].offset)) == MAP_FAILED) {
                int e = errno ? errno : EINVAL;

                munmap(base, ri->size);
                base = MAP_FAILED;
                errno = e;
            }
        }
    }
    if (base == MAP_FAILED) {
        rc = errf(err, errlen, -errno, "%s: mmap BAR%u: %s", d->bdf, bar, strerror(errno));
        goto out;
    }
    d->bar[bar].addr = base;
    d->bar[bar].len = ri->size;
out:
    free(ri);
    return rc;
}

int vfio_dev_map_bar(struct vfio_dev *d, unsigned bar, volatile void **addr, size_t *len, char *err,
                     size_t errlen)
{
    int rc = 0;

    if (bar >= VFIO_PCI_ROM_REGION_INDEX)
        return errf(err, errlen, -EINVAL, "%s: no BAR%u", d->bdf, bar);
    pthread_mutex_lock(&g_devlock);
    if (!d->bar[bar].addr)
        rc = map_bar_locked(d, bar, err, errlen);
    if (rc == 0) {
        *addr = d->bar[bar].addr;
        *len = d->bar[bar].len;
    }
    pthread_mutex_unlock(&g_devlock);
    return rc;
}

void vfio_dev_close(struct vfio_dev *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&g_devlock);
    if (d->msix_on)
        set_irqs(d, NULL, 0);
    for (unsigned i = 0; i < VFIO_PCI_ROM_REGION_INDEX; i++)
        if (d->bar[i].addr)
            munmap(d->bar[i].addr, d->bar[i].len);
    /*
     * The last device: unmap everything while the IOMMU is still attached
     * (guest memory through the registry, then our own ranges, which stay
     * recorded for the next device).
     */
    if (g_ndevs == 1) {
        vfio_dma_listener_detach();
        vfio_dma_space_down();
    }
    if (d->fd >= 0)
        close(d->fd);
    if (d->grp)
        t1_put_group(d->grp);
    if (--g_ndevs == 0) {
        if (g_container >= 0)
            close(g_container);
        g_container = -1;
        vfio_iommufd_close();
        g_api = API_NONE;
    }
    pthread_mutex_unlock(&g_devlock);
    LOG_INFO("vfio: %s closed", d->bdf);
    free(d);
}
