# user_heap: init is heap_test, holding the console and VirtualMemory ("vm").
@0xe7991bb6688fb8f9;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "heap_test", path = "bin/heap_test")],
  init = (
    program = "heap_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "vm", source = (kernel = virtualMemory)),
    ],
  ),
);
