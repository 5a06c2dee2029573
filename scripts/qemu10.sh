#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# QEMU 10 (qemu-system-x86 of bookworm-backports) for the topologies that
# need a device QEMU 7.2 lacks (the igb topology of selftests/vmtest.py: an
# 82576 with working SR-IOV VFs).  Downloaded through the private apt
# configuration (scripts/apt-private.sh) and extracted with dpkg-deb -x into
# $VFIO_NG_CACHE/qemu-<version>-<hash>/root; never installed.  Debian's own
# QEMU 7.2 stays the lab's QEMU for everything else.
#
#   qemu10.sh prepare    download and extract it unless already done; prints
#                        the path of the qemu-system-x86_64 wrapper
#   qemu10.sh path       that path if prepared (exit 1 otherwise), offline
#
# Extracted: qemu-system-x86, qemu-system-common, qemu-system-data (their
# versions must match), and every dependency of theirs that this machine
# does not satisfy at the version asked for (dpkg's database), from
# bookworm-backports if it has the package, else from bookworm; on a
# Debian 12 machine with Debian's QEMU 7.2 that is only seabios (QEMU 10
# wants a newer bios-256k.bin).  The dependencies of those are not followed:
# `ldd` must find every library, or preparing fails.
#
# The binary finds its modules (accel-tcg-x86_64.so), firmware and keymaps
# relative to its own directory (QEMU's relocatable paths), so the
# extracted tree needs no configuration and never mixes with Debian's 7.2
# modules in /usr/lib/x86_64-linux-gnu/qemu.  The wrapper ("bin/
# qemu-system-x86_64" in the cache directory) puts the extracted libraries
# first in LD_LIBRARY_PATH and runs the extracted binary.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
SUITE=bookworm-backports
BASE_SUITE=bookworm
PKGS="qemu-system-x86 qemu-system-common qemu-system-data"
LINK=$CACHE/qemu10

die() { echo "qemu10.sh: $*" >&2; exit 1; }
log() { echo "qemu10.sh: $*" >&2; }

apt_private() { "$here/apt-private.sh" "$@"; }

# Version of package $1 in suite $2 of the private configuration, or empty.
suite_version() {
	apt_private apt-cache show --no-all-versions "$1/$2" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n 1
}

# Whether this machine has package $1 installed at a version that meets
# "$2 $3" (relation and version; both empty: any version).
satisfied() {
	local have
	have=$(dpkg-query -W -f '${Status} ${Version}' "$1" 2>/dev/null) || return 1
	case $have in
	"install ok installed "*) have=${have#install ok installed } ;;
	*) return 1 ;;
	esac
	[ -z "$2" ] && return 0
	dpkg --compare-versions "$have" "$2" "$3"
}

# The dependencies of the .deb files "$@" that this machine lacks, as
# "name/suite" (one line each); alternatives ("a | b") are met by either.
missing_deps() {
	local deb alt name rel ver ok
	for deb in "$@"; do
		dpkg-deb -f "$deb" Depends | tr ',' '\n'
	done | sed 's/^ *//; s/ *$//' | sort -u | while read -r alt; do
		[ -n "$alt" ] || continue
		ok=0
		first=
		while read -r name rel ver; do
			name=${name%%:*}
			rel=${rel#(}
			ver=${ver%)}
			[ -n "$first" ] || first=$name
			case $name in qemu-system-*) ok=1; break ;; esac
			if satisfied "$name" "$rel" "$ver"; then
				ok=1
				break
			fi
		done < <(echo "$alt" | tr '|' '\n' | sed 's/^ *//; s/(\([<>=]*\) */(\1 /')
		[ $ok = 1 ] && continue
		if [ -n "$(suite_version "$first" $SUITE)" ]; then
			echo "$first/$SUITE"
		else
			echo "$first/$BASE_SUITE"
		fi
	done
}

prepare() {
	local ver h dir debs deps missing
	if ! apt_private update; then
		# Offline: what was prepared last stays in use.
		[ -x "$LINK/bin/qemu-system-x86_64" ] || die "cannot reach the archive"
		log "cannot refresh the package lists; keeping $(readlink "$LINK")"
		echo "$LINK/bin/qemu-system-x86_64"
		return 0
	fi
	ver=$(suite_version qemu-system-x86 $SUITE)
	[ -n "$ver" ] || die "no qemu-system-x86 in $SUITE"
	h=$(sed -n '/^missing_deps()/,/^}/p; /^extract()/,/^}/p' "$0" | sha256sum | cut -c1-12)
	dir=$CACHE/qemu-${ver#*:}-$h
	if [ ! -f "$dir/.done" ]; then
		log "preparing QEMU $ver ($SUITE) into $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		extract "$dir" "$ver" > "$dir/prepare.log" 2>&1 || {
			tail -n 30 "$dir/prepare.log" >&2
			die "preparing QEMU $ver failed (log: $dir/prepare.log)"
		}
		touch "$dir/.done"
	fi
	ln -sfn "$(basename "$dir")" "$LINK"
	echo "$dir/bin/qemu-system-x86_64"
}

# Download and extract QEMU $2 and what this machine lacks into $1.
extract() {
	local dir=$1 ver=$2 debs deps p lib
	mapfile -t debs < <(for p in $PKGS; do
		apt_private download "$p=$ver"
	done)
	[ ${#debs[@]} -eq "$(echo $PKGS | wc -w)" ] || {
		echo "downloads failed"
		return 1
	}
	mapfile -t deps < <(missing_deps "${debs[@]}")
	echo "missing on this machine: ${deps[*]:-none}"
	if [ ${#deps[@]} -gt 0 ]; then
		mapfile -t -O ${#debs[@]} debs < <(for p in "${deps[@]}"; do
			apt_private download "${p%/*}=$(suite_version "${p%/*}" "${p#*/}")"
		done)
	fi
	[ ${#debs[@]} -eq $(($(echo $PKGS | wc -w) + ${#deps[@]})) ] || {
		echo "downloads failed"
		return 1
	}
	for p in "${debs[@]}"; do
		echo "extracting ${p##*/}"
		dpkg-deb -x "$p" "$dir/root"
	done
	du -sh "$dir/root"
	lib=$dir/root/usr/lib/x86_64-linux-gnu
	mkdir -p "$dir/bin"
	# Modules and firmware are looked up in Debian's absolute paths
	# (/usr/lib/x86_64-linux-gnu/qemu, /usr/share/qemu, /usr/share/seabios),
	# where the system's QEMU 7.2 keeps its own: the extracted ones go
	# first (QEMU_MODULE_DIR, -L).  A module the tree lacks (the GUI
	# ones: never loaded with -display none) would still be taken from
	# 7.2 and refused.
	cat > "$dir/bin/qemu-system-x86_64" <<-EOF
	#!/bin/sh
	# QEMU $ver of $SUITE, extracted by scripts/qemu10.sh
	LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} \\
	QEMU_MODULE_DIR=$lib/qemu \\
		exec $dir/root/usr/bin/qemu-system-x86_64 \\
		-L $dir/root/usr/share/qemu -L $dir/root/usr/share/seabios "\$@"
	EOF
	chmod +x "$dir/bin/qemu-system-x86_64"
	if LD_LIBRARY_PATH=$lib ldd "$dir/root/usr/bin/qemu-system-x86_64" | grep 'not found'; then
		echo "libraries missing"
		return 1
	fi
	"$dir/bin/qemu-system-x86_64" --version
	"$dir/bin/qemu-system-x86_64" -L help
	[ -f "$dir/root/usr/share/seabios/bios-256k.bin" ] || {
		echo "no bios-256k.bin in the tree"
		return 1
	}
	"$dir/bin/qemu-system-x86_64" -device igb,help | grep -q '^igb options' || {
		echo "no igb device"
		return 1
	}
}

case ${1:-} in
prepare) prepare ;;
path)
	[ -x "$LINK/bin/qemu-system-x86_64" ] && [ -f "$LINK/.done" ] || exit 1
	echo "$(readlink -f "$LINK")/bin/qemu-system-x86_64" ;;
*) die "usage: qemu10.sh prepare | path" ;;
esac
