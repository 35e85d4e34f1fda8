#!/usr/bin/env python3
"""Writes the Linux peer's initramfs: an uncompressed newc cpio archive (the
kernel unpacks it without running a decompressor in the emulator) holding

    /bin/busybox        Debian's busybox-static
    /bin/sh             -> busybox
    /bin/peer_bench     the benchmark (bench/linux/peer_bench.c)
    /bin/tiny           the binary it spawns (bench/linux/tiny.S)
    /init               the script below
    /lib/modules/*.ko   kernel modules /init loads for the disk and network
                        figures, and
                        /lib/modules/order, the order (when any are given)
    /dev/console        character device 5:1, so /init has a console
    /proc, /sys, /tmp   empty directories

Written here rather than with cpio(1) so that /dev/console needs no root.

    mkinitramfs.py OUTPUT BUSYBOX PEER_BENCH TINY [MODULE.ko...]
"""
import os
import sys

# Runs the benchmark (quick when the kernel command line says peer_quick, the
# throughput of futex pairs on every CPU when it says peer_pairs, the disk
# figures alone on DEVICE when it says peer_disk=DEVICE: the modules loaded
# first, in the order listed in /lib/modules/order, devtmpfs mounted for the
# disk's node, and the node awaited, since a driver may add its disk after
# insmod returns (nvme scans its namespaces in a work item) and nothing in
# this initramfs says when: the loop looks for the node itself, for at most
# 10 s; the filesystem figures alone on the ext4 volume on DEVICE when it
# says peer_fs=DEVICE, after the same steps, their reads from the disk when
# it also says peer_fs_cold; the network figures' servers when it says
# peer_net=1: the modules loaded as for a disk, eth0 awaited the same way,
# then given the address QEMU's user network hands capOS by DHCP,
# 10.0.2.15/24, and its gateway, statically, since nothing here asks for a
# lease) and powers the machine off, which ends QEMU (-no-reboot).
INIT = b"""#!/bin/sh
/bin/busybox mount -t proc proc /proc
mode=
case "$(/bin/busybox cat /proc/cmdline)" in *peer_quick*) mode=--quick ;; esac
case "$(/bin/busybox cat /proc/cmdline)" in *peer_pairs*) mode=--pairs ;; esac
case "$(/bin/busybox cat /proc/cmdline)" in *peer_fs_cold*) mode="$mode --fs-cold" ;; esac
for word in $(/bin/busybox cat /proc/cmdline); do
  case "$word" in peer_disk=*|peer_fs=*)
    disk=${word#peer_*=}
    for module in $(/bin/busybox cat /lib/modules/order); do
      /bin/busybox insmod /lib/modules/$module || echo "peer: insmod $module failed"
    done
    /bin/busybox mount -t devtmpfs devtmpfs /dev
    waited=0
    while [ ! -b "$disk" ] && [ $waited -lt 100 ]; do
      /bin/busybox usleep 100000
      waited=$((waited + 1))
    done
    case "$word" in
      peer_disk=*) mode="$mode --disk $disk" ;;
      *) mode="$mode --fs $disk" ;;
    esac ;;
  esac
done
case "$(/bin/busybox cat /proc/cmdline)" in *peer_net=1*)
  for module in $(/bin/busybox cat /lib/modules/order); do
    /bin/busybox insmod /lib/modules/$module || echo "peer: insmod $module failed"
  done
  /bin/busybox mount -t sysfs sysfs /sys
  waited=0
  while [ ! -e /sys/class/net/eth0 ] && [ $waited -lt 100 ]; do
    /bin/busybox usleep 100000
    waited=$((waited + 1))
  done
  /bin/busybox ip link set lo up
  /bin/busybox ip link set eth0 up
  /bin/busybox ip addr add 10.0.2.15/24 dev eth0
  /bin/busybox ip route add default via 10.0.2.2
  mode="$mode --net" ;;
esac
/bin/peer_bench $mode
echo "peer: exit status $?"
/bin/busybox poweroff -f
"""


class Writer:
    def __init__(self, out):
        self.out = out
        self.ino = 1

    def entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_bytes = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(name_bytes), 0]
        self.ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.out.write(header + name_bytes)
        self.out.write(b"\0" * (-(len(header) + len(name_bytes)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def directory(self, name):
        self.entry(name, 0o040755)

    def file(self, name, data, mode=0o100755):
        self.entry(name, mode, data)

    def symlink(self, name, target):
        self.entry(name, 0o120777, target.encode())

    def trailer(self):
        self.entry("TRAILER!!!", 0)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    output, busybox, peer, tiny = sys.argv[1:5]
    modules = sys.argv[5:]
    read = lambda path: open(path, "rb").read()
    with open(output + ".tmp", "wb") as out:
        w = Writer(out)
        for d in ["bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp"]:
            w.directory(d)
        w.entry("dev/console", 0o020600, rdev=(5, 1))
        w.file("bin/busybox", read(busybox))
        w.symlink("bin/sh", "busybox")
        w.file("bin/peer_bench", read(peer))
        w.file("bin/tiny", read(tiny))
        for module in modules:
            w.file("lib/modules/" + os.path.basename(module), read(module), 0o100644)
        if modules:
            w.file("lib/modules/order",
                   "".join(os.path.basename(m) + "\n" for m in modules).encode(), 0o100644)
        w.file("init", INIT)
        w.trailer()
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
