"""The p2pmesh command: `node --json` driven through every command, the interactive node,
`demo`, argument errors, and help. Uses the node harness of tests/interop (no reference
implementation is needed here)."""

import os
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "interop"))
from mesh_harness import BROADCAST, WHISPER, Mesh, cpp_binary, wait_connected  # noqa: E402

BIN = cpp_binary()
pytestmark = pytest.mark.skipif(BIN is None, reason="P2PMESH_BIN is not set to the built CLI")


def run(*args, stdin="", timeout=60):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


# ---- node --json ------------------------------------------------------------------------

def test_two_json_nodes_exchange_messages_through_every_command():
    with Mesh() as mesh:
        a, b = mesh.start("cpp", "a"), mesh.start("cpp", "b")
        for ready in (a.ready, b.ready):
            assert set(ready) >= {"event", "id", "port", "protocol_id"}
            assert ready["protocol_id"] == "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD"
        assert b.ok("connect", host="127.0.0.1", port=a.port)["re"] == "connect"
        wait_connected(a, b)

        packets = ["str", {"b64": "AAEC"}, -5, 2**64 - 1, 1.5, True, None, [1, [2]], {"k": "v"}]
        sent = a.ok("send", packets=packets, flag=BROADCAST, type=BROADCAST)
        assert isinstance(sent["t_ns"], int)
        msg = b.wait_packets([BROADCAST] + packets)
        assert msg["sender"] == a.id and msg["index"] == 0 and len(msg["id"]) == 64
        assert isinstance(msg["recv_ns"], int) and isinstance(msg["time"], int)

        drained = b.ok("recv")["messages"]
        assert [m["packets"] for m in drained] == [[BROADCAST] + packets]
        assert b.ok("recv")["messages"] == []  # drained

        b.ok("reply", index=0, packets=["answer"])
        a.wait_packets([WHISPER, "answer"])

        a.ok("send", packets=["psst"], flag=WHISPER, type=WHISPER)
        b.wait_packets([WHISPER, "psst"])

        state = a.ok("state")
        for key in ("id", "protocol_id", "out_addr", "awaiting", "routing_table", "received",
                    "bcast_copies", "bcast_dups", "status"):
            assert key in state, key
        assert state["id"] == a.id and state["awaiting"] == []
        [peer] = state["routing_table"]
        assert peer["id"] == b.id and peer["outgoing"] is False
        assert peer["addr"] == ["127.0.0.1", b.port] and peer["compression"] == "snappy"
        assert state["status"]["counters"]["handshakes_completed"] == 1

        a.ok("request_peers")
        a.ok("events", on=False)
        a.ok("reset")
        burst = b.ok("burst", count=500, size=64)
        assert burst["t1_ns"] >= burst["t0_ns"]
        waited = a.ok("wait", count=500, timeout=20)
        assert waited["received"] == 500 and waited["last_ns"] >= waited["first_ns"] > 0
        assert len(a.messages) == 1, "events off: no message line after the reply"
        seq = sorted(int(bytes(__import__("base64").b64decode(m["packets"][1]["b64"]))[:10])
                     for m in a.ok("recv")["messages"][-500:])
        assert seq == list(range(500))
        assert a.ok("state")["received"] == 500  # counted since reset

        timed_out = a.cmd("wait", count=10**6, timeout=0.2)
        assert timed_out["ok"] is False and "error" in timed_out
        a.ok("quit")
        a.wait_for(lambda: a.bye, "bye after quit")


def test_malformed_lines_and_bad_commands_get_one_error_line_each():
    with Mesh() as mesh:
        a = mesh.start("cpp")
        for line in ["{not json", "[1, 2]", '"text"', '{"no": "cmd"}', '{"cmd": 5}']:
            a.raw_line(line)
            answer = a._answers.get(timeout=20)  # the one line that answers it
            assert answer["re"] is None and answer["ok"] is False and answer["error"], line
        for cmd, fields in [("nope", {}), ("send", {"packets": "x"}), ("send", {"flag": 7}),
                            ("reply", {"index": 99}), ("connect", {"host": "127.0.0.1"}),
                            ("burst", {"count": 1, "size": 3}), ("events", {}),
                            ("send", {"packets": [{"b64": "!!"}]}),
                            ("wait", {"count": -1})]:
            answer = a.cmd(cmd, **fields)
            assert answer["re"] == cmd and answer["ok"] is False and answer["error"], (cmd, answer)
        assert a.ok("state")["id"] == a.id  # still running


def test_json_node_reports_connect_failures_as_error_events():
    with Mesh() as mesh:
        a = mesh.start("cpp")
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        a.ok("connect", host="127.0.0.1", port=dead)
        a.wait_for(lambda: a.errors, "an error event for the refused dial")


def test_json_node_reports_its_own_redials_apart_from_errors():
    """Self-healing re-dials of a lost peer fail as `auto_dial_failed` (with the peer's id),
    not as `error`; a `connect` naming an id still fails as `error`."""
    with Mesh() as mesh:
        a, b = mesh.start("cpp", "a"), mesh.start("cpp", "b")
        a.connect(b)
        wait_connected(a, b)
        b_id, b_port = b.id, b.port
        b.stop()
        a.wait_for(lambda: a.auto_dial_failures, "a failed re-dial of the departed peer")
        _, event = a.auto_dial_failures[0]
        assert event["peer"] == b_id and event["error"].startswith("127.0.0.1:%d: " % b_port)
        assert a.errors == []
        a.cmd("connect", host="127.0.0.1", port=b_port, id="someone")  # refused or failing
        a.wait_for(lambda: a.errors, "an error event for the refused dial")
        assert all(e["peer"] == b_id for _, e in a.auto_dial_failures)


def test_json_node_connects_at_start_and_ends_on_end_of_input():
    with Mesh() as mesh:
        a = mesh.start("cpp", "a")
        proc = subprocess.Popen([BIN, "node", "--json", "--bind", "127.0.0.1", "--connect",
                                 "127.0.0.1:%d" % a.port], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            ready = proc.stdout.readline()
            assert '"event":"ready"' in ready
            a.poll_state(lambda s: len(s["routing_table"]) == 1, "the --connect peer")
            out, _ = proc.communicate("", timeout=20)  # end of input
            assert out.strip().splitlines()[-1] == '{"event":"bye"}'
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()


# ---- interactive node ---------------------------------------------------------------------

def test_interactive_node_broadcasts_lines_and_runs_commands():
    with Mesh() as mesh:
        a = mesh.start("cpp", "a")
        script = "\n".join(["hello mesh", "/peers", "/help", "/bogus", "/whisper zzz nobody",
                            "/reply 5 x", "/quit"]) + "\n"
        proc = subprocess.Popen([BIN, "node", "--bind", "127.0.0.1", "--connect",
                                 "127.0.0.1:%d" % a.port], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            # Send lines only once linked on both sides, so the broadcast has a receiver. `a`
            # listing the peer means a has the peer's handshake, not that the peer has a's:
            # until then the peer's broadcast goes to nobody (a TSan run once lost it so).
            a.poll_state(lambda s: len(s["routing_table"]) == 1, "the interactive peer")
            watchdog = threading.Timer(30, proc.kill)  # bounds the reads below
            watchdog.start()
            head = []
            try:
                for line in iter(proc.stdout.readline, ""):
                    head.append(line)
                    if line.startswith("* peer joined"):
                        break
            finally:
                watchdog.cancel()
            assert head and head[-1].startswith("* peer joined"), "".join(head)
            # Nothing else is printed until the script arrives, so no line the readline()
            # above buffered is missed by communicate(), which reads the pipe itself.
            out, _ = proc.communicate(script, timeout=30)
            out = "".join(head) + out
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0
        a.wait_packets([BROADCAST, "hello mesh"])
        assert "listening on port" in out and "1 peer(s)" in out
        assert "/whisper ID TEXT" in out  # help
        assert "unknown command /bogus" in out
        assert "no peer whose id starts with 'zzz'" in out
        assert "no message number '5'" in out
        assert "shutting down" in out


# ---- demo -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["--topology", "chain", "--nodes", "6"],
                                  ["--encryption", "SSL", "--nodes", "5", "--topology", "ring"]])
def test_demo_delivers_everything(args):
    with tempfile.TemporaryDirectory() as tmp:
        svg = os.path.join(tmp, "mesh.svg")
        result = run("demo", "--picture", svg, *args, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "demo: everything was delivered" in result.stdout
        assert "delivered exactly once: yes" in result.stdout
        with open(svg) as f:
            assert f.read().startswith("<svg")


# ---- arguments ----------------------------------------------------------------------------

def one_clear_line(result):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_port_in_use_is_one_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        line = one_clear_line(run("node", "--bind", "127.0.0.1", "--port", str(port)))
        assert "p2pmesh:" in line and str(port) in line


@pytest.mark.parametrize("args,needle", [
    (["node", "--encryption", "Rot13"], "unknown encryption 'Rot13'"),
    (["node", "--bind", "256.1.1.1"], "256.1.1.1"),
    (["node", "--connect", "nohostport"], "--connect"),
    (["node", "--connect", "127.0.0.1:99999"], "--connect"),
    (["node", "--out-addr", "x:0"], "--out-addr"),
    (["node", "--compression", "zip"], "unknown compression 'zip'"),
    (["node", "--max-outgoing", "0"], "--max-outgoing"),
    (["node", "--port", "70000"], "--port"),
    (["demo", "--nodes", "1"], "--nodes"),
    (["demo", "--topology", "torus"], "unknown topology 'torus'"),
    (["bogus"], "subcommand"),
])
def test_bad_arguments_give_one_clear_line(args, needle):
    line = one_clear_line(run(*args))
    assert needle in line, line


def test_help_is_complete():
    top = run("--help")
    assert top.returncode == 0 and "node" in top.stdout and "demo" in top.stdout
    node = run("node", "--help").stdout
    for opt in ("--bind", "--port", "--subnet", "--encryption", "--out-addr", "--connect",
                "--max-outgoing", "--compression", "--no-reconnect", "--verbose", "--json"):
        assert opt in node, opt
    demo = run("demo", "--help").stdout
    for opt in ("--nodes", "--topology", "--encryption", "--size", "--picture", "--seed"):
        assert opt in demo, opt
