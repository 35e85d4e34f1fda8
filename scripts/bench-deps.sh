#!/usr/bin/env bash
# Installs what only `make bench` needs (docs/performance.md), on top of
# scripts/deps.sh: the Linux peer's kernel and userland. Not run by `make deps`
# or `make test`. Idempotent: nothing is fetched when all are present.
#   linux-image-amd64  Debian's own kernel; bench/linux/build.sh extracts the
#                      uncompressed vmlinux from /boot/vmlinuz-* and QEMU boots it
#                      through PVH
#   busybox-static     the peer's /init shell and poweroff
#   libc6-dev          static glibc (libc.a) for peer_bench
#   xz-utils           decompresses the kernel's payload (Debian's kernels are xz)
#   e2fsprogs          mkfs.ext4, the peer's ext4 volume for the filesystem figures
set -euo pipefail

packages=(linux-image-amd64 busybox-static libc6-dev xz-utils e2fsprogs)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bench-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
