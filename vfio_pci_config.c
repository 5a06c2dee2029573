// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng: config space virtualization.
 *
 * Userspace sees the device's config space through region 7 of the device
 * fd.  Some of it is the real hardware, some of it is a per-device virtual
 * copy ("vconfig") that we keep in sync with what userspace wrote, and some
 * of it is emulated by hooks (BAR sizing, power state, FLR, VPD, MSI).
 *
 * Structure:
 *
 * - Permission tables (struct vfio_pci_perm), module-global and read-only
 *   after module init: for the header and for each kind of capability, per
 *   byte a "virt" mask (bits served from and stored in vconfig) and a
 *   "write" mask (bits userspace may change), plus optional read/write
 *   hooks.  Without hooks an access is: read = hardware bits where not
 *   virt, vconfig bits where virt; write = writable virt bits into vconfig,
 *   writable non-virt bits into hardware (read-modify-write), nothing
 *   writable = dropped.
 *
 * - Per device, built at every open: the virtual copy, an array of the
 *   visible capabilities (id, start, length, table) and a byte map giving
 *   for each config byte the capability that owns it.  Bytes that belong to
 *   no visible capability (gaps, bodies of hidden capabilities) are passed
 *   to the hardware raw, as the in-tree driver does: some devices keep
 *   registers there.  The per-device policy unassigned_config
 *   (vfio_pci_policy.c) may log those accesses or block them.
 *
 * - An access is split into naturally aligned 1, 2 or 4 byte pieces that
 *   never cross a capability boundary; each piece is handled by the table
 *   (and hooks) of its capability.
 *
 * Locking: vconfig->lock serializes the config accesses of one device that
 * reach the hardware or run a hook with state (vfio_pci_piece_unlocked():
 * plain reads, and writes of virtual bytes only, go without it, as
 * in-tree).  It is outermost: while holding it we
 * take memory_lock (command register, FLR, power state) and igate (INTx
 * masking, MSI flags); nothing may take it while holding either.  It is
 * never held across copy_{to,from}_user().  memory_lock is released before
 * the INTx helpers are called, and the bits vfio_pci_memory_enabled() reads
 * change only under memory_lock.
 *
 * Hardware accesses on behalf of the user go through pci_user_*(), which
 * wait while the PCI core blocks config access (resets).
 */

#include <linux/bitfield.h>
#include <linux/bitmap.h>
#include <linux/bits.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio_pci_private.h"

/* Map value of a byte no visible capability owns: raw hardware access. */
#define VFIO_PCI_CFG_UNOWNED	U16_MAX

/* The largest permission table: the standard header. */
#define VFIO_PCI_PERM_BYTES	PCI_STD_HEADER_SIZEOF

/* Upper bound of the standard capability walk: dword slots after the header. */
#define VFIO_PCI_STD_CAP_SLOTS	((PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4)
/* The same for extended capabilities. */
#define VFIO_PCI_EXT_CAP_SLOTS	((PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 4)

/* Next-pointer field of an extended capability header. */
#define VFIO_PCI_EXT_NEXT_MASK	(0xffcU << 20)

/* Size the in-tree driver and the PCI core give a shadow ROM. */
#define VFIO_PCI_SHADOW_ROM_SIZE	0x20000

/* Pseudo capability id of the standard header in the capability array. */
#define VFIO_PCI_CAP_HEADER	0xffff

struct vfio_pci_cfg_cap;

/**
 * struct vfio_pci_perm - how the bytes of one kind of register block behave
 * @read: read hook, NULL for vfio_pci_cfg_read_default()
 * @write: write hook, NULL for vfio_pci_cfg_write_default()
 * @virt: per byte, the bits served from and stored in the virtual copy
 * @wr: per byte, the bits userspace may change
 *
 * Bytes beyond the arrays are neither virtual nor writable.  The hooks
 * return 0 or a negative errno; @val holds the piece's bytes in config
 * (little-endian) order, unused high bytes zero.
 */
struct vfio_pci_perm {
	int (*read)(struct vfio_pci_ng_device *vpdev,
		    const struct vfio_pci_cfg_cap *cap, unsigned int pos,
		    unsigned int len, __le32 *val);
	int (*write)(struct vfio_pci_ng_device *vpdev,
		     const struct vfio_pci_cfg_cap *cap, unsigned int pos,
		     unsigned int len, __le32 val);
	u8 virt[VFIO_PCI_PERM_BYTES];
	u8 wr[VFIO_PCI_PERM_BYTES];
};

/**
 * struct vfio_pci_cfg_cap - one visible register block of a device
 * @perm: its permission table
 * @start: config offset of its first byte
 * @len: its length in bytes
 * @id: capability id (VFIO_PCI_CAP_HEADER for the standard header)
 * @ext: whether it is an extended capability
 */
struct vfio_pci_cfg_cap {
	const struct vfio_pci_perm *perm;
	u16 start;
	u16 len;
	u16 id;
	bool ext;
};

/**
 * struct vfio_pci_vconfig - per-device config space state, built at open
 * @lock: serializes user config accesses (see the comment at the top)
 * @cfg: the virtual copy, pdev->cfg_size bytes, little-endian
 * @map: per config byte, the index in @caps of its owner or
 *	VFIO_PCI_CFG_UNOWNED
 * @caps: the visible register blocks; entry 0 is the standard header
 * @ncaps: entries used in @caps
 * @caps_room: entries allocated in @caps
 * @rbar: BAR0-5 and ROM BAR as the hardware had them at open, to restore
 *	them after a reset we did not see
 * @bardirty: the virtual BARs were written and need the sizing fixup
 */
struct vfio_pci_vconfig {
	struct mutex lock;	/* serializes user config accesses */
	u8 *cfg;
	u16 *map;
	struct vfio_pci_cfg_cap *caps;
	unsigned int ncaps;
	unsigned int caps_room;
	u32 rbar[VFIO_PCI_NUM_BARS + 1];
	bool bardirty;
};

/* Whether the tables below were built (vfio_pci_perm_bits_init()). */
static bool vfio_pci_perms_ready __ro_after_init;

/*
 * Helpers on the virtual copy; offsets are naturally aligned (capabilities
 * start on dwords).
 */
static u16 vc_get16(const struct vfio_pci_vconfig *vc, unsigned int off)
{
	return le16_to_cpup((const __le16 *)&vc->cfg[off]);
}

static void vc_put16(struct vfio_pci_vconfig *vc, unsigned int off, u16 v)
{
	*(__le16 *)&vc->cfg[off] = cpu_to_le16(v);
}

static u32 vc_get32(const struct vfio_pci_vconfig *vc, unsigned int off)
{
	return le32_to_cpup((const __le32 *)&vc->cfg[off]);
}

static void vc_put32(struct vfio_pci_vconfig *vc, unsigned int off, u32 v)
{
	*(__le32 *)&vc->cfg[off] = cpu_to_le32(v);
}

/* All bits of a piece of len bytes. */
static __le32 vfio_pci_len_mask(unsigned int len)
{
	return cpu_to_le32(len >= 4 ? U32_MAX : (u32)BIT(len * 8) - 1);
}

/*
 * The mask bytes of a table for a piece at offset off of its block.  A
 * piece is a naturally aligned 1, 2 or 4 bytes, so it lies in the table or
 * past its end, never across it (the table size is a multiple of 4); the
 * constant-size copies are single loads.  Always inlined: it runs two to
 * four times per config access, and out of line (function entry, stack
 * protector, return thunk) it cost 1-3 % of a config access under icount.
 */
static __always_inline __le32 vfio_pci_perm_mask(const u8 *bits,
						 unsigned int off,
						 unsigned int len)
{
	__le32 mask = 0;
	unsigned int n;

	if (off >= VFIO_PCI_PERM_BYTES)
		return 0;
	n = min_t(unsigned int, len, VFIO_PCI_PERM_BYTES - off);
	switch (n) {
	case 4:
		memcpy(&mask, bits + off, 4);
		break;
	case 2:
		memcpy(&mask, bits + off, 2);
		break;
	case 1:
		memcpy(&mask, bits + off, 1);
		break;
	default:
		memcpy(&mask, bits + off, n);
	}
	return mask;
}

/* Hardware access through the user accessors (they honour reset locking). */
static int vfio_pci_hw_read(struct pci_dev *pdev, unsigned int pos,
			    unsigned int len, __le32 *val)
{
	u32 dword = 0;
	u16 word = 0;
	u8 byte = 0;
	int ret;

	switch (len) {
	case 1:
		ret = pci_user_read_config_byte(pdev, pos, &byte);
		dword = byte;
		break;
	case 2:
		ret = pci_user_read_config_word(pdev, pos, &word);
		dword = word;
		break;
	case 4:
		ret = pci_user_read_config_dword(pdev, pos, &dword);
		break;
	default:
		return -EINVAL;
	}
	*val = cpu_to_le32(dword);
	return ret;
}

static int vfio_pci_hw_write(struct pci_dev *pdev, unsigned int pos,
			     unsigned int len, __le32 val)
{
	u32 dword = le32_to_cpu(val);

	switch (len) {
	case 1:
		return pci_user_write_config_byte(pdev, pos, (u8)dword);
	case 2:
		return pci_user_write_config_word(pdev, pos, (u16)dword);
	case 4:
		return pci_user_write_config_dword(pdev, pos, dword);
	default:
		return -EINVAL;
	}
}

/*
 * The hardware bits of a piece that covers the command register (at 4 or
 * 5, naturally aligned), from vfio_pci_command_write() with the memory lock
 * held for writing: one read-modify-write under irqlock, so that it cannot
 * interleave with INTx masking.  The status register beside it has no
 * hardware-writable bit.
 */
static int vfio_pci_command_hw_write(struct vfio_pci_ng_device *vpdev,
				     unsigned int pos, __le32 mask, __le32 val)
{
	unsigned int shift = (pos - PCI_COMMAND) * 8;
	u16 bits = (u16)(le32_to_cpu(mask) << shift);
	u16 set = (u16)(le32_to_cpu(val) << shift) & bits;

	return vfio_pci_command_update(vpdev, bits, set, NULL);
}

/*
 * The default behaviour of a table: virtual bits from the copy, the rest
 * from the hardware (which is not touched when every bit is virtual).
 */
static int vfio_pci_cfg_read_default(struct vfio_pci_ng_device *vpdev,
				     const struct vfio_pci_cfg_cap *cap,
				     unsigned int pos, unsigned int len,
				     __le32 *val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	__le32 virt = vfio_pci_perm_mask(cap->perm->virt, pos - cap->start, len);
	__le32 v = 0, hw;
	int ret;

	memcpy(&v, &vc->cfg[pos], len);
	if (virt != vfio_pci_len_mask(len)) {
		ret = vfio_pci_hw_read(vpdev->pdev, pos, len, &hw);
		if (ret)
			return ret;
		v = (hw & ~virt) | (v & virt);
	}
	*val = v;
	return 0;
}

static int vfio_pci_cfg_write_default(struct vfio_pci_ng_device *vpdev,
				      const struct vfio_pci_cfg_cap *cap,
				      unsigned int pos, unsigned int len,
				      __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int off = pos - cap->start;
	__le32 wr = vfio_pci_perm_mask(cap->perm->wr, off, len);
	__le32 virt, v = 0, hw;
	int ret;

	if (!wr)
		return 0;	/* nothing writable: dropped */

	virt = vfio_pci_perm_mask(cap->perm->virt, off, len);
	if (wr & virt) {
		memcpy(&v, &vc->cfg[pos], len);
		v = (v & ~(wr & virt)) | (val & wr & virt);
		memcpy(&vc->cfg[pos], &v, len);
	}
	if (wr & ~virt) {
		if (pos < PCI_COMMAND + 2 && pos + len > PCI_COMMAND)
			return vfio_pci_command_hw_write(vpdev, pos, wr & ~virt,
							 val);
		ret = vfio_pci_hw_read(vpdev->pdev, pos, len, &hw);
		if (ret)
			return ret;
		hw = (hw & ~(wr & ~virt)) | (val & wr & ~virt);
		ret = vfio_pci_hw_write(vpdev->pdev, pos, len, hw);
		if (ret)
			return ret;
	}
	return 0;
}

/* Writes that go to the hardware unfiltered (vendor-specific registers). */
static int vfio_pci_cfg_write_raw(struct vfio_pci_ng_device *vpdev,
				  const struct vfio_pci_cfg_cap *cap,
				  unsigned int pos, unsigned int len, __le32 val)
{
	return vfio_pci_hw_write(vpdev->pdev, pos, len, val);
}

/*
 * The standard header.
 */
static bool vfio_pci_is_bar(unsigned int pos)
{
	return (pos >= PCI_BASE_ADDRESS_0 && pos < PCI_BASE_ADDRESS_5 + 4) ||
	       (pos >= PCI_ROM_ADDRESS && pos < PCI_ROM_ADDRESS + 4);
}

static u32 vfio_pci_bar_type_bits(struct pci_dev *pdev, int bar)
{
	unsigned long flags = pci_resource_flags(pdev, bar);
	u32 bits;

	if (flags & IORESOURCE_IO)
		return PCI_BASE_ADDRESS_SPACE_IO;

	bits = PCI_BASE_ADDRESS_SPACE_MEMORY;
	if (flags & IORESOURCE_PREFETCH)
		bits |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	if (flags & IORESOURCE_MEM_64)
		bits |= PCI_BASE_ADDRESS_MEM_TYPE_64;
	return bits;
}

/*
 * BAR sizing emulation: after userspace wrote the virtual BARs, make them
 * read like hardware would, i.e. the address bits the BAR's size allows and
 * the type bits of the resource.  Writing all-ones thus reads back the size
 * mask.  A BAR the host did not map (start 0) is unimplemented for the user.
 */
static void vfio_pci_bar_fixup(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	unsigned int off;
	u64 size, mask;
	int bar;

	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++) {
		off = PCI_BASE_ADDRESS_0 + 4 * bar;
		if (!pci_resource_start(pdev, bar)) {
			vc_put32(vc, off, 0);
			continue;
		}
		size = pci_resource_len(pdev, bar);
		mask = ~(size - 1);
		vc_put32(vc, off, (vc_get32(vc, off) & (u32)mask) |
				  vfio_pci_bar_type_bits(pdev, bar));
		if ((pci_resource_flags(pdev, bar) & IORESOURCE_MEM_64) &&
		    bar + 1 < VFIO_PCI_NUM_BARS) {
			bar++;
			off += 4;
			vc_put32(vc, off, vc_get32(vc, off) & (u32)(mask >> 32));
		}
	}

	if (pci_resource_start(pdev, PCI_ROM_RESOURCE))
		size = pci_resource_len(pdev, PCI_ROM_RESOURCE);
	else if (pci_resource_flags(pdev, PCI_ROM_RESOURCE) &
		 IORESOURCE_ROM_SHADOW)
		size = VFIO_PCI_SHADOW_ROM_SIZE;
	else
		size = 0;
	if (size) {
		mask = ~(size - 1) | PCI_ROM_ADDRESS_ENABLE;
		vc_put32(vc, PCI_ROM_ADDRESS,
			 vc_get32(vc, PCI_ROM_ADDRESS) & (u32)mask);
	} else {
		vc_put32(vc, PCI_ROM_ADDRESS, 0);
	}

	vc->bardirty = false;
}

/* Whether a hardware BAR lost the value it had at open (a backdoor reset). */
static bool vfio_pci_bars_lost(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	u32 val;
	int bar;

	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++) {
		if (!vc->rbar[bar])
			continue;
		if (pci_user_read_config_dword(vpdev->pdev,
					       PCI_BASE_ADDRESS_0 + 4 * bar,
					       &val) ||
		    val != vc->rbar[bar])
			return true;
	}
	return false;
}

/* Put back the BARs of open time after a reset we did not see. */
static void vfio_pci_bars_restore(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	int bar;

	if (pdev->is_virtfn)
		return;	/* VF BARs live in the PF's SR-IOV capability */

	pci_info_ratelimited(pdev, "reset recovery - restoring BARs\n");
	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++)
		pci_user_write_config_dword(pdev, PCI_BASE_ADDRESS_0 + 4 * bar,
					    vc->rbar[bar]);
	pci_user_write_config_dword(pdev, PCI_ROM_ADDRESS,
				    vc->rbar[VFIO_PCI_NUM_BARS]);

	if (vpdev->nointx)
		vfio_pci_command_update(vpdev, 0, PCI_COMMAND_INTX_DISABLE,
					NULL);
}

/* Apply the virtual INTx-disable bit: mask or unmask INTx on a change. */
static void vfio_pci_sync_intx_disable(struct vfio_pci_ng_device *vpdev)
{
	bool disable = vc_get16(vpdev->vconfig, PCI_COMMAND) &
		       PCI_COMMAND_INTX_DISABLE;

	if (disable != READ_ONCE(vpdev->virq_disabled))
		vfio_pci_intx_virt_disable(vpdev, disable);
}

/*
 * A write to the command register, a piece at 4 (low byte or more) or at 5
 * (high byte).  Memory and I/O decode go to the hardware under the memory
 * lock (mappings zapped first when memory decode may go off), and vconfig
 * records what the user asked for.  Every piece holds the memory lock, so
 * that none can write back a command register that a reset or power
 * transition is restoring.
 */
static int vfio_pci_command_write(struct vfio_pci_ng_device *vpdev,
				  const struct vfio_pci_cfg_cap *cap,
				  unsigned int pos, unsigned int len, __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	const u16 decode = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	u16 hw_cmd, new_cmd, virt_cmd;
	bool new_mem, new_io;
	int ret;

	ret = pci_user_read_config_word(pdev, PCI_COMMAND, &hw_cmd);
	if (ret)
		return ret;

	/*
	 * A write of the high byte leaves decode as it is: no zap needed, and
	 * the decode bits to check are the current ones, read under the lock.
	 */
	new_cmd = (u16)le32_to_cpu(val);
	if (pos != PCI_COMMAND || new_cmd & PCI_COMMAND_MEMORY)
		down_write(&vpdev->memory_lock);
	else
		vfio_pci_zap_and_down_write_memory_lock(vpdev);

	virt_cmd = vc_get16(vc, PCI_COMMAND);
	if (pos != PCI_COMMAND)
		new_cmd = virt_cmd;
	new_mem = new_cmd & PCI_COMMAND_MEMORY;
	new_io = new_cmd & PCI_COMMAND_IO;

	/*
	 * Decode the user enables while we think it is already on, but the
	 * hardware has it off, or the BARs changed: the device went through
	 * a reset we did not see.  Restore the BARs before decode goes on.
	 */
	if ((new_mem && (virt_cmd & PCI_COMMAND_MEMORY) &&
	     !(hw_cmd & PCI_COMMAND_MEMORY) && !pdev->no_command_memory) ||
	    (new_io && (virt_cmd & PCI_COMMAND_IO) &&
	     !(hw_cmd & PCI_COMMAND_IO)) ||
	    vfio_pci_bars_lost(vpdev))
		vfio_pci_bars_restore(vpdev);

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (!ret)
		vc_put16(vc, PCI_COMMAND, (vc_get16(vc, PCI_COMMAND) & ~decode) |
					  (new_cmd & decode));
	up_write(&vpdev->memory_lock);
	if (ret)
		return ret;

	/* Without the memory lock: the INTx helpers take igate. */
	vfio_pci_sync_intx_disable(vpdev);
	return 0;
}

static int vfio_pci_header_read(struct vfio_pci_ng_device *vpdev,
				const struct vfio_pci_cfg_cap *cap,
				unsigned int pos, unsigned int len, __le32 *val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	int ret;

	if (vfio_pci_is_bar(pos) && vc->bardirty)
		vfio_pci_bar_fixup(vpdev);

	ret = vfio_pci_cfg_read_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	/* Functions without a memory enable bit show the virtual one. */
	if (pos == PCI_COMMAND && vpdev->pdev->no_command_memory)
		*val |= cpu_to_le32(vc_get16(vc, PCI_COMMAND) &
				    PCI_COMMAND_MEMORY);
	return 0;
}

static int vfio_pci_header_write(struct vfio_pci_ng_device *vpdev,
				 const struct vfio_pci_cfg_cap *cap,
				 unsigned int pos, unsigned int len, __le32 val)
{
	int ret;

	if (pos == PCI_COMMAND || pos == PCI_COMMAND + 1)
		return vfio_pci_command_write(vpdev, cap, pos, len, val);

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	if (vfio_pci_is_bar(pos))
		vpdev->vconfig->bardirty = true;
	return 0;
}

/*
 * Power management: the power state field is trapped, the transition done
 * by the core (which handles the memory lock, mappings and NoSoftRst-).
 */
static int vfio_pci_pm_write(struct vfio_pci_ng_device *vpdev,
			     const struct vfio_pci_cfg_cap *cap,
			     unsigned int pos, unsigned int len, __le32 val)
{
	static const pci_power_t states[] = {
		PCI_D0, PCI_D1, PCI_D2, PCI_D3hot
	};
	int ret;

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	if (pos - cap->start == PCI_PM_CTRL)
		vfio_pci_set_power_state(vpdev,
					 states[le32_to_cpu(val) &
						PCI_PM_CTRL_STATE_MASK]);
	return 0;
}

/*
 * Vital product data: address and data registers are emulated.  Writing the
 * address byte that holds the F bit starts a transfer through the PCI core
 * (which knows the device's VPD quirks); completion is signalled by
 * toggling F.  On failure F stays, so the user's driver times out.
 */
static int vfio_pci_vpd_write(struct vfio_pci_ng_device *vpdev,
			      const struct vfio_pci_cfg_cap *cap,
			      unsigned int pos, unsigned int len, __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int off = pos - cap->start;
	unsigned int addr_off = cap->start + PCI_VPD_ADDR;
	unsigned int data_off = cap->start + PCI_VPD_DATA;
	u8 data[4];
	u16 addr;
	int ret;

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	/* Only a write of the address register's high byte starts a cycle. */
	if (off > PCI_VPD_ADDR + 1 || off + len <= PCI_VPD_ADDR + 1)
		return 0;

	addr = vc_get16(vc, addr_off);
	if (addr & PCI_VPD_ADDR_F) {
		memcpy(data, &vc->cfg[data_off], sizeof(data));
		if (pci_write_vpd(vpdev->pdev, addr & ~PCI_VPD_ADDR_F,
				  sizeof(data), data) != sizeof(data))
			return 0;
	} else {
		memset(data, 0, sizeof(data));
		if (pci_read_vpd(vpdev->pdev, addr, sizeof(data), data) < 0)
			return 0;
		memcpy(&vc->cfg[data_off], data, sizeof(data));
	}
	vc_put16(vc, addr_off, addr ^ PCI_VPD_ADDR_F);
	return 0;
}

/*
 * MSI: the user sees as many vectors as it may enable (msi_qmax), its
 * enable only takes effect when MSI was enabled through SET_IRQS, and the
 * address/data it writes stay virtual; the kernel programs the real ones.
 */
static bool vfio_pci_piece_has(unsigned int off, unsigned int len,
			       unsigned int reg)
{
	return off <= reg && reg < off + len;
}

static int vfio_pci_msi_read(struct vfio_pci_ng_device *vpdev,
			     const struct vfio_pci_cfg_cap *cap,
			     unsigned int pos, unsigned int len, __le32 *val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int flags_off = cap->start + PCI_MSI_FLAGS;
	u16 flags;

	if (vfio_pci_piece_has(pos - cap->start, len, PCI_MSI_FLAGS)) {
		flags = vc_get16(vc, flags_off) & ~PCI_MSI_FLAGS_QMASK;
		flags |= (READ_ONCE(vpdev->msi_qmax) << 1) &
			 PCI_MSI_FLAGS_QMASK;
		vc_put16(vc, flags_off, flags);
	}
	return vfio_pci_cfg_read_default(vpdev, cap, pos, len, val);
}

static int vfio_pci_msi_write(struct vfio_pci_ng_device *vpdev,
			      const struct vfio_pci_cfg_cap *cap,
			      unsigned int pos, unsigned int len, __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int flags_off = cap->start + PCI_MSI_FLAGS;
	u16 flags, qmax;
	int ret;

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret || !vfio_pci_piece_has(pos - cap->start, len, PCI_MSI_FLAGS))
		return ret;

	/* igate: irq_type, msi_qmax and the kernel's MSI setup hold still. */
	mutex_lock(&vpdev->igate);
	flags = vc_get16(vc, flags_off);
	if (vpdev->irq_type != VFIO_PCI_MSI_IRQ_INDEX)
		flags &= ~PCI_MSI_FLAGS_ENABLE;
	qmax = vpdev->msi_qmax;
	if (FIELD_GET(PCI_MSI_FLAGS_QSIZE, flags) > qmax) {
		flags &= ~PCI_MSI_FLAGS_QSIZE;
		flags |= FIELD_PREP(PCI_MSI_FLAGS_QSIZE, qmax);
	}
	vc_put16(vc, flags_off, flags);
	ret = pci_user_write_config_word(vpdev->pdev, flags_off, flags);
	mutex_unlock(&vpdev->igate);
	return ret;
}

/* Reset the function for an FLR bit the user set (PCIe or AF). */
static void vfio_pci_user_flr(struct vfio_pci_ng_device *vpdev)
{
	vfio_pci_zap_and_down_write_memory_lock(vpdev);
	/*
	 * Through our transition to D0, as VFIO_DEVICE_RESET does, so that a
	 * No_Soft_Reset- function gets the state saved at its D3hot entry
	 * back; the PCI core would wake it without that state.  A failed
	 * reset is not reported: a config write has no way to.
	 */
	vfio_pci_set_power_state_locked(vpdev, PCI_D0);
	if (vfio_pci_debug_reset(vpdev, VFIO_PCI_RESET_USER_FLR,
				 pci_try_reset_function) != -EAGAIN)
		vfio_pci_health_check(vpdev, VFIO_PCI_RESET_USER_FLR);
	up_write(&vpdev->memory_lock);
}

/*
 * PCI Express: FLR is performed by us (the bit always reads 0), MPS stays
 * virtual (it must match the rest of the fabric), MRRS is applied but never
 * below MPS.
 */
static int vfio_pci_exp_write(struct vfio_pci_ng_device *vpdev,
			      const struct vfio_pci_cfg_cap *cap,
			      unsigned int pos, unsigned int len, __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int ctl_off = cap->start + PCI_EXP_DEVCTL;
	u16 old_rq, ctl;
	u32 devcap;
	int ret, rq;

	old_rq = vc_get16(vc, ctl_off) & PCI_EXP_DEVCTL_READRQ;
	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	ctl = vc_get16(vc, ctl_off);
	if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
		ctl &= ~PCI_EXP_DEVCTL_BCR_FLR;
		vc_put16(vc, ctl_off, ctl);
		if (!pci_user_read_config_dword(vpdev->pdev,
						cap->start + PCI_EXP_DEVCAP,
						&devcap) &&
		    (devcap & PCI_EXP_DEVCAP_FLR))
			vfio_pci_user_flr(vpdev);
	}

	if ((ctl & PCI_EXP_DEVCTL_READRQ) != old_rq) {
		rq = 128 << FIELD_GET(PCI_EXP_DEVCTL_READRQ, ctl);
		/* Reserved encodings (> 4096) are refused by the PCI core. */
		pcie_set_readrq(vpdev->pdev, max(rq, pcie_get_mps(vpdev->pdev)));
	}
	return 0;
}

/* Advanced features: only the FLR bit does something (as for PCIe). */
static int vfio_pci_af_write(struct vfio_pci_ng_device *vpdev,
			     const struct vfio_pci_cfg_cap *cap,
			     unsigned int pos, unsigned int len, __le32 val)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	unsigned int ctl_off = cap->start + PCI_AF_CTRL;
	u8 afcap;
	int ret;

	ret = vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	if (ret)
		return ret;

	if (vc->cfg[ctl_off] & PCI_AF_CTRL_FLR) {
		vc->cfg[ctl_off] &= ~PCI_AF_CTRL_FLR;
		if (!pci_user_read_config_byte(vpdev->pdev,
					       cap->start + PCI_AF_CAP,
					       &afcap) &&
		    (afcap & PCI_AF_CAP_FLR) && (afcap & PCI_AF_CAP_TP))
			vfio_pci_user_flr(vpdev);
	}
	return 0;
}

/*
 * The permission tables.  Filled once at module init, read-only afterwards.
 */
static struct vfio_pci_perm vfio_pci_perm_header __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_std_ro __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_std_raw __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_pm __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_vpd __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_pcix __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_exp __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_af __ro_after_init;
/* MSI, by layout: [64-bit address][per-vector masking] */
static struct vfio_pci_perm vfio_pci_perm_msi[2][2] __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_ext_ro __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_ext_raw __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_aer __ro_after_init;
static struct vfio_pci_perm vfio_pci_perm_pwr __ro_after_init;

/* Table fillers; config space is little-endian. */
static void __init perm_set8(struct vfio_pci_perm *p, unsigned int off,
			     u8 virt, u8 wr)
{
	p->virt[off] = virt;
	p->wr[off] = wr;
}

static void __init perm_set16(struct vfio_pci_perm *p, unsigned int off,
			      u16 virt, u16 wr)
{
	*(__le16 *)&p->virt[off] = cpu_to_le16(virt);
	*(__le16 *)&p->wr[off] = cpu_to_le16(wr);
}

static void __init perm_set32(struct vfio_pci_perm *p, unsigned int off,
			      u32 virt, u32 wr)
{
	*(__le32 *)&p->virt[off] = cpu_to_le32(virt);
	*(__le32 *)&p->wr[off] = cpu_to_le32(wr);
}

/* Capability id and next pointer: virtual (to hide caps), read-only. */
static void __init perm_std_cap_header(struct vfio_pci_perm *p)
{
	perm_set16(p, PCI_CAP_LIST_ID, 0xffff, 0);
}

/* The whole header dword of an extended capability: virtual, read-only. */
static void __init perm_ext_cap_header(struct vfio_pci_perm *p)
{
	perm_set32(p, 0, U32_MAX, 0);
}

static void __init vfio_pci_init_header_perm(struct vfio_pci_perm *p)
{
	int bar;

	p->read = vfio_pci_header_read;
	p->write = vfio_pci_header_write;

	/* Virtual so that VFs, which read all-ones, show their real IDs. */
	perm_set16(p, PCI_VENDOR_ID, 0xffff, 0);
	perm_set16(p, PCI_DEVICE_ID, 0xffff, 0);
	/* Everything writable; INTx disable is ours (emulated by masking). */
	perm_set16(p, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 0xffff);
	/* Capability list virtual (caps may be hidden), status read-only. */
	perm_set16(p, PCI_STATUS, PCI_STATUS_CAP_LIST, 0);
	perm_set8(p, PCI_CACHE_LINE_SIZE, 0, 0xff);
	perm_set8(p, PCI_LATENCY_TIMER, 0, 0xff);
	perm_set8(p, PCI_BIST, 0, 0xff);
	/* BARs and ROM BAR: entirely virtual, the real ones are the host's. */
	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++)
		perm_set32(p, PCI_BASE_ADDRESS_0 + 4 * bar, U32_MAX, U32_MAX);
	perm_set32(p, PCI_ROM_ADDRESS, U32_MAX, U32_MAX);
	perm_set8(p, PCI_CAPABILITY_LIST, 0xff, 0);
	perm_set8(p, PCI_INTERRUPT_LINE, 0xff, 0xff);
	/* Virtual so that unusable INTx can read as no pin. */
	perm_set8(p, PCI_INTERRUPT_PIN, 0xff, 0);
}

static void __init vfio_pci_init_pm_perm(struct vfio_pci_perm *p)
{
	perm_std_cap_header(p);
	p->write = vfio_pci_pm_write;
	/*
	 * The user cannot handle PME: PME support, enable and status are
	 * virtual and read 0.  The power state is trapped (hook).
	 */
	perm_set16(p, PCI_PM_PMC, PCI_PM_CAP_PME_MASK, 0);
	perm_set32(p, PCI_PM_CTRL,
		   PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
		   ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS |
		     PCI_PM_CTRL_STATE_MASK));
}

static void __init vfio_pci_init_vpd_perm(struct vfio_pci_perm *p)
{
	perm_std_cap_header(p);
	p->write = vfio_pci_vpd_write;
	perm_set16(p, PCI_VPD_ADDR, 0xffff, 0xffff);
	perm_set32(p, PCI_VPD_DATA, U32_MAX, U32_MAX);
}

static void __init vfio_pci_init_msi_perm(struct vfio_pci_perm *p,
					  bool is64, bool maskbit)
{
	unsigned int data = is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	unsigned int mask = is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;

	perm_std_cap_header(p);
	p->read = vfio_pci_msi_read;
	p->write = vfio_pci_msi_write;
	/* The flags' high byte is reserved: read from the hardware. */
	perm_set8(p, PCI_MSI_FLAGS, 0xff, 0xff);
	perm_set32(p, PCI_MSI_ADDRESS_LO, U32_MAX, U32_MAX);
	if (is64)
		perm_set32(p, PCI_MSI_ADDRESS_HI, U32_MAX, U32_MAX);
	perm_set16(p, data, 0xffff, 0xffff);
	if (maskbit) {
		/* Mask and pending bits: the user's, in the hardware. */
		perm_set32(p, mask, 0, U32_MAX);
		perm_set32(p, mask + 4, 0, U32_MAX);
	}
}

static void __init vfio_pci_init_exp_perm(struct vfio_pci_perm *p)
{
	perm_std_cap_header(p);
	p->write = vfio_pci_exp_write;
	/*
	 * Device control: no phantom functions (they would issue requests
	 * with requester IDs the IOMMU does not expect); FLR, MPS and MRRS
	 * virtual (see the hook).  Device control 2: everything but ARI
	 * forwarding, which the host set up.  All else read-only.
	 */
	perm_set16(p, PCI_EXP_DEVCTL,
		   PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD |
		   PCI_EXP_DEVCTL_READRQ,
		   (u16)~PCI_EXP_DEVCTL_PHANTOM);
	perm_set16(p, PCI_EXP_DEVCTL2, 0, (u16)~PCI_EXP_DEVCTL2_ARI);
}

static void __init vfio_pci_init_af_perm(struct vfio_pci_perm *p)
{
	perm_std_cap_header(p);
	p->write = vfio_pci_af_write;
	perm_set8(p, PCI_AF_CTRL, PCI_AF_CTRL_FLR, PCI_AF_CTRL_FLR);
}

static void __init vfio_pci_init_aer_perm(struct vfio_pci_perm *p)
{
	u32 uncor = PCI_ERR_UNC_UND | PCI_ERR_UNC_DLP | PCI_ERR_UNC_SURPDN |
		    PCI_ERR_UNC_POISON_TLP | PCI_ERR_UNC_FCP |
		    PCI_ERR_UNC_COMP_TIME | PCI_ERR_UNC_COMP_ABORT |
		    PCI_ERR_UNC_UNX_COMP | PCI_ERR_UNC_RX_OVER |
		    PCI_ERR_UNC_MALF_TLP | PCI_ERR_UNC_ECRC |
		    PCI_ERR_UNC_UNSUP | PCI_ERR_UNC_ACSV | PCI_ERR_UNC_INTN |
		    PCI_ERR_UNC_MCBTLP | PCI_ERR_UNC_ATOMEG |
		    PCI_ERR_UNC_TLPPRE;
	u32 cor = PCI_ERR_COR_RCVR | PCI_ERR_COR_BAD_TLP |
		  PCI_ERR_COR_BAD_DLLP | PCI_ERR_COR_REP_ROLL |
		  PCI_ERR_COR_REP_TIMER | PCI_ERR_COR_ADV_NFAT |
		  PCI_ERR_COR_INTERNAL | PCI_ERR_COR_LOG_OVER;

	perm_ext_cap_header(p);
	perm_set32(p, PCI_ERR_UNCOR_STATUS, 0, uncor);
	perm_set32(p, PCI_ERR_UNCOR_MASK, 0, uncor);
	perm_set32(p, PCI_ERR_UNCOR_SEVER, 0, uncor);
	perm_set32(p, PCI_ERR_COR_STATUS, 0, cor);
	perm_set32(p, PCI_ERR_COR_MASK, 0, cor);
	perm_set32(p, PCI_ERR_CAP, 0,
		   PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
}

/**
 * vfio_pci_perm_bits_init() - build the module-global permission tables
 *
 * Called once from module init; the tables are read-only afterwards.
 *
 * Return: 0 (nothing here can fail; the signature leaves room).
 */
int __init vfio_pci_perm_bits_init(void)
{
	BUILD_BUG_ON(PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 > VFIO_PCI_PERM_BYTES);
	BUILD_BUG_ON(PCI_ERR_ROOT_COMMAND > VFIO_PCI_PERM_BYTES);
	BUILD_BUG_ON(PCI_CAP_PCIX_SIZEOF_V2 > VFIO_PCI_PERM_BYTES);

	vfio_pci_init_header_perm(&vfio_pci_perm_header);

	perm_std_cap_header(&vfio_pci_perm_std_ro);
	perm_std_cap_header(&vfio_pci_perm_std_raw);
	vfio_pci_perm_std_raw.write = vfio_pci_cfg_write_raw;

	vfio_pci_init_pm_perm(&vfio_pci_perm_pm);
	vfio_pci_init_vpd_perm(&vfio_pci_perm_vpd);

	perm_std_cap_header(&vfio_pci_perm_pcix);
	perm_set16(&vfio_pci_perm_pcix, PCI_X_CMD, 0, 0xffff);
	perm_set32(&vfio_pci_perm_pcix, PCI_X_ECC_CSR, 0, U32_MAX);

	vfio_pci_init_exp_perm(&vfio_pci_perm_exp);
	vfio_pci_init_af_perm(&vfio_pci_perm_af);

	vfio_pci_init_msi_perm(&vfio_pci_perm_msi[0][0], false, false);
	vfio_pci_init_msi_perm(&vfio_pci_perm_msi[0][1], false, true);
	vfio_pci_init_msi_perm(&vfio_pci_perm_msi[1][0], true, false);
	vfio_pci_init_msi_perm(&vfio_pci_perm_msi[1][1], true, true);

	perm_ext_cap_header(&vfio_pci_perm_ext_ro);
	perm_ext_cap_header(&vfio_pci_perm_ext_raw);
	vfio_pci_perm_ext_raw.write = vfio_pci_cfg_write_raw;

	vfio_pci_init_aer_perm(&vfio_pci_perm_aer);

	perm_ext_cap_header(&vfio_pci_perm_pwr);
	/* Selecting which budget entry to read is harmless. */
	perm_set8(&vfio_pci_perm_pwr, PCI_PWR_DATA, 0, 0xff);

	vfio_pci_perms_ready = true;
	return 0;
}

/**
 * vfio_pci_perm_bits_exit() - release the permission tables
 *
 * The tables are static; nothing to free.  Kept as the counterpart of
 * vfio_pci_perm_bits_init() for module exit.
 */
void vfio_pci_perm_bits_exit(void)
{
}

/*
 * Capability lengths.  A length of 0 hides the capability: unknown ones,
 * ones userspace has no business with, and ones whose length cannot be
 * determined.  Read errors are returned as negative errnos.
 *
 * The init-time readers below read registers beyond the config space as 0:
 * a capability near the end may have its length fields there, and a length
 * computed from zeros is either 0 or runs past the end, which hides it.
 */
static int vfio_pci_read8(struct pci_dev *pdev, unsigned int pos, u8 *val)
{
	*val = 0;
	if (pos + 1 > pdev->cfg_size)
		return 0;
	return pcibios_err_to_errno(pci_read_config_byte(pdev, pos, val));
}

static int vfio_pci_read16(struct pci_dev *pdev, unsigned int pos, u16 *val)
{
	*val = 0;
	if (pos + 2 > pdev->cfg_size)
		return 0;
	return pcibios_err_to_errno(pci_read_config_word(pdev, pos, val));
}

static int vfio_pci_read32(struct pci_dev *pdev, unsigned int pos, u32 *val)
{
	*val = 0;
	if (pos + 4 > pdev->cfg_size)
		return 0;
	return pcibios_err_to_errno(pci_read_config_dword(pdev, pos, val));
}

/* Length and table of a standard capability; *perm NULL = hidden. */
static int vfio_pci_std_cap_len(struct pci_dev *pdev, u8 id, unsigned int pos,
				const struct vfio_pci_perm **perm)
{
	u16 word;
	u8 byte;
	int ret;

	*perm = &vfio_pci_perm_std_ro;
	switch (id) {
	case PCI_CAP_ID_PM:
		*perm = &vfio_pci_perm_pm;
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_AGP:
		return PCI_AGP_SIZEOF;
	case PCI_CAP_ID_VPD:
		*perm = &vfio_pci_perm_vpd;
		return PCI_CAP_VPD_SIZEOF;
	case PCI_CAP_ID_MSI: {
		bool is64, maskbit;

		ret = vfio_pci_read16(pdev, pos + PCI_MSI_FLAGS, &word);
		if (ret)
			return ret;
		is64 = word & PCI_MSI_FLAGS_64BIT;
		maskbit = word & PCI_MSI_FLAGS_MASKBIT;
		*perm = &vfio_pci_perm_msi[is64][maskbit];
		return 10 + (is64 ? 4 : 0) + (maskbit ? 10 : 0);
	}
	case PCI_CAP_ID_PCIX:
		ret = vfio_pci_read16(pdev, pos + PCI_X_CMD, &word);
		if (ret)
			return ret;
		*perm = &vfio_pci_perm_pcix;
		return PCI_X_CMD_VERSION(word) ? PCI_CAP_PCIX_SIZEOF_V2 :
						 PCI_CAP_PCIX_SIZEOF_V0;
	case PCI_CAP_ID_HT:
		ret = vfio_pci_read8(pdev, pos + 3, &byte);
		if (ret)
			return ret;
		return (byte & HT_3BIT_CAP_MASK) ? HT_CAP_SIZEOF_SHORT :
						   HT_CAP_SIZEOF_LONG;
	case PCI_CAP_ID_VNDR:
		/* The length byte follows the next pointer. */
		ret = vfio_pci_read8(pdev, pos + PCI_CAP_FLAGS, &byte);
		if (ret)
			return ret;
		*perm = &vfio_pci_perm_std_raw;
		/*
		 * Keep the whole header dword in the capability so that its
		 * next pointer stays virtual; byte 3 behaves the same either
		 * way (read from and written to the hardware).
		 */
		return byte ? max_t(int, byte, PCI_CAP_SIZEOF) : 0;
	case PCI_CAP_ID_EXP:
		ret = vfio_pci_read16(pdev, pos + PCI_EXP_FLAGS, &word);
		if (ret)
			return ret;
		*perm = &vfio_pci_perm_exp;
		/* Integrated endpoints have no link registers. */
		if ((word & PCI_EXP_FLAGS_VERS) == 1)
			return pci_pcie_type(pdev) == PCI_EXP_TYPE_RC_END ?
			       PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V1 :
			       PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
		return pci_pcie_type(pdev) == PCI_EXP_TYPE_RC_END ?
		       PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 :
		       PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
	case PCI_CAP_ID_MSIX:
		/* Enable and mask go through SET_IRQS only: read-only. */
		return PCI_CAP_MSIX_SIZEOF;
	case PCI_CAP_ID_SATA:
		ret = vfio_pci_read8(pdev, pos + PCI_SATA_REGS, &byte);
		if (ret)
			return ret;
		return (byte & PCI_SATA_REGS_MASK) == PCI_SATA_REGS_INLINE ?
		       PCI_SATA_SIZEOF_LONG : PCI_SATA_SIZEOF_SHORT;
	case PCI_CAP_ID_AF:
		*perm = &vfio_pci_perm_af;
		return PCI_CAP_AF_SIZEOF;
	default:
		/*
		 * Hidden: id 0, slot id, CompactPCI hot swap and CRC, debug
		 * port, SHPC, bridge subsystem ids, AGP 8x, secure device,
		 * enhanced allocation, and everything unknown.
		 */
		*perm = NULL;
		return 0;
	}
}

/* Virtual channel (VC, VC9, MFVC): header, per-VC registers, arbitration. */
static int vfio_pci_vc_cap_len(struct pci_dev *pdev, unsigned int pos)
{
	u32 cap1, cap2;
	int len, phases;
	int ret;

	ret = vfio_pci_read32(pdev, pos + PCI_VC_PORT_CAP1, &cap1);
	if (!ret)
		ret = vfio_pci_read32(pdev, pos + PCI_VC_PORT_CAP2, &cap2);
	if (ret)
		return ret;

	if (cap2 & PCI_VC_CAP2_128_PHASE)
		phases = 128;
	else if (cap2 & PCI_VC_CAP2_64_PHASE)
		phases = 64;
	else if (cap2 & PCI_VC_CAP2_32_PHASE)
		phases = 32;
	else
		phases = 0;

	len = PCI_CAP_VC_BASE_SIZEOF +
	      (1 + (cap1 & PCI_VC_CAP1_EVCC)) * PCI_CAP_VC_PER_VC_SIZEOF;
	/* The VC arbitration table: 4 bits per phase, 16-byte aligned. */
	if (phases)
		len = round_up(len, 16) + phases * 4 / 8;
	return len;
}

/* Length and table of an extended capability; *perm NULL = hidden. */
static int vfio_pci_ext_cap_len(struct pci_dev *pdev, u16 id, unsigned int pos,
				const struct vfio_pci_perm **perm)
{
	u32 dword;
	u8 byte;
	int ret;

	*perm = &vfio_pci_perm_ext_ro;
	switch (id) {
	case PCI_EXT_CAP_ID_ERR:
		/* The root port registers are not the user's business. */
		*perm = &vfio_pci_perm_aer;
		return PCI_ERR_ROOT_COMMAND;
	case PCI_EXT_CAP_ID_VC:
	case PCI_EXT_CAP_ID_VC9:
	case PCI_EXT_CAP_ID_MFVC:
		return vfio_pci_vc_cap_len(pdev, pos);
	case PCI_EXT_CAP_ID_DSN:
		return PCI_EXT_CAP_DSN_SIZEOF;
	case PCI_EXT_CAP_ID_PWR:
		*perm = &vfio_pci_perm_pwr;
		return PCI_EXT_CAP_PWR_SIZEOF;
	case PCI_EXT_CAP_ID_VNDR:
		ret = vfio_pci_read32(pdev, pos + PCI_VNDR_HEADER, &dword);
		if (ret)
			return ret;
		*perm = &vfio_pci_perm_ext_raw;
		return PCI_VNDR_HEADER_LEN(dword);
	case PCI_EXT_CAP_ID_ACS:
		ret = vfio_pci_read8(pdev, pos + PCI_ACS_CAP, &byte);
		if (ret)
			return ret;
		if (byte & PCI_ACS_EC) {
			int bits;

			ret = vfio_pci_read8(pdev, pos + PCI_ACS_EGRESS_BITS,
					     &byte);
			if (ret)
				return ret;
			bits = byte ? round_up(byte, 32) : 256;
			return 8 + bits / 8;
		}
		return 8;
	case PCI_EXT_CAP_ID_ARI:
		return PCI_EXT_CAP_ARI_SIZEOF;
	case PCI_EXT_CAP_ID_ATS:
		return PCI_EXT_CAP_ATS_SIZEOF;
	case PCI_EXT_CAP_ID_SRIOV:
		/* Read-only: VFs are created through sysfs only. */
		return PCI_EXT_CAP_SRIOV_SIZEOF;
	case PCI_EXT_CAP_ID_MCAST:
		return PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF;
	case PCI_EXT_CAP_ID_PRI:
		return PCI_EXT_CAP_PRI_SIZEOF;
	case PCI_EXT_CAP_ID_REBAR:
		ret = vfio_pci_read8(pdev, pos + PCI_REBAR_CTRL, &byte);
		if (ret)
			return ret;
		return 4 + 8 * ((byte & PCI_REBAR_CTRL_NBAR_MASK) >>
				PCI_REBAR_CTRL_NBAR_SHIFT);
	case PCI_EXT_CAP_ID_DPA:
		ret = vfio_pci_read8(pdev, pos + PCI_DPA_CAP, &byte);
		if (ret)
			return ret;
		return PCI_DPA_BASE_SIZEOF +
		       (byte & PCI_DPA_CAP_SUBSTATE_MASK) + 1;
	case PCI_EXT_CAP_ID_TPH:
		ret = vfio_pci_read32(pdev, pos + PCI_TPH_CAP, &dword);
		if (ret)
			return ret;
		if ((dword & PCI_TPH_CAP_LOC_MASK) == PCI_TPH_LOC_CAP)
			return PCI_TPH_BASE_SIZEOF + 2 +
			       2 * ((dword & PCI_TPH_CAP_ST_MASK) >>
				    PCI_TPH_CAP_ST_SHIFT);
		return PCI_TPH_BASE_SIZEOF;
	case PCI_EXT_CAP_ID_LTR:
		return PCI_EXT_CAP_LTR_SIZEOF;
	case PCI_EXT_CAP_ID_DVSEC:
		/*
		 * Visible with raw writes, like the vendor-specific
		 * capability.  This follows 6.12; the in-tree driver of 6.1
		 * hides DVSEC.  We do the same on every kernel.
		 */
		ret = vfio_pci_read32(pdev, pos + PCI_DVSEC_HEADER1, &dword);
		if (ret)
			return ret;
		*perm = &vfio_pci_perm_ext_raw;
		return PCI_DVSEC_HEADER1_LEN(dword);
	default:
		/*
		 * Hidden: root complex link declaration, internal link
		 * control, event collector, RCRB header, CAC, MR-IOV, AMD,
		 * secondary PCIe, protocol multiplexing, PASID, and every id
		 * not listed (DPC, L1 PM substates, PTM, DOE, ...).
		 */
		*perm = NULL;
		return 0;
	}
}

/*
 * Building the per-device state.
 */

/* Copy hardware bytes into the virtual copy, in the largest aligned units. */
static int vfio_pci_fill_vconfig(struct vfio_pci_ng_device *vpdev,
				 unsigned int pos, unsigned int len)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	unsigned int end = pos + len;
	u32 dword;
	u16 word;
	int ret;

	while (pos < end) {
		if (!(pos % 4) && end - pos >= 4) {
			ret = vfio_pci_read32(pdev, pos, &dword);
			vc_put32(vc, pos, dword);
			pos += 4;
		} else if (!(pos % 2) && end - pos >= 2) {
			ret = vfio_pci_read16(pdev, pos, &word);
			vc_put16(vc, pos, word);
			pos += 2;
		} else {
			ret = vfio_pci_read8(pdev, pos, &vc->cfg[pos]);
			pos += 1;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Make [pos, pos + len) a visible register block.  Returns 1 when added,
 * 0 when it overlaps a block already there (then it is left out: warned and
 * hidden), or a negative errno.
 */
static int vfio_pci_add_cap(struct vfio_pci_ng_device *vpdev, u16 id,
			    bool ext, unsigned int pos, unsigned int len,
			    const struct vfio_pci_perm *perm)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct vfio_pci_cfg_cap *cap;
	unsigned int i;
	int ret;

	for (i = pos; i < pos + len; i++) {
		if (vc->map[i] == VFIO_PCI_CFG_UNOWNED)
			continue;
		pci_warn(vpdev->pdev,
			 "config conflict: %scap %#x@%#x overlaps cap %#x@%#x at %#x, hiding it\n",
			 ext ? "ext " : "", id, pos,
			 vc->caps[vc->map[i]].id, vc->caps[vc->map[i]].start,
			 i);
		return 0;
	}

	if (vc->ncaps == vc->caps_room) {
		unsigned int room = vc->caps_room ? vc->caps_room * 2 : 16;

		cap = krealloc_array(vc->caps, room, sizeof(*cap),
				     GFP_KERNEL_ACCOUNT);
		if (!cap)
			return -ENOMEM;
		vc->caps = cap;
		vc->caps_room = room;
	}

	ret = vfio_pci_fill_vconfig(vpdev, pos, len);
	if (ret)
		return ret;

	cap = &vc->caps[vc->ncaps];
	cap->perm = perm;
	cap->start = pos;
	cap->len = len;
	cap->id = id;
	cap->ext = ext;
	for (i = pos; i < pos + len; i++)
		vc->map[i] = vc->ncaps;
	vc->ncaps++;
	return 1;
}

/*
 * Walk the standard capability list, give every capability we expose its
 * table, and unlink the others from the virtual list.  The walk stops like
 * the PCI core's (a pointer into the header ends the list) and on loops.
 */
static int vfio_pci_std_caps_init(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	DECLARE_BITMAP(seen, VFIO_PCI_STD_CAP_SLOTS);
	const struct vfio_pci_perm *perm;
	unsigned int link = PCI_CAPABILITY_LIST, pos;
	int n, len, ret, visible = 0;
	u8 ptr, id, next;
	u16 status;

	if (!(vc_get16(vc, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;

	bitmap_zero(seen, VFIO_PCI_STD_CAP_SLOTS);
	ptr = vc->cfg[PCI_CAPABILITY_LIST];
	for (n = 0; n < VFIO_PCI_STD_CAP_SLOTS; n++) {
		pos = ptr & ~3;
		if (pos < PCI_STD_HEADER_SIZEOF)
			break;
		if (__test_and_set_bit((pos - PCI_STD_HEADER_SIZEOF) / 4,
				       seen)) {
			pci_warn(pdev, "capability list loops at %#x, truncated\n",
				 pos);
			break;
		}

		ret = vfio_pci_read8(pdev, pos + PCI_CAP_LIST_ID, &id);
		if (!ret)
			ret = vfio_pci_read8(pdev, pos + PCI_CAP_LIST_NEXT,
					     &next);
		if (ret)
			return ret;

		len = vfio_pci_std_cap_len(pdev, id, pos, &perm);
		if (len < 0)
			return len;
		/*
		 * Hidden, not truncated: the hooks access registers at fixed
		 * offsets of their capability.
		 */
		if (pos + len > PCI_CFG_SPACE_SIZE) {
			pci_warn(pdev, "cap %#x@%#x runs past the standard config space, hiding it\n",
				 id, pos);
			len = 0;
		}
		ret = 0;
		if (len) {
			ret = vfio_pci_add_cap(vpdev, id, false, pos, len,
					       perm);
			if (ret < 0)
				return ret;
		}
		if (ret) {
			/* Visible: link it after the previous visible one. */
			vc->cfg[link] = pos;
			link = pos + PCI_CAP_LIST_NEXT;
			visible++;
			if (id == PCI_CAP_ID_PM) {
				/* PME is not the user's: reads 0. */
				vc_put16(vc, pos + PCI_PM_PMC,
					 vc_get16(vc, pos + PCI_PM_PMC) &
					 ~PCI_PM_CAP_PME_MASK);
				vc_put16(vc, pos + PCI_PM_CTRL,
					 vc_get16(vc, pos + PCI_PM_CTRL) &
					 ~(PCI_PM_CTRL_PME_ENABLE |
					   PCI_PM_CTRL_PME_STATUS));
			}
		} else {
			pci_dbg(pdev, "hiding cap %#x@%#x\n", id, pos);
		}
		ptr = next;
	}
	vc->cfg[link] = 0;

	if (!visible) {
		status = vc_get16(vc, PCI_STATUS) & ~PCI_STATUS_CAP_LIST;
		vc_put16(vc, PCI_STATUS, status);
	}
	return 0;
}

static void vfio_pci_set_ext_next(struct vfio_pci_vconfig *vc,
				  unsigned int hdr, unsigned int next)
{
	vc_put32(vc, hdr, (vc_get32(vc, hdr) & ~VFIO_PCI_EXT_NEXT_MASK) |
			  (next << 20));
}

/*
 * Walk the extended capability list like the standard one.  A hidden
 * capability at 0x100 cannot be unlinked (the list starts there): it is
 * replaced by a header with id and version 0 that keeps the next pointer.
 * With no extended capability left, the dword at 0x100 reads 0.
 */
static int vfio_pci_ext_caps_init(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	DECLARE_BITMAP(seen, VFIO_PCI_EXT_CAP_SLOTS);
	const struct vfio_pci_perm *perm;
	unsigned int pos = PCI_CFG_SPACE_SIZE, link = 0;
	int n, len, ret, visible = 0;
	u32 header;
	u16 id;

	if (pdev->cfg_size <= PCI_CFG_SPACE_SIZE)
		return 0;
	ret = vfio_pci_read32(pdev, PCI_CFG_SPACE_SIZE, &header);
	if (ret)
		return ret;
	if (!header)
		return 0;	/* no extended capabilities */

	bitmap_zero(seen, VFIO_PCI_EXT_CAP_SLOTS);
	for (n = 0; n < VFIO_PCI_EXT_CAP_SLOTS; n++) {
		if (pos < PCI_CFG_SPACE_SIZE || pos >= pdev->cfg_size)
			break;
		if (__test_and_set_bit((pos - PCI_CFG_SPACE_SIZE) / 4, seen)) {
			pci_warn(pdev, "extended capability list loops at %#x, truncated\n",
				 pos);
			break;
		}

		ret = vfio_pci_read32(pdev, pos, &header);
		if (ret)
			return ret;
		id = PCI_EXT_CAP_ID(header);

		len = vfio_pci_ext_cap_len(pdev, id, pos, &perm);
		if (len < 0)
			return len;
		/* At least the header, which must stay virtual. */
		if (len)
			len = max_t(int, len, PCI_CAP_SIZEOF);
		if (pos + len > pdev->cfg_size) {
			pci_warn(pdev, "ext cap %#x@%#x runs past config space, hiding it\n",
				 id, pos);
			len = 0;
		}
		ret = 0;
		if (len) {
			ret = vfio_pci_add_cap(vpdev, id, true, pos, len, perm);
			if (ret < 0)
				return ret;
		}
		if (ret) {
			if (link)
				vfio_pci_set_ext_next(vc, link, pos);
			link = pos;
			visible++;
		} else {
			pci_dbg(pdev, "hiding ecap %#x@%#x\n", id, pos);
			if (!link) {
				/* First in the list: leave a placeholder. */
				ret = vfio_pci_add_cap(vpdev, 0, true, pos,
						       PCI_CAP_SIZEOF,
						       &vfio_pci_perm_ext_ro);
				if (ret < 0)
					return ret;
				vc_put32(vc, pos, 0);
				link = pos;
			}
		}
		pos = PCI_EXT_CAP_NEXT(header);
	}
	if (link)
		vfio_pci_set_ext_next(vc, link, 0);

	if (!visible)
		vc_put32(vc, PCI_CFG_SPACE_SIZE, 0);
	return 0;
}

/* VFs whose bogus INTx pin is known; do not nag about them. */
static const struct pci_device_id vfio_pci_known_bogus_vf_pin[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_INTEL, 0x270c) },
	{ }
};

/* Header fixups of the virtual copy after it was read from the hardware. */
static void vfio_pci_header_init(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;
	int bar;

	for (bar = 0; bar < VFIO_PCI_NUM_BARS; bar++)
		vc->rbar[bar] = vc_get32(vc, PCI_BASE_ADDRESS_0 + 4 * bar);
	vc->rbar[VFIO_PCI_NUM_BARS] = vc_get32(vc, PCI_ROM_ADDRESS);
	vc->bardirty = true;

	if (pdev->is_virtfn) {
		/* VFs read all-ones IDs and must have no INTx pin. */
		vc_put16(vc, PCI_VENDOR_ID, pdev->vendor);
		vc_put16(vc, PCI_DEVICE_ID, pdev->device);
		if (vc->cfg[PCI_INTERRUPT_PIN] &&
		    !pci_match_id(vfio_pci_known_bogus_vf_pin, pdev))
			pci_warn(pdev, "Hardware bug: VF reports bogus INTx pin %d\n",
				 vc->cfg[PCI_INTERRUPT_PIN]);
		vc->cfg[PCI_INTERRUPT_PIN] = 0;
	}

	/*
	 * Without a memory enable bit (VFs) decode is always on; show the bit
	 * set, as a PF would after pci_enable_device().
	 */
	if (pdev->no_command_memory)
		vc_put16(vc, PCI_COMMAND,
			 vc_get16(vc, PCI_COMMAND) | PCI_COMMAND_MEMORY);

	if (vpdev->nointx || pdev->irq == IRQ_NOTCONNECTED)
		vc->cfg[PCI_INTERRUPT_PIN] = 0;
}

static void vfio_pci_vconfig_free(struct vfio_pci_vconfig *vc)
{
	mutex_destroy(&vc->lock);
	kfree(vc->caps);
	kfree(vc->map);
	kfree(vc->cfg);
	kfree(vc);
}

/**
 * vfio_pci_config_init() - build the virtual config space at open
 * @vpdev: the device, enabled, reset and with its state saved
 *
 * Reads the hardware config space into the virtual copy, decides which
 * capabilities userspace sees and with which permissions, and sets
 * @vpdev->msi_qmax to what the MSI capability offers.
 *
 * Return: 0 or a negative errno.
 */
int vfio_pci_config_init(struct vfio_pci_ng_device *vpdev)
{
	struct pci_dev *pdev = vpdev->pdev;
	struct vfio_pci_vconfig *vc;
	unsigned int i;
	u16 flags;
	int ret;

	if (!vfio_pci_perms_ready) {
		pci_err(pdev, "config permission tables not initialized\n");
		return -ENXIO;
	}
	if (pdev->cfg_size < PCI_CFG_SPACE_SIZE ||
	    pdev->cfg_size > PCI_CFG_SPACE_EXP_SIZE)
		return -ENXIO;

	vc = kzalloc(sizeof(*vc), GFP_KERNEL_ACCOUNT);
	if (!vc)
		return -ENOMEM;
	mutex_init(&vc->lock);
	vc->cfg = kzalloc(pdev->cfg_size, GFP_KERNEL_ACCOUNT);
	vc->map = kmalloc_array(pdev->cfg_size, sizeof(*vc->map),
				GFP_KERNEL_ACCOUNT);
	if (!vc->cfg || !vc->map) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < pdev->cfg_size; i++)
		vc->map[i] = VFIO_PCI_CFG_UNOWNED;

	/* The helpers find the state through vpdev; published at the end. */
	vpdev->vconfig = vc;

	ret = vfio_pci_add_cap(vpdev, VFIO_PCI_CAP_HEADER, false, 0,
			       PCI_STD_HEADER_SIZEOF, &vfio_pci_perm_header);
	if (ret < 0)
		goto err_free;
	vfio_pci_header_init(vpdev);

	ret = vfio_pci_std_caps_init(vpdev);
	if (ret)
		goto err_free;
	ret = vfio_pci_ext_caps_init(vpdev);
	if (ret)
		goto err_free;

	vpdev->msi_qmax = 0;
	if (pdev->msi_cap &&
	    !vfio_pci_read16(pdev, pdev->msi_cap + PCI_MSI_FLAGS, &flags))
		vpdev->msi_qmax = FIELD_GET(PCI_MSI_FLAGS_QMASK, flags);

	/* INTx masking starts in the state the virtual register shows. */
	WRITE_ONCE(vpdev->virq_disabled,
		   !!(vc_get16(vc, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE));
	return 0;

err_free:
	vpdev->vconfig = NULL;
	vfio_pci_vconfig_free(vc);
	return ret;
}

/**
 * vfio_pci_config_exit() - free the virtual config space at close
 * @vpdev: the device
 */
void vfio_pci_config_exit(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;

	if (!vc)
		return;
	vpdev->vconfig = NULL;
	vfio_pci_vconfig_free(vc);
}

/**
 * vfio_pci_config_lock() - keep user config accesses out
 * @vpdev: the device, open (vconfig exists; dev_set lock held)
 *
 * For the revoke: a config write that passed its check of the revoked flag
 * completes before this returns, and a later one sees the flag.  Nests
 * like a config access: the memory lock and igate inside it.
 */
void vfio_pci_config_lock(struct vfio_pci_ng_device *vpdev)
{
	mutex_lock(&vpdev->vconfig->lock);
}

/**
 * vfio_pci_config_unlock() - undo vfio_pci_config_lock()
 * @vpdev: the device
 */
void vfio_pci_config_unlock(struct vfio_pci_ng_device *vpdev)
{
	mutex_unlock(&vpdev->vconfig->lock);
}

/**
 * vfio_pci_memory_enabled() - whether BAR accesses may reach the device
 * @vpdev: the device; the caller holds memory_lock
 *
 * Return: true when the virtual command register has memory decode on (or
 * the function has no such bit) and the device is in D0..D2.
 */
bool vfio_pci_memory_enabled(struct vfio_pci_ng_device *vpdev)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	struct pci_dev *pdev = vpdev->pdev;

	if (!vc)
		return false;
	/*
	 * The low command byte changes only under memory_lock (write).  Only
	 * D0: in D1 and D2 too a function answers memory requests with
	 * Unsupported Request (the in-tree driver lets D1 and D2 through).
	 */
	return pdev->current_state == PCI_D0 &&
	       (pdev->no_command_memory ||
		(READ_ONCE(vc->cfg[PCI_COMMAND]) & PCI_COMMAND_MEMORY));
}

/**
 * vfio_pci_config_kind() - where a user write of config bytes goes
 * @vpdev: the device; open, and kept open by the caller (a user access, or
 *	the dev_set lock)
 * @pos: config offset
 * @len: bytes from @pos, all in the register block that owns @pos
 *
 * By the permission tables: bytes no visible block owns go to the
 * hardware unless the unassigned_config policy blocks them, raw blocks go
 * to the hardware; otherwise a write with no writable bit is dropped, one
 * whose writable bits are all virtual stays in the virtual copy, and any
 * other reaches the hardware (possibly in part).  Write hooks may do more
 * (a PMCSR write changes the power state, an FLR bit resets).
 *
 * Return: VFIO_PCI_CFG_HW, VFIO_PCI_CFG_VIRT or VFIO_PCI_CFG_DROPPED, or
 * -ENODEV while the device is closed.
 */
int vfio_pci_config_kind(struct vfio_pci_ng_device *vpdev, unsigned int pos,
			 unsigned int len)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	const struct vfio_pci_cfg_cap *cap;
	__le32 wr, virt;

	if (!vc || pos >= vpdev->pdev->cfg_size)
		return -ENODEV;
	if (vc->map[pos] == VFIO_PCI_CFG_UNOWNED)
		return READ_ONCE(vpdev->policy.unassigned_config) ==
		       VFIO_PCI_UNASSIGNED_BLOCK ? VFIO_PCI_CFG_DROPPED :
						   VFIO_PCI_CFG_HW;
	cap = &vc->caps[vc->map[pos]];
	if (cap->perm->write == vfio_pci_cfg_write_raw)
		return VFIO_PCI_CFG_HW;
	wr = vfio_pci_perm_mask(cap->perm->wr, pos - cap->start, len);
	virt = vfio_pci_perm_mask(cap->perm->virt, pos - cap->start, len);
	if (!wr)
		return VFIO_PCI_CFG_DROPPED;
	return wr & ~virt ? VFIO_PCI_CFG_HW : VFIO_PCI_CFG_VIRT;
}

/*
 * Length of the piece at pos: the bytes left in its dword that have the same
 * owner, cut down to a naturally aligned 1, 2 or 4.
 */
static unsigned int vfio_pci_piece_len(const struct vfio_pci_vconfig *vc,
				       unsigned int pos, size_t count)
{
	unsigned int n = 1;

	while (n < count && (pos + n) % 4 && vc->map[pos + n] == vc->map[pos])
		n++;
	if (n >= 4 && !(pos % 4))
		return 4;
	if (n >= 2 && !(pos % 2))
		return 2;
	return 1;
}

/*
 * Whether a piece can do without vconfig->lock: a read that changes no
 * state (no hook, or the header's outside the BARs, whose read may redo the
 * sizing fixup), or a write that changes only the virtual copy (no hook,
 * or the header's outside the command register and the BARs, and no bit of
 * it goes to the hardware: the interrupt line, say).  Racing with another
 * access of the same bytes, such a piece sees or leaves the old or the new
 * value, as with the hardware; it writes only its own bytes of the copy.
 * The revoke, which needs every hardware write out of the way, has nothing
 * to wait for in it.
 */
static bool vfio_pci_piece_unlocked(const struct vfio_pci_cfg_cap *cap,
				    unsigned int pos, unsigned int len,
				    bool iswrite)
{
	const struct vfio_pci_perm *perm;
	unsigned int off;

	if (!cap)
		return !iswrite;
	perm = cap->perm;
	if (perm == &vfio_pci_perm_header) {
		if (vfio_pci_is_bar(pos))
			return false;
		if (iswrite && pos <= PCI_COMMAND + 1 && pos + len > PCI_COMMAND)
			return false;
	} else if (iswrite ? !!perm->write : !!perm->read) {
		return false;
	}
	if (!iswrite)
		return true;
	off = pos - cap->start;
	return !(vfio_pci_perm_mask(perm->wr, off, len) &
		 ~vfio_pci_perm_mask(perm->virt, off, len));
}

static ssize_t vfio_pci_config_piece(struct vfio_pci_ng_device *vpdev,
				     char __user *buf, unsigned int pos,
				     size_t count, bool iswrite)
{
	struct vfio_pci_vconfig *vc = vpdev->vconfig;
	const struct vfio_pci_cfg_cap *cap = NULL;
	unsigned int len = vfio_pci_piece_len(vc, pos, count);
	__le32 val = 0;
	bool unlocked;
	int ret;

	if (vc->map[pos] != VFIO_PCI_CFG_UNOWNED)
		cap = &vc->caps[vc->map[pos]];

	if (iswrite && vfio_pci_copy_from_user_small(&val, sizeof(val), buf, len))
		return -EFAULT;

	unlocked = vfio_pci_piece_unlocked(cap, pos, len, iswrite);
	if (!unlocked)
		mutex_lock(&vc->lock);
	if (vfio_pci_revoked(vpdev)) {
		/* The revoke cleared bus master and decode under this lock. */
		ret = -ENODEV;
	} else if (!cap && vfio_pci_policy_unassigned(vpdev, pos, len, iswrite)) {
		/* unassigned_config=block: writes dropped, reads all ones. */
		val = cpu_to_le32(U32_MAX);
		ret = 0;
	} else if (!cap) {
		/* Gaps and hidden capabilities: the hardware, unfiltered. */
		ret = iswrite ? vfio_pci_hw_write(vpdev->pdev, pos, len, val) :
				vfio_pci_hw_read(vpdev->pdev, pos, len, &val);
	} else if (iswrite) {
		ret = cap->perm->write ?
		      cap->perm->write(vpdev, cap, pos, len, val) :
		      vfio_pci_cfg_write_default(vpdev, cap, pos, len, val);
	} else {
		ret = cap->perm->read ?
		      cap->perm->read(vpdev, cap, pos, len, &val) :
		      vfio_pci_cfg_read_default(vpdev, cap, pos, len, &val);
	}
	if (!unlocked)
		mutex_unlock(&vc->lock);
	if (iswrite)
		vfio_pci_trace_config_write(vpdev, pos, len, val, ret);
	if (ret)
		return ret;

	if (!iswrite && vfio_pci_copy_to_user_small(buf, &val, sizeof(val), len))
		return -EFAULT;
	return len;
}

/**
 * vfio_pci_config_rw() - user access to the config region
 * @vpdev: the device
 * @buf: user buffer
 * @count: bytes to transfer
 * @ppos: position in the device fd; the config offset is the low bits
 * @iswrite: direction
 *
 * The access is done in naturally aligned pieces of at most a dword that
 * never cross a capability boundary.  An access that does not fit in the
 * config space fails with -EFAULT, like the in-tree driver's.
 *
 * Return: bytes transferred or a negative errno (also when a piece fails
 * after earlier pieces were done).
 */
ssize_t vfio_pci_config_rw(struct vfio_pci_ng_device *vpdev, char __user *buf,
			   size_t count, loff_t *ppos, bool iswrite)
{
	u64 pos = *ppos & VFIO_PCI_OFFSET_MASK;
	unsigned int size = vpdev->pdev->cfg_size;
	size_t done = 0;
	ssize_t ret;

	if (!vpdev->vconfig)
		return -ENODEV;
	if (!count)
		return 0;
	if (pos >= size || count > size - pos)
		return -EFAULT;

	while (done < count) {
		ret = vfio_pci_config_piece(vpdev, buf + done, pos + done,
					    count - done, iswrite);
		if (ret < 0)
			return ret;
		done += ret;
	}

	*ppos += done;
	return done;
}
