/* SPDX-License-Identifier: GPL-2.0-only */
/* vfio-pci-ng: observability beyond mainline (tracepoints, debugfs, counters). */
#ifndef VFIO_PCI_DEBUG_H
#define VFIO_PCI_DEBUG_H

#include <linux/atomic.h>
#include <linux/ktime.h>
#include <linux/mm_types.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "vfio_pci_trace.h"

struct dentry;
struct pci_dev;
struct vm_fault;
struct vfio_pci_ng_device;

/* Vectors counted one by one in debugfs; higher ones share a counter. */
#define VFIO_PCI_DEBUG_VECTORS	64
/* Resets kept in the history (debugfs "resets"). */
#define VFIO_PCI_DEBUG_RESETS	16

/* Reset scopes: who asked (the event's and the history's "scope"). */
#define VFIO_PCI_RESET_OPEN		0	/* first open */
#define VFIO_PCI_RESET_CLOSE		1	/* last close */
#define VFIO_PCI_RESET_IOCTL		2	/* VFIO_DEVICE_RESET */
#define VFIO_PCI_RESET_USER_FLR		3	/* FLR bit in config space */
#define VFIO_PCI_RESET_HOT		4	/* VFIO_DEVICE_PCI_HOT_RESET */
#define VFIO_PCI_RESET_CLOSE_BUS	5	/* dev_set reset at last close */
#define VFIO_PCI_RESET_HEALTH		6	/* bus reset of a dead function */
#define VFIO_PCI_RESET_RESUME		7	/* no reset: back from runtime PM */

/*
 * Reset methods: 1-7 are the PCI core's reset_methods[] indexes (the order
 * of its pci_reset_fn_methods[], the same from 6.1 to 7.3), 8 a slot reset.
 */
#define VFIO_PCI_RESET_M_NONE		0
#define VFIO_PCI_RESET_M_BUS		6
#define VFIO_PCI_RESET_M_CXL_BUS	7
#define VFIO_PCI_RESET_M_SLOT		8
#define VFIO_PCI_RESET_M_UNKNOWN	9

/* Where a config write goes (event vfio_pci_config_write, "config_map"). */
#define VFIO_PCI_CFG_HW		0	/* some bits reach the hardware */
#define VFIO_PCI_CFG_VIRT	1	/* every writable bit is virtual */
#define VFIO_PCI_CFG_DROPPED	2	/* nothing writable: dropped */

/**
 * struct vfio_pci_reset_record - one entry of the reset history
 * @when_ns: boot time (ktime_get_boottime_ns()) at the start
 * @ns: duration
 * @ret: the PCI core's result
 * @scope: VFIO_PCI_RESET_* (who asked)
 * @method: VFIO_PCI_RESET_M_* (the first method the PCI core tries)
 */
struct vfio_pci_reset_record {
	u64 when_ns;
	u64 ns;
	int ret;
	u8 scope;
	u8 method;
};

/**
 * struct vfio_pci_debug - per-device observability state
 * @lock: protects @opener_pid, @opener_comm, @resets and @nresets
 * @opener_pid: thread group of the process that opened the device last
 *	(0: never opened)
 * @opener_comm: its command name
 * @resets: the last VFIO_PCI_DEBUG_RESETS resets, a ring
 * @nresets: resets recorded since probe
 * @irqs: interrupts taken per vector since the last open
 * @irqs_other: interrupts of vectors VFIO_PCI_DEBUG_VECTORS and up
 * @dir: the device's debugfs directory, or NULL
 */
struct vfio_pci_debug {
	spinlock_t lock;	/* see above */
	pid_t opener_pid;
	char opener_comm[TASK_COMM_LEN];
	struct vfio_pci_reset_record resets[VFIO_PCI_DEBUG_RESETS];
	unsigned int nresets;
	atomic_long_t irqs[VFIO_PCI_DEBUG_VECTORS];
	atomic_long_t irqs_other;
	struct dentry *dir;
};

/* Start of a timed operation: 0 unless the ioctl event is enabled. */
static inline u64 vfio_pci_trace_ioctl_start(void)
{
	return trace_vfio_pci_ioctl_enabled() ? ktime_get_ns() : 0;
}

/* vfio_pci_trace.c */
void vfio_pci_debug_init(struct vfio_pci_ng_device *vpdev);
void vfio_pci_debug_open(struct vfio_pci_ng_device *vpdev, int ret);
void vfio_pci_debug_close(struct vfio_pci_ng_device *vpdev);
void __vfio_pci_trace_ioctl(struct vfio_pci_ng_device *vpdev, unsigned int cmd,
			    unsigned long arg, long ret, u64 start);
void vfio_pci_trace_feature(struct vfio_pci_ng_device *vpdev, u32 flags,
			    size_t argsz, int ret, u64 start);
int vfio_pci_debug_reset(struct vfio_pci_ng_device *vpdev, unsigned int scope,
			 int (*reset)(struct pci_dev *pdev));
int vfio_pci_debug_set_power(struct vfio_pci_ng_device *vpdev,
			     pci_power_t state);
void __vfio_pci_trace_fault(struct vm_fault *vmf, unsigned int order,
			    unsigned long start, unsigned long end,
			    vm_fault_t ret);
void __vfio_pci_trace_zap(struct vfio_pci_ng_device *vpdev);
void __vfio_pci_trace_config_write(struct vfio_pci_ng_device *vpdev,
				   unsigned int pos, unsigned int len,
				   __le32 val, int ret);
void vfio_pci_trace_signal(struct vfio_pci_ng_device *vpdev,
			   unsigned int index, unsigned int count,
			   bool signalled);
const char *vfio_pci_reset_scope_name(unsigned int scope);
const char *vfio_pci_reset_method_name(unsigned int method);

/*
 * Count and trace an interrupt taken for userspace, in hard interrupt
 * context: inline, the round trip of an interrupt is the hottest path.
 */
static inline void vfio_pci_debug_irq(struct vfio_pci_debug *dbg,
				      struct pci_dev *pdev, unsigned int index,
				      unsigned int vector)
{
	atomic_long_inc(vector < VFIO_PCI_DEBUG_VECTORS ? &dbg->irqs[vector] :
			&dbg->irqs_other);
	trace_vfio_pci_irq(pdev, index, vector);
}

/* The hooks of the hot paths: a call only while their event is enabled. */
static inline void vfio_pci_trace_fault(struct vm_fault *vmf,
					unsigned int order, unsigned long start,
					unsigned long end, vm_fault_t ret)
{
	if (trace_vfio_pci_mmap_fault_enabled())
		__vfio_pci_trace_fault(vmf, order, start, end, ret);
}

static inline void vfio_pci_trace_zap(struct vfio_pci_ng_device *vpdev)
{
	if (trace_vfio_pci_zap_enabled())
		__vfio_pci_trace_zap(vpdev);
}

static inline void vfio_pci_trace_config_write(struct vfio_pci_ng_device *vpdev,
					       unsigned int pos,
					       unsigned int len, __le32 val,
					       int ret)
{
	if (trace_vfio_pci_config_write_enabled())
		__vfio_pci_trace_config_write(vpdev, pos, len, val, ret);
}

/* vfio_pci_debugfs.c */
void vfio_pci_debugfs_init(void);
void vfio_pci_debugfs_exit(void);
void vfio_pci_debugfs_add(struct vfio_pci_ng_device *vpdev);
void vfio_pci_debugfs_remove(struct vfio_pci_ng_device *vpdev);

/* vfio_pci_config.c */
int vfio_pci_config_kind(struct vfio_pci_ng_device *vpdev, unsigned int pos,
			 unsigned int len);

#endif /* VFIO_PCI_DEBUG_H */
