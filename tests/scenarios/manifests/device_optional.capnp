# scenario.device_optional: a driver whose optional device is absent (no
# virtio-blk here) is skipped, and the grant of its export is left out of
# the service after it, which starts without it; a driver whose optional
# device is there (edu) starts as usual.
@0xe3c1b5a0d2f49a11;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "hello", path = "bin/hello"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "devices", source = (kernel = deviceManager)),
    ],
    services = [
      ( name = "missing-driver", binary = "hello",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "disk-device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 0),
                                optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        waitForExit = true ),
      ( name = "present-driver", binary = "hello",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "edu",
            source = (device = (identity = (vendorId = 0x1234, deviceId = 0x11e8, index = 0),
                                optional = true)) ),
        ],
        waitForExit = true ),
      ( name = "client", binary = "hello",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk0", source = (service = (service = "missing-driver", export = "disk"))),
        ] ),
      ( name = "needs-disk", binary = "hello",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "disk", source = (service = (service = "missing-driver", export = "disk")),
           required = true),
        ] ),
    ],
  ),
);
