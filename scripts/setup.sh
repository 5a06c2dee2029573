#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install what a fresh Debian 12 machine lacks (Debian packages only), then
# prepare the kernel matrix (scripts/kernels.sh prepare).  Idempotent: a
# warm machine costs a few dpkg queries.
#
#   setup.sh [--no-kernels] [--install-image] [--debug-behind] [KERNEL...]
#
# --install-image: also the Debian 12 image of the install test
# (scripts/install-image.sh), built while the other kernels are prepared.
# --debug-behind: start the debug kernel build (when it is missing) at nice 10
# and return without waiting for it; "kernels.sh prepare debug" waits for it
# later (make check: selftests/check.py --late-kernel debug, while the other
# kernels' VMs run).

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

prepare=1
image=0
behind=0
while [ $# -gt 0 ]; do
	case $1 in
	--no-kernels) prepare=0 ;;
	--install-image) image=1 ;;
	--debug-behind) behind=1 ;;
	*) break ;;
	esac
	shift
done

installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

apt_updated=0
apt_install() {
	local missing=() p
	for p in "$@"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ $apt_updated -eq 0 ]; then
		apt-get update -q >/dev/null
		apt_updated=1
	fi
	echo "setup: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# Build, static checks, VM tests.
apt_install build-essential gcc make bc flex bison libelf-dev libssl-dev dwarves \
	kmod cpio xz-utils zstd python3 sparse perl \
	linux-headers-amd64 linux-source-6.12 qemu-system-x86 busybox-static
# The upstream kernel VFIO selftests (selftests/upstream/build.sh): patched,
# linked statically with libuuid.
apt_install patch uuid-dev
# Real VFIO clients, run in the guests from the host's root (selftests/clients):
# QEMU itself (above; SeaBIOS's bios-256k.bin comes with it) and DPDK's
# testpmd, which Debian ships in dpdk-dev.
apt_install seabios dpdk-dev
# QEMU 10 of bookworm-backports for the igb topology (selftests/vmtest.py):
# extracted into the cache through the private apt configuration, never
# installed (scripts/qemu10.sh).
"$here/qemu10.sh" prepare >/dev/null

# The newest Debian 6.12 kernel for bookworm: headers to build against, the
# image to boot (kernels.sh extracts the image, it is never installed).
newest_612=$(apt-cache pkgnames linux-headers-6.12. 2>/dev/null |
	grep -E '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)
if [ -z "$newest_612" ]; then
	apt-get update -q >/dev/null
	apt_updated=1
	newest_612=$(apt-cache pkgnames linux-headers-6.12. |
		grep -E '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)
fi
[ -n "$newest_612" ] || { echo "setup: no Debian 6.12 kernel headers found" >&2; exit 1; }
apt_install "$newest_612"

# The package build and its test (make deb, selftests/install-test.py).
apt_install debhelper dh-dkms lintian mmdebstrap qemu-utils

# The image needs the stock kernels only; it spends its time on downloads
# and dpkg more than on the CPU, so it is built in the background.
image_pid=
if [ $image -eq 1 ]; then
	"$here/kernels.sh" prepare 6.1 6.12
	"$here/install-image.sh" prepare &
	image_pid=$!
fi
# The debug kernel build is the long step of a cold setup (about 15 minutes
# on 2 idle cores); the other kernels are mostly downloads and extraction,
# so they are prepared alongside it rather than after it, and with
# --debug-behind nothing waits for it here.
debug_pid=
if [ $prepare -eq 1 ]; then
	others=()
	for k in "$@"; do
		if [ "$k" = debug ] && [ $behind -eq 1 ]; then
			nice -n 10 "$here/kernels.sh" prepare debug &
		elif [ "$k" = debug ]; then
			"$here/kernels.sh" prepare debug &
			debug_pid=$!
		else
			others+=("$k")
		fi
	done
	if [ ${#others[@]} -gt 0 ]; then
		"$here/kernels.sh" prepare "${others[@]}"
	fi
fi
if [ -n "$debug_pid" ]; then
	wait "$debug_pid"
fi
if [ -n "$image_pid" ]; then
	wait "$image_pid"
fi
