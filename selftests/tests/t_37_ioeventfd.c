// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_DEVICE_IOEVENTFD: each signal of the eventfd makes the kernel write
 * fixed data to a BAR.  pci-testdev's count protocol (write the test number
 * at 0, then every write of 0xfa at hdr.offset increments hdr.count; QEMU
 * docs/specs/pci-testdev.txt) shows every write that reaches the device on
 * its MMIO BAR0 and its I/O port BAR1; edu's liveness register shows the
 * data of 32-bit writes and edu ignores 64-bit writes below 0x80, which
 * tells one 64-bit write from two 32-bit ones.  Then the rules: duplicates
 * EEXIST, removal with fd -1 (ENODEV when there is nothing to remove), the
 * MSI-X table, config and ROM regions refused, bad flags/fds, 1000 per
 * device (ENOSPC), writes dropped while memory decode is off, an eventfd
 * closed while registered, signals racing with memory toggles.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#define R(i)		VT_REGION_OFFSET(i)

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_CAP_ID_MSIX		0x11

#define EDU_ID		0x010000edu
#define EDU_LIVE	0x04
#define EDU_DMA_SRC	0x80
#define EDU_BAR_SIZE	0x100000u

#define TD_COUNT	12	/* PCITestDevHdr.count */
#define TD_MMIO_OFF	0x800	/* hdr.offset of test 0 on BAR0 */
#define TD_IO_OFF	0x83	/* hdr.offset of test 0 on BAR1 (portio test 3) */
#define TD_MATCH	0xfa

#define IOEVENTFD_MAX	1000	/* per device, in-tree */
#define WAIT_MS		2000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ioev_raw(int fd, uint32_t argsz, uint32_t flags, uint64_t offset, uint64_t data,
		    int32_t efd)
{
	struct vfio_device_ioeventfd io = {
		.argsz = argsz, .flags = flags, .offset = offset, .data = data, .fd = efd,
	};

	return ioctl(fd, VFIO_DEVICE_IOEVENTFD, &io);
}

static int ioev(int fd, int idx, uint64_t off, unsigned int size, uint64_t data, int32_t efd)
{
	return ioev_raw(fd, sizeof(struct vfio_device_ioeventfd), size, R(idx) + off, data, efd);
}

static bool add(int fd, int idx, uint64_t off, unsigned int size, uint64_t data, int efd)
{
	return vt_check_ok(ioev(fd, idx, off, size, data, efd),
			   "add region %d +%#llx size %u data %#llx", idx,
			   (unsigned long long)off, size, (unsigned long long)data);
}

static bool del(int fd, int idx, uint64_t off, unsigned int size, uint64_t data)
{
	return vt_check_ok(ioev(fd, idx, off, size, data, -1),
			   "remove region %d +%#llx size %u data %#llx", idx,
			   (unsigned long long)off, size, (unsigned long long)data);
}

static void add_err(int fd, int idx, uint64_t off, unsigned int size, uint64_t data, int efd,
		    int want, const char *what)
{
	int ret = ioev(fd, idx, off, size, data, efd);

	vt_check_errno(ret, want, "%s: region %d +%#llx size %u fd %d", what, idx,
		       (unsigned long long)off, size, efd);
	if (!ret)
		ioev(fd, idx, off, size, data, -1);
}

static bool signal_efd(int efd)
{
	uint64_t one = 1;

	return vt_check(write(efd, &one, 8) == 8, "eventfd write: %s", vt_errname(errno));
}

static uint32_t rd32(int fd, int idx, uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	ssize_t n = pread(fd, &v, 4, R(idx) + off);

	vt_check(n == 4, "pread region %d +%#llx: %s", idx, (unsigned long long)off,
		 n < 0 ? vt_errname(errno) : "short");
	return v;
}

static void wr32(int fd, int idx, uint64_t off, uint32_t v)
{
	ssize_t n = pwrite(fd, &v, 4, R(idx) + off);

	vt_check(n == 4, "pwrite region %d +%#llx: %s", idx, (unsigned long long)off,
		 n < 0 ? vt_errname(errno) : "short");
}

static void wr8(int fd, int idx, uint64_t off, uint8_t v)
{
	ssize_t n = pwrite(fd, &v, 1, R(idx) + off);

	vt_check(n == 1, "pwrite region %d +%#llx: %s", idx, (unsigned long long)off,
		 n < 0 ? vt_errname(errno) : "short");
}

/*
 * Wait until a register reads `want` (the handler may have been deferred
 * to a thread), then check it; when want is the current value, wait a
 * little anyway so that a late write would be seen.
 */
static bool expect32(int fd, int idx, uint64_t off, uint32_t want, const char *what)
{
	long t0 = now_ms();
	uint32_t v;

	for (;;) {
		v = rd32(fd, idx, off);
		if (v == want && now_ms() - t0 >= 20)
			break;
		if (now_ms() - t0 > WAIT_MS)
			break;
		usleep(1000);
	}
	/* Settle: a stray extra write shows up now. */
	usleep(5000);
	v = rd32(fd, idx, off);
	return vt_check_eq(v, want, "%s", what);
}

/* pci-testdev: select test 0 on the region (count reset to 0). */
static bool td_select(int fd, int idx)
{
	wr8(fd, idx, 0, 0);
	return vt_check_eq(rd32(fd, idx, TD_COUNT), 0, "count after selecting the test");
}

/* Called before a case begins: no check here, efd_ok() inside the case. */
static int new_efd(void)
{
	return eventfd(0, EFD_CLOEXEC);
}

static bool efd_ok(int efd)
{
	return vt_check(efd >= 0, "eventfd: %s", vt_errname(errno));
}

/* ------------------------------------------------------------------------ */
/* pci-testdev                                                               */

static void td_mmio_byte(const struct vt_dev *d, int fd)
{
	int e1 = new_efd(), e2 = new_efd();
	uint64_t five = 5;

	vt_begin("%s %s: 1-byte ioeventfd on MMIO BAR0: one count per signal, other data none",
		 d->name, d->bdf);
	if (!efd_ok(e1) || !efd_ok(e2) || !td_select(fd, 0))
		goto out;
	if (!add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e1) || !add(fd, 0, TD_MMIO_OFF, 1, 0xfb, e2))
		goto out;
	for (int i = 1; i <= 3; i++) {
		signal_efd(e1);
		expect32(fd, 0, TD_COUNT, (uint32_t)i, "count after signals of the 0xfa ioeventfd");
	}
	signal_efd(e2);
	signal_efd(e2);
	expect32(fd, 0, TD_COUNT, 3, "count after signals of the 0xfb ioeventfd");
	/* One eventfd write, one device write, whatever the value added. */
	vt_check(write(e1, &five, 8) == 8, "eventfd write of 5");
	expect32(fd, 0, TD_COUNT, 4, "count after one eventfd write of 5");
	del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	del(fd, 0, TD_MMIO_OFF, 1, 0xfb);
	signal_efd(e1);
	expect32(fd, 0, TD_COUNT, 4, "count after a signal of the removed ioeventfd");
out:
	close(e1);
	close(e2);
	vt_end();
}

static void td_mmio_sizes(const struct vt_dev *d, int fd)
{
	static const unsigned int sizes[] = { 2, 4, 8 };
	int e = new_efd();
	uint32_t want = 0;

	vt_begin("%s %s: 2/4/8-byte ioeventfds on MMIO BAR0 write little-endian data", d->name,
		 d->bdf);
	if (!efd_ok(e) || !td_select(fd, 0))
		goto out;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned int sz = sizes[i];
		uint64_t high = (uint64_t)TD_MATCH << (8 * (sz - 1));

		/* 0xfa in the low byte lands on the count offset. */
		if (add(fd, 0, TD_MMIO_OFF, sz, TD_MATCH, e)) {
			signal_efd(e);
			want++;
			expect32(fd, 0, TD_COUNT, want, sz == 2 ? "count after a 2-byte signal" :
				 sz == 4 ? "count after a 4-byte signal" :
				 "count after an 8-byte signal");
			del(fd, 0, TD_MMIO_OFF, sz, TD_MATCH);
		}
		/* In the high byte it lands sz-1 bytes further: no count. */
		if (add(fd, 0, TD_MMIO_OFF, sz, high, e)) {
			signal_efd(e);
			expect32(fd, 0, TD_COUNT, want, "count after 0xfa in the high byte");
			del(fd, 0, TD_MMIO_OFF, sz, high);
		}
	}
out:
	if (e >= 0)
		close(e);
	vt_end();
}

static void td_io(const struct vt_dev *d, int fd)
{
	static const struct { unsigned int size; uint64_t off, data; } w[] = {
		{ 1, TD_IO_OFF, TD_MATCH },
		{ 2, TD_IO_OFF - 1, TD_MATCH << 8 },
		{ 4, TD_IO_OFF - 3, (uint64_t)TD_MATCH << 24 },
		{ 8, TD_IO_OFF - 3, (uint64_t)TD_MATCH << 24 },
	};
	int e = new_efd();
	uint32_t want = 0;

	vt_begin("%s %s: 1/2/4/8-byte ioeventfds on I/O port BAR1, also with memory off",
		 d->name, d->bdf);
	if (!efd_ok(e) || !td_select(fd, 1))
		goto out;
	vt_check_eq(rd32(fd, 1, 4), TD_IO_OFF, "count offset of the port I/O test");
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (!add(fd, 1, w[i].off, w[i].size, w[i].data, e))
			continue;
		signal_efd(e);
		want++;
		expect32(fd, 1, TD_COUNT, want, w[i].size == 1 ? "count after a 1-byte signal" :
			 w[i].size == 2 ? "count after a 2-byte signal" :
			 w[i].size == 4 ? "count after a 4-byte signal" :
			 "count after an 8-byte signal");
		if (w[i].size == 1) {
			/* Port I/O is not gated by memory enable. */
			if (vt_check_ret(vt_config_memory(fd, false), "memory off")) {
				signal_efd(e);
				want++;
				expect32(fd, 1, TD_COUNT, want, "count after a signal with memory off");
				vt_check_ret(vt_config_memory(fd, true), "memory on");
			}
		}
		del(fd, 1, w[i].off, w[i].size, w[i].data);
	}
	add_err(fd, 1, 0x100, 1, 0, e, EINVAL, "at the end of the I/O BAR");
	add_err(fd, 1, 0xfc, 8, 0, e, EINVAL, "straddling the end of the I/O BAR");
out:
	if (e >= 0)
		close(e);
	vt_end();
}

static void td_add_remove(const struct vt_dev *d, int fd)
{
	int e = new_efd(), e2 = new_efd();

	vt_begin("%s %s: duplicates EEXIST, removal with fd -1, ENODEV when nothing matches",
		 d->name, d->bdf);
	if (!efd_ok(e) || !efd_ok(e2) || !td_select(fd, 0))
		goto out;
	if (!add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e))
		goto out;
	add_err(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e, EEXIST, "same entry, same eventfd");
	add_err(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e2, EEXIST, "same entry, other eventfd");
	/* Any difference in size, data or offset makes another entry. */
	add(fd, 0, TD_MMIO_OFF, 2, TD_MATCH, e2);
	add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH | 0x100, e2);	/* data beyond the size */
	add(fd, 0, TD_MMIO_OFF + 1, 1, TD_MATCH, e2);
	signal_efd(e2);	/* 2-byte 0x00fa and 1-byte 0xfa (0x1fa) at 0x800: two counts */
	expect32(fd, 0, TD_COUNT, 2, "count after signalling the three other entries");
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 4, TD_MATCH, -1), ENODEV,
		       "remove with another size");
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 1, 0xfb, -1), ENODEV,
		       "remove with other data");
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF + 2, 1, TD_MATCH, -1), ENODEV,
		       "remove at another offset");
	vt_check_errno(ioev(fd, 1, TD_MMIO_OFF & 0xff, 1, TD_MATCH, -1), ENODEV,
		       "remove in another BAR");
	del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, -1), ENODEV, "remove it again");
	signal_efd(e);
	expect32(fd, 0, TD_COUNT, 2, "count after signalling the removed entry");
	/*
	 * Re-add after removal: the signal sent while nothing was registered
	 * is still pending on the eventfd (virqfd consumes the count only when
	 * it is woken), so the write happens at registration.
	 */
	if (add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e)) {
		expect32(fd, 0, TD_COUNT, 3, "count after re-adding with a signal pending");
		signal_efd(e);
		expect32(fd, 0, TD_COUNT, 4, "count after re-adding and signalling");
		del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	}
	del(fd, 0, TD_MMIO_OFF, 2, TD_MATCH);
	del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH | 0x100);
	del(fd, 0, TD_MMIO_OFF + 1, 1, TD_MATCH);
	vt_check_errno(ioev(fd, 0, 0x10, 4, 0, -1), ENODEV, "remove one never added");
out:
	if (e >= 0)
		close(e);
	if (e2 >= 0)
		close(e2);
	vt_end();
}

/* Closing the eventfd tears its virqfd down; the entry itself stays. */
static void td_close_eventfd(const struct vt_dev *d, int fd)
{
	int e = new_efd(), e2 = new_efd();

	vt_begin("%s %s: eventfd closed while registered: entry stays (EEXIST), removal works",
		 d->name, d->bdf);
	if (!efd_ok(e) || !efd_ok(e2) || !td_select(fd, 0))
		goto out;
	if (!add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e))
		goto out;
	signal_efd(e);
	expect32(fd, 0, TD_COUNT, 1, "count before closing the eventfd");
	close(e);
	e = -1;
	usleep(20000);
	add_err(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e2, EEXIST, "same entry after the close");
	del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	if (add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e2)) {
		signal_efd(e2);
		expect32(fd, 0, TD_COUNT, 2, "count with the new eventfd");
		/* Closed while registered: removal still works. */
		close(e2);
		e2 = -1;
		usleep(20000);
		del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	}
out:
	if (e >= 0)
		close(e);
	if (e2 >= 0)
		close(e2);
	vt_end();
}

struct signaller {
	int efd;
	atomic_bool stop;
	atomic_ulong sent;
};

static void *signal_thread(void *arg)
{
	struct signaller *s = arg;
	uint64_t one = 1;

	while (!atomic_load(&s->stop)) {
		if (write(s->efd, &one, 8) == 8)
			atomic_fetch_add(&s->sent, 1);
		if (!(atomic_load(&s->sent) & 63))
			sched_yield();
	}
	return NULL;
}

/* Signals racing with memory toggles: the handler meets a held lock. */
#define RACE_DATA	(TD_MATCH | 0x300)	/* a 1-byte write of 0xfa */
static void td_race(const struct vt_dev *d, int fd)
{
	struct signaller s = { .efd = -1 };
	pthread_t th;
	uint32_t c0;
	long t0;
	int toggles = 0;

	vt_begin("%s %s: signals racing with memory toggles: no hang, at most one write per "
		 "signal, exactly one afterwards", d->name, d->bdf);
	s.efd = new_efd();
	if (!efd_ok(s.efd) || !td_select(fd, 0) || !add(fd, 0, TD_MMIO_OFF, 1, RACE_DATA, s.efd))
		goto out;
	if (!vt_check(!pthread_create(&th, NULL, signal_thread, &s), "pthread_create")) {
		del(fd, 0, TD_MMIO_OFF, 1, RACE_DATA);
		goto out;
	}
	t0 = now_ms();
	while (now_ms() - t0 < 1500) {
		if (!vt_check_ret(vt_config_memory(fd, toggles & 1), "toggle %d", toggles))
			break;
		toggles++;
	}
	vt_config_memory(fd, true);
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	usleep(100000);		/* deferred handlers finish */
	c0 = rd32(fd, 0, TD_COUNT);
	vt_diag("%d toggles, %lu signals, count %u", toggles, atomic_load(&s.sent), c0);
	vt_check(c0 <= atomic_load(&s.sent), "count %u > %lu signals", c0, atomic_load(&s.sent));
	vt_check(c0 > 0, "no signal reached the device while memory was on half the time");
	signal_efd(s.efd);
	expect32(fd, 0, TD_COUNT, c0 + 1, "count after one more signal with memory on");
	del(fd, 0, TD_MMIO_OFF, 1, RACE_DATA);
out:
	if (s.efd >= 0)
		close(s.efd);
	vt_end();
}

/* The per-device limit; then closing the device drops every entry. */
static void td_limit(const struct vt_dev *d, struct vt_vfio *v)
{
	int e = new_efd(), ok = 0, ret = 0, fd = v->device;

	vt_begin("%s %s: %d ioeventfds per device, then ENOSPC; all run; close drops them",
		 d->name, d->bdf, IOEVENTFD_MAX);
	if (!efd_ok(e) || !td_select(fd, 0))
		goto out;
	/* Data 0..999 at the count offset: 0xfa, 0x1fa and 0x2fa write 0xfa. */
	for (int i = 0; i < IOEVENTFD_MAX; i++) {
		ret = ioev(fd, 0, TD_MMIO_OFF, 1, (uint64_t)i, e);
		if (ret)
			break;
		ok++;
	}
	vt_check(ok == IOEVENTFD_MAX, "only %d ioeventfds accepted, then %s", ok,
		 vt_errname(errno));
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 1, IOEVENTFD_MAX, e), ENOSPC,
		       "ioeventfd number %d", IOEVENTFD_MAX + 1);
	vt_check_errno(ioev(fd, 0, 0x10, 4, 0, e), ENOSPC, "another one elsewhere");
	signal_efd(e);
	expect32(fd, 0, TD_COUNT, 3, "count after one signal of 1000 entries");
	del(fd, 0, TD_MMIO_OFF, 1, 0);
	add(fd, 0, TD_MMIO_OFF, 1, IOEVENTFD_MAX, e);
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 1, IOEVENTFD_MAX + 1, e), ENOSPC,
		       "again after one removal and one addition");
	/* Close the device with 1000 registered; a new open starts empty. */
	vt_vfio_close(v);
	if (!vt_check_ret(vt_vfio_open(v, d->bdf), "reopen")) {
		v->device = -1;
		goto out;
	}
	fd = v->device;
	if (td_select(fd, 0) && add(fd, 0, TD_MMIO_OFF, 1, TD_MATCH, e)) {
		signal_efd(e);
		expect32(fd, 0, TD_COUNT, 1, "count after reopening: one entry, one write");
		del(fd, 0, TD_MMIO_OFF, 1, TD_MATCH);
	}
	vt_check_errno(ioev(fd, 0, TD_MMIO_OFF, 1, 0x1fa, -1), ENODEV,
		       "an entry of the previous open is gone");
out:
	if (e >= 0)
		close(e);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* edu                                                                       */

static void edu_data(const struct vt_dev *d, int fd)
{
	int e = new_efd(), e8 = new_efd();
	bool q = !vt_kernel_is_6_1() || !vt_baseline();	/* 8-byte pread is one access */
	uint64_t v;

	vt_begin("%s %s: 4-byte ioeventfd data reaches the liveness register; 8-byte ones are "
		 "one 64-bit write", d->name, d->bdf);
	if (!efd_ok(e) || !efd_ok(e8))
		goto out;
	wr32(fd, 0, EDU_LIVE, 0x11111111);
	if (add(fd, 0, EDU_LIVE, 4, 0x89abcdef, e)) {
		signal_efd(e);
		expect32(fd, 0, EDU_LIVE, ~0x89abcdefu, "liveness after the 4-byte ioeventfd");
		del(fd, 0, EDU_LIVE, 4, 0x89abcdef);
	}
	/* edu ignores 64-bit writes below 0x80: liveness keeps its value. */
	wr32(fd, 0, EDU_LIVE, 0x11111111);
	if (add(fd, 0, 0, 8, 0x2222222200000000ull, e8)) {
		signal_efd(e8);
		expect32(fd, 0, EDU_LIVE, ~0x11111111u,
			 "liveness after an 8-byte ioeventfd at 0 (one 64-bit write: ignored)");
		del(fd, 0, 0, 8, 0x2222222200000000ull);
	}
	/* At 0x80 edu takes the 64-bit write whole. */
	if (add(fd, 0, EDU_DMA_SRC, 8, 0x99887766aabbccddull, e8)) {
		signal_efd(e8);
		expect32(fd, 0, EDU_DMA_SRC, 0xaabbccdd, "DMA source low dword");
		if (q) {
			v = 0;
			vt_check(pread(fd, &v, 8, R(0) + EDU_DMA_SRC) == 8, "8-byte pread");
			vt_check_eq(v, 0x99887766aabbccddull, "DMA source after the 8-byte ioeventfd");
		}
		del(fd, 0, EDU_DMA_SRC, 8, 0x99887766aabbccddull);
	}
	vt_check_eq(rd32(fd, 0, 0), EDU_ID, "ID afterwards");
out:
	if (e >= 0)
		close(e);
	if (e8 >= 0)
		close(e8);
	vt_end();
}

static void edu_memory_off(const struct vt_dev *d, int fd)
{
	int e = new_efd();

	vt_begin("%s %s: writes of an ioeventfd signalled while memory is off are dropped",
		 d->name, d->bdf);
	if (!efd_ok(e))
		goto out;
	wr32(fd, 0, EDU_LIVE, 0xa5a5a5a5);
	if (!add(fd, 0, EDU_LIVE, 4, 0x5a5a0000, e))
		goto out;
	if (vt_check_ret(vt_config_memory(fd, false), "memory off")) {
		signal_efd(e);
		signal_efd(e);
		usleep(50000);
		vt_check_ret(vt_config_memory(fd, true), "memory on");
		expect32(fd, 0, EDU_LIVE, ~0xa5a5a5a5u, "liveness: the signals with memory off "
			 "were dropped, not deferred");
	}
	signal_efd(e);
	expect32(fd, 0, EDU_LIVE, ~0x5a5a0000u, "liveness after a signal with memory on");
	del(fd, 0, EDU_LIVE, 4, 0x5a5a0000);
out:
	if (e >= 0)
		close(e);
	vt_end();
}

static void edu_hostile(const struct vt_dev *d, int fd)
{
	const uint32_t argsz = sizeof(struct vfio_device_ioeventfd);
	const uint32_t minsz = 28;	/* offsetofend(struct vfio_device_ioeventfd, fd) */
	int e = new_efd(), p[2] = { -1, -1 }, closed;
	uint64_t off = R(0) + EDU_LIVE;

	vt_begin("%s %s: hostile arguments: flags, sizes, offsets, regions, fds, argsz",
		 d->name, d->bdf);
	if (!efd_ok(e))
		goto out;
	vt_check_errno(ioev_raw(fd, argsz, 0, off, 0, e), EINVAL, "no size bit");
	vt_check_errno(ioev_raw(fd, argsz, 1 | 2, off, 0, e), EINVAL, "two size bits (1|2)");
	vt_check_errno(ioev_raw(fd, argsz, 4 | 8, off, 0, e), EINVAL, "two size bits (4|8)");
	vt_check_errno(ioev_raw(fd, argsz, 0xf, off, 0, e), EINVAL, "all size bits");
	vt_check_errno(ioev_raw(fd, argsz, 0x10, off, 0, e), EINVAL, "unknown flag 0x10");
	vt_check_errno(ioev_raw(fd, argsz, 0x10 | 4, off, 0, e), EINVAL, "size 4 | flag 0x10");
	vt_check_errno(ioev_raw(fd, argsz, 0x80000000u | 4, off, 0, e), EINVAL,
		       "size 4 | flag bit 31");
	vt_check_errno(ioev_raw(fd, 0, 4, off, 0, e), EINVAL, "argsz 0");
	vt_check_errno(ioev_raw(fd, minsz - 1, 4, off, 0, e), EINVAL, "argsz one short");
	vt_check_ok(ioev_raw(fd, minsz, 4, off, 0x1234, e), "argsz without the tail padding");
	vt_check_ok(ioev(fd, 0, EDU_LIVE, 4, 0x1234, -1), "remove it");
	vt_check_ok(ioev_raw(fd, argsz + 64, 4, off, 0x1234, e), "argsz larger than the struct");
	vt_check_ok(ioev(fd, 0, EDU_LIVE, 4, 0x1234, -1), "remove it");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_IOEVENTFD, vt_bad_pointer()), EFAULT,
		       "argument in an inaccessible page");
	vt_check_errno(ioctl(fd, VFIO_DEVICE_IOEVENTFD, NULL), EFAULT, "NULL argument");
	/* Offsets */
	add_err(fd, 0, EDU_BAR_SIZE, 1, 0, e, EINVAL, "at the end of the BAR");
	add_err(fd, 0, EDU_BAR_SIZE - 2, 4, 0, e, EINVAL, "straddling the end");
	add_err(fd, 0, EDU_BAR_SIZE - 4, 8, 0, e, EINVAL, "8 bytes straddling the end");
	add_err(fd, 0, (1ull << VT_REGION_SHIFT) - 8, 8, 0, e, EINVAL, "end of region 0's space");
	vt_check_ok(ioev(fd, 0, EDU_BAR_SIZE - 8, 8, 0, e), "last 8 bytes of the BAR");
	vt_check_ok(ioev(fd, 0, EDU_BAR_SIZE - 8, 8, 0, -1), "remove it");
	/* Regions */
	for (int idx = 1; idx <= 5; idx++)
		add_err(fd, idx, 0, 4, 0, e, EINVAL, "absent BAR");
	add_err(fd, VFIO_PCI_ROM_REGION_INDEX, 0, 4, 0, e, EINVAL, "ROM region");
	add_err(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, 4, 0, e, EINVAL, "config region");
	add_err(fd, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, 2, 0, e, EINVAL,
		"config COMMAND");
	add_err(fd, VFIO_PCI_VGA_REGION_INDEX, 0x3c0, 1, 0, e, EINVAL, "VGA region");
	add_err(fd, 9, 0, 4, 0, e, EINVAL, "region 9");
	add_err(fd, 0x7fffff, 0, 4, 0, e, EINVAL, "region 0x7fffff");
	/*
	 * An offset with bit 63 set: the in-tree driver takes it as a negative
	 * loff_t, gets BAR index -1 past its "bar > 5" test and goes on with
	 * pdev->resource[-1] and barmap[-1] (measured: it returns 0).  Not
	 * something to do to the in-tree driver.
	 */
	if (!vt_baseline())
		add_err(fd, 0xffffff, 0, 4, 0, e, EINVAL, "region 0xffffff (offset bit 63 set)");
	/* fds */
	add_err(fd, 0, EDU_LIVE, 4, 0, -2, EINVAL, "fd -2");
	add_err(fd, 0, EDU_LIVE, 4, 0, INT_MIN, EINVAL, "fd INT_MIN");
	closed = eventfd(0, 0);
	close(closed);
	add_err(fd, 0, EDU_LIVE, 4, 0, closed, EBADF, "closed fd");
	add_err(fd, 0, EDU_LIVE, 4, 0, 100000, EBADF, "fd never opened");
	if (vt_check(!pipe(p), "pipe"))
		add_err(fd, 0, EDU_LIVE, 4, 0, p[0], EINVAL, "a pipe, not an eventfd");
	add_err(fd, 0, EDU_LIVE, 4, 0, fd, EINVAL, "the device fd, not an eventfd");
	/* None of the refused ones was registered. */
	vt_check_errno(ioev(fd, 0, EDU_LIVE, 4, 0, -1), ENODEV, "nothing registered after all");
	vt_check_eq(rd32(fd, 0, 0), EDU_ID, "ID afterwards");
out:
	if (e >= 0)
		close(e);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* e1000e: the MSI-X table                                                   */

static void e1000e_msix(const struct vt_dev *d, int fd)
{
	uint8_t cfg[256];
	uint32_t tbl, pba, toff, tsize;
	unsigned int cap, bar;
	int e = new_efd();

	vt_begin("%s %s: no ioeventfd over the MSI-X table; next to it and on the PBA fine",
		 d->name, d->bdf);
	if (!efd_ok(e) || pread(fd, cfg, sizeof(cfg), R(VFIO_PCI_CONFIG_REGION_INDEX)) !=
	    (ssize_t)sizeof(cfg)) {
		vt_check(false, "config read");
		goto out;
	}
	cap = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSIX);
	if (!vt_check(cap, "no MSI-X capability"))
		goto out;
	tbl = vt_le32(cfg + cap + 4);
	pba = vt_le32(cfg + cap + 8);
	bar = tbl & 7;
	toff = tbl & ~7u;
	tsize = ((vt_le16(cfg + cap + 2) & 0x7ff) + 1) * 16;
	vt_diag("MSI-X table BAR%u +%#x size %#x, PBA +%#x", bar, toff, tsize, pba & ~7u);
	add_err(fd, (int)bar, toff, 4, 0, e, EINVAL, "first table dword");
	add_err(fd, (int)bar, toff + 12, 4, 0, e, EINVAL, "vector control of entry 0");
	add_err(fd, (int)bar, toff + tsize - 1, 1, 0, e, EINVAL, "last table byte");
	add_err(fd, (int)bar, toff + tsize - 4, 8, 0, e, EINVAL, "straddling the table end");
	if (toff >= 4)
		add_err(fd, (int)bar, toff - 4, 8, 0, e, EINVAL, "straddling the table start");
	vt_check_ok(ioev(fd, (int)bar, toff + tsize, 4, 0, e), "right after the table");
	vt_check_ok(ioev(fd, (int)bar, toff + tsize, 4, 0, -1), "remove it");
	if ((pba & 7) == bar) {
		vt_check_ok(ioev(fd, (int)bar, pba & ~7u, 8, 0, e), "on the PBA");
		vt_check_ok(ioev(fd, (int)bar, pba & ~7u, 8, 0, -1), "remove it");
	}
	if (bar != 0) {
		vt_check_ok(ioev(fd, 0, 0x10, 4, 0, e), "on BAR0");
		vt_check_ok(ioev(fd, 0, 0x10, 4, 0, -1), "remove it");
	}
out:
	if (e >= 0)
		close(e);
	vt_end();
}

/* ------------------------------------------------------------------------ */

#define TD_CASES	7
#define EDU_CASES	3
#define E1000E_CASES	1

static void run_testdev(struct vt_kind_dev *kd)
{
	const struct vt_dev *d = kd->d;
	int fd = kd->v.device;

	td_mmio_byte(d, fd);
	td_mmio_sizes(d, fd);
	td_io(d, fd);
	td_add_remove(d, fd);
	td_close_eventfd(d, fd);
	td_race(d, fd);
	td_limit(d, &kd->v);
}

static void run_edu(struct vt_kind_dev *kd)
{
	edu_data(kd->d, kd->v.device);
	edu_memory_off(kd->d, kd->v.device);
	edu_hostile(kd->d, kd->v.device);
}

static void run_e1000e(struct vt_kind_dev *kd)
{
	e1000e_msix(kd->d, kd->v.device);
}

static const struct vt_kind kinds[] = {
	{ 0x1b36, 0x0005, "pci-testdev", TD_CASES, run_testdev },
	{ 0x1234, 0x11e8, "edu", EDU_CASES, run_edu },
	{ 0x8086, 0x10d3, "e1000e", E1000E_CASES, run_e1000e },
};

int main(void)
{
	return vt_main_kinds(kinds, sizeof(kinds) / sizeof(kinds[0]));
}
