// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module identity: the loaded vfio_pci is the one the run asked for (ours,
 * out-of-tree, in ng mode; the distribution's in baseline mode), it owns the
 * "vfio-pci" PCI driver, and ours carries a MODULE_VERSION.
 */
#include "vfio_test.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SYS_MODULE	"/sys/module/" VT_MODULE

static int read_module_attr(const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SYS_MODULE "/%s", attr);
	return vt_read_file(path, buf, len);
}

static void test_driver_link(void)
{
	vt_ok(access(SYS_MODULE "/drivers/pci:" VT_DRIVER, F_OK) == 0,
	      "module " VT_MODULE " registers PCI driver " VT_DRIVER);
}

static void test_mode_matches(void)
{
	char taint[16] = "";
	int ret = read_module_attr("taint", taint, sizeof(taint));
	bool oot = ret > 0 && strchr(taint, 'O');

	vt_begin("loaded " VT_MODULE " is the %s module",
		 vt_baseline() ? "in-tree" : "out-of-tree");
	if (vt_check_ret(ret, "read " SYS_MODULE "/taint")) {
		vt_diag(VT_MODULE " taint flags '%s'", taint);
		vt_check(oot != vt_baseline(), "taint '%s' in %s mode", taint,
			 vt_baseline() ? "baseline" : "ng");
	}
	vt_end();
}

static void test_version(void)
{
	char version[128] = "";
	int ret;

	if (!vt_extension("the in-tree vfio-pci has no MODULE_VERSION",
			  VT_MODULE " has a MODULE_VERSION"))
		return;
	vt_begin(VT_MODULE " has a MODULE_VERSION");
	ret = read_module_attr("version", version, sizeof(version));
	if (vt_check_ret(ret, "read " SYS_MODULE "/version"))
		vt_check(ret > 0, "empty version");
	vt_diag("version '%s'", version);
	vt_end();
}

int main(void)
{
	if (access(SYS_MODULE, F_OK))
		vt_bail(VT_MODULE " is not loaded");
	vt_plan(3);
	test_driver_link();
	test_mode_matches();
	test_version();
	return vt_finish();
}
