#!/usr/bin/env bash
# Throughput with the SCP in the loop (issue 16), against `dxkit run` on the same files, in one run:
#   1. instances/s received: storescu -> dxkit listen (studies idle for an hour: receive + ingest only),
#      the 16 chest radiographs copied COPIES times with new UIDs, one association; and 200 small images
#      over 4 concurrent associations;
#   2. studies/s scored with the SCP in the loop: storescu -> listen (--study-idle 1s) until every study is
#      reported (SR and heatmaps written), timed from the first byte sent;
#   3. studies/s of `dxkit run` on the same files (ingest, score, report).
# Usage: scripts/bench-listen.sh [--dxkit .build/release/dxkit] [--copies 4]
set -euo pipefail
cd "$(dirname "$0")/.."
DXKIT=.build/release/dxkit
COPIES=4
while [ $# -gt 0 ]; do
  case "$1" in
    --dxkit) DXKIT=$2; shift 2 ;;
    --copies) COPIES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/dxkit-bench-listen.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
now() { date +%s.%N; }

for c in $(seq 1 "$COPIES"); do
  for f in studies/chest/*.dcm; do
    .venv/bin/python scripts/network_cases.py instances --template "$f" --out "$WORK/in/c$c-$(basename "$f" .dcm)" --name "Bench^Patient"
  done
done
.venv/bin/python scripts/network_cases.py tiny --out "$WORK/tiny" --studies 8 --per-study 25
N=$(find "$WORK/in" -name '*.dcm' | wc -l)

wait_echo() { for _ in $(seq 1 240); do echoscu -aec DXKIT 127.0.0.1 "$PORT" 2>/dev/null && return 0; sleep 0.25; done; return 1; }
reported() { sqlite3 "$1" "SELECT count(*) FROM received_studies WHERE reported_at >= last_received_at" 2>/dev/null || echo 0; }

# 1. Receive only.
"$DXKIT" listen --port "$PORT" --db "$WORK/r.sqlite" --out "$WORK/r" --study-idle 1h 2> "$WORK/r.log" &
LISTEN=$!; wait_echo
t0=$(now); find "$WORK/in" -name '*.dcm' -print0 | xargs -0 storescu -xy -aec DXKIT 127.0.0.1 "$PORT"; t1=$(now)
t2=$(now)
for k in 0 1 2 3; do ls "$WORK"/tiny/*.dcm | sed -n "$((k*50+1)),$((k*50+50))p" | xargs storescu -aec DXKIT 127.0.0.1 "$PORT" & done
wait $(jobs -p | grep -v "^$LISTEN$") 2>/dev/null || true; t3=$(now)
kill -TERM $LISTEN; wait $LISTEN || true
recv=$(sqlite3 "$WORK/r.sqlite" "SELECT count(*) FROM received")

# 2. Scored with the SCP in the loop.
"$DXKIT" listen --port "$PORT" --db "$WORK/l.sqlite" --out "$WORK/l" --study-idle 1s 2> "$WORK/l.log" &
LISTEN=$!; wait_echo
t4=$(now); find "$WORK/in" -name '*.dcm' -print0 | xargs -0 storescu -xy -aec DXKIT 127.0.0.1 "$PORT"
until [ "$(reported "$WORK/l.sqlite")" -ge "$N" ]; do sleep 0.2; done; t5=$(now)
kill -TERM $LISTEN; wait $LISTEN || true
srs=$(find "$WORK/l" -name sr.dcm | wc -l)

# 3. dxkit run on the same files.
t6=$(now); "$DXKIT" run "$WORK/in" --out "$WORK/run" > /dev/null 2>&1; t7=$(now)
runsr=$(find "$WORK/run" -name sr.dcm | wc -l)

python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" "$t7" "$recv" "$srs" "$runsr" <<'PY'
import sys
n, t0, t1, t2, t3, t4, t5, t6, t7, recv, srs, runsr = sys.argv[1:]
n = int(n); t = list(map(float, [t0, t1, t2, t3, t4, t5, t6, t7]))
print(f"received (listen, receive + ingest): {n} chest CR (JPEG, one association) in {t[1]-t[0]:.1f} s = {n/(t[1]-t[0]):.1f} instances/s; "
      f"200 small images over 4 associations in {t[3]-t[2]:.1f} s = {200/(t[3]-t[2]):.1f} instances/s ({recv} recorded)")
print(f"scored with the SCP in the loop (--study-idle 1s): {n} studies in {t[5]-t[4]:.1f} s = {n/(t[5]-t[4]):.2f} studies/s ({srs} SRs)")
print(f"dxkit run on the same files: {n} studies in {t[7]-t[6]:.1f} s = {n/(t[7]-t[6]):.2f} studies/s ({runsr} SRs)")
PY
