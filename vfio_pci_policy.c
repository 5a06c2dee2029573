// SPDX-License-Identifier: GPL-2.0-only
/* vfio-pci-ng: per-device policy; the module parameters are its defaults. */
#include <linux/moduleparam.h>

#include "vfio_pci_private.h"

static bool nointxmask;
module_param_named(nointxmask, nointxmask, bool, 0444);
MODULE_PARM_DESC(nointxmask, "Disable support for PCI 2.3 style INTx masking.  If this resolves problems for specific devices, report lspci -vvvxxx to linux-pci@vger.kernel.org so the device can be fixed automatically via the broken_intx_masking flag.");

static bool disable_idle_d3;
module_param(disable_idle_d3, bool, 0444);
MODULE_PARM_DESC(disable_idle_d3, "Disable using the PCI D3 low power state for idle, unused devices (latched per device when it is bound)");

static unsigned int revoke_timeout_ms;
module_param(revoke_timeout_ms, uint, 0644);
MODULE_PARM_DESC(revoke_timeout_ms, "Default per-device revoke timeout: when a device is being removed and its user has not released it this many ms after the first request, revoke the user's access (0: wait for the user forever, as in-tree)");

/**
 * vfio_pci_policy_init() - set a new device's policy to the defaults
 * @vpdev: the device, at probe
 */
void vfio_pci_policy_init(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_policy *policy = &vpdev->policy;

	policy->nointxmask = nointxmask;
	policy->idle_d3 = !disable_idle_d3;
	policy->d3cold_allowed = true;
	policy->reset_on_open = true;
	policy->unassigned_config = VFIO_PCI_UNASSIGNED_ALLOW;
	policy->revoke_timeout_ms = revoke_timeout_ms;
}
