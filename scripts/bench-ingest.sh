#!/usr/bin/env bash
# Decoding and ingest benchmark (dxkit vs pydicom vs DCMTK); see scripts/bench_ingest.py.
# Needs `make setup` (data, studies, .venv) and, unless --skip-dxkit, .build/release/dxkit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/bench_ingest.py" "$@"
