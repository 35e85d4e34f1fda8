# The capOS disk bench system (docs/performance.md, "Disk"): init claims the
# virtio-blk function that bench/run_bench.py attaches (`-device
# virtio-blk-pci`, transitional 1af4:1001 as QEMU makes it by default) for
# the driver, which serves it as "disk"; disk-bench (user/bench/disk_bench.cpp)
# times reads and writes through it, prints one line per figure and exits,
# then the driver sees its last client gone and exits, and init powers off.
@0xd2b4c7a1e35f9a03;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
    (name = "disk-bench", path = "bin/disk_bench"),
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
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "disk-bench", binary = "disk-bench",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "disk", source = (service = (service = "virtio-blk", export = "disk"))),
        ],
        waitForExit = true ),
    ],
  ),
);
