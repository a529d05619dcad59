#!/usr/bin/env bash
# `make bench-eval`: dxkit metrics / audit / calibrate at n = 5,000 and 112,120 with 1,000 bootstrap
# replicates, beside the vectorised NumPy / scikit-learn reference of scripts/bench_eval.py, in one
# run (see that script for what is timed and how). The reference's Python packages live in
# .venv-bench (created here from scripts/bench-eval-requirements.txt); dxkit is .build/release/dxkit.
# Options go to bench_eval.py (--sizes, --replicates, --repeats, --configs, --json OUT).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ] || ! cmp -s scripts/bench-eval-requirements.txt "$VENV/.requirements"; then
  echo "bench-eval: preparing $VENV (numpy, scipy, scikit-learn)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r scripts/bench-eval-requirements.txt
  cp scripts/bench-eval-requirements.txt "$VENV/.requirements"
fi
[ -x /usr/bin/time ] || { echo "bench-eval: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -f models/xception-pneumonia/model.json ] || { echo "bench-eval: models/ missing (make setup)" >&2; exit 2; }
exec "$VENV/bin/python" scripts/bench_eval.py "$@"
