# user_console: init is console_test, holding only the console.
@0xb8ec7af48e40223e;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "console_test", path = "bin/console_test")],
  init = (
    program = "console_test",
    grants = [(name = "console", source = (kernel = console))],
  ),
);
