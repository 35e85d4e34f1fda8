# A manifest that passes every check the build can make, but whose second
# service's binary is not a program: spawn refuses it at boot. init must name
# the service and the reason, start nothing after it, still wait for the
# service it did start, and exit 1.
@0xc758064c8416aa9c;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "echo-server", path = "bin/echo_server"),
    (name = "echo-client", path = "bin/echo_client"),
    (name = "not-a-program", path = "etc/motd"),
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
      (name = "broken", binary = "not-a-program"),
      ( name = "echo-client", binary = "echo-client",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "echo", source = (service = (service = "echo-server", export = "echo"))),
        ] ),
    ],
  ),
);
