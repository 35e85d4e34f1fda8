# A demonstration that runs to its end (`make run SYSTEM=demo`): init reads this
# manifest and starts each service with exactly the capabilities listed for it.
# hello prints a greeting; the echo pair shows two processes talking through an
# endpoint init wires between them.
@0xa6bc085018dc149a;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "hello", path = "bin/hello"),
    (name = "echo-server", path = "bin/echo_server"),
    (name = "echo-client", path = "bin/echo_client"),
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
        grants = [(name = "console", source = (kernel = console))],
        waitForExit = true ),
      ( name = "echo-server", binary = "echo-server",
        grants = [(name = "echo", source = (endpoint = void))],
        exports = ["echo"] ),
      ( name = "echo-client", binary = "echo-client",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "echo", source = (service = (service = "echo-server", export = "echo"))),
        ] ),
    ],
  ),
  kernel = (logLevel = info),
);
