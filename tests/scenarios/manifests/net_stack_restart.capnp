# scenario.net_stack_restart: the virtio-net driver serving "nic" to
# netstack_faulty (the stack built to fault at the 6th call it serves),
# which init starts again once (restarts = 1); net-stack-restart-test holds
# a supervisor to get the new stack's NetworkManager (not waited for: init
# restarts services only once all have started).
# (unisolatedDma: without an IOMMU the claim needs it.)
@0xb7c2e4f6a8d0132b;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-net", path = "bin/virtio_net"),
    (name = "netstack", path = "bin/netstack_faulty"),
    (name = "net-stack-restart-test", path = "bin/net_stack_restart_test"),
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
        exports = ["nic"] ),
      ( name = "netstack", binary = "netstack",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "nic", source = (service = (service = "virtio-net", export = "nic"))),
          (name = "net", source = (endpoint = void)),
        ],
        exports = ["net"],
        restarts = 1 ),
      ( name = "net-stack-restart-test", binary = "net-stack-restart-test",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "net", source = (service = (service = "netstack", export = "net"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
);
