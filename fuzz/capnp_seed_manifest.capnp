# A boot manifest for capnp_fuzz's seed corpus, evaluated at build time by
# `capnp eval --binary` (fuzz/CMakeLists.txt). It uses every part of
# SystemManifest: binaries, init's grants, a service with each kind of grant
# source, exports, limits and kernel parameters.
@0xc4f1b0b0ad1e5eed;

using import "/schema/capos.capnp".SystemManifest;

const manifest :SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "init", path = "bin/init"), (name = "shell", path = "bin/shell")],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", interfaceId = 0x1234, source = (kernel = processSpawner))],
    services = [(
      name = "shell",
      binary = "shell",
      grants = [
        (name = "log", source = (service = (service = "logger", export = "sink"))),
        (name = "inbox", source = (endpoint = void))],
      exports = ["shell"],
      waitForExit = true,
      limits = (capabilitySlots = 64, frames = 4096))]),
  kernel = (logLevel = debug, messageOfTheDay = "fuzz me"));
