/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio-pci-ng: the one place where kernel differences are absorbed.
 *
 * Every difference is keyed on a feature probe (VFIO_PCI_HAVE_*, generated
 * into vfio_pci_compat_probes.h by scripts/compat-probe.sh at build time),
 * never on a version number.
 */
#ifndef VFIO_PCI_COMPAT_H
#define VFIO_PCI_COMPAT_H

#include <linux/vfio.h>

#include "vfio_pci_compat_probes.h"

/*
 * Before 6.2 the driver's release op frees the device; later the core
 * does and vfio_free_device() is gone.
 */
static inline void vfio_pci_compat_free_device(struct vfio_device *vdev)
{
#ifdef VFIO_PCI_HAVE_VFIO_FREE_DEVICE
	vfio_free_device(vdev);
#endif
}

/*
 * iommufd: a kernel with CONFIG_IOMMUFD refuses to register a device whose
 * ops lack these; without it the physical helpers are NULL.
 */
#ifdef VFIO_PCI_HAVE_VFIO_DETACH_IOAS
#define VFIO_PCI_COMPAT_DETACH_IOAS					\
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
#else
#define VFIO_PCI_COMPAT_DETACH_IOAS
#endif

#ifdef VFIO_PCI_HAVE_VFIO_IOMMUFD_OPS
#define VFIO_PCI_COMPAT_IOMMUFD_OPS					\
	.bind_iommufd	= vfio_iommufd_physical_bind,			\
	.unbind_iommufd	= vfio_iommufd_physical_unbind,			\
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,		\
	VFIO_PCI_COMPAT_DETACH_IOAS
#else
#define VFIO_PCI_COMPAT_IOMMUFD_OPS
#endif

#endif /* VFIO_PCI_COMPAT_H */
