# scenario.fs: a virtio-blk driver for the modern function, the filesystem
# service on its disk exporting the volume's root; fs-full, a client of it
# whose table is nearly full; and fs-test holding only that root and the
# machine's power (to reboot, then to power off).
@0xd3a8c1f6e2b74590;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
    (name = "fs", path = "bin/fs"),
    (name = "fs-full", path = "bin/fs_full"),
    (name = "fs-test", path = "bin/fs_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "devices", source = (kernel = deviceManager)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "system", source = (kernel = systemControl)),
    ],
    services = [
      ( name = "virtio-blk", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "fs", binary = "fs",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "vm", source = (kernel = virtualMemory)),
          (name = "disk", source = (service = (service = "virtio-blk", export = "disk"))),
          (name = "service", source = (endpoint = void)),
        ],
        exports = ["service"] ),
      ( name = "fs-full", binary = "fs-full",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "root", source = (service = (service = "fs", export = "service"))),
        ],
        limits = (capabilitySlots = 4),
        waitForExit = true ),
      ( name = "fs-test", binary = "fs-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "system", source = (kernel = systemControl)),
          (name = "root", source = (service = (service = "fs", export = "service"))),
        ] ),
    ],
  ),
);
