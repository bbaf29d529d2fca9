#!/usr/bin/env python3
"""The benchmark suite of p2pmesh (issue 7): one command runs every workload for p2pmesh, the
reference implementations js2p and py2p (through the interop drivers) and the ceilings (raw
loopback TCP, ZeroMQ PUB/SUB), and writes docs/performance.md and docs/performance.svg.

    python3 bench/run.py                 # everything, 3 runs each (make bench)
    python3 bench/run.py --quick         # 1 run, smaller counts: checks the suite works
    python3 bench/run.py --only chain,rss

Every figure is the median of the runs, with the min-max spread. Every process started is
bounded in time and killed at the end (bench/procs.py). The references need
`bash scripts/install-references.sh --fix-py2p-framing`; without them their rows say why.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import procs  # noqa: E402
import report  # noqa: E402
import workloads as w  # noqa: E402

WORKLOADS = ("ceilings", "one_hop", "chain", "flood16", "flood_inproc", "rss", "cpu_relay",
             "sim")
TARGETS = ("p2pmesh_cli", "sim_flood", "p2p_bench_mesh", "tcp_pingpong", "tcp_flood",
           "zmq_pubsub", "p2p_one_hop", "rss_floor")


class Config:
    def __init__(self, args):
        self.quick = args.quick
        self.build_dir = os.path.abspath(args.build_dir)
        self.runs = args.runs or (1 if args.quick else 3)
        q = args.quick
        self.tcp_rounds = 20_000 if q else 100_000
        self.tcp_chain_messages = 300 if q else 2_000
        self.tcp_stream_bytes = (1 if q else 4) << 30
        self.zmq_count_64 = 500_000 if q else 2_000_000
        self.zmq_count_4k = 100_000 if q else 300_000
        # p2pmesh at K = 10^4 and 10^6 (the cost per message must not grow with K); the
        # references are O(K) per message, so only K = 5,000 and 10,000.
        self.native_counts = (10_000, 100_000) if q else (10_000, 1_000_000)
        self.native_timeout = 120 if q else 600
        self.driver_counts = (1_000, 2_000) if q else (5_000, 10_000)
        self.ref_timeout = 60 if q else 180  # one burst of a reference, then it is cut off
        self.chain_warmup, self.chain_messages = (5, 30) if q else (20, 100)
        self.flood_warmup, self.floods = (1, 3) if q else (3, 10)
        self.inproc_floods = 2 if q else 5
        self.rss_settle = 0.5 if q else 1.0
        self.conn_count = 1000
        self.relay_count_cpp = 20_000  # within the per-peer queue bound, see report.py (e)
        self.relay_count_ref = 500 if q else 3_000
        self.sim_args = (2000, 1, 5, 1) if q else (10000, 1, 20, 5)
        self.timed_out = {}  # (kind, key) -> why: a reference burst not to try again

    def binary(self, target, required=True):
        paths = {"p2pmesh_cli": "tools/p2pmesh/p2pmesh", "sim_flood": "bench/sim_flood",
                 "tcp_pingpong": "bench/ceilings/tcp_pingpong",
                 "tcp_flood": "bench/ceilings/tcp_flood",
                 "zmq_pubsub": "bench/ceilings/zmq_pubsub",
                 "rss_floor": "bench/ceilings/rss_floor"}
        path = os.path.join(self.build_dir, paths.get(target, "bench/" + target))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        if required:
            raise procs.BenchError("%s is not built (%s)" % (target, path))
        return None


def build(cfg):
    """Configures a Release build (warnings as errors) and builds the benchmark targets that
    exist in this tree."""
    cmake = ["cmake", "-S", ROOT, "-B", cfg.build_dir, "-G", "Ninja",
             "-DCMAKE_BUILD_TYPE=Release", "-DP2P_WERROR=ON", "-DP2P_BUILD_TESTS=OFF"]
    if shutil.which("ccache"):
        cmake.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    subprocess.run(cmake, check=True, stdout=subprocess.DEVNULL)
    listing = subprocess.run(["ninja", "-C", cfg.build_dir, "-t", "targets", "all"],
                             check=True, capture_output=True, text=True).stdout
    known = {line.split(":")[0] for line in listing.splitlines()}
    targets = [t for t in TARGETS if t in known]
    print("building (Release) in %s: %s" % (cfg.build_dir, " ".join(targets)), flush=True)
    subprocess.run(["nice", "-n", "10", "ninja", "-C", cfg.build_dir, "-j2"] + targets,
                   check=True)


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {"cpu": model, "cpus": os.cpu_count(), "mem_gib": mem_kib / 2**20,
            "kernel": platform.release(), "python": platform.python_version(),
            "node": _version(["node", "--version"]),
            "compiler": _version(["c++", "--version"]).splitlines()[0],
            "cpuidle": _cpuidle()}


def results_path(cfg):
    return os.path.join(cfg.build_dir, "bench-results.json")


def load_results(cfg):
    """The results file of the last run (results_path): info, results, and errors keyed
    (workload, impl) as main() keeps them."""
    with open(results_path(cfg)) as f:
        raw = json.load(f)
    errors = {tuple(k.split("/", 1)): v for k, v in raw["errors"].items()}
    return raw["info"], raw["results"], errors


def _cpuidle():
    """How an idle CPU sleeps (driver, and the guest halt-polling window of a VM): it decides
    what waking a sleeping process costs, which every latency figure includes."""
    def read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return None
    driver = read("/sys/devices/system/cpu/cpuidle/current_driver")
    poll = read("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    if driver and poll is not None:
        return "%s, guest_halt_poll_ns %s" % (driver, poll)
    return driver or "unknown"


def _version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def source_revision():
    """The commit the binaries were built from, and whether tracked files differed from it:
    figures are only comparable between runs of known code."""
    rev = _version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = _version(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return rev + (" with uncommitted changes" if dirty else "")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measurements(cfg, refs_ok):
    """(workload, impl key, function) for every measurement, in run order."""
    m = [("ceilings", "ceiling", lambda: w.ceilings(cfg)),
         ("one_hop", "p2pmesh", lambda: w.one_hop_native(cfg))]
    kinds = w.NODE_KINDS if refs_ok else ("cpp",)
    for kind in kinds:
        m.append(("one_hop", w.LABEL[kind] + " (driver)" if kind == "cpp" else w.LABEL[kind],
                  lambda kind=kind: _relabel(w.one_hop_driver(cfg, kind), kind)))
    for kind in kinds:
        m.append(("chain", w.LABEL[kind], lambda kind=kind: w.chain(cfg, kind)))
    for kind in kinds:
        for topo in ("tree", "mesh") if kind != "js2p" else ("tree",):
            m.append(("flood16", "%s %s" % (w.LABEL[kind], topo),
                      lambda kind=kind, topo=topo: _suffix(w.flood16(cfg, kind, topo), topo)))
    for nodes in (256, 1024):
        m.append(("flood_inproc", "p2pmesh %d" % nodes,
                  lambda nodes=nodes: _suffix(w.flood_inproc(cfg, nodes), str(nodes))))
    # The same 1,024 nodes with both cores running their io_context.
    m.append(("flood_inproc", "p2pmesh 1024 (2 threads)",
              lambda: _suffix(w.flood_inproc(cfg, 1024, threads=2), "1024 (2 threads)")))
    m.append(("rss", "floor", lambda: w.rss_floor(cfg)))
    m.append(("rss", "p2pmesh (library)", lambda: w.rss_library(cfg)))
    for kind in kinds:
        m.append(("rss", w.LABEL[kind], lambda kind=kind: w.rss_nodes(cfg, kind)))
    for kind in kinds:
        m.append(("cpu_relay", w.LABEL[kind], lambda kind=kind: w.cpu_relay(cfg, kind)))
    m.append(("sim", "p2pmesh (sim)", lambda: w.sim_flood(cfg)))
    return m


def _relabel(result, kind):
    """The CLI's one-hop row is "p2pmesh (driver)", beside the native p2p_one_hop row."""
    if kind != "cpp":
        return result
    return {"p2pmesh (driver)": result["p2pmesh"]}


def _suffix(result, suffix):
    return {"%s %s" % (k, suffix): v for k, v in result.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 run, smaller counts (development)")
    ap.add_argument("--only", default="", help="comma-separated workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=0, help="runs per workload (default 3, quick 1)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other workloads' results of the last run "
                         "(build-dir/bench-results.json) and replace only those measured now")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: rewrite the report from build-dir/bench-results.json")
    args = ap.parse_args()
    only = [x for x in args.only.split(",") if x]
    unknown = [x for x in only if x not in WORKLOADS]
    if unknown:
        ap.error("unknown workload(s) %s; choose from %s" % (unknown, ", ".join(WORKLOADS)))
    selected = only or list(WORKLOADS)
    cfg = Config(args)
    command = "python3 bench/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    if args.report_only:
        info, results, errors = load_results(cfg)
        report.write(args.out, info, results, errors, cfg)
        print("wrote %s from the results of %s" % (args.out, info["date"]))
        return 0

    if not args.no_build:
        build(cfg)
    os.environ["P2PMESH_BIN"] = cfg.binary("p2pmesh_cli")
    missing_refs = w.mesh_harness.references_installed()
    if not missing_refs and not w.mesh_harness.py2p_framing_fixed():
        missing_refs = "py2p without its framing fix (install-references.sh --fix-py2p-framing)"
    if missing_refs:
        print("references not measured: %s missing" % missing_refs, flush=True)

    started = datetime.datetime.now(datetime.timezone.utc)
    info = {"command": command, "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "source": source_revision(), "quick": cfg.quick, "runs": cfg.runs, "machine": machine(),
            "load_start": loadavg(), "missing_refs": missing_refs,
            "config": {k: v for k, v in vars(cfg).items() if k != "timed_out"}}
    results = {wl: [] for wl in selected}  # workload -> [run dict {impl: {metric: value}}]
    errors = {}  # (workload, impl) -> [messages]
    gave_up = set()  # (workload, impl) that timed out: later runs would only time out again
    plan = [m for m in measurements(cfg, not missing_refs) if m[0] in selected]
    t_start = time.monotonic()
    for wl in selected:
        for run in range(cfg.runs):
            merged = {}
            for workload, impl, fn in plan:
                if workload != wl:
                    continue
                if (wl, impl) in gave_up:
                    continue
                t0 = time.monotonic()
                print("[%5.0f s] %s / %s, run %d of %d ... " % (
                    t0 - t_start, wl, impl, run + 1, cfg.runs), end="", flush=True)
                try:
                    got = fn()
                    merged.update(got)
                    print("%.1f s %s" % (time.monotonic() - t0, json.dumps(got)[:300]),
                          flush=True)
                    for k, v in got.items():
                        for metric, text in v.items():
                            if metric.endswith("_error"):
                                errors.setdefault((wl, k), []).append(
                                    metric[:-len("_error")] + ": " + text)
                except (procs.BenchError, w.HarnessError, OSError, KeyError, ValueError) as e:
                    text = str(e).split("\n")[0][:400]
                    print("FAILED: %s" % text, flush=True)
                    if not isinstance(e, procs.BenchError):
                        traceback.print_exc(limit=3)
                    errors.setdefault((wl, impl), []).append(text)
                    if "not run" in text or "timed out" in text or "no answer" in text:
                        gave_up.add((wl, impl))
                finally:
                    procs.kill_all()
            results[wl].append(merged)
    info["load_end"] = loadavg()
    info["elapsed_s"] = time.monotonic() - t_start

    raw = results_path(cfg)
    if args.merge and os.path.exists(raw):
        old_info, old_results, old_errors = load_results(cfg)
        for wl, runs in old_results.items():
            results.setdefault(wl, runs)
        for (wl, impl), msgs in old_errors.items():
            if wl not in selected:
                errors.setdefault((wl, impl), msgs)
        # The header keeps the first run's date and load, and lists every rerun with its own:
        # figures measured at different times must say so.
        rerun = {"command": command, "date": info["date"], "source": info["source"],
                 "workloads": list(selected), "runs": info["runs"],
                 "load_start": info["load_start"], "load_end": info["load_end"],
                 "elapsed_s": info["elapsed_s"]}
        info["reruns"] = old_info.get("reruns", []) + [rerun]
        info["merged_from"] = old_info["date"]
        info["command"] = old_info["command"] + "; then " + command
        info["date"] = old_info["date"]
        info["source"] = old_info.get("source", "not recorded")
        info["runs"] = old_info["runs"]  # the header's count; each rerun states its own
        info["load_start"] = old_info["load_start"]
        info["load_end"] = old_info["load_end"]
        info["elapsed_s"] += old_info.get("elapsed_s", 0)
    with open(raw, "w") as f:
        json.dump({"info": info, "results": results,
                   "errors": {"%s/%s" % k: v for k, v in errors.items()}}, f, indent=1)
    report.write(args.out, info, results, errors, cfg)
    print("wrote %s (raw results: %s)" % (args.out, raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
