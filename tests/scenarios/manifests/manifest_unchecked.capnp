# A manifest tools/mkmanifest refuses (the service asks for one frame more
# than the kernel's maximum, abi/limits.h), packed without that check
# (capos_boot_archive UNCHECKED): the kernel's own check at boot must refuse
# it before init starts.
@0xd4ca6e443e9e5827;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "hello", path = "bin/hello"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
    services = [
      ( name = "hello", binary = "hello",
        grants = [(name = "console", source = (kernel = console))],
        limits = (frames = 1048577) ),
    ],
  ),
);
