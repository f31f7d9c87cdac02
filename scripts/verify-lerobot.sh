#!/usr/bin/env bash
# The full LeRobot check, in one command anyone can run:
#  1. a venv with the pinned lerobot (scripts/setup-lerobot.sh: lerobot 0.4.4,
#     the newest for Python 3.11);
#  2. the README's main job on the samples (scripts/run-samples.sh), which
#     exports the recorded and synthetic episodes to out/samples/lerobot,
#     splits it into out/samples/lerobot-split, and exports them again as
#     two shards merged into out/samples/lerobot-merged;
#  3. each dataset loaded offline by `lerobot` itself (LeRobotDataset),
#     every frame read with both video backends (pyav and lerobot's
#     default), next to the light check (pyarrow + PyAV);
#  4. the loading rules of lerobot v0.6.1 applied to the same files
#     (scripts/check_lerobot_v06.py: v0.6 needs Python 3.12).
# Its output is kept in benches/results/verify-lerobot.txt with the commit,
# date and machine. Exits non-zero when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benches/results
log=benches/results/verify-lerobot.txt
scripts/results-header.sh scripts/verify-lerobot.sh > "$log"
exec > >(tee -a "$log") 2>&1

scripts/setup-lerobot.sh
py=.venv-lerobot/bin/python
if [ "${REEL_VERIFY_REUSE:-0}" = 1 ] && [ -d out/samples/lerobot ]; then
  echo "== reusing out/samples (REEL_VERIFY_REUSE=1)"
else
  echo "== the main job on the samples (scripts/run-samples.sh)"
  scripts/run-samples.sh > out-run-samples.log 2>&1 || { tail -20 out-run-samples.log; exit 1; }
  rm -f out-run-samples.log
fi
# Offline: lerobot must read the local folder, never the Hub.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
for ds in out/samples/lerobot out/samples/lerobot-split out/samples/lerobot-split/*/ out/samples/lerobot-merged; do
  ds=${ds%/}
  [ -f "$ds/meta/info.json" ] || continue
  echo "== $ds"
  "$py" scripts/check_lerobot.py "$ds" --lerobot
  "$py" scripts/check_lerobot_v06.py "$ds"
done
echo "verify-lerobot: every check passed"
