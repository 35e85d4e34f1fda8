# Capabilities travelling between processes: a CapabilityBox server and a
# client that copies and moves capabilities through it.
@0xe6cba05b8ab2d37b;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "box-server", path = "bin/box_server"),
    (name = "box-client", path = "bin/box_client"),
    (name = "hello", path = "bin/hello"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
    services = [
      ( name = "box-server", binary = "box-server",
        grants = [
          (name = "box", source = (endpoint = void)),
          (name = "frames", source = (kernel = frameAllocator)),
        ],
        exports = ["box"] ),
      ( name = "box-client", binary = "box-client",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "spawner", source = (kernel = processSpawner)),
          (name = "box", source = (service = (service = "box-server", export = "box"))),
          (name = "mine", source = (endpoint = void)),
        ] ),
    ],
  ),
);
