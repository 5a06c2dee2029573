// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device states that userspace, or a previous owner, sets behind the
 * driver's back (issue 16).
 *
 * - Open starts clean: a previous owner left Bus Master and INTx-disable
 *   set in the command register; after open both are clear in the
 *   hardware and in what the user reads (no DMA before the new owner
 *   enables it).  Every lab device.
 * - Runtime suspend of a device with no INTx in use leaves INTx-disable as
 *   it is: LOW_POWER_ENTRY (0x0103, not 0x0503), and idle D3hot (as the
 *   close left it: clear in-tree, set by ours, beyond mainline).
 * - D3hot set by the user through PMCSR, then every call that needs D0:
 *   MSI and MSI-X enable fail with an errno and change nothing (the PCI
 *   core refuses them; this used to oops the host), a live MSI-X setup
 *   takes a new eventfd and is torn down, VFIO_DEVICE_RESET brings the
 *   function back to D0, INTx can be set up, BAR access fails with EIO,
 *   and close then reopen give a working device.
 * - Memory decode written while in D3hot holds after the return to D0,
 *   also where the state is restored on the way up (beyond mainline: the
 *   in-tree driver restores the state saved on the way down).
 * - Command register updates are atomic: INTx masking by ioctl on one
 *   thread and memory-decode writes through config space on another never
 *   undo each other's bit in the hardware (beyond mainline: the in-tree
 *   driver has this race, so baseline skips it).
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_CAP_ID_PM		0x01
#define PCI_CAP_ID_MSI		0x05
#define PCI_CAP_ID_MSIX		0x11
#define PCI_PM_CTRL		4
#define PCI_MSI_FLAGS		2
#define PCI_MSI_FLAGS_ENABLE	0x0001
#define PCI_MSIX_FLAGS_ENABLE	0x8000

#define STATE_WAIT_MS		5000

#define CASES_OPEN		1	/* per lab device */
#define CASES_PM		8	/* per PM-capable device */
#define MAX_PM			2
#define CASES_RACE		1

/* The command register in the hardware (sysfs config: the host's view). */
static int hw_command(const char *bdf, uint16_t *cmd)
{
	uint8_t cfg[8];

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) != (int)sizeof(cfg))
		return -EIO;
	*cmd = vt_le16(cfg + PCI_COMMAND);
	return 0;
}

static int sysfs_config_fd(const char *bdf, int flags)
{
	char path[1100];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	return open(path, flags | O_CLOEXEC);
}

static int hw_command_write(const char *bdf, uint16_t cmd)
{
	uint8_t b[2] = { (uint8_t)cmd, (uint8_t)(cmd >> 8) };
	int fd = sysfs_config_fd(bdf, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, b, 2, PCI_COMMAND);
	close(fd);
	return n == 2 ? 0 : -EIO;
}

static unsigned int find_cap(const char *bdf, uint8_t id)
{
	uint8_t cfg[256];

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) != (int)sizeof(cfg))
		return 0;
	return vt_pci_find_cap(cfg, sizeof(cfg), id);
}

/* ------------------------------------------------------------------------ */
/* Open starts clean                                                          */

static void test_open_clean(const struct vt_dev *d)
{
	bool check_intx = !vt_nointxmask();
	struct vt_vfio v;
	uint16_t cmd = 0, hw = 0;

	vt_begin("%s %s: Bus Master and INTx-disable left by a previous owner are clear after open "
		 "(%s)", d->name, d->bdf,
		 vt_baseline() ? "in-tree: in the hardware too" : "ours: parked in the hardware");
	if (!vt_check_ret(vt_release(d->bdf), "unbind") ||
	    !vt_check_ret(hw_command(d->bdf, &hw), "read command") ||
	    !vt_check_ret(hw_command_write(d->bdf, hw | PCI_COMMAND_MASTER |
					   PCI_COMMAND_INTX_DISABLE), "set Bus Master, INTx-disable") ||
	    !vt_check_ret(hw_command(d->bdf, &hw), "read command again") ||
	    !vt_check((hw & (PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)) ==
		      (PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE),
		      "the bits did not stick (command %#06x)", hw) ||
	    !vt_check_ret(vt_bind(d->bdf), "bind")) {
		vt_end();
		return;
	}
	if (!vt_check(vt_vfio_open(&v, d->bdf) >= 0, "open")) {
		vt_end();
		return;
	}
	if (vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd), "config read")) {
		vt_check(!(cmd & PCI_COMMAND_MASTER), "user sees Bus Master set (%#06x)", cmd);
		if (check_intx)
			vt_check(!(cmd & PCI_COMMAND_INTX_DISABLE),
				 "user sees INTx-disable set (%#06x)", cmd);
	}
	/*
	 * In the hardware, ours keeps INTx-disable set while no interrupt is
	 * set up (parked, beyond mainline); the in-tree driver clears it.
	 */
	if (vt_check_ret(hw_command(d->bdf, &hw), "hardware command")) {
		vt_check(!(hw & PCI_COMMAND_MASTER), "Bus Master on in the hardware (%#06x)", hw);
		if (check_intx && vt_baseline())
			vt_check(!(hw & PCI_COMMAND_INTX_DISABLE),
				 "INTx-disable on in the hardware (%#06x)", hw);
		else if (check_intx)
			vt_check(hw & PCI_COMMAND_INTX_DISABLE,
				 "INTx-disable clear in the hardware: not parked (%#06x)", hw);
	}
	vt_vfio_close(&v);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* PM-capable devices                                                         */

struct pmdev {
	const struct vt_dev *d;
	unsigned int pm;	/* PM capability offset */
	struct vt_vfio v;
	uint32_t nmsi, nmsix;
	bool reset;
};

static int set_pmcsr_state(struct pmdev *p, unsigned int state)
{
	uint16_t pmcsr;
	int ret = vt_config_read16(p->v.device, p->pm + PCI_PM_CTRL, &pmcsr);

	if (ret)
		return ret;
	return vt_config_write16(p->v.device, p->pm + PCI_PM_CTRL,
				 (uint16_t)((pmcsr & ~3u) | state));
}

static bool to_d3hot(struct pmdev *p)
{
	return vt_check_ret(set_pmcsr_state(p, 3), "PMCSR <- D3hot") &&
	       vt_check(vt_wait_attr(p->d->bdf, "power_state", "D3hot", 0), "not in D3hot");
}

static bool to_d0(struct pmdev *p)
{
	return vt_check_ret(set_pmcsr_state(p, 0), "PMCSR <- D0") &&
	       vt_check(vt_wait_attr(p->d->bdf, "power_state", "D0", 0), "not in D0");
}

static bool pm_open(struct pmdev *p)
{
	struct vt_device_info info;
	struct vfio_irq_info irq;

	if (vt_vfio_open(&p->v, p->d->bdf) < 0)
		return false;	/* vt_vfio_open() says why */
	p->nmsi = vt_irq_info(p->v.device, VFIO_PCI_MSI_IRQ_INDEX, &irq) ? 0 : irq.count;
	p->nmsix = vt_irq_info(p->v.device, VFIO_PCI_MSIX_IRQ_INDEX, &irq) ? 0 : irq.count;
	p->reset = !vt_device_info(p->v.device, &info) && info.flags & VFIO_DEVICE_FLAGS_RESET;
	return true;
}

/* Nothing of index is enabled: a disable of it is refused, as in-tree. */
static void check_nothing_enabled(struct pmdev *p, uint32_t index, const char *what)
{
	char name[48];

	vt_check_errno(vt_irq_disable(p->v.device, index), EINVAL,
		       "%s: disabling it after the failure", what);
	snprintf(name, sizeof(name), "(%s)", p->d->bdf);
	vt_check_eq((uint64_t)vt_proc_irq_lines(name), 0, "%s: host IRQs of the device", what);
}

/* Enable an MSI/MSI-X index in D3hot: an errno, and nothing changed. */
static void test_d3_enable(struct pmdev *p, uint32_t index, uint32_t count, unsigned int cap,
			   uint16_t enable_bit, const char *what)
{
	int32_t fds[32];
	uint16_t flags = 0;
	int ret;

	vt_begin("%s %s: %s enable of %u vectors in D3hot (PMCSR) fails with an errno, changes nothing",
		 p->d->name, p->d->bdf, what, count);
	if (!count || !cap) {
		vt_end_skip("no %s", what);
		return;
	}
	if (count > 32)
		count = 32;
	for (uint32_t i = 0; i < count; i++)
		fds[i] = vt_efd_new();
	if (to_d3hot(p)) {
		/* One vector, then all of them. */
		ret = vt_set_irqs(p->v.device, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				  index, 0, 1, fds, sizeof(int32_t));
		vt_check(ret < 0, "one vector: returned %d, want an errno", ret);
		if (ret == 0)
			vt_irq_disable(p->v.device, index);
		else
			check_nothing_enabled(p, index, "one vector");
		ret = vt_set_irqs(p->v.device, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				  index, 0, count, fds, count * sizeof(int32_t));
		vt_check(ret < 0, "%u vectors: returned %d, want an errno", count, ret);
		if (ret == 0)
			vt_irq_disable(p->v.device, index);
		else
			check_nothing_enabled(p, index, "all vectors");
		if (vt_check_ret(vt_config_read16(p->v.device, cap + PCI_MSI_FLAGS, &flags),
				 "read the capability's flags"))
			vt_check(!(flags & enable_bit), "enable bit set: %#06x", flags);
		to_d0(p);
		/* Back in D0, the same call works. */
		ret = vt_irq_set_fd(p->v.device, index, fds[0]);
		if (vt_check_ret(ret, "enable in D0")) {
			vt_efd_take(fds[0]);
			vt_check_ret(vt_irq_action_none(p->v.device, VFIO_IRQ_SET_ACTION_TRIGGER,
							index), "loopback");
			vt_check(vt_efd_wait(fds[0], 2000) > 0, "loopback not delivered");
			vt_check_ret(vt_irq_disable(p->v.device, index), "disable");
		}
	}
	for (uint32_t i = 0; i < count; i++)
		close(fds[i]);
	vt_end();
}

/* A live MSI-X setup while the user holds the function in D3hot. */
static void test_d3_live_msix(struct pmdev *p)
{
	int efd1 = vt_efd_new(), efd2 = vt_efd_new();

	vt_begin("%s %s: live MSI-X in D3hot: new eventfd, back to D0, loopback, disable",
		 p->d->name, p->d->bdf);
	if (!p->nmsix) {
		vt_end_skip("no MSI-X");
	} else if (vt_check_ret(vt_irq_set_fd(p->v.device, VFIO_PCI_MSIX_IRQ_INDEX, efd1),
				"MSI-X enable in D0") && to_d3hot(p)) {
		vt_check_ret(vt_irq_set_fd(p->v.device, VFIO_PCI_MSIX_IRQ_INDEX, efd2),
			     "new eventfd on vector 0 in D3hot");
		if (to_d0(p)) {
			vt_efd_take(efd2);
			vt_check_ret(vt_irq_action_none(p->v.device, VFIO_IRQ_SET_ACTION_TRIGGER,
							VFIO_PCI_MSIX_IRQ_INDEX), "loopback");
			vt_check(vt_efd_wait(efd2, 2000) > 0, "loopback not on the new eventfd");
		}
		to_d3hot(p);
		vt_check_ret(vt_irq_disable(p->v.device, VFIO_PCI_MSIX_IRQ_INDEX),
			     "MSI-X disable in D3hot");
		to_d0(p);
		vt_end();
	} else {
		vt_irq_disable(p->v.device, VFIO_PCI_MSIX_IRQ_INDEX);
		vt_end();
	}
	close(efd1);
	close(efd2);
}

static void test_d3_reset(struct pmdev *p)
{
	uint32_t val;

	vt_begin("%s %s: VFIO_DEVICE_RESET in D3hot brings the function back to D0",
		 p->d->name, p->d->bdf);
	if (!p->reset) {
		vt_end_skip("no function reset");
		return;
	}
	if (to_d3hot(p)) {
		vt_check_ok(ioctl(p->v.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET");
		vt_check(vt_wait_attr(p->d->bdf, "power_state", "D0", 0), "not in D0 after the reset");
		if (vt_check_ret(vt_config_read32(p->v.device, 0, &val), "config read"))
			vt_check_eq(val, (uint32_t)p->d->device << 16 | p->d->vendor, "IDs");
	}
	vt_end();
}

static void test_d3_intx(struct pmdev *p)
{
	int efd = vt_efd_new();
	struct vfio_irq_info irq;

	vt_begin("%s %s: INTx set up and torn down in D3hot", p->d->name, p->d->bdf);
	if (vt_irq_info(p->v.device, VFIO_PCI_INTX_IRQ_INDEX, &irq) || !irq.count) {
		vt_end_skip("no INTx");
	} else if (to_d3hot(p)) {
		if (vt_check_ret(vt_irq_set_fd(p->v.device, VFIO_PCI_INTX_IRQ_INDEX, efd),
				 "INTx enable")) {
			vt_check_ret(vt_irq_action_none(p->v.device, VFIO_IRQ_SET_ACTION_MASK,
							VFIO_PCI_INTX_IRQ_INDEX), "mask");
			vt_check_ret(vt_irq_action_none(p->v.device, VFIO_IRQ_SET_ACTION_UNMASK,
							VFIO_PCI_INTX_IRQ_INDEX), "unmask");
			vt_check_ret(vt_irq_disable(p->v.device, VFIO_PCI_INTX_IRQ_INDEX),
				     "INTx disable");
		}
		to_d0(p);
		vt_end();
	} else {
		vt_end();
	}
	close(efd);
}

/*
 * Decode written while in D3hot is what the function decodes with back in
 * D0, also for a function without No_Soft_Reset whose state is restored on
 * the way up: never memory decode off in the hardware while the user's
 * register (and so the access checks) says on.
 */
static void test_d3_command(struct pmdev *p)
{
	uint16_t cmd = 0, hw = 0;

	if (!vt_extension("the in-tree driver restores the command register saved on the way "
			  "down to D3hot", "%s %s: decode written in D3hot holds in D0",
			  p->d->name, p->d->bdf))
		return;
	vt_begin("%s %s: decode written in D3hot holds in D0", p->d->name, p->d->bdf);
	if (!vt_check_ret(vt_config_read16(p->v.device, PCI_COMMAND, &cmd), "read command")) {
		vt_end();
		return;
	}
	cmd &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
	for (int on = 1; on >= 0; on--) {
		uint16_t before = on ? cmd & (uint16_t)~PCI_COMMAND_MEMORY : cmd | PCI_COMMAND_MEMORY;
		uint16_t after = on ? cmd | PCI_COMMAND_MEMORY : cmd & (uint16_t)~PCI_COMMAND_MEMORY;

		if (!vt_check_ret(vt_config_write16(p->v.device, PCI_COMMAND, before),
				  "command := %#x in D0", before) ||
		    !to_d3hot(p) ||
		    !vt_check_ret(vt_config_write16(p->v.device, PCI_COMMAND, after),
				  "command := %#x in D3hot", after) ||
		    !to_d0(p) ||
		    !vt_check_ret(hw_command(p->d->bdf, &hw), "hardware command"))
			break;
		vt_check((hw & PCI_COMMAND_MEMORY) == (after & PCI_COMMAND_MEMORY),
			 "memory decode %s in the hardware after D0, the user wrote %#x in D3hot "
			 "(hardware %#x)", hw & PCI_COMMAND_MEMORY ? "on" : "off", after, hw);
	}
	vt_config_write16(p->v.device, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
	vt_end();
}

static void test_d3_bar_and_close(struct pmdev *p)
{
	struct vt_resource res[VT_NUM_RESOURCES];
	uint32_t val;
	int bar = -1;

	vt_begin("%s %s: BAR access in D3hot fails with EIO; close in D3hot, reopen works",
		 p->d->name, p->d->bdf);
	if (vt_resources(p->d->bdf, res) == 0)
		for (int i = 0; i < 6 && bar < 0; i++)
			if (res[i].flags & VT_IORESOURCE_MEM && vt_resource_size(&res[i]))
				bar = i;
	if (!vt_check(bar >= 0, "no memory BAR") || !to_d3hot(p)) {
		vt_end();
		return;
	}
	vt_check_err(vt_region_read32(p->v.device, (uint32_t)bar, 0, &val), EIO, "BAR read in D3hot");
	vt_vfio_close(&p->v);
	if (vt_check(pm_open(p), "reopen after close in D3hot")) {
		vt_check(vt_wait_attr(p->d->bdf, "power_state", "D0", 0), "not in D0 at reopen");
		if (vt_check_ret(vt_config_read32(p->v.device, 0, &val), "config read"))
			vt_check_eq(val, (uint32_t)p->d->device << 16 | p->d->vendor, "IDs");
		vt_check_ret(vt_region_read32(p->v.device, (uint32_t)bar, 0, &val), "BAR read in D0");
	}
	vt_end();
}

/*
 * Runtime suspend with no INTx in use: INTx-disable stays as it was.  Idle
 * (closed), that is as the close left it: clear in-tree, set by ours, which
 * masks a closed function's INTx (beyond mainline; t_45).  Open with no
 * interrupt set up: clear in-tree, set by ours, which parks the function
 * (beyond mainline; t_45).
 */
static void test_suspend_intx_bit(struct pmdev *p)
{
	bool masked = !vt_baseline();
	uint16_t hw = 0;

	vt_begin("%s %s: idle D3hot and LOW_POWER_ENTRY with INTx unused keep INTx-disable "
		 "as it was (%s)", p->d->name, p->d->bdf,
		 masked ? "set: closed or parked" : "clear");
	if (vt_nointxmask()) {
		vt_end_skip("nointxmask: INTx is not masked by INTx-disable");
		return;
	}
	/* Idle (closed): the function runtime-suspends to D3hot. */
	if (vt_check(vt_wait_attr(p->d->bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
		     "not runtime suspended while closed") &&
	    vt_check_ret(hw_command(p->d->bdf, &hw), "hardware command"))
		vt_check(!!(hw & PCI_COMMAND_INTX_DISABLE) == masked,
			 "idle: INTx-disable %s while suspended (%#06x)",
			 hw & PCI_COMMAND_INTX_DISABLE ? "set" : "clear", hw);
	if (vt_check(pm_open(p), "open")) {
		struct {
			struct vfio_device_feature hdr;
		} f = { { .argsz = sizeof(f), .flags = VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY } };

		if (vt_check_ok(ioctl(p->v.device, VFIO_DEVICE_FEATURE, &f), "LOW_POWER_ENTRY") &&
		    vt_check(vt_wait_attr(p->d->bdf, "power/runtime_status", "suspended",
					  STATE_WAIT_MS), "not suspended after ENTRY") &&
		    vt_check_ret(hw_command(p->d->bdf, &hw), "hardware command"))
			vt_check(!!(hw & PCI_COMMAND_INTX_DISABLE) == masked,
				 "LOW_POWER_ENTRY: INTx-disable %s while suspended (%#06x)",
				 hw & PCI_COMMAND_INTX_DISABLE ? "set" : "clear", hw);
		f.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT;
		vt_check_ok(ioctl(p->v.device, VFIO_DEVICE_FEATURE, &f), "LOW_POWER_EXIT");
		vt_vfio_close(&p->v);
	}
	vt_end();
}

static void test_pm_device(const struct vt_dev *d)
{
	struct pmdev p = { .d = d, .pm = find_cap(d->bdf, PCI_CAP_ID_PM) };
	unsigned int msi = find_cap(d->bdf, PCI_CAP_ID_MSI);
	unsigned int msix = find_cap(d->bdf, PCI_CAP_ID_MSIX);

	vt_diag("%s %s: PM at %#x, MSI at %#x, MSI-X at %#x", d->name, d->bdf, p.pm, msi, msix);
	test_suspend_intx_bit(&p);
	if (!pm_open(&p)) {
		for (int i = 1; i < CASES_PM; i++)
			vt_ok(false, "%s %s: D3hot case %d: open failed", d->name, d->bdf, i);
		return;
	}
	test_d3_enable(&p, VFIO_PCI_MSI_IRQ_INDEX, p.nmsi, msi, PCI_MSI_FLAGS_ENABLE, "MSI");
	test_d3_enable(&p, VFIO_PCI_MSIX_IRQ_INDEX, p.nmsix, msix, PCI_MSIX_FLAGS_ENABLE, "MSI-X");
	test_d3_live_msix(&p);
	test_d3_reset(&p);
	test_d3_intx(&p);
	test_d3_command(&p);
	test_d3_bar_and_close(&p);
	vt_vfio_close(&p.v);
}

/* ------------------------------------------------------------------------ */
/* Command register: INTx masking against decode writes                       */

struct race {
	const char *bdf;
	int device;
	int cfgfd;
	unsigned long decode_target;
	atomic_bool done;
	unsigned long decode_ops, mask_ops;
	unsigned long lost_decode, lost_mask;
};

static int hw_cmd_fd(int fd, uint16_t *cmd)
{
	uint8_t b[2];

	if (pread(fd, b, 2, PCI_COMMAND) != 2)
		return -EIO;
	*cmd = vt_le16(b);
	return 0;
}

/* Toggle memory decode through config space; the hardware must follow. */
static void *decode_thread(void *arg)
{
	struct race *r = arg;
	uint16_t base = 0, hw;

	if (vt_config_read16(r->device, PCI_COMMAND, &base))
		return NULL;
	base &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
	while (r->decode_ops < r->decode_target) {
		uint16_t want = r->decode_ops & 1 ? base | PCI_COMMAND_MEMORY :
			       base & (uint16_t)~PCI_COMMAND_MEMORY;

		if (vt_config_write16(r->device, PCI_COMMAND, want))
			break;
		if (!hw_cmd_fd(r->cfgfd, &hw) &&
		    (hw & PCI_COMMAND_MEMORY) != (want & PCI_COMMAND_MEMORY))
			r->lost_decode++;
		r->decode_ops++;
	}
	vt_config_write16(r->device, PCI_COMMAND, base | PCI_COMMAND_MEMORY);
	atomic_store(&r->done, true);
	return NULL;
}

static void test_command_race(const struct vt_dev *d)
{
	struct race r = { .bdf = d->bdf, .cfgfd = -1 };
	struct vt_vfio v;
	pthread_t th;
	int efd = vt_efd_new();
	uint16_t hw;

	/* A count, not a time: the mask loop runs as long as the writes do. */
	r.decode_target = vt_slow_kernel() ? 100 : 300;

	if (!vt_extension("the in-tree driver updates INTx-disable outside the memory lock",
			  "edu %s: INTx masking and config writes of decode never undo each other",
			  d->bdf)) {
		close(efd);
		return;
	}
	vt_begin("edu %s: INTx masking and config writes of decode never undo each other", d->bdf);
	if (vt_nointxmask()) {
		vt_end_skip("nointxmask: INTx is not masked by INTx-disable");
		close(efd);
		return;
	}
	if (!vt_check(vt_bind(d->bdf) == 0 && vt_vfio_open(&v, d->bdf) >= 0, "open")) {
		vt_end();
		close(efd);
		return;
	}
	r.device = v.device;
	r.cfgfd = sysfs_config_fd(d->bdf, O_RDONLY);
	if (vt_check(r.cfgfd >= 0, "sysfs config") &&
	    vt_check_ret(vt_irq_set_fd(v.device, VFIO_PCI_INTX_IRQ_INDEX, efd), "INTx enable") &&
	    vt_check(pthread_create(&th, NULL, decode_thread, &r) == 0, "thread")) {
		while (!atomic_load(&r.done)) {
			if (vt_irq_action_none(v.device, VFIO_IRQ_SET_ACTION_MASK,
					       VFIO_PCI_INTX_IRQ_INDEX))
				break;
			if (!hw_cmd_fd(r.cfgfd, &hw) && !(hw & PCI_COMMAND_INTX_DISABLE))
				r.lost_mask++;
			if (vt_irq_action_none(v.device, VFIO_IRQ_SET_ACTION_UNMASK,
					       VFIO_PCI_INTX_IRQ_INDEX))
				break;
			r.mask_ops++;
		}
		pthread_join(th, NULL);
		vt_diag("%lu decode writes, %lu mask/unmask pairs", r.decode_ops, r.mask_ops);
		vt_check_eq(r.decode_ops, r.decode_target, "decode writes done");
		vt_check_eq(r.lost_decode, 0, "decode writes undone in the hardware");
		vt_check_eq(r.lost_mask, 0, "INTx masks undone in the hardware");
		vt_check_ret(vt_irq_disable(v.device, VFIO_PCI_INTX_IRQ_INDEX), "INTx disable");
	}
	if (r.cfgfd >= 0)
		close(r.cfgfd);
	vt_vfio_close(&v);
	close(efd);
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS], pm[MAX_PM], edu[VT_MAX_DEVS];
	int n = vt_lab_devices(devs, VT_MAX_DEVS), npm = 0, nedu;

	if (n <= 0)
		vt_skip_all("no lab device");
	vt_fault_handler_install();
	for (int i = 0; i < n && npm < MAX_PM; i++)
		if ((devs[i].vendor == 0x1b36 && devs[i].device == 0x0010) ||
		    (devs[i].vendor == 0x8086 && devs[i].device == 0x10d3))
			pm[npm++] = devs[i];
	nedu = vt_find_devices(0x1234, 0x11e8, edu, VT_MAX_DEVS);

	vt_plan((unsigned int)(n * CASES_OPEN + MAX_PM * CASES_PM + CASES_RACE));
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");

	for (int i = 0; i < n; i++)
		test_open_clean(&devs[i]);

	for (int i = 0; i < MAX_PM; i++) {
		if (i >= npm) {
			for (int c = 0; c < CASES_PM; c++)
				vt_skip("not in this topology", "PM-capable device %d case %d",
					i + 1, c + 1);
			continue;
		}
		if (vt_bind(pm[i].bdf)) {
			for (int c = 0; c < CASES_PM; c++)
				vt_ok(false, "%s: bind", pm[i].bdf);
			continue;
		}
		test_pm_device(&pm[i]);
	}

	if (nedu > 0)
		test_command_race(&edu[0]);
	else
		vt_skip("not in this topology", "edu: command register race");
	return vt_finish();
}
