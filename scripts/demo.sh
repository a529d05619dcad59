#!/usr/bin/env bash
# The main job on the sample studies: `dxkit run studies --out reports` ingests studies/ into
# reports/dxkit.sqlite, scores every instance a head accepts, and writes the reports.
set -uo pipefail
cd "$(dirname "$0")/.."
DXKIT=${1:-.build/release/dxkit}
rm -rf reports/heatmaps reports/dxkit.sqlite reports/dxkit.sqlite-wal reports/dxkit.sqlite-shm
"$DXKIT" run studies --out reports --jobs 2
status=$?
if [ "$status" -ge 2 ]; then echo "demo: dxkit run failed (exit $status)" >&2; exit "$status"; fi
echo
echo "demo: open reports/index.html — one folder per study with report.html, result.json and heatmaps;"
echo "      the index is reports/dxkit.sqlite (tables instances, results, study_results, runs, models)."
