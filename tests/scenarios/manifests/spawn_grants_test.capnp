# user_spawn_grants: init is spawn_grants_test, holding the spawner, the
# console and seven more kernel capabilities it hands to grant_child in
# different combinations.
@0xf05eaa86c321274a;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "spawn_grants_test", path = "bin/spawn_grants_test"),
    (name = "grant-child", path = "bin/grant_child"),
  ],
  init = (
    program = "spawn_grants_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "entropy", source = (kernel = entropy)),
      (name = "null", source = (kernel = null)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "frames", source = (kernel = frameAllocator)),
    ],
  ),
);
