# user_ring: init is ring_test, holding the console, the timer and two Null
# capabilities (it releases "null2" to get a stale id).
@0x853ed0589eb5c036;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "ring_test", path = "bin/ring_test")],
  init = (
    program = "ring_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "null", source = (kernel = null)),
      (name = "null2", source = (kernel = null)),
    ],
  ),
);
