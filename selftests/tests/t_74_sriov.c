// SPDX-License-Identifier: GPL-2.0-only
/*
 * SR-IOV through a PF bound to vfio-pci, and the VF token.
 *
 * Needs an SR-IOV PF with at least 2 VFs: the runner's "sriov" topology
 * (QEMU 7.2's nvme behind a root port) or its "igb" topology (QEMU 10's
 * 82576, whose VFs work); elsewhere it skips.  enable_sriov is switched at
 * run time (0644 in both drivers; --module-params enable_sriov=1 works too)
 * and put back at the end.
 *
 * - enable_sriov off: sriov_numvfs on our PF fails with ENOENT.
 * - On: the VFs appear, get driver_override "vfio-pci", bind to vfio-pci
 *   and each has an IOMMU group of its own; the PF stays in D0 while it
 *   has VFs, even closed.  The PF stays open until the VF tests are done:
 *   its close (and open) resets it, and an FLR of QEMU 7.2's nvme PF takes
 *   its VFs offline (config space all-ones; a VF open then waits 65 s for
 *   the VF's FLR to complete).
 * - VF token: a VF of our PF opens only with the PF's token in the device
 *   name ("BDF vf_token=<uuid>"): none or a wrong one -> EACCES, a
 *   malformed one -> EINVAL.  The PF's user sets the token with
 *   VFIO_DEVICE_FEATURE_PCI_VF_TOKEN (SET only, PF only); while a VF is
 *   open the PF itself needs the token for a new device fd.
 * - igb only (QEMU 7.2's nvme VFs do not answer): the second VF (VF 1:
 *   its BAR is neither the PF's nor VF 0's) works through vfio, opened
 *   with the token.  Its config region shows the VF's class code; BAR0 is
 *   mmappable at the size sysfs gives; a word of its mailbox memory
 *   (VMBMEM, plain RAM in QEMU's igb: the VF's 64 bytes at its BAR0 0x800
 *   are the PF's BAR0 0x800 + 0x40 * VF number) written through the VF's
 *   mmap reads back through the VF's pread and through the PF's BAR0 at
 *   VF 1's place, not VF 0's; one written through the VF's pwrite reads
 *   back through its mmap; its MSI-X count is the table size in its
 *   config space.
 * - sriov_numvfs 0 removes the VFs; the PF goes back to idle D3hot.
 *
 * QEMU's VF config space has Vendor/Device ID 0xffff (as the spec says);
 * the user sees the IDs Linux gives the VF (vfio virtualizes them).
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_CLASS_REVISION	0x08
#define PCI_CAPABILITY_LIST	0x34
#define PCI_CAP_ID_MSIX		0x11
/* igb VF (QEMU's hw/net/igbvf.c): BAR0 registers, the mailbox memory. */
#define IGBVF_VMBMEM		0x800
#define IGB_PF_VMBMEM(vf)	(0x800 + 0x40 * (vf))
#define PARAM			"/sys/module/" VT_MODULE "/parameters/enable_sriov"
#define NUM_VFS			2
#define WAIT_MS			5000

static const uint8_t token[16] = {
	0x6e, 0x67, 0x74, 0x6b, 0x00, 0x01, 0x40, 0x02,
	0x80, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
};
#define TOKEN_STR		"6e67746b-0001-4002-8003-040506070809"
#define WRONG_STR		"6e67746b-0001-4002-8003-040506070800"

static int set_numvfs(const char *pf, int n)
{
	char path[128], val[8];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs", pf);
	snprintf(val, sizeof(val), "%d", n);
	return vt_sysfs_write(path, val);
}

/* BDFs of the PF's VFs (virtfnN links). */
static int list_vfs(const char *pf, char (*vfs)[VT_BDF_LEN], int max)
{
	int n = 0;

	for (int i = 0; i < max; i++) {
		char link[128], target[256], *base;
		ssize_t len;

		snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/virtfn%d", pf, i);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			break;
		target[len] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (strlen(base) >= VT_BDF_LEN)
			break;
		memcpy(vfs[n++], base, strlen(base) + 1);
	}
	return n;
}

/* Container + group of a device, ready for GET_DEVICE_FD. */
static int open_group(const char *bdf, struct vt_vfio *v)
{
	int ret;

	v->container = v->group = v->device = -1;
	v->group_id = vt_iommu_group(bdf);
	if (v->group_id < 0)
		return v->group_id;
	v->container = vt_open_container();
	v->group = vt_open_group(v->group_id);
	if (v->container < 0 || v->group < 0) {
		ret = v->container < 0 ? v->container : v->group;
		vt_vfio_close(v);
		return ret;
	}
	ret = vt_attach_group(v->container, v->group);
	if (!ret && ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		ret = -errno;
	if (ret)
		vt_vfio_close(v);
	return ret;
}

/* GET_DEVICE_FD with " vf_token=<tok>" appended (tok NULL: the plain name). */
static int get_fd(const struct vt_vfio *v, const char *bdf, const char *tok)
{
	char name[128];

	if (tok)
		snprintf(name, sizeof(name), "%s vf_token=%s", bdf, tok);
	else
		snprintf(name, sizeof(name), "%s", bdf);
	return ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, name);
}

static int vf_token_feature(int dev, uint32_t flags, const void *uuid, uint32_t len)
{
	struct {
		struct vfio_device_feature hdr;
		uint8_t uuid[16];
	} f;

	memset(&f, 0, sizeof(f));
	f.hdr.argsz = (uint32_t)sizeof(f.hdr) + len;
	f.hdr.flags = flags | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	if (uuid)
		memcpy(f.uuid, uuid, 16);
	return ioctl(dev, VFIO_DEVICE_FEATURE, &f);
}

/* The SR-IOV PFs of the lab, and their VFs' IDs as Linux gives them. */
static const struct sriov_pf {
	const char *name;
	uint16_t vendor, device, vf_device;
	bool vfs_work;		/* the VF answers config and BAR accesses */
} pfs[] = {
	{ "nvme (QEMU 7.2)", 0x1b36, 0x0010, 0x0010, false },
	{ "igb", 0x8086, 0x10c9, 0x10ca, true },
};

static const struct sriov_pf *find_pf(struct vt_dev *pf)
{
	for (size_t k = 0; k < sizeof(pfs) / sizeof(pfs[0]); k++) {
		struct vt_dev devs[VT_MAX_DEVS];
		int n = vt_find_devices(pfs[k].vendor, pfs[k].device, devs, VT_MAX_DEVS);

		for (int i = 0; i < n; i++) {
			char buf[16];

			if (vt_sysfs_read(devs[i].bdf, "sriov_totalvfs", buf, sizeof(buf)) > 0 &&
			    atoi(buf) >= NUM_VFS) {
				*pf = devs[i];
				return &pfs[k];
			}
		}
	}
	return NULL;
}

/* Offset of capability `id` in a config space image, or 0. */
static unsigned int find_cap(const uint8_t *cfg, uint8_t id)
{
	unsigned int pos = cfg[PCI_CAPABILITY_LIST] & ~3u;

	for (int n = 0; pos >= 0x40 && pos < 0xff && n < 48; n++) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & ~3u;
	}
	return 0;
}

/*
 * VF number `vfn` (`vf`, open as vfdev) works: config, BAR0 through mmap
 * and pread (checked against the PF's BAR0), MSI-X.
 */
static void check_working_vf(const char *vf, int vfn, int vfdev, int pfdev)
{
	struct vt_resource res[VT_NUM_RESOURCES];
	struct vfio_region_info *ri;
	struct vfio_irq_info irq;
	uint8_t raw[256];
	uint32_t class = 0, val = 0;
	volatile uint32_t *bar;
	unsigned int msix;
	size_t len = 0;

	/* Config: the class code through vfio is the VF's own (0x020000). */
	memset(raw, 0, sizeof(raw));
	vt_check_ret(vt_sysfs_config(vf, raw, sizeof(raw)), "sysfs config of %s", vf);
	if (vt_check_ret(vt_config_read32(vfdev, PCI_CLASS_REVISION, &class), "read class"))
		vt_check_eq(class >> 8, 0x020000, "class code through vfio");

	/* BAR0: mmappable, at the size of the VF's resource. */
	ri = vt_region_info(vfdev, VFIO_PCI_BAR0_REGION_INDEX);
	if (vt_check(ri != NULL, "REGION_INFO BAR0: %s", vt_errname(errno)) &&
	    vt_check_ok(vt_resources(vf, res), "resources of %s", vf)) {
		vt_check_eq(ri->size, vt_resource_size(&res[0]), "BAR0 size");
		vt_check((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) != 0, "BAR0 flags 0x%x: no mmap",
			 ri->flags);
	}
	free(ri);
	bar = vt_map_region(vfdev, VFIO_PCI_BAR0_REGION_INDEX, &len);
	if (vt_check(bar != NULL, "mmap BAR0: %s", vt_errname(errno))) {
		/* mmap write -> VF pread and PF pread (this VF's mailbox). */
		bar[IGBVF_VMBMEM / 4] = 0x5a6b7c8d;
		if (vt_check_ret(vt_region_read32(vfdev, VFIO_PCI_BAR0_REGION_INDEX,
						  IGBVF_VMBMEM, &val), "VF pread VMBMEM"))
			vt_check_eq(val, 0x5a6b7c8d, "VMBMEM written through the mmap, pread");
		val = 0;
		if (vt_check_ret(vt_region_read32(pfdev, VFIO_PCI_BAR0_REGION_INDEX,
						  IGB_PF_VMBMEM(vfn), &val), "PF pread VMBMEM(%d)",
				 vfn))
			vt_check_eq(val, 0x5a6b7c8d, "VF %d's mailbox seen through the PF", vfn);
		if (vt_check_ret(vt_region_read32(pfdev, VFIO_PCI_BAR0_REGION_INDEX,
						  IGB_PF_VMBMEM(0), &val), "PF pread VMBMEM(0)"))
			vt_check(val != 0x5a6b7c8d, "the write reached VF 0's mailbox");
		/* pwrite -> mmap read. */
		if (vt_check_ret(vt_region_write32(vfdev, VFIO_PCI_BAR0_REGION_INDEX,
						   IGBVF_VMBMEM + 4, 0x13579bdf),
				 "VF pwrite VMBMEM+4"))
			vt_check_eq(bar[IGBVF_VMBMEM / 4 + 1], 0x13579bdf,
				    "VMBMEM+4 written through pwrite, mmap read");
		munmap((void *)bar, len);
	}

	/* MSI-X: as many vectors as the VF's table has entries. */
	msix = find_cap(raw, PCI_CAP_ID_MSIX);
	if (vt_check(msix != 0, "%s: no MSI-X capability in sysfs config", vf) &&
	    vt_check_ret(vt_irq_info(vfdev, VFIO_PCI_MSIX_IRQ_INDEX, &irq), "MSI-X irq info"))
		vt_check_eq(irq.count, ((raw[msix + 2] | raw[msix + 3] << 8) & 0x7ff) + 1,
			    "MSI-X count");
}

int main(void)
{
	char vfs[NUM_VFS + 2][VT_BDF_LEN], saved[8] = "N";
	struct vt_vfio pfv = { -1, -1, -1, -1 }, vfv = { -1, -1, -1, -1 };
	const struct sriov_pf *kind;
	struct vt_dev pf;
	int nvf = 0, fd;

	kind = find_pf(&pf);
	if (!kind)
		vt_skip_all("no SR-IOV PF (topology sriov or igb)");
	if (vt_read_file(PARAM, saved, sizeof(saved)) <= 0)
		vt_skip_all("no module parameter enable_sriov");

	vt_plan(10);
	vt_diag("kernel %s, %s, PF %s (%s), enable_sriov was %s", vt_kernel(),
		vt_baseline() ? "baseline" : "ng", pf.bdf, kind->name, saved);
	if (vt_bind(pf.bdf))
		vt_bail("cannot bind the PF %s", pf.bdf);

	vt_begin("enable_sriov off: sriov_numvfs on our PF -> ENOENT");
	if (vt_check_ret(vt_sysfs_write(PARAM, "N"), "enable_sriov := N")) {
		vt_check_err(set_numvfs(pf.bdf, NUM_VFS), ENOENT, "sriov_numvfs := %d", NUM_VFS);
		vt_check_eq(list_vfs(pf.bdf, vfs, NUM_VFS + 2), 0, "VFs");
	}
	vt_end();

	vt_begin("enable_sriov on: %d VFs, captured by vfio-pci, a group each", NUM_VFS);
	vt_check_ret(vt_sysfs_write(PARAM, "Y"), "enable_sriov := Y");
	/* The PF's user sets the token before the VFs exist. */
	if (vt_check_ret(vt_vfio_open(&pfv, pf.bdf), "open PF"))
		vt_check_ok(vf_token_feature(pfv.device, VFIO_DEVICE_FEATURE_SET, token, 16),
			    "SET PCI_VF_TOKEN on the PF");
	if (vt_check_ret(set_numvfs(pf.bdf, NUM_VFS), "sriov_numvfs := %d", NUM_VFS)) {
		nvf = list_vfs(pf.bdf, vfs, NUM_VFS + 2);
		vt_check_eq(nvf, NUM_VFS, "VFs");
		for (int i = 0; i < nvf; i++) {
			char ovr[VT_NAME_LEN] = "";
			int g = vt_iommu_group(vfs[i]);

			vt_get_override(vfs[i], ovr, sizeof(ovr));
			vt_check(strcmp(ovr, VT_DRIVER) == 0, "%s: driver_override '%s'", vfs[i], ovr);
			{
				struct timespec t0;

				clock_gettime(CLOCK_MONOTONIC, &t0);
				while (!vt_is_bound(vfs[i]) && vt_ms_since(&t0) < WAIT_MS)
					usleep(10000);
			}
			vt_check(vt_is_bound(vfs[i]), "%s not bound to " VT_DRIVER, vfs[i]);
			vt_check(g >= 0 && g != pfv.group_id, "%s: group %d (PF's %d)", vfs[i], g,
				 pfv.group_id);
			for (int j = 0; j < i; j++)
				vt_check(g != vt_iommu_group(vfs[j]), "%s shares group %d with %s",
					 vfs[i], g, vfs[j]);
		}
	}
	vt_end();
	if (nvf < 1) {
		vt_vfio_close(&pfv);
		set_numvfs(pf.bdf, 0);
		vt_sysfs_write(PARAM, saved);
		vt_bail("no VFs");
	}

	vt_begin("%s: VF open without a token -> EACCES", vfs[0]);
	if (vt_check_ret(open_group(vfs[0], &vfv), "container + VF group"))
		vt_check_errno(get_fd(&vfv, vfs[0], NULL), EACCES, "GET_DEVICE_FD '%s'", vfs[0]);
	vt_end();

	vt_begin("%s: wrong token -> EACCES, malformed -> EINVAL", vfs[0]);
	if (vfv.group >= 0) {
		vt_check_errno(get_fd(&vfv, vfs[0], WRONG_STR), EACCES, "wrong token");
		vt_check_errno(get_fd(&vfv, vfs[0], "not-a-uuid"), EINVAL, "malformed token");
		vt_check_errno(get_fd(&vfv, vfs[0], TOKEN_STR " x"), EINVAL,
			       "token followed by garbage");
	}
	vt_end();

	vt_begin("%s: the right token opens the VF; IDs seen through vfio", vfs[0]);
	if (vfv.group >= 0) {
		fd = get_fd(&vfv, vfs[0], TOKEN_STR);
		if (vt_check_ok(fd, "GET_DEVICE_FD with the token")) {
			uint16_t vid = 0, did = 0;
			uint8_t raw[4] = { 0 };

			vfv.device = fd;
			vt_check_ret(vt_config_read16(fd, PCI_VENDOR_ID, &vid), "read vendor");
			vt_check_ret(vt_config_read16(fd, PCI_DEVICE_ID, &did), "read device");
			vt_sysfs_config(vfs[0], raw, sizeof(raw));
			vt_diag("VF IDs through vfio %04x:%04x, raw config %02x%02x:%02x%02x", vid,
				did, raw[1], raw[0], raw[3], raw[2]);
			vt_check_eq(vid, kind->vendor, "vendor ID through vfio");
			vt_check_eq(did, kind->vf_device, "device ID through vfio");
		}
	}
	vt_end();

	vt_begin("%s: the VF works: config, BAR0 mmap and pread (seen by the PF), MSI-X",
		 vfs[nvf - 1]);
	if (!kind->vfs_work) {
		vt_end_skip("the VFs of this PF (%s) do not answer", kind->name);
	} else {
		struct vt_vfio vf1 = { -1, -1, -1, -1 };

		if (vt_check(nvf == NUM_VFS && pfv.device >= 0, "%d VFs, PF fd %d", nvf,
			     pfv.device) &&
		    vt_check_ret(open_group(vfs[nvf - 1], &vf1), "container + group of %s",
				 vfs[nvf - 1])) {
			vf1.device = get_fd(&vf1, vfs[nvf - 1], TOKEN_STR);
			if (vt_check_ok(vf1.device, "GET_DEVICE_FD %s with the token", vfs[nvf - 1]))
				check_working_vf(vfs[nvf - 1], nvf - 1, vf1.device, pfv.device);
		}
		vt_vfio_close(&vf1);
		vt_end();
	}

	vt_begin("PF: another fd while a VF is open needs the token");
	if (vt_check(pfv.group >= 0, "PF group not open")) {
		vt_check_errno(get_fd(&pfv, pf.bdf, NULL), EACCES, "PF without a token");
		vt_check_errno(get_fd(&pfv, pf.bdf, WRONG_STR), EACCES, "PF with a wrong token");
		fd = get_fd(&pfv, pf.bdf, TOKEN_STR);
		if (vt_check_ok(fd, "PF with the token"))
			close(fd);
	}
	vt_end();

	vt_begin("PCI_VF_TOKEN: SET on the PF only, no GET, payload checked");
	if (pfv.device >= 0) {
		vt_check_ok(vf_token_feature(pfv.device, VFIO_DEVICE_FEATURE_PROBE |
					     VFIO_DEVICE_FEATURE_SET, NULL, 0), "PROBE|SET on the PF");
		vt_check_errno(vf_token_feature(pfv.device, VFIO_DEVICE_FEATURE_GET, NULL, 16),
			       EINVAL, "GET on the PF");
		vt_check_errno(vf_token_feature(pfv.device, VFIO_DEVICE_FEATURE_SET, token, 8),
			       EINVAL, "SET with 8 bytes");
		vt_check_ok(vf_token_feature(pfv.device, VFIO_DEVICE_FEATURE_SET, token, 16),
			    "SET the same token again");
	}
	if (vfv.device >= 0)
		vt_check_errno(vf_token_feature(vfv.device, VFIO_DEVICE_FEATURE_SET, token, 16),
			       ENOTTY, "SET on a VF");
	vt_end();

	vt_vfio_close(&vfv);
	vt_begin("the PF stays in D0 while it has VFs, even closed");
	vt_vfio_close(&pfv);
	usleep(500000);
	vt_check(vt_wait_attr(pf.bdf, "power_state", "D0", 0), "PF not in D0");
	vt_check(vt_wait_attr(pf.bdf, "power/runtime_status", "active", 0), "PF not active");
	vt_end();

	vt_begin("sriov_numvfs 0 removes the VFs, the PF goes back to idle D3hot");
	if (vt_check_ret(set_numvfs(pf.bdf, 0), "sriov_numvfs := 0")) {
		vt_check_eq(list_vfs(pf.bdf, vfs, NUM_VFS + 2), 0, "VFs left");
		for (int i = 0; i < nvf; i++)
			vt_check(!vt_sysfs_exists(vfs[i], "vendor"), "%s still present", vfs[i]);
		vt_check(vt_wait_attr(pf.bdf, "power_state", "D3hot", WAIT_MS), "PF not idle");
	}
	vt_check_ret(vt_sysfs_write(PARAM, saved), "enable_sriov := %s", saved);
	vt_end();
	return vt_finish();
}
