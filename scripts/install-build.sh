#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build vfio-pci.ko for one kernel the way an installation does: DKMS runs it
# in its copy of the sources (dkms.conf), "make install" through
# scripts/install.sh.
#
#   install-build.sh KDIR [OUTDIR]
#
# First the checks that turn "this kernel cannot take the driver" into one
# sentence instead of compiler errors: KDIR is a configured kernel build tree
# (the linux-headers package of the kernel), Linux 6.1 or newer, with the
# vfio core and the in-tree vfio-pci core (whose options select the virqfd
# and irqbypass support the driver uses).  Then the compat probes
# (scripts/compat-probe.sh) and kbuild.  Unlike scripts/build-module.sh, the
# developers' build (W=1, sparse, any warning fails), a compiler warning does
# not stop an installation.  OUTDIR (default: the directory of the sources)
# gets links to the sources, the generated probe header and vfio-pci.ko.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "vfio-pci-ng: $*" >&2
	exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: install-build.sh KDIR [OUTDIR]"
[ -d "$1" ] || die "no kernel build tree at $1: install the headers of that kernel (Debian: linux-headers-<release>)"
kdir=$(cd "$1" && pwd)
out=${2:-$top}

release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
	"$kdir/include/generated/utsrelease.h" 2>/dev/null) || true
if [ ! -f "$kdir/Makefile" ] || [ ! -f "$kdir/.config" ] || [ -z "$release" ]; then
	die "$kdir is not a configured kernel build tree: install the headers of the kernel (Debian: linux-headers-<release>)"
fi
[ -f "$kdir/Module.symvers" ] ||
	die "$kdir has no Module.symvers: the kernel build tree is not complete (Debian: linux-headers-$release)"

# 6.1 or newer: major.minor of the release.
major=${release%%.*}
minor=${release#*.}
minor=${minor%%[!0-9]*}
if ! [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || ((major < 6 || (major == 6 && minor < 1))); then
	die "Linux $release is not supported: vfio-pci-ng needs 6.1 or newer"
fi

for opt in PCI VFIO VFIO_PCI_CORE; do
	grep -Eq "^CONFIG_$opt=[ym]" "$kdir/.config" ||
		die "Linux $release is built without CONFIG_$opt: vfio-pci-ng needs the kernel's vfio core (CONFIG_VFIO, CONFIG_VFIO_PCI_CORE)"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$out" != "$top" ]; then
	for f in "$top"/Kbuild "$top"/vfio_pci_*.c "$top"/vfio_pci_*.h; do
		ln -sfn "$f" "$out/$(basename "$f")"
	done
	find "$out" -maxdepth 1 -xtype l -delete
fi

echo "vfio-pci-ng: building vfio-pci.ko for Linux $release ($kdir)"
bash "$top/scripts/compat-probe.sh" "$kdir" "$out/vfio_pci_compat_probes.h"
make -C "$kdir" M="$out" -j"$(nproc)" modules ||
	die "the build of vfio-pci.ko for Linux $release failed (messages above)"
[ -f "$out/vfio-pci.ko" ] || die "the build for Linux $release made no vfio-pci.ko"
echo "vfio-pci-ng: built $out/vfio-pci.ko for Linux $release"
