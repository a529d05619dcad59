#!/usr/bin/env bash
# `make check-slurm`: installs Debian's slurm-wlm and munge when missing, then runs
# scripts/check_slurm.py: a one-node Slurm cluster started on loopback in a temporary folder, the
# sharded array + merge over the sample studies and over a cohort of fresh-UID copies (one task
# killed and resubmitted), each merge compared with an unsharded run; the daemons are stopped after.
# Options go to check_slurm.py (--copies N, default 2000; --shards N; --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-slurm: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  # The packages' own services are not started (policy-rc.d where present; nothing here uses them).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
fi
[ -x .build/release/dxkit ] || { echo "check-slurm: .build/release/dxkit missing (make release)" >&2; exit 2; }
[ -x .venv/bin/python ] && [ -f models/xception-pneumonia/model.json ] || { echo "check-slurm: run make setup first" >&2; exit 2; }
exec python3 scripts/check_slurm.py "$@"
