#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel matrix: where each kernel's build tree, boot image and modules are.
#
#   kernels.sh list                 names of the kernels in the matrix
#   kernels.sh prepare [NAME...]    fetch/extract/build what is missing (idempotent)
#   kernels.sh kdir NAME            module build directory (KDIR) of NAME
#   kernels.sh vmlinux NAME         uncompressed vmlinux to boot under QEMU
#   kernels.sh moddir NAME          /lib/modules/<release> tree of NAME
#   kernels.sh release NAME         uname -r of NAME
#
# Kernels:
#   6.1    Debian 12 stock (linux-headers-amd64 / linux-image-amd64)
#   6.12   Debian stock 6.12, newest linux-image-6.12.*+deb12-amd64-unsigned
#   debug  6.12 built here from linux-source-6.12 with scripts/debug-kernel.config
#
# Everything lands in $VFIO_NG_CACHE (default /var/cache/vfio-pci-ng), outside
# the work tree; the debug kernel is keyed by source version and fragment hash.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
MATRIX="6.1 6.12 debug"

die() { echo "kernels.sh: $*" >&2; exit 1; }
log() { echo "kernels.sh: $*" >&2; }

# Newest installed Debian header tree matching a glob.
newest_headers() {
	local d
	d=$(ls -d /usr/src/$1 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] || return 1
	echo "$d"
}

stock_release() {
	case $1 in
	6.1) newest_headers 'linux-headers-6.1.0-*-amd64' | sed 's|.*/linux-headers-||' ;;
	6.12) newest_headers 'linux-headers-6.12.*+deb12-amd64' | sed 's|.*/linux-headers-||' ;;
	esac
}

debug_key() {
	local srcver h
	srcver=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null) ||
		die "linux-source-6.12 is not installed (run scripts/setup.sh)"
	h=$( { cat "$here/debug-kernel.config"; sed -n '/^build_debug()/,/^}/p' "$0"; } |
		sha256sum | cut -c1-12)
	echo "${srcver}-${h}"
}

kdir() {
	case $1 in
	6.1|6.12) echo "/usr/src/linux-headers-$(stock_release "$1")" ;;
	debug) echo "$CACHE/debug-$(debug_key)/obj" ;;
	*) die "unknown kernel '$1' (matrix: $MATRIX)" ;;
	esac
}

imgdir() {
	case $1 in
	6.1|6.12) echo "$CACHE/image-$(stock_release "$1")" ;;
	debug) echo "$CACHE/debug-$(debug_key)" ;;
	*) die "unknown kernel '$1'" ;;
	esac
}

release() {
	case $1 in
	6.1|6.12) stock_release "$1" ;;
	debug) cat "$(imgdir debug)/release" ;;
	esac
}

# Decompress a bzImage into the ELF vmlinux (PVH entry boots it directly).
extract_vmlinux() {
	python3 "$here/extract-vmlinux.py" "$1" "$2.tmp"
	mv "$2.tmp" "$2"
}

prepare_stock() {
	local name=$1 rel dir pkg tmp
	rel=$(stock_release "$name") || true
	[ -n "$rel" ] || die "no headers for $name (run scripts/setup.sh)"
	dir=$(imgdir "$name")
	[ -f "$dir/.done" ] && return 0
	log "extracting the $rel image into $dir"
	case $name in
	6.1) pkg="linux-image-$rel" ;;
	6.12) pkg="linux-image-$rel-unsigned" ;;
	esac
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$tmp"/*.deb "$dir/root"
	rm -rf "$tmp"
	extract_vmlinux "$dir/root/boot/vmlinuz-$rel" "$dir/vmlinux"
	ln -sfn "root/lib/modules/$rel" "$dir/modules"
	echo "$rel" > "$dir/release"
	touch "$dir/.done"
}

build_debug() {
	local dir=$1 src=$dir/src obj=$dir/obj jobs opt
	jobs=$(($(nproc) + 1))
	rm -rf "$src" "$obj"
	mkdir -p "$src" "$obj"
	tar -xf /usr/src/linux-source-6.12.tar.xz -C "$src" --strip-components=1
	make -s -C "$src" O="$obj" defconfig
	(cd "$src" && ./scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" \
		kernel/configs/kvm_guest.config "$here/debug-kernel.config" >/dev/null)
	make -s -C "$src" O="$obj" olddefconfig
	for opt in KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK FAILSLAB \
		   IOMMUFD VFIO_DEVICE_CDEV PVH INTEL_IOMMU; do
		grep -q "^CONFIG_$opt=y" "$obj/.config" || die "debug config lacks CONFIG_$opt=y"
	done
	grep -q '^CONFIG_VFIO_PCI=m' "$obj/.config" || die "debug config: VFIO_PCI must be =m"
	make -s -C "$src" O="$obj" -j"$jobs" vmlinux modules
	make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$dir/root" modules_install
	cp "$obj/vmlinux" "$dir/vmlinux"
	make -s -C "$src" O="$obj" kernelrelease > "$dir/release"
	ln -sfn "root/lib/modules/$(cat "$dir/release")" "$dir/modules"
}

prepare_debug() {
	local dir start
	dir=$(imgdir debug)
	[ -f "$dir/.done" ] && return 0
	log "building the debug kernel into $dir (about 10-25 minutes, once per machine)"
	start=$(date +%s)
	mkdir -p "$dir"
	build_debug "$dir" > "$dir/build.log" 2>&1 || {
		tail -n 30 "$dir/build.log" >&2
		die "debug kernel build failed (log: $dir/build.log)"
	}
	touch "$dir/.done"
	log "debug kernel built in $(($(date +%s) - start)) s"
}

cmd=${1:-list}
shift || true
case $cmd in
list) echo "$MATRIX" ;;
prepare)
	mkdir -p "$CACHE"
	for k in ${*:-$MATRIX}; do
		case $k in
		debug) prepare_debug ;;
		*) prepare_stock "$k" ;;
		esac
	done ;;
kdir) kdir "$1" ;;
vmlinux) echo "$(imgdir "$1")/vmlinux" ;;
moddir) echo "$(imgdir "$1")/modules" ;;
release) release "$1" ;;
*) die "unknown command '$cmd'" ;;
esac
