#!/usr/bin/env bash
# Runs one GoogleTest binary's filtered tests again and again under CPU load, to bring out a
# rare race or hang that a quiet machine hides. Each run has a time limit; a run that passes
# it is taken for a hang: every thread's stack is written out with gdb, the process is
# killed, and the script stops with status 1. A failing run is kept, reported and counted.
#
#   scripts/stress-test.sh BINARY FILTER [RUNS] [LIMIT_SECONDS] [HOGS]
#   scripts/stress-test.sh build/tests/api/api_tests 'Mesh/Hammer.*' 300 60 3
#
# RUNS defaults to 100, LIMIT_SECONDS to 60, HOGS (busy loops beside the test) to the
# number of CPUs. Output goes to a new directory under /tmp, printed at the start.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
bin=$1
filter=$2
runs=${3:-100}
limit=${4:-60}
hogs=${5:-$(nproc)}
[[ -x $bin ]] || { echo "stress-test: $bin is not an executable" >&2; exit 2; }
for n in "$runs" "$limit" "$hogs"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "stress-test: '$n' is not a count" >&2; exit 2; }
done
(( runs >= 1 && limit >= 1 )) || { echo "stress-test: RUNS and LIMIT_SECONDS must be at least 1" >&2; exit 2; }

out=$(mktemp -d /tmp/stress-test.XXXXXX)
echo "stress-test: $runs runs of $filter, ${limit}s each, $hogs busy loops; output in $out"

hog_pids=()
test_pid=
cleanup() {
  # The test runs in its own session: the whole group goes, with any child it started.
  [[ -n $test_pid ]] && kill -9 -- "-$test_pid" 2>/dev/null || true
  for p in "${hog_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
for ((i = 0; i < hogs; ++i)); do
  # Ends on its own if this script is killed without running its trap.
  timeout $((runs * (limit + 5))) bash -c 'while :; do :; done' &
  hog_pids+=($!)
done

failed=0
for ((run = 1; run <= runs; ++run)); do
  log="$out/run-$run.log"
  setsid "$bin" --gtest_filter="$filter" >"$log" 2>&1 &
  test_pid=$!
  deadline=$((SECONDS + limit))
  while kill -0 "$test_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$test_pid" 2>/dev/null; then
    echo "stress-test: run $run still running after ${limit}s: stacks in $out/stacks-$run.txt"
    gdb -p "$test_pid" -batch -ex 'thread apply all bt' >"$out/stacks-$run.txt" 2>&1 || true
    exit 1
  fi
  status=0
  wait "$test_pid" || status=$?
  test_pid=
  if ((status != 0)); then
    failed=$((failed + 1))
    echo "stress-test: run $run failed (status $status): $log"
  else
    rm -f "$log"
  fi
done
echo "stress-test: $runs runs, $failed failed"
rmdir "$out" 2>/dev/null || true  # kept only when it holds a failed run's log
((failed == 0))
