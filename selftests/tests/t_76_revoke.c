// SPDX-License-Identifier: GPL-2.0-only
/*
 * Revoke on unbind (issue 14): a holder that ignores the removal request
 * loses its access revoke_timeout_ms after the first request.
 *
 * The test sets the module parameter revoke_timeout_ms (the default of the
 * per-device policy, latched when the device is bound) and binds edu again
 * for each case; the parameter's value is put back at the end.  The holder
 * is this process, the unbind ("echo bdf > driver/unbind") a child.
 *
 * - A holder that ignores REQ, with BAR0 mapped, MSI, an ioeventfd and bus
 *   master on: within the timeout plus a generous margin every ioctl
 *   (feature too), read, write and mmap of its fd fails with ENODEV, the
 *   mapping raises SIGBUS, the command register (sysfs config, no vfio)
 *   has bus master and decode off, MSI is gone (msi_irqs), the kernel log
 *   names the holder once, and the unbind still waits; at the close it
 *   completes, and bound again edu serves a new owner (config, BAR0 map).
 * - A holder that honours REQ (closes at the eventfd) sees no ENODEV
 *   before it closes; the unbind completes.  Also in baseline mode.
 * - revoke_timeout_ms=0: no revoke; the holder's calls keep working for a
 *   while after the request (in baseline mode: the in-tree behaviour).
 * - A revoke racing with faults (mmap, touch, munmap), SET_IRQS loops,
 *   ioeventfd add/remove, config writes setting bus master and memory
 *   decode, and interrupts raised through the device, from several
 *   threads: every thread ends up with ENODEV/SIGBUS, and the device stays
 *   quiet afterwards.  The runner checks the console (KASAN, lockdep).
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

#define DRIVER_DIR	"/sys/bus/pci/drivers/" VT_DRIVER
#define PARAM		"/sys/module/" VT_MODULE "/parameters/revoke_timeout_ms"

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_COMMAND_QUIET	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

#define EDU_ID		0x00
#define EDU_LIVE	0x04
#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define EDU_ID_VALUE	0x010000ed

#define TIMEOUT_MS		500	/* revoke timeout of the revoke cases */
#define HONOUR_TIMEOUT_MS	10000	/* long enough for a holder that closes */
#define MARGIN_MS		20000	/* "within": TCG and the debug kernel are slow */
#define REQ_WAIT_MS		10000
#define OLD_WAIT_MS		1500	/* timeout 0: nothing happens for this long */
#define UNBIND_WAIT_MS		20000
#define RACE_AFTER_MS		300	/* threads keep going after the revoke */

/*
 * The unbind ("echo bdf > driver/unbind") runs in a child forked before the
 * holder opens anything: a fork copies BAR mappings, and a child holding
 * one would keep the device open, the unbind waiting for itself.  The
 * child waits for a byte on a pipe, then unbinds.
 */
struct unbinder {
	pid_t pid;
	int go;
};

static void unbind_prepare(struct unbinder *u, const char *bdf)
{
	int p[2];

	u->pid = -1;
	u->go = -1;
	if (pipe2(p, O_CLOEXEC))
		return;
	u->pid = fork();
	if (u->pid == 0) {
		char c;
		int ret;

		dup2(p[0], 3);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		if (read(3, &c, 1) != 1)
			_exit(126);
		ret = vt_sysfs_write(DRIVER_DIR "/unbind", bdf);
		_exit(ret ? (-ret & 0x7f) : 0);
	}
	close(p[0]);
	if (u->pid < 0) {
		close(p[1]);
		return;
	}
	u->go = p[1];
}

/* Start the unbind; returns the child's pid (-1: none). */
static pid_t unbind_start(struct unbinder *u)
{
	pid_t pid = u->pid;

	if (u->go >= 0 && write(u->go, "u", 1) != 1)
		pid = -1;
	if (u->go >= 0)
		close(u->go);
	u->go = -1;
	return pid;
}

/* ------------------------------------------------------------------------ */
/* The module parameter                                                       */

static char saved_param[32];
static bool have_param;

/* Set the default timeout and bind the device again so that it takes it. */
static bool set_timeout(const char *bdf, unsigned int ms)
{
	char val[16];

	snprintf(val, sizeof(val), "%u", ms);
	if (!vt_check_ret(vt_sysfs_write(PARAM, val), "write %s", PARAM))
		return false;
	vt_release(bdf);
	return vt_check_ret(vt_bind(bdf), "bind with revoke_timeout_ms=%u", ms);
}

/* ------------------------------------------------------------------------ */
/* A holder                                                                   */

struct holder {
	struct vt_vfio v;
	volatile uint32_t *map;
	size_t map_len;
	int req_efd;
	int msi_efd;
	int ioev_efd;
};

static int set_req(int dev, int32_t fd)
{
	return vt_irq_set_fd(dev, VFIO_PCI_REQ_IRQ_INDEX, fd);
}

static int ioeventfd(int dev, uint64_t off, uint64_t data, int32_t fd)
{
	struct vfio_device_ioeventfd e = {
		.argsz = sizeof(e),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = VT_REGION_OFFSET(0) + off,
		.data = data,
		.fd = fd,
	};

	return ioctl(dev, VFIO_DEVICE_IOEVENTFD, &e);
}

static int get_info(int dev)
{
	struct vt_device_info info = { .argsz = sizeof(info) };

	return ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
}

/* A probe of the low power feature: reaches the driver's feature op. */
static int feature_probe(int dev)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
	};

	return ioctl(dev, VFIO_DEVICE_FEATURE, &f);
}

static void holder_init(struct holder *h)
{
	memset(h, 0, sizeof(*h));
	h->v.container = h->v.group = h->v.device = -1;
	h->req_efd = h->msi_efd = h->ioev_efd = -1;
}

static void holder_close(struct holder *h)
{
	if (h->map)
		munmap((void *)h->map, h->map_len);
	h->map = NULL;
	vt_vfio_close(&h->v);
	if (h->req_efd >= 0)
		close(h->req_efd);
	if (h->msi_efd >= 0)
		close(h->msi_efd);
	if (h->ioev_efd >= 0)
		close(h->ioev_efd);
	h->req_efd = h->msi_efd = h->ioev_efd = -1;
}

/*
 * Open, bus master and memory decode on, BAR0 mapped and read, a REQ
 * eventfd; with @full also MSI and an ioeventfd.
 */
static bool holder_open(struct holder *h, const struct vt_dev *d, bool full)
{
	uint16_t cmd = 0;
	uint32_t id = 0;

	holder_init(h);
	if (!vt_check_ret(vt_vfio_open(&h->v, d->bdf), "open"))
		return false;
	if (!vt_check_ret(vt_config_read16(h->v.device, PCI_COMMAND, &cmd), "read COMMAND") ||
	    !vt_check_ret(vt_config_write16(h->v.device, PCI_COMMAND,
					    cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
			  "bus master and memory decode on"))
		return false;
	h->map = vt_map_region(h->v.device, 0, &h->map_len);
	if (!vt_check(h->map != NULL, "mmap BAR0"))
		return false;
	if (!vt_check_eq(vt_map_load32(h->map + EDU_ID / 4, &id), 0, "load through the map") ||
	    !vt_check_eq(id, EDU_ID_VALUE, "edu ID through the map"))
		return false;
	h->req_efd = vt_efd_new();
	if (!vt_check_ok(set_req(h->v.device, h->req_efd), "register REQ eventfd"))
		return false;
	if (!full)
		return true;
	h->msi_efd = vt_efd_new();
	if (!vt_check_ok(vt_irq_set_fd(h->v.device, VFIO_PCI_MSI_IRQ_INDEX, h->msi_efd),
			 "MSI with an eventfd"))
		return false;
	if (!vt_check_ret(vt_region_write32(h->v.device, 0, EDU_IRQ_RAISE, 1), "raise MSI") ||
	    !vt_check(vt_efd_wait(h->msi_efd, 5000) >= 1, "no MSI before the unbind"))
		return false;
	vt_region_write32(h->v.device, 0, EDU_IRQ_ACK, 0xffffffff);
	h->ioev_efd = vt_efd_new();
	return vt_check_ok(ioeventfd(h->v.device, EDU_LIVE, 0x1234, h->ioev_efd),
			   "ioeventfd on BAR0");
}

/* Whether the holder's fd works: an ioctl, a config read, a load. */
static bool holder_works(struct holder *h, const char *when)
{
	uint16_t vid = 0;
	uint32_t id = 0;
	bool ok = true;

	ok &= vt_check_ok(get_info(h->v.device), "GET_INFO %s", when);
	ok &= vt_check_ret(vt_config_read16(h->v.device, PCI_VENDOR_ID, &vid),
			   "config read %s", when);
	ok &= vt_check_eq(vt_map_load32(h->map + EDU_ID / 4, &id), 0, "load %s", when);
	ok &= vt_check_eq(id, EDU_ID_VALUE, "edu ID through the map %s", when);
	return ok;
}

static uint16_t sysfs_command(const char *bdf)
{
	uint8_t cfg[8];

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) < (int)sizeof(cfg))
		return 0xffff;
	return vt_le16(cfg + PCI_COMMAND);
}

/* MSI vectors the PCI core has for the device (its msi_irqs directory). */
static int msi_vectors(const char *bdf)
{
	char path[128];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Wait until GET_INFO fails with ENODEV: ms since t0, or -1. */
static long wait_revoked(int dev, const struct timespec *t0, int ms)
{
	while (vt_ms_since(t0) < ms) {
		if (get_info(dev) < 0 && errno == ENODEV)
			return vt_ms_since(t0);
		usleep(10000);
	}
	return -1;
}

static uint16_t sysfs_command(const char *bdf);
static int msi_vectors(const char *bdf);

/*
 * Wait until the device is quiet as well: the revoke sets the flag that
 * fails the calls first, then tears down.  Returns ms since t0, or -1.
 */
static long wait_quiesced(const char *bdf, const struct timespec *t0, int ms)
{
	while (vt_ms_since(t0) < ms) {
		uint16_t cmd = sysfs_command(bdf);

		if (cmd != 0xffff && !(cmd & PCI_COMMAND_QUIET) && !msi_vectors(bdf))
			return vt_ms_since(t0);
		usleep(10000);
	}
	return -1;
}

/* A new owner: bind, open, config, BAR0 through a map. */
static void check_new_owner(const struct vt_dev *d)
{
	struct vt_vfio v;
	uint16_t vid = 0;
	uint32_t id = 0;
	size_t len;
	void *map;

	if (!vt_check_ret(vt_bind(d->bdf), "bind again") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open by a new owner"))
		return;
	vt_check_ret(vt_config_read16(v.device, PCI_VENDOR_ID, &vid), "new owner: config read");
	vt_check_eq(vid, d->vendor, "new owner: vendor ID");
	vt_check_ok(get_info(v.device), "new owner: GET_INFO");
	map = vt_map_region(v.device, 0, &len);
	if (vt_check(map != NULL, "new owner: mmap BAR0")) {
		vt_check_eq(vt_map_load32((volatile uint32_t *)map + EDU_ID / 4, &id), 0,
			    "new owner: load through the map");
		vt_check_eq(id, EDU_ID_VALUE, "new owner: edu ID");
		munmap(map, len);
	}
	vt_vfio_close(&v);
}

/* An unbinder never started: let it go without unbinding. */
static void unbind_cancel(struct unbinder *u)
{
	if (u->go < 0)
		return;
	close(u->go);
	u->go = -1;
	if (u->pid > 0)
		waitpid(u->pid, NULL, 0);
}

/* The end of a case: close, the unbind completes, a new owner. */
static void finish_case(struct holder *h, struct unbinder *u, pid_t pid,
			const struct vt_dev *d)
{
	holder_close(h);
	if (pid > 0)
		vt_unbind_done(pid, d->bdf, UNBIND_WAIT_MS, "the close");
	unbind_cancel(u);
	vt_unbind_reap(pid, UNBIND_WAIT_MS);
	check_new_owner(d);
}

/* ------------------------------------------------------------------------ */

static void test_ignores_req(const struct vt_dev *d)
{
	struct unbinder u = { -1, -1 };
	struct holder h;
	struct timespec t0;
	pid_t pid = -1;
	uint32_t val = 0;
	uint16_t cmd;
	uint16_t vid;
	long ms;
	int kmsg;
	char who[64];

	holder_init(&h);

	if (!vt_extension("revoke on unbind is beyond mainline",
			  "%s: a holder that ignores REQ is revoked", d->name))
		return;
	vt_begin("%s %s: a holder that ignores REQ is revoked after %d ms", d->name, d->bdf,
		 TIMEOUT_MS);
	if (!set_timeout(d->bdf, TIMEOUT_MS))
		goto out;
	unbind_prepare(&u, d->bdf);
	if (!holder_open(&h, d, true))
		goto close;
	cmd = sysfs_command(d->bdf);
	vt_check((cmd & (PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY)) ==
		 (PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY),
		 "bus master and decode on before the unbind (COMMAND %#x)", cmd);
	vt_check(msi_vectors(d->bdf) > 0, "MSI enabled before the unbind");

	kmsg = vt_kmsg_open();
	pid = unbind_start(&u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vt_check(vt_efd_wait(h.req_efd, REQ_WAIT_MS) >= 1, "no REQ within %d ms", REQ_WAIT_MS);
	/* Ignored: the holder goes on using the device meanwhile. */
	ms = wait_revoked(h.v.device, &t0, TIMEOUT_MS + MARGIN_MS);
	if (!vt_check(ms >= 0, "not revoked %d ms after the unbind started",
		      TIMEOUT_MS + MARGIN_MS))
		goto close;
	vt_diag("calls fail %ld ms after the unbind started, %ld ms after the timeout expired",
		ms, ms - TIMEOUT_MS);
	vt_check(ms >= TIMEOUT_MS - 50, "revoked after %ld ms, before the timeout", ms);
	ms = wait_quiesced(d->bdf, &t0, TIMEOUT_MS + MARGIN_MS);
	if (vt_check(ms >= 0, "not quiet %d ms after the unbind started",
		     TIMEOUT_MS + MARGIN_MS))
		vt_diag("quiesced %ld ms after the unbind started, %ld ms after the timeout expired",
			ms, ms - TIMEOUT_MS);

	vt_check_errno(get_info(h.v.device), ENODEV, "GET_INFO after the revoke");
	vt_check_errno(feature_probe(h.v.device), ENODEV, "DEVICE_FEATURE after the revoke");
	vt_check_errno(vt_irq_set_fd(h.v.device, VFIO_PCI_MSI_IRQ_INDEX, h.msi_efd), ENODEV,
		       "SET_IRQS after the revoke");
	vt_check_errno(ioeventfd(h.v.device, EDU_LIVE, 0x5678, h.ioev_efd), ENODEV,
		       "IOEVENTFD after the revoke");
	vt_check_errno(ioctl(h.v.device, VFIO_DEVICE_RESET), ENODEV, "RESET after the revoke");
	vt_check_err(vt_config_read16(h.v.device, PCI_VENDOR_ID, &vid), ENODEV,
		     "config read after the revoke");
	vt_check_err(vt_config_write16(h.v.device, PCI_COMMAND, PCI_COMMAND_QUIET), ENODEV,
		     "config write (bus master, decode) after the revoke");
	vt_check_err(vt_region_read32(h.v.device, 0, EDU_ID, &val), ENODEV,
		     "BAR0 read after the revoke");
	vt_check_err(vt_region_write32(h.v.device, 0, EDU_LIVE, 1), ENODEV,
		     "BAR0 write after the revoke");
	vt_check(mmap(NULL, 4096, PROT_READ, MAP_SHARED, h.v.device, VT_REGION_OFFSET(0)) ==
		 MAP_FAILED && errno == ENODEV, "mmap after the revoke: %s",
		 vt_errname(errno));
	vt_check_eq(vt_map_load32(h.map + EDU_ID / 4, &val), SIGBUS,
		    "load through the old map after the revoke (signal)");
	vt_check_eq(vt_map_store32(h.map + EDU_LIVE / 4, 1), SIGBUS,
		    "store through the old map after the revoke (signal)");
	cmd = sysfs_command(d->bdf);
	vt_check(cmd != 0xffff && !(cmd & PCI_COMMAND_QUIET),
		 "bus master or decode still on after the revoke (COMMAND %#x)", cmd);
	vt_check_eq(msi_vectors(d->bdf), 0, "MSI vectors left after the revoke");
	/* The ioeventfd is gone: a signal must not write (nor crash). */
	if (h.ioev_efd >= 0) {
		uint64_t one = 1;

		vt_check(write(h.ioev_efd, &one, sizeof(one)) == sizeof(one),
			 "signal the old ioeventfd");
	}
	if (kmsg >= 0) {
		usleep(100000);
		snprintf(who, sizeof(who), "(pid %d)", (int)getpid());
		vt_check_eq(vt_kmsg_count(kmsg, who, NULL, 0), 1,
			    "kernel log lines naming the holder (%s)", who);
		close(kmsg);
	} else {
		vt_diag("no /dev/kmsg: log line not checked");
	}
	vt_check_eq(vt_wait_child(pid, 200), (uint64_t)-1, "unbind did not wait for the close");
close:
	finish_case(&h, &u, pid, d);
out:
	holder_close(&h);
	vt_end();
}

static void test_honours_req(const struct vt_dev *d)
{
	struct unbinder u = { -1, -1 };
	struct holder h;
	pid_t pid = -1;

	holder_init(&h);
	vt_begin("%s %s: a holder that honours REQ is untouched", d->name, d->bdf);
	if ((have_param && !set_timeout(d->bdf, HONOUR_TIMEOUT_MS)) ||
	    !vt_check_ret(vt_bind(d->bdf), "bind"))
		goto out;
	unbind_prepare(&u, d->bdf);
	if (!holder_open(&h, d, true))
		goto close;
	pid = unbind_start(&u);
	if (vt_check(vt_efd_wait(h.req_efd, REQ_WAIT_MS) >= 1, "no REQ within %d ms",
		     REQ_WAIT_MS)) {
		/* Wind down as a VMM would: everything still works meanwhile. */
		holder_works(&h, "after REQ");
		vt_check_ok(vt_irq_disable(h.v.device, VFIO_PCI_MSI_IRQ_INDEX),
			    "disable MSI after REQ");
		vt_check_ok(ioeventfd(h.v.device, EDU_LIVE, 0x1234, -1),
			    "remove the ioeventfd after REQ");
	}
close:
	finish_case(&h, &u, pid, d);
out:
	holder_close(&h);
	vt_end();
}

static void test_timeout_zero(const struct vt_dev *d)
{
	struct unbinder u = { -1, -1 };
	struct holder h;
	struct timespec t0;
	pid_t pid = -1;

	holder_init(&h);
	vt_begin("%s %s: revoke_timeout_ms=0: the holder keeps its access", d->name, d->bdf);
	if ((have_param && !set_timeout(d->bdf, 0)) ||
	    !vt_check_ret(vt_bind(d->bdf), "bind"))
		goto out;
	unbind_prepare(&u, d->bdf);
	if (!holder_open(&h, d, true))
		goto close;
	pid = unbind_start(&u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vt_check(vt_efd_wait(h.req_efd, REQ_WAIT_MS) >= 1, "no REQ within %d ms", REQ_WAIT_MS);
	while (vt_ms_since(&t0) < OLD_WAIT_MS) {
		if (!holder_works(&h, "while the unbind waits"))
			break;
		usleep(100000);
	}
	vt_check_ret(vt_region_write32(h.v.device, 0, EDU_IRQ_RAISE, 1), "raise MSI");
	vt_check(vt_efd_wait(h.msi_efd, 5000) >= 1, "no MSI while the unbind waits");
	vt_region_write32(h.v.device, 0, EDU_IRQ_ACK, 0xffffffff);
	vt_check_eq(vt_wait_child(pid, 100), (uint64_t)-1, "unbind did not wait for the close");
close:
	finish_case(&h, &u, pid, d);
out:
	holder_close(&h);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* The race                                                                   */

struct race {
	struct holder *h;
	atomic_bool stop;
	atomic_bool revoked;
	atomic_long ops[5];
	atomic_long enodev[5];
	atomic_long odd[5];
	atomic_int odd_errno[5];
};

enum { R_FAULT, R_IRQS, R_IOEV, R_CONFIG, R_RAISE };
static const char *const race_name[] = {
	"faults", "SET_IRQS", "ioeventfd", "config writes", "interrupts",
};

static void race_result(struct race *r, int i, int ret, int err)
{
	atomic_fetch_add(&r->ops[i], 1);
	if (ret >= 0)
		return;
	if (err == ENODEV) {
		atomic_fetch_add(&r->enodev[i], 1);
		return;
	}
	atomic_fetch_add(&r->odd[i], 1);
	atomic_store(&r->odd_errno[i], err);
}

/* mmap, touch, munmap: every round faults afresh. */
static void *race_fault(void *arg)
{
	struct race *r = arg;
	int dev = r->h->v.device;

	while (!atomic_load(&r->stop)) {
		volatile uint32_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
					    VT_REGION_OFFSET(0));
		uint32_t v;
		int sig;

		if (m == MAP_FAILED) {
			race_result(r, R_FAULT, -1, errno);
			continue;
		}
		sig = vt_map_load32(m + EDU_ID / 4, &v);
		if (!sig)
			sig = vt_map_store32(m + EDU_LIVE / 4, v);
		/* SIGBUS counts as the revoke's answer here. */
		race_result(r, R_FAULT, sig ? -1 : 0, sig == SIGBUS ? ENODEV : sig ? EFAULT : 0);
		munmap((void *)m, 4096);
	}
	return NULL;
}

static void *race_irqs(void *arg)
{
	struct race *r = arg;
	int dev = r->h->v.device;
	int efd = vt_efd_new();

	while (!atomic_load(&r->stop)) {
		int ret = vt_irq_set_fd(dev, VFIO_PCI_MSI_IRQ_INDEX, efd);

		race_result(r, R_IRQS, ret, errno);
		ret = vt_irq_action_none(dev, VFIO_IRQ_SET_ACTION_TRIGGER,
					 VFIO_PCI_MSI_IRQ_INDEX);
		if (ret < 0 && errno != EINVAL)	/* EINVAL: the other thread disabled it */
			race_result(r, R_IRQS, ret, errno);
		ret = vt_irq_disable(dev, VFIO_PCI_MSI_IRQ_INDEX);
		if (ret < 0 && errno != EINVAL)
			race_result(r, R_IRQS, ret, errno);
		ret = vt_irq_set_fd(dev, VFIO_PCI_ERR_IRQ_INDEX, efd);
		if (ret < 0 && errno != EINVAL)	/* no ERR on conventional PCI */
			race_result(r, R_IRQS, ret, errno);
		vt_efd_take(efd);
	}
	close(efd);
	return NULL;
}

static void *race_ioev(void *arg)
{
	struct race *r = arg;
	int dev = r->h->v.device;
	int efd = vt_efd_new();
	uint64_t one = 1;

	while (!atomic_load(&r->stop)) {
		int ret = ioeventfd(dev, EDU_LIVE, 0x4321, efd);

		race_result(r, R_IOEV, ret, errno);
		if (write(efd, &one, sizeof(one)) != sizeof(one))
			race_result(r, R_IOEV, -1, errno);
		ret = ioeventfd(dev, EDU_LIVE, 0x4321, -1);
		if (ret < 0 && errno != ENODEV)
			race_result(r, R_IOEV, ret, errno);
	}
	close(efd);
	return NULL;
}

static void *race_config(void *arg)
{
	struct race *r = arg;
	int dev = r->h->v.device;

	while (!atomic_load(&r->stop)) {
		int ret = vt_config_write16(dev, PCI_COMMAND,
					    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

		race_result(r, R_CONFIG, ret, -ret);
	}
	return NULL;
}

/* The device raises MSI (when on) and INTx-free loopback triggers. */
static void *race_raise(void *arg)
{
	struct race *r = arg;
	int dev = r->h->v.device;

	while (!atomic_load(&r->stop)) {
		int ret = vt_region_write32(dev, 0, EDU_IRQ_RAISE, 1);

		if (ret == -EIO)	/* memory decode off for a moment */
			continue;
		race_result(r, R_RAISE, ret, -ret);
		vt_region_write32(dev, 0, EDU_IRQ_ACK, 0xffffffff);
	}
	return NULL;
}

static void test_race(const struct vt_dev *d)
{
	void *(*fn[5])(void *) = { race_fault, race_irqs, race_ioev, race_config, race_raise };
	struct race *r = calloc(1, sizeof(*r));
	pthread_t th[5];
	struct timespec t0;
	struct unbinder u = { -1, -1 };
	struct holder h;
	bool started[5] = { false };
	pid_t pid = -1;
	uint16_t cmd;
	long ms;

	holder_init(&h);
	if (!vt_extension("revoke on unbind is beyond mainline",
			  "%s: a revoke racing with faults, ioctls and interrupts", d->name)) {
		free(r);
		return;
	}
	vt_begin("%s %s: a revoke racing with faults, ioctls and interrupts", d->name, d->bdf);
	if (!vt_check(r != NULL, "calloc") || !set_timeout(d->bdf, TIMEOUT_MS))
		goto out;
	unbind_prepare(&u, d->bdf);
	if (!holder_open(&h, d, true))
		goto close;
	r->h = &h;
	for (int i = 0; i < 5; i++)
		started[i] = vt_check(!pthread_create(&th[i], NULL, fn[i], r),
				      "pthread_create %s", race_name[i]);
	usleep(200000);
	pid = unbind_start(&u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ms = wait_revoked(h.v.device, &t0, TIMEOUT_MS + MARGIN_MS);
	vt_check(ms >= 0, "not revoked %d ms after the unbind started", TIMEOUT_MS + MARGIN_MS);
	if (ms >= 0)
		vt_diag("calls fail %ld ms after the unbind started, under load", ms);
	ms = wait_quiesced(d->bdf, &t0, TIMEOUT_MS + MARGIN_MS);
	if (vt_check(ms >= 0, "not quiet %d ms after the unbind started", TIMEOUT_MS + MARGIN_MS))
		vt_diag("quiesced %ld ms after the unbind started, under load", ms);
	usleep(RACE_AFTER_MS * 1000);
	atomic_store(&r->stop, true);
	for (int i = 0; i < 5; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (int i = 0; i < 5; i++) {
		vt_diag("%s: %ld calls, %ld ENODEV (or SIGBUS)", race_name[i],
			atomic_load(&r->ops[i]), atomic_load(&r->enodev[i]));
		vt_check(atomic_load(&r->enodev[i]) > 0, "%s never saw the revoke", race_name[i]);
		vt_check_eq(atomic_load(&r->odd[i]), 0, "%s: other errors (last %s)",
			    race_name[i], vt_errname(atomic_load(&r->odd_errno[i])));
	}
	/* Nothing in flight re-armed anything. */
	cmd = sysfs_command(d->bdf);
	vt_check(cmd != 0xffff && !(cmd & PCI_COMMAND_QUIET),
		 "bus master or decode on after the race (COMMAND %#x)", cmd);
	vt_check_eq(msi_vectors(d->bdf), 0, "MSI vectors left after the race");
	vt_check_errno(get_info(h.v.device), ENODEV, "GET_INFO after the race");
	vt_check_eq(vt_wait_child(pid, 100), (uint64_t)-1, "unbind did not wait for the close");
close:
	finish_case(&h, &u, pid, d);
out:
	holder_close(&h);
	free(r);
	vt_end();
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS], edu;
	int n;

	n = vt_find_devices(0x1234, 0x11e8, devs, VT_MAX_DEVS);
	if (n <= 0)
		vt_skip_all("no edu (1234:11e8)");
	edu = devs[0];
	vt_fault_handler_install();
	have_param = !vt_baseline() &&
		     vt_read_file(PARAM, saved_param, sizeof(saved_param)) > 0;

	vt_plan(4);
	vt_diag("kernel %s, %s, revoke_timeout_ms %s", vt_kernel(),
		vt_baseline() ? "baseline" : "ng", have_param ? saved_param : "absent");
	if (!vt_baseline() && !have_param)
		vt_bail("no %s", PARAM);
	test_honours_req(&edu);
	test_timeout_zero(&edu);
	test_ignores_req(&edu);
	test_race(&edu);

	if (have_param) {
		vt_sysfs_write(PARAM, saved_param);
		vt_release(edu.bdf);
	}
	vt_bind(edu.bdf);
	return vt_finish();
}
