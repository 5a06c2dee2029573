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
import sys

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

    def echo(line):
        print(line, flush=True)

    total = vmtest.Result(kernel='all', mode='all', topology=args.topology)
    for kernel in kernels:
        for mode in args.modes:
            module = None
            if mode == 'ng':
                module = args.module_for.get(
                    kernel, os.path.join(vmtest.REPO, 'build', kernel, 'vfio-pci.ko'))
            print(f'# {kernel} {mode}: booting', flush=True)
            try:
                result = vmtest.run(
                    kernel=kernel, mode=mode, topology=args.topology, module=module,
                    tests=args.tests, timeout=args.timeout,
                    logdir=args.logdir and os.path.join(args.logdir, f'{kernel}-{mode}'),
                    keep=args.keep, verbose=args.verbose, echo=None if args.quiet else echo)
            except vmtest.SetupError as e:
                result = vmtest.Result(kernel=kernel, mode=mode, topology=args.topology)
                result.fail(f'cannot run: {e}')
            for line in result.report():
                print(line)
            if result.seconds is not None:
                print(result.timing())
            print(result.summary(), flush=True)
            total.passed += result.passed
            total.failed += result.failed
            total.skipped += result.skipped
    print(vmtest.counts(total.passed, total.failed, total.skipped))
    return 0 if total.ok else 1


if __name__ == '__main__':
    sys.exit(main())
