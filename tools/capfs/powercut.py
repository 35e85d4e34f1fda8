#!/usr/bin/env python3
"""Power cuts of a capOS filesystem, the way a machine loses its power.

One image goes through every cut. Each round boots capOS in QEMU on the image
(written straight to the file: cache=directsync; with --ram the image lives in
/dev/shm, which has no O_DIRECT, and cache=writethrough puts every write in the
file before the guest hears it is done) with the powercut program
(user/tests/powercut.cpp), which first checks every file the last round left
(a fresh boot's verification) and then writes without end, saying each step and
each sync that returned. After a random time the host kills QEMU (SIGKILL:
nothing more reaches the disk), then:

  1. capos-capfs check: the image must be consistent;
  2. every file whose last step before the cut was synced must hold exactly
     that version, and a file whose removal was synced must be gone
     (capos-capfs cat against the same content the program makes);
  3. the next round's boot reads everything again.

Prints one line a round and a summary; exits 1 when any image was
inconsistent or any synced file was wrong, 2 when the harness itself failed.
"""

import argparse
import functools
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HEADER = 16
MAGIC = 0x74756370


# Every round checks every synced file again, most of them unchanged since the
# last: their expected bytes are made once (the loop below is pure Python).
@functools.lru_cache(maxsize=8192)
def content(index, version, length):
    out = bytearray(length)
    out[0:16] = (MAGIC.to_bytes(4, "little") + index.to_bytes(4, "little") +
                 version.to_bytes(4, "little") + length.to_bytes(4, "little"))
    mask = (1 << 64) - 1
    state = (((index << 32) | version) * 0x9E3779B97F4A7C15 + 1) & mask
    for i in range(HEADER, length):
        state ^= state >> 12
        state ^= (state << 25) & mask
        state ^= state >> 27
        out[i] = ((state * 0x2545F4914F6CDD1D) & mask) >> 56
    return bytes(out)


def qemu_command(args, image):
    return ["qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1",
            "-m", "128M", "-no-reboot", "-display", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-serial", "stdio", "-monitor", "none",
            "-kernel", args.kernel, "-initrd", args.archive,
            "-drive", f"file={image},if=none,id=data,format=raw,cache={args.cache}",
            "-device", "virtio-blk-pci,drive=data,disable-legacy=on"]


class Round:
    """One boot: its serial lines, and what they say was done."""

    def __init__(self):
        self.lines = []
        self.verified = None


def run_round(args, image, rng, log):
    """Boots, waits for the verification line, lets it write for a random
    while, kills QEMU; returns the serial lines."""
    qemu = subprocess.Popen(qemu_command(args, image), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    pending = b""
    cut_at = None
    start = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if cut_at is not None and now >= cut_at:
                break
            if cut_at is None and now - start > args.boot_timeout:
                raise RuntimeError("no verification line within %d s" % args.boot_timeout)
            wait = (cut_at - now) if cut_at is not None else 1.0
            ready, _, _ = select.select([qemu.stdout], [], [], max(wait, 0))
            if not ready:
                continue
            chunk = os.read(qemu.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("QEMU ended by itself (status %s)" % qemu.wait())
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append(line)
                if log:
                    log.write(line + "\n")
                if "PANIC" in line or "FAILED" in line:
                    raise RuntimeError("the guest said: " + line)
                if cut_at is None and line.startswith("powercut: verified"):
                    cut_at = time.monotonic() + rng.uniform(args.min_run, args.max_run)
    finally:
        qemu.send_signal(signal.SIGKILL)
        qemu.wait()
    # What QEMU wrote but the harness had not read yet counts: the steps it
    # says were made before the kill. The kill may cut the last line short:
    # it comes back apart.
    rest = qemu.stdout.read() if qemu.stdout else b""
    *complete, partial = (pending + rest).split(b"\n")
    for raw in complete:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line:
            lines.append(line)
    return lines, partial.decode("utf-8", "replace").rstrip("\r")


STEP = re.compile(r"powercut: (writing|removing) f(\d+)(?: v(\d+) (\d+))?")
CUT_STEP = re.compile(r"powercut: (?:writing|removing) f(\d*)")
STEP_STARTS = ("powercut: writing f", "powercut: removing f")
SYNCED = re.compile(r"powercut: synced \d+")
VERIFIED = re.compile(r"powercut: verified (\d+) files, (\d+) bad")


def expectations(lines, known, partial=""):
    """Updates `known` (file index -> (version, length) or None for removed,
    as last synced) from one round's lines; returns the indexes whose last
    step was not followed by a sync (their contents may be either), and
    those a last line the kill cut short may have named: every file whose
    index begins with the digits it kept (all of them if it kept none)."""
    pending = {}
    unknown = set()
    for line in lines:
        m = STEP.search(line)
        if m:
            index = int(m.group(2))
            if m.group(1) == "removing":
                pending[index] = None
            elif m.group(3) is None:
                unknown.add(index)  # (a whole line always has its version)
            else:
                pending[index] = (int(m.group(3)), int(m.group(4)))
            continue
        if SYNCED.search(line):
            known.update(pending)
            pending = {}
    unsettled = set(pending) | unknown
    m = CUT_STEP.search(partial)
    if m:
        digits = m.group(1)
    elif partial and any(start.startswith(partial) for start in STEP_STARTS):
        digits = ""
    else:
        return unsettled
    return unsettled | {i for i in set(known) | set(pending) if str(i).startswith(digits)}


def present_files(args, image):
    """The files the image holds: index -> length."""
    listing = subprocess.run([args.tool, "ls", image], capture_output=True, text=True)
    present = {}
    for line in listing.stdout.splitlines():
        m = re.match(r"/f(\d+) (\d+)$", line)
        if m:
            present[int(m.group(1))] = int(m.group(2))
    return present


def settle(args, image, known, unsettled):
    """A step the cut interrupted may or may not have reached the disk: what
    the image holds is what the next rounds expect of those files. (A cut
    that kept no digit of the file's name leaves every file ever named
    unsettled: one listing tells which of them are there, and only those are
    read.)"""
    present = present_files(args, image)
    for index in unsettled:
        if index not in present:
            known[index] = None
            continue
        data = subprocess.run([args.tool, "cat", image, "f%d" % index],
                              capture_output=True)
        if data.returncode != 0:
            known[index] = None
            continue
        header = data.stdout[:HEADER]
        version = int.from_bytes(header[8:12], "little")
        length = int.from_bytes(header[12:16], "little")
        known[index] = (version, length)


def check_round(args, image, known, unsettled):
    problems = []
    checked = subprocess.run([args.tool, "check", image], capture_output=True, text=True)
    if checked.returncode != 0:
        problems.append("inconsistent: " + checked.stdout.strip().replace("\n", "; "))
        return problems
    present = present_files(args, image)
    for index, state in known.items():
        if index in unsettled:
            continue
        if state is None:
            if index in present:
                problems.append("f%d: its removal was synced, it is there" % index)
            continue
        version, length = state
        if index not in present:
            problems.append("f%d: synced v%d, it is gone" % (index, version))
            continue
        data = subprocess.run([args.tool, "cat", image, "f%d" % index],
                              capture_output=True).stdout
        want = content(index, version, length)
        if data != want:
            problems.append("f%d: does not hold v%d as synced (%d bytes)" %
                            (index, version, len(data)))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--cuts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--min-run", type=float, default=0.2, help="seconds of writing, least")
    parser.add_argument("--max-run", type=float, default=3.0, help="seconds of writing, most")
    parser.add_argument("--boot-timeout", type=int, default=120)
    parser.add_argument("--log", help="append every serial line here")
    parser.add_argument("--ram", action="store_true",
                        help="the image in /dev/shm (cache=writethrough): no wait for a slow "
                        "host disk")
    args = parser.parse_args()
    args.kernel = os.path.join(args.build_dir, "kernel/kernel.elf")
    args.archive = os.path.join(args.build_dir, "system/powercut.cpio")
    args.tool = os.path.join(args.build_dir, "tools/capfs/capos-capfs")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    print("powercut: %d cuts, seed %d, cache=%s" % (args.cuts, seed,
                                                    "writethrough" if args.ram else "directsync"),
          flush=True)
    if args.ram and not os.path.isdir("/dev/shm"):
        print("powercut: no /dev/shm: the image stays on the disk", flush=True)
        args.ram = False
    args.cache = "writethrough" if args.ram else "directsync"
    work = tempfile.mkdtemp(prefix="capos-powercut-", dir="/dev/shm" if args.ram else None)
    image = os.path.join(work, "data.img")
    log = open(args.log, "a") if args.log else None
    try:
        subprocess.run([args.tool, "make", image, "32"], check=True)
        known = {}
        inconsistent = 0
        wrong = 0
        for cut in range(args.cuts + 1):
            try:
                lines, partial = run_round(args, image, rng, log)
            except RuntimeError as error:
                print("powercut: round %d: %s" % (cut, error), flush=True)
                return 1
            verified = [VERIFIED.search(l) for l in lines if VERIFIED.search(l)]
            if not verified or verified[0].group(2) != "0":
                print("powercut: round %d: the boot's verification failed" % cut, flush=True)
                return 1
            if cut == args.cuts:
                break  # the last boot only verifies what the last cut left
            unsettled = expectations(lines, known, partial)
            problems = check_round(args, image, known, unsettled)
            settle(args, image, known, unsettled)
            steps = sum(1 for l in lines if STEP.search(l))
            status = "ok" if not problems else "PROBLEMS: " + "; ".join(problems[:5])
            print("powercut: cut %d after %d steps, %d files verified at boot: %s" %
                  (cut + 1, steps, int(verified[0].group(1)), status), flush=True)
            if problems:
                if any(p.startswith("inconsistent") for p in problems):
                    inconsistent += 1
                else:
                    wrong += 1
                shutil.copy(image, os.path.join(args.build_dir, "powercut-failed.img"))
                break
        print("powercut: %d cuts, %d inconsistent images, %d with a synced file wrong (seed %d)" %
              (args.cuts, inconsistent, wrong, seed), flush=True)
        return 0 if inconsistent == 0 and wrong == 0 else 1
    finally:
        if log:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
