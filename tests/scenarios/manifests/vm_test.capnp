# user_vm: init is vm_test, holding the console, its own VirtualMemory and the
# timer (to time refusals).
@0xc87d0af5169630e0;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "vm_test", path = "bin/vm_test")],
  init = (
    program = "vm_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "timer", source = (kernel = timer)),
    ],
  ),
);
