# The SMP soak (user/tests/smp_soak.cpp): init is smp_soak_torture, holding the spawner
# and the console; it starts echo servers, their clients and trivial
# children.
@0xd37d0222b1d41492;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "smp_soak_torture", path = "bin/smp_soak_torture"),
    (name = "trivial-child", path = "bin/trivial_child"),
    (name = "echo-server", path = "bin/echo_server"),
    (name = "soak-client", path = "bin/soak_client"),
  ],
  init = (
    program = "smp_soak_torture",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
