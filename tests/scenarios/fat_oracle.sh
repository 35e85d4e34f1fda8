#!/bin/sh
# host.fat_oracle: what scenario.shell_storage wrote on a FAT32 disk the host
# made (disks/fat-shell.img), read by the host's own tools: fsck.fat finds
# nothing to repair, mtools lists and reads the files capOS made (a copy
# from the capOS volume under a long name, a directory) and the host's own
# files are as they were.
set -eu
image=$1
fsck.fat -n "$image"
test "$(mtype -i "$image" ::from-capos.txt)" = "$(printf 'hello from the shell\nsecond line')"
mdir -i "$image" -b ::/ | grep -qx '::/made-here/'
test "$(mtype -i "$image" ::long-file-name.txt)" = "a long name from the host"
test "$(mtype -i "$image" ::DOCS/NOTE.TXT)" = "short"
if mtype -i "$image" ::removed.txt 2>/dev/null; then
    echo "removed.txt is still there"; exit 1
fi
echo "fat oracle: fsck.fat clean, capOS's files read back with mtools"
