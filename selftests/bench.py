#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark our vfio-pci against the in-tree one, in the same VM boot.

    bench.py [--kernels 6.1,6.12,debug] [--clocks wall,icount] [--rounds N]
             [--time-ms MS] [--mmap-mib MIB] [--only SECTIONS]
             [--module-for KERNEL=KO ...] [--json FILE] [--markdown FILE]
             [--timeout S] [--logdir DIR] [--verbose]

For each kernel of the matrix that is prepared and each clock, ONE VM boots
(topology "all", selftests/vmtest.py in mode ng, so that both drivers are in
the guest) and selftests/bench/bench-guest.sh runs in it: per round it loads
the in-tree vfio-pci, runs a pass of selftests/out/vfio-bench, unloads it,
loads ours, runs a pass, alternating which driver goes first (A B, B A, ...).

Two clocks:
  wall    the guest's clock follows the host's. Real time, but the host's
          other load shows: a rate is the rate of the 90th-percentile 1 ms
          slice of its time box (the rate while the VM actually ran; the
          mean over the box goes to the JSON as <metric>.mean), a latency
          the fastest of a few cycles, each the median over the rounds.
  icount  QEMU -icount shift=0,sleep=off -smp 1: virtual time advances 1 ns per
          guest instruction. Deterministic, blind to the host's load and to
          what QEMU's device models cost: what is left is the instructions
          the guest runs (driver, vfio core, rest of the kernel, the
          benchmark loop). The measure of the driver's own cost.

Printed per kernel and clock: each metric's median for both drivers, ours /
in-tree, which is better and the spread. "better" is "ours"/"in-tree" when
that driver won in every round (rounds pair the two drivers' passes, which
ran next to each other), "ours?"/"in-tree?" when it won the median but not
every round, "=" within 3 % (1 % with icount). The raw numbers of every pass
go to --json (default build/bench-results.json), the tables to --markdown
(default build/bench-results.md).

Rows "ours with vfio_pci tracing on": ours runs the hot rows a second time
with every event of our vfio_pci trace system enabled (64 KiB ring per CPU,
overwrite mode), a cost of our extension that the in-tree driver, with no
such events, does not have. Their in-tree column is the in-tree figure of the
plain row of the same rounds; a line under the table gives the cost against
ours plain.

A benchmark, not a test: exit status 0 whatever the timings; 1 only when a
VM crashed, hung or a driver could not be loaded (no figures); 2 when the run
cannot start.

The debug kernel (KASAN, lockdep, kmemleak) is about 10x slower under TCG:
it gets fewer rounds, shorter time boxes and a 256 MiB mmap (PARAMS).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import vmtest

BENCH_DIR = os.path.join(vmtest.SELFTESTS, 'bench')
GUEST_SCRIPT = os.path.join(BENCH_DIR, 'bench-guest.sh')
BENCH_BINARY = os.path.join(vmtest.SELFTESTS, 'out', 'vfio-bench')

# Per clock and kind of kernel: rounds (each: one pass per driver), rate
# time box (ms, of the guest's clock), how much of the 1 GiB ivshmem BAR to
# map (MiB), open/close/reset cycles per pass, and the VM timeout: boot plus
# a generous bound per pass (a pass takes about 10 s on 6.1/6.12 on an idle
# machine, several times that on a loaded one, minutes on the debug kernel).
# icount is deterministic: fewer rounds and shorter boxes do.
PARAMS = {
    ('wall', 'stock'): {'rounds': 7, 'time_ms': 400, 'mmap_mib': 1024, 'cycles': 5,
                        'boot_timeout': 300, 'pass_timeout': 120},
    ('wall', 'debug'): {'rounds': 3, 'time_ms': 150, 'mmap_mib': 256, 'cycles': 2,
                        'boot_timeout': 900, 'pass_timeout': 900},
    ('icount', 'stock'): {'rounds': 3, 'time_ms': 100, 'mmap_mib': 1024, 'cycles': 3,
                          'boot_timeout': 600, 'pass_timeout': 300},
    ('icount', 'debug'): {'rounds': 2, 'time_ms': 50, 'mmap_mib': 256, 'cycles': 2,
                          'boot_timeout': 1800, 'pass_timeout': 1800},
}
# icount runs on one vCPU: 6.1 hangs bringing up a second one under icount
# (the benchmark runs on, and steers its interrupts to, CPU 0 anyway).
CLOCKS = {'wall': (), 'icount': ('-icount', 'shift=0,sleep=off', '-smp', '1')}
TIES = {'wall': 0.03, 'icount': 0.01}  # medians closer than this are a tie

# The hot rows again with every event of our vfio_pci trace system on
# (vfio-bench's section "trace", metrics trace.<metric>): a cost of our
# extension. The in-tree driver has no such events and runs no such pass: the
# in-tree column of these rows is its figure of the plain row (TRACE_PREFIX
# stripped), from the same round.
TRACE_PREFIX = 'trace.'
TRACED = '  ours with vfio_pci tracing on (in-tree: plain row)'

# metric -> description; the order of the table. Metrics vfio-bench prints
# that are not listed here come at the end.
METRICS = [
    ('control.null_syscall', 'control: getppid() (machine speed, not a driver figure)'),
    ('cfg.read4_virt', 'config read 4 B, all virtual (ID, 0x00)'),
    ('trace.cfg.read4_virt', TRACED),
    ('cfg.read4_hw', 'config read 4 B, part hardware (0x3c)'),
    ('cfg.write4_virt', 'config write 4 B (interrupt line)'),
    ('trace.cfg.write4_virt', TRACED),
    ('bar.edu_read4', 'BAR pread 4 B, edu register (TCG MMIO)'),
    ('bar.edu_write4', 'BAR pwrite 4 B, edu register (TCG MMIO)'),
    ('bar.ram_read4', 'BAR pread 4 B, ivshmem RAM BAR'),
    ('trace.bar.ram_read4', TRACED),
    ('bar.ram_write4', 'BAR pwrite 4 B, ivshmem RAM BAR'),
    ('trace.bar.ram_write4', TRACED),
    ('bar.ram_read_1m', 'BAR pread 1 MiB, ivshmem RAM BAR'),
    ('bar.ram_write_1m', 'BAR pwrite 1 MiB, ivshmem RAM BAR'),
    ('mmap.any_first_touch', 'mmap BAR2 + first touch of every page'),
    ('trace.mmap.any_first_touch', TRACED),
    ('mmap.any_fault_cost', '  of which faults (minus a touch without faults)'),
    ('trace.mmap.any_fault_cost', '  of which faults, ' + TRACED.strip()),
    ('mmap.any_retouch', '  reference: touch every page again, no fault'),
    ('mmap.any_refault', 'memory off+on (config) + touch every page'),
    ('trace.mmap.any_refault', TRACED),
    ('mmap.any_refault_toggle', '  of which memory off+on (the zap)'),
    ('mmap.any_munmap', 'munmap'),
    ('mmap.aligned_first_touch', 'same, at an aligned address (1 GiB; 2 MiB if smaller)'),
    ('mmap.aligned_fault_cost', '  of which faults'),
    ('mmap.aligned_refault', 'memory off+on + touch, aligned mapping'),
    ('mmap.aligned_munmap', 'munmap, aligned mapping'),
    ('mmap.limit_first_touch', 'limit: sysfs resource2 mmap (populated) + touch'),
    ('mmap.limit_munmap', 'limit: munmap of it'),
    ('irq.msi_round_trip', 'MSI round trip (raise, eventfd, ack)'),
    ('trace.irq.msi_round_trip', TRACED),
    ('irq.intx_round_trip_ioctl', 'INTx round trip, unmask by ioctl'),
    ('trace.irq.intx_round_trip_ioctl', TRACED),
    ('irq.intx_round_trip_eventfd', 'INTx round trip, unmask by eventfd'),
    ('ioeventfd.edu_write4', 'ioeventfd write, edu register (vs BAR pwrite above)'),
    ('ioeventfd.ram_write4', 'ioeventfd write, ivshmem RAM BAR'),
    ('trace.ioeventfd.ram_write4', TRACED),
    ('life.edu_open', 'device fd open (edu: enable, no reset method)'),
    ('life.edu_close', 'device fd close (edu)'),
    ('life.nvme_open', 'device fd open (nvme: enable + FLR)'),
    ('life.nvme_close', 'device fd close (nvme: FLR)'),
    ('life.nvme_reset', 'VFIO_DEVICE_RESET (nvme FLR)'),
]
# JSON only: <metric>.mean, and <metric>.kcpu, the guest kernel CPU time
# (getrusage) per operation. The guest accounts CPU time by sampling ticks,
# and when the host deschedules QEMU's vCPU thread the missed ticks land on
# whatever the guest was doing: under this machine's load kcpu measured the
# neighbours, not the driver (the icount clock does that job).
TABLE_HIDDEN = {'mmap.aligned_retouch', 'mmap.aligned_refault_toggle', 'trace.mmap.any_retouch',
                'trace.mmap.any_refault_toggle', 'trace.mmap.any_munmap'}
DRIVERS = ('intree', 'ours')


def _list(text):
    return [item for item in text.replace(',', ' ').split() if item]


# --------------------------------------------------------------------------
# The machine and how busy it is

def machine_info():
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qemu = subprocess.run([vmtest.QEMU, '--version'], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = '?'
    distro = '?'
    try:
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    distro = line.split('=', 1)[1].strip().strip('"')
    except OSError:
        pass
    return {'cpus': os.cpu_count(), 'cpu': cpu, 'host_kernel': platform.release(),
            'distro': distro, 'qemu': qemu, 'accel': 'TCG (single-threaded), -smp 2'}


def other_qemus():
    """QEMU processes running now that are not ours (noise)."""
    count = 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/comm') as f:
                if f.read().startswith('qemu-system'):
                    count += 1
        except OSError:
            pass
    return count


def noise_snapshot():
    return {'time': datetime.datetime.now().isoformat(timespec='seconds'),
            'loadavg': [round(x, 2) for x in os.getloadavg()],
            'qemu_processes': other_qemus()}


# --------------------------------------------------------------------------
# Parsing the guest's output

def parse(lines):
    """Guest ttyS1 lines -> (passes, units, better, info)."""
    passes, units, better, info = [], {}, {}, []
    current = None
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == '@@BENCH' and len(words) == 4 and words[1] == 'pass':
            current = {'round': int(words[2]), 'driver': words[3], 'metrics': {},
                       'skipped': {}, 'info': []}
            passes.append(current)
        elif words[0] == 'bench' and len(words) == 5 and current is not None:
            name, value, unit, way = words[1:]
            try:
                current['metrics'][name] = float(value)
            except ValueError:
                continue
            units[name] = unit
            better[name] = way
        elif words[0] == 'benchskip' and current is not None and len(words) >= 2:
            current['skipped'][words[1]] = ' '.join(words[2:])
        elif words[0] == 'benchinfo':
            (current['info'] if current else info).append(' '.join(words[1:]))
    return passes, units, better, info


def _spread(values):
    """(max - min) / median, in percent."""
    if len(values) < 2:
        return 0.0
    med = statistics.median(values)
    return (max(values) - min(values)) / med * 100 if med else 0.0


def summarize(passes, units, better, tie):
    """One row per metric: medians, ratio, verdict, spreads."""
    names = [name for name, _ in METRICS if name in units]
    names += sorted(name for name in units if name not in dict(METRICS))
    rows = []
    for name in names:
        source = {d: name for d in DRIVERS}
        if name.startswith(TRACE_PREFIX):  # ours traced against in-tree plain
            source['intree'] = name[len(TRACE_PREFIX):]
        values = {d: [p['metrics'][source[d]] for p in passes
                      if p['driver'] == d and source[d] in p['metrics']] for d in DRIVERS}
        if not values['intree'] or not values['ours']:
            rows.append({'metric': name, 'unit': units[name], 'missing': True,
                         'n': {d: len(values[d]) for d in DRIVERS}})
            continue
        med = {d: statistics.median(values[d]) for d in DRIVERS}
        higher = better[name] == 'higher'
        # Rounds pair the drivers' passes, run back to back: per-round
        # speedups cancel the drift of a loaded host.
        per_round = {}
        for p in passes:
            if source[p['driver']] in p['metrics']:
                per_round.setdefault(p['round'], {})[p['driver']] = \
                    p['metrics'][source[p['driver']]]
        speedups = []
        for pair in per_round.values():
            if len(pair) == 2 and pair['intree'] > 0 and pair['ours'] > 0:
                s = pair['ours'] / pair['intree']
                speedups.append(s if higher else 1 / s)
        if med['intree'] > 0 and med['ours'] > 0:
            ratio = med['ours'] / med['intree']
            speedup = ratio if higher else 1 / ratio
        else:  # a kernel CPU time below the accounting's resolution
            ratio = speedup = None
        if speedup is None:
            verdict = '?'
        elif abs(speedup - 1) < tie:
            verdict = '='
        elif speedup > 1:
            verdict = 'ours' if speedups and min(speedups) > 1 else 'ours?'
        else:
            verdict = 'in-tree' if speedups and max(speedups) < 1 else 'in-tree?'
        rows.append({'metric': name, 'unit': units[name], 'better_is': better[name],
                     'intree': med['intree'], 'ours': med['ours'], 'ratio': ratio,
                     'speedup': speedup, 'verdict': verdict,
                     'round_speedups': speedups,
                     'spread_pct': {d: _spread(values[d]) for d in DRIVERS},
                     'n': {d: len(values[d]) for d in DRIVERS}})
        if name.startswith(TRACE_PREFIX):
            rows[-1]['intree_from'] = source['intree']
    return rows


# --------------------------------------------------------------------------
# Output

def _fmt(value):
    if value >= 1000:
        return f'{value:,.0f}'
    if value >= 100:
        return f'{value:.0f}'
    if value >= 10:
        return f'{value:.1f}'
    if value >= 1:
        return f'{value:.2f}'
    return f'{value:.3g}'


def _better_text(row):
    if row['verdict'] in ('=', '?'):
        return row['verdict']
    who = row['verdict']
    factor = row['speedup'] if row['speedup'] >= 1 else 1 / row['speedup']
    return f'{who} {factor:.2f}x'


def table(rows, markdown=False):
    descriptions = dict(METRICS)
    header = ['metric', 'unit', 'in-tree', 'ours', 'ours/in-tree', 'better', 'spread in-tree/ours']
    body = []
    for row in rows:
        if row['metric'] in TABLE_HIDDEN or row['metric'].endswith(('.mean', '.kcpu')):
            continue
        label = descriptions.get(row['metric'], row['metric'])
        if markdown:
            label = _md_label(label)
        if row.get('missing'):
            body.append([label, row['unit'], '-', '-', '-', 'no figure', '-'])
            continue
        spread = row['spread_pct']
        body.append([label, row['unit'], _fmt(row['intree']), _fmt(row['ours']),
                     '-' if row['ratio'] is None else f'{row["ratio"]:.2f}', _better_text(row),
                     f'±{spread["intree"] / 2:.0f}% / ±{spread["ours"] / 2:.0f}%'])
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |',
                 '|' + '|'.join('---' if i < 2 else '--:' for i in range(len(header))) + '|']
        for cells in body:
            lines.append('| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |')
        return lines
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = []
    for n, cells in enumerate([header] + body):
        lines.append('  '.join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                               for i, c in enumerate(cells)).rstrip())
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return lines


def noise_lines(run):
    before, after = run['noise_before'], run['noise_after']
    if run['clock'] == 'icount':
        return ['virtual time, 1 ns per guest instruction (QEMU -icount shift=0, one vCPU): '
                'deterministic, the host\'s load does not show; device emulation is free']
    control = next((r for r in run['rows'] if r['metric'] == 'control.null_syscall'
                    and not r.get('missing')), None)
    spreads = [max(r['spread_pct'].values()) for r in run['rows']
               if not r.get('missing') and not r['metric'].endswith('.kcpu')]
    lines = [f'host load average {before["loadavg"][0]:.2f} at start, '
             f'{after["loadavg"][0]:.2f} at end (2 cores); '
             f'{before["qemu_processes"]} QEMU processes running at start besides this run']
    if spreads:
        lines.append(f'spread (max-min over the passes, as ±half of it): median metric '
                     f'±{statistics.median(spreads) / 2:.0f}%, worst ±{max(spreads) / 2:.0f}%')
    if control:
        lines.append(f'control (null syscall) drifted ±{max(control["spread_pct"].values()) / 2:.0f}% '
                     f'between passes: that much is the machine, not the driver')
    return lines


def trace_cost_lines(run):
    """What turning every vfio_pci event on costs ours, against ours plain."""
    rows = {row['metric']: row for row in run['rows'] if not row.get('missing')}
    costs = []
    for name, row in rows.items():
        plain = rows.get(name[len(TRACE_PREFIX):])
        if (not name.startswith(TRACE_PREFIX) or name.endswith(('.mean', '.kcpu'))
                or name in TABLE_HIDDEN or not plain or not plain['ours'] or not row['ours']):
            continue
        more = (plain['ours'] / row['ours'] if row['better_is'] == 'higher'
                else row['ours'] / plain['ours']) - 1
        costs.append(f'{plain["metric"]} {more * 100:+.1f}%')
    if not costs:
        return []
    return ['vfio_pci tracing on (every event, 64 KiB ring per CPU, overwrite), ours against '
            'ours plain, time per operation: ' + ', '.join(costs)]


def report(run, markdown=False):
    p = run['params']
    title = (f'{run["kernel"]} ({run["release"]}), {run["clock"]} clock: '
             f'{p["rounds"]} rounds x 2 drivers, '
             f'time box {p["time_ms"]} ms, mmap {p["mmap_mib"]} MiB, '
             f'VM {run["vm_seconds"]:.0f} s')
    lines = [f'### {title}' if markdown else f'== {title}', '']
    lines += table(run['rows'], markdown)
    lines.append('')
    lines += [('* ' if markdown else '') + line
              for line in noise_lines(run) + trace_cost_lines(run)]
    for problem in run['problems']:
        lines.append(('* ' if markdown else '') + f'PROBLEM: {problem}')
    return lines


def _md_label(label):
    """Markdown collapses the indentation of sub-rows: mark them."""
    return '↳ ' + label.lstrip() if label.startswith(' ') else label


def combined_markdown(wall, icount):
    """One Markdown table for a kernel run with both clocks: the wall-clock
    medians, and which driver is better by each clock."""
    p, q = wall['params'], icount['params']
    lines = [f'### {wall["kernel"]} ({wall["release"]})', '',
             f'Wall clock: {p["rounds"]} rounds, time box {p["time_ms"]} ms, mmap '
             f'{p["mmap_mib"]} MiB. icount: {q["rounds"]} rounds, time box {q["time_ms"]} ms '
             f'(virtual), mmap {q["mmap_mib"]} MiB.', '',
             '| metric | unit | in-tree | ours | ours/in-tree | better (wall) '
             '| spread in-tree/ours | better (icount) |',
             '|---|---|--:|--:|--:|--:|--:|--:|']
    by_name = {row['metric']: row for row in icount['rows']}
    descriptions = dict(METRICS)
    for row in wall['rows']:
        name = row['metric']
        if name in TABLE_HIDDEN or name.endswith(('.mean', '.kcpu')):
            continue
        other = by_name.get(name)
        ic = '-' if not other or other.get('missing') else _better_text(other)
        label = _md_label(descriptions.get(name, name))
        if row.get('missing'):
            lines.append(f'| {label} | {row["unit"]} | - | - | - | no figure | - | {ic} |')
            continue
        spread = row['spread_pct']
        ratio = '-' if row['ratio'] is None else f'{row["ratio"]:.2f}'
        lines.append(f'| {label} | {row["unit"]} | {_fmt(row["intree"])} | {_fmt(row["ours"])} '
                     f'| {ratio} | {_better_text(row)} | ±{spread["intree"] / 2:.0f}% / '
                     f'±{spread["ours"] / 2:.0f}% | {ic} |')
    lines.append('')
    lines += ['* ' + line for line in noise_lines(wall)]
    lines += ['* icount: ' + line for line in trace_cost_lines(icount)]
    for run in (wall, icount):
        for problem in run['problems']:
            lines.append(f'* PROBLEM ({run["clock"]}): {problem}')
    return lines


def icount_markdown(icount):
    """The table of combined_markdown() for a run without the wall clock:
    the icount medians, and a wall column that says so."""
    q = icount['params']
    lines = [f'### {icount["kernel"]} ({icount["release"]})', '',
             f'Wall clock: not re-measured in this run. icount: {q["rounds"]} rounds, time box '
             f'{q["time_ms"]} ms (virtual), mmap {q["mmap_mib"]} MiB; the figures are icount '
             f'figures (virtual time, 1 ns per guest instruction).', '',
             '| metric | unit | in-tree (icount) | ours (icount) | ours/in-tree | better (wall) '
             '| spread in-tree/ours | better (icount) |',
             '|---|---|--:|--:|--:|--:|--:|--:|']
    descriptions = dict(METRICS)
    for row in icount['rows']:
        name = row['metric']
        if name in TABLE_HIDDEN or name.endswith(('.mean', '.kcpu')):
            continue
        label = _md_label(descriptions.get(name, name))
        if row.get('missing'):
            lines.append(f'| {label} | {row["unit"]} | - | - | - | not re-measured | - '
                         f'| no figure |')
            continue
        spread = row['spread_pct']
        ratio = '-' if row['ratio'] is None else f'{row["ratio"]:.2f}'
        lines.append(f'| {label} | {row["unit"]} | {_fmt(row["intree"])} | {_fmt(row["ours"])} '
                     f'| {ratio} | not re-measured | ±{spread["intree"] / 2:.0f}% / '
                     f'±{spread["ours"] / 2:.0f}% | {_better_text(row)} |')
    lines.append('')
    lines += ['* ' + line for line in noise_lines(icount) + trace_cost_lines(icount)]
    for problem in icount['problems']:
        lines.append(f'* PROBLEM (icount): {problem}')
    return lines


# --------------------------------------------------------------------------
# One kernel

def _guest_modules_intree(tree):
    """Guest paths of the in-tree vfio-pci and what it needs beyond the vfio
    core that /init loads, in load order."""
    core = set(tree.vfio_core())
    return [tree.guest_path(m) for m in tree.load_order(['vfio_pci']) if m not in core]


def bench_kernel(kernel, clock, module, params, args, echo):
    kern = vmtest.Kernel.lookup(kernel)
    tree = vmtest.ModuleTree(kern)
    intree = _guest_modules_intree(tree)
    staging = tempfile.mkdtemp(prefix=f'bench-{kernel}-')
    try:
        for path in (BENCH_BINARY, GUEST_SCRIPT):
            shutil.copy2(path, staging)
        guest_args = ['-t', str(params['time_ms']), '-m', str(params['mmap_mib']),
                      '-n', str(params['cycles'])]
        if args.free_irq_placement:
            guest_args.append('-f')
        if args.only:
            guest_args += ['-o', args.only]
        cmd = shlex.join(['/tests/bench-guest.sh', str(params['rounds']), ' '.join(intree),
                          vmtest.NG_MODULE_GUEST_PATH, *guest_args])
        logdir = os.path.join(args.logdir, f'{kernel}-{clock}') if args.logdir else None

        def on_line(line):
            if line.startswith('@@BENCH pass'):
                _, _, rnd, drv = line.split()
                echo(f'# {kernel} {clock}: round {int(rnd) + 1}/{params["rounds"]}, {drv}')
            elif line.startswith('benchinfo ') and ('took' in line or 'failed' in line
                                                     or 'guest' in line or 'cannot' in line):
                echo(f'# {kernel} {clock}: {line[len("benchinfo "):]}')
            elif args.verbose:
                echo(line)

        noise_before = noise_snapshot()
        result = vmtest.run(kernel=kernel, mode='ng', topology='all', module=module,
                            tests=staging, cmd=cmd,
                            timeout=args.timeout or (params['boot_timeout'] +
                                                     2 * params['rounds'] * params['pass_timeout']),
                            logdir=logdir, verbose=False, echo=on_line,
                            qemu_args=CLOCKS[clock])
        noise_after = noise_snapshot()
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    passes, units, better, info = parse(result.lines)
    problems, broken = [], False
    if result.timed_out:
        problems.append('the VM timed out')
        broken = True
    elif not result.done:
        problems.append('the VM crashed (no end marker)')
        broken = True
    elif result.status:
        problems.append(f'the guest script exited with {result.status} (a driver did not load?)')
        broken = True
    for finding in result.findings:
        problems.append(finding.title())
    for d in DRIVERS:
        if not any(p['driver'] == d for p in passes):
            problems.append(f'no pass with the {d} driver')
            broken = True
    skipped = sorted({f'{name} ({why})' for p in passes for name, why in p['skipped'].items()})
    problems += [f'skipped: {s}' for s in skipped]
    if problems and result.logdir:
        problems.append(f'logs: {result.logdir}')
    return {
        'kernel': kernel, 'clock': clock, 'release': kern.release, 'params': params,
        'vm_seconds': result.seconds or 0.0, 'noise_before': noise_before,
        'noise_after': noise_after, 'guest_info': info, 'passes': passes,
        'units': units, 'better': better, 'rows': summarize(passes, units, better, TIES[clock]),
        'problems': problems, 'broken': broken,
    }


# --------------------------------------------------------------------------

def write_outputs(results, args, json_too=True):
    """The JSON (raw numbers) and the Markdown tables."""
    md = [f'Date: {results["date"]}. Machine: {results["machine"]["cpus"]} cores '
          f'({results["machine"]["cpu"]}), {results["machine"]["distro"]}, '
          f'{results["machine"]["qemu"]}, {results["machine"]["accel"]}.', '']
    runs = {(run['kernel'], run['clock']): run for run in results['kernels']}
    for run in results['kernels']:
        pair = runs.get((run['kernel'], 'wall')), runs.get((run['kernel'], 'icount'))
        if all(pair):
            if run['clock'] == 'wall':
                md += combined_markdown(*pair) + ['']
        elif run['clock'] == 'icount':
            md += icount_markdown(run) + ['']
        else:
            md += report(run, markdown=True) + ['']
    outputs = [(args.markdown, '\n'.join(md) + '\n')]
    if json_too:
        outputs.append((args.json, json.dumps(results, indent=1) + '\n'))
    for path, text in outputs:
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Benchmark our vfio-pci against the in-tree one, in one VM boot per kernel.')
    parser.add_argument('--kernels', type=_list,
                        help='comma-separated (default: every prepared kernel of the matrix)')
    parser.add_argument('--clocks', type=_list, default=list(CLOCKS),
                        help='wall and/or icount, comma-separated (default: both)')
    parser.add_argument('--rounds', type=int, help='rounds (default: see PARAMS)')
    parser.add_argument('--time-ms', type=int, help='time box per rate, ms (default: see PARAMS)')
    parser.add_argument('--mmap-mib', type=int, help='MiB of the ivshmem BAR to map '
                        '(default: see PARAMS)')
    parser.add_argument('--only', help='only these vfio-bench sections, comma-separated '
                        '(control, config, bar, mmap, irq, ioeventfd, life, trace)')
    parser.add_argument('--free-irq-placement', action='store_true',
                        help='leave the program and the interrupts where the kernel puts '
                        'them (default: both on CPU 0, see vfio-bench.c)')
    parser.add_argument('--module-for', action='append', default=[], metavar='KERNEL=KO',
                        help='our module for KERNEL (default: build/KERNEL/vfio-pci.ko)')
    parser.add_argument('--json', default=os.path.join(vmtest.REPO, 'build', 'bench-results.json'),
                        help='raw results (default: build/bench-results.json)')
    parser.add_argument('--markdown', default=os.path.join(vmtest.REPO, 'build', 'bench-results.md'),
                        help='the tables in Markdown (default: build/bench-results.md)')
    parser.add_argument('--from-json', metavar='FILE',
                        help='run nothing: print the tables of an earlier run\'s JSON '
                        '(and write --markdown)')
    parser.add_argument('--timeout', type=float, help='seconds per VM (default: per kernel)')
    parser.add_argument('--logdir', help='keep each VM\'s logs in LOGDIR/KERNEL')
    parser.add_argument('--verbose', action='store_true', help='show every guest line')
    args = parser.parse_args(argv)
    modules = {}
    for item in args.module_for:
        kernel, sep, path = item.partition('=')
        if not sep or not path:
            parser.error(f'--module-for wants KERNEL=PATH, got {item!r}')
        modules[kernel] = os.path.abspath(path)
    args.module_for = modules
    for clock in args.clocks:
        if clock not in CLOCKS:
            parser.error(f"unknown clock '{clock}' ({'|'.join(CLOCKS)})")
    return args


def main(argv=None):
    args = _parse_args(argv)

    def echo(line):
        print(line, flush=True)

    if args.from_json:
        with open(args.from_json) as f:
            results = json.load(f)
        for run in results['kernels']:
            for line in report(run):
                echo(line)
            echo('')
        write_outputs(results, args, json_too=False)
        echo(f'# tables: {args.markdown}')
        return 0

    try:
        ready = vmtest.available_kernels()
        kernels = args.kernels or ready
    except vmtest.SetupError as e:
        print(f'bench: {e}', file=sys.stderr)
        return 2
    for path in (BENCH_BINARY, GUEST_SCRIPT):
        if not os.path.exists(path):
            print(f'bench: {path} is missing (make -C selftests)', file=sys.stderr)
            return 2
    if not kernels:
        print('bench: no kernel of the matrix is prepared (scripts/kernels.sh prepare)',
              file=sys.stderr)
        return 2

    results = {'date': datetime.datetime.now().isoformat(timespec='seconds'),
               'machine': machine_info(), 'kernels': []}
    echo(f'# machine: {results["machine"]["cpus"]} CPUs ({results["machine"]["cpu"]}), '
         f'{results["machine"]["distro"]}, {results["machine"]["qemu"]}, '
         f'{results["machine"]["accel"]}')
    status = 0
    for kernel in kernels:
        if kernel not in ready:
            echo(f'# {kernel}: not prepared, skipped (scripts/kernels.sh prepare {kernel})')
            continue
        module = args.module_for.get(kernel, os.path.join(vmtest.REPO, 'build', kernel,
                                                          'vfio-pci.ko'))
        for clock in args.clocks:
            params = dict(PARAMS[clock, 'debug' if kernel == 'debug' else 'stock'])
            for key in ('rounds', 'time_ms', 'mmap_mib'):
                if getattr(args, key) is not None:
                    params[key] = getattr(args, key)
            snap = noise_snapshot()
            echo(f'# {kernel} {clock}: booting (host load {snap["loadavg"][0]:.2f}, '
                 f'{snap["qemu_processes"]} other QEMU running)')
            started = time.monotonic()
            try:
                run = bench_kernel(kernel, clock, module, params, args, echo)
            except vmtest.SetupError as e:
                echo(f'# {kernel}: cannot run: {e}')
                status = max(status, 2)
                break
            run['host_seconds'] = time.monotonic() - started
            results['kernels'].append(run)
            if run['broken']:
                status = max(status, 1)
            echo('')
            for line in report(run):
                echo(line)
            echo('')

    write_outputs(results, args)
    echo(f'# raw results: {args.json}; tables: {args.markdown}')
    return status


if __name__ == '__main__':
    sys.exit(main())
