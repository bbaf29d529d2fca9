"""Two nodes: p2pmesh (cpp) with py2p and with js2p, over Plaintext and SSL, each side
dialing; plus py2p with js2p, the reference baseline that proves the harness (and shows
where the references fail each other).

Pair tests name their parameters `<a>-<b>-<encryption>-<dialer>_dials`; tests/interop/
gen_matrix.py turns the results into the matrix of docs/interop.md. Where a reference is
broken, the test asserts the correct behaviour and is an expected failure (xfail, strict:
it fails if the reference ever starts working), or asserts the broken outcome and records
the bug with record_property("reference_bug", N). Bug numbers are those of the shared
protocol notes; J1 and later are found by this suite (see gen_matrix.BUGS).
"""

import base64
import random
import time
from collections import namedtuple

import pytest

from mesh_harness import (BROADCAST, COMPRESSION_FLAGS, DEADLINE, ENCRYPTIONS, FLAG_NAMES,
                          WHISPER, Mesh, py2p_framing_fixed, seq_numbers, unique,
                          wait_connected)

PAIRS = [("cpp", "py2p"), ("cpp", "js2p"), ("py2p", "js2p")]
# base58(sha256("mesh" + encryption + "0.7")), known values from the references
PROTOCOL_IDS = {"Plaintext": "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD",
                "SSL": "EkE9cS4dwjZ8uo8H1pxYe7WrJ3wXgaHfozHQUkb99eHm"}
# What each reference advertises on this machine (py2p: python3-snappy is installed; js2p:
# the native snappy module does not build on node 20). The drivers refuse anything else.
REFERENCE_METHODS = {"py2p": ["snappy", "zlib", "gzip", "bz2", "lzma"], "js2p": ["zlib", "gzip"]}

BUG4 = "reference bug 4: js2p keys its routing table by id object, so reply() to a bin-id " \
       "(py2p) sender misses the direct link and takes the request path, which never delivers"
BUG_J1 = "reference bug J1: js2p's handle_renegotiate uses an undefined `self`, so a " \
         "renegotiate that changes its compression list throws and js2p drops the link"

class Spec(namedtuple("Spec", "a b enc dialer")):
    @property
    def id(self):
        return "%s-%s-%s-%s_dials" % (self.a, self.b, self.enc, self.dialer)


def specs(pairs=PAIRS, encryptions=ENCRYPTIONS):
    for a, b in pairs:
        for enc in encryptions:
            for dialer in (a, b):
                yield Spec(a, b, enc, dialer)


def param(spec, *values, suffix=""):
    marks = [pytest.mark.cpp] if "cpp" in (spec.a, spec.b) else []
    return pytest.param(spec, *values, id=spec.id + suffix, marks=marks)


def start_pair(mesh, spec, a_opts=None, b_opts=None, tap=False):
    """Start a and b, let the dialer connect (through a WireTap if asked), wait for both
    handshakes. Returns (a, b, tap or None)."""
    a, b = mesh.start_many([(spec.a, dict(encryption=spec.enc, **(a_opts or {}))),
                            (spec.b, dict(encryption=spec.enc, **(b_opts or {})))])
    dialer, listener = (a, b) if spec.dialer == spec.a else (b, a)
    wiretap = mesh.tap(listener) if tap else None
    dialer.connect(listener, port=wiretap.port if wiretap else None)
    wait_connected(a, b)
    return a, b, wiretap


class Pair:
    def __init__(self, spec, a, b):
        self.spec, self.a, self.b = spec, a, b
        self.dialer = a if spec.dialer == spec.a else b


@pytest.fixture(scope="module", params=[param(s) for s in specs()])
def pair(request):
    """One connected pair per parameter, shared by the tests that only exchange messages."""
    with Mesh() as mesh:
        a, b, _ = start_pair(mesh, request.param)
        yield Pair(request.param, a, b)


def ref_status_ok(node):
    state = node.state()
    if node.kind != "cpp":
        assert state["status"] == "Nominal", "%s reports: %s" % (node.name, state["status"])
    return state


# ---- handshake -------------------------------------------------------------------------------
def test_handshake(pair):
    a, b = pair.a, pair.b
    for node in (a, b):
        assert node.protocol_id == PROTOCOL_IDS[pair.spec.enc]
    state_a, state_b = ref_status_ok(a), ref_status_ok(b)
    for me, state, other in ((a, state_a, b), (b, state_b, a)):
        entry = me.peer_entry(other, state)
        assert entry is not None, "%s has no entry for %s" % (me.name, other.name)
        assert entry["addr"] == ["127.0.0.1", other.port]
        assert entry["outgoing"] == (pair.dialer is me)
        # Each sends with the first method of its own list that the other advertised.
        assert entry["compression"] == first_common(own_methods(me), own_methods(other))
        if "advertised" in entry:  # the reference drivers also show the list they were sent
            assert entry["advertised"] == own_methods(other)
        assert len(state["routing_table"]) == 1
    for node in (a, b):
        assert not node.errors, "%s: error events %s" % (node.name, node.errors)


@pytest.mark.parametrize("spec", [param(s) for s in specs()])
def test_different_subnet_refused(mesh, spec):
    """A node of another subnet is refused on both sides: nothing but the handshake is sent,
    the connection is closed, neither routing table takes the other in.

    Plaintext checks each side alone: a WireTap holds back one side's bytes, so only the other
    side sees a wrong protocol id, and it must be the one to close. Under SSL (where a TCP
    relay cannot hold back half of TLS) both sides see each other's handshake."""
    a, b = mesh.start_many([(spec.a, dict(encryption=spec.enc, subnet="mesh")),
                            (spec.b, dict(encryption=spec.enc, subnet="elsewhere"))])
    assert a.protocol_id != b.protocol_id
    dialer, listener = (a, b) if spec.dialer == spec.a else (b, a)
    if spec.enc == "Plaintext":
        phases = [(listener, "s2c"), (dialer, "c2s")]  # (the side that must refuse, held)
    else:
        phases = [(None, None)]
    for refuser, hold in phases:
        tap = mesh.tap(listener, parse=spec.enc == "Plaintext", hold=hold)
        dialer.connect(listener, port=tap.port)
        if not tap.closed.wait(DEADLINE):
            (refuser or dialer).fail("the connection across subnets was not closed")
        if refuser is not None:
            sent_by_refuser = "c2s" if refuser is dialer else "s2c"
            assert tap.first_eof == sent_by_refuser, "%s did not close the link" % refuser.name
            bodies = tap.bodies(sent_by_refuser)
            assert bodies and all(body[0] == WHISPER and body[3] == 5 for body in bodies), \
                "%s sent more than its handshake: %r" % (refuser.name, bodies)
        for node, other in ((a, b), (b, a)):
            assert other.id not in node.routing_ids()
        for node in (a, b):
            if node.kind == "cpp":
                node.poll_state(lambda s: not s["routing_table"] and not s["awaiting"],
                                "no connection left to the other subnet")


# ---- messages both ways ----------------------------------------------------------------------
def check_delivery(sender, receiver, flag):
    marker = unique()
    packets = ["%s %s->%s" % ("broadcast" if flag == BROADCAST else "whisper",
                              sender.name, receiver.name), marker]
    sender.send(packets, flag)
    m = receiver.wait_packets([flag] + packets)
    assert m["sender"] == sender.id
    assert abs(m["time"] - time.time()) < 120, "message time %s is not UTC seconds" % m["time"]
    assert len(m["id"]) == 64 and int(m["id"], 16) >= 0
    assert isinstance(m["recv_ns"], int) and isinstance(m["index"], int)


def test_broadcast_a_to_b(pair):
    check_delivery(pair.a, pair.b, BROADCAST)


def test_broadcast_b_to_a(pair):
    check_delivery(pair.b, pair.a, BROADCAST)


def test_whisper_a_to_b(pair):
    check_delivery(pair.a, pair.b, WHISPER)


def test_whisper_b_to_a(pair):
    check_delivery(pair.b, pair.a, WHISPER)


def check_reply(replier, asker):
    """asker broadcasts, replier answers with reply(); the answer is a whisper from replier.
    A whispered sentinel sent after the reply on the same link bounds the wait."""
    marker = unique()
    asker.broadcast("question", marker)
    question = replier.wait_packets([BROADCAST, "question", marker])
    answer = replier.cmd("reply", index=question["index"], packets=["answer", marker])
    replier.whisper("sentinel", marker)
    asker.wait_packets([WHISPER, "sentinel", marker])
    got = asker.matching(lambda m: m["packets"] == [WHISPER, "answer", marker])
    assert answer["ok"] is True, answer
    assert answer.get("path", "direct") == "direct", "%s took the %s path" % (
        replier.name, answer.get("path"))
    assert len(got) == 1 and got[0]["sender"] == replier.id, \
        "the reply did not arrive before the sentinel sent after it"


def test_reply_a_to_b(pair):
    """a replies to b's broadcast."""
    check_reply(pair.a, pair.b)


def test_reply_b_to_a(pair, request):
    """b replies to a's broadcast."""
    if pair.b.kind == "js2p" and pair.a.kind == "py2p":
        request.applymarker(pytest.mark.xfail(strict=True, reason=BUG4))
    check_reply(pair.b, pair.a)


# ---- packet types ----------------------------------------------------------------------------
COMMON_VALUES = [
    "text", "ünïcødé ✓ 名前", {"b64": base64.b64encode(bytes(range(256))).decode()},
    0, 1, -1, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769,
    2**31 - 1, -2**31, 1.5, -0.25, 1e300, -2.5e-300, True, False, None,
    [1, [2, [3, "deep"]], []], {"k": "v", "n": {"list": [1, {"b64": "AA=="}], "e": {}}},
    "", {"b64": ""}, [], {},
]
WIDE_INTS = [2**31, 2**32 - 1, 2**32, 2**40, 2**53 + 1, 2**63 - 1, 2**64 - 1,
             -2**31 - 1, -2**40, -2**63]


def expected_at(value, sender):
    """What the receiver should decode. msgpack-lite (js2p) writes every integer outside the
    int32 range as a float64, so such integers sent by js2p arrive as floats."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value) if sender == "js2p" and not -2**31 <= value < 2**31 else value
    if isinstance(value, list):
        return [expected_at(v, sender) for v in value]
    if isinstance(value, dict) and list(value) != ["b64"]:
        return {k: expected_at(v, sender) for k, v in value.items()}
    return value


def assert_same(expected, got, receiver, path="packet"):
    """Exact types and values; a js2p receiver only has doubles, so numbers compare as such
    (and 64-bit integers lose precision there)."""
    where = "%s at %s: expected %r, got %r" % (receiver, path, expected, got)
    if isinstance(expected, bool) or expected is None:
        assert got is expected, where
    elif isinstance(expected, (int, float)):
        assert not isinstance(got, bool) and isinstance(got, (int, float)), where
        if receiver == "js2p":
            assert float(got) == float(expected), where
        else:
            assert type(got) is type(expected) and got == expected, where
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, receiver, "%s[%d]" % (path, i))
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), where
        for k in expected:
            assert_same(expected[k], got[k], receiver, "%s[%r]" % (path, k))
    else:
        assert got == expected, where


def check_types(sender, receiver):
    marker = unique()
    values = COMMON_VALUES + WIDE_INTS
    sender.broadcast("types", marker, *values)
    m = receiver.wait_message(lambda m: m["packets"][:3] == [BROADCAST, "types", marker])
    assert_same([expected_at(v, sender.kind) for v in values], m["packets"][3:], receiver.kind)
    # A message with no packets at all, bracketed by two markers.
    sender.send([], BROADCAST)
    sender.broadcast("after-empty", marker)
    after = receiver.wait_packets([BROADCAST, "after-empty", marker])
    empties = receiver.matching(
        lambda e: e["packets"] == [BROADCAST] and m["index"] < e["index"] < after["index"])
    assert len(empties) == 1 and empties[0]["sender"] == sender.id


def test_packet_types_a_to_b(pair):
    check_types(pair.a, pair.b)


def test_packet_types_b_to_a(pair):
    check_types(pair.b, pair.a)


def check_large(sender, receiver):
    marker = unique()
    blob = random.Random(marker).randbytes(1 << 20)
    sender.broadcast("large", marker, {"b64": base64.b64encode(blob).decode()})
    m = receiver.wait_message(lambda m: m["packets"][:3] == [BROADCAST, "large", marker],
                              "the 1 MiB packet", timeout=3 * DEADLINE)
    assert base64.b64decode(m["packets"][3]["b64"]) == blob


def test_large_packet_a_to_b(pair):
    check_large(pair.a, pair.b)


def test_large_packet_b_to_a(pair):
    check_large(pair.b, pair.a)


def test_burst_a_to_b(pair, record_property):
    """2,000 broadcasts of 64 B, pipelined from a into b, all arrive exactly once.

    Into py2p this needs the one-character fix of py2p's framing bug (reference bug 1), which
    scripts/install-references.sh --fix-py2p-framing applies to the installed copy: without it
    py2p misparses a read that leaves exactly one 4-byte header in its buffer and drops the
    link. p2pmesh's own reader handles any split of the stream."""
    a, b = pair.a, pair.b
    if b.kind == "py2p":
        assert py2p_framing_fixed(), "py2p without its framing fix: run " \
            "scripts/install-references.sh --fix-py2p-framing"
        record_property("reference_fix", "1")
    count = 2000
    b.ok("reset")
    burst = a.ok("burst", count=count, size=64)
    assert burst["t1_ns"] >= burst["t0_ns"]
    done = b.cmd("wait", count=count, timeout=3 * DEADLINE)
    assert done["ok"] is True, "%s received %s of %d" % (b.name, done.get("received"), count)
    is_burst = lambda m: (len(m["packets"]) == 2 and isinstance(m["packets"][1], dict) and
                          m["sender"] == a.id)  # noqa: E731
    b.wait_for(lambda: len([m for m in b.messages if is_burst(m)]) >= count, "burst events")
    seqs = seq_numbers(b.matching(is_burst))
    assert sorted(seqs) == list(range(count))
    rate = count / max(1e-9, (done["last_ns"] - burst["t0_ns"]) / 1e9)
    record_property("burst_msgs_per_s", "%.0f" % rate)


# ---- compression -----------------------------------------------------------------------------
def flags_of(method):
    return [] if method == "none" else [COMPRESSION_FLAGS[method]]


# What `p2pmesh node` advertises without --compression (its --help), in preference order.
CPP_DEFAULT_METHODS = flags_of("snappy") + flags_of("zlib") + flags_of("gzip") + \
    flags_of("bz2") + flags_of("lzma")


def own_methods(node):
    """The compression flags a node advertises: the reference drivers report them in their
    ready event; p2pmesh runs with its default list in these tests."""
    return node.ready.get("compression", CPP_DEFAULT_METHODS)


def first_common(own, peer):
    """The method a sender with list `own` uses towards a peer that advertised `peer`."""
    for flag in own:
        if flag in peer:
            return FLAG_NAMES[flag]
    return None


COMPRESSION_CASES = [param(s, m, suffix="-" + m) for s in specs()
                     for m in REFERENCE_METHODS[s.b] + ["none"]]


@pytest.mark.parametrize("spec,method", COMPRESSION_CASES)
def test_compression(mesh, spec, method):
    """b (a reference) is forced to advertise only `method` (or nothing); messages flow both
    ways and, over Plaintext, a WireTap checks each direction used the method the rule
    predicts: a sender uses the first method of its own list that the peer advertised."""
    plaintext = spec.enc == "Plaintext"
    a, b, tap = start_pair(mesh, spec, b_opts=dict(compression=method), tap=plaintext)
    assert b.ready["compression"] == flags_of(method), "the driver did not force %s" % method
    a_list, b_list = own_methods(a), flags_of(method)
    entry_b = b.peer_entry(a)
    assert entry_b["advertised"] == a_list, "b did not get a's list in the handshake"
    assert entry_b["compression"] == first_common(b_list, a_list)
    assert a.peer_entry(b)["compression"] == first_common(a_list, b_list)
    marker = unique()
    for sender, receiver in ((a, b), (b, a)):
        payload = "compressible " * 200 + marker + sender.name
        sender.broadcast(payload)
        receiver.wait_packets([BROADCAST, payload])
    if plaintext:
        c2s_sender = a if spec.dialer == spec.a else b
        expected = {}
        for sender, own, peer in ((a, a_list, b_list), (b, b_list, a_list)):
            direction = "c2s" if sender is c2s_sender else "s2c"
            expected[direction] = {first_common(own, peer) or "none"}
        got = {}
        for sender in (a, b):
            direction = "c2s" if sender is c2s_sender else "s2c"
            got[direction] = tap.methods_for((marker + sender.name).encode()).get(direction)
        assert got == expected


@pytest.mark.parametrize("spec", [param(s) for s in specs([("cpp", "py2p"), ("js2p", "py2p")])])
def test_py2p_renegotiation_followed(mesh, spec, request, record_property):
    """a sends request_peers to py2p. py2p never answers it (reference bug 2): it fails on the
    str "*", sends renegotiate/compression [] and renegotiate/resend, and from then on the
    link must run uncompressed both ways, and keep working."""
    record_property("reference_bug", "2")
    timeout = None
    if spec.a == "js2p":
        request.applymarker(pytest.mark.xfail(strict=True, reason=BUG_J1))
        timeout = 5  # the link is dropped at once; no need for the full deadline
    plaintext = spec.enc == "Plaintext"
    a, b, tap = start_pair(mesh, spec, tap=plaintext)
    c2s_sender = a if spec.dialer == spec.a else b

    def exchange(tag):
        marker = unique() + tag
        for sender, receiver in ((a, b), (b, a)):
            payload = "compressible " * 100 + marker + sender.name
            sender.broadcast(payload)
            receiver.wait_packets([BROADCAST, payload], timeout=timeout)
        if not plaintext:
            return None
        return {("c2s" if s is c2s_sender else "s2c"):
                tap.methods_for((marker + s.name).encode()).get("c2s" if s is c2s_sender else "s2c")
                for s in (a, b)}

    before = exchange("before")
    if plaintext:
        assert "none" not in set().union(*before.values()), "the link was not compressed yet"
    a.ok("request_peers")
    a.poll_state(lambda s: a.peer_entry(b, s) is not None and
                 a.peer_entry(b, s)["compression"] is None,
                 "%s to stop compressing towards py2p" % a.name, timeout)
    b.poll_state(lambda s: b.peer_entry(a, s) is not None and
                 b.peer_entry(a, s)["compression"] is None and
                 b.peer_entry(a, s)["advertised"] == [],
                 "py2p to stop compressing towards %s" % a.name, timeout)
    # The same link all along: p2pmesh must not have dropped it and dialled again.
    assert [e["id"] for e in a.state()["routing_table"]] == [b.id]
    assert a.peer_entry(b)["outgoing"] == (spec.dialer == spec.a)
    after = exchange("after")
    if plaintext:
        assert after == {"c2s": {"none"}, "s2c": {"none"}}
