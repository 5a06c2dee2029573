// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stateful hostile client (issue 16, item 3): for a fixed time per device
 * (7 s on the stock kernels, 13 s on the debug kernel), several threads
 * share one device fd and throw a seeded random mix of operations at it:
 *
 *   cfg-command  COMMAND writes (memory, I/O, bus master, INTx-disable)
 *   cfg-pmcsr    power state D0/D3hot (and D1/D2, PME bits) through PMCSR
 *   cfg-msi      MSI control word (enable, queue size), address, data, mask
 *   cfg-msix     MSI-X control word (enable, function mask)
 *   cfg-raw      config reads and writes at hostile offsets and sizes
 *                (capability boundaries, past 4 KiB, FLR through DEVCTL)
 *   region-rw    BAR, ROM, VGA and invalid regions: offsets at and across
 *                the end, sizes 0/3/5/7/8/4099/64K/1G
 *   id-read      the device's ID register (a value invariant, below)
 *   irq-kick     the device raises an interrupt (edu)
 *   mmap/munmap/mremap/touch
 *                BAR mappings (whole, partial, hostile ones that must
 *                fail), trimmed, moved, loads and stores through them with
 *                SIGBUS/SIGSEGV caught
 *   rw-via-map   pread/pwrite whose user buffer is a BAR mapping
 *   fork         a child inherits the fd and the mappings, touches them,
 *                makes a few calls and exits
 *   set-irqs     VFIO_DEVICE_SET_IRQS on every index with random start,
 *                count, data type, action, argsz and eventfds (pool, -1,
 *                -2, INT32_MIN, closed, /dev/null, the device fd, one that
 *                is closed right after)
 *   ioeventfd    VFIO_DEVICE_IOEVENTFD add/remove with hostile arguments,
 *                and signals of the registered ones
 *   reset, hot-reset, low-power (LOW_POWER_ENTRY[_WITH_WAKEUP]/EXIT and bad
 *                feature requests), info (GET_*_INFO, argsz variants)
 *   dup-reopen   a second device fd dup2()ed over the shared one
 *   close-reopen every 1.5-3 s (4-7 s on debug) the main thread pauses the
 *                workers, reaps the children, unmaps everything and closes
 *                the device (sometimes the group and container too) in
 *                whatever state it is, then reopens it
 *
 * Writes that reach the device only land where the QEMU device model does
 * nothing dangerous with random data (no DMA engine start, no NVMe enable,
 * no virtqueue enable, no e1000e interrupt: QEMU 7.2 asserts when a
 * throttling timer set in one interrupt mode fires in another): the
 * driver's code paths depend on offsets, sizes and state, not on the
 * values, and a QEMU abort would end the whole run.
 *
 * Afterwards the device must work: reopened, interrupts off, D0, memory on,
 * its ID register right through pread and through a mapping, its RAM BAR
 * (ivshmem, VGA) writable, vendor:device right, its interrupts (MSI-X, else
 * MSI, else INTx) enabled and fired by loopback, REQ too, and edu's real MSI
 * delivered.  During the chaos a few invariants hold whatever the state:
 * a successful read of the ID register (pread or mapping) or of the
 * virtualized vendor:device returns the right value, a region index past
 * the last is EINVAL, an mmap outside a mappable BAR fails.  An operation
 * that does not return within the hang limit fails the run (a watchdog
 * prints what every thread was doing and bails out), as does a child that
 * dies.  The runner adds every kernel report (BUG, WARNING, KASAN, lockdep,
 * hung task, kmemleak) from the console.
 *
 * One test case per device kind of the lab (edu, pci-testdev, ivshmem,
 * nvme, e1000e, virtio-rng, VGA), the first of each kind by address.
 *
 * Baseline mode (the in-tree vfio-pci) skips what that driver cannot take,
 * saying why (baseline_skips[]), and does not count the ID mismatches of
 * its two holes that leave memory decode off behind its copy (see facts()).
 *
 * Seeded: the seed is printed; argv[1] or VT_CHAOS_SEED=<seed> runs the same
 * sequence of operations in every thread again (the interleaving of threads
 * is the scheduler's).  For a bisection: VT_CHAOS_ONLY=<kinds>,
 * VT_CHAOS_SKIP=<classes>, VT_CHAOS_CLASSES=<only these classes>,
 * VT_CHAOS_THREADS=<n> (1: no concurrency),
 * VT_CHAOS_MS=<ms per device>, VT_CHAOS_TRACE=1 (every operation printed).
 * Each device's seed is derived from the seed and the kind's name, so
 * VT_CHAOS_ONLY does not change it.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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

#define PAGE		4096ul
#define R(i)		VT_REGION_OFFSET(i)
#define NREG		VFIO_PCI_NUM_REGIONS	/* 9 */
#define NIRQ		VFIO_PCI_NUM_IRQS	/* 5 */
#define CFG		VFIO_PCI_CONFIG_REGION_INDEX
#define ROM		VFIO_PCI_ROM_REGION_INDEX
#define VGA		VFIO_PCI_VGA_REGION_INDEX

#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_COMMAND_SERR	0x100
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_CAPABILITY_LIST	0x34
#define PCI_CAP_ID_PM		0x01
#define PCI_CAP_ID_MSI		0x05
#define PCI_CAP_ID_VNDR		0x09
#define PCI_CAP_ID_EXP		0x10
#define PCI_CAP_ID_MSIX		0x11
#define PCI_PM_CTRL		4
#define PCI_PM_CTRL_NO_SOFT_RESET 0x0008
#define PCI_MSI_FLAGS		2
#define PCI_MSI_FLAGS_64BIT	0x80
#define PCI_MSI_FLAGS_MASKBIT	0x100
#define PCI_MSIX_FLAGS		2
#define PCI_MSIX_TABLE		4
#define PCI_EXP_DEVCTL		8
#define PCI_EXP_DEVCTL_BCR_FLR	0x8000

#define EDU_ID		0x010000edu
#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define E1000_ICR	0xc0
#define E1000_IMC	0xd8

#define DEV_MS		7000	/* chaos per device, stock kernels */
#define DEV_MS_SLOW	13000	/* debug kernel */
#define HANG_MS		45000	/* one operation longer than this: a hang */
#define HANG_MS_SLOW	150000
#define IRQ_WAIT_MS	5000	/* a real MSI in the check afterwards */
#define IRQ_WAIT_MS_SLOW 20000

#define MAX_WORKERS	8
#define NSLOTS		12	/* mappings alive at once */
#define NEFD		6	/* eventfds for SET_IRQS */
#define NIOEFD		4	/* eventfds of ioeventfds that are signalled */
#define NIOREG		64	/* ioeventfds remembered for removal */
#define MAX_KIDS	2	/* fork children alive at once */
#define BUFSZ		(64 * 1024)	/* per-thread buffer, then a guard page */
#define CLOSED_FD	999	/* a number no fd of this program gets */
#define NOTE_LEN	192
#define RING		12	/* last operations remembered per thread */

/* ------------------------------------------------------------------------ */
/* Operation classes                                                         */

enum cls {
	C_CFG_CMD, C_CFG_PM, C_CFG_MSI, C_CFG_MSIX, C_CFG_RAW,
	C_REGION, C_IDREAD, C_KICK,
	C_MMAP, C_MUNMAP, C_MREMAP, C_TOUCH, C_MAPIO, C_FORK,
	C_IRQ, C_IOEVENTFD, C_RESET, C_HOTRESET, C_POWER, C_REOPEN, C_INFO,
	C_CLOSE,	/* the main thread's close + reopen, never picked by workers */
	NCLS
};

static const struct {
	const char *name;
	int weight;
} classes[NCLS] = {
	[C_CFG_CMD]	= { "cfg-command", 10 },
	[C_CFG_PM]	= { "cfg-pmcsr", 6 },
	[C_CFG_MSI]	= { "cfg-msi", 4 },
	[C_CFG_MSIX]	= { "cfg-msix", 4 },
	[C_CFG_RAW]	= { "cfg-raw", 6 },
	[C_REGION]	= { "region-rw", 14 },
	[C_IDREAD]	= { "id-read", 5 },
	[C_KICK]	= { "irq-kick", 3 },
	[C_MMAP]	= { "mmap", 5 },
	[C_MUNMAP]	= { "munmap", 3 },
	[C_MREMAP]	= { "mremap", 1 },
	[C_TOUCH]	= { "touch", 10 },
	[C_MAPIO]	= { "rw-via-map", 3 },
	[C_FORK]	= { "fork", 1 },
	[C_IRQ]		= { "set-irqs", 14 },
	[C_IOEVENTFD]	= { "ioeventfd", 4 },
	[C_RESET]	= { "reset", 1 },
	[C_HOTRESET]	= { "hot-reset", 1 },
	[C_POWER]	= { "low-power", 4 },
	[C_REOPEN]	= { "dup-reopen", 1 },
	[C_INFO]	= { "info", 3 },
	[C_CLOSE]	= { "close-reopen", 0 },
};

/*
 * Classes the in-tree driver (baseline mode) cannot take, with the reason:
 * skipped there, run against ours.  kernel NULL: every kernel.
 */
static const struct {
	enum cls cls;
	const char *kernel;
	const char *reason;
} baseline_skips[] = {
	/*
	 * Measured: mremap moving a BAR mapping (copy_vma -> the driver's
	 * vm_ops->open, which zaps the new vma) hits the WARN_ON in
	 * untrack_pfn() (arch/x86/mm/pat/memtype.c), the first time.
	 */
	{ C_MREMAP, "6.1", "6.1's in-tree driver: an mremap that moves a BAR mapping WARNs in "
	  "untrack_pfn (its vm_ops->open zaps the moved vma)" },
	/*
	 * Measured once (make check, 6.1 baseline, on a VGA function): "BUG:
	 * Bad page map" in the in-tree zap (vfio_pci_zap_and_vma_lock ->
	 * zap_page_range_single, from a config write of memory decode), then
	 * "Bad rss-counter state" at exit.  The 6.1 in-tree driver tracks
	 * faulted vmas on a list and zaps a new vma in vm_ops->open, but fork
	 * calls ->open before copy_page_range(): the child's copy keeps the
	 * parent's BAR PTEs, unlisted, so later zaps miss it and its faults
	 * remap over them.  Suspected from that reading, not isolated: ours
	 * zaps by the device's address space and runs fork.
	 */
	{ C_FORK, "6.1", "6.1's in-tree driver: a forked copy of a BAR mapping escapes its vma "
	  "list (->open runs before the PTEs are copied): Bad page map in a later zap" },
	/*
	 * Measured (6.1): with no interrupt set up, the in-tree driver lets
	 * INTx-disable in the hardware follow the user's virtual bit, so an
	 * INTx raised then has no handler, and the host disables the shared
	 * line ("irq 21: nobody cared").  Ours keeps the function parked.
	 */
	{ C_KICK, NULL, "the in-tree driver: an INTx raised with no interrupt set up is not "
	  "handled, and the host disables the shared line (nobody cared)" },
	{ NCLS, NULL, NULL },	/* end */
};

/*
 * And in set-irqs, no INTx in baseline.  Measured (6.1, nvme, in CI and in
 * a make check): the in-tree driver masks INTx with pci_intx(), a
 * read-modify-write of the command register outside the lock of its config
 * writes; a concurrent command write puts DisINTx back to clear while the
 * driver counts the line masked, so its handler answers IRQ_NONE to an
 * asserted line and the host disables it ("irq 21: nobody cared").  Ours
 * updates the command register under one lock.
 */
static const char baseline_no_intx[] =
	"the in-tree driver: pci_intx() masking races a config write of the command register, "
	"the masked line stays asserted, and the host disables it (nobody cared)";

/* ------------------------------------------------------------------------ */
/* Random numbers (splitmix64: one stream per thread, child, device)         */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static uint64_t below64(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool pct(struct rng *r, unsigned int p)
{
	return below(r, 100) < p;
}

static struct rng rng_for(uint64_t seed, uint64_t stream)
{
	struct rng r = { seed ^ (stream * 0xd1b54a32d192ed03ull) };

	rnd(&r);
	return r;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	return h;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* pread/pwrite without the compiler's opinion of the buffer sizes. */
static ssize_t rd(int fd, void *buf, size_t len, uint64_t off)
{
	return syscall(SYS_pread64, fd, buf, len, (off_t)off);
}

static ssize_t wr(int fd, const void *buf, size_t len, uint64_t off)
{
	return syscall(SYS_pwrite64, fd, buf, len, (off_t)off);
}

static int res(ssize_t n)
{
	return n < 0 ? errno : 0;
}

/* ------------------------------------------------------------------------ */
/* Output from any thread, the kernel log, the watchdog                      */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool trace;

static void logf_(const char *fmt, ...) VT_PRINTF(1, 2);
static void logf_(const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_lock);
	printf("# %s\n", msg);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* A line in the kernel log, so that console reports can be placed. */
static void kmsg(const char *fmt, ...) VT_PRINTF(1, 2);
static void kmsg(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, msg, (size_t)n) < 0)
		n = 0;
	close(fd);
}

/* Thread 0 is the main thread, 1..MAX_WORKERS the workers. */
struct wd_slot {
	atomic_long since;		/* start of the operation in progress (ms), 0: idle */
	atomic_int tid;			/* the thread's id, 0: not started */
	char now[NOTE_LEN];		/* what it is */
	char ring[RING][NOTE_LEN];	/* the operations before */
	unsigned int pos;
};

static struct wd_slot wd[MAX_WORKERS + 1];
static long hang_ms;
static char wd_device[160];

static void op_begin(int t, const char *fmt, ...) VT_PRINTF(2, 3);
static void op_begin(int t, const char *fmt, ...)
{
	struct wd_slot *s = &wd[t];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->now, sizeof(s->now), fmt, ap);
	va_end(ap);
	memcpy(s->ring[s->pos++ % RING], s->now, sizeof(s->now));
	if (trace)
		logf_("T%d %s", t, s->now);
	atomic_store(&s->since, now_ms());
}

/* Refine the description of the operation in progress. */
#define note(t, ...)	op_begin(t, __VA_ARGS__)

static void op_end(int t)
{
	atomic_store(&wd[t].since, 0);
}

/* A thread's state and kernel stack, from /proc (the stack needs root). */
static void print_task(int tid)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("#   tid %d is gone (killed: an oops in the kernel?)\n", tid);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	printf("#   tid %d state %c\n", tid, strrchr(buf, ')') ? strrchr(buf, ')')[2] : '?');
	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		printf("#     %s\n", line);
}

static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		long t0 = now_ms();

		usleep(250000);
		for (int t = 0; t <= MAX_WORKERS; t++) {
			long since = atomic_load(&wd[t].since);
			int fd;

			if (!since || t0 - since < hang_ms)
				continue;
			/* The stuck thread may hold out_lock: print regardless. */
			pthread_mutex_trylock(&out_lock);
			printf("not ok - %s: thread %d stuck for %ld ms in: %s\n", wd_device, t,
			       t0 - since, wd[t].now);
			for (int u = 0; u <= MAX_WORKERS; u++) {
				if (!wd[u].pos)
					continue;
				printf("# thread %d%s, last operations (oldest first):\n", u,
				       atomic_load(&wd[u].since) ? " (in an operation)" : "");
				if (atomic_load(&wd[u].tid))
					print_task(atomic_load(&wd[u].tid));
				for (unsigned int i = wd[u].pos > RING ? wd[u].pos - RING : 0;
				     i < wd[u].pos; i++)
					printf("#   %s\n", wd[u].ring[i % RING]);
			}
			/* Blocked tasks to the console (the runner boots with sysrq on). */
			fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (write(fd, "w", 1) < 0)
					printf("# sysrq-w: %s\n", vt_errname(errno));
				close(fd);
			}
			printf("Bail out! an operation hung (limit %ld ms)\n", hang_ms);
			fflush(stdout);
			_exit(1);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Device kinds: where random data may be written, what proves it works      */

struct win {
	uint64_t s, e;		/* [s, e) */
};

#define NWIN	6
struct pol {
	struct win w[NWIN];	/* all empty: no writes reach this BAR */
};

#define ANY	{ { { 0, UINT64_MAX } } }

struct chaos;

struct kind {
	const char *name;
	uint16_t vendor, device;
	struct pol pol[NREG];	/* BARs and the VGA region; ROM/config: see write_ok() */
	struct pol baseline_pol0;	/* BAR0's in baseline, if not empty */
	int id_bar;		/* a register that reads the same always, -1: none */
	uint32_t id_off, id_len, id_mask;	/* id_len 0: 4 bytes */
	uint32_t id_const;	/* its value, 0: as read at the first open */
	uint32_t id_sentinel;	/* written there first (a RAM BAR), 0: none */
	bool id_invariant;	/* successful reads during the chaos must match */
	int ram_bar;		/* a BAR backed by RAM, -1: none */
	bool no_vndr_writes;	/* vendor capabilities reach the BARs: leave them */
	void (*prep)(struct chaos *c);
	int (*kick)(struct chaos *c, struct rng *r);
	void (*quiet)(struct chaos *c);
};

/* ------------------------------------------------------------------------ */
/* The device under chaos                                                    */

struct slot {
	pthread_rwlock_t lock;	/* read: access through it; write: change it */
	uint8_t *addr;		/* NULL: empty */
	size_t len;
	uint32_t index;		/* region */
	uint64_t off;		/* region offset of addr */
	bool ro;
};

struct region {
	bool exists;		/* GET_REGION_INFO succeeded with a size */
	uint64_t size;
	uint32_t flags;
	bool mmap;
	bool io;		/* I/O port BAR */
};

struct ioreg {
	uint64_t offset, data;
	uint32_t flags;
};

struct stats {
	atomic_ulong ops[NCLS], errs[NCLS], ms[NCLS];
	atomic_ulong sigs;	/* SIGBUS/SIGSEGV caught in mapping accesses */
	atomic_ulong forks, kid_bad, violations;
	atomic_ulong known;	/* ID mismatches of the in-tree hole (baseline) */
};

struct chaos {
	const struct kind *k;
	const struct vt_dev *d;
	struct vt_vfio v;
	int dev;		/* device fd (dup-reopen keeps the number) */
	uint64_t seed;
	int nworkers;

	struct region reg[NREG];
	uint32_t nirq[NIRQ];
	uint32_t cfg_size;
	unsigned int pm, msi, msix, exp;
	uint16_t msi_flags;
	unsigned int vndr[8][2];	/* vendor capabilities: offset, length */
	int nvndr;
	uint32_t msix_bar;
	uint64_t msix_off;
	int bars[6], nbars;		/* existing BARs */
	int maps[6], nmaps;		/* mappable BARs */
	bool has_io;
	bool id_ok;			/* id_value is worth comparing */
	bool no_soft_reset;		/* PM capability: No_Soft_Reset */
	bool known_hole;		/* baseline: the in-tree decode holes */
	uint32_t id_value;
	int weight[NCLS];

	int irq_efd[NEFD], io_efd[NIOEFD], dud_efd, wake_efd, null_fd;
	struct slot slot[NSLOTS];

	pthread_mutex_t lock;		/* io[], kid[] */
	struct ioreg io[NIOREG];
	int nio;
	pid_t kid[MAX_KIDS];
	int nkid;

	pthread_mutex_t pmu;		/* pausing the workers */
	pthread_cond_t pcond;
	bool pausing;
	int npaused;
	atomic_bool pause, stop;

	struct stats st;
	bool do_close;			/* close-reopen not skipped */
	bool broken;			/* a reopen failed */
};

struct worker {
	struct chaos *c;
	int t;
	struct rng r;
	uint8_t *buf;		/* BUFSZ, then an inaccessible page */
	pthread_t th;
};

static unsigned long total_ops[NCLS], total_errs[NCLS];
static uint64_t master_seed;

static void violation(struct chaos *c, int t, const char *fmt, ...) VT_PRINTF(3, 4);
static void violation(struct chaos *c, int t, const char *fmt, ...)
{
	char msg[384];
	unsigned long n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = atomic_fetch_add(&c->st.violations, 1);
	if (n < 8)
		logf_("%s: invariant violated (thread %d): %s (in: %s)", c->k->name, t, msg,
		      wd[t].now);
	if (n)
		return;
	/* The first one: what every thread did last (racy, a hint). */
	for (int u = 1; u <= c->nworkers; u++) {
		unsigned int pos = wd[u].pos;

		for (unsigned int i = pos > RING ? pos - RING : 0; i < pos; i++)
			logf_("  thread %d: %s", u, wd[u].ring[i % RING]);
	}
}

/*
 * May random data be written at [off, off+len) of region idx?  Out of range
 * and invalid regions: yes (the driver must refuse, nothing reaches the
 * device); ROM: yes (read-only); config: only through the cfg classes.
 */
static bool write_ok(const struct chaos *c, uint32_t idx, uint64_t off, uint64_t len)
{
	const struct region *g;
	uint64_t end;

	if (idx >= NREG || idx == ROM || idx == CFG)
		return true;
	g = &c->reg[idx];
	if (!g->exists || off >= g->size || !len)
		return true;
	end = len > g->size - off ? g->size : off + len;
	for (int i = 0; i < NWIN; i++) {
		const struct win *w = &c->k->pol[idx].w[i];

		if (idx == 0 && vt_baseline() && c->k->baseline_pol0.w[0].e)
			w = &c->k->baseline_pol0.w[i];

		if (w->e > w->s && off >= w->s && end <= w->e)
			return true;
	}
	return false;
}

/* A config write at [off, off+len) that stays off vendor capabilities. */
static bool cfg_write_ok(const struct chaos *c, uint64_t off, uint64_t len)
{
	if (!c->k->no_vndr_writes)
		return true;
	for (int i = 0; i < c->nvndr; i++)
		if (off < c->vndr[i][0] + c->vndr[i][1] && off + len > c->vndr[i][0])
			return false;
	return true;
}

static unsigned int id_len(const struct kind *k)
{
	return k->id_len ? k->id_len : 4;
}

/* The ID register through the fd: 0 or an errno. */
static int id_pread(const struct kind *k, int dev, uint32_t *val)
{
	unsigned int len = id_len(k);
	ssize_t n;

	*val = 0;
	n = rd(dev, val, len, R((uint32_t)k->id_bar) + k->id_off);
	return n == (ssize_t)len ? 0 : n < 0 ? errno : EIO;
}

/* ... and through a mapping of it at p: 0 or the signal. */
static int id_load(const struct kind *k, volatile uint8_t *p, uint32_t *val)
{
	*val = 0;
	return vt_map_copy(p, val, id_len(k), id_len(k), false);
}

static bool id_check(struct chaos *c, int t, uint32_t val, const char *how)
{
	uint16_t hw = 0, user = 0;
	uint32_t again = 0;
	char power[16] = "?";
	int err;

	if (!c->k->id_invariant || !c->id_ok)
		return true;
	if ((val & c->k->id_mask) == c->id_value)
		return true;
	/* The state right after: the host's (hardware) COMMAND and the user's. */
	{
		uint8_t cfg[8];

		if (vt_sysfs_config(c->d->bdf, cfg, sizeof(cfg)) == sizeof(cfg))
			hw = vt_le16(cfg + PCI_COMMAND);
	}
	rd(c->dev, &user, 2, R(CFG) + PCI_COMMAND);
	vt_sysfs_read(c->d->bdf, "power_state", power, sizeof(power));
	err = id_pread(c->k, c->dev, &again);
	if (c->known_hole) {
		if (!atomic_fetch_add(&c->st.known, 1))
			logf_("%s: ID register read %#x via %s (COMMAND %#x in the hardware, %#x "
			      "for the user): the in-tree hole, not counted", c->k->name,
			      val & c->k->id_mask, how, hw, user);
		return false;
	}
	violation(c, t, "ID register (BAR%d %#x) read %#x via %s, want %#x; then: COMMAND "
		  "%#x in the hardware, %#x for the user, %s, read again: %s %#x", c->k->id_bar,
		  c->k->id_off, val & c->k->id_mask, how, c->id_value, hw, user, power,
		  vt_errname(err), again & c->k->id_mask);
	return false;
}

/* ------------------------------------------------------------------------ */
/* Device kinds                                                              */

static int edu_kick(struct chaos *c, struct rng *r)
{
	uint32_t v = pct(r, 80) ? 1 : (uint32_t)rnd(r) & 0x101;

	if (pct(r, 30)) {
		uint32_t all = ~0u;

		wr(c->dev, &all, 4, R(0) + EDU_IRQ_ACK);
	}
	return res(wr(c->dev, &v, 4, R(0) + EDU_IRQ_RAISE));
}

static void edu_quiet(struct chaos *c)
{
	uint32_t all = ~0u;

	wr(c->dev, &all, 4, R(0) + EDU_IRQ_ACK);
}

static void e1000e_quiet(struct chaos *c)
{
	uint32_t all = ~0u, v;

	wr(c->dev, &all, 4, R(0) + E1000_IMC);
	rd(c->dev, &v, 4, R(0) + E1000_ICR);	/* read to clear */
}

/* pci-testdev: select test 0, whose name then sits at offset 16. */
static void testdev_prep(struct chaos *c)
{
	uint8_t zero = 0;

	wr(c->dev, &zero, 1, R(0));
}

static const struct kind kinds[] = {
	{
		.name = "edu", .vendor = 0x1234, .device = 0x11e8,
		/*
		 * 0x80-0x9f: the DMA engine (QEMU 7.2 aborts on a bad transfer);
		 * 0x60-0x63, raise an interrupt: not in baseline (see C_KICK in
		 * baseline_skips[])
		 */
		.pol = { [0] = { { { 0, 0x80 }, { 0xa0, UINT64_MAX } } } },
		.baseline_pol0 = { { { 0, 0x60 }, { 0x64, 0x80 }, { 0xa0, UINT64_MAX } } },
		.id_bar = 0, .id_off = 0, .id_mask = ~0u, .id_const = EDU_ID,
		.id_invariant = true, .ram_bar = -1,
		.kick = edu_kick, .quiet = edu_quiet,
	},
	{
		.name = "pci-testdev", .vendor = 0x1b36, .device = 0x0005,
		/* not the test number (offset 0), which selects the header */
		.pol = { [0] = { { { 1, UINT64_MAX } } }, [1] = { { { 1, UINT64_MAX } } },
			 [2] = ANY },
		/* the name of the test selected by prep */
		.id_bar = 0, .id_off = 16, .id_mask = ~0u, .id_invariant = true, .ram_bar = -1,
		.prep = testdev_prep,
	},
	{
		.name = "ivshmem", .vendor = 0x1af4, .device = 0x1110,
		/*
		 * A sentinel in the RAM BAR, never written by the chaos: QEMU
		 * answers 0 with decode off, which IVPOSITION (0) would not show.
		 */
		.pol = { [0] = ANY, [2] = { { { 0, 0x1000 }, { 0x1004, UINT64_MAX } } } },
		.id_bar = 2, .id_off = 0x1000, .id_mask = ~0u, .id_const = 0x1badcafe,
		.id_sentinel = 0x1badcafe, .id_invariant = true, .ram_bar = 2,
	},
	{
		.name = "nvme", .vendor = 0x1b36, .device = 0x0010,
		/* not CC (0x14): no controller enable with random queues */
		.pol = { [0] = { { { 0, 0x14 }, { 0x18, UINT64_MAX } } } },
		/* VS */
		.id_bar = 0, .id_off = 8, .id_mask = ~0u, .id_invariant = true, .ram_bar = -1,
	},
	{
		.name = "e1000e", .vendor = 0x8086, .device = 0x10d3,
		/*
		 * QEMU 7.2's e1000e asserts when an interrupt throttling timer
		 * armed in one interrupt mode (ITR: INTx/MSI, EITR: MSI-X)
		 * fires after the user switched modes, which SET_IRQS does at
		 * any time here: the device must raise no interrupt at all.
		 * IMS stays 0 (prep/quiet clear it), and BAR0 is written only
		 * at ICR, IMC, EIAC, IAM, IVAR, the multicast table, the
		 * receive addresses and the unimplemented tail (no DMA setup
		 * either); BAR2: not IODATA (indirect access to BAR0); flash
		 * and MSI-X BARs: any.
		 */
		.pol = {
			[0] = { { { 0xc0, 0xc4 }, { 0xd8, 0xe8 }, { 0x5200, 0x5480 },
				  { 0x1fff0, UINT64_MAX } } },
			[1] = ANY,
			[2] = { { { 0, 4 }, { 8, UINT64_MAX } } },
			[3] = ANY,
		},
		/* STATUS without PHYRA (write-0-to-clear) */
		.id_bar = 0, .id_off = 8, .id_mask = ~0x400u, .ram_bar = -1,
		.prep = e1000e_quiet, .quiet = e1000e_quiet,
	},
	{
		.name = "virtio-rng", .vendor = 0x1af4, .device = 0x1044,
		/*
		 * BAR4, modern virtio: common config but device_status,
		 * queue_size (QEMU counts the queues of nonzero size in
		 * num_queues, the ID here) and queue_enable, the ISR, the
		 * tail of the notify area (queue numbers past the last);
		 * BAR1 (MSI-X): any.
		 */
		.pol = {
			[1] = ANY,
			[4] = { { { 0, 0x14 }, { 0x16, 0x18 }, { 0x1a, 0x1c }, { 0x1e, 0x38 },
				  { 0x1000, 0x1004 }, { 0x3ff0, UINT64_MAX } } },
		},
		/* num_queues, 16 bits */
		.id_bar = 4, .id_off = 0x12, .id_len = 2, .id_mask = 0xffff, .id_invariant = true,
		.ram_bar = -1, .no_vndr_writes = true,
	},
	{
		.name = "vga", .vendor = 0x1234, .device = 0x1111,
		/* BAR0 VRAM, BAR2: the VGA port mirror and the unassigned tail */
		.pol = { [0] = ANY, [2] = { { { 0x400, 0x420 }, { 0xff0, UINT64_MAX } } },
			 [VGA] = ANY },
		/* bochs VBE ID (dispi index 0), 16 bits */
		.id_bar = 2, .id_off = 0x500, .id_len = 2, .id_mask = 0xffff, .id_invariant = true, .ram_bar = 0,
	},
};

#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

/* ------------------------------------------------------------------------ */
/* Config space operations                                                   */

static int cfgw(struct chaos *c, uint64_t off, uint32_t val, size_t len)
{
	return res(wr(c->dev, &val, len, R(CFG) + off));
}

static int cfg_cmd(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	uint16_t v = 0, cur = 0;

	if (pct(r, 15)) {
		v = (uint16_t)rnd(r);
	} else {
		v |= pct(r, 70) ? PCI_COMMAND_MEMORY : 0;
		v |= pct(r, 40) ? PCI_COMMAND_IO : 0;
		v |= pct(r, 60) ? PCI_COMMAND_MASTER : 0;
		v |= pct(r, 35) ? PCI_COMMAND_INTX_DISABLE : 0;
		v |= pct(r, 10) ? PCI_COMMAND_SERR : 0;
	}
	switch (below(r, 10)) {
	case 0:
		note(w->t, "cfg COMMAND low byte := %#x", v & 0xff);
		return cfgw(c, PCI_COMMAND, v & 0xff, 1);
	case 1:
		note(w->t, "cfg COMMAND high byte := %#x", v >> 8);
		return cfgw(c, PCI_COMMAND + 1, v >> 8, 1);
	case 2: {
		uint32_t d = v | ((uint32_t)rnd(r) & 0xffff0000u);

		note(w->t, "cfg COMMAND+STATUS dword := %#x", d);
		return cfgw(c, PCI_COMMAND, d, 4);
	}
	case 3: {
		static const uint16_t bits[] = { PCI_COMMAND_IO, PCI_COMMAND_MEMORY,
			PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE };

		if (rd(c->dev, &cur, 2, R(CFG) + PCI_COMMAND) != 2)
			return errno;
		v = cur ^ bits[below(r, 4)];
		note(w->t, "cfg COMMAND %#x -> %#x", cur, v);
		return cfgw(c, PCI_COMMAND, v, 2);
	}
	default:
		note(w->t, "cfg COMMAND := %#x", v);
		return cfgw(c, PCI_COMMAND, v, 2);
	}
}

static int cfg_pm(struct chaos *c, struct worker *w)
{
	static const uint16_t states[] = { 0, 0, 0, 3, 3, 3, 1, 2 };
	struct rng *r = &w->r;
	uint16_t v = states[below(r, 8)];
	unsigned int how = below(r, 10);

	v |= pct(r, 15) ? 0x100 : 0;	/* PME_En */
	v |= pct(r, 10) ? 0x8000 : 0;	/* PME_Status, write 1 to clear */
	if (pct(r, 5))
		v = (uint16_t)rnd(r);
	if (how == 0) {
		note(w->t, "cfg PMCSR byte := %#x (D%u)", v & 0xff, v & 3);
		return cfgw(c, c->pm + PCI_PM_CTRL, v & 0xff, 1);
	}
	if (how == 1) {
		uint32_t d = v | ((uint32_t)rnd(r) & 0xffff0000u);

		note(w->t, "cfg PMCSR dword := %#x (D%u)", d, v & 3);
		return cfgw(c, c->pm + PCI_PM_CTRL, d, 4);
	}
	note(w->t, "cfg PMCSR := %#x (D%u)", v, v & 3);
	return cfgw(c, c->pm + PCI_PM_CTRL, v, 2);
}

static int op_cfg_msi(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	unsigned int m = c->msi, how = below(r, 8);
	bool is64 = c->msi_flags & PCI_MSI_FLAGS_64BIT;
	uint32_t v;

	if (how < 4) {
		v = (pct(r, 50) ? 1 : 0) | below(r, 8) << 4;
		if (pct(r, 10))
			v = (uint16_t)rnd(r);
		if (pct(r, 20)) {
			note(w->t, "cfg MSI flags byte := %#x", v & 0xff);
			return cfgw(c, m + PCI_MSI_FLAGS, v & 0xff, 1);
		}
		note(w->t, "cfg MSI flags := %#x", v);
		return cfgw(c, m + PCI_MSI_FLAGS, v, 2);
	}
	if (how < 6) {
		unsigned int off = m + 4 + 4 * below(r, is64 ? 3 : 2);

		v = (uint32_t)rnd(r);
		note(w->t, "cfg MSI address/data +%#x := %#x", off - m, v);
		return cfgw(c, off, v, 4);
	}
	if (how == 6) {
		unsigned int off;
		size_t len;

		if (c->msi_flags & PCI_MSI_FLAGS_MASKBIT) {
			off = m + (is64 ? 16 : 12);
			len = 4;
		} else {
			off = m + below(r, 24);
			len = 1 + below(r, 4);
		}
		v = (uint32_t)rnd(r);
		note(w->t, "cfg MSI mask/+%#x len %zu := %#x", off - m, len, v);
		return cfgw(c, off, v, len);
	}
	for (int i = 0; i < 24; i++)
		w->buf[i] = (uint8_t)rnd(r);
	note(w->t, "cfg MSI capability, 24 random bytes");
	return res(wr(c->dev, w->buf, 24, R(CFG) + m));
}

static int op_cfg_msix(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	uint32_t v = (pct(r, 50) ? 0x8000 : 0) | (pct(r, 40) ? 0x4000 : 0);
	unsigned int how = below(r, 10);

	if (pct(r, 10))
		v = (uint16_t)rnd(r);
	if (how < 2) {
		note(w->t, "cfg MSI-X flags high byte := %#x", v >> 8);
		return cfgw(c, c->msix + PCI_MSIX_FLAGS + 1, v >> 8, 1);
	}
	if (how == 2) {
		unsigned int off = c->msix + 4 + 4 * below(r, 2);

		v = (uint32_t)rnd(r);
		note(w->t, "cfg MSI-X table/PBA register +%#x := %#x", off - c->msix, v);
		return cfgw(c, off, v, 4);
	}
	note(w->t, "cfg MSI-X flags := %#x", v);
	return cfgw(c, c->msix + PCI_MSIX_FLAGS, v, 2);
}

static uint64_t cap_edge(struct chaos *c, struct rng *r)
{
	unsigned int caps[4] = { c->pm, c->msi, c->msix, c->exp };
	unsigned int cap = caps[below(r, 4)];

	if (!cap)
		cap = PCI_CAPABILITY_LIST;
	return cap - 2 + below(r, 5);
}

static int op_cfg_raw(struct chaos *c, struct worker *w)
{
	static const size_t sizes[] = { 1, 2, 2, 3, 4, 4, 5, 7, 8, 16, 64, 256, 4099 };
	struct rng *r = &w->r;
	size_t len = sizes[below(r, sizeof(sizes) / sizeof(sizes[0]))];
	uint64_t off;
	bool write = pct(r, 40);

	if (c->exp && pct(r, 4)) {
		uint16_t ctl = 0;

		/* A function reset through the PCIe capability. */
		if (rd(c->dev, &ctl, 2, R(CFG) + c->exp + PCI_EXP_DEVCTL) != 2)
			return errno;
		note(w->t, "cfg DEVCTL := %#x (FLR)", ctl | PCI_EXP_DEVCTL_BCR_FLR);
		return cfgw(c, c->exp + PCI_EXP_DEVCTL, ctl | PCI_EXP_DEVCTL_BCR_FLR, 2);
	}
	switch (below(r, 20)) {
	case 0 ... 7:
		off = below(r, c->cfg_size);
		break;
	case 8 ... 10:
		off = below(r, 64);
		break;
	case 11 ... 13:
		off = cap_edge(c, r);
		break;
	case 14 ... 15:
		off = c->cfg_size - 1 - below(r, 8);
		break;
	case 16 ... 17:
		off = c->cfg_size + below(r, 64);
		break;
	case 18:
		off = 4096 + below(r, 4096);
		break;
	default:
		off = (1ull << VT_REGION_SHIFT) - 1 - below(r, 16);
		break;
	}
	if (write && cfg_write_ok(c, off, len)) {
		for (size_t i = 0; i < len && i < BUFSZ; i++)
			w->buf[i] = (uint8_t)rnd(r);
		note(w->t, "cfg write +%#llx len %zu", (unsigned long long)off, len);
		return res(wr(c->dev, w->buf, len, R(CFG) + off));
	}
	note(w->t, "cfg read +%#llx len %zu", (unsigned long long)off, len);
	return res(rd(c->dev, w->buf, len, R(CFG) + off));
}

/* ------------------------------------------------------------------------ */
/* Region read/write                                                         */

static uint64_t pick_off(struct rng *r, uint64_t size)
{
	switch (below(r, 12)) {
	case 0:
		return 0;
	case 1 ... 4:
		return size ? below64(r, size) : below(r, 4096);
	case 5:
		return size ? below64(r, size) & ~3ull : 0;
	case 6:
		return size > 1 ? size - 1 : 1;
	case 7:
		return size >= 3 ? size - 3 : 3;
	case 8:
		return size >= 8 ? size - 4 - below(r, 5) : 0;
	case 9:
		return size;
	case 10:
		return size + 1 + below(r, 4096);
	default:
		return (1ull << VT_REGION_SHIFT) - 1 - below(r, 16);
	}
}

static size_t pick_len(struct rng *r)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 4, 4, 4, 5, 7, 8, 8, 8, 16, 64, 4099,
				       BUFSZ, 1u << 30 };

	return lens[below(r, sizeof(lens) / sizeof(lens[0]))];
}

static uint32_t pick_region(struct chaos *c, struct rng *r)
{
	static const uint32_t invalid[] = { NREG, NREG + 1, 0x7fffff };
	unsigned int u = below(r, 100);

	if (u < 65 && c->nbars)
		return (uint32_t)c->bars[below(r, (uint32_t)c->nbars)];
	if (u < 73)
		return ROM;
	if (u < 80)
		return VGA;
	if (u < 86)
		return CFG;
	if (u < 92)
		return invalid[below(r, 3)];
	return below(r, NREG);
}

static int op_region(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	uint32_t idx = pick_region(c, r);
	uint64_t size = idx < NREG && c->reg[idx].exists ? c->reg[idx].size : 0;
	uint64_t off = pick_off(r, size);
	size_t len = pick_len(r);
	bool write = idx != CFG && pct(r, 35) && write_ok(c, idx, off, len);
	ssize_t n;
	int err;

	if (write) {
		for (size_t i = 0; i < len && i < BUFSZ; i += 8) {
			uint64_t x = rnd(r);

			memcpy(w->buf + i, &x, 8);
		}
		note(w->t, "pwrite region %u +%#llx len %zu", idx, (unsigned long long)off, len);
		n = wr(c->dev, w->buf, len, R(idx) + off);
	} else {
		note(w->t, "pread region %u +%#llx len %zu", idx, (unsigned long long)off, len);
		n = rd(c->dev, w->buf, len, R(idx) + off);
	}
	err = res(n);
	/* Region indexes past the last are refused, in any state. */
	if (idx >= NREG && len && err != EINVAL)
		violation(c, w->t, "region %u: %s, want EINVAL", idx,
			  n < 0 ? vt_errname(err) : "success");
	return err;
}

static int op_idread(struct chaos *c, struct worker *w)
{
	uint32_t v;
	int err;

	note(w->t, "pread ID BAR%d +%#x", c->k->id_bar, c->k->id_off);
	err = id_pread(c->k, c->dev, &v);
	if (!err)
		id_check(c, w->t, v, "pread");
	return err;
}

/*
 * After a state change, sometimes read the ID register at once: a state
 * the driver and the device disagree on shows before anything repairs it.
 */
static int then_probe(struct chaos *c, struct worker *w, int err, unsigned int p)
{
	uint32_t v;

	if (c->k->id_bar >= 0 && pct(&w->r, p) && !id_pread(c->k, c->dev, &v))
		id_check(c, w->t, v, "pread right after");
	return err;
}

static int op_kick(struct chaos *c, struct worker *w)
{
	note(w->t, "%s raises an interrupt", c->k->name);
	return c->k->kick(c, &w->r);
}

/* ------------------------------------------------------------------------ */
/* Mappings                                                                  */

static uint64_t map_total(const struct chaos *c, uint32_t idx)
{
	return (c->reg[idx].size + PAGE - 1) & ~(PAGE - 1);
}

static int op_mmap(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	struct slot *s = &c->slot[below(r, NSLOTS)];
	uint32_t idx;
	uint64_t total, pg, len;
	void *p;
	int err = 0;

	if (c->nmaps && !pct(r, 20)) {
		pthread_rwlock_wrlock(&s->lock);
		if (!s->addr) {
			int prot = pct(r, 80) ? PROT_READ | PROT_WRITE : PROT_READ;
			int flags = MAP_SHARED;

			idx = (uint32_t)c->maps[below(r, (uint32_t)c->nmaps)];
			total = map_total(c, idx);
			if (pct(r, 50)) {
				pg = 0;
				len = total;
			} else {
				pg = below64(r, total / PAGE);
				len = (1 + below64(r, total / PAGE - pg)) * PAGE;
			}
			if (len <= BUFSZ && pct(r, 10))
				flags |= MAP_POPULATE;
			note(w->t, "mmap region %u +%#llx len %#llx%s%s", idx,
			     (unsigned long long)(pg * PAGE), (unsigned long long)len,
			     prot & PROT_WRITE ? "" : " read-only",
			     flags & MAP_POPULATE ? " populate" : "");
			p = mmap(NULL, len, prot, flags, c->dev, (off_t)(R(idx) + pg * PAGE));
			if (p == MAP_FAILED) {
				err = errno;
			} else {
				s->addr = p;
				s->len = len;
				s->index = idx;
				s->off = pg * PAGE;
				s->ro = !(prot & PROT_WRITE);
			}
			pthread_rwlock_unlock(&s->lock);
			return err;
		}
		pthread_rwlock_unlock(&s->lock);
	}

	/* Mappings that must fail, whatever the state. */
	switch (below(r, 5)) {
	case 0: {
		uint32_t bad[12];
		int n = 0;

		bad[n++] = CFG;
		bad[n++] = ROM;
		bad[n++] = VGA;
		bad[n++] = NREG;
		for (uint32_t i = 0; i < 6; i++)
			if (!c->reg[i].mmap)
				bad[n++] = i;
		idx = bad[below(r, (uint32_t)n)];
		note(w->t, "mmap of region %u (not mappable)", idx);
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c->dev, (off_t)R(idx));
		break;
	}
	case 1:
	case 2:
		if (!c->nmaps)
			return 0;
		idx = (uint32_t)c->maps[below(r, (uint32_t)c->nmaps)];
		total = map_total(c, idx);
		if (below(r, 2)) {
			note(w->t, "mmap region %u at its end", idx);
			p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c->dev, (off_t)(R(idx) + total));
		} else {
			note(w->t, "mmap region %u, one page too long", idx);
			p = mmap(NULL, total + PAGE, PROT_READ, MAP_SHARED, c->dev, (off_t)R(idx));
		}
		break;
	case 3:
		if (!c->nmaps)
			return 0;
		idx = (uint32_t)c->maps[below(r, (uint32_t)c->nmaps)];
		note(w->t, "mmap region %u MAP_PRIVATE", idx);
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->dev, (off_t)R(idx));
		break;
	default:
		idx = c->nmaps ? (uint32_t)c->maps[0] : 0;
		note(w->t, "mmap region %u at an unaligned offset", idx);
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c->dev, (off_t)(R(idx) + 1));
		break;
	}
	if (p == MAP_FAILED)
		return errno;
	violation(c, w->t, "%s succeeded", wd[w->t].now);
	munmap(p, PAGE);
	return 0;
}

static int op_munmap(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	struct slot *s = &c->slot[below(r, NSLOTS)];
	unsigned int how = below(r, 10);
	size_t pages;
	int err = 0;

	pthread_rwlock_wrlock(&s->lock);
	if (!s->addr)
		goto out;
	pages = s->len / PAGE;
	if (how < 5 || pages < 2) {
		note(w->t, "munmap region %u +%#llx len %#zx", s->index,
		     (unsigned long long)s->off, s->len);
		if (munmap(s->addr, s->len))
			err = errno;
		s->addr = NULL;
	} else if (how < 7) {
		size_t k = 1 + below64(r, pages - 1);

		note(w->t, "munmap the first %zu of %zu pages of region %u", k, pages, s->index);
		if (munmap(s->addr, k * PAGE)) {
			err = errno;
		} else {
			s->addr += k * PAGE;
			s->off += k * PAGE;
			s->len -= k * PAGE;
		}
	} else if (how < 9) {
		size_t k = 1 + below64(r, pages - 1);

		note(w->t, "munmap the last %zu of %zu pages of region %u", k, pages, s->index);
		if (munmap(s->addr + s->len - k * PAGE, k * PAGE))
			err = errno;
		else
			s->len -= k * PAGE;
	} else {
		note(w->t, "mprotect region %u mapping %s", s->index, s->ro ? "rw" : "ro");
		if (mprotect(s->addr, s->len, s->ro ? PROT_READ | PROT_WRITE : PROT_READ))
			err = errno;
		else
			s->ro = !s->ro;
	}
out:
	pthread_rwlock_unlock(&s->lock);
	return err;
}

static int op_mremap(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	struct slot *s = &c->slot[below(r, NSLOTS)];
	unsigned int how = below(r, 3);
	void *p, *to;
	int err = 0;

	pthread_rwlock_wrlock(&s->lock);
	if (!s->addr)
		goto out;
	if (how == 0 && s->len >= 2 * PAGE) {
		size_t len = (s->len / 2) & ~(PAGE - 1);

		note(w->t, "mremap region %u mapping %#zx -> %#zx", s->index, s->len, len);
		p = mremap(s->addr, s->len, len, 0);
		if (p == MAP_FAILED) {
			err = errno;
		} else {
			s->addr = p;
			s->len = len;
		}
	} else if (how == 1) {
		note(w->t, "mremap region %u mapping one page longer", s->index);
		p = mremap(s->addr, s->len, s->len + PAGE, MREMAP_MAYMOVE);
		if (p == MAP_FAILED) {
			err = errno;
		} else {	/* not expected (VM_DONTEXPAND): drop it */
			munmap(p, s->len + PAGE);
			s->addr = NULL;
		}
	} else {
		/* Move it to a reserved place. */
		to = mmap(NULL, s->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (to == MAP_FAILED) {
			err = errno;
			goto out;
		}
		note(w->t, "mremap region %u mapping (%#zx) elsewhere", s->index, s->len);
		p = mremap(s->addr, s->len, s->len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (p == MAP_FAILED) {
			err = errno;
			munmap(to, s->len);
		} else {
			s->addr = p;
		}
	}
out:
	pthread_rwlock_unlock(&s->lock);
	return err;
}

/* Loads and stores through one mapping; the slot is read-locked. */
static void touch_slot(struct chaos *c, struct slot *s, struct rng *r, int t, bool check)
{
	static const unsigned int widths[] = { 1, 2, 4, 4, 8 };
	const struct kind *k = c->k;
	int n = 1 + (int)below(r, 8);

	/* The ID register, when the mapping covers it. */
	if (check && k->id_bar >= 0 && s->index == (uint32_t)k->id_bar && k->id_off >= s->off &&
	    k->id_off + id_len(k) <= s->off + s->len && pct(r, 30)) {
		uint32_t v;
		int sig = id_load(k, s->addr + (k->id_off - s->off), &v);

		if (sig)
			atomic_fetch_add(&c->st.sigs, 1);
		else
			id_check(c, t, v, "the mapping");
	}
	for (int i = 0; i < n; i++) {
		unsigned int width = widths[below(r, 5)];
		uint64_t o = below64(r, s->len / width) * width;
		uint8_t buf[256];
		size_t len = width;
		bool store;
		int sig;

		if (pct(r, 10)) {	/* a run */
			len = (1 + below(r, 32)) * width;
			if (o + len > s->len)
				o = s->len - len;
		}
		store = !s->ro && pct(r, 40) && write_ok(c, s->index, s->off + o, len);
		if (store)
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd(r);
		sig = vt_map_copy(s->addr + o, buf, len, width, store);
		if (sig)
			atomic_fetch_add(&c->st.sigs, 1);
	}
}

static int op_touch(struct chaos *c, struct worker *w)
{
	struct slot *s = &c->slot[below(&w->r, NSLOTS)];

	pthread_rwlock_rdlock(&s->lock);
	if (s->addr) {
		note(w->t, "touch region %u mapping +%#llx len %#zx", s->index,
		     (unsigned long long)s->off, s->len);
		touch_slot(c, s, &w->r, w->t, true);
	}
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

/* pread/pwrite whose user buffer is a BAR mapping. */
static int op_mapio(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	struct slot *s = &c->slot[below(r, NSLOTS)];
	int err = 0;

	pthread_rwlock_rdlock(&s->lock);
	if (s->addr && c->nbars) {
		uint32_t idx = (uint32_t)c->bars[below(r, (uint32_t)c->nbars)];
		uint64_t size = c->reg[idx].size, pos;
		size_t len = 4 << below(r, 11), o;
		ssize_t n;

		if (len > s->len)
			len = s->len;
		if (len > size)
			len = size;
		o = below64(r, s->len - len + 1) & ~3ull;
		pos = below64(r, size - len + 1) & ~3ull;
		if (pct(r, 50) && !s->ro && write_ok(c, s->index, s->off + o, len)) {
			note(w->t, "pread region %u +%#llx len %zu into region %u mapping +%#zx",
			     idx, (unsigned long long)pos, len, s->index, o);
			n = rd(c->dev, s->addr + o, len, R(idx) + pos);
		} else if (write_ok(c, idx, pos, len)) {
			note(w->t, "pwrite region %u +%#llx len %zu from region %u mapping +%#zx",
			     idx, (unsigned long long)pos, len, s->index, o);
			n = wr(c->dev, s->addr + o, len, R(idx) + pos);
		} else {
			note(w->t, "pwrite region %u mapping +%#zx len %zu into itself (read)",
			     s->index, o, len);
			n = rd(c->dev, w->buf, len, R(idx) + pos);
		}
		err = res(n);
	}
	pthread_rwlock_unlock(&s->lock);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Fork: a child with the fd and the mappings                               */

static int child_set_irqs(int dev, uint32_t flags, uint32_t index, uint32_t start,
			  uint32_t count, int32_t fd)
{
	struct {
		struct vfio_irq_set hdr;
		int32_t fds[4];
	} s;

	memset(&s, 0, sizeof(s));
	s.hdr.argsz = sizeof(s.hdr) + ((flags & VFIO_IRQ_SET_DATA_EVENTFD) ? 4 * count : 0);
	s.hdr.flags = flags;
	s.hdr.index = index;
	s.hdr.start = start;
	s.hdr.count = count;
	for (int i = 0; i < 4; i++)
		s.fds[i] = fd;
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, &s);
}

/* Only async-signal-safe calls here: the parent has other threads. */
static void __attribute__((noreturn)) child_main(struct chaos *c, uint64_t seed)
{
	struct rng r = rng_for(seed, 0xc41d);
	int n = 5 + (int)below(&r, 40);
	uint8_t buf[256];

	for (int i = 0; i < n; i++) {
		struct slot *s = &c->slot[below(&r, NSLOTS)];
		uint32_t index = 1 + below(&r, 2);

		switch (below(&r, 10)) {
		case 0 ... 3:
			/* The snapshot is consistent: fork held every slot lock. */
			if (s->addr)
				touch_slot(c, s, &r, 0, false);
			break;
		case 4:
			if (c->nbars) {
				uint32_t idx = (uint32_t)c->bars[below(&r, (uint32_t)c->nbars)];

				rd(c->dev, buf, 1 + below(&r, sizeof(buf)),
				   R(idx) + below64(&r, c->reg[idx].size));
			}
			break;
		case 5: {
			uint16_t cmd = (uint16_t)(below(&r, 8) | (pct(&r, 30) ? 0x400 : 0));

			wr(c->dev, &cmd, 2, R(CFG) + PCI_COMMAND);
			break;
		}
		case 6:
			if (pct(&r, 50))
				child_set_irqs(c->dev, VFIO_IRQ_SET_DATA_NONE |
					       VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, -1);
			else
				child_set_irqs(c->dev, VFIO_IRQ_SET_DATA_EVENTFD |
					       VFIO_IRQ_SET_ACTION_TRIGGER, index, 0,
					       1 + below(&r, 4),
					       c->irq_efd[below(&r, NEFD)]);
			break;
		case 7:
			if (s->addr && pct(&r, 50)) {
				munmap(s->addr, s->len);
				s->addr = NULL;
			}
			break;
		case 8:
			if (pct(&r, 10))
				ioctl(c->dev, VFIO_DEVICE_RESET);
			break;
		default:
			usleep(below(&r, 2000));
			break;
		}
	}
	_exit(0);
}

static int op_fork(struct chaos *c, struct worker *w)
{
	uint64_t seed = rnd(&w->r);
	pid_t pid;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->nkid >= MAX_KIDS) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	note(w->t, "fork (child seed %#llx)", (unsigned long long)seed);
	for (int i = 0; i < NSLOTS; i++)
		pthread_rwlock_rdlock(&c->slot[i].lock);
	pthread_mutex_lock(&out_lock);	/* no half-written stdio buffer in the child */
	pid = fork();
	if (pid == 0)
		child_main(c, seed);
	pthread_mutex_unlock(&out_lock);
	for (int i = 0; i < NSLOTS; i++)
		pthread_rwlock_unlock(&c->slot[i].lock);
	if (pid < 0) {
		err = errno;
	} else {
		c->kid[c->nkid++] = pid;
		atomic_fetch_add(&c->st.forks, 1);
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Reap children (block: wait for all of them). */
static void reap(struct chaos *c, bool block)
{
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nkid; i++) {
		int status;
		pid_t p;

		if (block)
			op_begin(0, "waiting for fork child %d", c->kid[i]);
		p = waitpid(c->kid[i], &status, block ? 0 : WNOHANG);
		if (block)
			op_end(0);
		if (p == 0)
			continue;
		if (p < 0)
			status = -1;
		if (status != 0 && atomic_fetch_add(&c->st.kid_bad, 1) < 4)
			logf_("%s: fork child %d: %s %d", c->k->name, c->kid[i],
			      p < 0 ? "waitpid failed" : WIFSIGNALED(status) ? "killed by signal" :
			      "exit status", p < 0 ? errno : WIFSIGNALED(status) ?
			      WTERMSIG(status) : WEXITSTATUS(status));
		c->kid[i--] = c->kid[--c->nkid];
	}
	pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------------ */
/* Interrupts                                                                */

static int32_t pick_efd(struct chaos *c, struct rng *r, int *stale)
{
	unsigned int u = below(r, 100);

	if (u < 70)
		return c->irq_efd[below(r, NEFD)];
	if (u < 78)
		return -1;
	if (u < 82)
		return -2;
	if (u < 85)
		return INT32_MIN;
	if (u < 90)
		return CLOSED_FD;
	if (u < 95)
		return c->null_fd;
	if (u < 97)
		return c->dev;
	if (*stale < 0)
		*stale = vt_efd_new();	/* closed right after the call */
	return *stale;
}

static int op_irq(struct chaos *c, struct worker *w)
{
	static const uint32_t idx_pick[] = { 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0, 0, 0, 3, 3, 4, 4 };
	static const char *const dname[] = { "?", "NONE", "BOOL", "NONE|BOOL", "EVENTFD" };
	struct rng *r = &w->r;
	uint32_t index, n, start, count, flags, argsz, data, action, have;
	uint8_t payload[64 * 4];
	unsigned int u;
	size_t esz;
	int32_t fd0 = 0;
	int stale = -1, ret, err;

	index = pct(r, 4) ? (pct(r, 50) ? NIRQ : 0xffffffffu) :
		idx_pick[below(r, sizeof(idx_pick) / sizeof(idx_pick[0]))];
	if (index == VFIO_PCI_INTX_IRQ_INDEX && vt_baseline())
		index = VFIO_PCI_MSI_IRQ_INDEX;		/* baseline_no_intx */
	n = index < NIRQ ? c->nirq[index] : 0;

	u = below(r, 100);
	action = u < 76 ? VFIO_IRQ_SET_ACTION_TRIGGER : u < 86 ? VFIO_IRQ_SET_ACTION_MASK :
		 u < 96 ? VFIO_IRQ_SET_ACTION_UNMASK :
		 u < 98 ? VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK :
		 u < 99 ? VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER : 0;
	u = below(r, 100);
	data = u < 55 ? VFIO_IRQ_SET_DATA_EVENTFD : u < 85 ? VFIO_IRQ_SET_DATA_NONE :
	       u < 95 ? VFIO_IRQ_SET_DATA_BOOL :
	       u < 98 ? VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL : 0;

	u = below(r, 100);
	if (u < 50) {
		start = 0;
		count = n ? 1 + below(r, n < 8 ? n : 8) : 1;
	} else if (u < 62) {
		start = 0;
		count = 0;
		data = VFIO_IRQ_SET_DATA_NONE;	/* mostly a disable */
	} else if (u < 75) {
		start = below(r, n + 2);
		count = 1 + below(r, 3);
	} else if (u < 82) {
		start = 0;
		count = n + 1;
	} else if (u < 86) {
		start = 0xffffffffu;
		count = 2;
	} else if (u < 89) {
		start = 1;
		count = 0xffffffffu;
	} else if (u < 92) {
		start = 0;
		count = 0x10000;
	} else {
		start = n ? below(r, n) : 0;
		count = 1 + below(r, n > start ? n - start : 1);
	}
	flags = action | data;
	esz = data == VFIO_IRQ_SET_DATA_EVENTFD ? 4 : data == VFIO_IRQ_SET_DATA_BOOL ? 1 : 0;
	have = count < 64 ? count : 64;
	for (uint32_t i = 0; i < have; i++) {
		if (esz == 4) {
			int32_t fd = pick_efd(c, r, &stale);

			memcpy(payload + 4 * i, &fd, 4);
		} else {
			payload[i] = (uint8_t)below(r, 2);
		}
	}
	argsz = (uint32_t)(sizeof(struct vfio_irq_set) + esz * have);
	u = below(r, 100);
	if (u < 3 && esz)
		argsz -= 1 + below(r, (uint32_t)esz);
	else if (u < 5)
		argsz = 0xffffffffu;
	if (esz == 4 && have)
		memcpy(&fd0, payload, 4);
	note(w->t, "SET_IRQS index %u start %u count %u data %s action %#x argsz %u fd[0] %d%s",
	     index, start, count, data <= 4 ? dname[data] : "?", action, argsz, fd0,
	     stale >= 0 ? " (one closed after)" : "");
	ret = vt_set_irqs_argsz(c->dev, argsz, flags, index, start, count, payload, esz * have);
	err = ret ? errno : 0;
	if (stale >= 0)
		close(stale);
	return err;
}

static int op_ioeventfd(struct chaos *c, struct worker *w)
{
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	struct rng *r = &w->r;
	struct vfio_device_ioeventfd io;
	unsigned int u = below(r, 100);
	int ret;

	memset(&io, 0, sizeof(io));
	io.argsz = sizeof(io);
	if (u < 50) {
		uint32_t idx, width = widths[below(r, 4)];
		uint64_t size, off;
		bool safe;

		idx = c->nbars && pct(r, 75) ? (uint32_t)c->bars[below(r, (uint32_t)c->nbars)] :
		      (uint32_t[]){ ROM, CFG, VGA, NREG }[below(r, 4)];
		size = idx < NREG && c->reg[idx].exists ? c->reg[idx].size : 0x1000;
		switch (below(r, 10)) {
		case 0 ... 5:
			off = below64(r, size / width) * width;
			break;
		case 6:
			off = below64(r, size);
			break;
		case 7:
			off = size - width + below(r, width + 1);
			break;
		case 8:
			off = size + below(r, 64) * width;
			break;
		default:
			off = c->msix && idx == c->msix_bar ? c->msix_off + below(r, 4) * width :
			      below64(r, size);
			break;
		}
		io.flags = width;	/* VFIO_DEVICE_IOEVENTFD_8 << log2(width) == width */
		if (pct(r, 8))
			io.flags = (uint32_t[]){ 0, 3, 0x10, 0xf, 5 }[below(r, 5)];
		io.offset = R(idx) + off;
		io.data = rnd(r);
		safe = write_ok(c, idx, off, width);
		io.fd = safe ? c->io_efd[below(r, NIOEFD)] : c->dud_efd;
		if (pct(r, 8))
			io.fd = (int32_t[]){ -1, -2, CLOSED_FD, c->null_fd, c->dev }[below(r, 5)];
		if (pct(r, 4))
			io.argsz -= 4 + 4 * below(r, 2);
		note(w->t, "IOEVENTFD add region %u +%#llx flags %#x fd %d%s argsz %u", idx,
		     (unsigned long long)off, io.flags, io.fd, safe ? "" : " (never signalled)",
		     io.argsz);
		ret = ioctl(c->dev, VFIO_DEVICE_IOEVENTFD, &io);
		if (!ret && io.fd >= 0) {
			pthread_mutex_lock(&c->lock);
			if (c->nio < NIOREG)
				c->io[c->nio++] = (struct ioreg){ io.offset, io.data, io.flags };
			pthread_mutex_unlock(&c->lock);
		}
		return ret ? errno : 0;
	}
	if (u < 75) {
		bool known = false;

		pthread_mutex_lock(&c->lock);
		if (c->nio && pct(r, 85)) {
			int i = (int)below(r, (uint32_t)c->nio);

			io.offset = c->io[i].offset;
			io.data = c->io[i].data;
			io.flags = c->io[i].flags;
			c->io[i] = c->io[--c->nio];
			known = true;
		} else {
			io.offset = R(0) + below(r, 64) * 4;
			io.data = rnd(r);
			io.flags = 4;
		}
		pthread_mutex_unlock(&c->lock);
		io.fd = -1;
		note(w->t, "IOEVENTFD remove %s offset %#llx flags %#x",
		     known ? "registered" : "unknown", (unsigned long long)io.offset, io.flags);
		return ioctl(c->dev, VFIO_DEVICE_IOEVENTFD, &io) ? errno : 0;
	}
	{
		uint64_t one = 1;
		int efd = c->io_efd[below(r, NIOEFD)];

		note(w->t, "signal ioeventfd eventfd %d", efd);
		return write(efd, &one, sizeof(one)) == sizeof(one) ? 0 : errno;
	}
}

/* ------------------------------------------------------------------------ */
/* Resets, power, reopen, info                                              */

static int op_reset(struct chaos *c, struct worker *w)
{
	note(w->t, "VFIO_DEVICE_RESET");
	return ioctl(c->dev, VFIO_DEVICE_RESET) ? errno : 0;
}

static int op_hotreset(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devs[8];
	} info;
	struct {
		struct vfio_pci_hot_reset hdr;
		int32_t fds[4];
	} hr;
	unsigned int u = below(r, 100);

	/* A bus reset takes 100-300 ms with every lock held: few real ones. */
	if (u < 45) {
		memset(&info, 0, sizeof(info));
		info.hdr.argsz = pct(r, 40) ? sizeof(info.hdr) : sizeof(info);
		note(w->t, "GET_PCI_HOT_RESET_INFO argsz %u", info.hdr.argsz);
		return ioctl(c->dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &info) ? errno : 0;
	}
	memset(&hr, 0, sizeof(hr));
	hr.hdr.count = 1;
	hr.fds[0] = c->v.group;
	if (u >= 70) {		/* 25 % a proper one, 30 % a refused one */
		switch (below(r, 9)) {
		case 0:
			hr.hdr.count = 0;
			break;
		case 1:
			hr.fds[0] = -1;
			break;
		case 2:
			hr.fds[0] = c->null_fd;
			break;
		case 3:
			hr.fds[0] = CLOSED_FD;
			break;
		case 4:
			hr.fds[0] = c->dev;
			break;
		case 5:
			hr.fds[0] = c->v.container;
			break;
		case 6:
			hr.hdr.count = 2;
			hr.fds[1] = c->v.group;
			break;
		case 7:
			hr.hdr.flags = 1;
			break;
		default:
			hr.hdr.count = 4;	/* argsz for one */
			break;
		}
	}
	hr.hdr.argsz = (uint32_t)(sizeof(hr.hdr) + 4 * (hr.hdr.count < 4 ? hr.hdr.count : 1));
	note(w->t, "PCI_HOT_RESET count %u fd %d flags %u argsz %u", hr.hdr.count, hr.fds[0],
	     hr.hdr.flags, hr.hdr.argsz);
	return ioctl(c->dev, VFIO_DEVICE_PCI_HOT_RESET, &hr) ? errno : 0;
}

static int feature(int dev, uint32_t flags, uint32_t argsz, const void *data, size_t len)
{
	struct {
		struct vfio_device_feature hdr;
		uint8_t data[16];
	} f;

	memset(&f, 0, sizeof(f));
	f.hdr.argsz = argsz;
	f.hdr.flags = flags;
	memcpy(f.data, data, len);
	return ioctl(dev, VFIO_DEVICE_FEATURE, &f) ? errno : 0;
}

#define FSET(id)	(VFIO_DEVICE_FEATURE_SET | (id))
#define F_ENTRY		VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY
#define F_WAKE		VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP
#define F_EXIT		VFIO_DEVICE_FEATURE_LOW_POWER_EXIT
#define FHDR		((uint32_t)sizeof(struct vfio_device_feature))

static int op_power(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	unsigned int u = below(r, 100);
	struct vfio_device_low_power_entry_with_wakeup e = { .wakeup_eventfd = c->wake_efd };

	if (u < 30) {
		note(w->t, "LOW_POWER_ENTRY");
		return feature(c->dev, FSET(F_ENTRY), FHDR, NULL, 0);
	}
	if (u < 55) {
		if (pct(r, 15))
			e.wakeup_eventfd = (int32_t[]){ -1, c->null_fd, CLOSED_FD,
							c->irq_efd[0] }[below(r, 4)];
		note(w->t, "LOW_POWER_ENTRY_WITH_WAKEUP fd %d", e.wakeup_eventfd);
		return feature(c->dev, FSET(F_WAKE), FHDR + sizeof(e), &e, sizeof(e));
	}
	if (u < 88) {
		note(w->t, "LOW_POWER_EXIT");
		return feature(c->dev, FSET(F_EXIT), FHDR, NULL, 0);
	}
	switch (below(r, 6)) {
	case 0:
		note(w->t, "FEATURE PROBE|SET ENTRY");
		return feature(c->dev, VFIO_DEVICE_FEATURE_PROBE | FSET(F_ENTRY), FHDR, NULL, 0);
	case 1:
		note(w->t, "FEATURE GET ENTRY");
		return feature(c->dev, VFIO_DEVICE_FEATURE_GET | F_ENTRY, FHDR, NULL, 0);
	case 2:
		note(w->t, "FEATURE ENTRY without GET/SET");
		return feature(c->dev, F_ENTRY, FHDR, NULL, 0);
	case 3:
		note(w->t, "FEATURE SET ENTRY argsz 4");
		return feature(c->dev, FSET(F_ENTRY), 4, NULL, 0);
	case 4:
		note(w->t, "FEATURE SET ENTRY_WITH_WAKEUP 4-byte payload");
		return feature(c->dev, FSET(F_WAKE), FHDR + 4, &e, 4);
	default:
		note(w->t, "FEATURE SET 0xffff");
		return feature(c->dev, FSET(0xffff), FHDR, NULL, 0);
	}
}

static int op_reopen(struct chaos *c, struct worker *w)
{
	int fd, err = 0;

	note(w->t, "GET_DEVICE_FD, dup2 over the shared device fd");
	fd = ioctl(c->v.group, VFIO_GROUP_GET_DEVICE_FD, c->d->bdf);
	if (fd < 0)
		return errno;
	if (dup2(fd, c->dev) < 0)
		err = errno;
	close(fd);
	return err;
}

static int op_info(struct chaos *c, struct worker *w)
{
	struct rng *r = &w->r;
	uint32_t ids = 0;
	uint8_t buf[512];

	switch (below(r, 4)) {
	case 0: {
		struct vt_device_info *info = (void *)buf;

		memset(buf, 0, sizeof(buf));
		info->argsz = (uint32_t[]){ sizeof(*info), 16, 4, 0 }[below(r, 4)];
		note(w->t, "GET_INFO argsz %u", info->argsz);
		return ioctl(c->dev, VFIO_DEVICE_GET_INFO, info) ? errno : 0;
	}
	case 1: {
		struct vfio_region_info *ri = (void *)buf;

		memset(buf, 0, sizeof(buf));
		ri->argsz = (uint32_t[]){ sizeof(*ri), sizeof(buf), 16, 8 }[below(r, 4)];
		ri->index = pct(r, 90) ? below(r, NREG + 2) : 0xffffffffu;
		note(w->t, "GET_REGION_INFO index %u argsz %u", ri->index, ri->argsz);
		return ioctl(c->dev, VFIO_DEVICE_GET_REGION_INFO, ri) ? errno : 0;
	}
	case 2: {
		struct vfio_irq_info *ii = (void *)buf;

		memset(buf, 0, sizeof(buf));
		ii->argsz = pct(r, 90) ? sizeof(*ii) : 8;
		ii->index = pct(r, 90) ? below(r, NIRQ + 1) : 0x80000000u;
		note(w->t, "GET_IRQ_INFO index %u argsz %u", ii->index, ii->argsz);
		return ioctl(c->dev, VFIO_DEVICE_GET_IRQ_INFO, ii) ? errno : 0;
	}
	default:
		/* Virtualized in both drivers: right whenever the read succeeds. */
		note(w->t, "config read of vendor:device");
		if (rd(c->dev, &ids, 4, R(CFG) + PCI_VENDOR_ID) != 4)
			return errno;
		if (ids != (c->d->vendor | (uint32_t)c->d->device << 16))
			violation(c, w->t, "config vendor:device read %#x", ids);
		return 0;
	}
}

static int run_op(struct chaos *c, struct worker *w, int cls)
{
	switch (cls) {
	case C_CFG_CMD:
		return then_probe(c, w, cfg_cmd(c, w), 30);
	case C_CFG_PM:
		return then_probe(c, w, cfg_pm(c, w), 50);
	case C_CFG_MSI:
		return op_cfg_msi(c, w);
	case C_CFG_MSIX:
		return op_cfg_msix(c, w);
	case C_CFG_RAW:
		return op_cfg_raw(c, w);
	case C_REGION:
		return op_region(c, w);
	case C_IDREAD:
		return op_idread(c, w);
	case C_KICK:
		return op_kick(c, w);
	case C_MMAP:
		return op_mmap(c, w);
	case C_MUNMAP:
		return op_munmap(c, w);
	case C_MREMAP:
		return op_mremap(c, w);
	case C_TOUCH:
		return op_touch(c, w);
	case C_MAPIO:
		return op_mapio(c, w);
	case C_FORK:
		return op_fork(c, w);
	case C_IRQ:
		return op_irq(c, w);
	case C_IOEVENTFD:
		return op_ioeventfd(c, w);
	case C_RESET:
		return then_probe(c, w, op_reset(c, w), 50);
	case C_HOTRESET:
		return then_probe(c, w, op_hotreset(c, w), 50);
	case C_POWER:
		return then_probe(c, w, op_power(c, w), 30);
	case C_REOPEN:
		return op_reopen(c, w);
	case C_INFO:
		return op_info(c, w);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------------ */
/* Workers and the main thread's part                                       */

static void pause_point(struct chaos *c)
{
	pthread_mutex_lock(&c->pmu);
	c->npaused++;
	pthread_cond_broadcast(&c->pcond);
	while (c->pausing)
		pthread_cond_wait(&c->pcond, &c->pmu);
	c->npaused--;
	pthread_mutex_unlock(&c->pmu);
}

static void pause_workers(struct chaos *c)
{
	op_begin(0, "pausing the workers");
	pthread_mutex_lock(&c->pmu);
	c->pausing = true;
	atomic_store(&c->pause, true);
	while (c->npaused < c->nworkers)
		pthread_cond_wait(&c->pcond, &c->pmu);
	pthread_mutex_unlock(&c->pmu);
	op_end(0);
}

static void resume_workers(struct chaos *c)
{
	pthread_mutex_lock(&c->pmu);
	c->pausing = false;
	atomic_store(&c->pause, false);
	pthread_cond_broadcast(&c->pcond);
	pthread_mutex_unlock(&c->pmu);
}

static int pick_class(struct chaos *c, struct rng *r)
{
	int sum = 0, x;

	for (int i = 0; i < NCLS; i++)
		sum += c->weight[i];
	x = (int)below(r, (uint32_t)sum);
	for (int i = 0; i < NCLS; i++) {
		if (x < c->weight[i])
			return i;
		x -= c->weight[i];
	}
	return C_INFO;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct chaos *c = w->c;

	atomic_store(&wd[w->t].tid, (int)syscall(SYS_gettid));
	while (!atomic_load(&c->stop)) {
		int cls, err;
		long t0;

		if (atomic_load(&c->pause)) {
			pause_point(c);
			continue;
		}
		cls = pick_class(c, &w->r);
		t0 = now_ms();
		op_begin(w->t, "%s", classes[cls].name);
		err = run_op(c, w, cls);
		op_end(w->t);
		atomic_fetch_add(&c->st.ms[cls], (unsigned long)(now_ms() - t0));
		atomic_fetch_add(&c->st.ops[cls], 1);
		if (err)
			atomic_fetch_add(&c->st.errs[cls], 1);
	}
	return NULL;
}

static void unmap_all(struct chaos *c)
{
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &c->slot[i];

		pthread_rwlock_wrlock(&s->lock);
		if (s->addr)
			munmap(s->addr, s->len);
		s->addr = NULL;
		pthread_rwlock_unlock(&s->lock);
	}
}

/*
 * Close the device in whatever state the workers left it (the last
 * reference: no mapping, no child), sometimes the group and container too,
 * and open it again.
 */
static void close_reopen(struct chaos *c, struct rng *r)
{
	bool all = pct(r, 30);
	long t0 = now_ms();
	int fd;

	pause_workers(c);
	reap(c, true);
	unmap_all(c);
	c->nio = 0;
	if (trace)
		logf_("T0 close%s and reopen", all ? " (device, group, container)" : "");
	op_begin(0, "close the device%s", all ? ", group and container" : "");
	if (all) {
		vt_vfio_close(&c->v);
		op_begin(0, "reopen container, group, device");
		if (vt_vfio_open(&c->v, c->d->bdf))
			c->broken = true;
		c->dev = c->v.device;
	} else {
		close(c->dev);
		op_begin(0, "GET_DEVICE_FD after the close");
		fd = ioctl(c->v.group, VFIO_GROUP_GET_DEVICE_FD, c->d->bdf);
		if (fd < 0) {
			logf_("%s: reopen after close: %s", c->k->name, vt_errname(errno));
			c->broken = true;
		}
		c->dev = c->v.device = fd;
	}
	op_end(0);
	atomic_fetch_add(&c->st.ms[C_CLOSE], (unsigned long)(now_ms() - t0));
	atomic_fetch_add(&c->st.ops[C_CLOSE], 1);
	if (c->broken) {
		atomic_fetch_add(&c->st.errs[C_CLOSE], 1);
		atomic_store(&c->stop, true);
	}
	resume_workers(c);
}

/* ------------------------------------------------------------------------ */
/* Before and after                                                          */

static int set_cmd(int dev, uint16_t bits)
{
	return vt_config_write16(dev, PCI_COMMAND, bits);
}

static int pm_d0(struct chaos *c, int dev)
{
	uint16_t pmcsr = 0;
	int ret;

	if (!c->pm)
		return 0;
	ret = vt_config_read16(dev, c->pm + PCI_PM_CTRL, &pmcsr);
	if (!ret && (pmcsr & 3))
		ret = vt_config_write16(dev, c->pm + PCI_PM_CTRL, pmcsr & ~3);
	return ret;
}

static uint16_t cmd_bits(struct chaos *c)
{
	return PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | (c->has_io ? PCI_COMMAND_IO : 0);
}

/* Open the device and learn what the chaos needs to know. */
static bool facts(struct chaos *c)
{
	struct vt_resource res[VT_NUM_RESOURCES];
	uint8_t cfg[256];
	unsigned int off;
	uint32_t v = 0;
	ssize_t n;

	if (!vt_check_ret(vt_vfio_open(&c->v, c->d->bdf), "open"))
		return false;
	c->dev = c->v.device;
	if (vt_resources(c->d->bdf, res))
		memset(res, 0, sizeof(res));
	for (uint32_t i = 0; i < NREG; i++) {
		struct vfio_region_info *ri = vt_region_info(c->dev, i);
		struct region *g = &c->reg[i];

		if (!ri)
			continue;
		g->exists = ri->size > 0;
		g->size = ri->size;
		g->flags = ri->flags;
		g->mmap = i < 6 && (ri->flags & VFIO_REGION_INFO_FLAG_MMAP);
		g->io = i < 6 && (res[i].flags & VT_IORESOURCE_IO);
		c->has_io |= g->io;
		if (i < 6 && g->exists)
			c->bars[c->nbars++] = (int)i;
		if (g->mmap)
			c->maps[c->nmaps++] = (int)i;
		free(ri);
	}
	c->cfg_size = c->reg[CFG].exists ? (uint32_t)c->reg[CFG].size : 256;
	for (uint32_t i = 0; i < NIRQ; i++) {
		struct vfio_irq_info ii;

		c->nirq[i] = vt_irq_info(c->dev, i, &ii) ? 0 : ii.count;
	}
	n = vt_config_read(c->dev, cfg, sizeof(cfg), 0);
	if (!vt_check(n == (ssize_t)sizeof(cfg), "config read: %s", vt_errname(errno)))
		return false;
	c->pm = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_PM);
	c->msi = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSI);
	c->msix = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_MSIX);
	c->exp = vt_pci_find_cap(cfg, sizeof(cfg), PCI_CAP_ID_EXP);
	if (c->msi)
		c->msi_flags = vt_le16(cfg + c->msi + PCI_MSI_FLAGS);
	if (c->pm)
		c->no_soft_reset = vt_le16(cfg + c->pm + PCI_PM_CTRL) & PCI_PM_CTRL_NO_SOFT_RESET;
	/*
	 * The in-tree driver saves a device's state when the user puts it in
	 * D3hot through PMCSR and, without No_Soft_Reset, restores it at D0:
	 * a memory enable the user wrote in between is lost in the hardware
	 * while the driver's copy keeps it, and BAR accesses then reach a
	 * device with decode off (QEMU answers 0).  Measured on 6.1 and 6.12.
	 * And on every device: its pci_intx() read-modify-writes the command
	 * register outside the memory lock, so a flip of the user's
	 * INTx-disable racing a config write of memory enable can leave
	 * decode off in the hardware while its copy says on (issue 16; seen
	 * on pci-testdev, 6.12).  Both are fixed in ours, where the ID
	 * invariant counts.
	 */
	c->known_hole = vt_baseline();
	if (c->msix) {
		uint32_t t = vt_le32(cfg + c->msix + PCI_MSIX_TABLE);

		c->msix_bar = t & 7;
		c->msix_off = t & ~7u;
	}
	off = cfg[PCI_CAPABILITY_LIST] & ~3u;
	for (int ttl = 48; off >= 0x40 && off < sizeof(cfg) - 2 && ttl; ttl--) {
		if (cfg[off] == PCI_CAP_ID_VNDR && c->nvndr < 8) {
			c->vndr[c->nvndr][0] = off;
			c->vndr[c->nvndr][1] = cfg[off + 2] ? cfg[off + 2] : 3;
			c->nvndr++;
		}
		off = cfg[off + 1] & ~3u;
	}

	/* The ID register, in D0 with memory on. */
	pm_d0(c, c->dev);
	set_cmd(c->dev, cmd_bits(c));
	if (c->k->prep)
		c->k->prep(c);
	if (c->k->id_sentinel)
		wr(c->dev, &c->k->id_sentinel, 4, R((uint32_t)c->k->id_bar) + c->k->id_off);
	if (c->k->id_bar >= 0) {
		int err = id_pread(c->k, c->dev, &v);

		if (!vt_check(!err, "pread of the ID register: %s", vt_errname(err)))
			return false;
		c->id_value = v & c->k->id_mask;
		if (c->k->id_const)
			vt_check_eq(v, c->k->id_const, "ID register before the chaos");
		c->id_ok = c->id_value != c->k->id_mask;	/* all-ones: no answer */
	}
	return true;
}

/* Whether the comma-separated list has this name. */
static bool listed(const char *list, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = list; p && (p = strstr(p, name)); p += l)
		if ((p == list || p[-1] == ',') && (p[l] == ',' || !p[l]))
			return true;
	return false;
}

static void weights(struct chaos *c, const char *skip, const char *only)
{
	for (int i = 0; i < NCLS; i++)
		c->weight[i] = classes[i].weight;
	if (!c->pm)
		c->weight[C_CFG_PM] = 0;
	if (!c->msi)
		c->weight[C_CFG_MSI] = 0;
	if (!c->msix)
		c->weight[C_CFG_MSIX] = 0;
	if (!c->k->kick)
		c->weight[C_KICK] = 0;
	if (c->k->id_bar < 0)
		c->weight[C_IDREAD] = 0;
	for (int i = 0; vt_baseline() && baseline_skips[i].reason; i++) {
		if (baseline_skips[i].kernel && strcmp(baseline_skips[i].kernel, vt_kernel()))
			continue;
		c->weight[baseline_skips[i].cls] = 0;
	}
	c->do_close = true;
	for (int i = 0; i < NCLS; i++) {
		if (listed(skip, classes[i].name) || (only && !listed(only, classes[i].name))) {
			c->weight[i] = 0;
			if (i == C_CLOSE)
				c->do_close = false;
		}
	}
	if (!c->weight[C_INFO] && !c->do_close) {
		/* pick_class() needs something to pick */
		int sum = 0;

		for (int i = 0; i < NCLS; i++)
			sum += c->weight[i];
		if (!sum)
			c->weight[C_INFO] = 1;
	}
}

/* Loopback on `count` vectors of index: each eventfd fires once. */
static void check_loopback(int dev, uint32_t index, uint32_t count, const char *what)
{
	int32_t fds[4];
	bool ok = true;

	for (uint32_t i = 0; i < count; i++)
		fds[i] = vt_efd_new();
	if (vt_check_ok(vt_set_irqs(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				    index, 0, count, fds, 4 * count), "enable %s (%u vectors)",
			what, count)) {
		ok &= vt_check_ok(vt_set_irqs(dev, VFIO_IRQ_SET_DATA_NONE |
					      VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, count,
					      NULL, 0), "%s loopback", what);
		for (uint32_t i = 0; ok && i < count; i++)
			vt_check(vt_efd_take(fds[i]) >= 1, "%s vector %u: loopback not signalled",
				 what, i);
		if (index == VFIO_PCI_REQ_IRQ_INDEX || index == VFIO_PCI_ERR_IRQ_INDEX) {
			int32_t off = -1;

			vt_check_ok(vt_set_irqs(dev, VFIO_IRQ_SET_DATA_EVENTFD |
						VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &off, 4),
				    "%s eventfd removal", what);
		} else {
			vt_check_ok(vt_irq_disable(dev, index), "disable %s", what);
		}
	}
	for (uint32_t i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* After the chaos, from a fresh open: the device must work. */
static void check_works(struct chaos *c)
{
	const struct kind *k = c->k;
	struct vt_vfio v;
	uint32_t ids = 0, val = 0;
	uint16_t cmd = 0, pmcsr = 0;
	int dev;

	op_begin(0, "check afterwards: open");
	if (!vt_check_ret(vt_vfio_open(&v, c->d->bdf), "open after the chaos")) {
		op_end(0);
		return;
	}
	dev = v.device;
	c->dev = dev;
	op_begin(0, "check afterwards");
	vt_check_ret(vt_config_read32(dev, PCI_VENDOR_ID, &ids), "config read");
	vt_check_eq(ids, c->d->vendor | (uint32_t)c->d->device << 16, "vendor:device");
	feature(dev, FSET(F_EXIT), FHDR, NULL, 0);
	for (uint32_t i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX; i++)
		vt_irq_disable(dev, i);
	if (c->pm) {
		vt_check_ret(pm_d0(c, dev), "PMCSR := D0");
		vt_check_ret(vt_config_read16(dev, c->pm + PCI_PM_CTRL, &pmcsr), "read PMCSR");
		vt_check_eq(pmcsr & 3, 0, "power state in PMCSR");
	}
	vt_check_ret(set_cmd(dev, cmd_bits(c)), "COMMAND := memory, bus master");
	vt_check_ret(vt_config_read16(dev, PCI_COMMAND, &cmd), "read COMMAND");
	vt_check(cmd & PCI_COMMAND_MEMORY, "memory enable reads back clear: COMMAND %#x", cmd);
	if (k->prep)
		k->prep(c);

	if (k->id_bar >= 0) {
		uint32_t bar = (uint32_t)k->id_bar;
		uint64_t page = k->id_off & ~(PAGE - 1);
		uint8_t *m;

		int err = id_pread(k, dev, &val);

		if (vt_check(!err, "pread of the ID register: %s", vt_errname(err)) && c->id_ok)
			vt_check_eq(val & k->id_mask, c->id_value, "ID register (BAR%u +%#x) by pread",
				    bar, k->id_off);
		if (c->reg[bar].mmap) {
			m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dev, (off_t)(R(bar) + page));
			if (vt_check(m != MAP_FAILED, "mmap BAR%u: %s", bar, vt_errname(errno))) {
				uint32_t mv;
				int sig = id_load(k, m + (k->id_off - page), &mv);

				vt_check(!sig, "load of the ID register through a mapping: %s",
					 vt_sig_name(sig));
				if (!sig && c->id_ok)
					vt_check_eq(mv & k->id_mask, c->id_value, "ID register "
						    "(BAR%u +%#x) through a mapping", bar, k->id_off);
				else if (!sig)
					vt_check_eq(mv, val, "ID register: mapping vs pread");
				munmap(m, PAGE);
			}
		}
	}
	if (k->ram_bar >= 0) {
		uint32_t bar = (uint32_t)k->ram_bar;
		uint64_t off = (c->seed % (c->reg[bar].size / PAGE)) * PAGE;
		uint8_t pat[64], back[64];
		uint8_t *m;

		for (size_t i = 0; i < sizeof(pat); i++)
			pat[i] = (uint8_t)(c->seed >> (i % 8) * 8) ^ (uint8_t)i;
		vt_check(wr(dev, pat, sizeof(pat), R(bar) + off) == sizeof(pat), "pwrite to RAM "
			 "BAR%u: %s", bar, vt_errname(errno));
		memset(back, 0, sizeof(back));
		if (vt_check(rd(dev, back, sizeof(back), R(bar) + off) == sizeof(back), "pread of "
			     "RAM BAR%u: %s", bar, vt_errname(errno)))
			vt_check(!memcmp(pat, back, sizeof(pat)), "RAM BAR%u: pread differs from "
				 "what was written", bar);
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dev, (off_t)(R(bar) + off));
		if (vt_check(m != MAP_FAILED, "mmap RAM BAR%u: %s", bar, vt_errname(errno))) {
			int sig = vt_map_copy(m, back, sizeof(back), 8, false);

			vt_check(!sig && !memcmp(pat, back, sizeof(pat)), "RAM BAR%u through a "
				 "mapping: %s", bar, sig ? vt_sig_name(sig) : "differs");
			munmap(m, PAGE);
		}
	}

	/* Its own interrupts, then REQ. */
	if (c->nirq[VFIO_PCI_MSIX_IRQ_INDEX])
		check_loopback(dev, VFIO_PCI_MSIX_IRQ_INDEX,
			       c->nirq[VFIO_PCI_MSIX_IRQ_INDEX] < 4 ?
			       c->nirq[VFIO_PCI_MSIX_IRQ_INDEX] : 4, "MSI-X");
	else if (c->nirq[VFIO_PCI_MSI_IRQ_INDEX])
		check_loopback(dev, VFIO_PCI_MSI_IRQ_INDEX, 1, "MSI");
	else if (c->nirq[VFIO_PCI_INTX_IRQ_INDEX])
		check_loopback(dev, VFIO_PCI_INTX_IRQ_INDEX, 1, "INTx");
	check_loopback(dev, VFIO_PCI_REQ_IRQ_INDEX, 1, "REQ");
	if (k->vendor == 0x1234 && k->device == 0x11e8) {
		int efd = vt_efd_new();
		uint32_t one = 1;

		if (vt_check_ok(vt_irq_set_fd(dev, VFIO_PCI_MSI_IRQ_INDEX, efd), "enable MSI")) {
			edu_quiet(c);
			vt_check(wr(dev, &one, 4, R(0) + EDU_IRQ_RAISE) == 4, "raise");
			vt_check(vt_efd_wait(efd, vt_slow_kernel() ? IRQ_WAIT_MS_SLOW : IRQ_WAIT_MS)
				 >= 1, "edu's MSI not delivered");
			vt_irq_disable(dev, VFIO_PCI_MSI_IRQ_INDEX);
		}
		close(efd);
	}
	if (k->quiet)
		k->quiet(c);
	op_begin(0, "check afterwards: close");
	vt_vfio_close(&v);
	op_end(0);
}

static void print_stats(struct chaos *c, long ms)
{
	char line[1024];
	unsigned long sum = 0;
	size_t len = 0;
	int col = 0;

	for (int i = 0; i < NCLS; i++)
		sum += atomic_load(&c->st.ops[i]);
	vt_diag("%s: %lu operations in %ld ms; %lu SIGBUS/SIGSEGV caught, %lu children, "
		"%lu invariant violations%s", c->k->name, sum, ms, atomic_load(&c->st.sigs),
		atomic_load(&c->st.forks), atomic_load(&c->st.violations),
		atomic_load(&c->st.known) ? " (and ID mismatches of the in-tree hole)" : "");
	if (atomic_load(&c->st.known))
		vt_diag("%s: %lu ID mismatches of the in-tree hole", c->k->name,
			atomic_load(&c->st.known));
	{
		/* Where the time went (thread-ms, the three largest). */
		int top[3] = { -1, -1, -1 };

		for (int i = 0; i < NCLS; i++)
			for (int j = 0; j < 3; j++)
				if (top[j] < 0 || atomic_load(&c->st.ms[i]) >
				    atomic_load(&c->st.ms[top[j]])) {
					for (int m = 2; m > j; m--)
						top[m] = top[m - 1];
					top[j] = i;
					break;
				}
		vt_diag("%s: most thread time in %s %lu ms, %s %lu ms, %s %lu ms", c->k->name,
			classes[top[0]].name, atomic_load(&c->st.ms[top[0]]),
			classes[top[1]].name, atomic_load(&c->st.ms[top[1]]),
			classes[top[2]].name, atomic_load(&c->st.ms[top[2]]));
	}
	for (int i = 0; i < NCLS; i++) {
		unsigned long n = atomic_load(&c->st.ops[i]), e = atomic_load(&c->st.errs[i]);

		total_ops[i] += n;
		total_errs[i] += e;
		if (!c->weight[i] && (i != C_CLOSE || !c->do_close))
			continue;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %lu (%lu err)",
					col ? ", " : "", classes[i].name, n, e);
		if (++col == 6 || i == NCLS - 1) {
			vt_diag("%s:   %s", c->k->name, line);
			len = 0;
			col = 0;
		}
	}
}

static void run_device(const struct kind *k, const struct vt_dev *d, int nworkers, long dev_ms,
		       const char *skip, const char *only)
{
	struct chaos *c = calloc(1, sizeof(*c));
	struct worker *w = calloc((size_t)nworkers, sizeof(*w));
	struct rng r;
	long t0, next_close, every = vt_slow_kernel() ? 4000 : 1500;
	int started = 0;

	if (!c || !w)
		vt_bail("out of memory");
	c->k = k;
	c->d = d;
	c->nworkers = nworkers;
	c->seed = master_seed ^ name_hash(k->name);
	r = rng_for(c->seed, 0);
	snprintf(wd_device, sizeof(wd_device), "%s %s (device seed %#llx)", k->name, d->bdf,
		 (unsigned long long)c->seed);
	vt_begin("%s %s: %ld ms of chaos, %d threads, seed %#llx: no hang, no crash, "
		 "device works after", k->name, d->bdf, dev_ms, nworkers,
		 (unsigned long long)master_seed);
	op_begin(0, "open %s %s", k->name, d->bdf);
	if (!facts(c)) {
		op_end(0);
		vt_vfio_close(&c->v);
		vt_end();
		free(c);
		free(w);
		return;
	}
	op_end(0);
	weights(c, skip, only);
	vt_diag("%s %s: device seed %#llx; regions:%s%s%s%s%s%s%s%s%s; irqs %u/%u/%u/%u/%u; "
		"caps pm %#x%s msi %#x msix %#x exp %#x; ID %#x%s", k->name, d->bdf,
		(unsigned long long)c->seed,
		c->reg[0].exists ? " 0" : "", c->reg[1].exists ? " 1" : "",
		c->reg[2].exists ? " 2" : "", c->reg[3].exists ? " 3" : "",
		c->reg[4].exists ? " 4" : "", c->reg[5].exists ? " 5" : "",
		c->reg[6].exists ? " rom" : "", c->reg[7].exists ? " cfg" : "",
		c->reg[8].exists ? " vga" : "", c->nirq[0], c->nirq[1], c->nirq[2], c->nirq[3],
		c->nirq[4], c->pm, c->pm && c->no_soft_reset ? " (No_Soft_Reset)" : "", c->msi,
		c->msix, c->exp, c->id_value,
		!c->id_ok ? " (not compared)" : k->id_invariant ? " (invariant)" : "");
	if (c->known_hole && c->k->id_invariant && c->id_ok)
		vt_diag("%s: ID mismatches not counted (extension: the in-tree driver has two "
			"holes that leave memory decode off in the hardware while BAR accesses "
			"are allowed: the state restored by PMCSR D0 without No_Soft_Reset, and "
			"pci_intx() outside the memory lock racing a config write of decode)",
			k->name);

	for (int i = 0; i < NEFD; i++)
		c->irq_efd[i] = vt_efd_new();
	for (int i = 0; i < NIOEFD; i++)
		c->io_efd[i] = vt_efd_new();
	c->dud_efd = vt_efd_new();
	c->wake_efd = vt_efd_new();
	c->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < NSLOTS; i++)
		pthread_rwlock_init(&c->slot[i].lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->pmu, NULL);
	pthread_cond_init(&c->pcond, NULL);

	kmsg("t_90_chaos: %s %s: chaos starts, device seed %#llx\n", k->name, d->bdf,
	     (unsigned long long)c->seed);
	t0 = now_ms();
	for (int i = 0; i < nworkers; i++) {
		w[i].c = c;
		w[i].t = i + 1;
		w[i].r = rng_for(c->seed, (uint64_t)i + 1);
		w[i].buf = mmap(NULL, BUFSZ + PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w[i].buf == MAP_FAILED || mprotect(w[i].buf + BUFSZ, PAGE, PROT_NONE) ||
		    pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			vt_check(false, "starting worker %d: %s", i, vt_errname(errno));
			break;
		}
		started++;
	}
	c->nworkers = started;
	next_close = t0 + every + (long)below(&r, (uint32_t)every);
	while (now_ms() - t0 < dev_ms && !atomic_load(&c->stop)) {
		usleep(20000);
		reap(c, false);
		if (c->do_close && now_ms() >= next_close) {
			close_reopen(c, &r);
			next_close = now_ms() + every + (long)below(&r, (uint32_t)every);
		}
		for (int i = 0; i < NEFD; i++)	/* keep the counts small */
			vt_efd_take(c->irq_efd[i]);
	}
	atomic_store(&c->stop, true);
	for (int i = 0; i < started; i++) {
		op_begin(0, "joining worker %d", i + 1);
		pthread_join(w[i].th, NULL);
		munmap(w[i].buf, BUFSZ + PAGE);
	}
	op_end(0);
	reap(c, true);
	unmap_all(c);
	op_begin(0, "closing the device after the chaos");
	vt_vfio_close(&c->v);
	op_end(0);
	kmsg("t_90_chaos: %s %s: chaos ends\n", k->name, d->bdf);
	print_stats(c, now_ms() - t0);

	vt_check(!c->broken, "the device could not be reopened during the chaos");
	vt_check_eq(atomic_load(&c->st.violations), 0, "invariant violations");
	vt_check_eq(atomic_load(&c->st.kid_bad), 0, "fork children that did not exit 0");
	if (!c->broken)
		check_works(c);

	for (int i = 0; i < NEFD; i++)
		close(c->irq_efd[i]);
	for (int i = 0; i < NIOEFD; i++)
		close(c->io_efd[i]);
	close(c->dud_efd);
	close(c->wake_efd);
	close(c->null_fd);
	for (int i = 0; i < NSLOTS; i++)
		pthread_rwlock_destroy(&c->slot[i].lock);
	vt_end();
	free(c);
	free(w);
}

static uint64_t parse_seed(int argc, char **argv, const char **how)
{
	const char *s = argc > 1 ? argv[1] : getenv("VT_CHAOS_SEED");
	struct timespec t;

	if (s && *s) {
		*how = argc > 1 ? "from argv[1]" : "from VT_CHAOS_SEED";
		return strtoull(s, NULL, 0);
	}
	*how = "from the clock";
	clock_gettime(CLOCK_REALTIME, &t);
	return ((uint64_t)t.tv_sec * 1000000007ull) ^ (uint64_t)t.tv_nsec ^
	       ((uint64_t)getpid() << 32);
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, NULL, 0);
	return v < min ? min : v > max ? max : v;
}

int main(int argc, char **argv)
{
	struct vt_dev found[NKINDS];
	bool have[NKINDS];
	const char *only = getenv("VT_CHAOS_ONLY"), *skip = getenv("VT_CHAOS_SKIP"), *how;
	const char *only_cls = getenv("VT_CHAOS_CLASSES");
	long dev_ms = env_long("VT_CHAOS_MS", vt_slow_kernel() ? DEV_MS_SLOW : DEV_MS, 100,
			       600000);
	int nworkers = (int)env_long("VT_CHAOS_THREADS", 4, 1, MAX_WORKERS), present = 0;
	unsigned long sum = 0, errs = 0;
	pthread_t wdt;

	master_seed = parse_seed(argc, argv, &how);
	trace = getenv("VT_CHAOS_TRACE") && *getenv("VT_CHAOS_TRACE") == '1';
	hang_ms = vt_slow_kernel() ? HANG_MS_SLOW : HANG_MS;
	atomic_store(&wd[0].tid, (int)syscall(SYS_gettid));
	vt_fault_handler_install();
	signal(SIGPIPE, SIG_IGN);

	for (size_t k = 0; k < NKINDS; k++) {
		struct vt_dev devs[VT_MAX_DEVS];
		int n = vt_find_devices(kinds[k].vendor, kinds[k].device, devs, VT_MAX_DEVS);

		have[k] = n > 0 && (!only || listed(only, kinds[k].name));
		if (have[k]) {
			found[k] = devs[0];
			present++;
		}
	}
	if (!present)
		vt_skip_all("none of the lab's devices in this topology");
	for (size_t k = 0; k < NKINDS; k++)
		if (have[k] && vt_bind(found[k].bdf))
			vt_bail("cannot bind %s %s to " VT_DRIVER, kinds[k].name, found[k].bdf);
	vt_plan(NKINDS);
	vt_diag("seed %#llx (%s): argv[1] or VT_CHAOS_SEED=%#llx repeats each thread's "
		"operations", (unsigned long long)master_seed, how,
		(unsigned long long)master_seed);
	vt_diag("kernel %s, %s, %ld ms per device, %d worker threads, hang limit %ld ms%s%s",
		vt_kernel(), vt_baseline() ? "baseline (in-tree vfio-pci)" : "ng", dev_ms, nworkers,
		hang_ms, skip ? ", skipping " : "", skip ? skip : "");
	if (only_cls)
		vt_diag("only the classes %s", only_cls);
	for (int i = 0; vt_baseline() && baseline_skips[i].reason; i++)
		if (!baseline_skips[i].kernel || !strcmp(baseline_skips[i].kernel, vt_kernel()))
			vt_diag("class %s skipped: %s", classes[baseline_skips[i].cls].name,
				baseline_skips[i].reason);
	if (vt_baseline())
		vt_diag("set-irqs without INTx: %s", baseline_no_intx);
	pthread_create(&wdt, NULL, watchdog, NULL);

	for (size_t k = 0; k < NKINDS; k++) {
		if (!have[k]) {
			vt_skip(only ? "not in this topology or not in VT_CHAOS_ONLY" :
				"not in this topology", "%s: chaos", kinds[k].name);
			continue;
		}
		run_device(&kinds[k], &found[k], nworkers, dev_ms, skip, only_cls);
	}

	for (int i = 0; i < NCLS; i++) {
		sum += total_ops[i];
		errs += total_errs[i];
	}
	vt_diag("chaos total: %lu operations (%lu returned an error) on %d devices", sum, errs,
		present);
	{
		char line[1024];
		size_t len = 0;

		for (int i = 0; i < NCLS; i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %lu",
						i ? ", " : "", classes[i].name, total_ops[i]);
		vt_diag("chaos total per class: %s", line);
	}
	return vt_finish();
}
