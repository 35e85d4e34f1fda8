# scenario.device_ports: init claims QEMU's virtio-rng with its modern
# interface off (1af4:1005) for device-ports-test and moves the Device to it
# as "rng". Registers only: no DMA is asked for.
@0xc4d1f6a2b83e9057;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "device-ports-test", path = "bin/device_ports_test"),
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
      ( name = "device-ports-test", binary = "device-ports-test",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "rng",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1005, index = 0))) ),
        ] ),
    ],
  ),
);
