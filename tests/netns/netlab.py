"""A small network of Linux network namespaces for tests that need separate hosts.

    lab = Lab(sides=(3, 3))        # raises Unavailable (say why) when the kernel refuses
    try:
        lab.node_ns[0], lab.addr[0]  # where node 0 runs, and its address
        lab.cut(); lab.restore()     # partition the two sides, heal it
    finally:
        lab.destroy()                # idempotent; also registered with atexit

Layout (nothing is created or configured in the root namespace, so the host network is never
touched):

    <tag>-br   two bridges, brA and brB, joined by a veth pair tA<->tB (the "trunk");
               one veth end pN per node, enslaved to its side's bridge
    <tag>-nN   eth0 (the other end of pN) with 10.213.0.(N+1)/24, and lo

`cut()` sets the trunk end tA down (a link down on the bridge side): each side keeps working
internally, nothing crosses. Every name carries the creating process's pid
(<tag> = p2pnt<pid>), so runs never collide and leftovers of a crashed run are recognised
(and removed by `remove_stale()`) when their pid is gone.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess

PREFIX = "p2pnt"
SUBNET = "10.213.0"
IP = shutil.which("ip") or "/usr/sbin/ip"
# The cross links of a partitioned mesh die when the nodes' own dead-link detection (TCP
# keep-alive and TCP_USER_TIMEOUT, `--dead-link-timeout`) gives up on them: the protocol has
# no keep-alive, and without it Linux keeps such a link ~15 minutes (tcp_retries2 = 15).
DEAD_LINK_TIMEOUT = 3


_live = []  # labs of this process not destroyed yet


class Unavailable(Exception):
    """Namespaces cannot be made here (no root, no `ip`, the kernel refuses); says why."""


def ip(*args, check=True):
    proc = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), proc.stderr.strip()))
    return proc


def namespaces():
    """Names of the named network namespaces (`ip netns list`)."""
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def ns_pids(ns):
    out = ip("netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale():
    """Deletes the namespaces a crashed earlier run of this module left (their creator pid is
    gone), after killing the node processes still inside them. Returns what it removed."""
    removed = []
    for ns in namespaces():
        m = re.fullmatch(PREFIX + r"(\d+)-(br|n\d+)", ns)
        if not m:
            continue
        pid = int(m.group(1))
        # Our own pid with no lab of ours alive: a dead run whose pid was reused.
        if (pid == os.getpid() and _live) or (pid != os.getpid() and _alive(pid)):
            continue
        for stray in ns_pids(ns):  # nodes a crashed run started in its own namespace
            try:
                os.kill(stray, signal.SIGKILL)
            except ProcessLookupError:
                pass
        ip("netns", "del", ns, check=False)
        removed.append(ns)
    return removed


def root_links():
    """The root namespace's interface names: the lab must leave them as they were."""
    out = ip("-o", "link", "show").stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


class Lab:
    def __init__(self, sides=(2, 2)):
        if os.geteuid() != 0:
            raise Unavailable("network namespaces need root (euid %d)" % os.geteuid())
        if not os.path.exists(IP):
            raise Unavailable("the `ip` command (iproute2) is not installed")
        if len(sides) != 2 or min(sides) < 1 or sum(sides) > 250:
            raise ValueError("two sides of 1..250 nodes")
        self.tag = "%s%d" % (PREFIX, os.getpid())
        self.bridge_ns = self.tag + "-br"
        count = sum(sides)
        self.side = ["A"] * sides[0] + ["B"] * sides[1]
        self.node_ns = ["%s-n%d" % (self.tag, i) for i in range(count)]
        self.addr = ["%s.%d" % (SUBNET, i + 1) for i in range(count)]
        self.created = []
        self.destroyed = False
        self.problems = []  # what destroy() had to clean up that should have been gone
        self.root_links_before = root_links()
        _live.append(self)
        atexit.register(self.destroy)
        try:
            self._build()
        except Exception as e:
            self.destroy()
            if isinstance(e, Unavailable):
                raise
            raise Unavailable("the kernel refused to build the namespaces: %s" % e) from e

    def _build(self):
        for ns in [self.bridge_ns] + self.node_ns:
            proc = ip("netns", "add", ns, check=False)
            if proc.returncode != 0:
                raise Unavailable("`ip netns add %s` failed: %s" % (ns, proc.stderr.strip()))
            self.created.append(ns)
        br = ("-n", self.bridge_ns)
        for bridge in ("brA", "brB"):
            ip(*br, "link", "add", bridge, "type", "bridge")
            ip(*br, "link", "set", bridge, "up")
        ip(*br, "link", "add", "tA", "type", "veth", "peer", "name", "tB")
        ip(*br, "link", "set", "tA", "master", "brA", "up")
        ip(*br, "link", "set", "tB", "master", "brB", "up")
        for i, ns in enumerate(self.node_ns):
            port = "p%d" % i
            ip(*br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip(*br, "link", "set", port, "master", "br" + self.side[i], "up")
            ip("-n", ns, "addr", "add", self.addr[i] + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def exec_in(self, ns, *argv):
        proc = subprocess.run([IP, "netns", "exec", ns, *argv], capture_output=True, text=True,
                              timeout=30)
        if proc.returncode != 0:
            raise RuntimeError("in %s: %s: %s" % (ns, " ".join(argv), proc.stderr.strip()))
        return proc.stdout

    def wrapper(self, i):
        """The command prefix that runs a program as node i's host."""
        return [IP, "netns", "exec", self.node_ns[i]]

    def nodes_of(self, side):
        return [i for i, s in enumerate(self.side) if s == side]

    def cut(self):
        ip("-n", self.bridge_ns, "link", "set", "tA", "down")

    def restore(self):
        ip("-n", self.bridge_ns, "link", "set", "tA", "up")

    def leftovers(self):
        """What of this lab still exists: namespaces, processes inside them, interfaces."""
        found = []
        existing = set(namespaces())
        for ns in [self.bridge_ns] + self.node_ns:
            if ns in existing:
                found.append("namespace %s (pids %s)" % (ns, ns_pids(ns)))
        # Only names of ours count: another program may add interfaces meanwhile.
        ours = {"tA", "tB", "brA", "brB"} | {"p%d" % i for i in range(len(self.node_ns))}
        new = (set(root_links()) - set(self.root_links_before)) & ours
        if new:
            found.append("interfaces in the root namespace: %s" % sorted(new))
        return found

    def destroy(self):
        """Removes everything, in order: the veths and bridges (checked gone), then the
        namespaces. Processes must be stopped first; any still inside are killed by pid."""
        if self.destroyed:
            return
        self.destroyed = True
        _live.remove(self)
        problems = []
        for ns in reversed(self.created):
            for pid in ns_pids(ns):
                problems.append("process %d was still running in %s" % (pid, ns))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.bridge_ns in self.created:
            # Deleting one end of a veth deletes its peer (eth0 of a node, tB).
            for link in ["p%d" % i for i in range(len(self.node_ns))] + ["tA", "brA", "brB"]:
                ip("-n", self.bridge_ns, "link", "del", link, check=False)
        for ns in self.created:
            left = ip("-n", ns, "-o", "link", "show", check=False).stdout
            names = [line.split(":")[1].strip().split("@")[0] for line in left.splitlines()]
            if names != ["lo"]:
                problems.append("interfaces left in %s: %s" % (ns, names))
        for ns in reversed(self.created):
            ip("netns", "del", ns, check=False)
        self.created = []
        try:
            atexit.unregister(self.destroy)
        except Exception:
            pass
        self.problems = problems
