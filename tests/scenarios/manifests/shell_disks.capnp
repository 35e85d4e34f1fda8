# scenario.shell_disks: the shell on the terminal holding three disks, each
# served by a virtio-blk driver init claims a device for (as in
# manifests/blk_test.capnp): disk0 on the modern function 1af4:1042, disk1
# on the transitional 1af4:1001, disk4k on the second modern function.
@0xe3d05b7a91c46f28;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "terminal", source = (kernel = terminal)),
      (name = "devices", source = (kernel = deviceManager)),
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
      ( name = "virtio-blk-ro", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "virtio-blk-4k", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 1),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"] ),
      ( name = "shell", binary = "shell",
        grants = [
          (name = "terminal", source = (kernel = terminal)),
          (name = "console", source = (kernel = console)),
          (name = "disk0", source = (service = (service = "virtio-blk", export = "disk"))),
          (name = "disk1", source = (service = (service = "virtio-blk-ro", export = "disk"))),
          (name = "disk4k", source = (service = (service = "virtio-blk-4k", export = "disk"))),
        ] ),
    ],
  ),
);
