// SPDX-License-Identifier: GPL-2.0-only
/* vfio-pci-ng: read-only per-device state in debugfs, vfio-pci-ng/<BDF>/. */
#include <linux/debugfs.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/*
 * Files, each read-only and safe while the device is in use:
 *
 * state	open count, last opener, interrupts, memory decode, power
 *		state, reset flags, revoked and the dev_set members
 * resets	the last VFIO_PCI_DEBUG_RESETS resets, oldest first
 * config_map	per config byte, where a user write goes while open
 *
 * state and config_map hold the dev_set lock, which the vfio core holds
 * around open_device and close_device: the virtual config space and the
 * dev_set list cannot change under them.  Nothing that holds the dev_set
 * lock waits for debugfs, and remove() takes the directory away (waiting
 * for readers) before it unregisters the device.  Everything else is a
 * READ_ONCE() snapshot or taken under the debug lock.
 */
static struct dentry *vfio_pci_debugfs_root;

static const char *vfio_pci_power_name(pci_power_t state)
{
	static const char * const names[] = {
		"D0", "D1", "D2", "D3hot", "D3cold", "unknown",
	};
	int i = (__force int)state;

	return i >= 0 && i < ARRAY_SIZE(names) ? names[i] : "error";
}

static const char *vfio_pci_irq_type_name(int type)
{
	switch (type) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return "intx";
	case VFIO_PCI_MSI_IRQ_INDEX:
		return "msi";
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return "msix";
	default:
		return "none";
	}
}

static void vfio_pci_show_irqs(struct seq_file *s,
			       struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_debug *dbg = &vpdev->debug;
	unsigned int i, n = READ_ONCE(vpdev->num_ctx);
	long other = atomic_long_read(&dbg->irqs_other);

	seq_printf(s, "irq_type: %s\n",
		   vfio_pci_irq_type_name(READ_ONCE(vpdev->irq_type)));
	seq_printf(s, "irq_vectors: %u\n", n);
	for (i = 0; i < min_t(unsigned int, n, VFIO_PCI_DEBUG_VECTORS); i++)
		seq_printf(s, "irq_count[%u]: %ld\n", i,
			   atomic_long_read(&dbg->irqs[i]));
	if (other)
		seq_printf(s, "irq_count[%u+]: %ld\n", VFIO_PCI_DEBUG_VECTORS,
			   other);
}

static int vfio_pci_state_show(struct seq_file *s, void *unused)
{
	struct vfio_pci_ng_device *vpdev = s->private;
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;
	struct vfio_pci_debug *dbg = &vpdev->debug;
	struct pci_dev *pdev = vpdev->pdev;
	char comm[TASK_COMM_LEN];
	pci_power_t state;
	struct vfio_device *it;
	pid_t pid;
	u16 cmd;

	mutex_lock(&dev_set->lock);

	spin_lock(&dbg->lock);
	pid = dbg->opener_pid;
	memcpy(comm, dbg->opener_comm, sizeof(comm));
	spin_unlock(&dbg->lock);

	seq_printf(s, "device: %s\n", pci_name(pdev));
	seq_printf(s, "open_count: %u\n", READ_ONCE(vpdev->vdev.open_count));
	if (pid)
		seq_printf(s, "opener: pid %d comm %s\n", pid, comm);
	else
		seq_puts(s, "opener: none\n");

	vfio_pci_show_irqs(s, vpdev);

	state = READ_ONCE(pdev->current_state);
	if (state == PCI_D3cold || pci_read_config_word(pdev, PCI_COMMAND, &cmd))
		seq_puts(s, "memory_decode: unknown\n");
	else
		seq_printf(s, "memory_decode: %s\n",
			   cmd & PCI_COMMAND_MEMORY ? "on" : "off");
	seq_printf(s, "memory_access: %s\n",
		   vfio_pci_memory_enabled(vpdev) ? "yes" : "no");
	seq_printf(s, "power_state: %s\n", vfio_pci_power_name(state));
	/* The PCI core's D3cold switch, which d3cold_allowed=0 sets. */
	seq_printf(s, "no_d3cold: %s\n", pdev->no_d3cold ? "yes" : "no");
	seq_printf(s, "low_power_feature: %s\n",
		   READ_ONCE(vpdev->pm_runtime_engaged) ? "yes" : "no");
	seq_printf(s, "reset_works: %s\n",
		   READ_ONCE(vpdev->reset_works) ? "yes" : "no");
	seq_printf(s, "needs_reset: %s\n",
		   READ_ONCE(vpdev->needs_reset) ? "yes" : "no");
	seq_printf(s, "health: %s\n", READ_ONCE(vpdev->dead) ? "dead" : "ok");
	seq_printf(s, "d3cold: %s\n", READ_ONCE(vpdev->d3cold_broken) ?
		   "disabled (did not come back)" : "as the PCI core allows");
	seq_printf(s, "revoked: %s\n", vpdev->revoked ? "yes" : "no");

	seq_puts(s, "dev_set:");
	list_for_each_entry(it, &dev_set->device_list, dev_set_list)
		seq_printf(s, " %s", dev_name(it->dev));
	seq_putc(s, '\n');

	mutex_unlock(&dev_set->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vfio_pci_state);

static int vfio_pci_resets_show(struct seq_file *s, void *unused)
{
	struct vfio_pci_ng_device *vpdev = s->private;
	struct vfio_pci_debug *dbg = &vpdev->debug;
	struct vfio_pci_reset_record *recs;
	unsigned int n, first, i;

	recs = kcalloc(VFIO_PCI_DEBUG_RESETS, sizeof(*recs), GFP_KERNEL);
	if (!recs)
		return -ENOMEM;
	spin_lock(&dbg->lock);
	n = dbg->nresets;
	memcpy(recs, dbg->resets, VFIO_PCI_DEBUG_RESETS * sizeof(*recs));
	spin_unlock(&dbg->lock);

	seq_printf(s, "# %u resets since probe, the last %u; method: the first the PCI core tries\n",
		   n, min_t(unsigned int, n, VFIO_PCI_DEBUG_RESETS));
	first = n > VFIO_PCI_DEBUG_RESETS ? n - VFIO_PCI_DEBUG_RESETS : 0;
	for (i = first; i < n; i++) {
		struct vfio_pci_reset_record *r = &recs[i % VFIO_PCI_DEBUG_RESETS];

		seq_printf(s, "when_ns=%llu scope=%s method=%s ns=%llu ret=%d\n",
			   (unsigned long long)r->when_ns,
			   vfio_pci_reset_scope_name(r->scope),
			   vfio_pci_reset_method_name(r->method),
			   (unsigned long long)r->ns, r->ret);
	}
	kfree(recs);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vfio_pci_resets);

static int vfio_pci_config_map_show(struct seq_file *s, void *unused)
{
	static const char kinds[] = {
		[VFIO_PCI_CFG_HW] = 'h',
		[VFIO_PCI_CFG_VIRT] = 'v',
		[VFIO_PCI_CFG_DROPPED] = 'r',
	};
	struct vfio_pci_ng_device *vpdev = s->private;
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;
	unsigned int pos, size = vpdev->pdev->cfg_size;
	int kind;

	mutex_lock(&dev_set->lock);
	if (!vpdev->vconfig) {
		seq_puts(s, "# device not open: the map is built at open\n");
		goto out;
	}
	seq_puts(s, "# per byte, a user write goes to: v virtual copy, h hardware, r nowhere (read-only)\n");
	for (pos = 0; pos < size; pos++) {
		if (!(pos % 32))
			seq_printf(s, "%03x:", pos);
		if (!(pos % 8))
			seq_putc(s, ' ');
		kind = vfio_pci_config_kind(vpdev, pos, 1);
		seq_putc(s, kind >= 0 && kind < ARRAY_SIZE(kinds) ?
			 kinds[kind] : '?');
		if (pos % 32 == 31)
			seq_putc(s, '\n');
	}
out:
	mutex_unlock(&dev_set->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vfio_pci_config_map);

/**
 * vfio_pci_debugfs_init() - create the vfio-pci-ng directory at module load
 *
 * Without debugfs the per-device directories are simply not created.
 */
void vfio_pci_debugfs_init(void)
{
	struct dentry *root = debugfs_create_dir("vfio-pci-ng", NULL);

	vfio_pci_debugfs_root = IS_ERR(root) ? NULL : root;
}

/**
 * vfio_pci_debugfs_exit() - remove the vfio-pci-ng directory at unload
 */
void vfio_pci_debugfs_exit(void)
{
	debugfs_remove(vfio_pci_debugfs_root);
	vfio_pci_debugfs_root = NULL;
}

/**
 * vfio_pci_debugfs_add() - create the device's directory
 * @vpdev: the device, registered (its dev_set assigned)
 */
void vfio_pci_debugfs_add(struct vfio_pci_ng_device *vpdev)
{
	struct dentry *dir;

	if (!vfio_pci_debugfs_root)
		return;
	dir = debugfs_create_dir(pci_name(vpdev->pdev), vfio_pci_debugfs_root);
	if (IS_ERR(dir))
		return;
	debugfs_create_file("state", 0400, dir, vpdev, &vfio_pci_state_fops);
	debugfs_create_file("resets", 0400, dir, vpdev, &vfio_pci_resets_fops);
	debugfs_create_file("config_map", 0400, dir, vpdev,
			    &vfio_pci_config_map_fops);
	vpdev->debug.dir = dir;
}

/**
 * vfio_pci_debugfs_remove() - remove the device's directory
 * @vpdev: the device, before it is unregistered
 *
 * Waits for readers of its files to finish.
 */
void vfio_pci_debugfs_remove(struct vfio_pci_ng_device *vpdev)
{
	debugfs_remove(vpdev->debug.dir);
	vpdev->debug.dir = NULL;
}
