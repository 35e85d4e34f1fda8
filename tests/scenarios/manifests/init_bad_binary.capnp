# A manifest that passes every check the build can make, but whose service
# binary is not a program: init must stop with a reason, not the kernel.
@0xb1bc4c4f3a7d2e91;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "not-a-program", path = "etc/motd"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
    services = [(name = "broken", binary = "not-a-program")],
  ),
);
