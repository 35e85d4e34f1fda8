# scenario.device_edu: init holds the DeviceManager, claims QEMU's edu device
# (1234:11e8, the first) for device-test, trusted with unisolated DMA (the
# machine has no IOMMU), and moves the Device to it as "edu". device-test
# holds a DeviceManager of its own too, to see which claims it refuses.
@0xfa82be517e8f91c4;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "device-test", path = "bin/device_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "devices", source = (kernel = deviceManager)),
    ],
    services = [
      ( name = "device-test", binary = "device-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "devices", source = (kernel = deviceManager)),
          ( name = "edu",
            source = (device = (identity = (vendorId = 0x1234, deviceId = 0x11e8, index = 0),
                                unisolatedDma = true)) ),
        ] ),
    ],
  ),
);
