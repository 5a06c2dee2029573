// SPDX-License-Identifier: GPL-2.0-only
/*
 * Power management.
 *
 * - Idle D3hot: a device bound to vfio-pci and not open runtime-suspends;
 *   with a PM capability (nvme, e1000e) that is D3hot in sysfs
 *   power_state, without one (edu) it stays D0.  Open wakes it to D0, the
 *   last close lets it sleep again.  disable_idle_d3 is a read-only module
 *   parameter (latched per device at bind, so not changed here).
 * - VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: the open device suspends (D3hot),
 *   its mappings fault with SIGBUS; read/write on the device fd wake it for
 *   the access (it goes back to sleep after), mappings stay off until
 *   LOW_POWER_EXIT.  A second entry fails with EINVAL.
 * - LOW_POWER_ENTRY_WITH_WAKEUP: the first wake-up (a pread, any device
 *   ioctl) signals the eventfd and ends the low power state by itself.
 * - Feature flag rules (PROBE, GET refused, argsz, bad eventfds).
 * - Closing the device while in low power, and D3hot set by the user
 *   through the PM capability (BAR access EIO, mappings SIGBUS, config
 *   space still readable, D0 again by PMCSR).
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_CAP_ID_PM		0x01
#define PCI_PM_CTRL		4
#define PCI_PM_CTRL_STATE_MASK	0x0003

#define NVME_VS			0x08
#define EDU_ID			0x00
#define STATE_WAIT_MS		3000

/* ------------------------------------------------------------------------ */
/* helpers                                                                    */

static int read_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	int ret = vt_sysfs_read(bdf, attr, buf, len);

	if (ret < 0)
		snprintf(buf, len, "(%s)", vt_errname(-ret));
	return ret;
}

/* attr reads want now and still after `ms` (nothing changes it back). */
static bool stays_attr(const char *bdf, const char *attr, const char *want, int ms)
{
	char buf[64];

	usleep((useconds_t)ms * 1000);
	read_attr(bdf, attr, buf, sizeof(buf));
	if (strcmp(buf, want) == 0)
		return true;
	vt_diag("%s: %s is %s %d ms later, want %s", bdf, attr, buf, ms, want);
	return false;
}

struct feature {
	struct vfio_device_feature hdr;
	int32_t data[4];
};

/* VFIO_DEVICE_FEATURE with `datalen` payload bytes (0..16). */
static int feature(int dev, uint32_t flags, const void *data, size_t datalen)
{
	struct feature f;

	memset(&f, 0, sizeof(f));
	f.hdr.argsz = (uint32_t)(sizeof(f.hdr) + datalen);
	f.hdr.flags = flags;
	if (datalen)
		memcpy(f.data, data, datalen);
	return ioctl(dev, VFIO_DEVICE_FEATURE, &f);
}

#define SET(id)		(VFIO_DEVICE_FEATURE_SET | (id))
#define ENTRY		VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY
#define ENTRY_WAKE	VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP
#define EXIT		VFIO_DEVICE_FEATURE_LOW_POWER_EXIT

static int entry_wake(int dev, int32_t efd)
{
	struct vfio_device_low_power_entry_with_wakeup e = { .wakeup_eventfd = efd };

	return feature(dev, SET(ENTRY_WAKE), &e, sizeof(e));
}

static uint64_t efd_count(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* The device under test: an open nvme/e1000e with BAR0 mapped. */
struct dut {
	const struct vt_dev *d;
	struct vt_vfio v;
	volatile uint32_t *map;
	size_t map_len;
	uint32_t reg;		/* offset of a harmless register */
	uint32_t value;		/* what it reads in D0 */
	const char *sleep;	/* power_state when suspended */
};

static bool dut_open(struct dut *t)
{
	uint16_t cmd = 0;

	t->map = NULL;
	if (!vt_check_ret(vt_vfio_open(&t->v, t->d->bdf), "open %s", t->d->bdf))
		return false;
	vt_config_read16(t->v.device, PCI_COMMAND, &cmd);
	vt_config_write16(t->v.device, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
	t->map = vt_map_region(t->v.device, 0, &t->map_len);
	vt_check(t->map != NULL, "BAR0 mapping");
	vt_check_ret(vt_region_read32(t->v.device, 0, t->reg, &t->value), "pread BAR0 %#x", t->reg);
	return true;
}

static void dut_close(struct dut *t)
{
	if (t->map)
		munmap((void *)t->map, t->map_len);
	t->map = NULL;
	vt_vfio_close(&t->v);
}

/* The mapping works (true) or faults (false); a value read must be right. */
static bool map_works(struct dut *t)
{
	uint32_t val = 0;
	int sig;

	if (!t->map)
		return false;
	sig = vt_map_load32(t->map + t->reg / 4, &val);
	if (sig) {
		vt_check(sig == SIGBUS, "mapping faulted with %s, want SIGBUS", vt_sig_name(sig));
		return false;
	}
	vt_check_eq(val, t->value, "BAR0 %#x through the mapping", t->reg);
	return true;
}

/* ------------------------------------------------------------------------ */
/* idle D3                                                                    */

static void test_idle(const struct vt_dev *d, bool has_pm)
{
	const char *sleep = has_pm ? "D3hot" : "D0";
	struct vt_vfio v;

	vt_begin("%s %s: unused -> runtime suspended, power_state %s; open -> D0; close -> %s",
		 d->name, d->bdf, sleep, sleep);
	vt_check(vt_wait_attr(d->bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
		 "idle device not runtime suspended");
	vt_check(vt_wait_attr(d->bdf, "power_state", sleep, STATE_WAIT_MS),
		 "idle device not in %s", sleep);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		uint16_t vid = 0;

		vt_check(vt_wait_attr(d->bdf, "power/runtime_status", "active", 0),
			 "open device not active");
		vt_check(vt_wait_attr(d->bdf, "power_state", "D0", 0), "open device not in D0");
		vt_check(stays_attr(d->bdf, "power_state", "D0", 300),
			 "open device left D0 by itself");
		vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "config read");
		vt_check_eq(vid, d->vendor, "vendor ID");
		vt_vfio_close(&v);
	}
	vt_check(vt_wait_attr(d->bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
		 "closed device not runtime suspended");
	vt_check(vt_wait_attr(d->bdf, "power_state", sleep, STATE_WAIT_MS),
		 "closed device not in %s", sleep);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* low power features on a PM-capable device                                 */

#define LP_CASES	9

static void test_low_power(struct dut *t)
{
	const char *bdf = t->d->bdf;
	uint32_t val = 0;
	uint16_t vid = 0;
	int efd;

	vt_begin("%s: LOW_POWER_ENTRY with PROBE: supported, nothing happens", bdf);
	if (!dut_open(t)) {
		vt_end();
		for (int i = 1; i < LP_CASES; i++)
			vt_ok(false, "%s low power case %d: open", bdf, i + 1);
		return;
	}
	vt_check_ok(feature(t->v.device, VFIO_DEVICE_FEATURE_PROBE | SET(ENTRY), NULL, 0),
		    "PROBE|SET ENTRY");
	vt_check_ok(feature(t->v.device, VFIO_DEVICE_FEATURE_PROBE | ENTRY, NULL, 0),
		    "PROBE ENTRY");
	vt_check_ok(feature(t->v.device, VFIO_DEVICE_FEATURE_PROBE | SET(ENTRY_WAKE), NULL, 0),
		    "PROBE|SET ENTRY_WITH_WAKEUP (no payload needed)");
	vt_check_ok(feature(t->v.device, VFIO_DEVICE_FEATURE_PROBE | SET(EXIT), NULL, 0),
		    "PROBE|SET EXIT");
	vt_check_errno(feature(t->v.device, VFIO_DEVICE_FEATURE_PROBE |
			       VFIO_DEVICE_FEATURE_GET | ENTRY, NULL, 0),
		       EINVAL, "PROBE|GET ENTRY");
	vt_check(stays_attr(bdf, "power_state", "D0", 300), "device left D0 after PROBE");
	vt_check(map_works(t), "mapping faults after PROBE");
	vt_end();

	vt_begin("%s: LOW_POWER_ENTRY: D3hot, mapping SIGBUS, second entry EINVAL", bdf);
	if (vt_check_ok(feature(t->v.device, SET(ENTRY), NULL, 0), "SET ENTRY")) {
		vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
			 "not in %s after ENTRY", t->sleep);
		vt_check(vt_wait_attr(bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
			 "not runtime suspended after ENTRY");
		vt_check(!map_works(t), "mapping readable in low power");
		vt_check_errno(feature(t->v.device, SET(ENTRY), NULL, 0), EINVAL,
			       "second SET ENTRY");
		vt_check_errno(entry_wake(t->v.device, -1), EINVAL,
			       "ENTRY_WITH_WAKEUP while in low power (bad fd)");
	}
	vt_end();

	vt_begin("%s: in low power, pread of config and BAR wakes it for the access only", bdf);
	vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS), "asleep before");
	vt_check_ret(vt_config_read16(t->v.device, PCI_VENDOR_ID, &vid), "config read");
	vt_check_eq(vid, t->d->vendor, "vendor ID");
	vt_check_ret(vt_region_read32(t->v.device, 0, t->reg, &val), "BAR0 pread");
	vt_check_eq(val, t->value, "BAR0 %#x by pread", t->reg);
	vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
		 "not back in %s after the accesses", t->sleep);
	vt_check(!map_works(t), "mapping readable after a pread woke the device");
	vt_end();

	vt_begin("%s: LOW_POWER_EXIT: D0, mapping works, EXIT again is a no-op", bdf);
	vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "SET EXIT");
	vt_check(vt_wait_attr(bdf, "power_state", "D0", STATE_WAIT_MS), "not in D0 after EXIT");
	vt_check(stays_attr(bdf, "power_state", "D0", 300), "left D0 after EXIT");
	vt_check(map_works(t), "mapping faults after EXIT");
	vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "second SET EXIT");
	vt_check(map_works(t), "mapping faults after the second EXIT");
	vt_end();

	vt_begin("%s: ENTRY_WITH_WAKEUP: a pread wakes it, the eventfd fires, low power ends",
		 bdf);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vt_check_ok(entry_wake(t->v.device, efd), "SET ENTRY_WITH_WAKEUP")) {
		vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
			 "not in %s after ENTRY_WITH_WAKEUP", t->sleep);
		vt_check_eq(efd_count(efd, 0), 0, "eventfd count before the wake-up");
		vt_check(!map_works(t), "mapping readable in low power");
		vt_check_ret(vt_config_read16(t->v.device, PCI_VENDOR_ID, &vid), "config read");
		vt_check_eq(vid, t->d->vendor, "vendor ID");
		vt_check_eq(efd_count(efd, 1000), 1, "eventfd count after the wake-up");
		vt_check(stays_attr(bdf, "power_state", "D0", 300),
			 "device asleep again: low power did not end at the wake-up");
		vt_check(map_works(t), "mapping faults after the wake-up");
		vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "SET EXIT after wake-up");
		vt_check_eq(efd_count(efd, 100), 0, "eventfd count after EXIT");
	}
	vt_end();

	vt_begin("%s: ENTRY_WITH_WAKEUP: a device ioctl wakes it too", bdf);
	if (vt_check_ok(entry_wake(t->v.device, efd), "SET ENTRY_WITH_WAKEUP")) {
		struct vt_device_info info;

		vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
			 "not in %s after ENTRY_WITH_WAKEUP", t->sleep);
		vt_check_ret(vt_device_info(t->v.device, &info), "GET_INFO");
		vt_check_eq(efd_count(efd, 1000), 1, "eventfd count after the ioctl");
		vt_check(stays_attr(bdf, "power_state", "D0", 300), "asleep again");
		vt_check(map_works(t), "mapping faults after the wake-up");
		/* Low power is over: a new entry is allowed. */
		if (vt_check_ok(feature(t->v.device, SET(ENTRY), NULL, 0), "SET ENTRY again"))
			vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "SET EXIT");
	}
	vt_end();

	vt_begin("%s: bad feature requests are refused and change nothing", bdf);
	{
		int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int closedfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		struct feature f;

		close(closedfd);
		vt_check_errno(feature(t->v.device, VFIO_DEVICE_FEATURE_GET | ENTRY, NULL, 0),
			       EINVAL, "GET ENTRY");
		vt_check_errno(feature(t->v.device, VFIO_DEVICE_FEATURE_GET | EXIT, NULL, 0),
			       EINVAL, "GET EXIT");
		vt_check_errno(feature(t->v.device, ENTRY, NULL, 0), EINVAL,
			       "ENTRY without GET/SET/PROBE");
		vt_check_errno(feature(t->v.device, VFIO_DEVICE_FEATURE_GET | SET(ENTRY), NULL, 0),
			       EINVAL, "GET|SET ENTRY");
		vt_check_errno(feature(t->v.device, SET(ENTRY_WAKE), &efd, 4), EINVAL,
			       "ENTRY_WITH_WAKEUP with a 4-byte payload (struct is 8)");
		vt_check_errno(feature(t->v.device, SET(ENTRY_WAKE), NULL, 0), EINVAL,
			       "ENTRY_WITH_WAKEUP without payload");
		vt_check_errno(entry_wake(t->v.device, -1), EINVAL, "wakeup_eventfd -1");
		vt_check_errno(entry_wake(t->v.device, nullfd), EINVAL,
			       "wakeup_eventfd /dev/null");
		vt_check_errno(entry_wake(t->v.device, closedfd), EBADF,
			       "wakeup_eventfd closed");
		memset(&f, 0, sizeof(f));
		f.hdr.argsz = 4;	/* below the header */
		f.hdr.flags = SET(ENTRY);
		vt_check_errno(ioctl(t->v.device, VFIO_DEVICE_FEATURE, &f), EINVAL,
			       "argsz below the header");
		f.hdr.argsz = sizeof(f.hdr);
		f.hdr.flags = SET(ENTRY_WAKE);
		vt_check_errno(ioctl(t->v.device, VFIO_DEVICE_FEATURE, vt_bad_pointer()), EFAULT,
			       "argument pointer not readable");
		close(nullfd);
		vt_check(stays_attr(bdf, "power_state", "D0", 300),
			 "device left D0 after refused requests");
		vt_check(map_works(t), "mapping faults after refused requests");
		/* Nothing was left engaged. */
		if (vt_check_ok(feature(t->v.device, SET(ENTRY), NULL, 0), "SET ENTRY"))
			vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "SET EXIT");
	}
	vt_end();

	vt_begin("%s: close while in low power (with wake-up eventfd), reopen works", bdf);
	if (vt_check_ok(entry_wake(t->v.device, efd), "SET ENTRY_WITH_WAKEUP")) {
		vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
			 "not in %s after ENTRY_WITH_WAKEUP", t->sleep);
		dut_close(t);
		close(efd);
		efd = -1;
		vt_check(vt_wait_attr(bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
			 "closed device not runtime suspended");
		vt_check(vt_wait_attr(bdf, "power_state", t->sleep, STATE_WAIT_MS),
			 "closed device not in %s", t->sleep);
		if (dut_open(t)) {
			vt_check(vt_wait_attr(bdf, "power_state", "D0", 0), "reopened not in D0");
			vt_check(map_works(t), "mapping faults after reopen");
			vt_check(stays_attr(bdf, "power_state", "D0", 300),
				 "reopened device left D0");
		}
	}
	if (efd >= 0)
		close(efd);
	vt_end();

	vt_begin("%s: D3hot through PMCSR: BAR pread EIO, mapping SIGBUS, config readable", bdf);
	{
		uint8_t cfg[256];
		unsigned int pm = 0;
		uint16_t pmcsr = 0;

		if (vt_config_read(t->v.device, cfg, sizeof(cfg), 0) == (ssize_t)sizeof(cfg))
			pm = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_PM);
		if (vt_check(pm != 0, "no PM capability in the user's config space")) {
			vt_check_ret(vt_config_read16(t->v.device, pm + PCI_PM_CTRL, &pmcsr),
				     "read PMCSR");
			vt_check_ret(vt_config_write16(t->v.device, pm + PCI_PM_CTRL,
						       (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | 3),
				     "PMCSR := D3hot");
			vt_check(vt_wait_attr(bdf, "power_state", "D3hot", 0), "not in D3hot");
			vt_check_errno(vt_region_read32(t->v.device, 0, t->reg, &val) ? -1 : 0, EIO,
				       "BAR pread in D3hot");
			vt_check(!map_works(t), "mapping readable in D3hot");
			vt_check_ret(vt_config_read16(t->v.device, PCI_VENDOR_ID, &vid),
				     "config read in D3hot");
			vt_check_eq(vid, t->d->vendor, "vendor ID in D3hot");
			vt_check_ret(vt_config_write16(t->v.device, pm + PCI_PM_CTRL,
						       pmcsr & ~PCI_PM_CTRL_STATE_MASK),
				     "PMCSR := D0");
			vt_check(vt_wait_attr(bdf, "power_state", "D0", 0), "not in D0");
			vt_check_ret(vt_region_read32(t->v.device, 0, t->reg, &val), "BAR pread in D0");
			vt_check_eq(val, t->value, "BAR0 %#x in D0 again", t->reg);
			vt_check(map_works(t), "mapping faults in D0 again");
		}
	}
	vt_end();

	dut_close(t);
}

/* ------------------------------------------------------------------------ */
/* edu: no PM capability                                                     */

static void test_edu_low_power(struct dut *t)
{
	const char *bdf = t->d->bdf;
	uint32_t val = 0;

	vt_begin("edu %s (no PM capability): LOW_POWER_ENTRY suspends it in D0, mapping SIGBUS",
		 bdf);
	if (!dut_open(t)) {
		vt_end();
		return;
	}
	if (vt_check_ok(feature(t->v.device, SET(ENTRY), NULL, 0), "SET ENTRY")) {
		vt_check(vt_wait_attr(bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
			 "not runtime suspended after ENTRY");
		vt_check(vt_wait_attr(bdf, "power_state", "D0", 0), "power state changed");
		vt_check(!map_works(t), "mapping readable in low power");
		vt_check_ret(vt_region_read32(t->v.device, 0, EDU_ID, &val), "pread ID");
		vt_check_eq(val, 0x010000ed, "edu ID by pread");
		vt_check_ok(feature(t->v.device, SET(EXIT), NULL, 0), "SET EXIT");
		vt_check(vt_wait_attr(bdf, "power/runtime_status", "active", STATE_WAIT_MS),
			 "not active after EXIT");
		vt_check(map_works(t), "mapping faults after EXIT");
	}
	dut_close(t);
	vt_end();
}

int main(void)
{
	static const struct { uint16_t v, d; uint32_t reg; } kinds[] = {
		{ 0x1b36, 0x0010, NVME_VS },	/* nvme: VS */
		{ 0x8086, 0x10d3, 0x08 },	/* e1000e: STATUS */
	};
	struct vt_dev devs[VT_MAX_DEVS], pm[2], edu = { .bdf = "" };
	int npm = 0, n;
	char buf[16];

	vt_fault_handler_install();
	for (int k = 0; k < 2; k++)
		if (vt_find_devices(kinds[k].v, kinds[k].d, devs, VT_MAX_DEVS) > 0)
			pm[npm++] = devs[0];
	n = vt_find_devices(0x1234, 0x11e8, devs, VT_MAX_DEVS);
	if (n > 0)
		edu = devs[0];
	if (!npm && !edu.bdf[0])
		vt_skip_all("no nvme, e1000e or edu in this topology");

	vt_plan(1 + 2 + 1 + LP_CASES + 1);
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");

	/*
	 * Not written: the in-tree module has it 0644 (read once at module
	 * init), ours 0444 (latched per device); either way a write would not
	 * be a test of idle D3.
	 */
	vt_begin("module parameter disable_idle_d3 exists and is off");
	n = vt_read_file("/sys/module/" VT_MODULE "/parameters/disable_idle_d3", buf, sizeof(buf));
	if (vt_check(n > 0, "read disable_idle_d3: %s", n < 0 ? vt_errname(-n) : "empty"))
		vt_check(strcmp(buf, "N") == 0, "disable_idle_d3 is %s", buf);
	vt_end();

	/* Idle: the PM-capable devices and edu. */
	for (int i = 0; i < 2; i++) {
		if (i >= npm)
			vt_skip("not in this topology", "idle D3hot: PM-capable device %d", i + 1);
		else if (vt_bind(pm[i].bdf))
			vt_ok(false, "%s: bind", pm[i].bdf);
		else
			test_idle(&pm[i], true);
	}
	if (!edu.bdf[0])
		vt_skip("not in this topology", "idle: edu");
	else if (vt_bind(edu.bdf))
		vt_ok(false, "%s: bind", edu.bdf);
	else
		test_idle(&edu, false);

	if (!npm) {
		for (int i = 0; i < LP_CASES; i++)
			vt_skip("no nvme or e1000e", "low power case %d", i + 1);
	} else {
		struct dut t = { .d = &pm[0], .sleep = "D3hot" };

		t.reg = pm[0].device == 0x0010 ? NVME_VS : 0x08;
		vt_diag("low power features on %s %s", pm[0].name, pm[0].bdf);
		test_low_power(&t);
	}

	if (!edu.bdf[0] || vt_bind(edu.bdf)) {
		vt_skip("no edu", "edu low power");
	} else {
		struct dut t = { .d = &edu, .reg = EDU_ID, .sleep = "D0" };

		test_edu_low_power(&t);
	}
	return vt_finish();
}
