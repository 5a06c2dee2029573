// SPDX-License-Identifier: GPL-2.0-only
/* vfio-pci-ng: reset health: after every reset, does the function still answer as itself? */
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/*
 * A reset, or a way back from a low power state, can leave a function
 * dead: its config space reads all ones (it fell off the link, stays in
 * D3cold, or was surprise-removed), or something else answers in its
 * place.  The in-tree driver carries on and the user finds out at the
 * next VM start.  We check the identity the function had at probe after
 * every reset and every runtime resume.
 *
 * A dead function is marked (@dead, debugfs "health", the vfio_pci_health
 * event) and said so once in the log, and the next open tries to bring it
 * back: the open's reset, then a bus or slot reset where the dev_set
 * permits one (every function it reaches is ours and none of them is open
 * by anybody else).  The open fails with -ENODEV while it stays dead.  A
 * function-level reset (FLR, PM) is not an escalation for a function that
 * does not answer config requests: both are config writes to it.  After
 * VFIO_DEVICE_RESET or a hot reset, a dead function fails the ioctl with
 * -EIO; the bus reset of the set waits for the last close, where the
 * vfio core holds the dev_set lock that serializes it.
 */

/* A VF's vendor and device IDs read all ones (SR-IOV): its class does not. */
static bool vfio_pci_identity(struct pci_dev *pdev, u32 *id)
{
	int pos = pdev->is_virtfn ? PCI_CLASS_REVISION : PCI_VENDOR_ID;

	if (pci_read_config_dword(pdev, pos, id) || PCI_POSSIBLE_ERROR(*id))
		return false;
	if (pdev->is_virtfn)
		*id >>= 8;
	return true;
}

/**
 * vfio_pci_health_init() - remember the function's identity and config, at probe
 * @vpdev: the device
 *
 * The identity is read from the hardware rather than taken from the PCI
 * core, whose quirks may have changed its copy.  The config state is what
 * a function that comes back from the dead gets: the reset that revived it
 * restored what the PCI core saved of a function that did not answer.
 */
void vfio_pci_health_init(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;

	if (!vfio_pci_identity(pdev, &vpdev->health_id))
		vpdev->health_id = pdev->is_virtfn ? pdev->class :
				   pdev->vendor | (u32)pdev->device << 16;
	pci_save_state(pdev);
	vpdev->probe_state = pci_store_saved_state(pdev);
}

/**
 * vfio_pci_health_exit() - free what vfio_pci_health_init() kept
 * @vpdev: the device, at release
 */
void vfio_pci_health_exit(struct vfio_pci_ng_device *vpdev)
{
	kfree(vpdev->probe_state);
	vpdev->probe_state = NULL;
}

/**
 * vfio_pci_health_answers() - whether the function answers as itself
 * @vpdev: the device, awake (D0 or D3hot: config space answers there)
 *
 * Return: true if its identity reads as at probe.
 */
bool vfio_pci_health_answers(struct vfio_pci_ng_device *vpdev)
{
	u32 id;

	return vfio_pci_identity(vpdev->pdev, &id) && id == vpdev->health_id;
}

/* Record whether the function answered (@ok); report a change once. */
static bool vfio_pci_health_note(struct vfio_pci_ng_device *vpdev,
				 unsigned int scope, bool ok)
{
	struct pci_dev *pdev = vpdev->pdev;

	/* Checks may race (a resume and a reset): one of them reports. */
	if (xchg(&vpdev->dead, !ok) == !ok)
		return ok;	/* no change */
	trace_vfio_pci_health(pdev, scope, ok);
	if (ok) {
		/* Whatever was restored into it was read while it was dead. */
		if (vpdev->probe_state &&
		    !pci_load_saved_state(pdev, vpdev->probe_state))
			pci_restore_state(pdev);
		/* The probe state has DisINTx clear: park an open one again. */
		if (vpdev->vdev.open_count)
			vfio_pci_intx_park(vpdev);
		pci_info(pdev, "answers again after %s: config state of probe restored\n",
			 vfio_pci_reset_scope_name(scope));
	} else {
		pci_err(pdev, "does not answer as %08x after %s: dead, opens fail with ENODEV until it answers again\n",
			vpdev->health_id, vfio_pci_reset_scope_name(scope));
	}
	return ok;
}

/**
 * vfio_pci_health_check() - check the function after a reset or resume
 * @vpdev: the device, awake
 * @scope: VFIO_PCI_RESET_* of what was just done
 *
 * Marks the function dead, or alive again, saying so once per change in
 * the log and through the vfio_pci_health event.
 *
 * Return: true if it answers.
 */
bool vfio_pci_health_check(struct vfio_pci_ng_device *vpdev,
			   unsigned int scope)
{
	return vfio_pci_health_note(vpdev, scope,
				    vfio_pci_health_answers(vpdev));
}

/**
 * vfio_pci_health_recover() - check the function at open or close; escalate
 * @vpdev: the device, awake, being opened or closed
 * @scope: VFIO_PCI_RESET_OPEN or VFIO_PCI_RESET_CLOSE
 *
 * A function that does not answer gets a bus or slot reset where the
 * dev_set permits one.  Called with the dev_set lock held, as the vfio core
 * holds it around open_device and close_device.
 *
 * Return: 0 if the function answers, -ENODEV if it is dead.
 */
int vfio_pci_health_recover(struct vfio_pci_ng_device *vpdev,
			    unsigned int scope)
{
	if (vfio_pci_health_answers(vpdev)) {
		vfio_pci_health_note(vpdev, scope, true);
		return 0;
	}
	/* No reset for a function its hotplug driver found gone. */
	if (READ_ONCE(vpdev->pdev->error_state) != pci_channel_io_perm_failure)
		vfio_pci_devset_reset_alone(vpdev, VFIO_PCI_RESET_HEALTH);
	return vfio_pci_health_check(vpdev, scope) ? 0 : -ENODEV;
}

/**
 * vfio_pci_health_resume() - check the function back from runtime suspend
 * @vpdev: the device, just resumed by the PCI core
 *
 * A function the PCI core could not bring back from D3cold (it still
 * records D3cold then) stops using D3cold, and says so once.
 */
void vfio_pci_health_resume(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;

	if (vfio_pci_health_check(vpdev, VFIO_PCI_RESET_RESUME) ||
	    READ_ONCE(pdev->current_state) != PCI_D3cold || vpdev->d3cold_broken)
		return;
	vpdev->d3cold_broken = true;
	pci_d3cold_disable(pdev);
	pci_warn(pdev, "did not come back from D3cold: D3cold disabled for it\n");
}
