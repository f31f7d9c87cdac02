#!/usr/bin/env bash
# The test command of the README (and of CI): set-up, then format, lints,
# docs and the whole test suite (unit, property, integration, third-party
# readers, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One build per run: incremental caches would only take disk (a CI run once
# ran out of it) and time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Each step prints when it starts (seconds since the start), so a slow
# run shows where its time went.
step() { echo "== [${SECONDS}s] $*"; }
echo "== disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free here"
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
skipped="target/tmp/reel-skipped.txt"
rm -f "$skipped"
# --no-fail-fast: every test binary runs, so one failure does not hide others.
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
# One closing line over every test binary (the last binary cargo runs is
# often a crate with no doc tests, whose own summary says "0 passed").
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
step "done"
# Parts of tests that could not run here, and why (cargo hides the output
# of passing tests, so they are collected in a file).
if [ -s "$skipped" ]; then
  echo "skipped parts ($(sort -u "$skipped" | wc -l)):"
  sort -u "$skipped" | sed 's/^/  /'
fi
