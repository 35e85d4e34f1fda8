# scenario.disks_two_kinds: four disks, two on virtio-blk functions
# (1af4:1042, index 0 and 1) and two on NVMe controllers (1b36:0010, index
# 0 and 1), each claimed by init for a driver process of its own that
# exports it as "disk"; four clients (disk-owner) each import one of them,
# under that disk's name, and nothing else but the console. Each client
# runs to its end before the next starts, so that their lines come in order.
@0x94791dd9feaf0df3;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
    (name = "nvme", path = "bin/nvme"),
    (name = "disk-owner", path = "bin/disk_owner"),
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
      ( name = "virtio-blk-0", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "virtio-blk-1", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 1),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "nvme-0", binary = "nvme",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1b36, deviceId = 0x0010, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "nvme-1", binary = "nvme",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1b36, deviceId = 0x0010, index = 1),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "owner-v0", binary = "disk-owner",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "v0", source = (service = (service = "virtio-blk-0", export = "disk"))),
        ],
        waitForExit = true ),
      ( name = "owner-v1", binary = "disk-owner",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "v1", source = (service = (service = "virtio-blk-1", export = "disk"))),
        ],
        waitForExit = true ),
      ( name = "owner-n0", binary = "disk-owner",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "n0", source = (service = (service = "nvme-0", export = "disk"))),
        ],
        waitForExit = true ),
      ( name = "owner-n1", binary = "disk-owner",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "n1", source = (service = (service = "nvme-1", export = "disk"))),
        ],
        waitForExit = true ),
    ],
  ),
);
