#!/usr/bin/env python3
"""Where a short burst's threads ran: p2p_one_hop under `perf sched record`, once per run.

    python3 bench/burst_placement.py [--runs 10] [--count 10000] [--build-dir build-release]

A burst of K = 10^4 broadcasts lasts about 10 ms. In that time four threads have work (the
sender's caller thread and io thread, the receiver's io thread, briefly the receiver's main
thread), and the machine has two CPUs, so the rate depends on which threads the kernel puts
on which CPU: two busy threads on one CPU take turns while the other CPU idles. For each run
this prints the rate, the burst's wall time, the CPU time the p2pmesh threads used in the
burst, and how much of it ran on the busier CPU; `packed` is that CPU's share over half of
the total (1.0 = evenly spread, 2.0 = everything on one CPU). The burst runs from the first
send (p2p_one_hop's start_monotonic_ns) for its `seconds`; perf's clock is CLOCK_MONOTONIC,
so the two compare. Needs perf (linux-perf) and root or perf_event_paranoid <= 0.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_once(binary, count, workdir):
    data = os.path.join(workdir, "sched.data")
    out = subprocess.run(["perf", "sched", "record", "-k", "CLOCK_MONOTONIC", "-o", data, "--",
                          binary, "--count", str(count), "--size", "64"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit("burst_placement: perf sched record failed: %s" % out.stderr.strip()[-300:])
    burst = json.loads(out.stdout.strip().splitlines()[-1])
    if not burst.get("ok") or "start_monotonic_ns" not in burst:
        sys.exit("burst_placement: p2p_one_hop did not report a finished burst: %s" % burst)
    hist = subprocess.run(["perf", "sched", "timehist", "-i", data],
                          capture_output=True, text=True, timeout=300).stdout
    start = burst["start_monotonic_ns"] / 1e9
    end = start + burst["seconds"]
    busy = collections.Counter()  # CPU -> seconds any task ran on it in the burst
    mesh = collections.Counter()  # CPU -> seconds p2pmesh threads ran on it in the burst
    for line in hist.splitlines():
        # "  time  [cpu]  task  wait  delay  run": one line per switch-out, ending at `time`.
        fields = line.split()
        if len(fields) < 6 or not fields[1].startswith("["):
            continue
        try:
            t, ran = float(fields[0]), float(fields[-1]) / 1e3
        except ValueError:
            continue
        overlap = min(t, end) - max(t - ran, start)
        if overlap <= 0:
            continue
        task = " ".join(fields[2:-3])
        if "<idle>" not in task:
            busy[fields[1]] += overlap
        if task.startswith(("p2p_one_hop", "p2p-io-")):
            mesh[fields[1]] += overlap
    total = sum(mesh.values())
    busiest = max(mesh.values(), default=0.0)
    return {"msgs_per_s": burst["msgs_per_s"], "wall_ms": burst["seconds"] * 1e3,
            "mesh_cpu_ms": total * 1e3, "busiest_cpu_ms": busiest * 1e3,
            "packed": busiest / (total / 2) if total else float("nan"),
            "cpu_busy_ms": {cpu: round(v * 1e3, 2) for cpu, v in sorted(busy.items())}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-release"))
    args = ap.parse_args()
    if args.runs < 1 or args.count < 1:
        ap.error("--runs and --count must be positive")
    binary = os.path.join(args.build_dir, "bench", "p2p_one_hop")
    if not os.access(binary, os.X_OK):
        sys.exit("burst_placement: %s is not built" % binary)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for i in range(args.runs):
            r = run_once(binary, args.count, workdir)
            rows.append(r)
            print("run %2d: %7.0f k msg/s, wall %5.2f ms, p2pmesh threads %5.2f ms of CPU, "
                  "%5.2f ms of it on the busier CPU (packed %.2f); CPUs busy %s" % (
                      i + 1, r["msgs_per_s"] / 1e3, r["wall_ms"], r["mesh_cpu_ms"],
                      r["busiest_cpu_ms"], r["packed"], r["cpu_busy_ms"]), flush=True)
    half = len(rows) // 2
    by_packing = sorted(rows, key=lambda r: r["packed"])
    for name, group in (("least packed half", by_packing[:half or 1]),
                        ("most packed half", by_packing[half:])):
        print("%s: median %.0f k msg/s, packed %.2f, p2pmesh CPU %.2f ms" % (
            name, statistics.median(r["msgs_per_s"] for r in group) / 1e3,
            statistics.median(r["packed"] for r in group),
            statistics.median(r["mesh_cpu_ms"] for r in group)))


if __name__ == "__main__":
    main()
