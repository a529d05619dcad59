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


# Files whose headers and windowed display values are checked field by field.
HEADER_FILES = [
    "pydicom-data/data_store/data/RG1_UNCI.dcm", "pydicom-data/data_store/data/RG3_UNCR.dcm",
    "pydicom/pydicom/data/test_files/CT_small.dcm", "pydicom/pydicom/data/test_files/MR_small.dcm",
    "pydicom-data/data_store/data/vlut_04.dcm", "pydicom-data/data_store/data/mlut_18.dcm",
    "pydicom-data/data_store/data/emri_small_jpeg_2k_lossless.dcm",
    "pydicom/pydicom/data/test_files/SC_rgb_rle.dcm",
]


def age_years(ds):
    age = str(ds.get("PatientAge", "") or "").strip().upper()
    if age and age[:-1].isdigit():
        n, unit = float(age[:-1]), age[-1]
        return {"Y": n, "M": n / 12, "W": n * 7 / 365.25, "D": n / 365.25}.get(unit)
    birth = str(ds.get("PatientBirthDate", "") or "")
    date = str(ds.get("StudyDate", "") or ds.get("SeriesDate", "") or ds.get("AcquisitionDate", "")
               or ds.get("ContentDate", "") or "")
    if len(birth) >= 8 and len(date) >= 8:
        years = int(date[:4]) - int(birth[:4]) - ((date[4:8]) < (birth[4:8]))
        return float(years) if 0 <= years < 150 else None
    return None


def display(ds):
    """Frame 0 through pydicom's modality + VOI, scaled to [0, 1] by pydicom's own output range
    (PS3.3 C.11.2.1.2), MONOCHROME1 not inverted. None when the file has no VOI."""
    from pydicom.pixels import apply_voi_lut
    raw = pixel_array(ds, index=0, raw=True)
    if not str(ds.PhotometricInterpretation).startswith("MONOCHROME"):
        return None
    values = apply_modality_lut(raw, ds)
    if "VOILUTSequence" in ds and "WindowCenter" not in ds:
        item = ds.VOILUTSequence[0]
        bits = int(item.LUTDescriptor[2])
        return np.asarray(apply_voi_lut(values, ds), dtype=np.float64) / (2 ** bits - 1)
    if "WindowCenter" not in ds:
        return None
    bits = int(ds.BitsStored)
    y_min, y_max = (0, 2 ** bits - 1) if int(ds.PixelRepresentation) == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        y_min, y_max = y_min * slope + intercept, y_max * slope + intercept
    out = np.asarray(apply_voi_lut(values, ds, index=0), dtype=np.float64)
    return (out - y_min) / (y_max - y_min)


def header(path, name):
    ds = pydicom.dcmread(path, force=True)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    out = {
        "file": name,
        "sop_instance_uid": str(ds.SOPInstanceUID), "sop_class_uid": str(ds.SOPClassUID),
        "study_instance_uid": str(ds.get("StudyInstanceUID", "")) or None,
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "patient_id": str(ds.get("PatientID", "")) or None, "sex": str(ds.get("PatientSex", "")) or None,
        "age_years": age_years(ds), "modality": str(ds.get("Modality", "")) or None,
        "body_part": str(ds.get("BodyPartExamined", "")) or None,
        "view_position": str(ds.get("ViewPosition", "")) or None,
        "manufacturer": str(ds.get("Manufacturer", "")) or None,
        "rows": int(ds.Rows), "columns": int(ds.Columns), "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "bits_allocated": int(ds.BitsAllocated), "bits_stored": int(ds.BitsStored),
        "pixel_representation": int(ds.PixelRepresentation),
        "photometric_stored": str(ds.PhotometricInterpretation),
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
        "pixel_spacing": [float(v) for v in spacing] if spacing else None,
    }
    shown = display(ds)
    if shown is not None:
        out["display_mean"] = float(shown.mean())
        out["display_min"] = float(shown.min())
        out["display_max"] = float(shown.max())
        out["display_png8_mean"] = float(np.round(np.clip(shown, 0, 1) * 255).mean())
    return out


def main():
    headers = [header(os.path.join(ROOT, name), name) for name in HEADER_FILES]
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
    json.dump({"generator": "scripts/pixel_oracle.py", "pydicom": pydicom.__version__, "files": entries,
               "headers": headers},
              sys.stdout, indent=0, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
