#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of the VM test runner's host-side logic (no VM is booted).

    python3 selftests/vm/test_vmtest.py
"""

import os
import re
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vmtest  # noqa: E402

WARNING = """\
[   12.300000] vmtest: begin t_03_close
[   12.345678] ------------[ cut here ]------------
[   12.345679] WARNING: CPU: 1 PID: 201 at drivers/vfio/pci/vfio_pci_core.c:123 close+0x12/0x80 [vfio_pci]
[   12.345680] Modules linked in: vfio_pci(OE) vfio_iommu_type1 vfio irqbypass
[   12.345681] CPU: 1 UID: 0 PID: 201 Comm: t_03_close Tainted: G           OE      6.12.117 #1
[   12.345682] Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE
[   12.345684] RIP: 0010:close+0x12/0x80 [vfio_pci]
[   12.345690] Call Trace:
[   12.345691]  <TASK>
[   12.345692]  ? __warn+0x89/0x130
[   12.345693]  vfio_df_close+0x40/0x60 [vfio]
[   12.345694]  </TASK>
[   12.345695] ---[ end trace 0000000000000000 ]---
[   12.400000] vmtest: end t_03_close
"""

LOCKDEP = """\
[   20.000000] vmtest: begin t_07_irq
[   20.100000] ======================================================
[   20.100001] WARNING: possible circular locking dependency detected
[   20.100002] 6.12.117 #1 Tainted: G           OE
[   20.100003] ------------------------------------------------------
[   20.100004] t_07_irq/250 is trying to acquire lock:
[   20.100005] ffff888003a1c0a8 (&vdev->igate){+.+.}-{3:3}, at: vfio_pci_set_irqs_ioctl+0x4c/0x90
[   20.100010] stack backtrace:
[   20.100011] CPU: 0 UID: 0 PID: 250 Comm: t_07_irq Tainted: G           OE      6.12.117 #1
[   20.100012] Call Trace:
[   20.100013]  <TASK>
[   20.100014]  dump_stack_lvl+0x5b/0x80
[   20.100015]  </TASK>
"""

KASAN = """\
[   30.000000] vmtest: begin t_99_rmmod
[   30.100000] ==================================================================
[   30.100001] BUG: KASAN: slab-use-after-free in vfio_pci_release+0x1c/0x40 [vfio_pci]
[   30.100002] Read of size 8 at addr ffff888012345678 by task t_99_rmmod/300
[   30.100003] Call Trace:
[   30.100004]  <TASK>
[   30.100005]  kasan_report+0x8c/0xc0
[   30.100006]  </TASK>
[   30.100007] ==================================================================
"""

KMEMLEAK = """\
[   40.000000] vmtest: kmemleak
unreferenced object 0xffff888003a1c000 (size 64):
  comm "t_00_bind", pid 120, jiffies 4294912345
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 1234abcd):
    kmalloc_trace+0x25/0x90
    vfio_pci_probe+0x4c/0x200 [vfio_pci]
unreferenced object 0xffff888003a1d000 (size 32):
  comm "t_00_bind", pid 120, jiffies 4294912346
  backtrace (crc 5678abcd):
    kmalloc_trace+0x25/0x90
[   46.000000] vmtest: done
"""

CLEAN = """\
[    0.000000] Linux version 6.12.117 (debian-kernel@lists.debian.org)
[    2.184357] shpchp 0000:00:02.0: pci_hp_register failed with error -16
[    3.000000] vmtest: insmod
[    3.113957] vfio_pci: loading out-of-tree module taints kernel.
[    3.115088] vfio_pci: module verification failed: signature and/or required key missing - tainting kernel
[    3.137830] vmtest: begin t_00_bind
[    3.150000] vfio-pci 0000:00:03.0: enabling device (0000 -> 0002)
[    3.197524] vmtest: end t_00_bind
"""


class ConsoleScanner(unittest.TestCase):

    def scan(self, text):
        return vmtest.scan_console(text)

    def test_clean_log_and_taint_lines(self):
        self.assertEqual(self.scan(CLEAN), [])

    def test_warning_with_trace_is_one_report(self):
        findings = self.scan(CLEAN + WARNING)
        self.assertEqual(len(findings), 1)
        self.assertEqual(findings[0].phase, 't_03_close')
        self.assertIn('WARNING: CPU: 1 PID: 201', findings[0].title())
        self.assertIn('---[ end trace', findings[0].lines[-1])
        self.assertIn('cut here', findings[0].lines[0])  # lead-in

    def test_lockdep_kasan_kmemleak(self):
        findings = self.scan(CLEAN + LOCKDEP + KASAN + KMEMLEAK)
        self.assertEqual([f.phase for f in findings], ['t_07_irq', 't_99_rmmod', 'kmemleak'])
        self.assertIn('possible circular locking', findings[0].title())
        self.assertIn('BUG: KASAN: slab-use-after-free', findings[1].title())
        self.assertIn('unreferenced object 0xffff888003a1c000', findings[2].title())
        self.assertTrue(any('0xffff888003a1d000' in line for line in findings[2].lines))

    def test_other_reports(self):
        for line in ('BUG: sleeping function called from invalid context at mm/slub.c:1',
                     'WARNING: suspicious RCU usage',
                     'WARNING: inconsistent lock state',
                     'WARNING: possible recursive locking detected',
                     'Oops: general protection fault, probably for non-canonical address',
                     'INFO: task t_05:123 blocked for more than 120 seconds.',
                     'UBSAN: shift-out-of-bounds in drivers/vfio/pci/vfio_pci_config.c:1',
                     'Kernel panic - not syncing: Fatal exception'):
            with self.subTest(line=line):
                findings = self.scan(f'[    1.000000] {line}\n')
                self.assertEqual(len(findings), 1)
                self.assertIn(line, findings[0].title())

    def test_reports_far_apart_are_separate(self):
        filler = ''.join(f'[    5.{i:06d}] filler {i}\n' for i in range(vmtest.REPORT_WINDOW + 1))
        text = '[    4.0] WARNING: one\n' + filler + '[    6.0] WARNING: two\n'
        self.assertEqual(len(self.scan(text)), 2)


class TapAccounting(unittest.TestCase):

    def program(self, lines, status):
        program = vmtest.Program('t_x')
        for line in lines:
            program.feed(line)
        problem = program.finish(status, test_timeout=300)
        return program, problem

    def test_counts(self):
        p, problem = self.program(['1..5', 'ok 1 - a', 'not ok 2 - b', 'ok 3 - c # SKIP no dev',
                                   'not ok 4 # TODO later', '# diagnostic', 'ok 5'], 1)
        self.assertEqual((p.passed, p.failed, p.skipped, problem), (2, 1, 2, None))
        self.assertEqual(p.problems, ['t_x: not ok 2 - b'])

    def test_plan_at_end_and_kselftest_skip_status(self):
        p, problem = self.program(['ok 1', 'ok 2 # skip', '1..2'], vmtest.KSFT_SKIP)
        self.assertEqual((p.passed, p.failed, p.skipped, problem), (1, 0, 1, None))

    def test_whole_program_skipped(self):
        p, problem = self.program(['1..0 # SKIP no iommufd'], vmtest.KSFT_SKIP)
        self.assertEqual((p.passed, p.failed, p.skipped, problem), (0, 0, 1, None))

    def test_program_failures(self):
        cases = [
            (['1..1', 'ok 1'], 139, 'killed by signal 11'),
            (['1..1', 'not ok 1'], 139, 'killed by signal 11'),
            (['1..1'], 137, 'killed by signal 9 (the per-test timeout is 300 s)'),
            (['1..1', 'ok 1'], 2, 'exited with status 2 without a "not ok"'),
            (['ok 1'], 0, 'printed no TAP plan'),
            (['1..3', 'ok 1'], 0, 'planned 3 tests, reported 1'),
            (['1..3', 'ok 1'], None, 'did not finish (guest died or timed out)'),
        ]
        for lines, status, expected in cases:
            with self.subTest(lines=lines, status=status):
                p, problem = self.program(lines, status)
                self.assertEqual(problem, expected)
                self.assertEqual(p.failed, sum(line.startswith('not ok') for line in lines) + 1)

    def test_failed_program_exits_non_zero(self):
        p, problem = self.program(['1..2', 'ok 1', 'not ok 2'], 1)
        self.assertEqual((p.failed, problem), (1, None))


class FakeMachine:
    """Stands in for the QEMU process: records host answers."""

    def __init__(self, monitor_output):
        self.answers = []
        self.commands = []
        outer = self

        class Monitor:
            def hmp(self, command):
                outer.commands.append(command)
                return monitor_output

        self.monitor = Monitor()

    def answer_host(self, text):
        self.answers.append(text)


class GuestOutput(unittest.TestCase):

    def session(self, lines, cmd=None, monitor_output=''):
        result = vmtest.Result(kernel='6.12', mode='ng', topology='edu', cmd=cmd)
        machine = FakeMachine(monitor_output)
        with tempfile.TemporaryDirectory() as logdir:
            session = vmtest._Session(result, machine, logdir, None, False, 300)
            for line in lines:
                session.out(line)
            session.close()
        return result, machine

    def test_programs_and_markers(self):
        result, _ = self.session([
            '@@VMTEST READY 6.12.117', '@@VMTEST LOG insmod vfio.ko',
            '@@VMTEST BEGIN t_10_a', '1..2', 'ok 1', 'not ok 2 - broken', '@@VMTEST END t_10_a 1',
            '@@VMTEST BEGIN t_20_b', '1..1', 'ok 1 - no newline@@VMTEST END t_20_b 0',
            '@@VMTEST BEGIN t_30_c', '1..1',  # the guest dies here
        ])
        self.assertEqual((result.passed, result.failed, result.skipped), (2, 2, 0))
        self.assertEqual(result.failures, ['t_10_a: not ok 2 - broken',
                                           't_30_c: did not finish (guest died or timed out)'])
        self.assertFalse(result.done)
        self.assertIsNotNone(result.ready_seconds)

    def test_cmd_status_and_guest_failures(self):
        result, _ = self.session(['@@VMTEST BEGIN cmd', 'ok 1 - not TAP here',
                                  '@@VMTEST END cmd 3', '@@VMTEST FAIL rmmod vfio_pci',
                                  '@@VMTEST DONE 3'], cmd='/tests/vfio-demo')
        self.assertEqual((result.passed, result.failed, result.status, result.done), (0, 2, 3, True))
        self.assertEqual(result.failures, ['cmd exited with status 3', 'guest: rmmod vfio_pci'])
        self.assertEqual(result.lines, ['ok 1 - not TAP here'])

    def test_host_cue(self):
        _, machine = self.session(['@@HOST info pci'],
                                  monitor_output='  Bus  0:\r\n    edu\x07 device\r\n\r\n')
        self.assertEqual(machine.commands, ['info pci'])
        self.assertEqual(machine.answers, ['Bus  0: | edu  device'])
        _, machine = self.session(['@@HOST device_del nvme0'])
        self.assertEqual(machine.answers, ['OK'])


class Archives(unittest.TestCase):

    def entries(self, data):
        """(name, mode, body) of each newc entry; checks the alignment."""
        entries, offset = [], 0
        while True:
            self.assertEqual(offset % 4, 0)
            self.assertEqual(data[offset:offset + 6], b'070701')
            fields = [int(data[offset + 6 + 8 * i:offset + 14 + 8 * i], 16) for i in range(13)]
            mode, size, namesize = fields[1], fields[6], fields[11]
            start = offset + 110
            name = data[start:start + namesize - 1].decode()
            body_start = start + namesize + (-(start + namesize) % 4)
            body = data[body_start:body_start + size]
            offset = body_start + size + (-(body_start + size) % 4)
            if name == 'TRAILER!!!':
                return entries, offset
            entries.append((name, mode, body))

    def test_newc_layout_and_padding(self):
        cpio = vmtest.Cpio()
        cpio.add('a/b/file', b'12345', 0o755)
        cpio.symlink('bin/sh', '/bin/busybox')
        cpio.chardev('dev/console', 5, 1)
        data = cpio.finish(pad_to=512)
        self.assertEqual(len(data) % 512, 0)
        entries, end = self.entries(data)
        self.assertEqual([e[0] for e in entries], ['a', 'a/b', 'a/b/file', 'bin', 'bin/sh',
                                                   'dev', 'dev/console'])
        self.assertEqual(entries[2][1:], (0o100755, b'12345'))
        self.assertEqual(entries[4][1:], (0o120777, b'/bin/busybox'))
        self.assertEqual(data[end:], b'\0' * (len(data) - end))


class ModuleInfo(unittest.TestCase):

    def elf(self, modinfo):
        """A minimal ELF64 with a .modinfo section."""
        names = b'\0.shstrtab\0.modinfo\0'
        body = names + modinfo
        shoff = 64 + len(body)
        header = bytearray(64)
        header[:6] = b'\x7fELF\x02\x01'
        struct.pack_into('<Q', header, 0x28, shoff)
        struct.pack_into('<HHH', header, 0x3a, 64, 3, 1)
        sections = bytes(64)
        sections += struct.pack('<IIQQQQ', 1, 3, 0, 0, 64, len(names)) + bytes(24)
        sections += struct.pack('<IIQQQQ', 11, 1, 0, 0, 64 + len(names), len(modinfo)) + bytes(24)
        return bytes(header) + body + sections

    def test_modinfo(self):
        image = self.elf(b'license=GPL\0depends=vfio-pci-core,vfio\0vermagic=6.1.0-56-amd64 SMP\0')
        info = vmtest.modinfo(image)
        self.assertEqual(info['vermagic'], ['6.1.0-56-amd64 SMP'])
        self.assertEqual(vmtest.module_depends(info), ['vfio_pci_core', 'vfio'])
        self.assertEqual(vmtest.module_depends(vmtest.modinfo(self.elf(b'depends=\0'))), [])

    def test_inject_module(self):
        """vt_inject.ko: shipped when built for the kernel; a missing or
        stale default is left out, an explicit one must fit."""
        kernel = vmtest.Kernel('nokernel', '', '', '6.12.1-test')
        tree = type('Tree', (), {'kernel': kernel})()
        with tempfile.TemporaryDirectory() as tmp:
            fits, stale = os.path.join(tmp, 'fits.ko'), os.path.join(tmp, 'stale.ko')
            with open(fits, 'wb') as f:
                f.write(self.elf(b'vermagic=6.12.1-test SMP\0'))
            with open(stale, 'wb') as f:
                f.write(self.elf(b'vermagic=6.1.0-1-amd64 SMP\0'))
            self.assertEqual(vmtest._inject_module(tree, fits), fits)
            self.assertIsNone(vmtest._inject_module(tree, None))  # no build/nokernel/
            with self.assertRaises(vmtest.SetupError):
                vmtest._inject_module(tree, stale)
            with self.assertRaises(vmtest.SetupError):
                vmtest._inject_module(tree, os.path.join(tmp, 'missing.ko'))

    def test_module_file_names(self):
        self.assertEqual(vmtest._split_module_file('vfio-pci-core.ko.xz'), ('vfio_pci_core', '.xz'))
        self.assertEqual(vmtest._split_module_file('vfio.ko'), ('vfio', ''))
        self.assertIsNone(vmtest._split_module_file('modules.dep'))


class QemuCommandLine(unittest.TestCase):

    def setUp(self):
        self.logdir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.logdir.cleanup()

    def argv(self, topology, **options):
        kernel = vmtest.Kernel('6.12', '/boot/vmlinux', '', '6.12.1-test')
        machine = vmtest.Machine(self.logdir.name)
        try:
            argv = vmtest._qemu_argv(kernel, 'initrd', machine, topology, self.logdir.name,
                                     **options)
        finally:
            for sock in (machine.host, machine.host_theirs, machine.monitor.sock,
                         machine.qmp_theirs):
                sock.close()
        return [re.sub(r'fd=\d+', 'fd=N', arg) for arg in argv]

    def test_host_root_cpu_memory(self):
        plain = self.argv('dpdk')
        self.assertNotIn('-cpu', plain)
        self.assertEqual(plain[plain.index('-m') + 1], vmtest.DEFAULTS['memory'])
        self.assertNotIn('virtio-9p-pci', ' '.join(plain))
        argv = self.argv('dpdk', host_root=True, cpu='Nehalem', memory='3G')
        self.assertEqual(argv[argv.index('-cpu') + 1], 'Nehalem')
        self.assertEqual(argv[argv.index('-m') + 1], '3G')
        # The 9p device comes last: no device of the topology moves.
        self.assertEqual(argv[-len(vmtest.HOST_ROOT_QEMU):], vmtest.HOST_ROOT_QEMU)
        rest = argv[:-len(vmtest.HOST_ROOT_QEMU)]
        del rest[rest.index('-cpu'):rest.index('-cpu') + 2]
        rest[rest.index('-m') + 1] = vmtest.DEFAULTS['memory']
        self.assertEqual(rest, plain)


class TestSelection(unittest.TestCase):

    def test_only_and_labels(self):
        with tempfile.TemporaryDirectory() as tests:
            for name, mode in (('t_10_a', 0o755), ('t_20_b', 0o755), ('t_30_c', 0o755),
                               ('vfio-demo', 0o755), ('t_40_data', 0o644)):
                path = os.path.join(tests, name)
                open(path, 'w').close()
                os.chmod(path, mode)
            files, programs = vmtest._test_files(tests, None)
            self.assertEqual(programs, ['t_10_a', 't_20_b', 't_30_c'])
            self.assertEqual(len(files), 5)
            files, programs = vmtest._test_files(tests, None, ['t_30_c', 't_10_a'])
            self.assertEqual(programs, ['t_10_a', 't_30_c'])  # sorted, every file still copied
            self.assertEqual(len(files), 5)
            for only in (['t_10_a', 't_99_typo'], ['t_40_data'], [], ['vfio-demo']):
                with self.subTest(only=only), self.assertRaises(vmtest.SetupError):
                    vmtest._test_files(tests, None, only)
            with self.assertRaises(vmtest.SetupError):
                vmtest._test_files(tests, '/tests/vfio-demo', ['t_10_a'])
        # Several directories: DIR:DIR, one name in both is an error.
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            for directory, name in ((one, 't_10_a'), (two, 't_20_b'), (two, 'helper')):
                path = os.path.join(directory, name)
                open(path, 'w').close()
                os.chmod(path, 0o755)
            files, programs = vmtest._test_files(f'{one}:{two}', None)
            self.assertEqual(programs, ['t_10_a', 't_20_b'])
            self.assertEqual(dict(files)['helper'], os.path.join(two, 'helper'))
            open(os.path.join(two, 't_10_a'), 'w').close()
            with self.assertRaises(vmtest.SetupError):
                vmtest._test_files(f'{one}:{two}', None)
        result = vmtest.Result(kernel='6.12', mode='ng', topology='sriov', passed=3, seconds=1.0)
        self.assertEqual(result.summary(), '6.12 ng: 3 passed, 0 failed, 0 skipped')
        result.label = 'sriov'
        self.assertEqual(result.summary(), '6.12 ng [sriov]: 3 passed, 0 failed, 0 skipped')
        self.assertTrue(result.timing().startswith('# 6.12 ng [sriov]: boot to poweroff'))


if __name__ == '__main__':
    unittest.main()
