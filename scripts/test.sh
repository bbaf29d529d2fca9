#!/usr/bin/env bash
# The whole test suite, as CI runs it (`make test` calls this; .ci/run calls `make test`).
#
#  1. install Debian packages and the reference peers (js2p@0.7.870 from npm, py2p from the
#     tarball inside it), idempotently;
#  2. check that every tracked C++ file is as clang-format (.clang-format) writes it, then
#     build with warnings as errors and run every test (unit, golden vectors, simulator,
#     runtime, examples, CLI, interop with real py2p/js2p nodes);
#  3. rebuild with AddressSanitizer + UndefinedBehaviorSanitizer and run the suite again;
#  4. rebuild with ThreadSanitizer and run the threaded runtime tests (label `runtime`);
#  5. a short libFuzzer run of every fuzz target;
#  6. the threaded hammer tests again and again beside busy loops (scripts/stress-test.sh),
#     where a rare race or hang shows.
# Set P2P_TEST_STAGES to a subset ("main asan tsan fuzz stress") to run fewer stages.
set -euo pipefail
cd "$(dirname "$0")/.."

stages=${P2P_TEST_STAGES:-"main asan tsan fuzz stress"}
jobs=${P2P_JOBS:-$(nproc)}
fuzz_seconds=${P2P_FUZZ_SECONDS:-20}
has_stage() { [[ " $stages " == *" $1 "* ]]; }
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
# ctest, with its closing "N tests failed out of M" kept for the final tally.
run_ctest() {
  ctest "$@" 2>&1 | tee -a "$summary"
  return "${PIPESTATUS[0]}"
}
section() { printf '\n==== %s ====\n' "$*"; }

section "setup"
bash scripts/setup.sh
bash scripts/install-references.sh --fix-py2p-framing

configure() {  # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DP2P_WERROR=ON "$@" >/dev/null
}
configure_and_build() {  # dir, extra cmake args...
  configure "$@"
  ninja -C "$1" -j "$jobs"
}

if has_stage main; then
  section "formatting (clang-format --dry-run; \`make format\` fixes it)"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    if ! git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format --dry-run --Werror; then
      echo "the lines above are not formatted as .clang-format says: run \`make format\`" >&2
      exit 1
    fi
    echo "every tracked .cpp and .hpp file is formatted"
  else
    echo "not a git checkout: formatting not checked"
  fi
  section "build (warnings are errors) and run every test"
  configure_and_build build
  run_ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900
fi

if has_stage asan; then
  section "AddressSanitizer + UndefinedBehaviorSanitizer"
  configure_and_build build-asan -DP2P_SANITIZE=address,undefined -DP2P_BUILD_BENCH=OFF
  # The interop matrix runs against the reference peers in the main stage; under ASan the
  # same p2pmesh code paths are covered by the runtime and CLI tests.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -LE 'interop|perf'
fi

if has_stage tsan; then
  section "ThreadSanitizer: the threaded runtime"
  configure build-tsan -DP2P_SANITIZE=thread -DP2P_BUILD_BENCH=OFF
  # Only what runs threads: the runtime, API, churn and hostile tests, the examples, the CLI.
  ninja -C build-tsan -j "$jobs" net_tests api_tests churn_tests hostile_tests example_tutorial example_tx_relay \
    example_events p2pmesh_cli
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_ctest --test-dir build-tsan --output-on-failure -j "$jobs" --timeout 900 -L runtime
fi

if has_stage fuzz; then
  section "libFuzzer, ${fuzz_seconds}s per target"
  bash scripts/fuzz.sh "$fuzz_seconds"
fi

if has_stage stress; then
  stress_runs=${P2P_STRESS_RUNS:-40}
  section "stress: the hammer tests, $stress_runs runs under CPU load"
  has_stage main || configure_and_build build
  bash scripts/stress-test.sh build/tests/api/api_tests 'Mesh/Hammer.*:Backpressure.*' \
    "$stress_runs" 120
fi

section "all stages passed: $stages"
# One closing line for CI: the tests of every ctest run above, added up.
awk '/tests failed out of/ { failed += $(NF-4); total += $NF }
     END { printf "%d passed, %d failed\n", total - failed, failed }' "$summary"
