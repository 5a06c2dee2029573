#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of selftests/bench.py, run as vmtest's --cmd in one boot:
# for each round, load one vfio-pci, run a vfio-bench pass, then the other,
# alternating which goes first (A B, B A, A B, ...). Each pass starts from a
# fresh module load; vfio-bench binds the devices (their driver_override
# stays "vfio-pci" across the swaps).
#
#   bench-guest.sh ROUNDS "IN-TREE MODULES" OUR_MODULE [vfio-bench options]
#
# IN-TREE MODULES: guest paths, load order (vfio-pci-core first). Lines for
# the host: "@@BENCH pass <round> <intree|ours>", "benchinfo ...", and
# vfio-bench's own. vmtest's /init loaded our module before this runs and
# unloads whichever vfio_pci is left at the end.

rounds=$1
intree=$2
ours=$3
shift 3

loaded() { grep -q "^$1 " /proc/modules; }

unload() {
	if loaded vfio_pci; then rmmod vfio_pci || return 1; fi
	if loaded vfio_pci_core; then rmmod vfio_pci_core || return 1; fi
	return 0
}

load() {
	unload || { echo "benchinfo cannot unload vfio_pci"; return 1; }
	case $1 in
	intree)
		for ko in $intree; do
			insmod "$ko" || { echo "benchinfo insmod $ko failed"; return 1; }
		done
		loaded vfio_pci_core || { echo "benchinfo in-tree vfio_pci_core missing"; return 1; }
		;;
	ours)
		insmod "$ours" || { echo "benchinfo insmod $ours failed"; return 1; }
		loaded vfio_pci_core && { echo "benchinfo vfio_pci_core loaded with ours"; return 1; }
		;;
	esac
	return 0
}

echo "benchinfo guest $(uname -r), loadavg $(cat /proc/loadavg), $(grep -c ^processor /proc/cpuinfo) vCPUs"
status=0
r=0
while [ $r -lt "$rounds" ]; do
	if [ $((r % 2)) -eq 0 ]; then order="intree ours"; else order="ours intree"; fi
	for drv in $order; do
		if ! load $drv; then
			status=1
			break 2
		fi
		echo "@@BENCH pass $r $drv"
		echo "benchinfo module vfio_pci version=$(cat /sys/module/vfio_pci/version 2>/dev/null || echo none) srcversion=$(cat /sys/module/vfio_pci/srcversion 2>/dev/null)"
		start=$(cut -d' ' -f1 /proc/uptime)
		/tests/vfio-bench -q "$@" || echo "benchinfo vfio-bench exited with $?"
		echo "benchinfo pass took $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
	done
	r=$((r + 1))
done
echo "@@BENCH end"
exit $status
