#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build-time feature probes for vfio_pci_compat.h.
#
#   compat-probe.sh [--each] KDIR OUTPUT_HEADER
#
# Each probe is a function body compiled against KDIR with the kernel's own
# flags and -Werror.  A probe that compiles defines VFIO_PCI_HAVE_<NAME> in
# the generated header.  We test for the API itself, never for a version
# number: Debian's stable kernels backport API changes inside a series.
#
# All probes are compiled at once, as the functions of one file, so that
# the kernel headers are parsed once (a DKMS build in a slow guest spends
# most of its probing time there): the compiler reports every error with
# its line, and a probe fails when an error lies in its lines.  An error
# anywhere else (in a header, say), or a failure without an error line,
# makes the answer unclear, and the probes are compiled again one object
# each (one kbuild run), which --each also asks for.

set -euo pipefail

each=
if [ "${1:-}" = --each ]; then
	each=1
	shift
fi
kdir=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

probes=()
declare -A includes bodies

# probe NAME INCLUDES BODY: BODY is the inside of a function.
probe() {
	probes+=("$1")
	includes[$1]=$2
	bodies[$1]=$3
}

# The function of probe $1, after a check of each header it includes.
probe_function() {
	local inc
	for inc in ${includes[$1]}; do
		echo "#if !__has_include(<$inc>)"
		echo "#error \"no <$inc>\""
		echo "#endif"
	done
	echo "void vfio_pci_probe_$1(void);"
	echo "void vfio_pci_probe_$1(void)"
	echo "{"
	echo "${bodies[$1]}"
	echo "}"
}

# 6.1: the driver's release op must free the device (vfio_free_device);
# from 6.2 the core frees it and the function is gone.
probe VFIO_FREE_DEVICE "linux/vfio.h" '
	vfio_free_device(NULL);'

# 6.2+: iommufd ops in struct vfio_device_ops (bind/unbind/attach).
probe VFIO_IOMMUFD_OPS "linux/vfio.h" '
	static const struct vfio_device_ops ops __maybe_unused = {
		.bind_iommufd = vfio_iommufd_physical_bind,
		.unbind_iommufd = vfio_iommufd_physical_unbind,
		.attach_ioas = vfio_iommufd_physical_attach_ioas,
	};'

# 6.6+: detach_ioas op.
probe VFIO_DETACH_IOAS "linux/vfio.h" '
	static const struct vfio_device_ops ops __maybe_unused = {
		.detach_ioas = vfio_iommufd_physical_detach_ioas,
	};'

# 6.8+: eventfd_signal() lost its count argument.
probe EVENTFD_SIGNAL_NO_COUNT "linux/eventfd.h" '
	eventfd_signal(NULL);'

# 6.3+: vma flags are changed through wrappers only.
probe VM_FLAGS_SET "linux/mm.h" '
	vm_flags_set(NULL, VM_IO);'

# 6.10+ (stable 6.9.11): the vfio core gives every device fd a private
# inode, so unmap_mapping_range() on it zaps exactly this device's maps.
probe VFIO_DEVICE_INODE "linux/vfio.h" '
	struct vfio_device *vdev = NULL;
	struct inode *inode __maybe_unused = vdev->inode;'

# Debian 6.12.94+: driver_override lives in struct device.
probe DEVICE_SET_DRIVER_OVERRIDE "linux/device.h" '
	device_set_driver_override(NULL, "vfio-pci");'

# 6.5+: MSI-X vectors can be added to a live MSI-X setup.
probe PCI_MSIX_ALLOC_DYN "linux/pci.h" '
	bool dyn __maybe_unused = pci_msix_can_alloc_dyn(NULL);'

# 6.6+: devices opened through the vfio device cdev (iommufd) prove
# ownership for hot reset by their iommufd context, not by group fds.
probe VFIO_DEVICE_CDEV_OPENED "linux/vfio.h" '
	struct vfio_device *vdev = NULL;
	bool cdev __maybe_unused = vfio_device_cdev_opened(vdev);
	struct iommufd_ctx *ictx __maybe_unused = vfio_iommufd_device_ictx(vdev);
	int id __maybe_unused = vfio_iommufd_get_dev_id(vdev, ictx);'

# 6.17+: pfn_t and <linux/pfn_t.h> are gone; the huge PFN inserts take a
# plain pfn.
probe VMF_INSERT_PFN_PLAIN "linux/mm.h linux/huge_mm.h" '
	vm_fault_t r __maybe_unused = vmf_insert_pfn_pmd(NULL, 0UL, false);'

# 6.17+: an irqbypass producer has no token; it is registered with its
# eventfd and IRQ.
probe IRQ_BYPASS_REGISTER_EVENTFD "linux/irqbypass.h" '
	int r __maybe_unused = irq_bypass_register_producer(NULL, NULL, 0);'

# 7.3 (added in 6.19 or 7.x): the vfio core handles
# VFIO_DEVICE_GET_REGION_INFO and asks the driver's get_region_info_caps op.
probe VFIO_GET_REGION_INFO_CAPS "linux/vfio.h" '
	static const struct vfio_device_ops ops __maybe_unused = {
		.get_region_info_caps = NULL,
	};'

# 6.8+: pte_next_pfn() gives the PTE of the next PFN with the same
# protection (set_ptes() batching); 6.1 has no such helper.
probe PTE_NEXT_PFN "linux/mm.h linux/pgtable.h" '
	pte_t pte __maybe_unused = pte_next_pfn(__pte(0));'

# A probe that compiles everywhere: when it fails, the tool chain does not
# work with this tree (missing compiler, host tools that do not run, flags
# the compiler lacks), and every other answer would be a wrong "no".
# 7.3+: the in-tree vfio-pci offers the ERR irq on conventional PCI
# functions too (up to 7.2: PCI Express only).  A behaviour of the in-tree
# driver that no interface reveals, so the one probe on the version (from
# the sources of Debian's 7.2.13 and 7.3.4); see vfio_pci_compat.h.
probe ERR_IRQ_CONVENTIONAL "linux/version.h" '
#if LINUX_VERSION_CODE < KERNEL_VERSION(7, 3, 0)
#error "the in-tree vfio-pci of this kernel offers ERR on PCI Express only"
#endif'

probe BASELINE "linux/kernel.h" ''

# One file: every header once, then each probe's function, its first and
# last line recorded.  Sets $passed to the probes that compiled, or returns
# 1 when the compiler's answer is unclear.
probe_at_once() {
	local dir=$work/all p inc line first file=probes.c
	local -A start end
	mkdir -p "$dir"
	line=0
	{
		for inc in $(printf '%s\n' "${includes[@]}" | tr ' ' '\n' | sort -u); do
			printf '#if __has_include(<%s>)\n#include <%s>\n#endif\n' "$inc" "$inc"
			line=$((line + 3))
		done
		for p in "${probes[@]}"; do
			start[$p]=$((line + 1))
			probe_function "$p" > "$dir/$p.part"
			cat "$dir/$p.part"
			line=$((line + $(wc -l < "$dir/$p.part")))
			end[$p]=$line
		done
	} > "$dir/$file"
	{
		echo "obj-m := probes.o"
		echo "ccflags-y := -Werror"
	} > "$dir/Kbuild"
	make -s -k -C "$kdir" M="$dir" probes.o > "$dir/log" 2>&1 || true

	passed=" "
	if [ -f "$dir/probes.o" ]; then
		passed=" ${probes[*]} "
		return 0
	fi
	local failed=" " found=
	while read -r line; do
		found=1
		first=
		for p in "${probes[@]}"; do
			if [ "$line" -ge "${start[$p]}" ] && [ "$line" -le "${end[$p]}" ]; then
				first=$p
				break
			fi
		done
		[ -n "$first" ] || return 1	# an error outside every probe
		failed+="$first "
	done < <(sed -n "s|^\([^ :]*/\)\{0,1\}$file:\([0-9]*\):[0-9]*: \(fatal \)\{0,1\}error: .*|\2|p" \
		       "$dir/log")
	[ -n "$found" ] || return 1		# no object, and no error to explain it
	for p in "${probes[@]}"; do
		[[ $failed == *" $p "* ]] || passed+="$p "
	done
}

# Every probe its own object, in one kbuild run.
probe_each() {
	local dir=$work/each p
	mkdir -p "$dir"
	for p in "${probes[@]}"; do
		{
			for inc in ${includes[$p]}; do echo "#include <$inc>"; done
			probe_function "$p"
		} > "$dir/$p.c"
	done
	{
		echo "obj-m := $(printf '%s.o ' "${probes[@]}")"
		echo "ccflags-y := -Werror"
	} > "$dir/Kbuild"
	# shellcheck disable=SC2046
	make -s -k -C "$kdir" M="$dir" -j"$(nproc)" $(printf '%s.o ' "${probes[@]}") \
		> "$dir/log" 2>&1 || true
	passed=" "
	for p in "${probes[@]}"; do
		[ -f "$dir/$p.o" ] && passed+="$p "
	done
	if [[ $passed != *" BASELINE "* ]]; then
		grep -v '^make' "$dir/log" | head -n 20 >&2
		echo "compat-probe: even an empty probe does not build against $kdir" >&2
		exit 1
	fi
}

if [ -n "$each" ] || ! probe_at_once || [[ $passed != *" BASELINE "* ]]; then
	probe_each
fi

{
	echo "/* SPDX-License-Identifier: GPL-2.0-only */"
	echo "/* Generated by scripts/compat-probe.sh for $kdir: do not edit. */"
	echo "#ifndef VFIO_PCI_COMPAT_PROBES_H"
	echo "#define VFIO_PCI_COMPAT_PROBES_H"
	for p in "${probes[@]}"; do
		if [[ $passed == *" $p "* ]]; then
			echo "#define VFIO_PCI_HAVE_$p 1"
		else
			echo "/* #undef VFIO_PCI_HAVE_$p */"
		fi
	done
	echo "#endif"
} > "$out.tmp"
mv "$out.tmp" "$out"
