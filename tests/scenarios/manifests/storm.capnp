# A process storming its ring with random submissions (user/tests/storm_test.cpp).
@0x8f512db44c65b5bd;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "storm", path = "bin/storm"),
  ],
  init = (
    program = "storm",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "null", source = (kernel = null)),
      (name = "spare", source = (kernel = null)),
    ],
  ),
);
