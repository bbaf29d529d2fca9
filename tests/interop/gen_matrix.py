#!/usr/bin/python3
"""Writes docs/interop.md, the compatibility matrix, from interop test results.

    gen_matrix.py --junit report.xml [--write | --check]

The test session itself does the same (tests/interop/conftest.py) when
P2P_INTEROP_MATRIX=write or =check is set; CTest runs the suite with =check, so a matrix that
no longer matches the results fails the test command.

Results are keyed by test name with parameters, e.g. `test_broadcast_a_to_b[cpp-py2p-SSL-
py2p_dials]`. Two-node tests (parameters `<a>-<b>-<encryption>-<dialer>_dials[-extra]`) fill
one table per pair of implementations; every other test fills the network table, one column
per encryption.
"""

import argparse
import difflib
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
DOC_PATH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "interop.md")
ENCRYPTIONS = ["Plaintext", "SSL"]
NAMES = {"cpp": "p2pmesh", "py2p": "py2p", "js2p": "js2p"}

PAIR_ROWS = [  # test function, row label ({a}, {b}: the implementations of the pair)
    ("test_handshake", "handshake completes on both sides"),
    ("test_different_subnet_refused", "a different subnet is refused on both sides"),
    ("test_broadcast_a_to_b", "broadcast {a} → {b}"),
    ("test_broadcast_b_to_a", "broadcast {b} → {a}"),
    ("test_whisper_a_to_b", "whisper {a} → {b}"),
    ("test_whisper_b_to_a", "whisper {b} → {a}"),
    ("test_reply_a_to_b", "reply from {a} to {b}"),
    ("test_reply_b_to_a", "reply from {b} to {a}"),
    ("test_packet_types_a_to_b", "packet types {a} → {b}"),
    ("test_packet_types_b_to_a", "packet types {b} → {a}"),
    ("test_large_packet_a_to_b", "1 MiB bin packet {a} → {b}"),
    ("test_large_packet_b_to_a", "1 MiB bin packet {b} → {a}"),
    ("test_burst_a_to_b", "burst of 2,000 {a} → {b}"),
    ("test_compression", "{b} forced to compression {extra}"),
    ("test_py2p_renegotiation_followed", "py2p renegotiates to no compression; {a} follows"),
]

def _n(token):
    return NAMES.get(token, token)


NETWORK_ROWS = {  # test function -> label from its parameters (without the encryption)
    "test_relay_chain": lambda t: "relay chain %s: each message exactly once at every node" %
    " – ".join(_n(x) for x in t),
    "test_mixed_mesh": lambda t: "6-node mesh (2 p2pmesh, 2 py2p, 2 js2p, 8 links): each "
    "message exactly once at every node",
    "test_peer_discovery": lambda t: "p2pmesh (max_outgoing %s) joins 4 %s nodes through one "
    "and dials the others" % (t[1].replace("max", ""), _n(t[0])),
    "test_request_peers": lambda t: "request_peers: %s asks %s, then dials the peer it "
    "learns" % (_n(t[0]), _n(t[1])),
    "test_indirect_reply": lambda t: "indirect reply: %s replies to %s through a p2pmesh "
    "hub" % (_n(t[0]), _n(t[1])),
    "test_js2p_dials_one_peer_per_host": lambda t: "js2p dials a second peer on the same host",
}
METHOD_ORDER = ["snappy", "zlib", "gzip", "bz2", "lzma", "none"]

# Reference bugs: id -> (summary, how it shows up in the matrix, how p2pmesh copes)
BUGS = [
    ("1", "py2p framing: `found_terminator` tests `len(buffer) > 4` instead of `>= 4`; a read "
          "leaving exactly one 4-byte header is parsed as a frame and the link drops.",
     "Bursts into py2p run against py2p with the one-character fix applied by "
     "`scripts/install-references.sh --fix-py2p-framing` (the burst test asserts it is there).",
     "p2pmesh's frame reader is incremental and handles any split or coalescing of the stream; "
     "the bursts into p2pmesh above go through it."),
    ("2", "py2p never answers `request_peers`: it compares `*` with `b'*'`, then indexes past "
          "the end, and answers with renegotiate/compression `[]` + renegotiate/resend.",
     "`request_peers: p2pmesh asks py2p` and the renegotiation rows assert the failure and "
     "the fallback.",
     "p2pmesh answers `request_peers` (str or bin `*`), and follows py2p's renegotiation: the "
     "link runs uncompressed both ways and keeps working (checked on the wire)."),
    ("3", "py2p indirect reply: `Message.reply()` to a sender that is not a direct peer calls "
          "`.decode()` on a str and raises AttributeError.",
     "`indirect reply: py2p replies …` is an expected failure (the driver reports the "
     "exception).",
     "p2pmesh's indirect reply (request → response → dial → whisper) reaches py2p and js2p."),
    ("4", "js2p cannot reply to a bin-id sender: its routing-table Map is keyed by the id "
          "object, a fresh Buffer never matches, and the request path never delivers.",
     "`reply from js2p to py2p` is an expected failure.",
     "p2pmesh sends its id as msgpack str, so js2p's replies to p2pmesh take the direct path; "
     "p2pmesh keys peers by id bytes whatever the msgpack type, so its replies to py2p work."),
    ("5", "js2p `connect()` refuses any host **or** port already in its routing table (`||` "
          "for `&&`): on one IP a js2p node dials once, so discovery, answers to "
          "`request_peers` and indirect replies are dead; in the response handler the refused "
          "dial is followed by a throw that destroys the link carrying the response.",
     "`js2p dials a second peer on the same host` and the discovery rows with js2p assert "
     "the failure; `request_peers: js2p asks …` and `indirect reply: js2p replies …` are "
     "expected failures.",
     "p2pmesh dials every listed peer by (host, port) and id up to max_outgoing, including "
     "several js2p nodes on one host (discovery rows)."),
    ("6", "py2p's waterfall cleanup is O(n) per broadcast (and js2p's lookup is a linear scan), "
          "so their throughput falls as K grows.",
     "Bursts stay at K = 2,000 with generous deadlines.",
     "p2pmesh's seen-cache is O(1) per message (see docs/performance.md)."),
    ("7", "py2p ignores the return value of `socket.send()`; a partial write would corrupt the "
          "stream.",
     "Not observed on loopback.",
     "p2pmesh writes whole frames through a write queue."),
    ("8", "Neither reference sets TCP_NODELAY.", "Latency only.", "p2pmesh does."),
    ("R1", "py2p and js2p build a broadcast separately for every link, reading the clock "
           "for each: when the loop crosses a second boundary, one `send()` becomes several "
           "messages with different ids (and times), and a node reachable along several paths "
           "delivers each of them.",
     "Network rows check, for a reference's broadcast, that no message id is delivered "
     "twice and that there is at most one message per link of the originator.",
     "p2pmesh serializes a broadcast once and sends the same message (one id) on every link, "
     "so its broadcasts are delivered exactly once everywhere, which the same rows assert."),
    ("P1", "py2p reads TLS with `select()` and `recv(1024)`, stopping as soon as one frame "
           "is complete: bytes already decrypted inside the SSL object are invisible to "
           "`select()`, so when a TLS record carries more than it read, the rest waits for "
           "the next bytes on the socket (a 2,000-message burst left 8 messages, 1,031 "
           "bytes, pending until one more message arrived).",
     "The SSL rows with py2p receiving (bursts, relay chains, discovery) require every "
     "message to arrive without later traffic to push it through.",
     "p2pmesh writes one frame per TLS record on every TLS link, so a record ends where "
     "its frame ends and py2p never stops reading in the middle of one."),
    ("P2", "py2p is not thread-safe: the caller's thread (`send`, `connect`, ...) and the "
           "daemon thread (relays, answers) write to the same sockets and the waterfall set "
           "without a lock. Overlapping them corrupts TLS records (the peer sees 'bad record "
           "mac', py2p raises BAD_LENGTH) or raises 'Set changed size during iteration', and "
           "the link drops.",
     "Network rows broadcast one message at a time and wait until every node has it "
     "(py2p relays before it delivers), so no py2p node sends while it relays.",
     "Nothing on the wire; p2pmesh closes only the link whose records fail to decrypt, "
     "and its own API is safe from any thread (calls are posted to its io thread)."),
    ("J1", "js2p `handle_renegotiate` calls `self.send` in a class method where `self` is not "
           "defined: a renegotiate/compression that shrinks its list, or any "
           "renegotiate/resend, throws ReferenceError and js2p destroys the link. So js2p "
           "cannot follow py2p's renegotiation (bug 2).",
     "`py2p renegotiates to no compression; js2p follows` is an expected failure.",
     "p2pmesh never sends renegotiate to a peer on its own; it only answers one, with the "
     "intersection of lists, which does not shrink js2p's list when js2p sent it."),
    ("J2", "msgpack-lite (js2p) writes every integer outside the **int32** range (not only "
           "≥ 2^32) as float64, and decodes 64-bit integers to doubles.",
     "The packet-type rows expect floats from js2p for those integers, and compare numbers "
     "as doubles at a js2p receiver.",
     "p2pmesh keeps int and float distinct and delivers what was sent."),
]

SYMBOLS = {"passed": "✅", "failed": "❌", "error": "❌ error", "skipped": "⏭ skipped",
           "xpassed": "❗ xpass", "missing": "—"}


def test_key(nodeid):
    """`path::test_x[params]` -> `test_x[params]`."""
    return nodeid.split("::")[-1]


def fold_report(results, report):
    """Fold one pytest TestReport (setup/call/teardown) into results[test_key]."""
    key = test_key(report.nodeid)
    entry = results.setdefault(key, {"outcome": None, "reason": "", "properties": {}})
    for name, value in getattr(report, "user_properties", ()):
        entry["properties"][name] = str(value)
    wasxfail = getattr(report, "wasxfail", None)
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
        elif report.skipped:
            entry["outcome"] = "xfailed" if wasxfail is not None else "skipped"
            entry["reason"] = wasxfail if wasxfail is not None else _skip_reason(report)
        else:
            entry["outcome"] = "xpassed" if wasxfail is not None else "passed"
    elif report.when == "teardown" and report.failed and entry["outcome"] in (None, "passed"):
        entry["outcome"] = "error"


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


def from_junit(path):
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        entry = {"outcome": "passed", "reason": "", "properties": {}}
        for prop in case.iter("property"):
            entry["properties"][prop.get("name")] = prop.get("value")
        for child in case:
            if child.tag == "failure":
                entry["outcome"] = "failed"
            elif child.tag == "error":
                entry["outcome"] = "error"
            elif child.tag == "skipped":
                xfail = child.get("type") == "pytest.xfail"
                entry["outcome"] = "xfailed" if xfail else "skipped"
                entry["reason"] = child.get("message", "")
        results[case.get("name")] = entry
    return results


def _bug_of(text):
    m = re.search(r"\bbug (J?\d+)", text or "")
    return m.group(1) if m else None


def cell(entry):
    if entry is None:
        return SYMBOLS["missing"]
    outcome = entry["outcome"]
    if outcome == "xfailed":
        return "🐞 bug %s (expected failure)" % (_bug_of(entry["reason"]) or "?")
    text = SYMBOLS.get(outcome, outcome)
    if outcome == "passed":
        notes = []
        if "reference_bug" in entry["properties"]:
            notes.append("asserts bug %s" % entry["properties"]["reference_bug"])
        if "reference_fix" in entry["properties"]:
            notes.append("py2p with fix %s" % entry["properties"]["reference_fix"])
        if notes:
            text += " (" + ", ".join(notes) + ")"
    return text


def _split(key):
    m = re.match(r"^(\w+)(?:\[(.*)\])?$", key)
    return (m.group(1), m.group(2) or "") if m else (key, "")


PAIR_PARAMS = re.compile(r"^(cpp|py2p|js2p)-(cpp|py2p|js2p)-(Plaintext|SSL)-(\w+?)_dials(?:-(.+))?$")


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(results):
    pair_cells = {}  # (a, b) -> {(row label): {(enc, dialer): entry}}
    network_cells = {}  # row label -> {enc: entry}
    order = {name: i for i, (name, _) in enumerate(PAIR_ROWS)}
    labels = dict(PAIR_ROWS)
    for key in sorted(results):
        func, params = _split(key)
        m = PAIR_PARAMS.match(params)
        if m and func in labels:
            a, b, enc, dialer, extra = m.groups()
            label = labels[func].format(a=NAMES[a], b=NAMES[b], extra=extra or "")
            rows = pair_cells.setdefault((a, b), {})
            rank = METHOD_ORDER.index(extra) if extra in METHOD_ORDER else len(METHOD_ORDER)
            rows.setdefault((order[func], rank, extra or "", label), {})[(enc, dialer)] = \
                results[key]
            continue
        tokens = params.split("-") if params else []
        enc = next((t for t in tokens if t in ENCRYPTIONS), "")
        rest = [t for t in tokens if t != enc]
        labeller = NETWORK_ROWS.get(func, lambda t: " ".join([func] + t))
        try:
            label = labeller(rest)
        except IndexError:
            label = " ".join([func] + rest)
        network_cells.setdefault(label, {})[enc] = results[key]

    counts = {}
    for entry in results.values():
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1

    out = [
        "# Interoperability with py2p and js2p",
        "",
        "<!-- Generated by tests/interop/gen_matrix.py from the interop test results; do not "
        "edit by hand. -->",
        "",
        "p2pmesh is tested in one network with the real reference implementations, js2p "
        "0.7.870 (npm, pinned by `tests/interop/package-lock.json`) and py2p 0.7.870 (from the "
        "tarball inside the js2p package, run by Debian's python3 with a small shim), each "
        "node a separate process on loopback driven through the JSON-lines interface of "
        "`p2pmesh node --json` (the references through `tests/interop/drivers/`).",
        "",
        "Run it: `ctest --test-dir build -L interop` (it installs nothing; `make test` runs "
        "`scripts/install-references.sh --fix-py2p-framing` first). This page is checked "
        "against the results by that test; after a change, regenerate it with "
        "`P2P_INTEROP_MATRIX=write P2PMESH_BIN=build/tools/p2pmesh/p2pmesh /usr/bin/python3 "
        "-m pytest -q -p no:cacheprovider tests/interop`.",
        "",
        "Legend: ✅ passes · 🐞 bug N (expected failure): the test asserts the correct "
        "behaviour, the reference fails it because of bug N below (strict xfail: the test "
        "fails if the reference is ever fixed) · \"asserts bug N\": the test passes by "
        "asserting the reference's broken outcome · ❌ fails · ⏭ skipped · — not run (the "
        "two-node reference baseline runs over Plaintext only).",
        "",
        "Results: " + ", ".join("%d %s" % (counts[k], k) for k in sorted(counts)) + ".",
        "",
    ]
    for (a, b) in [("cpp", "py2p"), ("cpp", "js2p"), ("py2p", "js2p")]:
        rows = pair_cells.get((a, b))
        if not rows:
            continue
        title = "%s ↔ %s" % (NAMES[a], NAMES[b])
        if a != "cpp":
            title += " (reference baseline, no p2pmesh involved)"
        out += ["## " + title, ""]
        cols = [(enc, d) for enc in ENCRYPTIONS for d in (a, b)]
        header = ["scenario"] + ["%s, %s dials" % (enc, NAMES[d]) for enc, d in cols]
        body = [[label] + [cell(cells.get(c)) for c in cols]
                for (_, _, _, label), cells in sorted(rows.items())]
        out += _table(header, body) + [""]
    if network_cells:
        out += ["## Networks", ""]
        header = ["scenario"] + ENCRYPTIONS
        body = []
        for label in sorted(network_cells):
            cells = network_cells[label]
            if set(cells) == {""}:
                body.append([label, cell(cells[""]), "n/a (one run, Plaintext)"])
            else:
                body.append([label] + [cell(cells.get(enc)) for enc in ENCRYPTIONS])
        out += _table(header, body) + [""]
    out += ["## Reference bugs and how p2pmesh copes", "",
            "Numbers 1–8 are those of the protocol notes (`docs/protocol.md`); R1, P1, P2, J1 "
            "and J2 were found by this suite.", ""]
    out += _table(["bug", "what the reference does", "in the matrix", "p2pmesh"],
                  [["%s" % n, what, where, cope] for n, what, where, cope in BUGS])
    out += [""]
    return "\n".join(out)


def compare(path, text):
    """None when the file at path equals text, else a short unified diff."""
    try:
        with open(path) as f:
            current = f.read()
    except OSError as e:
        return "cannot read %s: %s" % (path, e)
    if current == text:
        return None
    diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "docs/interop.md",
                                "from these results", lineterm="", n=0)
    return "\n".join(list(diff)[:60])


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--junit", required=True, help="pytest --junitxml report")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write docs/interop.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/interop.md differs")
    p.add_argument("--output", default=DOC_PATH)
    args = p.parse_args(argv)
    text = render(from_junit(args.junit))
    if args.check:
        problem = compare(args.output, text)
        if problem:
            print(problem)
            return 1
        return 0
    if args.write:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
