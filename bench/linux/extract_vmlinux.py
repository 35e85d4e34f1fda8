#!/usr/bin/env python3
"""Extracts the uncompressed vmlinux (an ELF) from a bzImage such as Debian's
/boot/vmlinuz-*, the way the kernel's scripts/extract-vmlinux does: look for
the magic bytes of each compression format the kernel can be built with,
decompress from each hit with the matching Debian tool, and keep the first
output that is an ELF image. A payload is followed by the rest of the bzImage,
so the tools complain about trailing data; that is expected and ignored.

    extract_vmlinux.py BZIMAGE OUTPUT
"""
import shutil
import subprocess
import sys

# magic, decompressor (reads stdin, writes stdout)
FORMATS = [
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
    (b"\x1f\x8b\x08", ["gzip", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]),
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),
    (b"BZh", ["bzip2", "-dc"]),
    (b"\x5d\x00\x00\x00", ["xz", "--format=lzma", "-dc"]),
    (b"\x89LZO", ["lzop", "-dc"]),
]


def candidates(image, magic):
    start = image.find(magic)
    while start != -1:
        yield start
        start = image.find(magic, start + 1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, output = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        image = f.read()
    tried = []
    for magic, command in FORMATS:
        if shutil.which(command[0]) is None:
            continue
        for offset in candidates(image, magic):
            done = subprocess.run(command, input=image[offset:], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
            tried.append(f"{command[0]}@{offset}")
            if done.stdout[:4] == b"\x7fELF":
                with open(output, "wb") as f:
                    f.write(done.stdout)
                print(f"extract_vmlinux: {source}: {command[0]} payload at offset {offset}, "
                      f"{len(done.stdout)} bytes of ELF -> {output}")
                return
    sys.exit(f"extract_vmlinux: no compressed ELF found in {source} (tried {', '.join(tried)})")


if __name__ == "__main__":
    main()
