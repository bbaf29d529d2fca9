#!/usr/bin/python3
"""A py2p 0.7.870 mesh node that speaks the JSON-lines protocol of `p2pmesh node --json`.

Run it with Debian's python3 and the shim first on the path:

    PYTHONPATH=tests/interop/py2p_shim:tests/interop/.py2p \
        /usr/bin/python3 tests/interop/drivers/py2p_driver.py [--port 0] [--encryption SSL] ...

Options mirror the C++ node: --bind ADDR (127.0.0.1) --port P (0: a free port is picked,
because py2p announces the port it was given, so it cannot be 0) --subnet S (mesh)
--encryption Plaintext|SSL --compression LIST|none --max-outgoing N --connect HOST:PORT...

stdout carries one JSON object per line and nothing else (py2p's own prints are sent to
stderr, see `_JsonOut`); commands are read one per line from stdin. See issue 6 / docs/cli.md
for the protocol; the test harness is tests/interop/mesh_harness.py.

Messages are delivered event-driven: py2p emits 'message' on its daemon thread right after
queueing a message, and the listener drains `recv()` there, so `recv_ns` is taken on the
thread that parsed the frame and no polling thread is needed.

Reference bugs (docs/interop.md, shared protocol.md) this driver works around or exposes,
without patching py2p (the only change to py2p is the optional one-character framing fix of
scripts/install-references.sh --fix-py2p-framing, bug 1):
  * bug 2: py2p never answers request_peers and falls back to no compression; `request_peers`
    simply calls py2p's method, so the tests can watch that happen.
  * bug 3: an indirect `reply` raises AttributeError inside py2p; the `reply` command reports
    it as {"ok": false, "path": "request", "error": ...} instead of dying.
  * bug 6: py2p's waterfall cleanup is O(n) per broadcast; nothing to do, benchmarks quote K.
  * bug P1 (found by the interop suite): py2p polls TLS sockets with select() and stops
    reading once a frame is complete, so decrypted bytes can wait inside the SSL object;
    `state` shows them per link as "tls_pending".
  * bug P2: py2p is not thread-safe. Commands run on this driver's main thread while py2p's
    daemon thread relays on the same sockets; the driver adds no lock (that would change
    py2p), so a caller must not make a py2p node send while it is relaying (the harness
    sends one broadcast at a time and waits for it to settle).
  * bug R1: py2p builds a broadcast per link with the clock read each time, so one `send`
    can become several messages; the driver reports what py2p delivers, as is.
  * py2p ids are bytes: every id goes out as ASCII text. Exceptions raised by a listener
    would disconnect the peer (py2p's process_data catches them), so listeners never raise.
"""

import argparse
import base64
import collections
import errno
import json
import os
import socket
import sys
import threading
import time
import traceback

IMPLEMENTATION = "py2p 0.7.870"
COMPRESSION_FLAGS = {"snappy": 0x20, "zlib": 0x13, "gzip": 0x11, "bz2": 0x10, "lzma": 0x12}
# Messages kept for `reply` by index and queued for `recv`; older ones are dropped (counted).
KEEP_MESSAGES = 10000


class _JsonOut:
    """The only writer of the real stdout. Everything else that prints (py2p's __print__
    writes level-0 notices with print()) is redirected to stderr, so stdout stays JSON."""

    def __init__(self):
        self._file = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1 << 16)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def write(self, obj):
        line = json.dumps(obj, separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()


def log(*args):
    print("py2p_driver:", *args, file=sys.stderr, flush=True)


def to_json(value):
    """msgpack value as py2p decoded it -> JSON (bytes become {"b64": ...})."""
    if isinstance(value, (bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {_key_text(k): to_json(v) for k, v in value.items()}
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)  # JSON has no NaN/inf; never sent by the tests
    return value


def _key_text(key):
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", "replace")
    return key if isinstance(key, str) else json.dumps(key)


def from_json(value):
    """JSON -> value for py2p to msgpack: {"b64": ...} is bytes (bin), str stays str."""
    if isinstance(value, dict):
        if len(value) == 1 and "b64" in value:
            return base64.b64decode(value["b64"], validate=True)
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def text_id(node_id):
    if isinstance(node_id, (bytes, bytearray)):
        return bytes(node_id).decode("ascii", "replace")
    return None if node_id is None else str(node_id)


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--subnet", default="mesh")
    p.add_argument("--encryption", default="Plaintext", choices=["Plaintext", "SSL"])
    p.add_argument("--compression", default=None,
                   help="comma list of snappy,zlib,gzip,bz2,lzma in preference order, or none")
    p.add_argument("--max-outgoing", type=int, default=None)
    p.add_argument("--out-addr", default=None, help="HOST:PORT announced to peers")
    p.add_argument("--connect", action="append", default=[], help="HOST:PORT, repeatable")
    p.add_argument("--json", action="store_true", help="accepted for symmetry; always on")
    p.add_argument("-v", "--verbose", action="count", default=0, help="py2p debug level")
    return p.parse_args(argv)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Driver:
    def __init__(self, args, out):
        self.args = args
        self.out = out
        self.lock = threading.Condition()
        self.index = 0
        self.received = 0
        self.bcast_copies = 0
        self.bcast_dups = 0
        self.first_ns = None
        self.last_ns = None
        self.events_on = True
        self.dropped = 0
        self.kept = collections.OrderedDict()  # index -> py2p Message, for `reply`
        self.pending = collections.deque()  # (index, recv_ns, Message) for `recv`
        self._import_py2p()
        self._force_compression()
        self.sock = self._open_socket()
        self._instrument()

    # ---- setup ---------------------------------------------------------------------------
    def _import_py2p(self):
        import py2p.base
        import py2p.mesh
        import py2p.messages
        self.py2p_base = py2p.base
        self.mesh = py2p.mesh
        self.messages = py2p.messages
        if self.args.max_outgoing is not None:
            # mesh._handle_peers reads the module global at call time.
            py2p.mesh.max_outgoing = self.args.max_outgoing

    def _force_compression(self):
        """py2p advertises, compresses with and decompresses with one module-level list
        (messages.compression, imported by name into base and mesh): edit it in place."""
        available = list(self.messages.compression)
        self.available_compression = available
        spec = self.args.compression
        if spec is None:
            return
        wanted = [] if spec.strip().lower() == "none" else [
            s.strip().lower() for s in spec.split(",") if s.strip()]
        flags = []
        for name in wanted:
            flag = COMPRESSION_FLAGS.get(name)
            if flag is None or flag not in available:
                raise SystemExit("py2p_driver: compression %r is not available in py2p here "
                                 "(available: %s)" % (name, self._names(available)))
            flags.append(flag)
        self.messages.compression[:] = flags
        assert self.mesh.compression is self.messages.compression
        assert self.py2p_base.compression is self.messages.compression

    @staticmethod
    def _names(flags):
        by_flag = {v: k for k, v in COMPRESSION_FLAGS.items()}
        return ",".join(by_flag.get(f, hex(f)) for f in flags) or "none"

    def _open_socket(self):
        prot = self.py2p_base.Protocol(self.args.subnet, self.args.encryption)
        out_addr = host_port(self.args.out_addr) if self.args.out_addr else None
        for attempt in range(20):
            port = self.args.port or free_port(self.args.bind)
            try:
                return self.mesh.MeshSocket(self.args.bind, port, prot, out_addr=out_addr,
                                            debug_level=self.args.verbose)
            except OSError as e:
                # Another process took the free port between probe and bind: pick again.
                if e.errno != errno.EADDRINUSE or self.args.port:
                    raise
                log("port %d taken, retrying (%d)" % (port, attempt))
        raise SystemExit("py2p_driver: no free port after 20 attempts")

    def _instrument(self):
        sock = self.sock
        sock.on("message", self._on_message)
        original_waterfall = sock.waterfall

        def counting_waterfall(msg):
            fresh = original_waterfall(msg)
            with self.lock:
                self.bcast_copies += 1
                if not fresh:
                    self.bcast_dups += 1
            return fresh

        # MeshConnection.handle_waterfall calls self.server.waterfall(...): an instance
        # attribute wraps it for this socket only.
        sock.waterfall = counting_waterfall
        driver = self

        class ReportingList(list):
            def append(self, item):
                super().append(item)
                driver.out.write({"event": "error", "error": str(item).strip()[-2000:]})

        sock.daemon.exceptions = ReportingList(sock.daemon.exceptions)

    # ---- events --------------------------------------------------------------------------
    def _on_message(self, sock):
        # Runs on py2p's daemon thread. Must not raise: py2p would drop the peer.
        try:
            while True:
                msg = sock.recv()
                if msg is None:
                    return
                self._deliver(msg, time.monotonic_ns())
        except Exception:
            log("message listener failed:\n" + traceback.format_exc())

    def _deliver(self, msg, recv_ns):
        with self.lock:
            index = self.index
            self.index += 1
            self.received += 1
            if self.first_ns is None:
                self.first_ns = recv_ns
            self.last_ns = recv_ns
            self.kept[index] = msg
            if len(self.kept) > KEEP_MESSAGES:
                self.kept.popitem(last=False)
            self.pending.append((index, recv_ns, msg))
            if len(self.pending) > KEEP_MESSAGES:
                self.pending.popleft()
                self.dropped += 1
            events_on = self.events_on
            self.lock.notify_all()
        if events_on:
            self.out.write(dict(event="message", **self._message_json(index, recv_ns, msg)))

    @staticmethod
    def _message_json(index, recv_ns, msg):
        return {
            "index": index,
            "recv_ns": recv_ns,
            "packets": to_json(list(msg.packets)),
            "sender": text_id(msg.sender),
            "time": msg.time,
            "id": bytes(msg.id).hex(),
        }

    # ---- commands ------------------------------------------------------------------------
    def handle_line(self, line):
        try:
            req = json.loads(line)
        except ValueError as e:
            return {"re": None, "ok": False, "error": "malformed JSON: %s" % e}
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            return {"re": None, "ok": False, "error": "expected an object with a \"cmd\" string"}
        cmd = req["cmd"]
        handler = getattr(self, "cmd_" + cmd, None)
        if handler is None:
            return {"re": cmd, "ok": False, "error": "unknown command %r" % cmd}
        try:
            reply = handler(req)
        except Exception as e:  # a bad argument or a py2p exception: report, keep running
            log("command %s failed:\n%s" % (cmd, traceback.format_exc()))
            return {"re": cmd, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        response = {"re": cmd, "ok": reply.pop("ok", True)}
        response.update(reply)
        return response

    def cmd_connect(self, req):
        host, port = req["host"], int(req["port"])
        node_id = req.get("id")
        result = self.sock.connect(host, port, node_id.encode() if node_id else None)
        if result is False:
            return {"ok": False, "error": "py2p refused: already connected or own address"}
        return {}

    def cmd_send(self, req):
        packets = from_json(req.get("packets", []))
        if not isinstance(packets, list):
            raise ValueError("packets must be an array")
        flag, kind = int(req.get("flag", 0)), int(req.get("type", 0))
        t_ns = time.monotonic_ns()
        self.sock.send(*packets, flag=flag, type=kind)
        return {"t_ns": t_ns}

    def cmd_recv(self, req):
        with self.lock:
            items = list(self.pending)
            self.pending.clear()
        return {"messages": [self._message_json(*item) for item in items]}

    def cmd_reply(self, req):
        index = int(req["index"])
        with self.lock:
            msg = self.kept.get(index)
        if msg is None:
            return {"ok": False, "error": "no message with index %d (kept: last %d)" %
                    (index, KEEP_MESSAGES)}
        packets = from_json(req.get("packets", []))
        path = "direct" if self.sock.routing_table.get(msg.sender) else "request"
        try:
            msg.reply(*packets)
        except AttributeError as e:
            # py2p bug 3: the indirect path calls .decode() on base58's str.
            return {"ok": False, "path": path, "error": "py2p indirect reply failed "
                    "(reference bug 3): AttributeError: %s" % e}
        return {"path": path}

    def cmd_request_peers(self, req):
        self.sock.request_peers()
        return {}

    def cmd_state(self, req):
        for _ in range(10):
            try:
                table = list(self.sock.routing_table.items())
                break
            except RuntimeError:  # changed size on the daemon thread: take it again
                continue
        status = self.sock.status
        with self.lock:
            counters = (self.received, self.bcast_copies, self.bcast_dups, self.dropped)
        return {
            "id": text_id(self.sock.id),
            "protocol_id": self.sock.protocol.id,
            "out_addr": list(self.sock.out_addr),
            "awaiting": len(self.sock.awaiting_ids),
            "routing_table": [self._connection_json(key, conn) for key, conn in table],
            "received": counters[0],
            "bcast_copies": counters[1],
            "bcast_dups": counters[2],
            "dropped": counters[3],
            "status": status if isinstance(status, str) else [str(s)[-2000:] for s in status],
            "compression": list(self.messages.compression),
            "implementation": IMPLEMENTATION,
        }

    def _connection_json(self, key, conn):
        advertised = list(conn.compression or [])
        # py2p sends with the first method of its own list that the peer advertised
        # (InternalMessage.compression_used); "compression" names it, as p2pmesh does.
        chosen = next((f for f in self.messages.compression if f in advertised), None)
        by_flag = {v: k for k, v in COMPRESSION_FLAGS.items()}
        pending = getattr(conn.sock, "pending", None)
        return {
            "id": text_id(key),
            "addr": list(conn.addr) if conn.addr else None,
            "outgoing": bool(conn.outgoing),
            "compression": by_flag.get(chosen) if chosen is not None else None,
            "advertised": advertised,
            # Decrypted bytes waiting inside the TLS object, unseen by py2p's select() loop.
            "tls_pending": pending() if callable(pending) else None,
        }

    def cmd_burst(self, req):
        count, size = int(req["count"]), int(req.get("size", 64))
        if count < 0 or size < 0:
            raise ValueError("count and size must be >= 0")
        filler = bytes(max(0, size - 10))
        send = self.sock.send
        t0 = time.monotonic_ns()
        for seq in range(count):
            send((b"%010d" % seq)[:size] + filler)
        t1 = time.monotonic_ns()
        return {"t0_ns": t0, "t1_ns": t1}

    def cmd_wait(self, req):
        count = int(req["count"])
        timeout = float(req.get("timeout", 10))
        with self.lock:
            reached = self.lock.wait_for(lambda: self.received >= count, timeout)
            reply = {"ok": bool(reached), "received": self.received,
                     "first_ns": self.first_ns, "last_ns": self.last_ns}
        if not reached:
            reply["error"] = "timeout: %d of %d messages" % (reply["received"], count)
        return reply

    def cmd_events(self, req):
        with self.lock:
            self.events_on = bool(req.get("on", True))
        return {}

    def cmd_reset(self, req):
        with self.lock:
            self.received = self.bcast_copies = self.bcast_dups = self.dropped = 0
            self.first_ns = self.last_ns = None
        return {}

    def cmd_quit(self, req):
        raise _Quit()

    def close(self):
        try:
            self.sock.close()
        except Exception:
            log("close failed:\n" + traceback.format_exc())


class _Quit(BaseException):  # not caught as a command failure
    pass


def main(argv):
    args = parse_args(argv)
    out = _JsonOut()
    try:
        driver = Driver(args, out)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    except Exception as e:
        print("py2p_driver: cannot start: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    out.write({"event": "ready", "id": text_id(driver.sock.id), "port": driver.sock.out_addr[1],
               "protocol_id": driver.sock.protocol.id, "implementation": IMPLEMENTATION,
               "compression": list(driver.messages.compression)})
    for target in args.connect:
        host, port = host_port(target)
        out.write(dict({"re": "connect"}, **driver.cmd_connect({"host": host, "port": port})))
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                out.write(driver.handle_line(line))
            except _Quit:
                out.write({"re": "quit", "ok": True})
                break
    finally:
        driver.close()
        out.write({"event": "bye"})
    # py2p's objects run more cleanup in __del__ at interpreter exit; we are done.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
