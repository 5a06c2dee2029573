// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-device policy in sysfs, /sys/bus/pci/devices/<BDF>/vfio-pci-ng/
 * (beyond mainline: every case is skipped in baseline mode):
 * - the group and its six attributes exist on a bound device with the
 *   defaults of the module parameters, and go with an unbind; a new bind
 *   starts from the defaults again;
 * - a write while the device is open fails with EBUSY and changes nothing;
 *   the same write succeeds after the close;
 * - bad input fails with EINVAL and changes nothing;
 * - nointxmask (edu): 0 masks a fired INTx with DisINTx in the hardware
 *   command register, 1 (from the next open) leaves DisINTx clear, and back;
 * - idle_d3 (nvme: power_state D3hot, edu: runtime_status): the closed
 *   device sleeps with 1, is woken and stays awake with 0, sleeps again
 *   with 1; a close with 0 leaves it awake;
 * - d3cold_allowed (nvme): 0 sets the PCI core's no_d3cold (debugfs state)
 *   without touching the PCI core's own d3cold_allowed attribute (the
 *   administrator's switch, independent of no_d3cold both ways), 1 clears
 *   it.  The lab has no D3cold platform support: only this visible switch
 *   can be checked;
 * - reset_on_open (nvme): 1 logs an "open" reset in debugfs resets at each
 *   open, 0 none, while GET_INFO still has the RESET flag and
 *   VFIO_DEVICE_RESET works; back to 1 logs it again;
 * - unassigned_config (edu, bytes past its capabilities): allow reads the
 *   hardware, block reads all ones (also the unassigned part of an access
 *   that spans a capability and the gap after it), drops writes (the
 *   hardware value is unchanged and debugfs config_map shows the bytes as
 *   read-only), audit logs exactly one line per offset and open in the
 *   kernel log;
 * - revoke_timeout_ms: stored and shown, bounded by one hour;
 * - writes from several threads while another thread opens and closes the
 *   device: only 0, EBUSY or EINVAL, and the device is consistent after.
 */
#define _GNU_SOURCE
#include "vfio_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_CAP_ID_MSI		0x05
#define PCI_MSI_FLAGS		2
#define PCI_MSI_FLAGS_64BIT	0x0080
#define PCI_MSI_FLAGS_MASKBIT	0x0100
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_RAISE		0x60
#define EDU_IRQ_ACK		0x64
#define WAIT_MS			10000
#define STATE_WAIT_MS		3000

/* Bytes of edu's config space past every capability (checked in the test). */
#define UNASSIGNED		0xf0

static const char *const attrs[] = {
	"nointxmask", "idle_d3", "d3cold_allowed", "reset_on_open",
	"unassigned_config", "revoke_timeout_ms",
};
#define NATTRS	(sizeof(attrs) / sizeof(attrs[0]))

static char buf[65536];

/* ------------------------------------------------------------------------ */
/* helpers                                                                    */

static int pol_path(char *path, size_t len, const char *bdf, const char *attr)
{
	return snprintf(path, len, "/sys/bus/pci/devices/%s/vfio-pci-ng/%s", bdf, attr);
}

/* The value of a policy attribute (static copy, "" when unreadable). */
static const char *pol_get(const char *bdf, const char *attr)
{
	static char out[64];
	char path[PATH_MAX];

	pol_path(path, sizeof(path), bdf, attr);
	out[0] = '\0';
	if (vt_read_file(path, out, sizeof(out)) < 0)
		out[0] = '\0';
	return out;
}

/* Write a policy attribute: 0 or -errno. */
static int pol_set(const char *bdf, const char *attr, const char *val)
{
	char path[PATH_MAX];

	pol_path(path, sizeof(path), bdf, attr);
	return vt_sysfs_write(path, val);
}

static bool pol_is(const char *bdf, const char *attr, const char *want)
{
	const char *got = pol_get(bdf, attr);

	return vt_check(!strcmp(got, want), "%s: '%s', want '%s'", attr, got, want);
}

static bool pol_write_ok(const char *bdf, const char *attr, const char *val)
{
	return vt_check_ret(pol_set(bdf, attr, val), "write %s=%s", attr, val);
}

/* "key: value" of the debugfs state file (static copy, "" when absent). */
static const char *state_val(const char *bdf, const char *key)
{
	static char out[128];
	char k[64];
	const char *p;

	out[0] = '\0';
	if (vt_debugfs_read(bdf, "state", buf, sizeof(buf)) <= 0)
		return out;
	snprintf(k, sizeof(k), "\n%s: ", key);
	p = strstr(buf, k);
	if (p) {
		p += strlen(k);
		snprintf(out, sizeof(out), "%.*s", (int)strcspn(p, "\n"), p);
	}
	return out;
}

/*
 * Resets since probe from the debugfs reset log (-1: unreadable), and the
 * scope of the last one (the log keeps only the last few, so count by the
 * total in its first line).
 */
static int resets_total(const char *bdf, char *last, size_t len)
{
	unsigned int n;
	const char *p, *q = NULL;

	last[0] = '\0';
	if (vt_debugfs_read(bdf, "resets", buf, sizeof(buf)) < 0 || sscanf(buf, "# %u resets", &n) != 1)
		return -1;
	for (p = buf; (p = strstr(p, "scope=")); p++)
		q = p + strlen("scope=");
	if (q)
		snprintf(last, len, "%.*s", (int)strcspn(q, " \n"), q);
	return (int)n;
}

static int read_attr(const char *bdf, const char *attr, char *out, size_t len)
{
	return vt_sysfs_read(bdf, attr, out, len);
}

/* Wait up to ms for a device attribute to read want. */
static bool wait_attr(const char *bdf, const char *attr, const char *want, int ms)
{
	char got[64] = "";
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (read_attr(bdf, attr, got, sizeof(got)) >= 0 && !strcmp(got, want))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			break;
		usleep(20000);
	}
	vt_diag("%s: '%s', want '%s'", attr, got, want);
	return false;
}

/* The attribute reads want for the whole of ms. */
static bool stays_attr(const char *bdf, const char *attr, const char *want, int ms)
{
	char got[64] = "";

	for (int i = 0; i <= ms / 20; i++) {
		if (read_attr(bdf, attr, got, sizeof(got)) < 0 || strcmp(got, want)) {
			vt_diag("%s: '%s', want '%s'", attr, got, want);
			return false;
		}
		usleep(20000);
	}
	return true;
}

static uint16_t host_command(const char *bdf)
{
	uint8_t cfg[8];

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) != sizeof(cfg))
		return 0;
	return vt_le16(cfg + PCI_COMMAND);
}

static uint32_t host_dword(const char *bdf, unsigned int off)
{
	uint8_t cfg[256];

	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) != sizeof(cfg))
		return 0xdeadbeef;
	return vt_le32(cfg + off);
}

/* The module parameter (Y/N for bools), "" when unreadable. */
static const char *param(const char *name)
{
	static char out[64];
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/" VT_MODULE "/parameters/%s", name);
	if (vt_read_file(path, out, sizeof(out)) < 0)
		out[0] = '\0';
	return out;
}

static const char *param_bool(const char *name, bool invert)
{
	bool y = !strcmp(param(name), "Y");

	return (y != invert) ? "1" : "0";
}

/* Restore every attribute to the module parameter defaults. */
static void restore_defaults(const char *bdf)
{
	pol_set(bdf, "nointxmask", param_bool("nointxmask", false));
	pol_set(bdf, "idle_d3", param_bool("disable_idle_d3", true));
	pol_set(bdf, "d3cold_allowed", "1");
	pol_set(bdf, "reset_on_open", "1");
	pol_set(bdf, "unassigned_config", param("unassigned_config"));
	pol_set(bdf, "revoke_timeout_ms", param("revoke_timeout_ms"));
}

/* ------------------------------------------------------------------------ */
/* cases                                                                      */

static bool check_defaults(const char *bdf)
{
	bool ok = true;

	ok &= pol_is(bdf, "nointxmask", param_bool("nointxmask", false));
	ok &= pol_is(bdf, "idle_d3", param_bool("disable_idle_d3", true));
	ok &= pol_is(bdf, "d3cold_allowed", "1");
	ok &= pol_is(bdf, "reset_on_open", "1");
	ok &= pol_is(bdf, "unassigned_config", param("unassigned_config"));
	ok &= pol_is(bdf, "revoke_timeout_ms", param("revoke_timeout_ms"));
	return ok;
}

static void test_group(const struct vt_dev *d)
{
	char path[PATH_MAX];

	if (!vt_extension("per-device policy in sysfs",
			  "%s %s: vfio-pci-ng/ group with the module parameters as defaults; gone with an unbind; a new bind starts from the defaults",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: vfio-pci-ng/ group with the module parameters as defaults; gone with an unbind; a new bind starts from the defaults",
		 d->name, d->bdf);
	vt_check(param("unassigned_config")[0] != '\0', "module parameter unassigned_config");
	for (size_t i = 0; i < NATTRS; i++) {
		pol_path(path, sizeof(path), d->bdf, attrs[i]);
		vt_check(access(path, R_OK | W_OK) == 0, "%s: %s", path, strerror(errno));
	}
	check_defaults(d->bdf);
	pol_write_ok(d->bdf, "reset_on_open", "0");
	pol_write_ok(d->bdf, "revoke_timeout_ms", "1234");
	if (vt_check_ret(vt_unbind(d->bdf), "unbind")) {
		pol_path(path, sizeof(path), d->bdf, "");
		vt_check(access(path, F_OK) != 0, "%s still there after unbind", path);
	}
	if (vt_check_ret(vt_bind(d->bdf), "bind again"))
		check_defaults(d->bdf);
	restore_defaults(d->bdf);
	vt_end();
}

/* For each attribute: a value different from the current one, and a bad one. */
static const char *other_value(const char *attr, const char *cur)
{
	if (!strcmp(attr, "unassigned_config"))
		return strcmp(cur, "block") ? "block" : "allow";
	if (!strcmp(attr, "revoke_timeout_ms"))
		return strcmp(cur, "2500") ? "2500" : "0";
	return strcmp(cur, "1") ? "1" : "0";
}

static void test_busy(const struct vt_dev *d)
{
	char before[NATTRS][64];
	struct vt_vfio v;

	if (!vt_extension("per-device policy in sysfs",
			  "%s %s: every attribute EBUSY while open, unchanged; writable after close",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: every attribute EBUSY while open, unchanged; writable after close",
		 d->name, d->bdf);
	for (size_t i = 0; i < NATTRS; i++)
		snprintf(before[i], sizeof(before[i]), "%s", pol_get(d->bdf, attrs[i]));
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open"))
		goto out;
	for (size_t i = 0; i < NATTRS; i++) {
		const char *val = other_value(attrs[i], before[i]);

		vt_check_err(pol_set(d->bdf, attrs[i], val), EBUSY, "open: write %s=%s",
			     attrs[i], val);
		pol_is(d->bdf, attrs[i], before[i]);
	}
	vt_vfio_close(&v);
	for (size_t i = 0; i < NATTRS; i++) {
		const char *val = other_value(attrs[i], before[i]);

		if (pol_write_ok(d->bdf, attrs[i], val))
			pol_is(d->bdf, attrs[i], val);
		pol_write_ok(d->bdf, attrs[i], before[i]);
		pol_is(d->bdf, attrs[i], before[i]);
	}
out:
	vt_end();
}

static void test_einval(const struct vt_dev *d)
{
	/*
	 * kstrtobool() spellings only (it reads the first one or two
	 * characters: "10" is 1).  An empty write never reaches the
	 * attribute: sysfs returns 0.
	 */
	static const char *const bad_bool[] = { "2", "-1", "\n", "x", "o", "ox" };
	static const char *const bad_mode[] = { "\n", "deny", "allowx", "1", "block block" };
	static const char *const bad_ms[] = { "\n", "-1", "3600001", "4294967296", "1s", "0x" };
	char before[64];

	if (!vt_extension("per-device policy in sysfs",
			  "%s %s: bad values EINVAL, nothing changed", d->name, d->bdf))
		return;
	vt_begin("%s %s: bad values EINVAL, nothing changed", d->name, d->bdf);
	for (size_t i = 0; i < NATTRS; i++) {
		const char *const *bad = bad_bool;
		size_t n = sizeof(bad_bool) / sizeof(bad_bool[0]);

		if (!strcmp(attrs[i], "unassigned_config")) {
			bad = bad_mode;
			n = sizeof(bad_mode) / sizeof(bad_mode[0]);
		} else if (!strcmp(attrs[i], "revoke_timeout_ms")) {
			bad = bad_ms;
			n = sizeof(bad_ms) / sizeof(bad_ms[0]);
		}
		snprintf(before, sizeof(before), "%s", pol_get(d->bdf, attrs[i]));
		for (size_t j = 0; j < n; j++) {
			vt_check_err(pol_set(d->bdf, attrs[i], bad[j]), EINVAL, "write %s='%s'",
				     attrs[i], bad[j]);
			pol_is(d->bdf, attrs[i], before);
		}
	}
	/* Accepted spellings. */
	if (pol_write_ok(d->bdf, "reset_on_open", "n"))
		pol_is(d->bdf, "reset_on_open", "0");
	if (pol_write_ok(d->bdf, "reset_on_open", "Y"))
		pol_is(d->bdf, "reset_on_open", "1");
	if (pol_write_ok(d->bdf, "revoke_timeout_ms", "3600000"))
		pol_is(d->bdf, "revoke_timeout_ms", "3600000");
	if (pol_write_ok(d->bdf, "revoke_timeout_ms", "0"))
		pol_is(d->bdf, "revoke_timeout_ms", "0");
	if (pol_write_ok(d->bdf, "unassigned_config", "audit\n"))
		pol_is(d->bdf, "unassigned_config", "audit");
	restore_defaults(d->bdf);
	vt_end();
}

/* Open edu, INTx on an eventfd, raise one interrupt: DisINTx in hardware after it. */
static bool intx_fire_disintx(const char *bdf, bool *disintx)
{
	struct vt_vfio v;
	uint32_t st = 0;
	bool ok = false;
	int efd = vt_efd_new();

	if (!vt_check_ret(vt_vfio_open(&v, bdf), "open"))
		goto out;
	if (!vt_check_ok(vt_irq_set_fd(v.device, VFIO_PCI_INTX_IRQ_INDEX, efd),
			 "enable INTx (%s)", strerror(errno)))
		goto close;
	vt_region_write32(v.device, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_RAISE, 1);
	if (vt_check(vt_efd_wait(efd, WAIT_MS) >= 1, "INTx not delivered")) {
		*disintx = host_command(bdf) & PCI_COMMAND_INTX_DISABLE;
		ok = true;
	}
	vt_region_read32(v.device, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_STATUS, &st);
	vt_region_write32(v.device, VFIO_PCI_BAR0_REGION_INDEX, EDU_IRQ_ACK, 0xffffffff);
	vt_irq_disable(v.device, VFIO_PCI_INTX_IRQ_INDEX);
close:
	vt_vfio_close(&v);
out:
	close(efd);
	return ok;
}

static void test_nointxmask(const struct vt_dev *d)
{
	static const char *const seq[] = { "0", "1", "0" };
	bool disintx = false;

	if (!vt_extension("per-device nointxmask",
			  "%s %s: nointxmask 0 -> INTx masked by DisINTx, 1 -> at the interrupt controller (DisINTx clear), and back",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: nointxmask 0 -> INTx masked by DisINTx, 1 -> at the interrupt controller (DisINTx clear), and back",
		 d->name, d->bdf);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		if (!pol_write_ok(d->bdf, "nointxmask", seq[i]))
			break;
		if (intx_fire_disintx(d->bdf, &disintx))
			vt_check(disintx == (seq[i][0] == '0'),
				 "nointxmask=%s: DisINTx %s in hardware after an INTx",
				 seq[i], disintx ? "set" : "clear");
	}
	restore_defaults(d->bdf);
	vt_end();
}

static void test_idle_d3(const struct vt_dev *d, const char *sleep)
{
	struct vt_vfio v;

	if (!vt_extension("per-device idle_d3",
			  "%s %s: idle_d3 1 -> closed device suspended (%s), 0 -> awake (D0) and stays so, also after a close; 1 -> suspended again",
			  d->name, d->bdf, sleep))
		return;
	vt_begin("%s %s: idle_d3 1 -> closed device suspended (%s), 0 -> awake (D0) and stays so, also after a close; 1 -> suspended again",
		 d->name, d->bdf, sleep);
	pol_write_ok(d->bdf, "idle_d3", "1");
	vt_check(wait_attr(d->bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
		 "idle_d3=1: not suspended");
	vt_check(wait_attr(d->bdf, "power_state", sleep, STATE_WAIT_MS), "idle_d3=1: not %s",
		 sleep);
	pol_write_ok(d->bdf, "idle_d3", "0");
	pol_is(d->bdf, "idle_d3", "0");
	vt_check(wait_attr(d->bdf, "power/runtime_status", "active", STATE_WAIT_MS),
		 "idle_d3=0: not active");
	vt_check(wait_attr(d->bdf, "power_state", "D0", STATE_WAIT_MS), "idle_d3=0: not D0");
	vt_check(stays_attr(d->bdf, "power/runtime_status", "active", 500),
		 "idle_d3=0: suspended again");
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open")) {
		vt_check(wait_attr(d->bdf, "power_state", "D0", 0), "open: not D0");
		vt_vfio_close(&v);
		vt_check(stays_attr(d->bdf, "power/runtime_status", "active", 500),
			 "idle_d3=0: suspended after close");
		vt_check(wait_attr(d->bdf, "power_state", "D0", 0), "idle_d3=0: close: not D0");
	}
	/* Twice the same value: no second reference taken or given. */
	pol_write_ok(d->bdf, "idle_d3", "0");
	pol_write_ok(d->bdf, "idle_d3", "1");
	pol_write_ok(d->bdf, "idle_d3", "1");
	vt_check(wait_attr(d->bdf, "power/runtime_status", "suspended", STATE_WAIT_MS),
		 "idle_d3=1 again: not suspended");
	vt_check(wait_attr(d->bdf, "power_state", sleep, STATE_WAIT_MS),
		 "idle_d3=1 again: not %s", sleep);
	restore_defaults(d->bdf);
	vt_end();
}

/* The PCI core's own d3cold_allowed attribute. */
static int pci_d3cold(const char *bdf, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/d3cold_allowed", bdf);
	return vt_sysfs_write(path, val);
}

static void test_d3cold(const struct vt_dev *d)
{
	char pci[16] = "";

	if (!vt_extension("per-device d3cold_allowed",
			  "%s %s: d3cold_allowed 0 -> the PCI core's no_d3cold set, its sysfs d3cold_allowed untouched; 1 -> cleared; independent of the PCI core's d3cold_allowed (visible switch only: no D3cold in the lab)",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: d3cold_allowed 0 -> the PCI core's no_d3cold set, its sysfs d3cold_allowed untouched; 1 -> cleared; independent of the PCI core's d3cold_allowed (visible switch only: no D3cold in the lab)",
		 d->name, d->bdf);
	vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "no"), "no_d3cold at start: '%s'",
		 state_val(d->bdf, "no_d3cold"));
	if (pol_write_ok(d->bdf, "d3cold_allowed", "0")) {
		pol_is(d->bdf, "d3cold_allowed", "0");
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "yes"), "0: no_d3cold '%s'",
			 state_val(d->bdf, "no_d3cold"));
		read_attr(d->bdf, "d3cold_allowed", pci, sizeof(pci));
		vt_check(!strcmp(pci, "1"), "0: PCI core's d3cold_allowed '%s', want 1", pci);
	}
	if (pol_write_ok(d->bdf, "d3cold_allowed", "1")) {
		pol_is(d->bdf, "d3cold_allowed", "1");
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "no"), "1: no_d3cold '%s'",
			 state_val(d->bdf, "no_d3cold"));
	}
	/*
	 * The administrator's switch (the PCI core's d3cold_allowed) and ours
	 * (no_d3cold, the drivers' switch) are independent: neither changes the
	 * other.
	 */
	if (vt_check_ret(pci_d3cold(d->bdf, "0"), "PCI core d3cold_allowed=0")) {
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "no"),
			 "PCI core d3cold_allowed=0: no_d3cold '%s'", state_val(d->bdf, "no_d3cold"));
		pol_write_ok(d->bdf, "d3cold_allowed", "0");
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "yes"), "0: no_d3cold '%s'",
			 state_val(d->bdf, "no_d3cold"));
		pci_d3cold(d->bdf, "1");
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "yes"),
			 "PCI core d3cold_allowed=1 cleared our no_d3cold");
		pol_is(d->bdf, "d3cold_allowed", "0");
		pol_write_ok(d->bdf, "d3cold_allowed", "1");
		vt_check(!strcmp(state_val(d->bdf, "no_d3cold"), "no"), "1: no_d3cold '%s'",
			 state_val(d->bdf, "no_d3cold"));
		read_attr(d->bdf, "d3cold_allowed", pci, sizeof(pci));
		vt_check(!strcmp(pci, "1"), "PCI core's d3cold_allowed '%s', want 1", pci);
	}
	restore_defaults(d->bdf);
	vt_end();
}

static void test_reset_on_open(const struct vt_dev *d)
{
	static const char *const seq[] = { "1", "0", "1" };
	struct vt_device_info info;
	char scope[32];
	struct vt_vfio v;
	int before, after;

	if (!vt_extension("per-device reset_on_open",
			  "%s %s: reset_on_open 1 -> an open reset in debugfs resets, 0 -> none (RESET flag and VFIO_DEVICE_RESET still work), 1 -> again",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: reset_on_open 1 -> an open reset in debugfs resets, 0 -> none (RESET flag and VFIO_DEVICE_RESET still work), 1 -> again",
		 d->name, d->bdf);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		bool on = seq[i][0] == '1';

		if (!pol_write_ok(d->bdf, "reset_on_open", seq[i]))
			break;
		before = resets_total(d->bdf, scope, sizeof(scope));
		if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open"))
			break;
		after = resets_total(d->bdf, scope, sizeof(scope));
		vt_check(before >= 0 && after == before + (on ? 1 : 0),
			 "reset_on_open=%s: resets %d -> %d at open", seq[i], before, after);
		if (on)
			vt_check(!strcmp(scope, "open"), "reset_on_open=1: last reset '%s', want open",
				 scope);
		if (vt_check_ret(vt_device_info(v.device, &info), "GET_INFO"))
			vt_check(info.flags & VFIO_DEVICE_FLAGS_RESET,
				 "reset_on_open=%s: no RESET flag (flags %#x)", seq[i], info.flags);
		vt_check_ok(ioctl(v.device, VFIO_DEVICE_RESET), "reset_on_open=%s: VFIO_DEVICE_RESET",
			    seq[i]);
		vt_check(!strcmp(state_val(d->bdf, "reset_works"), "yes"),
			 "reset_on_open=%s: reset_works '%s'", seq[i],
			 state_val(d->bdf, "reset_works"));
		vt_vfio_close(&v);
	}
	restore_defaults(d->bdf);
	vt_end();
}

/* The map kind of a config byte from debugfs config_map ('?' when unknown). */
static char map_kind(const char *bdf, unsigned int off)
{
	unsigned int pos = 0;

	if (vt_debugfs_read(bdf, "config_map", buf, sizeof(buf)) <= 0)
		return '?';
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *q = strchr(p, ':');

		if (*p == '#' || !q)
			continue;
		for (q++; *q && *q != '\n'; q++) {
			if (*q == ' ')
				continue;
			if (pos++ == off)
				return *q;
		}
	}
	return '?';
}

/* End of the last standard capability of edu (from its sysfs config). */
static unsigned int caps_end(const char *bdf, unsigned int *msi, unsigned int *msi_len)
{
	uint8_t cfg[256];
	unsigned int end = 0x40, pos, n = 0;

	*msi = 0;
	if (vt_sysfs_config(bdf, cfg, sizeof(cfg)) != sizeof(cfg))
		return 0x100;
	for (pos = cfg[0x34] & ~3u; pos && n < 48; pos = cfg[pos + 1] & ~3u, n++) {
		unsigned int len = 0x18;	/* longer than any but a vendor cap */

		if (cfg[pos] == PCI_CAP_ID_MSI) {
			uint16_t fl = vt_le16(cfg + pos + PCI_MSI_FLAGS);

			len = 10 + (fl & PCI_MSI_FLAGS_64BIT ? 4 : 0) +
			      (fl & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
			*msi = pos;
			*msi_len = len;
		}
		if (pos + len > end)
			end = pos + len;
	}
	return end;
}

static void test_unassigned_rw(const struct vt_dev *d)
{
	uint8_t a[16], b[16], want[16];
	unsigned int msi, msi_len = 0, span;
	uint32_t val = 0, hw;
	struct vt_vfio v;

	if (!vt_extension("per-device unassigned_config",
			  "%s %s: unassigned config 0x%x: allow reads hardware; block reads all ones (also in a span from a capability), drops writes; and back",
			  d->name, d->bdf, UNASSIGNED))
		return;
	vt_begin("%s %s: unassigned config 0x%x: allow reads hardware; block reads all ones (also in a span from a capability), drops writes; and back",
		 d->name, d->bdf, UNASSIGNED);
	if (!vt_check(caps_end(d->bdf, &msi, &msi_len) <= UNASSIGNED,
		      "a capability reaches %#x", UNASSIGNED) ||
	    !vt_check(msi && msi + msi_len + 4 <= UNASSIGNED, "edu has no MSI capability"))
		goto out;
	span = (msi_len + 4 + 3) & ~3u;
	hw = host_dword(d->bdf, UNASSIGNED);

	/* allow */
	pol_write_ok(d->bdf, "unassigned_config", "allow");
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open (allow)"))
		goto out;
	vt_check_ret(vt_config_read32(v.device, UNASSIGNED, &val), "read %#x", UNASSIGNED);
	vt_check_eq(val, hw, "allow: read %#x", UNASSIGNED);
	vt_check(vt_config_read(v.device, a, span, msi) == (ssize_t)span, "allow: span read");
	vt_check_eq(map_kind(d->bdf, UNASSIGNED), 'h', "allow: config_map at %#x", UNASSIGNED);
	vt_vfio_close(&v);

	/* block */
	pol_write_ok(d->bdf, "unassigned_config", "block");
	if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open (block)"))
		goto out;
	vt_check_ret(vt_config_read32(v.device, UNASSIGNED, &val), "read %#x", UNASSIGNED);
	vt_check_eq(val, 0xffffffff, "block: read32 %#x", UNASSIGNED);
	val = 0;
	vt_check(vt_config_read(v.device, &val, 1, UNASSIGNED + 3) == 1, "block: read8");
	vt_check_eq(val, 0xff, "block: read8 %#x", UNASSIGNED + 3);
	vt_check(vt_config_read(v.device, b, span, msi) == (ssize_t)span, "block: span read");
	memcpy(want, a, msi_len);
	memset(want + msi_len, 0xff, span - msi_len);
	/* The MSI message data/address may read the same either way: compare the ID. */
	vt_check(b[0] == a[0] && !memcmp(b + msi_len, want + msi_len, span - msi_len),
		 "block: span %#x+%u: capability part kept, gap all ones", msi, span);
	val = 0x12345678;
	vt_check(vt_config_write(v.device, &val, 4, UNASSIGNED) == 4, "block: write accepted");
	vt_check_eq(host_dword(d->bdf, UNASSIGNED), hw, "block: hardware at %#x", UNASSIGNED);
	vt_check_eq(map_kind(d->bdf, UNASSIGNED), 'r', "block: config_map at %#x", UNASSIGNED);
	vt_vfio_close(&v);

	/* back to allow */
	pol_write_ok(d->bdf, "unassigned_config", "allow");
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open (allow again)")) {
		vt_check_ret(vt_config_read32(v.device, UNASSIGNED, &val), "read %#x", UNASSIGNED);
		vt_check_eq(val, hw, "allow again: read %#x", UNASSIGNED);
		vt_check_eq(map_kind(d->bdf, UNASSIGNED), 'h', "allow again: config_map");
		vt_vfio_close(&v);
	}
out:
	restore_defaults(d->bdf);
	vt_end();
}

/* The kernel log records after kfd's position, one per line, in out. */
static void kmsg_collect(int kfd, char *out, size_t size)
{
	size_t used = 0;
	ssize_t len;

	out[0] = '\0';
	for (;;) {
		if (used + 2 >= size)
			break;
		len = read(kfd, out + used, size - used - 1);
		if (len < 0) {
			if (errno == EPIPE)
				continue;	/* overwritten records */
			break;
		}
		used += len;
		out[used] = '\0';
		/* Continuation lines of a record start with a space: drop none. */
	}
}

/* Lines of log that contain both a and b. */
static int count_lines(const char *log, const char *a, const char *b)
{
	int n = 0;

	for (const char *p = log; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (strstr(line, a) && strstr(line, b))
			n++;
	}
	return n;
}

static char logbuf[65536];

static void test_audit(const struct vt_dev *d)
{
	char at0[32], at4[32], at8[32];
	uint32_t val = 0;
	uint16_t w = 0;
	struct vt_vfio v;
	int kfd;

	if (!vt_extension("per-device unassigned_config",
			  "%s %s: audit: accesses pass, exactly one log line per offset and open; allow: none",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: audit: accesses pass, exactly one log line per offset and open; allow: none",
		 d->name, d->bdf);
	snprintf(at0, sizeof(at0), "config read at 0x%03x ", UNASSIGNED);
	snprintf(at4, sizeof(at4), "config read at 0x%03x ", UNASSIGNED + 4);
	snprintf(at8, sizeof(at8), "config write at 0x%03x ", UNASSIGNED + 8);
	kfd = vt_kmsg_open();
	if (!vt_check(kfd >= 0, "/dev/kmsg: %s", strerror(errno)))
		goto out;
	if (!pol_write_ok(d->bdf, "unassigned_config", "audit") ||
	    !vt_check_ret(vt_vfio_open(&v, d->bdf), "open"))
		goto out_kfd;
	for (int i = 0; i < 3; i++) {
		vt_config_read32(v.device, UNASSIGNED, &val);
		vt_config_read16(v.device, UNASSIGNED + 4, &w);
	}
	vt_check_eq(val, host_dword(d->bdf, UNASSIGNED), "audit: read passes through");
	val = host_dword(d->bdf, UNASSIGNED + 8);
	vt_config_write(v.device, &val, 4, UNASSIGNED + 8);
	vt_config_write(v.device, &val, 4, UNASSIGNED + 8);
	/* A byte already logged as part of a dword: no new line. */
	vt_config_read(v.device, &w, 1, UNASSIGNED + 1);
	vt_vfio_close(&v);

	kmsg_collect(kfd, logbuf, sizeof(logbuf));
	vt_check_eq(count_lines(logbuf, d->bdf, "unassigned config"), 3, "audit: log lines");
	vt_check_eq(count_lines(logbuf, d->bdf, at0), 1, "audit: lines '%s'", at0);
	vt_check_eq(count_lines(logbuf, d->bdf, at4), 1, "audit: lines '%s'", at4);
	vt_check_eq(count_lines(logbuf, d->bdf, at8), 1, "audit: lines '%s'", at8);

	/* A new open logs each offset once again. */
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open again")) {
		vt_config_read32(v.device, UNASSIGNED, &val);
		vt_config_read32(v.device, UNASSIGNED, &val);
		vt_vfio_close(&v);
		kmsg_collect(kfd, logbuf, sizeof(logbuf));
		vt_check_eq(count_lines(logbuf, d->bdf, "unassigned config"), 1,
			    "audit, second open: log lines");
		vt_check_eq(count_lines(logbuf, d->bdf, at0), 1, "audit, second open: '%s'", at0);
	}

	/* allow: nothing logged. */
	if (pol_write_ok(d->bdf, "unassigned_config", "allow") &&
	    vt_check_ret(vt_vfio_open(&v, d->bdf), "open (allow)")) {
		vt_config_read32(v.device, UNASSIGNED, &val);
		vt_vfio_close(&v);
		kmsg_collect(kfd, logbuf, sizeof(logbuf));
		vt_check_eq(count_lines(logbuf, d->bdf, "unassigned config"), 0,
			    "allow: log lines");
	}
out_kfd:
	close(kfd);
out:
	restore_defaults(d->bdf);
	vt_end();
}

static void test_revoke_timeout(const struct vt_dev *d)
{
	if (!vt_extension("per-device revoke_timeout_ms",
			  "%s %s: revoke_timeout_ms stored and shown, bounded by one hour",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: revoke_timeout_ms stored and shown, bounded by one hour",
		 d->name, d->bdf);
	if (pol_write_ok(d->bdf, "revoke_timeout_ms", "1500"))
		pol_is(d->bdf, "revoke_timeout_ms", "1500");
	vt_check_err(pol_set(d->bdf, "revoke_timeout_ms", "3600001"), EINVAL, "3600001");
	pol_is(d->bdf, "revoke_timeout_ms", "1500");
	if (pol_write_ok(d->bdf, "revoke_timeout_ms", "3600000"))
		pol_is(d->bdf, "revoke_timeout_ms", "3600000");
	restore_defaults(d->bdf);
	vt_end();
}

/* ------------------------------------------------------------------------ */
/* many writers against open/close                                            */

struct stress {
	const char *bdf;
	volatile bool stop;
	unsigned int seed;
	int bad;	/* unexpected errno */
	int busy, ok;
};

static void *writer(void *arg)
{
	static const char *const vals[] = {
		"0", "1", "allow", "audit", "block", "2", "", "3600001", "100", "y",
	};
	struct stress *s = arg;
	unsigned int seed = s->seed;

	while (!s->stop) {
		const char *attr = attrs[rand_r(&seed) % NATTRS];
		const char *val = vals[rand_r(&seed) % (sizeof(vals) / sizeof(vals[0]))];
		int ret = pol_set(s->bdf, attr, val);

		if (ret == -EBUSY)
			__atomic_add_fetch(&s->busy, 1, __ATOMIC_RELAXED);
		else if (!ret)
			__atomic_add_fetch(&s->ok, 1, __ATOMIC_RELAXED);
		else if (ret != -EINVAL)
			__atomic_store_n(&s->bad, -ret, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_stress(const struct vt_dev *d, const char *sleep)
{
	struct stress s[3];
	pthread_t th[3];
	int rounds = vt_slow_kernel() ? 4 : 20;
	struct vt_vfio v;

	if (!vt_extension("per-device policy in sysfs",
			  "%s %s: 3 threads write every attribute while the device opens and closes: only EBUSY/EINVAL/success, consistent after",
			  d->name, d->bdf))
		return;
	vt_begin("%s %s: 3 threads write every attribute while the device opens and closes: only EBUSY/EINVAL/success, consistent after",
		 d->name, d->bdf);
	for (int i = 0; i < 3; i++) {
		s[i] = (struct stress){ .bdf = d->bdf, .seed = 1234u + i };
		pthread_create(&th[i], NULL, writer, &s[i]);
	}
	for (int r = 0; r < rounds; r++) {
		if (!vt_check_ret(vt_vfio_open(&v, d->bdf), "open round %d", r))
			break;
		usleep(5000);
		vt_vfio_close(&v);
	}
	usleep(50000);
	for (int i = 0; i < 3; i++) {
		s[i].stop = true;
		pthread_join(th[i], NULL);
		vt_check(!s[i].bad, "thread %d: unexpected %s", i, vt_errname(s[i].bad));
		vt_diag("thread %d: %d writes done, %d EBUSY", i, s[i].ok, s[i].busy);
	}
	restore_defaults(d->bdf);
	check_defaults(d->bdf);
	if (!strcmp(pol_get(d->bdf, "idle_d3"), "1"))
		vt_check(wait_attr(d->bdf, "power_state", sleep, STATE_WAIT_MS),
			 "after: idle device not %s", sleep);
	if (vt_check_ret(vt_vfio_open(&v, d->bdf), "open after"))
		vt_vfio_close(&v);
	vt_end();
}

/* ------------------------------------------------------------------------ */

#define EDU_CASES	9
#define NVME_CASES	4

int main(void)
{
	struct vt_dev edu[VT_MAX_DEVS], nvme[VT_MAX_DEVS];
	int nedu = vt_find_devices(0x1234, 0x11e8, edu, VT_MAX_DEVS);
	int nnvme = vt_find_devices(0x1b36, 0x0010, nvme, VT_MAX_DEVS);
	const struct vt_dev *e = NULL, *n = NULL;

	if (nedu <= 0 && nnvme <= 0)
		vt_skip_all("no edu and no nvme in this topology");
	/* A device on the root bus when there is one (no bus reset scope). */
	for (int i = 0; i < nedu && !e; i++)
		if (!vt_behind_bridge(edu[i].bdf))
			e = &edu[i];
	if (!e && nedu > 0)
		e = &edu[0];
	if (nnvme > 0)
		n = &nvme[0];
	if (e && vt_bind(e->bdf))
		vt_bail("bind %s", e->bdf);
	if (n && vt_bind(n->bdf))
		vt_bail("bind %s", n->bdf);

	vt_plan(EDU_CASES + NVME_CASES);
	if (e) {
		test_group(e);
		test_busy(e);
		test_einval(e);
		test_nointxmask(e);
		test_idle_d3(e, "D0");
		test_unassigned_rw(e);
		test_audit(e);
		test_revoke_timeout(e);
		test_stress(e, "D0");
	} else {
		for (int i = 0; i < EDU_CASES; i++)
			vt_skip("no edu", "edu policy case %d", i + 1);
	}
	if (n) {
		test_idle_d3(n, "D3hot");
		test_d3cold(n);
		test_reset_on_open(n);
		test_busy(n);
	} else {
		for (int i = 0; i < NVME_CASES; i++)
			vt_skip("no nvme", "nvme policy case %d", i + 1);
	}
	return vt_finish();
}
