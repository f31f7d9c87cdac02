#!/usr/bin/env bash
# Runs reel's benchmarks and keeps each one's output under benches/results/,
# headed by the commit, the date and the machine, so every figure the README
# quotes comes from a file a command wrote. Each benchmark exits non-zero
# when it misses a target; this script then does too (after running the rest).
#
#   scripts/bench.sh                 every benchmark
#   scripts/bench.sh writer sim_speed   some of them
#
# The export benchmark needs lerobot and ffmpeg (scripts/setup-lerobot.sh);
# without them its comparison targets count as missed.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p benches/results

declare -A command=(
  [writer]="cargo bench -q -p reel-episode --bench writer"
  [record_bimanual]="cargo bench -q --bench record_bimanual"
  [export_lerobot]="cargo bench -q --bench export_lerobot"
  [view_rrd]="cargo bench -q --bench view_rrd"
  [sim_speed]="cargo bench -q -p reel-sim --bench sim_speed"
  [check_dataset]="cargo bench -q --bench check_dataset"
  [time_offset]="cargo bench -q --bench time_offset"
  [scale_out]="cargo bench -q --bench scale_out"
  [import_rosbag2]="cargo bench -q --bench import_rosbag2"
)
order=(writer record_bimanual export_lerobot view_rrd sim_speed check_dataset time_offset scale_out import_rosbag2)
[ $# -gt 0 ] && order=("$@")

failed=()
for name in "${order[@]}"; do
  cmd=${command[$name]:-}
  if [ -z "$cmd" ]; then
    echo "bench.sh: no benchmark named $name (have: ${order[*]})" >&2
    exit 2
  fi
  out=benches/results/$name.txt
  {
    scripts/results-header.sh "$cmd"
    for v in REEL_BENCH_SECONDS REEL_BENCH_EPISODES REEL_BENCH_LONG_MINUTES; do
      [ -n "${!v:-}" ] && echo "# $v=${!v}"
    done
  } > "$out"
  echo "== $name"
  start=$(date +%s)
  $cmd 2>&1 | grep -v -E '^\s*(Compiling|Finished|Running|Downloaded|Downloading)' | tee -a "$out"
  status=${PIPESTATUS[0]}
  echo "# exit $status after $(( $(date +%s) - start )) s" >> "$out"
  [ "$status" -eq 0 ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench.sh: missed targets or failed: ${failed[*]} (see benches/results/)" >&2
  exit 1
fi
echo "bench.sh: every target met; outputs in benches/results/"
