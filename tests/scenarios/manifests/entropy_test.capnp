# user_entropy: init is entropy_test, holding the console and the entropy source.
@0xfc1a40c60fd6712e;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "entropy_test", path = "bin/entropy_test")],
  init = (
    program = "entropy_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "entropy", source = (kernel = entropy)),
    ],
  ),
);
