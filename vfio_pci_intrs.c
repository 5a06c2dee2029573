// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: interrupts (INTx, MSI, MSI-X, error and request signals).
 */

#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/**
 * vfio_pci_irq_count() - how many vectors an IRQ index has on this device
 * @vpdev: the device
 * @index: a VFIO_PCI_*_IRQ_INDEX
 *
 * Return: the vector count, 0 when the device cannot raise this kind of
 * interrupt.
 */
int vfio_pci_irq_count(struct vfio_pci_ng_device *vpdev, unsigned int index)
{
	struct pci_dev *pdev = vpdev->pdev;
	u16 flags;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return vpdev->nointx ? 0 : 1;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (!pdev->msi_cap)
			return 0;
		pci_read_config_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS, &flags);
		return 1 << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (!pdev->msix_cap)
			return 0;
		pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS,
				     &flags);
		return (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
	case VFIO_PCI_ERR_IRQ_INDEX:
		return vpdev->pcie ? 1 : 0;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

/**
 * vfio_pci_ioctl_get_irq_info() - VFIO_DEVICE_GET_IRQ_INFO
 * @vpdev: the device
 * @uarg: the user's struct vfio_irq_info
 *
 * Return: 0 or a negative errno.
 */
long vfio_pci_ioctl_get_irq_info(struct vfio_pci_ng_device *vpdev,
				 struct vfio_irq_info __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, uarg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	/* Error reporting exists only on PCI Express functions. */
	if (info.index == VFIO_PCI_ERR_IRQ_INDEX && !vpdev->pcie)
		return -EINVAL;

	info.flags = VFIO_IRQ_INFO_EVENTFD;
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	info.count = vfio_pci_irq_count(vpdev, info.index);

	return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
}

/**
 * vfio_pci_intx_mask() - mask INTx on behalf of userspace (INTx-disable
 *	written in the virtual command register)
 * @vpdev: the device
 */
void vfio_pci_intx_mask(struct vfio_pci_ng_device *vpdev)
{
}

/**
 * vfio_pci_intx_unmask() - undo vfio_pci_intx_mask()
 * @vpdev: the device
 */
void vfio_pci_intx_unmask(struct vfio_pci_ng_device *vpdev)
{
}
