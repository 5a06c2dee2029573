#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Debian 12 system that selftests/install-test.py installs the
# vfio-pci-ng-dkms package into: a root filesystem made with mmdebstrap from
# the machine's own apt sources, as an ext4 disk image, with the kernels of
# the matrix that users have (stock 6.1 and 6.12: image and headers, the same
# packages scripts/kernels.sh extracts) and what a passthrough host runs:
# dkms, build-essential, kmod, driverctl, libvirt (libvirtd, socket-activated
# by systemd, as libvirt-daemon-system sets it up), pciutils, systemd.
#
#   install-image.sh prepare    build it unless it is cached (idempotent)
#   install-image.sh dir        its directory (fails when not prepared)
#
# The directory, $VFIO_NG_CACHE/install-image-<key> (default cache
# /var/cache/vfio-pci-ng), is outside the work tree and keyed by what goes in:
# the Debian release, the two kernel releases, the build recipe below and the
# two guest files it bakes in (selftests/install/vfio-ng-test-boot and
# vfio-ng-test.service).  It holds root.img (never written by a test: runs
# boot a copy-on-write overlay of it), initrd.img-<release> of each kernel,
# packages.txt and build.log.  Older images are removed when a new one is
# built.
#
# The archive addresses are not written down anywhere: they are those of the
# machine's own apt sources for the Debian release it runs (its main,
# -updates and -security suites, component main), read at run time with
# "apt-get indextargets" as scripts/apt-private.sh does.  The system's apt
# configuration is never changed.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
KERNELS="6.1 6.12"
GUEST_FILES="$top/selftests/install/vfio-ng-test-boot $top/selftests/install/vfio-ng-test.service"

die() { echo "install-image.sh: $*" >&2; exit 1; }
log() { echo "install-image.sh: $*" >&2; }

codename() {
	local c
	c=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$c" ] || die "no VERSION_CODENAME in /etc/os-release"
	echo "$c"
}

# "deb URI SUITE main" for the release's suites in the machine's apt sources.
sources() {
	local c=$1
	apt-get indextargets --no-release-info \
		--format '$(TARGET_OF) $(RELEASE) $(COMPONENT) $(REPO_URI)' 2>/dev/null |
		awk -v c="$c" '$1 == "deb" && $3 == "main" &&
			($2 == c || $2 == c "-updates" || $2 == c "-security") &&
			!seen[$2]++ { print "deb " $4 " " $2 " main" }'
}

# The kernel releases, one per line, in the order of $KERNELS.
releases() {
	local k
	for k in $KERNELS; do
		"$here/kernels.sh" release "$k" || die "no release for kernel $k (run scripts/setup.sh)"
	done
}

# The image package of each release: the one kernels.sh extracts and boots.
image_package() {
	case $1 in
	6.1.*) echo "linux-image-$1" ;;
	*) echo "linux-image-$1-unsigned" ;;
	esac
}

# Build the root filesystem into $1/root, then root.img.
build_image() {
	local dir=$1 c=$2 root=$1/root rel pkgs mb
	shift 2
	pkgs=(systemd-sysv udev dbus kmod dkms build-essential openssl driverctl
	      libvirt-daemon libvirt-daemon-system libvirt-clients pciutils
	      initramfs-tools zstd)
	for rel in "$@"; do
		pkgs+=("linux-headers-$rel" "$(image_package "$rel")")
	done
	mapfile -t srcs < <(sources "$c")
	[ ${#srcs[@]} -gt 0 ] || die "the apt sources have no 'deb' entry for $c main"
	echo "sources: ${srcs[*]}"
	echo "packages: ${pkgs[*]}"
	rm -rf "$root"
	# Small initramfs (the disk and its file system only); no fsck of the
	# root at boot; nothing scheduled; the test service; a fixed machine
	# id (no first-boot logic).
	mmdebstrap --mode=root --variant=apt --format=directory \
		--aptopt='APT::Install-Recommends "false"' \
		--include="${pkgs[*]}" \
		--essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" &&
			echo MODULES=list > "$1/etc/initramfs-tools/conf.d/vfio-ng-test" &&
			printf "%s\n" virtio_pci virtio_blk ext4 > "$1/usr/share/initramfs-tools/modules.d/vfio-ng-test"' \
		--customize-hook='echo "/dev/vda / ext4 rw,relatime 0 0" > "$1/etc/fstab" &&
			echo vfio-ng-test > "$1/etc/hostname" &&
			echo 0123456789abcdef0123456789abcdef > "$1/etc/machine-id"' \
		--customize-hook="install -D -m 755 '$top/selftests/install/vfio-ng-test-boot' \"\$1/usr/local/sbin/vfio-ng-test-boot\" &&
			install -D -m 644 '$top/selftests/install/vfio-ng-test.service' \"\$1/etc/systemd/system/vfio-ng-test.service\"" \
		--customize-hook='chroot "$1" systemctl enable vfio-ng-test.service &&
			chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer serial-getty@ttyS0.service getty@tty1.service' \
		"$c" "$root" "${srcs[@]}"
	chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' > "$dir/packages.txt"

	# The booted kernel is the matrix's: the image must carry the same one.
	for rel in "$@"; do
		check_same_kernel "$root" "$rel"
		[ -f "$root/boot/initrd.img-$rel" ] || die "no initrd.img-$rel in the image"
		cp "$root/boot/initrd.img-$rel" "$dir/initrd.img-$rel"
	done

	mb=$(du -sm "$root" | cut -f1)
	rm -f "$dir/root.img"
	mke2fs -q -t ext4 -L vfio-ng-root -d "$root" "$dir/root.img" "$((mb + 1536))M"
	rm -rf "$root"
}

# The vmlinuz of release $2 in root $1 is the one of the matrix's kernel.
check_same_kernel() {
	local root=$1 rel=$2 k boot
	for k in $KERNELS; do
		[ "$("$here/kernels.sh" release "$k")" = "$rel" ] || continue
		boot="$(dirname "$("$here/kernels.sh" vmlinux "$k")")/root/boot/vmlinuz-$rel"
		cmp -s "$root/boot/vmlinuz-$rel" "$boot" && return 0
		die "the image's vmlinuz-$rel differs from the matrix's ($boot)"
	done
	die "release $rel is not a kernel of $KERNELS"
}

key() {
	local c=$1
	shift
	{
		echo "$c $*"
		sed -n '/^build_image()/,/^}/p' "$0"
		cat $GUEST_FILES
	} | sha256sum | cut -c1-12
}

imgdir() {
	local c
	c=$(codename)
	mapfile -t rels < <(releases)
	echo "$CACHE/install-image-$c-$(key "$c" "${rels[@]}")"
}

prepare() {
	local c dir start
	c=$(codename)
	mapfile -t rels < <(releases)
	dir="$CACHE/install-image-$c-$(key "$c" "${rels[@]}")"
	[ -f "$dir/.done" ] && return 0
	command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (run scripts/setup.sh)"
	mkdir -p "$CACHE"
	exec 8>"$CACHE/install-image.lock"
	flock 8
	[ -f "$dir/.done" ] && return 0
	log "building the install-test image ($c, ${rels[*]}) into $dir (a few minutes, once per machine)"
	start=$(date +%s)
	mkdir -p "$dir"
	build_image "$dir" "$c" "${rels[@]}" > "$dir/build.log" 2>&1 || {
		tail -n 30 "$dir/build.log" >&2
		die "the image build failed (log: $dir/build.log)"
	}
	touch "$dir/.done"
	find "$CACHE" -maxdepth 1 -name 'install-image-*' -type d ! -path "$dir" -exec rm -rf {} +
	log "install-test image built in $(($(date +%s) - start)) s ($(du -sh --apparent-size "$dir/root.img" | cut -f1) image, $(du -sh "$dir/root.img" | cut -f1) used)"
}

case ${1:-} in
prepare) prepare ;;
dir) d=$(imgdir)
     [ -f "$d/.done" ] || die "the install-test image is not prepared (scripts/install-image.sh prepare)"
     echo "$d" ;;
*) die "usage: install-image.sh prepare | dir" ;;
esac
