// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-device debugfs files under vfio-pci-ng/<BDF>/ (beyond mainline:
 * skipped in baseline mode), checked against known state:
 * - state on edu: open count and opener (this program) before, during and
 *   after an open; irq type, vector count and per-vector counts after
 *   three MSI interrupts; memory decode and access as the command register
 *   is written; power state; reset_works against sysfs reset_method and
 *   needs_reset after close; the dev_set (itself; both edus behind the
 *   bridge share one);
 * - config_map on edu: built at open only; ID read-only, command register
 *   to the hardware, BARs and interrupt line virtual, pin read-only, one
 *   character per byte of config space;
 * - resets on nvme: VFIO_DEVICE_RESET appends scope ioctl, the first method
 *   of sysfs reset_method, a duration, result 0; power_state follows PMCSR;
 * - the directory goes with an unbind and comes back with the bind; the
 *   files are read-only.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_CAP_ID_PM		0x01
#define PCI_PM_CTRL		4
#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define WAIT_MS		10000

static char buf[65536];
static char comm[32];

/* The value of "key: value" in buf (static copy, "" when absent). */
static const char *val(const char *key)
{
	static char out[256];
	char k[64];
	const char *p = buf;

	out[0] = '\0';
	snprintf(k, sizeof(k), "%s: ", key);
	while (p && *p) {
		if (!strncmp(p, k, strlen(k))) {
			const char *v = p + strlen(k), *nl = strchr(v, '\n');

			snprintf(out, sizeof(out), "%.*s", (int)(nl ? nl - v : (long)strlen(v)), v);
			break;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return out;
}

static bool check_val(const char *key, const char *want)
{
	const char *got = val(key);

	return vt_check(!strcmp(got, want), "%s: '%s', want '%s'", key, got, want);
}

static bool state(const char *bdf)
{
	return vt_check(vt_debugfs_read(bdf, "state", buf, sizeof(buf)) > 0, "read %s/state", bdf);
}

static bool has_reset(const char *bdf, char *first, size_t len)
{
	char m[128] = "";
	char *sp;

	if (vt_sysfs_read(bdf, "reset_method", m, sizeof(m)) <= 0)
		return false;
	sp = strchr(m, ' ');
	if (sp)
		*sp = '\0';
	snprintf(first, len, "%s", m);
	return m[0] != '\0';
}

/* ------------------------------------------------------------------------ */

static void test_state_edu(const char *bdf)
{
	char want[128], first[64];
	bool reset = has_reset(bdf, first, sizeof(first));
	int efd = vt_efd_new();
	uint16_t cmd = 0;
	struct vt_vfio v;

	vt_begin("state of edu %s: opener, interrupts, decode, power, reset flags", bdf);
	if (!state(bdf))
		goto out;
	check_val("device", bdf);
	check_val("open_count", "0");
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (state(bdf)) {
		check_val("open_count", "1");
		snprintf(want, sizeof(want), "pid %d comm %s", getpid(), comm);
		check_val("opener", want);
		check_val("irq_type", "none");
		check_val("memory_decode", "on");
		check_val("memory_access", "yes");
		check_val("power_state", "D0");
		check_val("low_power_feature", "no");
		check_val("reset_works", reset ? "yes" : "no");
		vt_check(strstr(val("dev_set"), bdf) != NULL, "dev_set '%s' lacks %s",
			 val("dev_set"), bdf);
	}
	/* MSI is a memory write: bus master on. */
	if (vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd), "read command"))
		vt_config_write16(v.device, PCI_COMMAND, cmd | PCI_COMMAND_MASTER);
	if (vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_MSI_IRQ_INDEX, efd), "enable MSI")) {
		for (int i = 0; i < 3; i++) {
			vt_region_write32(v.device, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_RAISE, 1);
			vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "interrupt %d not delivered", i);
			vt_region_write32(v.device, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_ACK,
					  0xffffffff);
		}
		if (state(bdf)) {
			check_val("irq_type", "msi");
			check_val("irq_vectors", "1");
			check_val("irq_count[0]", "3");
		}
		vt_irq_disable(v.device, VFIO_PCI_MSI_IRQ_INDEX);
		if (state(bdf))
			check_val("irq_type", "none");
	}
	if (vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd), "read command")) {
		vt_config_write16(v.device, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
		if (state(bdf)) {
			check_val("memory_decode", "off");
			check_val("memory_access", "no");
		}
		vt_config_write16(v.device, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
		if (state(bdf)) {
			check_val("memory_decode", "on");
			check_val("memory_access", "yes");
		}
	}
	vt_vfio_close(&v);
	if (state(bdf)) {
		check_val("open_count", "0");
		snprintf(want, sizeof(want), "pid %d comm %s", getpid(), comm);
		check_val("opener", want);	/* the last one */
		check_val("memory_access", "no");
		/* A function reset at close clears it; edu on the root bus has none. */
		if (!vt_behind_bridge(bdf))
			check_val("needs_reset", reset ? "no" : "yes");
	}
out:
	close(efd);
	vt_end();
}

static void test_config_map(const char *bdf)
{
	unsigned int bytes = 0, off = 0, want_size;
	char line_kind[4096 + 1];
	struct vt_vfio v;
	long size;

	vt_begin("config_map of edu %s: per byte virtual, hardware or read-only", bdf);
	if (vt_check(vt_debugfs_read(bdf, "config_map", buf, sizeof(buf)) > 0, "read config_map"))
		vt_check(strstr(buf, "not open") != NULL, "closed device: '%s'", buf);
	size = vt_sysfs_size(bdf, "config");
	want_size = size > 0 ? (unsigned int)size : 256;
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (vt_check(vt_debugfs_read(bdf, "config_map", buf, sizeof(buf)) > 0, "read config_map")) {
		/* Lines "ooo: xxxxxxxx xxxxxxxx ...", comments start with '#'. */
		for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
			unsigned int o;
			char *q;

			if (*p == '#' || *p == '\n')
				continue;
			o = strtoul(p, &q, 16);
			if (!vt_check(*q == ':' && o == off, "line at %#x: '%.40s'", off, p))
				break;
			for (q++; *q && *q != '\n'; q++) {
				if (*q == ' ')
					continue;
				if (!vt_check(strchr("vhr", *q), "byte %#x: '%c'", off, *q))
					goto done;
				if (off < sizeof(line_kind) - 1)
					line_kind[off] = *q;
				off++;
			}
		}
done:
		bytes = off;
		vt_check_eq(bytes, want_size, "bytes in the map");
		if (bytes >= 0x40) {
			vt_check_eq(line_kind[0x00], 'r', "vendor ID (0x00)");
			vt_check_eq(line_kind[0x02], 'r', "device ID (0x02)");
			vt_check_eq(line_kind[0x04], 'h', "command low byte (0x04)");
			vt_check_eq(line_kind[0x06], 'r', "status (0x06)");
			vt_check_eq(line_kind[0x08], 'r', "revision (0x08)");
			vt_check_eq(line_kind[0x10], 'v', "BAR0 (0x10)");
			vt_check_eq(line_kind[0x30], 'v', "ROM BAR (0x30)");
			vt_check_eq(line_kind[0x3c], 'v', "interrupt line (0x3c)");
			vt_check_eq(line_kind[0x3d], 'r', "interrupt pin (0x3d)");
		}
	}
	vt_vfio_close(&v);
out:
	vt_end();
}

static void test_devset_bridge(const struct vt_dev *edu, int n)
{
	const char *a, *b;
	char dev_set[256];

	if (!vt_bridge_pair(edu, n, &a, &b)) {
		vt_skip("no two edus behind a bridge (bridge topology)", "dev_set of a bus");
		return;
	}
	vt_begin("dev_set: the two edus behind the bridge (%s, %s) share one", a, b);
	if (vt_check_ret(vt_bind(a), "bind %s", a) && vt_check_ret(vt_bind(b), "bind %s", b)) {
		if (state(a)) {
			snprintf(dev_set, sizeof(dev_set), "%s", val("dev_set"));
			vt_check(strstr(dev_set, a) && strstr(dev_set, b),
				 "dev_set of %s: '%s'", a, dev_set);
		}
		if (state(b))
			vt_check(strstr(val("dev_set"), a) && strstr(val("dev_set"), b),
				 "dev_set of %s: '%s'", b, val("dev_set"));
	}
	vt_end();
}

static void test_resets_power(const char *bdf)
{
	char first[64] = "", want[128];
	unsigned int before = 0, after = 0;
	uint8_t cfg[256];
	unsigned int pm;
	uint16_t pmcsr;
	struct vt_vfio v;
	char *last;

	vt_begin("resets and power state of nvme %s", bdf);
	if (!vt_check(has_reset(bdf, first, sizeof(first)), "nvme has no reset_method"))
		goto out;
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (vt_check(vt_debugfs_read(bdf, "resets", buf, sizeof(buf)) > 0, "read resets"))
		sscanf(buf, "# %u resets", &before);
	if (vt_check_ok(ioctl(v.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET") &&
	    vt_check(vt_debugfs_read(bdf, "resets", buf, sizeof(buf)) > 0, "read resets")) {
		sscanf(buf, "# %u resets", &after);
		vt_check_eq(after, before + 1, "reset count");
		buf[strlen(buf) - 1] = '\0';
		last = strrchr(buf, '\n');
		last = last ? last + 1 : buf;
		snprintf(want, sizeof(want), "scope=ioctl method=%s ", first);
		vt_check(strstr(last, want) != NULL, "last reset '%s' lacks '%s'", last, want);
		vt_check(strstr(last, " ret=0") != NULL, "last reset '%s': result", last);
		vt_check(strstr(last, " ns=") && strtoull(strstr(last, " ns=") + 4, NULL, 10) > 0,
			 "last reset '%s': no duration", last);
	}
	pm = vt_config_read(v.device, cfg, sizeof(cfg), 0) == sizeof(cfg) ?
	     vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_PM) : 0;
	if (vt_check(pm, "no PM capability") &&
	    vt_check_ret(vt_config_read16(v.device, pm + PCI_PM_CTRL, &pmcsr), "PMCSR")) {
		vt_config_write16(v.device, pm + PCI_PM_CTRL, (pmcsr & ~3) | 3);
		if (state(bdf)) {
			check_val("power_state", "D3hot");
			check_val("memory_access", "no");
		}
		vt_config_write16(v.device, pm + PCI_PM_CTRL, pmcsr & ~3);
		if (state(bdf))
			check_val("power_state", "D0");
	}
	vt_vfio_close(&v);
out:
	vt_end();
}

static void test_lifetime(const char *bdf)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	vt_begin("the directory of %s goes with unbind, comes with bind; files read-only", bdf);
	snprintf(path, sizeof(path), VT_DEBUGFS "/%s/state", bdf);
	if (vt_check(stat(path, &st) == 0, "stat %s", path))
		vt_check_eq(st.st_mode & 0777, 0400, "mode of state");
	/* Root passes the mode check: the write itself must fail. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	vt_check(fd < 0 || write(fd, "0", 1) < 0, "a write to state succeeded");
	if (fd >= 0)
		close(fd);
	vt_check_ret(vt_release(bdf), "unbind");
	snprintf(path, sizeof(path), VT_DEBUGFS "/%s", bdf);
	vt_check(stat(path, &st) < 0 && errno == ENOENT, "%s still there after unbind", path);
	vt_check_ret(vt_bind(bdf), "bind");
	vt_check(stat(path, &st) == 0, "%s missing after bind", path);
	vt_end();
}

int main(void)
{
	struct vt_dev edu[VT_MAX_DEVS], nvme[2];
	int nedu, nnvme;

	if (vt_baseline())
		vt_skip_all("extension: the vfio-pci-ng debugfs files are beyond mainline");
	nedu = vt_find_devices(0x1234, 0x11e8, edu, VT_MAX_DEVS);
	if (nedu < 1)
		vt_skip_all("no edu device");
	nnvme = vt_find_devices(0x1b36, 0x0010, nvme, 2);
	snprintf(comm, sizeof(comm), "%.15s", program_invocation_short_name);
	vt_plan(5);
	if (access(VT_DEBUGFS, R_OK))
		vt_bail("no %s", VT_DEBUGFS);
	if (vt_bind(edu[0].bdf))
		vt_bail("cannot bind %s", edu[0].bdf);

	test_state_edu(edu[0].bdf);
	test_config_map(edu[0].bdf);
	test_devset_bridge(edu, nedu);
	if (nnvme > 0 && vt_bind(nvme[0].bdf) == 0)
		test_resets_power(nvme[0].bdf);
	else
		vt_skip("no nvme bound to vfio-pci", "resets and power state");
	test_lifetime(edu[0].bdf);
	return vt_finish();
}
