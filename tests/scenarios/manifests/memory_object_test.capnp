# user_memory_object: init is memory_object_test, holding the console, the
# frame allocator and its own VirtualMemory.
@0x98760ee566c5cd6d;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "memory_object_test", path = "bin/memory_object_test")],
  init = (
    program = "memory_object_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "vm", source = (kernel = virtualMemory)),
    ],
  ),
);
