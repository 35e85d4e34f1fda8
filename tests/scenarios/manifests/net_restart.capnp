# scenario.net_restart: the virtio-net driver built to fault at its 150th
# frame sent (virtio_net_faulty), which init starts again each time, up to
# six times (restarts = 6), serving "nic" to netstack, which holds a supervisor to
# get the new driver's Nic; net-restart-test is the stack's client (not
# waited for: init restarts services only once all have started).
# (unisolatedDma: without an IOMMU the claim needs it.)
@0xa3f1c2d4e5b60718;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-net", path = "bin/virtio_net_faulty"),
    (name = "netstack", path = "bin/netstack"),
    (name = "net-restart-test", path = "bin/net_restart_test"),
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
        exports = ["nic"],
        restarts = 6 ),
      ( name = "netstack", binary = "netstack",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "nic", source = (service = (service = "virtio-net", export = "nic"))),
          (name = "supervisor", source = (supervisor = void)),
          (name = "net", source = (endpoint = void)),
        ],
        exports = ["net"] ),
      ( name = "net-restart-test", binary = "net-restart-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "net", source = (service = (service = "netstack", export = "net"))),
        ] ),
    ],
  ),
);
