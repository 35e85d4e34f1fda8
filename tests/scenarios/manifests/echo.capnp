# init starts an echo server and a client wired to it: the server owns a fresh
# endpoint it exports as "echo"; the client imports it.
@0xc49f0c5e3c0f1ba7;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
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
);
