#!/usr/bin/env bash
# Quick start: installs what is needed, builds p2pmesh, and runs the local 16-node demo.
# Extra arguments go to `p2pmesh demo` (see `p2pmesh demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build p2pmesh_cli >/dev/null
exec build/tools/p2pmesh/p2pmesh demo "$@"
