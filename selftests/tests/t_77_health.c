// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reset health: after a reset the function must answer as itself.
 *
 * Both modes: on the edu pair behind the pcie-pci-bridge, a hot reset and a
 * close leave both functions answering with their IDs, and their BAR
 * works after a reopen (a driver that declared a healthy function dead
 * would fail this; ours also shows "health: ok" in debugfs).
 *
 * Beyond mainline (SKIP extension in baseline): a function that does not
 * answer is made for real, by moving the bridge's secondary and
 * subordinate bus numbers away through sysfs, so that config requests to
 * the edus end in a master abort (all ones), as for a function that fell
 * off its link.  Then:
 *  - its open fails with ENODEV, after the bus reset escalation, and
 *    debugfs says "health: dead"; the kernel log says so exactly once over
 *    two opens;
 *  - once the bus numbers are back, the open succeeds, the log says it
 *    answers again, and the BAR works: the config state of probe came back
 *    (the escalation's bus reset cleared the BARs, and what the PCI core
 *    restored had been read from a dead function);
 *  - with both edus open, a hot reset of the dead pair fails with EIO and
 *    marks both dead; after the bus numbers are back, close and reopen
 *    work.
 * The in-tree driver opens the dead function and reports success for the
 * hot reset.
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

#define PCI_SECONDARY_BUS	0x19	/* secondary, then subordinate */
#define NOWHERE_BUS		0xfe
#define EDU_ID			0x00
#define EDU_ID_VALUE		0x010000ed

struct hot_reset {
	struct vfio_pci_hot_reset hdr;
	int32_t fds[1];
};

/* Vendor and device ID as the host reads them (all ones: no answer). */
static uint32_t host_id(const char *bdf)
{
	uint32_t id = 0;

	if (vt_sysfs_config_rw(bdf, 0, &id, 4, false))
		vt_diag("%s: cannot read config through sysfs", bdf);
	return id;
}

/* "health: ..." of the device's debugfs state, "" when absent. */
static const char *health(const char *bdf)
{
	static char buf[4096], out[32];
	char *p;

	out[0] = '\0';
	if (vt_debugfs_read(bdf, "state", buf, sizeof(buf)) < 0)
		return out;
	p = strstr(buf, "\nhealth: ");
	if (p)
		sscanf(p + 9, "%31s", out);
	return out;
}

static int hot_reset(int dev, int group)
{
	struct hot_reset r = { .hdr.argsz = sizeof(r), .hdr.count = 1, .fds = { group } };

	return ioctl(dev, VFIO_DEVICE_PCI_HOT_RESET, &r);
}

static void check_edu_id(int dev, const char *what)
{
	uint32_t v = 0;

	vt_check_ret(vt_region_read32(dev, 0, EDU_ID, &v), "%s: read BAR0 ID", what);
	vt_check_eq(v, EDU_ID_VALUE, "%s: BAR0 ID register", what);
}

/* Move the bridge's bus numbers away (true) or back (false). */
static bool cut_bus(const char *bridge, const uint8_t saved[2], bool cut)
{
	uint8_t nums[2] = { NOWHERE_BUS, NOWHERE_BUS };

	return vt_check_ret(vt_sysfs_config_rw(bridge, PCI_SECONDARY_BUS,
					       cut ? nums : (void *)saved, 2, true),
			    "%s: %s the bus numbers", bridge, cut ? "move away" : "restore");
}

/* ------------------------------------------------------------------------ */

static void test_healthy(const struct vt_dev *a, const struct vt_dev *b)
{
	struct vt_vfio v;
	int devb;

	vt_begin("hot reset and close leave a healthy pair answering as itself");
	if (!vt_check_ok(vt_vfio_open(&v, a->bdf), "open %s", a->bdf)) {
		vt_end();
		return;
	}
	devb = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, b->bdf);
	vt_check_ok(devb, "open %s", b->bdf);
	vt_check_ok(hot_reset(v.device, v.group), "hot reset");
	vt_check_eq(host_id(a->bdf), 0x11e81234, "%s: ID after the hot reset", a->bdf);
	vt_check_eq(host_id(b->bdf), 0x11e81234, "%s: ID after the hot reset", b->bdf);
	check_edu_id(v.device, "after the hot reset");
	if (!vt_baseline()) {
		vt_check(!strcmp(health(a->bdf), "ok"), "%s: health '%s'", a->bdf, health(a->bdf));
		vt_check(!strcmp(health(b->bdf), "ok"), "%s: health '%s'", b->bdf, health(b->bdf));
	}
	if (devb >= 0)
		close(devb);
	vt_vfio_close(&v);
	vt_check_ok(vt_vfio_open(&v, a->bdf), "reopen %s", a->bdf);
	if (v.device >= 0)
		check_edu_id(v.device, "after close and reopen");
	vt_vfio_close(&v);
	vt_end();
}

static void test_dead_open(const struct vt_dev *a, const char *bridge, const uint8_t saved[2])
{
	struct vt_vfio v;
	int kmsg, ret;

	if (!vt_extension("the in-tree driver opens a dead function",
			  "a function that does not answer: open fails with ENODEV"))
		return;
	vt_begin("a function that does not answer: open fails with ENODEV, once in the log");
	kmsg = vt_kmsg_open();
	if (!cut_bus(bridge, saved, true)) {
		vt_end();
		return;
	}
	vt_check_eq(host_id(a->bdf), 0xffffffff, "%s: host config reads all ones", a->bdf);
	ret = vt_vfio_open(&v, a->bdf);
	vt_check_eq((uint64_t)(int64_t)ret, (uint64_t)(int64_t)-ENODEV, "first open: %s",
		    vt_errname(-ret));
	if (ret >= 0)
		vt_vfio_close(&v);
	ret = vt_vfio_open(&v, a->bdf);
	vt_check_eq((uint64_t)(int64_t)ret, (uint64_t)(int64_t)-ENODEV, "second open: %s",
		    vt_errname(-ret));
	if (ret >= 0)
		vt_vfio_close(&v);
	vt_check(!strcmp(health(a->bdf), "dead"), "health '%s', want dead", health(a->bdf));
	vt_check_eq(vt_kmsg_count(kmsg, a->bdf, "does not answer", INT_MAX), 1,
		    "log lines 'does not answer'");

	cut_bus(bridge, saved, false);
	vt_check_eq(host_id(a->bdf), 0x11e81234, "%s: ID with the bus numbers back", a->bdf);
	if (vt_check_ok(vt_vfio_open(&v, a->bdf), "open with the bus numbers back")) {
		check_edu_id(v.device, "revived");
		vt_check(!strcmp(health(a->bdf), "ok"), "health '%s', want ok", health(a->bdf));
		vt_vfio_close(&v);
	}
	vt_check_eq(vt_kmsg_count(kmsg, a->bdf, "answers again", INT_MAX), 1,
		    "log lines 'answers again'");
	if (kmsg >= 0)
		close(kmsg);
	vt_end();
}

static void test_dead_hot_reset(const struct vt_dev *a, const struct vt_dev *b,
				const char *bridge, const uint8_t saved[2])
{
	struct vt_vfio v;
	int devb, ret;

	if (!vt_extension("the in-tree driver reports success",
			  "a hot reset that leaves the pair dead fails with EIO"))
		return;
	vt_begin("a hot reset that leaves the pair dead fails with EIO");
	if (!vt_check_ok(vt_vfio_open(&v, a->bdf), "open %s", a->bdf)) {
		vt_end();
		return;
	}
	devb = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, b->bdf);
	vt_check_ok(devb, "open %s", b->bdf);
	if (cut_bus(bridge, saved, true)) {
		ret = hot_reset(v.device, v.group);
		vt_check_errno(ret, EIO, "hot reset of the dead pair");
		vt_check(!strcmp(health(a->bdf), "dead"), "%s: health '%s'", a->bdf,
			 health(a->bdf));
		vt_check(!strcmp(health(b->bdf), "dead"), "%s: health '%s'", b->bdf,
			 health(b->bdf));
		cut_bus(bridge, saved, false);
	}
	if (devb >= 0)
		close(devb);
	vt_vfio_close(&v);
	/* The close found them answering again and gave them their config. */
	vt_check(!strcmp(health(a->bdf), "ok"), "%s: health '%s' after close", a->bdf,
		 health(a->bdf));
	if (vt_check_ok(vt_vfio_open(&v, a->bdf), "reopen %s", a->bdf)) {
		check_edu_id(v.device, "reopened");
		vt_check_ok(hot_reset(v.device, v.group), "hot reset, bus numbers back");
		vt_vfio_close(&v);
	}
	vt_end();
}

int main(void)
{
	struct vt_dev edus[VT_MAX_DEVS], pair[2];
	char bridge[32] = "", other[32];
	uint8_t saved[2] = { 0, 0 };
	int n, np = 0;

	n = vt_find_devices(0x1234, 0x11e8, edus, VT_MAX_DEVS);
	for (int i = 0; i < n && np < 2; i++)
		if (vt_behind_bridge(edus[i].bdf))
			pair[np++] = edus[i];
	if (np < 2)
		vt_skip_all("no edu pair behind a bridge");
	if (!vt_parent_bdf(pair[0].bdf, bridge, sizeof(bridge)) ||
	    !vt_parent_bdf(pair[1].bdf, other, sizeof(other)) || strcmp(bridge, other))
		vt_skip_all("the edu pair is not behind one bridge");

	vt_plan(3);
	vt_diag("kernel %s, %s; pair %s %s behind %s", vt_kernel(),
		vt_baseline() ? "baseline" : "ng", pair[0].bdf, pair[1].bdf, bridge);
	if (vt_bind(pair[0].bdf) || vt_bind(pair[1].bdf) ||
	    vt_sysfs_config_rw(bridge, PCI_SECONDARY_BUS, saved, 2, false)) {
		vt_ok(false, "bind the pair, read the bridge's bus numbers");
		vt_ok(false, "bind the pair, read the bridge's bus numbers");
		vt_ok(false, "bind the pair, read the bridge's bus numbers");
		return vt_finish();
	}
	vt_diag("bridge %s: secondary %02x subordinate %02x", bridge, saved[0], saved[1]);

	test_healthy(&pair[0], &pair[1]);
	test_dead_open(&pair[0], bridge, saved);
	test_dead_hot_reset(&pair[0], &pair[1], bridge, saved);
	return vt_finish();
}
