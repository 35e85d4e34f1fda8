# The capOS network bench system (docs/performance.md, "Network"): init
# claims the virtio-net function bench/run_bench.py attaches
# (`-device virtio-net-pci`, transitional 1af4:1000 as QEMU makes it by
# default) for the driver, which serves it as "nic" to the network stack
# (lwIP), which serves NetworkManager as "net" to net-bench
# (user/bench/net_bench.cpp). net-bench serves bench/net_client.c on the
# host through QEMU's port forwards until the client tells it to stop;
# then init powers off. (unisolatedDma: there is no IOMMU in the bench's
# QEMU.)
@0xa3d85e2c71f4b906;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "virtio-net", path = "bin/virtio_net"),
    (name = "netstack", path = "bin/netstack"),
    (name = "net-bench", path = "bin/net_bench"),
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
      ( name = "net-bench", binary = "net-bench",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "net", source = (service = (service = "netstack", export = "net"))),
          (name = "frames", source = (kernel = frameAllocator)),
        ],
        waitForExit = true ),
    ],
  ),
);
