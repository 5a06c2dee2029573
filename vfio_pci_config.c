// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: config space virtualization.
 */

#include <linux/pci.h>

#include "vfio_pci_private.h"

/**
 * vfio_pci_config_init() - build the virtual config space at open
 * @vpdev: the device
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_config_init(struct vfio_pci_ng_device *vpdev)
{
	return 0;
}

/**
 * vfio_pci_config_exit() - free the virtual config space at close
 * @vpdev: the device
 */
void vfio_pci_config_exit(struct vfio_pci_ng_device *vpdev)
{
}

/**
 * vfio_pci_config_rw() - user access to the config region
 * @vpdev: the device
 * @buf: user buffer
 * @count: bytes to transfer
 * @ppos: position in the device fd
 * @iswrite: direction
 *
 * Return: bytes transferred or a negative errno.
 */
ssize_t vfio_pci_config_rw(struct vfio_pci_ng_device *vpdev, char __user *buf,
			   size_t count, loff_t *ppos, bool iswrite)
{
	return -EINVAL;
}
