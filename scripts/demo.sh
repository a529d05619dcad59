#!/usr/bin/env bash
# The main job on the sample studies: index studies/ into reports/dxkit.sqlite, then write a
# summary of every instance and a windowed PNG preview of each image into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
DXKIT=${1:-.build/release/dxkit}
mkdir -p reports/previews
rm -f reports/dxkit.sqlite reports/dxkit.sqlite-wal reports/dxkit.sqlite-shm

"$DXKIT" ingest studies --db reports/dxkit.sqlite --jobs 2

: > reports/inspect.jsonl
find studies -name '*.dcm' | sort | while read -r f; do
  "$DXKIT" inspect --json "$f" >> reports/inspect.jsonl
  name=$(echo "${f#studies/}" | tr '/' '_')
  "$DXKIT" export-png "$f" --out "reports/previews/${name%.dcm}.png" > /dev/null
done
echo "demo: $(wc -l < reports/inspect.jsonl) instances summarised in reports/inspect.jsonl," \
     "$(ls reports/previews | wc -l) previews in reports/previews/, index in reports/dxkit.sqlite"
