# shell_stdio: the shell with the terminal, the spawner, the timer and the
# process inspector (ps counts its capabilities), and
# programs that use the StdIO it serves them, one of them hostile
# (stdio_attack): what they send must never stop the shell.
@0xc72be8cd0c58979f;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "hello", path = "bin/hello"),
    (name = "cat", path = "bin/cat"),
    (name = "yes", path = "bin/yes"),
    (name = "stdio_attack", path = "bin/stdio_attack"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "terminal", source = (kernel = terminal)),
      (name = "timer", source = (kernel = timer)),
      (name = "processes", source = (kernel = processInspector)),
    ],
    services = [
      ( name = "shell", binary = "shell",
        grants = [
          (name = "terminal", source = (kernel = terminal)),
          (name = "spawner", source = (kernel = processSpawner)),
          (name = "timer", source = (kernel = timer)),
          (name = "processes", source = (kernel = processInspector)),
        ] ),
    ],
  ),
);
