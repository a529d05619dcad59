#!/usr/bin/env bash
# The README's transfer-learning table: `dxkit train --cv patients` (leave one patient out) on the
# 16 labelled chest X-rays for each backbone x head type x unfrozen blocks, next to scikit-learn's
# numbers on the PyTorch/Keras embeddings (Tests/TrainingTests/Fixtures/training-reference.json,
# written by scripts/training_reference.py). Writes the table between the cv-table markers of
# README.md and the runs' cards under .cache/cv-table/. Needs `make setup` and a release build.
#
#   bash scripts/cv-table.sh [--dxkit .build/release/dxkit]
set -euo pipefail
cd "$(dirname "$0")/.."
DXKIT=.build/release/dxkit
[ "${1:-}" = "--dxkit" ] && DXKIT=$2
[ -x "$DXKIT" ] || { echo "cv-table: build dxkit first (swift build -c release)" >&2; exit 1; }
OUT=.cache/cv-table
rm -rf "$OUT"; mkdir -p "$OUT/models" "$OUT/cards"
for m in mobilenet-v2 efficientnet-lite0 xception-pneumonia; do ln -s "$PWD/models/$m" "$OUT/models/$m"; done

# Labels: the file name says the class; patients as the reference has them (NORMAL2-IM-1427-0001 ->
# IM-1427, person1946_bacteria_4874 -> person1946: two images of one child stay in one fold).
{
  echo "path,label,patient"
  for f in "$PWD"/studies/chest/*.dcm; do
    n=$(basename "$f" .dcm)
    case "$n" in
      NORMAL*) p=${n#NORMAL2-}; echo "$f,NORMAL,${p%-*}" ;;
      *) echo "$f,PNEUMONIA,${n%%_*}" ;;
    esac
  done
} > "$OUT/labels.csv"
"$DXKIT" ingest studies/chest --db "$OUT/cv.sqlite" > /dev/null

# The configurations. Frozen linear heads run to the penalised optimum (what scikit-learn's
# LogisticRegression solves: the tests check they agree); the MLP as scikit-learn's MLPClassifier
# reference (Adam 3e-3, 100 epochs); fine-tuning a short schedule.
configs=(
  "linear 0 --epochs 3000 --lr 1e-2"
  "mlp 0 --epochs 100 --lr 3e-3"
  "prototype 0"
  "linear 1 --epochs 30 --lr 3e-3 --batch 8"
  "mlp 1 --epochs 30 --lr 3e-3 --batch 8"
  "linear 2 --epochs 30 --lr 3e-3 --batch 8"
  "mlp 2 --epochs 30 --lr 3e-3 --batch 8"
)
for backbone in mobilenet-v2 efficientnet-lite0 xception; do
  for config in "${configs[@]}"; do
    read -r head k extra <<< "$config"
    name="$backbone-$head-$k"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$DXKIT" train --db "$OUT/cv.sqlite" --labels "$OUT/labels.csv" --head "cv-$name" --backbone "$backbone" \
      --head-type "$head" --unfreeze "$k" --classes NORMAL,PNEUMONIA --cv patients --seed 3 $extra \
      --models-dir "$OUT/models" --out "$OUT/models/run" --cache-dir "$OUT/features" 2> "$OUT/cards/$name.log" | head -1
    seconds=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)")
    python3 - "$OUT/models/run/model.json" "$OUT/cards/$name.json" "$seconds" "$extra" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
card["cv_table"] = {"seconds": float(sys.argv[3]), "options": sys.argv[4]}
json.dump(card, open(sys.argv[2], "w"), indent=1)
PY
  done
done
python3 scripts/cv_table.py "$OUT/cards" README.md
