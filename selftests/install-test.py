#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Install the vfio-pci-ng-dkms package in a Debian 12 VM as a user would.

    install-test.py [--kernels 6.12,6.1] [--deb DEB] [--timeout S]
                    [--logdir DIR] [--keep] [--verbose]

The guest is the Debian 12 system of scripts/install-image.sh (systemd,
dkms, build-essential, the images and headers of the stock 6.1 and 6.12,
kmod, driverctl, libvirt, pciutils) on a virtio disk, booted under TCG with
the matrix's kernels (scripts/kernels.sh) and the image's initramfs, with an
edu device behind the vIOMMU as vmtest.py has it. Writes go to a qcow2
overlay of the run: the cached image never changes, and the guest's disk
lives on from boot to boot and from kernel to kernel.

The guest's vfio-ng-test.service runs selftests/install/guest-test.sh from
the run's directory (virtio-9p, read-only) on every boot. Boot 1, on the
first kernel: "apt install ./DEB"; DKMS builds the module for every kernel
with headers (for the running and newest kernel in dkms's own postinst, for
the others in ours); the guest reboots. Boot 2, the same kernel again, then
one boot on each other kernel: modprobe, driverctl set-override and
libvirt's nodedev-detach/reattach get our vfio-pci. Every boot is a QEMU
process of its own (-no-reboot: the guest's reboot ends QEMU, and the next
boot starts a new one). A guest rebooted inside the same TCG process stalled
early in boot 2: the kernel's freeing of its rodata/data gap took 6 s and
once 53 s (a soft lockup report) where a fresh process takes 3-50 ms. The
last boot then removes the package (apt purge; with no conffiles, apt
remove leaves nothing more): the in-tree vfio-pci must come back for every
kernel, with nothing left behind. A build in the guest costs minutes under
TCG, so the kernels share one install instead of one each.

Each check is one "ok"/"not ok" line, counted for the kernel of its boot.
Also failures: a boot missing, on the wrong kernel or unplanned, a guest
that does not reach its end, a timeout, and every kernel report in the
console (BUG, WARNING, Oops, KASAN, lockdep, hung tasks, Call Trace:
vmtest.scan_console). DEB defaults to build/vfio-pci-ng-dkms_<version>_all.deb
("make deb"), version from vfio_pci_private.h. One summary line per kernel,
"<kernel> install: N passed, N failed, 0 skipped", each after a timing line.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import vmtest

INSTALL_IMAGE = os.path.join(vmtest.REPO, 'scripts', 'install-image.sh')
GUEST_TEST = os.path.join(vmtest.SELFTESTS, 'install', 'guest-test.sh')
# The kernels users have, the install on the first: 6.12, whose install
# builds 6.1's module in our postinst (dkms's builds 6.12's).
KERNELS = ('6.12', '6.1')
# Seconds: boot 1 (the install, two builds), then each later boot.
TIMEOUT_INSTALL = 2400
TIMEOUT_BOOT = 1200
MEMORY = '1G'
SHARE_TAG = 'vfiong'


def module_version():
    """VFIO_PCI_NG_VERSION of vfio_pci_private.h: the module's, the package's."""
    with open(os.path.join(vmtest.REPO, 'vfio_pci_private.h')) as f:
        match = re.search(r'^#define\s+VFIO_PCI_NG_VERSION\s+"([^"]+)"', f.read(), re.M)
    if not match:
        raise vmtest.SetupError('no VFIO_PCI_NG_VERSION in vfio_pci_private.h')
    return match.group(1)


def image_dir():
    proc = subprocess.run([INSTALL_IMAGE, 'dir'], capture_output=True, text=True)
    if proc.returncode:
        raise vmtest.SetupError(proc.stderr.strip() or 'install-image.sh dir failed')
    return proc.stdout.strip()


class Tally:
    """The checks and failures of one kernel."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.passed = 0
        self.failures = []
        self.times = {}     # step -> seconds, from the guest
        self.seconds = 0.0  # QEMU start to exit, all of this kernel's boots

    def summary(self):
        return f'{self.kernel} install: {vmtest.counts(self.passed, len(self.failures), 0)}'


class Session:
    """Follows the guest's ttyS1 during one QEMU process."""

    def __init__(self, tally, echo, verbose, boot):
        self.tally = tally
        self.echo = echo
        self.verbose = verbose
        self.boot = boot            # the guest's boot that this QEMU runs
        self.start = time.monotonic()
        self.boots = []             # (boot number, release) as the guest reports them
        self.done_at = None

    def out(self, line):
        if line.startswith('ok '):
            self.tally.passed += 1
        elif line.startswith('not ok '):
            self.tally.failures.append(line[len('not ok '):].lstrip('- '))
        elif line.startswith('@@INSTALL '):
            self._marker(line.split()[1:])
        self.echo(line)

    def console(self, line):
        if self.verbose:
            self.echo(f'console| {line}')

    def _marker(self, words):
        kind, args = (words[0], words[1:]) if words else ('', [])
        if kind == 'BOOT' and len(args) == 2 and args[0].isdigit():
            self.boots.append((int(args[0]), args[1]))
        elif kind == 'TIME' and len(args) == 2 and args[1].isdigit():
            self.tally.times[args[0]] = int(args[1])
        elif kind == 'FAIL':
            self.tally.failures.append(f'guest: {" ".join(args)}')
        elif kind == 'END' and args and args[0].isdigit():
            if int(args[0]) == self.boot:
                self.done_at = time.monotonic()

    def deadline(self, timeout):
        if self.done_at is None:
            return self.start + timeout
        return min(self.start + timeout, self.done_at + vmtest.POWEROFF_GRACE)


def qemu_argv(kernel, image, overlay, share, machine):
    initrd = os.path.join(image, f'initrd.img-{kernel.release}')
    if not os.path.isfile(initrd):
        raise vmtest.SetupError(f'the install-test image has no {os.path.basename(initrd)}')
    q = vmtest._qemu_value
    # As vmtest's machine, but the root file system is a Debian 12 system,
    # and the guest's reboot (after boot 1) ends QEMU as its poweroff does.
    return [vmtest.QEMU, '-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none',
            '-no-reboot',
            '-machine', 'q35,kernel-irqchip=split', '-accel', 'tcg,thread=single',
            '-m', MEMORY, '-smp', '2',
            '-device', 'intel-iommu,intremap=on',  # before every other PCI device
            '-kernel', kernel.vmlinux, '-initrd', initrd,
            '-append', 'root=/dev/vda rw console=ttyS0,115200 panic=-1 intel_iommu=on '
                       'no_timer_check printk.devkmsg=on sysrq_always_enabled '
                       'systemd.show_status=0 vfio_ng_test=1',
            *machine.chardev_args(),
            '-device', f'{vmtest.EDU},id=edu0',
            '-drive', f'file={q(overlay)},format=qcow2,if=virtio',
            '-fsdev', f'local,id=share,path={q(share)},security_model=none,readonly=on',
            '-device', f'virtio-9p-pci,fsdev=share,mount_tag={SHARE_TAG}']


def _boot(kernel, boot, tally, image, overlay, share, logdir, timeout, verbose, echo):
    """One QEMU process on `kernel` for the guest's boot number `boot`; True
    if that boot reached its end."""
    machine = vmtest.Machine(logdir)
    argv = qemu_argv(kernel, image, overlay, share, machine)
    with open(os.path.join(logdir, 'qemu-cmdline.txt'), 'w') as f:
        f.write(' '.join(argv) + '\n')
    session = Session(tally, echo, verbose, boot)
    console_end = None
    with open(os.path.join(logdir, 'qemu.log'), 'w') as qemu_log:
        machine.start(argv, qemu_log)
        try:
            finished = machine.serve(lambda: session.deadline(timeout),
                                     session.console, session.out)
            if not finished and session.done_at is None:
                console_end = machine.dump_hung_guest()
        finally:
            machine.stop()
    tally.seconds += time.monotonic() - session.start

    failures = tally.failures
    if session.done_at is None:
        if not finished:
            failures.append(f'timeout: boot {boot} did not end within {timeout:g} s')
        else:
            failures.append(f'the guest stopped before the end of boot {boot} '
                            f'(see {logdir}/console.log)')
    elif not finished:
        failures.append(f'the guest did not power off within {vmtest.POWEROFF_GRACE} s '
                        f'of the end of boot {boot}')
    want = [(boot, kernel.release)]
    if session.boots != want:
        failures.append(f'boots {session.boots}, want {want}')
    with open(os.path.join(logdir, 'console.log'), 'rb') as f:
        console = f.read().decode(errors='replace')
    for finding in vmtest.scan_console(console[:console_end]):
        failures.append(finding.title())
        for line in finding.lines:
            echo(f'    {line}')
    return session.done_at is not None


def run(kernel_names=KERNELS, deb=None, timeout_install=TIMEOUT_INSTALL,
        timeout_boot=TIMEOUT_BOOT, logdir=None, keep=False, verbose=False, echo=print):
    """One install, then a boot on each kernel; returns a Tally per kernel."""
    for name in kernel_names:
        if name not in KERNELS:
            raise vmtest.SetupError(f"the install test runs on {' and '.join(KERNELS)}, "
                                    f"not '{name}'")
    if not kernel_names or len(set(kernel_names)) != len(kernel_names):
        raise vmtest.SetupError('--kernels: each of them once')
    kernels = [vmtest.Kernel.lookup(name) for name in kernel_names]
    version = module_version()
    deb = os.path.abspath(deb or os.path.join(vmtest.REPO, 'build',
                                              f'vfio-pci-ng-dkms_{version}_all.deb'))
    if not os.path.isfile(deb):
        raise vmtest.SetupError(f'{deb} does not exist (make deb)')
    image = image_dir()

    explicit_logdir = logdir is not None
    if explicit_logdir:
        os.makedirs(logdir, exist_ok=True)
    else:
        logdir = tempfile.mkdtemp(prefix='install-test-')
    logdir = os.path.abspath(logdir)
    share = os.path.join(logdir, 'share')
    shutil.rmtree(share, ignore_errors=True)
    os.makedirs(share)
    shutil.copy(GUEST_TEST, share)
    shutil.copy(deb, share)
    boots = len(kernels) + 1
    with open(os.path.join(share, 'run.conf'), 'w') as f:
        f.write(f'VERSION={version}\nDEB={os.path.basename(deb)}\nBOOTS={boots}\n')
    overlay = os.path.join(logdir, 'overlay.qcow2')
    if os.path.exists(overlay):
        os.unlink(overlay)
    proc = subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b',
                           os.path.join(image, 'root.img'), overlay],
                          capture_output=True, text=True)
    if proc.returncode:
        raise vmtest.SetupError(f'qemu-img: {proc.stderr.strip()}')

    tallies = []
    ended = True
    for index, kernel in enumerate(kernels):
        tally = Tally(kernel.name)
        tallies.append(tally)
        for boot in [1, 2] if index == 0 else [index + 2]:
            if not ended:   # the guest's disk is not where this boot needs it
                tally.failures.append(f'boot {boot} not run: the one before did not end')
                break
            sub = os.path.join(logdir, f'boot{boot}-{kernel.name}')
            os.makedirs(sub, exist_ok=True)
            echo(f'# {kernel.name} ({kernel.release}): boot {boot}')
            ended = _boot(kernel, boot, tally, image, overlay, share, sub,
                          timeout_install if boot == 1 else timeout_boot, verbose, echo)
    if not keep:
        os.unlink(overlay)
    if any(t.failures for t in tallies) or keep or explicit_logdir:
        echo(f'logs: {logdir}')
    else:
        shutil.rmtree(logdir)
    return tallies


def _list(text):
    return [item for item in text.replace(',', ' ').split() if item]


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Install the vfio-pci-ng-dkms package in a Debian 12 VM as a user would.')
    parser.add_argument('--kernels', type=_list, default=list(KERNELS),
                        help='comma-separated, the install on the first (default: '
                        f'{",".join(KERNELS)})')
    parser.add_argument('--deb', help='the package (default: build/vfio-pci-ng-dkms_'
                        '<version>_all.deb, from make deb)')
    parser.add_argument('--timeout', type=float, default=TIMEOUT_INSTALL,
                        help=f'seconds for boot 1, the install (default: {TIMEOUT_INSTALL}); '
                        f'each later boot gets half')
    parser.add_argument('--logdir', help='keep the logs here (default: a fresh directory '
                        'in /tmp, removed after a successful run)')
    parser.add_argument('--keep', action='store_true', help='keep the logdir and the overlay')
    parser.add_argument('--verbose', action='store_true', help='show the kernel console too')
    return parser.parse_args(argv)


def main(argv=None):
    args = _parse_args(argv)

    def echo(line):
        print(line, flush=True)

    try:
        tallies = run(args.kernels, deb=args.deb, timeout_install=args.timeout,
                      timeout_boot=args.timeout / 2, logdir=args.logdir, keep=args.keep,
                      verbose=args.verbose, echo=echo)
    except vmtest.SetupError as e:
        print(f'install-test: {e}', file=sys.stderr)
        return 2
    for tally in tallies:
        for failure in tally.failures:
            print(f'FAIL {tally.kernel}: {failure}')
    for tally in tallies:
        steps = ''.join(f', {step} {secs} s' for step, secs in tally.times.items())
        print(f'# {tally.kernel} install: boot to poweroff {tally.seconds:.0f} s{steps}')
        print(tally.summary())
    return 0 if not any(t.failures for t in tallies) else 1


if __name__ == '__main__':
    sys.exit(main())
