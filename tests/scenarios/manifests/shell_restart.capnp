# scenario.shell_restart: the shell holding a disk served by a driver that
# crashes (virtio_blk_faulty, faulting at its third request of the device),
# which init starts again once, and init's Supervisor to get the disk back.
@0xa93f5e1c27b4d806;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "virtio-blk", path = "bin/virtio_blk_faulty"),
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
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0),
                                unisolatedDma = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 1 ),
      ( name = "shell", binary = "shell",
        grants = [
          (name = "terminal", source = (kernel = terminal)),
          (name = "console", source = (kernel = console)),
          (name = "disk0", source = (service = (service = "virtio-blk", export = "disk"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
);
