/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio-pci-ng: internal definitions shared by the driver's source files.
 */
#ifndef VFIO_PCI_PRIVATE_H
#define VFIO_PCI_PRIVATE_H

#include <linux/bitmap.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

#include "vfio_pci_compat.h"
#include "vfio_pci_debug.h"

#define VFIO_PCI_NG_VERSION	"0.1.0"

/* Region offsets in the device fd: index << 40, as the uAPI prescribes. */
#define VFIO_PCI_OFFSET_SHIFT	40
#define VFIO_PCI_OFFSET_TO_INDEX(off)	((off) >> VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_INDEX_TO_OFFSET(index)	((u64)(index) << VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_OFFSET_MASK	(((u64)1 << VFIO_PCI_OFFSET_SHIFT) - 1)

#define VFIO_PCI_NUM_BARS	(PCI_STD_RESOURCE_END + 1)

/*
 * The VGA region: offsets are legacy bus addresses, from 0 up to the end of
 * the VGA memory window at 0xbffff; only the windows below are backed.
 */
#define VFIO_PCI_VGA_REGION_SIZE	0xc0000
#define VFIO_PCI_VGA_MEM_START		0xa0000
#define VFIO_PCI_VGA_MEM_END		0xc0000
#define VFIO_PCI_VGA_MONO_IO_START	0x3b0
#define VFIO_PCI_VGA_MONO_IO_END	0x3bc
#define VFIO_PCI_VGA_IO_START		0x3c0
#define VFIO_PCI_VGA_IO_END		0x3e0

struct eventfd_ctx;
struct vfio_pci_devset_key;
struct vfio_pci_irq_ctx;
struct vfio_pci_vf_token;
struct vfio_pci_vconfig;

/* Config accesses outside every known capability (policy "unassigned_config"). */
enum vfio_pci_unassigned {
	VFIO_PCI_UNASSIGNED_ALLOW,	/* pass through, as in-tree */
	VFIO_PCI_UNASSIGNED_AUDIT,	/* pass through, log each offset once */
	VFIO_PCI_UNASSIGNED_BLOCK,	/* writes dropped, reads all ones */
};

/**
 * struct vfio_pci_policy - per-device policy (vfio_pci_policy.c)
 *
 * Set from the module parameters at probe; changed through sysfs
 * (vfio-pci-ng/ in the PCI device's directory) only while the device is not
 * open, under the dev_set lock, so that an open device reads it unlocked.
 *
 * @nointxmask: do not mask INTx with DisINTx (PCI 2.3); applied at open.
 * @idle_d3: the device may sleep in D3 while nobody has it open; while it
 *	is off we hold a runtime PM reference (probe: vfio_pci_pm_init()).
 * @d3cold_allowed: low power states may go down to D3cold.
 * @reset_on_open: reset the function at open.
 * @unassigned_config: enum vfio_pci_unassigned.
 * @revoke_timeout_ms: on removal, revoke the holder's access this long
 *	after the first request to release the device; 0: never (in-tree).
 * @no_d3cold_set: d3cold_allowed=0 set pdev->no_d3cold, which we clear
 *	again when it goes back to 1 and at remove; under the dev_set lock.
 * @audited: unassigned_config=audit: per config byte, whether an access
 *	was logged since the last open (atomic bit operations).
 */
struct vfio_pci_policy {
	bool nointxmask;
	bool idle_d3;
	bool d3cold_allowed;
	bool reset_on_open;
	u8 unassigned_config;
	unsigned int revoke_timeout_ms;
	bool no_d3cold_set;
	DECLARE_BITMAP(audited, PCI_CFG_SPACE_EXP_SIZE);
};

/**
 * struct vfio_pci_ng_device - one PCI function bound to vfio-pci-ng
 * @vdev: the vfio core's device; must stay the first member, the core
 *	allocates our struct around it (vfio_alloc_device()).
 * @pdev: the PCI function.
 * @set_key: our reset-scope object whose address is the dev_set id, or
 *	NULL when the device is alone in its set.
 * @memory_lock: read side held for every access that needs memory decode
 *	(BAR read/write, mmap faults); write side held while decode, power
 *	state or reset changes it.
 * @igate: serializes interrupt configuration.
 * @msix_bar: BAR holding the MSI-X table, or -1 without MSI-X.
 * @msix_offset: offset of the MSI-X table in @msix_bar.
 * @msix_size: size of the MSI-X table in bytes.
 * @bar_mmap_ok: per BAR, whether userspace may mmap it (probed at open).
 * @barmap: per BAR, the kernel mapping used by read/write (set up lazily).
 * @barmap_lock: serializes BAR mapping setup and ROM mapping.
 * @ioeventfds: the device's ioeventfds, under @ioeventfds_lock.
 * @ioeventfds_lock: protects @ioeventfds and @num_ioeventfds.
 * @num_ioeventfds: length of @ioeventfds.
 * @map_inode: private inode whose address space holds the user mappings of
 *	the BARs, on kernels whose vfio core has no per-device inode.
 * @dummy_resources: page remainders reserved behind sub-page BARs.
 * @saved_state: config state saved at open, restored at close.
 * @vconfig: the virtual config space (vfio_pci_config.c), NULL while closed.
 * @irq_type: the VFIO_PCI_*_IRQ_INDEX userspace enabled, or
 *	VFIO_PCI_NUM_IRQS for none; changed under @igate.
 * @ctx: per-vector interrupt state (vfio_pci_intrs.c), @num_ctx entries.
 * @num_ctx: entries in @ctx.
 * @irqlock: INTx mask state against the interrupt handler; also every
 *	read-modify-write of the hardware command register while the device
 *	is open (vfio_pci_command_update()), so that INTx masking, decode
 *	changes and config writes never undo each other's bits.
 * @err_trigger: eventfd signalled on AER errors (RCU, set under @igate).
 * @req_trigger: eventfd signalled to ask for the device back (RCU).
 * @pci_2_3: INTx is masked with DisINTx (PCI 2.3) and the line may be
 *	shared; latched at open.
 * @msi_qmax: log2 of the MSI vectors userspace may enable; shown in the
 *	virtual MSI capability.
 * @virq_disabled: userspace set INTx-disable in the virtual command register.
 * @pm_save: config state saved before D3hot for a device without
 *	No_Soft_Reset, restored on the way back to D0.
 * @pm_wake_trigger: eventfd signalled when a low power state entered with
 *	wakeup ends.
 * @pm_runtime_engaged: userspace put the open device in low power.
 * @pm_intx_masked: runtime suspend masked INTx, which stays masked until
 *	resume; under @irqlock.
 * @intx_closed_masked: the last close set DisINTx, which the next open
 *	clears; under the dev_set lock.
 * @sriov_active: the PF has VFs: it must stay in D0.
 * @vf_token: PF only: the VF token shared with the users of its VFs.
 * @sriov_pf: VF only: our PF device, when the PF is bound to us.
 * @reset_works: a function reset succeeded at open (with reset_on_open
 *	off: the PCI core has a reset method for the function).
 * @needs_reset: the last close could not reset the function; a bus reset
 *	of the dev_set will, once no member is open.
 * @nointx: INTx is unusable (no pin, not connected, or broken); set at open.
 * @broken_intx: the device's INTx is known broken and nointxmask is off:
 *	DisINTx stays set; set at open.
 * @broken_intx_quirk: the device is on the list of broken INTx.
 * @pcie: the function has a PCI Express capability.
 * @has_vga: a VGA-class function registered with the VGA arbiter whose
 *	legacy ranges the user may access (!disable_vga at probe).
 * @health_id: the identity read at probe: vendor and device ID, or a VF's
 *	class (vfio_pci_health.c).
 * @probe_state: the config state at probe, for a function that comes back
 *	from the dead.
 * @dead: the function stopped answering as itself after a reset or resume.
 * @d3cold_broken: the function did not come back from runtime suspend:
 *	D3cold is disabled for it.
 * @policy: per-device policy (vfio_pci_policy.c).
 * @revoke_work: revokes the holder's access when it has not released the
 *	device @policy.revoke_timeout_ms after a removal request
 *	(vfio_pci_revoke.c).
 * @revoke_armed: a removal request armed @revoke_work; set by the request,
 *	cleared at open and close and by the work, read under the dev_set
 *	lock.
 * @revoked: the holder's access is revoked: every entry point fails; set
 *	by @revoke_work under the dev_set lock, cleared at the next open.
 * @debug: counters, reset history and debugfs (vfio_pci_debug.h).
 *
 * Flags written after open are plain bools, never bitfields sharing a word
 * with other flags, so that unlocked writers cannot corrupt each other.
 */
struct vfio_pci_ng_device {
	struct vfio_device vdev;
	struct pci_dev *pdev;
	struct vfio_pci_devset_key *set_key;
	struct rw_semaphore memory_lock;
	struct mutex igate;	/* serializes interrupt setup */
	int msix_bar;
	u32 msix_offset;
	u32 msix_size;
	bool bar_mmap_ok[VFIO_PCI_NUM_BARS];
	void __iomem *barmap[VFIO_PCI_NUM_BARS];
	struct mutex barmap_lock;	/* see above */
	struct list_head ioeventfds;
	struct mutex ioeventfds_lock;	/* see above */
	unsigned int num_ioeventfds;
	struct inode *map_inode;
	struct list_head dummy_resources;
	struct pci_saved_state *saved_state;
	struct vfio_pci_vconfig *vconfig;
	int irq_type;
	struct vfio_pci_irq_ctx *ctx;
	unsigned int num_ctx;
	spinlock_t irqlock;		/* see above */
	struct eventfd_ctx __rcu *err_trigger;
	struct eventfd_ctx __rcu *req_trigger;
	bool pci_2_3;
	u8 msi_qmax;
	bool virq_disabled;
	struct pci_saved_state *pm_save;
	struct eventfd_ctx *pm_wake_trigger;
	bool pm_runtime_engaged;
	bool pm_intx_masked;
	bool intx_closed_masked;
	bool sriov_active;
	struct vfio_pci_vf_token *vf_token;
	struct vfio_pci_ng_device *sriov_pf;
	bool reset_works;
	bool needs_reset;
	bool nointx;
	bool broken_intx;
	bool broken_intx_quirk;
	bool pcie;
	bool has_vga;
	u32 health_id;
	struct pci_saved_state *probe_state;
	bool dead;
	bool d3cold_broken;
	struct vfio_pci_policy policy;
	struct delayed_work revoke_work;
	bool revoke_armed;
	bool revoked;
	struct vfio_pci_debug debug;
};

static inline struct vfio_pci_ng_device *to_vpdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfio_pci_ng_device, vdev);
}

/*
 * The holder's access was revoked (vfio_pci_revoke.c).  Unlocked at the
 * entry points; paths that could undo the revoke check it again under the
 * lock the revoke takes after setting it.
 */
static inline bool vfio_pci_revoked(struct vfio_pci_ng_device *vpdev)
{
	return READ_ONCE(vpdev->revoked);
}

/*
 * User copies of a register: 1, 2, 4 or 8 bytes, each a size known at
 * compile time, which the compiler turns into single moves and for which
 * hardened usercopy has nothing to check at run time.  Any other size, or
 * one larger than the kernel object (@size, normally a constant that lets
 * the compiler drop the larger cases), copies nothing and fails (returns
 * @n).
 */
static inline unsigned long vfio_pci_copy_from_user_small(void *to, size_t size,
							  const void __user *from,
							  size_t n)
{
	if (n > size)
		return n;
	switch (n) {
	case 1:
		return copy_from_user(to, from, 1);
	case 2:
		return copy_from_user(to, from, 2);
	case 4:
		return copy_from_user(to, from, 4);
	case 8:
		return copy_from_user(to, from, 8);
	default:
		return n;
	}
}

static inline unsigned long vfio_pci_copy_to_user_small(void __user *to,
							const void *from,
							size_t size, size_t n)
{
	if (n > size)
		return n;
	switch (n) {
	case 1:
		return copy_to_user(to, from, 1);
	case 2:
		return copy_to_user(to, from, 2);
	case 4:
		return copy_to_user(to, from, 4);
	case 8:
		return copy_to_user(to, from, 8);
	default:
		return n;
	}
}

/* vfio_pci_core.c */
int __vfio_pci_command_update(struct vfio_pci_ng_device *vpdev, u16 clear,
			      u16 set, u16 *old);
int vfio_pci_command_update(struct vfio_pci_ng_device *vpdev, u16 clear,
			    u16 set, u16 *old);
u16 vfio_pci_memory_lock_and_enable(struct vfio_pci_ng_device *vpdev);
void vfio_pci_memory_unlock_and_restore(struct vfio_pci_ng_device *vpdev,
					u16 cmd);
int vfio_pci_memory_lock_and_wake(struct vfio_pci_ng_device *vpdev, u16 *cmd,
				  pci_power_t *state);
void vfio_pci_memory_unlock_and_sleep(struct vfio_pci_ng_device *vpdev,
				      u16 cmd, pci_power_t state);
void vfio_pci_probe_mmaps(struct vfio_pci_ng_device *vpdev);
void vfio_pci_release_mmap_reservations(struct vfio_pci_ng_device *vpdev);
void vfio_pci_zap_and_down_write_memory_lock(struct vfio_pci_ng_device *vpdev);
int vfio_pci_set_power_state(struct vfio_pci_ng_device *vpdev,
			     pci_power_t state);
int vfio_pci_set_power_state_locked(struct vfio_pci_ng_device *vpdev,
				    pci_power_t state);
int vfio_pci_devset_reset_alone(struct vfio_pci_ng_device *vpdev,
				unsigned int scope);
void vfio_pci_wake_for_teardown(struct vfio_pci_ng_device *vpdev);

/* vfio_pci_intrs.c */
int vfio_pci_irq_count(struct vfio_pci_ng_device *vpdev, unsigned int index);
long vfio_pci_ioctl_get_irq_info(struct vfio_pci_ng_device *vpdev,
				 struct vfio_irq_info __user *uarg);
long vfio_pci_ioctl_set_irqs(struct vfio_pci_ng_device *vpdev,
			     struct vfio_irq_set __user *uarg);
void vfio_pci_irqs_teardown(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_intx_park(struct vfio_pci_ng_device *vpdev);
void vfio_pci_signal_err(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_signal_req(struct vfio_pci_ng_device *vpdev, unsigned int count);
void vfio_pci_intx_pm_mask(struct vfio_pci_ng_device *vpdev);
void vfio_pci_intx_pm_unmask(struct vfio_pci_ng_device *vpdev);
void vfio_pci_intx_virt_disable(struct vfio_pci_ng_device *vpdev, bool disable);

/* vfio_pci_health.c */
void vfio_pci_health_init(struct vfio_pci_ng_device *vpdev);
void vfio_pci_health_exit(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_health_answers(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_health_check(struct vfio_pci_ng_device *vpdev,
			   unsigned int scope);
int vfio_pci_health_recover(struct vfio_pci_ng_device *vpdev,
			    unsigned int scope);
void vfio_pci_health_resume(struct vfio_pci_ng_device *vpdev);

/* vfio_pci_policy.c */
void vfio_pci_policy_init(struct vfio_pci_ng_device *vpdev);
void vfio_pci_policy_open(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_policy_reset_probe(struct vfio_pci_ng_device *vpdev);
bool vfio_pci_policy_unassigned(struct vfio_pci_ng_device *vpdev,
				unsigned int pos, unsigned int len,
				bool iswrite);
int vfio_pci_policy_add(struct vfio_pci_ng_device *vpdev);
void vfio_pci_policy_remove(struct vfio_pci_ng_device *vpdev);
void vfio_pci_policy_exit(struct vfio_pci_ng_device *vpdev);

/* vfio_pci_revoke.c */
void vfio_pci_revoke_init(struct vfio_pci_ng_device *vpdev);
void vfio_pci_revoke_open(struct vfio_pci_ng_device *vpdev);
void vfio_pci_revoke_close(struct vfio_pci_ng_device *vpdev);
void vfio_pci_revoke_request(struct vfio_pci_ng_device *vpdev);
void vfio_pci_revoke_sync(struct vfio_pci_ng_device *vpdev);

/* vfio_pci_rdwr.c */
void __iomem *vfio_pci_bar_iomap(struct vfio_pci_ng_device *vpdev, int bar);
void vfio_pci_bar_iounmap_all(struct vfio_pci_ng_device *vpdev);
long vfio_pci_ioctl_ioeventfd(struct vfio_pci_ng_device *vpdev,
			      struct vfio_device_ioeventfd __user *uarg);
void vfio_pci_ioeventfd_remove_all(struct vfio_pci_ng_device *vpdev);
ssize_t vfio_pci_read(struct vfio_device *core_vdev, char __user *buf,
		      size_t count, loff_t *ppos);
ssize_t vfio_pci_write(struct vfio_device *core_vdev, const char __user *buf,
		       size_t count, loff_t *ppos);

/* vfio_pci_config.c */
int vfio_pci_config_init(struct vfio_pci_ng_device *vpdev);
void vfio_pci_config_exit(struct vfio_pci_ng_device *vpdev);
void vfio_pci_config_lock(struct vfio_pci_ng_device *vpdev);
void vfio_pci_config_unlock(struct vfio_pci_ng_device *vpdev);
ssize_t vfio_pci_config_rw(struct vfio_pci_ng_device *vpdev, char __user *buf,
			   size_t count, loff_t *ppos, bool iswrite);
bool vfio_pci_memory_enabled(struct vfio_pci_ng_device *vpdev);
int __init vfio_pci_perm_bits_init(void);
void vfio_pci_perm_bits_exit(void);

#endif /* VFIO_PCI_PRIVATE_H */
