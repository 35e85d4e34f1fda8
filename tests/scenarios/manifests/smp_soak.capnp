# The SMP soak (user/tests/smp_soak.cpp): init is smp_soak, holding the spawner
# and the console; it starts echo servers, their clients and trivial
# children.
@0xc0dfbe4b3ff91873;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "smp_soak", path = "bin/smp_soak"),
    (name = "trivial-child", path = "bin/trivial_child"),
    (name = "echo-server", path = "bin/echo_server"),
    (name = "soak-client", path = "bin/soak_client"),
  ],
  init = (
    program = "smp_soak",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
