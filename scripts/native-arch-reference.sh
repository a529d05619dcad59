#!/usr/bin/env bash
# Test oracles for the native DenseNet-121 / ResNet-50 and the reference-exact resizing
# (scripts/native_arch_reference.py → .cache/native-archs). Run by scripts/setup.sh; idempotent.
# Uses .venv-ref (CPU torch from /opt/wheels or $TORCH_WHEELS, numpy, pillow), creating it when
# missing, as scripts/bench-models.sh does; torchvision comes from the pinned wheel setup unpacks.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-ref
WHEELS=${TORCH_WHEELS:-/opt/wheels}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! ls "$VENV"/lib/python3*/site-packages/torch/__init__.py >/dev/null 2>&1; then
  pyver=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  wheel=$(ls "$WHEELS"/torch-*+cpu-"$pyver"-*.whl 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$wheel" ]; then
    echo "native-arch-reference: no CPU torch wheel for $pyver in $WHEELS (TORCH_WHEELS): the DenseNet/ResNet oracles are not made" >&2
    exit 0
  fi
  "$VENV/bin/pip" install --quiet "$wheel"
fi
"$VENV/bin/python" -c "import numpy, PIL" 2>/dev/null || "$VENV/bin/pip" install --quiet numpy==2.4.6 pillow==12.2.0
"$VENV/bin/python" scripts/native_arch_reference.py
