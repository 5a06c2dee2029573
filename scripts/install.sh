#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# "make install" and "make uninstall": vfio-pci.ko for one kernel, from the
# work tree, in the same place as the DKMS package puts it (the kernel's
# updates/ directory, which depmod prefers over the in-tree module).
#
#   install.sh install [KDIR]      build (scripts/install-build.sh, into
#                                  build/install/<release>) and install
#   install.sh uninstall [KDIR]    remove what install put there
#
# KDIR defaults to the running kernel's build tree
# (/lib/modules/$(uname -r)/build).  The module goes to
# $INSTALL_MOD_PATH/lib/modules/<release>/updates/vfio-pci.ko and depmod runs
# for that kernel.  When DKMS's key for Secure Boot exists
# (/var/lib/dkms/mok.key and mok.pub, see README.md), the module is signed
# with it, as DKMS would.  A kernel where the vfio-pci-ng-dkms package (or
# "dkms install") already put the module is refused: two copies in updates/
# would leave the choice to depmod.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }

cmd=${1:-}
kdir=${2:-/lib/modules/$(uname -r)/build}
[ -d "$kdir" ] || die "no kernel build tree at $kdir: install the kernel's headers or give KDIR"
kdir=$(cd "$kdir" && pwd)
release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
	"$kdir/include/generated/utsrelease.h" 2>/dev/null) || true
[ -n "$release" ] || die "$kdir is not a configured kernel build tree"
moddir=${INSTALL_MOD_PATH:-}/lib/modules/$release
dest=$moddir/updates/vfio-pci.ko
mok_key=/var/lib/dkms/mok.key
mok_cert=/var/lib/dkms/mok.pub

depmod_run() {
	if [ -n "${INSTALL_MOD_PATH:-}" ]; then
		depmod -b "$INSTALL_MOD_PATH" -a "$release"
	else
		depmod -a "$release"
	fi
}

case $cmd in
install)
	if compgen -G "$moddir/updates/dkms/vfio-pci.ko*" >/dev/null; then
		die "DKMS already installed vfio-pci-ng for $release ($moddir/updates/dkms): remove it first (apt remove vfio-pci-ng-dkms, or dkms remove vfio-pci-ng/<version> -k $release)"
	fi
	out=$top/build/install/$release
	bash "$top/scripts/install-build.sh" "$kdir" "$out"
	mkdir -p "$moddir/updates"
	install -m 644 "$out/vfio-pci.ko" "$dest.tmp"
	if [ -f "$mok_key" ] && [ -f "$mok_cert" ] && [ -x "$kdir/scripts/sign-file" ]; then
		hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$/\1/p' "$kdir/.config")
		"$kdir/scripts/sign-file" "${hash:-sha512}" "$mok_key" "$mok_cert" "$dest.tmp"
		echo "install.sh: signed with $mok_key"
	fi
	mv "$dest.tmp" "$dest"
	depmod_run
	echo "install.sh: installed $dest"
	if [ -z "${INSTALL_MOD_PATH:-}" ] && [ "$release" = "$(uname -r)" ] &&
	   [ -e /sys/module/vfio_pci ] && [ ! -e /sys/module/vfio_pci/version ]; then
		echo "install.sh: the in-tree vfio-pci is loaded; unload it (rmmod vfio_pci) for this one to load"
	fi
	;;
uninstall)
	if [ ! -e "$dest" ]; then
		echo "install.sh: nothing to remove for $release ($dest does not exist)"
		exit 0
	fi
	rm -f "$dest"
	depmod_run
	echo "install.sh: removed $dest"
	if [ -z "${INSTALL_MOD_PATH:-}" ] && [ "$release" = "$(uname -r)" ] &&
	   [ -e /sys/module/vfio_pci/version ]; then
		echo "install.sh: ours is still loaded; rmmod vfio_pci to go back to the in-tree vfio-pci"
	fi
	;;
*)
	die "usage: install.sh install|uninstall [KDIR]"
	;;
esac
