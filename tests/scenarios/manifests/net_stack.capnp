# scenario.net_stack: the virtio-net driver claimed by init for the
# transitional function the scenario attaches, serving "nic" to netstack
# (lwIP), which serves NetworkManager as "net" to net-test.
# (unisolatedDma: without an IOMMU the claim needs it.)
@0xd41c9a7e3b5f2806;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-net", path = "bin/virtio_net"),
    (name = "netstack", path = "bin/netstack"),
    (name = "net-test", path = "bin/net_test"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "entropy", source = (kernel = entropy)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "devices", source = (kernel = deviceManager)),
      (name = "frames", source = (kernel = frameAllocator)),
    ],
    services = [
      ( name = "virtio-net", binary = "virtio-net",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1000, index = 0),
                                unisolatedDma = true)) ),
          (name = "nic", source = (endpoint = void)),
        ],
        exports = ["nic"] ),
      ( name = "netstack", binary = "netstack",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "nic", source = (service = (service = "virtio-net", export = "nic"))),
          (name = "net", source = (endpoint = void)),
        ],
        exports = ["net"] ),
      ( name = "net-test", binary = "net-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "net", source = (service = (service = "netstack", export = "net"))),
          (name = "frames", source = (kernel = frameAllocator)),
        ],
        waitForExit = true ),
    ],
  ),
);
