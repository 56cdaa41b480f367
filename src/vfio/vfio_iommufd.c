/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iommufd backend, written from include/uapi/linux/iommufd.h and vfio.h and
 * Documentation/userspace-api/iommufd.rst.  The build host's headers may be
 * older than the API (Debian 12 ships 6.1's, without iommufd.h and the cdev
 * ioctls), so the few structures used are declared here; they are stable
 * uapi, extensible only by growing at the end (the size/argsz fields).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vfio/vfio_internal.h"
#include "vfio/vfio_iommufd.h"

#define IOMMUFD_TYPE_ (';')

struct iommufd_destroy_ {
    uint32_t size, id;
};
struct iommufd_ioas_alloc_ {
    uint32_t size, flags, out_ioas_id;
};
struct iommufd_iova_range_ {
    uint64_t start, last;
};
struct iommufd_ioas_iova_ranges_ {
    uint32_t size, ioas_id, num_iovas, reserved;
    uint64_t allowed_iovas, out_iova_alignment;
};
struct iommufd_ioas_map_ {
    uint32_t size, flags, ioas_id, reserved;
    uint64_t user_va, length, iova;
};
struct iommufd_ioas_unmap_ {
    uint32_t size, ioas_id;
    uint64_t iova, length;
};
struct vfio_bind_iommufd_ {
    uint32_t argsz, flags;
    int32_t iommufd;
    uint32_t out_devid;
};
struct vfio_attach_pt_ {
    uint32_t argsz, flags, pt_id;
};

#define IOMMU_DESTROY_            _IO(IOMMUFD_TYPE_, 0x80)
#define IOMMU_IOAS_ALLOC_         _IO(IOMMUFD_TYPE_, 0x81)
#define IOMMU_IOAS_IOVA_RANGES_   _IO(IOMMUFD_TYPE_, 0x84)
#define IOMMU_IOAS_MAP_           _IO(IOMMUFD_TYPE_, 0x85)
#define IOMMU_IOAS_UNMAP_         _IO(IOMMUFD_TYPE_, 0x86)
#define IOAS_MAP_FIXED_IOVA_      (1u << 0)
#define IOAS_MAP_WRITEABLE_       (1u << 1)
#define IOAS_MAP_READABLE_        (1u << 2)
#define VFIO_DEVICE_BIND_IOMMUFD_ _IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_PT_    _IO(VFIO_TYPE, VFIO_BASE + 19)

static int g_iommufd = -1;
static uint32_t g_ioas;

static int ifd_map(uint64_t iova, void *vaddr, size_t len)
{
    struct iommufd_ioas_map_ m = {
        .size = sizeof(m),
        .flags = IOAS_MAP_FIXED_IOVA_ | IOAS_MAP_READABLE_ | IOAS_MAP_WRITEABLE_,
        .ioas_id = g_ioas,
        .user_va = (uintptr_t)vaddr,
        .length = len,
        .iova = iova,
    };

    return ioctl(g_iommufd, IOMMU_IOAS_MAP_, &m) ? -errno : 0;
}

static int ifd_unmap(uint64_t iova, size_t len)
{
    struct iommufd_ioas_unmap_ u = {
        .size = sizeof(u), .ioas_id = g_ioas, .iova = iova, .length = len
    };

    return ioctl(g_iommufd, IOMMU_IOAS_UNMAP_, &u) ? -errno : 0;
}

static const struct vfio_space_ops ifd_ops = { .map = ifd_map,
                                               .unmap = ifd_unmap,
                                               .name = "IOMMU_IOAS_MAP" };

/* The IOAS's allowed ranges; valid once a device is attached (its reserved regions are cut out). */
static unsigned ifd_ranges(struct vfio_range *r, unsigned max)
{
    struct iommufd_iova_range_ buf[VFIO_MAX_IOVA_RANGES];
    struct iommufd_ioas_iova_ranges_ q = {
        .size = sizeof(q),
        .ioas_id = g_ioas,
        .num_iovas = VFIO_MAX_IOVA_RANGES,
        .allowed_iovas = (uintptr_t)buf,
    };
    unsigned n;

    /* EMSGSIZE: more ranges than we have room for; the kernel still filled the first ones. */
    if (ioctl(g_iommufd, IOMMU_IOAS_IOVA_RANGES_, &q) && errno != EMSGSIZE)
        return 0;
    n = q.num_iovas < max ? q.num_iovas : max;
    for (unsigned i = 0; i < n; i++)
        r[i] = (struct vfio_range){ buf[i].start, buf[i].last };
    return n;
}

int vfio_iommufd_open(const char *bdf, const char *cdev, const char *devroot, int *fd, char *err,
                      size_t errlen)
{
    struct vfio_bind_iommufd_ b = { .argsz = sizeof(b) };
    struct vfio_attach_pt_ a = { .argsz = sizeof(a) };
    struct vfio_range r[VFIO_MAX_IOVA_RANGES];
    char path[PATH_MAX];
    bool first = g_iommufd < 0;
    int dfd;

    if (first) {
        struct iommufd_ioas_alloc_ al = { .size = sizeof(al) };

        snprintf(path, sizeof(path), "%s/iommu", devroot);
        g_iommufd = open(path, O_RDWR | O_CLOEXEC);
        if (g_iommufd < 0) {
            snprintf(err, errlen, "open %s: %s", path, strerror(errno));
            return -errno;
        }
        if (ioctl(g_iommufd, IOMMU_IOAS_ALLOC_, &al)) {
            int e = errno;

            snprintf(err, errlen, "IOMMU_IOAS_ALLOC: %s", strerror(e));
            vfio_iommufd_close();
            return -e;
        }
        g_ioas = al.out_ioas_id;
    }
    snprintf(path, sizeof(path), "%s/vfio/devices/%s", devroot, cdev);
    dfd = open(path, O_RDWR | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;

        snprintf(err, errlen, "open %s (%s): %s", path, bdf, strerror(e));
        if (first)
            vfio_iommufd_close();
        return -e;
    }
    b.iommufd = g_iommufd;
    a.pt_id = g_ioas;
    if (ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD_, &b) || ioctl(dfd, VFIO_DEVICE_ATTACH_PT_, &a)) {
        int e = errno;

        snprintf(err, errlen, "%s: binding %s to the IOAS: %s", bdf, path, strerror(e));
        close(dfd);
        if (first)
            vfio_iommufd_close();
        return -e;
    }
    if (first)
        vfio_dma_space_up(&ifd_ops, r, ifd_ranges(r, VFIO_MAX_IOVA_RANGES));
    *fd = dfd;
    return 0;
}

void vfio_iommufd_close(void)
{
    if (g_iommufd < 0)
        return;
    /* Closing /dev/iommu destroys the IOAS with it; the explicit destroy is for clarity. */
    struct iommufd_destroy_ dd = { .size = sizeof(dd), .id = g_ioas };

    ioctl(g_iommufd, IOMMU_DESTROY_, &dd);
    close(g_iommufd);
    g_iommufd = -1;
}
