# user_ring_client: init is ring_client_test (user/tests/ring_client_test.cpp).
@0xc7e25a91b3d40f68;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "ring-client-test", path = "bin/ring_client_test"),
  ],
  init = (
    program = "ring-client-test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
    ],
  ),
);
