// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci-ng diagnose (tools/diagnose, shipped next to the tests), in both
 * modes (a userspace tool; the driver line tells ours from the in-tree one):
 * - edu on the root bus, bound: IOMMU on with its group, itself the only
 *   member on vfio-pci, no reset method (a PROBLEM with a fix, exit 1),
 *   INTx and one MSI vector, BAR0 1 MiB mmappable, not held; opened by this
 *   program: held by our pid, and in ng mode the debugfs opener;
 * - an edu behind the bridge: ACS line for the bridge, the group lists the
 *   other edu and what a bus reset would also reset;
 * - the bridge group made non-viable on purpose: the other edu bound to a
 *   host driver (vt_host of the test-only vt_inject.ko): a PROBLEM naming it,
 *   with the unbind as the fix;
 * - a device not bound to vfio-pci: a PROBLEM with its fix;
 * - usage errors: exit 2.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tool[PATH_MAX];
static char out[65536];
static char comm[32];

/* Run the tool with args; its output in out, its exit status returned. */
static int run(const char *args)
{
	char cmd[PATH_MAX + 256];
	size_t n = 0, r;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tool, args);
	out[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n < sizeof(out) - 1 && (r = fread(out + n, 1, sizeof(out) - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has(const char *s)
{
	return vt_check(strstr(out, s) != NULL, "output lacks '%s'", s);
}

static void dump(void)
{
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		vt_diag("| %s", l);
}

static void test_root_edu(const char *bdf)
{
	char want[2048];
	int group = vt_iommu_group(bdf), st;
	struct vt_vfio v;

	vt_begin("edu %s on the root bus: group, no reset, interrupts, BAR0, holder", bdf);
	snprintf(want, sizeof(want), "diagnose %s", bdf);
	st = run(want);
	vt_check_eq(st, 1, "exit status (one problem: no reset method)");
	snprintf(want, sizeof(want), "%s [1234:11e8]", bdf);
	has(want);
	snprintf(want, sizeof(want), "iommu: on (");
	has(want);
	snprintf(want, sizeof(want), ", group %d\n", group);
	has(want);
	snprintf(want, sizeof(want), "group member: %s driver vfio-pci (this device)", bdf);
	has(want);
	has("acs: on a root bus");
	has("reset: none\n");
	has("PROBLEM: no reset method");
	has("interrupts: intx yes, msi 1 vector(s)\n");
	has("bar0: mem 1 MiB, mmap yes\n");
	has(vt_baseline() ? "driver: vfio-pci (in-tree)" : "driver: vfio-pci (vfio-pci-ng ");
	has("held: nobody");
	has("1 problem\n");
	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	snprintf(want, sizeof(want), "diagnose %s", bdf);
	run(want);
	snprintf(want, sizeof(want), "held: pid %d (%s) has /dev/vfio/", getpid(), comm);
	has(want);
	if (!vt_baseline()) {
		snprintf(want, sizeof(want), "vfio-pci-ng: open_count 1, last opener pid %d comm %s",
			 getpid(), comm);
		has(want);
	}
	vt_vfio_close(&v);
out:
	if (!vt_end())
		dump();
}

static void test_bridge(const struct vt_dev *edu, int n)
{
	const char *a, *b;
	char want[2048];

	if (!vt_bridge_pair(edu, n, &a, &b)) {
		vt_skip("no two edus behind a bridge", "bridge group");
		return;
	}
	vt_begin("edu %s behind the bridge: group members, bus reset scope", a);
	vt_check_ret(vt_bind(a), "bind %s", a);
	vt_check_ret(vt_release(b), "release %s", b);
	snprintf(want, sizeof(want), "diagnose %s", a);
	run(want);
	snprintf(want, sizeof(want), "group member: %s driver vfio-pci (this device)", a);
	has(want);
	snprintf(want, sizeof(want), "group member: %s driver (none)\n", b);
	has(want);
	has("acs: ");
	snprintf(want, sizeof(want), " also resets: %s", b);
	vt_check(strstr(out, want) || (strstr(out, "also resets:") &&
				       strstr(strstr(out, "also resets:"), b)),
		 "bus reset line lacks %s", b);
	vt_check_ret(vt_bind(b), "bind %s again", b);
	if (!vt_end())
		dump();
}

/* A group made non-viable: the other edu behind the bridge on a host driver. */
static void test_nonviable(const struct vt_dev *edu, int n)
{
	const char *a, *b, *ko = getenv("VFIO_TEST_INJECT_KO");
	char want[2048], drv[64] = "";
	bool loaded = false;
	int st;

	if (!vt_bridge_pair(edu, n, &a, &b)) {
		vt_skip("no two edus behind a bridge", "non-viable group");
		return;
	}
	if (!ko || !*ko || access(ko, R_OK)) {
		vt_skip("no vt_inject.ko (VFIO_TEST_INJECT_KO)", "non-viable group");
		return;
	}
	vt_begin("group of %s made non-viable: %s on a host driver (vt_host)", a, b);
	vt_check_ret(vt_bind(a), "bind %s", a);
	if (!vt_check_ok(vt_insert_module(ko, "host_driver=1"), "insmod %s host_driver=1", ko))
		goto out;
	loaded = true;
	vt_check_ret(vt_unbind(b), "unbind %s", b);
	vt_check_ret(vt_set_override(b, "vt_host"), "driver_override vt_host");
	vt_check_ret(vt_probe(b), "drivers_probe");
	vt_driver(b, drv, sizeof(drv));
	if (!vt_check(!strcmp(drv, "vt_host"), "%s bound to '%s', not vt_host", b, drv))
		goto out;
	snprintf(want, sizeof(want), "diagnose %s", a);
	st = run(want);
	vt_check_eq(st, 1, "exit status");
	snprintf(want, sizeof(want), "group member: %s driver vt_host\n", b);
	has(want);
	snprintf(want, sizeof(want), "not viable: %s is bound to the host driver vt_host", b);
	has(want);
	snprintf(want, sizeof(want), "fix: echo %s > /sys/bus/pci/drivers/vt_host/unbind", b);
	has(want);
out:
	vt_release(b);
	if (loaded)
		vt_check_ok(vt_delete_module("vt_inject", 0), "rmmod vt_inject");
	vt_check_ret(vt_bind(b), "bind %s again", b);
	if (!vt_end())
		dump();
}

static void test_unbound(const char *bdf)
{
	char args[128];

	vt_begin("a device not bound to vfio-pci (%s): a problem with its fix", bdf);
	vt_check_ret(vt_release(bdf), "release");
	snprintf(args, sizeof(args), "diagnose %s", bdf);
	vt_check_eq(run(args), 1, "exit status");
	has("driver: (none)");
	has("PROBLEM: not bound to vfio-pci");
	has("fix: driverctl set-override");
	vt_check_ret(vt_bind(bdf), "bind again");
	if (!vt_end())
		dump();
}

static void test_usage(void)
{
	vt_begin("usage errors");
	vt_check_eq(run(""), 2, "no command");
	vt_check_eq(run("frobnicate"), 2, "unknown command");
	vt_check_eq(run("diagnose 0000:ff:1f.7"), 2, "no such device");
	has("no PCI device");
	vt_end();
}

int main(int argc, char **argv)
{
	struct vt_dev edu[VT_MAX_DEVS];
	int nedu;

	(void)argc;
	nedu = vt_find_devices(0x1234, 0x11e8, edu, VT_MAX_DEVS);
	if (nedu < 1)
		vt_skip_all("no edu device");
	if (!realpath(argv[0], tool))
		snprintf(tool, sizeof(tool), "%s", argv[0]);
	snprintf(tool + strlen(dirname(tool)), sizeof(tool) - strlen(tool), "/vfio-pci-ng");
	snprintf(comm, sizeof(comm), "%.15s", program_invocation_short_name);
	if (access(tool, X_OK))
		vt_skip_all("no %s", tool);
	vt_plan(5);
	if (vt_bind(edu[0].bdf))
		vt_bail("cannot bind %s", edu[0].bdf);
	test_root_edu(edu[0].bdf);
	test_bridge(edu, nedu);
	test_nonviable(edu, nedu);
	test_unbound(edu[0].bdf);
	test_usage();
	return vt_finish();
}
