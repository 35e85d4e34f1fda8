# user_endpoint: init is endpoint_test, holding the spawner, the console and
# Null; it starts endpoint_server (twice) and endpoint_caller.
@0x93d9f2abbe299249;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "endpoint_test", path = "bin/endpoint_test"),
    (name = "endpoint-server", path = "bin/endpoint_server"),
    (name = "endpoint-caller", path = "bin/endpoint_caller"),
    (name = "queue-filler", path = "bin/queue_filler"),
  ],
  init = (
    program = "endpoint_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "null", source = (kernel = null)),
    ],
  ),
);
