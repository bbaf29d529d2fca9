#!/usr/bin/env python3
"""The 16-process flood of bench/run.py with a chosen quiet time before each broadcast.

    P2PMESH_BIN=build-release/tools/p2pmesh/p2pmesh \\
        python3 bench/flood16_gap.py [--topology mesh] [--floods 10] [--gap 0.25]

The same nodes, links and measurement as workload (c) (bench/workloads.py flood16): node 0
broadcasts, and the time to last is the last node's first delivery - the send. bench/run.py
lets the network go quiet for at least 0.2 s after each flood (it waits for the copy count
to settle), so every flood there starts with all 16 processes asleep. Here `--gap` sets that
quiet time (0: the next flood follows at once), to show what waking the processes costs.
Prints the median time to last and each node's median arrival with its hop distance.
"""

import argparse
import collections
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workloads as w  # noqa: E402


def hop_distances(dials):
    links = collections.defaultdict(set)
    for i, j in dials:
        links[i].add(j)
        links[j].add(i)
    dist, queue = {0: 0}, [0]
    for u in queue:
        for v in sorted(links[u]):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--topology", choices=("tree", "mesh"), default="mesh")
    ap.add_argument("--floods", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--gap", type=float, default=0.25, help="seconds of quiet before a flood")
    args = ap.parse_args()
    if args.floods < 1 or args.warmup < 0 or not 0 <= args.gap <= 10:
        ap.error("--floods must be positive, --warmup not negative, --gap within 0-10 s")
    dials = w.flood16_topology(args.topology)
    dist = hop_distances(dials)
    lasts, arrivals = [], collections.defaultdict(list)
    with w.Mesh() as mesh:
        nodes, _ = w.flood16_nodes(mesh, "cpp", dials)
        for f in range(args.warmup + args.floods):
            # As in bench/run.py: the quiet time, then the flood (every node reset, the send).
            time.sleep(args.gap)
            t0, reached = w.flood_once(nodes, f)
            missing = sorted(set(range(1, len(nodes))) - set(reached))
            if missing:
                sys.exit("flood16_gap: nodes %s got nothing within 10 s" % missing)
            got = {k: (first_ns - t0) / 1e3 for k, first_ns in reached.items()}
            if f >= args.warmup:
                lasts.append(max(got.values()))
                for k, us in got.items():
                    arrivals[k].append(us)
    print("%s, gap %.2f s: time to last %.3f ms median of %d floods (%.3f-%.3f)" % (
        args.topology, args.gap, statistics.median(lasts) / 1e3, len(lasts), min(lasts) / 1e3,
        max(lasts) / 1e3))
    for k in sorted(arrivals, key=lambda k: statistics.median(arrivals[k])):
        print("  node %2d, %d hop(s) from node 0: %5.0f us" % (
            k, dist[k], statistics.median(arrivals[k])))


if __name__ == "__main__":
    main()
