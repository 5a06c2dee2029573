// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_RESET.
 *
 * nvme (1b36:0010) resets by FLR, e1000e (8086:10d3) by a PM reset
 * (D3hot -> D0).  After the ioctl the device must work (BAR registers read
 * through pread and through a mapping made before the reset), and the
 * config state the user had set must be back: the PCI core saves and
 * restores it around a function reset, so Memory and Bus Master stay as
 * they were, and the BAR registers of the virtual config space are left
 * alone.  On nvme the reset must really happen: QEMU clears the MSI-X table
 * on an FLR (the PCI core restores it only while MSI-X is enabled), so a
 * marker written into a table entry through the BAR mapping reads 0 again.
 * (QEMU 7.2's nvme keeps its controller registers, AQA included, across an
 * FLR, and its e1000e does not reset on D3hot -> D0 at all: the PM reset
 * is not observable.)  A device in D3hot (set by the user through its PM
 * capability) is brought back to D0 by the reset, with BAR access refused
 * (EIO) before it.  Ten resets in a row, then close and reopen.  A device
 * without a reset method (edu on the root bus) has no RESET flag and the
 * ioctl fails with EINVAL.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_CAP_ID_PM		0x01
#define PCI_PM_CTRL		4
#define PCI_PM_CTRL_STATE_MASK	0x0003

#define NVME_CAP		0x00
#define NVME_VS			0x08
#define PCI_CAP_ID_MSIX		0x11
#define PCI_MSIX_TABLE		4
#define PCI_MSIX_ENTRY_DATA	8
#define MSIX_MARK		0x5a5a
#define E1000_STATUS		0x08

#define RESET_LOOP		10

/* A 32-bit BAR0 register through the region's read path. */
/* The PM capability offset as the user sees it, 0 if none. */
static unsigned int user_pm_cap(int dev)
{
	uint8_t cfg[256];

	if (vt_config_read(dev, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg))
		return 0;
	return vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_PM);
}

static bool power_state_is(const char *bdf, const char *want)
{
	char buf[32];

	if (vt_sysfs_read(bdf, "power_state", buf, sizeof(buf)) < 0)
		return true;	/* no such attribute: nothing to compare */
	if (strcmp(buf, want) == 0)
		return true;
	vt_diag("%s: power_state %s, want %s", bdf, buf, want);
	return false;
}

/* BAR0 mapped whole, or NULL (diagnosed). */
struct dev_kind {
	const char *name;
	uint16_t vendor, device;
	uint32_t probe_reg;	/* a register that must read the same after */
};

static const struct dev_kind kinds[] = {
	{ "nvme",   0x1b36, 0x0010, NVME_VS },
	{ "e1000e", 0x8086, 0x10d3, E1000_STATUS },
};

#define CASES_PER_KIND	4

static void test_reset(const struct dev_kind *k, const struct vt_dev *d)
{
	struct vt_device_info info;
	uint32_t bar0_before = 0, bar0_after = 0, reg_before = 0, reg_after = 0;
	uint32_t cap_lo_before = 0, cap_lo_after = 0, msix_table = 0;
	unsigned int msix = 0;
	uint16_t cmd_before = 0, cmd_after = 0;
	volatile uint32_t *map = NULL;
	size_t map_len = 0;
	struct vt_vfio v;
	bool nvme = k->device == 0x0010;

	vt_begin("%s %s: GET_INFO has the RESET flag", k->name, d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		if (vt_check_ret(vt_device_info(v.device, &info), "GET_INFO"))
			vt_check(info.flags & VFIO_DEVICE_FLAGS_RESET,
				 "RESET flag missing (flags %#x)", info.flags);
		vt_vfio_close(&v);
	}
	vt_end();

	vt_begin("%s %s: VFIO_DEVICE_RESET, device works, config state kept", k->name,
		 d->bdf);
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd_before), "read COMMAND");
	cmd_before |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	vt_check_ret(vt_config_write16(v.device, PCI_COMMAND, cmd_before),
		     "set Memory + Bus Master");
	vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd_before), "read COMMAND");
	vt_check_eq(cmd_before & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
		    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, "COMMAND after setting MEM|BM");
	vt_check_ret(vt_config_read32(v.device, PCI_BASE_ADDRESS_0, &bar0_before), "read BAR0");
	vt_check_ret(vt_region_read32(v.device, 0, k->probe_reg, &reg_before), "pread reg %#x",
		     k->probe_reg);
	vt_check_ret(vt_region_read32(v.device, 0, NVME_CAP, &cap_lo_before), "pread reg 0");
	vt_check(reg_before != 0xffffffff, "reg %#x reads all-ones before the reset",
		 k->probe_reg);
	map = vt_map_region(v.device, 0, &map_len);
	vt_check(map != NULL, "BAR0 mmap");
	if (map)
		vt_check_eq(map[k->probe_reg / 4], reg_before, "reg %#x through the mapping",
			    k->probe_reg);
	if (nvme && map) {
		uint8_t cfg[256];

		if (vt_config_read(v.device, cfg, sizeof(cfg), 0) == (ssize_t)sizeof(cfg))
			msix = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSIX);
		if (vt_check(msix != 0, "nvme without MSI-X capability")) {
			msix_table = vt_le32(cfg + msix + PCI_MSIX_TABLE);
			vt_check_eq(msix_table & 7, 0, "MSI-X table BIR");
			msix_table &= ~7u;
		}
		if (msix && !(msix_table & 7) && msix_table + 16 <= map_len) {
			map[(msix_table + PCI_MSIX_ENTRY_DATA) / 4] = MSIX_MARK;
			vt_check_eq(map[(msix_table + PCI_MSIX_ENTRY_DATA) / 4], MSIX_MARK,
				    "MSI-X entry 0 data marker before the reset");
		} else {
			msix = 0;
		}
	}

	vt_check_ok(ioctl(v.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET");

	vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd_after), "read COMMAND");
	vt_check_eq(cmd_after & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
		    cmd_before & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
		    "COMMAND MEM|BM after the reset");
	vt_check_ret(vt_config_read32(v.device, PCI_BASE_ADDRESS_0, &bar0_after), "read BAR0");
	vt_check_eq(bar0_after, bar0_before, "virtual BAR0 register after the reset");
	vt_check_ret(vt_region_read32(v.device, 0, k->probe_reg, &reg_after), "pread reg %#x after",
		     k->probe_reg);
	vt_check_ret(vt_region_read32(v.device, 0, NVME_CAP, &cap_lo_after), "pread reg 0 after");
	if (nvme) {
		vt_check_eq(reg_after, reg_before, "VS after the reset");
		vt_check_eq(cap_lo_after, cap_lo_before, "CAP after the reset");
		if (msix)
			vt_check_eq(map[(msix_table + PCI_MSIX_ENTRY_DATA) / 4], 0,
				    "MSI-X entry 0 data after the reset (an FLR clears it)");
	} else {
		vt_check(reg_after != 0xffffffff, "STATUS reads all-ones after the reset");
	}
	if (map)	/* zapped by the reset, faults in again */
		vt_check_eq(map[k->probe_reg / 4], reg_after,
			    "reg %#x through the mapping after the reset", k->probe_reg);
	vt_check(power_state_is(d->bdf, "D0"), "device in D0 after the reset");
	if (map)
		munmap((void *)map, map_len);
	vt_vfio_close(&v);
	vt_end();

	vt_begin("%s %s: VFIO_DEVICE_RESET from D3hot set through the PM capability",
		 k->name, d->bdf);
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	{
		unsigned int pm = user_pm_cap(v.device);
		uint16_t pmcsr = 0;

		if (!vt_check(pm != 0, "no PM capability in the user's config space")) {
			vt_vfio_close(&v);
			vt_end();
			return;
		}
		vt_check_ret(vt_config_write16(v.device, PCI_COMMAND,
					       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
			     "set Memory + Bus Master");
		vt_check_ret(vt_config_read16(v.device, pm + PCI_PM_CTRL, &pmcsr), "read PMCSR");
		pmcsr = (uint16_t)((pmcsr & ~PCI_PM_CTRL_STATE_MASK) | 3);
		vt_check_ret(vt_config_write16(v.device, pm + PCI_PM_CTRL, pmcsr),
			     "PMCSR := D3hot");
		vt_check_ret(vt_config_read16(v.device, pm + PCI_PM_CTRL, &pmcsr), "read PMCSR");
		vt_check_eq(pmcsr & PCI_PM_CTRL_STATE_MASK, 3, "PMCSR power state after D3hot");
		vt_check(power_state_is(d->bdf, "D3hot"), "D3hot after the PMCSR write");
		vt_check_errno(vt_region_read32(v.device, 0, k->probe_reg, &reg_after) ? -1 : 0, EIO,
			       "BAR pread in D3hot");

		vt_check_ok(ioctl(v.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET in D3hot");

		vt_check(power_state_is(d->bdf, "D0"), "D0 after the reset");
		vt_check_ret(vt_config_read16(v.device, pm + PCI_PM_CTRL, &pmcsr), "read PMCSR");
		vt_check_eq(pmcsr & PCI_PM_CTRL_STATE_MASK, 0, "PMCSR power state after the reset");
		vt_check_ret(vt_region_read32(v.device, 0, k->probe_reg, &reg_after), "pread reg %#x",
			     k->probe_reg);
		vt_check(reg_after != 0xffffffff, "reg %#x all-ones after the reset",
			 k->probe_reg);
		if (nvme)
			vt_check_eq(reg_after, reg_before, "VS after the reset");
	}
	vt_vfio_close(&v);
	vt_end();

	vt_begin("%s %s: %d resets in a row, then close and reopen", k->name, d->bdf,
		 RESET_LOOP);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		int failures = 0;

		for (int i = 0; i < RESET_LOOP; i++) {
			if (ioctl(v.device, VFIO_DEVICE_RESET) && !failures++)
				vt_diag("reset %d: %s", i, vt_errname(errno));
		}
		vt_check_eq(failures, 0, "failed resets");
		vt_check_ret(vt_region_read32(v.device, 0, k->probe_reg, &reg_after), "pread after");
		vt_vfio_close(&v);
		if (vt_check_ret(vt_vfio_open(&v, d->bdf), "reopen")) {
			vt_check_ret(vt_region_read32(v.device, 0, k->probe_reg, &reg_after),
				     "pread after reopen");
			vt_check(reg_after != 0xffffffff, "all-ones after reopen");
			vt_vfio_close(&v);
		}
	}
	vt_end();
}

static void test_no_reset(const struct vt_dev *d)
{
	struct vt_device_info info;
	struct vt_vfio v;

	vt_begin("edu %s (root bus, no reset method): no RESET flag, RESET -> EINVAL", d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		if (vt_check_ret(vt_device_info(v.device, &info), "GET_INFO"))
			vt_check(!(info.flags & VFIO_DEVICE_FLAGS_RESET),
				 "RESET flag set (flags %#x)", info.flags);
		vt_check_errno(ioctl(v.device, VFIO_DEVICE_RESET), EINVAL, "VFIO_DEVICE_RESET");
		/* Still usable. */
		{
			uint32_t id = 0;

			vt_check_ret(vt_region_read32(v.device, 0, 0, &id), "pread ID");
			vt_check_eq(id, 0x010000ed, "edu ID register");
		}
		vt_vfio_close(&v);
	}
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS], found[2], edu = { .bdf = "" };
	bool have[2] = { false, false };
	int n;

	for (int k = 0; k < 2; k++) {
		n = vt_find_devices(kinds[k].vendor, kinds[k].device, devs, VT_MAX_DEVS);
		if (n > 0) {
			found[k] = devs[0];
			have[k] = true;
		}
	}
	n = vt_find_devices(0x1234, 0x11e8, devs, VT_MAX_DEVS);
	for (int i = 0; i < n; i++) {
		if (!vt_behind_bridge(devs[i].bdf)) {
			edu = devs[i];
			break;
		}
	}
	if (!have[0] && !have[1] && !edu.bdf[0])
		vt_skip_all("no nvme, e1000e or root-bus edu in this topology");

	vt_plan(2 * CASES_PER_KIND + 1);
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");
	for (int k = 0; k < 2; k++) {
		if (!have[k]) {
			for (int c = 0; c < CASES_PER_KIND; c++)
				vt_skip("not in this topology", "%s: reset case %d",
					kinds[k].name, c + 1);
			continue;
		}
		if (vt_bind(found[k].bdf)) {
			for (int c = 0; c < CASES_PER_KIND; c++)
				vt_ok(false, "%s %s: bind to vfio-pci (case %d)", kinds[k].name,
				      found[k].bdf, c + 1);
			continue;
		}
		test_reset(&kinds[k], &found[k]);
	}
	if (!edu.bdf[0])
		vt_skip("not in this topology", "edu on the root bus: no RESET");
	else if (vt_bind(edu.bdf))
		vt_ok(false, "edu %s: bind to vfio-pci", edu.bdf);
	else
		test_no_reset(&edu);
	return vt_finish();
}
