#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The sparse that build-module.sh runs (C=2) for every kernel.
#
#   sparse.sh path     build it if missing; print the path of the binary
#
# Linux 6.14 and later accept a checker only when it understands
# __typeof_unqual__ (scripts/checker-valid.sh); Debian 12's sparse 0.6.4
# does not, and kbuild then skips sparse with a note.  So sparse is built
# here from Debian's own source package (sid, reached through the private
# apt configuration of scripts/apt-private.sh: source package, Debian's
# patches, this machine's gcc) into $VFIO_NG_CACHE/sparse-VERSION-HASH,
# outside the work tree, and used for every kernel of the matrix, so that
# all of them are checked by the same sparse.  Nothing is installed.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}

die() { echo "sparse.sh: $*" >&2; exit 1; }
log() { echo "sparse.sh: $*" >&2; }

# Debian's sparse is patched to build and run with its default gcc
# (gcc-16 in sid); this one is built with and uses this machine's gcc.
build_sparse() {
	local dsc=$1 dir=$2
	rm -rf "$dir/src" "$dir/bin"
	mkdir -p "$dir/bin"
	dpkg-source --no-check -x "$dsc" "$dir/src"
	make -C "$dir/src" -j"$(($(nproc) + 1))" CC=gcc HAVE_LLVM=no HAVE_GTK=no \
		HAVE_LIBXML=no HAVE_SQLITE=no sparse
	cp "$dir/src/sparse" "$dir/bin/sparse"
	rm -rf "$dir/src"
	# The test of kbuild's scripts/checker-valid.sh (Linux 6.14+).
	printf 'static inline int u(const int *q)\n{\n\t__typeof_unqual__(*q) v = *q;\n\treturn v;\n}\n' \
		> "$dir/unqual.c"
	if "$dir/bin/sparse" "$dir/unqual.c" 2>&1 | grep -q error; then
		die "the sparse built from $dsc does not know __typeof_unqual__"
	fi
	rm -f "$dir/unqual.c"
}

path() {
	local link=$CACHE/sparse dsc ver h dir start
	# Offline or already built: the last one built stays in use.
	if [ -x "$link/bin/sparse" ] && ! "$here/apt-private.sh" update 2>/dev/null; then
		echo "$(readlink -f "$link")/bin/sparse"
		return 0
	fi
	dsc=$("$here/apt-private.sh" source sparse) || die "no sparse source package"
	ver=$(basename "$dsc" .dsc)
	ver=${ver#sparse_}
	h=$(sed -n '/^build_sparse()/,/^}/p' "$0" | sha256sum | cut -c1-12)
	dir=$CACHE/sparse-$ver-$h
	if [ ! -f "$dir/.done" ]; then
		start=$(date +%s)
		log "building sparse $ver into $dir"
		mkdir -p "$dir"
		build_sparse "$dsc" "$dir" > "$dir/build.log" 2>&1 || {
			tail -n 30 "$dir/build.log" >&2
			die "sparse build failed (log: $dir/build.log)"
		}
		touch "$dir/.done"
		log "sparse $ver built in $(($(date +%s) - start)) s"
	fi
	ln -sfn "$(basename "$dir")" "$CACHE/sparse.tmp"
	mv -T "$CACHE/sparse.tmp" "$link"
	echo "$dir/bin/sparse"
}

case ${1:-} in
path) path ;;
*) die "usage: sparse.sh path" ;;
esac
