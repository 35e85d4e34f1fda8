# scenario.nvme and scenario.nvme_iommu: an NVMe driver for the controller
# the scenario attaches (QEMU's nvme, 1b36:0010), claimed by init and
# serving namespace 1 on the endpoint it exports as "disk" (as the
# virtio-blk driver does in blk_test.capnp.in); blk-test-nvme imports it,
# and once it has ended blk-peer imports it too. The driver holds the
# kernel's timer for the controller's ready timeout.
# (unisolatedDma: without an IOMMU the claim needs it; with one it is not
# looked at.)
@0x9bb572be2adcf537;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "nvme", path = "bin/nvme"),
    (name = "blk-test", path = "bin/blk_test_nvme"),
    (name = "blk-peer", path = "bin/blk_peer"),
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
        exports = ["disk"] ),
      ( name = "blk-test", binary = "blk-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "nvme", export = "disk"))),
        ],
        waitForExit = true ),
      ( name = "blk-peer", binary = "blk-peer",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "nvme", export = "disk"))),
        ] ),
    ],
  ),
);
