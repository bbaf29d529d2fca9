#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), deterministically.

Frames are built the way py2p builds them: uint32 BE length, then C(sha256(body) ++ body),
with msgpack bodies shaped like the protocol's messages. Run once by hand with Debian's
python3 (python3-msgpack, python3-snappy); the output is committed.
"""
import bz2
import hashlib
import lzma
import os
import struct
import zlib

import msgpack
import snappy

HERE = os.path.dirname(os.path.abspath(__file__))
# The order of p2p::wire::all_compressions: decompress_fuzz picks data[0] % 5.
METHODS = ["snappy", "zlib", "gzip", "bz2", "lzma"]


def compress(method, data):
    if method in ("zlib", "gzip"):
        c = zlib.compressobj(-1, zlib.DEFLATED, 15 if method == "zlib" else 31)
        return c.compress(data) + c.flush()
    return {"snappy": snappy.compress, "bz2": bz2.compress, "lzma": lzma.compress}[method](data)


def frame(body, method=None):
    content = hashlib.sha256(body).digest() + body
    if method:
        content = compress(method, content)
    return struct.pack(">I", len(content)) + content


NODE_ID = "5KrpxpDnR1m15fq5ef37Q1kPhZZgCJA968jx7AYZR7MwnX33orm6vyxsWe8tYrwxKh"
PROTOCOL_ID = "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD"
BODIES = {
    "handshake": msgpack.packb([2, NODE_ID, 1795270384, 5, NODE_ID, PROTOCOL_ID,
                                ["127.0.0.1", 4444], [0x20, 0x13, 0x11, 0x10, 0x12]]),
    "handshake_bin_id": msgpack.packb([2, NODE_ID.encode(), 1795270384, 5, NODE_ID.encode(),
                                       PROTOCOL_ID, ["127.0.0.1", 4444], [0x13, 0x11]]),
    "peers": msgpack.packb([2, NODE_ID, 1795270384, 7, [[["127.0.0.1", 4445], NODE_ID]]]),
    "broadcast": msgpack.packb([0, NODE_ID, 1795270384, 0, "from-py", b"\x00\x01\x02"]),
    "renegotiate": msgpack.packb([1, NODE_ID, 1795270384, 1, []]),
}


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    for name, body in BODIES.items():
        # Leading 0: no chunk sizes, the stream is fed in one piece.
        write("frame_fuzz", name + "_raw", b"\x00" + frame(body))
        for method in METHODS:
            write("frame_fuzz", f"{name}_{method}", b"\x00" + frame(body, method))
    # A whole session's worth in one stream, read in chunks of 1, 7 and 64 bytes.
    stream = b"".join(frame(body, m) for body, m in [
        (BODIES["handshake"], None), (BODIES["handshake"], None), (BODIES["peers"], "zlib"),
        (BODIES["broadcast"], "zlib"), (BODIES["renegotiate"], None),
        (BODIES["broadcast"], None)])
    write("frame_fuzz", "session_chunked", bytes([3, 0, 6, 63]) + stream)
    write("frame_fuzz", "session_whole", b"\x00" + stream)

    text = b"".join(BODIES.values())
    for index, method in enumerate(METHODS):
        write("decompress_fuzz", method + "_empty", bytes([index]) + compress(method, b""))
        write("decompress_fuzz", method + "_bodies", bytes([index]) + compress(method, text))
        write("decompress_fuzz", method + "_zeros",
              bytes([index]) + compress(method, bytes(20000)))


if __name__ == "__main__":
    main()
