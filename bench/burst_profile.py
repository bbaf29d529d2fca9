#!/usr/bin/env python3
"""What each thread of a one-hop burst spends its time on: p2p_one_hop under `perf record`.

    python3 bench/burst_profile.py [--runs 30] [--count 10000] [--size 64]
                                   [--binary build-fp/bench/p2p_one_hop] [--top 15]
                                   [--callers SYMBOL [--depth 6]]

A whole-process profile of a short burst is mostly start-up (the dynamic loader, the
connection). This one keeps only the samples taken during each run's burst: from the first
send (p2p_one_hop's start_monotonic_ns) for its `seconds`, on CLOCK_MONOTONIC, which perf
is told to use. Samples are split by role: the sender's calling thread (`snd-main`), its io
thread (`snd-io`) and the receiver's io thread (`rcv-io`); the sender is the parent
process, so its pid is the lower of the run's two. For each role it prints the CPU per
message the samples add up to and the functions the samples landed in (self time).
`--callers SYMBOL` prints instead, per role, the call chains under the samples whose leaf
or any frame matches SYMBOL (kernel frames included).

Use a build with frame pointers (the default binary is build-fp's: configure with
-DCMAKE_CXX_FLAGS=-fno-omit-frame-pointer) for call chains through p2pmesh; libc has none,
so chains stop there. On a VM, perf's attribution inside the guest kernel is approximate:
compare builds by alternating runs, not by profiles. Needs perf (linux-perf) and root or
perf_event_paranoid <= 0.
"""

import argparse
import bisect
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FREQ = 10000  # samples per second and thread


def record(args, workdir):
    data = os.path.join(workdir, "perf.data")
    runs = os.path.join(workdir, "runs.jsonl")
    loop = 'for i in $(seq %d); do "$0" --count %d --size %d; done > "%s"' % (
        args.runs, args.count, args.size, runs)
    out = subprocess.run(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-g", "-F", str(FREQ),
                          "-o", data, "--", "bash", "-c", loop, args.binary],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        sys.exit("burst_profile: perf record failed: %s" % out.stderr.strip()[-300:])
    windows = []
    with open(runs) as f:
        for line in f:
            burst = json.loads(line)
            if not burst.get("ok"):
                sys.exit("burst_profile: a run did not finish: %s" % line.strip())
            start = burst["start_monotonic_ns"] / 1e9
            windows.append((start, start + burst["seconds"]))
    script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,tid,time,ip,sym,dso"],
                            capture_output=True, text=True, timeout=3600).stdout
    return windows, script


def samples_in_bursts(windows, script):
    """(role, [frames, leaf first]) for every sample taken during a burst."""
    parsed = []
    for line in script.splitlines():
        if not line.strip():
            continue
        if not line.startswith("\t"):  # a sample's header; its frames follow, tab-indented
            m = re.match(r"\s*(\d+)/(\d+)\s+([\d.]+):", line)
            parsed.append([int(m.group(1)), int(m.group(2)), float(m.group(3)), []] if m else None)
        elif parsed and parsed[-1] is not None:
            parts = line.strip().split(None, 1)
            name = re.sub(r"\+0x[0-9a-f]+", "", parts[1] if len(parts) > 1 else "?")
            # "symbol (dso)": the dso only says something when the symbol is unknown
            sym, _, dso = name.rpartition(" (")
            if sym and not sym.startswith("[unknown]"):
                name = sym
            parsed[-1][3].append(name)
    starts = [w[0] for w in windows]
    burst_of = []
    pids = collections.defaultdict(set)
    for s in parsed:
        if s is None:
            continue
        i = bisect.bisect_right(starts, s[2]) - 1
        if i >= 0 and s[2] <= windows[i][1]:
            burst_of.append((i, s))
            pids[i].add(s[0])
    out = []
    for i, (pid, tid, _, frames) in burst_of:
        role = ("snd" if pid == min(pids[i]) else "rcv") + ("-main" if pid == tid else "-io")
        out.append((role, frames))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--binary", default=os.path.join(ROOT, "build-fp", "bench", "p2p_one_hop"))
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--callers", help="print the call chains of samples in this symbol")
    p.add_argument("--depth", type=int, default=6)
    args = p.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("burst_profile: no executable %s (build p2p_one_hop there)" % args.binary)
    with tempfile.TemporaryDirectory() as workdir:
        windows, script = record(args, workdir)
    samples = samples_in_bursts(windows, script)
    roles = collections.Counter(role for role, _ in samples)
    messages = args.runs * args.count
    print("%d runs of p2p_one_hop --count %d --size %d; samples in the bursts: %d"
          % (args.runs, args.count, args.size, len(samples)))
    for role in sorted(roles):
        print("\n== %s: %d samples, %.3f us of CPU per message"
              % (role, roles[role], roles[role] / FREQ / messages * 1e6))
        chains = collections.Counter()
        for r, frames in samples:
            if r != role or not frames:
                continue
            if args.callers:
                hit = next((k for k, f in enumerate(frames) if args.callers in f), None)
                if hit is not None:
                    chains[" < ".join(f[:70] for f in frames[hit:hit + args.depth])] += 1
            else:
                chains[frames[0][:110]] += 1
        for chain, n in chains.most_common(args.top):
            print("  %5.1f%%  %s" % (100.0 * n / roles[role], chain))


if __name__ == "__main__":
    main()
