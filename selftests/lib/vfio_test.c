// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_test: helpers for the vfio-pci-ng guest test programs.
 * See vfio_test.h for the interface.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define SYSFS_PCI	"/sys/bus/pci"
#define SYSFS_DEVICES	SYSFS_PCI "/devices"

/* ======================================================================== */
/* TAP reporting                                                             */

static struct {
	bool started;
	bool have_plan;
	unsigned int planned;
	unsigned int count;
	unsigned int passed;
	unsigned int failed;
	unsigned int skipped;
	bool in_case;
	bool case_failed;
	char case_desc[256];
} tap;

static void tap_start(void)
{
	if (tap.started)
		return;
	tap.started = true;
	printf("TAP version 13\n");
	fflush(stdout);
}

static void tap_line(const char *fmt, ...) VT_PRINTF(1, 2);
static void tap_line(const char *fmt, ...)
{
	va_list ap;

	tap_start();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void vt_plan(unsigned int count)
{
	tap.have_plan = true;
	tap.planned = count;
	tap_line("1..%u", count);
}

void vt_diag(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_line("# %s", msg);
}

static void report(bool pass, const char *desc, const char *skip_reason)
{
	tap.count++;
	if (skip_reason) {
		tap.skipped++;
		tap_line("ok %u - %s # SKIP %s", tap.count, desc, skip_reason);
	} else if (pass) {
		tap.passed++;
		tap_line("ok %u - %s", tap.count, desc);
	} else {
		tap.failed++;
		tap_line("not ok %u - %s", tap.count, desc);
	}
}

bool vt_ok(bool cond, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	report(cond, desc, NULL);
	return cond;
}

void vt_skip(const char *reason, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	report(true, desc, reason);
}

void vt_begin(const char *fmt, ...)
{
	va_list ap;

	if (tap.in_case) {
		vt_diag("case '%s' was not ended", tap.case_desc);
		tap.case_failed = true;
		vt_end();
	}
	va_start(ap, fmt);
	vsnprintf(tap.case_desc, sizeof(tap.case_desc), fmt, ap);
	va_end(ap);
	tap.in_case = true;
	tap.case_failed = false;
}

bool vt_end(void)
{
	bool pass = !tap.case_failed;

	if (!tap.in_case) {
		vt_diag("vt_end() outside a case");
		return false;
	}
	tap.in_case = false;
	report(pass, tap.case_desc, NULL);
	return pass;
}

void vt_end_skip(const char *reason, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, reason);
	vsnprintf(why, sizeof(why), reason, ap);
	va_end(ap);
	if (!tap.in_case) {
		vt_diag("vt_end_skip() outside a case");
		return;
	}
	tap.in_case = false;
	if (tap.case_failed)	/* a check already failed: that wins */
		report(false, tap.case_desc, NULL);
	else
		report(true, tap.case_desc, why);
}

/* Record the outcome of one check; msg is printed when it failed. */
static bool check(bool cond, const char *msg)
{
	if (!tap.in_case)	/* a lone check is a case of its own */
		return vt_ok(cond, "%s", msg);
	if (!cond) {
		tap.case_failed = true;
		vt_diag("%s", msg);
	}
	return cond;
}

bool vt_check(bool cond, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cond && tap.in_case)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return check(cond, msg);
}

bool vt_check_eq(uint64_t got, uint64_t want, const char *fmt, ...)
{
	char what[384], msg[512];
	va_list ap;

	if (got == want && tap.in_case)
		return true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: got %#llx, want %#llx", what,
		 (unsigned long long)got, (unsigned long long)want);
	return check(got == want, msg);
}

/* A check on an error code: err 0 is success. */
static bool check_result(int err, int want_err, long ret, const char *what)
{
	char msg[512];

	if (err == want_err && tap.in_case)
		return true;
	if (err == want_err)
		snprintf(msg, sizeof(msg), "%s", what);
	else if (!err)
		snprintf(msg, sizeof(msg), "%s: returned %ld, want error %s",
			 what, ret, vt_errname(want_err));
	else if (!want_err)
		snprintf(msg, sizeof(msg), "%s: failed with %s", what, vt_errname(err));
	else
		snprintf(msg, sizeof(msg), "%s: error %s, want %s", what,
			 vt_errname(err), vt_errname(want_err));
	return check(err == want_err, msg);
}

#define FORMAT_WHAT(what, fmt)					\
	do {							\
		va_list ap;					\
		va_start(ap, fmt);				\
		vsnprintf(what, sizeof(what), fmt, ap);		\
		va_end(ap);					\
	} while (0)

bool vt_check_ok(long ret, const char *fmt, ...)
{
	int err = ret < 0 ? errno : 0;
	char what[384];
	bool pass;

	FORMAT_WHAT(what, fmt);
	pass = check_result(err, 0, ret, what);
	errno = err;
	return pass;
}

bool vt_check_errno(long ret, int want_errno, const char *fmt, ...)
{
	int err = ret == -1 ? errno : 0;
	char what[384];
	bool pass;

	FORMAT_WHAT(what, fmt);
	pass = check_result(err, want_errno, ret, what);
	errno = err;
	return pass;
}

bool vt_check_ret(int ret, const char *fmt, ...)
{
	char what[384];

	FORMAT_WHAT(what, fmt);
	return check_result(ret < 0 ? -ret : 0, 0, ret, what);
}

bool vt_check_err(int ret, int want_errno, const char *fmt, ...)
{
	char what[384];

	FORMAT_WHAT(what, fmt);
	return check_result(ret < 0 ? -ret : 0, want_errno, ret, what);
}

const char *vt_errname(int err)
{
	static char buf[24];
	const char *name;

	if (err == 0)
		return "0";
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

int vt_finish(void)
{
	bool plan_ok = true;

	if (tap.in_case) {
		vt_diag("case '%s' was not ended", tap.case_desc);
		vt_end();
	}
	if (!tap.have_plan) {
		tap_line("1..%u", tap.count);
	} else if (tap.count != tap.planned) {
		vt_diag("planned %u test cases, ran %u", tap.planned, tap.count);
		plan_ok = false;
	}
	tap_line("# %u passed, %u failed, %u skipped", tap.passed, tap.failed,
		 tap.skipped);
	return tap.failed || !plan_ok ? 1 : 0;
}

void vt_skip_all(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_line("1..0 # SKIP %s", msg);
	tap_line("# 0 passed, 0 failed, 0 skipped");
	exit(0);
}

void vt_bail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tap.in_case) {
		tap.case_failed = true;
		vt_end();
	}
	tap_line("Bail out! %s", msg);
	vt_finish();
	exit(1);
}

/* ======================================================================== */
/* Environment                                                                */

bool vt_baseline(void)
{
	const char *mode = getenv("VFIO_TEST_MODE");

	return mode && strcmp(mode, "baseline") == 0;
}

const char *vt_kernel(void)
{
	const char *k = getenv("VFIO_TEST_KERNEL");

	return k && *k ? k : "unknown";
}

bool vt_kernel_is_6_1(void)
{
	const char *k = getenv("VFIO_TEST_KERNEL");
	struct utsname u;

	if (k && *k)
		return strcmp(k, "6.1") == 0;
	return uname(&u) == 0 && strncmp(u.release, "6.1.", 4) == 0;
}

bool vt_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

bool vt_err_irq_conventional(void)
{
	return vt_kernel_at_least(7, 3);
}

bool vt_slow_kernel(void)
{
	return strcmp(vt_kernel(), "debug") == 0;
}

const char *vt_driver_ko(void)
{
	const char *ko = getenv("VFIO_TEST_DRIVER_KO");

	return ko && *ko ? ko : NULL;
}

bool vt_nointxmask(void)
{
	char val[8];

	return vt_read_file("/sys/module/" VT_MODULE "/parameters/nointxmask", val,
			    sizeof(val)) > 0 && (val[0] == 'Y' || val[0] == '1');
}

bool vt_extension(const char *why, const char *fmt, ...)
{
	char desc[256], reason[256];
	va_list ap;

	if (!vt_baseline())
		return true;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	snprintf(reason, sizeof(reason), "extension: %s", why);
	report(true, desc, reason);
	return false;
}

/* ======================================================================== */
/* sysfs                                                                      */

int vt_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -err;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

int vt_sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	close(fd);
	errno = err;
	return -err;
}

static void dev_path(char *path, size_t len, const char *bdf, const char *attr)
{
	snprintf(path, len, SYSFS_DEVICES "/%s/%s", bdf, attr);
}

int vt_sysfs_read(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	dev_path(path, sizeof(path), bdf, attr);
	return vt_read_file(path, buf, len);
}

bool vt_sysfs_exists(const char *bdf, const char *attr)
{
	char path[PATH_MAX];

	dev_path(path, sizeof(path), bdf, attr);
	return access(path, F_OK) == 0;
}

long vt_sysfs_size(const char *bdf, const char *attr)
{
	char path[PATH_MAX];
	struct stat st;

	dev_path(path, sizeof(path), bdf, attr);
	if (stat(path, &st))
		return -errno;
	return (long)st.st_size;
}

static int read_hex_attr(const char *bdf, const char *attr, unsigned long *val)
{
	char buf[32], *end;
	int ret;

	ret = vt_sysfs_read(bdf, attr, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	errno = 0;
	*val = strtoul(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

static const struct {
	const char *name;
	uint16_t vendor;
	uint16_t device;
} lab_ids[] = {
	{ "edu",	 0x1234, 0x11e8 },
	{ "pci-testdev", 0x1b36, 0x0005 },
	{ "ivshmem",	 0x1af4, 0x1110 },
	{ "nvme",	 0x1b36, 0x0010 },
	{ "e1000e",	 0x8086, 0x10d3 },
	{ "virtio-rng",	 0x1af4, 0x1044 },
	{ "vga",	 0x1234, 0x1111 },
};

static const char *lab_name(uint16_t vendor, uint16_t device)
{
	for (size_t i = 0; i < sizeof(lab_ids) / sizeof(lab_ids[0]); i++)
		if (lab_ids[i].vendor == vendor && lab_ids[i].device == device)
			return lab_ids[i].name;
	return "pci";
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct vt_dev *)a)->bdf,
		      ((const struct vt_dev *)b)->bdf);
}

/* Append the devices matching vendor:device (any when vendor is 0). */
static int scan_devices(uint16_t vendor, uint16_t device, bool lab_only,
			struct vt_dev *out, int n, int max)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir(SYSFS_DEVICES);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max) {
		unsigned long v, d;
		const char *name;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= VT_BDF_LEN)
			continue;
		if (read_hex_attr(de->d_name, "vendor", &v) ||
		    read_hex_attr(de->d_name, "device", &d))
			continue;
		if (vendor && (v != vendor || d != device))
			continue;
		name = lab_name((uint16_t)v, (uint16_t)d);
		if (lab_only && strcmp(name, "pci") == 0)
			continue;
		snprintf(out[n].bdf, sizeof(out[n].bdf), "%s", de->d_name);
		out[n].name = name;
		out[n].vendor = (uint16_t)v;
		out[n].device = (uint16_t)d;
		n++;
	}
	closedir(dir);
	qsort(out, (size_t)n, sizeof(*out), cmp_dev);
	return n;
}

int vt_find_devices(uint16_t vendor, uint16_t device, struct vt_dev *out, int max)
{
	return scan_devices(vendor, device, false, out, 0, max);
}

int vt_lab_devices(struct vt_dev *out, int max)
{
	return scan_devices(0, 0, true, out, 0, max);
}

int vt_driver(const char *bdf, char *name, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	dev_path(path, sizeof(path), bdf, "driver");
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return -errno;
		name[0] = '\0';
		return 0;
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(name, len, "%s", base ? base + 1 : target);
	return 0;
}

bool vt_is_bound(const char *bdf)
{
	char drv[VT_NAME_LEN];

	return vt_driver(bdf, drv, sizeof(drv)) == 0 && strcmp(drv, VT_DRIVER) == 0;
}

int vt_get_override(const char *bdf, char *buf, size_t len)
{
	int ret = vt_sysfs_read(bdf, "driver_override", buf, len);

	if (ret >= 0 && strcmp(buf, "(null)") == 0)
		buf[0] = '\0';
	return ret < 0 ? ret : 0;
}

int vt_set_override(const char *bdf, const char *driver)
{
	char path[PATH_MAX];
	int ret;

	dev_path(path, sizeof(path), bdf, "driver_override");
	/* A lone newline clears the override. */
	ret = vt_sysfs_write(path, driver && *driver ? driver : "\n");
	if (ret)
		vt_diag("%s: writing driver_override: %s", bdf, vt_errname(-ret));
	return ret;
}

int vt_unbind(const char *bdf)
{
	char drv[VT_NAME_LEN], path[PATH_MAX];
	int ret;

	ret = vt_driver(bdf, drv, sizeof(drv));
	if (ret || !drv[0])
		return ret;
	dev_path(path, sizeof(path), bdf, "driver/unbind");
	ret = vt_sysfs_write(path, bdf);
	if (ret) {
		vt_diag("%s: unbind from %s: %s", bdf, drv, vt_errname(-ret));
		return ret;
	}
	ret = vt_driver(bdf, drv, sizeof(drv));
	if (!ret && drv[0]) {
		vt_diag("%s: still bound to %s after unbind", bdf, drv);
		ret = -EBUSY;
	}
	return ret;
}

int vt_probe(const char *bdf)
{
	int ret = vt_sysfs_write(SYSFS_PCI "/drivers_probe", bdf);

	if (ret)
		vt_diag("%s: drivers_probe: %s", bdf, vt_errname(-ret));
	return ret;
}

int vt_bind(const char *bdf)
{
	char drv[VT_NAME_LEN];
	int ret;

	if (vt_is_bound(bdf))
		return 0;
	ret = vt_unbind(bdf);
	if (!ret)
		ret = vt_set_override(bdf, VT_DRIVER);
	if (!ret)
		ret = vt_probe(bdf);
	if (ret)
		return ret;
	ret = vt_driver(bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	if (strcmp(drv, VT_DRIVER) != 0) {
		vt_diag("%s: driver after bind is '%s', not " VT_DRIVER, bdf, drv);
		errno = ENODEV;
		return -ENODEV;
	}
	return 0;
}

int vt_bind_all(const struct vt_dev *devs, int n)
{
	int failures = 0;

	for (int i = 0; i < n; i++)
		if (vt_bind(devs[i].bdf))
			failures++;
	return failures;
}

int vt_lab_bind(struct vt_dev *devs, int max)
{
	int n = vt_lab_devices(devs, max);

	if (n <= 0)
		vt_skip_all("no lab devices in this topology");
	if (vt_bind_all(devs, n))
		vt_bail("cannot bind the lab devices to " VT_DRIVER);
	return n;
}

int vt_release(const char *bdf)
{
	int ret = vt_unbind(bdf);

	return ret ? ret : vt_set_override(bdf, NULL);
}

int vt_sysfs_reset(const char *bdf)
{
	char path[PATH_MAX];

	dev_path(path, sizeof(path), bdf, "reset");
	return vt_sysfs_write(path, "1");
}

int vt_iommu_group(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX], *base, *end;
	ssize_t n;
	long group;

	dev_path(path, sizeof(path), bdf, "iommu_group");
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	group = strtol(base, &end, 10);
	if (end == base || *end || group < 0 || group > INT_MAX)
		return -EINVAL;
	return (int)group;
}

static int cmp_bdf(const void *a, const void *b)
{
	return strcmp(a, b);
}

int vt_group_devices(int group, char (*bdfs)[VT_BDF_LEN], int max)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= VT_BDF_LEN)
			continue;
		snprintf(bdfs[n++], VT_BDF_LEN, "%s", de->d_name);
	}
	closedir(dir);
	qsort(bdfs, (size_t)n, VT_BDF_LEN, cmp_bdf);
	return n;
}

bool vt_parent_bdf(const char *bdf, char *out, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX], *slash, *parent;

	dev_path(path, sizeof(path), bdf, "");
	if (!realpath(path, real))
		return false;
	slash = strrchr(real, '/');	/* .../<parent>/<bdf> */
	if (!slash)
		return false;
	*slash = '\0';
	parent = strrchr(real, '/');
	/* Devices on a root bus hang off the host bridge node "pciDDDD:BB". */
	if (!parent || strncmp(parent + 1, "pci", 3) == 0)
		return false;
	snprintf(out, len, "%s", parent + 1);
	return true;
}

bool vt_behind_bridge(const char *bdf)
{
	char bridge[VT_BDF_LEN];

	return vt_parent_bdf(bdf, bridge, sizeof(bridge));
}

bool vt_bridge_pair(const struct vt_dev *devs, int n, const char **a, const char **b)
{
	*a = NULL;
	*b = NULL;
	for (int i = 0; i < n; i++) {
		if (!vt_behind_bridge(devs[i].bdf))
			continue;
		if (!*a)
			*a = devs[i].bdf;
		else if (!*b)
			*b = devs[i].bdf;
	}
	return *a && *b;
}

int vt_sysfs_config_rw(const char *bdf, unsigned int off, void *val, size_t len, bool write)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	dev_path(path, sizeof(path), bdf, "config");
	fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write ? pwrite(fd, val, len, off) : pread(fd, val, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

int vt_sysfs_config(const char *bdf, uint8_t *buf, size_t len)
{
	char path[PATH_MAX];
	size_t done = 0;
	int fd;

	dev_path(path, sizeof(path), bdf, "config");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	return (int)done;
}

int vt_resources(const char *bdf, struct vt_resource res[VT_NUM_RESOURCES])
{
	char path[PATH_MAX];
	FILE *f;
	int i;

	dev_path(path, sizeof(path), bdf, "resource");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (i = 0; i < VT_NUM_RESOURCES; i++) {
		unsigned long long s, e, fl;

		if (fscanf(f, "%llx %llx %llx", &s, &e, &fl) != 3)
			break;
		res[i].start = s;
		res[i].end = e;
		res[i].flags = fl;
	}
	fclose(f);
	return i == VT_NUM_RESOURCES ? 0 : -EINVAL;
}

uint64_t vt_resource_size(const struct vt_resource *r)
{
	if (!r->start && !r->end)
		return 0;
	return r->end - r->start + 1;
}

unsigned int vt_pci_find_cap(const uint8_t *cfg, size_t len, uint8_t id)
{
	unsigned int pos;

	if (len < 0x40 || !(vt_le16(cfg + 0x06) & 0x10))	/* Status.CapList */
		return 0;
	pos = cfg[0x34] & ~3u;
	for (int ttl = 48; pos >= 0x40 && pos + 2 <= len && ttl; ttl--) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & ~3u;
	}
	return 0;
}

unsigned int vt_pci_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id)
{
	unsigned int pos = 0x100;

	for (int ttl = 480; pos >= 0x100 && pos + 4 <= len && ttl; ttl--) {
		uint32_t hdr = vt_le32(cfg + pos);

		if (!hdr || hdr == 0xffffffff)
			return 0;
		if ((hdr & 0xffff) == id)
			return pos;
		pos = (hdr >> 20) & ~3u;
	}
	return 0;
}

/* ======================================================================== */
/* VFIO                                                                       */

int vt_open_container(void)
{
	int fd, ver;

	fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ver = ioctl(fd, VFIO_GET_API_VERSION);
	if (ver != VFIO_API_VERSION) {
		vt_diag("VFIO API version %d, want %d", ver, VFIO_API_VERSION);
		close(fd);
		errno = EINVAL;
		return -EINVAL;
	}
	return fd;
}

int vt_open_group(int group_id)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vt_attach_group(int container, int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st))
		return -errno;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		vt_diag("group is not viable (flags %#x)", st.flags);
		errno = EPERM;
		return -EPERM;
	}
	if (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET)
		return 0;
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		return -errno;
	return 0;
}

static int fail_step(struct vt_vfio *v, const char *bdf, const char *step, int err)
{
	vt_diag("%s: %s: %s", bdf, step, vt_errname(err));
	vt_vfio_close(v);
	errno = err;
	return -err;
}

int vt_vfio_open(struct vt_vfio *v, const char *bdf)
{
	int ret;

	v->container = v->group = v->device = -1;
	v->group_id = vt_iommu_group(bdf);
	if (v->group_id < 0)
		return fail_step(v, bdf, "iommu_group", -v->group_id);
	ret = vt_open_container();
	if (ret < 0)
		return fail_step(v, bdf, "open /dev/vfio/vfio", -ret);
	v->container = ret;
	ret = vt_open_group(v->group_id);
	if (ret < 0)
		return fail_step(v, bdf, "open group", -ret);
	v->group = ret;
	ret = vt_attach_group(v->container, v->group);
	if (ret < 0)
		return fail_step(v, bdf, "VFIO_GROUP_SET_CONTAINER", -ret);
	if (ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail_step(v, bdf, "VFIO_SET_IOMMU type1v2", errno);
	ret = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (ret < 0)
		return fail_step(v, bdf, "VFIO_GROUP_GET_DEVICE_FD", errno);
	v->device = ret;
	return 0;
}

void vt_vfio_close(struct vt_vfio *v)
{
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	v->container = v->group = v->device = -1;
}

int vt_device_info(int device, struct vt_device_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return ioctl(device, VFIO_DEVICE_GET_INFO, info) ? -errno : 0;
}

struct vfio_region_info *vt_region_info(int device, uint32_t index)
{
	struct vfio_region_info *info, *bigger;
	uint32_t argsz = sizeof(*info);

	info = calloc(1, argsz);
	if (!info)
		return NULL;
	for (int tries = 0; tries < 2; tries++) {
		info->argsz = argsz;
		info->index = index;
		if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info)) {
			int err = errno;

			free(info);
			errno = err;
			return NULL;
		}
		if (info->argsz <= argsz)
			return info;
		/* The capability chain needs more room: the kernel said how much. */
		argsz = info->argsz;
		bigger = realloc(info, argsz);
		if (!bigger) {
			free(info);
			errno = ENOMEM;
			return NULL;
		}
		info = bigger;
		memset(info, 0, argsz);
	}
	free(info);
	errno = EOVERFLOW;
	return NULL;
}

const struct vfio_info_cap_header *vt_info_cap(const void *info, size_t len,
					       uint32_t cap_offset, uint16_t id)
{
	const struct vfio_info_cap_header *hdr;
	uint32_t off = cap_offset;

	for (int ttl = 64; off && ttl; ttl--) {
		if (off < sizeof(uint32_t) * 2 || off > len ||
		    len - off < sizeof(*hdr))
			return NULL;
		hdr = (const void *)((const uint8_t *)info + off);
		if (hdr->id == id)
			return hdr;
		off = hdr->next;
	}
	return NULL;
}

int vt_irq_info(int device, uint32_t index, struct vfio_irq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, info) ? -errno : 0;
}

void *vt_map_region(int device, uint32_t index, size_t *len)
{
	struct vfio_region_info *ri = vt_region_info(device, index);
	void *p;
	int err;

	if (!ri) {
		err = errno;
		vt_diag("region %u info: %s", index, vt_errname(err));
		errno = err;
		return NULL;
	}
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		vt_diag("region %u is not mmappable (flags %#x)", index, ri->flags);
		free(ri);
		errno = ENOTSUP;
		return NULL;
	}
	*len = ri->size;
	p = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)ri->offset);
	err = errno;
	free(ri);
	if (p == MAP_FAILED) {
		vt_diag("mmap region %u: %s", index, vt_errname(err));
		errno = err;
		return NULL;
	}
	return p;
}

int vt_region_read32(int device, uint32_t index, uint64_t off, uint32_t *val)
{
	ssize_t n = pread(device, val, 4, (off_t)(VT_REGION_OFFSET(index) + off));

	if (n == 4)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int vt_region_write32(int device, uint32_t index, uint64_t off, uint32_t val)
{
	ssize_t n = pwrite(device, &val, 4, (off_t)(VT_REGION_OFFSET(index) + off));

	if (n == 4)
		return 0;
	return n < 0 ? -errno : -EIO;
}

ssize_t vt_config_read(int device, void *buf, size_t len, uint64_t off)
{
	return pread(device, buf, len,
		     (off_t)(VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + off));
}

ssize_t vt_config_write(int device, const void *buf, size_t len, uint64_t off)
{
	return pwrite(device, buf, len,
		      (off_t)(VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + off));
}

static int config_rw_result(ssize_t n, size_t want)
{
	if (n < 0)
		return -errno;
	if ((size_t)n != want) {
		errno = EIO;
		return -EIO;
	}
	return 0;
}

int vt_config_read32(int device, uint64_t off, uint32_t *val)
{
	uint8_t b[4];
	int ret = config_rw_result(vt_config_read(device, b, 4, off), 4);

	if (!ret)
		*val = vt_le32(b);
	return ret;
}

int vt_config_read16(int device, uint64_t off, uint16_t *val)
{
	uint8_t b[2];
	int ret = config_rw_result(vt_config_read(device, b, 2, off), 2);

	if (!ret)
		*val = vt_le16(b);
	return ret;
}

int vt_config_write16(int device, uint64_t off, uint16_t val)
{
	uint8_t b[2] = { (uint8_t)val, (uint8_t)(val >> 8) };

	return config_rw_result(vt_config_write(device, b, 2, off), 2);
}

int vt_config_memory(int device, bool on)
{
	uint16_t cmd;
	int ret = vt_config_read16(device, 0x04, &cmd);	/* PCI_COMMAND */

	if (ret)
		return ret;
	cmd = on ? cmd | 0x2 : cmd & ~0x2;		/* PCI_COMMAND_MEMORY */
	return vt_config_write16(device, 0x04, cmd);
}

/* ======================================================================== */
/* Guarded buffers                                                            */

#define GUARD_CANARY	64
#define GUARD_BYTE	0xa5

int vt_guard_alloc(struct vt_guard *g, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (size + 2 * GUARD_CANARY + page - 1) / page * page;
	uint8_t *map;

	memset(g, 0, sizeof(*g));
	g->map_len = data + page;
	map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	if (mprotect(map + data, page, PROT_NONE)) {
		int err = errno;

		munmap(map, g->map_len);
		return -err;
	}
	/* [ ... canary | object | canary ][ no access ] */
	memset(map, GUARD_BYTE, data);
	g->map = map;
	g->size = size;
	g->obj = map + data - GUARD_CANARY - size;
	memset(g->obj, 0, size);
	return 0;
}

bool vt_guard_intact(const struct vt_guard *g)
{
	for (size_t i = 0; i < GUARD_CANARY; i++) {
		if (g->obj[g->size + i] != GUARD_BYTE) {
			vt_diag("guard: byte %zu past the end of the %zu-byte argument was written (%#x)",
				i, g->size, g->obj[g->size + i]);
			return false;
		}
		if (g->obj[-1 - (ptrdiff_t)i] != GUARD_BYTE) {
			vt_diag("guard: byte %zu before the argument was written", i + 1);
			return false;
		}
	}
	return true;
}

void vt_guard_free(struct vt_guard *g)
{
	if (g->map)
		munmap(g->map, g->map_len);
	memset(g, 0, sizeof(*g));
}

void *vt_bad_pointer(void)
{
	static void *page;

	if (!page) {
		page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED)
			page = NULL;
	}
	return page;
}

/* ======================================================================== */
/* Interrupts: eventfds, VFIO_DEVICE_SET_IRQS, /proc/interrupts              */

int vt_efd_new(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

uint64_t vt_efd_take(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

uint64_t vt_efd_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return vt_efd_take(fd);
}

int vt_set_irqs_argsz(int device, uint32_t argsz, uint32_t flags, uint32_t index,
		      uint32_t start, uint32_t count, const void *data, size_t len)
{
	size_t sz = sizeof(struct vfio_irq_set) + len;
	struct vfio_irq_set *s = calloc(1, sz);
	int ret, err;

	if (!s)
		return -1;
	s->argsz = argsz;
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (len)
		memcpy(s->data, data, len);
	ret = ioctl(device, VFIO_DEVICE_SET_IRQS, s);
	err = errno;
	free(s);
	errno = err;
	return ret;
}

int vt_set_irqs(int device, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		const void *data, size_t len)
{
	return vt_set_irqs_argsz(device, (uint32_t)(sizeof(struct vfio_irq_set) + len), flags,
				 index, start, count, data, len);
}

int vt_irq_action_fd(int device, uint32_t action, uint32_t index, int32_t fd)
{
	return vt_set_irqs(device, VFIO_IRQ_SET_DATA_EVENTFD | action, index, 0, 1, &fd,
			   sizeof(fd));
}

int vt_irq_set_fd(int device, uint32_t index, int32_t fd)
{
	return vt_irq_action_fd(device, VFIO_IRQ_SET_ACTION_TRIGGER, index, fd);
}

int vt_irq_action_none(int device, uint32_t action, uint32_t index)
{
	return vt_set_irqs(device, VFIO_IRQ_SET_DATA_NONE | action, index, 0, 1, NULL, 0);
}

int vt_irq_action_bool(int device, uint32_t action, uint32_t index, uint8_t b)
{
	return vt_set_irqs(device, VFIO_IRQ_SET_DATA_BOOL | action, index, 0, 1, &b, 1);
}

int vt_irq_disable(int device, uint32_t index)
{
	return vt_set_irqs(device, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0,
			   0, NULL, 0);
}

/* Count the lines of /proc/interrupts holding name, or every occurrence. */
static int proc_irq_count(const char *name, bool each)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen("/proc/interrupts", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!each) {
			if (strstr(line, name))
				n++;
			continue;
		}
		for (char *p = line; (p = strstr(p, name)); p++)
			n++;
	}
	fclose(f);
	return n;
}

int vt_proc_irq_lines(const char *name)
{
	return proc_irq_count(name, false);
}

int vt_proc_irq_matches(const char *name)
{
	return proc_irq_count(name, true);
}

/* ======================================================================== */
/* Accesses through a BAR mapping, faults caught                             */

static __thread sigjmp_buf fault_jmp;
static __thread volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed)
		siglongjmp(fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

void vt_fault_handler_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

int vt_map_copy(volatile void *map, void *buf, size_t len, unsigned int width, bool store)
{
	int sig;

	fault_armed = 1;
	sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		fault_armed = 0;
		return sig;
	}
	for (size_t i = 0; i < len; i += width) {
		volatile uint8_t *m = (volatile uint8_t *)map + i;
		uint8_t *b = (uint8_t *)buf + i;

		/* One access of sizeof(type) to the mapping; buf may be unaligned. */
#define COPY_AS(type) do {					\
			type v;					\
								\
			if (store) {				\
				memcpy(&v, b, sizeof(v));	\
				*(volatile type *)m = v;	\
			} else {				\
				v = *(volatile type *)m;	\
				memcpy(b, &v, sizeof(v));	\
			}					\
		} while (0)
		switch (width) {
		case 8:
			COPY_AS(uint64_t);
			break;
		case 4:
			COPY_AS(uint32_t);
			break;
		case 2:
			COPY_AS(uint16_t);
			break;
		default:
			COPY_AS(uint8_t);
		}
#undef COPY_AS
	}
	fault_armed = 0;
	return 0;
}

int vt_map_load32(volatile void *p, uint32_t *val)
{
	return vt_map_copy(p, val, 4, 4, false);
}

int vt_map_store32(volatile void *p, uint32_t val)
{
	return vt_map_copy(p, &val, 4, 4, true);
}

const char *vt_sig_name(int sig)
{
	return sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : sig ? "a signal" : "none";
}

/* ======================================================================== */
/* Programs organized by device kind                                          */

static void run_kind(const struct vt_kind *kind, const struct vt_dev *d)
{
	struct vt_kind_dev kd = { .d = d };
	int ret = vt_resources(d->bdf, kd.res);

	if (!ret)
		ret = vt_vfio_open(&kd.v, d->bdf);
	if (ret) {
		for (int i = 0; i < kind->cases; i++)
			vt_ok(false, "%s %s: case %d (open failed: %s)", d->name, d->bdf, i,
			      vt_errname(-ret));
		return;
	}
	kind->run(&kd);
	vt_vfio_close(&kd.v);
}

int vt_main_kinds(const struct vt_kind *kinds, size_t n)
{
	struct vt_dev *found = calloc(n, sizeof(*found));
	bool *have = calloc(n, sizeof(*have));
	unsigned int cases = 0, present = 0;
	char names[256] = "";

	if (!found || !have)
		vt_bail("out of memory");
	for (size_t k = 0; k < n; k++) {
		struct vt_dev devs[VT_MAX_DEVS];
		int count = vt_find_devices(kinds[k].vendor, kinds[k].device, devs, VT_MAX_DEVS);

		have[k] = count > 0;
		if (have[k]) {
			found[k] = devs[0];	/* the first one, on the root bus if any */
			present++;
		}
		cases += (unsigned int)kinds[k].cases;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 k ? ", " : "", kinds[k].name);
	}
	if (!present)
		vt_skip_all("none of %s in this topology", names);
	for (size_t k = 0; k < n; k++)
		if (have[k] && vt_bind(found[k].bdf))
			vt_bail("cannot bind %s %s to " VT_DRIVER, kinds[k].name, found[k].bdf);
	vt_plan(cases);
	for (size_t k = 0; k < n; k++) {
		if (!have[k]) {
			for (int i = 0; i < kinds[k].cases; i++)
				vt_skip("not in this topology", "%s case %d", kinds[k].name, i);
			continue;
		}
		run_kind(&kinds[k], &found[k]);
	}
	free(found);
	free(have);
	return vt_finish();
}

/* ======================================================================== */
/* Misc                                                                       */

bool vt_iomem_find(uint64_t start, uint64_t end, char *name, size_t len)
{
	char line[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/iomem", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		int pos = 0;

		if (sscanf(line, " %llx-%llx : %n", &s, &e, &pos) != 2 || !pos)
			continue;
		if (s != start || e != end)
			continue;
		found = true;
		line[strcspn(line, "\n")] = '\0';
		if (len)
			snprintf(name, len, "%s", line + pos);
	}
	fclose(f);
	return found;
}

int vt_debugfs_read(const char *bdf, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t used = 0;
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	snprintf(path, sizeof(path), VT_DEBUGFS "/%s/%s", bdf, file);
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (used < len - 1 && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
	return (int)used;
}

int vt_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int vt_kmsg_count(int fd, const char *a, const char *b, int diag)
{
	char rec[1024];
	int n = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t len = read(fd, rec, sizeof(rec) - 1);

		if (len < 0 && errno == EPIPE)	/* overwritten records: skipped */
			continue;
		if (len <= 0)
			break;
		rec[len] = '\0';
		if ((a && !strstr(rec, a)) || (b && !strstr(rec, b)))
			continue;
		rec[strcspn(rec, "\n")] = '\0';
		if (n++ < diag)
			vt_diag("kernel log: %s", rec);
	}
	return n;
}

long vt_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

bool vt_wait_attr(const char *bdf, const char *attr, const char *want, int ms)
{
	struct timespec t0;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int ret = vt_sysfs_read(bdf, attr, buf, sizeof(buf));

		if (ret < 0)
			snprintf(buf, sizeof(buf), "(%s)", vt_errname(-ret));
		if (strcmp(buf, want) == 0)
			return true;
		if (vt_ms_since(&t0) > ms)
			break;
		usleep(10000);
	}
	vt_diag("%s: %s is %s after %d ms, want %s", bdf, attr, buf, ms, want);
	return false;
}

int vt_wait_child(pid_t pid, int ms)
{
	struct timespec t0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
		if (r < 0)
			return -2;
		if (vt_ms_since(&t0) >= ms)
			return -1;
		usleep(10000);
	}
}

void vt_unbind_reap(pid_t pid, int ms)
{
	if (pid > 0 && vt_wait_child(pid, ms) == -1) {
		vt_diag("unbind child %d still blocked: killing it", pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

bool vt_unbind_done(pid_t pid, const char *bdf, int ms, const char *after)
{
	struct timespec t0;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = vt_wait_child(pid, ms);
	if (!vt_check(st != -1, "unbind still blocked %d ms after %s", ms, after))
		return false;
	vt_diag("unbind completed %ld ms after %s", vt_ms_since(&t0), after);
	vt_check_eq(st, 0, "unbind child exit status (errno)");
	return vt_check(!vt_is_bound(bdf), "%s still bound after the unbind", bdf);
}

int vt_count_fds(void)
{
	struct dirent *de;
	DIR *dir;
	int n = 0;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}

long vt_meminfo_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long val = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			val = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

int vt_module_refcnt(const char *module)
{
	char path[PATH_MAX], buf[32];
	int ret;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", module);
	ret = vt_read_file(path, buf, sizeof(buf));
	return ret < 0 ? ret : atoi(buf);
}

int vt_delete_module(const char *name, unsigned int flags)
{
	return (int)syscall(SYS_delete_module, name, flags);
}

int vt_insert_module(const char *path, const char *params)
{
	int fd, ret, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = (int)syscall(SYS_finit_module, fd, params ? params : "", 0);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

#define HOST_REPLY_TIMEOUT_MS	60000

int vt_host_cmd(const char *hmp, char *resp, size_t len)
{
	/* Kept open so that successive replies are read in order. */
	static int fd = -1;
	const char *path = getenv("VFIO_TEST_HOSTCMD");
	struct timespec start, now;
	size_t n = 0;

	if (!path || !*path || len == 0)
		return -ENOSYS;
	if (fd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return -errno;
	}
	printf("@@HOST %s\n", hmp);
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;
		ssize_t r;
		long waited;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= HOST_REPLY_TIMEOUT_MS)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return -errno;
		r = read(fd, &c, 1);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (r <= 0) {
			/* Nothing yet (or EOF of a file still being written). */
			if (r == 0)
				usleep(10000);
			continue;
		}
		if (c == '\n')
			break;
		if (c != '\r' && n + 1 < len)
			resp[n++] = c;
	}
	resp[n] = '\0';
	return (int)n;
}
