// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET.
 *
 * Two edu (1234:11e8) behind a pcie-pci-bridge share a bus and one IOMMU
 * group: the info lists both (group id, segment, bus, devfn), a buffer too
 * small gets ENOSPC with the count needed, and a hot reset proven by the
 * one group fd resets both.  Whether a reset really happened is seen in
 * QEMU's MSI capability: a bus reset clears the MSI data register, which
 * the PCI core does not restore while MSI is off, so a marker written there
 * through sysfs reads 0 again; the Memory/Bus Master bits the user set come
 * back (the core restores the header).  Bad proofs are refused without a
 * reset: no fd (EINVAL), an fd that is not a group (EINVAL), a closed fd
 * (EBADF), another device's group (EINVAL), more fds than devices
 * (EINVAL), non-zero flags (EINVAL), and a function on the bus that is not
 * bound to vfio-pci (EINVAL).  An edu on the root bus cannot be reset that
 * way (ENODEV).  nvme and e1000e each sit alone behind a slow root port,
 * where a secondary bus reset works.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_CAP_ID_MSI		0x05
#define PCI_MSI_FLAGS		2
#define PCI_MSI_FLAGS_64BIT	0x80
#define PCI_CAP_ID_MSIX		0x11
#define PCI_MSIX_TABLE		4

#define EDU_ID			0x00
#define EDU_LIVENESS		0x04
#define EDU_ID_VALUE		0x010000ed

#define MARK			0x5a5a
#define MAX_DEPS		8

struct hot_reset_info {
	struct vfio_pci_hot_reset_info hdr;
	struct vfio_pci_dependent_device devices[MAX_DEPS];
};

struct hot_reset {
	struct vfio_pci_hot_reset hdr;
	int32_t fds[MAX_DEPS];
};

/* Offset of the MSI data register (host view), 0 if no MSI. */
static unsigned int msi_data_off(const char *bdf)
{
	uint8_t cfg[256];
	unsigned int cap;

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) < (int)sizeof(cfg))
		return 0;
	cap = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSI);
	if (!cap)
		return 0;
	return cap + ((cfg[cap + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_64BIT) ? 12 : 8);
}

/* Write the reset marker into the MSI data register through sysfs. */
static bool set_msi_mark(const char *bdf)
{
	unsigned int off = msi_data_off(bdf);
	uint16_t v = MARK;

	if (!vt_check(off != 0, "%s: no MSI capability", bdf))
		return false;
	if (!vt_check_ret(vt_sysfs_config_rw(bdf, off, &v, 2, true), "%s: write MSI data", bdf))
		return false;
	v = 0;
	vt_check_ret(vt_sysfs_config_rw(bdf, off, &v, 2, false), "%s: read MSI data", bdf);
	return vt_check_eq(v, MARK, "%s: MSI data marker", bdf);
}

static uint16_t get_msi_mark(const char *bdf)
{
	unsigned int off = msi_data_off(bdf);
	uint16_t v = 0xffff;

	if (!off || vt_sysfs_config_rw(bdf, off, &v, 2, false))
		vt_diag("%s: cannot read MSI data", bdf);
	return v;
}

static int get_info(int dev, struct hot_reset_info *info, uint32_t argsz)
{
	memset(info, 0, sizeof(*info));
	info->hdr.argsz = argsz;
	return ioctl(dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
}

static int hot_reset(int dev, uint32_t flags, const int32_t *fds, uint32_t count)
{
	struct hot_reset r;

	memset(&r, 0, sizeof(r));
	r.hdr.argsz = (uint32_t)(sizeof(r.hdr) + count * sizeof(int32_t));
	r.hdr.flags = flags;
	r.hdr.count = count;
	memcpy(r.fds, fds, count * sizeof(int32_t));
	return ioctl(dev, VFIO_DEVICE_PCI_HOT_RESET, &r);
}

static void parse_bdf(const char *bdf, unsigned int *seg, unsigned int *bus,
		      unsigned int *devfn)
{
	unsigned int d = 0, f = 0;

	*seg = *bus = 0;
	if (sscanf(bdf, "%x:%x:%x.%x", seg, bus, &d, &f) != 4)
		vt_diag("cannot parse BDF %s", bdf);
	*devfn = d << 3 | f;
}

/* The edu works: ID register and the liveness register (reads ~x). */
static void check_edu_works(int dev, const char *what)
{
	uint32_t v = 0;

	vt_check_ret(vt_region_read32(dev, 0, EDU_ID, &v), "%s: read ID", what);
	vt_check_eq(v, EDU_ID_VALUE, "%s: ID register", what);
	vt_check_ret(vt_region_write32(dev, 0, EDU_LIVENESS, 0x12345678), "%s: write liveness", what);
	vt_check_ret(vt_region_read32(dev, 0, EDU_LIVENESS, &v), "%s: read liveness", what);
	vt_check_eq(v, ~0x12345678u, "%s: liveness", what);
}

static void set_mem_bm(int dev, const char *what)
{
	vt_check_ret(vt_config_write16(dev, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
		     "%s: set Memory + Bus Master", what);
}

static void check_mem_bm(int dev, const char *what)
{
	uint16_t cmd = 0;

	vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "%s: read COMMAND", what);
	vt_check_eq(cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
		    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, "%s: COMMAND MEM|BM", what);
}

/* ------------------------------------------------------------------------ */
/* The edu pair behind the bridge                                            */

#define BRIDGE_CASES	11

static void test_bridge(const struct vt_dev *a, const struct vt_dev *b,
			const struct vt_dev *other)
{
	struct hot_reset_info info;
	struct vt_vfio v, w = { -1, -1, -1, -1 };
	int devb, ret, efd, nullfd, closedfd;
	unsigned int seg, bus, devfn;
	int32_t fd;

	if (vt_vfio_open(&v, a->bdf) < 0) {
		for (int i = 0; i < BRIDGE_CASES; i++)
			vt_ok(false, "bridge case %d: open %s", i + 1, a->bdf);
		return;
	}
	devb = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, b->bdf);

	vt_begin("bridge: both edus in one group, both open");
	vt_check_eq(vt_iommu_group(b->bdf), v.group_id, "group of %s", b->bdf);
	vt_check_ok(devb, "GET_DEVICE_FD %s", b->bdf);
	vt_end();

	vt_begin("GET_PCI_HOT_RESET_INFO: argsz below the header -> EINVAL");
	vt_check_errno(get_info(v.device, &info, 8), EINVAL, "argsz 8");
	vt_end();

	vt_begin("GET_PCI_HOT_RESET_INFO: buffer too small -> ENOSPC with count 2");
	vt_check_errno(get_info(v.device, &info, sizeof(info.hdr)), ENOSPC, "no room");
	vt_check_eq(info.hdr.count, 2, "count with no room");
	vt_check_errno(get_info(v.device, &info, sizeof(info.hdr) + sizeof(info.devices[0])),
		       ENOSPC, "room for one");
	vt_check_eq(info.hdr.count, 2, "count with room for one");
	vt_end();

	vt_begin("GET_PCI_HOT_RESET_INFO: both functions with group, bus, devfn");
	if (vt_check_ok(get_info(v.device, &info, sizeof(info)), "GET_PCI_HOT_RESET_INFO")) {
		bool seen_a = false, seen_b = false;

		vt_check_eq(info.hdr.count, 2, "count");
		vt_check_eq(info.hdr.flags, 0, "flags (group-opened device)");
		for (unsigned int i = 0; i < info.hdr.count && i < MAX_DEPS; i++) {
			const struct vfio_pci_dependent_device *d = &info.devices[i];
			unsigned int s2, b2, f2;

			vt_check_eq(d->group_id, (uint32_t)v.group_id, "entry %u group", i);
			parse_bdf(a->bdf, &seg, &bus, &devfn);
			parse_bdf(b->bdf, &s2, &b2, &f2);
			vt_check_eq(d->segment, seg, "entry %u segment", i);
			vt_check_eq(d->bus, bus, "entry %u bus", i);
			if (d->devfn == devfn)
				seen_a = true;
			else if (d->devfn == f2 && b2 == bus)
				seen_b = true;
			else
				vt_check(false, "entry %u: unexpected devfn %#x", i, d->devfn);
		}
		vt_check(seen_a && seen_b, "both edus listed (%s %s)", seen_a ? "" : a->bdf,
			 seen_b ? "" : b->bdf);
	}
	vt_end();

	vt_begin("PCI_HOT_RESET with the group fd resets both edus, both work after");
	set_mem_bm(v.device, a->bdf);
	if (devb >= 0)
		set_mem_bm(devb, b->bdf);
	set_msi_mark(a->bdf);
	set_msi_mark(b->bdf);
	fd = v.group;
	if (vt_check_ok(hot_reset(v.device, 0, &fd, 1), "PCI_HOT_RESET")) {
		vt_check_eq(get_msi_mark(a->bdf), 0, "%s: MSI data after the reset", a->bdf);
		vt_check_eq(get_msi_mark(b->bdf), 0, "%s: MSI data after the reset", b->bdf);
	}
	check_mem_bm(v.device, a->bdf);
	check_edu_works(v.device, a->bdf);
	if (devb >= 0) {
		check_mem_bm(devb, b->bdf);
		check_edu_works(devb, b->bdf);
	}
	vt_end();

	vt_begin("PCI_HOT_RESET with no fd (count 0) -> EINVAL");
	/* From here on a marker that survives proves that nothing was reset. */
	set_msi_mark(a->bdf);
	set_msi_mark(b->bdf);
	vt_check_errno(hot_reset(v.device, 0, NULL, 0), EINVAL, "count 0");
	vt_end();

	vt_begin("PCI_HOT_RESET with fds that are not groups -> EINVAL, closed fd -> EBADF");
	efd = eventfd(0, EFD_CLOEXEC);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	closedfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	close(closedfd);
	vt_check_errno(hot_reset(v.device, 0, &efd, 1), EINVAL, "eventfd");
	vt_check_errno(hot_reset(v.device, 0, &nullfd, 1), EINVAL, "/dev/null");
	vt_check_errno(hot_reset(v.device, 0, &v.device, 1), EINVAL, "the device fd itself");
	vt_check_errno(hot_reset(v.device, 0, &v.container, 1), EINVAL, "the container fd");
	vt_check_errno(hot_reset(v.device, 0, &closedfd, 1), EBADF, "closed fd");
	fd = -1;
	vt_check_errno(hot_reset(v.device, 0, &fd, 1), EBADF, "fd -1");
	{
		int32_t two[2] = { v.group, closedfd };

		vt_check_errno(hot_reset(v.device, 0, two, 2), EBADF, "group fd + closed fd");
	}
	close(efd);
	close(nullfd);
	vt_check_eq(get_msi_mark(a->bdf), MARK, "%s: no reset happened", a->bdf);
	vt_end();

	vt_begin("PCI_HOT_RESET with another device's group -> EINVAL");
	if (!other) {
		vt_end_skip("no other device bound to vfio-pci");
	} else if (vt_check_ret(vt_vfio_open(&w, other->bdf), "open %s", other->bdf)) {
		vt_check_errno(hot_reset(v.device, 0, &w.group, 1), EINVAL,
			       "group of %s", other->bdf);
		vt_check_eq(get_msi_mark(a->bdf), MARK, "%s: no reset happened", a->bdf);
		vt_check_eq(get_msi_mark(b->bdf), MARK, "%s: no reset happened", b->bdf);
		vt_vfio_close(&w);
		vt_end();
	} else {
		vt_end();
	}

	vt_begin("PCI_HOT_RESET: more fds than devices, or flags -> EINVAL");
	{
		int32_t three[3] = { v.group, v.group, v.group };

		vt_check_errno(hot_reset(v.device, 0, three, 3), EINVAL, "3 fds for 2 devices");
		fd = v.group;
		vt_check_errno(hot_reset(v.device, 1, &fd, 1), EINVAL, "flags 1");
		vt_check_eq(get_msi_mark(a->bdf), MARK, "%s: no reset happened", a->bdf);
	}
	vt_end();

	vt_begin("PCI_HOT_RESET with the sibling closed: both reset, sibling reopens");
	if (devb >= 0)
		close(devb);
	devb = -1;
	fd = v.group;
	if (vt_check_ok(hot_reset(v.device, 0, &fd, 1), "PCI_HOT_RESET")) {
		vt_check_eq(get_msi_mark(a->bdf), 0, "%s: MSI data after the reset", a->bdf);
		vt_check_eq(get_msi_mark(b->bdf), 0, "%s: MSI data after the reset", b->bdf);
	}
	check_edu_works(v.device, a->bdf);
	devb = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, b->bdf);
	if (vt_check_ok(devb, "reopen %s", b->bdf))
		check_edu_works(devb, b->bdf);
	vt_end();

	vt_begin("PCI_HOT_RESET with a function of the bus not bound to vfio-pci -> EINVAL");
	if (devb >= 0)
		close(devb);
	devb = -1;
	set_msi_mark(a->bdf);
	ret = vt_release(b->bdf);
	if (vt_check_ret(ret, "unbind %s", b->bdf)) {
		if (vt_check_ok(get_info(v.device, &info, sizeof(info)), "GET_PCI_HOT_RESET_INFO"))
			vt_check_eq(info.hdr.count, 2, "count with %s unbound", b->bdf);
		fd = v.group;
		vt_check_errno(hot_reset(v.device, 0, &fd, 1), EINVAL, "PCI_HOT_RESET");
		vt_check_eq(get_msi_mark(a->bdf), MARK, "%s: no reset happened", a->bdf);
	}
	vt_check_ret(vt_bind(b->bdf), "rebind %s", b->bdf);
	fd = v.group;
	vt_check_ok(hot_reset(v.device, 0, &fd, 1), "PCI_HOT_RESET after the rebind");
	check_edu_works(v.device, a->bdf);
	vt_end();

	vt_vfio_close(&v);
}

/* ------------------------------------------------------------------------ */
/* Root bus: no bus to reset                                                 */

static void test_root_bus(const struct vt_dev *d)
{
	struct hot_reset_info info;
	struct vt_vfio v;

	vt_begin("edu %s on the root bus: hot reset info and hot reset -> ENODEV", d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		int32_t fd = v.group;

		vt_check_errno(get_info(v.device, &info, sizeof(info)), ENODEV,
			       "GET_PCI_HOT_RESET_INFO");
		vt_check_errno(hot_reset(v.device, 0, &fd, 1), ENODEV, "PCI_HOT_RESET");
		check_edu_works(v.device, d->bdf);
		vt_vfio_close(&v);
	}
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* Alone behind a root port                                                  */

/* nvme: marker in MSI-X table entry 0's data through the BAR mapping. */
static volatile uint32_t *msix_mark_ptr(int dev, void **map, size_t *len)
{
	struct vfio_region_info *ri;
	uint8_t cfg[256];
	unsigned int cap;
	uint32_t table;

	*map = NULL;
	if (vt_config_read(dev, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg))
		return NULL;
	cap = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSIX);
	if (!cap)
		return NULL;
	table = vt_le32(cfg + cap + PCI_MSIX_TABLE);
	ri = vt_region_info(dev, table & 7);
	if (!ri)
		return NULL;
	*len = ri->size;
	if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && (table & ~7u) + 16 <= ri->size)
		*map = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
			    (off_t)ri->offset);
	free(ri);
	if (*map == MAP_FAILED || !*map) {
		*map = NULL;
		return NULL;
	}
	return (volatile uint32_t *)((uint8_t *)*map + (table & ~7u) + 8);
}

static void test_root_port(const char *name, const struct vt_dev *d)
{
	struct hot_reset_info info;
	volatile uint32_t *mark = NULL;
	void *map = NULL;
	size_t map_len = 0;
	struct vt_vfio v;
	bool msi;

	vt_begin("%s %s behind a root port: hot reset info lists it alone, hot reset works",
		 name, d->bdf);
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	if (vt_check_ok(get_info(v.device, &info, sizeof(info)), "GET_PCI_HOT_RESET_INFO")) {
		unsigned int seg, bus, devfn;

		parse_bdf(d->bdf, &seg, &bus, &devfn);
		vt_check_eq(info.hdr.count, 1, "count");
		vt_check_eq(info.devices[0].group_id, (uint32_t)v.group_id, "group");
		vt_check_eq(info.devices[0].bus, bus, "bus");
		vt_check_eq(info.devices[0].devfn, devfn, "devfn");
	}
	set_mem_bm(v.device, d->bdf);
	msi = msi_data_off(d->bdf) != 0;
	if (msi) {
		set_msi_mark(d->bdf);
	} else {
		mark = msix_mark_ptr(v.device, &map, &map_len);
		if (vt_check(mark != NULL, "no MSI, and no mappable MSI-X table")) {
			*mark = MARK;
			vt_check_eq(*mark, MARK, "MSI-X entry 0 data marker");
		}
	}
	{
		int32_t fd = v.group;

		if (vt_check_ok(hot_reset(v.device, 0, &fd, 1), "PCI_HOT_RESET")) {
			if (msi)
				vt_check_eq(get_msi_mark(d->bdf), 0, "MSI data after the reset");
			else if (mark)
				vt_check_eq(*mark, 0, "MSI-X entry 0 data after the reset");
		}
	}
	check_mem_bm(v.device, d->bdf);
	{
		uint32_t r = 0;

		vt_check_ret(vt_region_read32(v.device, 0, 8, &r), "pread BAR0 reg 8");
		vt_check(r != 0xffffffff, "BAR0 reg 8 reads all-ones after the reset");
	}
	if (map)
		munmap(map, map_len);
	vt_vfio_close(&v);
	vt_end();
}

int main(void)
{
	struct vt_dev edus[VT_MAX_DEVS], devs[VT_MAX_DEVS], bridged[2], root = { .bdf = "" };
	struct vt_dev rp[2], *other = NULL;
	static const struct { const char *name; uint16_t v, d; } rp_kinds[2] = {
		{ "nvme", 0x1b36, 0x0010 }, { "e1000e", 0x8086, 0x10d3 },
	};
	bool have_rp[2] = { false, false };
	int n, nb = 0;

	n = vt_find_devices(0x1234, 0x11e8, edus, VT_MAX_DEVS);
	for (int i = 0; i < n; i++) {
		if (vt_behind_bridge(edus[i].bdf)) {
			if (nb < 2)
				bridged[nb++] = edus[i];
		} else if (!root.bdf[0]) {
			root = edus[i];
		}
	}
	for (int k = 0; k < 2; k++) {
		if (vt_find_devices(rp_kinds[k].v, rp_kinds[k].d, devs, VT_MAX_DEVS) > 0) {
			rp[k] = devs[0];
			have_rp[k] = true;
		}
	}
	if (nb < 2 && !root.bdf[0] && !have_rp[0] && !have_rp[1])
		vt_skip_all("no edu pair behind a bridge, no edu, nvme or e1000e");

	vt_plan(BRIDGE_CASES + 1 + 2);
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");

	if (root.bdf[0] && !vt_bind(root.bdf))
		other = &root;
	if (nb < 2) {
		for (int i = 0; i < BRIDGE_CASES; i++)
			vt_skip("no edu pair behind a bridge", "bridge case %d", i + 1);
	} else if (vt_bind(bridged[0].bdf) || vt_bind(bridged[1].bdf)) {
		for (int i = 0; i < BRIDGE_CASES; i++)
			vt_ok(false, "bridge case %d: bind both edus", i + 1);
	} else {
		if (!other) {
			struct vt_dev lab[VT_MAX_DEVS];
			int nl = vt_lab_devices(lab, VT_MAX_DEVS);

			for (int i = 0; i < nl && !other; i++) {
				if (vt_is_bound(lab[i].bdf) &&
				    vt_iommu_group(lab[i].bdf) != vt_iommu_group(bridged[0].bdf)) {
					root = lab[i];
					other = &root;
				}
			}
		}
		vt_diag("edu pair %s %s, group %d", bridged[0].bdf, bridged[1].bdf,
			vt_iommu_group(bridged[0].bdf));
		test_bridge(&bridged[0], &bridged[1], other);
	}

	if (!root.bdf[0] || root.vendor != 0x1234)
		vt_skip("no edu on the root bus", "edu on the root bus: ENODEV");
	else if (vt_bind(root.bdf))
		vt_ok(false, "edu %s: bind", root.bdf);
	else
		test_root_bus(&root);

	for (int k = 0; k < 2; k++) {
		if (!have_rp[k])
			vt_skip("not in this topology", "%s behind a root port: hot reset",
				rp_kinds[k].name);
		else if (vt_bind(rp[k].bdf))
			vt_ok(false, "%s %s: bind", rp_kinds[k].name, rp[k].bdf);
		else
			test_root_port(rp_kinds[k].name, &rp[k]);
	}
	return vt_finish();
}
