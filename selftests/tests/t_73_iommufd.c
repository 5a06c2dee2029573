// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device cdev + iommufd path (kernels with CONFIG_IOMMUFD and
 * CONFIG_VFIO_DEVICE_CDEV: our debug kernel; elsewhere the program skips).
 *
 * edu through /dev/vfio/devices/vfioN: ioctls before VFIO_DEVICE_BIND_IOMMUFD
 * are refused, bind to /dev/iommu, IOMMU_IOAS_ALLOC,
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOMMU_IOAS_MAP of a buffer, then edu DMA
 * RAM -> device buffer -> RAM through the IOAS and a compare; unmap,
 * detach, close, and the device opens again.
 *
 * Hot reset of the edu pair behind the bridge through the cdev (6.12
 * mainline): GET_PCI_HOT_RESET_INFO reports devids (FLAG_DEV_ID, and
 * FLAG_DEV_ID_OWNED since the group belongs to our iommufd), and
 * PCI_HOT_RESET takes an empty fd array as proof (group fds are refused).
 *
 * The uapi comes from 6.12; the host's headers are 6.1-era.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------------ */
/* uapi (include/uapi/linux/iommufd.h and vfio.h of 6.12)                    */

#define IOMMUFD_TYPE			(';')
#define IOMMUFD_CMD_DESTROY		0x80
#define IOMMUFD_CMD_IOAS_ALLOC		0x81
#define IOMMUFD_CMD_IOAS_MAP		0x85
#define IOMMUFD_CMD_IOAS_UNMAP		0x86
#define IOMMU_DESTROY			_IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)
#define IOMMU_IOAS_ALLOC		_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
#define IOMMU_IOAS_MAP			_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)
#define IOMMU_IOAS_UNMAP		_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)
#define IOMMU_IOAS_MAP_FIXED_IOVA	(1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1 << 1)
#define IOMMU_IOAS_MAP_READABLE		(1 << 2)

struct t_iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct t_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct t_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	uint64_t user_va;
	uint64_t length;
	uint64_t iova;
};

struct t_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};

#define T_VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
#define T_VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)
#define T_VFIO_DEVICE_DETACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 20)
#define T_HOT_RESET_FLAG_DEV_ID		(1 << 0)
#define T_HOT_RESET_FLAG_DEV_ID_OWNED	(1 << 1)
#define T_DEVID_OWNED			0
#define T_DEVID_NOT_OWNED		-1

struct t_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};

struct t_attach_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
};

struct t_detach_pt {
	uint32_t argsz;
	uint32_t flags;
};

/* ------------------------------------------------------------------------ */

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

#define EDU_ID			0x00
#define EDU_LIVENESS		0x04
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_BUF			0x40000
/*
 * QEMU 7.2's edu checks the transfer's end exclusively: a 4096-byte
 * transfer at 0x40000 is "out of bounds" and aborts QEMU (hw_error).
 */
#define DMA_LEN			2048
#define BUF_LEN			8192
#define IOVA			0x200000ULL
#define DMA_WAIT_MS		20000

#define MAX_DEPS		8

/* /dev/vfio/devices/vfioN of a device, from sysfs vfio-dev/. */
static int cdev_path(const char *bdf, char *path, size_t len)
{
	char dir[128];
	struct dirent *de;
	DIR *d;
	int ret = -ENOENT;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4) == 0) {
			snprintf(path, len, "/dev/vfio/devices/%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* An edu opened through its cdev and bound to an iommufd. */
struct cdev {
	int dev;
	uint32_t devid;
	bool attached;
};

static int cdev_open_bind(const char *bdf, int iommufd, struct cdev *c)
{
	struct t_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	char path[300];
	int ret;

	c->dev = -1;
	c->attached = false;
	ret = cdev_path(bdf, path, sizeof(path));
	if (ret) {
		vt_diag("%s: no vfio-dev node: %s", bdf, vt_errname(-ret));
		return ret;
	}
	c->dev = open(path, O_RDWR | O_CLOEXEC);
	if (c->dev < 0) {
		vt_diag("open %s: %s", path, vt_errname(errno));
		return -errno;
	}
	if (ioctl(c->dev, T_VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = -errno;
		vt_diag("%s: BIND_IOMMUFD: %s", bdf, vt_errname(errno));
		close(c->dev);
		c->dev = -1;
		return ret;
	}
	c->devid = bind.out_devid;
	return 0;
}

static int attach(struct cdev *c, uint32_t pt)
{
	struct t_attach_pt a = { .argsz = sizeof(a), .pt_id = pt };

	if (ioctl(c->dev, T_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a))
		return -errno;
	c->attached = true;
	return 0;
}

static void cdev_close(struct cdev *c)
{
	if (c->dev >= 0)
		close(c->dev);
	c->dev = -1;
}

static int ioas_alloc(int iommufd, uint32_t *id)
{
	struct t_iommu_ioas_alloc a = { .size = sizeof(a) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &a))
		return -errno;
	*id = a.out_ioas_id;
	return 0;
}

static bool edu_dma_wait(int dev)
{
	struct timespec t0;
	uint32_t cmd = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (vt_region_read32(dev, 0, EDU_DMA_CMD, &cmd))
			return false;
		if (!(cmd & EDU_DMA_START))
			return true;
		usleep(1000);
	} while (vt_ms_since(&t0) < DMA_WAIT_MS);
	vt_diag("DMA still running after %d ms (cmd %#x)", DMA_WAIT_MS, cmd);
	return false;
}

static bool edu_dma(int dev, uint32_t src, uint32_t dst, uint32_t cmd)
{
	return !vt_region_write32(dev, 0, EDU_DMA_SRC, src) &&
	       !vt_region_write32(dev, 0, EDU_DMA_DST, dst) &&
	       !vt_region_write32(dev, 0, EDU_DMA_CNT, DMA_LEN) &&
	       !vt_region_write32(dev, 0, EDU_DMA_CMD, cmd | EDU_DMA_START) && edu_dma_wait(dev);
}

/* ------------------------------------------------------------------------ */

static void test_dma(const struct vt_dev *d)
{
	struct cdev c = { .dev = -1 };
	uint32_t ioas = 0, v = 0;
	struct vt_device_info info;
	uint8_t *buf = MAP_FAILED;
	int iommufd = -1;
	char path[300];

	vt_begin("%s: cdev refuses device ioctls before BIND_IOMMUFD", d->bdf);
	if (vt_check_ret(cdev_path(d->bdf, path, sizeof(path)), "vfio-dev node")) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		if (vt_check_ok(fd, "open %s", path)) {
			vt_check_errno(vt_device_info(fd, &info) ? -1 : 0, EINVAL,
				       "GET_INFO before bind");
			vt_check_errno(pread(fd, &v, 4, (off_t)VT_REGION_OFFSET(0)), EINVAL,
				       "pread before bind");
			close(fd);
		}
	}
	vt_end();

	vt_begin("%s: bind to /dev/iommu, IOAS, attach, device info and BAR0", d->bdf);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (!vt_check_ok(iommufd, "open /dev/iommu") ||
	    !vt_check_ret(cdev_open_bind(d->bdf, iommufd, &c), "open + BIND_IOMMUFD")) {
		vt_end();
		goto out;
	}
	vt_check(c.devid != 0, "devid 0");
	vt_check_ret(ioas_alloc(iommufd, &ioas), "IOMMU_IOAS_ALLOC");
	vt_check_ret(attach(&c, ioas), "ATTACH_IOMMUFD_PT");
	if (vt_check_ret(vt_device_info(c.dev, &info), "GET_INFO")) {
		vt_check(info.flags & VFIO_DEVICE_FLAGS_PCI, "PCI flag (flags %#x)", info.flags);
		vt_check_eq(info.num_regions, 9, "num_regions");
		vt_check_eq(info.num_irqs, 5, "num_irqs");
	}
	vt_check_ret(vt_region_read32(c.dev, 0, EDU_ID, &v), "pread ID");
	vt_check_eq(v, 0x010000ed, "edu ID");
	vt_check_ret(vt_region_write32(c.dev, 0, EDU_LIVENESS, 0x0badf00d), "write liveness");
	vt_check_ret(vt_region_read32(c.dev, 0, EDU_LIVENESS, &v), "read liveness");
	vt_check_eq(v, ~0x0badf00du, "liveness");
	vt_end();

	vt_begin("%s: IOAS_MAP a buffer, edu DMA RAM -> device -> RAM through it", d->bdf);
	buf = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vt_check(buf != MAP_FAILED, "mmap buffer") && c.attached) {
		struct t_iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = ioas,
			.user_va = (uintptr_t)buf,
			.length = BUF_LEN,
			.iova = IOVA,
		};
		struct t_iommu_ioas_unmap unmap = {
			.size = sizeof(unmap), .ioas_id = ioas, .iova = IOVA,
			.length = BUF_LEN,
		};
		uint16_t cmd = 0;

		for (int i = 0; i < BUF_LEN; i++)
			buf[i] = i < DMA_LEN ? (uint8_t)(i * 7 + 3) : 0;
		vt_config_read16(c.dev, PCI_COMMAND, &cmd);
		vt_check_ret(vt_config_write16(c.dev, PCI_COMMAND,
					       cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
			     "set Memory + Bus Master");
		if (vt_check_ok(ioctl(iommufd, IOMMU_IOAS_MAP, &map), "IOMMU_IOAS_MAP")) {
			vt_check(edu_dma(c.dev, (uint32_t)IOVA, EDU_BUF, 0), "DMA RAM -> edu");
			vt_check(edu_dma(c.dev, EDU_BUF, (uint32_t)(IOVA + BUF_LEN / 2),
					 EDU_DMA_TO_RAM),
				 "DMA edu -> RAM");
			vt_check(memcmp(buf, buf + BUF_LEN / 2, DMA_LEN) == 0,
				 "data after the round trip differs (first bytes %02x %02x, want %02x %02x)",
				 buf[BUF_LEN / 2], buf[BUF_LEN / 2 + 1], buf[0], buf[1]);
			vt_check(buf[BUF_LEN / 2 + DMA_LEN] == 0, "DMA wrote past its count");
			vt_check_ok(ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap), "IOMMU_IOAS_UNMAP");
			vt_check_eq(unmap.length, BUF_LEN, "unmapped length");
		}
	}
	vt_end();

	vt_begin("%s: detach, close, and the cdev opens and binds again", d->bdf);
	if (c.attached) {
		struct t_detach_pt det = { .argsz = sizeof(det) };

		vt_check_ok(ioctl(c.dev, T_VFIO_DEVICE_DETACH_IOMMUFD_PT, &det), "DETACH_IOMMUFD_PT");
	}
	cdev_close(&c);
	if (ioas) {
		struct t_iommu_destroy ds = { .size = sizeof(ds), .id = ioas };

		vt_check_ok(ioctl(iommufd, IOMMU_DESTROY, &ds), "IOMMU_DESTROY ioas");
	}
	if (vt_check_ret(cdev_open_bind(d->bdf, iommufd, &c), "open + bind again")) {
		vt_check_ret(vt_region_read32(c.dev, 0, EDU_ID, &v), "pread ID");
		vt_check_eq(v, 0x010000ed, "edu ID");
		cdev_close(&c);
	}
	vt_end();
out:
	if (buf != MAP_FAILED)
		munmap(buf, BUF_LEN);
	cdev_close(&c);
	if (iommufd >= 0)
		close(iommufd);
}

static unsigned int devfn_of(const char *bdf)
{
	unsigned int seg, bus, dev = 0, fn = 0;

	if (sscanf(bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		vt_diag("cannot parse BDF %s", bdf);
	return dev << 3 | fn;
}

struct hot_reset_info {
	struct vfio_pci_hot_reset_info hdr;
	struct vfio_pci_dependent_device devices[MAX_DEPS];
};

static void test_hot_reset(const struct vt_dev *a, const struct vt_dev *b)
{
	struct hot_reset_info info;
	struct cdev c = { .dev = -1 };
	struct vfio_pci_hot_reset hr;
	int iommufd;
	uint32_t v = 0;

	vt_begin("%s through the cdev: HOT_RESET_INFO gives devids, owned", a->bdf);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (!vt_check_ok(iommufd, "open /dev/iommu") ||
	    !vt_check_ret(cdev_open_bind(a->bdf, iommufd, &c), "open + BIND_IOMMUFD")) {
		vt_end();
		vt_ok(false, "cdev hot reset: setup failed");
		if (iommufd >= 0)
			close(iommufd);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.hdr.argsz = sizeof(info);
	if (vt_check_ok(ioctl(c.dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &info),
			"GET_PCI_HOT_RESET_INFO")) {
		unsigned int da = devfn_of(a->bdf), db = devfn_of(b->bdf);
		int seen_a = 0, seen_b = 0;

		vt_check_eq(info.hdr.count, 2, "count");
		vt_check_eq(info.hdr.flags, T_HOT_RESET_FLAG_DEV_ID | T_HOT_RESET_FLAG_DEV_ID_OWNED,
			    "flags (DEV_ID | DEV_ID_OWNED)");
		for (unsigned int i = 0; i < info.hdr.count && i < MAX_DEPS; i++) {
			/* group_id and devid share the first field */
			uint32_t id = info.devices[i].group_id;

			if (info.devices[i].devfn == da) {
				seen_a++;
				vt_check_eq(id, c.devid, "devid of %s (bound here)", a->bdf);
			} else if (info.devices[i].devfn == db) {
				seen_b++;
				vt_check_eq(id, T_DEVID_OWNED,
					    "devid of %s (unbound, group owned)", b->bdf);
			}
		}
		vt_check(seen_a == 1 && seen_b == 1, "listed: %s %d, %s %d", a->bdf, seen_a,
			 b->bdf, seen_b);
	}
	vt_end();

	vt_begin("%s through the cdev: PCI_HOT_RESET with no fds works, group fds refused",
		 a->bdf);
	memset(&hr, 0, sizeof(hr));
	hr.argsz = sizeof(hr);
	vt_check_ok(ioctl(c.dev, VFIO_DEVICE_PCI_HOT_RESET, &hr), "PCI_HOT_RESET, count 0");
	{
		struct {
			struct vfio_pci_hot_reset hdr;
			int32_t fd;
		} g = { .hdr = { .argsz = sizeof(g), .count = 1 }, .fd = iommufd };

		vt_check_errno(ioctl(c.dev, VFIO_DEVICE_PCI_HOT_RESET, &g), EINVAL,
			       "PCI_HOT_RESET with an fd array on a cdev-opened device");
	}
	vt_check_ret(vt_region_read32(c.dev, 0, EDU_ID, &v), "pread ID after");
	vt_check_eq(v, 0x010000ed, "edu ID after");
	vt_end();

	cdev_close(&c);
	close(iommufd);
}

int main(void)
{
	struct vt_dev edus[VT_MAX_DEVS], bridged[2], root = { .bdf = "" };
	int n, nb = 0;

	if (access("/dev/iommu", F_OK))
		vt_skip_all("no iommufd (/dev/iommu) on kernel %s", vt_kernel());
	n = vt_find_devices(0x1234, 0x11e8, edus, VT_MAX_DEVS);
	if (n <= 0)
		vt_skip_all("no edu (1234:11e8)");
	for (int i = 0; i < n; i++) {
		if (!vt_behind_bridge(edus[i].bdf))
			root = root.bdf[0] ? root : edus[i];
		else if (nb < 2)
			bridged[nb++] = edus[i];
	}
	if (!root.bdf[0])
		root = edus[0];

	vt_plan(4 + 2);
	vt_diag("kernel %s, %s", vt_kernel(), vt_baseline() ? "baseline" : "ng");
	if (vt_bind(root.bdf))
		vt_bail("cannot bind %s", root.bdf);
	test_dma(&root);

	if (nb < 2) {
		vt_skip("no edu pair behind a bridge", "cdev hot reset info");
		vt_skip("no edu pair behind a bridge", "cdev hot reset");
	} else if (vt_bind(bridged[0].bdf) || vt_bind(bridged[1].bdf)) {
		vt_ok(false, "bind the bridged edus");
		vt_ok(false, "bind the bridged edus");
	} else {
		test_hot_reset(&bridged[0], &bridged[1]);
	}
	return vt_finish();
}
