# SPDX-License-Identifier: GPL-2.0-only
#
# vfio-pci-ng
#
#   make                 build vfio-pci.ko for every kernel of the matrix
#   make KDIR=<dir>      build for one kernel build tree (into build/custom)
#   make run             set up, build, boot a VM with our driver, run the demo
#   make check           set up, build (W=1 + sparse) for the matrix and the
#                        compile-only kernels, checkpatch, then every test on
#                        every kernel of the matrix, with our driver and the
#                        in-tree one
#   make bench           set up, build, then benchmark our driver against the
#                        in-tree one on every kernel (one VM boot per kernel;
#                        never fails on a timing)
#   make setup           install what is missing and prepare the kernel matrix
#                        and the Debian 12 image of the install test
#   make deb             the vfio-pci-ng-dkms package (build/*.deb), lintian
#   make install         vfio-pci.ko for one kernel (KDIR=..., default: the
#                        running one) into its updates/ directory, depmod
#   make uninstall       remove what make install put there
#   make upstream-selftests  build the upstream kernel VFIO selftests (of the
#                        7.3 source) that make check runs (selftests/upstream)
#   make clean
#
# Kernels are prepared by scripts/kernels.sh into $(VFIO_NG_CACHE)
# (default /var/cache/vfio-pci-ng), outside the work tree.

KERNELS ?= $(shell scripts/kernels.sh list)
# Built for by make check and make setup, never booted (kernels.sh list --compile).
COMPILE_KERNELS ?= $(shell scripts/kernels.sh list --compile)
RUN_KERNEL ?= 6.12
PYTHON ?= python3

ifneq ($(KDIR),)
all:
	scripts/build-module.sh $(KDIR) build/custom
else
all: $(addprefix module-,$(KERNELS))
endif

module-%:
	scripts/build-module.sh "$$(scripts/kernels.sh kdir $*)" build/$*

sparse-%:
	scripts/build-module.sh "$$(scripts/kernels.sh kdir $*)" build/$* sparse

setup:
	scripts/setup.sh --install-image $(KERNELS) $(COMPILE_KERNELS)
	scripts/sparse.sh path >/dev/null

selftests:
	$(MAKE) -C selftests

# The upstream kernel VFIO selftests of the 7.3 source, patched (selftests/upstream).
upstream-selftests:
	selftests/upstream/build.sh

checkpatch:
	scripts/checkpatch.sh

run:
	scripts/setup.sh $(RUN_KERNEL)
	$(MAKE) module-$(RUN_KERNEL) selftests
	$(PYTHON) selftests/vmtest.py --kernel $(RUN_KERNEL) --mode ng \
		--module build/$(RUN_KERNEL)/vfio-pci.ko --topology edu \
		--cmd /tests/vfio-demo

# The debug kernel builds behind everything else (at nice 10, while the other
# kernels' VMs run): its runs start when it and our module for it are built.
LATE_KERNELS := $(filter debug,$(KERNELS))

check:
	scripts/setup.sh --install-image --debug-behind $(KERNELS) $(COMPILE_KERNELS)
	$(MAKE) $(addprefix sparse-,$(filter-out $(LATE_KERNELS),$(KERNELS)) $(COMPILE_KERNELS)) \
		selftests upstream-selftests checkpatch
	$(MAKE) deb
	$(PYTHON) selftests/check.py --kernels "$(KERNELS)" \
		$(addprefix --late-kernel ,$(LATE_KERNELS))

bench:
	scripts/setup.sh $(KERNELS)
	$(MAKE) $(addprefix module-,$(KERNELS)) selftests
	$(PYTHON) selftests/bench.py --kernels "$(KERNELS)"

# The Debian package (scripts/deb.sh): build/vfio-pci-ng-dkms_<version>_all.deb.
deb:
	scripts/deb.sh build

# One kernel, from the work tree (scripts/install.sh).
install:
	scripts/install.sh install $(KDIR)

uninstall:
	scripts/install.sh uninstall $(KDIR)

# vfio-pci-ng diagnose [BDF...] (tools/diagnose): build/vfio-pci-ng
diagnose:
	mkdir -p build
	$(CC) -O2 -Wall -Wextra -o build/vfio-pci-ng tools/diagnose/vfio-pci-ng.c

clean:
	rm -rf build
	$(MAKE) -C selftests clean

.PHONY: all setup selftests upstream-selftests checkpatch run check bench clean
.PHONY: deb install uninstall diagnose
