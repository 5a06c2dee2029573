// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-bench: one pass of measurements on whatever vfio-pci is loaded.
 *
 * It binds the devices it needs (edu on the root bus, ivshmem-plain, nvme)
 * to vfio-pci, measures, closes everything and prints one line per figure:
 *
 *	bench <metric> <value> <unit> <higher|lower>
 *	benchskip <metric> <reason>
 *	benchinfo <text>
 *
 * selftests/bench.py runs it once per driver and round and does the
 * statistics across passes.  The figures:
 *   rates      time boxed (-t) and cut into 1 ms slices: <metric> is the
 *              rate of the 90th-percentile slice (see rate()), with
 *              <metric>.mean and <metric>.kcpu (guest kernel CPU time per
 *              operation, getrusage) for the JSON;
 *   mmap       one shot each: map ivshmem BAR2 (-m MiB) and read a byte of
 *              every page, at any address and at an aligned one, touch it
 *              again (no faults: what TCG's TLB refills cost alone), turn
 *              memory decode off and on through the config region and touch
 *              it all again, munmap; and the limit: the same through the
 *              PCI core's sysfs resource2 mmap, populated in one go;
 *   latencies  open/close of a device fd and VFIO_DEVICE_RESET, the fastest
 *              of -n cycles;
 *   trace      the hot rows again (config read and write, BAR pread and
 *              pwrite 4 B, mmap first touch, MSI and INTx round trips,
 *              ioeventfd) with every event of the vfio_pci trace system on,
 *              as trace.<metric>: what our tracepoints cost when they are
 *              enabled.  The in-tree driver has no such events: in its pass
 *              the section only says so, and bench.py compares ours traced
 *              with the in-tree figure of the plain row.
 * Under TCG an access to an emulated register costs a trip into QEMU's
 * device model that can dwarf the driver's own work; the same operations on
 * ivshmem's BAR2, which QEMU backs with plain RAM, show the driver's cost.
 *
 * Interrupt placement decides interrupt round trips more than any driver
 * does (under single-threaded TCG a wakeup across vCPUs costs a vCPU
 * switch), and where the kernel puts a new vector is luck: the program runs
 * pinned to CPU 0 and steers each vfio interrupt to CPU 0 as well (-f: leave
 * them where the kernel put them). Where they were put and where they fired
 * is printed as benchinfo.
 *
 *	vfio-bench [-o SECTIONS] [-t MS] [-m MIB] [-n N] [-f] [-q]
 *	  -o LIST  only these sections, comma-separated: control, config, bar,
 *	           mmap, irq, ioeventfd, life, trace (default: all)
 *	  -t MS    time box of each rate, in ms (default 400)
 *	  -m MIB   how much of ivshmem BAR2 to map and touch (default 1024)
 *	  -n N     open/close and reset cycles per pass (default 5; the
 *	           fastest counts: like a rate's slices, the others measure the
 *	           host's other load)
 *	  -f       do not pin this program and the interrupts to CPU 0
 *	  -q       no progress on stderr
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define R(i)			VT_REGION_OFFSET(i)
#define PAGE			4096ul
#define MIB			(1ul << 20)
#define GIB			(1ul << 30)

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_INTERRUPT_LINE	0x3c

#define EDU_ID			0x00
#define EDU_LIVE		0x04
#define EDU_IRQ_RAISE		0x60
#define EDU_IRQ_ACK		0x64

#define IRQ_WAIT_MS		2000	/* an interrupt that must come */
#define BULK_LEN		MIB

#define TRACEFS			"/sys/kernel/tracing"
#define TRACE_BUF_KB		"64"	/* per CPU; overwrite mode: it wraps */

static unsigned int budget_ms = 400;
static unsigned long mmap_mib = 1024;
static unsigned int cycles = 5;
static bool quiet;
static bool free_placement;
static const char *sections;
static const char *prefix = "";	/* of every metric: "trace." while traced */

static bool want(const char *section)
{
	size_t len = strlen(section);
	const char *p = sections;

	if (!p)
		return true;
	while ((p = strstr(p, section))) {
		if ((p == sections || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

static void progress(const char *what)
{
	if (!quiet)
		fprintf(stderr, "vfio-bench: %s\n", what);
}

static void emit(const char *metric, double value, const char *unit, bool higher)
{
	printf("bench %s%s %.6g %s %s\n", prefix, metric, value, unit,
	       higher ? "higher" : "lower");
	fflush(stdout);
}

static void skip(const char *metric, const char *fmt, ...) VT_PRINTF(2, 3);
static void skip(const char *metric, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	printf("benchskip %s%s %s\n", prefix, metric, reason);
	fflush(stdout);
}

static void info(const char *fmt, ...) VT_PRINTF(1, 2);
static void info(const char *fmt, ...)
{
	va_list ap;

	printf("benchinfo ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                    */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Kernel CPU time of this process, in seconds. */
static double kcpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double minimum(const double *v, unsigned int n)
{
	double m = v[0];

	for (unsigned int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/*
 * Run op() for the time box (after a short warm-up) in slices of about a
 * millisecond and print:
 *   <metric>       the rate of the 90th-percentile slice: the rate while
 *                  the VM actually ran.  The host is shared, and a slice in
 *                  which QEMU's vCPU thread was descheduled reads as a slow
 *                  one; a mean over the time box measures the neighbours.
 *   <metric>.mean  the rate over the whole time box;
 *   <metric>.kcpu  the kernel CPU time per operation (us; tick-sampled, so
 *                  only meaningful over the whole time box).
 * scale turns ops/s into the unit (1 for ops/s, bytes/1e6 for MB/s).
 * Returns false when an op failed.
 */
typedef int (*op_fn)(void *ctx);

#define MAX_SLICES	8192
#define SLICE_S		0.001
#define SLICE_PCT	90

static double slice_rates[MAX_SLICES];

static bool rate(const char *metric, op_fn op, void *ctx, double scale, const char *unit)
{
	double t0, k0, t, k, slice, deadline;
	unsigned long ops = 0;
	unsigned int i, n = 0, batch = 1;
	char name[128];

	for (i = 0; i < 4; i++)
		if (op(ctx)) {
			skip(metric, "operation failed: %s", vt_errname(errno));
			return false;
		}
	/* Slices of about SLICE_S keep the clock reads out of the figure. */
	t0 = now();
	for (i = 0; i < 4; i++)
		if (op(ctx)) {
			skip(metric, "operation failed: %s", vt_errname(errno));
			return false;
		}
	t = (now() - t0) / 4;
	while (batch < 4096 && t * batch * 2 <= SLICE_S)
		batch *= 2;

	k0 = kcpu();
	t0 = now();
	deadline = t0 + budget_ms / 1000.0;
	slice = t0;
	do {
		for (i = 0; i < batch; i++)
			if (op(ctx)) {
				skip(metric, "operation failed after %lu: %s", ops,
				     vt_errname(errno));
				return false;
			}
		ops += batch;
		t = now();
		if (n < MAX_SLICES && t > slice)
			slice_rates[n++] = batch / (t - slice);
		slice = t;
	} while (t < deadline);
	k = kcpu() - k0;
	t -= t0;

	qsort(slice_rates, n, sizeof(*slice_rates), cmp_double);
	emit(metric, (n ? slice_rates[(n - 1) * SLICE_PCT / 100] : (double)ops / t) * scale,
	     unit, true);
	snprintf(name, sizeof(name), "%s.mean", metric);
	emit(name, (double)ops / t * scale, unit, true);
	snprintf(name, sizeof(name), "%s.kcpu", metric);
	emit(name, k / (double)ops * 1e6, "us/op", false);
	return true;
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */

struct bdev {
	const char *name;
	struct vt_dev dev;
	struct vt_vfio v;
	bool ok;
	size_t len2;	/* how much of BAR2 the mmap section mapped */
};

static bool find_dev(struct bdev *b, const char *name, uint16_t vendor, uint16_t device,
		     bool root_bus)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n = vt_find_devices(vendor, device, devs, VT_MAX_DEVS);

	b->name = name;
	b->ok = false;
	b->v.container = b->v.group = b->v.device = -1;
	for (int i = 0; i < n; i++) {
		if (root_bus && vt_behind_bridge(devs[i].bdf))
			continue;
		b->dev = devs[i];
		if (vt_bind(b->dev.bdf)) {
			info("%s %s: cannot bind to vfio-pci", name, b->dev.bdf);
			return false;
		}
		if (vt_vfio_open(&b->v, b->dev.bdf)) {
			info("%s %s: cannot open", name, b->dev.bdf);
			return false;
		}
		b->ok = true;
		return true;
	}
	info("%s (%04x:%04x) not found", name, vendor, device);
	return false;
}

static int cmd_set(int fd, uint16_t set, uint16_t clear)
{
	uint16_t cmd;
	int ret = vt_config_read16(fd, PCI_COMMAND, &cmd);

	if (ret)
		return ret;
	return vt_config_write16(fd, PCI_COMMAND, (uint16_t)((cmd | set) & ~clear));
}

/* ------------------------------------------------------------------------ */
/* Simple operations                                                         */

struct rw_ctx {
	int fd;
	off_t off;
	void *buf;
	size_t len;
};

static int op_pread(void *p)
{
	struct rw_ctx *c = p;

	return pread(c->fd, c->buf, c->len, c->off) == (ssize_t)c->len ? 0 : -1;
}

static int op_pwrite(void *p)
{
	struct rw_ctx *c = p;

	return pwrite(c->fd, c->buf, c->len, c->off) == (ssize_t)c->len ? 0 : -1;
}

static int op_getppid(void *p)
{
	(void)p;
	syscall(SYS_getppid);
	return 0;
}

static int op_efd_write(void *p)
{
	struct rw_ctx *c = p;
	uint64_t one = 1;

	return write(c->fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* 0. Control: a null syscall, to see how fast the machine is right now     */

static void bench_control(void)
{
	progress("control");
	rate("control.null_syscall", op_getppid, NULL, 1, "ops/s");
}

/* ------------------------------------------------------------------------ */
/* 1. Config space                                                           */

/* all: every row; else only the traced ones (no read4_hw). */
static void bench_config(struct bdev *edu, bool all)
{
	uint32_t val = 0;
	struct rw_ctx c = { .fd = edu->v.device, .buf = &val, .len = 4 };

	progress("config");
	if (!edu->ok) {
		skip("cfg.read4_virt", "no edu");
		skip("cfg.read4_hw", "no edu");
		skip("cfg.write4_virt", "no edu");
		return;
	}
	/* Vendor/device ID: virtualized by both drivers, no hardware access. */
	c.off = (off_t)(R(VFIO_PCI_CONFIG_REGION_INDEX) + 0x00);
	rate("cfg.read4_virt", op_pread, &c, 1, "ops/s");
	/* Interrupt line/pin are virtual, Min_Gnt/Max_Lat read from hardware. */
	c.off = (off_t)(R(VFIO_PCI_CONFIG_REGION_INDEX) + PCI_INTERRUPT_LINE);
	if (all)
		rate("cfg.read4_hw", op_pread, &c, 1, "ops/s");
	/* Writing back what was read: only the (virtual) line is writable. */
	if (pread(c.fd, &val, 4, c.off) != 4) {
		skip("cfg.write4_virt", "read of 0x3c failed");
		return;
	}
	rate("cfg.write4_virt", op_pwrite, &c, 1, "ops/s");
}

/* ------------------------------------------------------------------------ */
/* 2. BAR read/write                                                         */

static void bench_bar(struct bdev *edu, struct bdev *ivs)
{
	uint32_t val = 0x5a5a5a5a;
	struct rw_ctx c = { .buf = &val, .len = 4 };
	void *bulk;

	progress("bar rw");
	if (edu->ok) {
		c.fd = edu->v.device;
		c.off = (off_t)(R(0) + EDU_ID);
		rate("bar.edu_read4", op_pread, &c, 1, "ops/s");
		c.off = (off_t)(R(0) + EDU_LIVE);
		rate("bar.edu_write4", op_pwrite, &c, 1, "ops/s");
	} else {
		skip("bar.edu_read4", "no edu");
		skip("bar.edu_write4", "no edu");
	}

	if (!ivs->ok) {
		skip("bar.ram_read4", "no ivshmem");
		skip("bar.ram_write4", "no ivshmem");
		skip("bar.ram_read_1m", "no ivshmem");
		skip("bar.ram_write_1m", "no ivshmem");
		return;
	}
	c.fd = ivs->v.device;
	c.off = (off_t)(R(2) + 0x100);
	rate("bar.ram_read4", op_pread, &c, 1, "ops/s");
	rate("bar.ram_write4", op_pwrite, &c, 1, "ops/s");

	bulk = mmap(NULL, BULK_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_POPULATE, -1, 0);
	if (bulk == MAP_FAILED) {
		skip("bar.ram_read_1m", "no memory");
		skip("bar.ram_write_1m", "no memory");
		return;
	}
	memset(bulk, 0xa5, BULK_LEN);
	c.buf = bulk;
	c.len = BULK_LEN;
	c.off = (off_t)R(2);
	rate("bar.ram_write_1m", op_pwrite, &c, (double)BULK_LEN / 1e6, "MB/s");
	rate("bar.ram_read_1m", op_pread, &c, (double)BULK_LEN / 1e6, "MB/s");
	if (((uint8_t *)bulk)[BULK_LEN - 1] != 0xa5)
		info("bulk read-back mismatch: %#x", ((uint8_t *)bulk)[BULK_LEN - 1]);
	munmap(bulk, BULK_LEN);
}

/* ------------------------------------------------------------------------ */
/* 3. mmap of ivshmem BAR2                                                   */

static uint64_t touch(volatile uint8_t *p, size_t len)
{
	uint64_t sum = 0;

	for (size_t off = 0; off < len; off += PAGE)
		sum += p[off];
	return sum;
}

/* A mapping of BAR2 at an address aligned to `align` (0: anywhere). */
static void *map_bar(int fd, size_t len, size_t align)
{
	uint8_t *res, *want;
	void *p;

	if (!align)
		return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)R(2));
	res = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	want = (uint8_t *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
	p = mmap(want, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)R(2));
	if (p == MAP_FAILED) {
		munmap(res, len + align);
		return MAP_FAILED;
	}
	if (want > res)
		munmap(res, (size_t)(want - res));
	if (want + len < res + len + align)
		munmap(want + len, (size_t)(res + len + align - (want + len)));
	return p;
}

static void bench_mmap_one(struct bdev *ivs, size_t len, size_t align, const char *tag)
{
	int fd = ivs->v.device;
	double t0, k0, first, k1, again;
	char name[64];
	void *p;

	/*
	 * Wall times: one-shot kernel CPU times of a few ms are below the
	 * resolution of tick-based accounting.  What the faults cost is the
	 * first touch minus a touch of the same pages without faults (TCG
	 * refills its TLB either way).
	 */
	snprintf(name, sizeof(name), "mmap.%s_first_touch", tag);
	t0 = now();
	k0 = kcpu();
	p = map_bar(fd, len, align);
	if (p == MAP_FAILED) {
		skip(name, "mmap: %s", vt_errname(errno));
		return;
	}
	touch(p, len);
	first = now() - t0;
	k1 = kcpu() - k0;
	emit(name, first * 1e3, "ms", false);
	snprintf(name, sizeof(name), "mmap.%s_first_touch.kcpu", tag);
	emit(name, k1 * 1e3, "ms", false);

	t0 = now();
	touch(p, len);
	again = now() - t0;
	snprintf(name, sizeof(name), "mmap.%s_retouch", tag);
	emit(name, again * 1e3, "ms", false);
	snprintf(name, sizeof(name), "mmap.%s_fault_cost", tag);
	emit(name, (first > again ? first - again : 0) * 1e3, "ms", false);

	/* Memory decode off (zaps the mapping) and on, then touch it all again. */
	snprintf(name, sizeof(name), "mmap.%s_refault", tag);
	t0 = now();
	if (cmd_set(fd, 0, PCI_COMMAND_MEMORY) || cmd_set(fd, PCI_COMMAND_MEMORY, 0)) {
		skip(name, "command register: %s", vt_errname(errno));
	} else {
		double t1 = now();

		touch(p, len);
		emit(name, (now() - t0) * 1e3, "ms", false);
		snprintf(name, sizeof(name), "mmap.%s_refault_toggle", tag);
		emit(name, (t1 - t0) * 1e3, "ms", false);
	}

	t0 = now();
	munmap(p, len);
	snprintf(name, sizeof(name), "mmap.%s_munmap", tag);
	emit(name, (now() - t0) * 1e3, "ms", false);
}

/*
 * The physical limit of a first touch: the PCI core's own mmap of sysfs
 * resource2 maps the whole range in ->mmap with one io_remap_pfn_range(), so
 * the touch takes no fault.  Not a vfio-pci figure: the same in both passes.
 * Run last, on the device unbound (a BAR claimed by a driver cannot be
 * mapped through sysfs with Debian's IO_STRICT_DEVMEM) and with memory
 * decode on, set through sysfs config; the next pass binds it again.
 */
static void bench_mmap_limit(struct bdev *ivs)
{
	const char *name = "mmap.limit_first_touch";
	char path[128];
	uint16_t cmd;
	size_t len;
	double t0;
	void *p;
	int cfg, fd;

	if (!ivs->ok || !ivs->len2) {
		skip(name, "no mmappable ivshmem BAR2");
		return;
	}
	len = ivs->len2;
	if (vt_unbind(ivs->dev.bdf)) {
		skip(name, "unbind: %s", vt_errname(errno));
		return;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", ivs->dev.bdf);
	cfg = open(path, O_RDWR);
	if (cfg < 0 || pread(cfg, &cmd, 2, PCI_COMMAND) != 2) {
		skip(name, "%s: %s", path, vt_errname(errno));
		goto out_cfg;
	}
	cmd |= PCI_COMMAND_MEMORY;
	if (pwrite(cfg, &cmd, 2, PCI_COMMAND) != 2) {
		skip(name, "memory decode on: %s", vt_errname(errno));
		goto out_cfg;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource2", ivs->dev.bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		skip(name, "open %s: %s", path, vt_errname(errno));
		goto out_cfg;
	}
	t0 = now();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		skip(name, "mmap %s: %s", path, vt_errname(errno));
	} else {
		touch(p, len);
		emit(name, (now() - t0) * 1e3, "ms", false);
		t0 = now();
		munmap(p, len);
		emit("mmap.limit_munmap", (now() - t0) * 1e3, "ms", false);
	}
	close(fd);
out_cfg:
	if (cfg >= 0)
		close(cfg);
}

/* How much of BAR2 to map (-m, at most the BAR); 0 when it cannot be. */
static size_t mmap_len(struct bdev *ivs)
{
	struct vfio_region_info *ri;
	size_t len;

	if (!ivs->ok) {
		skip("mmap.any_first_touch", "no ivshmem");
		return 0;
	}
	ri = vt_region_info(ivs->v.device, 2);
	if (!ri || !(ri->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		skip("mmap.any_first_touch", "BAR2 not mmappable");
		free(ri);
		return 0;
	}
	len = mmap_mib * MIB;
	if (len > ri->size)
		len = ri->size;
	free(ri);
	return len;
}

static void bench_mmap(struct bdev *ivs)
{
	size_t len;

	progress("mmap");
	len = mmap_len(ivs);
	if (!len)
		return;
	info("mmap size %zu MiB", len / MIB);
	bench_mmap_one(ivs, len, 0, "any");
	/* Aligned to the mapping size (or 1 GiB): huge PFN mappings possible. */
	bench_mmap_one(ivs, len, len >= GIB ? GIB : 2 * MIB, "aligned");
	ivs->len2 = len;
}

/* ------------------------------------------------------------------------ */
/* 4. Interrupts on edu                                                      */

static int set_irqs(int dev, uint32_t flags, uint32_t index, uint32_t count,
		    const void *data, size_t len)
{
	char buf[sizeof(struct vfio_irq_set) + 16];
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;

	memset(buf, 0, sizeof(buf));
	s->argsz = (uint32_t)(sizeof(*s) + len);
	s->flags = flags;
	s->index = index;
	s->start = 0;
	s->count = count;
	if (len)
		memcpy(s->data, data, len);
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, s);
}

static int irq_trigger(int dev, uint32_t index, int32_t fd)
{
	return set_irqs(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index,
			1, &fd, sizeof(fd));
}

static int irq_off(int dev, uint32_t index)
{
	return set_irqs(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0,
			NULL, 0);
}

#define MAX_CPUS	8

/*
 * The line of /proc/interrupts whose name contains `name`: its IRQ number
 * (-1: none) and per-CPU counts.
 */
static int irq_counts(const char *name, unsigned long counts[MAX_CPUS])
{
	char line[512];
	int irq = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	memset(counts, 0, sizeof(*counts) * MAX_CPUS);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		long n;

		if (!strstr(line, name))
			continue;
		n = strtol(p, &end, 10);
		if (end == p || *end != ':')
			continue;
		irq = (int)n;
		p = end + 1;
		for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
			unsigned long c = strtoul(p, &end, 10);

			if (end == p)
				break;
			counts[cpu] = c;
			p = end;
		}
		break;
	}
	fclose(f);
	return irq;
}

/* Steer the interrupt to CPU 0 (unless -f) and say where it was. */
static void irq_place(const char *metric, const char *name)
{
	unsigned long counts[MAX_CPUS];
	char path[64], where[64] = "?";
	int irq = irq_counts(name, counts);

	if (irq < 0) {
		info("%s%s: %s not in /proc/interrupts", prefix, metric, name);
		return;
	}
	snprintf(path, sizeof(path), "/proc/irq/%d/effective_affinity_list", irq);
	vt_read_file(path, where, sizeof(where));
	if (free_placement) {
		info("%s%s: IRQ %d (%s) on CPU %s, left there", prefix, metric, irq, name,
		     where);
		return;
	}
	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irq);
	if (vt_sysfs_write(path, "0"))
		info("%s%s: IRQ %d (%s) on CPU %s, cannot steer it to CPU 0", prefix, metric,
		     irq, name, where);
	else
		info("%s%s: IRQ %d (%s) was on CPU %s, steered to CPU 0", prefix, metric, irq,
		     name, where);
}

/* A rate of interrupt round trips, with where the interrupts fired. */
static void irq_rate(const char *metric, const char *name, op_fn op, void *ctx)
{
	unsigned long before[MAX_CPUS], after[MAX_CPUS];
	char text[256] = "";
	size_t len = 0;

	irq_place(metric, name);
	irq_counts(name, before);
	rate(metric, op, ctx, 1, "ops/s");
	irq_counts(name, after);
	for (int cpu = 0; cpu < MAX_CPUS && len < sizeof(text) - 32; cpu++)
		if (after[cpu] != before[cpu])
			len += (size_t)snprintf(text + len, sizeof(text) - len, " CPU%d:%lu", cpu,
						after[cpu] - before[cpu]);
	info("%s%s: interrupts fired on%s; program on CPU %d", prefix, metric,
	     len ? text : " none?", sched_getcpu());
}

struct irq_ctx {
	int dev;
	volatile uint32_t *regs;	/* edu BAR0 mapping */
	int efd;			/* trigger */
	int unmask_fd;			/* -1: unmask by ioctl (INTx), -2: MSI */
};

static int wait_efd(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, IRQ_WAIT_MS) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	return read(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static int op_irq_round_trip(void *p)
{
	struct irq_ctx *c = p;
	uint64_t one = 1;

	c->regs[EDU_IRQ_RAISE / 4] = 1;
	if (wait_efd(c->efd))
		return -1;
	c->regs[EDU_IRQ_ACK / 4] = 1;
	if (c->unmask_fd == -1)
		return set_irqs(c->dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				VFIO_PCI_INTX_IRQ_INDEX, 1, NULL, 0);
	if (c->unmask_fd >= 0)
		return write(c->unmask_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
	return 0;
}

/* all: every row; else only the traced ones (no INTx unmask by eventfd). */
static void bench_irqs(struct bdev *edu, bool all)
{
	struct irq_ctx c = { .dev = edu->v.device, .unmask_fd = -2 };
	char msi[64], intx[64];
	void *regs;

	progress("interrupts");
	if (!edu->ok) {
		skip("irq.msi_round_trip", "no edu");
		return;
	}
	regs = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c.dev, (off_t)R(0));
	if (regs == MAP_FAILED) {
		skip("irq.msi_round_trip", "mmap of BAR0: %s", vt_errname(errno));
		return;
	}
	c.regs = regs;
	c.regs[EDU_IRQ_ACK / 4] = 0xffffffff;
	cmd_set(c.dev, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	c.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(msi, sizeof(msi), "vfio-msi[0](%s)", edu->dev.bdf);
	snprintf(intx, sizeof(intx), "vfio-intx(%s)", edu->dev.bdf);

	if (irq_trigger(c.dev, VFIO_PCI_MSI_IRQ_INDEX, c.efd))
		skip("irq.msi_round_trip", "MSI: %s", vt_errname(errno));
	else
		irq_rate("irq.msi_round_trip", msi, op_irq_round_trip, &c);
	irq_off(c.dev, VFIO_PCI_MSI_IRQ_INDEX);
	c.regs[EDU_IRQ_ACK / 4] = 0xffffffff;

	c.unmask_fd = -1;
	if (irq_trigger(c.dev, VFIO_PCI_INTX_IRQ_INDEX, c.efd)) {
		skip("irq.intx_round_trip_ioctl", "INTx: %s", vt_errname(errno));
		skip("irq.intx_round_trip_eventfd", "INTx: %s", vt_errname(errno));
		goto out;
	}
	irq_rate("irq.intx_round_trip_ioctl", intx, op_irq_round_trip, &c);
	if (!all) {
		irq_off(c.dev, VFIO_PCI_INTX_IRQ_INDEX);
		goto out;
	}

	c.unmask_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (set_irqs(c.dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
		     VFIO_PCI_INTX_IRQ_INDEX, 1, &c.unmask_fd, sizeof(c.unmask_fd)))
		skip("irq.intx_round_trip_eventfd", "unmask eventfd: %s", vt_errname(errno));
	else
		irq_rate("irq.intx_round_trip_eventfd", intx, op_irq_round_trip, &c);
	irq_off(c.dev, VFIO_PCI_INTX_IRQ_INDEX);
	close(c.unmask_fd);
out:
	c.regs[EDU_IRQ_ACK / 4] = 0xffffffff;
	close(c.efd);
	munmap(regs, PAGE);
}

/* ------------------------------------------------------------------------ */
/* 5. ioeventfd                                                              */

static int ioeventfd(int dev, uint64_t offset, uint32_t size, uint64_t data, int32_t fd)
{
	struct vfio_device_ioeventfd ie = {
		.argsz = sizeof(ie),
		.flags = size,
		.offset = offset,
		.data = data,
		.fd = fd,
	};

	return ioctl(dev, VFIO_DEVICE_IOEVENTFD, &ie);
}

static void bench_one_ioeventfd(const char *metric, int dev, uint64_t offset, bool check)
{
	const uint32_t data = 0x1234abcd;
	struct rw_ctx c;
	uint32_t val = 0;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (ioeventfd(dev, offset, VFIO_DEVICE_IOEVENTFD_32, data, efd)) {
		skip(metric, "VFIO_DEVICE_IOEVENTFD: %s", vt_errname(errno));
		close(efd);
		return;
	}
	c.fd = efd;
	rate(metric, op_efd_write, &c, 1, "ops/s");
	ioeventfd(dev, offset, VFIO_DEVICE_IOEVENTFD_32, data, -1);
	close(efd);
	/* edu's liveness register reads back the complement. */
	if (pread(dev, &val, 4, (off_t)offset) != 4 || val != (check ? ~data : data))
		info("%s: the register reads %#x after the ioeventfd writes", metric, val);
}

static void bench_ioeventfd(struct bdev *edu, struct bdev *ivs)
{
	progress("ioeventfd");
	if (edu->ok)
		bench_one_ioeventfd("ioeventfd.edu_write4", edu->v.device, R(0) + EDU_LIVE, true);
	else
		skip("ioeventfd.edu_write4", "no edu");
	if (ivs->ok)
		bench_one_ioeventfd("ioeventfd.ram_write4", ivs->v.device, R(2) + 0x200, false);
	else
		skip("ioeventfd.ram_write4", "no ivshmem");
}

/* ------------------------------------------------------------------------ */
/* 6. Open, close, reset                                                     */

static void bench_open_close(struct bdev *b, const char *tag)
{
	double open_ms[16] = { 0 }, close_ms[16] = { 0 }, t0;
	char name[64];
	unsigned int i, n = cycles < 16 ? cycles : 16;
	int fd;

	if (!b->ok) {
		snprintf(name, sizeof(name), "life.%s_open", tag);
		skip(name, "no %s", b->name);
		return;
	}
	close(b->v.device);
	b->v.device = -1;
	for (i = 0; i < n; i++) {
		t0 = now();
		fd = ioctl(b->v.group, VFIO_GROUP_GET_DEVICE_FD, b->dev.bdf);
		open_ms[i] = (now() - t0) * 1e3;
		if (fd < 0) {
			snprintf(name, sizeof(name), "life.%s_open", tag);
			skip(name, "VFIO_GROUP_GET_DEVICE_FD: %s", vt_errname(errno));
			b->ok = false;
			return;
		}
		t0 = now();
		close(fd);
		close_ms[i] = (now() - t0) * 1e3;
	}
	snprintf(name, sizeof(name), "life.%s_open", tag);
	emit(name, minimum(open_ms, n), "ms", false);
	snprintf(name, sizeof(name), "life.%s_close", tag);
	emit(name, minimum(close_ms, n), "ms", false);
	b->v.device = ioctl(b->v.group, VFIO_GROUP_GET_DEVICE_FD, b->dev.bdf);
	b->ok = b->v.device >= 0;
}

static void bench_reset(struct bdev *nvme)
{
	struct vt_device_info di;
	double ms[16] = { 0 }, t0;
	unsigned int i, n = cycles < 16 ? cycles : 16;

	if (!nvme->ok) {
		skip("life.nvme_reset", "no nvme");
		return;
	}
	if (vt_device_info(nvme->v.device, &di) || !(di.flags & VFIO_DEVICE_FLAGS_RESET)) {
		skip("life.nvme_reset", "no VFIO_DEVICE_FLAGS_RESET");
		return;
	}
	for (i = 0; i < n; i++) {
		t0 = now();
		if (ioctl(nvme->v.device, VFIO_DEVICE_RESET)) {
			skip("life.nvme_reset", "VFIO_DEVICE_RESET: %s", vt_errname(errno));
			return;
		}
		ms[i] = (now() - t0) * 1e3;
	}
	emit("life.nvme_reset", minimum(ms, n), "ms", false);
}

/* ------------------------------------------------------------------------ */
/* 7. The hot rows again, ours with every vfio_pci event on                  */

static bool trace_write(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	return vt_sysfs_write(path, val) == 0;
}

/* Events written since boot on every CPU: entries kept plus overwritten. */
static unsigned long trace_events(void)
{
	unsigned long total = 0;
	char path[128], line[128];

	for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
		FILE *f;

		snprintf(path, sizeof(path), TRACEFS "/per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f)) {
			unsigned long n;

			if (sscanf(line, "entries: %lu", &n) == 1 ||
			    sscanf(line, "overrun: %lu", &n) == 1)
				total += n;
		}
		fclose(f);
	}
	return total;
}

/* How many events the rows since the last call wrote (that they fire). */
static void trace_count(const char *what, unsigned long *last)
{
	unsigned long now_events = trace_events();

	info("trace.%s: %lu vfio_pci events", what, now_events - *last);
	*last = now_events;
}

/*
 * A small ring in overwrite mode (the default, set anyway): the events
 * cost what they cost when written, and the buffer never grows.  With the
 * in-tree driver there is no vfio_pci system to enable: the section is
 * skipped and bench.py compares with the in-tree figure of the plain row.
 */
static bool trace_start(void)
{
	struct stat st;

	if (stat(TRACEFS "/trace", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		info("trace: mount tracefs: %s", vt_errname(errno));
		return false;
	}
	if (stat(TRACEFS "/events/vfio_pci/enable", &st)) {
		info("trace: no vfio_pci events with this driver: section skipped");
		return false;
	}
	if (!trace_write("tracing_on", "0") || !trace_write("buffer_size_kb", TRACE_BUF_KB) ||
	    !trace_write("options/overwrite", "1") || !trace_write("trace", "") ||
	    !trace_write("events/vfio_pci/enable", "1") || !trace_write("tracing_on", "1")) {
		info("trace: cannot set up tracefs: %s", vt_errname(errno));
		trace_write("events/vfio_pci/enable", "0");
		return false;
	}
	return true;
}

static void trace_stop(void)
{
	trace_write("events/vfio_pci/enable", "0");
	trace_write("trace", "");
}

static void bench_traced(struct bdev *edu, struct bdev *ivs)
{
	uint32_t val = 0x5a5a5a5a;
	struct rw_ctx c = { .buf = &val, .len = 4 };
	unsigned long events;
	size_t len;

	progress("trace");
	if (!trace_start())
		return;
	prefix = "trace.";
	events = trace_events();
	bench_config(edu, false);
	trace_count("cfg", &events);
	if (ivs->ok) {
		c.fd = ivs->v.device;
		c.off = (off_t)(R(2) + 0x100);
		rate("bar.ram_read4", op_pread, &c, 1, "ops/s");
		rate("bar.ram_write4", op_pwrite, &c, 1, "ops/s");
		trace_count("bar", &events);
	} else {
		skip("bar.ram_read4", "no ivshmem");
	}
	len = mmap_len(ivs);
	if (len) {
		bench_mmap_one(ivs, len, 0, "any");
		trace_count("mmap", &events);
	}
	bench_irqs(edu, false);
	trace_count("irq", &events);
	if (ivs->ok) {
		bench_one_ioeventfd("ioeventfd.ram_write4", ivs->v.device, R(2) + 0x200, false);
		trace_count("ioeventfd", &events);
	}
	prefix = "";
	trace_stop();
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: vfio-bench [-o SECTIONS] [-t MS] [-m MIB] [-n N] [-f] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bdev edu, ivs, nvme;
	int opt;

	while ((opt = getopt(argc, argv, "o:t:m:n:fq")) != -1) {
		switch (opt) {
		case 'o':
			sections = optarg;
			break;
		case 't':
			budget_ms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mmap_mib = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			cycles = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'f':
			free_placement = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (!budget_ms || !mmap_mib || !cycles)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!free_placement) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(0, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			info("cannot pin to CPU 0: %s", vt_errname(errno));
	}

	memset(&edu, 0, sizeof(edu));
	memset(&ivs, 0, sizeof(ivs));
	memset(&nvme, 0, sizeof(nvme));
	edu.v.container = edu.v.group = edu.v.device = -1;
	ivs.v = nvme.v = edu.v;
	if (want("config") || want("bar") || want("irq") || want("ioeventfd") || want("life") ||
	    want("trace"))
		find_dev(&edu, "edu", 0x1234, 0x11e8, true);
	if (want("bar") || want("mmap") || want("ioeventfd") || want("trace"))
		find_dev(&ivs, "ivshmem", 0x1af4, 0x1110, false);
	if (want("life"))
		find_dev(&nvme, "nvme", 0x1b36, 0x0010, false);

	if (want("control"))
		bench_control();
	if (want("config"))
		bench_config(&edu, true);
	if (want("bar"))
		bench_bar(&edu, &ivs);
	if (want("mmap"))
		bench_mmap(&ivs);
	if (want("irq"))
		bench_irqs(&edu, true);
	if (want("ioeventfd"))
		bench_ioeventfd(&edu, &ivs);
	if (want("trace"))
		bench_traced(&edu, &ivs);
	if (want("life")) {
		bench_open_close(&edu, "edu");
		bench_open_close(&nvme, "nvme");
		bench_reset(&nvme);
	}

	vt_vfio_close(&edu.v);
	vt_vfio_close(&ivs.v);
	vt_vfio_close(&nvme.v);
	if (want("mmap"))
		bench_mmap_limit(&ivs);
	return 0;
}
