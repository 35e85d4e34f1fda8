#!/usr/bin/env python3
"""Tests of bench/run_bench.py's instruction-count boots (`-icount shift=0`): the
command lines it builds, the checks it makes of an icount boot's figures, the
columns the report gains, and, given a build directory, one real boot of the
quick bench system under the harness's icount command line (about a second);
and of its disk figures: the drive both guests get, the table, where the
section goes, and one boot of each kind's quick disk bench system under the harness's
disk command line for that kind (a few seconds each); and of its filesystem
figures: both guests' command lines, the table and its targets, where the
section goes, and one boot of the quick filesystem bench system under the
harness's command line on a fresh copy of the capfs image.

Usage: run_bench_test.py --build-dir BUILD [unittest arguments]
"""
import os
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import profile as stage_profile  # noqa: E402
import run_bench  # noqa: E402

# Taken off the command line before unittest reads it. Required: every test
# runs, the QEMU boot included (none is skipped).
if "--build-dir" not in sys.argv or sys.argv.index("--build-dir") + 1 >= len(sys.argv):
    sys.exit("usage: run_bench_test.py --build-dir BUILD [unittest arguments]")
_at = sys.argv.index("--build-dir")
BUILD_DIR = sys.argv[_at + 1]
del sys.argv[_at:_at + 2]

# Lines as capOS's bench system prints them under `-icount shift=0`.
CAPOS_ICOUNT = [
    "bench: init main tsc=37673878",
    "bench: tsc_khz=999000 (calibrated against Timer.now over 50000 us)",
    "bench: nop_1 ticks=512 ns=512.5 min_ns=512.5 max_ns=512.5 batches=30 per_batch=39018",
    "bench: nop_16 ticks=335 ns=335.1 min_ns=335.1 max_ns=335.1 batches=30 per_batch=59664",
    "bench: timer_now_1 ticks=1835 ns=1837.0 min_ns=1837.0 max_ns=1837.0 batches=30 "
    "per_batch=10887",
    "bench: timer_now_16 ticks=1295 ns=1296.1 min_ns=1296.1 max_ns=1296.1 batches=30 "
    "per_batch=15424",
    "bench: ipc_echo ticks=8997 ns=9006.0 min_ns=9006.0 max_ns=9006.0 batches=30 per_batch=2220",
    "bench: spawn_wait ticks=99874 ns=99973.9 min_ns=99973.8 max_ns=99974.0 batches=30 "
    "per_batch=200",
    "bench: park_threads ticks=20000 ns=20010.0 min_ns=20010.0 max_ns=20010.0 batches=30 "
    "per_batch=1000",
    "bench: done, 9 figures, 0 failed, tsc=4988658296",
    "init: exited with code 0",
]
# The Linux peer's, with the same format (clock_ns= is ignored by the parser).
LINUX_ICOUNT = [
    "bench: peer main tsc=1591418323",
    "bench: tsc_khz=1000000 (calibrated against clock_gettime over 50000 us)",
    "bench: getpid ticks=325 ns=325.2 min_ns=325.2 max_ns=325.4 batches=30 per_batch=61508 "
    "clock_ns=325.2",
    "bench: futex_processes ticks=12558 ns=12557.7 min_ns=12521.8 max_ns=12562.1 batches=30 "
    "per_batch=1625 clock_ns=12557.7",
    "bench: io_uring_nop_32 ticks=289 ns=288.8 min_ns=288.8 max_ns=289.1 batches=30 "
    "per_batch=69248 clock_ns=288.8",
    "bench: posix_spawn_wait ticks=308762 ns=308761.7 min_ns=307386.5 max_ns=309487.2 "
    "batches=30 per_batch=64 clock_ns=308762.9",
    "bench: done, 9 figures, 0 failed, 0 n/a, tsc=7316137284",
    "peer: exit status 0",
]


def figure_line(name, ticks, ns, min_ns, max_ns):
    return (f"bench: {name} ticks={ticks} ns={ns} min_ns={min_ns} max_ns={max_ns} batches=30 "
            "per_batch=100")


def recorded(texts, status=0):
    return run_bench.Boot.recorded("test", ["qemu"], texts, status)


class CommandLines(unittest.TestCase):

    def test_icount_flags_are_appended_last_and_the_input_is_kept(self):
        cmd = ["qemu-system-x86_64", "-M", "q35", "-append", "shutdown"]
        self.assertEqual(run_bench.icount_command(cmd), cmd + ["-icount", "shift=0"])
        self.assertEqual(cmd, ["qemu-system-x86_64", "-M", "q35", "-append", "shutdown"])

    def test_linux_icount_command_is_the_designs_command_line(self):
        cmd = run_bench.icount_command(run_bench.linux_command("/peer"))
        self.assertEqual(cmd[:len(run_bench.LINUX_QEMU)], run_bench.LINUX_QEMU)
        self.assertNotIn("-cpu", cmd)
        self.assertEqual(cmd[cmd.index("-kernel") + 1], "/peer/vmlinux")
        self.assertEqual(cmd[cmd.index("-initrd") + 1], "/peer/initramfs.cpio")
        self.assertEqual(cmd[cmd.index("-append") + 1], "console=ttyS0 quiet")
        self.assertEqual(cmd[-2:], ["-icount", "shift=0"])
        self.assertEqual(cmd.count("-icount"), 1)

    def test_capos_icount_command_is_the_runners_plus_the_flags(self):
        # A stand-in for capos-qemu that prints a note and then, as the real one
        # does with --dry-run, the QEMU command line as its last line.
        with tempfile.TemporaryDirectory() as build:
            runner_dir = os.path.join(build, "tools/qemu-runner")
            os.makedirs(runner_dir)
            runner = os.path.join(runner_dir, "capos-qemu")
            with open(runner, "w") as f:
                f.write("#!/bin/sh\necho 'a note'\n"
                        "echo \"qemu-system-x86_64 -M q35 -cpu max -append 'a b' $*\"\n")
            os.chmod(runner, 0o755)
            cmd = run_bench.icount_command(run_bench.capos_command(build, "bench.cpio"))
        self.assertEqual(cmd[:6], ["qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-append"])
        self.assertEqual(cmd[6], "a b")
        self.assertIn(os.path.join(build, "system", "bench.cpio"), cmd)
        self.assertEqual(cmd[-2:], ["-icount", "shift=0"])


class Scaling(unittest.TestCase):
    """The pairs runs on several CPUs: their command lines, results and table."""

    def test_several_cpus_get_mttcg_and_one_keeps_the_command_line(self):
        cmd = ["qemu", "-accel", "tcg", "-smp", "1", "-m", "128M"]
        self.assertEqual(run_bench.with_cpus(cmd, 1), cmd)
        self.assertEqual(run_bench.with_cpus(cmd, 4),
                         ["qemu", "-accel", "tcg,thread=multi", "-smp", "4", "-m", "128M"])

    def test_a_pairs_line_gives_its_rate_and_a_failure_none(self):
        good = recorded(["pairs: 2 pairs, 40000 round trips in 1000000 us, 40000 per second"])
        self.assertEqual(run_bench.pairs_rate(good), (2, 40000))
        bad = recorded(["pairs: 2 pairs, 40000 round trips in 1000000 us, 40000 per second "
                       "(a client FAILED)"])
        self.assertIsNone(run_bench.pairs_rate(bad))
        self.assertIsNone(run_bench.pairs_rate(recorded(["bench: nothing"])))

    def test_the_median_boot_counts_and_failed_boots_do_not(self):
        def boot(rate):
            return recorded([f"pairs: 2 pairs, 40000 round trips in 1000000 us, {rate} per second"])
        failed = recorded(["bench: nothing"])
        boots = [boot(50000), failed, boot(30000), boot(40000)]
        self.assertEqual(run_bench.pairs_rate(run_bench.median_boot(boots)), (2, 40000))
        self.assertEqual(run_bench.pairs_rate(run_bench.median_boot([boot(7), boot(9)])), (2, 7))
        self.assertIsNone(run_bench.median_boot([failed]))

    def test_the_lock_wait_line_gives_its_share(self):
        boot = recorded(["pairs: 2 pairs, 40000 round trips in 1000000 us, 40000 per second",
                         "pairs: kernel lock waits took 30.1% of the CPUs' time since boot"])
        self.assertEqual(run_bench.lock_wait(boot), "30.1%")
        self.assertIsNone(run_bench.lock_wait(recorded(["bench: nothing"])))

    def test_the_table_gives_each_systems_scaling_and_the_target(self):
        rows = run_bench.scaling_table({1: {"capOS": (1, 30000), "Linux": (1, 10000),
                                            "capOS lock": "0.0%"},
                                        2: {"capOS": (2, 51000), "Linux": (2, 19000),
                                            "capOS lock": "30.1%"},
                                        4: {"capOS": (4, 36000), "Linux": None}})
        self.assertIn("| 1 | 1 | 30,000 | 1.00 | 0.8 | **yes** | 0.0% | 1 | 10,000 | 1.00 | 3.00 |",
                      rows)
        self.assertIn("| 2 | 2 | 51,000 | 1.70 | 1.6 | **yes** | 30.1% | 2 | 19,000 | 1.90 | 2.68 |",
                      rows)
        self.assertIn("| 4 | 4 | 36,000 | 1.20 | 3.2 | no | n/a | – | failed | n/a | n/a |", rows)


class IcountChecks(unittest.TestCase):

    def test_deterministic_figures_give_no_warning(self):
        self.assertEqual(run_bench.icount_checks("capOS", recorded(CAPOS_ICOUNT)), [])

    def test_batches_more_than_one_percent_apart_are_reported(self):
        boot = recorded(CAPOS_ICOUNT[:2] + [figure_line("nop_1", 500, 500.0, 500.0, 505.1),
                                            figure_line("nop_16", 300, 300.0, 300.0, 302.9)])
        warnings = run_bench.icount_checks("capOS", boot)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("`nop_1`", warnings[0])
        self.assertIn("1.02%", warnings[0])

    def test_a_tsc_away_from_one_ghz_means_icount_did_not_take(self):
        boot = recorded(["bench: tsc_khz=2600000 (calibrated)",
                         figure_line("nop_1", 1300, 500.0, 500.0, 500.0)])
        warnings = run_bench.icount_checks("Linux", boot)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("did not take effect", warnings[0])

    def test_ns_that_disagree_with_ticks_are_reported(self):
        boot = recorded(["bench: tsc_khz=1000000 (calibrated)",
                         figure_line("getpid", 1000, 1100.0, 1100.0, 1100.0)])
        warnings = run_bench.icount_checks("Linux", boot)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("`getpid`", warnings[0])

    def test_a_boot_without_calibration_is_reported(self):
        warnings = run_bench.icount_checks("capOS", recorded([]))
        self.assertEqual(warnings, ["capOS printed no TSC calibration"])


class Report(unittest.TestCase):

    def report(self, icount):
        capos = run_bench.Series([recorded(CAPOS_ICOUNT, status=1)])
        linux = run_bench.Series([recorded(LINUX_ICOUNT)])
        args = types.SimpleNamespace(build_dir="build")
        return run_bench.report(args, capos, linux, None, None, "test peer", "today", icount)

    @staticmethod
    def row(section, start):
        rows = [line for line in section.splitlines() if line.startswith(start)]
        assert len(rows) == 1, (start, rows)
        return [cell.strip() for cell in rows[0].strip("|").split("|")]

    def test_targets_and_figures_gain_instruction_columns(self):
        section = self.report({"capOS": recorded(CAPOS_ICOUNT, status=1),
                               "Linux": recorded(LINUX_ICOUNT)})
        head = self.row(section, "| capOS operation |")
        self.assertEqual(head[4:9], ["tick ratio", "fastest-batch ratio", "instructions ratio",
                                     "target", "met"])
        # ipc_echo against the 2-process futex: 9006.0 / 12557.7.
        echo = self.row(section, "| endpoint CALL")
        self.assertEqual(echo[6], "0.72")
        # The fastest batches: 9006.0 / 12521.8 (the peer's fastest is below its median).
        self.assertEqual(echo[5], f"{9006.0 / 12521.8:.2f}")
        # nop_16 / io_uring_nop_32: 335.1 / 288.8; timer_now_1 / getpid: 1837.0 / 325.2.
        self.assertEqual(self.row(section, "| ring NOP, 16")[6], "1.16")
        self.assertEqual(self.row(section, "| `Timer.now` with capnp")[6], "5.65")
        # Process creation and boot may wait: marked.
        self.assertEqual(self.row(section, "| spawn + wait")[6], "0.32†")
        self.assertEqual(self.row(section, "| QEMU start to init's")[6], "0.02†")
        self.assertEqual(self.row(section, "| smallest `-m`")[6], "–")

        self.assertIn("instructions", self.row(section, "| capOS figure |"))
        nop = self.row(section, "| `nop_1` |")
        self.assertEqual(nop[4], "512")
        self.assertEqual(self.row(section, "| `spawn_wait` |")[4], "99,974†")
        self.assertEqual(self.row(section, "| `null_ping_1` |")[4], "not printed")
        self.assertEqual(self.row(section, "| `posix_spawn_wait` |")[4], "308,762†")
        self.assertIn("-icount shift=0", section)
        self.assertNotIn("**warning**", section)

    def test_a_wide_spread_or_failed_boot_is_a_warning_in_the_section(self):
        wide = CAPOS_ICOUNT[:2] + [figure_line("nop_1", 500, 500.0, 500.0, 510.0)]
        section = self.report({"capOS": recorded(wide, status=1), "Linux": None})
        self.assertIn("**warning**: the capOS icount boot did not finish cleanly", section)
        self.assertIn("**warning**: capOS `nop_1`: batches differ by 2.00%", section)
        self.assertEqual(self.row(section, "| endpoint CALL")[6], "n/a")

    def test_without_icount_the_tables_are_as_before(self):
        section = self.report(None)
        self.assertEqual(self.row(section, "| capOS operation |")[4:8],
                         ["tick ratio", "fastest-batch ratio", "target", "met"])
        self.assertNotIn("instructions", self.row(section, "| capOS figure |"))
        self.assertNotIn("Instructions", section)


class QuickBootUnderIcount(unittest.TestCase):
    """The harness's icount command line, built from the real capos-qemu, boots
    the quick bench system, and the figures come out as instruction counts."""

    def test_quick_bench_system_counts_instructions(self):
        cmd = run_bench.icount_command(run_bench.capos_command(BUILD_DIR, "bench_quick.cpio"))
        boot = run_bench.Boot("capOS quick, icount", cmd, 60)
        log = "\n".join(text for _, text in boot.lines) + boot.stderr.decode("utf-8", "replace")
        self.assertTrue(run_bench.capos_ok(boot), log)
        self.assertEqual(run_bench.icount_checks("capOS", boot), [], log)
        for name, _ in run_bench.CAPOS_FIGURES:
            self.assertIn(name, boot.figures, log)


class ShellSystem(unittest.TestCase):
    """The shell system as the harness drives it: the prompt, a `call` answered,
    `halt` ending QEMU cleanly; and the boot and memory rows it then reports."""

    def test_the_shell_system_boots_to_its_prompt_and_answers_a_call(self):
        boot = run_bench.ShellBoot("capOS shell",
                                   run_bench.capos_command(BUILD_DIR, "boot.cpio"), 60)
        log = boot.output.decode("utf-8", "replace")
        self.assertTrue(boot.ok(), log)
        self.assertGreater(boot.prompt, 0)
        self.assertIn("(ns = ", log)

    def test_a_shell_that_never_prompts_is_not_ok(self):
        # The bench system has no shell: no prompt, so no call, whatever its exit.
        boot = run_bench.ShellBoot("no shell",
                                   run_bench.capos_command(BUILD_DIR, "bench_quick.cpio"), 60)
        self.assertIsNone(boot.prompt)
        self.assertFalse(boot.ok())

    def test_the_boot_row_is_the_prompt_against_linux(self):
        shell = [types.SimpleNamespace(prompt=p) for p in (0.30, 0.20, 0.25)]
        linux = run_bench.Series([recorded(LINUX_ICOUNT)])
        linux.boots[0].lines = [(5.0, text) for _, text in linux.boots[0].lines]
        section = run_bench.report(types.SimpleNamespace(build_dir="build"),
                                   run_bench.Series([recorded(CAPOS_ICOUNT, status=1)]), linux,
                                   None, {"capOS": 6, "Linux": 85, "steps": {}}, "test peer",
                                   "today", None, shell)
        row = Report.row(section, "| QEMU start to the shell's prompt")
        self.assertEqual(row[1], "0.250 s")
        self.assertEqual(row[4], "0.05")  # 0.25 / 5.0
        memory = Report.row(section, "| smallest `-m` that boots to the shell's prompt")
        self.assertEqual(memory[1], "6 MiB")



# Disk figure lines as the two guests print them (the peer's with clock_ns=).
CAPOS_DISK = [
    "bench: disk main tsc=1000",
    "bench: disk_read_4k_qd1 ticks=260000 ns=100000.0 min_ns=90000.0 max_ns=120000.0 "
    "batches=15 per_batch=128 depth=1",
    "bench: disk_read_4k_qd32 ticks=78000 ns=30000.0 min_ns=25000.0 max_ns=40000.0 "
    "batches=15 per_batch=512 depth=32",
    "bench: disk_read_1m_seq ticks=1300000 ns=500000.0 min_ns=400000.0 max_ns=600000.0 "
    "batches=15 per_batch=16 depth=1",
    "bench: done, 5 figures, 0 failed, tsc=2000",
    "init: exited with code 0",
]
LINUX_DISK = [
    "bench: disk_read_4k_qd1 ticks=520000 ns=200000.0 min_ns=90000.0 max_ns=300000.0 "
    "batches=15 per_batch=128 clock_ns=200000.0 depth=1",
    "bench: disk_read_4k_qd32 ticks=39000 ns=15000.0 min_ns=12500.0 max_ns=20000.0 "
    "batches=15 per_batch=512 clock_ns=15000.0 depth=32",
    "bench: disk_read_1m_seq ticks=1300000 ns=500000.0 min_ns=400000.0 max_ns=600000.0 "
    "batches=15 per_batch=16 clock_ns=500000.0 depth=1",
    "bench: done, 5 figures, 0 failed, 0 n/a, tsc=2000",
    "peer: exit status 0",
]


class Disk(unittest.TestCase):
    """The disk figures: both guests get the same drive, and the table turns
    ns per operation into IOPS and MB/s, with throughput ratios."""

    def test_both_guests_get_the_same_drive_and_device_last(self):
        linux = run_bench.disk_command(
            run_bench.linux_command("/peer", extra_append="peer_disk=/dev/vda",
                                    initrd=run_bench.LINUX_DISK_INITRD), "/x/disk.img")
        self.assertEqual(linux[linux.index("-initrd") + 1], "/peer/initramfs-disk.cpio")
        self.assertEqual(linux[-4:], ["-drive",
                                      "file=/x/disk.img,if=none,id=bench,format=raw,cache=none",
                                      "-device", "virtio-blk-pci,drive=bench"])
        self.assertEqual(linux[linux.index("-append") + 1],
                         "console=ttyS0 quiet peer_disk=/dev/vda")
        self.assertEqual(linux[:len(run_bench.LINUX_QEMU)], run_bench.LINUX_QEMU)
        capos = run_bench.disk_command(["qemu", "-kernel", "k"], "/x/disk.img")
        self.assertEqual(capos[-4:], linux[-4:])
        self.assertEqual(capos.count("-drive"), 1)

    def test_each_kind_of_disk_has_its_device_system_and_node(self):
        nvme = run_bench.DISK_KIND["nvme"]
        cmd = run_bench.disk_command(["qemu"], "/x/disk.img", nvme)
        self.assertEqual(cmd[-4:], ["-drive",
                                    "file=/x/disk.img,if=none,id=bench,format=raw,cache=none",
                                    "-device", "nvme,serial=capos-bench,drive=bench"])
        self.assertEqual(nvme.archive(), "bench_disk_nvme.cpio")
        self.assertEqual(nvme.archive(quick=True), "bench_disk_nvme_quick.cpio")
        self.assertEqual(nvme.linux_node, "/dev/nvme0n1")
        virtio = run_bench.DISK_KIND["virtio-blk"]
        self.assertEqual(virtio.archive(), "bench_disk.cpio")
        self.assertEqual(virtio.linux_node, "/dev/vda")
        # Every kind's systems are built (bench/CMakeLists.txt makes them from
        # one manifest).
        for kind in run_bench.DISK_KINDS:
            for quick in (False, True):
                self.assertTrue(os.path.exists(os.path.join(BUILD_DIR, "system",
                                                            kind.archive(quick))), kind.name)

    def test_the_section_has_a_table_for_each_kind(self):
        capos = [recorded(CAPOS_DISK, status=1)]
        linux = [recorded(LINUX_DISK)]
        runs = [(kind, capos, linux) for kind in run_bench.DISK_KINDS]
        args = type("Args", (), {"boots": 1})()
        lines = run_bench.disk_report(args, runs, capos + linux, "note", "today", 2_600_000)
        for kind in run_bench.DISK_KINDS:
            lines += run_bench.disk_kind_report(
                kind, run_bench.Series(capos), run_bench.Series(linux), "note",
                ["qemu"], ["qemu", "peer_disk=" + kind.linux_node], 2_600_000)
        text = "\n".join(lines)
        self.assertIn("### virtio-blk", text)
        self.assertIn("### NVMe", text)
        self.assertIn("-device nvme,serial=capos-bench,drive=bench`", text)
        self.assertEqual(text.count("(`disk_write_1m_seq`)"), 2)
        self.assertIn("15 timed batches", text)

    def test_depth_is_parsed_and_the_table_gives_throughput_and_ratios(self):
        capos = run_bench.Series([recorded(CAPOS_DISK, status=1)])
        linux = run_bench.Series([recorded(LINUX_DISK)])
        self.assertTrue(run_bench.capos_disk_ok(capos.boots[0]))
        self.assertTrue(run_bench.linux_disk_ok(linux.boots[0]))
        self.assertEqual(capos.figures["disk_read_4k_qd32"]["depth"], 32)
        # One TSC rate for both: 2.6 GHz.
        rows = run_bench.disk_table(capos, linux, 2_600_000)

        def row(name):
            found = [r for r in rows if f"(`{name}`)" in r]
            self.assertEqual(len(found), 1, rows)
            return [cell.strip() for cell in found[0].strip("|").split("|")]

        # 260,000 ticks at 2.6 GHz: 100 us, 10,000 IOPS; Linux 520,000: 5,000;
        # capOS moves twice as much.
        qd1 = row("disk_read_4k_qd1")
        self.assertEqual(qd1[1], "10,000 IOPS")
        self.assertEqual(qd1[2], "10,000")
        self.assertEqual(qd1[3], "5,000 IOPS")
        self.assertEqual(qd1[5], "2.00")
        # The fastest batches: 90 us of 100 (234,000 ticks) against 90 of 200
        # (234,000 ticks): alike.
        self.assertEqual(qd1[6], "1.00")
        qd32 = row("disk_read_4k_qd32")
        self.assertEqual(qd32[5], "0.50")
        self.assertEqual(qd32[7], "32 / 32")
        # 1 MiB in 1,300,000 ticks at 2.6 GHz, 500 us: 2,097.2 MB/s (10^6 bytes).
        seq = row("disk_read_1m_seq")
        self.assertEqual(seq[1], "2,097.2 MB/s")
        self.assertEqual(seq[5], "1.00")
        self.assertEqual(row("disk_write_1m_seq")[1], "not printed")

    def test_the_tsc_rate_is_the_hosts_view_of_each_run(self):
        # 2.6e9 ticks between the first and the last line, 1 s apart by the host.
        boot = recorded(["bench: disk main tsc=1000000000", "bench: done, tsc=3600000000"])
        boot.lines = [(0.5, boot.lines[0][1]), (1.5, boot.lines[1][1])]
        self.assertAlmostEqual(run_bench.disk_tsc_khz([boot]), 2_600_000)
        self.assertIsNone(run_bench.disk_tsc_khz([recorded(["bench: nothing"])]))

    def test_the_disk_section_goes_after_the_main_one_and_is_replaced_in_place(self):
        with tempfile.TemporaryDirectory() as tmp:
            doc = os.path.join(tmp, "performance.md")
            with open(doc, "w") as f:
                f.write(f"# P\n\n{run_bench.BEGIN}\nmain\n{run_bench.END}\n\n## Notes\n")
            first = f"{run_bench.DISK_BEGIN}\none\n{run_bench.DISK_END}\n"
            run_bench.write_disk_doc(doc, first)
            run_bench.write_disk_doc(doc, first.replace("one", "two"))
            run_bench.write_doc(doc, f"{run_bench.BEGIN}\nmain 2\n{run_bench.END}\n")
            with open(doc) as f:
                text = f.read()
        self.assertNotIn("one", text)
        self.assertLess(text.index("main 2"), text.index("two"))
        self.assertLess(text.index("two"), text.index("## Notes"))
        self.assertEqual(text.count(run_bench.DISK_BEGIN), 1)


class QuickDiskBoot(unittest.TestCase):
    """The harness's disk command line (cache=none on a fresh copy of the
    bench image) boots the quick disk bench system, and every disk figure
    comes out."""

    def test_quick_disk_bench_system_runs_every_figure(self):
        for kind in run_bench.DISK_KINDS:
            with tempfile.TemporaryDirectory() as tmp:
                image = run_bench.fresh_disk(BUILD_DIR, tmp)
                cmd = run_bench.disk_command(
                    run_bench.capos_command(BUILD_DIR, kind.archive(quick=True)), image, kind)
                boot = run_bench.Boot(f"capOS quick disk ({kind.name})", cmd, 60)
            log = "\n".join(text for _, text in boot.lines) + boot.stderr.decode("utf-8", "replace")
            self.assertTrue(run_bench.capos_disk_ok(boot), log)
            for name, _, _, _ in run_bench.DISK_FIGURES:
                self.assertIn(name, boot.figures, log)
            # The depth the figure asks for, as Linux's.
            self.assertEqual(boot.figures["disk_read_4k_qd32"]["depth"], 32)


# Filesystem figure lines as the two guests print them (one run each, batches=1).
CAPOS_FS = [
    "bench: fs main tsc=1000",
    "bench: fs_create_small ticks=520000 ns=200000.0 min_ns=200000.0 max_ns=200000.0 "
    "batches=1 per_batch=10000 total_ticks=5200000000",
    "bench: fs_read_small_serial ticks=520000 ns=200000.0 min_ns=200000.0 max_ns=200000.0 "
    "batches=1 per_batch=10000 total_ticks=5200000000",
    "bench: fs_read_small ticks=260000 ns=100000.0 min_ns=100000.0 max_ns=100000.0 "
    "batches=1 per_batch=10000 total_ticks=2600000000",
    "bench: fs_write_seq ticks=520000 ns=200000.0 min_ns=200000.0 max_ns=200000.0 "
    "batches=1 per_batch=2048 total_ticks=1064960000",
    "bench: fs_read_seq FAILED (the file does not hold its bytes)",
    "bench: done, 4 figures, 1 failed, tsc=9000",
    "init: exited with code 1",
]
LINUX_FS = [
    "bench: peer main tsc=1000",
    "bench: fs_create_small ticks=1040000 ns=400000.0 min_ns=400000.0 max_ns=400000.0 "
    "batches=1 per_batch=10000 clock_ns=400000.0 total_ticks=10400000000",
    "bench: fs_read_small ticks=26000 ns=10000.0 min_ns=10000.0 max_ns=10000.0 "
    "batches=1 per_batch=10000 clock_ns=10000.0 total_ticks=260000000",
    "bench: fs_write_seq ticks=1040000 ns=400000.0 min_ns=400000.0 max_ns=400000.0 "
    "batches=1 per_batch=2048 clock_ns=400000.0 total_ticks=2129920000",
    "bench: fs_read_seq ticks=26000 ns=10000.0 min_ns=10000.0 max_ns=10000.0 "
    "batches=1 per_batch=2048 clock_ns=10000.0 total_ticks=53248000",
    "bench: done, 4 figures, 0 failed, 0 n/a, tsc=9000",
    "peer: exit status 0",
]


class Filesystem(unittest.TestCase):
    """The filesystem figures: both guests get the virtio-blk kind's drive,
    Linux its ext4 initramfs and peer_fs=, and the table turns ticks per file
    or per call into files/s and MB/s with the ratio against the target."""

    def test_both_guests_get_the_same_drive_and_their_systems(self):
        linux = run_bench.fs_linux_command("/peer", "/x/fs.img")
        self.assertEqual(linux[linux.index("-initrd") + 1], "/peer/initramfs-fs.cpio")
        self.assertEqual(linux[linux.index("-append") + 1], "console=ttyS0 quiet peer_fs=/dev/vda")
        drive = ["-drive", "file=/x/fs.img,if=none,id=bench,format=raw,cache=none",
                 "-device", "virtio-blk-pci,drive=bench"]
        self.assertEqual(linux[-4:], drive)
        capos = run_bench.fs_capos_command(BUILD_DIR, "/x/fs.img")
        self.assertEqual(capos[capos.index("-initrd") + 1],
                         os.path.join(BUILD_DIR, "system", "bench_fs.cpio"))
        self.assertEqual(capos[-4:], drive)
        quick = run_bench.fs_capos_command(BUILD_DIR, "/x/fs.img", quick=True)
        self.assertEqual(quick[quick.index("-initrd") + 1],
                         os.path.join(BUILD_DIR, "system", "bench_fs_quick.cpio"))

    def test_the_table_gives_throughput_ratios_and_targets(self):
        capos = run_bench.Series([recorded(CAPOS_FS, status=1)])
        linux = run_bench.Series([recorded(LINUX_FS)])
        self.assertFalse(run_bench.capos_fs_ok(capos.boots[0]))
        self.assertTrue(run_bench.linux_fs_ok(linux.boots[0]))
        self.assertEqual(capos.missing["fs_read_seq"],
                         "FAILED (the file does not hold its bytes)")
        rows = run_bench.fs_table(capos, linux, 2_600_000)

        def row(name):
            found = [r for r in rows if f"(`{name}`)" in r]
            self.assertEqual(len(found), 1, rows)
            return [cell.strip() for cell in found[0].strip("|").split("|")]

        # 520,000 ticks a file at 2.6 GHz: 5,000 files/s; Linux 2,500: 2.00, met.
        create = row("fs_create_small")
        self.assertEqual(create[1], "5,000 files/s")
        self.assertEqual(create[3], "2,500 files/s")
        self.assertEqual(create[5], "2.00")
        self.assertEqual(create[6], "2.00")
        self.assertEqual(create[7], "≥ 1.0: met")
        self.assertEqual(create[8], "10,000")
        read = row("fs_read_small")
        self.assertEqual(read[5], "0.10")
        self.assertEqual(read[7], "≥ 1.0: not met")
        # capOS's one-at-a-time reads against the same Linux figure; no target.
        serial = row("fs_read_small_serial")
        self.assertEqual(serial[3], "100,000 files/s")
        self.assertEqual(serial[5], "0.05")
        self.assertEqual(serial[7], "–")
        # 520,000 ticks a 32 KiB call: 5,000 calls/s, 163.8 MB/s; no target.
        write = row("fs_write_seq")
        self.assertEqual(write[1], "163.8 MB/s")
        self.assertEqual(write[3], "81.9 MB/s")
        self.assertEqual(write[7], "–")
        self.assertEqual(row("fs_read_seq")[1], "FAILED (the file does not hold its bytes)")
        self.assertEqual(row("fs_read_seq")[5], "n/a")

    def test_the_section_says_what_ran_and_holds_the_table(self):
        capos = run_bench.Series([recorded(CAPOS_FS, status=1)])
        linux = run_bench.Series([recorded(LINUX_FS)])
        args = types.SimpleNamespace(boots=1)
        lines = run_bench.fs_report(args, capos, linux, "note", ["qemu", "capos"],
                                    ["qemu", "linux"], "today", 2_600_000)
        text = "\n".join(lines)
        self.assertEqual(lines[0], run_bench.FS_BEGIN)
        self.assertIn("mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0", text)
        self.assertIn("2,600 MHz", text)
        self.assertEqual(text.count("(`fs_create_small`)"), 1)
        without = run_bench.fs_report(args, capos, None, "no peer", ["qemu"], ["qemu"], "today",
                                      None)
        self.assertIn("- Linux: not run (no peer)", without)
        self.assertIn("not run", "\n".join(without))

    def test_the_fs_section_goes_after_the_disk_one_and_is_replaced_in_place(self):
        with tempfile.TemporaryDirectory() as tmp:
            doc = os.path.join(tmp, "performance.md")
            with open(doc, "w") as f:
                f.write(f"# P\n\n{run_bench.BEGIN}\nmain\n{run_bench.END}\n\n"
                        f"{run_bench.DISK_BEGIN}\ndisk\n{run_bench.DISK_END}\n\n## Notes\n")
            first = f"{run_bench.FS_BEGIN}\none\n{run_bench.FS_END}\n"
            run_bench.write_fs_doc(doc, first)
            run_bench.write_fs_doc(doc, first.replace("one", "two"))
            run_bench.write_disk_doc(doc, f"{run_bench.DISK_BEGIN}\ndisk 2\n{run_bench.DISK_END}\n")
            with open(doc) as f:
                text = f.read()
        self.assertNotIn("one", text)
        self.assertLess(text.index("main"), text.index("disk 2"))
        self.assertLess(text.index("disk 2"), text.index("two"))
        self.assertLess(text.index("two"), text.index("## Notes"))
        self.assertEqual(text.count(run_bench.FS_BEGIN), 1)


class QuickFsBoot(unittest.TestCase):
    """The harness's filesystem command line (cache=none on a fresh copy of
    the empty capfs image) boots the quick filesystem bench system, and every
    filesystem figure comes out."""

    def test_quick_fs_bench_system_runs_every_figure(self):
        with tempfile.TemporaryDirectory() as tmp:
            image = run_bench.fs_image_copy(os.path.join(BUILD_DIR, run_bench.FS_CAPOS_IMAGE),
                                            tmp)
            cmd = run_bench.fs_capos_command(BUILD_DIR, image, quick=True)
            boot = run_bench.Boot("capOS quick fs", cmd, 60)
        log = "\n".join(text for _, text in boot.lines) + boot.stderr.decode("utf-8", "replace")
        self.assertTrue(run_bench.capos_fs_ok(boot), log)
        for name, *_ in run_bench.FS_FIGURES:
            self.assertIn(name, boot.figures, log)
        self.assertEqual(boot.figures["fs_create_small"]["per_batch"], 100)


class StageClock(unittest.TestCase):
    """bench/profile.py --stage-clock: the figure's time by stage is the
    difference of the two stage-sum reports just before its "profiled" line."""

    @staticmethod
    def report(process, calls, sums, rate=2000, mark=100):
        lines = ["[00000.1] I stage clock: process %d calls %d cycles_per_us %d mark %d"
                 % (process, calls, rate, mark)]
        for stage, (cycles, entries) in sums.items():
            lines.append("[00000.1] I stage clock: process %d stage %s cycles %d entries %d"
                         % (process, stage, cycles, entries))
        return "\n".join(lines) + "\n"

    def test_the_two_reports_before_the_figure_are_subtracted_and_marks_taken_off(self):
        text = (self.report(2, 10, {"user": (1000, 5), "ring": (500, 5)}) +
                self.report(3, 20, {"user": (9000, 6), "ring": (400, 7)}) +
                self.report(4, 1010, {"user": (1009000, 1006), "ring": (200400, 2007)}) +
                "bench: timer_now_16 profiled iterations=3000 ops=48000\n" +
                self.report(1, 5000, {"user": (9 ** 9, 1), "ring": (9 ** 9, 1)}))
        rows, calls, mark, rate = stage_profile.stage_table(text, "timer_now_16", 3000)
        self.assertEqual((calls, mark, rate), (990, 100, 2000))
        # user: 1,000,000 cycles, 1,000 marks of 100 off: 900,000 cycles at 2,000 per us.
        self.assertEqual(rows[0][0], "user")
        self.assertAlmostEqual(rows[0][1], 900000 * 1000.0 / 2000 / 990)
        self.assertAlmostEqual(rows[0][2], 1000 / 990)
        # ring: 200,000 cycles, 2,000 marks: nothing left, never negative.
        self.assertEqual(rows[1][0], "ring")
        self.assertEqual(rows[1][1], 0)

    def test_no_figure_line_or_one_report_is_no_table(self):
        one = self.report(2, 10, {"user": (1000, 5)})
        self.assertIsNone(stage_profile.stage_table(one, "ipc_raw", 3000))
        self.assertIsNone(stage_profile.stage_table(
            one + "bench: ipc_raw profiled iterations=3000 ops=3000\n", "ipc_raw", 3000))
        self.assertIsNone(stage_profile.stage_table(
            one + one + "bench: ipc_raw profiled iterations=3000 ops=3000\n", "ipc_raw", 3000))

if __name__ == "__main__":
    unittest.main()
