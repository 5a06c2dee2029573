// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-demo: a small VFIO client that shows what the driver gives userspace.
 *
 *   vfio-demo [vendor:device | domain:bus:dev.fn]     (default 1234:11e8, edu)
 *
 * It binds the device to vfio-pci, opens it through a type1v2 container and
 * prints the device info, every region and interrupt, the config space as
 * seen through the config region, a BAR0 read through pread() and mmap(),
 * and (on edu) an MSI raised by the device and delivered to an eventfd.
 *
 * Steps the driver does not support yet are reported as such and skipped;
 * the exit status is non-zero only when something answered wrongly or the
 * device could not be opened at all.
 */
#include "vfio_test.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_ID		0x00	/* identification, 0x010000ed */
#define EDU_IRQ_STATUS	0x24
#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define EDU_ID_VALUE	0x010000edu

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MASTER	0x4

static int problems;	/* wrong answers seen */

static void section(const char *title)
{
	printf("\n== %s ==\n", title);
}

static void unsupported(const char *step, int err)
{
	printf("  %s: not supported by this driver yet: %s (%s)\n", step,
	       vt_errname(err), strerror(err));
}

static void wrong(const char *fmt, ...) VT_PRINTF(1, 2);
static void wrong(const char *fmt, ...)
{
	va_list ap;

	problems++;
	printf("  WRONG: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ------------------------------------------------------------------------ */
/* Choosing and opening the device                                           */

static int pick_device(int argc, char **argv, struct vt_dev *dev)
{
	unsigned int vendor = EDU_VENDOR, device = EDU_DEVICE;
	struct vt_dev found[VT_MAX_DEVS];
	int n;

	if (argc > 1 && strchr(argv[1], '.')) {		/* an address */
		snprintf(dev->bdf, sizeof(dev->bdf), "%s", argv[1]);
		dev->name = "pci";
		return 0;
	}
	if (argc > 1 && sscanf(argv[1], "%x:%x", &vendor, &device) != 2) {
		fprintf(stderr, "usage: %s [vendor:device | domain:bus:dev.fn]\n", argv[0]);
		return -EINVAL;
	}
	n = vt_find_devices((uint16_t)vendor, (uint16_t)device, found, VT_MAX_DEVS);
	if (n <= 0) {
		fprintf(stderr, "vfio-demo: no PCI device %04x:%04x\n", vendor, device);
		return -ENODEV;
	}
	*dev = found[0];
	if (n > 1)
		printf("(%d devices %04x:%04x, using the first)\n", n, vendor, device);
	return 0;
}

static void print_header(const struct vt_dev *d, const struct vt_vfio *v)
{
	char version[64] = "", drv[VT_NAME_LEN] = "";

	vt_read_file("/sys/module/" VT_MODULE "/version", version, sizeof(version));
	vt_driver(d->bdf, drv, sizeof(drv));
	printf("vfio-demo: %04x:%04x at %s (%s), IOMMU group %d\n", d->vendor, d->device,
	       d->bdf, d->name, v->group_id);
	printf("driver '%s', module " VT_MODULE " version %s\n", drv,
	       version[0] ? version : "(none: the in-tree module?)");
}

/* ------------------------------------------------------------------------ */
/* Info                                                                       */

static void print_flags(uint32_t flags, const char *const names[], int count)
{
	for (int i = 0; i < count; i++)
		if (flags & (1u << i))
			printf(" %s", names[i]);
}

static void show_device_info(int fd)
{
	static const char *const names[] = { "RESET", "PCI", "PLATFORM", "AMBA", "CCW",
					     "AP", "FSL_MC", "CAPS" };
	struct vt_device_info info;
	int ret;

	section("Device");
	ret = vt_device_info(fd, &info);
	if (ret) {
		unsupported("VFIO_DEVICE_GET_INFO", -ret);
		return;
	}
	printf("  flags %#x:", info.flags);
	print_flags(info.flags, names, 8);
	printf("\n  %u regions, %u irqs\n", info.num_regions, info.num_irqs);
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI))
		wrong("a vfio-pci device without FLAGS_PCI");
}

static const char *region_name(uint32_t index)
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3", "BAR4",
					     "BAR5", "ROM", "config", "VGA" };

	return index < 9 ? names[index] : "device-specific";
}

static void show_region_caps(const struct vfio_region_info *r)
{
	const struct vfio_info_cap_header *cap;
	uint32_t off = r->cap_offset;

	for (int ttl = 16; off && ttl; ttl--) {
		if (off + sizeof(*cap) > r->argsz)
			break;
		cap = (const void *)((const uint8_t *)r + off);
		printf("      capability id %u version %u%s\n", cap->id, cap->version,
		       cap->id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE ?
		       " (MSIX_MAPPABLE: the MSI-X table's BAR may be mmapped)" : "");
		off = cap->next;
	}
}

static void show_regions(int fd)
{
	static const char *const names[] = { "READ", "WRITE", "MMAP", "CAPS" };

	section("Regions");
	for (uint32_t i = 0; i < 9; i++) {
		struct vfio_region_info *r = vt_region_info(fd, i);

		if (!r) {
			printf("  %u %-7s %s\n", i, region_name(i),
			       errno == EINVAL ? "not present (EINVAL)" : vt_errname(errno));
			continue;
		}
		printf("  %u %-7s size 0x%-9llx offset 0x%012llx flags %#x", i, region_name(i),
		       (unsigned long long)r->size, (unsigned long long)r->offset, r->flags);
		print_flags(r->flags, names, 4);
		putchar('\n');
		if (r->flags & VFIO_REGION_INFO_FLAG_CAPS)
			show_region_caps(r);
		if (r->offset != VT_REGION_OFFSET(i))
			wrong("region %u offset %#llx, expected index << 40", i,
			      (unsigned long long)r->offset);
		free(r);
	}
}

static void show_irqs(int fd)
{
	static const char *const idx[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };
	static const char *const names[] = { "EVENTFD", "MASKABLE", "AUTOMASKED",
					     "NORESIZE" };

	section("Interrupts");
	for (uint32_t i = 0; i < 5; i++) {
		struct vfio_irq_info irq;
		int ret = vt_irq_info(fd, i, &irq);

		if (ret) {
			printf("  %u %-6s %s\n", i, idx[i],
			       ret == -EINVAL ? "not present (EINVAL)" : vt_errname(-ret));
			continue;
		}
		printf("  %u %-6s count %-3u flags %#x", i, idx[i], irq.count, irq.flags);
		print_flags(irq.flags, names, 4);
		putchar('\n');
	}
}

/* ------------------------------------------------------------------------ */
/* Config space                                                               */

static const char *cap_name(uint8_t id)
{
	switch (id) {
	case 0x01: return "power management";
	case 0x03: return "VPD";
	case 0x05: return "MSI";
	case 0x09: return "vendor specific";
	case 0x0d: return "bridge subsystem ID";
	case 0x10: return "PCI Express";
	case 0x11: return "MSI-X";
	case 0x12: return "SATA";
	case 0x13: return "advanced features";
	default: return "?";
	}
}

static const char *ext_cap_name(uint16_t id)
{
	switch (id) {
	case 0x0001: return "AER";
	case 0x0002: return "virtual channel";
	case 0x0003: return "device serial number";
	case 0x000b: return "vendor specific";
	case 0x000d: return "ACS";
	case 0x000e: return "ARI";
	case 0x0010: return "SR-IOV";
	case 0x0018: return "LTR";
	case 0x001e: return "L1 PM substates";
	default: return "?";
	}
}

static void hexdump(const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		bool zero = true;

		for (size_t i = 0; i < 16; i++)
			zero &= buf[off + i] == 0;
		if (zero && off >= 0x40)	/* keep the dump short */
			continue;
		printf("  %03zx:", off);
		for (size_t i = 0; i < 16; i++)
			printf(" %02x", buf[off + i]);
		putchar('\n');
	}
	printf("  (all-zero lines above 0x40 omitted)\n");
}

static void decode_bars(const uint8_t *cfg)
{
	for (int i = 0; i < 6; i++) {
		uint32_t bar = vt_le32(cfg + 0x10 + 4 * i);

		if (bar & 1) {
			printf("  BAR%d %08x  I/O at %#x\n", i, bar, bar & ~3u);
		} else if (((bar >> 1) & 3) == 2 && i < 5) {
			uint64_t addr = (bar & ~0xfull) |
					(uint64_t)vt_le32(cfg + 0x14 + 4 * i) << 32;

			printf("  BAR%d %08x  64-bit memory at %#llx%s (BAR%d holds the upper half)\n",
			       i, bar, (unsigned long long)addr,
			       bar & 8 ? ", prefetchable" : "", i + 1);
			i++;
		} else if (bar) {
			printf("  BAR%d %08x  32-bit memory at %#x%s\n", i, bar, bar & ~0xfu,
			       bar & 8 ? ", prefetchable" : "");
		} else {
			printf("  BAR%d %08x  unused\n", i, bar);
		}
	}
	printf("  ROM  %08x\n", vt_le32(cfg + 0x30));
}

static void decode_caps(const uint8_t *cfg, size_t len)
{
	unsigned int pos;

	if (!(vt_le16(cfg + 0x06) & 0x10)) {
		printf("  no capability list\n");
		return;
	}
	pos = cfg[0x34] & ~3u;
	for (int ttl = 48; pos >= 0x40 && pos < 0x100 && ttl; ttl--) {
		printf("  cap %#04x at %#04x: %s\n", cfg[pos], pos, cap_name(cfg[pos]));
		pos = cfg[pos + 1] & ~3u;
	}
	if (len <= 0x100)
		return;
	pos = 0x100;
	for (int ttl = 480; pos >= 0x100 && pos + 4 <= len && ttl; ttl--) {
		uint32_t hdr = vt_le32(cfg + pos);

		if (!hdr || hdr == 0xffffffff)
			break;
		printf("  extended cap %#06x v%u at %#05x: %s\n", hdr & 0xffff,
		       (hdr >> 16) & 0xf, pos, ext_cap_name(hdr & 0xffff));
		pos = (hdr >> 20) & ~3u;
	}
}

/* Returns true when config space could be read. */
static bool show_config(const struct vt_dev *d, int fd)
{
	struct vfio_region_info *r = vt_region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX);
	size_t len = r && r->size <= 4096 ? (size_t)r->size : 256;
	uint8_t cfg[4096];
	ssize_t n;

	free(r);
	section("Config space through the config region");
	n = vt_config_read(fd, cfg, len, 0);
	if (n < 0) {
		unsupported("read of the config region", errno);
		return false;
	}
	if ((size_t)n != len)
		printf("  short read: %zd of %zu bytes\n", n, len);
	if (n < 0x40) {
		wrong("config space read returned only %zd bytes", n);
		return false;
	}
	hexdump(cfg, (size_t)n & ~15ul);
	printf("  vendor %04x device %04x revision %02x class %06x header type %02x\n",
	       vt_le16(cfg), vt_le16(cfg + 2), cfg[8], vt_le32(cfg + 8) >> 8, cfg[0x0e]);
	printf("  command %04x status %04x subsystem %04x:%04x interrupt pin %u line %u\n",
	       vt_le16(cfg + 4), vt_le16(cfg + 6), vt_le16(cfg + 0x2c), vt_le16(cfg + 0x2e),
	       cfg[0x3d], cfg[0x3c]);
	decode_bars(cfg);
	decode_caps(cfg, (size_t)n);
	if (d->vendor && (vt_le16(cfg) != d->vendor || vt_le16(cfg + 2) != d->device))
		wrong("config space says %04x:%04x, sysfs says %04x:%04x", vt_le16(cfg),
		      vt_le16(cfg + 2), d->vendor, d->device);
	return true;
}

/* ------------------------------------------------------------------------ */
/* BAR0                                                                       */

static sigjmp_buf bus_error;

static void on_sigbus(int sig)
{
	siglongjmp(bus_error, sig);
}

/* Read a 32-bit register through a mapping, surviving SIGBUS/SIGSEGV. */
static int mmio_read32(volatile uint32_t *p, uint32_t *val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old_bus, old_segv;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(bus_error, 1);
	if (!sig)
		*val = *p;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

static void check_id(const struct vt_dev *d, const char *how, uint32_t val)
{
	bool edu = d->vendor == EDU_VENDOR && d->device == EDU_DEVICE;

	printf("  %-5s BAR0+0x0 = %#010x", how, val);
	if (!edu) {
		putchar('\n');
		return;
	}
	if (val == EDU_ID_VALUE) {
		printf("  (edu identification: version %u.%u)\n", val >> 24, (val >> 16) & 0xff);
	} else {
		putchar('\n');
		wrong("edu identification register reads %#x, expected %#x", val, EDU_ID_VALUE);
	}
}

static void show_bar0(const struct vt_dev *d, int fd)
{
	struct vfio_region_info *r = vt_region_info(fd, VFIO_PCI_BAR0_REGION_INDEX);
	uint32_t val;
	void *map;
	int ret;

	section("BAR0");
	if (!r || !r->size || !(r->flags & VFIO_REGION_INFO_FLAG_READ)) {
		printf("  BAR0 is not a readable region; nothing to show\n");
		free(r);
		return;
	}
	ret = vt_region_read32(fd, 0, EDU_ID, &val);
	if (ret)
		unsupported("pread of BAR0", -ret);
	else
		check_id(d, "pread", val);

	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		printf("  mmap: region not mmappable\n");
		free(r);
		return;
	}
	map = mmap(NULL, (size_t)r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)r->offset);
	if (map == MAP_FAILED) {
		unsupported("mmap of BAR0", errno);
	} else {
		int sig = mmio_read32(map, &val);

		if (sig)
			printf("  mmap: access raised %s: fault handling not supported yet\n",
			       sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
		else
			check_id(d, "mmap", val);
		munmap(map, (size_t)r->size);
	}
	free(r);
}

/* ------------------------------------------------------------------------ */
/* An interrupt: edu raises MSI vector 0 on a write to 0x60                   */

static int set_msi_trigger(int fd, int efd)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (void *)buf;
	int32_t fds = efd;

	memset(buf, 0, sizeof(buf));
	set->argsz = sizeof(buf);
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	if (efd >= 0) {
		set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 1;
		memcpy(set->data, &fds, sizeof(fds));
	} else {	/* disable */
		set->argsz = sizeof(*set);
		set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 0;
	}
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
}

static int set_bus_master(int fd, bool on)
{
	uint16_t cmd;
	int ret = vt_config_read16(fd, PCI_COMMAND, &cmd);

	if (ret)
		return ret;
	cmd = on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER;
	return vt_config_write16(fd, PCI_COMMAND, cmd);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void show_interrupt(const struct vt_dev *d, int fd)
{
	struct pollfd p;
	uint64_t count;
	uint32_t status;
	double t;
	int efd, ret;

	section("Interrupt (MSI)");
	if (d->vendor != EDU_VENDOR || d->device != EDU_DEVICE) {
		printf("  only shown on edu, which raises an MSI on request\n");
		return;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		printf("  eventfd: %s\n", strerror(errno));
		return;
	}
	ret = set_msi_trigger(fd, efd);
	if (ret) {
		unsupported("VFIO_DEVICE_SET_IRQS (MSI, eventfd)", -ret);
		goto out;
	}
	printf("  MSI vector 0 -> eventfd %d\n", efd);
	ret = set_bus_master(fd, true);
	if (ret) {
		unsupported("setting Bus Master through the config region", -ret);
		goto disable;
	}
	printf("  Bus Master set in the command register\n");
	ret = vt_region_write32(fd, 0, EDU_IRQ_RAISE, 1);
	if (ret) {
		unsupported("write to BAR0 (interrupt raise register)", -ret);
		goto master_off;
	}
	t = now_ms();
	p = (struct pollfd){ .fd = efd, .events = POLLIN };
	ret = poll(&p, 1, 2000);
	if (ret == 1 && read(efd, &count, sizeof(count)) == sizeof(count)) {
		printf("  edu raised the interrupt (0x60 <- 1): eventfd fired after %.1f ms, count %llu\n",
		       now_ms() - t, (unsigned long long)count);
	} else {
		wrong("no interrupt on the eventfd within 2 s");
	}
	if (!vt_region_read32(fd, 0, EDU_IRQ_STATUS, &status))
		printf("  interrupt status register %#x\n", status);
	if (vt_region_write32(fd, 0, EDU_IRQ_ACK, 1) == 0)
		printf("  acknowledged (0x64 <- 1)\n");
master_off:
	set_bus_master(fd, false);
disable:
	ret = set_msi_trigger(fd, -1);
	if (ret)
		printf("  disabling MSI: %s\n", vt_errname(-ret));
out:
	close(efd);
}

int main(int argc, char **argv)
{
	struct vt_dev dev = { .name = "pci" };
	struct vt_vfio v;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pick_device(argc, argv, &dev))
		return 2;
	if (!dev.vendor) {	/* given by address: fill in the identity */
		char buf[16];

		if (vt_sysfs_read(dev.bdf, "vendor", buf, sizeof(buf)) > 0)
			dev.vendor = (uint16_t)strtoul(buf, NULL, 16);
		if (vt_sysfs_read(dev.bdf, "device", buf, sizeof(buf)) > 0)
			dev.device = (uint16_t)strtoul(buf, NULL, 16);
	}
	ret = vt_bind(dev.bdf);
	if (ret) {
		fprintf(stderr, "vfio-demo: cannot bind %s to " VT_DRIVER ": %s\n", dev.bdf,
			vt_errname(-ret));
		return 1;
	}
	ret = vt_vfio_open(&v, dev.bdf);
	if (ret) {
		fprintf(stderr, "vfio-demo: cannot open %s through VFIO: %s\n", dev.bdf,
			vt_errname(-ret));
		return 1;
	}
	print_header(&dev, &v);
	show_device_info(v.device);
	show_regions(v.device);
	show_irqs(v.device);
	show_config(&dev, v.device);
	show_bar0(&dev, v.device);
	show_interrupt(&dev, v.device);
	vt_vfio_close(&v);

	printf("\n%s\n", problems ? "vfio-demo: some answers were WRONG (see above)" :
	       "vfio-demo: done");
	return problems ? 1 : 0;
}
