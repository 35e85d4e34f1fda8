# user_heap_without_vm: heap_test without a VirtualMemory capability.
@0x8b2d8feee652764b;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "heap_test", path = "bin/heap_test")],
  init = (
    program = "heap_test",
    grants = [(name = "console", source = (kernel = console))],
  ),
);
