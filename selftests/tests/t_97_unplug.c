// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hot-unplug while open: the host removes virtio-rng-pci (qdev "vrng",
 * behind root port rp3, ACPI hotplug) with device_del while this program
 * holds the device open.  The REQ eventfd fires, and keeps firing while we
 * hold on (the vfio core asks again every 10 s); once everything is closed
 * the device, its driver binding and its group node go away.  The runner
 * scans the console for warnings.
 *
 * Runs late on purpose (t_97): the device is gone for the rest of the
 * boot.  Every test after this one must tolerate its absence; t_47_err_req
 * is the only other user of vrng and runs before.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#define PCI_VENDOR_ID	0x00
#define REQ_WAIT_MS	20000	/* ACPI hotplug: ~10 ms; native pciehp: ~5 s */
#define REQ_AGAIN_MS	15000	/* the core repeats the request every 10 s */
#define GONE_WAIT_MS	20000

/* Wait until path no longer exists; returns the ms it took, -1 on timeout. */
static long wait_gone(const char *path, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (access(path, F_OK) == 0) {
		if (vt_ms_since(&t0) > ms)
			return -1;
		usleep(10000);
	}
	return vt_ms_since(&t0);
}

static bool topology_has_vrng(void)
{
	const char *t = getenv("VFIO_TEST_TOPOLOGY");

	return !t || !strcmp(t, "all") || !strcmp(t, "aer");
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	char devpath[128], grouppath[64], resp[512];
	struct timespec t0;
	struct vt_vfio v;
	int efd, n, ret;
	uint16_t vid = 0;
	long ms;
	uint64_t c;

	n = vt_find_devices(0x1af4, 0x1044, devs, VT_MAX_DEVS);
	if (n <= 0)
		vt_skip_all("no virtio-rng-pci (1af4:1044)");
	if (!topology_has_vrng())
		vt_skip_all("topology %s has no qdev 'vrng'", getenv("VFIO_TEST_TOPOLOGY"));
	if (!getenv("VFIO_TEST_HOSTCMD"))
		vt_skip_all("no host channel (VFIO_TEST_HOSTCMD)");

	vt_plan(3);
	snprintf(devpath, sizeof(devpath), "/sys/bus/pci/devices/%s", devs[0].bdf);
	vt_diag("virtio-rng %s (kernel %s, %s)", devs[0].bdf, vt_kernel(),
		vt_baseline() ? "baseline" : "ng");
	if (vt_bind(devs[0].bdf) || vt_vfio_open(&v, devs[0].bdf) < 0)
		vt_bail("cannot open %s", devs[0].bdf);
	snprintf(grouppath, sizeof(grouppath), "/dev/vfio/%d", v.group_id);
	efd = vt_efd_new();

	vt_begin("device_del while open: the REQ eventfd fires, and again while held");
	if (vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_REQ_IRQ_INDEX, efd),
			"register REQ eventfd")) {
		ret = vt_host_cmd("device_del vrng", resp, sizeof(resp));
		vt_check(ret >= 0 && !strstr(resp, "rror"), "device_del: %s",
			 ret < 0 ? vt_errname(-ret) : resp);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c = vt_efd_wait(efd, REQ_WAIT_MS);
		if (vt_check(c >= 1, "REQ eventfd did not fire within %d ms", REQ_WAIT_MS)) {
			vt_diag("REQ after %ld ms", vt_ms_since(&t0));
			/* Still ours while we hold it: the removal waits for us. */
			vt_check(access(devpath, F_OK) == 0, "device gone while still open");
			vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid),
				     "config read while the removal waits");
			vt_check_eq(vid, 0x1af4, "vendor ID while the removal waits");
			clock_gettime(CLOCK_MONOTONIC, &t0);
			c = vt_efd_wait(efd, REQ_AGAIN_MS);
			vt_check(c >= 1, "REQ not repeated within %d ms", REQ_AGAIN_MS);
			if (c)
				vt_diag("REQ repeated after %ld ms", vt_ms_since(&t0));
		}
	}
	vt_end();

	vt_begin("closing everything completes the removal");
	vt_vfio_close(&v);
	ms = wait_gone(devpath, GONE_WAIT_MS);
	if (vt_check(ms >= 0, "%s still present %d ms after close", devpath, GONE_WAIT_MS))
		vt_diag("device gone %ld ms after close", ms);
	ms = wait_gone(grouppath, GONE_WAIT_MS);
	vt_check(ms >= 0, "%s still present %d ms after close", grouppath, GONE_WAIT_MS);
	vt_end();

	vt_begin("the rest of the lab is unaffected");
	n = vt_find_devices(0x1af4, 0x1044, devs, VT_MAX_DEVS);
	vt_check_eq(n, 0, "virtio-rng devices left");
	n = vt_lab_devices(devs, VT_MAX_DEVS);
	vt_diag("%d lab devices left", n);
	for (int i = 0; i < n; i++) {
		struct vt_vfio w;

		if (!vt_is_bound(devs[i].bdf))
			continue;
		ret = vt_vfio_open(&w, devs[i].bdf);
		if (ret == -EPERM)	/* a group member bound elsewhere: not ours to judge */
			continue;
		if (vt_check_ret(ret, "open %s %s", devs[i].name, devs[i].bdf)) {
			vt_check_ret(vt_config_read16(w.device, PCI_VENDOR_ID, &vid),
				     "%s config read", devs[i].name);
			vt_check_eq(vid, devs[i].vendor, "%s vendor ID", devs[i].name);
			vt_vfio_close(&w);
		}
	}
	vt_end();
	close(efd);
	return vt_finish();
}
