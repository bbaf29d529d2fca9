"""Separate hosts (issue #8): p2pmesh nodes in their own network namespaces, joined by two
bridges (two sides) and one trunk link between them (tests/netns/netlab.py). The mesh forms,
the trunk is cut, each side keeps working alone, the trunk is restored, and the nodes
reconnect on their own (self-healing re-dials with backoff) until broadcasts from every node
reach every node exactly once again.

Needs root and a kernel that allows network namespaces; skipped with the reason otherwise.
Label `netns` (and `runtime`) in CTest.
"""

import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "interop"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_harness import BROADCAST, HarnessError, Mesh, cpp_binary, unique  # noqa: E402
import netlab  # noqa: E402

BIN = cpp_binary()
pytestmark = pytest.mark.skipif(BIN is None, reason="P2PMESH_BIN is not set to the built CLI")

SIDES = (3, 3)
# After the trunk comes back, a node re-dials a lost peer at its next backoff slot: 1, 2, 4 ...
# 64 s times [0.5, 1.5) after the previous attempt (src/core/node.cpp, self_heal). The
# partition here lasts ~10 s (a few failed attempts), so the next slot is well within this.
RECONNECT_DEADLINE = 60.0
CUT_DEADLINE = 30.0  # links die after ~3 s (netlab.DEAD_LINK_TIMEOUT), ARP fails after ~3 s
FORM_DEADLINE = 30.0


@pytest.fixture
def lab():
    removed = netlab.remove_stale()
    if removed:
        print("removed leftovers of a crashed run: %s" % removed)
    try:
        lab = netlab.Lab(SIDES)
    except netlab.Unavailable as e:
        pytest.skip("no network namespaces here: %s" % e)
    try:
        yield lab
    finally:
        lab.destroy()
    # Checked after the removal, so that a failure here still leaves nothing behind.
    assert lab.problems == [], lab.problems
    assert lab.leftovers() == [], lab.leftovers()


@pytest.fixture
def mesh(lab):
    m = Mesh(keep_logs=True)  # the logs are read below, then removed
    try:
        with m:
            yield m
        for ns in lab.node_ns:
            assert netlab.ns_pids(ns) == [], "processes left in %s" % ns
        for node in m.nodes:  # a clean `quit` exits 0; a sanitizer report would not
            assert node.proc.returncode == 0, "%s exited %s:\n%s" % (
                node.name, node.proc.returncode, node.stderr_tail())
    finally:
        shutil.rmtree(m.logdir, ignore_errors=True)


def cross_peers(node, others, state=None):
    """The ids of `others` in node's routing table."""
    ids = node.routing_ids(state)
    return {o.id for o in others} & ids


def wait_all(nodes, predicate, what, timeout):
    """Polls each node's state until predicate(node, state) holds for all of them."""
    deadline = time.monotonic() + timeout
    for node in nodes:
        node.poll_state(lambda s, n=node: predicate(n, s), what,
                        timeout=max(0.1, deadline - time.monotonic()))


def poll(predicate, what, timeout, node):
    """Polls predicate() (which may query nodes) until it holds; fails through `node`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            node.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        with node._cond:  # a short pause that also wakes on any event of that node
            node._cond.wait(0.05)


def broadcast(sender, receivers, tag):
    """sender broadcasts a fresh marker; returns it once every receiver has it."""
    packets = [tag, sender.name, unique()]
    sender.broadcast(*packets)
    for r in receivers:
        r.wait_packets([BROADCAST] + packets, "%s's broadcast %s" % (sender.name, tag))
    return packets


def copies(node, packets):
    return len(node.matching(lambda m: m["packets"] == [BROADCAST] + packets))


def reconnect_dials(node):
    return node.state()["status"]["counters"]["reconnect_dials"]


def fence(nodes, tag):
    """Each node's marker reaches all: copies still on their way along FIFO links are in."""
    for n in nodes:
        broadcast(n, [o for o in nodes if o is not n], tag)


def test_partitioned_sides_reconnect_and_traffic_flows_again(lab, mesh):
    t0 = time.monotonic()
    nodes = mesh.start_many([("cpp", dict(name="n%d" % i, bind=lab.addr[i],
                                          extra=["--dead-link-timeout",
                                                 str(netlab.DEAD_LINK_TIMEOUT)],
                                          wrapper=lab.wrapper(i)))
                             for i in range(len(lab.addr))])
    side_a = [nodes[i] for i in lab.nodes_of("A")]
    side_b = [nodes[i] for i in lab.nodes_of("B")]
    other_side = {n.name: (side_b if n in side_a else side_a) for n in nodes}
    for n in nodes:
        assert n.ready["port"] > 0
        # Each node listens on its namespace's address only.
        assert n.state()["out_addr"] == [n.host, n.port]

    # A chain inside each side, and one cross link dialled from each side; peer exchange
    # (max_outgoing 4) adds the rest.
    links = [(cur, prev) for side in (side_a, side_b) for prev, cur in zip(side, side[1:])]
    for dialer, target in links + [(side_a[0], side_b[0]), (side_b[-1], side_a[-1])]:
        answer = dialer.connect(target, expect_ok=False)
        # Peer exchange may have linked the two already: then the dial is refused as such.
        assert answer["ok"] or "already" in answer["error"], answer
    poll(lambda: all(cross_peers(n, other_side[n.name]) for n in (side_a[0], side_b[-1])),
         "the cross links", FORM_DEADLINE, side_a[0])
    formed = {n.name: broadcast(n, [o for o in nodes if o is not n], "formed") for n in nodes}
    fence(nodes, "formed-fence")
    for n in nodes:
        for o in nodes:
            if o is not n:
                assert copies(o, formed[n.name]) == 1, (o.name, n.name)
    t_formed = time.monotonic()
    errors_before = {n.name: len(n.errors) for n in nodes}

    # ---- partition ---------------------------------------------------------------------------
    # A re-dial made during the cut may succeed after the restore (its ARP query answered
    # late), so re-dials are counted from the cut on.
    dials_before = {n.name: reconnect_dials(n) for n in nodes}
    lab.cut()
    t_cut = time.monotonic()
    # Traffic on every cross link: TCP gives up on what the other side never acknowledges,
    # and the engine loses those peers.
    during = {}
    for side in (side_a, side_b):
        for n in side:
            during[n.name] = broadcast(n, [o for o in side if o is not n], "during")
    wait_all(nodes, lambda n, s: not cross_peers(n, other_side[n.name], s),
             "the peers of the other side to be lost", CUT_DEADLINE)
    t_lost = time.monotonic()
    # Each side still works alone once it knows the others are gone.
    for side in (side_a, side_b):
        for n in side:
            broadcast(n, [o for o in side if o is not n], "alone")
        fence(side, "alone-fence")
    for n in nodes:  # nothing crossed (the links that could carry it are closed)
        for o in other_side[n.name]:
            assert copies(o, during[n.name]) == 0, "%s got %s across the cut" % (o.name, n.name)
    # The nodes keep re-dialling the lost peers, and say so as auto_dial_failed, not error.
    wait_all(nodes, lambda n, s: n.auto_dial_failures, "a failed automatic re-dial",
             CUT_DEADLINE)

    # ---- heal -------------------------------------------------------------------------------
    lab.restore()
    t_restore = time.monotonic()
    # No command is sent to reconnect: the nodes must find each other again by themselves.
    poll(lambda: any(cross_peers(n, other_side[n.name]) for n in side_a),
         "the sides to reconnect after the restore", RECONNECT_DEADLINE, side_a[0])
    t_reconnected = time.monotonic()
    after = {}
    for n in nodes:
        after[n.name] = broadcast(n, [o for o in nodes if o is not n], "after")
    fence(nodes, "after-fence")
    for n in nodes:
        for o in nodes:
            if o is not n:
                assert copies(o, after[n.name]) == 1, "%s got %s's broadcast %d times" % (
                    o.name, n.name, copies(o, after[n.name]))
        for o in other_side[n.name]:  # and what was sent during the cut never arrives
            assert copies(o, during[n.name]) == 0
    # Every node lost peers with room left for outgoing links (max_outgoing 4, 2 others on
    # its side), so every node must have re-dialled on its own.
    redials = {n.name: reconnect_dials(n) - dials_before[n.name] for n in nodes}
    assert all(redials.values()), redials
    for n in nodes:  # the re-dials' failures were auto_dial_failed events, not errors
        assert len(n.errors) == errors_before[n.name], "%s: error events %s" % (n.name, n.errors)
    print("\nnetns: %d nodes; formed %.1f s, cross links lost %.1f s after the cut, "
          "reconnected %.1f s after the restore; automatic re-dial failures during the cut: "
          "%s; self-healing re-dials: %s; total %.1f s" % (
              len(nodes), t_formed - t0, t_lost - t_cut, t_reconnected - t_restore,
              {n.name: len(n.auto_dial_failures) for n in nodes}, redials,
              time.monotonic() - t0))
