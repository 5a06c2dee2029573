# SPDX-License-Identifier: GPL-2.0-only
"""QEMU as the VFIO client: Debian's qemu-system-x86_64, run in the test
VM (from the host's root, see vtclient.py), assigns one lab device at a time
with -device vfio-pci,host=BDF and boots SeaBIOS (TCG, no OS), driven over
its HMP monitor socket.

For each device, once with the BARs mmapped and once with x-no-mmap=on:
  * the device realizes, and SeaBIOS maps its BARs (`info pci`);
  * `info mtree -f`: with mmap, every BAR the driver lets userspace mmap is
    a RAM-device region (ramd), the MSI-X table page included where the
    table lives in a BAR (MSIX_MAPPABLE); with x-no-mmap, none is;
  * device registers read back through `xp` (mmap or read/write path) and
    `i`/`o` (I/O BARs and the VGA ranges: read/write path);
  * `system_reset`: QEMU resets the device (FLR, bus or hot reset as the
    device allows) and, SeaBIOS having mapped it again, it still works;
  * `quit` leaves nothing behind: QEMU exits 0, the group can be opened
    again, the device is disabled (enable count 0).
Last, the outer QEMU removes the e1000e (device_del) while the inner QEMU
holds it: the driver relays the request (REQ eventfd; the inner QEMU's
unplug attempt is refused, its root bus has no hotplug), the removal waits
for the release, and completes after `quit`. At the end every device left
is unbound, bound again and opened: nothing held it.

The inner QEMU's stderr must show no VFIO error beyond the expected ones.

VT_QEMU_DEVICES=vga,e1000e runs only these devices' scenarios (by hand:
vmtest.py --host-root --tests selftests/clients
--cmd 'VT_QEMU_DEVICES=vga /tests/t_qemu').
"""

import dataclasses
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

import vtclient
from vtclient import Tap

QEMU = 'qemu-system-x86_64'
WORK = '/tmp/qemu-vfio'
TRACE_EVENTS = ('vfio_pci_reset', 'vfio_pci_reset_flr', 'vfio_pci_reset_pm',
                'vfio_pci_hot_reset', 'vfio_pci_hot_reset_result', 'vfio_intx_interrupt')
# Nested TCG is slow, more so on a busy host or a debug kernel: generous.
START_TIMEOUT = 60      # QEMU up, monitor socket listening
BIOS_TIMEOUT = 240      # SeaBIOS has mapped the device's BARs
RESET_TIMEOUT = 60      # the reset traced
QUIT_TIMEOUT = 60
REQ_TIMEOUT = 30        # outer device_del to the inner QEMU's unplug attempt
GONE_TIMEOUT = 30       # release to the device gone from the outer guest
MMAP_WAIT = 10          # QEMU's INTx handling has turned the mmaps off for a while
HOLD = 3                # how long the inner QEMU holds on to a device being removed
UNBIND_TIMEOUT = 20
UNMAPPED = 0xffffffffffffffff
ROM = 6     # info pci's BAR6: SeaBIOS maps it only while it runs the ROM
TRACE_LINE = re.compile(r'(?:\d+@[\d.]+:)?(vfio_(?:pci|intx)_\w+) ')

# Lines the inner QEMU prints to stderr that are expected, not errors.
EXPECTED_STDERR = (
    # The REQ relayed to QEMU, which tries to unplug the device: refused on
    # the root bus.
    re.compile(r"does not support hotplugging"),
    # edu on the root bus: no reset method at all (no FLR, PM, bus).
    re.compile(r"hot reset info failed|no available reset mechanism|Cannot reset device"),
)


# --------------------------------------------------------------------------
# The inner QEMU

class Hmp:
    """HMP on a unix socket: a command line in, its output (without the
    echo and the prompt) out."""

    PROMPT = b'(qemu) '

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.timeout = timeout
        self._until_prompt(timeout)  # the banner

    def _until_prompt(self, timeout):
        data = b''
        self.sock.settimeout(timeout)
        while not data.endswith(self.PROMPT):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('monitor closed')
            data += chunk
        return data[:-len(self.PROMPT)]

    def __call__(self, command, timeout=None):
        self.sock.sendall(command.encode() + b'\n')
        data = self._until_prompt(timeout or self.timeout).decode(errors='replace')
        # The echo of the command line (readline redraws it with escape
        # sequences) ends at the first line break.
        output = data.replace('\r', '').split('\n', 1)[1] if '\n' in data else ''
        return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', output).rstrip('\n')

    def send(self, command):
        """A command after which the monitor may not answer (quit)."""
        self.sock.sendall(command.encode() + b'\n')

    def close(self):
        self.sock.close()


@dataclasses.dataclass
class Bar:
    index: int
    kind: str       # 'mem' or 'io'
    addr: int
    size: int


def parse_info_pci(text, qdev_id):
    """(vendor, device, {index: Bar}) of the device with `qdev_id`, or None."""
    for block in re.split(r'\n(?=  Bus )', text):
        if f'id "{qdev_id}"' not in block:
            continue
        ids = re.search(r'PCI device ([0-9a-f]{4}):([0-9a-f]{4})', block)
        bars = {}
        for m in re.finditer(r'BAR(\d): (?:(I/O)|\d+ bit (?:prefetchable )?memory) at '
                             r'0x([0-9a-f]+) \[0x([0-9a-f]+)\]', block):
            start, end = int(m.group(3), 16), int(m.group(4), 16)
            size = end - start + 1 if start != UNMAPPED else 0
            bars[int(m.group(1))] = Bar(int(m.group(1)), 'io' if m.group(2) else 'mem', start, size)
        return (int(ids.group(1), 16), int(ids.group(2), 16), bars) if ids else None
    return None


MTREE_RANGE = re.compile(r'^\s+([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ([^)]+)\): '
                         r'(.+?)(?: @[0-9a-f]+)?$')


def parse_mtree(text, address_space='memory'):
    """[(start, end, kind, name)] of the flat view of `address_space`."""
    ranges, inside = [], False
    for line in text.splitlines():
        if line.startswith('FlatView'):
            inside = False
        elif line.startswith(' AS "'):
            inside = inside or line.startswith(f' AS "{address_space}"')
        elif inside:
            m = MTREE_RANGE.match(line)
            if m:
                ranges.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)))
    return ranges


def all_mapped(bars):
    """Every BAR (the ROM aside) has an address: its decode is on."""
    bars = [b for i, b in bars.items() if i != ROM]
    return bars and all(b.addr != UNMAPPED for b in bars)


class InnerQemu:
    """One qemu-system-x86_64 with one assigned device."""

    def __init__(self, name, bdf, options):
        self.dir = os.path.join(WORK, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.bdf = bdf
        self.monitor_path = os.path.join(self.dir, 'monitor.sock')
        self.stderr_path = os.path.join(self.dir, 'stderr.log')
        self.bios_path = os.path.join(self.dir, 'seabios.log')
        device = ','.join(['vfio-pci', f'host={bdf}', 'id=hostdev0', *options])
        self.argv = [QEMU, '-nodefaults', '-no-user-config', '-display', 'none',
                     '-machine', 'q35', '-accel', 'tcg,tb-size=64', '-m', '64M', '-smp', '1',
                     # SeaBIOS finds nothing to boot: no reboot loop.
                     '-boot', 'reboot-timeout=-1',
                     '-monitor', f'unix:{self.monitor_path},server=on,wait=off',
                     '-chardev', f'file,id=seabios,path={self.bios_path}',
                     '-device', 'isa-debugcon,iobase=0x402,chardev=seabios',
                     # Trace lines go to stderr, unbuffered, with the messages.
                     *[arg for event in TRACE_EVENTS for arg in ('-trace', event)],
                     '-device', device]
        self.proc = None
        self.hmp = None
        self.started = None

    def start(self):
        self.started = time.monotonic()
        with open(self.stderr_path, 'w') as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err)

        def connect():
            if self.proc.poll() is not None:
                return 'exited'
            try:
                return Hmp(self.monitor_path, 60)
            except (FileNotFoundError, ConnectionRefusedError):
                return None
        hmp = vtclient.wait_for(connect, START_TIMEOUT)
        if isinstance(hmp, Hmp):
            self.hmp = hmp
            return True
        return False

    def device(self):
        return parse_info_pci(self.hmp('info pci'), 'hostdev0')

    def wait_mapped(self, timeout=BIOS_TIMEOUT):
        """Wait until SeaBIOS has mapped every BAR of the device (info pci
        gives no address for a BAR whose decode is off); returns the device
        as parse_info_pci() does, with the last state seen on a timeout."""
        last = [None]

        def mapped():
            last[0] = self.device()
            return last[0] and all_mapped(last[0][2])
        vtclient.wait_for(mapped, timeout, interval=1)
        return last[0]

    def xp(self, fmt, addr):
        """One value read with `xp /1<fmt>x addr` (fmt: b, h, w, g), or the
        monitor's text if it is not a value."""
        out = self.hmp(f'xp /1{fmt}x {addr:#x}')
        m = re.match(r'[0-9a-f]+: (0x[0-9a-f]+)\s*$', out.strip())
        return int(m.group(1), 16) if m else out.strip()

    def io_read(self, fmt, port):
        """`i /fmt port` (fmt: b, h, w)."""
        out = self.hmp(f'i /{fmt} {port:#x}')
        m = re.search(r'= (0x[0-9a-f]+)', out)
        return int(m.group(1), 16) if m else out.strip()

    def io_write(self, fmt, port, value):
        return self.hmp(f'o /{fmt} {port:#x} {value:#x}')

    def _stderr(self):
        try:
            with open(self.stderr_path, errors='replace') as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def trace(self):
        """The trace lines QEMU printed (TRACE_EVENTS)."""
        return [line for line in self._stderr() if TRACE_LINE.match(line)]

    def stderr(self):
        """What else QEMU printed: messages."""
        return [line for line in self._stderr() if not TRACE_LINE.match(line)]

    def bios(self):
        try:
            with open(self.bios_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def quit(self):
        """HMP quit; QEMU's exit status, None if it did not exit in time."""
        try:
            self.hmp.send('quit')
        except OSError:
            pass
        try:
            return self.proc.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.hmp.close()

    def kill(self):
        if self.hmp:
            self.hmp.close()
        if self.proc:
            vtclient.stop(self.proc)


# --------------------------------------------------------------------------
# The devices

@dataclasses.dataclass
class Device:
    name: str
    vendor: int
    device: int
    root_bus: bool | None = None    # None: anywhere
    options: tuple = ()             # more vfio-pci options (x-vga=on)
    reset: str = ''                 # how system_reset resets it (see DEVICES)
    qdev: str | None = None         # outer qdev id, for the removal
    bdf: str = ''

    def find(self):
        for bdf in vtclient.find(self.vendor, self.device):
            if self.root_bus is None or vtclient.on_root_bus(bdf) == self.root_bus:
                return bdf
        return None


# What QEMU's system reset does to the device (the same with either driver):
# 'device': VFIO_DEVICE_RESET (nvme: FLR; the VGA, alone behind its root
# port: a bus reset the kernel does as the function's reset);
# 'hot': VFIO_DEVICE_PCI_HOT_RESET of the bus (edu behind the bridge shares
# its bus with edu2, so the kernel has no function reset for it; e1000e has
# only a PM reset, to which QEMU prefers a bus reset);
# 'none': no method (edu on the root bus, ivshmem: no FLR, PM or bus reset).
DEVICES = [
    Device('edu-root', 0x1234, 0x11e8, root_bus=True, reset='none'),
    Device('edu-bridge', 0x1234, 0x11e8, root_bus=False, reset='hot'),
    Device('ivshmem', 0x1af4, 0x1110, reset='none'),
    Device('vga', 0x1234, 0x1111, options=('x-vga=on',), reset='device'),
    Device('nvme', 0x1b36, 0x0010, reset='device'),
    Device('e1000e', 0x8086, 0x10d3, reset='hot', qdev='e1000e0'),
]


def expected_mmaps(dev):
    """Indexes of the memory BARs a driver lets userspace mmap: page-sized
    or larger, or smaller but page-aligned (the rest of the page reserved)."""
    out = set()
    for index, (start, size, flags) in enumerate(vtclient.resources(dev.bdf)[:6]):
        if size and flags & vtclient.IORESOURCE_MEM and (size >= vtclient.PAGE_SIZE
                                                         or start % vtclient.PAGE_SIZE == 0):
            out.add(index)
    return out


class Scenario:
    """One inner QEMU run of one device."""

    def __init__(self, tap, dev, mmap, remove=False):
        self.tap = tap
        self.dev = dev
        self.mmap = mmap
        self.remove = remove
        self.label = f'{dev.name} ({"mmap" if mmap else "x-no-mmap"})'
        options = list(dev.options) + ([] if mmap else ['x-no-mmap=on'])
        self.qemu = InnerQemu(f'{dev.name}-{"mmap" if mmap else "nommap"}', dev.bdf, options)
        self.bars = {}
        self.sentinel = None
        self.bios_seen = {}     # marker: count in SeaBIOS's log so far

    def ok(self, cond, what, why=None):
        return self.tap.ok(cond, f'{self.label}: {what}', why)

    def run(self):
        tap, dev, q = self.tap, self.dev, self.qemu
        tap.diag(f'---- {self.label}: {dev.bdf}, {" ".join(q.argv[-2:])}')
        if dev.name == 'ivshmem':
            self.write_sentinel()
        if not self.ok(q.start(), 'QEMU starts, its monitor answers',
                       vtclient.tail(q.stderr_path)):
            q.kill()
            return
        try:
            self.checks_up(first=True)
            self.system_reset()
            if self.remove:
                self.removal()
            status = q.quit()
            self.ok(status == 0, 'quit: QEMU exits with status 0',
                    [f'status {status}'] + vtclient.tail(q.stderr_path))
        except (OSError, EOFError) as e:
            self.ok(False, 'the monitor conversation completes', f'{type(e).__name__}: {e}')
            q.kill()
        q.kill()
        intx = sum(1 for line in q.trace() if 'vfio_intx_interrupt' in line)
        tap.diag(f'{self.label}: {time.monotonic() - q.started:.1f} s, {intx} INTx interrupts')
        self.checks_after_quit()
        self.check_stderr()

    # -- the device as the inner machine sees it

    def checks_up(self, first):
        q, dev = self.qemu, self.dev
        when = '' if first else 'after system_reset: '
        t0 = time.monotonic()
        found = q.wait_mapped()
        if first:
            self.tap.diag(f'BARs mapped after {time.monotonic() - t0:.1f} s')
        ids = found and found[:2]
        if not self.ok(ids == (dev.vendor, dev.device) and all_mapped(found[2]),
                       f'{when}info pci: {dev.vendor:04x}:{dev.device:04x}, every BAR mapped',
                       [f'seen: {found}'] + self.qemu.hmp('info pci').splitlines()[-20:]
                       + ['SeaBIOS:'] + q.bios().splitlines()[-15:]):
            return False
        self.bars = {i: b for i, b in found[2].items() if i != ROM}
        self.check_registers(when)
        self.check_mtree(when)
        return True

    def check_mtree(self, when):
        """The BARs in `info mtree -f`. QEMU turns a device's mmaps off
        while its INTx is pending (it traps BAR accesses to see the guest's
        EOI) and back on 1.1 s after the last one: an expected picture may
        take that long (SeaBIOS's NVMe probe leaves INTx pending; the
        register reads before this were the EOI)."""
        deadline = time.monotonic() + MMAP_WAIT
        while True:
            results = self.mtree_results(when)
            if all(r[0] for r in results) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        intx = sum(1 for line in self.qemu.trace() if 'vfio_intx_interrupt' in line)
        for cond, what, why in results:
            self.ok(cond, what, why + [f'{intx} INTx interrupts so far'])

    def mtree_results(self, when):
        """[(ok, what, why)] of the mtree checks, on one `info mtree -f`."""
        flat = parse_mtree(self.qemu.hmp('info mtree -f'))
        mine = [r for r in flat if r[3].startswith(f'{self.dev.bdf} BAR ')]
        ramd = [r for r in mine if r[2] == 'ramd']
        want = expected_mmaps(self.dev) if self.mmap else set()
        why = [f'{s:#x}-{e:#x} {k}: {n}' for s, e, k, n in mine] or ['(no range of the device)']
        results = []
        for index, bar in sorted(self.bars.items()):
            if bar.kind != 'mem':
                continue
            # QEMU extends the mapping of a sub-page BAR to the whole page.
            inside = [r for r in mine if bar.addr <= r[0] < bar.addr + bar.size]
            mapped = [r for r in inside if r[2] == 'ramd'
                      and r[3].startswith(f'{self.dev.bdf} BAR {index} mmaps[')]
            if index in want:
                results.append((bool(mapped), f'{when}mtree: BAR{index} ({bar.size:#x} at '
                                f'{bar.addr:#x}) is mmapped (ramd)', why))
            else:
                reason = 'x-no-mmap' if not self.mmap else 'not mmappable'
                results.append((bool(inside and not mapped), f'{when}mtree: BAR{index} '
                                f'({bar.size:#x}) in the address space, not ramd ({reason})', why))
        if not self.mmap:
            results.append((not ramd, f'{when}mtree: no ramd range of the device at all', why))
        table = vtclient.msix_table(self.dev.bdf)
        if table and self.mmap and table[0] in want and table[0] in self.bars:
            bar, offset, entries = table
            page = self.bars[bar].addr + (offset & ~(vtclient.PAGE_SIZE - 1))
            end = self.bars[bar].addr + offset + entries * 16
            around = [r for r in ramd if r[0] < page + vtclient.PAGE_SIZE and r[1] >= page]
            results.append((bool(around and (end % vtclient.PAGE_SIZE == 0
                                             or any(r[1] >= end for r in around))),
                            f'{when}mtree: the MSI-X table page of BAR{bar} is mmapped around '
                            f'the emulated table ({entries} entries at {offset:#x}: '
                            'MSIX_MAPPABLE)', why))
        return results

    def check_registers(self, when):
        getattr(self, f'registers_{self.dev.name.replace("-", "_")}')(when)

    def expect(self, when, what, got, want):
        return self.ok(got == want, f'{when}{what} = {want:#x}' if isinstance(want, int)
                       else f'{when}{what}', f'read {got!r}, expected {want!r}')

    def registers_edu_root(self, when):
        bar0 = self.bars[0].addr
        self.expect(when, 'xp /1wx BAR0+0 (edu ID)', self.qemu.xp('w', bar0), 0x010000ed)
        # edu answers all-ones to any access of another size below 0x80:
        # an 8-byte read reaches it as one 64-bit access, through the mmap
        # or through read(). The in-tree driver of some kernels (6.1) splits
        # it into two 32-bit reads (ID, then liveness at +4): a documented
        # difference (Documentation/vfio-pci-ng.rst), accepted in baseline.
        got = self.qemu.xp('g', bar0)
        split = isinstance(got, int) and got == (self.qemu.xp('w', bar0 + 4) << 32) | 0x010000ed
        if split and not self.mmap and os.environ.get('VFIO_TEST_MODE') == 'baseline':
            self.ok(True, f'{when}xp /1gx BAR0+0 (8 bytes): {got:#x}, two 32-bit reads '
                    '(the in-tree driver of this kernel splits 8-byte accesses)')
        else:
            self.expect(when, 'xp /1gx BAR0+0 (8 bytes, one access: all-ones from edu)', got,
                        0xffffffffffffffff)

    registers_edu_bridge = registers_edu_root

    def registers_nvme(self, when):
        bar0 = self.bars[0].addr
        self.expect(when, 'xp /1wx BAR0+8 (NVMe version 1.4)', self.qemu.xp('w', bar0 + 8),
                    0x00010400)
        # SeaBIOS enabled the controller, read its namespace (admin commands
        # by DMA to the inner machine's RAM, through the driver's IOMMU
        # mappings) and booted from it: it read sector 0 by DMA, which is
        # blank ("could not read the boot disk" without a disk).
        self.bios_event(when, 'Boot failed: not a bootable disk',
                        'SeaBIOS booted from the NVMe namespace: read its sector 0 by DMA')

    def bios_event(self, when, marker, what):
        """Wait for one more `marker` line in SeaBIOS's log than so far."""
        want = self.bios_seen.get(marker, 0) + 1
        t0 = time.monotonic()
        seen = vtclient.wait_for(lambda: self.qemu.bios().count(marker) >= want, BIOS_TIMEOUT)
        if self.ok(seen, f'{when}{what}', self.qemu.bios().splitlines()[-15:]):
            self.tap.diag(f'"{marker}" after {time.monotonic() - t0:.1f} s')
        self.bios_seen[marker] = self.qemu.bios().count(marker)

    def registers_e1000e(self, when):
        # RAL0 holds the MAC address after reset: QEMU's 52:54:00 prefix.
        ral0 = self.qemu.xp('w', self.bars[0].addr + 0x5400)
        self.ok(isinstance(ral0, int) and ral0 & 0xffffff == 0x005452,
                f'{when}xp /1wx BAR0+0x5400 (RAL0: MAC 52:54:00:..)', f'read {ral0!r}')
        # The same register through the I/O BAR: IOADDR at 0, IODATA at 4
        # (the read/write path; I/O BARs are never mmapped).
        io = [b for b in self.bars.values() if b.kind == 'io']
        if self.ok(io, f'{when}info pci: an I/O BAR', f'BARs {self.bars}'):
            self.qemu.io_write('w', io[0].addr, 0x5400)
            self.expect(when, 'o /w IOADDR 0x5400; i /w IODATA (RAL0 through the I/O BAR)',
                        self.qemu.io_read('w', io[0].addr + 4), ral0)
        # The option ROM (iPXE), read through the ROM region, is intact:
        # SeaBIOS ran it and booted from it.
        self.bios_event(when, 'Booting from ROM', 'SeaBIOS ran the option ROM (iPXE) and booted it')

    def registers_vga(self, when):
        # Bochs VBE register 0 (ID) in the MMIO BAR2.
        self.expect(when, 'xp /1hx BAR2+0x500 (VBE ID)',
                    self.qemu.xp('h', self.bars[2].addr + 0x500), 0xb0c5)
        # x-vga: the legacy VGA I/O ports go through the VGA region; the
        # sequencer index written there reads back there and through the
        # VGA ports' mirror in BAR2 (+0x400 - 0x3c0).
        for value in (0x02, 0x04):
            self.qemu.io_write('b', 0x3c4, value)
            got = (self.qemu.io_read('b', 0x3c4), self.qemu.xp('b', self.bars[2].addr + 0x404))
            self.expect(when, f'x-vga: o 0x3c4 {value:#x}, then i 0x3c4 and BAR2+0x404', got,
                        (value, value))
        vga_mem = self.qemu.xp('b', 0xa0000)
        self.ok(isinstance(vga_mem, int), f'{when}x-vga: xp /1bx 0xa0000 (legacy VGA memory)',
                f'read {vga_mem!r}')

    def write_sentinel(self):
        """Values for the ivshmem RAM BAR2, written by the outer guest with
        a VFIO client of its own (the read/write path), at both ends."""
        self.sentinel = (random.getrandbits(32) | 1, random.getrandbits(32) | 1)
        try:
            with vtclient.VfioDevice(self.dev.bdf) as vdev:
                size = vdev.region(2)[0]
                vdev.write(2, 0, struct.pack('<I', self.sentinel[0]))
                vdev.write(2, size - 4, struct.pack('<I', self.sentinel[1]))
            self.sentinel_size = size
        except OSError as e:
            self.tap.diag(f'cannot write the ivshmem sentinel: {e}')
            self.sentinel = None

    def registers_ivshmem(self, when):
        if not when and not self.ok(self.sentinel, 'sentinels written to BAR2 through VFIO'):
            return
        if not self.sentinel:
            return
        bar2 = self.bars[2]
        self.ok(bar2.size == self.sentinel_size, f'{when}BAR2 size {bar2.size:#x} = region size',
                f'region size {self.sentinel_size:#x}')
        self.expect(when, 'xp /1wx BAR2+0 (the sentinel)', self.qemu.xp('w', bar2.addr),
                    self.sentinel[0])
        self.expect(when, 'xp /1wx at the end of BAR2 (the sentinel)',
                    self.qemu.xp('w', bar2.addr + bar2.size - 4), self.sentinel[1])
        # IVPOSITION of ivshmem-plain: no peers, -1... read once, must be a value.
        ivpos = self.qemu.xp('w', self.bars[0].addr + 8)
        self.ok(isinstance(ivpos, int), f'{when}xp /1wx BAR0+8 (IVPOSITION, sub-page BAR0)',
                f'read {ivpos!r}')

    # -- reset, removal, quit

    def system_reset(self):
        q, dev = self.qemu, self.dev
        before = len(q.trace())
        out = q.hmp('system_reset')
        self.ok(not out.strip(), 'system_reset accepted', out)

        def resets():
            return [l for l in q.trace()[before:] if event(l) == 'vfio_pci_reset']

        def event(line):
            """The event of a trace line about our device, or None."""
            m = TRACE_LINE.match(line)
            return m.group(1) if m and dev.bdf in line else None
        vtclient.wait_for(resets, RESET_TIMEOUT)
        # The reset runs in QEMU's main loop, as monitor commands do: once
        # one is answered, the reset is over.
        q.hmp('info status')
        new = [line for line in q.trace()[before:] if 'vfio_intx_' not in line]
        for line in new:
            self.tap.diag(f'trace: {line}')
        self.ok(resets(), 'system_reset: QEMU resets the device (vfio_pci_reset traced)', new)
        flr = [l for l in new if event(l) in ('vfio_pci_reset_flr', 'vfio_pci_reset_pm')]
        hot = [l for l in new if event(l) == 'vfio_pci_hot_reset_result']
        if dev.reset == 'device':
            self.ok(flr, 'system_reset: by VFIO_DEVICE_RESET', new)
        elif dev.reset == 'hot':
            self.ok(hot and all(l.endswith('Success') for l in hot),
                    'system_reset: by a hot reset of the bus (VFIO_DEVICE_PCI_HOT_RESET) '
                    'that succeeds', new)
        else:
            self.ok(not flr and not any(l.endswith('Success') for l in hot),
                    'system_reset: no reset method (none claimed)', new)
        self.checks_up(first=False)

    def removal(self):
        q, dev = self.qemu, self.dev
        path = vtclient.dev_path(dev.bdf)
        answer = vtclient.host(f'device_del {dev.qdev}')
        self.ok(answer == 'OK', f'outer device_del {dev.qdev} accepted', answer)
        t0 = time.monotonic()
        req = vtclient.wait_for(lambda: [l for l in q.stderr() if 'hotplugging' in l],
                                REQ_TIMEOUT, interval=0.5)
        if self.ok(req, 'the removal request reaches the inner QEMU (REQ eventfd), '
                   'which tries to unplug the device', vtclient.tail(q.stderr_path)):
            self.tap.diag(f'REQ after {time.monotonic() - t0:.1f} s: {req[0]}')
        time.sleep(HOLD)
        self.ok(os.path.exists(path), f'{HOLD} s later, the removal still waits for QEMU')
        if dev.name == 'e1000e':
            ral0 = q.xp('w', self.bars[0].addr + 0x5400)
            self.ok(isinstance(ral0, int) and ral0 & 0xffffff == 0x005452,
                    'the device still works while the removal waits', f'read {ral0!r}')

    def checks_after_quit(self):
        dev = self.dev
        group = self.group
        if self.remove:
            t0 = time.monotonic()
            gone = vtclient.wait_for(lambda: not os.path.exists(vtclient.dev_path(dev.bdf)),
                                     GONE_TIMEOUT)
            if self.ok(gone, 'after quit, the removal completes: the device is gone'):
                self.tap.diag(f'gone {time.monotonic() - t0:.1f} s after quit')
            self.ok(vtclient.wait_for(lambda: not os.path.exists(f'/dev/vfio/{group}'),
                                      GONE_TIMEOUT) or len(self.group_members) > 1,
                    f'after quit, /dev/vfio/{group} is gone with it')
            return
        self.ok(vtclient.group_free(group), f'after quit, /dev/vfio/{group} can be opened again')
        enable = vtclient._read(vtclient.dev_path(dev.bdf, 'enable'))
        self.ok(enable == '0', 'after quit, the device is disabled (enable count 0)',
                f'enable = {enable}')

    def check_stderr(self):
        lines = self.qemu.stderr()
        for line in lines:
            self.tap.diag(f'stderr: {line}')
        bad = [l for l in lines if not any(p.search(l) for p in EXPECTED_STDERR)]
        self.ok(not bad, 'QEMU printed no unexpected message', bad)


def main():
    tap = Tap()
    if not shutil.which(QEMU):
        tap.skip_all(f'no {QEMU} in the host root')
    mode = os.environ.get('VFIO_TEST_MODE', '?')
    version = subprocess.run([QEMU, '--version'], capture_output=True, text=True).stdout
    tap.diag(f'kernel {os.environ.get("VFIO_TEST_KERNEL", "?")} ({os.uname().release}), '
             f'mode {mode}, {version.splitlines()[0]}')
    only = os.environ.get('VT_QEMU_DEVICES')
    devices = []
    for dev in DEVICES:
        if only and dev.name not in only.split(','):
            continue
        dev.bdf = dev.find()
        if not dev.bdf:
            tap.skip(f'{dev.name}: the whole scenario',
                     f'no {dev.vendor:04x}:{dev.device:04x} here')
            continue
        try:
            group = vtclient.bind_group(dev.bdf)
        except OSError as e:
            tap.ok(False, f'{dev.name}: bind {dev.bdf} and its group to vfio-pci', str(e))
            continue
        tap.diag(f'{dev.name}: {dev.bdf} group {group}: {" ".join(vtclient.group_members(group))}')
        devices.append(dev)
    random.seed()

    scenarios = []
    for dev in devices:
        scenarios.append(Scenario(tap, dev, mmap=False))
        scenarios.append(Scenario(tap, dev, mmap=True, remove=bool(dev.qdev)))
    for s in scenarios:
        s.group = vtclient.iommu_group(s.dev.bdf)
        s.group_members = vtclient.group_members(s.group)
        s.run()

    # Nothing held any device: each unbinds at once, binds again and opens.
    for dev in devices:
        if dev.qdev or not os.path.exists(vtclient.dev_path(dev.bdf)):
            continue
        t0 = time.monotonic()
        unbind = subprocess.run(['timeout', str(UNBIND_TIMEOUT), 'sh', '-c',
                                 f'echo {dev.bdf} > /sys/bus/pci/devices/{dev.bdf}/driver/unbind'],
                                capture_output=True, text=True)
        tap.ok(unbind.returncode == 0 and not vtclient.driver(dev.bdf),
               f'{dev.name}: unbinds at once ({time.monotonic() - t0:.1f} s)',
               unbind.stderr or f'status {unbind.returncode}, driver {vtclient.driver(dev.bdf)!r}')
        try:
            vtclient.bind(dev.bdf)
            with vtclient.VfioDevice(dev.bdf) as vdev:
                vendor = struct.unpack('<H', vdev.read(7, 0, 2))[0]
            tap.ok(vendor == dev.vendor, f'{dev.name}: binds again, opens, config reads',
                   f'vendor {vendor:#x}')
        except OSError as e:
            tap.ok(False, f'{dev.name}: binds again, opens, config reads', str(e))
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
