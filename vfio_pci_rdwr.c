// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: read/write of BARs, the ROM and the legacy VGA ranges
 * through the device fd.
 *
 * Data moves through a kernel bounce buffer: the user buffer is copied in
 * (or out) with no lock held, and the memory lock is held for reading only
 * around the MMIO of one chunk.  The user buffer may itself be an mmap of
 * a BAR of this device, whose fault handler takes the memory lock too: we
 * must never fault on it while holding the lock.
 */

#include <linux/bitops.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/nospec.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vgaarb.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/* Largest chunk moved under one hold of the memory lock. */
#define VFIO_PCI_RW_CHUNK	4096

/**
 * vfio_pci_bar_iomap() - request and map a BAR on first use
 * @vpdev: the device
 * @bar: the BAR index
 *
 * Return: the mapping, or an ERR_PTR.
 */
void __iomem *vfio_pci_bar_iomap(struct vfio_pci_ng_device *vpdev, int bar)
{
	struct pci_dev *pdev = vpdev->pdev;
	void __iomem *io;
	int ret;

	io = READ_ONCE(vpdev->barmap[bar]);
	if (io)
		return io;

	mutex_lock(&vpdev->barmap_lock);
	io = vpdev->barmap[bar];
	if (io)
		goto out;
	ret = pci_request_selected_regions(pdev, 1 << bar, "vfio");
	if (ret) {
		io = IOMEM_ERR_PTR(ret);
		goto out;
	}
	io = pci_iomap(pdev, bar, 0);
	if (!io) {
		pci_release_selected_regions(pdev, 1 << bar);
		io = IOMEM_ERR_PTR(-ENOMEM);
		goto out;
	}
	WRITE_ONCE(vpdev->barmap[bar], io);
out:
	mutex_unlock(&vpdev->barmap_lock);
	return io;
}

/**
 * vfio_pci_bar_iounmap_all() - undo every vfio_pci_bar_iomap() at close
 * @vpdev: the device
 */
void vfio_pci_bar_iounmap_all(struct vfio_pci_ng_device *vpdev)
{
	int bar;

	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++) {
		if (!vpdev->barmap[bar])
			continue;
		pci_iounmap(vpdev->pdev, vpdev->barmap[bar]);
		pci_release_selected_regions(vpdev->pdev, 1 << bar);
		vpdev->barmap[bar] = NULL;
	}
}

/*
 * The largest naturally aligned access at @pos: up to 8 bytes on memory
 * BARs, 4 on I/O BARs and the ROM.
 */
static size_t vfio_pci_access_size(loff_t pos, size_t left, bool qword)
{
	if (qword && left >= 8 && !(pos & 7))
		return 8;
	if (left >= 4 && !(pos & 3))
		return 4;
	if (left >= 2 && !(pos & 1))
		return 2;
	return 1;
}

/*
 * One access; @kbuf holds the bytes in the device's (little-endian) order.
 * Always inlined: these are the inner loop of bulk transfers.
 */
static __always_inline void vfio_pci_iowrite(const u8 *kbuf,
					     void __iomem *addr, size_t sz)
{
	__le64 v64;
	__le32 v32;
	__le16 v16;

	/*
	 * iowrite64()/ioread64(): one 64-bit MMIO access (two 32-bit ones on
	 * I/O ports), as in-tree.  Not the *_lo_hi() names: on 7.3 they are
	 * always two 32-bit accesses (the library's became __*_lo_hi()).
	 */
	if (sz == 8) {
		memcpy(&v64, kbuf, 8);
		iowrite64(le64_to_cpu(v64), addr);
	} else if (sz == 4) {
		memcpy(&v32, kbuf, 4);
		iowrite32(le32_to_cpu(v32), addr);
	} else if (sz == 2) {
		memcpy(&v16, kbuf, 2);
		iowrite16(le16_to_cpu(v16), addr);
	} else {
		iowrite8(*kbuf, addr);
	}
}

static __always_inline void vfio_pci_ioread(u8 *kbuf, void __iomem *addr,
					    size_t sz)
{
	__le64 v64;
	__le32 v32;
	__le16 v16;

	if (sz == 8) {
		v64 = cpu_to_le64(ioread64(addr));
		memcpy(kbuf, &v64, 8);
	} else if (sz == 4) {
		v32 = cpu_to_le32(ioread32(addr));
		memcpy(kbuf, &v32, 4);
	} else if (sz == 2) {
		v16 = cpu_to_le16(ioread16(addr));
		memcpy(kbuf, &v16, 2);
	} else {
		*kbuf = ioread8(addr);
	}
}

/* Whether [@pos, @pos + @len) of BAR @bar touches the MSI-X table. */
static bool vfio_pci_msix_overlap(struct vfio_pci_ng_device *vpdev, int bar,
				  u64 pos, u64 len)
{
	return bar == vpdev->msix_bar && pos + len > vpdev->msix_offset &&
	       pos < (u64)vpdev->msix_offset + vpdev->msix_size;
}

/*
 * Move @len bytes between @kbuf and the mapping at @pos in naturally
 * aligned accesses: 64-bit ones on memory BARs (@qword, as the in-tree
 * driver since 6.12 does, on every kernel we support), at most 32-bit on
 * I/O BARs and the ROM.  Bytes of the MSI-X table read as 0xff and writes
 * to them are dropped: the table belongs to the kernel, userspace programs
 * vectors with SET_IRQS.
 */
static void vfio_pci_do_io(struct vfio_pci_ng_device *vpdev, int bar,
			   void __iomem *io, u8 *kbuf, loff_t pos, size_t len,
			   bool iswrite, bool qword)
{
	while (len) {
		size_t sz = vfio_pci_access_size(pos, len, qword);

		if (vfio_pci_msix_overlap(vpdev, bar, pos, sz)) {
			/* Table entries are 16-byte aligned: no straddling. */
			if (!iswrite)
				memset(kbuf, 0xff, sz);
		} else if (iswrite) {
			vfio_pci_iowrite(kbuf, io + pos, sz);
		} else {
			vfio_pci_ioread(kbuf, io + pos, sz);
		}
		kbuf += sz;
		pos += sz;
		len -= sz;
	}
}

/* Copy the ROM image; bytes past the image up to the BAR size read 0xff. */
static int vfio_pci_rom_read(struct vfio_pci_ng_device *vpdev, u8 *kbuf,
			     loff_t pos, size_t len)
{
	void __iomem *rom;
	size_t image;
	size_t in_image = 0;

	mutex_lock(&vpdev->barmap_lock);
	rom = pci_map_rom(vpdev->pdev, &image);
	if (!rom) {
		mutex_unlock(&vpdev->barmap_lock);
		return -EIO;
	}
	if (pos < image)
		in_image = min_t(size_t, len, image - pos);
	/* Never 64-bit accesses to a ROM: some devices answer with errors. */
	vfio_pci_do_io(vpdev, PCI_ROM_RESOURCE, rom, kbuf, pos, in_image,
		       false, false);
	memset(kbuf + in_image, 0xff, len - in_image);
	pci_unmap_rom(vpdev->pdev, rom);
	mutex_unlock(&vpdev->barmap_lock);
	return 0;
}

/*
 * One window of a region being read or written: where it is mapped and how
 * a chunk of it is accessed.  @access moves @len bytes between the bounce
 * buffer and the window at @pos, taking whatever lock the window needs; it
 * never touches user memory.  With @partial, a failure after some chunks
 * were done returns their count (a short read or write) instead of the
 * error, so that a restarted call does not repeat them.
 */
struct vfio_pci_rw_window {
	void __iomem *io;
	int bar;
	bool is_mem;
	unsigned int vga_rsrc;
	bool partial;
	int (*access)(struct vfio_pci_ng_device *vpdev,
		      const struct vfio_pci_rw_window *win, u8 *kbuf,
		      loff_t pos, size_t len, bool iswrite);
};

/*
 * Move @count bytes between @buf and @win at @pos through a kernel bounce
 * buffer, chunk by chunk: the user buffer is copied with no lock held,
 * since it may itself be an mmap of one of our BARs.
 */
static ssize_t vfio_pci_bounce_rw(struct vfio_pci_ng_device *vpdev,
				  const struct vfio_pci_rw_window *win,
				  char __user *buf, size_t count, loff_t pos,
				  bool iswrite)
{
	u8 stackbuf[8], *kbuf = stackbuf;
	size_t chunk, done = 0;
	int ret = 0;

	chunk = min_t(size_t, count, VFIO_PCI_RW_CHUNK);
	if (chunk > sizeof(stackbuf)) {
		kbuf = kmalloc(chunk, GFP_KERNEL);
		if (!kbuf)
			return -ENOMEM;
	}

	while (done < count) {
		size_t n = min_t(size_t, count - done, chunk);

		if (iswrite && copy_from_user(kbuf, buf + done, n)) {
			ret = -EFAULT;
			break;
		}
		ret = win->access(vpdev, win, kbuf, pos + done, n, iswrite);
		if (ret)
			break;
		if (!iswrite && copy_to_user(buf + done, kbuf, n)) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}

	if (kbuf != stackbuf)
		kfree(kbuf);
	/*
	 * A failure part way fails the whole call, as in-tree, unless the
	 * window reports what was done: repeating VGA writes is not harmless.
	 */
	if (ret && !(done && win->partial))
		return ret;
	return done;
}

/*
 * Memory BARs (and the ROM) are accessed only with the memory lock held for
 * reading, while decode is on and the device in D0; I/O BARs need neither.
 */
static int vfio_pci_window_lock(struct vfio_pci_ng_device *vpdev,
				const struct vfio_pci_rw_window *win)
{
	if (!win->is_mem)
		return vfio_pci_revoked(vpdev) ? -ENODEV : 0;
	down_read(&vpdev->memory_lock);
	if (vfio_pci_revoked(vpdev) || !vfio_pci_memory_enabled(vpdev)) {
		up_read(&vpdev->memory_lock);
		return vfio_pci_revoked(vpdev) ? -ENODEV : -EIO;
	}
	return 0;
}

static void vfio_pci_window_unlock(struct vfio_pci_ng_device *vpdev,
				   const struct vfio_pci_rw_window *win)
{
	if (win->is_mem)
		up_read(&vpdev->memory_lock);
}

/* A chunk of a BAR or the ROM: memory ones only while decode is on, in D0. */
static int vfio_pci_bar_access(struct vfio_pci_ng_device *vpdev,
			       const struct vfio_pci_rw_window *win, u8 *kbuf,
			       loff_t pos, size_t len, bool iswrite)
{
	int ret = vfio_pci_window_lock(vpdev, win);

	if (ret)
		return ret;
	if (win->bar == PCI_ROM_RESOURCE)
		ret = vfio_pci_rom_read(vpdev, kbuf, pos, len);
	else
		vfio_pci_do_io(vpdev, win->bar, win->io, kbuf, pos, len,
			       iswrite, win->is_mem);
	vfio_pci_window_unlock(vpdev, win);
	return ret;
}

/*
 * One naturally aligned 1/2/4/8-byte access outside the MSI-X table, the
 * common case of a driver poking a register: fixed-size user copies and no
 * bounce loop.  The user copy still happens with no lock held.
 */
static bool vfio_pci_small_access(struct vfio_pci_ng_device *vpdev,
				  const struct vfio_pci_rw_window *win,
				  size_t count, loff_t pos)
{
	if (win->bar == PCI_ROM_RESOURCE || !is_power_of_2(count) ||
	    count > (win->is_mem ? 8 : 4) || !IS_ALIGNED(pos, count))
		return false;
	return !vfio_pci_msix_overlap(vpdev, win->bar, pos, count);
}

static ssize_t vfio_pci_bar_rw_small(struct vfio_pci_ng_device *vpdev,
				     const struct vfio_pci_rw_window *win,
				     char __user *buf, size_t count,
				     loff_t pos, bool iswrite)
{
	void __iomem *addr = win->io + pos;
	u8 kbuf[8];
	int ret;

	if (iswrite && vfio_pci_copy_from_user_small(kbuf, sizeof(kbuf), buf, count))
		return -EFAULT;
	ret = vfio_pci_window_lock(vpdev, win);
	if (ret)
		return ret;
	if (iswrite)
		vfio_pci_iowrite(kbuf, addr, count);
	else
		vfio_pci_ioread(kbuf, addr, count);
	vfio_pci_window_unlock(vpdev, win);
	if (!iswrite && vfio_pci_copy_to_user_small(buf, kbuf, sizeof(kbuf), count))
		return -EFAULT;
	return count;
}

static ssize_t vfio_pci_bar_rw(struct vfio_pci_ng_device *vpdev,
			       char __user *buf, size_t count, loff_t *ppos,
			       bool iswrite)
{
	int bar = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;
	struct resource *res = pci_resource_n(vpdev->pdev, bar);
	struct vfio_pci_rw_window win = {
		.bar = bar,
		.is_mem = res->flags & IORESOURCE_MEM,
		.access = vfio_pci_bar_access,
	};
	bool is_rom = bar == PCI_ROM_RESOURCE;
	resource_size_t end;
	ssize_t ret;

	/*
	 * A BAR the PCI core could not assign has no address: nothing to
	 * access.  For the ROM, pci_map_rom() would try to assign it again on
	 * every read, and log each failure.  A shadow ROM (copied to RAM by
	 * the firmware) has no BAR at all.
	 */
	if (res->start)
		end = pci_resource_len(vpdev->pdev, bar);
	else if (is_rom && (res->flags & IORESOURCE_ROM_SHADOW))
		end = 0x20000;
	else
		return -EINVAL;
	if (!end || pos >= end || (is_rom && iswrite))
		return -EINVAL;
	count = min_t(size_t, count, end - pos);

	if (!is_rom) {
		win.io = vfio_pci_bar_iomap(vpdev, bar);
		if (IS_ERR(win.io))
			return PTR_ERR(win.io);
	}

	if (vfio_pci_small_access(vpdev, &win, count, pos))
		ret = vfio_pci_bar_rw_small(vpdev, &win, buf, count, pos,
					    iswrite);
	else
		ret = vfio_pci_bounce_rw(vpdev, &win, buf, count, pos, iswrite);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

/*
 * A chunk of a legacy VGA window, with the arbiter routing it to this
 * device for the duration.  Not gated by memory decode, as in-tree: the
 * arbiter enables the decode it needs itself.  The memory lock, held for
 * reading, keeps resets, power transitions and config writes of the
 * command register out while the arbiter changes decode; outside D0 the
 * function would not answer (beyond in-tree, which does not check).
 */
static int vfio_pci_vga_access(struct vfio_pci_ng_device *vpdev,
			       const struct vfio_pci_rw_window *win, u8 *kbuf,
			       loff_t pos, size_t len, bool iswrite)
{
	int ret = -ENODEV;

	down_read(&vpdev->memory_lock);
	if (vfio_pci_revoked(vpdev))
		goto out;
	ret = -EIO;
	if (vpdev->pdev->current_state != PCI_D0)
		goto out;
	ret = vga_get_interruptible(vpdev->pdev, win->vga_rsrc);
	if (ret)
		goto out;
	vfio_pci_do_io(vpdev, win->bar, win->io, kbuf, pos, len, iswrite,
		       false);
	vga_put(vpdev->pdev, win->vga_rsrc);
out:
	up_read(&vpdev->memory_lock);
	return ret;
}

/*
 * The VGA region: offsets are legacy addresses.  The access is clipped to
 * the window it starts in; offsets outside the three windows are -EINVAL.
 * At most 32-bit accesses, as on I/O BARs: the in-tree driver's 64-bit
 * ones are two 32-bit cycles on x86 anyway.
 */
static ssize_t vfio_pci_vga_rw(struct vfio_pci_ng_device *vpdev,
			       char __user *buf, size_t count, loff_t *ppos,
			       bool iswrite)
{
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;
	struct vfio_pci_rw_window win = {
		.bar = VFIO_PCI_VGA_REGION_INDEX,	/* never the MSI-X BAR */
		.partial = true,
		.access = vfio_pci_vga_access,
	};
	loff_t start, end;
	ssize_t ret;

	if (!vpdev->has_vga)
		return -EINVAL;

	if (pos >= VFIO_PCI_VGA_MEM_START && pos < VFIO_PCI_VGA_MEM_END) {
		start = VFIO_PCI_VGA_MEM_START;
		end = VFIO_PCI_VGA_MEM_END;
		win.vga_rsrc = VGA_RSRC_LEGACY_MEM;
	} else if (pos >= VFIO_PCI_VGA_MONO_IO_START &&
		   pos < VFIO_PCI_VGA_MONO_IO_END) {
		start = VFIO_PCI_VGA_MONO_IO_START;
		end = VFIO_PCI_VGA_MONO_IO_END;
		win.vga_rsrc = VGA_RSRC_LEGACY_IO;
	} else if (pos >= VFIO_PCI_VGA_IO_START &&
		   pos < VFIO_PCI_VGA_IO_END) {
		start = VFIO_PCI_VGA_IO_START;
		end = VFIO_PCI_VGA_IO_END;
		win.vga_rsrc = VGA_RSRC_LEGACY_IO;
	} else {
		return -EINVAL;
	}
	count = min_t(size_t, count, end - pos);

	if (win.vga_rsrc == VGA_RSRC_LEGACY_MEM)
		win.io = ioremap(start, end - start);
	else
		win.io = ioport_map(start, end - start);
	if (!win.io)
		return -ENOMEM;

	ret = vfio_pci_bounce_rw(vpdev, &win, buf, count, pos - start,
				 iswrite);
	if (win.vga_rsrc == VGA_RSRC_LEGACY_MEM)
		iounmap(win.io);
	else
		ioport_unmap(win.io);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t vfio_pci_rw(struct vfio_pci_ng_device *vpdev, char __user *buf,
			   size_t count, loff_t *ppos, bool iswrite)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	struct device *dev = &vpdev->pdev->dev;
	ssize_t ret;

	/* The vfio core wakes the device for ioctls only; do it here too. */
	if (pm_runtime_resume_and_get(dev))
		return -EIO;

	switch (index) {
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_ROM_REGION_INDEX:
		ret = vfio_pci_bar_rw(vpdev, buf, count, ppos, iswrite);
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		ret = vfio_pci_config_rw(vpdev, buf, count, ppos, iswrite);
		break;
	case VFIO_PCI_VGA_REGION_INDEX:
		ret = vfio_pci_vga_rw(vpdev, buf, count, ppos, iswrite);
		break;
	default:
		ret = -EINVAL;
	}

	pm_runtime_put(dev);
	return ret;
}

/**
 * vfio_pci_read() - the device fd's read op
 * @core_vdev: the vfio device
 * @buf: user buffer
 * @count: bytes to read
 * @ppos: region offset (index << 40 | offset)
 *
 * Return: bytes read or a negative errno.
 */
ssize_t vfio_pci_read(struct vfio_device *core_vdev, char __user *buf,
		      size_t count, loff_t *ppos)
{
	if (vfio_pci_revoked(to_vpdev(core_vdev)))
		return -ENODEV;
	if (!count)
		return 0;
	return vfio_pci_rw(to_vpdev(core_vdev), buf, count, ppos, false);
}

/**
 * vfio_pci_write() - the device fd's write op
 * @core_vdev: the vfio device
 * @buf: user buffer
 * @count: bytes to write
 * @ppos: region offset (index << 40 | offset)
 *
 * Return: bytes written or a negative errno.
 */
ssize_t vfio_pci_write(struct vfio_device *core_vdev, const char __user *buf,
		       size_t count, loff_t *ppos)
{
	if (vfio_pci_revoked(to_vpdev(core_vdev)))
		return -ENODEV;
	if (!count)
		return 0;
	return vfio_pci_rw(to_vpdev(core_vdev), (char __user *)buf, count, ppos,
			   true);
}

/*
 * ioeventfd: a write of fixed data to a BAR, done by the kernel each time
 * an eventfd is signalled, so that a VMM's doorbell writes skip userspace.
 */
#define VFIO_PCI_IOEVENTFD_MAX	1000

struct vfio_pci_ioeventfd {
	struct list_head node;
	struct vfio_pci_ng_device *vpdev;
	struct virqfd *virqfd;
	void __iomem *addr;
	u64 data;
	loff_t pos;
	int bar;
	int count;
	bool is_mem;
};

static void vfio_pci_ioeventfd_do_write(struct vfio_pci_ioeventfd *ioeventfd)
{
	u8 bytes[8];
	__le64 v = cpu_to_le64(ioeventfd->data);

	memcpy(bytes, &v, sizeof(bytes));
	vfio_pci_iowrite(bytes, ioeventfd->addr, ioeventfd->count);
}

/*
 * Memory lock held for reading.  An ioeventfd holds no runtime PM reference
 * (it fires from any context): in a low power state entered by the feature
 * the PCI core moves the function to D3 and back outside the memory lock,
 * so the write is dropped, like one with memory decode off.
 */
static bool vfio_pci_ioeventfd_may_write(struct vfio_pci_ng_device *vpdev)
{
	return !vfio_pci_revoked(vpdev) &&
	       !READ_ONCE(vpdev->pm_runtime_engaged) &&
	       vfio_pci_memory_enabled(vpdev);
}

/*
 * Runs from the eventfd's wakeup, in atomic context: it may only try the
 * memory lock.  Returning 1 makes virqfd run the thread handler instead.
 */
static int vfio_pci_ioeventfd_handler(void *opaque, void *unused)
{
	struct vfio_pci_ioeventfd *ioeventfd = opaque;
	struct vfio_pci_ng_device *vpdev = ioeventfd->vpdev;

	if (!ioeventfd->is_mem) {
		vfio_pci_ioeventfd_do_write(ioeventfd);
		return 0;
	}
	if (!down_read_trylock(&vpdev->memory_lock))
		return 1;
	if (vfio_pci_ioeventfd_may_write(vpdev))
		vfio_pci_ioeventfd_do_write(ioeventfd);
	up_read(&vpdev->memory_lock);
	return 0;
}

static void vfio_pci_ioeventfd_thread(void *opaque, void *unused)
{
	struct vfio_pci_ioeventfd *ioeventfd = opaque;
	struct vfio_pci_ng_device *vpdev = ioeventfd->vpdev;

	down_read(&vpdev->memory_lock);
	if (vfio_pci_ioeventfd_may_write(vpdev))
		vfio_pci_ioeventfd_do_write(ioeventfd);
	up_read(&vpdev->memory_lock);
}

static void vfio_pci_ioeventfd_free(struct vfio_pci_ioeventfd *ioeventfd)
{
	vfio_virqfd_disable(&ioeventfd->virqfd);
	list_del(&ioeventfd->node);
	ioeventfd->vpdev->num_ioeventfds--;
	kfree(ioeventfd);
}

static int vfio_pci_ioeventfd_add(struct vfio_pci_ng_device *vpdev, int bar,
				  loff_t pos, int count, u64 data, int fd)
{
	struct vfio_pci_ioeventfd *ioeventfd;
	void __iomem *io;
	int ret;

	list_for_each_entry(ioeventfd, &vpdev->ioeventfds, node) {
		if (ioeventfd->bar == bar && ioeventfd->pos == pos &&
		    ioeventfd->count == count && ioeventfd->data == data) {
			if (fd != -1)
				return -EEXIST;
			vfio_pci_ioeventfd_free(ioeventfd);
			return 0;
		}
	}
	if (fd == -1)
		return -ENODEV;
	if (vpdev->num_ioeventfds >= VFIO_PCI_IOEVENTFD_MAX)
		return -ENOSPC;

	io = vfio_pci_bar_iomap(vpdev, bar);
	if (IS_ERR(io))
		return PTR_ERR(io);

	ioeventfd = kzalloc(sizeof(*ioeventfd), GFP_KERNEL_ACCOUNT);
	if (!ioeventfd)
		return -ENOMEM;
	ioeventfd->vpdev = vpdev;
	ioeventfd->addr = io + pos;
	ioeventfd->data = data;
	ioeventfd->pos = pos;
	ioeventfd->bar = bar;
	ioeventfd->count = count;
	ioeventfd->is_mem = pci_resource_flags(vpdev->pdev, bar) &
			    IORESOURCE_MEM;

	ret = vfio_virqfd_enable(ioeventfd, vfio_pci_ioeventfd_handler,
				 vfio_pci_ioeventfd_thread, NULL,
				 &ioeventfd->virqfd, fd);
	if (ret) {
		kfree(ioeventfd);
		return ret;
	}
	list_add(&ioeventfd->node, &vpdev->ioeventfds);
	vpdev->num_ioeventfds++;
	return 0;
}

/**
 * vfio_pci_ioctl_ioeventfd() - VFIO_DEVICE_IOEVENTFD
 * @vpdev: the device
 * @uarg: the user's struct vfio_device_ioeventfd
 *
 * Return: 0 or a negative errno.
 */
long vfio_pci_ioctl_ioeventfd(struct vfio_pci_ng_device *vpdev,
			      struct vfio_device_ioeventfd __user *uarg)
{
	unsigned long minsz = offsetofend(struct vfio_device_ioeventfd, fd);
	struct vfio_device_ioeventfd ioeventfd;
	u64 index, pos, len;
	int count, ret;

	if (copy_from_user(&ioeventfd, uarg, minsz))
		return -EFAULT;
	if (ioeventfd.argsz < minsz)
		return -EINVAL;
	if (ioeventfd.flags & ~VFIO_DEVICE_IOEVENTFD_SIZE_MASK)
		return -EINVAL;
	count = ioeventfd.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
	if (hweight8(count) != 1)
		return -EINVAL;
	if (ioeventfd.fd < -1)
		return -EINVAL;

	index = VFIO_PCI_OFFSET_TO_INDEX(ioeventfd.offset);
	if (index >= VFIO_PCI_NUM_BARS)
		return -EINVAL;
	index = array_index_nospec(index, VFIO_PCI_NUM_BARS);
	pos = ioeventfd.offset & VFIO_PCI_OFFSET_MASK;
	len = pci_resource_len(vpdev->pdev, index);
	if (!len || pos >= len || count > len - pos)
		return -EINVAL;
	/* The MSI-X table is the kernel's. */
	if (vfio_pci_msix_overlap(vpdev, index, pos, count))
		return -EINVAL;

	/* After a revoke, which empties the list under the lock: nothing. */
	mutex_lock(&vpdev->ioeventfds_lock);
	if (vfio_pci_revoked(vpdev))
		ret = -ENODEV;
	else
		ret = vfio_pci_ioeventfd_add(vpdev, index, pos, count,
					     ioeventfd.data, ioeventfd.fd);
	mutex_unlock(&vpdev->ioeventfds_lock);
	return ret;
}

/**
 * vfio_pci_ioeventfd_remove_all() - drop every ioeventfd at close
 * @vpdev: the device
 */
void vfio_pci_ioeventfd_remove_all(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_ioeventfd *ioeventfd, *tmp;

	mutex_lock(&vpdev->ioeventfds_lock);
	list_for_each_entry_safe(ioeventfd, tmp, &vpdev->ioeventfds, node)
		vfio_pci_ioeventfd_free(ioeventfd);
	mutex_unlock(&vpdev->ioeventfds_lock);
}
