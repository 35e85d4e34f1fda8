#!/usr/bin/env bash
# Builds the Linux peer of the capOS benchmarks into OUT_DIR (docs/performance.md):
#   vmlinux          Debian's kernel (linux-image-amd64), extracted from
#                    /boot/vmlinuz-* so that QEMU boots it through PVH
#   peer_bench, tiny the benchmark and the binary it spawns, static
#   initramfs.cpio   busybox-static + both + /init
#   initramfs-disk.cpio  the same and the kernel's virtio-blk and NVMe modules,
#                    for the disk figures (/init loads them when the kernel
#                    command line says peer_disk=DEVICE); apart, so that the
#                    other figures' boot (its time, its smallest -m) does not
#                    carry them
#   initramfs-fs.cpio    the same with the virtio-blk modules and ext4's, for
#                    the filesystem figures (peer_fs=DEVICE)
#   initramfs-net.cpio   the same with the virtio-net modules, for the
#                    network figures (peer_net=1)
# scripts/bench-deps.sh installs what this needs. Usage: build.sh OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
# run_bench.py boots the peer only when "ready" exists; "failed" says why not.
rm -f "$out/ready" "$out/failed"
trap 'echo "bench/linux/build.sh failed at line $LINENO (see make bench output)" > "$out/failed"' ERR

# The newest Debian kernel installed.
vmlinuz=$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$vmlinuz" ]; then
  echo "build.sh: no /boot/vmlinuz-*-amd64 (linux-image-amd64 is not installed)" >&2
  echo "no /boot/vmlinuz-*-amd64: linux-image-amd64 is not installed" > "$out/failed"
  trap - ERR
  exit 1
fi
if [ ! -s "$out/vmlinux" ] || [ "$vmlinuz" -nt "$out/vmlinux" ] ||
   [ "$(cat "$out/vmlinux.source" 2>/dev/null)" != "$vmlinuz" ]; then
  python3 "$here/extract_vmlinux.py" "$vmlinuz" "$out/vmlinux"
  echo "$vmlinuz" > "$out/vmlinux.source"
fi

# -I the repository: peer_bench.c includes bench/disk_workload.h, the disk
# workload it shares with capOS's disk_bench.
clang-14 -static -O2 -Wall -Wextra -Werror -pthread -I "$here/../.." -o "$out/peer_bench" \
  "$here/peer_bench.c"
clang-14 -nostdlib -static -s -Wl,--build-id=none -o "$out/tiny" "$here/tiny.S"
python3 "$here/mkinitramfs.py" "$out/initramfs.cpio" /bin/busybox "$out/peer_bench" "$out/tiny"
# Debian builds virtio, virtio-pci and virtio-blk as modules (CONFIG_VIRTIO_BLK=m):
# the kernel's own, in the order they depend on each other (modules.dep),
# uncompressed (CONFIG_MODULE_COMPRESS_NONE), for busybox's insmod.
# The NVMe driver likewise (CONFIG_BLK_DEV_NVME=m): nvme-core and what it
# needs for protection information (t10-pi and its CRCs), as modules.dep
# lists them, dependencies first. Both kinds' modules are in the one
# initramfs: a driver without its device loads and waits idle.
kernel=/lib/modules/${vmlinuz#/boot/vmlinuz-}/kernel
modules=$kernel/drivers
python3 "$here/mkinitramfs.py" "$out/initramfs-disk.cpio" /bin/busybox "$out/peer_bench" \
  "$out/tiny" "$modules/virtio/virtio_ring.ko" "$modules/virtio/virtio.ko" \
  "$modules/virtio/virtio_pci_modern_dev.ko" "$modules/virtio/virtio_pci_legacy_dev.ko" \
  "$modules/virtio/virtio_pci.ko" "$modules/block/virtio_blk.ko" \
  "$kernel/crypto/crct10dif_common.ko" "$kernel/lib/crc64.ko" "$kernel/lib/crc-t10dif.ko" \
  "$kernel/lib/crc64-rocksoft.ko" "$kernel/block/t10-pi.ko" "$modules/nvme/host/nvme-core.ko" \
  "$modules/nvme/host/nvme.ko"
# ext4 (CONFIG_EXT4_FS=m) and what it needs, in modules.dep's order: crc16,
# mbcache, jbd2; and crc32c_generic, the "crc32c" transform ext4 and jbd2
# ask the crypto API for at mount when the volume has metadata_csum (as
# mkfs.ext4 makes it by default): nothing here would load it on demand
# (crc32c-intel needs SSE4.2, which QEMU's default CPU model lacks).
python3 "$here/mkinitramfs.py" "$out/initramfs-fs.cpio" /bin/busybox "$out/peer_bench" \
  "$out/tiny" "$modules/virtio/virtio_ring.ko" "$modules/virtio/virtio.ko" \
  "$modules/virtio/virtio_pci_modern_dev.ko" "$modules/virtio/virtio_pci_legacy_dev.ko" \
  "$modules/virtio/virtio_pci.ko" "$modules/block/virtio_blk.ko" \
  "$kernel/crypto/crc32c_generic.ko" "$kernel/lib/crc16.ko" "$kernel/fs/mbcache.ko" \
  "$kernel/fs/jbd2/jbd2.ko" "$kernel/fs/ext4/ext4.ko"
# virtio-net (CONFIG_VIRTIO_NET=m) after the virtio modules and what it
# needs for failover (failover, net_failover), as modules.dep lists them.
python3 "$here/mkinitramfs.py" "$out/initramfs-net.cpio" /bin/busybox "$out/peer_bench" \
  "$out/tiny" "$modules/virtio/virtio_ring.ko" "$modules/virtio/virtio.ko" \
  "$modules/virtio/virtio_pci_modern_dev.ko" "$modules/virtio/virtio_pci_legacy_dev.ko" \
  "$modules/virtio/virtio_pci.ko" "$kernel/net/core/failover.ko" \
  "$modules/net/net_failover.ko" "$modules/net/virtio_net.ko"
package=linux-image-${vmlinuz#/boot/vmlinuz-}
version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || echo "version unknown")
echo "Debian $package $version, its vmlinux booted through PVH; busybox-static $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo '?')" > "$out/ready"
echo "build.sh: $(basename "$vmlinuz") -> $out/vmlinux; initramfs $(stat -c %s "$out/initramfs.cpio") bytes; tiny $(stat -c %s "$out/tiny") bytes"
