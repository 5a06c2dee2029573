// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config space virtualization, on every device of the lab, checked against
 * the host's view of the same device (sysfs config/resource) and the rules
 * the in-tree vfio-pci follows, so that it passes with both drivers:
 *
 * - the whole region read through vfio equals the hardware, except what is
 *   virtualized: BARs (sizing emulation), PME bits, the capability chain
 *   with the hidden capabilities unlinked (a hidden first extended
 *   capability leaves an id 0 placeholder);
 * - every split of the region into odd-sized, unaligned reads gives the
 *   same bytes;
 * - BAR sizing (all-ones writes read back the size mask and type bits; the
 *   hardware BARs never change);
 * - read-only header fields and status stay put, CLS passes through,
 *   the interrupt line is virtual;
 * - command: memory/I/O decode reach the hardware, INTx disable is virtual;
 * - MSI (virtual address/data, enable only via SET_IRQS), MSI-X read-only,
 *   PCIe (MPS virtual, no phantom functions, link control read-only, FLR),
 *   PM (PME bits virtual, D3hot round trip), vendor-specific raw writes,
 *   AER writable bits, DSN read-only;
 * - out-of-range accesses fail with EFAULT;
 * - a fuzzer: thousands of random reads and writes on edu and e1000e, after
 *   which the hardware BARs are unchanged and the device still answers.
 */
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CFG_MAX		4096
#define FUZZ_OPS	25000

/* PCI register layout (linux/pci_regs.h is not for user space here). */
#define CMD		0x04
#define CMD_IO		0x0001
#define CMD_MEM		0x0002
#define CMD_INTX_DIS	0x0400
#define STATUS		0x06
#define STATUS_INTX	0x0008
#define STATUS_CAPS	0x0010
#define CLS		0x0c
#define BAR0		0x10
#define ROM		0x30
#define ROM_ENABLE	0x1
#define CAP_PTR		0x34
#define INT_LINE	0x3c
#define INT_PIN		0x3d

#define CAP_PM		0x01
#define CAP_MSI		0x05
#define CAP_VNDR	0x09
#define CAP_EXP		0x10
#define CAP_MSIX	0x11

#define ECAP_ERR	0x01
#define ECAP_DSN	0x03
#define ECAP_VNDR	0x0b
#define ECAP_DVSEC	0x23

#define PM_PMC		2
#define PM_PMC_PME	0xf800
#define PM_CTRL		4
#define PM_STATE	0x0003
#define PM_NO_SOFT_RST	0x0008
#define PM_PME_EN	0x0100
#define PM_PME_STATUS	0x8000

#define MSI_FLAGS	2
#define MSI_ENABLE	0x0001
#define MSI_QMASK	0x000e
#define MSI_QSIZE	0x0070
#define MSI_64BIT	0x0080

#define MSIX_FLAGS	2
#define MSIX_ENABLE	0x8000
#define MSIX_MASKALL	0x4000

#define EXP_DEVCAP	4
#define EXP_DEVCAP_FLR	0x10000000
#define EXP_DEVCTL	8
#define EXP_DEVCTL_MPS	0x00e0
#define EXP_DEVCTL_PHANTOM 0x0200
#define EXP_DEVCTL_FLR	0x8000
#define EXP_LNKCTL	0x10

#define ERR_UNCOR_MASK	0x08
#define ERR_UNCOR_SEVER	0x0c
#define ERR_COR_MASK	0x14
/* The bits the in-tree driver lets the user write. */
#define ERR_UNC_WRITABLE 0x03fff031
#define ERR_COR_WRITABLE 0x0000f1c1

#define RES_IO		0x00000100
#define RES_PREFETCH	0x00002000
#define RES_MEM_64	0x00100000
#define RES_ROM_SHADOW	0x00000002

#define VIRTIO_PCI_CAP_PCI_CFG	5

#define EDU_IDENT	0x010000ed

/* What the host says about one device, read while it is open. */
struct dev {
	const struct vt_dev *d;
	int fd;
	size_t size;			/* config space size */
	uint8_t hw[CFG_MAX];		/* sysfs config */
	struct vt_resource res[VT_NUM_RESOURCES];
};

/* Capabilities the in-tree driver shows (everything else is hidden). */
static bool std_cap_visible(const uint8_t *hw, unsigned int pos)
{
	switch (hw[pos]) {
	case 0x01: case 0x02: case 0x03: case 0x05: case 0x07: case 0x08:
	case 0x10: case 0x11: case 0x12: case 0x13:
		return true;
	case CAP_VNDR:
		return hw[pos + 2] != 0;	/* zero length: hidden */
	default:
		return false;
	}
}

static bool ext_cap_visible(const uint8_t *hw, unsigned int pos)
{
	switch (vt_le16(hw + pos)) {
	case 0x01: case 0x02: case 0x03: case 0x04: case 0x08: case 0x09:
	case 0x0d: case 0x0e: case 0x0f: case 0x10: case 0x12: case 0x13:
	case 0x15: case 0x16: case 0x17: case 0x18:
		return true;
	case ECAP_VNDR:
		return (vt_le32(hw + pos + 4) >> 20) != 0;
	case ECAP_DVSEC:
		/* Shown by 6.12's vfio-pci and ours, hidden by 6.1's. */
		if (vt_baseline() && vt_kernel_is_6_1())
			return false;
		return (vt_le32(hw + pos + 4) >> 20) != 0;
	default:
		return false;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint64_t res_size(const struct dev *x, int i)
{
	return vt_resource_size(&x->res[i]);
}

static uint32_t bar_type_bits(const struct vt_resource *r)
{
	uint32_t bits = 0;

	if (r->flags & RES_IO)
		return 1;
	if (r->flags & RES_PREFETCH)
		bits |= 0x8;
	if (r->flags & RES_MEM_64)
		bits |= 0x4;
	return bits;
}

/*
 * What the BAR registers read after the user wrote `written` into them:
 * the address bits the size allows plus the resource's type bits.  With
 * written = the hardware values this is what an open device shows.
 */
static uint32_t bar_expect(const struct dev *x, int i, uint32_t written)
{
	const struct vt_resource *r = &x->res[i];
	uint64_t mask;

	if (i > 0 && (x->res[i - 1].flags & RES_MEM_64) && x->res[i - 1].start) {
		/* Upper half of a 64-bit BAR. */
		mask = ~(res_size(x, i - 1) - 1);
		return written & (uint32_t)(mask >> 32);
	}
	if (!r->start)
		return 0;
	mask = ~(res_size(x, i) - 1);
	return (written & (uint32_t)mask) | bar_type_bits(r);
}

static uint32_t rom_expect(const struct dev *x, uint32_t written)
{
	const struct vt_resource *r = &x->res[6];
	uint64_t size;

	if (r->start)
		size = res_size(x, 6);
	else if (r->flags & RES_ROM_SHADOW)
		size = 0x20000;
	else
		return 0;
	return written & ((uint32_t)~(size - 1) | ROM_ENABLE);
}

static void set_ext_next(uint8_t *cfg, unsigned int hdr, unsigned int next)
{
	put32(cfg + hdr, (vt_le32(cfg + hdr) & ~(0xffcu << 20)) | (next << 20));
}

/*
 * The bytes vfio should show, from the hardware's, and the bits that may
 * legitimately differ (ign).
 */
static void expected_view(const struct dev *x, uint8_t *exp, uint8_t *ign)
{
	const uint8_t *hw = x->hw;
	unsigned int ptr, pos, link, visible = 0;
	int i;

	memcpy(exp, hw, x->size);
	memset(ign, 0, x->size);
	ign[STATUS] = STATUS_INTX;	/* pending INTx may come and go */
	/*
	 * INTx disable is virtual: the user's bit, clear until written.  The
	 * in-tree driver lets it through to the hardware while no interrupt
	 * is set up; ours keeps the function parked (DisINTx set in the
	 * hardware, beyond mainline), so only the hardware has it set.
	 */
	if (!vt_baseline() && !vt_nointxmask())
		exp[CMD + 1] &= (uint8_t)~(CMD_INTX_DIS >> 8);

	for (i = 0; i < 6; i++)
		put32(exp + BAR0 + 4 * i, bar_expect(x, i, vt_le32(hw + BAR0 + 4 * i)));
	put32(exp + ROM, rom_expect(x, vt_le32(hw + ROM)));

	link = CAP_PTR;
	if (vt_le16(hw + STATUS) & STATUS_CAPS) {
		ptr = hw[CAP_PTR];
		for (int ttl = 48; ttl; ttl--) {
			pos = ptr & ~3u;
			if (pos < 0x40)
				break;
			if (std_cap_visible(hw, pos)) {
				exp[link] = (uint8_t)pos;
				link = pos + 1;
				visible++;
				if (hw[pos] == CAP_PM) {
					put16(exp + pos + PM_PMC,
					      vt_le16(hw + pos + PM_PMC) & ~PM_PMC_PME);
					put16(exp + pos + PM_CTRL,
					      vt_le16(hw + pos + PM_CTRL) &
					      ~(PM_PME_EN | PM_PME_STATUS));
				}
				/* Vectors: baseline shows the enabled count. */
				if (hw[pos] == CAP_MSI)
					ign[pos + MSI_FLAGS] |= MSI_QMASK;
			}
			ptr = hw[pos + 1];
		}
		exp[link] = 0;
		if (!visible)
			put16(exp + STATUS, vt_le16(hw + STATUS) & ~STATUS_CAPS);
	}

	if (x->size > 0x100 && vt_le32(hw + 0x100)) {
		visible = 0;
		link = 0;
		pos = 0x100;
		for (int ttl = 960; ttl && pos >= 0x100; ttl--) {
			uint32_t hdr = vt_le32(hw + pos);

			if (ext_cap_visible(hw, pos)) {
				if (link)
					set_ext_next(exp, link, pos);
				link = pos;
				visible++;
			} else if (!link) {
				put32(exp + pos, 0);	/* placeholder */
				link = pos;
			}
			pos = (hdr >> 20) & 0xffc;
		}
		if (link)
			set_ext_next(exp, link, 0);
		if (!visible)
			put32(exp + 0x100, 0);
	}
}

static int gather(struct dev *x)
{
	long size = vt_sysfs_size(x->d->bdf, "config");
	int ret;

	if (size < 0)
		return (int)size;
	x->size = size > CFG_MAX ? CFG_MAX : (size_t)size;
	ret = vt_sysfs_config(x->d->bdf, x->hw, x->size);
	if (ret < 0)
		return ret;
	if ((size_t)ret != x->size)
		return -EIO;
	return vt_resources(x->d->bdf, x->res);
}

/* Re-read the hardware view (after writes). */
static bool refresh(struct dev *x)
{
	int ret = vt_sysfs_config(x->d->bdf, x->hw, x->size);

	return vt_check(ret == (int)x->size, "read sysfs config: %s",
			ret < 0 ? vt_errname(-ret) : "short");
}

static bool vread(const struct dev *x, void *buf, size_t len, unsigned int off)
{
	ssize_t n = vt_config_read(x->fd, buf, len, off);

	return vt_check(n == (ssize_t)len, "pread %zu @%#x: %zd (%s)", len, off,
			n, n < 0 ? vt_errname(errno) : "short");
}

static bool vwrite(const struct dev *x, const void *buf, size_t len,
		   unsigned int off)
{
	ssize_t n = vt_config_write(x->fd, buf, len, off);

	return vt_check(n == (ssize_t)len, "pwrite %zu @%#x: %zd (%s)", len, off,
			n, n < 0 ? vt_errname(errno) : "short");
}

static uint32_t vr(const struct dev *x, unsigned int off, size_t len)
{
	uint8_t b[4] = { 0 };

	vread(x, b, len, off);
	return vt_le32(b);
}

static void vw(const struct dev *x, unsigned int off, size_t len, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	vwrite(x, b, len, off);
}

/* The hardware value of a register, from a fresh sysfs read. */
static uint32_t hr(struct dev *x, unsigned int off, size_t len)
{
	uint8_t b[4] = { 0 };

	refresh(x);
	memcpy(b, x->hw + off, len);
	return vt_le32(b);
}

/* Compare a buffer with the expected view; report the first differences. */
static bool compare_view(const struct dev *x, const uint8_t *got,
			 const uint8_t *exp, const uint8_t *ign, const char *what)
{
	int bad = 0;

	for (size_t i = 0; i < x->size; i++) {
		if (!((got[i] ^ exp[i]) & ~ign[i]))
			continue;
		if (bad++ < 8)
			vt_diag("%s: %s @%#zx: got %02x want %02x (hw %02x)",
				x->d->bdf, what, i, got[i], exp[i], x->hw[i]);
	}
	return vt_check(!bad, "%s: %d bytes differ", what, bad);
}

/* Capability offsets in vfio's view. */
static void list_chain(const struct dev *x, const uint8_t *cfg)
{
	char line[512];
	size_t n = 0;
	unsigned int pos;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "caps:");
	if (vt_le16(cfg + STATUS) & STATUS_CAPS) {
		pos = cfg[CAP_PTR] & ~3u;
		for (int ttl = 48; pos >= 0x40 && ttl && n < sizeof(line) - 16; ttl--) {
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %02x@%02x",
					      cfg[pos], pos);
			pos = cfg[pos + 1] & ~3u;
		}
	}
	if (x->size > 0x100 && n < sizeof(line) - 16) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, " ext:");
		pos = 0x100;
		for (int ttl = 960; pos >= 0x100 && ttl && n < sizeof(line) - 16; ttl--) {
			uint32_t hdr = vt_le32(cfg + pos);

			if (!hdr)
				break;
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %04x@%03x",
					      hdr & 0xffff, pos);
			pos = (hdr >> 20) & 0xffc;
		}
	}
	vt_diag("%s %s: %s", x->d->name, x->d->bdf, line);
}

/* Every capability in vfio's chains must be one the driver may show. */
static void check_no_hidden(const struct dev *x, const uint8_t *cfg)
{
	unsigned int pos;

	if (vt_le16(cfg + STATUS) & STATUS_CAPS) {
		pos = cfg[CAP_PTR] & ~3u;
		for (int ttl = 48; pos >= 0x40 && ttl; ttl--) {
			vt_check(std_cap_visible(cfg, pos), "hidden cap %#x@%#x in the chain",
				 cfg[pos], pos);
			pos = cfg[pos + 1] & ~3u;
		}
	}
	if (x->size <= 0x100)
		return;
	pos = 0x100;
	for (int ttl = 960; pos >= 0x100 && ttl; ttl--) {
		uint32_t hdr = vt_le32(cfg + pos);

		if (!hdr)
			break;
		vt_check(ext_cap_visible(cfg, pos) || (pos == 0x100 && !(hdr & 0xfffff)),
			 "hidden ext cap %#x@%#x in the chain", hdr & 0xffff, pos);
		pos = (hdr >> 20) & 0xffc;
	}
}

static void test_view(struct dev *x)
{
	static uint8_t got[CFG_MAX], exp[CFG_MAX], ign[CFG_MAX];

	vt_begin("%s %s: config region (%zu bytes) equals the host view with "
		 "the virtualized bits", x->d->name, x->d->bdf, x->size);
	if (refresh(x) && vread(x, got, x->size, 0)) {
		expected_view(x, exp, ign);
		compare_view(x, got, exp, ign, "full read");
		vt_check_eq(vt_le16(got), x->d->vendor, "vendor");
		vt_check_eq(vt_le16(got + 2), x->d->device, "device");
		check_no_hidden(x, got);
		list_chain(x, got);
	}
	vt_end();
}

/* The same bytes, however the region is cut into reads. */
static void test_splits(struct dev *x)
{
	static const unsigned int chunks[] = { 1, 2, 3, 4, 5, 7, 8, 13 };
	static uint8_t full[CFG_MAX], got[CFG_MAX], ign[CFG_MAX];

	vt_begin("%s %s: reads of 1..13 bytes at any alignment give the same bytes",
		 x->d->name, x->d->bdf);
	if (!vread(x, full, x->size, 0))
		goto out;
	memset(ign, 0, sizeof(ign));
	ign[STATUS] = STATUS_INTX;
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		for (unsigned int start = 0; start < 4; start++) {
			char what[64];
			size_t off;

			if (chunks[c] % 2 == 0 && start % 2)
				continue;	/* enough odd cases already */
			memcpy(got, full, x->size);
			for (off = start; off < x->size; off += chunks[c]) {
				size_t len = chunks[c];

				if (off + len > x->size)
					len = x->size - off;
				if (!vread(x, got + off, len, (unsigned int)off))
					goto out;
			}
			snprintf(what, sizeof(what), "%u-byte reads from %u", chunks[c], start);
			if (!compare_view(x, got, full, ign, what))
				goto out;
		}
	}
out:
	vt_end();
}

static bool hw_bars_equal(const struct dev *x, const uint8_t *before)
{
	bool ok = true;

	for (int i = 0; i < 6; i++)
		ok &= vt_check_eq(vt_le32(x->hw + BAR0 + 4 * i), vt_le32(before + BAR0 + 4 * i),
				  "hardware BAR%d", i);
	ok &= vt_check_eq(vt_le32(x->hw + ROM) & ~ROM_ENABLE, vt_le32(before + ROM) & ~ROM_ENABLE,
			  "hardware ROM BAR");
	return ok;
}

static void test_bar_sizing(struct dev *x)
{
	uint8_t before[0x40];
	uint32_t orig[7];

	vt_begin("%s %s: BAR sizing with all-ones writes, hardware BARs untouched",
		 x->d->name, x->d->bdf);
	if (!refresh(x))
		goto out;
	memcpy(before, x->hw, sizeof(before));
	for (int i = 0; i < 6; i++)
		orig[i] = vr(x, BAR0 + 4 * i, 4);
	orig[6] = vr(x, ROM, 4);

	for (int i = 0; i < 6; i++) {
		vw(x, BAR0 + 4 * i, 4, 0xffffffff);
		vt_check_eq(vr(x, BAR0 + 4 * i, 4), bar_expect(x, i, 0xffffffff),
			    "BAR%d after writing ~0 (size %#llx flags %#llx)", i,
			    (unsigned long long)res_size(x, i),
			    (unsigned long long)x->res[i].flags);
	}
	vw(x, ROM, 4, 0xffffffff);
	vt_check_eq(vr(x, ROM, 4), rom_expect(x, 0xffffffff), "ROM BAR after writing ~0");
	/* A sizing write by halves, as some guests do. */
	vw(x, BAR0, 2, 0);
	vt_check_eq(vr(x, BAR0, 4), bar_expect(x, 0, 0xffff0000), "BAR0 after a 16-bit write");
	if (refresh(x))
		hw_bars_equal(x, before);

	for (int i = 0; i < 6; i++) {
		vw(x, BAR0 + 4 * i, 4, orig[i]);
		vt_check_eq(vr(x, BAR0 + 4 * i, 4), orig[i], "BAR%d restored", i);
	}
	vw(x, ROM, 4, orig[6]);
	vt_check_eq(vr(x, ROM, 4), orig[6], "ROM BAR restored");
	if (refresh(x))
		hw_bars_equal(x, before);
out:
	vt_end();
}

/* Registers the user may not change, and the harmless ones it may. */
static void test_header_fields(struct dev *x)
{
	static const struct { unsigned int off, len; } ro[] = {
		{ 0x00, 2 }, { 0x02, 2 }, { STATUS, 2 }, { 0x08, 4 }, { 0x0e, 1 },
		{ 0x2c, 4 }, { CAP_PTR, 1 }, { INT_PIN, 1 }, { 0x3e, 2 },
	};
	uint8_t vbefore[0x40], hbefore[0x100];
	uint32_t line, cls;

	vt_begin("%s %s: read-only header fields and status unchanged by writes, "
		 "CLS passes through, interrupt line virtual", x->d->name, x->d->bdf);
	if (!refresh(x) || !vread(x, vbefore, sizeof(vbefore), 0))
		goto out;
	memcpy(hbefore, x->hw, sizeof(hbefore));

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint32_t v = vr(x, ro[i].off, ro[i].len);
		uint32_t all = ro[i].len == 4 ? 0xffffffff : (1u << (8 * ro[i].len)) - 1;
		/* Status: pending INTx may change on its own. */
		uint32_t stable = ro[i].off == STATUS ? ~(uint32_t)STATUS_INTX : ~0u;

		/* Status: ones would clear the RW1C error bits if they got through. */
		vw(x, ro[i].off, ro[i].len, ro[i].off == STATUS ? all : ~v);
		vt_check_eq(vr(x, ro[i].off, ro[i].len) & stable, v & stable,
			    "vfio %#x after a write", ro[i].off);
		vt_check_eq(hr(x, ro[i].off, ro[i].len) & stable,
			    vt_le32(hbefore + ro[i].off) & all & stable,
			    "hardware %#x after a write", ro[i].off);
	}

	/* Cache line size: writable, not virtualized. */
	cls = vr(x, CLS, 1);
	vw(x, CLS, 1, cls ^ 0x10);
	vt_check_eq(hr(x, CLS, 1), cls ^ 0x10, "hardware CLS after a write");
	vt_check_eq(vr(x, CLS, 1), cls ^ 0x10, "vfio CLS after a write");
	vw(x, CLS, 1, cls);

	/* Interrupt line: virtual read-write. */
	line = vr(x, INT_LINE, 1);
	vw(x, INT_LINE, 1, 0x5a);
	vt_check_eq(vr(x, INT_LINE, 1), 0x5a, "vfio interrupt line after writing 0x5a");
	vt_check_eq(hr(x, INT_LINE, 1), hbefore[INT_LINE], "hardware interrupt line");
	vw(x, INT_LINE, 1, line);
	vt_check_eq(vr(x, INT_LINE, 1), line, "interrupt line restored");

	/* A bad user buffer fails cleanly and changes nothing. */
	vt_check_errno(pwrite(x->fd, vt_bad_pointer(), 1,
			      (off_t)VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + INT_LINE),
		       EFAULT, "pwrite from a bad pointer");
	vt_check_errno(pread(x->fd, vt_bad_pointer(), 4,
			     (off_t)VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX)),
		       EFAULT, "pread into a bad pointer");
	vt_check_eq(vr(x, INT_LINE, 1), line, "interrupt line after the bad write");
out:
	vt_end();
}

static bool has_bar(const struct dev *x, bool io)
{
	for (int i = 0; i < 6; i++)
		if (x->res[i].start && !!(x->res[i].flags & RES_IO) == io)
			return true;
	return false;
}

static void test_command(struct dev *x)
{
	bool mem = has_bar(x, false), io = has_bar(x, true);
	uint16_t cmd;

	vt_begin("%s %s: command: %s%sdecode reaches the hardware, INTx disable is virtual",
		 x->d->name, x->d->bdf, mem ? "memory " : "", io ? "I/O " : "");
	cmd = (uint16_t)vr(x, CMD, 2);
	if (mem) {
		vw(x, CMD, 2, cmd & ~CMD_MEM);
		vt_check_eq(hr(x, CMD, 2) & CMD_MEM, 0, "hardware memory enable after clearing");
		vt_check_eq(vr(x, CMD, 2) & CMD_MEM, 0, "vfio memory enable after clearing");
		vw(x, CMD, 2, cmd | CMD_MEM);
		vt_check_eq(hr(x, CMD, 2) & CMD_MEM, CMD_MEM, "hardware memory enable after setting");
		vt_check_eq(vr(x, CMD, 2) & CMD_MEM, CMD_MEM, "vfio memory enable after setting");
		/* A 1-byte write of the low byte does the same. */
		vw(x, CMD, 1, (cmd & ~CMD_MEM) & 0xff);
		vt_check_eq(hr(x, CMD, 2) & CMD_MEM, 0, "hardware memory enable after a byte write");
		vw(x, CMD, 1, (cmd | CMD_MEM) & 0xff);
		vt_check_eq(hr(x, CMD, 2) & CMD_MEM, CMD_MEM, "hardware memory enable back");
	}
	if (io) {
		vw(x, CMD, 2, cmd & ~CMD_IO);
		vt_check_eq(hr(x, CMD, 2) & CMD_IO, 0, "hardware I/O enable after clearing");
		vw(x, CMD, 2, cmd | CMD_IO);
		vt_check_eq(hr(x, CMD, 2) & CMD_IO, CMD_IO, "hardware I/O enable after setting");
	}
	vw(x, CMD, 2, cmd | CMD_INTX_DIS);
	vt_check_eq(vr(x, CMD, 2) & CMD_INTX_DIS, CMD_INTX_DIS, "vfio INTx disable after setting");
	vw(x, CMD + 1, 1, (cmd & ~CMD_INTX_DIS) >> 8);
	vt_check_eq(vr(x, CMD, 2) & CMD_INTX_DIS, 0, "vfio INTx disable after a byte write");
	vw(x, CMD, 2, cmd);
	vt_check_eq(vr(x, CMD, 2), cmd, "command restored");
	vt_check_eq(hr(x, CMD, 2) & (CMD_MEM | CMD_IO), cmd & (CMD_MEM | CMD_IO),
		    "hardware decode restored");
	vt_end();
}

static void test_range(struct dev *x)
{
	uint8_t b[8];
	off_t base = (off_t)VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX);

	vt_begin("%s %s: accesses beyond the config space fail with EFAULT",
		 x->d->name, x->d->bdf);
	vt_check_errno(pread(x->fd, b, 1, base + (off_t)x->size), EFAULT, "pread 1 @size");
	vt_check_errno(pread(x->fd, b, 4, base + (off_t)x->size - 2), EFAULT,
		       "pread 4 @size-2");
	vt_check_errno(pread(x->fd, b, 8, base + 0xfffffff0), EFAULT, "pread far beyond");
	memset(b, 0, sizeof(b));
	vt_check_errno(pwrite(x->fd, b, 1, base + (off_t)x->size), EFAULT, "pwrite 1 @size");
	vt_check_errno(pwrite(x->fd, b, 4, base + (off_t)x->size - 2), EFAULT,
		       "pwrite 4 @size-2");
	vt_check_eq((uint64_t)pread(x->fd, b, 0, base), 0, "pread 0 bytes");
	vt_check_eq((uint64_t)pread(x->fd, b, 2, base + (off_t)x->size - 2), 2,
		    "pread of the last 2 bytes");
	vt_end();
}

static unsigned int find_cap(struct dev *x, uint8_t id)
{
	return vt_pci_find_cap(x->hw, x->size, id);
}

static void test_msi(struct dev *x)
{
	unsigned int cap = find_cap(x, CAP_MSI), data;
	uint32_t lo, hi = 0, d, hlo, hd;
	uint16_t flags;
	bool is64;

	if (!cap) {
		vt_skip("no MSI capability", "%s %s: MSI", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: MSI @%#x: address/data virtual, enable only via SET_IRQS",
		 x->d->name, x->d->bdf, cap);
	flags = (uint16_t)vr(x, cap + MSI_FLAGS, 2);
	is64 = flags & MSI_64BIT;
	data = cap + (is64 ? 0xc : 0x8);
	lo = vr(x, cap + 4, 4);
	if (is64)
		hi = vr(x, cap + 8, 4);
	d = vr(x, data, 2);
	hlo = hr(x, cap + 4, 4);
	hd = hr(x, data, 2);

	vw(x, cap + 4, 4, 0xfee01234 & ~3u);
	if (is64)
		vw(x, cap + 8, 4, 0x12345678);
	vw(x, data, 2, 0x4321);
	vt_check_eq(vr(x, cap + 4, 4), 0xfee01234 & ~3u, "vfio address");
	if (is64)
		vt_check_eq(vr(x, cap + 8, 4), 0x12345678, "vfio upper address");
	vt_check_eq(vr(x, data, 2), 0x4321, "vfio data");
	vt_check_eq(hr(x, cap + 4, 4), hlo, "hardware address untouched");
	vt_check_eq(hr(x, data, 2), hd, "hardware data untouched");

	vw(x, cap + MSI_FLAGS, 2, flags | MSI_ENABLE | MSI_QSIZE);
	flags = (uint16_t)vr(x, cap + MSI_FLAGS, 2);
	vt_check_eq(flags & MSI_ENABLE, 0, "vfio MSI enable without SET_IRQS");
	vt_check(((flags & MSI_QSIZE) >> 4) <= ((flags & MSI_QMASK) >> 1),
		 "enabled vectors (flags %#x) within the offered ones", flags);
	vt_check_eq(hr(x, cap + MSI_FLAGS, 2) & MSI_ENABLE, 0, "hardware MSI enable");

	vw(x, cap + 4, 4, lo);
	if (is64)
		vw(x, cap + 8, 4, hi);
	vw(x, data, 2, d);
	vw(x, cap + MSI_FLAGS, 2, flags & ~MSI_QSIZE);
	vt_end();
}

static void test_msix(struct dev *x)
{
	unsigned int cap = find_cap(x, CAP_MSIX);
	uint32_t v[3], h[3];

	if (!cap) {
		vt_skip("no MSI-X capability", "%s %s: MSI-X", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: MSI-X @%#x is read-only", x->d->name, x->d->bdf, cap);
	for (int i = 0; i < 3; i++) {
		v[i] = vr(x, cap + 4 * i, 4);
		h[i] = hr(x, cap + 4 * i, 4);
	}
	vw(x, cap + MSIX_FLAGS, 2, (v[0] >> 16) | MSIX_ENABLE | MSIX_MASKALL);
	vw(x, cap + 4, 4, ~v[1]);
	vw(x, cap + 8, 4, ~v[2]);
	for (int i = 0; i < 3; i++) {
		vt_check_eq(vr(x, cap + 4 * i, 4), v[i], "vfio dword %d", i);
		vt_check_eq(hr(x, cap + 4 * i, 4), h[i], "hardware dword %d", i);
	}
	vt_end();
}

static void test_exp(struct dev *x)
{
	unsigned int cap = find_cap(x, CAP_EXP);
	uint16_t ctl, hctl, mps, lnk, hlnk;

	if (!cap) {
		vt_skip("not PCI Express", "%s %s: PCIe", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: PCIe @%#x: MPS virtual, no phantom functions, link control read-only",
		 x->d->name, x->d->bdf, cap);
	ctl = (uint16_t)vr(x, cap + EXP_DEVCTL, 2);
	hctl = (uint16_t)hr(x, cap + EXP_DEVCTL, 2);
	mps = (ctl & EXP_DEVCTL_MPS) ? 0 : 0x20;
	vw(x, cap + EXP_DEVCTL, 2, (ctl & ~EXP_DEVCTL_MPS) | mps);
	vt_check_eq(vr(x, cap + EXP_DEVCTL, 2) & EXP_DEVCTL_MPS, mps, "vfio MPS after a write");
	vt_check_eq(hr(x, cap + EXP_DEVCTL, 2) & EXP_DEVCTL_MPS, hctl & EXP_DEVCTL_MPS,
		    "hardware MPS untouched");
	vw(x, cap + EXP_DEVCTL, 2, ctl | EXP_DEVCTL_PHANTOM);
	vt_check_eq(vr(x, cap + EXP_DEVCTL, 2) & EXP_DEVCTL_PHANTOM, hctl & EXP_DEVCTL_PHANTOM,
		    "vfio phantom functions");
	vt_check_eq(hr(x, cap + EXP_DEVCTL, 2) & EXP_DEVCTL_PHANTOM, hctl & EXP_DEVCTL_PHANTOM,
		    "hardware phantom functions");
	vw(x, cap + EXP_DEVCTL, 2, ctl);
	vt_check_eq(vr(x, cap + EXP_DEVCTL, 2), ctl, "device control restored");

	lnk = (uint16_t)vr(x, cap + EXP_LNKCTL, 2);
	hlnk = (uint16_t)hr(x, cap + EXP_LNKCTL, 2);
	vw(x, cap + EXP_LNKCTL, 2, lnk ^ 0x0043);	/* ASPM, common clock */
	vt_check_eq(vr(x, cap + EXP_LNKCTL, 2), lnk, "vfio link control");
	vt_check_eq(hr(x, cap + EXP_LNKCTL, 2), hlnk, "hardware link control");
	vt_end();
}

static void test_flr(struct dev *x)
{
	static uint8_t got[CFG_MAX], exp[CFG_MAX], ign[CFG_MAX];
	unsigned int cap = find_cap(x, CAP_EXP);
	uint16_t ctl;

	if (!cap || !(vt_le32(x->hw + cap + EXP_DEVCAP) & EXP_DEVCAP_FLR)) {
		vt_skip("no PCIe FLR", "%s %s: FLR via device control", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: FLR via device control: bit reads 0, device intact",
		 x->d->name, x->d->bdf);
	ctl = (uint16_t)vr(x, cap + EXP_DEVCTL, 2);
	vw(x, cap + EXP_DEVCTL, 2, ctl | EXP_DEVCTL_FLR);
	vt_check_eq(vr(x, cap + EXP_DEVCTL, 2), ctl & ~EXP_DEVCTL_FLR,
		    "device control after FLR");
	if (refresh(x) && vread(x, got, x->size, 0)) {
		expected_view(x, exp, ign);
		compare_view(x, got, exp, ign, "after FLR");
	}
	vt_end();
}

static void test_pm(struct dev *x)
{
	unsigned int cap = find_cap(x, CAP_PM);
	uint16_t csr, hcsr, cmd;

	if (!cap) {
		vt_skip("no PM capability", "%s %s: PM", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: PM @%#x: PME virtual%s", x->d->name, x->d->bdf, cap,
		 (vt_le16(x->hw + cap + PM_CTRL) & PM_NO_SOFT_RST) ? ", D3hot round trip" : "");
	csr = (uint16_t)vr(x, cap + PM_CTRL, 2);
	hcsr = (uint16_t)hr(x, cap + PM_CTRL, 2);
	vt_check_eq(csr & (PM_PME_EN | PM_PME_STATUS), 0, "vfio PME enable/status");
	vt_check_eq(vr(x, cap + PM_PMC, 2) & PM_PMC_PME, 0, "vfio PME support");
	vw(x, cap + PM_CTRL, 2, csr | PM_PME_EN);
	vt_check_eq(vr(x, cap + PM_CTRL, 2) & PM_PME_EN, 0, "vfio PME enable after a write");
	vt_check_eq(hr(x, cap + PM_CTRL, 2) & PM_PME_EN, hcsr & PM_PME_EN,
		    "hardware PME enable after a write");

	/* Only where D3hot keeps the state: the rest is the core's business. */
	if ((hcsr & PM_NO_SOFT_RST) && (csr & PM_STATE) == 0) {
		cmd = (uint16_t)vr(x, CMD, 2);
		vw(x, cap + PM_CTRL, 2, (csr & ~PM_STATE) | 3);
		vt_check_eq(vr(x, cap + PM_CTRL, 2) & PM_STATE, 3, "vfio power state after D3hot");
		vt_check_eq(hr(x, cap + PM_CTRL, 2) & PM_STATE, 3, "hardware power state after D3hot");
		vw(x, cap + PM_CTRL, 2, csr & ~PM_STATE);
		vt_check_eq(vr(x, cap + PM_CTRL, 2) & PM_STATE, 0, "vfio power state after D0");
		vt_check_eq(hr(x, cap + PM_CTRL, 2) & PM_STATE, 0, "hardware power state after D0");
		vw(x, CMD, 2, cmd);
		vt_check_eq(hr(x, CMD, 2) & (CMD_MEM | CMD_IO), cmd & (CMD_MEM | CMD_IO),
			    "hardware decode after D0");
	}
	vt_end();
}

/* virtio's "PCI configuration access" capability has writable fields. */
static unsigned int find_virtio_pci_cfg(struct dev *x)
{
	unsigned int pos;

	if (!(vt_le16(x->hw + STATUS) & STATUS_CAPS))
		return 0;
	pos = x->hw[CAP_PTR] & ~3u;
	for (int ttl = 48; pos >= 0x40 && ttl; ttl--) {
		if (x->hw[pos] == CAP_VNDR && x->hw[pos + 3] == VIRTIO_PCI_CAP_PCI_CFG)
			return pos;
		pos = x->hw[pos + 1] & ~3u;
	}
	return 0;
}

static void test_vendor(struct dev *x)
{
	unsigned int cap = find_virtio_pci_cfg(x);
	uint32_t off, hdr;

	if (!cap) {
		vt_skip("no virtio PCI-config vendor capability", "%s %s: vendor-specific",
			x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: vendor-specific @%#x: writes reach the hardware raw, header read-only",
		 x->d->name, x->d->bdf, cap);
	off = vr(x, cap + 8, 4);
	hdr = vr(x, cap, 2);
	vw(x, cap + 8, 4, 0x100);
	vt_check_eq(hr(x, cap + 8, 4), 0x100, "hardware offset field after a write");
	vt_check_eq(vr(x, cap + 8, 4), 0x100, "vfio offset field after a write");
	vw(x, cap + 8, 4, off);
	vt_check_eq(hr(x, cap + 8, 4), off, "hardware offset field restored");
	vw(x, cap, 2, ~hdr);
	vt_check_eq(vr(x, cap, 2), hdr, "vfio id/next after a write");
	vt_end();
}

static void test_ext(struct dev *x)
{
	unsigned int aer = 0, dsn = 0;
	uint32_t hdr, v;

	if (x->size > 0x100) {
		aer = vt_pci_find_ext_cap(x->hw, x->size, ECAP_ERR);
		dsn = vt_pci_find_ext_cap(x->hw, x->size, ECAP_DSN);
	}
	if (!aer && !dsn) {
		vt_skip("no AER or DSN", "%s %s: extended capabilities", x->d->name, x->d->bdf);
		return;
	}
	vt_begin("%s %s: AER%s writable bits reach the hardware, headers and DSN read-only",
		 x->d->name, x->d->bdf, dsn ? "/DSN:" : ":");
	if (aer) {
		static const struct { unsigned int off; uint32_t bits; const char *name; } regs[] = {
			{ ERR_UNCOR_MASK, ERR_UNC_WRITABLE, "uncorrectable mask" },
			{ ERR_UNCOR_SEVER, ERR_UNC_WRITABLE, "uncorrectable severity" },
			{ ERR_COR_MASK, ERR_COR_WRITABLE, "correctable mask" },
		};
		bool changed = false;

		hdr = vr(x, aer, 4);
		vw(x, aer, 4, ~hdr);
		vt_check_eq(vr(x, aer, 4), hdr, "vfio AER header after a write");
		/*
		 * Toggle every bit vfio lets through: the hardware takes the
		 * ones it implements, nothing else changes, nothing is virtual.
		 */
		for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
			uint32_t orig = vr(x, aer + regs[i].off, 4), h;

			vw(x, aer + regs[i].off, 4, orig ^ regs[i].bits);
			h = hr(x, aer + regs[i].off, 4);
			vt_check_eq(vr(x, aer + regs[i].off, 4), h, "vfio %s = hardware",
				    regs[i].name);
			vt_check_eq((h ^ orig) & ~regs[i].bits, 0,
				    "%s bits changed that vfio must not let through",
				    regs[i].name);
			changed |= h != orig;
			vw(x, aer + regs[i].off, 4, orig);
			vt_check_eq(hr(x, aer + regs[i].off, 4), orig, "%s restored",
				    regs[i].name);
		}
		vt_check(changed, "no AER write reached the hardware");
	}
	if (dsn) {
		v = vr(x, dsn + 4, 4);
		vw(x, dsn + 4, 4, ~v);
		vt_check_eq(vr(x, dsn + 4, 4), v, "vfio serial number after a write");
		vt_check_eq(hr(x, dsn + 4, 4), v, "hardware serial number after a write");
	}
	vt_end();
}

/*
 * The fuzzer.
 */
static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* The chain of capability ids vfio shows, as a comparable string. */
static void chain_string(const struct dev *x, char *s, size_t len)
{
	static uint8_t cfg[CFG_MAX];
	size_t n = 0;
	unsigned int pos;

	s[0] = '\0';
	if (vt_config_read(x->fd, cfg, x->size, 0) != (ssize_t)x->size)
		return;
	if (vt_le16(cfg + STATUS) & STATUS_CAPS) {
		pos = cfg[CAP_PTR] & ~3u;
		for (int ttl = 48; pos >= 0x40 && ttl && n + 16 < len; ttl--) {
			n += (size_t)snprintf(s + n, len - n, "%02x@%02x ", cfg[pos], pos);
			pos = cfg[pos + 1] & ~3u;
		}
	}
	pos = x->size > 0x100 ? 0x100 : 0;
	for (int ttl = 960; pos >= 0x100 && ttl && n + 16 < len; ttl--) {
		uint32_t hdr = vt_le32(cfg + pos);

		n += (size_t)snprintf(s + n, len - n, "%08x@%03x ", hdr, pos);
		if (!hdr)
			break;
		pos = (hdr >> 20) & 0xffc;
	}
}

/* edu's identification register through vfio, else through sysfs. */
static int edu_ident(struct dev *x, uint32_t *ident, uint32_t *inverted, const char **how)
{
	uint8_t b[4];
	char path[128];
	volatile uint32_t *regs;
	int fd;

	if (pread(x->fd, b, 4, (off_t)VT_REGION_OFFSET(0)) == 4) {
		uint32_t v = 0x5a5aa5a5;

		*how = "vfio pread";
		*ident = vt_le32(b);
		put32(b, v);
		if (pwrite(x->fd, b, 4, (off_t)VT_REGION_OFFSET(0) + 4) != 4 ||
		    pread(x->fd, b, 4, (off_t)VT_REGION_OFFSET(0) + 4) != 4)
			return -errno;
		*inverted = ~vt_le32(b) == v;
		return 0;
	}
	*how = "sysfs resource0 mmap";
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", x->d->bdf);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (regs == MAP_FAILED)
		return -errno;
	*ident = regs[0];
	regs[1] = 0x5a5aa5a5;
	*inverted = regs[1] == ~0x5a5aa5a5u;
	munmap((void *)regs, 4096);
	return 0;
}

static void fuzz_restore(struct dev *x, uint16_t cmd, unsigned int pm)
{
	/* D0 first (config space is reachable in D3hot), then decode. */
	if (pm)
		vw(x, pm + PM_CTRL, 2, 0);
	vw(x, CMD, 2, cmd);
}

static void test_fuzz(struct dev *x)
{
	uint8_t before[CFG_MAX], buf[16];
	struct vt_resource res[VT_NUM_RESOURCES];
	char chain0[1024], chain1[1024];
	unsigned int pm = find_cap(x, CAP_PM), ops = 0, writes = 0, efault = 0, bad = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)x->d->device;
	uint16_t cmd;
	const char *env = getenv("VFIO_TEST_FUZZ_SEED");

	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed ? seed : 1;
	vt_begin("%s %s: config fuzzer, %d random accesses, then BARs unchanged and the "
		 "device alive", x->d->name, x->d->bdf, FUZZ_OPS);
	if (!refresh(x))
		goto out;
	memcpy(before, x->hw, x->size);
	cmd = (uint16_t)vr(x, CMD, 2);
	chain_string(x, chain0, sizeof(chain0));

	for (ops = 0; ops < FUZZ_OPS; ops++) {
		uint32_t r = rnd(), off, len;
		bool write = (r & 3) != 0;	/* 3 of 4 are writes */
		ssize_t n;

		if ((r >> 2) % 10 < 7 || x->size <= 0x100)
			off = rnd() % 0x100;
		else
			off = 0x100 + rnd() % (uint32_t)(x->size - 0x100);
		switch ((r >> 8) % 8) {
		case 0: case 1: case 2:
			len = 4;
			off &= ~3u;
			break;
		case 3: case 4:
			len = 2;
			off &= ~1u;
			break;
		case 5:
			len = 1;
			break;
		default:
			len = 1 + rnd() % 16;	/* any size, any alignment */
			break;
		}
		for (unsigned int i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		if ((r >> 12) % 8 == 0)
			memset(buf, 0xff, len);
		else if ((r >> 12) % 8 == 1)
			memset(buf, 0, len);

		if (write) {
			n = vt_config_write(x->fd, buf, len, off);
			writes++;
		} else {
			n = vt_config_read(x->fd, buf, len, off);
		}
		if (off + len > x->size) {
			if (n == -1 && errno == EFAULT)
				efault++;
			else if (bad++ < 5)
				vt_diag("op %u: %s %u @%#x beyond the end: %zd (%s)", ops,
					write ? "write" : "read", len, off, n,
					n < 0 ? vt_errname(errno) : "no error");
		} else if (n != (ssize_t)len && bad++ < 5) {
			vt_diag("op %u: %s %u @%#x: %zd (%s)", ops, write ? "write" : "read",
				len, off, n, n < 0 ? vt_errname(errno) : "short");
		}
	}
	vt_diag("%s %s: %u fuzz operations (%u writes, %u out of range), seed %#llx",
		x->d->name, x->d->bdf, ops, writes, efault, (unsigned long long)seed);
	vt_check_eq(bad, 0, "accesses with an unexpected result");

	fuzz_restore(x, cmd, pm);
	if (refresh(x))
		hw_bars_equal(x, before);
	if (vt_check_ret(vt_resources(x->d->bdf, res), "sysfs resource"))
		for (int i = 0; i < VT_NUM_RESOURCES; i++)
			vt_check(res[i].start == x->res[i].start && res[i].end == x->res[i].end,
				 "resource %d moved", i);
	vt_check_eq(vr(x, 0, 2), x->d->vendor, "vfio vendor");
	vt_check_eq(vr(x, 2, 2), x->d->device, "vfio device");
	vt_check_eq(vt_le16(x->hw), x->d->vendor, "hardware vendor");
	chain_string(x, chain1, sizeof(chain1));
	vt_check(strcmp(chain0, chain1) == 0, "capability chains differ: before '%s' after '%s'",
		 chain0, chain1);

	if (x->d->vendor == 0x1234 && x->d->device == 0x11e8) {
		uint32_t ident = 0, inverted = 0;
		const char *how = "";
		int ret = edu_ident(x, &ident, &inverted, &how);

		if (vt_check_ret(ret, "edu BAR0 access")) {
			vt_diag("%s: edu identification %#x via %s", x->d->bdf, ident, how);
			vt_check_eq(ident, EDU_IDENT, "edu identification via %s", how);
			vt_check(inverted, "edu liveness register inverts via %s", how);
		}
	}
out:
	vt_end();
}

static bool fuzz_target(const struct vt_dev *d, bool *seen_edu, bool *seen_e1000e)
{
	if (d->vendor == 0x1234 && d->device == 0x11e8 && !*seen_edu)
		return (*seen_edu = true);
	if (d->vendor == 0x8086 && d->device == 0x10d3 && !*seen_e1000e)
		return (*seen_e1000e = true);
	return false;
}

#define CASES_PER_DEVICE	13

static void test_device(const struct vt_dev *d, bool fuzz)
{
	static struct dev x;
	struct vt_vfio v;
	int ret, cases = CASES_PER_DEVICE + fuzz;

	memset(&x, 0, sizeof(x));
	x.d = d;
	ret = vt_vfio_open(&v, d->bdf);
	if (!ret) {
		x.fd = v.device;
		ret = gather(&x);
		if (ret)
			vt_vfio_close(&v);
	}
	if (ret) {
		for (int i = 0; i < cases; i++)
			vt_ok(false, "%s %s: config case %d (open failed: %s)", d->name, d->bdf,
			      i, vt_errname(-ret));
		return;
	}
	test_view(&x);
	test_splits(&x);
	test_bar_sizing(&x);
	test_header_fields(&x);
	test_command(&x);
	test_range(&x);
	test_msi(&x);
	test_msix(&x);
	test_exp(&x);
	test_pm(&x);
	test_vendor(&x);
	test_ext(&x);
	test_flr(&x);
	if (fuzz)
		test_fuzz(&x);
	vt_vfio_close(&v);
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	bool fuzz[VT_MAX_DEVS], seen_edu = false, seen_e1000e = false;
	int n = vt_lab_bind(devs, VT_MAX_DEVS);
	unsigned int cases = 0;

	for (int i = 0; i < n; i++) {
		fuzz[i] = fuzz_target(&devs[i], &seen_edu, &seen_e1000e);
		cases += CASES_PER_DEVICE + fuzz[i];
	}
	vt_plan(cases);
	for (int i = 0; i < n; i++)
		test_device(&devs[i], fuzz[i]);
	return vt_finish();
}
