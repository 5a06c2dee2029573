// SPDX-License-Identifier: GPL-2.0-only
/* vfio-pci-ng: revoke the access of a holder that ignores a removal request. */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

#include "vfio_pci_private.h"

/*
 * When the device is being removed (unbind, driver_override change, hot
 * unplug, rmmod), the vfio core waits in vfio_unregister_group_dev() for the
 * last fd of the device to be closed, calling our request op meanwhile
 * (count 0 at once, then about every 10 s).  The first request that finds
 * the device open arms @revoke_work, due policy.revoke_timeout_ms later
 * (0: never, as in-tree).  If the device is still open when it runs, the
 * holder's access is revoked: interrupts, ioeventfds, BAR mappings, bus
 * master and decode go, and every later ioctl, read, write and mmap of the
 * fd fails with -ENODEV, every fault of a mapping with SIGBUS.  The device
 * stays open (the fd is the holder's until it closes it); close disables
 * it as usual.
 *
 * Locking.  The work takes the dev_set lock, which the vfio core holds
 * around open_device and close_device: under it the open count is stable
 * and @revoke_armed and @revoked change.  Under it the revoke sets
 * @revoked and then takes, one after the other, the locks the user's paths
 * hold when they act: igate (SET_IRQS), the ioeventfd lock (ioeventfd
 * add), the config lock and the memory lock for writing (config writes,
 * including the command register and the PM and FLR hooks; BAR and ROM
 * read/write, VGA, ioeventfd writes, mmap faults, VFIO_DEVICE_RESET, low
 * power entry).  Each of those paths checks @revoked again under its lock,
 * so a call that passed the unlocked check at the entry either completes
 * before the revoke takes that lock, and is undone by it, or sees the flag
 * and fails.  Nesting: dev_set lock -> igate, ioeventfd lock, config lock
 * -> memory lock -> irqlock, as close and hot reset already do.
 *
 * The work never runs after the device is freed: remove cancels it
 * synchronously once vfio_unregister_group_dev() has returned (no request
 * can arm it after that), before the last reference is put.  Close, which
 * runs with the dev_set lock held, must not wait for the work (the work
 * may be waiting for that lock): it clears @revoke_armed and cancels the
 * work without waiting.  A work already running then finds, once it holds
 * the lock, the device closed or not armed, and does nothing.  Open clears
 * both flags: a new holder starts with full access.
 */

/*
 * Interrupts first, with bus master still on and decode as the user left
 * it (the MSI-X table writes of the teardown need memory decode, which
 * they turn on for themselves), then ioeventfds, then the mappings, bus
 * master and decode.
 */
static void vfio_pci_revoke(struct vfio_pci_ng_device *vpdev)
{
	const u16 off = PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	struct vfio_pci_debug *dbg = &vpdev->debug;
	struct pci_dev *pdev = vpdev->pdev;
	char comm[TASK_COMM_LEN];
	u64 start = ktime_get_ns();
	pid_t pid;
	int ret;

	WRITE_ONCE(vpdev->revoked, true);

	/* A low power state entered by the user ends, as at close. */
	vfio_pci_wake_for_teardown(vpdev);

	vfio_pci_irqs_teardown(vpdev);
	vfio_pci_ioeventfd_remove_all(vpdev);

	vfio_pci_config_lock(vpdev);
	vfio_pci_zap_and_down_write_memory_lock(vpdev);
	ret = vfio_pci_command_update(vpdev, off, PCI_COMMAND_INTX_DISABLE,
				      NULL);
	/* Already clear: this only updates the PCI core's bookkeeping. */
	pci_clear_master(pdev);
	up_write(&vpdev->memory_lock);
	vfio_pci_config_unlock(vpdev);

	spin_lock(&dbg->lock);
	pid = dbg->opener_pid;
	memcpy(comm, dbg->opener_comm, sizeof(comm));
	spin_unlock(&dbg->lock);

	trace_vfio_pci_revoke(pdev, pid, comm, vpdev->policy.revoke_timeout_ms,
			      ktime_get_ns() - start);
	pci_warn(pdev, "revoked the access of %s (pid %d): device not released %u ms after the removal request\n",
		 comm, pid, vpdev->policy.revoke_timeout_ms);
	if (ret)
		pci_warn(pdev, "revoke: could not clear bus master and decode (%d)\n",
			 ret);
}

static void vfio_pci_revoke_work(struct work_struct *work)
{
	struct vfio_pci_ng_device *vpdev =
		container_of(to_delayed_work(work), struct vfio_pci_ng_device,
			     revoke_work);
	struct vfio_device_set *dev_set = vpdev->vdev.dev_set;

	mutex_lock(&dev_set->lock);
	if (READ_ONCE(vpdev->revoke_armed) && vpdev->vdev.open_count &&
	    !vpdev->revoked)
		vfio_pci_revoke(vpdev);
	WRITE_ONCE(vpdev->revoke_armed, false);
	mutex_unlock(&dev_set->lock);
}

/**
 * vfio_pci_revoke_init() - set up the revoke of a device at probe
 * @vpdev: the device
 */
void vfio_pci_revoke_init(struct vfio_pci_ng_device *vpdev)
{
	INIT_DELAYED_WORK(&vpdev->revoke_work, vfio_pci_revoke_work);
}

/**
 * vfio_pci_revoke_open() - a new holder starts with full access
 * @vpdev: the device, at its first open (dev_set lock held)
 */
void vfio_pci_revoke_open(struct vfio_pci_ng_device *vpdev)
{
	lockdep_assert_held(&vpdev->vdev.dev_set->lock);
	WRITE_ONCE(vpdev->revoke_armed, false);
	WRITE_ONCE(vpdev->revoked, false);
}

/**
 * vfio_pci_revoke_close() - disarm the revoke at the last close
 * @vpdev: the device (dev_set lock held)
 *
 * Does not wait for a running work, which may be waiting for the dev_set
 * lock: it will find the device closed, or not armed.
 */
void vfio_pci_revoke_close(struct vfio_pci_ng_device *vpdev)
{
	lockdep_assert_held(&vpdev->vdev.dev_set->lock);
	WRITE_ONCE(vpdev->revoke_armed, false);
	cancel_delayed_work(&vpdev->revoke_work);
}

/**
 * vfio_pci_revoke_request() - a removal request: arm the revoke
 * @vpdev: the device; from the request op, without the dev_set lock
 *
 * Arms the work policy.revoke_timeout_ms after the first request; later
 * requests leave a pending work as it is (and arm it again if a work found
 * the device closed in between, as after a close and a new open on 6.1).
 * Nothing with a timeout of 0 or once the access is revoked.
 */
void vfio_pci_revoke_request(struct vfio_pci_ng_device *vpdev)
{
	unsigned int ms = READ_ONCE(vpdev->policy.revoke_timeout_ms);

	if (!ms || vfio_pci_revoked(vpdev))
		return;
	WRITE_ONCE(vpdev->revoke_armed, true);
	schedule_delayed_work(&vpdev->revoke_work, msecs_to_jiffies(ms));
}

/**
 * vfio_pci_revoke_sync() - make sure the revoke work is over, at remove
 * @vpdev: the device, after vfio_unregister_group_dev() returned: closed,
 *	and no request can arm the work again
 */
void vfio_pci_revoke_sync(struct vfio_pci_ng_device *vpdev)
{
	cancel_delayed_work_sync(&vpdev->revoke_work);
}
