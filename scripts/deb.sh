#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# "make deb": the vfio-pci-ng-dkms package, built with Debian's own tools
# (dpkg-buildpackage, debhelper, dh-dkms) and checked with lintian.
#
#   deb.sh [OUTDIR]      (default: build)
#
# The package's version is the module's: VFIO_PCI_NG_VERSION in
# vfio_pci_private.h, the one place it is defined (MODULE_VERSION, and
# dkms.conf reads it there too).  In OUTDIR/deb, a copy of what the package
# needs (the driver's sources, dkms.conf, the two build scripts, README.md,
# debian/) gets a debian/changelog for that version, dated by the last commit,
# and the builder's name as Maintainer (DEBFULLNAME and DEBEMAIL, else git's
# user.name and user.email, else the last commit's author).  The native source package and the binary
# package are built there; the .deb is copied to OUTDIR.  lintian's output
# goes to OUTDIR/deb/lintian.txt; an error or warning fails the build (what
# lintian still says at info level is explained in debian/ and README.md).

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build}

die() { echo "deb.sh: $*" >&2; exit 1; }

for tool in dpkg-buildpackage dh dh_dkms lintian; do
	command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup.sh)"
done

version=$(sed -n 's/^#define[[:space:]]*VFIO_PCI_NG_VERSION[[:space:]]*"\([^"]*\)".*/\1/p' \
	"$top/vfio_pci_private.h")
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] ||
	die "no usable VFIO_PCI_NG_VERSION in vfio_pci_private.h ('$version')"

name=${DEBFULLNAME:-$(git -C "$top" config user.name 2>/dev/null || true)}
email=${DEBEMAIL:-$(git -C "$top" config user.email 2>/dev/null || true)}
if [ -z "$name" ] || [ -z "$email" ]; then
	name=$(git -C "$top" log -1 --format=%an 2>/dev/null || true)
	email=$(git -C "$top" log -1 --format=%ae 2>/dev/null || true)
fi
[ -n "$name" ] && [ -n "$email" ] ||
	die "who builds the package? set DEBFULLNAME and DEBEMAIL (or git's user.name and user.email)"

if git -C "$top" rev-parse --verify -q HEAD >/dev/null; then
	date=$(git -C "$top" log -1 --format=%cD)
	commit=$(git -C "$top" describe --always --dirty --abbrev=12)
	what="Built from git commit $commit."
else
	date=$(date -R)
	what="Built from a source tree without git history."
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/deb
src=$work/vfio-pci-ng-$version
rm -rf "$work"
mkdir -p "$src/scripts"
cp -p "$top"/Kbuild "$top"/vfio_pci_*.c "$top"/vfio_pci_*.h "$top"/dkms.conf \
	"$top"/README.md "$src/"
cp -p "$top"/scripts/compat-probe.sh "$top"/scripts/install-build.sh "$src/scripts/"
cp -pr "$top"/debian "$src/"
echo README.md > "$src/debian/docs"
sed -i "s|@MAINTAINER@|$name <$email>|" "$src/debian/control"
cat > "$src/debian/changelog" <<EOF
vfio-pci-ng ($version) bookworm; urgency=medium

  * vfio-pci-ng $version (the module's MODULE_VERSION).
  * $what

 -- $name <$email>  $date
EOF

(cd "$src" && dpkg-buildpackage -us -uc --build=full) > "$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	die "dpkg-buildpackage failed (log: $work/build.log)"
}

deb=vfio-pci-ng-dkms_${version}_all.deb
[ -f "$work/$deb" ] || die "no $deb was built (log: $work/build.log)"
cp "$work/$deb" "$out/$deb"

rc=0
lintian --display-info --display-experimental --pedantic --fail-on error,warning \
	"$work/vfio-pci-ng_${version}_"*.changes > "$work/lintian.txt" 2>&1 || rc=$?
# Not a tag: lintian's advice when it runs as root (make check does).
sed -i '/^running with root privileges is not recommended!$/d' "$work/lintian.txt"
if [ -s "$work/lintian.txt" ]; then
	echo "deb.sh: lintian:"
	sed 's/^/    /' "$work/lintian.txt"
else
	echo "deb.sh: lintian: no tags"
fi
[ $rc -eq 0 ] || die "lintian found errors or warnings (above)"
echo "deb.sh: $out/$deb ($(stat -c %s "$out/$deb") bytes)"
