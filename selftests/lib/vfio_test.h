/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_test: a small library for the vfio-pci-ng guest test programs.
 *
 * - TAP (kselftest style) reporting: a plan, one "ok"/"not ok" line per test
 *   case, "# SKIP" for cases that do not apply, "# " diagnostics and a closing
 *   "# N passed, N failed, N skipped" line.  A case may hold several checks;
 *   it fails when any of them fails and every failed check explains itself in
 *   a diagnostic line.
 * - The environment the VM runner gives every test (VFIO_TEST_*).
 * - PCI sysfs helpers: find devices by vendor:device, bind them to vfio-pci
 *   through driver_override, unbind, read (and write) config space and
 *   resources.
 * - VFIO helpers: container + group + type1v2 + device fd, region/irq info
 *   (with capability chains), config region access.
 * - Guarded buffers to catch the kernel writing past an ioctl argument.
 * - Interrupts: eventfds, VFIO_DEVICE_SET_IRQS wrappers, /proc/interrupts.
 * - Accesses through a BAR mapping with SIGBUS/SIGSEGV caught.
 * - The main program of a test organized by device kind.
 * - Our debugfs files and the kernel log (/dev/kmsg) from a point on.
 * - Timing, waiting for a sysfs attribute, and the child that unbinds a
 *   device while it is open.
 * - A cue to the host side of the runner (QMP/HMP commands).
 *
 * Library functions return 0 (or a count / fd) on success and a negative
 * errno on failure; they also leave errno set.
 */
#ifndef VFIO_TEST_H
#define VFIO_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <linux/vfio.h>

/* ------------------------------------------------------------------------ */
/* uapi newer than this host's (6.1-era) <linux/vfio.h>                      */

#ifndef VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP
#define VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP	5
#endif

/* The region index is encoded in the top bits of the device fd offset. */
#define VT_REGION_SHIFT		40
#define VT_REGION_OFFSET(index)	((uint64_t)(index) << VT_REGION_SHIFT)

/* VFIO_DEVICE_GET_INFO's struct as of 6.12 (6.1's lacks the pad). */
struct vt_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};

/* ------------------------------------------------------------------------ */
/* TAP reporting                                                             */

#define VT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Announce the number of test cases ("1..N"); call once, before any case. */
void vt_plan(unsigned int count);

/* A case with a single assertion: "ok N - desc" when cond, else "not ok". */
bool vt_ok(bool cond, const char *fmt, ...) VT_PRINTF(2, 3);

/* A case that does not apply: "ok N - desc # SKIP reason". */
void vt_skip(const char *reason, const char *fmt, ...) VT_PRINTF(2, 3);

/* A diagnostic line: "# ...". */
void vt_diag(const char *fmt, ...) VT_PRINTF(1, 2);

/*
 * A case with several checks.  vt_begin() names it, the vt_check*() calls
 * record failures (each with a diagnostic), vt_end() prints the result line.
 * vt_end_skip() ends it as skipped instead (when a precondition is missing).
 */
void vt_begin(const char *fmt, ...) VT_PRINTF(1, 2);
bool vt_end(void);
void vt_end_skip(const char *reason, ...) VT_PRINTF(1, 2);

/*
 * Inside a case: record a failure unless cond; "# what" on failure.  Used
 * outside a case, a check reports as a case of its own.
 */
bool vt_check(bool cond, const char *fmt, ...) VT_PRINTF(2, 3);
/* got == want, printed in hex on failure. */
bool vt_check_eq(uint64_t got, uint64_t want, const char *fmt, ...) VT_PRINTF(3, 4);
/* A syscall result: ret >= 0 expected; on failure prints errno's name. */
bool vt_check_ok(long ret, const char *fmt, ...) VT_PRINTF(2, 3);
/* A syscall result: ret == -1 with errno == want_errno expected. */
bool vt_check_errno(long ret, int want_errno, const char *fmt, ...) VT_PRINTF(3, 4);
/* The same two for this library's style of result (negative errno). */
bool vt_check_ret(int ret, const char *fmt, ...) VT_PRINTF(2, 3);
bool vt_check_err(int ret, int want_errno, const char *fmt, ...) VT_PRINTF(3, 4);

/* Name of an errno value ("EINVAL"); "0" for 0. */
const char *vt_errname(int err);

/*
 * Print the closing "# N passed, N failed, N skipped" line (plus a warning
 * and a failure if the plan was not met) and return the exit status.
 */
int vt_finish(void);

/*
 * The whole program does not apply here (e.g. the topology lacks its
 * devices): "1..0 # SKIP reason", the summary line, exit status 0.
 */
void vt_skip_all(const char *fmt, ...) VT_PRINTF(1, 2) __attribute__((noreturn));

/* Give up: "Bail out! reason", then vt_finish() and exit non-zero. */
void vt_bail(const char *fmt, ...) VT_PRINTF(1, 2) __attribute__((noreturn));

/* ------------------------------------------------------------------------ */
/* Environment given by the runner                                            */

/* VFIO_TEST_MODE=baseline: the in-tree vfio-pci is loaded, not ours. */
bool vt_baseline(void);
/* VFIO_TEST_KERNEL: "6.1", "6.12" or "debug" ("unknown" when unset). */
const char *vt_kernel(void);
/* True on a 6.1 kernel (from VFIO_TEST_KERNEL, else from uname). */
bool vt_kernel_is_6_1(void);
/* The running kernel (uname) is MAJOR.MINOR or newer. */
bool vt_kernel_at_least(int major, int minor);
/*
 * The in-tree vfio-pci offers the ERR irq on conventional PCI functions too
 * (7.3 and later; up to 7.2 only on PCI Express): ours follows it.
 */
bool vt_err_irq_conventional(void);
/*
 * The debug kernel (KASAN, lockdep, kmemleak) under TCG takes seconds for a
 * device open/close: loops scale their counts down there.
 */
bool vt_slow_kernel(void);
/* VFIO_TEST_DRIVER_KO: where the vfio-pci module to re-insert is, or NULL. */
const char *vt_driver_ko(void);
/*
 * The nointxmask parameter of the loaded vfio_pci (ours and the in-tree one
 * have it; read from sysfs): INTx is then masked at the interrupt
 * controller, on a host IRQ line the device must have for itself, instead
 * of by INTx-disable in the device's command register (PCI 2.3 masking).
 */
bool vt_nointxmask(void);

/*
 * Gate for a case that checks behaviour beyond mainline vfio-pci.  In
 * baseline mode it reports "ok N - desc # SKIP extension: why" and returns
 * false; otherwise it returns true and the caller runs the case.
 */
bool vt_extension(const char *why, const char *fmt, ...) VT_PRINTF(2, 3);

/* ------------------------------------------------------------------------ */
/* PCI devices in sysfs                                                       */

#define VT_DRIVER	"vfio-pci"	/* PCI driver name, must be exact */
#define VT_MODULE	"vfio_pci"	/* module name */
#define VT_BDF_LEN	16		/* "0000:00:00.0" + NUL, rounded */
#define VT_NAME_LEN	64

/* A device of the test lab, identified by vendor:device, never by address. */
struct vt_dev {
	char bdf[VT_BDF_LEN];
	const char *name;	/* lab name ("edu", "nvme", ...) */
	uint16_t vendor;
	uint16_t device;
};

#define VT_MAX_DEVS	32

/* Devices with this vendor:device, sorted by address; returns the count. */
int vt_find_devices(uint16_t vendor, uint16_t device, struct vt_dev *out, int max);
/* Every device of the lab (edu, pci-testdev, ivshmem, nvme, e1000e,
 * virtio-rng) that is present, sorted by address; returns the count. */
int vt_lab_devices(struct vt_dev *out, int max);

/* Read a small text file (trailing newline removed); returns its length. */
int vt_read_file(const char *path, char *buf, size_t len);
/* Read a sysfs attribute of a device (trailing newline removed). */
int vt_sysfs_read(const char *bdf, const char *attr, char *buf, size_t len);
/* Write a string to a sysfs file. */
int vt_sysfs_write(const char *path, const char *val);
/* Whether a sysfs attribute of a device exists. */
bool vt_sysfs_exists(const char *bdf, const char *attr);
/* Size of a sysfs attribute file (binary attributes have one), or -errno. */
long vt_sysfs_size(const char *bdf, const char *attr);

/* Name of the driver bound to the device, "" if none. */
int vt_driver(const char *bdf, char *name, size_t len);
/* True if bound to exactly "vfio-pci". */
bool vt_is_bound(const char *bdf);
/* driver_override ("" when unset). */
int vt_get_override(const char *bdf, char *buf, size_t len);
/* Set driver_override; NULL or "" clears it. */
int vt_set_override(const char *bdf, const char *driver);
/* Unbind from whatever driver has the device (no-op if none). */
int vt_unbind(const char *bdf);
/* Ask the PCI core to probe drivers for the device (drivers_probe). */
int vt_probe(const char *bdf);
/* Bind to vfio-pci: unbind, driver_override, drivers_probe, verify.
 * Does nothing if the device is already bound to vfio-pci. */
int vt_bind(const char *bdf);
/* vt_bind() on each device; returns the number of failures. */
int vt_bind_all(const struct vt_dev *devs, int n);
/*
 * The main program's start for the lab devices: every one present
 * (vt_lab_devices()), bound to vfio-pci.  Skips the whole program when there
 * is none and bails out when one will not bind; returns the count.
 */
int vt_lab_bind(struct vt_dev *devs, int max);
/* Unbind and clear driver_override so that nothing takes the device. */
int vt_release(const char *bdf);

/* Reset the device through sysfs "reset" (-ENOENT: the PCI core has no
 * reset method for it); the device must not be open. */
int vt_sysfs_reset(const char *bdf);

/* IOMMU group number. */
int vt_iommu_group(const char *bdf);
/* Addresses of the devices in an IOMMU group; returns the count. */
int vt_group_devices(int group, char (*bdfs)[VT_BDF_LEN], int max);
/*
 * The address of the bridge above the device (its parent in the sysfs device
 * tree, through the device's link) in out: false when the device sits on a
 * root bus (its parent is the host bridge node "pciDDDD:BB") or the link
 * cannot be read.
 */
bool vt_parent_bdf(const char *bdf, char *out, size_t len);
/* Whether the device sits behind a bridge rather than on a root bus. */
bool vt_behind_bridge(const char *bdf);
/*
 * The first two of devs that sit behind a bridge, in *a and *b (NULL when
 * there are fewer); true when there are two.
 */
bool vt_bridge_pair(const struct vt_dev *devs, int n, const char **a, const char **b);

/* Config space through sysfs (the host's view); returns bytes read. */
int vt_sysfs_config(const char *bdf, uint8_t *buf, size_t len);
/*
 * One access of len bytes at off to config space through sysfs (the host's
 * view, bypassing vfio): a pread, or a pwrite when `write`.  0 or -errno
 * (-EIO: a short access).
 */
int vt_sysfs_config_rw(const char *bdf, unsigned int off, void *val, size_t len, bool write);

/* One line of sysfs "resource": BARs 0-5, ROM 6. */
struct vt_resource {
	uint64_t start;
	uint64_t end;
	uint64_t flags;		/* IORESOURCE_* */
};
#define VT_IORESOURCE_IO	0x00000100
#define VT_IORESOURCE_MEM	0x00000200
#define VT_IORESOURCE_MEM_64	0x00100000
#define VT_NUM_RESOURCES	7

int vt_resources(const char *bdf, struct vt_resource res[VT_NUM_RESOURCES]);
uint64_t vt_resource_size(const struct vt_resource *r);

/* PCI capability offset in a config space dump (0 when absent). */
unsigned int vt_pci_find_cap(const uint8_t *cfg, size_t len, uint8_t id);
unsigned int vt_pci_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id);

static inline uint16_t vt_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vt_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------------ */
/* VFIO                                                                       */

/* An open device: container, group and device fds (-1 when not open). */
struct vt_vfio {
	int container;
	int group;
	int device;
	int group_id;
};

/* /dev/vfio/vfio, API version checked. */
int vt_open_container(void);
/* /dev/vfio/<group>. */
int vt_open_group(int group_id);
/* Attach the group to the container and select type1v2 (if not yet set). */
int vt_attach_group(int container, int group);
/*
 * Full open sequence for one device: container, group, SET_CONTAINER,
 * SET_IOMMU type1v2, GET_DEVICE_FD.  On failure everything is closed, a
 * diagnostic names the failing step and the negative errno is returned.
 */
int vt_vfio_open(struct vt_vfio *v, const char *bdf);
void vt_vfio_close(struct vt_vfio *v);

/* Fill *info for a device (argsz = sizeof). */
int vt_device_info(int device, struct vt_device_info *info);
/*
 * Region info with its capability chain: returns a malloc'ed buffer large
 * enough for the chain (caller frees) or NULL with errno set.
 */
struct vfio_region_info *vt_region_info(int device, uint32_t index);
/* First capability with this id in an info buffer's chain, or NULL. */
const struct vfio_info_cap_header *vt_info_cap(const void *info, size_t len,
					       uint32_t cap_offset, uint16_t id);
int vt_irq_info(int device, uint32_t index, struct vfio_irq_info *info);

/*
 * mmap a whole region (MAP_SHARED, read/write) and store its size in *len;
 * NULL with errno set (ENOTSUP: not mmappable) and a diagnostic on failure.
 */
void *vt_map_region(int device, uint32_t index, size_t *len);
/* One 4-byte pread/pwrite of region `index` at `off`: 0 or a negative errno. */
int vt_region_read32(int device, uint32_t index, uint64_t off, uint32_t *val);
int vt_region_write32(int device, uint32_t index, uint64_t off, uint32_t val);

/* Read/write the VFIO config region. */
ssize_t vt_config_read(int device, void *buf, size_t len, uint64_t off);
ssize_t vt_config_write(int device, const void *buf, size_t len, uint64_t off);
int vt_config_read32(int device, uint64_t off, uint32_t *val);
int vt_config_read16(int device, uint64_t off, uint16_t *val);
int vt_config_write16(int device, uint64_t off, uint16_t val);
/*
 * Set (on) or clear memory enable in the command register through the config
 * region, read-modify-write, without checks: 0 or a negative errno.
 */
int vt_config_memory(int device, bool on);

/* ------------------------------------------------------------------------ */
/* Guarded buffers                                                            */

/*
 * An object of `size` bytes followed (and preceded) by canary bytes, the
 * trailing canary followed by an inaccessible page.  A kernel that writes
 * past the object either changes a canary or faults (EFAULT).
 */
struct vt_guard {
	void *map;
	size_t map_len;
	uint8_t *obj;
	size_t size;
};

int vt_guard_alloc(struct vt_guard *g, size_t size);
/* True if both canaries are untouched; diagnoses the first changed byte. */
bool vt_guard_intact(const struct vt_guard *g);
void vt_guard_free(struct vt_guard *g);
/* The address of a page that cannot be read or written (a bad pointer). */
void *vt_bad_pointer(void);

/* ------------------------------------------------------------------------ */
/* Interrupts: eventfds, VFIO_DEVICE_SET_IRQS, /proc/interrupts              */

/* A new eventfd, count 0, close-on-exec and non-blocking (or -1). */
int vt_efd_new(void);
/* Consume the eventfd's count without waiting (0 if not signalled or fd < 0). */
uint64_t vt_efd_take(int fd);
/* Wait up to ms for the eventfd and consume its count (0: timeout). */
uint64_t vt_efd_wait(int fd, int ms);

/*
 * VFIO_DEVICE_SET_IRQS with argsz = header + len and `len` bytes of data
 * copied after the header.  Returns the ioctl's result (-1 and errno).
 */
int vt_set_irqs(int device, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		const void *data, size_t len);
/* The same with an argsz of the caller's choice (hostile tests). */
int vt_set_irqs_argsz(int device, uint32_t argsz, uint32_t flags, uint32_t index,
		      uint32_t start, uint32_t count, const void *data, size_t len);
/* DATA_EVENTFD | action on vector 0 of index: one eventfd (-1 removes it). */
int vt_irq_action_fd(int device, uint32_t action, uint32_t index, int32_t fd);
/* DATA_EVENTFD | ACTION_TRIGGER on vector 0 of index. */
int vt_irq_set_fd(int device, uint32_t index, int32_t fd);
/* DATA_NONE | action on vector 0 of index (loopback, mask, unmask). */
int vt_irq_action_none(int device, uint32_t action, uint32_t index);
/* DATA_BOOL | action on vector 0 of index, with the one bool b. */
int vt_irq_action_bool(int device, uint32_t action, uint32_t index, uint8_t b);
/* DATA_NONE | ACTION_TRIGGER with count 0: disable the whole index. */
int vt_irq_disable(int device, uint32_t index);

/* How many lines of /proc/interrupts contain name (-1: unreadable). */
int vt_proc_irq_lines(const char *name);
/* How many times name occurs in /proc/interrupts, all on a line counted (-1: unreadable). */
int vt_proc_irq_matches(const char *name);

/* ------------------------------------------------------------------------ */
/* Accesses through a BAR mapping, faults caught                             */

/*
 * Catch SIGBUS and SIGSEGV (process-wide) so that an access through a
 * mapping that faults fails a check instead of killing the program: the
 * vt_map_*() calls below return the signal that stopped them.  Call once,
 * before the first of them; a fault anywhere else still kills the program
 * with the signal's default action.  The state is per thread: several
 * threads may access mappings at once.
 */
void vt_fault_handler_install(void);

/*
 * Copy len bytes between a mapping and buf, in accesses of `width` bytes
 * (8, 4, 2, else 1; len a multiple of it) at increasing addresses: loads from
 * the mapping into buf, or stores from buf into the mapping when `store`.
 * Returns 0, or the signal (SIGBUS, SIGSEGV) that stopped the copy part way.
 */
int vt_map_copy(volatile void *map, void *buf, size_t len, unsigned int width, bool store);
/* One 4-byte load or store through a mapping: 0 or the signal. */
int vt_map_load32(volatile void *p, uint32_t *val);
int vt_map_store32(volatile void *p, uint32_t val);
/* "SIGBUS", "SIGSEGV", "a signal", or "none" for 0: what a vt_map_*() returned. */
const char *vt_sig_name(int sig);

/* ------------------------------------------------------------------------ */
/* Programs organized by device kind                                          */

/* A device of a kind, opened for the kind's run() by vt_main_kinds(). */
struct vt_kind_dev {
	const struct vt_dev *d;
	struct vt_vfio v;				/* vt_vfio_open() */
	struct vt_resource res[VT_NUM_RESOURCES];	/* vt_resources() */
};

/* An entry of a program's table of device kinds. */
struct vt_kind {
	uint16_t vendor, device;
	const char *name;
	int cases;	/* how many test cases run() reports, always */
	void (*run)(struct vt_kind_dev *kd);
};

/*
 * The main program of a test made of one block of cases per device kind.
 * Takes the first device of each kind (by address: one on the root bus if
 * there is one), skips the whole program when there is none of any kind,
 * binds those there are to vfio-pci (bails out when one will not), plans
 * the cases of every kind, and then in table order: runs a present kind's
 * cases on its device, read (resources) and opened before and closed
 * after (when either fails, all of its cases fail, naming the error), and
 * reports an absent kind's cases as skipped.  Returns vt_finish()'s status.
 */
int vt_main_kinds(const struct vt_kind *kinds, size_t n);

/* ------------------------------------------------------------------------ */
/* Our debugfs                                                                */

#define VT_DEBUGFS	"/sys/kernel/debug/vfio-pci-ng"

/*
 * A file of the device's directory in VT_DEBUGFS, whole as far as it fits in
 * buf (NUL-terminated, "" on failure): its length or -errno.
 */
int vt_debugfs_read(const char *bdf, const char *file, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Kernel log                                                                 */

/* /dev/kmsg, non-blocking and positioned at its end (the log from now on), or -1. */
int vt_kmsg_open(void);
/*
 * How many records logged since fd's position contain a and b (NULL: any),
 * consuming them; the first `diag` of them become "# kernel log: ..."
 * diagnostics (their first line).  -1 when fd < 0.
 */
int vt_kmsg_count(int fd, const char *a, const char *b, int diag);

/* ------------------------------------------------------------------------ */
/* Misc                                                                       */

/*
 * Find a /proc/iomem entry spanning exactly [start, end]; copies its name.
 * Returns true when found.
 */
bool vt_iomem_find(uint64_t start, uint64_t end, char *name, size_t len);

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
long vt_ms_since(const struct timespec *t0);
/*
 * Wait up to ms (polling every 10 ms) until a sysfs attribute of the device
 * reads want; false, with a diagnostic of what it reads, when it does not.
 */
bool vt_wait_attr(const char *bdf, const char *attr, const char *want, int ms);

/*
 * Wait up to ms for a child: its exit status, -1 when it is still running,
 * -2 when it ended otherwise (a signal) or cannot be waited for.
 */
int vt_wait_child(pid_t pid, int ms);
/*
 * For a child that unbinds a device ("echo bdf > driver/unbind"): make sure
 * it does not linger after a failed case; still blocked after ms, it is
 * killed (with a diagnostic).  Nothing for pid <= 0.
 */
void vt_unbind_reap(pid_t pid, int ms);
/*
 * Inside a case: the unbind child ends within ms (of what happened `after`,
 * e.g. "the close"), with status 0, and the device is unbound; diagnoses the
 * time it took.  False when a check fails.
 */
bool vt_unbind_done(pid_t pid, const char *bdf, int ms, const char *after);

/* Number of open file descriptors of this process. */
int vt_count_fds(void);
/* A value from /proc/meminfo in KiB, or -1. */
long vt_meminfo_kb(const char *field);
/* A module's reference count from /sys/module/<name>/refcnt, or -errno. */
int vt_module_refcnt(const char *module);
/* delete_module(2) and finit_module(2) wrappers (return -1/errno). */
int vt_delete_module(const char *name, unsigned int flags);
int vt_insert_module(const char *path, const char *params);

/*
 * Ask the host side of the runner to run an HMP command: writes
 * "@@HOST <hmp>" on its own line to stdout and reads one reply line from
 * the file named by VFIO_TEST_HOSTCMD (newline stripped).  Returns the reply
 * length, -ENOSYS when the runner offers no host channel, -ETIMEDOUT after
 * 60 s without a reply.
 */
int vt_host_cmd(const char *hmp, char *resp, size_t len);

#endif /* VFIO_TEST_H */
