#!/usr/bin/env bash
# Prints the directory cargo builds into here (CARGO_TARGET_DIR, a
# target-dir in cargo's config, or target/ in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
