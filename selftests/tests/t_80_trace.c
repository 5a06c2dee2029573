// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio_pci tracepoints (beyond mainline: skipped in baseline mode),
 * read through tracefs, each in a scenario that causes it, with its fields:
 * - open and close on edu: pid and comm of this program, open count;
 * - device ioctls: command, argument summary (argsz, flags, index), result,
 *   a duration; a failing one with its errno; a feature ioctl;
 * - config writes: the vendor ID (dropped), BAR0 (virtual), the command
 *   register (hardware), with offset, size and value;
 * - BAR0 mapping: a fault maps pages; memory decode off zaps (range, pages)
 *   and the next fault is a SIGBUS;
 * - SET_IRQS of MSI and INTx (index, start, count, action, data type), and
 *   an edu interrupt delivered on MSI vector 0, then on INTx;
 * - resets on nvme: at open, by VFIO_DEVICE_RESET (method: the first of
 *   sysfs reset_method), at close; power: PMCSR to D3hot and back;
 * - REQ: an unbind of the open edu; ERR: an error injected by the host on
 *   vrng (as t_47_err_req).
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define TRACEFS		"/sys/kernel/tracing"
#define EVENTS		TRACEFS "/events/vfio_pci"
#define TRACE_BUF	(4 << 20)

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_COMMAND_SERR	0x100
#define PCI_CAP_ID_PM		0x01
#define PCI_PM_CTRL		4

#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define WAIT_MS		10000

static char *tbuf;
static char comm[32];

/* ------------------------------------------------------------------------ */
/* tracefs                                                                    */

static bool tracefs_ready(void)
{
	struct stat st;

	if (stat(TRACEFS "/trace", &st) == 0)
		return true;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY)
		vt_diag("mount tracefs: %s", vt_errname(errno));
	return stat(TRACEFS "/trace", &st) == 0;
}

static bool trace_write(const char *file, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	return vt_sysfs_write(path, val) == 0;
}

/* Clear the buffer. */
static void trace_clear(void)
{
	trace_write("trace", "");
}

/* The whole trace buffer (non-consuming) in tbuf. */
static const char *trace_read(void)
{
	int fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	tbuf[0] = '\0';
	if (fd < 0)
		return tbuf;
	while (n < TRACE_BUF - 1 && (r = read(fd, tbuf + n, TRACE_BUF - 1 - n)) > 0)
		n += r;
	tbuf[n] = '\0';
	close(fd);
	return tbuf;
}

/*
 * The last line of event ev for device bdf that contains every string of
 * the NULL-terminated list; copied to line.  False (with the event's lines
 * of that device as diagnostics) when there is none.
 */
static bool trace_find_v(const char *ev, const char *bdf, char *line, size_t len,
			 const char *const *want)
{
	char evtag[64], devtag[64];
	const char *p = trace_read();
	bool found = false;
	int shown = 0;

	snprintf(evtag, sizeof(evtag), " %s: ", ev);
	snprintf(devtag, sizeof(devtag), "dev=%s ", bdf);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char cur[512];
		bool ok;

		snprintf(cur, sizeof(cur), "%.*s", (int)(l < 511 ? l : 511), p);
		p += l + (nl ? 1 : 0);
		if (!strstr(cur, evtag) || !strstr(cur, devtag))
			continue;
		ok = true;
		for (int i = 0; want[i]; i++)
			ok &= strstr(cur, want[i]) != NULL;
		if (ok) {
			snprintf(line, len, "%s", cur);
			found = true;
		} else if (shown++ < 6) {
			vt_diag("  other %s line: %s", ev, cur);
		}
	}
	return found;
}

#define trace_find(ev, bdf, line, ...) \
	trace_find_v(ev, bdf, line, sizeof(line), (const char *const[]){ __VA_ARGS__, NULL })

/* Check that an event line with all the given strings exists. */
#define check_event(ev, bdf, ...) ({						\
	char _l[512];								\
	bool _f = trace_find(ev, bdf, _l, __VA_ARGS__);				\
	vt_check(_f, "no %s line for %s with: %s", ev, bdf,			\
		 #__VA_ARGS__);							\
	_f;									\
})

/* The unsigned number after "key=" in line (0 when absent). */
static unsigned long long field(const char *line, const char *key)
{
	char k[32];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(line, k);
	return p ? strtoull(p + strlen(k), NULL, 0) : 0;
}

/* ------------------------------------------------------------------------ */

static void fmt(char *buf, size_t len, const char *f, unsigned long long v)
{
	snprintf(buf, len, f, v);
}

static void test_open_close(const char *bdf)
{
	struct vt_vfio v;
	char pid[32], c[48], line[512];

	vt_begin("open and close: pid, comm, open count (edu %s)", bdf);
	fmt(pid, sizeof(pid), "pid=%llu ", (unsigned long long)getpid());
	snprintf(c, sizeof(c), "comm=%s ", comm);
	trace_clear();
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	check_event("vfio_pci_open", bdf, pid, c, "count=1 ", "ret=0");
	vt_vfio_close(&v);
	snprintf(c, sizeof(c), "comm=%s", comm);
	if (vt_check(trace_find("vfio_pci_close", bdf, line, pid, c), "no close line"))
		vt_diag("%s", line);
out:
	vt_end();
}

static void test_ioctls(int dev, const char *bdf)
{
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_MSI_IRQ_INDEX };
	struct vt_device_info info;
	struct {
		struct vfio_device_feature hdr;
	} feat = { { .argsz = sizeof(feat),
		     .flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY } };
	char a[64], b[64], line[512];

	vt_begin("device ioctls: command, argument summary, result, duration");
	trace_clear();
	if (vt_check_ret(vt_device_info(dev, &info), "GET_INFO")) {
		fmt(a, sizeof(a), "argsz=%llu ", info.argsz);
		fmt(b, sizeof(b), "flags=0x%llx ", info.flags);
		if (vt_check(trace_find("vfio_pci_ioctl", bdf, line, "cmd=GET_INFO ", a, b,
					"index=9 ", "ret=0 "), "GET_INFO line"))
			vt_check(field(line, "ns") > 0, "GET_INFO: no duration: %s", line);
	}
	vt_check_ok(ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &irq), "GET_IRQ_INFO MSI");
	check_event("vfio_pci_ioctl", bdf, "cmd=GET_IRQ_INFO ", "argsz=16 ", "index=1 ", "ret=0 ");
	irq.index = 77;
	vt_check_errno(ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL, "GET_IRQ_INFO 77");
	check_event("vfio_pci_ioctl", bdf, "cmd=GET_IRQ_INFO ", "index=77 ", "ret=-22 ");
	vt_check_ok(ioctl(dev, VFIO_DEVICE_FEATURE, &feat), "FEATURE probe LOW_POWER_ENTRY");
	fmt(a, sizeof(a), "index=%llu ", VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	check_event("vfio_pci_ioctl", bdf, "cmd=FEATURE ", a, "ret=0 ");
	vt_end();
}

static void test_config(int dev, const char *bdf)
{
	uint16_t cmd = 0, vid = 0x5a5a;
	uint32_t bar = 0, ones = 0xffffffff;
	char c[48];

	vt_begin("config writes: dropped, virtual, hardware (offset, size, value)");
	trace_clear();
	vt_check(vt_config_write(dev, &vid, 2, PCI_VENDOR_ID) == 2, "write vendor ID");
	check_event("vfio_pci_config_write", bdf, "off=0x0 ", "size=2 ", "val=0x5a5a ",
		    "to=dropped ", "ret=0");
	vt_config_read32(dev, PCI_BASE_ADDRESS_0, &bar);
	vt_check(vt_config_write(dev, &ones, 4, PCI_BASE_ADDRESS_0) == 4, "size BAR0");
	check_event("vfio_pci_config_write", bdf, "off=0x10 ", "size=4 ", "val=0xffffffff ",
		    "to=virtual ", "ret=0");
	vt_config_write(dev, &bar, 4, PCI_BASE_ADDRESS_0);
	if (vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "read command")) {
		vt_check_ret(vt_config_write16(dev, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY),
			     "write command");
		snprintf(c, sizeof(c), "val=0x%x ", cmd | PCI_COMMAND_MEMORY);
		check_event("vfio_pci_config_write", bdf, "off=0x4 ", "size=2 ", c,
			    "to=hardware ", "ret=0");
	}
	vt_end();
}

static void test_mmap(int dev, const char *bdf)
{
	volatile uint32_t *map;
	uint16_t cmd = 0;
	uint32_t val;
	size_t len = 0;
	char line[512];

	vt_begin("BAR0 mapping: fault (range, pages), zap on decode off, SIGBUS fault");
	trace_clear();
	map = vt_map_region(dev, VFIO_PCI_BAR0_REGION_INDEX, &len);
	if (!vt_check(map != NULL, "mmap BAR0"))
		goto out;
	vt_check_eq(vt_map_load32(map, &val), 0, "load through the mapping");
	if (vt_check(trace_find("vfio_pci_mmap_fault", bdf, line, "bar=0 ", "result=mapped"),
		     "no mapped fault")) {
		vt_diag("%s", line);
		vt_check(field(line, "pages") >= 1, "fault mapped no pages");
		vt_check(field(line, "addr") >= (unsigned long)map &&
			 field(line, "addr") < (unsigned long)map + len,
			 "fault address outside the mapping");
	}
	vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "read command");
	vt_check_ret(vt_config_write16(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY),
		     "memory decode off");
	if (vt_check(trace_find("vfio_pci_zap", bdf, line, "range=0x0-0x60000000000 "),
		     "no zap")) {
		vt_diag("%s", line);
		vt_check(field(line, "pages") >= len / 4096, "zap pages < BAR0 pages");
	}
	vt_check_eq(vt_map_load32(map, &val), SIGBUS, "load with decode off");
	check_event("vfio_pci_mmap_fault", bdf, "bar=0 ", "pages=0 ", "result=sigbus");
	vt_check_ret(vt_config_write16(dev, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY),
		     "memory decode on");
	munmap((void *)map, len);
out:
	vt_end();
}

static void test_irqs(int dev, const char *bdf)
{
	int efd = vt_efd_new();
	uint32_t one = 1;
	uint16_t cmd;

	vt_begin("SET_IRQS (index, start, count, action), MSI and INTx delivery per vector");
	/* MSI is a memory write: bus master on. */
	if (vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "read command"))
		vt_check_ret(vt_config_write16(dev, PCI_COMMAND, cmd | PCI_COMMAND_MASTER),
			     "bus master on");
	trace_clear();
	if (!vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_MSI_IRQ_INDEX, efd), "enable MSI"))
		goto out;
	check_event("vfio_pci_set_irqs", bdf, "index=1 ", "start=0 ", "count=1 ",
		    "action=trigger ", "data=eventfd ", "ret=0");
	vt_check_ret(vt_region_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_RAISE, one),
		     "raise");
	vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "MSI eventfd did not fire");
	vt_region_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_ACK, 0xffffffff);
	check_event("vfio_pci_irq", bdf, "index=msi ", "vector=0");
	vt_check_ok(vt_irq_disable(dev, VFIO_PCI_MSI_IRQ_INDEX), "disable MSI");
	check_event("vfio_pci_set_irqs", bdf, "index=1 ", "count=0 ", "action=trigger ",
		    "data=none ", "ret=0");

	/* INTx: automasked at the interrupt, unmasked by the user. */
	trace_clear();
	if (!vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_INTX_IRQ_INDEX, efd), "enable INTx"))
		goto out;
	vt_efd_take(efd);
	vt_check_ret(vt_region_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_RAISE, one),
		     "raise");
	vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "INTx eventfd did not fire");
	vt_region_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_ACK, 0xffffffff);
	check_event("vfio_pci_irq", bdf, "index=intx ", "vector=0");
	vt_check_ok(vt_irq_action_none(dev, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX),
		    "unmask INTx");
	check_event("vfio_pci_set_irqs", bdf, "index=0 ", "count=1 ", "action=unmask ",
		    "data=none ", "ret=0");
	vt_check_ok(vt_irq_disable(dev, VFIO_PCI_INTX_IRQ_INDEX), "disable INTx");
out:
	close(efd);
	vt_end();
}

/* REQ: unbind while open. */
struct unbinder {
	const char *bdf;
	int ret;
	volatile bool done;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;

	u->ret = vt_sysfs_write("/sys/bus/pci/drivers/" VT_DRIVER "/unbind", u->bdf);
	u->done = true;
	return NULL;
}

static void test_req(const char *bdf)
{
	struct unbinder u = { .bdf = bdf };
	int efd = vt_efd_new();
	struct vt_vfio v;
	pthread_t t;

	vt_begin("REQ: an unbind while open (signal, eventfd)");
	trace_clear();
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (!vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_REQ_IRQ_INDEX, efd), "REQ eventfd") ||
	    !vt_check(pthread_create(&t, NULL, unbind_thread, &u) == 0, "pthread_create")) {
		vt_vfio_close(&v);
		goto out;
	}
	vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "REQ eventfd did not fire");
	check_event("vfio_pci_signal", bdf, "signal=req ", "count=0 ", "eventfd=signalled");
	vt_vfio_close(&v);
	pthread_join(t, NULL);
	vt_check_err(u.ret, 0, "unbind");
	vt_check_ret(vt_bind(bdf), "bind again");
out:
	close(efd);
	vt_end();
}

/* ERR: an uncorrectable error injected by the host into vrng. */
static void test_err(const char *bdf)
{
	char port[VT_BDF_LEN], resp[512];
	uint16_t cmd = 0, port_cmd = 0, c;
	int efd = vt_efd_new(), ret;
	bool port_set = false;
	struct vt_vfio v;

	vt_begin("ERR: an injected AER error (signal, eventfd) on vrng %s", bdf);
	trace_clear();
	if (!vt_check(vt_parent_bdf(bdf, port, sizeof(port)), "no root port") ||
	    !vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (vt_check_ret(vt_config_read16(v.device, PCI_COMMAND, &cmd), "read command"))
		vt_config_write16(v.device, PCI_COMMAND, cmd | PCI_COMMAND_SERR);
	if (!vt_sysfs_config_rw(port, PCI_COMMAND, &port_cmd, 2, false)) {
		c = port_cmd | PCI_COMMAND_SERR;
		port_set = !vt_sysfs_config_rw(port, PCI_COMMAND, &c, 2, true);
	}
	if (vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_ERR_IRQ_INDEX, efd), "ERR eventfd")) {
		ret = vt_host_cmd("pcie_aer_inject_error vrng COMP_ABORT", resp, sizeof(resp));
		if (vt_check(ret >= 0, "host command: %s", vt_errname(-ret))) {
			vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "ERR eventfd did not fire");
			check_event("vfio_pci_signal", bdf, "signal=err ", "eventfd=signalled");
		}
		vt_irq_set_fd(v.device, VFIO_PCI_ERR_IRQ_INDEX, -1);
	}
	if (port_set)
		vt_sysfs_config_rw(port, PCI_COMMAND, &port_cmd, 2, true);
	vt_vfio_close(&v);
out:
	close(efd);
	vt_end();
}

/* Resets and power on nvme (PCIe FLR, PM capability). */
static void test_reset_power(const char *bdf)
{
	char method[64] = "", want[80], line[512];
	uint8_t cfg[256];
	unsigned int pm;
	uint16_t pmcsr;
	struct vt_vfio v;
	char *sp;

	vt_begin("resets (scope, method, duration, result) and power transitions (nvme %s)", bdf);
	trace_clear();
	if (vt_sysfs_read(bdf, "reset_method", method, sizeof(method)) > 0) {
		sp = strchr(method, ' ');
		if (sp)
			*sp = '\0';
	}
	snprintf(want, sizeof(want), "method=%s ", method[0] ? method : "none");
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	check_event("vfio_pci_reset", bdf, "scope=open ", want, "ret=0");
	if (vt_check_ok(ioctl(v.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET") &&
	    vt_check(trace_find("vfio_pci_reset", bdf, line, "scope=ioctl ", want, "ret=0"),
		     "no ioctl reset line with %s", want))
		vt_check(field(line, "ns") > 0, "no duration: %s", line);

	pm = vt_config_read(v.device, cfg, sizeof(cfg), 0) == sizeof(cfg) ?
	     vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_PM) : 0;
	if (vt_check(pm, "no PM capability") &&
	    vt_check_ret(vt_config_read16(v.device, pm + PCI_PM_CTRL, &pmcsr), "PMCSR")) {
		vt_check_ret(vt_config_write16(v.device, pm + PCI_PM_CTRL, (pmcsr & ~3) | 3),
			     "PMCSR D3hot");
		check_event("vfio_pci_power", bdf, "from=D0 ", "to=D3hot ", "ret=0");
		vt_check_ret(vt_config_write16(v.device, pm + PCI_PM_CTRL, pmcsr & ~3),
			     "PMCSR D0");
		check_event("vfio_pci_power", bdf, "from=D3hot ", "to=D0 ", "ret=0");
	}
	vt_vfio_close(&v);
	check_event("vfio_pci_reset", bdf, "scope=close ", want, "ret=0");
out:
	vt_end();
}

int main(void)
{
	struct vt_dev edu[VT_MAX_DEVS], nvme[2], vrng[2];
	int nedu, nnvme, nvrng;
	const char *bdf;
	struct vt_vfio v;

	if (vt_baseline())
		vt_skip_all("extension: the vfio_pci tracepoints are beyond mainline");
	nedu = vt_find_devices(0x1234, 0x11e8, edu, VT_MAX_DEVS);
	if (nedu < 1)
		vt_skip_all("no edu device");
	nnvme = vt_find_devices(0x1b36, 0x0010, nvme, 2);
	nvrng = vt_find_devices(0x1af4, 0x1044, vrng, 2);
	bdf = edu[0].bdf;
	vt_plan(8);

	tbuf = malloc(TRACE_BUF);
	snprintf(comm, sizeof(comm), "%.15s", program_invocation_short_name);
	if (!tbuf || !tracefs_ready())
		vt_bail("no tracefs at " TRACEFS);
	if (access(EVENTS "/enable", W_OK))
		vt_bail("no vfio_pci events in tracefs (%s)", EVENTS);
	trace_write("buffer_size_kb", "2048");
	if (!trace_write("events/vfio_pci/enable", "1"))
		vt_bail("cannot enable the vfio_pci events");
	trace_write("tracing_on", "1");
	if (vt_bind(bdf))
		vt_bail("cannot bind %s", bdf);

	test_open_close(bdf);
	if (vt_vfio_open(&v, bdf) == 0) {
		test_ioctls(v.device, bdf);
		test_config(v.device, bdf);
		vt_fault_handler_install();
		test_mmap(v.device, bdf);
		test_irqs(v.device, bdf);
		vt_vfio_close(&v);
	} else {
		for (int i = 0; i < 4; i++)
			vt_ok(false, "open %s failed", bdf);
	}
	test_req(bdf);

	if (nnvme > 0 && vt_bind(nvme[0].bdf) == 0)
		test_reset_power(nvme[0].bdf);
	else
		vt_skip("no nvme bound to vfio-pci", "resets and power");
	if (nvrng > 0 && vt_bind(vrng[0].bdf) == 0)
		test_err(vrng[0].bdf);
	else
		vt_skip("no vrng (aer topology) bound to vfio-pci", "ERR");

	trace_write("events/vfio_pci/enable", "0");
	trace_clear();
	return vt_finish();
}
