#!/usr/bin/env python3
"""Turns Google Benchmark JSON (capnp_bench --benchmark_out=FILE) into the Markdown
that docs/performance.md holds: the machine, the date, the command, and a table
of ours against libcapnp with the ratio ours/libcapnp.

Benchmarks are named <group>/<operation>/<message>/<side>, side being `ours` or
`libcapnp`. Pairs become rows of the main table; benchmarks without a libcapnp
counterpart (the halves of our decode) go to a second table. Figures are CPU
time per operation and items per second, the median of the repetitions when the
run had any (--benchmark_repetitions), with the coefficient of variation.

Usage: bench_table.py RESULTS.json [--command "make bench"]
Exits 0; prints a warning on stderr for each row where ours is slower.
"""
import argparse
import json
import os
import platform
import sys
from collections import OrderedDict

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
PARTS = {"decode.validate": "capnp::validate", "decode.read": "read every field"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load(path):
    """{run name: {"ns": .., "items": .., "cv": ..}} from one results file."""
    with open(path) as f:
        data = json.load(f)
    runs = OrderedDict()
    for bench in data["benchmarks"]:
        if bench.get("error_occurred"):
            print(f"warning: {bench['name']}: {bench.get('error_message')}", file=sys.stderr)
            continue
        name = bench.get("run_name", bench["name"])
        kind = bench.get("run_type", "iteration")
        aggregate = bench.get("aggregate_name", "")
        entry = runs.setdefault(name, {})
        ns = bench["cpu_time"] * NS_PER_UNIT[bench.get("time_unit", "ns")]
        if kind == "iteration":
            # Without repetitions: the single run is the figure.
            entry.setdefault("ns", ns)
            entry.setdefault("items", bench.get("items_per_second"))
        elif aggregate == "median":
            entry["ns"] = ns
            entry["items"] = bench.get("items_per_second")
        elif aggregate == "cv":
            # The cv aggregate holds the ratio in its time fields.
            entry["cv"] = bench["cpu_time"]
    return data.get("context", {}), runs


def rate(items):
    if items is None:
        return "–"
    if items >= 1e6:
        return f"{items / 1e6:.2f} M/s"
    return f"{items / 1e3:.1f} k/s"


def time(entry):
    text = f"{entry['ns']:,.1f}"
    if "cv" in entry:
        text += f" (±{entry['cv'] * 100:.0f}%)"
    return text


def split(name):
    """(group, operation, message, side) of <group>/<operation>/<message>/<side>."""
    parts = name.split("/")
    if len(parts) != 4:
        return None
    return tuple(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--command", default="make bench")
    args = parser.parse_args()
    context, runs = load(args.results)

    pairs = OrderedDict()
    alone = []
    for name, entry in runs.items():
        parts = split(name)
        if parts is None or "ns" not in entry:
            continue
        group, operation, message, side = parts
        pairs.setdefault((group, operation, message), {})[side] = entry
    out = []
    out.append(f"- Machine: {os.cpu_count()} CPUs (`nproc`), {cpu_model()}")
    out.append(f"- Date: {context.get('date', 'unknown')}")
    out.append(f"- Command: `{args.command}`")
    out.append("- Build: RelWithDebInfo (-O2), clang 14; libcapnp is Debian's (0.9.2)")
    out.append("- Figures: CPU time per operation, median of the repetitions "
               "(± coefficient of variation); ratio < 1 means ours is faster")
    out.append("")
    out.append("| Message | Operation | ours ns/op | libcapnp ns/op | ours items/s "
               "| libcapnp items/s | ours/libcapnp |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    slower = []
    for (group, operation, message), sides in pairs.items():
        ours = sides.get("ours")
        theirs = sides.get("libcapnp")
        if ours is None:
            continue
        if theirs is None:
            alone.append((operation, message, ours))
            continue
        ratio = ours["ns"] / theirs["ns"]
        if ratio > 1.0:
            slower.append(f"{group}/{operation}/{message}: {ratio:.2f}")
        out.append(f"| {message} | {operation} | {time(ours)} | {time(theirs)} | "
                   f"{rate(ours['items'])} | {rate(theirs['items'])} | {ratio:.2f} |")
    if alone:
        out.append("")
        out.append("Our decode in its two halves (no libcapnp counterpart):")
        out.append("")
        out.append("| Message | Part | ours ns/op |")
        out.append("|---|---|---:|")
        for operation, message, ours in alone:
            part = PARTS.get(operation, operation)
            out.append(f"| {message} | {part} | {time(ours)} |")
    print("\n".join(out))
    for row in slower:
        print(f"warning: ours is slower than libcapnp: {row}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
