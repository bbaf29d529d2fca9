"""The workloads of bench/run.py. Each function measures one run and returns a dict of
figures ({impl: {metric: value}}), or raises procs.BenchError / HarnessError.

The process-based workloads (chain, 16-node flood, RSS of the CLI-level nodes, CPU per
relayed message, one hop through the drivers) drive p2pmesh, py2p and js2p identically: each
node is a process speaking the JSON-lines protocol of `p2pmesh node --json` (docs/cli.md),
p2pmesh through its CLI and the references through tests/interop/drivers, launched by
tests/interop/mesh_harness.py. Timestamps are CLOCK_MONOTONIC in every implementation (taken
right before the send call and in the receive handler), so they compare across processes.
Message events are off during measurements, so no node writes a line per message.
"""

import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import mesh_harness  # noqa: E402
from mesh_harness import HarnessError, Mesh, wait_connected  # noqa: E402,F401

from procs import (BenchError, LineProcess, cpu_sample, cpu_used, poll,  # noqa: E402
                   rss_kib, run_json)

REFERENCES = ("py2p", "js2p")
NODE_KINDS = ("cpp",) + REFERENCES
LABEL = {"cpp": "p2pmesh", "py2p": "py2p", "js2p": "js2p"}


def node_options(kind, max_outgoing=None):
    """No compression anywhere (the figures are the mesh's own cost, and the burst payloads
    are compressible), and no dials beyond the explicit ones unless max_outgoing is given:
    0 for the references; the p2pmesh CLI refuses 0, so 1 plus --no-reconnect (its one
    explicit dial fills the quota and self-healing does not ask for more)."""
    opts = dict(compression="none")
    if max_outgoing is not None:
        opts["max_outgoing"] = max_outgoing
    elif kind == "cpp":
        opts["max_outgoing"] = 1
        opts["extra"] = ["--no-reconnect"]
    else:
        opts["max_outgoing"] = 0
    return opts


def start(mesh, kind, count, **opts):
    nodes = mesh.start_many([(kind, node_options(kind, **opts))] * count)
    return nodes


def events_off(nodes):
    for n in nodes:
        n.ok("events", on=False)


# ---- ceilings ----------------------------------------------------------------------------
def ceilings(cfg):
    out = {}
    objs, _ = run_json([cfg.binary("tcp_pingpong"), "latency", "--rounds",
                        str(cfg.tcp_rounds), "--size", "64"], timeout=120)
    out["tcp_one_way_p50_us"] = objs[-1]["one_way_p50_us"]
    out["tcp_one_way_p99_us"] = objs[-1]["one_way_p99_us"]
    # The same 7 hops as the chain workload, relayed by 8 processes with blocking reads and
    # one message every millisecond: each hop wakes a process that was asleep.
    objs, _ = run_json([cfg.binary("tcp_pingpong"), "chain", "--hops", "7", "--messages",
                        str(cfg.tcp_chain_messages), "--size", "64", "--gap-us", "1000"],
                       timeout=120)
    out["tcp_chain_p50_us"] = objs[-1]["p50_us"]
    out["tcp_chain_p99_us"] = objs[-1]["p99_us"]
    objs, _ = run_json([cfg.binary("tcp_pingpong"), "stream", "--bytes",
                        str(cfg.tcp_stream_bytes)], timeout=120)
    out["tcp_stream_bytes_per_s"] = objs[-1]["bytes_per_s"]
    # The protocol's own floor for one hop, at the same K as p2pmesh's bursts: frames whose
    # SHA-256 the sender computes and the receiver checks, and nothing else.
    for size in (64, 4096):
        for count in cfg.native_counts:
            objs, _ = run_json([cfg.binary("tcp_pingpong"), "frames", "--count", str(count),
                                "--size", str(size)], timeout=120)
            out["frames_%d_%d_msgs_per_s" % (size, count)] = objs[-1]["msgs_per_s"]
            out["frames_%d_%d_bytes_per_s" % (size, count)] = objs[-1]["payload_bytes_per_s"]
    # Workload (c)'s in-process flood with only the system calls a relay needs, one thread:
    # it exits non-zero unless every flood reached every node with the expected copies.
    for nodes in (256, 1024):
        objs, _ = run_json([cfg.binary("tcp_flood"), "inproc", "--nodes", str(nodes),
                            "--floods", str(cfg.inproc_floods)], timeout=300)
        out["tcp_flood_%d_ms" % nodes] = objs[-1]["median_ms"]
        out["tcp_flood_%d_copies" % nodes] = objs[-1]["copies"]
        out["tcp_flood_%d_edges" % nodes] = objs[-1]["edges"]
    # And the 16-process flood: the same links, one process per node, each flood after
    # 0.25 s of quiet (the suite's floods wait at least 0.2 s), so it finds them asleep.
    for topology in ("tree", "mesh"):
        links = ",".join("%d-%d" % d for d in flood16_topology(topology))
        objs, _ = run_json([cfg.binary("tcp_flood"), "procs", "--links", links, "--floods",
                            str(cfg.floods), "--warmup", str(cfg.flood_warmup), "--gap-ms",
                            "250"], timeout=300)
        out["tcp_flood16_%s_ms" % topology] = objs[-1]["median_ms"]
        out["tcp_flood16_%s_edges" % topology] = objs[-1]["edges"]
    zmq = cfg.binary("zmq_pubsub", required=False)
    if zmq:
        for size, count in ((64, cfg.zmq_count_64), (4096, cfg.zmq_count_4k)):
            objs, _ = run_json([zmq, "--count", str(count), "--size", str(size)], timeout=180)
            out["zmq_%d_msgs_per_s" % size] = objs[-1]["msgs_per_s"]
            out["zmq_%d_bytes_per_s" % size] = objs[-1]["payload_bytes_per_s"]
    return {"ceiling": out}


# ---- (a) one hop -------------------------------------------------------------------------
def one_hop_native(cfg):
    """The lead's bench/one_hop.cpp (target p2p_one_hop): one JSON line per call."""
    binary = cfg.binary("p2p_one_hop", required=False)
    if not binary:
        raise BenchError("not run: bench/p2p_one_hop is not built (bench/one_hop.cpp missing)")
    out = {}
    for size in (64, 4096):
        for count in cfg.native_counts:
            objs, _ = run_json([binary, "--count", str(count), "--size", str(size)],
                               timeout=cfg.native_timeout)
            line = objs[-1]
            if not line.get("ok", True):
                raise BenchError("p2p_one_hop --count %d --size %d: %s" % (count, size, line))
            out["%d_%d_msgs_per_s" % (size, count)] = line["msgs_per_s"]
            out["%d_%d_bytes_per_s" % (size, count)] = line["payload_bytes_per_s"]
            out["%d_%d_sender_rss_mib" % (size, count)] = line["sender_max_rss_kib"] / 1024
    return {"p2pmesh": out}


def one_hop_driver(cfg, kind):
    """A bursts K broadcasts of S bytes to its one peer B; rate = K / (B's last arrival - A's
    first send). A fresh pair of nodes for every (S, K): a burst's payloads repeat the previous
    burst's (sequence numbers from 0), and py2p drops such repeats as duplicates. A burst that
    does not finish within cfg.ref_timeout is reported as timed out, and not tried again in
    later runs (cfg.timed_out)."""
    out = {}
    for size in (64, 4096):
        for count in cfg.driver_counts:
            key = "%d_%d" % (size, count)
            if (kind, key) in cfg.timed_out:
                out[key + "_error"] = cfg.timed_out[(kind, key)]
                continue
            with Mesh() as mesh:
                a, b = start(mesh, kind, 2)
                b.connect(a)
                wait_connected(a, b)
                events_off([a, b])
                budget = cfg.ref_timeout
                started = time.monotonic()
                burst = a.cmd("burst", count=count, size=size, answer_timeout=budget)
                left = max(1.0, budget - (time.monotonic() - started))
                got = b.cmd("wait", count=count, timeout=left)
                if not got.get("ok"):
                    text = "timed out: %d of %d messages within %.0f s" % (
                        got.get("received", 0), count, budget)
                    out[key + "_error"] = text
                    cfg.timed_out[(kind, key)] = text + " (in an earlier run)"
                    continue
                seconds = (got["last_ns"] - burst["t0_ns"]) / 1e9
                out[key + "_msgs_per_s"] = count / seconds
                out[key + "_bytes_per_s"] = count * size / seconds
    return {LABEL[kind]: out}


# ---- (b) 8-node chain latency --------------------------------------------------------------
def chain(cfg, kind):
    """8 processes in a line, node i dialing node i-1; one broadcast at a time from node 0,
    latency = node 7's arrival - node 0's send."""
    with Mesh() as mesh:
        nodes = start(mesh, kind, 8)
        for i in range(1, 8):
            nodes[i].connect(nodes[i - 1])
            wait_connected(nodes[i], nodes[i - 1])
        events_off(nodes)
        check_chain(nodes)
        head, tail = nodes[0], nodes[-1]
        lat = []
        for i in range(cfg.chain_warmup + cfg.chain_messages):
            tail.ok("reset")
            sent = head.ok("send", packets=["chain", i])
            got = tail.cmd("wait", count=1, timeout=10)
            if not got.get("ok"):
                raise BenchError("message %d did not reach the end of the chain in 10 s" % i)
            if i >= cfg.chain_warmup:
                lat.append((got["first_ns"] - sent["t_ns"]) / 1e6)
        check_chain(nodes)
    lat.sort()
    return {LABEL[kind]: {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}}


def check_chain(nodes):
    for i, n in enumerate(nodes):
        want = {m.id for m in (nodes[i - 1:i] + nodes[i + 1:i + 2])}
        got = n.routing_ids()
        if got != want:
            raise BenchError("not a chain: node %d links %d peers, expected %d" %
                             (i, len(got), len(want)))


def percentile(sorted_values, p):
    i = int(p / 100.0 * (len(sorted_values) - 1) + 0.5)
    return sorted_values[min(i, len(sorted_values) - 1)]


# ---- (c) flood in 16 processes -------------------------------------------------------------
def flood16_topology(topology, seed=7):
    """Dials (i, j) in order: "tree" = each node dials one random earlier node (15 links, the
    only shape js2p can build: it dials one peer per host, reference bug 5); "mesh" = node 0
    first dials node 15, then as the tree, and nodes 2.. also dial a second earlier node (30
    links with cycles).

    Done one at a time, each dialer fresh when it dials, so that a p2pmesh node (whose CLI
    keeps max_outgoing >= 1) never learns of a peer while it still has an outgoing slot free:
    in the tree the root learns nothing (its dialers know nobody yet), in the mesh it fills
    its slot with its explicit dial before anyone else links to it."""
    rng = random.Random(seed)
    dials = [(0, 15)] if topology == "mesh" else []
    for i in range(1, 16):
        first = rng.randrange(i)
        dials.append((i, first))
        if topology == "mesh" and i >= 2:
            second = rng.choice([j for j in range(i) if j != first])
            dials.append((i, second))
    return dials


def flood16_nodes(mesh, kind, dials):
    """16 nodes of `kind` linked as `dials` says (flood16_topology), message events off:
    (nodes, edges)."""
    nodes = start(mesh, kind, 16)
    for i, j in dials:
        nodes[i].connect(nodes[j])
        wait_connected(nodes[i], nodes[j])
    events_off(nodes)
    return nodes, count_links(nodes, len(dials))


def flood_once(nodes, f):
    """Resets every node, broadcasts ["flood", f] from nodes[0] and waits (10 s at most) for
    each other node's first delivery: (the send's t_ns, {index: first_ns} of the nodes it
    reached)."""
    for n in nodes:
        n.ok("reset")
    sent = nodes[0].ok("send", packets=["flood", f])
    arrivals = {}
    for k, n in enumerate(nodes[1:], 1):
        got = n.cmd("wait", count=1, timeout=10)
        if got.get("ok"):
            arrivals[k] = got["first_ns"]
    return sent["t_ns"], arrivals


def flood16(cfg, kind, topology):
    with Mesh() as mesh:
        dials = flood16_topology(topology)
        nodes, edges = flood16_nodes(mesh, kind, dials)
        times, reached, copies = [], [], []
        for f in range(cfg.flood_warmup + cfg.floods):
            t0, arrivals = flood_once(nodes, f)
            # Copies still on the wire after the last delivery: count once the sum is stable.
            total = settle(lambda: sum(n.state()["bcast_copies"] for n in nodes))
            if f >= cfg.flood_warmup:
                reached.append(len(arrivals))
                times.append((max(arrivals.values()) - t0) / 1e6 if arrivals else float("nan"))
                copies.append(total)
        count_links(nodes, len(dials))
    return {LABEL[kind]: {"time_to_last_ms": statistics.median(times),
                          "reached": min(reached), "copies": max(copies), "edges": edges}}


def count_links(nodes, dialled):
    edges = sum(len(n.routing_ids()) for n in nodes) // 2
    if edges != dialled:
        raise BenchError("%d links instead of the %d dialled" % (edges, dialled))
    return edges


def settle(measure, quiet=0.2, timeout=5.0):
    """measure() once it has not changed for `quiet` seconds (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    last, since = measure(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.02)
        now = measure()
        if now != last:
            last, since = now, time.monotonic()
    return last


# ---- (c) flood in one process ------------------------------------------------------------
def flood_inproc(cfg, nodes, threads=1):
    """`threads` io threads run the one io_context the nodes share. io_cpu_to_last_ms is the
    CPU those threads used from the send to the last arrival: next to time_to_last_ms it
    shows whether a flood waits for the network or for the CPU. idle_cpu_pct is what the
    formed, quiet mesh costs (timers), as a share of one core."""
    objs, _ = run_json([cfg.binary("p2p_bench_mesh"), "flood", "--nodes", str(nodes),
                        "--floods", str(cfg.inproc_floods), "--threads", str(threads),
                        "--timeout", "120"], timeout=400)
    line = objs[-1]
    return {"p2pmesh": {"time_to_last_ms": statistics.median(line["time_to_last_ms"]),
                        "io_cpu_to_last_ms": statistics.median(line["io_cpu_to_last_ms"]),
                        "idle_cpu_pct": line["idle_cpu_pct"],
                        "reached": min(line["reached"]), "copies": max(line["copies"]),
                        "edges": line["edges"], "form_s": line["form_s"]}}


# ---- (d) RSS --------------------------------------------------------------------------------
def rss_nodes(cfg, kind):
    """VmRSS of one idle node, then of a hub once 15 nodes of the same kind have joined it."""
    with Mesh() as mesh:
        hub = start(mesh, kind, 1)[0]
        hub.ok("state")
        time.sleep(cfg.rss_settle)  # idle means idle for a moment, not right after start-up
        idle = rss_kib(hub.proc.pid)
        peers = start(mesh, kind, 15)
        for p in peers:
            p.connect(hub)
        hub.poll_state(lambda s: len(s["routing_table"]) >= 15, "15 peers", timeout=60)
        time.sleep(cfg.rss_settle)
        with_peers = rss_kib(hub.proc.pid)
    return {LABEL[kind]: {"idle_mib": idle / 1024, "hub15_mib": with_peers / 1024}}


def rss_floor(cfg):
    """bench/ceilings/rss_floor: a program that only loads the shared libraries p2pmesh links
    and idles, measured like the idle hub below: the RSS no idle node linking them goes under."""
    floor = LineProcess([cfg.binary("rss_floor")], lifetime=60)
    try:
        floor.read()  # ready
        time.sleep(cfg.rss_settle)
        idle, anon = rss_kib(floor.pid), rss_kib(floor.pid, "RssAnon")
    finally:
        floor.stop()
    return {"floor": {"idle_mib": idle / 1024, "idle_anon_mib": anon / 1024}}


def rss_library(cfg):
    """p2p_bench_mesh hub (a bare MeshSocket, no CLI): idle, with 15 and with N clients."""
    out = {}
    for clients in (15, cfg.conn_count):
        hub = LineProcess([cfg.binary("p2p_bench_mesh"), "hub", "--max-connections",
                           str(cfg.conn_count + 64)], lifetime=300)
        crowd = None
        try:
            port = hub.read()["port"]
            hub.ask()
            time.sleep(cfg.rss_settle)
            idle = rss_kib(hub.pid)
            idle_anon = rss_kib(hub.pid, "RssAnon")
            crowd = LineProcess([cfg.binary("p2p_bench_mesh"), "clients", "--port", str(port),
                                 "--count", str(clients)], lifetime=300)
            crowd.read()  # ready: every dial under way
            poll(lambda: hub.ask()["peers"] >= clients, 120, "%d peers at the hub" % clients,
                 period=0.1)
            time.sleep(cfg.rss_settle)
            loaded = rss_kib(hub.pid)
        finally:
            if crowd:
                crowd.stop()
            hub.stop()
        if clients == 15:
            out["idle_mib"] = idle / 1024
            out["idle_anon_mib"] = idle_anon / 1024
            out["hub15_mib"] = loaded / 1024
        else:
            out["conns"] = clients
            out["per_conn_kib"] = (loaded - idle) / clients
            out["hub_n_mib"] = loaded / 1024
    return {"p2pmesh (library)": out}


# ---- (e) CPU per relayed message -----------------------------------------------------------
def cpu_relay(cfg, kind):
    """A - B - C: A bursts K messages that C waits for; B's CPU time (the run time of its
    threads, procs.cpu_used) over K. B also delivers each message to its own JSON handler, as
    every node does."""
    count = cfg.relay_count_cpp if kind == "cpp" else cfg.relay_count_ref
    with Mesh() as mesh:
        a, b, c = start(mesh, kind, 3)
        a.connect(b)
        wait_connected(a, b)
        c.connect(b)
        wait_connected(c, b)
        events_off([a, b, c])
        # Warm-up with distinct messages: a second burst would repeat the first one's
        # payloads, and py2p drops such repeats as duplicates.
        for i in range(20):
            a.ok("send", packets=["warm-up", i])
        if not c.cmd("wait", count=20, timeout=30).get("ok"):
            raise BenchError("the warm-up messages did not cross the chain in 30 s")
        c.ok("reset")
        before = cpu_sample(b.proc.pid)
        a.cmd("burst", count=count, size=64, answer_timeout=cfg.ref_timeout)
        got = c.cmd("wait", count=count, timeout=cfg.ref_timeout)
        if not got.get("ok"):
            raise BenchError("C got %d of %d relayed messages within %.0f s" % (
                got.get("received", 0), count, cfg.ref_timeout))
        used, clock = cpu_used(before, cpu_sample(b.proc.pid))
    return {LABEL[kind]: {"cpu_us_per_msg": used / count * 1e6, "count": count, "clock": clock}}


# ---- (f) the simulator ---------------------------------------------------------------------
def sim_flood(cfg):
    objs, text = run_json([cfg.binary("sim_flood")] + [str(a) for a in cfg.sim_args],
                          timeout=900)
    out = {}
    for line in text.splitlines():
        if line.startswith("flood 0:"):
            out["flood0_ms"] = float(line.split()[2])
        elif " floods: mean " in line:
            out["mean_ms"] = float(line.split(" floods: mean ")[1].split()[0])
        elif line.startswith("set-up:"):
            out["edges"] = int(line.split(" nodes ")[1].split("), ")[1].split()[0])
        elif line.startswith("exactly once at every node:"):
            out["exactly_once"] = line.split(":")[1].split(";")[0].strip() == "yes"
    if "flood0_ms" not in out:
        raise BenchError("sim_flood printed no flood line:\n" + text[-500:])
    return {"p2pmesh (sim)": out}
