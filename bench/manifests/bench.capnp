# The capOS bench system (docs/performance.md): init is ring_bench, which times
# the ring, kernel capability calls, an endpoint round trip to bench-echo and
# spawn + wait of bench-minimal, prints one line per figure and exits.
@0xd2b4c7a1e35f9a01;

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
    ],
  ),
);
