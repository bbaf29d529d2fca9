#!/usr/bin/python3
"""Writes golden frames made by py2p 0.7.870 itself: tests/golden/vectors/py2p.json.

Run by scripts/gen-golden.sh with Debian's /usr/bin/python3 and
PYTHONPATH=tests/interop/py2p_shim:tests/interop/.py2p. Every frame comes from py2p's own
`messages.InternalMessage(...).string` (its msgpack packing, sha256 and `compress()`); this
script only chooses the inputs and describes, independently of any decoder, what a receiver
must find in them. Each frame is then fed back through py2p's `InternalMessage.feed_string`
as a self-check.

Time and ids are fixed, so regenerating gives identical output (py2p's codecs are
deterministic).
"""

import sys
from hashlib import sha384

from base58 import b58encode_int

from py2p import base, flags, messages

from golden_common import FIXED_TIME, LARGE_FRAME, describe_frame, repeat_bytes, write_vectors

IMPL = "py2p"
COMPRESSION_NAMES = {
    flags.snappy: "snappy",
    flags.zlib: "zlib",
    flags.gzip: "gzip",
    flags.bz2: "bz2",
    flags.lzma: "lzma",
}
PROTOCOL = base.Protocol("mesh", "Plaintext")
# A fixed stand-in for py2p's random per-process `user_salt`.
SALT = b"00000000-0000-4000-8000-000000000000"


def node_id(host, port):
    """The id a py2p MeshSocket at (host, port) gets with SALT (formula of BaseSocket)."""
    info = (str((host, port)).encode(), PROTOCOL.id.encode(), SALT)
    return b58encode_int(int(sha384(b"".join(info)).hexdigest(), 16)).encode()


# ---- expectations: py2p's msgpack types follow the Python types ------------------------------
def expect_value(v):
    if v is None:
        return {"nil": None}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"uint": v} if v >= 0 else {"int": v}
    if isinstance(v, float):
        return {"f64": v}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, RepeatedBytes):
        return {"bin_repeat": v.unit.hex(), "len": len(v.data)}
    if isinstance(v, RepeatedStr):
        return {"str_repeat": v.unit, "len": len(v.text.encode())}
    if isinstance(v, (bytes, bytearray)):
        return {"bin_hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return {"array": [expect_value(x) for x in v]}
    if isinstance(v, dict):
        return {"map": [[expect_value(k), expect_value(x)] for k, x in v.items()]}
    raise TypeError("no expectation for %r" % (v,))


class RepeatedBytes(object):
    """A large bin described in the vector by its repeated unit instead of its bytes."""

    def __init__(self, unit, length):
        self.unit = unit
        self.data = repeat_bytes(unit, length)


class RepeatedStr(object):
    def __init__(self, unit, length):
        self.unit = unit
        self.text = (unit * (length // len(unit) + 1))[:length]


def plain(v):
    """The object py2p is given (and gives back) for an input description."""
    if isinstance(v, RepeatedBytes):
        return v.data
    if isinstance(v, RepeatedStr):
        return v.text
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    return v


def messages_to_make(my_id):
    peer_a = ("127.0.0.1", 47101)
    peer_b = ("10.0.0.7", 5000)
    ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
            2**63 - 1, 2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2**31,
            -2**31 - 1, -2**63]
    return [
        # What MeshSocket._send_handshake sends (always uncompressed on the wire; compressed
        # here too, since receivers must open any frame with any advertised method).
        ("handshake", flags.whisper,
         [flags.handshake, my_id, PROTOCOL.id, ("127.0.0.1", 47100), list(messages.compression)]),
        # What MeshSocket._send_peers sends: [((host, port), id), ...].
        ("peers", flags.whisper,
         [flags.peers, [(peer_a, node_id(*peer_a)), (peer_b, node_id(*peer_b))]]),
        ("peers_empty", flags.whisper, [flags.peers, []]),
        ("request_peers", flags.whisper, [flags.request, "*"]),
        ("renegotiate_compression", flags.renegotiate, [flags.compression, []]),
        ("broadcast_str", flags.broadcast,
         [flags.broadcast, "", "hello", "x" * 31, "y" * 32, "z" * 255, "w" * 256,
          "h\u00e9llo \u2713 \U0001F600"]),
        ("broadcast_bin", flags.broadcast,
         [flags.broadcast, b"", b"\x00\x01\x02", bytes(range(254)), bytes(range(256)),
          b"\xff" * 300]),
        # The bin8 limit; js2p writes this one as bin16 (see gen_js2p.js).
        ("broadcast_bin255", flags.broadcast, [flags.broadcast, bytes(range(255))]),
        ("broadcast_ints", flags.broadcast, [flags.broadcast] + ints),
        ("broadcast_floats", flags.broadcast, [flags.broadcast, 0.5, -1.25, 1e300, 0.0]),
        ("broadcast_nil_bool", flags.broadcast, [flags.broadcast, None, True, False]),
        ("broadcast_nested", flags.broadcast,
         [flags.broadcast,
          [1, [2, [3, []]], "s", b"b"],
          {"a": 1, "b": [b"x", None, True], "c": {"d": -5}},
          {b"bin-key": 1, 7: "int-key"},
          [],
          {},
          [{"deep": [[[[{"er": 0.5}]]]]}]]),
        ("broadcast_no_packets", flags.broadcast, [flags.broadcast]),
        ("empty_payload", flags.broadcast, []),
        ("whisper_str_bin", flags.whisper, [flags.whisper, "from-py", b"\x00\x01\x02"]),
        ("broadcast_str32", flags.broadcast, [flags.broadcast, RepeatedStr("str32 ", 70000)]),
        ("broadcast_1mib", flags.broadcast,
         [flags.broadcast, RepeatedBytes(bytes(range(251)), 1 << 20)]),
    ]


def make_vector(name, msg_type, sender, payload, method):
    msg = messages.InternalMessage(msg_type, sender, plain(payload),
                                   compression=[method] if method is not None else None,
                                   timestamp=FIXED_TIME)
    if msg.compression_used != method:
        raise SystemExit("py2p did not pick %r for %s" % (method, name))
    frame = msg.string
    body = msg._InternalMessage__non_len_string  # the msgpack body py2p hashed and sent

    # Self-check with py2p's own parser: it must verify the checksum and give back the input.
    parsed = messages.InternalMessage.feed_string(
        frame, False, [method] if method is not None else None)
    if parsed.compression_fail or parsed.id != msg.id:
        raise SystemExit("py2p cannot read back its own %s frame" % name)
    if [parsed.msg_type, parsed.sender, parsed.time] + list(parsed.payload) != \
            plain([msg_type, sender, FIXED_TIME] + list(payload)):
        raise SystemExit("py2p reads back different packets for %s" % name)

    expect = {
        "msg_type": msg_type,
        "sender": expect_value(sender),
        "time": FIXED_TIME,
        "payload": [expect_value(p) for p in payload],
    }
    return describe_frame(name, IMPL, COMPRESSION_NAMES.get(method), list(messages.compression),
                          frame, body, msg.id, expect)


def main():
    out = sys.argv[1]
    my_id = node_id("127.0.0.1", 47100)
    methods = [None] + list(messages.compression)
    if messages.compression != [flags.snappy, flags.zlib, flags.gzip, flags.bz2, flags.lzma]:
        raise SystemExit("py2p found only compressions %r: is python3-snappy installed?"
                         % (messages.compression,))
    vectors = []
    for name, msg_type, payload in messages_to_make(my_id):
        for method in methods:
            vectors.append(make_vector(name, msg_type, my_id, payload, method))
    write_vectors(out, vectors)
    print("gen_py2p: wrote %d vectors to %s" % (len(vectors), out))


if __name__ == "__main__":
    main()
