#!/usr/bin/env bash
# Installs the Debian packages capOS needs to build, boot and test. Idempotent:
# packages already present are skipped, and nothing is fetched when all are.
set -euo pipefail

packages=(
  # toolchain
  clang-14 lld-14 libclang-rt-14-dev clang-format-14 cmake ninja-build make binutils
  # host test frameworks
  libgtest-dev libgmock-dev libbenchmark-dev
  # schema compiler and the reference wire implementation
  capnproto libcapnp-dev
  # emulator and firmware
  qemu-system-x86 ovmf
  # boot media
  grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
