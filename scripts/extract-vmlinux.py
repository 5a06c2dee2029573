#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Extract the uncompressed ELF vmlinux from a bzImage (xz, zstd or gzip payload).

QEMU boots the ELF through its PVH entry, which skips the slow in-guest
decompression under TCG.  Usage: extract-vmlinux.py BZIMAGE OUT
"""
import gzip
import lzma
import subprocess
import sys

MAGICS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b\x08", "gzip"),
]


def decompress(kind, blob):
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(blob)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=__import__("io").BytesIO(blob)).read()
    proc = subprocess.run(["zstd", "-dcq"], input=blob, capture_output=True)
    return proc.stdout


def main():
    data = open(sys.argv[1], "rb").read()
    for magic, kind in MAGICS:
        pos = data.find(magic)
        while pos >= 0:
            try:
                out = decompress(kind, data[pos:])
            except (lzma.LZMAError, OSError, EOFError):
                out = b""
            if out[:4] == b"\x7fELF":
                with open(sys.argv[2], "wb") as f:
                    f.write(out)
                return 0
            pos = data.find(magic, pos + 1)
    print("extract-vmlinux: no ELF payload found", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
