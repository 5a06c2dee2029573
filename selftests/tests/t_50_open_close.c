// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open/close life cycle: many device fd open/close cycles without leaking
 * fds, module references or kernel memory; several fds on one device; group
 * and container closed before the device; a process that dies holding the
 * device.  On the debug kernel the runner also scans kmemleak afterwards.
 */
#include "vfio_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

/*
 * Cycles per loop on the stock kernels.  The debug kernel runs 1/200 of them
 * (at least 2): an open/close cycle of edu takes about 4 s there under TCG
 * (20-100 ms for the devices without an interrupt pin), and its kmemleak
 * scan finds a single leaked object anyway.
 */
#define LONG_LOOP	400
#define FULL_LOOP	100
#define DEVICE_LOOP	10

static int cycles(int count)
{
	if (!vt_slow_kernel())
		return count;
	return count / 200 > 2 ? count / 200 : 2;
}

/* Growth of unreclaimable slab over LONG_LOOP cycles that counts as a leak:
 * 400 cycles leaking even 128 bytes each would exceed it (the noise seen on
 * the stock kernels is a few kB, and SUnreclaim often shrinks). */
#define LEAK_LIMIT_KB	40

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void drop_caches(void)
{
	sync();
	vt_sysfs_write("/proc/sys/vm/drop_caches", "3");
}

/*
 * `count` cycles of GET_DEVICE_FD + GET_INFO + close on an open group.
 * Returns the number of failed cycles (the first failure is diagnosed).
 */
static int device_fd_cycles(int group, const char *bdf, int count)
{
	int failures = 0;

	for (int i = 0; i < count; i++) {
		struct vt_device_info info;
		int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
		int ret = fd < 0 ? -errno : vt_device_info(fd, &info);

		if (!ret && !(info.flags & VFIO_DEVICE_FLAGS_PCI))
			ret = -EINVAL;
		if (ret && !failures++)
			vt_diag("%s: cycle %d: %s", bdf, i, vt_errname(-ret));
		if (fd >= 0)
			close(fd);
	}
	return failures;
}

/* A container + group with type1v2 set, ready to hand out device fds. */
static bool open_group(const char *bdf, struct vt_vfio *v)
{
	if (vt_check_ret(vt_vfio_open(v, bdf), "open %s", bdf)) {
		close(v->device);
		v->device = -1;
		return true;
	}
	return false;
}

static void test_long_loop(const struct vt_dev *d)
{
	struct vt_vfio v;
	int fds, failures;
	double t;

	int count = cycles(LONG_LOOP);

	vt_begin("%s %s: %d x GET_DEVICE_FD + close", d->name, d->bdf, count);
	if (open_group(d->bdf, &v)) {
		fds = vt_count_fds();
		t = now_ms();
		failures = device_fd_cycles(v.group, d->bdf, count);
		vt_diag("%d cycles in %.0f ms", count, now_ms() - t);
		vt_check_eq(failures, 0, "failed cycles");
		vt_check_eq(vt_count_fds(), fds, "open fds after the loop");
		vt_vfio_close(&v);
	}
	vt_end();
}

static void test_no_leak(const struct vt_dev *d)
{
	long before, after;
	struct vt_vfio v;

	vt_begin("%s %s: unreclaimable slab stable over %d more cycles", d->name, d->bdf,
		 LONG_LOOP);
	if (vt_slow_kernel()) {
		/* KASAN's quarantine keeps freed objects in slab pages. */
		vt_end_skip("debug kernel: KASAN quarantine skews slab usage, kmemleak covers it");
		return;
	}
	if (open_group(d->bdf, &v)) {
		drop_caches();
		before = vt_meminfo_kb("SUnreclaim");
		vt_check_eq(device_fd_cycles(v.group, d->bdf, LONG_LOOP), 0, "failed cycles");
		drop_caches();
		after = vt_meminfo_kb("SUnreclaim");
		vt_diag("SUnreclaim %ld kB -> %ld kB", before, after);
		vt_check(before > 0 && after > 0, "no SUnreclaim in /proc/meminfo");
		vt_check(after - before < LEAK_LIMIT_KB, "grew by %ld kB (limit %d kB)",
			 after - before, LEAK_LIMIT_KB);
		vt_vfio_close(&v);
	}
	vt_end();
}

static void test_full_loop(const struct vt_dev *d)
{
	int fds = vt_count_fds(), failures = 0, count = cycles(FULL_LOOP);

	vt_begin("%s %s: %d x container + group + type1v2 + device open and close",
		 d->name, d->bdf, count);
	for (int i = 0; i < count; i++) {
		struct vt_vfio v;

		if (vt_vfio_open(&v, d->bdf)) {
			failures++;
			continue;
		}
		vt_vfio_close(&v);
	}
	vt_check_eq(failures, 0, "failed cycles");
	vt_check_eq(vt_count_fds(), fds, "open fds after the loop");
	vt_end();
}

static void test_device_loop(const struct vt_dev *d)
{
	int count = cycles(DEVICE_LOOP);
	struct vt_vfio v;
	double t;

	vt_begin("%s %s: %d x GET_DEVICE_FD + close", d->name, d->bdf, count);
	if (open_group(d->bdf, &v)) {
		t = now_ms();
		vt_check_eq(device_fd_cycles(v.group, d->bdf, count), 0, "failed cycles");
		vt_diag("%d cycles in %.0f ms", count, now_ms() - t);
		vt_vfio_close(&v);
	}
	vt_end();
}

/* Two fds on one device: the device stays usable until the last one goes. */
static void test_two_fds(const struct vt_dev *d)
{
	struct vfio_region_info *reg;
	struct vt_vfio v;
	int fd2;

	vt_begin("%s %s: two fds on the device, first closed, second still works",
		 d->name, d->bdf);
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	fd2 = ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (vt_check_ok(fd2, "second GET_DEVICE_FD")) {
		close(v.device);
		v.device = -1;
		reg = vt_region_info(fd2, VFIO_PCI_BAR0_REGION_INDEX);
		vt_check(reg && reg->size > 0, "BAR0 info on the second fd: %s",
			 reg ? "size 0" : vt_errname(errno));
		free(reg);
		close(fd2);
		vt_check_eq(device_fd_cycles(v.group, d->bdf, 1), 0, "reopen after both closed");
	}
	vt_vfio_close(&v);
	vt_end();
}

static void test_module_ref(const struct vt_dev *d)
{
	int before = vt_module_refcnt(VT_MODULE), during;
	struct vt_vfio v;

	vt_begin("%s %s: an open device fd holds a reference on " VT_MODULE, d->name, d->bdf);
	/* Nothing is open: nothing may pin the module (rmmod must work). */
	vt_check_eq(before, 0, VT_MODULE " refcnt with no device open");
	if (vt_check_ret(before, "read /sys/module/" VT_MODULE "/refcnt") &&
	    vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		during = vt_module_refcnt(VT_MODULE);
		vt_check(during > before, "refcnt %d while open, %d before", during, before);
		vt_vfio_close(&v);
		vt_check_eq(vt_module_refcnt(VT_MODULE), before, "refcnt after close");
	}
	vt_end();
}

/* The device fd keeps group and container alive after their fds are closed. */
static void test_group_closed_first(const struct vt_dev *d)
{
	struct vt_device_info info;
	struct vt_vfio v;

	vt_begin("%s %s: device fd outlives its group and container fds", d->name, d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		close(v.group);
		close(v.container);
		v.group = v.container = -1;
		vt_check_ret(vt_device_info(v.device, &info), "GET_INFO after group close");
		vt_vfio_close(&v);
		vt_check_ret(vt_vfio_open(&v, d->bdf), "open again afterwards");
		vt_vfio_close(&v);
	}
	vt_end();
}

/* A process holding the device dies; the kernel's cleanup leaves it usable. */
static void test_holder_dies(const struct vt_dev *d, bool kill_it)
{
	int refcnt = vt_module_refcnt(VT_MODULE), status = 0, pipefd[2];
	struct vt_vfio v;
	pid_t pid;
	char c = 0;

	vt_begin("%s %s: holder %s with the device open", d->name, d->bdf,
		 kill_it ? "killed by SIGKILL" : "exits without closing");
	if (!vt_check_ok(pipe(pipefd), "pipe")) {
		vt_end();
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		c = vt_vfio_open(&v, d->bdf) ? 'E' : 'O';
		if (write(pipefd[1], &c, 1) != 1 || kill_it)
			pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (vt_check_ok(pid, "fork")) {
		vt_check(read(pipefd[0], &c, 1) == 1 && c == 'O', "child could not open");
		if (kill_it)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		vt_check_eq(vt_module_refcnt(VT_MODULE), refcnt, "module refcnt after the child");
		if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open after the child"))
			vt_vfio_close(&v);
	}
	close(pipefd[0]);
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	const struct vt_dev *edu = NULL;
	int n = vt_lab_bind(devs, VT_MAX_DEVS);

	for (int i = 0; i < n && !edu; i++)
		if (strcmp(devs[i].name, "edu") == 0 && !vt_behind_bridge(devs[i].bdf))
			edu = &devs[i];
	if (!edu)
		vt_skip_all("no edu on the root bus in this topology");

	vt_plan(8 + (unsigned int)n - 1);
	test_long_loop(edu);
	test_no_leak(edu);
	test_full_loop(edu);
	test_two_fds(edu);
	test_module_ref(edu);
	test_group_closed_first(edu);
	test_holder_dies(edu, false);
	test_holder_dies(edu, true);
	for (int i = 0; i < n; i++)
		if (&devs[i] != edu)
			test_device_loop(&devs[i]);
	return vt_finish();
}
