#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Run the selftests on every kernel of the matrix, in-tree driver first.

    check.py [--kernels 6.1,6.12,debug] [--modes baseline,ng] [--topology all]
             [--runs main,sriov,nointxmask,install] [--module-for KERNEL=KO ...]
             [--tests DIR] [--timeout S] [--logdir DIR] [--keep] [--verbose]
             [--quiet] [--jobs N] [--late-kernel KERNEL]

For every kernel and mode, one VM boot runs every test program on --topology
(the main run), and one more boot per entry of EXTRA_RUNS runs the few
programs that need another topology or module parameters (selftests/vmtest.py
each). Kernels default to those of scripts/kernels.sh that are ready to boot.
Our module for kernel K is build/K/vfio-pci.ko unless --module-for says
otherwise. Each run ends with "<kernel> <mode>: N passed, N failed, N
skipped" ("<kernel> <mode> [<extra run>]: ..." for an extra run); the last
line is the grand total "N passed, N failed, N skipped". Exit status 1 if
anything failed.

With --late-kernel K (make check: debug), K is prepared (scripts/kernels.sh
prepare K, which waits for a build setup.sh --debug-behind started) and our
module built for it (make sparse-K) while the other kernels' runs go; K's runs
start when that is done, before the runs still waiting. Its output comes
when it ends, as "# ---- K: prepare and build ----"; if it fails, each of
K's runs counts one failure. Each run's output comes when the run ends.

The "install" run (selftests/install-test.py, one job) installs the
vfio-pci-ng-dkms package (make deb) in a Debian 12 VM and boots it on the
stock kernels among --kernels (6.12, 6.1), with one summary line for each,
"<kernel> install: ...".
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import threading

import vmtest

# Runs beyond the main one, each for every kernel and mode: its name (the
# "[name]" of its summary line), topology, parameters of the insmod of
# vfio-pci.ko (ours or in-tree: both take these), the programs it runs,
# more arguments of vmtest.py, if any (they win over check.py's own), and
# the kernels it runs on (None: all).
Extra = collections.namedtuple('Extra', 'name topology params programs args kernels',
                               defaults=((), None))
# The real clients (selftests/clients) run the host's QEMU and DPDK in the
# guest: a few minutes per boot, so on Debian 12's default kernel only (the
# cold make check must stay within its time; 7.3 runs the upstream
# selftests and 6.12 the igb clients).
CLIENTS = os.path.join(vmtest.REPO, 'selftests', 'clients')
CLIENT_KERNELS = ('6.1',)
UPSTREAM_OUT = os.path.join(vmtest.REPO, 'build', 'upstream', 'out')
UPSTREAM_KERNELS = ('6.1', '7.3', 'debug')
# The igb run: a stock kernel and the one with iommufd.
IGB_KERNELS = ('6.12', 'debug')
EXTRA_RUNS = (
    # The SR-IOV PF is not in "all" (same ID as its nvme0): t_74 skips
    # there. It switches enable_sriov itself. Not on debug, where "igb"
    # runs t_74 on VFs that work.
    Extra('sriov', 'sriov', '', ('t_74_sriov',), (), ('6.1', '6.12', '7.3')),
    # INTx masked at the interrupt controller, on a line of its own, instead
    # of by DisINTx in the device (PCI 2.3): t_45 checks that it is so. Not
    # on debug, for the cold make check's time (a boot there costs 20-40 s
    # before the first test; the debug main run's t_83_policy switches a
    # device's nointxmask policy).
    Extra('nointxmask', 'all', 'nointxmask=1',
          ('t_45_intx_msi', 't_48_irq_stress', 't_49_irq_hostile'), (),
          ('6.1', '6.12', '7.3')),
    # The upstream kernel VFIO selftests of 7.3 (selftests/upstream, built
    # into build/upstream by "make upstream-selftests"). Guest clock by
    # instruction count: the harness's fixed 30 s per test then holds
    # whatever the host's load, and edu's 100 ms DMA transfers cost no time.
    # Not on 6.12, for time: 6.1 (the oldest uAPI, type1), 7.3 (the suite's
    # own kernel) and debug (iommufd) cover its paths, and on 6.12 the igb
    # run has the two binaries that need a working device.
    Extra('upstream', 'all', '', ('t_upstream',),
          ('--tests', UPSTREAM_OUT, '--icount', '--test-timeout', '1200', '--timeout', '1800'),
          UPSTREAM_KERNELS),
    # QEMU 10's igb (82576), an SR-IOV PF whose VFs work (scripts/qemu10.sh):
    # t_74 on working VFs, then the upstream selftests that need it
    # (vfio_pci_sriov_uapi_test, vfio_pci_driver_test with the suite's igb
    # driver). Guest clock by instruction count, as for "upstream".
    Extra('igb', 'igb', 'enable_sriov=1', ('t_74_sriov', 't_upstream'),
          ('--tests', f'{vmtest.DEFAULT_TESTS}:{UPSTREAM_OUT}', '--icount',
           '--test-timeout', '1200', '--timeout', '1800'),
          IGB_KERNELS),
    # QEMU assigns each lab device (vfio-pci,host=), with and without mmap;
    # the outer machine removes the e1000e while QEMU holds it.
    Extra('qemu', 'all', '', ('t_qemu',),
          ('--tests', CLIENTS, '--host-root', '--test-timeout', '1200', '--timeout', '1500'),
          CLIENT_KERNELS),
    # testpmd forwards between two e1000e on one hub: Debian's DPDK needs
    # corei7 (Nehalem) and hugepages.
    Extra('dpdk', 'dpdk', '', ('t_dpdk',),
          ('--tests', CLIENTS, '--host-root', '--cpu', 'Nehalem', '--test-timeout', '900',
           '--timeout', '1200'),
          CLIENT_KERNELS),
)
MAIN = 'main'
# selftests/install-test.py: the kernels it boots, in its order.
INSTALL = 'install'
INSTALL_KERNELS = ('6.12', '6.1')


def _list(text):
    return [item for item in text.replace(',', ' ').split() if item]


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Run the selftests on every kernel of the matrix, in both modes.')
    parser.add_argument('--kernels', type=_list,
                        help='comma-separated (default: every prepared kernel of the matrix)')
    parser.add_argument('--modes', type=_list, default=['baseline', 'ng'],
                        help='comma-separated, in this order (default: baseline,ng)')
    parser.add_argument('--topology', default='all', choices=vmtest.TOPOLOGIES,
                        help='of the main run (default: all)')
    run_names = [MAIN] + [extra.name for extra in EXTRA_RUNS] + [INSTALL]
    parser.add_argument('--runs', type=_list, default=run_names,
                        help=f'comma-separated (default: {",".join(run_names)})')
    parser.add_argument('--module-for', action='append', default=[], metavar='KERNEL=KO',
                        help='our module for KERNEL (default: build/KERNEL/vfio-pci.ko)')
    parser.add_argument('--tests', help='test directory (default: selftests/out)')
    parser.add_argument('--timeout', type=float, help='seconds per run (default: per kernel)')
    parser.add_argument('--logdir', help='keep the logs of each run in LOGDIR/KERNEL-MODE[-RUN]')
    parser.add_argument('--keep', action='store_true', help='keep logdirs, initramfs and images')
    parser.add_argument('--verbose', action='store_true', help='show the kernel consoles too')
    parser.add_argument('--quiet', action='store_true', help='only failures and summaries')
    parser.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                        help='VMs run at once, each in its own process (default: 2); '
                             'a TCG guest keeps one core busy')
    parser.add_argument('--late-kernel', action='append', default=[], metavar='KERNEL',
                        help='prepare KERNEL and build our module for it (make sparse-KERNEL) '
                             'while the other runs go; its runs wait for that')
    args = parser.parse_args(argv)
    for mode in args.modes:
        if mode not in vmtest.MODES:
            parser.error(f"unknown mode '{mode}' ({'|'.join(vmtest.MODES)})")
    for run in args.runs:
        if run not in run_names:
            parser.error(f"unknown run '{run}' ({'|'.join(run_names)})")
    modules = {}
    for item in args.module_for:
        kernel, sep, path = item.partition('=')
        if not sep or not path:
            parser.error(f'--module-for wants KERNEL=PATH, got {item!r}')
        modules[kernel] = os.path.abspath(path)
    args.module_for = modules
    return args


SUMMARY = re.compile(r'^\S+ \S+(?: \[\S+\])?: (\d+) passed, (\d+) failed, (\d+) skipped$')
TOTAL = re.compile(r'^\d+ passed, \d+ failed, \d+ skipped$')


def _run_name(kernel, mode, extra):
    return f'{kernel} {mode}' + (f' [{extra.name}]' if extra else '')


def _run_install(args, kernels):
    """selftests/install-test.py on `kernels`; returns (output, counts)."""
    cmd = [sys.executable, os.path.join(vmtest.REPO, 'selftests', 'install-test.py'),
           '--kernels', ','.join(kernels)]
    if args.logdir:
        cmd += ['--logdir', os.path.join(args.logdir, INSTALL)]
    cmd += ['--keep'] * args.keep + ['--verbose'] * args.verbose
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    counts = [0, 0, 0]
    for kernel in kernels:
        found = [SUMMARY.match(line) for line in lines
                 if line.startswith(f'{kernel} {INSTALL}: ') and SUMMARY.match(line)]
        if not found:
            lines.append(f'{kernel} {INSTALL}: 0 passed, 1 failed, 0 skipped'
                         f' (install-test.py exited {proc.returncode} without a summary)')
            counts[1] += 1
            continue
        counts = [c + int(n) for c, n in zip(counts, found[-1].groups())]
    if proc.returncode and not counts[1]:
        counts[1] = 1
    return lines, tuple(counts)


def _run_one(args, kernel, mode, extra):
    """One VM boot in its own vmtest.py process (the main run if `extra` is
    None; the install test if `mode` is INSTALL); returns (output, counts)."""
    if mode == INSTALL:
        return _run_install(args, kernel.split(','))
    cmd = [sys.executable, os.path.join(vmtest.REPO, 'selftests', 'vmtest.py'),
           '--kernel', kernel, '--mode', mode]
    if extra:
        cmd += ['--topology', extra.topology, '--only', ','.join(extra.programs),
                '--label', extra.name]
        if extra.params:
            cmd += ['--module-params', extra.params]
    else:
        cmd += ['--topology', args.topology]
    if mode == 'ng':
        cmd += ['--module', args.module_for.get(
            kernel, os.path.join(vmtest.REPO, 'build', kernel, 'vfio-pci.ko'))]
    if args.tests:
        cmd += ['--tests', args.tests]
    if args.timeout:
        cmd += ['--timeout', str(args.timeout)]
    if args.logdir:
        cmd += ['--logdir', os.path.join(args.logdir, f'{kernel}-{mode}'
                                         + (f'-{extra.name}' if extra else ''))]
    if args.keep:
        cmd.append('--keep')
    if args.verbose:
        cmd.append('--verbose')
    if extra:
        cmd += extra.args
    with tempfile.TemporaryFile(mode='w+') as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False)
        out.seek(0)
        lines = out.read().splitlines()
    summary = f'{_run_name(kernel, mode, extra)}: '
    counts = None
    for line in lines:
        match = SUMMARY.match(line)
        if line.startswith(summary) and match:
            counts = tuple(int(n) for n in match.groups())
    if counts is None:
        lines.append(f'{summary}0 passed, 1 failed, 0 skipped'
                     f' (vmtest.py exited {proc.returncode} without a summary)')
        counts = (0, 1, 0)
    elif proc.returncode and not counts[1]:
        counts = (counts[0], 1, counts[2])
    return lines, counts


def _prepare_late(kernel):
    """scripts/kernels.sh prepare `kernel`, then make sparse-`kernel`: returns
    (output, ok)."""
    lines = []
    for cmd in (['scripts/kernels.sh', 'prepare', kernel],
                ['make', '--no-print-directory', f'sparse-{kernel}']):
        proc = subprocess.run(cmd, cwd=vmtest.REPO, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
        lines += [f'$ {" ".join(cmd)}'] + (proc.stdout + proc.stderr).splitlines()
        if proc.returncode:
            lines.append(f'FAIL {kernel}: "{" ".join(cmd)}" exited {proc.returncode}')
            return lines, False
    return lines, True


def _schedule(args, runs, late):
    """Run `runs` on args.jobs workers, each taking the first run it may
    start: a run of a kernel in `late` once that kernel's preparation
    (_prepare_late, in a thread of its own from the start) is over. Yields
    ('prepare', kernel, (output, ok)) and ('run', run, (output, counts)) as
    they end."""
    cond = threading.Condition()
    pending = list(runs)
    gates = dict.fromkeys(late)     # kernel: None while preparing, then (output, ok)
    ended = []
    workers = min(max(1, args.jobs), len(runs))
    alive = [workers + len(late)]

    def post(item, last=False):
        with cond:
            if item:
                ended.append(item)
            alive[0] -= last
            cond.notify_all()

    def prepare(kernel):
        try:
            result = _prepare_late(kernel)
        except Exception as e:      # reported as the kernel's failure, not lost
            result = ([f'FAIL {kernel}: preparing it raised {e!r}'], False)
        with cond:
            gates[kernel] = result
        post(('prepare', kernel, result), last=True)

    def take():
        with cond:
            while pending:
                for i, run in enumerate(pending):
                    if gates.get(run[0], True) is not None:
                        return pending.pop(i)
                cond.wait()
            return None

    def work():
        while (run := take()) is not None:
            gate = gates.get(run[0])
            try:
                if gate is not None and not gate[1]:
                    raise RuntimeError(f'not run, {run[0]} is not prepared')
                result = _run_one(args, *run)
            except Exception as e:
                result = ([f'FAIL {e}',
                           f'{_run_name(*run)}: 0 passed, 1 failed, 0 skipped'], (0, 1, 0))
            post(('run', run, result))
        post(None, last=True)

    threads = [threading.Thread(target=prepare, args=(k,), daemon=True) for k in late]
    threads += [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    over = False
    while not over:
        with cond:
            while not ended and alive[0]:
                cond.wait()
            items, ended[:] = list(ended), []
            over = not alive[0]
        yield from items
    for thread in threads:
        thread.join()


FAILURE_EXCERPT = 40    # lines of a console report repeated in the final failures


def _failure_lines(name, lines):
    """The failures of a run for the final section: each FAIL and not ok
    line, a summary that counts failures, and the first lines of the
    excerpt under a FAIL (a console report), so that a CI log's tail says
    what the kernel printed."""
    out, excerpt = [], 0
    for line in lines:
        if line.startswith(('FAIL', 'not ok')) or (SUMMARY.match(line) and
                                                   ' 0 failed' not in line):
            out.append(f'{name}: {line}')
            excerpt = FAILURE_EXCERPT if line.startswith('FAIL') else 0
        elif excerpt and line.startswith('    '):
            out.append(line)
            excerpt -= 1
        else:
            excerpt = 0
    return out


def main(argv=None):
    args = _parse_args(argv)
    try:
        kernels = args.kernels or vmtest.available_kernels()
    except vmtest.SetupError as e:
        print(f'check: {e}', file=sys.stderr)
        return 2
    if not kernels:
        print('check: no kernel of the matrix is prepared (scripts/kernels.sh prepare)',
              file=sys.stderr)
        return 2

    extras = [None] * (MAIN in args.runs) + [e for e in EXTRA_RUNS if e.name in args.runs]
    # Slowest first, so that parallel runs finish together: the debug
    # kernel's, then the main runs before the short extra ones (a late
    # kernel's runs are passed over until it is prepared).
    runs = sorted(((k, m, e) for k in kernels for e in extras for m in args.modes
                   if e is None or e.kernels is None or k in e.kernels),
                  key=lambda run: (run[0] != 'debug', run[2] is not None))
    install = [k for k in INSTALL_KERNELS if k in kernels] if INSTALL in args.runs else []
    if install:     # the longest run of all: first
        runs.insert(0, (','.join(install), INSTALL, None))
    late = [k for k in dict.fromkeys(args.late_kernel) if k in kernels]
    print(f'# {len(runs)} runs, {args.jobs} at a time: '
          + ', '.join(_run_name(*run) for run in runs)
          + ''.join(f'; {k} runs once {k} is prepared' for k in late), flush=True)

    passed = failed = skipped = 0
    failures = []
    for kind, what, result in _schedule(args, runs, late):
        if kind == 'prepare':
            lines, ok = result
            print(f'# ---- {what}: prepare and build ----')
            for line in lines:
                if not ok or not args.quiet or line.startswith('FAIL'):
                    print(line)
            sys.stdout.flush()
            if not ok:
                failures += [line for line in lines if line.startswith('FAIL')]
            continue
        lines, (p, f, s) = result
        print(f'# ---- {_run_name(*what)} ----')
        for line in lines:
            if args.quiet and not (line.startswith('FAIL') or SUMMARY.match(line)
                                   or line.startswith('#')):
                continue
            if TOTAL.match(line):
                continue    # vmtest's own grand total: ours comes last
            print(line)
        sys.stdout.flush()
        if f:
            failures += _failure_lines(_run_name(*what), lines)
        passed += p
        failed += f
        skipped += s
    if failures:    # again at the end, where a CI log's tail shows them
        print('# ---- failures ----')
        print('\n'.join(failures))
    print(vmtest.counts(passed, failed, skipped))
    return 0 if not failed else 1


if __name__ == '__main__':
    sys.exit(main())
