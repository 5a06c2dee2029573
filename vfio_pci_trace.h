/* SPDX-License-Identifier: GPL-2.0-only */
/* vfio-pci-ng: the vfio_pci trace system (ftrace, trace-cmd, perf). */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vfio_pci

#if !defined(VFIO_PCI_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VFIO_PCI_TRACE_H

#include <linux/mm_types.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vfio.h>

/*
 * Every event names its device ("dev=0000:00:03.0") with a fixed array:
 * no __string(), whose assign macro changed arguments between the kernels
 * we build for.  Symbolic values are plain numbers in the format files, so
 * that trace-cmd and perf decode them without enum definitions.
 */
#define VFIO_PCI_TP_NAME_LEN	16

#define VFIO_PCI_TP_POWER(x)						\
	__print_symbolic(x, { 0, "D0" }, { 1, "D1" }, { 2, "D2" },	\
			 { 3, "D3hot" }, { 4, "D3cold" }, { 5, "unknown" })

/* Scopes and methods: VFIO_PCI_RESET_* in vfio_pci_debug.h. */
#define VFIO_PCI_TP_RESET_SCOPE(x)					\
	__print_symbolic(x, { 0, "open" }, { 1, "close" },		\
			 { 2, "ioctl" }, { 3, "user_flr" },		\
			 { 4, "hot_reset" }, { 5, "close_bus" },	\
			 { 6, "health" }, { 7, "resume" })

#define VFIO_PCI_TP_RESET_METHOD(x)					\
	__print_symbolic(x, { 0, "none" }, { 1, "device_specific" },	\
			 { 2, "acpi" }, { 3, "flr" }, { 4, "af_flr" },	\
			 { 5, "pm" }, { 6, "bus" }, { 7, "cxl_bus" },	\
			 { 8, "slot" }, { 9, "unknown" })

#define VFIO_PCI_TP_IOCTL(x)						\
	__print_symbolic(x, { VFIO_DEVICE_GET_INFO, "GET_INFO" },	\
			 { VFIO_DEVICE_GET_REGION_INFO, "GET_REGION_INFO" }, \
			 { VFIO_DEVICE_GET_IRQ_INFO, "GET_IRQ_INFO" },	\
			 { VFIO_DEVICE_SET_IRQS, "SET_IRQS" },		\
			 { VFIO_DEVICE_RESET, "RESET" },		\
			 { VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,		\
			   "GET_PCI_HOT_RESET_INFO" },			\
			 { VFIO_DEVICE_PCI_HOT_RESET, "PCI_HOT_RESET" },	\
			 { VFIO_DEVICE_IOEVENTFD, "IOEVENTFD" },	\
			 { VFIO_DEVICE_FEATURE, "FEATURE" })

/* VFIO_PCI_CFG_* in vfio_pci_debug.h */
#define VFIO_PCI_TP_CFG_KIND(x)						\
	__print_symbolic(x, { 0, "hardware" }, { 1, "virtual" },	\
			 { 2, "dropped" })

#define VFIO_PCI_TP_FAULT(x)						\
	__print_symbolic(x, { 0, "mapped" }, { 1, "sigbus" }, { 2, "error" })

#define VFIO_PCI_TP_ACTION(x)						\
	__print_symbolic((x) & VFIO_IRQ_SET_ACTION_TYPE_MASK,		\
			 { VFIO_IRQ_SET_ACTION_MASK, "mask" },		\
			 { VFIO_IRQ_SET_ACTION_UNMASK, "unmask" },	\
			 { VFIO_IRQ_SET_ACTION_TRIGGER, "trigger" })

#define VFIO_PCI_TP_DATA(x)						\
	__print_symbolic((x) & VFIO_IRQ_SET_DATA_TYPE_MASK,		\
			 { VFIO_IRQ_SET_DATA_NONE, "none" },		\
			 { VFIO_IRQ_SET_DATA_BOOL, "bool" },		\
			 { VFIO_IRQ_SET_DATA_EVENTFD, "eventfd" })

#define VFIO_PCI_TP_IRQ(x)						\
	__print_symbolic(x, { VFIO_PCI_INTX_IRQ_INDEX, "intx" },	\
			 { VFIO_PCI_MSI_IRQ_INDEX, "msi" },		\
			 { VFIO_PCI_MSIX_IRQ_INDEX, "msix" })

#define VFIO_PCI_TP_SIGNAL(x)						\
	__print_symbolic(x, { VFIO_PCI_ERR_IRQ_INDEX, "err" },		\
			 { VFIO_PCI_REQ_IRQ_INDEX, "req" })

/* The first open of the device (count: open fds, 1), by pid and comm. */
TRACE_EVENT(vfio_pci_open,
	    TP_PROTO(struct pci_dev *pdev, unsigned int count, int ret),
	    TP_ARGS(pdev, count, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)
			     __field(unsigned int, count)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->pid = current->tgid;
			   memcpy(__entry->comm, current->comm, TASK_COMM_LEN);
			   __entry->count = count;
			   __entry->ret = ret;),
	    TP_printk("dev=%s pid=%d comm=%s count=%u ret=%d",
		      __entry->dev,
		      __entry->pid,
		      __entry->comm,
		      __entry->count,
		      __entry->ret)
);

/* The last close of the device, by pid and comm. */
TRACE_EVENT(vfio_pci_close,
	    TP_PROTO(struct pci_dev *pdev),
	    TP_ARGS(pdev),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->pid = current->tgid;
			   memcpy(__entry->comm, current->comm, TASK_COMM_LEN);),
	    TP_printk("dev=%s pid=%d comm=%s",
		      __entry->dev,
		      __entry->pid,
		      __entry->comm)
);

/*
 * A device ioctl.  The argument summary is the first three u32 of the
 * argument (argsz, flags, and the index of the info and SET_IRQS ioctls),
 * read back after the ioctl, only while the event is enabled; for a
 * feature ioctl argsz, the flags and the feature number.
 */
TRACE_EVENT(vfio_pci_ioctl,
	    TP_PROTO(struct pci_dev *pdev, unsigned int cmd, u32 argsz, u32 flags,
		     u32 index, long ret, u64 ns),
	    TP_ARGS(pdev, cmd, argsz, flags, index, ret, ns),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(unsigned int, cmd)
			     __field(u32, argsz)
			     __field(u32, flags)
			     __field(u32, index)
			     __field(long, ret)
			     __field(u64, ns)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->cmd = cmd;
			   __entry->argsz = argsz;
			   __entry->flags = flags;
			   __entry->index = index;
			   __entry->ret = ret;
			   __entry->ns = ns;),
	    TP_printk("dev=%s cmd=%s argsz=%u flags=0x%x index=%u ret=%ld ns=%llu",
		      __entry->dev,
		      VFIO_PCI_TP_IOCTL(__entry->cmd),
		      __entry->argsz,
		      __entry->flags,
		      __entry->index,
		      __entry->ret,
		      (unsigned long long)__entry->ns)
);

/* A piece of a user config write, and where it went by the permission tables. */
TRACE_EVENT(vfio_pci_config_write,
	    TP_PROTO(struct pci_dev *pdev, unsigned int off, unsigned int size,
		     u32 val, unsigned int kind, int ret),
	    TP_ARGS(pdev, off, size, val, kind, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u16, off)
			     __field(u8, size)
			     __field(u8, kind)
			     __field(u32, val)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->off = off;
			   __entry->size = size;
			   __entry->kind = kind;
			   __entry->val = val;
			   __entry->ret = ret;),
	    TP_printk("dev=%s off=0x%x size=%u val=0x%x to=%s ret=%d",
		      __entry->dev,
		      __entry->off,
		      __entry->size,
		      __entry->val,
		      VFIO_PCI_TP_CFG_KIND(__entry->kind),
		      __entry->ret)
);

/* A fault in a BAR mapping: the user range it fills (pages: 0 unless mapped). */
TRACE_EVENT(vfio_pci_mmap_fault,
	    TP_PROTO(struct pci_dev *pdev, unsigned int bar, unsigned long addr,
		     unsigned long start, unsigned long end, unsigned int order,
		     vm_fault_t ret),
	    TP_ARGS(pdev, bar, addr, start, end, order, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u8, bar)
			     __field(u8, order)
			     __field(u8, result)
			     __field(unsigned long, addr)
			     __field(unsigned long, start)
			     __field(unsigned long, end)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->bar = bar;
			   __entry->order = order;
			   __entry->result = ret == VM_FAULT_NOPAGE ? 0 :
				  (ret & VM_FAULT_SIGBUS) ? 1 : 2;
			   __entry->addr = addr;
			   __entry->start = start;
			   __entry->end = end;),
	    TP_printk("dev=%s bar=%u addr=0x%lx range=0x%lx-0x%lx pages=%lu order=%u result=%s",
		      __entry->dev,
		      __entry->bar,
		      __entry->addr,
		      __entry->start,
		      __entry->end,
		      __entry->result ? 0 :
			(__entry->end - __entry->start) >> PAGE_SHIFT,
		      __entry->order,
		      VFIO_PCI_TP_FAULT(__entry->result))
);

/*
 * Removal of every user mapping of the BARs: the device fd range, and the
 * pages of the BARs that can be mapped.
 */
TRACE_EVENT(vfio_pci_zap,
	    TP_PROTO(struct pci_dev *pdev, u64 start, u64 end, unsigned long pages),
	    TP_ARGS(pdev, start, end, pages),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u64, start)
			     __field(u64, end)
			     __field(unsigned long, pages)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->start = start;
			   __entry->end = end;
			   __entry->pages = pages;),
	    TP_printk("dev=%s range=0x%llx-0x%llx pages=%lu",
		      __entry->dev,
		      (unsigned long long)__entry->start,
		      (unsigned long long)__entry->end,
		      __entry->pages)
);

/* VFIO_DEVICE_SET_IRQS, once its header passed the checks. */
TRACE_EVENT(vfio_pci_set_irqs,
	    TP_PROTO(struct pci_dev *pdev, u32 index, u32 start, u32 count,
		     u32 flags, int ret),
	    TP_ARGS(pdev, index, start, count, flags, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u32, index)
			     __field(u32, start)
			     __field(u32, count)
			     __field(u32, flags)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->index = index;
			   __entry->start = start;
			   __entry->count = count;
			   __entry->flags = flags;
			   __entry->ret = ret;),
	    TP_printk("dev=%s index=%u start=%u count=%u action=%s data=%s ret=%d",
		      __entry->dev,
		      __entry->index,
		      __entry->start,
		      __entry->count,
		      VFIO_PCI_TP_ACTION(__entry->flags),
		      VFIO_PCI_TP_DATA(__entry->flags),
		      __entry->ret)
);

/* An interrupt taken for userspace, per vector (hard IRQ context). */
TRACE_EVENT(vfio_pci_irq,
	    TP_PROTO(struct pci_dev *pdev, unsigned int index, unsigned int vector),
	    TP_ARGS(pdev, index, vector),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u8, index)
			     __field(u16, vector)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->index = index;
			   __entry->vector = vector;),
	    TP_printk("dev=%s index=%s vector=%u",
		      __entry->dev,
		      VFIO_PCI_TP_IRQ(__entry->index),
		      __entry->vector)
);

/* A reset: who asked, the first method the PCI core tries, duration, result. */
TRACE_EVENT(vfio_pci_reset,
	    TP_PROTO(struct pci_dev *pdev, unsigned int scope, unsigned int method,
		     u64 ns, int ret),
	    TP_ARGS(pdev, scope, method, ns, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u8, scope)
			     __field(u8, method)
			     __field(int, ret)
			     __field(u64, ns)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->scope = scope;
			   __entry->method = method;
			   __entry->ret = ret;
			   __entry->ns = ns;),
	    TP_printk("dev=%s scope=%s method=%s ns=%llu ret=%d",
		      __entry->dev,
		      VFIO_PCI_TP_RESET_SCOPE(__entry->scope),
		      VFIO_PCI_TP_RESET_METHOD(__entry->method),
		      (unsigned long long)__entry->ns,
		      __entry->ret)
);

/* A function stopped, or started again, answering as itself (health). */
TRACE_EVENT(vfio_pci_health,
	    TP_PROTO(struct pci_dev *pdev, unsigned int scope, bool ok),
	    TP_ARGS(pdev, scope, ok),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u8, scope)
			     __field(bool, ok)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->scope = scope;
			   __entry->ok = ok;),
	    TP_printk("dev=%s after=%s state=%s",
		      __entry->dev,
		      VFIO_PCI_TP_RESET_SCOPE(__entry->scope),
		      __entry->ok ? "ok" : "dead")
);

/* A power state change the driver makes (PMCSR writes, resets, close). */
TRACE_EVENT(vfio_pci_power,
	    TP_PROTO(struct pci_dev *pdev, int from, int to, int ret),
	    TP_ARGS(pdev, from, to, ret),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(s8, from)
			     __field(s8, to)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->from = from;
			   __entry->to = to;
			   __entry->ret = ret;),
	    TP_printk("dev=%s from=%s to=%s ret=%d",
		      __entry->dev,
		      VFIO_PCI_TP_POWER(__entry->from),
		      VFIO_PCI_TP_POWER(__entry->to),
		      __entry->ret)
);

/* ERR (AER error_detected) and REQ (release request; count: earlier requests). */
TRACE_EVENT(vfio_pci_signal,
	    TP_PROTO(struct pci_dev *pdev, unsigned int index, unsigned int count,
		     bool signalled),
	    TP_ARGS(pdev, index, count, signalled),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(u8, index)
			     __field(bool, signalled)
			     __field(unsigned int, count)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->index = index;
			   __entry->signalled = signalled;
			   __entry->count = count;),
	    TP_printk("dev=%s signal=%s count=%u eventfd=%s",
		      __entry->dev,
		      VFIO_PCI_TP_SIGNAL(__entry->index),
		      __entry->count,
		      __entry->signalled ? "signalled" : "none")
);

/*
 * The access of a holder that did not release the device on removal was
 * revoked (vfio_pci_revoke.c): pid and comm of the last opener, the timeout
 * that expired and how long the revoke took.
 */
TRACE_EVENT(vfio_pci_revoke,
	    TP_PROTO(struct pci_dev *pdev, pid_t pid, const char *comm,
		     unsigned int timeout_ms, u64 ns),
	    TP_ARGS(pdev, pid, comm, timeout_ms, ns),
	    TP_STRUCT__entry(__array(char, dev, VFIO_PCI_TP_NAME_LEN)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)
			     __field(unsigned int, timeout_ms)
			     __field(u64, ns)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), VFIO_PCI_TP_NAME_LEN);
			   __entry->pid = pid;
			   strscpy(__entry->comm, comm, TASK_COMM_LEN);
			   __entry->timeout_ms = timeout_ms;
			   __entry->ns = ns;),
	    TP_printk("dev=%s pid=%d comm=%s timeout_ms=%u ns=%llu",
		      __entry->dev,
		      __entry->pid,
		      __entry->comm,
		      __entry->timeout_ms,
		      __entry->ns)
);

#endif /* VFIO_PCI_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vfio_pci_trace
#include <trace/define_trace.h>
