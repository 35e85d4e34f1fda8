# user_irqoff: init is irqoff_test (user/tests/irqoff_test.cpp).
@0xa6f0c2d1e3b49587;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "irqoff_test", path = "bin/irqoff_test"),
    (name = "irqoff-child", path = "bin/irqoff_child"),
  ],
  init = (
    program = "irqoff_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "terminal", source = (kernel = terminal)),
    ],
  ),
);
