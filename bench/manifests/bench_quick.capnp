# The bench system (bench.capnp) for the smoke test bench.capos_smoke: the same
# programs, plus a capability granted as "bench-quick", which tells ring_bench
# to run a few short batches instead of the full benchmark.
@0xd2b4c7a1e35f9a02;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "ring_bench", path = "bin/ring_bench"),
    (name = "bench-echo", path = "bin/bench_echo"),
    (name = "bench-minimal", path = "bin/bench_minimal"),
  ],
  init = (
    program = "ring_bench",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "null", source = (kernel = null)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "threads", source = (kernel = threadSpawner)),
      (name = "thread", source = (kernel = threadControl)),
      (name = "park", source = (kernel = parkSpace)),
      (name = "bench-quick", source = (kernel = null)),
    ],
  ),
);
