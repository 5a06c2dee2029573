// SPDX-License-Identifier: GPL-2.0-only
/*
 * MSI-X on e1000e (8086:10d3, 5 vectors, table in its own BAR) and nvme
 * (1b36:0010, 65 vectors, table inside BAR0):
 * - GET_IRQ_INFO count, and NORESIZE as the kernel has it (6.1: set, no
 *   dynamic MSI-X; 6.12: clear, vectors can be added to a live set);
 * - enable with every vector, loopback signalling (DATA_NONE / DATA_BOOL)
 *   reaches exactly the right eventfds, one "vfio-msix[N](BDF)" line per
 *   vector in /proc/interrupts;
 * - per-vector eventfd swap, removal of one vector (fd -1) and re-adding it,
 *   partial disable (a block of vectors set to -1), full disable;
 * - enabling at a start vector > 0; growing a live set beyond the first
 *   enable (6.12 allows it, 6.1 refuses with EINVAL and changes nothing);
 * - e1000e: interrupts raised by the device itself (Interrupt Cause Set,
 *   causes routed to vectors with IVAR) arrive on the right eventfds, also
 *   after a swap and with the routing reversed;
 * - the kernel's MSI-X table writes happen with memory decode on even when
 *   the user turned it off: a vector removed meanwhile is masked in the
 *   device's table (read through the MSIX_MAPPABLE mmap), a swapped one is
 *   live with its new eventfd;
 * - MSI-X, MSI and INTx exclude each other; close tears MSI-X down.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define MAXV		128
#define WAIT_MS		5000
#define QUIET_MS	300

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

/* e1000e (82574L) registers in BAR0 and interrupt causes */
#define E1K_ICR		0xc0
#define E1K_ICS		0xc8
#define E1K_IMS		0xd0
#define E1K_IMC		0xd8
#define E1K_EIAC	0xdc
#define E1K_IVAR	0xe4
#define E1K_NCAUSES	5	/* RXQ0, RXQ1, TXQ0, TXQ1, OTHER: one IVAR entry each */
static const uint32_t e1k_cause[E1K_NCAUSES] = {
	0x00100000, 0x00200000, 0x00400000, 0x00800000, 0x01000000,
};

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static int set_fds(int dev, uint32_t index, uint32_t start, uint32_t count, const int32_t *fds)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index,
			   start, count, fds, count * sizeof(int32_t));
}

static int set_fd(int dev, uint32_t index, uint32_t vector, int32_t fd)
{
	return set_fds(dev, index, vector, 1, &fd);
}

static int loop_none(int dev, uint32_t start, uint32_t count)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			   VFIO_PCI_MSIX_IRQ_INDEX, start, count, NULL, 0);
}

static int loop_bool(int dev, uint32_t start, uint32_t count, const uint8_t *b)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			   VFIO_PCI_MSIX_IRQ_INDEX, start, count, b, count);
}

static int bar_write(int dev, uint32_t off, uint32_t val)
{
	return pwrite(dev, &val, 4, (off_t)(VT_REGION_OFFSET(0) + off)) == 4 ? 0 : -1;
}

/*
 * Which vectors of this device have a "vfio-msix[N](bdf)" handler in
 * /proc/interrupts: fills present[0..MAXV), returns how many (or -1).
 */
static int proc_vectors(const char *bdf, bool *present)
{
	char line[2048], tail[VT_BDF_LEN + 4];
	int n = 0;
	FILE *f = fopen("/proc/interrupts", "re");

	memset(present, 0, MAXV * sizeof(*present));
	if (!f)
		return -1;
	snprintf(tail, sizeof(tail), "](%s)", bdf);
	while (fgets(line, sizeof(line), f)) {
		for (char *p = line; (p = strstr(p, "vfio-msix[")); p++) {
			char *end;
			long vec = strtol(p + 10, &end, 10);

			if (end == p + 10 || strncmp(end, tail, strlen(tail)) != 0)
				continue;
			if (vec >= 0 && vec < MAXV && !present[vec]) {
				present[vec] = true;
				n++;
			}
		}
	}
	fclose(f);
	return n;
}

/* An expected set of vectors, as a predicate over the vector number. */
struct vset {
	int n;			/* vectors of the device */
	bool on[MAXV];
};

static void vset_none(struct vset *s, int n)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
}

static void vset_range(struct vset *s, int n, int from, int to)
{
	vset_none(s, n);
	for (int i = from; i < to && i < MAXV; i++)
		s->on[i] = true;
}

static int vset_count(const struct vset *s)
{
	int c = 0;

	for (int i = 0; i < s->n; i++)
		c += s->on[i];
	return c;
}

/* /proc/interrupts shows exactly the vectors of `want`. */
static bool check_proc(const char *bdf, const struct vset *want, const char *what)
{
	bool present[MAXV];
	int n = proc_vectors(bdf, present);

	if (!vt_check(n >= 0, "%s: cannot read /proc/interrupts", what))
		return false;
	for (int i = 0; i < MAXV; i++) {
		if (present[i] != (i < want->n && want->on[i]))
			return vt_check(false, "%s: vfio-msix[%d](%s) %s /proc/interrupts "
					"(%d lines, want %d)", what, i, bdf,
					present[i] ? "in" : "missing from", n, vset_count(want));
	}
	return true;
}

/* Each eventfd of `want` was signalled exactly once, every other one not. */
static bool check_fired(const int *efds, const struct vset *want, const char *what)
{
	bool ok = true;

	for (int i = 0; i < want->n; i++) {
		uint64_t c = vt_efd_take(efds[i]);
		uint64_t w = want->on[i] ? 1 : 0;

		if (c != w && ok)
			ok = vt_check(false, "%s: vector %d eventfd count %llu, want %llu", what,
				      i, (unsigned long long)c, (unsigned long long)w);
	}
	return ok;
}

static void drain(const int *efds, int n)
{
	for (int i = 0; i < n; i++)
		vt_efd_take(efds[i]);
}

/* ------------------------------------------------------------------------ */

struct mdev {
	const struct vt_dev *d;
	struct vt_vfio v;
	int dev;
	int nvec;
	bool e1000e;
	int efd[MAXV];
	int32_t fds[MAXV];	/* what SET_IRQS got */
};

static bool dynamic_msix_expected(void)
{
	/* 6.12 has dynamic MSI-X on x86 with interrupt remapping; 6.1 does not. */
	return !vt_kernel_is_6_1();
}

static void test_info(struct mdev *m)
{
	struct vfio_irq_info info;
	uint32_t want = VFIO_IRQ_INFO_EVENTFD;

	vt_begin("%s %s: MSI-X irq info (count %d, NORESIZE %s)", m->d->name, m->d->bdf,
		 m->nvec, dynamic_msix_expected() ? "clear" : "set");
	if (!dynamic_msix_expected())
		want |= VFIO_IRQ_INFO_NORESIZE;
	if (vt_check_ret(vt_irq_info(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, &info), "MSI-X info")) {
		vt_check_eq(info.count, (uint64_t)m->nvec, "MSI-X count");
		vt_check_eq(info.flags, want, "MSI-X flags");
	}
	vt_end();
}

static bool enable_all(struct mdev *m, const char *what)
{
	for (int i = 0; i < m->nvec; i++)
		m->fds[i] = m->efd[i];
	return vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, (uint32_t)m->nvec, m->fds),
			   "%s: enable %d vectors", what, m->nvec);
}

static void test_all_vectors(struct mdev *m)
{
	struct vset all, one, even;
	uint8_t bools[MAXV];
	int k = m->nvec / 2;

	vt_begin("%s %s: all %d vectors, loopback reaches exactly the right eventfds",
		 m->d->name, m->d->bdf, m->nvec);
	vset_range(&all, m->nvec, 0, m->nvec);
	vset_range(&one, m->nvec, k, k + 1);
	vset_none(&even, m->nvec);
	for (int i = 0; i < m->nvec; i++) {
		even.on[i] = !(i % 2);
		bools[i] = even.on[i];
	}
	drain(m->efd, m->nvec);
	if (enable_all(m, "all")) {
		check_proc(m->d->bdf, &all, "after enable");
		vt_check_eq(vt_efd_wait(m->efd[0], QUIET_MS), 0, "vector 0 fired by itself");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback DATA_NONE, all");
		check_fired(m->efd, &all, "DATA_NONE all");
		vt_check_ok(loop_none(m->dev, (uint32_t)k, 1), "loopback DATA_NONE vector %d", k);
		check_fired(m->efd, &one, "DATA_NONE one");
		vt_check_ok(loop_bool(m->dev, 0, (uint32_t)m->nvec, bools), "loopback DATA_BOOL");
		check_fired(m->efd, &even, "DATA_BOOL even vectors");
		/* A DATA_BOOL block starting in the middle: bools[i] is vector start+i. */
		vt_check_ok(loop_bool(m->dev, 1, (uint32_t)m->nvec - 1, bools),
			    "loopback DATA_BOOL from vector 1");
		vset_none(&one, m->nvec);
		for (int i = 1; i < m->nvec; i++)
			one.on[i] = bools[i - 1];
		check_fired(m->efd, &one, "DATA_BOOL from vector 1");
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	}
	vset_none(&all, m->nvec);
	check_proc(m->d->bdf, &all, "after disable");
	vt_check_errno(loop_none(m->dev, 0, 1), EINVAL, "loopback after disable");
	vt_check_errno(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), EINVAL, "second disable");
	vt_end();
}

/* e1000e: route cause i to vector map[i] (IVAR), enable them all. */
static bool e1k_route(struct mdev *m, const int *map)
{
	uint32_t ivar = 0;

	for (int i = 0; i < E1K_NCAUSES; i++)
		ivar |= (uint32_t)(0x8 | map[i]) << (4 * i);
	return vt_check(bar_write(m->dev, E1K_IMC, 0xffffffff) == 0 &&
			bar_write(m->dev, E1K_EIAC, 0) == 0 &&
			bar_write(m->dev, E1K_ICR, 0xffffffff) == 0 &&
			bar_write(m->dev, E1K_IVAR, ivar) == 0 &&
			bar_write(m->dev, E1K_IMS, 0x01f00000) == 0,
			"e1000e: programming IVAR/IMS: %s", vt_errname(errno));
}

/* e1000e raises cause i; the eventfd of `vector` must fire, no other. */
static bool e1k_fire(struct mdev *m, int cause, int vector, const char *what)
{
	bool ok;

	drain(m->efd, m->nvec);
	bar_write(m->dev, E1K_ICS, e1k_cause[cause]);
	ok = vt_check(vt_efd_wait(m->fds[vector], WAIT_MS) >= 1,
		      "%s: cause %d did not fire vector %d", what, cause, vector);
	for (int i = 0; i < m->nvec; i++)
		if (m->efd[i] != m->fds[vector] && vt_efd_take(m->efd[i]))
			ok = vt_check(false, "%s: cause %d also fired vector %d's eventfd",
				      what, cause, i);
	/* Clear the cause so that the next raise is a new interrupt. */
	bar_write(m->dev, E1K_ICR, 0xffffffff);
	return ok;
}

/*
 * QEMU 7.2's e1000e arms a per-vector throttling timer (EITR, at least 500
 * x 256 ns) at every MSI-X message, and aborts (assert msix_enabled) if it
 * expires after MSI-X was disabled.  Mask the causes and let it expire
 * before anything disables MSI-X.
 */
static void e1k_quiesce(struct mdev *m)
{
	bar_write(m->dev, E1K_IMC, 0xffffffff);
	bar_write(m->dev, E1K_ICR, 0xffffffff);
	usleep(20000);
}

static void test_device_raised(struct mdev *m)
{
	static const int straight[E1K_NCAUSES] = { 0, 1, 2, 3, 4 };
	static const int reversed[E1K_NCAUSES] = { 4, 3, 2, 1, 0 };
	int spare = vt_efd_new();

	vt_begin("%s %s: interrupts raised by the device arrive on the right vector",
		 m->d->name, m->d->bdf);
	if (!enable_all(m, "all") || !e1k_route(m, straight))
		goto out;
	for (int i = 0; i < E1K_NCAUSES; i++)
		e1k_fire(m, i, straight[i], "straight routing");
	if (e1k_route(m, reversed))
		for (int i = 0; i < E1K_NCAUSES; i++)
			e1k_fire(m, i, reversed[i], "reversed routing");
	/* Swap vector 2's eventfd: the device's next interrupt goes to the new one. */
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 2, spare), "swap vector 2")) {
		m->fds[2] = spare;
		e1k_fire(m, 2, 2, "after swap");
		vt_check_eq(vt_efd_take(m->efd[2]), 0, "swapped-out eventfd of vector 2");
	}
	/* Several rounds on one vector: each raise is one interrupt. */
	for (int r = 0; r < 10; r++)
		if (!e1k_fire(m, 0, 4, "repeat"))
			break;
out:
	e1k_quiesce(m);
	vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	drain(m->efd, m->nvec);
	close(spare);
	vt_end();
}

static void test_swap_remove(struct mdev *m)
{
	struct vset want;
	int k = m->nvec / 2, spare = vt_efd_new(), spare2 = vt_efd_new();

	vt_begin("%s %s: swap one vector's eventfd, remove it (-1), re-add it",
		 m->d->name, m->d->bdf);
	if (!enable_all(m, "all"))
		goto out;
	vset_range(&want, m->nvec, 0, m->nvec);

	/* Swap vector k's eventfd. */
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, spare),
			"swap vector %d", k)) {
		check_proc(m->d->bdf, &want, "after swap");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		vt_check_eq(vt_efd_take(spare), 1, "new eventfd of vector %d", k);
		want.on[k] = false;
		check_fired(m->efd, &want, "after swap");
		want.on[k] = true;
	}
	/* Remove vector k: its host IRQ goes, the others stay. */
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, -1),
			"remove vector %d", k)) {
		want.on[k] = false;
		check_proc(m->d->bdf, &want, "after removing one vector");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		vt_check_eq(vt_efd_take(spare), 0, "removed vector %d's eventfd", k);
		check_fired(m->efd, &want, "after removing one vector");
	}
	/* Re-add it with yet another eventfd. */
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, spare2),
			"re-add vector %d", k)) {
		want.on[k] = true;
		check_proc(m->d->bdf, &want, "after re-adding");
		vt_check_ok(loop_none(m->dev, (uint32_t)k, 1), "loopback vector %d", k);
		vt_check_eq(vt_efd_take(spare2), 1, "re-added vector %d", k);
		vt_check_eq(vt_efd_take(spare), 0, "old eventfd of vector %d", k);
	}
	/* Swap every vector at once to the same eventfd, then back. */
	for (int i = 0; i < m->nvec; i++)
		m->fds[i] = spare;
	if (vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, (uint32_t)m->nvec, m->fds),
			"all vectors to one eventfd")) {
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		vt_check_eq(vt_efd_take(spare), (uint64_t)m->nvec, "shared eventfd count");
		vset_none(&want, m->nvec);
		check_fired(m->efd, &want, "old eventfds after moving all");
	}
	enable_all(m, "back to one eventfd each");
	vset_range(&want, m->nvec, 0, m->nvec);
	check_proc(m->d->bdf, &want, "after moving back");
	vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
out:
	drain(m->efd, m->nvec);
	close(spare);
	close(spare2);
	vt_end();
}

static void test_partial_disable(struct mdev *m)
{
	struct vset want;
	int half = m->nvec / 2;
	int32_t off[MAXV];

	vt_begin("%s %s: partial disable (vectors %d..%d to -1), then full disable",
		 m->d->name, m->d->bdf, half, m->nvec - 1);
	if (!enable_all(m, "all"))
		goto out;
	for (int i = 0; i < MAXV; i++)
		off[i] = -1;
	if (vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)half,
				(uint32_t)(m->nvec - half), off), "upper half to -1")) {
		vset_range(&want, m->nvec, 0, half);
		check_proc(m->d->bdf, &want, "after partial disable");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		check_fired(m->efd, &want, "after partial disable");
	}
	/* The whole block to -1: still enabled, no vector has a handler. */
	if (vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, (uint32_t)m->nvec, off),
			"every vector to -1")) {
		vset_none(&want, m->nvec);
		check_proc(m->d->bdf, &want, "every vector -1");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec),
			    "loopback with MSI-X enabled but no eventfd");
		check_fired(m->efd, &want, "no eventfd");
	}
	/* And back, on the live (still enabled) set. */
	if (vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)half,
				(uint32_t)(m->nvec - half), m->efd + half), "upper half back")) {
		vset_range(&want, m->nvec, half, m->nvec);
		check_proc(m->d->bdf, &want, "upper half back");
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		check_fired(m->efd, &want, "upper half back");
	}
	vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "full disable");
	vset_none(&want, m->nvec);
	check_proc(m->d->bdf, &want, "after full disable");
out:
	drain(m->efd, m->nvec);
	vt_end();
}

static void test_start_offset(struct mdev *m)
{
	struct vset want;
	int s = m->nvec > 3 ? 2 : m->nvec - 1;

	vt_begin("%s %s: first enable at start vector %d", m->d->name, m->d->bdf, s);
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)s, m->efd[s]),
			"enable vector %d only", s)) {
		vset_range(&want, m->nvec, s, s + 1);
		check_proc(m->d->bdf, &want, "after enable at the start vector");
		/* Only the vectors the enable covered: 6.1 has no context beyond them. */
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)s + 1), "loopback 0..%d", s);
		check_fired(m->efd, &want, "loopback");
		/* Vectors below start are allocated: they can get an eventfd. */
		if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, m->efd[0]),
				"vector 0 below the first start")) {
			want.on[0] = true;
			check_proc(m->d->bdf, &want, "after adding vector 0");
			vt_check_ok(loop_none(m->dev, 0, 1), "loopback vector 0");
			vt_check_eq(vt_efd_take(m->efd[0]), 1, "vector 0");
		}
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	}
	drain(m->efd, m->nvec);
	vt_end();
}

static void test_grow(struct mdev *m)
{
	bool dyn = dynamic_msix_expected();
	int last = m->nvec - 1, mid = m->nvec > 3 ? 3 : last;
	struct vfio_irq_info info;
	struct vset want;
	int ret;

	vt_begin("%s %s: growing a live set (vectors %d and %d after enabling 0-1): %s",
		 m->d->name, m->d->bdf, mid, last, dyn ? "allowed" : "EINVAL");
	if (vt_irq_info(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, &info) == 0 &&
	    !!(info.flags & VFIO_IRQ_INFO_NORESIZE) == dyn)
		vt_check(false, "NORESIZE %s but this kernel %s dynamic MSI-X",
			 info.flags & VFIO_IRQ_INFO_NORESIZE ? "set" : "clear",
			 dyn ? "has" : "lacks");
	if (!vt_check_ok(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, m->efd), "enable 0-1"))
		goto out;
	vset_range(&want, m->nvec, 0, 2);
	check_proc(m->d->bdf, &want, "after enable 0-1");

	ret = set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)last, m->efd[last]);
	if (dyn) {
		if (vt_check_ok(ret, "add vector %d to the live set", last)) {
			want.on[last] = true;
			check_proc(m->d->bdf, &want, "after growing");
			vt_check_ok(loop_none(m->dev, (uint32_t)last, 1), "loopback vector %d",
				    last);
			vt_check_eq(vt_efd_take(m->efd[last]), 1, "grown vector %d", last);
		}
		if (mid != last &&
		    vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)mid, m->efd[mid]),
				"add vector %d to the live set", mid)) {
			want.on[mid] = true;
			check_proc(m->d->bdf, &want, "after growing again");
		}
		/* Grown vectors can be removed and re-added like the others. */
		vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)last, -1),
			    "remove vector %d", last);
		want.on[last] = false;
		check_proc(m->d->bdf, &want, "after removing the grown vector");
		vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)last, m->efd[last]),
			    "re-add vector %d", last);
		want.on[last] = true;
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		check_fired(m->efd, &want, "after growing");
	} else {
		vt_check_errno(ret, EINVAL, "add vector %d to the live set", last);
		check_proc(m->d->bdf, &want, "after refused growth");
		vt_check_errno(set_fds(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 1, 2, m->efd + 1), EINVAL,
			       "block 1-2 overlapping the end of the set");
		check_proc(m->d->bdf, &want, "after refused overlapping block");
		vt_check_ok(loop_none(m->dev, 0, 2), "loopback 0-1");
		check_fired(m->efd, &want, "after refused growth");
	}
	vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	vset_none(&want, m->nvec);
	check_proc(m->d->bdf, &want, "after disable");
out:
	drain(m->efd, m->nvec);
	vt_end();
}

static void test_exclusive(struct mdev *m)
{
	struct vfio_irq_info msi;
	int efd = vt_efd_new();
	bool has_msi = vt_irq_info(m->dev, VFIO_PCI_MSI_IRQ_INDEX, &msi) == 0 && msi.count;
	struct vset none;

	vset_none(&none, m->nvec);
	vt_begin("%s %s: MSI-X excludes MSI and INTx", m->d->name, m->d->bdf);
	if (enable_all(m, "all")) {
		if (has_msi)
			vt_check_errno(set_fd(m->dev, VFIO_PCI_MSI_IRQ_INDEX, 0, efd), EINVAL,
				       "enable MSI with MSI-X enabled");
		vt_check_errno(set_fd(m->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, efd), EINVAL,
			       "enable INTx with MSI-X enabled");
		vt_check_ok(loop_none(m->dev, 0, 1), "MSI-X vector 0 still works");
		vt_check_eq(vt_efd_take(m->efd[0]), 1, "vector 0 after refusals");
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	}
	if (has_msi && vt_check_ok(set_fd(m->dev, VFIO_PCI_MSI_IRQ_INDEX, 0, efd), "enable MSI")) {
		vt_check_errno(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, m->efd[0]), EINVAL,
			       "enable MSI-X with MSI enabled");
		check_proc(m->d->bdf, &none, "after refused MSI-X");
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSI_IRQ_INDEX), "disable MSI");
	}
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, efd), "enable INTx")) {
		vt_check_errno(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, m->efd[0]), EINVAL,
			       "enable MSI-X with INTx enabled");
		check_proc(m->d->bdf, &none, "after refused MSI-X");
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_INTX_IRQ_INDEX), "disable INTx");
	}
	/* And MSI-X works again after all that. */
	if (enable_all(m, "again")) {
		vt_check_ok(loop_none(m->dev, 0, (uint32_t)m->nvec), "loopback all");
		vset_range(&none, m->nvec, 0, m->nvec);
		check_fired(m->efd, &none, "after the switches");
		vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	}
	drain(m->efd, m->nvec);
	close(efd);
	vt_end();
}

static void test_close_teardown(struct mdev *m)
{
	struct vset none;

	vset_none(&none, m->nvec);
	vt_begin("%s %s: closing the device with MSI-X enabled frees every vector",
		 m->d->name, m->d->bdf);
	if (enable_all(m, "all")) {
		close(m->dev);
		m->v.device = m->dev = -1;
		check_proc(m->d->bdf, &none, "after close");
		/* The eventfds are free again: nothing signals them any more. */
		for (int i = 0; i < m->nvec; i++)
			vt_check_eq(vt_efd_take(m->efd[i]), 0, "vector %d after close", i);
		m->dev = ioctl(m->v.group, VFIO_GROUP_GET_DEVICE_FD, m->d->bdf);
		m->v.device = m->dev;
		if (vt_check_ok(m->dev, "reopen") && enable_all(m, "after reopen")) {
			vt_check_ok(loop_none(m->dev, 0, 1), "loopback vector 0");
			vt_check_eq(vt_efd_take(m->efd[0]), 1, "vector 0 after reopen");
			vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
		}
	}
	vt_end();
}

/* The MSI-X table, mmapped (the BAR holding it is MSIX_MAPPABLE). */
struct msix_table {
	void *map;
	size_t len;
	volatile uint32_t *table;
};

static bool table_map(struct mdev *m, struct msix_table *t)
{
	uint8_t cfg[256];
	struct vfio_region_info *ri;
	unsigned int cap;
	uint32_t tbl;

	memset(t, 0, sizeof(*t));
	if (!vt_check(vt_config_read(m->dev, cfg, sizeof(cfg), 0) == sizeof(cfg),
		      "read config"))
		return false;
	cap = vt_pci_find_cap(cfg, sizeof(cfg), 0x11);
	if (!vt_check(cap, "no MSI-X capability"))
		return false;
	tbl = vt_le32(cfg + cap + 4);
	ri = vt_region_info(m->dev, tbl & 7);
	if (!vt_check(ri && (ri->flags & VFIO_REGION_INFO_FLAG_MMAP), "BAR %u not mmappable",
		      tbl & 7)) {
		free(ri);
		return false;
	}
	t->len = ri->size;
	t->map = mmap(NULL, t->len, PROT_READ | PROT_WRITE, MAP_SHARED, m->dev,
		      (off_t)ri->offset);
	free(ri);
	if (!vt_check(t->map != MAP_FAILED, "mmap the MSI-X BAR: %s", vt_errname(errno))) {
		t->map = NULL;
		return false;
	}
	t->table = (volatile uint32_t *)((uint8_t *)t->map + (tbl & ~7u));
	return true;
}

/* The Mask bit of a vector's Vector Control word in the device's table. */
static int table_masked(struct msix_table *t, int vector)
{
	return t->table[vector * 4 + 3] & 1;
}

static bool cmd_memory(struct mdev *m, bool on)
{
	uint16_t cmd;

	if (!vt_check_ret(vt_config_read16(m->dev, PCI_COMMAND, &cmd), "read command"))
		return false;
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	return vt_check_ret(vt_config_write16(m->dev, PCI_COMMAND, cmd), "memory decode %s",
			    on ? "on" : "off");
}

/*
 * The kernel writes the MSI-X table (mask on free_irq, message and unmask
 * on request_irq) with memory decode forced on, even when the user has it
 * off: a vector removed meanwhile must end up masked in the device.
 */
static void test_table_writes(struct mdev *m)
{
	struct msix_table t;
	int k = m->nvec > 2 ? 2 : 0, j = m->nvec - 1, spare = vt_efd_new();

	vt_begin("%s %s: vector removal and swap with memory decode off reach the table",
		 m->d->name, m->d->bdf);
	if (!enable_all(m, "all") || !table_map(m, &t))
		goto out;
	vt_check_eq(table_masked(&t, k), 0, "vector %d masked while in use", k);
	if (vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, -1),
			"remove vector %d", k))
		vt_check_eq(table_masked(&t, k), 1, "removed vector %d not masked", k);
	vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, m->efd[k]),
		    "re-add vector %d", k);
	vt_check_eq(table_masked(&t, k), 0, "re-added vector %d still masked", k);

	/* Now with decode off: no user access to the BAR until it is back on. */
	if (cmd_memory(m, false)) {
		vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)k, -1),
			    "remove vector %d, decode off", k);
		vt_check_ok(set_fd(m->dev, VFIO_PCI_MSIX_IRQ_INDEX, (uint32_t)j, spare),
			    "swap vector %d, decode off", j);
		cmd_memory(m, true);
		vt_check_eq(table_masked(&t, k), 1,
			    "vector %d removed with decode off is not masked in the device", k);
		vt_check_eq(table_masked(&t, j), 0,
			    "vector %d swapped with decode off is masked in the device", j);
		vt_check_ok(loop_none(m->dev, (uint32_t)j, 1), "loopback vector %d", j);
		vt_check_eq(vt_efd_take(spare), 1, "swapped vector %d", j);
		if (m->e1000e && e1k_route(m, (const int[E1K_NCAUSES]){ 0, 1, 2, 3, 4 })) {
			m->fds[j] = spare;
			e1k_fire(m, j, j, "device raise on the vector swapped with decode off");
			m->fds[j] = m->efd[j];
			e1k_quiesce(m);
		}
	}
	vt_check_ok(vt_irq_disable(m->dev, VFIO_PCI_MSIX_IRQ_INDEX), "disable");
	for (int i = 0; i < m->nvec; i++)
		if (table_masked(&t, i) != 1) {
			vt_check(false, "vector %d not masked after disable", i);
			break;
		}
out:
	cmd_memory(m, true);
	if (t.map)
		munmap(t.map, t.len);
	drain(m->efd, m->nvec);
	close(spare);
	vt_end();
}

#define CASES_COMMON	9

static void run_device(const struct vt_dev *d)
{
	struct vfio_irq_info info;
	struct mdev m = { .d = d };
	uint16_t cmd;

	m.e1000e = d->vendor == 0x8086;
	if (vt_bind(d->bdf) || vt_vfio_open(&m.v, d->bdf) < 0) {
		vt_begin("%s %s: open", d->name, d->bdf);
		vt_check(false, "cannot open");
		vt_end();
		for (int i = 1; i < CASES_COMMON + m.e1000e; i++)
			vt_skip("device did not open", "%s %s", d->name, d->bdf);
		return;
	}
	m.dev = m.v.device;
	m.nvec = vt_irq_info(m.dev, VFIO_PCI_MSIX_IRQ_INDEX, &info) == 0 ?
		 (int)info.count : 0;
	if (m.nvec > MAXV)
		m.nvec = MAXV;
	for (int i = 0; i < m.nvec; i++)
		m.efd[i] = vt_efd_new();
	/* Bus Master: without it the device's MSI-X writes are dropped. */
	if (!vt_config_read16(m.dev, PCI_COMMAND, &cmd))
		vt_config_write16(m.dev, PCI_COMMAND,
				  cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
	vt_diag("%s %s: %d MSI-X vectors, kernel %s, %s", d->name, d->bdf, m.nvec,
		vt_kernel(), vt_baseline() ? "baseline" : "ng");

	test_info(&m);
	test_all_vectors(&m);
	if (m.e1000e)
		test_device_raised(&m);
	test_swap_remove(&m);
	test_partial_disable(&m);
	test_start_offset(&m);
	test_grow(&m);
	test_exclusive(&m);
	test_table_writes(&m);
	test_close_teardown(&m);

	for (int i = 0; i < m.nvec; i++)
		close(m.efd[i]);
	vt_vfio_close(&m.v);
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	int n = 0, cases = 0, e1k;

	e1k = vt_find_devices(0x8086, 0x10d3, devs, VT_MAX_DEVS);
	if (e1k > 0)
		n = 1;
	if (vt_find_devices(0x1b36, 0x0010, devs + n, VT_MAX_DEVS - n) > 0)
		n++;
	if (!n)
		vt_skip_all("no e1000e and no nvme");
	for (int i = 0; i < n; i++)
		cases += CASES_COMMON + (devs[i].vendor == 0x8086);
	vt_plan((unsigned int)cases);
	for (int i = 0; i < n; i++)
		run_device(&devs[i]);
	return vt_finish();
}
