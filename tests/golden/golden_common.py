"""Helpers shared by the Python scripts of tests/golden (vector file format, large data)."""

import base64
import gzip
import json

# 2017-07-14T02:40:00Z: a fixed message time, below 2**31 like every real one.
FIXED_TIME = 1500000000

# Frames and bodies above this size are stored gzip+base64 instead of hex, to keep the files small.
LARGE_FRAME = 16 * 1024


def repeat_bytes(unit, length):
    return (unit * (length // len(unit) + 1))[:length]


def gz_b64(data):
    # mtime=0 so that regenerating gives the same text.
    return base64.b64encode(gzip.compress(data, 9, mtime=0)).decode("ascii")


def un_gz_b64(text):
    return gzip.decompress(base64.b64decode(text))


def describe_frame(name, impl, compression, advertised, frame, body, msg_id, expect):
    """One vector: see tests/golden/README.md for the fields."""
    vector = {
        "name": name,
        "impl": impl,
        "compression": compression,
        "advertised": advertised,
        "id_hex": msg_id.hex(),
    }
    for field, data in (("frame", frame), ("body", body)):
        if len(data) > LARGE_FRAME:
            vector[field + "_gz_b64"] = gz_b64(data)
        else:
            vector[field + "_hex"] = data.hex()
    vector["expect"] = expect
    return vector


def field_bytes(vector, field):
    """The bytes of "frame" or "body", whichever way they are stored."""
    if field + "_hex" in vector:
        return bytes.fromhex(vector[field + "_hex"])
    return un_gz_b64(vector[field + "_gz_b64"])


def write_vectors(path, vectors):
    # One vector per line: small diffs when a vector changes.
    with open(path, "w", encoding="utf-8") as out:
        out.write("[\n")
        out.write(",\n".join(json.dumps(v, ensure_ascii=False) for v in vectors))
        out.write("\n]\n")


def read_vectors(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
