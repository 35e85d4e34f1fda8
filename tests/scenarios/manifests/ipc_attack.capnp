# user_ipc_attack: init is ipc_attack_test, which starts ipc_peer servers and
# an ipc_caller with small limits (user/tests/ipc_peer.h).
@0xb3f1c0a2d5e69781;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "ipc_attack_test", path = "bin/ipc_attack_test"),
    (name = "ipc-peer", path = "bin/ipc_peer"),
    (name = "ipc-caller", path = "bin/ipc_caller"),
  ],
  init = (
    program = "ipc_attack_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "null", source = (kernel = null)),
      (name = "timer", source = (kernel = timer)),
      (name = "frames", source = (kernel = frameAllocator)),
    ],
  ),
);
