# shell_limited: the shell with the terminal and nothing else: every command
# that needs a capability says which one it lacks.
@0xf4a7d192572d00df;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "hello", path = "bin/hello"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "terminal", source = (kernel = terminal)),
    ],
    services = [
      ( name = "shell", binary = "shell",
        grants = [(name = "terminal", source = (kernel = terminal))] ),
    ],
  ),
);
