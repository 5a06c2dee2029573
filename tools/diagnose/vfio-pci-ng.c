// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng diagnose [BDF...]: what a user needs to know before a PCI
 * device can be passed through with vfio-pci, from sysfs, config space and
 * /proc (run as root for config space beyond 64 bytes and the holders).
 *
 * Per device: the IOMMU and its group (every member and its driver: the
 * group is viable when none is bound to a host driver), ACS on the bridges
 * above it, the reset methods and what a bus reset would also hit, the
 * interrupt modes, power state and D3cold, BAR sizes and whether each can
 * be mmapped, the ROM, the driver (ours, the in-tree vfio-pci or another)
 * and who holds the device open.  Every problem is a "PROBLEM:" line
 * followed by a "fix:" line.  Without BDFs: every device bound to
 * vfio-pci.  Exit status: 0 no problem, 1 problems, 2 usage or no device.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYS_PCI		"/sys/bus/pci/devices"
#define PAGE		4096ULL

static int problems;

static void problem(const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(const char *fix, const char *fmt, ...)
{
	va_list ap;

	printf("  PROBLEM: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n    fix: %s\n", fix);
	problems++;
}

/* "dddd:bb:dd.f", not a port service device ("dddd:bb:dd.f:pcie001"). */
static bool is_bdf(const char *name)
{
	unsigned int d, b, s, f;
	int n = 0;

	return sscanf(name, "%4x:%2x:%2x.%1x%n", &d, &b, &s, &f, &n) == 4 &&
	       n == 12 && !name[n];
}

static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	buf[0] = '\0';
	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

static int dev_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SYS_PCI "/%s/%s", bdf, attr);
	return read_text(path, buf, len);
}

/* The basename of a sysfs link of the device ("" when absent). */
static void dev_link(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX], *base;
	ssize_t n;

	snprintf(path, sizeof(path), SYS_PCI "/%s/%s", bdf, attr);
	buf[0] = '\0';
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	n = strlen(base) < len ? (ssize_t)strlen(base) : (ssize_t)len - 1;
	memcpy(buf, base, n);
	buf[n] = '\0';
}

/* Config space as far as we may read it; returns the bytes read. */
static int read_config(const char *bdf, uint8_t *cfg, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	memset(cfg, 0, len);
	snprintf(path, sizeof(path), SYS_PCI "/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, cfg, len, 0);
	close(fd);
	return n < 0 ? 0 : (int)n;
}

static unsigned int le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static unsigned int find_cap(const uint8_t *cfg, int len, unsigned int id)
{
	unsigned int pos, n = 0;

	if (len < 64 || !(le16(cfg + 6) & 0x10))
		return 0;
	for (pos = cfg[0x34] & ~3u; pos >= 0x40 && pos + 2 <= (unsigned int)len && n < 48;
	     pos = cfg[pos + 1] & ~3u, n++)
		if (cfg[pos] == id)
			return pos;
	return 0;
}

static unsigned int find_ext_cap(const uint8_t *cfg, int len, unsigned int id)
{
	unsigned int pos = 0x100, n = 0;

	while (pos >= 0x100 && pos + 4 <= (unsigned int)len && n++ < 400) {
		uint32_t h = le32(cfg + pos);

		if (!h || h == 0xffffffff)
			return 0;
		if ((h & 0xffff) == id)
			return pos;
		pos = (h >> 20) & 0xffc;
	}
	return 0;
}

static const char *human(unsigned long long size, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (size >= 1024 && !(size % 1024) && u < 4) {
		size /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu %s", size, unit[u]);
	return buf;
}

/* ------------------------------------------------------------------------ */

static void check_iommu(const char *bdf, char *group, size_t len)
{
	char buf[64];
	DIR *d;
	struct dirent *e;
	int units = 0;

	dev_link(bdf, "iommu_group", group, len);
	d = opendir("/sys/class/iommu");
	if (d) {
		while ((e = readdir(d)))
			units += e->d_name[0] != '.';
		closedir(d);
	}
	if (read_text("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", buf,
		      sizeof(buf)) > 0 && buf[0] == 'Y')
		printf("  iommu: vfio no-IOMMU mode is on (no DMA isolation)\n");
	if (!group[0]) {
		printf("  iommu: off (no IOMMU group)\n");
		problem("enable the IOMMU: intel_iommu=on (Intel) or amd_iommu=on (AMD) on the kernel command line, and VT-d/AMD-Vi in the firmware",
			"the device has no IOMMU group");
		return;
	}
	printf("  iommu: on (%d IOMMU unit%s), group %s\n", units, units == 1 ? "" : "s", group);
}

/* Drivers that leave a group viable: vfio's, and those managing DMA themselves. */
static bool viable_driver(const char *drv)
{
	return !drv[0] || !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub") ||
	       !strcmp(drv, "pcieport") || !strncmp(drv, "vfio", 4);
}

static void check_group(const char *bdf, const char *group)
{
	char path[PATH_MAX], drv[64], fix[1024];
	struct dirent *e;
	DIR *d;

	if (!group[0])
		return;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/devices", group);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		dev_link(e->d_name, "driver", drv, sizeof(drv));
		printf("  group member: %s driver %s%s\n", e->d_name, drv[0] ? drv : "(none)",
		       strcmp(e->d_name, bdf) ? "" : " (this device)");
		if (!viable_driver(drv)) {
			snprintf(fix, sizeof(fix),
				 "echo %s > /sys/bus/pci/drivers/%s/unbind (or bind it to vfio-pci: driverctl set-override %s vfio-pci)",
				 e->d_name, drv, e->d_name);
			problem(fix, "group %s not viable: %s is bound to the host driver %s",
				group, e->d_name, drv);
		}
	}
	closedir(d);
}

/* The bridges above the device, from its sysfs path, nearest first. */
static int upstream_bridges(const char *bdf, char (*out)[32], int max)
{
	char path[PATH_MAX], real[PATH_MAX], *p;
	int n = 0;

	snprintf(path, sizeof(path), SYS_PCI "/%s", bdf);
	if (!realpath(path, real))
		return 0;
	while ((p = strrchr(real, '/'))) {
		*p = '\0';
		p = strrchr(real, '/');
		if (!p || !strncmp(p + 1, "pci", 3) || n >= max)
			break;
		snprintf(out[n++], 32, "%s", p + 1);
	}
	return n;
}

static void check_acs(const char *bdf)
{
	char bridges[16][32], fix[1024];
	uint8_t cfg[4096];
	int n = upstream_bridges(bdf, bridges, 16);

	if (!n) {
		printf("  acs: on a root bus (isolation is the root complex's)\n");
		return;
	}
	for (int i = 0; i < n; i++) {
		int len = read_config(bridges[i], cfg, sizeof(cfg));
		unsigned int exp = find_cap(cfg, len, 0x10), acs, ctrl;

		if (!exp) {
			printf("  acs: %s is a conventional PCI bridge: everything below it shares a group\n",
			       bridges[i]);
			continue;
		}
		if (len <= 256) {
			printf("  acs: %s: extended config space unreadable (run as root)\n",
			       bridges[i]);
			continue;
		}
		acs = find_ext_cap(cfg, len, 0x0d);
		if (!acs) {
			printf("  acs: %s has no ACS capability\n", bridges[i]);
			snprintf(fix, sizeof(fix),
				 "move the device to a slot whose port has ACS, or accept that the devices below %s share its group",
				 bridges[i]);
			problem(fix, "no ACS on %s: peer-to-peer below it is not isolated",
				bridges[i]);
			continue;
		}
		ctrl = le16(cfg + acs + 6);
		printf("  acs: %s ctrl 0x%02x (SV %s, RR %s, CR %s, UF %s)\n", bridges[i], ctrl,
		       ctrl & 1 ? "on" : "off", ctrl & 4 ? "on" : "off", ctrl & 8 ? "on" : "off",
		       ctrl & 16 ? "on" : "off");
	}
}

static void check_reset(const char *bdf)
{
	char methods[256], bridges[1][32], path[PATH_MAX], others[1024] = "";
	struct dirent *e;
	DIR *d;

	dev_attr(bdf, "reset_method", methods, sizeof(methods));
	printf("  reset: %s\n", methods[0] ? methods : "none");
	if (upstream_bridges(bdf, bridges, 1) == 1) {
		snprintf(path, sizeof(path), SYS_PCI "/%s", bridges[0]);
		d = opendir(path);
		while (d && (e = readdir(d))) {
			if (!is_bdf(e->d_name) || !strcmp(e->d_name, bdf))
				continue;
			strncat(others, " ", sizeof(others) - strlen(others) - 1);
			strncat(others, e->d_name, sizeof(others) - strlen(others) - 1);
		}
		if (d)
			closedir(d);
		printf("  bus reset (behind %s) also resets:%s\n", bridges[0],
		       others[0] ? others : " nothing else");
	} else {
		printf("  bus reset: not possible on a root bus\n");
	}
	if (!methods[0])
		problem("none for this device in this slot: a device behind a bridge can be reset by the bus reset of its dev_set (bind every device below the bridge to vfio-pci)",
			"no reset method: the next user gets the device in the state the last one left it");
}

static void check_irqs(const uint8_t *cfg, int len)
{
	unsigned int msi = find_cap(cfg, len, 0x05), msix = find_cap(cfg, len, 0x11);

	printf("  interrupts: intx %s", len > 0x3d && cfg[0x3d] ? "yes" : "no");
	if (msi)
		printf(", msi %u vector(s)", 1u << ((le16(cfg + msi + 2) >> 1) & 7));
	if (msix)
		printf(", msi-x %u vector(s)", (le16(cfg + msix + 2) & 0x7ff) + 1);
	printf("\n");
	if (!(len > 0x3d && cfg[0x3d]) && !msi && !msix)
		printf("  interrupts: none (polling only)\n");
}

static void check_power(const char *bdf)
{
	char state[32], d3cold[16], rt[32];

	dev_attr(bdf, "power_state", state, sizeof(state));
	dev_attr(bdf, "d3cold_allowed", d3cold, sizeof(d3cold));
	dev_attr(bdf, "power/runtime_status", rt, sizeof(rt));
	printf("  power: %s, d3cold_allowed %s, runtime %s\n", state[0] ? state : "?",
	       d3cold[0] ? d3cold : "?", rt[0] ? rt : "?");
	if (!strcmp(state, "D3cold") || !strcmp(state, "error"))
		problem("check the slot power (/sys/bus/pci/slots) and the platform; echo 1 > /sys/bus/pci/rescan",
			"the device is in %s and its config space may not answer", state);
}

static void check_bars(const char *bdf)
{
	char path[PATH_MAX], line[256], size[32];
	unsigned long long start, end, flags;
	FILE *f;
	int i = 0;

	snprintf(path, sizeof(path), SYS_PCI "/%s/resource", bdf);
	f = fopen(path, "re");
	if (!f)
		return;
	while (i < 7 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) == 3 && end > start) {
			unsigned long long len = end - start + 1;
			bool mem = flags & 0x200, mmap = mem && (len >= PAGE || !(start % PAGE));

			if (i < 6)
				printf("  bar%d: %s %s%s, mmap %s\n", i, mem ? "mem" : "io",
				       human(len, size, sizeof(size)),
				       flags & 0x00100000 ? " 64-bit" : "",
				       mmap ? "yes" : mem ? "no (sub-page, not page aligned)" :
				       "no (I/O: read/write only)");
			else
				printf("  rom: %s\n", human(len, size, sizeof(size)));
		} else if (i == 6) {
			printf("  rom: none\n");
		}
		i++;
	}
	fclose(f);
}

/* The ROM's 0x55aa signature, when nobody holds the device (it enables the ROM BAR). */
static void check_rom(const char *bdf, bool held)
{
	char path[PATH_MAX];
	uint8_t sig[2];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYS_PCI "/%s/rom", bdf);
	if (access(path, F_OK))
		return;
	if (held) {
		printf("  rom: not read (the device is in use)\n");
		return;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("  rom: unreadable (%s)\n", strerror(errno));
		return;
	}
	n = write(fd, "1", 1);
	n = n == 1 ? pread(fd, sig, 2, 0) : -1;
	if (write(fd, "0", 1) != 1)
		n = -1;
	close(fd);
	if (n == 2 && sig[0] == 0x55 && sig[1] == 0xaa) {
		printf("  rom: valid (0x55aa signature)\n");
	} else {
		printf("  rom: invalid\n");
		problem("give the VM a ROM file (QEMU: -device vfio-pci,...,romfile=<file>) or none (rombar=0)",
			"the ROM BAR reads no 0x55aa signature");
	}
}

/* Processes with the group's or the device's vfio file open. */
static bool check_holders(const char *bdf, const char *group)
{
	char gpath[64] = "", cdev[64] = "", dpath[64] = "", buf[512];
	struct dirent *p, *f;
	bool held = false;
	DIR *proc, *fds;

	if (group[0])
		snprintf(gpath, sizeof(gpath), "/dev/vfio/%s", group);
	snprintf(buf, sizeof(buf), SYS_PCI "/%s/vfio-dev", bdf);
	fds = opendir(buf);
	while (fds && (f = readdir(fds)))
		if (!strncmp(f->d_name, "vfio", 4))
			snprintf(cdev, sizeof(cdev), "%.60s", f->d_name);
	if (fds)
		closedir(fds);
	if (cdev[0])
		snprintf(dpath, sizeof(dpath), "/dev/vfio/devices/%s", cdev);

	proc = opendir("/proc");
	while (proc && (p = readdir(proc))) {
		char dir[64], link[PATH_MAX], target[PATH_MAX], comm[64];
		ssize_t n;

		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(dir, sizeof(dir), "/proc/%.20s/fd", p->d_name);
		fds = opendir(dir);
		while (fds && (f = readdir(fds))) {
			snprintf(link, sizeof(link), "%s/%s", dir, f->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if ((!gpath[0] || strcmp(target, gpath)) && (!dpath[0] || strcmp(target, dpath)))
				continue;
			snprintf(link, sizeof(link), "/proc/%.20s/comm", p->d_name);
			read_text(link, comm, sizeof(comm));
			printf("  held: pid %s (%s) has %s open\n", p->d_name, comm, target);
			held = true;
			break;
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	if (!held)
		printf("  held: nobody has the group or device file open\n");
	return held;
}

static void check_driver(const char *bdf)
{
	char drv[64], over[64], version[64], state[4096], path[PATH_MAX];

	dev_link(bdf, "driver", drv, sizeof(drv));
	dev_attr(bdf, "driver_override", over, sizeof(over));
	if (!strcmp(over, "(null)"))
		over[0] = '\0';
	if (!strcmp(drv, "vfio-pci")) {
		if (read_text("/sys/module/vfio_pci/version", version, sizeof(version)) > 0)
			printf("  driver: vfio-pci (vfio-pci-ng %s)\n", version);
		else
			printf("  driver: vfio-pci (in-tree)\n");
	} else {
		printf("  driver: %s\n", drv[0] ? drv : "(none)");
		problem("driverctl set-override <BDF> vfio-pci (or: echo vfio-pci > driver_override; echo <BDF> > /sys/bus/pci/drivers_probe)",
			"not bound to vfio-pci%s", over[0] ? " (driver_override is set)" : "");
	}
	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio-pci-ng/%s/state", bdf);
	if (read_text(path, state, sizeof(state)) > 0) {
		char *p = strstr(state, "open_count: "), *o = strstr(state, "opener: ");

		if (p && o)
			printf("  vfio-pci-ng: open_count %d, last opener %.*s\n", atoi(p + 12),
			       (int)strcspn(o + 8, "\n"), o + 8);
		if (strstr(state, "needs_reset: yes"))
			problem("close every device of its dev_set so that a bus reset can run, or rebind the device",
				"needs_reset: the last close could not reset the function");
	}
}

static void diagnose(const char *bdf)
{
	char vendor[16], device[16], class[16], group[32];
	uint8_t cfg[4096];
	int len;
	bool held;

	dev_attr(bdf, "vendor", vendor, sizeof(vendor));
	dev_attr(bdf, "device", device, sizeof(device));
	dev_attr(bdf, "class", class, sizeof(class));
	printf("%s [%s:%s] class %s\n", bdf, vendor + 2, device + 2, class + 2);
	len = read_config(bdf, cfg, sizeof(cfg));
	if (len >= 0x0f && (cfg[0x0e] & 0x7f) != 0)
		problem("assign the devices below the bridge, not the bridge",
			"header type %u: only normal functions (type 0) can be assigned",
			cfg[0x0e] & 0x7f);
	check_iommu(bdf, group, sizeof(group));
	check_group(bdf, group);
	check_acs(bdf);
	check_reset(bdf);
	check_irqs(cfg, len);
	check_power(bdf);
	check_bars(bdf);
	check_driver(bdf);
	held = check_holders(bdf, group);
	check_rom(bdf, held);
}

static int usage(void)
{
	fprintf(stderr, "usage: vfio-pci-ng diagnose [BDF...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (argc < 2 || strcmp(argv[1], "diagnose"))
		return usage();
	for (int i = 2; i < argc; i++) {
		char bdf[32];

		/* Accept "00:01.0" for domain 0. */
		snprintf(bdf, sizeof(bdf), "%s%s", strchr(argv[i], ':') == strrchr(argv[i], ':') ?
			 "0000:" : "", argv[i]);
		snprintf(path, sizeof(path), SYS_PCI "/%s", bdf);
		if (access(path, F_OK)) {
			fprintf(stderr, "vfio-pci-ng: no PCI device %s\n", argv[i]);
			return 2;
		}
		diagnose(bdf);
		n++;
	}
	if (argc == 2) {
		d = opendir("/sys/bus/pci/drivers/vfio-pci");
		while (d && (e = readdir(d))) {
			if (!is_bdf(e->d_name))
				continue;
			diagnose(e->d_name);
			n++;
		}
		if (d)
			closedir(d);
		if (!n) {
			fprintf(stderr, "vfio-pci-ng: no device bound to vfio-pci; name one\n");
			return 2;
		}
	}
	printf("%d problem%s\n", problems, problems == 1 ? "" : "s");
	return problems ? 1 : 0;
}
