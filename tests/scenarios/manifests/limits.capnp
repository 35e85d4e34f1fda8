# A service started with small resource limits from its manifest entry.
@0x893edbb48cfc4147;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "limits-test", path = "bin/limits_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
    services = [
      ( name = "limits-test", binary = "limits-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "vm", source = (kernel = virtualMemory)),
          (name = "frames", source = (kernel = frameAllocator)),
        ],
        limits = (capabilitySlots = 4, frames = 64) ),
    ],
  ),
);
