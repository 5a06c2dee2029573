// SPDX-License-Identifier: GPL-2.0-only
/*
 * The error (ERR) and request (REQ) signals, on virtio-rng-pci (1af4:1044,
 * aer=on) behind root port rp3, qdev id "vrng" (selftests/vmtest.py):
 * - GET_IRQ_INFO for both, loopback signalling, removal (fd -1) after which
 *   DATA_NONE is refused (nothing to signal);
 * - ERR: a real uncorrectable error injected by the host (HMP
 *   pcie_aer_inject_error vrng COMP_ABORT) reaches the ERR eventfd through
 *   AER's error_detected; QEMU 7.2 only forwards the error when
 *   PCI_COMMAND_SERR is set on the endpoint (through the vfio config
 *   region) and on the root port (sysfs config).  A removed eventfd is not
 *   signalled, a re-registered one is, the device keeps working;
 * - REQ: an unbind while the device is open signals the REQ eventfd and
 *   waits; once the user closes the device the unbind completes and the
 *   device can be bound again.
 * Hot-unplug (device_del) is in t_97_unplug: it removes the device for the
 * rest of the boot.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_COMMAND_SERR	0x100
#define AER_WAIT_MS		10000
#define REQ_WAIT_MS		10000
#define QUIET_MS		1000

static int loop_none(int dev, uint32_t index, uint32_t count)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0,
			   count, NULL, 0);
}

static int loop_bool(int dev, uint32_t index, uint8_t b)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1,
			   &b, 1);
}

static bool topology_has_vrng(void)
{
	const char *t = getenv("VFIO_TEST_TOPOLOGY");

	return !t || !strcmp(t, "all") || !strcmp(t, "aer");
}

/* ------------------------------------------------------------------------ */

static const char *bdf;
static char port[VT_BDF_LEN];
static struct vt_vfio v;

static void test_info_loopback(int dev, uint32_t index, const char *name)
{
	struct vfio_irq_info info;
	int efd = vt_efd_new(), efd2 = vt_efd_new();

	vt_begin("%s: irq info, loopback, swap, removal", name);
	if (vt_check_ret(vt_irq_info(dev, index, &info), "irq info")) {
		vt_check_eq(info.count, 1, "count");
		vt_check_eq(info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, "flags");
	}
	/* Nothing registered: DATA_NONE has nothing to signal. */
	vt_check_errno(loop_none(dev, index, 1), EINVAL, "DATA_NONE with no eventfd");
	vt_check_ok(loop_bool(dev, index, 1), "DATA_BOOL with no eventfd");
	if (vt_check_ok(vt_irq_set_fd(dev, index, efd), "register eventfd")) {
		vt_check_ok(loop_none(dev, index, 1), "loopback DATA_NONE");
		vt_check_eq(vt_efd_take(efd), 1, "after DATA_NONE");
		vt_check_ok(loop_bool(dev, index, 0), "loopback DATA_BOOL false");
		vt_check_eq(vt_efd_take(efd), 0, "after DATA_BOOL false");
		vt_check_ok(loop_bool(dev, index, 1), "loopback DATA_BOOL true");
		vt_check_eq(vt_efd_take(efd), 1, "after DATA_BOOL true");
		vt_check_ok(vt_irq_set_fd(dev, index, efd2), "swap eventfd");
		vt_check_ok(loop_none(dev, index, 1), "loopback after swap");
		vt_check_eq(vt_efd_take(efd2), 1, "new eventfd");
		vt_check_eq(vt_efd_take(efd), 0, "old eventfd");
		vt_check_ok(vt_irq_set_fd(dev, index, -1), "remove eventfd (-1)");
		vt_check_errno(loop_none(dev, index, 1), EINVAL, "DATA_NONE after removal");
		vt_check_eq(vt_efd_take(efd2), 0, "removed eventfd");
		/* DATA_NONE count 0 clears, once: then there is nothing to clear. */
		vt_check_ok(vt_irq_set_fd(dev, index, efd), "register again");
		vt_check_ok(loop_none(dev, index, 0), "DATA_NONE count 0 (clear)");
		vt_check_errno(loop_none(dev, index, 1), EINVAL, "DATA_NONE after clear");
		vt_check_errno(loop_none(dev, index, 0), EINVAL, "clear with nothing registered");
	}
	close(efd);
	close(efd2);
	vt_end();
}

static bool host_inject(const char *what)
{
	char resp[512];
	int ret = vt_host_cmd("pcie_aer_inject_error vrng COMP_ABORT", resp, sizeof(resp));

	if (!vt_check(ret >= 0, "%s: host command: %s", what, vt_errname(-ret)))
		return false;
	return vt_check(!strstr(resp, "rror") && !strstr(resp, "not found"),
			"%s: host answered '%s'", what, resp);
}

static void test_aer(int dev)
{
	uint16_t cmd, port_cmd = 0, vid = 0;
	int efd = vt_efd_new();
	bool port_set = false;

	vt_begin("ERR: an injected uncorrectable error (COMP_ABORT) fires the ERR eventfd");
	if (!vt_check(vt_parent_bdf(bdf, port, sizeof(port)), "no root port above %s", bdf))
		goto out;
	vt_diag("root port %s", port);
	/* SERR on the endpoint, through the vfio config region (to the hardware)... */
	if (vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "read command"))
		vt_check_ret(vt_config_write16(dev, PCI_COMMAND, cmd | PCI_COMMAND_SERR),
			     "write command | SERR");
	if (vt_check_ret(vt_sysfs_config_rw(bdf, PCI_COMMAND, &cmd, 2, false), "host command"))
		vt_check(cmd & PCI_COMMAND_SERR, "SERR did not reach the endpoint (%#x)", cmd);
	/* ... and on the root port (QEMU 7.2 wants it on every function of the path). */
	if (vt_check_ret(vt_sysfs_config_rw(port, PCI_COMMAND, &port_cmd, 2, false),
			 "root port command")) {
		uint16_t c = port_cmd | PCI_COMMAND_SERR;

		port_set = vt_check_ret(vt_sysfs_config_rw(port, PCI_COMMAND, &c, 2, true),
					"root port command | SERR");
	}
	if (!vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_ERR_IRQ_INDEX, efd), "register ERR eventfd"))
		goto out;

	if (host_inject("first"))
		vt_check(vt_efd_wait(efd, AER_WAIT_MS) >= 1,
			 "ERR eventfd did not fire within %d ms",
			 AER_WAIT_MS);
	vt_check_ret(vt_config_read16(dev, PCI_VENDOR_ID, &vid), "config read after the error");
	vt_check_eq(vid, 0x1af4, "vendor ID after the error");

	/* Removed: a real error is not signalled on the old eventfd. */
	vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_ERR_IRQ_INDEX, -1), "remove ERR eventfd");
	if (host_inject("with no ERR eventfd"))
		vt_check_eq(vt_efd_wait(efd, QUIET_MS * 2), 0, "removed ERR eventfd fired");

	/* Registered again: signalled again. */
	vt_efd_take(efd);
	if (vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_ERR_IRQ_INDEX, efd), "register again") &&
	    host_inject("after re-registering"))
		vt_check(vt_efd_wait(efd, AER_WAIT_MS) >= 1,
			 "re-registered ERR eventfd did not fire");
	vt_check_ret(vt_config_read16(dev, PCI_VENDOR_ID, &vid), "config read after the errors");
	vt_check_eq(vid, 0x1af4, "vendor ID after the errors");
	vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_ERR_IRQ_INDEX, -1), "remove ERR eventfd");
out:
	if (port_set)
		vt_sysfs_config_rw(port, PCI_COMMAND, &port_cmd, 2, true);
	close(efd);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* REQ through an unbind while the device is open                            */

struct unbinder {
	pthread_t thread;
	int ret;
	volatile bool done;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;

	u->ret = vt_sysfs_write("/sys/bus/pci/drivers/" VT_DRIVER "/unbind", bdf);
	u->done = true;
	return NULL;
}

static bool wait_done(struct unbinder *u, int ms)
{
	for (int t = 0; t < ms && !u->done; t += 10)
		usleep(10000);
	return u->done;
}

static void test_req_unbind(void)
{
	struct unbinder u = { 0 };
	int efd = vt_efd_new();
	uint64_t n;

	vt_begin("REQ: unbind while open signals REQ, completes once the user closes");
	if (!vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_REQ_IRQ_INDEX, efd),
			 "register REQ eventfd"))
		goto out;
	if (!vt_check(pthread_create(&u.thread, NULL, unbind_thread, &u) == 0, "pthread_create"))
		goto out;
	n = vt_efd_wait(efd, REQ_WAIT_MS);
	vt_check(n >= 1, "REQ eventfd did not fire within %d ms of the unbind", REQ_WAIT_MS);
	/* The unbind waits for us: still bound, the device still answers. */
	vt_check(!u.done, "unbind returned while the device was open (%s)",
		 vt_errname(-u.ret));
	if (!u.done) {
		uint16_t vid = 0;

		vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid),
			     "config read during the unbind");
		vt_check_eq(vid, 0x1af4, "vendor ID during the unbind");
	}
	/* Release: the unbind completes. */
	vt_vfio_close(&v);
	vt_check(wait_done(&u, REQ_WAIT_MS), "unbind still blocked %d ms after close",
		 REQ_WAIT_MS);
	if (u.done) {
		pthread_join(u.thread, NULL);
		vt_check_err(u.ret, 0, "unbind");
		vt_check(!vt_is_bound(bdf), "still bound after the unbind");
	} else {
		/* Cannot join a thread stuck in the kernel: leave it. */
		pthread_detach(u.thread);
	}
	/* Bound and usable again (driver_override is still set). */
	if (u.done && vt_check_ret(vt_bind(bdf), "bind again") &&
	    vt_check_ret(vt_vfio_open(&v, bdf), "open again")) {
		uint16_t vid = 0;

		vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "config read");
		vt_check_eq(vid, 0x1af4, "vendor ID after rebinding");
	}
out:
	close(efd);
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n;

	n = vt_find_devices(0x1af4, 0x1044, devs, VT_MAX_DEVS);
	if (n <= 0)
		vt_skip_all("no virtio-rng-pci (1af4:1044)");
	if (!topology_has_vrng())
		vt_skip_all("topology %s has no qdev 'vrng'", getenv("VFIO_TEST_TOPOLOGY"));
	bdf = devs[0].bdf;
	vt_plan(4);
	vt_diag("virtio-rng %s (kernel %s, %s)", bdf, vt_kernel(),
		vt_baseline() ? "baseline" : "ng");
	if (vt_bind(bdf) || vt_vfio_open(&v, bdf) < 0)
		vt_bail("cannot open %s", bdf);

	test_info_loopback(v.device, VFIO_PCI_ERR_IRQ_INDEX, "ERR");
	test_info_loopback(v.device, VFIO_PCI_REQ_IRQ_INDEX, "REQ");
	if (getenv("VFIO_TEST_HOSTCMD"))
		test_aer(v.device);
	else
		vt_skip("no host channel (VFIO_TEST_HOSTCMD)", "ERR: injected error");
	test_req_unbind();
	vt_vfio_close(&v);
	return vt_finish();
}
