#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Boot one kernel of the test matrix under QEMU TCG and run the selftests in it.

    vmtest.py --kernel {6.1|6.12|debug} --mode {ng|baseline} [--topology NAME]
              [--module KO] [--inject-module KO] [--tests DIR[:DIR...]] [--only t_a,t_b]
              [--cmd 'shell command'] [--host-root] [--cpu MODEL] [--memory SIZE]
              [--icount]
              [--timeout S] [--module-params 'p=v ...'] [--label NAME]
              [--logdir DIR] [--keep] [--verbose]

The guest is a busybox initramfs (selftests/vm/init). It loads the vfio core
and then either our vfio-pci.ko ("ng") or the kernel's own vfio_pci
("baseline"), runs every t_* program of --tests in sorted order (those named
by --only, or --cmd instead), unloads vfio_pci, checks kmemleak where the
kernel has it, and powers off.

Every TAP "ok"/"not ok" line counts; "# SKIP" and "# TODO" count as skipped.
A program that is killed, exits non-zero without a "not ok" (4, the kselftest
skip status, is fine), prints no plan or not as many results as planned
counts as one more failure. So does every kernel report in the console log
(BUG, WARNING, Oops, KASAN, lockdep, Call Trace, kmemleak, a line disabled
as "nobody cared", an RCU stall), a setup or teardown step that fails in the
guest, a guest that dies before its end marker, and a timeout. The summary
line is "<kernel> <mode>: N passed, N failed, N skipped" ("<kernel> <mode>
[<label>]: ..." with --label), the last line the bare "N passed, N failed, N
skipped".

Guest environment of each test program (cwd /tmp, stdout and stderr on
ttyS1, busybox applets in PATH; proc, sysfs, devtmpfs, debugfs and a tmpfs
/tmp mounted): VFIO_TEST_MODE (ng|baseline), VFIO_TEST_KERNEL,
VFIO_TEST_TOPOLOGY, VFIO_TEST_DRIVER_KO (the vfio-pci.ko to insmod again after
an rmmod), VFIO_TEST_INJECT_KO (the test-only fault-injection module
vt_inject.ko, selftests/kmod, in both modes; empty when not shipped) and
VFIO_TEST_HOSTCMD, and with --host-root VFIO_TEST_HOST_ROOT (/host: the
host's root filesystem, read-only over virtio-9p, with the guest's /proc,
/sys and /dev bound into it, devpts on its /dev/pts, tmpfs on its /tmp, /run
and /var/tmp, so that `chroot /host` runs the host's own programs: QEMU,
dpdk-testpmd). Devices have qdev ids (--help lists them); tests find them by
vendor:device (the 9p device comes after the topology's, on pcie.0). No guest
step loads vt_inject.ko: only a test does, and /init fails the run if one
leaves it loaded.

QEMU: Debian's qemu-system-x86_64 (7.2), except for the topologies of
QEMU10_TOPOLOGIES (igb), which run with the QEMU 10 that scripts/qemu10.sh
extracts into the cache.

Host cue: a guest program that prints "@@HOST <HMP command>" on its stdout
(ttyS1) gets the command's output, flattened to one line, or "OK", on
$VFIO_TEST_HOSTCMD (ttyS2); selftests/vm/vmtest-host is the shell helper.

Logs (--logdir): console.log (ttyS0), out.log (ttyS1), host.log (cues),
qemu-cmdline.txt, qemu.log. On a timeout the guest's blocked tasks and CPU
backtraces (sysrq w, l) are printed. Unit tests: selftests/vm/test_vmtest.py.

As a library: vmtest.run(kernel=..., mode=..., ...) returns a Result.
"""

import argparse
import collections
import dataclasses
import gzip
import hashlib
import json
import lzma
import os
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

SELFTESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SELFTESTS)
KERNELS_SH = os.path.join(REPO, 'scripts', 'kernels.sh')
GUEST_FILES = os.path.join(SELFTESTS, 'vm')
DEFAULT_TESTS = os.path.join(SELFTESTS, 'out')
CACHE = os.path.join(os.environ.get('VFIO_NG_CACHE', '/var/cache/vfio-pci-ng'), 'vmtest')
BUSYBOX = '/bin/busybox'
QEMU = 'qemu-system-x86_64'
# QEMU 10 of bookworm-backports, extracted into the cache by
# scripts/qemu10.sh (scripts/setup.sh prepares it), for the topologies
# with a device QEMU 7.2 lacks; Debian's QEMU 7.2 for every other one.
QEMU10_SH = os.path.join(REPO, 'scripts', 'qemu10.sh')
QEMU10_TOPOLOGIES = ('igb',)

MODES = ('ng', 'baseline')
NG_MODULE_GUEST_PATH = '/ng/vfio-pci.ko'
# The test-only fault-injection module (selftests/kmod), which tests load.
INJECT_MODULE = 'vt_inject.ko'
INJECT_MODULE_GUEST_PATH = '/ng/vt_inject.ko'
# Loaded in both modes where the kernel has them as modules, with what they
# depend on. Dependencies come from each module's own "depends=" (what depmod
# turns into modules.dep; the Debian image trees come without modules.dep).
VFIO_CORE = ('vfio', 'vfio_iommu_type1', 'vfio_virqfd', 'irqbypass')
# What our module must not need: it replaces both.
IN_TREE_DRIVER = ('vfio_pci', 'vfio_pci_core')

# --host-root: the host's / over virtio-9p, mounted by /init on this guest
# path; the modules it needs where the kernel has them as modules.
HOST_ROOT_GUEST_PATH = '/host'
HOST_ROOT_MODULES = ('virtio_pci', '9pnet_virtio', '9p')
HOST_ROOT_QEMU = ['-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,'
                  'multidevs=remap', '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot']

# --icount: the guest clock counts instructions (1 ns each) and jumps over
# idle time, so that timeouts in the guest do not depend on the host's load
# and device timers (edu's 100 ms per DMA transfer) cost no real time. One
# vCPU: 6.1 hangs bringing up a second one under icount (as in bench.py).
ICOUNT = ('-icount', 'shift=0,sleep=off', '-smp', '1')

KSFT_SKIP = 4
HOST_ANSWER_MAX = 4000  # an answer must fit the guest tty's 4 KiB line buffer

# Guest memory, run and per-test-program timeouts in seconds. The debug
# kernel (KASAN, lockdep, kmemleak) is about 10x slower; 1G is enough for it
# (785 MiB usable), and kmemleak scans it in half the time 2G would take.
DEFAULTS = {'memory': '1G', 'timeout': 600, 'test_timeout': 300}
KERNEL_DEFAULTS = {'debug': {'timeout': 2400, 'test_timeout': 600}}


class SetupError(Exception):
    """The run cannot start: bad arguments, missing kernel, module, ..."""


# --------------------------------------------------------------------------
# The kernel matrix (scripts/kernels.sh knows where everything is)

def _kernels_sh(*args):
    proc = subprocess.run([KERNELS_SH, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(proc.stderr.strip() or f'kernels.sh {" ".join(args)} failed')
    return proc.stdout.strip()


def kernel_names(optin=False):
    """Names of the kernels in the matrix (optin: and the opt-in ones), prepared or not."""
    return _kernels_sh('list', *(['--all'] if optin else [])).split()


@dataclasses.dataclass(frozen=True)
class Kernel:
    name: str
    vmlinux: str
    moddir: str
    release: str

    @classmethod
    def lookup(cls, name):
        if name not in kernel_names(optin=True):
            raise SetupError(f"unknown kernel '{name}' (kernels: {' '.join(kernel_names(optin=True))})")
        vmlinux = _kernels_sh('vmlinux', name)
        if not os.path.exists(os.path.join(os.path.dirname(vmlinux), '.done')):
            raise SetupError(f'kernel {name} is not prepared (scripts/kernels.sh prepare {name})')
        return cls(name, vmlinux, _kernels_sh('moddir', name), _kernels_sh('release', name))

    def default(self, key):
        return KERNEL_DEFAULTS.get(self.name, {}).get(key, DEFAULTS[key])


def available_kernels():
    """Names of the kernels of the matrix that are ready to boot."""
    ready = []
    for name in kernel_names():
        try:
            Kernel.lookup(name)
        except SetupError:
            continue
        ready.append(name)
    return ready


# --------------------------------------------------------------------------
# Kernel modules: busybox insmod takes neither compressed modules nor
# dependencies, so the runner decompresses them and orders the loads itself.

_COMPRESSIONS = ('.xz', '.zst', '.gz', '')


def _split_module_file(filename):
    """'vfio-pci.ko.xz' -> ('vfio_pci', '.xz'); None for other files."""
    for compression in _COMPRESSIONS:
        suffix = '.ko' + compression
        if filename.endswith(suffix):
            return filename[:-len(suffix)].replace('-', '_'), compression
    return None


def _read_module(path):
    """The ELF image of a module file, decompressed."""
    _, compression = _split_module_file(os.path.basename(path))
    if compression == '.zst':  # not in the standard library
        return subprocess.run(['zstd', '-dcq', path], check=True, capture_output=True).stdout
    with open(path, 'rb') as f:
        data = f.read()
    return {'.xz': lzma.decompress, '.gz': gzip.decompress}.get(compression, bytes)(data)


def _elf_section(image, wanted):
    """Contents of section `wanted` of a 64-bit little-endian ELF, or None."""
    if image[:6] != b'\x7fELF\x02\x01':
        raise SetupError('not a 64-bit little-endian ELF file')
    shoff, = struct.unpack_from('<Q', image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', image, 0x3a)

    def section(index):
        name, _type, _flags, _addr, offset, size = \
            struct.unpack_from('<IIQQQQ', image, shoff + index * shentsize)
        return name, offset, size

    _, names, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        end = image.index(b'\0', names + name)
        if image[names + name:end] == wanted.encode():
            return image[offset:offset + size]
    return None


def modinfo(image):
    """The .modinfo of a module image: {key: [values]}."""
    info = {}
    for field in (_elf_section(image, '.modinfo') or b'').split(b'\0'):
        key, sep, value = field.decode(errors='replace').partition('=')
        if sep:
            info.setdefault(key, []).append(value)
    return info


def module_depends(info):
    return [d.replace('-', '_') for v in info.get('depends', []) for d in v.split(',') if d]


class ModuleTree:
    """The modules of one kernel (its /lib/modules/<release> tree)."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.files = {}  # module name -> path relative to the tree
        for dirpath, dirnames, filenames in os.walk(kernel.moddir):
            dirnames[:] = sorted(d for d in dirnames if d not in ('build', 'source'))
            for filename in filenames:
                split = _split_module_file(filename)
                if split:
                    rel = os.path.relpath(os.path.join(dirpath, filename), kernel.moddir)
                    self.files.setdefault(split[0], rel)
        self._images = {}

    def image(self, name):
        if name not in self._images:
            self._images[name] = _read_module(os.path.join(self.kernel.moddir, self.files[name]))
        return self._images[name]

    def depends(self, name):
        return module_depends(modinfo(self.image(name)))

    def guest_path(self, name):
        """Where the module goes in the guest, decompressed."""
        rel = self.files[name]
        _, compression = _split_module_file(os.path.basename(rel))
        return f'/lib/modules/{self.kernel.release}/{rel[:len(rel) - len(compression)]}'

    def load_order(self, names, needed_by=None):
        """`names` and everything they depend on, dependencies first."""
        order = []

        def visit(name, parent):
            if name in order:
                return
            if name not in self.files:
                raise SetupError(f'{parent or "the run"} needs module {name}, '
                                 f'which kernel {self.kernel.name} does not have')
            for dep in self.depends(name):
                visit(dep, name)
            order.append(name)

        for name in names:
            visit(name, needed_by)
        return order

    def vfio_core(self):
        return self.load_order([m for m in VFIO_CORE if m in self.files])


# --------------------------------------------------------------------------
# Initramfs: cpio "newc" archives, written here so that padding, modes and
# device nodes are exactly what the kernel's unpacker expects.

class Cpio:
    def __init__(self):
        self.data = bytearray()
        self.dirs = set()
        self.inode = 0

    def _entry(self, path, mode, body=b'', rdev=(0, 0)):
        self.inode += 1
        name = path.encode() + b'\0'
        fields = (self.inode, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1], len(name), 0)
        self.data += b'070701' + b''.join(b'%08x' % v for v in fields) + name
        self._align(4)
        self.data += body
        self._align(4)

    def _align(self, boundary):
        self.data += b'\0' * (-len(self.data) % boundary)

    def mkdir(self, path):
        path = path.strip('/')
        if path and path not in self.dirs:
            self.mkdir(os.path.dirname(path))
            self._entry(path, stat.S_IFDIR | 0o755)
            self.dirs.add(path)

    def add(self, path, body, mode=0o644):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, body)

    def add_file(self, path, source):
        with open(source, 'rb') as f:
            body = f.read()
        executable = os.stat(source).st_mode & 0o111
        self.add(path, body, 0o755 if executable else 0o644)

    def symlink(self, path, target):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor):
        path = path.strip('/')
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self, pad_to=4):
        """The archive; the kernel only unpacks an archive appended to it
        when that one starts on a 4-byte boundary."""
        self._entry('TRAILER!!!', 0)
        self._align(pad_to)
        return bytes(self.data)


def _base_initramfs(tree):
    """Busybox, /init and the vfio modules of both modes: the first archive
    of the initramfs, cached per kernel."""
    kernel = tree.kernel
    modules = tree.load_order(tree.vfio_core() + ['vfio_pci'])
    guest = {name: os.path.join(GUEST_FILES, name) for name in ('init', 'vmtest-host')}
    key = hashlib.sha256()
    sources = [BUSYBOX, *guest.values()] + [os.path.join(kernel.moddir, tree.files[m]) for m in modules]
    for path in sources:
        st = os.stat(path)
        key.update(f'{path} {st.st_size} {st.st_mtime_ns}\n'.encode())
    for path in guest.values():
        with open(path, 'rb') as f:
            key.update(f.read())
    name = f'initramfs-{kernel.name}-{key.hexdigest()[:16]}.cpio'
    try:
        with open(os.path.join(CACHE, name), 'rb') as f:
            return f.read()
    except FileNotFoundError:
        pass

    cpio = Cpio()
    for d in ('proc', 'sys', 'dev', 'tmp', 'tests', 'ng', 'vmtest'):
        cpio.mkdir(d)
    cpio.chardev('dev/console', 5, 1)
    cpio.add_file('bin/busybox', BUSYBOX)
    applets = subprocess.run([BUSYBOX, '--list-full'], check=True, capture_output=True, text=True)
    for applet in applets.stdout.split():
        if applet not in ('bin/busybox', 'linuxrc'):
            cpio.symlink(applet, '/bin/busybox')
    cpio.add_file('init', guest['init'])
    cpio.add_file('bin/vmtest-host', guest['vmtest-host'])
    for name in modules:
        cpio.add(tree.guest_path(name), tree.image(name))

    data = cpio.finish(pad_to=512)
    os.makedirs(CACHE, exist_ok=True)
    for old in os.listdir(CACHE):  # of this kernel, with other contents
        if old.startswith(f'initramfs-{kernel.name}-') and not old.startswith(name):
            try:
                os.unlink(os.path.join(CACHE, old))
            except FileNotFoundError:
                pass  # another run cleaned up first
    tmp = os.path.join(CACHE, f'{name}.{os.getpid()}')
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, os.path.join(CACHE, name))
    return data


# --------------------------------------------------------------------------
# Device topologies. Devices get qdev ids so that tests can name them in host
# cues (device_del, pcie_aer_inject_error); guests find them by vendor:device.

EDU = 'edu,dma_mask=0xffffffffffffffff'
# Slow links: at the default 16 GT/s the kernel misses Data Link Layer Link
# Active after a secondary bus reset and hot reset fails.
SLOW_LINK = 'x-speed=2_5,x-width=1'


def _qemu_value(text):
    return text.replace(',', ',,')


def _topology_pcie(logdir):
    image = os.path.join(logdir, 'nvme.img')
    with open(image, 'wb') as f:
        f.truncate(16 << 20)
    return ['-device', f'pcie-root-port,id=rp1,chassis=1,slot=1,{SLOW_LINK}',
            '-drive', f'if=none,id=nvm,file={_qemu_value(image)},format=raw',
            '-device', 'nvme,serial=ng0,id=nvme0,bus=rp1',
            '-device', 'nvme-ns,drive=nvm,bus=nvme0,nsid=1',
            '-device', f'pcie-root-port,id=rp2,chassis=2,slot=2,{SLOW_LINK}',
            '-netdev', 'user,id=net0,restrict=on',
            '-device', 'e1000e,id=e1000e0,netdev=net0,bus=rp2']


TOPOLOGIES = {
    'edu': ('edu0 (1234:11e8) on pcie.0',
            lambda logdir: ['-device', f'{EDU},id=edu0']),
    'bridge': ('edu1, edu2 behind pcie-pci-bridge br0 (one IOMMU group, bus reset)',
               lambda logdir: ['-device', 'pcie-pci-bridge,id=br0',
                               '-device', f'{EDU},id=edu1,bus=br0,addr=1',
                               '-device', f'{EDU},id=edu2,bus=br0,addr=2']),
    'testdev': ('testdev0 (1b36:0005): I/O BAR, 1 GiB BAR2',
                lambda logdir: ['-device', 'pci-testdev,id=testdev0,membar=1G']),
    'ivshmem': ('ivshmem0 (1af4:1110): sub-page BAR0, 1 GiB RAM BAR2',
                lambda logdir: ['-object', 'memory-backend-ram,id=ivshmem0-mem,size=1G',
                                '-device', 'ivshmem-plain,id=ivshmem0,memdev=ivshmem0-mem']),
    'pcie': ('nvme0 (1b36:0010) behind rp1, e1000e0 (8086:10d3) behind rp2',
             _topology_pcie),
    'aer': ('vrng (1af4:1044, aer=on) behind rp3',
            lambda logdir: ['-device', 'pcie-root-port,id=rp3,chassis=3,slot=3',
                            '-device', 'virtio-rng-pci,id=vrng,bus=rp3,aer=on']),
    # QEMU's standard VGA: class 0300, legacy VGA ranges routed by the root
    # ports' VGA Enable, which the guest's VGA arbiter moves between the two.
    # No vgabios runs (romfile=): no guest driver or console is on them, and
    # firmware time stays out of the boot.
    'vga': ('vga0, vga1 (1234:1111, VGA class) behind rp5, rp6',
            lambda logdir: ['-device', 'pcie-root-port,id=rp5,chassis=5,slot=5',
                            '-device', 'VGA,id=vga0,bus=rp5,romfile=',
                            '-device', 'pcie-root-port,id=rp6,chassis=6,slot=6',
                            '-device', 'VGA,id=vga1,bus=rp6,romfile=']),
}
_SINGLE_TOPOLOGIES = list(TOPOLOGIES.values())
TOPOLOGIES['all'] = ('all of the above in one machine', lambda logdir: [
    arg for _, devices in _SINGLE_TOPOLOGIES for arg in devices(logdir)])
# Not in 'all': its nvme has the same ID as nvme0. QEMU 7.2's nvme SR-IOV
# (docs/system/devices/nvme.rst): vq_flexible >= 2 * max_vfs, vi_flexible >=
# max_vfs, max_ioqpairs >= vq_flexible + 2, msix_qsize >= vi_flexible + 1.
TOPOLOGIES['sriov'] = (
    'nvme-pf0 (1b36:0010, SR-IOV PF, up to 2 VFs) behind rp4',
    lambda logdir: ['-device', f'pcie-root-port,id=rp4,chassis=4,slot=4,{SLOW_LINK}',
                    '-device', 'nvme-subsys,id=nvme-subsys0,nqn=vfio-ng-sriov',
                    '-device', 'nvme,serial=pf0,id=nvme-pf0,bus=rp4,subsys=nvme-subsys0,'
                    'sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,'
                    'max_ioqpairs=6,msix_qsize=4'])


# Not in 'all' (a second e1000e): DPDK testpmd forwards between two e1000e
# (the em PMD) whose netdevs are ports of one QEMU hub.
TOPOLOGIES['dpdk'] = (
    'e1000e-hub0, e1000e-hub1 (8086:10d3) on QEMU hub 0, behind rp7, rp8',
    lambda logdir: [arg for n in (0, 1) for arg in (
        '-device', f'pcie-root-port,id=rp{7 + n},chassis={7 + n},slot={7 + n},{SLOW_LINK}',
        '-netdev', f'hubport,id=hub0port{n},hubid=0',
        '-device', f'e1000e,id=e1000e-hub{n},netdev=hub0port{n},bus=rp{7 + n},romfile=')])


# Not in 'all' (QEMU 10): an 82576 (igb, QEMU 8.0 and later) as an SR-IOV
# PF whose VFs (8086:10ca, up to 8) work, unlike those of QEMU 7.2's nvme.
TOPOLOGIES['igb'] = (
    'igb0 (8086:10c9, SR-IOV PF, up to 8 VFs) behind rp9 (QEMU 10)',
    lambda logdir: ['-device', f'pcie-root-port,id=rp9,chassis=9,slot=9,{SLOW_LINK}',
                    '-netdev', 'user,id=net-igb0,restrict=on',
                    '-device', 'igb,id=igb0,netdev=net-igb0,bus=rp9,romfile='])


def qemu_binary(topology):
    """The QEMU to run `topology` with."""
    if topology not in QEMU10_TOPOLOGIES:
        return QEMU
    proc = subprocess.run([QEMU10_SH, 'path'], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(f'topology {topology} needs QEMU 10, which is not prepared '
                         '(scripts/qemu10.sh prepare, part of scripts/setup.sh)')
    return proc.stdout.strip()


# --------------------------------------------------------------------------
# Results

TAP_RESULT = re.compile(r'(not )?ok\b(.*)')
TAP_PLAN = re.compile(r'1\.\.(\d+)')
TAP_DIRECTIVE = re.compile(r'#\s*(skip|todo)\b', re.IGNORECASE)


@dataclasses.dataclass
class Program:
    """The TAP accounting of one test program."""
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    plan: int | None = None
    status: int | None = None   # exit status; None: never finished
    problems: list = dataclasses.field(default_factory=list)

    @property
    def results(self):
        return self.passed + self.failed + self.skipped

    def feed(self, line):
        result = TAP_RESULT.match(line)
        if result:
            if TAP_DIRECTIVE.search(result.group(2)):
                self.skipped += 1
            elif result.group(1):
                self.failed += 1
                self.problems.append(f'{self.name}: {line}')
            else:
                self.passed += 1
        elif self.plan is None and TAP_PLAN.match(line):
            self.plan = int(TAP_PLAN.match(line).group(1))

    def finish(self, status, test_timeout):
        """Account the exit `status` (None: the program never finished);
        returns a problem with the program as a whole, if any."""
        self.status = status
        if status is None:
            problem = 'did not finish (guest died or timed out)'
        elif status > 128:
            problem = f'killed by signal {status - 128}'
            if status - 128 == signal.SIGKILL:
                problem += f' (the per-test timeout is {test_timeout} s)'
        elif status not in (0, KSFT_SKIP) and not self.failed:
            problem = f'exited with status {status} without a "not ok"'
        elif self.plan is None:
            problem = 'printed no TAP plan'
        elif self.plan != self.results:
            problem = f'planned {self.plan} tests, reported {self.results}'
        else:
            problem = None
        if self.plan == 0 and not self.results and not problem:
            self.skipped += 1  # "1..0 # SKIP reason": the whole program skipped
        if problem:
            self.failed += 1
            self.problems.append(f'{self.name}: {problem}')
        return problem


@dataclasses.dataclass
class Finding:
    """A kernel report in the console log: its lines and what was running."""
    phase: str
    first: str      # the first line that made it a report
    lines: list

    def title(self):
        return f'console: {_strip_timestamp(self.first)} (during {self.phase})'


@dataclasses.dataclass
class Result:
    kernel: str
    mode: str
    topology: str
    cmd: str | None = None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = dataclasses.field(default_factory=list)   # one line per failure
    findings: list = dataclasses.field(default_factory=list)   # console reports (Finding)
    programs: list = dataclasses.field(default_factory=list)   # test programs (Program)
    lines: list = dataclasses.field(default_factory=list)      # guest ttyS1 output
    status: int | None = None    # exit status of --cmd
    done: bool = False        # the guest reached its end marker
    timed_out: bool = False
    hang_dump: list = dataclasses.field(default_factory=list)  # guest state at a timeout
    ready_seconds: float | None = None  # QEMU start to init running
    seconds: float | None = None        # QEMU start to exit: boot to poweroff
    logdir: str | None = None           # None: removed after success
    label: str | None = None            # names the run in summary() and timing()

    @property
    def ok(self):
        return self.failed == 0

    @property
    def name(self):
        """The run's name: '6.12 ng', or '6.12 ng [label]'."""
        return f'{self.kernel} {self.mode}' + (f' [{self.label}]' if self.label else '')

    def fail(self, text):
        self.failed += 1
        self.failures.append(text)

    def summary(self):
        return f'{self.name}: {counts(self.passed, self.failed, self.skipped)}'

    def timing(self):
        text = f'# {self.name}: boot to poweroff {self.seconds:.1f} s'
        if self.ready_seconds is not None:
            text += f' (init up after {self.ready_seconds:.1f} s)'
        return text

    def report(self):
        """Lines describing every failure, console excerpts included."""
        lines = [f'FAIL {text}' for text in self.failures]
        if self.hang_dump:
            lines.append('guest state at the timeout (sysrq w: blocked tasks, l: CPUs):')
            lines += [f'    {line}' for line in self.hang_dump]
        for finding in self.findings:
            lines.append(f'FAIL {finding.title()}')
            lines += [f'    {line}' for line in finding.lines]
        if lines and self.logdir:
            lines.append(f'logs: {self.logdir}')
        return lines


def counts(passed, failed, skipped):
    return f'{passed} passed, {failed} failed, {skipped} skipped'


# --------------------------------------------------------------------------
# Console scanner

CONSOLE_REPORT = re.compile(
    r'BUG:|WARNING:|Oops|KASAN|UBSAN|general protection fault|Kernel panic'
    r'|possible circular|possible recursive|inconsistent lock state|suspicious RCU'
    r'|Call Trace|blocked for more than|unreferenced object|nobody cared|detected stall')
CONSOLE_EXPECTED = re.compile(r'taints kernel|tainting kernel')
CONSOLE_END_OF_REPORT = re.compile(r'---\[ end trace')
CONSOLE_PHASE = re.compile(r'vmtest: (?:begin |end )?(\S+)$')
REPORT_WINDOW = 100     # lines after a report line that still belong to it
REPORT_MAX_LINES = 80   # lines of a report shown (console.log has everything)
REPORT_LEAD_IN = 3      # lines before the first report line shown with it


def _strip_timestamp(line):
    return re.sub(r'^\[\s*\d+\.\d+\]\s*', '', line)


def scan_console(text):
    """Kernel reports in a console log, each with the phase (test) it
    happened in. Report lines close to each other (a WARNING and its Call
    Trace, a lockdep splat) are one report."""
    findings = []
    phase = 'boot'
    current = None  # the report being collected ...
    window = 0      # ... and how many more lines may belong to it
    recent = collections.deque(maxlen=REPORT_LEAD_IN)
    for line in text.splitlines():
        line = line.rstrip('\r')
        marker = CONSOLE_PHASE.search(line)
        if marker:
            phase, current = marker.group(1), None
            recent.clear()
            continue
        if CONSOLE_REPORT.search(line) and not CONSOLE_EXPECTED.search(line):
            if current is None:
                current = Finding(phase, line, list(recent))
                findings.append(current)
            window = REPORT_WINDOW
        elif window == 0:
            current = None
        if current is None:
            recent.append(line)
            continue
        if len(current.lines) < REPORT_MAX_LINES:
            current.lines.append(line)
        window -= 1
        if CONSOLE_END_OF_REPORT.search(line):
            current, window = None, 0
    return findings


# --------------------------------------------------------------------------
# The running machine. QEMU writes the console and the test output to files
# that the runner follows: its serial ports write one byte per write(), and a
# socket holds only a few hundred of those, after which a port that hits a
# busy reader stalls for good. Host answers (ttyS2) and the QMP monitor are
# socket pairs handed to QEMU as file descriptors.

POLL_INTERVAL = 0.02
POWEROFF_GRACE = 60  # seconds from the end marker to QEMU's exit
HANG_DUMP_WAIT = 5   # seconds the guest gets to print its state on a timeout


class Monitor:
    """A minimal QMP client."""

    def __init__(self, sock, timeout=60):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buffer = b''
        self.negotiated = False
        self.next_id = 0

    def _receive(self, timeout):
        """Add what QEMU sends within `timeout` s to the buffer; False if nothing."""
        if not select.select([self.sock], [], [], timeout)[0]:
            return False
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def drain(self):
        """Drop the greeting and asynchronous events, so that they never pile
        up (called while no command is in flight)."""
        while self._receive(0):
            pass
        self.buffer = self.buffer.rpartition(b'\n')[2]

    def _execute(self, command, arguments=None):
        self.next_id += 1
        request = {'execute': command, 'id': self.next_id}
        if arguments:
            request['arguments'] = arguments
        self.sock.sendall(json.dumps(request).encode() + b'\n')
        deadline = time.monotonic() + self.timeout
        while True:
            while b'\n' not in self.buffer:
                if not self._receive(max(0, deadline - time.monotonic())):
                    raise OSError(f'no answer from QEMU to {command}')
            line, self.buffer = self.buffer.split(b'\n', 1)
            message = json.loads(line)
            if message.get('id') == self.next_id:  # else the greeting or an event
                if 'error' in message:
                    raise OSError(message['error'].get('desc', str(message['error'])))
                return message['return']

    def hmp(self, command_line):
        if not self.negotiated:
            self._execute('qmp_capabilities')
            self.negotiated = True
        return self._execute('human-monitor-command', {'command-line': command_line})


class _Lines:
    """Splits a byte stream into text lines."""

    def __init__(self, callback):
        self.callback = callback
        self.partial = b''

    def feed(self, data):
        *lines, self.partial = (self.partial + data).split(b'\n')
        for line in lines:
            self.callback(line.decode(errors='replace').rstrip('\r'))

    def close(self):
        if self.partial:
            self.callback(self.partial.decode(errors='replace').rstrip('\r'))
            self.partial = b''


class Machine:
    """One QEMU process: kernel console (ttyS0) and test output (ttyS1) in
    files of the logdir, host answers (ttyS2) and QMP on socket pairs."""

    def __init__(self, logdir):
        self.console_log = os.path.join(logdir, 'console.log')
        self.out_log = os.path.join(logdir, 'out.log')
        self.host, self.host_theirs = socket.socketpair()
        qmp, self.qmp_theirs = socket.socketpair()
        self.monitor = Monitor(qmp)
        self.proc = None

    def chardev_args(self):
        return ['-chardev', f'file,id=console,path={_qemu_value(self.console_log)}',
                '-serial', 'chardev:console',
                '-chardev', f'file,id=out,path={_qemu_value(self.out_log)}',
                '-serial', 'chardev:out',
                '-chardev', f'socket,id=host,fd={self.host_theirs.fileno()}',
                '-serial', 'chardev:host',
                '-chardev', f'socket,id=qmp,fd={self.qmp_theirs.fileno()}',
                '-mon', 'chardev=qmp,mode=control']

    def start(self, argv, stderr):
        for path in (self.console_log, self.out_log):
            open(path, 'wb').close()  # so that they can be followed from the start
        theirs = (self.host_theirs, self.qmp_theirs)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                     pass_fds=[s.fileno() for s in theirs])
        for sock in theirs:
            sock.close()

    def answer_host(self, text):
        try:
            self.host.sendall(text.encode() + b'\n')
        except OSError:
            pass  # QEMU is gone; the end of the run says why

    def serve(self, deadline, on_console, on_out):
        """Pass the serial output to the callbacks until QEMU exits or the
        time.monotonic() value that deadline() returns passes; returns False
        on timeout."""
        streams = [(open(self.console_log, 'rb', buffering=0), _Lines(on_console)),
                   (open(self.out_log, 'rb', buffering=0), _Lines(on_out))]
        try:
            while True:
                exited = self.proc.poll() is not None  # then read what is left
                busy = False
                for f, lines in streams:
                    data = f.read()
                    if data:
                        lines.feed(data)
                        busy = True
                self.monitor.drain()
                while select.select([self.host], [], [], 0)[0] and self.host.recv(4096):
                    pass  # the guest echoing on ttyS2: ignored
                if exited:
                    return True
                if time.monotonic() >= deadline():
                    return False
                if not busy:
                    time.sleep(POLL_INTERVAL)
        finally:
            for f, lines in streams:
                lines.close()
                f.close()

    def dump_hung_guest(self):
        """Have a guest that timed out show its blocked tasks and what its
        CPUs run (sysrq w and l, on the console); returns the console.log
        offset where the dump starts."""
        offset = os.path.getsize(self.console_log)
        try:
            for key in 'wl':
                self.monitor.hmp(f'sendkey alt-sysrq-{key}')
        except OSError:
            return offset
        time.sleep(HANG_DUMP_WAIT)
        return offset

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        self.host.close()
        self.monitor.sock.close()


# --------------------------------------------------------------------------
# One run

class _Session:
    """Follows the guest's ttyS1 output: markers, test programs, host cues."""

    def __init__(self, result, machine, logdir, echo, verbose, test_timeout):
        self.result = result
        self.machine = machine
        self.echo = echo or (lambda line: None)
        self.verbose = verbose
        self.test_timeout = test_timeout
        self.start = time.monotonic()
        self.program = None
        self.done_at = None  # when the end marker came
        self.host_log = open(os.path.join(logdir, 'host.log'), 'w')

    def console(self, line):
        if self.verbose:
            self.echo(f'console| {line}')

    def out(self, line):
        marker = line.find('@@VMTEST ')
        if marker > 0:  # a program's last line had no newline
            self._line(line[:marker])
            line = line[marker:]
        self._line(line)

    def _line(self, line):
        if line.startswith('@@VMTEST '):
            self._marker(line.split()[1:])
        elif line.startswith('@@HOST '):
            self._host(line[len('@@HOST '):].strip())
        else:
            self.result.lines.append(line)
            if self.program:
                self.program.feed(line)
            self.echo(line)

    def _marker(self, words):
        kind, args = (words[0], words[1:]) if words else ('', [])
        result = self.result
        if kind == 'READY':
            result.ready_seconds = time.monotonic() - self.start
            if self.verbose:
                self.echo(f'# guest up after {result.ready_seconds:.1f} s: {" ".join(args)}')
        elif kind == 'LOG':
            if self.verbose:
                self.echo(f'# {" ".join(args)}')
        elif kind == 'FAIL':
            result.fail(f'guest: {" ".join(args)}')
        elif kind == 'BEGIN' and args:
            if result.cmd is None:
                self.program = Program(args[0])
                self.echo(f'## {args[0]}')
        elif kind == 'END' and len(args) == 2 and args[1].isdigit():
            if result.cmd is None:
                self._end_program(int(args[1]))
            else:
                result.status = int(args[1])
                if result.status:
                    result.fail(f'cmd exited with status {result.status}')
        elif kind == 'DONE':
            result.done = True
            self.done_at = time.monotonic()

    def _end_program(self, status):
        program, self.program = self.program, None
        if program is None:
            return
        problem = program.finish(status, self.test_timeout)
        if problem:
            self.echo(f'## {program.name}: {problem}')
        result = self.result
        result.programs.append(program)
        result.passed += program.passed
        result.skipped += program.skipped
        result.failed += program.failed
        result.failures += program.problems

    def _host(self, command):
        try:
            output = self.machine.monitor.hmp(command)
            answer = ' | '.join(line.strip() for line in output.splitlines() if line.strip())
            answer = answer or 'OK'
        except (OSError, ValueError) as e:
            answer = f'ERROR {e}'
        answer = ''.join(c if c.isprintable() else ' ' for c in answer)[:HOST_ANSWER_MAX]
        self.host_log.write(f'{time.monotonic() - self.start:8.2f} {command}\n    -> {answer}\n')
        self.host_log.flush()
        if self.verbose:
            self.echo(f'# host: {command} -> {answer}')
        self.machine.answer_host(answer)

    def deadline(self, timeout):
        """When to give up on the guest: `timeout` after the start, or soon
        after the end marker if the guest fails to power off."""
        if self.done_at is None:
            return self.start + timeout
        return min(self.start + timeout, self.done_at + POWEROFF_GRACE)

    def close(self):
        if self.program:  # the guest died while a program ran
            self._end_program(None)
        self.host_log.close()


def _guest_modules(tree, mode, module):
    """(names of the kernel's modules to load, in order; guest paths of
    everything to insmod, in order; guest path of the vfio-pci.ko)."""
    if mode == 'baseline':
        if 'vfio_pci' not in tree.files:
            raise SetupError(f'kernel {tree.kernel.name} has no vfio_pci module')
        load = tree.load_order(tree.vfio_core() + ['vfio_pci'])
        return load, [tree.guest_path(m) for m in load], tree.guest_path('vfio_pci')

    if not module:
        raise SetupError('mode ng needs --module (our vfio-pci.ko)')
    if not os.path.isfile(module):
        raise SetupError(f'{module} does not exist (build the module first)')
    with open(module, 'rb') as f:
        info = modinfo(f.read())
    built_for = (info.get('vermagic') or [''])[0].split(' ')[0]
    if built_for != tree.kernel.release:
        raise SetupError(f'{module} is built for {built_for or "?"}, '
                         f'kernel {tree.kernel.name} is {tree.kernel.release}')
    # A dependency on the in-tree driver is a bug of ours: let insmod say so.
    deps = [d for d in module_depends(info) if d not in IN_TREE_DRIVER]
    load = tree.load_order(tree.vfio_core() + deps, needed_by=module)
    return load, [tree.guest_path(m) for m in load] + [NG_MODULE_GUEST_PATH], NG_MODULE_GUEST_PATH


def _inject_module(tree, module):
    """The vt_inject.ko to ship, or None: `module`, which must be built for
    the kernel, or else build/<kernel>/vt_inject.ko if it is."""
    explicit = module is not None
    if not explicit:
        module = os.path.join(REPO, 'build', tree.kernel.name, INJECT_MODULE)
        if not os.path.isfile(module):
            return None
    elif not os.path.isfile(module):
        raise SetupError(f'{module} does not exist (build the module first)')
    with open(module, 'rb') as f:
        built_for = (modinfo(f.read()).get('vermagic') or [''])[0].split(' ')[0]
    if built_for != tree.kernel.release:
        if not explicit:
            return None  # a stale build: the tests that need it skip
        raise SetupError(f'{module} is built for {built_for or "?"}, '
                         f'kernel {tree.kernel.name} is {tree.kernel.release}')
    return module


def _test_files(tests, cmd, only=None):
    """([(name, path)] of all regular files of `tests`, the t_* programs
    among them to run), sorted. `tests`: a directory or several, separated
    by ':' (one name in two of them is an error). `only`: the names of the
    programs to run (default: all); a name that is no t_* program of
    `tests` is an error."""
    if cmd is not None and only is not None:
        raise SetupError('--only selects test programs: not with --cmd')
    paths = {}
    for directory in tests.split(':'):
        if not os.path.isdir(directory):
            if cmd is None:
                raise SetupError(f'test directory {directory} does not exist')
            continue
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                continue
            if name in paths:
                raise SetupError(f'{name} is in both {os.path.dirname(paths[name])} and '
                                 f'{directory}')
            paths[name] = path
    files = sorted(paths.items())
    programs = [name for name, path in files
                if name.startswith('t_') and os.access(path, os.X_OK)]
    if only is not None:
        unknown = sorted(set(only) - set(programs))
        if unknown or not only:
            raise SetupError(f'--only: no t_* program {" ".join(unknown) or "named"} in {tests}')
        programs = [p for p in programs if p in only]
    return files, programs


def _run_config(values):
    lines = []
    for name, value in values.items():
        export = 'export ' if name.startswith('VFIO_TEST_') else ''
        lines.append(f'{export}{name}={shlex.quote(str(value))}')
    return ('\n'.join(lines) + '\n').encode()


def _qemu_argv(kernel, initrd, machine, topology, logdir, host_root=False, cpu=None,
               memory=None, qemu=QEMU):
    return [qemu, '-nodefaults', '-no-user-config', '-no-reboot', '-display', 'none', '-vga', 'none',
            '-machine', 'q35,kernel-irqchip=split', '-accel', 'tcg,thread=single',
            *(['-cpu', cpu] if cpu else []),
            '-m', memory or kernel.default('memory'), '-smp', '2',
            '-device', 'intel-iommu,intremap=on',  # before every other PCI device
            '-kernel', kernel.vmlinux, '-initrd', initrd,
            # no_timer_check: on a loaded host the IO-APIC timer check can
            # miss ticks under TCG and panic; devkmsg=on: the phase lines of
            # /init must not be rate-limited; sysrq: the dump on a timeout.
            '-append', 'console=ttyS0,115200 panic=-1 intel_iommu=on no_timer_check '
                       'printk.devkmsg=on sysrq_always_enabled',
            *machine.chardev_args(),
            *TOPOLOGIES[topology][1](logdir),
            *(HOST_ROOT_QEMU if host_root else [])]  # last: shifts no topology device


def run(kernel, mode, topology='all', module=None, tests=None, cmd=None, timeout=None,
        logdir=None, keep=False, verbose=False, echo=print, test_timeout=None,
        qemu_args=(), module_params=None, only=None, label=None, inject_module=None,
        host_root=False, cpu=None, memory=None):
    """Boot `kernel` with `topology`, run the tests (or `cmd`) in `mode`.

    `only`: names of the t_* programs to run (default: every one of `tests`).
    `label` names the run in its summary and timing lines.

    `module_params` ("enable_sriov=1 ...") go to the insmod of vfio-pci.ko,
    ours or the in-tree one.

    `inject_module`: the test-only vt_inject.ko to ship (default:
    build/<kernel>/vt_inject.ko when it is built for the kernel).

    `qemu_args` go at the end of QEMU's command line (e.g. the benchmark's
    "-icount shift=0,sleep=off").

    `host_root`: share the host's / read-only with the guest (virtio-9p),
    mounted on VFIO_TEST_HOST_ROOT. `cpu`: QEMU's -cpu model (default:
    QEMU's own); `memory`: guest RAM (default: per kernel).

    Guest output is passed line by line to `echo` (None: quiet). Raises
    SetupError when the run cannot start; returns a Result otherwise.
    """
    if mode not in MODES:
        raise SetupError(f"unknown mode '{mode}' ({'|'.join(MODES)})")
    if topology not in TOPOLOGIES:
        raise SetupError(f"unknown topology '{topology}' ({'|'.join(TOPOLOGIES)})")
    kern = Kernel.lookup(kernel)
    qemu = qemu_binary(topology)
    tree = ModuleTree(kern)
    load, insmods, driver_ko = _guest_modules(tree, mode, module)
    if host_root:  # the 9p modules first, where they are not built in
        share = tree.load_order([m for m in HOST_ROOT_MODULES if m in tree.files])
        share = [m for m in share if m not in load]
        load = share + load
        insmods = [tree.guest_path(m) for m in share] + insmods
    inject_ko = _inject_module(tree, inject_module)
    tests = ':'.join(os.path.abspath(d) for d in (tests or DEFAULT_TESTS).split(':'))
    files, programs = _test_files(tests, cmd, only)
    if cmd is None and not programs and echo:
        echo(f'# no t_* test programs in {tests}')
    timeout = timeout or kern.default('timeout')
    test_timeout = test_timeout or kern.default('test_timeout')

    explicit_logdir = logdir is not None
    if explicit_logdir:
        os.makedirs(logdir, exist_ok=True)
    else:
        logdir = tempfile.mkdtemp(prefix=f'vmtest-{kernel}-{mode}-')
    logdir = os.path.abspath(logdir)

    # The initramfs: the base archive, then this run's files.
    extra = Cpio()
    for name, path in files:
        extra.add_file(f'tests/{name}', path)
    if mode == 'ng':
        extra.add_file(NG_MODULE_GUEST_PATH, module)
    if inject_ko:
        extra.add_file(INJECT_MODULE_GUEST_PATH, inject_ko)
    in_base = tree.load_order(tree.vfio_core() + ['vfio_pci'])
    for name in load:
        if name not in in_base:
            extra.add(tree.guest_path(name), tree.image(name))
    extra.add('vmtest/run.conf', _run_config({
        'VMTEST_MODULES': ' '.join(insmods),
        'VMTEST_TESTS': ' '.join(programs),
        'VMTEST_CMD': cmd or '',
        'VMTEST_TEST_TIMEOUT': test_timeout,
        'VMTEST_DRIVER_PARAMS': module_params or '',
        'VFIO_TEST_MODE': mode,
        'VFIO_TEST_KERNEL': kernel,
        'VFIO_TEST_DRIVER_KO': driver_ko,
        'VFIO_TEST_INJECT_KO': INJECT_MODULE_GUEST_PATH if inject_ko else '',
        'VFIO_TEST_TOPOLOGY': topology,
        'VFIO_TEST_HOSTCMD': '/dev/ttyS2',
        'VFIO_TEST_HOST_ROOT': HOST_ROOT_GUEST_PATH if host_root else '',
    }))
    initrd = os.path.join(logdir, 'initrd.img')
    with open(initrd, 'wb') as f:
        f.write(_base_initramfs(tree))
        f.write(extra.finish())

    machine = Machine(logdir)
    argv = _qemu_argv(kern, initrd, machine, topology, logdir, host_root, cpu, memory,
                      qemu) + list(qemu_args)
    with open(os.path.join(logdir, 'qemu-cmdline.txt'), 'w') as f:
        f.write(shlex.join(argv) + '\n')

    result = Result(kernel=kernel, mode=mode, topology=topology, cmd=cmd, logdir=logdir,
                    label=label)
    session = _Session(result, machine, logdir, echo, verbose, test_timeout)
    console_end = None  # where the console stops counting (a hang dump follows)
    with open(os.path.join(logdir, 'qemu.log'), 'w') as qemu_log:
        machine.start(argv, qemu_log)
        try:
            finished = machine.serve(lambda: session.deadline(timeout), session.console, session.out)
            if not finished and not result.done:
                console_end = machine.dump_hung_guest()
        finally:
            machine.stop()
            result.seconds = time.monotonic() - session.start
            session.close()

    if not finished and result.done:
        result.fail(f'the guest did not power off within {POWEROFF_GRACE} s of its end marker')
    elif not finished:
        result.timed_out = True
        result.fail(f'timeout: the guest did not finish within {timeout:g} s')
    elif not result.done:
        with open(os.path.join(logdir, 'qemu.log'), errors='replace') as f:
            qemu_error = f.read().strip()
        if machine.proc.returncode and qemu_error:
            result.fail(f'QEMU failed: {qemu_error.splitlines()[-1]}')
        else:
            result.fail('the guest died before its end marker (see console.log)')
    with open(os.path.join(logdir, 'console.log'), 'rb') as f:
        console = f.read().decode(errors='replace')
    result.findings = scan_console(console[:console_end])
    result.failed += len(result.findings)
    if console_end is not None:
        dump = [line.rstrip('\r') for line in console[console_end:].splitlines()]
        result.hang_dump = dump[:REPORT_MAX_LINES]

    if not keep:
        for bulky in ('initrd.img', 'nvme.img'):
            if os.path.exists(os.path.join(logdir, bulky)):
                os.unlink(os.path.join(logdir, bulky))
        if result.ok and not explicit_logdir:
            shutil.rmtree(logdir)
            result.logdir = None
    return result


# --------------------------------------------------------------------------
# Command line

def _names(text):
    """'t_a,t_b' or 't_a t_b' -> ['t_a', 't_b']."""
    return [name for name in text.replace(',', ' ').split() if name]


def _parse_args(argv):
    topologies = '\n'.join(f'  {name:8} {text}' for name, (text, _) in TOPOLOGIES.items())
    parser = argparse.ArgumentParser(
        description='Boot a kernel of the matrix under QEMU and run the selftests in it.',
        epilog=f'topologies:\n{topologies}', formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kernel', required=True, help='6.1, 6.12 or debug (scripts/kernels.sh list)')
    parser.add_argument('--mode', required=True, choices=MODES,
                        help='ng: our module (--module); baseline: the in-tree vfio_pci')
    parser.add_argument('--topology', default='all', choices=TOPOLOGIES, help='devices (default: all)')
    parser.add_argument('--module', help='our vfio-pci.ko, built for --kernel (mode ng)')
    parser.add_argument('--inject-module', metavar='KO',
                        help='the test-only vt_inject.ko for the tests that load it, built '
                        'for --kernel (default: build/KERNEL/vt_inject.ko if built for it)')
    parser.add_argument('--module-params', help='parameters for the insmod of vfio-pci.ko '
                        '(both modes), e.g. "enable_sriov=1"')
    parser.add_argument('--tests', help='directory of t_* programs and other files '
                        '(default: selftests/out), copied to /tests in the guest; several: '
                        'DIR:DIR...')
    parser.add_argument('--only', type=_names, metavar='T_A,T_B', help='run only these t_* programs of --tests '
                        '(names, comma-separated)')
    parser.add_argument('--cmd', help='run this shell command instead of the tests, '
                        'exit with its status')
    parser.add_argument('--host-root', action='store_true',
                        help='share the host\'s / read-only with the guest (virtio-9p), on '
                        f'{HOST_ROOT_GUEST_PATH} with the guest\'s /proc, /sys, /dev: '
                        'tests run host programs with chroot')
    parser.add_argument('--cpu', help='QEMU CPU model (default: QEMU\'s), e.g. Nehalem')
    parser.add_argument('--icount', action='store_true',
                        help='guest clock by instruction count, idle time skipped, one vCPU ('
                        f'{" ".join(ICOUNT)}): guest timeouts independent of the host\'s load')
    parser.add_argument('--memory', help='guest RAM (default: '
                        f'{DEFAULTS["memory"]})')
    parser.add_argument('--label', help='name of the run in its summary line: '
                        '"KERNEL MODE [LABEL]: N passed, ..."')
    debug = KERNEL_DEFAULTS['debug']
    parser.add_argument('--timeout', type=float, help='seconds for the whole run (default: '
                        f'{DEFAULTS["timeout"]}, debug: {debug["timeout"]})')
    parser.add_argument('--test-timeout', type=int, help='seconds per test program (default: '
                        f'{DEFAULTS["test_timeout"]}, debug: {debug["test_timeout"]})')
    parser.add_argument('--logdir', help='keep the logs here (default: a fresh directory '
                        'in /tmp, removed after a successful run)')
    parser.add_argument('--keep', action='store_true', help='keep the logdir, initramfs and images')
    parser.add_argument('--verbose', action='store_true', help='show the kernel console and progress')
    return parser.parse_args(argv)


def main(argv=None):
    args = _parse_args(argv)
    # In --cmd mode stdout belongs to the command: the runner reports on stderr.
    report = sys.stderr if args.cmd is not None else sys.stdout

    def echo(line):
        print(line, flush=True)

    try:
        result = run(kernel=args.kernel, mode=args.mode, topology=args.topology, module=args.module,
                     tests=args.tests, cmd=args.cmd, timeout=args.timeout, logdir=args.logdir,
                     keep=args.keep, verbose=args.verbose, echo=echo, test_timeout=args.test_timeout,
                     module_params=args.module_params, only=args.only, label=args.label,
                     inject_module=args.inject_module, host_root=args.host_root,
                     cpu=args.cpu, memory=args.memory,
                     qemu_args=ICOUNT if args.icount else ())
    except SetupError as e:
        print(f'vmtest: {e}', file=sys.stderr)
        return 2
    for line in result.report():
        print(line, file=report)
    print(result.timing(), file=report)
    if args.cmd is not None:
        return result.status if result.status else int(not result.ok)
    print(result.summary())
    print(counts(result.passed, result.failed, result.skipped))
    return 0 if result.ok else 1


if __name__ == '__main__':
    sys.exit(main())
