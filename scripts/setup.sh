#!/usr/bin/env bash
# Installs what reel needs on a Debian machine and is safe to run again.
#  - Debian packages: build tools, Python venv support (for the third-party
#    reader checks). Later capabilities add theirs here (FFmpeg dev libraries,
#    clang, socat).
#  - A Python venv in .venv with the third-party MCAP readers the tests use
#    (scripts/requirements-interop.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found: install the Rust toolchain (rustup, Rust >= 1.95) and run this again"
  exit 1
fi

apt_packages=()
command -v cc >/dev/null 2>&1 || apt_packages+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || apt_packages+=(pkg-config)
command -v tar >/dev/null 2>&1 || apt_packages+=(tar)
if ! command -v python3 >/dev/null 2>&1; then
  apt_packages+=(python3 python3-venv python3-pip)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_packages+=(python3-venv python3-pip)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "installing Debian packages: ${apt_packages[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${apt_packages[@]}"
fi

requirements=scripts/requirements-interop.txt
stamp=.venv/.reel-requirements
if [ ! -x .venv/bin/python ] || ! cmp -s "$requirements" "$stamp"; then
  say "creating .venv with $(tr '\n' ' ' < "$requirements")"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
say "ready: $(cargo --version), $(.venv/bin/python --version)"
