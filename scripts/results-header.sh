#!/usr/bin/env bash
# The header of a file under benches/results/: what ran, the commit (marked
# when the tree has uncommitted changes), the date and the machine.
#   scripts/results-header.sh "COMMAND"
set -uo pipefail
cd "$(dirname "$0")/.."
dirty=""
git diff --quiet HEAD -- . ':!benches/results' 2>/dev/null || dirty=" (with uncommitted changes)"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
echo "# $1"
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty"
echo "# date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine $(nproc) cores ($cpu), $mem, $(uname -sr)"
