#!/usr/bin/env bash
# Makes .cache/onnx-tests (the ONNX import tests' models, inputs and ONNX Runtime outputs) with
# scripts/onnx_test_models.py in .venv-ref, when it is missing or its scripts changed. Called by
# scripts/setup.sh; quick (no Python started) when the folder is up to date. Setup time only:
# dxkit never runs Python.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/onnx-tests
stamp=$(cat scripts/onnx_test_models.py scripts/onnx_zoo.py scripts/export_onnx.py scripts/torch_models.py scripts/seeded_torch.py scripts/onnx-test-requirements.txt | sha256sum | cut -d' ' -f1)
if [ -f "$out/manifest.json" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
# (torchvision is found, not imported: its CUDA ops do not load against the CPU torch; the script copes.)
if ! .venv-ref/bin/python -c "import torch, onnx, onnxruntime, importlib.util as u; assert u.find_spec('torchvision') and u.find_spec('torchxrayvision')" 2>/dev/null; then
  echo "setup: preparing .venv-ref for the ONNX test models"
  [ -x .venv-ref/bin/python ] || python3 -m venv .venv-ref
  if ! .venv-ref/bin/python -c "import torch" 2>/dev/null; then
    wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -n1 || true)
    .venv-ref/bin/pip install --quiet "${wheel:-torch==2.13.0}"
  fi
  .venv-ref/bin/pip install --quiet -r scripts/onnx-test-requirements.txt
  .venv-ref/bin/pip install --quiet --no-deps .cache/wheels/torchvision-0.28.0-*.whl .cache/wheels/torchxrayvision-1.5.7-*.whl
fi
echo "setup: building the ONNX import test models (.cache/onnx-tests)"
.venv-ref/bin/python scripts/onnx_test_models.py --out "$out"
echo "$stamp" > "$out/.stamp"
