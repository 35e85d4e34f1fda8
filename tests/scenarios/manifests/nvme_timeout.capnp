# scenario.nvme_timeout: an NVMe driver whose controller stops answering
# (nvme_hung: nothing reaches the controller from its third I/O request on,
# requests time out after 2 s) with one restart, and a client holding its
# disk and a supervisor to reconnect through (user/tests/blk_timeout_test.cpp).
@0xd41a7e2c95b3f608;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "nvme", path = "bin/nvme_hung"),
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
      ( name = "nvme", binary = "nvme",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1b36, deviceId = 0x0010, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 1 ),
      ( name = "blk-timeout-test", binary = "blk-timeout-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "nvme", export = "disk"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
);
