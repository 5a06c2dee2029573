# SPDX-License-Identifier: GPL-2.0-only
"""Guest side of the real-client tests (selftests/clients): TAP reporting,
PCI sysfs, a few VFIO ioctls, the host cue, and processes with a deadline.

These programs run in the test VM with the host's own Python, under
`chroot $VFIO_TEST_HOST_ROOT` (vmtest.py --host-root; selftests/clients/
in-host-root starts them), so that they can run the host's QEMU and DPDK.
Their stdout is the guest's ttyS1, which the runner reads as TAP: one
"ok"/"not ok" line per check, "# " diagnostics, the plan "1..N" at the end.
"""

import ctypes
import errno
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import time

SYSFS_PCI = '/sys/bus/pci'
DRIVER = 'vfio-pci'
PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')
PCI_CLASS_BRIDGE = 0x06


# --------------------------------------------------------------------------
# TAP

class Tap:
    """TAP output: ok()/skip()/diag(), then done() prints the plan and
    returns the exit status (1 if a check failed)."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def diag(self, text):
        for line in str(text).splitlines() or ['']:
            print(f'# {line}', flush=True)

    def ok(self, cond, desc, why=None):
        """One check: `why` (text or list of lines) explains a failure."""
        self.count += 1
        if not cond:
            self.failed += 1
            if why:
                self.diag('\n'.join(why) if isinstance(why, list) else why)
        print(f'{"ok" if cond else "not ok"} {self.count} - {desc}', flush=True)
        return bool(cond)

    def skip(self, desc, reason):
        self.count += 1
        print(f'ok {self.count} - {desc} # SKIP {reason}', flush=True)

    def skip_all(self, reason):
        print(f'1..0 # SKIP {reason}', flush=True)
        sys.exit(4)

    def done(self):
        print(f'1..{self.count}', flush=True)
        self.diag(f'{self.count - self.failed} passed, {self.failed} failed')
        return 1 if self.failed else 0


# --------------------------------------------------------------------------
# The host cue: an HMP command run on the outer QEMU's monitor

def host(command, timeout=120):
    """Have the runner run HMP `command` on this VM's QEMU; its answer, one
    line ('' if none came within `timeout` s)."""
    path = os.environ.get('VFIO_TEST_HOSTCMD')
    if not path:
        raise OSError('no host channel (VFIO_TEST_HOSTCMD)')
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    try:
        print(f'@@HOST {command}', flush=True)
        line = b''
        deadline = time.monotonic() + timeout
        while not line.endswith(b'\n'):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            line += chunk
    finally:
        os.close(fd)
    return line.decode(errors='replace').strip()


# --------------------------------------------------------------------------
# PCI sysfs

def _read(path):
    with open(path) as f:
        return f.read().strip()


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def dev_path(bdf, attr=''):
    return os.path.join(SYSFS_PCI, 'devices', bdf, attr)


def find(vendor, device):
    """BDFs of the functions with this vendor:device, sorted."""
    found = []
    for bdf in sorted(os.listdir(os.path.join(SYSFS_PCI, 'devices'))):
        try:
            if (int(_read(dev_path(bdf, 'vendor')), 16) == vendor
                    and int(_read(dev_path(bdf, 'device')), 16) == device):
                found.append(bdf)
        except OSError:
            continue  # went away
    return found


def on_root_bus(bdf):
    """True for a function on a root bus (its parent is the host bridge)."""
    parent = os.path.basename(os.path.dirname(os.path.realpath(dev_path(bdf))))
    return parent.startswith('pci')


def parents(bdf):
    """The bridges/ports above `bdf`, nearest first."""
    chain = []
    path = os.path.dirname(os.path.realpath(dev_path(bdf)))
    while re.fullmatch(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]', os.path.basename(path)):
        chain.append(os.path.basename(path))
        path = os.path.dirname(path)
    return chain


def driver(bdf):
    """Name of the bound driver, '' if none."""
    try:
        return os.path.basename(os.readlink(dev_path(bdf, 'driver')))
    except FileNotFoundError:
        return ''


def iommu_group(bdf):
    return int(os.path.basename(os.readlink(dev_path(bdf, 'iommu_group'))))


def group_members(group):
    return sorted(os.listdir(f'/sys/kernel/iommu_groups/{group}/devices'))


def pci_class(bdf):
    return int(_read(dev_path(bdf, 'class')), 16)


def unbind(bdf):
    if driver(bdf):
        _write(dev_path(bdf, 'driver/unbind'), bdf)


def bind(bdf):
    """Bind `bdf` to vfio-pci with driver_override; raises OSError if it
    does not end up bound to it."""
    if driver(bdf) == DRIVER:
        return
    unbind(bdf)
    _write(dev_path(bdf, 'driver_override'), DRIVER)
    _write(os.path.join(SYSFS_PCI, 'drivers_probe'), bdf)
    if driver(bdf) != DRIVER:
        raise OSError(errno.ENODEV, f'{bdf}: driver after bind is {driver(bdf) or "none"!r}')


def bind_group(bdf):
    """Bind `bdf` and every other endpoint of its IOMMU group (bridges stay
    as they are), so that the group is viable; returns the group number."""
    group = iommu_group(bdf)
    for member in group_members(group):
        if member == bdf or pci_class(member) >> 16 != PCI_CLASS_BRIDGE:
            bind(member)
    return group


def resources(bdf):
    """[(start, size, flags)] of the BARs and the ROM (sysfs 'resource')."""
    out = []
    for line in _read(dev_path(bdf, 'resource')).splitlines()[:7]:
        start, end, flags = (int(v, 16) for v in line.split())
        out.append((start, end - start + 1 if end else 0, flags))
    return out


IORESOURCE_IO = 0x100
IORESOURCE_MEM = 0x200


def config(bdf):
    with open(dev_path(bdf, 'config'), 'rb') as f:
        return f.read()


def find_cap(cfg, cap_id):
    """Offset of standard capability `cap_id` in config space bytes, or None."""
    if not cfg[0x06] & 0x10:
        return None
    pos, seen = cfg[0x34] & ~3, 0
    while pos and seen < 48:
        if cfg[pos] == cap_id:
            return pos
        pos, seen = cfg[pos + 1] & ~3, seen + 1
    return None


def msix_table(bdf):
    """(BAR, offset, entries) of the MSI-X table, or None."""
    cfg = config(bdf)
    pos = find_cap(cfg, 0x11)
    if pos is None:
        return None
    control, table = struct.unpack_from('<HI', cfg, pos + 2)
    return table & 7, table & ~7, (control & 0x7ff) + 1


# --------------------------------------------------------------------------
# VFIO, as little as the tests need (type1 container, region read/write)

VFIO_TYPE = ord(';')
VFIO_BASE = 100


def _io(nr):
    return (VFIO_TYPE << 8) | (VFIO_BASE + nr)


VFIO_GET_API_VERSION = _io(0)
VFIO_SET_IOMMU = _io(2)
VFIO_GROUP_GET_STATUS = _io(3)
VFIO_GROUP_SET_CONTAINER = _io(4)
VFIO_GROUP_GET_DEVICE_FD = _io(6)
VFIO_DEVICE_GET_REGION_INFO = _io(8)
VFIO_TYPE1v2_IOMMU = 3
VFIO_GROUP_FLAGS_VIABLE = 1


class VfioDevice:
    """A device fd through the group/container API (every kernel has it)."""

    def __init__(self, bdf):
        self.fds = []
        try:
            container = self._open('/dev/vfio/vfio')
            group = self._open(f'/dev/vfio/{iommu_group(bdf)}')
            status = bytearray(struct.pack('<II', 8, 0))
            fcntl.ioctl(group, VFIO_GROUP_GET_STATUS, status)
            if not struct.unpack('<II', status)[1] & VFIO_GROUP_FLAGS_VIABLE:
                raise OSError(errno.EINVAL, f'group of {bdf} is not viable')
            fcntl.ioctl(group, VFIO_GROUP_SET_CONTAINER, struct.pack('<i', container))
            fcntl.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)
            # fcntl.ioctl() returns the buffer, not the new fd: through libc.
            libc = ctypes.CDLL(None, use_errno=True)
            self.fd = libc.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, ctypes.c_char_p(bdf.encode()))
            if self.fd < 0:
                raise OSError(ctypes.get_errno(), f'VFIO_GROUP_GET_DEVICE_FD {bdf}: '
                              f'{os.strerror(ctypes.get_errno())}')
            self.fds.insert(0, self.fd)
        except OSError:
            self.close()
            raise

    def _open(self, path):
        fd = os.open(path, os.O_RDWR)
        self.fds.insert(0, fd)
        return fd

    def region(self, index):
        """(size, offset, flags) of region `index`."""
        info = bytearray(struct.pack('<IIIIQQ', 32, 0, index, 0, 0, 0))
        fcntl.ioctl(self.fd, VFIO_DEVICE_GET_REGION_INFO, info)
        _, flags, _, _, size, offset = struct.unpack('<IIIIQQ', info)
        return size, offset, flags

    def write(self, index, offset, data):
        _, base, _ = self.region(index)
        return os.pwrite(self.fd, data, base + offset)

    def read(self, index, offset, size):
        _, base, _ = self.region(index)
        return os.pread(self.fd, size, base + offset)

    def close(self):
        for fd in self.fds:  # device fd, group, container
            os.close(fd)
        self.fds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def group_free(group):
    """True if /dev/vfio/<group> can be opened, i.e. nobody holds it."""
    try:
        os.close(os.open(f'/dev/vfio/{group}', os.O_RDWR))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Processes

def wait_for(predicate, timeout, interval=0.2):
    """Poll predicate() until it returns something true or `timeout` s
    pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def stop(proc, timeout=10):
    """End a child that is still running: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path, lines=20):
    try:
        with open(path, errors='replace') as f:
            return f.read().splitlines()[-lines:]
    except OSError as e:
        return [f'({path}: {e.strerror})']
