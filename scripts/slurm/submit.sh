#!/usr/bin/env bash
# Scores a cohort on a Slurm cluster: an array of SHARDS tasks (scripts/slurm/shard.sbatch), then
# the merge and report (scripts/slurm/merge.sbatch) once all of them succeeded (afterok).
#
#   scripts/slurm/submit.sh STUDIES OUT [SHARDS] [extra sbatch options...]
#
# STUDIES and OUT must be on a file system every node sees. DXKIT (default: dxkit on PATH) and
# DXKIT_MODELS are passed on to the jobs. Prints the two job ids ("ARRAY MERGE").
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
STUDIES=$(realpath "$1"); OUT=$(realpath -m "$2"); SHARDS=${3:-4}; shift $(( $# >= 3 ? 3 : 2 ))
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/shards" "$OUT/logs"
export STUDIES OUT SHARDS DXKIT="${DXKIT:-dxkit}"
array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --output="$OUT/logs/shard-%A_%a.out" --export=ALL "$@" "$HERE/shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="$OUT/logs/merge-%j.out" --export=ALL "$@" "$HERE/merge.sbatch")
echo "$array ${merge%%;*}"
