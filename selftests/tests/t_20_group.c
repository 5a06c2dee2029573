// SPDX-License-Identifier: GPL-2.0-only
/*
 * Groups and containers: every bound device's group is viable, attaches to a
 * type1v2 container and hands out the device fd; wrong names and a missing
 * container or IOMMU are refused; the two edu behind the pcie-pci-bridge
 * share a group that stays viable while one of them has no driver.
 */
#include "vfio_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

static uint32_t group_flags(int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st)) {
		vt_check_ok(-1, "VFIO_GROUP_GET_STATUS");
		return 0;
	}
	return st.flags;
}

/* The device fd works: GET_INFO says it is a PCI device. */
static void check_device_fd(int fd, const char *bdf)
{
	struct vt_device_info info;

	if (vt_check_ret(vt_device_info(fd, &info), "%s: VFIO_DEVICE_GET_INFO", bdf))
		vt_check(info.flags & VFIO_DEVICE_FLAGS_PCI, "%s: FLAGS_PCI not set", bdf);
}

static void test_container(void)
{
	int c;

	vt_begin("container: API version and type1v2 extension");
	c = vt_open_container();
	if (vt_check_ret(c, "open /dev/vfio/vfio")) {
		vt_check_eq(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1,
			    "CHECK_EXTENSION(TYPE1v2)");
		vt_check_eq(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1,
			    "CHECK_EXTENSION(TYPE1)");
		vt_check_eq(ioctl(c, VFIO_CHECK_EXTENSION, 0x7fff), 0,
			    "CHECK_EXTENSION(unknown)");
		close(c);
	}
	vt_end();
}

/* The whole sequence, step by step, with the group status at each step. */
static void test_open_sequence(const struct vt_dev *d)
{
	int gid, c = -1, g = -1, dev;

	vt_begin("%s %s: group viable, SET_CONTAINER, SET_IOMMU type1v2, GET_DEVICE_FD",
		 d->name, d->bdf);
	gid = vt_iommu_group(d->bdf);
	if (!vt_check_ret(gid, "iommu_group"))
		goto out;
	c = vt_open_container();
	g = vt_open_group(gid);
	if (!vt_check_ret(c, "open container") || !vt_check_ret(g, "open group %d", gid))
		goto out;
	vt_check_eq(group_flags(g), VFIO_GROUP_FLAGS_VIABLE, "group flags before SET_CONTAINER");
	if (!vt_check_ok(ioctl(g, VFIO_GROUP_SET_CONTAINER, &c), "VFIO_GROUP_SET_CONTAINER"))
		goto out;
	vt_check_eq(group_flags(g), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		    "group flags after SET_CONTAINER");
	if (!vt_check_ok(ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "VFIO_SET_IOMMU"))
		goto out;
	dev = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (vt_check_ok(dev, "VFIO_GROUP_GET_DEVICE_FD")) {
		check_device_fd(dev, d->bdf);
		close(dev);
	}
out:
	if (g >= 0)
		close(g);
	if (c >= 0)
		close(c);
	vt_end();
}

/* GET_DEVICE_FD before the group has a container, then before it has an IOMMU. */
static void test_fd_needs_iommu(const struct vt_dev *d)
{
	int gid, c = -1, g = -1;

	vt_begin("%s %s: GET_DEVICE_FD refused without container or IOMMU",
		 d->name, d->bdf);
	gid = vt_iommu_group(d->bdf);
	c = vt_open_container();
	g = vt_open_group(gid);
	if (!vt_check_ret(c, "open container") || !vt_check_ret(g, "open group %d", gid))
		goto out;
	vt_check_errno(ioctl(g, VFIO_GROUP_GET_DEVICE_FD, d->bdf), EINVAL,
		       "GET_DEVICE_FD without container");
	if (vt_check_ok(ioctl(g, VFIO_GROUP_SET_CONTAINER, &c), "SET_CONTAINER"))
		vt_check_errno(ioctl(g, VFIO_GROUP_GET_DEVICE_FD, d->bdf), EINVAL,
			       "GET_DEVICE_FD without SET_IOMMU");
out:
	if (g >= 0)
		close(g);
	if (c >= 0)
		close(c);
	vt_end();
}

static void test_wrong_names(const struct vt_dev *d, const struct vt_dev *other)
{
	char name[VT_BDF_LEN + 2];
	struct vt_vfio v;

	vt_begin("%s %s: GET_DEVICE_FD with wrong names fails", d->name, d->bdf);
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_end();
		return;
	}
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, "0000:ff:1f.7"), ENODEV,
		       "nonexistent address");
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, ""), ENODEV, "empty name");
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, "vfio-pci"), ENODEV,
		       "driver name");
	snprintf(name, sizeof(name), "%s\n", d->bdf);
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, name), ENODEV,
		       "address with a trailing newline");
	memcpy(name, d->bdf, sizeof(d->bdf));
	name[strlen(name) - 1] ^= 1;	/* a neighbouring function */
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, name), ENODEV,
		       "neighbour address %s", name);
	if (other)
		vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, other->bdf), ENODEV,
			       "device %s of another group", other->bdf);
	vt_check_errno(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, NULL), EFAULT, "NULL name");
	check_device_fd(v.device, d->bdf);
	vt_vfio_close(&v);
	vt_end();
}

/* The group shared by the devices behind the pcie-pci-bridge. */
static void test_shared_group(const struct vt_dev *a, const struct vt_dev *b)
{
	char members[8][VT_BDF_LEN];
	int ga = vt_iommu_group(a->bdf), gb = vt_iommu_group(b->bdf);
	int n, c, g, fa, fb;
	bool has_a = false, has_b = false;

	vt_begin("%s %s + %s: share one IOMMU group", a->name, a->bdf, b->bdf);
	vt_check(ga >= 0 && ga == gb, "groups %d and %d", ga, gb);
	n = vt_group_devices(ga, members, 8);
	for (int i = 0; i < n; i++) {
		vt_diag("group %d: %s", ga, members[i]);
		has_a |= strcmp(members[i], a->bdf) == 0;
		has_b |= strcmp(members[i], b->bdf) == 0;
	}
	vt_check(has_a && has_b, "sysfs group %d does not list both devices", ga);
	vt_end();

	vt_begin("%s %s + %s: viable while %s has no driver; its fd is refused",
		 a->name, a->bdf, b->bdf, b->bdf);
	vt_check_ret(vt_release(b->bdf), "release %s", b->bdf);
	c = vt_open_container();
	g = vt_open_group(ga);
	if (vt_check_ret(c, "open container") && vt_check_ret(g, "open group")) {
		vt_check(group_flags(g) & VFIO_GROUP_FLAGS_VIABLE, "group not viable");
		vt_check_ok(ioctl(g, VFIO_GROUP_SET_CONTAINER, &c), "SET_CONTAINER");
		vt_check_ok(ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "SET_IOMMU");
		fa = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, a->bdf);
		if (vt_check_ok(fa, "GET_DEVICE_FD %s", a->bdf)) {
			check_device_fd(fa, a->bdf);
			close(fa);
		}
		vt_check_errno(ioctl(g, VFIO_GROUP_GET_DEVICE_FD, b->bdf), ENODEV,
			       "GET_DEVICE_FD of the unbound %s", b->bdf);
	}
	if (g >= 0)
		close(g);
	if (c >= 0)
		close(c);
	vt_end();

	vt_begin("%s %s + %s: both device fds through one group", a->name, a->bdf, b->bdf);
	vt_check_ret(vt_bind(b->bdf), "rebind %s", b->bdf);
	c = vt_open_container();
	g = vt_open_group(ga);
	if (vt_check_ret(c, "open container") && vt_check_ret(g, "open group") &&
	    vt_check_ret(vt_attach_group(c, g), "attach") &&
	    vt_check_ok(ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "SET_IOMMU")) {
		fa = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, a->bdf);
		fb = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, b->bdf);
		if (vt_check_ok(fa, "GET_DEVICE_FD %s", a->bdf) &&
		    vt_check_ok(fb, "GET_DEVICE_FD %s", b->bdf)) {
			check_device_fd(fa, a->bdf);
			check_device_fd(fb, b->bdf);
		}
		if (fa >= 0)
			close(fa);
		if (fb >= 0)
			close(fb);
	}
	if (g >= 0)
		close(g);
	if (c >= 0)
		close(c);
	vt_end();
}

/* A group can only be opened once at a time. */
static void test_group_exclusive(const struct vt_dev *d)
{
	int gid = vt_iommu_group(d->bdf);
	int g1, g2;

	vt_begin("%s %s: a second open of the group is refused", d->name, d->bdf);
	g1 = vt_open_group(gid);
	if (vt_check_ret(g1, "first open")) {
		g2 = vt_open_group(gid);
		vt_check_err(g2, EBUSY, "second open");
		if (g2 >= 0)
			close(g2);
		close(g1);
	}
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS], edus[VT_MAX_DEVS];
	const struct vt_dev *root_edu = NULL, *bridged[2] = { NULL, NULL };
	int n = vt_lab_bind(devs, VT_MAX_DEVS);
	int nedu = vt_find_devices(0x1234, 0x11e8, edus, VT_MAX_DEVS);
	int nbridged = 0;

	for (int i = 0; i < nedu; i++) {
		if (!vt_behind_bridge(edus[i].bdf))
			root_edu = root_edu ? root_edu : &edus[i];
		else if (nbridged < 2)
			bridged[nbridged++] = &edus[i];
	}

	vt_plan(1 + (unsigned int)n + 4 + 3);
	test_container();
	for (int i = 0; i < n; i++)
		test_open_sequence(&devs[i]);

	if (root_edu) {
		const struct vt_dev *other = NULL;

		for (int i = 0; i < n && !other; i++)
			if (vt_iommu_group(devs[i].bdf) != vt_iommu_group(root_edu->bdf))
				other = &devs[i];
		test_fd_needs_iommu(root_edu);
		test_wrong_names(root_edu, other);
		test_group_exclusive(root_edu);
		/* The device still opens normally after all that. */
		test_open_sequence(root_edu);
	} else {
		for (int i = 0; i < 4; i++)
			vt_skip("no edu on the root bus", "edu on the root bus: case %d", i + 1);
	}

	if (nbridged == 2) {
		test_shared_group(bridged[0], bridged[1]);
	} else {
		for (int i = 0; i < 3; i++)
			vt_skip("no two edu behind a bridge", "shared group: case %d", i + 1);
	}
	return vt_finish();
}
