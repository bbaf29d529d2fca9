#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), deterministically,
from the golden vectors (tests/golden/vectors/*.json: frames written by py2p and js2p
themselves). Standard library only; run by hand, the output is committed:

    python3 fuzz/make_seed_corpus.py

Seeds larger than MAX_LEN (the -max_len scripts/fuzz.sh gives libFuzzer) are left out.
"""
import base64
import bz2
import gzip
import json
import lzma
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAX_LEN = 4096
METHODS = ["snappy", "zlib", "gzip", "bz2", "lzma"]
# The header of engine_fuzz.cpp: byte 0 % 4 == 0 is our compression [snappy, zlib, gzip],
# bit 3 turns self-healing on; byte 1 >= 128 makes the handler do always the same (132: decline
# every message), < 128 cycles through its actions.
ENGINE_FAST = bytes([0x08, 132])
ENGINE_CYCLE = bytes([0x08, 1])


def load_vectors():
    vectors = []
    for impl in ("py2p", "js2p"):
        with open(os.path.join(ROOT, "tests", "golden", "vectors", impl + ".json")) as f:
            for v in json.load(f):
                v["frame"] = field(v, "frame")
                v["body"] = field(v, "body")
                vectors.append(v)
    return vectors


def field(v, name):
    if name + "_hex" in v:
        return bytes.fromhex(v[name + "_hex"])
    return gzip.decompress(base64.b64decode(v[name + "_gz_b64"]))


def write(target, name, data):
    if len(data) > MAX_LEN:
        return
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def label(v):
    return f"{v['impl']}_{v['name']}_{v['compression'] or 'raw'}"


# ---- engine_fuzz programs (the opcodes of engine_fuzz.cpp step()) ----------------------------
def op_incoming(addr=1):
    return bytes([0, addr])


def op_bytes(data, conn=0):
    """Raw bytes on an open connection: opcode 3 (<= 255 bytes) or 14 (u16 length)."""
    if len(data) <= 255:
        return bytes([3, conn, len(data)]) + data
    return bytes([14]) + struct.pack(">H", len(data)) + bytes([conn]) + data


def op_tick(step):
    return bytes([7, step])


def op_frame(kind, args, conn=0, split=0, how=0):
    """A frame built by FrameBuilder: kind, how (method, time skew, bad checksum), sender."""
    return bytes([4, conn, split, kind, how]) + bytes(args)


def engine_programs(vectors):
    by = {(v["impl"], v["name"], v["compression"]): v["frame"] for v in vectors}
    programs = {}
    for impl in ("py2p", "js2p"):
        # A peer connects, handshakes, and sends every message kind uncompressed and with
        # each fast method the engine reads, then goes quiet until the timers fire.
        prog = ENGINE_FAST + op_incoming() + op_bytes(by[(impl, "handshake", None)])
        for name in ("peers", "peers_empty", "request_peers", "renegotiate_compression",
                     "broadcast_str", "broadcast_ints", "broadcast_nested", "whisper_str_bin",
                     "broadcast_no_packets", "empty_payload"):
            for method in (None, "zlib", "gzip", "snappy"):
                if (impl, name, method) in by:
                    prog += op_bytes(by[(impl, name, method)])
                    break
        prog += op_tick(100) + op_tick(250) + bytes([5, 0])
        programs[f"{impl}_session"] = prog
        # The same frames fed one byte at a time would be long; in two halves instead.
        hs = by[(impl, "handshake", None)]
        programs[f"{impl}_split_handshake"] = (ENGINE_FAST + op_incoming() +
                                               op_bytes(hs[:50]) + op_tick(20) +
                                               op_bytes(hs[50:]) + op_tick(80))
    # Dial out: connect, the dial succeeds, the peer (js2p) answers with its handshake.
    programs["dial_js2p"] = (ENGINE_FAST + bytes([10, 1, 0]) + bytes([1, 0]) +
                             op_bytes(by[("js2p", "handshake", None)]) +
                             op_bytes(by[("js2p", "broadcast_str", "zlib")]) +
                             op_tick(199) + bytes([11, 0]) + bytes([6, 0]))
    # Built frames: handshake (kind 0), peers (1), broadcast (2), whisper (3), renegotiate
    # (4, 5), request * (6), request (7), response (8); then user commands.
    built = (ENGINE_CYCLE + op_incoming(2) +
             op_frame(0, [0, 0, 1, 0b0000111]) +        # handshake from peer 0, zlib+gzip+snappy
             op_frame(1, [0, 2, 2, 1, 3, 2]) +          # peers: two entries
             op_frame(2, [1, 0, 2, 5, 10, 2, 3], how=2) +   # broadcast, zlib
             op_frame(3, [1, 1, 1, 4, 7]) +              # whisper
             op_frame(4, [0, 0b0000010]) +               # renegotiate: zlib only
             op_frame(5, [0]) + op_frame(6, [0, 1]) +
             op_frame(7, [2, 0, 1]) +                    # request for peer 1's address
             bytes([8, 0, 1, 5, 12]) + bytes([9, 0, 3, 1, 6, 20]) +   # send, send_to
             bytes([13, 0, 2, 1, 5, 9]) +                # reply to a stranger: indirect
             op_frame(8, [1, 1, 2, 2]) +                 # a response to it
             bytes([12]) + op_tick(100) + op_tick(255))
    programs["built_frames"] = built
    # Connection churn against the small limits: many incoming links, then timeouts.
    programs["churn"] = (bytes([0x01, 0]) + b"".join(op_incoming(a) for a in range(8)) +
                         op_tick(60) + bytes([6, 0, 6, 1, 5, 2]))
    return programs


def main():
    corpus = os.path.join(HERE, "corpus")
    shutil.rmtree(corpus, ignore_errors=True)
    vectors = load_vectors()

    seen_bodies = set()
    for v in vectors:
        # frame_fuzz: leading 0 = no chunk sizes, the stream is fed in one piece.
        write("frame_fuzz", label(v), b"\x00" + v["frame"])
        if v["body"] not in seen_bodies:
            seen_bodies.add(v["body"])
            write("body_fuzz", f"{v['impl']}_{v['name']}", v["body"])
        if v["compression"]:
            write(f"decompress_{v['compression']}_fuzz", label(v), v["frame"][4:])
    # Edge cases the vectors lack: empty output, and long runs (back-references, RLE).
    stdlib = {"zlib": zlib.compress, "gzip": lambda d: gzip.compress(d, mtime=0),
              "bz2": bz2.compress, "lzma": lzma.compress}
    for method, fn in stdlib.items():
        write(f"decompress_{method}_fuzz", "empty", fn(b""))
        write(f"decompress_{method}_fuzz", "zeros_20000", fn(bytes(20000)))
    write("decompress_snappy_fuzz", "empty", b"\x00")
    # A whole py2p session in one stream, read in chunks of 1, 7 and 64 bytes.
    by = {(v["impl"], v["name"], v["compression"]): v["frame"] for v in vectors}
    stream = b"".join(by[("py2p", n, m)] for n, m in [
        ("handshake", None), ("peers", "zlib"), ("broadcast_str", "snappy"),
        ("renegotiate_compression", None), ("broadcast_ints", "bz2"), ("whisper_str_bin", "lzma")])
    write("frame_fuzz", "py2p_session_chunked", bytes([3, 0, 6, 63]) + stream)
    write("frame_fuzz", "py2p_session_whole", b"\x00" + stream)

    for name, program in engine_programs(vectors).items():
        write("engine_fuzz", name, program)


if __name__ == "__main__":
    main()
