# scenario.blk_timeout: a virtio-blk driver whose device stops answering
# (virtio_blk_hung: nothing reaches the device from its third request on,
# requests time out after 2 s) with one restart, and a client holding its
# disk and a supervisor to reconnect through (user/tests/blk_timeout_test.cpp).
@0xa3f0c6d58e2b7194;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk_hung"),
    (name = "blk-timeout-test", path = "bin/blk_timeout_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "devices", source = (kernel = deviceManager)),
      (name = "timer", source = (kernel = timer)),
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
      ( name = "blk-timeout-test", binary = "blk-timeout-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "virtio-blk", export = "disk"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
);
