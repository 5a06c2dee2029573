// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: per-device policy; the module parameters are its defaults.
 *
 * Each device bound to us has a sysfs group "vfio-pci-ng" in its PCI
 * device directory, from the end of probe to the start of remove, with one
 * attribute per policy value.  Reading one shows the value in effect;
 * writing one is allowed only while the device is not open: the write
 * takes the vfio core's dev_set lock, under which the core opens and closes
 * the device and changes open_count, and fails with -EBUSY while the
 * device is open.  An open device therefore reads its policy without a
 * lock.  Bad input fails with -EINVAL and changes nothing.
 *
 * What depends on a value is recomputed at the next open
 * (vfio_pci_policy_open()), except for idle_d3 and d3cold_allowed, which
 * act on the closed device at once, and revoke_timeout_ms, which only the
 * removal path reads.
 */
#include <linux/bitmap.h>
#include <linux/kstrtox.h>
#include <linux/moduleparam.h>
#include <linux/pm_runtime.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "vfio_pci_private.h"

/* Upper bound of revoke_timeout_ms: one hour. */
#define VFIO_PCI_REVOKE_TIMEOUT_MAX_MS	3600000U

static const char * const vfio_pci_unassigned_names[] = {
	[VFIO_PCI_UNASSIGNED_ALLOW] = "allow",
	[VFIO_PCI_UNASSIGNED_AUDIT] = "audit",
	[VFIO_PCI_UNASSIGNED_BLOCK] = "block",
};

static bool nointxmask;
module_param_named(nointxmask, nointxmask, bool, 0444);
MODULE_PARM_DESC(nointxmask, "Disable support for PCI 2.3 style INTx masking.  If this resolves problems for specific devices, report lspci -vvvxxx to linux-pci@vger.kernel.org so the device can be fixed automatically via the broken_intx_masking flag.  Default of the per-device sysfs attribute vfio-pci-ng/nointxmask");

static bool disable_idle_d3;
module_param(disable_idle_d3, bool, 0444);
MODULE_PARM_DESC(disable_idle_d3, "Disable using the PCI D3 low power state for idle, unused devices (latched per device when it is bound; the per-device sysfs attribute vfio-pci-ng/idle_d3 changes it later)");

static unsigned int revoke_timeout_ms;
module_param(revoke_timeout_ms, uint, 0644);
MODULE_PARM_DESC(revoke_timeout_ms, "Default per-device revoke timeout: when a device is being removed and its user has not released it this many ms after the first request, revoke the user's access (0: wait for the user forever, as in-tree)");

static u8 unassigned_config = VFIO_PCI_UNASSIGNED_ALLOW;

static int vfio_pci_unassigned_param_set(const char *val,
					 const struct kernel_param *kp)
{
	int ret = sysfs_match_string(vfio_pci_unassigned_names, val);

	if (ret < 0)
		return -EINVAL;
	WRITE_ONCE(*(u8 *)kp->arg, ret);
	return 0;
}

static int vfio_pci_unassigned_param_get(char *buffer,
					 const struct kernel_param *kp)
{
	u8 v = READ_ONCE(*(u8 *)kp->arg);

	return scnprintf(buffer, PAGE_SIZE, "%s\n",
			 vfio_pci_unassigned_names[v]);
}

static const struct kernel_param_ops vfio_pci_unassigned_param_ops = {
	.set = vfio_pci_unassigned_param_set,
	.get = vfio_pci_unassigned_param_get,
};

module_param_cb(unassigned_config, &vfio_pci_unassigned_param_ops,
		&unassigned_config, 0644);
MODULE_PARM_DESC(unassigned_config, "Default per-device handling of config space that no known capability covers: allow (pass through, as in-tree), audit (pass through, log each offset once per open) or block (writes dropped, reads all ones)");

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
	policy->unassigned_config = READ_ONCE(unassigned_config);
	policy->revoke_timeout_ms = READ_ONCE(revoke_timeout_ms);
}

/**
 * vfio_pci_policy_open() - apply the policy at the first open
 * @vpdev: the device, under the dev_set lock, before anything reads the
 *	INTx flags
 *
 * Recomputes the INTx state that depends on nointxmask: a device on the
 * broken INTx list is masked (INTx hidden, DisINTx kept set) unless
 * nointxmask asks for the exclusive-line mode; INTx is unusable without a
 * pin, without a connected interrupt, on a VF, or when broken.  Forgets
 * which unassigned config offsets were audited: each is logged again once
 * in this open.
 */
void vfio_pci_policy_open(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;

	vpdev->broken_intx = !vpdev->policy.nointxmask &&
			     vpdev->broken_intx_quirk;
	vpdev->nointx = pdev->is_virtfn || !pdev->pin ||
			pdev->irq == IRQ_NOTCONNECTED || vpdev->broken_intx;
	bitmap_zero(vpdev->policy.audited, PCI_CFG_SPACE_EXP_SIZE);
}

/**
 * vfio_pci_policy_reset_probe() - whether a function reset would work
 * @vpdev: the device
 *
 * Stands in for the reset at open when reset_on_open is off: the PCI core
 * has at least one reset method enabled for the function (sysfs
 * reset_method), which is what a function reset would try.
 *
 * Return: true when a function reset is available.
 */
bool vfio_pci_policy_reset_probe(struct vfio_pci_ng_device *vpdev)
{
	return vpdev->pdev->reset_methods[0] != 0;
}

/**
 * vfio_pci_policy_unassigned() - apply unassigned_config to a user access
 * @vpdev: the open device
 * @pos: config offset of the piece; no visible capability owns it
 * @len: its length (1, 2 or 4)
 * @iswrite: direction
 *
 * allow: nothing to do.  audit: the first access to each byte since the
 * open is logged (rate-limited: a line suppressed by the rate limit is not
 * repeated later).  block: the access must not reach the hardware.
 *
 * Return: true when the access is blocked: the caller drops a write and
 * returns all ones for a read.
 */
bool vfio_pci_policy_unassigned(struct vfio_pci_ng_device *vpdev,
				unsigned int pos, unsigned int len,
				bool iswrite)
{
	bool first = false;
	unsigned int i;

	switch (READ_ONCE(vpdev->policy.unassigned_config)) {
	case VFIO_PCI_UNASSIGNED_ALLOW:
		return false;
	case VFIO_PCI_UNASSIGNED_AUDIT:
		for (i = pos; i < pos + len && i < PCI_CFG_SPACE_EXP_SIZE; i++)
			if (!test_and_set_bit(i, vpdev->policy.audited))
				first = true;
		if (first)
			pci_notice_ratelimited(vpdev->pdev,
					       "vfio-pci-ng: unassigned config %s at 0x%03x len %u by pid %d (%s)\n",
					       iswrite ? "write" : "read", pos,
					       len, task_pid_nr(current),
					       current->comm);
		return false;
	default:
		return true;
	}
}

/*
 * sysfs
 */

static struct vfio_pci_ng_device *vfio_pci_policy_dev(struct device *dev)
{
	return dev_get_drvdata(dev);
}

/* Take the dev_set lock for a change: -EBUSY while the device is open. */
static int vfio_pci_policy_lock(struct vfio_pci_ng_device *vpdev)
{
	mutex_lock(&vpdev->vdev.dev_set->lock);
	if (vpdev->vdev.open_count) {
		mutex_unlock(&vpdev->vdev.dev_set->lock);
		return -EBUSY;
	}
	return 0;
}

static void vfio_pci_policy_unlock(struct vfio_pci_ng_device *vpdev)
{
	mutex_unlock(&vpdev->vdev.dev_set->lock);
}

/*
 * idle_d3: probe gave up the PCI core's runtime PM reference when idle_d3
 * was on (vfio_pci_pm_init()); the policy value tells whether we hold one
 * now, which remove gives back.  Called closed, under the dev_set lock.
 */
static int vfio_pci_policy_set_idle_d3(struct vfio_pci_ng_device *vpdev,
				       bool on)
{
	struct device *dev = &vpdev->pdev->dev;
	int ret;

	if (on == vpdev->policy.idle_d3)
		return 0;
	if (on) {
		WRITE_ONCE(vpdev->policy.idle_d3, true);
		pm_runtime_put(dev);
		return 0;
	}
	/* Wake the device, and keep it awake with the reference. */
	ret = pm_runtime_resume_and_get(dev);
	if (ret)
		return ret;
	WRITE_ONCE(vpdev->policy.idle_d3, false);
	return 0;
}

/*
 * d3cold_allowed: the PCI core has two switches that must both allow
 * D3cold: pdev->d3cold_allowed, the administrator's (its sysfs attribute
 * d3cold_allowed), and pdev->no_d3cold, the drivers' and quirks'
 * (pci_d3cold_disable()/pci_d3cold_enable(), which also re-evaluate D3 of
 * the bridges above).  We are a driver: off sets no_d3cold, unless it is
 * already set; we remember that we set it and clear it only to undo our
 * own change, never one of a quirk or of the platform code.  The
 * administrator's switch is never touched, so the two attributes never
 * fight: D3cold needs both to allow it.  As the PCI core's attribute does,
 * the device is woken, so that its next suspend picks the new target
 * state.
 */
static void vfio_pci_policy_set_d3cold(struct vfio_pci_ng_device *vpdev,
				       bool allowed)
{
	struct pci_dev *pdev = vpdev->pdev;
	bool changed = false;

	if (allowed == vpdev->policy.d3cold_allowed)
		return;
	if (!allowed && !pdev->no_d3cold) {
		pci_d3cold_disable(pdev);
		vpdev->policy.no_d3cold_set = true;
		changed = true;
	} else if (allowed && vpdev->policy.no_d3cold_set) {
		vpdev->policy.no_d3cold_set = false;
		pci_d3cold_enable(pdev);
		changed = true;
	}
	WRITE_ONCE(vpdev->policy.d3cold_allowed, allowed);
	if (changed)
		pm_runtime_resume(&pdev->dev);
}

enum vfio_pci_policy_attr {
	VFIO_PCI_POLICY_NOINTXMASK,
	VFIO_PCI_POLICY_IDLE_D3,
	VFIO_PCI_POLICY_D3COLD,
	VFIO_PCI_POLICY_RESET_ON_OPEN,
	VFIO_PCI_POLICY_UNASSIGNED,
	VFIO_PCI_POLICY_REVOKE_TIMEOUT,
};

/* Parse a value of @which: 0 or -EINVAL. */
static int vfio_pci_policy_parse(enum vfio_pci_policy_attr which,
				 const char *buf, unsigned int *val)
{
	bool b;
	int ret;

	switch (which) {
	case VFIO_PCI_POLICY_UNASSIGNED:
		ret = sysfs_match_string(vfio_pci_unassigned_names, buf);
		if (ret < 0)
			return -EINVAL;
		*val = ret;
		return 0;
	case VFIO_PCI_POLICY_REVOKE_TIMEOUT:
		if (kstrtouint(buf, 0, val) ||
		    *val > VFIO_PCI_REVOKE_TIMEOUT_MAX_MS)
			return -EINVAL;
		return 0;
	default:
		if (kstrtobool(buf, &b))
			return -EINVAL;
		*val = b;
		return 0;
	}
}

static ssize_t vfio_pci_policy_store(struct device *dev, const char *buf,
				     size_t count,
				     enum vfio_pci_policy_attr which)
{
	struct vfio_pci_ng_device *vpdev = vfio_pci_policy_dev(dev);
	struct vfio_pci_policy *policy = &vpdev->policy;
	unsigned int val;
	int ret;

	ret = vfio_pci_policy_parse(which, buf, &val);
	if (ret)
		return ret;
	ret = vfio_pci_policy_lock(vpdev);
	if (ret)
		return ret;

	switch (which) {
	case VFIO_PCI_POLICY_NOINTXMASK:
		WRITE_ONCE(policy->nointxmask, val);
		break;
	case VFIO_PCI_POLICY_IDLE_D3:
		ret = vfio_pci_policy_set_idle_d3(vpdev, val);
		break;
	case VFIO_PCI_POLICY_D3COLD:
		vfio_pci_policy_set_d3cold(vpdev, val);
		break;
	case VFIO_PCI_POLICY_RESET_ON_OPEN:
		WRITE_ONCE(policy->reset_on_open, val);
		break;
	case VFIO_PCI_POLICY_UNASSIGNED:
		WRITE_ONCE(policy->unassigned_config, val);
		break;
	case VFIO_PCI_POLICY_REVOKE_TIMEOUT:
		WRITE_ONCE(policy->revoke_timeout_ms, val);
		break;
	}

	vfio_pci_policy_unlock(vpdev);
	return ret ? ret : count;
}

static ssize_t vfio_pci_policy_show(struct device *dev, char *buf,
				    enum vfio_pci_policy_attr which)
{
	struct vfio_pci_policy *policy = &vfio_pci_policy_dev(dev)->policy;
	u8 mode;

	switch (which) {
	case VFIO_PCI_POLICY_NOINTXMASK:
		return sysfs_emit(buf, "%d\n", READ_ONCE(policy->nointxmask));
	case VFIO_PCI_POLICY_IDLE_D3:
		return sysfs_emit(buf, "%d\n", READ_ONCE(policy->idle_d3));
	case VFIO_PCI_POLICY_D3COLD:
		return sysfs_emit(buf, "%d\n",
				  READ_ONCE(policy->d3cold_allowed));
	case VFIO_PCI_POLICY_RESET_ON_OPEN:
		return sysfs_emit(buf, "%d\n",
				  READ_ONCE(policy->reset_on_open));
	case VFIO_PCI_POLICY_UNASSIGNED:
		mode = READ_ONCE(policy->unassigned_config);
		return sysfs_emit(buf, "%s\n", vfio_pci_unassigned_names[mode]);
	case VFIO_PCI_POLICY_REVOKE_TIMEOUT:
		return sysfs_emit(buf, "%u\n",
				  READ_ONCE(policy->revoke_timeout_ms));
	}
	return -EINVAL;
}

#define VFIO_PCI_POLICY_ATTR(_name, _which)				\
static const enum vfio_pci_policy_attr _name##_which = _which;		\
static ssize_t _name##_show(struct device *dev,			\
			    struct device_attribute *attr, char *buf)	\
{									\
	return vfio_pci_policy_show(dev, buf, _name##_which);		\
}									\
static ssize_t _name##_store(struct device *dev,			\
			     struct device_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	return vfio_pci_policy_store(dev, buf, count, _name##_which);	\
}									\
static DEVICE_ATTR_RW(_name)

VFIO_PCI_POLICY_ATTR(nointxmask, VFIO_PCI_POLICY_NOINTXMASK);
VFIO_PCI_POLICY_ATTR(idle_d3, VFIO_PCI_POLICY_IDLE_D3);
VFIO_PCI_POLICY_ATTR(d3cold_allowed, VFIO_PCI_POLICY_D3COLD);
VFIO_PCI_POLICY_ATTR(reset_on_open, VFIO_PCI_POLICY_RESET_ON_OPEN);
VFIO_PCI_POLICY_ATTR(unassigned_config, VFIO_PCI_POLICY_UNASSIGNED);
VFIO_PCI_POLICY_ATTR(revoke_timeout_ms, VFIO_PCI_POLICY_REVOKE_TIMEOUT);

static struct attribute *vfio_pci_policy_attrs[] = {
	&dev_attr_nointxmask.attr,
	&dev_attr_idle_d3.attr,
	&dev_attr_d3cold_allowed.attr,
	&dev_attr_reset_on_open.attr,
	&dev_attr_unassigned_config.attr,
	&dev_attr_revoke_timeout_ms.attr,
	NULL
};

static const struct attribute_group vfio_pci_policy_group = {
	.name = "vfio-pci-ng",
	.attrs = vfio_pci_policy_attrs,
};

/**
 * vfio_pci_policy_add() - publish the policy in sysfs
 * @vpdev: the device, at the end of probe (registered with the vfio core,
 *	so that its dev_set is set)
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_policy_add(struct vfio_pci_ng_device *vpdev)
{
	return device_add_group(&vpdev->pdev->dev, &vfio_pci_policy_group);
}

/**
 * vfio_pci_policy_remove() - withdraw the policy from sysfs
 * @vpdev: the device, at the start of remove
 *
 * Waits for the attribute accesses in progress: the policy no longer
 * changes afterwards.
 */
void vfio_pci_policy_remove(struct vfio_pci_ng_device *vpdev)
{
	device_remove_group(&vpdev->pdev->dev, &vfio_pci_policy_group);
}

/**
 * vfio_pci_policy_exit() - give the PCI core back what the policy changed
 * @vpdev: the device, at remove, closed and out of sysfs
 *
 * Clears the no_d3cold we set for d3cold_allowed=0, as a write of 1 does.
 * The runtime PM reference of idle_d3=0 is vfio_pci_pm_exit()'s.
 */
void vfio_pci_policy_exit(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->policy.no_d3cold_set)
		return;
	vpdev->policy.no_d3cold_set = false;
	pci_d3cold_enable(vpdev->pdev);
}
