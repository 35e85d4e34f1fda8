#!/bin/sh
# host.capfs_tool: capos-capfs make/ls/cat/extract/check on a real tree.
set -eu
tool=$1
work=$2
rm -rf "$work"
mkdir -p "$work/tree/docs/deeper" "$work/tree/empty-dir"
printf 'hello from the host\n' > "$work/tree/hello.txt"
: > "$work/tree/empty"
name=$(printf 'n%.0s' $(seq 1 255))
printf 'long name\n' > "$work/tree/docs/$name"
head -c 3000000 /dev/urandom > "$work/tree/docs/deeper/random.bin"
for i in $(seq 1 300); do printf '%s\n' "$i" > "$work/tree/docs/file-$i"; done

"$tool" make "$work/image" 32 "$work/tree"
"$tool" check "$work/image" | tee "$work/check.txt"
grep -q "consistent$" "$work/check.txt"
test "$("$tool" cat "$work/image" hello.txt)" = "hello from the host"
"$tool" ls "$work/image" > "$work/ls.txt"
grep -qx "/docs/deeper/random.bin 3000000" "$work/ls.txt"
grep -qx "/empty 0" "$work/ls.txt"
grep -qx "/empty-dir/" "$work/ls.txt"
test "$(grep -c '^/docs/file-' "$work/ls.txt")" = 300
"$tool" extract "$work/image" "$work/out"
diff -r "$work/tree" "$work/out"
if "$tool" cat "$work/image" nothere 2>/dev/null; then
    echo "cat of a missing file succeeded"; exit 1
fi
# Both superblocks broken: no mount, and the checker says so.
printf 'XXXX' | dd of="$work/image" bs=1 seek=0 conv=notrunc 2>/dev/null
printf 'XXXX' | dd of="$work/image" bs=1 seek=4096 conv=notrunc 2>/dev/null
if "$tool" check "$work/image" > "$work/bad.txt"; then
    echo "check of a broken image passed"; exit 1
fi
grep -q "no valid superblock" "$work/bad.txt"
if "$tool" ls "$work/image" 2>/dev/null; then
    echo "ls of a broken image succeeded"; exit 1
fi
echo "capfs tool: all checks passed"
