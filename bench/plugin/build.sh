#!/usr/bin/env bash
# Builds the profiling plugin (bench/plugin/capos_profile.cpp) into OUT-DIR
# against qemu-plugin.h of the installed QEMU: the header comes from Debian's
# source package of that very version (`apt-get source`, download only; only
# the header is unpacked). Nothing is fetched again once the header is there.
#   bench/plugin/build.sh OUT-DIR    ->  OUT-DIR/libcapos_profile.so
set -euo pipefail

out=$(realpath -m "$1")
here=$(dirname "$(realpath "$0")")
mkdir -p "$out/qemu-source"
header_dir="$out/qemu-source/include"

if [ ! -f "$header_dir/qemu-plugin.h" ]; then
  version=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
  (cd "$out/qemu-source" && apt-get source --download-only -qq "qemu=$version")
  tarball=$(ls "$out"/qemu-source/qemu_*.orig.tar.xz | head -n 1)
  tar -xJf "$tarball" -C "$out/qemu-source" --wildcards '*/include/qemu/qemu-plugin.h'
  mkdir -p "$header_dir"
  mv "$out"/qemu-source/qemu-*/include/qemu/qemu-plugin.h "$header_dir/"
fi

clang++-14 -std=c++20 -O2 -Wall -Wextra -Werror -shared -fPIC -I"$header_dir" \
  -o "$out/libcapos_profile.so" "$here/capos_profile.cpp"
echo "$out/libcapos_profile.so"
