# scenario.net_dhcp_renew: the virtio-net driver serving "nic" to netstack,
# which serves NetworkManager as "net" to net-hostile-test; the NIC's wire
# is a DHCP server on the host (tests/net/wire_peer.py --renew).
# (unisolatedDma: without an IOMMU the claim needs it.)
@0xf8a6b4c3d5e7091b;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-net", path = "bin/virtio_net"),
    (name = "netstack", path = "bin/netstack"),
    (name = "net-hostile-test", path = "bin/net_hostile_test"),
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
        exports = ["net"] ),
      ( name = "net-hostile-test", binary = "net-hostile-test",
        args = ["renew"],
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "net", source = (service = (service = "netstack", export = "net"))),
        ],
        waitForExit = true ),
    ],
  ),
);
