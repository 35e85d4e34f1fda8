# A manifest whose kernel parameters ask for the debug level: from the moment
# the kernel reads it, its debug lines (a spawn, ProcessSpawner's log_debug)
# show; the scenarios manifest_log_level and manifest_log_level_cmdline boot it.
@0x9e715dbb1101222c;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "hello", path = "bin/hello"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
    services = [
      ( name = "hello", binary = "hello",
        grants = [(name = "console", source = (kernel = console))] ),
    ],
  ),
  kernel = (logLevel = debug),
);
