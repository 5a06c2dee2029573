// SPDX-License-Identifier: GPL-2.0-only
/*
 * The legacy VGA region (index 8) of a VGA-class device: QEMU's standard
 * VGA (1234:1111) behind a root port, whose legacy ranges reach it only
 * through the VGA arbiter (which sets the root port's VGA Enable).
 *
 * Region offsets are legacy addresses: 0xa0000-0xbffff memory, ports
 * 0x3b0-0x3bb and 0x3c0-0x3df; everything else is EINVAL and an access is
 * clipped to the end of the window it starts in.  That the accesses reach
 * the device is shown through its own MMIO BAR2, which mirrors ports
 * 0x3c0-0x3df at 0x400, and its framebuffer BAR0, which holds what is
 * written to the legacy memory window in chain-4 mode (QEMU
 * docs/specs/standard-vga.rst).  Non-VGA devices have no VGA region.
 */
#include "vfio_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define R(i)		VT_REGION_OFFSET(i)
#define VGA		R(VFIO_PCI_VGA_REGION_INDEX)

#define VGA_MEM		0xa0000
#define VGA_MEM_END	0xc0000
#define VGA_MONO	0x3b0
#define VGA_MONO_END	0x3bc
#define VGA_IO		0x3c0
#define VGA_IO_END	0x3e0

#define SEQ_I		0x3c4	/* sequencer index */
#define SEQ_D		0x3c5
#define GFX_I		0x3ce	/* graphics controller index */
#define GFX_D		0x3cf

#define SEQ_PLANE_WRITE	0x02
#define SEQ_MEMORY_MODE	0x04
#define SEQ_CHAIN4	0x08
#define GFX_BIT_MASK	0x08
#define GFX_MISC	0x06
#define GFX_MAP_MASK	0x0c
#define GFX_MAP_A0000	0x04	/* 0xa0000-0xaffff */

#define STDVGA_IO_MIRROR	0x400	/* BAR2: ports 0x3c0-0x3df */
#define PATTERN_LEN		256

static int rd8(int fd, uint64_t off, uint8_t *val)
{
	ssize_t n = pread(fd, val, 1, off);

	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

static int wr8(int fd, uint64_t off, uint8_t val)
{
	ssize_t n = pwrite(fd, &val, 1, off);

	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

/* Register `reg` behind an index/data port pair, through region 8. */
static int vga_reg_write(int fd, unsigned int index_port, uint8_t reg, uint8_t val)
{
	int ret = wr8(fd, VGA + index_port, reg);

	return ret ? ret : wr8(fd, VGA + index_port + 1, val);
}

static int vga_reg_read(int fd, unsigned int index_port, uint8_t reg, uint8_t *val)
{
	int ret = wr8(fd, VGA + index_port, reg);

	return ret ? ret : rd8(fd, VGA + index_port + 1, val);
}

static void test_info(const struct vt_dev *d, int fd)
{
	struct vfio_region_info *info = vt_region_info(fd, VFIO_PCI_VGA_REGION_INDEX);

	vt_begin("%s %s: region 8 is 0xc0000 bytes, read/write, not mmappable",
		 d->name, d->bdf);
	if (vt_check(info != NULL, "GET_REGION_INFO(8): %s", vt_errname(errno))) {
		vt_check_eq(info->offset, VGA, "offset");
		vt_check_eq(info->size, VGA_MEM_END, "size");
		vt_check_eq(info->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
			    "flags");
	}
	free(info);
	vt_end();
}

/*
 * Index registers written through region 8 read back through it and through
 * the device's own MMIO mirror of the ports, and the other way round.
 */
static void test_ports(const struct vt_dev *d, int fd)
{
	uint8_t val = 0;

	vt_begin("%s %s: ports 0x3c0-0x3df through region 8 reach the device", d->name, d->bdf);
	if (vt_check_ret(vga_reg_write(fd, GFX_I, GFX_BIT_MASK, 0xa5), "write GR08") &&
	    vt_check_ret(vga_reg_read(fd, GFX_I, GFX_BIT_MASK, &val), "read GR08"))
		vt_check_eq(val, 0xa5, "GR08 read back through region 8");
	if (vt_check_ret(rd8(fd, R(2) + STDVGA_IO_MIRROR + (GFX_I - VGA_IO), &val),
			 "read the GR index through BAR2"))
		vt_check_eq(val, GFX_BIT_MASK, "GR index seen by the device");
	if (vt_check_ret(rd8(fd, R(2) + STDVGA_IO_MIRROR + (GFX_D - VGA_IO), &val),
			 "read GR08 through BAR2"))
		vt_check_eq(val, 0xa5, "GR08 seen by the device");
	if (vt_check_ret(wr8(fd, R(2) + STDVGA_IO_MIRROR + (SEQ_I - VGA_IO), SEQ_PLANE_WRITE),
			 "write the SR index through BAR2") &&
	    vt_check_ret(rd8(fd, VGA + SEQ_I, &val), "read the SR index through region 8"))
		vt_check_eq(val, SEQ_PLANE_WRITE, "SR index written by BAR2, read by region 8");
	vt_check_ret(vga_reg_write(fd, GFX_I, GFX_BIT_MASK, 0xff), "restore GR08");
	vt_end();
}

/*
 * Chain-4 mode with the 64 KiB map at 0xa0000: legacy memory byte i is
 * framebuffer byte i.  A pattern written through region 8 reads back
 * through it and shows up at the start of BAR0.
 */
static void test_memory(const struct vt_dev *d, int fd)
{
	uint8_t pattern[PATTERN_LEN], back[PATTERN_LEN], fb[PATTERN_LEN];
	uint8_t misc = 0, mode = 0;

	for (int i = 0; i < PATTERN_LEN; i++)
		pattern[i] = (uint8_t)(i * 7 + 0x31);

	vt_begin("%s %s: memory 0xa0000 through region 8 is the device's framebuffer",
		 d->name, d->bdf);
	if (!vt_check_ret(vga_reg_read(fd, GFX_I, GFX_MISC, &misc), "read GR06") ||
	    !vt_check_ret(vga_reg_read(fd, SEQ_I, SEQ_MEMORY_MODE, &mode), "read SR04") ||
	    !vt_check_ret(vga_reg_write(fd, GFX_I, GFX_MISC,
					(misc & ~GFX_MAP_MASK) | GFX_MAP_A0000), "write GR06") ||
	    !vt_check_ret(vga_reg_write(fd, SEQ_I, SEQ_MEMORY_MODE, mode | SEQ_CHAIN4),
			  "write SR04") ||
	    !vt_check_ret(vga_reg_write(fd, SEQ_I, SEQ_PLANE_WRITE, 0x0f), "write SR02")) {
		vt_end();
		return;
	}
	if (vt_check_eq(pwrite(fd, pattern, sizeof(pattern), VGA + VGA_MEM), sizeof(pattern),
			"pwrite %d bytes at 0xa0000", PATTERN_LEN) &&
	    vt_check_eq(pread(fd, back, sizeof(back), VGA + VGA_MEM), sizeof(back),
			"pread %d bytes at 0xa0000", PATTERN_LEN))
		vt_check(memcmp(back, pattern, sizeof(back)) == 0,
			 "legacy memory does not read back what was written");
	if (vt_check_eq(pread(fd, fb, sizeof(fb), R(0)), sizeof(fb), "pread BAR0"))
		vt_check(memcmp(fb, pattern, sizeof(fb)) == 0,
			 "BAR0 does not hold what was written at 0xa0000 "
			 "(first bytes %02x %02x %02x %02x)", fb[0], fb[1], fb[2], fb[3]);
	vt_end();
}

/* Offsets outside the windows are refused; accesses are clipped to a window. */
static void test_bounds(const struct vt_dev *d, int fd)
{
	static const uint64_t bad[] = {
		0, VGA_MONO - 1, VGA_MONO_END, VGA_IO - 1, VGA_IO_END, 0x3ff,
		VGA_MEM - 1, VGA_MEM_END, 0xfffff, VT_REGION_OFFSET(1) - 1,
	};
	uint8_t buf[64];

	vt_begin("%s %s: region 8 outside its windows EINVAL, accesses clipped at a window's end",
		 d->name, d->bdf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0, sizeof(buf));
		vt_check_errno(pread(fd, buf, 1, VGA + bad[i]), EINVAL, "pread at %#llx",
			       (unsigned long long)bad[i]);
		vt_check_errno(pwrite(fd, buf, 1, VGA + bad[i]), EINVAL, "pwrite at %#llx",
			       (unsigned long long)bad[i]);
	}
	vt_check_eq(pread(fd, buf, 16, VGA + VGA_MONO_END - 4), 4, "16-byte pread at 0x3b8");
	vt_check_eq(pread(fd, buf, 12, VGA + VGA_MONO), 12, "12-byte pread at 0x3b0");
	vt_check_eq(pread(fd, buf, 8, VGA + VGA_IO_END - 4), 4, "8-byte pread at 0x3dc");
	vt_check_eq(pread(fd, buf, 32, VGA + VGA_MEM_END - 16), 16, "32-byte pread at 0xbfff0");
	vt_check_eq(pwrite(fd, buf, 32, VGA + VGA_MEM_END - 16), 16, "32-byte pwrite at 0xbfff0");
	vt_check_eq(pread(fd, buf, 0, VGA + VGA_MEM), 0, "0-byte pread at 0xa0000");
	vt_end();
}

static void test_hostile(const struct vt_dev *d, int fd)
{
	void *bad = vt_bad_pointer();
	uint8_t val = 0;
	void *map;

	vt_begin("%s %s: bad user buffers EFAULT and change nothing; mmap of region 8 EINVAL",
		 d->name, d->bdf);
	vt_check_ret(wr8(fd, VGA + SEQ_I, SEQ_MEMORY_MODE), "set the SR index");
	vt_check_errno(pread(fd, bad, 4, VGA + SEQ_I), EFAULT, "pread into a bad buffer");
	vt_check_errno(pwrite(fd, bad, 1, VGA + SEQ_I), EFAULT, "pwrite from a bad buffer");
	if (vt_check_ret(rd8(fd, VGA + SEQ_I, &val), "read the SR index"))
		vt_check_eq(val, SEQ_MEMORY_MODE, "SR index after the failed pwrite");
	vt_check_errno(pread(fd, bad, 64, VGA + VGA_MEM), EFAULT, "64-byte pread into a bad buffer");

	errno = 0;
	map = mmap(NULL, 0x20000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(VGA + VGA_MEM));
	vt_check(map == MAP_FAILED && errno == EINVAL, "mmap of region 8: %s, want EINVAL",
		 map == MAP_FAILED ? vt_errname(errno) : "mapped");
	if (map != MAP_FAILED)
		munmap(map, 0x20000);
	vt_end();
}

/*
 * Two VGA devices open at once: the arbiter moves the legacy routing to
 * whichever device an access is for.  Each device's GR08, written through
 * its region 8 in turn, must land on that device and not on the one the
 * routing pointed at before.
 */
static void test_two_devices(const struct vt_dev *a, const struct vt_dev *b)
{
	const struct vt_dev *d[2] = { a, b };
	struct vt_vfio v[2] = { { .device = -1 }, { .device = -1 } };
	const uint8_t val[2] = { 0x11, 0x22 };
	uint8_t got;

	vt_begin("%s and %s open together: each one's ports reach that device",
		 a->bdf, b->bdf);
	if (!vt_check_ret(vt_vfio_open(&v[0], a->bdf), "open %s", a->bdf) ||
	    !vt_check_ret(vt_vfio_open(&v[1], b->bdf), "open %s", b->bdf))
		goto out;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2; i++)
			vt_check_ret(vga_reg_write(v[i].device, GFX_I, GFX_BIT_MASK,
						   (uint8_t)(val[i] + round)),
				     "write GR08 of %s", d[i]->bdf);
		for (int i = 0; i < 2; i++) {
			if (vt_check_ret(rd8(v[i].device,
					     R(2) + STDVGA_IO_MIRROR + (GFX_D - VGA_IO), &got),
					 "read GR08 of %s through its BAR2", d[i]->bdf))
				vt_check_eq(got, (uint8_t)(val[i] + round),
					    "round %d: GR08 of %s", round, d[i]->bdf);
		}
	}
	for (int i = 0; i < 2; i++)
		vga_reg_write(v[i].device, GFX_I, GFX_BIT_MASK, 0xff);
out:
	for (int i = 0; i < 2; i++)
		if (v[i].device >= 0)
			vt_vfio_close(&v[i]);
	vt_end();
}

static void test_vga_device(const struct vt_dev *d)
{
	struct vt_vfio v;

	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open %s", d->bdf)) {
		for (int i = 0; i < 5; i++)
			vt_skip("cannot open the device", "%s VGA check %d", d->bdf, i + 1);
		return;
	}
	test_info(d, v.device);
	test_ports(d, v.device);
	test_memory(d, v.device);
	test_bounds(d, v.device);
	test_hostile(d, v.device);
	vt_vfio_close(&v);
}

static void test_not_vga(const struct vt_dev *d)
{
	uint8_t buf[4];
	struct vt_vfio v;

	vt_begin("%s %s (not VGA): region 8 read and write EINVAL", d->name, d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_check_errno(pread(v.device, buf, 1, VGA + SEQ_I), EINVAL, "pread port 0x3c4");
		vt_check_errno(pwrite(v.device, buf, 1, VGA + SEQ_I), EINVAL, "pwrite port 0x3c4");
		vt_check_errno(pread(v.device, buf, 4, VGA + VGA_MEM), EINVAL, "pread 0xa0000");
		vt_vfio_close(&v);
	}
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n = vt_lab_bind(devs, VT_MAX_DEVS), nvga = 0;
	const struct vt_dev *vga[2] = { NULL, NULL };

	for (int i = 0; i < n; i++) {
		if (strcmp(devs[i].name, "vga"))
			continue;
		if (nvga < 2)
			vga[nvga] = &devs[i];
		nvga++;
	}
	if (!nvga)
		vt_skip_all("no VGA device in this topology");

	/* Per VGA device: the open and five checks; one for each other device. */
	vt_plan((unsigned int)(nvga * 6 + (n - nvga) + 1));
	for (int i = 0; i < n; i++) {
		if (strcmp(devs[i].name, "vga") == 0)
			test_vga_device(&devs[i]);
		else
			test_not_vga(&devs[i]);
	}
	if (vga[1])
		test_two_devices(vga[0], vga[1]);
	else
		vt_skip("one VGA device in this topology", "two VGA devices open together");
	return vt_finish();
}
