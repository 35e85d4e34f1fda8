#!/usr/bin/env python3
"""Boots a second capOS machine beside a scenario's (scenario.net_pair).

  second_machine.py PORT ARCHIVE MAC

Starts QEMU as the runner does (TCG, q35, isa-debug-exit, serial on
stdio) with the build's kernel ($CAPOS_ROOT/kernel/kernel.elf), the boot
archive $CAPOS_ROOT/ARCHIVE, and a virtio-net function with MAC whose wire
is QEMU's -netdev socket connected to 127.0.0.1:PORT, where the scenario's
machine listens. Prints its serial lines as "second: <line>". Exits 0 when
the machine ended with the success status and its log holds
"init: exited with code 0" and no "FAILED", "panic" or "PANIC"; 1
otherwise; it is given 100 s.
"""
import os
import subprocess
import sys

TIMEOUT_S = 100
SUCCESS_STATUS = 1  # isa-debug-exit with abi::ExitCode::Success (0): (0 << 1) | 1


def main():
    port, archive, mac = sys.argv[1:4]
    root = os.environ["CAPOS_ROOT"]
    command = [
        "qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1",
        "-m", "128M", "-no-reboot", "-display", "none",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
        "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
        "-serial", "stdio", "-monitor", "none",
        "-kernel", os.path.join(root, "kernel/kernel.elf"),
        "-initrd", os.path.join(root, archive), "-append", "shutdown",
    ]
    machine = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    lines = []
    for raw in machine.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        print(f"second: {line}", flush=True)
    try:
        status = machine.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        machine.kill()
        print("second_machine: the machine did not end", file=sys.stderr)
        return 1
    bad = [line for line in lines if "FAILED" in line or "panic" in line or "PANIC" in line]
    if status != SUCCESS_STATUS or bad or not any("init: exited with code 0" in line
                                                 for line in lines):
        print(f"second_machine: status {status}, {len(bad)} bad lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
