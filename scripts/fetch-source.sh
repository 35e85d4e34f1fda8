#!/usr/bin/env bash
# fetch-source.sh PACKAGE DEST: unpacks Debian's source package PACKAGE (for the
# release this machine runs) under DEST, once. Prints the unpacked directory.
# Used for test data and sources the project builds from (Cap'n Proto's test
# schema and golden messages; later lwIP). Needs the deb-src entries that
# scripts/deps.sh adds.
set -euo pipefail
package=$1
dest=$2
mkdir -p "$dest"
existing=$(find "$dest" -maxdepth 1 -type d -name "$package-*" | head -n 1)
if [ -z "$existing" ]; then
  (cd "$dest" && apt-get source -qq "$package" >/dev/null 2>"$dest/$package.log") || {
    echo "fetch-source: apt-get source $package failed:" >&2
    cat "$dest/$package.log" >&2
    exit 1
  }
  existing=$(find "$dest" -maxdepth 1 -type d -name "$package-*" | head -n 1)
fi
[ -n "$existing" ] || { echo "fetch-source: no $package-* directory under $dest" >&2; exit 1; }
echo "$existing"
