#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build vfio-pci.ko for one kernel in its own output directory, and the
# selftests' test-only vt_inject.ko (OUTDIR/kmod, copied to OUTDIR).
#
#   build-module.sh KDIR OUTDIR [sparse]
#
# The sources are symlinked into OUTDIR so that several kernels build side
# by side; the compat probes run when the kernel tree or the probe script
# changed.  Always W=1; "sparse" adds C=2 with the sparse of
# scripts/sparse.sh.  Any compiler or sparse warning
# fails the build.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$(cd "$1" && pwd)
out=$2
check=${3:-}

mkdir -p "$out"
out=$(cd "$out" && pwd)

for f in "$top"/Kbuild "$top"/*.c "$top"/*.h; do
	ln -sfn "$f" "$out/$(basename "$f")"
done
# Drop links to sources that no longer exist.
find "$out" -maxdepth 1 -xtype l -delete

stamp="$out/.probes-for"
want="$kdir $(sha256sum "$top/scripts/compat-probe.sh" | cut -c1-16)"
if [ ! -f "$out/vfio_pci_compat_probes.h" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	"$top/scripts/compat-probe.sh" "$kdir" "$out/vfio_pci_compat_probes.h"
	echo "$want" > "$stamp"
fi

args=(W=1)
# sparse: the one scripts/sparse.sh builds from Debian's newest source
# package, for every kernel (7.x rejects Debian 12's sparse 0.6.4).
if [ "$check" = sparse ]; then
	sparse=$("$top/scripts/sparse.sh" path) || exit 1
	args+=(C=2 CHECK="$sparse")
fi

# make modules in DIR (M=DIR); any compiler or sparse warning fails.
kbuild() {
	local dir=$1 log=$1/build.log
	if ! make -C "$kdir" M="$dir" -j"$(nproc)" "${args[@]}" modules > "$log" 2>&1; then
		cat "$log" >&2
		echo "build-module: build failed for $kdir ($dir)" >&2
		exit 1
	fi
	if grep -E 'warning:|error:|: sparse:' "$log" | grep -v '^make' >&2; then
		echo "build-module: warnings for $kdir (see $log)" >&2
		exit 1
	fi
	# Kbuild skips a checker it finds too old (Linux 6.14+ needs a newer
	# sparse than Debian 12's) with a note that is not a warning.
	if grep -E 'specified, but .* is not available or not up to date' "$log" >&2; then
		echo "build-module: sparse did not run for $kdir" >&2
		exit 1
	fi
}

kbuild "$out"
echo "build-module: $out/vfio-pci.ko ($(basename "$kdir"))"

# The selftests' test-only modules (selftests/kmod: fault injection), with
# the same checks, in their own directory; the .ko lands next to ours.
kmod="$out/kmod"
mkdir -p "$kmod"
for f in "$top"/selftests/kmod/Kbuild "$top"/selftests/kmod/*.c; do
	ln -sfn "$f" "$kmod/$(basename "$f")"
done
find "$kmod" -maxdepth 1 -xtype l -delete
kbuild "$kmod"
cp "$kmod/vt_inject.ko" "$out/vt_inject.ko"
echo "build-module: $out/vt_inject.ko ($(basename "$kdir"), test only)"
