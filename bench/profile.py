#!/usr/bin/env python3
"""Deterministic profile of capOS benchmark figures (bench/plugin).

For each figure named, boots the bench system (bench/manifests/bench.capnp)
with one more grant, "bench-figure:<name>", which makes ring_bench run that
figure only: warm, then exactly 1,000 iterations between two marker
instructions. QEMU loads the capos_profile plugin, which counts, inside the
markers, instructions (per kernel function), system calls, address-space
switches (CR3 writes) and, per stretch between two switches, the distinct
code pages, data pages and translation blocks touched: what QEMU's TLB and
jump cache must refill after each switch. Everything is divided by the number
of operations. Counts are exact and do not depend on the host's load.

  bench/profile.py --build-dir build --plugin build/bench/plugin/libcapos_profile.so \
      ipc_raw timer_now_1 ...
"""
import argparse
import bisect
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_archive(build, figure, work):
    with open(os.path.join(ROOT, "bench/manifests/bench.capnp")) as f:
        text = f.read()
    marker = '(name = "spawner", source = (kernel = processSpawner)),'
    if marker not in text:
        sys.exit("profile.py: bench.capnp no longer grants the spawner as expected")
    text = text.replace(marker, marker + '\n      (name = "bench-figure:%s", source = (kernel = null)),'
                        % figure)
    # A manifest file id must differ from bench.capnp's.
    text = re.sub(r"@0x[0-9a-f]+;", "@0xd2b4c7a1e35f9aff;", text, count=1)
    manifest = os.path.join(work, "profile.capnp")
    with open(manifest, "w") as f:
        f.write(text)
    manifest_bin = os.path.join(work, "manifest.bin")
    with open(manifest_bin, "wb") as out:
        subprocess.run(["capnp", "eval", "--binary", "-I" + ROOT, manifest, "manifest"],
                       stdout=out, check=True)
    archive = os.path.join(work, "profile.cpio")
    programs = {"ring_bench": "user/bench/ring_bench.elf",
                "bench_echo": "user/bench/bench_echo.elf",
                "bench_minimal": "user/bench/bench_minimal.elf"}
    entries = ["manifest.bin=" + manifest_bin,
               "etc/motd=" + os.path.join(ROOT, "system/motd.txt")]
    for name, path in programs.items():
        entries.append("bin/%s=%s" % (name, os.path.join(build, path)))
    subprocess.run([os.path.join(build, "tools/mkarchive/capos-mkarchive"), "-o", archive] +
                   entries, check=True)
    return archive


# Assembly entry points on the paths the figures measure (kernel/arch/x86_64),
# placed first by --ordering.
ASSEMBLY_ON_EVERY_PATH = ["capos_syscall_entry", "capos_context_switch"]
# And right after it the small C++ functions every system call and every
# switch runs, which the assembly calls and returns to: on its page, the
# calls are chained jumps, not lookups (a call to another page is one, and
# after a switch every lookup misses).
CALLED_ON_EVERY_PATH = ["syscall_dispatch", "_ZN5capos6kernel9Scheduler14switch_to_nextEv"]
# cap_enter starts a page of its own (aligned in kernel/ipc/ring.cpp), so its
# loop and commonest paths share one; the room before it, on the page of the
# assembly, takes the hottest functions of the figures that do not switch
# (a kernel service's dispatch), whole: a function across two pages is a
# lookup more on every pass.
PAGE_ALIGNED = "_ZN5capos6kernel9cap_enterERNS0_7ProcessEmm"


def function_sizes(build):
    """Each kernel function's size by its mangled name, and the bytes of the
    assembly placed first (from its first symbol to the next function)."""
    run = subprocess.run(["nm", "-S", "--defined-only", os.path.join(build, "kernel/kernel.elf")],
                         stdout=subprocess.PIPE, text=True, check=True)
    sizes, starts = {}, []
    for line in run.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":
            sizes[fields[3]] = int(fields[1], 16)
            starts.append(int(fields[0], 16))
        elif len(fields) == 3 and fields[2] == ASSEMBLY_ON_EVERY_PATH[0]:
            assembly = int(fields[0], 16)
    after = min(start for start in starts if start > assembly)
    return sizes, after - assembly


def symbols(build, work):
    path = os.path.join(work, "kernel.syms")
    with open(path, "w") as out:
        subprocess.run(["nm", "-S", "--defined-only",
                        os.path.join(build, "kernel/kernel.elf")], stdout=out, check=True)
    return path


# The stages of a call, by the source functions (inlined or not) the kernel's
# instructions come from. An address's inline chain is walked from the
# innermost function out; the first one that a stage names decides. A name
# here is the end of a qualified name ("Endpoint::" for every method of
# Endpoint, "::decode_sqe" for that function) matched against the function's
# name without its arguments. Addresses with no debug information are the
# assembly stubs (system call entry and exit, the context switch, interrupt
# entry).
STAGES = [
    ("system call entry and exit (C++ and assembly)", ["::handle_syscall", "syscall_dispatch",
                                                       "??"]),
    ("SQE copy and decode", ["::decode_sqe", "::decode_sqe_as", "::valid_buffer",
                             "::fields_used"]),
    ("capability lookup", ["CapTable::", "::lookup", "::transport_error_of", "::downcast"]),
    ("params copied in, validated and read", ["::copy_in_message", "capnp::validate", "Walker::",
                                              "::reader_of", "UserSpan::", "ReaderLimits::",
                                              "PointerReader::", "StructReader::",
                                              "MessageReader::"]),
    ("capability transfer", ["::prepare_transfer", "TransferOf::"]),
    ("kernel service: dispatch, results built", ["::call_kernel_service", "::dispatch",
                                                  "::dispatch_call", "MessageBuilder::",
                                                  "StructBuilder::", "TimerService::",
                                                  "NullService::", "KernelServiceOf::",
                                                  "Invocation::"]),
    ("result buffer check, results copied out", ["::user_range_writable", "::raw_user_writable",
                                                 "::raw_user_copy", "::memcpy", "memcpy"]),
    ("answer into the other address space", ["UserDestination::", "UserAddressSpace::translate",
                                             "PendingReply::answer",
                                             "PendingReply::complete_with_message"]),
    ("endpoint", ["Endpoint::", "EndpointState::", "EndpointClient::", "EndpointOwner::",
                  "::take_spare_call", "::keep_spare_call", "::add_outgoing",
                  "::remove_outgoing", "::can_add_outgoing", "IntrusiveList::"]),
    ("completion (owe, post, wake)", ["PendingReply::", "::post_completion",
                                      "::post_own_completion", "::unread",
                                      "::completion_room", "::owe_completion",
                                      "::settle_completion"]),
    ("scheduler and address-space switch", ["Scheduler::", "::context_switch",
                                            "::activate_address_space_of", "PageTables::",
                                            "::set_kernel_stack", "::set_tss_kernel_stack",
                                            "Process::current", "::write_cr3", "::read_cr3"]),
    ("preemption points and clock", ["::read_cycle_counter", "::uptime_microseconds",
                                     "::uptime_nanoseconds", "::open_interrupt_window",
                                     "::interrupt_dispatch", "InterruptsOffStretch::"]),
    ("ring loop", ["::cap_enter", "::handle", "(anonymous namespace)::call",
                   "::endpoint_operation", "::release"]),
]


def stage_of(chain):
    """The stage of an address whose inline chain (innermost first) is `chain`."""
    for function in chain:
        name = function.split("(")[0] if not function.startswith("(") else function
        # Template arguments do not take part: TransferOf<8u>::clear is TransferOf::clear.
        plain, depth = "", 0
        for c in name:
            depth += c == "<"
            if depth == 0:
                plain += c
            depth -= c == ">"
        for stage, names in STAGES:
            if any(plain.endswith(n) or (n.endswith("::") and n in plain + "::")
                   or plain == n for n in names):
                return stage
    return "other kernel work"


def stages(build, blocks):
    """Instructions by stage, from (address, instructions) of kernel blocks."""
    addresses = sorted(blocks)
    run = subprocess.run(["llvm-symbolizer-14", "--obj=" + os.path.join(build, "kernel/kernel.elf"),
                          "--inlining", "--functions=linkage", "--demangle"],
                         input="".join("0x%x\n" % a for a in addresses), stdout=subprocess.PIPE,
                         text=True, check=True)
    # One group of "function\nfile:line" pairs per address, groups separated
    # by an empty line.
    groups = run.stdout.strip("\n").split("\n\n")
    totals, places = {}, {}
    for address, group in zip(addresses, groups):
        lines = group.split("\n")
        chain = [lines[i] for i in range(0, len(lines), 2)]
        stage = stage_of(chain)
        totals[stage] = totals.get(stage, 0) + blocks[address]
        # Where the block starts: its innermost source line and function.
        where = lines[1]
        if where.startswith("/"):
            where = os.path.relpath(os.path.normpath(where), ROOT)
        # The debug information names sources through the build directory's
        # prefix map ("build/lib/...", "build/build/kernel/..."): shown as
        # paths in the tree.
        while where.startswith("build/") and not os.path.exists(
                os.path.join(ROOT, where.split(":")[0])):
            where = where[len("build/"):]
        place = "%s (%s)" % (where, chain[0].split("(")[0][-60:])
        places[place] = places.get(place, 0) + blocks[address]
    return totals, places


USER_PROGRAMS = ("ring_bench", "bench_echo")


def user_functions(build, user_blocks):
    """Instructions by user function (inlined code counts for the function it
    was inlined into), named from the program whose image holds the block:
    ring_bench, or bench_echo, which is linked elsewhere for this (in the
    round trips both run)."""
    totals = {}
    for program in USER_PROGRAMS:
        elf = os.path.join(build, "user/bench/%s.elf" % program)
        heads = subprocess.run(["readelf", "-lW", elf], stdout=subprocess.PIPE, text=True,
                               check=True).stdout
        spans = [(int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16))
                 for m in re.finditer(r"LOAD\s+\S+\s+(0x[0-9a-f]+)\s+\S+\s+\S+\s+(0x[0-9a-f]+)",
                                      heads)]
        addresses = sorted(a for a in user_blocks if any(lo <= a < hi for lo, hi in spans))
        if not addresses:
            continue
        run = subprocess.run(["llvm-symbolizer-14", "--obj=" + elf, "--functions=linkage",
                              "--demangle"],
                             input="".join("0x%x\n" % a for a in addresses),
                             stdout=subprocess.PIPE, text=True, check=True)
        groups = run.stdout.strip("\n").split("\n\n")
        for address, group in zip(addresses, groups):
            name = "%s: %s" % (program, group.split("\n")[0])
            totals[name] = totals.get(name, 0) + user_blocks[address]
    return totals


def function_starts(build):
    """The first address of each kernel function, by its (mangled) name."""
    run = subprocess.run(["nm", "--defined-only", os.path.join(build, "kernel/kernel.elf")],
                         stdout=subprocess.PIPE, text=True, check=True)
    starts = {}
    for line in run.stdout.splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 3 and fields[1] in "tTwW":
            starts.setdefault(fields[2], int(fields[0], 16))
    return starts


def code_functions(build):
    """(start, end, where: name) of every function in the kernel and in the
    user programs of the profiled figures, sorted by start."""
    spans = []
    for where, elf in [("kernel", "kernel/kernel.elf")] + [
            (program, "user/bench/%s.elf" % program) for program in USER_PROGRAMS]:
        run = subprocess.run(["nm", "-S", "--defined-only", os.path.join(build, elf)],
                             stdout=subprocess.PIPE, text=True, check=True)
        for line in run.stdout.splitlines():
            fields = line.split(maxsplit=3)
            if len(fields) == 4 and fields[2] in "tTwW":
                start = int(fields[0], 16)
                spans.append((start, start + int(fields[1], 16), where, fields[3]))
    spans.sort()
    return spans


def code_page_rows(build, code_pages, epochs, top):
    """The code pages the figure ran code in after its switches, with the
    functions in each (by size, largest first)."""
    spans = code_functions(build)
    rows = []
    for count, address in sorted(code_pages, key=lambda p: -p[0])[:top]:
        page = int(address, 16)
        inside = [(min(end, page + 4096) - max(start, page), where, name)
                  for start, end, where, name in spans if start < page + 4096 and end > page]
        inside.sort(key=lambda f: -f[0])
        where = inside[0][1] if inside else "?"
        names = demangle([name for _, _, name in inside[:4]])
        short = [n.split("(")[0][-40:] for n in names if n]
        rows.append("| %s %s | %.2f | %s |" % (where, address, count / epochs, ", ".join(short)))
    return rows


def data_page_rows(build, pages, first_touch, epochs, top):
    """The data pages the figure touched after its switches, by region, with
    the user programs' objects in each (kernel heap and stacks have no
    symbols) and the code that touched each first after a switch (where
    QEMU's TLB refilled it)."""
    objects = []
    for program in USER_PROGRAMS:
        run = subprocess.run(["nm", "-S", "--defined-only",
                              os.path.join(build, "user/bench/%s.elf" % program)],
                             stdout=subprocess.PIPE, text=True, check=True)
        for line in run.stdout.splitlines():
            fields = line.split()
            if len(fields) == 4 and fields[2] in "bBdDrR":
                start = int(fields[0], 16)
                objects.append((start, start + int(fields[1], 16), program, fields[3]))
    rows = []
    for count, rest in sorted(pages, key=lambda p: -p[0])[:top]:
        address, region = rest.split()
        page = int(address, 16)
        inside = sorted([(min(end, page + 4096) - max(start, page), program, name)
                         for start, end, program, name in objects
                         if start < page + 4096 and end > page], reverse=True)[:3]
        names = demangle([name for _, _, name in inside])
        what = ", ".join("%s: %s" % (program, n[-40:]) for (_, program, _), n in zip(inside, names))
        firsts = sorted(first_touch.get(address, []), reverse=True)[:2]
        by = ", ".join("%s (%.2f)" % (place, n / epochs)
                       for place, (n, _) in zip(source_places(build, [a for _, a in firsts]), firsts))
        rows.append("| %s | %.2f | %s%s | %s |" % (address, count / epochs, region.replace("_", " "),
                                                  (": " + what) if what else "", by))
    return rows


def source_places(build, addresses):
    """function:line of each kernel or user instruction address."""
    spans = code_functions(build)
    starts = [span[0] for span in spans]
    places = []
    for address in addresses:
        at = bisect.bisect_right(starts, address) - 1
        if at < 0 or not spans[at][0] <= address < max(spans[at][1], spans[at][0] + 1):
            places.append("0x%x" % address)
            continue
        where, name = spans[at][2], spans[at][3]
        elf = "kernel/kernel.elf" if where == "kernel" else "user/bench/%s.elf" % where
        line = subprocess.run(["addr2line", "-e", os.path.join(build, elf), "0x%x" % address],
                              stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        places.append("%s %s %s" % (where, demangle([name])[0].split("(")[0][-40:],
                                    os.path.basename(line)))
    return places


def lookup_rows(build, sites, epochs, top):
    """The blocks entered by a lookup for the first time after a switch,
    summed by the function holding them."""
    spans = code_functions(build)
    starts = [span[0] for span in spans]
    totals = {}
    for count, address in sites:
        at = bisect.bisect_right(starts, address) - 1
        if at >= 0 and spans[at][0] <= address < max(spans[at][1], spans[at][0] + 1):
            key = (spans[at][2], spans[at][3])
        else:
            key = ("kernel" if address >= 0xffff800000000000 else "user", "0x%x" % address)
        totals[key] = totals.get(key, 0) + count
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    names = demangle([name for (_, name), _ in ranked])
    return ["| %s: %s | %.1f |" % (where, (name or raw).split("(")[0][-60:], count / epochs)
            for ((where, raw), count), name in zip(ranked, names)]


def demangle(names):
    run = subprocess.run(["c++filt"], input="\n".join(names), stdout=subprocess.PIPE, text=True,
                         check=True)
    return run.stdout.split("\n")


def check(build, figure):
    """Boots the figure's profile system without the plugin: the figure runs
    and prints its profiled line (the smoke test of the profile mode)."""
    output = boot_without_plugin(build, figure, 120)
    expected = "bench: %s profiled iterations=" % figure
    if expected not in output or "bench: done, 1 figures, 0 failed" not in output:
        sys.exit("profile.py: %s did not run in profile mode:\n%s" % (figure, output[-3000:]))
    print("profile mode of %s: ok" % figure)


def boot_without_plugin(build, figure, timeout):
    """Boots the profile system of `figure` (a name, or name*iterations) as the
    runner would, and returns what the serial line showed."""
    with tempfile.TemporaryDirectory() as work:
        archive = build_archive(build, figure, work)
        cmd = [os.path.join(build, "tools/qemu-runner/capos-qemu"), "run", "--dry-run",
               "--kernel", os.path.join(build, "kernel/kernel.elf"), "--initrd", archive,
               "--append", "shutdown"]
        qemu = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout.split()
        qemu = [a if a != "mon:stdio" else "stdio" for a in qemu]
        return subprocess.run(qemu, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout).stdout


def stage_reports(text):
    """Every report of stage sums (kernel/lib/stage_clock.cpp) in `text`, in
    order: (position, calls, cycles per microsecond, a mark's cost,
    {stage: (cycles, entries)})."""
    reports = []
    for head in re.finditer(r"stage clock: process (\d+) calls (\d+) cycles_per_us (\d+) "
                            r"mark (\d+)", text):
        sums = {}
        for m in re.compile(r"stage clock: process %s stage (\w+) cycles (\d+) entries (\d+)"
                            % head.group(1)).finditer(text, head.end()):
            sums.setdefault(m.group(1), (int(m.group(2)), int(m.group(3))))
        reports.append((head.start(), int(head.group(2)), int(head.group(3)),
                        int(head.group(4)), sums))
    return reports


def stage_clock(build, figure, iterations=3000):
    """Prints the figure's time per call by stage, from a measurement build
    (CAPOS_STAGE_CLOCK). ring_bench runs the smallest program just before and
    just after the profiled iterations; the kernel logs its sums at each of
    their exits, and the difference is the figure's (with one start of that
    program, about 1% of it at 3,000 iterations). Each stage's marks are taken
    off at the cost measured at boot."""
    output = boot_without_plugin(build, "%s*%d" % (figure, iterations), 600)
    table = stage_table(output, figure, iterations)
    if table is None:
        sys.exit("profile.py: %s gave no stage clock (is %s a CAPOS_STAGE_CLOCK build?):\n%s"
                 % (figure, build, output[-3000:]))
    rows, calls, mark, rate = table
    print("## %s: time by stage (measurement build)\n" % figure)
    print("| stage | ns per call | marks per call |\n|---|---:|---:|")
    for stage, ns, marks in rows:
        print("| %s | %.0f | %.2f |" % (stage, ns, marks))
    print("| total | %.0f | |\n" % sum(row[1] for row in rows))
    print("(%d calls; a mark costs %d cycles at %d cycles per microsecond, taken off)\n"
          % (calls, mark, rate))


def stage_table(text, figure, iterations):
    """From a measurement build's output: the stage sums of the two reports
    just before the figure's "profiled" line, subtracted; per call, each
    stage's nanoseconds (its marks' cost taken off) and marks. Returns
    (rows, calls, mark cycles, cycles per microsecond), or None."""
    end = text.find("bench: %s profiled iterations=%d" % (figure, iterations))
    reports = [r for r in stage_reports(text) if r[0] < end]
    if end < 0 or len(reports) < 2:
        return None
    _, calls_before, _, _, before = reports[-2]
    _, calls_after, rate, mark, after = reports[-1]
    calls = calls_after - calls_before
    if calls <= 0 or rate == 0 or after.keys() != before.keys():
        return None
    rows = []
    for stage, (cycles, entries) in after.items():
        cycles -= before[stage][0]
        entries -= before[stage][1]
        rows.append((stage, max(cycles - entries * mark, 0) * 1000.0 / rate / calls,
                     entries / calls))
    return rows, calls, mark, rate


# What must never happen on a measured path, by the kernel functions that do
# it (mangled-name fragments; log_* covers every level's formatting entry).
FORBIDDEN = [
    ("heap allocations and frees", ["HeapAllocator8allocate", "HeapAllocator10deallocate"]),
    ("frame allocations", ["FrameBitmap8allocate", "FrameBitmap19allocate_contiguous"]),
    ("log lines formatted", ["log_write_line", "6kernel8log_info", "6kernel8log_warn",
                             "6kernel9log_error", "6kernel9log_debug", "11format_rest"]),
]


def disassembly(build, blocks, runs, ops, path):
    """Writes every kernel translation block the figure ran, in address order,
    with its runs per operation and its instructions (objdump, source lines)."""
    elf = os.path.join(build, "kernel/kernel.elf")
    with open(path, "w") as out:
        for address in sorted(blocks):
            count = runs.get(address, 0)
            if count == 0:
                continue
            length = blocks[address] // count
            listing = subprocess.run(
                ["objdump", "-d", "-l", "-C", "--no-show-raw-insn",
                 "--start-address=0x%x" % address, "--stop-address=0x%x" % (address + 16 * length),
                 elf], stdout=subprocess.PIPE, text=True, check=True).stdout
            shown, kept = 0, []
            for row in listing.splitlines():
                instruction = re.match(r"\s*[0-9a-f]+:\t(.*)", row)
                if instruction:
                    if shown == length:
                        break
                    shown += 1
                    kept.append("    " + instruction.group(1))
                elif row.startswith("/"):
                    kept.append("  " + os.path.relpath(row, os.path.dirname(build)))
            out.write("## block 0x%x: %.2f runs per operation, %d instructions\n"
                      % (address, count / ops, length))
            out.write("\n".join(kept) + "\n\n")


def profile(build, plugin, figure, top, hot, lines, disassemble=None):
    with tempfile.TemporaryDirectory() as work:
        archive = build_archive(build, figure, work)
        syms = symbols(build, work)
        # CAPOS_PROFILE_KEEP=DIR keeps the plugin's raw report (every lookup
        # site, code page and block) in DIR for a closer look.
        report = os.path.join(os.environ.get("CAPOS_PROFILE_KEEP", work), "report.txt")
        cmd = ["qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-accel", "tcg", "-smp", "1",
               "-m", "128M", "-no-reboot", "-display", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
               "-kernel", os.path.join(build, "kernel/kernel.elf"), "-initrd", archive,
               "-append", "shutdown",
               "-plugin", "%s,syms=%s,out=%s" % (plugin, syms, report)]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=600)
        line = re.search(r"bench: %s profiled iterations=(\d+) ops=(\d+)" % re.escape(figure),
                         run.stdout)
        if not line:
            sys.exit("profile.py: %s was not profiled:\n%s" % (figure, run.stdout[-3000:]))
        ops = int(line.group(2))
        values, functions, image_pages, blocks, runs, user_blocks = {}, [], [], {}, {}, {}
        code_pages, lookup_sites, lookup_any, data_pages, first_touch = [], [], [], [], {}
        with open(report) as f:
            for row in f:
                parts = row.split(maxsplit=2)
                if parts[0] == "function":
                    functions.append((int(parts[1]), parts[2].strip()))
                elif parts[0] == "block":
                    address, counts = int(parts[1], 16), parts[2].split()
                    blocks[address] = int(counts[0])
                    runs[address] = int(counts[1])
                elif parts[0] == "user_block":
                    user_blocks[int(parts[1], 16)] = int(parts[2])
                elif parts[0] == "image_page":
                    image_pages.append((int(parts[1]), parts[2].strip()))
                elif parts[0] == "code_page":
                    code_pages.append((int(parts[1]), parts[2].strip()))
                elif parts[0] == "lookup_site":
                    lookup_sites.append((int(parts[1]), int(parts[2], 16)))
                elif parts[0] == "data_page":
                    data_pages.append((int(parts[1]), parts[2].strip()))
                elif parts[0] == "data_page_first":
                    page, site = parts[2].split()
                    first_touch.setdefault(page, []).append((int(parts[1]), int(site, 16)))
                elif parts[0] == "lookup_any":
                    lookup_any.append((int(parts[1]), int(parts[2], 16)))
                else:
                    values[parts[0]] = int(parts[1])
    if values.get("windows") != 1:
        sys.exit("profile.py: expected one marked window, saw %s" % values.get("windows"))
    epochs = max(values["epochs"], 1)
    if disassemble:
        disassembly(build, blocks, runs, ops, os.path.join(disassemble, figure + ".txt"))
    print("## %s (%d operations)" % (figure, ops))
    print()
    print("| per operation | |")
    print("|---|---:|")
    print("| instructions | %.0f |" % (values["insns"] / ops))
    print("| of which user | %.0f |" % (values["user_insns"] / ops))
    print("| system calls | %.2f |" % (values["syscalls"] / ops))
    print("| blocks entered by a lookup, not a chained jump | %.1f |" % (values["lookups"] / ops))
    print("| returns and indirect calls and jumps: user | %.1f |" % (values["user_indirect"] / ops))
    print("| returns and indirect calls and jumps: kernel | %.1f |"
          % (values["kernel_indirect"] / ops))
    starts = function_starts(build)
    clean = True
    if values.get("lock_objects", 0) == 0:
        sys.exit("profile.py: the plugin found no spin lock (data named *_lock) in the kernel")
    for what, fragments in FORBIDDEN:
        for fragment in fragments:
            if not any(fragment in name for name in starts):
                sys.exit("profile.py: no kernel function matches '%s' (%s): renamed?"
                         % (fragment, what))
        calls = sum(runs.get(start, 0) for name, start in starts.items()
                    if any(fragment in name for fragment in fragments))
        clean = clean and calls == 0
        print("| %s (in all %d operations) | %d |" % (what, ops, calls))
    print("| spin-lock accesses (in all %d operations) | %d |" % (ops, values["lock_accesses"]))
    clean = clean and values["lock_accesses"] == 0
    print("| address-space switches | %.2f |" % (values["switches"] / ops))
    if values["switches"]:
        print("| per switch: code pages | %.1f |" % (values["epoch_code_pages"] / epochs))
        print("| per switch: data pages | %.1f |" % (values["epoch_data_pages"] / epochs))
        print("| per switch: translation blocks | %.1f |" % (values["epoch_blocks"] / epochs))
        print("| per switch: blocks first looked up after it | %.1f |"
              % (values["first_lookups"] / epochs))
        for region in ("user", "direct_map", "kernel_image", "kernel_other"):
            print("| per switch: data pages, %s | %.1f |"
                  % (region.replace("_", " "), values["epoch_data_pages_" + region] / epochs))
    print()
    if image_pages and values["switches"]:
        print("| kernel image data page | share of switches | objects in it |")
        print("|---|---:|---|")
        for count, rest in sorted(image_pages, key=lambda p: -p[0])[:top]:
            address, *in_page = rest.split()
            print("| %s | %.2f | %s |" % (address, count / epochs,
                                          " ".join(demangle(in_page))[:100]))
        print()
    if lines:
        tables = [("blocks entered by a lookup, by function | per operation", "|---|---:|",
                   lookup_any and lookup_rows(build, lookup_any, ops, top))]
        if values["switches"]:
            tables += [
                ("blocks first looked up after a switch, by function | per switch", "|---|---:|",
                 lookup_sites and lookup_rows(build, lookup_sites, epochs, top)),
                ("data page | share of switches | region, user objects in it | touched first by",
                 "|---|---:|---|---|",
                 data_pages and data_page_rows(build, data_pages, first_touch, epochs, top)),
                ("code page | share of switches | functions in it (largest first)",
                 "|---|---:|---|", code_pages and code_page_rows(build, code_pages, epochs, top)),
            ]
        for header, rule, rows in tables:
            if rows:
                print("| %s |" % header)
                print(rule)
                for row in rows:
                    print(row)
                print()
    # For --ordering: a function of a figure that switches address spaces
    # runs again after every switch, when each code page it is on must be
    # refilled: those go first (switching, then instructions per operation).
    switching = values["switches"] > 0
    for count, name in functions:
        was_switching, total = hot.get(name, (False, 0))
        hot[name] = (was_switching or switching, total + count / ops)
    by_stage, places = stages(build, blocks)
    print("| stage | instructions per operation |")
    print("|---|---:|")
    print("| user (the program and its runtime: Cap'n Proto, ring client) | %.0f |"
          % (values["user_insns"] / ops))
    order = [stage for stage, _ in STAGES] + ["other kernel work"]
    for stage in order:
        if by_stage.get(stage, 0) / ops >= 0.5:
            print("| %s | %.0f |" % (stage, by_stage[stage] / ops))
    print()
    print("| kernel function | instructions per operation | calls per operation |")
    print("|---|---:|---:|")
    shown = functions[:top]
    for (count, mangled), name in zip(shown, demangle([name for _, name in shown])):
        calls = runs.get(starts.get(mangled), 0) / ops
        print("| `%s` | %.1f | %.2f |" % (name[:80], count / ops, calls))
    print()
    if lines:
        # User code by program and function.
        by_function = user_functions(build, user_blocks)
        print("| user function | instructions per operation |")
        print("|---|---:|")
        for name, count in sorted(by_function.items(), key=lambda p: -p[1])[:lines]:
            print("| `%s` | %.1f |" % (name[:90], count / ops))
        print()
        print("| translation blocks starting at (source line, function) | instructions per operation |")
        print("|---|---:|")
        for place, count in sorted(places.items(), key=lambda p: -p[1])[:lines]:
            print("| %s | %.1f |" % (place, count / ops))
        print()
    return clean


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--plugin")
    parser.add_argument("--check", action="store_true",
                        help="boot each figure's profile system without the plugin and check "
                        "that it runs (the smoke test)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--lines", type=int, default=0,
                        help="also list the kernel's hottest source lines (where its "
                        "translation blocks start), this many")
    parser.add_argument("--require-clean", action="store_true",
                        help="fail when a figure's path allocated, took a spin lock or "
                        "formatted a log line")
    parser.add_argument("--ordering", help="write the kernel functions the figures ran, "
                        "those of figures that switch address spaces first, hottest first within, "
                        "as a linker symbol-ordering file")
    parser.add_argument("--disassemble", metavar="DIR",
                        help="write each figure's kernel translation blocks, with their runs "
                        "per operation and instructions, to DIR/<figure>.txt")
    parser.add_argument("--stage-clock", action="store_true",
                        help="--build-dir is a CAPOS_STAGE_CLOCK build: print each figure's "
                        "time per call by stage")
    parser.add_argument("figures", nargs="+")
    args = parser.parse_args()
    if args.stage_clock:
        for figure in args.figures:
            stage_clock(os.path.abspath(args.build_dir), figure)
        return
    if args.check:
        for figure in args.figures:
            check(os.path.abspath(args.build_dir), figure)
        return
    if not args.plugin:
        parser.error("--plugin is needed (or --check)")
    hot = {}
    dirty = []
    for figure in args.figures:
        if not profile(os.path.abspath(args.build_dir), os.path.abspath(args.plugin), figure,
                       args.top, hot, args.lines, args.disassemble):
            dirty.append(figure)
    if args.ordering:
        with open(args.ordering, "w") as out:
            # The assembly every system call and every switch runs (no sizes in
            # the symbol table, so the plugin's per-function counts miss them).
            sizes, room = function_sizes(os.path.abspath(args.build_dir))
            room = 4096 - room
            placed = set(CALLED_ON_EVERY_PATH + [PAGE_ALIGNED])
            first = ASSEMBLY_ON_EVERY_PATH + CALLED_ON_EVERY_PATH
            room -= sum(sizes.get(name, 0) + 16 for name in CALLED_ON_EVERY_PATH)
            for name, (switching, _) in sorted(hot.items(), key=lambda item: -item[1][1]):
                size = sizes.get(name, 4096) + 16 # (16: the alignment of each)
                if not switching and name not in placed and size <= room:
                    first.append(name)
                    placed.add(name)
                    room -= size
            for name in first + [PAGE_ALIGNED]:
                out.write(name + "\n")
            for name, _ in sorted(hot.items(), key=lambda item: (not item[1][0], -item[1][1])):
                if name not in placed:
                    out.write(name + "\n")
    if args.require_clean and dirty:
        sys.exit("profile.py: allocation, a spin lock or log formatting on the path of: %s"
                 % ", ".join(dirty))


if __name__ == "__main__":
    main()
