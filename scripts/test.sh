#!/usr/bin/env bash
# The test command of the README (and of CI): set-up, then format, lints,
# docs and the whole test suite (unit, property, integration, third-party
# readers, doc tests). Prints how long each step took, the test counts and
# every skipped part, pass or fail; exits with the suite's status.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step_started=$SECONDS
step() {
  if [ -n "${step_name:-}" ]; then
    echo "== [${SECONDS}s] $step_name took $((SECONDS - step_started)) s"
  fi
  step_name="$*"
  step_started=$SECONDS
  [ -z "$step_name" ] || echo "== [${SECONDS}s] $step_name"
}
step "set-up (scripts/setup.sh)"
scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One build per run: incremental caches would only take disk (a CI run once
# ran out of it) and time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "== disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free here; build in $(scripts/target-dir.sh)"
step "cargo fmt --check"
cargo fmt --all -- --check
# Clippy lints the workspace while it is built for the tests (clippy-driver
# is a rustc with lints, as `cargo clippy` uses it): `cargo clippy` would
# first type-check the whole dependency tree on its own, about a third of
# CI's time on 2 cores.
step "cargo build of every target (lib, bins, tests, benches), linted by clippy"
clippy_driver="$(command -v clippy-driver || true)"
if [ -z "$clippy_driver" ]; then
  echo "clippy-driver not found: run 'rustup component add clippy'" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo test --workspace --all-targets --no-run --quiet
# Rustdoc's own lints (broken or private links) on the library crates; the
# viewer and the binary would need rerun's whole tree type-checked again
# just for them (their missing docs are still caught by the build above).
step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet \
  -p reel-episode -p reel-media -p reel-dataset -p reel-quality \
  -p reel-capture -p reel-sim -p reel-calib
step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
skipped="$(scripts/target-dir.sh)/tmp/reel-skipped.txt"
rm -f "$skipped"
# --no-fail-fast: every test binary runs, so one failure does not hide others.
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
step ""
# One closing line over every test binary (the last binary cargo runs is
# often a crate with no doc tests, whose own summary says "0 passed").
skips=0
[ -s "$skipped" ] && skips=$(sort -u "$skipped" | wc -l)
awk -v skips="$skips" '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d ignored; %d parts skipped at run time\n", p, f, i, skips }' "$log"
grep -E '^test .* FAILED$|^error: test failed' "$log" | sed 's/^/  /' || true
# Parts of tests that could not run here, and why (cargo hides the output
# of passing tests, so they are collected in a file).
if [ "$skips" -gt 0 ]; then
  echo "skipped parts ($skips):"
  sort -u "$skipped" | sed 's/^/  /'
fi
echo "== [${SECONDS}s] done in $((SECONDS - started)) s, test status $status"
exit "$status"
