#!/usr/bin/env bash
# Optional, heavy (torch): what the export benchmark's LeRobot column and the
# full LeRobot load check need. A venv in .venv-lerobot with lerobot 0.4.4
# (the newest release for Python 3.11) and the `ffmpeg` CLI for the
# encode-only reference. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq ffmpeg
fi
if [ ! -x .venv-lerobot/bin/python ]; then
  python3 -m venv .venv-lerobot
  .venv-lerobot/bin/python -m pip install -q --disable-pip-version-check "lerobot==0.4.4"
fi
echo "setup-lerobot: ready: $(.venv-lerobot/bin/python -c 'import lerobot; print("lerobot", lerobot.__version__)'), $(ffmpeg -version | head -1)"
