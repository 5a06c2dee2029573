// SPDX-License-Identifier: GPL-2.0-only
/*
 * BAR, ROM and I/O port access through the device fd: pread/pwrite and mmap
 * on edu (register semantics, access widths), pci-testdev (an I/O port BAR,
 * a 1 GiB unbacked BAR), ivshmem (a sub-page BAR, 1 GiB of RAM behind a
 * BAR) and e1000e (ROM, the MSI-X table BAR).  Every expectation is what the
 * in-tree vfio-pci does on the same kernel; the device's own behaviour is
 * the oracle wherever it can be (edu answers ~0 to accesses of the wrong
 * width, so the access widths a driver uses are visible).
 *
 * Width facts of the in-tree driver (measured, and read in its source):
 * 6.1 splits read/write into naturally aligned 4/2/1-byte accesses; 6.12
 * also does 8-byte accesses at 8-aligned offsets, as ONE 64-bit MMIO access
 * (ioread64_lo_hi() is readq() for MMIO; only port I/O is split).  ROM
 * accesses are never wider than 4 bytes.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGE		4096u
#define R(i)		VT_REGION_OFFSET(i)
#define MMAP_FAIL(p)	((p) == MAP_FAILED)

#define EDU_ID		0x010000edu
#define EDU_LIVE	0x04
#define EDU_FACT	0x08
#define EDU_STATUS	0x20
#define EDU_DMA_SRC	0x80
#define EDU_BAR_SIZE	0x100000u

#define TESTDEV_COUNT	12	/* PCITestDevHdr.count */
#define TESTDEV_MATCH	0xfa	/* IOTEST_DATAMATCH */

#define PCI_CAP_ID_MSIX	0x11

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/* pread/pwrite without the compiler's opinion of the buffer (hostile cases). */
static ssize_t raw_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return syscall(SYS_pread64, fd, buf, len, (off_t)off);
}

static ssize_t raw_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	return syscall(SYS_pwrite64, fd, buf, len, (off_t)off);
}

/*
 * 8-byte accesses at 8-aligned memory BAR offsets are one 64-bit access:
 * the in-tree driver does so from 6.12 on; ours does on every kernel (a
 * deliberate extension on 6.1, see vfio_pci_rdwr.c).
 */
static bool qword_rw(void)
{
	return !vt_kernel_is_6_1() || !vt_baseline();
}

static bool rd(int fd, int idx, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, R(idx) + off);

	return vt_check(n == (ssize_t)len, "pread region %d +%#llx len %zu: %zd (%s)", idx,
			(unsigned long long)off, len, n, n < 0 ? vt_errname(errno) : "short");
}

static bool wr(int fd, int idx, uint64_t off, const void *buf, size_t len)
{
	ssize_t n = pwrite(fd, buf, len, R(idx) + off);

	return vt_check(n == (ssize_t)len, "pwrite region %d +%#llx len %zu: %zd (%s)", idx,
			(unsigned long long)off, len, n, n < 0 ? vt_errname(errno) : "short");
}

static uint32_t rd32(int fd, int idx, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	rd(fd, idx, off, &v, 4);
	return v;
}

static void wr32(int fd, int idx, uint64_t off, uint32_t v)
{
	wr(fd, idx, off, &v, 4);
}

static uint8_t rd8(int fd, int idx, uint64_t off)
{
	uint8_t v = 0xee;

	rd(fd, idx, off, &v, 1);
	return v;
}

static void wr8(int fd, int idx, uint64_t off, uint8_t v)
{
	wr(fd, idx, off, &v, 1);
}

/* pread/pwrite expected to fail with errno want. */
static void rd_err(int fd, int idx, uint64_t off, size_t len, int want, const char *what)
{
	uint8_t buf[64];
	ssize_t n = pread(fd, buf, len < sizeof(buf) ? len : sizeof(buf), R(idx) + off);

	vt_check_errno(n, want, "%s: pread region %d +%#llx len %zu", what, idx,
		       (unsigned long long)off, len);
}

static void wr_err(int fd, int idx, uint64_t off, size_t len, int want, const char *what)
{
	uint8_t buf[64];
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	n = pwrite(fd, buf, len < sizeof(buf) ? len : sizeof(buf), R(idx) + off);
	vt_check_errno(n, want, "%s: pwrite region %d +%#llx len %zu", what, idx,
		       (unsigned long long)off, len);
}

/* A read or write that must come back short, with exactly `want` bytes. */
static void rd_short(int fd, int idx, uint64_t off, size_t len, ssize_t want, const char *what)
{
	uint8_t buf[64];
	ssize_t n = pread(fd, buf, len, R(idx) + off);

	vt_check(n == want, "%s: pread region %d +%#llx len %zu returned %zd (%s), want %zd",
		 what, idx, (unsigned long long)off, len, n, n < 0 ? vt_errname(errno) : "",
		 want);
}

static void *map_region(int fd, int idx, uint64_t off, size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, fd, (off_t)(R(idx) + off));
}

/* mmap that must be refused with errno want. */
static void map_err(int fd, int idx, uint64_t off, size_t len, int flags, int want,
		    const char *what)
{
	void *p = map_region(fd, idx, off, len, PROT_READ | PROT_WRITE, flags);

	if (!MMAP_FAIL(p)) {
		vt_check(false, "%s: mmap region %d +%#llx len %#zx succeeded", what, idx,
			 (unsigned long long)off, len);
		munmap(p, len);
		return;
	}
	vt_check(errno == want, "%s: mmap region %d +%#llx len %#zx: %s, want %s", what, idx,
		 (unsigned long long)off, len, vt_errname(errno), vt_errname(want));
}

/* Through a mapping, faults caught: a broken driver must fail a check, not kill us. */
static bool map_load(volatile void *map, void *buf, size_t len, unsigned int width,
		     const char *what)
{
	int sig = vt_map_copy(map, buf, len, width, false);

	return vt_check(!sig, "%s: load through the mapping raised signal %d", what, sig);
}

static bool map_store(volatile void *map, const void *buf, size_t len, unsigned int width,
		      const char *what)
{
	int sig = vt_map_copy(map, (void *)buf, len, width, true);

	return vt_check(!sig, "%s: store through the mapping raised signal %d", what, sig);
}

static uint32_t map_rd32(volatile void *map, uint64_t off, const char *what)
{
	uint32_t v = 0xdeadbeef;

	map_load((volatile uint8_t *)map + off, &v, 4, 4, what);
	return v;
}

static void map_wr32(volatile void *map, uint64_t off, uint32_t v, const char *what)
{
	map_store((volatile uint8_t *)map + off, &v, 4, 4, what);
}

/*
 * A buffer far below the top of the address space, so that the VFS's
 * access_ok() accepts counts of up to MAX_RW_COUNT (~2 GiB) past its start:
 * then only the driver can clip a huge count.
 */
#define HUGE_COUNT	0x7ffff000ul	/* MAX_RW_COUNT */

static void *low_buffer(size_t len)
{
	void *hint = (void *)0x100000000000ul;	/* 16 TiB */
	void *p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if ((uintptr_t)p + HUGE_COUNT > 0x7f0000000000ul) {
		munmap(p, len);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

static uint64_t pattern64(void)
{
	static uint64_t x;

	if (!x) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^
		    (uint64_t)ts.tv_sec;
	}
	/* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static void fill_pattern(void *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = pattern64();

		memcpy((uint8_t *)buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static const char *hex(const void *buf, size_t len)
{
	static char s[3 * 64 + 1];
	size_t i;

	s[0] = '\0';
	for (i = 0; i < len && i < 64; i++)
		snprintf(s + 3 * i, sizeof(s) - 3 * i, "%02x ", ((const uint8_t *)buf)[i]);
	return s;
}

static bool same_bytes(const void *got, const void *want, size_t len, const char *what)
{
	if (!memcmp(got, want, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		if (((const uint8_t *)got)[i] != ((const uint8_t *)want)[i]) {
			size_t from = i & ~(size_t)7;
			size_t n = len - from < 16 ? len - from : 16;

			vt_check(false, "%s: first difference at byte %#zx", what, i);
			vt_diag("  got  +%#zx: %s", from, hex((const uint8_t *)got + from, n));
			vt_diag("  want +%#zx: %s", from, hex((const uint8_t *)want + from, n));
			break;
		}
	}
	return false;
}

static bool region_is(int fd, int idx, uint64_t size, uint32_t flags_set,
		      uint32_t flags_clear, const char *what)
{
	struct vfio_region_info *info = vt_region_info(fd, (uint32_t)idx);
	bool ok;

	if (!vt_check(info != NULL, "%s: GET_REGION_INFO %d: %s", what, idx,
		      vt_errname(errno)))
		return false;
	ok = vt_check_eq(info->size, size, "%s: region %d size", what, idx);
	ok &= vt_check((info->flags & flags_set) == flags_set && !(info->flags & flags_clear),
		       "%s: region %d flags %#x (want set %#x, clear %#x)", what, idx,
		       info->flags, flags_set, flags_clear);
	free(info);
	return ok;
}

/* ------------------------------------------------------------------------ */
/* edu                                                                       */

static void edu_set_live(int fd, uint32_t v)
{
	wr32(fd, 0, EDU_LIVE, v);
}

static bool edu_factorial(int fd, uint32_t n, uint32_t want, const char *what)
{
	struct timespec t0, t;

	wr32(fd, 0, EDU_FACT, n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!(rd32(fd, 0, EDU_STATUS) & 1))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			return vt_check(false, "%s: factorial still computing after 5 s", what);
		usleep(1000);
	}
	return vt_check_eq(rd32(fd, 0, EDU_FACT), want, "%s: factorial(%u)", what, n);
}

/* The device answers as it should: ID, liveness and factorial. */
static void edu_works(int fd, const char *what)
{
	uint32_t x = (uint32_t)pattern64();

	vt_check_eq(rd32(fd, 0, 0), EDU_ID, "%s: ID register", what);
	edu_set_live(fd, x);
	vt_check_eq(rd32(fd, 0, EDU_LIVE), ~x, "%s: liveness", what);
	edu_factorial(fd, 5, 120, what);
}

#define EDU_CASES 9

static void edu_basic(const struct vt_dev *d, int fd)
{
	vt_begin("%s %s: BAR0 pread/pwrite: ID, liveness, factorial", d->name, d->bdf);
	region_is(fd, 0, EDU_BAR_SIZE,
		  VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP, 0, "BAR0");
	vt_check_eq(rd32(fd, 0, 0), EDU_ID, "ID register");
	for (int i = 0; i < 4; i++) {
		uint32_t x = (uint32_t)pattern64();

		edu_set_live(fd, x);
		vt_check_eq(rd32(fd, 0, EDU_LIVE), ~x, "liveness after writing %#x", x);
	}
	edu_factorial(fd, 5, 120, "pwrite");
	edu_factorial(fd, 10, 3628800, "pwrite");
	vt_end();
}

static void edu_mmap(const struct vt_dev *d, int fd)
{
	volatile uint8_t *m;
	uint32_t x;

	vt_begin("%s %s: BAR0 mmap: ID, liveness across mmap and pread/pwrite, factorial",
		 d->name, d->bdf);
	m = map_region(fd, 0, 0, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (!vt_check(!MMAP_FAIL(m), "mmap BAR0 (1 MiB): %s", vt_errname(errno))) {
		vt_end();
		return;
	}
	vt_check_eq(map_rd32(m, 0, "ID"), EDU_ID, "ID via mmap");
	x = (uint32_t)pattern64();
	map_wr32(m, EDU_LIVE, x, "liveness");
	vt_check_eq(rd32(fd, 0, EDU_LIVE), ~x, "liveness written via mmap, read via pread");
	x = (uint32_t)pattern64();
	edu_set_live(fd, x);
	vt_check_eq(map_rd32(m, EDU_LIVE, "liveness"), ~x,
		    "liveness written via pwrite, read via mmap");
	map_wr32(m, EDU_FACT, 6, "factorial");
	for (int i = 0; i < 5000 && (map_rd32(m, EDU_STATUS, "status") & 1); i++)
		usleep(1000);
	vt_check_eq(map_rd32(m, EDU_FACT, "factorial"), 720, "factorial(6) via mmap");
	/* The last page of the BAR: unimplemented registers read ~0 both ways. */
	vt_check_eq(map_rd32(m, EDU_BAR_SIZE - 4, "last dword"), rd32(fd, 0, EDU_BAR_SIZE - 4),
		    "last dword of the BAR via mmap vs pread");
	munmap((void *)m, EDU_BAR_SIZE);

	/* A mapping at an offset inside the BAR maps the right pages. */
	m = map_region(fd, 0, EDU_BAR_SIZE - PAGE, PAGE, PROT_READ, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "mmap of the last page of BAR0: %s", vt_errname(errno))) {
		vt_check_eq(map_rd32(m, PAGE - 4, "last page"), rd32(fd, 0, EDU_BAR_SIZE - 4),
			    "last page mapping");
		munmap((void *)m, PAGE);
	}
	m = map_region(fd, 0, 0, PAGE, PROT_READ, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "read-only mmap of the first page: %s", vt_errname(errno))) {
		vt_check_eq(map_rd32(m, 0, "ID"), EDU_ID, "ID via a read-only mapping");
		munmap((void *)m, PAGE);
	}
	vt_end();
}

/*
 * edu answers ~0 to 8-byte accesses below 0x80 and ignores such writes; it
 * takes 4- and 8-byte accesses at 0x80 (a 4-byte write zero-extends).  So
 * whether the driver does one 8-byte access or two 4-byte ones is visible.
 */
static void edu_qword(const struct vt_dev *d, int fd)
{
	bool q = qword_rw();
	uint64_t v, want;
	uint32_t fact;

	vt_begin("%s %s: 8-byte pread/pwrite are %s, as the in-tree driver on %s", d->name,
		 d->bdf, q ? "one 64-bit access at 8-aligned offsets" : "two 32-bit accesses",
		 vt_kernel());
	edu_set_live(fd, 0x12345678);
	fact = rd32(fd, 0, EDU_FACT);

	v = 0;
	rd(fd, 0, 0, &v, 8);
	want = q ? ~0ull : (uint64_t)EDU_ID | (uint64_t)(uint32_t)~0x12345678u << 32;
	vt_check_eq(v, want, "8-byte pread at 0 (ID, liveness)");

	v = 0;
	rd(fd, 0, EDU_LIVE, &v, 8);	/* 4-aligned only: two dwords everywhere */
	vt_check_eq(v, (uint64_t)(uint32_t)~0x12345678u | (uint64_t)fact << 32,
		    "8-byte pread at 4 (liveness, factorial)");

	v = (uint64_t)0xabcdef00u << 32;
	wr(fd, 0, 0, &v, 8);
	vt_check_eq(rd32(fd, 0, EDU_LIVE), q ? ~0x12345678u : ~0xabcdef00u,
		    "liveness after an 8-byte pwrite at 0 (high dword 0xabcdef00)");

	v = 0x1122334455667788ull;
	wr(fd, 0, EDU_DMA_SRC, &v, 8);
	v = 0;
	rd(fd, 0, EDU_DMA_SRC, &v, 8);
	vt_check_eq(v, q ? 0x1122334455667788ull : 0xffffffff55667788ull,
		    "8-byte pwrite then pread of the DMA source register");
	vt_check_eq(rd32(fd, 0, EDU_DMA_SRC), 0x55667788, "4-byte pread of the DMA source");

	/* 8 bytes at a 4-aligned offset: two dword writes on every kernel. */
	v = (uint64_t)3 << 32 | 0x0badf00d;
	wr(fd, 0, EDU_LIVE, &v, 8);
	vt_check_eq(rd32(fd, 0, EDU_LIVE), ~0x0badf00du, "liveness after 8 bytes at 4");
	for (int i = 0; i < 5000 && (rd32(fd, 0, EDU_STATUS) & 1); i++)
		usleep(1000);
	vt_check_eq(rd32(fd, 0, EDU_FACT), 6, "factorial(3) started by the high dword");
	vt_end();
}

/* Accesses narrower than 4 bytes never reach edu's registers as dwords. */
static void edu_narrow(const struct vt_dev *d, int fd)
{
	uint8_t b[16];
	uint16_t h;
	uint32_t live;

	vt_begin("%s %s: 1/2-byte and unaligned accesses are split into naturally aligned ones",
		 d->name, d->bdf);
	edu_set_live(fd, 0x11223344);
	live = ~0x11223344u;

	h = 0x5555;
	rd(fd, 0, 0, &h, 2);
	vt_check_eq(h, 0, "2-byte pread of the ID register (edu: invalid width reads 0)");
	memset(b, 0x55, sizeof(b));
	rd(fd, 0, 0, b, 1);
	vt_check_eq(b[0], 0, "1-byte pread of the ID register");
	memset(b, 0x55, sizeof(b));
	rd(fd, 0, 1, b, 4);	/* 1 + 2 + 1 */
	vt_check(!memcmp(b, "\0\0\0\0", 4), "4 bytes at 1: %s", hex(b, 4));
	memset(b, 0x55, sizeof(b));
	rd(fd, 0, 2, b, 4);	/* 2 + 2 */
	vt_check(!memcmp(b, "\0\0\0\0", 4), "4 bytes at 2: %s", hex(b, 4));
	memset(b, 0x55, sizeof(b));
	rd(fd, 0, 3, b, 8);	/* 1 + 4 + 2 + 1 */
	{
		uint8_t want[8] = { 0, (uint8_t)live, (uint8_t)(live >> 8),
				    (uint8_t)(live >> 16), (uint8_t)(live >> 24), 0, 0, 0 };

		same_bytes(b, want, 8, "8 bytes at 3 (1+4+2+1)");
	}
	memset(b, 0x55, sizeof(b));
	rd(fd, 0, 4, b, 6);	/* 4 + 2 */
	{
		uint8_t want[6] = { (uint8_t)live, (uint8_t)(live >> 8), (uint8_t)(live >> 16),
				    (uint8_t)(live >> 24), 0, 0 };

		same_bytes(b, want, 6, "6 bytes at 4 (4+2)");
	}

	/* Narrow writes are ignored by edu: the liveness register keeps its value. */
	h = 0xbeef;
	wr(fd, 0, EDU_LIVE, &h, 2);
	wr8(fd, 0, EDU_LIVE + 1, 0x99);
	memset(b, 0x77, 4);
	wr(fd, 0, 2, b, 4);	/* 2 + 2 */
	wr(fd, 0, 3, b, 2);	/* 1 + 1 */
	vt_check_eq(rd32(fd, 0, EDU_LIVE), live, "liveness after 1/2-byte and unaligned writes");
	vt_end();
}

static void edu_range(const struct vt_dev *d, int fd)
{
	uint8_t b[8];
	ssize_t n;

	vt_begin("%s %s: offsets and sizes at and beyond the end, empty and absent regions",
		 d->name, d->bdf);
	rd_short(fd, 0, EDU_BAR_SIZE - 1, 4, 1, "read straddling the end");
	rd_short(fd, 0, EDU_BAR_SIZE - 4, 8, 4, "8-byte read straddling the end");
	rd_short(fd, 0, EDU_BAR_SIZE - 2, 64, 2, "64-byte read straddling the end");
	memset(b, 0, sizeof(b));
	n = pwrite(fd, b, 8, R(0) + EDU_BAR_SIZE - 4);
	vt_check(n == 4, "8-byte write straddling the end: %zd (%s), want 4", n,
		 n < 0 ? vt_errname(errno) : "");
	rd_err(fd, 0, EDU_BAR_SIZE, 4, EINVAL, "at the end");
	rd_err(fd, 0, EDU_BAR_SIZE + 4, 1, EINVAL, "beyond the end");
	rd_err(fd, 0, (1ull << VT_REGION_SHIFT) - 4, 4, EINVAL, "last offset of region 0");
	wr_err(fd, 0, EDU_BAR_SIZE, 4, EINVAL, "at the end");
	wr_err(fd, 0, EDU_BAR_SIZE + 0x1000, 8, EINVAL, "beyond the end");
	for (int idx = 1; idx <= 5; idx++) {
		rd_err(fd, idx, 0, 4, EINVAL, "absent BAR");
		wr_err(fd, idx, 0, 4, EINVAL, "absent BAR");
	}
	rd_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, 4, EINVAL, "no ROM");
	rd_err(fd, VFIO_PCI_VGA_REGION_INDEX, 0, 4, EINVAL, "VGA region, not a VGA device");
	rd_err(fd, VFIO_PCI_VGA_REGION_INDEX, 0x3c0, 1, EINVAL, "VGA port, not a VGA device");
	rd_err(fd, 9, 0, 4, EINVAL, "region 9");
	rd_err(fd, 0xffff, 0, 4, EINVAL, "region 0xffff");
	wr_err(fd, 9, 0, 4, EINVAL, "region 9");
	n = pread(fd, b, 4, -4);
	vt_check_errno(n, EINVAL, "pread at a negative offset");
	/* Zero-length reads and writes succeed with 0, whatever the offset. */
	vt_check_eq((uint64_t)pread(fd, b, 0, R(0)), 0, "zero-length pread");
	vt_check_eq((uint64_t)pwrite(fd, b, 0, R(0) + EDU_LIVE), 0, "zero-length pwrite");
	vt_check_eq((uint64_t)pread(fd, b, 0, R(0) + EDU_BAR_SIZE), 0,
		    "zero-length pread at the end");
	vt_check_eq((uint64_t)pread(fd, b, 0, R(9)), 0, "zero-length pread of region 9");
	vt_check_eq(rd32(fd, 0, 0), EDU_ID, "ID register afterwards");
	vt_end();
}

static void edu_big(const struct vt_dev *d, int fd)
{
	size_t len = EDU_BAR_SIZE;
	uint8_t *buf;
	uint64_t first;
	ssize_t n;

	vt_begin("%s %s: huge counts are clipped to the end of the BAR", d->name, d->bdf);
	buf = low_buffer(len);
	if (!vt_check(buf != NULL, "1 MiB buffer at a low address: %s", vt_errname(errno))) {
		vt_end();
		return;
	}
	n = raw_pread(fd, buf, HUGE_COUNT, R(0));
	vt_check(n == (ssize_t)len, "pread of %#lx bytes at 0: %zd (%s), want %#zx",
		 HUGE_COUNT, n, n < 0 ? vt_errname(errno) : "", len);
	/* The first qword is read as the 8-byte pread at 0 reads it. */
	memcpy(&first, buf, 8);
	if (qword_rw())
		vt_check_eq(first, ~0ull, "first qword of the whole-BAR read (64-bit access)");
	else
		vt_check_eq((uint32_t)first, EDU_ID, "first dword of the whole-BAR read");
	n = raw_pread(fd, buf, HUGE_COUNT, R(0) + len - 16);
	vt_check(n == 16, "pread of %#lx bytes 16 before the end: %zd (%s), want 16",
		 HUGE_COUNT, n, n < 0 ? vt_errname(errno) : "");
	munmap(buf, len);
	vt_end();
}

static void edu_bad_buffer(const struct vt_dev *d, int fd)
{
	void *bad = vt_bad_pointer();
	uint8_t *m;
	ssize_t n;

	vt_begin("%s %s: bad user buffers get EFAULT and change nothing", d->name, d->bdf);
	edu_set_live(fd, 0x600dcafe);
	n = pread(fd, bad, 4, R(0));
	vt_check_errno(n, EFAULT, "pread into an inaccessible page");
	n = pwrite(fd, bad, 4, R(0) + EDU_LIVE);
	vt_check_errno(n, EFAULT, "pwrite from an inaccessible page");
	n = raw_pread(fd, NULL, 4, R(0));
	vt_check_errno(n, EFAULT, "pread into NULL");
	vt_check_eq(rd32(fd, 0, EDU_LIVE), ~0x600dcafeu, "liveness unchanged");

	/* A buffer whose second half is not mapped. */
	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vt_check(!MMAP_FAIL(m), "anonymous buffer")) {
		munmap(m + PAGE, PAGE);
		n = pread(fd, m + PAGE - 4, 8, R(0));
		vt_check_errno(n, EFAULT, "8-byte pread with its last 4 bytes unmapped");
		n = pwrite(fd, m + PAGE - 2, 4, R(0) + EDU_LIVE);
		vt_check_errno(n, EFAULT, "4-byte pwrite with its last 2 bytes unmapped");
		vt_check_eq(rd32(fd, 0, EDU_LIVE), ~0x600dcafeu, "liveness unchanged");
		munmap(m, PAGE);
	}
	vt_end();
}

/*
 * The in-tree driver copies to the user piece by piece and fails the whole
 * call with EFAULT when a later piece faults: no short count.
 */
static void edu_partial_fault(const struct vt_dev *d, int fd)
{
	uint8_t *m;
	ssize_t n;

	vt_begin("%s %s: a read that faults after the first page fails with EFAULT, as in-tree",
		 d->name, d->bdf);
	m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!vt_check(!MMAP_FAIL(m), "anonymous buffer")) {
		vt_end();
		return;
	}
	munmap(m + 2 * PAGE, PAGE);
	n = pread(fd, m + PAGE, 2 * PAGE, R(0));
	vt_check_errno(n, EFAULT, "pread of 8 KiB into 4 KiB of valid buffer");
	n = pread(fd, m, 2 * PAGE + 4, R(0));
	vt_check_errno(n, EFAULT, "pread of 8 KiB + 4 into 8 KiB of valid buffer");
	n = pread(fd, m, 2 * PAGE, R(0));
	vt_check(n == 2 * PAGE, "pread of 8 KiB into 8 KiB: %zd", n);
	munmap(m, 2 * PAGE);
	vt_end();
}

static void edu_mmap_hostile(const struct vt_dev *d, int fd)
{
	vt_begin("%s %s: mmap beyond the BAR, private, of absent/config/ROM/VGA regions refused; "
		 "device works after", d->name, d->bdf);
	map_err(fd, 0, 0, EDU_BAR_SIZE + PAGE, MAP_SHARED, EINVAL, "longer than the BAR");
	map_err(fd, 0, EDU_BAR_SIZE, PAGE, MAP_SHARED, EINVAL, "at the end of the BAR");
	map_err(fd, 0, EDU_BAR_SIZE + 16 * PAGE, PAGE, MAP_SHARED, EINVAL, "beyond the BAR");
	map_err(fd, 0, EDU_BAR_SIZE - PAGE, 2 * PAGE, MAP_SHARED, EINVAL,
		"inside the BAR, past its end");
	map_err(fd, 0, (1ull << VT_REGION_SHIFT) - PAGE, PAGE, MAP_SHARED, EINVAL,
		"last page of region 0's offset space");
	map_err(fd, 0, 0, PAGE, MAP_PRIVATE, EINVAL, "MAP_PRIVATE");
	map_err(fd, 1, 0, PAGE, MAP_SHARED, EINVAL, "absent BAR1");
	map_err(fd, 5, 0, PAGE, MAP_SHARED, EINVAL, "absent BAR5");
	map_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, PAGE, MAP_SHARED, EINVAL, "ROM region");
	map_err(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, PAGE, MAP_SHARED, EINVAL, "config region");
	map_err(fd, VFIO_PCI_VGA_REGION_INDEX, 0, PAGE, MAP_SHARED, EINVAL, "VGA region");
	map_err(fd, 9, 0, PAGE, MAP_SHARED, EINVAL, "region 9");
	edu_works(fd, "afterwards");
	vt_end();
}

static void run_edu(struct vt_kind_dev *kd)
{
	const struct vt_dev *d = kd->d;
	int fd = kd->v.device;

	edu_basic(d, fd);
	edu_mmap(d, fd);
	edu_qword(d, fd);
	edu_narrow(d, fd);
	edu_range(d, fd);
	edu_big(d, fd);
	edu_bad_buffer(d, fd);
	edu_partial_fault(d, fd);
	edu_mmap_hostile(d, fd);
}

/* ------------------------------------------------------------------------ */
/* pci-testdev: "count" protocol on BAR0 (MMIO) and BAR1 (I/O ports)         */

#define TESTDEV_CASES 4

struct testdev_hdr {
	uint8_t test;
	uint8_t width;
	uint8_t pad0[2];
	uint32_t offset;
	uint8_t data;
	uint8_t pad1[3];
	uint32_t count;
	char name[24];
};

/* Select test 0 ("no-eventfd": count the writes of 0xfa at hdr.offset). */
static bool testdev_select(int fd, int idx, struct testdev_hdr *h)
{
	memset(h, 0, sizeof(*h));
	wr8(fd, idx, 0, 0);
	if (!rd(fd, idx, 0, h, sizeof(*h)))
		return false;
	h->name[sizeof(h->name) - 1] = '\0';
	return true;
}

static void testdev_io(const struct vt_dev *d, int fd)
{
	struct testdev_hdr h;

	vt_begin("%s %s: BAR1 I/O ports via pread/pwrite (count protocol), no mmap", d->name,
		 d->bdf);
	region_is(fd, 1, 0x100, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		  VFIO_REGION_INFO_FLAG_MMAP, "I/O BAR1");
	if (testdev_select(fd, 1, &h)) {
		vt_check_eq(h.test, 3, "selected test (portio no-eventfd)");
		vt_check_eq(h.offset, 0x83, "count offset");
		vt_check_eq(h.data, TESTDEV_MATCH, "data to match");
		vt_check_eq(h.count, 0, "count after select");
		vt_check(!strcmp(h.name, "portio-no-eventfd"), "name '%s'", h.name);
		wr8(fd, 1, h.offset, TESTDEV_MATCH);
		vt_check_eq(rd32(fd, 1, TESTDEV_COUNT), 1, "count after one matching write");
		wr8(fd, 1, h.offset, TESTDEV_MATCH + 1);
		wr8(fd, 1, h.offset + 1, TESTDEV_MATCH);
		vt_check_eq(rd32(fd, 1, TESTDEV_COUNT), 1, "count after non-matching writes");
		wr32(fd, 1, h.offset & ~3u, (uint32_t)TESTDEV_MATCH << 24);	/* LE: byte 3 */
		vt_check_eq(rd32(fd, 1, TESTDEV_COUNT), 2, "count after a 4-byte write");
		vt_check_eq(rd8(fd, 1, TESTDEV_COUNT), 2, "count via a 1-byte read");
	}
	rd_short(fd, 1, 0xfc, 8, 4, "I/O read straddling the end");
	rd_err(fd, 1, 0x100, 4, EINVAL, "I/O BAR at the end");
	wr_err(fd, 1, 0x104, 1, EINVAL, "I/O BAR beyond the end");
	map_err(fd, 1, 0, PAGE, MAP_SHARED, EINVAL, "I/O BAR");
	vt_end();
}

static void testdev_mem(const struct vt_dev *d, int fd)
{
	struct testdev_hdr h;
	volatile uint8_t *m;

	vt_begin("%s %s: BAR0 MMIO count protocol via pread/pwrite and mmap", d->name, d->bdf);
	region_is(fd, 0, PAGE, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP, 0, "BAR0");
	if (!testdev_select(fd, 0, &h)) {
		vt_end();
		return;
	}
	vt_check_eq(h.test, 0, "selected test (mmio no-eventfd)");
	vt_check_eq(h.offset, 0x800, "count offset");
	vt_check(!strcmp(h.name, "mmio-no-eventfd"), "name '%s'", h.name);
	wr8(fd, 0, h.offset, TESTDEV_MATCH);
	wr8(fd, 0, h.offset, TESTDEV_MATCH);
	vt_check_eq(rd32(fd, 0, TESTDEV_COUNT), 2, "count after two matching pwrites");
	m = map_region(fd, 0, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "mmap BAR0: %s", vt_errname(errno))) {
		uint8_t v = TESTDEV_MATCH;
		uint32_t c = 0;

		map_store(m + h.offset, &v, 1, 1, "matching byte");
		map_load(m + TESTDEV_COUNT, &c, 4, 4, "count");
		vt_check_eq(c, 3, "count via mmap after a matching store via mmap");
		vt_check_eq(rd32(fd, 0, TESTDEV_COUNT), 3, "count via pread");
		munmap((void *)m, PAGE);
	}
	rd_err(fd, 0, PAGE, 1, EINVAL, "at the end");
	vt_end();
}

static void testdev_membar(const struct vt_dev *d, int fd,
			   const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint64_t size = vt_resource_size(&res[2]);
	volatile uint8_t *m;
	uint64_t v;

	vt_begin("%s %s: BAR2 (%#llx, no backing): pread and whole-BAR mmap agree", d->name,
		 d->bdf, (unsigned long long)size);
	if (!size) {
		vt_end_skip("no BAR2 (membar=) on this device");
		return;
	}
	region_is(fd, 2, size, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP, 0, "BAR2");
	v = 1;
	rd(fd, 2, 0, &v, 8);
	vt_check_eq(v, 0, "first qword (unassigned memory reads 0)");
	v = 1;
	rd(fd, 2, size - 8, &v, 8);
	vt_check_eq(v, 0, "last qword");
	rd_short(fd, 2, size - 4, 8, 4, "read straddling the end");
	rd_err(fd, 2, size, 4, EINVAL, "at the end");
	m = map_region(fd, 2, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "mmap of the whole BAR2: %s", vt_errname(errno))) {
		uint32_t x = 0x12345678;

		vt_check_eq(map_rd32(m, 0, "first"), 0, "first dword via mmap");
		vt_check_eq(map_rd32(m, size - 4, "last"), 0, "last dword via mmap");
		map_wr32(m, size - 4, x, "last");
		vt_check_eq(map_rd32(m, size - 4, "last"), 0, "a store to no backing is dropped");
		munmap((void *)m, size);
	}
	map_err(fd, 2, 0, size + PAGE, MAP_SHARED, EINVAL, "longer than BAR2");
	vt_end();
}

static void testdev_works(const struct vt_dev *d, int fd)
{
	struct testdev_hdr h;

	vt_begin("%s %s: the device still counts afterwards", d->name, d->bdf);
	if (testdev_select(fd, 0, &h)) {
		for (int i = 0; i < 5; i++)
			wr8(fd, 0, h.offset, TESTDEV_MATCH);
		vt_check_eq(rd32(fd, 0, TESTDEV_COUNT), 5, "MMIO count");
	}
	if (testdev_select(fd, 1, &h)) {
		for (int i = 0; i < 3; i++)
			wr8(fd, 1, h.offset, TESTDEV_MATCH);
		vt_check_eq(rd32(fd, 1, TESTDEV_COUNT), 3, "I/O count");
	}
	vt_end();
}

static void run_testdev(struct vt_kind_dev *kd)
{
	const struct vt_dev *d = kd->d;
	int fd = kd->v.device;

	testdev_io(d, fd);
	testdev_mem(d, fd);
	testdev_membar(d, fd, kd->res);
	testdev_works(d, fd);
}

/* ------------------------------------------------------------------------ */
/* ivshmem: sub-page register BAR0, RAM behind BAR2                          */

#define IVSHMEM_CASES 3
#define IVSHMEM_INTRMASK	0x0
#define IVSHMEM_IVPOSITION	0x8

static void ivshmem_bar0(const struct vt_dev *d, int fd,
			 const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint64_t size = vt_resource_size(&res[0]);
	bool page_start = !(res[0].start & (PAGE - 1));
	struct vfio_region_info *info;
	volatile uint8_t *m;
	uint32_t x;

	vt_begin("%s %s: sub-page BAR0 (%#llx): pread/pwrite, one-page mmap", d->name, d->bdf,
		 (unsigned long long)size);
	if (!vt_check(size && size < PAGE, "BAR0 size %#llx is not sub-page",
		      (unsigned long long)size)) {
		vt_end();
		return;
	}
	info = vt_region_info(fd, 0);
	if (vt_check(info != NULL, "GET_REGION_INFO 0")) {
		vt_check_eq(info->size, size, "region 0 size");
		vt_check(!!(info->flags & VFIO_REGION_INFO_FLAG_MMAP) == page_start,
			 "MMAP flag %s, BAR starts at %#llx", info->flags &
			 VFIO_REGION_INFO_FLAG_MMAP ? "set" : "clear",
			 (unsigned long long)res[0].start);
		free(info);
	}
	x = (uint32_t)pattern64();
	wr32(fd, 0, IVSHMEM_INTRMASK, x);
	vt_check_eq(rd32(fd, 0, IVSHMEM_INTRMASK), x, "INTRMASK via pwrite/pread");
	rd_short(fd, 0, size - 4, 8, 4, "read straddling the end");
	rd_err(fd, 0, size, 4, EINVAL, "at the end");
	wr_err(fd, 0, size, 4, EINVAL, "at the end");
	rd_err(fd, 0, PAGE, 4, EINVAL, "in the rest of the page");
	if (!page_start) {
		map_err(fd, 0, 0, PAGE, MAP_SHARED, EINVAL, "BAR not starting a page");
		vt_end();
		return;
	}
	m = map_region(fd, 0, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "mmap of the page of BAR0: %s", vt_errname(errno))) {
		vt_check_eq(map_rd32(m, IVSHMEM_INTRMASK, "INTRMASK"), x, "INTRMASK via mmap");
		x = (uint32_t)pattern64();
		map_wr32(m, IVSHMEM_INTRMASK, x, "INTRMASK");
		vt_check_eq(rd32(fd, 0, IVSHMEM_INTRMASK), x, "INTRMASK stored via mmap");
		vt_check_eq(map_rd32(m, IVSHMEM_IVPOSITION, "IVPOSITION"),
			    rd32(fd, 0, IVSHMEM_IVPOSITION), "IVPOSITION via mmap vs pread");
		munmap((void *)m, PAGE);
	}
	map_err(fd, 0, 0, 2 * PAGE, MAP_SHARED, EINVAL, "two pages of a sub-page BAR");
	map_err(fd, 0, PAGE, PAGE, MAP_SHARED, EINVAL, "second page of a sub-page BAR");
	wr32(fd, 0, IVSHMEM_INTRMASK, 0);
	vt_end();
}

static void ivshmem_bar2(const struct vt_dev *d, int fd,
			 const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint64_t size = vt_resource_size(&res[2]);
	uint8_t a[16], b[16], page[PAGE], back[PAGE];
	volatile uint8_t *m, *tail;
	uint8_t *low;
	ssize_t n;

	vt_begin("%s %s: BAR2 RAM (%#llx) mapped whole: mmap and pread/pwrite see each other "
		 "at its ends", d->name, d->bdf, (unsigned long long)size);
	if (!size) {
		vt_end_skip("no BAR2");
		return;
	}
	region_is(fd, 2, size, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP, 0, "BAR2");
	m = map_region(fd, 2, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (!vt_check(!MMAP_FAIL(m), "mmap of the whole BAR2: %s", vt_errname(errno))) {
		vt_end();
		return;
	}
	/* mmap -> pread, at the last bytes, the first bytes and across a page. */
	fill_pattern(a, sizeof(a));
	if (map_store(m + size - 16, a, 16, 8, "last 16 bytes")) {
		memset(b, 0, sizeof(b));
		rd(fd, 2, size - 16, b, 16);
		same_bytes(b, a, 16, "last 16 bytes stored via mmap, read via pread");
	}
	fill_pattern(a, sizeof(a));
	if (map_store(m, a, 8, 4, "first 8 bytes")) {
		memset(b, 0, sizeof(b));
		rd(fd, 2, 0, b, 8);
		same_bytes(b, a, 8, "first 8 bytes stored via mmap, read via pread");
	}
	/* pwrite -> mmap */
	fill_pattern(a, sizeof(a));
	if (wr(fd, 2, size - 8, a, 8)) {
		memset(b, 0, sizeof(b));
		map_load(m + size - 8, b, 8, 8, "last 8 bytes");
		same_bytes(b, a, 8, "last 8 bytes written via pwrite, read via mmap");
	}
	fill_pattern(a, sizeof(a));
	if (wr(fd, 2, size / 2 - 6, a, 12)) {	/* 2 + 8 + 2 across a page boundary */
		memset(b, 0, sizeof(b));
		map_load(m + size / 2 - 6, b, 12, 1, "middle");
		same_bytes(b, a, 12, "12 unaligned bytes across a page, via pwrite then mmap");
	}
	/* A huge count near the end is clipped to the end of the BAR. */
	low = low_buffer(PAGE);
	if (vt_check(low != NULL, "a page at a low address: %s", vt_errname(errno))) {
		fill_pattern(low, PAGE);
		memcpy(page, low, PAGE);
		n = raw_pwrite(fd, low, HUGE_COUNT, R(2) + size - PAGE);
		if (vt_check(n == PAGE, "pwrite of %#lx bytes a page before the end: %zd (%s)",
			     HUGE_COUNT, n, n < 0 ? vt_errname(errno) : "")) {
			map_load(m + size - PAGE, back, PAGE, 8, "last page");
			same_bytes(back, page, PAGE, "last page after the clipped pwrite");
		}
		munmap(low, PAGE);
	}
	rd_short(fd, 2, size - 8, 16, 8, "read straddling the end");
	rd_err(fd, 2, size, 8, EINVAL, "at the end");
	munmap((void *)m, size);

	/* A one-page mapping at the end of the BAR maps the last page. */
	tail = map_region(fd, 2, size - PAGE, PAGE, PROT_READ, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(tail), "mmap of the last page of BAR2: %s", vt_errname(errno))) {
		map_load(tail, back, PAGE, 4, "last page");
		same_bytes(back, page, PAGE, "last page via a mapping at an offset");
		munmap((void *)tail, PAGE);
	}
	map_err(fd, 2, 0, size + PAGE, MAP_SHARED, EINVAL, "longer than BAR2");
	map_err(fd, 2, size - PAGE, 2 * PAGE, MAP_SHARED, EINVAL, "past the end of BAR2");
	map_err(fd, 2, size, PAGE, MAP_SHARED, EINVAL, "at the end of BAR2");
	vt_end();
}

/* pwrite with a buffer that faults halfway: EFAULT, the first part written. */
static void ivshmem_partial_fault(const struct vt_dev *d, int fd,
				  const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint64_t size = vt_resource_size(&res[2]);
	uint8_t *m, back[PAGE];
	ssize_t n;

	vt_begin("%s %s: a pwrite that faults after the first page fails with EFAULT, as in-tree",
		 d->name, d->bdf);
	if (!size) {
		vt_end_skip("no BAR2");
		return;
	}
	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!vt_check(!MMAP_FAIL(m), "anonymous buffer")) {
		vt_end();
		return;
	}
	munmap(m + PAGE, PAGE);
	fill_pattern(m, PAGE);
	n = pwrite(fd, m, 2 * PAGE, R(2) + 0x100000);
	vt_check_errno(n, EFAULT, "pwrite of 8 KiB from 4 KiB of valid buffer");
	/* The in-tree driver wrote the first page before it hit the fault. */
	if (rd(fd, 2, 0x100000, back, PAGE))
		same_bytes(back, m, PAGE, "first page of the faulting pwrite");
	munmap(m, PAGE);
	vt_end();
}

static void run_ivshmem(struct vt_kind_dev *kd)
{
	ivshmem_bar0(kd->d, kd->v.device, kd->res);
	ivshmem_bar2(kd->d, kd->v.device, kd->res);
	ivshmem_partial_fault(kd->d, kd->v.device, kd->res);
}

/* ------------------------------------------------------------------------ */
/* e1000e: ROM and the MSI-X BAR                                             */

#define E1000E_CASES 3
#define ROM_CHUNK 0x8000

/* The ROM image as the PCI core reads it (sysfs "rom"). */
static ssize_t sysfs_rom(const char *bdf, uint8_t *buf, size_t len)
{
	char path[256];
	ssize_t n, total = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/rom", bdf);
	if (vt_sysfs_write(path, "1"))
		return -errno;
	f = fopen(path, "r");
	if (!f) {
		vt_sysfs_write(path, "0");
		return -errno;
	}
	while ((size_t)total < len && (n = (ssize_t)fread(buf + total, 1, len - (size_t)total, f)) > 0)
		total += n;
	fclose(f);
	vt_sysfs_write(path, "0");
	return total;
}

static void e1000e_rom(const struct vt_dev *d, int fd,
		       const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint64_t size = vt_resource_size(&res[6]);
	uint8_t *rom = NULL, *img = NULL, b[16];
	ssize_t img_len;
	uint64_t q;

	vt_begin("%s %s: ROM region (%#llx): the image as sysfs reads it, 0xff past it, "
		 "read-only, no mmap", d->name, d->bdf, (unsigned long long)size);
	if (!vt_check(size, "no ROM resource")) {
		vt_end();
		return;
	}
	region_is(fd, VFIO_PCI_ROM_REGION_INDEX, size, VFIO_REGION_INFO_FLAG_READ,
		  VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP, "ROM");
	rom = malloc(size);
	img = malloc(size);
	if (!vt_check(rom && img, "out of memory"))
		goto out;
	for (uint64_t off = 0; off < size; off += ROM_CHUNK)
		if (!rd(fd, VFIO_PCI_ROM_REGION_INDEX, off, rom + off, ROM_CHUNK))
			goto out;
	vt_check(rom[0] == 0x55 && rom[1] == 0xaa, "ROM signature %02x %02x, want 55 aa",
		 rom[0], rom[1]);
	img_len = sysfs_rom(d->bdf, img, size);
	if (vt_check(img_len > 0, "sysfs rom: %s", img_len < 0 ? vt_errname((int)-img_len) :
		     "empty")) {
		vt_diag("ROM image %#zx of %#llx bytes", (size_t)img_len,
			(unsigned long long)size);
		same_bytes(rom, img, (size_t)img_len, "ROM image vs sysfs rom");
		memset(img, 0xff, size - (size_t)img_len);
		same_bytes(rom + img_len, img, size - (size_t)img_len, "ROM past the image");
	}
	/* An 8-byte read is the same bytes (ROM accesses are at most 32 bits). */
	q = 0;
	rd(fd, VFIO_PCI_ROM_REGION_INDEX, 0, &q, 8);
	same_bytes(&q, rom, 8, "8-byte ROM read");
	memset(b, 0, sizeof(b));
	rd(fd, VFIO_PCI_ROM_REGION_INDEX, 3, b, 9);
	same_bytes(b, rom + 3, 9, "unaligned ROM read");
	rd_short(fd, VFIO_PCI_ROM_REGION_INDEX, size - 4, 8, 4, "ROM read straddling the end");
	rd_err(fd, VFIO_PCI_ROM_REGION_INDEX, size, 4, EINVAL, "ROM at the end");
	wr_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, 4, EINVAL, "ROM");
	wr_err(fd, VFIO_PCI_ROM_REGION_INDEX, size - 4, 4, EINVAL, "ROM");
	wr_err(fd, VFIO_PCI_ROM_REGION_INDEX, size, 4, EINVAL, "ROM at the end");
	map_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, PAGE, MAP_SHARED, EINVAL, "ROM");
	map_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, PAGE, MAP_PRIVATE, EINVAL, "ROM, private");
out:
	free(rom);
	free(img);
	vt_end();
}

static void e1000e_msix(const struct vt_dev *d, int fd,
			const struct vt_resource res[VT_NUM_RESOURCES])
{
	uint8_t cfg[256], ff[64], table[4096], back[4096], b[16];
	uint32_t tbl, pba, bar, toff, tsize, poff;
	struct vfio_region_info *info;
	unsigned int cap;
	volatile uint8_t *m;
	uint64_t size;

	vt_begin("%s %s: MSI-X BAR: table reads 0xff and ignores writes via pread/pwrite, "
		 "PBA readable, mmappable", d->name, d->bdf);
	if (!rd(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, cfg, sizeof(cfg))) {
		vt_end();
		return;
	}
	cap = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSIX);
	if (!vt_check(cap, "no MSI-X capability")) {
		vt_end();
		return;
	}
	tbl = vt_le32(cfg + cap + 4);
	pba = vt_le32(cfg + cap + 8);
	bar = tbl & 7;
	toff = tbl & ~7u;
	tsize = ((vt_le16(cfg + cap + 2) & 0x7ff) + 1) * 16;
	poff = pba & ~7u;
	size = vt_resource_size(&res[bar]);
	vt_diag("MSI-X table BAR%u +%#x size %#x, PBA BAR%u +%#x", bar, toff, tsize, pba & 7,
		poff);
	if (!vt_check(size && toff + tsize + 16 <= sizeof(table) && (pba & 7) == bar &&
		      poff + 8 <= size, "unexpected MSI-X layout")) {
		vt_end();
		return;
	}
	info = vt_region_info(fd, bar);
	if (vt_check(info != NULL, "GET_REGION_INFO %u", bar)) {
		vt_check(info->flags & VFIO_REGION_INFO_FLAG_MMAP, "MSI-X BAR not mmappable");
		vt_check(info->flags & VFIO_REGION_INFO_FLAG_CAPS &&
			 vt_info_cap(info, info->argsz, info->cap_offset,
				     VFIO_REGION_INFO_CAP_MSIX_MAPPABLE),
			 "no MSIX_MAPPABLE capability");
		free(info);
	}
	memset(ff, 0xff, sizeof(ff));
	memset(back, 0, sizeof(back));
	if (rd(fd, bar, toff, back, tsize))
		same_bytes(back, ff, tsize < sizeof(ff) ? tsize : sizeof(ff), "table via pread");
	m = map_region(fd, bar, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (!vt_check(!MMAP_FAIL(m), "mmap of the MSI-X BAR: %s", vt_errname(errno))) {
		vt_end();
		return;
	}
	/* The mapping shows the real table (entries masked after reset). */
	if (!map_load(m + toff, table, tsize + 16, 4, "table")) {
		munmap((void *)m, size);
		vt_end();
		return;
	}
	vt_check_eq(vt_le32(table + 12), 1, "entry 0 vector control via mmap (masked)");
	/* A read straddling the end of the table: 0xff, then the device. */
	memset(b, 0, sizeof(b));
	if (rd(fd, bar, toff + tsize - 8, b, 16)) {
		same_bytes(b, ff, 8, "last 8 bytes of the table via pread");
		same_bytes(b + 8, table + tsize, 8, "8 bytes after the table via pread vs mmap");
	}
	/* Writes to the table through the fd are dropped. */
	memset(back, 0x5a, tsize);
	wr(fd, bar, toff, back, tsize);
	wr32(fd, bar, toff + 12, 0);
	wr32(fd, bar, toff + 16, 0xfee00000);
	if (map_load(m + toff, back, tsize, 4, "table"))
		same_bytes(back, table, tsize, "table via mmap after pwrites to it");
	/* PBA: readable, same both ways. */
	memset(b, 0xcc, sizeof(b));
	if (rd(fd, bar, poff, b, 8) && map_load(m + poff, back, 8, 4, "PBA"))
		same_bytes(b, back, 8, "PBA via pread vs mmap");
	vt_check_eq(vt_le32(b), 0, "PBA: nothing pending");
	munmap((void *)m, size);
	map_err(fd, bar, 0, size + PAGE, MAP_SHARED, EINVAL, "longer than the MSI-X BAR");
	vt_end();
}

static void e1000e_other(const struct vt_dev *d, int fd,
			 const struct vt_resource res[VT_NUM_RESOURCES])
{
	volatile uint8_t *m;
	int io = -1;

	vt_begin("%s %s: BAR0 via pread and mmap agree; I/O BAR and config not mmappable",
		 d->name, d->bdf);
	for (int i = 0; i < 6; i++)
		if (res[i].flags & VT_IORESOURCE_IO)
			io = i;
	m = map_region(fd, 0, 0, PAGE, PROT_READ, MAP_SHARED);
	if (vt_check(!MMAP_FAIL(m), "mmap BAR0: %s", vt_errname(errno))) {
		/* CTRL (0x0) and STATUS (0x8): no read side effects. */
		vt_check_eq(map_rd32(m, 0, "CTRL"), rd32(fd, 0, 0), "CTRL via mmap vs pread");
		vt_check_eq(map_rd32(m, 8, "STATUS"), rd32(fd, 0, 8), "STATUS via mmap vs pread");
		munmap((void *)m, PAGE);
	}
	if (vt_check(io >= 0, "no I/O BAR")) {
		uint32_t v;

		map_err(fd, io, 0, PAGE, MAP_SHARED, EINVAL, "I/O BAR");
		rd(fd, io, 0, &v, 4);	/* IOADDR: readable */
	}
	map_err(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, PAGE, MAP_SHARED, EINVAL, "config region");
	map_err(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, PAGE, MAP_PRIVATE, EINVAL,
		"config region, private");
	vt_end();
}

static void run_e1000e(struct vt_kind_dev *kd)
{
	e1000e_rom(kd->d, kd->v.device, kd->res);
	e1000e_msix(kd->d, kd->v.device, kd->res);
	e1000e_other(kd->d, kd->v.device, kd->res);
}

/* ------------------------------------------------------------------------ */

static const struct vt_kind kinds[] = {
	{ 0x1234, 0x11e8, "edu", EDU_CASES, run_edu },
	{ 0x1b36, 0x0005, "pci-testdev", TESTDEV_CASES, run_testdev },
	{ 0x1af4, 0x1110, "ivshmem", IVSHMEM_CASES, run_ivshmem },
	{ 0x8086, 0x10d3, "e1000e", E1000E_CASES, run_e1000e },
};

int main(void)
{
	vt_fault_handler_install();
	return vt_main_kinds(kinds, sizeof(kinds) / sizeof(kinds[0]));
}
