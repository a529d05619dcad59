#!/usr/bin/env bash
# End-to-end scoring benchmark: DICOM folder -> SQLite result rows, dxkit vs the Python pipeline a
# practitioner would write (pydicom + Pillow + ONNX Runtime + sqlite3), studies/s and peak RSS;
# see scripts/bench_score.py. Options are passed on to it (--dxkit PATH, --skip-dxkit, --trials N,
# --json OUT, ...). Needs `make setup` (models/, studies/), DCMTK's dcmodify, /usr/bin/time and,
# unless --skip-dxkit, .build/release/dxkit with the `run` and `score` subcommands.
#
# Python side runs in .venv-ref. pydicom 3.0.2 decodes the JPEG baseline studies with Pillow
# (pillow==12.2.0, pinned in scripts/bench-requirements.txt); no pylibjpeg-libjpeg is needed.
# When .venv-ref or the ONNX export is missing or stale, scripts/bench-models.sh's preparation
# (venv, torch wheel, scripts/bench-requirements.txt) is reused by running it with --help; then
# scripts/export_onnx.py checks .cache/bench/onnx/ (a no-op when up to date).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV=.venv-ref
PY=$VENV/bin/python

if [ ! -x "$PY" ] || ! cmp -s scripts/bench-requirements.txt "$VENV/.bench-requirements" \
   || [ ! -f .cache/bench/onnx/pneumonia.onnx ]; then
  echo "bench-score: preparing $VENV via scripts/bench-models.sh"
  bash scripts/bench-models.sh --help >/dev/null
fi
[ -x /usr/bin/time ] || { echo "bench-score: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
command -v dcmodify >/dev/null || { echo "bench-score: dcmodify missing (apt-get install dcmtk)" >&2; exit 2; }

"$PY" scripts/export_onnx.py
exec "$PY" scripts/bench_score.py "$@"
