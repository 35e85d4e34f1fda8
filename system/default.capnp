# The system `make run` boots: the capability shell on the terminal. init
# starts the shell with the terminal, the console, the timer, the spawner, the
# machine's power (system), the schema registry, the entropy source, the
# system information (motd, build, memory), the process inspector, the
# kernel log's reader, the manual, the boot archive's files (read-only, as
# `files`) and the PCI device inventory (read-only, as `devices`), which it
# hands on to the programs it runs only as the user lists them.
#
# Disks: before the shell, init starts a virtio-blk driver for each of the
# first two transitional virtio-blk functions (QEMU's `-device
# virtio-blk-pci,drive=...`, 1af4:1001) and the first two modern-only ones
# (`disable-legacy=on`, 1af4:1042), each holding only its own function. The
# first transitional disk is the home volume (`make run` attaches
# build/home.img as it): the filesystem service `home` serves it and the
# shell gets its root directory as `home` (with `vm`, which the filesystem
# service `mount` starts needs); without that disk neither starts. The shell
# gets the other disks as disk1 (transitional) and disk2 and disk3 (modern);
# an NVMe driver for each of the first two NVMe controllers
# (`-device nvme,serial=...,drive=...`, 1b36:0010), their disks nvme0 and
# nvme1. A driver whose function is not there is not started (one
# line says so) and its disk is left out of the shell's grants. A driver
# that crashes is started again (up to three times), and the shell gets its
# disk again through init's Supervisor (`supervisor`). The drivers
# are trusted with DMA nothing isolates when the machine has no IOMMU (as
# `make run` boots it): they are the system's own, from the boot image; with
# `-device intel-iommu` each device reaches only its driver's buffers
# (docs/devices.md, "Driver authority").
#
# Network: a virtio-net driver for the first transitional virtio-net
# function (QEMU's `-device virtio-net-pci,netdev=...` on q35's root bus,
# 1af4:1000; `make run` attaches one on QEMU's user network), and the
# network stack over it (docs/networking.md), which configures the
# interface itself (DHCP, SLAAC) and gives the shell its NetworkManager as
# `net`; without that function neither starts. The driver is started again
# up to three times when it crashes, and the stack binds to the new one
# through its supervisor. The shell's programs get
# network authority only as the user grants it (`run ifconfig with { net:
# @net }`; `call @net.icmp() -> @icmp`, then `run ping <address> with {
# icmp: @icmp }`; likewise a TcpListenAuthority for tcp-echo-server and a
# TcpConnector for fetch).
@0xd0adbdae946aa5a3;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "init", path = "bin/init"),
    (name = "shell", path = "bin/shell"),
    (name = "hello", path = "bin/hello"),
    (name = "fault", path = "bin/fault"),
    (name = "sleep", path = "bin/sleep"),
    (name = "yes", path = "bin/yes"),
    (name = "spin", path = "bin/spin"),
    (name = "cat", path = "bin/cat"),
    (name = "echo-server", path = "bin/echo-server"),
    (name = "echo-client", path = "bin/echo-client"),
    (name = "virtio-blk", path = "bin/virtio_blk"),
    (name = "nvme", path = "bin/nvme"),
    (name = "fs", path = "bin/fs"),
    (name = "names", path = "bin/names"),
    (name = "virtio-net", path = "bin/virtio_net"),
    (name = "netstack", path = "bin/netstack"),
    (name = "ping", path = "bin/ping"),
    (name = "ifconfig", path = "bin/ifconfig"),
    (name = "tcp-echo-server", path = "bin/tcp-echo-server"),
    (name = "fetch", path = "bin/fetch"),
    (name = "udp-echo", path = "bin/udp-echo"),
    (name = "udp-ping", path = "bin/udp-ping"),
    (name = "resolve", path = "bin/resolve"),
  ],
  init = (
    program = "init",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "boot", source = (kernel = bootPackage)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "terminal", source = (kernel = terminal)),
      (name = "timer", source = (kernel = timer)),
      (name = "system", source = (kernel = systemControl)),
      (name = "schema", source = (kernel = schemaRegistry)),
      (name = "entropy", source = (kernel = entropy)),
      (name = "info", source = (kernel = systemInfo)),
      (name = "processes", source = (kernel = processInspector)),
      (name = "log", source = (kernel = logReader)),
      (name = "manual", source = (kernel = manual)),
      (name = "files", source = (kernel = bootFiles)),
      (name = "devices", source = (kernel = deviceInventory)),
      (name = "device-manager", source = (kernel = deviceManager)),
      (name = "vm", source = (kernel = virtualMemory)),
    ],
    services = [
      ( name = "virtio-blk0", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 0),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "virtio-blk1", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1001, index = 1),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "virtio-blk2", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 0),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "virtio-blk3", binary = "virtio-blk",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1042, index = 1),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "nvme0", binary = "nvme",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1b36, deviceId = 0x0010, index = 0),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "nvme1", binary = "nvme",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1b36, deviceId = 0x0010, index = 1),
                                unisolatedDma = true, optional = true)) ),
          (name = "disk", source = (endpoint = void)),
        ],
        exports = ["disk"],
        restarts = 3 ),
      ( name = "virtio-net0", binary = "virtio-net",
        grants = [
          (name = "console", source = (kernel = console)),
          ( name = "device",
            source = (device = (identity = (vendorId = 0x1af4, deviceId = 0x1000, index = 0),
                                unisolatedDma = true, optional = true)) ),
          (name = "nic", source = (endpoint = void)),
        ],
        exports = ["nic"],
        restarts = 3 ),
      ( name = "netstack", binary = "netstack",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "nic", source = (service = (service = "virtio-net0", export = "nic")),
           required = true),
          (name = "supervisor", source = (supervisor = void)),
          (name = "net", source = (endpoint = void)),
        ],
        exports = ["net"] ),
      ( name = "home", binary = "fs",
        grants = [
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "vm", source = (kernel = virtualMemory)),
          (name = "disk", source = (service = (service = "virtio-blk0", export = "disk")),
           required = true),
          (name = "service", source = (endpoint = void)),
        ],
        exports = ["service"] ),
      ( name = "shell", binary = "shell",
        grants = [
          (name = "terminal", source = (kernel = terminal)),
          (name = "console", source = (kernel = console)),
          (name = "timer", source = (kernel = timer)),
          (name = "spawner", source = (kernel = processSpawner)),
          (name = "system", source = (kernel = systemControl)),
          (name = "schema", source = (kernel = schemaRegistry)),
          (name = "entropy", source = (kernel = entropy)),
          (name = "info", source = (kernel = systemInfo)),
          (name = "processes", source = (kernel = processInspector)),
          (name = "log", source = (kernel = logReader)),
          (name = "manual", source = (kernel = manual)),
          (name = "files", source = (kernel = bootFiles)),
          (name = "devices", source = (kernel = deviceInventory)),
          # (0xdd39608000d52fd8: Directory; the shell's caps and call see it.)
          (name = "home", interfaceId = 0xdd39608000d52fd8,
           source = (service = (service = "home", export = "service"))),
          (name = "vm", source = (kernel = virtualMemory)),
          (name = "disk1", source = (service = (service = "virtio-blk1", export = "disk"))),
          (name = "disk2", source = (service = (service = "virtio-blk2", export = "disk"))),
          (name = "disk3", source = (service = (service = "virtio-blk3", export = "disk"))),
          (name = "nvme0", source = (service = (service = "nvme0", export = "disk"))),
          (name = "nvme1", source = (service = (service = "nvme1", export = "disk"))),
          # (0x8ef6aeea080ac38b: NetworkManager.)
          (name = "net", interfaceId = 0x8ef6aeea080ac38b,
           source = (service = (service = "netstack", export = "net"))),
          (name = "supervisor", source = (supervisor = void)),
        ] ),
    ],
  ),
  kernel = (logLevel = info),
);
