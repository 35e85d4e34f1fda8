#!/usr/bin/env python3
"""capOS against Linux in the same QEMU: the harness behind `make bench`
(docs/performance.md; what to measure and why: PERFORMANCE.md in the shared
design notes).

Boots, one after the other, in one run:
  1. the capOS bench system (system/bench.cpio: user/bench/ring_bench.cpp as
     init) with capos-qemu's own command line (`capos-qemu run --dry-run`), and
     the shell system (system/boot.cpio, what `make run` boots), driven through
     its serial line: QEMU's start to the first prompt, a `call` typed and
     answered, `halt` (ShellBoot);
  2. the Linux peer (bench/linux: Debian's kernel booted through PVH, an
     initramfs of busybox-static and peer_bench.c) with the command line the
     performance design gives, and once more with capOS's `-cpu max`;
  3. unless --no-icount, each system once more (capOS with capos-qemu's command
     line, Linux with the design's) with `-icount shift=0` appended: the guest's
     clock then advances exactly 1 ns per guest instruction, so each figure's ns
     is its instruction count per operation, deterministic whatever the host's
     load (halted time aside, see ICOUNT);
  4. unless --no-memory-search, each system again at smaller and smaller -m
     (bisection: capOS's shell system up to an answered `call`, Linux's quick
     benchmark run) to find the smallest that still works;
  5. unless --no-disk, the disk figures (DISK_FIGURES) on each kind of disk
     (DISK_KINDS: virtio-blk, NVMe): capOS's disk bench system for the kind
     (user/bench/disk_bench.cpp through its driver) and the peer with
     `peer_disk=DEVICE` (O_DIRECT on the kind's device node), taking turns,
     each boot on a fresh copy of the bench image (BUILD/disks/bench-disk.img)
     attached with the same -drive (DISK_DRIVE) and the kind's -device. Their
     section goes between the DISK_BEGIN and DISK_END markers, apart from the
     rest: --disk-only runs and writes only it;
  6. unless --no-fs, the filesystem figures (FS_FIGURES): capOS's filesystem
     bench system (user/bench/fs_bench.cpp holding the root of a capfs volume
     the filesystem service mounts over the virtio-blk driver) on a fresh copy
     of the empty capfs image (BUILD/disks/bench-fs.img), and the peer with
     `peer_fs=/dev/vda` on a fresh copy of an ext4 image of the same size
     made here with mkfs.ext4 (MKFS_EXT4), taking turns, both on the
     virtio-blk kind's -drive and -device. Their section goes between the
     FS_BEGIN and FS_END markers: --fs-only runs and writes only it;
  7. unless --no-net, the network figures (NET_FIGURES): capOS's network
     bench system (user/bench/net_bench.cpp over the virtio-net driver and
     the network stack) and the peer with `peer_net=1` (peer_bench --net:
     the same servers on Linux's stack), taking turns, both with the same
     -netdev (QEMU's user network, NET_FORWARDS forwarded from free ports
     of 127.0.0.1) and -device virtio-net-pci; bench/net_client.c on the
     host drives and times both. Their section goes between the NET_BEGIN
     and NET_END markers: --net-only runs and writes only it.
Each guest prints one line per figure ("bench: <name> ticks=... ns=..."); the
harness timestamps every serial line on arrival, so it also measures QEMU's start
to the first line each guest's benchmark prints. It writes a Markdown section
(the side-by-side tables, the ratios for every target of the design, date,
machine, how to reproduce) to BUILD/bench/system_bench.md and, with --doc, into
docs/performance.md between the markers below (appended when missing).

Usage: run_bench.py --build-dir BUILD [--doc docs/performance.md]
                    [--linux-dir BUILD/bench/linux] [--boots N] [--no-cpu-max]
                    [--no-icount] [--no-memory-search] [--no-disk | --disk-only]
                    [--no-fs | --fs-only] [--no-net | --net-only]
bench/run_bench_test.py tests the command lines and the icount checks.
"""
import argparse
import datetime
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

BEGIN = "<!-- capos-vs-linux:begin (written by bench/run_bench.py; edits are overwritten) -->"
END = "<!-- capos-vs-linux:end -->"
DISK_BEGIN = ("<!-- capos-vs-linux-disk:begin (written by bench/run_bench.py; edits are "
              "overwritten) -->")
DISK_END = "<!-- capos-vs-linux-disk:end -->"
FS_BEGIN = ("<!-- capos-vs-linux-fs:begin (written by bench/run_bench.py; edits are "
            "overwritten) -->")
FS_END = "<!-- capos-vs-linux-fs:end -->"
NET_BEGIN = ("<!-- capos-vs-linux-net:begin (written by bench/run_bench.py; edits are "
             "overwritten) -->")
NET_END = "<!-- capos-vs-linux-net:end -->"

FIGURE = re.compile(r"^bench: (\S+) ticks=(\d+) ns=([\d.]+) min_ns=([\d.]+) max_ns=([\d.]+) "
                    r"batches=(\d+) per_batch=(\d+)")
NOT_MEASURED = re.compile(r"^bench: (\S+) (n/a|FAILED) \((.*)\)$")
KERNEL_LOG = re.compile(r"^\[(\d+\.\d+)\] . (.*)$")
TSC = re.compile(r"tsc=(\d+)")

# Appended to a system's QEMU command line for its instruction-count boot. With
# shift=0 QEMU's virtual clock advances 1 ns per guest instruction and the TSC
# reads that clock, so both benchmarks' ns per operation (their TSC calibrated
# against their own clock) count instructions. Contract and limit: while the
# vCPU halts, the clock still advances (by the host's time, the default
# sleep=on), so a figure that idles counts more than its instructions; such
# figures (WAITS), and boot, carry WAIT_MARK in the report. A figure's batches
# must agree to within ICOUNT_SPREAD, and each guest's calibrated TSC rate must
# be within ICOUNT_SPREAD of 1 GHz (else the flag did not take), or the report
# warns.
ICOUNT = ["-icount", "shift=0"]
ICOUNT_SPREAD = 0.01
ICOUNT_GHZ_KHZ = 1_000_000
# Figures that may include halted time (a process waits for another's creation
# and exit; Linux may idle between them), and boot.
WAITS = {"spawn_wait", "posix_spawn_wait", "fork_exec_wait"}
WAIT_MARK = "†"

# Performance design: the Linux guest.
LINUX_QEMU = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", "256M", "-smp", "1",
              "-no-reboot", "-display", "none"]
LINUX_APPEND = "console=ttyS0 quiet"

CAPOS_FIGURES = [
    ("nop_1", "ring NOP, 1 per `cap_enter`"),
    ("nop_16", "ring NOP, 16 per `cap_enter`, per NOP"),
    ("timer_now_1", "`Timer.now` through the generated client (capnp encode + decode), 1 per `cap_enter`"),
    ("null_ping_1", "`Null.ping` through the generated client, 1 per `cap_enter`"),
    ("timer_now_16", "`Timer.now`, 16 raw SQEs per `cap_enter` (params encoded once, results read with the generated reader), per call"),
    ("ipc_echo", "endpoint round trip to a second process: `Echo.echo(\"x\")` by the generated client, server RECV/RETURN (`rt::Server`), completion"),
    ("ipc_raw", "the same round trip with the raw ring on both sides: a CALL with params encoded once, the server's RETURN of an empty struct and next RECV in one cap_enter, no Cap'n Proto or runtime"),
    ("park_threads", "PARK/UNPARK round trip between two threads of one process (`rt::park`, `rt::unpark`), as the peer's futex_threads"),
    ("spawn_wait", "`ProcessSpawner.spawn` + `ProcessHandle.wait` (+ RELEASE of the handle) of a minimal program (`exit(0)`)"),
]
LINUX_FIGURES = [
    ("getpid", "null syscall (`syscall(SYS_getpid)`)"),
    ("futex_threads", "futex round trip, 2 threads of one process"),
    ("futex_processes", "futex round trip, 2 processes (shared mapping)"),
    ("pipe_processes", "pipe round trip, 2 processes (1 byte each way)"),
    ("socketpair_processes", "unix socketpair round trip, 2 processes"),
    ("io_uring_nop_1", "io_uring NOP, one `io_uring_enter` per NOP (raw syscalls)"),
    ("io_uring_nop_32", "io_uring NOP, batches of 32, per NOP"),
    ("posix_spawn_wait", "`posix_spawn` + `waitpid` of a static binary that only exits"),
    ("fork_exec_wait", "`fork` + `execve` + `waitpid` of the same binary"),
]
# The disk figures, the same workload on both sides (bench/disk_workload.h):
# (figure, what, bytes per operation, unit). The guests print ns per
# operation; the report gives IOPS or MB/s (10^6 bytes per second).
DISK_FIGURES = [
    ("disk_read_4k_qd1", "4 KiB random reads, queue depth 1", 4096, "IOPS"),
    ("disk_read_4k_qd16", "4 KiB random reads, queue depth 16", 4096, "IOPS"),
    ("disk_read_4k_qd32", "4 KiB random reads, queue depth 32", 4096, "IOPS"),
    ("disk_read_1m_seq", "1 MiB sequential reads", 1 << 20, "MB/s"),
    ("disk_write_1m_seq", "1 MiB sequential writes", 1 << 20, "MB/s"),
]
# The bench image (bench/CMakeLists.txt) and how both guests get it: raw, no
# host page cache (cache=none: QEMU opens it O_DIRECT, and the guest sees a
# write cache it may flush; neither benchmark flushes), on the device of a
# kind of disk (DISK_KINDS).
DISK_IMAGE = "disks/bench-disk.img"
DISK_DRIVE = ["-drive", "file={image},if=none,id=bench,format=raw,cache=none"]


class DiskKind:
    """A kind of disk the figures are taken on: the QEMU device on the bench
    drive; capOS's disk bench system for it and its quick twin (made from
    bench/manifests/bench_disk.capnp.in by bench/CMakeLists.txt) and its
    driver; the node the Linux peer opens and the modules it loads for it."""

    def __init__(self, name, title, device, system, log_tag, capos_driver, depth_note,
                 linux_node, linux_driver):
        self.name = name
        self.title = title
        self.device = device
        self.system = system
        self.log_tag = log_tag
        self.capos_driver = capos_driver
        self.depth_note = depth_note
        self.linux_node = linux_node
        self.linux_driver = linux_driver

    def archive(self, quick=False):
        return self.system + ("_quick" if quick else "") + ".cpio"


DISK_KINDS = [
    # A virtio-blk PCI function as QEMU makes it by default (transitional,
    # 1af4:1001).
    DiskKind("virtio-blk", "virtio-blk", "virtio-blk-pci,drive=bench", "bench_disk", "disk",
             "the virtio-blk driver (`user/drivers/virtio_blk.cpp`)",
             "The driver puts up to 32 calls on the device (its request slots), so at every "
             "depth both systems have as many on the device.",
             "/dev/vda", "Debian's virtio, virtio-pci and virtio-blk modules"),
    # QEMU's NVMe controller (1b36:0010), its namespace 1 on the drive.
    DiskKind("nvme", "NVMe", "nvme,serial=capos-bench,drive=bench", "bench_disk_nvme",
             "disk_nvme", "the NVMe driver (`user/drivers/nvme.cpp`) on one I/O queue pair",
             "The driver has 32 command ids on its queue (its request slots), so at every "
             "depth both systems have as many on the controller.",
             "/dev/nvme0n1",
             "Debian's nvme and nvme-core modules (and t10-pi and the CRCs it needs)"),
]
DISK_KIND = {kind.name: kind for kind in DISK_KINDS}
DEPTH = re.compile(r" depth=(\d+)")
# The peer's initramfs with both kinds' disk modules (bench/linux/build.sh).
LINUX_DISK_INITRD = "initramfs-disk.cpio"
# The filesystem figures, the same workload on both sides (bench/fs_workload.h):
# (figure, what, bytes per operation, unit, target ratio of throughput or
# None, the Linux figure it is set against). An operation is a file (files/s)
# or a 32 KiB call (MB/s, 10^6 bytes per second). The targets: at least
# Linux's throughput for the small files. fs_read_small_serial is capOS's
# only: its small-file reads one call at a time, against the same Linux loop.
FS_FIGURES = [
    ("fs_create_small", "10,000 files of 1 KiB created (open, one write, close), then the "
     "volume synced", 0, "files/s", 1.0, "fs_create_small"),
    ("fs_read_small", "each opened, read whole (one call), checked, closed; capOS with the "
     "calls of 32 files in flight together", 0, "files/s", 1.0, "fs_read_small"),
    ("fs_read_small_serial", "the same, capOS one call at a time", 0, "files/s", None,
     "fs_read_small"),
    ("fs_write_seq", "64 MiB written to one file in 32 KiB calls, then the file synced", 32768,
     "MB/s", None, "fs_write_seq"),
    ("fs_read_seq", "read back in 32 KiB calls, checked", 32768, "MB/s", None, "fs_read_seq"),
]
# The empty capfs volume capOS starts from (bench/CMakeLists.txt: capos-capfs
# make) and the size of the ext4 volume made for Linux, the same.
FS_CAPOS_IMAGE = "disks/bench-fs.img"
FS_MIB = 512
# Both systems' memory for the filesystem figures (capOS's filesystem service
# keeps up to 96 MiB of blocks: bench/manifests/bench_fs.capnp.in).
FS_MEMORY = "256M"
# mkfs.ext4's defaults (at 512 MiB: 4 KiB blocks, a journal, metadata_csum),
# but for the inode tables and the journal written out now rather than
# left for the kernel to zero in the background after the mount
# (ext4lazyinit), which would write to the disk while the figures run.
MKFS_EXT4 = ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"]
# The peer's initramfs with the virtio-blk and ext4 modules (bench/linux/build.sh).
LINUX_FS_INITRD = "initramfs-fs.cpio"
# Both guests get the disk as the disk figures' virtio-blk kind.
FS_KIND = "virtio-blk"
# The network figures, measured by bench/net_client.c on the host against
# either guest's servers (user/bench/net_bench.cpp, peer_bench --net): (name,
# description, net_client's arguments after the port's name, the figure's
# field in net_client's line, unit, True when more is better, target of the
# ratio oriented so that above 1 capOS does better, or None).
NET_BYTES = 64 << 20
NET_CONNECTIONS = 200
NET_ROUND_TRIPS = 500
NET_FIGURES = [
    ("tcp_host_to_guest", f"TCP bulk host → guest, {NET_BYTES >> 20} MiB",
     ["sink", "sink", str(NET_BYTES)], "mb_per_s", "MB/s", True, 1.0),
    ("tcp_guest_to_host", f"TCP bulk guest → host, {NET_BYTES >> 20} MiB",
     ["source", "source", str(NET_BYTES)], "mb_per_s", "MB/s", True, 1.0),
    ("tcp_connect", f"TCP connections (connect, 1 byte each way, close), {NET_CONNECTIONS} "
     "one after another", ["connect", "echo", str(NET_CONNECTIONS)], "per_s", "connections/s",
     True, 1.0),
    ("udp_rtt", f"UDP round trip of 64 bytes, median of {NET_ROUND_TRIPS}",
     ["udp", "udp", str(NET_ROUND_TRIPS)], "median_us", "µs", False, 1.0),
    # From the same runs as udp_rtt.
    ("udp_rtt_p99", "the same, 99th percentile", None, "p99_us", "µs", False, None),
]
# Each figure's net_client runs per boot; the figure is the median over
# every run of every boot.
NET_RUNS = 3
# The guests' ports, each forwarded from a free port of 127.0.0.1.
NET_FORWARDS = [("sink", "tcp", 5001), ("source", "tcp", 5002), ("echo", "tcp", 5003),
                ("udp", "udp", 5004)]
NET_READY = "net-bench: ready"
NET_LINUX_INITRD = "initramfs-net.cpio"
NET_CLIENT_LINE = re.compile(r"^net_client: (\S+) (.*)$")
# (capOS figure, description, Linux figure, description, target ratio)
TARGETS = [
    ("ipc_echo", "endpoint CALL → server RECV/RETURN → completion, 2 processes",
     "futex_processes", "futex round trip, 2 processes", 0.25),
    ("ipc_echo", "the same", "futex_threads", "futex round trip, 2 threads of one process", 1.0),
    ("park_threads", "PARK/UNPARK round trip, 2 threads of one process", "futex_threads",
     "the same with futex", 1.0),
    ("nop_16", "ring NOP, 16 per `cap_enter`, per NOP", "io_uring_nop_32",
     "io_uring NOP in batches of 32", 0.5),
    ("timer_now_1", "`Timer.now` with capnp encode + decode, 1 per `cap_enter`", "getpid",
     "getpid", 2.0),
    ("timer_now_16", "the same, 16 per `cap_enter`, per call", "getpid", "getpid", 0.5),
    ("spawn_wait", "spawn + wait of a minimal program", "posix_spawn_wait",
     "posix_spawn + wait", 0.25),
]


class Boot:
    """One QEMU run: every serial line with the host time it arrived."""

    def __init__(self, label, cmd, timeout):
        self.label = label
        self.cmd = cmd
        self.lines = []  # (seconds since QEMU's start, text)
        self.stderr = b""
        self.status = None
        self.timed_out = False
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        pending = b""
        streams = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}
        deadline = start + timeout
        while streams:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                break
            ready, _, _ = select.select(list(streams), [], [], left)
            now = time.monotonic() - start
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    del streams[fd]
                    continue
                if streams[fd] == "err":
                    self.stderr += chunk
                    continue
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.lines.append((now, line.replace(b"\r", b"").decode("utf-8", "replace")))
        if pending:
            self.lines.append((time.monotonic() - start,
                               pending.replace(b"\r", b"").decode("utf-8", "replace")))
        self.status = proc.wait()
        self.elapsed = time.monotonic() - start
        self._parse()

    @classmethod
    def recorded(cls, label, cmd, texts, status=0):
        """A Boot of serial lines already received (for tests), all at time 0."""
        boot = cls.__new__(cls)
        boot.label, boot.cmd, boot.stderr = label, cmd, b""
        boot.lines = [(0.0, text) for text in texts]
        boot.status, boot.timed_out, boot.elapsed = status, False, 0.0
        boot._parse()
        return boot

    def _parse(self):
        self.figures = {}
        self.missing = {}  # name -> "n/a (...)" or "FAILED (...)"
        for _, text in self.lines:
            m = FIGURE.match(text)
            if m:
                self.figures[m.group(1)] = {
                    "ticks": int(m.group(2)), "ns": float(m.group(3)),
                    "min_ns": float(m.group(4)), "max_ns": float(m.group(5)),
                    "batches": int(m.group(6)), "per_batch": int(m.group(7))}
                depth = DEPTH.search(text)
                if depth:
                    self.figures[m.group(1)]["depth"] = int(depth.group(1))
                continue
            m = NOT_MEASURED.match(text)
            if m:
                self.missing[m.group(1)] = f"{m.group(2)} ({m.group(3)})"

    def tsc_khz(self):
        """The TSC rate the guest calibrated (its `bench: tsc_khz=` line), or None."""
        found = self.first("bench: tsc_khz=")
        m = re.search(r"tsc_khz=(\d+)", found[1]) if found else None
        return int(m.group(1)) if m else None

    def first(self, needle):
        """(host seconds, text) of the first line containing needle, or None."""
        for t, text in self.lines:
            if needle in text:
                return t, text
        return None

    def host_tsc_khz(self, first, last):
        """The guest's TSC rate by the host's clock, from the tsc= of two lines."""
        a, b = self.first(first), self.first(last)
        if not a or not b or b[0] - a[0] < 0.5:
            return None
        ta, tb = TSC.search(a[1]), TSC.search(b[1])
        if not ta or not tb:
            return None
        return (int(tb.group(1)) - int(ta.group(1))) / (b[0] - a[0]) / 1000

    def save(self, path):
        with open(path, "w") as f:
            f.write("# " + shlex.join(self.cmd) + "\n")
            for t, text in self.lines:
                f.write(f"{t:9.4f} {text}\n")
            f.write(f"# exit status {self.status}{' (timed out)' if self.timed_out else ''}, "
                    f"{self.elapsed:.2f} s\n")
            if self.stderr:
                f.write("# stderr:\n" + self.stderr.decode("utf-8", "replace"))


class ShellBoot:
    """One QEMU run of the shell system (`system/boot.cpio`, what `make run` boots)
    driven as a person would: the host time from QEMU's start to the first prompt,
    then one `call @timer.now()` typed and its answer, then `halt`, which ends QEMU
    with the clean-shutdown status. `ok` when every step happened."""

    PROMPT = b"capos> "
    CALL = b"call @timer.now()\r"
    ANSWER = re.compile(rb"\(ns = \d+\)")

    def __init__(self, label, cmd, timeout):
        self.label, self.cmd = label, cmd
        self.prompt = None  # host seconds from QEMU's start to the first prompt
        self.answered = False
        self.timed_out = False
        self.output = b""
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = start + timeout
        step = "prompt"  # then "answer", then "halt", then "exit"
        mark = 0  # where in the output the current step looks
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self.output += chunk
            now = time.monotonic() - start
            if step == "prompt" and self.PROMPT in self.output[mark:]:
                self.prompt = now
                mark = len(self.output)
                step = "answer"
                self._type(proc, self.CALL)
            if step == "answer":
                found = self.ANSWER.search(self.output, mark)
                if found and self.PROMPT in self.output[found.end():]:
                    self.answered = True
                    step = "exit"
                    self._type(proc, b"halt\r")
        self.status = proc.wait()
        self.elapsed = time.monotonic() - start
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except BrokenPipeError:
                pass

    @staticmethod
    def _type(proc, text):
        try:
            proc.stdin.write(text)
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # QEMU has gone: ok() says so

    def ok(self):
        # isa-debug-exit: (ExitCode::Success << 1) | 1 = 1, the shell's halt.
        return (not self.timed_out and self.prompt is not None and self.answered and
                self.status == 1)


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return None
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


class Series:
    """Several boots of one system: each figure is the median over the boots of
    each boot's median; the spread covers every batch of every boot."""

    def __init__(self, boots):
        self.boots = boots
        first = boots[0]
        self.cmd = first.cmd
        self.lines = first.lines
        self.elapsed = median([b.elapsed for b in boots])
        self.missing = {}
        for b in boots:
            for name, why in b.missing.items():
                self.missing.setdefault(name, why)
        self.figures = {}
        names = {name for b in boots for name in b.figures}
        for name in names:
            got = [b.figures[name] for b in boots if name in b.figures]
            if len(got) < len(boots):
                self.missing.setdefault(name, f"printed by only {len(got)} of {len(boots)} boots")
                continue
            self.figures[name] = {
                "ticks": round(median([f["ticks"] for f in got])),
                "ns": median([f["ns"] for f in got]),
                "boot_ns": [f["ns"] for f in got],
                "min_ns": min(f["min_ns"] for f in got),
                "max_ns": max(f["max_ns"] for f in got),
                "batches": sum(f["batches"] for f in got),
                "per_batch": round(median([f["per_batch"] for f in got])),
                "depth": got[0].get("depth"),
            }

    def first(self, needle):
        """(median host seconds over the boots, text in the first boot)."""
        found = [b.first(needle) for b in self.boots]
        if any(f is None for f in found):
            return None
        return median([f[0] for f in found]), found[0][1]

    def each(self, fn):
        """The median over the boots of fn(boot), None where any is None."""
        values = [fn(b) for b in self.boots]
        return None if any(v is None for v in values) else median(values)

    def host_tsc_khz(self, first, last):
        return self.each(lambda b: b.host_tsc_khz(first, last))


# Throughput over several CPUs: capOS's pairs_bench (an Echo server and a
# client per online CPU, user/tests/pairs_bench.cpp) against the peer's
# futex process pairs (peer_bench --pairs), at each of these CPU counts, with
# a host thread per CPU (MTTCG) beyond one.
SCALING_CPUS = (1, 2, 4)
# Boots of each system at each CPU count; the median one counts.
SCALING_BOOTS = 3
PAIRS_LINE = re.compile(r"pairs: (\d+) pairs, (\d+) round trips in (\d+) us, (\d+) per second")


def with_cpus(cmd, cpus):
    """cmd with `-smp cpus`, and MTTCG when there are several."""
    cmd = list(cmd)
    cmd[cmd.index("-smp") + 1] = str(cpus)
    if cpus > 1:
        cmd[cmd.index("-accel") + 1] = "tcg,thread=multi"
    return cmd


def pairs_rate(boot):
    """(pairs, round trips per second) from a pairs run, or None when it did
    not run cleanly."""
    found = boot.first("pairs: ")
    if not found or "FAILED" in found[1]:
        return None
    m = PAIRS_LINE.search(found[1])
    return (int(m.group(1)), int(m.group(4))) if m else None


LOCK_WAIT_LINE = re.compile(r"pairs: kernel lock waits took (\d+\.\d)% ")


def lock_wait(boot):
    """The CPUs' share of time spent waiting for capOS's kernel lock in a
    pairs run (a string, e.g. "30.1%"), or None."""
    for _, line in boot.lines:
        m = LOCK_WAIT_LINE.search(line)
        if m:
            return m.group(1) + "%"
    return None


def median_boot(boots):
    """The boot with the median rate among those that ran cleanly (the lower
    middle one of an even count), or None when none did."""
    good = sorted((b for b in boots if pairs_rate(b) is not None), key=lambda b: pairs_rate(b)[1])
    return good[(len(good) - 1) // 2] if good else None


def scaling_table(scaling):
    """The Markdown rows for {cpus: {"capOS": rate, "Linux": rate}}."""
    out = ["| CPUs | capOS pairs | capOS round trips/s | its scaling (N=1: 1) | target ≥ 0.8 N | "
           "met | capOS CPU time waiting for the kernel lock | Linux pairs | Linux round trips/s | "
           "its scaling | capOS / Linux (throughput: above 1, capOS does more) |",
           "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    base = {k: (scaling.get(1, {}).get(k) or (0, 0))[1] for k in ("capOS", "Linux")}
    for cpus in sorted(scaling):
        row = scaling[cpus]
        c, l = row.get("capOS"), row.get("Linux")

        def cell(rate):
            return f"{rate[1]:,}" if rate else "failed"

        def scale(rate, key):
            return f"{rate[1] / base[key]:.2f}" if rate and base[key] else "n/a"

        met = ("**yes**" if c and base["capOS"] and c[1] / base["capOS"] >= 0.8 * cpus
               else "no")
        out.append(f"| {cpus} | {c[0] if c else '–'} | {cell(c)} | {scale(c, 'capOS')} | "
                   f"{0.8 * cpus:.1f} | {met} | {row.get('capOS lock') or 'n/a'} | "
                   f"{l[0] if l else '–'} | {cell(l)} | "
                   f"{scale(l, 'Linux')} | "
                   f"{f'{c[1] / l[1]:.2f}' if c and l and l[1] else 'n/a'} |")
    return out


def capos_command(build, initrd, memory=None):
    runner = os.path.join(build, "tools/qemu-runner/capos-qemu")
    args = [runner, "run", "--dry-run", "--kernel", os.path.join(build, "kernel/kernel.elf"),
            "--initrd", os.path.join(build, "system", initrd), "--append", "shutdown"]
    if memory:
        args += ["--memory", memory]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
    return shlex.split(out.strip().splitlines()[-1])


def linux_command(linux_dir, memory="256M", extra_append="", cpu_max=False,
                  initrd="initramfs.cpio"):
    cmd = list(LINUX_QEMU)
    cmd[cmd.index("-m") + 1] = memory
    if cpu_max:
        cmd[3:3] = ["-cpu", "max"]
    return cmd + ["-serial", "mon:stdio", "-kernel", os.path.join(linux_dir, "vmlinux"),
                  "-initrd", os.path.join(linux_dir, initrd),
                  "-append", (LINUX_APPEND + " " + extra_append).strip()]


def capos_ok(boot):
    # isa-debug-exit: (ExitCode::Success << 1) | 1 = 1, after init exited 0.
    return (not boot.timed_out and boot.status == 1 and
            boot.first("bench: done, %d figures, 0 failed" % len(CAPOS_FIGURES)) is not None and
            boot.first("init: exited with code 0") is not None)


def icount_command(cmd):
    """cmd with the instruction-count flags appended (after everything else, so
    they apply to the whole machine as the timed boots configure it)."""
    return list(cmd) + ICOUNT


def icount_checks(label, boot):
    """Warnings about an instruction-count boot: figures whose batches differ by
    more than ICOUNT_SPREAD, ns that disagree with ticks over the calibration,
    a calibrated TSC rate away from 1 GHz. Empty when the counts are sound."""
    warnings = []
    khz = boot.tsc_khz()
    if khz is None:
        warnings.append(f"{label} printed no TSC calibration")
    elif abs(khz / ICOUNT_GHZ_KHZ - 1) > ICOUNT_SPREAD:
        warnings.append(f"{label} calibrated its TSC at {khz / 1000:,.0f} MHz, not 1,000 MHz: "
                        "`-icount shift=0` did not take effect")
    for name, f in sorted(boot.figures.items()):
        spread = icount_spread(f)
        if spread > ICOUNT_SPREAD:
            warnings.append(f"{label} `{name}`: batches differ by {spread * 100:.2f}% "
                            f"({f['min_ns']:,.1f} to {f['max_ns']:,.1f})")
        if khz and f["ticks"] >= 100:
            from_ticks = f["ticks"] / (khz / 1e6)
            if abs(from_ticks / f["ns"] - 1) > ICOUNT_SPREAD:
                warnings.append(f"{label} `{name}`: ns={f['ns']:,.1f} but ticks / TSC GHz = "
                                f"{from_ticks:,.1f}")
    return warnings


def icount_spread(figure):
    """(slowest batch / fastest batch) - 1."""
    return figure["max_ns"] / figure["min_ns"] - 1 if figure["min_ns"] > 0 else float("inf")


def linux_ok(boot):
    return (not boot.timed_out and boot.status == 0 and
            boot.first("bench: done, 9 figures, 0 failed") is not None and
            boot.first("peer: exit status 0") is not None)


def disk_command(cmd, image, kind=DISK_KINDS[0]):
    """cmd with the bench disk attached: DISK_DRIVE on `image`, on the
    device of `kind` (a DiskKind)."""
    return list(cmd) + [arg.format(image=image) for arg in DISK_DRIVE] + ["-device", kind.device]


def disk_drive_text(kind):
    """The arguments both guests' command lines end with, for the report."""
    return " ".join(disk_command([], "<copy>", kind))


def fresh_disk(build, out_dir):
    """A copy of the bench image for one boot (the write figure changes it),
    written back to the host's disk before QEMU reads it past the page
    cache. Returns its path."""
    image = os.path.join(out_dir, "disk-boot.img")
    shutil.copyfile(os.path.join(build, DISK_IMAGE), image)
    with open(image, "rb+") as f:
        os.fsync(f.fileno())
    return image


def capos_disk_ok(boot):
    # isa-debug-exit: (ExitCode::Success << 1) | 1 = 1, after init exited 0.
    return (not boot.timed_out and boot.status == 1 and
            boot.first("bench: done, %d figures, 0 failed" % len(DISK_FIGURES)) is not None and
            boot.first("init: exited with code 0") is not None)


def linux_disk_ok(boot):
    return (not boot.timed_out and boot.status == 0 and
            boot.first("bench: done, %d figures, 0 failed, 0 n/a" % len(DISK_FIGURES))
            is not None and boot.first("peer: exit status 0") is not None)


def throughput(ticks, tsc_khz, op_bytes, unit):
    """10^6 bytes per second (MB/s), or else operations per second (IOPS,
    files/s), from TSC ticks per operation at tsc_khz."""
    per_second = tsc_khz * 1e3 / ticks
    return per_second * op_bytes / 1e6 if unit == "MB/s" else per_second


def fmt_throughput(value, unit):
    return f"{value:,.1f} {unit}" if unit == "MB/s" else f"{value:,.0f} {unit}"


def fastest_ticks(boot, name):
    """The ticks per operation of a boot's fastest batch of figure `name`
    (the line gives it in ns by the guest's calibration, ns = ticks / rate)."""
    f = boot.figures[name]
    return f["min_ns"] * f["ticks"] / f["ns"] if f["ns"] else None


def disk_tsc_khz(boots):
    """The TSC rate both guests count (under TCG, the host's), by the host's
    clock: the median over the boots of each one's ticks from its benchmark's
    first line to its last over the host time between their arrival. The
    guests' own calibrations are not used: capOS's, against Timer.now over
    50 ms, moves by tens of percent on a loaded host."""
    rates = [b.host_tsc_khz(first, "bench: done") for b in boots
             for first in ("bench: disk main", "bench: fs main", "bench: peer main")
             if b.first(first)]
    rates = [r for r in rates if r]
    return median(rates) if rates else None


def figure_cells(name, f, series, tsc_khz, op_bytes, unit):
    """One system's cells for figure `name` (its median boot's entry `f` in
    `series`): the throughput, or why there is none, and each boot's."""
    if not f:
        return (series.missing.get(name, "not printed") if series else "not run"), ""
    if not tsc_khz:
        return f"{f['ticks']:,} ticks", ""
    each = " / ".join(
        fmt_throughput(throughput(b.figures[name]["ticks"], tsc_khz, op_bytes, unit),
                       unit).split()[0] for b in series.boots)
    return fmt_throughput(throughput(f["ticks"], tsc_khz, op_bytes, unit), unit), each


def disk_table(capos, linux, tsc_khz):
    """The disk figures side by side at one TSC rate; the ratios are of
    throughput (above 1: capOS moves more), from each system's median ticks
    and from each one's fastest batch."""
    rows = ["| figure | capOS | capOS per boot | Linux | Linux per boot | "
            "capOS / Linux (throughput) | fastest-batch ratio | depth capOS / Linux | "
            "ops per batch |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, what, op_bytes, unit in DISK_FIGURES:
        c = capos.figures.get(name) if capos else None
        l = linux.figures.get(name) if linux else None

        c_text, c_each = figure_cells(name, c, capos, tsc_khz, op_bytes, unit)
        l_text, l_each = figure_cells(name, l, linux, tsc_khz, op_bytes, unit)
        r = ratio(l["ticks"] if l else None, c["ticks"] if c else None)
        fastest = ratio(min(fastest_ticks(b, name) for b in linux.boots) if l else None,
                        min(fastest_ticks(b, name) for b in capos.boots) if c else None)
        depth = (f"{c.get('depth') if c else '–'} / {l.get('depth') if l else '–'}")
        per_batch = c["per_batch"] if c else (l["per_batch"] if l else "–")
        rows.append(f"| {what} (`{name}`) | {c_text} | {c_each} | {l_text} | {l_each} | "
                    f"{fmt_ratio(r)} | {fmt_ratio(fastest)} | {depth} | {per_batch} |")
    return rows


def run_disk(args, build, out_dir, linux_dir, linux_ready, linux_note, when, run, log):
    """The disk boots of every kind in DISK_KINDS (those of --disk-kind when
    given), the two systems taking turns; returns (section, whether all ran
    cleanly)."""
    kinds = [DISK_KIND[name] for name in args.disk_kind] if args.disk_kind else DISK_KINDS

    def capos_disk(kind, image):
        return disk_command(capos_command(build, kind.archive()), image, kind)

    def linux_disk(kind, image):
        return disk_command(linux_command(linux_dir, extra_append="peer_disk=" + kind.linux_node,
                                          initrd=LINUX_DISK_INITRD), image, kind)

    runs = []
    for kind in kinds:
        capos_boots, linux_boots = [], []
        for _ in range(args.boots):
            run(f"capOS disk bench system ({kind.title})",
                capos_disk(kind, fresh_disk(build, out_dir)), 240, capos_disk_ok, capos_boots,
                f"capos_{kind.log_tag}_serial")
            if linux_ready:
                run(f"Linux peer, disk figures ({kind.title})",
                    linux_disk(kind, fresh_disk(build, out_dir)), 240, linux_disk_ok,
                    linux_boots, f"linux_{kind.log_tag}_serial")
        runs.append((kind, capos_boots, linux_boots))
    os.remove(os.path.join(out_dir, "disk-boot.img"))
    good = all(all(capos_disk_ok(b) for b in c) and all(linux_disk_ok(b) for b in l)
               for _, c, l in runs)
    # The figures come from the boots that finished; the others are named
    # in the section with the last figure they printed (a stall is a
    # finding, not noise to average away). Every guest counts the host's TSC
    # (TCG), so one rate serves every kind.
    clean = ([b for _, c, _ in runs for b in c if capos_disk_ok(b)] +
             [b for _, _, l in runs for b in l if linux_disk_ok(b)])
    tsc_khz = disk_tsc_khz(clean)
    lines = disk_report(args, runs, clean, linux_note, when, tsc_khz)
    for kind, capos_boots, linux_boots in runs:
        capos_clean = [b for b in capos_boots if capos_disk_ok(b)]
        linux_clean = [b for b in linux_boots if linux_disk_ok(b)]
        capos = Series(capos_clean) if capos_clean else None
        linux = Series(linux_clean) if linux_clean else None
        lines += disk_kind_report(kind, capos, linux, linux_note,
                                  capos_disk(kind, "<copy>"), linux_disk(kind, "<copy>"), tsc_khz)
        for label, boots, prefix in [("capOS", capos_boots, "capos"),
                                     ("Linux", linux_boots, "linux")]:
            for i, boot in enumerate(boots):
                ok = capos_disk_ok(boot) if label == "capOS" else linux_disk_ok(boot)
                if ok:
                    continue
                printed = [text for _, text in boot.lines if FIGURE.match(text)]
                last = FIGURE.match(printed[-1]).group(1) if printed else "none"
                lines.append(f"**{label} boot {i + 1} of {len(boots)} on {kind.title} did not "
                             f"finish** (exit status {boot.status}"
                             f"{', timed out' if boot.timed_out else ''}; the last figure it "
                             f"printed: `{last}`; "
                             f"`build/bench/{prefix}_{kind.log_tag}_serial_{i + 1}.log`): "
                             "left out of the figures above.")
                lines.append("")
    section = "\n".join(lines + [DISK_END]) + "\n"
    return section, good


def disk_report(args, runs, clean, linux_note, when, tsc_khz):
    """The disk section's head (after DISK_BEGIN): what was run and how the
    figures are read, for every kind; `clean` are the boots that finished."""
    out = [DISK_BEGIN, "", "## Disk: BlockDevice against Linux's O_DIRECT, in the same QEMU", ""]
    boots = args.boots
    first = DISK_FIGURES[0][0]
    batches = next((b.figures[first]["batches"] for b in clean if first in b.figures), None)
    kinds = " and ".join(kind.title for kind, _, _ in runs)
    out += [
        f"Written by `bench/run_bench.py` from one run ({when}) in which, for each kind of disk "
        f"({kinds}), capOS's disk bench system and the Linux peer took turns booting, {boots} "
        "times each, every boot on a fresh copy of the same 64 MiB image of the block-device "
        f"tests' pattern (`build/{DISK_IMAGE}`, made by `capos-mkdisk` at build time). For a "
        "kind, both QEMU command lines end with the same `-drive` and `-device` (below).",
        "",
        f"- Machine: {machine()}",
        "- capOS: init starts the kind's driver on the claimed function and "
        "`user/bench/disk_bench.cpp`, which reads and writes through `BlockDevice` with raw "
        "CALL entries on its ring, zero-copy through one 1 MiB transfer buffer "
        "(`transferBuffer`); the systems are made from one manifest "
        "(`bench/manifests/bench_disk.capnp.in`).",
        ("- Linux: " + linux_note + "; `/init` loads the modules of both kinds with busybox's "
         "`insmod` and runs `peer_bench --disk DEVICE` on the node the command line names "
         "(`peer_disk=DEVICE`): `O_DIRECT`, `pread`/`pwrite` at depth 1, raw `io_uring` "
         "`IORING_OP_READ` entries deeper.") if any(l for _, _, l in runs)
        else f"- Linux: not run ({linux_note})",
        "- Workload (`bench/disk_workload.h`, compiled into both): each figure is "
        f"{batches or 'n'} timed batches of a fixed count of operations after one untimed "
        "batch; random reads "
        "take their 4 KiB pages from one fixed-seed generator (splitmix64), restarted for each "
        "figure, in the same order on both sides; sequential operations are 1 MiB at "
        "increasing offsets, wrapping at the disk's end. Times are `rdtsc` ticks over each "
        "batch (the same TSC in both guests: the host's, under TCG); the tables give the "
        "median over the boots of each boot's median batch, and each boot's median, "
        "converted to IOPS or MB/s (10^6 bytes/s) at one rate for both systems and every kind, "
        + (f"{tsc_khz / 1000:,.0f} MHz" if tsc_khz else "(none measured: ticks shown)") +
        " (the TSC's ticks over the host's time between each boot's first and last line, "
        "the median over the boots; the guests' own calibrations are not used). The ratios "
        "are of those ticks: capOS's throughput over Linux's, above 1 when capOS moves "
        "more; the fastest-batch ratio compares the two systems' fastest batches of all "
        "boots (noise on a shared host only slows a batch: when the two ratios part, the "
        "run was noisy).",
        "- Depth: both systems keep each figure's depth in flight (the table's depth column "
        "is what each benchmark printed); how many of those reach the device is the "
        "driver's (below, for each kind).",
        "- The host: `cache=none` makes every guest request a host `O_DIRECT` read or write "
        "of the image, on this machine a virtual disk itself, whose latency both systems "
        "pay alike and which varies with the other work on the host: ratios near 1 at depth "
        "1 say the guests' own costs are small beside it, not that they are equal.",
        "",
    ]
    return out


def disk_kind_report(kind, capos, linux, linux_note, capos_cmd, linux_cmd, tsc_khz):
    """One kind's part of the disk section: its command lines and its table."""
    out = [f"### {kind.title}", "",
           f"Both command lines end with `{disk_drive_text(kind)}`.", "",
           f"- capOS: `{shlex.join(capos_cmd)}`; {kind.capos_driver}. {kind.depth_note}"]
    if linux:
        out.append(f"- Linux: `{shlex.join(linux_cmd)}`; {kind.linux_driver}, "
                   f"`peer_bench --disk {kind.linux_node}`.")
    else:
        out.append(f"- Linux: not run ({linux_note})")
    out += [""] + disk_table(capos, linux, tsc_khz) + [""]
    return out


def write_disk_doc(path, section):
    """Puts the disk section between its markers, after the main section's
    end marker when the markers are missing."""
    write_section_doc(path, section, DISK_BEGIN, DISK_END, [END])


def write_fs_doc(path, section):
    """Puts the filesystem section between its markers, after the disk
    section's (or else the main section's) end marker when they are missing."""
    write_section_doc(path, section, FS_BEGIN, FS_END, [DISK_END, END])


def write_net_doc(path, section):
    """Puts the network section between its markers, after the filesystem
    section's (or else the disk section's or the main one's) end marker when
    they are missing."""
    write_section_doc(path, section, NET_BEGIN, NET_END, [FS_END, DISK_END, END])


def write_section_doc(path, section, begin, end, after_markers):
    """Replaces what lies between `begin` and `end` with `section`; without
    them, puts it after the first of `after_markers` found, or at the end."""
    with open(path) as f:
        text = f.read()
    after_marker = next((m for m in after_markers if m in text), None)
    if begin in text and end in text:
        before = text[:text.index(begin)]
        after = text[text.index(end) + len(end):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    elif after_marker:
        at = text.index(after_marker) + len(after_marker)
        text = text[:at] + "\n\n" + section + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def fs_image_copy(source, out_dir):
    """A copy of a filesystem image for one boot (sparse, as made), written
    back to the host's disk before QEMU reads it past the page cache.
    Returns its path."""
    image = os.path.join(out_dir, "fs-boot.img")
    subprocess.run(["cp", "--sparse=always", source, image], check=True)
    with open(image, "rb+") as f:
        os.fsync(f.fileno())
    return image


def mkfs_ext4():
    """mkfs.ext4's path (e2fsprogs installs it in /sbin, often not on PATH)."""
    return (shutil.which("mkfs.ext4") or
            next((p for p in ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4") if os.path.exists(p)),
                 None))


def make_ext4_image(out_dir):
    """The empty ext4 volume the Linux peer starts from, FS_MIB MiB, made now
    with MKFS_EXT4. Returns its path, or None with why on failure."""
    tool = mkfs_ext4()
    if not tool:
        return None, "no mkfs.ext4 (e2fsprogs)"
    image = os.path.join(out_dir, "bench-ext4.img")
    if os.path.exists(image):
        os.remove(image)
    done = subprocess.run([tool] + MKFS_EXT4 + [image, f"{FS_MIB}M"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        return None, "mkfs.ext4 failed: " + done.stdout.strip()
    return image, None


def capos_fs_ok(boot):
    # isa-debug-exit: (ExitCode::Success << 1) | 1 = 1, after init exited 0.
    return (not boot.timed_out and boot.status == 1 and
            boot.first("bench: done, %d figures, 0 failed" % len(FS_FIGURES)) is not None and
            boot.first("init: exited with code 0") is not None)


def linux_fs_ok(boot):
    return (not boot.timed_out and boot.status == 0 and
            boot.first("bench: done, %d figures, 0 failed, 0 n/a" %
                       len({figure[5] for figure in FS_FIGURES}))
            is not None and boot.first("peer: exit status 0") is not None)


def fs_capos_command(build, image, quick=False):
    kind = DISK_KIND[FS_KIND]
    return disk_command(capos_command(build, "bench_fs_quick.cpio" if quick else "bench_fs.cpio",
                                      memory=FS_MEMORY), image, kind)


def fs_linux_command(linux_dir, image):
    kind = DISK_KIND[FS_KIND]
    return disk_command(linux_command(linux_dir, memory=FS_MEMORY,
                                      extra_append="peer_fs=" + kind.linux_node,
                                      initrd=LINUX_FS_INITRD), image, kind)


def fs_table(capos, linux, tsc_khz):
    """The filesystem figures side by side at one TSC rate: each system's
    median over its boots and each boot's figure; the ratio of throughput
    (above 1: capOS does more) of the medians and of each system's best
    boot; the target."""
    rows = ["| figure | capOS | capOS per boot | Linux | Linux per boot | "
            "capOS / Linux (throughput) | best-boot ratio | target | operations |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, what, op_bytes, unit, target, peer in FS_FIGURES:
        c = capos.figures.get(name) if capos else None
        l = linux.figures.get(peer) if linux else None

        c_text, c_each = figure_cells(name, c, capos, tsc_khz, op_bytes, unit)
        l_text, l_each = figure_cells(peer, l, linux, tsc_khz, op_bytes, unit)
        r = ratio(l["ticks"] if l else None, c["ticks"] if c else None)
        best = ratio(min(b.figures[peer]["ticks"] for b in linux.boots) if l else None,
                     min(b.figures[name]["ticks"] for b in capos.boots) if c else None)
        if target is None:
            goal = "–"
        elif r is None:
            goal = f"≥ {target:.1f}"
        else:
            goal = f"≥ {target:.1f}: {'met' if r >= target else 'not met'}"
        count = c["per_batch"] if c else (l["per_batch"] if l else "–")
        count = f"{count:,}" if isinstance(count, int) else count
        rows.append(f"| {what} (`{name}`) | {c_text} | {c_each} | {l_text} | {l_each} | "
                    f"{fmt_ratio(r)} | {fmt_ratio(best)} | {goal} | {count} |")
    return rows


def run_fs(args, build, out_dir, linux_dir, linux_ready, linux_note, when, run, log):
    """The filesystem boots, the two systems taking turns, each on a fresh
    copy of its empty volume; returns (section, whether all ran cleanly)."""
    capos_template = os.path.join(build, FS_CAPOS_IMAGE)
    ext4_template, why = make_ext4_image(out_dir) if linux_ready else (None, linux_note)
    if linux_ready and not ext4_template:
        log(f"run_bench: Linux peer not run for the filesystem figures ({why})")
        linux_note = why
    capos_boots, linux_boots = [], []
    for _ in range(args.boots):
        run("capOS filesystem bench system",
            fs_capos_command(build, fs_image_copy(capos_template, out_dir)), 300, capos_fs_ok,
            capos_boots, "capos_fs_serial")
        if ext4_template:
            run("Linux peer, filesystem figures",
                fs_linux_command(linux_dir, fs_image_copy(ext4_template, out_dir)), 300,
                linux_fs_ok, linux_boots, "linux_fs_serial")
    os.remove(os.path.join(out_dir, "fs-boot.img"))
    good = all(capos_fs_ok(b) for b in capos_boots) and all(linux_fs_ok(b) for b in linux_boots)
    capos_clean = [b for b in capos_boots if capos_fs_ok(b)]
    linux_clean = [b for b in linux_boots if linux_fs_ok(b)]
    tsc_khz = disk_tsc_khz(capos_clean + linux_clean)
    capos = Series(capos_clean) if capos_clean else None
    linux = Series(linux_clean) if linux_clean else None
    lines = fs_report(args, capos, linux, linux_note, fs_capos_command(build, "<copy>"),
                      fs_linux_command(linux_dir, "<copy>"), when, tsc_khz)
    for label, boots, prefix, ok in [("capOS", capos_boots, "capos", capos_fs_ok),
                                     ("Linux", linux_boots, "linux", linux_fs_ok)]:
        for i, boot in enumerate(boots):
            if ok(boot):
                continue
            printed = [text for _, text in boot.lines if FIGURE.match(text)]
            last = FIGURE.match(printed[-1]).group(1) if printed else "none"
            lines.append(f"**{label} boot {i + 1} of {len(boots)} did not finish** (exit status "
                         f"{boot.status}{', timed out' if boot.timed_out else ''}; the last "
                         f"figure it printed: `{last}`; `build/bench/{prefix}_fs_serial_{i + 1}"
                         ".log`): left out of the figures above.")
            lines.append("")
    section = "\n".join(lines + [FS_END]) + "\n"
    return section, good


def fs_report(args, capos, linux, linux_note, capos_cmd, linux_cmd, when, tsc_khz):
    """The filesystem section (after FS_BEGIN): what was run, how the figures
    are read, the table."""
    kind = DISK_KIND[FS_KIND]
    out = [FS_BEGIN, "", "## Filesystem: capfs through the filesystem service against ext4, "
           "in the same QEMU", ""]
    out += [
        f"Written by `bench/run_bench.py` from one run ({when}) in which capOS's filesystem "
        f"bench system and the Linux peer took turns booting, {args.boots} times each, every "
        f"boot on a fresh copy of an empty {FS_MIB} MiB volume: capfs for capOS "
        f"(`build/{FS_CAPOS_IMAGE}`, made by `capos-capfs make` at build time), ext4 for "
        "Linux (made by `mkfs.ext4 " + " ".join(MKFS_EXT4) + f"` at the start of the run: "
        "its defaults for this size, 4 KiB blocks, a journal and metadata checksums, with "
        "the inode tables and journal written out then rather than zeroed by the kernel in "
        "the background while the figures run). Both QEMU command lines end with "
        f"`{disk_drive_text(kind)}`.",
        "",
        f"- Machine: {machine()}",
        f"- capOS: `{shlex.join(capos_cmd)}`; init starts the virtio-blk driver "
        "(`user/drivers/virtio_blk.cpp`), the filesystem service (`user/services/fs`) on its "
        "disk and `user/bench/fs_bench.cpp` holding only the volume's root `Directory` "
        "(`bench/manifests/bench_fs.capnp.in`). A small file is `Directory.open` (the `File` "
        "moved to the caller with the answer), one `File.write` or `File.read`, and the "
        "capability's release; the syncs are `Directory.sync` and `File.sync`. Calls are "
        "made one at a time, except in `fs_read_small`: there the calls of 32 files are in "
        "flight together on the ring (`rt::CallBatch`: 32 opens submitted together and "
        "waited for together, then 32 reads, the releases going with the "
        "next opens), as a capOS program reading many files makes them; "
        "`fs_read_small_serial`, timed just before it, reads the same files one call at a "
        "time.",
        (f"- Linux: `{shlex.join(linux_cmd)}`; {linux_note}; `/init` loads Debian's virtio, "
         "virtio-pci, virtio-blk, crc32c, crc16, mbcache, jbd2 and ext4 modules and runs "
         f"`peer_bench --fs {kind.linux_node}`, which mounts the volume at `/mnt` with the "
         "kernel's default options (ordered data, relatime): `openat` in the directory, one "
         "`write` or `read`, `close`; the syncs are `syncfs` and `fsync`.") if linux
        else f"- Linux: not run ({linux_note})",
        "- Workload (`bench/fs_workload.h`, compiled into both): in order, 10,000 files "
        "`small/f00000`... of 1,024 bytes created, then the volume synced; each read back; "
        "one file of 64 MiB written in 32 KiB calls (capOS's `File.maxTransfer`, the same "
        "call size on Linux), then synced; read back in 32 KiB calls. The bytes of every "
        "file follow from its name and place, and every read is checked, inside the timing "
        "on both sides. Each figure is one timed run per boot (a file created cannot be "
        "created again), the syncs inside it. Times are `rdtsc` ticks (the same TSC in "
        "both guests: the host's, under TCG), converted to files/s or MB/s (10^6 bytes/s) "
        "at one rate for both systems, "
        + (f"{tsc_khz / 1000:,.0f} MHz" if tsc_khz else "(none measured: ticks shown)") +
        " (the TSC's ticks over the host's time between each boot's first and last line, "
        "the median over the boots). The table gives the median over the boots and each "
        "boot; the ratio is of throughput, above 1 when capOS does more, of the medians and "
        "of each system's best boot (noise on a shared host only slows a boot).",
        "- Warm or cold: both systems read what they have just written, without a remount. "
        "Linux reads from its page cache (the guest has 256 MiB, all of it fits); the capOS "
        "filesystem service reads from its block cache (`cache=96`: up to 96 MiB, filled by "
        "the commits and reads), so the small files' reads touch no disk on either side and "
        "measure the path from a program to the cache: system calls on Linux, calls to "
        "another process through the kernel on capOS. The 64 MiB file does not all fit "
        "capOS's cache beside the small files' 40 MiB of blocks, so part of its reads go to "
        "the disk (the cache has no read-ahead).",
        "- The host: `cache=none` makes every guest request a host `O_DIRECT` read or write "
        "of the image (a virtual disk itself, shared with other work), whose latency both "
        "pay alike.",
        "",
    ]
    out += fs_table(capos, linux, tsc_khz) + [""]
    return out


def free_ports(count):
    """`count` ports of 127.0.0.1 free for both TCP and UDP just now (bound
    and let go: QEMU may lose one to another program in between, which
    net_boot notices and retries)."""
    ports, held = [], []
    while len(ports) < count:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            tcp.close()
            udp.close()
            continue
        held += [tcp, udp]
        ports.append(port)
    for sock in held:
        sock.close()
    return ports


def net_devices(ports):
    """The -netdev and -device both systems get: QEMU's user network with
    NET_FORWARDS from `ports`, a virtio-net-pci function on it."""
    forwards = ",".join(f"hostfwd={proto}:127.0.0.1:{ports[name]}-:{guest}"
                        for name, proto, guest in NET_FORWARDS)
    return ["-netdev", f"user,id=n0,{forwards}", "-device", "virtio-net-pci,netdev=n0"]


def net_capos_command(build, ports):
    return capos_command(build, "bench_net.cpio") + net_devices(ports)


def net_linux_command(linux_dir, ports):
    return linux_command(linux_dir, extra_append="peer_net=1",
                         initrd=NET_LINUX_INITRD) + net_devices(ports)


class NetBoot:
    """One QEMU run of a system serving the network figures: its serial
    lines kept (as Boot's) by a thread while, once the ready line came,
    net_client runs each figure NET_RUNS times and then stops the server.
    `runs` maps a figure's name to net_client's values of each run (a dict
    of its fields); `failures` says what went wrong."""

    def __init__(self, label, make_cmd, client, timeout, attempts=3):
        self.label = label
        self.runs = {}
        self.failures = []
        for attempt in range(attempts):
            names = [name for name, _, _ in NET_FORWARDS]
            self.ports = dict(zip(names, free_ports(len(names))))
            self.cmd = make_cmd(self.ports)
            self._boot(client, timeout)
            # QEMU could not bind a port it was given (another program took
            # it in between): again with new ones.
            if "Could not set up host forwarding" not in self.stderr:
                break
            self.failures = []

    def _boot(self, client, timeout):
        self.lines, self.stderr = [], ""
        self.timed_out = False
        start = time.monotonic()
        proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

        def read_serial():
            for raw in proc.stdout:
                text = raw.replace(b"\r", b"").rstrip(b"\n").decode("utf-8", "replace")
                self.lines.append((time.monotonic() - start, text))

        reader = threading.Thread(target=read_serial, daemon=True)
        reader.start()
        deadline = start + timeout
        while (proc.poll() is None and time.monotonic() < deadline and
               not any(NET_READY in text for _, text in self.lines)):
            time.sleep(0.1)
        if any(NET_READY in text for _, text in self.lines) and proc.poll() is None:
            self._measure(client, deadline)
            self._client(client, ["quit", "echo"], deadline)
        else:
            self.failures.append("the server never said it was ready")
        try:
            proc.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(5)
        self.stderr = proc.stderr.read().decode("utf-8", "replace")
        self.status = proc.returncode
        self.elapsed = time.monotonic() - start

    def _measure(self, client, deadline):
        for name, _, args, field, _, _, _ in NET_FIGURES:
            if args is None:
                continue
            for _ in range(NET_RUNS):
                values = self._client(client, args, deadline)
                if values is None:
                    return
                self.runs.setdefault(name, []).append(values)

    def _client(self, client, args, deadline):
        """net_client with `args` (the port's name in place of the port):
        its line's fields, or None (and a failure) when it failed."""
        cmd = [client, args[0], str(self.ports[args[1]])] + args[2:]
        try:
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.failures.append(f"`{shlex.join(cmd)}` timed out")
            return None
        line = NET_CLIENT_LINE.match(done.stdout.strip().splitlines()[-1]
                                     if done.stdout.strip() else "")
        if done.returncode != 0 or (args[0] != "quit" and not line):
            self.failures.append(f"`{shlex.join(cmd)}` exited with status {done.returncode}: "
                                 f"{done.stdout.strip()}")
            return None
        return dict(field.split("=", 1) for field in line.group(2).split()) if line else {}

    def figure(self, name):
        """A figure's values over this boot's runs, as numbers."""
        _, _, args, field, _, _, _ = next(f for f in NET_FIGURES if f[0] == name)
        runs = self.runs.get(name if args else "udp_rtt", [])
        return [float(run[field]) for run in runs]

    def save(self, path):
        with open(path, "w") as f:
            f.write("# " + shlex.join(self.cmd) + "\n")
            for t, text in self.lines:
                f.write(f"{t:9.4f} {text}\n")
            for name, runs in self.runs.items():
                for run in runs:
                    f.write(f"# net_client {name}: {run}\n")
            for failure in self.failures:
                f.write(f"# failed: {failure}\n")
            f.write(f"# exit status {self.status}{' (timed out)' if self.timed_out else ''}, "
                    f"{self.elapsed:.2f} s\n")
            if self.stderr:
                f.write("# stderr:\n" + self.stderr)


def capos_net_ok(boot):
    # isa-debug-exit: (ExitCode::Success << 1) | 1 = 1, after init exited 0.
    return (not boot.failures and not boot.timed_out and boot.status == 1 and
            any("init: exited with code 0" in text for _, text in boot.lines))


def linux_net_ok(boot):
    return (not boot.failures and not boot.timed_out and boot.status == 0 and
            any("peer: exit status 0" in text for _, text in boot.lines))


def fmt_net(value, unit):
    if value is None:
        return "–"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def net_table(capos, linux):
    """The network figures side by side: each system's median over every
    run of every boot, the range of the runs, and the ratio oriented so
    that above 1 capOS does better (capOS / Linux for throughput and
    rate, Linux / capOS for latency)."""
    rows = ["| figure | capOS | capOS runs | Linux | Linux runs | ratio (≥ 1.0: capOS as good "
            "or better; capOS / Linux for throughput and rate, Linux / capOS for latency) | "
            "target |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name, what, _, _, unit, more_better, target in NET_FIGURES:
        cells, medians = [], []
        for boots in (capos, linux):
            values = [v for b in boots for v in b.figure(name)]
            m = median(values)
            medians.append(m)
            cells += [fmt_net(m, unit),
                      f"{min(values):,.1f}–{max(values):,.1f}" if values else "–"]
        c, l = medians
        r = ratio(c, l) if more_better else ratio(l, c)
        if target is None:
            goal = "–"
        elif r is None:
            goal = f"≥ {target:.1f}"
        else:
            goal = f"≥ {target:.1f}: {'met' if r >= target else 'not met'}"
        rows.append(f"| {what} (`{name}`) | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | "
                    f"{fmt_ratio(r)} | {goal} |")
    return rows


def run_net(args, build, out_dir, linux_dir, linux_ready, linux_note, when, log):
    """The network boots, the two systems taking turns; returns (section,
    whether all ran cleanly)."""
    client = os.path.join(build, "bench", "net_client")
    capos_boots, linux_boots = [], []

    def run(label, make_cmd, ok, boots, log_name):
        log(f"run_bench: {label} (boot {len(boots) + 1} of {args.boots})")
        boot = NetBoot(label, make_cmd, client, 600)
        boot.save(os.path.join(out_dir, f"{log_name}_{len(boots) + 1}.log"))
        for name, runs in boot.runs.items():
            log(f"  {name}: " + "; ".join(" ".join(f"{k}={v}" for k, v in r.items())
                                          for r in runs))
        if not ok(boot):
            log(f"run_bench: {label} did not finish cleanly (exit status {boot.status}"
                f"{', timed out' if boot.timed_out else ''}; {'; '.join(boot.failures)}); "
                f"see {out_dir}/{log_name}_{len(boots) + 1}.log")
        boots.append(boot)

    for _ in range(args.boots):
        run("capOS network bench system", lambda ports: net_capos_command(build, ports),
            capos_net_ok, capos_boots, "capos_net_serial")
        if linux_ready:
            run("Linux peer, network figures", lambda ports: net_linux_command(linux_dir, ports),
                linux_net_ok, linux_boots, "linux_net_serial")
    good = (all(capos_net_ok(b) for b in capos_boots) and
            all(linux_net_ok(b) for b in linux_boots))
    capos = [b for b in capos_boots if capos_net_ok(b)]
    linux = [b for b in linux_boots if linux_net_ok(b)]
    ports = {name: "P" + str(i + 1) for i, (name, _, _) in enumerate(NET_FORWARDS)}
    lines = net_report(args, capos, linux, linux_ready, linux_note,
                       net_capos_command(build, ports), net_linux_command(linux_dir, ports), when)
    for label, boots, prefix, ok in [("capOS", capos_boots, "capos", capos_net_ok),
                                     ("Linux", linux_boots, "linux", linux_net_ok)]:
        for i, boot in enumerate(boots):
            if ok(boot):
                continue
            lines.append(f"**{label} boot {i + 1} of {len(boots)} did not finish** (exit status "
                         f"{boot.status}{', timed out' if boot.timed_out else ''}; "
                         f"{'; '.join(boot.failures) or 'no client failed'}; "
                         f"`build/bench/{prefix}_net_serial_{i + 1}.log`): left out of the "
                         "figures above.")
            lines.append("")
    return "\n".join(lines + [NET_END]) + "\n", good


def net_report(args, capos, linux, linux_ready, linux_note, capos_cmd, linux_cmd, when):
    """The network section (after NET_BEGIN): what was run, how the figures
    are read, the table."""
    out = [NET_BEGIN, "", "## Network: capOS's stack against Linux's, in the same QEMU", ""]
    out += [
        f"Written by `bench/run_bench.py` from one run ({when}) in which capOS's network bench "
        f"system and the Linux peer took turns booting, {args.boots} times each. Both QEMU "
        "command lines end with the same `-netdev user` (QEMU's user network, SLIRP), whose "
        "forwards P1 to P4 are free ports of 127.0.0.1 picked for each boot, and `-device "
        "virtio-net-pci`. In each guest the same four servers listen: TCP 5001 counts what "
        "comes until the peer finishes and writes the count back; TCP 5002 writes as many "
        "bytes as asked (Linux 32 KiB a write, capOS up to its 64 KiB shared buffer); TCP 5003 echoes one byte and closes; UDP 5004 "
        "echoes each datagram. `bench/net_client.c`, on the host, drives and times both "
        "guests alike with `CLOCK_MONOTONIC`: the bulk transfers from the first byte sent to "
        "the count (host → guest) or the close (guest → host), the connections from the "
        "first connect to the last close, each UDP round trip from send to echo (a datagram "
        "unanswered for 2 s is counted lost and sent again).",
        "",
        f"- Machine: {machine()}",
        f"- capOS: `{shlex.join(capos_cmd)}`; init starts the virtio-net driver "
        "(`user/drivers/virtio_net`), the network stack (`user/services/netstack`, lwIP; "
        "its address from QEMU's DHCP server) and `user/bench/net_bench.cpp` holding only "
        "the stack's `NetworkManager` and a `FrameAllocator` (`bench/manifests/bench_net.capnp`): "
        "the sink and the source through a 64 KiB buffer each connection shares with the stack "
        "(`TcpSocket.share`, `readInto`, `writeFrom`: the data copied once, by the stack, as "
        "Linux's read and write copy it once), the rest with `read` and `write`, one call in "
        "flight per connection; `UdpSocket.receive` and `sendTo`.",
        (f"- Linux: `{shlex.join(linux_cmd)}`; {linux_note}; `/init` loads Debian's virtio, "
         "virtio-pci, failover, net_failover and virtio-net modules, gives eth0 10.0.2.15/24 "
         "(the address QEMU's DHCP server gives capOS) and runs `peer_bench --net`: the same "
         "servers with blocking POSIX sockets, a thread each.") if linux_ready
        else f"- Linux: not run ({linux_note})",
        f"- Each figure is the median of {NET_RUNS} net_client runs in each boot, over every "
        "boot; the runs' range beside it. Both guests share the host with QEMU's SLIRP, "
        "which copies every segment through the host's sockets: the figures are those of "
        "the guest's stack and driver behind that emulated link, not of a real wire.",
        "",
    ]
    out += net_table(capos, linux) + [""]
    return out

def smallest_memory(label, make_cmd, ok, low, high, timeout, log, boot_class=None):
    """Bisects the smallest -m (MiB) in (low, high] for which ok(boot) holds;
    `high` must work. Returns (MiB, [(MiB, passed)...])."""
    tried = []
    while high - low > 1:
        mid = (low + high) // 2
        boot = (boot_class or Boot)(f"{label} -m {mid}M", make_cmd(f"{mid}M"), timeout)
        passed = ok(boot)
        tried.append((mid, passed, boot.elapsed, boot.timed_out))
        log(f"  {label}: -m {mid}M {'works' if passed else 'fails'} ({boot.elapsed:.1f} s"
            f"{', timed out' if boot.timed_out else ''})")
        if passed:
            high = mid
        else:
            low = mid
    return high, tried


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:,.1f} µs"
    return f"{ns:,.0f} ns"


def fmt_s(seconds):
    return f"{seconds:.3f} s" if seconds is not None else "n/a"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE,
                          text=True).stdout.splitlines()[0]
    return f"{os.cpu_count()} CPUs ({model}), load average {load} at the start; {qemu}"


def fmt_instructions(name, boot):
    """A figure's instructions per operation from an icount boot (its ns), marked
    when it may include halted time; the reason when the boot has no figure."""
    f = boot.figures.get(name)
    if not f:
        return boot.missing.get(name, "not printed")
    return f"{f['ns']:,.0f}" + (WAIT_MARK if name in WAITS else "")


def figure_table(title, figures, series, icount=None):
    """One row per figure; with icount (the instruction-count Boot), an
    instructions column after ns."""
    extra = " instructions |" if icount else ""
    rows = [f"| {title} | what | TSC ticks | ns |{extra} each boot's median | fastest batch | "
            "slowest batch | ops per batch |",
            "|---|---|---:|---:|" + ("---:|" if icount else "") + "---:|---:|---:|---:|"]
    for name, what in figures:
        f = series.figures.get(name) if series else None
        count = f" {fmt_instructions(name, icount)} |" if icount else ""
        if f:
            each = " / ".join(fmt_ns(ns) for ns in f["boot_ns"])
            rows.append(f"| `{name}` | {what} | {f['ticks']:,} | {fmt_ns(f['ns'])} |{count} "
                        f"{each} | {fmt_ns(f['min_ns'])} | {fmt_ns(f['max_ns'])} | "
                        f"{f['per_batch']:,} |")
        else:
            why = series.missing.get(name, "not printed") if series else "not run"
            rows.append(f"| `{name}` | {what} | {why} | |{count} | | | |")
    return rows


def first_tsc(boot, needle):
    """The tsc= of the first line containing needle, or None."""
    found = boot.first(needle) if boot else None
    m = TSC.search(found[1]) if found else None
    return int(m.group(1)) if m else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r, mark=""):
    return f"{r:.2f}{mark}" if r is not None else "n/a"


def report(args, capos, linux, linux_max, memory, linux_note, when, icount=None,
           shell_boots=None, scaling=None):
    """The Markdown section. icount: None (not run) or {"capOS": Boot, "Linux":
    Boot or None} from the instruction-count boots."""
    ic_capos = icount.get("capOS") if icount else None
    ic_linux = icount.get("Linux") if icount else None
    out = [BEGIN, "", "## capOS against Linux in the same QEMU", ""]
    out += [
        "What the performance design asks for: capOS's hot paths beside Linux doing the nearest",
        "equivalent, in the same QEMU (TCG, one vCPU), in the same run, so that the ratios mean",
        "something even though absolute times on these shared machines drift by up to 2x between",
        "runs. Written by `bench/run_bench.py` from one `make bench` run, in which the systems",
        f"took turns booting, {len(capos.boots)} times each. In every boot each figure is the "
        "median of 30 batches of about 20 ms; the tables give the median of those per-boot "
        "medians, each boot's median, and the fastest and the slowest batch of all boots.",
        "",
        f"- Date: {when}",
        f"- Machine: {machine()}",
        f"- capOS: `{shlex.join(capos.cmd)}` (capos-qemu's command line), init is "
        "`user/bench/ring_bench.cpp`",
    ]
    if linux:
        out.append(f"- Linux: `{shlex.join(linux.cmd)}` ({linux_note}); `/init` is a busybox "
                   "script that runs `bench/linux/peer_bench.c` (clang-14 -static -O2, glibc) "
                   "and `poweroff -f`")
    else:
        out.append(f"- Linux: not run ({linux_note})")
    out += [
        "- Time: `rdtsc` in user space. Under TCG the guest's TSC is the host's, so ticks compare "
        "directly across the two guests and **the ratios below are ratios of ticks**" +
        (", the instructions ratio aside" if icount else "") + ". Nanoseconds "
        "use each guest's own calibration: capOS against `Timer.now` (the kernel's clock, "
        "calibrated at boot against the PIT), Linux against `clock_gettime` (also printed per "
        "figure by the benchmark as a cross-check).",
    ]
    checks = []
    for label, boot, first in [("capOS", capos, "bench: init main"),
                               ("Linux", linux, "bench: peer main")]:
        if not boot:
            continue
        host = boot.host_tsc_khz(first, "bench: done")
        cal = boot.first("bench: tsc_khz=")
        cal_khz = int(re.search(r"tsc_khz=(\d+)", cal[1]).group(1)) if cal else None
        if host and cal_khz:
            checks.append(f"{label} calibrated {cal_khz / 1000:,.0f} MHz, the host's clock says "
                          f"{host / 1000:,.0f} MHz ({(cal_khz / host - 1) * 100:+.1f}%)")
    if checks:
        out.append("- TSC rate, the guest's calibration against the host's clock over the whole "
                   "run: " + "; ".join(checks) + ".")
    if icount:
        out.append(
            "- Instructions: one more boot of each system with `-icount shift=0` appended to its "
            "QEMU command line (the design's for Linux, not `-cpu max`). Under it QEMU's clock, "
            "and with it the TSC, advances exactly 1 ns per guest instruction, so each guest's "
            "own ns per operation is its **instruction count per operation**: deterministic, "
            "independent of the host's load, the figure to compare across runs. Time the vCPU "
            "spends halted is not instructions (the clock then follows the host's), so figures "
            "that can wait (process creation and wait; boot) are upper bounds, marked "
            f"{WAIT_MARK} (a batch spread near 0 says they did not halt).")
        ic_checks = []
        for label, boot in [("capOS", ic_capos), ("Linux", ic_linux)]:
            if not boot:
                continue
            ok = capos_ok(boot) if label == "capOS" else linux_ok(boot)
            if not ok:
                ic_checks.append(f"**warning**: the {label} icount boot did not finish cleanly "
                                 f"(exit status {boot.status}"
                                 f"{', timed out' if boot.timed_out else ''})")
            for warning in icount_checks(label, boot):
                ic_checks.append("**warning**: " + warning)
            spreads = [icount_spread(f) for f in boot.figures.values()]
            khz = boot.tsc_khz()
            if spreads and khz:
                ic_checks.append(f"{label} calibrated {khz / 1000:,.1f} MHz, its slowest batch "
                                 f"{max(spreads) * 100:.2f}% above its fastest at most "
                                 f"({boot.elapsed:.0f} s of the host's time)")
        if ic_checks:
            out.append("- Instruction-count boots, sanity checks (batches of a figure should "
                       f"agree to {ICOUNT_SPREAD * 100:g}%, the TSC run at 1 GHz): " +
                       "; ".join(ic_checks) + ".")
    out.append("")

    out += [("### Targets (ratio = capOS / Linux, from TSC ticks and from instructions)"
             if icount else "### Targets (ratio = capOS / Linux, from TSC ticks)"), ""]
    # Beside the ratio of the medians (the judged one), the ratio of the two
    # systems' fastest batches: noise on a shared host only ever adds time, and
    # it does not fall on both guests alike, so when the two ratios part, the
    # run was noisy.
    head = ("| capOS operation | capOS | Linux counterpart | Linux | tick ratio | "
            "fastest-batch ratio |")
    sep = "|---|---:|---|---:|---:|---:|"
    if icount:
        head += " instructions ratio |"
        sep += "---:|"
    head += " target | met |"
    sep += "---:|---|"
    if linux_max:
        head += " ratio against Linux with `-cpu max` |"
        sep += "---:|"
    out += [head, sep]
    met_count, total, unmeasured = 0, 0, 0
    for cname, cwhat, lname, lwhat, target in TARGETS:
        c = capos.figures.get(cname)
        l = linux.figures.get(lname) if linux else None
        r = ratio(c["ticks"] if c else None, l["ticks"] if l else None)
        total += 1
        unmeasured += r is None
        met = "n/a" if r is None else ("**yes**" if r <= target else "no")
        met_count += r is not None and r <= target
        fastest = ratio(c["min_ns"] if c else None, l["min_ns"] if l else None)
        row = (f"| {cwhat} | {fmt_ns(c['ns']) if c else 'not measured'} | {lwhat} | "
               f"{fmt_ns(l['ns']) if l else 'n/a'} | {fmt_ratio(r)} | {fmt_ratio(fastest)} |")
        if icount:
            ic = ic_capos.figures.get(cname) if ic_capos else None
            il = ic_linux.figures.get(lname) if ic_linux else None
            mark = WAIT_MARK if cname in WAITS or lname in WAITS else ""
            r_ic = ratio(ic["ns"] if ic else None, il["ns"] if il else None)
            row += f" {fmt_ratio(r_ic, mark)} |"
        row += f" ≤ {target:g} | {met} |"
        if linux_max:
            lm = linux_max.figures.get(lname)
            rm = ratio(c["ticks"] if c else None, lm["ticks"] if lm else None)
            row += f" {f'{rm:.2f}' if rm is not None else 'n/a'} |"
        out.append(row)

    # Boot: QEMU start to the first line each benchmark prints, by the host's clock.
    c_first = capos.first("bench: init main")
    l_first = linux.first("bench: peer main") if linux else None
    # With the shell system's boots, capOS's side is QEMU's start to the shell's
    # prompt (what a person waits for after `make run`).
    prompt = (median([b.prompt for b in shell_boots])
              if shell_boots and all(b.prompt is not None for b in shell_boots) else None)
    c_boot = prompt if shell_boots else (c_first[0] if c_first else None)
    r = ratio(c_boot, l_first[0] if l_first else None)
    total += 1
    unmeasured += r is None
    met_count += r is not None and r <= 0.1
    what = ("QEMU start to the shell's prompt (`capos> `, `system/boot.cpio`)" if shell_boots
            else "QEMU start to init's first line (`bench: init main`)")
    row = (f"| {what} | {fmt_s(c_boot)} | QEMU start to the benchmark's first line | "
           f"{fmt_s(l_first[0] if l_first else None)} | {fmt_ratio(r)} | – |")
    # Under icount the TSC at the first line is the instructions (and halted
    # time) since QEMU's start.
    ic_boot_capos = first_tsc(ic_capos, "bench: init main")
    ic_boot_linux = first_tsc(ic_linux, "bench: peer main")
    if icount:
        row += (" – |" if shell_boots else
                f" {fmt_ratio(ratio(ic_boot_capos, ic_boot_linux), WAIT_MARK)} |")
    row += f" ≤ 0.1 | {'n/a' if r is None else ('**yes**' if r <= 0.1 else 'no')} |"
    if linux_max:
        lm_first = linux_max.first("bench: peer main")
        rm = ratio(c_boot, lm_first[0] if lm_first else None)
        row += f" {f'{rm:.2f}' if rm is not None else 'n/a'} |"
    out.append(row)

    if memory:
        cm, lm = memory.get("capOS"), memory.get("Linux")
        r = ratio(cm, lm)
        total += 1
        unmeasured += r is None
        met_count += r is not None and r <= 0.25
        what = ("smallest `-m` that boots to the shell's prompt and answers a `call`"
                if shell_boots else "smallest `-m` that boots and runs the (quick) benchmark")
        row = (f"| {what} | "
               f"{f'{cm} MiB' if cm else 'n/a'} | the same for the Linux guest | "
               f"{f'{lm} MiB' if lm else 'n/a'} | {fmt_ratio(r)} | – |" +
               (" – |" if icount else "") +
               f" ≤ 0.25 | {'n/a' if r is None else ('**yes**' if r <= 0.25 else 'no')} |")
        if linux_max:
            row += " – |"
        out.append(row)
    else:
        out.append("| smallest `-m` that boots and runs the suite | not measured "
                   "(`--no-memory-search`) | | | | – |" + (" – |" if icount else "") +
                   " ≤ 0.25 | n/a |" + (" |" if linux_max else ""))
        total += 1
        unmeasured += 1
    summary = f"{met_count} of {total} targets met in this run"
    if unmeasured:
        summary += f"; {unmeasured} could not be judged (no figure on one side)"
    out += ["", summary + ".", ""]

    out += ["### capOS (bench system, `system/bench.cpio`)", ""]
    out += figure_table("capOS figure", CAPOS_FIGURES, capos, ic_capos)
    out += [""]
    if linux:
        out += ["### Linux (Debian's kernel, busybox initramfs)", ""]
        out += figure_table("Linux figure", LINUX_FIGURES, linux, ic_linux)
        out += [""]
    if ic_capos or ic_linux:
        out += [f"Instructions: per operation, from the `-icount shift=0` boot; {WAIT_MARK} "
                "may include halted time.", ""]
    if linux_max:
        out += ["Linux again with capOS's `-cpu max` (everything else as above), for the "
                "right-hand ratio column:", ""]
        out += figure_table("Linux `-cpu max`", LINUX_FIGURES, linux_max)
        out += [""]

    out += ["### Boot", "", "Medians over the boots above.", "",
            "| | by the host's clock (from QEMU's start) | by the guest's clock |",
            "|---|---:|---:|"]
    k_first = capos.each(lambda b: b.lines[0][0] if b.lines else None)
    k_init = capos.first("init: started '")

    def log_seconds(boot):
        found = boot.first("init: started '")
        m = KERNEL_LOG.match(found[1]) if found else None
        return float(m.group(1)) if m else None

    def main_seconds(boot):
        found = boot.first("kernel_clock_to_init_main_ns=")
        return int(found[1].split("=")[1]) / 1e9 if found else None

    k_init_ts = capos.each(log_seconds)
    main_ns = capos.each(main_seconds)
    out.append(f"| capOS: the kernel's first line | {fmt_s(k_first)} | "
               "0 (the kernel's clock starts after its 10 ms PIT calibration) |")
    out.append(f"| capOS: the kernel logs `init: started` | {fmt_s(k_init[0] if k_init else None)} | "
               f"{f'{k_init_ts:.6f} s (its log timestamp)' if k_init_ts is not None else 'n/a'} |")
    out.append(f"| capOS: init's `main` prints its first line | "
               f"{fmt_s(c_first[0] if c_first else None)} | "
               f"{f'{main_ns:.6f} s (`Timer.now` in main)' if main_ns else 'n/a'} |")
    out.append(f"| capOS: the whole run, until QEMU exits | {capos.elapsed:.2f} s | |")
    if shell_boots:
        out.append(f"| capOS shell system: the first `capos> ` prompt | {fmt_s(prompt)} | |")
    if linux:
        lk = linux.each(lambda b: b.lines[0][0] if b.lines else None)
        out.append(f"| Linux: first serial line (`quiet`: the benchmark's) | {fmt_s(lk)} | |")
        out.append(f"| Linux: the benchmark's first line | "
                   f"{fmt_s(l_first[0] if l_first else None)} | |")
        out.append(f"| Linux: the whole run, until QEMU exits | {linux.elapsed:.2f} s | |")
    out.append("")
    if ic_boot_capos or ic_boot_linux:
        def fmt_m(tsc):
            return f"{tsc / 1e6:,.1f} M" if tsc else "n/a"

        out += [f"Under `-icount shift=0`, the TSC at the benchmark's first line (instructions "
                f"since QEMU's start, plus any halted time{WAIT_MARK}): capOS "
                f"{fmt_m(ic_boot_capos)}, Linux {fmt_m(ic_boot_linux)}.", ""]

    if memory:
        out += ["Smallest `-m`, found by bisection in steps of 1 MiB: each step boots the system "
                "again (capOS: the shell system, `system/boot.cpio`, what `make run` boots: a "
                "step passes when the prompt comes, `call @timer.now()` typed at it is answered "
                "and `halt` ends QEMU cleanly; Linux: its benchmark in quick mode, `peer_quick` "
                "on the kernel command line, plus `panic=1` so that a kernel that runs out of "
                "memory ends QEMU, passing when every figure is printed, nothing failed and the "
                "guest exited cleanly; its run includes busybox's shell, `/init`).", ""]
        for label, steps in memory.get("steps", {}).items():
            desc = ", ".join(f"{m}M {'ok' if ok else ('hung' if to else 'failed')}"
                             for m, ok, _, to in steps)
            out.append(f"- {label}: {desc}")
        out.append("")

    if scaling:
        out += ["### Several CPUs", "",
                f"Throughput, the median of {SCALING_BOOTS} boots of each at each CPU count (the "
                "systems and counts taking turns), with a host thread per CPU "
                "(`-accel tcg,thread=multi`) beyond one: capOS's `system/pairs_bench.cpio` "
                "(`user/tests/pairs_bench.cpp`: an Echo server and a client per online CPU, "
                "20,000 checked round trips per client, all started at once) against the "
                "peer's `peer_bench --pairs` (a futex round-trip pair of processes per online "
                "CPU, 20,000 round trips each); round trips per second from the first start to "
                "the last pair's end. The target is capOS's own scaling: at least 0.8 N times "
                f"its N=1 figure. This host has {os.cpu_count()} CPUs: no figure can scale "
                "beyond that many times its N=1 figure, and with more guest CPUs than host "
                "ones a guest CPU holding a lock is often not running (the share of time "
                "capOS's CPUs wait for the kernel lock shows it).", ""]
        out += scaling_table(scaling)
        out += [""]

    out += ["### How to reproduce", "",
            "`make bench` (here `make bench BUILD_DIR=" + args.build_dir + " JOBS=2`). It installs "
            "the bench-only packages first (`scripts/bench-deps.sh`: `linux-image-amd64`, "
            "`busybox-static`; `make deps` and `make test` do not), builds the capOS bench system "
            "and the Linux peer (`bench/linux/build.sh`: extracts the uncompressed vmlinux from "
            "`/boot/vmlinuz-*` with `bench/linux/extract_vmlinux.py`, builds `peer_bench` and the "
            "initramfs), then runs `bench/run_bench.py`, which boots both, prints this section "
            "and writes it here and to `build/bench/system_bench.md`, with every guest's serial "
            "log (each line with its host timestamp) beside it. One system alone: "
            "`build/tools/qemu-runner/capos-qemu run --kernel build/kernel/kernel.elf --initrd "
            "build/system/bench.cpio --append shutdown` (add `-- -icount shift=0` for its "
            "instruction counts). `make test` runs "
            "`bench.capos_smoke`, which boots `system/bench_quick.cpio` (three 2 ms batches per "
            "figure) and checks that every line appears, but no timing.", "", END]
    return "\n".join(out) + "\n"


def write_doc(path, section):
    with open(path) as f:
        text = f.read()
    if BEGIN in text and END in text:
        before = text[:text.index(BEGIN)]
        after = text[text.index(END) + len(END):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--linux-dir")
    parser.add_argument("--doc")
    parser.add_argument("--boots", type=int, default=3,
                        help="boots of each system, taking turns (default 3)")
    parser.add_argument("--no-memory-search", action="store_true")
    parser.add_argument("--no-cpu-max", action="store_true",
                        help="skip the second Linux run with -cpu max")
    parser.add_argument("--no-icount", action="store_true",
                        help="skip the instruction-count boots (-icount shift=0)")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the endpoint and futex pairs on several CPUs")
    disk = parser.add_mutually_exclusive_group()
    disk.add_argument("--no-disk", action="store_true", help="skip the disk figures")
    disk.add_argument("--disk-only", action="store_true",
                      help="run the disk figures alone (and write only their section)")
    fs = parser.add_mutually_exclusive_group()
    fs.add_argument("--no-fs", action="store_true", help="skip the filesystem figures")
    fs.add_argument("--fs-only", action="store_true",
                    help="run the filesystem figures alone (and write only their section); "
                    "with --disk-only, those two sections alone")
    net = parser.add_mutually_exclusive_group()
    net.add_argument("--no-net", action="store_true", help="skip the network figures")
    net.add_argument("--net-only", action="store_true",
                     help="run the network figures alone (and write only their section); "
                     "with --disk-only or --fs-only, those sections alone")
    parser.add_argument("--disk-kind", action="append", choices=[k.name for k in DISK_KINDS],
                        help="the kind of disk for the disk figures (repeatable; "
                        "default: every kind)")
    args = parser.parse_args()
    build = args.build_dir
    out_dir = os.path.join(build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    linux_dir = args.linux_dir or os.path.join(out_dir, "linux")
    log = lambda text: print(text, flush=True)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    linux_ready = os.path.exists(os.path.join(linux_dir, "ready"))
    if linux_ready:
        with open(os.path.join(linux_dir, "ready")) as f:
            linux_note = f.read().strip()
    else:
        failed = os.path.join(linux_dir, "failed")
        linux_note = ("the peer could not be built: " + open(failed).read().strip()
                      if os.path.exists(failed)
                      else f"no Linux peer in {linux_dir}: run bench/linux/build.sh")
        log(f"run_bench: Linux peer not run ({linux_note})")

    # The systems take turns, so that a change in the host's load falls on both.
    capos_boots, linux_boots, max_boots = [], [], []

    def run(label, cmd, timeout, ok, boots, log_name, of=args.boots):
        log(f"run_bench: {label} (boot {len(boots) + 1} of {of})")
        boot = Boot(label, cmd, timeout)
        boot.save(os.path.join(out_dir, f"{log_name}_{len(boots) + 1}.log"))
        for t, text in boot.lines:
            if text.startswith("bench:"):
                log(f"  [{t:7.3f} s] {text}")
        if not ok(boot):
            log(f"run_bench: {label} did not finish cleanly (exit status {boot.status}"
                f"{', timed out' if boot.timed_out else ''}); see "
                f"{out_dir}/{log_name}_{len(boots) + 1}.log")
        boots.append(boot)

    if args.disk_only or args.fs_only or args.net_only:
        good = True
        if args.disk_only:
            section, good = run_disk(args, build, out_dir, linux_dir, linux_ready, linux_note,
                                     when, run, log)
            finish_disk(args, out_dir, section, log)
        if args.fs_only:
            section, fs_good = run_fs(args, build, out_dir, linux_dir, linux_ready, linux_note,
                                      when, run, log)
            finish_fs(args, out_dir, section, log)
            good = good and fs_good
        if args.net_only:
            section, net_good = run_net(args, build, out_dir, linux_dir, linux_ready, linux_note,
                                        when, log)
            finish_net(args, out_dir, section, log)
            good = good and net_good
        return 0 if good else 1

    shell_boots = []
    for _ in range(args.boots):
        run("capOS bench system", capos_command(build, "bench.cpio"), 180, capos_ok, capos_boots,
            "capos_serial")
        log(f"run_bench: capOS shell system (boot {len(shell_boots) + 1} of {args.boots})")
        shell = ShellBoot("capOS shell system", capos_command(build, "boot.cpio"), 60)
        log(f"  prompt after {shell.prompt if shell.prompt is not None else float('nan'):.3f} s, "
            f"call {'answered' if shell.answered else 'not answered'}, exit status "
            f"{shell.status}")
        shell_boots.append(shell)
        if linux_ready:
            run("Linux peer", linux_command(linux_dir), 300, linux_ok, linux_boots,
                "linux_serial")
            if not args.no_cpu_max:
                run("Linux peer with -cpu max", linux_command(linux_dir, cpu_max=True), 300,
                    linux_ok, max_boots, "linux_cpu_max_serial")
    capos_good = all(capos_ok(b) for b in capos_boots) and all(b.ok() for b in shell_boots)
    linux_good = linux_ready and all(linux_ok(b) for b in linux_boots)
    capos = Series(capos_boots)
    linux = Series(linux_boots) if linux_boots else None
    linux_max = Series(max_boots) if max_boots else None

    # Instruction counts: deterministic, so one boot each. A full run takes a few
    # times longer than the timed boots under icount (capOS ~15 s, Linux 30-60 s
    # here), hence the longer timeouts.
    icount, icount_good = None, True
    if not args.no_icount:
        icount = {"capOS": None, "Linux": None}
        got = []
        run("capOS bench system with -icount shift=0",
            icount_command(capos_command(build, "bench.cpio")), 600, capos_ok, got,
            "capos_icount_serial", of=1)
        icount["capOS"] = got[0]
        icount_good = capos_ok(got[0])
        if linux_ready:
            got = []
            run("Linux peer with -icount shift=0", icount_command(linux_command(linux_dir)),
                1200, linux_ok, got, "linux_icount_serial", of=1)
            icount["Linux"] = got[0]
            icount_good = icount_good and linux_ok(got[0])
        for label, boot in icount.items():
            for warning in icount_checks(label, boot) if boot else []:
                log(f"run_bench: warning: {warning}")

    memory = None
    if not args.no_memory_search and capos_good:
        log("run_bench: smallest -m for capOS (bisection)")
        memory = {"steps": {}}
        memory["capOS"], memory["steps"]["capOS"] = smallest_memory(
            "capOS", lambda m: capos_command(build, "boot.cpio", m), ShellBoot.ok, 1, 128, 15,
            log, ShellBoot)
        if linux_good:
            log("run_bench: smallest -m for Linux (bisection)")
            memory["Linux"], memory["steps"]["Linux"] = smallest_memory(
                "Linux", lambda m: linux_command(linux_dir, m, "peer_quick panic=1"), linux_ok,
                1, 256, 25, log)

    scaling = None
    if not args.no_scaling:
        # Each system at each CPU count SCALING_BOOTS times, taking turns
        # (a host's speed drifts between boots): the median boot counts.
        runs = {cpus: {"capOS": [], "Linux": []} for cpus in SCALING_CPUS}
        for _ in range(SCALING_BOOTS):
            for cpus in SCALING_CPUS:
                got = runs[cpus]["capOS"]
                run(f"capOS endpoint pairs on {cpus} CPUs",
                    with_cpus(capos_command(build, "pairs_bench.cpio"), cpus), 300,
                    lambda b: pairs_rate(b) is not None, got, f"capos_pairs_{cpus}",
                    of=SCALING_BOOTS)
                log(f"  {got[-1].first('pairs: ')[1] if got[-1].first('pairs: ') else 'no result'}")
                if linux_ready:
                    got = runs[cpus]["Linux"]
                    run(f"Linux futex pairs on {cpus} CPUs",
                        with_cpus(linux_command(linux_dir, extra_append="peer_pairs"), cpus), 300,
                        lambda b: pairs_rate(b) is not None, got, f"linux_pairs_{cpus}",
                        of=SCALING_BOOTS)
                    log(f"  {got[-1].first('pairs: ')[1] if got[-1].first('pairs: ') else 'no result'}")
        scaling = {}
        for cpus in SCALING_CPUS:
            capos_boot = median_boot(runs[cpus]["capOS"])
            scaling[cpus] = {"capOS": pairs_rate(capos_boot) if capos_boot else None,
                             "capOS lock": lock_wait(capos_boot) if capos_boot else None}
            if linux_ready:
                linux_boot = median_boot(runs[cpus]["Linux"])
                scaling[cpus]["Linux"] = pairs_rate(linux_boot) if linux_boot else None

    disk_good = True
    if not args.no_disk:
        disk_section, disk_good = run_disk(args, build, out_dir, linux_dir, linux_ready,
                                           linux_note, when, run, log)

    fs_good = True
    if not args.no_fs:
        fs_section, fs_good = run_fs(args, build, out_dir, linux_dir, linux_ready, linux_note,
                                     when, run, log)

    net_good = True
    if not args.no_net:
        net_section, net_good = run_net(args, build, out_dir, linux_dir, linux_ready,
                                        linux_note, when, log)

    section = report(args, capos, linux, linux_max, memory, linux_note, when, icount,
                     shell_boots, scaling)
    with open(os.path.join(out_dir, "system_bench.md"), "w") as f:
        f.write(section)
    print()
    print(section)
    if args.doc:
        write_doc(args.doc, section)
        log(f"run_bench: wrote the section into {args.doc}")
    if not args.no_disk:
        finish_disk(args, out_dir, disk_section, log)
    if not args.no_fs:
        finish_fs(args, out_dir, fs_section, log)
    if not args.no_net:
        finish_net(args, out_dir, net_section, log)
    return (0 if capos_good and icount_good and disk_good and fs_good and net_good and
            (not linux_ready or linux_good) else 1)


def finish_disk(args, out_dir, section, log):
    """Prints the disk section and writes it beside the main one."""
    with open(os.path.join(out_dir, "disk_bench.md"), "w") as f:
        f.write(section)
    print()
    print(section)
    if args.doc:
        write_disk_doc(args.doc, section)
        log(f"run_bench: wrote the disk section into {args.doc}")


def finish_fs(args, out_dir, section, log):
    """Prints the filesystem section and writes it after the disk one."""
    with open(os.path.join(out_dir, "fs_bench.md"), "w") as f:
        f.write(section)
    print()
    print(section)
    if args.doc:
        write_fs_doc(args.doc, section)
        log(f"run_bench: wrote the filesystem section into {args.doc}")


def finish_net(args, out_dir, section, log):
    """Prints the network section and writes it after the filesystem one."""
    with open(os.path.join(out_dir, "net_bench.md"), "w") as f:
        f.write(section)
    print()
    print(section)
    if args.doc:
        write_net_doc(args.doc, section)
        log(f"run_bench: wrote the network section into {args.doc}")


if __name__ == "__main__":
    sys.exit(main())
