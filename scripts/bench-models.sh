#!/usr/bin/env bash
# Model throughput benchmark: dxkit vs ONNX Runtime vs PyTorch (eager), CPU, FP32; see
# scripts/bench_models.py. Options are passed on to it (--dxkit PATH, --skip-dxkit, --models,
# --quick, --json OUT, ...). Needs `make setup` (models/, .cache/data) and, unless --skip-dxkit,
# .build/release/dxkit.
#
# Uses .venv-ref (the reference venv of scripts/reference_outputs.py), creating it when missing
# (torch from /opt/wheels/torch-*.whl, or from $TORCH_WHEELS) and installing
# scripts/bench-requirements.txt when that file changed; then scripts/export_onnx.py (re)builds
# .cache/bench/onnx/ when its inputs changed. Both steps are no-ops when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV=.venv-ref
PY=$VENV/bin/python
REQ=scripts/bench-requirements.txt
WHEELS=${TORCH_WHEELS:-/opt/wheels}   # where the CPU torch wheel is looked for

if [ ! -x "$PY" ]; then
  echo "bench-models: creating $VENV"
  python3 -m venv "$VENV"
fi
if ! ls "$VENV"/lib/python3*/site-packages/torch/__init__.py >/dev/null 2>&1; then
  pyver=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  wheel=$(ls "$WHEELS"/torch-*+cpu-"$pyver"-*.whl 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$wheel" ] || wheel=$(ls "$WHEELS"/torch-*-"$pyver"-*.whl 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$wheel" ]; then
    cat >&2 <<MSG
bench-models: no torch wheel for $pyver in $WHEELS (TORCH_WHEELS). Put the CPU build of torch there
(torch-2.13.0+cpu-$pyver-...-manylinux_2_28_x86_64.whl, from PyTorch's CPU wheel index; the PyPI
torch pulls CUDA packages), or install it into $VENV yourself ($VENV/bin/pip install WHEEL), then rerun.
MSG
    exit 2
  fi
  echo "bench-models: installing $(basename "$wheel") into $VENV"
  "$VENV/bin/pip" install --quiet "$wheel"
fi
if ! cmp -s "$REQ" "$VENV/.bench-requirements"; then
  echo "bench-models: installing $REQ into $VENV"
  "$VENV/bin/pip" install --quiet -r "$REQ"
  cp "$REQ" "$VENV/.bench-requirements"
fi

"$PY" scripts/export_onnx.py
exec "$PY" scripts/bench_models.py "$@"
