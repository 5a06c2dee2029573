// SPDX-License-Identifier: GPL-2.0-only
/*
 * vt_inject: fault injection for the vfio-pci-ng selftests.
 *
 * TEST CODE ONLY.  It is not part of the driver, is never installed and must
 * never be loaded except by a guest test (selftests/tests/t_41_inject.c),
 * which inserts it with finit_module() and removes it again.  It makes one
 * PCI device look broken in ways the lab's QEMU devices cannot:
 *
 * Config read injection (bdf=, where=, size=, from=, times=, mask=, value=)
 *   The device's bus gets a copy of its struct pci_ops whose read op changes
 *   what reads of the register at offset where= return: where= is a number
 *   or "msix_flags" / "msi_flags" (the Message Control word of the MSI-X /
 *   MSI capability, found from the pci_dev).  The register is size= bytes
 *   wide (1, 2 or 4; default 2).  A read matches when it covers the whole
 *   register (a dword read of the capability header does); reads of part of
 *   it are neither counted nor changed.  Matching reads are counted from 1;
 *   reads from= (default 1) onwards, times= of them (0: all), get the bits
 *   of mask= replaced by those of value=.  mask=0 only counts.  The count of
 *   matching reads and of those in the from/times window (the ones changed,
 *   unless mask=0) are the read-only parameters reads and injected
 *   (/sys/module/vt_inject/parameters/).
 *
 * ROM with start 0 (bdf=, rom_zero_start=1)
 *   The device's expansion ROM resource is put in the state of a ROM that
 *   the firmware left unassigned and the kernel could not place: released
 *   from the resource tree, start 0, its length kept, IORESOURCE_UNSET.  Its
 *   alignment flags are cleared as well, so that pci_assign_resource(),
 *   which pci_map_rom() calls for a ROM without a parent, fails every time
 *   ("can't assign; bogus alignment") instead of placing it: the state stays
 *   as set for the whole test, and nothing is written to the device.  The
 *   device must be bound to vfio-pci and not enabled (not open) at insmod,
 *   and must not be open at rmmod.
 *
 * A host driver (host_driver=1, no bdf= needed)
 *   Registers the PCI driver "vt_host", which binds only through
 *   driver_override, does nothing with the device and, unlike vfio-pci,
 *   leaves DMA to the kernel: a device bound to it makes its IOMMU group
 *   unusable for vfio (t_82_diagnose).  Unregistered at rmmod.
 *
 * Everything is undone at rmmod: the bus gets its own pci_ops back and the
 * ROM resource its start, end, flags and place in the resource tree.
 *
 * Hazards, accepted for test code:
 * - x86 config accesses through pci_bus_read_config_*() take no lock
 *   (PCI_LOCKLESS_CONFIG), so pci_bus_set_ops() cannot exclude a reader that
 *   fetched our ops just before they are replaced.  rmmod waits for the
 *   reads that entered our read op and for an RCU grace period, which covers
 *   readers in atomic context but not a preempted one: remove the module
 *   only while nothing accesses the device's config space.
 * - A child bus created below the device's bus while the module is loaded
 *   would inherit our ops: do not hot-add bridges below that bus meanwhile.
 * - The ROM resource is changed without a lock that its readers take (there
 *   is none); vfio-pci reads it at open and on ROM accesses: tamper and
 *   restore only while the device is not open.  The "not open" check at
 *   insmod (the device is not enabled) is made under the device lock but an
 *   open does not take that lock: the test orders it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/string.h>

static bool host_driver;
module_param(host_driver, bool, 0444);
MODULE_PARM_DESC(host_driver, "Register the PCI driver vt_host (driver_override only)");

static char *bdf;
module_param(bdf, charp, 0444);
MODULE_PARM_DESC(bdf, "The device, DDDD:BB:DD.F");

static char *where;
module_param(where, charp, 0444);
MODULE_PARM_DESC(where, "Config offset whose reads to change: a number, msix_flags or msi_flags");

static unsigned int vt_size = 2;
module_param_named(size, vt_size, uint, 0444);
MODULE_PARM_DESC(size, "Width in bytes of the register at where (1, 2, 4; default 2)");

static unsigned int vt_from = 1;
module_param_named(from, vt_from, uint, 0444);
MODULE_PARM_DESC(from, "First matching read to change, counted from 1 (default 1)");

static unsigned int vt_times;
module_param_named(times, vt_times, uint, 0444);
MODULE_PARM_DESC(times, "How many matching reads to change (0: every one from `from` on)");

static unsigned int vt_mask;
module_param_named(mask, vt_mask, uint, 0444);
MODULE_PARM_DESC(mask, "Bits of the register to replace (0: only count the reads)");

static unsigned int vt_value;
module_param_named(value, vt_value, uint, 0444);
MODULE_PARM_DESC(value, "What the bits of mask read as");

static bool rom_zero_start;
module_param(rom_zero_start, bool, 0444);
MODULE_PARM_DESC(rom_zero_start, "Give the ROM resource start 0 with its length kept, unplaceable");

static atomic_t vt_reads = ATOMIC_INIT(0);
static atomic_t vt_injected = ATOMIC_INIT(0);

static int vt_counter_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static int vt_counter_get(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%d\n", atomic_read(kp->arg));
}

static const struct kernel_param_ops vt_counter_ops = {
	.set = vt_counter_set,
	.get = vt_counter_get,
};

module_param_cb(reads, &vt_counter_ops, &vt_reads, 0444);
MODULE_PARM_DESC(reads, "Matching config reads seen (read-only)");
module_param_cb(injected, &vt_counter_ops, &vt_injected, 0444);
MODULE_PARM_DESC(injected, "Matching config reads in the from/times window (read-only)");

static struct pci_dev *vt_pdev;

/* Config read injection */
static struct pci_bus *vt_bus;
static struct pci_ops *vt_orig_ops;
static struct pci_ops vt_ops;
static unsigned int vt_devfn;
static unsigned int vt_where;
static atomic_t vt_inflight = ATOMIC_INIT(0);

/* ROM tamper */
static struct resource *vt_rom_parent;
static resource_size_t vt_rom_start, vt_rom_end;
static unsigned long vt_rom_flags;
static bool vt_rom_tampered;

static void vt_inject_read(int pos, int size, u32 *val)
{
	unsigned int n, shift;
	u64 bits;

	if (pos > vt_where || vt_where + vt_size > pos + size)
		return;
	n = atomic_inc_return(&vt_reads);
	if (n < vt_from || (vt_times && n - vt_from >= vt_times))
		return;
	atomic_inc(&vt_injected);
	shift = (vt_where - pos) * 8;
	bits = (u64)vt_mask << shift;
	*val = (u32)((*val & ~bits) | (((u64)vt_value << shift) & bits));
}

static int vt_cfg_read(struct pci_bus *bus, unsigned int devfn, int pos,
		       int size, u32 *val)
{
	int ret;

	atomic_inc(&vt_inflight);
	ret = vt_orig_ops->read(bus, devfn, pos, size, val);
	if (ret == PCIBIOS_SUCCESSFUL && bus == vt_bus && devfn == vt_devfn)
		vt_inject_read(pos, size, val);
	atomic_dec(&vt_inflight);
	return ret;
}

static int vt_resolve_where(struct pci_dev *pdev)
{
	int ret;

	if (!strcmp(where, "msix_flags")) {
		if (!pdev->msix_cap)
			return -ENODEV;
		vt_where = pdev->msix_cap + PCI_MSIX_FLAGS;
	} else if (!strcmp(where, "msi_flags")) {
		if (!pdev->msi_cap)
			return -ENODEV;
		vt_where = pdev->msi_cap + PCI_MSI_FLAGS;
	} else {
		ret = kstrtouint(where, 0, &vt_where);
		if (ret)
			return ret;
	}
	if (vt_size != 1 && vt_size != 2 && vt_size != 4)
		return -EINVAL;
	if (vt_where % vt_size || vt_where + vt_size > pdev->cfg_size)
		return -EINVAL;
	if (vt_size < 4 && vt_mask >> (vt_size * 8))
		return -EINVAL;
	if (!vt_from)
		return -EINVAL;
	return 0;
}

static void vt_ops_install(struct pci_dev *pdev)
{
	vt_bus = pdev->bus;
	vt_devfn = pdev->devfn;
	/*
	 * A copy of the whole struct: generic accessors call map_bus through
	 * bus->ops, which is ours from now on.
	 */
	vt_ops = *pdev->bus->ops;
	vt_ops.read = vt_cfg_read;
	vt_orig_ops = pci_bus_set_ops(vt_bus, &vt_ops);
	pci_info(pdev, "vt_inject: config reads at 0x%x (%u bytes) from read %u, times %u (0: all): mask 0x%x value 0x%x\n",
		 vt_where, vt_size, vt_from, vt_times, vt_mask, vt_value);
}

static void vt_ops_remove(void)
{
	pci_bus_set_ops(vt_bus, vt_orig_ops);
	synchronize_rcu();
	while (atomic_read(&vt_inflight))
		msleep(20);
	pci_info(vt_pdev, "vt_inject: config ops restored (%d matching reads, %d injected)\n",
		 atomic_read(&vt_reads), atomic_read(&vt_injected));
}

static int vt_rom_tamper(struct pci_dev *pdev)
{
	struct resource *res = &pdev->resource[PCI_ROM_RESOURCE];
	resource_size_t size = resource_size(res);
	int ret;

	device_lock(&pdev->dev);
	if (!pdev->dev.driver || strcmp(pdev->dev.driver->name, "vfio-pci")) {
		pci_err(pdev, "vt_inject: rom_zero_start: not bound to vfio-pci\n");
		ret = -EBUSY;
		goto out;
	}
	if (pci_is_enabled(pdev)) {
		pci_err(pdev, "vt_inject: rom_zero_start: device enabled (open?)\n");
		ret = -EBUSY;
		goto out;
	}
	if (!(res->flags & IORESOURCE_MEM) || !size || !res->start || !res->parent) {
		pci_err(pdev, "vt_inject: rom_zero_start: no assigned ROM %pR\n", res);
		ret = -ENODEV;
		goto out;
	}
	vt_rom_parent = res->parent;
	vt_rom_start = res->start;
	vt_rom_end = res->end;
	vt_rom_flags = res->flags;
	ret = release_resource(res);
	if (ret)
		goto out;
	res->start = 0;
	res->end = size - 1;
	res->flags |= IORESOURCE_UNSET;
	res->flags &= ~(IORESOURCE_SIZEALIGN | IORESOURCE_STARTALIGN);
	vt_rom_tampered = true;
	pci_info(pdev, "vt_inject: ROM resource now %pR (was [mem %pa-%pa])\n",
		 res, &vt_rom_start, &vt_rom_end);
out:
	device_unlock(&pdev->dev);
	return ret;
}

static void vt_rom_restore(struct pci_dev *pdev)
{
	struct resource *res = &pdev->resource[PCI_ROM_RESOURCE];

	device_lock(&pdev->dev);
	if (pci_is_enabled(pdev))
		pci_err(pdev, "vt_inject: ROM restored while the device is enabled\n");
	/* Only if pci_assign_resource() placed it after all. */
	if (res->parent) {
		pci_err(pdev, "vt_inject: ROM was placed at %pR meanwhile\n", res);
		release_resource(res);
	}
	res->start = vt_rom_start;
	res->end = vt_rom_end;
	res->flags = vt_rom_flags;
	if (request_resource(vt_rom_parent, res))
		pci_err(pdev, "vt_inject: ROM %pR not back in the resource tree\n", res);
	else
		pci_info(pdev, "vt_inject: ROM resource restored to %pR\n", res);
	device_unlock(&pdev->dev);
}

static int vt_host_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return 0;
}

static void vt_host_remove(struct pci_dev *pdev)
{
}

static const struct pci_device_id vt_host_ids[] = {
	{ }
};

static struct pci_driver vt_host_driver = {
	.name		= "vt_host",
	.id_table	= vt_host_ids,
	.probe		= vt_host_probe,
	.remove		= vt_host_remove,
};

static int __init vt_inject_init(void)
{
	unsigned int domain, busnr, slot, fn;
	int ret;

	if (host_driver && !bdf)
		return pci_register_driver(&vt_host_driver);
	if (!bdf || sscanf(bdf, "%x:%x:%x.%x", &domain, &busnr, &slot, &fn) != 4 ||
	    busnr > 0xff || slot > 0x1f || fn > 7) {
		pr_err("bdf=DDDD:BB:DD.F is required\n");
		return -EINVAL;
	}
	if (!where && !rom_zero_start) {
		pr_err("nothing to do: give where= or rom_zero_start=1\n");
		return -EINVAL;
	}
	vt_pdev = pci_get_domain_bus_and_slot(domain, busnr, PCI_DEVFN(slot, fn));
	if (!vt_pdev)
		return -ENODEV;
	if (where) {
		ret = vt_resolve_where(vt_pdev);
		if (ret) {
			pci_err(vt_pdev, "vt_inject: bad where=%s size=%u mask=0x%x from=%u\n",
				where, vt_size, vt_mask, vt_from);
			goto err_put;
		}
	}
	if (rom_zero_start) {
		ret = vt_rom_tamper(vt_pdev);
		if (ret)
			goto err_put;
	}
	if (where)
		vt_ops_install(vt_pdev);
	return 0;

err_put:
	pci_dev_put(vt_pdev);
	return ret;
}

static void __exit vt_inject_exit(void)
{
	if (host_driver && !bdf) {
		pci_unregister_driver(&vt_host_driver);
		return;
	}
	if (vt_orig_ops)
		vt_ops_remove();
	if (vt_rom_tampered)
		vt_rom_restore(vt_pdev);
	pci_dev_put(vt_pdev);
}

module_init(vt_inject_init);
module_exit(vt_inject_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci-ng selftests: PCI config read and ROM resource fault injection (test only)");
