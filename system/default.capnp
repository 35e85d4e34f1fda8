# The system `make run` boots: the capability shell on the terminal. init
# starts the shell with the terminal, the console, the timer, the spawner, the
# machine's power (system), the schema registry, the entropy source, the
# system information (motd, build, memory), the process inspector, the
# kernel log's reader, the manual, the boot archive's files (read-only, as
# `files`) and the PCI device inventory (read-only, as `devices`), which it
# hands on to the programs it runs only as the user lists them.
@0xd0adbdae946aa5a3;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "hello", path = "bin/hello"),
    (name = "fault", path = "bin/fault"),
    (name = "sleep", path = "bin/sleep"),
    (name = "yes", path = "bin/yes"),
    (name = "spin", path = "bin/spin"),
    (name = "cat", path = "bin/cat"),
    (name = "echo-server", path = "bin/echo-server"),
    (name = "echo-client", path = "bin/echo-client"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "terminal", source = (kernel = terminal)),
      (name = "timer", source = (kernel = timer)),
      (name = "system", source = (kernel = systemControl)),
      (name = "schema", source = (kernel = schemaRegistry)),
      (name = "entropy", source = (kernel = entropy)),
      (name = "info", source = (kernel = systemInfo)),
      (name = "processes", source = (kernel = processInspector)),
      (name = "log", source = (kernel = logReader)),
      (name = "manual", source = (kernel = manual)),
      (name = "files", source = (kernel = bootFiles)),
      (name = "devices", source = (kernel = deviceInventory)),
    ],
    services = [
      ( name = "shell", binary = "shell",
        grants = [
          (name = "terminal", source = (kernel = terminal)),
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "spawner", source = (kernel = processSpawner)),
          (name = "system", source = (kernel = systemControl)),
          (name = "schema", source = (kernel = schemaRegistry)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "info", source = (kernel = systemInfo)),
          (name = "processes", source = (kernel = processInspector)),
          (name = "log", source = (kernel = logReader)),
          (name = "manual", source = (kernel = manual)),
          (name = "files", source = (kernel = bootFiles)),
      (name = "devices", source = (kernel = deviceInventory)),
        ] ),
    ],
  ),
  kernel = (logLevel = info),
);
