// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: interrupts (INTx, MSI, MSI-X, error and request signals).
 *
 * Locking:
 *  - @igate (mutex) serializes every change of the interrupt setup: the
 *    SET_IRQS ioctl, close, and INTx masking from config space writes.
 *  - @irqlock (spinlock, also taken in hard-IRQ context) protects the INTx
 *    mask state against the interrupt handler.
 *  - MSI-X table writes by the PCI core happen with memory decode forced on
 *    under the memory lock (igate -> memory_lock, never the reverse).
 *  - The error and request eventfds are RCU-protected and signalled without
 *    igate: AER calls us with the PCI bus semaphore held, and a hot reset
 *    holds the memory lock while it takes that semaphore, so igate there
 *    would close a three-way deadlock.
 */

#include <linux/eventfd.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqbypass.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/**
 * struct vfio_pci_irq_ctx - one interrupt vector handed to userspace
 * @vpdev: MSI/MSI-X: the device, for the handler's counters (dev_id is us).
 * @index: MSI/MSI-X: VFIO_PCI_MSI_IRQ_INDEX or VFIO_PCI_MSIX_IRQ_INDEX.
 * @vector: MSI/MSI-X: our vector number.
 * @trigger: eventfd signalled on each interrupt, or NULL.
 * @unmask: INTx only: virqfd whose eventfd unmasks the line.
 * @producer: irqbypass producer (MSI/MSI-X), so KVM can post interrupts.
 * @name: name of the host IRQ (/proc/interrupts).
 * @irq: MSI/MSI-X: the host IRQ requested for @trigger, looked up once.
 * @masked: INTx only: masked by us (automask) or by userspace; under irqlock.
 * @allocated: MSI-X only: the vector exists in the PCI core.
 * @set_unlazy: INTx on an exclusive line: we set IRQ_DISABLE_UNLAZY on it.
 */
struct vfio_pci_irq_ctx {
	struct vfio_pci_ng_device *vpdev;
	unsigned int index;
	unsigned int vector;
	struct eventfd_ctx *trigger;
	struct virqfd *unmask;
	struct irq_bypass_producer producer;
	char *name;
	int irq;
	bool masked;
	bool allocated;
	bool set_unlazy;
};

static bool vfio_pci_irq_is(struct vfio_pci_ng_device *vpdev,
			    unsigned int index)
{
	return vpdev->irq_type == index;
}

static bool vfio_pci_irq_none(struct vfio_pci_ng_device *vpdev)
{
	return vpdev->irq_type == VFIO_PCI_NUM_IRQS;
}

/* The ERR irq is offered as the in-tree vfio-pci of this kernel does. */
static bool vfio_pci_has_err_irq(struct vfio_pci_ng_device *vpdev)
{
	return vpdev->pcie || VFIO_PCI_COMPAT_ERR_IRQ_CONVENTIONAL;
}

/*
 * INTx
 */
static void vfio_pci_intx_signal(struct vfio_pci_ng_device *vpdev)
{
	struct eventfd_ctx *trigger = READ_ONCE(vpdev->ctx[0].trigger);

	/* Userspace disabled INTx in the command register: stay quiet. */
	if (trigger && !READ_ONCE(vpdev->virq_disabled))
		vfio_pci_compat_eventfd_signal(trigger);
}

/* virqfd thread: re-signal an interrupt that was pending at unmask. */
static void vfio_pci_intx_signal_thread(void *opaque, void *unused)
{
	vfio_pci_intx_signal(opaque);
}

static irqreturn_t vfio_pci_intx_handler(int irq, void *dev_id)
{
	struct vfio_pci_ng_device *vpdev = dev_id;
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[0];
	irqreturn_t ret = IRQ_NONE;
	bool signal = false;
	unsigned long flags;

	spin_lock_irqsave(&vpdev->irqlock, flags);
	if (!vpdev->pci_2_3) {
		/*
		 * Exclusive line: mask it at the interrupt controller.  A mask
		 * from userspace may have won the lock while this interrupt was
		 * on its way: the line is disabled already and must not be
		 * disabled twice, or the next unmask would leave it dead.  The
		 * device still asserts it, so it comes back after the unmask.
		 */
		if (!ctx->masked) {
			disable_irq_nosync(vpdev->pdev->irq);
			ctx->masked = true;
			signal = true;
		}
		ret = IRQ_HANDLED;
	} else if (!ctx->masked && pci_check_and_mask_intx(vpdev->pdev)) {
		ctx->masked = true;
		ret = IRQ_HANDLED;
		signal = true;
	}
	spin_unlock_irqrestore(&vpdev->irqlock, flags);

	if (signal) {
		vfio_pci_debug_irq(&vpdev->debug, vpdev->pdev,
				   VFIO_PCI_INTX_IRQ_INDEX, 0);
		vfio_pci_intx_signal(vpdev);
	}
	return ret;
}

/* irqlock held.  Returns true if this call masked the line. */
static bool __vfio_pci_intx_mask_locked(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[0];

	if (ctx->masked)
		return false;
	if (vpdev->pci_2_3)
		__vfio_pci_command_update(vpdev, 0, PCI_COMMAND_INTX_DISABLE,
					  NULL);
	else
		disable_irq_nosync(vpdev->pdev->irq);
	ctx->masked = true;
	return true;
}

/* Returns true if this call masked the line. */
static bool __vfio_pci_intx_mask(struct vfio_pci_ng_device *vpdev)
{
	unsigned long flags;
	bool masked;

	spin_lock_irqsave(&vpdev->irqlock, flags);
	masked = __vfio_pci_intx_mask_locked(vpdev);
	spin_unlock_irqrestore(&vpdev->irqlock, flags);
	return masked;
}

/*
 * Returns 1 when the interrupt is still pending: the line stays masked and
 * the caller must signal userspace again, or the interrupt would be lost.
 * May run from an eventfd wakeup (atomic): it never signals itself.
 */
static int __vfio_pci_intx_unmask(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[0];
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&vpdev->irqlock, flags);
	/* Neither the user's INTx-disable nor a suspended function. */
	if (ctx->masked && !vpdev->virq_disabled && !vpdev->pm_intx_masked) {
		if (vpdev->pci_2_3) {
			if (pci_check_and_unmask_intx(vpdev->pdev))
				ctx->masked = false;
			else
				ret = 1;
		} else {
			ctx->masked = false;
			enable_irq(vpdev->pdev->irq);
		}
	}
	spin_unlock_irqrestore(&vpdev->irqlock, flags);
	return ret;
}

/* virqfd handler of the unmask eventfd, in atomic wakeup context. */
static int vfio_pci_intx_unmask_handler(void *opaque, void *unused)
{
	struct vfio_pci_ng_device *vpdev = opaque;

	return vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) ?
		__vfio_pci_intx_unmask(vpdev) : 0;
}

/**
 * vfio_pci_intx_pm_mask() - mask INTx in use, for runtime suspend
 * @vpdev: the device
 *
 * Unless the user masked it already, INTx stays masked, whatever unmask
 * the user asks for (an unmask eventfd fires from any context), until
 * vfio_pci_intx_pm_unmask().  Without INTx in use, nothing changes.
 */
void vfio_pci_intx_pm_mask(struct vfio_pci_ng_device *vpdev)
{
	unsigned long flags;

	mutex_lock(&vpdev->igate);
	if (vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX)) {
		spin_lock_irqsave(&vpdev->irqlock, flags);
		vpdev->pm_intx_masked = __vfio_pci_intx_mask_locked(vpdev);
		spin_unlock_irqrestore(&vpdev->irqlock, flags);
	}
	mutex_unlock(&vpdev->igate);
}

/**
 * vfio_pci_intx_pm_unmask() - undo vfio_pci_intx_pm_mask(), re-signalling
 *	an interrupt still pending
 * @vpdev: the device
 */
void vfio_pci_intx_pm_unmask(struct vfio_pci_ng_device *vpdev)
{
	unsigned long flags;
	bool was;

	mutex_lock(&vpdev->igate);
	spin_lock_irqsave(&vpdev->irqlock, flags);
	was = vpdev->pm_intx_masked;
	vpdev->pm_intx_masked = false;
	spin_unlock_irqrestore(&vpdev->irqlock, flags);
	if (was && vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) &&
	    __vfio_pci_intx_unmask(vpdev) > 0)
		vfio_pci_intx_signal(vpdev);
	mutex_unlock(&vpdev->igate);
}

/**
 * vfio_pci_intx_virt_disable() - apply a change of the INTx-disable bit of
 *	the virtual command register
 * @vpdev: the device
 * @disable: the new value of the bit
 *
 * With INTx in use, masks or unmasks it.  With no interrupt in use, the
 * function stays parked (vfio_pci_intx_park()); under MSI/MSI-X the PCI
 * core owns the bit.
 */
void vfio_pci_intx_virt_disable(struct vfio_pci_ng_device *vpdev, bool disable)
{
	mutex_lock(&vpdev->igate);
	WRITE_ONCE(vpdev->virq_disabled, disable);
	if (vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX)) {
		if (disable)
			__vfio_pci_intx_mask(vpdev);
		else if (__vfio_pci_intx_unmask(vpdev) > 0)
			vfio_pci_intx_signal(vpdev);
	}
	mutex_unlock(&vpdev->igate);
}

/*
 * INTx parking (beyond mainline).
 *
 * While the user has set up no interrupt, a PCI 2.3 function is kept masked
 * with DisINTx in the hardware, whatever the virtual bit says: nobody
 * handles its INTx, and on a level-triggered line shared with host devices
 * an INTx nobody handles makes the kernel disable the whole line ("nobody
 * cared"), taking the other devices with it.  The in-tree driver clears
 * DisINTx at open and lets the user's virtual bit through, which allows
 * that.  The interrupt status still shows in the status register, and an
 * interrupt pending when the user sets up INTx reaches the user: the INTx
 * handler goes on the line first, then the function is unmasked.  Parked
 * at open, after MSI/MSI-X are disabled (the PCI core clears DisINTx then)
 * and when a function comes back from dead with its probe state; INTx
 * disable leaves it masked.  Resets and power transitions save and restore
 * the parked state with the rest.  A function that cannot mask itself (no
 * PCI 2.3 masking, or nointxmask) cannot be parked, as in-tree.  Under
 * @igate, except the health path, which runs under the memory lock and
 * reads the interrupt type once.
 */
static bool __vfio_pci_intx_park(struct vfio_pci_ng_device *vpdev)
{
	if (!vpdev->pci_2_3)
		return false;
	if (vfio_pci_command_update(vpdev, 0, PCI_COMMAND_INTX_DISABLE, NULL)) {
		pci_dbg(vpdev->pdev, "could not park INTx\n");
		return false;
	}
	return true;
}

/**
 * vfio_pci_intx_park() - park the INTx of a function with no interrupt set
 *	up (see above), from outside the interrupt code
 * @vpdev: the device, open
 *
 * For the open and the close (nothing set up, no user) and for a function
 * back from dead (under the memory lock, which nests inside @igate): reads
 * the interrupt type once, without @igate.
 *
 * Return: true if the function is parked now (DisINTx set in the hardware,
 * by this call or before it), false if it cannot be parked, an interrupt is
 * set up, or the write failed.
 */
bool vfio_pci_intx_park(struct vfio_pci_ng_device *vpdev)
{
	return READ_ONCE(vpdev->irq_type) == VFIO_PCI_NUM_IRQS &&
	       __vfio_pci_intx_park(vpdev);
}

static int vfio_pci_alloc_ctx(struct vfio_pci_ng_device *vpdev,
			      unsigned int n)
{
	vpdev->ctx = kcalloc(n, sizeof(*vpdev->ctx), GFP_KERNEL_ACCOUNT);
	if (!vpdev->ctx)
		return -ENOMEM;
	vpdev->num_ctx = n;
	return 0;
}

static void vfio_pci_free_ctx(struct vfio_pci_ng_device *vpdev)
{
	kfree(vpdev->ctx);
	vpdev->ctx = NULL;
	vpdev->num_ctx = 0;
}

static int vfio_pci_intx_enable(struct vfio_pci_ng_device *vpdev,
				struct eventfd_ctx *trigger)
{
	struct pci_dev *pdev = vpdev->pdev;
	struct vfio_pci_irq_ctx *ctx;
	unsigned long irqflags, flags;
	int ret;

	if (vpdev->nointx || !pdev->irq || pdev->irq == IRQ_NOTCONNECTED)
		return -ENODEV;

	ret = vfio_pci_alloc_ctx(vpdev, 1);
	if (ret)
		return ret;
	ctx = &vpdev->ctx[0];
	ctx->name = kasprintf(GFP_KERNEL_ACCOUNT, "vfio-intx(%s)",
			      pci_name(pdev));
	if (!ctx->name) {
		ret = -ENOMEM;
		goto err_ctx;
	}
	ctx->trigger = trigger;

	/*
	 * Start masked if userspace disabled INTx in the virtual command
	 * register.  A PCI 2.3 device masks itself with DisINTx and may share
	 * its line; any other needs the line for itself, and must not have it
	 * enabled before the handler's view of the mask is right.  A PCI 2.3
	 * device stays masked (parked) until our handler is on the line: an
	 * interrupt pending since then reaches the user.
	 */
	ctx->masked = vpdev->virq_disabled;
	if (vpdev->pci_2_3) {
		vfio_pci_command_update(vpdev, 0, PCI_COMMAND_INTX_DISABLE,
					NULL);
		irqflags = IRQF_SHARED;
	} else {
		/* Enabled below, once set up, unless it starts masked. */
		irqflags = IRQF_NO_AUTOEN;
	}

	ret = request_irq(pdev->irq, vfio_pci_intx_handler, irqflags, ctx->name,
			  vpdev);
	if (ret)
		goto err_name;
	if (vpdev->pci_2_3) {
		spin_lock_irqsave(&vpdev->irqlock, flags);
		if (!ctx->masked)
			__vfio_pci_command_update(vpdev,
						  PCI_COMMAND_INTX_DISABLE, 0,
						  NULL);
		spin_unlock_irqrestore(&vpdev->irqlock, flags);
	} else {
		/*
		 * The handler masks with disable_irq_nosync(): that must mask
		 * the line at once, not lazily on the next interrupt, or a
		 * level-triggered line fires again before the user unmasks.
		 * Set only once the line is ours (a refused request must not
		 * touch the owner's settings), and undone at disable only if
		 * it was not set already.
		 */
		ctx->set_unlazy = !irq_check_status_bit(pdev->irq,
							IRQ_DISABLE_UNLAZY);
		if (ctx->set_unlazy)
			irq_set_status_flags(pdev->irq, IRQ_DISABLE_UNLAZY);
		if (!ctx->masked)
			enable_irq(pdev->irq);
	}

	vpdev->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
	return 0;

err_name:
	ctx->trigger = NULL;
	kfree(ctx->name);
	/* Still no interrupt set up: the function stays parked. */
err_ctx:
	vfio_pci_free_ctx(vpdev);
	return ret;
}

/* Swap the trigger of a live INTx setup; returns the old one to put. */
static struct eventfd_ctx *vfio_pci_intx_swap_trigger(struct vfio_pci_ng_device *vpdev,
						      struct eventfd_ctx *trigger)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[0];
	struct eventfd_ctx *old = ctx->trigger;

	WRITE_ONCE(ctx->trigger, trigger);
	/* Nobody may still be signalling the old one once we return. */
	synchronize_irq(vpdev->pdev->irq);
	vfio_virqfd_flush_thread(&ctx->unmask);
	return old;
}

static void vfio_pci_intx_disable(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[0];

	vfio_virqfd_disable(&ctx->unmask);
	/*
	 * Mask the function before its handler leaves the line: nobody
	 * handles its interrupt any more, it stays parked, and its level
	 * drops while the line is still set up.  Freeing a line's last handler
	 * shuts the line down, and an IO-APIC pin is then reprogrammed masked
	 * and edge-triggered: QEMU's IO-APIC ignores a drop seen in edge mode
	 * and keeps the request latched, so the next handler on the line would
	 * get an endless stream of interrupts no device raises.
	 */
	__vfio_pci_intx_mask(vpdev);
	free_irq(vpdev->pdev->irq, vpdev);
	if (ctx->set_unlazy)
		irq_clear_status_flags(vpdev->pdev->irq, IRQ_DISABLE_UNLAZY);
	if (ctx->trigger)
		eventfd_ctx_put(ctx->trigger);
	kfree(ctx->name);
	vfio_pci_free_ctx(vpdev);
	vpdev->irq_type = VFIO_PCI_NUM_IRQS;
}

static int vfio_pci_set_intx_mask(struct vfio_pci_ng_device *vpdev,
				  unsigned int start, unsigned int count,
				  u32 flags, void *data)
{
	if (!vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) || start ||
	    count != 1)
		return -EINVAL;

	if (flags & VFIO_IRQ_SET_DATA_NONE ||
	    (flags & VFIO_IRQ_SET_DATA_BOOL && *(u8 *)data)) {
		__vfio_pci_intx_mask(vpdev);
		return 0;
	}
	if (flags & VFIO_IRQ_SET_DATA_BOOL)
		return 0;
	return -ENOTTY;	/* masking by eventfd is not defined */
}

static int vfio_pci_set_intx_unmask(struct vfio_pci_ng_device *vpdev,
				    unsigned int start, unsigned int count,
				    u32 flags, void *data)
{
	struct vfio_pci_irq_ctx *ctx;
	s32 fd;

	if (!vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) || start ||
	    count != 1)
		return -EINVAL;
	ctx = &vpdev->ctx[0];

	if (flags & VFIO_IRQ_SET_DATA_NONE ||
	    (flags & VFIO_IRQ_SET_DATA_BOOL && *(u8 *)data)) {
		if (__vfio_pci_intx_unmask(vpdev) > 0)
			vfio_pci_intx_signal(vpdev);
		return 0;
	}
	if (flags & VFIO_IRQ_SET_DATA_BOOL)
		return 0;

	fd = *(s32 *)data;
	if (fd < -1)
		return -EINVAL;
	if (fd == -1) {
		vfio_virqfd_disable(&ctx->unmask);
		return 0;
	}
	return vfio_virqfd_enable(vpdev, vfio_pci_intx_unmask_handler,
				  vfio_pci_intx_signal_thread, NULL,
				  &ctx->unmask, fd);
}

static int vfio_pci_set_intx_trigger(struct vfio_pci_ng_device *vpdev,
				     unsigned int start, unsigned int count,
				     u32 flags, void *data)
{
	struct eventfd_ctx *trigger = NULL;
	s32 fd;
	int ret;

	if (vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) && !count &&
	    flags & VFIO_IRQ_SET_DATA_NONE) {
		vfio_pci_intx_disable(vpdev);
		return 0;
	}

	if (!(vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX) ||
	      vfio_pci_irq_none(vpdev)) || start || count != 1)
		return -EINVAL;

	if (!(flags & VFIO_IRQ_SET_DATA_EVENTFD)) {
		/* Loopback: signal the user as if the device interrupted. */
		if (!vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX))
			return -EINVAL;
		if (flags & VFIO_IRQ_SET_DATA_NONE || *(u8 *)data)
			vfio_pci_intx_signal(vpdev);
		return 0;
	}

	fd = *(s32 *)data;
	if (fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		trigger = eventfd_ctx_fdget(fd);
		if (IS_ERR(trigger))
			return PTR_ERR(trigger);
	}

	if (vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX)) {
		struct eventfd_ctx *old = vfio_pci_intx_swap_trigger(vpdev, trigger);

		if (old)
			eventfd_ctx_put(old);
		return 0;
	}

	ret = vfio_pci_intx_enable(vpdev, trigger);
	if (ret && trigger)
		eventfd_ctx_put(trigger);
	return ret;
}

/*
 * MSI and MSI-X
 */
static irqreturn_t vfio_pci_msi_handler(int irq, void *arg)
{
	struct vfio_pci_irq_ctx *ctx = arg;

	vfio_pci_debug_irq(&ctx->vpdev->debug, ctx->vpdev->pdev, ctx->index,
			   ctx->vector);
	vfio_pci_compat_eventfd_signal(ctx->trigger);
	return IRQ_HANDLED;
}

/*
 * Enable MSI or MSI-X with @nvec vectors.  @max is the vector count of the
 * index that SET_IRQS validated the user's range against (nvec <= max): the
 * one count everything is sized from.  The capability is never read again
 * here; the field may change between two reads (a VF whose PF changes its
 * vector count, firmware being flashed), and a second read must not size
 * an array that the first one bounded.
 *
 * Return: 0, the number of vectors available when fewer than @nvec are
 * (nothing enabled), or a negative errno (nothing enabled): the PCI core
 * refuses a function that is not in D0, which userspace can arrange
 * through the PM capability at any time.
 */
static int vfio_pci_msi_enable(struct vfio_pci_ng_device *vpdev,
			       unsigned int nvec, unsigned int max, bool msix)
{
	struct pci_dev *pdev = vpdev->pdev;
	unsigned int flag = msix ? PCI_IRQ_MSIX : PCI_IRQ_MSI;
	unsigned int nctx = nvec, i;
	u16 cmd;
	int ret;

	if (!nvec || nvec > max)
		return -EINVAL;

	/* With dynamic MSI-X, any vector of the table can be added later. */
	if (msix && vfio_pci_compat_msix_can_alloc_dyn(pdev))
		nctx = max;

	ret = vfio_pci_alloc_ctx(vpdev, nctx);
	if (ret)
		return ret;

	/* The PCI core programs the MSI-X table: decode must be on. */
	cmd = vfio_pci_memory_lock_and_enable(vpdev);
	ret = pci_alloc_irq_vectors(pdev, 1, nvec, flag);
	if (ret < 0 || (unsigned int)ret < nvec) {
		if (ret > 0)
			pci_free_irq_vectors(pdev);
		vfio_pci_memory_unlock_and_restore(vpdev, cmd);
		vfio_pci_free_ctx(vpdev);
		/* A partial enable undone cleared DisINTx: park again. */
		__vfio_pci_intx_park(vpdev);
		/* Fewer vectors available: tell the user how many. */
		return ret;
	}
	vfio_pci_memory_unlock_and_restore(vpdev, cmd);

	for (i = 0; i < nvec; i++)
		vpdev->ctx[i].allocated = true;
	vpdev->irq_type = msix ? VFIO_PCI_MSIX_IRQ_INDEX :
				 VFIO_PCI_MSI_IRQ_INDEX;
	/* The virtual MSI capability now offers what was enabled. */
	if (!msix)
		vpdev->msi_qmax = fls(nvec * 2 - 1) - 1;
	return 0;
}

/* The Linux IRQ of a vector, allocating it in a live MSI-X setup. */
static int vfio_pci_msi_vector_irq(struct vfio_pci_ng_device *vpdev,
				   unsigned int vector, bool msix)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[vector];
	int irq;

	if (ctx->allocated)
		return pci_irq_vector(vpdev->pdev, vector);
	if (!msix)
		return -EINVAL;

	irq = vfio_pci_compat_msix_alloc_irq_at(vpdev->pdev, vector);
	if (irq >= 0)
		ctx->allocated = true;
	return irq;
}

static void vfio_pci_msi_vector_release(struct vfio_pci_ng_device *vpdev,
					unsigned int vector)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[vector];
	pci_power_t state;
	u16 cmd;

	irq_bypass_unregister_producer(&ctx->producer);
	/*
	 * free_irq() masks the vector in the MSI-X table: decode on and D0.
	 * The IRQ is freed even if D0 cannot be reached.
	 */
	vfio_pci_memory_lock_and_wake(vpdev, &cmd, &state);
	free_irq(ctx->irq, ctx);
	vfio_pci_memory_unlock_and_sleep(vpdev, cmd, state);
	eventfd_ctx_put(ctx->trigger);
	ctx->trigger = NULL;
	kfree(ctx->name);
	ctx->name = NULL;
}

/*
 * Point @vector at @trigger (NULL: no eventfd).  Consumes the reference on
 * @trigger, also on failure.
 */
static int vfio_pci_msi_vector_set(struct vfio_pci_ng_device *vpdev,
				   unsigned int vector,
				   struct eventfd_ctx *trigger, bool msix)
{
	struct vfio_pci_irq_ctx *ctx = &vpdev->ctx[vector];
	struct pci_dev *pdev = vpdev->pdev;
	pci_power_t state;
	int irq, ret;
	u16 cmd;

	if (ctx->trigger)
		vfio_pci_msi_vector_release(vpdev, vector);
	if (!trigger)
		return 0;

	/* The PCI core writes the MSI-X table: decode on, and D0. */
	ret = vfio_pci_memory_lock_and_wake(vpdev, &cmd, &state);
	if (ret)
		goto err_unlock;
	irq = vfio_pci_msi_vector_irq(vpdev, vector, msix);
	if (irq < 0) {
		ret = irq;
		goto err_unlock;
	}

	ctx->name = kasprintf(GFP_KERNEL_ACCOUNT, "vfio-msi%s[%u](%s)",
			      msix ? "x" : "", vector, pci_name(pdev));
	if (!ctx->name) {
		ret = -ENOMEM;
		goto err_unlock;
	}

	/*
	 * A reset behind our back (a backdoor reset, e.g. a PM transition of
	 * the device) clears the MSI-X table: write the cached message again
	 * before the vector is unmasked by request_irq().
	 */
	if (msix) {
		struct msi_msg msg;

		get_cached_msi_msg(irq, &msg);
		pci_write_msi_msg(irq, &msg);
	}

	/* The handler may run as soon as request_irq() unmasks the vector. */
	ctx->vpdev = vpdev;
	ctx->index = msix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
	ctx->vector = vector;
	ctx->trigger = trigger;
	ret = request_irq(irq, vfio_pci_msi_handler, 0, ctx->name, ctx);
	if (ret)
		goto err_name;
	vfio_pci_memory_unlock_and_sleep(vpdev, cmd, state);

	ctx->irq = irq;
	ret = vfio_pci_compat_irq_bypass_register(&ctx->producer, trigger, irq);
	if (ret)
		pci_info(pdev, "irq bypass producer (token %p) registration fails: %d\n",
			 trigger, ret);
	return 0;

err_name:
	ctx->trigger = NULL;
	kfree(ctx->name);
	ctx->name = NULL;
err_unlock:
	vfio_pci_memory_unlock_and_sleep(vpdev, cmd, state);
	eventfd_ctx_put(trigger);
	return ret;
}

/*
 * Set the eventfds of vectors [start, start + count).  Every eventfd is
 * looked up before any vector changes, so a bad one leaves the vectors as
 * they were; a failure to set up a host IRQ part way removes what this call
 * set up.
 */
static int vfio_pci_msi_set_block(struct vfio_pci_ng_device *vpdev,
				  unsigned int start, unsigned int count,
				  s32 *fds, bool msix)
{
	struct eventfd_ctx **triggers;
	unsigned int i, j;
	int ret = 0;

	if (start >= vpdev->num_ctx || count > vpdev->num_ctx - start)
		return -EINVAL;

	triggers = kcalloc(count, sizeof(*triggers), GFP_KERNEL);
	if (!triggers)
		return -ENOMEM;

	for (i = 0; fds && i < count; i++) {
		if (fds[i] < 0)
			continue;
		triggers[i] = eventfd_ctx_fdget(fds[i]);
		if (IS_ERR(triggers[i])) {
			ret = PTR_ERR(triggers[i]);
			triggers[i] = NULL;
			goto out_put;
		}
	}

	for (i = 0; i < count; i++) {
		ret = vfio_pci_msi_vector_set(vpdev, start + i, triggers[i],
					      msix);
		triggers[i] = NULL;
		if (ret)
			break;
	}
	if (ret) {
		for (j = 0; j < i; j++)
			vfio_pci_msi_vector_set(vpdev, start + j, NULL, msix);
	}

out_put:
	for (i = 0; i < count; i++)
		if (triggers[i])
			eventfd_ctx_put(triggers[i]);
	kfree(triggers);
	return ret;
}

static void vfio_pci_msi_disable(struct vfio_pci_ng_device *vpdev, bool msix)
{
	struct pci_dev *pdev = vpdev->pdev;
	pci_power_t state;
	unsigned int i;
	u16 cmd;

	for (i = 0; i < vpdev->num_ctx; i++)
		if (vpdev->ctx[i].trigger)
			vfio_pci_msi_vector_release(vpdev, i);

	/* Disabling MSI-X masks every table entry: decode on, and D0. */
	vfio_pci_memory_lock_and_wake(vpdev, &cmd, &state);
	pci_free_irq_vectors(pdev);
	vfio_pci_memory_unlock_and_sleep(vpdev, cmd, state);

	/*
	 * Disabling MSI/MSI-X clears DisINTx in the PCI core; put INTx back
	 * under our mask: parked, or not ours to hand out.
	 */
	if (vpdev->nointx)
		vfio_pci_command_update(vpdev, 0, PCI_COMMAND_INTX_DISABLE,
					NULL);
	else
		__vfio_pci_intx_park(vpdev);

	vfio_pci_free_ctx(vpdev);
	vpdev->irq_type = VFIO_PCI_NUM_IRQS;
}

static int vfio_pci_set_msi_trigger(struct vfio_pci_ng_device *vpdev,
				    unsigned int index, unsigned int start,
				    unsigned int count, unsigned int max,
				    u32 flags, void *data)
{
	bool msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
	unsigned int i;
	int ret;

	if (vfio_pci_irq_is(vpdev, index) && !count &&
	    flags & VFIO_IRQ_SET_DATA_NONE) {
		vfio_pci_msi_disable(vpdev, msix);
		return 0;
	}

	if (!(vfio_pci_irq_is(vpdev, index) || vfio_pci_irq_none(vpdev)))
		return -EINVAL;

	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		s32 *fds = data;

		for (i = 0; i < count; i++)
			if (fds[i] < -1)
				return -EINVAL;

		if (vfio_pci_irq_is(vpdev, index))
			return vfio_pci_msi_set_block(vpdev, start, count, fds,
						      msix);

		ret = vfio_pci_msi_enable(vpdev, start + count, max, msix);
		if (ret)
			return ret;
		ret = vfio_pci_msi_set_block(vpdev, start, count, fds, msix);
		if (ret)
			vfio_pci_msi_disable(vpdev, msix);
		return ret;
	}

	/* Loopback signalling of enabled vectors. */
	if (!vfio_pci_irq_is(vpdev, index) || start >= vpdev->num_ctx ||
	    count > vpdev->num_ctx - start)
		return -EINVAL;
	for (i = start; i < start + count; i++) {
		struct eventfd_ctx *trigger = vpdev->ctx[i].trigger;

		if (!trigger)
			continue;
		if (flags & VFIO_IRQ_SET_DATA_NONE ||
		    ((u8 *)data)[i - start])
			vfio_pci_compat_eventfd_signal(trigger);
	}
	return 0;
}

/*
 * Error and request signals
 */
static void vfio_pci_replace_trigger(struct vfio_pci_ng_device *vpdev,
				     struct eventfd_ctx __rcu **slot,
				     struct eventfd_ctx *new)
{
	struct eventfd_ctx *old;

	old = rcu_replace_pointer(*slot, new, lockdep_is_held(&vpdev->igate));
	if (old) {
		/* Signallers run under rcu_read_lock() only. */
		synchronize_rcu();
		eventfd_ctx_put(old);
	}
}

/*
 * ERR and REQ: one eventfd each.  DATA_NONE with count 1 and DATA_BOOL
 * true signal it (loopback), DATA_NONE with count 0 removes it, and an
 * eventfd sets it or, with fd -1, removes it.
 */
static int vfio_pci_set_single_trigger(struct vfio_pci_ng_device *vpdev,
				       struct eventfd_ctx __rcu **slot,
				       unsigned int count, u32 flags,
				       void *data)
{
	struct eventfd_ctx *cur = rcu_dereference_protected(*slot,
					lockdep_is_held(&vpdev->igate));
	struct eventfd_ctx *new = NULL;
	s32 fd;

	if (flags & VFIO_IRQ_SET_DATA_NONE) {
		if (!cur)
			return -EINVAL;
		if (count)
			vfio_pci_compat_eventfd_signal(cur);
		else
			vfio_pci_replace_trigger(vpdev, slot, NULL);
		return 0;
	}

	if (!count)
		return -EINVAL;

	if (flags & VFIO_IRQ_SET_DATA_BOOL) {
		if (*(u8 *)data && cur)
			vfio_pci_compat_eventfd_signal(cur);
		return 0;
	}

	fd = *(s32 *)data;
	if (fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		new = eventfd_ctx_fdget(fd);
		if (IS_ERR(new))
			return PTR_ERR(new);
	}
	vfio_pci_replace_trigger(vpdev, slot, new);
	return 0;
}

/*
 * Signal the eventfd in @slot, if any.  The vfio_pci_signal event is
 * recorded first, so that a user woken by the eventfd finds it in the trace.
 */
static bool vfio_pci_signal_rcu(struct vfio_pci_ng_device *vpdev,
				struct eventfd_ctx __rcu **slot,
				unsigned int index, unsigned int count)
{
	struct eventfd_ctx *trigger;

	rcu_read_lock();
	trigger = rcu_dereference(*slot);
	vfio_pci_trace_signal(vpdev, index, count, trigger);
	if (trigger)
		vfio_pci_compat_eventfd_signal(trigger);
	rcu_read_unlock();
	return trigger;
}

/**
 * vfio_pci_signal_err() - tell userspace about an AER error
 * @vpdev: the device
 *
 * Takes no mutex: called by AER with the PCI bus semaphore held.
 */
void vfio_pci_signal_err(struct vfio_pci_ng_device *vpdev)
{
	vfio_pci_signal_rcu(vpdev, &vpdev->err_trigger, VFIO_PCI_ERR_IRQ_INDEX, 0);
}

/**
 * vfio_pci_signal_req() - ask userspace to release the device
 * @vpdev: the device
 * @count: how many times the vfio core asked before (0: the first)
 *
 * Takes no mutex: called while an unbind waits for the user.
 *
 * Return: true if a request eventfd was registered and signalled.
 */
bool vfio_pci_signal_req(struct vfio_pci_ng_device *vpdev, unsigned int count)
{
	return vfio_pci_signal_rcu(vpdev, &vpdev->req_trigger,
				   VFIO_PCI_REQ_IRQ_INDEX, count);
}

/*
 * SET_IRQS
 */
static int vfio_pci_set_irqs(struct vfio_pci_ng_device *vpdev, u32 flags,
			     unsigned int index, unsigned int start,
			     unsigned int count, unsigned int max, void *data)
{
	u32 action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		switch (action) {
		case VFIO_IRQ_SET_ACTION_MASK:
			return vfio_pci_set_intx_mask(vpdev, start, count,
						      flags, data);
		case VFIO_IRQ_SET_ACTION_UNMASK:
			return vfio_pci_set_intx_unmask(vpdev, start, count,
							flags, data);
		case VFIO_IRQ_SET_ACTION_TRIGGER:
			return vfio_pci_set_intx_trigger(vpdev, start, count,
							 flags, data);
		}
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return vfio_pci_set_msi_trigger(vpdev, index, start,
							count, max, flags,
							data);
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER &&
		    vfio_pci_has_err_irq(vpdev))
			return vfio_pci_set_single_trigger(vpdev,
							   &vpdev->err_trigger,
							   count, flags, data);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return vfio_pci_set_single_trigger(vpdev,
							   &vpdev->req_trigger,
							   count, flags, data);
		break;
	}
	return -ENOTTY;
}

/**
 * vfio_pci_ioctl_set_irqs() - VFIO_DEVICE_SET_IRQS
 * @vpdev: the device
 * @uarg: the user's struct vfio_irq_set and its data
 *
 * Return: 0, a positive vector count when fewer MSI/MSI-X vectors than
 * asked for are available, or a negative errno.
 */
long vfio_pci_ioctl_set_irqs(struct vfio_pci_ng_device *vpdev,
			     struct vfio_irq_set __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	void *data = NULL;
	int max, ret;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;

	/*
	 * The one read of the vector count: the range check below and the
	 * vector array of an MSI/MSI-X enable are both sized from it.
	 */
	max = hdr.index < VFIO_PCI_NUM_IRQS ?
	      vfio_pci_irq_count(vpdev, hdr.index) : 0;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, max, VFIO_PCI_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;

	if (data_size) {
		data = memdup_user(&uarg->data, data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}

	/* After a revoke, which tore everything down under igate: nothing. */
	mutex_lock(&vpdev->igate);
	if (vfio_pci_revoked(vpdev))
		ret = -ENODEV;
	else
		ret = vfio_pci_set_irqs(vpdev, hdr.flags, hdr.index, hdr.start,
					hdr.count, max, data);
	mutex_unlock(&vpdev->igate);
	trace_vfio_pci_set_irqs(vpdev->pdev, hdr.index, hdr.start, hdr.count,
				hdr.flags, ret);
	kfree(data);
	return ret;
}

/**
 * vfio_pci_irqs_teardown() - disable every interrupt at close
 * @vpdev: the device
 */
void vfio_pci_irqs_teardown(struct vfio_pci_ng_device *vpdev)
{
	mutex_lock(&vpdev->igate);
	if (vfio_pci_irq_is(vpdev, VFIO_PCI_INTX_IRQ_INDEX))
		vfio_pci_intx_disable(vpdev);
	else if (vfio_pci_irq_is(vpdev, VFIO_PCI_MSI_IRQ_INDEX))
		vfio_pci_msi_disable(vpdev, false);
	else if (vfio_pci_irq_is(vpdev, VFIO_PCI_MSIX_IRQ_INDEX))
		vfio_pci_msi_disable(vpdev, true);

	vfio_pci_replace_trigger(vpdev, &vpdev->err_trigger, NULL);
	vfio_pci_replace_trigger(vpdev, &vpdev->req_trigger, NULL);
	mutex_unlock(&vpdev->igate);
}

/**
 * vfio_pci_irq_count() - how many vectors an IRQ index has on this device
 * @vpdev: the device
 * @index: a VFIO_PCI_*_IRQ_INDEX
 *
 * Return: the vector count, 0 when the device cannot raise this kind of
 * interrupt.
 */
int vfio_pci_irq_count(struct vfio_pci_ng_device *vpdev, unsigned int index)
{
	struct pci_dev *pdev = vpdev->pdev;
	u16 flags;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return vpdev->nointx ? 0 : 1;
	case VFIO_PCI_MSI_IRQ_INDEX:
		/* A failed read (device gone) offers no vector. */
		if (!pdev->msi_cap ||
		    pci_read_config_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS,
					 &flags))
			return 0;
		return 1 << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (!pdev->msix_cap ||
		    pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS,
					 &flags))
			return 0;
		/* No more vectors than the table protected since open. */
		return min_t(int, (flags & PCI_MSIX_FLAGS_QSIZE) + 1,
			     vpdev->msix_size / PCI_MSIX_ENTRY_SIZE);
	case VFIO_PCI_ERR_IRQ_INDEX:
		return vfio_pci_has_err_irq(vpdev) ? 1 : 0;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

/**
 * vfio_pci_ioctl_get_irq_info() - VFIO_DEVICE_GET_IRQ_INFO
 * @vpdev: the device
 * @uarg: the user's struct vfio_irq_info
 *
 * Return: 0 or a negative errno.
 */
long vfio_pci_ioctl_get_irq_info(struct vfio_pci_ng_device *vpdev,
				 struct vfio_irq_info __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, uarg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	/* Error reporting: PCI Express functions (all functions on 7.3+). */
	if (info.index == VFIO_PCI_ERR_IRQ_INDEX && !vfio_pci_has_err_irq(vpdev))
		return -EINVAL;

	info.flags = VFIO_IRQ_INFO_EVENTFD;
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else if (info.index != VFIO_PCI_MSIX_IRQ_INDEX ||
		 !vfio_pci_compat_msix_can_alloc_dyn(vpdev->pdev))
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	info.count = vfio_pci_irq_count(vpdev, info.index);

	return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
}
