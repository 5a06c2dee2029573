// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: a drop-in vfio-pci driver.
 *
 * This file holds the device life cycle: PCI probe/remove, the vfio device
 * ops, open/close, the info ioctls, reset scopes (dev_set) and mmap.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/aperture.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pseudo_fs.h>
#include <linux/nospec.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uuid.h>
#include <linux/vgaarb.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

#define DRIVER_DESC	"VFIO PCI driver (vfio-pci-ng)"

static char ids[1024] __initdata;
module_param_string(ids, ids, sizeof(ids), 0);
MODULE_PARM_DESC(ids, "Initial PCI IDs to add to the vfio-pci driver, format is \"vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]\" and multiple comma separated entries can be specified");

static bool disable_vga;
module_param(disable_vga, bool, 0444);
MODULE_PARM_DESC(disable_vga, "Disable VGA resource access through vfio-pci");

static bool enable_sriov;
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Enable support for SR-IOV configuration.  Enabling SR-IOV on a PF typically requires support of the userspace PF driver, enabling VFs without such support may result in non-functional VFs or PF.");

static bool disable_denylist;
module_param(disable_denylist, bool, 0444);
MODULE_PARM_DESC(disable_denylist, "Disable use of device denylist. Disabling the denylist allows binding to devices with known errata that may lead to exploitable stability or security issues when accessed by untrusted users.");

/*
 * Devices known to be unsafe to hand to an untrusted user: their errata
 * let a user escape isolation or hang the host.
 */
static const struct pci_device_id vfio_pci_denylist[] = {
	{ PCI_VDEVICE(INTEL, 0x0435) },	/* QAT DH895XCC */
	{ PCI_VDEVICE(INTEL, 0x0443) },	/* QAT DH895XCC VF */
	{ PCI_VDEVICE(INTEL, 0x19e2) },	/* QAT C3XXX */
	{ PCI_VDEVICE(INTEL, 0x19e3) },	/* QAT C3XXX VF */
	{ PCI_VDEVICE(INTEL, 0x37c8) },	/* QAT C62X */
	{ PCI_VDEVICE(INTEL, 0x37c9) },	/* QAT C62X VF */
	{ PCI_VDEVICE(INTEL, 0x0b25) },	/* DSA (Sapphire Rapids) */
	{ PCI_VDEVICE(INTEL, 0x0cfe) },	/* IAX (Sapphire Rapids) */
	{ }
};

/*
 * Reset scopes.
 *
 * The vfio core groups devices that one slot or bus reset would hit into a
 * vfio_device_set, found by an opaque pointer in a table shared by every
 * vfio driver.  The in-tree vfio-pci-core keys it on pdev->slot/pdev->bus;
 * if we did the same, our devices and a vfio-pci-core variant driver's on
 * the same bus would share one set and each driver would walk the other's
 * structures as its own.  We key the set on an object of ours per slot or
 * bus instead: a bus shared with another driver then simply cannot be hot
 * reset as a whole, which is safe.
 */
struct vfio_pci_devset_key {
	struct list_head node;
	const void *scope;
	unsigned int users;
};

static LIST_HEAD(vfio_pci_devset_keys);
static DEFINE_MUTEX(vfio_pci_devset_keys_lock);

static struct vfio_pci_devset_key *vfio_pci_devset_key_get(const void *scope)
{
	struct vfio_pci_devset_key *key;

	mutex_lock(&vfio_pci_devset_keys_lock);
	list_for_each_entry(key, &vfio_pci_devset_keys, node) {
		if (key->scope == scope) {
			key->users++;
			goto out;
		}
	}
	key = kzalloc(sizeof(*key), GFP_KERNEL);
	if (key) {
		key->scope = scope;
		key->users = 1;
		list_add(&key->node, &vfio_pci_devset_keys);
	}
out:
	mutex_unlock(&vfio_pci_devset_keys_lock);
	return key;
}

static void vfio_pci_devset_key_put(struct vfio_pci_devset_key *key)
{
	mutex_lock(&vfio_pci_devset_keys_lock);
	if (!--key->users) {
		list_del(&key->node);
		kfree(key);
	}
	mutex_unlock(&vfio_pci_devset_keys_lock);
}

/* Does a slot reset cover this device, or must the whole bus go? */
static bool vfio_pci_use_slot_reset(struct pci_dev *pdev)
{
	return pdev->slot && !pci_probe_reset_slot(pdev->slot);
}

/*
 * Which devices a reset of this one would reset by slot or bus: 0 with
 * @slot set for a slot reset, 0 for a bus reset, -ENODEV for neither.
 */
static int vfio_pci_probe_hot_reset(struct pci_dev *pdev, bool *slot)
{
	*slot = vfio_pci_use_slot_reset(pdev);
	if (!*slot && pci_probe_reset_bus(pdev->bus))
		return -ENODEV;
	return 0;
}

/*
 * Which devices a reset of this one would also reset: its slot when the
 * slot can be reset on its own, otherwise its whole bus.  Functions on a
 * root bus and VFs are alone (NULL).
 */
static const void *vfio_pci_reset_scope(struct pci_dev *pdev)
{
	if (pci_is_root_bus(pdev->bus) || pdev->is_virtfn)
		return NULL;
	if (vfio_pci_use_slot_reset(pdev))
		return pdev->slot;
	return pdev->bus;
}

static int vfio_pci_assign_devset(struct vfio_pci_ng_device *vpdev)
{
	const void *scope = vfio_pci_reset_scope(vpdev->pdev);

	if (!scope)
		return 0;	/* the vfio core gives us a set of our own */

	vpdev->set_key = vfio_pci_devset_key_get(scope);
	if (!vpdev->set_key)
		return -ENOMEM;
	return vfio_assign_device_set(&vpdev->vdev, vpdev->set_key);
}

/**
 * __vfio_pci_command_update() - vfio_pci_command_update() with @irqlock held
 * @vpdev: the device
 * @clear: bits to clear
 * @set: bits to set, after @clear
 * @old: where to store the value before the update, or NULL
 *
 * Return: 0 or a negative errno.
 */
int __vfio_pci_command_update(struct vfio_pci_ng_device *vpdev, u16 clear,
			      u16 set, u16 *old)
{
	struct pci_dev *pdev = vpdev->pdev;
	u16 cmd, new;
	int ret;

	lockdep_assert_held(&vpdev->irqlock);
	ret = pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	if (ret)
		return pcibios_err_to_errno(ret);
	if (old)
		*old = cmd;
	new = (cmd & ~clear) | set;
	if (new == cmd)
		return 0;
	return pcibios_err_to_errno(pci_write_config_word(pdev, PCI_COMMAND,
							  new));
}

/**
 * vfio_pci_command_update() - read-modify-write of the hardware command
 *	register
 * @vpdev: the device
 * @clear: bits to clear
 * @set: bits to set, after @clear
 * @old: where to store the value before the update, or NULL
 *
 * The bits of PCI_COMMAND have different owners: decode (under the memory
 * lock), INTx-disable (INTx masking, also from the hard-IRQ handler) and
 * the rest (config writes).  Every read-modify-write of the register in
 * the hardware while the device is open runs under @irqlock, here or in
 * the INTx code, so that an update of one bit never writes back a stale
 * copy of another.  Config writes of the register also hold the write
 * side of the memory lock, like our resets, power transitions and MSI
 * enables, during which the PCI core writes the register itself (state
 * restore, pci_intx_for_msi()): a config write never interleaves with
 * those.  The INTx handler's mask can still meet the PCI core's restore of
 * the register after a reset, as in-tree.
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_command_update(struct vfio_pci_ng_device *vpdev, u16 clear,
			    u16 set, u16 *old)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&vpdev->irqlock, flags);
	ret = __vfio_pci_command_update(vpdev, clear, set, old);
	spin_unlock_irqrestore(&vpdev->irqlock, flags);
	return ret;
}

/*
 * Memory lock held for writing: turn memory decode on for a kernel access
 * and return what vfio_pci_decode_restore() needs.  On a failed read,
 * decode is left as it is and nothing will be restored.
 */
static u16 vfio_pci_decode_on(struct vfio_pci_ng_device *vpdev)
{
	u16 cmd;

	if (vfio_pci_command_update(vpdev, 0, PCI_COMMAND_MEMORY, &cmd))
		return PCI_COMMAND_MEMORY;
	return cmd;
}

/*
 * Undo vfio_pci_decode_on(): memory decode only; the other bits may have
 * changed in between (the PCI core sets INTx-disable when it enables MSI).
 */
static void vfio_pci_decode_restore(struct vfio_pci_ng_device *vpdev, u16 cmd)
{
	if (!(cmd & PCI_COMMAND_MEMORY))
		vfio_pci_command_update(vpdev, PCI_COMMAND_MEMORY, 0, NULL);
}

/**
 * vfio_pci_memory_lock_and_enable() - take the memory lock for a kernel
 *	access that needs memory decode, turning decode on if it is off
 * @vpdev: the device
 *
 * Return: the command register value to hand to
 * vfio_pci_memory_unlock_and_restore().
 */
u16 vfio_pci_memory_lock_and_enable(struct vfio_pci_ng_device *vpdev)
{
	down_write(&vpdev->memory_lock);
	return vfio_pci_decode_on(vpdev);
}

/**
 * vfio_pci_memory_unlock_and_restore() - undo vfio_pci_memory_lock_and_enable()
 * @vpdev: the device
 * @cmd: the value returned by vfio_pci_memory_lock_and_enable()
 *
 * Puts back memory decode only: the other bits may have changed in between
 * (the PCI core sets INTx-disable when it enables MSI) and stay as they are.
 */
void vfio_pci_memory_unlock_and_restore(struct vfio_pci_ng_device *vpdev,
					u16 cmd)
{
	vfio_pci_decode_restore(vpdev, cmd);
	up_write(&vpdev->memory_lock);
}

static int __vfio_pci_set_power_state(struct vfio_pci_ng_device *vpdev,
				      pci_power_t state);

/**
 * vfio_pci_memory_lock_and_wake() - vfio_pci_memory_lock_and_enable() for a
 *	kernel MMIO access that must happen, with the function in D0 for its
 *	duration
 * @vpdev: the device
 * @cmd: where to store the value for vfio_pci_memory_unlock_and_sleep()
 * @state: where to store the power state to put back
 *
 * An MSI-X table update (a vector added, replaced or freed) must reach the
 * table, but a function the user put in D1-D3hot through PMCSR answers
 * memory requests with Unsupported Request, which some platforms escalate
 * to a fatal error.  It is brought to D0 (its state restored if it has
 * No_Soft_Reset clear) for the access, and put back after.  User mappings
 * need no zap: they were zapped on the way down and the memory lock keeps
 * them from faulting in meanwhile.
 *
 * Return: 0, or the errno of a failed transition to D0 (the memory lock is
 * held either way; nothing will be put back).
 */
int vfio_pci_memory_lock_and_wake(struct vfio_pci_ng_device *vpdev, u16 *cmd,
				  pci_power_t *state)
{
	int ret = 0;

	down_write(&vpdev->memory_lock);
	*state = vpdev->pdev->current_state;
	if (*state != PCI_D0) {
		ret = __vfio_pci_set_power_state(vpdev, PCI_D0);
		if (ret)
			*state = PCI_D0;
	}
	*cmd = ret ? PCI_COMMAND_MEMORY : vfio_pci_decode_on(vpdev);
	return ret;
}

/**
 * vfio_pci_memory_unlock_and_sleep() - undo vfio_pci_memory_lock_and_wake()
 * @vpdev: the device
 * @cmd: the command value stored by vfio_pci_memory_lock_and_wake()
 * @state: the power state stored by vfio_pci_memory_lock_and_wake()
 */
void vfio_pci_memory_unlock_and_sleep(struct vfio_pci_ng_device *vpdev,
				      u16 cmd, pci_power_t state)
{
	vfio_pci_decode_restore(vpdev, cmd);
	if (state != PCI_D0)
		__vfio_pci_set_power_state(vpdev, state);
	up_write(&vpdev->memory_lock);
}

/*
 * User mappings of the BARs.
 *
 * Pages are never populated in ->mmap: the first access faults, and the
 * fault handler inserts the PFNs under the read side of the memory lock,
 * or raises SIGBUS while memory decode is off or the device is not in D0.
 * Whoever turns decode off, resets the device or changes its power state
 * zaps every mapping first (vfio_pci_zap_and_down_write_memory_lock()), so
 * the next access faults again and sees the new state.
 *
 * Zapping goes through an address space that holds every user mapping of
 * this device's BARs: unmap_mapping_range() on it is safe against
 * concurrent munmap/exit, which unlink the vma from it before freeing page
 * tables.  Where the vfio core gives each device fd a private inode, that
 * inode's mapping is the one.  Where it does not (the core's device fds
 * all share the anon inode), each mmap gets a small file of ours over a
 * private per-device inode, swapped into the vma by vma_set_file(); that
 * file holds a reference to the device fd, so the device stays open while
 * a mapping exists, exactly as with the device fd itself.
 */
#ifndef VFIO_PCI_HAVE_VFIO_DEVICE_INODE
static struct vfsmount *vfio_pci_mnt;

static int vfio_pci_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, 0x76666e67) ? 0 : -ENOMEM;	/* "vfng" */
}

/*
 * No .owner: the module mounts this itself for its whole lifetime, and a
 * module reference held by the mount would keep it from ever unloading.
 */
static struct file_system_type vfio_pci_fs_type = {
	.name		= "vfio-pci-ng",
	.init_fs_context = vfio_pci_fs_init_fs_context,
	.kill_sb	= kill_anon_super,
};

static int vfio_pci_map_file_release(struct inode *inode, struct file *file)
{
	fput(file->private_data);	/* the device fd */
	return 0;
}

static const struct file_operations vfio_pci_map_file_fops = {
	.owner		= THIS_MODULE,
	.release	= vfio_pci_map_file_release,
};

static int vfio_pci_mapping_init(struct vfio_pci_ng_device *vpdev)
{
	vpdev->map_inode = alloc_anon_inode(vfio_pci_mnt->mnt_sb);
	if (IS_ERR(vpdev->map_inode)) {
		int ret = PTR_ERR(vpdev->map_inode);

		vpdev->map_inode = NULL;
		return ret;
	}
	return 0;
}

static void vfio_pci_mapping_exit(struct vfio_pci_ng_device *vpdev)
{
	iput(vpdev->map_inode);
}

static struct address_space *vfio_pci_mapping(struct vfio_pci_ng_device *vpdev)
{
	return vpdev->map_inode->i_mapping;
}

static int vfio_pci_mapping_attach(struct vfio_pci_ng_device *vpdev,
				   struct vm_area_struct *vma)
{
	struct file *file;

	ihold(vpdev->map_inode);
	__module_get(THIS_MODULE);	/* dropped by __fput() for our fops */
	file = alloc_file_pseudo(vpdev->map_inode, vfio_pci_mnt, "vfio-pci-bar",
				 O_RDWR, &vfio_pci_map_file_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(vpdev->map_inode);
		return PTR_ERR(file);
	}
	file->private_data = get_file(vma->vm_file);
	vma_set_file(vma, file);
	fput(file);	/* the vma holds its own reference now */
	return 0;
}

static int __init vfio_pci_mapping_fs_init(void)
{
	vfio_pci_mnt = kern_mount(&vfio_pci_fs_type);
	return PTR_ERR_OR_ZERO(vfio_pci_mnt);
}

static void vfio_pci_mapping_fs_exit(void)
{
	kern_unmount(vfio_pci_mnt);
}
#else
static int vfio_pci_mapping_init(struct vfio_pci_ng_device *vpdev)
{
	return 0;
}

static void vfio_pci_mapping_exit(struct vfio_pci_ng_device *vpdev)
{
}

static struct address_space *vfio_pci_mapping(struct vfio_pci_ng_device *vpdev)
{
	return vpdev->vdev.inode->i_mapping;
}

static int vfio_pci_mapping_attach(struct vfio_pci_ng_device *vpdev,
				   struct vm_area_struct *vma)
{
	return 0;	/* the device fd's f_mapping is already per device */
}

static int __init vfio_pci_mapping_fs_init(void)
{
	return 0;
}

static void vfio_pci_mapping_fs_exit(void)
{
}
#endif

static void vfio_pci_zap_bars(struct vfio_pci_ng_device *vpdev)
{
	lockdep_assert_held_write(&vpdev->memory_lock);
	vfio_pci_trace_zap(vpdev);
	unmap_mapping_range(vfio_pci_mapping(vpdev), 0,
			    VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_ROM_REGION_INDEX),
			    true);
}

/**
 * vfio_pci_zap_and_down_write_memory_lock() - take the memory lock for
 *	write after removing every user mapping of the BARs
 * @vpdev: the device
 *
 * Used before memory decode goes off, the power state leaves D0 or the
 * device is reset; faults wait on the lock and find the new state.
 */
void vfio_pci_zap_and_down_write_memory_lock(struct vfio_pci_ng_device *vpdev)
{
	down_write(&vpdev->memory_lock);
	vfio_pci_zap_bars(vpdev);
}

/* The PFN backing user address @addr of a BAR mapping. */
static unsigned long vfio_pci_vma_pfn(struct vfio_pci_ng_device *vpdev,
				      struct vm_area_struct *vma,
				      unsigned long addr)
{
	unsigned int bar = vma->vm_pgoff >>
			   (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	unsigned long bar_pgoff = vma->vm_pgoff &
				  (VFIO_PCI_OFFSET_MASK >> PAGE_SHIFT);

	return (pci_resource_start(vpdev->pdev, bar) >> PAGE_SHIFT) +
	       bar_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

#ifdef VFIO_PCI_POPULATE_WHOLE_VMA
/*
 * Whole-vma population (kernels without huge PFN mappings: 6.1, and the
 * debug 6.12, built without THP).
 *
 * The first fault in a vma writes every missing PTE of it in one walk of
 * the page tables, with apply_to_page_range(): the special PTEs that
 * remap_pfn_range() would write, with the vma's protection.  The first is
 * built once; each next one is the last advanced by one PFN, which makes
 * the walk cheaper per page than remap_pfn_range()'s.  Page by page,
 * each insert walks the tables again and, on x86, looks up the PAT memtype
 * of its page (17x slower for 1 GiB); userspace maps a BAR to use it.
 *
 * Not remap_pfn_range() itself: over a whole vma it reserves the memtype
 * and marks the vma VM_PAT, and then fork (track_pfn_copy()) and munmap
 * (untrack_pfn()) must find the first PTE mapped, which our zap, taken
 * without the mmap lock, may have just removed (they WARN); and it must
 * never meet a present PTE.  Without VM_PAT there is nothing to balance:
 * the memtype of the BAR is the one our own ioremap of it reserved at
 * mmap (vfio_pci_bar_iomap()), which the protection set there matches, as
 * a lookup would find.  Present PTEs (a concurrent population, a copy
 * made by fork) are left alone, under the page table lock the walk holds,
 * so populations need no serialization of their own.
 *
 * The memory lock is held for read throughout, so the zap, which takes it
 * for write, either precedes a population (which then sees decode off and
 * raises SIGBUS) or removes all that it mapped.
 */
struct vfio_pci_populate {
	struct mm_struct *mm;
	pte_t pte;		/* the next PTE: they come in PFN order */
};

static int vfio_pci_populate_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct vfio_pci_populate *pop = data;
	pte_t pte = pop->pte;

	pop->pte = vfio_pci_compat_pte_next_pfn(pte);
	if (pte_none(ptep_get(ptep)))
		set_pte_at(pop->mm, addr, ptep, pte);
	return 0;
}

static bool vfio_pci_mmap_populate(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_populate pop = {
		.mm = vma->vm_mm,
		.pte = pte_mkspecial(pfn_pte(vfio_pci_vma_pfn(vma->vm_private_data,
							     vma, vma->vm_start),
					     vma->vm_page_prot)),
	};

	/*
	 * Under Xen PV before 6.8, and when page table allocation fails, the
	 * fault goes page by page.
	 */
	if (!vfio_pci_compat_pte_step_ok())
		return false;
	return !apply_to_page_range(vma->vm_mm, vma->vm_start,
				    vma->vm_end - vma->vm_start,
				    vfio_pci_populate_pte, &pop);
}
#else
static bool vfio_pci_mmap_populate(struct vm_fault *vmf)
{
	return false;
}
#endif

/*
 * Fault in a BAR mapping with entries of PAGE_SIZE << @order bytes.
 *
 * Huge orders (PMD, PUD; where the kernel maps PFNs with them) map the
 * naturally aligned block around the address when it lies inside the vma
 * and its PFNs are aligned too, else fall back to the next smaller order.
 * Order 0 maps the whole vma where faults populate whole vmas (above), else
 * the whole PMD-sized block around the address, clipped to the vma: that
 * block could not be mapped huge, and a BAR is mapped to be used, so one
 * fault per block is much cheaper than one per page while the time spent
 * in one fault stays bounded.  Pages already present are kept.
 */
static vm_fault_t vfio_pci_mmap_huge_fault(struct vm_fault *vmf,
					   unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_ng_device *vpdev = vma->vm_private_data;
	unsigned long size = PAGE_SIZE << (order ? order : VFIO_PCI_FAULT_ORDER);
	unsigned long start = ALIGN_DOWN(vmf->address, size);
	unsigned long end = start + size;
	unsigned long pfn, addr;
	vm_fault_t ret;

	if (order) {
		pfn = vfio_pci_vma_pfn(vpdev, vma, start);
		if (start < vma->vm_start || end > vma->vm_end ||
		    !IS_ALIGNED(pfn, 1UL << order))
			return VM_FAULT_FALLBACK;
	}

	down_read(&vpdev->memory_lock);
	if (vfio_pci_revoked(vpdev) || vpdev->pm_runtime_engaged ||
	    !vfio_pci_memory_enabled(vpdev)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	if (order) {
		ret = vfio_pci_compat_insert_pfn_huge(vmf, pfn, order);
		goto out;
	}
	if (vfio_pci_mmap_populate(vmf)) {
		ret = VM_FAULT_NOPAGE;
		goto out;
	}

	addr = vmf->address & PAGE_MASK;
	ret = vmf_insert_pfn(vma, addr, vfio_pci_vma_pfn(vpdev, vma, addr));
	if (ret != VM_FAULT_NOPAGE)
		goto out;
	for (addr = max(start, vma->vm_start); addr < min(end, vma->vm_end);
	     addr += PAGE_SIZE) {
		if (addr == (vmf->address & PAGE_MASK))
			continue;
		if (vmf_insert_pfn(vma, addr, vfio_pci_vma_pfn(vpdev, vma, addr)) !=
		    VM_FAULT_NOPAGE)
			break;
	}
out:
	vfio_pci_trace_fault(vmf, order, start, end, ret);
	up_read(&vpdev->memory_lock);
	return ret;
}

static vm_fault_t vfio_pci_mmap_fault(struct vm_fault *vmf)
{
	return vfio_pci_mmap_huge_fault(vmf, 0);
}

static const struct vm_operations_struct vfio_pci_mmap_ops = {
	.fault = vfio_pci_mmap_fault,
#ifdef VFIO_PCI_HAVE_HUGE_PFNMAP
	.huge_fault = vfio_pci_mmap_huge_fault,
#endif
};

static int vfio_pci_mmap(struct vfio_device *core_vdev,
			 struct vm_area_struct *vma)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	unsigned long index, pgoff, req_len, bar_len;
	void __iomem *io;

	/* A mapping made anyway faults with SIGBUS: the fault checks again. */
	if (vfio_pci_revoked(vpdev))
		return -ENODEV;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	if (index >= VFIO_PCI_NUM_BARS)
		return -EINVAL;
	index = array_index_nospec(index, VFIO_PCI_NUM_BARS);
	if (!vpdev->bar_mmap_ok[index])
		return -EINVAL;

	/* Sub-page BARs are mapped as a whole page; we own the rest of it. */
	bar_len = PAGE_ALIGN(pci_resource_len(vpdev->pdev, index));
	pgoff = vma->vm_pgoff & (VFIO_PCI_OFFSET_MASK >> PAGE_SHIFT);
	req_len = vma->vm_end - vma->vm_start;
	if (pgoff >= bar_len >> PAGE_SHIFT ||
	    req_len > bar_len - (pgoff << PAGE_SHIFT))
		return -EINVAL;

	/* Claim the BAR for us, as read/write would. */
	io = vfio_pci_bar_iomap(vpdev, index);
	if (IS_ERR(io))
		return PTR_ERR(io);

	vma->vm_private_data = vpdev;
	vma->vm_page_prot = pgprot_decrypted(pgprot_noncached(vma->vm_page_prot));
	vfio_pci_compat_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND |
				     VM_DONTDUMP);
	vma->vm_ops = &vfio_pci_mmap_ops;
	return vfio_pci_mapping_attach(vpdev, vma);
}

/*
 * Power management.
 *
 * An unused device sleeps (runtime PM: D3hot, or D3cold where the platform
 * allows) unless its idle_d3 policy is off (default: !disable_idle_d3);
 * open wakes it.
 * An open device sleeps only when userspace asks for it with the
 * LOW_POWER_ENTRY features; its mappings then fault with SIGBUS.
 */

/*
 * Change the power state with the memory lock held for write.  A device
 * without No_Soft_Reset loses its config state in D3hot: save it on the
 * way down and bring it back on the way up.
 */
static int __vfio_pci_set_power_state(struct vfio_pci_ng_device *vpdev,
				      pci_power_t state)
{
	struct pci_dev *pdev = vpdev->pdev;
	bool soft_reset = false, down, up, have_cmd = false;
	u16 pmcsr, cmd;
	int ret;

	lockdep_assert_held_write(&vpdev->memory_lock);

	/* A PF must stay in D0 while it has VFs. */
	if (vpdev->sriov_active && state != PCI_D0)
		return -EBUSY;

	/* An unreadable PMCSR: assume the state is lost in D3hot. */
	if (pdev->pm_cap)
		soft_reset = pci_read_config_word(pdev,
						  pdev->pm_cap + PCI_PM_CTRL,
						  &pmcsr) ||
			     !(pmcsr & PCI_PM_CTRL_NO_SOFT_RESET);
	down = (__force int)state >= (__force int)PCI_D3hot &&
	       (__force int)pdev->current_state < (__force int)PCI_D3hot;
	up = state == PCI_D0 &&
	     (__force int)pdev->current_state >= (__force int)PCI_D3hot;

	if (soft_reset && down) {
		kfree(vpdev->pm_save);
		pci_save_state(pdev);
		vpdev->pm_save = pci_store_saved_state(pdev);
		/* Without a copy, the state would be lost in D3hot. */
		if (!vpdev->pm_save)
			return -ENOMEM;
	}

	/*
	 * The user may have written the command register while in D3hot
	 * (config space works there): that value, not the one saved on the
	 * way down, is what the function must decode with back in D0, or it
	 * would come back with memory decode off while the virtual register
	 * (and so the access checks) says on.  The in-tree driver restores
	 * the old one.
	 */
	if (up && vpdev->pm_save)
		have_cmd = !pci_read_config_word(pdev, PCI_COMMAND, &cmd);

	ret = vfio_pci_debug_set_power(vpdev, state);

	if (!ret && up && vpdev->pm_save) {
		pci_load_and_free_saved_state(pdev, &vpdev->pm_save);
		pci_restore_state(pdev);
		if (have_cmd)
			vfio_pci_command_update(vpdev, U16_MAX, cmd, NULL);
	}
	return ret;
}

/**
 * vfio_pci_set_power_state_locked() - vfio_pci_set_power_state() with the
 *	memory lock held for writing and the mappings zapped
 * @vpdev: the device
 * @state: the new state (PCI_D0 .. PCI_D3hot)
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_set_power_state_locked(struct vfio_pci_ng_device *vpdev,
				    pci_power_t state)
{
	return __vfio_pci_set_power_state(vpdev, state);
}

/**
 * vfio_pci_set_power_state() - change the power state on behalf of userspace
 * @vpdev: the device
 * @state: the new state (PCI_D0 .. PCI_D3hot)
 *
 * Mappings are zapped first: they fault again, or SIGBUS, in the new state.
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_set_power_state(struct vfio_pci_ng_device *vpdev,
			     pci_power_t state)
{
	int ret;

	vfio_pci_zap_and_down_write_memory_lock(vpdev);
	ret = __vfio_pci_set_power_state(vpdev, state);
	up_write(&vpdev->memory_lock);
	return ret;
}

/* Leave a low power state entered by the feature; memory lock held. */
static void __vfio_pci_low_power_exit(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->pm_runtime_engaged)
		return;
	vpdev->pm_runtime_engaged = false;
	/* Take back the reference the entry gave up. */
	pm_runtime_get_noresume(&vpdev->pdev->dev);
	if (vpdev->pm_wake_trigger) {
		eventfd_ctx_put(vpdev->pm_wake_trigger);
		vpdev->pm_wake_trigger = NULL;
	}
}

static void vfio_pci_low_power_exit(struct vfio_pci_ng_device *vpdev)
{
	down_write(&vpdev->memory_lock);
	__vfio_pci_low_power_exit(vpdev);
	up_write(&vpdev->memory_lock);
}

static int vfio_pci_low_power_entry(struct vfio_pci_ng_device *vpdev,
				    struct eventfd_ctx *wake)
{
	vfio_pci_zap_and_down_write_memory_lock(vpdev);
	if (vfio_pci_revoked(vpdev) || vpdev->pm_runtime_engaged) {
		up_write(&vpdev->memory_lock);
		return vfio_pci_revoked(vpdev) ? -ENODEV : -EINVAL;
	}
	vpdev->pm_runtime_engaged = true;
	vpdev->pm_wake_trigger = wake;
	/*
	 * Give up the reference open took: the device suspends once the vfio
	 * core drops the one it holds around this ioctl.
	 */
	pm_runtime_put_noidle(&vpdev->pdev->dev);
	up_write(&vpdev->memory_lock);
	return 0;
}

static int vfio_pci_feature_low_power(struct vfio_pci_ng_device *vpdev,
				      u32 feature, u32 flags,
				      void __user *arg, size_t argsz)
{
	struct vfio_device_low_power_entry_with_wakeup entry;
	struct eventfd_ctx *wake;
	size_t minsz = 0;
	int ret;

	if (feature == VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP)
		minsz = sizeof(entry);
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, minsz);
	if (ret != 1)
		return ret;

	switch (feature) {
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY:
		return vfio_pci_low_power_entry(vpdev, NULL);
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP:
		if (copy_from_user(&entry, arg, sizeof(entry)))
			return -EFAULT;
		if (entry.wakeup_eventfd < 0)
			return -EINVAL;
		wake = eventfd_ctx_fdget(entry.wakeup_eventfd);
		if (IS_ERR(wake))
			return PTR_ERR(wake);
		ret = vfio_pci_low_power_entry(vpdev, wake);
		if (ret)
			eventfd_ctx_put(wake);
		return ret;
	default:	/* VFIO_DEVICE_FEATURE_LOW_POWER_EXIT */
		vfio_pci_low_power_exit(vpdev);
		return 0;
	}
}

static int vfio_pci_runtime_suspend(struct device *dev)
{
	struct vfio_pci_ng_device *vpdev = dev_get_drvdata(dev);

	/*
	 * Let the PCI core take the device down from D0, so that a device
	 * the user put in D3hot through its PM capability is saved and
	 * restored like any other.  A failure is the PCI core's to log; its
	 * suspend then starts from the state the device is in.
	 */
	down_write(&vpdev->memory_lock);
	__vfio_pci_set_power_state(vpdev, PCI_D0);
	up_write(&vpdev->memory_lock);

	/*
	 * No INTx from a sleeping device: mask INTx in use, unless the user
	 * did.  Without INTx in use, DisINTx stays as the user left it.
	 */
	vfio_pci_intx_pm_mask(vpdev);
	return 0;
}

static int vfio_pci_runtime_resume(struct device *dev)
{
	struct vfio_pci_ng_device *vpdev = dev_get_drvdata(dev);

	/* Any wakeup ends a low power state entered with a wake eventfd. */
	down_write(&vpdev->memory_lock);
	if (vpdev->pm_wake_trigger) {
		vfio_pci_compat_eventfd_signal(vpdev->pm_wake_trigger);
		__vfio_pci_low_power_exit(vpdev);
	}
	up_write(&vpdev->memory_lock);

	vfio_pci_health_resume(vpdev);
	vfio_pci_intx_pm_unmask(vpdev);
	return 0;
}

static const struct dev_pm_ops vfio_pci_pm_ops = {
	SET_RUNTIME_PM_OPS(vfio_pci_runtime_suspend, vfio_pci_runtime_resume,
			   NULL)
};

/* At probe: allow runtime PM and, unless told not to, let the device sleep. */
static void vfio_pci_pm_init(struct vfio_pci_ng_device *vpdev)
{
	struct device *dev = &vpdev->pdev->dev;

	pm_runtime_allow(dev);
	if (vpdev->policy.idle_d3)
		pm_runtime_put(dev);
}

/*
 * At remove: undo vfio_pci_pm_init() and any later change of idle_d3
 * (vfio_pci_policy.c keeps the reference in step with the policy); leaves
 * the device awake.
 */
static void vfio_pci_pm_exit(struct vfio_pci_ng_device *vpdev)
{
	struct device *dev = &vpdev->pdev->dev;

	if (vpdev->policy.idle_d3)
		pm_runtime_get_noresume(dev);
	pm_runtime_forbid(dev);
}

/*
 * Hot reset: a slot or bus reset of every function the reset reaches.
 *
 * Those functions must all be members of this device's dev_set (reset
 * scope), hence bound to us, and the user proves ownership of each with a
 * group fd.
 */
struct vfio_pci_reset_walk {
	struct pci_dev *pdev;
	bool slot;
	int (*fn)(struct pci_dev *pdev, struct vfio_pci_reset_walk *walk);
	struct vfio_device_set *dev_set;
	struct vfio_pci_dependent_device *devices;
	struct iommufd_ctx *ictx;
	bool all_owned;
	unsigned int count;
	unsigned int max;
	int ret;
};

static int vfio_pci_reset_walk_one(struct pci_dev *pdev, void *data)
{
	struct vfio_pci_reset_walk *walk = data;

	if (walk->slot) {
		/* Keep the functions of the slot and what hangs below them. */
		struct pci_dev *top = pdev;

		while (top && top->bus != walk->pdev->bus)
			top = pci_upstream_bridge(top);
		if (!top || top->slot != walk->pdev->slot)
			return 0;
	}
	walk->ret = walk->fn(pdev, walk);
	return walk->ret;
}

/*
 * Call walk->fn for every function a reset of walk->pdev's slot or bus
 * reaches: the functions of the slot or bus and everything below them.
 * Stops at, and returns, the first non-zero result.
 */
static int vfio_pci_reset_walk(struct vfio_pci_reset_walk *walk)
{
	walk->ret = 0;
	pci_walk_bus(walk->pdev->bus, vfio_pci_reset_walk_one, walk);
	return walk->ret;
}

static int vfio_pci_walk_count(struct pci_dev *pdev,
			       struct vfio_pci_reset_walk *walk)
{
	walk->count++;
	return 0;
}

static unsigned int vfio_pci_reset_count(struct pci_dev *pdev, bool slot)
{
	struct vfio_pci_reset_walk walk = {
		.pdev = pdev, .slot = slot, .fn = vfio_pci_walk_count,
	};

	vfio_pci_reset_walk(&walk);
	return walk.count;
}

/* The member of @dev_set driving @pdev, or NULL. */
static struct vfio_device *vfio_pci_devset_find(struct vfio_device_set *dev_set,
						struct pci_dev *pdev)
{
	struct vfio_device *cur;

	lockdep_assert_held(&dev_set->lock);
	list_for_each_entry(cur, &dev_set->device_list, dev_set_list)
		if (cur->dev == &pdev->dev)
			return cur;
	return NULL;
}

static int vfio_pci_walk_in_set(struct pci_dev *pdev,
				struct vfio_pci_reset_walk *walk)
{
	return vfio_pci_devset_find(walk->dev_set, pdev) ? 0 : -EINVAL;
}

/*
 * Can the dev_set be reset as a whole?  Only if every function the reset
 * reaches is a member: never reset a device somebody else drives.
 */
static bool vfio_pci_devset_resettable(struct vfio_device_set *dev_set,
				       struct pci_dev *pdev, bool slot)
{
	struct vfio_pci_reset_walk walk = {
		.pdev = pdev, .slot = slot, .fn = vfio_pci_walk_in_set,
		.dev_set = dev_set,
	};

	lockdep_assert_held(&dev_set->lock);
	return !vfio_pci_reset_walk(&walk);
}

static int vfio_pci_walk_fill(struct pci_dev *pdev,
			      struct vfio_pci_reset_walk *walk)
{
	struct vfio_pci_dependent_device *dep;
	struct iommu_group *group;

	if (walk->count >= walk->max)
		return -EAGAIN;	/* a device appeared since we counted */

	group = iommu_group_get(&pdev->dev);
	if (!group)
		return -EPERM;	/* not isolated: nobody can own it */

	dep = &walk->devices[walk->count++];
	dep->group_id = iommu_group_id(group);
	if (walk->ictx) {
		/* Opened through the cdev: report devids instead. */
		struct vfio_device *vdev = vfio_pci_devset_find(walk->dev_set, pdev);
		int id = vdev ? vfio_pci_compat_iommufd_dev_id(vdev, walk->ictx) :
				VFIO_PCI_DEVID_NOT_OWNED;

		if (id == VFIO_PCI_DEVID_NOT_OWNED)
			walk->all_owned = false;
		dep->group_id = id;
	}
	dep->segment = pci_domain_nr(pdev->bus);
	dep->bus = pdev->bus->number;
	dep->devfn = pdev->devfn;
	iommu_group_put(group);
	return 0;
}

static noinline_for_stack long
vfio_pci_ioctl_get_hot_reset_info(struct vfio_pci_ng_device *vpdev,
				  struct vfio_pci_hot_reset_info __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_pci_hot_reset_info, count);
	struct vfio_pci_reset_walk walk = {
		.pdev = vpdev->pdev, .dev_set = vpdev->vdev.dev_set,
		.all_owned = true,
	};
	struct vfio_pci_hot_reset_info hdr;
	unsigned int count;
	int ret;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz)
		return -EINVAL;
	hdr.flags = 0;

	if (vfio_pci_probe_hot_reset(vpdev->pdev, &walk.slot))
		return -ENODEV;

	count = vfio_pci_reset_count(vpdev->pdev, walk.slot);
	if (hdr.argsz < sizeof(hdr) + count * sizeof(*walk.devices)) {
		/* Tell the user how many entries to make room for. */
		hdr.count = count;
		return copy_to_user(uarg, &hdr, minsz) ? -EFAULT : -ENOSPC;
	}

	walk.devices = kcalloc(count, sizeof(*walk.devices), GFP_KERNEL);
	if (!walk.devices)
		return -ENOMEM;
	walk.max = count;
	walk.fn = vfio_pci_walk_fill;
	if (vfio_pci_compat_cdev_opened(&vpdev->vdev))
		walk.ictx = vfio_pci_compat_iommufd_ictx(&vpdev->vdev);
	mutex_lock(&walk.dev_set->lock);
	ret = vfio_pci_reset_walk(&walk);
	mutex_unlock(&walk.dev_set->lock);
	if (walk.ictx) {
		hdr.flags = VFIO_PCI_HOT_RESET_FLAG_DEV_ID;
		if (walk.all_owned)
			hdr.flags |= VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
	}
	if (!ret) {
		hdr.count = walk.count;
		if (copy_to_user(uarg->devices, walk.devices,
				 walk.count * sizeof(*walk.devices)) ||
		    copy_to_user(uarg, &hdr, minsz))
			ret = -EFAULT;
	}
	kfree(walk.devices);
	return ret;
}

/*
 * Does the user own every member of the dev_set: through one of the group
 * fds given, or, for a device opened through its cdev (@ictx), through the
 * iommufd context the device is bound to?
 */
static bool vfio_pci_devset_owned(struct vfio_device_set *dev_set,
				  struct file **files, unsigned int nfiles,
				  struct iommufd_ctx *ictx)
{
	struct vfio_device *cur;
	unsigned int i;

	list_for_each_entry(cur, &dev_set->device_list, dev_set_list) {
		if (ictx) {
			if (vfio_pci_compat_iommufd_dev_id(cur, ictx) ==
			    VFIO_PCI_DEVID_NOT_OWNED)
				return false;
			continue;
		}
		for (i = 0; i < nfiles; i++)
			if (vfio_file_has_dev(files[i], cur))
				break;
		if (i == nfiles)
			return false;
	}
	return true;
}

/*
 * Wake every member of the dev_set for a bus reset: an idle one may be
 * runtime-suspended, and the PCI core saves and restores config state
 * around the reset.  On failure nothing stays taken.
 */
static int vfio_pci_devset_pm_get(struct vfio_device_set *dev_set)
{
	struct vfio_device *it, *undo;
	int ret;

	list_for_each_entry(it, &dev_set->device_list, dev_set_list) {
		ret = pm_runtime_resume_and_get(it->dev);
		if (ret)
			goto unwind;
	}
	return 0;

unwind:
	list_for_each_entry(undo, &dev_set->device_list, dev_set_list) {
		if (undo == it)
			break;
		pm_runtime_put(undo->dev);
	}
	return ret;
}

static void vfio_pci_devset_pm_put(struct vfio_device_set *dev_set)
{
	struct vfio_device *it;

	list_for_each_entry(it, &dev_set->device_list, dev_set_list)
		pm_runtime_put(it->dev);
}

/*
 * Reset the dev_set with the caller's proof of ownership.  Every member's
 * memory lock is taken for write and its mappings zapped; the locks are
 * only tried, since another thread may hold one while it waits for the
 * dev_set lock we hold: contention fails the reset with -EBUSY.
 */
static int vfio_pci_devset_hot_reset(struct vfio_pci_ng_device *vpdev,
				     bool slot, struct file **files,
				     unsigned int nfiles,
				     struct iommufd_ctx *ictx)
{
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;
	struct vfio_device *it, *failed = NULL;
	int ret = 0;

	mutex_lock(&dev_set->lock);
	if (vpdev->revoked) {
		ret = -ENODEV;
		goto out;
	}
	if (!vfio_pci_devset_resettable(dev_set, vpdev->pdev, slot) ||
	    !vfio_pci_devset_owned(dev_set, files, nfiles, ictx)) {
		ret = -EINVAL;
		goto out;
	}
	ret = vfio_pci_devset_pm_get(dev_set);
	if (ret)
		goto out;

	list_for_each_entry(it, &dev_set->device_list, dev_set_list) {
		if (!down_write_trylock(&to_vpdev(it)->memory_lock)) {
			failed = it;
			ret = -EBUSY;
			break;
		}
		vfio_pci_zap_bars(to_vpdev(it));
	}

	if (!ret) {
		list_for_each_entry(it, &dev_set->device_list, dev_set_list)
			__vfio_pci_set_power_state(to_vpdev(it), PCI_D0);
		ret = vfio_pci_debug_reset(vpdev, VFIO_PCI_RESET_HOT, pci_reset_bus);
		/* A member that does not come back fails the reset. */
		list_for_each_entry(it, &dev_set->device_list, dev_set_list)
			if (!vfio_pci_health_check(to_vpdev(it), VFIO_PCI_RESET_HOT))
				ret = ret ?: -EIO;
	}

	/* Unlock the members locked above, up to the one that failed. */
	list_for_each_entry(it, &dev_set->device_list, dev_set_list) {
		if (it == failed)
			break;
		up_write(&to_vpdev(it)->memory_lock);
	}
	vfio_pci_devset_pm_put(dev_set);
out:
	mutex_unlock(&dev_set->lock);
	return ret;
}

static noinline_for_stack long
vfio_pci_ioctl_hot_reset(struct vfio_pci_ng_device *vpdev,
			 struct vfio_pci_hot_reset __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_pci_hot_reset, count);
	struct vfio_pci_hot_reset hdr;
	struct file **files;
	unsigned int i;
	s32 *fds;
	bool slot;
	int ret;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz || hdr.flags)
		return -EINVAL;

	if (vfio_pci_probe_hot_reset(vpdev->pdev, &slot))
		return -ENODEV;

	/*
	 * Opened through the cdev: ownership comes from the iommufd context,
	 * and no fd may be given.  Otherwise at least one group fd, never more
	 * than there are devices.
	 */
	if (vfio_pci_compat_cdev_opened(&vpdev->vdev)) {
		if (hdr.count)
			return -EINVAL;
		return vfio_pci_devset_hot_reset(vpdev, slot, NULL, 0,
				vfio_pci_compat_iommufd_ictx(&vpdev->vdev));
	}
	if (!hdr.count || hdr.count > vfio_pci_reset_count(vpdev->pdev, slot))
		return -EINVAL;
	if (hdr.argsz - minsz < hdr.count * sizeof(*fds))
		return -EINVAL;

	fds = memdup_user(uarg->group_fds, hdr.count * sizeof(*fds));
	if (IS_ERR(fds))
		return PTR_ERR(fds);
	files = kcalloc(hdr.count, sizeof(*files), GFP_KERNEL);
	if (!files) {
		kfree(fds);
		return -ENOMEM;
	}

	for (i = 0; i < hdr.count; i++) {
		files[i] = fget(fds[i]);
		if (!files[i]) {
			ret = -EBADF;
			goto out;
		}
		if (!vfio_file_is_group(files[i])) {
			ret = -EINVAL;
			goto out;
		}
	}

	ret = vfio_pci_devset_hot_reset(vpdev, slot, files, hdr.count, NULL);
out:
	for (i = 0; i < hdr.count && files[i]; i++)
		fput(files[i]);
	kfree(files);
	kfree(fds);
	return ret;
}

/*
 * At the last close of a dev_set member: if members could not be reset on
 * their own and none is open any more, reset the whole set by slot or bus.
 * Called with the dev_set lock held, the closing device still counted.
 */
/**
 * vfio_pci_devset_reset_alone() - bus or slot reset of a dev_set not in use
 * @vpdev: a member being opened or closed by the caller
 * @scope: VFIO_PCI_RESET_* for the reset history
 *
 * Only when every function the reset reaches is a member and no member
 * other than @vpdev is open.  Called with the dev_set lock held.
 *
 * Return: 0, or -ENOTTY without a bus or slot reset, -EBUSY while another
 * member is open, -EPERM when the reset would reach a device not ours, or
 * the PCI core's errno.
 */
int vfio_pci_devset_reset_alone(struct vfio_pci_ng_device *vpdev,
				unsigned int scope)
{
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;
	struct pci_dev *pdev = vpdev->pdev;
	struct vfio_device *it;
	bool slot;
	int ret;

	lockdep_assert_held(&dev_set->lock);
	if (!vpdev->set_key || vfio_pci_probe_hot_reset(pdev, &slot))
		return -ENOTTY;
	if (vfio_device_set_open_count(dev_set) > 1)
		return -EBUSY;
	if (!vfio_pci_devset_resettable(dev_set, pdev, slot))
		return -EPERM;
	ret = vfio_pci_devset_pm_get(dev_set);
	if (ret)
		return ret;
	ret = vfio_pci_debug_reset(vpdev, scope, pci_reset_bus);
	list_for_each_entry(it, &dev_set->device_list, dev_set_list) {
		if (!ret)
			to_vpdev(it)->needs_reset = false;
		vfio_pci_health_check(to_vpdev(it), scope);
	}
	vfio_pci_devset_pm_put(dev_set);
	return ret;
}

/* At the last close of the set: the bus reset a close could not do. */
static void vfio_pci_devset_try_reset(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;
	struct vfio_device *it;
	bool needed = false;

	if (!vpdev->set_key)
		return;
	list_for_each_entry(it, &dev_set->device_list, dev_set_list)
		needed |= to_vpdev(it)->needs_reset;
	if (needed)
		vfio_pci_devset_reset_alone(vpdev, VFIO_PCI_RESET_CLOSE_BUS);
}

/*
 * SR-IOV.
 *
 * A PF bound to us may create VFs (sriov_numvfs) when enable_sriov is set;
 * new VFs are captured for vfio-pci through driver_override.  The user of
 * the PF, who controls the VFs' behaviour, and the users of its VFs share
 * a secret, the VF token: a VF of our PF opens only with the right token,
 * and the PF needs it too while any of its VFs is open.
 */

/**
 * struct vfio_pci_vf_token - the secret shared by a PF and its VFs' users
 * @lock: protects @uuid and @users.
 * @uuid: the token, random at probe, set by the PF's user.
 * @users: VFs of the PF open through vfio-pci.
 */
struct vfio_pci_vf_token {
	struct mutex lock;	/* see above */
	uuid_t uuid;
	int users;
};

static int vfio_pci_vf_token_alloc(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->pdev->is_physfn)
		return 0;
	vpdev->vf_token = kzalloc(sizeof(*vpdev->vf_token), GFP_KERNEL);
	if (!vpdev->vf_token)
		return -ENOMEM;
	mutex_init(&vpdev->vf_token->lock);
	uuid_gen(&vpdev->vf_token->uuid);
	return 0;
}

static void vfio_pci_vf_token_free(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->vf_token)
		return;
	if (vpdev->vf_token->users)
		pci_warn(vpdev->pdev, "PF released with %d VF users\n",
			 vpdev->vf_token->users);
	mutex_destroy(&vpdev->vf_token->lock);
	kfree(vpdev->vf_token);
	vpdev->vf_token = NULL;
}

/* VF open/close: count users of the PF's token. */
static void vfio_pci_vf_token_use(struct vfio_pci_ng_device *vpdev, int delta)
{
	struct vfio_pci_vf_token *token;

	if (!vpdev->sriov_pf)
		return;
	token = vpdev->sriov_pf->vf_token;
	mutex_lock(&token->lock);
	token->users += delta;
	mutex_unlock(&token->lock);
}

/*
 * Check the token given at open (@uuid, or NULL for none) against the
 * rules above.  The PF's user sets the token by giving one while no VF is
 * open.
 */
static int vfio_pci_check_vf_token(struct vfio_pci_ng_device *vpdev,
				   const uuid_t *uuid)
{
	struct pci_dev *pdev = vpdev->pdev;
	struct vfio_pci_vf_token *token;
	int ret = 0;

	if (pdev->is_virtfn) {
		if (!vpdev->sriov_pf) {
			if (!uuid)
				return 0;	/* the PF is not ours: no token */
			pci_info_ratelimited(pdev, "VF token given but the PF is not bound to vfio-pci\n");
			return -EINVAL;
		}
		token = vpdev->sriov_pf->vf_token;
		if (!uuid) {
			pci_info_ratelimited(pdev, "VF token required to access device\n");
			return -EACCES;
		}
		mutex_lock(&token->lock);
		if (!uuid_equal(uuid, &token->uuid)) {
			pci_info_ratelimited(pdev, "Incorrect VF token provided for device\n");
			ret = -EACCES;
		}
		mutex_unlock(&token->lock);
		return ret;
	}

	token = vpdev->vf_token;
	if (!token) {
		if (!uuid)
			return 0;
		pci_info_ratelimited(pdev, "VF token given but the device is neither a PF nor a VF\n");
		return -EINVAL;
	}

	mutex_lock(&token->lock);
	if (token->users) {
		if (!uuid) {
			pci_info_ratelimited(pdev, "VF token required to access device\n");
			ret = -EACCES;
		} else if (!uuid_equal(uuid, &token->uuid)) {
			pci_info_ratelimited(pdev, "Incorrect VF token provided for device\n");
			ret = -EACCES;
		}
	} else if (uuid) {
		uuid_copy(&token->uuid, uuid);
	}
	mutex_unlock(&token->lock);
	return ret;
}

#define VF_TOKEN_OPT	"vf_token="

/*
 * The device name userspace gives to VFIO_GROUP_GET_DEVICE_FD: our PCI
 * name, optionally followed by " vf_token=<uuid>".
 *
 * Return: 1 for a match, 0 for another device, or a negative errno.
 */
static int vfio_pci_match(struct vfio_device *core_vdev, char *buf)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	const char *name = pci_name(vpdev->pdev);
	size_t len = strlen(name);
	uuid_t uuid, *token = NULL;
	char *opt;
	int ret;

	if (strncmp(buf, name, len) || (buf[len] && buf[len] != ' '))
		return 0;

	buf += len;
	while ((opt = strsep(&buf, " "))) {
		if (!*opt)
			continue;
		if (token || strncmp(opt, VF_TOKEN_OPT, strlen(VF_TOKEN_OPT)))
			return -EINVAL;	/* unknown or repeated option */
		opt += strlen(VF_TOKEN_OPT);
		if (strlen(opt) != UUID_STRING_LEN || uuid_parse(opt, &uuid))
			return -EINVAL;
		token = &uuid;
	}

	ret = vfio_pci_check_vf_token(vpdev, token);
	return ret ? ret : 1;
}

static int vfio_pci_feature_vf_token(struct vfio_pci_ng_device *vpdev,
				     u32 flags, void __user *arg, size_t argsz)
{
	uuid_t uuid;
	int ret;

	if (!vpdev->vf_token)
		return -ENOTTY;
	/* No GET: it would show the previous user's secret. */
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET,
				 sizeof(uuid));
	if (ret != 1)
		return ret;
	if (copy_from_user(&uuid, arg, sizeof(uuid)))
		return -EFAULT;

	mutex_lock(&vpdev->vf_token->lock);
	uuid_copy(&vpdev->vf_token->uuid, &uuid);
	mutex_unlock(&vpdev->vf_token->lock);
	return 0;
}

static void vfio_pci_sriov_disable(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->sriov_active)
		return;
	/* Waits, signalling their users, until every VF is released. */
	pci_disable_sriov(vpdev->pdev);
	vpdev->sriov_active = false;
	pm_runtime_put(&vpdev->pdev->dev);
}

static int vfio_pci_sriov_configure(struct pci_dev *pdev, int nr_virtfn)
{
	struct vfio_pci_ng_device *vpdev = dev_get_drvdata(&pdev->dev);
	int ret;

	if (!enable_sriov)
		return -ENOENT;

	if (!nr_virtfn) {
		vfio_pci_sriov_disable(vpdev);
		return 0;
	}

	/* The PF stays awake and in D0 while it has VFs. */
	ret = pm_runtime_resume_and_get(&pdev->dev);
	if (ret)
		return ret;
	down_write(&vpdev->memory_lock);
	ret = __vfio_pci_set_power_state(vpdev, PCI_D0);
	if (!ret)
		vpdev->sriov_active = true;
	up_write(&vpdev->memory_lock);
	if (ret) {
		pm_runtime_put(&pdev->dev);
		return ret;
	}

	ret = pci_enable_sriov(pdev, nr_virtfn);
	if (ret) {
		vpdev->sriov_active = false;
		pm_runtime_put(&pdev->dev);
		return ret;
	}
	return nr_virtfn;
}

static struct pci_driver vfio_pci_driver;

/* VFs of a PF of ours are captured for us; others are none of our business. */
static int vfio_pci_bus_notifier(struct notifier_block *nb,
				 unsigned long action, void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);
	struct pci_dev *physfn = pci_physfn(pdev);
	struct pci_driver *drv;

	if (!pdev->is_virtfn || pci_dev_driver(physfn) != &vfio_pci_driver)
		return NOTIFY_DONE;

	if (action == BUS_NOTIFY_ADD_DEVICE) {
		if (vfio_pci_compat_set_driver_override(pdev, vfio_pci_driver.name))
			pci_warn(pdev, "could not capture VF for %s\n",
				 vfio_pci_driver.name);
		else
			pci_info(pdev, "Captured SR-IOV VF %s driver_override\n",
				 pci_name(pdev));
	} else if (action == BUS_NOTIFY_BOUND_DRIVER) {
		drv = pci_dev_driver(pdev);
		if (drv && drv != &vfio_pci_driver)
			pci_warn(physfn, "VF %s bound to driver %s while PF bound to vfio-pci\n",
				 pci_name(pdev), drv->name);
	}
	return NOTIFY_OK;
}

static struct notifier_block vfio_pci_nb = {
	.notifier_call = vfio_pci_bus_notifier,
};

/*
 * Where the MSI-X table is, read at every open (a VF's table may change
 * size with its PF's configuration).  A failed read fails the open: an
 * unknown table could not be protected from the user.
 */
static int vfio_pci_read_msix_location(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	u16 flags;
	u32 table;
	int ret;

	vpdev->msix_bar = -1;
	if (!pdev->msix_cap)
		return 0;

	ret = pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS,
				   &flags);
	if (!ret)
		ret = pci_read_config_dword(pdev, pdev->msix_cap + PCI_MSIX_TABLE,
					    &table);
	if (ret)
		return pcibios_err_to_errno(ret);
	vpdev->msix_bar = table & PCI_MSIX_TABLE_BIR;
	vpdev->msix_offset = table & PCI_MSIX_TABLE_OFFSET;
	vpdev->msix_size = ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) *
			   PCI_MSIX_ENTRY_SIZE;
	return 0;
}

/*
 * Open and close.  The vfio core calls these for the first open and the
 * last close of the device, under the dev_set lock.
 */

/*
 * Nobody handles the function's INTx until the next open, which clears the
 * bit again (beyond mainline): an interrupt the user left pending, on a
 * function without a reset, must not stay asserted on a line that the
 * handlers of other devices share.
 */
static void vfio_pci_intx_mask_closed(struct vfio_pci_ng_device *vpdev)
{
	if (vfio_pci_intx_park(vpdev))
		vpdev->intx_closed_masked = true;
}

static int vfio_pci_enable(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	int ret;

	ret = pm_runtime_resume_and_get(&pdev->dev);
	if (ret)
		return ret;

	vfio_pci_policy_open(vpdev);
	ret = pci_enable_device(pdev);
	if (ret)
		goto err_pm;

	/*
	 * No DMA before the new owner enables it: a previous owner may have
	 * left bus master on, and the state saved below must not have it.
	 */
	pci_clear_master(pdev);

	ret = vfio_pci_read_msix_location(vpdev);
	if (ret)
		goto err_disable;

	/*
	 * Start from a clean device, unless the policy trusts it as it is
	 * (reset_on_open=0).  -EAGAIN means somebody holds the device lock
	 * (an unbind in progress): refuse the open rather than hand out a
	 * device in an unknown state.
	 */
	if (vpdev->policy.reset_on_open) {
		ret = vfio_pci_debug_reset(vpdev, VFIO_PCI_RESET_OPEN,
					   pci_try_reset_function);
		if (ret == -EAGAIN)
			goto err_disable;
		vpdev->reset_works = !ret;
	} else {
		vpdev->reset_works = vfio_pci_policy_reset_probe(vpdev);
	}
	ret = vfio_pci_health_recover(vpdev, VFIO_PCI_RESET_OPEN);
	if (ret)
		goto err_disable;

	/*
	 * Mask INTx with DisINTx only where the device really supports it.  A
	 * device whose INTx is known broken keeps DisINTx set: INTx is hidden.
	 */
	vpdev->pci_2_3 = !vpdev->policy.nointxmask && !vpdev->broken_intx &&
			 pci_intx_mask_supported(pdev);
	vpdev->virq_disabled = false;
	ret = 0;
	if (vpdev->broken_intx)
		ret = vfio_pci_command_update(vpdev, 0,
					      PCI_COMMAND_INTX_DISABLE, NULL);
	else if (vpdev->pci_2_3 || vpdev->intx_closed_masked)
		/*
		 * A previous owner's INTx-disable, or the one of our close:
		 * the new owner starts clean.
		 */
		ret = vfio_pci_command_update(vpdev, PCI_COMMAND_INTX_DISABLE,
					      0, NULL);
	if (ret)
		goto err_disable;
	vpdev->intx_closed_masked = false;

	pci_save_state(pdev);
	vpdev->saved_state = pci_store_saved_state(pdev);
	if (!vpdev->saved_state)
		pci_dbg(pdev, "could not save the config state\n");

	ret = vfio_pci_config_init(vpdev);
	if (ret)
		goto err_free_state;

	vfio_pci_probe_mmaps(vpdev);
	vfio_pci_vf_token_use(vpdev, 1);
	/* The virtual register shows DisINTx clear; the function is parked. */
	vfio_pci_intx_park(vpdev);
	return 0;

err_free_state:
	kfree(vpdev->saved_state);
	vpdev->saved_state = NULL;
err_disable:
	vfio_pci_intx_mask_closed(vpdev);
	pci_disable_device(pdev);
err_pm:
	pm_runtime_put(&pdev->dev);
	return ret;
}

static void vfio_pci_reset_at_close(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	struct pci_dev *bridge = pci_upstream_bridge(pdev);

	vpdev->needs_reset = true;
	if (!vpdev->reset_works)
		return;

	/*
	 * An unbind holds the device lock while it waits for us to close, so
	 * only try the locks; a device we cannot reset now is reset at the
	 * next open.  The upstream bridge is locked first, as the PCI core
	 * does for a function reset.
	 */
	if (bridge && !pci_dev_trylock(bridge))
		return;
	if (pci_dev_trylock(pdev)) {
		if (!vfio_pci_debug_reset(vpdev, VFIO_PCI_RESET_CLOSE,
					  __pci_reset_function_locked))
			vpdev->needs_reset = false;
		pci_dev_unlock(pdev);
	}
	if (bridge)
		pci_dev_unlock(bridge);
}

/**
 * vfio_pci_wake_for_teardown() - bring an open device back to D0 before
 *	its interrupts and DMA are torn down
 * @vpdev: the device, open (dev_set lock held: close, revoke)
 *
 * The user may have left the device in a low power state, through the
 * feature or the PM capability: the teardown and a reset want it in D0.
 */
void vfio_pci_wake_for_teardown(struct vfio_pci_ng_device *vpdev)
{
	vfio_pci_low_power_exit(vpdev);
	pm_runtime_resume(&vpdev->pdev->dev);
	vfio_pci_set_power_state(vpdev, PCI_D0);
}

static void vfio_pci_disable(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;

	vfio_pci_wake_for_teardown(vpdev);

	/*
	 * Stop interrupts and DMA before anything else (again after a revoke,
	 * which did the same and left the device enabled: the disable below
	 * balances open's enable either way).
	 */
	vfio_pci_irqs_teardown(vpdev);
	pci_clear_master(pdev);

	vfio_pci_ioeventfd_remove_all(vpdev);
	vfio_pci_bar_iounmap_all(vpdev);
	vfio_pci_release_mmap_reservations(vpdev);
	vfio_pci_config_exit(vpdev);

	/* Bring back the config state the device had when it was opened. */
	if (vpdev->saved_state &&
	    pci_load_and_free_saved_state(pdev, &vpdev->saved_state))
		pci_info(pdev, "could not reload the saved config state\n");
	vpdev->saved_state = NULL;

	/* Decode off and INTx masked until the reset and restore below. */
	pci_write_config_word(pdev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);

	vfio_pci_reset_at_close(vpdev);
	pci_restore_state(pdev);
	vfio_pci_health_recover(vpdev, VFIO_PCI_RESET_CLOSE);

	vfio_pci_intx_mask_closed(vpdev);
	pci_disable_device(pdev);
	kfree(vpdev->pm_save);
	vpdev->pm_save = NULL;
	pm_runtime_put(&pdev->dev);
}

static int vfio_pci_open_device(struct vfio_device *core_vdev)
{
	int ret;

	vfio_pci_revoke_open(to_vpdev(core_vdev));
	ret = vfio_pci_enable(to_vpdev(core_vdev));

	vfio_pci_debug_open(to_vpdev(core_vdev), ret);
	return ret;
}

static void vfio_pci_close_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);

	vfio_pci_debug_close(vpdev);
	vfio_pci_revoke_close(vpdev);
	vfio_pci_vf_token_use(vpdev, -1);
	vfio_pci_disable(vpdev);
	vfio_pci_devset_try_reset(vpdev);
}

/*
 * Info ioctls.
 */
/*
 * Which AtomicOp widths the device can have completed by the root port: the
 * widths its function (the PF for a VF) completes itself, for which every
 * bridge on the way up routes AtomicOps and the root port completes them.
 * As in-tree, the check enables AtomicOp requests on that function.
 */
static int vfio_pci_add_atomic_cap(struct vfio_pci_ng_device *vpdev,
				   struct vfio_info_cap *caps)
{
	static const struct {
		u32 devcap2;
		u32 flag;
	} widths[] = {
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP32, VFIO_PCI_ATOMIC_COMP32 },
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP64, VFIO_PCI_ATOMIC_COMP64 },
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP128, VFIO_PCI_ATOMIC_COMP128 },
	};
	struct vfio_device_info_cap_pci_atomic_comp cap = {
		.header.id = VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP,
		.header.version = 1,
	};
	struct pci_dev *pdev = pci_physfn(vpdev->pdev);
	u32 devcap2 = 0;
	int i;

	if (pcie_capability_read_dword(pdev, PCI_EXP_DEVCAP2, &devcap2))
		return 0;
	for (i = 0; i < ARRAY_SIZE(widths); i++)
		if ((devcap2 & widths[i].devcap2) &&
		    !pci_enable_atomic_ops_to_root(pdev, widths[i].devcap2))
			cap.flags |= widths[i].flag;
	if (!cap.flags)
		return 0;
	return vfio_info_add_capability(caps, &cap.header, sizeof(cap));
}

/*
 * The capability chain goes after the 8-byte aligned end of the struct as
 * the newest uAPI defines it (24 bytes, with its pad), as in-tree since
 * 6.5; 6.1's struct ends at 20, and the gap is zeroed.  Too small an
 * argsz gets the size needed.
 */
static int vfio_pci_copy_info_caps(struct vfio_device_info __user *uarg,
				   struct vfio_info_cap *caps, u32 *argsz,
				   u32 *cap_offset)
{
	size_t start = ALIGN(offsetofend(struct vfio_device_info, cap_offset),
			     8);
	void __user *base = uarg;

	if (*argsz < start + caps->size) {
		*argsz = start + caps->size;
		return 0;
	}
	vfio_info_cap_shift(caps, start);
	if (start > sizeof(*uarg) &&
	    clear_user(base + sizeof(*uarg), start - sizeof(*uarg)))
		return -EFAULT;
	if (copy_to_user(base + start, caps->buf, caps->size))
		return -EFAULT;
	*cap_offset = start;
	return 0;
}

static noinline_for_stack long
vfio_pci_ioctl_get_info(struct vfio_pci_ng_device *vpdev,
			struct vfio_device_info __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info = { };
	struct vfio_info_cap caps = { };
	u32 argsz;
	int ret;

	if (get_user(argsz, &uarg->argsz))
		return -EFAULT;
	if (argsz < minsz)
		return -EINVAL;

	info.argsz = argsz;
	info.flags = VFIO_DEVICE_FLAGS_PCI;
	if (vpdev->reset_works)
		info.flags |= VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;

	ret = vfio_pci_add_atomic_cap(vpdev, &caps);
	if (ret)
		return ret;
	if (caps.size) {
		info.flags |= VFIO_DEVICE_FLAGS_CAPS;
		ret = vfio_pci_copy_info_caps(uarg, &caps, &info.argsz,
					      &info.cap_offset);
		kfree(caps.buf);
		if (ret)
			return ret;
	}

	return copy_to_user(uarg, &info, min_t(size_t, argsz, sizeof(info))) ?
		-EFAULT : 0;
}

static int vfio_pci_add_msix_mappable_cap(struct vfio_info_cap *caps)
{
	struct vfio_info_cap_header header = {
		.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
		.version = 1,
	};

	return vfio_info_add_capability(caps, &header, sizeof(header));
}

static int vfio_pci_rom_region_info(struct vfio_pci_ng_device *vpdev,
				    struct vfio_region_info *info)
{
	struct pci_dev *pdev = vpdev->pdev;
	void __iomem *rom;
	size_t image_size;
	pci_power_t state;
	u64 size;
	u16 cmd;

	/* The region has the size of the ROM BAR, not of the image in it. */
	size = pci_resource_len(pdev, PCI_ROM_RESOURCE);
	info->size = 0;
	if (!size) {
		/* A shadow ROM copied to RAM by the firmware has no BAR. */
		if (!(pdev->resource[PCI_ROM_RESOURCE].flags &
		      IORESOURCE_ROM_SHADOW))
			return 0;
		size = 0x20000;
	}

	/*
	 * A ROM BAR the PCI core could not place has no address: no ROM, and
	 * no pci_map_rom(), which would try to place it (and log) on every
	 * call.  The in-tree driver tries, and fails the same way.
	 */
	if (!pdev->resource[PCI_ROM_RESOURCE].start &&
	    !(pdev->resource[PCI_ROM_RESOURCE].flags & IORESOURCE_ROM_SHADOW))
		return 0;

	/*
	 * Only report a ROM that really answers; mapping it needs decode, and
	 * D0 (the user may have put the function in D3hot through PMCSR).
	 */
	if (!vfio_pci_memory_lock_and_wake(vpdev, &cmd, &state)) {
		rom = pci_map_rom(pdev, &image_size);
		if (rom) {
			info->flags = VFIO_REGION_INFO_FLAG_READ;
			info->size = size;
			pci_unmap_rom(pdev, rom);
		}
	}
	vfio_pci_memory_unlock_and_sleep(vpdev, cmd, state);
	return 0;
}

/*
 * Offset, size, flags and capability chain of region @info->index.  A vfio
 * core with the get_region_info_caps op (7.3 has it) handles
 * VFIO_DEVICE_GET_REGION_INFO itself (the user copies, the chain's
 * placement) and never passes it to our ioctl; before, our ioctl does that.
 */
static int vfio_pci_get_region_info_caps(struct vfio_device *core_vdev,
					 struct vfio_region_info *info,
					 struct vfio_info_cap *caps)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	struct pci_dev *pdev = vpdev->pdev;
	unsigned int index;
	int ret = 0;

	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	index = array_index_nospec(info->index, VFIO_PCI_NUM_REGIONS);

	info->offset = VFIO_PCI_INDEX_TO_OFFSET(index);
	info->size = 0;
	info->flags = 0;
	info->cap_offset = 0;

	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		info->size = pci_resource_len(pdev, index);
		if (!info->size)
			break;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
		if (vpdev->bar_mmap_ok[index]) {
			info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
			if (index == vpdev->msix_bar)
				ret = vfio_pci_add_msix_mappable_cap(caps);
		}
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		ret = vfio_pci_rom_region_info(vpdev, info);
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = pdev->cfg_size;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_VGA_REGION_INDEX:
		if (!vpdev->has_vga)
			return -EINVAL;
		info->size = VFIO_PCI_VGA_REGION_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
		break;
	}
	return ret;
}

static noinline_for_stack long
vfio_pci_ioctl_get_region_info(struct vfio_pci_ng_device *vpdev,
			       struct vfio_region_info __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_info_cap caps = { };
	struct vfio_region_info info;
	int ret;

	if (copy_from_user(&info, uarg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	ret = vfio_pci_get_region_info_caps(&vpdev->vdev, &info, &caps);
	if (ret)
		goto out;

	if (caps.size) {
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			/* Tell the user how much room the chain needs. */
			info.argsz = sizeof(info) + caps.size;
		} else {
			vfio_info_cap_shift(&caps, sizeof(info));
			if (copy_to_user(uarg + 1, caps.buf, caps.size)) {
				ret = -EFAULT;
				goto out;
			}
			info.cap_offset = sizeof(info);
		}
	}

	if (copy_to_user(uarg, &info, minsz))
		ret = -EFAULT;
out:
	kfree(caps.buf);
	return ret;
}

static noinline_for_stack long
vfio_pci_ioctl_reset(struct vfio_pci_ng_device *vpdev)
{
	int ret;

	if (!vpdev->reset_works)
		return -EINVAL;

	/*
	 * Mappings go first: the BARs are unusable during the reset, and the
	 * next access faults in again once it is over.  A device in a low
	 * power state is brought back to D0, as a reset expects.
	 */
	vfio_pci_zap_and_down_write_memory_lock(vpdev);
	if (vfio_pci_revoked(vpdev)) {
		up_write(&vpdev->memory_lock);
		return -ENODEV;
	}
	__vfio_pci_set_power_state(vpdev, PCI_D0);
	ret = vfio_pci_debug_reset(vpdev, VFIO_PCI_RESET_IOCTL, pci_try_reset_function);
	if (ret != -EAGAIN &&
	    !vfio_pci_health_check(vpdev, VFIO_PCI_RESET_IOCTL))
		ret = -EIO;
	up_write(&vpdev->memory_lock);
	return ret;
}

/*
 * The ioctls that fill a buffer or take a reset are out of line
 * (noinline_for_stack): inlined here, their locals would give SET_IRQS and
 * IOEVENTFD, the ones a VM issues while it runs, a large stack frame.
 */
static long vfio_pci_ioctl_dispatch(struct vfio_device *core_vdev,
				    unsigned int cmd, unsigned long arg)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	void __user *uarg = (void __user *)arg;

	if (vfio_pci_revoked(vpdev))
		return -ENODEV;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vfio_pci_ioctl_get_info(vpdev, uarg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return vfio_pci_ioctl_get_region_info(vpdev, uarg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return vfio_pci_ioctl_get_irq_info(vpdev, uarg);
	case VFIO_DEVICE_RESET:
		return vfio_pci_ioctl_reset(vpdev);
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return vfio_pci_ioctl_get_hot_reset_info(vpdev, uarg);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return vfio_pci_ioctl_hot_reset(vpdev, uarg);
	case VFIO_DEVICE_SET_IRQS:
		return vfio_pci_ioctl_set_irqs(vpdev, uarg);
	case VFIO_DEVICE_IOEVENTFD:
		return vfio_pci_ioctl_ioeventfd(vpdev, uarg);
	default:
		return -ENOTTY;
	}
}

/* Out of line, so that the untraced path needs no stack frame. */
static noinline long vfio_pci_ioctl_traced(struct vfio_device *core_vdev,
					   unsigned int cmd, unsigned long arg)
{
	u64 start = ktime_get_ns();
	long ret = vfio_pci_ioctl_dispatch(core_vdev, cmd, arg);

	__vfio_pci_trace_ioctl(to_vpdev(core_vdev), cmd, arg, ret, start);
	return ret;
}

static long vfio_pci_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
			   unsigned long arg)
{
	/* Without the ioctl event, each handler is a tail call from here. */
	if (trace_vfio_pci_ioctl_enabled())
		return vfio_pci_ioctl_traced(core_vdev, cmd, arg);
	return vfio_pci_ioctl_dispatch(core_vdev, cmd, arg);
}

/*
 * Which BARs can be mapped.  Memory BARs of at least a page
 * can.  A smaller one can only if it starts a page and we own the rest of
 * that page, so that no other device's registers ever land in the user's
 * mapping: we reserve the remainder with a dummy resource until close.
 */
struct vfio_pci_dummy_resource {
	struct resource res;
	struct list_head node;
};

static bool vfio_pci_reserve_subpage(struct vfio_pci_ng_device *vpdev,
				     struct resource *bar)
{
	struct vfio_pci_dummy_resource *dummy;

	if (bar->start & ~PAGE_MASK)
		return false;

	dummy = kzalloc(sizeof(*dummy), GFP_KERNEL);
	if (!dummy)
		return false;
	dummy->res.name = "vfio sub-page reserved";
	dummy->res.start = bar->start + resource_size(bar);
	dummy->res.end = bar->start + PAGE_SIZE - 1;
	dummy->res.flags = bar->flags;
	if (request_resource(bar->parent, &dummy->res)) {
		kfree(dummy);
		return false;
	}
	list_add(&dummy->node, &vpdev->dummy_resources);
	return true;
}

/**
 * vfio_pci_probe_mmaps() - decide, at open, which BARs userspace may mmap
 * @vpdev: the device
 */
void vfio_pci_probe_mmaps(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	int bar;

	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++) {
		struct resource *res = pci_resource_n(pdev, bar);

		vpdev->bar_mmap_ok[bar] = false;
		if (!(res->flags & IORESOURCE_MEM) || !resource_size(res))
			continue;
		if (resource_size(res) >= PAGE_SIZE)
			vpdev->bar_mmap_ok[bar] = true;
		else
			vpdev->bar_mmap_ok[bar] =
				vfio_pci_reserve_subpage(vpdev, res);
	}
}

/**
 * vfio_pci_release_mmap_reservations() - give back the sub-page reservations
 * @vpdev: the device
 */
void vfio_pci_release_mmap_reservations(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_dummy_resource *dummy, *tmp;

	list_for_each_entry_safe(dummy, tmp, &vpdev->dummy_resources, node) {
		release_resource(&dummy->res);
		list_del(&dummy->node);
		kfree(dummy);
	}
}

/*
 * Device allocation and release.
 */
/*
 * Devices whose INTx cannot be used: they advertise a pin but their
 * interrupt is broken.  Their INTx is hidden from the user and kept
 * disabled (in-tree: vfio_pci_nointx()), unless nointxmask asks for the
 * exclusive-line mode for every device.
 */
static const struct pci_device_id vfio_pci_broken_intx_ids[] = {
	/* Intel XL710/X710/XXV710 (i40e) 10/20/25/40 GbE */
	{ PCI_VDEVICE(INTEL, 0x1572) },
	{ PCI_VDEVICE(INTEL, 0x1574) },
	{ PCI_VDEVICE(INTEL, 0x1580) },
	{ PCI_VDEVICE(INTEL, 0x1581) },
	{ PCI_VDEVICE(INTEL, 0x1583) },
	{ PCI_VDEVICE(INTEL, 0x1584) },
	{ PCI_VDEVICE(INTEL, 0x1585) },
	{ PCI_VDEVICE(INTEL, 0x1586) },
	{ PCI_VDEVICE(INTEL, 0x1587) },
	{ PCI_VDEVICE(INTEL, 0x1588) },
	{ PCI_VDEVICE(INTEL, 0x1589) },
	{ PCI_VDEVICE(INTEL, 0x158a) },
	{ PCI_VDEVICE(INTEL, 0x158b) },
	{ PCI_VDEVICE(INTEL, 0x37d0) },
	{ PCI_VDEVICE(INTEL, 0x37d1) },
	{ PCI_VDEVICE(INTEL, 0x37d2) },
	/* Intel X550 10 GbE */
	{ PCI_VDEVICE(INTEL, 0x1563) },
	{ }
};

/* Whether the device is on the list; INTx is masked unless nointxmask. */
static bool vfio_pci_intx_broken(struct vfio_pci_ng_device *vpdev)
{
	if (!pci_match_id(vfio_pci_broken_intx_ids, vpdev->pdev))
		return false;
	if (!vpdev->policy.nointxmask)
		pci_info(vpdev->pdev, "Masking broken INTx support\n");
	return true;
}

static int vfio_pci_init_dev(struct vfio_device *core_vdev)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	struct pci_dev *pdev = to_pci_dev(core_vdev->dev);
	int ret;

	vpdev->pdev = pdev;
	vfio_pci_policy_init(vpdev);
	vfio_pci_health_init(vpdev);
	vfio_pci_revoke_init(vpdev);
	vpdev->irq_type = VFIO_PCI_NUM_IRQS;
	init_rwsem(&vpdev->memory_lock);
	mutex_init(&vpdev->igate);
	spin_lock_init(&vpdev->irqlock);
	mutex_init(&vpdev->barmap_lock);
	mutex_init(&vpdev->ioeventfds_lock);
	INIT_LIST_HEAD(&vpdev->ioeventfds);
	INIT_LIST_HEAD(&vpdev->dummy_resources);
	vpdev->pcie = pci_is_pcie(pdev);
	/* broken_intx and nointx follow nointxmask: set at each open. */
	vpdev->broken_intx_quirk = vfio_pci_intx_broken(vpdev);
	vpdev->msix_bar = -1;	/* read at open */
	vfio_pci_debug_init(vpdev);
	ret = vfio_pci_mapping_init(vpdev);
	if (ret)	/* the core does not call release after a failed init */
		vfio_pci_health_exit(vpdev);
	return ret;
}

static void vfio_pci_release_dev(struct vfio_device *core_vdev)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);

	/* The core has already taken us out of the dev_set. */
	if (vpdev->set_key)
		vfio_pci_devset_key_put(vpdev->set_key);
	vfio_pci_vf_token_free(vpdev);
	vfio_pci_health_exit(vpdev);
	vfio_pci_mapping_exit(vpdev);
	mutex_destroy(&vpdev->ioeventfds_lock);
	mutex_destroy(&vpdev->barmap_lock);
	mutex_destroy(&vpdev->igate);
	vfio_pci_compat_free_device(core_vdev);
}

static int vfio_pci_feature_dispatch(struct vfio_device *core_vdev, u32 flags,
				     void __user *arg, size_t argsz)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	u32 feature = flags & VFIO_DEVICE_FEATURE_MASK;

	switch (feature) {
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY:
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP:
	case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT:
		return vfio_pci_feature_low_power(vpdev, feature, flags, arg,
						  argsz);
	case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN:
		return vfio_pci_feature_vf_token(vpdev, flags, arg, argsz);
	default:
		return -ENOTTY;
	}
}

static int vfio_pci_device_feature(struct vfio_device *core_vdev, u32 flags,
				   void __user *arg, size_t argsz)
{
	u64 start = vfio_pci_trace_ioctl_start();
	int ret = -ENODEV;

	if (!vfio_pci_revoked(to_vpdev(core_vdev)))
		ret = vfio_pci_feature_dispatch(core_vdev, flags, arg, argsz);

	vfio_pci_trace_feature(to_vpdev(core_vdev), flags, argsz, ret, start);
	return ret;
}

/*
 * An unbind or hot-unplug waits in vfio_unregister_group_dev() until the
 * user closes the device, calling this every few seconds meanwhile.  The
 * first call arms the revoke (vfio_pci_revoke.c) when the policy has a
 * timeout.
 */
static void vfio_pci_request(struct vfio_device *core_vdev, unsigned int count)
{
	struct vfio_pci_ng_device *vpdev = to_vpdev(core_vdev);
	struct pci_dev *pdev = vpdev->pdev;
	bool signalled = vfio_pci_signal_req(vpdev, count);

	if (signalled) {
		if (!(count % 10))
			pci_notice_ratelimited(pdev, "Relaying device request to user (#%u)\n",
					       count);
	} else if (!count) {
		pci_warn(pdev, "No device request channel registered, blocked until released by user\n");
	}
	vfio_pci_revoke_request(vpdev);
}

static const struct vfio_device_ops vfio_pci_ops = {
	.name		= "vfio-pci",
	.init		= vfio_pci_init_dev,
	.release	= vfio_pci_release_dev,
	.open_device	= vfio_pci_open_device,
	.close_device	= vfio_pci_close_device,
	.ioctl		= vfio_pci_ioctl,
	.read		= vfio_pci_read,
	.write		= vfio_pci_write,
	.mmap		= vfio_pci_mmap,
	.request	= vfio_pci_request,
	.device_feature	= vfio_pci_device_feature,
	.match		= vfio_pci_match,
	VFIO_PCI_COMPAT_REGION_INFO_OPS
	VFIO_PCI_COMPAT_IOMMUFD_OPS
};

/*
 * VGA arbiter client.  A VGA-class function may also decode the legacy VGA
 * ranges (0xa0000-0xbffff, ports 0x3b0-0x3bb and 0x3c0-0x3df), which the
 * arbiter routes to one device at a time.  The user reaches them through
 * the VGA region (vfio_pci_rdwr.c), which takes the arbiter's lock around
 * each access.
 */
static bool vfio_pci_is_vga(struct pci_dev *pdev)
{
	return (pdev->class >> 8) == PCI_CLASS_DISPLAY_VGA;
}

/*
 * Which resources @pdev decodes, for the arbiter; @single_vga says it is
 * the only VGA device in the system.  With disable_vga the user never
 * reaches the legacy ranges through us, so the device can stop claiming
 * them, but only when the bridge above it can stop routing them to it: not
 * on a root bus, and not when another VGA device below the same bridge
 * needs that routing anyway.
 */
static unsigned int vfio_pci_vga_decodes(struct pci_dev *pdev, bool single_vga)
{
	const unsigned int legacy = VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM;
	const unsigned int normal = VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM;
	struct pci_dev *other = NULL;
	unsigned char last_bus;

	if (!disable_vga || single_vga || pci_is_root_bus(pdev->bus))
		return normal | legacy;

	last_bus = pci_bus_max_busnr(pdev->bus);
	while ((other = pci_get_class(PCI_CLASS_DISPLAY_VGA << 8, other))) {
		unsigned char bus = other->bus->number;

		if (other == pdev || pci_is_root_bus(other->bus) ||
		    pci_domain_nr(other->bus) != pci_domain_nr(pdev->bus))
			continue;
		if (bus >= pdev->bus->number && bus <= last_bus) {
			pci_dev_put(other);
			return normal | legacy;
		}
	}
	return normal;
}

/**
 * vfio_pci_vga_init() - register a VGA-class device with the VGA arbiter
 * @vpdev: the device, being probed
 *
 * Firmware framebuffers and the VGA console on the device are removed
 * first: from now on the device belongs to the user.  Other devices are
 * left alone.
 *
 * Return: 0 or a negative errno.
 */
static int vfio_pci_vga_init(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	int ret;

	if (!vfio_pci_is_vga(pdev))
		return 0;
	ret = aperture_remove_conflicting_pci_devices(pdev, vfio_pci_ops.name);
	if (ret)
		return ret;
	ret = vga_client_register(pdev, vfio_pci_vga_decodes);
	if (ret)
		return ret;
	vga_set_legacy_decoding(pdev, vfio_pci_vga_decodes(pdev, false));
	vpdev->has_vga = !disable_vga;
	return 0;
}

/* Undo vfio_pci_vga_init(): the device decodes everything again. */
static void vfio_pci_vga_exit(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;

	if (!vfio_pci_is_vga(pdev))
		return;
	vga_client_unregister(pdev);
	vga_set_legacy_decoding(pdev, VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM |
				      VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM);
	vpdev->has_vga = false;
}

/*
 * PCI driver.
 */
static int vfio_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfio_pci_ng_device *vpdev;
	int ret;

	if (!disable_denylist && pci_match_id(vfio_pci_denylist, pdev)) {
		pci_warn(pdev, "device is on the denylist (errata make it unsafe to assign); use disable_denylist=1 to override\n");
		return -EINVAL;
	}
	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL)
		return -EINVAL;	/* bridges and cardbus are not assignable */
	if (pci_num_vf(pdev)) {
		pci_warn(pdev, "cannot bind to a PF with SR-IOV enabled\n");
		return -EBUSY;
	}

	vpdev = vfio_alloc_device(vfio_pci_ng_device, vdev, &pdev->dev,
				  &vfio_pci_ops);
	if (IS_ERR(vpdev))
		return PTR_ERR(vpdev);

	dev_set_drvdata(&pdev->dev, vpdev);

	ret = vfio_pci_assign_devset(vpdev);
	if (ret)
		goto err_put;
	ret = vfio_pci_vf_token_alloc(vpdev);
	if (ret)
		goto err_put;
	if (pdev->is_virtfn &&
	    pci_dev_driver(pci_physfn(pdev)) == &vfio_pci_driver)
		vpdev->sriov_pf = dev_get_drvdata(&pci_physfn(pdev)->dev);

	ret = vfio_pci_vga_init(vpdev);
	if (ret)
		goto err_put;

	vfio_pci_pm_init(vpdev);

	ret = vfio_register_group_dev(&vpdev->vdev);
	if (ret)
		goto err_pm;
	ret = vfio_pci_policy_add(vpdev);
	if (ret)
		goto err_unregister;
	vfio_pci_debugfs_add(vpdev);
	return 0;

err_unregister:
	vfio_unregister_group_dev(&vpdev->vdev);
err_pm:
	vfio_pci_pm_exit(vpdev);
	vfio_pci_vga_exit(vpdev);
err_put:
	dev_set_drvdata(&pdev->dev, NULL);
	vfio_put_device(&vpdev->vdev);
	return ret;
}

static void vfio_pci_remove(struct pci_dev *pdev)
{
	struct vfio_pci_ng_device *vpdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_debugfs_remove(vpdev);
	/* From here on the policy does not change. */
	vfio_pci_policy_remove(vpdev);
	/* Waits, signalling the user, until every fd of the device is closed. */
	vfio_pci_sriov_disable(vpdev);
	vfio_unregister_group_dev(&vpdev->vdev);
	/* Closed now, and no request comes any more: the revoke is over. */
	vfio_pci_revoke_sync(vpdev);
	vfio_pci_policy_exit(vpdev);
	vfio_pci_pm_exit(vpdev);
	vfio_pci_vga_exit(vpdev);
	dev_set_drvdata(&pdev->dev, NULL);
	vfio_put_device(&vpdev->vdev);
}

/*
 * AER: hand the error to the user, who owns the device and its recovery.
 * Called with the PCI bus semaphore held: must not take igate.
 */
static pci_ers_result_t vfio_pci_aer_err_detected(struct pci_dev *pdev,
						  pci_channel_state_t state)
{
	struct vfio_pci_ng_device *vpdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_signal_err(vpdev);
	return PCI_ERS_RESULT_CAN_RECOVER;
}

static const struct pci_error_handlers vfio_pci_err_handlers = {
	.error_detected = vfio_pci_aer_err_detected,
};

/* Override-only: never binds to anything unless asked via driver_override. */
static const struct pci_device_id vfio_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vfio_pci_table);

static struct pci_driver vfio_pci_driver = {
	.name			= "vfio-pci",
	.id_table		= vfio_pci_table,
	.probe			= vfio_pci_probe,
	.remove			= vfio_pci_remove,
	.err_handler		= &vfio_pci_err_handlers,
	.driver.pm		= &vfio_pci_pm_ops,
	.sriov_configure	= vfio_pci_sriov_configure,
	.driver_managed_dma	= true,
};

/* Parse ids= ("vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]"). */
static void __init vfio_pci_add_ids(void)
{
	char *p = ids, *id;

	while ((id = strsep(&p, ","))) {
		unsigned int vendor, device, subvendor = PCI_ANY_ID,
			     subdevice = PCI_ANY_ID, class = 0, class_mask = 0;
		int fields, ret;

		if (!*id)
			continue;
		fields = sscanf(id, "%x:%x:%x:%x:%x:%x", &vendor, &device,
				&subvendor, &subdevice, &class, &class_mask);
		if (fields < 2) {
			pr_warn("invalid id string \"%s\"\n", id);
			continue;
		}
		ret = pci_add_dynid(&vfio_pci_driver, vendor, device, subvendor,
				    subdevice, class, class_mask, 0);
		if (ret)
			pr_warn("failed to add dynamic id %s (%d)\n", id, ret);
		else
			pr_info("add [%04x:%04x[%04x:%04x]] class %#08x/%08x\n",
				vendor, device, subvendor, subdevice, class,
				class_mask);
	}
}

static int __init vfio_pci_init(void)
{
	int ret;

	ret = vfio_pci_perm_bits_init();
	if (ret)
		return ret;
	vfio_pci_debugfs_init();
	ret = vfio_pci_mapping_fs_init();
	if (ret)
		goto err_perm;
	ret = bus_register_notifier(&pci_bus_type, &vfio_pci_nb);
	if (ret)
		goto err_fs;
	ret = pci_register_driver(&vfio_pci_driver);
	if (ret)
		goto err_nb;
	vfio_pci_add_ids();
	return 0;

err_nb:
	bus_unregister_notifier(&pci_bus_type, &vfio_pci_nb);
err_fs:
	vfio_pci_mapping_fs_exit();
err_perm:
	vfio_pci_debugfs_exit();
	vfio_pci_perm_bits_exit();
	return ret;
}
module_init(vfio_pci_init);

static void __exit vfio_pci_exit(void)
{
	pci_unregister_driver(&vfio_pci_driver);
	bus_unregister_notifier(&pci_bus_type, &vfio_pci_nb);
	vfio_pci_mapping_fs_exit();
	vfio_pci_debugfs_exit();
	vfio_pci_perm_bits_exit();
}
module_exit(vfio_pci_exit);

MODULE_VERSION(VFIO_PCI_NG_VERSION);
MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION(DRIVER_DESC);
