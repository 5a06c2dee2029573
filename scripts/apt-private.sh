#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A private apt configuration for the Debian suites that a Debian 12 machine's
# own apt sources do not carry (trixie-backports for Linux 7.3, sid for 7.2,
# bookworm-backports for QEMU 10, with bookworm for what it depends on).
# Its sources list, package lists, download cache and (empty) dpkg status live
# under $VFIO_NG_CACHE/apt-private; the system's apt sources, lists, cache and
# dpkg database are never read for packages nor written.  Nothing is installed:
# packages are downloaded and then extracted by the caller (dpkg-deb -x).
#
#   apt-private.sh update              refresh the private package lists
#                                      (when older than a day, or missing)
#   apt-private.sh update --force      refresh them now
#   apt-private.sh apt-get ARGS...     apt-get with the private configuration
#   apt-private.sh apt-cache ARGS...   apt-cache with the private configuration
#   apt-private.sh download PKG...     download PKG (name or name=version) into
#                                      the private cache, unless already there;
#                                      prints the path of each .deb
#   apt-private.sh newest REGEX        newest package name matching REGEX
#                                      (whole name, extended regex)
#   apt-private.sh source PKG          download the Debian source package PKG
#                                      (name or name=version, from the suites
#                                      of $SRC_SUITES) into the private cache,
#                                      unless already there; prints the .dsc
#
# A package in several suites: apt's candidate is the highest version (sid's
# or trixie-backports' before bookworm's); callers that want another suite
# name the version (scripts/qemu10.sh looks it up with
# "apt-cache show PKG/bookworm-backports").
#
# The archive address is not written down anywhere: it is the one that the
# machine's own apt sources use for the Debian release it runs (the entry
# whose suite is the codename from /etc/os-release, e.g. "bookworm"), found
# at run time with "apt-get indextargets", which reads sources.list and
# sources.list.d (one-line and deb822 formats) as apt itself does.
# VFIO_NG_DEBIAN_URI overrides it.  Release files are verified with the
# system's Debian archive keyring (bookworm's debian-archive-keyring carries
# the trixie keys, which also sign sid).

set -euo pipefail

CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
APTDIR=$CACHE/apt-private
SUITES=${VFIO_NG_APT_SUITES:-"trixie-backports sid bookworm bookworm-backports"}
# Suites whose source packages are listed too (sparse from sid, see
# scripts/sparse.sh).
SRC_SUITES=${VFIO_NG_APT_SRC_SUITES:-"sid"}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "apt-private.sh: $*" >&2; exit 1; }
log() { echo "apt-private.sh: $*" >&2; }

# The URI of the machine's main Debian archive.
archive_uri() {
	local codename uri
	if [ -n "${VFIO_NG_DEBIAN_URI:-}" ]; then
		echo "${VFIO_NG_DEBIAN_URI%/}/"
		return
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	uri=$(apt-get indextargets --no-release-info \
		--format '$(TARGET_OF) $(RELEASE) $(COMPONENT) $(REPO_URI)' 2>/dev/null |
		awk -v s="$codename" '$1 == "deb" && $2 == s && $3 == "main" { print $4; exit }')
	[ -n "$uri" ] || die "the apt sources have no 'deb' entry for $codename main (set VFIO_NG_DEBIAN_URI)"
	echo "${uri%/}/"
}

# Directories and the sources list; rewritten when the address changed.
setup_dirs() {
	local uri list s
	mkdir -p "$APTDIR"/{etc/sources.list.d,etc/preferences.d,lists/partial,cache/archives/partial,state,sources}
	: > "$APTDIR/state/status.tmp"
	[ -f "$APTDIR/state/status" ] || mv "$APTDIR/state/status.tmp" "$APTDIR/state/status"
	rm -f "$APTDIR/state/status.tmp"
	# apt fetches as _apt (sandbox): it must be able to write the partial dirs.
	if getent passwd _apt >/dev/null && [ "$(id -u)" = 0 ]; then
		chown _apt "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
	fi
	uri=$(archive_uri)
	list=$(for s in $SUITES; do
		echo "deb [arch=amd64 signed-by=$KEYRING] $uri $s main"
	done
	for s in $SRC_SUITES; do
		echo "deb-src [signed-by=$KEYRING] $uri $s main"
	done)
	if [ "$(cat "$APTDIR/etc/sources.list" 2>/dev/null)" != "$list" ]; then
		echo "$list" > "$APTDIR/etc/sources.list"
		rm -f "$APTDIR/lists/.updated"
	fi
}

# Options that make apt use only the private directories.  The system's
# apt.conf.d stays in force (proxy, authentication, sandbox settings).
apt_opts=(
	-o "Dir::Etc::SourceList=$APTDIR/etc/sources.list"
	-o "Dir::Etc::SourceParts=$APTDIR/etc/sources.list.d"
	-o "Dir::Etc::Preferences=$APTDIR/etc/preferences"
	-o "Dir::Etc::PreferencesParts=$APTDIR/etc/preferences.d"
	-o "Dir::State=$APTDIR/state"
	-o "Dir::State::Lists=$APTDIR/lists"
	-o "Dir::State::status=$APTDIR/state/status"
	-o "Dir::State::extended_states=$APTDIR/state/extended_states"
	-o "Dir::Cache=$APTDIR/cache"
	-o "Dir::Cache::archives=$APTDIR/cache/archives"
	-o "Dir::Cache::pkgcache=pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	-o "APT::Get::List-Cleanup=true"
	-o "APT::Update::Post-Invoke::="
	-o "APT::Update::Post-Invoke-Success::="
)

update() {
	local force=${1:-}
	setup_dirs
	if [ "$force" != --force ] && [ -f "$APTDIR/lists/.updated" ] &&
	   [ -z "$(find "$APTDIR/lists/.updated" -mmin +1440)" ]; then
		return 0
	fi
	log "updating the private package lists ($SUITES)"
	apt-get "${apt_opts[@]}" -q update >"$APTDIR/update.log" 2>&1 || {
		cat "$APTDIR/update.log" >&2
		die "apt-get update failed"
	}
	# apt reports some failures (unsigned or missing suites) as warnings.
	if grep -E '^(W|E):' "$APTDIR/update.log" >&2; then
		die "apt-get update reported problems"
	fi
	touch "$APTDIR/lists/.updated"
}

newest() {
	update
	apt-cache "${apt_opts[@]}" pkgnames 2>/dev/null | grep -E "^($1)\$" | sort -V | tail -n 1
}

download() {
	local p name rec ver arch file
	update
	for p in "$@"; do
		name=${p%%=*}
		rec=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$p" 2>/dev/null) ||
			die "no package $p in $SUITES"
		ver=$(sed -n 's/^Version: //p' <<<"$rec" | head -n 1)
		arch=$(sed -n 's/^Architecture: //p' <<<"$rec" | head -n 1)
		[ -n "$ver" ] && [ -n "$arch" ] || die "no installable package $p in $SUITES"
		# apt's file names escape the epoch colon.
		file="$APTDIR/cache/archives/${name}_${ver//:/%3a}_$arch.deb"
		if [ ! -f "$file" ]; then
			log "downloading $name $ver"
			(cd "$APTDIR/cache/archives/partial" &&
			 apt-get "${apt_opts[@]}" -q download "$name=$ver" >/dev/null &&
			 mv "$(basename "$file")" "$file") ||
				die "download of $name=$ver failed"
		fi
		echo "$file"
	done
}

# The source package $1 into $APTDIR/sources/NAME_VERSION (.dsc, tarballs;
# signatures checked by apt against the Sources index).
source_pkg() {
	local p=$1 name rec ver dir dsc
	update
	name=${p%%=*}
	rec=$(apt-cache "${apt_opts[@]}" showsrc --only-source "$name" 2>/dev/null) ||
		die "no source package $name in $SRC_SUITES"
	if [ "$p" != "$name" ]; then
		ver=${p#*=}
	else
		ver=$(sed -n 's/^Version: //p' <<<"$rec" | sort -V | tail -n 1)
	fi
	[ -n "$ver" ] || die "no source package $p in $SRC_SUITES"
	dir=$APTDIR/sources/${name}_${ver//:/%3a}
	dsc=$dir/${name}_${ver#*:}.dsc
	if [ ! -f "$dir/.done" ]; then
		log "downloading the source of $name $ver"
		rm -rf "$dir"
		mkdir -p "$dir"
		[ "$(id -u)" = 0 ] && getent passwd _apt >/dev/null && chown _apt "$dir"
		(cd "$dir" && apt-get "${apt_opts[@]}" -q source --download-only \
			"$name=$ver" >/dev/null) || die "download of the source $name=$ver failed"
		[ -f "$dsc" ] || die "no $dsc after the download"
		touch "$dir/.done"
	fi
	echo "$dsc"
}

cmd=${1:-}
shift || true
case $cmd in
update) update "${1:-}" ;;
apt-get) setup_dirs; apt-get "${apt_opts[@]}" "$@" ;;
apt-cache) setup_dirs; apt-cache "${apt_opts[@]}" "$@" ;;
download) download "$@" ;;
newest) newest "$1" ;;
source) source_pkg "$1" ;;
*) die "usage: apt-private.sh update [--force] | apt-get ARGS | apt-cache ARGS | download PKG... | newest REGEX | source PKG" ;;
esac
