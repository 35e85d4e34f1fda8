#!/usr/bin/env python3
"""Times one benchmark figure of two capOS trees against each other.

Timings on a shared host drift by more than the changes the IPC work makes,
so this boots the profile system of the figure (bench/profile.py's, without
the plugin) from each tree in turn, `rounds` times, and compares the TSC ticks
per operation of the figure's marked window, which ring_bench prints on its
"profiled" line. Interleaved boots see the same host.

  bench/ab.py --figure 'ipc_echo*20000' --rounds 9 /path/to/base /path/to/new

Each tree must be built in its `build` directory (kernel, capos-qemu and the
bench programs: the targets `kernel capos-qemu boot-archive-bench`).
"""
import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile


def profile_module(root):
    spec = importlib.util.spec_from_file_location("profile_of_%d" % abs(hash(root)),
                                                  os.path.join(root, "bench/profile.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def qemu_command(root, figure, work):
    build = os.path.join(root, "build")
    archive = profile_module(root).build_archive(build, figure, work)
    run = subprocess.run([os.path.join(build, "tools/qemu-runner/capos-qemu"), "run",
                          "--dry-run", "--kernel", os.path.join(build, "kernel/kernel.elf"),
                          "--initrd", archive, "--append", "shutdown"],
                         stdout=subprocess.PIPE, text=True, check=True)
    return [a if a != "mon:stdio" else "stdio" for a in run.stdout.split()]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figure", required=True, help="name or name*iterations")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("trees", nargs=2, help="base tree, then the tree to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        commands = []
        for index, tree in enumerate(args.trees):
            os.makedirs(os.path.join(work, str(index)))
            commands.append(qemu_command(os.path.abspath(tree), args.figure,
                                         os.path.join(work, str(index))))
        ticks = [[], []]
        for _ in range(args.rounds):
            for index, command in enumerate(commands):
                output = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, timeout=600).stdout
                found = re.search(r"profiled iterations=\d+ ops=(\d+) ticks=(\d+)", output)
                if not found:
                    sys.exit("ab.py: %s did not run the figure:\n%s"
                             % (args.trees[index], output[-2000:]))
                ticks[index].append(int(found.group(2)) / int(found.group(1)))
    for tree, values in zip(args.trees, ticks):
        print("%s: median %.0f, fastest %.0f ticks per operation (%s)"
              % (tree, statistics.median(values), min(values),
                 " ".join("%.0f" % v for v in values)))
    print("second / first: %.3f by medians, %.3f by the fastest"
          % (statistics.median(ticks[1]) / statistics.median(ticks[0]),
             min(ticks[1]) / min(ticks[0])))


if __name__ == "__main__":
    main()
