#!/usr/bin/env python3
"""Writes compact reference statistics of pydicom's own pixel decoding, for dxkit's conformance test.

For every file carrying Pixel Data under pydicom 3.0.2's data/test_files and pydicom-data 1.0.0
(unpacked by scripts/setup.sh into .cache/data), records what pydicom (with pylibjpeg, openjpeg,
rle and gdcm handlers) decodes for frame 0:
  shape, photometric interpretation after decoding, transfer syntax, lossless or not,
  min / max / mean of the values after the modality transform (monochrome) or as RGB (colour),
  and for lossless data without colour conversion a sha256 of the stored values (int64 LE).
Files pydicom itself cannot decode are listed with its error. Run at setup time only:
  .venv/bin/python scripts/pixel_oracle.py > Tests/DICOMTests/Fixtures/pixel-oracle.json
"""
import hashlib
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array

warnings.filterwarnings("ignore")
ROOT = os.path.join(os.path.dirname(__file__), "..", ".cache", "data")
SOURCES = ["pydicom/pydicom/data/test_files", "pydicom-data/data_store/data"]
LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
         "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"}


def frame_rescale(ds, frame):
    """Rescale slope/intercept from functional groups (per-frame, then shared), as dxkit reads them."""
    for seq_name, item in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if seq is None or len(seq) <= item:
            continue
        pvt = seq[item].get("PixelValueTransformationSequence")
        if pvt:
            return float(pvt[0].get("RescaleSlope", 1)), float(pvt[0].get("RescaleIntercept", 0))
    return None


def describe(path):
    ds = pydicom.dcmread(path, force=True)
    if "PixelData" not in ds:
        return None
    meta = getattr(ds, "file_meta", None)
    tsuid = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else ""
    out = {"transfer_syntax": tsuid, "lossless": tsuid not in LOSSY}
    try:
        raw = pixel_array(ds, index=0, raw=True)
        rgb = pixel_array(ds, index=0)
    except Exception as exc:  # pydicom cannot decode it either
        out.update(pydicom_decodes=False, error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        return out
    photometric = str(ds.get("PhotometricInterpretation", ""))
    samples = int(ds.get("SamplesPerPixel", 1))
    if photometric.startswith("MONOCHROME"):
        rescale = None if ("RescaleSlope" in ds or "ModalityLUTSequence" in ds) else frame_rescale(ds, 0)
        values = raw * rescale[0] + rescale[1] if rescale else apply_modality_lut(raw, ds)
        after = photometric
    elif photometric == "PALETTE COLOR":
        values = apply_color_lut(raw, ds)
        after = "RGB"
    else:
        values = rgb
        after = "RGB"
    converted = photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB")
    values = np.asarray(values, dtype=np.float64)
    out.update(
        pydicom_decodes=True, error=None,
        rows=int(ds.Rows), columns=int(ds.Columns), frames=int(ds.get("NumberOfFrames", 1) or 1),
        samples=samples, photometric=after,
        min=float(values.min()), max=float(values.max()), mean=float(values.mean()),
    )
    if out["lossless"] and not converted:
        out["stored_sha256"] = hashlib.sha256(np.ascontiguousarray(raw, dtype="<i8").tobytes()).hexdigest()
    return out


def main():
    entries = []
    for source in SOURCES:
        folder = os.path.join(ROOT, source)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or name.endswith((".py", ".pyc")):
                continue
            try:
                entry = describe(path)
            except Exception as exc:
                entry = {"pydicom_decodes": False, "unreadable": True,
                         "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
            if entry is None:
                continue
            entry["file"] = f"{source}/{name}"
            entries.append(entry)
    json.dump({"generator": "scripts/pixel_oracle.py", "pydicom": pydicom.__version__, "files": entries},
              sys.stdout, indent=0, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
