#!/usr/bin/env bash
# Installs, idempotently, every Debian package p2pmesh needs to build and test.
# Runs `apt-get update` only when a package is missing, so a ready machine costs ~1 s.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev clang-format
  libasio-dev libssl-dev libmsgpack-cxx-dev zlib1g-dev libsnappy-dev libbz2-dev liblzma-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev libzmq3-dev
  cppzmq-dev nlohmann-json3-dev python3-pytest
  python3 python3-msgpack python3-pyee python3-base58 python3-cryptography
  python3-snappy iproute2 graphviz
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for fully installed packages.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js may come from a package that bundles npm; only ask apt when the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
