#!/usr/bin/env python3
"""Deterministic profile of the TCP host -> guest figure (docs/performance.md,
"Network"): where a received frame's instructions go.

Boots the network bench system (build/system/bench_net.cpio: virtio-net, the
network stack, net-bench) on QEMU's user network with the profiling plugin
(bench/plugin), sends BYTES to net-bench's sink (bench/net_client), whose
connection net-bench marks from its accept to its last byte, and prints,
per frame received (net-bench's stack counts them in its exit line): guest
instructions in all, in the kernel and in user code, system calls,
address-space switches, the kernel functions that take the most, and the
user functions that take the most in each of the three programs. The
programs are linked at the same addresses, so a user block is named from
each program whose symbols cover it; the counts of one are exact, and a
program's list can hold another's blocks under its names. Instruction
counts do not depend on the host's load (the frames per receive and the
ACKs sent do, a little).

  bench/net_profile.py --build-dir build [--plugin build/bench/plugin/libcapos_profile.so]
      [--bytes 16777216] [--top 12]

`make profile` builds the plugin and runs it after the ring's figures.
"""
import argparse
import bisect
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROGRAMS = {"netstack": "user/services/netstack.elf",
            "virtio-net": "user/drivers/virtio_net.elf",
            "net-bench": "user/bench/net_bench.elf"}
READY_S = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def symbols(path, kinds="tTwW"):
    out = subprocess.run(["nm", "-S", "--defined-only", "-C", path], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    table = []
    for row in out.splitlines():
        parts = row.split(None, 3)
        if len(parts) == 4 and parts[2] in kinds:
            table.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    table.sort()
    return table


def name_blocks(table, blocks):
    starts = [start for start, _, _ in table]
    totals = {}
    for address, count in blocks.items():
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < table[i][0] + max(table[i][1], 1):
            totals[table[i][2]] = totals.get(table[i][2], 0) + count
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--plugin", help="default: BUILD/bench/plugin/libcapos_profile.so")
    parser.add_argument("--bytes", type=int, default=16 << 20)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    plugin = os.path.abspath(args.plugin or os.path.join(build, "bench/plugin/libcapos_profile.so"))
    if not os.path.exists(plugin):
        sys.exit("net_profile.py: %s is not built (bench/plugin/build.sh)" % plugin)
    with tempfile.TemporaryDirectory() as work:
        syms = os.path.join(work, "kernel.syms")
        with open(syms, "w") as out:
            subprocess.run(["nm", "-S", "--defined-only", os.path.join(build, "kernel/kernel.elf")],
                           stdout=out, check=True)
        report = os.path.join(work, "report.txt")
        sink, echo = free_port(), free_port()
        forwards = "hostfwd=tcp:127.0.0.1:%d-:5001,hostfwd=tcp:127.0.0.1:%d-:5003" % (sink, echo)
        cmd = ["qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1",
               "-m", "128M", "-no-reboot", "-display", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
               "-monitor", "none", "-kernel", os.path.join(build, "kernel/kernel.elf"),
               "-initrd", os.path.join(build, "system/bench_net.cpio"), "-append", "shutdown",
               "-netdev", "user,id=n0," + forwards, "-device", "virtio-net-pci,netdev=n0",
               "-plugin", "%s,syms=%s,out=%s" % (plugin, syms, report)]
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            raw.decode("utf-8", "replace").rstrip() for raw in qemu.stdout), daemon=True)
        reader.start()
        client = os.path.join(build, "bench/net_client")
        try:
            deadline = time.monotonic() + READY_S
            while not any("net-bench: ready" in line for line in list(lines)):
                if time.monotonic() > deadline or qemu.poll() is not None:
                    sys.exit("net_profile.py: net-bench not ready:\n" + "\n".join(lines[-40:]))
                time.sleep(0.1)
            subprocess.run([client, "sink", str(sink), str(args.bytes)], check=True,
                           stdout=subprocess.DEVNULL, timeout=600)
            subprocess.run([client, "quit", str(echo)], check=True, stdout=subprocess.DEVNULL,
                           timeout=60)
            qemu.wait(120)
        finally:
            if qemu.poll() is None:
                qemu.kill()
        reader.join(10)
        exit_line = next((line for line in lines if "netstack: every client has gone" in line),
                         "")
        frames = re.search(r"\((\d+) frames received in (\d+) receives", exit_line)
        if not frames or not os.path.exists(report):
            sys.exit("net_profile.py: no report or frame count:\n" + "\n".join(lines[-40:]))
        received, receives = int(frames.group(1)), int(frames.group(2))
        values, functions, user_blocks = {}, [], {}
        with open(report) as f:
            for row in f:
                parts = row.split(maxsplit=2)
                if parts[0] == "function":
                    functions.append((int(parts[1]), parts[2].strip()))
                elif parts[0] == "user_block":
                    user_blocks[int(parts[1], 16)] = int(parts[2])
                elif len(parts) == 2:
                    values[parts[0]] = int(parts[1])
    if values.get("windows") != 1:
        sys.exit("net_profile.py: %s profile windows, not 1" % values.get("windows"))
    per = lambda n: n / received
    insns, user = values["insns"], values["user_insns"]
    print("net_profile: %d bytes host -> guest, %d frames in %d receives (%.1f a receive)"
          % (args.bytes, received, receives, received / max(receives, 1)))
    print("per frame: %.0f instructions (kernel %.0f, user %.0f), %.2f system calls, "
          "%.2f address-space switches" % (per(insns), per(insns - user), per(user),
                                           per(values["syscalls"]), per(values["switches"])))
    demangled = subprocess.run(["c++filt"], input="\n".join(name for _, name in functions),
                               stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()
    print("kernel functions (instructions a frame):")
    ranked = sorted(zip((count for count, _ in functions), demangled), reverse=True)
    for count, name in ranked[:args.top]:
        print("  %7.0f  %s" % (per(count), name[:110]))
    for program, path in PROGRAMS.items():
        totals = name_blocks(symbols(os.path.join(build, path)), user_blocks)
        print("user functions, named from %s (instructions a frame):" % program)
        for name, count in sorted(totals.items(), key=lambda item: -item[1])[:args.top]:
            print("  %7.0f  %s" % (per(count), name[:110]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
