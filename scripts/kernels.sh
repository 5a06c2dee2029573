#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel matrix: where each kernel's build tree, boot image and modules are.
#
#   kernels.sh list [--all|--compile]  names of the kernels in the matrix
#                                   (--all: and the opt-in ones, none now;
#                                   --compile: the compile-only ones instead)
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
#   7.3    Debian's newest 7.3 from trixie-backports, reached through the
#          private apt configuration of scripts/apt-private.sh: the binary
#          image and modules (linux-binary-*, linux-modules-*) to boot, never
#          installed.  To build against it: Debian's linux-source-7.3 of the
#          same version, configured with the image's own .config (from its
#          headers package) for this machine's gcc and prepared with
#          modules_prepare, plus the headers package's Module.symvers and
#          vmlinux (BTF base).  Debian's headers package itself is not usable
#          on Debian 12: it wants gcc-14 and its flags, glibc 2.38 for modpost,
#          objtool and resolve_btfids, and pahole 1.30.
#
# Compile-only kernels (kernels.sh list --compile): built for on every make
# check (W=1, sparse), never booted.
#   7.2    Debian's newest 7.2 from sid (linux-headers-7.2.*+deb14-amd64),
#          prepared like 7.3 but without the image and its modules.
#
# Everything lands in $VFIO_NG_CACHE (default /var/cache/vfio-pci-ng), outside
# the work tree; the debug kernel is keyed by source version and fragment hash,
# a Debian kernel from another suite (7.3, 7.2) by package version and
# preparation recipe (a symlink $VFIO_NG_CACHE/debian-NAME points at the
# prepared one).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
MATRIX="6.1 6.12 debug 7.3"
# Opt-in kernels: prepared and booted only when named (none at the moment).
OPTIN=""
COMPILE="7.2"

die() { echo "kernels.sh: $*" >&2; exit 1; }
log() { echo "kernels.sh: $*" >&2; }

# Newest installed Debian header tree matching a glob.
newest_headers() {
	local d
	d=$(ls -d /usr/src/$1 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] || return 1
	echo "$d"
}

# Debian kernels from other suites: the headers package name pattern of each.
backport_headers_re() {
	case $1 in
	7.3) echo 'linux-headers-7\.3\.[0-9]+\+deb13-amd64' ;;
	7.2) echo 'linux-headers-7\.2\.[0-9]+\+deb14-amd64' ;;
	*) return 1 ;;
	esac
}

is_backport() { backport_headers_re "$1" >/dev/null; }

# A kernel that is only built for, never booted.
is_compile_only() { case " $COMPILE " in *" $1 "*) return 0 ;; esac; return 1; }

# The prepared tree of such a kernel (through its symlink).
backport_dir() {
	local link=$CACHE/debian-$1
	[ -f "$link/.done" ] || die "kernel $1 is not prepared (scripts/kernels.sh prepare $1)"
	readlink -f "$link"
}

stock_release() {
	local d
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
	local d
	case $1 in
	6.1|6.12) echo "/usr/src/linux-headers-$(stock_release "$1")" ;;
	debug) echo "$CACHE/debug-$(debug_key)/obj" ;;
	*) is_backport "$1" || die "unknown kernel '$1' (matrix: $MATRIX; opt-in: $OPTIN)"
	   d=$(backport_dir "$1") || exit 1
	   echo "$d/obj" ;;
	esac
}

imgdir() {
	case $1 in
	6.1|6.12) echo "$CACHE/image-$(stock_release "$1")" ;;
	debug) echo "$CACHE/debug-$(debug_key)" ;;
	*) is_backport "$1" || die "unknown kernel '$1'"
	   backport_dir "$1" ;;
	esac
}

release() {
	case $1 in
	6.1|6.12) stock_release "$1" ;;
	*) d=$(imgdir "$1") || exit 1
	   cat "$d/release" ;;
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

# One build at a time: a second "prepare debug" (make check's, while setup.sh
# --debug-behind builds it) waits for the first and then finds it done.
prepare_debug() {
	local dir start
	dir=$(imgdir debug)
	[ -f "$dir/.done" ] && return 0
	mkdir -p "$dir"
	exec 9> "$dir.lock"
	if ! flock -n 9; then
		log "waiting for the debug kernel build of another process ($dir/build.log)"
		flock 9
		# Done, or failed: not built a second time in a row.
		[ -f "$dir/.done" ] ||
			die "the debug kernel build of another process failed (log: $dir/build.log)"
		exec 9>&-
		return 0
	fi
	log "building the debug kernel into $dir (about 15 minutes on 2 idle cores, once per machine)"
	start=$(date +%s)
	build_debug "$dir" > "$dir/build.log" 2>&1 || {
		tail -n 30 "$dir/build.log" >&2
		die "debug kernel build failed (log: $dir/build.log)"
	}
	touch "$dir/.done"
	exec 9>&-
	log "debug kernel built in $(($(date +%s) - start)) s"
}

# A Debian kernel from another suite into $1 (see the top of this file).
build_backport() {
	local dir=$1 name=$2 rel=$3 ver=$4 jobs hdr debs pkgs
	jobs=$(($(nproc) + 1))
	rm -rf "$dir/headers" "$dir/root" "$dir/src" "$dir/obj"
	mkdir -p "$dir/headers" "$dir/root" "$dir/src" "$dir/obj"
	# Headers and source first; the image and its modules unless the
	# kernel is compile-only.
	pkgs=("linux-headers-$rel=$ver" "linux-source-$name=$ver")
	is_compile_only "$name" || pkgs+=("linux-binary-$rel=$ver" "linux-modules-$rel=$ver")
	mapfile -t debs < <("$here/apt-private.sh" download "${pkgs[@]}")
	[ ${#debs[@]} -eq ${#pkgs[@]} ] || die "download of the $rel packages failed"
	echo "packages: ${debs[*]##*/}"

	dpkg-deb -x "${debs[0]}" "$dir/headers"
	if ! is_compile_only "$name"; then
		dpkg-deb -x "${debs[2]}" "$dir/root"
		dpkg-deb -x "${debs[3]}" "$dir/root"
		ln -sfn "root/usr/lib/modules/$rel" "$dir/modules"
		extract_vmlinux "$dir/modules/vmlinuz" "$dir/vmlinux"
	fi
	echo "$rel" > "$dir/release"

	# The build tree: Debian's source and config, this machine's compiler.
	hdr=$dir/headers/usr/src/linux-headers-$rel
	dpkg-deb --fsys-tarfile "${debs[1]}" |
		tar -xO "./usr/src/linux-source-$name.tar.xz" |
		tar -xJ -C "$dir/src" --strip-components=1
	cp "$hdr/.config" "$dir/obj/.config"
	make -s -C "$dir/src" O="$dir/obj" olddefconfig
	# What differs from Debian's build: the tool chain's own symbols, and
	# what needs a tool we lack (Rust); kept for the record.
	diff <(grep '^CONFIG_' "$hdr/.config" | sort) \
	     <(grep '^CONFIG_' "$dir/obj/.config" | sort) > "$dir/config.diff" || true
	make -s -C "$dir/src" O="$dir/obj" KERNELRELEASE="$rel" -j"$jobs" modules_prepare
	[ "$(cat "$dir/obj/include/config/kernel.release")" = "$rel" ] ||
		die "the build tree's release is not $rel"
	cp "$hdr/Module.symvers" "$hdr/vmlinux" "$dir/obj/"
	rm -rf "$dir/headers"
}

prepare_backport() {
	local name=$1 re hdrpkg rel ver h dir start
	start=$(date +%s)
	re=$(backport_headers_re "$name")
	if ! "$here/apt-private.sh" update; then
		# Offline: what was prepared last stays in use.
		[ -f "$CACHE/debian-$name/.done" ] || die "cannot reach the archive for $name"
		log "cannot refresh the package lists; keeping $(readlink "$CACHE/debian-$name")"
		return 0
	fi
	hdrpkg=$("$here/apt-private.sh" newest "$re") || true
	[ -n "$hdrpkg" ] || die "no package matches $re"
	rel=${hdrpkg#linux-headers-}
	ver=$("$here/apt-private.sh" apt-cache show --no-all-versions "$hdrpkg" |
		sed -n 's/^Version: //p' | head -n 1)
	h=$(sed -n '/^build_backport()/,/^}/p' "$0" | sha256sum | cut -c1-12)
	dir=$CACHE/debian-$rel-$ver-$h
	if [ ! -f "$dir/.done" ]; then
		log "preparing $name ($rel, $ver) into $dir"
		mkdir -p "$dir"
		build_backport "$dir" "$name" "$rel" "$ver" > "$dir/build.log" 2>&1 || {
			tail -n 30 "$dir/build.log" >&2
			die "preparing $name failed (log: $dir/build.log)"
		}
		touch "$dir/.done"
		log "$name ($rel) prepared in $(($(date +%s) - start)) s"
	fi
	ln -sfn "$(basename "$dir")" "$CACHE/debian-$name.tmp"
	mv -T "$CACHE/debian-$name.tmp" "$CACHE/debian-$name"
}

cmd=${1:-list}
shift || true
case $cmd in
list) case ${1:-} in
	--all) echo $MATRIX $OPTIN ;;
	--compile) echo "$COMPILE" ;;
	*) echo "$MATRIX" ;;
	esac ;;
prepare)
	mkdir -p "$CACHE"
	for k in ${*:-$MATRIX}; do
		case $k in
		debug) prepare_debug ;;
		6.1|6.12) prepare_stock "$k" ;;
		*) is_backport "$k" || die "unknown kernel '$k'"
		   prepare_backport "$k" ;;
		esac
	done ;;
kdir) d=$(kdir "$1"); echo "$d" ;;
vmlinux) d=$(imgdir "$1"); echo "$d/vmlinux" ;;
moddir) d=$(imgdir "$1"); echo "$d/modules" ;;
release) release "$1" ;;
*) die "unknown command '$cmd'" ;;
esac
