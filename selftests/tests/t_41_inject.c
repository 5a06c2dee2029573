// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection with the test-only module vt_inject.ko (selftests/kmod,
 * shipped as $VFIO_TEST_INJECT_KO) for conditions of issue 16 that the
 * lab's devices cannot produce.  Both modes: the in-tree driver must pass
 * every case as well.
 *
 * MSI-X Table Size shrinking between two reads (e1000e 8086:10d3, 5 vectors;
 * nvme 1b36:0010, 65 vectors), as on a VF whose PF changes its vector count:
 * - a census: how many reads of the MSI-X Message Control word one
 *   VFIO_DEVICE_SET_IRQS (MSI-X, TRIGGER, EVENTFD, start 0, all N vectors)
 *   makes, the driver's and the PCI core's (vt_inject with mask=0 counts);
 * - then for each read position (from=1..8, one read each, and from=2 and 3
 *   with every later read too) the Table Size field reads as 1 vector there
 *   and the same SET_IRQS runs; a position beyond the census is skipped
 *   (6.12 in-tree: 6 reads, 1 of vfio-pci's and 5 of the PCI core's).  It must return 0, a vector count below N
 *   (the in-tree driver passes on pci_alloc_irq_vectors()' "fewer
 *   available") or EINVAL/ENOSPC/ENOMEM/ERANGE; when it does not return 0,
 *   no vector of the device is left in /proc/interrupts.  The kernel must
 *   not report anything: a driver that sizes its vector array from one read
 *   and fills it up to the count of another overflows it, which KASAN (debug
 *   kernel) reports and the runner counts as a failure.  With vt_inject
 *   removed, all N vectors enable and a loopback trigger (DATA_NONE) fires
 *   every eventfd, and GET_IRQ_INFO reports N again.
 *
 * A ROM resource with start 0 and a non-zero length (e1000e, which has a
 * 256 KiB ROM), the state of a ROM that neither the firmware nor the kernel
 * could place (vt_inject rom_zero_start=1; it also makes every attempt of
 * the PCI core to place it fail, and needs the device bound and not open:
 * it refuses with EBUSY while the device is open):
 * - GET_REGION_INFO of the ROM reports size 0 and no flags: the in-tree
 *   driver tries pci_map_rom(), which fails, and then reports size 0 (it
 *   logs one "can't assign" line of the PCI core for it, not counted);
 * - 36 preads of the ROM (1, 2 and 4 bytes, and one of a page) each fail
 *   with EINVAL, as in-tree, which checks the resource start first, and add
 *   fewer than 5 lines to the kernel log (a driver that calls pci_map_rom()
 *   on each read logs the PCI core's failure to place it every time);
 * - after rmmod of vt_inject the ROM resource and its /proc/iomem entry are
 *   back, and after a reopen the ROM region has its size again and reads
 *   0x55 0xaa.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INJECT_MODULE	"vt_inject"
#define MAXV		128
#define WAIT_MS		5000
#define KMSG_MAX	5	/* kernel log lines allowed for all ROM reads */
#define ROM_READS	36

#define PCI_MSIX_FLAGS_QSIZE	0x07ff

/* Read positions of the MSI-X shrink: first read, how many (0: all later). */
static const struct {
	unsigned int from, times;
} shrinks[] = {
	{ 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 1 }, { 8, 1 },
	{ 2, 0 }, { 3, 0 },
};

#define NSHRINKS	(sizeof(shrinks) / sizeof(shrinks[0]))
#define MSIX_CASES	(1 + NSHRINKS + 1)	/* census, shrinks, info after */
#define ROM_CASES	4

static const char *inject_ko;

/* ------------------------------------------------------------------------ */
/* vt_inject                                                                 */

/* insmod vt_inject with these parameters; 0 or a negative errno. */
static int inject_load(const char *fmt, ...) VT_PRINTF(1, 2);
static int inject_load(const char *fmt, ...)
{
	char params[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(params, sizeof(params), fmt, ap);
	va_end(ap);
	if (vt_insert_module(inject_ko, params) < 0) {
		int err = errno;

		vt_diag("insmod %s %s: %s", inject_ko, params, vt_errname(err));
		return -err;
	}
	return 0;
}

static int inject_unload(void)
{
	if (vt_delete_module(INJECT_MODULE, O_NONBLOCK) < 0) {
		int err = errno;

		vt_diag("rmmod %s: %s", INJECT_MODULE, vt_errname(err));
		return -err;
	}
	return 0;
}

/* A counter of vt_inject (reads, injected), or -1. */
static int inject_count(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", INJECT_MODULE, name);
	if (vt_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

/* ------------------------------------------------------------------------ */
/* MSI-X                                                                     */

static int set_fds(int dev, uint32_t count, const int32_t *fds)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			   VFIO_PCI_MSIX_IRQ_INDEX, 0, count, fds, count * sizeof(int32_t));
}

/* Lines of /proc/interrupts with a "vfio-msix[N](bdf)" handler. */
static int msix_lines(const char *bdf)
{
	char line[2048], tail[VT_BDF_LEN + 4];
	FILE *f = fopen("/proc/interrupts", "re");
	int n = 0;

	if (!f)
		return -1;
	snprintf(tail, sizeof(tail), "](%s)", bdf);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "vfio-msix[");

		if (p && strstr(p, tail))
			n++;
	}
	fclose(f);
	return n;
}

static void drain(const int32_t *fds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		vt_efd_take(fds[i]);
}

/*
 * With nothing injected: all n vectors enable, a loopback trigger fires
 * every eventfd, and disabling removes them all.  Checks of the case.
 */
static void msix_works(int dev, const char *bdf, uint32_t n, const int32_t *fds)
{
	uint32_t missing = 0;

	drain(fds, n);
	if (!vt_check_ok(set_fds(dev, n, fds), "enable all %u MSI-X vectors afterwards", n))
		return;
	vt_check_ok(vt_set_irqs(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				VFIO_PCI_MSIX_IRQ_INDEX, 0, n, NULL, 0), "loopback trigger of %u vectors", n);
	for (uint32_t i = 0; i < n; i++)
		if (!vt_efd_wait(fds[i], WAIT_MS))
			missing++;
	vt_check(!missing, "%u of %u eventfds did not fire on the loopback trigger", missing, n);
	vt_check_ok(vt_irq_disable(dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable MSI-X");
	vt_check_eq((uint64_t)msix_lines(bdf), 0, "vfio-msix lines left after disable");
}

static bool clear_errno(int err)
{
	return err == EINVAL || err == ENOSPC || err == ENOMEM || err == ERANGE;
}

static void run_msix(const struct vt_dev *d)
{
	struct vfio_irq_info irq;
	int32_t fds[MAXV];
	struct vt_vfio v;
	uint32_t n = 0, i;
	int census = -1, ret;

	for (i = 0; i < MAXV; i++)
		fds[i] = -1;
	ret = vt_vfio_open(&v, d->bdf);
	if (ret < 0) {
		for (i = 0; i < MSIX_CASES; i++)
			vt_ok(false, "%s %s: MSI-X case %u: open failed (%s)", d->name, d->bdf, i,
			      vt_errname(-ret));
		return;
	}
	if (vt_irq_info(v.device, VFIO_PCI_MSIX_IRQ_INDEX, &irq) == 0)
		n = irq.count;
	if (n < 2 || n > MAXV) {
		for (i = 0; i < MSIX_CASES; i++)
			vt_skip("MSI-X count not in [2, 128]", "%s: MSI-X case %u (count %u)",
				d->name, i, n);
		goto out;
	}
	for (i = 0; i < n; i++)
		fds[i] = vt_efd_new();

	/* How many Message Control reads one enable of every vector makes. */
	vt_begin("%s %s: census of MSI-X Message Control reads in SET_IRQS of %u vectors",
		 d->name, d->bdf, n);
	if (vt_check_ok(inject_load("bdf=%s where=msix_flags mask=0 from=1 times=0", d->bdf),
			"insmod %s (count only)", INJECT_MODULE)) {
		ret = set_fds(v.device, n, fds);
		vt_check_ok(ret, "SET_IRQS MSI-X of %u vectors, nothing changed", n);
		census = inject_count("reads");
		vt_diag("%s: %d reads of the MSI-X Message Control word", d->name, census);
		vt_check(census >= 1, "vt_inject counted %d reads (want >= 1)", census);
		if (ret == 0)
			vt_check_ok(vt_irq_disable(v.device, VFIO_PCI_MSIX_IRQ_INDEX), "disable MSI-X");
		vt_check_ok(inject_unload(), "rmmod %s", INJECT_MODULE);
	}
	vt_end();

	for (size_t s = 0; s < NSHRINKS; s++) {
		unsigned int from = shrinks[s].from, times = shrinks[s].times;
		int reads, injected, err;

		if (census >= 0 && from > (unsigned int)census) {
			vt_skip("beyond the reads of SET_IRQS", "%s: Table Size reads as 1 from read %u%s",
				d->name, from, times ? "" : " on");
			continue;
		}
		vt_begin("%s: Table Size reads as 1 from read %u%s: SET_IRQS of %u vectors", d->name,
			 from, times ? "" : " on", n);
		if (!vt_check_ok(inject_load("bdf=%s where=msix_flags from=%u times=%u mask=0x%x value=0",
					     d->bdf, from, times, PCI_MSIX_FLAGS_QSIZE),
				 "insmod %s", INJECT_MODULE)) {
			vt_end();
			continue;
		}
		drain(fds, n);
		ret = set_fds(v.device, n, fds);
		err = errno;
		reads = inject_count("reads");
		injected = inject_count("injected");
		vt_diag("%s from=%u times=%u: SET_IRQS returned %d%s%s; %d reads, %d changed",
			d->name, from, times, ret, ret < 0 ? " " : "", ret < 0 ? vt_errname(err) : "",
			reads, injected);
		vt_check(ret == 0 || (ret > 0 && (uint32_t)ret < n) || (ret < 0 && clear_errno(err)),
			 "SET_IRQS returned %d (%s): want 0, a count below %u or a clear errno", ret,
			 ret < 0 ? vt_errname(err) : "-", n);
		if (census >= 0 && from <= (unsigned int)census)
			vt_check(injected >= 1, "read %u of %d was not changed (injected %d)", from,
				 census, injected);
		if (times)
			vt_check(injected <= (int)times, "%d reads changed, want <= %u", injected, times);
		if (ret == 0)
			vt_check_ok(vt_irq_disable(v.device, VFIO_PCI_MSIX_IRQ_INDEX), "disable MSI-X");
		else
			vt_check_eq((uint64_t)msix_lines(d->bdf), 0,
				    "vfio-msix lines after a failed SET_IRQS");
		if (vt_check_ok(inject_unload(), "rmmod %s", INJECT_MODULE))
			msix_works(v.device, d->bdf, n, fds);
		vt_end();
	}

	vt_begin("%s: GET_IRQ_INFO MSI-X count after vt_inject is gone", d->name);
	if (vt_check_ok(vt_irq_info(v.device, VFIO_PCI_MSIX_IRQ_INDEX, &irq), "GET_IRQ_INFO"))
		vt_check_eq(irq.count, n, "MSI-X count");
	vt_end();

out:
	for (i = 0; i < n && i < MAXV; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	vt_vfio_close(&v);
}

/* ------------------------------------------------------------------------ */
/* ROM with start 0                                                          */

static void run_rom(const struct vt_dev *d)
{
	struct vt_resource res[VT_NUM_RESOURCES], now[VT_NUM_RESOURCES];
	const uint64_t rom_off = VT_REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX);
	struct vfio_region_info *info;
	uint64_t size;
	struct vt_vfio v;
	bool loaded;
	int ret;

	if (vt_resources(d->bdf, res) < 0 || !(size = vt_resource_size(&res[6])) || !res[6].start) {
		for (int i = 0; i < ROM_CASES; i++)
			vt_skip("no assigned ROM", "%s: ROM with start 0, case %d", d->name, i);
		return;
	}

	vt_begin("%s %s: vt_inject rom_zero_start=1: ROM resource start 0, length 0x%llx",
		 d->name, d->bdf, (unsigned long long)size);
	/* vt_inject refuses to change the ROM of an open device ... */
	if (vt_check_ok(vt_vfio_open(&v, d->bdf), "open")) {
		ret = inject_load("bdf=%s rom_zero_start=1", d->bdf);
		vt_check_err(ret, EBUSY, "insmod %s rom_zero_start=1 while open", INJECT_MODULE);
		if (!ret)
			inject_unload();
		vt_vfio_close(&v);
	}
	/* ... and changes it once the device is closed (bound, not enabled). */
	loaded = vt_check_ok(inject_load("bdf=%s rom_zero_start=1", d->bdf), "insmod %s",
			     INJECT_MODULE);
	if (loaded && vt_check_ok(vt_resources(d->bdf, now), "sysfs resource")) {
		vt_check_eq(now[6].start, 0, "ROM start in sysfs resource");
		vt_check_eq(vt_resource_size(&now[6]), size, "ROM length in sysfs resource");
	}
	vt_end();
	if (!loaded) {
		for (int i = 1; i < ROM_CASES; i++)
			vt_ok(false, "%s: ROM with start 0, case %d: vt_inject not loaded", d->name, i);
		return;
	}

	ret = vt_vfio_open(&v, d->bdf);
	vt_begin("%s: GET_REGION_INFO of a ROM with start 0: size 0, no flags (as in-tree)",
		 d->name);
	if (vt_check_ok(ret, "open")) {
		info = vt_region_info(v.device, VFIO_PCI_ROM_REGION_INDEX);
		if (vt_check(info != NULL, "GET_REGION_INFO ROM: %s", vt_errname(errno))) {
			vt_diag("ROM region: size 0x%llx flags 0x%x", (unsigned long long)info->size,
				info->flags);
			vt_check_eq(info->size, 0, "ROM region size");
			vt_check_eq(info->flags, 0, "ROM region flags");
			free(info);
		}
	}
	vt_end();

	vt_begin("%s: %d preads of a ROM with start 0: EINVAL each, fewer than %d log lines",
		 d->name, ROM_READS, KMSG_MAX);
	if (ret >= 0) {
		static const size_t sizes[] = { 4, 2, 1 };
		static char page[4096];
		int kmsg = vt_kmsg_open(), wrong = 0, lines;

		vt_check(kmsg >= 0, "open /dev/kmsg: %s", vt_errname(errno));
		for (int i = 0; i < ROM_READS; i++) {
			size_t len = i == ROM_READS - 1 ? sizeof(page) : sizes[i % 3];
			ssize_t got = pread(v.device, page, len, (off_t)(rom_off + (uint64_t)i * 4));

			if (got != -1 || errno != EINVAL) {
				if (wrong++ < 3)
					vt_diag("pread %zu bytes at ROM+0x%x: %zd (%s)", len, i * 4,
						got, got < 0 ? vt_errname(errno) : "data");
			}
		}
		vt_check(!wrong, "%d of %d preads did not fail with EINVAL", wrong, ROM_READS);
		if (kmsg >= 0) {
			lines = vt_kmsg_count(kmsg, NULL, NULL, 3);
			vt_diag("%d kernel log lines during %d ROM reads", lines, ROM_READS);
			vt_check(lines < KMSG_MAX, "%d kernel log lines during the ROM reads (want < %d)",
				 lines, KMSG_MAX);
			close(kmsg);
		}
	}
	vt_end();
	if (ret >= 0)
		vt_vfio_close(&v);

	/* Closed: vt_inject may restore the resource now. */
	vt_begin("%s: after rmmod of vt_inject the ROM is back and reads 55 aa", d->name);
	if (vt_check_ok(inject_unload(), "rmmod %s", INJECT_MODULE)) {
		char name[64] = "";
		uint8_t sig[2] = { 0, 0 };

		if (vt_check_ok(vt_resources(d->bdf, now), "sysfs resource")) {
			vt_check_eq(now[6].start, res[6].start, "ROM start restored");
			vt_check_eq(now[6].end, res[6].end, "ROM end restored");
		}
		vt_check(vt_iomem_find(res[6].start, res[6].end, name, sizeof(name)),
			 "ROM [0x%llx-0x%llx] back in /proc/iomem", (unsigned long long)res[6].start,
			 (unsigned long long)res[6].end);
		if (vt_check_ok(vt_vfio_open(&v, d->bdf), "reopen")) {
			info = vt_region_info(v.device, VFIO_PCI_ROM_REGION_INDEX);
			if (vt_check(info != NULL, "GET_REGION_INFO ROM: %s", vt_errname(errno))) {
				vt_check_eq(info->size, size, "ROM region size");
				vt_check(info->flags & VFIO_REGION_INFO_FLAG_READ, "ROM region readable");
				free(info);
			}
			if (vt_check_ok(pread(v.device, sig, 2, (off_t)rom_off), "pread ROM"))
				vt_check(sig[0] == 0x55 && sig[1] == 0xaa, "ROM signature %02x %02x",
					 sig[0], sig[1]);
			vt_vfio_close(&v);
		}
	}
	vt_end();
}

/* ------------------------------------------------------------------------ */

int main(void)
{
	struct vt_dev e1k[VT_MAX_DEVS], nvme[VT_MAX_DEVS];
	bool have_e1k, have_nvme;

	inject_ko = getenv("VFIO_TEST_INJECT_KO");
	if (!inject_ko || !*inject_ko)
		vt_skip_all("vt_inject.ko not shipped (VFIO_TEST_INJECT_KO unset)");
	have_e1k = vt_find_devices(0x8086, 0x10d3, e1k, VT_MAX_DEVS) > 0;
	have_nvme = vt_find_devices(0x1b36, 0x0010, nvme, VT_MAX_DEVS) > 0;
	if (!have_e1k && !have_nvme)
		vt_skip_all("no e1000e and no nvme");
	if ((have_e1k && vt_bind(e1k[0].bdf)) || (have_nvme && vt_bind(nvme[0].bdf)))
		vt_bail("cannot bind the devices to " VT_DRIVER);

	vt_plan(ROM_CASES + 2 * MSIX_CASES);
	if (have_e1k) {
		run_rom(&e1k[0]);
		run_msix(&e1k[0]);
	} else {
		for (int i = 0; i < ROM_CASES; i++)
			vt_skip("no e1000e", "ROM with start 0, case %d", i);
		for (unsigned int i = 0; i < MSIX_CASES; i++)
			vt_skip("no e1000e", "e1000e MSI-X case %u", i);
	}
	if (have_nvme)
		run_msix(&nvme[0]);
	else
		for (unsigned int i = 0; i < MSIX_CASES; i++)
			vt_skip("no nvme", "nvme MSI-X case %u", i);
	return vt_finish();
}
