// SPDX-License-Identifier: GPL-2.0-only
/* vfio-pci-ng: the vfio_pci tracepoints and the counters and history behind debugfs. */
#include <linux/irq.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

#define CREATE_TRACE_POINTS
#include "vfio_pci_trace.h"

static const char * const vfio_pci_reset_scopes[] = {
	[VFIO_PCI_RESET_OPEN]		= "open",
	[VFIO_PCI_RESET_CLOSE]		= "close",
	[VFIO_PCI_RESET_IOCTL]		= "ioctl",
	[VFIO_PCI_RESET_USER_FLR]	= "user_flr",
	[VFIO_PCI_RESET_HOT]		= "hot_reset",
	[VFIO_PCI_RESET_CLOSE_BUS]	= "close_bus",
	[VFIO_PCI_RESET_HEALTH]		= "health",
	[VFIO_PCI_RESET_RESUME]		= "resume",
};

static const char * const vfio_pci_reset_methods[] = {
	[VFIO_PCI_RESET_M_NONE]		= "none",
	[1]				= "device_specific",
	[2]				= "acpi",
	[3]				= "flr",
	[4]				= "af_flr",
	[5]				= "pm",
	[VFIO_PCI_RESET_M_BUS]		= "bus",
	[VFIO_PCI_RESET_M_CXL_BUS]	= "cxl_bus",
	[VFIO_PCI_RESET_M_SLOT]		= "slot",
	[VFIO_PCI_RESET_M_UNKNOWN]	= "unknown",
};

/**
 * vfio_pci_reset_scope_name() - name of a VFIO_PCI_RESET_* scope
 * @scope: the scope
 *
 * Return: the name, as the vfio_pci_reset event prints it.
 */
const char *vfio_pci_reset_scope_name(unsigned int scope)
{
	return scope < ARRAY_SIZE(vfio_pci_reset_scopes) ?
	       vfio_pci_reset_scopes[scope] : "?";
}

/**
 * vfio_pci_reset_method_name() - name of a VFIO_PCI_RESET_M_* method
 * @method: the method
 *
 * Return: the name, as the vfio_pci_reset event (and sysfs reset_method)
 * print it.
 */
const char *vfio_pci_reset_method_name(unsigned int method)
{
	return method < ARRAY_SIZE(vfio_pci_reset_methods) ?
	       vfio_pci_reset_methods[method] : "?";
}

/**
 * vfio_pci_debug_init() - set up the observability state at device init
 * @vpdev: the device, before it is registered
 */
void vfio_pci_debug_init(struct vfio_pci_ng_device *vpdev)
{
	spin_lock_init(&vpdev->debug.lock);
}

/**
 * vfio_pci_debug_open() - the first open of the device ended
 * @vpdev: the device
 * @ret: the result of the open
 *
 * Called from open_device, in the opener's context with the dev_set lock
 * held: records the opener and starts the interrupt counts afresh.
 */
void vfio_pci_debug_open(struct vfio_pci_ng_device *vpdev, int ret)
{
	struct vfio_pci_debug *dbg = &vpdev->debug;
	unsigned int i;

	trace_vfio_pci_open(vpdev->pdev, READ_ONCE(vpdev->vdev.open_count),
			    ret);
	if (ret)
		return;
	for (i = 0; i < VFIO_PCI_DEBUG_VECTORS; i++)
		atomic_long_set(&dbg->irqs[i], 0);
	atomic_long_set(&dbg->irqs_other, 0);
	spin_lock(&dbg->lock);
	dbg->opener_pid = current->tgid;
	strscpy(dbg->opener_comm, current->comm, sizeof(dbg->opener_comm));
	spin_unlock(&dbg->lock);
}

/**
 * vfio_pci_debug_close() - the last close of the device begins
 * @vpdev: the device
 */
void vfio_pci_debug_close(struct vfio_pci_ng_device *vpdev)
{
	trace_vfio_pci_close(vpdev->pdev);
}

/**
 * __vfio_pci_trace_ioctl() - the vfio_pci_ioctl event of a device ioctl
 * @vpdev: the device
 * @cmd: the ioctl command
 * @arg: its user argument
 * @ret: its result
 * @start: vfio_pci_trace_ioctl_start() before it ran
 *
 * The argument summary is read back from the user's buffer, so it shows
 * what the buffer holds after the ioctl (only while the event is enabled).
 */
void __vfio_pci_trace_ioctl(struct vfio_pci_ng_device *vpdev, unsigned int cmd,
			    unsigned long arg, long ret, u64 start)
{
	u32 head[3] = { 0 };

	if (cmd != VFIO_DEVICE_RESET &&
	    copy_from_user(head, (void __user *)arg, sizeof(head)))
		memset(head, 0, sizeof(head));
	trace_vfio_pci_ioctl(vpdev->pdev, cmd, head[0], head[1], head[2], ret,
			     start ? ktime_get_ns() - start : 0);
}

/**
 * vfio_pci_trace_feature() - the vfio_pci_ioctl event of a feature ioctl
 * @vpdev: the device
 * @flags: the feature flags (feature number and GET/SET/PROBE)
 * @argsz: the argument size
 * @ret: the result
 * @start: vfio_pci_trace_ioctl_start() before it ran
 */
void vfio_pci_trace_feature(struct vfio_pci_ng_device *vpdev, u32 flags,
			    size_t argsz, int ret, u64 start)
{
	trace_vfio_pci_ioctl(vpdev->pdev, VFIO_DEVICE_FEATURE, argsz, flags,
			     flags & VFIO_DEVICE_FEATURE_MASK, ret,
			     start ? ktime_get_ns() - start : 0);
}

/* The method a reset of this scope uses first. */
static unsigned int vfio_pci_reset_method(struct pci_dev *pdev,
					  unsigned int scope)
{
	u8 m;

	if (scope == VFIO_PCI_RESET_HOT || scope == VFIO_PCI_RESET_CLOSE_BUS ||
	    scope == VFIO_PCI_RESET_HEALTH)
		return pdev->slot && !pci_probe_reset_slot(pdev->slot) ?
		       VFIO_PCI_RESET_M_SLOT : VFIO_PCI_RESET_M_BUS;
	m = pdev->reset_methods[0];
	return m <= VFIO_PCI_RESET_M_CXL_BUS ? m : VFIO_PCI_RESET_M_UNKNOWN;
}

/**
 * vfio_pci_debug_reset() - run a reset, timed, traced and kept in the history
 * @vpdev: the device the reset is for
 * @scope: who asked (VFIO_PCI_RESET_*)
 * @reset: the PCI core's reset call, with the caller's locking
 *
 * Return: what @reset returned.
 */
int vfio_pci_debug_reset(struct vfio_pci_ng_device *vpdev, unsigned int scope,
			 int (*reset)(struct pci_dev *pdev))
{
	struct vfio_pci_debug *dbg = &vpdev->debug;
	struct vfio_pci_reset_record rec = {
		.when_ns = ktime_get_boottime_ns(),
		.scope = scope,
		.method = vfio_pci_reset_method(vpdev->pdev, scope),
	};
	u64 t0 = ktime_get_ns();

	rec.ret = reset(vpdev->pdev);
	rec.ns = ktime_get_ns() - t0;

	spin_lock(&dbg->lock);
	dbg->resets[dbg->nresets % VFIO_PCI_DEBUG_RESETS] = rec;
	dbg->nresets++;
	spin_unlock(&dbg->lock);

	trace_vfio_pci_reset(vpdev->pdev, scope, rec.method, rec.ns, rec.ret);
	return rec.ret;
}

/**
 * vfio_pci_debug_set_power() - pci_set_power_state(), traced
 * @vpdev: the device
 * @state: the new state
 *
 * Return: what pci_set_power_state() returned.
 */
int vfio_pci_debug_set_power(struct vfio_pci_ng_device *vpdev,
			     pci_power_t state)
{
	struct pci_dev *pdev = vpdev->pdev;
	pci_power_t from = pdev->current_state;
	int ret = pci_set_power_state(pdev, state);

	if (from != state)
		trace_vfio_pci_power(pdev, (__force int)from,
				     (__force int)state, ret);
	return ret;
}

/**
 * __vfio_pci_trace_fault() - the vfio_pci_mmap_fault event
 * @vmf: the fault
 * @order: its order (0: a page, which maps a block or the whole vma)
 * @start: start of the naturally aligned block the fault fills
 * @end: its end
 * @ret: the fault's result
 */
void __vfio_pci_trace_fault(struct vm_fault *vmf, unsigned int order,
			    unsigned long start, unsigned long end,
			    vm_fault_t ret)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_ng_device *vpdev = vma->vm_private_data;
	unsigned int bar = vma->vm_pgoff >>
			   (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);

	if (!order) {
#ifdef VFIO_PCI_POPULATE_WHOLE_VMA
		start = vma->vm_start;
		end = vma->vm_end;
#else
		start = max(start, vma->vm_start);
		end = min(end, vma->vm_end);
#endif
	}
	trace_vfio_pci_mmap_fault(vpdev->pdev, bar, vmf->address, start, end,
				  order, ret);
}

/**
 * __vfio_pci_trace_zap() - the vfio_pci_zap event
 * @vpdev: the device whose BAR mappings are all being removed
 *
 * The range is that of the BAR regions in the device fd; the pages are
 * those of the BARs that can be mapped (what a zap may have to remove).
 */
void __vfio_pci_trace_zap(struct vfio_pci_ng_device *vpdev)
{
	unsigned long pages = 0;
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_BARS; i++)
		if (vpdev->bar_mmap_ok[i])
			pages += PAGE_ALIGN(pci_resource_len(vpdev->pdev, i)) >>
				 PAGE_SHIFT;
	trace_vfio_pci_zap(vpdev->pdev, 0,
			   VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_ROM_REGION_INDEX),
			   pages);
}

/**
 * __vfio_pci_trace_config_write() - the vfio_pci_config_write event
 * @vpdev: the device, open
 * @pos: config offset of the piece written
 * @len: its length (1, 2 or 4, one register block)
 * @val: the value written, in config (little-endian) order
 * @ret: the result of the write
 */
void __vfio_pci_trace_config_write(struct vfio_pci_ng_device *vpdev,
				   unsigned int pos, unsigned int len,
				   __le32 val, int ret)
{
	trace_vfio_pci_config_write(vpdev->pdev, pos, len, le32_to_cpu(val),
				    vfio_pci_config_kind(vpdev, pos, len), ret);
}

/**
 * vfio_pci_trace_signal() - the vfio_pci_signal event (ERR or REQ)
 * @vpdev: the device
 * @index: VFIO_PCI_ERR_IRQ_INDEX or VFIO_PCI_REQ_IRQ_INDEX
 * @count: REQ: how many times the core asked before (0: the first)
 * @signalled: an eventfd was registered and signalled
 */
void vfio_pci_trace_signal(struct vfio_pci_ng_device *vpdev,
			   unsigned int index, unsigned int count,
			   bool signalled)
{
	trace_vfio_pci_signal(vpdev->pdev, index, count, signalled);
}
