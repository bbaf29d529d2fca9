#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cpp) with clang and runs each one for SECONDS
# (default 30) on a copy of its seed corpus fuzz/corpus/<target>/. Fails on any crash, leak,
# sanitizer report or timeout; the reproducer is kept in <build>/fuzz-artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS]        P2P_FUZZ_BUILD_DIR=build-fuzz (default) to choose the dir
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
build=${P2P_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${P2P_JOBS:-$(nproc)}

cmake -S . -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DP2P_BUILD_FUZZ=ON -DP2P_BUILD_TESTS=OFF -DP2P_BUILD_BENCH=OFF -DP2P_WERROR=ON \
  -DP2P_SANITIZE=address,undefined >/dev/null

targets=()
for source in fuzz/*_fuzz.cpp; do
  targets+=("$(basename "$source" .cpp)")
done
ninja -C "$build" -j "$jobs" "${targets[@]}"

failed=()
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/corpus" "$build/fuzz-artifacts/$target"
  if [ -d "fuzz/corpus/$target" ]; then cp -r "fuzz/corpus/$target/." "$work/corpus/"; fi
  echo "== $target: ${seconds}s"
  # -rss_limit_mb guards against a decoder that allocates what a hostile header announces;
  # -timeout catches quadratic inputs.
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target/" "$work/corpus" \
      >"$work/log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/log" || true
  else
    tail -n 60 "$work/log"
    failed+=("$target")
  fi
  rm -rf "$work"
  trap - EXIT
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a finding"
