// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unbind while open, and allocation failures (failslab).
 *
 * - An unbind (sysfs driver/unbind, from a child process) of a device that
 *   is open blocks until the user lets go: the REQ eventfd fires, the
 *   device stays usable meanwhile, and closing the device fd completes the
 *   unbind.  Without a REQ eventfd the unbind just waits.  A BAR mapping
 *   that outlives the device fd keeps the device open until munmap.  A
 *   group fd alone does not hold the device; bound again, it opens again.
 * - On the debug kernel (CONFIG_FAILSLAB): the N-th slab allocation of this
 *   task fails (/proc/thread-self/fail-nth, N = 1, 2, ... until an attempt
 *   needs fewer than N), during VFIO_GROUP_GET_DEVICE_FD and during bind
 *   (sysfs driver/bind, which returns the probe's error).  Every attempt
 *   either succeeds or fails with an errno, and a normal attempt works
 *   afterwards; the runner checks the console for warnings and kmemleak.
 *   The bind case uses an edu behind the bridge whose sibling stays bound:
 *   the vfio group then exists already.  A failure while the vfio core
 *   creates a group hits WARN_ON(group->iommu_group) in 6.12's
 *   vfio_group_release() (error path of vfio_create_group(), a kernel bug
 *   that the in-tree vfio-pci triggers just the same).
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
#include <sys/syscall.h>
#include <sys/wait.h>

#define PCI_VENDOR_ID		0x00
#define DRIVER_DIR		"/sys/bus/pci/drivers/" VT_DRIVER
#define FAILSLAB		"/sys/kernel/debug/failslab"
#define FAIL_NTH		"/proc/thread-self/fail-nth"

#define REQ_WAIT_MS		10000
#define BLOCK_MS		500
#define UNBIND_WAIT_MS		15000
#define FAIL_MAX		400

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

static int set_req(int dev, int32_t fd)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} a = {
		.s = {
			.argsz = sizeof(a),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VFIO_PCI_REQ_IRQ_INDEX,
			.start = 0,
			.count = 1,
		},
		.fd = fd,
	};

	return ioctl(dev, VFIO_DEVICE_SET_IRQS, &a);
}

/*
 * Start "echo bdf > driver/unbind" in a child; returns its pid.  The child
 * must not keep copies of our device fds: the unbind would wait for itself.
 */
static pid_t start_unbind(const char *bdf)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ret;

		syscall(SYS_close_range, 3U, ~0U, 0U);
		ret = vt_sysfs_write(DRIVER_DIR "/unbind", bdf);

		_exit(ret ? (-ret & 0x7f) : 0);
	}
	return pid;
}

/* ------------------------------------------------------------------------ */

static void test_unbind_req(const struct vt_dev *d)
{
	struct vt_vfio v;
	pid_t pid = -1;
	uint16_t vid = 0;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	vt_begin("%s %s: unbind while open: REQ fires, unbind waits for the close", d->name,
		 d->bdf);
	if (!vt_check_ret(vt_bind(d->bdf), "bind") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		close(efd);
		vt_end();
		return;
	}
	if (vt_check_ok(set_req(v.device, efd), "register REQ eventfd")) {
		struct timespec t0;

		pid = start_unbind(d->bdf);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (vt_check(vt_efd_wait(efd, REQ_WAIT_MS) >= 1, "no REQ within %d ms",
			     REQ_WAIT_MS))
			vt_diag("REQ after %ld ms", vt_ms_since(&t0));
		vt_check_eq(vt_wait_child(pid, BLOCK_MS), (uint64_t)-1,
			    "unbind did not wait for the close");
		vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid),
			     "config read while the unbind waits");
		vt_check_eq(vid, d->vendor, "vendor ID while the unbind waits");
	}
	vt_vfio_close(&v);
	if (pid > 0)
		vt_unbind_done(pid, d->bdf, UNBIND_WAIT_MS, "close");
	vt_unbind_reap(pid, UNBIND_WAIT_MS);
	close(efd);
	vt_end();

	vt_begin("%s %s: bind again after the unbind, open and use", d->name, d->bdf);
	if (vt_check_ret(vt_bind(d->bdf), "rebind") &&
	    vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "config read");
		vt_check_eq(vid, d->vendor, "vendor ID");
		vt_vfio_close(&v);
	}
	vt_end();
}

static void test_unbind_no_req(const struct vt_dev *d)
{
	struct vt_vfio v;
	pid_t pid;

	vt_begin("%s %s: unbind while open without a REQ eventfd waits for the close", d->name,
		 d->bdf);
	if (!vt_check_ret(vt_bind(d->bdf), "bind") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	pid = start_unbind(d->bdf);
	vt_check_eq(vt_wait_child(pid, BLOCK_MS), (uint64_t)-1,
		    "unbind did not wait for the close");
	vt_vfio_close(&v);
	vt_unbind_done(pid, d->bdf, UNBIND_WAIT_MS, "close");
	vt_unbind_reap(pid, UNBIND_WAIT_MS);
	vt_check_ret(vt_bind(d->bdf), "rebind");
	vt_end();
}

static void test_unbind_mmap(const struct vt_dev *d)
{
	volatile uint32_t *map = NULL;
	size_t len = 0;
	struct vt_vfio v;
	pid_t pid = -1;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	vt_begin("%s %s: a BAR mapping keeps the device open: REQ fires, munmap ends the unbind",
		 d->name, d->bdf);
	if (!vt_check_ret(vt_bind(d->bdf), "bind") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		close(efd);
		vt_end();
		return;
	}
	vt_check_ok(set_req(v.device, efd), "register REQ eventfd");
	map = vt_map_region(v.device, 0, &len);
	if (vt_check(map != NULL, "mmap BAR0: %s", vt_errname(errno))) {
		/*
		 * The unbind child must not inherit the mapping (and so the
		 * device): it would wait for itself.
		 */
		vt_check_ok(madvise((void *)map, len, MADV_DONTFORK), "MADV_DONTFORK");
		/* Only the mapping is left. */
		close(v.device);
		v.device = -1;
		pid = start_unbind(d->bdf);
		vt_check(vt_efd_wait(efd, REQ_WAIT_MS) >= 1, "no REQ within %d ms", REQ_WAIT_MS);
		vt_check_eq(vt_wait_child(pid, BLOCK_MS), (uint64_t)-1,
			    "unbind did not wait for the mapping");
		munmap((void *)map, len);
		vt_unbind_done(pid, d->bdf, UNBIND_WAIT_MS, "munmap");
		vt_unbind_reap(pid, UNBIND_WAIT_MS);
	}
	vt_vfio_close(&v);
	close(efd);
	vt_check_ret(vt_bind(d->bdf), "rebind");
	vt_end();
}

static void test_unbind_group_open(const struct vt_dev *d)
{
	struct vt_vfio v;
	uint16_t vid = 0;
	pid_t pid;
	int dev;

	vt_begin("%s %s: group fd alone does not block the unbind; rebind and reopen",
		 d->name, d->bdf);
	if (!vt_check_ret(vt_bind(d->bdf), "bind") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	close(v.device);
	v.device = -1;
	pid = start_unbind(d->bdf);
	vt_unbind_done(pid, d->bdf, UNBIND_WAIT_MS, "the unbind started");
	vt_unbind_reap(pid, UNBIND_WAIT_MS);
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf), ENODEV,
		       "GET_DEVICE_FD while unbound");
	if (vt_check_ret(vt_bind(d->bdf), "rebind with the old group fd open")) {
		/*
		 * Since 6.2 the vfio core retires a group with its last device:
		 * the old fd may be dead (ENODEV).  It must not crash, and a
		 * fresh open must work.
		 */
		dev = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
		vt_diag("GET_DEVICE_FD through the old group fd: %s",
			dev < 0 ? vt_errname(errno) : "ok");
		if (dev >= 0)
			close(dev);
		vt_vfio_close(&v);
		if (vt_check_ret(vt_vfio_open(&v, d->bdf), "fresh open after the rebind")) {
			vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "config read");
			vt_check_eq(vid, d->vendor, "vendor ID");
		}
	}
	vt_vfio_close(&v);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* failslab                                                                  */

static bool failslab_setup(void)
{
	static const char *const settings[][2] = {
		{ "probability", "0" },		/* only fail-nth injects */
		{ "verbose", "0" },		/* no stack dumps in the console */
		{ "ignore-gfp-wait", "N" },	/* GFP_KERNEL allocations too */
		{ "times", "-1" },
		{ "space", "0" },
		{ "interval", "1" },
		{ "task-filter", "N" },
	};
	char path[128];

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		snprintf(path, sizeof(path), FAILSLAB "/%s", settings[i][0]);
		if (vt_sysfs_write(path, settings[i][1])) {
			vt_diag("%s := %s: %s", path, settings[i][1], vt_errname(errno));
			return false;
		}
	}
	return true;
}

static int fail_nth_set(int n)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", n);
	return vt_sysfs_write(FAIL_NTH, buf);
}

/* What is left of the countdown: 0 when the failure was injected. */
static int fail_nth_left(void)
{
	char buf[16];

	if (vt_read_file(FAIL_NTH, buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

static void test_failslab_open(const struct vt_dev *d)
{
	int injected = 0, n, errs[8] = { 0 }, nerr = 0;
	bool complete = false;
	struct vt_vfio v;

	vt_begin("%s %s: failslab in GET_DEVICE_FD: clean errors, then it works", d->name,
		 d->bdf);
	if (!vt_check_ret(vt_bind(d->bdf), "bind") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	close(v.device);
	v.device = -1;
	for (n = 1; n <= FAIL_MAX && !complete; n++) {
		int fd, err, left;

		if (fail_nth_set(n)) {
			vt_check(false, "write %s: %s", FAIL_NTH, vt_errname(errno));
			break;
		}
		fd = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
		err = fd < 0 ? errno : 0;
		left = fail_nth_left();
		fail_nth_set(0);
		if (fd >= 0) {
			close(fd);
			if (left > 0)
				complete = true;	/* needed fewer than n */
			else
				injected++;	/* a failure was absorbed */
			continue;
		}
		injected++;
		if (!vt_check(err != 0, "attempt %d: failed without errno", n))
			break;
		for (int i = 0; i <= nerr && i < 8; i++) {
			if (i == nerr) {
				errs[nerr++] = err;
				vt_diag("attempt %d: %s", n, vt_errname(err));
				break;
			}
			if (errs[i] == err)
				break;
		}
		/* A clean failure leaves the device closed and openable. */
		fd = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
		if (!vt_check_ok(fd, "attempt %d: open right after the failure", n))
			break;
		close(fd);
	}
	vt_diag("%d allocation failures injected, %s", injected,
		complete ? "every allocation point covered" : "stopped early");
	vt_check(complete, "GET_DEVICE_FD still failing after %d injected failures", FAIL_MAX);
	{
		int fd = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
		uint16_t vid = 0;

		if (vt_check_ok(fd, "GET_DEVICE_FD at the end")) {
			vt_check_ret(vt_config_read16(fd, PCI_VENDOR_ID, &vid), "config read");
			vt_check_eq(vid, d->vendor, "vendor ID");
			close(fd);
		}
	}
	vt_vfio_close(&v);
	vt_end();
}

static void test_failslab_bind(const struct vt_dev *d, const struct vt_dev *peer)
{
	int injected = 0, n, errs[8] = { 0 }, nerr = 0;
	bool complete = false;

	vt_begin("%s %s: failslab in bind (probe), group kept by %s: clean errors, then it binds",
		 d->name, d->bdf, peer->bdf);
	if (!vt_check_ret(vt_bind(peer->bdf), "bind %s", peer->bdf) ||
	    !vt_check_ret(vt_unbind(d->bdf), "unbind") ||
	    !vt_check_ret(vt_set_override(d->bdf, VT_DRIVER), "driver_override")) {
		vt_end();
		return;
	}
	for (n = 1; n <= FAIL_MAX && !complete; n++) {
		int ret, left;

		if (fail_nth_set(n)) {
			vt_check(false, "write %s: %s", FAIL_NTH, vt_errname(errno));
			break;
		}
		ret = vt_sysfs_write(DRIVER_DIR "/bind", d->bdf);
		left = fail_nth_left();
		fail_nth_set(0);
		if (!ret) {
			if (!vt_check(vt_is_bound(d->bdf), "attempt %d: bind said yes, not bound", n))
				break;
			if (left > 0) {
				complete = true;
				continue;
			}
			injected++;
			if (!vt_check_ret(vt_unbind(d->bdf), "attempt %d: unbind", n))
				break;
			continue;
		}
		injected++;
		vt_check(!vt_is_bound(d->bdf), "attempt %d: bind failed (%s) but bound", n,
			 vt_errname(-ret));
		for (int i = 0; i <= nerr && i < 8; i++) {
			if (i == nerr) {
				errs[nerr++] = -ret;
				vt_diag("attempt %d: %s", n, vt_errname(-ret));
				break;
			}
			if (errs[i] == -ret)
				break;
		}
	}
	vt_diag("%d allocation failures injected, %s", injected,
		complete ? "every allocation point covered" : "stopped early");
	vt_check(complete, "bind still failing after %d injected failures", FAIL_MAX);
	if (vt_check_ret(vt_bind(d->bdf), "bind at the end")) {
		struct vt_vfio v;
		uint16_t vid = 0;

		if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open at the end")) {
			vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "config read");
			vt_check_eq(vid, d->vendor, "vendor ID");
			vt_vfio_close(&v);
		}
	}
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS], edu, quick, bridged[2];
	bool failslab;
	int n, nb = 0;

	n = vt_find_devices(0x1234, 0x11e8, devs, VT_MAX_DEVS);
	if (n <= 0)
		vt_skip_all("no edu (1234:11e8)");
	edu = devs[0];	/* the first by address: the root-bus one when present */
	for (int i = 0; i < n && nb < 2; i++)
		if (vt_behind_bridge(devs[i].bdf))
			bridged[nb++] = devs[i];
	/*
	 * failslab loops open and bind many times: a device without an
	 * interrupt pin opens fast on the debug kernel; else edu.
	 */
	n = vt_find_devices(0x1b36, 0x0005, devs, VT_MAX_DEVS);
	quick = n > 0 ? devs[0] : edu;

	vt_plan(7);
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");
	test_unbind_req(&edu);
	test_unbind_no_req(&edu);
	test_unbind_mmap(&edu);
	test_unbind_group_open(&edu);

	failslab = access(FAILSLAB, F_OK) == 0 && access(FAIL_NTH, F_OK) == 0;
	if (!failslab) {
		vt_skip("no failslab (CONFIG_FAILSLAB, debugfs)", "failslab in GET_DEVICE_FD");
		vt_skip("no failslab (CONFIG_FAILSLAB, debugfs)", "failslab in bind");
	} else if (!failslab_setup()) {
		vt_ok(false, "failslab setup");
		vt_ok(false, "failslab setup");
	} else {
		vt_diag("failslab on %s %s", quick.name, quick.bdf);
		test_failslab_open(&quick);
		if (nb < 2 || vt_iommu_group(bridged[0].bdf) != vt_iommu_group(bridged[1].bdf))
			vt_skip("needs two devices in one IOMMU group (edu pair behind a bridge)",
				"failslab in bind");
		else
			test_failslab_bind(&bridged[0], &bridged[1]);
	}
	return vt_finish();
}
