# scenario.blk_iommu_bypass: a virtio-blk driver for the transitional
# function 1af4:1001, which cannot use an IOMMU (no ACCESS_PLATFORM).
@0xc2f6a8e31b5d7094;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
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
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0))) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
    ],
  ),
);
