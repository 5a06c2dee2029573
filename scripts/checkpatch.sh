#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.pl --strict over the driver sources and the selftests' kernel
# modules (selftests/kmod), with the checkpatch of Debian's linux-source-6.12
# (extracted once into the cache).

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VFIO_NG_CACHE:-/var/cache/vfio-pci-ng}
dir="$CACHE/checkpatch-$(dpkg-query -W -f '${Version}' linux-source-6.12)"

if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$dir"
	tar -xf /usr/src/linux-source-6.12.tar.xz -C "$dir" --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi

cd "$top"
# Justified exceptions (see Documentation/vfio-pci-ng.rst, "Style"):
#   LINUX_VERSION_CODE: never used, so no ignore needed for it.
ignore=FILE_PATH_CHANGES
"$dir/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore "$ignore" -f Kbuild vfio_pci_*.c vfio_pci_*.h \
	selftests/kmod/Kbuild selftests/kmod/*.c
