// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module unload: refused while a device fd is open (the device keeps
 * working), clean once it is closed (driver, module and group nodes gone),
 * and a re-inserted module takes the devices back: through ids= for a device
 * without driver_override, through driver_override for the others, and never
 * a device that has neither.  Runs last: it unloads the module under test.
 */
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRIVER_DIR	"/sys/bus/pci/drivers/" VT_DRIVER
#define MODULE_DIR	"/sys/module/" VT_MODULE

static struct vt_dev devs[VT_MAX_DEVS];
static int ndevs;

static bool device_answers(int fd)
{
	struct vt_device_info info;
	struct vfio_region_info *reg;
	bool ok;

	if (!vt_check_ret(vt_device_info(fd, &info), "GET_INFO"))
		return false;
	reg = vt_region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX);
	ok = vt_check(reg && reg->size >= 256, "config region info: %s",
		      reg ? "too small" : vt_errname(errno));
	free(reg);
	return ok && vt_check(info.num_regions == 9, "num_regions %u", info.num_regions);
}

static void test_refused_while_open(const struct vt_dev *d)
{
	struct vt_vfio v;

	vt_begin("delete_module(" VT_MODULE ") refused while %s %s is open", d->name, d->bdf);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_check_errno(vt_delete_module(VT_MODULE, O_NONBLOCK), EWOULDBLOCK,
			       "delete_module");
		vt_check(access(MODULE_DIR, F_OK) == 0, "module gone");
		vt_check(access(DRIVER_DIR, F_OK) == 0, "driver gone");
		vt_check(vt_is_bound(d->bdf), "device lost its driver");
		device_answers(v.device);
		vt_vfio_close(&v);
	}
	vt_end();
}

/* Module unload; on failure say who holds the module. */
static bool unload(void)
{
	int ret = vt_delete_module(VT_MODULE, O_NONBLOCK);

	if (!vt_check_ok(ret, "delete_module(" VT_MODULE ")")) {
		vt_diag(VT_MODULE " refcnt %d", vt_module_refcnt(VT_MODULE));
		return false;
	}
	return true;
}

static void test_unload(void)
{
	vt_begin("delete_module(" VT_MODULE ") succeeds once nothing is open");
	if (unload()) {
		vt_check(access(MODULE_DIR, F_OK) != 0, MODULE_DIR " still exists");
		vt_check(access(DRIVER_DIR, F_OK) != 0, DRIVER_DIR " still exists");
		for (int i = 0; i < ndevs; i++) {
			char drv[VT_NAME_LEN] = "";
			char node[64];
			int group = vt_iommu_group(devs[i].bdf);

			vt_driver(devs[i].bdf, drv, sizeof(drv));
			vt_check(strcmp(drv, VT_DRIVER) != 0, "%s still bound", devs[i].bdf);
			snprintf(node, sizeof(node), "/dev/vfio/%d", group);
			vt_check(access(node, F_OK) != 0, "%s still exists", node);
		}
	}
	vt_end();
}

/* Every device is bound (and usable) unless it is `except`. */
static void check_bindings(const struct vt_dev *except)
{
	for (int i = 0; i < ndevs; i++) {
		const struct vt_dev *d = &devs[i];
		struct vt_vfio v;

		if (d == except) {
			vt_check(!vt_is_bound(d->bdf), "%s bound without driver_override",
				 d->bdf);
			continue;
		}
		if (!vt_check(vt_is_bound(d->bdf), "%s %s not bound again", d->name, d->bdf))
			continue;
		if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open %s", d->bdf)) {
			device_answers(v.device);
			vt_vfio_close(&v);
		}
	}
}

static void test_reinsert_ids(const char *ko, const struct vt_dev *edu)
{
	char params[64];

	snprintf(params, sizeof(params), "ids=%04x:%04x", edu->vendor, edu->device);
	vt_begin("insert with %s: %s (no driver_override) and the overridden devices bound",
		 params, edu->bdf);
	if (vt_check_ret(vt_set_override(edu->bdf, NULL), "clear driver_override") &&
	    vt_check_ok(vt_insert_module(ko, params), "finit_module(%s, %s)", ko, params)) {
		vt_check(access(DRIVER_DIR, F_OK) == 0, DRIVER_DIR " missing");
		check_bindings(NULL);
	}
	vt_end();
}

static void test_reinsert_plain(const char *ko, const struct vt_dev *edu)
{
	vt_begin("insert without ids=: %s (no driver_override) left alone, others bound",
		 edu->bdf);
	if (unload() && vt_check_ok(vt_insert_module(ko, ""), "finit_module(%s)", ko))
		check_bindings(edu);
	/* Leave every device bound, as the tests found them. */
	vt_check_ret(vt_bind(edu->bdf), "bind %s again", edu->bdf);
	vt_end();
}

/*
 * What the VGA arbiter says a device decodes of the legacy ranges ("io+mem",
 * "none", ...), from /dev/vga_arbiter after targeting it.
 */
static bool arbiter_decodes(const char *bdf, char *out, size_t len)
{
	char cmd[64], buf[256] = "";
	const char *p;
	ssize_t n = -1;
	int fd = open("/dev/vga_arbiter", O_RDWR);

	if (!vt_check(fd >= 0, "open /dev/vga_arbiter: %s", vt_errname(errno)))
		return false;
	snprintf(cmd, sizeof(cmd), "target PCI:%.32s", bdf);
	if (vt_check(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd), "%s: %s", cmd,
		     vt_errname(errno)))
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (!vt_check(n > 0, "read /dev/vga_arbiter: %s", vt_errname(errno)))
		return false;
	buf[n] = '\0';
	p = strstr(buf, "decodes=");
	if (!vt_check(p != NULL, "no decodes= in '%s'", buf))
		return false;
	p += strlen("decodes=");
	snprintf(out, len, "%.*s", (int)strcspn(p, ",\n"), p);
	return true;
}

/* Region 8 of every VGA device is there (or EINVAL), and the arbiter agrees. */
static void check_vga(bool want_vga)
{
	for (int i = 0; i < ndevs; i++) {
		const struct vt_dev *d = &devs[i];
		struct vfio_region_info *reg;
		char decodes[32];
		struct vt_vfio v;

		if (strcmp(d->name, "vga") != 0)
			continue;
		if (arbiter_decodes(d->bdf, decodes, sizeof(decodes)))
			vt_check(strcmp(decodes, want_vga ? "io+mem" : "none") == 0,
				 "%s: the arbiter says decodes=%s", d->bdf, decodes);
		if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open %s", d->bdf))
			continue;
		reg = vt_region_info(v.device, VFIO_PCI_VGA_REGION_INDEX);
		if (want_vga)
			vt_check(reg && reg->size == 0xc0000, "%s: region 8 info: %s", d->bdf,
				 reg ? "wrong size" : vt_errname(errno));
		else
			vt_check(!reg && errno == EINVAL, "%s: region 8 info: %s, want EINVAL",
				 d->bdf, reg ? "present" : vt_errname(errno));
		free(reg);
		vt_vfio_close(&v);
	}
}

/*
 * disable_vga=1: no VGA region, and a VGA device alone below its root port
 * stops claiming the legacy ranges (its bridge can stop routing them).
 */
static void test_reinsert_disable_vga(const char *ko)
{
	vt_begin("insert with disable_vga=1: VGA devices bound without region 8 or legacy decoding");
	if (unload() &&
	    vt_check_ok(vt_insert_module(ko, "disable_vga=1"), "finit_module(%s, disable_vga=1)",
			ko)) {
		check_bindings(NULL);
		check_vga(false);
	}
	if (unload() && vt_check_ok(vt_insert_module(ko, ""), "finit_module(%s)", ko)) {
		check_bindings(NULL);
		check_vga(true);
	}
	vt_end();
}

int main(void)
{
	const char *ko = vt_driver_ko();
	const struct vt_dev *edu = NULL;
	bool has_vga = false;

	ndevs = vt_lab_bind(devs, VT_MAX_DEVS);
	for (int i = 0; i < ndevs && !edu; i++)
		if (strcmp(devs[i].name, "edu") == 0 && !vt_behind_bridge(devs[i].bdf))
			edu = &devs[i];
	if (!edu)
		vt_skip_all("no edu on the root bus in this topology");

	for (int i = 0; i < ndevs; i++)
		has_vga |= strcmp(devs[i].name, "vga") == 0;

	vt_plan(5);
	test_refused_while_open(edu);
	if (!ko || access(ko, R_OK)) {
		/* Unloading without a way back would break whatever runs next. */
		for (int i = 0; i < 4; i++)
			vt_skip("VFIO_TEST_DRIVER_KO not set or not readable",
				"unload and re-insert, step %d", i + 1);
		return vt_finish();
	}
	test_unload();
	test_reinsert_ids(ko, edu);
	test_reinsert_plain(ko, edu);
	if (has_vga)
		test_reinsert_disable_vga(ko);
	else
		vt_skip("no VGA device in this topology", "insert with disable_vga=1");
	return vt_finish();
}
