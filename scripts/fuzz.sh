#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) and runs each of them. Fails on any
# finding (crash, failed invariant, leak, sanitizer report, timeout, out-of-memory); the
# reproducer is kept in <build>/fuzz-artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    short run: each target SECONDS (default 20) on a
#                                            throw-away copy of its seeds fuzz/corpus/<target>/
#   scripts/fuzz.sh --runs N [TARGET...]     long run: each target for N executions, on the
#                                            kept working corpus fuzz/corpus-work/<target>/
#                                            (gitignored, seeded from fuzz/corpus/<target>/)
#
#   scripts/fuzz.sh --replay [TARGET...]     runs every input of the working corpus
#                                            fuzz/corpus-work/<target>/ once, no mutation
#
# TARGETs default to every target (<build>/fuzz/targets.txt). P2P_FUZZ_BUILD_DIR picks the
# build directory (default build-fuzz), P2P_FUZZ_SANITIZE the sanitizers beside libFuzzer
# (default address,undefined; "undefined" alone runs several times faster, see
# docs/testing.md), P2P_JOBS the build parallelism, P2P_FUZZ_PROCS the fuzzing processes per
# target of a long run (default 1; N processes share the working corpus and each makes 1/N of
# the executions). Targets run one at a time; each prints its executions, exec/s, wall time,
# coverage and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=seconds
amount=20
if [[ ${1:-} == --runs ]]; then
  mode=runs
  amount=${2:?--runs needs a number}
  shift 2
elif [[ ${1:-} == --replay ]]; then
  mode=replay
  amount=once
  shift
elif [[ ${1:-} =~ ^[0-9]+$ ]]; then
  amount=$1
  shift
fi
build=${P2P_FUZZ_BUILD_DIR:-build-fuzz}
sanitize=${P2P_FUZZ_SANITIZE:-address,undefined}
jobs=${P2P_JOBS:-$(nproc)}
procs=1
if [[ $mode == runs ]]; then procs=${P2P_FUZZ_PROCS:-1}; fi

cmake -S . -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DP2P_BUILD_FUZZ=ON -DP2P_BUILD_TESTS=OFF -DP2P_BUILD_BENCH=OFF -DP2P_WERROR=ON \
  -DP2P_SANITIZE="$sanitize" -DP2P_FUZZ_SANITIZE="$sanitize" >/dev/null

if (($#)); then
  targets=("$@")
else
  mapfile -t targets <"$build/fuzz/targets.txt"
fi
ninja -C "$build" -j "$jobs" "${targets[@]}"

failed=()
corpus=
cleanup() { if [[ $mode == seconds && -n $corpus ]]; then rm -rf "$corpus"; fi; }
trap cleanup EXIT
for target in "${targets[@]}"; do
  artifacts="$build/fuzz-artifacts/$target"
  mkdir -p "$artifacts" "$build/fuzz-logs"
  log="$build/fuzz-logs/$target.log"
  if [[ $mode == runs ]]; then
    corpus="fuzz/corpus-work/$target"
    limit=(-runs="$amount")
  elif [[ $mode == replay ]]; then
    corpus="fuzz/corpus-work/$target"
    # -runs=0: libFuzzer executes every input of the corpus while loading it, then stops.
    limit=(-runs=0)
  else
    corpus=$(mktemp -d)
    limit=(-max_total_time="$amount")
  fi
  if [[ $mode == replay && ! -d $corpus ]]; then
    echo "fuzz: no working corpus $corpus to replay (make one with --runs)" >&2
    failed+=("$target")
    continue
  fi
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$target" ]; then cp -r "fuzz/corpus/$target/." "$corpus/"; fi
  echo "== $target: ${amount} ${mode}"
  start=$(date +%s)
  # -max_len: 4 KiB reaches every limit of the targets (their bounds are small on purpose)
  # and keeps executions fast. -rss_limit_mb guards against a decoder that allocates what a
  # hostile header announces; -timeout catches quadratic inputs.
  # quarantine_size_mb: ASan's default 256 MiB quarantine hands every allocation fresh pages,
  # which makes the codec targets (each run allocates a codec state) 5x slower; 8 MiB still
  # holds far more than one execution frees, so a use-after-free within a run is caught.
  run_fuzzer() {
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=8 \
      UBSAN_OPTIONS=print_stacktrace=1 \
      "$build/fuzz/$target" "$@" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"
  }
  status=0
  if ((procs == 1)); then
    logs=("$log")
    run_fuzzer "${limit[@]}" >"$log" 2>&1 || status=$?
  else
    # Independent processes on one corpus directory: each picks up what the others add
    # (libFuzzer's -reload), and the executions add up.
    logs=()
    pids=()
    for ((i = 0; i < procs; i++)); do
      logs+=("$build/fuzz-logs/$target.$i.log")
      run_fuzzer -runs=$((amount / procs)) -seed=$((i + 1)) >"${logs[i]}" 2>&1 &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  fi
  wall=$(($(date +%s) - start))
  cleanup
  if ((status != 0)); then
    for l in "${logs[@]}"; do tail -n 60 "$l"; done
    failed+=("$target")
    continue
  fi
  execs=0
  rss=0
  for l in "${logs[@]}"; do
    execs=$((execs + $(sed -n 's/^stat::number_of_executed_units: *//p' "$l")))
    r=$(sed -n 's/^stat::peak_rss_mb: *//p' "$l")
    ((r > rss)) && rss=$r
  done
  rate=$((execs / (wall > 0 ? wall : 1)))
  final=$(grep -hE '^#[0-9]+' "${logs[@]}" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
  if ((procs > 1)); then final="$final ($procs processes; corpus now $(ls "$corpus" | wc -l) inputs)"; fi
  echo "   $execs executions, $rate exec/s, ${wall} s wall, peak RSS ${rss} MB, $final, 0 findings"
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $build/fuzz-artifacts/, logs in $build/fuzz-logs/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${amount} ${mode} each, without a finding"
