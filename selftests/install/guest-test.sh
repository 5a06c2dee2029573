#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The install test inside the Debian 12 guest of selftests/install-test.py,
# run as root by vfio-ng-test.service on each boot, output on ttyS1.  The
# host's directory of the run is mounted on /run/vfio-ng: run.conf (VERSION:
# the package's, which is the module's; DEB: the package file; BOOTS: how
# many boots the run has), the .deb and this script.  The boot count lives on
# the guest's disk.
#
# Boot 1: install the package as a user does (DKMS builds the module for
# every kernel with headers), check where it went, reboot.  Every later boot
# (the same kernel after that reboot, then each other kernel of the run,
# booted by the host): modprobe, driverctl and libvirt get our vfio-pci.
# The last boot also removes the package (apt purge): the in-tree vfio-pci
# must be back for every kernel, with nothing left behind.
# Lines to the host:
#
#   ok - <what> / not ok - <what>   one check each
#   # <text>                        diagnostics
#   @@INSTALL BOOT <n> <release>    boot n begins
#   @@INSTALL TIME <step> <s>       how long a step took
#   @@INSTALL END <n>               boot n is done; the guest reboots (n = 1)
#                                   or powers off
#   @@INSTALL FAIL <text>           a failure outside a check

set -uo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

run=/run/vfio-ng
state=/var/lib/vfio-ng-test
# shellcheck source=/dev/null
. "$run/run.conf"
kernel=$(uname -r)
edu_id="0x1234 0x11e8"

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
diag() { sed 's/^/# /'; }
# check WHAT CMD...: one check; the command's output goes along on failure.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$what"
	else
		not_ok "$what"
		printf '%s\n' "$out" | tail -n 40 | diag
	fi
}
phase() { echo "vmtest: $*" > /dev/kmsg; }

# Kernels with headers (dkms builds for them), this one first.
kernels_with_headers() {
	local b k
	echo "$kernel"
	for b in /lib/modules/*/build; do
		k=${b#/lib/modules/}
		k=${k%/build}
		[ "$k" != "$kernel" ] && [ -e "$b/include" ] && echo "$k"
	done
}

# What modprobe would load as vfio-pci for kernel $1 is ours.
ours_for() {
	local path ver
	path=$(modinfo -k "$1" -n vfio-pci) || return 1
	ver=$(modinfo -k "$1" -F version vfio-pci)
	echo "$1: $path, version '$ver'"
	[[ $path == /lib/modules/$1/updates/* ]] && [ "$ver" = "$VERSION" ]
}

# ... is the in-tree one, and no vfio-pci is left in updates/.
in_tree_for() {
	local path ver left
	path=$(modinfo -k "$1" -n vfio-pci) || return 1
	ver=$(modinfo -k "$1" -F version vfio-pci)
	left=$(find "/lib/modules/$1/updates" -name 'vfio-pci.ko*' 2>/dev/null)
	echo "$1: $path, version '$ver', left in updates/: '$left'"
	[[ $path == /lib/modules/$1/kernel/drivers/vfio/pci/vfio-pci.ko* ]] &&
		[ -z "$ver" ] && [ -z "$left" ]
}

dkms_installed() {
	dkms status -m vfio-pci-ng -v "$VERSION" -k "$1" | tee /dev/stderr | grep -q ': installed'
}

# How long DKMS's build for kernel $1 took: its make.log starts with the
# date and is last written at the end.
build_time() {
	local log=/var/lib/dkms/vfio-pci-ng/$VERSION/$1/x86_64/log/make.log start
	start=$(sed -n 2p "$log" 2>/dev/null) || return 0
	start=$(date -d "$start" +%s 2>/dev/null) || return 0
	echo "@@INSTALL TIME build-$1 $(($(stat -c %Y "$log") - start))"
}

signed_by_dkms_key() {
	local signer
	signer=$(modinfo -k "$1" -F signer vfio-pci)
	echo "signer '$signer'"
	[ "$signer" = "DKMS module signing key" ] && [ -f /var/lib/dkms/mok.pub ]
}

# The loaded vfio_pci is ours, and the in-tree one's vfio_pci_core is not
# there (ours does not need it).
loaded_is_ours() {
	echo "version '$(cat /sys/module/vfio_pci/version 2>/dev/null)'"
	[ "$(cat /sys/module/vfio_pci/version 2>/dev/null)" = "$VERSION" ] &&
		[ ! -e /sys/module/vfio_pci_core ]
}

loaded_is_in_tree() {
	[ -e /sys/module/vfio_pci ] && [ ! -e /sys/module/vfio_pci/version ]
}

edu_bdf() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor") $(cat "$d/device")" = "$edu_id" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# The edu is bound to the vfio-pci driver of module version $2 ("" for the
# in-tree one), and its VFIO group node exists.
bound_to() {
	local bdf=$1 want=$2 drv mod group ver
	drv=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver" 2>/dev/null)")
	mod=$(basename "$(readlink "/sys/bus/pci/drivers/vfio-pci/module" 2>/dev/null)")
	group=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")")
	ver=$(cat "/sys/module/$mod/version" 2>/dev/null)
	echo "$bdf: driver '$drv', module '$mod' version '$ver', group $group"
	[ "$drv" = vfio-pci ] && [ "$mod" = vfio_pci ] && [ "$ver" = "$want" ] &&
		[ -c "/dev/vfio/$group" ]
}

unbound() {
	local bdf=$1 drv
	drv=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver" 2>/dev/null)")
	echo "$bdf: driver '$drv', driver_override '$(cat "/sys/bus/pci/devices/$bdf/driver_override")'"
	[ -z "$drv" ] && [ "$(cat "/sys/bus/pci/devices/$bdf/driver_override")" = "(null)" ]
}

apt_install() {
	cp "$run/$DEB" /tmp/
	apt install -y "/tmp/$DEB"
}

# virsh reaches libvirtd: systemd starts it through its socket, as
# libvirt-daemon-system sets it up; by hand if that does not work.  (Not
# "virsh version": without a QEMU binary libvirt has no hypervisor version.)
libvirtd_up() {
	local _
	if virsh -c qemu:///system nodedev-list --cap pci >/dev/null; then
		echo "libvirtd.service: $(systemctl is-active libvirtd.service)"
		return 0
	fi
	echo "virsh does not reach libvirtd through systemd: starting it by hand"
	libvirtd -d || return 1
	for _ in $(seq 1 120); do
		virsh -c qemu:///system nodedev-list --cap pci >/dev/null 2>&1 && return 0
		sleep 1
	done
	virsh -c qemu:///system nodedev-list --cap pci
}

modprobe_ours() { modprobe vfio-pci && loaded_is_ours; }
modprobe_in_tree() {
	if [ -e /sys/module/vfio_pci ]; then
		rmmod vfio_pci || return 1
	fi
	modprobe vfio-pci && loaded_is_in_tree
}
driverctl_bind() { driverctl set-override "$1" vfio-pci && bound_to "$1" "$2"; }
# driverctl exits 1 when no other driver takes the device (the edu has
# none): what counts is that it is unbound and its override gone.
driverctl_unbind() {
	driverctl unset-override "$1"
	echo "driverctl exited $?"
	unbound "$1"
}
virsh_detach() { virsh nodedev-detach "$1" && bound_to "$2" "$VERSION"; }
virsh_reattach() { virsh nodedev-reattach "$1" && unbound "$2"; }

no_file_left() {
	local f left=
	[ -s "$state/files" ] || { echo "no file list"; return 1; }
	while read -r f; do
		if [ -f "$f" ] || [ -L "$f" ]; then
			left="$left $f"
		fi
	done < "$state/files"
	echo "left:$left"
	[ -z "$left" ]
}

no_dkms_left() {
	local left
	left=$(ls -d /var/lib/dkms/vfio-pci-ng /usr/src/vfio-pci-ng-* 2>/dev/null)
	echo "left: $left"
	[ -z "$left" ]
}

not_installed() {
	local status
	status=$(dpkg-query -W -f '${db:Status-Abbrev}' vfio-pci-ng-dkms 2>/dev/null)
	echo "dpkg status '$status'"
	[ -z "$status" ] || [ "$status" = "un " ]
}

boot_install() {
	local k start

	phase install-before
	check "before the install, modprobe's vfio-pci is the in-tree one" in_tree_for "$kernel"

	phase install-apt
	start=$(date +%s)
	check "apt install ./$DEB" apt_install
	echo "@@INSTALL TIME install $(($(date +%s) - start))"
	dpkg -L vfio-pci-ng-dkms > "$state/files" 2>/dev/null

	phase install-after
	for k in $(kernels_with_headers); do
		build_time "$k"
		check "$k: DKMS built and installed vfio-pci-ng $VERSION" dkms_installed "$k"
		check "$k: modprobe's vfio-pci is ours (updates/, version $VERSION)" ours_for "$k"
		check "$k: ours is signed with DKMS's MOK key (Secure Boot)" signed_by_dkms_key "$k"
	done
	check "vfio-pci was not loaded by the install" test ! -e /sys/module/vfio_pci
}

# modprobe, driverctl and libvirt get ours; the edu's BDF in $bdf.
boot_use() {
	local dev

	phase install-modprobe
	check "modprobe vfio-pci loads ours" modprobe_ours

	if ! bdf=$(edu_bdf); then
		not_ok "the edu device is there"
		return 1
	fi
	dev=pci_$(echo "$bdf" | tr ':.' '__')

	phase install-driverctl
	check "driverctl set-override $bdf vfio-pci binds it to ours" driverctl_bind "$bdf" "$VERSION"
	check "driverctl unset-override $bdf unbinds it" driverctl_unbind "$bdf"

	phase install-libvirt
	check "rmmod vfio_pci" rmmod vfio_pci
	check "virsh reaches libvirtd" libvirtd_up
	check "virsh nodedev-detach $dev binds it to ours (libvirt loads vfio-pci)" \
		virsh_detach "$dev" "$bdf"
	check "virsh nodedev-reattach $dev gives it back" virsh_reattach "$dev" "$bdf"
}

# The package has no conffiles: "apt remove" leaves dpkg nothing to purge
# (it forgets the package), so the purge is the one way out tested.
boot_remove() {
	local k start

	phase install-apt-purge
	start=$(date +%s)
	check "apt purge vfio-pci-ng-dkms" apt purge -y vfio-pci-ng-dkms
	echo "@@INSTALL TIME purge $(($(date +%s) - start))"

	phase install-after-purge
	for k in $(kernels_with_headers); do
		check "$k: modprobe's vfio-pci is the in-tree one again, updates/ has none" \
			in_tree_for "$k"
	done
	check "the package left no file behind" no_file_left
	check "DKMS keeps nothing of vfio-pci-ng" no_dkms_left
	check "dpkg has no trace of the package" not_installed
	check "modprobe vfio-pci (ours unloaded first) loads the in-tree one" modprobe_in_tree
	check "driverctl set-override $bdf vfio-pci binds it to the in-tree one" \
		driverctl_bind "$bdf" ""
	check "driverctl unset-override $bdf unbinds it" driverctl_unbind "$bdf"
}

mkdir -p "$state"
boot=$(( $(cat "$state/boot" 2>/dev/null || echo 0) + 1 ))
echo "$boot" > "$state/boot"
sync
echo "@@INSTALL BOOT $boot $kernel"
bdf=
if [ "$boot" -gt "$BOOTS" ]; then
	echo "@@INSTALL FAIL unexpected boot $boot of $BOOTS (the guest rebooted by itself?)"
elif [ "$boot" -eq 1 ]; then
	boot_install 2>&1
else
	boot_use 2>&1 && [ "$boot" -eq "$BOOTS" ] && boot_remove 2>&1
fi
sync
echo "@@INSTALL END $boot"
if [ "$boot" -eq 1 ]; then
	systemctl reboot
else
	systemctl poweroff
fi
