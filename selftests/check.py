#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Run the selftests on every kernel of the matrix, in-tree driver first.

    check.py [--kernels 6.1,6.12,debug] [--modes baseline,ng] [--topology all]
             [--module-for KERNEL=KO ...] [--tests DIR] [--timeout S]
             [--logdir DIR] [--keep] [--verbose] [--quiet]

One VM boot per kernel and mode (selftests/vmtest.py). Kernels default to
those of scripts/kernels.sh that are ready to boot. Our module for kernel K is
build/K/vfio-pci.ko unless --module-for says otherwise. Each run ends with
"<kernel> <mode>: N passed, N failed, N skipped"; the last line is the grand
total "N passed, N failed, N skipped". Exit status 1 if anything failed.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import vmtest


def _list(text):
    return [item for item in text.replace(',', ' ').split() if item]


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Run the selftests on every kernel of the matrix, in both modes.')
    parser.add_argument('--kernels', type=_list,
                        help='comma-separated (default: every prepared kernel of the matrix)')
    parser.add_argument('--modes', type=_list, default=['baseline', 'ng'],
                        help='comma-separated, in this order (default: baseline,ng)')
    parser.add_argument('--topology', default='all', choices=vmtest.TOPOLOGIES)
    parser.add_argument('--module-for', action='append', default=[], metavar='KERNEL=KO',
                        help='our module for KERNEL (default: build/KERNEL/vfio-pci.ko)')
    parser.add_argument('--tests', help='test directory (default: selftests/out)')
    parser.add_argument('--timeout', type=float, help='seconds per run (default: per kernel)')
    parser.add_argument('--logdir', help='keep the logs of each run in LOGDIR/KERNEL-MODE')
    parser.add_argument('--keep', action='store_true', help='keep logdirs, initramfs and images')
    parser.add_argument('--verbose', action='store_true', help='show the kernel consoles too')
    parser.add_argument('--quiet', action='store_true', help='only failures and summaries')
    parser.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                        help='VMs run at once, each in its own process (default: 2); '
                             'a TCG guest keeps one core busy')
    args = parser.parse_args(argv)
    for mode in args.modes:
        if mode not in vmtest.MODES:
            parser.error(f"unknown mode '{mode}' ({'|'.join(vmtest.MODES)})")
    modules = {}
    for item in args.module_for:
        kernel, sep, path = item.partition('=')
        if not sep or not path:
            parser.error(f'--module-for wants KERNEL=PATH, got {item!r}')
        modules[kernel] = os.path.abspath(path)
    args.module_for = modules
    return args


SUMMARY = re.compile(r'^\S+ \S+: (\d+) passed, (\d+) failed, (\d+) skipped$')
TOTAL = re.compile(r'^\d+ passed, \d+ failed, \d+ skipped$')


def _run_one(args, kernel, mode):
    """One VM boot in its own vmtest.py process; returns (output, counts)."""
    cmd = [sys.executable, os.path.join(vmtest.REPO, 'selftests', 'vmtest.py'),
           '--kernel', kernel, '--mode', mode, '--topology', args.topology]
    if mode == 'ng':
        cmd += ['--module', args.module_for.get(
            kernel, os.path.join(vmtest.REPO, 'build', kernel, 'vfio-pci.ko'))]
    if args.tests:
        cmd += ['--tests', args.tests]
    if args.timeout:
        cmd += ['--timeout', str(args.timeout)]
    if args.logdir:
        cmd += ['--logdir', os.path.join(args.logdir, f'{kernel}-{mode}')]
    if args.keep:
        cmd.append('--keep')
    if args.verbose:
        cmd.append('--verbose')
    with tempfile.TemporaryFile(mode='w+') as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False)
        out.seek(0)
        lines = out.read().splitlines()
    summary = f'{kernel} {mode}: '
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

    # Slowest first (the debug kernel), so that parallel runs finish together.
    runs = [(k, m) for k in sorted(kernels, key=lambda k: k != 'debug') for m in args.modes]
    print(f'# {len(runs)} runs, {args.jobs} at a time: '
          + ', '.join(f'{k} {m}' for k, m in runs), flush=True)

    passed = failed = skipped = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_run_one, args, k, m) for k, m in runs]
        for (kernel, mode), future in zip(runs, futures):
            lines, (p, f, s) = future.result()
            print(f'# ---- {kernel} {mode} ----')
            for line in lines:
                if args.quiet and not (line.startswith('FAIL') or SUMMARY.match(line)
                                       or line.startswith('#')):
                    continue
                if TOTAL.match(line):
                    continue    # vmtest's own grand total: ours comes last
                print(line)
            sys.stdout.flush()
            passed += p
            failed += f
            skipped += s
    print(vmtest.counts(passed, failed, skipped))
    return 0 if not failed else 1


if __name__ == '__main__':
    sys.exit(main())
