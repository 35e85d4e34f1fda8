# user_assert: init is assert_test, holding the console.
@0xc493f8267bc9ddae;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "assert_test", path = "bin/assert_test")],
  init = (
    program = "assert_test",
    grants = [(name = "console", source = (kernel = console))],
  ),
);
