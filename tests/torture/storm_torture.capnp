# A process storming its ring with random submissions (user/tests/storm_test.cpp).
@0xe1f91c17e1fa601d;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "storm_torture", path = "bin/storm_torture"),
    (name = "storm", path = "bin/storm_torture"),
  ],
  init = (
    program = "storm_torture",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "null", source = (kernel = null)),
      (name = "spare", source = (kernel = null)),
    ],
  ),
);
