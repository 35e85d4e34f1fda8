# The boot manifest `make run` boots: init is the hello program for now (the
# capability shell will take its place).
@0xd0adbdae946aa5a3;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "hello", path = "bin/hello")],
  init = (
    program = "hello",
    grants = [(name = "console", source = (kernel = console))],
  ),
  kernel = (logLevel = info),
);
