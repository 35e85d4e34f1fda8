# scenario.device_claim_refused: the first service is granted edu, which
# exists, and a second edu, which does not. init claims the first, cannot
# claim the second, and so starts neither the service nor the one after it.
@0xc0abb11caa13d638;

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
      (name = "devices", source = (kernel = deviceManager)),
    ],
    services = [
      ( name = "driver", binary = "device-test",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "edu",
            source = (device = (identity = (vendorId = 0x1234, deviceId = 0x11e8, index = 0),
                                unisolatedDma = true)) ),
          ( name = "second-edu",
            source = (device = (identity = (vendorId = 0x1234, deviceId = 0x11e8, index = 1))) ),
        ] ),
      ( name = "after", binary = "device-test",
        grants = [(name = "console", source = (kernel = console))] ),
    ],
  ),
);
