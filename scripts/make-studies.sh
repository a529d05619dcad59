#!/usr/bin/env bash
# Lays out studies/: the 8 CBIS-DDSM mammograms as they are, the 16 chest X-ray JPEGs wrapped
# into DICOM CR instances with DCMTK's img2dcm (label-free, one study each, named after the
# source image), and the RG1 chest CR from pydicom-data. Deterministic UIDs, so re-runs change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=.cache/data
mkdir -p studies/chest studies/rg1

for case_dir in "$DATA"/mammograms/mammograms/cases/*/; do
  patient=$(basename "$case_dir")
  mkdir -p "studies/mammograms/$patient"
  for f in "$case_dir"*.dcm; do
    out="studies/mammograms/$patient/$(basename "$f")"
    [ -f "$out" ] || cp "$f" "$out"
  done
done

# 2.25.<decimal of 120 bits of sha256(text)>: a valid, stable UID derived from a name.
uid() { python3 -c "import hashlib,sys; print('2.25.%d' % (int(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:30], 16)))" "$1"; }

for jpeg in "$DATA"/pneumonia-model-package/pneumonia_model_package/datasets/pneumonia-data/val/*.jpeg; do
  stem=$(basename "$jpeg" .jpeg)
  out="studies/chest/${stem}.dcm"
  [ -f "$out" ] && continue
  img2dcm --quiet -i JPEG "$jpeg" "$out.tmp" \
    -k "SOPClassUID=1.2.840.10008.5.1.4.1.1.1" \
    -k "Modality=CR" -k "BodyPartExamined=CHEST" -k "ViewPosition=PA" \
    -k "PatientID=${stem}" -k "PatientName=Anonymous^${stem}" \
    -k "StudyInstanceUID=$(uid "study:$stem")" -k "SeriesInstanceUID=$(uid "series:$stem")" \
    -k "SOPInstanceUID=$(uid "instance:$stem")" -k "StudyID=1" -k "SeriesNumber=1" -k "InstanceNumber=1"
  mv "$out.tmp" "$out"
done

[ -f studies/rg1/RG1_UNCI.dcm ] || cp "$DATA"/pydicom-data/data_store/data/RG1_UNCI.dcm studies/rg1/
echo "setup: studies/ has $(find studies -name '*.dcm' | wc -l) DICOM files"
