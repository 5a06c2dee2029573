// SPDX-License-Identifier: GPL-2.0-only
/*
 * Info ioctls: VFIO_DEVICE_GET_INFO, GET_REGION_INFO for all 9 regions and
 * GET_IRQ_INFO for all 5 interrupt indexes, on every device of the lab, each
 * compared with what the PCI core says about the device in sysfs (resources,
 * config space, reset methods), not with numbers written down here.
 */
#include "vfio_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NUM_REGIONS	9	/* VFIO_PCI_NUM_REGIONS */
#define NUM_IRQS	5	/* VFIO_PCI_NUM_IRQS */
#define PAGE		4096u

#define PCI_CAP_ID_MSI	0x05
#define PCI_CAP_ID_EXP	0x10
#define PCI_CAP_ID_MSIX	0x11
#define PCI_EXP_DEVCAP2	0x24
#define PCI_EXP_DEVCAP2_ATOMIC_COMP	0x380	/* 32, 64 and 128-bit completer */

#define RW	(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)

/* What sysfs says about one device. */
struct facts {
	uint8_t cfg[4096];
	size_t cfg_size;		/* size of the sysfs config file */
	size_t cfg_len;			/* bytes of it read into cfg */
	struct vt_resource res[VT_NUM_RESOURCES];
	bool reset;			/* the PCI core can reset it */
	int msix_bar;			/* BAR holding the MSI-X table, or -1 */
	bool rom_image;			/* the lab knows this ROM has an image */
};

/*
 * Whether the PCI core can reset the device right now: the reset methods in
 * sysfs are not enough (a bus reset is listed for a device that later got
 * siblings on its bus), so try one through sysfs while the device is closed.
 */
static bool can_reset(const char *bdf)
{
	char methods[256] = "";
	int ret;

	vt_sysfs_read(bdf, "reset_method", methods, sizeof(methods));
	ret = vt_sysfs_reset(bdf);
	vt_diag("%s: reset_method '%s', sysfs reset: %s", bdf, methods, vt_errname(-ret));
	return ret == 0;
}

static int gather_facts(const struct vt_dev *d, struct facts *f)
{
	unsigned int msix;
	long size;
	int ret;

	memset(f, 0, sizeof(*f));
	size = vt_sysfs_size(d->bdf, "config");
	if (size < 0)
		return (int)size;
	f->cfg_size = (size_t)size;
	ret = vt_sysfs_config(d->bdf, f->cfg, sizeof(f->cfg));
	if (ret < 0)
		return ret;
	if ((size_t)ret < 64)
		return -EIO;
	f->cfg_len = (size_t)ret;
	ret = vt_resources(d->bdf, f->res);
	if (ret)
		return ret;
	f->reset = can_reset(d->bdf);
	msix = vt_pci_find_cap(f->cfg, f->cfg_len, PCI_CAP_ID_MSIX);
	f->msix_bar = msix ? (int)(vt_le32(f->cfg + msix + 4) & 7) : -1;
	f->rom_image = strcmp(d->name, "e1000e") == 0;	/* QEMU loads efi-e1000e.rom */
	return 0;
}

/* DEVCAP2 AtomicOp completer bits (32/64/128) of a PCIe function. */
static uint32_t atomic_completer(const struct facts *f)
{
	unsigned int exp = vt_pci_find_cap(f->cfg, f->cfg_len, PCI_CAP_ID_EXP);

	if (!exp || exp + PCI_EXP_DEVCAP2 + 4 > f->cfg_len)
		return 0;
	return vt_le32(f->cfg + exp + PCI_EXP_DEVCAP2) & PCI_EXP_DEVCAP2_ATOMIC_COMP;
}

static void test_device_info(const struct vt_dev *d, int fd, const struct facts *f)
{
	struct vt_device_info info;
	uint32_t want = VFIO_DEVICE_FLAGS_PCI | (f->reset ? VFIO_DEVICE_FLAGS_RESET : 0);

	vt_begin("%s %s: GET_INFO flags PCI%s, 9 regions, 5 irqs", d->name, d->bdf,
		 f->reset ? "|RESET" : "");
	if (vt_check_ret(vt_device_info(fd, &info), "VFIO_DEVICE_GET_INFO")) {
		/*
		 * The only device capability on x86 is the AtomicOp completion
		 * one (6.12 in-tree; ours on every kernel), for widths the
		 * function completes itself: a device without any has no chain.
		 */
		vt_check_eq(info.flags & ~VFIO_DEVICE_FLAGS_CAPS, want, "flags");
		if (!atomic_completer(f))
			vt_check(!(info.flags & VFIO_DEVICE_FLAGS_CAPS),
				 "CAPS (cap_offset %u) on a device that completes no AtomicOps",
				 info.cap_offset);
		vt_check_eq(info.num_regions, NUM_REGIONS, "num_regions");
		vt_check_eq(info.num_irqs, NUM_IRQS, "num_irqs");
		/* argsz only grows when a capability chain does not fit. */
		if (info.flags & VFIO_DEVICE_FLAGS_CAPS)
			vt_check(info.argsz >= sizeof(info), "argsz %u", info.argsz);
		else
			vt_check_eq(info.argsz, sizeof(info), "argsz");
	}
	vt_end();
}

/* A memory BAR is mmappable when it covers whole pages or starts a page. */
static bool bar_mmappable(const struct vt_resource *r)
{
	uint64_t size = vt_resource_size(r);

	if (!(r->flags & VT_IORESOURCE_MEM) || !size)
		return false;
	return size >= PAGE || !(r->start & (PAGE - 1));
}

/* A sub-page BAR that is mmappable: the rest of its page must be reserved. */
static bool bar_subpage(const struct vt_resource *r)
{
	return bar_mmappable(r) && vt_resource_size(r) < PAGE;
}

static void subpage_rest(const struct vt_resource *r, uint64_t *start, uint64_t *end)
{
	*start = r->end + 1;
	*end = (r->start | (PAGE - 1));
}

static void check_msix_cap(const struct vfio_region_info *info, bool want)
{
	const struct vfio_info_cap_header *cap;

	if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
		vt_check(!want, "no capability chain, want MSIX_MAPPABLE");
		return;
	}
	cap = vt_info_cap(info, info->argsz, info->cap_offset,
			  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	vt_check(cap != NULL || !want, "no MSIX_MAPPABLE capability in the chain");
	vt_check(cap == NULL || want, "MSIX_MAPPABLE on a BAR without the MSI-X table");
	if (cap)
		vt_check_eq(cap->version, 1, "MSIX_MAPPABLE version");
	vt_check(info->cap_offset >= sizeof(*info), "cap_offset %u inside the struct",
		 info->cap_offset);
}

static void test_bar(const struct vt_dev *d, int fd, const struct facts *f, int i)
{
	const struct vt_resource *r = &f->res[i];
	uint64_t size = vt_resource_size(r);
	bool io = r->flags & VT_IORESOURCE_IO, mmap = bar_mmappable(r);
	bool msix = i == f->msix_bar && mmap;
	uint32_t want = size ? RW : 0;
	struct vfio_region_info *info;

	if (mmap)
		want |= VFIO_REGION_INFO_FLAG_MMAP;
	if (msix)
		want |= VFIO_REGION_INFO_FLAG_CAPS;

	vt_begin("%s %s: region %d (BAR%d, %s %#llx) flags %#x", d->name, d->bdf, i, i,
		 !size ? "none" : io ? "I/O" : "mem", (unsigned long long)size, want);
	info = vt_region_info(fd, (uint32_t)i);
	if (vt_check(info != NULL, "GET_REGION_INFO: %s", vt_errname(errno))) {
		vt_check_eq(info->index, (uint64_t)i, "index");
		vt_check_eq(info->size, size, "size");
		vt_check_eq(info->flags, want, "flags");
		vt_check_eq(info->offset, VT_REGION_OFFSET(i), "offset");
		if (msix || (info->flags & VFIO_REGION_INFO_FLAG_CAPS))
			check_msix_cap(info, msix);
		free(info);
	}
	if (bar_subpage(r)) {
		/* Nothing else may land in the rest of the page while it is mapped. */
		uint64_t s, e;
		char name[128];

		subpage_rest(r, &s, &e);
		if (vt_check(vt_iomem_find(s, e, name, sizeof(name)),
			     "rest of the page %#llx-%#llx not reserved while open",
			     (unsigned long long)s, (unsigned long long)e))
			vt_diag("%#llx-%#llx reserved as '%s'", (unsigned long long)s,
				(unsigned long long)e, name);
	}
	vt_end();
}

/* After the last close the sub-page reservation is gone again. */
static void test_subpage_released(const struct vt_dev *d, const struct facts *f, int i)
{
	uint64_t s, e;

	subpage_rest(&f->res[i], &s, &e);
	vt_ok(!vt_iomem_find(s, e, NULL, 0),
	      "%s %s: BAR%d sub-page reservation %#llx-%#llx released after close",
	      d->name, d->bdf, i, (unsigned long long)s, (unsigned long long)e);
}

static void test_rom(const struct vt_dev *d, int fd, const struct facts *f)
{
	uint64_t size = vt_resource_size(&f->res[6]);
	struct vfio_region_info *info;

	vt_begin("%s %s: region 6 (ROM, BAR size %#llx)%s", d->name, d->bdf,
		 (unsigned long long)size, f->rom_image ? " readable" : "");
	info = vt_region_info(fd, VFIO_PCI_ROM_REGION_INDEX);
	if (vt_check(info != NULL, "GET_REGION_INFO: %s", vt_errname(errno))) {
		vt_check_eq(info->offset, VT_REGION_OFFSET(6), "offset");
		if (f->rom_image || (size && info->flags)) {
			/* A readable ROM reports the BAR size, read-only. */
			vt_check_eq(info->size, size, "size");
			vt_check_eq(info->flags, VFIO_REGION_INFO_FLAG_READ, "flags");
		} else {
			/* No ROM BAR, or nothing valid behind it. */
			vt_check_eq(info->size, 0, "size");
			vt_check_eq(info->flags, 0, "flags");
		}
		free(info);
	}
	vt_end();
}

static void test_config_region(const struct vt_dev *d, int fd, const struct facts *f)
{
	struct vfio_region_info *info;

	vt_begin("%s %s: region 7 (config) size %#zx, read/write", d->name, d->bdf,
		 f->cfg_size);
	info = vt_region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX);
	if (vt_check(info != NULL, "GET_REGION_INFO: %s", vt_errname(errno))) {
		vt_check_eq(info->size, f->cfg_size, "size");
		vt_check_eq(info->flags, RW, "flags");
		vt_check_eq(info->offset, VT_REGION_OFFSET(7), "offset");
		free(info);
	}
	vt_end();
}

static void test_vga_region(const struct vt_dev *d, int fd, const struct facts *f)
{
	uint32_t class = vt_le32(f->cfg + 8) >> 8;
	struct vfio_region_info *info;
	bool vga = (class >> 8) == 0x0300;

	vt_begin("%s %s: region 8 (VGA) %s", d->name, d->bdf,
		 vga ? "present" : "EINVAL for a non-VGA device");
	info = vt_region_info(fd, VFIO_PCI_VGA_REGION_INDEX);
	if (vga) {
		if (vt_check(info != NULL, "GET_REGION_INFO: %s", vt_errname(errno))) {
			vt_check_eq(info->size, 0xc0000, "size");
			vt_check_eq(info->flags, RW, "flags");
		}
	} else {
		vt_check(!info && errno == EINVAL, "GET_REGION_INFO: %s, want EINVAL",
			 info ? "success" : vt_errname(errno));
	}
	free(info);
	vt_end();
}

/* Expected count for an irq index; -1: the index must be refused (EINVAL). */
static int irq_count(const struct facts *f, int index)
{
	size_t len = f->cfg_len;
	unsigned int pos;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return f->cfg[0x3d] ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		pos = vt_pci_find_cap(f->cfg, len, PCI_CAP_ID_MSI);
		return pos ? 1 << ((vt_le16(f->cfg + pos + 2) >> 1) & 7) : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		pos = vt_pci_find_cap(f->cfg, len, PCI_CAP_ID_MSIX);
		return pos ? (vt_le16(f->cfg + pos + 2) & 0x7ff) + 1 : 0;
	case VFIO_PCI_ERR_IRQ_INDEX:
		/* PCI Express only, up to 7.2; every function from 7.3 on. */
		if (vt_err_irq_conventional())
			return 1;
		return vt_pci_find_cap(f->cfg, len, PCI_CAP_ID_EXP) ? 1 : -1;
	default:	/* REQ */
		return 1;
	}
}

static const char *const irq_names[NUM_IRQS] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };

static void test_irq(const struct vt_dev *d, int fd, const struct facts *f, int index)
{
	int count = irq_count(f, index);
	uint32_t want = VFIO_IRQ_INFO_EVENTFD, mask = ~0u;
	struct vfio_irq_info info;
	int ret;

	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		want |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		want |= VFIO_IRQ_INFO_NORESIZE;
	/*
	 * 6.12 clears NORESIZE on MSI-X when the platform can add vectors to a
	 * live MSI-X setup: only 6.1 (and a device without MSI-X) pins it down.
	 */
	if (index == VFIO_PCI_MSIX_IRQ_INDEX && count > 0 && !vt_kernel_is_6_1())
		mask &= ~VFIO_IRQ_INFO_NORESIZE;

	if (count < 0)
		vt_begin("%s %s: irq %d (%s) EINVAL on a conventional PCI device",
			 d->name, d->bdf, index, irq_names[index]);
	else
		vt_begin("%s %s: irq %d (%s) count %d", d->name, d->bdf, index,
			 irq_names[index], count);
	ret = vt_irq_info(fd, (uint32_t)index, &info);
	if (count < 0) {
		vt_check_err(ret, EINVAL, "GET_IRQ_INFO");
	} else if (vt_check_ret(ret, "GET_IRQ_INFO")) {
		vt_check_eq(info.index, (uint64_t)index, "index");
		vt_check_eq(info.count, (uint64_t)count, "count");
		vt_check_eq(info.flags & mask, want & mask, "flags");
		if (mask != ~0u)
			vt_diag("%s: MSI-X flags %#x", d->bdf, info.flags);
	}
	vt_end();
}

#define CASES_PER_DEVICE	(1 + NUM_REGIONS + NUM_IRQS)

static void test_device(const struct vt_dev *d, const struct facts *f)
{
	struct vt_vfio v;
	int ret;

	ret = vt_vfio_open(&v, d->bdf);
	if (ret) {
		for (int i = 0; i < CASES_PER_DEVICE; i++)
			vt_ok(false, "%s %s: info case %d (open failed: %s)", d->name,
			      d->bdf, i, vt_errname(-ret));
	} else {
		test_device_info(d, v.device, f);
		for (int i = 0; i < 6; i++)
			test_bar(d, v.device, f, i);
		test_rom(d, v.device, f);
		test_config_region(d, v.device, f);
		test_vga_region(d, v.device, f);
		for (int i = 0; i < NUM_IRQS; i++)
			test_irq(d, v.device, f, i);
		vt_vfio_close(&v);
	}
	for (int i = 0; i < 6; i++)
		if (bar_subpage(&f->res[i]))
			test_subpage_released(d, f, i);
}

int main(void)
{
	static struct facts facts[VT_MAX_DEVS];
	struct vt_dev devs[VT_MAX_DEVS];
	int n = vt_lab_bind(devs, VT_MAX_DEVS);
	unsigned int cases = 0;

	for (int i = 0; i < n; i++) {
		int ret = gather_facts(&devs[i], &facts[i]);

		if (ret)
			vt_bail("%s: cannot read its sysfs attributes: %s", devs[i].bdf,
				vt_errname(-ret));
		cases += CASES_PER_DEVICE;
		for (int b = 0; b < 6; b++)
			cases += bar_subpage(&facts[i].res[b]);
	}
	vt_plan(cases);
	for (int i = 0; i < n; i++)
		test_device(&devs[i], &facts[i]);
	return vt_finish();
}
