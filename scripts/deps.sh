#!/usr/bin/env bash
# Installs the Debian packages capOS needs to build, boot and test. Idempotent:
# packages already present are skipped, and nothing is fetched when all are.
set -euo pipefail

packages=(
  # toolchain
  clang-14 lld-14 libclang-rt-14-dev clang-format-14 cmake ninja-build make binutils
  # host test frameworks
  libgtest-dev libgmock-dev libbenchmark-dev
  # schema compiler and the reference wire implementation; dpkg-dev unpacks
  # Debian source packages (Cap'n Proto's test data, later lwIP)
  capnproto libcapnp-dev dpkg-dev
  # emulator and firmware
  qemu-system-x86 ovmf
  # boot media (mtools also reads and writes the FAT test images)
  grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools
  # mkfs.fat and fsck.fat: the oracles of lib/fs/fat's host tests
  dosfstools
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

# Source packages (apt-get source) need deb-src entries, which Debian images
# often lack. Add them once, for the release this machine runs.
src_list=/etc/apt/sources.list.d/capos-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "deps: adding deb-src entries for $codename ($src_list)"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$codename" | "${sudo_cmd[@]}" tee "$src_list" >/dev/null
  need_update=1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ $need_update -eq 0 ]; then
  exit 0
fi

"${sudo_cmd[@]}" apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
