# user_badges: init is badge_test, holding the spawner and the console; it
# starts badge_child in its three roles.
@0xc3a1f7d2e9b84d61;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "badge_test", path = "bin/badge_test"),
    (name = "badge-child", path = "bin/badge_child"),
  ],
  init = (
    program = "badge_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
