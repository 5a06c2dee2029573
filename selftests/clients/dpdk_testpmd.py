# SPDX-License-Identifier: GPL-2.0-only
"""DPDK's testpmd as the VFIO client: Debian's dpdk-testpmd (22.11, from
the host's root, see vtclient.py) drives the two e1000e of the "dpdk"
topology, which sit on one QEMU hub, with its em PMD through vfio-pci
(type1 container, the outer machine's intel-iommu).

Twice in the same boot, each time a new testpmd process:
  * EAL probes both ports through VFIO, testpmd starts them (interactive);
  * `start tx_first`: each port sends a burst, and io forwarding keeps the
    packets going round through the hub for FORWARD_SECONDS;
  * the link-state change interrupt stays on (interactive, not --tx-first
    on the command line): it arrives as a VFIO MSI-X interrupt, seen in
    /proc/interrupts as vfio-msix[..](BDF);
  * `stop`: packets forwarded, none dropped; `show port stats all`: no
    missed packets, no errors; `quit`: a clean exit (status 0, "Bye...");
  * afterwards nothing is held: groups can be opened again, the devices
    are disabled, no vfio interrupt is left.
At the end both devices are unbound.

Debian builds DPDK for corei7: the VM needs -cpu Nehalem or newer
(vmtest.py --cpu), and hugepages (set up here).
"""

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time

import vtclient
from vtclient import Tap

TESTPMD = 'dpdk-testpmd'
E1000E = (0x8086, 0x10d3)
RUNS = 2
FORWARD_SECONDS = 20
HUGEPAGES = 256             # 2 MiB each
HUGEPAGES_SYSFS = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'
HUGETLBFS = '/dev/hugepages'
PROMPT = 'testpmd> '
# An event line (testpmd's eth_event_callback() prints "\nPort N: <event>
# event\n"); taken out, it leaves what it interrupted whole.
EVENT = re.compile(r'\nPort (\d+): ([\w ]+?) event\n')
START_TIMEOUT = 180         # EAL and port start under TCG, on a busy host
COMMAND_TIMEOUT = 60
QUIT_TIMEOUT = 60
UNBIND_TIMEOUT = 20


class Testpmd:
    """An interactive dpdk-testpmd on a pseudo-terminal, as a user runs it
    (on a pipe, its stdio output would lag behind its prompts): commands
    in, output until the next prompt out."""

    def __init__(self, bdfs, prefix):
        self.argv = [TESTPMD, '-l', '0-1', '-n', '1', '--file-prefix', prefix,
                     *[arg for bdf in bdfs for arg in ('-a', bdf)],
                     '--', '-i', '--total-num-mbufs=4096']
        self.fd, tty = pty.openpty()
        self.proc = subprocess.Popen(self.argv, stdin=tty, stdout=tty, stderr=tty,
                                     start_new_session=True)
        os.close(tty)
        self.output = ''    # everything so far, events taken out
        self.events = []    # (port, event) of the event lines

    def _read(self, timeout):
        """More output; False at the end of it or after `timeout` s of silence."""
        if not select.select([self.fd], [], [], max(0, timeout))[0]:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:     # EIO: the process is gone
            data = b''
        self.output += data.decode(errors='replace').replace('\r', '')
        return bool(data)

    def until(self, pattern, timeout):
        """Read output until `pattern` (a regex) appears after what was
        already consumed, the process ends or `timeout` s pass; returns the
        new output, and whether the pattern came. Event lines, which
        testpmd's interrupt thread prints in the middle of anything, are
        taken out of the output and kept in self.events."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output[start:], re.DOTALL):
            if not self._read(deadline - time.monotonic()):
                break
            self.events += EVENT.findall(self.output[start:])
            self.output = self.output[:start] + EVENT.sub('', self.output[start:])
        else:
            return self.output[start:], True
        return self.output[start:], False

    def wait(self, seconds):
        """Let it run for `seconds`, reading what it prints meanwhile (link
        state change events)."""
        return self.until(r'(?!)', seconds)[0]

    def command(self, line, timeout=COMMAND_TIMEOUT):
        """Send one command line; (its output, whether the prompt came back)."""
        os.write(self.fd, line.encode() + b'\r')
        return self.until(re.escape(line) + r'\n.*' + re.escape(PROMPT), timeout)

    def quit(self):
        """`quit`; (output, exit status or None if it did not exit)."""
        try:
            os.write(self.fd, b'quit\r')
        except OSError:
            pass
        out, _ = self.until(r'Bye\.\.\.', QUIT_TIMEOUT)
        try:
            status = self.proc.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        start = len(self.output)
        while self._read(1):
            pass
        return out + self.output[start:], status

    def kill(self):
        vtclient.stop(self.proc)
        os.close(self.fd)


def parse_stats(text, heading):
    """{'RX-packets': n, ...} of the block after `heading` in testpmd's
    output (the last one)."""
    at = text.rfind(heading)
    if at < 0:
        return {}
    block = text[at:at + 1200]
    end = re.search(r'\n\s*\n\s*[+-]{5,}|\n\s*#{5,}|\n\s*\*{5,}', block[len(heading) + 5:])
    if end:
        block = block[:len(heading) + 5 + end.start()]
    return {k: int(v) for k, v in re.findall(r'([A-Za-z][\w-]*): +(\d+)', block)}


def vfio_interrupts(bdfs):
    """{bdf: total count} of the vfio interrupts of each device in
    /proc/interrupts, by kind: {(bdf, 'msix'): n, ...}."""
    counts = {}
    with open('/proc/interrupts') as f:
        cpus = len(f.readline().split())
        for line in f:
            m = re.search(r'vfio-(intx|msi|msix)(?:\[\d+\])?\(([^)]+)\)', line)
            if not m or m.group(2) not in bdfs:
                continue
            fields = line.split()[1:1 + cpus]
            total = sum(int(v) for v in fields if v.isdigit())
            key = (m.group(2), m.group(1))
            counts[key] = counts.get(key, 0) + total
    return counts


def setup_hugepages(tap):
    try:
        with open(HUGEPAGES_SYSFS, 'w') as f:
            f.write(str(HUGEPAGES))
        with open(HUGEPAGES_SYSFS) as f:
            have = int(f.read())
        os.makedirs(HUGETLBFS, exist_ok=True)
        mounted = subprocess.run(['mount', '-t', 'hugetlbfs', 'nodev', HUGETLBFS],
                                 capture_output=True, text=True)
        return tap.ok(have >= HUGEPAGES and mounted.returncode == 0,
                      f'{HUGEPAGES} hugepages of 2 MiB, hugetlbfs on {HUGETLBFS}',
                      f'{have} hugepages; mount: {mounted.stderr.strip()}')
    except OSError as e:
        return tap.ok(False, 'hugepages', str(e))


def run_testpmd(tap, n, bdfs, groups):
    label = f'run {n}'
    pmd = Testpmd(bdfs, f'vt{n}')
    tap.diag(f'---- {label}: {" ".join(pmd.argv)}')
    t0 = time.monotonic()
    out, up = pmd.until(re.escape(PROMPT), START_TIMEOUT)
    for line in out.splitlines():
        tap.diag(f'| {line}')
    if not tap.ok(up, f'{label}: testpmd starts both ports through VFIO '
                  f'({time.monotonic() - t0:.1f} s)', pmd.output.splitlines()[-20:]):
        pmd.kill()
        return
    probed = re.findall(r'Probe PCI driver: net_e1000_em \(8086:10d3\) device: (\S+)', out)
    tap.ok(sorted(probed) == sorted(bdfs), f'{label}: EAL probed both e1000e with the em PMD',
           f'probed {probed}')
    ports = re.findall(r'Port (\d+): ([0-9A-F:]{17})', out)
    tap.ok(len(ports) == 2, f'{label}: two ports with their MAC addresses', f'ports {ports}')

    before = vfio_interrupts(bdfs)
    out, ok = pmd.command('start tx_first')
    tap.ok(ok and 'io packet forwarding' in out, f'{label}: start tx_first (io forwarding)',
           out.splitlines()[-10:])
    pmd.wait(FORWARD_SECONDS)
    during = vfio_interrupts(bdfs)
    for key in sorted(during):
        tap.diag(f'/proc/interrupts: vfio-{key[1]} of {key[0]}: {during[key]}')
    for bdf in bdfs:
        tap.ok(any(k == (bdf, 'msix') for k in during) and not any(
            k[0] == bdf and k[1] != 'msix' for k in during),
            f'{label}: {bdf} interrupts are VFIO MSI-X (vfio-msix in /proc/interrupts)',
            f'seen {during}, before start {before}')
    lsc = sorted({int(port) for port, event in pmd.events if event == 'link state change'})
    tap.ok(lsc == [0, 1], f'{label}: link state change events of both ports reached testpmd '
           '(MSI-X eventfd)',
           f'events {pmd.events}')

    out, ok = pmd.command('stop')
    for line in out.splitlines():
        tap.diag(f'| {line}')
    total = parse_stats(out, 'Accumulated forward statistics for all ports')
    rx, tx = total.get('RX-packets', 0), total.get('TX-packets', 0)
    tap.diag(f'{label}: forwarded RX {rx} TX {tx}, dropped RX {total.get("RX-dropped")} '
             f'TX {total.get("TX-dropped")} in {FORWARD_SECONDS} s')
    tap.ok(ok and rx > 0 and tx > 0, f'{label}: packets forwarded (RX {rx}, TX {tx})',
           out.splitlines()[-20:])
    tap.ok(total.get('RX-dropped') == 0 and total.get('TX-dropped') == 0,
           f'{label}: no packet dropped', f'{total}')
    out, ok = pmd.command('show port stats all')
    errors = {}
    for port in range(2):
        stats = parse_stats(out, f'NIC statistics for port {port}')
        errors.update({f'port {port} {k}': v for k, v in stats.items()
                       if k in ('RX-missed', 'RX-errors', 'RX-nombuf', 'TX-errors')})
    tap.ok(ok and len(errors) == 8 and not any(errors.values()),
           f'{label}: no missed packets, no errors (show port stats all)',
           out.splitlines())

    out, status = pmd.quit()
    for line in out.splitlines():
        tap.diag(f'| {line}')
    tap.ok(status == 0 and 'Bye...' in out, f'{label}: quit: a clean exit', f'status {status}')
    pmd.kill()
    complaints = [line for line in pmd.output.splitlines()
                  if re.search(r'(?i)\berror\b|failed|cannot|panic', line)]
    tap.ok(not complaints, f'{label}: no error from EAL, the PMD or testpmd', complaints)
    tap.ok(all(vtclient.group_free(g) for g in groups),
           f'{label}: after quit, the groups can be opened again')
    enable = [vtclient._read(vtclient.dev_path(bdf, 'enable')) for bdf in bdfs]
    tap.ok(enable == ['0', '0'], f'{label}: after quit, both devices are disabled', f'{enable}')
    tap.ok(not vfio_interrupts(bdfs), f'{label}: after quit, no vfio interrupt left',
           f'{vfio_interrupts(bdfs)}')


def main():
    tap = Tap()
    if not shutil.which(TESTPMD):
        tap.skip_all(f'no {TESTPMD} in the host root (Debian package dpdk-dev)')
    bdfs = vtclient.find(*E1000E)
    if len(bdfs) != 2:
        tap.skip_all(f'{len(bdfs)} e1000e, not 2 (the "dpdk" topology)')
    tap.diag(f'kernel {os.environ.get("VFIO_TEST_KERNEL", "?")} ({os.uname().release}), '
             f'mode {os.environ.get("VFIO_TEST_MODE", "?")}, e1000e {" ".join(bdfs)}')
    groups = []
    try:
        for bdf in bdfs:
            groups.append(vtclient.bind_group(bdf))
        tap.ok(True, 'both e1000e bound to vfio-pci')
    except OSError as e:
        tap.ok(False, 'both e1000e bound to vfio-pci', str(e))
        return tap.done()
    if setup_hugepages(tap):
        for n in range(1, RUNS + 1):
            run_testpmd(tap, n, bdfs, groups)

    for bdf in bdfs:
        t0 = time.monotonic()
        unbind = subprocess.run(['timeout', str(UNBIND_TIMEOUT), 'sh', '-c',
                                 f'echo {bdf} > /sys/bus/pci/devices/{bdf}/driver/unbind'],
                                capture_output=True, text=True)
        tap.ok(unbind.returncode == 0 and not vtclient.driver(bdf),
               f'{bdf}: unbinds at once ({time.monotonic() - t0:.1f} s)',
               unbind.stderr or f'status {unbind.returncode}, driver {vtclient.driver(bdf)!r}')
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
