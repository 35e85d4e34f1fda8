#!/usr/bin/env bash
# Builds the Linux peer of the capOS benchmarks into OUT_DIR (docs/performance.md):
#   vmlinux          Debian's kernel (linux-image-amd64), extracted from
#                    /boot/vmlinuz-* so that QEMU boots it through PVH
#   peer_bench, tiny the benchmark and the binary it spawns, static
#   initramfs.cpio   busybox-static + both + /init
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

clang-14 -static -O2 -Wall -Wextra -Werror -pthread -o "$out/peer_bench" "$here/peer_bench.c"
clang-14 -nostdlib -static -s -Wl,--build-id=none -o "$out/tiny" "$here/tiny.S"
python3 "$here/mkinitramfs.py" "$out/initramfs.cpio" /bin/busybox "$out/peer_bench" "$out/tiny"
package=linux-image-${vmlinuz#/boot/vmlinuz-}
version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || echo "version unknown")
echo "Debian $package $version, its vmlinux booted through PVH; busybox-static $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo '?')" > "$out/ready"
echo "build.sh: $(basename "$vmlinuz") -> $out/vmlinux; initramfs $(stat -c %s "$out/initramfs.cpio") bytes; tiny $(stat -c %s "$out/tiny") bytes"
