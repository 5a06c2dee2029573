// SPDX-License-Identifier: GPL-2.0-only
/*
 * Binding: every device of the lab goes to vfio-pci through driver_override
 * (and through the driver's bind file), leaves it on unbind, and is never
 * taken by vfio-pci without driver_override (override-only ID table).
 */
#include "vfio_test.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DRIVER_DIR	"/sys/bus/pci/drivers/" VT_DRIVER

static bool in_driver_dir(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), DRIVER_DIR "/%s", bdf);
	return access(path, F_OK) == 0;
}

static bool group_node_exists(const char *bdf)
{
	char path[64];
	int group = vt_iommu_group(bdf);

	if (group < 0)
		return false;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	return access(path, F_OK) == 0;
}

static void check_driver(const char *bdf, const char *want)
{
	char drv[VT_NAME_LEN];

	if (vt_check_ret(vt_driver(bdf, drv, sizeof(drv)), "read driver link"))
		vt_check(strcmp(drv, want) == 0, "driver is '%s', want '%s'", drv, want);
}

/* The state every bound device must be in. */
static void check_bound(const char *bdf)
{
	char ovr[VT_NAME_LEN];

	check_driver(bdf, VT_DRIVER);
	vt_check(in_driver_dir(bdf), "%s missing from " DRIVER_DIR, bdf);
	vt_check(group_node_exists(bdf), "no /dev/vfio/<group> node for %s", bdf);
	if (vt_check_ret(vt_get_override(bdf, ovr, sizeof(ovr)), "read driver_override"))
		vt_check(strcmp(ovr, VT_DRIVER) == 0, "driver_override is '%s'", ovr);
}

/* The device can be opened and answers an ioctl. */
static void check_usable(const char *bdf)
{
	struct vt_device_info info;
	struct vt_vfio v;

	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open through VFIO"))
		return;
	if (vt_check_ret(vt_device_info(v.device, &info), "VFIO_DEVICE_GET_INFO"))
		vt_check(info.flags & VFIO_DEVICE_FLAGS_PCI, "FLAGS_PCI not set");
	vt_vfio_close(&v);
}

static void test_driver_registered(void)
{
	char target[PATH_MAX];
	ssize_t n;

	vt_begin("driver '" VT_DRIVER "' is registered by module " VT_MODULE);
	vt_check(access(DRIVER_DIR, F_OK) == 0, DRIVER_DIR " does not exist");
	n = readlink(DRIVER_DIR "/module", target, sizeof(target) - 1);
	if (vt_check_ok(n, "readlink " DRIVER_DIR "/module")) {
		const char *base;

		target[n] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		vt_check(strcmp(base, VT_MODULE) == 0, "driver module is '%s'", base);
	}
	vt_check(access(DRIVER_DIR "/new_id", W_OK) == 0 &&
		 access(DRIVER_DIR "/remove_id", W_OK) == 0,
		 "new_id/remove_id missing");
	vt_end();
}

static void test_device(const struct vt_dev *d)
{
	char drv[VT_NAME_LEN];
	int ret;

	vt_begin("%s %s: bind through driver_override + drivers_probe", d->name, d->bdf);
	/* From no driver at all, whatever the device had before. */
	if (vt_check_ret(vt_unbind(d->bdf), "unbind first") &&
	    vt_check_ret(vt_bind(d->bdf), "bind"))
		check_bound(d->bdf);
	vt_end();

	vt_begin("%s %s: unbind", d->name, d->bdf);
	if (vt_check_ret(vt_unbind(d->bdf), "unbind")) {
		check_driver(d->bdf, "");
		vt_check(!in_driver_dir(d->bdf), "%s still listed in " DRIVER_DIR, d->bdf);
	}
	vt_end();

	vt_begin("%s %s: not taken by " VT_DRIVER " without driver_override", d->name, d->bdf);
	vt_check_ret(vt_set_override(d->bdf, NULL), "clear driver_override");
	vt_check_ret(vt_probe(d->bdf), "drivers_probe");
	vt_check(!vt_is_bound(d->bdf), "bound to " VT_DRIVER " without driver_override");
	if (!vt_driver(d->bdf, drv, sizeof(drv)) && drv[0])
		vt_diag("%s: taken by its native driver %s", d->bdf, drv);
	vt_end();

	vt_begin("%s %s: " DRIVER_DIR "/bind refused without driver_override",
		 d->name, d->bdf);
	if (vt_check_ret(vt_unbind(d->bdf), "unbind the native driver")) {
		ret = vt_sysfs_write(DRIVER_DIR "/bind", d->bdf);
		vt_check_err(ret, ENODEV, "write %s to bind", d->bdf);
		check_driver(d->bdf, "");
	}
	vt_end();

	vt_begin("%s %s: rebind through driver_override + " DRIVER_DIR "/bind",
		 d->name, d->bdf);
	vt_check_ret(vt_set_override(d->bdf, VT_DRIVER), "set driver_override");
	ret = vt_sysfs_write(DRIVER_DIR "/bind", d->bdf);
	if (vt_check_ret(ret, "write %s to bind", d->bdf)) {
		check_bound(d->bdf);
		check_usable(d->bdf);
	}
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n = vt_lab_devices(devs, VT_MAX_DEVS);

	if (n <= 0)
		vt_skip_all("no lab devices in this topology");
	vt_plan(1 + 5 * (unsigned int)n);
	test_driver_registered();
	for (int i = 0; i < n; i++)
		test_device(&devs[i]);
	return vt_finish();
}
