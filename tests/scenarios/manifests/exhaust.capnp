# user_exhaust: init is exhaust_test, which spawns exhaust_child until refused.
@0xd2a7c46b0e9f1835;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "exhaust_test", path = "bin/exhaust_test"),
    (name = "exhaust-child", path = "bin/exhaust_child"),
  ],
  init = (
    program = "exhaust_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
