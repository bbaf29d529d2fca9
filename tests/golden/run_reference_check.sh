#!/usr/bin/env bash
# CTest driver of the reverse golden check: runs check_<impl> on the frames golden_emit_frames
# wrote. Exits 77 (CTest: SKIPPED) when the reference is not installed, so a machine without
# `scripts/install-references.sh` (no npm registry) still passes the rest of the suite.
# Usage: run_reference_check.sh py2p|js2p FRAMES.json
set -euo pipefail

impl="$1"
frames="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
interop="$root/tests/interop"

skip() {
  echo "SKIPPED: $impl is not installed in tests/interop ($1); run scripts/install-references.sh"
  exit 77
}

case "$impl" in
  py2p)
    [[ -f "$interop/.py2p/py2p/messages.py" ]] || skip "no tests/interop/.py2p/py2p"
    PYTHONPATH="$interop/py2p_shim:$interop/.py2p:$here" exec /usr/bin/python3 "$here/check_py2p.py" "$frames"
    ;;
  js2p)
    [[ -f "$interop/node_modules/js2p/js_src/base.js" ]] || skip "no tests/interop/node_modules/js2p"
    command -v node >/dev/null || skip "no node on PATH"
    # js2p warns on stderr that it has no snappy module; that is the expected setup.
    exec node "$here/check_js2p.js" "$frames" 2> >(grep -v -e "snappy" -e "maximum protocol length" >&2)
    ;;
  *)
    echo "usage: $0 py2p|js2p FRAMES.json" >&2
    exit 2
    ;;
esac
