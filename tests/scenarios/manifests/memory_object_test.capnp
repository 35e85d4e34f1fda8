# user_memory_object: init is memory_object_test, holding the console, the
# frame allocator, its own VirtualMemory and the spawner, with which it starts
# wx_child for W^X across two processes.
@0x98760ee566c5cd6d;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "memory_object_test", path = "bin/memory_object_test"),
    (name = "wx-child", path = "bin/wx_child"),
  ],
  init = (
    program = "memory_object_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
