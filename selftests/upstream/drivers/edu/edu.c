// SPDX-License-Identifier: GPL-2.0-only
/*
 * Driver for QEMU's "edu" educational PCI device (hw/misc/edu.c, specified
 * in QEMU's docs/specs/edu.rst), so that the VFIO selftests can do DMA and
 * MSI through an IOMMU in a virtual machine without any real hardware.
 *
 * edu has a DMA engine that moves data between memory and a 4 KiB buffer
 * inside the device, one transfer at a time, each completing 100 ms
 * (QEMU virtual clock) after it is started.  A memcpy is therefore two
 * transfers: memory to the buffer, then the buffer to memory.  edu has MSI
 * with one vector and raises it on a write to its interrupt raise register.
 *
 * edu truncates DMA addresses to its dma_mask property, 28 bits unless QEMU
 * is given e.g. "-device edu,dma_mask=0xffffffffffffffff".  The IOVAs that
 * the tests use lie anywhere in the IOMMU aperture, so edu_init() checks
 * that a DMA write reaches the driver's region.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <asm/barrier.h>

#include <libvfio.h>

#define PCI_VENDOR_ID_QEMU		0x1234
#define PCI_DEVICE_ID_QEMU_EDU		0x11e8

/* BAR0 registers: 32-bit accesses only below 0x80, 32 or 64 from there. */
#define EDU_ID				0x00	/* 0xRRrr00ed: major, minor */
#define  EDU_ID_MAGIC			0xed
#define  EDU_ID_MAJOR(id)		((id) >> 24)
#define EDU_IRQ_RAISE			0x60
#define EDU_IRQ_ACK			0x64
#define EDU_DMA_SRC			0x80
#define EDU_DMA_DST			0x88
#define EDU_DMA_COUNT			0x90
#define EDU_DMA_CMD			0x98
#define  EDU_DMA_CMD_START		0x1	/* clears when the transfer is done */
#define  EDU_DMA_CMD_TO_RAM		0x2	/* 0: memory to buffer */
#define  EDU_DMA_CMD_IRQ		0x4	/* raise interrupt 0x100 when done */

/* The DMA buffer, at this device address. */
#define EDU_BUF				0x40000
#define EDU_BUF_SIZE			SZ_4K

/*
 * QEMU 7.2 stops the whole machine (hw_error() in edu_check_range(), off by
 * one, fixed since) on a transfer that ends at the end of the buffer: leave
 * out its last byte.
 */
#define EDU_MAX_MEMCPY_SIZE		(EDU_BUF_SIZE - 1)

/* The interrupt status bit send_msi() raises (edu's own use 0x1, 0x100). */
#define EDU_IRQ_SELFTEST		0x10000

/*
 * memcpy_start() takes @count copies; memcpy_wait() runs them one after the
 * other.  Each takes 200 ms of transfers: keep memcpy_storm short.
 */
#define EDU_MAX_MEMCPY_COUNT		4

/*
 * A transfer takes 100 ms of QEMU's virtual clock: poll every 10 ms, and
 * allow for a busy host.
 */
#define EDU_DMA_POLL_US			10000
#define EDU_DMA_TIMEOUT_MS		10000

struct edu_state {
	/* The copies memcpy_start() asked for; memcpy_wait() does them. */
	iova_t src;
	iova_t dst;
	u64 size;
	u64 count;

	/* Target of the DMA that edu_check_dma_mask() sends. */
	u64 dma_check;
};

static inline struct edu_state *to_edu_state(struct vfio_pci_device *device)
{
	return device->driver.region.vaddr;
}

static inline void *edu_bar0(struct vfio_pci_device *device)
{
	return device->bars[0].vaddr;
}

static int edu_probe(struct vfio_pci_device *device)
{
	u32 id;

	if (!vfio_pci_device_match(device, PCI_VENDOR_ID_QEMU,
				   PCI_DEVICE_ID_QEMU_EDU))
		return -EINVAL;

	VFIO_ASSERT_NOT_NULL(edu_bar0(device));

	id = readl(edu_bar0(device) + EDU_ID);
	if ((id & 0xff) != EDU_ID_MAGIC || EDU_ID_MAJOR(id) != 1) {
		dev_err(device, "edu: unsupported identification 0x%08x\n", id);
		return -EINVAL;
	}

	return 0;
}

static s64 edu_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Wait until no transfer runs; edu ignores DMA register writes until then. */
static int edu_dma_wait(struct vfio_pci_device *device)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);

	while (readq(edu_bar0(device) + EDU_DMA_CMD) & EDU_DMA_CMD_START) {
		if (edu_elapsed_ms(&start) >= EDU_DMA_TIMEOUT_MS) {
			dev_err(device, "edu: DMA transfer still running after %d ms\n",
				EDU_DMA_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		usleep(EDU_DMA_POLL_US);
	}

	/* Read what the device wrote only after seeing the transfer done. */
	rmb();
	return 0;
}

/* Start one transfer; none may be running. */
static void edu_dma_start(struct vfio_pci_device *device, u64 src, u64 dst,
			  u64 size, u64 cmd)
{
	void *bar0 = edu_bar0(device);

	VFIO_ASSERT_LE(size, EDU_MAX_MEMCPY_SIZE);

	writeq(src, bar0 + EDU_DMA_SRC);
	writeq(dst, bar0 + EDU_DMA_DST);
	writeq(size, bar0 + EDU_DMA_COUNT);
	writeq(cmd | EDU_DMA_CMD_START, bar0 + EDU_DMA_CMD);
}

/*
 * Check that a DMA write to the driver's region arrives there, i.e. that the
 * device's dma_mask covers the region's IOVA.  The buffer's contents are
 * unknown: if they equal the first poison value, the second one tells.  With
 * a too narrow mask, edu writes to the truncated IOVA instead, which is
 * either memory of this IOMMU domain or unmapped (an IOMMU fault).
 */
static void edu_check_dma_mask(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);
	iova_t iova = to_iova(device, &edu->dma_check);
	u64 poison = 0x6564755f73656c66ULL;
	int i;

	/* A 28-bit mask, edu's default, keeps such an IOVA intact. */
	if (iova + sizeof(edu->dma_check) <= SZ_256M)
		return;

	for (i = 0; i < 2; i++, poison = ~poison) {
		WRITE_ONCE(edu->dma_check, poison);
		edu_dma_start(device, EDU_BUF, iova, sizeof(edu->dma_check),
			      EDU_DMA_CMD_TO_RAM);
		VFIO_ASSERT_EQ(edu_dma_wait(device), 0);

		if (READ_ONCE(edu->dma_check) != poison)
			return;
	}

	VFIO_FAIL("edu: DMA to IOVA 0x%lx lost: is dma_mask (default 28 bits) too narrow?\n",
		  iova);
}

static void edu_init(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);

	VFIO_ASSERT_GE(device->driver.region.size, sizeof(*edu));

	vfio_pci_cmd_set(device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			 PCI_COMMAND_INTX_DISABLE);

	/* A transfer a previous user started may still run. */
	VFIO_ASSERT_EQ(edu_dma_wait(device), 0);
	writel(~0U, edu_bar0(device) + EDU_IRQ_ACK);

	edu_check_dma_mask(device);

	vfio_pci_msi_enable(device, 0, 1);

	*edu = (struct edu_state){};

	device->driver.msi = 0;
	device->driver.max_memcpy_size = EDU_MAX_MEMCPY_SIZE;
	device->driver.max_memcpy_count = EDU_MAX_MEMCPY_COUNT;
}

static void edu_remove(struct vfio_pci_device *device)
{
	VFIO_ASSERT_EQ(edu_dma_wait(device), 0);
	writel(~0U, edu_bar0(device) + EDU_IRQ_ACK);

	vfio_pci_msi_disable(device);
	vfio_pci_cmd_clear(device, PCI_COMMAND_MASTER);
}

static void edu_memcpy_start(struct vfio_pci_device *device,
			     iova_t src, iova_t dst, u64 size, u64 count)
{
	struct edu_state *edu = to_edu_state(device);

	edu->src = src;
	edu->dst = dst;
	edu->size = size;
	edu->count = count;

	/* The first copy's first transfer; memcpy_wait() does the rest. */
	if (count)
		edu_dma_start(device, src, EDU_BUF, size, 0);
}

static int edu_memcpy_wait(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);
	int r = 0;
	u64 i;

	for (i = 0; i < edu->count; i++) {
		if (i)
			edu_dma_start(device, edu->src, EDU_BUF, edu->size, 0);
		r = edu_dma_wait(device);
		if (r)
			break;

		edu_dma_start(device, EDU_BUF, edu->dst, edu->size,
			      EDU_DMA_CMD_TO_RAM);
		r = edu_dma_wait(device);
		if (r)
			break;
	}

	/*
	 * edu reports no DMA errors: a transfer from or to an IOVA that the
	 * IOMMU does not map completes like any other (the IOMMU blocks it).
	 */
	edu->count = 0;
	return r;
}

static void edu_send_msi(struct vfio_pci_device *device)
{
	void *bar0 = edu_bar0(device);

	/* With MSI enabled, every raise signals the vector. */
	writel(EDU_IRQ_SELFTEST, bar0 + EDU_IRQ_RAISE);
	writel(EDU_IRQ_SELFTEST, bar0 + EDU_IRQ_ACK);
}

const struct vfio_pci_driver_ops edu_ops = {
	.name = "edu",
	.probe = edu_probe,
	.init = edu_init,
	.remove = edu_remove,
	.memcpy_start = edu_memcpy_start,
	.memcpy_wait = edu_memcpy_wait,
	.send_msi = edu_send_msi,
};
