#!/usr/bin/env bash
# Installs the reference implementations p2pmesh is checked against, idempotently:
#   * js2p 0.7.870 with its locked dependencies into tests/interop/node_modules (npm ci),
#     re-installed only when missing or when package-lock.json changed since the last install;
#   * py2p 0.7.870, unpacked from the tarball js2p ships in dist/, into tests/interop/.py2p/
#     so that `import py2p` works with
#     PYTHONPATH=tests/interop/py2p_shim:tests/interop/.py2p (the shim adapts it to Debian's
#     Python packages, see tests/interop/py2p_shim/README.md).
#
# Options:
#   --fix-py2p-framing  apply the one-character fix of py2p's framing bug (docs: protocol.md,
#                       bug 1: `len(self.buffer) > 4` -> `>= 4` in base.py found_terminator)
#                       to the unpacked copy. Tests that pipeline traffic into py2p need it.
#   --pristine-py2p     undo that fix (re-unpack the tarball).
# Without either option an existing copy is left as it is, fixed or not.
set -euo pipefail

fix_framing=0
pristine=0
for arg in "$@"; do
  case "$arg" in
    --fix-py2p-framing) fix_framing=1 ;;
    --pristine-py2p) pristine=1 ;;
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-references: unknown option $arg" >&2
      exit 2
      ;;
  esac
done
if ((fix_framing && pristine)); then
  echo "install-references: --fix-py2p-framing and --pristine-py2p exclude each other" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
interop="$root/tests/interop"
py2p_version=0.7.870

# ---- js2p (npm) ------------------------------------------------------------------------------
# npm ci always deletes and rebuilds node_modules, so run it only when the stamp (the sha256
# of the lock file it was installed from) is missing or differs.
lock_sha="$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)"
stamp="$interop/node_modules/.p2pmesh-installed-from"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sha" && -f "$interop/node_modules/js2p/package.json" ]]; then
  echo "install-references: js2p: up to date in tests/interop/node_modules"
else
  echo "install-references: js2p: npm ci in tests/interop"
  (cd "$interop" && npm ci --no-audit --no-fund)
  echo "$lock_sha" >"$stamp"
fi
js2p_version="$(node -p "require('$interop/node_modules/js2p/package.json').version")"
if [[ "$js2p_version" != "$py2p_version" ]]; then
  echo "install-references: expected js2p $py2p_version, found $js2p_version" >&2
  exit 1
fi

# ---- py2p (tarball inside the js2p package) --------------------------------------------------
tarball="$interop/node_modules/js2p/dist/py2p-$py2p_version.tar.gz"
dest="$interop/.py2p"
unpacked="$dest/py2p-$py2p_version"
base_py="$unpacked/py_src/base.py"
tar_sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
py_stamp="$dest/.installed-from"

unpack_py2p() {
  rm -rf "$unpacked" "$dest/py2p"
  mkdir -p "$dest"
  tar --no-same-owner -xzf "$tarball" -C "$dest"
  # The tarball keeps the package in py_src/; Python imports it by the name `py2p`.
  ln -s "py2p-$py2p_version/py_src" "$dest/py2p"
  echo "$tar_sha" >"$py_stamp"
}

if ((pristine)) || [[ ! -f "$py_stamp" || "$(cat "$py_stamp")" != "$tar_sha" || ! -f "$base_py" || ! -L "$dest/py2p" ]]; then
  unpack_py2p
  echo "install-references: py2p: unpacked $py2p_version into tests/interop/.py2p (pristine)"
else
  echo "install-references: py2p: up to date in tests/interop/.py2p"
fi

buggy='self.active = len(self.buffer) > 4'
fixed='self.active = len(self.buffer) >= 4'
if ((fix_framing)); then
  if grep -qF "$fixed" "$base_py"; then
    echo "install-references: py2p framing fix: already applied to tests/interop/.py2p"
  elif [[ "$(grep -cF "$buggy" "$base_py")" == 1 ]]; then
    sed -i "s/len(self\.buffer) > 4/len(self.buffer) >= 4/" "$base_py"
    echo "install-references: py2p framing fix: APPLIED to tests/interop/.py2p (base.py found_terminator: > 4 -> >= 4)"
  else
    echo "install-references: py2p framing fix: the expected line is not in $base_py" >&2
    exit 1
  fi
elif grep -qF "$fixed" "$base_py"; then
  echo "install-references: py2p framing fix: present from an earlier run (use --pristine-py2p to undo)"
else
  echo "install-references: py2p framing fix: not applied (py2p is pristine)"
fi

# ---- smoke test ------------------------------------------------------------------------------
PYTHONPATH="$interop/py2p_shim:$dest" /usr/bin/python3 -c 'import py2p; from py2p import mesh' ||
  {
    echo "install-references: py2p does not import under /usr/bin/python3 with the shim" >&2
    exit 1
  }
echo "install-references: ok (js2p $js2p_version, py2p $py2p_version)"
