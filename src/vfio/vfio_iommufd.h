/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd/cdev backend of the DMA space (kernels >= 6.6 with
 * CONFIG_VFIO_DEVICE_CDEV): one /dev/iommu and one IOAS for the process,
 * each device opened through /dev/vfio/devices/vfioN, bound and attached to
 * the IOAS.  Called from vfio.c under its device lock.
 */
#ifndef VUS_VFIO_VFIO_IOMMUFD_H
#define VUS_VFIO_VFIO_IOMMUFD_H

#include <stddef.h>

/* Open cdev (e.g. "vfio3") of bdf into *fd, attached to the IOAS; brings the space up first time.
 */
int vfio_iommufd_open(const char *bdf, const char *cdev, const char *devroot, int *fd, char *err,
                      size_t errlen);
/* After the last device closed: release the IOAS and /dev/iommu. */
void vfio_iommufd_close(void);

#endif
