# scenario.names: the Namespace service and names-test, which holds it, its
# own endpoint (to hear when the service lets go of a facet), a Timer and a
# Console. The service holds only its endpoint and the console.
@0xe8b675510736b451;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "names", path = "bin/names"),
    (name = "names-test", path = "bin/names_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "vm", source = (kernel = virtualMemory)),
    ],
    services = [
      ( name = "names", binary = "names",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "service", source = (endpoint = void)),
        ],
        exports = ["service"] ),
      ( name = "names-test", binary = "names-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "names", source = (service = (service = "names", export = "service"))),
          (name = "mine", source = (endpoint = void)),
        ],
        waitForExit = true ),
    ],
  ),
);
