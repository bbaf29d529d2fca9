"""Bounded subprocesses for the benchmark runner: every process started here has a deadline,
runs in its own process group, and is killed (with its children) when the deadline passes or
the runner exits."""

import atexit
import json
import os
import signal
import subprocess
import time

_live = set()


class BenchError(RuntimeError):
    """A workload could not be measured; the message says why (shown in the report)."""


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    _live.discard(proc)


@atexit.register
def kill_all():
    for proc in list(_live):
        _kill_group(proc)


def _on_signal(signum, _frame):
    kill_all()
    raise SystemExit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def run_json(argv, timeout, cwd=None):
    """Runs argv to completion within `timeout` seconds; returns the JSON objects of its
    stdout lines (non-JSON lines are kept under "text"). Raises BenchError on timeout or a
    non-zero exit."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            start_new_session=True, text=True)
    _live.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise BenchError("%s: no result within %.0f s (killed)" % (os.path.basename(argv[0]),
                                                                    timeout))
    _live.discard(proc)
    if proc.returncode != 0:
        raise BenchError("%s exited %d: %s" % (" ".join(argv), proc.returncode,
                                                (err or out).strip()[-600:]))
    objs, text = [], []
    for line in out.splitlines():
        try:
            obj = json.loads(line)
            if isinstance(obj, dict):
                objs.append(obj)
                continue
        except ValueError:
            pass
        text.append(line)
    return objs, "\n".join(text)


class LineProcess:
    """A long-running process spoken to by lines on stdin/stdout (p2p_bench_mesh hub and
    clients). Closing stdin ends it; stop() kills it after a grace period."""

    def __init__(self, argv, lifetime):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     text=True, bufsize=1)
        _live.add(self.proc)
        self.deadline = time.monotonic() + lifetime

    @property
    def pid(self):
        return self.proc.pid

    def ask(self, line="?"):
        """One line out, one JSON line back (the process answers promptly or has died)."""
        if time.monotonic() > self.deadline:
            raise BenchError("%s outlived its deadline" % self.proc.args[0])
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise BenchError("%s died" % self.proc.args[0])
        return self.read()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("%s exited early (code %s)" % (self.proc.args[0], self.proc.poll()))
        return json.loads(line)

    def stop(self, grace=5.0):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(self.proc)


def rss_kib(pid, field="VmRSS"):
    """VmRSS of a process in KiB (from /proc/PID/status), or another of its memory fields:
    RssAnon is the process's own memory, RssFile the pages of mapped files (its shared
    libraries, which other processes share)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError("no %s for pid %d" % (field, pid))


def cpu_seconds(pid):
    """User + system CPU time of a process (from /proc/PID/stat), in seconds. The kernel
    counts it in clock ticks (10 ms here): see cpu_sample() for a finer clock."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_sample(pid):
    """A CPU-time reading of a process for cpu_used(): the nanoseconds each of its threads
    has run (/proc/PID/task/TID/schedstat), and its tick count as a fallback."""
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                threads[tid] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended while we read: the tick count still has it
    return threads, cpu_seconds(pid)


def cpu_used(before, after):
    """(CPU seconds, clock) between two cpu_sample()s: to the nanosecond from the threads'
    run times ("schedstat") when the same threads lived through both, else from the ticks
    ("ticks": a thread that ended in between takes its run time with it, the tick count
    keeps it)."""
    (threads0, ticks0), (threads1, ticks1) = before, after
    if threads0.keys() == threads1.keys():
        return sum(threads1[t] - threads0[t] for t in threads1) / 1e9, "schedstat"
    return ticks1 - ticks0, "ticks"


def poll(predicate, timeout, what, period=0.02):
    """Polls predicate() until it returns a true value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError("timed out (%.0f s) waiting for %s" % (timeout, what))
        time.sleep(period)
