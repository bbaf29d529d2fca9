#!/usr/bin/python3
"""Reverse golden check: py2p 0.7.870 must read the frames p2pmesh writes.

Usage: check_py2p.py FRAMES.json   (written by golden_emit_frames; format in emit_frames.cpp)
Run with PYTHONPATH=tests/interop/py2p_shim:tests/interop/.py2p:tests/golden.

Each frame goes through py2p's own `InternalMessage.feed_string` with the compression list
p2pmesh advertises, exactly as a py2p connection calls it after the handshake: py2p checks
the length header, tries the methods it shares with the sender in the sender's order,
verifies the sha256 and unpacks the body (with Debian's msgpack behind the umsgpack shim).
The packets must then equal the expectation, with strict types (bool is not int, float is
not int, bytes is not str).
"""

import hashlib
import json
import sys

from py2p import flags, messages

NAMES = {flags.snappy: "snappy", flags.zlib: "zlib", flags.gzip: "gzip", flags.bz2: "bz2",
         flags.lzma: "lzma"}


def mismatch(expect, actual, where):
    """None when `actual` is what `expect` describes, else a description of the difference."""
    (kind, value), = [(k, v) for k, v in expect.items() if k != "len"]
    got = "%s: got %r (%s), expected %s" % (where, actual if not isinstance(actual, (bytes, str))
                                            or len(actual) < 200 else actual[:200],
                                            type(actual).__name__, kind)
    if kind in ("uint", "int"):
        return None if type(actual) is int and actual == value else got
    if kind in ("f64", "f32"):
        return None if type(actual) is float and actual == value else got
    if kind == "str":
        return None if type(actual) is str and actual == value else got
    if kind == "bin_hex":
        return None if type(actual) is bytes and actual.hex() == value else got
    if kind == "nil":
        return None if actual is None else got
    if kind == "bool":
        return None if type(actual) is bool and actual == value else got
    if kind in ("bin_sha256", "str_sha256"):
        want_type = bytes if kind == "bin_sha256" else str
        if type(actual) is not want_type:
            return got
        raw = actual if want_type is bytes else actual.encode("utf-8")
        ok = len(raw) == expect["len"] and hashlib.sha256(raw).hexdigest() == value
        return None if ok else got
    if kind == "array":
        if type(actual) not in (list, tuple) or len(actual) != len(value):
            return got
        for i, (e, a) in enumerate(zip(value, actual)):
            err = mismatch(e, a, "%s[%d]" % (where, i))
            if err:
                return err
        return None
    if kind == "map":
        if type(actual) is not dict or len(actual) != len(value):
            return got
        for i, ((ek, ev), (ak, av)) in enumerate(zip(value, actual.items())):
            err = mismatch(ek, ak, "%s key %d" % (where, i)) or \
                mismatch(ev, av, "%s[%r]" % (where, ak))
            if err:
                return err
        return None
    return "%s: unknown expectation %s" % (where, kind)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    advertised = doc["advertised"]
    ours = {NAMES[m] for m in messages.compression}
    checked, skipped, failures = 0, 0, []
    for frame in doc["frames"]:
        label = "%s/%s" % (frame["name"], frame["compression"] or "none")
        if frame["compression"] is not None and frame["compression"] not in ours:
            skipped += 1
            continue
        checked += 1
        try:
            msg = messages.InternalMessage.feed_string(bytes.fromhex(frame["frame_hex"]), False,
                                                       advertised)
        except Exception as e:  # py2p raises AssertionError on a bad checksum or length
            failures.append("%s: py2p rejects the frame: %r" % (label, e))
            continue
        expect = frame["expect"]
        errors = []
        if frame["compression"] is not None and msg.compression_fail:
            errors.append("py2p could not decompress it")
        if msg.id.hex() != frame["id_hex"]:
            errors.append("id %s != %s" % (msg.id.hex(), frame["id_hex"]))
        errors.append(mismatch({"uint": expect["msg_type"]}, msg.msg_type, "msg_type"))
        errors.append(mismatch(expect["sender"], msg.sender, "sender"))
        errors.append(mismatch({"uint": expect["time"]}, msg.time, "time"))
        errors.append(mismatch({"array": expect["payload"]}, list(msg.payload), "payload"))
        errors = [e for e in errors if e]
        if errors:
            failures.append("%s: %s" % (label, "; ".join(errors)))
    for failure in failures:
        print("FAIL " + failure)
    print("check_py2p: %d frames read by py2p %s (%d skipped: methods py2p lacks), %d failures"
          % (checked, "+".join(["none"] + [NAMES[m] for m in messages.compression]), skipped,
             len(failures)))
    if checked == 0:
        print("check_py2p: no frame was checked")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
