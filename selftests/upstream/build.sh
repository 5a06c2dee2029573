#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the upstream kernel VFIO selftests (tools/testing/selftests/vfio) of
# the Linux 7.3 source that scripts/kernels.sh prepares, as they are, with
# the few patches of patches/ (see README.md) and our edu driver.
#
#   build.sh [OUTDIR]      (default: build/upstream)
#
# OUTDIR/khdr   the 7.3 uapi headers ("make headers" of the source tree)
# OUTDIR/tree   a patched copy of tools/testing/selftests/vfio, with links
#               to what else of the source tree it uses; the source tree
#               itself is never written
# OUTDIR/obj    the build (static binaries)
# OUTDIR/out    what the guest gets: the runner t_upstream and the
#               binaries, for vmtest.py --tests OUTDIR/out
#
# Idempotent: nothing is rebuilt when the source tree, the patches, the edu
# driver and this script are unchanged.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-$repo/build/upstream}")
KERNEL=7.3
TESTS="vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test
       vfio_pci_device_test vfio_pci_device_init_perf_test vfio_pci_driver_test
       vfio_pci_sriov_uapi_test"

die() { echo "upstream/build.sh: $*" >&2; exit 1; }
log() { echo "upstream/build.sh: $*" >&2; }

# The source comes with the $KERNEL tree (make setup prepares it).
if ! kdir=$("$repo/scripts/kernels.sh" kdir $KERNEL 2>/dev/null); then
	"$repo/scripts/kernels.sh" prepare $KERNEL
	kdir=$("$repo/scripts/kernels.sh" kdir $KERNEL)
fi
src=$(realpath "$kdir/../src")
sft=tools/testing/selftests
[ -d "$src/$sft/vfio" ] || die "$src has no $sft/vfio"

key=$( { echo "$src"; cat "$here"/patches/*.patch "$here"/drivers/edu/edu.c \
	"$here/t_upstream" "$0"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
rm -f "$out/.key"
mkdir -p "$out"

# The uapi headers, once per source tree (a minute or two).
if [ "$(cat "$out/khdr/.src" 2>/dev/null)" != "$src" ]; then
	log "installing the $KERNEL uapi headers into $out/khdr"
	rm -rf "$out/khdr"
	make -s -C "$src" O="$out/khdr" headers
	echo "$src" > "$out/khdr/.src"
fi

# The tree: top_srcdir of the selftests' lib.mk.
tree=$out/tree
rm -rf "$tree" "$out/obj" "$out/out"
mkdir -p "$tree/$sft" "$tree/usr" "$tree/tools"
for d in scripts drivers tools/include; do
	ln -s "$src/$d" "$tree/$d"
done
ln -s "$out/khdr/usr/include" "$tree/usr/include"
for f in lib.mk kselftest.h kselftest_harness.h kselftest; do
	ln -s "$src/$sft/$f" "$tree/$sft/$f"
done
cp -a "$src/$sft/vfio" "$tree/$sft/vfio"
mkdir -p "$tree/$sft/vfio/lib/drivers/edu"
cp "$here/drivers/edu/edu.c" "$tree/$sft/vfio/lib/drivers/edu/edu.c"
for p in "$here"/patches/*.patch; do
	patch -s -p1 --fuzz=0 -d "$tree" < "$p" || die "$(basename "$p") does not apply"
done

make -s -C "$tree/$sft/vfio" OUTPUT="$out/obj" USERLDFLAGS=-static \
	-j"$(nproc)"

mkdir -p "$out/out"
install -m 0755 "$here/t_upstream" "$out/out/t_upstream"
for t in $TESTS; do
	install -m 0755 -s "$out/obj/$t" "$out/out/$t"
done
echo "$key" > "$out/.key"
log "built in $out/out"
