// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt stress, about 5 s, two edus:
 * - edu A (root bus), MSI: one thread raises MSIs in a loop while another
 *   keeps replacing the vector's eventfd (SET_IRQS on the live vector);
 * - edu B (behind the bridge), INTx: one thread raises, waits for the
 *   eventfd, acks and unmasks (alternately by ioctl and by the unmask
 *   eventfd) while another keeps masking and unmasking (MASK/UNMASK ioctls
 *   and the INTx-disable bit of the virtual command register).
 * No INTx raise may be lost (a lost wakeup would show as a wait that never
 * ends), no ioctl may fail, both devices still work afterwards, and the
 * runner checks the console (lockdep, KASAN on the debug kernel).  The
 * counts of delivered interrupts are printed.
 *
 * Under nointxmask (check.py's [nointxmask] run) the in-tree driver loses
 * the INTx line in this race: its interrupt handler disables the IRQ
 * without looking whether a MASK has just disabled it, so the IRQ's
 * disable depth ends one too high and the next UNMASK leaves the line
 * disabled for good (measured on the debug kernel: no raise is delivered
 * after, MASK + UNMASK does not help, an INTx disable + enable does).  The
 * stress is skipped in baseline mode there.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_COMMAND_INTX_DISABLE 0x400

#define DURATION_MS	5000
#define INTX_WAIT_MS	2000

static int intx_action(int dev, uint32_t action)
{
	return vt_set_irqs(dev, VFIO_IRQ_SET_DATA_NONE | action, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
			   NULL, 0);
}

static int edu_write(int dev, uint32_t off, uint32_t val)
{
	return pwrite(dev, &val, 4, (off_t)(VT_REGION_OFFSET(0) + off)) == 4 ? 0 : -1;
}

static int cmd_write(int dev, bool intx_disable)
{
	uint16_t cmd = PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;

	if (intx_disable)
		cmd |= PCI_COMMAND_INTX_DISABLE;
	return vt_config_write16(dev, PCI_COMMAND, cmd);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------ */

static atomic_bool stop;
static atomic_int errors;

static void error(const char *what, int err)
{
	if (atomic_fetch_add(&errors, 1) < 5)
		vt_diag("%s: %s", what, vt_errname(err));
}

struct msi_state {
	int dev;
	atomic_int efd;			/* the eventfd the vector has now */
	unsigned long raises, swaps, delivered;
};

static void *msi_raiser(void *arg)
{
	struct msi_state *s = arg;

	while (!atomic_load(&stop)) {
		if (edu_write(s->dev, EDU_IRQ_RAISE, 0x1)) {
			error("MSI raise", errno);
			break;
		}
		s->raises++;
	}
	return NULL;
}

static void *msi_swapper(void *arg)
{
	struct msi_state *s = arg;

	while (!atomic_load(&stop)) {
		int old = atomic_load(&s->efd), efd = vt_efd_new();

		if (efd < 0) {
			error("eventfd", errno);
			break;
		}
		if (vt_irq_action_fd(s->dev, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
				     efd)) {
			error("MSI eventfd swap", errno);
			close(efd);
			break;
		}
		atomic_store(&s->efd, efd);
		/* The old eventfd is no longer signalled: its count is final. */
		s->delivered += vt_efd_take(old);
		close(old);
		s->swaps++;
		usleep(1000);
	}
	return NULL;
}

struct intx_state {
	int dev;
	int efd, ufd;
	unsigned long raises, delivered, late, lost, toggles, cfg_toggles;
};

static void *intx_raiser(void *arg)
{
	struct intx_state *s = arg;
	uint64_t one = 1;

	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		uint64_t n;

		if (edu_write(s->dev, EDU_IRQ_RAISE, 0x1)) {
			error("INTx raise", errno);
			break;
		}
		s->raises++;
		n = vt_efd_wait(s->efd, INTX_WAIT_MS);
		if (!n) {
			/* Maybe masked by the toggler right now: unmask ourselves. */
			s->late++;
			if (intx_action(s->dev, VFIO_IRQ_SET_ACTION_UNMASK))
				error("INTx unmask (late)", errno);
			n = vt_efd_wait(s->efd, INTX_WAIT_MS);
			if (!n) {
				s->lost++;
				vt_diag("INTx raise %lu lost", s->raises);
			}
		}
		if (n)
			s->delivered++;
		if (edu_write(s->dev, EDU_IRQ_ACK, 0x1))
			error("INTx ack", errno);
		/* Duplicates signalled by the toggler's unmask before the ack. */
		vt_efd_take(s->efd);
		if (i % 2) {
			if (write(s->ufd, &one, sizeof(one)) != sizeof(one))
				error("unmask eventfd", errno);
		} else if (intx_action(s->dev, VFIO_IRQ_SET_ACTION_UNMASK)) {
			error("INTx unmask", errno);
		}
		if (s->lost > 3)
			break;
	}
	return NULL;
}

static void *intx_toggler(void *arg)
{
	struct intx_state *s = arg;

	for (unsigned long i = 0; !atomic_load(&stop); i++) {
		if (i % 4 == 3) {
			/* Through the virtual command register (external mask ops). */
			if (cmd_write(s->dev, true) || cmd_write(s->dev, false))
				error("command DisINTx toggle", errno);
			s->cfg_toggles++;
		} else {
			if (intx_action(s->dev, VFIO_IRQ_SET_ACTION_MASK) ||
			    intx_action(s->dev, VFIO_IRQ_SET_ACTION_UNMASK))
				error("INTx MASK/UNMASK", errno);
			s->toggles++;
		}
		if (i % 16 == 0)
			usleep(500);
	}
	return NULL;
}

static void stress(struct msi_state *ms, struct intx_state *is)
{
	pthread_t t[4];
	int nt = 0;
	long t0, elapsed;

	vt_begin("%d ms: MSI raises vs eventfd swaps, INTx raises vs mask toggling", DURATION_MS);
	t0 = now_ms();
	if (!pthread_create(&t[nt], NULL, msi_raiser, ms))
		nt++;
	if (!pthread_create(&t[nt], NULL, msi_swapper, ms))
		nt++;
	if (!pthread_create(&t[nt], NULL, intx_raiser, is))
		nt++;
	if (!pthread_create(&t[nt], NULL, intx_toggler, is))
		nt++;
	vt_check_eq(nt, 4, "threads started");
	while (now_ms() - t0 < DURATION_MS)
		usleep(50000);
	atomic_store(&stop, true);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	elapsed = now_ms() - t0;
	usleep(100000);
	ms->delivered += vt_efd_take(atomic_load(&ms->efd));

	vt_diag("MSI:  %lu raised, %lu delivered, %lu eventfd swaps", ms->raises, ms->delivered,
		ms->swaps);
	vt_diag("INTx: %lu raised, %lu delivered, %lu late, %lu lost, %lu MASK/UNMASK pairs, "
		"%lu DisINTx toggles", is->raises, is->delivered, is->late, is->lost, is->toggles,
		is->cfg_toggles);
	vt_diag("threads done %ld ms after start", elapsed);
	vt_check_eq(atomic_load(&errors), 0, "failed calls");
	vt_check(ms->raises > 0 && ms->swaps > 0, "MSI threads did not run");
	vt_check(ms->delivered > 0, "no MSI delivered");
	vt_check(ms->delivered <= ms->raises, "more MSIs delivered than raised");
	vt_check(is->raises > 0 && is->toggles > 0, "INTx threads did not run");
	vt_check_eq(is->lost, 0, "INTx raises lost");
	/* A raise held by a mask is signalled by the unmask that releases it. */
	vt_check_eq(is->late, 0, "INTx raises only seen after our own unmask");
	vt_check_eq(is->delivered, is->raises, "INTx raises delivered");
	vt_end();
}

static bool open_edu(const char *bdf, struct vt_vfio *v)
{
	uint32_t id;

	if (!vt_check_ret(vt_bind(bdf), "bind %s", bdf) ||
	    !vt_check_ret(vt_vfio_open(v, bdf), "open %s", bdf))
		return false;
	vt_check_ret(cmd_write(v->device, false), "%s: Bus Master", bdf);
	edu_write(v->device, EDU_IRQ_ACK, 0xffffffff);
	/* The BAR answers (a device whose BARs were lost would raise nothing). */
	id = 0;
	if (pread(v->device, &id, 4, (off_t)VT_REGION_OFFSET(0)) != 4)
		id = 0;
	return vt_check_eq(id, 0x010000ed, "%s: edu ID register", bdf);
}

int main(void)
{
	struct vt_dev devs[VT_MAX_DEVS];
	struct vt_vfio va, vb;
	struct msi_state ms = { 0 };
	struct intx_state is = { 0 };
	bool nointxmask = vt_nointxmask();
	int n, a = -1, b = -1;

	n = vt_find_devices(0x1234, 0x11e8, devs, VT_MAX_DEVS);
	for (int i = 0; i < n; i++) {
		if (!vt_behind_bridge(devs[i].bdf) && a < 0)
			a = i;
		else if (vt_behind_bridge(devs[i].bdf) && b < 0)
			b = i;
	}
	if (a < 0 || b < 0)
		vt_skip_all("needs an edu on the root bus and one behind a bridge");
	vt_plan(3);
	vt_diag("MSI on %s, INTx on %s, %d ms (kernel %s, %s%s)", devs[a].bdf, devs[b].bdf,
		DURATION_MS, vt_kernel(), vt_baseline() ? "baseline" : "ng",
		nointxmask ? ", nointxmask" : "");

	vt_begin("setup: MSI on edu A, INTx with an unmask eventfd on edu B");
	if (!open_edu(devs[a].bdf, &va))
		vt_bail("cannot open %s", devs[a].bdf);
	if (!open_edu(devs[b].bdf, &vb))
		vt_bail("cannot open %s", devs[b].bdf);
	ms.dev = va.device;
	atomic_store(&ms.efd, vt_efd_new());
	is.dev = vb.device;
	is.efd = vt_efd_new();
	is.ufd = vt_efd_new();
	vt_check_ok(vt_irq_action_fd(ms.dev, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
				     atomic_load(&ms.efd)), "enable MSI");
	vt_check_ok(vt_irq_action_fd(is.dev, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX,
				     is.efd), "enable INTx");
	vt_check_ok(vt_irq_action_fd(is.dev, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX,
				     is.ufd), "unmask eventfd");
	if (!vt_end())
		vt_bail("setup failed");

	if (vt_baseline() && nointxmask)
		vt_skip("known race of the in-tree driver under nointxmask: a MASK racing the "
			"interrupt handler leaves the line disabled",
			"%d ms: MSI raises vs eventfd swaps, INTx raises vs mask toggling",
			DURATION_MS);
	else
		stress(&ms, &is);

	vt_begin("both devices work normally afterwards");
	{
		int efd = atomic_load(&ms.efd);
		uint64_t one = 1;

		vt_efd_take(efd);
		edu_write(ms.dev, EDU_IRQ_RAISE, 0x1);
		vt_check(vt_efd_wait(efd, INTX_WAIT_MS) >= 1, "MSI after the stress");
		edu_write(ms.dev, EDU_IRQ_ACK, 0xffffffff);

		cmd_write(is.dev, false);
		edu_write(is.dev, EDU_IRQ_ACK, 0xffffffff);
		intx_action(is.dev, VFIO_IRQ_SET_ACTION_UNMASK);
		vt_efd_take(is.efd);
		for (int i = 0; i < 3; i++) {
			edu_write(is.dev, EDU_IRQ_RAISE, 0x1);
			vt_check(vt_efd_wait(is.efd, INTX_WAIT_MS) >= 1, "INTx %d after the stress",
				 i);
			edu_write(is.dev, EDU_IRQ_RAISE, 0x1);
			vt_check_eq(vt_efd_wait(is.efd, 200), 0, "INTx %d not automasked", i);
			edu_write(is.dev, EDU_IRQ_ACK, 0xffffffff);
			if (i % 2)
				vt_check(write(is.ufd, &one, sizeof(one)) == sizeof(one),
					 "unmask eventfd");
			else
				vt_check_ok(intx_action(is.dev, VFIO_IRQ_SET_ACTION_UNMASK),
					    "UNMASK");
		}
		vt_check_ok(vt_irq_disable(ms.dev, VFIO_PCI_MSI_IRQ_INDEX), "disable MSI");
		vt_check_ok(vt_irq_disable(is.dev, VFIO_PCI_INTX_IRQ_INDEX), "disable INTx");
		edu_write(ms.dev, EDU_IRQ_ACK, 0xffffffff);
		edu_write(is.dev, EDU_IRQ_ACK, 0xffffffff);
		close(efd);
	}
	vt_end();
	close(is.efd);
	close(is.ufd);
	vt_vfio_close(&va);
	vt_vfio_close(&vb);
	return vt_finish();
}
