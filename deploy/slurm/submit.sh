#!/usr/bin/env bash
# Submits a sharded export: the array job (one task per shard) and the
# merge, which runs only once every task has succeeded.
#   EPISODES=... OUT=... SHARDS=N [FPS=30] [REPO_ID=...] deploy/slurm/submit.sh [sbatch options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${EPISODES:?}" "${OUT:?}" "${SHARDS:?}"
array=$(sbatch --parsable --export=ALL --array="0-$((SHARDS - 1))" "$@" "$here/export.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" "$here/merge.sbatch")
echo "submitted: export array job $array ($SHARDS shards), merge job $merge (after it succeeds)"
