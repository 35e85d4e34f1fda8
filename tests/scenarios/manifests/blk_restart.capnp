# scenario.blk_restart: a virtio-blk driver that crashes (virtio_blk_faulty,
# faulting at its fourth call) with one restart, and a client holding its
# disk and a supervisor to reconnect through (user/tests/blk_restart_test.cpp).
@0xc4e9a1b27d5f3e60;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk_faulty"),
    (name = "blk-restart-test", path = "bin/blk_restart_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "devices", source = (kernel = deviceManager)),
    ],
    services = [
      ( name = "virtio-blk", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 1 ),
      ( name = "blk-restart-test", binary = "blk-restart-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "virtio-blk", export = "disk"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
);
