/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio-pci-ng: the one place where kernel differences are absorbed.
 *
 * Every difference is keyed on a feature probe (VFIO_PCI_HAVE_*, generated
 * into vfio_pci_compat_probes.h by scripts/compat-probe.sh at build time),
 * never on a version number in the code.  One probe is a version test: a
 * behaviour of the in-tree vfio-pci that we follow and that no interface
 * reveals (VFIO_PCI_COMPAT_ERR_IRQ_CONVENTIONAL below).
 */
#ifndef VFIO_PCI_COMPAT_H
#define VFIO_PCI_COMPAT_H

#include <linux/eventfd.h>
#include <linux/huge_mm.h>
#include <linux/irqbypass.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/vfio.h>

#include "vfio_pci_compat_probes.h"

#ifndef VFIO_PCI_HAVE_VMF_INSERT_PFN_PLAIN
#include <linux/pfn_t.h>
#endif

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

/* Since 6.8 eventfd_signal() takes no count. */
static inline void vfio_pci_compat_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef VFIO_PCI_HAVE_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* Since 6.5 vectors can be added to a live MSI-X setup. */
static inline bool vfio_pci_compat_msix_can_alloc_dyn(struct pci_dev *pdev)
{
#ifdef VFIO_PCI_HAVE_PCI_MSIX_ALLOC_DYN
	return pci_msix_can_alloc_dyn(pdev);
#else
	return false;
#endif
}

/* Returns the Linux IRQ of MSI-X table entry @index, allocating it. */
static inline int vfio_pci_compat_msix_alloc_irq_at(struct pci_dev *pdev,
						    unsigned int index)
{
#ifdef VFIO_PCI_HAVE_PCI_MSIX_ALLOC_DYN
	struct msi_map map = pci_msix_alloc_irq_at(pdev, index, NULL);

	return map.index < 0 ? map.index : map.virq;
#else
	return -EINVAL;
#endif
}

/* Debian 6.12.94+ keeps driver_override in struct device. */
static inline int vfio_pci_compat_set_driver_override(struct pci_dev *pdev,
						      const char *name)
{
#ifdef VFIO_PCI_HAVE_DEVICE_SET_DRIVER_OVERRIDE
	return device_set_driver_override(&pdev->dev, name);
#else
	return driver_set_override(&pdev->dev, &pdev->driver_override, name,
				   strlen(name));
#endif
}

/*
 * Since 6.6 a device may be opened through its cdev and bound to an iommufd
 * context instead of a group; hot reset then proves ownership with it.
 */
#ifndef VFIO_PCI_HOT_RESET_FLAG_DEV_ID
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID		BIT(0)
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED	BIT(1)
#define VFIO_PCI_DEVID_OWNED			0
#define VFIO_PCI_DEVID_NOT_OWNED		-1
#endif

/*
 * Since 6.5 the uAPI reports the AtomicOp widths a device can have completed
 * by its root port (a VFIO_DEVICE_GET_INFO capability); we report it on
 * older kernels too, with the same layout.
 */
#ifndef VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP
#define VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP	5
struct vfio_device_info_cap_pci_atomic_comp {
	struct vfio_info_cap_header header;
	__u32 flags;
#define VFIO_PCI_ATOMIC_COMP32	BIT(0)
#define VFIO_PCI_ATOMIC_COMP64	BIT(1)
#define VFIO_PCI_ATOMIC_COMP128	BIT(2)
	__u32 reserved;
};
#endif

/*
 * Huge PFN mappings: since 6.12 the mm core maps PFNs with PMD and PUD
 * entries where the architecture allows it, which its Kconfig says
 * (CONFIG_ARCH_SUPPORTS_*_PFNMAP exist from then on, and need THP).  The
 * fault handler is then also the vma's huge_fault op.
 * VFIO_PCI_FAULT_ORDER is the block an order-0 fault fills in.
 */
#define VFIO_PCI_FAULT_ORDER	(PMD_SHIFT - PAGE_SHIFT)

#ifdef CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP
#define VFIO_PCI_HAVE_HUGE_PFNMAP 1
#endif

/*
 * Without huge PFN mappings (6.1 and the debug 6.12, which has no THP, in
 * the matrix; 6.3-6.11), the first fault in a BAR mapping fills the whole
 * vma in one page table walk (vfio_pci_mmap_populate()); with them, faults
 * map PUD and PMD blocks.
 */
#ifndef VFIO_PCI_HAVE_HUGE_PFNMAP
#define VFIO_PCI_POPULATE_WHOLE_VMA 1
#endif

/*
 * The PTE that maps the next PFN with the protection of @pte, without
 * building it from the PFN and pgprot again: the whole-vma population
 * writes a run of consecutive PFNs.  6.8+ have pte_next_pfn().  Before,
 * on x86, a PTE holds its PFN at PAGE_SHIFT, inverted in a PTE that is
 * not present (the L1TF mitigation), as pfn_pte() builds it, and the raw
 * value is the PTE, except under Xen PV, whose PTEs hold machine frames
 * that only the paravirt accessors translate: there
 * vfio_pci_compat_pte_step_ok() is false, and faults map 2 MiB blocks page
 * by page instead.  (Stepping through the accessors would cost: a first
 * touch of a 1 GiB BAR on 6.1 took 12.9 ms that way, under QEMU's icount,
 * and takes 10.8 ms.)
 */
#if defined(VFIO_PCI_HAVE_PTE_NEXT_PFN)
#define vfio_pci_compat_pte_next_pfn(pte)	pte_next_pfn(pte)
#define vfio_pci_compat_pte_step_ok()		true
#elif defined(CONFIG_X86)
static inline pte_t vfio_pci_compat_pte_next_pfn(pte_t pte)
{
	pteval_t val = native_pte_val(pte);

	return native_make_pte(__pte_needs_invert(val) ? val - PAGE_SIZE :
				val + PAGE_SIZE);
}

#define vfio_pci_compat_pte_step_ok()	\
	(!cpu_feature_enabled(X86_FEATURE_XENPV))
#else
static inline pte_t vfio_pci_compat_pte_next_pfn(pte_t pte)
{
	return pfn_pte(pte_pfn(pte) + 1, pte_pgprot(pte));
}

#define vfio_pci_compat_pte_step_ok()		true
#endif

/* Since 6.17 the huge inserts take a plain pfn (pfn_t is gone). */
#ifdef VFIO_PCI_HAVE_VMF_INSERT_PFN_PLAIN
#define VFIO_PCI_COMPAT_PFN(pfn)	(pfn)
#else
#define VFIO_PCI_COMPAT_PFN(pfn)	__pfn_to_pfn_t(pfn, PFN_DEV)
#endif

static inline vm_fault_t vfio_pci_compat_insert_pfn_huge(struct vm_fault *vmf,
							 unsigned long pfn,
							 unsigned int order)
{
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
	if (order == PMD_SHIFT - PAGE_SHIFT)
		return vmf_insert_pfn_pmd(vmf, VFIO_PCI_COMPAT_PFN(pfn),
					  vmf->flags & FAULT_FLAG_WRITE);
#endif
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	if (order == PUD_SHIFT - PAGE_SHIFT)
		return vmf_insert_pfn_pud(vmf, VFIO_PCI_COMPAT_PFN(pfn),
					  vmf->flags & FAULT_FLAG_WRITE);
#endif
	return VM_FAULT_FALLBACK;
}

/*
 * Since 6.17 an irqbypass producer is registered with its eventfd and IRQ
 * and has no token; it is unregistered (a no-op when registration failed)
 * with irq_bypass_unregister_producer() everywhere.
 */
static inline int
vfio_pci_compat_irq_bypass_register(struct irq_bypass_producer *producer,
				    struct eventfd_ctx *trigger, int irq)
{
#ifdef VFIO_PCI_HAVE_IRQ_BYPASS_REGISTER_EVENTFD
	return irq_bypass_register_producer(producer, trigger, irq);
#else
	int ret;

	producer->token = trigger;
	producer->irq = irq;
	ret = irq_bypass_register_producer(producer);
	if (ret)
		producer->token = NULL;
	return ret;
#endif
}

struct iommufd_ctx;

static inline bool vfio_pci_compat_cdev_opened(struct vfio_device *vdev)
{
#ifdef VFIO_PCI_HAVE_VFIO_DEVICE_CDEV_OPENED
	return vfio_device_cdev_opened(vdev);
#else
	return false;
#endif
}

static inline struct iommufd_ctx *
vfio_pci_compat_iommufd_ictx(struct vfio_device *vdev)
{
#ifdef VFIO_PCI_HAVE_VFIO_DEVICE_CDEV_OPENED
	return vfio_iommufd_device_ictx(vdev);
#else
	return NULL;
#endif
}

/*
 * What hot reset reports for @vdev to a user of @ictx: the devid when the
 * device is bound to @ictx, VFIO_PCI_DEVID_OWNED when @ictx owns its group
 * (the core says -ENOENT), else VFIO_PCI_DEVID_NOT_OWNED.
 */
static inline int vfio_pci_compat_iommufd_dev_id(struct vfio_device *vdev,
						 struct iommufd_ctx *ictx)
{
#ifdef VFIO_PCI_HAVE_VFIO_DEVICE_CDEV_OPENED
	int id = vfio_iommufd_get_dev_id(vdev, ictx);

	if (id >= 0)
		return id;
	return id == -ENOENT ? VFIO_PCI_DEVID_OWNED : VFIO_PCI_DEVID_NOT_OWNED;
#else
	return VFIO_PCI_DEVID_NOT_OWNED;
#endif
}

/* Since 6.3 vma flags change through wrappers only. */
static inline void vfio_pci_compat_vm_flags_set(struct vm_area_struct *vma,
						vm_flags_t flags)
{
#ifdef VFIO_PCI_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * A vfio core with the get_region_info_caps op handles
 * VFIO_DEVICE_GET_REGION_INFO itself and never passes it to the driver's
 * ioctl: without the op every region reads as absent (-EINVAL).  The op is
 * vfio_pci_get_region_info_caps() (vfio_pci_core.c), which our ioctl uses
 * on older kernels.
 */
#ifdef VFIO_PCI_HAVE_VFIO_GET_REGION_INFO_CAPS
#define VFIO_PCI_COMPAT_REGION_INFO_OPS					\
	.get_region_info_caps	= vfio_pci_get_region_info_caps,
#else
#define VFIO_PCI_COMPAT_REGION_INFO_OPS
#endif

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

/*
 * The ERR irq (VFIO_PCI_ERR_IRQ_INDEX) on a conventional PCI function.  Up
 * to 7.2 the in-tree vfio-pci offers it only on PCI Express functions
 * (GET_IRQ_INFO -EINVAL, count 0, so SET_IRQS -EINVAL elsewhere); the
 * in-tree vfio-pci of 7.3 offers it on every function (count 1, the
 * eventfd can be set, looped back and cleared; it fires only on an AER
 * error, so never on conventional PCI).  This is the driver's behaviour,
 * not an interface of the vfio core: nothing in the headers changed with
 * it, so its probe (scripts/compat-probe.sh) tests the version, from the
 * sources of Debian's 7.2.13 (refuses) and 7.3.4 (offers).  A drop-in
 * driver answers as the in-tree one of the kernel it runs on.
 */
#ifdef VFIO_PCI_HAVE_ERR_IRQ_CONVENTIONAL
#define VFIO_PCI_COMPAT_ERR_IRQ_CONVENTIONAL	true
#else
#define VFIO_PCI_COMPAT_ERR_IRQ_CONVENTIONAL	false
#endif

#endif /* VFIO_PCI_COMPAT_H */
