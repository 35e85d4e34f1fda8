# user_rt_panic: init is rt_panic_test, holding only the console.
@0xef0e52018387e6ff;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "rt_panic_test", path = "bin/rt_panic_test")],
  init = (
    program = "rt_panic_test",
    grants = [(name = "console", source = (kernel = console))],
  ),
);
