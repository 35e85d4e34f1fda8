# Endpoint throughput with an Echo pair per CPU (user/tests/pairs_bench.cpp).
@0xa1cd59bd0f5dd348;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "pairs_bench", path = "bin/pairs_bench"),
    (name = "echo-server", path = "bin/echo_server"),
    (name = "soak-client", path = "bin/soak_client"),
  ],
  init = (
    program = "pairs_bench",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "info", source = (kernel = systemInfo)),
    ],
  ),
);
