// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile arguments to the info ioctls: short, zero and huge argsz, bad
 * pointers, out-of-range indexes, argsz too small for a capability chain,
 * unknown ioctl numbers.  Each gets the errno the in-tree driver gives, the
 * kernel never writes past what argsz allows (guarded buffers), and the
 * device still answers correctly afterwards.
 */
#include "vfio_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PCI_CAP_ID_MSIX		0x11
#define REGION_MINSZ		sizeof(struct vfio_region_info)	/* 32 */
#define IRQ_MINSZ		sizeof(struct vfio_irq_info)	/* 16 */
#define INFO_MINSZ		16	/* offsetofend(num_irqs) */
#define HUGE_ARGSZ		0xffffffffu

/*
 * Run an info ioctl on a guarded copy of arg: obj_size bytes are the
 * caller's buffer as far as the kernel is told (argsz), arg_len of them are
 * initialised from arg, the result is copied back to arg.  Records a check
 * failure if the kernel wrote outside the buffer.  Returns ioctl's result.
 */
static int guarded_ioctl(int fd, unsigned long req, void *arg, size_t arg_len,
			 size_t obj_size, const char *what)
{
	struct vt_guard g;
	int ret, err;

	if (vt_guard_alloc(&g, obj_size)) {
		vt_check(false, "%s: cannot allocate a guarded buffer", what);
		errno = ENOMEM;
		return -1;
	}
	memcpy(g.obj, arg, arg_len < obj_size ? arg_len : obj_size);
	ret = ioctl(fd, req, g.obj);
	err = errno;
	vt_check(vt_guard_intact(&g), "%s: wrote outside its %zu-byte argument", what,
		 obj_size);
	memcpy(arg, g.obj, arg_len < obj_size ? arg_len : obj_size);
	vt_guard_free(&g);
	errno = err;
	return ret;
}

static int device_info_argsz(int fd, uint32_t argsz, size_t obj_size,
			     struct vt_device_info *out, const char *what)
{
	memset(out, 0, sizeof(*out));
	out->argsz = argsz;
	return guarded_ioctl(fd, VFIO_DEVICE_GET_INFO, out, sizeof(*out), obj_size, what);
}

static int region_info_raw(int fd, uint32_t index, uint32_t argsz, size_t obj_size,
			   struct vfio_region_info *out, const char *what)
{
	memset(out, 0, sizeof(*out));
	out->argsz = argsz;
	out->index = index;
	return guarded_ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, out, sizeof(*out),
			     obj_size, what);
}

static int irq_info_raw(int fd, uint32_t index, uint32_t argsz, size_t obj_size,
			struct vfio_irq_info *out, const char *what)
{
	memset(out, 0, sizeof(*out));
	out->argsz = argsz;
	out->index = index;
	return guarded_ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, out, sizeof(*out), obj_size,
			     what);
}

static void test_device_info_args(const struct vt_dev *d, int fd)
{
	struct vt_device_info info;

	vt_begin("%s %s: GET_INFO with bad argsz and pointers", d->name, d->bdf);
	vt_check_errno(device_info_argsz(fd, 0, INFO_MINSZ, &info, "argsz 0"), EINVAL,
		       "argsz 0");
	vt_check_errno(device_info_argsz(fd, INFO_MINSZ - 1, INFO_MINSZ, &info,
					 "argsz 15"), EINVAL, "argsz 15");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_INFO, NULL), EFAULT, "NULL argument");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_INFO, vt_bad_pointer()), EFAULT,
		       "unmapped argument");
	vt_end();

	vt_begin("%s %s: GET_INFO writes no more than argsz allows", d->name, d->bdf);
	/* Exactly the 6.1-era minimum: 16 bytes, nothing more may be written. */
	if (vt_check_ok(device_info_argsz(fd, INFO_MINSZ, INFO_MINSZ, &info, "argsz 16"),
			"argsz 16")) {
		vt_check_eq(info.num_regions, 9, "argsz 16: num_regions");
		vt_check_eq(info.num_irqs, 5, "argsz 16: num_irqs");
	}
	vt_check_ok(device_info_argsz(fd, 20, 20, &info, "argsz 20"), "argsz 20");
	/* A huge argsz: the kernel may fill the whole struct, no more. */
	if (vt_check_ok(device_info_argsz(fd, HUGE_ARGSZ, sizeof(info), &info,
					  "argsz 0xffffffff"), "argsz 0xffffffff"))
		vt_check_eq(info.num_regions, 9, "argsz 0xffffffff: num_regions");
	vt_end();
}

static void test_region_info_args(const struct vt_dev *d, int fd)
{
	static const uint32_t bad_index[] = { 9, 10, 100, 0x7fffffff, 0x80000000, HUGE_ARGSZ };
	struct vfio_region_info info;

	vt_begin("%s %s: GET_REGION_INFO with bad argsz and pointers", d->name, d->bdf);
	vt_check_errno(region_info_raw(fd, 0, 0, REGION_MINSZ, &info, "argsz 0"), EINVAL,
		       "argsz 0");
	vt_check_errno(region_info_raw(fd, 0, REGION_MINSZ - 1, REGION_MINSZ, &info,
				       "argsz 31"), EINVAL, "argsz 31");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, NULL), EFAULT, "NULL argument");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, vt_bad_pointer()), EFAULT,
		       "unmapped argument");
	vt_end();

	vt_begin("%s %s: GET_REGION_INFO with bad indexes", d->name, d->bdf);
	for (size_t i = 0; i < sizeof(bad_index) / sizeof(bad_index[0]); i++)
		vt_check_errno(region_info_raw(fd, bad_index[i], REGION_MINSZ, REGION_MINSZ,
					       &info, "bad index"),
			       EINVAL, "index %#x", bad_index[i]);
	vt_end();
}

static void test_irq_info_args(const struct vt_dev *d, int fd)
{
	static const uint32_t bad_index[] = { 5, 6, 100, 0x80000000, HUGE_ARGSZ };
	struct vfio_irq_info info;

	vt_begin("%s %s: GET_IRQ_INFO with bad argsz, pointers and indexes", d->name, d->bdf);
	vt_check_errno(irq_info_raw(fd, 0, 0, IRQ_MINSZ, &info, "argsz 0"), EINVAL, "argsz 0");
	vt_check_errno(irq_info_raw(fd, 0, IRQ_MINSZ - 1, IRQ_MINSZ, &info, "argsz 15"),
		       EINVAL, "argsz 15");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, NULL), EFAULT, "NULL argument");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, vt_bad_pointer()), EFAULT,
		       "unmapped argument");
	for (size_t i = 0; i < sizeof(bad_index) / sizeof(bad_index[0]); i++)
		vt_check_errno(irq_info_raw(fd, bad_index[i], IRQ_MINSZ, IRQ_MINSZ, &info,
					    "bad index"),
			       EINVAL, "index %#x", bad_index[i]);
	/* Exact size and a huge argsz: only the struct is written. */
	if (vt_check_ok(irq_info_raw(fd, VFIO_PCI_REQ_IRQ_INDEX, IRQ_MINSZ, IRQ_MINSZ, &info,
				     "REQ, argsz 16"), "REQ, argsz 16"))
		vt_check_eq(info.count, 1, "REQ count");
	vt_check_ok(irq_info_raw(fd, VFIO_PCI_REQ_IRQ_INDEX, HUGE_ARGSZ, IRQ_MINSZ, &info,
				 "REQ, argsz 0xffffffff"), "REQ, argsz 0xffffffff");
	vt_end();
}

static void test_unknown_ioctls(const struct vt_dev *d, int fd)
{
	static const struct {
		unsigned long req;
		const char *name;
	} reqs[] = {
		{ VFIO_GET_API_VERSION,		"VFIO_GET_API_VERSION (container ioctl)" },
		{ VFIO_GROUP_GET_STATUS,	"VFIO_GROUP_GET_STATUS (group ioctl)" },
		{ VFIO_DEVICE_QUERY_GFX_PLANE,	"VFIO_DEVICE_QUERY_GFX_PLANE" },
		{ VFIO_DEVICE_GET_GFX_DMABUF,	"VFIO_DEVICE_GET_GFX_DMABUF" },
		{ _IO(VFIO_TYPE, VFIO_BASE + 50), "VFIO_BASE + 50" },
		{ _IO(VFIO_TYPE, 0xff),		"VFIO_TYPE nr 0xff" },
		{ _IOR(VFIO_TYPE, VFIO_BASE + 7, struct vfio_device_info),
						"GET_INFO number with _IOR size bits" },
		{ _IO('x', 1),			"foreign type 'x'" },
		{ 0x5401,			"TCGETS" },
	};
	uint8_t buf[64] = { 0 };

	vt_begin("%s %s: unknown ioctls fail with ENOTTY", d->name, d->bdf);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		vt_check_errno(ioctl(fd, reqs[i].req, buf), ENOTTY, "%s", reqs[i].name);
	vt_end();
}

/* After all the abuse, the answers are still the right ones. */
static void test_still_works(const struct vt_dev *d, int fd, long cfg_size)
{
	struct vt_device_info info;
	struct vfio_region_info *reg;
	struct vfio_irq_info irq;

	vt_begin("%s %s: device still answers correctly", d->name, d->bdf);
	if (vt_check_ret(vt_device_info(fd, &info), "GET_INFO")) {
		vt_check(info.flags & VFIO_DEVICE_FLAGS_PCI, "FLAGS_PCI not set");
		vt_check_eq(info.num_regions, 9, "num_regions");
		vt_check_eq(info.num_irqs, 5, "num_irqs");
	}
	reg = vt_region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX);
	if (vt_check(reg != NULL, "config region info: %s", vt_errname(errno))) {
		vt_check_eq(reg->size, (uint64_t)cfg_size, "config region size");
		vt_check_eq(reg->offset, VT_REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX),
			    "config region offset");
	}
	free(reg);
	if (vt_check_ret(vt_irq_info(fd, VFIO_PCI_REQ_IRQ_INDEX, &irq), "REQ irq info"))
		vt_check_eq(irq.count, 1, "REQ count");
	vt_end();
}

/* The BAR holding the MSI-X table (from sysfs), or -1. */
static int msix_bar(const char *bdf)
{
	uint8_t cfg[256];
	unsigned int pos;
	int n = vt_sysfs_config(bdf, cfg, sizeof(cfg));

	if (n < 0x40)
		return -1;
	pos = vt_pci_find_cap(cfg, (size_t)n, PCI_CAP_ID_MSIX);
	return pos ? (int)(vt_le32(cfg + pos + 4) & 7) : -1;
}

/* Region info of the MSI-X BAR, which carries a capability chain. */
static void test_cap_chain(const struct vt_dev *d, int fd, int bar)
{
	struct vfio_region_info *full, info;
	uint32_t need;
	uint8_t *buf;

	full = vt_region_info(fd, (uint32_t)bar);
	need = full ? full->argsz : 0;

	vt_begin("%s %s: BAR%d info with argsz 32: chain size reported, nothing written past",
		 d->name, d->bdf, bar);
	if (vt_check(full && need > REGION_MINSZ, "BAR%d has no capability chain (argsz %u)",
		     bar, need) &&
	    vt_check_ok(region_info_raw(fd, (uint32_t)bar, REGION_MINSZ, REGION_MINSZ, &info,
					"argsz 32"), "argsz 32")) {
		vt_check_eq(info.argsz, need, "reported argsz");
		vt_check(info.flags & VFIO_REGION_INFO_FLAG_CAPS, "CAPS flag not set");
		vt_check_eq(info.cap_offset, 0, "cap_offset");
		vt_check_eq(info.size, full->size, "size");
	}
	vt_end();

	vt_begin("%s %s: BAR%d info with argsz one byte short of the chain", d->name,
		 d->bdf, bar);
	if (vt_check(need > REGION_MINSZ, "no chain") &&
	    vt_check_ok(region_info_raw(fd, (uint32_t)bar, need - 1, need - 1, &info,
					"argsz need-1"), "argsz %u", need - 1)) {
		vt_check_eq(info.argsz, need, "reported argsz");
		vt_check_eq(info.cap_offset, 0, "cap_offset");
	}
	vt_end();

	vt_begin("%s %s: BAR%d info with exact argsz carries MSIX_MAPPABLE", d->name,
		 d->bdf, bar);
	buf = calloc(1, need ? need : 1);
	if (vt_check(need > REGION_MINSZ && buf, "no chain")) {
		struct vfio_region_info *r = (void *)buf;

		r->argsz = need;
		r->index = (uint32_t)bar;
		if (vt_check_ok(guarded_ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, buf, need, need,
					      "exact argsz"), "argsz %u", need)) {
			vt_check(r->cap_offset >= REGION_MINSZ && r->cap_offset < need,
				 "cap_offset %u", r->cap_offset);
			vt_check(vt_info_cap(buf, need, r->cap_offset,
					     VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) != NULL,
				 "MSIX_MAPPABLE not in the chain");
		}
	}
	free(buf);
	vt_end();

	vt_begin("%s %s: BAR%d info with argsz 0xffffffff writes only the chain", d->name,
		 d->bdf, bar);
	buf = calloc(1, need ? need : 1);
	if (vt_check(need > REGION_MINSZ && buf, "no chain")) {
		struct vfio_region_info *r = (void *)buf;

		r->argsz = HUGE_ARGSZ;
		r->index = (uint32_t)bar;
		if (vt_check_ok(guarded_ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, buf, need, need,
					      "argsz 0xffffffff"), "argsz 0xffffffff"))
			vt_check(vt_info_cap(buf, need, r->cap_offset,
					     VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) != NULL,
				 "MSIX_MAPPABLE not in the chain");
	}
	free(buf);
	free(full);
	vt_end();
}

#define CASES_PER_DEVICE	7
#define CASES_PER_CHAIN		4

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n = vt_lab_bind(devs, VT_MAX_DEVS);
	unsigned int cases = 0;

	for (int i = 0; i < n; i++)
		cases += CASES_PER_DEVICE + (msix_bar(devs[i].bdf) >= 0 ? CASES_PER_CHAIN : 0);
	vt_plan(cases);

	for (int i = 0; i < n; i++) {
		const struct vt_dev *d = &devs[i];
		int bar = msix_bar(d->bdf);
		struct vt_vfio v;
		int ret = vt_vfio_open(&v, d->bdf);

		if (ret) {
			int k = CASES_PER_DEVICE + (bar >= 0 ? CASES_PER_CHAIN : 0);

			while (k--)
				vt_ok(false, "%s %s: hostile case (open failed: %s)", d->name,
				      d->bdf, vt_errname(-ret));
			continue;
		}
		test_device_info_args(d, v.device);
		test_region_info_args(d, v.device);
		test_irq_info_args(d, v.device);
		test_unknown_ioctls(d, v.device);
		if (bar >= 0)
			test_cap_chain(d, v.device, bar);
		test_still_works(d, v.device, vt_sysfs_size(d->bdf, "config"));
		vt_vfio_close(&v);
	}
	return vt_finish();
}
