#!/usr/bin/env bash
# Training throughput benchmark: dxkit vs PyTorch CPU doing the same fine-tuning; see
# scripts/bench_train.py. Options are passed on to it (--dxkit PATH, --skip-dxkit, --models,
# --threads, --json OUT, ...). Needs `make setup` (models/) and, unless --skip-dxkit,
# .build/release/dxkit. The Python side runs in .venv-ref, prepared by scripts/bench-models.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=.venv-ref/bin/python
if [ ! -x "$PY" ] || ! cmp -s scripts/bench-requirements.txt .venv-ref/.bench-requirements; then
  echo "bench-train: preparing .venv-ref via scripts/bench-models.sh"
  bash scripts/bench-models.sh --help >/dev/null
fi
exec "$PY" scripts/bench_train.py "$@"
