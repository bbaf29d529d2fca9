#!/usr/bin/env bash
# Regenerates the golden vectors tests/golden/vectors/{py2p,js2p}.json with the real
# reference implementations (see tests/golden/README.md). Installs them first.
# Time, ids and js2p's clock are fixed, so a second run gives identical files: `git diff`
# after running this shows only real changes in what the references write.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
golden="$root/tests/golden"

# Whether or not an earlier run applied py2p's framing fix does not matter here: it changes
# only how py2p splits a stream, not how it builds a frame.
"$root/scripts/install-references.sh"

mkdir -p "$golden/vectors"
PYTHONPATH="$root/tests/interop/py2p_shim:$root/tests/interop/.py2p:$golden" \
  /usr/bin/python3 "$golden/gen_py2p.py" "$golden/vectors/py2p.json"
# js2p warns on stderr that it found no snappy module and about Buffer sizes; expected.
node "$golden/gen_js2p.js" "$golden/vectors/js2p.json" 2> >(grep -v -e "snappy" -e "maximum protocol length" >&2)

du -b "$golden/vectors/"*.json
