// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: read/write of BARs, ROM and VGA through the device fd.
 */

#include <linux/pci.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

static ssize_t vfio_pci_rw(struct vfio_pci_ng_device *vpdev, char __user *buf,
			   size_t count, loff_t *ppos, bool iswrite)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return vfio_pci_config_rw(vpdev, buf, count, ppos, iswrite);
	default:
		return -EINVAL;
	}
}

/**
 * vfio_pci_read() - the device fd's read op
 * @core_vdev: the vfio device
 * @buf: user buffer
 * @count: bytes to read
 * @ppos: region offset (index << 40 | offset)
 *
 * Return: bytes read or a negative errno.
 */
ssize_t vfio_pci_read(struct vfio_device *core_vdev, char __user *buf,
		      size_t count, loff_t *ppos)
{
	if (!count)
		return 0;
	return vfio_pci_rw(to_vpdev(core_vdev), buf, count, ppos, false);
}

/**
 * vfio_pci_write() - the device fd's write op
 * @core_vdev: the vfio device
 * @buf: user buffer
 * @count: bytes to write
 * @ppos: region offset (index << 40 | offset)
 *
 * Return: bytes written or a negative errno.
 */
ssize_t vfio_pci_write(struct vfio_device *core_vdev, const char __user *buf,
		       size_t count, loff_t *ppos)
{
	if (!count)
		return 0;
	return vfio_pci_rw(to_vpdev(core_vdev), (char __user *)buf, count, ppos,
			   true);
}
